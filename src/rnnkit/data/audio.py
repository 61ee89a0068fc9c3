"""Audio in: text spoken by Debian's ``espeak-ng``, or audio files, as float32 mono waveforms.

``render_speech``   text -> waveform with ``espeak-ng`` (a subprocess, no shell), resampled by librosa
``load_wav``        WAV/FLAC/OGG file -> waveform (via ``soundfile``)

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
  ``en+V``.
The MBROLA voices (``mb-*``) are listed but need the separate ``mbrola`` package.
"""
from __future__ import annotations

import functools
import io
import re
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np

from ._checks import _check_int

__all__ = ["ESPEAK_INSTALL_HINT", "espeak_available", "espeak_version", "espeak_variants",
           "render_speech", "load_wav"]

ESPEAK_INSTALL_HINT = ("espeak-ng is not installed (or not on PATH). Install it with "
                       "`apt-get install espeak-ng` (Debian/Ubuntu; `make system-deps` does the same).")

_ESPEAK_SPEED_RANGE = (80, 450)   # words per minute, the range espeak-ng documents for -s
_ESPEAK_PITCH_RANGE = (0, 99)     # espeak-ng -p


def _resample(y: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    if orig_sr == target_sr:
        return np.ascontiguousarray(y, dtype=np.float32)
    import librosa
    out = librosa.resample(np.ascontiguousarray(y, dtype=np.float32), orig_sr=orig_sr,
                           target_sr=target_sr, res_type="soxr_hq")
    return np.ascontiguousarray(out, dtype=np.float32)


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
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, TypeError, ValueError) as e:    # soundfile's LibsndfileError is a RuntimeError
        raise ValueError(f"path: {str(path)!r} is not a readable audio file (WAV, FLAC or OGG with a "
                         f"header): {e}") from None
    if data.shape[0] == 0:
        raise ValueError(f"path: {str(path)!r} holds no audio samples")
    y = data.mean(axis=1, dtype=np.float32)
    if sample_rate is None:
        return np.ascontiguousarray(y)
    return _resample(y, sr, _check_int(sample_rate, "sample_rate", 1000, 192000))
