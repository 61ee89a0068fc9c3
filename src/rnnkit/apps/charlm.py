"""A character-level LSTM language model of Shakespeare, and text sampled from it.

The model reads characters c_1..c_t and gives, at every step, the distribution of the next one:
x_t = E[c_t] (``Embedding``), h_t = LSTM(h_{t-1}, x_t) (seed §4.1), y_t = W_y h_t + c and
P(c_{t+1} | c_1..c_t) = softmax(y_t); the loss is the per-step cross-entropy (seed §2.6), in nats
per character. Where the Markov chain of seed §1.2.2 conditions only on the current state
P(x_{t+1} | x_t) (the bigram baseline below is exactly that chain over characters), the hidden state
carries the whole past.

Data: ``corpora.load_shakespeare``, 37 plays and 5 poems. Trained on 34 plays and the 5 poems
(4,615,688 characters); held out: Hamlet, Henry V, Twelfth Night (441,591 characters). The
vocabulary is the corpus' 84 characters (``model.metadata["vocab"]``). ``AppResult.data`` says
this, counted from the loaded texts (:func:`describe_data`).

Training: ``steps`` optimizer steps (batches), each on ``batch_size`` fresh chunks of ``seq_len + 1``
characters at random places of the training text: the first ``seq_len`` characters are the input,
the same shifted by one the per-step targets. Each chunk starts from a zero state (backpropagation
through time, seed §2.4, truncated at ``seq_len``). ``metrics["passes"]`` = ``steps * batch_size *
seq_len / len(training text)`` is the number of passes over the text (about 1.4 for the full
config). The learning rate follows a cosine (``callbacks.cosine_decay``) from ``lr`` at the first
step to ``lr * lr_final`` at the last, a new value at every step: the loop calls
``Sequential.train_step`` batch by batch. Every ``eval_every`` steps (and after the last) the
history gets a line: ``step``, ``passes``, ``loss`` (mean of those steps), ``val_loss`` (the chunk
figure below) and ``lr`` (of the last of those steps).

Three held-out figures (:mod:`.charlm_eval`), nats per character (``val_chars`` cuts the text):

- ``val_nats_per_char_streamed`` (``AppResult.value``): the text is cut into ``eval_streams``
  contiguous pieces (about 6,900 characters each for the full text) read side by side,
  ``eval_chunk`` characters at a time, the state carried from chunk to chunk (zero at each piece's
  start); every character of a piece but its first is predicted (the < ``eval_streams`` trailing
  characters are left out). This is how the model reads when it generates: with all it has seen.
- ``val_nats_per_char_chunks`` (the history's last ``val_loss``): the mean loss on ``val_chunks``
  fixed random chunks of ``seq_len`` characters, each from a zero state (the training condition:
  a chunk's first characters have little context, so this is higher).
- ``val_nats_per_char_context64``: each character predicted from exactly the ``CONTEXT`` = 64
  characters before it, read from a zero state: what a fixed-window model (an order-65 n-gram, a
  window MLP, a Transformer with 64 characters of context) can be compared with. It is computed on
  ``context_positions`` positions spread evenly over the text (all when there are fewer), 64-character
  windows run as batches of 256 (not one forward per character); ``..._se`` is its standard error.
  ``val_nats_per_char_streamed_at_context64_positions`` is the streamed figure on the same positions
  (the sample's error cancels in that paired comparison).

Baselines on the characters the streamed figure predicts, estimated on the training text only:
unigram (add-one smoothed frequencies) and bigram (P(c_{t+1} | c_t), add-one: the first-order
Markov chain of seed §1.2.2).

Sampling (:func:`generate`) runs the recurrent layer's ``step`` one character at a time (O(1) work
per character, the state carried), first over the prompt, then over its own samples.
"""
from __future__ import annotations

import math
import time

import numpy as np

from ..callbacks import cosine_decay
from ..data import corpora, text
from ..layers import Dense, Dropout, Embedding, Recurrent
from ..model import Sequential
from ..ops import _checks
from .charlm_eval import (
    CONTEXT,
    check_streamable,
    chunk_nll,
    context_nll,
    context_positions,
    ngram_baselines,
    stream_nll_per_char,
    streamed_at,
)
from .common import AppResult, Timer, recurrent_layer, settings

