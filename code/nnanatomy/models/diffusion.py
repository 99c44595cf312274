"""Denoising diffusion (Ho et al., 2020): the noise schedule, the forward process in closed form,
the training loss, and three samplers — ancestral DDPM, strided deterministic DDIM, and classifier-
free guidance on top of either (chapters 10 and 11).

The forward process adds Gaussian noise in T small steps, ``x_t = √(1−β_t)·x_{t−1} + √β_t·ε``,
which composes to the closed form ``x_t = √ᾱ_t·x_0 + √(1−ᾱ_t)·ε`` with ``ᾱ_t = Π_{s≤t}(1−β_s)``.
A network learns ε from ``(x_t, t)``; sampling runs the process backwards from pure noise.
Steps are numbered 0 … T−1 in code (step t here is the paper's t + 1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .._checks import check_device, check_finite, check_real

__all__ = ["NoiseSchedule", "ddim_sample", "ddim_sigma", "ddpm_sample", "diffusion_loss", "guided_eps", "posterior", "reverse_step"]

EpsModel = Callable[..., torch.Tensor]  # eps_model(x_t, t, **conditioning) → predicted noise


@dataclass
class NoiseSchedule:
    """The linear β schedule of DDPM and every quantity derived from it, as float64 tensors."""

    betas: torch.Tensor

    def __post_init__(self) -> None:
        b = self.betas
        if not isinstance(b, torch.Tensor) or b.ndim != 1 or b.numel() == 0 or not b.is_floating_point():
            raise TypeError(f"betas must be a non-empty 1-D float tensor, got {getattr(b, 'dtype', type(b).__name__)} "
                            f"{tuple(getattr(b, 'shape', ()))}")
        if not bool(((b > 0) & (b < 1)).all()):
            raise ValueError("every beta must lie in (0, 1) (NaN does not)")

    @classmethod
    def linear(cls, steps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> NoiseSchedule:
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(f"steps must be a positive int, got {steps!r}")
        beta_start, beta_end = check_real("beta_start", beta_start), check_real("beta_end", beta_end)
        if steps > 100_000:
            raise ValueError(f"steps must be <= 100000, got {steps}")
        if not 0 < beta_start <= beta_end < 1:
            raise ValueError(f"need 0 < beta_start <= beta_end < 1, got {beta_start}, {beta_end}")
        return cls(torch.linspace(beta_start, beta_end, steps, dtype=torch.float64))

    def check_steps(self, t: object, batch: int) -> torch.Tensor:
        """``t`` as one integer step per sample, each in ``[0, steps)`` (no negative indexing)."""
        if not isinstance(t, torch.Tensor) or t.dtype == torch.bool or t.is_floating_point() or t.is_complex():
            raise TypeError(f"t must be an integer tensor of steps, got {getattr(t, 'dtype', type(t).__name__)}")
        if t.shape != (batch,):
            raise ValueError(f"t must have one step per sample, shape ({batch},), got {tuple(t.shape)}")
        if bool(((t < 0) | (t >= self.steps)).any()):
            raise ValueError(f"every step in t must be in [0, {self.steps}), got {t.tolist()}")
        return t

    def check_step(self, t: object) -> int:
        """One step index as an int in ``[0, steps)``."""
        if isinstance(t, torch.Tensor) and t.numel() == 1 and not t.is_floating_point():
            t = int(t)
        if isinstance(t, bool) or not isinstance(t, int):
            raise TypeError(f"t must be an int step, got {type(t).__name__}")
        if not 0 <= t < self.steps:
            raise ValueError(f"t must be in [0, {self.steps}), got {t}")
        return t

    @property
    def steps(self) -> int:
        return self.betas.numel()

    @property
    def alphas(self) -> torch.Tensor:
        return 1.0 - self.betas

    @property
    def alpha_bars(self) -> torch.Tensor:
        """ᾱ_t = Π_{s ≤ t} α_s: how much of x_0 survives in x_t."""
        return torch.cumprod(self.alphas, dim=0)

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """The forward process in one jump: ``x_t = √ᾱ_t·x_0 + √(1−ᾱ_t)·ε`` (per-sample ``t``)."""
        x0 = _check_images("x0", x0)
        if not isinstance(noise, torch.Tensor) or noise.shape != x0.shape:
            raise ValueError(f"noise must be a tensor of x0's shape {tuple(x0.shape)}, got {tuple(getattr(noise, 'shape', ()))}")
        t = self.check_steps(t, x0.shape[0])
        # indexed and cast on the CPU, then moved: no float64 tensor reaches the device (MPS has none)
        ab = self.alpha_bars[t.cpu()].to(x0.dtype).to(x0.device).view(-1, *[1] * (x0.ndim - 1))
        return ab.sqrt() * x0 + (1 - ab).sqrt() * noise


def _check_images(name: str, x: object) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.ndim < 2 or x.shape[0] == 0:
        raise ValueError(f"{name} must be a float tensor (batch, ...) with at least one sample, "
                         f"got {getattr(x, 'dtype', type(x).__name__)} {tuple(getattr(x, 'shape', ()))}")
    return x


def _noise(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """N(0, I) noise drawn on the generator's own device, then moved to ``device``: a CPU generator
    gives the same samples whether the model runs on the CPU, a GPU or MPS (torch.randn refuses a
    generator of another device)."""
    if generator is None:
        return torch.randn(shape, device=device)
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    return torch.randn(shape, generator=generator, device=generator.device).to(device)


def _check_sampling(eps_model: object, schedule: object, shape: object, guidance: object, device: object):
    if not callable(eps_model):
        raise TypeError(f"eps_model must be callable (a network predicting the noise), got {type(eps_model).__name__}")
    if not isinstance(schedule, NoiseSchedule):
        raise TypeError(f"schedule must be a NoiseSchedule, got {type(schedule).__name__}")
    if not isinstance(shape, (tuple, list, torch.Size)) or len(shape) < 2 or not all(
            isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 1 << 20 for n in shape):
        raise ValueError(f"shape must be a tuple (batch, ...) of positive ints, got {shape!r}")
    return tuple(shape), check_real("guidance", guidance), check_device("device", device)


def _check_interval(interval: object, steps: int) -> tuple[int, int] | None:
    """``guidance_interval``: None (guide at every step) or ``(low, high)``, steps ``low <= t < high``."""
    if interval is None:
        return None
    if (not isinstance(interval, (tuple, list)) or len(interval) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in interval)
            or not 0 <= interval[0] < interval[1] <= steps):
        raise ValueError(f"guidance_interval must be None or (low, high) with 0 <= low < high <= {steps}, got {interval!r}")
    return int(interval[0]), int(interval[1])


def _weight(guidance: float, interval: tuple[int, int] | None, t: int) -> float:
    return guidance if interval is None or interval[0] <= t < interval[1] else 0.0


def _check_conditioning(conditioning: object, null_conditioning: object) -> None:
    for name, value in (("conditioning", conditioning), ("null_conditioning", null_conditioning)):
        if value is not None and not isinstance(value, dict):
            raise TypeError(f"{name} must be None or a dict of keyword arguments for eps_model, got {type(value).__name__}")


def diffusion_loss(eps_model: EpsModel, x0: torch.Tensor, schedule: NoiseSchedule, **conditioning) -> torch.Tensor:
    """ε-prediction: draw t uniformly and ε ~ N(0, I), form x_t in closed form, and regress the
    network's output on ε with the mean squared error."""
    x0 = _check_images("x0", x0)
    t = torch.randint(0, schedule.steps, (x0.shape[0],), device=x0.device)
    noise = torch.randn_like(x0)
    return F.mse_loss(eps_model(schedule.q_sample(x0, t, noise), t, **conditioning), noise)


