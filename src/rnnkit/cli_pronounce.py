"""``rnnkit pronounce``: spellings to phonemes with a model of the g2p recipe (CMUdict's 39 phonemes,
stress stripped).

    rnnkit train g2p --out runs/g2p
    rnnkit pronounce runs/g2p rnnkit colourless --beam 5
"""
from __future__ import annotations

from .apps import g2p
from .cli_args import EXIT_USAGE, POSITIVE, CliError
from .cli_export import model_path


def add_commands(command):
    """Add ``pronounce``; ``command(name, help)`` makes a sub-parser."""
    p = command("pronounce", "spell out words in phonemes with a grapheme-to-phoneme model")
    p.add_argument("model", metavar="RUN_OR_MODEL",
                   help="a run folder of `rnnkit train g2p` (its model.npz) or that model file")
    p.add_argument("words", nargs="+", metavar="WORD", help="words: letters a-z and the apostrophe (any case)")
    p.add_argument("--beam", type=POSITIVE, default=5, metavar="N",
                   help="beam width of the search (>= 1; 1 is greedy decoding; default 5)")


def cmd_pronounce(args):
    path = model_path(args.model)
    if not path.is_file():
        raise CliError(f"{path}: " + ("no such file" if not path.exists() else "not a file")
                       + " (expected a run folder of `rnnkit train g2p` or its model.npz)")
    try:
        words = g2p.check_words(args.words)
    except ValueError as e:
        raise CliError(str(e), EXIT_USAGE) from None
    model = g2p.load_model(path)
    width = max(len(w) for w in words)
    for word, phones in g2p.pronounce(model, words, args.beam).items():
        print(f"{word:<{width}}  {' '.join(phones)}")
