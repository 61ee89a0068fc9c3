"""Bad input to the model API: a ValueError or TypeError naming the argument, never a bare IndexError
or a Python-internal message, and the model left exactly as it was."""
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnkit.layers import GRU, LSTM, Dense
from rnnkit.model import Sequential


def regressor(built=True):
    model = Sequential([GRU(4), Dense(1)], seed=0).compile("mse", "adam")
    if built:
        model.build(3)
    return model


X = np.random.default_rng(0).standard_normal((6, 5, 3))
Y = np.random.default_rng(1).standard_normal(6)


@pytest.mark.parametrize("call,exc,pattern", [
    (lambda m: m.fit("hello", Y, verbose=0), TypeError, r"X: expected .* got str"),
    (lambda m: m.fit(None, Y, verbose=0), TypeError, r"X: expected .* got NoneType"),
    (lambda m: m.predict("abc"), TypeError, r"X: expected .* got str"),
    (lambda m: m.fit(["ab", "cd"], Y[:2], verbose=0), TypeError, r"X\[0\]: expected an array of numbers"),
    (lambda m: m.predict(X, batch_size=0), ValueError, r"batch_size: expected an integer >= 1, got 0"),
    (lambda m: m.fit(X, Y, batch_size=2.5, verbose=0), TypeError, r"batch_size: expected an integer, got 2.5"),
    (lambda m: m.fit(X, Y, epochs="ten", verbose=0), TypeError, r"epochs: expected an integer, got 'ten'"),
    (lambda m: m.fit(X, None, verbose=0), TypeError, r"y: expected an array or list of targets"),
    (lambda m: m.fit(X, 3.0, verbose=0), ValueError, r"y: expected 6 targets .* got a scalar"),
    (lambda m: m.fit(X, Y, validation_split=1.5, verbose=0), ValueError, r"validation_split"),
    (lambda m: m.fit(X, Y, validation_data=X, verbose=0), TypeError, r"validation_data: expected a tuple"),
    (lambda m: m.predict(np.ones(5)), ValueError, r"one univariate sequence is X\[None, :, None\]"),
])
def test_messages_name_the_argument(call, exc, pattern):
    for built in (False, True):
        model = regressor(built)
        before = model.get_weights()
        with pytest.raises(exc, match=pattern):
            call(model)
        after = model.get_weights()
        assert sorted(before) == sorted(after) and all(np.array_equal(before[k], after[k]) for k in before)


def test_a_list_of_1d_series_is_univariate_sequences():
    model = regressor(built=False)
    series = [np.arange(5.0), np.arange(3.0), np.arange(4.0)]
    model.fit(series, np.array([1.0, 2.0, 3.0]), epochs=1, verbose=0)
    assert model.input_size == 1
    np.testing.assert_allclose(model.predict(series), model.predict([s[:, None] for s in series]))


def test_float_class_ids_are_read_as_ids():
    model = Sequential([LSTM(3), Dense(2)], seed=0).compile("crossentropy")
    model.fit(X, np.array([0., 1., 1., 0., 1., 0.]), epochs=1, verbose=0)
    # floats that are not whole numbers are labels (rnnkit._labels): three of them do not fit two outputs
    with pytest.raises(ValueError, match=r"3 classes \[0.0, 0.5, 1.0\], but the model has 2 outputs"):
        model.fit(X, np.array([0.5, 1., 1., 0., 1., 0.]), epochs=1, verbose=0)


def test_a_failed_fit_leaves_the_model_unbuilt():
    model = regressor(built=False)
    with pytest.raises(ValueError, match="expects input with a time axis"):
        model.fit(np.ones((6, 5)), Y, verbose=0)           # 2-D into a recurrent layer
    assert model.input_size is None and not any(layer.built for layer in model.layers)
    model.fit(np.ones((6, 5, 1)), Y, epochs=1, verbose=0)  # the corrected call works
    assert model.input_size == 1
    fresh = regressor(built=False)
    fresh.fit(np.ones((6, 5, 1)), Y, epochs=1, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights().values(), fresh.get_weights().values()))


