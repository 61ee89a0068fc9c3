"""Run folders on the command line: the files ``rnnkit train`` writes beside config.json
(``config.toml``, ``history.csv``), the ``--config FILE.toml`` of ``rnnkit train``, and the listing of
``rnnkit runs``.

A run folder's ``config.toml`` holds ``app = "NAME"`` and every setting of the run, so
``rnnkit train --config RUN/config.toml --out NEW`` trains the same configuration again.
``history.csv`` has a column ``epoch`` (1, 2, ...: the row number) and one per history list
(``loss``, ``val_loss``, ...; a step-based history such as charlm's has its own ``step`` column).
"""
from __future__ import annotations

import argparse
import csv
import datetime
import json
import math
import sys
import time
from pathlib import Path

from . import _toml
from ._atomic import atomic_write
from .cli_args import APPS, EXIT_USAGE, SET_CHECKS, CliError, existing_file
from .cli_help import OPTION_KEYS

NULL_NOTE = "TOML has no null, so the key is left out (where the app's default is not null, add --set {key}=null)"


# -- config.toml ---------------------------------------------------------------------------------

def write_config_toml(path, config, command="rnnkit train", null_note=NULL_NOTE):
    """Write ``config`` (``{"app": NAME, **settings}``) as TOML to ``path``; returns False, with a
    warning on stderr, when a value has no TOML form (then config.json alone holds the settings)."""
    header = (f"The settings of this run: `{command} --config config.toml --out NEW_FOLDER` repeats it;\n"
              "options given with --config override the values here.")
    try:
        text = _toml.dumps(config, header=header, null_note=null_note)
    except TypeError as e:
        print(f"rnnkit: warning: {path} not written ({e}); config.json holds the run's settings", file=sys.stderr)
        return False
    with atomic_write(path, "w") as fh:
        fh.write(text)
    return True


def read_config_file(path):
    """The table of a ``--config`` TOML file. A missing file or a folder: ``CliError`` (exit 1);
    text that is not TOML (the message names the line): ``CliError`` (exit 2)."""
    try:
        p = existing_file(path, "a TOML file of settings")
    except CliError as e:
        raise CliError(f"--config {e}", e.code) from None
    try:
        with open(p, "rb") as fh:
            return _toml.load(fh)
    except _toml.TOMLDecodeError as e:
        raise CliError(f"--config {path}: not valid TOML: {e}", EXIT_USAGE) from None
    except UnicodeDecodeError as e:
        raise CliError(f"--config {path}: not UTF-8 text ({e.reason} at byte {e.start})", EXIT_USAGE) from None


def train_app_and_settings(app, config=None):
    """``(application name, settings from the file)`` of ``rnnkit train [APP] [--config FILE]``: the
    app is APP or the file's ``app`` key (both given: they must agree). ``CliError`` (exit 2) when
    neither names one, or they differ."""
    values = {} if config is None else dict(read_config_file(config))
    named = values.pop("app", None)
    if named is not None and (not isinstance(named, str) or named not in APPS):
        raise CliError(f"--config {config}: app = {_toml.format_value(named)} is not an application; "
                       f"choose one of: {', '.join(APPS)}", EXIT_USAGE)
    if app is not None and named is not None and app != named:
        raise CliError(f"--config {config}: the file is for the {named} app (app = \"{named}\"), not {app}; "
                       "leave APP out, or give a file of the app", EXIT_USAGE)
    if app is None and named is None:
        raise CliError("train: give the application APP (one of: " + ", ".join(APPS) + ")"
                       + ("" if config is None else f", or an app = \"NAME\" line in {config}"), EXIT_USAGE)
    return app or named, values


