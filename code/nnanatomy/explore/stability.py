"""Gradient flow and numerical stability: measure every layer's activations and gradients on one
batch, and diagnose what is wrong with the thresholds of the Neural Network Math Explorer
(``FACTS.md`` §3):

* a parameter gradient norm below 1e-7 is *vanishing*, above 10 *exploding*;
* activations above 100 in magnitude are *large*;
* a sigmoid-type gate outside [0.05, 0.95] is *saturated*.

Each finding comes with a recommendation (initialisation, normalisation, residual connections,
learning rate, gradient clipping).
"""

from __future__ import annotations

import math

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import _guard
from .._checks import check_real

__all__ = ["THRESHOLDS", "Finding", "GradientFlow", "LayerStats", "diagnose", "gradient_flow"]

THRESHOLDS = {"vanishing": 1e-7, "exploding": 10.0, "large_activation": 100.0, "gate_low": 0.05, "gate_high": 0.95}

_GATES = (nn.Sigmoid,)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm, nn.GroupNorm)


@dataclass(frozen=True)
class LayerStats:
    name: str
    type: str
    grad_norm: float | None  # L2 norm of the gradient of this layer's own parameters
    weight_norm: float | None
    act_mean: float
    act_std: float
    act_max: float  # largest |activation|
    saturated: float | None  # for gates: share of outputs outside [0.05, 0.95]


@dataclass(frozen=True)
class Finding:
    layer: str
    problem: str
    value: float
    recommendation: str

    def __str__(self) -> str:
        return f"{self.layer}: {self.problem} ({self.value:.3g}) → {self.recommendation}"


@dataclass
class GradientFlow:
    loss: float
    layers: list[LayerStats] = field(default_factory=list)

    def __str__(self) -> str:
        head = f"{'layer':28s} {'type':14s} {'‖∂L/∂θ‖':>10s} {'‖θ‖':>9s} {'act mean':>9s} {'act std':>9s} {'max |act|':>10s} {'saturated':>9s}"
        fmt = lambda v, spec: "—" if v is None else format(v, spec)  # noqa: E731
        rows = [
            f"{s.name[:28]:28s} {s.type[:14]:14s} {fmt(s.grad_norm, '10.2e'):>10s} {fmt(s.weight_norm, '9.3f'):>9s} "
            f"{s.act_mean:9.3f} {s.act_std:9.3f} {s.act_max:10.3f} {fmt(s.saturated, '9.1%'):>9s}"
            for s in self.layers
        ]
        return "\n".join([f"loss {self.loss:.4g}", head, *rows])

    __repr__ = __str__

    def plot(self, ax: Any = None, label: str | None = None, floor: float = 1e-45, only: str | None = None) -> Any:
        """‖∂L/∂θ‖ of every layer with parameters, input side left, on a log scale; gradients
        that are exactly zero (underflowed) are drawn at ``floor`` with an open marker.
        ``only="Linear"`` keeps the layers of that type (e.g. leaves out the norms' γ and β)."""
        import matplotlib.pyplot as plt

        if only is not None and not isinstance(only, str):
            raise TypeError(f"only must be None or a layer type name such as 'Linear', got {type(only).__name__}")
        if label is not None and not isinstance(label, str):
            raise TypeError(f"label must be None or a str, got {type(label).__name__}")
        floor = check_real("floor", floor, 0.0, low_open=True)
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 3.2))
        elif not isinstance(ax, plt.Axes):
            raise TypeError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
        norms = [s.grad_norm for s in self.layers if s.grad_norm is not None and (only is None or s.type == only)]
        if not norms:
            raise ValueError(f"no layer with parameters{'' if only is None else ' of type ' + repr(only)} to plot")
        index = np.arange(len(norms))
        values = np.array(norms, dtype=float)
        zero = values <= 0
        (line,) = ax.semilogy(index[~zero], values[~zero], marker="o", markersize=2.5, linewidth=1, label=label)
        if zero.any():
            ax.semilogy(index[zero], np.full(zero.sum(), floor), linestyle="none", marker="o", markersize=3,
                        markerfacecolor="none", color=line.get_color(), label=f"{label or 'gradient'}: exactly 0")
        ax.axhline(THRESHOLDS["vanishing"], color="grey", linestyle=":", linewidth=1)
        ax.axhline(THRESHOLDS["exploding"], color="grey", linestyle="--", linewidth=1)
        ax.set(xlabel=f"{only or 'layer with parameters'} layer (input → output)", ylabel="‖∂L/∂θ‖")
        if label:
            ax.legend(fontsize=8)
        return ax


