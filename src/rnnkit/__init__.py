"""rnnkit: recurrent neural networks in NumPy, with hand-derived backpropagation through time.

    from rnnkit import Sequential, Embedding, LSTM, Dense, EarlyStopping

The layers of the package (imports only point downward):

- ``rnnkit.ops``     pure functions on arrays: activations, losses, CTC, and the recurrent cells
- ``rnnkit.layers``  objects that hold parameters and gradients and call ``ops``
- ``rnnkit.optim``   optimisers, gradient clipping, L1/L2 penalties
- ``rnnkit.model``   ``Sequential``: fit / evaluate / predict / save / load
- ``rnnkit.data``    batching, vocabularies, real data sets that ship inside packages
- ``rnnkit.apps``    the applications of the course text's §5
- ``rnnkit.tasks``   training on your own data files (``rnnkit fit`` / ``rnnkit predict``)

Importing ``rnnkit`` needs NumPy only (optional dependencies are imported when a feature uses them).
"""
from ._version import __version__
from .callbacks import CSVLogger, EarlyStopping, ModelCheckpoint
from .layers import GRU, LSTM, RNN, Dense, Dropout, Embedding, Flatten, Recurrent
from .model import Sequential, TrainingError, feedforward

__all__ = ["__version__", "Sequential", "feedforward", "Dense", "Dropout", "Embedding", "Flatten", "RNN",
           "LSTM", "GRU", "Recurrent", "EarlyStopping", "ModelCheckpoint",
           "CSVLogger", "TrainingError"]
