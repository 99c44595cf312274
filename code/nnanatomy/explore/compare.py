"""``compare``: train several architectures on one task with one budget, and tabulate what each
costs and achieves — parameters, FLOPs, training memory, wall time, the final metric — with their
learning curves."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from .. import runtime, train
from .._checks import check_device, check_int, check_real
from ..data._checks import check_seed
from .formatting import format_bytes, format_count
from .summary import summary

__all__ = ["Comparison", "ComparisonEntry", "compare"]


@dataclass
class ComparisonEntry:
    name: str
    parameters: int
    flops: int  # forward FLOPs on the example input (per example when it is a batch of one)
    training_memory: int  # bytes with Adam at the training batch: parameters, gradients, two moments, activations
    seconds: float
    metric: float
    history: train.History
    model: nn.Module | None = field(default=None, repr=False, compare=False)  # the trained model


@dataclass
class Comparison:
    metric_name: str
    entries: list[ComparisonEntry]

    def table(self) -> str:
        head = (f"{'model':16s} {'parameters':>11s} {'FLOPs/example':>13s} {'train memory':>13s} {'time':>8s} "
                f"{self.metric_name:>16s}")
        rows = [
            f"{e.name:16s} {format_count(e.parameters):>11s} {format_count(e.flops, compact=True):>13s} "
            f"{format_bytes(e.training_memory):>13s} {e.seconds:7.1f}s {e.metric:16.4f}"
            for e in self.entries
        ]
        return "\n".join([head, *rows])

    def __str__(self) -> str:
        return self.table()

    __repr__ = __str__

    def plot(self, ax: plt.Axes | None = None, title: str = "Learning curves") -> plt.Axes:
        if not isinstance(title, str):
            raise TypeError(f"title must be a str, got {type(title).__name__}")
        if ax is None:
            _, ax = plt.subplots()
        elif not isinstance(ax, plt.Axes):
            raise TypeError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
        for e in self.entries:
            ax.plot(e.history.eval_epoch, e.history.metrics[self.metric_name], marker="o", markersize=3, label=e.name)
        ax.set(title=title, xlabel="epoch", ylabel=self.metric_name)
        ax.legend()
        return ax


def _first_batch(train_data: Any) -> Any:
    """A training batch to measure memory on, taken without drawing from the loader's random
    order (which would change the training run): the first ``batch_size`` samples of a
    ``DataLoader``'s dataset, or the first element of a list; ``None`` for other iterables."""
    from torch.utils.data import DataLoader

    if isinstance(train_data, DataLoader):
        if train_data.batch_size is None or not hasattr(train_data.dataset, "__len__"):
            return None
        n = min(train_data.batch_size, len(train_data.dataset))
        return train_data.collate_fn([train_data.dataset[i] for i in range(n)])
    if isinstance(train_data, (list, tuple)) and train_data:
        return train_data[0]
    return None


def compare(
    builders: Mapping[str, Callable[[], nn.Module]],
    train_data: Iterable[Any],
    example_inputs: tuple[Any, ...],
    evaluate: Callable[[nn.Module], Mapping[str, float]],
    metric: str,
    *,
    loss_fn: Callable | None = None,
    batch_loss: Callable | None = None,
    epochs: int = 5,
    lr: float = 1e-3,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> Comparison:
    """Build, measure and train every model with the same data, optimiser (Adam, ``lr``),
    epochs and seed; ``evaluate(model)`` must return ``metric`` among its entries. The global
    random state (torch, NumPy, ``random``) is the same afterwards as before.

    FLOPs are counted on ``example_inputs`` (give a batch of one for FLOPs per example). The
    training memory (Adam: parameters, gradients, two moments, activations) is counted on the
    first training batch when ``train_data`` yields ``(inputs, targets)`` pairs of tensors, and
    on ``example_inputs`` otherwise (for data that is one batch, such as a whole graph). Every
    entry keeps its trained model (``entry.model``)."""
    if not isinstance(builders, Mapping) or not builders:
        raise TypeError("builders must be a non-empty mapping of name → function returning a model")
    if not all(callable(b) for b in builders.values()):
        raise TypeError("every builder must be a function that returns a new model")
    if not callable(evaluate):
        raise TypeError(f"evaluate must be callable as evaluate(model) -> {{metric: value}}, got {type(evaluate).__name__}")
    if not isinstance(metric, str):
        raise TypeError(f"metric must be the name (str) of one of evaluate's entries, got {type(metric).__name__}")
    if not isinstance(example_inputs, tuple) or not example_inputs:
        raise TypeError(f"example_inputs must be a non-empty tuple of the model's inputs, got {type(example_inputs).__name__}")
    lr = check_real("lr", lr, 0.0, low_open=True)
    epochs = check_int("epochs", epochs, 1, maximum=100_000)
    check_seed(seed)
    device = runtime.get_device() if device is None else check_device("device", device)
    first = _first_batch(train_data)
    training_inputs = (first[0],) if isinstance(first, (tuple, list)) and first and isinstance(first[0], torch.Tensor) else None
    entries = []
    saved = torch.random.get_rng_state(), np.random.get_state(), random.getstate()
    saved_cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    try:
        for name, build in builders.items():
            entries.append(_compare_one(name, build, seed, example_inputs, training_inputs, train_data, loss_fn,
                                        batch_loss, epochs, lr, device, evaluate, metric))
    finally:  # every contestant is seeded; the reader's random state is given back
        torch.random.set_rng_state(saved[0])
        np.random.set_state(saved[1])
        random.setstate(saved[2])
        if saved_cuda is not None:
            torch.cuda.set_rng_state_all(saved_cuda)
    return Comparison(metric, entries)


def _compare_one(name, build, seed, example_inputs, training_inputs, train_data, loss_fn, batch_loss, epochs, lr,
                 device, evaluate, metric) -> ComparisonEntry:
    """Build, count and train one contestant, seeded like every other."""
    runtime.seed_everything(seed)
    model = build()
    if not isinstance(model, nn.Module):
        raise TypeError(f"builder {name!r} must return an nn.Module, got {type(model).__name__}")
    anatomy = summary(model, *example_inputs, device=device)
    at_batch = anatomy if training_inputs is None else summary(model, *training_inputs, device=device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = train.fit(model, train_data, optimizer=optimizer, loss_fn=loss_fn, batch_loss=batch_loss, epochs=epochs,
                        device=device, evaluate=evaluate, progress=False)
    if metric not in history.metrics:
        raise ValueError(f"evaluate() returned {sorted(history.metrics)}, not the metric {metric!r}")
    return ComparisonEntry(name, anatomy.total_params, anatomy.total_flops, at_batch.training_memory("adam")["total"],
                           history.total_seconds, history.metrics[metric][-1], history, model)
