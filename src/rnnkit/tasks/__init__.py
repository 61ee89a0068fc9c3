"""Training on the user's own data: the engine of ``rnnkit fit`` and ``rnnkit predict``.

    from rnnkit import tasks
    result = tasks.fit({"data": "gestures.csv", "task": "classify", "epochs": 30}, "runs/gestures")
    tasks.Predictor.load("runs/gestures").predict_file("new.csv")

The tasks: ``classify``, ``regress`` and ``tag`` on a set of sequences (:mod:`.sequences`),
``forecast`` on a series (:mod:`.forecast`), ``lm`` on a text (:mod:`.lm`). The settings, their
defaults and meanings are in :mod:`.options`; the data layouts in :mod:`rnnkit.data.files`.
"""
from __future__ import annotations

from pathlib import Path

from . import forecast, lm, sequences, training
from .options import OPTIONS, TASKS, check, defaults
from .predict import Predictor

__all__ = ["OPTIONS", "TASKS", "Predictor", "check", "defaults", "fit"]

RUNNERS = {"classify": sequences.run, "regress": sequences.run, "tag": sequences.run,
           "forecast": forecast.run, "lm": lm.run}


def fit(config, run_dir, verbose=0, resume=False):
    """Train the task ``config`` describes (``options.OPTIONS``; missing settings take their
    defaults) and score it on held-out data; returns an ``AppResult``. ``run_dir`` receives the
    checkpoint, the best model and history.csv while training. ``resume``: continue the run whose
    checkpoint is in ``run_dir`` (epochs already done are not repeated)."""
    config = check(config)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    resumed = training.resume_state(run_dir) if resume else None
    return RUNNERS[config["task"]](config, run_dir, verbose, resumed)
