"""Spoken digit strings to text with a recurrent network trained by CTC (seed §2.6, §5.2.2), built to
survive a real microphone, and to run live (seed's real-time section).

Data (``rnnkit.data.speech.make_digit_dataset``, cached on disk). Random digit strings (3..7
digits; a zero is said "oh" with probability ``oh_prob``), and with probability ``filler_prob``
no digits at all (a filler phrase such as "thank you" or "please call me back", or silence; the
target is empty, so the model learns to output nothing for speech that is not a digit). Three
synthesisers (``rnnkit.data.synth``): espeak-ng (formant), flite (diphone and cluster-unit) and
festival (diphone and HTS statistical parametric). Training voices ``TRAIN_VOICES``: 15 espeak-ng
voices and 4 flite voices; held-out voices ``TEST_VOICES``: 4 espeak-ng voices, flite's ``slt``
and both festival voices, festival never being used in training. Training audio is augmented
(``rnnkit.data.augment``: speed perturbation, gain, leading and trailing silence, synthetic room
reverberation, white / pink / babble noise from 0 to 30 dB) and its features masked (SpecAugment).

Features (seed §5.2.2). ``speech_features.featurize``: 13 MFCCs on 25 ms frames every 10 ms,
per-utterance mean/variance normalisation (CMVN), then the frame context of the seed, x_t =
[MFCC_{t-3}, ..., MFCC_{t-1}, MFCC_t], keeping every 3rd row: one 52-dimensional input every 30 ms.

Model. ``GRU`` or ``LSTM`` (``cell``, ``hidden``, ``layers``, ``bidirectional``) with
``return_sequences=True``, then ``Dense(11)``: per-frame scores over 11 classes, trained with the
CTC loss ``-log P(y | x)`` of seed §2.6 through ``Sequential.fit`` (``compile(loss="ctc")``).
``streaming=true`` trains the live variant: unidirectional, with causal features (running CMVN,
no utterance-wide floor), which ``speech_live.LiveTranscriber`` runs chunk by chunk.

Label mapping (stored in the model's metadata as ``labels`` / ``blank``):

    class 0        CTC blank
    class d + 1    digit d (d = 0..9), i.e. ``label = digit + 1`` and ``digit = label - 1``

Decoding: greedy best path (``ops.ctc_decode.greedy_decode``) and CTC prefix beam search
(``ops.ctc_decode.beam_search_decode``, ``beam_width``). Metrics on the held-out voices, on the
grid of ``speech_grid`` (clean, 20, 10 and 5 dB noise, each without and with reverberation):

* digit error rate (DER) = sum over the test set of the edit distance (substitutions, insertions,
  deletions) between decoded and reference digit strings, divided by the total reference length;
* string accuracy = fraction of utterances decoded exactly;
* for the filler utterances, the fraction given any digit.

The headline figure (``AppResult.value``) is the beam-search DER of the clean cell. In-run baseline
on the same grid (``baseline_epochs > 0``): the same CTC training of a network *without*
recurrence, a per-frame MLP (``Dense(hidden, tanh) -> Dense(11)``) reading the same stacked-context
frames (seed §2.1's feed-forward network): it sees only ~65 ms of audio per output and shows what
the recurrence adds.

Measured (full config: BiGRU 128, 8000 training utterances, 15 epochs, best validation epoch 8;
one BLAS thread, 13 minutes with a cold cache; one seed). Beam DER / string accuracy on 400
held-out utterances per condition:

    condition        clean   20 dB   10 dB   5 dB   | with reverberation: clean  20 dB  10 dB  5 dB
    BiGRU            6.4%    7.2%    12.1%   19.8%  |                     14.1%  13.2%  20.3%  28.3%
    per-frame MLP    43.2%   41.1%   48.1%   55.3%  |                     59.2%  57.6%  64.3%  70.3%

Clean, per voice: 1-3% on the espeak-ng voices and festival's diphone voice (whose recordings flite's
``kal`` shares), 18% on festival's HTS ``slt_hts`` and 20% on flite's ``slt``, the only natural female
voice, unlike anything in training. Fillers: 18% (clean) to 53% (5 dB) of them get a digit.
Streaming variant (``streaming=true``: unidirectional GRU 128, causal features): clean DER 13.1%,
5 dB + reverberation 37.3%; streamed in 100 ms chunks it emits exactly its offline greedy output
(100 of 100 utterances), real-time factor 0.015, digits 67 ms (mean, at most 110 ms) after the
centre of their frame. Earlier espeak-only figures (2.0% on 4 held-out espeak voices, clean, no
augmentation) are not comparable: the test set is now harder.

``transcribe(model, "file.wav") -> "3 1 4"`` runs a saved model on an audio file (WAV, FLAC, OGG,
or headerless .raw with its rate: ``rnnkit transcribe MODEL FILE [--sample-rate 16000]``), with
the feature parameters stored in the model's metadata; ``rnnkit transcribe --stream`` runs a
streaming model live.
"""
from __future__ import annotations

