"""The help of ``rnnkit train``: the list of applications (``rnnkit train --help``) and, with an
application named before ``--help`` (``rnnkit train APP --help``), that application's own settings,
each with its default, its ``--quick`` value where that differs, and its meaning (the app module's
``SETTINGS``: setting -> one line of help).

An application is imported by module name only when its help is printed, like ``rnnkit list`` does.
"""
from __future__ import annotations

import argparse
import importlib
import json
import shutil
import textwrap

#: Settings that have an option of their own on ``rnnkit train`` (``batch_size`` -> ``--batch-size``).
OPTION_KEYS = ("cell", "hidden", "layers", "bidirectional", "epochs", "batch_size", "lr", "seed")


def option_name(key):
    return "--" + key.replace("_", "-")


def _import(module):
    """The module, or None when it is not part of this installation (an app left out)."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name != module:
            raise
        return None


def _width():
    """Columns to wrap at: argparse's (the terminal's less 2), kept within 60..100."""
    return min(100, max(60, shutil.get_terminal_size().columns - 2))


def _show(value):
    return json.dumps(value, ensure_ascii=False)


def settings_help(name, app):
    """The settings section of ``rnnkit train NAME --help`` for the app module ``app``: one entry per
    key of ``app.default_config()``, ``key (default: VALUE[; --quick: VALUE][; also --option]): help``,
    wrapped to the help's width; then the options of ``rnnkit train`` that this app does not have."""
    full, quick = app.default_config(), app.default_config(quick=True)
    helps, width = getattr(app, "SETTINGS", {}), _width()
    lines = [textwrap.fill(f"settings of the {name} app (give with --set KEY=VALUE, VALUE as JSON, or their own "
                           "option where one exists; --config FILE.toml gives them as KEY = VALUE lines):", width,
                           break_on_hyphens=False)]
    for key, default in full.items():
        notes = [f"default: {_show(default)}"]
        if quick.get(key, default) != default:
            notes.append(f"--quick: {_show(quick[key])}")
        if key in OPTION_KEYS:
            notes.append(f"also {option_name(key)}")
        text = f"{key} ({'; '.join(notes)}): {helps.get(key, '(no description)')}"
        text = text.replace(">= ", ">=\0").replace("> ", ">\0")   # keep "an integer >= 1" on one line
        lines.append(textwrap.fill(text, width, initial_indent="  ", subsequent_indent="      ",
                                   break_on_hyphens=False, break_long_words=False).replace("\0", " "))
    missing = [option_name(k) for k in OPTION_KEYS if k not in full]
    if missing:
        lines.append(textwrap.fill(f"options of `rnnkit train` that the {name} app does not have (refused with "
                                   f"exit status 2): {', '.join(missing)}", width, break_on_hyphens=False))
    return "\n".join(lines)


def apps_help(apps):
    """The list of applications (``apps``: name -> module name), with their descriptions."""
    lines = ["applications (`rnnkit train APP --help` also lists the app's own settings):"]
    for name, module in apps.items():
        app = _import(module)
        if app is not None:
            lines.append(textwrap.fill(f"{name:<15} {app.DESCRIPTION}", _width(), initial_indent="  ",
                                       subsequent_indent=" " * 18))
    return "\n".join(lines)


def train_help(apps, name=None):
    """The text after the options in ``rnnkit train [APP] --help``."""
    app = _import(apps[name]) if name in apps else None
    if app is None:
        return apps_help(apps)
    return settings_help(name, app)


class TrainHelp(argparse.Action):
    """``-h/--help`` of ``rnnkit train``: the usual help, then :func:`train_help` for the application
    given before it (``rnnkit train APP --help``), or the list of applications."""

    def __init__(self, option_strings, apps, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)
        self.apps = apps

    def __call__(self, parser, namespace, values, option_string=None):
        parser.print_help()
        print()
        print(train_help(self.apps, getattr(namespace, "app", None)))
        parser.exit()
