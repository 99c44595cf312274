"""Synthetic sequence tasks with a known answer."""

from __future__ import annotations

import numpy as np

from ._checks import check_count, check_seed

__all__ = ["adding_problem"]


def adding_problem(n: int, length: int = 50, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The adding problem (Hochreiter & Schmidhuber, 1997): a long-range memory test.

    Each sequence has ``length`` steps of two channels: a random value in [0, 1) and a marker
    that is 1 at exactly two steps — one in the first half, one in the second — and 0 elsewhere.
    The target is the sum of the two marked values. Predicting the mean (1.0) scores an MSE of
    1/6 ≈ 0.167; doing better requires remembering the first marked value across up to
    ``length`` steps of distraction.

    Returns:
        ``x`` float32 ``(n, length, 2)`` and ``y`` float32 ``(n,)``.
    """
    n, length = check_count("n", n), check_count("length", length, 2)
    rng = np.random.default_rng(check_seed(seed))
    values = rng.uniform(0.0, 1.0, (n, length))
    markers = np.zeros((n, length))
    first = rng.integers(0, length // 2, n)
    second = rng.integers(length // 2, length, n)
    rows = np.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = np.stack([values, markers], axis=-1).astype(np.float32)
    y = (values[rows, first] + values[rows, second]).astype(np.float32)
    return x, y
