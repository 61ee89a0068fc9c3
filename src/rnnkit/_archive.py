"""The safe archive layer under ``rnnkit.io``: a ZIP of ``.npy`` entries read without pickle.

Bounded reads, object arrays refused before any data is read, the JSON header parsed strictly, and the
weights' checksum. ``rnnkit.io`` builds the model file format on top of it.
"""
from __future__ import annotations

import hashlib
import json
import math
import zipfile

import numpy as np

from . import __version__

FORMAT_NAME = "rnnkit-model"
FORMAT_VERSION = 1
HEADER_ENTRY = "header"
MAX_HEADER_BYTES = 64 * 2 ** 20  # a generous bound (a vocabulary of a million words fits)
DTYPES = ("float32", "float64")
COMPILE_KEYS = ("loss", "optimizer", "metrics", "clip_norm", "clip_value", "l1", "l2", "regularize",
                 "ctc_blank")
HEADER_KEYS = ("format", "format_version", "rnnkit_version", "layers", "dtype", "seed", "input_size",
                "compile", "metadata", "weights", "checksum")


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
    """The SHA-256 of the weights as the file format defines it (see the module docstring)."""
    h = hashlib.sha256()
    for name in names:
        a = arrays[name]
        a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<"))
        h.update(f"{name}|{a.dtype.str}|{','.join(str(s) for s in a.shape)}\n".encode())
        h.update(a.tobytes())
    return h.hexdigest()


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
    extra = sorted(set(header) - set(HEADER_KEYS))
    if missing or extra:
        raise reader.fail(f"header keys: missing {missing}, unexpected {extra}")
    return header


def is_int(v, minimum=None):
    return isinstance(v, int) and not isinstance(v, bool) and (minimum is None or v >= minimum)


