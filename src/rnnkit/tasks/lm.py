"""The ``lm`` task: a character language model of the user's text (seed §5.1.2), trained and scored
as the charlm recipe trains and scores Shakespeare (``rnnkit.apps.charlm``), then sampled with
``rnnkit generate RUN/model.npz``.

The split is by position: the first part of the text trains, the next ``val_fraction`` gives the
validation chunks, the last ``test_fraction`` (or ``--test FILE``) the held-out figure: nats per
character read as a stream, the state carried (the recipe's ``val_nats_per_char_streamed``). The
vocabulary is the characters of the training file (all its parts); a character of a ``--test`` file
outside it is an error.
"""
from __future__ import annotations

from ..apps import charlm
from ..apps.common import AppResult
from ..data import files
from ..data.text import CharVocabulary


def recipe_config(config, n_test):
    """The charlm recipe's settings for this run."""
    return {**charlm.default_config(), "cell": config["cell"], "hidden": config["hidden"],
            "layers": config["layers"], "bidirectional": False, "dropout": config["dropout"],
            "embed_dim": config["embed_dim"],
            "seq_len": config["seq_len"], "steps": config["steps"], "eval_every": max(1, config["steps"] // 20),
            "batch_size": config["batch_size"], "lr": config["lr"], "lr_final": 0.1,
            "clip_norm": config["clip_norm"] or None, "seed": config["seed"], "val_chunks": 32,
            "val_chars": None, "eval_streams": max(1, min(64, n_test // 200)), "context_positions": 512,
            "sample_prompt": "", "sample_length": 300}


def run(config, run_dir, verbose=0, resumed=None):
    if resumed is not None:
        raise ValueError("--resume: the lm task trains by steps, not epochs, and cannot resume; start a new run")
    text = files.read_text(config["data"], encoding=config["encoding"])
    n = len(text)
    a = int(n * (1 - config["val_fraction"] - (0 if config["test"] else config["test_fraction"])))
    b = int(n * (1 - (0 if config["test"] else config["test_fraction"])))
    test_text = files.read_text(config["test"], encoding=config["encoding"]) if config["test"] else text[b:]
    train_text, val_text = text[:a], text[a:b]
    if min(len(train_text), len(val_text), len(test_text)) < config["seq_len"] + 2:
        raise ValueError(f"{config['data']}: {n} characters are too few to split into training, validation "
                         f"and test parts of at least seq_len + 2 = {config['seq_len'] + 2} characters")
    vocab = CharVocabulary.build(text)          # the file's characters: a rare one may fall in a held-out part
    unknown = sorted(set(test_text) - set(vocab.chars))
    if unknown:
        raise ValueError(f"{config['test']}: characters not in the training text {config['data']}: {unknown[:20]}")
    train_ids, val_ids, test_ids = (vocab.encode(t) for t in (train_text, val_text, test_text))
    cfg = recipe_config(config, len(test_ids))
    model = charlm.build(cfg, len(vocab)).compile("crossentropy", "adam", lr=cfg["lr"], clip_norm=cfg["clip_norm"])
    model.build(len(vocab))
    vX, vY = charlm.val_chunks(val_ids, cfg)
    history = charlm.train(model, cfg, train_ids, vX, vY, verbose)
    meta = {"task": "lm", "vocab": list(vocab.chars), "start": charlm.START}
    model.metadata = meta
    held = charlm.held_out(model, cfg, train_ids, test_ids, vX, vY)
    held["sample"] = charlm.generate(model, prompt=test_text[:20], length=200, seed=config["seed"])
    desc = (f"{config['data']}: {n:,} characters, {len(vocab)} distinct; trained on the first {a:,}, "
            f"scored on {len(test_ids):,} held out")
    return AppResult(task=f"lm ({config['data']})", data=desc, metric="test nats/char (streamed)",
                     value=held["val_nats_per_char_streamed"], baseline=held["bigram_nats_per_char"],
                     baseline_name="bigram, add-one", model=model, history=history, metrics=held, metadata=meta)
