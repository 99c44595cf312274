"""Checkers for the exercises of chapter 06 (GPT)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..models.gpt import DecoderBlock, GPTConfig
from ._common import check_int
from ._report import AnswerTypeError, CheckResult, checker, not_answered, verdict

__all__ = ["check_block_parameters", "check_kv_cache_bytes", "check_top_p"]


@checker
def check_block_parameters(answer: Any) -> CheckResult:
    """Exercise 1: parameters of one decoder block with d_model = 128 (4× feed-forward)."""
    if answer is None:
        return not_answered("replace None with your count (an int).")
    answer = check_int(answer)
    expected = sum(p.numel() for p in DecoderBlock(GPTConfig(vocab_size=2, d_model=128)).parameters())
    if answer == expected:
        return verdict(True, f"{expected:,} — correct: 12·d² for the weights, plus 13·d for biases and LayerNorms.")
    if answer == 12 * 128 * 128:
        return verdict(False, "that is 12·d², the weights only: add the biases and the two LayerNorms' γ and β.")
    return verdict(False, f"{answer:,} is not it: qkv_proj (d→3d), out_proj (d→d), up (d→4d), down (4d→d), two LayerNorms.")


@checker
def check_kv_cache_bytes(answer: Any) -> CheckResult:
    """Exercise 2: bytes of the KV cache for 1,024 tokens, 12 layers, d_model 768, float16, batch 1."""
    if answer is None:
        return not_answered("replace None with a number of bytes (an int).")
    answer = check_int(answer)
    expected = 2 * 12 * 1024 * 768 * 2  # keys and values, layers, tokens, width, bytes per float16
    if answer == expected:
        return verdict(True, f"{expected:,} bytes = {expected / 2**20:.0f} MiB — correct.")
    if answer == expected // 2:
        return verdict(False, "the cache holds keys *and* values: twice that.")
    if answer == expected * 2:
        return verdict(False, "float16 takes 2 bytes per number, not 4.")
    return verdict(False, f"{answer:,} is not it: 2 (K and V) × layers × tokens × d_model × bytes per number.")


def _reference_top_p(logits: np.ndarray, p: float) -> np.ndarray:
    order = np.argsort(-logits, kind="stable")
    probs = np.exp(logits[order] - logits.max())
    probs /= probs.sum()
    keep = np.cumsum(probs) - probs < p  # keep until the mass before a token reaches p
    out = np.full_like(logits, -np.inf)
    out[order[keep]] = logits[order[keep]]
    return out


@checker
def check_top_p(fn: Any, seed: int = 0) -> CheckResult:
    """Exercise 3: nucleus (top-p) filtering of a logit vector.

    ``fn(logits, p)`` keeps the smallest set of most probable tokens whose probabilities sum to
    at least ``p`` and sets every other logit to −∞.
    """
    if fn is None:
        return not_answered("replace None with your function.")
    if not callable(fn):
        raise AnswerTypeError(f"pass your function, got {type(fn).__name__}")
    rng = np.random.default_rng(seed)
    for p in (0.5, 0.9, 0.99):
        logits = rng.normal(size=20) * 2
        out = np.asarray(fn(logits.copy(), p), dtype=float)
        ref = _reference_top_p(logits, p)
        if out.shape != ref.shape or not np.array_equal(np.isinf(out), np.isinf(ref)):
            kept, expected = int(np.isfinite(out).sum()), int(np.isfinite(ref).sum())
            return verdict(False, f"with p = {p} you keep {kept} tokens, the nucleus has {expected}.")
        if not np.allclose(out[np.isfinite(out)], ref[np.isfinite(ref)]):
            return verdict(False, "the kept logits must stay unchanged.")
    return verdict(True, "the nucleus matches for p = 0.5, 0.9 and 0.99.")
