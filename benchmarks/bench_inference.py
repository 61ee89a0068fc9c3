"""Inference speed: rnnkit NumPy, rnnkit -> ONNX (fp32, int8) in onnxruntime, PyTorch eager and PyTorch -> ONNX.

The model is one recurrent layer (LSTM, or GRU with ``reset_after=True``, PyTorch's form) and a
``Dense(10)`` head on the last step, with the same weights everywhere (rnnkit's initialisation, copied
to PyTorch by ``rnnkit.interop.torch.to_torch``). Contenders, for whole sequences:

- ``numpy``      rnnkit ``Sequential.predict`` (the NumPy ops);
- ``onnx_fp32``  ``Sequential.export_onnx(path)`` run in an onnxruntime session;
- ``onnx_int8``  ``Sequential.export_onnx(path, quantize="int8")`` in onnxruntime;
- ``torch``      the same network in PyTorch eager (``nn.LSTM``/``nn.GRU`` + ``nn.Linear``, ``no_grad``);
- ``torch_onnx`` that PyTorch module through ``torch.onnx.export(..., dynamo=False)`` in onnxruntime:
  the anchor. The goal of issue 14 is onnx_fp32 / torch_onnx <= 1.1.

Streaming (batch 1, microseconds per step, states fed back): the exported fp32 graph run with T = 1
(``session.run`` directly, and through ``rnnkit.runtime.OnnxModel.step``), rnnkit's ``layer.step`` +
the Dense head in NumPy, and ``nn.LSTMCell``/``nn.GRUCell`` + ``nn.Linear``.

onnxruntime sessions: ``intra_op_num_threads`` = the thread count, ``inter_op_num_threads`` = 1, all
graph optimisations, CPU provider; every ONNX contender gets the same options. Thread counts: for
each n in ``--threads``, ``torch.set_num_threads(n)`` and NumPy's BLAS pool limited to n with
threadpoolctl (without it: one subprocess per n with OPENBLAS/OMP/MKL_NUM_THREADS = n, as in
bench_rnn.py). Times are the median of the repeats after two warm-up rounds, the contenders run in
turn within each repeat (the starting contender rotates), garbage collection off while timing.

Every contender's output is compared with rnnkit's NumPy output on the first warm-up round (max abs
difference printed). fp32 contenders must agree within 1e-4 * max(1, max|y|) + 1e-3 * |y| (float32
rounding over up to 1000 steps sits far below); a failure marks the row and the exit status is 1.
int8 differences are reported, not judged.

    python benchmarks/bench_inference.py                 # full run, threads 1 and 2 (about 5 minutes)
    python benchmarks/bench_inference.py --quick         # smoke test (seconds)
    python benchmarks/bench_inference.py --cell lstm --threads 1 --batches 1,32 --json out.json

Only the standard library is imported before the command line is read, so that
``--unset-openblas-coretype`` can re-exec the interpreter before OpenBLAS loads.
"""
from __future__ import annotations

import json
import math
import os
import statistics
import sys
import tempfile
import time
import warnings

import _bench_env as be

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "src")

CELLS = ("lstm", "gru")
DEFAULT_CONFIGS = "100x32x64,100x64x128,1000x32x128"      # TIMExINPUTxHIDDEN
QUICK_CONFIGS = "20x8x16,50x16x32"
OUTPUTS = 10                                              # units of the Dense head
OPSET = 17
CONTENDERS = ("numpy", "onnx_fp32", "onnx_int8", "torch", "torch_onnx")
LABELS = {"numpy": "rnnkit NumPy", "onnx_fp32": "rnnkit ONNX fp32", "onnx_int8": "rnnkit ONNX int8",
          "torch": "torch eager", "torch_onnx": "torch ONNX"}
EXACT = ("onnx_fp32", "torch", "torch_onnx")             # must match rnnkit at float32 tolerance
STREAMERS = ("onnx_graph", "onnx_model", "numpy", "torch")
STREAM_LABELS = {"onnx_graph": "ORT graph (T=1)", "onnx_model": "OnnxModel.step", "numpy": "NumPy layer.step",
                 "torch": "torch *Cell"}
RTOL, ATOL = 1e-3, 1e-4

# Heavy modules, loaded by _load() after the command line (and any re-exec) is handled.
np = torch = ort = None
RK = {}


# ----------------------------------------------------------------------------------------------
# Command line

