"""Checkers for the exercises of chapter 09 (U-Net)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ..explore import receptive_field
from ..models.unet import UNet, UNetConfig
from ._report import AnswerTypeError, CheckResult, checker, not_answered, verdict

__all__ = ["check_bottleneck_shape", "check_bottleneck_receptive_field", "check_iou", "check_zeroed_skip"]


def _encoder(net: UNet) -> nn.Sequential:
    """The U-Net's encoder path as one sequence: inc, down1 … downN."""
    return nn.Sequential(net.inc, *(getattr(net, f"down{i}") for i in range(1, net.config.depth + 1)))


@checker
def check_bottleneck_shape(answer: Any) -> CheckResult:
    """Exercise 1: the bottleneck shape of the source's U-Net (base 64, depth 4, bilinear) on (1, 1, 64, 64)."""
    if answer is None:
        return not_answered("replace None with a tuple (N, C, H, W).")
    if not isinstance(answer, tuple) or len(answer) != 4:
        raise AnswerTypeError(f"answer must be a tuple of 4 ints, got {answer!r}")
    net = UNet(UNetConfig(in_channels=1, out_channels=2, base_channels=64, depth=4)).eval()
    with torch.no_grad():
        expected = tuple(_encoder(net)(torch.zeros(1, 1, 64, 64)).shape)
    if tuple(answer) == expected:
        return verdict(True, f"{expected} — correct: four halvings of 64, and 1024 channels halved for bilinear upsampling.")
    if tuple(answer[2:]) == expected[2:] and answer[1] == 1024:
        return verdict(False, "the size is right; with bilinear upsampling the bottleneck keeps 1024 // 2 channels.")
    return verdict(False, f"{tuple(answer)} is not it: each Down halves H and W and doubles the channels.")


@checker
def check_bottleneck_receptive_field(answer: Any) -> CheckResult:
    """Exercise 2: how many input pixels (one side) a bottleneck unit of the depth-4 U-Net sees."""
    if answer is None:
        return not_answered("replace None with an int.")
    if isinstance(answer, bool) or not isinstance(answer, (int, np.integer)):
        raise AnswerTypeError(f"answer must be an int, got {type(answer).__name__}")
    net = UNet(UNetConfig(in_channels=1, out_channels=2, base_channels=8, depth=4))
    expected = receptive_field(_encoder(net), torch.zeros(1, 1, 256, 256)).final[0]
    if answer == expected:
        return verdict(True, f"{expected} pixels — correct: each level's two 3×3 convolutions grow it by 4 jumps.")
    return verdict(False, f"{answer} is not it: apply r ← r + (k − 1)·j, j ← j·s through inc and the four Downs.")


@checker
def check_iou(fn: Any, seed: int = 0) -> CheckResult:
    """Exercise 3: intersection over union of one class between a prediction and a label map."""
    if fn is None:
        return not_answered("replace None with your function.")
    if not callable(fn):
        raise AnswerTypeError(f"pass your function, got {type(fn).__name__}")
    rng = np.random.default_rng(seed)
    pred, target = rng.integers(0, 3, (5, 16, 16)), rng.integers(0, 3, (5, 16, 16))
    for cls in range(3):
        p, t = pred == cls, target == cls
        expected = (p & t).sum() / (p | t).sum()
        got = float(fn(pred.copy(), target.copy(), cls))
        if not np.isclose(got, expected):
            if np.isclose(got, (p & t).sum() / t.sum()):
                return verdict(False, "that is the recall: divide by the union of prediction and label, not the label alone.")
            return verdict(False, f"class {cls}: expected {expected:.4f}, got {got:.4f}.")
    empty = float(fn(np.zeros((2, 4, 4), int), np.zeros((2, 4, 4), int), 2))
    if not np.isnan(empty):
        return verdict(False, "a class absent from both maps has no IoU: return NaN (0/0), so a mean can skip it.")
    return verdict(True, "IoU correct, including NaN for a class absent from both maps.")


def _outline_accuracy(model: UNet, level: str | None) -> tuple[float, float]:
    """Accuracy on the outline pixels and elsewhere of chapter 09's 500 test images, with the
    skip that ``level`` receives replaced by zeros (``None``: the model as it is)."""
    from ..experiments import segmentation

    images, labels = segmentation._data()[2:]
    hook = None
    if level is not None:
        hook = getattr(model, level).register_forward_pre_hook(lambda m, args: (args[0], torch.zeros_like(args[1]), *args[2:]))
    was_training = model.training
    try:
        model.eval()
        device = next(model.parameters()).device
        with torch.no_grad():
            pred = torch.cat([model(torch.as_tensor(images[i:i + 250], device=device)).argmax(1).cpu()
                              for i in range(0, len(images), 250)]).numpy()
    finally:
        if hook is not None:
            hook.remove()
        model.train(was_training)
    edge, right = segmentation.boundary_mask(labels), pred == labels
    return float(right[edge].mean()), float(right[~edge].mean())


@checker
def check_zeroed_skip(model: Any, level: Any, answer: Any) -> CheckResult:
    """Exercise "Which skip carries the outlines?": the outline accuracy of the chapter's trained
    U-Net on its 500 test images when the skip that decoder step ``level`` ("up1" … "upN")
    receives is replaced by zeros at inference. The checker measures it the same way (a forward
    pre-hook, removed afterwards; the model is left as it was) and accepts 0.002 either side."""
    if answer is None:
        return not_answered("replace None with the outline accuracy you measured (a share between 0 and 1).")
    if not isinstance(model, UNet):
        raise AnswerTypeError(f"model must be the chapter's trained UNet, got {type(model).__name__}")
    if not model.config.skips or model.config.in_channels != 1 or model.config.time_dim is not None:
        raise AnswerTypeError("model must be the chapter's segmentation U-Net with skips (one input channel, no time input)")
    levels = [f"up{j}" for j in range(1, model.config.depth + 1)]
    if not isinstance(level, str) or level not in levels:
        raise AnswerTypeError(f"level must be one of {levels}, got {level!r}")
    if isinstance(answer, bool) or not isinstance(answer, (int, float, np.integer, np.floating)) or not np.isfinite(answer):
        raise AnswerTypeError(f"answer must be a finite number (a share between 0 and 1), got {answer!r}")
    intact, _ = _outline_accuracy(model, None)
    zeroed, inner = _outline_accuracy(model, level)
    size = 32 // 2 ** (model.config.depth - int(level[2:]))
    if abs(float(answer) - zeroed) <= 0.002:
        return verdict(True, f"{float(answer):.4f} (measured: {zeroed:.4f}, against {intact:.4f} with every skip; "
                             f"elsewhere {inner:.4f}). {level} receives the {size} × {size} encoder map.")
    if abs(float(answer) / 100 - zeroed) <= 0.002:
        return verdict(False, "that looks like a percentage; give the share as a fraction between 0 and 1.")
    if abs(float(answer) - intact) <= 0.002:
        return verdict(False, "that is the accuracy with every skip in place: the hook did not zero the skip "
                              "(register it on the Up module, and return (deep, zeros_like(skip)) from it).")
    return verdict(False, f"{float(answer):.4f} is not what the checker measured; zero the second argument of "
                          f"{level}.forward, and count the test pixels of boundary_mask(y_test) only.")
