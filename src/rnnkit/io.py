"""Saving and loading models: one documented file format, no pickle, atomic writes.

    model.save("sentiment.npz", metadata={"vocab": vocab.tokens})
    model = Sequential.load("sentiment.npz")
    model.metadata["vocab"]

This module reads and writes the file format: the header and the arrays, their safety checks, and the
registry of layer classes a file may name. It knows nothing of ``Sequential``: the model turns itself
into a config and arrays (``Sequential.get_config``) and back (``Sequential.from_config``).

The file format "rnnkit-model", format_version 1
-------------------------------------------------
A model file is a ZIP archive of NumPy ``.npy`` arrays: exactly what ``numpy.savez`` writes (no
compression), so ``numpy.load(path, allow_pickle=False)`` reads it and other tools can too. Entries:

``header.npy``
    a 1-D ``uint8`` array holding UTF-8 JSON (an object) with the keys

    ``format``           ``"rnnkit-model"``
    ``format_version``   ``1`` (an integer; a reader refuses versions newer than it knows)
    ``rnnkit_version``   the version of rnnkit that wrote the file (informational)
    ``layers``           the architecture, in order: a list of ``{"class": name, "config": {...}}``,
                         where ``name`` is a key of ``LAYER_CLASSES`` ("Dense", "Embedding", "Dropout",
                         "Flatten", "RNN", "LSTM", "GRU", "Recurrent") and ``config`` is the layer's
                         ``get_config()`` (its constructor's keyword arguments)
    ``dtype``            ``"float32"`` or ``"float64"``: the model's dtype
    ``seed``             the model's seed (an integer or null)
    ``input_size``       input features (or vocabulary size) the model was built for; null if unbuilt
    ``compile``          null, or the compile settings: ``{"loss", "optimizer": {"name", "config"},
                         "metrics": [names], "clip_norm", "clip_value", "l1", "l2", "regularize", "ctc_blank"}``
    ``metadata``         null or a JSON object chosen by the user (e.g. a vocabulary)
    ``weights``          ``[{"name", "dtype", "shape"}]``, one per weight, in the model's order
    ``checksum``         ``{"algorithm": "sha256", "value": hex}`` over the weights (below)

``<layer_index>.<name>.npy`` (e.g. ``0.W_y.npy``, ``1.W_x_l0_reverse.npy``)
    one array per weight, named as ``Sequential.get_weights()`` names them; little-endian, of the
    model's dtype, with the seed's orientation ``(out, in)``.

The checksum is the SHA-256, over the weights in the header's order, of
``b"<name>|<dtype.str>|<shape joined by ','>\\n"`` followed by the array's bytes (C order,
little-endian). It catches a damaged or edited file; it is not a signature (anybody who edits a file
can recompute it).

What is not stored: the optimiser's state (moments, step count) and the random generator's state.
A loaded model predicts bit-identically to the saved one; training it resumes with a fresh
optimiser state (Adam restarts its bias correction) and a random generator freshly seeded with
``seed``. Custom metric callables are not stored (a warning says so); only named metrics are.

Safety
------
Loading never unpickles and never runs code from the file: the header is JSON, arrays are read
from their ``.npy`` headers (parsed by NumPy's literal parser) and raw bytes, object arrays are
refused before their data is read, and layer classes come from the explicit registry
``LAYER_CLASSES`` (a name in the file is only a dictionary key, never imported). Every problem
(not a ZIP archive, a truncated file, a wrong format name, a newer format_version, an unknown layer
class, a config key the class does not accept, missing / extra / mis-shaped / wrongly typed
weights, a checksum mismatch, a pickle) raises ``ModelFileError`` (a ``ValueError``) naming the file
and the problem.

Writes are atomic: the archive goes to a temporary file in the target's directory, is flushed and
fsync'ed, then renamed over ``path`` with ``os.replace``. If anything fails on the way, the temporary
file is removed and a previous file at ``path`` is left as it was.
"""
from __future__ import annotations

