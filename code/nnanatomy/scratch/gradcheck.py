"""Finite-difference gradients: the independent check of every hand-derived backward pass."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._checks import as_float_array

__all__ = ["numerical_gradient", "relative_error"]


def numerical_gradient(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences ``(f(x + εe_i) − f(x − εe_i)) / 2ε`` for every element i of ``x``.

    ``f`` takes no arguments and reads ``x`` itself (for example a parameter array of a model):
    each element is nudged in place and restored. The error of the estimate is O(ε²); use
    float64 arrays, where ε = 1e-6 gives agreement to about 1e-9 relative.
    """
    x = as_float_array("x", x)
    if not callable(f):
        raise TypeError(f"f must be a callable returning a float, got {type(f).__name__}")
    if not (isinstance(eps, float) and 0 < eps < 1):
        raise ValueError(f"eps must be a float in (0, 1), got {eps!r}")
    grad = np.zeros_like(x)
    flat, grad_flat = x.reshape(-1), grad.reshape(-1)
    if not np.shares_memory(flat, x):
        raise ValueError("x must be contiguous so that its elements can be nudged in place")
    for i in range(flat.size):
        original = flat[i]
        try:
            flat[i] = original + eps
            f_plus = _scalar(f())
            flat[i] = original - eps
            f_minus = _scalar(f())
        finally:  # x is the caller's array: it gets its value back even when f fails
            flat[i] = original
        grad_flat[i] = (f_plus - f_minus) / (2.0 * eps)
    return grad


def _scalar(value: object) -> float:
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"f must return a number, got {type(value).__name__}") from exc


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """``max|a − b| / max(max|a| + max|b|, 1e-300)``: scale-free, 0 when equal, 1 when opposite."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.abs(a - b).max() / max(np.abs(a).max() + np.abs(b).max(), 1e-300))