import numpy as np

from ..callbacks import EarlyStopping, LearningRateScheduler, cosine_decay
from ..data import audio, speech, speech_features, synth
from ..layers import Dense
from ..metrics import as_symbols, edit_distance
from ..model import Sequential
from ..ops import ctc_decode
from . import speech_grid, speech_live
from .common import AppResult, Timer, recurrent_layer, settings

NAME = "speech-digits"
DESCRIPTION = "spoken digit strings (espeak-ng, held-out voices) to text with a BiGRU + CTC (seed §2.6, §5.2.2)"

#: Training voices: espeak-ng's 15 (``speech.TRAIN_VOICES``) and four flite voices.
TRAIN_VOICES = speech.TRAIN_VOICES + ["flite:kal", "flite:kal16", "flite:awb", "flite:rms"]
#: Held out: espeak-ng's 4 test voices, flite's slt (a voice of a trained engine) and both festival
#: voices (an engine never used in training).
TEST_VOICES = speech.TEST_VOICES + ["flite:slt", "festival:kal_diphone", "festival:slt_hts"]
#: SpecAugment masks of the training features: 2 spans of up to 3 frames (90 ms), 2 bands of up to
#: 3 of the 13 MFCCs, the same band in each of the 4 stacked context frames.
SPEC_AUGMENT = {"time_masks": 2, "max_time": 3, "freq_masks": 2, "max_freq": 3, "period": 13}

BLANK = 0
N_CLASSES = 11                                  # blank + 10 digits
LABELS = ["<blank>"] + [str(d) for d in range(10)]


def default_config(quick=False):
    """Settings of the app. ``quick``: a smoke-test size (~15 s with a cold cache); it checks that
    everything runs, its error rates are not meaningful (the model has barely started to learn).

    ``features`` are the arguments of ``speech_features.featurize`` (``stride=3``: 30 ms per input frame).
    ``train_seed``/``val_seed``/``test_seed`` draw the three corpora (the test corpus uses the
    held-out voices only). ``epochs`` run with a cosine learning-rate decay from ``lr``; the weights
    of the epoch with the lowest validation CTC loss (training voices, never the test voices)
    are kept.
    """
    return {
        "cell": "gru", "hidden": 32 if quick else 128, "layers": 1, "bidirectional": True,
        "n_train": 120 if quick else 8000, "n_val": 20 if quick else 200, "n_test": 40 if quick else 400,
        "min_len": 3, "max_len": 7, "speeds": [130, 190], "pitches": [30, 70],
        "train_voices": list(TRAIN_VOICES), "test_voices": list(TEST_VOICES),
        "oh_prob": 0.25, "filler_prob": 0.15, "augment": {}, "spec_augment": dict(SPEC_AUGMENT),
        "grid_snr_db": [20, 10, 5], "grid_rt60": 0.5, "streaming": False, "stream_chunk_ms": 100,
        "n_stream": 20 if quick else 100,
        "train_seed": 1, "val_seed": 2, "test_seed": 3, "sample_rate": 16000,
        "features": {"n_mfcc": 13, "frame_ms": 25, "hop_ms": 10, "deltas": False, "normalize": True,
                     "context": 3, "include_current": True, "stride": 3},
        "epochs": 2 if quick else 15, "batch_size": 32, "lr": 3e-3, "lr_min": 1e-4, "clip_norm": 5.0,
        "seed": 0, "beam_width": 8, "baseline_epochs": 1 if quick else 8, "baseline_hidden": 128,
        "n_jobs": 2, "cache": True,
    }


