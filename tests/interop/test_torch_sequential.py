"""Whole models to and from PyTorch: ``to_torch(Sequential)`` / ``from_torch(RnnkitSequential | nn.Sequential)``.

Parity: the PyTorch module's ``forward(x, lengths)`` equals ``Sequential.predict(x, lengths)`` within 1e-10
in float64 (1e-5 in float32) on random ragged batches, over the cell kinds with a PyTorch counterpart
and every arrangement of the supported layers; PyTorch runs its own modules (pack_padded_sequence), so
the two sides are independent implementations. Round trips are exact (np.array_equal / torch.equal).
``from_torch`` of a plain ``nn.Sequential`` is checked against PyTorch running that same module.
"""
import copy
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnkit.interop import from_torch, to_torch
from rnnkit.interop.torch_sequential import RecurrentBlock, RnnkitSequential
from rnnkit.layers import GRU, LSTM, Dense, Dropout, Embedding, Flatten
from rnnkit.model import Sequential, feedforward
from tests.helpers.cells import TORCH_KINDS

nn = torch.nn
B, T, D, H, V = 6, 7, 3, 4, 11
torch_kinds = pytest.mark.parametrize("cell_kind", TORCH_KINDS, indirect=True)
# (num_layers, bidirectional, merge, return_sequences)
RECURRENT = [(1, False, "concat", True), (1, False, "concat", False), (2, False, "concat", False),
             (2, True, "concat", True), (2, True, "concat", False), (1, True, "sum", True),
             (1, True, "sum", False), (1, True, "mean", True), (1, True, "mean", False)]
FRONTS = {"features": (None, "sigmoid"), "dense": (Dense(5, "relu"), "leaky_relu"),
          "embedding": (Embedding(V, 5, padding_idx=0), None)}   # front layer, head activation


def randomize(model, seed=0):
    """Every weight drawn afresh (biases non-zero), so that every path of the network matters."""
    rng = np.random.default_rng(seed)
    model.set_weights({k: rng.uniform(-0.8, 0.8, w.shape) for k, w in model.get_weights().items()})
    return model


def batch(tokens, dtype, seed=0, full=False):
    """A padded ragged batch: garbage past each length, lengths unsorted and covering 1 and T."""
    rng = np.random.default_rng(seed)
    lengths = None if full else rng.permutation(np.r_[1, T, rng.integers(1, T + 1, B - 2)])
    x = rng.integers(0, V, (B, T)) if tokens else rng.standard_normal((B, T, D)).astype(dtype)
    return x, lengths


def check_parity(model, x, lengths, tol):
    module = to_torch(model)
    assert isinstance(module, RnnkitSequential) and not module.training
    ref = model.predict(x, lengths)
    with torch.no_grad():
        out = module(torch.from_numpy(x), None if lengths is None else torch.from_numpy(lengths)).numpy()
    assert out.shape == ref.shape and out.dtype == ref.dtype
    err = float(np.max(np.abs(out - ref)))
    assert err < tol, err
    if lengths is not None and ref.ndim == 3:        # zero past each length, on both sides
        assert not np.any(out[np.arange(T)[None, :] >= lengths[:, None]])
    return module, ref


def check_round_trip(model, module, ref, x, lengths):
    back = from_torch(module)
    assert isinstance(back, Sequential) and back.dtype == model.dtype and back.input_size == model.input_size
    assert [(type(l), l.get_config()) for l in back.layers] == [(type(l), l.get_config()) for l in model.layers]
    w0, w1 = model.get_weights(), back.get_weights()
    assert list(w0) == list(w1) and all(np.array_equal(w0[k], w1[k]) and w0[k].dtype == w1[k].dtype for k in w0)
    assert np.array_equal(back.predict(x, lengths), ref)           # the same weights, the same program
    s0, s1 = module.state_dict(), to_torch(back).state_dict()
    assert list(s0) == list(s1) and all(torch.equal(s0[k], s1[k]) for k in s0)


@torch_kinds
@pytest.mark.parametrize("rec", RECURRENT, ids=lambda r: "-".join(map(str, r)))
@pytest.mark.parametrize("front", list(FRONTS))
def test_parity_and_round_trip_float64(cell_kind, rec, front):
    num_layers, bidirectional, merge, return_sequences = rec
    first, head = FRONTS[front]
    layers = [copy.deepcopy(first)] if first is not None else []
    layers += [cell_kind.layer(H, num_layers=num_layers, bidirectional=bidirectional, merge=merge,
                               return_sequences=return_sequences, dropout=0.3 * (num_layers > 1)),
               Dropout(0.25), Dense(2, head)]
    model = randomize(Sequential(layers, dtype="float64").build(V if front == "embedding" else D))
    x, lengths = batch(front == "embedding", np.float64, seed=num_layers, full=front == "dense" and bidirectional)
    module, ref = check_parity(model, x, lengths, 1e-10)
    check_round_trip(model, module, ref, x, lengths)


