"""The sentiment (seed §5.1) and stocks (seed §5.2.1) applications, in small fast runs."""
import math

import numpy as np
import pytest

from rnnkit.apps import sentiment, stocks
from rnnkit.data import text
from rnnkit.layers import AttentionPooling
from tests.helpers.apphelpers import check_app_result


def _check_result(result, tmp_path):
    check_app_result(result, tmp_path)
    assert "val_loss" in result.history  # both apps stop early on a validation split


# -- sentiment -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sentiment_run():
    config = sentiment.default_config(quick=True)
    config.update(epochs=2, hidden=16, embed_dim=24, train_limit=2500, baseline_C=[10.0])
    return config, sentiment.run(config)


def test_sentiment_quick_run_is_sane_and_beats_chance(sentiment_run, tmp_path):
    config, result = sentiment_run
    _check_result(result, tmp_path)
    m = result.metrics
    assert m["n_test"] == 2113 and m["n_train"] == 2500
    assert result.value == m["accuracy"] > 0.6
    assert 0.7 < result.baseline == m["baseline_accuracy"] < 0.9     # TF-IDF + LR, same run
    assert result.metadata["vocab"]["format"] == "rnnkit.Vocabulary"
    assert len(result.metadata["vocab"]["tokens"]) == m["vocab_size"] <= config["max_vocab"]


def test_sentiment_predict_texts(sentiment_run):
    config, result = sentiment_run
    texts = ["A wonderful, moving film.", "Dull, tedious and far too long.", "", "zxqv unknownword"]
    p = sentiment.predict_texts(result.model, texts)          # vocabulary from model.metadata
    assert p.shape == (4,) and np.all((p >= 0) & (p <= 1))
    p2 = sentiment.predict_texts(result.model, texts, vocab=result.metadata["vocab"])
    np.testing.assert_allclose(p, p2)
    with pytest.raises(TypeError):
        sentiment.predict_texts(result.model, "one string")
    # evaluate() recomputes the run's test accuracy from the model alone
    assert sentiment.evaluate(result.model, config)["accuracy"] == pytest.approx(result.value)


def test_sentiment_vocabulary_comes_from_training_part_only():
    config = sentiment.default_config(quick=True)
    data, tr, va = sentiment._split(config)
    assert len(np.intersect1d(tr, va)) == 0
    vocab = text.Vocabulary.build([data.train_texts[i] for i in tr], min_freq=config["min_freq"],
                                      max_size=config["max_vocab"])
    assert len(vocab) <= config["max_vocab"]
    ids = sentiment.encode(vocab, ["", "good " * 100], max_len=10)
    assert ids[0].tolist() == [vocab.unk_id] and len(ids[1]) == 10


# -- stocks --------------------------------------------------------------------------------------

