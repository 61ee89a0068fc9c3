"""The digit corpus beyond espeak-ng: flite and festival voices, "oh" for zero, filler utterances,
augmentation and SpecAugment masks, all deterministic under the seed (whatever the thread count).
flite and festival are installed by `make system-deps` like espeak-ng: missing, these tests fail
with the install command."""
import numpy as np
import pytest

from rnnkit.data import speech as S
from rnnkit.data import synth


@pytest.fixture(scope="module")
def engines():
    for e in synth.ENGINES:
        if not synth.available(e):
            pytest.fail(f"{e} is missing: {synth.INSTALL[e]}")


@pytest.mark.parametrize("voice", ["flite:kal", "flite:slt", "festival:kal_diphone", "festival:slt_hts"])
def test_other_engines_speak_deterministically_and_differently(engines, voice):
    a = synth.render("three one four", voice)
    assert a.dtype == np.float32 and 0.4 * 16000 < len(a) < 3 * 16000 and np.abs(a).max() > 0.05
    np.testing.assert_array_equal(a, synth.render("three one four", voice))
    espeak = synth.render("three one four", "en-us")
    assert len(a) != len(espeak) or not np.allclose(a, espeak)


def test_speed_stretches_flite_and_festival_diphones(engines):
    for voice in ("flite:awb", "festival:kal_diphone"):
        slow, fast = synth.render("seven two", voice, speed=100), synth.render("seven two", voice, speed=200)
        assert 1.5 < len(slow) / len(fast) < 2.5, voice


def test_voice_names_are_checked():
    assert synth.split_voice("en-us+f2") == ("espeak", "en-us+f2")
    assert synth.split_voice("flite:rms") == ("flite", "rms")
    with pytest.raises(ValueError, match="unknown engine"):
        synth.split_voice("mbrola:us1")
    with pytest.raises(ValueError, match="kal, kal16"):
        synth.split_voice("flite:nosuch")


def test_missing_engine_names_the_install_command(monkeypatch):
    monkeypatch.setattr(synth.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="apt-get install flite"):
        synth.render("one", "flite:kal")


def test_oh_and_fillers_in_the_specs():
    plain = S.sample_digit_specs(200, ["en-us"], seed=0)
    mixed = S.sample_digit_specs(200, ["en-us"], seed=0, oh_prob=0.5, filler_prob=0.2)
    assert all(" oh" not in " " + s.text for s in plain)
    said_oh = [s for s in mixed if " oh" in " " + s.text]
    assert said_oh and all(0 in s.labels for s in said_oh)
    for s in mixed:                      # the words say the labels, "oh" or "zero" for 0
        if len(s.labels):
            assert [S.DIGIT_WORDS.index(w) if w != "oh" else 0 for w in s.text.split()] == list(s.labels)
        else:
            assert s.text in S.FILLER_PHRASES
    assert 20 < sum(len(s.labels) == 0 for s in mixed) < 60
    with pytest.raises(ValueError, match="oh_prob"):
        S.sample_digit_specs(1, ["en-us"], seed=0, oh_prob=1.5)


def test_augmented_corpus_is_the_same_for_any_thread_count(engines):
    kw = dict(n=8, voices=["en-us+f2", "flite:kal", "festival:kal_diphone"], seed=5, oh_prob=0.5,
              filler_prob=0.25, augment={}, spec_augment={"time_masks": 1, "freq_masks": 1}, cache=False)
    one = S.make_digit_dataset(n_jobs=1, **kw)
    two = S.make_digit_dataset(n_jobs=2, **kw)
    for a, b in zip(one[0], two[0]):
        np.testing.assert_array_equal(a, b)
    assert [list(x) for x in one[1]] == [list(x) for x in two[1]] and one[2] == two[2]
    clean = S.make_digit_dataset(n_jobs=2, **{**kw, "augment": None, "spec_augment": None})
    assert any(len(a) != len(c) or not np.allclose(a, c) for a, c in zip(one[0], clean[0]))
