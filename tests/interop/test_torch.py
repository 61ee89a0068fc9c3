"""rnnkit.interop.torch: exact weight conversion, and parity with PyTorch's nn.RNN/LSTM/GRU (float64).

Parity means: after ``from_torch(module)``, the outputs, the final states and the gradients of every
parameter, of the input and of the initial states agree with PyTorch's autograd within 1e-10, on
padded batches of variable lengths (PyTorch side: pack_padded_sequence(enforce_sorted=False)).
The recurrent tests run over the cell kinds with a PyTorch counterpart (``TORCH_KINDS``: rnn-tanh,
rnn-relu, lstm, gru-reset-after).
"""
import sys

import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnkit.interop import from_torch, to_torch
from rnnkit.interop.torch import from_torch_layout, to_torch_layout
from rnnkit.layers import GRU, LSTM, Dense
from tests.helpers.cells import TORCH_KINDS, CellKind

nn = torch.nn
F64 = torch.float64
TOL = 1e-10
B, T, D, H = 3, 5, 3, 4
LENGTHS = np.array([3, 5, 1])  # unsorted on purpose: enforce_sorted=False on the torch side
NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
torch_kinds = pytest.mark.parametrize("cell_kind", TORCH_KINDS, indirect=True)


def make_module(kind, num_layers=1, bidirectional=False, batch_first=True, dropout=0.0, seed=0,
                dtype=F64, input_size=D, hidden_size=H):
    torch.manual_seed(seed)
    m = kind.torch_module(input_size, hidden_size, num_layers=num_layers, bidirectional=bidirectional,
                          batch_first=batch_first, dropout=dropout, dtype=dtype)
    with torch.no_grad():  # biases of both kinds non-trivial, so every path is exercised
        for name, p in m.named_parameters():
            if name.startswith("bias"):
                p.uniform_(-0.5, 0.5)
    return m.eval()


def max_abs(a, b):
    a = a.detach().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def state_parts(s):
    return s if isinstance(s, tuple) else (s,)


# -- parity: outputs, final states and every gradient -------------------------------------------

@torch_kinds
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("padded", [False, True])
def test_parity_with_torch(cell_kind, num_layers, bidirectional, with_state, padded):
    batch_first = (num_layers + int(bidirectional)) % 2 == 0   # both layouts, across the grid
    m = make_module(cell_kind, num_layers, bidirectional, batch_first,
                    dropout=0.25 if num_layers > 1 else 0.0, seed=num_layers)
    layer = from_torch(m)
    assert layer.params["W_x_l0"].dtype == np.float64
    assert layer.dropout == m.dropout

    rng = np.random.default_rng(10 * num_layers + bidirectional)
    nd = 2 if bidirectional else 1
    x = rng.standard_normal((B, T, D))
    lengths = LENGTHS if padded else None
    sshape = (num_layers * nd, B, H)
    n_states = cell_kind.n_states
    s0 = tuple(rng.standard_normal(sshape) * 0.5 for _ in range(n_states)) if with_state else None
    R = rng.standard_normal((B, T, H * nd))
    if padded:  # ours are zero past the length, and PyTorch's padded outputs are constant zeros
        R[np.arange(T)[None, :] >= LENGTHS[:, None]] = 0
    RS = tuple(rng.standard_normal(sshape) for _ in range(n_states))

    # torch
    xt = torch.tensor(x, requires_grad=True)
    s0t = None if s0 is None else tuple(torch.tensor(s, requires_grad=True) for s in s0)
    inp = xt if batch_first else xt.transpose(0, 1)
    if padded:
        inp = pack_padded_sequence(inp, torch.tensor(LENGTHS), batch_first=batch_first, enforce_sorted=False)
    hx = None if s0t is None else (s0t if n_states > 1 else s0t[0])
    out_t, sT_t = m(inp, hx)
    if padded:
        out_t, _ = pad_packed_sequence(out_t, batch_first=batch_first, total_length=T)
    if not batch_first:
        out_t = out_t.transpose(0, 1)
    sT_t = state_parts(sT_t)
    loss = (out_t * torch.tensor(R)).sum() + sum((s * torch.tensor(r)).sum() for s, r in zip(sT_t, RS))
    loss.backward()

    # rnnkit
    init = None if s0 is None else (s0 if n_states > 1 else s0[0])
    y, sT = layer.forward(x, lengths, initial_state=init, return_state=True)
    dx = layer.backward(R, d_state=RS if n_states > 1 else RS[0])

    assert max_abs(y, out_t) < TOL
    if padded:
        assert np.all(y[np.arange(T)[None, :] >= LENGTHS[:, None]] == 0)
    for a, b in zip(state_parts(sT), sT_t):
        assert max_abs(a, b) < TOL
    assert max_abs(dx, xt.grad) < TOL
    if s0 is not None:
        for g, s in zip(state_parts(layer.d_initial_state), s0t):
            assert max_abs(g, s.grad) < TOL
    assert len(layer.grads) == len(dict(m.named_parameters()))
    for _, _, s in layer.suffixes():                 # PyTorch's gradients in our layout (GRU: z rows negated)
        for k, g in cell_kind.torch_grads(m, suffix=s).items():
            err = np.max(np.abs(layer.grads[k + s] - g))
            assert err < TOL, (k + s, err)


