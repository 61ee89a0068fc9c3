"""The rnnkit command's error contract: a user's mistake is one ``rnnkit: error: ...`` message on
stderr, never a traceback; exit 2 for usage errors, 1 for failed commands, 130 when interrupted;
``--debug`` / ``RNNKIT_DEBUG=1`` add the traceback. Every call runs in-process through ``main``."""
import json
import os
import subprocess
import sys
import wave

import numpy as np
import pytest

from rnnkit import __version__, cli
from rnnkit.apps import charlm, speech_digits
from rnnkit.apps.common import AppResult
from rnnkit.cli import main
from rnnkit.cli_args import build_parser
from rnnkit.data import speech_features
from rnnkit.layers import GRU, Dense
from rnnkit.model import Sequential

VOCAB = list("\n abcdefghijklmnopqrstuvwxyz.,")


def _write_wav(path, samples, rate=16000):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(samples, dtype="<i2").tobytes())
    return path


def make_files(d):
    """Small valid and hostile files under ``d``: {name: path}."""
    d.mkdir(parents=True, exist_ok=True)
    f = {}
    gru = Sequential([GRU(4), Dense(2)])
    gru.compile("crossentropy")
    gru.build(3)
    gru.save(d / "model.npz")
    f["model"] = d / "model.npz"

    lm_config = {**charlm.default_config(quick=True), "hidden": 6, "embed_dim": 4}
    lm = charlm.build(lm_config, len(VOCAB))
    lm.compile("crossentropy")
    lm.build(len(VOCAB))
    lm.save(d / "lm.npz", metadata={"app": "charlm", "vocab": VOCAB, "start": "\n"})
    f["lm"] = d / "lm.npz"

    config = speech_digits.default_config(quick=True)
    config["hidden"] = 4
    ctc = speech_digits.build(config)
    ctc.compile("ctc", ctc_blank=speech_digits.BLANK)
    wave_1s = np.sin(np.arange(16000) / 10).astype(np.float32)
    ctc.build(speech_features.featurize(wave_1s, sample_rate=16000, **config["features"]).shape[1])
    ctc.save(d / "ctc.npz", metadata={"app": "speech-digits", **speech_digits._metadata(config)})
    f["ctc"] = d / "ctc.npz"

    rng = np.random.default_rng(0)
    arrays = {"x": rng.standard_normal((4, 5, 3)).astype(np.float32),
              "x7": rng.standard_normal((4, 5, 7)).astype(np.float32),
              "x2d": rng.standard_normal((4, 3)).astype(np.float32),
              "x1d": rng.standard_normal(5).astype(np.float32),
              "empty": np.zeros((0, 5, 3), np.float32), "scalar": np.float32(1.0),
              "strings": np.array([["a", "b"]])}
    arrays["nan"] = arrays["x"].copy()
    arrays["nan"][1, 2, 0] = np.nan
    for name, a in arrays.items():
        np.save(d / f"{name}.npy", a)
        f[name] = d / f"{name}.npy"
    obj = np.empty(2, dtype=object)
    obj[0], obj[1] = np.zeros((5, 3)), np.zeros((2, 3))
    np.save(d / "pickled.npy", obj, allow_pickle=True)
    f["pickled"] = d / "pickled.npy"
    np.savez(d / "x.npz", x=arrays["x"])
    f["npz"] = d / "x.npz"
    (d / "text.npy").write_text("1 2 3\n4 5 6\n")
    f["text"] = d / "text.npy"
    (d / "garbage.bin").write_bytes(bytes(range(256)) * 4)
    f["garbage"] = d / "garbage.bin"

    f["wav"] = _write_wav(d / "a.wav", (8000 * np.sin(np.arange(4000) * 0.05)).astype(np.int16))
    f["nosamples"] = _write_wav(d / "nosamples.wav", np.zeros(0, np.int16))
    (d / "notaudio.wav").write_text("this is not audio\n" * 20)
    f["notaudio"] = d / "notaudio.wav"
    (d / "empty.wav").write_bytes(b"")
    f["emptywav"] = d / "empty.wav"
    (d / "audio.raw").write_bytes((8000 * np.sin(np.arange(4000) * 0.05)).astype("<i2").tobytes())
    f["raw"] = d / "audio.raw"

    (d / "afile").write_text("I am a file\n")
    f["file"] = d / "afile"
    (d / "full").mkdir(exist_ok=True)
    (d / "full" / "keep.txt").write_text("keep me\n")
    f["full"] = d / "full"
    f["missing"] = d / "missing"
    f["dir"] = d

    def run_dir(name, config_text=None, model=None):
        r = d / name
        r.mkdir(exist_ok=True)
        if config_text is not None:
            (r / "config.json").write_text(config_text)
        if model is not None:
            (r / "model.npz").write_bytes(model.read_bytes())
        f[name] = r

    run_dir("run_noconfig", model=f["model"])
    run_dir("run_badjson", "{not json", f["model"])
    run_dir("run_list", "[1, 2]", f["model"])
    run_dir("run_noapp", json.dumps({"cell": "gru"}), f["model"])
    run_dir("run_unknownapp", json.dumps({"app": "nosuchapp"}), f["model"])
    run_dir("run_nomodel", json.dumps({"app": "sunspots"}))
    run_dir("run_othermodel", json.dumps({"app": "sunspots"}), f["lm"])
    return {k: str(v) for k, v in f.items()}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return make_files(tmp_path_factory.mktemp("cli_files"))


