"""Layer-level conversion between rnnkit and PyTorch, behind ``rnnkit.interop.torch`` (whose docstring
holds the table of weight layouts this module implements, and what does not map).

PyTorch is imported inside the functions only (``import_torch``), never at module level.
"""
from __future__ import annotations

import numpy as np

from ..layers import GRU, LSTM, RNN, Dense, Recurrent

_TORCH_VERSION_HINT = "pip install torch==2.13.0"

# (our name, PyTorch's name) for the four arrays of one sub-RNN.
_NAMES = (("W_x", "weight_ih"), ("W_h", "weight_hh"), ("b", "bias_ih"), ("b_h", "bias_hh"))

# PyTorch's ``mode`` -> (our cell name, options)
_MODES = {"RNN_TANH": ("rnn", {"nonlinearity": "tanh"}), "RNN_RELU": ("rnn", {"nonlinearity": "relu"}),
          "LSTM": ("lstm", {}), "GRU": ("gru", {"reset_after": True})}


def import_torch():
    try:
        import torch  # noqa: PLC0415  (lazy: torch is not a dependency of rnnkit)
    except ImportError as e:
        raise ImportError("rnnkit.interop.torch needs PyTorch, which is not a dependency of rnnkit; "
                          f"install it with `{_TORCH_VERSION_HINT}`") from e
    return torch


def _negate_z(w):
    """Negate the GRU's z rows (H:2H) in place: PyTorch's z is our 1 - z, and 1 - σ(a) = σ(-a)."""
    H = w.shape[0] // 3
    w[H:2 * H] *= -1
    return w


def _as_array(v):
    if hasattr(v, "detach"):                                      # a torch tensor, without importing torch
        v = v.detach().cpu().numpy()
    return np.array(v, copy=True)


def to_torch_layout(cell: str, params: dict) -> dict:
    """One sub-RNN's weights (``W_x, W_h, b, b_h``) -> PyTorch's (``weight_ih, weight_hh, bias_ih,
    bias_hh``) for ``cell`` "rnn", "lstm" or "gru" (the reset_after form), as new arrays. Exact."""
    out = {theirs: np.array(params[ours], copy=True) for ours, theirs in _NAMES}
    if cell == "gru":
        for v in out.values():
            _negate_z(v)
    return out


def from_torch_layout(cell: str, tparams: dict) -> dict:
    """Inverse of ``to_torch_layout``. ``tparams`` holds arrays or tensors keyed by PyTorch's names,
    with or without the ``_l0`` suffix (e.g. ``dict(module.named_parameters())``). Exact."""
    out = {}
    for ours, theirs in _NAMES:
        key = next((k for k in (theirs, theirs + "_l0") if k in tparams), None)
        if key is None:
            raise KeyError(f"tparams: missing {theirs!r} (or {theirs + '_l0'!r}); got keys {sorted(tparams)}")
        out[ours] = _as_array(tparams[key])
        if cell == "gru":
            _negate_z(out[ours])
    return out


def numpy_dtype(torch, tdtype, dtype, what):
    if dtype is not None:
        dt = np.dtype(dtype)
        if dt not in (np.float32, np.float64):
            raise ValueError(f"dtype: expected float32 or float64, got {dt}")
        return dt
    if tdtype == torch.float64:
        return np.dtype(np.float64)
    if tdtype == torch.float32:
        return np.dtype(np.float32)
    raise ValueError(f"{what}: parameters of dtype {tdtype} have no rnnkit counterpart (rnnkit computes in "
                     "float32 or float64); pass dtype=np.float32 or dtype=np.float64 to convert them")


def as_numpy(tensor, dtype):
    return np.array(tensor.detach().cpu().numpy(), dtype=dtype, copy=True)


