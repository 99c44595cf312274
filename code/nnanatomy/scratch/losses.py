"""Loss functions in NumPy, forward and backward."""

from __future__ import annotations

import numpy as np

from ._checks import as_float_array

__all__ = ["CrossEntropyLoss", "MSELoss", "log_softmax"]

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


def log_softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """``log softmax(z) = z − logsumexp(z)`` with the log-sum-exp trick: the maximum is subtracted
    before exponentiating, ``logsumexp(z) = m + log Σ exp(z − m)``, so no exponential overflows."""
    z = as_float_array("logits", logits)
    if not isinstance(axis, int) or isinstance(axis, bool) or not -max(z.ndim, 1) <= axis < max(z.ndim, 1):
        raise ValueError(f"axis must be an int within the {z.ndim} dimensions of logits, got {axis!r}")
    if z.ndim == 0 or z.shape[axis] == 0:
        raise ValueError(f"logits need at least one class along axis {axis}, got shape {z.shape}")
    if np.isnan(z).any():
        raise ValueError("logits contain NaN")
    m = z.max(axis=axis, keepdims=True)
    return z - (m + np.log(np.exp(z - m).sum(axis=axis, keepdims=True)))


class CrossEntropyLoss:
    """Cross-entropy of class logits, as ``torch.nn.CrossEntropyLoss``.

    ``forward(logits (N, C), labels (N,))`` returns ``−Σ_n log softmax(z_n)[y_n]``, divided by N
    when ``reduction="mean"``; in nats (natural logarithms). ``backward()`` returns ∂L/∂z =
    ``softmax(z) − onehot(y)``, divided by N for ``"mean"``.
    """

    def __init__(self, reduction: str = "mean") -> None:
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction
        self._grad: np.ndarray | None = None

    def forward(self, logits: np.ndarray, labels: np.ndarray) -> float:
        z = as_float_array("logits", logits, ndim=2)
        labels = np.asarray(labels)
        if labels.ndim != 1 or labels.shape[0] != z.shape[0] or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"labels must be integer classes of shape ({z.shape[0]},), got {labels.dtype} {labels.shape}")
        if z.shape[0] == 0 or z.shape[1] == 0:
            raise ValueError(f"logits must hold at least one row and one class, got shape {z.shape}")
        if labels.min() < 0 or labels.max() >= z.shape[1]:
            raise ValueError(f"labels must lie in [0, {z.shape[1]}) for {z.shape[1]} classes")
        if not np.isfinite(z).all():
            raise ValueError("logits contain NaN or infinity")
        logp = log_softmax(z, axis=1)
        rows = np.arange(z.shape[0])
        losses = -logp[rows, labels]
        grad = np.exp(logp)
        grad[rows, labels] -= 1.0
        self._grad = grad / z.shape[0] if self.reduction == "mean" else grad
        return float(losses.mean() if self.reduction == "mean" else losses.sum())

    __call__ = forward

    def backward(self) -> np.ndarray:
        if self._grad is None:
            raise RuntimeError("CrossEntropyLoss.backward called before forward")
        return self._grad