@torch_kinds
@pytest.mark.parametrize("bidirectional", [False, True])
def test_stacked_recurrent_layers_float64(cell_kind, bidirectional):
    model = Sequential([cell_kind.layer(H, return_sequences=True, bidirectional=bidirectional),
                        cell_kind.layer(3, bidirectional=bidirectional, merge="mean" if bidirectional else "concat",
                                        return_sequences=True, recurrent_dropout=0.2),
                        Dense(2, "tanh")], dtype="float64")
    randomize(model.build(D))
    x, lengths = batch(False, np.float64, seed=3)
    module, ref = check_parity(model, x, lengths, 1e-10)
    check_round_trip(model, module, ref, x, lengths)
    assert module.layers[1].recurrent_dropout == 0.2


@torch_kinds
@pytest.mark.parametrize("rec", [(1, True, "concat", False), (2, True, "concat", True), (1, True, "sum", True)],
                         ids=lambda r: "-".join(map(str, r)))
def test_parity_float32(cell_kind, rec):
    num_layers, bidirectional, merge, return_sequences = rec
    model = Sequential([Embedding(V, 5), cell_kind.layer(H, num_layers=num_layers, bidirectional=bidirectional,
                                                         merge=merge, return_sequences=return_sequences),
                        Dense(3)], dtype="float32")
    randomize(model.build(V))
    x, lengths = batch(True, np.float32, seed=5)
    module, ref = check_parity(model, x, lengths, 1e-5)
    assert module.layers[0].weight.dtype == torch.float32
    check_round_trip(model, module, ref, x, lengths)


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-10), ("float32", 1e-5)])
def test_feedforward_models(dtype, tol):
    rng = np.random.default_rng(2)
    window = randomize(feedforward([6, 5], 2, activation="tanh", window=T, dtype=dtype).build(D))  # Flatten first
    x = rng.standard_normal((B, T, D)).astype(dtype)
    module, ref = check_parity(window, x, None, tol)
    check_round_trip(window, module, ref, x, None)
    flat = randomize(feedforward(6, 2, dtype=dtype).build(D))                           # (B, F) rows
    x = rng.standard_normal((B, D)).astype(dtype)
    module, ref = check_parity(flat, x, None, tol)
    check_round_trip(flat, module, ref, x, None)
    tokens = randomize(Sequential([Embedding(V, 4), Flatten(T), Dense(3, "sigmoid")], dtype=dtype).build(V))
    x = rng.integers(0, V, (B, T))
    module, ref = check_parity(tokens, x, None, tol)
    check_round_trip(tokens, module, ref, x, None)


# -- from a plain nn.Sequential: PyTorch is the oracle ---------------------------------------------

def _torch_module(*modules):
    torch.manual_seed(0)
    return nn.Sequential(*modules).double().eval()


@pytest.mark.parametrize("case", ["mlp", "tokens", "recurrent"])
def test_plain_nn_sequential_matches_pytorch(case):
    rng = np.random.default_rng(6)
    if case == "mlp":
        m = _torch_module(nn.Linear(D, 8), nn.Tanh(), nn.Dropout(0.1), nn.Linear(8, 2), nn.Sigmoid())
        x, want = rng.standard_normal((B, D)), [Dense(8, "tanh"), Dropout(0.1), Dense(2, "sigmoid")]
    elif case == "tokens":
        m = _torch_module(nn.Embedding(V, 4), nn.Flatten(), nn.Linear(12, 3), nn.LeakyReLU(0.01))
        x, want = rng.integers(0, V, (B, 3)), [Embedding(V, 4), Flatten(3), Dense(3, "leaky_relu")]
    else:
        m = _torch_module(nn.Linear(D, 5), nn.ReLU(),
                          RecurrentBlock(nn.LSTM(5, H, batch_first=True, bidirectional=True), False, "sum"),
                          nn.Linear(H, 1))
        x, want = rng.standard_normal((B, T, D)), [Dense(5, "relu"), LSTM(H, bidirectional=True, merge="sum"),
                                                   Dense(1)]
    model = from_torch(m)
    assert [(type(l), l.get_config()) for l in model.layers] == [(type(l), l.get_config()) for l in want]
    with torch.no_grad():
        expected = m(torch.from_numpy(x)).numpy()
    assert np.max(np.abs(model.predict(x) - expected)) < 1e-10


# -- refusals -------------------------------------------------------------------------------------------

