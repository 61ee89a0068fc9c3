"""Speech augmentation: each transform does what it says (measured on the output), and the whole
chain is a deterministic function of the seed."""
import numpy as np
import pytest

from rnnkit.data import augment as G

SR = 16000


def voice(seconds=1.0, seed=0):
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(seed)
    return (0.3 * np.sin(2 * np.pi * 200 * t) * (1 + np.sin(2 * np.pi * 3 * t))
            + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.mark.parametrize("snr", [-5.0, 0.0, 10.0, 20.0])
@pytest.mark.parametrize("kind", ["white", "pink"])
def test_add_noise_hits_the_snr(snr, kind):
    y = voice()
    rng = np.random.default_rng(1)
    noise = G.white_noise(len(y), rng) if kind == "white" else G.pink_noise(len(y), rng)
    mixed = G.add_noise(y, noise, snr).astype(np.float64)
    got = 10 * np.log10(np.mean(y.astype(np.float64) ** 2) / np.mean((mixed - y) ** 2))
    assert abs(got - snr) < 1e-3


def test_pink_noise_power_falls_as_one_over_f():
    x = G.pink_noise(2 ** 16, np.random.default_rng(0)).astype(np.float64)
    p = np.abs(np.fft.rfft(x)) ** 2
    f = np.arange(p.size)
    low, high = p[(f > 100) & (f < 200)].mean(), p[(f > 10000) & (f < 20000)].mean()
    assert 50 < low / high < 200        # 1/f: a 100x higher frequency carries ~100x less power


def test_speed_perturb_changes_length_and_pitch():
    y = voice()
    fast = G.speed_perturb(y, 1.25, SR)
    assert abs(len(fast) - len(y) / 1.25) <= 2
    peak = lambda w: np.argmax(np.abs(np.fft.rfft(w))) * SR / len(w)   # noqa: E731
    assert abs(peak(fast) - 1.25 * peak(y)) < 5
    np.testing.assert_array_equal(G.speed_perturb(y, 1.0, SR), y)
    with pytest.raises(ValueError, match="factor"):
        G.speed_perturb(y, 3.0)


def test_room_impulse_decays_60_db_at_rt60_and_reverb_keeps_rms():
    rng = np.random.default_rng(0)
    rir = G.room_impulse(SR, 0.5, rng).astype(np.float64)
    assert len(rir) == SR // 2 and rir[0] == 1.0
    early, late = rir[200:1800], rir[-1600:]
    drop = 10 * np.log10(np.mean(early ** 2) / np.mean(late ** 2))
    assert 45 < drop < 65                                           # ~ -54 dB between those windows
    y = voice()
    wet = G.reverberate(y, rir)
    assert wet.shape == y.shape and abs(np.sqrt(np.mean(wet ** 2)) - np.sqrt(np.mean(y ** 2))) < 1e-4
    delta = np.zeros(100, np.float32)
    delta[0] = 1
    np.testing.assert_allclose(G.reverberate(y, delta), y, atol=1e-6)


def test_babble_mixes_other_utterances():
    others = [voice(0.3, seed=s) for s in range(3)]
    b = G.babble(others, 5000, np.random.default_rng(0), talkers=4)
    assert b.shape == (5000,) and abs(b.std() - 1) < 1e-3
    with pytest.raises(ValueError, match="other utterance"):
        G.babble([], 10, np.random.default_rng(0))


def test_gain_and_silence():
    y = voice(0.1)
    np.testing.assert_allclose(G.gain(y, -20), y * 0.1, rtol=1e-6)
    p = G.pad_silence(y, 0.25, 0.5, SR)
    assert len(p) == len(y) + SR // 4 + SR // 2 and not p[:SR // 4].any() and not p[-SR // 2:].any()


def test_spec_augment_masks_spans_and_bands():
    x = np.ones((50, 13), np.float32)
    m = G.spec_augment(x, np.random.default_rng(3), time_masks=2, max_time=5, freq_masks=2, max_freq=3)
    zero_rows, zero_cols = (m == 0).all(axis=1), (m == 0).all(axis=0)
    assert 0 < zero_rows.sum() <= 10 and 0 < zero_cols.sum() <= 6
    assert (x == 1).all()                                            # the input is not modified
    stacked = np.ones((50, 13 * 4), np.float32)
    m = G.spec_augment(stacked, np.random.default_rng(3), time_masks=0, freq_masks=1, max_freq=3, period=13)
    cols = (m == 0).all(axis=0).reshape(4, 13)
    assert cols.any() and (cols == cols[0]).all()                    # the same band in every block


def test_augment_is_deterministic_under_a_seed_and_varies_across_seeds():
    y, others = voice(), [voice(0.5, seed=s) for s in range(1, 4)]
    a = G.augment(y, np.random.default_rng(7), SR, others)
    b = G.augment(y, np.random.default_rng(7), SR, others)
    c = G.augment(y, np.random.default_rng(8), SR, others)
    np.testing.assert_array_equal(a, b)
    assert a.shape != c.shape or not np.array_equal(a, c)
    clean = G.augment(y, np.random.default_rng(7), SR, settings={"speed_prob": 0, "gain_db": [0, 0],
                      "silence_s": [0, 0], "reverb_prob": 0, "noise_prob": 0})
    np.testing.assert_array_equal(clean, y)
    with pytest.raises(ValueError, match="unknown"):
        G.augment(y, np.random.default_rng(0), settings={"echo": 1})
