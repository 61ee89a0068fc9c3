"""Data augmentation for speech: make clean synthetic utterances look like recordings.

Waveform transforms (float32 mono, any sample rate), each a pure function of its inputs; the
random ones take a ``numpy.random.Generator`` so that a seed fixes the result:

``speed_perturb``   play faster or slower: tempo and pitch move together (resampling, as Kaldi's
                    speed perturbation does), factor 0.9 -> 11% longer and lower
``white_noise``, ``pink_noise`` (1/f power), ``babble`` (several other utterances mixed)
``add_noise``       mix a noise in at a signal-to-noise ratio in dB (powers over the whole signal)
``room_impulse``    a synthetic room impulse response: a direct path, then exponentially decaying
                    noise reaching -60 dB at ``rt60`` seconds; ``reverberate`` convolves with it
``gain``, ``pad_silence``

Feature transform: ``spec_augment`` masks random time spans and feature bands (SpecAugment's
masking, Park et al. 2019) of a (frames, features) matrix.

``augment`` draws a whole chain from ``AUGMENT_DEFAULTS``-style settings. Noise and reverberation
values are typical of augmentation recipes; they are not measured from real rooms.
"""
from __future__ import annotations

import numpy as np

from . import audio

__all__ = ["AUGMENT_DEFAULTS", "speed_perturb", "white_noise", "pink_noise", "babble", "add_noise",
           "room_impulse", "reverberate", "gain", "pad_silence", "spec_augment", "augment"]

#: Settings of ``augment`` (each probability is that of applying the transform to an utterance).
AUGMENT_DEFAULTS = {
    "speed": [0.8, 1.25], "speed_prob": 0.7,             # factor range: formants and pitch move too
    "gain_db": [-15.0, 6.0],                              # every utterance
    "silence_s": [0.0, 0.6],                              # leading and trailing silence, each drawn
    "reverb_prob": 0.4, "rt60": [0.2, 0.9],               # seconds
    "noise_prob": 0.7, "snr_db": [0.0, 30.0], "noise_kinds": ["white", "pink", "babble"],
}


def _f32(y):
    return np.ascontiguousarray(y, dtype=np.float32)


def speed_perturb(y, factor: float, sample_rate: int = 16000) -> np.ndarray:
    """``y`` played ``factor`` times faster (shorter and higher for factor > 1).

    Tempo and pitch move together, as in Kaldi's speed perturbation: the waveform is resampled
    (soxr) from ``sample_rate * factor`` to ``sample_rate`` Hz, so factor 0.9 makes it 11% longer and
    lower.

    Parameters
    ----------
    y : array_like
        Mono waveform, shape ``(n,)``.
    factor : float
        Speed factor in [0.5, 2]; 1 returns ``y`` unchanged (as float32).
    sample_rate : int, default 16000
        Sample rate of ``y`` in Hz (that of the output too).

    Returns
    -------
    numpy.ndarray
        ``float32``, shape ``(about n / factor,)``.

    Raises
    ------
    ValueError
        If ``factor`` is outside [0.5, 2].

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.data.augment import speed_perturb
    >>> y = np.sin(2 * np.pi * 440 * np.arange(16000) / 16000).astype(np.float32)
    >>> speed_perturb(y, 0.9).shape, speed_perturb(y, 1.25).shape
    ((17778,), (12800,))
    """
    factor = float(factor)
    if not 0.5 <= factor <= 2.0:
        raise ValueError(f"factor: expected a speed factor in [0.5, 2], got {factor}")
    if factor == 1.0:
        return _f32(y)
    return audio._resample(_f32(y), int(round(sample_rate * factor)), sample_rate)


def white_noise(n: int, rng) -> np.ndarray:
    """Gaussian white noise of unit variance.

    Parameters
    ----------
    n : int
        Number of samples.
    rng : numpy.random.Generator
        Source of the noise.

    Returns
    -------
    numpy.ndarray
        ``float32``, shape ``(n,)``: standard normal samples.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.data.augment import white_noise
    >>> w = white_noise(1000, np.random.default_rng(0))
    >>> w.dtype, w.shape, round(float(w.std()), 1)
    (dtype('float32'), (1000,), 1.0)
    """
    return rng.standard_normal(int(n)).astype(np.float32)


def pink_noise(n: int, rng) -> np.ndarray:
    """Noise whose power falls as 1/f (white noise shaped in the frequency domain), unit variance.

    Parameters
    ----------
    n : int
        Number of samples.
    rng : numpy.random.Generator
        Source of the white noise that is shaped.

    Returns
    -------
    numpy.ndarray
        ``float32``, shape ``(n,)``, standard deviation 1.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.data.augment import pink_noise
    >>> p = pink_noise(1000, np.random.default_rng(0))
    >>> p.dtype, p.shape, round(float(p.std()), 2)
    (dtype('float32'), (1000,), 1.0)
    """
    n = int(n)
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spec.size, dtype=np.float64)
    f[0] = 1.0
    y = np.fft.irfft(spec / np.sqrt(f), n)
    return (y / (y.std() + 1e-12)).astype(np.float32)