NAME = "charlm"
DESCRIPTION = "character-level LSTM language model of Shakespeare, with sampling (seed §1.2.2, §4.1)"
#: What an empty prompt is conditioned on: a line break, the start of a speech or a paragraph.
START = "\n"


def default_config(quick=False):
    """Settings of the app; ``quick`` is the demo / smoke-test size (well under a minute).

    ``steps``: optimizer steps (batches) in all; ``eval_every``: steps between history lines
    (held-out chunk loss, printed with ``verbose``); ``context_positions``: how many held-out
    positions the 64-character-context figure scores.
    """
    return {"cell": "lstm", "hidden": 64 if quick else 192, "layers": 1, "bidirectional": False,
            "embed_dim": 16 if quick else 48, "seq_len": 64 if quick else 100,
            "steps": 200 if quick else 2000, "eval_every": 40 if quick else 100, "batch_size": 32,
            "lr": 1e-2 if quick else 3e-3, "lr_final": 0.3 if quick else 0.1, "clip_norm": 5.0, "seed": 0,
            "val_chunks": 16 if quick else 128, "val_chars": 20000 if quick else None,
            "eval_streams": 64, "eval_chunk": 250, "context_positions": 1024 if quick else 8192,
            "sample_prompt": "ROMEO.\n", "sample_length": 300, "temperature": 0.8}


SETTINGS = settings(
    "cell", "hidden", "layers", "seed", "clip_norm",
    bidirectional="must be false: a language model predicts the next character from the past only",
    embed_dim="size of the learned character embedding, an integer >= 1",
    seq_len="characters per training chunk (backpropagation through time from a zero state), an integer >= 1",
    steps="optimizer steps (batches) in all, an integer >= 1",
    eval_every="steps between history lines (training loss, held-out chunk loss), an integer >= 1",
    batch_size="chunks per batch, an integer >= 1",
    lr="learning rate of Adam at the first step (cosine decay to lr * lr_final at the last), a number > 0",
    lr_final="the last step's learning rate as a fraction of lr, a number in [0, 1]",
    val_chunks="fixed held-out chunks of seq_len characters behind the history's val_loss, an integer >= 1",
    val_chars="score only the first this many held-out characters, an integer >= 1 (null: all of them)",
    eval_streams="contiguous pieces the held-out text is cut into and read side by side (the streamed "
                 "figure), an integer >= 1",
    eval_chunk="characters per step of the streamed evaluation (the state carries over), an integer >= 1",
    context_positions="held-out positions the 64-character-context figure scores, an integer >= 1 (null: all)",
    sample_prompt="text the sample in metrics.json starts from (characters of the vocabulary)",
    sample_length="characters sampled after the prompt, an integer >= 1",
    temperature="sampling temperature, a number > 0 (below 1: sharper, above 1: more random)")


def build(config, vocab_size):
    """Embedding (no padding id: every id is a character) -> LSTM (return_sequences) -> Dense(vocab)."""
    if config.get("bidirectional"):
        raise ValueError("bidirectional: a language model predicts the next character from the past "
                         "only; a backward direction would read the answer. Use bidirectional=False")
    return Sequential([Embedding(vocab_size, config["embed_dim"], padding_idx=text.CharVocabulary.padding_idx),
                       recurrent_layer(config, return_sequences=True, dropout=config.get("dropout", 0.0)),
                       Dense(vocab_size)], seed=config["seed"])


# -- data ------------------------------------------------------------------------------------------

def describe_data(data, val_chars=None):
    """What a run trains on and what it holds out, counted from ``data`` (a ``ShakespeareData``);
    works by title ("twelfth_night" -> "Twelfth Night", "henry_v" -> "Henry V")."""
    title = lambda stem: " ".join(w.upper() if set(w) <= set("ivx") else w.capitalize() for w in stem.split("_"))
    poems = sum(w in corpora.SHAKESPEARE_POEMS for w in data.train_works)
    works = f"{len(data.train_works) - poems} plays" + (f" + {poems} poems" if poems else "")
    n_val = len(data.val_text)
    scored = f"; first {min(int(val_chars), n_val):,} scored" if val_chars else ""
    return (f"Shakespeare: trained on {works} ({len(data.train_text):,} chars), held out "
            f"{', '.join(map(title, data.val_works))} ({n_val:,} chars{scored})")


