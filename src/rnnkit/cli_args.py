"""The ``rnnkit`` command's arguments: the parser, and the checks of option values and of the files
the arguments name, all run before any work starts (``rnnkit.cli`` runs the commands).

Every check fails with :class:`CliError`, whose message ``rnnkit.cli.main`` prints as
``rnnkit: error: <message>`` and whose ``code`` is the exit code; argparse's own usage errors (a bad
option value rejected by a ``type=`` function below, an unknown option) exit with 2.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

import numpy as np

from ._version import __version__
from .cli_help import TrainHelp
from .data import audio
from .data.text import unescape
from .layers import Recurrent
from .model import Sequential
from .ops import CELLS

APPS = {
    "sunspots": "rnnkit.apps.sunspots",
    "stocks": "rnnkit.apps.stocks",
    "sentiment": "rnnkit.apps.sentiment",
    "actions": "rnnkit.apps.actions",
    "charlm": "rnnkit.apps.charlm",
    "speech-vowels": "rnnkit.apps.speech_vowels",
    "speech-digits": "rnnkit.apps.speech_digits",
    "adding": "rnnkit.apps.adding",
    "g2p": "rnnkit.apps.g2p",
}
DEMO_APPS = ["sunspots", "stocks", "sentiment", "actions", "speech-vowels", "charlm"]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

EPILOG = """\
exit status:
  0    success
  1    the command failed (a missing or unreadable file, a model of the wrong kind, bad data,
       a training failure); the reason is printed as "rnnkit: error: <message>" on stderr
  2    usage error: an unknown command or option, an invalid option value, or an option the
       chosen application does not have
  130  interrupted (Ctrl-C)

Errors are reported without a Python traceback. --debug (or the environment variable
RNNKIT_DEBUG=1) prints the traceback as well, for reporting a bug.
"""


class CliError(Exception):
    """A user's mistake or a failed command: reported as ``rnnkit: error: <message>``, exit ``code``."""

    def __init__(self, message, code=EXIT_FAILURE):
        super().__init__(message)
        self.code = code


# -- option values (argparse ``type=`` functions) ------------------------------------------------

def int_at_least(lo):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {lo}, got {text!r}") from None
        if value < lo:
            raise argparse.ArgumentTypeError(f"expected an integer >= {lo}, got {value}")
        return value
    parse.__name__ = f"integer >= {lo}"
    return parse


def positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def cell_name(text):
    if text not in CELLS:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(sorted(CELLS))}, got {text!r}")
    return text


POSITIVE = int_at_least(1)
# The checks of the options that ``--set KEY=VALUE`` may also give.
SET_CHECKS = {"hidden": POSITIVE, "layers": POSITIVE, "epochs": POSITIVE, "batch_size": POSITIVE,
              "seed": int_at_least(0), "lr": positive_float, "cell": cell_name,
              "steps": POSITIVE, "eval_every": POSITIVE}


def check_set_value(key, text, value):
    """``--set KEY=VALUE`` for a key with its own option: the same check as that option."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise CliError(f"--set {key}={text}: expected a single value", EXIT_USAGE)
    try:
        return SET_CHECKS[key](value if isinstance(value, str) else text)
    except (argparse.ArgumentTypeError, TypeError) as e:
        raise CliError(f"--set {key}: {e}", EXIT_USAGE) from None


# -- the parser ----------------------------------------------------------------------------------

class Parser(argparse.ArgumentParser):
    """argparse's parser, with usage errors as ``rnnkit: error: [COMMAND: ]message`` (exit 2), and no
    abbreviated options: ``--epoch`` is an error rather than a silent ``--epochs`` (a long run started
    by a typo)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.print_usage(sys.stderr)
        command = self.prog.removeprefix("rnnkit").strip()
        self.exit(EXIT_USAGE, f"rnnkit: error: {command + ': ' if command else ''}{message}\n")


def _global_options(parser, defaults):
    """--threads and --debug, accepted before or after the command (a command's parser leaves them
    unset unless given, so it never overwrites a value given before the command)."""
    d = (lambda v: v) if defaults else (lambda v: argparse.SUPPRESS)
    parser.add_argument("--threads", type=POSITIVE, default=d(1), metavar="N",
                        help="BLAS threads for NumPy (default 1: fastest for small recurrent models)")
    parser.add_argument("--debug", action="store_true", default=d(False),
                        help="on an error, print the Python traceback too (also: RNNKIT_DEBUG=1)")


