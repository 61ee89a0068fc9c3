"""Inference keeps nothing for backward: ``Sequential.predict`` runs every layer's ``infer``, whose
recurrent layers call the cells with ``keep_cache=False``. The outputs must equal ``forward``'s."""
from __future__ import annotations

import numpy as np
import pytest

from rnnkit import GRU, LSTM, RNN, Dense, Sequential

MODELS = {
    "lstm": lambda: [LSTM(6), Dense(2)],
    "gru-bidirectional": lambda: [GRU(5, bidirectional=True, reset_after=True), Dense(2)],
    "rnn-deep-sequences": lambda: [RNN(4, num_layers=2, return_sequences=True), Dense(2)],
}


@pytest.mark.parametrize("kernels", ["numba", "numpy"])
@pytest.mark.parametrize("name", list(MODELS))
def test_predict_equals_forward_and_keeps_no_cache(name, kernels, monkeypatch):
    monkeypatch.setenv("RNNKIT_KERNELS", kernels)
    rng = np.random.default_rng(0)
    X = [rng.standard_normal((t, 3)) for t in (7, 3, 5, 1)]
    model = Sequential(MODELS[name](), seed=0, dtype="float64")
    model.compile(loss="mse", optimizer="adam")
    model.build(3)
    lengths = np.array([len(x) for x in X])
    padded = np.zeros((4, 7, 3))
    for i, x in enumerate(X):
        padded[i, :len(x)] = x
    reference = model.forward(padded, lengths)                     # keeps the caches
    predicted = model.predict(padded, lengths)
    if reference.ndim == 3:                                        # predict zeroes steps past a length
        reference = reference * (np.arange(7)[None, :, None] < lengths[:, None, None])
    np.testing.assert_allclose(predicted, reference, rtol=1e-13, atol=1e-13)
    with pytest.raises(ValueError, match="keep_cache=False"):     # nothing left to backpropagate
        model.backward(np.ones_like(reference))
