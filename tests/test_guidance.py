"""Chapter 10's guidance diagnosis (experiments.guidance) and the samplers' guidance interval."""

from __future__ import annotations

import itertools

import pytest
import torch

from nnanatomy.experiments import guidance
from nnanatomy.models.diffusion import NoiseSchedule, ddim_sample, ddpm_sample


def _eps_model(x, t, shift):
    return 0.5 * x + shift + 1e-3 * t.float().view(-1, 1, 1, 1)


COND, NULL = {"shift": 0.3}, {"shift": -0.2}


@pytest.mark.parametrize("sampler", ["ddim", "ddpm"])
def test_guidance_interval_guides_only_its_steps(sampler):
    schedule = NoiseSchedule.linear(20)

    def draw(**kw):
        g = torch.Generator().manual_seed(0)
        if sampler == "ddim":
            return ddim_sample(_eps_model, schedule, (3, 1, 2, 2), 5, conditioning=COND, null_conditioning=NULL, generator=g, **kw)
        return ddpm_sample(_eps_model, schedule, (3, 1, 2, 2), conditioning=COND, null_conditioning=NULL, generator=g, **kw)[0]

    everywhere, nowhere = draw(guidance=2.0), draw(guidance=0.0)
    assert not torch.allclose(everywhere, nowhere)
    assert torch.equal(draw(guidance=2.0, guidance_interval=(0, 20)), everywhere)
    assert torch.equal(draw(guidance=0.0, guidance_interval=(0, 5)), nowhere)
    low, high = draw(guidance=2.0, guidance_interval=(0, 10)), draw(guidance=2.0, guidance_interval=(10, 20))
    assert not torch.allclose(low, everywhere) and not torch.allclose(high, everywhere) and not torch.allclose(low, high)
    for bad in [(5, 5), (-1, 3), (0, 21), (0.0, 5), (3,), "0-5"]:
        with pytest.raises(ValueError, match="guidance_interval"):
            draw(guidance=1.0, guidance_interval=bad)


def test_arms_and_arguments():
    assert set(guidance.ARMS) == {"clip", "no-clip", "clip-rederive", "dynamic", "low-noise", "high-noise", "ancestral"}
    with pytest.raises(ValueError):
        guidance.sample("clipped", 1.0, 0, {})
    with pytest.raises(TypeError, match="setup"):
        guidance.sample("clip", 1.0, 0, {})
    with pytest.raises(TypeError, match="setup"):
        guidance.trace(1.0, 0, None)
    with pytest.raises(ValueError):
        guidance.sample("clip", -1.0, 0, {})


def test_the_stored_sweep_holds_every_job():
    runs = guidance.load_results()["runs"]
    have = {(r["arm"], r["guidance"], r["seed"]) for r in runs}
    assert set(itertools.product(guidance.ARMS, guidance.WEIGHTS, (0, 1, 2))) <= have
    for r in runs:
        assert 0 <= r["agreement"] <= 1 and 0 <= r["confident"] <= 1 and 1 <= r["digits_present"] <= 10
