"""Speech features (seed §5.2.2): MFCCs, per-utterance normalisation, frame context.

The course text describes speech recognition as an RNN over frames of audio features, each
input being a short window of past MFCC frames::

    x_t = [MFCC_{t-3}, MFCC_{t-2}, MFCC_{t-1}]

``mfcc``                waveform -> ``(frames, n_mfcc)`` MFCCs (``librosa.feature.mfcc``), optional deltas
``normalize_utterance`` per-utterance mean/variance normalisation (CMVN) per coefficient
``stack_context``       ``x_t = [MFCC_{t-k}, ..., MFCC_{t-1}, MFCC_t]`` with optional frame subsampling
``featurize``           mfcc -> normalize_utterance -> stack_context, with defaults for CTC training

``librosa`` is imported inside ``mfcc``, so importing this module stays cheap.
"""
from __future__ import annotations

import numpy as np

from ._checks import _check_int

__all__ = ["mfcc", "normalize_utterance", "stack_context", "featurize"]


def _check_wave(wave, name: str = "wave") -> np.ndarray:
    arr = np.asarray(wave)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D mono waveform, got shape {arr.shape} "
                         "(mix channels down first, e.g. wave.mean(axis=0 or 1))")
    if arr.size == 0:
        raise ValueError(f"{name}: empty waveform (0 samples)")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"{name}: expected a float waveform, got dtype {arr.dtype}")
    if arr.dtype != np.float32 and arr.dtype != np.float64:
        arr = arr.astype(np.float32)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: contains NaN or inf")
    return arr


def _check_features(features, name: str = "features") -> np.ndarray:
    arr = np.asarray(features)
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array (frames, coefficients), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name}: empty feature matrix, shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        if not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"{name}: expected a float array, got dtype {arr.dtype}")
        arr = arr.astype(np.float32)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: contains NaN or inf")
    return arr