def _configs(s):
    return be.dims_list(s, "TIMExINPUTxHIDDEN", "100x32x64")


def parse_args(argv=None):
    ap = be.parser(__doc__)
    ap.add_argument("--cell", default=",".join(CELLS), help="comma-separated cells among lstm,gru (default both)")
    ap.add_argument("--threads", type=be.int_list, default=[1, 2], help="comma-separated thread counts (default 1,2)")
    ap.add_argument("--configs", type=_configs, default=None,
                    help=f"comma-separated TIMExINPUTxHIDDEN (default {DEFAULT_CONFIGS})")
    ap.add_argument("--batches", type=be.int_list, default=None, help="comma-separated batch sizes (default 1,8,32)")
    ap.add_argument("--repeats", type=int, default=15, help="timed rounds per case after two warm-ups (default 15)")
    ap.add_argument("--max-case-seconds", type=float, default=8.0,
                    help="fewer rounds (never fewer than 5) when the warm-up says --repeats rounds of all "
                         "contenders would take longer than this (default 8)")
    ap.add_argument("--gap-ms", type=float, default=2.0,
                    help="untimed pause between two timed calls, so that a thread pool still spinning after "
                         "one contender's call does not take a core from the next one (default 2)")
    ap.add_argument("--time-budget", type=float, default=480.0, metavar="SECONDS",
                    help="cases that would start after this many seconds are skipped and marked so "
                         "(0: no limit; default 480)")
    ap.add_argument("--stream-steps", type=int, default=1000, help="steps per streaming run (default 1000)")
    ap.add_argument("--stream-runs", type=int, default=7, help="streaming runs per case, median (default 7)")
    ap.add_argument("--no-stream", action="store_true", help="skip the streaming section")
    ap.add_argument("--no-files", action="store_true", help="skip the model-file section (sizes, quantisation error)")
    ap.add_argument("--quick", action="store_true",
                    help=f"smoke test: configs {QUICK_CONFIGS}, batches 1,8, 3 repeats, 100 streaming steps "
                         "x 3 runs (numbers not for reporting)")
    args = be.parse(ap, argv)
    cells = [c.strip().lower() for c in args.cell.split(",") if c.strip()]
    bad = [c for c in cells if c not in CELLS]
    if bad or not cells:
        ap.error(f"--cell: unknown {bad}; choose among {','.join(CELLS)}")
    args.cell = cells
    if args.quick:
        args.configs = args.configs or _configs(QUICK_CONFIGS)
        args.batches = args.batches or [1, 8]
        args.repeats = min(args.repeats, 3)
        args.stream_steps = min(args.stream_steps, 100)
        args.stream_runs = min(args.stream_runs, 3)
    args.configs = args.configs or _configs(DEFAULT_CONFIGS)
    args.batches = args.batches or [1, 8, 32]
    if args.repeats < 1 or args.stream_runs < 1 or args.stream_steps < 1 or args.gap_ms < 0:
        ap.error("--repeats, --stream-runs and --stream-steps must be >= 1, --gap-ms >= 0")
    if any(n < 1 for n in args.threads) or any(b < 1 for b in args.batches):
        ap.error("--threads and --batches must be >= 1")
    return args


def _load():
    global np, torch, ort
    import numpy as _np
    import onnxruntime as _ort
    import torch as _torch
    np, torch, ort = _np, _torch, _ort
    if SRC not in sys.path:
        sys.path.insert(0, SRC)
    from rnnkit import Sequential
    from rnnkit.interop.torch import to_torch
    from rnnkit.layers import GRU, LSTM, Dense
    RK.update(Sequential=Sequential, to_torch=to_torch, LSTM=LSTM, GRU=GRU, Dense=Dense)
    try:                               # issue 14's runtime; the streaming column is skipped without it
        from rnnkit.runtime import OnnxModel
        RK["OnnxModel"] = OnnxModel
    except ImportError as e:
        RK["OnnxModel"] = None
        RK["OnnxModel_error"] = f"{type(e).__name__}: {e}"

    class TorchHead(torch.nn.Module):
        """The rnnkit model in PyTorch: recurrent module, then the Linear head on the last step."""

        def __init__(self, rnn, lin):
            super().__init__()
            self.rnn, self.lin = rnn, lin

        def forward(self, x):
            out, _ = self.rnn(x)
            return self.lin(out[:, -1])

    RK["TorchHead"] = TorchHead


