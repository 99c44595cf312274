"""Reference maths in NumPy, forward and backward. Every piece here is tested against PyTorch
in float64, so a chapter can show the mechanism and prove it is the real one.

No PyTorch in this package: it is the independent implementation.
"""

from .gradcheck import numerical_gradient, relative_error
from .layers import ACTIVATIONS, Layer, Linear, ReLU, Sigmoid, Tanh, relu, sigmoid, tanh
from .losses import MSELoss
from .mlp import MLP
from .optim import SGD, Adam
from .training import cosine_lr, minibatch_fit

__all__ = [
    "ACTIVATIONS",
    "Adam",
    "Layer",
    "Linear",
    "MLP",
    "MSELoss",
    "ReLU",
    "SGD",
    "Sigmoid",
    "Tanh",
    "numerical_gradient",
    "relative_error",
    "relu",
    "sigmoid",
    "tanh",
    "cosine_lr",
    "minibatch_fit",
]
