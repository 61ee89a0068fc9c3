"""Reading tables (rnnkit.data.tables): CSV/TSV/Parquet parsing, its errors, and series files.

Every expectation is written by hand or built with NumPy before the file is written from it.
"""
import sys
from datetime import date, datetime, timezone

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rnnkit.data import files
from rnnkit.data.tables import read_table


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


# ----------------------------------------------------------------------------- reading a table

def test_csv_values_are_stripped_missing_tokens_are_none_and_lines_counted(tmp_path):
    path = write(tmp_path, "a.csv", '\ufeffid, x ,note\n1, 2.5 ,"two\nlines"\n\n2,NA,\n3,nan,None\n4, ,ok\n')
    table = read_table(path)
    assert table.names == ["id", "x", "note"]
    assert table.columns["x"] == ["2.5", None, None, None]
    assert table.columns["note"] == ["two\nlines", None, None, "ok"]
    # the quoted field spans lines 2-3, line 4 is blank
    assert table.lines == [2, 5, 6, 7]
    assert [table.where(i) for i in range(4)] == ["line 2", "line 5", "line 6", "line 7"]


def test_tsv_uses_tabs(tmp_path):
    table = read_table(write(tmp_path, "a.tsv", "id\tx,y\n1\t3,5\n"))
    assert table.names == ["id", "x,y"] and table.columns["x,y"] == ["3,5"]


def test_parquet_values_nulls_and_nan(tmp_path):
    path = tmp_path / "a.parquet"
    pq.write_table(pa.table({"id": [1, 2, 3], "x": [0.5, None, float("nan")], "s": [" a ", "NA", None]}), path)
    table = read_table(path)
    assert table.lines is None and table.where(1) == "row 2"
    assert table.columns == {"id": [1, 2, 3], "x": [0.5, None, None], "s": ["a", None, None]}


@pytest.mark.parametrize("content, match", [
    (b"", "the file is empty"),
    (b"  \n\n", "the file is empty"),
    (b"id,x\n", "a header but no data rows"),
    (b"id,x\n\n\n", "a header but no data rows"),
    (b"id,x\n1,2\n2,3,4\n", "line 3 has 3 fields but the header has 2"),
    (b"id,x\n1,2\n2\n", "line 3 has 1 fields"),
    (b"id,x\n1,2\n2,caf\xe9\n", r"line 3: the byte 0xe9 at byte offset 14 is not valid utf-8 text; save the file as"),
    (b"id;x;y\n1;2;3\n", "separated by ';'"),
    (b"id,x,id\n1,2,3\n", "the column name 'id' appears twice"),
    (b"id,,y\n1,2,3\n", "column 2 of the header has no name"),
])
def test_csv_errors(tmp_path, content, match):
    with pytest.raises(ValueError, match=match):
        read_table(write(tmp_path, "bad.csv", content))


def test_format_and_missing_file_errors(tmp_path):
    with pytest.raises(ValueError, match=r"cannot tell the format from the extension '\.xlsx'.*fmt="):
        files.read_sequences(tmp_path / "data.xlsx")
    with pytest.raises(ValueError, match=r"fmt: expected one of \['csv', 'tsv', 'parquet', 'npz'\], got 'xls'"):
        files.read_sequences(tmp_path / "data.csv", fmt="xls")
    with pytest.raises(FileNotFoundError, match="no such file"):
        files.read_sequences(tmp_path / "absent.csv")
    # fmt= reads a file whatever its extension
    path = write(tmp_path, "data.txt", "id\tx\tlabel\n1\t2\tp\n")
    assert files.read_sequences(path, fmt="tsv").X[0].tolist() == [[2.0]]


def test_parquet_errors(tmp_path, monkeypatch):
    bad = write(tmp_path, "bad.parquet", b"not parquet at all")
    with pytest.raises(ValueError, match="cannot read it as Parquet"):
        read_table(bad)
    empty = tmp_path / "empty.parquet"
    pq.write_table(pa.table({"id": pa.array([], pa.int64()), "x": pa.array([], pa.float64())}), empty)
    with pytest.raises(ValueError, match="no data rows"):
        read_table(empty)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(ImportError, match=r"^reading Parquet needs pyarrow: pip install 'rnnkit\[parquet\]'$"):
        read_table(empty)


