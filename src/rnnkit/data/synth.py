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
    """(engine, name) of ``ENGINE:NAME`` or of a bare espeak-ng voice; ``ValueError`` for an
    unknown engine or a voice the engine does not have."""
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
    """True when the engine's program is on PATH."""
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

    ``speed``: words per minute (80..450); ``pitch``: 0..99, espeak-ng only (see the module's
    docstring). Raises ``RuntimeError`` with the install command when the engine is missing.
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
