"""Chapter 04's stacked-vs-bidirectional experiment: a tagging task whose answer at step t
depends on the step after it, so that what a left-to-right LSTM cannot know is computable.

Each sequence is :data:`TASK` ``["length"]`` random digits 0–9; the tag of an interior position
is 1 when its digit is a strict *peak* — larger than both neighbours — and 0 otherwise (the first
and last positions are not scored). A model that reads left to right knows ``x[t-1]`` and ``x[t]``
but not ``x[t+1]``; the best it can do is :func:`left_to_right_ceiling` (0.875). A bidirectional
model can be exact. ``run(arm, seed)`` trains one of :data:`ARMS`; ``tools/lookahead_sweep.py``
stores all four for three seeds (``load_results``).
"""

from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .. import data, runtime
from . import _stored
from .._checks import check_bool, check_int, outside

__all__ = ["ARMS", "RESULTS", "TASK", "Tagger", "left_to_right_ceiling", "load_results", "make", "run"]

#: The task and the training recipe.
TASK = {"length": 24, "digits": 10, "n_train": 4000, "n_test": 1000, "hidden": 32, "epochs": 8, "batch_size": 64,
        "lr": 3e-3, "data_seed": 0}
#: The arms: (LSTM layers, bidirectional).
ARMS = {"lstm": (1, False), "stacked": (2, False), "bidirectional": (1, True), "stacked-bidirectional": (2, True)}
#: Where ``tools/lookahead_sweep.py`` stores the sweep (shipped with the package, for Colab).
RESULTS = "results/lookahead_sweep.json"


def make(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` sequences ``x (n, length)`` of random digits and their tags ``y (n, length)``: 1 where
    an interior digit is larger than both neighbours, else 0 (positions 0 and length − 1: 0,
    and not scored)."""
    n = check_int("n", n, 1)
    seed = check_int("seed", seed, 0)
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, TASK["digits"], (n, TASK["length"]), generator=g)
    y = torch.zeros_like(x)
    y[:, 1:-1] = ((x[:, 1:-1] > x[:, :-2]) & (x[:, 1:-1] > x[:, 2:])).long()
    return x, y


def left_to_right_ceiling(digits: int = TASK["digits"]) -> Fraction:
    """The best accuracy a model that has read ``x[..t]`` only can reach, exactly: with
    ``a = x[t-1]`` and ``b = x[t]``, the tag is 0 for sure when ``b <= a``; otherwise it is 1 with
    probability ``P(x[t+1] < b) = b / digits``, and the best guess is 1 when that exceeds 1/2."""
    digits = check_int("digits", digits, 2)
    total = Fraction(0)
    for a in range(digits):
        for b in range(digits):
            p_peak = Fraction(b, digits) if b > a else Fraction(0)
            total += max(p_peak, 1 - p_peak)
    return total / digits**2


class Tagger(nn.Module):
    """One-hot digits → ``nn.LSTM(num_layers, bidirectional)`` → a linear layer with two logits
    (not a peak, a peak) at every step."""

    def __init__(self, num_layers: int, bidirectional: bool, hidden: int = TASK["hidden"]) -> None:
        super().__init__()
        num_layers = check_int("num_layers", num_layers, 1)
        bidirectional = check_bool("bidirectional", bidirectional)
        hidden = check_int("hidden", hidden, 1)
        self.lstm = nn.LSTM(TASK["digits"], hidden, num_layers=num_layers, bidirectional=bidirectional, batch_first=True)
        self.head = nn.Linear(hidden * (2 if bidirectional else 1), 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x (B, T)`` digits → logits ``(B, T, 2)``."""
        if not isinstance(x, torch.Tensor) or x.dtype != torch.long or x.ndim != 2 or x.shape[1] == 0:
            raise TypeError("x must be a (B, T) torch.long tensor of digits with T >= 1")
        if outside(x, 0, TASK["digits"]):
            raise ValueError(f"x must hold digits in [0, {TASK['digits']})")
        out, _ = self.lstm(F.one_hot(x, TASK["digits"]).to(self.head.weight.dtype))
        return self.head(out)


def _accuracy(model: Tagger, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x)[:, 1:-1].argmax(-1) == y[:, 1:-1]).float().mean())


def run(arm: str, seed: int, *, device: torch.device | str = "cpu") -> dict:
    """Train one arm with :data:`TASK`'s recipe (Adam, cross-entropy on the interior positions)
    and return its record: parameters, the test accuracy after every epoch, the seconds."""
    if not isinstance(arm, str) or arm not in ARMS:
        raise ValueError(f"arm must be one of {sorted(ARMS)}, got {arm!r}")
    seed = check_int("seed", seed, 0)
    device = torch.device(device)
    t = TASK
    x_train, y_train = make(t["n_train"], t["data_seed"])
    x_test, y_test = make(t["n_test"], t["data_seed"] + 1)
    x_test, y_test = x_test.to(device), y_test.to(device)
    runtime.seed_everything(seed)
    model = Tagger(*ARMS[arm]).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=t["lr"])
    loader = data.tensor_loader(x_train, y_train, batch_size=t["batch_size"], seed=seed)  # a new order every epoch
    accuracy, start = [], time.perf_counter()
    for _ in range(t["epochs"]):
        model.train()
        for xb, yb in loader:
            logits = model(xb.to(device))[:, 1:-1]
            loss = F.cross_entropy(logits.reshape(-1, 2), yb.to(device)[:, 1:-1].reshape(-1))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        model.eval()
        accuracy.append(round(_accuracy(model, x_test, y_test), 5))
    return {"arm": arm, "seed": seed, "parameters": sum(p.numel() for p in model.parameters()),
            "test_accuracy": accuracy, "seconds": round(time.perf_counter() - start, 2)}


def load_results(path: str | Path | None = None) -> dict:
    """The stored sweep: ``{"command": ..., "runs": [record of :func:`run`, ...]}``.

    By default the file shipped inside the package; ``path`` reads another one.
    """
    return _stored.load(RESULTS, path, "a sweep file")
