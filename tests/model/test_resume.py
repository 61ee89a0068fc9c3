"""Resumable training: ``fit(epochs=k)``, ``save``, ``load``, ``fit(initial_epoch=k, epochs=n)`` equals
``fit(epochs=n)`` bit for bit (the optimiser's state is in the file; shuffling and dropout masks are
functions of the seed and the epoch), and ``initial_epoch`` follows Keras' semantics."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rnnkit.callbacks import Callback, LearningRateScheduler
from rnnkit.layers import GRU, LSTM, Dense, Dropout
from rnnkit.model import Sequential, feedforward
from rnnkit.optim import SGD, Adam

ROOT = Path(__file__).resolve().parents[2]
MPIEXEC = Path(sys.executable).with_name("mpiexec")


def ragged(dtype, n=30, seed=0):
    r = np.random.default_rng(seed)
    X = [r.standard_normal((int(t), 3)).astype(dtype) for t in r.integers(2, 9, n)]
    return X, r.integers(0, 3, n)


def dropout_model(dtype, optimizer=None):
    """Dropout in three places (between stacked layers, on the recurrent state, before the output)."""
    layers = [LSTM(6, num_layers=2, dropout=0.2, recurrent_dropout=0.1), Dropout(0.3), Dense(3)]
    return Sequential(layers, seed=7, dtype=dtype).compile("crossentropy", optimizer or Adam(0.01),
                                                           metrics=["accuracy"])


FIT = dict(batch_size=8, validation_split=0.25, shuffle=True, verbose=0)


def same_weights(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    return list(wa) == list(wb) and all(wa[k].dtype == wb[k].dtype and np.array_equal(wa[k], wb[k]) for k in wa)


def interrupted(make, X, y, tmp_path, split=2, epochs=4, include_optimizer=True, **fit):
    """Train ``split`` epochs, save, load (no compile call) and train on to ``epochs``."""
    first = make()
    first.fit(X, y, epochs=split, **fit)
    first.save(tmp_path / "ckpt.npz", include_optimizer=include_optimizer)
    resumed = Sequential.load(tmp_path / "ckpt.npz")
    history = resumed.fit(X, y, epochs=epochs, initial_epoch=split, **fit)
    return resumed, history


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_resumed_adam_training_with_dropout_is_bit_identical(dtype, tmp_path):
    X, y = ragged(dtype)
    a = dropout_model(dtype)
    ha = a.fit(X, y, epochs=4, **FIT)
    b, hb = interrupted(lambda: dropout_model(dtype), X, y, tmp_path, **FIT)
    assert same_weights(a, b)
    assert b.optimizer.iterations == a.optimizer.iterations
    assert hb.epochs == [2, 3] and ha.epochs == [0, 1, 2, 3]
    assert sorted(hb.history) == sorted(ha.history) == ["accuracy", "loss", "lr", "val_accuracy", "val_loss"]
    for k in ha.history:
        assert hb.history[k] == ha.history[k][2:], k


def test_the_comparison_can_fail(tmp_path):
    """Controls: without the optimiser's state, or replaying the first epochs' randomness, the weights
    differ (so the test above would notice a lost moment or a reused shuffle / dropout mask)."""
    X, y = ragged("float64")
    a = dropout_model("float64")
    a.fit(X, y, epochs=4, **FIT)
    b, _ = interrupted(lambda: dropout_model("float64"), X, y, tmp_path, include_optimizer=False, **FIT)
    assert not same_weights(a, b)
    c = dropout_model("float64")
    c.fit(X, y, epochs=2, **FIT)
    c.fit(X, y, epochs=2, **FIT)             # epochs 0 and 1 again: the same shuffles and masks
    assert not same_weights(a, c)
    d = dropout_model("float64")
    d.fit(X, y, epochs=2, **FIT)
    d.fit(X, y, epochs=4, initial_epoch=2, **FIT)   # in memory, no file: also exact
    assert same_weights(a, d)


def test_resumed_sgd_with_momentum_is_bit_identical(tmp_path):
    r = np.random.default_rng(3)
    X = r.standard_normal((40, 5))
    y = X @ r.standard_normal((5, 2))

    def make():
        return feedforward([8], 2, seed=11, dtype="float64").compile("mse", SGD(0.05, momentum=0.9, nesterov=True))

    a = make()
    ha = a.fit(X, y, epochs=5, batch_size=6, verbose=0)
    b, hb = interrupted(make, X, y, tmp_path, split=3, epochs=5, batch_size=6, verbose=0)
    assert same_weights(a, b)
    assert hb.history["loss"] == ha.history["loss"][3:]
    assert sorted(b.optimizer.state) == sorted(a.get_weights())     # the velocities came back


def test_resume_across_three_pieces_with_gru(tmp_path):
    X, y = ragged("float64", seed=5)

    def make():
        return Sequential([GRU(5, dropout=0.25, num_layers=2), Dense(3)], seed=2,
                          dtype="float64").compile("crossentropy", "adam")

    a = make()
    a.fit(X, y, epochs=5, batch_size=7, verbose=0)
    m = make()
    for start, stop in ((0, 1), (1, 3), (3, 5)):
        if start:
            m.save(tmp_path / "m.npz")
            m = Sequential.load(tmp_path / "m.npz")
        m.fit(X, y, epochs=stop, initial_epoch=start, batch_size=7, verbose=0)
    assert same_weights(a, m)


class Recorder(Callback):
    def __init__(self):
        self.calls = []

    def on_train_begin(self):
        self.calls.append("begin")

    def on_epoch_begin(self, epoch):
        self.calls.append(("epoch_begin", epoch))

    def on_epoch_end(self, epoch, logs):
        self.calls.append(("epoch_end", epoch))

    def on_train_end(self):
        self.calls.append("end")


def test_initial_epoch_runs_the_remaining_epochs_with_true_indices(capsys):
    X, y = ragged("float64")
    model = dropout_model("float64")
    rec = Recorder()
    seen = []
    sched = LearningRateScheduler(lambda epoch, lr: seen.append(epoch) or lr)
    h = model.fit(X, y, epochs=5, initial_epoch=3, batch_size=8, verbose=2, callbacks=[rec, sched])
    assert rec.calls == ["begin", ("epoch_begin", 3), ("epoch_end", 3), ("epoch_begin", 4), ("epoch_end", 4), "end"]
    assert seen == [3, 4] and h.epochs == [3, 4] and len(h.history["loss"]) == 2
    lines = [line.split(":")[0] for line in capsys.readouterr().out.splitlines()]
    assert lines == ["epoch 4/5", "epoch 5/5"]


@pytest.mark.parametrize("epochs,initial", [(2, 2), (1, 3), (0, 0)])
def test_nothing_to_train_returns_an_empty_history(epochs, initial):
    X, y = ragged("float64")
    model = dropout_model("float64")
    model.build(3)
    before = model.get_weights()
    rec = Recorder()
    h = model.fit(X, y, epochs=epochs, initial_epoch=initial, callbacks=[rec], verbose=2)
    assert h.history == {} and h.epochs == []
    assert rec.calls == ["begin", "end"]
    assert model.optimizer.iterations == 0
    assert all(np.array_equal(v, before[k]) for k, v in model.get_weights().items())


@pytest.mark.parametrize("bad,err", [(-1, ValueError), (1.5, TypeError), ("2", TypeError), (True, TypeError)])
def test_bad_initial_epoch_is_refused(bad, err):
    X, y = ragged("float64")
    with pytest.raises(err, match="initial_epoch"):
        dropout_model("float64").fit(X, y, epochs=3, initial_epoch=bad, verbose=0)


def test_fit_leaves_the_layers_dropout_generator_to_the_model():
    """fit reseeds dropout per epoch and gives the layers back the model's generator afterwards."""
    X, y = ragged("float64")
    model = dropout_model("float64")
    model.fit(X, y, epochs=1, batch_size=8, verbose=0)
    assert all(layer.rng is model.rng for layer in model.layers)


