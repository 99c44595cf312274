"""Chapter 11's experiments: how the condition enters a DiT, and how big its patches are.

The arms (:data:`ARMS`) change one thing each against the chapter's DiT (adaLN-Zero, patch 2,
width 64, 4 blocks, 4 heads, on the 8 × 8 digits):

* the paper's four ways of conditioning (Peebles & Xie, 2023, section 3.2) — **adaLN-Zero**,
  **adaLN** (the same modulation, default-initialised), **in-context** (t and y as two more
  tokens) and **cross-attention** (t and y as a length-two sequence every block attends to) —
  and the source notes' **add** (the condition added to every token once);
* the patch size — **patch-1** (64 tokens) and **patch-4** (4 tokens) beside adaLN-Zero's 2
  (16 tokens): the paper's central result is that sample quality follows the forward pass's
  compute, and a smaller patch buys compute without parameters.

``run(arm, seed, steps=)`` trains one arm with the chapter's recipe (:data:`RECIPE`: AdamW at
1e-3 with a constant rate, batch 128, ε-prediction, every label given), measures the held-out
ε-prediction MSE at ten points of training (the held-out digits, steps and noise fixed by the
chapter's seed 123), and with ``judge=True`` samples 200 digits, 20 of each class (50 strided
DDIM steps, no guidance), and judges them with the chapter's digit judge: agreement with the
requested class, confident share, and the Fréchet distance to the held-out digits in the judge's
features. ``tools/dit_sweep.py`` runs every arm for three seeds and stores the results
(``load_results``); the chapter reads them and repeats seed 0 of two arms live.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

import numpy as np
import torch

from .. import data, judge, runtime
from . import _stored
from .._checks import check_bool, check_choice, check_device, check_int
from ..models.diffusion import NoiseSchedule, ddim_sample, diffusion_loss
from ..models.dit import DiT, DiTConfig

__all__ = ["ARMS", "RECIPE", "RESULTS", "heldout_mse", "load_results", "make_config", "run"]

#: The chapter's CPU recipe for the ablation (its ``CONFIG["cpu"]``), and how samples are judged.
RECIPE = {"steps": 250, "batch_size": 128, "lr": 1e-3, "evaluations": 10, "eval_seed": 123, "samples": 200,
          "sample_steps": 50}

#: The arms: the DiT's conditioning and patch size (everything else is ``DiTConfig()``'s).
ARMS = {
    "adaln-zero": {"conditioning": "adaln-zero", "patch": 2},
    "adaln": {"conditioning": "adaln", "patch": 2},
    "in-context": {"conditioning": "in-context", "patch": 2},
    "cross-attention": {"conditioning": "cross-attention", "patch": 2},
    "add": {"conditioning": "add", "patch": 2},
    "patch-1": {"conditioning": "adaln-zero", "patch": 1},
    "patch-4": {"conditioning": "adaln-zero", "patch": 4},
}

#: Where ``tools/dit_sweep.py`` stores the sweep (shipped with the package, for Colab).
RESULTS = "results/dit_sweep.json"


def _check_arm(arm: object) -> str:
    return check_choice("arm", arm, ARMS)


def make_config(arm: str) -> DiTConfig:
    """The DiT of one arm."""
    return DiTConfig(**ARMS[_check_arm(arm)])


@functools.lru_cache(maxsize=1)
def _digits() -> dict:
    split = data.digits(seed=0)
    x0_test = torch.tensor(split.x_test * 2 - 1)
    gen = torch.Generator().manual_seed(RECIPE["eval_seed"])
    t_eval = torch.randint(0, 1000, (len(x0_test),), generator=gen)
    noise_eval = torch.randn(x0_test.shape, generator=gen)
    schedule = NoiseSchedule.linear(1000)
    return {"x0_train": torch.tensor(split.x_train * 2 - 1), "y_train": torch.tensor(split.y_train),
            "x0_test": x0_test, "y_test": torch.tensor(split.y_test), "schedule": schedule,
            "t_eval": t_eval, "noise_eval": noise_eval, "x_eval": schedule.q_sample(x0_test, t_eval, noise_eval)}


@torch.no_grad()
def heldout_mse(model: DiT) -> float:
    """ε-prediction MSE of ``model`` on the held-out digits, at the steps and noise of the
    chapter's seed 123 (the same for every arm and run); the model is left in eval mode."""
    if not isinstance(model, DiT):
        raise TypeError(f"model must be a DiT, got {type(model).__name__}")
    d = _digits()
    device = next(model.parameters()).device
    model.eval()
    out = model(d["x_eval"].to(device), d["t_eval"].to(device), d["y_test"].to(device)).cpu()
    return float((out - d["noise_eval"]).pow(2).mean())


