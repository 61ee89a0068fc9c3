"""The safe archive layer under ``rnnkit.io``: a ZIP of ``.npy`` entries read without pickle.

Bounded reads, object arrays refused before any data is read, the JSON header parsed strictly, the
header's lists of arrays (weights, quantization scales, optimiser state) checked against the stored
entries, and the checksum. ``rnnkit.io`` builds the model file format on top of it (and documents it).
"""
from __future__ import annotations

import hashlib
import inspect
import json
import math
import zipfile

import numpy as np

from ._version import __version__

FORMAT_NAME = "rnnkit-model"
FORMAT_VERSION = 1
HEADER_ENTRY = "header"
MAX_HEADER_BYTES = 64 * 2 ** 20  # a generous bound (a vocabulary of a million words fits)
DTYPES = ("float32", "float64")
#: How much larger than its stored (compressed) size an entry may be: rnnkit writes uncompressed
#: archives, and real weights or JSON deflate by far less; a deflate bomb expands ~1000x.
MAX_EXPANSION = 50
COMPILE_KEYS = ("loss", "optimizer", "metrics", "clip_norm", "clip_value", "l1", "l2", "regularize",
                 "ctc_blank")
HEADER_KEYS = ("format", "format_version", "rnnkit_version", "layers", "dtype", "seed", "input_size",
                "compile", "metadata", "weights", "checksum")
#: Keys a header may have (written only when there is something to store, so that files without them
#: are exactly what earlier versions of rnnkit wrote and read).
OPTIONAL_HEADER_KEYS = ("optimizer_state", "classes", "quantization")
#: The prefix of the optimiser state's entries: ``optimizer.<slot>.<weight name>``.
OPTIMIZER_PREFIX = "optimizer."
#: The prefix of an int8 file's per-row scales: ``scale.<weight name>``, float32 (little-endian).
SCALE_PREFIX = "scale."
SCALE_DTYPE = np.dtype("<f4")


class ModelFileError(ValueError):
    """A model file that cannot be loaded: damaged, hostile, or not an rnnkit model file."""


def json_default(o):
    if isinstance(o, np.generic):  # numpy scalars in configs or metadata -> Python numbers
        return o.item()
    raise TypeError(f"{type(o).__name__} is not JSON data")


def check_json_data(value, where):
    """Refuse what JSON would silently change (non-str keys) or cannot hold (NaN/inf, objects)."""
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"{where}: keys must be strings, got {k!r} ({type(k).__name__})")
            check_json_data(v, f"{where}[{k!r}]")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            check_json_data(v, f"{where}[{i}]")
    elif isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            raise ValueError(f"{where}: {value!r} is not representable in JSON")
    elif not (value is None or isinstance(value, (str, bool, int, np.integer, np.bool_))):
        raise TypeError(f"{where}: expected JSON data (dict, list, str, number, bool, None), "
                        f"got {type(value).__name__}")