RESUME_SCRIPT = """
import sys
import numpy as np
from rnnkit.layers import LSTM, Dense
from rnnkit.model import Sequential
from rnnkit.distributed import DataParallel

out = sys.argv[1]
r = np.random.default_rng(7)
X = [r.standard_normal((int(t), 3)) for t in r.integers(2, 9, 21)]
y = r.integers(0, 3, 21)

def make():
    return Sequential([LSTM(5, num_layers=2, dropout=0.3, recurrent_dropout=0.2), Dense(3)], seed=4,
                      dtype="float64").compile("crossentropy", "adam", lr=0.01)

a = make()
a.fit(X, y, epochs=3, batch_size=7, verbose=0, distributed=True)
b = make()
b.fit(X, y, epochs=1, batch_size=7, verbose=0, distributed=True)
if DataParallel().is_root:
    b.save(out + ".ckpt.npz")
DataParallel().comm.Barrier()
c = Sequential.load(out + ".ckpt.npz")
c.fit(X, y, epochs=3, initial_epoch=1, batch_size=7, verbose=0, distributed=True)
if DataParallel().is_root:
    np.savez(out, same=np.array(all(np.array_equal(v, c.get_weights()[k]) for k, v in a.get_weights().items())))
"""


def test_data_parallel_training_resumes_bit_identically(tmp_path):
    """Per-rank dropout masks are functions of (seed, epoch, rank) too."""
    script = tmp_path / "resume.py"
    script.write_text(RESUME_SCRIPT)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]))
    out = tmp_path / "same.npz"
    p = subprocess.run([str(MPIEXEC), "-n", "2", sys.executable, str(script), str(out)], capture_output=True,
                       text=True, timeout=120, env=env, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    with np.load(out) as z:
        assert bool(z["same"])
