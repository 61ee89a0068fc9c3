"""Several speech synthesisers behind one call: espeak-ng, flite and festival (Debian packages).

A voice is named ``ENGINE:NAME``; a name without an engine is an espeak-ng voice (``en-us+f2``):

=============  ==========================================================  ===========================
engine         voices                                                      Debian packages
=============  ==========================================================  ===========================
``espeak``     ``LANGUAGE[+VARIANT]`` (``rnnkit.data.audio``: formant       ``espeak-ng``
               synthesis, many accents and variants)
``flite``      ``kal``, ``kal16`` (diphone), ``awb``, ``rms``, ``slt``       ``flite``
               (CMU Arctic cluster-unit / clustergen voices)
``festival``   ``kal_diphone`` (diphone), ``slt_hts`` (HTS, statistical     ``festival``,
               parametric: the most natural of them)                        ``festvox-kallpc16k``,
                                                                            ``festvox-us-slt-hts``
=============  ==========================================================  ===========================

The engines sound very different from each other (formant, concatenative and statistical
parametric synthesis), which is the point: a model trained on one engine's voices and tested on
another's sees a new "speaker population". ``render`` takes espeak-ng's speed (words per minute,
80..450) for every engine: flite and festival's diphone voice stretch their durations by
``160 / speed`` (160 wpm being their ordinary pace); the HTS voice ignores it. ``pitch`` (0..99,
50 normal) is honoured by espeak-ng only: vary the others with ``augment.speed_perturb``, which
moves pitch and tempo together. Every engine is deterministic: the same arguments give the same
samples.
"""
from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from . import audio
from ._checks import _check_int

__all__ = ["ENGINES", "FLITE_VOICES", "FESTIVAL_VOICES", "INSTALL", "split_voice", "available", "version",
           "render"]

ENGINES = ("espeak", "flite", "festival")
FLITE_VOICES = ("kal", "kal16", "awb", "rms", "slt")
#: festival voice -> the Scheme procedure that selects it
FESTIVAL_VOICES = {"kal_diphone": "voice_kal_diphone", "slt_hts": "voice_cmu_us_slt_arctic_hts"}
INSTALL = {"espeak": "apt-get install espeak-ng", "flite": "apt-get install flite",
           "festival": "apt-get install festival festvox-kallpc16k festvox-us-slt-hts"}
_PROGRAMS = {"espeak": "espeak-ng", "flite": "flite", "festival": "text2wave"}
_NOMINAL_WPM = 160


def split_voice(voice) -> tuple[str, str]:
    """Split a voice name ``ENGINE:NAME`` (or a bare espeak-ng voice) into its engine and name.

    Parameters
    ----------
    voice : str
        ``ENGINE:NAME`` with an engine of ``ENGINES`` (``flite:slt``, ``festival:slt_hts``), or an
        espeak-ng voice without an engine (``en-us+f2``).

    Returns
    -------
    engine : str
        ``"espeak"``, ``"flite"`` or ``"festival"``.
    name : str
        The voice's name for that engine.

    Raises
    ------
    TypeError
        If ``voice`` is not a non-empty string.
    ValueError
        For an unknown engine or a voice the engine does not have (flite and festival voices are
        checked here; espeak-ng voices when rendering).

    Examples
    --------
    >>> from rnnkit.data.synth import split_voice
    >>> split_voice("flite:slt")
    ('flite', 'slt')
    >>> split_voice("en-us+f2")
    ('espeak', 'en-us+f2')
    """
    if not isinstance(voice, str) or not voice.strip():
        raise TypeError(f"voice: expected a non-empty string such as 'flite:slt', got {voice!r}")
    engine, sep, name = voice.strip().partition(":")
    if not sep:
        return "espeak", engine
    if engine not in ENGINES:
        raise ValueError(f"voice: unknown engine {engine!r} in {voice!r}; expected one of {', '.join(ENGINES)}")
    known = {"flite": FLITE_VOICES, "festival": tuple(FESTIVAL_VOICES)}.get(engine)
    if known is not None and name not in known:
        raise ValueError(f"voice: {engine} has no voice {name!r}; its voices: {', '.join(known)}")
    return engine, name


def available(engine: str) -> bool:
    """Whether the engine's program is on PATH.

    Parameters
    ----------
    engine : str
        One of ``ENGINES``: ``"espeak"`` (``espeak-ng``), ``"flite"`` or ``"festival"``
        (``text2wave``).

    Returns
    -------
    bool
        True when the program is found.

    Raises
    ------
    KeyError
        If ``engine`` is not one of ``ENGINES``.

    Examples
    --------
    >>> from rnnkit.data.synth import ENGINES, available
    >>> all(isinstance(available(e), bool) for e in ENGINES)
    True
    """
    return shutil.which(_PROGRAMS[engine]) is not None


