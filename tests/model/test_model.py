"""Sequential: training, ragged input, per-step targets, the feed-forward baseline, guard rails,
``compute_gradients``, the public ``forward``, ``get_config`` / ``from_config`` and metrics."""
import json

import numpy as np
import pytest

from rnnkit import optim
from rnnkit.callbacks import EarlyStopping
from rnnkit.layers import GRU, LSTM, RNN, Dense, Embedding, Recurrent
from rnnkit.model import Sequential, TrainingError, feedforward
from tests.helpers.gradcheck import assert_grad_close

rng = np.random.default_rng(0)


def sum_task(n=256, T=8):
    X = rng.standard_normal((n, T, 1)).astype(np.float32)
    return X, X.sum(axis=1)


def test_fit_reduces_loss_and_keeps_float32():
    X, y = sum_task()
    model = Sequential([RNN(16), Dense(1)], seed=0).compile("mse", "adam", lr=1e-2, metrics=["mae"])
    h = model.fit(X, y, epochs=15, batch_size=32, verbose=0)
    assert h.history["loss"][-1] < 0.2 * h.history["loss"][0]
    assert model.predict(X[:4]).dtype == np.float32
    assert all(v.dtype == np.float32 for v in model.get_weights().values())
    assert set(h.history) >= {"loss", "mae", "lr"}


def test_model_gradient_end_to_end_with_ragged_lengths():
    """The whole stack's gradient (embedding -> deep bi-GRU -> dense -> loss) by finite differences,
    through the public ``compute_gradients``."""
    model = Sequential([Embedding(6, 3), GRU(3, num_layers=2, bidirectional=True), Dense(2)],
                       dtype="float64").compile("crossentropy")
    X = [np.array([1, 2, 3]), np.array([4]), np.array([5, 1])]
    y = np.array([0, 1, 1])

    def loss():
        return model.compute_gradients(X, y)[0]

    _, grads = model.compute_gradients(X, y)
    params = model._params()
    assert sorted(grads) == sorted(params)
    for k, p in params.items():
        assert_grad_close(grads[k], loss, p, name=k)


def test_compute_gradients_per_step_targets_with_penalty_by_finite_differences():
    """Ragged per-step targets (a list), masked loss, and the L1/L2 penalty on the chosen weights."""
    r = np.random.default_rng(2)
    X = [r.standard_normal((t, 2)) for t in (4, 1, 3)]
    y = [r.standard_normal((t, 2)) for t in (4, 1, 3)]
    model = Sequential([LSTM(3, bidirectional=True, return_sequences=True), Dense(2)],
                       dtype="float64").compile("mse", l1=0.01, l2=0.05)
    model.build(2)
    loss, grads = model.compute_gradients(X, y)
    for k, p in model._params().items():
        assert_grad_close(grads[k], lambda: model.compute_gradients(X, y)[0], p, name=k)
    padded_y = np.zeros((3, 4, 2))
    for i, t in enumerate(y):
        padded_y[i, :len(t)] = t
    padded_X = np.zeros((3, 4, 2))
    for i, x in enumerate(X):
        padded_X[i, :len(x)] = x
    loss2, grads2 = model.compute_gradients(padded_X, padded_y, lengths=np.array([4, 1, 3]))
    assert loss2 == pytest.approx(loss, rel=1e-13)            # a padded array with lengths: the same batch
    for k in grads:
        np.testing.assert_allclose(grads2[k], grads[k], rtol=1e-12, atol=1e-15, err_msg=k)


def test_compute_gradients_changes_no_weights_and_returns_copies():
    X, y = sum_task(32)
    model = Sequential([GRU(4, recurrent_dropout=0.3), Dense(1)], seed=0).compile("mse", "adam")
    with pytest.raises(RuntimeError, match=r"compute_gradients: call compile\(loss=...\) first"):
        Sequential([RNN(2), Dense(1)]).compute_gradients(X, y)
    model.build(1)
    W0 = model.get_weights()
    loss, grads = model.compute_gradients(X, y, training=False)
    loss2, grads2 = model.compute_gradients(X, y, training=False)
    assert np.isfinite(loss) and loss == loss2
    for k, v in model.get_weights().items():
        np.testing.assert_array_equal(v, W0[k], err_msg=k)
    assert model.optimizer.iterations == 0
    for k, g in grads.items():
        assert g.dtype == np.float32 and g.shape == W0[k].shape
        np.testing.assert_array_equal(g, grads2[k])
        g[...] = 0                                                 # the caller's copies, not the layers'
    assert any(model._grads()[k].any() for k in grads)
    # training=True turns the recurrent dropout on: a different, still finite, loss
    assert np.isfinite(model.compute_gradients(X, y)[0]) and model.compute_gradients(X, y)[0] != loss


