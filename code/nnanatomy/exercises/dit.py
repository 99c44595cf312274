"""Checkers for the exercises of chapter 11 (DiT)."""

from __future__ import annotations

from typing import Any

import torch

from ..models.dit import DiT, DiTBlock, DiTConfig, PatchEmbed, modulate
from ._common import check_int
from ._report import AnswerTypeError, CheckResult, checker, not_answered, verdict

__all__ = ["check_adaln_parameters", "check_modulate", "check_patch_shape", "check_unpatchify"]


@checker
def check_patch_shape(answer: Any) -> CheckResult:
    """Exercise 1: PatchEmbed(3 channels → 128, patch 4) on a (8, 3, 32, 32) batch — the source's example."""
    if answer is None:
        return not_answered("replace None with a tuple (B, N, D).")
    if not isinstance(answer, tuple) or len(answer) != 3:
        raise AnswerTypeError(f"answer must be a tuple of 3 ints, got {answer!r}")
    expected = tuple(PatchEmbed(3, 128, 4)(torch.zeros(8, 3, 32, 32)).shape)
    if tuple(answer) == expected:
        return verdict(True, f"{expected} — correct: (32/4)² = 64 patches, each a 128-dimensional token.")
    return verdict(False, f"{tuple(answer)} is not it: (32 // 4)² tokens of width 128 per image.")


@checker
def check_adaln_parameters(answer: Any) -> CheckResult:
    """Exercise 2: parameters of one DiT block's adaLN-Zero modulation at hidden size 64."""
    if answer is None:
        return not_answered("replace None with an int.")
    answer = check_int(answer)
    expected = sum(p.numel() for p in DiTBlock(64, 4).adaLN_modulation.parameters())
    if answer == expected:
        return verdict(True, f"{expected:,} — correct: Linear(64, 6·64) with bias, for 2 × (shift, scale, gate).")
    if answer == 64 * 6 * 64:
        return verdict(False, "add the bias of the Linear layer.")
    return verdict(False, f"{answer:,} is not it: SiLU has no parameters; Linear(D, 6D) produces 6 vectors of width D.")


@checker
def check_unpatchify(fn: Any) -> CheckResult:
    """Exercise 3: ``fn(tokens (B, N, p²·C), p, C)`` → image ``(B, C, H, W)``, as DiT.unpatchify."""
    if fn is None:
        return not_answered("replace None with your function.")
    if not callable(fn):
        raise AnswerTypeError(f"pass your function, got {type(fn).__name__}")
    dit = DiT(DiTConfig(image_size=8, in_channels=2, patch=2, hidden=32, depth=1, num_heads=4))
    tokens = torch.arange(3 * 16 * 8, dtype=torch.float32).reshape(3, 16, 8)
    expected = dit.unpatchify(tokens)
    got = torch.as_tensor(fn(tokens.clone(), 2, 2))
    if got.shape != expected.shape:
        return verdict(False, f"shape {tuple(got.shape)}, expected {tuple(expected.shape)}.")
    if not torch.equal(got, expected):
        return verdict(False, "the shape is right, the pixels are not where DiT puts them: token n is patch (n // g, n % g), "
                              "its vector ordered (row in patch, column in patch, channel).")
    return verdict(True, "equal to DiT.unpatchify.")


@checker
def check_modulate(fn: Any) -> CheckResult:
    """Exercise 4: ``fn(x (B, N, D), shift (B, D), scale (B, D))`` → ``x·(1 + scale) + shift``, per sample."""
    if fn is None:
        return not_answered("replace None with your function.")
    if not callable(fn):
        raise AnswerTypeError(f"pass your function, got {type(fn).__name__}")
    gen = torch.Generator().manual_seed(0)
    x, shift, scale = (torch.randn(shape, generator=gen) for shape in ((3, 5, 8), (3, 8), (3, 8)))
    expected = modulate(x, shift, scale)
    got = torch.as_tensor(fn(x.clone(), shift.clone(), scale.clone()))
    if got.shape != expected.shape:
        return verdict(False, f"shape {tuple(got.shape)}, expected {tuple(expected.shape)}: shift and scale are per sample, "
                              "the same for all N tokens — give them a token axis.")
    if torch.allclose(got, x * scale[:, None] + shift[:, None]):
        return verdict(False, "multiply by (1 + scale), not scale: a zero scale must leave x unchanged.")
    if not torch.allclose(got, expected, atol=1e-6):
        return verdict(False, "the shape is right, the values are not: x·(1 + scale) + shift, "
                              "with sample b's shift and scale applied to every token of sample b.")
    return verdict(True, "equal to nnanatomy.models.dit.modulate.")
