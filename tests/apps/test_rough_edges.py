"""Rough edges a new user hit: layers used on their own, prompts typed on a command line, progress
output of `rnnkit train` (the recipe-side items are in test_recipe_rows.py)."""
import numpy as np
import pytest

from rnnkit import cli
from rnnkit.apps import charlm, sunspots
from rnnkit.apps.common import AppResult
from rnnkit.cli import main
from rnnkit.data.text import CharVocabulary, unescape
from rnnkit.layers import GRU, LSTM, Dense, Embedding, Recurrent
from rnnkit.model import Sequential


@pytest.mark.parametrize("make", [lambda: LSTM(16, return_sequences=True), lambda: GRU(5, num_layers=2),
                                  lambda: Recurrent(4, cell="rnn", bidirectional=True), lambda: Dense(3)])
def test_a_layer_builds_itself_on_first_use(make):
    x = np.random.default_rng(0).standard_normal((2, 7, 3)).astype(np.float32)
    layer = make()
    y = layer.forward(x)
    assert layer.built and layer.input_size == 3 and y.dtype == np.float32
    again = make()                                     # seeded: the same weights every time
    np.testing.assert_array_equal(again.forward(x), y)
    built = make()
    built.build(3)                                     # build(input_size) alone works: rng=None
    np.testing.assert_array_equal(built.forward(x), y)
    assert make().forward(x.astype(np.float64)).dtype == np.float64   # float64 input: a float64 layer


def test_streaming_and_embedding_layers_build_on_first_use():
    gru = GRU(4)
    y, state = gru.step(np.ones((1, 3), np.float32))
    assert y.shape == (1, 4) and state.shape == (1, 1, 4)
    emb = Embedding(10, 3)
    assert emb.forward(np.array([[1, 2, 9]])).shape == (1, 3, 3) and emb.input_size == 10
    with pytest.raises(ValueError, match="builds itself from the last axis"):
        LSTM(3).forward("abc")


def test_prompt_escapes_are_read():
    assert unescape(r"ROMEO.\n") == "ROMEO.\n"
    assert unescape(r"a\tb\\c \x41\u00e9") == "a\tb\\c A\u00e9"
    assert unescape(r"\q stays") == r"\q stays"
    args = cli.build_parser(cli.COMMANDS).parse_args(["generate", "m.npz", "--prompt", r"ROMEO.\n"])
    assert args.prompt == "ROMEO.\n"


def test_missing_characters_name_the_nearest_valid_ones():
    vocab = CharVocabulary.build("abcE e'")
    with pytest.raises(ValueError, match=r"'É' -> 'E' or 'e'; '’' -> \"'\"") as info:
        vocab.encode("É’")
    assert "nearest valid" in str(info.value)


def test_generate_reads_an_escaped_newline(tmp_path, capsys):
    vocab = list("\nABCDEMOR.abc ")
    config = {**charlm.default_config(quick=True), "hidden": 6, "embed_dim": 4}
    lm = charlm.build(config, len(vocab)).compile("crossentropy")
    lm.build(len(vocab))
    lm.save(tmp_path / "lm.npz", metadata={"app": "charlm", "vocab": vocab, "start": "\n"})
    assert main(["generate", str(tmp_path / "lm.npz"), "--length", "5", "--prompt", r"ROMEO.\n"]) == 0
    assert capsys.readouterr().out.startswith("ROMEO.\n")
    assert main(["generate", str(tmp_path / "lm.npz"), "--length", "5", "--prompt", "É"]) == 1
    assert "nearest: 'É' -> 'E'" in capsys.readouterr().err


@pytest.mark.parametrize("tty,flag,want", [(False, [], 2), (True, [], 1), (True, ["--verbose", "0"], 0)])
def test_train_shows_progress_by_default(tmp_path, monkeypatch, tty, flag, want):
    seen = {}

    def run(config, verbose=0):
        seen["verbose"] = verbose
        return AppResult(task="t", data="d", metric="m", value=1.0, baseline=None, baseline_name="",
                         seconds=0.0)

    monkeypatch.setattr(sunspots, "run", run)
    monkeypatch.setattr(cli.sys.stderr, "isatty", lambda: tty, raising=False)
    assert main(["train", "sunspots", "--out", str(tmp_path / "run"), *flag]) == 0
    assert seen["verbose"] == want


def test_sequential_fit_checks_verbose():
    model = Sequential([GRU(2), Dense(1)]).compile("mse")
    with pytest.raises(ValueError, match="verbose: expected an integer <= 2, got 5"):
        model.fit(np.ones((2, 3, 1)), np.ones(2), verbose=5)