def layer_from_torch(module, dtype=None, rng: np.random.Generator | None = None):
    """A PyTorch module -> the equivalent rnnkit layer, built, with its weights copied exactly.

    ``nn.RNN`` (tanh or relu), ``nn.LSTM`` and ``nn.GRU`` (any ``num_layers``, ``bidirectional``,
    ``batch_first`` either way) become ``RNN`` / ``LSTM`` / ``GRU(reset_after=True)`` with
    ``return_sequences=True`` and the module's ``dropout``; ``nn.Linear`` becomes ``Dense``. The layer
    takes the module's dtype (float32 or float64) unless ``dtype`` is given. ``rng`` is the generator
    the layer keeps for its dropout masks (default ``np.random.default_rng(0)``).

    Run it as: ``y, state = layer.forward(x_batch_first, lengths, initial_state=s0, return_state=True)``;
    ``y`` and ``state`` equal PyTorch's ``output`` and ``h_n`` (``(h_n, c_n)`` for the LSTM). See the
    module docstring for the layouts. Raises ``ValueError`` for what has no exact counterpart
    (``proj_size > 0``, ``bias=False``) and ``TypeError`` for other modules.
    """
    torch = import_torch()
    rng = np.random.default_rng(0) if rng is None else rng
    nn = torch.nn
    if isinstance(module, nn.Linear):
        if module.bias is None:
            raise ValueError("from_torch: nn.Linear(bias=False) has no exact counterpart (rnnkit's Dense "
                             "always has a bias c, and to_torch would return a module with a bias); "
                             "use nn.Linear(..., bias=True) with a zero bias instead")
        dt = numpy_dtype(torch, module.weight.dtype, dtype, "module")
        layer = Dense(module.out_features)
        layer.build(module.in_features, rng, dt)
        layer.params["W_y"] = as_numpy(module.weight, dt)
        layer.params["c"] = as_numpy(module.bias, dt)
        layer.zero_grads()
        return layer

    if not isinstance(module, nn.RNNBase) or getattr(module, "mode", None) not in _MODES:
        raise TypeError("from_torch: expected torch.nn.RNN, nn.LSTM, nn.GRU or nn.Linear (a layer), or an "
                        "nn.Sequential / rnnkit.interop.torch_sequential.RnnkitSequential (a model), got "
                        f"{type(module).__module__}.{type(module).__name__}")
    name = type(module).__name__
    if getattr(module, "proj_size", 0):
        raise ValueError(f"from_torch: {name}(proj_size={module.proj_size}) has no rnnkit counterpart "
                         "(rnnkit's LSTM has no projection of h); use proj_size=0")
    if not module.bias:
        raise ValueError(f"from_torch: {name}(bias=False) is not supported: rnnkit's recurrent layers "
                         "always have the biases b and b_h, and to_torch would return a module with "
                         "biases, so the round trip would not be exact; use bias=True with zero biases")
    cell, options = _MODES[module.mode]
    tdtypes = {p.dtype for p in module.parameters()}
    if len(tdtypes) != 1:
        raise ValueError(f"from_torch: {name} has parameters of mixed dtypes {sorted(map(str, tdtypes))}")
    dt = numpy_dtype(torch, tdtypes.pop(), dtype, "module")
    cls = {"rnn": RNN, "lstm": LSTM, "gru": GRU}[cell]             # PyTorch's three modules, ours
    layer = cls(module.hidden_size, num_layers=module.num_layers, bidirectional=module.bidirectional,
                return_sequences=True, dropout=float(module.dropout), **options)
    layer.build(module.input_size, rng, dt)
    for _, _, s in layer.suffixes():
        arrays = {theirs: as_numpy(getattr(module, theirs + s), dt) for _, theirs in _NAMES}
        for ours, v in from_torch_layout(cell, arrays).items():
            if v.shape != layer.params[ours + s].shape:      # cannot happen for a consistent module
                raise ValueError(f"from_torch: {name}.{dict(_NAMES)[ours]}{s} has shape {v.shape}, "
                                 f"expected {layer.params[ours + s].shape}")
            layer.params[ours + s] = v
    layer.zero_grads()
    return layer


