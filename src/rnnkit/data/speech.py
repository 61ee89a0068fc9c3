"""Spoken-digit corpus (seed §5.2.2): digit strings spoken by espeak-ng in many voices, featurised.

``sample_digit_specs``  random digit strings ("three one four"), each with a voice, speed and pitch
``make_digit_corpus``   those utterances rendered to waveforms (``audio.render_speech``)
``make_digit_dataset``  the same, featurised (``speech_features.featurize``) and cached on disk
                        (``$RNNKIT_CACHE`` or ``~/.cache/rnnkit``)

The labels are digit indices 0..9 (``DIGIT_WORDS[label]`` is the spoken word), ready for a CTC
loss with the blank as an extra class (seed §2.6). ``TRAIN_VOICES`` and the held-out
``TEST_VOICES`` name British voices as ``en+V`` (espeak-ng ignores variants on ``en-gb``; see
:mod:`rnnkit.data.audio`).
"""
from __future__ import annotations

import functools
import hashlib
import inspect
import json
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np

from .._threads import blas_threads
from . import audio, synth
from . import augment as augmentation
from ._checks import _check_int, _check_range
from .cache import _write_npz_atomic, cache_dir
from .packages import _dist_version
from .speech_features import featurize

__all__ = [
    "DIGIT_WORDS", "FILLER_PHRASES", "DIGIT_VOICES", "TRAIN_VOICES", "TEST_VOICES", "DigitSpec", "digit_text",
    "sample_digit_specs", "make_digit_corpus", "make_digit_dataset",
]

DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]

#: What a filler utterance says (no digits: the model must output nothing); "" is silence.
FILLER_PHRASES = ["", "hello", "okay", "thank you", "please call me back", "the weather is nice today",
                  "um let me see", "good morning", "yes", "no", "maybe later", "what was that",
                  "and then", "just a moment please"]

#: Voices used for training. Chosen (and each checked to render distinct audio with espeak-ng 1.51)
#: to cover four accents and male, female and Klatt-synthesised timbres; median F0 on a test
#: phrase runs from about 95 Hz (``en-gb-x-gbcwmd+m4``) to about 210 Hz (``en+f3``).
TRAIN_VOICES = [
    "en-us",               # American English, default male voice
    "en-us+f2",            # American, female 2                (F0 ~196 Hz)
    "en-us+m3",            # American, male 3
    "en-us+f4",            # American, female 4                (F0 ~180 Hz)
    "en-us+klatt",         # American, Klatt synthesiser
    "en-us+croak",         # American, elderly male ("croak")
    "en",                  # British English (Received-ish), default male
    "en+f3",               # British, female 3                 (F0 ~210 Hz)
    "en+m7",               # British, male 7
    "en+klatt2",           # British, Klatt synthesiser 2
    "en-gb-scotland",      # Scottish English, male
    "en-gb-scotland+f5",   # Scottish, female 5                (F0 ~204 Hz)
    "en-gb-x-rp+m2",       # Received Pronunciation, male 2
    "en-029+f1",           # Caribbean English, female 1 (older) (F0 ~180 Hz)
    "en-gb-x-gbcwmd+m4",   # West Midlands English, male 4     (F0 ~95 Hz)
]

#: Held-out voices: never used for training, so a test on them measures generalisation to new
#: speakers. Each combines an accent or variant unseen in ``TRAIN_VOICES`` with seen ones:
#: two female, two male; one new accent (Lancaster), one near-new accent (New York City).
TEST_VOICES = [
    "en-us-nyc+f3",        # New York City accent, female 3     (F0 ~212 Hz)
    "en+klatt3",           # British, Klatt synthesiser 3
    "en-gb-x-gbclan+f2",   # Lancaster accent, female 2         (F0 ~197 Hz)
    "en-029+m6",           # Caribbean, male 6
]

#: All 19 digit voices: ``TRAIN_VOICES + TEST_VOICES`` (the split is fixed; do not shuffle it).
DIGIT_VOICES = TRAIN_VOICES + TEST_VOICES

_CACHE_FORMAT = 1  # bump when the layout or the features of cached files change


class DigitSpec(NamedTuple):
    """What one utterance of the digit corpus says and how (drawn before any audio is rendered)."""
    text: str               # "three one four"
    labels: np.ndarray      # int64 digit indices, e.g. [3, 1, 4]
    voice: str
    speed: int
    pitch: int