def test_forward_is_public_and_validates():
    model = Sequential([LSTM(3, return_sequences=True), Dense(2)], dtype="float64").build(2)
    X = [np.ones((3, 2)), np.ones((1, 2))]
    out = model.forward(X)
    assert out.shape == (2, 3, 2)
    padded = np.zeros((2, 3, 2))
    padded[0], padded[1, :1] = 1, 1
    np.testing.assert_array_equal(model.forward(padded, lengths=np.array([3, 1])), out)
    np.testing.assert_array_equal(model._forward(padded, np.array([3, 1]), False), out)
    with pytest.raises(ValueError, match="X: contains NaN or inf"):
        model.forward(np.full((1, 3, 2), np.nan))
    with pytest.raises(ValueError, match="the model was built for 2 input features, got 4"):
        model.forward(np.zeros((1, 3, 4)))
    with pytest.raises(ValueError, match="lengths: give lengths only with a padded array"):
        model.forward(X, lengths=np.array([3, 1]))


def test_get_config_from_config_round_trip():
    model = Sequential([Embedding(9, 4), LSTM(5, bidirectional=True, return_sequences=True, dropout=0.0),
                        Recurrent(3, cell="gru", reset_after=True), Dense(2, "tanh")], seed=4, dtype="float64")
    model.compile("crossentropy", optim.SGD(0.05, momentum=0.5), metrics=["accuracy"], clip_norm=1.0, l2=1e-3)
    model.build(9)
    config = model.get_config()
    assert set(config) == {"layers", "dtype", "seed", "input_size", "compile", "classes"}
    assert json.loads(json.dumps(config)) == config              # plain JSON data
    assert [spec["class"] for spec in config["layers"]] == ["Embedding", "LSTM", "Recurrent", "Dense"]
    assert config["layers"][2]["config"]["cell"] == "gru" and config["layers"][2]["config"]["reset_after"] is True
    clone = Sequential.from_config(config)
    assert clone.get_config() == config
    assert [type(l) for l in clone.layers] == [type(l) for l in model.layers]
    assert clone.input_size == 9 and clone.dtype == np.float64 and clone.loss == "crossentropy"
    assert clone.optimizer.get_config() == model.optimizer.get_config()
    W, W2 = model.get_weights(), clone.get_weights()             # the same seed: the same fresh weights
    assert list(W) == list(W2) and all(np.array_equal(W[k], W2[k]) for k in W)
    X = [np.array([1, 2, 3]), np.array([8])]
    np.testing.assert_array_equal(clone.predict(X), model.predict(X))
    unbuilt = Sequential.from_config(Sequential([RNN(2), Dense(1)], seed=None).get_config())
    assert unbuilt.input_size is None and unbuilt.loss is None and unbuilt.seed is None
    bad = dict(config, layers=[{"class": "NoSuchLayer", "config": {}}])
    with pytest.raises(ValueError, match="unknown layer class 'NoSuchLayer'"):
        Sequential.from_config(bad)
    bad = dict(config, layers=[{"class": "GRU", "config": {"hidden_size": 3, "cell": "lstm"}}])
    with pytest.raises(ValueError, match=r"config keys not accepted by GRU: \['cell'\]"):
        Sequential.from_config(bad)


def test_metrics_get_the_mask_of_counted_steps():
    """A metric is ``fn(out, y, mask, loss)``: ``mask`` marks the counted steps of per-step outputs."""
    seen = []

    def spy(out, y, mask, loss):
        seen.append((out.shape, None if mask is None else mask.copy(), loss))
        return 0.0

    X = [np.ones((3, 1), np.float32), np.ones((1, 1), np.float32)]
    y = [np.zeros(3, np.int64), np.zeros(1, np.int64)]
    model = Sequential([RNN(2, return_sequences=True), Dense(2)]).compile("crossentropy",
                                                                          metrics=[spy, "accuracy"])
    logs = model.evaluate(X, y)
    assert set(logs) == {"loss", spy, "accuracy"}
    (shape, mask, loss), = seen
    assert shape == (2, 3, 2) and loss == "crossentropy"
    np.testing.assert_array_equal(mask, [[True, True, True], [True, False, False]])
    seen.clear()
    model.evaluate(np.ones((2, 3, 1), np.float32), np.zeros((2, 3), np.int64))
    assert seen[0][1] is None                                      # every step counts: no mask


