"""Whole models: an rnnkit ``Sequential`` as a PyTorch module and back (``rnnkit.interop.torch``'s
``to_torch`` / ``from_torch`` call this for models; the layouts are in that module's docstring).

The PyTorch side is ``RnnkitSequential``, an ``nn.Module`` holding one module per rnnkit layer in an
``nn.ModuleList`` (``.layers``), whose ``forward(x, lengths=None)`` returns what ``Sequential.predict``
returns. The classes exist once PyTorch is imported: ``rnnkit.interop.torch_sequential.RnnkitSequential``
(an attribute lookup imports torch and defines them; they pickle like any module class).

====================================  ===========================================================
rnnkit layer                          PyTorch module in ``RnnkitSequential.layers``
====================================  ===========================================================
``Embedding(V, d, padding_idx)``      ``nn.Embedding(V, d, padding_idx)``, the same table
``Dense(n)``                          ``nn.Linear``
``Dense(n, activation)``              ``nn.Sequential(nn.Linear, act)``, act ``nn.Sigmoid()``,
                                      ``nn.Tanh()``, ``nn.ReLU()`` or ``nn.LeakyReLU(0.01)``
``Dropout(rate)``                     ``nn.Dropout(rate)``
``Flatten(steps)``                    ``FlattenSteps(steps)``: ``nn.Flatten(1)`` knowing ``steps``
``RNN`` / ``LSTM`` / ``GRU``          ``RecurrentBlock(nn.RNN / nn.LSTM / nn.GRU, return_sequences,
                                      merge)``
====================================  ===========================================================

``RecurrentBlock`` runs its module (batch-first) the way rnnkit's ``Recurrent`` runs: with ``lengths``
through ``pack_padded_sequence(enforce_sorted=False)``, so every sequence (both directions) runs over
its valid steps only and per-step outputs are zero past each length; with ``return_sequences=False``
it returns each sequence's last valid step, ``[forward, reverse]`` merged, i.e. the last layer's
``h_n`` (the reverse direction's state after the first step). ``merge`` "sum" / "mean" add / average
the two directions (only for one layer: PyTorch stacks bidirectional layers on the concatenation,
rnnkit on the merge). ``RnnkitSequential.forward`` then zeroes per-step outputs past each length,
as ``predict`` does. Token ids are a long tensor (B, T); features (B, T, F) or (B, F) of the module's
dtype. ``to_torch`` returns the module in eval mode (dropout off, as ``predict``).

``from_torch`` takes an ``RnnkitSequential`` or a plain ``nn.Sequential`` of the modules above, where
an ``nn.Linear`` followed by an activation module becomes one ``Dense`` and a plain ``nn.Flatten``
takes its ``steps`` from the ``nn.Linear`` after it. A bare ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` in an
``nn.Sequential`` is refused (its output is a tuple, and which step feeds the next layer is not
said): wrap it in a ``RecurrentBlock``. What is not stored in PyTorch: ``recurrent_dropout`` (training
only) is kept as an attribute of ``RecurrentBlock`` for the round trip, and not applied by PyTorch.
"""
from __future__ import annotations

import numpy as np

from ..layers import Dense, Dropout, Embedding, Flatten, Recurrent
from ..layers.recurrent import MERGES
from ..model import Sequential
from ._torch_layers import import_torch, layer_from_torch, linear_module, numpy_dtype, recurrent_module

# (the module classes RnnkitSequential, RecurrentBlock and FlattenSteps are public too, defined lazily)
__all__ = ["sequential_to_torch", "sequential_from_torch", "block_from_torch", "is_torch_model", "classes"]

_CLASS_NAMES = ("RnnkitSequential", "RecurrentBlock", "FlattenSteps")
_CLASSES: dict = {}
_ACTIVATIONS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "ReLU", "leaky_relu": "LeakyReLU"}
_LEAKY_SLOPE = 0.01                   # rnnkit's leaky_relu (ops.activations)


def classes() -> dict:
    """{"RnnkitSequential", "RecurrentBlock", "FlattenSteps": class}, defined on first use (imports torch)."""
    if not _CLASSES:
        _CLASSES.update(_define(import_torch()))
        globals().update(_CLASSES)                     # so that pickle finds them by name
    return _CLASSES


def __getattr__(name):                                 # PEP 562: the classes, built lazily
    if name in _CLASS_NAMES:
        return classes()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _lengths(torch, lengths):
    """Lengths as PyTorch's packing wants them: an int64 tensor on the CPU (or None)."""
    return None if lengths is None else torch.as_tensor(lengths, dtype=torch.int64).cpu()


