"""Smoke tests of the actions app (seed §5.2.3) and the character language model app (tiny configs)."""
import json
import math

import numpy as np
import pytest

from rnnkit import optim
from rnnkit.apps import actions, charlm, charlm_eval
from rnnkit.apps.common import AppResult
from rnnkit.cli import main
from rnnkit.data import classification, corpora, packages
from rnnkit.model import Sequential

PNG = b"\x89PNG\r\n\x1a\n"


def _needs(loader):
    """The data packages are part of the test set-up (requirements/): missing one is a failure."""
    assert packages.available().get(loader), f"{loader}: data package not installed (make test installs it)"


def _check_plots(result, tmp_path):
    assert result.plots
    for name, draw in result.plots.items():
        assert name.endswith(".png")
        draw(tmp_path / name)
        data = (tmp_path / name).read_bytes()
        assert len(data) > 1000 and data.startswith(PNG)


def _check_result(r):
    assert isinstance(r, AppResult)
    assert math.isfinite(r.value) and math.isfinite(r.baseline) and r.baseline_name
    assert r.seconds > 0 and r.model is not None and r.history["loss"]
    assert all(math.isfinite(v) for v in r.history["loss"])
    row = r.row()
    assert set(row) >= {"task", "data", "metric", "rnnkit", "baseline", "baseline_name", "seconds"}


# -- actions ---------------------------------------------------------------------------------------

def _tiny_actions(**kw):
    return {**actions.default_config(quick=True), "hidden": 8, "epochs": 2, "crops_per_series": 2, **kw}


def test_per_step_targets_repeat_the_label_at_every_step():
    X = [np.zeros((5, 6), np.float32), np.zeros((3, 6), np.float32)]
    Y = actions.per_step_targets(X, np.array([2, 1]))
    assert [y.shape for y in Y] == [(5,), (3,)]
    assert (Y[0] == 2).all() and (Y[1] == 1).all() and Y[0].dtype == np.int64


def test_random_crops_and_downsample():
    rng = np.random.default_rng(0)
    X = [np.arange(40, dtype=np.float32).reshape(20, 2), np.ones((4, 2), np.float32)]
    Xc, yc = actions.random_crops(X, np.array([0, 1]), 8, 3, rng)
    assert len(Xc) == 6 and yc.tolist() == [0, 0, 0, 1, 1, 1]
    assert [len(x) for x in Xc] == [8, 8, 8, 4, 4, 4]  # a short series is taken whole
    for x in Xc[:3]:  # a crop is a contiguous window of the series
        s = int(x[0, 0]) // 2
        np.testing.assert_array_equal(x, X[0][s:s + 8])
    d = actions.downsample(np.arange(22, dtype=np.float32).reshape(11, 2), 5)
    np.testing.assert_allclose(d, [[4, 5], [14, 15]])


def test_channel_standardizer_uses_per_channel_statistics():
    X = [np.array([[0.0, 10.0], [2.0, 30.0]]), np.array([[4.0, 20.0]])]
    sc = actions.ChannelStandardizer(X)
    np.testing.assert_allclose(sc.mean, [2.0, 20.0])
    Z = np.concatenate([sc.transform(x) for x in X])
    np.testing.assert_allclose(Z.mean(0), 0, atol=1e-6)
    np.testing.assert_allclose(Z.std(0), 1, atol=1e-6)
    again = actions.ChannelStandardizer.from_dict(sc.to_dict())
    np.testing.assert_allclose(again.transform(X[0]), sc.transform(X[0]))


def test_actions_basic_motions_smoke(tmp_path):
    _needs("load_basic_motions")
    cfg = _tiny_actions()
    r = actions.run(cfg)
    _check_result(r)
    assert r.baseline == 0.975 and r.baseline_name == "1-NN DTW (published)"
    m = r.metrics
    for k in ("seq_accuracy", "last_step_accuracy", "per_step_accuracy", "logreg_mean_std_accuracy"):
        assert 0.0 <= m[k] <= 1.0
    assert r.value == m["seq_accuracy"] and m["n_test"] == 40
    # per-step outputs: one distribution over the 4 actions at each of the 100 steps
    X_te = classification.load_basic_motions("test").X
    out = r.model.predict(X_te)
    assert out.shape == (40, 100, 4)
    # evaluate() re-scores the trained model with the same numbers (scaler from the metadata)
    ev = actions.evaluate(r.model, cfg)
    assert ev["seq_accuracy"] == pytest.approx(m["seq_accuracy"])
    assert ev["per_step_accuracy"] == pytest.approx(m["per_step_accuracy"])
    _check_plots(r, tmp_path)


