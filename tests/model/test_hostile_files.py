"""Damaged and hostile model files: always ``ModelFileError``, in bounded time and memory, whatever the
header claims (the loader compares the architecture with the stored arrays before allocating)."""
import io as _io
import json
import struct
import subprocess
import sys
import time
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnkit import _atomic
from rnnkit.io import ModelFileError
from rnnkit.layers import GRU, Dense
from rnnkit.model import Sequential

FAST = 1.0            # seconds: any file here loads or fails well within this
SMALL = 64 * 2 ** 20  # bytes of Python/NumPy allocations (tracemalloc) while loading


class _Bytes(bytes):
    def __repr__(self):                      # keep hypothesis' failure reports short
        return f"<{len(self)} bytes of a valid model file>"


@pytest.fixture(scope="module")
def good_bytes(tmp_path_factory):
    model = Sequential([GRU(8), Dense(2)]).compile("crossentropy", "adam")
    model.build(3)
    path = tmp_path_factory.mktemp("m") / "good.npz"
    model.save(path)
    return _Bytes(path.read_bytes())


def _load_bounded(path):
    """Load, returning the exception (or None); assert the time and memory bounds."""
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        Sequential.load(path)
        exc = None
    except Exception as e:  # noqa: BLE001 - the test inspects the type
        exc = e
    finally:
        seconds = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert seconds < FAST, f"load took {seconds:.2f} s"
    assert peak < SMALL, f"load allocated {peak / 2 ** 20:.0f} MB"
    return exc


def _entries(data):
    with zipfile.ZipFile(_io.BytesIO(data)) as z:
        arrays = {n[:-4]: np.load(_io.BytesIO(z.read(n)), allow_pickle=False) for n in z.namelist()}
    return json.loads(arrays.pop("header").tobytes()), arrays


def _archive(header, arrays, compression=zipfile.ZIP_STORED, raw_header=None):
    buf = _io.BytesIO()
    text = raw_header if raw_header is not None else json.dumps(header).encode()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for name, a in {"header": np.frombuffer(text, np.uint8), **arrays}.items():
            npy = _io.BytesIO()
            np.save(npy, a)
            z.writestr(name + ".npy", npy.getvalue())
    return buf.getvalue()


