"""What bench_rnn.py and bench_inference.py share: thread control (threadpoolctl, or one subprocess
per thread count with the BLAS thread variables set), the OPENBLAS_CORETYPE re-exec, the environment
report (CPU, load average, thread pools) and the timing helpers.

Standard library only: the scripts import this module before their command line is read, so that
``--unset-openblas-coretype`` can re-exec the interpreter before OpenBLAS loads.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import subprocess
import sys
import time

CORETYPE_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
WAIT_VARS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")       # how idle OpenMP threads wait (torch's pool)
CHILD_VAR = "RNNKIT_BENCH_CHILD"          # set in the per-thread-count subprocesses (fallback mode)
REEXEC_VAR = "RNNKIT_BENCH_REEXEC"        # set after --unset-openblas-coretype re-exec'd once


# ----------------------------------------------------------------------------------------------
# Command line and threads

def start(argv, parse_args, load, script):
    """(argv, args, threadpoolctl or None) for ``script``'s main: the re-exec, if asked for, comes
    before ``load`` imports NumPy (OpenBLAS reads OPENBLAS_CORETYPE only when it loads)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    maybe_reexec_without_coretype(args, argv, script)
    load()
    return argv, args, None if args.no_threadpoolctl else threadpoolctl_or_none()


def parser(doc):
    """The script's parser: its docstring's first line as the description, the rest shown as written."""
    return argparse.ArgumentParser(description=doc.splitlines()[0],
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def parse(ap, argv):
    """Add the options this module reads (after the script's own, as the last ones in --help), then parse."""
    ap.add_argument("--json", metavar="PATH", help="also write all results and the environment as JSON")
    ap.add_argument("--unset-openblas-coretype", action="store_true",
                    help="re-exec without OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE (benchmarking only: "
                         "tests and CI must keep the environment as it is)")
    ap.add_argument("--no-threadpoolctl", action="store_true",
                    help="use the subprocess-per-thread-count fallback even if threadpoolctl imports")
    return ap.parse_args(argv)


def int_list(s):
    return [int(v) for v in s.split(",") if v.strip()]


def dims_list(s, layout, example):
    """Comma- (or semicolon-) separated configs in ``layout`` (e.g. TIMExINPUTxHIDDEN) -> int tuples."""
    out = []
    for item in s.replace(";", ",").split(","):
        item = item.strip().lower()
        if not item:
            continue
        parts = item.split("x")
        if len(parts) != len(layout.split("x")) or not all(p.isdigit() and int(p) > 0 for p in parts):
            raise argparse.ArgumentTypeError(f"config {item!r}: expected {layout}, e.g. {example}")
        out.append(tuple(int(p) for p in parts))
    return out


def maybe_reexec_without_coretype(args, argv, script):
    """Re-exec ``script`` with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE removed (before numpy loads)."""
    if not args.unset_openblas_coretype or os.environ.get(REEXEC_VAR):
        return
    env = dict(os.environ)
    removed = {k: env.pop(k) for k in CORETYPE_VARS if k in env}
    env[REEXEC_VAR] = json.dumps(removed)
    if not removed:
        os.environ[REEXEC_VAR] = "{}"
        return
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, os.path.abspath(script)] + list(argv), env)


def threadpoolctl_or_none():
    try:
        import threadpoolctl
        return threadpoolctl
    except ImportError:
        return None


@contextlib.contextmanager
def thread_limits(torch, tpc, n):
    """torch and NumPy's BLAS pool (through threadpoolctl, when given) at ``n`` threads."""
    torch.set_num_threads(n)
    limiter = tpc.threadpool_limits(limits=n, user_api="blas") if tpc is not None else None
    try:
        yield
    finally:
        if limiter is not None:
            limiter.restore_original_limits()


def past(deadline):
    """``deadline``: a time.time() value, or None for no limit."""
    return deadline is not None and time.time() > deadline


