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

    Parameters
    ----------
    text : str
        The text to split.

    Returns
    -------
    list of str
        The lower-cased tokens, in order.

    Raises
    ------
    TypeError
        If ``text`` is not a ``str``.

    Examples
    --------
    >>> from rnnkit.data.text import tokenize
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

    Parameters
    ----------
    tokens : iterable of str, default ()
        The regular tokens in id order (ids 2, 3, ...); the reserved ``<pad>`` and ``<unk>`` are
        added in front.
    tokenizer : callable, default tokenize
        Maps a text (``str``) to its list of tokens; used by :meth:`encode` and :meth:`build`.

    Raises
    ------
    TypeError
        If a token is not a ``str``.
    ValueError
        If a token is repeated or is one of the reserved tokens.

    Examples
    --------
    >>> from rnnkit.data.text import Vocabulary
    >>> vocab = Vocabulary.build(["the cat sat", "the dog"])
    >>> vocab.tokens
    ['<pad>', '<unk>', 'the', 'cat', 'dog', 'sat']
    >>> ids = vocab.encode(["the cat ran"])[0]
    >>> ids.tolist(), ids.dtype
    ([2, 3, 1], dtype('int64'))
    >>> vocab.decode(ids)
    'the cat <unk>'
    >>> Vocabulary.from_dict(vocab.to_dict()) == vocab
    True
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

        ``max_size`` caps the total size, the two reserved entries included (so ``>= 2``). Tokens are
        ordered by decreasing count, ties broken alphabetically.

        Parameters
        ----------
        texts : iterable of str
            The training texts (a list of strings, not one string).
        min_freq : int, default 1
            Minimum count for a token to be kept; at least 1.
        max_size : int, optional
            Maximum vocabulary size, ``<pad>`` and ``<unk>`` included; at least 2. Default: no cap.
        tokenizer : callable, default tokenize
            Maps a text to its list of tokens; kept by the vocabulary for :meth:`encode`.

        Returns
        -------
        Vocabulary
            The vocabulary of the kept tokens.

        Raises
        ------
        TypeError
            If ``texts`` is a single string.
        ValueError
            If ``min_freq`` is not an int >= 1 or ``max_size`` is not None or an int >= 2.
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
        """The id of one token, ``<unk>`` (1) when it is not in the vocabulary.

        Parameters
        ----------
        token : str
            The token to look up.

        Returns
        -------
        int
            Its id.
        """
        return self._stoi.get(token, self.unk_id)

    def id_to_token(self, idx: int) -> str:
        """The token of one id.

        Parameters
        ----------
        idx : int
            An id in ``[0, len(vocab))``.

        Returns
        -------
        str
            Its token.

        Raises
        ------
        IndexError
            If ``idx`` is out of range.
        """
        return self._itos[idx]

    def encode(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Tokenize and map each text to an ``int64`` array of ids (unknown words -> 1).

        Parameters
        ----------
        texts : sequence of str
            The texts (a list of strings, not one string).

        Returns
        -------
        list of numpy.ndarray
            One ``int64`` array of shape ``(n_tokens_i,)`` per text.

        Raises
        ------
        TypeError
            If ``texts`` is a single string.
        """
        if isinstance(texts, str):
            raise TypeError("encode expects a list of strings, not one string (wrap it: [text])")
        get, unk = self._stoi.get, self.unk_id
        return [
            np.fromiter((get(t, unk) for t in self.tokenizer(text)), dtype=np.int64)
            for text in texts
        ]

    def decode(self, ids: Iterable[int], skip_pad: bool = True) -> str:
        """Tokens of ``ids`` joined by single spaces (``<pad>`` dropped when ``skip_pad``).

        Parameters
        ----------
        ids : iterable of int
            1-D ids, each in ``[0, len(vocab))``.
        skip_pad : bool, default True
            Drop the ``<pad>`` ids; with False they appear as ``<pad>``.

        Returns
        -------
        str
            The decoded text.

        Raises
        ------
        ValueError
            If ``ids`` is not 1-D or an id is out of range.
        """
        ids = np.asarray(ids)
        if ids.ndim != 1:
            raise ValueError(f"ids must be 1-D, got shape {ids.shape}")
        n = len(self._itos)
        bad = ids[(ids < 0) | (ids >= n)]
        if bad.size:
            raise ValueError(f"ids must be in [0, {n}), got {bad[:5].tolist()}")
        return " ".join(self._itos[i] for i in ids.tolist() if not (skip_pad and i == self.pad_id))

    def to_dict(self) -> dict:
        """JSON-ready dict: ``{"format", "version", "tokens"}`` (tokens in id order).

        Returns
        -------
        dict
            ``{"format": "rnnkit.Vocabulary", "version": 1, "tokens": [...]}``, reserved tokens
            included; :meth:`from_dict` reads it back.
        """
        return {"format": "rnnkit.Vocabulary", "version": 1, "tokens": list(self._itos)}

    @classmethod
    def from_dict(cls, d: dict, tokenizer: Callable[[str], list[str]] = tokenize) -> "Vocabulary":
        """Rebuild a vocabulary saved with :meth:`to_dict`.

        Parameters
        ----------
        d : dict
            The saved dict (as read back by ``json.load``).
        tokenizer : callable, default tokenize
            The tokenizer, which is code and is not saved.

        Returns
        -------
        Vocabulary
            A vocabulary equal to the saved one.

        Raises
        ------
        ValueError
            If ``d`` is not a saved ``rnnkit.Vocabulary`` or its tokens do not start with
            ``<pad>``, ``<unk>``.
        """
        if not isinstance(d, dict) or d.get("format") != "rnnkit.Vocabulary":
            raise ValueError("not a saved rnnkit.Vocabulary (missing format='rnnkit.Vocabulary')")
        tokens = d.get("tokens")
        if not isinstance(tokens, list) or tokens[:2] != [cls.PAD, cls.UNK]:
            raise ValueError(f"saved tokens must start with {[cls.PAD, cls.UNK]}")
        return cls(tokens[2:], tokenizer=tokenizer)


_ESCAPE = re.compile(r"\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[ntr0\\'\"])")
_SIMPLE = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", "'": "'", '"': '"'}


def unescape(text: str) -> str:
    r"""Read the backslash escapes of ``text`` as a Python string literal would.

    The escapes read are \n \t \r \0 \\ \' \" \xNN \uNNNN \UNNNNNNNN (as in a Python string). Any other
    backslash stays as it is. For prompts typed on a command line.

    Parameters
    ----------
    text : str
        Text with backslash escapes.

    Returns
    -------
    str
        ``text`` with each escape replaced by its character.

    Examples
    --------
    >>> from rnnkit.data.text import unescape
    >>> unescape(r"one\ttwo\n\x41 \q")
    'one\ttwo\nA \\q'
    """
    def one(m):
        e = m.group(0)[1:]
        return _SIMPLE[e] if e in _SIMPLE else chr(int(e[1:], 16))
    return _ESCAPE.sub(one, text)


class CharVocabulary:
    """Character vocabulary: ``chars[i]`` has id ``i`` (no reserved ids).

    ``encode`` raises ``ValueError`` naming any character that is not in the vocabulary.
    ``padding_idx`` is None: no id is reserved for padding, so every character's embedding trains.

    Parameters
    ----------
    chars : iterable of str
        The characters in id order: unique, single characters, at least one.

    Raises
    ------
    ValueError
        If ``chars`` is empty, has repeats, or has an item that is not a single character.

    Examples
    --------
    >>> from rnnkit.data.text import CharVocabulary
    >>> vocab = CharVocabulary.build("hello world")
    >>> vocab.chars
    [' ', 'd', 'e', 'h', 'l', 'o', 'r', 'w']
    >>> ids = vocab.encode("hello")
    >>> ids.tolist(), vocab.decode(ids)
    ([3, 2, 4, 4, 5], 'hello')
    >>> vocab.nearest("H")
    ['h']
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
        """The sorted set of characters of ``text``.

        Parameters
        ----------
        text : str
            The training text.

        Returns
        -------
        CharVocabulary
            A vocabulary of the distinct characters of ``text``, in code point order.
        """
        return cls(sorted(set(text)))

    def __len__(self) -> int:
        return len(self.chars)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CharVocabulary) and self.chars == other.chars

    def __repr__(self) -> str:
        return f"CharVocabulary(size={len(self)})"

    def encode(self, text: str) -> np.ndarray:
        """``text`` as an ``int64`` array of ids, shape ``(len(text),)``.

        Parameters
        ----------
        text : str
            The text to encode.

        Returns
        -------
        numpy.ndarray
            ``int64`` ids, shape ``(len(text),)``.

        Raises
        ------
        TypeError
            If ``text`` is not a ``str``.
        ValueError
            If ``text`` has characters not in the vocabulary; the message names them and their
            nearest valid characters (:meth:`hints`).
        """
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
        """``'É' -> 'E' or 'e'; ...``: the nearest valid characters of each of ``chars`` (first 10).

        Parameters
        ----------
        chars : iterable of str
            Characters, typically those :meth:`encode` refused.

        Returns
        -------
        str
            One ``'c' -> 'a' or 'b'`` item per character (``nothing close`` when none), joined by
            ``"; "``.
        """
        return "; ".join(f"{c!r} -> {' or '.join(map(repr, self.nearest(c))) or 'nothing close'}"
                         for c in list(chars)[:10])

    def nearest(self, char: str) -> list:
        """Characters of the vocabulary close to ``char``.

        The candidates are its other case, its base letter without accents (NFKD), a plain space or
        quote for typographic ones.

        Parameters
        ----------
        char : str
            One character.

        Returns
        -------
        list of str
            The candidates that are in the vocabulary, without repeats; empty when none is.
        """
        base = unicodedata.normalize("NFKD", char)[:1]
        typographic = {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-",
                       "\u00a0": " ", "\t": " "}
        out = []
        for c in (char.swapcase(), base, base.swapcase(), typographic.get(char, "")):
            if c and c != char and c in self.chars and c not in out:
                out.append(c)
        return out

    def decode(self, ids: Iterable[int]) -> str:
        """The text of ``ids``.

        Parameters
        ----------
        ids : iterable of int
            1-D ids, each in ``[0, len(vocab))``.

        Returns
        -------
        str
            The characters of the ids, concatenated.

        Raises
        ------
        ValueError
            If ``ids`` is not 1-D or an id is out of range.
        """
        ids = np.asarray(ids)
        if ids.ndim != 1:
            raise ValueError(f"ids must be 1-D, got shape {ids.shape}")
        if ids.size and (ids.min() < 0 or ids.max() >= len(self.chars)):
            raise ValueError(f"ids must be in [0, {len(self.chars)})")
        return "".join(self._chars_arr[ids].tolist())

    def to_dict(self) -> dict:
        """JSON-ready dict: ``{"format", "version", "chars"}`` (chars in id order).

        Returns
        -------
        dict
            ``{"format": "rnnkit.CharVocabulary", "version": 1, "chars": [...]}``; :meth:`from_dict`
            reads it back.
        """
        return {"format": "rnnkit.CharVocabulary", "version": 1, "chars": list(self.chars)}

    @classmethod
    def from_dict(cls, d: dict) -> "CharVocabulary":
        """Rebuild a character vocabulary saved with :meth:`to_dict`.

        Parameters
        ----------
        d : dict
            The saved dict (as read back by ``json.load``).

        Returns
        -------
        CharVocabulary
            A vocabulary equal to the saved one.

        Raises
        ------
        ValueError
            If ``d`` is not a saved ``rnnkit.CharVocabulary`` (or its chars are invalid).
        KeyError
            If ``d`` has no ``"chars"`` entry.
        """
        if not isinstance(d, dict) or d.get("format") != "rnnkit.CharVocabulary":
            raise ValueError("not a saved rnnkit.CharVocabulary")
        return cls(d["chars"])
