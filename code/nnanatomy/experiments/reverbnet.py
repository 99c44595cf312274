"""Chapter 13's experiments: ReverberationNet and baselines of about its size on one regression
task.

- The ablation, on the source's training configuration (1,000 samples of (10, 64), 50 epochs,
  batch 32, Adam lr 1e-3, loss MSE + α·KL): ``run(name, seed)`` trains one configuration;
  ``tools/reverbnet_ablation.py`` runs every configuration for several seeds and stores them.
- The learning curve, outside the memorisation regime: ``curve_run(name, n_train, seed)`` trains
  on the first ``n_train`` of 16,000 sequences with AdamW (weight decay on the weight matrices),
  scores a separate validation split every round of at most 125 steps, stops when it has not
  improved for ``CURVE["patience"]`` rounds, and reports the test error of the best round's weights;
  ``tools/reverbnet_curve.py`` runs the sizes, seeds and KL weights and stores them.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import data, runtime, train
from . import _stored
from .._checks import check_choice, check_device, check_int, check_real
from ..models.reverbnet import ReverberationNet
from ..models.transformer import EncoderLayer, TransformerConfig

__all__ = ["CONFIGS", "CURVE", "CURVE_RESULTS", "RESULTS", "SequenceGRU", "SequenceMLP", "SequenceTransformer", "build",
           "curve_run", "load_curve", "load_results", "run"]

#: Where ``tools/reverbnet_ablation.py`` stores the ablation (shipped with the package, for Colab).
RESULTS = "results/reverbnet_ablation.json"

N_TRAIN, N_EVAL, LENGTH, D = 1000, 500, 10, 64
EPOCHS, BATCH, LR = 50, 32, 1e-3

#: Where ``tools/reverbnet_curve.py`` stores the learning curve and the KL sweep.
CURVE_RESULTS = "results/reverbnet_curve.json"

#: The learning-curve protocol of :func:`curve_run`. The training sets are nested (the first
#: ``n`` of one draw of ``max_train`` sequences, data seed 0); validation (data seed 2) picks
#: the round to keep, and the test split (data seed 1) is scored once, on the kept weights.
CURVE = {
    "sizes": (1000, 4000, 16000), "max_train": 16000, "n_val": 1000, "n_test": 2000,
    "models": ("reverbnet", "gru", "transformer", "mlp"), "kl_weights": (0.0, 1e-5, 1e-4, 1e-3),
    "weight_decay": 0.1, "round_steps": 125, "patience": 8, "max_steps": 8000,
}


class SequenceMLP(nn.Module):
    """Baseline: the flattened sequence through an MLP. It has separate weights for every position,
    so it sees the order (and any interaction between positions), but it shares nothing across time."""

    def __init__(self, hidden: int = 740) -> None:
        super().__init__()
        hidden = check_int("hidden", hidden, 1, maximum=1 << 16)
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(LENGTH * D, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
                                 nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor):
        return self.net(x).squeeze(-1), x.new_zeros(()), []


class SequenceGRU(nn.Module):
    """Baseline: a GRU reads the sequence; a linear layer reads its last state."""

    def __init__(self, hidden: int = 560) -> None:
        super().__init__()
        hidden = check_int("hidden", hidden, 1, maximum=1 << 16)
        self.gru = nn.GRU(D, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor):
        return self.head(self.gru(x)[0][:, -1]).squeeze(-1), x.new_zeros(()), []


class SequenceTransformer(nn.Module):
    """Baseline: chapter 05's encoder layers over the sequence (learned positions), mean-pooled."""

    def __init__(self, width: int = 128, layers: int = 5) -> None:
        super().__init__()
        width, layers = check_int("width", width, 4, maximum=1 << 14), check_int("layers", layers, 1, maximum=256)
        if width % 4:
            raise ValueError(f"width must be a multiple of the 4 heads, got {width}")
        cfg = TransformerConfig(src_vocab_size=1, tgt_vocab_size=1, d_model=width, num_heads=4, d_ff=4 * width, dropout=0.0)
        self.inp = nn.Linear(D, width)
        self.pos = nn.Parameter(torch.zeros(1, LENGTH, width))
        self.layers = nn.ModuleList(EncoderLayer(cfg) for _ in range(layers))
        self.head = nn.Linear(width, 1)

    def forward(self, x: torch.Tensor):
        h = self.inp(x) + self.pos
        for layer in self.layers:
            h = layer(h, None)
        return self.head(h.mean(dim=1)).squeeze(-1), x.new_zeros(()), []


@dataclass(frozen=True)
class Config:
    model: str  # "reverbnet", "mlp", "gru" or "transformer"
    routing: str = "documented"
    kl_weight: float = 1e-3  # the source's example: 18.12 = 0.1028 + α · 18013 at epoch 1 → α = 1e-3


CONFIGS = {
    "reverbnet": Config("reverbnet"),
    "reverbnet-published": Config("reverbnet", routing="published"),
    "reverbnet-no-feedback": Config("reverbnet", routing="none"),
    "reverbnet-no-kl": Config("reverbnet", kl_weight=0.0),
    "mlp": Config("mlp", kl_weight=0.0),
    "gru": Config("gru", kl_weight=0.0),
    "transformer": Config("transformer", kl_weight=0.0),
}