def digit_text(labels) -> str:
    """``[3, 1, 4]`` -> ``"three one four"``."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size == 0:
        raise ValueError(f"labels: expected a non-empty 1-D array of digits, got shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"labels: expected integer digits 0..9, got {labels!r}")
    return " ".join(DIGIT_WORDS[int(d)] for d in labels)


def _check_voices(voices) -> list[str]:
    if isinstance(voices, str):
        voices = [voices]
    try:
        voices = list(voices)
    except TypeError:
        raise TypeError(f"voices: expected a list of espeak-ng voice names, got {voices!r}") from None
    if not voices:
        raise ValueError("voices: expected at least one voice, got an empty list")
    for v in voices:
        if not isinstance(v, str) or not v.strip():
            raise TypeError(f"voices: expected non-empty strings, got {v!r}")
    return voices


def sample_digit_specs(n: int, voices: Sequence[str], seed, min_len: int = 3, max_len: int = 7,
                       speeds=(130, 190), pitches=(30, 70), oh_prob: float = 0.0,
                       filler_prob: float = 0.0) -> list[DigitSpec]:
    """Draw ``n`` utterance descriptions: digit strings of ``min_len..max_len`` digits (uniform
    length, uniform digits), a voice (uniform over ``voices``), a speed and a pitch (uniform
    integers in the inclusive ranges). Deterministic for a given ``seed`` (int or Generator).

    ``oh_prob``: each zero is said "oh" instead of "zero" with this probability. ``filler_prob``:
    the utterance is one of ``FILLER_PHRASES`` instead (no digits, empty labels; "" is silence).
    With both 0 the draws are those of earlier versions (the same corpora)."""
    n = _check_int(n, "n", 0)
    voices = _check_voices(voices)
    min_len = _check_int(min_len, "min_len", 1)
    max_len = _check_int(max_len, "max_len", min_len)
    speeds = _check_range(speeds, "speeds", *audio._ESPEAK_SPEED_RANGE)
    pitches = _check_range(pitches, "pitches", *audio._ESPEAK_PITCH_RANGE)
    for name, prob in (("oh_prob", oh_prob), ("filler_prob", filler_prob)):
        if not 0.0 <= float(prob) <= 1.0:
            raise ValueError(f"{name}: expected a probability in [0, 1], got {prob!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    specs = []
    for _ in range(n):
        length = int(rng.integers(min_len, max_len + 1))
        labels = rng.integers(0, 10, size=length).astype(np.int64)
        voice = voices[int(rng.integers(len(voices)))]
        speed = int(rng.integers(speeds[0], speeds[1] + 1))
        pitch = int(rng.integers(pitches[0], pitches[1] + 1))
        text = digit_text(labels)
        if oh_prob > 0:        # extra draws only when asked for: the plain corpora stay as they were
            text = " ".join("oh" if d == 0 and rng.random() < oh_prob else DIGIT_WORDS[d] for d in labels)
        if filler_prob > 0 and rng.random() < filler_prob:
            text, labels = FILLER_PHRASES[int(rng.integers(len(FILLER_PHRASES)))], np.zeros(0, np.int64)
        specs.append(DigitSpec(text, labels, voice, speed, pitch))
    return specs


def _check_renderable(specs: list[DigitSpec]) -> None:
    """Fail before rendering anything: every voice must be valid and its engine installed."""
    for v in dict.fromkeys(s.voice for s in specs):
        engine, name = synth.split_voice(v)
        if engine == "espeak":
            audio._resolve_voice(name)
        synth._exe(engine)


def _render(spec: DigitSpec, sample_rate: int) -> np.ndarray:
    if not spec.text:          # a silent filler: 0.4-0.8 s of nothing (augmentation adds the room)
        return np.zeros(int(sample_rate * 0.6 * 160 / spec.speed), dtype=np.float32)
    return _render_cached(spec.text, spec.voice, spec.speed, spec.pitch, sample_rate)


@functools.lru_cache(maxsize=2048)
def _render_cached(text, voice, speed, pitch, sample_rate):
    """Rendering is deterministic, so the same utterance under several conditions (the test grid)
    is synthesised once per process; read-only, so no caller can change the cached samples."""
    y = synth.render(text, voice, speed, pitch, sample_rate)
    y.flags.writeable = False
    return y


def _run_pool(fn, items, n_jobs: int) -> list:
    n_jobs = _check_int(n_jobs, "n_jobs", 1)
    if n_jobs == 1 or len(items) <= 1:
        return [fn(it) for it in items]
    # espeak-ng runs in subprocesses and librosa/numpy release the GIL in their heavy parts, so
    # threads are enough; map keeps the order, hence determinism.
    with ThreadPoolExecutor(max_workers=n_jobs) as pool:
        return list(pool.map(fn, items))


def make_digit_corpus(n: int, voices: Sequence[str], seed, min_len: int = 3, max_len: int = 7,
                      speeds=(130, 190), pitches=(30, 70), sample_rate: int = 16000,
                      n_jobs: int = 2) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """Render ``n`` random spoken digit strings: a list of ``(waveform, labels, voice)``.

    ``waveform`` is float32 mono at ``sample_rate``; ``labels`` the int64 digits spoken as words
    ("three one four" -> ``[3, 1, 4]``). See ``sample_digit_specs`` for the sampling; rendering runs
    on a pool of ``n_jobs`` threads (each call is an espeak-ng subprocess). Same seed, same corpus.
    """
    specs = sample_digit_specs(n, voices, seed, min_len, max_len, speeds, pitches)
    _check_renderable(specs)

    return _run_pool(lambda spec: (_render(spec, sample_rate), spec.labels, spec.voice), specs, n_jobs)


def _featurize_params(feature_params) -> dict:
    sig = inspect.signature(featurize)
    params = {k: p.default for k, p in sig.parameters.items() if k not in ("wave", "sample_rate")}
    for k, v in dict(feature_params or {}).items():
        if k not in params:
            raise TypeError(f"feature_params: unknown featurize argument {k!r} (expected some of "
                            f"{sorted(params)})")
        params[k] = v
    return params


def _digit_arrays(blob: str, features: list, specs: list[DigitSpec]) -> dict[str, np.ndarray]:
    """The cache file's plain arrays: ragged lists as one array plus offsets, voices as indices."""
    labels = [s.labels for s in specs]
    utt_voices = [s.voice for s in specs]
    dim = features[0].shape[1] if features else 0
    names = sorted(set(utt_voices)) or [""]
    return {
        "params": np.array(blob),
        "features": (np.concatenate(features, axis=0) if features
                     else np.zeros((0, dim), np.float32)),
        "feature_offsets": np.concatenate([[0], np.cumsum([len(f) for f in features])]).astype(np.int64),
        "labels": (np.concatenate(labels) if labels else np.zeros(0, np.int64)).astype(np.int64),
        "label_offsets": np.concatenate([[0], np.cumsum([len(l) for l in labels])]).astype(np.int64),
        "voice_names": np.array(names, dtype=str),
        "voice_index": np.array([names.index(v) for v in utt_voices], dtype=np.int32),
        "speeds": np.array([s.speed for s in specs], dtype=np.int32),
        "pitches": np.array([s.pitch for s in specs], dtype=np.int32),
    }


