"""Checkers for the exercises of chapter 01 (DNN)."""

from __future__ import annotations

import math

import numpy as np
import torch

from .. import scratch
from ..models import MLP, MLPConfig
from ._common import build, check_class, check_int, require_methods
from ._report import CheckResult, checker, not_answered, verdict

__all__ = ["check_adamw", "check_leaky_relu", "check_param_count", "check_sigmoid_depth", "check_xavier_relu_depth"]

PARAM_COUNT_SIZES = (3, 128, 64, 10)


@checker
def check_param_count(answer: int | None) -> CheckResult:
    """Exercise 1: the number of parameters of the MLP with layer widths 3 → 128 → 64 → 10."""
    if answer is None:
        return not_answered("replace None with your count (an int).")
    answer = check_int(answer)
    sizes = PARAM_COUNT_SIZES
    expected = MLP(MLPConfig(in_features=sizes[0], hidden=sizes[1:-1], out_features=sizes[-1])).num_parameters()
    if answer == expected:
        return verdict(True, f"{answer:,} parameters — correct.")
    weights_only = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    if answer == weights_only:
        return verdict(False, f"{answer:,} counts the weights only: every layer also has one bias per output.")
    return verdict(False, f"{answer:,} is not it. Each Linear(d_in, d_out) has d_in·d_out weights and d_out biases.")


@checker
def check_sigmoid_depth(answer: int | None) -> CheckResult:
    """Exercise 2: the fewest sigmoid layers after which the derivative product is surely < 1e-6."""
    if answer is None:
        return not_answered("replace None with a number of layers (an int).")
    answer = check_int(answer)
    expected = math.ceil(math.log(1e-6) / math.log(0.25))
    if answer == expected:
        return verdict(True, f"{answer} layers: 0.25^{answer} = {0.25**answer:.2e} < 1e-6 — correct.")
    if answer > 0 and 0.25**answer < 1e-6:
        return verdict(False, f"0.25^{answer} is below 1e-6, but fewer layers already are.")
    return verdict(False, f"0.25^{answer} = {0.25**answer:.2e} is not below 1e-6 yet.")


@checker
def check_leaky_relu(layer_class: type | None, negative_slope: float = 0.01, seed: int = 0) -> CheckResult:
    """Exercise 3: a NumPy LeakyReLU layer (forward and backward), compared with PyTorch in float64."""
    if layer_class is None:
        return not_answered("replace None with your LeakyReLU class.")
    layer = build(check_class(layer_class), negative_slope)
    require_methods(layer, "forward", "backward", like="nnanatomy.scratch.ReLU")
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(8, 5))
    grad_out = rng.normal(size=(8, 5))
    y = np.asarray(layer.forward(x.copy()))
    grad_in = np.asarray(layer.backward(grad_out.copy()))
    xt = torch.from_numpy(x).requires_grad_()
    yt = torch.nn.functional.leaky_relu(xt, negative_slope)
    yt.backward(torch.from_numpy(grad_out))
    if y.shape != x.shape or not np.allclose(y, yt.detach().numpy(), rtol=0, atol=1e-12):
        return verdict(False, "forward differs from torch.nn.functional.leaky_relu.")
    if grad_in.shape != x.shape or not np.allclose(grad_in, xt.grad.numpy(), rtol=0, atol=1e-12):
        return verdict(False, "forward is right, backward is not: ∂y/∂x is 1 for x > 0 and negative_slope elsewhere.")
    return verdict(True, "forward and backward equal PyTorch's LeakyReLU to 1e-12.")


