"""Standardising features and targets: fit the statistics on the training split only."""

from __future__ import annotations

import numpy as np

from .._checks import check_finite

__all__ = ["Standardizer"]


class Standardizer:
    """``z = (v − mean) / std`` per column, with the statistics of the data passed to ``fit``.

    ``inverse`` maps model outputs back to the original units. Fit on the training split only,
    so that nothing about the test split leaks into training.
    """

    def __init__(self) -> None:
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None

    def fit(self, values: np.ndarray) -> Standardizer:
        values = self._check(values, fitted=False)
        check_finite("values", values)
        if values.shape[0] < 2:
            raise ValueError(f"fit needs at least 2 samples (rows), got {values.shape[0]}")
        self.mean = values.mean(axis=0)
        std = values.std(axis=0)
        if np.any(std == 0):
            raise ValueError("a column is constant (std = 0) and cannot be standardised")
        self.std = std
        return self

    def transform(self, values: np.ndarray) -> np.ndarray:
        values = self._check(values)
        return (values - self.mean) / self.std

    def inverse(self, values: np.ndarray) -> np.ndarray:
        values = self._check(values)
        return values * self.std + self.mean

    def _check(self, values: object, fitted: bool = True) -> np.ndarray:
        if not isinstance(values, np.ndarray) or not np.issubdtype(values.dtype, np.floating):
            raise TypeError(f"expected a floating NumPy array, got {type(values).__name__}")
        if values.ndim != 2:
            raise ValueError(f"expected shape (N, features), got {values.shape}")
        if fitted:
            if self.mean is None:
                raise ValueError("this Standardizer is not fitted yet: call fit(train_values) first")
            if values.shape[1] != self.mean.shape[0]:
                raise ValueError(f"fitted on {self.mean.shape[0]} columns, got {values.shape[1]}")
        return values

    def __repr__(self) -> str:
        if self.mean is None:
            return "Standardizer(not fitted)"
        return f"Standardizer(mean={np.round(self.mean, 4).tolist()}, std={np.round(self.std, 4).tolist()})"