def test_seed_form_gru_is_refused_naming_the_layer():
    model = Sequential([Dense(4), GRU(H, reset_after=False)]).build(D)
    with pytest.raises(ValueError, match=r"to_torch: layer 1 \(GRU\): the seed-form GRU \(reset_after=False\) has "
                                         r"no exact PyTorch counterpart.*reset_after=True"):
        to_torch(model)


def test_model_refusals():
    with pytest.raises(ValueError, match=r"Sequential is not built.*model.build"):
        to_torch(Sequential([LSTM(H)]))
    stacked_sum = Sequential([LSTM(H, num_layers=2, bidirectional=True, merge="sum")]).build(D)
    with pytest.raises(ValueError, match=r"layer 0 .*merge='sum' with num_layers=2.*merge='concat'"):
        to_torch(stacked_sum)
    with pytest.raises(ValueError, match=r"batch_first=False.*single layers"):
        to_torch(Sequential([Dense(2)]).build(D), batch_first=False)


@pytest.mark.parametrize("modules, error, match", [
    (lambda: [nn.LSTM(D, H, batch_first=True), nn.Linear(H, 1)], ValueError,
     r"module 0 \(LSTM\): a bare recurrent module .*ambiguous.*RecurrentBlock"),
    (lambda: [nn.Tanh(), nn.Linear(D, 1)], ValueError, r"module 0 \(Tanh\): an activation must follow an nn.Linear"),
    (lambda: [nn.Linear(D, 2), nn.Conv1d(2, 2, 1)], TypeError, r"module 1 \(Conv1d\): no rnnkit counterpart"),
    (lambda: [nn.Linear(D, 4), nn.Linear(5, 2)], ValueError,
     r"module 1 \(Linear\): expects 5 input features, the modules before it give 4"),
    (lambda: [nn.Linear(D, 4), nn.Embedding(V, 4)], ValueError, r"module 1 \(Embedding\).*only be the first"),
    (lambda: [nn.Linear(D, 4), nn.LeakyReLU(0.2)], ValueError, r"LeakyReLU\(0.2\) has no rnnkit counterpart"),
    (lambda: [nn.Flatten(), nn.Linear(12, 2)], ValueError, r"module 0 \(Flatten\): cannot tell how many steps"),
    (lambda: [nn.Linear(D, 4, bias=False)], ValueError, r"bias=False"),
    (lambda: [nn.Dropout(0.5)], ValueError, r"input size cannot be told"),
    (lambda: [nn.Linear(D, 4), nn.Linear(4, 2, dtype=torch.float64)], ValueError, r"mixed dtypes"),
])
def test_nn_sequential_refusals(modules, error, match):
    with pytest.raises(error, match=match):
        from_torch(nn.Sequential(*modules()))


def test_recurrent_block_refusals():
    with pytest.raises(ValueError, match="batch_first=True"):
        RecurrentBlock(nn.GRU(D, H))
    with pytest.raises(ValueError, match=r"merge='mean' with num_layers=2"):
        RecurrentBlock(nn.GRU(D, H, num_layers=2, bidirectional=True, batch_first=True), merge="mean")
    with pytest.raises(TypeError, match="expected an nn.RNN"):
        RecurrentBlock(nn.Linear(D, H))


# -- the module as a PyTorch citizen ----------------------------------------------------------------------

def test_module_pickles_copies_and_loads_state_dicts():
    model = randomize(Sequential([Embedding(V, 5), GRU(H, reset_after=True, bidirectional=True), Dense(2)],
                                 dtype="float64").build(V))
    x, lengths = batch(True, np.float64, seed=8)
    module = to_torch(model)
    xt, lt = torch.from_numpy(x), torch.from_numpy(lengths)
    with torch.no_grad():
        ref = module(xt, lt)
        buf = io.BytesIO()
        torch.save(module, buf)
        buf.seek(0)
        assert torch.equal(torch.load(buf, weights_only=False)(xt, lt), ref)
        assert torch.equal(copy.deepcopy(module)(xt, lt), ref)
        assert torch.equal(module(xt, lengths.tolist()), ref) and torch.equal(module(xt, lengths), ref)
        fresh = to_torch(Sequential([Embedding(V, 5), GRU(H, reset_after=True, bidirectional=True), Dense(2)],
                                    dtype="float64", seed=9).build(V))
        fresh.load_state_dict(module.state_dict())
        assert torch.equal(fresh(xt, lt), ref)


def test_torch_is_imported_lazily():
    code = ("import sys, rnnkit.interop, rnnkit.interop.torch_sequential; "
            "print('torch' in sys.modules)")
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(root / "src")}, cwd=root)
    assert out.stdout.strip() == "False", out.stdout + out.stderr
