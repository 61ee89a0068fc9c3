"""A character-level LSTM language model of Shakespeare, and text sampled from it.

The model reads characters c_1..c_t and gives, at every step, the distribution of the next one:
x_t = E[c_t] (``Embedding``), h_t = LSTM(h_{t-1}, x_t) (seed §4.1), y_t = W_y h_t + c and
P(c_{t+1} | c_1..c_t) = softmax(y_t); the loss is the per-step cross-entropy (seed §2.6), in nats
per character. Where the Markov chain of seed §1.2.2 conditions only on the current state
P(x_{t+1} | x_t) (the bigram baseline below is exactly that chain over characters), the hidden state
carries the whole past.

Data: ``corpora.load_shakespeare`` - 37 plays and 5 poems; three whole plays (Hamlet, Twelfth Night,
Henry V: 441,591 characters) are held out, the rest (4,615,688 characters) is for training. The
character vocabulary is the corpus' 84 symbols (saved in ``model.metadata["vocab"]``).

Training (bounded; plain NumPy on a few cores): every epoch draws ``steps_per_epoch * batch_size``
chunks of ``seq_len + 1`` characters at random places of the training text; a chunk's first
``seq_len`` characters are the input and the same characters shifted by one are the per-step targets
(many-to-many). Each chunk starts from a zero state, so backpropagation through time is truncated
at ``seq_len`` steps. Training goes through the public ``Sequential.fit`` (one call per epoch, on
that epoch's fresh chunks); the learning rate follows a cosine from ``lr`` down to ``lr * lr_final``.
After each epoch, ``val_loss`` is the mean loss on a fixed sample of ``val_chunks`` held-out chunks
(``model.evaluate``, cold start per chunk).

The held-out figure (``val_nats_per_char``) streams the validation text: it is cut into
``eval_streams`` contiguous pieces read side by side as one batch, ``eval_chunk`` characters at a
time, the recurrent state carried from chunk to chunk (each piece starts from a zero state). Every
character of a piece but its first is predicted (the < ``eval_streams`` trailing characters that do
not fill a piece are left out). ``val_chars`` limits the text to its first characters (quick mode).

Baselines on exactly the same predicted characters, both estimated on the training text only:
unigram (character frequencies, add-one smoothed: the cross-entropy of the frequency table) and
bigram (P(c_{t+1} | c_t) with add-one smoothing: the first-order Markov chain of seed §1.2.2).

Sampling (:func:`generate`) runs the recurrent layer's ``step`` one character at a time (O(1) work
per character, the state carried), first over the prompt, then over its own samples.
"""
from __future__ import annotations

import math
import time

import numpy as np

from ..data import corpora, text
from ..layers import Dense, Dropout, Embedding, Recurrent
from ..model import Sequential
from ..ops.activations import log_softmax
from .common import AppResult, Timer, recurrent_layer

NAME = "charlm"
DESCRIPTION = "character-level LSTM language model of Shakespeare, with sampling (seed §1.2.2, §4.1)"
#: What an empty prompt is conditioned on: a line break, the start of a speech or a paragraph.
START = "\n"


def default_config(quick=False):
    """Settings of the app; ``quick`` is the demo / smoke-test size (well under a minute)."""
    return {"cell": "lstm", "hidden": 64 if quick else 192, "layers": 1, "bidirectional": False,
            "embed_dim": 16 if quick else 48, "seq_len": 64 if quick else 100,
            "epochs": 5 if quick else 20, "steps_per_epoch": 40 if quick else 100, "batch_size": 32,
            "lr": 1e-2 if quick else 3e-3, "lr_final": 0.3 if quick else 0.1, "clip_norm": 5.0, "seed": 0,
            "val_chunks": 16 if quick else 128, "val_chars": 20000 if quick else None,
            "eval_streams": 64, "eval_chunk": 250, "sample_prompt": "ROMEO.\n", "sample_length": 300,
            "temperature": 0.8}


