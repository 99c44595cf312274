"""PyTorch models of the course, one file per family; configs are dataclasses."""

from .cnn import CNNClassifier, CNNConfig
from .gpt import GPT, GPTConfig
from .mlp import MLP, MLPConfig
from .moe import MoEFeedForward, TopKRouter, load_balancing_loss
from .rnn import CELLS, CharRNN, CharRNNConfig, SequenceRegressor, SequenceRegressorConfig
from .transformer import Transformer, TransformerConfig

__all__ = [
    "CELLS",
    "CNNClassifier",
    "CNNConfig",
    "CharRNN",
    "CharRNNConfig",
    "GPT",
    "GPTConfig",
    "MLP",
    "MLPConfig",
    "MoEFeedForward",
    "SequenceRegressor",
    "SequenceRegressorConfig",
    "TopKRouter",
    "Transformer",
    "TransformerConfig",
    "load_balancing_loss",
]