def weights_checksum(names, arrays) -> str:
    """The SHA-256 of the arrays ``names`` (the weights, then any scales, then any optimiser state
    entries) as the file format defines it (see ``rnnkit.io``'s docstring)."""
    h = hashlib.sha256()
    for name in names:
        a = arrays[name]
        a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<"))
        h.update(f"{name}|{a.dtype.str}|{','.join(str(s) for s in a.shape)}\n".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def check_checksum(reader, checksum, names, arrays):
    """The header's ``checksum`` must be the SHA-256 ``weights_checksum(names, arrays)``."""
    if not isinstance(checksum, dict) or checksum.get("algorithm") != "sha256":
        raise reader.fail(f"header 'checksum': expected {{'algorithm': 'sha256', 'value': hex}}, "
                          f"got {checksum!r:.100}")
    actual = weights_checksum(names, arrays)
    if checksum.get("value") != actual:
        raise reader.fail(f"checksum mismatch: the weights are damaged or were edited "
                          f"(header says {str(checksum.get('value'))[:16]}..., the data gives {actual[:16]}...)")


class Reader:
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


def check_zip_entries(reader, infos):
    """Refuse what zipfile would fail on late (encryption, odd compression) and entries that expand
    far beyond their stored size (a deflate bomb), before reading anything."""
    for info in infos:
        name = info.filename
        if info.flag_bits & 0x1:
            raise reader.fail(f"entry {name!r} is encrypted; model files are never encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise reader.fail(f"entry {name!r} uses compression method {info.compress_type}; "
                              "model files are stored (or deflated)")
        if info.file_size > MAX_EXPANSION * info.compress_size + 2 ** 16:
            raise reader.fail(f"entry {name!r} would expand from {info.compress_size} to {info.file_size} "
                              f"bytes (more than {MAX_EXPANSION}x): refused")


def parse_header(reader):
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
    missing = [k for k in HEADER_KEYS if k not in header]
    extra = sorted(set(header) - set(HEADER_KEYS) - set(OPTIONAL_HEADER_KEYS))
    if missing or extra:
        raise reader.fail(f"header keys: missing {missing}, unexpected {extra}")
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
    return header


def is_int(v, minimum=None):
    return isinstance(v, int) and not isinstance(v, bool) and (minimum is None or v >= minimum)


def unaccepted_keys(cls, config) -> list:
    """The keys of ``config`` that ``cls(**config)`` does not accept (none if it takes ``**kwargs``)."""
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]  # drop self
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return []
    accepted = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return sorted(set(config) - accepted)


def check_compile_settings(settings):
    """The structure of a header's ``compile`` settings (ValueError if bad; the optimiser's name and
    config are checked against the optimisers by ``rnnkit.io``)."""
    if not isinstance(settings, dict) or set(settings) != set(COMPILE_KEYS):
        raise ValueError(f"header 'compile': expected null or an object with keys {list(COMPILE_KEYS)}")
    opt = settings["optimizer"]
    if not isinstance(opt, dict) or set(opt) != {"name", "config"} or not isinstance(opt["config"], dict):
        raise ValueError("header 'compile.optimizer': expected {'name': ..., 'config': {...}}")
    if not is_int(settings["ctc_blank"], 0):
        raise ValueError(f"header 'compile.ctc_blank': expected a non-negative integer, "
                         f"got {settings['ctc_blank']!r:.50}")
    reg, metrics = settings["regularize"], settings["metrics"]
    if not isinstance(reg, list) or not all(isinstance(p, str) for p in reg):
        raise ValueError("header 'compile.regularize': expected a list of name patterns")
    if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
        raise ValueError("header 'compile.metrics': expected a list of metric names")


# -- the header's lists of arrays --------------------------------------------------------------------

def listing(arrays) -> list:
    """The header's description of named arrays: ``[{"name", "dtype", "shape"}]``."""
    return [{"name": k, "dtype": a.dtype.str, "shape": list(a.shape)} for k, a in arrays.items()]


def optimizer_part(state, weights: dict):
    """``(header keys, arrays)`` to write for an ``Optimizer.get_state()`` (or None) and the ``weights``:
    ``({}, weights)`` if there is no state or the optimiser has not stepped, else the header's
    ``optimizer_state`` and the weights followed by the state's entries (``optimizer_entries``)."""
    if state is None or not (state["iterations"] or any(state["slots"].values())):
        return {}, weights
    entries = optimizer_entries(state, weights)
    return ({"optimizer_state": {"iterations": int(state["iterations"]), "arrays": listing(entries)}},
            {**weights, **entries})