def build_parser(commands, extra=()):
    """The argument parser; ``commands`` maps each command name to the function that runs it;
    each of ``extra`` is called with ``command(name, help)`` to add more commands (``cli_fit``)."""
    p = Parser(prog="rnnkit", description="Recurrent neural networks in NumPy.",
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"rnnkit {__version__}",
                   help="print the version and exit")
    _global_options(p, defaults=True)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser,
                           help="one of the commands below (rnnkit COMMAND --help for its options)")

    def command(name, text):
        s = sub.add_parser(name, help=text, description=text)
        _global_options(s, defaults=False)
        s.set_defaults(fn=commands[name])
        return s

    command("list", "list the applications")

    r = command("runs", "list the run folders under a folder (oldest first): app, data, metric, date")
    r.add_argument("dir", nargs="?", metavar="DIR", help="the folder holding the run folders (default: runs); "
                                                         "a run folder itself is listed too")
    r.add_argument("--json", action="store_true", help="print a JSON list, one object per run, instead of a table")

    text = "train an application's model and write a run folder"
    t = sub.add_parser("train", help=text, description=text, add_help=False)   # its -h knows APP (cli_help)
    t.add_argument("-h", "--help", action=TrainHelp, apps=APPS,
                   help="show this help and exit; after APP (rnnkit train APP --help), also the app's settings")
    _global_options(t, defaults=False)
    t.set_defaults(fn=commands["train"])
    t.add_argument("app", nargs="?", choices=list(APPS), metavar="APP",
                   help=f"the application: {', '.join(APPS)} (may be left out when --config names it)")
    t.add_argument("--config", metavar="FILE.toml",
                   help="the app's settings from a TOML file of KEY = VALUE lines, optionally with app = \"NAME\" "
                        "(a run folder's config.toml repeats that run); the options given here override it")
    t.add_argument("--cell", type=cell_name, metavar="{" + ",".join(sorted(CELLS)) + "}",
                   help="the recurrent cell")
    t.add_argument("--hidden", type=POSITIVE, metavar="N", help="hidden units per recurrent layer (>= 1)")
    t.add_argument("--layers", type=POSITIVE, metavar="N", help="stacked recurrent layers (>= 1)")
    t.add_argument("--bidirectional", action=argparse.BooleanOptionalAction, default=None,
                   help="read each sequence in both directions (apps with a 'bidirectional' option)")
    t.add_argument("--epochs", type=POSITIVE, metavar="N", help="training epochs (>= 1)")
    t.add_argument("--batch-size", type=POSITIVE, metavar="N", help="sequences per batch (>= 1)")
    t.add_argument("--lr", type=positive_float, metavar="RATE", help="learning rate (a finite number > 0)")
    t.add_argument("--seed", type=int_at_least(0), metavar="N", help="random seed (>= 0)")
    t.add_argument("--quick", action="store_true", help="a short run (smoke test / demo size)")
    t.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="any other option of the app; VALUE is read as JSON, else as a string")
    t.add_argument("--out", metavar="DIR", help="run folder (default runs/APP-TIMESTAMP); must not exist "
                                                "or be empty, unless --overwrite")
    t.add_argument("--overwrite", action="store_true", help="write into an existing, non-empty --out folder")
    t.add_argument("--distributed", action="store_true",
                   help="data-parallel training over the ranks of an MPI job: start it as "
                        "`mpiexec -n N rnnkit train APP --distributed` (needs: pip install 'rnnkit[mpi]'); "
                        "rank 0 writes the run folder")
    t.add_argument("--verbose", type=int, choices=(0, 1, 2), default=None,
                   help="progress: 0 none, 1 a progress bar and a line per epoch, 2 a line per epoch only "
                        "(default: 1 on a terminal, 2 when the output is a file or a pipe)")

    e = command("evaluate", "score a run folder's model on held-out data")
    e.add_argument("run_dir", metavar="RUN_DIR", help="a run folder written by `rnnkit train`")

    g = command("generate", "sample text from a character language model")
    g.add_argument("model", metavar="MODEL", help="a model file written by `rnnkit train charlm`")
    g.add_argument("--prompt", default="", type=unescape,
                   help="text to start from, in the model's vocabulary; backslash escapes are read as in "
                        "Python (\\n newline, \\t tab, \\\\ backslash, \\xNN, \\uNNNN), e.g. --prompt 'ROMEO.\\n'")
    g.add_argument("--length", type=POSITIVE, default=300, metavar="N",
                   help="characters to sample after the prompt (>= 1; default 300)")
    g.add_argument("--temperature", type=positive_float, default=0.8, metavar="T",
                   help="sampling temperature, a finite number > 0 (below 1 sharper; default 0.8)")
    g.add_argument("--seed", type=int_at_least(0), default=0, metavar="N", help="random seed (>= 0)")

    tr = command("transcribe", "spoken digits to text with a CTC model")
    tr.add_argument("model", metavar="MODEL", help="a model file written by `rnnkit train speech-digits`")
    tr.add_argument("files", nargs="+", metavar="AUDIO",
                    help="audio files: WAV, FLAC, OGG, or headerless .raw / .pcm (with --sample-rate)")
    tr.add_argument("--sample-rate", type=int_at_least(1000), metavar="HZ",
                    help="sample rate of .raw / .pcm files (required for them; other files say their own)")
    tr.add_argument("--format", choices=sorted(audio.RAW_FORMATS), default="s16le",
                    help="sample format of .raw / .pcm files (default s16le: signed 16-bit little-endian)")
    tr.add_argument("--channels", type=POSITIVE, default=1, metavar="N",
                    help="interleaved channels of .raw / .pcm files, averaged to mono (default 1)")
    tr.add_argument("--trim-db", type=positive_float, metavar="DB",
                    help="cut leading and trailing audio quieter than the peak by DB decibels (default: keep all)")
    tr.add_argument("--stream", action="store_true",
                    help="transcribe as a live stream: audio in --chunk-ms chunks, each digit printed with its "
                         "time as soon as it is decided (needs a model trained with --set streaming=true)")
    tr.add_argument("--chunk-ms", type=positive_float, default=100.0, metavar="MS",
                    help="chunk length of --stream, milliseconds (default 100)")

    for add in extra:
        add(command)

    d = command("demo", "worked example + short real-data runs, one results table")
    d.add_argument("--apps", nargs="+", choices=list(APPS), metavar="APP",
                   help=f"the applications to run (default: {' '.join(DEMO_APPS)})")
    d.add_argument("--out", metavar="DIR", help="also write a run folder per app under this folder")
    return p


