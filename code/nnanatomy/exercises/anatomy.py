"""Checkers for the exercises of appendix A1 (the anatomy lens)."""

from __future__ import annotations

from typing import Any

from ._common import check_int
from ._report import CheckResult, checker, not_answered, verdict

__all__ = ["check_attention_macs", "check_conv_macs", "check_conv_params"]


@checker
def check_conv_params(answer: Any) -> CheckResult:
    """Exercise 1: the parameters of ``nn.Conv2d(3, 64, 3)`` (with its default bias)."""
    if answer is None:
        return not_answered("replace None with an int.")
    answer = check_int(answer)
    if answer == 64 * (3 * 3 * 3 + 1):
        return verdict(True, "64 · (3 · 3 · 3 + 1) = 1,792 — correct: 1,728 weights and 64 biases.")
    if answer == 64 * 3 * 3 * 3:
        return verdict(False, "1,728 are the weights; nn.Conv2d has a bias per output channel unless bias=False.")
    return verdict(False, f"{answer:,} is not it: C_out · (C_in · k · k + 1).")


@checker
def check_conv_macs(answer: Any) -> CheckResult:
    """Exercise 2: the MACs of ``nn.Conv2d(64, 128, 3, padding=1)`` on a (1, 64, 56, 56) input."""
    if answer is None:
        return not_answered("replace None with an int.")
    answer = check_int(answer)
    expected = 128 * 56 * 56 * 64 * 3 * 3
    if answer == expected:
        return verdict(True, f"C_out · H_out · W_out · C_in · k · k = {expected:,} — correct (FLOPs: twice that).")
    if answer == 2 * expected:
        return verdict(False, "that is the FLOP count (2 per MAC); the question asks for multiply–accumulates.")
    if answer == 128 * 54 * 54 * 64 * 9:
        return verdict(False, "padding=1 keeps the 56 × 56 size: the output is 56 × 56, not 54 × 54.")
    return verdict(False, f"{answer:,} is not it: every output value costs C_in · k · k MACs.")


@checker
def check_attention_macs(answer: Any) -> CheckResult:
    """Exercise 3: the MACs of QKᵀ and of the weighted sum AV in one self-attention over T = 128
    tokens of width d = 256 (all heads together; the projections not counted)."""
    if answer is None:
        return not_answered("replace None with an int.")
    answer = check_int(answer)
    expected = 2 * 128 * 128 * 256
    if answer == expected:
        return verdict(True, f"2 · T² · d = {expected:,} — correct: quadratic in the sequence length, whatever the heads.")
    if answer == expected // 2:
        return verdict(False, "that is one of the two products: QKᵀ and AV both cost T² · d.")
    return verdict(False, f"{answer:,} is not it: QKᵀ is T × d times d × T, AV is T × T times T × d.")
