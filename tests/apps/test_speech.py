"""The speech applications: spoken digits with CTC (seed §2.6, §5.2.2) and JapaneseVowels speakers.

espeak-ng is a hard requirement of the test set-up (`make system-deps` installs it): when it is
missing, the tests that render speech fail with the install command; they are not skipped.
The digit runs use ``cache=False`` so that nothing is read from or written to the user's cache.
"""
import json
import re

import numpy as np
import pytest

from rnnkit import cli
from rnnkit.apps import speech_digits as sd
from rnnkit.apps import speech_vowels as sv
from rnnkit.data import audio, packages, speech
from rnnkit.layers import GRU, Dense
from rnnkit.model import Sequential
from rnnkit.ops import ctc_decode
from tests.helpers.apphelpers import check_app_result

DIGIT_TEXT = re.compile(r"^([0-9]( [0-9])*)?$")


@pytest.fixture(scope="module")
def espeak():
    if not audio.espeak_available():
        pytest.fail(audio.ESPEAK_INSTALL_HINT)
    return speech


# -- edit distance, error rates, label mapping ------------------------------------------------------

@pytest.mark.parametrize("ref, hyp, d", [
    ([], [], 0), ([1, 2, 3], [1, 2, 3], 0), ([1, 2, 3], [], 3), ([], [4, 5], 2),
    ([1, 2, 3], [1, 3], 1),            # deletion
    ([1, 2, 3], [1, 2, 3, 4], 1),      # insertion
    ([1, 2, 3], [1, 7, 3], 1),         # substitution
    ([1, 2, 3], [3, 2, 1], 2),
    ([5, 5, 5], [5, 5], 1),            # a lost repeat (what a missing CTC blank does)
    ("kitten", "sitting", 3), ("flaw", "lawn", 2),
])
def test_edit_distance_hand_cases(ref, hyp, d):
    assert sd.edit_distance(ref, hyp) == d
    assert sd.edit_distance(hyp, ref) == d                      # symmetric
    assert sd.edit_distance(np.array(list(ref)), list(hyp)) == d  # arrays and lists alike


def test_error_rate_sums_edits_over_the_set_and_string_accuracy():
    refs = [np.array([1, 2, 3]), np.array([4, 5])]
    assert sd.error_rate(refs, [np.array([1, 2]), np.array([4, 5, 6])]) == pytest.approx(2 / 5)
    assert sd.error_rate(refs, refs) == 0.0
    assert sd.error_rate(refs, [[], []]) == 1.0
    assert sd.string_accuracy(refs, [[1, 2, 3], [4, 6]]) == 0.5
    assert sd.string_accuracy(refs, [[1, 2, 3], [4, 5]]) == 1.0
    with pytest.raises(ValueError, match="hyps"):
        sd.error_rate(refs, [[1]])
    with pytest.raises(ValueError, match="refs"):
        sd.error_rate([[]], [[1]])


def test_label_mapping_reserves_class_0_for_the_blank():
    np.testing.assert_array_equal(sd.digits_to_labels([0, 3, 9]), [1, 4, 10])
    np.testing.assert_array_equal(sd.labels_to_digits(sd.digits_to_labels([7, 0, 0])), [7, 0, 0])
    with pytest.raises(ValueError, match="labels"):
        sd.labels_to_digits([0, 1])                             # 0 is the blank, never a label
    assert sd.digits_to_text([3, 1, 4]) == "3 1 4" and sd.digits_to_text([]) == ""
    assert sd.LABELS[sd.BLANK] == "<blank>" and len(sd.LABELS) == sd.N_CLASSES == 11


# -- CTC through Sequential.fit learns a synthetic problem -----------------------------------------

def _synthetic_ctc(n, rng, classes=4):
    """Frames that are (noisy) one-hots of the label, blank frames between and around the labels."""
    X, Y = [], []
    for _ in range(n):
        labels = rng.integers(1, classes, size=int(rng.integers(1, 5)))
        rows = [0] * int(rng.integers(1, 3))
        for c in labels:
            rows += [int(c)] * int(rng.integers(1, 4)) + [0] * int(rng.integers(1, 3))
        noise = 0.1 * rng.standard_normal((len(rows), classes)).astype(np.float32)
        x = np.eye(classes, dtype=np.float32)[rows] + noise
        X.append(x)
        Y.append(labels.astype(np.int64))
    return X, Y


def test_ctc_training_through_fit_learns_to_decode():
    rng = np.random.default_rng(0)
    X, Y = _synthetic_ctc(96, rng)
    Xt, Yt = _synthetic_ctc(32, rng)
    assert len({len(x) for x in X}) > 3                         # a ragged batch: lengths matter
    model = Sequential([GRU(16, return_sequences=True), Dense(4)], seed=0)
    model.compile("ctc", "adam", lr=0.02, clip_norm=5.0, ctc_blank=0)
    hist = model.fit(X, Y, epochs=40, batch_size=16, verbose=0).history
    assert hist["loss"][-1] < 0.2 * hist["loss"][0]
    for Xs, Ys in ((X, Y), (Xt, Yt)):
        dec = model.predict_classes(Xs)                          # greedy CTC decoding
        assert len(dec) == len(Ys)
        assert all(np.array_equal(d, y) for d, y in zip(dec, Ys)), \
            [(d.tolist(), y.tolist()) for d, y in zip(dec, Ys) if not np.array_equal(d, y)][:5]
        out = model.predict(Xs)
        beam = ctc_decode.beam_search_decode(out, np.array([len(x) for x in Xs]), beam_width=4, blank=0)
        assert all(np.array_equal(d, y) for d, y in zip(beam, Ys))
    assert model.evaluate(Xt, Yt)["loss"] < 0.5