SETTINGS = settings(
    "cell", "hidden", "layers", "bidirectional", "seed", "clip_norm",
    n_train="training utterances rendered with the training voices, an integer >= 1",
    n_val="validation utterances (training voices; picks the best epoch), an integer >= 0 (0: none)",
    n_test="test utterances rendered with the held-out voices, an integer >= 1",
    min_len="fewest digits per utterance, an integer >= 1",
    max_len="most digits per utterance, an integer >= min_len",
    speeds="[low, high] espeak-ng speaking rate, words per minute, within 80..450",
    pitches="[low, high] espeak-ng pitch, within 0..99",
    train_seed="seed that draws the training corpus, an integer >= 0",
    val_seed="seed that draws the validation corpus, an integer >= 0",
    test_seed="seed that draws the test corpus, an integer >= 0",
    sample_rate="audio sample rate in Hz, an integer",
    features="arguments of speech_features.featurize, a table: n_mfcc, frame_ms, hop_ms (milliseconds), deltas, "
             "normalize, context (previous frames stacked), include_current, stride (rows kept: every stride-th)",
    epochs="training epochs (cosine learning-rate decay; the epoch of lowest validation loss is kept), "
           "an integer >= 1",
    batch_size="utterances per batch, an integer >= 1",
    lr="learning rate of Adam at the first epoch, a number > 0",
    lr_min="learning rate the cosine decay ends at, a number >= 0",
    beam_width="beams of the CTC prefix beam search, an integer >= 1",
    baseline_epochs="training epochs of the frame-wise MLP baseline, an integer >= 0 (0: no baseline)",
    baseline_hidden="hidden units of the MLP baseline, an integer >= 1",
    n_jobs="speech renderings run in parallel (threads), an integer >= 1",
    train_voices="voices of the training and validation corpora, a list of names: espeak-ng's LANG+VARIANT, "
                 "flite:NAME (kal, kal16, awb, rms, slt) or festival:NAME (kal_diphone, slt_hts)",
    test_voices="held-out voices of the test grid, a list of names as train_voices",
    oh_prob="probability that a zero is said \"oh\", a number in [0, 1]",
    filler_prob="fraction of utterances that say no digit (filler phrases, silence), a number in [0, 1]",
    augment="training-audio augmentation: a table overriding rnnkit.data.augment.AUGMENT_DEFAULTS (speed, "
            "gain_db, silence_s, reverb_prob, rt60, noise_prob, snr_db, noise_kinds, ...); {} = the defaults",
    spec_augment="SpecAugment masks of the training features, a table of augment.spec_augment's arguments",
    grid_snr_db="signal-to-noise ratios (dB) of the test grid's noisy conditions, a list of numbers",
    streaming="train a model that can transcribe live: unidirectional, with causal features (running "
              "normalisation, no utterance-wide floor); the run also streams n_stream test utterances, true/false",
    stream_chunk_ms="audio chunk of the streaming measurement, milliseconds, a number > 0",
    n_stream="clean test utterances transcribed as streams (real-time factor, delay, agreement with offline "
             "decoding), an integer >= 0",
    grid_rt60="reverberation time (seconds) of the test grid's reverberant conditions, a number",
    cache="keep rendered corpora on disk ($RNNKIT_CACHE or ~/.cache/rnnkit), true/false")


# -- labels and scoring ----------------------------------------------------------------------------

def digits_to_labels(digits) -> np.ndarray:
    """Digits 0..9 -> CTC class ids 1..10 (``label = digit + 1``; class 0 is the blank)."""
    return np.asarray(digits, dtype=np.int64) + 1