def test_ragged_lists_and_padded_arrays_agree():
    seqs = [rng.standard_normal((t, 2)).astype(np.float32) for t in (5, 1, 3, 4)]
    model = Sequential([LSTM(4), Dense(1)]).compile("mse")
    a = model.predict(seqs)
    padded = np.zeros((4, 5, 2), np.float32)
    for i, s in enumerate(seqs):
        padded[i, :len(s)] = s
    b = model.predict(padded, lengths=np.array([5, 1, 3, 4]))
    np.testing.assert_allclose(a, b, atol=1e-6)
    single = model.predict(seqs[2][None])
    np.testing.assert_allclose(a[2], single[0], atol=1e-6)


def test_per_step_targets_many_to_many():
    # label each step with whether the running sum is positive: needs memory, per time step
    X = [rng.standard_normal((t, 1)).astype(np.float32) for t in rng.integers(3, 12, 300)]
    Y = [(np.cumsum(x[:, 0]) > 0).astype(np.int64) for x in X]
    model = Sequential([GRU(16, return_sequences=True), Dense(2)]).compile(
        "crossentropy", "adam", lr=1e-2, metrics=["accuracy"])
    h = model.fit(X, Y, epochs=12, batch_size=32, verbose=0)
    assert h.history["accuracy"][-1] > 0.9
    pred = model.predict_classes(X[:5])
    assert pred.shape == (5, max(len(x) for x in X[:5]))


def test_feedforward_baseline_has_no_state():
    X, y = sum_task(T=4)
    ff = feedforward(16, 1, window=4).compile("mse", "adam", lr=1e-2)
    h = ff.fit(X, y, epochs=30, batch_size=32, verbose=0)
    assert h.history["loss"][-1] < 0.1 * h.history["loss"][0]  # a sum over a fixed window is linear
    with pytest.raises(ValueError, match="Flatten needs sequences of one fixed length"):
        ff.predict(X[:2], lengths=np.array([4, 2]))


def test_early_stopping_restores_best_weights():
    X, y = sum_task(64)
    model = Sequential([RNN(8), Dense(1)]).compile("mse", "sgd", lr=1e-3)
    es = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    model.fit(X, y, epochs=50, batch_size=16, validation_data=(X[:16], y[:16]), callbacks=[es], verbose=0)
    best = model.evaluate(X[:16], y[:16])["loss"]
    assert abs(best - es.best) < 1e-5


def test_nan_loss_stops_and_keeps_last_good_weights():
    X, y = sum_task(64)
    model = Sequential([RNN(8, nonlinearity="relu"), Dense(1)]).compile("mse", "sgd", lr=1e3)
    with pytest.raises(TrainingError, match="the weights are the last good ones"):
        model.fit(X, y * 1e3, epochs=20, batch_size=8, verbose=0)
    assert all(np.isfinite(v).all() for v in model.get_weights().values())


@pytest.mark.parametrize("X, y, match", [
    (np.zeros((4, 5, 2)), np.zeros((3, 1)), r"y: expected 4 targets \(one per input sequence\), got 3"),
    (np.zeros((4, 5, 2)), np.zeros((4, 7)), r"y: expected shape \(4, 1\) for this model's output, got \(4, 7\)"),
    ([np.zeros((2, 2)), np.zeros((0, 2))], np.zeros(2), r"X\[1\]: empty sequence"),
    (np.full((4, 5, 2), np.nan), np.zeros(4), "X: contains NaN or inf"),
    (np.zeros((4, 5, 2)), np.full(4, np.inf), "y: contains NaN or inf"),
    (np.array([["a"]]), np.zeros(1), "X: expected numbers"),
])
def test_bad_fit_inputs_fail_before_training(X, y, match):
    model = Sequential([RNN(4), Dense(1)]).compile("mse")
    with pytest.raises((ValueError, TypeError), match=match):
        model.fit(X, y, epochs=1, verbose=0)


def test_feature_mismatch_and_label_range():
    model = Sequential([RNN(4), Dense(3)]).compile("crossentropy")
    model.fit(np.zeros((2, 3, 2)), np.array([0, 2]), verbose=0)
    with pytest.raises(ValueError, match="the model was built for 2 input features, got 5"):
        model.predict(np.zeros((2, 3, 5)))
    with pytest.raises(ValueError, match=r"y: class ids must be in \[0, 2\] \(the model has 3 outputs\), "
                                         r"got range \[0, 3\]"):
        model.fit(np.zeros((2, 3, 2)), np.array([0, 3]), verbose=0)
    with pytest.raises(ValueError, match=r"lengths: lengths must be <= the padded time axis \(3\), got max 4"):
        model.predict(np.zeros((2, 3, 2)), lengths=np.array([1, 4]))


