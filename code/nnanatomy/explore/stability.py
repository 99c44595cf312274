"""Gradient flow and numerical stability: measure every layer's activations and gradients on one
batch, and diagnose what is wrong with the thresholds of the Neural Network Math Explorer
(``FACTS.md`` §3):

* a parameter gradient norm below 1e-7 is *vanishing*, above 10 *exploding*;
* activations above 100 in magnitude are *large*;
* a sigmoid-type gate outside [0.05, 0.95] is *saturated*.

These absolute thresholds depend on the size of a layer and the scale of the loss, so
``diagnose`` also applies the relative criteria of :data:`CRITERIA`, which do not:

* the gradient-to-weight ratio ‖∂L/∂θ‖/‖θ‖ of the first layer against the last (more than 100×
  apart: the gradient shrinks or grows through depth);
* the update-to-weight ratio ‖Δθ‖/‖θ‖ of one real optimiser step (``gradient_flow(...,
  optimizer=opt)``), healthy near 1e-3 (below 1e-4 learning crawls, above 1e-2 it thrashes);
* dead ReLUs: units that output 0 for every example of the batch;
* the float16 range: values above 65,504 overflow to inf, gradients below 2⁻²⁴ flush to 0;
* non-finite values: the first layer whose output holds NaN or Inf, or whose weights do.

Each finding comes with a recommendation (initialisation, normalisation, residual connections,
learning rate, gradient clipping, loss scaling).
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

__all__ = ["CRITERIA", "THRESHOLDS", "Finding", "GradientFlow", "LayerStats", "diagnose", "gradient_flow"]

THRESHOLDS = {"vanishing": 1e-7, "exploding": 10.0, "large_activation": 100.0, "gate_low": 0.05, "gate_high": 0.95}

# Relative criteria (scale-free), beside the seed's absolute thresholds above.
CRITERIA = {
    "depth_ratio": 100.0,  # first/last layer gradient-to-weight ratios further apart than this
    "update_low": 1e-4,  # ‖Δθ‖/‖θ‖ of one step below this: learning crawls
    "update_high": 1e-2,  # ... above this: the step rewrites a percent of the weights at once
    "dead": 0.5,  # share of a ReLU's units that are 0 for every example
    "fp16_max": 65504.0,  # largest finite float16
    "fp16_tiny": 2.0 ** -24,  # smallest positive float16 (subnormal); below it a value flushes to 0
    "underflow": 0.5,  # share of nonzero gradient entries below fp16_tiny
}

_GATES = (nn.Sigmoid,)
_RELUS = (nn.ReLU, nn.ReLU6)
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
    order: int = 0  # position of the layer's first call in the forward pass
    act_nonfinite: float = 0.0  # share of NaN/Inf in the outputs
    grad_max: float | None = None  # largest |∂L/∂θ| entry
    grad_underflow: float | None = None  # share of the nonzero gradient entries below 2⁻²⁴ (0 in float16)
    dead: float | None = None  # for ReLUs: share of units that output 0 for every example
    update_ratio: float | None = None  # ‖Δθ‖/‖θ‖ of one optimiser step, when one was measured


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
    input_nonfinite: int = 0  # NaN/Inf entries in the batch itself

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


def _units_dead(a: torch.Tensor) -> float | None:
    """Share of the units (channels for (B, C, ...) maps, features otherwise) that are 0 for
    every example: dim 1 for 4-D and 5-D outputs, the last dimension for the others."""
    if a.ndim < 2:
        return None
    units = a.transpose(1, -1) if a.ndim >= 4 else a
    alive = (units.reshape(-1, units.shape[-1]) != 0).any(dim=0)
    return float(1.0 - alive.float().mean())


def _nonfinite(parts: Any) -> int:
    tensors = parts if isinstance(parts, (tuple, list)) else (parts,)
    return sum(int((~torch.isfinite(t)).sum()) for t in tensors if isinstance(t, torch.Tensor) and t.is_floating_point())


def gradient_flow(model: nn.Module, batch: Any, loss_fn: Callable[[nn.Module, Any], torch.Tensor],
                  optimizer: torch.optim.Optimizer | None = None) -> GradientFlow:
    """One forward and backward pass of ``loss_fn(model, batch)``; statistics of every leaf layer.

    The model's gradients are cleared before and left filled afterwards (inspect or zero them);
    the model stays in its current train/eval mode. With ``optimizer`` (one that updates this
    model), one step is taken to measure every layer's update-to-weight ratio ‖Δθ‖/‖θ‖; the
    weights and the optimiser's state are then restored, so nothing is left changed.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not callable(loss_fn):
        raise TypeError("loss_fn must be callable as loss_fn(model, batch) -> scalar tensor")
    if optimizer is not None:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"optimizer must be None or a torch.optim.Optimizer, got {type(optimizer).__name__}")
        own = {id(p) for p in model.parameters()}
        if not any(id(p) in own for group in optimizer.param_groups for p in group["params"]):
            raise ValueError("optimizer updates none of this model's parameters: build it from model.parameters()")
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
    updates = _update_ratios(model, optimizer, leaves) if optimizer is not None else {}
    order = {m: i for i, m in enumerate(acts)}  # dicts keep insertion order: the first call of each
    tiny = CRITERIA["fp16_tiny"]
    stats = []
    for module in leaves:
        if module not in acts:
            continue
        a = torch.cat([t.float().reshape(-1) for t in acts[module]])
        params = [p for p in module.parameters(recurse=False) if p.requires_grad]
        grads = [p.grad for p in params if p.grad is not None]
        grad_norm = float(torch.sqrt(sum((g.float() ** 2).sum() for g in grads))) if grads else None
        weight_norm = float(torch.sqrt(sum((p.detach().float() ** 2).sum() for p in params))) if params else None
        grad_max = underflow = None
        if grads:
            flat = torch.cat([g.detach().float().reshape(-1).abs() for g in grads])
            grad_max = float(flat.max())
            nonzero = flat[flat > 0]
            underflow = float((nonzero < tiny).float().mean()) if nonzero.numel() else 0.0
        saturated = None
        if isinstance(module, _GATES):
            low, high = THRESHOLDS["gate_low"], THRESHOLDS["gate_high"]
            saturated = float(((a < low) | (a > high)).float().mean())
        dead = None
        if isinstance(module, _RELUS):
            dead = max(_units_dead(t) or 0.0 for t in acts[module])
        stats.append(LayerStats(names[module] or type(module).__name__, type(module).__name__, grad_norm, weight_norm,
                                float(a.mean()), float(a.std()) if a.numel() > 1 else 0.0, float(a.abs().max()), saturated,
                                order=order[module], act_nonfinite=float((~torch.isfinite(a)).float().mean()),
                                grad_max=grad_max, grad_underflow=underflow, dead=dead, update_ratio=updates.get(module)))
    return GradientFlow(float(loss.detach()), stats, input_nonfinite=_nonfinite(parts))


