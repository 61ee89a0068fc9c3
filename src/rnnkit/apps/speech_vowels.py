"""Speaker recognition from the vowel /ae/: JapaneseVowels, a recurrent classifier (seed §5.2.2).

Data. UEA JapaneseVowels (bundled in aeon; ``classification.load_japanese_vowels``): nine male speakers
say the Japanese vowel /ae/; each utterance is 7..29 frames of 12 LPC cepstral coefficients, the
kind of per-frame audio feature vector x_t of seed §5.2.2. The archive's official split: 270
training utterances (30 per speaker), 370 test utterances (24..88 per speaker).

Scaling. Per-coefficient standardisation with the mean and standard deviation of every training
frame (test frames are never looked at).

Model (many-to-one). ``GRU`` or ``LSTM`` (``cell``, ``hidden``, ``layers``, ``bidirectional``) reads
the whole utterance; its final state (both directions' final states when bidirectional) goes to
``Dense(9)``, trained with softmax cross-entropy (seed §2.6). Variable lengths are handled by the
library (a ragged list in, lengths carried through the recurrence).

Seeds. The run trains ``len(seeds)`` models that differ only in their initialisation and batch
order, all for a fixed number of epochs (no validation split, nothing is chosen on the test set),
and reports test accuracy as mean ± standard deviation over them: ``metrics["accuracy_mean"]``,
``metrics["accuracy_std"]`` (population std, ``ddof=0``) and every seed's figure in
``metrics["accuracy_per_seed"]``. ``AppResult.value`` is the **mean over seeds**. The returned and
saved model is the first seed's; the confusion-matrix plot and ``metrics["accuracy"]`` are that
model's.

Measured (full config, BiGRU 64, 40 epochs, 5 seeds): 0.979 ± 0.005 (per seed 0.970-0.984;
seed 0: 0.981), about 5 minutes on a 2-core machine shared with other jobs (2.5 CPU-minutes).

Baseline: 1-NN with dynamic time warping, 0.949 test accuracy on the same split (the published UEA
archive figure, full-window DTW).
"""
from __future__ import annotations

import numpy as np

from ..data import classification
from ..layers import Dense
from ..metrics import confusion_matrix
from ..model import Sequential
from .common import AppResult, ChannelStandardizer, Timer, recurrent_layer, settings

NAME = "speech-vowels"
DESCRIPTION = "JapaneseVowels speaker recognition, 9 speakers, RNN many-to-one vs 1-NN DTW (seed §5.2.2)"
BASELINE = (0.949, "1-NN DTW (published)")


def default_config(quick=False):
    """Settings of the app; ``quick``: one seed and few epochs (a few seconds, the demo size)."""
    return {"cell": "gru", "hidden": 64, "layers": 1, "bidirectional": True,
            "epochs": 10 if quick else 40, "batch_size": 16, "lr": 3e-3, "clip_norm": 1.0,
            "seed": 0, "seeds": [0] if quick else [0, 1, 2, 3, 4]}


SETTINGS = settings(
    "cell", "hidden", "layers", "bidirectional", "lr", "clip_norm",
    epochs="training epochs of each model (a fixed number), an integer >= 1",
    batch_size="utterances per batch, an integer >= 1",
    seed="used only when seeds is empty or left out: each model takes its seed from seeds",
    seeds="one model per seed (initialisation, batch order); the figure is the mean test accuracy over them, "
          "a list of integers >= 0")


def load():
    """``(X_train, y_train, X_test, y_test, classes)``: raw ragged (T_i, 12) series, labels 0..8."""
    tr = classification.load_japanese_vowels("train")
    te = classification.load_japanese_vowels("test")
    return list(tr.X), np.asarray(tr.y), list(te.X), np.asarray(te.y), tuple(tr.classes)


def describe_data(X_tr, y_tr, X_te, y_te):
    """What a run trains on and holds out, counted from the loaded utterances."""
    return (f"JapaneseVowels ({len(np.unique(y_tr))} speakers, {np.shape(X_tr[0])[-1]} LPC cepstra/frame): "
            f"trained on {len(X_tr)} utterances, held out {len(X_te)} test utterances of "
            f"{len(np.unique(y_te))} speakers (the archive's split)")