# ----------------------------------------------------------------------------------------------
# Environment report

def environment(tpc):
    import onnx
    env = be.base_environment(tpc, {"numpy": np.__version__, "torch": torch.__version__,
                                    "onnx": onnx.__version__, "onnxruntime": ort.__version__})
    env.update(runtime="rnnkit.runtime.OnnxModel" if RK["OnnxModel"] else RK.get("OnnxModel_error"),
               export_onnx=hasattr(RK["Sequential"], "export_onnx"))
    if tpc is not None:
        env["blas"] = be.thread_pools(tpc, ("user_api", "internal_api", "version", "architecture", "num_threads"))
    return env


def print_environment(env, args, mode):
    print("rnnkit inference benchmark (NumPy, ONNX fp32/int8 in onnxruntime, torch eager, torch -> ONNX)")
    print(f"  python {env['python']}   numpy {env['numpy']}   torch {env['torch']}   onnx {env['onnx']}   "
          f"onnxruntime {env['onnxruntime']}")
    print(f"  CPU: {env['cpu']} ({env['cpus']} logical CPUs)")
    for k in be.CORETYPE_VARS:
        if env["env"][k]:
            print(f"  {k}={env['env'][k]!r}   <- a current OpenBLAS may pick a slower kernel; "
                  "see --unset-openblas-coretype")
    waits = {k: env["env"][k] for k in be.WAIT_VARS if env["env"][k]}
    if waits:
        print("  OpenMP wait policy: " + ", ".join(f"{k}={v}" for k, v in waits.items()))
    be.print_reexec_and_pools(env)
    print(f"  threads: {mode}")
    print("  onnxruntime: CPUExecutionProvider, intra_op_num_threads = threads, inter_op_num_threads = 1, "
          "ORT_ENABLE_ALL")
    if not env["export_onnx"]:
        print("  Sequential.export_onnx is missing: the rnnkit ONNX columns are skipped")
    if not RK["OnnxModel"]:
        print(f"  rnnkit.runtime.OnnxModel is missing ({env['runtime']}): its streaming column is skipped")
    be.print_load_at_start(env)
    print(f"  model: one recurrent layer + Dense({OUTPUTS}) on the last step, float32; opset {OPSET}")
    print(f"  timing: median of {args.repeats} rounds (>= {min(5, args.repeats)} if a case would exceed "
          f"{args.max_case_seconds:g} s) after 2 warm-up rounds, contenders interleaved, "
          f"{args.gap_ms:g} ms pause between calls"
          + ("   [--quick: smoke test, do not report these numbers]" if args.quick else ""))
    print()


# ----------------------------------------------------------------------------------------------
# Models, exports and sessions

