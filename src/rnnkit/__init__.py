"""rnnkit: recurrent neural networks in NumPy, with hand-derived backpropagation through time.

The layers of the package (imports only point downward):

- ``rnnkit.ops``     pure functions on arrays: activations, losses, CTC, and the recurrent cells
- ``rnnkit.layers``  objects that hold parameters and gradients and call ``ops``
- ``rnnkit.optim``   optimisers, gradient clipping, L1/L2 penalties
- ``rnnkit.model``   ``Sequential``: fit / evaluate / predict / save / load
- ``rnnkit.data``    batching, vocabularies, real data sets that ship inside packages
- ``rnnkit.apps``    the applications of the course text's §5
"""
__version__ = "0.1.0"
