"""The optimiser's state: ``Optimizer.get_state`` / ``set_state``, and its entries in model files
(exact round trip, the documented names and checksum, old files, and refusal of damaged or hostile
entries with a ``ModelFileError`` naming the file and the problem)."""
import hashlib
import json

import numpy as np
import pytest

from rnnkit import optim
from rnnkit.io import ModelFileError
from rnnkit.layers import GRU, Dense
from rnnkit.model import Sequential

# the header keys of format_version 1 as documented before optimiser state existed
V1_KEYS = {"format", "format_version", "rnnkit_version", "layers", "dtype", "seed", "input_size", "compile",
           "metadata", "weights", "checksum"}


def params(seed=0, dtype=np.float64):
    r = np.random.default_rng(seed)
    return {"W": r.standard_normal((3, 4)).astype(dtype), "b": r.standard_normal(4).astype(dtype)}


def grads(r, p):
    return {k: r.standard_normal(v.shape).astype(v.dtype) for k, v in p.items()}


# -- get_state / set_state --------------------------------------------------------------------------

@pytest.mark.parametrize("make", [lambda: optim.Adam(0.01, weight_decay=0.1), lambda: optim.SGD(0.1, momentum=0.9),
                                  lambda: optim.SGD(0.1, momentum=0.5, nesterov=True), lambda: optim.SGD(0.1)],
                         ids=["adamw", "sgd-momentum", "sgd-nesterov", "sgd-plain"])
def test_a_restored_optimizer_continues_exactly(make):
    r = np.random.default_rng(1)
    w1, w2 = params(), params()
    a = make()
    for _ in range(3):
        a.step(w1, grads(r, w1))
    state = a.get_state()
    b = make()
    b.set_state(state, w1)
    for k in w1:
        w2[k][...] = w1[k]
    for _ in range(3):
        g = grads(r, w1)
        a.step(w1, g)
        b.step(w2, {k: v.copy() for k, v in g.items()})
    assert b.iterations == a.iterations == 6
    assert all(np.array_equal(w1[k], w2[k]) for k in w1)


def test_get_state_describes_the_moments_and_copies_them():
    w = params()
    opt = optim.Adam(0.1)
    g = {k: np.ones_like(v) for k, v in w.items()}
    opt.step(w, g)
    state = opt.get_state()
    assert state["iterations"] == 1 and sorted(state["slots"]) == ["m", "v"]
    # after one step from zero: m = (1 - beta1) g, v = (1 - beta2) g^2
    np.testing.assert_allclose(state["slots"]["m"]["W"], 0.1 * np.ones((3, 4)), rtol=1e-12)
    np.testing.assert_allclose(state["slots"]["v"]["b"], 0.001 * np.ones(4), rtol=1e-9)
    state["slots"]["m"]["W"][...] = 99.0                       # a copy: the optimiser is unchanged
    assert opt.get_state()["slots"]["m"]["W"][0, 0] != 99.0
    assert optim.SGD(0.1).get_state() == {"iterations": 0, "slots": {}}
    sgd = optim.SGD(0.1, momentum=0.9)
    sgd.step(w, g)
    assert list(sgd.get_state()["slots"]) == ["momentum"]
    np.testing.assert_array_equal(sgd.get_state()["slots"]["momentum"]["b"], np.ones(4))   # v = g at step 1


def _adam_state(w):
    return {"iterations": 2, "slots": {"m": {k: np.zeros_like(v) for k, v in w.items()},
                                       "v": {k: np.zeros_like(v) for k, v in w.items()}}}


@pytest.mark.parametrize("change,pattern", [
    (lambda s: s.pop("iterations"), "keys 'iterations' and 'slots'"),
    (lambda s: s.update(iterations=-1), "non-negative integer"),
    (lambda s: s.update(iterations=True), "non-negative integer"),
    (lambda s: s["slots"].pop("v"), r"keeps the slots \['m', 'v'\], the state has \['m'\]"),
    (lambda s: s["slots"].update(momentum={}), "keeps the slots"),
    (lambda s: s["slots"]["v"].pop("b"), "every slot must hold the same parameters"),
    (lambda s: s["slots"]["m"].update(W=np.zeros((4, 3))), r"'m' of 'W': shape \(4, 3\)"),
    (lambda s: s["slots"]["m"].update(W=np.zeros((3, 4), np.float32)), "dtype float32"),
    (lambda s: s["slots"]["m"].update(W=np.zeros((3, 4), np.int64)), "expected a float array"),
    (lambda s: [s["slots"][k].update(Z=np.zeros(2)) for k in "mv"], "no such parameter"),
])
def test_set_state_refuses_what_does_not_fit(change, pattern):
    w = params()
    opt = optim.Adam(0.1)
    state = _adam_state(w)
    change(state)
    with pytest.raises(ValueError, match=pattern):
        opt.set_state(state, w)
    assert opt.iterations == 0 and opt.state == {}              # unchanged


