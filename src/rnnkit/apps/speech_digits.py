"""Spoken digit strings to text with a bidirectional RNN trained by CTC (seed §2.6, §5.2.2).

Data. ``espeak-ng`` renders random digit strings ("three one four", 3..7 digits, uniform) in
many voices, speeds and pitches (``rnnkit.data.speech.make_digit_dataset``, cached on disk). The
training and validation corpora use ``speech.TRAIN_VOICES`` (15 voices); the test corpus uses only
the held-out ``speech.TEST_VOICES`` (4 voices whose accent/variant combinations are never seen in
training), so the test figures measure generalisation to new speakers. The three corpora are drawn
with different seeds.

Features (seed §5.2.2). ``speech_features.featurize``: 13 MFCCs on 25 ms frames every 10 ms, per-utterance
mean/variance normalisation (CMVN), then the frame context of the seed, x_t = [MFCC_{t-3}, ...,
MFCC_{t-1}, MFCC_t], keeping every 3rd row: one 52-dimensional input every 30 ms.

Model. ``GRU`` or ``LSTM`` (``cell``, ``hidden``, ``layers``, ``bidirectional``) with
``return_sequences=True``, then ``Dense(11)``: per-frame scores over 11 classes, trained with the
CTC loss ``-log P(y | x)`` of seed §2.6 through ``Sequential.fit`` (``compile(loss="ctc")``).

Label mapping (stored in the model's metadata as ``labels`` / ``blank``):

    class 0        CTC blank
    class d + 1    digit d (d = 0..9), i.e. ``label = digit + 1`` and ``digit = label - 1``

Decoding: greedy best path (``ops.ctc_decode.greedy_decode``) and CTC prefix beam search
(``ops.ctc_decode.beam_search_decode``, ``beam_width``). Metrics on the held-out voices:

* digit error rate (DER) = sum over the test set of the edit distance (substitutions, insertions,
  deletions) between decoded and reference digit strings, divided by the total reference length;
* string accuracy = fraction of utterances decoded exactly.

The headline figure (``AppResult.value``) is the beam-search DER. In-run baseline on the same
held-out data (``baseline_epochs > 0``): the same CTC training of a network *without* recurrence,
a per-frame MLP (``Dense(hidden, tanh) -> Dense(11)``) reading the same stacked-context frames
(seed §2.1's feed-forward network): it sees only ~65 ms of audio per output and shows what the
recurrence adds.

Measured (full config, 2-core machine shared with other jobs, espeak-ng 1.51): held-out-voice
DER 2.0% greedy and beam, string accuracy 92.3%; the remaining errors are almost all on
``en-029+m6`` (DER 8.5%, mostly "two" deleted), the other three voices are at 0.2-0.4%. Frame-wise
MLP baseline: DER 37.9% (beam). About 8.5 minutes with a cold cache (rendering ~1 minute).

``transcribe(model, "file.wav") -> "3 1 4"`` runs a saved model on any audio file (``rnnkit
transcribe MODEL FILE.wav``), with the feature parameters stored in the model's metadata.
"""
from __future__ import annotations

import numpy as np

from ..callbacks import EarlyStopping, LearningRateScheduler, cosine_decay
from ..data import audio, speech, speech_features
from ..layers import Dense
from ..metrics import as_symbols, edit_distance
from ..model import Sequential
from ..ops import activations, ctc_decode
from .common import AppResult, Timer, recurrent_layer, settings

NAME = "speech-digits"
DESCRIPTION = "spoken digit strings (espeak-ng, held-out voices) to text with a BiGRU + CTC (seed §2.6, §5.2.2)"

BLANK = 0
N_CLASSES = 11                                  # blank + 10 digits
LABELS = ["<blank>"] + [str(d) for d in range(10)]


