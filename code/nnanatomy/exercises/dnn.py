"""Checkers for the exercises of chapter 01 (DNN)."""

from __future__ import annotations

import math

import numpy as np
import torch

from ..models import MLP, MLPConfig
from ._common import build, check_class, check_int, require_methods
from ._report import CheckResult, checker, not_answered, verdict

__all__ = ["check_adamw", "check_leaky_relu", "check_param_count", "check_sigmoid_depth"]

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