def babble(others, n: int, rng, talkers: int = 4) -> np.ndarray:
    """``talkers`` waveforms drawn from ``others``, summed: the murmur of a room of people.

    Each drawn waveform (with replacement) is looped to ``n`` samples from a random start; the sum is
    scaled to unit standard deviation.

    Parameters
    ----------
    others : sequence of array_like
        Mono waveforms (other utterances), each of shape ``(n_i,)``, at least one.
    n : int
        Number of samples of the result.
    rng : numpy.random.Generator
        Draws the talkers and their start offsets.
    talkers : int, default 4
        Number of waveforms mixed.

    Returns
    -------
    numpy.ndarray
        ``float32``, shape ``(n,)``, standard deviation 1.

    Raises
    ------
    ValueError
        If ``others`` is empty.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.data.augment import babble
    >>> rng = np.random.default_rng(0)
    >>> others = [rng.standard_normal(800), rng.standard_normal(1200)]
    >>> b = babble(others, 1000, rng)
    >>> b.dtype, b.shape, round(float(b.std()), 2)
    (dtype('float32'), (1000,), 1.0)
    """
    if not others:
        raise ValueError("babble: needs at least one other utterance to mix")
    out = np.zeros(int(n), dtype=np.float64)
    for k in rng.integers(0, len(others), int(talkers)):
        w = np.asarray(others[k], dtype=np.float64)
        start = int(rng.integers(0, len(w)))
        out += np.resize(np.roll(w, -start), int(n))
    return (out / (out.std() + 1e-12)).astype(np.float32)


def add_noise(y, noise, snr_db: float) -> np.ndarray:
    """``y + a * noise`` with ``a`` such that power(y) / power(a * noise) is ``snr_db`` dB.

    Powers are mean squares over the whole signal. A silent ``y`` or ``noise`` leaves ``y``
    unchanged.

    Parameters
    ----------
    y : array_like
        The clean signal, shape ``(n,)``.
    noise : array_like
        The noise, same shape as ``y``.
    snr_db : float
        Signal-to-noise ratio of the mix in dB (0: as loud as the signal; 30: barely audible).

    Returns
    -------
    numpy.ndarray
        ``float32``, shape ``(n,)``: the noisy signal.

    Raises
    ------
    ValueError
        If ``noise`` and ``y`` differ in shape.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.data.augment import add_noise, white_noise
    >>> y = np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)
    >>> noisy = add_noise(y, white_noise(len(y), np.random.default_rng(0)), snr_db=10)
    >>> round(float(10 * np.log10(np.mean(y ** 2) / np.mean((noisy - y) ** 2))), 1)
    10.0
    """
    y, noise = np.asarray(y, dtype=np.float64), np.asarray(noise, dtype=np.float64)
    if noise.shape != y.shape:
        raise ValueError(f"noise: expected the shape of the signal {y.shape}, got {noise.shape}")
    p_sig, p_noise = np.mean(y ** 2), np.mean(noise ** 2)
    if p_noise == 0 or p_sig == 0:
        return _f32(y)
    a = np.sqrt(p_sig / (p_noise * 10 ** (float(snr_db) / 10)))
    return _f32(y + a * noise)


def room_impulse(sample_rate: int, rt60: float, rng) -> np.ndarray:
    """A synthetic room impulse response of ``rt60`` seconds.

    It is 1 at t=0 (the direct sound), then after 2-10 ms of silence Gaussian noise under an
    envelope exp(-6.9 t / rt60) (-60 dB at rt60). Give it to :func:`reverberate`.

    Parameters
    ----------
    sample_rate : int
        Sample rate in Hz.
    rt60 : float
        Reverberation time in seconds (decay to -60 dB), 0.05..3.
    rng : numpy.random.Generator
        Draws the noise tail and the length of the initial gap.

    Returns
    -------
    numpy.ndarray
        ``float32``, shape ``(int(rt60 * sample_rate),)``.

    Raises
    ------
    ValueError
        If ``rt60`` is outside 0.05..3 seconds.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.data.augment import room_impulse
    >>> rir = room_impulse(16000, 0.3, np.random.default_rng(0))
    >>> rir.dtype, rir.shape, float(rir[0])
    (dtype('float32'), (4800,), 1.0)
    """
    rt60 = float(rt60)
    if not 0.05 <= rt60 <= 3.0:
        raise ValueError(f"rt60: expected 0.05..3 seconds, got {rt60}")
    n = int(rt60 * sample_rate)
    t = np.arange(n) / sample_rate
    tail = rng.standard_normal(n) * np.exp(-6.9 * t / rt60) * 0.3
    tail[:int(rng.uniform(0.002, 0.010) * sample_rate)] = 0.0
    tail[0] = 1.0
    return tail.astype(np.float32)


