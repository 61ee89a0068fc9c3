"""Quantized model files: ``save(path, quantize="int8" | "float16")`` and ``rnnkit.quantize``'s arithmetic.

Expected values are derived by hand or with plain NumPy from the documented formulas (scale = max|row| /
127, q = round(w / scale)), never from rnnkit's own output; the checksum of edited files is recomputed
here from the format's definition in ``rnnkit.io``'s docstring.
"""
import hashlib
import json
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from rnnkit import quantize as Q
from rnnkit.io import ModelFileError
from rnnkit.layers import GRU, LSTM, Dense, Embedding
from rnnkit.model import Sequential
from rnnkit.runtime import OnnxModel

# -- the arithmetic -----------------------------------------------------------------------------------


def test_int8_by_hand():
    # row 0: max |w| = 31.75 -> scale 31.75 / 127 = 0.25 (exact); w / 0.25 = 127, -63.5, 0.5, 1.5, which
    # round half to even to 127, -64, 0, 2. Row 1 is zero: scale 0, q 0.
    w = np.array([[31.75, -15.875, 0.125, 0.375], [0, 0, 0, 0]], dtype=np.float32)
    q, scale = Q.quantize_int8(w)
    assert q.dtype == np.int8 and scale.dtype == np.float32
    assert q.tolist() == [[127, -64, 0, 2], [0, 0, 0, 0]]
    assert scale.tolist() == [0.25, 0.0]
    assert Q.dequantize_int8(q, scale).tolist() == [[31.75, -16.0, 0.0, 0.5], [0, 0, 0, 0]]


def _check_int8_bound(w):
    q, scale = Q.quantize_int8(w)
    amax = np.abs(w.astype(np.float64)).max(axis=1)
    s = scale.astype(np.float64)
    # the scale is max|row| / 127, rounded up to a float32
    assert np.all(s * 127 >= amax) and np.all(s <= amax / 127 * (1 + 2.0 ** -22) + 2.0 ** -149)
    assert np.abs(q.astype(int)).max(initial=0) <= 127
    normal = amax / 127 >= np.finfo(np.float32).tiny             # a scale in float32's normal range:
    assert np.all(np.abs(q[normal].astype(int)).max(axis=1) == 127)   # each row's largest entry is +-127
    for dtype in (np.float32, np.float64):
        deq = Q.dequantize_int8(q, scale, dtype)
        assert deq.dtype == dtype
        err = np.abs(w.astype(np.float64) - deq.astype(np.float64))
        # half a step per row, plus the float64 quotient's rounding and (float32) the result's rounding
        slack = s[:, None] * 2.0 ** -40 + np.abs(w) * (np.finfo(dtype).eps if dtype == np.float32 else 0)
        assert np.all(err <= s[:, None] / 2 + slack)


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, max_side=9),
                  elements=st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=True)))
def test_int8_error_is_at_most_half_a_step_per_row(w):
    _check_int8_bound(w)


def test_int8_error_bound_on_weights_of_every_scale():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((40, 30)) * np.logspace(-30, 30, 40)[:, None]
    _check_int8_bound(w)
    _check_int8_bound(w.astype(np.float32))
    _check_int8_bound(np.full((2, 3), 1e-44))        # subnormal rows: a subnormal float32 scale


def test_float16_copies_and_error_bound():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((20, 7)) * 3
    h = Q.quantize_float16(w)
    assert h.dtype == np.float16 and np.array_equal(h, w.astype(np.float16))
    back = Q.dequantize_float16(h, np.float64)
    assert np.all(np.abs(back - w) <= np.maximum(np.abs(w) * 2.0 ** -11, 2.0 ** -25))
    with pytest.raises(ValueError, match="overflow float16"):
        Q.quantize_float16(np.array([[7e4]]), "weight 'x'")


@pytest.mark.parametrize("q, scale, match", [
    (np.array([[-128, 3]], np.int8), np.array([0.5], np.float32), "-128"),
    (np.array([[1, 3]], np.int8), np.array([-0.5], np.float32), "finite and >= 0"),
    (np.array([[1, 3]], np.int8), np.array([np.nan], np.float32), "finite and >= 0"),
    (np.array([[1, 3]], np.int8), np.array([0.5, 1], np.float32), "one per row"),
    (np.array([[1, 3]], np.int8), np.array([0.5], np.float64), "float32"),
    (np.array([[1, 3]], np.int16), np.array([0.5], np.float32), "int8"),
])
def test_dequantize_int8_refuses_what_the_format_never_writes(q, scale, match):
    with pytest.raises(ValueError, match=match):
        Q.dequantize_int8(q, scale)


def test_quantize_refuses_nan_and_unknown_modes():
    with pytest.raises(ValueError, match="NaN"):
        Q.quantize_int8(np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match="'int8' or 'float16'"):
        Q.quantize_weights({"0.W": np.ones((2, 2))}, "int4")


