"""Every recipe's results-table row says what it trained on and what it held out (``AppResult.data``),
with counts taken from the data, not hard-coded.

charlm gets a real (tiny) run. The other recipes run with ``epochs=0`` (nothing trains; the row is
built by the same code as in a real run), their slow baselines replaced by stubs where they would
cost seconds; the expected counts are recomputed here from the data loaders.
"""
import numpy as np
import pytest

from rnnkit.apps import actions, adding, charlm, sentiment, speech_digits, speech_grid, speech_vowels, stocks, sunspots
from rnnkit.data import audio, classification, corpora, packages, timeseries


def _needs(loader):
    assert packages.available().get(loader), f"{loader}: data package not installed (make test installs it)"


def _says(data, trained, held):
    """``data`` names the training part, then the held-out part, with the given fragments."""
    assert "trained on" in data and "held out" in data, data
    before, after = data.split("held out", 1)
    for fragment in trained:
        assert fragment in before.split("trained on", 1)[1], (fragment, data)
    for fragment in held:
        assert fragment in after, (fragment, data)


# -- charlm: a quick run -----------------------------------------------------------------------------

def test_charlm_row_counts_the_training_plays_and_the_held_out_ones():
    _needs("load_shakespeare")
    config = {**charlm.default_config(quick=True), "hidden": 8, "embed_dim": 4, "seq_len": 16, "steps": 2,
              "eval_every": 1, "batch_size": 2, "val_chunks": 2, "val_chars": 1000, "eval_streams": 4,
              "context_positions": 20, "sample_length": 5}
    row = charlm.run(config).row()
    data = corpora.load_shakespeare()
    poems = [w for w in data.train_works if w in corpora.SHAKESPEARE_POEMS]
    plays = len(data.train_works) - len(poems)
    assert (plays, len(poems), len(data.val_works)) == (34, 5, 3)    # 37 plays + 5 poems in all
    _says(row["data"], [f"{plays} plays + {len(poems)} poems", f"({len(data.train_text):,} chars)"],
          ["Hamlet", "Twelfth Night", "Henry V", f"({len(data.val_text):,} chars; first 1,000 scored)"])
    assert "Hamlet" not in row["data"].split("held out")[0]
    full = charlm.describe_data(data)                                  # the full config scores it all
    assert full.endswith(f"({len(data.val_text):,} chars)")


# -- the other recipes, without training -------------------------------------------------------------

def test_sunspots_row(monkeypatch):
    _needs("load_sunspots")
    monkeypatch.setattr(sunspots, "arima_one_step", lambda train, test, order: np.zeros(len(test)))
    config = {**sunspots.default_config(quick=True), "epochs": 0}
    row = sunspots.run(config).row()
    series = timeseries.load_sunspots()
    tr, va, te = timeseries.chronological_split(len(series.values), (0.7, 0.15, 0.15))
    w = config["window"]
    years = series.time
    _says(row["data"], [f"{years[0]}-{years[tr.stop - 1]} ({tr.stop - w} one-step targets)"],
          [f"{years[te.start]}-{years[-1]} ({te.stop - te.start} years)"])
    assert f"validation {years[va.start]}-{years[va.stop - 1]} ({va.stop - va.start} years)" in row["data"]


def test_stocks_row():
    _needs("load_sp500")
    config = {**stocks.default_config(quick=True), "epochs": 0}
    result = stocks.run(config)
    d = timeseries.load_sp500()
    n = len(d.close) - 1                                   # returns; r[j] is the return of day j + 1
    tr, va, te = timeseries.chronological_split(n, tuple(config["fractions"]))
    first = max(config["window"], config["short_window"])
    _says(result.row()["data"], [f"{d.dates[first + 1]}..{d.dates[tr.stop]} ({tr.stop - first:,} days)"],
          [f"{d.dates[te.start + 1]}..{d.dates[-1]} ({te.stop - te.start:,} days)"])
    assert result.metrics["n_test"] == te.stop - te.start and result.metrics["n_train"] == tr.stop - first


