"""PyTorch models of the course, one file per family; configs are dataclasses."""

from . import bestrq, conformer, diffusion, lab, pretrained, uvr5
from .cnn import CNNClassifier, CNNConfig, DeepCNN, DeepCNNConfig
from .deep import DeepMLP, DeepMLPConfig
from .dit import DiT, DiTConfig
from .gpt import GPT, GPTConfig
from .mlp import MLP, MLPConfig
from .moe import MoEFeedForward, TopKRouter, load_balancing_loss
from .resnet import ResNet, resnet18, resnet34
from .rnn import CELLS, CharRNN, CharRNNConfig, SequenceRegressor, SequenceRegressorConfig
from .seq2seq import Seq2Seq, Seq2SeqConfig
from .transformer import Transformer, TransformerConfig
from .unet import UNet, UNetConfig
from .. import _guard
from . import cnn, deep, dit, gpt, hubert, mlp, moe, ngram, resnet, reverbnet, rnn, seq2seq, transformer, unet

_guard.install(bestrq, cnn, conformer, deep, diffusion, dit, gpt, hubert, lab, mlp, moe, ngram, resnet, reverbnet, rnn, seq2seq,
               transformer, unet, uvr5)

__all__ = [
    "CELLS",
    "CNNClassifier",
    "CNNConfig",
    "DeepCNN",
    "DeepCNNConfig",
    "CharRNN",
    "CharRNNConfig",
    "DeepMLP",
    "DeepMLPConfig",
    "DiT",
    "DiTConfig",
    "GPT",
    "GPTConfig",
    "MLP",
    "MLPConfig",
    "MoEFeedForward",
    "ResNet",
    "SequenceRegressor",
    "SequenceRegressorConfig",
    "Seq2Seq",
    "Seq2SeqConfig",
    "TopKRouter",
    "Transformer",
    "TransformerConfig",
    "UNet",
    "UNetConfig",
    "resnet18",
    "resnet34",
    "bestrq",
    "conformer",
    "diffusion",
    "lab",
    "load_balancing_loss",
    "pretrained",
    "uvr5",
]
