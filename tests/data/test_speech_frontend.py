"""Speech front end (seed §5.2.2): espeak-ng rendering, MFCC, CMVN, frame context, digit corpus, cache.

espeak-ng is a hard requirement of the test set-up (`make test` installs it through
`make system-deps`): when it is missing the tests that need it fail with the install command,
they are not skipped.
"""
import itertools

import numpy as np
import pytest

from rnnkit.data import audio as A
from rnnkit.data import cache as C
from rnnkit.data import speech as S
from rnnkit.data import speech_features as M

SR = 16000


@pytest.fixture(scope="module")
def espeak():
    if not A.espeak_available():
        pytest.fail(A.ESPEAK_INSTALL_HINT)
    return S


def tone(seconds=1.0, sr=SR, freq=220.0, seed=0):
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(seed)
    return (0.5 * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


# ---------------------------------------------------------------------------------- rendering

def test_render_speech_returns_float32_mono_at_the_requested_rate(espeak):
    w = A.render_speech("three one four", voice="en-us", sample_rate=SR)
    assert w.dtype == np.float32 and w.ndim == 1
    assert 0.5 < w.size / SR < 3.0                      # three words at 160 wpm
    assert 0.01 < np.abs(w).max() <= 1.0                # not silent, not clipped beyond full scale
    w8 = A.render_speech("three one four", voice="en-us", sample_rate=8000)
    assert w8.dtype == np.float32
    assert abs(w8.size / 8000 - w.size / SR) < 2e-3     # same duration, other rate


def test_render_is_deterministic_and_voice_speed_pitch_change_the_audio(espeak):
    a = A.render_speech("seven two", "en-us+f2", speed=160, pitch=50)
    assert np.array_equal(a, A.render_speech("seven two", "en-us+f2", speed=160, pitch=50))
    for other in (A.render_speech("seven two", "en-us+m3", speed=160, pitch=50),
                  A.render_speech("seven two", "en-us+f2", speed=160, pitch=20)):
        assert other.shape != a.shape or not np.allclose(other, a)
    slow = A.render_speech("seven two", "en-us+f2", speed=130)
    fast = A.render_speech("seven two", "en-us+f2", speed=190)
    assert slow.size > 1.2 * fast.size


def test_digit_voices_are_split_and_all_render_distinct_audio(espeak):
    assert len(S.DIGIT_VOICES) == len(set(S.DIGIT_VOICES)) >= 12
    assert not set(S.TRAIN_VOICES) & set(S.TEST_VOICES)
    assert S.DIGIT_VOICES == S.TRAIN_VOICES + S.TEST_VOICES and 3 <= len(S.TEST_VOICES) <= 5
    audio = {v: A.render_speech("five", v).tobytes() for v in S.DIGIT_VOICES}
    for v1, v2 in itertools.combinations(S.DIGIT_VOICES, 2):
        assert audio[v1] != audio[v2], f"{v1} and {v2} render identical audio"


def test_en_gb_variant_is_honoured(espeak):
    # espeak-ng 1.51 ignores variants on 'en-gb'; render_speech maps en-gb+V to the same voice as en+V
    gb_f3 = A.render_speech("one", "en-gb+f3")
    assert np.array_equal(gb_f3, A.render_speech("one", "en+f3"))
    assert not np.array_equal(gb_f3, A.render_speech("one", "en-gb"))


def test_text_starting_with_a_dash_is_spoken_not_parsed_as_an_option(espeak):
    assert A.render_speech("-x one", "en-us").size > SR // 10


def test_load_audio_mixes_down_and_resamples(tmp_path):
    import soundfile as sf
    stereo = np.stack([tone(0.5, 22050), tone(0.5, 22050, freq=330)], axis=1)
    path = tmp_path / "a.wav"
    sf.write(path, stereo, 22050)
    y = A.load_audio(path, sample_rate=SR)
    assert y.dtype == np.float32 and y.ndim == 1 and abs(y.size - SR // 2) <= 2
    native = A.load_audio(path, sample_rate=None)
    assert native.size == stereo.shape[0]
    np.testing.assert_allclose(native, stereo.mean(axis=1), atol=1e-4)   # 16-bit file
    with pytest.raises(FileNotFoundError, match="path"):
        A.load_audio(tmp_path / "missing.wav")


# ---------------------------------------------------------------------------------- features

def test_mfcc_shape_dtype_and_deltas():
    w = tone(1.0)
    m = M.mfcc(w)
    assert m.dtype == np.float32 and m.shape == (1 + SR // 160, 13)     # centred frames: 1 + N // hop
    assert np.isfinite(m).all()
    assert M.mfcc(w.astype(np.float64)).dtype == np.float32
    assert M.mfcc(w, n_mfcc=20).shape == (101, 20)
    assert M.mfcc(w, hop_ms=20).shape == (51, 13)
    d1, d2 = M.mfcc(w, deltas=True), M.mfcc(w, deltas=2)
    assert d1.shape == (101, 26) and d2.shape == (101, 39)
    np.testing.assert_array_equal(d1[:, :13], m)
    np.testing.assert_array_equal(d2[:, :26], d1)
    assert M.mfcc(w[:200], deltas=2).shape == (2, 39)                  # too short for slopes: zeros


def test_mfcc_frames_follow_duration_on_speech(espeak):
    w = A.render_speech("eight six", "en-us+f4")
    m = M.mfcc(w, sample_rate=SR)
    assert abs(m.shape[0] - w.size / (SR * 0.010)) <= 2
    # a voice's cepstra differ from another voice's on the same words
    m2 = M.mfcc(A.render_speech("eight six", "en-gb-scotland"), sample_rate=SR)
    assert np.abs(m.mean(0) - m2.mean(0)).max() > 1.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normalize_utterance_zero_mean_unit_variance(dtype):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((80, 13)) * rng.uniform(0.1, 30, 13) + rng.uniform(-50, 50, 13)).astype(dtype)
    x[:, 4] = 7.0                                                        # a constant coefficient
    z = M.normalize_utterance(x)
    assert z.dtype == dtype and z.shape == x.shape
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-5)
    var = z.var(axis=0)
    np.testing.assert_allclose(np.delete(var, 4), 1.0, atol=1e-3)
    np.testing.assert_array_equal(z[:, 4], 0.0)


def test_stack_context_exact_rows_and_first_frame_padding():
    T, F = 9, 2
    f = np.arange(T * F, dtype=np.float32).reshape(T, F)
    out = M.stack_context(f, k=3)                                        # [f_{t-3}, f_{t-2}, f_{t-1}, f_t]
    assert out.shape == (T, 4 * F) and out.dtype == np.float32
    for t in range(T):
        expected = np.concatenate([f[max(t - 3, 0)], f[max(t - 2, 0)], f[max(t - 1, 0)], f[t]])
        np.testing.assert_array_equal(out[t], expected)
    np.testing.assert_array_equal(out[0], np.tile(f[0], 4))              # padding repeats frame 0
    np.testing.assert_array_equal(out[1], np.concatenate([f[0], f[0], f[0], f[1]]))
    np.testing.assert_array_equal(out[5], f[2:6].ravel())

    past = M.stack_context(f, k=3, include_current=False)                # the seed's x_t exactly
    assert past.shape == (T, 3 * F)
    np.testing.assert_array_equal(past[5], f[2:5].ravel())
    np.testing.assert_array_equal(past[0], np.tile(f[0], 3))

    strided = M.stack_context(f, k=3, stride=3)
    assert strided.shape == (3, 4 * F)
    np.testing.assert_array_equal(strided, out[::3])
    assert M.stack_context(f, k=3, stride=4).shape == (3, 8)             # ceil(9 / 4)
    np.testing.assert_array_equal(M.stack_context(f, k=0), f)
    assert M.stack_context(f.astype(np.float64), k=2).dtype == np.float64


def test_featurize_chains_mfcc_normalize_and_context():
    w = tone(1.0)
    x = M.featurize(w)
    expected = M.stack_context(M.normalize_utterance(M.mfcc(w)), k=3, include_current=True, stride=3)
    np.testing.assert_array_equal(x, expected)
    assert x.shape == (34, 52) and x.dtype == np.float32                 # ceil(101 / 3), 13 * 4
    assert M.featurize(w, stride=1, context=2, deltas=True).shape == (101, 78)


# ---------------------------------------------------------------------------------- corpus

def test_digit_corpus_is_deterministic_for_a_seed(espeak):
    voices = S.TRAIN_VOICES[:4]
    a = S.make_digit_corpus(6, voices, seed=3, n_jobs=2)
    b = S.make_digit_corpus(6, voices, seed=3, n_jobs=1)
    assert len(a) == 6
    for (wa, la, va), (wb, lb, vb) in zip(a, b):
        assert va == vb and np.array_equal(la, lb) and np.array_equal(wa, wb)
        assert wa.dtype == np.float32 and wa.ndim == 1 and wa.size > 0
        assert la.dtype == np.int64 and 3 <= la.size <= 7 and la.min() >= 0 and la.max() <= 9
        assert va in voices
    c = S.make_digit_corpus(6, voices, seed=4)
    assert any(not np.array_equal(x[1], y[1]) for x, y in zip(a, c))


def test_corpus_labels_match_the_spoken_digits(espeak):
    assert S.digit_text([3, 1, 4]) == "three one four"
    specs = S.sample_digit_specs(4, S.TRAIN_VOICES, seed=11, min_len=2, max_len=4,
                                 speeds=(140, 150), pitches=(40, 45))
    corpus = S.make_digit_corpus(4, S.TRAIN_VOICES, seed=11, min_len=2, max_len=4,
                                 speeds=(140, 150), pitches=(40, 45))
    for spec, (wave, labels, voice) in zip(specs, corpus):
        assert [S.DIGIT_WORDS.index(w) for w in spec.text.split()] == labels.tolist()
        assert voice == spec.voice and 140 <= spec.speed <= 150 and 40 <= spec.pitch <= 45
        # the waveform is exactly espeak-ng speaking those words
        np.testing.assert_array_equal(
            wave, A.render_speech(S.digit_text(labels), voice, spec.speed, spec.pitch))


def test_digit_dataset_cache_round_trip(espeak, tmp_path, monkeypatch):
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path))
    assert C.cache_dir() == tmp_path
    voices = S.TRAIN_VOICES[:3]
    f1, l1, v1 = S.make_digit_dataset(5, voices, seed=7, n_jobs=2)
    assert len(f1) == len(l1) == len(v1) == 5
    assert all(f.dtype == np.float32 and f.ndim == 2 and f.shape[1] == 52 for f in f1)
    files = sorted(tmp_path.iterdir())
    assert len(files) == 1 and files[0].name.startswith("digits-") and files[0].suffix == ".npz"
    with np.load(files[0], allow_pickle=False) as z:                   # no pickled objects inside
        assert all(z[k].dtype != object for k in z.files)

    def boom(*args, **kwargs):
        raise AssertionError("cache hit expected, but audio was rendered")

    monkeypatch.setattr(A, "render_speech", boom)
    f2, l2, v2 = S.make_digit_dataset(5, voices, seed=7, n_jobs=2)
    assert v2 == v1
    for a, b in zip(f1, f2):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    for a, b in zip(l1, l2):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    monkeypatch.undo()
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path))

    # other parameters -> another file; a corrupt file is rebuilt with a warning
    S.make_digit_dataset(2, voices, seed=7, feature_params={"stride": 1})
    assert len(list(tmp_path.glob("digits-*.npz"))) == 2
    files[0].write_bytes(b"not an npz")
    with pytest.warns(RuntimeWarning, match="cache"):
        f3, _, _ = S.make_digit_dataset(5, voices, seed=7)
    assert all(np.array_equal(a, b) for a, b in zip(f1, f3))
    assert not list(tmp_path.glob("*.tmp"))