# -- speech-digits -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits_run(espeak):
    config = sd.default_config(quick=True)
    config.update(n_train=16, n_val=4, n_test=8, epochs=1, baseline_epochs=1, hidden=8, baseline_hidden=16,
                  batch_size=8, cache=False)
    return config, sd.run(config)


def test_speech_digits_smoke_run_is_sane(digits_run, tmp_path):
    config, result = digits_run
    check_app_result(result, tmp_path)
    assert "val_loss" in result.history and len(result.history["loss"]) == 1
    m = result.metrics
    assert (m["n_train"], m["n_val"], m["n_test"]) == (16, 4, 8)
    assert result.value == m["der_beam"] >= 0 and m["der_greedy"] >= 0
    assert 0 <= m["string_acc_greedy"] <= 1 and 0 <= m["string_acc_beam"] <= 1
    assert set(m["per_voice"]) <= set(sd.TEST_VOICES) and not set(sd.TEST_VOICES) & set(sd.TRAIN_VOICES)
    assert sum(v["n"] for v in m["per_voice"].values()) == 8
    assert list(m["grid"]["rnn"]) == ["clean", "20 dB", "10 dB", "5 dB", "clean + reverb", "20 dB + reverb",
                                      "10 dB + reverb", "5 dB + reverb"]
    assert m["grid"]["rnn"]["clean"]["der_beam"] == m["der_beam"] and set(m["grid"]) == {"rnn", "mlp"}
    assert m["input_dim"] == 52 and m["frame_seconds"] == pytest.approx(0.03)
    assert result.baseline == m["baseline_mlp_der_beam"]
    meta = result.metadata
    assert meta["feature_params"] == config["features"] and meta["blank"] == 0
    assert meta["labels"][0] == "<blank>" and meta["labels"][1:] == [str(d) for d in range(10)]
    assert result.model.output_size == 11
    json.dumps(meta)                                            # JSON-serialisable for model.save


def test_transcribe_rendered_wav_and_saved_model(digits_run, tmp_path, capsys):
    import soundfile as sf
    config, result = digits_run
    wave = audio.render_speech("three one four", speech.TEST_VOICES[0], speed=150)
    wav = tmp_path / "digits.wav"
    sf.write(str(wav), wave, 16000)
    text = sd.transcribe(result.model, wav)
    assert isinstance(text, str) and DIGIT_TEXT.match(text), text
    # the run folder's model keeps the feature parameters; transcription and evaluation use them
    out = cli.write_run(result, config, "speech-digits", tmp_path / "run")
    loaded = Sequential.load(out / "model.npz")
    assert loaded.metadata["feature_params"] == config["features"]
    assert sd.transcribe(loaded, wav) == text
    cli.main(["transcribe", str(out / "model.npz"), str(wav)])
    assert capsys.readouterr().out.strip() == f"{wav}: {text}"
    ev = sd.evaluate(loaded, config)
    assert ev["der_beam"] == pytest.approx(result.metrics["der_beam"])
    noisy = "5 dB + reverb"
    assert ev["grid"][noisy]["der_beam"] == pytest.approx(result.metrics["grid"]["rnn"][noisy]["der_beam"])
    with pytest.raises(ValueError, match="feature_params"):
        sd.transcribe(Sequential([Dense(11)]), wav)


# -- speech-vowels -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def vowels_run():
    if not packages.available()["load_japanese_vowels"]:
        pytest.fail("aeon is not installed (pip install aeon): JapaneseVowels ships inside it")
    config = sv.default_config(quick=True)
    config.update(epochs=3, hidden=16, seeds=[0, 1])
    return config, sv.run(config)


def test_speech_vowels_smoke_run_is_sane(vowels_run, tmp_path):
    config, result = vowels_run
    check_app_result(result, tmp_path)
    m = result.metrics
    assert (m["n_train"], m["n_test"]) == (270, 370) and len(m["classes"]) == 9
    assert len(m["accuracy_per_seed"]) == 2 and m["seeds"] == [0, 1]
    assert result.value == pytest.approx(np.mean(m["accuracy_per_seed"])) == m["accuracy_mean"]
    assert m["accuracy_std"] == pytest.approx(np.std(m["accuracy_per_seed"]))
    assert m["accuracy"] == m["accuracy_per_seed"][0] > 0.3      # well above chance (1/9) already
    cm = np.array(m["confusion_matrix"])
    assert cm.shape == (9, 9) and cm.sum() == 370 and np.trace(cm) == round(m["accuracy"] * 370)
    assert result.baseline == 0.949 and result.baseline_name == "1-NN DTW (published)"
    assert sv.evaluate(result.model, config)["accuracy"] == pytest.approx(m["accuracy"])


def test_confusion_matrix_counts():
    cm = sv.confusion_matrix([0, 1, 1, 2, 0], [0, 0, 1, 2, 2], 3)     # rnnkit.metrics': (pred, true)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 1, 0], [1, 0, 1]])