def fallback_mode(args):
    """The report's ``threads:`` line when each thread count runs in its own subprocess."""
    return (f"torch.set_num_threads(n) + one subprocess per n with {'/'.join(THREAD_VARS)}=n "
            f"(threadpoolctl {'disabled' if args.no_threadpoolctl else 'not installed'}), n in {args.threads}")


def run_child(script, argv, n, child_value, out):
    """Run ``script`` again for thread count ``n`` alone, with the BLAS thread variables = n (a BLAS
    reads them only when it loads); the child writes its results as JSON to ``out``, read back here."""
    child_argv = replace_opt(replace_opt(argv, "--threads", str(n)), "--json", out)
    cenv = dict(os.environ, **{CHILD_VAR: child_value}, **{k: str(n) for k in THREAD_VARS})
    subprocess.run([sys.executable, os.path.abspath(script)] + child_argv, env=cenv, check=True)
    with open(out) as f:
        return json.load(f)


def replace_opt(argv, opt, value):
    """argv with ``opt value`` (or ``opt=value``) replaced by / set to ``opt value``."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == opt:
            skip = True
            continue
        if a.startswith(opt + "="):
            continue
        out.append(a)
    return out + [opt, value]


# ----------------------------------------------------------------------------------------------
# Environment report

def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def loadavg():
    try:
        return os.getloadavg()
    except OSError:
        return None


def base_environment(tpc, versions):
    """The report's common part; ``versions``: package name -> version, listed after python."""
    return {"python": platform.python_version(), **versions, "cpu": cpu_model(), "cpus": os.cpu_count(),
            "env": {k: os.environ.get(k) for k in CORETYPE_VARS + THREAD_VARS + WAIT_VARS},
            "removed_by_unset_openblas_coretype": json.loads(os.environ.get(REEXEC_VAR) or "null"),
            "threadpoolctl": None if tpc is None else tpc.__version__, "loadavg": loadavg()}


def thread_pools(tpc, keys):
    return [{k: d.get(k) for k in keys} for d in tpc.threadpool_info()]


def print_reexec_and_pools(env):
    if env["removed_by_unset_openblas_coretype"]:
        print(f"  --unset-openblas-coretype: re-exec'd without {env['removed_by_unset_openblas_coretype']}")
    for d in env.get("blas", []):
        print("  thread pool: " + ", ".join(f"{k}={v}" for k, v in d.items() if v is not None))


def print_load_at_start(env):
    load = env["loadavg"]
    if load is not None:
        busy = load[0] > 0.5 * (env["cpus"] or 1)
        print(f"  load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
              + ("   <- other work is running: times (2 threads above all) are inflated and noisy" if busy else ""))


def print_end(args, env, t_start, n_skipped, skip_hint, verdict):
    """The closing lines: cases past --time-budget, the load average at the end (also put in ``env``),
    the run time and ``verdict`` on correctness."""
    if n_skipped:
        print(f"{n_skipped} case(s) skipped: the run passed --time-budget {args.time_budget:g} s "
              f"(shared cores? see the load average{skip_hint})")
    env["loadavg_end"] = loadavg()
    if env["loadavg_end"] is not None:
        print("load average at end: " + " ".join(f"{v:.2f}" for v in env["loadavg_end"]))
    print(f"total {time.perf_counter() - t_start:.0f} s; correctness: {verdict}")


def write_results(path, results):
    """--json: ``results`` written to ``path`` when one is given."""
    if path:
        with open(path, "w") as f:
            json.dump(results, f, indent=1, default=str)
        print(f"wrote {path}")


# ----------------------------------------------------------------------------------------------
# Timing

@contextlib.contextmanager
def gc_off():
    """Garbage collection off while timing (after one full collection); on again after if it was."""
    gc_was = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if gc_was:
            gc.enable()


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def n_repeats(args, warmup_seconds):
    """--repeats, cut down (never below 5, nor below --repeats when that is smaller) to fit the budget."""
    floor = min(5, args.repeats)
    fit = int(args.max_case_seconds / max(warmup_seconds, 1e-9))
    return max(floor, min(args.repeats, fit))