def build(config, n_classes, seed):
    rec = recurrent_layer(config)
    return Sequential([rec, Dense(n_classes)], seed=seed)


def evaluate(model, config):
    """Test accuracy of a (loaded) model on the official test split."""
    X_tr, y_tr, X_te, y_te, classes = load()
    scaler = ChannelStandardizer.of_model(model, X_tr)
    pred = model.predict_classes([scaler.transform(x) for x in X_te])
    return {"accuracy": float((pred == y_te).mean()), "n_test": int(len(y_te)),
            "baseline_1nn_dtw_published": BASELINE[0]}


def run(config, verbose=0):
    seeds = [int(s) for s in config.get("seeds", [config["seed"]])]
    if not seeds:
        raise ValueError("seeds: expected at least one seed, got an empty list")
    with Timer() as timer:
        X_tr_raw, y_tr, X_te_raw, y_te, classes = load()
        scaler = ChannelStandardizer(X_tr_raw)
        X_tr = [scaler.transform(x) for x in X_tr_raw]
        X_te = [scaler.transform(x) for x in X_te_raw]
        K = len(classes)
        accs, first, history, preds = [], None, {}, None
        for s in seeds:
            model = build(config, K, s).compile("crossentropy", "adam", lr=config["lr"],
                                                 metrics=["accuracy"], clip_norm=config["clip_norm"])
            h = model.fit(X_tr, y_tr, epochs=config["epochs"], batch_size=config["batch_size"],
                          verbose=verbose).history
            pred = model.predict_classes(X_te)
            accs.append(float((pred == y_te).mean()))
            if verbose:
                print(f"seed {s}: test accuracy {accs[-1]:.4f}", flush=True)
            if first is None:
                first, history, preds = model, h, pred
    metadata = {"scaler": scaler.to_dict(), "classes": list(classes),
                "speakers": [f"speaker {c}" for c in classes]}
    first.metadata = metadata
    cm = confusion_matrix(preds, y_te, K)          # cm[true, predicted]
    accs_arr = np.asarray(accs)
    metrics = {"accuracy_mean": float(accs_arr.mean()), "accuracy_std": float(accs_arr.std()),
               "accuracy_per_seed": accs, "seeds": seeds, "accuracy": accs[0],
               "value_is": "mean test accuracy over seeds",
               "confusion_matrix": cm.tolist(), "n_train": len(X_tr), "n_test": len(X_te),
               "classes": list(classes), "baseline_1nn_dtw_published": BASELINE[0]}

    def plot(path):
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6, 5.2))
        im = ax.imshow(cm, cmap="Blues")
        for i in range(K):
            for j in range(K):
                if cm[i, j]:
                    ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=9,
                            color="white" if cm[i, j] > cm.max() / 2 else "black")
        ax.set_xticks(range(K))
        ax.set_xticklabels(classes)
        ax.set_yticks(range(K))
        ax.set_yticklabels(classes)
        ax.set_xlabel("predicted speaker")
        ax.set_ylabel("true speaker")
        ax.set_title(f"JapaneseVowels test, seed {seeds[0]}: accuracy {accs[0]:.3f}\n"
                     f"(mean over {len(seeds)} seeds {accs_arr.mean():.3f} ± {accs_arr.std():.3f}; "
                     f"1-NN DTW {BASELINE[0]})", fontsize=10)
        fig.colorbar(im, ax=ax, fraction=0.046)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)

    plural = "s" if len(seeds) > 1 else ""
    return AppResult(task="speaker id, JapaneseVowels (§5.2.2)",
                     data=describe_data(X_tr, y_tr, X_te, y_te),
                     metric=f"test accuracy (mean of {len(seeds)} seed{plural})", value=float(accs_arr.mean()),
                     baseline=BASELINE[0], baseline_name=BASELINE[1], model=first, history=history,
                     metrics=metrics, plots={"confusion.png": plot}, metadata=metadata, seconds=timer.seconds)
