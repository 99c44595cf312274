"""Input checks shared by the NumPy reference implementations."""

from __future__ import annotations

import numpy as np

from .._checks import check_int


def as_float_array(name: str, value: object, ndim: int | None = None) -> np.ndarray:
    """Return ``value`` as a floating NumPy array, or raise a clear error."""
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array, got {type(value).__name__}")
    if not np.issubdtype(value.dtype, np.floating):
        raise TypeError(f"{name} must have a floating dtype, got {value.dtype}")
    if ndim is not None and value.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {value.shape}")
    return value


def check_positive_int(name: str, value: object) -> int:
    return check_int(name, value, 1)


def check_nonnegative(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return float(value)