def _has_time(value):
    if isinstance(value, dict):
        return any(_has_time(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_time(v) for v in value)
    return isinstance(value, (datetime.date, datetime.time))


def check_config_values(path, app, values):
    """The settings of a ``--config`` file, checked like ``--set`` against the app module ``app``:
    every key must be a setting of the app, a list or table where the default is one (a key with its
    own option may also be a single value, as that option gives it), and a key with its own option
    passes that option's check. Returns the values (checked ones converted); ``CliError`` (exit 2)."""
    defaults = app.default_config()
    unknown = [k for k in values if k not in defaults]
    if unknown:
        hint = " (task = ... is a setting of `rnnkit fit`, not of an app)" if "task" in unknown else ""
        raise CliError(f"--config {path}: {'unknown settings' if len(unknown) > 1 else 'unknown setting'} "
                       f"{', '.join(unknown)} for the {app.NAME} app{hint}; its settings: {', '.join(defaults)} "
                       f"(`rnnkit train {app.NAME} --help` describes them)", EXIT_USAGE)
    out = {}
    for key, value in values.items():
        default, where = defaults[key], f"--config {path}: {key}"
        if _has_time(value):
            raise CliError(f"{where}: a date or time is not a value of any setting", EXIT_USAGE)
        compound = isinstance(value, (list, dict))
        if isinstance(default, (list, dict)) and not isinstance(value, type(default)) \
                and (compound or key not in OPTION_KEYS):
            kind = "list" if isinstance(default, list) else "table"
            raise CliError(f"{where}: expected a {kind}, e.g. {key} = {_toml.format_value(default)}", EXIT_USAGE)
        if key in SET_CHECKS and not compound:
            if isinstance(value, bool):
                raise CliError(f"{where}: expected a single value, not {str(value).lower()}", EXIT_USAGE)
            try:
                value = SET_CHECKS[key](str(value))
            except argparse.ArgumentTypeError as e:
                raise CliError(f"{where}: {e}", EXIT_USAGE) from None
        out[key] = value
    return out


# -- history.csv ---------------------------------------------------------------------------------

def _plain(value):
    if hasattr(value, "tolist"):          # a NumPy array or scalar
        return value.tolist()
    return list(value) if isinstance(value, tuple) else value


def _cell(value):
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)                # reads back as the same float (nan, inf included)
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def history_table(history):
    """``(header, rows)`` of a history (a dict of lists): the column ``epoch`` (1, 2, ...; left out
    when the history has its own) and one column per list; a shorter list leaves its last cells empty."""
    columns = {str(k): _plain(v) for k, v in (history or {}).items()}
    columns = {k: v for k, v in columns.items() if isinstance(v, list)}
    n = max(map(len, columns.values()), default=0)
    lead = [] if "epoch" in columns else ["epoch"]
    rows = [[i + 1] * len(lead) + [_cell(v[i]) if i < len(v) else "" for v in columns.values()]
            for i in range(n)]
    return lead + list(columns), rows


def write_history_csv(path, history):
    header, rows = history_table(history)
    with atomic_write(path, "w") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


# -- rnnkit runs ---------------------------------------------------------------------------------

class _Unreadable(Exception):
    pass


