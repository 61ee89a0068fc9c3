"""Reading users' sequence files (rnnkit.data.files): long CSV/TSV/Parquet tables, NPZ, text.

The expected arrays are built first (with NumPy or by hand) and the files are written from them, so
every parsed value is checked against data that never went through the reader.
"""
import csv
import json
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rnnkit.data import files


def write_rows(path, header, rows, delimiter=","):
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f, delimiter=delimiter).writerows([header, *rows])
    return path


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def long_rows(seqs, labels, rng):
    """Rows (id, time, features..., label) of the sequences, shuffled; each time step written once."""
    rows = [[sid, t, *x, labels[sid]] for sid, X in seqs.items() for t, x in enumerate(X)]
    return [rows[i] for i in rng.permutation(len(rows))]


@pytest.fixture
def numeric_data():
    rng = np.random.default_rng(0)
    seqs = {"s1": rng.normal(size=(4, 3)), "s2": rng.normal(size=(2, 3)), "s3": rng.normal(size=(5, 3))}
    labels = {"s1": "up", "s2": "down", "s3": "up"}
    return seqs, labels, long_rows(seqs, labels, rng)


# ----------------------------------------------------------------------------- long tables

@pytest.mark.parametrize("fmt", ["csv", "tsv", "parquet"])
def test_long_table_detected_columns_sorted_by_time(tmp_path, numeric_data, fmt):
    seqs, labels, rows = numeric_data
    header = ["Sequence_ID", "Time", "a", "b", "c", "Label"]  # detection ignores case
    path = tmp_path / f"data.{fmt}"
    if fmt == "parquet":
        pq.write_table(pa.table({h: [r[j] for r in rows] for j, h in enumerate(header)}), path)
    else:
        write_rows(path, header, rows, "\t" if fmt == "tsv" else ",")
    data = files.read_sequences(path)
    order = list(dict.fromkeys(r[0] for r in rows))  # ids in the order they first appear
    assert data.ids == order
    for x, sid in zip(data.X, order):
        assert x.dtype == np.float64
        np.testing.assert_array_equal(x, seqs[sid])
    assert data.y.tolist() == [labels[s] for s in order]
    assert data.features == ["a", "b", "c"] and data.target == "Label" and data.per_step is False
    assert data.encoding == {"columns": ["a", "b", "c"], "categorical": {}, "id": "Sequence_ID", "time": "Time",
                             "label": "Label"}


def test_one_hot_dates_first_row_labels_and_integer_ids(tmp_path):
    path = write(tmp_path, "d.csv", "case,date,speed,gear,zone,class\n"
                 "7,2024-01-02,1.7,high,10,\n"
                 "7,2024-01-01,1.5,low,2,1\n"
                 "3,2023-12-31T23:00:00,0.2,low,1,0\n"
                 "3,2024-01-01,0.4,mid,2,\n")
    data = files.read_sequences(path, categorical=["zone"])
    assert data.ids == [7, 3]
    assert data.features == ["speed", "gear=high", "gear=low", "gear=mid", "zone=1", "zone=2", "zone=10"]
    np.testing.assert_array_equal(data.X[0], [[1.5, 0, 1, 0, 0, 1, 0], [1.7, 1, 0, 0, 0, 0, 1]])
    np.testing.assert_array_equal(data.X[1], [[0.2, 0, 1, 0, 1, 0, 0], [0.4, 0, 0, 1, 0, 1, 0]])
    assert data.y.dtype == np.int64 and data.y.tolist() == [1, 0]
    assert data.encoding["categorical"] == {"gear": ["high", "low", "mid"], "zone": ["1", "2", "10"]}
    assert json.loads(json.dumps(data.encoding)) == data.encoding


def test_the_documented_example(tmp_path):
    example = "id,t,speed,gear,label\na,1,1.7,high,\na,0,1.5,low,walk\nb,0,0.2,low,rest\n"
    assert "\n    ".join(example.splitlines()) in files.__doc__  # the module docstring shows this file
    data = files.read_sequences(write(tmp_path, "example.csv", example))
    assert data.features == ["speed", "gear=high", "gear=low"] and data.ids == ["a", "b"]
    assert [x.tolist() for x in data.X] == [[[1.5, 0, 1], [1.7, 1, 0]], [[0.2, 0, 1]]]
    assert data.y.tolist() == ["walk", "rest"]
    assert files.read_sequences(write(tmp_path, "explicit.csv", example), id_col="id", time_col="t",
                                label_col="label").encoding == data.encoding


