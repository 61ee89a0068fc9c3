"""The g2p application: metrics by hand, the fixed split by word, a synthetic mapping learnt
exactly, and a smoke run on a small slice of CMUdict."""
import numpy as np
import pytest

from rnnkit.apps import g2p
from rnnkit.seq2seq import Seq2Seq
from tests.helpers.apphelpers import check_app_result

CAT = ["K", "AE", "T"]
TOMATO_EY = ["T", "AH", "M", "EY", "T", "OW"]
TOMATO_AA = ["T", "AH", "M", "AA", "T", "OW"]


@pytest.fixture(scope="module")
def data():
    return g2p.load()


# -- metrics ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("ref, hyp, d", [
    ([], [], 0), (CAT, CAT, 0), (CAT, [], 3), ([], CAT, 3), (CAT, ["K", "T"], 1), (CAT, CAT + ["S"], 1),
    (CAT, ["K", "AH", "T"], 1), (TOMATO_EY, TOMATO_AA, 1), ("kitten", "sitting", 3), ("flaw", "lawn", 2)])
def test_edit_distance_hand_cases(ref, hyp, d):
    assert g2p.edit_distance(ref, hyp) == d
    assert g2p.edit_distance(hyp, ref) == d


def test_wer_counts_a_word_right_when_it_matches_any_listed_pronunciation():
    refs = [[CAT], [TOMATO_EY, TOMATO_AA]]
    assert g2p.word_error_rate(refs, [CAT, TOMATO_AA]) == 0.0
    assert g2p.word_error_rate(refs, [CAT, TOMATO_EY]) == 0.0
    assert g2p.word_error_rate(refs, [CAT, TOMATO_AA[:-1]]) == 0.5
    assert g2p.word_error_rate(refs, [["K"], ["T"]]) == 1.0


def test_per_uses_the_closest_reference_and_its_length():
    refs = [[CAT], [TOMATO_EY, TOMATO_AA]]
    # tomato without its last phoneme: 2 edits from the EY form, 1 from the AA form (length 6)
    assert g2p.phoneme_error_rate(refs, [CAT, TOMATO_AA[:-1]]) == pytest.approx(1 / 9)
    # "K AH T" for cat (1 of 3) and a perfect tomato (0 of 6)
    assert g2p.phoneme_error_rate(refs, [["K", "AH", "T"], TOMATO_EY]) == pytest.approx(1 / 9)
    # equally close to "A B" and "A B C": the shorter reference is the denominator
    assert g2p.phoneme_error_rate([[["A", "B"], ["A", "B", "C"]]], [["A", "B", "D"]]) == pytest.approx(1 / 2)
    assert g2p.phoneme_error_rate(refs, [[], []]) == 1.0


def test_metrics_reject_mismatched_or_empty_inputs():
    with pytest.raises(ValueError, match="hyps"):
        g2p.word_error_rate([[CAT]], [CAT, CAT])
    with pytest.raises(ValueError, match="refs"):
        g2p.phoneme_error_rate([[]], [CAT])


# -- data and split --------------------------------------------------------------------------------

def test_clean_keeps_letters_and_apostrophe_strips_stress_and_merges():
    lex = g2p.clean({"x-ray": [["EH1", "K", "S"]], "a.b.": [["EY1"]], "4th": [["F", "AO1", "R", "TH"]],
                     "o'brien": [["OW0", "B", "R", "AY1", "AH0", "N"]],
                     "read": [["R", "IY1", "D"], ["R", "EH1", "D"]],
                     "the": [["DH", "AH0"], ["DH", "AH1"], ["DH", "IY0"]]})
    assert lex == {"o'brien": [["OW", "B", "R", "AY", "AH", "N"]], "read": [["R", "IY", "D"], ["R", "EH", "D"]],
                   "the": [["DH", "AH"], ["DH", "IY"]]}


