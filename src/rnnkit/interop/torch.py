"""Exact conversion between rnnkit and PyTorch, layers and whole models: ``from_torch`` and ``to_torch``.

PyTorch is not a dependency of rnnkit; it is imported inside the two functions only (install it with
``pip install torch==2.13.0`` to use them). Weights are copied bit for bit: ``to_torch(from_torch(m))``
has the same ``state_dict`` as ``m`` (``torch.equal`` on every tensor) and ``from_torch(to_torch(layer))``
the same ``params`` as ``layer`` (a model: the same weights and layer configs).

Whole models. ``to_torch(model)`` turns a built ``Sequential`` into an ``RnnkitSequential`` module whose
``forward(x, lengths=None)`` returns what ``model.predict(x, lengths)`` returns (ragged batches through
``pack_padded_sequence``), and ``from_torch`` turns that module, or a plain ``nn.Sequential`` of
supported modules, back into a ``Sequential``. The modules, what each layer becomes and what is
refused: ``rnnkit.interop.torch_sequential``. Single layers, and the weight layouts of both, below.

Weight layouts, ours against PyTorch's (this table is the one place where they are all written down)
----------------------------------------------------------------------------------------------------

Every recurrent layer has, per sub-RNN (layer ``l`` = 0..num_layers-1, direction forward or reverse),
four arrays. The suffix ``S`` is ``_l{l}`` for the forward direction and ``_l{l}_reverse`` for the
reverse one, in both libraries. ``D_l`` is the layer's input size: ``input_size`` for l = 0, and
``H * num_directions`` for l > 0 (the concatenated outputs of the layer below).

=====  ======================  ========================  =========  ===================================
cell   rnnkit (``params``)     PyTorch (``state_dict``)  shape      rows (fused gates) and mapping
=====  ======================  ========================  =========  ===================================
RNN    ``W_x`` + S             ``weight_ih`` + S         (H, D_l)   h = f(W_x x + b + W_h h' + b_h),
RNN    ``W_h`` + S             ``weight_hh`` + S         (H, H)     f = tanh or relu (``nonlinearity``);
RNN    ``b`` + S               ``bias_ih`` + S           (H,)       identical arrays, copied as they are
RNN    ``b_h`` + S             ``bias_hh`` + S           (H,)
LSTM   ``W_x`` + S             ``weight_ih`` + S         (4H, D_l)  rows [i, f, g, o] in both libraries,
LSTM   ``W_h`` + S             ``weight_hh`` + S         (4H, H)    same equations (seed §4.1);
LSTM   ``b`` + S               ``bias_ih`` + S           (4H,)      identical arrays, copied as they are
LSTM   ``b_h`` + S             ``bias_hh`` + S           (4H,)
GRU    ``W_x`` + S             ``weight_ih`` + S         (3H, D_l)  rows [r, z, n] in both libraries;
GRU    ``W_h`` + S             ``weight_hh`` + S         (3H, H)    the z rows H:2H are NEGATED in all
GRU    ``b`` + S               ``bias_ih`` + S           (3H,)      four arrays (see below); r and n
GRU    ``b_h`` + S             ``bias_hh`` + S           (3H,)      rows identical. reset_after=True only
Dense  ``W_y``                 ``weight`` (nn.Linear)    (out, in)  y = W_y x + c, identical
Dense  ``c``                   ``bias`` (nn.Linear)      (out,)
=====  ======================  ========================  =========  ===================================

GRU. Only ``GRU(reset_after=True)`` has a PyTorch counterpart: PyTorch applies the reset gate after
the recurrent product, n = tanh(W_in x + b_in + r * (W_hn h' + b_hn)). The seed's form (§4.2,
``reset_after=False``, the default) applies it before, n = tanh(W_xn x + W_hn (r * h') + b), and no
choice of PyTorch weights reproduces it; ``to_torch`` refuses it. The sense of z differs too: we keep
the seed's h = (1 - z) h' + z n (z is the share of the new candidate), PyTorch writes
h = (1 - z') n + z' h', so z' = 1 - z. Since 1 - σ(a) = σ(-a), PyTorch's z rows are exactly our z
rows negated (in ``weight_ih``, ``weight_hh``, ``bias_ih`` and ``bias_hh``); negation is exact in
floating point, so the mapping is too. The r and n rows, and all states, are the same values.

States. Initial and final states have PyTorch's layout in both libraries: (num_layers * num_directions,
B, H), sub-RNN k = l * num_directions + d (d = 0 forward, 1 reverse); a tuple (h, c) for the LSTM
(PyTorch's (h_0, c_0) / (h_n, c_n)), one array for RNN and GRU. The final state of the reverse
direction is its state after the *first* time step, as in PyTorch.

Sequences. rnnkit is always batch-first, x (B, T, D); a PyTorch module may be either (``batch_first``
is not part of the weights; ``to_torch`` makes batch-first modules unless told otherwise). Outputs of a
bidirectional layer are [forward, reverse] concatenated on the feature axis in both (our
``merge="concat"``; "sum" and "mean" have no ``nn.LSTM`` counterpart: a model's ``RecurrentBlock``
adds or averages the halves, for one-layer recurrent layers). Variable lengths: our ``lengths``
argument is PyTorch's ``pack_padded_sequence(x, lengths, enforce_sorted=False)``: each sequence
(both directions) runs over its valid steps only, and the padded outputs are zero
(``pad_packed_sequence``). ``dropout`` (between stacked layers, training only) means the same in
both; the random masks of course differ.

What does not map: LSTM ``proj_size > 0``, modules with ``bias=False`` (zero biases would run the same
forward pass, but ``to_torch`` would bring back a module *with* biases, so the round trip would not be
exact: they are refused instead), ``nn.Linear(bias=False)``, half-precision modules unless ``dtype`` is
given, ``Dense`` layers with an activation (``nn.Linear`` has none; in a model they become
``nn.Sequential(nn.Linear, activation)``). The code of the mapping: ``rnnkit.interop._torch_layers``.
"""
from __future__ import annotations