# ----------------------------------------------------------------------------- series

def test_read_series_sorts_by_date_and_keeps_columns(tmp_path):
    path = write(tmp_path, "s.csv", "Date,temp,rain\n2024-01-03,5,0.5\n2024-01-01,3.5,0\n2024-01-02,4.1,2.5\n")
    times, values, names = files.read_series(path)
    assert times == ["2024-01-01", "2024-01-02", "2024-01-03"]
    np.testing.assert_array_equal(values, [[3.5, 0.0], [4.1, 2.5], [5.0, 0.5]])
    assert values.dtype == np.float64 and names == ["temp", "rain"]
    times, values, names = files.read_series(path, time_col="Date", value_cols="rain")
    assert names == ["rain"] and values.tolist() == [[0.0], [2.5], [0.5]]


def test_read_series_numeric_time_without_time_and_mixed_zones(tmp_path):
    times, values, _ = files.read_series(write(tmp_path, "n.csv", "t,v\n3,30\n1,10\n2,20\n"))
    assert times == [1, 2, 3] and values[:, 0].tolist() == [10, 20, 30]
    times, values, names = files.read_series(write(tmp_path, "plain.csv", "a,b\n1,2\n3,4\n"))
    assert times is None and names == ["a", "b"] and values.tolist() == [[1, 2], [3, 4]]
    # 10:00+02:00 is 08:00 UTC, before 09:00 (naive times are taken as UTC)
    path = write(tmp_path, "z.csv", "timestamp,v\n2024-01-01T09:00,1\n2024-01-01T10:00+02:00,2\n")
    assert files.read_series(path)[1][:, 0].tolist() == [2, 1]


def test_read_series_parquet_with_dates(tmp_path):
    path = tmp_path / "s.parquet"
    when = [datetime(2024, 5, 2, tzinfo=timezone.utc), datetime(2024, 5, 1, tzinfo=timezone.utc)]
    pq.write_table(pa.table({"time": when, "v": [2.0, 1.0], "w": [20, 10]}), path)
    times, values, names = files.read_series(path)
    assert times == [w.isoformat() for w in when[::-1]]
    assert values.tolist() == [[1, 10], [2, 20]] and names == ["v", "w"]
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"date": [date(2020, 1, 2), date(2020, 1, 1)], "v": [2.0, 1.0]}), path)
    assert files.read_series(path)[0] == ["2020-01-01", "2020-01-02"]


@pytest.mark.parametrize("content, kwargs, match", [
    ("t,v\n1,2\n2,\n", {}, r"column 'v' has a missing value at line 3; fill it in"),
    ("t,v\n1,2\n2,abc\n", {}, r"column 'v' has 'abc', which is not a number at line 3"),
    ("t,v\n1,2\n2,inf\n", {}, r"column 'v' has 'inf', which is not finite at line 3"),
    ("t,v\n1,2\nnoon,3\n", {}, r"the time column 't' has 'noon', which is not a number \(like '1'\) at line 3"),
    ("date,v\n2024-01-01,2\n2024-13-01,3\n", {}, r"'2024-13-01', which is neither a number nor an ISO date at line 3"),
    ("t,v\n1,2\n,3\n", {}, r"the time column 't' has a missing value at line 3.*--time-col"),
    ("t,v\n1,2\n", {"time_col": "when"}, r"no column 'when' \(given with --time-col / time_col=\); the columns "
                                          r"are \['t', 'v'\]"),
    ("t,v\n1,2\n", {"value_cols": ["t"]}, "value_cols must name columns other than the time column"),
    ("time,date,v\n1,2,3\n", {}, r"several columns could be the time: \['time', 'date'\]; choose one with --time"),
])
def test_read_series_errors(tmp_path, content, kwargs, match):
    with pytest.raises(ValueError, match=match):
        files.read_series(write(tmp_path, "s.csv", content), **kwargs)
