"""Chapter 04's experiment: recurrent cells on the adding problem, over several seeds.

``run(cell, seed, forget_bias=...)`` trains one :class:`~nnanatomy.models.SequenceRegressor`
with the chapter's recipe (sequences of 50 steps, 8,000 training sequences, batch 64, Adam 3e-3,
gradient clipping at 1, 12 epochs) and records the test MSE after every epoch;
``tools/adding_sweep.py`` runs the RNN, the GRU and the LSTM at three forget-gate biases for
three seeds and stores the results (``load_results``). The chapter plots them and re-runs one
configuration live.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import data, train
from . import _stored
from .._checks import check_int
from ..models.rnn import SequenceRegressor, SequenceRegressorConfig

__all__ = ["RECIPE", "RESULTS", "SIZES", "SOLVED", "load_results", "run"]

#: The chapter's CPU recipe.
RECIPE = {"length": 50, "n_train": 8000, "n_test": 2000, "epochs": 12, "batch_size": 64, "lr": 3e-3, "clip": 1.0}
#: Hidden sizes that give the three cells about the same parameter count (about 17,000).
SIZES = {"rnn": 128, "lstm": 64, "gru": 72}
#: A run "solves" the task once its test MSE is below this (the always-1 baseline scores 0.17).
SOLVED = 0.01
#: Where ``tools/adding_sweep.py`` stores the sweep (shipped with the package, for Colab).
RESULTS = "results/adding_sweep.json"


def run(cell: str, seed: int, *, forget_bias: float | None = None, device: torch.device | str = "cpu") -> dict:
    """Train one model on the adding problem and return its record: the test MSE after every
    epoch, the first optimiser step count at which it was below :data:`SOLVED` (``None``: never),
    the final test MSE and the wall time."""
    if cell not in SIZES:
        raise ValueError(f"cell must be one of {sorted(SIZES)}, got {cell!r}")
    seed = check_int("seed", seed, 0)
    r = RECIPE
    x_train, y_train = data.adding_problem(r["n_train"], length=r["length"], seed=0)
    x_test, y_test = data.adding_problem(r["n_test"], length=r["length"], seed=1)
    torch.manual_seed(seed)
    model = SequenceRegressor(SequenceRegressorConfig(input_size=2, hidden_size=SIZES[cell], cell=cell, forget_bias=forget_bias))
    x_test_t, y_test_t = torch.tensor(x_test).to(device), torch.tensor(y_test).to(device)
    start = time.perf_counter()
    history = train.fit(model, data.tensor_loader(x_train, y_train, batch_size=r["batch_size"], seed=seed),
                        optimizer=torch.optim.Adam(model.parameters(), lr=r["lr"]), loss_fn=nn.MSELoss(), epochs=r["epochs"],
                        device=device, clip_grad_norm=r["clip"], progress=False,
                        evaluate=lambda m: {"test MSE": nn.functional.mse_loss(m(x_test_t), y_test_t).item()})
    seconds = time.perf_counter() - start
    test_mse = [float(v) for v in history.metrics["test MSE"]]
    steps_per_epoch = int(np.ceil(r["n_train"] / r["batch_size"]))
    solved = next((i + 1 for i, v in enumerate(test_mse) if v < SOLVED), None)
    return {"cell": cell, "seed": seed, "forget_bias": forget_bias, "hidden": SIZES[cell],
            "parameters": model.num_parameters(), "test_mse": test_mse, "final_test_mse": test_mse[-1],
            "steps_to_solve": None if solved is None else solved * steps_per_epoch, "steps_per_epoch": steps_per_epoch,
            "seconds": round(seconds, 1)}


def load_results(path: str | Path | None = None) -> dict:
    """The stored sweep: ``{"command": ..., "runs": [record of :func:`run`, ...]}``.

    By default the file shipped inside the package; ``path`` reads another one.
    """
    return _stored.load(RESULTS, path, "a sweep file")

