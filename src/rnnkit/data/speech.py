"""Speech front end: spoken-digit corpus rendered by espeak-ng, MFCC features, frame context (seed §5.2.2).

The course text (seed §5.2.2) describes speech recognition as an RNN over frames of audio
features, each input being a short window of past MFCC frames::

    x_t = [MFCC_{t-3}, MFCC_{t-2}, MFCC_{t-1}]

This module builds such inputs from audio:

``render_speech``       text -> waveform with Debian's ``espeak-ng`` (a subprocess, no shell)
``make_digit_corpus``   random digit strings ("three one four") in many voices, speeds and pitches
``mfcc``                waveform -> ``(frames, n_mfcc)`` MFCCs (``librosa.feature.mfcc``), optional deltas
``normalize_utterance`` per-utterance mean/variance normalisation (CMVN) per coefficient
``stack_context``       ``x_t = [MFCC_{t-k}, ..., MFCC_{t-1}, MFCC_t]`` with optional frame subsampling
``featurize``           mfcc -> normalize_utterance -> stack_context, with defaults for CTC training
``make_digit_dataset``  corpus + features, cached on disk (``$RNNKIT_CACHE`` or ``~/.cache/rnnkit``)

The labels are digit indices 0..9 (``DIGIT_WORDS[label]`` is the spoken word), ready for a CTC
loss with the blank as an extra class (seed §2.6).

``librosa`` and ``soundfile`` are imported inside the functions that need them, so importing this
module stays cheap. ``espeak-ng`` is a system package: ``apt-get install espeak-ng``
(or ``make system-deps``).

Voices
------
espeak-ng names a voice as ``LANGUAGE[+VARIANT]``: the language/accent sets the pronunciation
(``en-us``, ``en`` = British, ``en-gb-scotland``, ``en-gb-x-rp``, ``en-029`` = Caribbean, ...), the
variant sets the timbre (``f1``..``f5`` female, ``m1``..``m8`` male, ``klatt*`` a different
synthesiser, ``croak``, ...). ``espeak-ng --voices=en`` and ``espeak-ng --voices=variant`` list them.
Two traps of espeak-ng 1.51 (Debian 12) are handled here:

- an unknown variant is silently ignored (``en-us+nosuch`` renders as ``en-us``), and variant
  names are case-sensitive file names; ``render_speech`` rejects unknown variants with a ValueError;
- a variant on ``en-gb`` is ignored (``en-gb+f3`` renders exactly as ``en-gb``), while the same
  British voice reached as ``en`` honours it; ``render_speech`` therefore rewrites ``en-gb+V`` to
  ``en+V``. ``DIGIT_VOICES`` uses ``en+V`` directly.
The MBROLA voices (``mb-*``) are listed but need the separate ``mbrola`` package, so none is used.
"""
from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np

from .._atomic import atomic_write
from .._threads import blas_threads

__all__ = [
    "DIGIT_WORDS", "DIGIT_VOICES", "TRAIN_VOICES", "TEST_VOICES", "ESPEAK_INSTALL_HINT",
    "DigitSpec", "espeak_available", "espeak_version", "espeak_variants", "render_speech",
    "load_wav", "digit_text", "sample_digit_specs", "make_digit_corpus", "mfcc",
    "normalize_utterance", "stack_context", "featurize", "cache_dir", "make_digit_dataset",
]

DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]

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

ESPEAK_INSTALL_HINT = ("espeak-ng is not installed (or not on PATH). Install it with "
                       "`apt-get install espeak-ng` (Debian/Ubuntu; `make system-deps` does the same).")

_ESPEAK_SPEED_RANGE = (80, 450)   # words per minute, the range espeak-ng documents for -s
_ESPEAK_PITCH_RANGE = (0, 99)     # espeak-ng -p
_CACHE_FORMAT = 1                 # bump when the layout or the features of cached files change


# ----------------------------------------------------------------------------------------------
# small validation helpers
# ----------------------------------------------------------------------------------------------

def _check_int(value, name: str, lo: int | None = None, hi: int | None = None) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an integer, got {type(value).__name__} {value!r}")
    value = int(value)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        rng = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise ValueError(f"{name}: expected an integer in {rng}, got {value}")
    return value