def _define(torch):
    nn = torch.nn
    rnn_utils = torch.nn.utils.rnn

    class RecurrentBlock(nn.Module):
        """rnnkit's ``Recurrent`` layer in PyTorch: a batch-first ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU``
        (``.rnn``) with ``return_sequences`` and ``merge``. ``forward(x (B, T, F), lengths=None)`` ->
        (B, T, H*) or (B, H*); see ``rnnkit.interop.torch_sequential``."""

        def __init__(self, rnn, return_sequences: bool = True, merge: str = "concat",
                     recurrent_dropout: float = 0.0):
            super().__init__()
            if not isinstance(rnn, nn.RNNBase) or rnn.mode not in ("RNN_TANH", "RNN_RELU", "LSTM", "GRU"):
                raise TypeError(f"RecurrentBlock: expected an nn.RNN, nn.LSTM or nn.GRU, got {type(rnn).__name__}")
            if not rnn.batch_first:
                raise ValueError("RecurrentBlock: the module must be batch_first=True (rnnkit's layout)")
            if merge not in MERGES:
                raise ValueError(f"RecurrentBlock: merge must be one of {MERGES}, got {merge!r}")
            if merge != "concat" and rnn.bidirectional and rnn.num_layers > 1:
                raise ValueError(f"RecurrentBlock: merge={merge!r} with num_layers={rnn.num_layers} has no PyTorch "
                                 "counterpart (PyTorch feeds each upper layer the concatenated directions, rnnkit "
                                 "the merged ones); use merge='concat' or one layer per Recurrent")
            self.rnn, self.return_sequences, self.merge = rnn, bool(return_sequences), merge
            self.recurrent_dropout = float(recurrent_dropout)   # rnnkit's training setting, not applied here

        def forward(self, x, lengths=None):
            lengths = _lengths(torch, lengths)
            if lengths is None:
                out, h = self.rnn(x)
            else:
                packed = rnn_utils.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
                out, h = self.rnn(packed)
                out, _ = rnn_utils.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
            if self.return_sequences:
                return self._merge(out.split(self.rnn.hidden_size, dim=-1)) if self.merge != "concat" else out
            h = h[0] if isinstance(h, tuple) else h          # the LSTM's (h_n, c_n)
            return self._merge(list(h[-(2 if self.rnn.bidirectional else 1):]))

        def _merge(self, parts):
            if len(parts) == 1:
                return parts[0]
            if self.merge == "concat":
                return torch.cat(list(parts), dim=-1)
            y = parts[0] + parts[1]
            return y * 0.5 if self.merge == "mean" else y

        def extra_repr(self):
            return f"return_sequences={self.return_sequences}, merge={self.merge!r}"

    class FlattenSteps(nn.Flatten):
        """rnnkit's ``Flatten(steps)``: (B, steps, F) -> (B, steps * F)."""

        def __init__(self, steps: int):
            super().__init__(1)
            self.steps = int(steps)

        def forward(self, x):
            if x.dim() != 3 or x.shape[1] != self.steps:
                raise ValueError(f"Flatten expects windows of {self.steps} steps (batch, {self.steps}, features), "
                                 f"got shape {tuple(x.shape)}")
            return super().forward(x)

        def extra_repr(self):
            return f"steps={self.steps}"

    class RnnkitSequential(nn.Module):
        """An rnnkit ``Sequential`` in PyTorch: one module per layer in ``.layers`` (an ``nn.ModuleList``).
        ``forward(x, lengths=None)`` equals ``Sequential.predict(x, lengths)``: x is token ids (B, T), or
        features (B, T, F) / (B, F); ``lengths`` (B,) ints or None. See ``rnnkit.interop.torch_sequential``."""

        def __init__(self, layers):
            super().__init__()
            self.layers = nn.ModuleList(layers)

        def forward(self, x, lengths=None):
            lengths = _lengths(torch, lengths)
            for layer in self.layers:
                x = layer(x, lengths) if isinstance(layer, RecurrentBlock) else layer(x)
            if lengths is not None and x.dim() == 3:       # per-step outputs: zero past each length
                valid = torch.arange(x.shape[1])[None, :] < lengths[:, None]
                x = x.masked_fill(~valid[..., None].to(x.device), 0)
            return x

    for cls in (RecurrentBlock, FlattenSteps, RnnkitSequential):
        cls.__qualname__ = cls.__name__
    return {"RnnkitSequential": RnnkitSequential, "RecurrentBlock": RecurrentBlock, "FlattenSteps": FlattenSteps}


# -- rnnkit -> PyTorch ----------------------------------------------------------------------------

