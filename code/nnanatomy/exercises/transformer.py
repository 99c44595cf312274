"""Checkers for the exercises of chapter 05 (Transformer)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ..models.transformer import MultiHeadAttention
from ._common import check_int
from ._report import AnswerTypeError, CheckResult, checker, not_answered, verdict

__all__ = ["check_attention", "check_mha_parameters", "check_no_positions_exact_match", "check_positional_encoding"]


@checker
def check_mha_parameters(answer: Any) -> CheckResult:
    """Exercise 1: parameters of one multi-head attention layer with d_model = 512 and 8 heads."""
    if answer is None:
        return not_answered("replace None with your count (an int).")
    answer = check_int(answer)
    expected = sum(p.numel() for p in MultiHeadAttention(512, 8).parameters())
    if answer == expected:
        return verdict(True, f"{expected:,} — correct: four 512×512 projections with biases; the head count does not matter.")
    if answer == 4 * 512 * 512:
        return verdict(False, "close: each of the four projections also has a bias of 512.")
    return verdict(False, f"{answer:,} is not it: Q, K, V and the output are each a Linear(512, 512).")


@checker
def check_positional_encoding(answer: Any) -> CheckResult:
    """Exercise 2: PE[pos = 3, dimension 4] for d_model = 16."""
    if answer is None:
        return not_answered("replace None with a number.")
    if isinstance(answer, bool) or not isinstance(answer, (int, float, np.floating)):
        raise AnswerTypeError(f"answer must be a number, got {type(answer).__name__}")
    expected = math.sin(3 / 10000 ** (4 / 16))  # dimension 4 = 2i with i = 2: a sine
    if abs(answer - expected) < 1e-4:
        return verdict(True, f"sin(3 / 10000^(4/16)) = sin(0.3) = {expected:.4f} — correct.")
    if abs(answer - math.cos(3 / 10000 ** (4 / 16))) < 1e-4:
        return verdict(False, "even dimensions hold sines, odd ones cosines: dimension 4 is a sine.")
    return verdict(False, f"{answer} is not it: PE[pos, 2i] = sin(pos / 10000^(2i/d_model)) with 2i = 4.")


@checker
def check_attention(fn: Any, seed: int = 0) -> CheckResult:
    """Exercise 3: masked scaled dot-product attention in NumPy, against PyTorch.

    ``fn(q, k, v, mask)`` with ``mask`` True where attention is blocked; returns the output.
    """
    if fn is None:
        return not_answered("replace None with your function.")
    if not callable(fn):
        raise AnswerTypeError(f"pass your function, got {type(fn).__name__}")
    rng = np.random.default_rng(seed)
    q, k, v = rng.normal(size=(2, 5, 8)), rng.normal(size=(2, 6, 8)), rng.normal(size=(2, 6, 3))
    mask = rng.random((5, 6)) < 0.4
    mask[:, 0] = False
    ref = torch.nn.functional.scaled_dot_product_attention(
        torch.tensor(q), torch.tensor(k), torch.tensor(v), attn_mask=~torch.tensor(mask)
    ).numpy()
    out = np.asarray(fn(q.copy(), k.copy(), v.copy(), mask.copy()))
    if out.shape != ref.shape:
        return verdict(False, f"output shape {out.shape}, expected {ref.shape}: one row per query, value width.")
    if np.allclose(out, ref, atol=1e-10):
        return verdict(True, "equal to torch.nn.functional.scaled_dot_product_attention to 1e-10.")
    unmasked = torch.nn.functional.scaled_dot_product_attention(torch.tensor(q), torch.tensor(k), torch.tensor(v)).numpy()
    if np.allclose(out, unmasked, atol=1e-10):
        return verdict(False, "right without the mask: set the blocked scores to −∞ before the softmax.")
    return verdict(False, "differs from PyTorch: softmax(q kᵀ / √d_k) with blocked scores at −∞, times v.")


@checker
def check_no_positions_exact_match(answer: Any) -> CheckResult:
    """Exercise: the exact-match accuracy of chapter 05's Transformer *without* positional encoding
    on the chained test sentences after three epochs on seed 1, as
    ``experiments.translation.run("transformer-no-pe", seed=1, epochs=3)`` measures it. Compared
    with the stored run of that configuration (within 0.02: another CPU rounds differently)."""
    from ..experiments import translation

    if answer is None:
        return not_answered('replace None with record["test_exact_match"][-1] of '
                            'translation.run("transformer-no-pe", seed=1, epochs=3).')
    if isinstance(answer, bool) or not isinstance(answer, (int, float, np.integer, np.floating)) or not np.isfinite(answer):
        raise AnswerTypeError(f"answer must be a finite number (a share between 0 and 1), got {answer!r}")
    answer = float(answer)
    if not 0.0 <= answer <= 1.0:
        return verdict(False, f"{answer} is not a share: exact match is between 0 and 1.")
    runs = translation.load_results()["runs"]
    stored = next(r for r in runs if r["arch"] == "transformer-no-pe" and r["seed"] == 1)["test_exact_match"][2]
    full = next(r for r in runs if r["arch"] == "transformer" and r["seed"] == 1)["test_exact_match"][2]
    if abs(answer - stored) <= 0.02:
        return verdict(True, f"{answer:.1%} (the stored run: {stored:.1%}); the same Transformer with its positional encoding "
                             f"reaches {full:.1%} on this seed and budget.")
    return verdict(False, f"{answer:.1%} is not what this configuration reaches after three epochs; run "
                          "translation.run('transformer-no-pe', seed=1, epochs=3) and read record['test_exact_match'][-1].")