def mfcc(wave, sample_rate: int = 16000, n_mfcc: int = 13, frame_ms: float = 25, hop_ms: float = 10,
         deltas: bool | int = False, n_mels: int = 40, top_db: float | None = 80.0) -> np.ndarray:
    """MFCCs of a mono waveform: ``(frames, n_mfcc * (1 + order))`` float32, via librosa.

    Frames of ``frame_ms`` (25 ms, Hann window) every ``hop_ms`` (10 ms), FFT size the next power
    of two, ``n_mels`` mel bands (40 suits 16 kHz speech; librosa's default 128 leaves empty bands
    with a 25 ms window), DCT-II to ``n_mfcc`` coefficients (``librosa.feature.mfcc``). Frames are
    centred, so there are ``1 + len(wave) // hop`` frames, i.e. about duration / hop.

    Parameters
    ----------
    wave : array_like
        Mono waveform, shape ``(n_samples,)``, float (integers are converted to float32); finite.
    sample_rate : int, default 16000
        Sample rate of ``wave`` in Hz, 1000..192000.
    n_mfcc : int, default 13
        Number of cepstral coefficients, at least 1.
    frame_ms : float, default 25
        Frame (window) length in milliseconds.
    hop_ms : float, default 10
        Frame step in milliseconds.
    deltas : bool or int, default False
        ``False``/0 none; ``True``/1 appends first differences (``librosa.feature.delta``, 9-frame
        window); 2 appends first and second differences.
    n_mels : int, default 40
        Number of mel bands, at least ``n_mfcc``.
    top_db : float or None, default 80.0
        The log-mel energies are floored at the utterance's loudest minus ``top_db`` dB (librosa's
        default, 80); None floors each at 1e-10 only, so a frame depends on its own samples alone,
        which a streaming front end needs (``speech_stream``).

    Returns
    -------
    numpy.ndarray
        ``float32``, shape ``(1 + n_samples // hop, n_mfcc * (1 + deltas))``, with ``hop`` the frame
        step in samples (160 at 16 kHz and 10 ms).

    Raises
    ------
    ValueError
        If ``wave`` is not 1-D, is empty or has NaN or inf; if an integer argument is out of range;
        if ``frame_ms`` or ``hop_ms`` is not positive or too short for ``sample_rate``.
    TypeError
        If ``wave`` is not numeric or an integer argument is not an integer.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.data.speech_features import mfcc
    >>> wave = 0.5 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)
    >>> m = mfcc(wave)
    >>> m.shape, m.dtype
    ((101, 13), dtype('float32'))
    >>> mfcc(wave, deltas=2).shape
    (101, 39)
    """
    wave = _check_wave(wave)
    sample_rate = _check_int(sample_rate, "sample_rate", 1000, 192000)
    n_mfcc = _check_int(n_mfcc, "n_mfcc", 1)
    n_mels = _check_int(n_mels, "n_mels", n_mfcc)
    order = _check_int(int(deltas) if isinstance(deltas, (bool, np.bool_)) else deltas, "deltas", 0, 2)
    if not (0 < frame_ms) or not (0 < hop_ms):
        raise ValueError(f"frame_ms, hop_ms: expected positive durations, got {frame_ms}, {hop_ms}")
    win = int(round(sample_rate * frame_ms / 1000.0))
    hop = int(round(sample_rate * hop_ms / 1000.0))
    if win < 2 or hop < 1:
        raise ValueError(f"frame_ms/hop_ms too short for sample_rate {sample_rate}: "
                         f"window {win} samples, hop {hop} samples")
    n_fft = 1 << (win - 1).bit_length()
    import librosa
    y = np.ascontiguousarray(wave, dtype=np.float32)
    n_frames = 1 + y.size // hop
    if y.size < n_fft:
        # librosa warns on signals shorter than n_fft; centred frames are zero-padded anyway
        # (pad_mode="constant"), so padding the end with zeros leaves the kept frames unchanged.
        y = np.concatenate([y, np.zeros(n_fft - y.size, np.float32)])
    mel = librosa.feature.melspectrogram(y=y, sr=sample_rate, n_fft=n_fft, win_length=win, hop_length=hop,
                                         n_mels=n_mels, center=True, pad_mode="constant")
    m = librosa.feature.mfcc(S=librosa.power_to_db(mel, top_db=top_db), n_mfcc=n_mfcc)
    m = m[:, :n_frames]
    parts = [m]
    if order:
        width = min(9, m.shape[1] if m.shape[1] % 2 else m.shape[1] - 1)
        if width >= 3:
            for o in range(1, order + 1):
                parts.append(librosa.feature.delta(m, width=width, order=o, mode="interp"))
        else:                       # 1-2 frames: no meaningful slope
            parts.extend(np.zeros_like(m) for _ in range(order))
    out = np.concatenate(parts, axis=0).T
    return np.ascontiguousarray(out, dtype=np.float32)


def normalize_running(features, eps: float = 1e-5) -> np.ndarray:
    """Causal CMVN: frame t is normalised by the mean and variance of frames 0..t.

    The statistics are float64 running sums, so frame t never depends on later audio; frame 0
    becomes 0. What a streaming recogniser can compute (``speech_stream.StreamingFeaturizer`` gives
    the same numbers): ``(x_t - mean_{0..t}) / sqrt(var_{0..t} + eps)`` per coefficient.

    Parameters
    ----------
    features : array_like
        Feature matrix, shape ``(frames, coefficients)``, finite.
    eps : float, default 1e-5
        Added to the variance before the square root.

    Returns
    -------
    numpy.ndarray
        Shape ``(frames, coefficients)``, the input's float dtype (float32 for integer input).

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.data.speech_features import normalize_running
    >>> normalize_running(np.array([[1.0], [3.0], [5.0]]))
    array([[0.    ],
           [1.    ],
           [1.2247]])
    """
    x = _check_features(features)
    n = np.arange(1, x.shape[0] + 1, dtype=np.float64)[:, None]
    s1 = np.cumsum(x, axis=0, dtype=np.float64)
    s2 = np.cumsum(np.square(x, dtype=np.float64), axis=0)
    mean = s1 / n
    var = np.maximum(s2 / n - mean * mean, 0.0)
    return ((x - mean) / np.sqrt(var + eps)).astype(x.dtype, copy=False)


