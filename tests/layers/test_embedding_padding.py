"""Embedding's padding row: none by default (every id trains, as a CharVocabulary needs), the
vocabulary's pad id when it reserves one (its row stays zero), stored explicitly in model files."""
import json
import zipfile

import numpy as np

from rnnkit import GRU, LSTM, Dense, Embedding, Sequential
from rnnkit.apps import charlm, sentiment
from rnnkit.data.text import CharVocabulary, Vocabulary


def test_vocabularies_say_which_id_pads():
    assert Vocabulary.build(["a b"]).padding_idx == 0 == Vocabulary.pad_id
    assert Vocabulary.build(["a b"]).id_to_token(0) == "<pad>"
    assert CharVocabulary.build("abc").padding_idx is None
    assert Embedding(5, 2).padding_idx is None


def test_char_vocabulary_row_zero_trains():
    vocab = CharVocabulary.build("abcab cab")
    assert vocab.encode("a").tolist() == [1]                 # ' ' < 'a': id 0 is the space, a real character
    ids = np.stack([vocab.encode("ab cab"), vocab.encode(" abcba")])
    model = Sequential([Embedding(len(vocab), 3, padding_idx=vocab.padding_idx),
                        LSTM(4, return_sequences=True), Dense(len(vocab))], seed=0).compile("crossentropy", lr=0.05)
    model.build(len(vocab))
    E0 = model.get_weights()["0.E"][0].copy()
    assert np.any(E0 != 0)
    _, grads = model.compute_gradients(ids[:, :-1], ids[:, 1:])
    assert np.any(grads["0.E"][0] != 0)
    model.fit(ids[:, :-1], ids[:, 1:], epochs=3, verbose=0)
    assert np.any(model.get_weights()["0.E"][0] != E0)


def test_word_vocabulary_pad_row_stays_zero():
    vocab = Vocabulary.build(["the cat sat", "a dog ran far away"])
    seqs = vocab.encode(["the cat sat", "a dog ran far away", "cat ran"])   # padded with 0 = <pad>
    model = Sequential([Embedding(len(vocab), 3, padding_idx=vocab.padding_idx), GRU(4), Dense(1)],
                       seed=0).compile("binary_crossentropy", lr=0.05)
    model.fit(seqs, np.array([1.0, 0.0, 1.0]), epochs=3, verbose=0)
    np.testing.assert_array_equal(model.get_weights()["0.E"][0], 0)
    padded = np.array([[2, 3, 0, 0]])                         # a pad id inside the data adds no gradient
    _, grads = model.compute_gradients(padded, np.array([1.0]))
    np.testing.assert_array_equal(grads["0.E"][0], 0)


def test_recipes_pass_their_vocabularys_padding_id():
    assert sentiment.build(sentiment.default_config(quick=True), 40).layers[0].padding_idx == 0
    assert charlm.build(charlm.default_config(quick=True), 40).layers[0].padding_idx is None


def test_model_files_store_padding_idx_explicitly(tmp_path):
    for padding_idx in (0, None, 3):
        model = Sequential([Embedding(6, 2, padding_idx=padding_idx), GRU(2), Dense(1)]).build(6)
        model.save(tmp_path / "m.npz")
        with zipfile.ZipFile(tmp_path / "m.npz") as z, z.open("header.npy") as f:
            header = json.loads(np.lib.format.read_array(f).tobytes().decode("utf-8"))
        assert header["layers"][0]["config"] == {"vocab_size": 6, "dim": 2, "padding_idx": padding_idx}
        assert Sequential.load(tmp_path / "m.npz").layers[0].padding_idx == padding_idx
    # a layer spec as files written with the old default hold it: padding_idx 0, stated
    old = {"class": "Embedding", "config": {"vocab_size": 6, "dim": 2, "padding_idx": 0}}
    config = Sequential([Embedding(6, 2), GRU(2), Dense(1)]).get_config()
    config["layers"][0] = old
    assert Sequential.from_config(config).layers[0].padding_idx == 0