def test_split_is_by_word_deterministic_and_about_90_5_5(data):
    lexicon, split = data
    words = [w for s in g2p.SPLITS for w in split[s]]
    assert len(words) == len(set(words)) == len(lexicon)           # each word on exactly one side
    assert split == g2p.split_words(dict(lexicon))                  # same split again
    some = dict(list(lexicon.items())[::7])                         # independent of the other entries
    assert all(set(ws) <= set(split[s]) for s, ws in g2p.split_words(some).items())
    n = len(lexicon)
    for s, frac in zip(g2p.SPLITS, (0.90, 0.05, 0.05)):
        assert abs(len(split[s]) / n - frac) < 0.01
    assert len(lexicon) > 100_000
    assert set(p for ps in lexicon.values() for pr in ps for p in pr) == set(g2p.PHONEMES)
    assert set("".join(lexicon)) == set(g2p.LETTERS)
    train_src = {tuple(t) for t in g2p.pairs(lexicon, split["train"])[0]}
    assert not train_src & {tuple(s) for s in g2p.encode_words(split["test"])}


def test_subset_is_a_fixed_sample_over_all_initial_letters(data):
    _, split = data
    sub = g2p.subset(split["train"], 2000)
    assert len(sub) == 2000 and sub == g2p.subset(list(reversed(split["train"])), 2000)
    assert len({w[0] for w in sub}) >= 25
    assert g2p.subset(split["test"], 0) == split["test"]


# -- learning --------------------------------------------------------------------------------------

def test_learns_a_synthetic_deterministic_mapping_exactly():
    rng = np.random.default_rng(0)
    sound = {"a": "AA", "b": "B", "k": "K", "s": "S"}        # one phoneme per letter
    words = sorted({"".join(rng.choice(list(sound), rng.integers(2, 6))) for _ in range(400)})
    lexicon = {w: [[sound[c] for c in w]] for w in words}
    train, test = words[::2], words[1::2]
    config = dict(g2p.default_config(quick=True), hidden=32, embed_dim=16, epochs=40, batch_size=16, lr=1e-2)
    model, history = g2p.train_one(config, "general", lexicon, train)
    assert history["loss"][-1] < history["loss"][0] and "val_wer" not in history
    hyps = g2p.predict(model, test)
    assert g2p.word_error_rate([lexicon[w] for w in test], hyps) == 0.0


def test_lr_schedule():
    config = dict(g2p.default_config(), lr=1e-3, lr_decay=0.5, decay_from=3)
    assert [g2p.lr_at(config, e) for e in range(5)] == [1e-3, 1e-3, 5e-4, 2.5e-4, 1.25e-4]
    assert g2p.lr_at(dict(config, lr_decay=1.0), 4) == 1e-3


def test_best_validation_epoch_is_kept():
    """With validation words, the returned parameters score the best WER of the history."""
    rng = np.random.default_rng(1)
    sound = {"a": "AA", "b": "B", "k": "K", "s": "S"}
    words = sorted({"".join(rng.choice(list(sound), rng.integers(2, 6))) for _ in range(300)})
    lexicon = {w: [[sound[c] for c in w]] for w in words}
    config = dict(g2p.default_config(quick=True), hidden=16, embed_dim=8, epochs=6, batch_size=16, lr=3e-2)
    model, history = g2p.train_one(config, "general", lexicon, words[::2], words[1::2])
    assert len(history["val_wer"]) == 6
    assert g2p.score(model, lexicon, words[1::2])["wer"] == min(history["val_wer"])
    with pytest.raises(ValueError, match="lr_decay"):
        g2p.train_one(dict(config, lr_decay=0.0), "general", lexicon, words[:5])


def test_quick_run_smoke_and_evaluate_of_the_saved_model(tmp_path):
    config = dict(g2p.default_config(quick=True), max_train_words=300, max_valid_words=30, max_test_words=40,
                  epochs=2)
    result = g2p.run(config)
    check_app_result(result, tmp_path)
    m = result.metrics
    assert m["n_train_words"] == 300 and m["n_test_words"] == 40 and m["n_train_pairs"] >= 300
    for name in ("attention", "no_attention"):
        assert 0.0 <= m[f"wer_{name}"] <= 1.0 and m[f"per_{name}"] >= 0.0
    assert result.value == m["wer_attention"] and result.baseline == m["wer_no_attention"]
    assert result.model.attention == "general" and m["n_valid_words"] == 30
    assert len(result.history["val_wer"]) == len(result.history["val_wer_no_attention"]) == 2
    result.model.save(tmp_path / "model.npz")
    scored = g2p.evaluate(Seq2Seq.load(tmp_path / "model.npz"), config)
    assert scored["wer"] == m["wer_attention"] and scored["per"] == m["per_attention"]
    assert scored["n_test_words"] == 40