def labels_to_digits(labels) -> np.ndarray:
    """CTC class ids 1..10 -> digits 0..9 (inverse of :func:`digits_to_labels`)."""
    labels = np.asarray(labels, dtype=np.int64)
    if labels.size and (labels.min() < 1 or labels.max() > 10):
        raise ValueError(f"labels: expected CTC class ids in 1..10 (blank removed), got {labels.tolist()}")
    return labels - 1


def digits_to_text(digits) -> str:
    """``[3, 1, 4]`` -> ``"3 1 4"`` (an empty string when nothing was recognised)."""
    return " ".join(str(int(d)) for d in np.asarray(digits).reshape(-1))


def error_rate(refs, hyps) -> float:
    """Sum of edit distances over the set divided by the total reference length (the DER/WER rule)."""
    refs, hyps = list(refs), list(hyps)
    if len(refs) != len(hyps):
        raise ValueError(f"hyps: expected {len(refs)} hypotheses (one per reference), got {len(hyps)}")
    total = sum(len(as_symbols(r)) for r in refs)
    if total == 0:
        raise ValueError("refs: the references hold no symbols; the error rate is undefined")
    return sum(edit_distance(r, h) for r, h in zip(refs, hyps)) / total


def string_accuracy(refs, hyps) -> float:
    """Fraction of utterances whose decoded string equals the reference exactly."""
    refs, hyps = list(refs), list(hyps)
    if not refs or len(refs) != len(hyps):
        raise ValueError(f"hyps: expected {len(refs)} hypotheses (one per reference, at least one), "
                         f"got {len(hyps)}")
    return float(np.mean([as_symbols(r) == as_symbols(h) for r, h in zip(refs, hyps)]))


# -- data ------------------------------------------------------------------------------------------

def load_corpus(config, part: str, feature_params=None):
    """``(features, digits, voices)`` for ``part`` "train" or "val" (``train_voices``, augmented)
    or "test" (``test_voices``, clean), rendered and featurised by ``speech.make_digit_dataset``
    (cached). The test grid's conditions: ``speech_grid``."""
    voices = config["test_voices"] if part == "test" else config["train_voices"]
    n = int(config[f"n_{part}"])
    fp = dict(config["features"] if feature_params is None else feature_params)
    aug = None if part == "test" or config.get("augment") is None else dict(config["augment"])
    spec = dict(config["spec_augment"]) if part == "train" and config.get("spec_augment") is not None else None
    return speech.make_digit_dataset(
        n, list(voices), seed=int(config[f"{part}_seed"]), min_len=int(config["min_len"]),
        max_len=int(config["max_len"]), speeds=tuple(config["speeds"]), pitches=tuple(config["pitches"]),
        sample_rate=int(config["sample_rate"]), n_jobs=int(config.get("n_jobs", 2)), feature_params=fp,
        cache=bool(config.get("cache", True)), oh_prob=float(config.get("oh_prob", 0.0)),
        filler_prob=float(config.get("filler_prob", 0.0)), augment=aug, spec_augment=spec)


def describe_data(train_voices, n_val, test_voices):
    """What a run trains on and holds out: utterance and voice counts of the loaded corpora (the
    voice of every training and test utterance; ``n_val`` validation utterances, training voices)."""
    seen, held = set(train_voices), set(test_voices)
    unseen = "unseen " if not seen & held else ""
    engines = "/".join(dict.fromkeys(synth.split_voice(v)[0] for v in [*seen, *held]))
    return (f"{engines} digit strings: trained on {len(train_voices)} utts in {len(seen)} voices "
            f"(+{n_val} validation), held out {len(test_voices)} utts in {len(held)} {unseen}voices")


STREAMING_FEATURES = {"normalize": "running", "top_db": None, "deltas": False}


def effective_config(config):
    """``config`` with what ``streaming`` implies: a unidirectional model and causal features."""
    if not config.get("streaming"):
        return config
    return {**config, "bidirectional": False, "features": {**config["features"], **STREAMING_FEATURES}}


def build(config):
    rec = recurrent_layer(config, return_sequences=True)
    return Sequential([rec, Dense(N_CLASSES)], seed=config["seed"])


