"""Checkers for the exercises of appendix A4 (training on several devices)."""

from __future__ import annotations

from typing import Any

from ._common import check_int
from ._report import CheckResult, checker, not_answered, verdict

__all__ = ["check_allreduce_bytes", "check_fsdp_bytes", "check_global_batch"]

PARAMS = 10_000_000  # the model of exercises 1 and 2


@checker
def check_allreduce_bytes(answer: Any) -> CheckResult:
    """Exercise 1: bytes each of 8 GPUs sends in a ring all-reduce of the float32 gradients of a
    10-million-parameter model."""
    if answer is None:
        return not_answered("replace None with an int (bytes).")
    answer = check_int(answer)
    gradient = 4 * PARAMS
    expected = 2 * 7 * gradient // 8
    if answer == expected:
        return verdict(True, f"2·(N−1)/N · 4P = {expected:,} bytes — correct: nearly twice the gradient, whatever N.")
    if answer == gradient:
        return verdict(False, "that is the gradient itself; a ring all-reduce sends each chunk twice (reduce-scatter, then all-gather), less 1/N.")
    if answer == 2 * gradient:
        return verdict(False, "close: each GPU keeps one of the N chunks, so the factor is 2·(N−1)/N, not 2.")
    return verdict(False, f"{answer:,} is not it: the gradient has 4·P bytes; a ring all-reduce sends 2·(N−1)/N of it.")


@checker
def check_fsdp_bytes(answer: Any) -> CheckResult:
    """Exercise 2: bytes of parameters, gradients and Adam state per GPU when the 10-million-
    parameter float32 model is fully sharded over 8 GPUs (activations not counted)."""
    if answer is None:
        return not_answered("replace None with an int (bytes).")
    answer = check_int(answer)
    expected = 16 * PARAMS // 8
    if answer == expected:
        return verdict(True, f"(4 + 4 + 8)·P / N = {expected:,} bytes — correct: the replicated 16·P, divided by the 8 GPUs.")
    if answer == 16 * PARAMS:
        return verdict(False, "that is what every GPU holds without sharding (data parallelism); FSDP divides it by N.")
    if answer == 12 * PARAMS // 8:
        return verdict(False, "Adam keeps two tensors per parameter (m and v): 8 bytes, not 4.")
    return verdict(False, f"{answer:,} is not it: parameters 4P, gradients 4P, Adam's m and v 8P — all divided by N.")


@checker
def check_global_batch(answer: Any) -> CheckResult:
    """Exercise 3: the global batch of 4 nodes × 8 GPUs, 16 sequences per micro-batch, 4 micro-batches per step."""
    if answer is None:
        return not_answered("replace None with an int.")
    answer = check_int(answer)
    expected = 4 * 8 * 16 * 4
    if answer == expected:
        return verdict(True, f"{expected:,} sequences per optimiser step — correct.")
    if answer == 4 * 8 * 16:
        return verdict(False, "you left out the accumulation: 4 micro-batches are summed before each step.")
    return verdict(False, f"{answer:,} is not it: nodes × GPUs per node × micro-batch × micro-batches per step.")