# ---------------------------------------------------------------------------------- bad input

def test_bad_input_fails_with_clear_messages(espeak):
    with pytest.raises(ValueError, match="text"):
        A.render_speech("")
    with pytest.raises(ValueError, match="text"):
        A.render_speech("   ")
    with pytest.raises(ValueError, match="voice"):
        A.render_speech("one", voice="xx-nosuchvoice")
    with pytest.raises(ValueError, match="variant"):
        A.render_speech("one", voice="en-us+nosuchvariant")            # espeak-ng would ignore it
    with pytest.raises(ValueError, match="speed"):
        A.render_speech("one", speed=10)
    with pytest.raises(ValueError, match="pitch"):
        A.render_speech("one", pitch=120)
    with pytest.raises(ValueError, match="1-D"):
        M.mfcc(np.zeros((2, 1600), np.float32))
    with pytest.raises(ValueError, match="empty"):
        M.mfcc(np.zeros(0, np.float32))
    with pytest.raises(ValueError, match="NaN"):
        M.mfcc(np.full(1600, np.nan, np.float32))
    with pytest.raises(ValueError, match="2-D"):
        M.stack_context(np.zeros(10, np.float32))
    with pytest.raises(ValueError, match="2-D"):
        M.normalize_utterance(np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match="no frames"):
        M.stack_context(np.zeros((4, 2), np.float32), k=0, include_current=False)
    with pytest.raises(ValueError, match="voices"):
        S.make_digit_corpus(2, [], seed=0)
    with pytest.raises(ValueError, match="max_len"):
        S.make_digit_corpus(2, ["en-us"], seed=0, min_len=5, max_len=3)
    with pytest.raises(ValueError, match="variant"):                    # checked before rendering
        S.make_digit_corpus(2, ["en-us+nosuch"], seed=0)
    with pytest.raises(TypeError, match="feature_params"):
        S.make_digit_dataset(2, ["en-us"], seed=0, feature_params={"nope": 1}, cache=False)


def test_missing_espeak_names_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))                            # no espeak-ng on PATH
    assert not A.espeak_available()
    with pytest.raises(RuntimeError, match="apt-get install espeak-ng"):
        A.render_speech("one two")
