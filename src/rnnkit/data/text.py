"""Text helpers: a word tokenizer, a word vocabulary and a character vocabulary.

:func:`tokenize` and :class:`Vocabulary` turn texts into ``int64`` id arrays at word level (with
``<pad>`` and ``<unk>``); :class:`CharVocabulary` does the same per character. Both
vocabularies save as JSON-ready dicts (``to_dict`` / ``from_dict``). ``vocab.padding_idx`` is the id
reserved for padding (0, ``<pad>``, for a ``Vocabulary``; None for a ``CharVocabulary``): give it to
``Embedding(..., padding_idx=vocab.padding_idx)``.
"""

from __future__ import annotations

import collections
import re
import unicodedata
from typing import Callable, Iterable, Sequence

import numpy as np

__all__ = ["tokenize", "Vocabulary", "CharVocabulary"]

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
    #: the id sequences are padded with: ``Embedding(len(vocab), dim, padding_idx=vocab.padding_idx)``
    padding_idx = 0

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


_ESCAPE = re.compile(r"\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[ntr0\\'\"])")
_SIMPLE = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", "'": "'", '"': '"'}


def unescape(text: str) -> str:
    """``text`` with backslash escapes read: \\n \\t \\r \\0 \\\\ \\' \\" \\xNN \\uNNNN \\UNNNNNNNN (as in a
    Python string). Any other backslash stays as it is. For prompts typed on a command line."""
    def one(m):
        e = m.group(0)[1:]
        return _SIMPLE[e] if e in _SIMPLE else chr(int(e[1:], 16))
    return _ESCAPE.sub(one, text)


class CharVocabulary:
    """Character vocabulary: ``chars[i]`` has id ``i`` (no reserved ids).

    ``encode`` raises ``ValueError`` naming any character that is not in the vocabulary.
    ``padding_idx`` is None: no id is reserved for padding, so every character's embedding trains.
    """

    padding_idx = None

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
            raise ValueError(f"text has characters not in the vocabulary: {unknown[:20]} "
                             f"(nearest valid: {self.hints(unknown)})")
        return ids

    def hints(self, chars) -> str:
        """``'É' -> 'E' or 'e'; ...``: the nearest valid characters of each of ``chars`` (first 10)."""
        return "; ".join(f"{c!r} -> {' or '.join(map(repr, self.nearest(c))) or 'nothing close'}"
                         for c in list(chars)[:10])

    def nearest(self, char: str) -> list:
        """Characters of the vocabulary close to ``char``: its other case, its base letter without
        accents (NFKD), a plain space or quote for typographic ones."""
        base = unicodedata.normalize("NFKD", char)[:1]
        typographic = {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-",
                       "\u00a0": " ", "\t": " "}
        out = []
        for c in (char.swapcase(), base, base.swapcase(), typographic.get(char, "")):
            if c and c != char and c in self.chars and c not in out:
                out.append(c)
        return out

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
