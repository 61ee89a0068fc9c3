"""``fit(sample_weight=..., class_weight=...)``: the training loss is the weighted mean
sum(w l) / sum(w) (PyTorch's ``CrossEntropyLoss(weight=...)`` convention), checked against PyTorch in
float64 and by finite differences; validation stays unweighted; bad weights are refused."""
import numpy as np
import pytest

from rnnkit import LSTM, Dense, Sequential, distributed, optim
from tests.helpers.gradcheck import numerical_grad, rel_error

rng = np.random.default_rng(3)
X = rng.standard_normal((12, 5))
Y = np.array([0, 0, 1, 2, 0, 1, 0, 2, 0, 0, 1, 2])            # counts 6, 3, 3
SW = rng.uniform(0.2, 2.0, 12)


def mlp(outputs, loss):
    model = Sequential([Dense(4, "tanh"), Dense(outputs)], seed=1, dtype="float64")
    return model.compile(loss, optim.SGD(1.0)).build(5)


def one_step(model, X, y, **kw):
    """(loss, gradient) of one full-batch step: with SGD(lr=1) the step is minus the gradient."""
    before = model.get_weights()
    h = model.fit(X, y, epochs=1, batch_size=len(X), shuffle=False, verbose=0, **kw)
    after = model.get_weights()
    return h.history["loss"][0], {k: before[k] - after[k] for k in before}


def torch_step(torch, weights, X, per_row_loss):
    """(loss, grads) of torch's copy of ``mlp``: ``per_row_loss(out)`` gives the reduced loss."""
    p = {k: torch.tensor(v, requires_grad=True) for k, v in weights.items()}
    out = torch.tanh(torch.tensor(X) @ p["0.W_y"].T + p["0.c"]) @ p["1.W_y"].T + p["1.c"]
    loss = per_row_loss(out)
    loss.backward()
    return loss.item(), {k: v.grad.numpy() for k, v in p.items()}


def assert_same(ours, theirs, tol=1e-10):
    (l1, g1), (l2, g2) = ours, theirs
    assert abs(l1 - l2) < tol
    for k in g2:
        np.testing.assert_allclose(g1[k], g2[k], rtol=0, atol=tol, err_msg=k)


def test_class_weights_match_torch_cross_entropy_weight(torch_float64):
    torch = torch_float64
    cw = np.array([0.5, 2.0, 3.0])
    model = mlp(3, "crossentropy")
    ref = torch_step(torch, model.get_weights(), X, lambda out: torch.nn.CrossEntropyLoss(
        weight=torch.tensor(cw))(out, torch.tensor(Y)))
    assert_same(one_step(model, X, Y, class_weight={0: 0.5, 1: 2.0, 2: 3.0}), ref)


def test_balanced_and_label_keys_and_sample_weights_times_class_weights(torch_float64):
    torch = torch_float64
    balanced = np.array([12 / (3 * 6), 12 / (3 * 3), 12 / (3 * 3)])      # n / (n_classes * count_c)
    names = np.array(["ash", "elm", "oak"])
    for class_weight in ("balanced", {"ash": balanced[0], "elm": balanced[1], "oak": balanced[2]}):
        model = mlp(3, "crossentropy")

        def loss(out):
            per = torch.nn.functional.cross_entropy(out, torch.tensor(Y), weight=torch.tensor(balanced),
                                                    reduction="none")
            return (torch.tensor(SW) * per).sum() / (torch.tensor(SW) * torch.tensor(balanced[Y])).sum()

        ref = torch_step(torch, model.get_weights(), X, loss)
        assert_same(one_step(model, X, names[Y], class_weight=class_weight, sample_weight=SW), ref)


def test_binary_and_mse_sample_weights_match_torch(torch_float64):
    torch = torch_float64
    yb = (Y == 0).astype(float)
    model = mlp(1, "binary_crossentropy")

    def bce(out):
        per = torch.nn.BCEWithLogitsLoss(reduction="none")(out[:, 0], torch.tensor(yb))
        w = torch.tensor(SW * np.where(yb == 1, 1.0, 4.0))
        return (w * per).sum() / w.sum()

    ref = torch_step(torch, model.get_weights(), X, bce)
    assert_same(one_step(model, X, yb, sample_weight=SW, class_weight={0: 4.0}), ref)
    target = rng.standard_normal((12, 2))
    model = mlp(2, "mse")
    ref = torch_step(torch, model.get_weights(), X, lambda out: (
        torch.tensor(SW) * ((out - torch.tensor(target)) ** 2).mean(-1)).sum() / SW.sum())
    assert_same(one_step(model, X, target, sample_weight=SW), ref)


def test_a_weight_of_two_is_a_duplicated_row():
    w = np.ones(12)
    w[[0, 5]] = 2
    loss_w, g_w = one_step(mlp(3, "crossentropy"), X, Y, sample_weight=w)
    rows = np.r_[np.arange(12), 0, 5]
    loss_d, g_d = one_step(mlp(3, "crossentropy"), X[rows], Y[rows])
    assert abs(loss_w - loss_d) < 1e-12
    assert all(rel_error(g_w[k], g_d[k]) < 1e-12 for k in g_d)


