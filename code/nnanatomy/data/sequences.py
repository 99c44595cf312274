"""Synthetic sequence tasks with a known answer."""

from __future__ import annotations

import numpy as np

from ._checks import check_count, check_real, check_seed

__all__ = ["adding_problem", "reverb_regression", "reverb_terms"]


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


def reverb_regression(n: int, length: int = 10, d: int = 64, seed: int = 0, noise_std: float = 0.1,
                      task_seed: int = 1234) -> tuple[np.ndarray, np.ndarray]:
    """The regression task of chapter 13, in the shape of the source's experiment: inputs
    ``(n, length, d)`` of standard normal features and one scalar target per sequence,

        y = sin(⟨u, x̄⟩) + ⟨v, x_first⟩·⟨w, x_last⟩ / 2 + noise,

    with ``x̄`` the mean over time and ``u``, ``v``, ``w`` fixed random unit vectors (drawn from
    ``task_seed``, the same for every split). The first term needs a non-linearity of a global
    summary, the second an interaction between the two ends of the sequence. Predicting 0 scores
    an MSE of about 0.7 (the target's variance); the noise floor is ``noise_std²``.

    Returns ``x`` float32 ``(n, length, d)`` and ``y`` float32 ``(n,)``.
    """
    n, length, d = check_count("n", n), check_count("length", length, 2), check_count("d", d)
    noise_std = check_real("noise_std", noise_std, 0.0)
    check_seed(task_seed)
    rng = np.random.default_rng(check_seed(seed))
    x = rng.normal(size=(n, length, d))
    sin_term, product_term = _reverb_terms(x, task_seed)
    y = sin_term + product_term + rng.normal(0.0, noise_std, n)
    return x.astype(np.float32), y.astype(np.float32)


def _reverb_terms(x: np.ndarray, task_seed: int) -> tuple[np.ndarray, np.ndarray]:
    n, length, d = x.shape
    task = np.random.default_rng(task_seed)
    u, v, w = (vec / np.linalg.norm(vec) for vec in task.normal(size=(3, d)))
    mean = x.mean(axis=1) * np.sqrt(length)  # unit variance along u
    return np.sin(mean @ u), 0.5 * (x[:, 0] @ v) * (x[:, -1] @ w)


def reverb_terms(x: np.ndarray, task_seed: int = 1234) -> tuple[np.ndarray, np.ndarray]:
    """The two noiseless terms of :func:`reverb_regression`'s target for inputs ``x`` of shape
    ``(n, length, d)``: ``sin(⟨u, √L·x̄⟩)`` and ``⟨v, x_first⟩·⟨w, x_last⟩ / 2``, each ``(n,)``
    float64, with the unit vectors of ``task_seed``. Their sum plus the noise is the target."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"x must be a numpy array of shape (n, length, d), got {type(x).__name__}")
    if x.ndim != 3 or x.shape[0] < 1 or x.shape[1] < 2 or x.shape[2] < 1 or x.dtype.kind != "f":
        raise ValueError(f"x must be a float array of shape (n, length >= 2, d), got {x.dtype} {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("x must be finite")
    return _reverb_terms(x.astype(np.float64), check_seed(task_seed))