import inspect
import json
import os
import zipfile

import numpy as np

from . import __version__, optim
from ._archive import (
    COMPILE_KEYS,
    DTYPES,
    FORMAT_NAME,
    FORMAT_VERSION,
    HEADER_ENTRY,
    ModelFileError,
    Reader,
    check_json_data,
    is_int,
    json_default,
    parse_header,
    weights_checksum,
)
from ._atomic import atomic_write
from .layers import GRU, LSTM, RNN, Dense, Dropout, Embedding, Flatten, Layer, Recurrent

#: The layer classes a file may name. A file's class name is looked up here and nowhere else.
LAYER_CLASSES: dict = {cls.__name__: cls for cls in (Dense, Embedding, Dropout, Flatten, RNN, LSTM, GRU,
                                                     Recurrent)}
#: How much larger than its stored (compressed) size an entry may be: rnnkit writes uncompressed
#: archives, and real weights or JSON deflate by far less; a deflate bomb expands ~1000x.
MAX_EXPANSION = 50
#: The keys of the model's config as stored in the header (everything but the format's own keys).
CONFIG_KEYS = ("layers", "dtype", "seed", "input_size", "compile", "metadata")


def register_layer(cls, name: str | None = None):
    """Allow a custom ``Layer`` subclass in model files (under ``name``, default its class name).

    Its ``get_config()`` must return its constructor's keyword arguments as JSON data.
    Usable as a class decorator.
    """
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise TypeError(f"register_layer: expected a subclass of rnnkit.layers.Layer, got {cls!r}")
    name = cls.__name__ if name is None else name
    if name in LAYER_CLASSES and LAYER_CLASSES[name] is not cls:
        raise ValueError(f"register_layer: the name {name!r} is already taken by {LAYER_CLASSES[name]!r}")
    LAYER_CLASSES[name] = cls
    return cls


# -- helpers shared by save and load -------------------------------------------------------------

def _accepted_kwargs(cls):
    """Names ``cls(**config)`` accepts, or None if it takes ``**kwargs`` (then anything goes)."""
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]  # drop self
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def _unaccepted_keys(cls, config):
    accepted = _accepted_kwargs(cls)
    return [] if accepted is None else sorted(set(config) - accepted)


# -- saving --------------------------------------------------------------------------------------

def layer_spec(i, layer) -> dict:
    """``{"class": name, "config": {...}}`` for layer ``i``, checked to be loadable again."""
    cls = type(layer)
    name = cls.__name__
    if LAYER_CLASSES.get(name) is not cls:
        raise ValueError(f"save: layer {i} is a {cls.__module__}.{cls.__qualname__}, which is not in "
                         f"rnnkit.io.LAYER_CLASSES (known: {sorted(LAYER_CLASSES)}); register it with "
                         "rnnkit.io.register_layer")
    config = layer.get_config()
    bad = _unaccepted_keys(cls, config)
    if bad:  # a layer whose get_config() disagrees with its constructor would write unloadable files
        raise ValueError(f"save: layer {i} ({name}): get_config() returns keys its constructor "
                         f"does not accept: {bad}")
    check_json_data(config, f"layer {i} ({name}) config")
    return {"class": name, "config": config}


def optimizer_name(opt) -> str:
    name = next((n for n, c in optim.OPTIMIZERS.items() if type(opt) is c), None)
    if name is None:
        raise ValueError(f"save: the optimizer {type(opt).__qualname__} is not one of "
                         f"{sorted(optim.OPTIMIZERS)}; a model file can only name those")
    return name


