"""Argument checks shared by the data generators (the package-wide ones, plus the seed)."""

from __future__ import annotations

import numpy as np

from .._checks import MAX_COUNT, check_bool, check_finite, check_int, check_real

__all__ = ["MAX_COUNT", "check_bool", "check_count", "check_finite", "check_real", "check_seed"]


def check_count(name: str, value: object, minimum: int = 1, maximum: int = MAX_COUNT) -> int:
    return check_int(name, value, minimum, maximum)


def check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    return int(seed)
