"""Chapter 02's experiments on scikit-learn's 8×8 digits: what the convolution buys over
baselines on the same 64 pixels, and what depth does to a network with and without skips.

``classifier(kind)`` builds the three contestants (softmax regression, an MLP of about the CNN's
size, the chapter's CNN); ``fit_classifier`` trains any of them with the chapter's recipe;
``shift`` moves images by whole pixels. ``run_depth(blocks, residual, seed)`` trains one
:class:`~nnanatomy.models.DeepCNN`; ``tools/cnn_depth.py`` runs the whole sweep and stores it
(``load_depth_results``), and the chapter re-runs one configuration live.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import data, runtime, train
from . import _stored
from .._checks import check_int
from ..models.cnn import CNNClassifier, CNNConfig, DeepCNN, DeepCNNConfig
from ..models.mlp import MLP, MLPConfig

__all__ = ["CLASSIFIERS", "DEPTH_RESULTS", "accuracy", "classifier", "fit_classifier", "load_depth_results", "run_depth", "shift"]

#: The contestants of the baseline comparison, each seeing the same 64 pixels.
CLASSIFIERS = ("softmax regression", "MLP", "CNN")
#: Where ``tools/cnn_depth.py`` stores the depth sweep (shipped with the package, for Colab).
DEPTH_RESULTS = "results/cnn_depth.json"


def classifier(kind: str, channels: tuple[int, ...] = (32, 64)) -> nn.Module:
    """A fresh, randomly initialised contestant (seed the global generator first).

    * ``"softmax regression"``: ``Flatten → Linear(64, 10)``, the linear baseline;
    * ``"MLP"``: ``Flatten → 64 → 128 → 128 → 10`` with ReLU, about as many parameters as the CNN;
    * ``"CNN"``: :class:`~nnanatomy.models.CNNClassifier` with ``channels``.
    """
    if kind not in CLASSIFIERS:
        raise ValueError(f"kind must be one of {CLASSIFIERS}, got {kind!r}")
    if kind == "CNN":
        return CNNClassifier(CNNConfig(channels=channels))
    if kind == "MLP":
        return nn.Sequential(nn.Flatten(), MLP(MLPConfig(in_features=64, hidden=(128, 128), out_features=10, activation="relu")))
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 10))


def _as_images(name: str, x: object) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or not x.is_floating_point():
        raise TypeError(f"{name} must be a float array or tensor of images (N, C, H, W), got {getattr(x, 'shape', type(x).__name__)}")
    return x


def shift(images: np.ndarray | torch.Tensor, dx: int = 1, dy: int = 0) -> torch.Tensor:
    """Images ``(N, C, H, W)`` moved ``dx`` pixels right and ``dy`` down (negative: left, up); the
    pixels that come in are 0 (the digits' background)."""
    x = _as_images("images", images)
    h, w = x.shape[-2:]
    dx, dy = check_int("dx", dx, -(w - 1), w - 1), check_int("dy", dy, -(h - 1), h - 1)
    out = torch.zeros_like(x)
    out[..., max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = x[..., max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
    return out


def accuracy(model: nn.Module, images: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor) -> float:
    """Share of ``images`` whose arg-max logit is the label, in eval mode, without gradients."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    x = _as_images("images", images)
    y = torch.as_tensor(labels)
    if y.ndim != 1 or y.shape[0] != x.shape[0] or y.is_floating_point():
        raise ValueError(f"labels must be integers, one per image: got {tuple(y.shape)} for {x.shape[0]} images")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return float((model(x.to(device)).argmax(dim=1).cpu() == y.cpu()).float().mean())
    finally:
        model.train(was_training)


def fit_classifier(model: nn.Module, split: data.Split, *, seed: int, epochs: int = 30, lr: float = 3e-3,
                   batch_size: int = 64, device: torch.device | str | None = None) -> train.History:
    """The chapter's recipe: cross-entropy, Adam (weight decay 1e-4) with a cosine schedule,
    mini-batches shuffled by ``seed``; the test accuracy every 5 epochs."""
    if not isinstance(split, data.Split):
        raise TypeError(f"split must be a data.Split (data.digits()), got {type(split).__name__}")
    device = runtime.get_device() if device is None else device
    loader = data.tensor_loader(split.x_train, split.y_train, batch_size=batch_size, seed=seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
    return train.fit(model, loader, optimizer=optimizer, loss_fn=nn.CrossEntropyLoss(), epochs=epochs, device=device,
                     scheduler=torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs), progress=False,
                     evaluate=lambda m: {"test accuracy": accuracy(m, split.x_test, split.y_test)}, eval_every=5)


def run_depth(blocks: int, residual: bool, seed: int, *, channels: int = 16, epochs: int = 15,
              device: torch.device | str = "cpu") -> dict:
    """Train one :class:`~nnanatomy.models.DeepCNN` on the digits (Adam 3e-3, cosine, batch 64,
    no weight decay) and return its record: the per-epoch training loss, and at the end the
    cross-entropy on the whole training set and the test accuracy."""
    blocks, seed, epochs = check_int("blocks", blocks, 1, 200), check_int("seed", seed, 0), check_int("epochs", epochs, 1)
    if not isinstance(residual, bool):
        raise TypeError(f"residual must be True or False, got {residual!r}")
    split = data.digits(seed=0)
    torch.manual_seed(seed)
    model = DeepCNN(DeepCNNConfig(channels=channels, blocks=blocks, residual=residual))
    loader = data.tensor_loader(split.x_train, split.y_train, batch_size=64, seed=seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    start = time.perf_counter()
    history = train.fit(model, loader, optimizer=optimizer, loss_fn=nn.CrossEntropyLoss(), epochs=epochs, device=device,
                        scheduler=torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs), progress=False)
    seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        x_train = torch.from_numpy(split.x_train).to(model.fc.weight.device)
        train_ce = float(nn.functional.cross_entropy(model(x_train), torch.from_numpy(split.y_train).to(x_train.device)))
    return {"blocks": blocks, "residual": residual, "seed": seed, "channels": channels, "epochs": epochs,
            "convolutions": 2 * blocks + 1, "parameters": sum(p.numel() for p in model.parameters()),
            "train_loss": [float(v) for v in history.train_loss], "train_ce": train_ce,
            "test_accuracy": accuracy(model, split.x_test, split.y_test), "seconds": round(seconds, 1)}


def load_depth_results(path: str | Path | None = None) -> dict:
    """The stored depth sweep: ``{"command": ..., "runs": [record of :func:`run_depth`, ...]}``.

    By default the file shipped inside the package; ``path`` reads another one.
    """
    return _stored.load(DEPTH_RESULTS, path, "a depth-sweep file")

