"""Sequence-to-sequence: a recurrent encoder-decoder with attention (seed §6). ``Seq2Seq`` is in
``model``, its forward and hand-derived backward in ``graph``, greedy and beam decoding in ``decode``."""
from .model import Seq2Seq

__all__ = ["Seq2Seq"]