def test_sentiment_attention_pooling_weighs_each_word_of_each_text(tmp_path):
    """pooling=attention: the recipe's model, its weights per word (a distribution over exactly the
    words the model reads, the same as the layer computes alone), and the plot."""
    vocab = text.Vocabulary.build(["a good film", "a bad film", "good good"], min_freq=1)
    config = dict(sentiment.default_config(quick=True), pooling="attention", hidden=4, embed_dim=3)
    model = sentiment.build(config, len(vocab)).compile("binary_crossentropy", "adam")
    model.build(len(vocab))
    model.metadata = {"vocab": vocab.to_dict(), "max_len": 4}
    texts = ["A good film", "bad", "good unknownword film a good"]        # the last one cut to 4 words
    rows = sentiment.attended_words(model, texts)
    assert [r[0] for r in rows] == [["a", "good", "film"], ["bad"], ["good", "<unk>", "film", "a"]]
    pool = [layer for layer in model.layers if isinstance(layer, AttentionPooling)][0]
    recurrent = model.layers[model.layers.index(pool) - 1]
    for (tokens, w), ids in zip(rows, sentiment.encode(vocab, texts, 4)):
        assert len(w) == len(tokens) and abs(w.sum() - 1) < 1e-6 and (w > 0).all()
        hidden = recurrent.forward(model.layers[0].forward(ids[None]))   # embedding -> recurrent
        np.testing.assert_allclose(w, pool.attention(hidden)[0], rtol=1e-6)
    sentiment.plot_attended_words(model, texts, tmp_path / "a.png")
    assert (tmp_path / "a.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="no AttentionPooling"):
        sentiment.attended_words(sentiment.build(dict(config, pooling="last"), len(vocab)), texts)
    with pytest.raises(ValueError, match="pooling"):
        sentiment.build(dict(config, pooling="mean"), len(vocab))


def test_log_returns_and_windows_by_hand():
    close = np.array([100.0, 101.0, 99.0, 102.0, 103.0, 101.5])
    r = stocks.log_returns(close)
    np.testing.assert_allclose(r, np.log(close[1:] / close[:-1]))
    X, y, idx = stocks.windows(r, 3, first=3)
    assert X.shape == (2, 3, 1) and idx.tolist() == [3, 4]
    # target r[3] = log(P4/P3); its window: r[0..2] = the returns of days 1, 2, 3
    np.testing.assert_allclose(y[0], math.log(103.0 / 102.0))
    np.testing.assert_allclose(X[0, :, 0], [math.log(101 / 100), math.log(99 / 101), math.log(102 / 99)])
    X2, y2, idx2 = stocks.windows(r, 2, first=3)              # same targets for a shorter window
    assert idx2.tolist() == idx.tolist()
    np.testing.assert_allclose(y2, y)
    np.testing.assert_allclose(X2[:, :, 0], X[:, 1:, 0])


def test_stock_window_from_the_right_days():
    config = stocks.default_config(quick=True)
    data, r, (tr, va, te), scaler, first = stocks.prepare(config)
    P = data.close.astype(np.float64)
    w = config["window"]
    X, y, idx = stocks.windows(r, w, first)
    k = int(np.flatnonzero(idx == te.start)[0])                # the first test target
    t = te.start + 1                                           # its day in the price series
    assert y[k] == pytest.approx(math.log(P[t] / P[t - 1]))
    for j in range(w):                                         # X[k, j] = return of day t - w + j
        day = t - w + j
        assert X[k, j, 0] == pytest.approx(math.log(P[day] / P[day - 1]))
    assert data.dates[t] > data.dates[t - 1]
    # the scaler saw training days only
    assert scaler.mean == pytest.approx(float(r[tr].mean()))


@pytest.fixture(scope="module")
def stocks_run():
    config = stocks.default_config(quick=True)
    config.update(epochs=2, hidden=4)
    return config, stocks.run(config)


def test_stocks_quick_run_reports_both_windows_and_baselines(stocks_run, tmp_path):
    config, result = stocks_run
    _check_result(result, tmp_path)
    m = result.metrics
    assert m["windows"] == [3, 20]
    for key in ("zero", "persistence", "mean", "rnn_w3", "ar_w3", "rnn_w20", "ar_w20"):
        assert math.isfinite(m[f"{key}_rmse"]) and math.isfinite(m[f"{key}_mae"]), key
    assert set(m["beats_zero_forecast"]) == {"w3", "w20"}
    assert m["beats_zero_forecast"]["w20"] == (m["rnn_w20_rmse"] < m["zero_rmse"])
    assert result.value == m["rnn_w20_rmse"]
    # the AppResult baseline is the strongest simple one
    simple = [m["zero_rmse"], m["persistence_rmse"], m["mean_rmse"], m["ar_w3_rmse"], m["ar_w20_rmse"]]
    assert result.baseline == min(simple)
    assert m["n_test"] == 755 and m["test_dates"][1] == "2018-12-31"
    # zero forecast RMSE is just the test returns' root mean square: a fixed, checkable number
    assert 0.007 < m["zero_rmse"] < 0.01
    ev = stocks.evaluate(result.model, config)
    assert ev["rmse"] == pytest.approx(result.value, rel=1e-6)
    assert ev["zero_rmse"] == pytest.approx(m["zero_rmse"])


# -- run folders: the saved model carries what the app needs -------------------------------------

def test_sentiment_run_folder_round_trip(sentiment_run, tmp_path):
    from rnnkit.cli import write_run
    from rnnkit.model import Sequential
    config, result = sentiment_run
    out = write_run(result, config, "sentiment", tmp_path / "run")
    loaded = Sequential.load(out / "model.npz")
    texts = ["A wonderful, moving film.", "Dull, tedious and far too long."]
    np.testing.assert_allclose(sentiment.predict_texts(loaded, texts),
                               sentiment.predict_texts(result.model, texts), rtol=1e-6)
    assert sentiment.evaluate(loaded, config)["accuracy"] == pytest.approx(result.value)


def test_stocks_run_folder_round_trip(stocks_run, tmp_path):
    from rnnkit.cli import write_run
    from rnnkit.model import Sequential
    config, result = stocks_run
    out = write_run(result, config, "stocks", tmp_path / "run")
    loaded = Sequential.load(out / "model.npz")
    assert loaded.metadata["window"] == config["window"]
    assert stocks.evaluate(loaded, config)["rmse"] == pytest.approx(result.value, rel=1e-6)
