"""Appendix A3's experiments: the three tournaments over seeds, the CNN against the ViT as the
training set grows, gradients through time, and dense against edge-list message passing.

* :func:`images`, :func:`sequences`, :func:`graphs` — the appendix's three tournaments, each one
  call of ``explore.compare`` with the appendix's recipe (:data:`RECIPE`). ``seed`` sets every
  contestant's initialisation and the batch order; the data are the same for every seed (the
  digits' split of seed 0, the adding problem's training set of seed 0 and test set of seed 1,
  the stochastic block model of seed 0).
* :func:`data_size_run` — the CNN or the ViT trained on the first ``size`` images of a fixed
  shuffle of the training split, for the same number of steps whatever the size.
* :func:`gradient_through_time` — how strongly a sequence model's output depends on each input
  step, ``‖∂ŷ/∂x_t‖``.
* :func:`message_passing_cost` — one training step of a two-layer GCN with the dense ``N × N``
  adjacency and with an edge list, timed and its memory measured, on a block-model graph of
  ``N`` nodes and a fixed mean degree.

``tools/lab_sweep.py`` runs the tournaments and the data-size sweep for three seeds and stores
them (:func:`load_results`); the appendix reads the file and repeats seed 0 live.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .. import data, runtime
from . import _stored
from .._checks import check_choice, check_device, check_int, check_module

__all__ = ["RECIPE", "RESULTS", "TOURNAMENTS", "data_size_run", "gradient_through_time", "graphs", "images",
           "load_results", "message_passing_cost", "run", "sequences"]

#: The appendix's recipe (its CPU scale): epochs, Adam's learning rate, batch and sizes per tournament.
RECIPE = {
    "images": {"epochs": 15, "lr": 2e-3, "batch_size": 64},
    "sequences": {"epochs": 15, "lr": 3e-3, "batch_size": 64, "length": 50, "hidden": 48, "train": 2000, "test": 500},
    "graphs": {"epochs": 100, "lr": 1e-2, "hidden": 32},
    "data_size": {"sizes": (100, 200, 400, 800, 1347), "steps": 1500, "lr": 2e-3, "batch_size": 64, "evaluations": 5},
}
TOURNAMENTS = ("images", "sequences", "graphs")

#: Where ``tools/lab_sweep.py`` stores its runs (shipped with the package, for Colab).
RESULTS = "results/lab_sweep.json"


def images(seed: int = 0, epochs: int = RECIPE["images"]["epochs"], device: torch.device | str = "cpu"):
    """The CNN of chapter 02 against a ViT on the 8 × 8 digits: test accuracy."""
    from .. import explore, models
    from ..models.lab import ViTClassifier

    seed, epochs, device = _check_common(seed, epochs, device)
    r = RECIPE["images"]
    split = data.digits()
    x_test, y_test = torch.tensor(split.x_test, device=device), split.y_test

    def accuracy(model):
        return {"test accuracy": float((model(x_test).argmax(1).cpu().numpy() == y_test).mean())}

    contestants = {"CNN (ch. 02)": lambda: models.CNNClassifier(models.CNNConfig()), "ViT": lambda: ViTClassifier()}
    loader = data.tensor_loader(split.x_train, split.y_train, batch_size=r["batch_size"], seed=seed)
    return explore.compare(contestants, loader, (torch.zeros(1, 1, 8, 8),),  # FLOPs per example; memory at the training batch
                           accuracy, "test accuracy", loss_fn=F.cross_entropy, epochs=epochs, lr=r["lr"], seed=seed, device=device)


def sequences(seed: int = 0, epochs: int = RECIPE["sequences"]["epochs"], length: int = RECIPE["sequences"]["length"],
              device: torch.device | str = "cpu"):
    """An RNN, an LSTM, a GRU and a Transformer on the adding problem of ``length`` steps: test MSE."""
    from .. import explore
    from ..models.lab import SequenceRegressor

    seed, epochs, device = _check_common(seed, epochs, device)
    length = check_int("length", length, 2, maximum=10_000)
    r = RECIPE["sequences"]
    x, y = data.adding_problem(r["train"], length, seed=0)
    x_test, y_test = (torch.tensor(a, device=device) for a in data.adding_problem(r["test"], length, seed=1))

    def test_mse(model):
        return {"test MSE": float(F.mse_loss(model(x_test), y_test))}

    contestants = {kind: (lambda kind=kind: SequenceRegressor(kind, hidden=r["hidden"], max_len=length))
                   for kind in SequenceRegressor.KINDS}
    loader = data.tensor_loader(x, y, batch_size=r["batch_size"], seed=seed)
    return explore.compare(contestants, loader, (torch.zeros(1, length, 2),), test_mse, "test MSE", loss_fn=F.mse_loss,
                           epochs=epochs, lr=r["lr"], seed=seed, device=device)


def graphs(seed: int = 0, epochs: int = RECIPE["graphs"]["epochs"], device: torch.device | str = "cpu"):
    """An MLP that ignores the edges against GCN, GAT and GraphSAGE on the stochastic block
    model (180 nodes, 15 labelled): test accuracy on the unlabelled nodes. One batch: the graph."""
    from .. import explore
    from ..models.lab import GNN, NodeMLP

    seed, epochs, device = _check_common(seed, epochs, device)
    r = RECIPE["graphs"]
    graph = data.sbm_graph(seed=0)
    X, A = torch.tensor(graph.features, device=device), torch.tensor(graph.adjacency, device=device)
    Y = torch.tensor(graph.labels, device=device)
    train_mask, test_mask = torch.tensor(graph.train_mask, device=device), torch.tensor(graph.test_mask, device=device)
    features, classes = X.shape[1], int(Y.max()) + 1

    def node_loss(model, _):
        return F.cross_entropy(model(X, A)[train_mask], Y[train_mask])

    def node_accuracy(model):
        return {"test accuracy": float((model(X, A).argmax(1)[test_mask] == Y[test_mask]).float().mean())}

    contestants = {"MLP (no edges)": lambda: NodeMLP(features, r["hidden"], classes)}
    contestants.update({kind.upper(): (lambda kind=kind: GNN(kind, features, r["hidden"], classes)) for kind in ("gcn", "gat", "sage")})
    return explore.compare(contestants, [None], (X, A), node_accuracy, "test accuracy", batch_loss=node_loss,
                           epochs=epochs, lr=r["lr"], seed=seed, device=device)


def _check_common(seed: object, epochs: object, device: object) -> tuple[int, int, torch.device]:
    return (check_int("seed", seed, 0, maximum=2**32 - 1), check_int("epochs", epochs, 1, maximum=100_000),
            check_device("device", device))


def run(tournament: str, seed: int) -> dict:
    """One tournament at the recipe's scale on the CPU, as plain numbers: per contestant its
    parameters, FLOPs per example, final metric and metric after every epoch."""
    tournament = check_choice("tournament", tournament, TOURNAMENTS)
    comparison = {"images": images, "sequences": sequences, "graphs": graphs}[tournament](seed=seed)
    return {"tournament": tournament, "seed": seed, "metric": comparison.metric_name,
            "entries": [{"name": e.name, "parameters": e.parameters, "flops": e.flops, "metric": e.metric,
                         "curve": [float(v) for v in e.history.metrics[comparison.metric_name]],
                         "seconds": round(e.seconds, 2)} for e in comparison.entries]}


def data_size_run(model: str, size: int, seed: int, steps: int = RECIPE["data_size"]["steps"]) -> dict:
    """Train ``model`` (``"cnn"`` or ``"vit"``) on the first ``size`` images of a fixed shuffle of
    the digits' training split (so a smaller set is part of every larger one) for ``steps`` Adam
    steps of batches drawn with replacement, on the CPU; return its training and test accuracy at
    the end and the test accuracy at every fifth of the steps (``curve``: ``[step, accuracy]``).

    The step count is the same for every size: a small set is seen for many more epochs, so that
    no size loses for want of updates. The default, 1,500, is about 71 epochs of the whole split
    (the ViT is still improving at 630)."""
    from .. import models
    from ..models.lab import ViTClassifier

    model = check_choice("model", model, ("cnn", "vit"))
    split = data.digits()
    size = check_int("size", size, 10, maximum=len(split.y_train))
    seed = check_int("seed", seed, 0, maximum=2**32 - 1)
    steps = check_int("steps", steps, 1, maximum=1_000_000)
    r = RECIPE["data_size"]
    order = np.random.default_rng(0).permutation(len(split.y_train))[:size]
    x, y = torch.tensor(split.x_train[order]), torch.tensor(split.y_train[order])
    runtime.seed_everything(seed)
    net = models.CNNClassifier(models.CNNConfig()) if model == "cnn" else ViTClassifier()
    optimizer = torch.optim.Adam(net.parameters(), lr=r["lr"])
    batches = torch.Generator().manual_seed(seed)
    x_test = torch.tensor(split.x_test)

    def test_accuracy() -> float:
        net.eval()
        with torch.no_grad():
            accuracy = float((net(x_test).argmax(1).numpy() == split.y_test).mean())
        net.train()
        return accuracy

    every = max(steps // r["evaluations"], 1)
    curve = []
    start = time.perf_counter()
    net.train()
    for step in range(1, steps + 1):
        idx = torch.randint(0, size, (r["batch_size"],), generator=batches)
        loss = F.cross_entropy(net(x[idx]), y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % every == 0 or step == steps:
            curve.append([step, test_accuracy()])
    seconds = time.perf_counter() - start
    net.eval()
    with torch.no_grad():
        train_accuracy = float((net(x).argmax(1) == y).float().mean())
    return {"model": model, "size": size, "seed": seed, "steps": steps, "train_accuracy": train_accuracy,
            "test_accuracy": curve[-1][1], "curve": curve, "seconds": round(seconds, 2)}


def gradient_through_time(model: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    """``‖∂ŷ/∂x_t‖`` for every step ``t``, averaged over the batch: how much the output of a
    sequence model (``(B, T, F)`` → ``(B,)``) moves with each input step. For a recurrent
    model read out at its last state, the gradient from step ``t`` has passed through ``T − t``
    applications of the recurrence. The model's parameters get no gradient and its train/eval
    mode is kept."""
    model = check_module("model", model)
    if not isinstance(x, torch.Tensor) or x.ndim != 3 or not x.is_floating_point():
        raise ValueError(f"x must be a float tensor (batch, time, features), got "
                         f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
    if x.numel() == 0:
        raise ValueError(f"x must hold at least one sequence of at least one step, got shape {tuple(x.shape)}")
    x = x.detach().clone().requires_grad_(True)
    y = model(x)
    if not isinstance(y, torch.Tensor) or y.shape != x.shape[:1]:
        raise ValueError(f"model must map (B, T, F) to (B,), got output of shape {getattr(y, 'shape', None)}")
    (grad,) = torch.autograd.grad(y.sum(), x)  # row b of ŷ depends on x[b] only: the sum separates them
    return grad.norm(dim=2).mean(dim=0).cpu().numpy().astype(np.float64)


def message_passing_cost(nodes: int, degree: float = 6.0, repeats: int = 5, seed: int = 0) -> dict:
    """One training step (forward and backward) of a two-layer GCN (16 → 32 → 4) on a
    stochastic block model of ``nodes`` nodes in four blocks with mean degree about ``degree``,
    once with the dense adjacency (``Â`` an ``N × N`` matrix) and once with an edge list (message
    passing along the edges): the faster of ``repeats`` timed steps (seconds, one thread) and the
    measured peak memory of the step (bytes, ``explore.memory`` with no optimiser). Both give the
    same output (to float32 rounding; the largest difference is returned)."""
    from .. import explore
    from ..models.lab import GNN, edge_list

    nodes = check_int("nodes", nodes, 40, maximum=20_000)
    repeats = check_int("repeats", repeats, 1, maximum=1000)
    if isinstance(degree, bool) or not isinstance(degree, (int, float)) or not 1 <= degree <= nodes / 8:
        raise ValueError(f"degree must be a number in [1, nodes / 8], got {degree!r}")
    per_block = nodes // 4
    # three quarters of a node's edges inside its block, a quarter to the three other blocks
    graph = data.sbm_graph(blocks=4, nodes_per_block=per_block, p_in=0.75 * degree / per_block,
                           p_out=0.25 * degree / (3 * per_block), seed=seed)
    x, adj = torch.tensor(graph.features), torch.tensor(graph.adjacency)
    edges = edge_list(adj)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out, record = {}, {"nodes": 4 * per_block, "edges": int(edges.shape[1]) // 2}
        for name, a in (("dense", adj), ("edges", edges)):
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                model = GNN("gcn", x.shape[1], 32, 4)
            times = []
            for _ in range(repeats + 1):  # the first step warms up and is not counted
                start = time.perf_counter()
                model.zero_grad()
                result = model(x, a)
                result.sum().backward()
                times.append(time.perf_counter() - start)
            out[name] = result.detach()
            report = explore.memory(model, x, a, optimizer=None, device="cpu")
            record[f"{name}_seconds"] = min(times[1:])
            record[f"{name}_peak"] = int(report.measured_peak)
        record["difference"] = float((out["dense"] - out["edges"]).abs().max())
        return record
    finally:
        torch.set_num_threads(threads)


def load_results(path: str | Path | None = None) -> dict:
    """The stored sweep: ``{"command": ..., "runs": [...]}``, records of :func:`run` (with a
    ``tournament`` key) and of :func:`data_size_run` (with a ``model`` key). By default the file
    shipped inside the package; ``path`` reads another one."""
    return _stored.load(RESULTS, path, "a lab sweep file")
