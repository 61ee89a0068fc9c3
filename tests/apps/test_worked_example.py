"""Seed §2.3.3 through the public API; expected values computed here from the text's own equations."""
import math

import numpy as np

from rnnkit.apps import worked_example as W


def test_h1_and_y1_match_the_equations():
    h1, y1 = W.run()
    a = [0.1 * 1 + 0.2 * 2 + 0.1, 0.3 * 1 + 0.4 * 2 + 0.1]          # W_x x_1 + W_h h_0 + b = [0.6, 1.2]
    h_exact = [math.tanh(a[0]), math.tanh(a[1])]
    y_exact = [0.9 * h_exact[0] + 1.0 * h_exact[1] + 0.2, 1.1 * h_exact[0] + 1.2 * h_exact[1] + 0.2]
    np.testing.assert_allclose(h1, h_exact, rtol=0, atol=1e-15)
    np.testing.assert_allclose(y1, y_exact, rtol=0, atol=1e-15)
    # the text's h_1 is the exact value cut (not rounded) to 3 decimals: tanh(1.2) = 0.83365...
    np.testing.assert_allclose(np.floor(h1 * 1000) / 1000, W.TEXT_H1, atol=1e-12)


def test_the_texts_slip_in_y1():
    h1, y1 = W.run()
    # first row agrees with the text to rounding; the second differs by the 1.2 x 0.833 -> 1.0 slip
    assert abs(y1[0] - W.TEXT_Y1[0]) < 1e-3
    assert abs(y1[1] - W.TEXT_Y1[1]) > 1e-4
    rounded = np.array(W.W_Y) @ np.array(W.TEXT_H1) + 0.2
    assert abs(rounded[1] - 1.7903) < 1e-9 and abs(rounded[1] - W.TEXT_Y1[1]) > 3e-4
