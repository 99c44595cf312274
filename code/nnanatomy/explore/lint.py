"""Design lint: warnings about a network's architecture, each with the numbers that justify it.

``lint(model, *inputs)`` runs the model once on ``meta`` (shapes only, nothing computed) and
checks six designs that cost parameters, compute or trainability for nothing:

* a Linear after a convolution stack that holds most of the parameters (VGG-16's first
  classifier layer holds 103 M of its 138 M): global average pooling removes it;
* two Linears in a row with no non-linearity between them: they compose to one linear map;
* a bias before BatchNorm: normalisation subtracts the mean, so the bias is cancelled;
* a strided convolution or pooling whose window does not reach the last rows or columns of its
  input (floor division in the output-size formula): those pixels are never read;
* attention scores and weights of size T × T that dominate the activations (they grow as T²);
* a deep stack of layers without normalisation or residual connections.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from .. import _guard
from ..runtime import move_to
from .stability import Finding
from .summary import _meta_copy

__all__ = ["LINT_LIMITS", "lint"]

LINT_LIMITS = {
    "linear_share": 0.5,  # a Linear after convolutions holding more than this share of the parameters
    "attention_share": 0.25,  # T×T attention weights above this share of all activation bytes
    "plain_depth": 10,  # weight layers in a row with neither normalisation nor a residual connection
}

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_STRIDED = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)
_BN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
_NORMS = (*_BN, nn.LayerNorm, nn.GroupNorm, nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d, nn.RMSNorm)
_PASS = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Identity)  # do not change what a Linear composes with


class _Ops(TorchDispatchMode):
    """Output bytes of every operation, softmax outputs, and additions of two activations."""

    def __init__(self) -> None:
        super().__init__()
        self.bytes = 0
        self.square: list[tuple[tuple[int, ...], int]] = []  # outputs whose last two sizes are equal
        self.softmax: set[tuple[int, ...]] = set()  # shapes of softmax outputs among them
        self.adds = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        out = func(*args, **(kwargs or {}))
        tensors = [t for t in tree_leaves(out) if isinstance(t, torch.Tensor)]
        self.bytes += sum(t.numel() * t.element_size() for t in tensors)
        name = str(func.overloadpacket).split(".")[-1]
        for t in tensors:  # candidates: scores, masked scores, weights (kept only if a softmax had their shape)
            if t.ndim >= 3 and t.shape[-1] == t.shape[-2] > 1:
                self.square.append((tuple(t.shape), t.numel() * t.element_size()))
        if name in ("_softmax", "softmax") and tensors and tensors[0].ndim >= 3 and tensors[0].shape[-1] == tensors[0].shape[-2] > 1:
            self.softmax.add(tuple(tensors[0].shape))
        if name in ("add", "add_") and len(args) >= 2 and all(isinstance(a, torch.Tensor) for a in args[:2]) \
                and args[0].shape == args[1].shape and args[0].ndim >= 2:
            self.adds += 1
        return out


def _tuple(v: Any, n: int) -> tuple[int, ...]:
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


def lint(model: nn.Module, *inputs: Any) -> list[Finding]:
    """Design warnings for ``model`` on ``inputs`` (one batch), each a :class:`Finding` whose value
    is the number behind it. The model runs once on a ``meta`` copy in eval mode: its weights,
    mode and device are untouched, and any size can be checked in a moment."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not inputs:
        raise ValueError("lint needs the model's inputs, e.g. lint(model, torch.randn(1, 3, 224, 224))")
    if not any(isinstance(t, torch.Tensor) for t in tree_leaves(inputs)):
        raise TypeError("inputs must contain at least one torch.Tensor")
    meta = _meta_copy(model).eval()
    names = {m: n or type(model).__name__ for n, m in meta.named_modules()}
    calls: list[tuple[nn.Module, list[int], list[int], tuple]] = []  # module, input ids, output ids, input shape

    def hook(module: nn.Module, args: tuple, output: Any) -> None:
        if next(module.children(), None) is None:
            ins = [t for t in tree_leaves(args) if isinstance(t, torch.Tensor)]
            outs = [t for t in tree_leaves(output) if isinstance(t, torch.Tensor)]
            calls.append((module, [id(t) for t in ins], [id(t) for t in outs], tuple(ins[0].shape) if ins else ()))
            keep.extend(outs)  # ids stay unique while the tensors live

    keep: list[torch.Tensor] = []
    handles = [m.register_forward_hook(hook) for m in meta.modules()]
    ops = _Ops()
    try:
        with torch.no_grad(), ops:
            _guard.call("model(*inputs)", meta, *move_to(inputs, torch.device("meta")))
    finally:
        for h in handles:
            h.remove()
    total = sum(p.numel() for p in {id(p): p for p in meta.parameters()}.values())
    found: list[Finding] = []

    # 1. a Linear after the convolutions that holds most of the parameters
    seen_conv = False
    for module, _, _, shape in calls:
        seen_conv = seen_conv or isinstance(module, _CONV)
        if seen_conv and isinstance(module, nn.Linear) and total:
            share = sum(p.numel() for p in module.parameters()) / total
            if share > LINT_LIMITS["linear_share"]:
                found.append(Finding(names[module], "a Linear after the convolutions holds most parameters", share,
                                     f"{sum(p.numel() for p in module.parameters()):,} of {total:,} parameters read a flattened "
                                     f"{module.in_features:,}-value feature map: average it over space first (global average "
                                     "pooling, nn.AdaptiveAvgPool2d(1)), and the layer shrinks by the map's area"))
    # 2. consecutive Linears, 3. a bias before BatchNorm (follow each output to the next module that reads it)
    produced = {}
    for module, ins, outs, _ in calls:
        source = next((produced[i] for i in ins if i in produced), None)
        if isinstance(module, _PASS) and source is not None:
            for o in outs:
                produced[o] = source
            continue
        if source is not None and isinstance(module, nn.Linear) and isinstance(source, nn.Linear):
            a, b = source, module
            merged = a.in_features * b.out_features + b.out_features
            used = sum(p.numel() for p in (*a.parameters(), *b.parameters()))
            found.append(Finding(names[b], "two Linears with no non-linearity between them", float(min(a.out_features, a.in_features, b.out_features)),
                                 f"{names[a]} → {names[b]} compose to one linear map of rank ≤ {min(a.in_features, a.out_features, b.out_features)} "
                                 f"({used:,} parameters where one Linear would need {merged:,}): put an activation between them or merge them"))
        if source is not None and isinstance(module, _BN) and isinstance(source, (nn.Linear, *_CONV)) and source.bias is not None:
            found.append(Finding(names[source], "a bias before BatchNorm", float(source.bias.numel()),
                                 f"{names[module]} subtracts each channel's mean, which cancels this layer's "
                                 f"{source.bias.numel()} biases: build it with bias=False"))
        for o in outs:
            produced[o] = module
    # 4. pixels dropped by floor division
    for module, _, _, shape in calls:
        if not isinstance(module, _STRIDED) or not shape:
            continue
        n = {"1d": 1, "2d": 2, "3d": 3}[type(module).__name__[-2:].lower()]
        k = _tuple(module.kernel_size, n)
        s = _tuple(module.stride if module.stride is not None else module.kernel_size, n)
        p = _tuple(module.padding, n) if not isinstance(module.padding, str) else (0,) * n
        d = _tuple(getattr(module, "dilation", 1), n)
        if getattr(module, "ceil_mode", False):
            continue
        for axis, size in enumerate(shape[-n:]):
            left = (size + 2 * p[axis] - d[axis] * (k[axis] - 1) - 1) % s[axis]  # rows the last window does not reach
            lost = max(0, left - p[axis])  # the padding at the end goes first
            if lost:
                found.append(Finding(names[module], "input pixels never read", float(lost),
                                     f"with size {size}, kernel {k[axis]}, stride {s[axis]} and padding {p[axis]}, the last "
                                     f"{lost} of {size} positions of axis {axis - n} are never read (floor division in "
                                     "(W − K + 2P)/S + 1): pad the input, change the padding, or crop on purpose"))
    # 5. attention weights that grow as T²
    square = [(shape, b) for shape, b in ops.square if shape in ops.softmax]
    if square and ops.bytes:
        share = sum(b for _, b in square) / ops.bytes
        if share > LINT_LIMITS["attention_share"]:
            shape = square[0][0]
            found.append(Finding(type(model).__name__, "T × T attention tensors dominate the activations", share,
                                 f"{len(square)} tensors of shape {shape} (scores, masked scores, softmax weights) hold "
                                 f"{share:.0%} of all activation bytes; "
                                 f"they grow as T² (T = {shape[-1]}: twice the length, four times the bytes): "
                                 "F.scaled_dot_product_attention (flash/memory-efficient kernels) never stores them"))
    # 6. a deep plain stack
    weights = [m for m, *_ in calls if isinstance(m, (nn.Linear, *_CONV))]
    norms = [m for m, *_ in calls if isinstance(m, _NORMS)]
    if len(weights) >= LINT_LIMITS["plain_depth"] and not norms and ops.adds == 0:
        found.append(Finding(type(model).__name__, "a deep stack without normalisation or residual connections",
                             float(len(weights)),
                             f"{len(weights)} weight layers in a row and neither a normalisation layer nor a residual addition: "
                             "activations and gradients change scale layer by layer (appendix A2): add BatchNorm/LayerNorm "
                             "or residual connections"))
    return found
