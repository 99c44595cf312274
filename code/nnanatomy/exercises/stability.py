"""Checkers for the exercises of appendix A2 (gradient flow and numerical stability)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ..explore.stability import THRESHOLDS
from ._common import check_int
from ._report import AnswerTypeError, CheckResult, checker, not_answered, verdict

__all__ = ["check_logsumexp", "check_sigmoid_depth_bound", "check_softmax_backward"]


@checker
def check_sigmoid_depth_bound(answer: Any) -> CheckResult:
    """Exercise 1: the smallest number of sigmoid layers L for which the best case (1/4)^L of the
    product of their derivatives falls below the vanishing threshold 1e-7."""
    if answer is None:
        return not_answered("replace None with an int.")
    depth = check_int(answer, "the depth")
    expected = math.ceil(math.log(THRESHOLDS["vanishing"]) / math.log(0.25))
    if depth == expected:
        return verdict(True, f"(1/4)^{expected} = {0.25 ** expected:.2e} < 1e-7 ≤ (1/4)^{expected - 1} = {0.25 ** (expected - 1):.2e} — correct.")
    if 0.25**depth < THRESHOLDS["vanishing"]:
        return verdict(False, f"(1/4)^{depth} is below 1e-7, but so is a smaller power: find the smallest.")
    return verdict(False, f"(1/4)^{depth} = {0.25 ** depth:.2e} is still above 1e-7.")


@checker
def check_logsumexp(fn: Any) -> CheckResult:
    """Exercise 2: a stable ``logsumexp(x)`` over the last axis of a NumPy array."""
    if fn is None:
        return not_answered("replace None with your function.")
    if not callable(fn):
        raise AnswerTypeError(f"pass your function, got {type(fn).__name__}")
    cases = {
        "ordinary": np.array([[0.5, -1.0, 2.0]]),
        "large": np.array([[1000.0, 1001.0, 1002.0]]),
        "very negative": np.array([[-1000.0, -1001.0, -1002.0]]),
        "a batch": np.random.default_rng(0).normal(scale=300.0, size=(4, 7)),
    }
    for name, x in cases.items():
        with np.errstate(all="ignore"):
            got = np.asarray(fn(x.copy()), dtype=np.float64)
        expected = torch.logsumexp(torch.from_numpy(x), dim=-1).numpy()
        if got.shape != expected.shape:
            got = got.reshape(-1) if got.size == expected.size else got
        if got.shape != expected.shape:
            return verdict(False, f"reduce over the last axis: for input {x.shape} return shape {expected.shape}, got {got.shape}.")
        if not np.all(np.isfinite(got)):
            return verdict(False, f"the {name} case gives {got}: subtract the maximum before exponentiating.")
        if not np.allclose(got, expected, rtol=1e-12, atol=1e-9):
            return verdict(False, f"the {name} case gives {got}, expected {expected}: add the maximum back after the log.")
    return verdict(True, "finite and exact on ordinary, large, very negative and random inputs.")


@checker
def check_softmax_backward(fn: Any, seed: int = 0) -> CheckResult:
    """Exercise 3: ``softmax_backward(y, grad_y)`` → ∂L/∂x for ``y = softmax(x)`` over the last
    axis, given ∂L/∂y; checked against autograd in float64."""
    if fn is None:
        return not_answered("replace None with your function.")
    if not callable(fn):
        raise AnswerTypeError(f"pass your function, got {type(fn).__name__}")
    rng = np.random.default_rng(seed)
    x = torch.tensor(rng.normal(size=(5, 6)), requires_grad=True)
    g = torch.tensor(rng.normal(size=(5, 6)))
    y = torch.softmax(x, dim=-1)
    (expected,) = torch.autograd.grad(y, x, g)
    got = np.asarray(fn(y.detach().numpy().copy(), g.numpy().copy()), dtype=np.float64)
    if got.shape != (5, 6):
        return verdict(False, f"return an array of the input's shape (5, 6), got {got.shape}.")
    error = float(np.abs(got - expected.numpy()).max() / (np.abs(expected.numpy()).max() + 1e-300))
    if error < 1e-10:
        return verdict(True, f"equal to autograd (relative error {error:.1e}).")
    if np.allclose(got, (y * g).detach().numpy()):
        return verdict(False, "y · g is only the diagonal of the Jacobian: subtract y · Σ(g · y) as well.")
    return verdict(False, f"relative error {error:.1e} against autograd: ∂L/∂x = y ⊙ (g − Σ_j g_j y_j).")
