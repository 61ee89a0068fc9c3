"""Recurrent ops (rnn, lstm, gru): rnnkit (NumPy) against PyTorch CPU, in the same process.

Sections (each printed as one aligned table, optionally written as JSON with ``--json``):

1. forward (inference): ``rnnkit.ops.<cell>.forward(..., keep_cache=False)`` (nothing kept for backward)
   vs ``torch.nn.RNN/LSTM/GRU`` under ``torch.no_grad()``.
2. forward + backward: rnnkit ``forward`` + ``backward(cache, d_out=R, d_state=R2)`` vs torch
   ``loss = (out * R).sum() + (h_n * R2).sum(); loss.backward()`` with ``x.requires_grad`` (both sides
   produce dx and all weight gradients).
3. streaming latency: batch 1, microseconds per step for rnnkit ``step`` vs ``nn.RNNCell/LSTMCell/GRUCell``
   under ``torch.no_grad()``, step by step, beside the floor: the step's two matrix-vector products
   alone (``x_t @ W_x.T`` and ``h @ W_h.T`` in NumPy, timed in the same interleaved runs).

Every case uses identical data and identical weights on both sides (torch's default initialisation,
copied into rnnkit's layout; the GRU is compared as ``reset_after=True`` through
``rnnkit.interop.torch.from_torch_layout``). Times are the median of ``--repeats`` runs after one warm-up, with the
rnnkit and torch runs interleaved so that drift on a noisy machine hits both alike. ratio =
rnnkit / torch: below 1 means rnnkit is faster.

Correctness is checked on the warm-up run of every case (outputs, final state, dx and every weight
gradient allclose to torch at the dtype's tolerance; streaming: the state after all steps). A failed
check is marked FAIL in the tables and makes the script exit with status 1.

Threads: for each ``--threads`` count n, ``torch.set_num_threads(n)`` and NumPy's BLAS pool is limited
to n with ``threadpoolctl.threadpool_limits``. Without threadpoolctl the script re-runs itself once per
thread count in a subprocess with OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / MKL_NUM_THREADS = n (a BLAS
reads those only when it loads) and merges the children's results.

    python benchmarks/bench_rnn.py                      # all cells, threads 1 and 2, default configs
    python benchmarks/bench_rnn.py --quick              # smoke test (seconds)
    python benchmarks/bench_rnn.py --cell lstm --threads 1 --configs 32x100x64x128 --json out.json

Only the standard library is imported before the command line is read, so that
``--unset-openblas-coretype`` can re-exec the interpreter before OpenBLAS loads.
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time

import _bench_env as be

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "src")

CELLS = ("rnn", "lstm", "gru")
DEFAULT_CONFIGS = "1x100x32x64,32x100x64x128,64x200x128x256,16x50x256x512,8x1000x32x128"   # issue 15's five
STREAM_HIDDEN = (64, 256)
STREAM_INPUT = 32

# Heavy modules, loaded by _load() after the command line (and any re-exec) is handled.
np = torch = None
OPS = {}
KERNELS = {}


# ----------------------------------------------------------------------------------------------
# Command line

def _configs(s):
    return be.dims_list(s, "BATCHxTIMExINPUTxHIDDEN", "32x100x64x128")


def parse_args(argv=None):
    ap = be.parser(__doc__)
    ap.add_argument("--cell", default=",".join(CELLS),
                    help="comma-separated cells among rnn,lstm,gru (default: all that import)")
    ap.add_argument("--threads", type=be.int_list, default=[1, 2], help="comma-separated thread counts (default 1,2)")
    ap.add_argument("--repeats", type=int, default=7, help="timed runs per case after one warm-up (default 7)")
    ap.add_argument("--configs", type=_configs, default=_configs(DEFAULT_CONFIGS),
                    help=f"comma-separated BATCHxTIMExINPUTxHIDDEN (default {DEFAULT_CONFIGS})")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--max-case-seconds", type=float, default=20.0,
                    help="per case and pass (forward, forward+backward): fewer repeats when the warm-up "
                         "says --repeats would take longer than this, but never fewer than 5 "
                         "(nor than --repeats if that is smaller) (default 20)")
    ap.add_argument("--time-budget", type=float, default=480.0, metavar="SECONDS",
                    help="cases that would start after this many seconds are skipped and marked so "
                         "(0: no limit; default 480). Thread counts run in order, so the first count "
                         "is always complete on a sane machine")
    ap.add_argument("--stream-steps", type=int, default=1000, help="steps per streaming run (default 1000)")
    ap.add_argument("--stream-runs", type=int, default=7, help="streaming runs per case (default 7)")
    ap.add_argument("--no-stream", action="store_true", help="skip the streaming-latency section")
    ap.add_argument("--quick", action="store_true",
                    help="smoke test: 3 repeats, 200 streaming steps x 3 runs (numbers not for reporting)")
    args = be.parse(ap, argv)
    cells = [c.strip().lower() for c in args.cell.split(",") if c.strip()]
    bad = [c for c in cells if c not in CELLS]
    if bad:
        ap.error(f"--cell: unknown {bad}; choose among {','.join(CELLS)}")
    args.cell = cells
    if args.quick:
        args.repeats = min(args.repeats, 3)
        args.stream_steps = min(args.stream_steps, 200)
        args.stream_runs = min(args.stream_runs, 3)
    if args.repeats < 1 or any(n < 1 for n in args.threads):
        ap.error("--repeats and --threads must be >= 1")
    return args


def _load():
    global np, torch
    import numpy as _np
    import torch as _torch
    np, torch = _np, _torch
    if SRC not in sys.path:
        sys.path.insert(0, SRC)
    from rnnkit import ops
    from rnnkit.interop import torch as interop
    global LAYOUT
    LAYOUT = interop
    from rnnkit.ops import _kernels
    for name in CELLS:
        OPS[name] = ops.get_cell(name)
        _kernels.get(name)              # compiled kernels (and their BLAS) loaded before any thread limit
    KERNELS.update({name: _kernels.path(name) for name in CELLS})


# ----------------------------------------------------------------------------------------------
# Environment report

def environment(tpc):
    env = be.base_environment(tpc, {"numpy": np.__version__, "torch": torch.__version__})
    if tpc is not None:
        env["blas"] = be.thread_pools(tpc, ("user_api", "internal_api", "version", "architecture",
                                            "num_threads", "threading_layer", "prefix"))
    else:
        try:
            cfg = np.show_config(mode="dicts")
            b = cfg["Build Dependencies"]["blas"]
            env["blas"] = [{"name": b.get("name"), "version": b.get("version"),
                            "openblas configuration": b.get("openblas configuration")}]
        except Exception as e:  # noqa: BLE001 - an older numpy's show_config: report, do not fail
            env["blas"] = [{"error": repr(e)}]
    env["torch_blas"] = {"mkl": torch.backends.mkl.is_available(), "mkldnn": torch.backends.mkldnn.is_available(),
                         "num_threads_default": torch.get_num_threads()}
    env["kernels"] = dict(KERNELS)     # per cell: "numba" (compiled loops) or "numpy" (RNNKIT_KERNELS)
    return env


def print_environment(env, args, mode):
    print("rnnkit recurrent-op benchmark (rnnkit NumPy vs torch CPU, same process, same data and weights)")
    print(f"  python {env['python']}   numpy {env['numpy']}   torch {env['torch']}   dtype {args.dtype}")
    print(f"  CPU: {env['cpu']} ({env['cpus']} logical CPUs)")
    for k in be.CORETYPE_VARS:
        print(f"  {k}={env['env'][k]!r}" + ("   <- set: a current OpenBLAS may pick a slower kernel; "
                                               "see --unset-openblas-coretype" if env["env"][k] else ""))
    waits = {k: env["env"][k] for k in be.WAIT_VARS if env["env"][k]}
    print("  OpenMP wait policy: " + (", ".join(f"{k}={v}" for k, v in waits.items()) if waits
                                      else "default (spinning: fastest idle, collapses when the cores are shared)"))
    be.print_reexec_and_pools(env)
    print(f"  torch: mkl={env['torch_blas']['mkl']} mkldnn={env['torch_blas']['mkldnn']} "
          f"default threads={env['torch_blas']['num_threads_default']}")
    print(f"  threads: {mode}")
    print("  rnnkit kernels: " + ", ".join(f"{c} {p}" for c, p in env["kernels"].items())
          + "   (RNNKIT_KERNELS=numpy for the NumPy reference)")
    be.print_load_at_start(env)
    print(f"  timing: median of {args.repeats} (>= {min(5, args.repeats)} if a case would exceed "
          f"{args.max_case_seconds:g} s) after 1 warm-up, rnnkit/torch interleaved"
          + ("   [--quick: smoke test, do not report these numbers]" if args.quick else ""))
    skipped = {c: OPS[c] for c in args.cell if not hasattr(OPS.get(c), "forward")}
    for c, why in skipped.items():
        print(f"  skipped cell {c}: {why}")
    print()


# ----------------------------------------------------------------------------------------------
# Cells: one adapter per cell so the benchmark code is the same for all three.

class Cell:
    """One cell of ``rnnkit.ops`` (the shared cell protocol) beside its torch modules; the GRU runs in
    its PyTorch form (reset_after=True)."""

    def __init__(self, name, cell):
        self.name, self.cell = name, cell
        self.gates = cell.gates
        self.options = {"reset_after": True} if name == "gru" else {}
        self.seq_cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[name]
        self.cell_cls = {"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}[name]

    # weights ----------------------------------------------------------------------------------
    def params_from_torch(self, module):
        return LAYOUT.from_torch_layout(self.name, dict(module.named_parameters()))

    def grads_to_torch(self, grads):
        return LAYOUT.to_torch_layout(self.name, grads)   # the GRU's z rows negated, as for the weights

    # whole sequence ----------------------------------------------------------------------------
    def forward(self, params, x, keep_cache=True):
        """-> (out, [final states], cache); ``keep_cache=False`` for inference (cache None)."""
        out, state, cache = self.cell.forward(params, x, keep_cache=keep_cache, **self.options)
        return out, list(state), cache

    def backward(self, cache, d_out, d_h):
        dx, _, grads = self.cell.backward(cache, d_out, (d_h,) + (None,) * (self.cell.n_states - 1))
        return dx, grads

    @staticmethod
    def torch_states(state):
        """torch's h_n (1, B, H) or (h_n, c_n) -> list of (B, H)."""
        if isinstance(state, tuple):
            return [s[0] for s in state]
        return [state[0]]

    # streaming --------------------------------------------------------------------------------
    def step(self, params, x_t, state):
        return self.cell.step(params, x_t, state, **self.options)

    def zero_state(self, B, H, dtype):
        return tuple(np.zeros((B, H), dtype) for _ in range(self.cell.n_states))

    def torch_zero_state(self, B, H, tdtype):
        if self.name == "lstm":
            return (torch.zeros(B, H, dtype=tdtype), torch.zeros(B, H, dtype=tdtype))
        return torch.zeros(B, H, dtype=tdtype)


