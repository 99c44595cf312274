"""Chapter 09's experiment: what the U-Net's skip connections are worth once the network without
them has as many parameters and as much training, and the Dice loss against cross-entropy on
images that are 84 % background.

``run(arm, seed, epochs=)`` trains one arm of :data:`ARMS` with the chapter's CPU recipe
(:data:`RECIPE`: base width 16, depth 3, 1,500 training images of 32 × 32, Adam 3e-3 with a
cosine schedule over the epochs, batch 32) and measures, after every epoch, the held-out
IoU of each class, and at the end the accuracy on the outline pixels and elsewhere.
``tools/unet_sweep.py`` runs every arm for three seeds at the chapter's 6 epochs and at 20, and
seed 0 of the two arms without skips at 40 (and of the wide one at 80), and stores the results
(``load_results``); the chapter reads them and repeats seed 0 of two arms live.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .. import data, runtime
from . import _stored
from .._checks import check_bool, check_choice, check_finite, check_int, check_real, outside, without_values
from ..models.unet import UNet, UNetConfig

__all__ = ["ARMS", "RECIPE", "RESULTS", "boundary_mask", "confusion", "dice_loss", "iou_per_class", "load_results",
           "make_config", "run"]

#: The chapter's CPU recipe (its ``CONFIG["cpu"]``) and data.
RECIPE = {"base_channels": 16, "depth": 3, "n_train": 1500, "epochs": 6, "batch_size": 32, "lr": 3e-3,
          "n_test": 500, "train_seed": 0, "test_seed": 1, "classes": 4}

#: The arms: skips or none, the width (a multiple of the recipe's ``base_channels``), the loss.
ARMS = {
    "skips": {"skips": True, "width": 1.0, "loss": "ce"},
    "no-skips": {"skips": False, "width": 1.0, "loss": "ce"},  # 32 % fewer parameters
    "no-skips-wide": {"skips": False, "width": 1.25, "loss": "ce"},  # base 20: 6 % more parameters than "skips"
    "dice": {"skips": True, "width": 1.0, "loss": "dice"},
    "ce+dice": {"skips": True, "width": 1.0, "loss": "ce+dice"},
}

#: Where ``tools/unet_sweep.py`` stores the sweep (shipped with the package, for Colab).
RESULTS = "results/unet_sweep.json"


def _check_arm(arm: object) -> str:
    return check_choice("arm", arm, ARMS)


def dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """The soft Dice loss of V-Net (Milletari et al., 2016), one term per class, averaged:
    ``1 − mean_c 2 Σ p_c g_c / (Σ p_c² + Σ g_c² + eps)``, with ``p = softmax(logits)`` and ``g``
    the one-hot labels, the sums running over every pixel of the batch. Each class counts
    equally whatever its number of pixels — the point of the loss under class imbalance.

    ``logits (B, C, H, W)``, ``target (B, H, W)`` integer classes in ``[0, C)`` → a scalar.
    """
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point() or logits.ndim != 4 or logits.shape[1] < 2:
        raise TypeError(f"logits must be a floating (B, C, H, W) tensor with C >= 2, got {getattr(logits, 'shape', type(logits).__name__)}")
    if not isinstance(target, torch.Tensor) or target.dtype != torch.long:
        raise TypeError(f"target must be a torch.long tensor of classes, got {getattr(target, 'dtype', type(target).__name__)}")
    if target.shape != logits.shape[:1] + logits.shape[2:]:
        raise ValueError(f"target must be (B, H, W) = {tuple(logits.shape[:1] + logits.shape[2:])}, got {tuple(target.shape)}")
    eps = check_real("eps", eps, 0.0)
    if not without_values(logits):
        check_finite("logits", logits)
    if not without_values(target) and outside(target, 0, logits.shape[1]):
        raise ValueError(f"target must hold classes in [0, {logits.shape[1]})")
    p = logits.softmax(1)
    g = F.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2).to(p.dtype)
    dims = (0, 2, 3)
    dice = 2 * (p * g).sum(dims) / ((p * p).sum(dims) + (g * g).sum(dims) + eps)
    return 1 - dice.mean()


def _loss(kind: str, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if kind == "ce":
        return F.cross_entropy(logits, target)
    if kind == "dice":
        return dice_loss(logits, target)
    return F.cross_entropy(logits, target) + dice_loss(logits, target)


def _recipe(recipe: dict | None) -> dict:
    return _stored.merge_recipe(recipe, RECIPE)


def make_config(arm: str, recipe: dict | None = None) -> UNetConfig:
    """The :class:`UNetConfig` of ``arm``: the recipe's U-Net (``recipe`` overrides entries of
    :data:`RECIPE`) with the arm's skips, ``width`` × the recipe's ``base_channels`` wide."""
    arm = _check_arm(arm)
    r, a = _recipe(recipe), ARMS[arm]
    return UNetConfig(in_channels=1, out_channels=r["classes"], base_channels=round(r["base_channels"] * a["width"]),
                      depth=r["depth"], skips=a["skips"])


def confusion(model: torch.nn.Module, images: np.ndarray, labels: np.ndarray, batch: int = 250) -> np.ndarray:
    """``C × C`` counts over every pixel: rows the label, columns the model's prediction."""
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim != 4 or labels.shape != images.shape[:1] + images.shape[2:]:
        raise ValueError(f"images must be (N, C, H, W) and labels (N, H, W), got {images.shape} and {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"labels must be integer classes, got {labels.dtype}")
    if len(images) == 0:
        raise ValueError("images must hold at least one image")
    batch = check_int("batch", batch, 1)
    check_finite("images", images)
    if labels.size and labels.min() < 0:
        raise ValueError("labels must hold classes >= 0")
    device = next(model.parameters()).device
    counts, was_training = None, model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(images), batch):
                logits = model(torch.as_tensor(images[start:start + batch], dtype=torch.float32, device=device))
                if counts is None:
                    classes = logits.shape[1]
                    if labels.max() >= classes:
                        raise ValueError(f"labels must hold classes in [0, {classes})")
                    counts = torch.zeros(classes, classes, dtype=torch.long)
                target = torch.as_tensor(labels[start:start + batch])
                pred = logits.argmax(1).cpu()
                counts += torch.bincount((target * classes + pred).ravel(), minlength=classes**2).reshape(classes, classes)
    finally:
        model.train(was_training)  # the caller's mode, whatever happened
    return counts.numpy()