def test_dense_parity_with_linear():
    torch.manual_seed(0)
    lin = nn.Linear(4, 3, dtype=F64)
    dense = from_torch(lin)
    assert isinstance(dense, Dense) and dense.units == 3 and dense.input_size == 4
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 5, 4))
    R = rng.standard_normal((2, 5, 3))
    xt = torch.tensor(x, requires_grad=True)
    yt = lin(xt)
    (yt * torch.tensor(R)).sum().backward()
    y = dense.forward(x)
    dx = dense.backward(R)
    assert max_abs(y, yt) < TOL
    assert max_abs(dx, xt.grad) < TOL
    assert max_abs(dense.grads["W_y"], lin.weight.grad) < TOL
    assert max_abs(dense.grads["c"], lin.bias.grad) < TOL


# -- round trips: bit for bit -------------------------------------------------------------------

@torch_kinds
@pytest.mark.parametrize("num_layers, bidirectional, batch_first",
                         [(1, False, True), (2, True, False), (3, False, False), (3, True, True)])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_torch_round_trip_is_exact(cell_kind, num_layers, bidirectional, batch_first, dtype):
    m = make_module(cell_kind, num_layers, bidirectional, batch_first,
                    dropout=0.1 if num_layers > 1 else 0.0, seed=3, dtype=dtype)
    layer = from_torch(m)
    assert layer.params["W_x_l0"].dtype == (np.float64 if dtype == F64 else np.float32)
    assert layer.return_sequences and layer.num_layers == num_layers
    assert layer.bidirectional == bidirectional and layer.input_size == D and layer.hidden_size == H
    m2 = to_torch(layer, batch_first=batch_first)
    assert type(m2) is type(m)
    for attr in ("mode", "input_size", "hidden_size", "num_layers", "bidirectional", "batch_first",
                 "dropout", "bias", "proj_size"):
        assert getattr(m2, attr) == getattr(m, attr), attr
    sd, sd2 = m.state_dict(), m2.state_dict()
    assert list(sd) == list(sd2)
    for k in sd:
        assert sd2[k].dtype == sd[k].dtype, k
        assert torch.equal(sd2[k], sd[k]), k