def normalize_utterance(features, eps: float = 1e-5) -> np.ndarray:
    """Cepstral mean and variance normalisation over one utterance, per coefficient.

    ``(x - mean_t x) / sqrt(var_t x + eps)``; statistics accumulated in float64, result in the
    input's dtype. Removes the channel/voice offset that a constant spectral tilt puts into the
    cepstra. A constant coefficient becomes 0.

    Parameters
    ----------
    features : array_like
        Feature matrix of one utterance, shape ``(frames, coefficients)``, finite.
    eps : float, default 1e-5
        Added to the variance before the square root; non-negative.

    Returns
    -------
    numpy.ndarray
        Shape ``(frames, coefficients)``, the input's float dtype (float32 for integer input); each
        coefficient has mean 0 and variance about 1.

    Raises
    ------
    ValueError
        If ``features`` is not a non-empty 2-D finite array or ``eps`` is negative.
    TypeError
        If ``features`` is not numeric.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.data.speech_features import normalize_utterance
    >>> x = np.random.default_rng(0).normal(3.0, 2.0, size=(100, 13))
    >>> z = normalize_utterance(x)
    >>> z.shape, bool(np.allclose(z.mean(axis=0), 0)), bool(np.allclose(z.std(axis=0), 1))
    ((100, 13), True, True)
    """
    x = _check_features(features)
    if not eps >= 0:
        raise ValueError(f"eps: expected a non-negative number, got {eps}")
    mean = x.mean(axis=0, dtype=np.float64)
    var = x.var(axis=0, dtype=np.float64)
    scale = 1.0 / np.sqrt(var + eps)
    return ((x - mean) * scale).astype(x.dtype, copy=False)


def stack_context(features, k: int = 3, include_current: bool = True, stride: int = 1) -> np.ndarray:
    """Frame context, seed §5.2.2: row ``t`` is ``[f_{t-k}, ..., f_{t-1}, f_t]``.

    The seed writes ``x_t = [MFCC_{t-3}, MFCC_{t-2}, MFCC_{t-1}]`` (k = 3, past frames only); that
    is ``include_current=False``. The default ``include_current=True`` appends ``MFCC_t`` as well,
    so the model also sees the frame it labels. Frames before the start repeat frame 0. Output
    shape ``(ceil(T / stride), F * (k + include_current))``, same dtype as the input.

    stride: keep every ``stride``-th row (rows 0, s, 2s, ...). Frames come every 10 ms; a stride of
    2-3 gives a 20-30 ms frame rate, which makes recurrent/CTC training 2-3x cheaper while digits
    (>= ~150 ms each) still get several frames apiece. With ``k + 1 >= stride`` the kept rows still
    cover every original frame, so subsampling after stacking loses no frames.

    Parameters
    ----------
    features : array_like
        Feature matrix, shape ``(T, F)``, finite.
    k : int, default 3
        Number of past frames stacked, at least 0.
    include_current : bool, default True
        Append frame ``t`` itself after its ``k`` past frames.
    stride : int, default 1
        Keep every ``stride``-th row, at least 1.

    Returns
    -------
    numpy.ndarray
        Shape ``(ceil(T / stride), F * (k + include_current))``, the input's dtype.

    Raises
    ------
    ValueError
        If ``features`` is not a non-empty 2-D finite array, ``k`` or ``stride`` is out of range, or
        ``k=0`` with ``include_current=False`` (no frames selected).
    TypeError
        If ``features`` is not numeric or ``k`` or ``stride`` is not an integer.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.data.speech_features import stack_context
    >>> f = np.arange(8.0).reshape(4, 2)
    >>> stack_context(f, k=1)
    array([[0., 1., 0., 1.],
           [0., 1., 2., 3.],
           [2., 3., 4., 5.],
           [4., 5., 6., 7.]])
    >>> stack_context(f, k=3, include_current=False, stride=2).shape
    (2, 6)
    """
    x = _check_features(features)
    k = _check_int(k, "k", 0)
    stride = _check_int(stride, "stride", 1)
    offsets = np.arange(-k, 1 if include_current else 0)
    if offsets.size == 0:
        raise ValueError("k=0 with include_current=False selects no frames")
    t = np.arange(0, x.shape[0], stride)
    idx = np.maximum(t[:, None] + offsets[None, :], 0)
    return np.ascontiguousarray(x[idx].reshape(t.size, -1))


