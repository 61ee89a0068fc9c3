"""``channels_first`` in fit / evaluate / predict / predict_proba / predict_classes: True reads
(N, C, T) arrays and lists of (C, T_i); None refuses a 3-D array that looks channels-first, naming the
transposition; False takes the array as it is."""
import numpy as np
import pytest

from rnnkit import GRU, LSTM, Dense, Embedding, Sequential

rng = np.random.default_rng(11)
X = rng.standard_normal((6, 7, 3)).astype(np.float32)         # (N, T, C)
XT = np.ascontiguousarray(X.transpose(0, 2, 1))                # (N, C, T), built independently of rnnkit
Y = np.array([0, 1, 0, 1, 1, 0])
LENGTHS = np.array([7, 3, 5, 7, 2, 4])


def model():
    return Sequential([GRU(4), Dense(2)], seed=0).compile("crossentropy", metrics=["accuracy"])


def test_true_reads_channels_first_arrays_and_lists():
    m = model().build(3)
    np.testing.assert_array_equal(m.predict(XT, channels_first=True), m.predict(X))
    np.testing.assert_array_equal(m.predict(XT, LENGTHS, channels_first=True), m.predict(X, LENGTHS))
    ragged = [XT[i, :, :n] for i, n in enumerate(LENGTHS)]     # (C, T_i)
    np.testing.assert_array_equal(m.predict(ragged, channels_first=True), m.predict(X, LENGTHS))
    np.testing.assert_array_equal(m.predict_proba(XT, channels_first=True), m.predict_proba(X))
    np.testing.assert_array_equal(m.predict_classes(XT, channels_first=True), m.predict_classes(X))
    assert m.evaluate(XT, Y, LENGTHS, channels_first=True) == m.evaluate(X, Y, LENGTHS)


def test_fit_with_channels_first_equals_fit_on_the_transposed_data():
    a, b = model(), model()
    ha = a.fit(XT, Y, epochs=2, validation_data=(XT, Y), lengths=LENGTHS, channels_first=True, verbose=0)
    hb = b.fit(X, Y, epochs=2, validation_data=(X, Y), lengths=LENGTHS, verbose=0)
    assert ha.history == hb.history and a.input_size == 3


def test_auto_refuses_arrays_that_look_channels_first():
    m = model().build(3)
    with pytest.raises(ValueError, match=r"X: shape \(6, 3, 7\) looks channels-first .* pass channels_first=True "
                                         r"or X.transpose\(0, 2, 1\)"):
        m.predict(XT)
    with pytest.raises(ValueError, match=r"shape \(6, 3, 7\) looks channels-first"):
        m.fit(XT, Y, verbose=0)
    univariate = Sequential([LSTM(2), Dense(1)]).compile("mse")   # unbuilt: one step of 7 features
    with pytest.raises(ValueError, match=r"X: shape \(6, 1, 7\) looks channels-first"):
        univariate.fit(X[:, :, :1].transpose(0, 2, 1), Y.astype(float), verbose=0)
    assert univariate.input_size is None
    univariate.fit(X[:, :, :1].transpose(0, 2, 1), Y.astype(float), channels_first=True, verbose=0)
    assert univariate.input_size == 1


def test_false_never_checks_and_square_or_fitting_arrays_pass():
    one_step = Sequential([LSTM(2), Dense(1)]).compile("mse")
    one_step.fit(X[:, :1], Y.astype(float), channels_first=False, verbose=0)    # really (N, 1, 3)
    assert one_step.input_size == 3
    assert one_step.predict(X[:, :1]).shape == (6, 1)     # built for 3 features: (6, 1, 3) fits as it is
    m = model().build(3)
    square = rng.standard_normal((2, 3, 3)).astype(np.float32)
    assert m.predict(square).shape == (2, 2)


def test_bad_uses_of_channels_first():
    m = model().build(3)
    with pytest.raises(ValueError, match=r"channels_first=True expects a \(batch, channels, time\) array, "
                                         r"got shape \(6, 7\)"):
        m.predict(X[:, :, 0], channels_first=True)
    with pytest.raises(ValueError, match=r"X\[0\]: channels_first=True expects \(channels, time\) arrays"):
        m.predict([np.ones(4)], channels_first=True)
    with pytest.raises(TypeError, match="channels_first: expected True, False or None"):
        m.predict(X, channels_first="yes")
    tokens = Sequential([Embedding(5, 2), GRU(2), Dense(1)]).compile("mse")
    with pytest.raises(ValueError, match="the model starts with an Embedding and reads token ids"):
        tokens.predict(np.array([[1, 2, 3]]), channels_first=True)