# ----------------------------------------------------------------------------------------------
# Timing and checks

def interleaved(fn_a, fn_b, repeats):
    """Median seconds of fn_a and fn_b over ``repeats`` alternating runs (callers warm up first)."""
    ta, tb = [], []
    with be.gc_off():
        for _ in range(repeats):
            ta.append(be.timed(fn_a))
            tb.append(be.timed(fn_b))
    return statistics.median(ta), statistics.median(tb)


def tolerances(dtype):
    return (1e-3, 1e-4) if dtype == np.float32 else (1e-7, 1e-9)


def compare(pairs, dtype):
    """pairs: name -> (ours, torch's). Returns (ok, worst name, worst scaled error)."""
    rtol, atol = tolerances(dtype)
    worst, worst_name, ok = 0.0, "", True
    for name, (a, b) in pairs.items():
        a = np.asarray(a, dtype=np.float64)
        b = b.detach().cpu().numpy().astype(np.float64) if hasattr(b, "detach") else np.asarray(b, np.float64)
        if a.shape != b.shape:
            return False, f"{name} shape {a.shape} vs {b.shape}", float("inf")
        scale = max(1.0, float(np.abs(b).max(initial=0.0)))     # sums over T*B grow with size
        err = np.abs(a - b) / (atol * scale + rtol * np.abs(b))
        e = float(err.max(initial=0.0))
        if not np.isfinite(a).all():
            e = float("inf")
        if e > worst:
            worst, worst_name = e, name
        ok &= e <= 1.0
    return ok, worst_name, worst