# -- files --------------------------------------------------------------------------------------------

def _lstm_model(dtype="float32", seed=0):
    model = Sequential([Embedding(1000, 64), LSTM(128), Dense(4)], seed=seed, dtype=dtype)
    model.compile("crossentropy", "adam", metrics=["accuracy"])
    model.build(1000)
    return model


def _matrix_bytes(model, itemsize):
    return sum(w.size * itemsize for w in model.get_weights().values() if w.ndim == 2)


def _other_bytes(model):
    return sum(w.nbytes for w in model.get_weights().values() if w.ndim != 2)


def test_sizes_drop_about_4x_and_2x(tmp_path):
    model = _lstm_model()
    sizes = {}
    for mode in (None, "int8", "float16"):
        path = tmp_path / f"{mode}.npz"
        model.save(path, include_optimizer=False, quantize=mode)
        sizes[mode] = os.path.getsize(path)
    weights = model.get_weights()
    rows = sum(w.shape[0] for w in weights.values() if w.ndim == 2)
    # expected payloads from the format: matrices at 1 (int8) or 2 (float16) bytes an entry, one float32
    # scale per int8 row, biases unchanged; headers and ZIP records are a few kB at most
    full = _matrix_bytes(model, 4) + _other_bytes(model)
    int8 = _matrix_bytes(model, 1) + 4 * rows + _other_bytes(model)
    f16 = _matrix_bytes(model, 2) + _other_bytes(model)
    for mode, payload in ((None, full), ("int8", int8), ("float16", f16)):
        assert payload <= sizes[mode] <= payload + 8192, (mode, sizes[mode], payload)
    assert 3.5 < sizes[None] / sizes["int8"] < 4.0
    assert 1.9 < sizes[None] / sizes["float16"] < 2.0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_int8_round_trip_is_within_half_a_step(dtype, tmp_path):
    model = _lstm_model(dtype)
    path = tmp_path / "q.npz"
    model.save(path, quantize="int8", metadata={"vocab": ["a", "b"]})
    loaded = Sequential.load(path)
    assert loaded.quantized == "int8" and model.quantized is None
    assert loaded.dtype == np.dtype(dtype) and loaded.metadata == {"vocab": ["a", "b"]}
    assert loaded.get_config() == model.get_config()            # the architecture and compile settings
    for name, w in model.get_weights().items():
        got = loaded.get_weights()[name]
        assert got.dtype == w.dtype and got.shape == w.shape
        if w.ndim == 1:
            assert np.array_equal(got, w), name                   # biases are stored as they are
            continue
        step = np.abs(w.astype(np.float64)).max(axis=1) / 127     # the documented scale, in float64
        err = np.abs(got.astype(np.float64) - w)
        eps = np.finfo(w.dtype).eps if w.dtype == np.float32 else 1e-14
        assert np.all(err <= step[:, None] / 2 * (1 + 1e-6) + eps * np.abs(w)), name


def test_float16_round_trip_equals_numpys_cast(tmp_path):
    model = _lstm_model()
    model.save(tmp_path / "h.npz", quantize="float16")
    loaded = Sequential.load(tmp_path / "h.npz")
    assert loaded.quantized == "float16"
    for name, w in model.get_weights().items():
        want = w.astype(np.float16).astype(np.float32) if w.ndim == 2 else w
        assert np.array_equal(loaded.get_weights()[name], want), name


def test_predictions_stay_close(tmp_path):
    rng = np.random.default_rng(3)
    X = [rng.integers(0, 1000, n) for n in rng.integers(3, 15, 32)]
    model = _lstm_model()
    ref = model.predict(X)
    dev = {}
    for mode in ("int8", "float16"):
        model.save(tmp_path / f"{mode}.npz", quantize=mode)
        dev[mode] = float(np.abs(Sequential.load(tmp_path / f"{mode}.npz").predict(X) - ref).max())
    print(f"max |prediction - float32 prediction| on a small LSTM: {dev} (outputs up to {np.abs(ref).max():.3f})")
    assert 0 < dev["float16"] < dev["int8"] < 0.02 * np.abs(ref).max()


def test_quantized_file_has_no_optimizer_state_and_trains_on(tmp_path):
    model = _lstm_model()
    X, y = [np.arange(5), np.arange(7) + 3, np.arange(4)], [0, 1, 2]
    model.fit(X, y, epochs=1, verbose=0)
    model.save(tmp_path / "q.npz", quantize="int8")               # include_optimizer=True (the default)
    with np.load(tmp_path / "q.npz", allow_pickle=False) as z:
        header = json.loads(z["header"].tobytes())
        assert not [k for k in z.files if k.startswith("optimizer.")]
    assert "optimizer_state" not in header and header["quantization"]["mode"] == "int8"
    loaded = Sequential.load(tmp_path / "q.npz")
    assert loaded.optimizer.iterations == 0                       # a fresh optimiser
    loaded.fit(X, y, epochs=1, verbose=0)
    loaded.save(tmp_path / "again.npz")                          # a plain float file again
    assert Sequential.load(tmp_path / "again.npz").quantized is None