def _update_ratios(model: nn.Module, optimizer: torch.optim.Optimizer, leaves: list[nn.Module]) -> dict[nn.Module, float]:
    """‖Δθ‖/‖θ‖ of every leaf with parameters over one step of ``optimizer``; weights and optimiser
    state are restored afterwards (also when the step fails)."""
    import copy

    state = copy.deepcopy(optimizer.state_dict())
    before = {p: p.detach().clone() for p in model.parameters()}
    try:
        _guard.call("optimizer.step()", optimizer.step)
        ratios = {}
        for module in leaves:
            params = [p for p in module.parameters(recurse=False) if p.requires_grad]
            if not params:
                continue
            step = float(torch.sqrt(sum(((p.detach() - before[p]).float() ** 2).sum() for p in params)))
            size = float(torch.sqrt(sum((before[p].float() ** 2).sum() for p in params)))
            if size > 0:
                ratios[module] = step / size
        return ratios
    finally:
        with torch.no_grad():
            for p, value in before.items():
                p.copy_(value)
        optimizer.load_state_dict(state)


def _nonfinite_findings(flow: GradientFlow) -> tuple[list[Finding], set[str]]:
    """Where NaN/Inf come from: the batch, the first layer (in forward order) whose output holds
    them, weights that hold them, or — when every output is finite — the first layer in backward
    order whose gradient does. Returns the findings and the layers they make meaningless."""
    findings, broken = [], set()
    if flow.input_nonfinite:
        findings.append(Finding("(input)", "non-finite input", float(flow.input_nonfinite),
                                "the batch itself holds NaN/Inf: clean or mask the data (e.g. torch.nan_to_num, or "
                                "drop the examples) before blaming the network"))
    by_order = sorted(flow.layers, key=lambda s: s.order)
    for s in by_order:
        if s.weight_norm is not None and not math.isfinite(s.weight_norm):
            findings.append(Finding(s.name, "non-finite weights", s.weight_norm,
                                    "an earlier update wrote NaN/Inf into these weights: restore a checkpoint, then lower "
                                    "the learning rate or clip the gradient norm, and stop training on a non-finite loss"))
            broken.add(s.name)
    sick = [s for s in by_order if s.act_nonfinite > 0 or not math.isfinite(s.act_max)]
    if sick:
        first = sick[0]
        where = ("its input is the batch, which holds NaN/Inf" if flow.input_nonfinite and first is by_order[0] else
                 "its inputs were finite, so this layer made them: look for overflow (exp, large weights or "
                 "activations), division by ~0, log of ≤ 0 or sqrt of < 0 in it")
        findings.append(Finding(first.name, "non-finite activations start here", first.act_nonfinite,
                                f"{where}; {len(sick) - 1} later layer(s) are non-finite only because of it"))
        broken.update(s.name for s in sick)
    grads = [s for s in by_order if s.grad_norm is not None and not math.isfinite(s.grad_norm) and s.name not in broken]
    if grads:
        last = grads[-1]  # backward runs from the output: the last layer in forward order is reached first
        findings.append(Finding(last.name, "non-finite gradient starts here", last.grad_norm,
                                "the forward pass is finite but the backward pass overflows from this layer towards the "
                                "input: clip gradients, check custom backward code and functions with infinite slope "
                                "(sqrt at 0, log near 0)"))
        broken.update(s.name for s in grads)
    return findings, broken


