"""Checkers for the exercises of chapter 07 (MoE)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..models.moe import MoEFeedForward, TopKRouter, load_balancing_loss
from ._common import check_int
from ._report import AnswerTypeError, CheckResult, checker, not_answered, verdict

__all__ = ["check_balance_loss", "check_capacity_drop", "check_moe_parameters", "check_router"]


@checker
def check_moe_parameters(answer: Any) -> CheckResult:
    """Exercise 1: (total, active) parameters of an MoE layer: d = 64, 8 experts of hidden 128, top-2."""
    if answer is None:
        return not_answered("replace None with a tuple (total, active) of ints.")
    if not isinstance(answer, tuple) or len(answer) != 2:
        raise AnswerTypeError(f"answer must be a tuple (total, active), got {answer!r}")
    total, active = (check_int(a, "each count") for a in answer)
    layer = MoEFeedForward(64, 128, num_experts=8, top_k=2)
    expected = (sum(p.numel() for p in layer.parameters()), layer.active_parameters())
    if (total, active) == expected:
        return verdict(True, f"{expected[0]:,} in all, {expected[1]:,} used per token — correct.")
    if total == expected[0]:
        return verdict(False, "the total is right; a token uses the router and only its top-2 experts.")
    return verdict(False, "each expert is Linear(64, 128) + Linear(128, 64) with biases; the router is Linear(64, 8) without bias.")


@checker
def check_balance_loss(answer: Any) -> CheckResult:
    """Exercise 2: N·Σ f_i·P_i for f = (0.5, 0.5, 0, 0) and P = (0.4, 0.4, 0.1, 0.1)."""
    if answer is None:
        return not_answered("replace None with a number.")
    if isinstance(answer, bool) or not isinstance(answer, (int, float, np.floating)):
        raise AnswerTypeError(f"answer must be a number, got {type(answer).__name__}")
    probs = torch.tensor([[0.4, 0.4, 0.1, 0.1]]).repeat(4, 1)
    ids = torch.tensor([[0], [1], [0], [1]])  # half the assignments to expert 0, half to expert 1
    expected = float(load_balancing_loss(probs, ids, 4))
    if abs(answer - expected) < 1e-6:
        return verdict(True, f"4 · (0.5·0.4 + 0.5·0.4) = {expected:.2f} — correct: above 1, so the loss pushes towards balance.")
    if abs(answer - expected / 4) < 1e-6:
        return verdict(False, "multiply by the number of experts N = 4.")
    return verdict(False, f"{answer} is not it: N · Σ_i f_i · P_i with N = 4.")


@checker
def check_router(fn: Any, seed: int = 0) -> CheckResult:
    """Exercise 3: top-k routing weights from router logits, against ``TopKRouter``.

    ``fn(logits, k)`` for ``logits`` of shape ``(N, E)`` returns ``(weights (N, k), ids (N, k))``:
    the k most probable experts, in decreasing order, with their softmax probabilities renormalised
    to sum to 1.
    """
    if fn is None:
        return not_answered("replace None with your function.")
    if not callable(fn):
        raise AnswerTypeError(f"pass your function, got {type(fn).__name__}")
    with torch.random.fork_rng(devices=[]):  # seeded here, the reader's random state left as it was
        torch.manual_seed(seed)
        router = TopKRouter(6, num_experts=5, top_k=2).eval()
        x = torch.randn(7, 6)
    with torch.no_grad():
        weights, ids, _ = router(x)
        logits = router.gate(x).numpy()
    result = fn(logits.copy(), 2)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise TypeError("your function must return a tuple (weights, ids)")
    w, i = (np.asarray(r) for r in result)
    if i.shape != (7, 2) or not np.array_equal(i, ids.numpy()):
        return verdict(False, "the chosen experts differ: take the k largest router probabilities per token.")
    if not np.allclose(w, weights.numpy(), atol=1e-6):
        if np.allclose(w.sum(-1), 1):
            return verdict(False, "the experts are right but the weights are not: softmax over all experts first, then renormalise.")
        return verdict(False, "the experts are right; renormalise their probabilities to sum to 1.")
    return verdict(True, "experts and weights equal TopKRouter's.")


def _fresh_drop(factor: float) -> float:
    with torch.random.fork_rng(devices=[]):  # the reader's random state is left as it was
        torch.manual_seed(0)
        layer = MoEFeedForward(64, 128, num_experts=8, top_k=2, capacity_factor=factor).eval()
    tokens = torch.randn(4096, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        layer(tokens)
    return float(layer.last_stats["dropped"])


@checker
def check_capacity_drop(answer: Any) -> CheckResult:
    """Exercise: the share of routing assignments an untrained MoE layer drops at capacity factor 1.
    The layer is ``MoEFeedForward(64, 128, num_experts=8, top_k=2, capacity_factor=1.0)`` built
    after ``torch.manual_seed(0)``, the tokens ``torch.randn(4096, 64)`` drawn from a generator
    seeded with 0. The checker measures it the same way and accepts 0.002 either side."""
    if answer is None:
        return not_answered("replace None with float(layer.last_stats['dropped']) after one forward pass.")
    if isinstance(answer, bool) or not isinstance(answer, (int, float, np.integer, np.floating)) or not np.isfinite(answer):
        raise AnswerTypeError(f"answer must be a finite number (a share between 0 and 1), got {answer!r}")
    measured = _fresh_drop(1.0)
    if abs(float(answer) - measured) <= 0.002:
        return verdict(True, f"{float(answer):.3f} (measured: {measured:.3f}). Even a router nobody trained is uneven: "
                             f"its random gate prefers some experts, so a buffer of exactly the fair share overflows; "
                             f"at factor 1.25 the share is {_fresh_drop(1.25):.3f}, at 2 it is {_fresh_drop(2.0):.3f}.")
    if abs(float(answer) / 100 - measured) <= 0.002:
        return verdict(False, "that looks like a percentage; give the share as a fraction between 0 and 1.")
    return verdict(False, f"{float(answer):.3f} is not what the checker measured; build the layer right after "
                          "torch.manual_seed(0), and draw the tokens from torch.Generator().manual_seed(0).")
