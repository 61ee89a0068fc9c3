"""Every recipe builds its recurrent layer from its config through the cell registry: the cell,
the width, the depth and the direction it is given are the ones it gets (sunspots once ignored
``bidirectional``)."""
import pytest

from rnnkit.apps import actions, charlm, sentiment, speech_digits, speech_vowels, stocks, sunspots
from rnnkit.layers import Recurrent
from rnnkit.ops import CELLS

BUILDERS = {
    "sunspots": (sunspots, lambda m, c: m.build(c)),
    "stocks": (stocks, lambda m, c: m.build(c)),
    "sentiment": (sentiment, lambda m, c: m.build(c, 50)),
    "actions": (actions, lambda m, c: m.build(c, 4)),
    "speech-vowels": (speech_vowels, lambda m, c: m.build(c, 9, 0)),
    "speech-digits": (speech_digits, lambda m, c: m.build(c)),
    "charlm": (charlm, lambda m, c: m.build(c, 30)),
}


@pytest.mark.parametrize("app", sorted(BUILDERS))
@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("bidirectional", [False, True])
def test_recipe_builds_the_configured_recurrent_layer(app, cell, bidirectional):
    module, build = BUILDERS[app]
    config = dict(module.default_config(quick=True), cell=cell, hidden=7, layers=2, bidirectional=bidirectional)
    if app == "charlm" and bidirectional:
        with pytest.raises(ValueError, match="bidirectional"):
            build(module, config)
        return
    model = build(module, config)
    (rec,) = [layer for layer in model.layers if isinstance(layer, Recurrent)]
    assert (rec.cell.name, rec.hidden_size, rec.num_layers, rec.bidirectional) == (cell, 7, 2, bidirectional)
