"""Model files (rnnkit.io): exact round trips, atomic writes, and refusal of damaged or hostile files."""
import io as _io
import json
import os
import pickle
import struct
import zipfile

import numpy as np
import pytest

import rnnkit.io as rio
from rnnkit.callbacks import ModelCheckpoint
from rnnkit.io import ModelFileError
from rnnkit.layers import GRU, LSTM, RNN, Dense, Dropout, Embedding
from rnnkit.model import Sequential, feedforward
from rnnkit.optim import SGD, Adam

rng = np.random.default_rng(0)


def perturb(model, seed=1):
    """Move the weights away from their seeded initialisation, so a load that re-initialised would show."""
    r = np.random.default_rng(seed)
    model.set_weights({k: v + r.standard_normal(v.shape).astype(v.dtype) * v.dtype.type(0.1)
                       for k, v in model.get_weights().items()})
    return model


def seqs(n=7, F=3, T=6):
    return [rng.standard_normal((int(t), F)).astype(np.float32) for t in rng.integers(1, T + 1, n)]


def tokens(n=7, V=20, T=6):
    return [rng.integers(1, V, int(t)) for t in rng.integers(1, T + 1, n)]


CASES = {
    "dense-dropout": (lambda: Sequential([Dense(8, "tanh"), Dropout(0.3), Dense(3)], seed=3)
                      .compile("crossentropy", SGD(0.05, momentum=0.9, nesterov=True), metrics=["accuracy"],
                               clip_norm=2.0, clip_value=0.5, l1=1e-4, l2=1e-3),
                      lambda: rng.standard_normal((9, 4)).astype(np.float32)),
    "embedding-rnn-relu": (lambda: Sequential([Embedding(20, 5), RNN(6, nonlinearity="relu"), Dense(1)])
                           .compile("binary_crossentropy", "adam", lr=3e-3, metrics=["accuracy"]),
                           tokens),
    "lstm-bi-2layers": (lambda: Sequential([LSTM(5, num_layers=2, bidirectional=True, dropout=0.2,
                                                 return_sequences=True), Dense(2)])
                        .compile("mse", Adam(1e-3, weight_decay=0.01), metrics=["mae", "rmse"]),
                        seqs),
    "gru-reset-after": (lambda: Sequential([GRU(4, reset_after=True, merge="sum", bidirectional=True),
                                            Dense(2)]).compile("crossentropy"),
                        seqs),
    "gru-seed": (lambda: Sequential([GRU(4, reset_after=False, num_layers=2), Dense(1)],
                                    dtype="float64").compile("mse", "sgd"),
                 lambda: [s.astype(np.float64) for s in seqs()]),
    "flatten-feedforward": (lambda: feedforward([6, 5], 2, window=4).compile("mse"),
                            lambda: rng.standard_normal((5, 4, 3)).astype(np.float32)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_round_trip_is_exact(case, tmp_path):
    make, data = CASES[case]
    X = data()
    model = make()
    model.predict(X)  # builds the model
    perturb(model)
    before = model.predict(X)
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = Sequential.load(path)
    after = loaded.predict(X)
    assert after.dtype == before.dtype and np.array_equal(after, before)
    w0, w1 = model.get_weights(), loaded.get_weights()
    assert list(w0) == list(w1)
    assert all(w0[k].dtype == w1[k].dtype and np.array_equal(w0[k], w1[k]) for k in w0)
    assert [type(l) for l in loaded.layers] == [type(l) for l in model.layers]
    assert [l.get_config() for l in loaded.layers] == [l.get_config() for l in model.layers]
    assert loaded.dtype == model.dtype and loaded.seed == model.seed and loaded.input_size == model.input_size
    # compile settings restored
    assert loaded.loss == model.loss
    assert type(loaded.optimizer) is type(model.optimizer)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert list(loaded.metrics) == list(model.metrics)
    for k in ("clip_norm", "clip_value", "l1", "l2", "ctc_blank"):
        assert getattr(loaded, k) == getattr(model, k)
    assert loaded.metadata == {}
    # the file is an ordinary .npz that numpy reads without pickle
    with np.load(path, allow_pickle=False) as z:
        assert set(z.files) == {"header"} | set(w0)
        header = json.loads(z["header"].tobytes())
    assert header["format"] == "rnnkit-model" and header["format_version"] == 1


@pytest.mark.parametrize("generic", [False, True], ids=["fixed-class", "Recurrent"])
def test_every_cell_kind_round_trips(cell_kind, generic, tmp_path):
    """Each cell kind, as RNN / LSTM / GRU or as ``Recurrent(cell=...)``, deep and bidirectional, saved
    and loaded: the same class, options and weights, bit-identical predictions."""
    make = cell_kind.recurrent if generic else cell_kind.layer
    model = Sequential([make(4, num_layers=2, bidirectional=True, recurrent_dropout=0.1), Dense(2)],
                       seed=2).compile("mse")
    X = seqs()
    model.predict(X)
    perturb(model)
    model.save(tmp_path / "m.npz")
    loaded = Sequential.load(tmp_path / "m.npz")
    layer = loaded.layers[0]
    assert type(layer) is type(model.layers[0])
    assert layer.cell is model.layers[0].cell and layer.cell_options == cell_kind.options
    assert layer.get_config() == model.layers[0].get_config()
    assert np.array_equal(loaded.predict(X), model.predict(X))


def test_loaded_model_keeps_training(tmp_path):
    X = rng.standard_normal((16, 5, 2)).astype(np.float32)
    y = X.sum(axis=(1, 2))
    model = Sequential([LSTM(4), Dense(1)]).compile("mse", "adam", lr=1e-2)
    model.fit(X, y, epochs=2, verbose=0)
    model.save(tmp_path / "m.npz", include_optimizer=False)
    loaded = Sequential.load(tmp_path / "m.npz")
    assert loaded.optimizer.iterations == 0  # documented: without the optimiser's state, a fresh one
    h = loaded.fit(X, y, epochs=2, verbose=0)
    assert np.isfinite(h.history["loss"]).all()


def test_metadata_round_trip_and_kept_on_resave(tmp_path):
    model = Sequential([Embedding(5, 3), GRU(2), Dense(1)]).compile("mse")
    model.build(5)
    meta = {"vocab": ["<pad>", "<unk>", "héllo", "wörld", "日本"], "index": {"héllo": 2}, "note": None,
            "threshold": 0.5, "nested": {"a": [1, 2, {"b": True}]}}
    model.save(tmp_path / "a.npz", metadata=meta)
    loaded = Sequential.load(tmp_path / "a.npz")
    assert loaded.metadata == meta
    loaded.save(tmp_path / "b.npz")  # metadata=None keeps the loaded model's metadata
    assert Sequential.load(tmp_path / "b.npz").metadata == meta


@pytest.mark.parametrize("bad, err", [({1: "a"}, TypeError), ({"x": float("nan")}, ValueError),
                                      ({"x": object()}, TypeError), (["not", "a", "dict"], TypeError)])
def test_metadata_that_json_cannot_hold_is_refused(bad, err, tmp_path):
    model = Sequential([Dense(2)])
    with pytest.raises(err, match="metadata"):
        model.save(tmp_path / "m.npz", metadata=bad)
    assert os.listdir(tmp_path) == []


def test_unbuilt_uncompiled_model_round_trip(tmp_path):
    model = Sequential([RNN(3), Dense(1)], seed=7)
    model.save(tmp_path / "m.npz")
    loaded = Sequential.load(tmp_path / "m.npz")
    assert loaded.input_size is None and loaded.loss is None and loaded.seed == 7
    X = rng.standard_normal((2, 4, 3)).astype(np.float32)
    assert np.array_equal(loaded.predict(X), model.predict(X))  # same seed -> same initialisation


def test_unregistered_layer_class_is_refused_at_save(tmp_path):
    class MyDense(Dense):
        pass

    model = Sequential([MyDense(2)])
    model.build(3)
    with pytest.raises(ValueError, match="LAYER_CLASSES"):
        model.save(tmp_path / "m.npz")
    assert os.listdir(tmp_path) == []


def test_model_checkpoint_writes_a_loadable_file(tmp_path):
    X = rng.standard_normal((24, 5, 2)).astype(np.float32)
    y = X.sum(axis=(1, 2))
    path = tmp_path / "ckpt.npz"
    model = Sequential([GRU(4), Dense(1)]).compile("mse", "adam", lr=1e-2)
    model.fit(X, y, epochs=3, validation_split=0.25, verbose=0,
              callbacks=[ModelCheckpoint(path, save_best_only=False)])
    loaded = Sequential.load(path)
    assert np.array_equal(loaded.predict(X), model.predict(X))
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz"]


# -- atomic writes ---------------------------------------------------------------------------------

def _saved_pair(tmp_path):
    X = rng.standard_normal((3, 4, 2)).astype(np.float32)
    model = Sequential([LSTM(3), Dense(1)]).compile("mse")
    model.predict(X)
    path = tmp_path / "ckpt.npz"
    model.save(path)
    good = model.predict(X)
    perturb(model, seed=5)  # the "newer" weights whose write will be interrupted
    return model, path, X, good


def _half_writer(fh, *args, **arrays):
    """Stands in for ``numpy.savez`` inside ``rnnkit.io.write_model_file``: half an archive, then a failure."""
    fh.write(b"PK\x03\x04 half an archive")
    raise OSError("disk full (simulated)")


@pytest.mark.parametrize("where", ["writer", "replace", "interrupt"])
def test_interrupted_write_keeps_previous_file_and_leaves_no_temp(where, tmp_path, monkeypatch):
    model, path, X, good = _saved_pair(tmp_path)
    if where == "writer":
        monkeypatch.setattr(rio.np, "savez", _half_writer)
        exc = OSError
    elif where == "replace":
        def boom(src, dst):
            raise OSError("rename failed (simulated)")
        monkeypatch.setattr(rio.os, "replace", boom)
        exc = OSError
    else:
        def interrupted(fh, *args, **arrays):
            fh.write(b"PK\x03\x04")
            raise KeyboardInterrupt
        monkeypatch.setattr(rio.np, "savez", interrupted)
        exc = KeyboardInterrupt
    with pytest.raises(exc):
        model.save(path)
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz"]  # no temporary file left behind
    assert np.array_equal(Sequential.load(path).predict(X), good)  # the previous checkpoint, intact


def test_failed_first_write_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(rio.np, "savez", _half_writer)
    model = Sequential([Dense(2)])
    with pytest.raises(OSError):
        model.save(tmp_path / "m.npz")
    assert os.listdir(tmp_path) == []


# -- hostile and damaged files -----------------------------------------------------------------------

def _valid_file(tmp_path, name="good.npz"):
    model = Sequential([Embedding(6, 3), LSTM(4), Dense(2)]).compile("crossentropy")
    model.build(6)
    path = tmp_path / name
    model.save(path)
    return path


def _entries(path):
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    header = json.loads(arrays.pop("header").tobytes())
    return header, arrays


def _write(path, header, arrays):
    hb = header if isinstance(header, np.ndarray) else np.frombuffer(json.dumps(header).encode(), np.uint8)
    np.savez(path, header=hb, **arrays)
    return path


def _refused(path, pattern):
    with pytest.raises(ModelFileError, match=pattern) as info:
        Sequential.load(path)
    assert str(path) in str(info.value)  # the message names the file
    assert isinstance(info.value, ValueError)
    return info.value


def test_random_bytes_are_refused(tmp_path):
    path = tmp_path / "random.npz"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    _refused(path, "not a ZIP")


def test_empty_file_and_npy_file_are_refused(tmp_path):
    (tmp_path / "empty.npz").write_bytes(b"")
    _refused(tmp_path / "empty.npz", "not a ZIP")
    np.save(tmp_path / "array.npy", np.zeros(3))
    _refused(tmp_path / "array.npy", "not a ZIP")


def test_truncated_archive_is_refused(tmp_path):
    good = _valid_file(tmp_path)
    data = good.read_bytes()
    for cut in (len(data) // 2, len(data) - 10, 100):
        path = tmp_path / f"cut{cut}.npz"
        path.write_bytes(data[:cut])
        _refused(path, "ZIP|truncated|damaged")


def test_damaged_entry_data_is_refused(tmp_path):
    good = _valid_file(tmp_path)
    data = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as zf:
        info = zf.getinfo("2.W_y.npy")
    o = info.header_offset
    name_len, extra_len = struct.unpack("<HH", data[o + 26:o + 30])  # the local file header's lengths
    pos = o + 30 + name_len + extra_len + info.file_size - 4  # a byte of the weight data
    data[pos] ^= 0xFF
    path = tmp_path / "flipped.npz"
    path.write_bytes(bytes(data))
    _refused(path, "entry '2.W_y' is damaged")


def test_wrong_format_name_is_refused(tmp_path):
    header, arrays = _entries(_valid_file(tmp_path))
    header["format"] = "something-else"
    _refused(_write(tmp_path / "f.npz", header, arrays), "wrong format name")


def test_newer_format_version_is_refused(tmp_path):
    header, arrays = _entries(_valid_file(tmp_path))
    header["format_version"] = 2
    _refused(_write(tmp_path / "f.npz", header, arrays), "format_version 2 is newer")


def test_header_that_is_not_json_is_refused(tmp_path):
    _, arrays = _entries(_valid_file(tmp_path))
    _refused(_write(tmp_path / "f.npz", np.frombuffer(b"{not json", np.uint8), arrays), "not valid JSON")
    np.savez(tmp_path / "g.npz", **arrays)
    _refused(tmp_path / "g.npz", "no 'header' entry")


def test_unknown_layer_class_is_refused(tmp_path):
    header, arrays = _entries(_valid_file(tmp_path))
    header["layers"][0] = {"class": "os.system", "config": {"command": "touch pwned"}}
    _refused(_write(tmp_path / "f.npz", header, arrays), "unknown layer class 'os.system'")
    header["layers"][0] = {"class": "Layer", "config": {}}  # a real class, but not in the registry
    _refused(_write(tmp_path / "g.npz", header, arrays), "unknown layer class 'Layer'")


def test_extra_config_keys_are_refused(tmp_path):
    header, arrays = _entries(_valid_file(tmp_path))
    header["layers"][2]["config"]["__class__"] = "evil"
    _refused(_write(tmp_path / "f.npz", header, arrays), r"config keys not accepted by Dense: \['__class__'\]")


def test_invalid_config_values_are_refused(tmp_path):
    header, arrays = _entries(_valid_file(tmp_path))
    header["layers"][2]["config"]["activation"] = "no_such_activation"
    _refused(_write(tmp_path / "f.npz", header, arrays), "invalid config")


def test_unknown_optimizer_is_refused(tmp_path):
    header, arrays = _entries(_valid_file(tmp_path))
    header["compile"]["optimizer"]["name"] = "builtins.eval"
    _refused(_write(tmp_path / "f.npz", header, arrays), "unknown optimizer")


def _listed(header, arrays):
    """The header with its list of weights rewritten to describe ``arrays`` (a consistent file whose
    weights disagree with its architecture)."""
    return dict(header, weights=[{"name": k, "dtype": v.dtype.str, "shape": list(v.shape)} for k, v in arrays.items()])


def test_wrong_weight_shape_is_refused(tmp_path):
    header, arrays = _entries(_valid_file(tmp_path))
    arrays["2.W_y"] = np.zeros((3, 3), np.float32)
    # the header's list disagrees with the stored array ...
    _refused(_write(tmp_path / "f.npz", header, arrays),
             r"weight '2.W_y': the header says shape \[2, 4\], the stored array has \(3, 3\)")
    # ... or agrees with it, and the architecture disagrees with both
    _refused(_write(tmp_path / "g.npz", _listed(header, arrays), arrays),
             r"weight '2.W_y' has shape \(3, 3\), the architecture needs \(2, 4\)")


def test_wrong_weight_dtype_is_refused(tmp_path):
    header, arrays = _entries(_valid_file(tmp_path))
    arrays["2.c"] = arrays["2.c"].astype(np.float64)
    _refused(_write(tmp_path / "f.npz", header, arrays), r"weight '2.c': dtype '<f4' \(stored <f8\)")
    _refused(_write(tmp_path / "g.npz", _listed(header, arrays), arrays), r"weight '2.c': dtype '<f8'")
    arrays["2.c"] = arrays["2.c"].astype(">f4")
    _refused(_write(tmp_path / "h.npz", header, arrays), r"weight '2.c': dtype '<f4' \(stored >f4\)")


def test_missing_and_extra_weights_are_refused(tmp_path):
    header, arrays = _entries(_valid_file(tmp_path))
    del arrays["1.W_h_l0"]
    _refused(_write(tmp_path / "f.npz", header, arrays), r"header 'weights' lists .*the archive holds")
    _refused(_write(tmp_path / "g.npz", _listed(header, arrays), arrays), r"missing weights \['1.W_h_l0'\]")
    header, arrays = _entries(tmp_path / "good.npz")
    arrays["3.W_y"] = np.zeros((2, 2), np.float32)
    _refused(_write(tmp_path / "h.npz", _listed(header, arrays), arrays), r"extra weights \['3.W_y'\]")


def test_checksum_mismatch_is_refused(tmp_path):
    header, arrays = _entries(_valid_file(tmp_path))
    arrays["2.W_y"] = arrays["2.W_y"].copy()
    arrays["2.W_y"][0, 0] += 1.0
    _refused(_write(tmp_path / "f.npz", header, arrays), "checksum mismatch")


def test_object_arrays_are_refused(tmp_path):
    header, arrays = _entries(_valid_file(tmp_path))
    arrays["2.c"] = np.array([1.0, "two"], dtype=object)
    _refused(_write(tmp_path / "f.npz", header, arrays), "object array")


class _Payload:
    """Unpickling this calls open(path, "w"): it creates a marker file, the proof that code ran."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_malicious_pickle_is_never_executed(tmp_path):
    marker = tmp_path / "PWNED"
    evil = np.empty(1, dtype=object)
    evil[0] = _Payload(marker)
    header, arrays = _entries(_valid_file(tmp_path))
    cases = {
        "raw_pickle.npz": None,
        "pickle_weight.npz": dict(arrays, **{"2.c": evil}),
        "pickle_extra.npz": dict(arrays, **{"zz": evil}),
        "pickle_header.npz": "header",
    }
    for name, content in cases.items():
        path = tmp_path / name
        if content is None:
            path.write_bytes(pickle.dumps(_Payload(marker)))
        elif content == "header":
            np.savez(path, header=evil, **arrays)
        else:
            _write(path, header, content)
        with pytest.raises(ModelFileError):
            Sequential.load(path)
        assert not marker.exists(), f"{name}: code from the file was executed"
    # the payload is armed: numpy with pickles allowed would have run it
    with np.load(tmp_path / "pickle_weight.npz", allow_pickle=True) as z:
        z["2.c"]
    assert marker.exists()


def test_duplicate_and_non_npy_entries_are_refused(tmp_path):
    good = _valid_file(tmp_path)
    path = tmp_path / "extra.npz"
    path.write_bytes(good.read_bytes())
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("payload.py", "import os")
    _refused(path, "unexpected archive entries")
    path = tmp_path / "dup.npz"
    path.write_bytes(good.read_bytes())
    buf = _io.BytesIO()
    np.lib.format.write_array(buf, np.zeros((2, 4), np.float32))
    with pytest.warns(UserWarning, match="Duplicate name"):
        with zipfile.ZipFile(path, "a") as zf:
            zf.writestr("2.W_y.npy", buf.getvalue())
    _refused(path, "duplicate entry names")


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        Sequential.load(tmp_path / "nope.npz")


def test_custom_metric_callables_are_skipped_with_a_warning(tmp_path):
    def my_metric(out, y, mask=None, loss=None):
        return 0.0

    model = Sequential([Dense(1)]).compile("mse", metrics=["mae", my_metric])
    model.build(2)
    with pytest.warns(UserWarning, match="custom metric"):
        model.save(tmp_path / "m.npz")
    assert list(Sequential.load(tmp_path / "m.npz").metrics) == ["mae"]


def test_registered_custom_layer_round_trips(tmp_path, monkeypatch):
    class Scaled(Dense):
        pass

    monkeypatch.setitem(rio.LAYER_CLASSES, "Scaled", Scaled)
    model = perturb(Sequential([Scaled(3, "relu"), Dense(1)]).build(2))
    model.save(tmp_path / "m.npz")
    loaded = Sequential.load(tmp_path / "m.npz")
    X = rng.standard_normal((4, 2)).astype(np.float32)
    assert type(loaded.layers[0]) is Scaled and np.array_equal(loaded.predict(X), model.predict(X))
