"""Gradient checking: compare a backward pass with finite differences, and grade the agreement
with the Neural Network Math Explorer's scale (``FACTS.md`` §3): relative error below 1e-7 is
*good*, below 1e-5 *acceptable*, anything larger *bad* — almost certainly a bug.

Works on PyTorch modules and functions (autograd is the analytic side) and on the NumPy layers of
:mod:`nnanatomy.scratch` (their hand-written ``backward`` is). Everything runs in float64.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ._copying import deepcopy_module
from .. import _guard
from .._checks import check_bool, check_finite, check_real
from ..data._checks import check_seed
from ..scratch.gradcheck import numerical_gradient, relative_error

__all__ = ["GradCheck", "grade", "gradcheck"]


def grade(error: float) -> str:
    """``"good"`` below 1e-7, ``"acceptable"`` below 1e-5, else ``"bad"`` (a relative error is >= 0;
    :class:`GradCheck` grades a NaN error, from a NaN gradient, as ``"bad"``)."""
    error = check_real("error", error, 0.0, finite=False)
    return "good" if error < 1e-7 else ("acceptable" if error < 1e-5 else "bad")


def _grade(error: float) -> str:
    return "bad" if error != error else grade(error)  # NaN: the gradient itself is NaN


@dataclass(frozen=True)
class GradCheck:
    errors: dict[str, float]  # tensor name → relative error between analytic and numerical gradient

    @property
    def worst(self) -> float:
        values = list(self.errors.values())
        return float("nan") if any(v != v for v in values) else max(values)

    @property
    def grade(self) -> str:
        return _grade(self.worst)

    def __str__(self) -> str:
        lines = [f"{name:24s} relative error {err:.1e}  {_grade(err)}" for name, err in self.errors.items()]
        return "\n".join(lines + [f"overall: {self.grade} (worst {self.worst:.1e})"])

    __repr__ = __str__


def _is_scratch_layer(obj: Any) -> bool:
    return callable(getattr(obj, "forward", None)) and callable(getattr(obj, "backward", None)) and isinstance(
        getattr(obj, "params", None), dict)


def gradcheck(fn: Any, *inputs: Any, eps: float = 1e-6, params: bool = True, seed: int = 0) -> GradCheck:
    """Check the gradients of ``fn`` at ``inputs``.

    Args:
        fn: an ``nn.Module``, a function of tensors, or a ``scratch`` layer (NumPy ``forward`` and
            ``backward``, parameters in ``params``).
        inputs: the point at which to check (tensors or NumPy arrays); float, copied to float64.
        params: also check the gradients of the module's or layer's parameters.

    The scalar checked is ``Σ fn(inputs) · u`` for a fixed random ``u``, so every output element
    contributes. Returns a :class:`GradCheck`.
    """
    if not inputs:
        raise ValueError("gradcheck needs at least one input")
    eps = check_real("eps", eps, 0.0, 1.0, low_open=True, high_open=True)
    params = check_bool("params", params)
    rng = np.random.default_rng(check_seed(seed))
    for i, value in enumerate(inputs):
        if not isinstance(value, (np.ndarray, torch.Tensor)):
            raise TypeError(f"input {i} must be a NumPy array or a tensor, got {type(value).__name__}")
        check_finite(f"input {i}", value.detach() if isinstance(value, torch.Tensor) else value)
    if _is_scratch_layer(fn):
        fn = copy.deepcopy(fn)  # forward may update state (BatchNorm's running statistics): check a copy
        x = np.array(inputs[0], dtype=np.float64)
        out = fn.forward(x.copy())
        upstream = rng.normal(size=np.shape(out))
        analytic = {"input": fn.backward(upstream)}
        if params:
            analytic.update({f"param:{k}": v.copy() for k, v in fn.grads.items()})
        objective = lambda: float(np.sum(fn.forward(x) * upstream))  # noqa: E731
        errors = {"input": relative_error(analytic["input"], numerical_gradient(objective, x, eps))}
        if params:
            for k, p in fn.params.items():
                errors[f"param:{k}"] = relative_error(analytic[f"param:{k}"], numerical_gradient(objective, p, eps))
        return GradCheck(errors)
    if not callable(fn):
        raise TypeError(f"fn must be a module, a function or a scratch layer, got {type(fn).__name__}")
    module = deepcopy_module(fn).double() if isinstance(fn, nn.Module) else fn
    tensors = []
    for i, value in enumerate(inputs):
        t = torch.as_tensor(value)
        if not t.is_floating_point():
            raise TypeError(f"input {i} must be floating point to be differentiated, got {t.dtype}")
        tensors.append(t.detach().double().clone().requires_grad_(True))
    out = _guard.call("fn", module, *tensors)
    if not isinstance(out, torch.Tensor):
        raise TypeError("fn must return a tensor")
    upstream = torch.tensor(rng.normal(size=tuple(out.shape)), dtype=torch.float64)
    named = {f"input{i}": t for i, t in enumerate(tensors)}
    if params and isinstance(module, nn.Module):
        named.update({f"param:{n}": p for n, p in module.named_parameters() if p.requires_grad})
    grads = torch.autograd.grad((out * upstream).sum(), list(named.values()), allow_unused=True)
    errors = {}
    with torch.no_grad():
        for (name, t), g in zip(named.items(), grads):
            analytic = np.zeros(tuple(t.shape)) if g is None else g.numpy()
            flat = t.data.numpy()  # a view: nudging it changes the tensor the function reads

            def objective(t=t) -> float:
                return float((module(*tensors) * upstream).sum())

            errors[name] = relative_error(analytic, numerical_gradient(objective, flat, eps))
    return GradCheck(errors)
