"""`rnnkit train --help` and `rnnkit train APP --help`: every setting of every app documented, with its
default; global options accepted after the command."""
import contextlib
import importlib
import json

import pytest

from rnnkit import cli
from rnnkit.cli import APPS, build_parser, main

MODULES = {name: importlib.import_module(module) for name, module in APPS.items()}


@pytest.mark.parametrize("name", list(APPS))
def test_every_setting_has_one_line_of_help_and_every_help_a_setting(name):
    app = MODULES[name]
    keys = set(app.default_config()) | set(app.default_config(quick=True))
    assert set(app.SETTINGS) == keys, (f"{name}: settings without help {sorted(keys - set(app.SETTINGS))}, "
                                       f"help without a setting {sorted(set(app.SETTINGS) - keys)}")
    for key, text in app.SETTINGS.items():
        assert isinstance(text, str) and text.strip() and "\n" not in text, f"{name}.{key}: {text!r}"


def _entries(section):
    """The settings section's entries, each unwrapped to one line: an entry starts with two spaces,
    its continuation lines with six."""
    entries = []
    for line in section.splitlines()[1:]:
        if line.startswith("      "):
            entries[-1] += " " + line.strip()
        elif line.startswith("  "):
            entries.append(line.strip())
    return entries


@pytest.mark.parametrize("name", ["adding", "sunspots", "charlm", "speech-digits"])
def test_train_app_help_lists_each_setting_with_its_default_and_meaning(name, capsys):
    assert main(["train", name, "--help"]) == 0
    out = capsys.readouterr().out
    assert "--config" in out and "--set KEY=VALUE" in out     # the common options come first
    section = out[out.index(f"settings of the {name} app"):]
    app = MODULES[name]
    full, quick = app.default_config(), app.default_config(quick=True)
    entries = _entries(section)
    assert len(entries) == len(full)
    for key, default in full.items():
        line = next((e for e in entries if e.startswith(f"{key} (")), None)
        assert line is not None, f"{key} missing from:\n{section}"
        assert f"default: {json.dumps(default, ensure_ascii=False)}" in line
        assert line.endswith(app.SETTINGS[key])
        assert (f"--quick: {json.dumps(quick[key], ensure_ascii=False)}" in line) == (quick[key] != default)


def test_adding_help_names_the_common_options_it_does_not_have(capsys):
    assert main(["train", "adding", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "the adding app does not have" in out
    for option in ("--cell", "--layers", "--bidirectional"):
        assert option in out.split("does not have")[1]
    assert "also --hidden" in out and "also --epochs" in out     # adding has these two


def test_an_option_the_app_lacks_is_still_refused(tmp_path, capsys):
    assert main(["train", "adding", "--quick", "--cell", "lstm", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "rnnkit: error: --cell: the adding app has no 'cell' option" in err and "Traceback" not in err


def test_train_help_without_an_app_lists_the_apps(capsys):
    assert main(["train", "--help"]) == 0
    out = capsys.readouterr().out
    assert "usage: rnnkit train" in out and "settings of the" not in out
    listing = out[out.index("applications ("):]
    for name, app in MODULES.items():
        assert name in listing and app.DESCRIPTION.split()[0] in listing


def test_help_before_the_app_is_the_general_help(capsys):
    assert main(["train", "--help", "adding"]) == 0
    out = capsys.readouterr().out
    assert "applications (" in out and "settings of the adding app" not in out


def test_other_commands_keep_their_help(capsys):
    assert main(["runs", "--help"]) == 0
    assert "--json" in capsys.readouterr().out
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "runs" in out and "train" in out


@pytest.mark.parametrize("argv", [
    ["train", "adding", "--quick", "--threads", "3", "--debug"],
    ["--threads", "3", "--debug", "train", "adding", "--quick"],
    ["train", "--threads", "3", "adding", "--debug", "--quick"],
])
def test_global_options_before_or_after_the_command(argv):
    args = build_parser(cli.COMMANDS).parse_args(argv)
    assert args.threads == 3 and args.debug is True and args.app == "adding" and args.quick


def test_threads_after_train_reaches_the_blas_limit(tmp_path, monkeypatch):
    seen = []

    @contextlib.contextmanager
    def record(n):
        seen.append(n)
        yield

    monkeypatch.setattr(cli, "blas_threads", record)
    monkeypatch.setattr(cli, "cmd_train", lambda args: seen.append(("train", args.app, args.quick)))
    monkeypatch.setitem(cli.COMMANDS, "train", cli.cmd_train)
    assert main(["train", "adding", "--quick", "--threads", "2", "--out", str(tmp_path / "r")]) == 0
    assert seen == [2, ("train", "adding", True)]
