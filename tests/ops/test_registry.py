"""The cell registry and protocol of ``rnnkit.ops`` (``CELLS``, ``get_cell``, ``Cell``): the cells it
lists, their constants, the common surface of their functions, and option checking."""
import copy
import inspect

import numpy as np
import pytest

from rnnkit.layers import LSTM
from rnnkit.ops import CELLS, Cell, get_cell, gru, lstm, rnn
from tests.helpers.cells import CELL_KINDS, KINDS

# The table of docs/design.md, section 7.
EXPECTED = {
    "rnn": dict(module=rnn, GATES=1, GATE_NAMES=(), STATE_NAMES=("h",),
                OPTIONS={"nonlinearity": ("tanh", "relu")}),
    "lstm": dict(module=lstm, GATES=4, GATE_NAMES=("i", "f", "g", "o"), STATE_NAMES=("h", "c"), OPTIONS={}),
    "gru": dict(module=gru, GATES=3, GATE_NAMES=("r", "z", "n"), STATE_NAMES=("h",),
                OPTIONS={"reset_after": (False, True)}),
}


def test_registry_lists_rnn_lstm_gru_with_their_constants():
    assert sorted(CELLS) == ["gru", "lstm", "rnn"]
    for name, want in EXPECTED.items():
        cell = CELLS[name]
        assert isinstance(cell, Cell) and cell.module is want["module"]
        mod = want["module"]
        assert mod.NAME == cell.name == name
        assert mod.GATES == cell.gates == want["GATES"]
        assert mod.GATE_NAMES == cell.gate_names == want["GATE_NAMES"]
        assert mod.STATE_NAMES == cell.state_names == want["STATE_NAMES"]
        assert cell.n_states == len(want["STATE_NAMES"])
        assert mod.OPTIONS == want["OPTIONS"]
        assert len(cell.gate_names) in (0, cell.gates)


def test_get_cell_returns_the_entry_and_refuses_unknown_names():
    for name in CELLS:
        assert get_cell(name) is CELLS[name]
    for bad in ("nope", "LSTM", "", None, ["rnn"]):
        with pytest.raises(ValueError, match=r"cell: expected one of \['gru', 'lstm', 'rnn'\], got"):
            get_cell(bad)
    with pytest.raises(ValueError, match="got 'nope'"):
        get_cell("nope")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_cell_has_the_same_surface(name):
    """forward / run / backward / step with the protocol's signatures; the options are keywords of
    forward, run and step with the OPTIONS defaults."""
    cell = get_cell(name)
    defaults = {k: v[0] for k, v in cell.module.OPTIONS.items()}

    def params(fn):
        return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]

    P, K, E = inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.empty
    fwd = params(cell.forward)
    assert fwd[:6] == [("params", P, E), ("x", P, E), ("state0", P, None), ("lengths", P, None),
                       ("h_mask", K, None), ("keep_cache", K, True)]
    assert {n: d for n, _, d in fwd[6:]} == defaults and all(k == K for _, k, _ in fwd[6:])
    run = params(cell.run)
    assert run[:6] == [("params", P, E), ("x", P, E), ("state0", P, E), ("schedule", P, E), ("h_mask", P, None),
                       ("keep_cache", P, True)]
    assert {n: d for n, _, d in run[6:]} == defaults
    assert params(cell.backward) == [("cache", P, E), ("d_out", P, None), ("d_state", P, None),
                                     ("record", K, None)]
    step = params(cell.step)
    assert step[:3] == [("params", P, E), ("x_t", P, E), ("state", P, E)]
    assert {n: d for n, _, d in step[3:]} == defaults


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_param_shapes_and_init_bias(name):
    cell = get_cell(name)
    G, D, H = cell.gates, 5, 3
    assert cell.param_shapes(D, H) == {"W_x": (G * H, D), "W_h": (G * H, H), "b": (G * H,), "b_h": (G * H,)}
    for dtype in (np.float32, np.float64):
        b = cell.init_bias(H, dtype)
        assert b.shape == (G * H,) and b.dtype == dtype
        want = np.zeros(G * H)
        if name == "lstm":
            want[H:2 * H] = 1                                     # forget-gate bias 1
        np.testing.assert_array_equal(b, want)


def test_options_are_checked_with_defaults_filled_in():
    assert get_cell("rnn").options() == {"nonlinearity": "tanh"}
    assert get_cell("rnn").options(nonlinearity="relu") == {"nonlinearity": "relu"}
    assert get_cell("gru").options() == {"reset_after": False}
    assert get_cell("lstm").options() == {}
    opts = get_cell("gru").options(reset_after=np.True_)          # a NumPy bool is normalised
    assert opts == {"reset_after": True} and opts["reset_after"] is True
    with pytest.raises(ValueError, match=r"nonlinearity: expected one of \('tanh', 'relu'\), got 'sigmoid'"):
        get_cell("rnn").options(nonlinearity="sigmoid")
    with pytest.raises(ValueError, match=r"reset_after: expected one of \(False, True\), got 1"):
        get_cell("gru").options(reset_after=1)                   # not a bool
    with pytest.raises(TypeError, match=r"lstm: unexpected option\(s\) \['nonlinearity'\]; this cell takes none"):
        get_cell("lstm").options(nonlinearity="tanh")
    with pytest.raises(TypeError, match=r"gru: unexpected option\(s\) \['bogus', 'nonlinearity'\]; "
                                        r"this cell takes \['reset_after'\]"):
        get_cell("gru").options(nonlinearity="tanh", bogus=0)


def test_a_registry_entry_is_a_constant():
    cell = get_cell("lstm")
    assert copy.deepcopy(cell) is cell
    layer = LSTM(3)
    assert copy.deepcopy(layer).cell is cell                      # copies of layers share the entry
    assert not hasattr(cell, "__wrapped__")                       # dunders are not forwarded to the module
    with pytest.raises(AttributeError, match="no_such_function"):
        _ = cell.no_such_function


def test_the_cell_kinds_of_the_suite_cover_the_registry():
    """The fixture's kinds, spelled once: every registered cell, every option value, nothing else."""
    assert CELL_KINDS == ("rnn-tanh", "rnn-relu", "lstm", "gru-seed", "gru-reset-after")
    assert {name for name, _ in KINDS.values()} == set(CELLS)
    for name, cell in CELLS.items():
        seen = [opts for n, opts in KINDS.values() if n == name]
        for option, values in cell.module.OPTIONS.items():
            assert sorted(o[option] for o in seen) == sorted(values)
        assert all(cell.options(**o) == o for o in seen)