def test_unknown_mode_and_float16_overflow_are_refused_at_save(tmp_path):
    model = Sequential([Dense(3)]).build(2)
    with pytest.raises(ValueError, match="'int8' or 'float16'"):
        model.save(tmp_path / "x.npz", quantize="fp8")
    model.layers[0].params["W_y"][0, 0] = 1e5
    with pytest.raises(ValueError, match=r"weight '0.W_y'.*overflow float16"):
        model.save(tmp_path / "x.npz", quantize="float16")
    assert not (tmp_path / "x.npz").exists()


def _checksum(names, arrays):
    """The format's checksum, written from io's docstring."""
    h = hashlib.sha256()
    for n in names:
        a = np.ascontiguousarray(arrays[n])
        h.update(f"{n}|{a.dtype.str}|{','.join(map(str, a.shape))}\n".encode() + a.tobytes())
    return h.hexdigest()


def test_an_old_file_written_by_hand_still_loads(tmp_path):
    # a file as rnnkit wrote it before quantization (and classes, and optimiser state) existed
    rng = np.random.default_rng(4)
    weights = {"0.W_y": rng.standard_normal((3, 2)).astype(np.float32), "0.c": np.zeros(3, np.float32)}
    header = {"format": "rnnkit-model", "format_version": 1, "rnnkit_version": "0.1.0",
              "layers": [{"class": "Dense", "config": {"units": 3, "activation": None}}],
              "dtype": "float32", "seed": 0, "input_size": 2, "compile": None, "metadata": None,
              "weights": [{"name": k, "dtype": v.dtype.str, "shape": list(v.shape)} for k, v in weights.items()],
              "checksum": {"algorithm": "sha256", "value": _checksum(list(weights), weights)}}
    np.savez(tmp_path / "old.npz", header=np.frombuffer(json.dumps(header).encode(), np.uint8), **weights)
    model = Sequential.load(tmp_path / "old.npz")
    assert model.quantized is None
    assert np.array_equal(model.get_weights()["0.W_y"], weights["0.W_y"])


# -- hostile quantized files --------------------------------------------------------------------------

def _quantized_file(tmp_path, mode="int8"):
    model = Sequential([GRU(5), Dense(2)]).compile("crossentropy")
    model.build(3)
    path = tmp_path / f"{mode}.npz"
    model.save(path, quantize=mode)
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    return json.loads(arrays.pop("header").tobytes()), arrays


def _rewrite(path, header, arrays, checksum=True):
    """Write ``header`` and ``arrays``; with ``checksum``, a valid checksum over what the header lists."""
    if checksum:
        names = [w["name"] for w in header["weights"]]
        q = header.get("quantization")
        names += [s["name"] for s in q["scales"]] if isinstance(q, dict) and isinstance(q.get("scales"), list) else []
        header["checksum"]["value"] = _checksum([n for n in names if n in arrays], arrays)
    np.savez(path, header=np.frombuffer(json.dumps(header).encode(), np.uint8), **arrays)
    return path


def _listed(header, name, key="weights"):
    items = header["weights"] if key == "weights" else header["quantization"]["scales"]
    return next(w for w in items if w["name"] == name)


def _as(header, arrays, name, dtype, key="weights"):
    arrays[name] = arrays[name].astype(dtype)
    _listed(header, name, key)["dtype"] = np.dtype(dtype).str