def _check_range(pair, name: str, lo: int, hi: int) -> tuple[int, int]:
    try:
        a, b = pair
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a pair (low, high), got {pair!r}") from None
    a = _check_int(a, f"{name}[0]", lo, hi)
    b = _check_int(b, f"{name}[1]", lo, hi)
    if a > b:
        raise ValueError(f"{name}: low must be <= high, got {pair!r}")
    return a, b


def _check_wave(wave, name: str = "wave") -> np.ndarray:
    arr = np.asarray(wave)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D mono waveform, got shape {arr.shape} "
                         "(mix channels down first, e.g. wave.mean(axis=0 or 1))")
    if arr.size == 0:
        raise ValueError(f"{name}: empty waveform (0 samples)")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"{name}: expected a float waveform, got dtype {arr.dtype}")
    if arr.dtype != np.float32 and arr.dtype != np.float64:
        arr = arr.astype(np.float32)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: contains NaN or inf")
    return arr


def _check_features(features, name: str = "features") -> np.ndarray:
    arr = np.asarray(features)
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array (frames, coefficients), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name}: empty feature matrix, shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        if not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"{name}: expected a float array, got dtype {arr.dtype}")
        arr = arr.astype(np.float32)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: contains NaN or inf")
    return arr


def _resample(y: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    if orig_sr == target_sr:
        return np.ascontiguousarray(y, dtype=np.float32)
    import librosa
    out = librosa.resample(np.ascontiguousarray(y, dtype=np.float32), orig_sr=orig_sr,
                           target_sr=target_sr, res_type="soxr_hq")
    return np.ascontiguousarray(out, dtype=np.float32)


# ----------------------------------------------------------------------------------------------
# espeak-ng
# ----------------------------------------------------------------------------------------------

def espeak_available() -> bool:
    """True when the ``espeak-ng`` program is on PATH."""
    return shutil.which("espeak-ng") is not None


def _espeak_exe() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError(ESPEAK_INSTALL_HINT)
    return exe


@functools.lru_cache(maxsize=1)
def espeak_version() -> str:
    """The first line of ``espeak-ng --version`` (part of the corpus cache key)."""
    out = subprocess.run([_espeak_exe(), "--version"], capture_output=True, text=True, timeout=30)
    return out.stdout.strip().splitlines()[0] if out.stdout.strip() else "unknown"


@functools.lru_cache(maxsize=1)
def espeak_variants() -> frozenset:
    """Names of the voice variants espeak-ng knows (``f2``, ``m3``, ``klatt``, ``Annie``, ...).

    Parsed from ``espeak-ng --voices=variant`` (the ``!v/NAME`` file column). Case-sensitive.
    """
    out = subprocess.run([_espeak_exe(), "--voices=variant"], capture_output=True, text=True,
                         timeout=30)
    names = set()
    for line in out.stdout.splitlines():
        m = re.search(r"!v/(.+?)\s*(\(|$)", line)
        if m:
            names.add(m.group(1).strip())
    return frozenset(names)


def _resolve_voice(voice) -> str:
    """Validate ``voice`` (``LANG`` or ``LANG+VARIANT``); return the name to pass to espeak-ng."""
    if not isinstance(voice, str) or not voice.strip():
        raise TypeError(f"voice: expected a non-empty string such as 'en-us+f2', got {voice!r}")
    voice = voice.strip()
    if any(c.isspace() for c in voice) or voice.count("+") > 1 or voice.startswith(("+", "-")):
        raise ValueError(f"voice: expected 'LANGUAGE' or 'LANGUAGE+VARIANT' (e.g. 'en-us+f2'), "
                         f"got {voice!r}")
    if "+" in voice:
        base, variant = voice.split("+")
        if not base:
            raise ValueError(f"voice: missing language before '+', got {voice!r}")
        known = espeak_variants()
        if variant not in known:
            raise ValueError(
                f"voice: unknown espeak-ng variant {variant!r} in {voice!r} (espeak-ng would "
                f"silently ignore it; names are case-sensitive), e.g. f1..f5, m1..m8, klatt, "
                f"klatt2, croak; see `espeak-ng --voices=variant` for all {len(known)}")
        if base == "en-gb":       # espeak-ng 1.51 drops variants on 'en-gb'; 'en' is the same voice
            base = "en"
        voice = f"{base}+{variant}"
    return voice


def _parse_wav_bytes(data: bytes) -> tuple[np.ndarray, int]:
    """Decode espeak-ng's 16-bit PCM WAV. Its header carries a placeholder size (it writes to a
    pipe), so read the samples up to the end of the data instead of trusting the header."""
    import wave
    with wave.open(io.BytesIO(data), "rb") as w:
        sr, width, channels = w.getframerate(), w.getsampwidth(), w.getnchannels()
        frames = w.readframes(w.getnframes())
    if width != 2:
        raise RuntimeError(f"espeak-ng produced {8 * width}-bit audio; expected 16-bit PCM")
    pcm = np.frombuffer(frames[: len(frames) // (2 * channels) * 2 * channels], dtype="<i2")
    y = pcm.reshape(-1, channels).mean(axis=1, dtype=np.float32) / np.float32(32768.0)
    return y.astype(np.float32, copy=False), sr


def render_speech(text: str, voice: str = "en-us", speed: int = 160, pitch: int = 50,
                  sample_rate: int = 16000) -> np.ndarray:
    """Speak ``text`` with espeak-ng and return a float32 mono waveform at ``sample_rate`` Hz.

    Runs ``espeak-ng -v VOICE -s SPEED -p PITCH --stdout -- TEXT`` (no shell; ``--`` keeps a text
    starting with '-' from being read as an option), decodes the WAV (22,050 Hz) and resamples
    with ``librosa.resample`` (soxr). espeak-ng is deterministic: the same arguments give the
    same samples.

    speed: words per minute, 80..450. pitch: 0..99 (50 is the voice's normal pitch).
    Raises RuntimeError (with the install command) when espeak-ng is missing, ValueError for an
    empty text, an unknown voice or variant, or out-of-range speed/pitch.
    """
    if not isinstance(text, str):
        raise TypeError(f"text: expected a string, got {type(text).__name__}")
    if not text.strip():
        raise ValueError(f"text: expected non-empty text to speak, got {text!r}")
    speed = _check_int(speed, "speed", *_ESPEAK_SPEED_RANGE)
    pitch = _check_int(pitch, "pitch", *_ESPEAK_PITCH_RANGE)
    sample_rate = _check_int(sample_rate, "sample_rate", 1000, 192000)
    exe = _espeak_exe()
    voice_arg = _resolve_voice(voice)
    cmd = [exe, "-v", voice_arg, "-s", str(speed), "-p", str(pitch), "--stdout", "--",
           " ".join(text.split())]
    proc = subprocess.run(cmd, capture_output=True, timeout=120)
    err = proc.stderr.decode("utf-8", "replace").strip()
    if proc.returncode != 0 or not proc.stdout:
        if "does not exist" in err or "MBROLA" in err or "mbrola" in err:
            raise ValueError(f"voice: espeak-ng cannot use voice {voice!r}: {err} "
                             "(see `espeak-ng --voices=en`)")
        raise RuntimeError(f"espeak-ng failed (exit {proc.returncode}) for voice {voice!r}, "
                           f"text {text[:60]!r}: {err or 'no output'}")
    y, sr = _parse_wav_bytes(proc.stdout)
    if y.size == 0:
        raise RuntimeError(f"espeak-ng produced no audio for text {text[:60]!r} with voice {voice!r}")
    return _resample(y, sr, sample_rate)


def load_wav(path, sample_rate: int | None = 16000) -> np.ndarray:
    """Read an audio file (WAV/FLAC/OGG, via soundfile) as float32 mono at ``sample_rate`` Hz.

    Channels are averaged; ``sample_rate=None`` keeps the file's own rate.
    """
    import soundfile as sf
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: no audio file at {str(path)!r}")
    data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    if data.shape[0] == 0:
        raise ValueError(f"path: {str(path)!r} holds no audio samples")
    y = data.mean(axis=1, dtype=np.float32)
    if sample_rate is None:
        return np.ascontiguousarray(y)
    return _resample(y, sr, _check_int(sample_rate, "sample_rate", 1000, 192000))


# ----------------------------------------------------------------------------------------------
# spoken-digit corpus
# ----------------------------------------------------------------------------------------------

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
                       speeds=(130, 190), pitches=(30, 70)) -> list[DigitSpec]:
    """Draw ``n`` utterance descriptions: digit strings of ``min_len..max_len`` digits (uniform
    length, uniform digits), a voice (uniform over ``voices``), a speed and a pitch (uniform
    integers in the inclusive ranges). Deterministic for a given ``seed`` (int or Generator)."""
    n = _check_int(n, "n", 0)
    voices = _check_voices(voices)
    min_len = _check_int(min_len, "min_len", 1)
    max_len = _check_int(max_len, "max_len", min_len)
    speeds = _check_range(speeds, "speeds", *_ESPEAK_SPEED_RANGE)
    pitches = _check_range(pitches, "pitches", *_ESPEAK_PITCH_RANGE)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    specs = []
    for _ in range(n):
        length = int(rng.integers(min_len, max_len + 1))
        labels = rng.integers(0, 10, size=length).astype(np.int64)
        voice = voices[int(rng.integers(len(voices)))]
        speed = int(rng.integers(speeds[0], speeds[1] + 1))
        pitch = int(rng.integers(pitches[0], pitches[1] + 1))
        specs.append(DigitSpec(digit_text(labels), labels, voice, speed, pitch))
    return specs


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
    for v in dict.fromkeys(s.voice for s in specs):
        _resolve_voice(v)              # fail before rendering anything
    if specs:
        _espeak_exe()

    def render(spec: DigitSpec):
        wave = render_speech(spec.text, spec.voice, spec.speed, spec.pitch, sample_rate)
        return wave, spec.labels, spec.voice

    return _run_pool(render, specs, n_jobs)


# ----------------------------------------------------------------------------------------------
# features
# ----------------------------------------------------------------------------------------------

def mfcc(wave, sample_rate: int = 16000, n_mfcc: int = 13, frame_ms: float = 25, hop_ms: float = 10,
         deltas: bool | int = False, n_mels: int = 40) -> np.ndarray:
    """MFCCs of a mono waveform: ``(frames, n_mfcc * (1 + order))`` float32, via librosa.

    Frames of ``frame_ms`` (25 ms, Hann window) every ``hop_ms`` (10 ms), FFT size the next power
    of two, ``n_mels`` mel bands (40 suits 16 kHz speech; librosa's default 128 leaves empty bands
    with a 25 ms window), DCT-II to ``n_mfcc`` coefficients (``librosa.feature.mfcc``). Frames are
    centred, so there are ``1 + len(wave) // hop`` frames, i.e. about duration / hop.

    deltas: ``False``/0 none; ``True``/1 appends first differences (``librosa.feature.delta``,
    9-frame window); 2 appends first and second differences.
    """
    wave = _check_wave(wave)
    sample_rate = _check_int(sample_rate, "sample_rate", 1000, 192000)
    n_mfcc = _check_int(n_mfcc, "n_mfcc", 1)
    n_mels = _check_int(n_mels, "n_mels", n_mfcc)
    order = _check_int(int(deltas) if isinstance(deltas, (bool, np.bool_)) else deltas, "deltas", 0, 2)
    if not (0 < frame_ms) or not (0 < hop_ms):
        raise ValueError(f"frame_ms, hop_ms: expected positive durations, got {frame_ms}, {hop_ms}")
    win = int(round(sample_rate * frame_ms / 1000.0))
    hop = int(round(sample_rate * hop_ms / 1000.0))
    if win < 2 or hop < 1:
        raise ValueError(f"frame_ms/hop_ms too short for sample_rate {sample_rate}: "
                         f"window {win} samples, hop {hop} samples")
    n_fft = 1 << (win - 1).bit_length()
    import librosa
    y = np.ascontiguousarray(wave, dtype=np.float32)
    n_frames = 1 + y.size // hop
    if y.size < n_fft:
        # librosa warns on signals shorter than n_fft; centred frames are zero-padded anyway
        # (pad_mode="constant"), so padding the end with zeros leaves the kept frames unchanged.
        y = np.concatenate([y, np.zeros(n_fft - y.size, np.float32)])
    m = librosa.feature.mfcc(y=y, sr=sample_rate, n_mfcc=n_mfcc, n_fft=n_fft, win_length=win,
                             hop_length=hop, n_mels=n_mels, center=True, pad_mode="constant")
    m = m[:, :n_frames]
    parts = [m]
    if order:
        width = min(9, m.shape[1] if m.shape[1] % 2 else m.shape[1] - 1)
        if width >= 3:
            for o in range(1, order + 1):
                parts.append(librosa.feature.delta(m, width=width, order=o, mode="interp"))
        else:                       # 1-2 frames: no meaningful slope
            parts.extend(np.zeros_like(m) for _ in range(order))
    out = np.concatenate(parts, axis=0).T
    return np.ascontiguousarray(out, dtype=np.float32)


def normalize_utterance(features, eps: float = 1e-5) -> np.ndarray:
    """Cepstral mean and variance normalisation over one utterance, per coefficient.

    ``(x - mean_t x) / sqrt(var_t x + eps)``; statistics accumulated in float64, result in the
    input's dtype. Removes the channel/voice offset that a constant spectral tilt puts into the
    cepstra. A constant coefficient becomes 0.
    """
    x = _check_features(features)
    if not eps >= 0:
        raise ValueError(f"eps: expected a non-negative number, got {eps}")
    mean = x.mean(axis=0, dtype=np.float64)
    var = x.var(axis=0, dtype=np.float64)
    scale = 1.0 / np.sqrt(var + eps)
    return ((x - mean) * scale).astype(x.dtype, copy=False)


def stack_context(features, k: int = 3, include_current: bool = True, stride: int = 1) -> np.ndarray:
    """Frame context, seed §5.2.2: row ``t`` is ``[f_{t-k}, ..., f_{t-1}, f_t]``.

    The seed writes ``x_t = [MFCC_{t-3}, MFCC_{t-2}, MFCC_{t-1}]`` (k = 3, past frames only); that
    is ``include_current=False``. The default ``include_current=True`` appends ``MFCC_t`` as well,
    so the model also sees the frame it labels. Frames before the start repeat frame 0. Output
    shape ``(ceil(T / stride), F * (k + include_current))``, same dtype as the input.

    stride: keep every ``stride``-th row (rows 0, s, 2s, ...). Frames come every 10 ms; a stride of
    2-3 gives a 20-30 ms frame rate, which makes recurrent/CTC training 2-3x cheaper while digits
    (>= ~150 ms each) still get several frames apiece. With ``k + 1 >= stride`` the kept rows still
    cover every original frame, so subsampling after stacking loses no frames.
    """
    x = _check_features(features)
    k = _check_int(k, "k", 0)
    stride = _check_int(stride, "stride", 1)
    offsets = np.arange(-k, 1 if include_current else 0)
    if offsets.size == 0:
        raise ValueError("k=0 with include_current=False selects no frames")
    t = np.arange(0, x.shape[0], stride)
    idx = np.maximum(t[:, None] + offsets[None, :], 0)
    return np.ascontiguousarray(x[idx].reshape(t.size, -1))


def featurize(wave, sample_rate: int = 16000, n_mfcc: int = 13, frame_ms: float = 25,
              hop_ms: float = 10, deltas: bool | int = False, normalize: bool = True,
              context: int = 3, include_current: bool = True, stride: int = 3) -> np.ndarray:
    """Waveform -> model inputs: ``mfcc`` -> ``normalize_utterance`` -> ``stack_context``.

    Defaults: 13 MFCCs on 25 ms frames every 10 ms, per-utterance CMVN, context of the 3 previous
    frames plus the current one (seed §5.2.2 plus ``MFCC_t``), every 3rd row kept: a 30 ms frame
    rate with 52 features per frame (``13 * 4``), about 33 frames per second of audio.
    """
    f = mfcc(wave, sample_rate=sample_rate, n_mfcc=n_mfcc, frame_ms=frame_ms, hop_ms=hop_ms,
             deltas=deltas)
    if normalize:
        f = normalize_utterance(f)
    return stack_context(f, k=context, include_current=include_current, stride=stride)


# ----------------------------------------------------------------------------------------------
# cached data set
# ----------------------------------------------------------------------------------------------

def cache_dir() -> Path:
    """Cache folder: ``$RNNKIT_CACHE`` if set, else ``~/.cache/rnnkit`` (read at each call)."""
    env = os.environ.get("RNNKIT_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "rnnkit"


def _package_version(name: str) -> str:
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:  # pragma: no cover - not installed as a distribution
        return "unknown"


def _featurize_params(feature_params) -> dict:
    import inspect
    sig = inspect.signature(featurize)
    params = {k: p.default for k, p in sig.parameters.items() if k not in ("wave", "sample_rate")}
    for k, v in dict(feature_params or {}).items():
        if k not in params:
            raise TypeError(f"feature_params: unknown featurize argument {k!r} (expected some of "
                            f"{sorted(params)})")
        params[k] = v
    return params


def _write_npz_atomic(path: Path, arrays: dict) -> None:
    with atomic_write(path) as fh:
        np.savez(fh, **arrays)


def make_digit_dataset(n: int, voices: Sequence[str], seed: int, min_len: int = 3, max_len: int = 7,
                       speeds=(130, 190), pitches=(30, 70), sample_rate: int = 16000,
                       n_jobs: int = 2, feature_params: dict | None = None, cache: bool = True):
    """Featurised spoken-digit corpus: ``(features, labels, voices)``, three lists of length ``n``.

    ``features[i]`` is ``featurize(wave_i, **feature_params)`` (float32 ``(frames, dim)``),
    ``labels[i]`` the int64 digits, ``voices[i]`` the voice name. Rendering and featurising run
    together on ``n_jobs`` threads, with BLAS limited to one thread meanwhile (see
    ``rnnkit._threads``). When featurising many waveforms yourself on a small machine, do the
    same (``threadpoolctl.threadpool_limits(1, "blas")`` or ``OPENBLAS_NUM_THREADS=1``).

    The result is cached in ``cache_dir()`` as ``digits-<key>.npz``, the key being a hash of every
    generation and feature parameter plus the espeak-ng, librosa and cache-format versions. The
    file holds plain arrays only (features concatenated along time with offsets, labels likewise,
    voice names as a fixed-width string array), loads with ``allow_pickle=False`` and is written
    atomically (temporary file, then rename). ``seed`` must be an int (it is part of the key).
    ``cache=False`` neither reads nor writes the cache.
    """
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed: expected an int (it keys the cache), got {type(seed).__name__}")
    voices = _check_voices(voices)
    fparams = _featurize_params(feature_params)
    # draw the utterances first: validates n, lengths and ranges before anything else happens
    specs = sample_digit_specs(n, voices, seed, min_len, max_len, speeds, pitches)
    sample_rate = _check_int(sample_rate, "sample_rate", 1000, 192000)
    key_params = {
        "format": _CACHE_FORMAT, "n": int(n), "voices": voices, "seed": int(seed),
        "min_len": int(min_len), "max_len": int(max_len), "speeds": [int(v) for v in speeds],
        "pitches": [int(v) for v in pitches], "sample_rate": sample_rate, "features": fparams,
        "espeak": espeak_version() if espeak_available() else "missing",
        "librosa": _package_version("librosa"),
    }
    blob = json.dumps(key_params, sort_keys=True, default=str)
    key = hashlib.sha256(blob.encode()).hexdigest()[:20]
    path = cache_dir() / f"digits-{key}.npz"

    if cache and path.is_file():
        try:
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
        except Exception as exc:     # corrupt or foreign file: rebuild it
            warnings.warn(f"ignoring unreadable cache file {path}: {exc}", RuntimeWarning,
                          stacklevel=2)

    for v in dict.fromkeys(s.voice for s in specs):
        _resolve_voice(v)
    if specs:
        _espeak_exe()

    def work(spec: DigitSpec):
        wave = render_speech(spec.text, spec.voice, spec.speed, spec.pitch, sample_rate)
        return featurize(wave, sample_rate=sample_rate, **fparams)

    with blas_threads(1):  # many small products: BLAS threads cost ~10x here (see rnnkit._threads)
        features = _run_pool(work, specs, n_jobs)
    labels = [s.labels for s in specs]
    utt_voices = [s.voice for s in specs]

    if cache:
        dim = features[0].shape[1] if features else 0
        names = sorted(set(utt_voices)) or [""]
        arrays = {
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
        try:
            _write_npz_atomic(path, arrays)
        except OSError as exc:
            warnings.warn(f"could not write cache file {path}: {exc}", RuntimeWarning, stacklevel=2)
    return features, labels, utt_voices
