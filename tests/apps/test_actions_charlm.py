"""Smoke tests of the actions app (seed §5.2.3) and the character language model app (tiny configs)."""
import math

import numpy as np
import pytest

from rnnkit.apps import actions, charlm
from rnnkit.apps.common import AppResult
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

def _tiny_lm():
    return {**charlm.default_config(quick=True), "hidden": 16, "embed_dim": 8, "seq_len": 32, "epochs": 2,
            "steps_per_epoch": 3, "batch_size": 4, "val_chunks": 4, "val_chars": 3000, "eval_streams": 8,
            "eval_chunk": 64, "sample_length": 20}


@pytest.fixture(scope="module")
def lm_result():
    _needs("load_shakespeare")
    return charlm.run(_tiny_lm())


def test_charlm_smoke(lm_result, tmp_path):
    r = lm_result
    _check_result(r)
    m = r.metrics
    assert r.baseline == m["bigram_nats_per_char"] < m["unigram_nats_per_char"] < math.log(84)
    assert 0 < m["val_nats_per_char"] < 6 and m["n_predicted"] == 8 * (3000 // 8 - 1)
    assert len(r.history["val_loss"]) == 2
    assert r.metadata["vocab"] == list(corpora.load_shakespeare().chars)
    assert m["sample"].startswith("ROMEO.\n")
    _check_plots(r, tmp_path)
    ev = charlm.evaluate(r.model, _tiny_lm())
    assert ev["val_nats_per_char"] == pytest.approx(m["val_nats_per_char"], rel=1e-6)


def test_random_chunks_targets_are_the_next_characters():
    ids = np.arange(100)
    X, Y = charlm.random_chunks(ids, 5, 10, np.random.default_rng(0))
    assert X.shape == Y.shape == (5, 10)
    np.testing.assert_array_equal(Y, X + 1)  # per-step targets: the input shifted by one


def test_ngram_baselines():
    train = np.array([0, 1] * 500)
    b = charlm.ngram_baselines(train, np.array([1, 0, 1]), np.array([0, 1, 0]), 2)
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
    logits, _ = charlm.forward_stateful(model, ids[None, :], {})
    states = {}
    for t, tok in enumerate(ids):
        step_logits, states = charlm._step(model, int(tok), states)
        np.testing.assert_allclose(step_logits, logits[0, t], rtol=1e-4, atol=1e-5)


def test_stream_nll_carries_state_across_chunks(lm_result):
    ids = corpora.load_shakespeare().char_vocabulary().encode("To be, or not to be, that is the question:\n" * 4)
    a = charlm.stream_nll(lm_result.model, ids, n_streams=3, chunk=7)[0]
    b = charlm.stream_nll(lm_result.model, ids, n_streams=3, chunk=1000)[0]
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
