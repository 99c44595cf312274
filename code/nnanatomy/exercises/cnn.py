"""Checkers for the exercises of chapter 02 (CNN)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..explore import conv_geometry, receptive_field
from ._common import build, check_class, check_int, require_methods
from ._report import AnswerTypeError, CheckResult, checker, not_answered, verdict

__all__ = ["check_avgpool", "check_conv_output_shape", "check_receptive_field", "check_shift_drop"]


@checker
def check_conv_output_shape(answer: Any) -> CheckResult:
    """Exercise 1: the output shape of Conv2d(3, 16, kernel_size=5, stride=2, padding=1) on (1, 3, 64, 64)."""
    if answer is None:
        return not_answered("replace None with a tuple (N, C, H, W).")
    if not isinstance(answer, tuple) or len(answer) != 4:
        raise AnswerTypeError(f"answer must be a tuple of 4 ints (N, C, H, W), got {answer!r}")
    geo = conv_geometry(64, 64, 3, 16, 5, stride=2, padding=1)
    expected = (1, 16, geo.out_height, geo.out_width)
    if tuple(answer) == expected:
        return verdict(True, f"{expected} — correct: floor((64 + 2 − 5) / 2) + 1 = {geo.out_height}.")
    if answer[1] != 16:
        return verdict(False, "the channel count of the output is the number of kernels, out_channels.")
    return verdict(False, f"{tuple(answer)} is not it: apply floor((W − K + 2P) / S) + 1 to each spatial axis.")


@checker
def check_receptive_field(answer: Any) -> CheckResult:
    """Exercise 2: the receptive field of three 3×3 convolutions, the second with stride 2."""
    if answer is None:
        return not_answered("replace None with the side length in pixels (an int).")
    answer = check_int(answer)
    stack = torch.nn.Sequential(
        torch.nn.Conv2d(1, 1, 3, padding=1), torch.nn.Conv2d(1, 1, 3, stride=2, padding=1), torch.nn.Conv2d(1, 1, 3, padding=1)
    )
    expected = receptive_field(stack, torch.zeros(1, 1, 32, 32)).final[0]
    if answer == expected:
        return verdict(True, f"{expected}×{expected} — correct: 3, then 5, then 5 + 2·2 = 9 since the stride doubles the jump.")
    if answer == 7:
        return verdict(False, "7 ignores the stride: after a stride-2 layer, each further kernel step covers 2 input pixels.")
    return verdict(False, f"{answer} is not it: use r ← r + (k − 1)·j and j ← j·s, layer by layer.")


@checker
def check_avgpool(layer_class: type | None, seed: int = 0) -> CheckResult:
    """Exercise 3: a NumPy AvgPool2D(kernel_size=2) layer, forward and backward, against PyTorch."""
    if layer_class is None:
        return not_answered("replace None with your AvgPool2D class.")
    layer = build(check_class(layer_class), 2)
    require_methods(layer, "forward", "backward", like="nnanatomy.scratch.MaxPool2D")
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2, 3, 6, 8))
    grad_out = rng.normal(size=(2, 3, 3, 4))
    xt = torch.from_numpy(x).requires_grad_()
    ref = F.avg_pool2d(xt, 2)
    ref.backward(torch.from_numpy(grad_out))
    y = np.asarray(layer.forward(x.copy()))
    if y.shape != ref.shape or not np.allclose(y, ref.detach().numpy(), rtol=0, atol=1e-12):
        return verdict(False, f"forward differs from F.avg_pool2d (expected shape {tuple(ref.shape)}, got {y.shape}).")
    g = np.asarray(layer.backward(grad_out.copy()))
    if g.shape != x.shape or not np.allclose(g, xt.grad.numpy(), rtol=0, atol=1e-12):
        return verdict(False, "forward is right, backward is not: each input of a window gets 1/4 of that window's gradient.")
    return verdict(True, "forward and backward equal F.avg_pool2d to 1e-12.")


@checker
def check_shift_drop(answer: float | None, model: Any) -> CheckResult:
    """Exercise: the test accuracy, in percentage points, that ``model`` (the chapter's MLP
    baseline) loses when every test digit moves one pixel to the right. The checker measures the
    model it is given the same way and accepts an answer within 0.5 points of its own."""
    from .. import data
    from ..experiments import digits as digit_lab

    if answer is None:
        return not_answered("replace None with the drop in percentage points (a float, e.g. 12.5), and my_mlp with your model.")
    if not isinstance(model, torch.nn.Module):
        raise AnswerTypeError(f"model must be your trained classifier (a torch.nn.Module), got {type(model).__name__}")
    if isinstance(answer, bool) or not isinstance(answer, (int, float, np.integer, np.floating)) or not np.isfinite(answer):
        raise AnswerTypeError(f"answer must be a finite number of percentage points, got {answer!r}")
    split = data.digits(seed=0)
    before = digit_lab.accuracy(model, split.x_test, split.y_test)
    after = digit_lab.accuracy(model, digit_lab.shift(split.x_test, 1, 0), split.y_test)
    drop = 100 * (before - after)
    if abs(float(answer) - drop) <= 0.5:
        verdict_text = f"{float(answer):.1f} points: the model falls from {before:.1%} to {after:.1%}"
        if drop > 10:
            verdict_text += (" — a dense layer has one weight per pixel position, so strokes one pixel over meet"
                             " weights that never saw them.")
        return verdict(True, verdict_text)
    if 0 < float(answer) <= 1 and drop > 1:
        return verdict(False, f"{answer} looks like a fraction; give percentage points (the checker measured {drop:.1f}).")
    return verdict(False, f"{float(answer):.1f} points is not what the checker measured on this model; compare "
                          "digit_lab.accuracy on split.x_test and on digit_lab.shift(split.x_test, 1, 0).")