def run_cli(argv, capsys):
    """(exit code, stdout, stderr) of ``main(argv)``."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_reported(code, err, want_code, keyword):
    assert code == want_code, err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("rnnkit: error: ")]
    assert lines, f"no 'rnnkit: error:' line in {err!r}"
    assert keyword.lower() in err.lower(), err


USAGE = 2
FAILED = 1

# (id, argv with {name} placeholders for the files of ``make_files``, exit code, keyword of the message)
CASES = [
    # argparse: the command line itself
    ("no-command", [], USAGE, "required"),
    ("unknown-command", ["frobnicate"], USAGE, "invalid choice"),
    ("unknown-option", ["list", "--bogus"], USAGE, "unrecognized arguments"),
    ("unknown-app", ["train", "nosuchapp"], USAGE, "invalid choice: 'nosuchapp'"),
    ("hidden-0", ["train", "sunspots", "--hidden", "0"], USAGE, "--hidden"),
    ("hidden-neg", ["train", "sunspots", "--hidden", "-5"], USAGE, "got -5"),
    ("hidden-text", ["train", "sunspots", "--hidden", "abc"], USAGE, "'abc'"),
    ("layers-0", ["train", "sunspots", "--layers", "0"], USAGE, "--layers"),
    ("batch-0", ["train", "sunspots", "--batch-size", "0"], USAGE, "--batch-size"),
    ("epochs-0", ["train", "sunspots", "--epochs", "0"], USAGE, "--epochs"),
    ("epochs-neg", ["train", "sunspots", "--epochs", "-1"], USAGE, "--epochs"),
    ("seed-neg", ["train", "sunspots", "--seed", "-1"], USAGE, "--seed"),
    ("lr-neg", ["train", "sunspots", "--lr", "-1"], USAGE, "--lr"),
    ("lr-0", ["train", "sunspots", "--lr", "0"], USAGE, "--lr"),
    ("lr-nan", ["train", "sunspots", "--lr", "nan"], USAGE, "'nan'"),
    ("lr-inf", ["train", "sunspots", "--lr", "inf"], USAGE, "'inf'"),
    ("verbose-neg", ["train", "sunspots", "--verbose", "-1"], USAGE, "--verbose"),
    ("verbose-3", ["train", "sunspots", "--verbose", "3"], USAGE, "--verbose"),
    ("cell", ["train", "sunspots", "--cell", "bogus"], USAGE, "--cell"),
    ("threads-0", ["--threads", "0", "list"], USAGE, "--threads"),
    ("threads-neg-after", ["list", "--threads", "-1"], USAGE, "--threads"),
    ("length-neg", ["generate", "{lm}", "--length", "-5"], USAGE, "--length"),
    ("length-0", ["generate", "{lm}", "--length", "0"], USAGE, "--length"),
    ("temperature-nan", ["generate", "{lm}", "--temperature", "nan"], USAGE, "--temperature"),
    ("temperature-0", ["generate", "{lm}", "--temperature", "0"], USAGE, "--temperature"),
    ("demo-app", ["demo", "--apps", "nosuchapp"], USAGE, "sunspots"),
    ("transcribe-no-files", ["transcribe", "{ctc}"], USAGE, "required"),
    # options the chosen app does not have, and --set
    ("layers-on-adding", ["train", "adding", "--layers", "2"], USAGE, "no 'layers' option"),
    ("bidir-on-adding", ["train", "adding", "--bidirectional"], USAGE, "no 'bidirectional' option"),
    ("cell-on-adding", ["train", "adding", "--cell", "gru"], USAGE, "no 'cell' option"),
    ("set-no-eq", ["train", "sunspots", "--set", "hidden"], USAGE, "KEY=VALUE"),
    ("set-unknown", ["train", "sunspots", "--set", "nosuchkey=1"], USAGE, "nosuchkey"),
    ("set-hidden-0", ["train", "sunspots", "--set", "hidden=0"], USAGE, "--set hidden"),
    ("set-lr-nan", ["train", "sunspots", "--set", "lr=NaN"], USAGE, "--set lr"),
    ("set-cell", ["train", "sunspots", "--set", "cell=bogus"], USAGE, "--set cell"),
    ("set-epochs-list", ["train", "sunspots", "--set", "epochs=[1,2]"], USAGE, "--set epochs"),
    # train's --out, refused before training
    ("out-file", ["train", "sunspots", "--quick", "--out", "{file}"], FAILED, "not a folder"),
    ("out-full", ["train", "sunspots", "--quick", "--out", "{full}"], FAILED, "--overwrite"),
    ("out-below-file", ["train", "sunspots", "--quick", "--out", "{file}/run"], FAILED, "not a folder"),
    # the app's own check of a --set value
    ("set-window-abc", ["train", "sunspots", "--quick", "--epochs", "1", "--out", "{missing}/w",
                        "--set", "window=abc"], FAILED, "window"),
    # predict
    ("predict-missing-model", ["predict", "{missing}", "{x}"], FAILED, "no such file"),
    ("predict-dir-model", ["predict", "{full}", "{x}"], FAILED, "is a folder without model.npz"),
    ("predict-npy-model", ["predict", "{x}", "{x}"], FAILED, "ZIP"),
    ("predict-garbage-model", ["predict", "{garbage}", "{x}"], FAILED, "ZIP"),
    ("predict-missing-inputs", ["predict", "{model}", "{missing}"], FAILED, "no such file"),
    ("predict-dir-inputs", ["predict", "{model}", "{dir}"], FAILED, "is a folder"),
    ("predict-nan", ["predict", "{model}", "{nan}"], FAILED, "NaN"),
    ("predict-1d", ["predict", "{model}", "{x1d}"], FAILED, "(batch, time, features)"),
    ("predict-2d", ["predict", "{model}", "{x2d}"], FAILED, "(batch, time, features)"),
    ("predict-features", ["predict", "{model}", "{x7}"], FAILED, "3 input features"),
    ("predict-empty", ["predict", "{model}", "{empty}"], FAILED, "empty"),
    ("predict-scalar", ["predict", "{model}", "{scalar}"], FAILED, "0-d"),
    ("predict-pickled", ["predict", "{model}", "{pickled}"], FAILED, "pickled"),
    ("predict-npz", ["predict", "{model}", "{npz}"], FAILED, ".npz"),
    ("predict-text", ["predict", "{model}", "{text}"], FAILED, "not a .npy file"),
    ("predict-garbage", ["predict", "{model}", "{garbage}"], FAILED, "not a .npy file"),
    ("predict-strings", ["predict", "{model}", "{strings}"], FAILED, "expected numbers"),
    ("predict-output-missing-dir", ["predict", "{model}", "{x}", "--output", "{missing}/y.npy"], FAILED,
     "does not exist"),
    ("predict-output-dir", ["predict", "{model}", "{x}", "--output", "{dir}"], FAILED, "is a folder"),
    # transcribe
    ("transcribe-not-audio", ["transcribe", "{ctc}", "{notaudio}"], FAILED, "not a readable audio file"),
    ("transcribe-empty", ["transcribe", "{ctc}", "{emptywav}"], FAILED, "empty"),
    ("transcribe-no-samples", ["transcribe", "{ctc}", "{nosamples}"], FAILED, "no audio samples"),
    ("transcribe-raw", ["transcribe", "{ctc}", "{raw}"], USAGE, "--sample-rate"),
    ("transcribe-raw-size", ["transcribe", "{ctc}", "{raw}", "--sample-rate", "16000", "--channels", "3"], FAILED,
     "not a whole number"),
    ("transcribe-missing", ["transcribe", "{ctc}", "{missing}"], FAILED, "no such file"),
    ("transcribe-non-ctc", ["transcribe", "{model}", "{wav}"], FAILED, "not a CTC"),
    ("transcribe-lm", ["transcribe", "{lm}", "{wav}"], FAILED, "not a CTC"),
    # generate
    ("generate-gru", ["generate", "{model}", "--length", "5"], FAILED, "not a character language model"),
    ("generate-ctc", ["generate", "{ctc}", "--length", "5"], FAILED, "'speech-digits' app"),
    ("generate-prompt", ["generate", "{lm}", "--length", "5", "--prompt", "QZ!"], FAILED,
     "not in the model's vocabulary"),
    ("generate-missing", ["generate", "{missing}"], FAILED, "no such file"),
    # evaluate
    ("evaluate-missing", ["evaluate", "{missing}"], FAILED, "no such folder"),
    ("evaluate-file", ["evaluate", "{file}"], FAILED, "not a folder"),
    ("evaluate-no-config", ["evaluate", "{run_noconfig}"], FAILED, "no config.json"),
    ("evaluate-bad-json", ["evaluate", "{run_badjson}"], FAILED, "not valid JSON"),
    ("evaluate-list", ["evaluate", "{run_list}"], FAILED, "JSON object"),
    ("evaluate-no-app", ["evaluate", "{run_noapp}"], FAILED, '"app"'),
    ("evaluate-unknown-app", ["evaluate", "{run_unknownapp}"], FAILED, "unknown application"),
    ("evaluate-no-model", ["evaluate", "{run_nomodel}"], FAILED, "no model.npz"),
    ("evaluate-other-model", ["evaluate", "{run_othermodel}"], FAILED, "not a model of the sunspots app"),
]


@pytest.mark.parametrize("argv, code, keyword", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_call_is_one_error_line(argv, code, keyword, files, capsys):
    got, _, err = run_cli([a.format(**files) for a in argv], capsys)
    assert_reported(got, err, code, keyword)


def test_controls_succeed(files, capsys):
    code, out, err = run_cli(["predict", files["model"], files["x"]], capsys)
    assert code == 0 and len(out.splitlines()) == 4, err
    code, out, err = run_cli(["generate", files["lm"], "--length", "7", "--prompt", "ab"], capsys)
    assert code == 0 and len(out.rstrip("\n")) == 9 and out.startswith("ab"), err
    code, out, err = run_cli(["transcribe", files["ctc"], files["wav"]], capsys)
    assert code == 0 and out.startswith(files["wav"] + ":"), err


def test_train_checks_its_out_folder_before_training(tmp_path, monkeypatch, capsys):
    """A non-empty --out is refused before the app runs, and written with --overwrite."""
    from rnnkit.apps import sunspots
    calls = []

    def fake_run(config, verbose=0):
        calls.append(config)
        return AppResult("t", "d", "m", 1.0, None, "none")

    monkeypatch.setattr(sunspots, "run", fake_run)
    out = tmp_path / "run"
    out.mkdir()
    (out / "old.txt").write_text("x")
    code, _, err = run_cli(["train", "sunspots", "--out", out], capsys)
    assert_reported(code, err, 1, "not empty")
    assert calls == []
    code, stdout, err = run_cli(["train", "sunspots", "--out", out, "--overwrite", "--hidden", "3"], capsys)
    assert code == 0, err
    assert calls[0]["hidden"] == 3 and json.loads((out / "config.json").read_text())["hidden"] == 3


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"rnnkit {__version__}"


def test_python_dash_m_rnnkit():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    p = subprocess.run([sys.executable, "-m", "rnnkit", "--version"], capture_output=True, text=True,
                       env=env, timeout=60)
    assert p.returncode == 0 and p.stdout.strip() == f"rnnkit {__version__}", p.stderr
    p = subprocess.run([sys.executable, "-m", "rnnkit", "predict", "nope.npz", "nope.npy"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 1 and p.stderr.startswith("rnnkit: error: ") and "Traceback" not in p.stderr


def test_debug_shows_the_traceback(files, monkeypatch, capsys):
    for argv in (["--debug", "predict", files["missing"], files["x"]],
                 ["predict", files["missing"], files["x"], "--debug"]):
        code, _, err = run_cli(argv, capsys)
        assert code == 1 and "Traceback (most recent call last)" in err and "rnnkit: error: " in err
    monkeypatch.setenv("RNNKIT_DEBUG", "1")
    code, _, err = run_cli(["predict", files["missing"], files["x"]], capsys)
    assert code == 1 and "Traceback (most recent call last)" in err
    monkeypatch.setenv("RNNKIT_DEBUG", "0")
    code, _, err = run_cli(["predict", files["missing"], files["x"]], capsys)
    assert code == 1 and "Traceback" not in err


def test_a_bug_is_reported_without_traceback(monkeypatch, capsys):
    def broken(args):
        return {}["missing key"]

    monkeypatch.setitem(cli.COMMANDS, "list", broken)
    code, _, err = run_cli(["list"], capsys)
    assert_reported(code, err, 1, "unexpected KeyError")
    assert "--debug" in err


@pytest.mark.parametrize("exc, code, message", [
    (KeyboardInterrupt(), 130, "rnnkit: interrupted"),
    (SystemExit("rnnkit: something went wrong"), 1, "rnnkit: error: something went wrong"),
    (SystemExit(3), 3, ""),
    (cli.CliError("bad thing", 2), 2, "rnnkit: error: bad thing"),
    (FileNotFoundError(2, "No such file or directory", "x.npy"), 1, "rnnkit: error: x.npy: No such file"),
    (MemoryError(), 1, "rnnkit: error: out of memory"),
])
def test_exceptions_inside_a_command(exc, code, message, monkeypatch, capsys):
    def raising(args):
        raise exc

    monkeypatch.setitem(cli.COMMANDS, "list", raising)
    got, _, err = run_cli(["list"], capsys)
    assert got == code and "Traceback" not in err
    assert (message in err) if message else err == ""


def _parsers():
    p = build_parser(cli.COMMANDS)
    sub = next(a for a in p._actions if a.dest == "command")
    return [p, *sub.choices.values()]


def test_every_option_and_positional_has_help():
    missing = [f"{p.prog}: {a.option_strings or a.dest}" for p in _parsers() for a in p._actions
               if not a.help]
    assert not missing


def test_help_documents_exit_codes_and_debug(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for word in ("exit status", "130", "--debug", "RNNKIT_DEBUG", "rnnkit: error:"):
        assert word in out


def test_an_abbreviated_option_is_a_usage_error(capsys):
    """argparse would read --epoch as --epochs and start a full run; the command refuses it."""
    code, out, err = run_cli(["train", "adding", "--epoch", "3"], capsys)
    assert code == 2 and "rnnkit: error:" in err and "--epoch" in err and "Traceback" not in err


def test_training_error_is_importable_from_the_package():
    import rnnkit
    from rnnkit.model import TrainingError
    assert rnnkit.TrainingError is TrainingError and "TrainingError" in rnnkit.__all__
