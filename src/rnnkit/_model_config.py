"""How ``Sequential`` describes itself: as JSON data and back (``get_config`` / ``from_config``; the
layers through ``rnnkit.io``'s class registry, the compile settings with the optimizer's config), and
as a table (``summary``)."""
from __future__ import annotations

import warnings

import numpy as np

from . import _labels, io
from .layers import Embedding, Flatten, Recurrent
from .ops import _checks
from .quantize import MODES

CONFIG_KEYS = tuple(k for k in io.CONFIG_KEYS if k != "metadata")   # the model's part of a file's header
OPTIONAL_KEYS = ("classes",)          # absent from files written before it existed: None
# not part of get_config(): a model file's quantization, which ``io.ModelFile.config`` adds for ``load``
QUANTIZED_KEY = "quantized"


def get_config(model) -> dict:
    layers = [io.layer_spec(i, layer) for i, layer in enumerate(model.layers)]
    if model.input_size is None and any(l.built for l in model.layers):
        raise ValueError("save: some layers are built but the model is not; call model.build(input_size)")
    return {"layers": layers, "dtype": model.dtype.name, "seed": model.seed, "input_size": model.input_size,
            "compile": _compile_config(model), "classes": _labels.to_json(getattr(model, "classes_", None))}


def _compile_config(model):
    if model.loss is None:
        return None
    metrics = []
    for key in model.metrics:
        if isinstance(key, str):
            metrics.append(key)
        else:
            warnings.warn(f"save: the custom metric {key!r} is not stored in the model file "
                          "(only named metrics are); pass it to compile() again after loading",
                          stacklevel=5)
    return {"loss": model.loss,
            "optimizer": {"name": io.optimizer_name(model.optimizer), "config": model.optimizer.get_config()},
            "metrics": metrics, "clip_norm": model.clip_norm, "clip_value": model.clip_value,
            "l1": model.l1, "l2": model.l2, "regularize": list(model.regularize), "ctc_blank": model.ctc_blank}


def from_config(cls, config: dict, build: bool = True):
    if not isinstance(config, dict):
        raise TypeError(f"config: expected a dict from Sequential.get_config(), got {type(config).__name__}")
    missing = [k for k in CONFIG_KEYS if k not in config and k not in OPTIONAL_KEYS]
    if missing:
        raise ValueError(f"config: missing keys {missing} (expected {list(CONFIG_KEYS)})")
    model = cls(io.layers_from_specs(config["layers"]), seed=config["seed"], dtype=config["dtype"])
    if build and config["input_size"] is not None:
        model.build(config["input_size"])
    settings = config["compile"]
    if settings is not None:
        optimizer = io.optimizer_from_config(settings)
        model.compile(loss=settings["loss"], optimizer=optimizer, metrics=settings["metrics"],
                      clip_norm=settings["clip_norm"], clip_value=settings["clip_value"],
                      l1=settings["l1"], l2=settings["l2"], regularize=settings["regularize"],
                      ctc_blank=settings["ctc_blank"])
    model.classes_ = _classes(config.get("classes"), model, config["input_size"])
    quantized = config.get(QUANTIZED_KEY)
    if quantized is not None and (not isinstance(quantized, str) or quantized not in MODES):
        raise ValueError(f"config 'quantized': expected null or one of {list(MODES)}, got {quantized!r:.50}")
    if quantized is not None:
        model.quantized = quantized          # the weights were dequantized from this (Sequential.load)
    return model


def _classes(value, model, input_size):
    """A config's "classes" (null or a list of unique str/int/float/bool labels), checked against the
    output when the model's loss and input size are known (ValueError if they do not fit)."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float, bool)) for v in value):
        raise ValueError(f"config 'classes': expected null or a list of labels (str, int, float or bool), "
                         f"got {value!r:.200}")
    classes = _labels.as_classes(value)
    if input_size is not None and model.loss in _labels.LABEL_LOSSES:
        size = input_size
        for layer in model.layers:
            size = layer.output_size(size)
        _labels.check_fits(classes, model.loss, size)
    return classes


def summary(model, input_size=None) -> str:
    """The table of layers, output shapes and parameter counts, for ``input_size`` inputs (default the
    built model's; counted from ``weight_shapes``, so nothing is built)."""
    if input_size is not None:
        input_size = _checks.check_int(input_size, "input_size", minimum=1)
        if model.input_size is not None and input_size != model.input_size:
            raise ValueError(f"input_size: the model is built for {model.input_size} inputs, got {input_size}")
    size = model.input_size if input_size is None else input_size
    lines = [f"{'layer':<36}{'output':<22}{'params':>10}", "-" * 68]
    if size is None:
        lines += [f"{repr(layer)[:35]:<36}{'?':<22}{'?':>10}" for layer in model.layers]
        return "\n".join(lines + ["-" * 68, "total parameters: ? (the model is not built; summary(input_size=F) "
                                   "counts them for F input features, or a vocabulary of F tokens for an "
                                   "Embedding, as do build(F) and fit)"])
    shapes = model.weight_shapes(size)
    seq_flag = any(isinstance(l, (Recurrent, Embedding, Flatten)) for l in model.layers)   # input has time
    total = 0
    for i, layer in enumerate(model.layers):
        size = layer.output_size(size)
        seq_flag = layer.returns_sequence(seq_flag)
        shape = f"(B, T, {size})" if seq_flag else f"(B, {size})"
        n = sum(int(np.prod(v)) for k, v in shapes.items() if k.split(".", 1)[0] == str(i))
        total += n
        lines.append(f"{repr(layer)[:35]:<36}{shape:<22}{n:>10,}")
    lines += ["-" * 68, f"total parameters: {total:,}"]
    return "\n".join(lines)