def layer_to_torch(layer, batch_first: bool = True):
    """An rnnkit layer -> the equivalent PyTorch module, with the weights copied exactly.

    ``RNN`` -> ``nn.RNN``, ``LSTM`` -> ``nn.LSTM``, ``GRU(reset_after=True)`` -> ``nn.GRU`` (same
    ``hidden_size``, ``num_layers``, ``bidirectional``, ``dropout``, nonlinearity), ``Dense`` (without
    activation) -> ``nn.Linear``. The module has the layer's dtype, lives on the CPU and is
    ``batch_first`` unless told otherwise. It always returns the whole output sequence and the final
    state; a layer with ``return_sequences=False`` returns the last step of each direction, which is
    ``h_n[-num_directions:]`` of the module. The seed-form ``GRU(reset_after=False)``, ``merge`` other
    than "concat" and layers that are not built raise ``ValueError``.
    """
    torch = import_torch()
    if not getattr(layer, "built", False):
        raise ValueError(f"to_torch: {type(layer).__name__} is not built (call layer.build(input_size, rng) "
                         "or run it once), so its weights do not exist yet")
    if isinstance(layer, Dense):
        if layer.activation not in (None, "linear"):
            raise ValueError(f"to_torch: Dense(activation={layer.activation!r}) has no nn.Linear "
                             "counterpart (nn.Linear is affine); apply the activation in PyTorch after it")
        return linear_module(torch, layer)
    if not isinstance(layer, Recurrent):
        raise TypeError("to_torch: expected an rnnkit RNN, LSTM, GRU or Dense layer, got "
                        f"{type(layer).__name__}")
    if layer.bidirectional and layer.merge != "concat":
        raise ValueError(f"to_torch: merge={layer.merge!r} has no PyTorch counterpart (PyTorch concatenates "
                         "the two directions); use merge='concat'")
    return recurrent_module(torch, layer, batch_first)


def linear_module(torch, layer):
    """A built ``Dense`` layer's affine map as an ``nn.Linear`` (its activation is the caller's)."""
    W, c = layer.params["W_y"], layer.params["c"]
    module = torch.nn.Linear(W.shape[1], W.shape[0], bias=True, dtype=torch_dtype(torch, W.dtype))
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(np.ascontiguousarray(W)))
        module.bias.copy_(torch.from_numpy(np.ascontiguousarray(c)))
    return module


def recurrent_module(torch, layer, batch_first=True):
    """A built ``Recurrent`` layer's sub-RNNs as an ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` (its ``merge``
    and ``return_sequences`` are the caller's). Refuses the seed-form GRU (ValueError)."""
    nn = torch.nn
    cell = layer.cell.name
    if cell == "gru" and not layer.cell_options["reset_after"]:
        raise ValueError(
            "to_torch: the seed-form GRU (reset_after=False) has no exact PyTorch counterpart: it "
            "applies the reset gate before the recurrent product, n = tanh(W_xn x + W_hn (r * h) + b), "
            "while PyTorch applies it after, n = tanh(W_in x + b_in + r * (W_hn h + b_hn)). "
            "Use GRU(..., reset_after=True), PyTorch's variant, for models meant for PyTorch")
    modules = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
    if cell not in modules:
        raise TypeError(f"to_torch: the {cell!r} cell has no PyTorch module")
    cls = modules[cell]
    kwargs = {"nonlinearity": layer.cell_options["nonlinearity"]} if cell == "rnn" else {}
    dt = layer.params["W_x_l0"].dtype
    module = cls(layer.input_size, layer.hidden_size, num_layers=layer.num_layers, bias=True,
                 batch_first=bool(batch_first), dropout=float(layer.dropout),
                 bidirectional=layer.bidirectional, dtype=torch_dtype(torch, dt), **kwargs)
    with torch.no_grad():
        for _, _, s in layer.suffixes():
            arrays = to_torch_layout(cell, {ours: layer.params[ours + s] for ours, _ in _NAMES})
            for theirs, v in arrays.items():
                p = getattr(module, theirs + s)
                if tuple(p.shape) != v.shape:
                    ours = {t: o for o, t in _NAMES}[theirs]
                    raise ValueError(f"to_torch: {type(layer).__name__}.params[{ours + s!r}] has shape "
                                     f"{v.shape}, expected {tuple(p.shape)}")
                p.copy_(torch.from_numpy(np.ascontiguousarray(v)))
    return module


def torch_dtype(torch, dt):
    dt = np.dtype(dt)
    if dt == np.float64:
        return torch.float64
    if dt == np.float32:
        return torch.float32
    raise ValueError(f"to_torch: layer weights of dtype {dt}; expected float32 or float64")