def _load_digit_cache(path: Path, blob: str):
    """``(features, labels, voices)`` from a cache file written for the parameters ``blob``."""
    with np.load(path, allow_pickle=False) as z:
        if str(z["params"]) != blob:
            raise ValueError("parameters stored in the file differ from the key")
        feats, foff = z["features"], z["feature_offsets"]
        labs, loff = z["labels"], z["label_offsets"]
        names = [str(s) for s in z["voice_names"]]
        vidx = z["voice_index"]
    return ([feats[foff[i]:foff[i + 1]].copy() for i in range(len(foff) - 1)],
            [labs[loff[i]:loff[i + 1]].copy() for i in range(len(loff) - 1)],
            [names[j] for j in vidx])


def digit_waves(specs, seed: int, sample_rate: int = 16000, augment: dict | None = None, n_jobs: int = 1) -> list:
    """The waveforms of ``specs``, rendered and, with ``augment`` settings, augmented: utterance i
    with the generator ``default_rng([seed, i])``, babble drawn from the first 64 utterances. The
    audio behind ``make_digit_dataset``'s features (a prefix of at least 64 specs gives the same
    waveforms as the whole list)."""
    waves = _run_pool(lambda spec: _render(spec, sample_rate), specs, n_jobs)
    if augment is None:
        return waves
    pool = [w for w in waves[:64] if w.any()]
    return _run_pool(lambda i: augmentation.augment(waves[i], np.random.default_rng([seed, i]), sample_rate, pool,
                                                    augment), list(range(len(waves))), n_jobs)