# -- the files the arguments name ----------------------------------------------------------------

def check_out_dir(out, overwrite=False, option="--out"):
    """Refuse, before any work, a run folder that cannot be written: a file, a non-empty folder
    (unless ``overwrite``), or a place below a file or a read-only folder."""
    out = Path(out)
    if os.path.lexists(out) and not out.is_dir():
        raise CliError(f"{option} {out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise CliError(f"{option} {out}: the folder exists and is not empty; choose a new folder, "
                       "or pass --overwrite to write over its files")
    base = out.absolute()
    while not os.path.lexists(base):
        base = base.parent
    if not base.is_dir():
        raise CliError(f"{option} {out}: cannot make a folder below {base}, which is not a folder")
    if not os.access(base, os.W_OK | os.X_OK):
        raise CliError(f"{option} {out}: cannot write into {base} (permission denied)")


def existing_file(path, what):
    p = Path(path)
    if p.is_dir():
        raise CliError(f"{path}: is a folder, not {what}")
    if not p.exists():
        raise CliError(f"{path}: no such file (expected {what})")
    return p


def load_model(path):
    """A model file, with a clear message for a missing path, a folder or a file of another kind."""
    model = Sequential.load(existing_file(path, "a model file (.npz written by rnnkit)"))
    if not isinstance(getattr(model, "metadata", None), dict):
        model.metadata = {}
    return model


def load_inputs(path):
    """The numeric array of a .npy file (never unpickles)."""
    p = existing_file(path, "a .npy file of inputs")
    with open(p, "rb") as fh:
        magic = fh.read(6)
    if magic.startswith(b"PK"):
        raise CliError(f"{path}: a .npz archive; predict reads one array from a .npy file (numpy.save)")
    if magic != b"\x93NUMPY":
        raise CliError(f"{path}: not a .npy file (no NumPy header); write the inputs with numpy.save")
    try:
        X = np.load(p, allow_pickle=False)
    except ValueError as e:
        if "pickle" in str(e).lower() or "object arrays" in str(e).lower():
            raise CliError(f"{path}: holds a pickled object array; predict reads a numeric array "
                           "(pad ragged sequences to one length)") from None
        raise CliError(f"{path}: cannot read it as a .npy file ({e})") from None
    except (EOFError, OSError) as e:
        raise CliError(f"{path}: a damaged or truncated .npy file ({e})") from None
    if X.dtype.kind not in "biuf":
        raise CliError(f"{path}: holds an array of dtype {X.dtype}; expected numbers")
    if X.ndim == 0:
        raise CliError(f"{path}: holds a single number (a 0-d array); expected an array of shape "
                       "(batch, time, features) or (batch, features)")
    if X.size == 0:
        raise CliError(f"{path}: holds an empty array (shape {X.shape})")
    if X.dtype.kind == "f" and not np.isfinite(X).all():
        raise CliError(f"{path}: contains NaN or inf values")
    return X


def check_inputs_fit(model, X, path):
    if model.layers and isinstance(model.layers[0], Recurrent) and X.ndim != 3:
        raise CliError(f"{path}: an array of shape {X.shape}; the model starts with a recurrent layer "
                       "and reads (batch, time, features)")


def check_audio(path, raw_rate=None):
    """An audio file soundfile can read (WAV, FLAC, OGG), or a headerless .raw / .pcm file given
    its sample rate, checked before the model runs."""
    import soundfile as sf
    p = existing_file(path, "an audio file")
    if p.stat().st_size == 0:
        raise CliError(f"{path}: an empty file, not audio")
    if p.suffix.lower() in audio.RAW_SUFFIXES:
        if raw_rate is None:
            raise CliError(f"{path}: headerless raw audio has no sample rate; give it with --sample-rate HZ "
                           "(and --format, default s16le; --channels, default 1)", EXIT_USAGE)
        return
    try:
        frames = sf.info(str(p)).frames
    except (sf.SoundFileError, TypeError, RuntimeError) as e:
        raise CliError(f"{path}: not a readable audio file (WAV, FLAC or OGG; .raw / .pcm with --sample-rate): "
                       f"{e}") from None
    if frames == 0:
        raise CliError(f"{path}: holds no audio samples")
