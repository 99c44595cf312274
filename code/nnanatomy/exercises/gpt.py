"""Checkers for the exercises of chapter 06 (GPT)."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ..models.gpt import DecoderBlock, GPTConfig
from ._common import check_int
from ._report import AnswerTypeError, CheckResult, checker, not_answered, verdict

__all__ = ["check_block_parameters", "check_kv_cache_bytes", "check_residual_growth", "check_top_p"]


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


@functools.lru_cache(maxsize=2)
def _residual_growth(scaled: bool) -> float:
    """The 64-block measurement of check_residual_growth (built once per process: two GPTs of
    seven million parameters)."""
    import torch

    from ..models.gpt import GPT, residual_stream_stds

    ids = torch.randint(0, 26, (8, 64), generator=torch.Generator().manual_seed(0))
    with torch.random.fork_rng(devices=[]):  # the reader's random state is left as it was
        torch.manual_seed(0)
        model = GPT(GPTConfig(vocab_size=26, max_seq_len=64, d_model=96, num_heads=4, num_layers=64, residual_init=scaled))
    stds = residual_stream_stds(model, ids)
    return stds[-1] / stds[1]


@checker
def check_residual_growth(answer: Any) -> CheckResult:
    """Exercise: how many times larger the residual stream's std is after the last of 64 blocks
    than after the first, for the chapter's GPT shape with plain (not residual-scaled)
    initialisation, measured as the chapter does (seed 0 for the weights and for the input). The
    checker measures it the same way and accepts 2 % either side."""
    if answer is None:
        return not_answered("replace None with stds[-1] / stds[1] of models.gpt.residual_stream_stds for the 64-block model.")
    if isinstance(answer, bool) or not isinstance(answer, (int, float, np.integer, np.floating)) or not np.isfinite(answer):
        raise AnswerTypeError(f"answer must be a finite number (a ratio of two stds), got {answer!r}")
    plain = _residual_growth(False)
    if abs(float(answer) / plain - 1) <= 0.02:
        return verdict(True, f"{float(answer):.2f}× (measured: {plain:.2f}×, close to √64 = 8: each block adds an independent "
                             "contribution, so the variance grows in proportion to depth).")
    if abs(float(answer) / _residual_growth(True) - 1) <= 0.02:
        return verdict(False, "that is the residual-scaled model's growth; the exercise asks for plain initialisation.")
    return verdict(False, f"{float(answer):.2f} is not what the checker measured; divide the last std by the one after the "
                          "first block (stds[1]), not by the embeddings' (stds[0]).")
