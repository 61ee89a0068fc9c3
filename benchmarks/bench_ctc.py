"""CTC loss forward + backward: rnnkit (NumPy) against PyTorch CPU, in the same run.

Case: T=200 frames, batch 16, 30 classes (blank 0), label length 40, float32, full-length inputs.
Prints the median of 5 repeats (after one warm-up; rnnkit and torch runs alternate) in ms for rnnkit
and torch, and the ratio rnnkit / torch, with torch.set_num_threads(1) and (2). NumPy's BLAS thread
pool is limited to the same count through threadpoolctl when it is installed (otherwise this is noted and NumPy runs
with its default pool; the CTC op uses BLAS only for one small matmul in the backward pass).

    python benchmarks/bench_ctc.py [--repeats 5] [--dtype float32]
"""
from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
from rnnkit.ops import ctc  # noqa: E402

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - optional
    threadpool_limits = None


def make_case(rng, T=200, B=16, C=30, L=40, dtype=np.float32):
    logits = rng.standard_normal((B, T, C)).astype(dtype)
    targets = rng.integers(1, C, size=(B, L))
    input_lengths = np.full(B, T, dtype=np.int64)
    target_lengths = np.full(B, L, dtype=np.int64)
    return logits, targets, input_lengths, target_lengths


def time_pair(fa, fb, repeats):
    """Median ms of fa and of fb; the repeats alternate so both see the same machine load."""
    fa(), fb()  # warm-up
    ta, tb = [], []
    for _ in range(repeats):
        for fn, ts in ((fa, ta), (fb, tb)):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
    return statistics.median(ta) * 1e3, statistics.median(tb) * 1e3


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = ap.parse_args(argv)
    dtype = np.dtype(args.dtype)
    rng = np.random.default_rng(0)
    logits, targets, il, tl = make_case(rng, dtype=dtype)
    B, T, C = logits.shape

    def run_rnnkit():
        loss, cache = ctc.forward(logits, targets, il, tl, reduction="mean")
        return loss, ctc.backward(cache, 1.0)

    tdtype = torch.float32 if dtype == np.float32 else torch.float64
    t_targets, t_il, t_tl = torch.as_tensor(targets), torch.as_tensor(il), torch.as_tensor(tl)

    def run_torch():
        x = torch.tensor(logits, dtype=tdtype, requires_grad=True)
        lp = F.log_softmax(x, dim=-1).transpose(0, 1)
        loss = F.ctc_loss(lp, t_targets, t_il, t_tl, reduction="mean")
        loss.backward()
        return loss, x.grad

    # sanity: same numbers before timing
    l_np, g_np = run_rnnkit()
    l_t, g_t = run_torch()
    l_t = l_t.detach()
    assert abs(float(l_np) - float(l_t)) <= 1e-4 * max(1.0, abs(float(l_t))), (l_np, l_t)
    assert np.allclose(g_np, g_t.numpy(), atol=1e-5), "gradients differ"

    print(f"CTC forward+backward, T={T} batch={B} classes={C} label length={targets.shape[1]}, "
          f"{dtype.name}, median of {args.repeats}")
    if threadpool_limits is None:
        print("note: threadpoolctl not installed; NumPy's BLAS pool is left at its default size")
    print(f"{'threads':>7} {'rnnkit ms':>10} {'torch ms':>9} {'ratio':>6}")
    for n in (1, 2):
        torch.set_num_threads(n)
        ctx = threadpool_limits(limits=n) if threadpool_limits is not None else contextlib.nullcontext()
        with ctx:
            ms_np, ms_t = time_pair(run_rnnkit, run_torch, args.repeats)
        print(f"{n:>7} {ms_np:>10.2f} {ms_t:>9.2f} {ms_np / ms_t:>6.2f}")


if __name__ == "__main__":
    main()