def load(config):
    """(training ids, validation ids, CharVocabulary, data description); ``val_chars`` cuts the
    validation text."""
    data = corpora.load_shakespeare()
    vocab = data.char_vocabulary()
    val_text = data.val_text[:int(config["val_chars"])] if config.get("val_chars") else data.val_text
    return (vocab.encode(data.train_text), vocab.encode(val_text), vocab,
            describe_data(data, config.get("val_chars")))


def random_chunks(ids, n, seq_len, rng):
    """``n`` chunks at random places: inputs ``X`` (n, seq_len) and next-character targets ``Y``."""
    starts = rng.integers(0, len(ids) - seq_len - 1, size=int(n))
    idx = starts[:, None] + np.arange(seq_len + 1)[None, :]
    chunks = ids[idx]
    return chunks[:, :-1], chunks[:, 1:]


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
    check_streamable(model)
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

def _settings(config):
    """(steps, eval_every, batch_size, seq_len, lr, final lr) of a config, checked before any work."""
    steps = _checks.check_int(config["steps"], "steps", minimum=1)
    every = _checks.check_int(config["eval_every"], "eval_every", minimum=1)
    B = _checks.check_int(config["batch_size"], "batch_size", minimum=1)
    L = _checks.check_int(config["seq_len"], "seq_len", minimum=1)
    _checks.check_int(config["val_chunks"], "val_chunks", minimum=1)
    if config.get("context_positions") is not None:
        _checks.check_int(config["context_positions"], "context_positions", minimum=1)
    lr = _checks.check_float(config["lr"], "lr", low=0, low_open=True)
    return steps, every, B, L, lr, lr * _checks.check_float(config["lr_final"], "lr_final", low=0, high=1)


def val_chunks(val_ids, config):
    """The fixed held-out chunks (inputs, targets) of the chunk figure and the history's ``val_loss``."""
    L = min(int(config["seq_len"]), len(val_ids) - 2)
    return random_chunks(val_ids, config["val_chunks"], L, np.random.default_rng(config["seed"] + 1))


def held_out(model, config, train_ids, val_ids, vX, vY):
    """The three held-out figures (streamed, chunks, 64-character context) and the n-gram baselines."""
    per, streams = stream_nll_per_char(model, val_ids, config["eval_streams"], config["eval_chunk"])
    nll = float(per.mean())
    ctx = context_nll(model, val_ids, CONTEXT, config.get("context_positions"))
    paired = streamed_at(per, context_positions(len(val_ids), CONTEXT, config.get("context_positions")))
    base = ngram_baselines(train_ids, streams[:, 1:].reshape(-1), streams[:, :-1].reshape(-1), model.input_size)
    se = float(ctx.std(ddof=1) / math.sqrt(len(ctx))) if len(ctx) > 1 else float("nan")
    return {"val_nats_per_char_streamed": nll, "val_bits_per_char_streamed": nll / math.log(2),
            "val_nats_per_char_chunks": float(chunk_nll(model, vX, vY)),
            f"val_nats_per_char_context{CONTEXT}": float(ctx.mean()),
            f"val_nats_per_char_context{CONTEXT}_se": se, f"n_context{CONTEXT}_positions": int(len(ctx)),
            f"val_nats_per_char_streamed_at_context{CONTEXT}_positions": float(paired.mean()),
            "unigram_nats_per_char": base["unigram"], "bigram_nats_per_char": base["bigram"],
            "n_predicted": int(per.size)}


def evaluate(model, config):
    """The held-out figures of a (loaded) model (see the module docstring), with the n-gram baselines."""
    train_ids, val_ids, vocab, desc = load(config)
    v = vocabulary_of(model, (getattr(model, "metadata", None) or {}).get("vocab", vocab))
    if v != vocab:
        raise ValueError("evaluate: the model's vocabulary is not the Shakespeare corpus' vocabulary")
    return {**held_out(model, config, train_ids, val_ids, *val_chunks(val_ids, config)), "data": desc}


