"""How ``Sequential`` describes itself: as JSON data and back (``get_config`` / ``from_config``; the
layers through ``rnnkit.io``'s class registry, the compile settings with the optimizer's config), and
as a table (``summary``)."""
from __future__ import annotations

import warnings

from . import io
from .layers import Embedding, Flatten, Recurrent

CONFIG_KEYS = tuple(k for k in io.CONFIG_KEYS if k != "metadata")   # the model's part of a file's header


def get_config(model) -> dict:
    layers = [io.layer_spec(i, layer) for i, layer in enumerate(model.layers)]
    if model.input_size is None and any(l.built for l in model.layers):
        raise ValueError("save: some layers are built but the model is not; call model.build(input_size)")
    return {"layers": layers, "dtype": model.dtype.name, "seed": model.seed, "input_size": model.input_size,
            "compile": _compile_config(model)}


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
    missing = [k for k in CONFIG_KEYS if k not in config]
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
    return model


def summary(model) -> str:
    if model.input_size is None:
        raise RuntimeError("summary: the model is not built yet (call build(input_size) or fit)")
    lines = [f"{'layer':<36}{'output':<22}{'params':>10}", "-" * 68]
    seq_flag = any(isinstance(l, (Recurrent, Embedding, Flatten)) for l in model.layers)   # input has time
    size, total = model.input_size, 0
    for layer in model.layers:
        size = layer.output_size(size)
        seq_flag = layer.returns_sequence(seq_flag)
        shape = f"(B, T, {size})" if seq_flag else f"(B, {size})"
        n = layer.num_params()
        total += n
        lines.append(f"{repr(layer)[:35]:<36}{shape:<22}{n:>10,}")
    lines += ["-" * 68, f"total parameters: {total:,}"]
    return "\n".join(lines)