def sequential_to_torch(model):
    """A built ``Sequential`` -> an ``RnnkitSequential`` (eval mode) with the weights copied exactly.
    Raises ValueError / TypeError naming the layer that has no PyTorch counterpart."""
    torch = import_torch()
    if model.input_size is None:
        raise ValueError("to_torch: the Sequential is not built, so its weights do not exist yet; call "
                         "model.build(input_size) or fit it first")
    modules, dt = [], torch.float64 if model.dtype == np.float64 else torch.float32
    for i, layer in enumerate(model.layers):
        try:
            modules.append(_module(torch, layer, dt))
        except (TypeError, ValueError) as e:
            problem = str(e).removeprefix("to_torch: ")
            raise type(e)(f"to_torch: layer {i} ({type(layer).__name__}): {problem}") from None
    return classes()["RnnkitSequential"](modules).eval()


def _module(torch, layer, dt):
    """The PyTorch module of one built layer (``dt``: the model's torch dtype)."""
    nn, C = torch.nn, classes()
    if isinstance(layer, Embedding):
        module = nn.Embedding(layer.vocab_size, layer.dim, padding_idx=layer.padding_idx, dtype=dt)
        with torch.no_grad():
            module.weight.copy_(torch.from_numpy(np.ascontiguousarray(layer.params["E"])))
        return module
    if isinstance(layer, Dense):
        linear = linear_module(torch, layer)
        if layer.activation in (None, "linear"):
            return linear
        act = getattr(nn, _ACTIVATIONS[layer.activation])
        return nn.Sequential(linear, act(_LEAKY_SLOPE) if layer.activation == "leaky_relu" else act())
    if isinstance(layer, Dropout):
        return nn.Dropout(layer.rate)
    if isinstance(layer, Flatten):
        return C["FlattenSteps"](layer.steps)
    if isinstance(layer, Recurrent):
        if layer.bidirectional and layer.merge != "concat" and layer.num_layers > 1:
            raise ValueError(f"merge={layer.merge!r} with num_layers={layer.num_layers} has no PyTorch counterpart "
                             "(PyTorch feeds each upper layer the concatenated directions, rnnkit the merged "
                             "ones); use merge='concat', or stack one-layer Recurrent layers")
        return C["RecurrentBlock"](recurrent_module(torch, layer), layer.return_sequences, layer.merge,
                                   layer.recurrent_dropout)
    raise TypeError(f"{type(layer).__name__} has no PyTorch counterpart (supported: Embedding, Dense, Dropout, "
                    "Flatten, RNN, LSTM, GRU)")


# -- PyTorch -> rnnkit ----------------------------------------------------------------------------

def is_torch_model(module) -> bool:
    """Whether ``module`` is a whole model for ``sequential_from_torch`` (imports torch)."""
    torch = import_torch()
    return isinstance(module, (torch.nn.Sequential, classes()["RnnkitSequential"]))


def block_from_torch(block, dtype=None, rng=None):
    """A ``RecurrentBlock`` -> the rnnkit ``RNN`` / ``LSTM`` / ``GRU`` layer, built, weights exact."""
    layer = layer_from_torch(block.rnn, dtype, rng)
    config = {**layer.get_config(), "return_sequences": block.return_sequences, "merge": block.merge,
              "recurrent_dropout": block.recurrent_dropout}
    out = type(layer)(**config)
    out.build(layer.input_size, layer.rng, layer.params["W_x_l0"].dtype, params=layer.params)
    return out


def sequential_from_torch(module, dtype=None):
    """An ``RnnkitSequential`` or a plain ``nn.Sequential`` -> an rnnkit ``Sequential`` (seed 0, not
    compiled), built, with the weights copied exactly. Raises ValueError / TypeError naming the module."""
    torch = import_torch()
    C = classes()
    items = list(module.layers if isinstance(module, C["RnnkitSequential"]) else module)
    if not items:
        raise ValueError("from_torch: the module has no layers")
    tdtypes = {p.dtype for p in module.parameters()}
    if len(tdtypes) > 1:
        raise ValueError(f"from_torch: the module's parameters have mixed dtypes {sorted(map(str, tdtypes))}")
    dt = numpy_dtype(torch, tdtypes.pop() if tdtypes else torch.float32, dtype, "module")
    layers, weights = [], {}
    size = input_size = None       # the features flowing between layers; the model's input size
    steps = 1                      # the Flatten steps met while the input size is still unknown
    i = 0
    while i < len(items):
        where = f"from_torch: module {i} ({type(items[i]).__name__})"
        try:
            layer, params, n_in, used = _convert(torch.nn, C, items, i, size, dt, first=not layers)
        except (TypeError, ValueError) as e:
            raise type(e)(str(e) if str(e).startswith("from_torch") else f"{where}: {e}") from None
        if isinstance(layer, Embedding):
            input_size = layer.vocab_size
        elif isinstance(layer, Flatten) and size is None:
            steps *= layer.steps
        elif n_in is not None and size is None:
            if n_in % steps:
                raise ValueError(f"{where}: {n_in} input features are not a whole number of {steps} flattened steps")
            input_size = n_in // steps
        elif n_in is not None and n_in != size:
            raise ValueError(f"{where}: expects {n_in} input features, the modules before it give {size}")
        if size is not None or not isinstance(layer, (Dropout, Flatten)):    # else: still unknown
            size = layer.output_size(size if size is not None else n_in if n_in is not None else input_size)
        weights.update({f"{len(layers)}.{k}": v for k, v in params.items()})
        layers.append(layer)
        i += used
    if input_size is None:
        raise ValueError("from_torch: the input size cannot be told from these modules (there is no "
                         "nn.Embedding, nn.Linear or RecurrentBlock)")
    try:
        return Sequential(layers, seed=0, dtype=dt).build(input_size, weights=weights)
    except ValueError as e:
        raise ValueError(f"from_torch: the modules do not fit together ({e})") from None