def diagnose(flow: GradientFlow) -> list[Finding]:
    """Findings for every layer that crosses a threshold (:data:`THRESHOLDS`, absolute, from the
    seed) or a relative criterion (:data:`CRITERIA`), each with a recommendation."""
    if not isinstance(flow, GradientFlow):
        raise TypeError(f"diagnose takes the result of gradient_flow, got {type(flow).__name__}")
    findings = []
    if not math.isfinite(flow.loss):  # NaN fails every threshold test below: name it first
        findings.append(Finding("(loss)", "non-finite loss", flow.loss,
                                "find the first layer with non-finite values below; check the inputs for NaN/Inf, "
                                "lower the learning rate, keep log/exp/division away from 0 and overflow"))
    origin, broken = _nonfinite_findings(flow)
    findings += origin
    dead = [s for s in flow.layers if s.dead is not None and s.dead >= CRITERIA["dead"] and s.name not in broken]
    for s in flow.layers:
        if s.name in broken:
            continue
        if s.dead is not None and s.dead >= CRITERIA["dead"]:
            findings.append(Finding(s.name, "dead units", s.dead,
                                    "these ReLUs output 0 for every example, so no gradient flows back through them: "
                                    "lower the learning rate (large steps push biases far negative), initialise biases at 0 "
                                    "with He initialisation, or use LeakyReLU/GELU"))
        if s.grad_norm is not None and s.grad_norm < THRESHOLDS["vanishing"]:
            blocker = next((d for d in dead if d.order > s.order), None)
            remedy = (f"the gradient is stopped by the dead units of {blocker.name}: revive those first (see its finding)"
                      if blocker is not None else
                      "add residual connections or normalisation, use ReLU-type activations and He/Xavier "
                      "initialisation so that the signal keeps its scale through depth")
            findings.append(Finding(s.name, "vanishing gradient", s.grad_norm, remedy))
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
        top = max(s.act_max, s.grad_max or 0.0)
        if top > CRITERIA["fp16_max"]:
            findings.append(Finding(s.name, "float16 overflow", top,
                                    "a value here exceeds float16's largest 65,504 and becomes inf under fp16 autocast: "
                                    "use bfloat16, keep this layer in float32, or normalise it"))
        if s.grad_underflow is not None and s.grad_underflow > CRITERIA["underflow"]:
            findings.append(Finding(s.name, "float16 gradient underflow", s.grad_underflow,
                                    "most of this gradient is below 2⁻²⁴ and would be 0 in float16: scale the loss "
                                    "(torch.amp.GradScaler) or train in bfloat16"))
        if s.update_ratio is not None and s.update_ratio > CRITERIA["update_high"]:
            findings.append(Finding(s.name, "updates too large", s.update_ratio,
                                    "one step changes more than 1 % of these weights (healthy ≈ 1e-3): lower the learning "
                                    "rate or warm it up"))
        if s.update_ratio is not None and 0 < s.update_ratio < CRITERIA["update_low"]:
            findings.append(Finding(s.name, "updates too small", s.update_ratio,
                                    "one step changes less than 0.01 % of these weights (healthy ≈ 1e-3): raise the "
                                    "learning rate, or check that the gradient reaches this layer"))
    if not dead:  # dead units explain a gradient that stops; the ratio would only repeat it
        findings += _depth_findings([s for s in flow.layers if s.name not in broken])
    return findings


def _depth_findings(layers: list[LayerStats]) -> list[Finding]:
    """The relative criterion over depth: the gradient-to-weight ratio of the first layer with
    parameters against that of the last, scale-free where the absolute thresholds are not."""
    ratios = [(s, s.grad_norm / s.weight_norm) for s in sorted(layers, key=lambda s: s.order)
              if s.grad_norm is not None and s.weight_norm and s.type not in {n.__name__ for n in _NORMS}]
    if len(ratios) < 2 or ratios[-1][1] == 0:
        return []
    (first, r_first), (last, r_last) = ratios[0], ratios[-1]
    ratio = r_first / r_last
    limit = CRITERIA["depth_ratio"]
    if ratio < 1 / limit:
        return [Finding(first.name, "gradient shrinks through depth", ratio,
                        f"‖∂L/∂θ‖/‖θ‖ here is {ratio:.1e} × that of {last.name}: the first layers barely learn — add "
                        "residual connections or normalisation, or use a gain-correct initialisation")]
    if ratio > limit:
        return [Finding(first.name, "gradient grows through depth", ratio,
                        f"‖∂L/∂θ‖/‖θ‖ here is {ratio:.1e} × that of {last.name}: the first layers take the largest "
                        "steps — normalise activations, lower the initial weight scale, clip the gradient norm")]
    return []
