"""Seed §2.3.3, the worked example, run through the public API.

x_1 = [1, 2], h_0 = 0, W_x = [[.1, .2], [.3, .4]], W_h = [[.5, .6], [.7, .8]], b = [.1, .1],
W_y = [[.9, 1.0], [1.1, 1.2]], c = [.2, .2], f = tanh.

The text cuts h_1 to [0.537, 0.833] (tanh 1.2 = 0.83365 would round to 0.834) before the output
layer, then slips in the second row: 1.2 x 0.833 = 0.9996, which it writes as 1.0, giving
y_1 = [1.5163, 1.7907]. With its cut h_1 the correct value is [1.5163, 1.7903]; with the exact
h_1 = [tanh 0.6, tanh 1.2] = [0.537050, 0.833655] it is [1.516999, 1.791141].
"""
from __future__ import annotations

import numpy as np

from ..layers import RNN, Dense
from ..model import Sequential

W_X = [[0.1, 0.2], [0.3, 0.4]]
W_H = [[0.5, 0.6], [0.7, 0.8]]
B = [0.1, 0.1]
W_Y = [[0.9, 1.0], [1.1, 1.2]]
C = [0.2, 0.2]
X1 = [1.0, 2.0]
TEXT_H1 = [0.537, 0.833]
TEXT_Y1 = [1.5163, 1.7907]


def build_model(dtype="float64") -> Sequential:
    """The text's network: a tanh RNN with 2 hidden units and a linear output layer, its weights set."""
    model = Sequential([RNN(2, return_sequences=True), Dense(2)], dtype=dtype).build(2)
    rnn_layer, dense = model.layers
    rnn_layer.params["W_x_l0"][...] = W_X
    rnn_layer.params["W_h_l0"][...] = W_H
    rnn_layer.params["b_l0"][...] = B
    rnn_layer.params["b_h_l0"][...] = 0.0
    dense.params["W_y"][...] = W_Y
    dense.params["c"][...] = C
    return model


def run():
    """(h_1, y_1) computed by rnnkit for the text's inputs."""
    model = build_model()
    x = np.array([[X1]])                       # (batch 1, time 1, features 2)
    h1 = model.layers[0].forward(x)[0, 0]
    y1 = model.predict(x)[0, 0]
    return h1, y1


def report() -> str:
    h1, y1 = run()
    return "\n".join([
        "Seed §2.3.3 worked example (tanh RNN, one step)",
        f"  h_1  rnnkit {np.array2string(h1, precision=6)}   text {TEXT_H1}",
        f"  y_1  rnnkit {np.array2string(y1, precision=6)}   text {TEXT_Y1}",
        "  The text cuts h_1 to 3 decimals (0.83365 -> 0.833) and writes 1.2 x 0.833 = 0.9996 as 1.0 "
        "in y_1's second row.",
    ])
