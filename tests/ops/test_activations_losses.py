"""Activations and losses: values against PyTorch, derivatives against finite differences, stability."""
import warnings

import numpy as np
import pytest
import torch

from rnnkit.ops import activations as A
from rnnkit.ops import losses as L
from tests.helpers.gradcheck import assert_grad_close

rng = np.random.default_rng(0)


@pytest.mark.parametrize("name, ref", [
    ("sigmoid", torch.sigmoid), ("tanh", torch.tanh), ("relu", torch.relu),
    ("leaky_relu", lambda t: torch.nn.functional.leaky_relu(t, 0.01)),
])
def test_elementwise_values_and_derivatives(name, ref):
    f, fgrad = A.get(name)
    x = rng.standard_normal(20) * 3
    x = x[np.abs(x) > 1e-3]  # keep away from the ReLU kink for finite differences
    y = f(x.copy())
    np.testing.assert_allclose(y, ref(torch.from_numpy(x)).numpy(), rtol=0, atol=1e-15)
    R = rng.standard_normal(x.shape)
    assert_grad_close(fgrad(y) * R, lambda: np.sum(f(x.copy()) * R), x, name=name)


def test_softmax_and_backward():
    x = rng.standard_normal((4, 6))
    y = A.softmax(x)
    np.testing.assert_allclose(y, torch.softmax(torch.from_numpy(x), -1).numpy(), atol=1e-15)
    np.testing.assert_allclose(A.log_softmax(x), torch.log_softmax(torch.from_numpy(x), -1).numpy(), atol=1e-14)
    R = rng.standard_normal(x.shape)
    assert_grad_close(A.softmax_backward(R, y), lambda: np.sum(A.softmax(x) * R), x, name="softmax")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stable_for_huge_inputs_and_keep_dtype(dtype):
    x = np.array([-1e4, -50, 0, 50, 1e4], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in A.ELEMENTWISE:
            y = A.get(name)[0](x.copy())
            assert y.dtype == dtype and np.isfinite(y).all(), name
        s = A.softmax(x)
        assert s.dtype == dtype and np.isfinite(s).all() and abs(s.sum() - 1) < 1e-6
        np.testing.assert_array_equal(A.sigmoid(x)[[0, -1]], [0, 1])
        logits = np.array([[1e4, -1e4], [-1e4, 1e4]], dtype=dtype)
        loss, g = L.softmax_cross_entropy(logits, np.array([0, 0]))
        assert np.isfinite(loss) and loss.dtype == dtype and g.dtype == dtype
        loss, g = L.binary_cross_entropy_with_logits(logits, np.array([[1, 0], [1, 0]], dtype=dtype))
        assert np.isfinite(loss) and loss.dtype == dtype


def test_unknown_activation_is_named():
    with pytest.raises(ValueError, match="activation: expected one of .* got 'swish'"):
        A.get("swish")


MASK = np.array([[1, 1, 0], [1, 0, 0]], dtype=bool)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("mask", [None, MASK])
def test_mse_against_torch_and_fd(reduction, mask):
    pred = rng.standard_normal((2, 3, 4))
    target = rng.standard_normal((2, 3, 4))
    loss, g = L.mse(pred, target, mask, reduction)
    m = np.ones((2, 3), bool) if mask is None else mask
    ref = torch.nn.functional.mse_loss(torch.from_numpy(pred[m]), torch.from_numpy(target[m]), reduction=reduction)
    assert abs(loss - ref.item()) < 1e-12
    assert_grad_close(g, lambda: L.mse(pred, target, mask, reduction)[0], pred, name="mse")


@pytest.mark.parametrize("mask", [None, MASK])
def test_bce_against_torch_and_fd(mask):
    logits = rng.standard_normal((2, 3, 1)) * 4
    target = rng.integers(0, 2, (2, 3, 1)).astype(float)
    loss, g = L.binary_cross_entropy_with_logits(logits, target, mask)
    m = np.ones((2, 3), bool) if mask is None else mask
    ref = torch.nn.functional.binary_cross_entropy_with_logits(torch.from_numpy(logits[m]), torch.from_numpy(target[m]))
    assert abs(loss - ref.item()) < 1e-12
    assert_grad_close(g, lambda: L.binary_cross_entropy_with_logits(logits, target, mask)[0], logits, name="bce")


@pytest.mark.parametrize("mask", [None, MASK])
def test_softmax_cross_entropy_ids_and_probabilities(mask):
    logits = rng.standard_normal((2, 3, 5)) * 3
    ids = rng.integers(0, 5, (2, 3))
    m = np.ones((2, 3), bool) if mask is None else mask
    loss, g = L.softmax_cross_entropy(logits, ids, mask)
    ref = torch.nn.functional.cross_entropy(torch.from_numpy(logits[m]), torch.from_numpy(ids[m]))
    assert abs(loss - ref.item()) < 1e-12
    assert_grad_close(g, lambda: L.softmax_cross_entropy(logits, ids, mask)[0], logits, name="ce ids")
    probs = A.softmax(rng.standard_normal((2, 3, 5)))
    loss, g = L.softmax_cross_entropy(logits, probs, mask)
    ref = torch.nn.functional.cross_entropy(torch.from_numpy(logits[m]), torch.from_numpy(probs[m]))
    assert abs(loss - ref.item()) < 1e-12
    assert_grad_close(g, lambda: L.softmax_cross_entropy(logits, probs, mask)[0], logits, name="ce probs")


def test_loss_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"target: class ids must be in \[0, 4\], got range \[0, 7\]"):
        L.softmax_cross_entropy(np.zeros((2, 5)), np.array([0, 7]))
    with pytest.raises(ValueError, match=r"target: expected shape \(2, 3\)"):
        L.mse(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"mask: expected shape \(2,\)"):
        L.mse(np.zeros((2, 3)), np.zeros((2, 3)), mask=np.ones(3, bool))
    with pytest.raises(ValueError, match="target: contains NaN"):
        L.mse(np.zeros((2, 3)), np.full((2, 3), np.nan))
    with pytest.raises(ValueError, match=r"target: binary cross-entropy needs targets in \[0, 1\]"):
        L.binary_cross_entropy_with_logits(np.zeros((2, 1)), np.array([[2.0], [0.0]]))
    with pytest.raises(ValueError, match="reduction: expected 'mean' or 'sum'"):
        L.mse(np.zeros((2, 3)), np.zeros((2, 3)), reduction="avg")