def test_actions_watch_smoke(tmp_path):
    _needs("load_watch")
    cfg = _tiny_actions(dataset="watch", epochs=1, crops_per_series=1, downsample=10, crop_length=30)
    r = actions.run(cfg)
    _check_result(r)
    assert r.metrics["n_test"] == 42 and r.metrics["n_train"] == 98
    assert r.baseline == r.metrics["logreg_mean_std_accuracy"]
    lo, hi = r.metrics["test_lengths"]
    assert 90 <= lo <= hi <= 262  # whole test series, 947..2618 steps at 50 Hz / 10
    _check_plots(r, tmp_path)


def test_actions_rejects_unknown_dataset():
    with pytest.raises(ValueError, match="dataset"):
        actions.run(_tiny_actions(dataset="mnist"))


def test_sequence_decisions():
    logp = np.log(np.array([[0.9, 0.1], [0.4, 0.6], [0.45, 0.55]]))
    s = actions.score([logp], np.array([0]))
    assert s["seq_accuracy"] == 1.0       # mean log-probability favours class 0
    assert s["last_step_accuracy"] == 0.0  # the last step alone says class 1
    assert s["per_step_accuracy"] == pytest.approx(1 / 3)


# -- charlm ----------------------------------------------------------------------------------------

def _tiny_lm(**kw):
    return {**charlm.default_config(quick=True), "hidden": 16, "embed_dim": 8, "seq_len": 32, "steps": 7,
            "eval_every": 3, "batch_size": 4, "val_chunks": 4, "val_chars": 3000, "eval_streams": 8,
            "eval_chunk": 64, "context_positions": 200, "sample_length": 20, **kw}


@pytest.fixture(scope="module")
def lm_run():
    """A tiny charlm run, with the learning rate of every optimizer step as Adam applied it."""
    _needs("load_shakespeare")
    applied, adam_step = [], optim.Adam.step

    def recording_step(self, params, grads):
        applied.append(self.lr)
        return adam_step(self, params, grads)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(optim.Adam, "step", recording_step)
        result = charlm.run(_tiny_lm())
    return result, applied


@pytest.fixture(scope="module")
def lm_result(lm_run):
    return lm_run[0]


