"""Data-parallel training over MPI (``rnnkit.distributed``): wall time of 1 and 2 ranks, split into
compute and communication (docs/distributed.md).

Two workloads, each run as its own ``mpiexec -n K`` job with one BLAS thread per rank
(``OPENBLAS_NUM_THREADS=OMP_NUM_THREADS=MKL_NUM_THREADS=1`` in the environment, and
``rnnkit._threads.blas_threads(1)``):

- ``speech``: ONE epoch of ``Sequential.fit`` of the speech-digits model (``apps/speech_digits.py``:
  its ``build``, ``load_corpus`` and the compile settings of its ``_fit_ctc``: CTC, Adam, clip_norm 5)
  on its training features: the recipe's full config (BiGRU 96, batch 32, 3000 training utterances;
  ``--speech-n-train`` uses fewer), without validation data. The features are rendered with espeak-ng
  and cached (``$RNNKIT_CACHE`` or ``~/.cache/rnnkit``) by a first, untimed job (about 1 minute for
  3000 utterances when the cache is cold).
- ``charlm``: ``--charlm-steps`` optimizer steps (default 100) of the charlm recipe's full config
  (Embedding 48, LSTM 192, batch 32 chunks of 100 characters), driven like its ``train``: fresh random
  chunks (``random_chunks``) through ``model.train_step``, after ``--warmup`` untimed steps. The
  learning rate stays at the config's ``lr`` (no schedule, no held-out evaluation).

Every rank builds the same model and data; training runs inside ``rnnkit.distributed.data_parallel()``.
Timed: from a barrier before training to a barrier after it (rank 0's clock). ``comm`` = time in the
gradient ``Allreduce`` plus the output ``allgather`` (``group.seconds``, rank 0; it includes waiting
for the slower rank), ``compute`` = wall - comm. ``allreduce_bytes`` = (parameters + 1) x dtype size
(the flat gradient buffer and the loss); ``gather_bytes`` = mean size of the whole batch's output that
the allgather assembles each step (each rank receives the other ranks' rows of it).

Runs alternate 1, 2, 1, 2, ... ranks (``--repeats`` rounds) so that drift on a shared machine hits
both alike; medians are reported, with the load average before and after.

    .venv/bin/python benchmarks/bench_distributed.py                   # --ranks 1,2 --repeats 3
    .venv/bin/python benchmarks/bench_distributed.py --only charlm --charlm-steps 50 --json /tmp/d.json

A worker (one rank) is started as ``mpiexec -n K python bench_distributed.py --worker TASK ...`` and
prints one line ``BENCH_JSON {...}`` from rank 0.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.abspath(__file__)
MARK = "BENCH_JSON "
THREAD_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def load():
    return ", ".join(f"{v:.2f}" for v in os.getloadavg())


# -- worker (one MPI rank) -------------------------------------------------------------------------

def _count_gather(group, record):
    """Wrap ``group.gather_rows`` to record the bytes of each assembled batch output."""
    inner = group.gather_rows

    def gather_rows(part, n_rows):
        out = inner(part, n_rows)
        record.append(getattr(out, "nbytes", 0))
        return out

    group.gather_rows = gather_rows


def _speech(args, group):
    from rnnkit.apps import speech_digits as sd
    config = sd.default_config(quick=False)
    config["n_train"] = int(args.speech_n_train)
    X, digits, _ = sd.load_corpus(config, "train")
    y = [sd.digits_to_labels(d) for d in digits]
    model = sd.build(config)
    model.compile("ctc", "adam", lr=config["lr"], clip_norm=config["clip_norm"], ctc_blank=sd.BLANK)
    model.build(X[0].shape[1])

    def train():
        model.fit(X, y, epochs=1, batch_size=config["batch_size"], verbose=0, shuffle=True)

    info = {"examples": len(X), "unit": "utterances", "batch_size": config["batch_size"],
            "mean_frames": float(sum(len(x) for x in X) / len(X)),
            "config": f"speech-digits full config (BiGRU {config['hidden']}, batch {config['batch_size']}), "
                      f"n_train={len(X)}, 1 epoch"}
    return model, train, info


def _charlm(args, group):
    import numpy as np

    from rnnkit.apps import charlm
    config = charlm.default_config(quick=False)
    train_ids, _, vocab, _ = charlm.load(config)
    B, L = int(config["batch_size"]), int(config["seq_len"])
    model = charlm.build(config, len(vocab)).compile("crossentropy", "adam", lr=config["lr"],
                                                     clip_norm=config["clip_norm"]).build(len(vocab))
    rng = np.random.default_rng(config["seed"])          # the same batches on every rank
    for _ in range(int(args.warmup)):
        X, Y = charlm.random_chunks(train_ids, B, L, rng)
        model.train_step(X, Y, None, None)

    def train():
        for _ in range(int(args.charlm_steps)):
            X, Y = charlm.random_chunks(train_ids, B, L, rng)
            model.train_step(X, Y, None, None)

    info = {"examples": int(args.charlm_steps) * B, "unit": "chunks", "batch_size": B, "seq_len": L,
            "chars": int(args.charlm_steps) * B * L,
            "config": f"charlm full config (Embedding {config['embed_dim']}, LSTM {config['hidden']}, "
                      f"batch {B} x {L} chars), {args.charlm_steps} steps after {args.warmup} warm-up steps"}
    return model, train, info


def worker(args):
    import numpy as np

    from rnnkit import distributed
    from rnnkit._threads import blas_threads

    with blas_threads(1), distributed.data_parallel() as group:
        try:
            model, train, info = {"speech": _speech, "charlm": _charlm}[args.worker](args, group)
            group.seconds = {"allreduce": 0.0, "gather": 0.0}     # warm-up steps do not count
            group.steps = 0
            gathered = []
            _count_gather(group, gathered)
            it0 = model.optimizer.iterations
            group.comm.Barrier()
            t0 = time.perf_counter()
            train()
            group.comm.Barrier()
            wall = time.perf_counter() - t0
        except BaseException as e:
            group.abort(e)
            raise
        steps = model.optimizer.iterations - it0
        comm = group.seconds["allreduce"] + group.seconds["gather"]
        per_rank = group.comm.gather(comm, root=0)
        if not group.is_root:
            return
        nparams = int(model.num_params())
        row = {**info, "task": args.worker, "ranks": group.size, "wall_s": wall, "steps": int(steps),
               "allreduce_s": group.seconds["allreduce"], "gather_s": group.seconds["gather"], "comm_s": comm,
               "comm_s_max_rank": max(per_rank), "compute_s": wall - comm,
               "examples_per_s": info["examples"] / wall,
               "num_params": nparams, "dtype": str(model.dtype),
               "allreduce_bytes": (nparams + 1) * np.dtype(model.dtype).itemsize,
               "allreduces": int(group.steps),
               "gather_bytes_mean": float(np.mean(gathered)) if gathered else 0.0}
        print(MARK + json.dumps(row), flush=True)


# -- driver ----------------------------------------------------------------------------------------

def mpiexec_path(given):
    if given:
        return given
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return here if os.path.exists(here) else (shutil.which("mpiexec") or "mpiexec")


def launch(args, task, k):
    cmd = [mpiexec_path(args.mpiexec), "-n", str(k), sys.executable, HERE, "--worker", task,
           "--speech-n-train", str(args.speech_n_train), "--charlm-steps", str(args.charlm_steps),
           "--warmup", str(args.warmup)]
    env = {**os.environ, **THREAD_ENV}
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=args.timeout)
    total = time.perf_counter() - t0
    rows = [json.loads(line[len(MARK):]) for line in p.stdout.splitlines() if line.startswith(MARK)]
    if p.returncode or not rows:
        sys.stderr.write(p.stdout + p.stderr)
        raise SystemExit(f"bench_distributed: `{' '.join(cmd)}` failed (exit status {p.returncode})")
    rows[0]["job_s"] = total
    return rows[0]


def median_row(rows):
    keys = ["wall_s", "compute_s", "allreduce_s", "gather_s", "comm_s", "comm_s_max_rank", "examples_per_s",
            "job_s", "gather_bytes_mean"]
    out = dict(rows[0])
    out.update({k: statistics.median(r[k] for r in rows) for k in keys})
    out["runs"] = len(rows)
    out["wall_s_all"] = [round(r["wall_s"], 3) for r in rows]
    return out


def report(meds):
    print()
    print("| workload | ranks | wall s | examples/s | speed-up | compute s | allreduce s | gather s | "
          "compute ms/step | comm ms/step | Allreduce bytes | output gather bytes/step | runs (wall s) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    base = {}
    for m in meds:
        if m["ranks"] == 1:
            base[m["task"]] = m["wall_s"]
    for m in meds:
        sp = base.get(m["task"], float("nan")) / m["wall_s"]
        print(f"| {m['task']} | {m['ranks']} | {m['wall_s']:.2f} | {m['examples_per_s']:.1f} {m['unit']}/s | "
              f"{sp:.2f}x | {m['compute_s']:.2f} | {m['allreduce_s']:.3f} | {m['gather_s']:.3f} | "
              f"{1000 * m['compute_s'] / m['steps']:.1f} | {1000 * m['comm_s'] / m['steps']:.2f} | "
              f"{m['allreduce_bytes']:,} | {m['gather_bytes_mean']:,.0f} | "
              f"{', '.join(f'{w:.2f}' for w in m['wall_s_all'])} |")
    print()
    for task in dict.fromkeys(m["task"] for m in meds):
        m = next(x for x in meds if x["task"] == task)
        print(f"{task}: {m['config']}; {m['steps']} optimizer steps; {m['num_params']:,} parameters ({m['dtype']})")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ranks", default="1,2", help="rank counts, comma-separated (default 1,2)")
    ap.add_argument("--repeats", type=int, default=3, help="rounds over the rank counts (median reported)")
    ap.add_argument("--only", default="speech,charlm", help="workloads: speech, charlm (comma-separated)")
    ap.add_argument("--speech-n-train", type=int, default=3000, help="training utterances (the recipe's 3000)")
    ap.add_argument("--charlm-steps", type=int, default=100, help="timed charlm optimizer steps")
    ap.add_argument("--warmup", type=int, default=3, help="untimed charlm steps before timing")
    ap.add_argument("--mpiexec", default=None, help="launcher (default: the one next to this Python)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per mpiexec job")
    ap.add_argument("--json", default=None, help="also write every run and the medians here")
    ap.add_argument("--worker", choices=["speech", "charlm"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args)

    ranks = [int(r) for r in args.ranks.split(",")]
    tasks = [t.strip() for t in args.only.split(",") if t.strip()]
    print(f"load average before: {load()}  (cores: {os.cpu_count()}; one BLAS thread per rank)")
    print(f"launcher: {mpiexec_path(args.mpiexec)} -n K {sys.executable} {HERE} --worker TASK")
    runs = []
    for task in tasks:                  # a first untimed job per task: caches (espeak-ng rendering), imports
        t0 = time.perf_counter()
        launch(args, task, 1)
        print(f"prepared {task} ({time.perf_counter() - t0:.1f} s, not counted)", flush=True)
    for rep in range(args.repeats):
        for task in tasks:
            for k in ranks:
                row = launch(args, task, k)
                row["repeat"] = rep
                runs.append(row)
                print(f"  round {rep + 1}: {task} ranks={k}: wall {row['wall_s']:.2f} s, comm {row['comm_s']:.3f} s "
                      f"(job {row['job_s']:.1f} s)  load {load()}", flush=True)
    meds = [median_row([r for r in runs if r["task"] == t and r["ranks"] == k]) for t in tasks for k in ranks]
    report(meds)
    print(f"load average after: {load()}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "runs": runs, "medians": meds, "load_after": os.getloadavg()}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