def build_baseline(config):
    """The per-frame MLP without recurrence (seed §2.1), trained with the same CTC loss."""
    return Sequential([Dense(int(config["baseline_hidden"]), "tanh"), Dense(N_CLASSES)], seed=config["seed"])


def decode(model, features, beam_width=8):
    """Greedy and beam-search digit sequences for a list of ``(frames, dim)`` feature arrays.

    Returns ``(greedy, beam, logits)``: two lists of int64 digit arrays and the list of per-frame
    logits ``(frames, 11)`` of each utterance.
    """
    features = list(features)
    out = model.predict(features)
    lengths = np.array([len(f) for f in features])
    greedy = [labels_to_digits(s) for s in ctc_decode.greedy_decode(out, lengths, blank=BLANK)]
    beam = [labels_to_digits(s) for s in ctc_decode.beam_search_decode(out, lengths, beam_width=int(beam_width),
                                                                 blank=BLANK)]
    return greedy, beam, [out[i, :n] for i, n in enumerate(lengths)]


def score(digits, greedy, beam, voices=None):
    m = {"der_greedy": error_rate(digits, greedy), "der_beam": error_rate(digits, beam),
         "string_acc_greedy": string_accuracy(digits, greedy), "string_acc_beam": string_accuracy(digits, beam)}
    if voices is not None:
        per = {}
        for v in dict.fromkeys(voices):
            idx = [i for i, u in enumerate(voices) if u == v]
            per[v] = {"n": len(idx), "der_beam": error_rate([digits[i] for i in idx], [beam[i] for i in idx]),
                      "string_acc_beam": string_accuracy([digits[i] for i in idx], [beam[i] for i in idx])}
        m["per_voice"] = per
    return m


def _metadata(config):
    return {"feature_params": dict(config["features"]), "sample_rate": int(config["sample_rate"]),
            "blank": BLANK, "labels": list(LABELS), "label_rule": "label = digit + 1, blank = 0",
            "beam_width": int(config["beam_width"]),
            "train_voices": list(config["train_voices"]), "test_voices": list(config["test_voices"])}


# -- application -------------------------------------------------------------------------------------

def _fit_ctc(model, config, X_tr, y_tr, X_va, y_va, epochs, verbose):
    model.compile("ctc", "adam", lr=config["lr"], clip_norm=config["clip_norm"], ctc_blank=BLANK)
    cbs = [LearningRateScheduler(cosine_decay(config["lr"], epochs, config["lr_min"]))]
    val = None
    if X_va:
        val = (X_va, y_va)
        # keep the weights of the best validation epoch (training voices only); never stop early
        cbs.append(EarlyStopping(monitor="val_loss", patience=epochs + 1, restore_best_weights=True))
    return model.fit(X_tr, y_tr, epochs=epochs, batch_size=config["batch_size"], validation_data=val,
                     callbacks=cbs, verbose=verbose).history


