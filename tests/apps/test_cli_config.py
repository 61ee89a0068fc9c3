"""`rnnkit train --config FILE.toml`: the TOML writer, a run folder's config.toml that repeats the run,
the command line over the file, and clear usage errors for a bad file."""
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit import _toml
from rnnkit.cli import main

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

# The adding app at a toy size (about a second): one GRU, T = 4, a few sequences, one clipping run.
TINY = ["--quick", "--verbose", "0", "--hidden", "4", "--set", 'cells=["gru"]', "--set", "lengths=[4]",
        "--set", "n_train=32", "--set", "n_test=16", "--set", "epochs=2", "--set", "probe_length=4",
        "--set", "probe_size=8", "--set", 'clip_runs=[{"nonlinearity": "tanh", "radius": 1.0}]',
        "--set", "clip_length=4", "--set", "clip_hidden=4", "--set", "clip_n_train=16", "--set", "clip_epochs=1"]


# -- the writer ----------------------------------------------------------------------------------

def test_dumps_writes_each_kind_of_value_as_toml_reads_it():
    table = {"name": 'say "hi"\\ \n\ttab \x01 \x7f é 🎵', "n": -3, "big": 2 ** 62, "x": 0.1, "tiny": 5e-324,
             "huge": 1e300, "neg0": -0.0, "inf": math.inf, "ninf": -math.inf, "yes": True, "no": False,
             "list": [1, 2.5, "a", [True]], "empty": [], "table": {"rnn": 64, "odd key": {"a.b": "c"}},
             "list of tables": [{"nonlinearity": "relu", "radius": 1.5}], "": "empty key"}
    text = _toml.dumps(table, header="first line\nsecond line")
    assert text.startswith("# first line\n# second line\n")
    back = tomllib.loads(text)
    assert back == table and math.copysign(1, back["neg0"]) == -1.0
    assert math.isnan(tomllib.loads(_toml.dumps({"v": float("nan")}))["v"])


def test_dumps_comments_out_a_top_level_none_and_refuses_a_nested_one():
    text = _toml.dumps({"a": 1, "limit": None}, null_note="left out ({key})")
    assert "# limit = null: left out (limit)" in text
    assert tomllib.loads(text) == {"a": 1}
    with pytest.raises(TypeError, match=r"x\[1\]: TOML has no null"):
        _toml.dumps({"x": [1, None]})
    with pytest.raises(TypeError, match="TOML cannot hold a set"):
        _toml.dumps({"s": {1, 2}})


scalars = (st.integers(-2 ** 63, 2 ** 63 - 1) | st.floats(allow_nan=False) | st.booleans() | st.text())
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(max_size=10), values, max_size=6))
def test_dumps_round_trips_through_tomllib(table):
    assert tomllib.loads(_toml.dumps(table)) == table


# -- config.toml repeats a run -------------------------------------------------------------------

@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "first"
    assert main(["train", "adding", *TINY, "--out", str(out)]) == 0
    return out


def test_config_toml_holds_the_runs_config(run):
    config = json.loads((run / "config.json").read_text())
    assert tomllib.loads((run / "config.toml").read_text(encoding="utf-8")) == config
    assert config["app"] == "adding" and config["hidden"] == 4 and config["lengths"] == [4]


def test_training_again_from_config_toml_repeats_the_config(run, tmp_path, capsys):
    again = tmp_path / "again"                    # no APP: the file's app = "adding" names it
    assert main(["train", "--config", str(run / "config.toml"), "--verbose", "0", "--out", str(again)]) == 0
    assert json.loads((again / "config.json").read_text()) == json.loads((run / "config.json").read_text())
    assert (again / "config.toml").read_text() == (run / "config.toml").read_text()


def test_the_command_line_overrides_the_file(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text('app = "adding"\ncells = ["gru"]\nlengths = [4]\nn_train = 16\nn_test = 8\nepochs = 3\n'
                   "probe_length = 4\nprobe_size = 4\nclip_runs = [{nonlinearity = 'tanh', radius = 1.0}]\n"
                   "clip_length = 4\nclip_n_train = 8\nclip_hidden = 2\nhidden = {gru = 3}\n", encoding="utf-8")
    out = tmp_path / "r"
    assert main(["train", "adding", "--config", str(cfg), "--quick", "--epochs", "1", "--set", "n_test=12",
                 "--verbose", "0", "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["epochs"] == 1 and config["n_test"] == 12                 # options win
    assert config["n_train"] == 16 and config["hidden"] == {"gru": 3}      # the file beats the defaults
    assert config["clip_epochs"] == 2 and config["quick"] is True           # --quick defaults for the rest


# -- a bad file is a usage error that says what is wrong -----------------------------------------

@pytest.mark.parametrize("text, code, message", [
    ('app = "adding"\nepochs = \n', 2, "not valid TOML: Invalid value (at line 2, column 10)"),
    ("colour = 'red'\nepochs = 2\nshade = 1\n", 2, "unknown settings colour, shade for the adding app; its settings: "
                                                     "cells, lengths, hidden"),
    ('app = "sunspots"\n', 2, "the file is for the sunspots app (app = \"sunspots\"), not adding"),
    ('app = "nope"\n', 2, 'app = "nope" is not an application'),
    ("lengths = 5\n", 2, "lengths: expected a list, e.g. lengths = [10, 50, 100, 200]"),
    ("hidden = [4]\n", 2, 'hidden: expected a table, e.g. hidden = {rnn = 64, lstm = 32, gru = 37}'),
    ("epochs = 0\n", 2, "epochs: expected an integer >= 1, got 0"),
    ("lr = true\n", 2, "lr: expected a single value, not true"),
    ("seed = 1979-05-27\n", 2, "seed: a date or time is not a value of any setting"),
    ('task = "classify"\n', 2, "unknown setting task for the adding app (task = ... is a setting of `rnnkit fit`"),
    (b"epochs = '\xff'\n", 2, "not UTF-8 text"),
])
def test_a_bad_config_file_is_refused_before_training(tmp_path, capsys, text, code, message):
    cfg = tmp_path / "bad.toml"
    cfg.write_bytes(text if isinstance(text, bytes) else text.encode())
    assert main(["train", "adding", "--config", str(cfg), "--out", str(tmp_path / "r")]) == code
    err = capsys.readouterr().err
    assert f"rnnkit: error: --config {cfg}: {message}" in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()


def test_a_missing_config_file_and_a_missing_app(tmp_path, capsys):
    assert main(["train", "adding", "--config", str(tmp_path / "none.toml")]) == 1
    assert f"rnnkit: error: --config {tmp_path / 'none.toml'}: no such file" in capsys.readouterr().err
    assert main(["train"]) == 2
    assert "rnnkit: error: train: give the application APP (one of: sunspots" in capsys.readouterr().err
    cfg = tmp_path / "no_app.toml"
    cfg.write_text("epochs = 2\n")
    assert main(["train", "--config", str(cfg)]) == 2
    assert f'or an app = "NAME" line in {cfg}' in capsys.readouterr().err
