"""Optimisers against torch.optim on the same gradients; clipping; L1/L2 penalties by finite differences."""
import numpy as np
import pytest
import torch

from rnnkit import optim
from tests.helpers.gradcheck import assert_grad_close

rng = np.random.default_rng(0)


def run_both(ours, make_torch, steps=5):
    w = {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)}
    tw = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in w.items()}
    topt = make_torch(list(tw.values()))
    for _ in range(steps):
        g = {k: rng.standard_normal(v.shape) for k, v in w.items()}
        ours.step(w, g)
        for k, t in tw.items():
            t.grad = torch.tensor(g[k])
        topt.step()
    for k in w:
        np.testing.assert_allclose(w[k], tw[k].detach().numpy(), rtol=0, atol=1e-12, err_msg=k)


def test_sgd_momentum_and_nesterov_match_torch():
    run_both(optim.SGD(0.1), lambda p: torch.optim.SGD(p, lr=0.1))
    run_both(optim.SGD(0.1, momentum=0.9), lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9))
    run_both(optim.SGD(0.1, momentum=0.9, nesterov=True),
             lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True))


def test_adam_and_adamw_match_torch():
    run_both(optim.Adam(0.01), lambda p: torch.optim.Adam(p, lr=0.01))
    run_both(optim.Adam(0.01, weight_decay=0.1), lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1))


def test_clip_by_global_norm_matches_torch():
    g = {"a": rng.standard_normal((3, 3)) * 10, "b": rng.standard_normal(5) * 10}
    ts = [torch.zeros(3, 3, dtype=torch.float64, requires_grad=True),
          torch.zeros(5, dtype=torch.float64, requires_grad=True)]
    for t, v in zip(ts, g.values()):
        t.grad = torch.tensor(v.copy())
    norm = optim.clip_by_global_norm(g, 1.0)
    tnorm = torch.nn.utils.clip_grad_norm_(ts, 1.0)
    assert abs(norm - tnorm.item()) < 1e-10
    for t, v in zip(ts, g.values()):
        np.testing.assert_allclose(v, t.grad.numpy(), atol=1e-8)  # torch adds eps 1e-6 to the norm
    assert abs(optim.global_norm(g) - 1.0) < 1e-5


def test_clip_by_value():
    g = {"a": np.array([-5.0, 0.5, 3.0])}
    optim.clip_by_value(g, 1.0)
    np.testing.assert_array_equal(g["a"], [-1.0, 0.5, 1.0])


def test_penalty_gradients_by_finite_differences():
    p = {"W": rng.standard_normal((3, 2)) + 0.1, "b": rng.standard_normal(2)}
    val, g = optim.penalty(p, l1=0.3, l2=0.7, names=["W"])
    assert set(g) == {"W"}
    assert abs(val - (0.3 * np.abs(p["W"]).sum() + 0.7 * (p["W"] ** 2).sum())) < 1e-12
    assert_grad_close(g["W"], lambda: optim.penalty(p, 0.3, 0.7, ["W"])[0], p["W"])


def test_float32_updates_stay_float32():
    w = {"W": np.ones((2, 2), np.float32)}
    for opt in (optim.SGD(0.1, momentum=0.5), optim.Adam(0.1)):
        opt.step(w, {"W": np.ones((2, 2), np.float32)})
        assert w["W"].dtype == np.float32


def test_bad_arguments():
    with pytest.raises(ValueError, match="lr: expected a number > 0, got 0.0"):
        optim.Adam(lr=0)
    with pytest.raises(ValueError, match="momentum: expected a number < 1, got 1.5"):
        optim.SGD(momentum=1.5)
    with pytest.raises(ValueError, match="optimizer: expected one of"):
        optim.get("rmsprop2")
    with pytest.raises(ValueError, match="max_norm: expected > 0"):
        optim.clip_by_global_norm({}, 0)
