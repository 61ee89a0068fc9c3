"""Labels of any hashable kind with the classification losses: ``classes_`` (sorted unique labels),
encoding in fit / evaluate / validation_data, decoding in predict_classes, the model file, errors."""
import datetime
import json
import zipfile

import numpy as np
import pytest

from rnnkit import GRU, LSTM, Dense, Sequential
from rnnkit.io import ModelFileError

rng = np.random.default_rng(7)
X = rng.standard_normal((24, 5, 2))
NAMES = np.array(["wren", "heron", "auk"])            # sorted: auk=0, heron=1, wren=2
IDS_OF = {"auk": 0, "heron": 1, "wren": 2}             # written by hand, not computed by rnnkit
LABELS = NAMES[np.arange(24) % 3]


def classifier(outputs=3, loss="crossentropy", seed=0):
    return Sequential([GRU(4), Dense(outputs)], seed=seed, dtype="float64").compile(loss, "adam", lr=0.05,
                                                                                    metrics=["accuracy"])


def header_of(path):
    with zipfile.ZipFile(path) as z, z.open("header.npy") as f:
        return json.loads(np.lib.format.read_array(f).tobytes().decode("utf-8"))


def test_string_labels_set_sorted_classes_and_come_back_from_predict_classes():
    model = classifier()
    model.fit(X, list(LABELS), epochs=3, verbose=0)
    assert model.classes_.tolist() == ["auk", "heron", "wren"]
    ids = model.predict(X).argmax(-1)
    np.testing.assert_array_equal(model.predict_classes(X), np.array(["auk", "heron", "wren"])[ids])
    proba = model.predict_proba(X)                     # columns in classes_ order
    np.testing.assert_array_equal(model.classes_[proba.argmax(-1)], model.predict_classes(X))
    logs = model.evaluate(X, LABELS)
    assert logs["accuracy"] == np.mean(model.predict_classes(X) == LABELS)


def test_training_on_labels_equals_training_on_the_equivalent_class_ids():
    ids = np.array([IDS_OF[s] for s in LABELS])
    a, b = classifier(), classifier()
    ha = a.fit(X, LABELS, epochs=3, batch_size=8, validation_split=0.25, verbose=0)
    hb = b.fit(X, ids, epochs=3, batch_size=8, validation_split=0.25, verbose=0)
    assert b.classes_ is None
    wa, wb = a.get_weights(), b.get_weights()
    assert all(np.array_equal(wa[k], wb[k]) for k in wb)
    assert ha.history == hb.history


def test_binary_labels_positive_class_is_the_second_sorted_label():
    y = np.where(X[:, :, 0].sum(1) > 0, "spam", "ham")
    model = classifier(outputs=1, loss="binary_crossentropy")
    model.fit(X, y, epochs=2, verbose=0)
    assert model.classes_.tolist() == ["ham", "spam"]
    p = model.predict_proba(X)[:, 0]                   # P(classes_[1]) = P("spam")
    np.testing.assert_array_equal(model.predict_classes(X), np.where(p > 0.5, "spam", "ham"))
    ref = classifier(outputs=1, loss="binary_crossentropy")
    ref.fit(X, (y == "spam").astype(float), epochs=2, verbose=0)
    np.testing.assert_array_equal(ref.get_weights()["1.W_y"], model.get_weights()["1.W_y"])


def test_bools_objects_and_non_integer_floats_are_labels_but_integer_ids_are_not():
    model = classifier(outputs=1, loss="binary_crossentropy")
    model.fit(X, LABELS == "auk", epochs=1, verbose=0)
    assert model.classes_.tolist() == [False, True] and model.predict_classes(X).dtype == bool
    model = classifier()
    model.fit(X, np.array([0.5, 1.5, 2.5])[np.arange(24) % 3], epochs=1, verbose=0)
    assert model.classes_.tolist() == [0.5, 1.5, 2.5]
    days = [datetime.date(2024, 1, d) for d in (3, 1, 2)]
    model = classifier()
    model.fit(X, [days[i % 3] for i in range(24)], epochs=1, verbose=0)
    assert model.classes_.tolist() == sorted(days)
    model = classifier()
    model.fit(X, np.arange(24) % 3, epochs=1, verbose=0)
    assert model.classes_ is None
    assert model.predict_classes(X).dtype.kind == "i"