def test_per_step_and_several_targets(tmp_path):
    path = write(tmp_path, "tag.csv", "id,step,x,Target\nb,1,5,1\na,0,1,0\na,1,2,2\nb,0,4,0\na,2,3,1\n")
    data = files.read_sequences(path, per_step=True)
    assert data.ids == ["b", "a"] and data.per_step
    assert [x[:, 0].tolist() for x in data.X] == [[4, 5], [1, 2, 3]]
    assert [y.tolist() for y in data.y] == [[0, 1], [0, 2, 1]] and data.y[0].dtype == np.int64
    path = write(tmp_path, "reg.csv", "id,x,u,v\n1,0.5,2,3.5\n1,0.6,2,\n2,0.7,-1,4\n")
    data = files.read_sequences(path, label_col=["u", "v"])
    assert data.target == ["u", "v"] and data.features == ["x"]
    np.testing.assert_array_equal(data.y, [[2.0, 3.5], [-1.0, 4.0]])
    data = files.read_sequences(path, label_col="v", feature_cols=["x"])
    assert data.y.dtype == np.float64 and data.y.tolist() == [3.5, 4.0]


def test_no_time_column_keeps_file_order_and_labels_optional(tmp_path):
    path = write(tmp_path, "d.csv", "id,x\nq,3\nq,1\nq,2\n")
    data = files.read_sequences(path, require_label=False)
    assert data.X[0][:, 0].tolist() == [3, 1, 2] and data.y is None and data.target is None
    assert data.encoding["time"] is None and data.encoding["label"] is None
    # a label column left empty everywhere is no label when it is optional
    data = files.read_sequences(write(tmp_path, "e.csv", "id,x,label\nq,3,\n"), require_label=False)
    assert data.y is None and data.features == ["x"]