def write_model_file(path, config: dict, arrays: dict):
    """Write a model file: ``config`` (the keys ``CONFIG_KEYS``, JSON data) and the named weight
    ``arrays``, atomically. Returns ``path``."""
    metadata = config["metadata"]
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise TypeError(f"metadata: expected a dict of JSON data or None, got {type(metadata).__name__}")
        check_json_data(metadata, "metadata")
    arrays = {k: np.ascontiguousarray(v, dtype=v.dtype.newbyteorder("<")) for k, v in arrays.items()}
    names = list(arrays)
    header = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "rnnkit_version": __version__,
        **{k: config[k] for k in CONFIG_KEYS},
        "weights": [{"name": k, "dtype": arrays[k].dtype.str, "shape": list(arrays[k].shape)} for k in names],
        "checksum": {"algorithm": "sha256", "value": weights_checksum(names, arrays)},
    }
    text = json.dumps(header, default=json_default, allow_nan=False, ensure_ascii=False)
    path = os.fspath(path)
    with atomic_write(path) as fh:   # the same bytes as numpy.savez
        np.savez(fh, **{HEADER_ENTRY: np.frombuffer(text.encode("utf-8"), dtype=np.uint8)}, **arrays)
    return path


# -- loading -------------------------------------------------------------------------------------

def layers_from_specs(specs) -> list:
    """The layers named by a header's ``layers`` list, from the registry only (ValueError if bad)."""
    if not isinstance(specs, list) or not specs:
        raise ValueError("header 'layers': expected a non-empty list")
    layers = []
    for i, spec in enumerate(specs):
        if not isinstance(spec, dict) or set(spec) != {"class", "config"}:
            raise ValueError(f"layer {i}: expected {{'class': name, 'config': {{...}}}}, got {spec!r:.200}")
        name, config = spec["class"], spec["config"]
        cls = LAYER_CLASSES.get(name) if isinstance(name, str) else None
        if cls is None:
            raise ValueError(f"layer {i}: unknown layer class {name!r:.100} (known: {sorted(LAYER_CLASSES)})")
        if not isinstance(config, dict):
            raise ValueError(f"layer {i} ({name}): config must be a JSON object, got {type(config).__name__}")
        bad = _unaccepted_keys(cls, config)
        if bad:
            raise ValueError(f"layer {i} ({name}): config keys not accepted by {name}: {bad}")
        try:
            layers.append(cls(**config))
        except (TypeError, ValueError, KeyError) as e:
            raise ValueError(f"layer {i} ({name}): invalid config {config!r:.200} ({e})") from None
    return layers


def optimizer_from_config(settings):
    """The optimizer of a header's ``compile`` settings, its structure checked (ValueError if bad)."""
    if not isinstance(settings, dict) or set(settings) != set(COMPILE_KEYS):
        raise ValueError(f"header 'compile': expected null or an object with keys {list(COMPILE_KEYS)}")
    opt = settings["optimizer"]
    if not isinstance(opt, dict) or set(opt) != {"name", "config"} or not isinstance(opt["config"], dict):
        raise ValueError("header 'compile.optimizer': expected {'name': ..., 'config': {...}}")
    cls = optim.OPTIMIZERS.get(opt["name"]) if isinstance(opt["name"], str) else None
    if cls is None:
        raise ValueError(f"unknown optimizer {opt['name']!r:.100} (known: {sorted(optim.OPTIMIZERS)})")
    bad = _unaccepted_keys(cls, opt["config"])
    if bad:
        raise ValueError(f"optimizer {opt['name']}: config keys not accepted: {bad}")
    if not is_int(settings["ctc_blank"], 0):
        raise ValueError(f"header 'compile.ctc_blank': expected a non-negative integer, "
                         f"got {settings['ctc_blank']!r:.50}")
    reg = settings["regularize"]
    if not isinstance(reg, list) or not all(isinstance(p, str) for p in reg):
        raise ValueError("header 'compile.regularize': expected a list of name patterns")
    metrics = settings["metrics"]
    if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
        raise ValueError("header 'compile.metrics': expected a list of metric names")
    try:
        return cls(**opt["config"])
    except (TypeError, ValueError, KeyError) as e:
        raise ValueError(f"invalid compile settings ({e})") from None


