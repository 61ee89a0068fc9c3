"""Layers: thin objects that hold parameters and gradients and call the pure ops."""
from .attention import AttentionPooling
from .base import Layer
from .dense import Dense, Dropout, Embedding, Flatten
from .pooling import TemporalPooling
from .recurrent import GRU, LSTM, RNN, Recurrent

__all__ = ["Layer", "Dense", "Dropout", "Embedding", "Flatten", "RNN", "LSTM", "GRU", "Recurrent", "TemporalPooling",
           "AttentionPooling"]