def _load_json(path):
    if not path.is_file():
        raise _Unreadable(f"no {path.name}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise _Unreadable(f"{path.name} is not valid JSON (line {e.lineno})") from None
    except UnicodeDecodeError:
        raise _Unreadable(f"{path.name} is not UTF-8 text") from None
    except OSError as e:
        raise _Unreadable(f"{path.name}: {(e.strerror or str(e)).lower()}") from None


def run_entry(folder):
    """``(mtime or None, row)`` of one run folder: row has run, path, app (``rnnkit train``) or task
    (``rnnkit fit``), data, metric, value (metrics.json's summary), date (config.json's mtime, ISO
    minutes) and error (None, or why the folder could not be read)."""
    row = {"run": folder.name or folder.resolve().name, "path": str(folder), "app": None, "task": None,
           "data": None, "metric": None, "value": None, "date": None, "error": None}
    mtime = None
    try:
        config_path = folder / "config.json"
        mtime = (config_path if config_path.is_file() else folder).stat().st_mtime
        row["date"] = time.strftime("%Y-%m-%dT%H:%M", time.localtime(mtime))
        config = _load_json(config_path)
        if not isinstance(config, dict):
            raise _Unreadable("config.json is not a JSON object")
        row["app"], row["task"] = config.get("app"), config.get("task")
        if not isinstance(row["app"] or row["task"], str):
            raise _Unreadable("config.json names no app or task")
        metrics = _load_json(folder / "metrics.json")
        summary = metrics.get("summary") if isinstance(metrics, dict) else None
        if not isinstance(summary, dict):
            raise _Unreadable("metrics.json has no summary")
        row.update(data=summary.get("data"), metric=summary.get("metric"), value=summary.get("rnnkit"))
    except _Unreadable as e:
        row["error"] = str(e)
    except OSError as e:
        row["error"] = (e.strerror or str(e)).lower()
    return mtime, row


def _is_run(folder):
    try:
        return (folder / "config.json").is_file() or (folder / "metrics.json").is_file()
    except OSError:                       # a folder we may not look into: list it as unreadable
        return True


def find_runs(root):
    """The rows (:func:`run_entry`) of ``root`` itself when it is a run folder and of the run folders
    one level below it, oldest first. ``CliError`` (exit 1) when ``root`` is not a readable folder."""
    root = Path(root)
    if not root.is_dir():
        raise CliError(f"{root}: " + ("not a folder" if root.exists() else "no such folder")
                       + " (give the folder that holds the run folders, e.g. runs)")
    try:
        children = sorted(p for p in root.iterdir() if p.is_dir())
    except OSError as e:
        raise CliError(f"{root}: cannot list the folder ({(e.strerror or str(e)).lower()})") from None
    entries = [run_entry(f) for f in ([root] if _is_run(root) else []) + [c for c in children if _is_run(c)]]
    entries.sort(key=lambda e: (e[0] is None, e[0] or 0.0, e[1]["run"]))
    return [row for _, row in entries]


def _number(value):
    """A finite number as it is; anything else (NaN, a string, nothing) as None: strict JSON."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return value if ok else None


def _shorten(text, width):
    text = "—" if text is None else str(text)
    return text if len(text) <= width else text[:width - 1] + "…"


def format_runs(rows):
    """The table of ``rnnkit runs``: run, app/task, data (shortened), metric, value, date."""
    def value(v):
        if isinstance(v, float):
            return f"{v:.4g}"
        return "—" if v is None else _shorten(v, 12)
    body = [[r["run"], _shorten(r["app"] or r["task"], 20), _shorten(r["data"], 48), _shorten(r["metric"], 40),
             value(r["value"]), r["date"] or "—"] for r in rows]
    head = ["run", "app/task", "data", "metric", "value", "date"]
    ok = [b for b, r in zip(body, rows) if r["error"] is None]
    widths = [max([len(h), *(len(b[i]) for b in (body if i in (0, 1, 5) else ok))]) for i, h in enumerate(head)]
    span = widths[2] + widths[3] + widths[4] + 4      # an unreadable run's reason spans data..value
    lines = ["  ".join(c.ljust(w) for c, w in zip(head, widths)).rstrip()]
    for b, r in zip(body, rows):
        middle = [f"(unreadable: {r['error']})".ljust(span)] if r["error"] else \
            [c.ljust(w) for c, w in zip(b[2:5], widths[2:5])]
        lines.append("  ".join([b[0].ljust(widths[0]), b[1].ljust(widths[1]), *middle, b[5]]).rstrip())
    return "\n".join(lines)


def list_runs(folder=None, as_json=False):
    """The output of ``rnnkit runs [FOLDER] [--json]`` (FOLDER default ``runs``; a missing default
    folder means no runs yet)."""
    root = "runs" if folder is None else folder
    missing = folder is None and not Path(root).exists()
    rows = [] if missing else find_runs(root)
    if as_json:
        return json.dumps([{**r, "value": _number(r["value"])} for r in rows], indent=2, ensure_ascii=False)
    if not rows:
        return ("no run folders: " + (f"there is no {root} folder here" if missing else f"none in {root}")
                + " (a run folder holds config.json; `rnnkit train APP` writes one under runs/)")
    return format_runs(rows)