@functools.lru_cache(maxsize=2)
def _judge(device: str) -> tuple:
    model, _ = judge.train_digit_judge(seed=0, device=device)
    d = _digits()
    real = judge.embed(model, d["x0_test"])
    return model, real


def _judge_samples(model: DiT, seed: int, device: torch.device) -> dict:
    n = RECIPE["samples"]
    requested = np.repeat(np.arange(10), n // 10)
    start = time.perf_counter()
    x = ddim_sample(model, _digits()["schedule"], (n, 1, 8, 8), RECIPE["sample_steps"],
                    conditioning=dict(y=torch.tensor(requested, device=device)),
                    generator=torch.Generator().manual_seed(seed), device=device)
    seconds = time.perf_counter() - start
    judge_model, real = _judge(str(device))
    report = judge.judge_samples(judge_model, x)
    return {"agreement": round(report.agreement(requested), 5), "confident": round(report.confident_fraction, 5),
            "digits_present": report.classes_present,
            "fd": round(judge.frechet_distance(judge.embed(judge_model, x), real), 4),
            "sample_seconds": round(seconds, 2)}


def run(arm: str, seed: int, steps: int = RECIPE["steps"], *, judge: bool = False,
        device: torch.device | str = "cpu", return_model: bool = False) -> dict | tuple[dict, DiT]:
    """Train one arm from ``seed`` (the initialisation, the batches, the diffusion steps and
    noise) for ``steps`` and return its record: the parameters, the multiply–accumulates of one
    forward pass per image and the tokens, the held-out MSE at every tenth of the steps
    (``curve``: ``[step, mse]`` pairs) and at the end, the training seconds, and with ``judge``
    the judged samples (``agreement``, ``confident``, ``digits_present``, ``fd``).
    ``return_model`` also returns the trained DiT (eval mode)."""
    from .. import explore

    arm = _check_arm(arm)
    seed = check_int("seed", seed, 0, maximum=2**32 - 1)
    steps = check_int("steps", steps, RECIPE["evaluations"], maximum=1_000_000)
    judge_samples = check_bool("judge", judge)
    return_model = check_bool("return_model", return_model)
    device = check_device("device", device)
    d = _digits()
    every = steps // RECIPE["evaluations"]
    runtime.seed_everything(seed)
    config = make_config(arm)
    model = DiT(config).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=RECIPE["lr"], weight_decay=0.0)
    batches = torch.Generator().manual_seed(seed)
    x0_train, y_train = d["x0_train"], d["y_train"]
    curve = []
    start = time.perf_counter()
    for step in range(1, steps + 1):
        model.train()
        idx = torch.randint(0, len(x0_train), (RECIPE["batch_size"],), generator=batches)
        loss = diffusion_loss(model, x0_train[idx].to(device), d["schedule"], y=y_train[idx].to(device))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % every == 0:
            curve.append([step, round(heldout_mse(model), 6)])
    seconds = time.perf_counter() - start
    model.eval()
    one = (torch.zeros(1, 1, 8, 8, device=device), torch.zeros(1, dtype=torch.long, device=device),
           torch.zeros(1, dtype=torch.long, device=device))
    record = {"arm": arm, "seed": seed, "steps": steps, "conditioning": config.conditioning, "patch": config.patch,
              "tokens": (config.image_size // config.patch) ** 2, "parameters": model.num_parameters(),
              "macs": explore.summary(model, *one).total_macs, "curve": curve, "final_mse": curve[-1][1],
              "seconds": round(seconds, 1), "judge": judge_samples}
    if judge_samples:
        record.update(_judge_samples(model, seed, device))
    return (record, model) if return_model else record


def load_results(path: str | Path | None = None) -> dict:
    """The stored sweep: ``{"command": ..., "runs": [record of :func:`run`, ...]}``.

    By default the file shipped inside the package; ``path`` reads another one.
    """
    return _stored.load(RESULTS, path, "a sweep file")