def guided_eps(eps_model: EpsModel, x: torch.Tensor, t: torch.Tensor, guidance: float = 0.0,
               conditioning: dict | None = None, null_conditioning: dict | None = None) -> torch.Tensor:
    """The noise prediction, with classifier-free guidance of weight ``w = guidance`` if > 0:
    ``ε̃ = ε_cond + w·(ε_cond − ε_uncond)`` (equivalently ``ε_uncond + (1 + w)·(ε_cond − ε_uncond)``),
    which pushes the prediction further away from what the model would do without the condition."""
    _check_conditioning(conditioning, null_conditioning)
    conditioning = conditioning or {}
    eps = eps_model(x, t, **conditioning)
    if guidance:
        if null_conditioning is None:
            raise ValueError("classifier-free guidance needs null_conditioning (the 'no condition' input)")
        eps_uncond = eps_model(x, t, **null_conditioning)
        eps = eps + guidance * (eps - eps_uncond)
    return eps


def reverse_step(schedule: NoiseSchedule, x_t: torch.Tensor, t: int, eps: torch.Tensor,
                 noise: torch.Tensor | None = None) -> torch.Tensor:
    """One ancestral step, exactly the source's formula:

    ``x_{t−1} = 1/√α_t · (x_t − (1 − α_t)/√(1 − ᾱ_t) · ε̂) + σ_t·z``, with σ_t² = β_t and z ~ N(0, I)
    (no noise is added at the last step).
    """
    t = schedule.check_step(t)
    if not isinstance(eps, torch.Tensor) or not isinstance(x_t, torch.Tensor) or eps.shape != x_t.shape:
        raise ValueError(f"x_t and eps must be tensors of the same shape, got {tuple(getattr(x_t, 'shape', ()))} and "
                         f"{tuple(getattr(eps, 'shape', ()))}")
    alpha, alpha_bar, beta = (float(v[t]) for v in (schedule.alphas, schedule.alpha_bars, schedule.betas))
    mean = (x_t - (1 - alpha) / (1 - alpha_bar) ** 0.5 * eps) / alpha**0.5
    if t == 0:
        return mean
    noise = torch.randn_like(x_t) if noise is None else noise
    return mean + beta**0.5 * noise