class ModelFile:
    """An open model file: ``config`` (checked JSON) now, the weights on request.

        with ModelFile(path) as f:
            model = build_from(f.config)                  # the caller's job (Sequential.load)
            f.check_architecture(expected_shapes)         # names and shapes against the stored arrays
            weights = f.read_weights()                    # only now is weight data read; checksum checked

    Opening reads the ZIP directory and the ``.npy`` headers only (no weight data) and checks the
    header (its types, and its list of weights against the stored arrays). Every problem raises
    ``ModelFileError`` naming the file; ``fail(problem)`` makes one. The total work is bounded by the
    file's size: stored entries are at most ``MAX_EXPANSION`` times their compressed size, and an
    architecture is compared with the stored shapes before anything is allocated for it.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        if not os.path.exists(self.path):
            raise FileNotFoundError(f"{self.path}: no such model file")
        if os.path.isdir(self.path):
            raise ModelFileError(f"{self.path}: is a folder, not a model file")
        try:
            self._zf = zipfile.ZipFile(self.path)
        except zipfile.BadZipFile as e:
            raise ModelFileError(f"{self.path}: not a ZIP archive, or a truncated one ({e}); "
                                 "an rnnkit model file is a .npz archive") from None
        except (OSError, ValueError, EOFError, NotImplementedError, RuntimeError) as e:
            # NotImplementedError: an unsupported "version needed" or compression; RuntimeError: encrypted
            raise ModelFileError(f"{self.path}: cannot read the archive ({type(e).__name__}: {e})") from None
        try:
            self._reader = Reader(self.path, self._zf)
            self._header = self._guard(self._open)
        except BaseException:
            self._zf.close()
            raise
        self.config = {k: self._header[k] for k in CONFIG_KEYS}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._zf.close()

    def fail(self, problem) -> ModelFileError:
        return self._reader.fail(problem)

    def _guard(self, fn, *args):
        try:
            return fn(*args)
        except ModelFileError:
            raise
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError, RuntimeError) as e:
            # a damaged entry (CRC error, truncated data, unsupported compression) found while reading
            raise ModelFileError(f"{self.path}: damaged archive ({type(e).__name__}: {e})") from None

    def _open(self):
        reader, zf = self._reader, self._zf
        names = [i.filename for i in zf.infolist()]
        if len(set(names)) != len(names):
            raise reader.fail("the archive has duplicate entry names")
        bad = [n for n in names if not n.endswith(".npy") or "/" in n or "\\" in n]
        if bad:
            raise reader.fail(f"unexpected archive entries {bad[:5]} (a model file holds only .npy arrays)")
        self._entries = [n[:-4] for n in names]
        if HEADER_ENTRY not in self._entries:
            raise reader.fail(f"no {HEADER_ENTRY!r} entry: not an rnnkit model file")
        self._check_entries(zf.infolist())
        # every .npy header (refusing pickles) before any data is read
        self._stored = {e: reader.header(e) for e in self._entries}
        header = parse_header(reader)
        if header["dtype"] not in DTYPES:
            raise reader.fail(f"header 'dtype': expected one of {DTYPES}, got {header['dtype']!r:.50}")
        if not (header["seed"] is None or is_int(header["seed"], 0)):
            raise reader.fail(f"header 'seed': expected a non-negative integer or null, got {header['seed']!r:.50}")
        input_size = header["input_size"]
        if not (input_size is None or is_int(input_size, 1)):
            raise reader.fail(f"header 'input_size': expected a positive integer or null, got {input_size!r:.50}")
        metadata = header["metadata"]
        if not (metadata is None or isinstance(metadata, dict)):
            raise reader.fail(f"header 'metadata': expected an object or null, got {type(metadata).__name__}")
        self._check_listed(header["weights"], np.dtype(header["dtype"]).newbyteorder("<"))
        return header

    def _check_entries(self, infos):
        """Refuse what zipfile would fail on late (encryption, odd compression) and entries that
        expand far beyond their stored size (a deflate bomb), before reading anything."""
        for info in infos:
            name = info.filename
            if info.flag_bits & 0x1:
                raise self.fail(f"entry {name!r} is encrypted; model files are never encrypted")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise self.fail(f"entry {name!r} uses compression method {info.compress_type}; "
                                "model files are stored (or deflated)")
            if info.file_size > MAX_EXPANSION * info.compress_size + 2 ** 16:
                raise self.fail(f"entry {name!r} would expand from {info.compress_size} to {info.file_size} "
                                f"bytes (more than {MAX_EXPANSION}x): refused")

    def _check_listed(self, listed, dtype):
        """The header's list of weights must describe exactly the stored arrays: names in order, shapes
        and the model's dtype."""
        if not isinstance(listed, list) or not all(isinstance(w, dict) and set(w) == {"name", "dtype", "shape"}
                                                   for w in listed):
            raise self.fail("header 'weights': expected a list of {'name', 'dtype', 'shape'}")
        names = [w["name"] for w in listed]
        stored = [e for e in self._entries if e != HEADER_ENTRY]
        if not all(isinstance(n, str) for n in names) or sorted(names) != sorted(stored):
            raise self.fail(f"header 'weights' lists {names!r:.200}, the archive holds {sorted(stored)!r:.200}")
        for w in listed:
            st_dtype, st_shape, _ = self._stored[w["name"]]
            if w["dtype"] != dtype.str or st_dtype != dtype:
                raise self.fail(f"weight {w['name']!r}: dtype {w['dtype']!r} (stored {st_dtype.str}), "
                                f"the model's dtype is {dtype.str}")
            if not (isinstance(w["shape"], list) and all(is_int(d, 0) for d in w["shape"])
                    and tuple(w["shape"]) == st_shape):
                raise self.fail(f"weight {w['name']!r}: the header says shape {w['shape']!r:.80}, "
                                f"the stored array has {st_shape}")
        self.names = names

    def stored_shapes(self) -> dict:
        """{weight name: shape} of the stored arrays, in the header's order (no data read)."""
        return {n: self._stored[n][1] for n in self.names}

    def check_architecture(self, expected: dict):
        """The stored weights must be exactly ``expected`` ({name: shape}, the architecture's), in order."""
        stored = self.stored_shapes()
        missing = [k for k in expected if k not in stored]
        extra = [k for k in stored if k not in expected]
        if missing:
            raise self.fail(f"missing weights {missing[:10]} for this architecture")
        if extra:
            raise self.fail(f"extra weights {extra[:10]} that this architecture does not have")
        if list(stored) != list(expected):
            raise self.fail(f"header 'weights' lists {list(stored)!r:.200}, the architecture has "
                            f"{list(expected)!r:.200}")
        for k, shape in expected.items():
            if stored[k] != tuple(shape):
                raise self.fail(f"weight {k!r} has shape {stored[k]}, the architecture needs {tuple(shape)}")

    def read_weights(self) -> dict:
        """The stored weights ({name: array}, header order), after ``check_architecture``; checksum checked."""
        return self._guard(self._read_weights)

    def _read_weights(self):
        reader, header = self._reader, self._header
        arrays = {k: reader.array(k) for k in self.names}
        checksum = header["checksum"]
        if not isinstance(checksum, dict) or checksum.get("algorithm") != "sha256":
            raise reader.fail(f"header 'checksum': expected {{'algorithm': 'sha256', 'value': hex}}, "
                              f"got {checksum!r:.100}")
        actual = weights_checksum(self.names, arrays)
        if checksum.get("value") != actual:
            raise reader.fail(f"checksum mismatch: the weights are damaged or were edited "
                              f"(header says {str(checksum.get('value'))[:16]}..., the data gives {actual[:16]}...)")
        return arrays