from ..model import Sequential
from ._torch_layers import from_torch_layout, import_torch, layer_from_torch, layer_to_torch, to_torch_layout
from .torch_sequential import block_from_torch, classes, is_torch_model, sequential_from_torch, sequential_to_torch

__all__ = ["from_torch", "to_torch", "to_torch_layout", "from_torch_layout"]


def from_torch(module, dtype=None, rng=None):
    """Convert a PyTorch module to the equivalent rnnkit layer or model, built, with its weights copied exactly.

    Layers: ``nn.RNN`` (tanh or relu), ``nn.LSTM``, ``nn.GRU`` (any ``num_layers``, ``bidirectional``,
    ``batch_first``) -> ``RNN`` / ``LSTM`` / ``GRU(reset_after=True)`` with ``return_sequences=True`` and the
    module's ``dropout``; ``nn.Linear`` -> ``Dense``; a ``RecurrentBlock`` -> the layer with its
    ``return_sequences`` and ``merge``. Run a layer as ``y, state = layer.forward(x_batch_first, lengths,
    initial_state=s0, return_state=True)``: ``y`` and ``state`` equal PyTorch's ``output`` and ``h_n``
    (``(h_n, c_n)`` for the LSTM). Models: an ``RnnkitSequential`` or ``nn.Sequential`` -> a ``Sequential``
    (seed 0, not compiled; ``rnnkit.interop.torch_sequential``).

    Parameters
    ----------
    module : torch.nn.Module
        ``nn.RNN``, ``nn.LSTM``, ``nn.GRU``, ``nn.Linear``, a ``RecurrentBlock``, an ``RnnkitSequential``
        or an ``nn.Sequential`` of supported modules.
    dtype : {"float32", "float64"} or numpy dtype, optional
        dtype of the result. Default None (the module's dtype, float32 or float64).
    rng : numpy.random.Generator, optional
        The generator a layer keeps for its dropout masks. Default None (``np.random.default_rng(0)``).

    Returns
    -------
    Layer or Sequential
        The built rnnkit layer (``RNN``, ``LSTM``, ``GRU``, ``Dense``) or ``Sequential`` model.

    Raises
    ------
    ValueError
        For what has no exact counterpart (``proj_size > 0``, ``bias=False``, ...).
    TypeError
        For other modules.
    ImportError
        If PyTorch is not installed (the message says how to install it).

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from rnnkit.interop.torch import from_torch
    >>> _ = torch.manual_seed(0)
    >>> lstm = torch.nn.LSTM(3, 4, batch_first=True)
    >>> layer = from_torch(lstm)
    >>> x = np.random.default_rng(0).standard_normal((2, 5, 3)).astype(np.float32)
    >>> type(layer).__name__, bool(np.allclose(layer.forward(x), lstm(torch.from_numpy(x))[0].detach().numpy()))
    ('LSTM', True)
    """
    import_torch()                                          # the install hint first, if torch is missing
    if is_torch_model(module):
        return sequential_from_torch(module, dtype)
    if isinstance(module, classes()["RecurrentBlock"]):
        return block_from_torch(module, dtype, rng)
    return layer_from_torch(module, dtype, rng)