def seq_case(cell, cfg, args, rng, seed):
    """Forward and forward+backward timings plus the correctness check for one cell and config."""
    B, T, D, H = cfg
    dtype = np.dtype(args.dtype)
    tdtype = torch.float32 if dtype == np.float32 else torch.float64
    torch.manual_seed(seed)
    module = cell.seq_cls(D, H, batch_first=True).to(tdtype)
    params = cell.params_from_torch(module)
    x = rng.standard_normal((B, T, D)).astype(dtype)
    R = rng.standard_normal((B, T, H)).astype(dtype)
    R2 = rng.standard_normal((B, H)).astype(dtype)
    xt, Rt, R2t = (torch.from_numpy(a.copy()) for a in (x, R, R2))
    xg = xt.clone().requires_grad_(True)

    def rk_fwd():                       # inference, like torch under no_grad: nothing kept for backward
        return cell.forward(params, x, keep_cache=False)

    def rk_fb():
        out, states, cache = cell.forward(params, x)
        dx, grads = cell.backward(cache, R, R2)
        return out, states, dx, grads

    def th_fwd():
        with torch.no_grad():
            return module(xt)

    def th_fb():
        module.zero_grad(set_to_none=True)
        xg.grad = None
        out, state = module(xg)
        h_n = cell.torch_states(state)[0]
        loss = (out * Rt).sum() + (h_n * R2t).sum()
        loss.backward()
        return out, state

    # warm-up runs double as the correctness check (and size the repeats)
    t0 = time.perf_counter()
    out, states, dx, grads = rk_fb()
    t_out, t_state = th_fb()
    w_fb = time.perf_counter() - t0
    w_fwd = be.timed(rk_fwd) + be.timed(th_fwd)
    pairs = {"out": (out, t_out)}
    for name, a, b in zip(("h_T", "c_T"), states, cell.torch_states(t_state)):
        pairs[name] = (a, b)
    pairs["dx"] = (dx, xg.grad)
    tg = {k.removesuffix("_l0"): v.grad for k, v in module.named_parameters()}
    for k, g in cell.grads_to_torch(grads).items():
        pairs["d" + k] = (g, tg[k])
    ok, worst_name, worst = compare(pairs, dtype)

    rf, rb = be.n_repeats(args, w_fwd), be.n_repeats(args, w_fb)
    f_rk, f_th = interleaved(rk_fwd, th_fwd, rf)
    b_rk, b_th = interleaved(rk_fb, th_fb, rb)
    return {"ok": ok, "worst": worst, "worst_name": worst_name, "repeats": (rf, rb),
            "fwd": (f_rk * 1e3, f_th * 1e3), "fwd_bwd": (b_rk * 1e3, b_th * 1e3)}


