"""How many multiply–accumulates (MACs) a layer performs, from its type and its tensors' shapes.

Convention of the whole book: **FLOPs = 2 × MACs**, where MACs count the multiply–accumulates
of matrix products and convolutions. Bias additions and element-wise work (activations,
normalisation, pooling) are not counted — the convention of
``torch.utils.flop_counter.FlopCounterMode`` and of most papers. It makes the count a property
of the architecture, and for the layers that dominate the cost it is exact.

The counters live in a registry so that a chapter which adds a layer type adds its counter:

    @register_counter(MyLayer)
    def _my_layer(module, inputs, output) -> int: ...
"""

from __future__ import annotations

from collections.abc import Callable
from math import prod
from typing import Any

import torch
from torch import nn

from ..models import dit as _dit
from ..models import gpt as _gpt
from ..models import lab as _lab
from ..models import transformer as _transformer

__all__ = ["MacCounter", "ZERO_MAC_TYPES", "count_macs", "has_counter", "register_counter"]

MacCounter = Callable[[nn.Module, tuple[Any, ...], Any], "int | None"]

_COUNTERS: dict[type[nn.Module], MacCounter] = {}

#: Layers with parameters or work, but no matrix products: 0 MACs by the book's convention.
ZERO_MAC_TYPES: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid, nn.Softplus,
    nn.Softmax, nn.LogSoftmax, nn.Identity, nn.Flatten, nn.Unflatten,
    nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d,
    nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm, nn.GroupNorm,
    nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d,
    nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d,
    nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
    nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d,
    nn.Upsample, nn.ZeroPad2d, nn.ConstantPad1d, nn.ConstantPad2d, nn.Embedding,
)


def register_counter(*module_types: type[nn.Module]) -> Callable[[MacCounter], MacCounter]:
    """Decorator: use the function as the MAC counter of these module types."""
    for t in module_types:
        if not (isinstance(t, type) and issubclass(t, nn.Module)):
            raise TypeError(f"register_counter takes nn.Module subclasses, got {t!r}")

    def decorate(fn: MacCounter) -> MacCounter:
        for t in module_types:
            _COUNTERS[t] = fn
        return fn

    return decorate


def _first_tensor(obj: Any) -> torch.Tensor:
    if isinstance(obj, torch.Tensor):
        return obj
    if isinstance(obj, (list, tuple)):
        for item in obj:
            return _first_tensor(item)
    raise TypeError(f"expected a tensor, got {type(obj).__name__}")


@register_counter(nn.Linear)
def _linear(module: nn.Linear, inputs: tuple[Any, ...], output: torch.Tensor) -> int:
    # every output element is a dot product of length in_features
    return output.numel() * module.in_features