def iou_per_class(counts: np.ndarray) -> np.ndarray:
    """Each class's intersection over union from a confusion matrix (rows label, columns
    prediction): the diagonal over (column sum + row sum − diagonal); NaN for a class absent from
    both."""
    counts = np.asarray(counts)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or (counts < 0).any():
        raise ValueError(f"counts must be a square matrix of non-negative counts, got shape {counts.shape}")
    union = counts.sum(0) + counts.sum(1) - np.diag(counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, np.diag(counts) / union, np.nan)


def boundary_mask(labels: np.ndarray) -> np.ndarray:
    """``(N, H, W)`` label maps → a boolean mask of the outline pixels: those with a 4-neighbour
    of another label."""
    labels = np.asarray(labels)
    if labels.ndim != 3:
        raise ValueError(f"labels must be (N, H, W), got shape {labels.shape}")
    edge = np.zeros(labels.shape, dtype=bool)
    edge[:, 1:, :] |= labels[:, 1:, :] != labels[:, :-1, :]
    edge[:, :-1, :] |= labels[:, :-1, :] != labels[:, 1:, :]
    edge[:, :, 1:] |= labels[:, :, 1:] != labels[:, :, :-1]
    edge[:, :, :-1] |= labels[:, :, :-1] != labels[:, :, 1:]
    return edge