def build(config, vocab_size):
    """Embedding (no padding id: every id is a character) -> LSTM (return_sequences) -> Dense(vocab)."""
    if config.get("bidirectional"):
        raise ValueError("bidirectional: a language model predicts the next character from the past "
                         "only; a backward direction would read the answer. Use bidirectional=False")
    return Sequential([Embedding(vocab_size, config["embed_dim"], padding_idx=None),
                       recurrent_layer(config, return_sequences=True),
                       Dense(vocab_size)], seed=config["seed"])


# -- data ------------------------------------------------------------------------------------------

def load(config):
    """(training ids, validation ids, CharVocabulary); ``val_chars`` cuts the validation text."""
    data = corpora.load_shakespeare()
    vocab = data.char_vocabulary()
    val_text = data.val_text
    if config.get("val_chars"):
        val_text = val_text[:int(config["val_chars"])]
    return vocab.encode(data.train_text), vocab.encode(val_text), vocab


def random_chunks(ids, n, seq_len, rng):
    """``n`` chunks at random places: inputs ``X`` (n, seq_len) and next-character targets ``Y``."""
    starts = rng.integers(0, len(ids) - seq_len - 1, size=int(n))
    idx = starts[:, None] + np.arange(seq_len + 1)[None, :]
    chunks = ids[idx]
    return chunks[:, :-1], chunks[:, 1:]


def ngram_baselines(train_ids, targets, contexts, V):
    """Cross-entropies (nats/char) of add-one unigram and bigram models on (context -> target) pairs."""
    uni = np.bincount(train_ids, minlength=V).astype(np.float64)
    p_uni = (uni + 1) / (uni.sum() + V)
    pairs = np.bincount(train_ids[:-1] * V + train_ids[1:], minlength=V * V).reshape(V, V).astype(np.float64)
    p_bi = (pairs + 1) / (pairs.sum(1, keepdims=True) + V)
    return {"unigram": float(-np.log(p_uni[targets]).mean()),
            "bigram": float(-np.log(p_bi[contexts, targets]).mean())}


# -- running the network with a carried state -----------------------------------------------------

def _check_streamable(model):
    for layer in model.layers:
        if isinstance(layer, Recurrent) and layer.bidirectional:
            raise ValueError("a bidirectional layer cannot read text as a stream (it needs the future)")


def forward_stateful(model, ids, states):
    """Logits for token ids (B, T), each recurrent layer starting from ``states[i]`` (None: zeros).

    Returns (logits (B, T, V), new states). Inference mode (dropout off).
    """
    x, new = ids, dict(states)
    for i, layer in enumerate(model.layers):
        if isinstance(layer, Recurrent):
            x, new[i] = layer.forward(x, initial_state=states.get(i), return_state=True)
        else:
            x = layer.forward(x, None, training=False)
    return x, new


