"""Chapter 10's diagnosis of strong classifier-free guidance: the caption-conditioned U-Net
sampled with guidance weights up to 3 by the chapter's sampler and by its repairs, judged by the
digit classifier.

The arms (:data:`ARMS`) change one thing each against the chapter's sampler (50 strided DDIM
steps, x̂₀ clipped to [−1, 1], the network's ε̂ kept): no clipping; ε̂ re-derived from the
clipped x̂₀, so that each step stays consistent with x_t; Imagen's dynamic thresholding (with
re-derived ε̂); guidance only at low noise (t < 500) or only at high noise (t ≥ 500), as
Kynkäänniemi et al. (2024) limit it to an interval; and ancestral sampling, all 1,000 DDPM steps,
which never forms x̂₀. ``run(arm, guidance, seed)`` samples 200 digits, 20 per requested digit,
and returns how often the judge agrees with the caption. ``tools/guidance_sweep.py`` runs every
arm at :data:`WEIGHTS` for three sampling seeds and stores the results (``load_results``).
``trace`` follows one guided DDIM run step by step.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from .. import data, judge
from . import _stored
from .._checks import check_int, check_real
from ..models.diffusion import NoiseSchedule, ddim_sample, ddpm_sample, guided_eps

__all__ = ["ARMS", "RESULTS", "SAMPLES", "WEIGHTS", "load_results", "run", "sample", "setup", "trace"]

#: The guidance weights of the sweep.
WEIGHTS = (0.0, 0.3, 1.0, 3.0)
#: Samples per run: 20 of each digit.
SAMPLES = 200
#: The arms: the sampler and the keyword arguments that differ from the chapter's.
ARMS = {
    "clip": {"sampler": "ddim"},
    "no-clip": {"sampler": "ddim", "clip": None},
    "clip-rederive": {"sampler": "ddim", "rederive_eps": True},
    "dynamic": {"sampler": "ddim", "dynamic_threshold": 0.995, "rederive_eps": True},
    "low-noise": {"sampler": "ddim", "guidance_interval": (0, 500)},
    "high-noise": {"sampler": "ddim", "guidance_interval": (500, 1000)},
    "ancestral": {"sampler": "ddpm"},
}
#: Where ``tools/guidance_sweep.py`` stores the sweep (shipped with the package, for Colab).
RESULTS = "results/guidance_sweep.json"


def setup(device: torch.device | str = "cpu") -> dict:
    """What every run shares: the shipped caption-conditioned U-Net, the schedule, the digit
    judge (trained with seed 0, as in the chapter), the requested digits and their captions."""
    from ..models.pretrained import load_pretrained

    device = torch.device(device)
    model, info = load_pretrained("unet-text", device=device)
    judge_model, _ = judge.train_digit_judge(seed=0, device=device)
    requested = np.repeat(np.arange(10), SAMPLES // 10)
    ids, mask = data.digit_captions(requested, seed=5)
    null_ids, null_mask = data.null_captions(len(requested))
    return {"model": model, "info": info, "schedule": NoiseSchedule.linear(1000), "judge": judge_model,
            "requested": requested, "device": device,
            "caption": {"context": torch.tensor(ids, device=device), "context_mask": torch.tensor(mask, device=device)},
            "empty": {"context": torch.tensor(null_ids, device=device), "context_mask": torch.tensor(null_mask, device=device)}}


def _check_setup(shared: object) -> dict:
    if not isinstance(shared, dict) or not {"model", "schedule", "judge", "caption", "empty", "requested"} <= set(shared):
        raise TypeError("shared must be the dict returned by setup()")
    return shared


def sample(arm: str, guidance: float, seed: int, shared: dict) -> torch.Tensor:
    """The ``SAMPLES`` digits of one arm at one guidance weight, from the noise of ``seed``."""
    if not isinstance(arm, str) or arm not in ARMS:
        raise ValueError(f"arm must be one of {sorted(ARMS)}, got {arm!r}")
    guidance = check_real("guidance", guidance, 0.0)
    seed = check_int("seed", seed, 0)
    s = _check_setup(shared)
    options = {k: v for k, v in ARMS[arm].items() if k != "sampler"}
    common = dict(guidance=guidance, conditioning=s["caption"], null_conditioning=s["empty"],
                  generator=torch.Generator().manual_seed(seed), device=s["device"], **options)
    shape = (SAMPLES, 1, 8, 8)
    if ARMS[arm]["sampler"] == "ddpm":
        return ddpm_sample(s["model"], s["schedule"], shape, **common)[0]
    return ddim_sample(s["model"], s["schedule"], shape, 50, **common)


def run(arm: str, guidance: float, seed: int, *, shared: dict | None = None, device: torch.device | str = "cpu") -> dict:
    """Sample one arm at one guidance weight and judge it: the share of samples the judge
    classifies as the requested digit (``agreement``), the share it classifies with confidence
    ≥ 0.9, the digits present, the share of pixels outside [−1, 1], and the seconds.
    ``shared`` is :func:`setup`'s result (built here when None)."""
    shared = setup(device) if shared is None else _check_setup(shared)
    start = time.perf_counter()
    x = sample(arm, guidance, seed, shared)
    seconds = time.perf_counter() - start
    report = judge.judge_samples(shared["judge"], x)
    return {"arm": arm, "guidance": float(guidance), "seed": seed,
            "agreement": round(report.agreement(shared["requested"]), 5),
            "confident": round(report.confident_fraction, 5), "digits_present": report.classes_present,
            "out_of_range": round(float((x.abs() > 1.0001).float().mean()), 5), "seconds": round(seconds, 2)}


