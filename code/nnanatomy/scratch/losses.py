"""Loss functions in NumPy, forward and backward."""

from __future__ import annotations

import numpy as np

from ._checks import as_float_array

__all__ = ["MSELoss"]

_REDUCTIONS = ("mean", "sum")


class MSELoss:
    """Mean squared error, as ``torch.nn.MSELoss``.

    ``forward(pred, target)`` returns ``Σ (pred − target)²``, divided by the number of elements
    when ``reduction="mean"``. ``backward()`` returns ∂L/∂pred = ``2 (pred − target)``, divided by
    the same count for ``"mean"``.
    """

    def __init__(self, reduction: str = "mean") -> None:
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction
        self._diff: np.ndarray | None = None

    def forward(self, pred: np.ndarray, target: np.ndarray) -> float:
        pred = as_float_array("pred", pred)
        target = as_float_array("target", target)
        if pred.shape != target.shape:
            raise ValueError(f"pred and target must have the same shape, got {pred.shape} and {target.shape}")
        self._diff = pred - target
        squared_error = self._diff**2
        return float(squared_error.mean() if self.reduction == "mean" else squared_error.sum())

    __call__ = forward

    def backward(self) -> np.ndarray:
        if self._diff is None:
            raise RuntimeError("MSELoss.backward called before forward")
        grad = 2.0 * self._diff
        return grad / self._diff.size if self.reduction == "mean" else grad