def make_digit_dataset(n: int, voices: Sequence[str], seed: int, min_len: int = 3, max_len: int = 7,
                       speeds=(130, 190), pitches=(30, 70), sample_rate: int = 16000,
                       n_jobs: int = 2, feature_params: dict | None = None, cache: bool = True,
                       oh_prob: float = 0.0, filler_prob: float = 0.0, augment: dict | None = None,
                       spec_augment: dict | None = None):
    """Featurised spoken-digit corpus: ``(features, labels, voices)``, three lists of length ``n``.

    ``features[i]`` is ``featurize(wave_i, **feature_params)`` (float32 ``(frames, dim)``),
    ``labels[i]`` the int64 digits, ``voices[i]`` the voice name (``synth``: espeak-ng, flite or
    festival). ``oh_prob`` / ``filler_prob``: see ``sample_digit_specs``. ``augment``: settings of
    ``augment.augment`` (None: clean audio), applied to utterance i with the generator
    ``default_rng([seed, i])``, babble drawn from the corpus's first 64 utterances; ``spec_augment``:
    keyword arguments of ``augment.spec_augment`` (None: no masking), generator ``[seed, i, 1]``;
    so the corpus is the same whatever ``n_jobs`` is. Rendering and featurising run on ``n_jobs``
    threads, with BLAS limited to one thread meanwhile (see ``rnnkit._threads``).

    The result is cached in ``cache_dir()`` as ``digits-<key>.npz``, the key being a hash of every
    generation, augmentation and feature parameter plus the synthesisers', librosa's and the cache
    format's versions. The file holds plain arrays only (features concatenated along time with
    offsets, labels likewise, voice names as a fixed-width string array), loads with
    ``allow_pickle=False`` and is written atomically (temporary file, then rename). ``seed`` must
    be an int (it is part of the key). ``cache=False`` neither reads nor writes the cache.
    """
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed: expected an int (it keys the cache), got {type(seed).__name__}")
    voices = _check_voices(voices)
    fparams = _featurize_params(feature_params)
    # draw the utterances first: validates n, lengths and ranges before anything else happens
    specs = sample_digit_specs(n, voices, seed, min_len, max_len, speeds, pitches, oh_prob, filler_prob)
    sample_rate = _check_int(sample_rate, "sample_rate", 1000, 192000)
    if augment is not None:
        augment = {**augmentation.AUGMENT_DEFAULTS, **augment}
        augmentation.augment(np.zeros(10, np.float32), np.random.default_rng(0), sample_rate, (), augment)  # checks
    engines = sorted({synth.split_voice(v)[0] for v in voices})
    key_params = {
        "format": _CACHE_FORMAT, "n": int(n), "voices": voices, "seed": int(seed),
        "min_len": int(min_len), "max_len": int(max_len), "speeds": [int(v) for v in speeds],
        "pitches": [int(v) for v in pitches], "sample_rate": sample_rate, "features": fparams,
        "espeak": audio.espeak_version() if audio.espeak_available() else "missing",
        "librosa": _dist_version("librosa"),
    }
    if oh_prob or filler_prob or augment is not None or spec_augment is not None or engines != ["espeak"]:
        # only new options enter the key: a plain espeak corpus keeps the key (and cache file) it had
        key_params.update(oh_prob=float(oh_prob), filler_prob=float(filler_prob), augment=augment,
                          spec_augment=spec_augment, engines={e: synth.version(e) for e in engines})
    blob = json.dumps(key_params, sort_keys=True, default=str)
    key = hashlib.sha256(blob.encode()).hexdigest()[:20]
    path = cache_dir() / f"digits-{key}.npz"

    if cache and path.is_file():
        try:
            return _load_digit_cache(path, blob)
        except Exception as exc:     # corrupt or foreign file: rebuild it
            warnings.warn(f"ignoring unreadable cache file {path}: {exc}", RuntimeWarning,
                          stacklevel=2)

    _check_renderable(specs)
    with blas_threads(1):  # many small products: BLAS threads cost ~10x here (see rnnkit._threads)
        waves = digit_waves(specs, seed, sample_rate, augment, n_jobs)
        features = _run_pool(lambda w: featurize(w, sample_rate=sample_rate, **fparams), waves, n_jobs)
    if spec_augment is not None:
        features = [augmentation.spec_augment(f, np.random.default_rng([seed, i, 1]), **spec_augment)
                    for i, f in enumerate(features)]
    labels = [s.labels for s in specs]
    utt_voices = [s.voice for s in specs]
    if cache:
        try:
            _write_npz_atomic(path, _digit_arrays(blob, features, specs))
        except OSError as exc:
            warnings.warn(f"could not write cache file {path}: {exc}", RuntimeWarning, stacklevel=2)
    return features, labels, utt_voices
