"""ONNX export of a built ``Sequential``: ``export(model, path)`` (also ``model.export_onnx(path)``).

Every layer becomes ONNX's own operators (the table in ``rnnkit.export._layers``), so the file runs
in onnxruntime or any ONNX runtime with no custom operator; ``rnnkit.runtime.OnnxModel`` wraps it with
``predict`` / ``step``. onnx is an optional dependency (``pip install 'rnnkit[onnx]'``), imported here
only when ``export`` is called.

The graph (float32; a float64 model's weights are rounded to float32, since onnxruntime's recurrent
kernels are float32 only):

======================  =====================================  ================================================
name                    shape                                  meaning
======================  =====================================  ================================================
``x`` (input)           (batch, time, F) float32               the padded input; int64 token ids (batch, time)
                                                               for a model starting with Embedding; (batch, F)
                                                               for a model without a time axis (Dense only).
                                                               Flatten(steps) fixes ``time`` to ``steps``
``lengths`` (input)     (batch,) int32                         each sequence's length, in [1, time]; present
                                                               when the model has a recurrent layer, a
                                                               TemporalPooling or per-step outputs (feed
                                                               ``time`` for full sequences)
``h0_<i>`` (input)      (num_layers * dirs, batch, H) float32  initial hidden state of recurrent layer i
                                                               (its index in ``model.layers``); zeros to start
``c0_<i>`` (input)      same                                   initial cell state of an LSTM layer i
``y`` (output)          (batch, time, K) or (batch, K)         what ``model.predict`` returns: per-step outputs
                                                               zero past each length, or one row per sequence
``hn_<i>``, ``cn_<i>``  like ``h0_<i>``, ``c0_<i>``            final states (each sequence's state after its
(outputs)                                                      last valid step; the reverse direction's after
                                                               its first step), in ``Recurrent.forward``'s
                                                               PyTorch layout: sub-RNN k = layer * dirs + dir
======================  =====================================  ================================================

``batch`` and ``time`` are dynamic. Streaming: run the same graph with time = 1, lengths = 1 and the
previous step's ``hn_<i>`` / ``cn_<i>`` fed as ``h0_<i>`` / ``c0_<i>`` (unidirectional models without
TemporalPooling only: a pooled output needs the whole sequence).

``metadata_props`` (strings): ``rnnkit.version``; ``rnnkit.loss`` (the compiled loss, "" if none);
``rnnkit.classes`` (JSON: ``classes_`` or null); ``rnnkit.metadata`` (JSON: the ``metadata`` argument,
or the model's own ``model.metadata``: vocabulary, scalers, task info); ``rnnkit.layout`` (JSON: the
names and shapes above, ``tokens``, ``vocab_size``, ``input_size``, ``output_size``, ``time_steps``,
``sequence_input``, ``sequence_output``, ``states`` [{"layer", "cell", "inputs", "outputs", "shape",
"bidirectional"}], ``pooling`` (the TemporalPooling modes, in layer order; [] if none), ``ctc_blank``,
``model_dtype``, ``quantize``, ``opset``).

``quantize``: None (float32 weights); "fp16" stores every weight as float16 with a Cast to float32
before use (half the size, float32 compute; ``_graph.Graph.weight``); "int8" runs onnxruntime's dynamic
quantization on the exported graph and stores GRU / RNN weights as int8 with per-row scales
(``_quantize.int8``, which says what it covers).
"""
from __future__ import annotations

import json

from .. import _labels
from .._atomic import atomic_write
from .._optional import require
from .._version import __version__
from ..layers import Embedding, Flatten, Recurrent, TemporalPooling
from . import _quantize
from ._graph import Graph, Value
from ._layers import Flow, check_layers, emit, step_mask

__all__ = ["export", "build_graph", "MIN_OPSET", "QUANTIZE"]

MIN_OPSET = 14
QUANTIZE = (None, "int8", "fp16")
#: reduce ops whose ``axes`` became an input at this opset (an attribute before); the graph writes the input
AXES_INPUT_SINCE = {"ReduceMax": 18}

def export(model, path, opset: int = 17, quantize: str | None = None, metadata: dict | None = None):
    """Write ``model`` (a built ``Sequential``) to ``path`` as an ONNX graph, atomically.

    Parameters
    ----------
    model : Sequential
        A built model.
    path : str or os.PathLike
        Destination ``.onnx`` file.
    opset : int, optional
        The ONNX opset, MIN_OPSET (14) up to the installed onnx's newest (onnxruntime 1.32 runs 14 to 25).
        Default 17.
    quantize : {None, "int8", "fp16"}, optional
        Weight quantization (module docstring); ``"float16"`` is read as ``"fp16"``. Default None.
    metadata : dict, optional
        JSON data stored in the file. Default None (the model's own ``model.metadata``).

    Returns
    -------
    str or os.PathLike
        ``path``, as given.

    Raises
    ------
    ValueError
        For an unbuilt model, a layer or option with no ONNX equivalent (naming the layer index, class
        and option) or a bad argument (``opset``, ``quantize``).
    TypeError
        For metadata that is not JSON data.
    ImportError
        Without onnx (or, for "int8", onnxruntime).

    Examples
    --------
    >>> from rnnkit import Sequential
    >>> from rnnkit.layers import LSTM, Dense
    >>> from rnnkit.export.onnx import export
    >>> model = Sequential([LSTM(4), Dense(1)], seed=0).build(2)
    >>> export(model, "model.onnx", metadata={"units": "kWh"})
    'model.onnx'
    """
    onnx = require("onnx", "onnx", "ONNX export")
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= newest:
        raise ValueError(f"opset: expected an int in [{MIN_OPSET}, {newest}] (the installed onnx's newest), "
                         f"got {opset!r}")
    quantize = "fp16" if quantize == "float16" else quantize     # the name rnnkit's own files use
    if quantize not in QUANTIZE:
        raise ValueError(f"quantize: expected one of {QUANTIZE} ('float16' for 'fp16'), got {quantize!r:.50}")
    if metadata is None:
        metadata = getattr(model, "metadata", None) or {}
    try:
        meta_json = json.dumps(metadata, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise TypeError(f"metadata: expected JSON data (dicts, lists, str, finite numbers, bool, None), "
                        f"got {e}") from None
    graph, layout = build_graph(model, fp16=quantize == "fp16")
    layout.update(quantize=quantize, opset=opset)
    proto = to_proto(onnx, graph, opset)
    if quantize == "int8":
        proto = _quantize.int8(onnx, proto)
    props = {"rnnkit.version": __version__, "rnnkit.loss": model.loss or "",
             "rnnkit.classes": json.dumps(_labels.to_json(getattr(model, "classes_", None))),
             "rnnkit.metadata": meta_json, "rnnkit.layout": json.dumps(layout)}
    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, props)
    onnx.checker.check_model(proto, full_check=True)
    data = proto.SerializeToString()
    with atomic_write(path) as fh:
        fh.write(data)
    return path