def run(config, verbose=0):
    config = effective_config(config)
    with Timer() as timer:
        with Timer() as t_data:
            X_tr, d_tr, v_tr = load_corpus(config, "train")
            X_va, d_va, _ = load_corpus(config, "val") if int(config["n_val"]) else ([], [], [])
            X_te, d_te, v_te = speech_grid.cell_corpus(config, speech_grid.conditions(config)[0])   # clean
        y_tr = [digits_to_labels(d) for d in d_tr]
        y_va = [digits_to_labels(d) for d in d_va]
        model = build(config)
        with Timer() as t_train:
            history = _fit_ctc(model, config, X_tr, y_tr, X_va, y_va, int(config["epochs"]), verbose)
        metadata = _metadata(config)
        model.metadata = metadata
        models = {"rnn": model}
        if int(config.get("baseline_epochs", 0)) > 0:
            with Timer() as t_base:
                mlp = build_baseline(config)
                _fit_ctc(mlp, config, X_tr, y_tr, [], [], int(config["baseline_epochs"]), 0)
            models["mlp"] = mlp
        with Timer() as t_eval:
            grid = speech_grid.evaluate(models, config, decode, score, verbose=verbose)
            _, beam, logits = decode(model, X_te, config["beam_width"])
            stream = None
            if config.get("streaming") and int(config["n_stream"]) > 0:
                stream = speech_live.measure(model, config, int(config["n_stream"]),
                                             lambda mdl, X: decode(mdl, X, 1)[0], error_rate)
    m = grid["rnn"]["clean"]
    frame_s = config["features"]["stride"] * config["features"]["hop_ms"] / 1000.0
    cells = list(grid["rnn"])
    metrics = {**m, "grid": grid, "grid_der_mean": float(np.mean([grid["rnn"][c]["der_beam"] for c in cells])),
               "n_train": len(X_tr), "n_val": len(X_va), "n_test": len(X_te),
               "test_digits": int(sum(len(d) for d in d_te)), "input_dim": int(X_tr[0].shape[1]),
               "frame_seconds": frame_s, "train_frames_mean": float(np.mean([len(x) for x in X_tr])),
               "num_params": int(model.num_params()), "seconds_data": t_data.seconds,
               "seconds_train": t_train.seconds, "seconds_eval": t_eval.seconds,
               "best_epoch": int(np.argmin(history["val_loss"])) + 1 if "val_loss" in history else None}
    if stream is not None:
        metrics["streaming"] = stream
    base = grid.get("mlp", {}).get("clean")
    if base is not None:
        metrics.update({f"baseline_mlp_{k}": v for k, v in base.items() if k != "per_voice"})
        metrics["seconds_baseline"] = t_base.seconds

    # the plot shows the first test utterance with at least 5 digits (a readable, typical one)
    pick = next((i for i, d in enumerate(d_te) if len(d) >= 5), 0)

    def plot(path):
        speech_grid.plot_posteriors(path, X_te[pick], logits[pick], d_te[pick], beam[pick], v_te[pick], frame_s)

    return AppResult(task="spoken digits, CTC (§2.6, §5.2.2)",
                     data=describe_data(v_tr, len(X_va), v_te),
                     metric="digit error rate (beam, clean)", value=m["der_beam"],
                     baseline=None if base is None else base["der_beam"],
                     baseline_name="frame-wise MLP + CTC (no recurrence)", model=model, history=history,
                     metrics=metrics, plots={"posteriors.png": plot, "grid.png": lambda p: speech_grid.plot(grid, p)},
                     metadata=metadata, seconds=timer.seconds)


def _feature_params(model, config=None):
    meta = getattr(model, "metadata", None) or {}
    if "feature_params" in meta:
        return dict(meta["feature_params"]), int(meta.get("sample_rate", 16000))
    if config is not None:
        return dict(config["features"]), int(config["sample_rate"])
    raise ValueError("model: its metadata holds no 'feature_params' (was it trained by the "
                     "speech-digits app?); cannot featurise audio for it")


def evaluate(model, config):
    """The held-out grid (``speech_grid``) for a (loaded) model: {cell: DER, string accuracy, ...},
    rendering the test corpus (cached)."""
    fp, _ = _feature_params(model, config)
    grid = speech_grid.evaluate({"rnn": model}, config, decode, score, feature_params=fp)["rnn"]
    return {**grid["clean"], "grid": grid, "n_test": int(config["n_test"]), "test_voices": list(config["test_voices"])}


def transcribe(model, path, beam_width=None, **read_options) -> str:
    """Digits spoken in an audio file, as text ("3 1 4"), by CTC prefix beam search.

    The file is read with ``audio.load_audio`` at the model's sample rate (``read_options``: its
    raw_rate, raw_format, channels, trim_db) and featurised with the parameters stored in
    ``model.metadata`` (written by :func:`run`).
    """
    fp, sr = _feature_params(model)
    meta = getattr(model, "metadata", None) or {}
    wave = audio.load_audio(path, sample_rate=sr, **read_options)
    feats = speech_features.featurize(wave, sample_rate=sr, **fp)
    out = model.predict([feats])
    width = int(beam_width or meta.get("beam_width", 8))
    labels = ctc_decode.beam_search_decode(out, np.array([len(feats)]), beam_width=width,
                                    blank=int(meta.get("blank", BLANK)))[0]
    return digits_to_text(labels_to_digits(labels))