@torch_kinds
@pytest.mark.parametrize("num_layers, bidirectional", [(1, False), (2, True), (3, False)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_layer_round_trip_is_exact(cell_kind, num_layers, bidirectional, dtype):
    layer = cell_kind.layer(H, num_layers=num_layers, bidirectional=bidirectional, return_sequences=True,
                            dropout=0.2 if num_layers > 1 else 0.0)
    layer.build(D, np.random.default_rng(1), dtype)
    rng = np.random.default_rng(2)
    for v in layer.params.values():  # b_h starts at zero: make every array non-trivial
        v += (rng.standard_normal(v.shape) * 0.3).astype(dtype)
    back = from_torch(to_torch(layer))
    assert type(back) is type(layer)
    assert back.get_config() == layer.get_config()
    assert sorted(back.params) == sorted(layer.params)
    for k, v in layer.params.items():
        assert back.params[k].dtype == v.dtype, k
        np.testing.assert_array_equal(back.params[k], v, err_msg=k)


def test_dense_round_trips():
    lin = nn.Linear(5, 2, dtype=torch.float32)
    lin2 = to_torch(from_torch(lin))
    assert isinstance(lin2, nn.Linear) and lin2.weight.dtype == torch.float32
    for k, v in lin.state_dict().items():
        assert torch.equal(lin2.state_dict()[k], v), k
    dense = Dense(3)
    dense.build(4, np.random.default_rng(0), np.float64)
    dense.params["c"] += 0.7
    back = from_torch(to_torch(dense))
    for k, v in dense.params.items():
        np.testing.assert_array_equal(back.params[k], v)


def test_dtype_argument_overrides_module_dtype():
    m = make_module(CellKind("lstm"), dtype=F64)
    layer = from_torch(m, dtype=np.float32)
    assert all(v.dtype == np.float32 for v in layer.params.values())
    np.testing.assert_array_equal(layer.params["W_h_l0"], m.weight_hh_l0.detach().numpy().astype(np.float32))
    assert to_torch(layer).weight_hh_l0.dtype == torch.float32


def test_gru_z_rows_are_negated():
    m = make_module(CellKind("gru-reset-after"))
    layer = from_torch(m)
    w = m.weight_ih_l0.detach().numpy()
    np.testing.assert_array_equal(layer.params["W_x_l0"][:H], w[:H])
    np.testing.assert_array_equal(layer.params["W_x_l0"][H:2 * H], -w[H:2 * H])
    np.testing.assert_array_equal(layer.params["W_x_l0"][2 * H:], w[2 * H:])
    assert layer.cell_options["reset_after"] is True


# -- refusals -----------------------------------------------------------------------------------

def test_seed_form_gru_is_refused():
    layer = GRU(H)  # reset_after=False: the seed's form
    layer.build(D, np.random.default_rng(0), np.float64)
    with pytest.raises(ValueError,
                       match=r"reset_after=False.*no exact PyTorch counterpart.*reset_after=True"):
        to_torch(layer)


def test_lstm_projection_is_refused():
    with pytest.raises(ValueError, match=r"proj_size=2.*no rnnkit counterpart"):
        from_torch(nn.LSTM(D, H, proj_size=2))


@torch_kinds
def test_bias_false_is_refused(cell_kind):
    m = cell_kind.torch_module(D, H, bias=False)
    with pytest.raises(ValueError, match=r"bias=False.*round trip"):
        from_torch(m)


def test_linear_without_bias_is_refused():
    with pytest.raises(ValueError, match=r"nn.Linear\(bias=False\).*no exact counterpart"):
        from_torch(nn.Linear(3, 2, bias=False))


def test_other_refusals():
    with pytest.raises(TypeError, match=r"nn.RNN, nn.LSTM, nn.GRU or nn.Linear.*Conv1d"):
        from_torch(nn.Conv1d(2, 2, 3))
    with pytest.raises(ValueError, match=r"not built"):
        to_torch(LSTM(H))
    layer = LSTM(H, bidirectional=True, merge="sum")
    layer.build(D, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"merge='sum'.*concat"):
        to_torch(layer)
    dense = Dense(2, activation="tanh")
    dense.build(3, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"activation='tanh'"):
        to_torch(dense)
    with pytest.raises(ValueError, match=r"torch.float16.*dtype=np.float32"):
        from_torch(nn.GRU(D, H, dtype=torch.float16))


def test_missing_torch_gives_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    with pytest.raises(ImportError, match=r"pip install torch==2\.13\.0"):
        from_torch(object())
    with pytest.raises(ImportError, match=r"pip install torch==2\.13\.0"):
        to_torch(object())


# -- streaming ----------------------------------------------------------------------------------

@torch_kinds
@pytest.mark.parametrize("with_state", [False, True])
def test_step_matches_torch(cell_kind, with_state):
    m = make_module(cell_kind, num_layers=2, batch_first=True, seed=5)
    layer = from_torch(m)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((B, T, D))
    s0 = None
    lstm = cell_kind.n_states > 1
    if with_state:
        s0 = tuple(rng.standard_normal((2, B, H)) * 0.5 for _ in range(cell_kind.n_states))
        s0 = s0 if lstm else s0[0]
    with torch.no_grad():
        hx = None if s0 is None else (tuple(map(torch.tensor, s0)) if lstm else torch.tensor(s0))
        out_t, sT_t = m(torch.tensor(x), hx)
    state = s0
    for t in range(T):
        y_t, state = layer.step(x[:, t], state)
        assert max_abs(y_t, out_t[:, t]) < TOL
    for a, b in zip(state_parts(state), state_parts(sT_t)):
        assert max_abs(a, b) < TOL


# -- the layout mapping of one sub-RNN ------------------------------------------------------------

@torch_kinds
def test_torch_layout_mapping_is_exact_and_round_trips(cell_kind):
    """to_torch_layout / from_torch_layout: the same arrays under PyTorch's names, except the GRU's z rows
    (H:2H), negated in all four arrays; new arrays both ways; exact round trip."""
    p = cell_kind.params(3, 4, np.random.default_rng(6))
    tp = to_torch_layout(cell_kind.cell.name, p)
    assert sorted(tp) == sorted(NAMES)
    sign = -1 if cell_kind.cell.name == "gru" else 1
    for ours, tname in zip(("W_x", "W_h", "b", "b_h"), NAMES):
        w, t = p[ours], tp[tname]
        assert t is not w
        np.testing.assert_array_equal(t[:4], w[:4])
        np.testing.assert_array_equal(t[4:8], sign * w[4:8])
        np.testing.assert_array_equal(t[8:], w[8:])
    back = from_torch_layout(cell_kind.cell.name, tp)
    for k in p:
        np.testing.assert_array_equal(back[k], p[k])
        assert back[k] is not p[k] and back[k] is not tp[dict(zip(("W_x", "W_h", "b", "b_h"), NAMES))[k]]
    with_l0 = from_torch_layout(cell_kind.cell.name, {k + "_l0": torch.from_numpy(v) for k, v in tp.items()})
    for k in p:                                                   # tensors and "_l0" names too
        np.testing.assert_array_equal(with_l0[k], p[k])
    with pytest.raises(KeyError, match="tparams: missing 'bias_hh'"):
        from_torch_layout(cell_kind.cell.name, {k: v for k, v in tp.items() if k != "bias_hh"})

