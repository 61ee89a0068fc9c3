"""rnnkit layers as ONNX operators, on the dependency-free ``_graph.Graph``.

=========  ==============================================================================================
layer      ONNX
=========  ==============================================================================================
Embedding  ``Gather(E, ids)``
Dense      ``MatMul(x, W_y^T) + c`` then its activation (Sigmoid, Tanh, Relu, LeakyRelu(0.01); none for
           linear). MatMul rather than Gemm on 2-D inputs too: onnxruntime's dynamic int8 quantization
           covers MatMul, not Gemm.
Dropout    nothing (inference)
Flatten    ``Reshape(x, [0, steps * F])``
RNN        one ONNX ``RNN`` per stacked layer (``activations`` Tanh or Relu)
LSTM       one ONNX ``LSTM`` per stacked layer
GRU        one ONNX ``GRU`` per stacked layer: ``linear_before_reset=1`` is ``reset_after=True``
           (PyTorch's form), ``0`` the seed form (reset gate before the recurrent product)
Temporal-  mean: ``Where(valid, x, 0)``, ``ReduceSum`` over time, ``Div`` by the length; max:
Pooling    ``Where(valid, x, -inf)`` then ``ReduceMax`` over time (``valid``: the step mask of ``lengths``)
=========  ==============================================================================================

Recurrent weights. ONNX stacks the directions, ``W`` (dirs, G*H, D), ``R`` (dirs, G*H, H), ``B`` (dirs,
2*G*H) = [bias of W; bias of R], with its own gate order: LSTM [i, o, f, c] (ours [i, f, g, o], c = g),
GRU [z, r, h] (ours [r, z, n]). ONNX's GRU writes H_t = (1 - z) h~ + z H_{t-1}, PyTorch's sense, so its
z rows are ours negated (1 - σ(a) = σ(-a), exact; see ``rnnkit.interop.torch``).

The graph runs time-major inside, (T, B, F), because onnxruntime supports only ``layout=0`` for the
recurrent operators; one Transpose enters and one leaves. ``sequence_lens`` carries ``lengths``:
onnxruntime's kernels stop each sequence at its length, zero the outputs past it, run the reverse
direction over the valid steps only and return each sequence's own final state, as rnnkit does.
Bidirectional outputs are merged per step (and for the last step, the two final states) by the
layer's ``merge``: "concat" Transpose + Reshape, "sum" ReduceSum, "mean" ReduceSum * 0.5.

Reduce axes are written as an input (ReduceSum's form since opset 13, ReduceMax's since opset 18);
``onnx.to_proto`` moves ReduceMax's into its attribute for opsets 14 to 17.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..layers import GRU, LSTM, RNN, Dense, Dropout, Embedding, Flatten, Recurrent, TemporalPooling
from ._graph import Graph

SUPPORTED = (Embedding, Dense, Dropout, Flatten, Recurrent, RNN, LSTM, GRU, TemporalPooling)
CELL_OPS = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
ACTIVATIONS = {None: None, "linear": None, "sigmoid": ("Sigmoid", {}), "tanh": ("Tanh", {}),
               "relu": ("Relu", {}), "leaky_relu": ("LeakyRelu", {"alpha": 0.01})}
MERGES = ("concat", "sum", "mean")


class Flow(NamedTuple):
    """The tensor between two layers: its name, whether it is time-major (T, B, F), whether it has a
    time axis, and its feature size."""
    name: str
    time_major: bool
    seq: bool
    size: int


def refuse(i, layer, option, why):
    raise ValueError(f"layers[{i}] ({type(layer).__name__}): {option} {why}; ONNX export supports "
                     "Embedding (first layer), Dense, Dropout, Flatten, TemporalPooling and RNN / LSTM / GRU "
                     "layers")


def check_layers(layers):
    """ValueError naming the first layer (index, class, option) that has no ONNX equivalent."""
    for i, layer in enumerate(layers):
        if type(layer) not in SUPPORTED:         # a subclass may compute anything: refuse it too
            why = ("has no ONNX export yet; TemporalPooling('max') or ('mean') exports" if
                   type(layer).__name__ == "AttentionPooling" else "has no ONNX mapping (a custom layer)")
            refuse(i, layer, "the layer class", why)
        if isinstance(layer, Embedding) and i:
            refuse(i, layer, "position", "is not first: an Embedding reads token ids, the model's input")
        if isinstance(layer, Dense) and layer.activation not in ACTIVATIONS:
            refuse(i, layer, f"activation={layer.activation!r}", "has no ONNX operator here")
        if isinstance(layer, Recurrent):
            if layer.cell.name not in CELL_OPS:
                refuse(i, layer, f"cell={layer.cell.name!r}", "is not an ONNX operator (ONNX has rnn, lstm, gru)")
            if layer.merge not in MERGES:
                refuse(i, layer, f"merge={layer.merge!r}", f"has no ONNX form (expected one of {MERGES})")


def onnx_gate_rows(cell: str, a: np.ndarray) -> np.ndarray:
    """A fused array with rnnkit's gate rows (axis 0) -> ONNX's gate order, as a new array."""
    if cell == "lstm":
        i, f, g, o = np.split(a, 4)
        return np.concatenate([i, o, f, g])
    if cell == "gru":
        r, z, n = np.split(a, 3)
        return np.concatenate([-z, r, n])
    return np.array(a, copy=True)


# ----------------------------------------------------------------------------------------------
# Layout helpers.

def batch_major(g: Graph, flow: Flow) -> Flow:
    if not flow.time_major:
        return flow
    return flow._replace(name=g.op("Transpose", [flow.name], "batch_major", perm=[1, 0, 2]), time_major=False)


def time_major(g: Graph, flow: Flow) -> Flow:
    if flow.time_major:
        return flow
    return flow._replace(name=g.op("Transpose", [flow.name], "time_major", perm=[1, 0, 2]), time_major=True)


def valid_steps(g: Graph, y: str, lengths: str, time_axis: int = 1) -> str:
    """The boolean mask of valid steps of ``y``, with a trailing axis of 1: (B, T, 1) for a batch-major
    ``y`` (``time_axis`` 1), (T, B, 1) for a time-major one (``time_axis`` 0)."""
    steps = g.op("Gather", [g.op("Shape", [y], "shape"), g.const(time_axis, "time_axis")], "steps", axis=0)
    t = g.op("Range", [g.const(0, "zero"), steps, g.const(1, "one")], "t")
    lens = g.op("Unsqueeze", [g.op("Cast", [lengths], "lengths64", to="int64"), g.const([time_axis], "axes")],
                "lens")
    valid = g.op("Less", [g.op("Unsqueeze", [t, g.const([1 - time_axis], "axes")], "t_axis"), lens], "valid")
    return g.op("Unsqueeze", [valid, g.const([2], "axes")], "valid3")


def step_mask(g: Graph, y: str, lengths: str) -> str:
    """``y`` (B, T, K) times the (B, T, 1) mask of valid steps: zero past each length, as ``predict``."""
    mask = g.op("Cast", [valid_steps(g, y, lengths)], "mask", to="float32")
    return g.op("Mul", [y, mask], "masked")


# ----------------------------------------------------------------------------------------------
# The layers.

def embedding(g, i, layer, flow, lengths):
    return Flow(g.op("Gather", [g.weight(layer.params["E"], f"layers.{i}.E"), flow.name], f"layers.{i}.out",
                     axis=0), False, True, layer.dim)


def dense(g, i, layer, flow, lengths):
    y = g.op("MatMul", [flow.name, g.weight(layer.params["W_y"].T, f"layers.{i}.W_y_T")], f"layers.{i}.matmul")
    y = g.op("Add", [y, g.weight(layer.params["c"], f"layers.{i}.c")], f"layers.{i}.out")
    act = ACTIVATIONS[layer.activation]
    if act is not None:
        y = g.op(act[0], [y], f"layers.{i}.{layer.activation}", **act[1])
    return flow._replace(name=y, size=layer.units)


def dropout(g, i, layer, flow, lengths):
    return flow


def flatten(g, i, layer, flow, lengths):
    flow = batch_major(g, flow)
    size = layer.steps * flow.size
    return Flow(g.op("Reshape", [flow.name, g.const([0, size], "shape")], f"layers.{i}.out"), False, False, size)


def _merge(g, y, layer, axis, hint):
    """Merge the direction axis ``axis`` of a recurrent op's output by the layer's ``merge``."""
    if layer.num_directions == 1:
        return g.op("Squeeze", [y, g.const([axis], "axes")], hint)
    if layer.merge == "concat":      # (..., dirs, B, H) -> (..., B, dirs, H) -> (..., B, dirs * H)
        perm = [0, 2, 1, 3] if axis == 1 else [1, 0, 2]
        shape = [0, 0, 2 * layer.hidden_size] if axis == 1 else [0, 2 * layer.hidden_size]
        return g.op("Reshape", [g.op("Transpose", [y], hint + "_t", perm=perm), g.const(shape, "shape")], hint)
    total = g.op("ReduceSum", [y, g.const([axis], "axes")], hint + "_sum", keepdims=0)
    if layer.merge == "sum":
        return total
    return g.op("Mul", [total, g.const(0.5, "half", np.float32)], hint)


def recurrent(g, i, layer, flow, lengths):
    """One ONNX op per stacked layer; adds the state inputs h0_i (c0_i) and outputs hn_i (cn_i)."""
    cell, H, L, dirs = layer.cell.name, layer.hidden_size, layer.num_layers, layer.num_directions
    x = time_major(g, flow).name
    shape = (L * dirs, "batch", H)
    init = [g.input(f"{s}0_{i}", "float32", shape) for s in layer.cell.state_names]
    attrs = {"hidden_size": H, "direction": "bidirectional" if dirs == 2 else "forward"}
    if cell == "rnn":
        attrs["activations"] = [layer.cell_options["nonlinearity"].capitalize()] * dirs
    if cell == "gru":
        attrs["linear_before_reset"] = int(layer.cell_options["reset_after"])
    finals = [[] for _ in init]
    for l in range(L):
        subs = [layer.sub_params(s) for ll, _, s in layer.suffixes() if ll == l]
        W, R, B = (np.stack([np.concatenate([onnx_gate_rows(cell, p[k]) for k in keys]) for p in subs])
                   for keys in (("W_x",), ("W_h",), ("b", "b_h")))
        ins = [x, g.weight(W, f"layers.{i}.W_l{l}"), g.weight(R, f"layers.{i}.R_l{l}"),
               g.weight(B, f"layers.{i}.B_l{l}"), lengths]
        for s in init:       # this layer's rows of the (L * dirs, B, H) state
            ins.append(s if L == 1 else g.op("Slice", [s, g.const([l * dirs], "start"),
                                                       g.const([(l + 1) * dirs], "end"), g.const([0], "axes")],
                                             f"{s}_l{l}"))
        keep_y = l < L - 1 or layer.return_sequences
        outs = [g.fresh(f"layers.{i}.y_l{l}") if keep_y else ""]
        outs += [g.fresh(f"layers.{i}.{s}_l{l}") for s in layer.cell.state_names]
        g.op(CELL_OPS[cell], ins, outputs=outs, **attrs)
        for k, o in enumerate(outs[1:]):
            finals[k].append(o)
        if keep_y:
            x = _merge(g, outs[0], layer, 1, f"layers.{i}.out_l{l}")
    for s, parts in zip(layer.cell.state_names, finals):
        name = f"{s}n_{i}"
        if L > 1:
            g.op("Concat", parts, outputs=[name], axis=0)
        else:
            g.op("Identity", parts, outputs=[name])
        g.output(name, "float32", shape)
    size = layer.output_size(flow.size)
    if layer.return_sequences:
        return Flow(x, True, True, size)
    return Flow(_merge(g, finals[0][-1], layer, 0, f"layers.{i}.out"), False, False, size)


def pooling(g, i, layer, flow, lengths):
    """The mean or max over each sequence's valid steps (``layers.pooling``), reduced on the time axis
    where the flow has it (no Transpose). Padded steps are replaced, not multiplied: a per-step Dense
    before the pooling leaves its bias there, and a max must never see them."""
    axis = 0 if flow.time_major else 1
    valid = valid_steps(g, flow.name, lengths, axis)
    fill = 0.0 if layer.mode == "mean" else -np.inf
    x = g.op("Where", [valid, flow.name, g.const(fill, "fill", np.float32)], f"layers.{i}.masked")
    axes = g.const([axis], "axes")
    if layer.mode == "max":
        return Flow(g.op("ReduceMax", [x, axes], f"layers.{i}.out", keepdims=0), False, False, flow.size)
    total = g.op("ReduceSum", [x, axes], f"layers.{i}.sum", keepdims=0)
    count = g.op("Unsqueeze", [g.op("Cast", [lengths], f"layers.{i}.count", to="float32"), g.const([1], "axes")],
                 f"layers.{i}.count_col")
    return Flow(g.op("Div", [total, count], f"layers.{i}.out"), False, False, flow.size)


EMITTERS = {Embedding: embedding, Dense: dense, Dropout: dropout, Flatten: flatten, TemporalPooling: pooling}


def emit(g: Graph, i: int, layer, flow: Flow, lengths: str | None) -> Flow:
    """Layer ``i`` applied to ``flow``; returns the new flow."""
    fn = recurrent if isinstance(layer, Recurrent) else EMITTERS[type(layer)]
    return fn(g, i, layer, flow, lengths)