def default_config(quick=False):
    """Settings of the app. ``quick``: a smoke-test size (~15 s with a cold cache); it checks that
    everything runs, its error rates are not meaningful (the model has barely started to learn).

    ``features`` are the arguments of ``speech_features.featurize`` (``stride=3``: 30 ms per input frame).
    ``train_seed``/``val_seed``/``test_seed`` draw the three corpora (the test corpus uses the
    held-out voices only). ``epochs`` run with a cosine learning-rate decay from ``lr``; the weights
    of the epoch with the lowest validation CTC loss (training voices, never the test voices)
    are kept.
    """
    return {
        "cell": "gru", "hidden": 32 if quick else 96, "layers": 1, "bidirectional": True,
        "n_train": 120 if quick else 3000, "n_val": 20 if quick else 200, "n_test": 40 if quick else 400,
        "min_len": 3, "max_len": 7, "speeds": [130, 190], "pitches": [30, 70],
        "train_seed": 1, "val_seed": 2, "test_seed": 3, "sample_rate": 16000,
        "features": {"n_mfcc": 13, "frame_ms": 25, "hop_ms": 10, "deltas": False, "normalize": True,
                     "context": 3, "include_current": True, "stride": 3},
        "epochs": 2 if quick else 10, "batch_size": 32, "lr": 3e-3, "lr_min": 1e-4, "clip_norm": 5.0,
        "seed": 0, "beam_width": 8, "baseline_epochs": 1 if quick else 8, "baseline_hidden": 128,
        "n_jobs": 2, "cache": True,
    }


SETTINGS = settings(
    "cell", "hidden", "layers", "bidirectional", "seed", "clip_norm",
    n_train="training utterances rendered with the training voices, an integer >= 1",
    n_val="validation utterances (training voices; picks the best epoch), an integer >= 0 (0: none)",
    n_test="test utterances rendered with the held-out voices, an integer >= 1",
    min_len="fewest digits per utterance, an integer >= 1",
    max_len="most digits per utterance, an integer >= min_len",
    speeds="[low, high] espeak-ng speaking rate, words per minute, within 80..450",
    pitches="[low, high] espeak-ng pitch, within 0..99",
    train_seed="seed that draws the training corpus, an integer >= 0",
    val_seed="seed that draws the validation corpus, an integer >= 0",
    test_seed="seed that draws the test corpus, an integer >= 0",
    sample_rate="audio sample rate in Hz, an integer",
    features="arguments of speech_features.featurize, a table: n_mfcc, frame_ms, hop_ms (milliseconds), deltas, "
             "normalize, context (previous frames stacked), include_current, stride (rows kept: every stride-th)",
    epochs="training epochs (cosine learning-rate decay; the epoch of lowest validation loss is kept), "
           "an integer >= 1",
    batch_size="utterances per batch, an integer >= 1",
    lr="learning rate of Adam at the first epoch, a number > 0",
    lr_min="learning rate the cosine decay ends at, a number >= 0",
    beam_width="beams of the CTC prefix beam search, an integer >= 1",
    baseline_epochs="training epochs of the frame-wise MLP baseline, an integer >= 0 (0: no baseline)",
    baseline_hidden="hidden units of the MLP baseline, an integer >= 1",
    n_jobs="espeak-ng renderings run in parallel (threads), an integer >= 1",
    cache="keep rendered corpora on disk ($RNNKIT_CACHE or ~/.cache/rnnkit), true/false")


# -- labels and scoring ----------------------------------------------------------------------------

def digits_to_labels(digits) -> np.ndarray:
    """Digits 0..9 -> CTC class ids 1..10 (``label = digit + 1``; class 0 is the blank)."""
    return np.asarray(digits, dtype=np.int64) + 1


def labels_to_digits(labels) -> np.ndarray:
    """CTC class ids 1..10 -> digits 0..9 (inverse of :func:`digits_to_labels`)."""
    labels = np.asarray(labels, dtype=np.int64)
    if labels.size and (labels.min() < 1 or labels.max() > 10):
        raise ValueError(f"labels: expected CTC class ids in 1..10 (blank removed), got {labels.tolist()}")
    return labels - 1


def digits_to_text(digits) -> str:
    """``[3, 1, 4]`` -> ``"3 1 4"`` (an empty string when nothing was recognised)."""
    return " ".join(str(int(d)) for d in np.asarray(digits).reshape(-1))