# -- in model files ---------------------------------------------------------------------------------

def trained(optimizer="adam", dtype="float64", epochs=2):
    r = np.random.default_rng(4)
    X = [r.standard_normal((int(t), 2)).astype(dtype) for t in r.integers(2, 6, 12)]
    model = Sequential([GRU(3), Dense(2)], seed=1, dtype=dtype).compile("crossentropy", optimizer)
    if epochs:
        model.fit(X, r.integers(0, 2, 12), epochs=epochs, batch_size=4, verbose=0)
    else:
        model.build(2)
    return model


def entries(path):
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    return json.loads(arrays.pop("header").tobytes()), arrays


def checksum(names, arrays):
    """The documented checksum, written out again here."""
    h = hashlib.sha256()
    for n in names:
        a = np.ascontiguousarray(arrays[n])
        h.update(f"{n}|{a.dtype.str}|{','.join(map(str, a.shape))}\n".encode() + a.tobytes())
    return h.hexdigest()


def write(path, header, arrays, rechecksum=True):
    if rechecksum:
        names = [w["name"] for w in header["weights"]]
        names += [a["name"] for a in header.get("optimizer_state", {"arrays": []})["arrays"]]
        header["checksum"]["value"] = checksum([n for n in names if n in arrays], arrays)
    np.savez(path, header=np.frombuffer(json.dumps(header).encode(), np.uint8), **arrays)
    return path


@pytest.mark.parametrize("optimizer,slots", [("adam", ["m", "v"]), (optim.SGD(0.1, momentum=0.9), ["momentum"])])
def test_the_state_round_trips_exactly_under_documented_names(optimizer, slots, tmp_path):
    model = trained(optimizer)
    model.save(tmp_path / "m.npz")
    header, arrays = entries(tmp_path / "m.npz")
    weights = list(model.get_weights())
    expected = [f"optimizer.{s}.{w}" for s in slots for w in weights]
    assert [a["name"] for a in header["optimizer_state"]["arrays"]] == expected
    assert set(arrays) == set(weights) | set(expected)
    assert header["optimizer_state"]["iterations"] == model.optimizer.iterations == 6   # 3 batches x 2 epochs
    assert header["format_version"] == 1
    assert header["checksum"]["value"] == checksum(weights + expected, arrays)
    original = model.optimizer.get_state()
    restored = Sequential.load(tmp_path / "m.npz").optimizer.get_state()
    assert restored["iterations"] == original["iterations"]
    for s in slots:
        for w in weights:
            a, b = original["slots"][s][w], restored["slots"][s][w]
            assert a.dtype == b.dtype and np.array_equal(a, b)


def test_without_optimizer_state_the_file_is_the_old_format(tmp_path):
    model = trained()
    model.save(tmp_path / "m.npz", include_optimizer=False)
    trained(epochs=0).save(tmp_path / "fresh.npz")                   # compiled, never stepped
    for name in ("m.npz", "fresh.npz"):
        header, arrays = entries(tmp_path / name)
        assert set(header) == V1_KEYS and set(arrays) == {w["name"] for w in header["weights"]}
    assert Sequential.load(tmp_path / "m.npz").optimizer.iterations == 0
    with pytest.raises(TypeError, match="include_optimizer"):
        model.save(tmp_path / "x.npz", include_optimizer="no")


def test_a_file_written_before_optimizer_state_loads(tmp_path):
    """A version-1 file as the old writer made it (header keys V1_KEYS, weights only), by hand."""
    model = trained()
    header, arrays = entries(_saved(tmp_path, model))
    header.pop("optimizer_state")
    arrays = {k: v for k, v in arrays.items() if not k.startswith("optimizer.")}
    loaded = Sequential.load(write(tmp_path / "old.npz", header, arrays))
    assert loaded.optimizer.iterations == 0 and loaded.optimizer.state == {}
    assert all(np.array_equal(v, loaded.get_weights()[k]) for k, v in model.get_weights().items())


