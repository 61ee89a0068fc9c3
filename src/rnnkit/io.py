"""Saving and loading models: one documented file format, no pickle, atomic writes.

    model.save("sentiment.npz", metadata={"vocab": vocab.tokens})
    model = Sequential.load("sentiment.npz")       # or rnnkit.io.load_model(path)
    model.metadata["vocab"]

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
                         "Flatten", "RNN", "LSTM", "GRU") and ``config`` is the layer's ``get_config()``
                         (its constructor's keyword arguments)
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

import hashlib
import inspect
import json
import math
import os
import warnings
import zipfile

import numpy as np

from . import __version__
from . import optim
from ._atomic import atomic_write
from .layers import GRU, LSTM, RNN, Dense, Dropout, Embedding, Flatten, Layer

FORMAT_NAME = "rnnkit-model"
FORMAT_VERSION = 1
HEADER_ENTRY = "header"
MAX_HEADER_BYTES = 256 * 2 ** 20  # a generous bound (a large vocabulary in the metadata fits)
_DTYPES = ("float32", "float64")
_COMPILE_KEYS = ("loss", "optimizer", "metrics", "clip_norm", "clip_value", "l1", "l2", "regularize",
                 "ctc_blank")
_HEADER_KEYS = ("format", "format_version", "rnnkit_version", "layers", "dtype", "seed", "input_size",
                "compile", "metadata", "weights", "checksum")

#: The layer classes a file may name. A file's class name is looked up here and nowhere else.
LAYER_CLASSES: dict = {cls.__name__: cls for cls in (Dense, Embedding, Dropout, Flatten, RNN, LSTM, GRU)}


class ModelFileError(ValueError):
    """A model file that cannot be loaded: damaged, hostile, or not an rnnkit model file."""


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


def _json_default(o):
    if isinstance(o, np.generic):  # numpy scalars in configs or metadata -> Python numbers
        return o.item()
    raise TypeError(f"{type(o).__name__} is not JSON data")


def _check_json_data(value, where):
    """Refuse what JSON would silently change (non-str keys) or cannot hold (NaN/inf, objects)."""
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"{where}: keys must be strings, got {k!r} ({type(k).__name__})")
            _check_json_data(v, f"{where}[{k!r}]")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_json_data(v, f"{where}[{i}]")
    elif isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            raise ValueError(f"{where}: {value!r} is not representable in JSON")
    elif not (value is None or isinstance(value, (str, bool, int, np.integer, np.bool_))):
        raise TypeError(f"{where}: expected JSON data (dict, list, str, number, bool, None), "
                        f"got {type(value).__name__}")


def weights_checksum(names, arrays) -> str:
    """The SHA-256 of the weights as the file format defines it (see the module docstring)."""
    h = hashlib.sha256()
    for name in names:
        a = arrays[name]
        a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<"))
        h.update(f"{name}|{a.dtype.str}|{','.join(str(s) for s in a.shape)}\n".encode())
        h.update(a.tobytes())
    return h.hexdigest()


# -- saving --------------------------------------------------------------------------------------

def _layer_name(i, layer):
    cls = type(layer)
    name = cls.__name__
    if LAYER_CLASSES.get(name) is not cls:
        raise ValueError(f"save: layer {i} is a {cls.__module__}.{cls.__qualname__}, which is not in "
                         f"rnnkit.io.LAYER_CLASSES (known: {sorted(LAYER_CLASSES)}); register it with "
                         "rnnkit.io.register_layer")
    return name


def _compile_settings(model):
    if getattr(model, "loss", None) is None:
        return None
    opt = model.optimizer
    opt_name = next((n for n, c in optim.OPTIMIZERS.items() if type(opt) is c), None)
    if opt_name is None:
        raise ValueError(f"save: the optimizer {type(opt).__qualname__} is not one of "
                         f"{sorted(optim.OPTIMIZERS)}; a model file can only name those")
    metrics = []
    for key in getattr(model, "metrics", {}):
        if isinstance(key, str):
            metrics.append(key)
        else:
            warnings.warn(f"save: the custom metric {key!r} is not stored in the model file "
                          "(only named metrics are); pass it to compile() again after loading",
                          stacklevel=3)
    return {"loss": model.loss, "optimizer": {"name": opt_name, "config": opt.get_config()},
            "metrics": metrics, "clip_norm": model.clip_norm, "clip_value": model.clip_value,
            "l1": model.l1, "l2": model.l2, "regularize": list(model.regularize),
            "ctc_blank": model.ctc_blank}


def _header_and_arrays(model, metadata):
    layers = []
    for i, layer in enumerate(model.layers):
        name = _layer_name(i, layer)
        config = layer.get_config()
        bad = _unaccepted_keys(type(layer), config)
        if bad:  # a layer whose get_config() disagrees with its constructor would write unloadable files
            raise ValueError(f"save: layer {i} ({name}): get_config() returns keys its constructor "
                             f"does not accept: {bad}")
        _check_json_data(config, f"layer {i} ({name}) config")
        layers.append({"class": name, "config": config})
    if model.input_size is None and any(l.built for l in model.layers):
        raise ValueError("save: some layers are built but the model is not; call model.build(input_size)")
    if metadata is None:
        metadata = getattr(model, "metadata", None) or None  # a loaded model keeps its metadata
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise TypeError(f"metadata: expected a dict of JSON data or None, got {type(metadata).__name__}")
        _check_json_data(metadata, "metadata")
    arrays = {k: np.ascontiguousarray(v, dtype=v.dtype.newbyteorder("<")) for k, v in model._params().items()}
    names = list(arrays)
    header = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "rnnkit_version": __version__,
        "layers": layers,
        "dtype": np.dtype(model.dtype).name,
        "seed": model.seed,
        "input_size": model.input_size,
        "compile": _compile_settings(model),
        "metadata": metadata,
        "weights": [{"name": k, "dtype": arrays[k].dtype.str, "shape": list(arrays[k].shape)} for k in names],
        "checksum": {"algorithm": "sha256", "value": weights_checksum(names, arrays)},
    }
    text = json.dumps(header, default=_json_default, allow_nan=False, ensure_ascii=False)
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8), arrays


def _write_archive(fh, header_bytes, arrays):
    """Write the ZIP of .npy entries to the open binary file ``fh`` (the same bytes as numpy.savez)."""
    np.savez(fh, **{HEADER_ENTRY: header_bytes}, **arrays)


def save_model(model, path, metadata=None):
    """Write ``model`` (architecture, weights, compile settings, ``metadata``) to ``path``, atomically.

    ``metadata``: a dict of JSON data (str keys; lists, str, numbers, bool, None; tuples load back as
    lists), e.g. a vocabulary. With ``metadata=None`` the model's own ``model.metadata`` (set by
    ``load_model``) is kept. The file name is used as given (no extension is added); ".npz" is usual.
    """
    header_bytes, arrays = _header_and_arrays(model, metadata)
    path = os.fspath(path)
    with atomic_write(path) as fh:
        _write_archive(fh, header_bytes, arrays)
    return path


# -- loading -------------------------------------------------------------------------------------

class _Reader:
    """Reads .npy entries of a ZIP without ever unpickling."""

    def __init__(self, path, zf):
        self.path, self.zf = path, zf

    def fail(self, problem):
        return ModelFileError(f"{self.path}: {problem}")

    def header(self, entry):
        """(dtype, shape, fortran_order) from an entry's .npy header, without reading its data."""
        with self.zf.open(entry + ".npy") as fp:
            return self._npy_header(entry, fp)

    def _npy_header(self, entry, fp):
        try:
            version = np.lib.format.read_magic(fp)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
            else:
                raise ValueError(f"unsupported .npy version {version}")
        except zipfile.BadZipFile as e:
            raise self.fail(f"entry {entry!r} is damaged ({e})") from None
        except Exception as e:  # noqa: BLE001 - anything wrong in a header is a bad file
            raise self.fail(f"entry {entry!r} is not a readable .npy array ({e})") from None
        if dtype.hasobject:
            raise self.fail(f"entry {entry!r} holds an object array (pickled Python objects); "
                            "model files never contain pickles, refused")
        return dtype, shape, fortran

    def array(self, entry, max_bytes=None):
        with self.zf.open(entry + ".npy") as fp:
            dtype, shape, fortran = self._npy_header(entry, fp)
            count = math.prod(shape)
            nbytes = count * dtype.itemsize
            if max_bytes is not None and nbytes > max_bytes:
                raise self.fail(f"entry {entry!r} is too large ({nbytes} bytes > {max_bytes})")
            try:
                data = fp.read(nbytes)
            except zipfile.BadZipFile as e:
                raise self.fail(f"entry {entry!r} is damaged ({e})") from None
        if len(data) != nbytes:
            raise self.fail(f"entry {entry!r} is truncated ({len(data)} of {nbytes} bytes)")
        return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C").copy()


