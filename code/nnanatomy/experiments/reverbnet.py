"""Chapter 13's experiment: ReverberationNet and baselines of about its size on one regression
task, the source's training configuration (1,000 samples of (10, 64), 50 epochs, batch 32,
Adam lr 1e-3, loss MSE + α·KL).

``run(name, seed)`` trains one configuration and returns its measurements; the ablation script
``tools/reverbnet_ablation.py`` runs every configuration for several seeds and stores the results.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import data, runtime, train
from . import _stored
from .._checks import check_int
from ..models.reverbnet import ReverberationNet
from ..models.transformer import EncoderLayer, TransformerConfig

__all__ = ["CONFIGS", "RESULTS", "SequenceGRU", "SequenceMLP", "SequenceTransformer", "build", "load_results", "run"]

#: Where ``tools/reverbnet_ablation.py`` stores the ablation (shipped with the package, for Colab).
RESULTS = "results/reverbnet_ablation.json"

N_TRAIN, N_EVAL, LENGTH, D = 1000, 500, 10, 64
EPOCHS, BATCH, LR = 50, 32, 1e-3


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
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _run(name, seed, epochs, device)
    finally:
        torch.set_num_threads(threads)


def _run(name: str, seed: int, epochs: int, device: torch.device | str) -> dict:
    cfg = CONFIGS[name]
    x_train, y_train = data.reverb_regression(N_TRAIN, LENGTH, D, seed=0)
    x_eval, y_eval = data.reverb_regression(N_EVAL, LENGTH, D, seed=1)
    runtime.seed_everything(seed)
    model = build(name).to(device)
    log_rows: list[dict] = []

    def loss_fn(m: nn.Module, batch) -> torch.Tensor:
        x, y = batch
        out, kl, gates = m(x)
        mse = torch.mean((out - y) ** 2)
        stats["mse"] += float(mse.detach()) * len(y)
        stats["kl"] += float(kl.detach()) * len(y)
        stats["n"] += len(y)
        return mse + cfg.kl_weight * kl

    stats = {"mse": 0.0, "kl": 0.0, "n": 0}

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


def load_results(path: str | Path | None = None) -> dict:
    """The stored ablation: ``{"command": ..., "runs": [record of :func:`run`, ...]}``.

    By default the file shipped inside the package; ``path`` reads another one.
    """
    return _stored.load(RESULTS, path, "an ablation file")