def error_rate(refs, hyps) -> float:
    """Sum of edit distances over the set divided by the total reference length (the DER/WER rule)."""
    refs, hyps = list(refs), list(hyps)
    if len(refs) != len(hyps):
        raise ValueError(f"hyps: expected {len(refs)} hypotheses (one per reference), got {len(hyps)}")
    total = sum(len(as_symbols(r)) for r in refs)
    if total == 0:
        raise ValueError("refs: the references hold no symbols; the error rate is undefined")
    return sum(edit_distance(r, h) for r, h in zip(refs, hyps)) / total


def string_accuracy(refs, hyps) -> float:
    """Fraction of utterances whose decoded string equals the reference exactly."""
    refs, hyps = list(refs), list(hyps)
    if not refs or len(refs) != len(hyps):
        raise ValueError(f"hyps: expected {len(refs)} hypotheses (one per reference, at least one), "
                         f"got {len(hyps)}")
    return float(np.mean([as_symbols(r) == as_symbols(h) for r, h in zip(refs, hyps)]))


# -- data ------------------------------------------------------------------------------------------

def load_corpus(config, part: str, feature_params=None):
    """``(features, digits, voices)`` for ``part`` in "train", "val" (training voices) or "test"
    (held-out voices), rendered and featurised by ``speech.make_digit_dataset`` (cached)."""
    voices = speech.TEST_VOICES if part == "test" else speech.TRAIN_VOICES
    n = int(config[f"n_{part}"])
    fp = dict(config["features"] if feature_params is None else feature_params)
    return speech.make_digit_dataset(
        n, voices, seed=int(config[f"{part}_seed"]), min_len=int(config["min_len"]),
        max_len=int(config["max_len"]), speeds=tuple(config["speeds"]), pitches=tuple(config["pitches"]),
        sample_rate=int(config["sample_rate"]), n_jobs=int(config.get("n_jobs", 2)), feature_params=fp,
        cache=bool(config.get("cache", True)))


def describe_data(train_voices, n_val, test_voices):
    """What a run trains on and holds out: utterance and voice counts of the loaded corpora (the
    voice of every training and test utterance; ``n_val`` validation utterances, training voices)."""
    seen, held = set(train_voices), set(test_voices)
    unseen = "unseen " if not seen & held else ""
    return (f"espeak-ng digit strings: trained on {len(train_voices)} utts in {len(seen)} voices "
            f"(+{n_val} validation), held out {len(test_voices)} utts in {len(held)} {unseen}voices")


def build(config):
    rec = recurrent_layer(config, return_sequences=True)
    return Sequential([rec, Dense(N_CLASSES)], seed=config["seed"])


def build_baseline(config):
    """The per-frame MLP without recurrence (seed §2.1), trained with the same CTC loss."""
    return Sequential([Dense(int(config["baseline_hidden"]), "tanh"), Dense(N_CLASSES)], seed=config["seed"])


def decode(model, features, beam_width=8):
    """Greedy and beam-search digit sequences for a list of ``(frames, dim)`` feature arrays.

    Returns ``(greedy, beam, logits)``: two lists of int64 digit arrays and the list of per-frame
    logits ``(frames, 11)`` of each utterance.
    """
    features = list(features)
    out = model.predict(features)
    lengths = np.array([len(f) for f in features])
    greedy = [labels_to_digits(s) for s in ctc_decode.greedy_decode(out, lengths, blank=BLANK)]
    beam = [labels_to_digits(s) for s in ctc_decode.beam_search_decode(out, lengths, beam_width=int(beam_width),
                                                                 blank=BLANK)]
    return greedy, beam, [out[i, :n] for i, n in enumerate(lengths)]


