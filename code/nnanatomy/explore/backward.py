"""``show_backward_effect``: what ``loss.backward()`` does to a small computational graph.

The source's walk-through: a forward pass records the graph
``x → (×w) → (+b) → y_pred → (MSE) → loss``; ``backward()`` walks it from ``loss`` back to the
leaves with the chain rule and leaves ∂loss/∂(leaf) in each leaf's ``.grad``. Intermediate
tensors keep no ``.grad`` unless asked to with ``retain_grad()``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .._checks import check_finite, check_real

__all__ = ["BackwardWalk", "show_backward_effect"]


def _fmt(t: torch.Tensor | None) -> str:
    if t is None:
        return "None"
    values = t.detach().reshape(-1).tolist()
    text = ", ".join(f"{v + 0.0:.6g}" for v in values[:6])  # + 0.0 turns -0.0 into 0.0
    if len(values) > 6:
        text += ", …"
    return text if t.ndim == 0 else f"[{text}]"


@dataclass
class BackwardWalk:
    """The graph PyTorch recorded, and every tensor's ``.grad`` before and after ``backward()``."""

    graph: list[str]  # grad_fn chain, loss first
    rows: list[tuple[str, str, str, str, str]]  # name, value, grad before, grad after, by hand
    autograd: dict[str, torch.Tensor]  # .grad of each tensor after backward()
    chain_rule: dict[str, torch.Tensor]  # the same gradients from the formulas

    def __str__(self) -> str:
        header = ("tensor", "value", ".grad before", ".grad after backward()", "chain rule by hand")
        table = [header, *self.rows]
        widths = [max(len(r[i]) for r in table) for i in range(len(header))]
        lines = ["graph recorded by the forward pass (grad_fn of each node, from the loss back):"]
        lines += [f"  {g}" for g in self.graph]
        lines.append("")
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in table]
        return "\n".join(lines)

    __repr__ = __str__


def _walk(fn: object, depth: int = 0, out: list[str] | None = None) -> list[str]:
    out = [] if out is None else out
    if fn is None:
        return out
    label = type(fn).__name__
    if label == "AccumulateGrad":
        var = fn.variable  # type: ignore[attr-defined]
        label += f"  → leaf of shape {tuple(var.shape)}"
    out.append("  " * depth + label)
    for next_fn, _ in getattr(fn, "next_functions", ()):
        _walk(next_fn, depth + 1, out)
    return out


def show_backward_effect(
    x: torch.Tensor | None = None,
    y: torch.Tensor | None = None,
    w: float = 0.5,
    b: float = 0.0,
) -> BackwardWalk:
    """Build ``loss = mean((w·x + b − y)²)``, call ``backward()`` and report every ``.grad``.

    Args:
        x, y: 1-D float tensors of equal length (default: 4 points of ``y = 3x² + 5``).
        w, b: the starting values of the two parameters (leaf tensors with ``requires_grad``).

    The "by hand" column is the chain rule written out: ∂L/∂ŷ = 2(ŷ − y)/N,
    ∂L/∂w = Σ ∂L/∂ŷ · x, ∂L/∂b = Σ ∂L/∂ŷ — equal to what autograd stored.
    """
    if x is None:
        x = torch.tensor([-1.0, 0.0, 1.0, 2.0], dtype=torch.float64)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a 1-D floating torch.Tensor, got {type(x).__name__}")
    if y is None:
        y = 3 * x**2 + 5
    for name, t in (("x", x), ("y", y)):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point() or t.ndim != 1:
            raise TypeError(f"{name} must be a 1-D floating torch.Tensor")
    if x.shape != y.shape or x.numel() == 0:
        raise ValueError(f"x and y must be non-empty and of equal length, got {tuple(x.shape)} and {tuple(y.shape)}")
    for name, v in (("w", w), ("b", b)):
        check_real(name, v)
    for name, t in (("x", x), ("y", y)):
        check_finite(name, t)

    w_t = torch.tensor(float(w), dtype=x.dtype, requires_grad=True)
    b_t = torch.tensor(float(b), dtype=x.dtype, requires_grad=True)
    wx = w_t * x  # (N,)
    wx.retain_grad()
    y_pred = wx + b_t  # (N,)
    y_pred.retain_grad()
    loss = torch.nn.functional.mse_loss(y_pred, y)
    loss.retain_grad()

    before = {"w": w_t.grad, "b": b_t.grad, "w·x": wx.grad, "y_pred": y_pred.grad, "loss": loss.grad}
    graph = _walk(loss.grad_fn)
    loss.backward()

    n = x.numel()
    d_pred = 2 * (y_pred.detach() - y) / n
    by_hand = {
        "loss": torch.tensor(1.0, dtype=x.dtype),
        "y_pred": d_pred,
        "w·x": d_pred,
        "b": d_pred.sum(),
        "w": (d_pred * x).sum(),
    }
    values = {"loss": loss, "y_pred": y_pred, "w·x": wx, "b": b_t, "w": w_t}
    after = {"loss": loss.grad, "y_pred": y_pred.grad, "w·x": wx.grad, "b": b_t.grad, "w": w_t.grad}
    rows = [
        (name, _fmt(values[name]), _fmt(before[name]), _fmt(after[name]), _fmt(by_hand[name]))
        for name in ("loss", "y_pred", "w·x", "b", "w")
    ]
    return BackwardWalk(
        graph=graph,
        rows=rows,
        autograd={k: v.detach().clone() for k, v in after.items()},
        chain_rule=by_hand,
    )
