"""A small training run for the data-parallel tests: ``mpiexec -n N python mpi_train.py OUT CASE``
(or without mpiexec: one process, the reference). Rank 0 writes the final weights and history to OUT.

CASE: "lstm" (ragged sequences, per-sequence targets), "bigru" (bidirectional GRU, per-step targets,
ragged), "tokens" (Embedding + LSTM, next-token targets per step, ragged: a character model),
"dropout" (LSTM with dropout and recurrent dropout), "fail" (rank 1 raises mid-training), "noseed"
(Sequential(seed=None): the ranks must still agree), "fail-outside" (rank 1 raises inside a
data_parallel() block but outside fit, while rank 0 waits in fit's collectives).
"""
import sys

import numpy as np

from rnnkit.distributed import DataParallel, data_parallel
from rnnkit.layers import GRU, LSTM, Dense, Embedding
from rnnkit.model import Sequential


def data(case, n=23):
    rng = np.random.default_rng(7)
    lengths = rng.integers(2, 9, n)
    X = [rng.standard_normal((t, 3)) for t in lengths]
    if case == "tokens":
        X = [rng.integers(0, 6, t) for t in lengths]
        y = [rng.integers(0, 6, t) for t in lengths]
    elif case == "bigru":
        y = [rng.standard_normal((t, 2)) for t in lengths]
    else:
        y = rng.integers(0, 3, n)
    return X, y


def model(case):
    if case == "tokens":
        layers = [Embedding(6, 4, padding_idx=None), LSTM(5, return_sequences=True), Dense(6)]
        loss = "crossentropy"
    elif case == "bigru":
        layers = [GRU(5, bidirectional=True, return_sequences=True, reset_after=True), Dense(2)]
        loss = "mse"
    elif case == "dropout":
        layers = [LSTM(6, num_layers=2, dropout=0.3, recurrent_dropout=0.2), Dense(3)]
        loss = "crossentropy"
    else:
        layers = [LSTM(6), Dense(3)]
        loss = "crossentropy"
    seed = None if case == "noseed" else 3
    return Sequential(layers, seed=seed, dtype="float64").compile(loss, "adam", lr=0.01, l2=1e-3, clip_norm=5.0)


def main(out, case, distributed):
    X, y = data(case)
    m = model(case)
    if case == "fail-outside":
        with data_parallel() as group:
            if group.rank == 1:
                raise FileNotFoundError("data missing on rank 1 (outside fit)")
            m.fit(X, y, epochs=3, batch_size=7, verbose=0)
        return
    if case == "fail":
        group = DataParallel()
        if group.rank == 1:
            m.compile("crossentropy", "adam", metrics=[_boom])
    h = m.fit(X, y, epochs=3, batch_size=7, verbose=0, distributed=distributed)
    flat = np.concatenate([w.ravel() for w in m.get_weights().values()])
    spread = 0.0
    if distributed:                          # how far apart the ranks' weights are (must be 0)
        group = DataParallel()
        spread = max(float(np.abs(f - flat).max()) for f in group.comm.allgather(flat))
    if not distributed or DataParallel().is_root:
        np.savez(out, loss=np.array(h.history["loss"]), rank_spread=np.array(spread), **m.get_weights())


def _boom(out, y, mask, loss):
    raise RuntimeError("rank 1 fails on purpose")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], distributed=len(sys.argv) > 3 and sys.argv[3] == "dp")