def stream_case(cell, H, args, rng, seed):
    """Microseconds per step, batch 1, rnnkit ``step`` vs torch's cell, plus a final-state check."""
    D, steps = STREAM_INPUT, args.stream_steps
    dtype = np.dtype(args.dtype)
    tdtype = torch.float32 if dtype == np.float32 else torch.float64
    torch.manual_seed(seed)
    tcell = cell.cell_cls(D, H).to(tdtype)
    params = cell.params_from_torch(tcell)
    xs = rng.standard_normal((steps, 1, D)).astype(dtype)
    xs_np = list(xs)                                   # pre-split: no indexing cost inside the loops
    xs_t = list(torch.from_numpy(xs.copy()).unbind(0))
    s0 = cell.zero_state(1, H, dtype)
    ts0 = cell.torch_zero_state(1, H, tdtype)
    step = cell.step

    def rk():
        s = s0
        for x_t in xs_np:
            s = step(params, x_t, s)
        return s

    def th():
        with torch.no_grad():
            s = ts0
            for x_t in xs_t:
                s = tcell(x_t, s)
        return s

    W_xT, W_hT = params["W_x"].T, params["W_h"].T
    h0 = s0[0]

    def floor():
        for x_t in xs_np:
            x_t @ W_xT
            h0 @ W_hT

    s, ts = rk(), th()
    s = list(s)
    ts = list(ts) if isinstance(ts, tuple) else [ts]
    ok, worst_name, worst = compare({n: (a, b) for n, a, b in zip(("h", "c"), s, ts)}, dtype)
    t_rk, t_th = interleaved(rk, th, args.stream_runs)
    t_fl, _ = interleaved(floor, rk, args.stream_runs)
    return {"ok": ok, "worst": worst, "worst_name": worst_name,
            "us_per_step": (t_rk / steps * 1e6, t_th / steps * 1e6), "floor_us": t_fl / steps * 1e6}


