"""Judging generated digits with a classifier (chapters 10 and 11).

Sample quality is measured by a CNN trained on scikit-learn's digits (the model of chapter 02):
a convincing sample is classified with high confidence; a varied set covers all ten classes; a
conditional sample should be classified as the digit it was asked for.
"""

from __future__ import annotations

import random

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import data, train
from ._checks import check_array, check_device, check_int, check_real
from .data._checks import check_seed
from .runtime import eval_mode
from .models import CNNClassifier, CNNConfig

__all__ = ["JudgeReport", "judge_samples", "train_digit_judge"]


def train_digit_judge(seed: int = 0, epochs: int = 30, device: torch.device | str = "cpu") -> tuple[nn.Module, float]:
    """Train the chapter-02 CNN on the digits' training split; return it (eval mode) and its
    held-out accuracy. Deterministic for a given seed and device; the caller's global random
    state is left as it was (training draws from its own seeded copy)."""
    seed = check_seed(seed)
    epochs = check_int("epochs", epochs, 1, maximum=10_000)
    device = check_device("device", device)
    # Python's and NumPy's global states are restored too: a library imported on the way may draw
    # from them (scikit-learn 1.9's load_digits imports rich, which calls random.getrandbits)
    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        return _train_digit_judge(seed, epochs, device)
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


def _train_digit_judge(seed: int, epochs: int, device: torch.device) -> tuple[nn.Module, float]:
    split = data.digits(seed=0)
    cuda = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        model = CNNClassifier(CNNConfig())
        optimizer = torch.optim.Adam(model.parameters(), lr=3e-3, weight_decay=1e-4)
        train.fit(model, data.tensor_loader(split.x_train, split.y_train, batch_size=64, seed=seed), optimizer=optimizer,
                  loss_fn=nn.CrossEntropyLoss(), epochs=epochs, device=device, progress=False,
                  scheduler=torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs))
    model.eval()
    with torch.no_grad():
        pred = model(torch.tensor(split.x_test, device=device)).argmax(1).cpu().numpy()
    return model, float(np.mean(pred == split.y_test))


@dataclass(frozen=True)
class JudgeReport:
    predicted: np.ndarray  # class of every sample
    confidence: np.ndarray  # the classifier's probability for that class
    threshold: float

    def __post_init__(self) -> None:
        check_array("predicted", self.predicted, ndim=1, kind="iu")
        check_array("confidence", self.confidence, ndim=1)
        if self.predicted.shape != self.confidence.shape:
            raise ValueError(f"predicted {self.predicted.shape} and confidence {self.confidence.shape} must have the same shape")
        check_real("threshold", self.threshold, 0.0, 1.0)

    @property
    def confident_fraction(self) -> float:
        """Share of samples classified with probability ≥ threshold."""
        return float(np.mean(self.confidence >= self.threshold))

    @property
    def histogram(self) -> np.ndarray:
        return np.bincount(self.predicted, minlength=10)

    @property
    def classes_present(self) -> int:
        return int((self.histogram > 0).sum())

    def agreement(self, requested: np.ndarray) -> float:
        """Share of samples classified as the digit they were asked for."""
        requested = np.asarray(requested)
        if requested.shape != self.predicted.shape:
            raise ValueError(f"requested must have shape {self.predicted.shape}, got {requested.shape}")
        return float(np.mean(self.predicted == requested))


@torch.no_grad()
def judge_samples(judge: nn.Module, samples: torch.Tensor, threshold: float = 0.9) -> JudgeReport:
    """Classify generated images ``(N, 1, 8, 8)`` in the diffusion models' range [−1, 1], with the
    judge in eval mode (its train/eval mode is restored afterwards)."""
    if not isinstance(samples, torch.Tensor) or samples.ndim != 4 or samples.shape[1:] != (1, 8, 8):
        raise ValueError(f"samples must be a (N, 1, 8, 8) tensor, got {getattr(samples, 'shape', type(samples).__name__)}")
    threshold = check_real("threshold", threshold, 0.0, 1.0, low_open=True, high_open=True)
    if not isinstance(judge, nn.Module):
        raise TypeError(f"judge must be a torch.nn.Module, got {type(judge).__name__}")
    if not torch.isfinite(samples).all():
        raise ValueError("samples contain NaN or infinite values; a sampler diverged")
    device = next(judge.parameters()).device
    images = ((samples.clamp(-1, 1) + 1) / 2).float().to(device)  # back to the digits' [0, 1]
    with eval_mode(judge):  # BatchNorm's running statistics untouched, dropout off; the mode comes back
        try:
            logits = judge(images)
        except (RuntimeError, TypeError, ValueError, IndexError) as exc:
            raise ValueError(f"the judge could not classify {tuple(images.shape)} digit images (an (N, 1, 8, 8) → (N, 10) "
                             f"classifier such as train_digit_judge's): {str(exc).splitlines()[0]}") from exc
        if not isinstance(logits, torch.Tensor) or logits.ndim != 2 or logits.shape[0] != images.shape[0]:
            raise ValueError(f"the judge must return logits (N, classes), got {getattr(logits, 'shape', type(logits).__name__)}")
        probs = F.softmax(logits, dim=-1).cpu()
    confidence, predicted = probs.max(dim=-1)
    return JudgeReport(predicted.numpy(), confidence.numpy(), threshold)
