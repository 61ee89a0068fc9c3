"""Live transcription: the streaming front end equals the offline one on the same audio (any chunk
size), and a unidirectional CTC model streamed step by step emits exactly the offline greedy
decoding, with per-row scores equal; a bidirectional model is refused."""
import numpy as np
import pytest

from rnnkit.apps import speech_digits as SD
from rnnkit.apps import speech_live as L
from rnnkit.data import speech_features as M
from rnnkit.data import synth
from rnnkit.data.speech_stream import StreamingFeaturizer
from rnnkit.ops import ctc_decode

CAUSAL = {**SD.default_config()["features"], **SD.STREAMING_FEATURES}


@pytest.fixture(scope="module")
def wave():
    return synth.render("three one four oh nine two", "en-us+f2")


def test_running_normalisation_by_hand():
    x = np.random.default_rng(0).standard_normal((20, 3)).astype(np.float32) * 5 + 2
    got = M.normalize_running(x)
    for t in (0, 1, 7, 19):
        past = x[:t + 1].astype(np.float64)
        want = (x[t] - past.mean(0)) / np.sqrt(past.var(0) + 1e-5)
        np.testing.assert_allclose(got[t], want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("chunk", [1, 160, 1000, 1600, 10 ** 6])
def test_streaming_features_equal_offline(wave, chunk):
    offline = M.featurize(wave, **CAUSAL)
    s = StreamingFeaturizer(**CAUSAL)
    rows = [s.push(wave[i:i + chunk]) for i in range(0, len(wave), chunk)] + [s.flush()]
    np.testing.assert_allclose(np.concatenate(rows), offline, rtol=0, atol=2e-5)
    with pytest.raises(RuntimeError, match="push after flush"):
        s.push(wave[:10])


def test_streaming_features_refuse_utterance_wide_settings():
    for bad in ({"normalize": True}, {"top_db": 80.0}, {"deltas": True}):
        with pytest.raises(ValueError, match="causal"):
            StreamingFeaturizer(**{**CAUSAL, **bad})


def model_for(config, seed=0):
    config = SD.effective_config(dict(config, seed=seed))
    m = SD.build(config).compile("ctc", "adam")
    m.build(52)
    rng = np.random.default_rng(seed)
    m.set_weights({k: w + rng.standard_normal(w.shape).astype(w.dtype) * 0.3      # peaked, varied outputs
                   for k, w in m.get_weights().items()})
    m.metadata = SD._metadata(config)
    return m


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("chunk_ms", [30, 100])
def test_streamed_digits_are_the_offline_greedy_decoding(wave, seed, chunk_ms):
    cfg = dict(SD.default_config(quick=True), streaming=True, hidden=24)
    m = model_for(cfg, seed)
    X = M.featurize(wave, **m.metadata["feature_params"])
    out = m.predict([X])
    offline = ctc_decode.greedy_decode(out, np.array([len(X)]), blank=SD.BLANK)[0] - 1
    emitted, stats = L.stream_wave(m, wave, chunk_ms)
    assert [d for _, d in emitted] == list(offline) and len(offline) > 0
    times = [t for t, _ in emitted]
    assert times == sorted(times) and stats["audio_seconds"] == pytest.approx(len(wave) / 16000)
    assert 0 <= stats["mean_delay_seconds"] <= stats["max_delay_seconds"] <= chunk_ms / 1000 + 0.05
    live = L.LiveTranscriber(m)                       # per-row scores equal the offline forward pass
    rows = live.features.push(wave)
    rows = np.concatenate([rows, live.features.flush()])
    scores = np.stack([live._step(r[None]) for r in rows])
    np.testing.assert_allclose(scores, out[0, :len(X)], rtol=1e-4, atol=1e-4)


def test_bidirectional_or_foreign_models_are_refused():
    m = model_for(dict(SD.default_config(quick=True), streaming=False))
    with pytest.raises(ValueError, match="cannot stream"):
        L.LiveTranscriber(m)
    m.metadata = {}
    with pytest.raises(ValueError, match="feature parameters"):
        L.LiveTranscriber(m)