def test_unknown_label_names_it_and_lists_the_known_classes():
    model = classifier()
    model.fit(X, LABELS, epochs=1, verbose=0)
    bad = np.where(LABELS == "auk", "puffin", LABELS)
    for call in (lambda: model.fit(X, bad, verbose=0), lambda: model.evaluate(X, bad),
                 lambda: model.fit(X, LABELS, validation_data=(X, bad), verbose=0)):
        with pytest.raises(ValueError, match=r"unknown label\(s\) \['puffin'\]; the model's classes are "
                                             r"\['auk', 'heron', 'wren'\]"):
            call()
    with pytest.raises(ValueError, match=r"unknown label\(s\) \[0, 1, 2\]"):   # ids once classes_ are set
        model.fit(X, np.arange(24) % 3, verbose=0)


def test_a_failed_first_fit_leaves_no_classes_and_a_model_without_classes_refuses_labels():
    model = classifier()
    with pytest.raises(ValueError, match="unknown label"):
        model.fit(X, LABELS, validation_data=(X, np.full(24, "kiwi")), verbose=0)
    assert model.classes_ is None and model.input_size is None
    model.fit(X, np.arange(24) % 3, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"labels like \['wren', 'heron', 'auk'\] are not class ids, and the "
                                         r"model has no classes_"):
        model.evaluate(X, LABELS)


def test_the_number_of_classes_must_fit_the_output():
    with pytest.raises(ValueError, match=r"y: 3 classes \['auk', 'heron', 'wren'\], but the model has 4 outputs; "
                                         r"crossentropy needs one output per class \(a last layer Dense\(3\)\)"):
        classifier(outputs=4).fit(X, LABELS, verbose=0)
    with pytest.raises(ValueError, match=r"binary_crossentropy needs exactly 2 classes and 1 output, got 3 classes"):
        classifier(outputs=1, loss="binary_crossentropy").fit(X, LABELS, verbose=0)
    model = classifier(outputs=4)                      # all four labels given up front
    model.classes_ = ["auk", "heron", "kiwi", "wren"]
    model.fit(X, LABELS, epochs=1, verbose=0)
    assert set(model.predict_classes(X)) <= {"auk", "heron", "kiwi", "wren"}


def test_per_step_string_labels_ragged():
    seqs = [rng.standard_normal((n, 2)) for n in (3, 5, 2, 4)]
    tags = [["n", "v", "n"], ["d", "n", "n", "v", "d"], ["v", "v"], ["n", "d", "v", "n"]]
    model = Sequential([LSTM(4, return_sequences=True), Dense(3)], seed=0).compile("crossentropy")
    model.fit(seqs, tags, epochs=2, verbose=0, sample_weight=[np.ones(len(t)) for t in tags])
    assert model.classes_.tolist() == ["d", "n", "v"]
    pred = model.predict_classes(seqs)
    assert pred.shape == (4, 5) and set(pred[0, :3]) <= {"d", "n", "v"}
    ids = [np.array([{"d": 0, "n": 1, "v": 2}[t] for t in s]) for s in tags]
    ref = Sequential([LSTM(4, return_sequences=True), Dense(3)], seed=0).compile("crossentropy")
    ref.fit(seqs, ids, epochs=2, verbose=0)
    np.testing.assert_array_equal(ref.get_weights()["1.W_y"], model.get_weights()["1.W_y"])


def test_classes_round_trip_through_the_model_file(tmp_path):
    model = classifier()
    model.fit(X, LABELS, epochs=2, verbose=0)
    model.save(tmp_path / "m.npz")
    assert header_of(tmp_path / "m.npz")["classes"] == ["auk", "heron", "wren"]
    loaded = Sequential.load(tmp_path / "m.npz")
    assert loaded.classes_.tolist() == ["auk", "heron", "wren"]
    np.testing.assert_array_equal(loaded.predict_classes(X), model.predict_classes(X))
    assert loaded.evaluate(X, LABELS) == model.evaluate(X, LABELS)
    loaded.fit(X, LABELS[::-1], epochs=1, verbose=0)          # a second fit keeps the classes
    assert loaded.classes_.tolist() == ["auk", "heron", "wren"]
    for classes in ([1, 2, 3], [True, False], [0.5, "x", 2]):   # kinds kept apart through JSON
        m = classifier(outputs=1 if len(classes) == 2 else 3, loss="binary_crossentropy" if len(classes) == 2
                       else "crossentropy").build(2)
        m.classes_ = classes
        m.save(tmp_path / "k.npz")
        assert Sequential.load(tmp_path / "k.npz").classes_.tolist() == classes


