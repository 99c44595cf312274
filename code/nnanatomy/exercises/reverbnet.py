"""Checkers for the exercises of chapter 13 (ReverbNet)."""

from __future__ import annotations

import functools
import math
from typing import Any

from ..models.reverbnet import ROLE_NAMES, ReverberationNet, RoleModule
from ._common import check_int
from ._report import AnswerTypeError, AnswerValueError, CheckResult, checker, not_answered, verdict

__all__ = ["check_curve_point", "check_published_feedback", "check_role_shell", "check_source_estimate"]


@checker
def check_role_shell(answer: Any) -> CheckResult:
    """Exercise 1: parameters of the shell every role shares (gate, W_μ, W_logvar, LayerNorm), as a function of d, at d = 128."""
    if answer is None:
        return not_answered("replace None with an int.")
    answer = check_int(answer)
    role = RoleModule("viola", 128)
    expected = sum(p.numel() for m in (role.instrument_gate, role.W_mu, role.W_logvar, role.ln) for p in m.parameters())
    if answer == expected:
        return verdict(True, f"{expected:,} = 2d² + 5d + 1 at d = 128 — correct.")
    if answer == 2 * 128 * 128:
        return verdict(False, "2d² counts the two d×d weights; add their biases, the gate Linear(d, 1) and the LayerNorm.")
    return verdict(False, f"{answer:,} is not it: Linear(d, 1) + 2 × Linear(d, d) + LayerNorm(d).")


@checker
def check_published_feedback(answer: Any) -> CheckResult:
    """Exercise 2: which roles receive feedback under the published routing (a set of names)."""
    if answer is None:
        return not_answered("replace None with a set of role names, e.g. {'eileen'}.")
    if not isinstance(answer, (set, frozenset, list, tuple)) or not all(isinstance(a, str) for a in answer):
        raise AnswerTypeError("answer must be a set of role names (strings)")
    expected = set(ReverberationNet(d=8, routing="published").get_network_structure()["roles_receiving_feedback"])
    answer = {a.lower() for a in answer}
    unknown = answer - set(ROLE_NAMES)
    if unknown:
        raise AnswerValueError(f"unknown role names: {sorted(unknown)}")
    if answer == expected:
        return verdict(True, f"{sorted(expected)} — correct: only for them is i mod 7 one of the processors that read them.")
    return verdict(False, "role i asks processor i mod 7, which reads roles 3k, 3k+1, 3k+2 (mod 19): check i ∈ those.")


@checker
def check_source_estimate(answer: Any) -> CheckResult:
    """Exercise 3: the value of the source's estimate 19·3d² + 7·10d² + 64d² at d = 64."""
    if answer is None:
        return not_answered("replace None with an int.")
    answer = check_int(answer)
    d = 64
    expected = 19 * 3 * d * d + 7 * 10 * d * d + 64 * d * d
    if answer == expected:
        return verdict(True, f"{expected:,} — not the 1,043,413 the source writes next to it: the formula is off by "
                             f"{1_043_413 - expected:,} parameters.")
    return verdict(False, f"{answer:,} is not it: evaluate 19·3·64² + 7·10·64² + 64·64².")


@functools.lru_cache(maxsize=1)
def _mlp_at_2000() -> float:
    from ..experiments import reverbnet as experiment

    return experiment.curve_run("mlp", 2000, seed=0)["test_mse"]


@checker
def check_curve_point(answer: Any) -> CheckResult:
    """Exercise 4: the MLP's test MSE at 2,000 training sequences, seed 0, under the learning
    curve's protocol — measured here again and compared with the reader's measurement."""
    if answer is None:
        return not_answered("replace None with the test MSE you measured (a number).")
    if isinstance(answer, bool) or not isinstance(answer, (int, float)) or not math.isfinite(answer):
        raise AnswerTypeError(f"answer must be a finite number, got {answer!r}")
    from ..experiments import reverbnet as experiment

    expected = _mlp_at_2000()
    if abs(answer - expected) > 0.005:
        return verdict(False, f"{answer:.4f} is not what the same run gives here; train with "
                              "experiment.curve_run('mlp', 2000, seed=0) and read its 'test_mse'.")
    stored = {}
    for n in (1000, 4000):
        runs = [r["test_mse"] for r in experiment.load_curve()["runs"]
                if r["config"] == "mlp" and r["n_train"] == n and r["weight_decay"] == experiment.CURVE["weight_decay"]]
        if runs:
            stored[n] = sum(runs) / len(runs)
    where = ", ".join(f"{v:.3f} at {n:,}" for n, v in stored.items())
    return verdict(True, f"measured here too: {expected:.4f} at 2,000 sequences" + (f" (the stored means: {where})" if where else "")
                   + ". A model with separate weights for every position pays for each of them in data.")
