"""Checkers for the exercises of chapter 10 (diffusion)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..models.diffusion import NoiseSchedule
from ._report import AnswerTypeError, CheckResult, checker, not_answered, verdict

__all__ = ["check_alpha_bar", "check_guidance", "check_guided_agreement", "check_q_sample"]


@checker
def check_alpha_bar(answer: Any) -> CheckResult:
    """Exercise 1: ᾱ after all 1,000 steps of the linear schedule (β from 1e-4 to 0.02)."""
    if answer is None:
        return not_answered("replace None with a number.")
    if isinstance(answer, bool) or not isinstance(answer, (int, float, np.floating)):
        raise AnswerTypeError(f"answer must be a number, got {type(answer).__name__}")
    expected = float(NoiseSchedule.linear(1000).alpha_bars[-1])
    if abs(answer - expected) <= 1e-3 * expected:
        return verdict(True, f"ᾱ_T = {expected:.3e}: √ᾱ_T = {expected**0.5:.4f} of the image survives — pure noise, in effect.")
    if abs(answer - expected**0.5) <= 1e-3 * expected**0.5:
        return verdict(False, "that is √ᾱ_T, the factor on x_0; ᾱ_T itself is its square.")
    return verdict(False, f"{answer} is not it: ᾱ_T = Π_t (1 − β_t) over the 1,000 betas.")


@checker
def check_q_sample(fn: Any, seed: int = 0) -> CheckResult:
    """Exercise 2: the forward process in closed form, ``fn(x0, t, noise, alpha_bars)`` → x_t."""
    if fn is None:
        return not_answered("replace None with your function.")
    if not callable(fn):
        raise AnswerTypeError(f"pass your function, got {type(fn).__name__}")
    schedule = NoiseSchedule.linear(1000)
    gen = torch.Generator().manual_seed(seed)
    x0, noise = torch.randn(4, 1, 8, 8, generator=gen, dtype=torch.float64), torch.randn(4, 1, 8, 8, generator=gen, dtype=torch.float64)
    t = torch.tensor([0, 10, 500, 999])
    expected = schedule.q_sample(x0, t, noise)
    got = torch.as_tensor(fn(x0.clone(), t.clone(), noise.clone(), schedule.alpha_bars.clone()), dtype=torch.float64)
    if got.shape == expected.shape and torch.allclose(got, expected, atol=1e-12):
        return verdict(True, "x_t = √ᾱ_t·x_0 + √(1 − ᾱ_t)·ε, per sample — correct.")
    return verdict(False, "differs: index ᾱ with each sample's t and broadcast it over the pixels.")


@checker
def check_guidance(fn: Any) -> CheckResult:
    """Exercise 3: the classifier-free guidance combination ``fn(eps_cond, eps_uncond, w)``."""
    if fn is None:
        return not_answered("replace None with your function.")
    if not callable(fn):
        raise AnswerTypeError(f"pass your function, got {type(fn).__name__}")
    cond, uncond = torch.tensor([1.0, -2.0, 0.5]), torch.tensor([0.5, -1.0, 0.5])
    for w in (0.0, 1.0, 3.0):
        got = torch.as_tensor(fn(cond.clone(), uncond.clone(), w), dtype=torch.float32)
        if not torch.allclose(got, cond + w * (cond - uncond)):
            return verdict(False, f"with w = {w}: expected {(cond + w * (cond - uncond)).tolist()}, got {got.tolist()}.")
    return verdict(True, "ε̃ = ε_cond + w·(ε_cond − ε_uncond) — correct; w = 0 is plain conditional sampling.")


_SAMPLER_OPTIONS = {"clip", "eta", "rederive_eps", "dynamic_threshold", "guidance_interval"}


@checker
def check_guided_agreement(shared: Any, settings: Any, answer: Any) -> CheckResult:
    """Exercise "Repair strong guidance": the share of the 200 captioned samples the judge
    classifies as the requested digit, for 50 DDIM steps from the noise of seed 0 with the
    reader's ``settings`` (``guidance`` and any of ``ddim_sample``'s clip, eta, rederive_eps,
    dynamic_threshold, guidance_interval). ``shared`` holds the chapter's objects, as
    ``experiments.guidance.setup`` returns them. The checker samples and judges the same way and
    accepts 0.005 either side (one sample in 200)."""
    from ..experiments import guidance as experiment
    from .. import judge
    from ..models.diffusion import ddim_sample

    if answer is None:
        return not_answered("replace None with the agreement you measured (a share between 0 and 1).")
    if not isinstance(shared, dict) or not {"model", "schedule", "judge", "caption", "empty", "requested", "device"} <= set(shared):
        raise AnswerTypeError("shared must be the dict of the chapter's objects (model, schedule, judge, caption, empty, requested, device)")
    if not isinstance(settings, dict) or "guidance" not in settings or not set(settings) - {"guidance"} <= _SAMPLER_OPTIONS:
        raise AnswerTypeError(f"settings must be a dict with 'guidance' and any of {sorted(_SAMPLER_OPTIONS)}, got {settings!r}")
    if isinstance(answer, bool) or not isinstance(answer, (int, float, np.integer, np.floating)) or not np.isfinite(answer):
        raise AnswerTypeError(f"answer must be a finite number (a share between 0 and 1), got {answer!r}")
    if len(shared["requested"]) != experiment.SAMPLES:
        raise AnswerTypeError(f"shared['requested'] must be the chapter's {experiment.SAMPLES} requested digits")

    def agreement(options: dict) -> float:
        x = ddim_sample(shared["model"], shared["schedule"], (experiment.SAMPLES, 1, 8, 8), 50, conditioning=shared["caption"],
                        null_conditioning=shared["empty"], generator=torch.Generator().manual_seed(0), device=shared["device"],
                        **options)
        return judge.judge_samples(shared["judge"], x).agreement(shared["requested"])

    measured = agreement(dict(settings))
    if abs(float(answer) - measured) <= 0.005:
        plain = agreement({"guidance": settings["guidance"]})
        change = "better than" if measured > plain + 0.005 else ("worse than" if measured < plain - 0.005 else "the same as")
        return verdict(True, f"{float(answer):.1%} (measured: {measured:.1%}); the chapter's sampler at the same weight, "
                             f"w = {settings['guidance']}: {plain:.1%}, so your change is {change} it from this seed. "
                             "One seed of noise: compare with the stored sweep's spread before you conclude.")
    if abs(float(answer) / 100 - measured) <= 0.005:
        return verdict(False, "that looks like a percentage; give the share as a fraction between 0 and 1.")
    return verdict(False, f"{float(answer):.3f} is not what the checker measured with these settings; draw the noise "
                          "from torch.Generator().manual_seed(0) and pass the same settings to ddim_sample.")