def featurize(wave, sample_rate: int = 16000, n_mfcc: int = 13, frame_ms: float = 25,
              hop_ms: float = 10, deltas: bool | int = False, normalize: bool | str = True,
              context: int = 3, include_current: bool = True, stride: int = 3,
              top_db: float | None = 80.0) -> np.ndarray:
    """Waveform -> model inputs: ``mfcc`` -> normalisation -> ``stack_context``.

    Defaults: 13 MFCCs on 25 ms frames every 10 ms, per-utterance CMVN, context of the 3 previous
    frames plus the current one (seed §5.2.2 plus ``MFCC_t``), every 3rd row kept: a 30 ms frame
    rate with 52 features per frame (``13 * 4``), about 33 frames per second of audio.

    Parameters
    ----------
    wave : array_like
        Mono waveform, shape ``(n_samples,)``.
    sample_rate : int, default 16000
        Sample rate of ``wave`` in Hz.
    n_mfcc : int, default 13
        Number of MFCCs per frame.
    frame_ms : float, default 25
        Frame length in milliseconds.
    hop_ms : float, default 10
        Frame step in milliseconds.
    deltas : bool or int, default False
        Delta order appended by :func:`mfcc` (0, 1 or 2).
    normalize : bool or str, default True
        True (or "utterance") :func:`normalize_utterance`, "running" :func:`normalize_running`
        (causal: with ``top_db=None`` and no deltas the whole chain can run as a stream), False none.
    context : int, default 3
        Past frames stacked (``k`` of :func:`stack_context`).
    include_current : bool, default True
        Stack the current frame too.
    stride : int, default 3
        Keep every ``stride``-th row.
    top_db : float or None, default 80.0
        Floor of the log-mel energies below the loudest, in dB (see :func:`mfcc`).

    Returns
    -------
    numpy.ndarray
        ``float32``, shape ``(ceil(frames / stride), n_mfcc * (1 + deltas) * (context +
        include_current))`` with ``frames = 1 + n_samples // hop``.

    Raises
    ------
    ValueError
        If ``normalize`` is not one of True, False, "utterance", "running", or for the invalid inputs
        :func:`mfcc` and :func:`stack_context` refuse.
    TypeError
        For non-numeric waveforms or non-integer counts (see :func:`mfcc`).

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.data.speech_features import featurize
    >>> wave = 0.5 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)
    >>> x = featurize(wave)
    >>> x.shape, x.dtype
    ((34, 52), dtype('float32'))
    """
    if normalize not in (True, False, "utterance", "running"):
        raise ValueError(f"normalize: expected true, false, 'utterance' or 'running', got {normalize!r:.40}")
    f = mfcc(wave, sample_rate=sample_rate, n_mfcc=n_mfcc, frame_ms=frame_ms, hop_ms=hop_ms,
             deltas=deltas, top_db=top_db)
    if normalize == "running":
        f = normalize_running(f)
    elif normalize:
        f = normalize_utterance(f)
    return stack_context(f, k=context, include_current=include_current, stride=stride)
