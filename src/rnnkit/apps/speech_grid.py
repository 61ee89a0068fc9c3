"""The held-out evaluation grid of the speech-digits recipe: unseen voices x noise x reverberation.

The test utterances (``test_voices``: voices never heard in training, among them festival, a whole
synthesiser never used in training) are rendered once and then put through each *condition*:
clean or noise at ``grid_snr_db`` (white, pink or babble, drawn per utterance), each without and
with reverberation (a synthetic room of ``grid_rt60`` seconds), and 0.25 s of silence before and
after every utterance. Every cell holds the same utterances with the same noise draws, so cells
differ only by the condition. Per cell: digit error rate (beam search), string accuracy, and for the
filler utterances (non-digit speech, silence) the fraction on which the model output any digit.
"""
from __future__ import annotations

import numpy as np

from ..data import speech
from ..ops import activations

CELL_SILENCE_S = 0.25


def conditions(config) -> list[dict]:
    """The grid's cells in order: {"name", "snr_db" (None: clean), "reverb" (bool), "augment"}."""
    rt = float(config["grid_rt60"])
    cells = []
    for reverb in (False, True):
        for snr in [None] + [float(v) for v in config["grid_snr_db"]]:
            name = ("clean" if snr is None else f"{snr:g} dB") + (" + reverb" if reverb else "")
            settings = {"speed_prob": 0.0, "gain_db": [0.0, 0.0], "silence_s": [CELL_SILENCE_S] * 2,
                        "reverb_prob": 1.0 if reverb else 0.0, "rt60": [rt, rt],
                        "noise_prob": 0.0 if snr is None else 1.0, "snr_db": [snr or 0.0] * 2,
                        "noise_kinds": ["white", "pink", "babble"]}
            cells.append({"name": name, "snr_db": snr, "reverb": reverb, "augment": settings})
    return cells


def _utterances(config) -> dict:
    """The arguments that draw the test utterances, the same for every cell."""
    return dict(voices=list(config["test_voices"]), seed=int(config["test_seed"]), min_len=int(config["min_len"]),
                max_len=int(config["max_len"]), speeds=tuple(config["speeds"]), pitches=tuple(config["pitches"]),
                oh_prob=float(config["oh_prob"]), filler_prob=float(config["filler_prob"]))


def cell_corpus(config, cell, feature_params=None):
    """(features, digits, voices) of the test utterances under one condition (cached on disk)."""
    fp = dict(config["features"] if feature_params is None else feature_params)
    return speech.make_digit_dataset(
        int(config["n_test"]), **_utterances(config), sample_rate=int(config["sample_rate"]),
        n_jobs=int(config.get("n_jobs", 2)), feature_params=fp, cache=bool(config.get("cache", True)),
        augment=cell["augment"])


def cell_waves(config, cell, n):
    """The first ``n`` waveforms of a cell and their digits: the audio behind ``cell_corpus``'s
    features (the same rendering, the same augmentation draws)."""
    specs = speech.sample_digit_specs(int(config["n_test"]), **_utterances(config))
    seed, n = int(config["test_seed"]), int(n)
    waves = speech.digit_waves(specs[:max(n, 64)], seed, int(config["sample_rate"]), cell["augment"])
    return waves[:n], [s.labels for s in specs[:n]]


def filler_false_digits(digits, hyps) -> float | None:
    """Of the utterances whose reference holds no digit, the fraction decoded to any digit."""
    idx = [i for i, d in enumerate(digits) if len(d) == 0]
    return None if not idx else float(np.mean([len(hyps[i]) > 0 for i in idx]))


def evaluate(models, config, decode, score, feature_params=None, verbose=0):
    """{model name: {cell name: metrics}} for ``models`` ({name: Sequential}); ``decode`` and
    ``score`` are the recipe's. The clean cell's metrics keep the per-voice breakdown."""
    out = {name: {} for name in models}
    for cell in conditions(config):
        X, d, v = cell_corpus(config, cell, feature_params)
        for name, model in models.items():
            greedy, beam, _ = decode(model, X, config["beam_width"])
            m = score(d, greedy, beam, v if cell["name"] == "clean" else None)
            m["filler_false_digits"] = filler_false_digits(d, beam)
            out[name][cell["name"]] = m
            if verbose:
                print(f"{name:>6} {cell['name']:>16}: DER {m['der_beam']:.4f}  strings {m['string_acc_beam']:.3f}",
                      flush=True)
    return out


def table(grid, model="rnn") -> str:
    """The grid of one model as a Markdown table: conditions down, DER and string accuracy across."""
    rows = ["| condition | DER (beam) | string accuracy | fillers given a digit |", "|---|---|---|---|"]
    for cell, m in grid[model].items():
        f = m.get("filler_false_digits")
        rows.append(f"| {cell} | {m['der_beam']:.4f} | {m['string_acc_beam']:.3f} | "
                    f"{'-' if f is None else f'{f:.2f}'} |")
    return "\n".join(rows)


def plot(grid, path):
    """Bars of DER per condition, the recurrent model beside the MLP baseline."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    cells = list(next(iter(grid.values())))
    fig, ax = plt.subplots(figsize=(10, 4))
    width = 0.8 / len(grid)
    for k, (name, by_cell) in enumerate(grid.items()):
        ax.bar(np.arange(len(cells)) + k * width, [by_cell[c]["der_beam"] for c in cells], width, label=name)
    ax.set_xticks(np.arange(len(cells)) + width * (len(grid) - 1) / 2, cells, rotation=20)
    ax.set_ylabel("digit error rate (held-out voices)")
    ax.set_title("held-out voices under noise and reverberation")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


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
    a1.set_title(f"voice {voice} (held out)   reference: {' '.join(map(str, ref_digits))}   "
                 f"decoded (beam): {' '.join(map(str, hyp_digits)) or '(nothing)'}")
    a2.plot(t, post[:, 0], color="0.6", ls="--", lw=1, label="blank")
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
