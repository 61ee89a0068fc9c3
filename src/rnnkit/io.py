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
                         "Flatten", "RNN", "LSTM", "GRU", "Recurrent", "TemporalPooling",
                         "AttentionPooling") and ``config`` is the layer's
                         ``get_config()`` (its constructor's keyword arguments)
    ``dtype``            ``"float32"`` or ``"float64"``: the model's dtype
    ``seed``             the model's seed (an integer or null)
    ``input_size``       input features (or vocabulary size) the model was built for; null if unbuilt
    ``compile``          null, or the compile settings: ``{"loss", "optimizer": {"name", "config"},
                         "metrics": [names], "clip_norm", "clip_value", "l1", "l2", "regularize", "ctc_blank"}``
    ``metadata``         null or a JSON object chosen by the user (e.g. a vocabulary)
    ``classes``          optional: ``Sequential.classes_`` if set, the labels (str, int, float, bool) of class 0, 1...
    ``weights``          ``[{"name", "dtype", "shape"}]``, one per weight, in the model's order (dtype as stored)
    ``optimizer_state``  optional (absent: none stored): the compiled optimiser's state,
                         ``{"iterations": steps taken, "arrays": [{"name", "dtype", "shape"}]}``,
                         the arrays being the ``optimizer.*`` entries below, in their order
    ``quantization``     optional (absent: not quantized): ``{"mode": "int8" | "float16", "scales":
                         [{"name", "dtype", "shape"}]}``, the ``scale.*`` entries below ([] for float16)
    ``checksum``         ``{"algorithm": "sha256", "value": hex}`` over the weights, scales and optimiser arrays

``<layer_index>.<name>.npy`` (e.g. ``0.W_y.npy``, ``1.W_x_l0_reverse.npy``)
    one array per weight, named as ``Sequential.get_weights()`` names them; little-endian, of the
    model's dtype, with the seed's orientation ``(out, in)``. In a quantized file every 2-D weight
    (the matrices ``W_x``, ``W_h``, ``W_y``, ``E``) is ``int8`` or ``float16`` (the mode) instead;
    1-D weights (the biases ``b``, ``b_h``, ``c``) keep the model's dtype.

``scale.<weight name>.npy`` (int8 files only, e.g. ``scale.0.W_y.npy``)
    the float32 scales of an int8 weight matrix, one per row (shape ``(rows,)``, finite, >= 0), listed
    in the header's ``quantization.scales`` in the weights' order: weight = int8 value * its row's scale
    (values in [-127, 127]; the arithmetic and its error bound: ``rnnkit.quantize``).

``optimizer.<slot>.<weight name>.npy`` (e.g. ``optimizer.m.0.W_y.npy``, ``optimizer.momentum.2.c.npy``)
    the optimiser's state of a weight, of its shape and dtype: Adam's moments (slots ``m``, ``v``),
    SGD's velocity (``momentum``, if momentum > 0). Every slot holds every weight once it has stepped.

The checksum is the SHA-256, over the weights in the header's order (as stored), then the scales and
then the optimiser's arrays in theirs, of ``b"<name>|<dtype.str>|<shape joined by ','>\\n"`` followed
by the array's bytes (C order, little-endian). It catches a damaged or edited file; it is not a
signature (anybody who edits a file can recompute it).

Resuming: ``save(path, include_optimizer=True)`` (the default) stores the optimiser's step count and
moments once it has stepped; ``load`` restores them with the compile settings, so ``fit(...,
initial_epoch=k)`` on a loaded checkpoint continues exactly (with the same seed, bit for bit: see
``Sequential.fit``). Without ``optimizer_state`` the optimiser starts fresh (Adam restarts its bias
correction). Not stored: random generators (derived from ``seed`` again), callbacks' state
(``EarlyStopping``, ``ReduceLROnPlateau``), custom metric callables (a warning says so). A file
without ``optimizer_state`` is what earlier versions wrote, so ``format_version`` stays 1; they
refuse (never misread) a file with it: save with ``include_optimizer=False`` for them.

Quantized files (``save(path, quantize="int8")`` or ``"float16"``) are for inference: about 4x / 2x
smaller for a model made of weight matrices, never with ``optimizer_state`` (the moments would be
most of the file, and a quantized model resumes training from rounded weights anyway), and loaded
as an ordinary float model of the header's dtype (dequantized; ``Sequential.quantized`` says the
mode). Earlier versions refuse them (the unknown ``quantization`` key), so ``format_version`` stays 1.