def optimizer_entries(state, weights: dict) -> dict:
    """The archive entries ``{"optimizer.<slot>.<weight>": array}`` of an ``Optimizer.get_state()``,
    in slot order and the weights' order; each array is checked against its weight (ValueError)."""
    entries = {}
    for slot, arrays in state["slots"].items():
        if not isinstance(slot, str) or not slot or "." in slot:
            raise ValueError(f"save: optimizer slot names must be non-empty strings without '.', got {slot!r}")
        unknown = sorted(set(arrays) - set(weights))
        if unknown:
            raise ValueError(f"save: the optimizer holds {slot!r} state for {unknown[:10]}, which are not "
                             "weights of this model (was the optimizer used with another model?)")
        for name, w in weights.items():
            a = arrays.get(name)
            if a is None:
                continue
            if a.shape != w.shape or a.dtype.newbyteorder("<") != w.dtype:
                raise ValueError(f"save: the optimizer's {slot!r} state of {name!r} has shape {a.shape} dtype "
                                 f"{a.dtype}, the weight has shape {w.shape} dtype {w.dtype}")
            entries[f"{OPTIMIZER_PREFIX}{slot}.{name}"] = np.ascontiguousarray(a, dtype=w.dtype)
    return entries


def optimizer_listing(reader, opt, settings):
    """``(iterations, arrays)`` of a header's ``optimizer_state``, its structure checked."""
    if settings is None:
        raise reader.fail("header 'optimizer_state' without compile settings: an optimiser state needs "
                          "the optimiser it belongs to")
    if not isinstance(opt, dict) or set(opt) != {"iterations", "arrays"}:
        raise reader.fail("header 'optimizer_state': expected {'iterations': int, 'arrays': [...]}")
    if not is_int(opt["iterations"], 0):
        raise reader.fail(f"header 'optimizer_state.iterations': expected a non-negative integer, "
                          f"got {opt['iterations']!r:.50}")
    listed = opt["arrays"]
    if not _is_listing(listed):
        raise reader.fail("header 'optimizer_state.arrays': expected a list of {'name', 'dtype', 'shape'}")
    for a in listed:
        name = a["name"]
        if not (isinstance(name, str) and name.startswith(OPTIMIZER_PREFIX) and name.count(".") >= 2):
            raise reader.fail(f"header 'optimizer_state.arrays': entry name {name!r:.100} is not "
                              f"'{OPTIMIZER_PREFIX}<slot>.<weight name>'")
    return opt["iterations"], listed


def quantization_listing(reader, q, opt, modes):
    """``(mode, scale listing)`` of a header's ``quantization`` (None: ``(None, [])``), its structure
    checked: ``mode`` one of ``modes``, no ``optimizer_state`` beside it (``opt``), a listing of scales."""
    if q is None:
        return None, []
    if not isinstance(q, dict) or set(q) != {"mode", "scales"}:
        raise reader.fail(f"header 'quantization': expected {{'mode': one of {list(modes)}, 'scales': [...]}}, "
                          f"got {q!r:.100}")
    if not (isinstance(q["mode"], str) and q["mode"] in modes):
        raise reader.fail(f"header 'quantization.mode': expected one of {list(modes)}, got {q['mode']!r:.50}")
    if opt is not None:
        raise reader.fail("header has both 'quantization' and 'optimizer_state': a quantized file is for "
                          "inference and never holds an optimiser state")
    if not _is_listing(q["scales"]):
        raise reader.fail("header 'quantization.scales': expected a list of {'name', 'dtype', 'shape'}")
    return q["mode"], q["scales"]


def _is_listing(listed):
    return isinstance(listed, list) and all(isinstance(w, dict) and set(w) == {"name", "dtype", "shape"}
                                            for w in listed)


