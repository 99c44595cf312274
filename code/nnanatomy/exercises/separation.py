"""Checkers for the exercises of chapter 12 (ASPP separation)."""

from __future__ import annotations

import math
from typing import Any

import torch

from ..models.uvr5 import Conv2DBNActiv, SeperableConv2DBNActiv, crop_center
from ._common import check_int
from ._report import AnswerTypeError, CheckResult, checker, not_answered, verdict

__all__ = ["check_crop_center", "check_separable_parameters", "check_windows"]


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@checker
def check_separable_parameters(answer: Any) -> CheckResult:
    """Exercise 1: parameters of the widest ASPP branch (separable, 512 → 512, 3×3) and of a plain
    3×3 Conv2DBNActiv in its place, as a tuple ``(separable, plain)``."""
    if answer is None:
        return not_answered("replace None with a tuple (separable, plain).")
    if not isinstance(answer, tuple) or len(answer) != 2:
        raise AnswerTypeError(f"answer must be a tuple of two ints, got {answer!r}")
    separable, plain = (check_int(a, "each count") for a in answer)
    want_sep, want_plain = _count(SeperableConv2DBNActiv(512, 512, 3, 1, 16, 16)), _count(Conv2DBNActiv(512, 512, 3, 1, 16, 16))
    if (separable, plain) == (want_sep, want_plain):
        return verdict(True, f"({want_sep:,}, {want_plain:,}) — correct: the separable branch costs "
                             f"{want_plain / want_sep:.1f}× fewer parameters (and MACs per pixel).")
    if separable == want_sep - 2 * 512 or plain == want_plain - 2 * 512:
        return verdict(False, "add the BatchNorm's γ and β (2 per output channel); the convolutions have no bias.")
    if separable != want_sep:
        return verdict(False, f"{separable:,} is not the separable count: a depthwise 3×3 (one filter per input channel, "
                              "9 weights each), then a pointwise 1×1 (512 × 512), then BatchNorm.")
    return verdict(False, f"{plain:,} is not the plain count: a 3×3 convolution from 512 to 512 channels, then BatchNorm.")


def _published_windows(n_frame: int, window: int, offset: int) -> tuple[int, int, int]:
    roi = window - 2 * offset
    return offset, roi - n_frame % roi + offset, math.ceil(n_frame / roi)


@checker
def check_windows(fn: Any) -> CheckResult:
    """Exercise 2: ``fn(n_frame, window, offset)`` → ``(pad_l, pad_r, n_window)`` as published."""
    if fn is None:
        return not_answered("replace None with your function.")
    if not callable(fn):
        raise AnswerTypeError(f"pass your function, got {type(fn).__name__}")
    for n_frame, window, offset in ((1000, 512, 128), (256, 512, 128), (100, 512, 128), (1025, 256, 64)):
        expected = _published_windows(n_frame, window, offset)
        got = tuple(int(v) for v in fn(n_frame, window, offset))
        if got != expected:
            return verdict(False, f"for {n_frame} frames, window {window}, offset {offset}: got {got}, expected {expected}. "
                                  "roi = window − 2·offset; the right pad fills the last window and adds its context.")
    return verdict(True, "the published padding: every frame lands in exactly one window's region of interest, "
                         "with offset frames of context on both sides.")


@checker
def check_crop_center(fn: Any) -> CheckResult:
    """Exercise 3: ``fn(h1, h2)`` → h1 cropped on the time axis to h2's width, centred."""
    if fn is None:
        return not_answered("replace None with your function.")
    if not callable(fn):
        raise AnswerTypeError(f"pass your function, got {type(fn).__name__}")
    h1 = torch.arange(2 * 3 * 4 * 11, dtype=torch.float32).reshape(2, 3, 4, 11)
    for width in (11, 8, 7, 1):
        h2 = torch.zeros(2, 5, 4, width)
        got = torch.as_tensor(fn(h1, h2))
        expected = crop_center(h1, h2)
        if got.shape != expected.shape:
            return verdict(False, f"width {width}: shape {tuple(got.shape)}, expected {tuple(expected.shape)} — crop the last axis only.")
        if not torch.equal(got, expected):
            return verdict(False, f"width {width}: the right size, the wrong frames — start at (w1 − w2) // 2.")
    return verdict(True, "equal to crop_center for even and odd differences.")