@functools.lru_cache(maxsize=2)
def _generate(n_train: int, train_seed: int, n_test: int, test_seed: int) -> tuple[np.ndarray, ...]:
    x_train, y_train = data.shapes_segmentation(n_train, seed=train_seed)
    x_test, y_test = data.shapes_segmentation(n_test, seed=test_seed)
    return x_train, y_train, x_test, y_test


def _data(recipe: dict | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The recipe's training and test images and label maps: generated once per process, and a
    fresh copy for every caller, so that no caller can change another's."""
    r = _recipe(recipe)
    return tuple(a.copy() for a in _generate(r["n_train"], r["train_seed"], r["n_test"], r["test_seed"]))


def run(arm: str, seed: int, *, epochs: int | None = None, recipe: dict | None = None, curve: bool = True,
        device: torch.device | str = "cpu", return_model: bool = False) -> dict:
    """Train one arm for ``epochs`` (default: the recipe's; the cosine schedule spans them) and
    return its record: parameters, after every epoch the mean training loss and the held-out IoU
    of each class (``curve=False``: the IoU after the last epoch only, under ``"iou"``, and
    ``"iou_epochs"`` says so; training is the same), and at the end the held-out mean IoU, the
    accuracy on outline pixels and elsewhere, and the seconds of training. ``recipe`` overrides
    entries of :data:`RECIPE` (the chapter's larger ``gpu`` scale); ``return_model`` adds the
    trained model under ``"model"``."""
    arm = _check_arm(arm)
    seed = check_int("seed", seed, 0)
    r, a = _recipe(recipe), ARMS[arm]
    epochs = r["epochs"] if epochs is None else check_int("epochs", epochs, 1)
    curve = check_bool("curve", curve)
    return_model = check_bool("return_model", return_model)
    device = torch.device(device)
    x_train, y_train, x_test, y_test = _data(r)
    runtime.seed_everything(seed)
    model = UNet(make_config(arm, r)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=r["lr"])
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    loader = data.tensor_loader(x_train, y_train, batch_size=r["batch_size"], seed=seed)  # a new order every epoch
    train_loss, iou, seconds = [], [], 0.0
    for epoch in range(1, epochs + 1):
        start, total, count = time.perf_counter(), 0.0, 0
        model.train()
        for xb, yb in loader:
            loss = _loss(a["loss"], model(xb.to(device)), yb.to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total, count = total + loss.detach() * len(xb), count + len(xb)  # stays on the device
        scheduler.step()
        train_loss.append(round(float(total) / count, 5))
        seconds += time.perf_counter() - start
        if curve and epoch < epochs:
            iou.append(iou_per_class(confusion(model, x_test, y_test)).round(5).tolist())
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(torch.as_tensor(x_test[i:i + 250], device=device)).argmax(1).cpu()
                          for i in range(0, len(x_test), 250)]).numpy()
    classes = r["classes"]
    counts = np.bincount((y_test * classes + pred).ravel(), minlength=classes**2).reshape(classes, classes)
    iou.append(iou_per_class(counts).round(5).tolist())  # the last epoch's, from the same predictions
    edge, right = boundary_mask(y_test), pred == y_test
    record = {"arm": arm, "seed": seed, "epochs": epochs, "parameters": model.num_parameters(),
              "train_loss": train_loss, "iou": iou, "final_miou": round(float(np.mean(iou[-1])), 5),
              "outline_accuracy": round(float(right[edge].mean()), 5), "inner_accuracy": round(float(right[~edge].mean()), 5),
              "seconds": round(seconds, 2)}
    if not curve:
        record["iou_epochs"] = [epochs]
    if return_model:
        record["model"] = model.eval()
    return record


def load_results(path: str | Path | None = None) -> dict:
    """The stored sweep: ``{"command": ..., "runs": [record of :func:`run`, ...]}``.

    By default the file shipped inside the package; ``path`` reads another one.
    """
    return _stored.load(RESULTS, path, "a sweep file")