@torch.no_grad()
def trace(guidance: float, seed: int, shared: dict) -> dict:
    """The chapter's sampler (50 DDIM steps, x̂₀ clipped, ε̂ kept) followed step by step at one
    guidance weight: at every visited step t, the RMS of the guided ε̂ (1 for a well-calibrated
    noise estimate), the share of x̂₀'s pixels outside [−1, 1] before clipping, and the RMS of
    the part of x_t that the clipped x̂₀ and the kept ε̂ do not account for,
    ``x_t − √ᾱ_t·clip(x̂₀) − √(1−ᾱ_t)·ε̂`` (zero when nothing is clipped). Arrays over the steps."""
    guidance = check_real("guidance", guidance, 0.0)
    seed = check_int("seed", seed, 0)
    s = _check_setup(shared)
    schedule, device = s["schedule"], s["device"]
    visit = torch.linspace(schedule.steps - 1, 0, 50).round().long().tolist()
    x = torch.randn((SAMPLES, 1, 8, 8), generator=torch.Generator().manual_seed(seed)).to(device)
    out = {"t": [], "eps_rms": [], "outside": [], "unexplained_rms": []}
    for i, t in enumerate(visit):
        tt = torch.full((SAMPLES,), t, device=device, dtype=torch.long)
        eps = guided_eps(s["model"], x, tt, guidance, s["caption"], s["empty"])
        ab = float(schedule.alpha_bars[t])
        x0 = (x - (1 - ab) ** 0.5 * eps) / ab**0.5
        clipped = x0.clamp(-1, 1)
        out["t"].append(t)
        out["eps_rms"].append(float(eps.pow(2).mean().sqrt()))
        out["outside"].append(float((x0.abs() > 1).float().mean()))
        out["unexplained_rms"].append(float((x - ab**0.5 * clipped - (1 - ab) ** 0.5 * eps).pow(2).mean().sqrt()))
        if i + 1 < len(visit):
            ab_next = float(schedule.alpha_bars[visit[i + 1]])
            x = ab_next**0.5 * clipped + (1 - ab_next) ** 0.5 * eps
    return {k: np.array(v) for k, v in out.items()}


def load_results(path: str | Path | None = None) -> dict:
    """The stored sweep: ``{"command": ..., "runs": [record of :func:`run`, ...]}``.

    By default the file shipped inside the package; ``path`` reads another one.
    """
    return _stored.load(RESULTS, path, "a sweep file")
