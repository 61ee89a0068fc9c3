"""Callbacks that write files: ``CSVLogger`` (a row per epoch, flushed, appendable) and
``ModelCheckpoint``'s path templates and optimiser state."""
import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rnnkit.callbacks import Callback, CSVLogger, ModelCheckpoint
from rnnkit.layers import LSTM, Dense
from rnnkit.model import Sequential

ROOT = Path(__file__).resolve().parents[2]


def data(n=24, seed=0):
    r = np.random.default_rng(seed)
    X = [r.standard_normal((int(t), 2)) for t in r.integers(2, 7, n)]
    return X, r.integers(0, 2, n)


def model():
    return Sequential([LSTM(4), Dense(2)], seed=3, dtype="float64").compile("crossentropy", "adam", lr=0.02,
                                                                             metrics=["accuracy"])


def read_csv(path, delimiter=","):
    with open(path, newline="") as fh:
        return list(csv.reader(fh, delimiter=delimiter))


# -- CSVLogger ------------------------------------------------------------------------------------

def test_csv_logger_writes_a_header_and_a_row_per_epoch(tmp_path):
    X, y = data()
    path = tmp_path / "log.csv"
    h = model().fit(X, y, epochs=3, batch_size=8, validation_split=0.25, verbose=0, callbacks=[CSVLogger(path)])
    rows = read_csv(path)
    assert rows[0] == ["epoch", "accuracy", "loss", "lr", "val_accuracy", "val_loss"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "2"]                # 0-based, as Keras
    for i, row in enumerate(rows[1:]):
        for key, value in zip(rows[0][1:], row[1:]):
            assert float(value) == h.history[key][i], (i, key)        # exact (repr of the float)
    assert path.read_bytes().endswith(b"\n") and path.read_bytes().count(b"\n") == 4


def test_csv_logger_appends_to_a_resumed_run(tmp_path):
    X, y = data()
    path = tmp_path / "log.csv"
    full = model().fit(X, y, epochs=4, batch_size=8, verbose=0)
    first = model()
    first.fit(X, y, epochs=2, batch_size=8, verbose=0, callbacks=[CSVLogger(path)])
    first.save(tmp_path / "ckpt.npz")
    resumed = Sequential.load(tmp_path / "ckpt.npz")
    resumed.fit(X, y, epochs=4, initial_epoch=2, batch_size=8, verbose=0, callbacks=[CSVLogger(path, append=True)])
    rows = read_csv(path)
    assert rows[0] == ["epoch", "accuracy", "loss", "lr"] and [r[0] for r in rows[1:]] == ["0", "1", "2", "3"]
    assert [float(r[2]) for r in rows[1:]] == full.history["loss"]      # one uninterrupted run's losses


def test_csv_logger_append_starts_a_missing_file_and_replaces_without_append(tmp_path):
    X, y = data()
    path = tmp_path / "sub" / "log.csv"
    os.makedirs(path.parent)
    model().fit(X, y, epochs=1, verbose=0, callbacks=[CSVLogger(path, append=True)])
    assert len(read_csv(path)) == 2
    model().fit(X, y, epochs=2, verbose=0, callbacks=[CSVLogger(path)])       # append=False: a new file
    assert [r[0] for r in read_csv(path)] == ["epoch", "0", "1"]


def test_csv_logger_refuses_to_append_other_columns(tmp_path):
    X, y = data()
    path = tmp_path / "log.csv"
    path.write_text("epoch,loss,lr\n0,0.5,0.01\n")
    with pytest.raises(ValueError, match=r"has the columns \['epoch', 'loss', 'lr'\], this run logs "
                                         r"\['epoch', 'accuracy', 'loss', 'lr'\]"):
        model().fit(X, y, epochs=1, verbose=0, callbacks=[CSVLogger(path, append=True)])
    assert path.read_text() == "epoch,loss,lr\n0,0.5,0.01\n"
    path.write_text("epoch,accuracy,loss,lr\n0,0.5,0.7,0.0")                  # a cut-off last row
    with pytest.raises(ValueError, match="ends with an incomplete row"):
        model().fit(X, y, epochs=1, verbose=0, callbacks=[CSVLogger(path, append=True)])


@pytest.mark.parametrize("sep", [";", "\t"])
def test_csv_logger_separator(sep, tmp_path):
    X, y = data()
    model().fit(X, y, epochs=2, verbose=0, callbacks=[CSVLogger(tmp_path / "log.csv", separator=sep)])
    rows = read_csv(tmp_path / "log.csv", delimiter=sep)
    assert rows[0] == ["epoch", "accuracy", "loss", "lr"] and len(rows) == 3


@pytest.mark.parametrize("sep", ["", ",,", ".", "-", "a", "1", "\n", '"', 1])
def test_csv_logger_refuses_a_bad_separator(sep, tmp_path):
    with pytest.raises(ValueError, match="separator"):
        CSVLogger(tmp_path / "log.csv", separator=sep)


