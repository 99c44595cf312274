"""Image datasets: scikit-learn's handwritten digits (shipped with the package, no download)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._checks import check_array
from ._checks import check_count, check_real, check_seed

__all__ = ["CAPTION_WORDS", "NUMBER_WORDS", "Split", "digit_captions", "digits", "null_captions"]


@dataclass(frozen=True)
class Split:
    """A train/test split of inputs and integer labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def __post_init__(self) -> None:
        for part in ("train", "test"):
            x = check_array(f"x_{part}", getattr(self, f"x_{part}"))
            y = check_array(f"y_{part}", getattr(self, f"y_{part}"), ndim=1, kind="iu")
            if x.ndim < 1 or x.shape[0] != y.shape[0]:
                raise ValueError(f"x_{part} and y_{part} must have the same number of samples, got {x.shape} and {y.shape}")

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


NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_TEMPLATES = (("a", "handwritten", "{n}"), ("the", "digit", "{n}"), ("{n}",), ("the", "number", "{n}"))
#: The caption vocabulary: id 0 pads, id 1 is the empty ("no condition") caption.
CAPTION_WORDS = ("<pad>", "<null>", "a", "digit", "handwritten", "number", "the", *NUMBER_WORDS)


def digit_captions(labels: np.ndarray, seed: int = 0, null_fraction: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A short caption for every digit label, e.g. "a handwritten seven" or "the digit seven".

    The number word sits at a different position in different templates, so a model must attend
    to find it. With ``null_fraction`` > 0 that share of the captions is replaced by the empty
    caption ``<null>`` (for classifier-free guidance).

    Returns:
        word ids ``(N, 3)`` int64 (padded with 0) and the padding mask ``(N, 3)``, True at padding.
    """
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"labels must be integer digits, got dtype {labels.dtype}")
    if labels.ndim != 1 or labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError("labels must be a 1-D array of digits 0–9")
    null_fraction = check_real("null_fraction", null_fraction, 0.0, 1.0, high_open=True)
    if not 0.0 <= null_fraction < 1.0:
        raise ValueError(f"null_fraction must be in [0, 1), got {null_fraction}")
    rng = np.random.default_rng(check_seed(seed))
    index = {w: i for i, w in enumerate(CAPTION_WORDS)}
    ids = np.zeros((labels.size, 3), dtype=np.int64)
    for row, (label, template, null) in enumerate(
        zip(labels, rng.integers(len(_TEMPLATES), size=labels.size), rng.random(labels.size) < null_fraction)
    ):
        words = ["<null>"] if null else [w.format(n=NUMBER_WORDS[label]) for w in _TEMPLATES[template]]
        ids[row, : len(words)] = [index[w] for w in words]
    return ids, ids == 0


def null_captions(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` empty captions (the "no condition" input of classifier-free guidance), shaped like
    :func:`digit_captions`' output."""
    ids = np.zeros((check_count("n", n), 3), dtype=np.int64)
    ids[:, 0] = CAPTION_WORDS.index("<null>")
    return ids, ids == 0