def score(digits, greedy, beam, voices=None):
    m = {"der_greedy": error_rate(digits, greedy), "der_beam": error_rate(digits, beam),
         "string_acc_greedy": string_accuracy(digits, greedy), "string_acc_beam": string_accuracy(digits, beam)}
    if voices is not None:
        per = {}
        for v in dict.fromkeys(voices):
            idx = [i for i, u in enumerate(voices) if u == v]
            per[v] = {"n": len(idx), "der_beam": error_rate([digits[i] for i in idx], [beam[i] for i in idx]),
                      "string_acc_beam": string_accuracy([digits[i] for i in idx], [beam[i] for i in idx])}
        m["per_voice"] = per
    return m


def _metadata(config):
    return {"feature_params": dict(config["features"]), "sample_rate": int(config["sample_rate"]),
            "blank": BLANK, "labels": list(LABELS), "label_rule": "label = digit + 1, blank = 0",
            "beam_width": int(config["beam_width"]),
            "train_voices": list(speech.TRAIN_VOICES), "test_voices": list(speech.TEST_VOICES)}


# -- application -------------------------------------------------------------------------------------

def _fit_ctc(model, config, X_tr, y_tr, X_va, y_va, epochs, verbose):
    model.compile("ctc", "adam", lr=config["lr"], clip_norm=config["clip_norm"], ctc_blank=BLANK)
    cbs = [LearningRateScheduler(cosine_decay(config["lr"], epochs, config["lr_min"]))]
    val = None
    if X_va:
        val = (X_va, y_va)
        # keep the weights of the best validation epoch (training voices only); never stop early
        cbs.append(EarlyStopping(monitor="val_loss", patience=epochs + 1, restore_best_weights=True))
    return model.fit(X_tr, y_tr, epochs=epochs, batch_size=config["batch_size"], validation_data=val,
                     callbacks=cbs, verbose=verbose).history


def run(config, verbose=0):
    with Timer() as timer:
        with Timer() as t_data:
            X_tr, d_tr, v_tr = load_corpus(config, "train")
            X_va, d_va, _ = load_corpus(config, "val") if int(config["n_val"]) else ([], [], [])
            X_te, d_te, v_te = load_corpus(config, "test")
        y_tr = [digits_to_labels(d) for d in d_tr]
        y_va = [digits_to_labels(d) for d in d_va]
        model = build(config)
        with Timer() as t_train:
            history = _fit_ctc(model, config, X_tr, y_tr, X_va, y_va, int(config["epochs"]), verbose)
        metadata = _metadata(config)
        model.metadata = metadata
        with Timer() as t_eval:
            greedy, beam, logits = decode(model, X_te, config["beam_width"])
            m = score(d_te, greedy, beam, v_te)
        base = None
        if int(config.get("baseline_epochs", 0)) > 0:
            with Timer() as t_base:
                mlp = build_baseline(config)
                _fit_ctc(mlp, config, X_tr, y_tr, [], [], int(config["baseline_epochs"]), 0)
                bg, bb, _ = decode(mlp, X_te, config["beam_width"])
                base = score(d_te, bg, bb)
    frame_s = config["features"]["stride"] * config["features"]["hop_ms"] / 1000.0
    metrics = {**m, "n_train": len(X_tr), "n_val": len(X_va), "n_test": len(X_te),
               "test_digits": int(sum(len(d) for d in d_te)), "input_dim": int(X_tr[0].shape[1]),
               "frame_seconds": frame_s, "train_frames_mean": float(np.mean([len(x) for x in X_tr])),
               "num_params": int(model.num_params()), "seconds_data": t_data.seconds,
               "seconds_train": t_train.seconds, "seconds_eval": t_eval.seconds,
               "best_epoch": int(np.argmin(history["val_loss"])) + 1 if "val_loss" in history else None}
    if base is not None:
        metrics.update({f"baseline_mlp_{k}": v for k, v in base.items()})
        metrics["seconds_baseline"] = t_base.seconds

    # the plot shows the first test utterance with at least 5 digits (a readable, typical one)
    pick = next((i for i, d in enumerate(d_te) if len(d) >= 5), 0)

    def plot(path):
        plot_posteriors(path, X_te[pick], logits[pick], d_te[pick], beam[pick], v_te[pick], frame_s)

    return AppResult(task="spoken digits, CTC (§2.6, §5.2.2)",
                     data=describe_data(v_tr, len(X_va), v_te),
                     metric="digit error rate (beam)", value=m["der_beam"],
                     baseline=None if base is None else base["der_beam"],
                     baseline_name="frame-wise MLP + CTC (no recurrence)", model=model, history=history,
                     metrics=metrics, plots={"posteriors.png": plot}, metadata=metadata, seconds=timer.seconds)