def _quiet(fn, *a, **k):
    """Call fn with warnings silenced (the TorchScript exporter's deprecation and batch-size notes)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **k)


def _err(e):
    return f"{type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}"


class Case:
    """One cell and config: the rnnkit model, its PyTorch twin and the exported graphs (built once,
    shared by every thread count and batch size)."""

    def __init__(self, cell, cfg, tmp, seed):
        self.cell, (self.T, self.D, self.H) = cell, cfg
        layer = RK["LSTM"](self.H) if cell == "lstm" else RK["GRU"](self.H, reset_after=True)
        self.model = RK["Sequential"]([layer, RK["Dense"](OUTPUTS)], seed=seed)
        self.model.build(self.D)
        self.layer, self.dense = self.model.layers
        rnn, lin = RK["to_torch"](self.layer), RK["to_torch"](self.dense)
        self.torch = RK["TorchHead"](rnn, lin).eval()
        self.tcell = (torch.nn.LSTMCell if cell == "lstm" else torch.nn.GRUCell)(self.D, self.H)
        with torch.no_grad():                  # the cell takes the layer's _l0 weights as they are
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(self.tcell, name).copy_(getattr(rnn, name + "_l0"))
        self.tlin = lin
        base = os.path.join(tmp, f"{cell}_{self.T}x{self.D}x{self.H}")
        self.paths, self.errors, self.export_s = {}, {}, {}
        exports = {"onnx_fp32": lambda p: self.model.export_onnx(p, opset=OPSET),
                   "onnx_int8": lambda p: self.model.export_onnx(p, opset=OPSET, quantize="int8"),
                   "torch_onnx": self._export_torch}
        for key, fn in exports.items():
            path = f"{base}_{key}.onnx"
            t0 = time.perf_counter()
            try:
                _quiet(fn, path)
                self.paths[key] = path
            except Exception as e:  # noqa: BLE001 - a missing or failing export is reported, not fatal
                self.errors[key] = _err(e)
            self.export_s[key] = time.perf_counter() - t0

    def _export_torch(self, path):
        x = torch.zeros(2, min(self.T, 8), self.D)
        torch.onnx.export(self.torch, (x,), path, dynamo=False, opset_version=OPSET, input_names=["x"],
                          output_names=["y"], dynamic_axes={"x": {0: "batch", 1: "time"}, "y": {0: "batch"}})

    def label(self):
        return f"{self.T}x{self.D}x{self.H}"


def session(path, threads):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


_ORT_TYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64",
              "tensor(int32)": "int32", "tensor(int64)": "int64"}


class Graph:
    """An onnxruntime session over an exported rnnkit graph: inputs ``x``, ``lengths`` and the initial
    states (fed zeros, or the previous step's final states when streaming); outputs ``y`` then the
    final states in the order of the state inputs."""

    def __init__(self, sess, H):
        self.sess, self.H = sess, H
        inputs = sess.get_inputs()
        names = [i.name for i in inputs]
        self.x = "x" if "x" in names else names[0]
        self.lengths = "lengths" if "lengths" in names else None
        self.state_in = [i for i in inputs if i.name not in (self.x, self.lengths)]
        outs = [o.name for o in sess.get_outputs()]
        self.y = "y" if "y" in outs else outs[0]
        self.outputs = [self.y] + [o for o in outs if o != self.y]
        self.types = {i.name: np.dtype(_ORT_TYPES.get(i.type, "float32")) for i in inputs}

    def _state_shape(self, inp, B):
        # one layer, one direction: (1, B, H) for rank 3 (ONNX's and PyTorch's layout), (B, H) for rank 2
        default = {3: (1, B, self.H), 2: (B, self.H)}.get(len(inp.shape), (B, self.H))
        return tuple(d if isinstance(d, int) and d > 0 else default[i] for i, d in enumerate(inp.shape))

    def feeds(self, x):
        B, T = x.shape[:2]
        f = {self.x: x.astype(self.types[self.x], copy=False)}
        if self.lengths:
            f[self.lengths] = np.full(B, T, self.types[self.lengths])
        for inp in self.state_in:
            f[inp.name] = np.zeros(self._state_shape(inp, B), self.types[inp.name])
        return f

    def run(self, feeds):
        return self.sess.run([self.y], feeds)[0]


# ----------------------------------------------------------------------------------------------
# Timing and checks

def interleaved(fns, repeats, gap=0.0):
    """name -> median seconds over ``repeats`` rounds; each round runs every fn once, the first one
    rotating so that no contender always follows the same other one, with an untimed pause of ``gap``
    seconds between calls (torch's OpenMP pool and onnxruntime's spin for a while after a call; on
    few cores a spinning pool would slow down whichever contender runs next)."""
    names = list(fns)
    times = {k: [] for k in names}
    with be.gc_off():
        for r in range(repeats):
            for k in names[r % len(names):] + names[:r % len(names)]:
                if gap:
                    time.sleep(gap)
                times[k].append(be.timed(fns[k]))
    return {k: statistics.median(v) for k, v in times.items()}


def max_diff(a, ref):
    a = np.asarray(a, dtype=np.float64)
    if a.shape != ref.shape:
        return float("inf")
    d = np.abs(a - ref)
    return float(d.max()) if np.isfinite(d).all() else float("inf")


def within_tolerance(a, ref):
    a = np.asarray(a, dtype=np.float64)
    if a.shape != ref.shape or not np.isfinite(a).all():
        return False
    scale = max(1.0, float(np.abs(ref).max(initial=0.0)))
    return bool((np.abs(a - ref) <= ATOL * scale + RTOL * np.abs(ref)).all())


def _to_numpy(out):
    return out.detach().numpy() if hasattr(out, "detach") else np.asarray(out)


def seq_case(case, graphs, B, args, rng):
    """Latency of every available contender for one case, batch and thread count, plus the checks."""
    x = rng.standard_normal((B, case.T, case.D)).astype(np.float32)
    xt = torch.from_numpy(x.copy())
    model, module = case.model, case.torch

    def th():
        with torch.no_grad():
            return module(xt)

    fns = {"numpy": lambda: model.predict(x)}
    for key in ("onnx_fp32", "onnx_int8"):
        if key in graphs:
            g = graphs[key]
            feeds = g.feeds(x)
            fns[key] = (lambda g=g, feeds=feeds: g.run(feeds))
    fns["torch"] = th
    if "torch_onnx" in graphs:
        g = graphs["torch_onnx"]
        fns["torch_onnx"] = (lambda g=g, feeds={g.x: x}: g.run(feeds))

    errors, outs = {}, {}
    for k, fn in list(fns.items()):                     # warm-up round 1, also the check
        try:
            outs[k] = _to_numpy(fn())
        except Exception as e:  # noqa: BLE001 - a contender that cannot run is reported, not fatal
            errors[k] = _err(e)
            del fns[k]
    ref = np.asarray(outs["numpy"], np.float64)
    diffs = {k: max_diff(v, ref) for k, v in outs.items() if k != "numpy"}
    ok = all(within_tolerance(outs[k], ref) for k in EXACT if k in outs)
    round_s = sum(be.timed(fn) for fn in fns.values())  # warm-up round 2 sizes the repeats
    reps = be.n_repeats(args, round_s)
    med = interleaved(fns, reps, args.gap_ms / 1e3)
    return {"ms": {k: v * 1e3 for k, v in med.items()}, "diff": diffs, "ref_max": float(np.abs(ref).max()),
            "ok": ok, "repeats": reps, "errors": errors}


def stream_case(case, graph, threads, args, rng):
    """Microseconds per step, batch 1, state fed back, for each available streamer; the output after
    the last step is compared with rnnkit's NumPy step."""
    steps, D = args.stream_steps, case.D
    xs = rng.standard_normal((steps, 1, D)).astype(np.float32)
    xs2 = list(xs)                                        # pre-split: no indexing cost inside the loops
    xs3 = [v[None] for v in xs2]                          # (1, 1, D) for the graph
    xst = list(torch.from_numpy(xs.copy()).unbind(0))
    layer, dense = case.layer, case.dense
    tcell, tlin = case.tcell, case.tlin
    lstm = case.cell == "lstm"

    def numpy_steps():
        s = None
        for x_t in xs2:
            h, s = layer.step(x_t, s)
            y = dense.call(h, None)
        return y

    def torch_steps():
        with torch.no_grad():
            s = None
            for x_t in xst:
                s = tcell(x_t, s)
                y = tlin(s[0] if lstm else s)
        return y

    fns = {}
    if graph is not None:
        base = graph.feeds(xs3[0])
        state_names = [i.name for i in graph.state_in]
        sess, outputs = graph.sess, graph.outputs

        def graph_steps():
            feeds = dict(base)
            for x_t in xs3:
                feeds[graph.x] = x_t
                y, *states = sess.run(outputs, feeds)
                feeds.update(zip(state_names, states))
            return y

        fns["onnx_graph"] = graph_steps
        if RK["OnnxModel"] is not None:
            om = RK["OnnxModel"](case.paths["onnx_fp32"], threads=threads)

            def model_steps():
                s = None
                for x_t in xs2:
                    y, s = om.step(x_t, s)
                return y

            fns["onnx_model"] = model_steps
    fns["numpy"] = numpy_steps
    fns["torch"] = torch_steps

    errors, outs = {}, {}
    for k, fn in list(fns.items()):
        try:
            outs[k] = _to_numpy(fn()).reshape(1, OUTPUTS)
        except Exception as e:  # noqa: BLE001 - reported, not fatal
            errors[k] = _err(e)
            del fns[k]
    ref = np.asarray(outs["numpy"], np.float64)
    diffs = {k: max_diff(v, ref) for k, v in outs.items() if k != "numpy"}
    ok = all(within_tolerance(v, ref) for k, v in outs.items())
    med = interleaved(fns, args.stream_runs, args.gap_ms / 1e3)
    return {"us": {k: v / steps * 1e6 for k, v in med.items()}, "diff": diffs, "ok": ok, "errors": errors}


def file_case(case, tmp, rng):
    """Sizes of the saved and exported files and the error of the quantised ones (vs fp32 NumPy)."""
    x = rng.standard_normal((8, case.T, case.D)).astype(np.float32)
    ref = np.asarray(case.model.predict(x), np.float64)
    base = os.path.join(tmp, f"{case.cell}_{case.label()}")
    out = {"params": int(case.model.num_params()), "kb": {}, "diff": {}, "errors": {}}
    for key, q in (("save_fp32", None), ("save_int8", "int8"), ("save_fp16", "float16")):
        path = f"{base}_{key}.npz"
        try:
            case.model.save(path, include_optimizer=False, **({"quantize": q} if q else {}))
            out["kb"][key] = os.path.getsize(path) / 1024
            out["diff"][key] = max_diff(RK["Sequential"].load(path).predict(x), ref)
        except Exception as e:  # noqa: BLE001 - e.g. save() without quantize yet: reported, not fatal
            out["errors"][key] = _err(e)
    onnx_paths = dict(case.paths)
    try:
        path = f"{base}_onnx_fp16.onnx"
        _quiet(case.model.export_onnx, path, opset=OPSET, quantize="fp16")
        onnx_paths["onnx_fp16"] = path
    except Exception as e:  # noqa: BLE001
        out["errors"]["onnx_fp16"] = _err(e)
    for key, path in onnx_paths.items():
        out["kb"][key] = os.path.getsize(path) / 1024
        try:
            g = Graph(session(path, 1), case.H)
            out["diff"][key] = max_diff(g.run(g.feeds(x) if key != "torch_onnx" else {g.x: x}), ref)
        except Exception as e:  # noqa: BLE001
            out["errors"][key] = _err(e)
    return out


def run_threads(args, n, tpc, deadline, cases, tmp, with_files, progress=sys.stderr):
    """Every case at one thread count; returns result rows."""
    rows = []
    with be.thread_limits(torch, tpc, n):
        for (cell, cfg), case in cases.items():
            T, D, H = cfg
            key = {"cell": cell, "time": T, "input": D, "hidden": H, "threads": n}
            graphs, errors = {}, dict(case.errors)
            for k, path in case.paths.items():
                try:
                    graphs[k] = Graph(session(path, n), H)
                except Exception as e:  # noqa: BLE001 - e.g. an op onnxruntime lacks: reported
                    errors[k] = _err(e)
            for bi, B in enumerate(args.batches):
                row = {"section": "sequence", **key, "batch": B}
                if be.past(deadline):
                    rows.append({**row, "skipped": True})
                    continue
                t0 = time.perf_counter()
                r = seq_case(case, graphs, B, args, np.random.default_rng(1000 * bi + T + D + H))
                r["errors"] = {**errors, **r["errors"]}
                rows.append({**row, "skipped": False, **r})
                print(f"  [threads {n}] {cell} {case.label()} batch {B}: {time.perf_counter() - t0:.1f} s",
                      file=progress, flush=True)
            if with_files and not args.no_files:
                rows.append({"section": "files", "cell": cell, "time": T, "input": D, "hidden": H,
                             **file_case(case, tmp, np.random.default_rng(7))})
            if args.no_stream or (cell, D, H) in {(r["cell"], r["input"], r["hidden"])
                                                 for r in rows if r["section"] == "streaming"}:
                continue
            row = {"section": "streaming", "cell": cell, "input": D, "hidden": H, "threads": n, "batch": 1,
                   "steps": args.stream_steps, "runs": args.stream_runs}
            if be.past(deadline):
                rows.append({**row, "skipped": True})
                continue
            r = stream_case(case, graphs.get("onnx_fp32"), n, args, np.random.default_rng(2000 + D + H))
            r["errors"] = {**{k: v for k, v in errors.items() if k == "onnx_fp32"}, **r["errors"]}
            rows.append({**row, "skipped": False, **r})
    return rows


# ----------------------------------------------------------------------------------------------
# Output

def md_table(title, header, body):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in body)) if body else len(str(h))
              for i, h in enumerate(header)]

    def line(cells):
        return "| " + " | ".join(f"{str(c):>{w}}" if i else f"{str(c):<{w}}"
                                 for i, (c, w) in enumerate(zip(cells, widths))) + " |"

    sep = "|" + "|".join("-" * (w + 1) + ":" if i else ":" + "-" * (w + 1) for i, w in enumerate(widths)) + "|"
    return "\n".join([f"**{title}**", "", line(header), sep] + [line(r) for r in body])