def test_step_refuses_another_dtype():
    layer = GRU(4)
    layer.build(3)
    with pytest.raises(TypeError, match="x_t: expected dtype float32"):
        layer.step(np.ones((1, 3), np.float64))


def test_ctc_targets_that_cannot_be_aligned():
    model = Sequential([GRU(6, return_sequences=True), Dense(4)], seed=0).compile("ctc")
    Xc = np.random.default_rng(0).standard_normal((4, 5, 2))
    # 6 labels in 5 frames, and 3 labels with two repeats (needs 5 frames) in 5: impossible / possible
    with pytest.raises(ValueError, match=r"no sample can be aligned by CTC.*sample 0: 6 frames needed.*5 given"):
        model.fit(Xc, [[1, 2, 3, 1, 2, 3]] * 4, verbose=0)
    labels = [[1, 2, 3, 1, 2, 3], [1, 1, 1], [1, 2], [3, 3, 3]]
    with pytest.warns(UserWarning, match=r"1 of 4 samples cannot be aligned by CTC.*indices 0"):
        h = model.fit(Xc, labels, epochs=2, verbose=0)
    assert h.history["ctc_impossible"] == [1, 1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h = model.fit(Xc, labels[1:] + [[2]], epochs=1, verbose=0)
    assert h.history["ctc_impossible"] == [0]


BAD_X = st.one_of(
    st.none(), st.text(max_size=4), st.integers(), st.floats(),
    st.lists(st.text(max_size=3), min_size=1, max_size=3),
    st.lists(st.lists(st.floats(allow_nan=True), max_size=3), max_size=3),
    st.builds(lambda shape, fill: np.full(shape, fill),
              st.lists(st.integers(0, 4), min_size=0, max_size=4).map(tuple),
              st.sampled_from([0.0, np.nan, np.inf, 1, "a", True])),
)


@settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(x=BAD_X, method=st.sampled_from(["fit", "predict", "evaluate"]), built=st.booleans())
def test_random_bad_inputs_raise_named_errors_and_change_nothing(x, method, built):
    model = regressor(built)
    before = model.get_weights()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if method == "fit":
                n = len(x) if isinstance(x, (list, np.ndarray)) and np.ndim(x) > 0 else 1
                model.fit(x, np.zeros(max(n, 1)), verbose=0)
            elif method == "evaluate":
                model.evaluate(x, np.zeros(3))
            else:
                model.predict(x)
    except (ValueError, TypeError) as e:
        assert any(name in str(e) for name in ("X", "y", "lengths", "x")), str(e)
        after = model.get_weights()
        assert sorted(after) == sorted(before)
        assert all(np.array_equal(before[k], after[k]) for k in before)
        assert built or model.input_size is None


def test_a_list_of_rows_feeds_a_model_without_time_axis():
    model = Sequential([Dense(1)], seed=0)
    assert model.predict([[1., 2., 3.], [4., 5., 6.]]).shape == (2, 1)
    with pytest.raises(ValueError, match="rows of different lengths"):
        model.predict([[1., 2., 3.], [4., 5.]])


def test_a_layer_built_on_float64_data_joins_a_float32_model_and_saves(tmp_path):
    x = np.random.default_rng(0).standard_normal((4, 5, 3))
    gru = GRU(4)
    gru.forward(x)                                         # builds itself as float64
    model = Sequential([gru, Dense(1)], seed=0).compile("mse", "adam")
    model.fit(x, np.ones(4), epochs=1, verbose=0)
    assert all(w.dtype == np.float32 for w in model.get_weights().values())
    model.save(tmp_path / "m.npz")
    np.testing.assert_array_equal(Sequential.load(tmp_path / "m.npz").predict(x), model.predict(x))