def posterior(schedule: NoiseSchedule, x_t: torch.Tensor, x_0: torch.Tensor, t: int) -> tuple[torch.Tensor, float]:
    """The forward process run backwards when x_0 is known: q(x_{t−1} | x_t, x_0) = N(μ̃, β̃·I) with
    ``μ̃ = √ᾱ_{t−1}·β_t/(1−ᾱ_t)·x_0 + √α_t·(1−ᾱ_{t−1})/(1−ᾱ_t)·x_t`` and
    ``β̃ = (1−ᾱ_{t−1})/(1−ᾱ_t)·β_t`` (Ho et al., eqs. 6–7). Returns ``(μ̃, β̃)``; at t = 0, ``(x_0, 0)``."""
    t = schedule.check_step(t)
    if not isinstance(x_t, torch.Tensor) or not isinstance(x_0, torch.Tensor) or x_t.shape != x_0.shape:
        raise ValueError(f"x_t and x_0 must be tensors of the same shape, got {tuple(getattr(x_t, 'shape', ()))} and "
                         f"{tuple(getattr(x_0, 'shape', ()))}")
    check_finite("x_t", x_t)
    check_finite("x_0", x_0)
    if t == 0:
        return x_0.clone(), 0.0
    alpha, alpha_bar, beta = (float(v[t]) for v in (schedule.alphas, schedule.alpha_bars, schedule.betas))
    alpha_bar_prev = float(schedule.alpha_bars[t - 1])
    mean = alpha_bar_prev**0.5 * beta / (1 - alpha_bar) * x_0 + alpha**0.5 * (1 - alpha_bar_prev) / (1 - alpha_bar) * x_t
    return mean, (1 - alpha_bar_prev) / (1 - alpha_bar) * beta


def ddim_sigma(schedule: NoiseSchedule, t: int, s: int, eta: float = 1.0) -> float:
    """The noise DDIM adds when it jumps from step t to an earlier step s:
    ``σ = η·√((1−ᾱ_s)/(1−ᾱ_t))·√(1 − ᾱ_t/ᾱ_s)``. For s = t − 1 and η = 1, σ² = β̃_t."""
    t, s = schedule.check_step(t), schedule.check_step(s)
    if not s < t:
        raise ValueError(f"s must be an earlier step than t, got t={t}, s={s}")
    eta = check_real("eta", eta, 0.0, 1.0)
    ab_t, ab_s = float(schedule.alpha_bars[t]), float(schedule.alpha_bars[s])
    return eta * ((1 - ab_s) / (1 - ab_t) * (1 - ab_t / ab_s)) ** 0.5


@torch.no_grad()
def ddpm_sample(eps_model: EpsModel, schedule: NoiseSchedule, shape: tuple[int, ...], *, guidance: float = 0.0,
                conditioning: dict | None = None, null_conditioning: dict | None = None,
                generator: torch.Generator | None = None, device: torch.device | str = "cpu",
                keep: tuple[int, ...] = (), guidance_interval: tuple[int, int] | None = None,
                ) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
    """Ancestral sampling: start from x_T ~ N(0, I) and apply all T reverse steps.

    Returns the samples and the intermediate x_t for every step listed in ``keep``. With
    ``guidance_interval = (low, high)`` the guidance applies only at the steps ``low <= t < high``
    (Kynkäänniemi et al., 2024); elsewhere the step is plain conditional.
    """
    shape, guidance, device = _check_sampling(eps_model, schedule, shape, guidance, device)
    _check_conditioning(conditioning, null_conditioning)
    interval = _check_interval(guidance_interval, schedule.steps)
    if not isinstance(keep, (tuple, list)) or not all(isinstance(k, int) and not isinstance(k, bool) and 0 <= k < schedule.steps for k in keep):
        raise ValueError(f"keep must be a tuple of steps in [0, {schedule.steps}), got {keep!r}")
    x = _noise(shape, generator, device)
    trajectory: dict[int, torch.Tensor] = {}
    for t in reversed(range(schedule.steps)):
        if t in keep:
            trajectory[t] = x.clone()
        tt = torch.full((shape[0],), t, device=device, dtype=torch.long)
        eps = guided_eps(eps_model, x, tt, _weight(guidance, interval, t), conditioning, null_conditioning)
        z = _noise(shape, generator, device) if t > 0 else None
        x = reverse_step(schedule, x, t, eps, z)
    return x, trajectory


