"""``rnnkit export``: a trained model as a file to ship, an ONNX graph (fp32, fp16 or int8) for
onnxruntime or a smaller rnnkit model file (int8 / float16 weights).

    rnnkit export runs/gestures gestures.onnx                   # ONNX, float32
    rnnkit export runs/gestures gestures-int8.onnx --quantize int8
    rnnkit export runs/gestures small.npz --quantize int8        # rnnkit's own format, ~4x smaller

The ONNX file carries the model's metadata (task, classes, scalers), so ``rnnkit predict FILE.onnx
DATA`` gives the same table as the run folder, through onnxruntime.
"""
from __future__ import annotations

from pathlib import Path

from .cli_args import EXIT_USAGE, CliError, load_model

FORMATS = (".onnx", ".npz")


def add_commands(command):
    """Add ``export``; ``command(name, help)`` makes a sub-parser."""
    e = command("export", "write a trained model as ONNX (for onnxruntime) or as a quantized rnnkit file")
    e.add_argument("model", metavar="RUN_OR_MODEL", help="a run folder (its model.npz) or a model file (.npz)")
    e.add_argument("out", metavar="OUT", help="the file to write: OUT.onnx (an ONNX graph) or OUT.npz (an rnnkit "
                                             "model file, with --quantize); written atomically")
    e.add_argument("--quantize", choices=("int8", "fp16", "float16"),
                   help="int8: weights as 8-bit integers with a scale per row (ONNX: onnxruntime's dynamic "
                        "quantization); fp16 (or float16): weights as float16. Default: the model's own precision "
                        "(float32 in ONNX)")
    e.add_argument("--opset", type=int, default=17, metavar="N",
                   help="ONNX opset version (default: 17; at least 14)")


def model_path(path):
    """The model file of a run folder, or the path itself."""
    p = Path(path)
    if p.is_dir():
        if not (p / "model.npz").is_file():
            raise CliError(f"{p}: is a folder without model.npz (expected a run folder or a model file)")
        return p / "model.npz"
    return p


def cmd_export(args):
    out = Path(args.out)
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise CliError(f"{out}: give a file name ending in .onnx (an ONNX graph) or .npz (an rnnkit model "
                       "file)", EXIT_USAGE)
    if suffix == ".npz" and args.quantize is None:
        raise CliError(f"{out}: an .npz export is a quantized copy; give --quantize int8 or fp16 (or copy "
                       "the model file)", EXIT_USAGE)
    if suffix == ".npz" and args.opset != 17:
        raise CliError("--opset: applies to an .onnx export", EXIT_USAGE)
    if out.is_dir():
        raise CliError(f"{out}: is a folder; give a file name")
    if not out.absolute().parent.is_dir():
        raise CliError(f"{out}: the folder {out.absolute().parent} does not exist")
    src = model_path(args.model)
    if src.resolve() == out.resolve():
        raise CliError(f"{out}: is the model file itself; write the export to another file", EXIT_USAGE)
    model = load_model(src)
    try:
        if suffix == ".onnx":
            model.export_onnx(out, opset=args.opset, quantize=args.quantize)
        else:
            model.save(out, quantize=args.quantize)
    except ImportError as e:
        raise CliError(str(e)) from None
    except (ValueError, TypeError) as e:
        raise CliError(f"{src}: cannot be exported: {e}") from None
    before, after = src.stat().st_size, out.stat().st_size
    kind = "ONNX" if suffix == ".onnx" else "rnnkit"
    print(f"wrote {out} ({kind}, {args.quantize or 'float32'}): {after / 1024:.1f} KiB "
          f"({after / before:.2f}x the size of {src.name}, {before / 1024:.1f} KiB)")
