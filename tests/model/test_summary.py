"""``summary(input_size=None)``: a built model's table; an unbuilt model given ``input_size`` counts its
parameters without building; without it, the layers and how to get the counts."""
import pytest

from rnnkit import GRU, LSTM, Dense, Embedding, Sequential


def layers():
    return [Embedding(50, 6), LSTM(8, bidirectional=True), Dense(3)]


def test_unbuilt_with_input_size_is_the_built_table_without_building():
    model = Sequential(layers())
    text = model.summary(input_size=50, print_fn=None)
    assert model.input_size is None and not any(layer.built for layer in model.layers)
    lstm = 2 * (4 * 8 * (6 + 8) + 2 * 4 * 8)             # two directions: W_x, W_h, b, b_h
    total = 50 * 6 + lstm + (16 * 3 + 3)
    assert f"total parameters: {total:,}" in text and f"{lstm:,}" in text and "(B, T, 6)" in text
    built = Sequential(layers()).build(50)
    assert built.summary(print_fn=None) == text == built.summary(input_size=50, print_fn=None)
    assert built.num_params() == total


def test_unbuilt_without_input_size_says_how_to_count():
    printed = []
    text = Sequential([GRU(4), Dense(1)]).summary(print_fn=printed.append)
    assert printed == [text]
    assert "GRU(hidden_size=4" in text and "Dense(units=1" in text
    assert "total parameters: ? (the model is not built; summary(input_size=F) counts them" in text


def test_input_size_must_agree_with_a_built_model():
    model = Sequential([GRU(4), Dense(1)]).build(3)
    with pytest.raises(ValueError, match="input_size: the model is built for 3 inputs, got 5"):
        model.summary(input_size=5)
    with pytest.raises(ValueError, match="input_size: expected an integer >= 1"):
        Sequential([GRU(4)]).summary(input_size=0)
