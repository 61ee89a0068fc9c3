"""`rnnkit transcribe` as a user runs it: WAV, FLAC, OGG and headerless .raw audio give the same
digits, --stream prints what the library's stream gives, and mistakes are one line, exit 2 or 1."""
import subprocess
import sys

import numpy as np
import pytest

from rnnkit.apps import speech_digits as SD
from rnnkit.apps import speech_live as L
from rnnkit.data import synth

from .test_speech_live import model_for


def rnnkit(*args):
    return subprocess.run([sys.executable, "-m", "rnnkit", "transcribe", *map(str, args)], capture_output=True,
                          text=True)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    import soundfile as sf
    tmp = tmp_path_factory.mktemp("transcribe")
    wave = synth.render("seven oh three", "flite:slt")
    pcm = np.round(wave * 32767).astype(np.int16)
    sf.write(tmp / "a.wav", pcm, 16000)
    sf.write(tmp / "a.flac", pcm, 16000)
    sf.write(tmp / "a.ogg", wave, 16000, format="OGG", subtype="VORBIS")
    (tmp / "a.raw").write_bytes(pcm.astype("<i2").tobytes())
    stream = model_for(dict(SD.default_config(quick=True), streaming=True, hidden=24), seed=1)
    stream.save(tmp / "stream.npz")
    offline = model_for(dict(SD.default_config(quick=True)), seed=1)
    offline.save(tmp / "offline.npz")
    return tmp, stream


def test_every_format_reads_the_same_digits(files):
    tmp, _ = files
    want = rnnkit(tmp / "stream.npz", tmp / "a.wav").stdout.split(": ", 1)[1]
    assert rnnkit(tmp / "stream.npz", tmp / "a.flac").stdout.split(": ", 1)[1] == want
    assert rnnkit(tmp / "stream.npz", tmp / "a.raw", "--sample-rate", 16000).stdout.split(": ", 1)[1] == want
    r = rnnkit(tmp / "stream.npz", tmp / "a.ogg")
    assert r.returncode == 0 and r.stdout.startswith(f"{tmp / 'a.ogg'}: ")


def test_stream_prints_the_library_stream(files):
    tmp, model = files
    r = rnnkit(tmp / "stream.npz", tmp / "a.raw", "--sample-rate", 16000, "--stream", "--chunk-ms", 50)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    want, _ = L.stream_wave(model, np.frombuffer((tmp / "a.raw").read_bytes(), "<i2") / 32768.0, 50)
    assert [int(line.split()[-1]) for line in lines[:-1]] == [d for _, d in want]
    assert "real-time factor" in lines[-1]


@pytest.mark.parametrize("args, code, words", [
    (["a.raw"], 2, "--sample-rate"),
    (["a.raw", "--sample-rate", "16000", "--format", "mp3"], 2, "--format"),
    (["notes.wav"], 1, "not a readable audio file"),
    (["a.wav", "--stream"], 1, "cannot stream"),
])
def test_mistakes_are_one_line(files, args, code, words):
    tmp, _ = files
    (tmp / "notes.wav").write_text("not audio")
    model = "offline.npz" if "--stream" in args else "stream.npz"
    r = rnnkit(tmp / model, *[tmp / a if a.startswith(("a.", "notes")) else a for a in args])
    assert r.returncode == code and "rnnkit: error:" in r.stderr and "Traceback" not in r.stderr
    assert words in r.stderr