def test_encoding_reuse_at_prediction_time(tmp_path):
    train = write(tmp_path, "train.csv", "id,t,x,color,label\na,0,1,red,p\na,1,2,blue,p\nb,0,3,green,q\n")
    enc = json.loads(json.dumps(files.read_sequences(train).encoding))  # as stored in a model file
    new = write(tmp_path, "new.csv", "extra,color,x,t,id\n9,blue,5,1,z\n9,pink,4,0,z\n9,red,6,0,w\n")
    with pytest.warns(UserWarning, match=r"column 'color' has categories not seen in the training data: "
                                         r"'pink' \(line 3\); their one-hot columns are all zero"):
        data = files.read_sequences(new, encoding=enc, require_label=False)
    assert data.features == ["x", "color=blue", "color=green", "color=red"]
    np.testing.assert_array_equal(data.X[0], [[4, 0, 0, 0], [5, 1, 0, 0]])
    np.testing.assert_array_equal(data.X[1], [[6, 0, 0, 1]])
    assert data.y is None and data.ids == ["z", "w"] and data.encoding == enc
    # with the label present it is read too; a known category warns nothing
    same = write(tmp_path, "test.csv", "label,x,color,t,id\nq,7,green,0,c\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = files.read_sequences(same, encoding=enc)
    assert data.y.tolist() == ["q"] and data.X[0].tolist() == [[7, 0, 1, 0]]


@pytest.mark.parametrize("content, kwargs, match", [
    ("x,label\n1,a\n", {}, r"cannot tell which column is the sequence id: none of the columns \['x', 'label'\] is "
                           r"named id, sequence, .*instance; give it with --id-col \(id_col=\)"),
    ("id,series,x,label\n1,2,3,a\n", {}, r"several columns could be the sequence id: \['id', 'series'\]; choose one "
                                         r"with --id-col"),
    ("id,x\n1,2\n", {}, r"cannot tell which column is the label: none of the columns \['id', 'x'\].*--label-col"),
    ("id,x,label\na,1,p\nb,1,r\na,2,q\n", {}, r"sequence 'a' has different values in the label column 'label': "
                                             r"'p' \(line 2\), 'q' \(line 4\)"),
    ("id,x,label\na,1,p\nb,2,\n", {}, r"sequence 'b' has no value in the label column 'label' \(its first row is "
                                      r"at line 3\)"),
    ("id,x,label\na,1,p\na,,p\n", {}, r"column 'x' has a missing value at line 3; fill it in"),
    ("id,x,label\na,1,p\na,NaN,p\n", {}, r"column 'x' has a missing value at line 3"),
    ("id,c,label\na,u,p\na,,p\n", {}, r"column 'c' has a missing value at line 3"),
    ("id,x,label\na,1,p\n,2,p\n", {}, r"the id column 'id' has a missing value at line 3"),
    ("id,x,label\na,1,p\na,2,\n", {"per_step": True}, r"the label column 'label' is empty at line 3; per-step"),
    ("id,x,label\na,1,p\n", {"feature_cols": ["z"]}, r"no column 'z' \(given with --features / feature_cols=\); "
                                                     r"the columns are \['id', 'x', 'label'\]"),
    ("id,x,label\na,1,p\n", {"label_col": "lab"}, r"no column 'lab' \(given with --label-col"),
    ("id,x,label\na,1,p\n", {"categorical": ["label"]}, r"categorical: \['label'\] are not feature columns"),
    ("id,x,label\na,1,p\n", {"feature_cols": ["x", "id"]}, r"column\(s\) \['id'\] given for two roles"),
    ("id,label\na,p\n", {}, r"no feature columns left: the columns are \['id', 'label'\].*--features"),
    ("id,x,y1,y2\na,1,2,hi\n", {"label_col": ["y1", "y2"]}, r"several label columns are regression targets, but "
                                                            r"'y2' has 'hi' at line 2"),
    ("id,x,label\na,1,p\n", {"channels_first": True}, r"channels_first applies to the X array of an \.npz file"),
])
def test_long_table_errors(tmp_path, content, kwargs, match):
    with pytest.raises(ValueError, match=match):
        files.read_sequences(write(tmp_path, "bad.csv", content), **kwargs)


def test_encoding_errors(tmp_path):
    enc = files.read_sequences(write(tmp_path, "t.csv", "id,x,y2,label\na,1,2,p\n")).encoding
    with pytest.raises(ValueError, match=r"the feature column\(s\) \['y2'\] of the training data are missing"):
        files.read_sequences(write(tmp_path, "n1.csv", "id,x\nb,1\n"), encoding=enc, require_label=False)
    with pytest.raises(ValueError, match=r"column 'x' has 'abc', which is not a number at line 2.*--categorical"):
        files.read_sequences(write(tmp_path, "n2.csv", "id,x,y2\nb,abc,1\n"), encoding=enc, require_label=False)
    with pytest.raises(ValueError, match=r"no label column \['label'\] \(the training data's\)"):
        files.read_sequences(write(tmp_path, "n3.csv", "id,x,y2\nb,1,1\n"), encoding=enc)
    with pytest.raises(ValueError, match=r"feature_cols: \['x'\] differ from the training data's"):
        files.read_sequences(tmp_path / "t.csv", encoding=enc, feature_cols=["x"])
    with pytest.raises(ValueError, match=r"encoding: expected the training data's SequenceData.encoding"):
        files.read_sequences(tmp_path / "t.csv", encoding={"columns": ["x"]})


# ----------------------------------------------------------------------------- NPZ

def test_npz_padded_with_lengths_ids_and_string_labels(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(3, 5, 2))
    X[1, 2:] = np.nan  # padding is never read
    np.savez(tmp_path / "p.npz", X=X, lengths=[5, 2, 3], y=np.array(["a", "b", "a"]), ids=np.array([10, 11, 12]))
    data = files.read_sequences(tmp_path / "p.npz")
    for x, want in zip(data.X, (X[0], X[1, :2], X[2, :3])):
        np.testing.assert_array_equal(x, want)
    assert data.y.tolist() == ["a", "b", "a"] and data.ids == [10, 11, 12]
    assert data.features == ["x0", "x1"] and data.target == "y"
    assert data.encoding == {"columns": ["x0", "x1"], "categorical": {}, "id": None, "time": None, "label": "y"}
    np.savez(tmp_path / "u.npz", X=np.arange(6).reshape(2, 3), y=[0.5, 1.5])  # (N, T): one feature
    data = files.read_sequences(tmp_path / "u.npz")
    assert [x.tolist() for x in data.X] == [[[0], [1], [2]], [[3], [4], [5]]] and data.ids == [0, 1]
    assert data.y.dtype == np.float64 and data.y.tolist() == [0.5, 1.5]


def test_npz_ragged_as_documented_and_per_step(tmp_path):
    rng = np.random.default_rng(2)
    seqs = [rng.normal(size=(n, 3)) for n in (4, 1, 6)]
    tags = [rng.integers(0, 5, size=len(s)) for s in seqs]
    path = tmp_path / "r.npz"
    np.savez(path, X=np.concatenate(seqs), lengths=[len(s) for s in seqs], ragged=True, y=np.concatenate(tags))
    data = files.read_sequences(path, per_step=True)
    for x, y, s, t in zip(data.X, data.y, seqs, tags):
        np.testing.assert_array_equal(x, s)
        assert y.tolist() == t.tolist()
    np.savez(path, X=np.concatenate(seqs), lengths=[len(s) for s in seqs], ragged=True, y=np.ones((3, 2), int))
    targets = files.read_sequences(path).y
    assert targets.dtype == np.float64 and targets.tolist() == [[1, 1]] * 3
    padded = np.zeros((2, 4), dtype=np.int64)
    padded[0, :3], padded[1, :2] = [1, 2, 3], [4, 5]
    np.savez(tmp_path / "t.npz", X=np.ones((2, 4, 1)), lengths=[3, 2], y=padded)
    assert [y.tolist() for y in files.read_sequences(tmp_path / "t.npz", per_step=True).y] == [[1, 2, 3], [4, 5]]


def test_npz_channels_first(tmp_path):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(2, 3, 7))  # (N, C, T)
    np.savez(tmp_path / "c.npz", X=X, y=[0, 1])
    data = files.read_sequences(tmp_path / "c.npz", channels_first=True)
    for x, want in zip(data.X, X):
        np.testing.assert_array_equal(x, want.T)
    seqs = [rng.normal(size=(3, n)) for n in (2, 5)]  # (C, T_i)
    np.savez(tmp_path / "rc.npz", X=np.concatenate(seqs, axis=1), lengths=[2, 5], ragged=True)
    data = files.read_sequences(tmp_path / "rc.npz", channels_first=True, require_label=False)
    assert data.y is None and [x.shape for x in data.X] == [(2, 3), (5, 3)]
    for x, want in zip(data.X, seqs):
        np.testing.assert_array_equal(x, want.T)


