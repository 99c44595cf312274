"""Checkers for the exercises of chapter 11 (DiT)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..models.dit import DiT, DiTBlock, DiTConfig, PatchEmbed, modulate
from ._common import check_int
from ._report import AnswerTypeError, CheckResult, checker, not_answered, verdict

__all__ = ["check_adaln_parameters", "check_block_off", "check_modulate", "check_patch_shape", "check_unpatchify"]


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


def _mse_without(model: DiT, block: int | None) -> float:
    """Held-out ε-MSE of ``model`` with block ``block`` replaced by the identity (None: intact).
    A forward hook returns the block's input as its output; it is removed afterwards."""
    from ..experiments.dit import heldout_mse

    was_training = model.training
    handle = model.blocks[block].register_forward_hook(lambda module, args, out: args[0]) if block is not None else None
    try:
        return heldout_mse(model)
    finally:
        if handle is not None:
            handle.remove()
        model.train(was_training)


@checker
def check_block_off(model: Any, block: Any, answer: Any) -> CheckResult:
    """Exercise "Which block does the work?": the held-out ε-prediction MSE of the chapter's
    trained DiT when block ``block`` is switched off — its two gates set to zero, so that the block
    passes its input through unchanged, as adaLN-Zero starts it. The checker measures it by making
    the block the identity (a forward hook, removed afterwards; the model is left as it was), on the
    chapter's held-out digits, steps and noise, and accepts 0.5 % either side."""
    if answer is None:
        return not_answered("replace None with the held-out MSE you measured (a positive number).")
    if not isinstance(model, DiT) or model.config.conditioning != "adaln-zero" or model.config.image_size != 8:
        raise AnswerTypeError(f"model must be the chapter's trained DiT (adaLN-Zero, 8 × 8 digits), got {type(model).__name__}")
    depth = model.config.depth
    if isinstance(block, bool) or not isinstance(block, (int, np.integer)) or not 0 <= int(block) < depth:
        raise AnswerTypeError(f"block must be an int from 0 to {depth - 1}, got {block!r}")
    if isinstance(answer, bool) or not isinstance(answer, (int, float, np.integer, np.floating)) or not np.isfinite(answer):
        raise AnswerTypeError(f"answer must be a finite number (the held-out MSE), got {answer!r}")
    intact = _mse_without(model, None)
    off = _mse_without(model, int(block))
    answer = float(answer)
    if abs(answer - off) <= 0.005 * off:
        return verdict(True, f"{answer:.4f} (measured: {off:.4f}, against {intact:.4f} with every block: "
                             f"{off / intact:.2f} times the error without block {int(block)}).")
    if abs(answer - intact) <= 0.005 * intact:
        return verdict(False, "that is the MSE with every block on: the gates were not zeroed (set the gate_msa and "
                              "gate_mlp chunks of adaLN_modulation's output to zero, or pass the block's input through).")
    return verdict(False, f"{answer:.4f} is not what the checker measured; switch off blocks[{int(block)}] only, and measure "
                          "with heldout_mse on the chapter's held-out digits.")
