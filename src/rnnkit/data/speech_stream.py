"""The speech front end as a stream: audio in chunks -> model input rows, as soon as they exist.

``StreamingFeaturizer(**feature_params)`` computes exactly what ``speech_features.featurize`` does
on the whole waveform (same framing, MFCCs, causal normalisation, context stacking and stride),
for the causal settings only: ``normalize="running"`` (or False), ``top_db=None``, no deltas.
Each 25 ms frame is computed once its last sample has arrived (centred frames: half a window,
16 ms at 16 kHz, after the frame's centre); ``flush`` ends the stream and returns the frames
whose window runs past the end (zero-padded, as ``featurize`` pads them).
"""
from __future__ import annotations

import numpy as np

from .speech_features import _check_wave

__all__ = ["StreamingFeaturizer"]


class StreamingFeaturizer:
    """Incremental ``featurize``: ``push(samples) -> rows`` as audio arrives, ``flush() -> rows`` at the end.

    ``push`` returns float32 rows of shape ``(k, dim)``, ``k >= 0``; the rows of a whole stream equal
    ``featurize(wave, **params)``. ``frame_time(i)``: the time in seconds at the centre of the MFCC
    frame behind output row ``i``. Only the causal settings stream: ``normalize="running"`` (or
    False), ``top_db=None``, no deltas.

    Parameters
    ----------
    sample_rate : int, default 16000
        Sample rate of the pushed audio in Hz.
    n_mfcc : int, default 13
        Number of MFCCs per frame.
    frame_ms : float, default 25
        Frame length in milliseconds.
    hop_ms : float, default 10
        Frame step in milliseconds.
    deltas : bool or int, default False
        Must be False (deltas look at later frames).
    normalize : {"running", False}, default "running"
        Causal CMVN (:func:`rnnkit.data.speech_features.normalize_running`) or none.
    context : int, default 3
        Past frames stacked to each row.
    include_current : bool, default True
        Stack the current frame too.
    stride : int, default 3
        Keep every ``stride``-th row.
    top_db : None, default None
        Must be None (a floor relative to the loudest frame needs the whole utterance).

    Raises
    ------
    ValueError
        For non-causal settings: ``deltas``, a ``top_db`` or a ``normalize`` other than "running" or
        False.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.data.speech_stream import StreamingFeaturizer
    >>> from rnnkit.data.speech_features import featurize
    >>> wave = (0.5 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)).astype(np.float32)
    >>> stream = StreamingFeaturizer()
    >>> rows = np.concatenate([stream.push(chunk) for chunk in np.split(wave, 10)] + [stream.flush()])
    >>> rows.shape, rows.dtype
    ((34, 52), dtype('float32'))
    >>> bool(np.allclose(rows, featurize(wave, normalize="running", top_db=None), atol=1e-4))
    True
    """

    def __init__(self, sample_rate: int = 16000, n_mfcc: int = 13, frame_ms: float = 25, hop_ms: float = 10,
                 deltas=False, normalize="running", context: int = 3, include_current: bool = True,
                 stride: int = 3, top_db=None):
        if deltas or top_db is not None or normalize not in ("running", False):
            raise ValueError("streaming features need causal settings: normalize='running' (or false), "
                             f"top_db=None, deltas=False; got normalize={normalize!r}, top_db={top_db!r}, "
                             f"deltas={deltas!r} (train the model with them to stream it)")
        self.sample_rate, self.n_mfcc, self.normalize = int(sample_rate), int(n_mfcc), normalize
        self.win = int(round(sample_rate * frame_ms / 1000.0))
        self.hop = int(round(sample_rate * hop_ms / 1000.0))
        self.n_fft = 1 << (self.win - 1).bit_length()
        self.context, self.include_current, self.stride = int(context), bool(include_current), int(stride)
        self._buf = np.zeros(self.n_fft // 2, np.float32)     # centred framing: half a window of zeros first
        self._start = -(self.n_fft // 2)                        # sample index of _buf[0]
        self._received = 0
        self._frames = 0                                        # MFCC frames computed so far
        self._s1 = self._s2 = None                              # running sums (float64)
        self._history = []                                      # the last `context` normalised frames
        self._done = False

    def frame_time(self, row: int) -> float:
        """Time in seconds at the centre of the MFCC frame behind output row ``row``.

        Parameters
        ----------
        row : int
            Index of an output row, counted from the start of the stream.

        Returns
        -------
        float
            ``row * stride * hop / sample_rate`` seconds.
        """
        return row * self.stride * self.hop / self.sample_rate

    def _mfcc(self, segment, n):
        import librosa
        mel = librosa.feature.melspectrogram(y=segment, sr=self.sample_rate, n_fft=self.n_fft, win_length=self.win,
                                             hop_length=self.hop, n_mels=40, center=False)
        return librosa.feature.mfcc(S=librosa.power_to_db(mel, top_db=None), n_mfcc=self.n_mfcc)[:, :n].T

    def _rows(self, frames):
        out = []
        for f in np.asarray(frames, np.float32):
            if self.normalize == "running":
                f64 = f.astype(np.float64)
                self._s1 = f64 if self._s1 is None else self._s1 + f64
                self._s2 = f64 * f64 if self._s2 is None else self._s2 + f64 * f64
                n = self._frames + 1
                mean = self._s1 / n
                f = ((f - mean) / np.sqrt(np.maximum(self._s2 / n - mean * mean, 0.0) + 1e-5)).astype(np.float32)
            if not self._history:                               # before the start: repeat frame 0
                self._history = [f] * self.context
            stacked = self._history[len(self._history) - self.context:] + ([f] if self.include_current else [])
            if self._frames % self.stride == 0:
                out.append(np.concatenate(stacked))
            self._history = (self._history + [f])[-max(self.context, 1):]
            self._frames += 1
        dim = self.n_mfcc * (self.context + self.include_current)
        return np.array(out, np.float32).reshape(len(out), dim)

    def _ready(self, end_sample):
        """Frames k (from self._frames on) whose window [k*hop - n_fft/2, k*hop + n_fft/2) ends by end_sample."""
        last = (end_sample - self.n_fft // 2) // self.hop     # largest k with k*hop + n_fft/2 <= end_sample
        return max(0, last + 1 - self._frames)

    def _compute(self, n):
        if n == 0:
            return self._rows(np.zeros((0, self.n_mfcc)))
        first = self._frames * self.hop - self.n_fft // 2     # sample index where frame _frames begins
        lo = first - self._start
        seg = self._buf[lo:lo + (n - 1) * self.hop + self.n_fft]
        rows = self._rows(self._mfcc(np.ascontiguousarray(seg), n))
        keep_from = self._frames * self.hop - self.n_fft // 2 - self._start
        self._buf, self._start = self._buf[keep_from:], self._start + keep_from
        return rows

    def push(self, samples) -> np.ndarray:
        """Feed the next samples (float mono at ``sample_rate``); returns the new model input rows.

        Parameters
        ----------
        samples : array_like
            The next mono samples, shape ``(n,)``, at ``sample_rate`` Hz; may be empty.

        Returns
        -------
        numpy.ndarray
            ``float32``, shape ``(k, n_mfcc * (context + include_current))``: the rows whose frames are
            now complete (``k >= 0``).

        Raises
        ------
        RuntimeError
            If called after :meth:`flush`.
        ValueError
            If ``samples`` is not 1-D or has NaN or inf.
        TypeError
            If ``samples`` is not numeric.
        """
        if self._done:
            raise RuntimeError("push after flush: start a new StreamingFeaturizer for a new stream")
        samples = _check_wave(samples) if len(samples) else np.zeros(0, np.float32)
        self._buf = np.concatenate([self._buf, samples.astype(np.float32)])
        self._received += len(samples)
        return self._compute(self._ready(self._received))

    def flush(self) -> np.ndarray:
        """End of stream: the remaining frames (``1 + samples // hop`` in all), zero-padded.

        After it, :meth:`push` raises; start a new featurizer for a new stream.

        Returns
        -------
        numpy.ndarray
            ``float32``, shape ``(k, n_mfcc * (context + include_current))``: the last rows.
        """
        self._done = True
        total = 1 + self._received // self.hop
        pad = max(0, (total - 1) * self.hop + self.n_fft // 2 - self._received)
        self._buf = np.concatenate([self._buf, np.zeros(pad + self.n_fft, np.float32)])
        return self._compute(total - self._frames)