def test_charlm_smoke(lm_result, tmp_path):
    r = lm_result
    _check_result(r)
    m = r.metrics
    assert r.baseline == m["bigram_nats_per_char"] < m["unigram_nats_per_char"] < math.log(84)
    assert r.value == m["val_nats_per_char_streamed"] and r.metric == "held-out nats/char (streamed)"
    assert 0 < m["val_nats_per_char_streamed"] < 6 and m["n_predicted"] == 8 * (3000 // 8 - 1)
    assert m["val_bits_per_char_streamed"] == pytest.approx(m["val_nats_per_char_streamed"] / math.log(2))
    assert 0 < m["val_nats_per_char_context64"] < 6 and m["n_context64_positions"] == 200
    assert 0 < m["val_nats_per_char_context64_se"] < 1
    # the streamed figure at the context positions: the same positions, other context
    per, _ = charlm_eval.stream_nll_per_char(r.model, charlm.load(_tiny_lm())[1], 8, 64)
    pos = charlm_eval.context_positions(3000, 64, 200)
    assert m["val_nats_per_char_streamed_at_context64_positions"] == pytest.approx(
        np.mean([per[t // 375, t % 375 - 1] for t in pos if t % 375 and t < 3000]), rel=1e-9)
    assert per.mean() == pytest.approx(m["val_nats_per_char_streamed"], rel=1e-12)
    assert m["val_nats_per_char_chunks"] == r.history["val_loss"][-1]   # the history's last held-out line
    assert r.metadata["vocab"] == list(corpora.load_shakespeare().chars)
    assert m["sample"].startswith("ROMEO.\n")
    _check_plots(r, tmp_path)
    ev = charlm.evaluate(r.model, _tiny_lm())
    for key in ("val_nats_per_char_streamed", "val_nats_per_char_chunks", "val_nats_per_char_context64",
                "val_nats_per_char_streamed_at_context64_positions", "bigram_nats_per_char"):
        assert ev[key] == pytest.approx(m[key], rel=1e-6), key
    assert ev["data"] == r.data


def test_charlm_learning_rate_moves_at_every_step(lm_run):
    r, applied = lm_run
    cfg = _tiny_lm()
    steps, lr0, lr1 = cfg["steps"], cfg["lr"], cfg["lr"] * cfg["lr_final"]
    assert len(applied) == steps                       # one optimizer step per batch, each with its own lr
    assert all(a > b for a, b in zip(applied, applied[1:]))        # strictly decreasing
    expected = [lr1 + 0.5 * (lr0 - lr1) * (1 + math.cos(math.pi * k / (steps - 1))) for k in range(steps)]
    np.testing.assert_allclose(applied, expected, rtol=1e-12)      # the cosine, from lr to lr * lr_final
    assert r.history["lr"] == [applied[2], applied[5], applied[6]]  # history: the lr of each line's last step


def test_charlm_steps_and_passes_are_consistent(lm_result):
    m, h, cfg = lm_result.metrics, lm_result.history, _tiny_lm()
    chars = cfg["steps"] * cfg["batch_size"] * cfg["seq_len"]
    assert m["steps"] == cfg["steps"] and m["chars_trained_on"] == chars
    assert m["train_chars"] == len(corpora.load_shakespeare().train_text)
    assert m["passes"] == pytest.approx(chars / m["train_chars"])
    assert h["step"] == [3, 6, 7]                      # every eval_every steps, and after the last
    assert h["passes"] == pytest.approx([k * cfg["batch_size"] * cfg["seq_len"] / m["train_chars"]
                                         for k in h["step"]])
    assert h["passes"][-1] == pytest.approx(m["passes"])
    assert len(h["loss"]) == len(h["val_loss"]) == len(h["lr"]) == 3
    assert "epochs" not in charlm.default_config() and "steps_per_epoch" not in charlm.default_config()


@pytest.mark.parametrize("key, value, match", [("steps", 0, "steps"), ("eval_every", 0, "eval_every"),
                                               ("steps", 2.5, "steps"), ("lr_final", 2.0, "lr_final"),
                                               ("context_positions", 0, "context_positions")])
def test_charlm_refuses_bad_step_settings(key, value, match):
    with pytest.raises((ValueError, TypeError), match=match):
        charlm.run(_tiny_lm(**{key: value}))


def test_charlm_cli_takes_steps_and_refuses_epochs(tmp_path, capsys):
    _needs("load_shakespeare")
    assert main(["train", "charlm", "--quick", "--epochs", "3", "--out", str(tmp_path / "e")]) == 2
    assert "no 'epochs' option" in capsys.readouterr().err
    out = tmp_path / "run"
    argv = ["train", "charlm", "--quick", "--hidden", "8", "--verbose", "0", "--out", str(out),
            "--set", "steps=5", "--set", "eval_every=2", "--set", "embed_dim=4", "--set", "val_chars=1500",
            "--set", "context_positions=50", "--set", "val_chunks=2", "--set", "sample_length=5"]
    assert main(argv) == 0, capsys.readouterr().err
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["metrics"]["steps"] == 5 and saved["history"]["step"] == [2, 4, 5]
    assert saved["metrics"]["passes"] == pytest.approx(5 * 32 * 64 / saved["metrics"]["train_chars"])
    capsys.readouterr()
    assert main(["evaluate", str(out)]) == 0                  # the run folder's config drives evaluate
    ev = json.loads(capsys.readouterr().out)
    for key in ("val_nats_per_char_streamed", "val_nats_per_char_chunks", "val_nats_per_char_context64"):
        assert ev[key] == pytest.approx(saved["metrics"][key], rel=1e-6), key


def test_random_chunks_targets_are_the_next_characters():
    ids = np.arange(100)
    X, Y = charlm.random_chunks(ids, 5, 10, np.random.default_rng(0))
    assert X.shape == Y.shape == (5, 10)
    np.testing.assert_array_equal(Y, X + 1)  # per-step targets: the input shifted by one


def test_ngram_baselines():
    train = np.array([0, 1] * 500)
    b = charlm_eval.ngram_baselines(train, np.array([1, 0, 1]), np.array([0, 1, 0]), 2)
    assert b["unigram"] == pytest.approx(math.log(2), rel=1e-3)
    assert b["bigram"] < 0.01


def test_generate_length_prompt_determinism_and_vocabulary(lm_result):
    model = lm_result.model
    chars = set(lm_result.metadata["vocab"])
    a = charlm.generate(model, prompt="ROMEO.\n", length=50, temperature=0.8, seed=1)
    assert len(a) == len("ROMEO.\n") + 50 and a.startswith("ROMEO.\n")
    assert set(a) <= chars
    assert a == charlm.generate(model, prompt="ROMEO.\n", length=50, temperature=0.8, seed=1)
    e = charlm.generate(model, prompt="", length=30, temperature=1.5, seed=0)
    assert len(e) == 30 and set(e) <= chars
    assert charlm.generate(model, prompt="ab", length=0) == "ab"


def test_generate_low_temperature_is_greedy(lm_result):
    model = lm_result.model
    greedy = charlm.generate(model, prompt="The ", length=40, temperature=0, seed=0)
    # a nearly untrained model has logits within ~1e-3 of each other: a cold temperature must be far below
    cold = [charlm.generate(model, prompt="The ", length=40, temperature=1e-6, seed=s) for s in (0, 1)]
    assert cold[0] == cold[1] == greedy
    hot = {charlm.generate(model, prompt="The ", length=40, temperature=2.0, seed=s) for s in range(3)}
    assert len(hot) > 1  # sampling does depend on the seed


def test_generate_refuses_unknown_characters_and_missing_vocab(lm_result):
    with pytest.raises(ValueError, match="vocabulary"):
        charlm.generate(lm_result.model, prompt="caf\u00e9", length=5)
    bare = charlm.build(_tiny_lm(), 84)
    bare.build(84)
    with pytest.raises(ValueError, match="vocab"):
        charlm.generate(bare, length=5)


def test_streaming_step_matches_whole_sequence_forward(lm_result):
    model = lm_result.model
    ids = np.array([5, 40, 60, 61, 1, 0, 33])
    logits, _ = charlm_eval.forward_stateful(model, ids[None, :], {})
    states = {}
    for t, tok in enumerate(ids):
        step_logits, states = charlm._step(model, int(tok), states)
        np.testing.assert_allclose(step_logits, logits[0, t], rtol=1e-4, atol=1e-5)


def test_stream_nll_carries_state_across_chunks(lm_result):
    ids = corpora.load_shakespeare().char_vocabulary().encode("To be, or not to be, that is the question:\n" * 4)
    a = charlm_eval.stream_nll(lm_result.model, ids, n_streams=3, chunk=7)[0]
    b = charlm_eval.stream_nll(lm_result.model, ids, n_streams=3, chunk=1000)[0]
    assert a == pytest.approx(b, rel=1e-5)


def test_generate_after_save_and_load(lm_result, tmp_path):
    path = tmp_path / "lm.npz"
    lm_result.model.save(path, metadata=lm_result.metadata)
    loaded = Sequential.load(path)
    assert loaded.metadata["vocab"] == lm_result.metadata["vocab"]
    kw = dict(prompt="KING.\n", length=25, temperature=0.7, seed=3)
    assert charlm.generate(loaded, **kw) == charlm.generate(lm_result.model, **kw)


def test_charlm_refuses_bidirectional():
    with pytest.raises(ValueError, match="bidirectional"):
        charlm.build({**_tiny_lm(), "bidirectional": True}, 84)


def test_context_nll_reads_exactly_the_context_from_a_zero_state(lm_result):
    model = lm_result.model
    ids = corpora.load_shakespeare().char_vocabulary().encode("Now is the winter of our discontent\n" * 3)
    C = 16
    pos = charlm_eval.context_positions(len(ids), C, positions=5)
    assert len(pos) == 5 and pos[0] == C and pos.max() < len(ids) and (np.diff(pos) > 0).all()
    assert charlm_eval.context_positions(len(ids), C).tolist() == list(range(C, len(ids)))
    got = charlm_eval.context_nll(model, ids, C, positions=5, batch=2)
    for t, value in zip(pos, got):  # one forward per position, the window alone
        logits, _ = charlm_eval.forward_stateful(model, ids[None, t - C:t], {})
        assert value == pytest.approx(charlm_eval.nll(logits[0, -1], ids[t]), rel=1e-5)
    # a single stream of C + 1 characters predicts its last one from exactly C characters
    one = charlm_eval.context_nll(model, ids[:C + 1], C)
    logits, _ = charlm_eval.forward_stateful(model, ids[None, :C], {})
    assert one.tolist() == pytest.approx([charlm_eval.nll(logits[0, -1], ids[C])], rel=1e-6)
    with pytest.raises(ValueError, match="context"):
        charlm_eval.context_nll(model, ids[:C], C)