def test_sentiment_row(monkeypatch):
    _needs("load_sentiment")
    monkeypatch.setattr(sentiment, "tfidf_baseline", lambda tr_t, tr_y, va_t, va_y, te_t, Cs, soft_targets=None:
                        (np.zeros(len(te_t), np.int64), 1.0, 0.5))
    config = {**sentiment.default_config(quick=True), "epochs": 0, "train_limit": 500}
    result = sentiment.run(config)
    d = corpora.load_sentiment(seed=config["split_seed"])
    n_val = int(round(config["val_fraction"] * (d.train_labels == 0).sum())) + \
        int(round(config["val_fraction"] * (d.train_labels == 1).sum()))
    _says(result.row()["data"], [f"500 of {len(d.train_texts) - n_val:,} (train_limit)"],
          [f"{len(d.test_texts):,} test"])
    assert f"validation {n_val:,}" in result.data
    full = sentiment.describe_data(*sentiment._split(sentiment.default_config()))
    _says(full, [f"{len(d.train_texts) - n_val:,}, "], [f"{len(d.test_texts):,} test"])


@pytest.mark.parametrize("dataset", ["basic_motions", "watch"])
def test_actions_rows(dataset):
    _needs("load_basic_motions" if dataset == "basic_motions" else "load_watch")
    config = {**actions.default_config(quick=True), "dataset": dataset, "epochs": 0}
    result = actions.run(config)
    if dataset == "basic_motions":
        n_tr, n_te = (len(classification.load_basic_motions(p).y) for p in ("train", "test"))
        trained, held = [f"{n_tr} series"], [f"{n_te} test series"]
    else:
        d = classification.load_watch()
        tr, te = classification.split_by_subject(d.subjects)
        assert sorted(set(d.subjects[te].tolist())) == [8, 9, 10]
        trained, held = [f"{len(tr)} series of subjects 1-7"], [f"{len(te)} series of subjects 8-10"]
    _says(result.row()["data"], trained, held)
    assert (result.metrics["n_train"], result.metrics["n_test"]) == (int(trained[0].split()[0]),
                                                                     int(held[0].split()[0]))


def test_speech_vowels_row():
    _needs("load_japanese_vowels")
    result = speech_vowels.run({**speech_vowels.default_config(quick=True), "epochs": 0})
    tr, te = (classification.load_japanese_vowels(p) for p in ("train", "test"))
    _says(result.row()["data"], [f"{len(tr.y)} utterances"],
          [f"{len(te.y)} test utterances of {len(set(te.y.tolist()))} speakers"])
    assert f"({len(set(tr.y.tolist()))} speakers" in result.data


def test_speech_digits_row(monkeypatch):
    if not audio.espeak_available():
        pytest.fail("espeak-ng is not installed (make system-deps installs it)")
    config = {**speech_digits.default_config(quick=True), "epochs": 0, "baseline_epochs": 0, "n_train": 6,
              "n_val": 2, "n_test": 4, "cache": False}
    corpora_read, load_corpus = {}, speech_digits.load_corpus

    cell_corpus = speech_grid.cell_corpus

    def recording_load(config, part, feature_params=None):      # the corpora the run reads
        corpora_read[part] = load_corpus(config, part, feature_params)
        return corpora_read[part]

    def recording_cell(config, cell, feature_params=None):      # the test grid reads one per condition
        corpus = cell_corpus(config, cell, feature_params)
        corpora_read.setdefault("test", corpus)
        return corpus
    monkeypatch.setattr(speech_digits, "load_corpus", recording_load)
    monkeypatch.setattr(speech_grid, "cell_corpus", recording_cell)
    result = speech_digits.run(config)
    voices = {part: corpus[2] for part, corpus in corpora_read.items()}
    assert [len(voices[p]) for p in ("train", "val", "test")] == [6, 2, 4]
    assert set(voices["test"]) <= set(speech_digits.TEST_VOICES) and not set(voices["train"]) & set(voices["test"])
    _says(result.row()["data"], [f"6 utts in {len(set(voices['train']))} voices (+2 validation)"],
          [f"4 utts in {len(set(voices['test']))} unseen voices"])


def test_adding_row():
    config = {**adding.default_config(quick=True), "epochs": 0, "clip_epochs": 0}
    result = adding.run(config)
    X, _, Xt, _ = adding._data(config, config["lengths"][0])
    _says(result.row()["data"], [f"{len(X):,} sequences per T in {config['lengths']}"],
          [f"{len(Xt):,} fresh test sequences per T"])
    assert adding.describe_data({10: (5, 2), 20: (6, 3)}) == ("synthetic adding problem: trained on 5 (T=10), "
                                                              "6 (T=20) sequences, held out 2 (T=10), 3 (T=20) "
                                                              "fresh test sequences")