KILLED = """
import os, sys
import numpy as np
from rnnkit.callbacks import Callback, CSVLogger
from rnnkit.layers import LSTM, Dense
from rnnkit.model import Sequential

class Kill(Callback):
    def on_epoch_end(self, epoch, logs):
        if epoch == 2:
            os._exit(3)          # as a kill: no clean-up, no flush of Python's buffers

r = np.random.default_rng(0)
X = r.standard_normal((16, 4, 2))
m = Sequential([LSTM(3), Dense(1)]).compile("mse")
m.fit(X, X.sum(axis=(1, 2)), epochs=10, verbose=0, callbacks=[CSVLogger(sys.argv[1]), Kill()])
"""


def test_a_killed_run_keeps_its_finished_rows(tmp_path):
    path = tmp_path / "log.csv"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    p = subprocess.run([sys.executable, "-c", KILLED, str(path)], env=env, capture_output=True, timeout=60)
    assert p.returncode == 3, p.stderr
    rows = read_csv(path)
    assert rows[0] == ["epoch", "loss", "lr"] and [r[0] for r in rows[1:]] == ["0", "1", "2"]
    assert all(np.isfinite(float(v)) for r in rows[1:] for v in r)


def test_file_writing_callbacks_run_on_rank_0_only():
    assert CSVLogger("x.csv").writes_files and ModelCheckpoint("x.npz").writes_files
    assert not getattr(Callback(), "writes_files", False)


# -- ModelCheckpoint --------------------------------------------------------------------------------

def test_checkpoint_templates_name_a_file_per_epoch(tmp_path):
    X, y = data()
    template = str(tmp_path / "ck-{epoch:03d}-{val_loss:.4f}-{loss}.npz")
    h = model().fit(X, y, epochs=3, batch_size=8, validation_split=0.25, verbose=0,
                    callbacks=[ModelCheckpoint(template, save_best_only=False)])
    names = sorted(os.listdir(tmp_path))
    assert [n[:7] for n in names] == ["ck-001-", "ck-002-", "ck-003-"]
    expected = [f"ck-{i + 1:03d}-{h.history['val_loss'][i]:.4f}-{h.history['loss'][i]!r}.npz" for i in range(3)]
    assert names == expected


def test_checkpoint_template_with_save_best_only_saves_improvements(tmp_path):
    X, y = data(seed=2)
    cb = ModelCheckpoint(tmp_path / "best-{epoch}.npz", monitor="loss", save_best_only=True)
    h = model().fit(X, y, epochs=5, batch_size=8, verbose=0, callbacks=[cb])
    losses, best, improved = h.history["loss"], np.inf, []
    for i, v in enumerate(losses):
        if v < best:
            best = v
            improved.append(f"best-{i + 1}.npz")
    assert sorted(os.listdir(tmp_path)) == sorted(improved)
    assert cb.last_path == str(tmp_path / improved[-1])


def test_checkpoint_template_literal_braces(tmp_path):
    X, y = data()
    model().fit(X, y, epochs=1, verbose=0, callbacks=[ModelCheckpoint(tmp_path / "{{run}}-{epoch}.npz",
                                                                       save_best_only=False)])
    assert os.listdir(tmp_path) == ["{run}-1.npz"]


def test_checkpoint_template_key_not_in_the_logs(tmp_path):
    X, y = data()
    cb = ModelCheckpoint(tmp_path / "ck-{val_acc:.2f}.npz", save_best_only=False)
    with pytest.raises(KeyError, match=r"\['val_acc'\].*available keys \['accuracy', 'epoch', 'loss', 'lr', "
                                       r"'val_accuracy', 'val_loss'\]"):
        model().fit(X, y, epochs=1, validation_split=0.25, verbose=0, callbacks=[cb])


@pytest.mark.parametrize("template", ["ck-{epoch.npz", "ck-}.npz", "ck-{}.npz", "ck-{0}.npz",
                                      "ck-{epoch.__class__}.npz", "ck-{loss[0]}.npz", "ck-{loss:{w}}.npz",
                                      "ck-{epoch:q}.npz", "ck-{loss:d}.npz"])
def test_bad_checkpoint_templates_fail_at_construction(template):
    with pytest.raises(ValueError, match="ModelCheckpoint: path"):
        ModelCheckpoint(template)


def test_checkpoints_resume_training_exactly(tmp_path):
    X, y = data()
    full = model()
    full.fit(X, y, epochs=4, batch_size=8, verbose=0)
    m = model()
    m.fit(X, y, epochs=2, batch_size=8, verbose=0,
          callbacks=[ModelCheckpoint(tmp_path / "ck-{epoch}.npz", save_best_only=False)])
    ck = Sequential.load(tmp_path / "ck-2.npz")
    assert ck.optimizer.iterations == m.optimizer.iterations == 6
    ck.fit(X, y, epochs=4, initial_epoch=2, batch_size=8, verbose=0)
    assert all(np.array_equal(v, ck.get_weights()[k]) for k, v in full.get_weights().items())
    m.fit(X, y, epochs=1, verbose=0, callbacks=[ModelCheckpoint(tmp_path / "w.npz", save_best_only=False,
                                                                include_optimizer=False)])
    assert Sequential.load(tmp_path / "w.npz").optimizer.iterations == 0