def to_torch(obj, batch_first: bool = True):
    """Convert an rnnkit layer or built ``Sequential`` to the equivalent PyTorch module, weights copied exactly.

    Layers: ``RNN`` -> ``nn.RNN``, ``LSTM`` -> ``nn.LSTM``, ``GRU(reset_after=True)`` -> ``nn.GRU`` (same
    ``hidden_size``, ``num_layers``, ``bidirectional``, ``dropout``, nonlinearity), ``Dense`` without
    activation -> ``nn.Linear``; the module is ``batch_first`` unless told otherwise, and always returns
    the whole output sequence and the final state (a layer with ``return_sequences=False`` returns the
    last step of each direction, ``h_n[-num_directions:]``). A ``Sequential`` -> an ``RnnkitSequential``
    (batch-first, in eval mode) whose ``forward(x, lengths=None)`` equals ``model.predict``. The module
    has the weights' dtype and lives on the CPU.

    Parameters
    ----------
    obj : Layer or Sequential
        A built ``RNN``, ``LSTM``, ``GRU(reset_after=True)`` or ``Dense`` layer, or a built ``Sequential``.
    batch_first : bool, optional
        Make a layer's module batch-first. Default True; a model is always batch-first.

    Returns
    -------
    torch.nn.Module
        ``nn.RNN``, ``nn.LSTM``, ``nn.GRU`` or ``nn.Linear`` for a layer, an ``RnnkitSequential`` for a model.

    Raises
    ------
    ValueError
        For the seed-form ``GRU(reset_after=False)``, ``merge`` other than "concat" on a single layer (a
        model supports "sum" / "mean" for one-layer recurrent layers), anything not built (naming the
        layer of a model), or ``batch_first=False`` with a model.
    ImportError
        If PyTorch is not installed.

    Examples
    --------
    >>> import torch
    >>> from rnnkit.interop.torch import from_torch, to_torch
    >>> _ = torch.manual_seed(0)
    >>> gru = torch.nn.GRU(3, 4, batch_first=True)
    >>> back = to_torch(from_torch(gru))
    >>> pairs = zip(gru.state_dict().values(), back.state_dict().values())
    >>> type(back).__name__, all(torch.equal(a, b) for a, b in pairs)
    ('GRU', True)
    """
    if isinstance(obj, Sequential):
        if not batch_first:
            raise ValueError("to_torch: batch_first=False applies to single layers; a model becomes an "
                             "RnnkitSequential, batch-first like rnnkit")
        return sequential_to_torch(obj)
    return layer_to_torch(obj, batch_first)