def _convert(nn, C, items, i, size, dt, first):
    """``(layer, its weights, its input features or None, modules used)`` for ``items[i]`` (an
    ``nn.Linear`` takes the activation module after it, if any)."""
    m = items[i]
    if isinstance(m, nn.Sequential) and len(m) == 2 and isinstance(m[0], nn.Linear):
        act = _activation(nn, m[1])
        if act is None:
            raise TypeError(f"{type(m[1]).__name__} after nn.Linear has no rnnkit counterpart (supported: "
                            f"{sorted(_ACTIVATIONS.values())})")
        return Dense(m[0].out_features, act), _linear_params(m[0], dt), m[0].in_features, 1
    if isinstance(m, nn.Linear):
        act = _activation(nn, items[i + 1]) if i + 1 < len(items) else None
        return Dense(m.out_features, act), _linear_params(m, dt), m.in_features, 1 + (act is not None)
    if isinstance(m, nn.Embedding):
        if not first:
            raise ValueError("an nn.Embedding reads token ids, so it can only be the first module")
        layer = Embedding(m.num_embeddings, m.embedding_dim, m.padding_idx)
        return layer, {"E": m.weight.detach().cpu().numpy()}, None, 1
    if isinstance(m, C["RecurrentBlock"]):
        layer = block_from_torch(m, dt)
        return type(layer)(**layer.get_config()), layer.params, layer.input_size, 1
    if isinstance(m, nn.Dropout):
        return Dropout(m.p), {}, None, 1
    if isinstance(m, C["FlattenSteps"]):
        return Flatten(m.steps), {}, None, 1
    if isinstance(m, nn.Flatten):
        return Flatten(_flatten_steps(nn, m, items[i + 1:], size)), {}, None, 1
    if isinstance(m, nn.RNNBase):
        raise ValueError("a bare recurrent module in an nn.Sequential is ambiguous (it returns a tuple "
                         "(output, h_n), and which steps feed the next module is not said); wrap it: "
                         "rnnkit.interop.torch_sequential.RecurrentBlock(module, return_sequences=...)")
    if _activation(nn, m):
        raise ValueError("an activation must follow an nn.Linear (rnnkit applies it in Dense)")
    raise TypeError("no rnnkit counterpart (supported: nn.Embedding, nn.Linear with an activation, "
                    "nn.Dropout, nn.Flatten, RecurrentBlock)")


def _linear_params(linear, dt):
    return layer_from_torch(linear, dt).params              # W_y and c; refuses bias=False


def _flatten_steps(nn, m, rest, size):
    """A plain ``nn.Flatten``'s steps: the next ``nn.Linear``'s inputs / the features coming in."""
    if (m.start_dim, m.end_dim) != (1, -1):
        raise ValueError(f"nn.Flatten(start_dim={m.start_dim}, end_dim={m.end_dim}) has no rnnkit counterpart; "
                         "rnnkit's Flatten is nn.Flatten(1, -1)")
    nxt = rest[0] if rest else None
    nxt = nxt[0] if isinstance(nxt, nn.Sequential) and len(nxt) else nxt
    if size is None or not isinstance(nxt, nn.Linear) or nxt.in_features % size:
        raise ValueError("cannot tell how many steps this nn.Flatten flattens (it needs known input features "
                         "and an nn.Linear after it); use rnnkit.interop.torch_sequential.FlattenSteps(steps)")
    return nxt.in_features // size


def _activation(nn, m):
    """rnnkit's name for the activation module ``m``, or None if it is not one."""
    for name, cls in _ACTIVATIONS.items():
        if type(m) is getattr(nn, cls):
            if name == "leaky_relu" and m.negative_slope != _LEAKY_SLOPE:
                raise ValueError(f"nn.LeakyReLU({m.negative_slope}) has no rnnkit counterpart (rnnkit's "
                                 f"leaky_relu has slope {_LEAKY_SLOPE})")
            return name
    return None
