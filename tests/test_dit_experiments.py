"""Chapter 11's experiments: the DiT's conditioning and patch-size arms (experiments.dit)."""

from __future__ import annotations

import pytest
import torch

from nnanatomy.experiments import dit as exp
from nnanatomy.models.dit import DiT

LONG = 2000  # tools/dit_sweep.py's --long


def test_arms_differ_in_one_thing_each():
    base = exp.make_config("adaln-zero")
    for arm, fields in exp.ARMS.items():
        config = exp.make_config(arm)
        changed = {k for k in ("conditioning", "patch") if getattr(config, k) != getattr(base, k)}
        assert len(changed) <= 1, arm
        assert (config.conditioning, config.patch) == (fields["conditioning"], fields["patch"])
    sizes = {arm: DiT(exp.make_config(arm)).num_parameters() for arm in exp.ARMS}
    assert sizes["adaln"] == sizes["adaln-zero"] and sizes["in-context"] == sizes["add"] < sizes["cross-attention"] < sizes["adaln"]
    # the patch changes only the two layers that touch pixels: the paper's point that compute, not parameters, moves
    assert abs(sizes["patch-1"] - sizes["adaln-zero"]) < 0.01 * sizes["adaln-zero"]


def test_run_refuses_bad_arguments():
    with pytest.raises(ValueError):
        exp.run("film", 0)
    with pytest.raises(TypeError):
        exp.run(2, 0)
    with pytest.raises(ValueError):
        exp.run("adaln", 0, steps=5)  # fewer steps than evaluations
    with pytest.raises(TypeError):
        exp.run("adaln", 0, judge=1)
    with pytest.raises(TypeError):
        exp.heldout_mse(torch.nn.Linear(2, 2))


def test_a_short_run_is_deterministic_and_its_record_complete():
    torch.set_num_threads(1)
    a = exp.run("patch-4", 3, steps=20)
    b, model = exp.run("patch-4", 3, steps=20, return_model=True)
    assert a["curve"] == b["curve"] and len(a["curve"]) == exp.RECIPE["evaluations"]
    assert [s for s, _ in a["curve"]] == list(range(2, 21, 2))
    assert a["final_mse"] == a["curve"][-1][1] == round(exp.heldout_mse(model), 6)
    assert (a["tokens"], a["patch"], a["parameters"]) == (4, 4, model.num_parameters())
    assert a["curve"][-1][1] < a["curve"][0][1]  # it learns


def test_the_stored_sweep_holds_every_job():
    runs = exp.load_results()["runs"]
    have = {(r["arm"], r["seed"], r["steps"], r["judge"]) for r in runs}
    assert {(a, s, exp.RECIPE["steps"], False) for a in exp.ARMS for s in (0, 1, 2)} <= have
    assert {(a, s, LONG, True) for a in exp.ARMS for s in (0, 1, 2)} <= have
    for r in runs:
        assert len(r["curve"]) == exp.RECIPE["evaluations"] and r["final_mse"] == r["curve"][-1][1]
        assert r["parameters"] == DiT(exp.make_config(r["arm"])).num_parameters()
        if r["judge"]:
            assert 0 <= r["agreement"] <= 1 and r["fd"] >= 0