def plot_posteriors(path, features, logits, ref_digits, hyp_digits, voice, frame_s):
    """Features (top) and per-frame CTC posteriors of blank and each digit (bottom) over time."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    post = np.exp(activations.log_softmax(np.asarray(logits, np.float64)))
    t = np.arange(len(post)) * frame_s
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(10, 6), sharex=True, gridspec_kw={"height_ratios": [1, 1.4]})
    a1.imshow(np.asarray(features).T, aspect="auto", origin="lower", cmap="viridis",
              extent=[0, len(post) * frame_s, 0, features.shape[1]])
    a1.set_ylabel("stacked MFCC")
    a1.set_title(f"voice {voice} (held out)   reference: {digits_to_text(ref_digits)}   "
                 f"decoded (beam): {digits_to_text(hyp_digits) or '(nothing)'}")
    a2.plot(t, post[:, BLANK], color="0.6", ls="--", lw=1, label="blank")
    cmap = plt.get_cmap("tab10")
    for d in range(10):
        p = post[:, d + 1]
        if p.max() > 0.05:
            a2.plot(t, p, color=cmap(d), lw=1.5, label=str(d))
            # name every peak: each run of frames where the digit is the most probable class
            top = np.flatnonzero(post.argmax(-1) == d + 1)
            for run in np.split(top, np.flatnonzero(np.diff(top) > 1) + 1) if top.size else []:
                k = int(run[np.argmax(p[run])])
                a2.text(t[k], p[k] + 0.03, str(d), color=cmap(d), ha="center", fontsize=10)
    a2.set_ylim(-0.02, 1.3)
    a2.set_xlabel("time (s)")
    a2.set_ylabel("P(class | x)")
    a2.legend(ncol=11, fontsize=8, loc="upper center", frameon=False)
    a2.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _feature_params(model, config=None):
    meta = getattr(model, "metadata", None) or {}
    if "feature_params" in meta:
        return dict(meta["feature_params"]), int(meta.get("sample_rate", 16000))
    if config is not None:
        return dict(config["features"]), int(config["sample_rate"])
    raise ValueError("model: its metadata holds no 'feature_params' (was it trained by the "
                     "speech-digits app?); cannot featurise audio for it")


def evaluate(model, config):
    """Held-out-voice DER and string accuracy of a (loaded) model, rendering the test corpus (cached)."""
    fp, _ = _feature_params(model, config)
    X_te, d_te, v_te = load_corpus(config, "test", fp)
    meta = getattr(model, "metadata", None) or {}
    greedy, beam, _ = decode(model, X_te, meta.get("beam_width", config["beam_width"]))
    return {**score(d_te, greedy, beam, v_te), "n_test": len(X_te),
            "test_voices": list(speech.TEST_VOICES)}


def transcribe(model, wav_path, beam_width=None) -> str:
    """Digits spoken in an audio file, as text ("3 1 4"), by CTC prefix beam search.

    The file is read with ``audio.load_wav`` at the model's sample rate and featurised with the
    parameters stored in ``model.metadata`` (written by :func:`run`).
    """
    fp, sr = _feature_params(model)
    meta = getattr(model, "metadata", None) or {}
    wave = audio.load_wav(wav_path, sample_rate=sr)
    feats = speech_features.featurize(wave, sample_rate=sr, **fp)
    out = model.predict([feats])
    width = int(beam_width or meta.get("beam_width", 8))
    labels = ctc_decode.beam_search_decode(out, np.array([len(feats)]), beam_width=width,
                                    blank=int(meta.get("blank", BLANK)))[0]
    return digits_to_text(labels_to_digits(labels))