def _write(tmp_path, data, name="f.npz"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _central_directory(data):
    """Offsets of the central-directory records, from the end-of-directory record (PK\\5\\6)."""
    end = data.rindex(b"PK\x05\x06")
    count = struct.unpack("<H", data[end + 10:end + 12])[0]
    off = struct.unpack("<I", data[end + 16:end + 20])[0]
    offsets = []
    for _ in range(count):
        offsets.append(off)
        name_len, extra_len, comment_len = struct.unpack("<HHH", data[off + 28:off + 34])
        off += 46 + name_len + extra_len + comment_len
    return offsets


@pytest.mark.parametrize("field,value", [(6, 239), (8, 0x1)], ids=["version-needed-23.9", "encrypted-flag"])
def test_zip_directory_fields_give_model_file_errors(tmp_path, good_bytes, field, value):
    for k in range(len(_central_directory(good_bytes))):
        data = bytearray(good_bytes)
        off = _central_directory(good_bytes)[k] + field
        old = struct.unpack("<H", data[off:off + 2])[0]
        data[off:off + 2] = struct.pack("<H", value if field == 6 else old | value)
        exc = _load_bounded(_write(tmp_path, bytes(data)))
        assert isinstance(exc, ModelFileError), repr(exc)
        assert str(tmp_path) in str(exc)


@pytest.mark.parametrize("change", [
    ("GRU hidden_size 5000", lambda h: h["layers"][0]["config"].update(hidden_size=5000)),
    ("num_layers 200000", lambda h: h["layers"][0]["config"].update(num_layers=200000)),
    ("num_layers 10**12", lambda h: h["layers"][0]["config"].update(num_layers=10 ** 12)),
    ("input_size 10**9", lambda h: h.update(input_size=10 ** 9)),
    ("Dense units '1'", lambda h: h["layers"][1]["config"].update(units="1")),
    ("hidden_size 8.7", lambda h: h["layers"][0]["config"].update(hidden_size=8.7)),
    ("num_layers true", lambda h: h["layers"][0]["config"].update(num_layers=True)),
    ("Adam beta1 [1]", lambda h: h["compile"]["optimizer"]["config"].update(beta1=[1])),
    ("clip_norm 'big'", lambda h: h["compile"].update(clip_norm="big")),
    ("listed shape wrong", lambda h: h["weights"][0].update(shape=[24, 4])),
    ("listed dtype int64", lambda h: [w.update(dtype="<i8") for w in h["weights"]]),
], ids=lambda c: c[0] if isinstance(c, tuple) else None)
def test_hostile_headers_fail_fast(tmp_path, good_bytes, change):
    header, arrays = _entries(good_bytes)
    change[1](header)
    exc = _load_bounded(_write(tmp_path, _archive(header, arrays)))
    assert isinstance(exc, ModelFileError), repr(exc)


def test_deflate_bomb_header_is_refused_before_it_is_read(tmp_path, good_bytes):
    header, arrays = _entries(good_bytes)
    text = json.dumps(header).encode()
    padded = text[:-1] + b" " * (200 * 2 ** 20) + b"}"            # 200 MB of JSON, ~200 KB deflated
    data = _archive(header, arrays, zipfile.ZIP_DEFLATED, raw_header=padded)
    assert len(data) < 2 ** 20
    exc = _load_bounded(_write(tmp_path, data))
    assert isinstance(exc, ModelFileError) and "expand" in str(exc)


def test_a_valid_file_still_loads_within_the_bounds(tmp_path, good_bytes):
    assert _load_bounded(_write(tmp_path, good_bytes)) is None


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(flips=st.lists(st.tuples(st.integers(0, 10 ** 9), st.integers(1, 255)), min_size=1, max_size=8))
def test_random_corruption_is_a_model_file_error_or_harmless(tmp_path, good_bytes, flips):
    data = bytearray(good_bytes)
    for pos, xor in flips:
        data[pos % len(data)] ^= xor
    exc = _load_bounded(_write(tmp_path, bytes(data)))
    # bytes zipfile ignores (e.g. a local header's size field) may leave a loadable file: fine
    assert exc is None or isinstance(exc, ModelFileError), repr(exc)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10 ** 15, 10 ** 15) | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6)


@settings(max_examples=200, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_random_header_values_are_model_file_errors(tmp_path, good_bytes, data):
    header, arrays = _entries(good_bytes)
    # replace one value somewhere in the header (a layer's config, a top-level key, the compile settings)
    targets = ([("layer", i, k) for i, spec in enumerate(header["layers"]) for k in spec["config"]]
               + [("top", None, k) for k in ("dtype", "seed", "input_size", "layers", "weights", "metadata")]
               + [("compile", None, k) for k in header["compile"]])
    where, i, key = data.draw(st.sampled_from(targets))
    value = data.draw(JSON_VALUES)
    node = header["layers"][i]["config"] if where == "layer" else header["compile"] if where == "compile" \
        else header
    original = node[key]
    node[key] = value
    exc = _load_bounded(_write(tmp_path, _archive(header, arrays)))
    # a legitimate value (seed null, dropout 0.5, ...) loads; anything else is a ModelFileError
    assert exc is None or isinstance(exc, ModelFileError), f"{where} {key}: {original!r} -> {value!r}: {exc!r}"


def test_interrupted_saves_leave_no_temp_files_after_the_next_save(tmp_path, good_bytes):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".model.npz.{dead.pid}.0123456789ab.tmp"   # what a kill -9 mid-save leaves
    stale.write_bytes(good_bytes[:100])
    model = Sequential([GRU(3), Dense(1)]).compile("mse")
    model.build(2)
    model.save(tmp_path / "model.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]
    assert _atomic.remove_abandoned(tmp_path) is None