def train(model, config, train_ids, vX, vY, verbose=0):
    """``steps`` optimizer steps on fresh random chunks, the learning rate set before every step
    (cosine, ``callbacks.cosine_decay``); returns the history, one line per ``eval_every`` steps."""
    steps, every, B, L, lr0, lr1 = _settings(config)
    schedule = cosine_decay(lr0, steps - 1, lr1)        # lr0 at the first step, lr1 at the last
    rng = np.random.default_rng(config["seed"])
    history = {"step": [], "passes": [], "loss": [], "val_loss": [], "lr": []}
    losses, t0 = [], time.perf_counter()
    for k in range(steps):
        model.optimizer.lr = schedule(k, model.optimizer.lr)
        X, Y = random_chunks(train_ids, B, L, rng)
        losses.append(model.train_step(X, Y, None, None)[0])
        if (k + 1) % every and k + 1 < steps:
            continue
        line = {"step": k + 1, "passes": (k + 1) * B * L / len(train_ids), "loss": float(np.mean(losses)),
                "val_loss": float(chunk_nll(model, vX, vY)), "lr": float(model.optimizer.lr)}
        for key, value in line.items():
            history[key].append(value)
        losses = []
        if verbose:
            print(f"step {k + 1}/{steps} ({line['passes']:.3f} passes): loss={line['loss']:.4f}  "
                  f"val_loss={line['val_loss']:.4f}  lr={line['lr']:.2e}  ({time.perf_counter() - t0:.0f}s)",
                  flush=True)
    return history


def run(config, verbose=0):
    steps, _, B, L, lr, _ = _settings(config)
    with Timer() as timer:
        train_ids, val_ids, vocab, desc = load(config)
        V = len(vocab)
        model = build(config, V).compile("crossentropy", "adam", lr=lr, clip_norm=config["clip_norm"]).build(V)
        vX, vY = val_chunks(val_ids, config)
        history = train(model, config, train_ids, vX, vY, verbose)
        metadata = {"vocab": list(vocab.chars), "start": START}
        model.metadata = metadata
        held = held_out(model, config, train_ids, val_ids, vX, vY)
        sample = generate(model, prompt=config["sample_prompt"], length=config["sample_length"],
                          temperature=config["temperature"], seed=config["seed"])
    nll, ctx = held["val_nats_per_char_streamed"], held[f"val_nats_per_char_context{CONTEXT}"]
    metrics = {**held, "steps": steps, "passes": steps * B * L / len(train_ids),
               "chars_trained_on": int(steps * B * L), "train_chars": int(len(train_ids)), "vocab_size": V,
               "sample": sample, "sample_settings": {"prompt": config["sample_prompt"],
                                                     "temperature": config["temperature"], "seed": config["seed"]}}

    def plot(path):
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.plot(history["step"], history["loss"], "-o", ms=3, label="train chunks (mean since last point)")
        ax.plot(history["step"], history["val_loss"], "-o", ms=3, label="held-out chunks, zero state")
        for y, color, ls, name in [(nll, "k", "-", "held-out plays, streamed"),
                                   (ctx, "C2", "-.", f"held-out, {CONTEXT}-character context"),
                                   (held["bigram_nats_per_char"], "C3", "--", "bigram (add-one)"),
                                   (held["unigram_nats_per_char"], "C4", ":", "unigram")]:
            ax.axhline(y, c=color, ls=ls, lw=1, label=f"{name}: {y:.3f}")
        ax.set_xlabel(f"optimizer step ({metrics['passes']:.2f} passes over the training text in all)")
        ax.set_ylabel("nats per character")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_title(f"Character LM, {config['cell'].upper()} {config['hidden']}")
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)

    return AppResult(task="char LM (Shakespeare)", data=desc, metric="held-out nats/char (streamed)",
                     value=float(nll), baseline=held["bigram_nats_per_char"], baseline_name="bigram, add-one",
                     model=model, history=history, metrics=metrics, plots={"nats_per_char.png": plot},
                     metadata=metadata, seconds=timer.seconds)
