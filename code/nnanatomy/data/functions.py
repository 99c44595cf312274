"""Regression data sampled from known functions (chapter 01)."""

from __future__ import annotations

import numpy as np

from ._checks import check_count, check_seed


def quadratic(
    n: int,
    *,
    low: float = -2.0,
    high: float = 2.0,
    noise_std: float = 0.0,
    seed: int = 0,
    a: float = 3.0,
    c: float = 5.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Sample ``y = a·x² + c (+ noise)`` at ``n`` points drawn uniformly from ``[low, high)``.

    The defaults give the source's target function ``y = 3x² + 5``.

    Returns:
        ``(x, y)``, both float64 arrays of shape ``(n, 1)``: one feature, one target.
    """
    check_count("n", n)
    check_seed(seed)
    for name, value in (("low", low), ("high", high), ("noise_std", noise_std), ("a", a), ("c", c)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
            raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
        if not np.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value}")
    if not low < high:
        raise ValueError(f"need low < high, got low={low}, high={high}")
    if noise_std < 0:
        raise ValueError(f"noise_std must be >= 0, got {noise_std}")
    rng = np.random.default_rng(seed)
    x = rng.uniform(low, high, size=(n, 1))
    y = a * x**2 + c
    if noise_std > 0:
        y = y + rng.normal(0.0, noise_std, size=y.shape)
    return x, y