def run_threads(args, n, tpc, deadline, progress=sys.stderr):
    """All cases at one thread count; returns a list of result rows.

    ``deadline`` (a time.time() value, or None): a case that would start after it is not run but
    recorded as skipped, so that a machine whose cores are shared cannot stretch the run without end.
    """
    rows = []
    with be.thread_limits(torch, tpc, n):
        cells = [Cell(c, OPS[c]) for c in args.cell if hasattr(OPS.get(c), "forward")]
        for ci, cell in enumerate(cells):
            for k, cfg in enumerate(args.configs):
                B, T, D, H = cfg
                row = {"section": "sequence", "cell": cell.name, "threads": n, "batch": B, "time": T,
                       "input": D, "hidden": H}
                if be.past(deadline):
                    rows.append({**row, "skipped": True})
                    continue
                t0 = time.perf_counter()
                r = seq_case(cell, cfg, args, np.random.default_rng(1000 + k), seed=100 * ci + k)
                rows.append({**row, "skipped": False,
                             "fwd_repeats": r["repeats"][0], "fwd_bwd_repeats": r["repeats"][1],
                             "fwd_rnnkit_ms": r["fwd"][0], "fwd_torch_ms": r["fwd"][1],
                             "fwd_bwd_rnnkit_ms": r["fwd_bwd"][0], "fwd_bwd_torch_ms": r["fwd_bwd"][1],
                             "check_ok": r["ok"], "check_worst": r["worst"], "check_worst_name": r["worst_name"]})
                print(f"  [threads {n}] {cell.name} {B}x{T}x{D}x{H}: {time.perf_counter() - t0:.1f} s",
                      file=progress, flush=True)
            if args.no_stream:
                continue
            for k, H in enumerate(STREAM_HIDDEN):
                row = {"section": "streaming", "cell": cell.name, "threads": n, "batch": 1,
                       "input": STREAM_INPUT, "hidden": H, "steps": args.stream_steps, "runs": args.stream_runs}
                if be.past(deadline):
                    rows.append({**row, "skipped": True})
                    continue
                r = stream_case(cell, H, args, np.random.default_rng(2000 + k), seed=500 + 10 * ci + k)
                rows.append({**row, "skipped": False,
                             "rnnkit_us": r["us_per_step"][0], "torch_us": r["us_per_step"][1],
                             "floor_us": r["floor_us"],
                             "check_ok": r["ok"], "check_worst": r["worst"], "check_worst_name": r["worst_name"]})
    return rows


# ----------------------------------------------------------------------------------------------
# Output

def table(title, header, rows, align=None):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h))
              for i, h in enumerate(header)]
    align = align or ["<" if i == 0 else ">" for i in range(len(header))]
    fmt = "  ".join(f"{{:{a}{w}}}" for a, w in zip(align, widths))
    lines = [title, fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*r) for r in rows]
    return "\n".join(lines)


def check_cell(r):
    return "ok" if r["check_ok"] else f"FAIL {r['check_worst_name']}"


def _ms(r, key, fmt):
    return "-" if r.get("skipped") else format(r[key], fmt)


def _ratio(r, a, b):
    return "-" if r.get("skipped") else f"{r[a] / r[b]:.2f}"


def _check(r):
    return "skipped (--time-budget)" if r.get("skipped") else check_cell(r)