def test_per_step_weights_with_lengths_against_numpy_and_finite_differences():
    Xs = rng.standard_normal((4, 6, 2))
    lengths = np.array([6, 3, 5, 2])
    ys = rng.integers(0, 3, (4, 6))
    sw = rng.uniform(0.1, 1.0, (4, 6))
    model = Sequential([LSTM(3, return_sequences=True), Dense(3)], seed=0, dtype="float64")
    model.compile("crossentropy", optim.SGD(1.0)).build(2)
    probe = model.copy()
    valid = np.arange(6)[None, :] < lengths[:, None]

    def weighted_loss():                        # written out with NumPy: sum(w l) / sum(w), valid steps
        out = probe.predict(Xs, lengths=lengths)
        logp = out - np.log(np.exp(out).sum(-1, keepdims=True))
        nll = -np.take_along_axis(logp, ys[..., None], -1)[..., 0]
        return (sw * nll)[valid].sum() / sw[valid].sum()

    loss, grads = one_step(model, Xs, ys, lengths=lengths, sample_weight=sw)
    assert abs(loss - weighted_loss()) < 1e-12
    for layer_index, layer in enumerate(probe.layers):
        for name, param in layer.params.items():
            num = numerical_grad(weighted_loss, param)
            assert rel_error(grads[f"{layer_index}.{name}"], num) < 1e-7, name


def test_validation_is_unweighted():
    Xv, yv = rng.standard_normal((6, 5)), np.array([0, 1, 2, 0, 1, 2])
    model = mlp(3, "crossentropy")
    model.compile("crossentropy", optim.SGD(0.1), metrics=["accuracy"])
    h = model.fit(X, Y, epochs=1, validation_data=(Xv, yv), class_weight="balanced", sample_weight=SW, verbose=0)
    assert h.history["val_loss"][0] == model.evaluate(Xv, yv)["loss"]
    assert h.history["val_accuracy"][0] == model.evaluate(Xv, yv)["accuracy"]


def test_batches_whose_weights_are_all_zero_are_skipped():
    model = mlp(3, "crossentropy")
    w = np.r_[np.zeros(6), np.ones(6)]
    h = model.fit(X, Y, epochs=1, batch_size=3, shuffle=False, sample_weight=w, verbose=0)
    assert model.optimizer.iterations == 2                        # 4 batches, 2 of them weigh nothing
    assert np.isfinite(h.history["loss"][0])


@pytest.mark.parametrize("kw, error, match", [
    ({"sample_weight": np.ones(11)}, ValueError, r"sample_weight: expected shape \(12,\) \(one weight per sequence\)"),
    ({"sample_weight": np.r_[np.ones(11), -1]}, ValueError, "finite and >= 0"),
    ({"sample_weight": np.r_[np.ones(11), np.nan]}, ValueError, "finite and >= 0"),
    ({"sample_weight": np.zeros(12)}, ValueError, "every training target has weight 0"),
    ({"sample_weight": ["a"] * 12}, TypeError, "sample_weight: expected numbers"),
    ({"class_weight": {3: 1.0}}, ValueError, r"class_weight: 3 is not a class; the classes are \[0, 1, 2\]"),
    ({"class_weight": {0: -1.0}}, ValueError, "finite and >= 0"),
    ({"class_weight": {0: 0.0, 1: 0.0, 2: 0.0}}, ValueError, "every training target has weight 0"),
    ({"class_weight": "even"}, TypeError, "expected a dict {label: weight} or 'balanced'"),
])
def test_bad_weights_are_refused_before_training(kw, error, match):
    model = Sequential([Dense(3)], seed=0).compile("crossentropy")
    with pytest.raises(error, match=match):
        model.fit(X, Y, verbose=0, **kw)
    assert model.input_size is None


def test_weights_need_the_right_loss_and_no_distribution(monkeypatch):
    with pytest.raises(ValueError, match="class_weight: needs a classification loss"):
        Sequential([Dense(1)]).compile("mse").fit(X, Y.astype(float), class_weight={0: 2.0}, verbose=0)
    with pytest.raises(ValueError, match="sample_weight: not supported with the ctc loss"):
        Sequential([LSTM(3, return_sequences=True), Dense(4)]).compile("ctc").fit(
            rng.standard_normal((2, 6, 2)), [[1, 2], [3]], sample_weight=np.ones(2), verbose=0)
    with pytest.raises(ValueError, match="needs hard labels"):
        Sequential([Dense(3)]).compile("crossentropy").fit(X, np.eye(3)[Y] * 0.9 + 0.1 / 3, class_weight="balanced",
                                                            verbose=0)

    class TwoRanks:                      # what distributed.active() returns inside data_parallel()
        size, rank, is_root = 2, 0, True

        def abort(self, exc):
            pass

    monkeypatch.setattr(distributed, "active", lambda: TwoRanks())
    with pytest.raises(ValueError, match="sample_weight / class_weight: not supported in distributed training"):
        Sequential([Dense(3)]).compile("crossentropy").fit(X, Y, sample_weight=SW, verbose=0)