def _fmt(v, spec):
    return "-" if v is None else format(v, spec)


def _num(v):
    """About three significant digits, never in exponent form."""
    if v is None:
        return "-"
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}" if v >= 10 else f"{v:.2f}" if v >= 1 else f"{v:.3f}"


def _ratio(a, b):
    return "-" if a is None or b is None else f"{a / b:.2f}"


def _diff(v):
    return "-" if v is None else ("inf" if math.isinf(v) else f"{v:.1e}")


def _geomean(values):
    values = [v for v in values if v and v > 0 and math.isfinite(v)]
    return math.exp(sum(map(math.log, values)) / len(values)) if values else None


def print_tables(rows, args):
    seq = sorted((r for r in rows if r["section"] == "sequence"),
                 key=lambda r: (CELLS.index(r["cell"]), r["time"], r["input"], r["hidden"], r["batch"], r["threads"]))
    done = [r for r in seq if not r["skipped"]]
    if seq:
        header = (["cell", "T x D x H", "batch", "threads", "reps"] + [LABELS[c] for c in CONTENDERS]
                  + ["fp32 / torch ONNX", "int8 / fp32"])
        body = []
        for r in seq:
            ms = r.get("ms", {})
            body.append([r["cell"], f"{r['time']}x{r['input']}x{r['hidden']}", r["batch"], r["threads"],
                         r.get("repeats", "skipped")] + [_num(ms.get(c)) for c in CONTENDERS]
                        + [_ratio(ms.get("onnx_fp32"), ms.get("torch_onnx")),
                           _ratio(ms.get("onnx_int8"), ms.get("onnx_fp32"))])
        print(md_table("Latency per call (ms, median)", header, body))
        print()
        header = ["cell", "T x D x H", "batch", "threads"] + [LABELS[c] for c in CONTENDERS]
        body = [[r["cell"], f"{r['time']}x{r['input']}x{r['hidden']}", r["batch"], r["threads"]]
                + [_num(r["batch"] / (r["ms"][c] / 1e3) if c in r.get("ms", {}) else None) for c in CONTENDERS]
                for r in seq]
        print(md_table("Throughput (sequences/s)", header, body))
        print()
        groups = {}
        for r in done:
            groups.setdefault((r["cell"], r["time"], r["input"], r["hidden"]), []).append(r)
        header = ["cell", "T x D x H", "max abs y"] + [LABELS[c] for c in CONTENDERS[1:]] + ["check"]
        body = [[c, f"{t}x{d}x{h}", f"{max(r['ref_max'] for r in g):.3g}"]
                + [_diff(max((r["diff"][k] for r in g if k in r["diff"]), default=None)) for k in CONTENDERS[1:]]
                + ["ok" if all(r["ok"] for r in g) else "FAIL"]
                for (c, t, d, h), g in groups.items()]
        print(md_table("Checks: max |contender - rnnkit NumPy| over all batches and thread counts", header, body))
        print()
    stream = sorted((r for r in rows if r["section"] == "streaming"),
                    key=lambda r: (CELLS.index(r["cell"]), r["input"], r["hidden"], r["threads"]))
    if stream:
        header = (["cell", "D x H", "threads"] + [f"{STREAM_LABELS[k]} us" for k in STREAMERS]
                  + ["graph / NumPy", "torch / NumPy", "max diff (graph, OnnxModel, torch)", "check"])
        body = []
        for r in stream:
            us, d = r.get("us", {}), r.get("diff", {})
            body.append([r["cell"], f"{r['input']}x{r['hidden']}", r["threads"]]
                        + [_fmt(us.get(k), ".1f") for k in STREAMERS]
                        + [_ratio(us.get("onnx_graph"), us.get("numpy")), _ratio(us.get("torch"), us.get("numpy")),
                           ", ".join(_diff(d.get(k)) for k in ("onnx_graph", "onnx_model", "torch")),
                           "skipped (--time-budget)" if r["skipped"] else ("ok" if r["ok"] else "FAIL")])
        print(md_table(f"Streaming, batch 1 (us per step incl. the Dense head, median of {stream[0]['runs']} "
                       f"runs of {stream[0]['steps']} steps)", header, body))
        print()
    files = [r for r in rows if r["section"] == "files"]
    if files:
        keys = ("save_fp32", "save_int8", "save_fp16", "onnx_fp32", "onnx_int8", "onnx_fp16", "torch_onnx")
        header = ["cell", "T x D x H", "params"] + [f"{k} KB (diff)" for k in keys]
        body = [[r["cell"], f"{r['time']}x{r['input']}x{r['hidden']}", r["params"]]
                + [f"{r['kb'][k]:.0f} ({_diff(r['diff'].get(k))})" if k in r["kb"] else "-" for k in keys]
                for r in files]
        print(md_table("Model files: size and max |prediction - fp32 NumPy| on 8 sequences", header, body))
        print()
    notes = {}
    for r in rows:
        for k, e in r.get("errors", {}).items():
            notes.setdefault(f"{k}: {e}", []).append(f"{r['section']} {r['cell']} {r.get('time', '-')}x"
                                                     f"{r['input']}x{r['hidden']}")
    for msg, where in notes.items():
        print(f"not run: {msg}  [{len(where)} row(s), e.g. {where[0]}]")
    for n in args.threads:
        mine = [r for r in done if r["threads"] == n]
        fp = _geomean([r["ms"].get("onnx_fp32", 0) / r["ms"]["torch_onnx"] for r in mine if "torch_onnx" in r["ms"]])
        q = _geomean([r["ms"].get("onnx_int8", 0) / r["ms"]["onnx_fp32"] for r in mine if "onnx_fp32" in r["ms"]])
        meet = [r for r in mine if "onnx_fp32" in r["ms"] and "torch_onnx" in r["ms"]
                and r["ms"]["onnx_fp32"] <= 1.1 * r["ms"]["torch_onnx"]]
        print(f"threads {n}: geometric mean rnnkit ONNX fp32 / torch ONNX = {_fmt(fp, '.2f')} "
              f"({len(meet)} of {len(mine)} cases <= 1.1); int8 / fp32 = {_fmt(q, '.2f')}")