def gradient_flow(model: nn.Module, batch: Any, loss_fn: Callable[[nn.Module, Any], torch.Tensor]) -> GradientFlow:
    """One forward and backward pass of ``loss_fn(model, batch)``; statistics of every leaf layer.

    The model's gradients are cleared before and left filled afterwards (inspect or zero them);
    the model stays in its current train/eval mode.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not callable(loss_fn):
        raise TypeError("loss_fn must be callable as loss_fn(model, batch) -> scalar tensor")
    parts = batch if isinstance(batch, (tuple, list)) else (batch,)
    if any(isinstance(t, torch.Tensor) and t.numel() == 0 for t in parts):
        raise ValueError("batch holds an empty tensor: there is nothing to measure")
    names = {m: n for n, m in model.named_modules()}
    acts: dict[nn.Module, list[torch.Tensor]] = {}

    def hook(module: nn.Module, inputs: Any, output: Any) -> None:
        if isinstance(output, torch.Tensor):
            acts.setdefault(module, []).append(output.detach())

    leaves = [m for m in model.modules() if next(m.children(), None) is None]
    handles = [m.register_forward_hook(hook) for m in leaves]
    model.zero_grad(set_to_none=True)
    try:
        loss = _guard.call("loss_fn(model, batch)", loss_fn, model, batch)
        if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
            raise ValueError("loss_fn must return a scalar tensor")
        loss.backward()
    finally:
        for h in handles:
            h.remove()
    stats = []
    for module in leaves:
        if module not in acts:
            continue
        a = torch.cat([t.float().reshape(-1) for t in acts[module]])
        params = [p for p in module.parameters(recurse=False) if p.requires_grad]
        grads = [p.grad for p in params if p.grad is not None]
        grad_norm = float(torch.sqrt(sum((g.float() ** 2).sum() for g in grads))) if grads else None
        weight_norm = float(torch.sqrt(sum((p.detach().float() ** 2).sum() for p in params))) if params else None
        saturated = None
        if isinstance(module, _GATES):
            low, high = THRESHOLDS["gate_low"], THRESHOLDS["gate_high"]
            saturated = float(((a < low) | (a > high)).float().mean())
        stats.append(LayerStats(names[module] or type(module).__name__, type(module).__name__, grad_norm, weight_norm,
                                float(a.mean()), float(a.std()) if a.numel() > 1 else 0.0, float(a.abs().max()), saturated))
    return GradientFlow(float(loss.detach()), stats)


def diagnose(flow: GradientFlow) -> list[Finding]:
    """Findings for every layer that crosses a threshold, each with a recommendation."""
    if not isinstance(flow, GradientFlow):
        raise TypeError(f"diagnose takes the result of gradient_flow, got {type(flow).__name__}")
    findings = []
    if not math.isfinite(flow.loss):  # NaN fails every threshold test below: name it first
        findings.append(Finding("(loss)", "non-finite loss", flow.loss,
                                "find the first layer with non-finite values below; check the inputs for NaN/Inf, "
                                "lower the learning rate, keep log/exp/division away from 0 and overflow"))
    for s in flow.layers:
        bad = [v for v in (s.grad_norm, s.weight_norm, s.act_mean, s.act_std, s.act_max) if v is not None and not math.isfinite(v)]
        if bad:
            findings.append(Finding(s.name, "non-finite values", bad[0],
                                    "NaN or Inf in this layer's weights, activations or gradient: everything after it is "
                                    "meaningless — find where it first appears"))
            continue
        if s.grad_norm is not None and s.grad_norm < THRESHOLDS["vanishing"]:
            findings.append(Finding(s.name, "vanishing gradient", s.grad_norm,
                                    "add residual connections or normalisation, use ReLU-type activations and He/Xavier "
                                    "initialisation so that the signal keeps its scale through depth"))
        if s.grad_norm is not None and s.grad_norm > THRESHOLDS["exploding"]:
            findings.append(Finding(s.name, "exploding gradient", s.grad_norm,
                                    "lower the learning rate, clip the gradient norm, normalise activations"))
        if s.act_max > THRESHOLDS["large_activation"]:
            findings.append(Finding(s.name, "large activations", s.act_max,
                                    "normalise (BatchNorm/LayerNorm/GroupNorm), scale the initialisation down, standardise inputs"))
        if s.saturated is not None and s.saturated > 0.5:
            findings.append(Finding(s.name, "saturated gate", s.saturated,
                                    "most outputs sit where σ′ ≈ 0: normalise the pre-activations, use ReLU-type "
                                    "activations between layers, reduce the initial weight scale"))
    return findings