def test_same_seed_same_history():
    X, y = sum_task(64)
    runs = []
    for _ in range(2):
        m = Sequential([LSTM(8), Dense(1)], seed=3).compile("mse", "adam", lr=1e-2)
        runs.append(m.fit(X, y, epochs=3, batch_size=16, validation_split=0.25, verbose=0).history)
    assert runs[0] == runs[1]


def test_summary_lists_layers_and_counts():
    model = Sequential([Embedding(100, 8), LSTM(16, bidirectional=True), Dense(1)]).build(100)
    text = model.summary(print_fn=None)
    assert "(B, T, 8)" in text and "(B, 32)" in text
    assert f"total parameters: {model.num_params():,}" in text
    assert model.num_params() == 800 + 2 * (4 * 16 * (8 + 16) + 2 * 64) + 33


def test_lstm_classifier_on_real_speech_reaches_stated_accuracy():
    """End to end on real data: JapaneseVowels (9 speakers, 270 train / 370 test, official split).

    Stated target: >= 0.93 held-out accuracy with this small LSTM and 15 epochs (measured 0.968).
    """
    from rnnkit.data.classification import load_japanese_vowels
    tr, te = load_japanese_vowels("train"), load_japanese_vowels("test")
    frames = np.concatenate(tr.X)
    mu, sd = frames.mean(0), frames.std(0)
    model = Sequential([LSTM(32), Dense(9)], seed=0).compile("crossentropy", "adam", lr=1e-2,
                                                              metrics=["accuracy"])
    model.fit([(x - mu) / sd for x in tr.X], tr.y, epochs=15, batch_size=32, verbose=0)
    acc = model.evaluate([(x - mu) / sd for x in te.X], te.y)["accuracy"]
    assert acc >= 0.93, acc


def test_l2_on_chosen_parameters_only():
    X, y = sum_task(64)
    base = Sequential([RNN(8), Dense(1)], seed=1).compile("mse", "sgd", lr=1e-2)
    pen = Sequential([RNN(8), Dense(1)], seed=1).compile("mse", "sgd", lr=1e-2, l2=0.5, regularize=["*W_y"])
    base.fit(X, y, epochs=1, batch_size=64, shuffle=False, verbose=0)
    pen.fit(X, y, epochs=1, batch_size=64, shuffle=False, verbose=0)
    wb, wp = base.get_weights(), pen.get_weights()
    np.testing.assert_array_equal(wb["0.W_h_l0"], wp["0.W_h_l0"])      # not chosen: untouched
    assert np.abs(wp["1.W_y"]).sum() < np.abs(wb["1.W_y"]).sum()       # chosen: shrunk
    with pytest.raises(ValueError, match="regularize: no parameter matches"):
        Sequential([RNN(8), Dense(1)]).compile("mse", l2=0.1, regularize=["*nothing*"]).fit(X, y, verbose=0)


def test_predict_is_zero_past_each_length_whatever_the_head():
    model = Sequential([RNN(3, return_sequences=True), Dense(1)]).compile("binary_crossentropy").build(2)
    model.layers[1].params["c"][:] = 5.0          # a head that is non-zero on zero input
    X = [np.ones((4, 2), np.float32), np.ones((1, 2), np.float32)]
    out = model.predict(X)
    np.testing.assert_array_equal(out[1, 1:], 0)
    np.testing.assert_allclose(out[1, :1], model.predict(X[1:])[0, :1], atol=1e-6)


def test_ragged_per_step_targets_must_match_input_lengths():
    X = [np.zeros((2, 1)), np.zeros((4, 1)), np.zeros((3, 1))]
    y = [np.zeros(4, int), np.zeros(2, int), np.zeros(3, int)]
    model = Sequential([RNN(3, return_sequences=True), Dense(2)]).compile("crossentropy")
    with pytest.raises(ValueError, match=r"y\[0\]: expected 2 per-step targets \(one per step of X\[0\]\), got 4"):
        model.fit(X, y, verbose=0)


def test_lr_in_two_places_and_missing_validation_are_refused_before_training():
    from rnnkit.callbacks import ReduceLROnPlateau
    with pytest.raises(ValueError, match="lr: given as 0.5 and inside the optimizer"):
        Sequential([RNN(3), Dense(1)]).compile("mse", optim.SGD(0.01), lr=0.5)
    X, y = sum_task(16)
    model = Sequential([RNN(3), Dense(1)]).compile("mse")
    for cb in (EarlyStopping(), ReduceLROnPlateau()):
        with pytest.raises(ValueError, match="monitors 'val_loss', but fit has no validation data"):
            model.fit(X, y, callbacks=[cb], verbose=0)
    with pytest.raises(TypeError, match="lengths: expected integers"):
        model.predict(X[:2], lengths=np.array([2.5, 4.0]))