@checker
def check_adamw(optimizer_class: type | None, steps: int = 50, seed: int = 0) -> CheckResult:
    """Exercise 4: AdamW in NumPy (decoupled weight decay), compared with ``torch.optim.AdamW``.

    Your class is built as ``optimizer_class(params, lr=..., weight_decay=...)`` on a dict of
    arrays and stepped with ``step(grads)``, like :class:`nnanatomy.scratch.Adam`.
    """
    if optimizer_class is None:
        return not_answered("replace None with your AdamW class.")
    check_class(optimizer_class)
    rng = np.random.default_rng(seed)
    target = rng.normal(size=(4, 3))
    theta = rng.normal(size=(4, 3))
    lr, wd = 0.05, 0.1
    ours = {"theta": theta.copy()}
    opt = build(optimizer_class, ours, lr=lr, weight_decay=wd)
    require_methods(opt, "step", like="nnanatomy.scratch.Adam")
    ref = torch.tensor(theta, requires_grad=True)
    ref_opt = torch.optim.AdamW([ref], lr=lr, weight_decay=wd)
    adam_ref = torch.tensor(theta, requires_grad=True)
    adam_opt = torch.optim.Adam([adam_ref], lr=lr, weight_decay=wd)
    for _ in range(steps):
        grad = 2 * (ours["theta"] - target)  # ∂/∂θ of Σ(θ − target)²
        opt.step({"theta": grad})
        for p, o in ((ref, ref_opt), (adam_ref, adam_opt)):
            o.zero_grad()
            ((p - torch.from_numpy(target)) ** 2).sum().backward()
            o.step()
    error = float(np.abs(ours["theta"] - ref.detach().numpy()).max())
    if error < 1e-10:
        return verdict(True, f"{steps} steps equal torch.optim.AdamW (max |Δθ| < 1e-10).")
    if float(np.abs(ours["theta"] - adam_ref.detach().numpy()).max()) < 1e-10:
        return verdict(False, "this is Adam with L2 decay (decay added to the gradient); AdamW decays θ directly.")
    return verdict(False, f"after {steps} steps θ differs from torch.optim.AdamW by up to {error:.3g}.")


XAVIER_DEPTH = dict(width=256, depth=30, batch=512)


def _xavier_relu_rms(seed: int = 0) -> np.ndarray:
    """Exercise 5's measurement: the RMS of every hidden activation of a 30-layer, 256-unit ReLU
    stack with Xavier weights, for 512 standard normal inputs (``seed`` seeds the weights)."""
    width, depth, batch = XAVIER_DEPTH["width"], XAVIER_DEPTH["depth"], XAVIER_DEPTH["batch"]
    net = scratch.MLP([width] * (depth + 1) + [1], activation="relu", seed=int(seed), init="xavier")
    a, rms = np.random.default_rng(0).normal(size=(batch, width)), []
    for layer in net.net[:-1]:
        a = layer.forward(a)
        if isinstance(layer, scratch.ReLU):
            rms.append(float(np.sqrt(np.mean(a**2))))
    return np.array(rms)


@checker
def check_xavier_relu_depth(answer: int | None) -> CheckResult:
    """Exercise 5: the first hidden layer of a 30-layer, 256-unit ReLU stack with Xavier weights
    whose activations' RMS is below 1 % of the first hidden layer's (measured, seeds 0–2)."""
    if answer is None:
        return not_answered("replace None with the number of the layer (an int; the first hidden layer is 1).")
    answer = check_int(answer)
    measured = set()
    for seed in range(3):
        rms = _xavier_relu_rms(seed)
        measured.add(int(np.argmax(rms < 0.01 * rms[0])) + 1)
    predicted = 1 + math.ceil(math.log(0.01) / math.log(math.sqrt(0.5)))
    if answer in measured:
        return verdict(True, f"layer {answer}: measured, and the variance argument predicts layer {predicted} "
                             f"(√(1/2) per layer: 0.707^{predicted - 1} = {math.sqrt(0.5) ** (predicted - 1):.4f} < 0.01).")
    if 1 <= answer <= XAVIER_DEPTH["depth"]:
        ratio = math.sqrt(0.5) ** (answer - 1)
        side = "has not fallen below 1 % yet" if ratio >= 0.01 else "had already fallen below 1 % at an earlier layer"
        return verdict(False, f"at layer {answer} the RMS, about 0.707^{answer - 1} = {ratio:.3f} of layer 1's, {side}.")
    return verdict(False, f"{answer} is not a hidden layer of the 30-layer stack (1 to 30).")