def reverberate(y, rir) -> np.ndarray:
    """``y`` convolved with ``rir``, scaled back to ``y``'s RMS.

    The result has the length of ``y``: the tail past its end is cut. The convolution runs as an FFT
    product.

    Parameters
    ----------
    y : array_like
        Mono waveform, shape ``(n,)``.
    rir : array_like
        Room impulse response, shape ``(m,)`` (e.g. from :func:`room_impulse`).

    Returns
    -------
    numpy.ndarray
        ``float32``, shape ``(n,)``, with the RMS of ``y``.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.data.augment import reverberate, room_impulse
    >>> y = np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)
    >>> wet = reverberate(y, room_impulse(16000, 0.3, np.random.default_rng(0)))
    >>> wet.shape, round(float(np.sqrt(np.mean(wet ** 2))), 4)
    ((16000,), 0.7071)
    """
    y, rir = np.asarray(y, dtype=np.float64), np.asarray(rir, dtype=np.float64)
    n = len(y) + len(rir) - 1
    size = 1 << (n - 1).bit_length()
    wet = np.fft.irfft(np.fft.rfft(y, size) * np.fft.rfft(rir, size), size)[:len(y)]
    rms_y, rms_wet = np.sqrt(np.mean(y ** 2)), np.sqrt(np.mean(wet ** 2))
    return _f32(wet * (rms_y / rms_wet) if rms_wet > 0 else wet)


def gain(y, db: float) -> np.ndarray:
    """``y`` scaled by ``db`` decibels (amplitude factor ``10 ** (db / 20)``).

    Parameters
    ----------
    y : array_like
        Waveform, any shape.
    db : float
        Gain in dB: positive louder, negative quieter (-6 dB halves the amplitude, about).

    Returns
    -------
    numpy.ndarray
        ``float32``, the shape of ``y``.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.data.augment import gain
    >>> gain(np.ones(3), 20).tolist()
    [10.0, 10.0, 10.0]
    >>> round(float(gain(np.ones(1), -6.0)[0]), 3)
    0.501
    """
    return _f32(np.asarray(y, dtype=np.float32) * np.float32(10 ** (float(db) / 20)))


def pad_silence(y, lead_s: float, trail_s: float, sample_rate: int = 16000) -> np.ndarray:
    """``y`` with zeros (silence) added before and after it.

    Parameters
    ----------
    y : array_like
        Mono waveform, shape ``(n,)``.
    lead_s : float
        Leading silence in seconds.
    trail_s : float
        Trailing silence in seconds.
    sample_rate : int, default 16000
        Sample rate of ``y`` in Hz.

    Returns
    -------
    numpy.ndarray
        ``float32``, shape ``(int(lead_s * sample_rate) + n + int(trail_s * sample_rate),)``.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.data.augment import pad_silence
    >>> pad_silence(np.ones(16000), 0.25, 0.5).shape
    (28000,)
    """
    lead, trail = int(float(lead_s) * sample_rate), int(float(trail_s) * sample_rate)
    return _f32(np.concatenate([np.zeros(lead, np.float32), np.asarray(y, np.float32), np.zeros(trail, np.float32)]))