@pytest.mark.parametrize("arrays, kwargs, match", [
    ({"X": np.array([np.ones((2, 1)), np.ones((3, 1))], dtype=object)}, {},
     r"the array 'X' holds Python objects .* np\.savez\(path, X=np\.concatenate\(seqs\), lengths=\[len\(s\) for s "
     r"in seqs\], ragged=True, y=y\)"),
    ({"x": np.ones((2, 3))}, {}, r"no array 'X' \(the arrays are \['x'\]\)"),
    ({"X": np.ones((2, 3, 1)), "lengths": [3, 0]}, {}, r"lengths: every length must be >= 1"),
    ({"X": np.ones((2, 3, 1)), "lengths": [3, 4]}, {}, r"lengths must be <= the padded time axis \(3\)"),
    ({"X": np.ones((2, 3, 1)), "lengths": [3]}, {}, r"lengths: expected shape \(2,\)"),
    ({"X": np.ones((5, 2)), "lengths": [2, 2], "ragged": True}, {}, r"lengths: they sum to 4 but X has 5 steps"),
    ({"X": np.ones((5, 2)), "ragged": True}, {}, r"ragged=True needs the array 'lengths'"),
    ({"X": np.array([[[1.0], [2.0], [np.nan]]])}, {}, r"X: sequence 0 has a NaN or inf value at step 2"),
    ({"X": np.ones((2, 3, 1)), "y": [1, 2, 3]}, {}, r"y: expected one label per sequence, shape \(2,\)"),
    ({"X": np.ones((2, 3, 1)), "y": np.ones((2, 2))}, {"per_step": True}, r"y: per-step targets are padded like X: "
                                                                          r"expected shape \(2, 3\)"),
    ({"X": np.ones((2, 3, 1))}, {}, r"no array 'y' of labels or targets"),
    ({"X": np.array([["a"]])}, {}, r"X: expected numbers, got dtype <U1"),
    ({"X": np.ones((2, 3, 1)), "y": [1, 2]}, {"encoding": {"columns": ["a", "b"], "categorical": {}, "id": None,
                                                           "time": None, "label": "y"}},
     r"X has 1 features per step but the training data had 2"),
    ({"X": np.ones((2, 3, 1)), "y": [1, 2]}, {"id_col": "id"}, r"id_col name columns of a table"),
])
def test_npz_errors(tmp_path, arrays, kwargs, match):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=match):
        files.read_sequences(path, **kwargs)


