"""Image datasets: scikit-learn's handwritten digits (shipped with the package, no download)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import check_seed

__all__ = ["Split", "digits"]


@dataclass(frozen=True)
class Split:
    """A train/test split of inputs and integer labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def __repr__(self) -> str:
        return (
            f"Split(train {self.x_train.shape} {self.x_train.dtype}, test {self.x_test.shape}, "
            f"{len(np.unique(self.y_train))} classes)"
        )


def digits(test_size: float = 0.25, seed: int = 0) -> Split:
    """The 1,797 8×8 handwritten digits of scikit-learn (UCI optdigits), split stratified by class.

    Returns images as float32 ``(N, 1, 8, 8)`` scaled from the original 0–16 grey levels to
    [0, 1], and labels as int64 ``(N,)``.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if isinstance(test_size, bool) or not isinstance(test_size, float) or not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be a float in (0, 1), got {test_size!r}")
    bunch = load_digits()
    images = (bunch.images / 16.0).astype(np.float32)[:, None]  # (N, 1, 8, 8)
    labels = bunch.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(
        images, labels, test_size=test_size, stratify=labels, random_state=check_seed(seed)
    )
    return Split(x_tr, y_tr, x_te, y_te)
