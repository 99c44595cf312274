"""Receptive fields: how much of the input one output pixel of a CNN can see.

For a stack of convolutions and poolings the receptive field grows layer by layer:

    r_l = r_{l−1} + (k_l − 1)·d_l·j_{l−1}        j_l = j_{l−1}·s_l

where k, s, d are the layer's kernel size, stride and dilation, and ``j`` (the *jump*) is
the distance in input pixels between neighbouring outputs of the layer; ``r_0 = j_0 = 1``.
Two 3×3 convolutions see 5×5, three see 7×7; a stride-2 layer doubles the growth of every
layer after it. :func:`measured_receptive_field` checks the formula with autograd.
"""

from __future__ import annotations

from dataclasses import dataclass
import torch
from torch import nn

from ._copying import deepcopy_module
from .. import _guard
from ..scratch.conv import pair

__all__ = ["ReceptiveField", "RFRow", "measured_receptive_field", "receptive_field"]

_SPATIAL = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)
_GLOBAL = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)


@dataclass(frozen=True)
class RFRow:
    name: str
    type: str
    kernel: tuple[int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    receptive_field: tuple[int, int]  # (height, width) in input pixels
    jump: tuple[int, int]  # (0, 0) for a global pooling layer


@dataclass
class ReceptiveField:
    input_size: tuple[int, int]
    rows: list[RFRow]

    @property
    def final(self) -> tuple[int, int]:
        return self.rows[-1].receptive_field if self.rows else (1, 1)

    def __str__(self) -> str:
        header = ("layer", "type", "kernel", "stride", "dilation", "receptive field", "jump")
        fmt = lambda t: f"{t[0]}×{t[1]}"  # noqa: E731
        body = [
            (r.name, r.type, "global", "—", "—", fmt(r.receptive_field), "—")
            if r.jump == (0, 0)
            else (r.name, r.type, fmt(r.kernel), fmt(r.stride), fmt(r.dilation), fmt(r.receptive_field), fmt(r.jump))
            for r in self.rows
        ]
        table = [header, *body]
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in table]
        lines.append(f"input {fmt(self.input_size)}: the last layer's outputs each see {fmt(self.final)} input pixels")
        return "\n".join(lines)

    __repr__ = __str__


def _spatial_layers(model: nn.Module, example_input: torch.Tensor) -> list[tuple[str, nn.Module]]:
    """The spatial layers of ``model`` in the order its forward pass calls them."""
    names = {m: n for n, m in model.named_modules()}
    order: list[tuple[str, nn.Module]] = []
    hooks = [
        m.register_forward_hook(lambda mod, i, o: order.append((names[mod], mod)))
        for m in model.modules()
        if isinstance(m, _SPATIAL + _GLOBAL)
    ]
    was_training = model.training
    first = next(model.parameters(), None)
    if first is not None:  # the example on the model's device (a GPU model, a CPU example)
        example_input = example_input.to(first.device)
    model.eval()
    try:
        with torch.no_grad():
            _guard.call("model", model, example_input)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return order


def _check(model: object, example_input: object) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(example_input, torch.Tensor) or example_input.ndim != 4 or 0 in example_input.shape:
        raise ValueError("example_input must be an image batch of shape (B, C, H, W), none of them 0")
    if not example_input.is_floating_point():
        raise TypeError(f"example_input must be a float tensor, got {example_input.dtype}")


def receptive_field(model: nn.Module, example_input: torch.Tensor) -> ReceptiveField:
    """Receptive field and jump after every Conv2d / MaxPool2d / AvgPool2d of ``model``.

    A global (adaptive) pooling layer sees the whole input: the table ends there.
    """
    _check(model, example_input)
    size = tuple(int(s) for s in example_input.shape[2:])
    rf, jump = [1, 1], [1, 1]
    rows: list[RFRow] = []
    for name, layer in _spatial_layers(model, example_input):
        if isinstance(layer, _GLOBAL):
            rows.append(RFRow(name, type(layer).__name__, size, size, (1, 1), size, jump=(0, 0)))
            break
        k, s = pair("kernel_size", layer.kernel_size), pair("stride", layer.stride)
        d = pair("dilation", getattr(layer, "dilation", 1))
        for axis in (0, 1):
            rf[axis] += (k[axis] - 1) * d[axis] * jump[axis]
            jump[axis] *= s[axis]
        rows.append(RFRow(name, type(layer).__name__, k, s, d, (rf[0], rf[1]), (jump[0], jump[1])))
    return ReceptiveField(size, rows)


def measured_receptive_field(model: nn.Module, example_input: torch.Tensor) -> tuple[int, int]:
    """The receptive field found by autograd: the extent of the input pixels whose gradient
    reaches the centre pixel of the last spatial layer's output.

    Measured on a copy of the model in which every weight is positive and every max-pool is an
    average pool, so that no gradient is lost to ReLU's zeros, max-pool's single winner or a
    cancellation — what remains is the geometry alone.
    """
    _check(model, example_input)
    # on a CPU float64 copy: the caller's model may sit on a GPU (or MPS, which has no float64)
    probe = deepcopy_module(model).cpu().eval().double()
    for parent in probe.modules():
        for child_name, child in list(parent.named_children()):
            if isinstance(child, nn.MaxPool2d):
                setattr(parent, child_name, nn.AvgPool2d(child.kernel_size, child.stride, child.padding))
    with torch.no_grad():
        for p in probe.parameters():
            p.fill_(0.1)
    layers = _spatial_layers(probe, example_input.detach().cpu().double())
    spatial = [m for _, m in layers if not isinstance(m, _GLOBAL)]
    if not spatial:
        return (1, 1)
    captured: dict[str, torch.Tensor] = {}
    hook = spatial[-1].register_forward_hook(lambda mod, i, o: captured.__setitem__("out", o))
    x = torch.ones(example_input[:1].shape, dtype=torch.float64, requires_grad=True)
    try:
        _guard.call("model", probe, x)
    finally:
        hook.remove()
    out = captured["out"]
    out[0, :, out.shape[2] // 2, out.shape[3] // 2].sum().backward()
    rows, cols = torch.nonzero(x.grad[0].abs().sum(0), as_tuple=True)
    return (int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1))