@torch.no_grad()
def ddim_sample(eps_model: EpsModel, schedule: NoiseSchedule, shape: tuple[int, ...], steps: int, *,
                guidance: float = 0.0, conditioning: dict | None = None, null_conditioning: dict | None = None,
                generator: torch.Generator | None = None, device: torch.device | str = "cpu",
                clip: float | None = 1.0, eta: float = 0.0, rederive_eps: bool = False,
                dynamic_threshold: float | None = None, guidance_interval: tuple[int, int] | None = None) -> torch.Tensor:
    """DDIM on ``steps`` evenly strided steps of the T-step schedule; deterministic at ``eta = 0``.

    At each visited step the model's ε gives an estimate of x_0,
    ``x̂_0 = (x_t − √(1−ᾱ_t)·ε̂)/√ᾱ_t`` (clipped to the data range), and the sampler jumps to the
    next visited step s < t with ``x_s = √ᾱ_s·x̂_0 + √(1−ᾱ_s − σ²)·ε̂ + σ·z``, where
    ``σ = η·√((1−ᾱ_s)/(1−ᾱ_t))·√(1 − ᾱ_t/ᾱ_s)`` and z ~ N(0, I) (Song et al., eq. 16). At η = 1
    and s = t − 1, σ² is the forward posterior's variance β̃_t: an ancestral step. With
    ``steps = 1`` and η = 0 this is the one-step baseline: predict the noise once, subtract it.

    Two repairs of the clipping, for the chapter's diagnosis of the unclipped sampler's collapse:
    ``rederive_eps=True`` recomputes ε̂ from the clipped x̂_0, ``ε̂ = (x_t − √ᾱ_t·x̂_0)/√(1−ᾱ_t)``, so
    that the step stays consistent with x_t (the published code leaves ε̂ as the network gave it);
    ``dynamic_threshold=p`` replaces the fixed clip by Imagen's dynamic thresholding: per sample,
    ``s = max(1, the p-quantile of |x̂_0|)``, then x̂_0 is clipped to [−s, s] and divided by s.
    ``guidance_interval = (low, high)`` guides only the visited steps ``low <= t < high``.
    """
    if not isinstance(rederive_eps, bool):
        raise TypeError(f"rederive_eps must be a bool, got {type(rederive_eps).__name__}")
    if dynamic_threshold is not None:
        dynamic_threshold = check_real("dynamic_threshold", dynamic_threshold, 0.0, 1.0, low_open=True, high_open=True)
    shape, guidance, device = _check_sampling(eps_model, schedule, shape, guidance, device)
    _check_conditioning(conditioning, null_conditioning)
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= schedule.steps:
        raise ValueError(f"steps must be an int in [1, {schedule.steps}], got {steps!r}")
    if clip is not None:
        clip = check_real("clip", clip, 0.0, low_open=True)  # x̂_0 clamped to [−clip, clip]
    eta = check_real("eta", eta, 0.0, 1.0)
    interval = _check_interval(guidance_interval, schedule.steps)
    alpha_bars = schedule.alpha_bars
    visit = torch.linspace(schedule.steps - 1, 0, steps).round().long().tolist()
    x = _noise(shape, generator, device)
    for i, t in enumerate(visit):
        tt = torch.full((shape[0],), t, device=device, dtype=torch.long)
        eps = guided_eps(eps_model, x, tt, _weight(guidance, interval, t), conditioning, null_conditioning)
        ab = float(alpha_bars[t])
        x0 = (x - (1 - ab) ** 0.5 * eps) / ab**0.5
        if dynamic_threshold is not None:
            level = x0.abs().flatten(1).quantile(dynamic_threshold, dim=1).clamp(min=1.0)
            level = level.view(-1, *([1] * (x0.ndim - 1)))
            x0 = torch.maximum(torch.minimum(x0, level), -level) / level
        elif clip is not None:
            x0 = x0.clamp(-clip, clip)
        if rederive_eps and ab < 1:
            eps = (x - ab**0.5 * x0) / (1 - ab) ** 0.5
        if i + 1 < len(visit):
            ab_next = float(alpha_bars[visit[i + 1]])
            sigma = ddim_sigma(schedule, t, visit[i + 1], eta)
            x = ab_next**0.5 * x0 + max(1 - ab_next - sigma**2, 0.0) ** 0.5 * eps
            if sigma > 0:
                x = x + sigma * _noise(shape, generator, device)
        else:
            x = x0
    return x