def check_listed(reader, stored, listed, opt_listed, dtype, scale_listed=(), mode=None, qdtype=None):
    """The header's lists of weights, scales and optimiser arrays (checked by ``quantization_listing``
    and ``optimizer_listing``) must describe exactly the ``stored`` arrays ({entry: (dtype, shape,
    fortran)}): names, shapes and the model's ``dtype``, except in a quantized file (``mode``): there
    every 2-D weight has ``qdtype`` and, for "int8", a ``scale.<weight>`` entry (float32, one per row,
    in the weights' order). Each optimiser entry belongs to a weight and has its shape. Returns
    ``(weight names, scale names, optimiser entry names, {entry: (slot, weight)})``."""
    if not _is_listing(listed):
        raise reader.fail("header 'weights': expected a list of {'name', 'dtype', 'shape'}")
    names, opt_names = [w["name"] for w in listed], [a["name"] for a in opt_listed]
    scale_names = [a["name"] for a in scale_listed]
    if not all(isinstance(n, str) for n in names + scale_names):
        raise reader.fail(f"header 'weights' and 'quantization.scales': names must be strings, "
                          f"got {(names + scale_names)!r:.200}")
    if sorted(names + scale_names + opt_names) != sorted(stored):
        problem = f"header 'weights' lists {names!r:.200}"
        if scale_names or any(e.startswith(SCALE_PREFIX) for e in stored):
            problem += f" and 'quantization' lists {scale_names!r:.200}"
        if opt_names or any(e.startswith(OPTIMIZER_PREFIX) for e in stored):
            problem += f" and 'optimizer_state' lists {opt_names!r:.200}"
        raise reader.fail(f"{problem}, the archive holds {sorted(stored)!r:.200}"
                          + _difference(names + scale_names + opt_names, stored))
    matrices = [n for n in names if mode is not None and len(stored[n][1]) == 2]   # quantize.is_quantized
    want_scales = [SCALE_PREFIX + n for n in matrices] if mode == "int8" else []
    if scale_names != want_scales:
        raise reader.fail(f"header 'quantization.scales' lists {scale_names!r:.200}; a {mode} file has "
                          f"{want_scales!r:.200} (one per weight matrix, in the weights' order)")
    quantized = set(matrices)
    for kind, items in (("weight", listed), ("scale", scale_listed), ("optimizer entry", opt_listed)):
        for w in items:
            st_dtype, st_shape, _ = stored[w["name"]]
            if kind == "scale":
                want, why = SCALE_DTYPE, "scales are float32"
            elif w["name"] in quantized:
                want, why = qdtype, f"a {mode} file stores weight matrices as {qdtype.str}"
            else:
                want, why = dtype, f"the model's dtype is {dtype.str}"
            if w["dtype"] != want.str or st_dtype != want:
                raise reader.fail(f"{kind} {w['name']!r}: dtype {w['dtype']!r} (stored {st_dtype.str}), {why}")
            if not (isinstance(w["shape"], list) and all(is_int(d, 0) for d in w["shape"])
                    and tuple(w["shape"]) == st_shape):
                raise reader.fail(f"{kind} {w['name']!r}: the header says shape {w['shape']!r:.80}, "
                                  f"the stored array has {st_shape}")
            if kind == "scale" and st_shape != stored[w["name"][len(SCALE_PREFIX):]][1][:1]:
                raise reader.fail(f"scale {w['name']!r} has shape {st_shape}, its weight has "
                                  f"{stored[w['name'][len(SCALE_PREFIX):]][1][0]} rows (one scale per row)")
    slots, known = {}, set(names)
    for name in opt_names:
        slot, weight = name[len(OPTIMIZER_PREFIX):].split(".", 1)
        if weight not in known:
            raise reader.fail(f"optimizer entry {name!r} is the {slot!r} state of {weight!r}, which is not "
                              f"a weight of this file (weights: {names!r:.200})")
        if stored[name][1] != stored[weight][1]:
            raise reader.fail(f"optimizer entry {name!r} has shape {stored[name][1]}, its weight {weight!r} "
                              f"has {stored[weight][1]}")
        slots[name] = (slot, weight)
    return names, scale_names, opt_names, slots


def _difference(listed, stored) -> str:
    missing, unlisted = sorted(set(listed) - set(stored)), sorted(set(stored) - set(listed))
    return ((f" (missing from the archive: {missing[:10]})" if missing else "")
            + (f" (not listed in the header: {unlisted[:10]})" if unlisted else ""))