# ----------------------------------------------------------------------------------------------

def _cases(args, tmp):
    cases = {}
    for ci, cell in enumerate(args.cell):
        for k, cfg in enumerate(args.configs):
            t0 = time.perf_counter()
            cases[(cell, cfg)] = Case(cell, cfg, tmp, seed=100 * ci + k)
            print(f"  built and exported {cell} {cases[(cell, cfg)].label()}: {time.perf_counter() - t0:.1f} s",
                  file=sys.stderr, flush=True)
    return cases


def main(argv=None):
    argv, args, tpc = be.start(argv, parse_args, _load, __file__)

    if os.environ.get(be.CHILD_VAR):                     # fallback child: one thread count, JSON out
        info = json.loads(os.environ[be.CHILD_VAR])
        with tempfile.TemporaryDirectory() as tmp:
            rows = run_threads(args, args.threads[0], None, info["deadline"], _cases(args, tmp), tmp, info["files"])
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "blas_env": {k: os.environ.get(k) for k in be.THREAD_VARS}}, f)
        return 0

    env = environment(tpc)
    if tpc is not None:
        mode = f"torch.set_num_threads(n) + threadpoolctl.threadpool_limits(n, user_api='blas'), n in {args.threads}"
    else:
        mode = be.fallback_mode(args)
    print_environment(env, args, mode)
    t_start = time.perf_counter()
    deadline = time.time() + args.time_budget if args.time_budget > 0 else None
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cases = _cases(args, tmp) if tpc is not None else None
        for i, n in enumerate(args.threads):
            if tpc is not None:
                rows += run_threads(args, n, tpc, deadline, cases, tmp, with_files=i == 0)
                continue
            rows += be.run_child(__file__, argv, n, json.dumps({"deadline": deadline, "files": i == 0}),
                                 os.path.join(tmp, f"rows{n}.json"))["rows"]
        export_s = {f"{c} {case.label()}": case.export_s for (c, _), case in (cases or {}).items()}

    print()
    print_tables(rows, args)
    failed = [r for r in rows if r["section"] != "files" and not r.get("skipped") and not r["ok"]]
    be.print_end(args, env, t_start, sum(1 for r in rows if r.get("skipped")), "",
                 "all fp32 contenders match rnnkit NumPy" if not failed
                 else f"{len(failed)} case(s) FAILED (see 'check')")
    be.write_results(args.json, {"args": vars(args), "env": env, "thread_mode": mode, "export_seconds": export_s,
                                 "rows": rows})
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