def print_tables(rows):
    seq = [r for r in rows if r["section"] == "sequence"]
    stream = [r for r in rows if r["section"] == "streaming"]
    def key(r):
        return CELLS.index(r["cell"]), r["batch"], r.get("time", 0), r["input"], r["hidden"], r["threads"]

    header = ["cell", "batch", "time", "in", "hidden", "threads", "reps", "rnnkit ms", "torch ms", "ratio", "check"]
    for title, p in (("Forward (inference; torch under no_grad)", "fwd"),
                     ("Forward + backward (d_out, d_h_T; torch: loss.backward() with x.requires_grad)", "fwd_bwd")):
        if not seq:
            continue
        a, b = f"{p}_rnnkit_ms", f"{p}_torch_ms"
        body = [[r["cell"], r["batch"], r["time"], r["input"], r["hidden"], r["threads"],
                 r.get(f"{p}_repeats", "-"), _ms(r, a, ".2f"), _ms(r, b, ".2f"), _ratio(r, a, b), _check(r)]
                for r in sorted(seq, key=key)]
        print(table(title, header, body))
        print()
    if stream:
        header = ["cell", "batch", "in", "hidden", "threads", "rnnkit us/step", "torch us/step", "ratio",
                  "floor us", "rnnkit/floor", "check"]
        body = [[r["cell"], 1, r["input"], r["hidden"], r["threads"], _ms(r, "rnnkit_us", ".1f"),
                 _ms(r, "torch_us", ".1f"), _ratio(r, "rnnkit_us", "torch_us"), _ms(r, "floor_us", ".1f"),
                 _ratio(r, "rnnkit_us", "floor_us"), _check(r)]
                for r in sorted(stream, key=key)]
        print(table(f"Streaming latency (batch 1, {stream[0]['steps']} steps x {stream[0]['runs']} runs, median; "
                    "rnnkit step vs torch nn.*Cell under no_grad; floor: the step's two NumPy products alone)",
                    header, body))
        print()


# ----------------------------------------------------------------------------------------------

def main(argv=None):
    argv, args, tpc = be.start(argv, parse_args, _load, __file__)

    child = os.environ.get(be.CHILD_VAR)
    if child:                                            # fallback child: one thread count, JSON out
        n = args.threads[0]
        deadline = float(child) if child != "none" else None
        rows = run_threads(args, n, None, deadline)
        info = {"blas_env": {k: os.environ.get(k) for k in be.THREAD_VARS}}
        tpc_any = be.threadpoolctl_or_none()
        if tpc_any is not None:
            info["blas"] = tpc_any.threadpool_info()
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "child": info}, f)
        return 0

    env = environment(tpc)
    if tpc is not None:
        mode = (f"torch.set_num_threads(n) + threadpoolctl.threadpool_limits(n, user_api='blas') in this process, "
                f"n in {args.threads}")
    else:
        mode = be.fallback_mode(args)
    print_environment(env, args, mode)
    t_start = time.perf_counter()

    deadline = time.time() + args.time_budget if args.time_budget > 0 else None
    rows, children = [], []
    for n in args.threads:
        if tpc is not None:
            rows += run_threads(args, n, tpc, deadline)
            continue
        with tempfile.TemporaryDirectory() as d:
            res = be.run_child(__file__, argv, n, "none" if deadline is None else repr(deadline),
                               os.path.join(d, "rows.json"))
        rows += res["rows"]
        children.append({"threads": n, **res["child"]})

    print_tables(rows)
    for c in children:                                   # show that the env vars really applied
        pools = [f"{d.get('internal_api')}={d.get('num_threads')}" for d in c.get("blas", [])]
        print(f"subprocess for threads={c['threads']}: " + ", ".join(f"{k}={v}" for k, v in c["blas_env"].items())
              + (f"; measured pools: {', '.join(pools)}" if pools else ""))
    failed = [r for r in rows if not r.get("skipped") and not r["check_ok"]]
    be.print_end(args, env, t_start, sum(1 for r in rows if r.get("skipped")),
                 "; rerun them with --threads/--cell/--configs",
                 "all cases match torch" if not failed else f"{len(failed)} case(s) FAILED (see 'check' column)")
    be.write_results(args.json, {"args": {k: v for k, v in vars(args).items()}, "env": env, "thread_mode": mode,
                                 "children": children, "rows": rows})
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
