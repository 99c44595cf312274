"""Checkers for the exercises of appendix A3 (the architecture lab)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ..models.lab import GCNLayer
from ._common import check_int
from ._report import AnswerTypeError, CheckResult, checker, not_answered, verdict

__all__ = ["check_forget_bias_gradient", "check_gcn_layer", "check_normalized_entry", "check_vit_tokens"]


@checker
def check_vit_tokens(answer: Any) -> CheckResult:
    """Exercise 1: tokens a ViT with 4 × 4 patches and a class token sees for a 32 × 32 image."""
    if answer is None:
        return not_answered("replace None with an int.")
    answer = check_int(answer)
    if answer == (32 // 4) ** 2 + 1:
        return verdict(True, "8 · 8 patches + the class token = 65 — correct; attention costs grow with its square.")
    if answer == (32 // 4) ** 2:
        return verdict(False, "64 patches — and the class token makes one more.")
    return verdict(False, f"{answer} is not it: (image size / patch size)² patches, plus one class token.")


@checker
def check_normalized_entry(answer: Any) -> CheckResult:
    """Exercise 2: entry (0, 1) of D^{-1/2}(A + I)D^{-1/2} for the path graph 0 — 1 — 2."""
    if answer is None:
        return not_answered("replace None with a number.")
    if isinstance(answer, bool) or not isinstance(answer, (int, float, np.floating)):
        raise AnswerTypeError(f"answer must be a number, got {type(answer).__name__}")
    expected = 1 / math.sqrt(2 * 3)  # degrees with self-loops: node 0 → 2, node 1 → 3
    if abs(answer - expected) < 1e-6:
        return verdict(True, f"1/√(2·3) = {expected:.4f} — correct: the self-loops count in the degrees.")
    if abs(answer - 1 / math.sqrt(1 * 2)) < 1e-6:
        return verdict(False, "those are the degrees without self-loops; Â adds I first, so node 0 has degree 2, node 1 degree 3.")
    return verdict(False, f"{answer} is not it: Â_01 = 1/√(d_0 d_1) with the degrees of A + I.")


@checker
def check_gcn_layer(fn: Any, seed: int = 0) -> CheckResult:
    """Exercise 3: ``fn(adj, h, weight, bias)`` → one GCN layer in NumPy, compared with PyTorch."""
    if fn is None:
        return not_answered("replace None with your function.")
    if not callable(fn):
        raise AnswerTypeError(f"pass your function, got {type(fn).__name__}")
    rng = np.random.default_rng(seed)
    upper = np.triu(rng.random((7, 7)) < 0.4, 1)
    adj = (upper | upper.T).astype(np.float64)
    h = rng.normal(size=(7, 4))
    with torch.random.fork_rng(devices=[]):  # seeded here, the reader's random state left as it was
        torch.manual_seed(seed)
        layer = GCNLayer(4, 3).double()
    weight, bias = layer.linear.weight.detach().numpy(), layer.bias.detach().numpy()
    expected = layer(torch.tensor(h), torch.tensor(adj)).detach().numpy()
    got = np.asarray(fn(adj.copy(), h.copy(), weight.copy(), bias.copy()), dtype=np.float64)
    if got.shape != expected.shape:
        return verdict(False, f"return (N, F_out) = {expected.shape}, got {got.shape}.")
    if np.allclose(got, expected, atol=1e-10):
        return verdict(True, "equal to the PyTorch GCN layer.")
    d = adj.sum(1)
    no_loops = (adj / np.sqrt(np.outer(np.maximum(d, 1), np.maximum(d, 1)))) @ h @ weight.T + bias
    if np.allclose(got, no_loops, atol=1e-10):
        return verdict(False, "add the self-loops first: Â = D^{-1/2}(A + I)D^{-1/2}, degrees counted with them.")
    return verdict(False, "differs from D^{-1/2}(A + I)D^{-1/2} · H · Wᵀ + b.")


def _forget_bias_ratios(bias: float = 3.0, seed: int = 0) -> tuple[float, float]:
    """``‖∂ŷ/∂x_1‖ / ‖∂ŷ/∂x_T‖`` of the untrained LSTM regressor of the appendix (hidden 48,
    seed ``seed``) on 256 adding-problem sequences of 50 steps (seed 1): as initialised, and with
    the forget-gate rows of ``core.bias_ih_l0`` filled with ``bias``."""
    from .. import data
    from ..experiments.lab import gradient_through_time
    from ..models.lab import SequenceRegressor

    x = torch.tensor(data.adding_problem(256, 50, seed=1)[0])
    with torch.random.fork_rng(devices=[]):  # seeded here, the reader's random state left as it was
        torch.manual_seed(seed)
        model = SequenceRegressor("lstm", hidden=48, max_len=50)
    ratios = []
    for step in range(2):
        if step:
            with torch.no_grad():
                model.core.bias_ih_l0[48:96] = bias  # PyTorch's gate order: input, forget, cell, output
        g = gradient_through_time(model, x)
        ratios.append(float(g[0] / g[-1]))
    return ratios[0], ratios[1]


@checker
def check_forget_bias_gradient(answer: Any) -> CheckResult:
    """Exercise 4: the gradient ratio ``‖∂ŷ/∂x_1‖ / ‖∂ŷ/∂x_T‖`` of the untrained LSTM once its
    forget-gate bias is 3 — measured here again and compared with the reader's measurement."""
    if answer is None:
        return not_answered("replace None with the ratio you measured (a number).")
    if isinstance(answer, bool) or not isinstance(answer, (int, float, np.floating)) or not math.isfinite(answer):
        raise AnswerTypeError(f"answer must be a finite number, got {answer!r}")
    before, after = _forget_bias_ratios()
    if answer > 0 and abs(math.log(answer / after)) < 0.05:
        return verdict(True, f"measured here too: {after:.3g}, against {before:.2g} as initialised — "
                             f"{after / before:.1e} times more gradient reaches the first step, because "
                             f"σ(3) ≈ 0.95 of the cell is kept at each step instead of about half.")
    if answer > 0 and abs(math.log(answer / before)) < 0.5:
        return verdict(False, "that is the ratio as initialised; set the forget-gate bias first "
                              "(rows 48–95 of core.bias_ih_l0) and measure again.")
    if answer > 0 and abs(math.log(answer / (after / before))) < 0.05:
        return verdict(False, "that is how many times the ratio grew; the question asks for the ratio itself.")
    return verdict(False, f"{answer:.3g} is not what the same measurement gives here; use seed 0, hidden 48, "
                          "data.adding_problem(256, 50, seed=1) and g[0] / g[-1].")
