"""Audio in: text spoken by Debian's ``espeak-ng``, or audio files, as float32 mono waveforms.

``render_speech``   text -> waveform with ``espeak-ng`` (a subprocess, no shell), resampled by librosa
``load_audio``      WAV/FLAC/OGG (via ``soundfile``) or headerless .raw/.pcm file -> waveform

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
           "render_speech", "load_audio", "RAW_FORMATS"]

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
    """Whether the ``espeak-ng`` program is on PATH.

    Returns
    -------
    bool
        True when ``espeak-ng`` is found, so that :func:`render_speech` can run.

    Examples
    --------
    >>> from rnnkit.data.audio import espeak_available
    >>> isinstance(espeak_available(), bool)
    True
    """
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

    Parameters
    ----------
    text : str
        The text to speak (non-empty; runs of white space count as one space).
    voice : str, default "en-us"
        An espeak-ng voice, ``LANGUAGE`` or ``LANGUAGE+VARIANT`` (``en-us+f2``, ``en+m3``; see the
        module docstring). Unknown variants are refused; ``en-gb+V`` is rendered as ``en+V``.
    speed : int, default 160
        Speaking rate in words per minute, 80..450.
    pitch : int, default 50
        Pitch, 0..99 (50 is the voice's normal pitch).
    sample_rate : int, default 16000
        Output sample rate in Hz, 1000..192000; 22050 (espeak-ng's own rate) skips resampling.

    Returns
    -------
    numpy.ndarray
        ``float32``, shape ``(n_samples,)``: the mono waveform in [-1, 1] at ``sample_rate`` Hz.

    Raises
    ------
    RuntimeError
        When espeak-ng is missing (the message gives the install command), fails or produces no audio.
    TypeError
        If ``text`` is not a string, ``voice`` is not a non-empty string, or ``speed``, ``pitch`` or
        ``sample_rate`` is not an integer.
    ValueError
        For an empty text, a malformed or unknown voice or variant, or out-of-range speed, pitch or
        sample rate.

    Examples
    --------
    >>> from rnnkit.data.audio import render_speech
    >>> y = render_speech("hello world", voice="en-us+f2", sample_rate=22050)
    >>> y.dtype, y.ndim, y.size > 0
    (dtype('float32'), 1, True)
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


#: Sample formats of headerless ``.raw`` / ``.pcm`` files: NumPy dtype and the value of full scale.
RAW_FORMATS = {"s16le": ("<i2", 32768.0), "s32le": ("<i4", 2147483648.0), "f32le": ("<f4", 1.0),
               "s8": ("i1", 128.0), "u8": ("u1", 128.0)}
RAW_SUFFIXES = (".raw", ".pcm")


def _read_raw(path: Path, rate, fmt: str, channels: int) -> tuple[np.ndarray, int]:
    if rate is None:
        raise ValueError(f"path: {str(path)!r} is headerless raw audio: give its sample rate (raw_rate=, or "
                         "--sample-rate on the command line) and its sample format (default s16le)")
    rate = _check_int(rate, "raw_rate", 1000, 192000)
    if fmt not in RAW_FORMATS:
        raise ValueError(f"raw_format: expected one of {', '.join(RAW_FORMATS)}, got {fmt!r:.40}")
    dtype, scale = RAW_FORMATS[fmt]
    channels = _check_int(channels, "channels", 1, 64)
    data = path.read_bytes()
    frame = np.dtype(dtype).itemsize * channels
    if len(data) % frame:
        raise ValueError(f"path: {str(path)!r} holds {len(data)} bytes, not a whole number of {fmt} frames of "
                         f"{channels} channel(s) ({frame} bytes each): wrong --format or --channels?")
    pcm = np.frombuffer(data, dtype=dtype).reshape(-1, channels).astype(np.float32)
    if fmt == "u8":
        pcm -= 128.0
    return (pcm / np.float32(scale)).mean(axis=1, dtype=np.float32), rate


def load_audio(path, sample_rate: int | None = 16000, raw_rate: int | None = None, raw_format: str = "s16le",
               channels: int = 1, trim_db: float | None = None) -> np.ndarray:
    """Read an audio file as float32 mono at ``sample_rate`` Hz (None: the file's own rate).

    WAV, FLAC and OGG (Vorbis) through soundfile; headerless ``.raw`` / ``.pcm`` files with the
    sample rate ``raw_rate`` (required: such a file does not say), the sample format ``raw_format``
    (``RAW_FORMATS``: s16le, s32le, f32le, s8, u8) and ``channels`` interleaved channels. Channels
    are averaged; the result is resampled (soxr) when the rates differ.

    Parameters
    ----------
    path : str or path-like
        The audio file: ``.wav``, ``.flac``, ``.ogg``, or headerless ``.raw`` / ``.pcm``.
    sample_rate : int or None, default 16000
        Output sample rate in Hz (1000..192000); None keeps the file's own rate.
    raw_rate : int, optional
        Sample rate in Hz of a ``.raw`` / ``.pcm`` file (required for them; ignored otherwise).
    raw_format : str, default "s16le"
        Sample format of a ``.raw`` / ``.pcm`` file, a key of ``RAW_FORMATS``: ``s16le``, ``s32le``,
        ``f32le``, ``s8`` or ``u8``.
    channels : int, default 1
        Number of interleaved channels of a ``.raw`` / ``.pcm`` file, 1..64.
    trim_db : float, optional
        Cut leading and trailing parts quieter than the peak by that many dB (librosa's trim);
        None (default) keeps all.

    Returns
    -------
    numpy.ndarray
        ``float32``, shape ``(n_samples,)``: the mono waveform (full scale = 1) at ``sample_rate`` Hz.

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a file.
    ValueError
        Naming the problem, for a file that is unreadable or empty, a raw file without ``raw_rate``, with an
        unknown ``raw_format`` or whose size does not fit its format, or an out-of-range rate or channel count.
    TypeError
        If ``sample_rate``, ``raw_rate`` or ``channels`` is not an integer.

    Examples
    --------
    >>> import numpy as np
    >>> import soundfile as sf
    >>> from rnnkit.data.audio import load_audio
    >>> tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)
    >>> sf.write("tone.wav", tone, 16000)
    >>> y = load_audio("tone.wav")
    >>> y.dtype, y.shape, round(float(y.max()), 2)
    (dtype('float32'), (16000,), 0.5)
    >>> (tone * 32767).astype("<i2").tofile("tone.raw")
    >>> load_audio("tone.raw", raw_rate=16000).shape
    (16000,)
    """
    import soundfile as sf
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: no audio file at {str(path)!r}")
    if path.suffix.lower() in RAW_SUFFIXES:
        y, sr = _read_raw(path, raw_rate, raw_format, channels)
    else:
        try:
            data, sr = sf.read(str(path), dtype="float32", always_2d=True)
        except (RuntimeError, TypeError, ValueError) as e:    # soundfile's LibsndfileError is a RuntimeError
            raise ValueError(f"path: {str(path)!r} is not a readable audio file (WAV, FLAC or OGG with a "
                             f"header, or .raw / .pcm with a sample rate): {e}") from None
        y = data.mean(axis=1, dtype=np.float32)
    if y.shape[0] == 0:
        raise ValueError(f"path: {str(path)!r} holds no audio samples")
    if sample_rate is not None:
        y = _resample(y, sr, _check_int(sample_rate, "sample_rate", 1000, 192000))
        sr = sample_rate
    if trim_db is not None:
        import librosa
        trimmed, _ = librosa.effects.trim(y, top_db=float(trim_db), frame_length=512, hop_length=128)
        y = trimmed if trimmed.size else y
    return np.ascontiguousarray(y, dtype=np.float32)
