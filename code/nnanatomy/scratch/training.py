"""Training a NumPy model: mini-batch gradient descent without autograd.

The same four steps as every PyTorch loop — forward, loss, backward, optimiser step — written
out with the hand-derived backward passes of this package.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ._checks import as_float_array, check_positive_int
from .losses import MSELoss
from .mlp import MLP
from .optim import SGD, Adam

__all__ = ["cosine_lr", "minibatch_fit"]


def cosine_lr(base_lr: float, epoch: int, epochs: int) -> float:
    """Cosine decay from ``base_lr`` at epoch 0 to 0 at ``epochs`` (``CosineAnnealingLR``'s curve)."""
    if not math.isfinite(base_lr) or base_lr < 0:
        raise ValueError(f"base_lr must be a finite number >= 0, got {base_lr}")
    epochs = check_positive_int("epochs", epochs)
    if not 0 <= epoch <= epochs:
        raise ValueError(f"epoch must be in [0, epochs={epochs}], got {epoch}")
    return 0.5 * base_lr * (1.0 + math.cos(math.pi * epoch / epochs))


def minibatch_fit(
    model: MLP,
    optimizer: Adam | SGD,
    loss: MSELoss,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    seed: int = 0,
    cosine_decay: bool = True,
    evaluate: Callable[[MLP], float] | None = None,
) -> dict[str, list[float]]:
    """Train ``model`` on ``(x, y)`` with shuffled mini-batches; return the per-epoch history.

    Args:
        x, y: training inputs ``(N, d_in)`` and targets ``(N, d_out)``.
        cosine_decay: anneal ``optimizer.lr`` from its initial value to 0 over the epochs.
        evaluate: called after every epoch as ``evaluate(model)`` → a number, e.g. a test error.

    Returns:
        ``{"train_loss": [...], "eval": [...]}``: the mean batch loss and the evaluation per epoch.
    """
    if not isinstance(model, MLP):
        raise TypeError(f"model must be a scratch.MLP, got {type(model).__name__}")
    if not isinstance(optimizer, (Adam, SGD)):
        raise TypeError(f"optimizer must be a scratch.Adam or scratch.SGD, got {type(optimizer).__name__}")
    if not isinstance(loss, MSELoss):
        raise TypeError(f"loss must be a scratch.MSELoss, got {type(loss).__name__}")
    x, y = as_float_array("x", x, ndim=2), as_float_array("y", y, ndim=2)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must have the same number of rows, got {x.shape[0]} and {y.shape[0]}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("x and y must be finite: one NaN makes every loss and gradient NaN")
    if evaluate is not None and not callable(evaluate):
        raise TypeError(f"evaluate must be None or callable as evaluate(model), got {type(evaluate).__name__}")
    epochs = check_positive_int("epochs", epochs)
    batch_size = check_positive_int("batch_size", batch_size)
    rng = np.random.default_rng(seed)
    base_lr = optimizer.lr
    history: dict[str, list[float]] = {"train_loss": [], "eval": []}
    for epoch in range(epochs):
        if cosine_decay:
            optimizer.lr = cosine_lr(base_lr, epoch, epochs)
        order = rng.permutation(x.shape[0])
        total = 0.0
        for start in range(0, x.shape[0], batch_size):
            idx = order[start : start + batch_size]
            pred = model.forward(x[idx])  # 1. forward
            total += loss.forward(pred, y[idx]) * len(idx)  # 2. loss
            model.backward(loss.backward())  # 3. backward: every layer's grads
            optimizer.step(model.gradients())  # 4. update the parameters in place
        history["train_loss"].append(total / x.shape[0])
        if evaluate is not None:
            history["eval"].append(float(evaluate(model)))
    optimizer.lr = base_lr
    return history