def _parse_header(reader):
    raw = reader.array(HEADER_ENTRY, MAX_HEADER_BYTES)
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise reader.fail(f"the header entry must be a 1-D uint8 array of JSON text, "
                          f"got dtype {raw.dtype} shape {raw.shape}")

    def no_constants(name):
        raise ValueError(f"{name} is not allowed")

    try:
        header = json.loads(raw.tobytes().decode("utf-8"), parse_constant=no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise reader.fail(f"the header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise reader.fail(f"the header must be a JSON object, got {type(header).__name__}")
    fmt = header.get("format")
    if fmt != FORMAT_NAME:
        raise reader.fail(f"wrong format name {fmt!r} (expected {FORMAT_NAME!r}): not an rnnkit model file")
    version = header.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise reader.fail(f"invalid format_version {version!r} (expected a positive integer)")
    if version > FORMAT_VERSION:
        raise reader.fail(f"format_version {version} is newer than this rnnkit ({__version__}) can read "
                          f"(up to {FORMAT_VERSION}); upgrade rnnkit "
                          f"(written by rnnkit {header.get('rnnkit_version')!r})")
    missing = [k for k in _HEADER_KEYS if k not in header]
    extra = sorted(set(header) - set(_HEADER_KEYS))
    if missing or extra:
        raise reader.fail(f"header keys: missing {missing}, unexpected {extra}")
    return header


def _is_int(v, minimum=None):
    return isinstance(v, int) and not isinstance(v, bool) and (minimum is None or v >= minimum)


def _build_layers(reader, specs):
    if not isinstance(specs, list) or not specs:
        raise reader.fail("header 'layers': expected a non-empty list")
    layers = []
    for i, spec in enumerate(specs):
        if not isinstance(spec, dict) or set(spec) != {"class", "config"}:
            raise reader.fail(f"layer {i}: expected {{'class': name, 'config': {{...}}}}, got {spec!r:.200}")
        name, config = spec["class"], spec["config"]
        cls = LAYER_CLASSES.get(name) if isinstance(name, str) else None
        if cls is None:
            raise reader.fail(f"layer {i}: unknown layer class {name!r:.100} "
                              f"(known: {sorted(LAYER_CLASSES)})")
        if not isinstance(config, dict):
            raise reader.fail(f"layer {i} ({name}): config must be a JSON object, got {type(config).__name__}")
        bad = _unaccepted_keys(cls, config)
        if bad:
            raise reader.fail(f"layer {i} ({name}): config keys not accepted by {name}: {bad}")
        try:
            layers.append(cls(**config))
        except (TypeError, ValueError, KeyError) as e:
            raise reader.fail(f"layer {i} ({name}): invalid config {config!r:.200} ({e})") from None
    return layers


def _compile(reader, model, settings):
    if settings is None:
        return
    if not isinstance(settings, dict) or set(settings) != set(_COMPILE_KEYS):
        raise reader.fail(f"header 'compile': expected null or an object with keys {list(_COMPILE_KEYS)}")
    opt = settings["optimizer"]
    if not isinstance(opt, dict) or set(opt) != {"name", "config"} or not isinstance(opt["config"], dict):
        raise reader.fail("header 'compile.optimizer': expected {'name': ..., 'config': {...}}")
    cls = optim.OPTIMIZERS.get(opt["name"]) if isinstance(opt["name"], str) else None
    if cls is None:
        raise reader.fail(f"unknown optimizer {opt['name']!r:.100} (known: {sorted(optim.OPTIMIZERS)})")
    bad = _unaccepted_keys(cls, opt["config"])
    if bad:
        raise reader.fail(f"optimizer {opt['name']}: config keys not accepted: {bad}")
    if not _is_int(settings["ctc_blank"], 0):
        raise reader.fail(f"header 'compile.ctc_blank': expected a non-negative integer, "
                          f"got {settings['ctc_blank']!r:.50}")
    reg = settings["regularize"]
    if not isinstance(reg, list) or not all(isinstance(p, str) for p in reg):
        raise reader.fail("header 'compile.regularize': expected a list of name patterns")
    metrics = settings["metrics"]
    if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
        raise reader.fail("header 'compile.metrics': expected a list of metric names")
    try:
        optimizer = cls(**opt["config"])
        model.compile(loss=settings["loss"], optimizer=optimizer, metrics=metrics,
                      clip_norm=settings["clip_norm"], clip_value=settings["clip_value"],
                      l1=settings["l1"], l2=settings["l2"], regularize=settings["regularize"],
                      ctc_blank=settings["ctc_blank"])
    except (TypeError, ValueError, KeyError) as e:
        raise reader.fail(f"invalid compile settings ({e})") from None


def _load(path, zf):
    reader = _Reader(path, zf)
    infos = zf.infolist()
    names = [i.filename for i in infos]
    if len(set(names)) != len(names):
        raise reader.fail("the archive has duplicate entry names")
    bad = [n for n in names if not n.endswith(".npy") or "/" in n or "\\" in n]
    if bad:
        raise reader.fail(f"unexpected archive entries {bad[:5]} (a model file holds only .npy arrays)")
    entries = [n[:-4] for n in names]
    if HEADER_ENTRY not in entries:
        raise reader.fail(f"no {HEADER_ENTRY!r} entry: not an rnnkit model file")
    for e in entries:  # refuse pickles before reading any data
        reader.header(e)
    header = _parse_header(reader)

    # the model, from the registry and JSON values only
    if header["dtype"] not in _DTYPES:
        raise reader.fail(f"header 'dtype': expected one of {_DTYPES}, got {header['dtype']!r:.50}")
    if not (header["seed"] is None or _is_int(header["seed"], 0)):
        raise reader.fail(f"header 'seed': expected a non-negative integer or null, got {header['seed']!r:.50}")
    input_size = header["input_size"]
    if not (input_size is None or _is_int(input_size, 1)):
        raise reader.fail(f"header 'input_size': expected a positive integer or null, got {input_size!r:.50}")
    metadata = header["metadata"]
    if not (metadata is None or isinstance(metadata, dict)):
        raise reader.fail(f"header 'metadata': expected an object or null, got {type(metadata).__name__}")
    from .model import Sequential
    model = Sequential(_build_layers(reader, header["layers"]), seed=header["seed"], dtype=header["dtype"])
    if input_size is not None:
        try:
            model.build(input_size)
        except MemoryError:
            raise reader.fail(f"the architecture is too large to build (input_size {input_size})") from None
        except (TypeError, ValueError) as e:
            raise reader.fail(f"the architecture cannot be built for input_size {input_size} ({e})") from None
    _compile(reader, model, header["compile"])

    # the weights: names, shapes and dtypes checked against the model before any data is read
    expected = model._params()
    listed = header["weights"]
    if not isinstance(listed, list) or not all(isinstance(w, dict) and set(w) == {"name", "dtype", "shape"}
                                               for w in listed):
        raise reader.fail("header 'weights': expected a list of {'name', 'dtype', 'shape'}")
    stored = [e for e in entries if e != HEADER_ENTRY]
    missing = [k for k in expected if k not in stored]
    extra = sorted(set(stored) - set(expected))
    if missing:
        raise reader.fail(f"missing weights {missing} for this architecture")
    if extra:
        raise reader.fail(f"extra weights {extra} that this architecture does not have")
    if [w["name"] for w in listed] != list(expected):
        raise reader.fail(f"header 'weights' lists {[w['name'] for w in listed]}, "
                          f"the architecture has {list(expected)}")
    for k, p in expected.items():
        dtype, shape, _ = reader.header(k)
        if shape != p.shape:
            raise reader.fail(f"weight {k!r} has shape {shape}, the architecture needs {p.shape}")
        if dtype != p.dtype.newbyteorder("<"):
            raise reader.fail(f"weight {k!r} has dtype {dtype.str}, the model's dtype is {p.dtype.str}")
    arrays = {k: reader.array(k) for k in expected}
    checksum = header["checksum"]
    if not isinstance(checksum, dict) or checksum.get("algorithm") != "sha256":
        raise reader.fail(f"header 'checksum': expected {{'algorithm': 'sha256', 'value': hex}}, got {checksum!r:.100}")
    actual = weights_checksum(list(expected), arrays)
    if checksum.get("value") != actual:
        raise reader.fail(f"checksum mismatch: the weights are damaged or were edited "
                          f"(header says {str(checksum.get('value'))[:16]}..., the data gives {actual[:16]}...)")
    model.set_weights(arrays)
    model.metadata = {} if metadata is None else metadata
    return model


def load_model(path):
    """A ``Sequential`` from a file written by ``save_model``; ``model.metadata`` holds its metadata.

    Raises ``ModelFileError`` (a ``ValueError``) naming the file and the problem for anything that is
    not a valid rnnkit model file; ``FileNotFoundError`` if there is no file.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such model file")
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as e:
        raise ModelFileError(f"{path}: not a ZIP archive, or a truncated one ({e}); "
                             "an rnnkit model file is a .npz archive") from None
    except (OSError, ValueError, EOFError) as e:
        raise ModelFileError(f"{path}: cannot read the archive ({e})") from None
    with zf:
        try:
            return _load(path, zf)
        except ModelFileError:
            raise
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as e:
            # a damaged entry (CRC error, truncated data, unsupported compression) found while reading
            raise ModelFileError(f"{path}: damaged archive ({type(e).__name__}: {e})") from None