def stream_nll(model, ids, n_streams=64, chunk=250):
    """Mean negative log-likelihood (nats/char) of ``ids`` read as ``n_streams`` parallel streams.

    Returns (nll, targets, contexts): the predicted characters and the ones before them, for baselines
    scored on the same positions.
    """
    _check_streamable(model)
    ids = np.asarray(ids, dtype=np.int64)
    S = max(1, min(int(n_streams), len(ids) // 2))
    L = len(ids) // S
    if L < 2:
        raise ValueError(f"ids: need at least 2 characters per stream, got {len(ids)} for {S} streams")
    streams = ids[:S * L].reshape(S, L)
    total, states = 0.0, {}
    for a in range(0, L - 1, int(chunk)):
        b = min(a + int(chunk), L - 1)
        logits, states = forward_stateful(model, streams[:, a:b], states)
        logp = log_softmax(np.asarray(logits, np.float64))
        total += -np.take_along_axis(logp, streams[:, a + 1:b + 1, None], axis=-1).sum()
    n = S * (L - 1)
    return total / n, streams[:, 1:].reshape(-1), streams[:, :-1].reshape(-1)


# -- sampling --------------------------------------------------------------------------------------

def vocabulary_of(model, vocab=None):
    """The CharVocabulary of a model: ``vocab`` if given, else ``model.metadata["vocab"]``."""
    if vocab is None:
        meta = getattr(model, "metadata", None) or {}
        if "vocab" not in meta:
            raise ValueError("generate: the model carries no vocabulary (model.metadata['vocab']); "
                             "pass vocab=... or use a model trained by `rnnkit train charlm`")
        vocab = meta["vocab"]
    if isinstance(vocab, text.CharVocabulary):
        return vocab
    if isinstance(vocab, dict):
        return text.CharVocabulary.from_dict(vocab)
    return text.CharVocabulary(list(vocab))


def _step(model, token, states):
    """One character through the network: logits (V,) and the new states (recurrent ``step``)."""
    x, new = np.array([token]), dict(states)
    for i, layer in enumerate(model.layers):
        if isinstance(layer, Embedding):
            x = layer.params["E"][x]
        elif isinstance(layer, Recurrent):
            x, new[i] = layer.step(x, states.get(i))
        elif isinstance(layer, Dropout):
            continue
        elif isinstance(layer, Dense):
            x = layer.forward(x, None, training=False)
        else:
            raise ValueError(f"generate: cannot stream through a {type(layer).__name__} layer")
    return np.asarray(x[0], np.float64), new


def generate(model, prompt="", length=300, temperature=0.8, seed=0, vocab=None):
    """``prompt`` followed by ``length`` sampled characters (so ``len(result) == len(prompt) + length``).

    The prompt is read through the recurrent layer's ``step`` first (an empty prompt reads the single
    character ``START`` = "\\n", which is not part of the result); then each sampled character is fed
    back. ``temperature`` divides the logits before the softmax: below 1 sharper, above 1 flatter;
    ``temperature <= 0`` is greedy (argmax). ``seed`` makes the sample reproducible.
    """
    if int(length) < 0:
        raise ValueError(f"length: expected >= 0, got {length!r}")
    if not isinstance(prompt, str):
        raise TypeError(f"prompt: expected a str, got {type(prompt).__name__}")
    temperature = float(temperature)
    if not math.isfinite(temperature):
        raise ValueError(f"temperature: expected a finite number, got {temperature!r}")
    _check_streamable(model)
    v = vocabulary_of(model, vocab)
    if model.input_size is not None and model.input_size != len(v):
        raise ValueError(f"vocab: {len(v)} characters, but the model was built for {model.input_size}")
    context = v.encode(prompt or START)  # names any character outside the vocabulary
    rng = np.random.default_rng(seed)
    states = {}
    for t in context[:-1]:
        _, states = _step(model, int(t), states)
    token, out = int(context[-1]), []
    for _ in range(int(length)):
        logits, states = _step(model, token, states)
        if temperature <= 0:
            token = int(np.argmax(logits))
        else:
            z = logits / temperature
            p = np.exp(z - z.max())
            cdf = np.cumsum(p)
            token = int(min(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"), len(cdf) - 1))
        out.append(token)
    return prompt + v.decode(np.asarray(out, dtype=np.int64))


# -- the app ---------------------------------------------------------------------------------------

def evaluate(model, config):
    """Held-out nats per character of a (loaded) model, streamed, with the n-gram baselines."""
    train_ids, val_ids, vocab = load(config)
    v = vocabulary_of(model, (getattr(model, "metadata", None) or {}).get("vocab", vocab))
    if v != vocab:
        raise ValueError("evaluate: the model's vocabulary is not the Shakespeare corpus' vocabulary")
    nll, targets, contexts = stream_nll(model, val_ids, config["eval_streams"], config["eval_chunk"])
    base = ngram_baselines(train_ids, targets, contexts, len(vocab))
    return {"val_nats_per_char": float(nll), "val_bits_per_char": float(nll / math.log(2)),
            "unigram_nats_per_char": base["unigram"], "bigram_nats_per_char": base["bigram"],
            "n_predicted": int(len(targets))}


def run(config, verbose=0):
    with Timer() as timer:
        train_ids, val_ids, vocab = load(config)
        V = len(vocab)
        model = build(config, V).compile("crossentropy", "adam", lr=config["lr"], clip_norm=config["clip_norm"])
        rng = np.random.default_rng(config["seed"])
        L, B, steps = int(config["seq_len"]), int(config["batch_size"]), int(config["steps_per_epoch"])
        vX, vY = random_chunks(val_ids, config["val_chunks"], min(L, len(val_ids) - 2),
                               np.random.default_rng(config["seed"] + 1))
        epochs = int(config["epochs"])
        history = {"loss": [], "val_loss": [], "lr": []}
        lr0, lr1 = float(config["lr"]), float(config["lr"]) * float(config["lr_final"])
        for epoch in range(epochs):
            model.optimizer.lr = lr1 + 0.5 * (lr0 - lr1) * (1 + math.cos(math.pi * epoch / max(1, epochs - 1)))
            X, Y = random_chunks(train_ids, steps * B, L, rng)
            h = model.fit(X, Y, epochs=1, batch_size=B, shuffle=False, verbose=0).history
            val = model.evaluate(vX, vY)["loss"]
            history["loss"].append(h["loss"][0])
            history["val_loss"].append(float(val))
            history["lr"].append(float(model.optimizer.lr))
            if verbose:
                print(f"epoch {epoch + 1}/{epochs}: loss={h['loss'][0]:.4f}  val_loss={val:.4f}  "
                      f"lr={model.optimizer.lr:.2e}  ({time.perf_counter() - timer.t0:.0f}s)", flush=True)
        metadata = {"vocab": list(vocab.chars), "start": START}
        model.metadata = metadata
        nll, targets, contexts = stream_nll(model, val_ids, config["eval_streams"], config["eval_chunk"])
        base = ngram_baselines(train_ids, targets, contexts, V)
        sample = generate(model, prompt=config["sample_prompt"], length=config["sample_length"],
                          temperature=config["temperature"], seed=config["seed"])
    metrics = {"val_nats_per_char": float(nll), "val_bits_per_char": float(nll / math.log(2)),
               "unigram_nats_per_char": base["unigram"], "bigram_nats_per_char": base["bigram"],
               "last_val_chunk_loss": history["val_loss"][-1] if history["val_loss"] else None,
               "n_predicted": int(len(targets)), "train_chars": int(len(train_ids)),
               "chars_trained_on": int(epochs * steps * B * L), "vocab_size": V, "sample": sample,
               "sample_settings": {"prompt": config["sample_prompt"], "temperature": config["temperature"],
                                   "seed": config["seed"]}}

    def plot(path):
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(7, 4))
        e = np.arange(1, len(history["loss"]) + 1)
        ax.plot(e, history["loss"], "-o", ms=3, label="train chunks")
        ax.plot(e, history["val_loss"], "-o", ms=3, label="held-out chunks")
        ax.axhline(nll, c="k", lw=1, label=f"held-out plays, streamed: {nll:.3f}")
        ax.axhline(base["bigram"], c="C3", ls="--", label=f"bigram (add-one): {base['bigram']:.3f}")
        ax.axhline(base["unigram"], c="C4", ls=":", label=f"unigram: {base['unigram']:.3f}")
        ax.set_xlabel("epoch")
        ax.set_ylabel("nats per character")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_title(f"Character LM, {config['cell'].upper()} {config['hidden']}")
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)

    held = f"{len(val_ids):,} chars" + ("" if not config.get("val_chars") else " (first part)")
    return AppResult(task="char LM (Shakespeare)", data=f"37 plays + 5 poems; Hamlet, Twelfth Night, "
                     f"Henry V held out ({held})",
                     metric="held-out nats/char", value=float(nll), baseline=base["bigram"],
                     baseline_name="bigram, add-one", model=model, history=history, metrics=metrics,
                     plots={"nats_per_char.png": plot}, metadata=metadata,
                     seconds=timer.seconds)

