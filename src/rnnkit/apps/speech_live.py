"""Live transcription of spoken digits (seed §5.2.2 and its real-time section): audio in chunks,
digits out as soon as they are decided.

``LiveTranscriber(model)`` takes a unidirectional CTC model of the speech-digits recipe trained with
causal features (``rnnkit train speech-digits --set streaming=true``: ``normalize="running"``,
``top_db=None``). Each ``push(chunk)`` runs the streaming front end
(``data.speech_stream.StreamingFeaturizer``), one recurrent ``step`` per new input row, and greedy
CTC decoding, which never revises what it has emitted: a digit is final at the first frame where
it is the most probable class after a frame of another class. So the digits of a stream are
exactly the greedy decoding of the offline model on the same audio (tested), and each comes out
``delay`` seconds after the centre of its frame: the chunk's own length, half an analysis window
and the compute time. ``stats()`` reports the real-time factor (compute time / audio time).
"""
from __future__ import annotations

import time

import numpy as np

from ..data import audio
from ..data.speech_features import featurize
from ..data.speech_stream import StreamingFeaturizer
from ..layers import Recurrent
from . import speech_grid

BLANK = 0


class LiveTranscriber:
    """Streaming digit recognition: ``push(samples) -> [(seconds, digit), ...]``, ``flush()`` at the
    end; ``digits`` holds everything emitted so far."""

    def __init__(self, model):
        meta = getattr(model, "metadata", None) or {}
        if "feature_params" not in meta:
            raise ValueError("model: not a speech-digits model (its metadata holds no feature parameters)")
        recurrent = [layer for layer in model.layers if isinstance(layer, Recurrent)]
        if not recurrent or any(layer.bidirectional for layer in recurrent):
            raise ValueError("model: a bidirectional model needs the whole utterance before its first output and "
                             "cannot stream; train a streaming one with `rnnkit train speech-digits --set "
                             "streaming=true`")
        self.model, self.sample_rate = model, int(meta.get("sample_rate", 16000))
        self.blank = int(meta.get("blank", BLANK))
        self.features = StreamingFeaturizer(sample_rate=self.sample_rate, **meta["feature_params"])
        self.states = [None] * len(model.layers)
        self.prev, self.row, self.received = self.blank, 0, 0
        self.digits, self.delays, self.compute_s = [], [], 0.0

    def _step(self, x):
        for i, layer in enumerate(self.model.layers):
            if isinstance(layer, Recurrent):
                x, self.states[i] = layer.step(x, self.states[i])
            else:
                x = layer.call(x, None)
        return x[0]

    def _consume(self, rows, now_s):
        out = []
        for x in rows:
            label = int(np.argmax(self._step(x[None].astype(self.model.dtype))))
            if label != self.blank and label != self.prev:
                t = self.features.frame_time(self.row)
                out.append((t, label - 1))                       # class d + 1 is digit d
                self.delays.append(now_s - t)
            self.prev = label
            self.row += 1
        self.digits.extend(d for _, d in out)
        return out

    def push(self, samples):
        """Feed the next samples (mono, at the model's sample rate); returns the digits decided."""
        t0 = time.perf_counter()
        samples = np.asarray(samples, dtype=np.float32)
        self.received += len(samples)
        out = self._consume(self.features.push(samples), self.received / self.sample_rate)
        self.compute_s += time.perf_counter() - t0
        return out

    def flush(self):
        """End of the stream: the digits of its last frames."""
        t0 = time.perf_counter()
        out = self._consume(self.features.flush(), self.received / self.sample_rate)
        self.compute_s += time.perf_counter() - t0
        return out

    def stats(self) -> dict:
        audio_s = self.received / self.sample_rate
        return {"audio_seconds": audio_s, "compute_seconds": self.compute_s,
                "real_time_factor": self.compute_s / audio_s if audio_s else None,
                "mean_delay_seconds": float(np.mean(self.delays)) if self.delays else None,
                "max_delay_seconds": float(np.max(self.delays)) if self.delays else None}


def stream_wave(model, wave, chunk_ms=100):
    """Run a whole waveform through ``LiveTranscriber`` in ``chunk_ms`` chunks: (emissions, stats)
    with emissions a list of (seconds, digit). The delays count the chunking and the front end's
    lookahead, not the time a real microphone would take to deliver the chunk."""
    live = LiveTranscriber(model)
    n = max(1, int(live.sample_rate * chunk_ms / 1000))
    out = []
    for i in range(0, len(wave), n):
        out.extend(live.push(wave[i:i + n]))
    out.extend(live.flush())
    return out, live.stats()


def measure(model, config, n, decode_offline, error_rate):
    """Stream the first ``n`` clean test utterances (``speech_grid``'s clean cell): their digit error
    rate, agreement with the offline greedy decoding of the same audio (1.0: identical), the median
    real-time factor and the mean and largest emission delay."""
    cell = speech_grid.conditions(config)[0]
    waves, refs = speech_grid.cell_waves(config, cell, n)
    fp = dict(model.metadata["feature_params"])
    offline = decode_offline(model, [featurize(w, sample_rate=int(config["sample_rate"]), **fp) for w in waves])
    hyps, rtf, delays = [], [], []
    for w in waves:
        out, st = stream_wave(model, w, float(config["stream_chunk_ms"]))
        hyps.append(np.array([d for _, d in out], dtype=np.int64))
        rtf.append(st["real_time_factor"])
        delays.extend([] if st["mean_delay_seconds"] is None else [st["mean_delay_seconds"]] * len(out))
    return {"n": int(n), "chunk_ms": float(config["stream_chunk_ms"]), "der_greedy": error_rate(refs, hyps),
            "agreement_with_offline": float(np.mean([list(a) == list(b) for a, b in zip(hyps, offline)])),
            "real_time_factor_median": float(np.median(rtf)),
            "delay_mean_seconds": float(np.mean(delays)) if delays else None,
            "delay_max_seconds": float(np.max(delays)) if delays else None}


def stream_file(model, path, chunk_ms=100, **read_options):
    """``stream_wave`` on an audio file (``audio.load_audio``'s options: raw_rate, raw_format, ...)."""
    meta = getattr(model, "metadata", None) or {}
    wave = audio.load_audio(path, sample_rate=int(meta.get("sample_rate", 16000)), **read_options)
    return stream_wave(model, wave, chunk_ms)