def _exe(engine: str) -> str:
    exe = shutil.which(_PROGRAMS[engine])
    if exe is None:
        raise RuntimeError(f"{_PROGRAMS[engine]} is not installed (or not on PATH); install it with "
                           f"`{INSTALL[engine]}` (`make system-deps` does it)")
    return exe


@functools.lru_cache(maxsize=None)
def version(engine: str) -> str:
    """The engine's version line (part of corpus cache keys); "missing" when not installed."""
    if not available(engine):
        return "missing"
    if engine == "espeak":
        return audio.espeak_version()
    exe = shutil.which("festival") if engine == "festival" else _exe(engine)
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30)
    lines = [line.strip() for line in (out.stdout or out.stderr).splitlines() if line.strip()]
    named = [line for line in lines if "version" in line.lower() or "festival" in line.lower()]
    return (named or lines or ["unknown"])[0]


def _read(path: Path, engine: str, voice: str, text: str) -> tuple[np.ndarray, int]:
    data = path.read_bytes() if path.is_file() else b""
    if not data:
        raise RuntimeError(f"{engine} produced no audio for voice {voice!r}, text {text[:60]!r}")
    return audio._parse_wav_bytes(data)


def _run(cmd, engine, voice, text, stdin=None):
    proc = subprocess.run(cmd, input=stdin, capture_output=True, timeout=120)
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()
        raise RuntimeError(f"{engine} failed (exit {proc.returncode}) for voice {voice!r}, text {text[:60]!r}: "
                           f"{err or 'no message'}")


def render(text: str, voice: str = "en-us", speed: int = 160, pitch: int = 50,
           sample_rate: int = 16000) -> np.ndarray:
    """Speak ``text`` with the voice's engine: a float32 mono waveform at ``sample_rate`` Hz.

    espeak-ng voices go to :func:`rnnkit.data.audio.render_speech`; flite and festival run as
    subprocesses (no shell) writing a WAV to a temporary folder, which is then resampled (soxr) when
    its rate differs from ``sample_rate``. Every engine is deterministic.

    Parameters
    ----------
    text : str
        The text to speak (non-empty; runs of white space count as one space).
    voice : str, default "en-us"
        ``ENGINE:NAME`` (``flite:slt``, ``festival:slt_hts``) or a bare espeak-ng voice; see
        :func:`split_voice` and the module docstring.
    speed : int, default 160
        Speaking rate in words per minute, 80..450; flite and festival's diphone voice stretch their
        durations by ``160 / speed``, the HTS voice ignores it.
    pitch : int, default 50
        Pitch, 0..99 (50 normal); honoured by espeak-ng only (checked for every engine).
    sample_rate : int, default 16000
        Output sample rate in Hz, 1000..192000.

    Returns
    -------
    numpy.ndarray
        ``float32``, shape ``(n_samples,)``: the mono waveform at ``sample_rate`` Hz.

    Raises
    ------
    RuntimeError
        When the engine's program is missing (the message gives the install command), fails or
        produces no audio.
    TypeError
        If ``voice`` is not a non-empty string or ``speed``, ``pitch`` or ``sample_rate`` is not an
        integer.
    ValueError
        For an empty text, an unknown engine or voice, or out-of-range speed, pitch or sample rate.

    Examples
    --------
    >>> from rnnkit.data.synth import render
    >>> y = render("hello world", voice="flite:slt", sample_rate=16000)
    >>> y.dtype, y.ndim, y.size > 0
    (dtype('float32'), 1, True)
    """
    engine, name = split_voice(voice)
    if engine == "espeak":
        return audio.render_speech(text, name, speed, pitch, sample_rate)
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"text: expected non-empty text to speak, got {text!r}")
    speed = _check_int(speed, "speed", 80, 450)
    _check_int(pitch, "pitch", 0, 99)
    sample_rate = _check_int(sample_rate, "sample_rate", 1000, 192000)
    text = " ".join(text.split())
    stretch = f"{_NOMINAL_WPM / speed:.4f}"
    with tempfile.TemporaryDirectory(prefix="rnnkit-tts-") as tmp:
        out = Path(tmp) / "out.wav"
        if engine == "flite":
            # the text goes through a file: flite reads a -t argument starting with '-' as an option
            (Path(tmp) / "in.txt").write_text(text, encoding="utf-8")
            _run([_exe("flite"), "-voice", name, "--setf", f"duration_stretch={stretch}",
                  "-f", str(Path(tmp) / "in.txt"), "-o", str(out)], engine, voice, text)
        else:
            _run([_exe("festival"), "-o", str(out), "-eval", f"({FESTIVAL_VOICES[name]})",
                  "-eval", f"(Parameter.set 'Duration_Stretch {stretch})"], engine, voice, text,
                 stdin=text.encode("utf-8"))
        y, sr = _read(out, engine, voice, text)
    return audio._resample(y, sr, sample_rate)