def build(name: str) -> nn.Module:
    if name not in CONFIGS:
        raise ValueError(f"unknown configuration {name!r}; available: {sorted(CONFIGS)}")
    cfg = CONFIGS[name]
    if cfg.model == "reverbnet":
        return ReverberationNet(D, routing=cfg.routing)
    return {"mlp": SequenceMLP, "gru": SequenceGRU, "transformer": SequenceTransformer}[cfg.model]()


def run(name: str, seed: int, epochs: int = EPOCHS, device: torch.device | str = "cpu") -> dict:
    """Train configuration ``name`` with ``seed``; return its measurements (plain numbers).

    The data are the same for every configuration and seed (training split seed 0, evaluation
    split seed 1); the seed sets the initialisation, the batch order and the variational noise.
    Runs use one CPU thread, so that a run is reproducible bit for bit on any machine.
    """
    name = check_choice("name", name, CONFIGS)
    seed = check_int("seed", seed, 0, maximum=2**31 - 1)
    epochs = check_int("epochs", epochs, 1, maximum=10_000)
    device = check_device("device", device)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _run(name, seed, epochs, device)
    finally:
        torch.set_num_threads(threads)


def _loss(stats: dict, kl_weight: float):
    """The training loss MSE + α·KL of a batch; adds the batch's MSE (and KL, when ``stats`` has
    the key) times its size, and its size, into ``stats``."""
    def loss_fn(m: nn.Module, batch) -> torch.Tensor:
        x, y = batch
        out, kl, _ = m(x)
        mse = torch.mean((out - y) ** 2)
        stats["mse"] += float(mse.detach()) * len(y)
        if "kl" in stats:
            stats["kl"] += float(kl.detach()) * len(y)
        stats["n"] += len(y)
        return mse + kl_weight * kl

    return loss_fn


def _run(name: str, seed: int, epochs: int, device: torch.device | str) -> dict:
    cfg = CONFIGS[name]
    x_train, y_train = data.reverb_regression(N_TRAIN, LENGTH, D, seed=0)
    x_eval, y_eval = data.reverb_regression(N_EVAL, LENGTH, D, seed=1)
    runtime.seed_everything(seed)
    model = build(name).to(device)
    log_rows: list[dict] = []

    stats = {"mse": 0.0, "kl": 0.0, "n": 0}
    loss_fn = _loss(stats, cfg.kl_weight)

    def evaluate(m: nn.Module) -> dict[str, float]:
        out, _, gates = m(torch.tensor(x_eval, device=device))
        row = {"epoch": len(log_rows) + 1, "mse": stats["mse"] / stats["n"], "kl": stats["kl"] / stats["n"],
               "eval_mse": float(torch.mean((out.cpu() - torch.tensor(y_eval)) ** 2))}
        row["total"] = row["mse"] + cfg.kl_weight * row["kl"]
        if gates:
            row["gates"] = [float(g.mean()) for g in gates]
        log_rows.append(row)
        stats.update(mse=0.0, kl=0.0, n=0)
        return {"eval_mse": row["eval_mse"]}

    start = time.perf_counter()
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    train.fit(model, data.tensor_loader(x_train, y_train, batch_size=BATCH, seed=seed), optimizer=optimizer,
              batch_loss=loss_fn, epochs=epochs, device=device, evaluate=evaluate, progress=False)
    seconds = time.perf_counter() - start
    return {
        "config": name, "seed": seed, "epochs": epochs, "kl_weight": cfg.kl_weight,
        "parameters": sum(p.numel() for p in model.parameters()),
        "eval_mse": log_rows[-1]["eval_mse"], "seconds": round(seconds, 1), "log": log_rows,
        "target_variance": float(np.var(y_eval)),
    }


class _Rounds:
    """A re-iterable that yields ``steps`` batches per pass from an endless run of ``loader``'s
    epochs, so that a model can be validated more often than once per pass over a large set."""

    def __init__(self, loader, steps: int) -> None:
        self.loader, self.steps, self._batches = loader, steps, None

    def __len__(self) -> int:
        return self.steps

    def __iter__(self):
        for _ in range(self.steps):
            batch = next(self._batches, None) if self._batches is not None else None
            if batch is None:
                self._batches = iter(self.loader)
                batch = next(self._batches)
            yield batch


@functools.lru_cache(maxsize=1)
def _curve_data() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    splits = {"train": (CURVE["max_train"], 0), "val": (CURVE["n_val"], 2), "test": (CURVE["n_test"], 1)}
    out = {}
    for name, (n, seed) in splits.items():
        x, y = data.reverb_regression(n, LENGTH, D, seed=seed)
        out[name] = (torch.from_numpy(x), torch.from_numpy(y))
    return out