def _hostile_cases():
    def add_optimizer(h, a):
        h["optimizer_state"] = {"iterations": 1, "arrays": []}

    def mode(h, a):
        h["quantization"]["mode"] = "int4"

    def not_a_dict(h, a):
        h["quantization"] = ["int8"]

    def float_matrix(h, a):
        _as(h, a, "0.W_x_l0", np.float32)

    def int8_bias(h, a):
        _as(h, a, "0.b_l0", np.int8)

    def scale_float64(h, a):
        _as(h, a, "scale.1.W_y", np.float64, key="scales")

    def scale_missing(h, a):
        del a["scale.1.W_y"]
        h["quantization"]["scales"] = [s for s in h["quantization"]["scales"] if s["name"] != "scale.1.W_y"]

    def scale_unlisted(h, a):
        h["quantization"]["scales"] = h["quantization"]["scales"][1:]

    def scale_shape(h, a):
        a["scale.1.W_y"] = np.ones(3, np.float32)
        _listed(h, "scale.1.W_y", "scales")["shape"] = [3]

    def scale_negative(h, a):
        a["scale.1.W_y"] = -a["scale.1.W_y"]

    def scale_nan(h, a):
        a["scale.1.W_y"] = np.full_like(a["scale.1.W_y"], np.nan)

    def q_minus_128(h, a):
        a["1.W_y"][0, 0] = -128

    def scale_names_not_strings(h, a):
        h["quantization"]["scales"][0]["name"] = 7

    def scales_reordered(h, a):
        h["quantization"]["scales"] = h["quantization"]["scales"][::-1]

    return {"optimizer_state beside quantization": (add_optimizer, "never holds an optimiser state"),
            "unknown mode": (mode, "quantization.mode"),
            "quantization not an object": (not_a_dict, "header 'quantization'"),
            "float32 matrix in an int8 file": (float_matrix, r"0.W_x_l0.*int8 file stores weight matrices"),
            "int8 bias": (int8_bias, r"0.b_l0.*the model's dtype"),
            "float64 scale": (scale_float64, "scales are float32"),
            "missing scale": (scale_missing, "quantization.scales"),
            "scale entry not listed": (scale_unlisted, "not listed in the header"),
            "scale of the wrong shape": (scale_shape, "one scale per row"),
            "negative scale": (scale_negative, "finite and >= 0"),
            "NaN scale": (scale_nan, "finite and >= 0"),
            "int8 value -128": (q_minus_128, "-128"),
            "scale name not a string": (scale_names_not_strings, "names must be strings"),
            "scales out of order": (scales_reordered, "weights' order")}


@pytest.mark.parametrize("case", list(_hostile_cases()))
def test_hostile_int8_files_are_refused(case, tmp_path):
    edit, match = _hostile_cases()[case]
    header, arrays = _quantized_file(tmp_path)
    edit(header, arrays)
    path = _rewrite(tmp_path / "bad.npz", header, arrays)
    with pytest.raises(ModelFileError, match=match) as info:
        Sequential.load(path)
    assert str(path) in str(info.value)


def test_an_edited_scale_fails_the_checksum(tmp_path):
    header, arrays = _quantized_file(tmp_path)
    arrays["scale.1.W_y"] = arrays["scale.1.W_y"] * 2
    path = _rewrite(tmp_path / "bad.npz", header, arrays, checksum=False)
    with pytest.raises(ModelFileError, match="checksum mismatch"):
        Sequential.load(path)


def test_float16_file_with_scales_or_int8_is_refused(tmp_path):
    header, arrays = _quantized_file(tmp_path, "float16")
    arrays["scale.1.W_y"] = np.ones(2, np.float32)
    header["quantization"]["scales"] = [{"name": "scale.1.W_y", "dtype": "<f4", "shape": [2]}]
    with pytest.raises(ModelFileError, match=r"a float16 file has \[\]"):
        Sequential.load(_rewrite(tmp_path / "bad.npz", header, arrays))
    header, arrays = _quantized_file(tmp_path, "float16")
    _as(header, arrays, "1.W_y", np.int8)
    with pytest.raises(ModelFileError, match="float16 file stores weight matrices as <f2"):
        Sequential.load(_rewrite(tmp_path / "bad2.npz", header, arrays))


def test_unquantized_file_with_int8_weights_or_scales_is_refused(tmp_path):
    header, arrays = _quantized_file(tmp_path)
    del header["quantization"]
    with pytest.raises(ModelFileError, match="not listed in the header"):
        Sequential.load(_rewrite(tmp_path / "bad.npz", header, arrays))
    arrays = {k: v for k, v in arrays.items() if not k.startswith("scale.")}
    with pytest.raises(ModelFileError, match=r"0.W_x_l0.*the model's dtype is <f4"):
        Sequential.load(_rewrite(tmp_path / "bad2.npz", header, arrays))


def test_fp16_and_float16_name_the_same_mode(tmp_path):
    """``save`` calls it float16, ``export_onnx`` fp16; each accepts the other's name."""
    model = Sequential([LSTM(4), Dense(2)], seed=0).build(3)
    model.save(tmp_path / "a.npz", quantize="float16")
    model.save(tmp_path / "b.npz", quantize="fp16")
    a, b = Sequential.load(tmp_path / "a.npz"), Sequential.load(tmp_path / "b.npz")
    assert a.quantized == b.quantized == "float16"
    assert all(np.array_equal(a.get_weights()[k], b.get_weights()[k]) for k in a.get_weights())
    x = np.random.default_rng(0).standard_normal((2, 5, 3))
    outs = []
    for name in ("fp16", "float16"):
        path = model.export_onnx(tmp_path / f"{name}.onnx", quantize=name)
        outs.append(OnnxModel(path).predict(x))
    np.testing.assert_array_equal(outs[0], outs[1])