def _saved(tmp_path, model=None, name="good.npz"):
    model = model or trained()
    model.save(tmp_path / name)
    return tmp_path / name


def _refused(path, pattern):
    with pytest.raises(ModelFileError, match=pattern) as info:
        Sequential.load(path)
    assert str(path) in str(info.value)


def _edit(tmp_path, fn, rechecksum=True):
    header, arrays = entries(_saved(tmp_path))
    fn(header, arrays)
    return write(tmp_path / "bad.npz", header, arrays, rechecksum)


def _listed(header, name):
    return next(a for a in header["optimizer_state"]["arrays"] if a["name"] == name)


def _drop_listing(header, name):
    header["optimizer_state"]["arrays"].remove(_listed(header, name))


def _add(header, arrays, name, value):
    arrays[name] = value
    header["optimizer_state"]["arrays"].append({"name": name, "dtype": value.dtype.str, "shape": list(value.shape)})


def _set(header, arrays, name, value):
    arrays[name] = value
    _listed(header, name).update(dtype=value.dtype.str, shape=list(value.shape))


HOSTILE = {
    "missing-entry": (lambda h, a: a.pop("optimizer.m.1.W_y"), r"missing from the archive: \['optimizer.m.1.W_y'\]"),
    "unlisted-entry": (lambda h, a: _drop_listing(h, "optimizer.v.1.c"),
                       r"not listed in the header: \['optimizer.v.1.c'\]"),
    "extra-unlisted": (lambda h, a: a.update({"optimizer.m.9.x": np.zeros(2)}), "not listed in the header"),
    "entry-of-no-weight": (lambda h, a: _add(h, a, "optimizer.m.9.W_y", np.zeros(2)), "'9.W_y', which is not a weight"),
    "mis-shaped": (lambda h, a: _set(h, a, "optimizer.m.1.W_y", np.zeros((3, 2))), r"has shape \(3, 2\), its weight"),
    "header-shape-lies": (lambda h, a: _listed(h, "optimizer.v.1.c").update(shape=[5]), "the header says shape"),
    "wrong-dtype": (lambda h, a: _set(h, a, "optimizer.m.1.c", a["optimizer.m.1.c"].astype(np.float32)),
                    "optimizer entry 'optimizer.m.1.c': dtype '<f4'"),
    "slot-not-kept": (lambda h, a: [_add(h, a, f"optimizer.momentum.{k}", v) for k, v in list(a.items())
                                    if not k.startswith("optimizer.")], "Adam keeps no 'momentum' state"),
    "slot-incomplete": (lambda h, a: (a.pop("optimizer.v.1.c"), _drop_listing(h, "optimizer.v.1.c")),
                        "every slot must hold the same parameters"),
    "bad-name": (lambda h, a: _add(h, a, "momentum.0.W_x_l0", np.zeros(2)), "is not 'optimizer.<slot>.<weight name>'"),
    "no-compile": (lambda h, a: h.update(compile=None), "without compile settings"),
    "negative-iterations": (lambda h, a: h["optimizer_state"].update(iterations=-3), "non-negative integer"),
    "string-iterations": (lambda h, a: h["optimizer_state"].update(iterations="7"), "non-negative integer"),
    "extra-state-key": (lambda h, a: h["optimizer_state"].update(step=1), r"expected \{'iterations'"),
    "arrays-not-a-list": (lambda h, a: h["optimizer_state"].update(arrays={}), "expected a list"),
    "object-array": (lambda h, a: _set(h, a, "optimizer.m.1.c", np.array([None, {}], dtype=object)), "object array"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_damaged_or_hostile_optimizer_entries_are_refused(case, tmp_path):
    fn, pattern = HOSTILE[case]
    _refused(_edit(tmp_path, fn), pattern)


def test_the_checksum_covers_the_optimizer_state(tmp_path):
    def nudge(header, arrays):
        arrays["optimizer.v.0.W_h_l0"] = arrays["optimizer.v.0.W_h_l0"] * 1.0000001
    _refused(_edit(tmp_path, nudge, rechecksum=False), "checksum mismatch")


def test_an_optimizer_of_another_model_is_refused_at_save(tmp_path):
    model = trained()
    model.optimizer.state["1.W_y"] = (np.zeros((4, 3)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"state of '1.W_y' has shape \(4, 3\)"):
        model.save(tmp_path / "m.npz")
    model.optimizer.state = {"9.x": (np.zeros(2), np.zeros(2))}
    with pytest.raises(ValueError, match="not weights of this model"):
        model.save(tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()