def spec_augment(features, rng, time_masks: int = 2, max_time: int = 5, freq_masks: int = 2,
                 max_freq: int = 3, value: float = 0.0, period: int | None = None) -> np.ndarray:
    """A copy of ``features`` with random time spans and feature bands masked (SpecAugment).

    ``time_masks`` spans of up to ``max_time`` frames and ``freq_masks`` bands of up to ``max_freq``
    dims are set to ``value`` (0: the mean of normalised features), as in SpecAugment's masking
    (Park et al. 2019). Each width is drawn in ``0..max``; a mask as wide as the axis is skipped.

    Parameters
    ----------
    features : array_like
        Feature matrix, shape ``(frames, dims)``.
    rng : numpy.random.Generator
        Draws the mask widths and positions.
    time_masks : int, default 2
        Number of time spans masked.
    max_time : int, default 5
        Largest width of a time span, in frames.
    freq_masks : int, default 2
        Number of feature bands masked.
    max_freq : int, default 3
        Largest width of a band, in dims.
    value : float, default 0.0
        The value written in the masks.
    period : int, optional
        The dims repeat in blocks of this size (stacked context frames, e.g. 13 MFCCs x 4), and a
        band masks the same coefficients in every block. ``dims`` must be a multiple of it.

    Returns
    -------
    numpy.ndarray
        Shape ``(frames, dims)``, the dtype of ``features``; ``features`` itself is not changed.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.data.augment import spec_augment
    >>> x = np.ones((20, 12))
    >>> masked = spec_augment(x, np.random.default_rng(0), period=6)
    >>> masked.shape, bool((masked == 0).any()), bool((x == 1).all())
    ((20, 12), True, True)
    >>> bool((masked[:, :6] == masked[:, 6:]).all())
    True
    """
    x = np.array(features, copy=True)
    T, D = x.shape
    if period is not None:
        blocks = x.reshape(T, -1, int(period))           # raises if D is not a multiple of period
        masked = spec_augment(blocks.reshape(T, -1), rng, time_masks, max_time, 0, 0, value)
        blocks = masked.reshape(blocks.shape)
        for _ in range(int(freq_masks)):
            w = int(rng.integers(0, int(max_freq) + 1))
            if 0 < w < period:
                s = int(rng.integers(0, period - w + 1))
                blocks[:, :, s:s + w] = value
        return blocks.reshape(T, D)
    for _ in range(int(time_masks)):
        w = int(rng.integers(0, int(max_time) + 1))
        if 0 < w < T:
            s = int(rng.integers(0, T - w + 1))
            x[s:s + w] = value
    for _ in range(int(freq_masks)):
        w = int(rng.integers(0, int(max_freq) + 1))
        if 0 < w < D:
            s = int(rng.integers(0, D - w + 1))
            x[:, s:s + w] = value
    return x


def _uniform(rng, lo_hi):
    lo, hi = (float(v) for v in lo_hi)
    return float(rng.uniform(lo, hi)) if hi > lo else lo


def augment(y, rng, sample_rate: int = 16000, others=(), settings=None) -> np.ndarray:
    """One random chain: speed, gain, leading/trailing silence, reverberation, noise.

    The transforms apply in that order, with the probabilities and ranges of ``settings``
    (defaults: ``AUGMENT_DEFAULTS``); the noise is white, pink or babble from ``others``. The same
    generator state gives the same output.

    Parameters
    ----------
    y : array_like
        Mono waveform, shape ``(n,)``.
    rng : numpy.random.Generator
        Draws every choice of the chain.
    sample_rate : int, default 16000
        Sample rate of ``y`` in Hz.
    others : sequence of array_like, default ()
        Other utterances for babble noise; without them babble is not drawn.
    settings : dict, optional
        Overrides of ``AUGMENT_DEFAULTS`` entries (``speed``, ``speed_prob``, ``gain_db``,
        ``silence_s``, ``reverb_prob``, ``rt60``, ``noise_prob``, ``snr_db``, ``noise_kinds``).

    Returns
    -------
    numpy.ndarray
        ``float32``, shape ``(n',)``: the length changes with the speed factor and the silences.

    Raises
    ------
    ValueError
        If ``settings`` has a key that ``AUGMENT_DEFAULTS`` lacks.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.data.augment import augment
    >>> y = np.sin(2 * np.pi * 440 * np.arange(16000) / 16000).astype(np.float32)
    >>> a = augment(y, np.random.default_rng(0), settings={"speed_prob": 0.0, "silence_s": [0.0, 0.0]})
    >>> a.dtype, a.shape
    (dtype('float32'), (16000,))
    >>> np.array_equal(augment(y, np.random.default_rng(1)), augment(y, np.random.default_rng(1)))
    True
    """
    s = {**AUGMENT_DEFAULTS, **(settings or {})}
    unknown = sorted(set(s) - set(AUGMENT_DEFAULTS))
    if unknown:
        raise ValueError(f"augment settings: unknown {', '.join(unknown)}; known: {', '.join(AUGMENT_DEFAULTS)}")
    y = _f32(y)
    if rng.random() < s["speed_prob"]:
        y = speed_perturb(y, _uniform(rng, s["speed"]), sample_rate)
    y = gain(y, _uniform(rng, s["gain_db"]))
    y = pad_silence(y, _uniform(rng, s["silence_s"]), _uniform(rng, s["silence_s"]), sample_rate)
    if rng.random() < s["reverb_prob"]:
        y = reverberate(y, room_impulse(sample_rate, _uniform(rng, s["rt60"]), rng))
    if rng.random() < s["noise_prob"]:
        kinds = [k for k in s["noise_kinds"] if k != "babble" or len(others)]
        kind = kinds[int(rng.integers(0, len(kinds)))]
        noise = (white_noise(len(y), rng) if kind == "white" else pink_noise(len(y), rng) if kind == "pink"
                 else babble(others, len(y), rng))
        y = add_noise(y, noise, _uniform(rng, s["snr_db"]))
    return y