def test_a_model_without_classes_writes_no_classes_key(tmp_path):
    model = classifier()
    model.fit(X, np.arange(24) % 3, epochs=1, verbose=0)
    model.save(tmp_path / "m.npz")
    assert "classes" not in header_of(tmp_path / "m.npz")     # what earlier versions wrote and read
    assert Sequential.load(tmp_path / "m.npz").classes_ is None
    config = model.get_config()
    del config["classes"]                                       # a config from before classes_
    assert Sequential.from_config(config).classes_ is None


def test_save_refuses_labels_a_file_cannot_hold_and_load_checks_them(tmp_path):
    days = [datetime.date(2024, 1, d) for d in (1, 2, 3)]
    model = classifier()
    model.fit(X, [days[i % 3] for i in range(24)], epochs=1, verbose=0)
    with pytest.raises(TypeError, match=r"save: model.classes_ holds the label datetime.date\(2024, 1, 1\) \(date\); "
                                        r"a model file stores only str, int, float or bool labels"):
        model.save(tmp_path / "d.npz")
    assert not (tmp_path / "d.npz").exists()
    config = classifier().build(2).get_config()
    for bad, problem in (([["a"], "b", "c"], "expected null or a list of labels"),
                         (["a", "a", "b"], "labels must be unique"),
                         (["a", "b"], r"2 classes \['a', 'b'\], but the model has 3 outputs")):
        with pytest.raises(ValueError, match=problem):
            Sequential.from_config({**config, "classes": bad})
    good = classifier()
    good.fit(X, LABELS, epochs=1, verbose=0)
    good.save(tmp_path / "g.npz")
    with zipfile.ZipFile(tmp_path / "g.npz") as z:              # a file whose classes do not fit
        entries = {n: z.read(n) for n in z.namelist()}
    header = header_of(tmp_path / "g.npz")
    header["classes"] = ["auk", "heron"]
    text = json.dumps(header).encode("utf-8")
    with zipfile.ZipFile(tmp_path / "bad.npz", "w") as z:
        for name, data in entries.items():
            if name == "header.npy":
                with z.open(name, "w") as f:
                    np.lib.format.write_array(f, np.frombuffer(text, dtype=np.uint8))
            else:
                z.writestr(name, data)
    with pytest.raises(ModelFileError, match="2 classes"):
        Sequential.load(tmp_path / "bad.npz")


def test_label_columns_and_probability_lists_are_told_apart():
    model = classifier()
    model.fit(X, LABELS[:, None], epochs=1, verbose=0)            # a (n, 1) column of labels
    assert model.classes_.tolist() == ["auk", "heron", "wren"]
    soft = classifier()
    rows = [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]] * 8
    soft.fit(X, rows, epochs=1, verbose=0)                        # probability rows, as a list: no labels
    assert soft.classes_ is None
    tagger = Sequential([LSTM(3, return_sequences=True), Dense(2)], seed=0).compile("crossentropy")
    tags = np.where(X[:, :, 0] > 0, "up", "down")                  # (n, T) labels, one per step
    tagger.fit(X, tags, epochs=1, verbose=0)
    assert tagger.classes_.tolist() == ["down", "up"] and tagger.predict_classes(X).shape == (24, 5)


def test_labels_of_kinds_that_do_not_compare_are_refused():
    with pytest.raises(TypeError, match=r"labels must be hashable values of one comparable kind .*'int', 'str'"):
        classifier().fit(X, [1, "a", "b"] * 8, verbose=0)
    model = classifier()
    model.classes_ = "abc"
    with pytest.raises(TypeError, match="classes_: expected a list of labels, got str"):
        model.fit(X, LABELS, verbose=0)
