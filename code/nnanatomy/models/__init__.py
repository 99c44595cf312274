"""PyTorch models of the course, one file per family; configs are dataclasses."""

from .cnn import CNNClassifier, CNNConfig
from .mlp import MLP, MLPConfig
from .rnn import CELLS, CharRNN, CharRNNConfig, SequenceRegressor, SequenceRegressorConfig

__all__ = [
    "CELLS",
    "CNNClassifier",
    "CNNConfig",
    "CharRNN",
    "CharRNNConfig",
    "MLP",
    "MLPConfig",
    "SequenceRegressor",
    "SequenceRegressorConfig",
]
