"""Reference maths in NumPy, forward and backward. Every piece here is tested against PyTorch
in float64, so a chapter can show the mechanism and prove it is the real one.

No PyTorch in its maths: it is the independent implementation. (Its arguments are guarded like
the rest of the package's, by ``nnanatomy/_guard.py``.)
"""

from .attention import (
    causal_mask,
    decoder_layer,
    encoder_layer,
    feed_forward,
    gelu,
    gpt_block,
    layer_norm,
    multi_head_attention,
    padding_mask,
    scaled_dot_product_attention,
    scaled_dot_product_attention_backward,
    sinusoidal_positional_encoding,
    softmax,
    transformer_forward,
)
from .conv import (
    Conv2D,
    col2im,
    conv2d_loops,
    conv2d_loops_backward,
    conv_output_size,
    convolve1d,
    convolve2d,
    correlate1d,
    correlate2d,
    im2col,
)
from . import graph
from .gradcheck import numerical_gradient, relative_error
from .layers import ACTIVATIONS, Dropout, Flatten, Layer, Linear, ReLU, Sigmoid, Tanh, relu, sigmoid, tanh
from .losses import CrossEntropyLoss, MSELoss, log_softmax
from .mlp import INITS, MLP, init_std
from .moe import moe_feed_forward
from .norm import BatchNorm2D
from .optim import SGD, Adam
from .pooling import AdaptiveAvgPool2D, MaxPool2D
from .recurrent import GRU, LSTM, RNN, TORCH_GATE_ORDER
from .training import cosine_lr, minibatch_fit

__all__ = [
    "graph",
    "ACTIVATIONS",
    "Adam",
    "AdaptiveAvgPool2D",
    "BatchNorm2D",
    "Conv2D",
    "Dropout",
    "Flatten",
    "GRU",
    "LSTM",
    "Layer",
    "Linear",
    "MLP",
    "INITS",
    "init_std",
    "CrossEntropyLoss",
    "MSELoss",
    "log_softmax",
    "MaxPool2D",
    "RNN",
    "ReLU",
    "SGD",
    "Sigmoid",
    "TORCH_GATE_ORDER",
    "Tanh",
    "causal_mask",
    "col2im",
    "conv2d_loops",
    "conv2d_loops_backward",
    "conv_output_size",
    "convolve1d",
    "convolve2d",
    "correlate1d",
    "correlate2d",
    "cosine_lr",
    "decoder_layer",
    "encoder_layer",
    "feed_forward",
    "gelu",
    "gpt_block",
    "im2col",
    "layer_norm",
    "minibatch_fit",
    "multi_head_attention",
    "numerical_gradient",
    "padding_mask",
    "relative_error",
    "moe_feed_forward",
    "relu",
    "scaled_dot_product_attention",
    "scaled_dot_product_attention_backward",
    "sigmoid",
    "sinusoidal_positional_encoding",
    "softmax",
    "tanh",
    "transformer_forward",
]

from .. import _guard
from . import attention, conv, gradcheck, layers, losses, mlp, moe, norm, optim, pooling, recurrent, training

_guard.install(attention, conv, gradcheck, graph, layers, losses, mlp, moe, norm, optim, pooling, recurrent, training)