def build_graph(model, fp16: bool = False):
    """``(Graph, layout)``: the model as plain nodes and initializers (no onnx needed), and the layout
    dict stored as ``rnnkit.layout``. Raises ValueError as ``export`` does."""
    if getattr(model, "input_size", None) is None or not all(l.built for l in model.layers):
        raise ValueError("model: not built; call model.build(input_size) or fit it before exporting")
    layers = model.layers
    check_layers(layers)
    tokens = isinstance(layers[0], Embedding)
    steps = next((l.steps for l in layers if isinstance(l, Flatten)), None)
    pools = [l.mode for l in layers if isinstance(l, TemporalPooling)]
    seq_in = tokens or steps is not None or bool(pools) or any(isinstance(l, Recurrent) for l in layers)
    seq_out = model.output_is_sequence(seq_in)
    T = "time" if steps is None else steps
    g = Graph(fp16)
    x_shape = ("batch", T) if tokens else ("batch", T, model.input_size) if seq_in else ("batch", model.input_size)
    x = g.input("x", "int64" if tokens else "float32", x_shape)
    needs_lengths = any(isinstance(l, Recurrent) for l in layers) or bool(pools) or (seq_in and seq_out)
    lengths = g.input("lengths", "int32", ("batch",)) if needs_lengths else None
    flow = Flow(x, False, seq_in, model.input_size)
    for i, layer in enumerate(layers):
        flow = emit(g, i, layer, flow, lengths)
    y = flow.name
    if flow.time_major:
        y = g.op("Transpose", [y], "batch_major", perm=[1, 0, 2])
    if seq_out and lengths is not None:
        y = step_mask(g, y, lengths)
    g.op("Identity", [y], outputs=["y"])
    y_shape = ("batch", T, flow.size) if seq_out else ("batch", flow.size)
    g.outputs.insert(0, Value("y", "float32", y_shape))          # y first, then the final states
    states = [{"layer": i, "cell": l.cell.name, "inputs": [f"{s}0_{i}" for s in l.cell.state_names],
               "outputs": [f"{s}n_{i}" for s in l.cell.state_names], "bidirectional": l.bidirectional,
               "shape": [l.num_layers * l.num_directions, "batch", l.hidden_size]}
              for i, l in enumerate(layers) if isinstance(l, Recurrent)]
    layout = {"x": {"name": "x", "dtype": "int64" if tokens else "float32", "shape": list(x_shape)},
              "lengths": lengths, "y": {"name": "y", "dtype": "float32", "shape": list(y_shape)},
              "states": states, "pooling": pools, "tokens": tokens,
              "vocab_size": layers[0].vocab_size if tokens else None,
              "input_size": model.input_size, "output_size": flow.size, "time_steps": steps,
              "sequence_input": seq_in, "sequence_output": seq_out, "model_dtype": model.dtype.name,
              "ctc_blank": getattr(model, "ctc_blank", 0) if model.loss else 0}
    return g, layout


def to_proto(onnx, g: Graph, opset: int):
    """The ``Graph`` as an ``onnx.ModelProto`` for ``opset`` (producer rnnkit). A reduce op older than its
    ``AXES_INPUT_SINCE`` opset gets its constant axes input as the ``axes`` attribute instead."""
    helper, TP = onnx.helper, onnx.TensorProto
    types = {"float32": TP.FLOAT, "int32": TP.INT32, "int64": TP.INT64}
    moved = set()

    def node(n):
        attrs = {k: types[v] if k == "to" else v for k, v in n.attrs.items()}
        inputs = list(n.inputs)
        if opset < AXES_INPUT_SINCE.get(n.op_type, 0) and len(inputs) > 1:
            attrs["axes"] = g.initializers[inputs[1]].tolist()
            moved.add(inputs.pop(1))
        return helper.make_node(n.op_type, inputs, list(n.outputs), **attrs)

    nodes = [node(n) for n in g.nodes]
    read = {name for n in nodes for name in n.input}
    inits = [onnx.numpy_helper.from_array(v, k) for k, v in g.initializers.items() if k in read or k not in moved]
    ins = [helper.make_tensor_value_info(v.name, types[v.dtype], list(v.shape)) for v in g.inputs]
    outs = [helper.make_tensor_value_info(v.name, types[v.dtype], list(v.shape)) for v in g.outputs]
    graph = helper.make_graph(nodes, "rnnkit", ins, outs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="rnnkit",
                             producer_version=__version__, doc_string="exported by rnnkit.export.onnx")