@register_counter(nn.Conv1d, nn.Conv2d, nn.Conv3d)
def _conv(module: nn.modules.conv._ConvNd, inputs: tuple[Any, ...], output: torch.Tensor) -> int:
    # every output element sums (in_channels / groups) × kernel-size products
    return output.numel() * (module.in_channels // module.groups) * prod(module.kernel_size)


@register_counter(nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
def _conv_transpose(module: nn.modules.conv._ConvTransposeNd, inputs: tuple[Any, ...], output: torch.Tensor) -> int:
    # every *input* element is scattered through the kernel into (out_channels / groups) outputs
    x = _first_tensor(inputs)
    return x.numel() * (module.out_channels // module.groups) * prod(module.kernel_size)


_RNN_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


@register_counter(nn.RNN, nn.LSTM, nn.GRU)
def _recurrent(module: nn.RNNBase, inputs: tuple[Any, ...], output: Any) -> int | None:
    # per time step, layer and direction: gates · H · (D_in + H) multiply-accumulates
    x = inputs[0] if inputs else None
    if not isinstance(x, torch.Tensor) or getattr(module, "proj_size", 0):
        return None  # packed sequences and projected LSTMs: not counted
    steps = x.numel() // module.input_size  # B·T (or T for an unbatched input)
    gates, hidden = _RNN_GATES[module.mode], module.hidden_size
    directions = 2 if module.bidirectional else 1
    total = 0
    for layer in range(module.num_layers):
        d_in = module.input_size if layer == 0 else hidden * directions
        total += directions * steps * gates * hidden * (d_in + hidden)
    return total


# -- attention: the matrix products a module computes in its own forward, besides its children's --


@register_counter(_transformer.MultiHeadAttention)
def _mha(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> int:
    # Q Kᵀ and weights·V: each B·H·T_q·T_k·d_head (the projections are counted as Linear rows)
    weights = output[1]  # (B, H, T_q, T_k)
    return 2 * weights.numel() * module.d_head


@register_counter(_dit.Attention)
def _dit_attention(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> int:
    # DiT's fused self-attention: Q Kᵀ and weights·V over all N tokens, each B·N·N·D summed over
    # the heads (qkv and proj are counted as Linear rows)
    b, n, d = output.shape
    return 2 * b * n * n * d


@register_counter(_gpt.CausalSelfAttention)
def _causal_attention(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> int:
    x, (k, _) = inputs[0], output[1]  # new positions (B, T, d); keys of all positions (B, H, T_k, d_head)
    return 2 * x.shape[0] * module.num_heads * x.shape[1] * k.shape[2] * module.d_head


@register_counter(nn.MultiheadAttention)
def _torch_mha(module: nn.MultiheadAttention, inputs: tuple[Any, ...], output: Any) -> int:
    # PyTorch's MultiheadAttention calls its projections as functions, not as child modules, so
    # everything is counted here: Q, K, V projections, Q Kᵀ, weights·V, and the output projection.
    query, key = inputs[0], inputs[1]
    batch_first = module.batch_first
    if query.ndim == 2:  # unbatched (L, E)
        b, lq, lk = 1, query.shape[0], key.shape[0]
    else:
        b = query.shape[0] if batch_first else query.shape[1]
        lq = query.shape[1] if batch_first else query.shape[0]
        lk = key.shape[1] if batch_first else key.shape[0]
    e, kdim, vdim = module.embed_dim, module.kdim, module.vdim
    projections = b * (lq * e * e + lk * e * kdim + lk * e * vdim)
    attention = 2 * b * lq * lk * e  # summed over heads: H · d_head = E
    return projections + attention + b * lq * e * e


@register_counter(_lab.GCNLayer, _lab.GATLayer)
def _graph_propagation(module: nn.Module, inputs: tuple[Any, ...], output: torch.Tensor) -> int:
    # the dense (N, N) propagation Â·(HW) or α·(WH); the linear map is counted as its Linear row.
    # (GAT's scores a·Wh are matrix–vector products, which FlopCounterMode does not count either.)
    n = inputs[1].shape[0]
    return n * n * output.shape[1]


@register_counter(_lab.ViTClassifier, _lab.SequenceRegressor)
def _own_additions(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> int:
    return 0  # their own work is adding the learned positions (and the class token): no products


@register_counter(_lab.SAGELayer)
def _sage(module: nn.Module, inputs: tuple[Any, ...], output: torch.Tensor) -> int:
    h, adj = inputs[0], inputs[1]
    return adj.shape[0] * adj.shape[1] * h.shape[1]  # A·H, the neighbours' sum


def has_counter(module: nn.Module) -> bool:
    """Whether a registered counter knows this module's type (leaf or not)."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    return any(cls in _COUNTERS for cls in type(module).__mro__)


def count_macs(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> int | None:
    """MACs of one call of a module — for a container, of its own operations besides its
    children's — or ``None`` when no counter knows its type."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    if not isinstance(inputs, tuple):
        raise TypeError(f"inputs must be the tuple of the call's positional inputs, got {type(inputs).__name__}")
    for cls in type(module).__mro__:
        if cls in _COUNTERS:
            try:
                macs = _COUNTERS[cls](module, inputs, output)
            except (AttributeError, TypeError, IndexError) as exc:
                raise TypeError(f"the MAC counter of {cls.__name__} needs the call's tensors (inputs, output), "
                                f"got inputs {tuple(type(i).__name__ for i in inputs)} and output {type(output).__name__}") from exc
            return None if macs is None else int(macs)
    if isinstance(module, ZERO_MAC_TYPES):
        return 0
    return None