def test_npz_that_is_not_an_archive_and_unknown_arrays(tmp_path):
    np.save(tmp_path / "one.npy", np.ones(3))
    (tmp_path / "one.npz").write_bytes((tmp_path / "one.npy").read_bytes())
    with pytest.raises(ValueError, match=r"holds a single array, not an \.npz archive"):
        files.read_sequences(tmp_path / "one.npz")
    with pytest.raises(ValueError, match=r"not a NumPy \.npz archive"):
        files.read_sequences(write(tmp_path, "junk.npz", b"hello"))
    np.savez(tmp_path / "extra.npz", X=np.ones((1, 2, 1)), y=[1], meta=[1])
    with pytest.warns(UserWarning, match=r"ignoring the arrays \['meta'\]"):
        assert files.read_sequences(tmp_path / "extra.npz").y.tolist() == [1]


# ----------------------------------------------------------------------------- text

def test_read_text(tmp_path):
    assert files.read_text(write(tmp_path, "a.txt", "\ufeffone\r\ntwo\rthree\n")) == "one\ntwo\nthree\n"
    path = write(tmp_path, "l.txt", "caf\xe9\n".encode("latin-1"))
    assert files.read_text(path, encoding="latin-1") == "caf\u00e9\n"
    with pytest.raises(ValueError, match=r"line 1: the byte 0xe9 at byte offset 3 is not valid utf-8 text; give the "
                                         r"file's encoding with --encoding \(encoding=\), e\.g\. --encoding latin-1"):
        files.read_text(path)
    with pytest.raises(ValueError, match=r"line 2: the byte 0xff at byte offset 5 is not valid ascii"):
        files.read_text(write(tmp_path, "b.txt", b"ab\ncd\xff"), encoding="ascii")
    with pytest.raises(ValueError, match="the file is empty"):
        files.read_text(write(tmp_path, "e.txt", b""))
    with pytest.raises(ValueError, match="the file is empty"):
        files.read_text(write(tmp_path, "w.txt", b" \n\n"))
    with pytest.raises(ValueError, match="encoding: unknown text encoding 'klingon'"):
        files.read_text(path, encoding="klingon")
    with pytest.raises(FileNotFoundError, match="no such file"):
        files.read_text(tmp_path / "absent.txt")


# ----------------------------------------------------------------------------- a real data set

def basic_motions():
    """BasicMotions' training part from aeon, (40, 6, 100) and 4 activity labels; without aeon, random
    data of the same shape and classes."""
    try:
        from aeon.datasets import load_basic_motions
    except ImportError:
        rng = np.random.default_rng(4)
        labels = np.repeat(["badminton", "running", "standing", "walking"], 10)
        return rng.normal(size=(40, 6, 100)), labels[rng.permutation(40)]
    X, y = load_basic_motions(split="train")
    return np.asarray(X, dtype=np.float64), np.asarray(y).astype(str)


def test_basic_motions_as_long_csv_and_npz(tmp_path):
    X, y = basic_motions()
    assert X.shape == (40, 6, 100)
    channels = ["acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z"]
    rows = []
    for i in range(len(X)):
        for t in range(X.shape[2] - 1, -1, -1):  # time reversed: the reader sorts it
            label = y[i] if (i % 2 or t == 0) else ""  # odd cases repeat the label, even ones give it once
            rows.append([f"case{i:02d}", t, *X[i, :, t].tolist(), label])
    path = write_rows(tmp_path / "basic_motions.csv", ["case_id", "frame", *channels, "activity"], rows)
    data = files.read_sequences(path, label_col="activity")
    assert data.ids == [f"case{i:02d}" for i in range(40)] and data.features == channels
    np.testing.assert_array_equal(np.stack(data.X), X.transpose(0, 2, 1))
    assert data.y.tolist() == y.tolist()
    np.savez(tmp_path / "bm.npz", X=X, y=y)
    npz = files.read_sequences(tmp_path / "bm.npz", channels_first=True)
    np.testing.assert_array_equal(np.stack(npz.X), np.stack(data.X))
    assert npz.y.tolist() == y.tolist()
    train, val, test = files.stratified_split(data.y, (0.6, 0.2, 0.2), seed=0)
    for part in (train, val, test):
        assert set(data.y[part]) == set(y)