def _mse(model: nn.Module, x: torch.Tensor, y: torch.Tensor, device, chunk: int = 250) -> float:
    with torch.no_grad():
        total = 0.0
        for i in range(0, len(y), chunk):
            out = model(x[i:i + chunk].to(device))[0].cpu()
            total += float(torch.sum((out - y[i:i + chunk]) ** 2))
    return total / len(y)


def curve_run(name: str, n_train: int, seed: int, kl_weight: float | None = None,
              weight_decay: float = CURVE["weight_decay"], lr: float = LR, device: torch.device | str = "cpu") -> dict:
    """One point of the learning curve: configuration ``name`` (a key of :data:`CONFIGS`) trained
    on the first ``n_train`` training sequences with ``seed``; returns its measurements.

    Training: AdamW at ``lr`` (the ablation's 1e-3 by default), batch 32, ``weight_decay`` on the
    weight matrices (not on biases, norms or positions), loss MSE + ``kl_weight``·KL (``None``: the configuration's α; the
    baselines have no KL). Every round of ``min(steps per epoch, 125)`` steps the validation MSE
    is measured; training stops after ``CURVE["patience"]`` rounds without a new best, or at
    ``CURVE["max_steps"]``, and the best round's weights are kept. The record holds the test
    MSE and the clean training MSE (on at most 2,000 training sequences) of those weights, and
    the per-round log. One CPU thread, like :func:`run`.
    """
    name = check_choice("name", name, CONFIGS)
    n_train = check_int("n_train", n_train, BATCH, maximum=CURVE["max_train"])
    seed = check_int("seed", seed, 0, maximum=2**31 - 1)
    cfg = CONFIGS[name]
    if kl_weight is None:
        kl_weight = cfg.kl_weight
    kl_weight = check_real("kl_weight", kl_weight, 0.0)
    if kl_weight and cfg.model != "reverbnet":
        raise ValueError(f"{name!r} has no KL term; kl_weight must be 0 or None for it, got {kl_weight}")
    weight_decay = check_real("weight_decay", weight_decay, 0.0)
    lr = check_real("lr", lr, 0.0, 1.0, low_open=True)
    device = check_device("device", device)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _curve_run(name, n_train, seed, kl_weight, weight_decay, lr, device)
    finally:
        torch.set_num_threads(threads)


def _curve_run(name: str, n_train: int, seed: int, kl_weight: float, weight_decay: float, lr: float, device: torch.device) -> dict:
    splits = _curve_data()
    x_train, y_train = (t[:n_train] for t in splits["train"])
    runtime.seed_everything(seed)
    model = build(name).to(device)
    decay = [p for p in model.parameters() if p.ndim >= 2 and p.requires_grad]
    rest = [p for p in model.parameters() if p.ndim < 2 and p.requires_grad]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}], lr=lr)
    loader = data.tensor_loader(x_train, y_train, batch_size=BATCH, seed=seed)
    round_steps = min(len(loader), CURVE["round_steps"])
    rounds = _Rounds(loader, round_steps)
    stats = {"mse": 0.0, "n": 0}
    loss_fn = _loss(stats, kl_weight)
    log: list[dict] = []

    def evaluate(m: nn.Module) -> dict[str, float]:  # called once before training (round 0), then every round
        val = _mse(m, *splits["val"], device)
        log.append({"round": len(log), "steps": len(log) * round_steps,
                    "train_mse": stats["mse"] / stats["n"] if stats["n"] else None, "val_mse": val})
        stats.update(mse=0.0, n=0)
        return {"val_mse": val}

    start = time.perf_counter()
    history = train.fit(model, rounds, optimizer=optimizer, batch_loss=loss_fn, epochs=CURVE["max_steps"] // round_steps,
                        device=device, evaluate=evaluate, keep_best="val_mse", patience=CURVE["patience"], progress=False)
    seconds = time.perf_counter() - start
    best = log[history.best_epoch]  # log[0] is the untrained model
    return {
        "config": name, "n_train": n_train, "seed": seed, "kl_weight": kl_weight, "weight_decay": weight_decay, "lr": lr,
        "parameters": sum(p.numel() for p in model.parameters()), "round_steps": round_steps,
        "rounds": len(log) - 1, "best_round": history.best_epoch, "best_steps": best["steps"],
        "val_mse": best["val_mse"], "test_mse": _mse(model, *splits["test"], device),
        "clean_train_mse": _mse(model, x_train[:2000], y_train[:2000], device),
        "test_variance": float(splits["test"][1].var(unbiased=False)), "seconds": round(seconds, 1), "log": log,
    }


def load_curve(path: str | Path | None = None) -> dict:
    """The stored learning curve and KL sweep: ``{"command": ..., "runs": [record of
    :func:`curve_run`, ...]}``. By default the file shipped inside the package."""
    return _stored.load(CURVE_RESULTS, path, "a learning-curve file")


def load_results(path: str | Path | None = None) -> dict:
    """The stored ablation: ``{"command": ..., "runs": [record of :func:`run`, ...]}``.

    By default the file shipped inside the package; ``path`` reads another one.
    """
    return _stored.load(RESULTS, path, "an ablation file")

