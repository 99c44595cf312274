"""``trace(model, x)``: single-step debugging of a small network — for one sample, every layer's
weighted sums and activations, the gradient that reaches them, and what one optimiser step does
to every parameter."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .. import _guard

__all__ = ["LayerTrace", "Trace", "trace"]


def _fmt(t: torch.Tensor | None, limit: int = 6) -> str:
    if t is None:
        return "—"
    values = t.detach().reshape(-1).tolist()
    text = ", ".join(f"{v:+.4f}" for v in values[:limit])
    return f"[{text}{', …' if len(values) > limit else ''}] {tuple(t.shape)}"


@dataclass
class LayerTrace:
    name: str
    type: str
    input: torch.Tensor
    output: torch.Tensor  # weighted sums for Linear/Conv, activations for activation layers
    grad_output: torch.Tensor | None = None  # ∂L/∂output
    updates: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)  # param → (before, after)

    @property
    def kind(self) -> str:
        return "weighted sum" if self.type in ("Linear", "Conv1d", "Conv2d", "Conv3d") else "output"


@dataclass
class Trace:
    loss: float | None
    layers: list[LayerTrace]

    def __str__(self) -> str:
        lines = [] if self.loss is None else [f"loss {self.loss:.6f}"]
        for lt in self.layers:
            lines.append(f"{lt.name} ({lt.type})")
            lines.append(f"  input          {_fmt(lt.input)}")
            lines.append(f"  {lt.kind:14s} {_fmt(lt.output)}")
            if lt.grad_output is not None:
                lines.append(f"  ∂L/∂output     {_fmt(lt.grad_output)}")
            for pname, (before, after) in lt.updates.items():
                lines.append(f"  update {pname:7s} {_fmt(after - before)}")
        return "\n".join(lines)

    __repr__ = __str__


def trace(
    model: nn.Module,
    x: torch.Tensor,
    target: Any = None,
    loss_fn: Callable[[torch.Tensor, Any], torch.Tensor] | None = None,
    optimizer: torch.optim.Optimizer | None = None,
) -> Trace:
    """Run ``model`` on one sample ``x`` (batch of 1) and record every leaf layer.

    With ``loss_fn`` and ``target`` the loss is back-propagated and each layer's ∂L/∂output is
    recorded; with ``optimizer`` too, one step is taken and every parameter's change recorded.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(x, torch.Tensor) or x.ndim < 1 or x.shape[0] != 1:
        raise ValueError(f"trace follows one sample: x must be a tensor with batch size 1, got {getattr(x, 'shape', type(x).__name__)}")
    if (loss_fn is None) != (target is None):
        raise ValueError("give both loss_fn and target, or neither")
    if optimizer is not None and loss_fn is None:
        raise ValueError("an optimiser step needs loss_fn and target")
    if loss_fn is not None and not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    if target is not None and not isinstance(target, torch.Tensor):
        raise TypeError(f"target must be a tensor, got {type(target).__name__}")
    if target is not None and target.numel() == 0:
        raise ValueError("target is empty: the loss of nothing is undefined")
    names = {m: n for n, m in model.named_modules()}
    records: list[LayerTrace] = []

    def hook(module: nn.Module, inputs: tuple, output: Any) -> None:
        if not isinstance(output, torch.Tensor):
            return
        record = LayerTrace(names[module], type(module).__name__, inputs[0].detach().clone(), output.detach().clone())
        records.append(record)
        if output.requires_grad:
            output.register_hook(lambda g, r=record: setattr(r, "grad_output", g.detach().clone()))

    leaves = [m for m in model.modules() if next(m.children(), None) is None]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        out = _guard.call("model", model, x)
    finally:
        for h in handles:
            h.remove()
    loss_value = None
    if loss_fn is not None:
        model.zero_grad(set_to_none=True)
        loss = _guard.call("loss_fn", loss_fn, out, target)
        if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
            raise ValueError(f"loss_fn must return a scalar tensor, got {type(loss).__name__} {tuple(getattr(loss, 'shape', ()))}")
        loss.backward()
        loss_value = float(loss.detach())
        if optimizer is not None:
            before = {p: p.detach().clone() for p in model.parameters()}
            optimizer.step()
            owner = {p: m for m in leaves for p in m.parameters(recurse=False)}
            by_module = {r.name: r for r in records}
            for p, old in before.items():
                m = owner.get(p)
                if m is not None and names[m] in by_module:
                    pname = next(n for n, q in m.named_parameters(recurse=False) if q is p)
                    by_module[names[m]].updates[pname] = (old, p.detach().clone())
    return Trace(loss_value, records)