Safety
------
Loading never unpickles and never runs code from the file: the header is JSON, arrays are read
from their ``.npy`` headers (parsed by NumPy's literal parser) and raw bytes, object arrays are
refused before their data is read, and layer classes come from the explicit registry
``LAYER_CLASSES`` (a name in the file is only a dictionary key, never imported). Every problem
(not a ZIP archive, a truncated file, a wrong format name, a newer format_version, an unknown layer
class, a config key the class does not accept, missing / extra / mis-shaped / wrongly typed weights
or optimiser entries, an optimiser slot the compiled optimiser does not keep, a quantized weight
or scale of the wrong dtype, shape or value, a checksum mismatch, a pickle) raises ``ModelFileError``
(a ``ValueError``) naming the file and the problem.

Writes are atomic: the archive goes to a temporary file in the target's directory, is flushed and
fsync'ed, then renamed over ``path`` with ``os.replace``. If anything fails on the way, the temporary
file is removed and a previous file at ``path`` is left as it was.
"""
from __future__ import annotations

import json
import os
import zipfile

import numpy as np

from . import optim
from ._archive import (
    FORMAT_NAME,
    FORMAT_VERSION,
    HEADER_ENTRY,
    OPTIONAL_HEADER_KEYS,
    SCALE_PREFIX,
    ModelFileError,
    Reader,
    check_checksum,
    check_compile_settings,
    check_json_data,
    check_listed,
    check_zip_entries,
    json_default,
    listing,
    optimizer_listing,
    optimizer_part,
    parse_header,
    quantization_listing,
    unaccepted_keys,
    weights_checksum,
)
from ._atomic import atomic_write
from ._version import __version__
from .layers import GRU, LSTM, RNN, Dense, Dropout, Embedding, Flatten, Layer, Recurrent, TemporalPooling
from .layers.attention import AttentionPooling
from .quantize import MODES, check_mode, dequantize_weights, quantize_weights

#: The layer classes a file may name. A file's class name is looked up here and nowhere else.
LAYER_CLASSES: dict = {cls.__name__: cls for cls in (Dense, Embedding, Dropout, Flatten, RNN, LSTM, GRU,
                                                     Recurrent, TemporalPooling, AttentionPooling)}
#: The keys of the model's config as stored in the header (everything but the format's own keys).
CONFIG_KEYS = ("layers", "dtype", "seed", "input_size", "compile", "metadata", "classes")


def register_layer(cls, name: str | None = None):
    """Allow a custom ``Layer`` subclass in model files (under ``name``, default its class name).

    Its ``get_config()`` must return its constructor's keyword arguments as JSON data.
    Usable as a class decorator. Registering the same class again under its name does nothing.

    Parameters
    ----------
    cls : type
        The ``rnnkit.layers.Layer`` subclass.
    name : str or None, optional
        The name files store for it (default None: ``cls.__name__``).

    Returns
    -------
    type
        ``cls`` itself (so that it works as a decorator).

    Raises
    ------
    TypeError
        If ``cls`` is not a subclass of ``rnnkit.layers.Layer``.
    ValueError
        If ``name`` is already registered for another class.

    Examples
    --------
    >>> from rnnkit.io import LAYER_CLASSES, register_layer
    >>> from rnnkit.layers import Dense
    >>> @register_layer
    ... class MyDense(Dense):
    ...     pass
    >>> LAYER_CLASSES["MyDense"] is MyDense
    True
    >>> del LAYER_CLASSES["MyDense"]    # undone again, for this example
    """
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise TypeError(f"register_layer: expected a subclass of rnnkit.layers.Layer, got {cls!r}")
    name = cls.__name__ if name is None else name
    if name in LAYER_CLASSES and LAYER_CLASSES[name] is not cls:
        raise ValueError(f"register_layer: the name {name!r} is already taken by {LAYER_CLASSES[name]!r}")
    LAYER_CLASSES[name] = cls
    return cls


# -- saving --------------------------------------------------------------------------------------

def layer_spec(i, layer) -> dict:
    """``{"class": name, "config": {...}}`` for layer ``i``, checked to be loadable again.

    Parameters
    ----------
    i : int
        The layer's index in the model (for error messages).
    layer : rnnkit.layers.Layer
        The layer; its class must be registered in ``LAYER_CLASSES``.

    Returns
    -------
    dict
        ``{"class": str, "config": dict}``: the registered name and ``layer.get_config()`` (JSON data).

    Raises
    ------
    ValueError
        If the layer's class is not registered, its ``get_config()`` returns keys its constructor does
        not accept, or the config is not JSON data.

    Examples
    --------
    >>> from rnnkit.io import layer_spec
    >>> from rnnkit.layers import Dense
    >>> layer_spec(0, Dense(2, "tanh"))
    {'class': 'Dense', 'config': {'units': 2, 'activation': 'tanh'}}
    """
    cls = type(layer)
    name = cls.__name__
    if LAYER_CLASSES.get(name) is not cls:
        raise ValueError(f"save: layer {i} is a {cls.__module__}.{cls.__qualname__}, which is not in "
                         f"rnnkit.io.LAYER_CLASSES (known: {sorted(LAYER_CLASSES)}); register it with "
                         "rnnkit.io.register_layer")
    config = layer.get_config()
    bad = unaccepted_keys(cls, config)
    if bad:  # a layer whose get_config() disagrees with its constructor would write unloadable files
        raise ValueError(f"save: layer {i} ({name}): get_config() returns keys its constructor "
                         f"does not accept: {bad}")
    check_json_data(config, f"layer {i} ({name}) config")
    return {"class": name, "config": config}


def optimizer_name(opt) -> str:
    """The name under which a model file stores the optimiser ``opt`` (a key of ``optim.OPTIMIZERS``).

    Parameters
    ----------
    opt : rnnkit.optim.Optimizer
        The optimiser; its class must be exactly one of ``optim.OPTIMIZERS`` (not a subclass).

    Returns
    -------
    str
        "sgd" or "adam".

    Raises
    ------
    ValueError
        If the optimiser's class is not one a model file can name.

    Examples
    --------
    >>> from rnnkit.io import optimizer_name
    >>> from rnnkit.optim import SGD, Adam
    >>> optimizer_name(Adam()), optimizer_name(SGD(lr=0.1))
    ('adam', 'sgd')
    """
    name = next((n for n, c in optim.OPTIMIZERS.items() if type(opt) is c), None)
    if name is None:
        raise ValueError(f"save: the optimizer {type(opt).__qualname__} is not one of "
                         f"{sorted(optim.OPTIMIZERS)}; a model file can only name those")
    return name


def write_model_file(path, config: dict, arrays: dict, optimizer_state=None, quantize=None):
    """Write a model file atomically (format: this module's docstring).

    Parameters
    ----------
    path : str or os.PathLike
        The file to write (used as given; ".npz" is usual). A previous file is replaced only once the
        new one is complete.
    config : dict
        The model's config: the keys ``CONFIG_KEYS`` ("layers", "dtype", "seed", "input_size",
        "compile", "metadata", "classes"), JSON data, as ``Sequential.get_config()`` gives them plus
        "metadata" (None or a dict of JSON data).
    arrays : dict of str to numpy.ndarray
        The named weight arrays, ``{"layer_index.name": array}`` in the model's order.
    optimizer_state : dict or None, optional
        None (default) or ``Optimizer.get_state()``, of these weights.
    quantize : {None, "int8", "float16"}, optional
        Store the weight matrices quantized (then no optimiser state is written); default None.

    Returns
    -------
    str
        ``path``, as a string.

    Raises
    ------
    TypeError
        If "metadata" is neither a dict nor None.
    ValueError
        If the metadata or the config is not JSON data, ``quantize`` is not a known mode, or the
        optimiser state does not fit the weights.

    Examples
    --------
    >>> from rnnkit.io import write_model_file
    >>> from rnnkit.layers import Dense
    >>> from rnnkit.model import Sequential
    >>> model = Sequential([Dense(1)], seed=0).build(2)
    >>> write_model_file("model.npz", {**model.get_config(), "metadata": {"vocab": ["a", "b"]}}, model.get_weights())
    'model.npz'
    >>> Sequential.load("model.npz").metadata
    {'vocab': ['a', 'b']}
    """
    metadata = config["metadata"]
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise TypeError(f"metadata: expected a dict of JSON data or None, got {type(metadata).__name__}")
        check_json_data(metadata, "metadata")
    scales, extra = {}, {}
    quantize = check_mode(quantize)
    if quantize is not None:                     # the matrices quantized, and no optimiser state
        arrays, scales = quantize_weights(arrays, quantize)
        scales, optimizer_state = {SCALE_PREFIX + k: v for k, v in scales.items()}, None
        extra = {"quantization": {"mode": quantize, "scales": listing(scales)}}
    arrays = {k: np.ascontiguousarray(v, dtype=v.dtype.newbyteorder("<")) for k, v in arrays.items()}
    weights = listing(arrays)
    opt, arrays = optimizer_part(optimizer_state, {**arrays, **scales})     # ({}, the same) if no state
    header = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "rnnkit_version": __version__,
        **{k: config.get(k) for k in CONFIG_KEYS if k not in OPTIONAL_HEADER_KEYS or config.get(k) is not None},
        "weights": weights,
        **extra,
        **opt,
        "checksum": {"algorithm": "sha256", "value": weights_checksum(list(arrays), arrays)},
    }
    text = json.dumps(header, default=json_default, allow_nan=False, ensure_ascii=False)
    path = os.fspath(path)
    with atomic_write(path) as fh:   # the same bytes as numpy.savez
        np.savez(fh, **{HEADER_ENTRY: np.frombuffer(text.encode("utf-8"), dtype=np.uint8)}, **arrays)
    return path


# -- loading -------------------------------------------------------------------------------------

def layers_from_specs(specs) -> list:
    """The layers named by a header's ``layers`` list, from the registry ``LAYER_CLASSES`` only.

    A name is only looked up in the registry, never imported, so a file cannot make rnnkit run code.

    Parameters
    ----------
    specs : list of dict
        ``[{"class": name, "config": {...}}]``, as ``layer_spec`` writes them.

    Returns
    -------
    list of rnnkit.layers.Layer
        New (unbuilt) layers, in order.

    Raises
    ------
    ValueError
        If ``specs`` is not a non-empty list of such dicts, names an unknown class, or holds a config
        the class does not accept.

    Examples
    --------
    >>> from rnnkit.io import layers_from_specs
    >>> layers_from_specs([{"class": "LSTM", "config": {"hidden_size": 3}}, {"class": "Dense", "config": {"units": 1}}])
    [LSTM(hidden_size=3, ...), Dense(units=1, activation=None)]
    >>> layers_from_specs([{"class": "os.system", "config": {}}])
    Traceback (most recent call last):
    ...
    ValueError: layer 0: unknown layer class 'os.system' (known: [...])
    """
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
        bad = unaccepted_keys(cls, config)
        if bad:
            raise ValueError(f"layer {i} ({name}): config keys not accepted by {name}: {bad}")
        try:
            layers.append(cls(**config))
        except (TypeError, ValueError, KeyError) as e:
            raise ValueError(f"layer {i} ({name}): invalid config {config!r:.200} ({e})") from None
    return layers


def optimizer_from_config(settings):
    """The optimizer of a header's ``compile`` settings, its structure checked.

    Parameters
    ----------
    settings : dict
        The "compile" settings of a model config (``Sequential.get_config()["compile"]``), whose
        "optimizer" is ``{"name": "sgd" | "adam", "config": {keyword arguments}}``.

    Returns
    -------
    rnnkit.optim.Optimizer
        A new optimiser (no state).

    Raises
    ------
    ValueError
        If the settings are malformed, name an unknown optimiser, or hold a config it does not accept.

    Examples
    --------
    >>> from rnnkit.io import optimizer_from_config
    >>> from rnnkit.layers import Dense
    >>> from rnnkit.model import Sequential
    >>> settings = Sequential([Dense(1)]).compile("mse", "sgd", lr=0.1).get_config()["compile"]
    >>> optimizer_from_config(settings).get_config()
    {'lr': 0.1, 'momentum': 0.0, 'nesterov': False}
    """
    check_compile_settings(settings)
    opt = settings["optimizer"]
    cls = optim.OPTIMIZERS.get(opt["name"]) if isinstance(opt["name"], str) else None
    if cls is None:
        raise ValueError(f"unknown optimizer {opt['name']!r:.100} (known: {sorted(optim.OPTIMIZERS)})")
    bad = unaccepted_keys(cls, opt["config"])
    if bad:
        raise ValueError(f"optimizer {opt['name']}: config keys not accepted: {bad}")
    try:
        return cls(**opt["config"])
    except (TypeError, ValueError, KeyError) as e:
        raise ValueError(f"invalid compile settings ({e})") from None


class ModelFile:
    """An open model file: ``config`` (checked JSON) now, the weights on request.

    Use it as a context manager, in this order (as ``Sequential.load`` does): build the architecture
    from ``f.config``, compare its names and shapes with the stored arrays (``check_architecture``),
    read the weights (``read_weights``: only now is weight data read, and the checksum checked), then
    restore the optimiser's state, if the file has one (``restore_optimizer``).

    ``config`` has ``CONFIG_KEYS`` and "quantized" (also ``f.quantized``: None, "int8" or "float16"); a
    quantized file's ``read_weights`` returns them dequantized to the header's dtype.

    Opening reads the ZIP directory and the ``.npy`` headers only (no weight data) and checks the
    header (its types, and its list of weights against the stored arrays). Every problem raises
    ``ModelFileError`` naming the file; ``fail(problem)`` makes one. The total work is bounded by the
    file's size: stored entries are at most ``_archive.MAX_EXPANSION`` times their compressed size, and an
    architecture is compared with the stored shapes before anything is allocated for it.

    Parameters
    ----------
    path : str or os.PathLike
        The model file.

    Attributes
    ----------
    config : dict
        The model's config (``CONFIG_KEYS`` and "quantized").
    names : list of str
        The weights' names, in the header's order.
    quantized : {None, "int8", "float16"}
        The file's quantization.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ModelFileError
        If it is a folder, not a ZIP archive, or not a valid rnnkit model file (``ModelFileError`` is a
        ``ValueError``).

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.io import ModelFile
    >>> from rnnkit.layers import Dense
    >>> from rnnkit.model import Sequential
    >>> model = Sequential([Dense(1)], seed=0).compile("mse")
    >>> _ = model.fit(np.ones((4, 2)), np.ones(4), epochs=1, verbose=0)
    >>> _ = model.save("model.npz")
    >>> with ModelFile("model.npz") as f:
    ...     f.check_architecture(model.weight_shapes(2))
    ...     weights = f.read_weights()
    ...     print(f.stored_shapes(), f.restore_optimizer(model.optimizer, weights))
    {'0.W_y': (1, 2), '0.c': (1,)} True
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
        self.config = {k: self._header.get(k) for k in CONFIG_KEYS}     # an optional key absent: None
        self.config["quantized"] = self.quantized                       # None, "int8" or "float16"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._zf.close()

    def fail(self, problem) -> ModelFileError:
        """An error about this file, to raise: ``raise f.fail("...")``.

        Parameters
        ----------
        problem : str
            What is wrong.

        Returns
        -------
        ModelFileError
            The error, its message naming the file and the problem.
        """
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
        check_zip_entries(reader, zf.infolist())
        # every .npy header (refusing pickles) before any data is read
        self._stored = {e: reader.header(e) for e in self._entries}
        header = parse_header(reader)           # and its dtype, seed, input_size and metadata
        opt = header.get("optimizer_state")
        self.quantized, scales = quantization_listing(reader, header.get("quantization"), opt, MODES)
        self._iterations = None if opt is None else optimizer_listing(reader, opt, header["compile"])[0]
        self.names, self._scale_names, self._opt_names, self._slots = check_listed(
            reader, {e: self._stored[e] for e in self._entries if e != HEADER_ENTRY}, header["weights"],
            [] if opt is None else opt["arrays"], np.dtype(header["dtype"]).newbyteorder("<"), scales,
            self.quantized, MODES.get(self.quantized))
        return header

    def stored_shapes(self) -> dict:
        """The stored weights' shapes, in the header's order (no data read).

        Returns
        -------
        dict of str to tuple of int
            ``{weight name: shape}``.
        """
        return {n: self._stored[n][1] for n in self.names}

    def check_architecture(self, expected: dict):
        """The stored weights must be exactly ``expected`` ({name: shape}, the architecture's), in order.

        Parameters
        ----------
        expected : dict of str to tuple of int
            The architecture's weights, ``{"layer_index.name": shape}`` in the model's order
            (``Sequential.weight_shapes``).

        Raises
        ------
        ModelFileError
            If a weight is missing or extra, the order differs, or a shape differs.
        """
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
        """The stored weights, after ``check_architecture``; the checksum is checked.

        Returns
        -------
        dict of str to numpy.ndarray
            ``{name: array}`` in the header's order, of the model's dtype (dequantized for a quantized file).

        Raises
        ------
        ModelFileError
            If the archive is damaged, the checksum does not match, or quantized values are invalid.
        """
        return self._guard(self._read_weights)

    def _read_weights(self):
        reader, header = self._reader, self._header
        names = self.names + self._scale_names + self._opt_names
        arrays = {k: reader.array(k) for k in names}
        check_checksum(reader, header["checksum"], names, arrays)
        self._opt_arrays = {k: arrays.pop(k) for k in self._opt_names}
        if self.quantized is None:
            return arrays
        scales = {k[len(SCALE_PREFIX):]: arrays.pop(k) for k in self._scale_names}
        try:                 # to the model's dtype; refuses values the format never writes
            return dequantize_weights(arrays, scales, self.quantized, header["dtype"])
        except ValueError as e:
            raise reader.fail(f"quantized {e}") from None

    def restore_optimizer(self, optimizer, params: dict) -> bool:
        """After ``read_weights``: the stored optimiser state into ``optimizer``, checked against ``params``.

        Parameters
        ----------
        optimizer : rnnkit.optim.Optimizer
            The compiled model's optimiser (of the class the file names).
        params : dict of str to numpy.ndarray
            The model's weights ``{weight name: array}``: every state array must match one in shape and dtype.

        Returns
        -------
        bool
            True if a state was restored; False, changing nothing, if the file has none.

        Raises
        ------
        ModelFileError
            If the stored state does not fit ``optimizer`` or ``params``.
        """
        if self._iterations is None:
            return False
        slots = {s: {} for s in optimizer.slots}
        try:
            for name, (slot, weight) in self._slots.items():
                if slot not in slots:
                    raise ValueError(f"optimizer entry {name!r}: {type(optimizer).__name__} keeps no {slot!r} "
                                     f"state (its slots: {list(optimizer.slots)})")
                slots[slot][weight] = self._opt_arrays[name]
            optimizer.set_state({"iterations": self._iterations, "slots": slots}, params)
        except ValueError as e:
            raise self.fail(str(e)) from None
        return True

