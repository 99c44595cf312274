"""Judging generated digits with a classifier (chapters 10 and 11).

Sample quality is measured by a CNN trained on scikit-learn's digits (the model of chapter 02):
a convincing sample is classified with high confidence; a varied set covers all ten classes; a
conditional sample should be classified as the digit it was asked for. The judge's penultimate
layer also gives a feature space in which to compare a set of samples with real digits as sets:
the Fréchet distance (FID's formula, in this judge's features) and precision and recall.
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

__all__ = ["JudgeReport", "embed", "frechet_distance", "judge_samples", "precision_recall", "train_digit_judge"]


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


def _as_digit_images(samples: object, judge: nn.Module) -> torch.Tensor:
    """Generated images (N, 1, 8, 8) in [−1, 1], checked, back in the digits' [0, 1] on the judge's device."""
    if not isinstance(samples, torch.Tensor) or samples.ndim != 4 or samples.shape[1:] != (1, 8, 8):
        raise ValueError(f"samples must be a (N, 1, 8, 8) tensor, got {getattr(samples, 'shape', type(samples).__name__)}")
    if not torch.isfinite(samples).all():
        raise ValueError("samples contain NaN or infinite values; a sampler diverged")
    return ((samples.clamp(-1, 1) + 1) / 2).float().to(next(judge.parameters()).device)


@torch.no_grad()
def judge_samples(judge: nn.Module, samples: torch.Tensor, threshold: float = 0.9) -> JudgeReport:
    """Classify generated images ``(N, 1, 8, 8)`` in the diffusion models' range [−1, 1], with the
    judge in eval mode (its train/eval mode is restored afterwards)."""
    threshold = check_real("threshold", threshold, 0.0, 1.0, low_open=True, high_open=True)
    if not isinstance(judge, nn.Module):
        raise TypeError(f"judge must be a torch.nn.Module, got {type(judge).__name__}")
    images = _as_digit_images(samples, judge)
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


@torch.no_grad()
def embed(judge: nn.Module, samples: torch.Tensor) -> np.ndarray:
    """The judge's penultimate features ``(N, hidden)`` — after its hidden Linear and ReLU, before
    the class layer — of images ``(N, 1, 8, 8)`` in the diffusion models' range [−1, 1]."""
    if not isinstance(judge, CNNClassifier):
        raise TypeError(f"judge must be the CNNClassifier train_digit_judge returns, got {type(judge).__name__}")
    images = _as_digit_images(samples, judge)
    with eval_mode(judge):
        hidden = judge.classifier[:3](judge.features(images))  # Flatten → Linear → ReLU
    return hidden.double().cpu().numpy()


def _features(name: str, value: object, minimum: int) -> np.ndarray:
    x = check_array(name, value, ndim=2)
    if x.shape[0] < minimum:
        raise ValueError(f"{name} needs at least {minimum} rows (samples), got {x.shape[0]}")
    return x.astype(np.float64)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """The Fréchet distance between Gaussians fitted to two feature sets ``(N, D)`` and ``(M, D)``:
    ``‖μa − μb‖² + Tr(Σa + Σb − 2 (Σa Σb)^½)`` — FID's formula (Heusel et al., 2017), here in the
    digit judge's features. It is biased upwards for small sets: compare it with the distance
    between two real sets of the same sizes."""
    a, b = _features("a", a, 2), _features("b", b, 2)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b must have the same feature dimension, got {a.shape[1]} and {b.shape[1]}")
    mu = a.mean(axis=0) - b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # Tr (Σa Σb)^½ = Tr (Σa^½ Σb Σa^½)^½, a symmetric matrix: eigenvalues, no complex round-off,
    # and no trouble with the singular covariances of ReLU features (dead units, fewer samples than D)
    w, v = np.linalg.eigh(cov_a)
    half = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(half @ cov_b @ half), 0, None)).sum()
    return float(max(mu @ mu + np.trace(cov_a) + np.trace(cov_b) - 2 * cross, 0.0))


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al., 2019) of ``fake`` against ``real``
    feature sets: each point's ball reaches its k-th nearest neighbour in its own set. Precision is
    the share of fake points inside some real ball (the samples look real), recall the share of
    real points inside some fake ball (the samples cover the real variety)."""
    k = check_int("k", k, 1, maximum=1000)
    real, fake = _features("real", real, k + 1), _features("fake", fake, k + 1)
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"real and fake must have the same feature dimension, got {real.shape[1]} and {fake.shape[1]}")
    r, f = torch.from_numpy(real), torch.from_numpy(fake)

    def radii(x: torch.Tensor) -> torch.Tensor:
        return torch.cdist(x, x).kthvalue(k + 1, dim=1).values  # the k-th neighbour (the first is the point itself)

    def covered(points: torch.Tensor, centres: torch.Tensor, radius: torch.Tensor) -> float:
        return float((torch.cdist(points, centres) <= radius[None, :]).any(dim=1).double().mean())

    return covered(f, r, radii(r)), covered(r, f, radii(f))
