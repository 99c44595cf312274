"""Optimisers in NumPy: plain SGD and Adam with L2 weight decay, as PyTorch implements them.

Both take ``params``, a dict name → array (e.g. ``MLP.parameters()``), and update those arrays
*in place* in ``step(grads)``, where ``grads`` has the same keys.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ._checks import check_nonnegative

__all__ = ["SGD", "Adam"]


class _Optimizer:
    def __init__(self, params: Mapping[str, np.ndarray], lr: float) -> None:
        if not isinstance(params, Mapping) or not params:
            raise TypeError("params must be a non-empty dict of name → NumPy array (e.g. model.parameters())")
        for name, p in params.items():
            if not isinstance(p, np.ndarray) or not np.issubdtype(p.dtype, np.floating):
                raise TypeError(f"parameter {name!r} must be a floating NumPy array")
        self.params = dict(params)
        self.lr = check_nonnegative("lr", lr)
        self.t = 0  # number of steps taken

    def _checked(self, grads: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
        if not isinstance(grads, Mapping):
            raise TypeError(f"grads must be a dict of name → array, got {type(grads).__name__}")
        if set(grads) != set(self.params):
            raise ValueError(
                f"grads keys must match params: missing {sorted(set(self.params) - set(grads))}, "
                f"unexpected {sorted(set(grads) - set(self.params))}"
            )
        for name, g in grads.items():
            if np.shape(g) != self.params[name].shape:
                raise ValueError(f"grad {name!r} has shape {np.shape(g)}, parameter has {self.params[name].shape}")
        return grads


class SGD(_Optimizer):
    """``v ← μ·v + g`` (when momentum μ > 0), ``θ ← θ − lr·v``; with μ = 0, ``θ ← θ − lr·g``.

    ``weight_decay`` λ adds λθ to the gradient first (L2 regularisation), as ``torch.optim.SGD``.
    """

    def __init__(self, params: Mapping[str, np.ndarray], lr: float, momentum: float = 0.0, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        self.momentum = check_nonnegative("momentum", momentum)
        self.weight_decay = check_nonnegative("weight_decay", weight_decay)
        self.velocity: dict[str, np.ndarray] = {}

    def step(self, grads: Mapping[str, np.ndarray]) -> None:
        grads = self._checked(grads)
        self.t += 1
        for name, p in self.params.items():
            g = grads[name] + self.weight_decay * p if self.weight_decay else grads[name]
            if self.momentum:
                # PyTorch starts the buffer at the first gradient, not at zero.
                v = g.copy() if name not in self.velocity else self.momentum * self.velocity[name] + g
                self.velocity[name] = v
                g = v
            p -= self.lr * g


class Adam(_Optimizer):
    """Adam (Kingma & Ba, 2015) with L2 weight decay, step for step as ``torch.optim.Adam``.

    For every parameter θ with gradient g, at step t = 1, 2, ...::

        g     ← g + λ·θ                      # weight decay as L2: added to the gradient
        m     ← β1·m + (1 − β1)·g            # first moment: direction, with inertia
        v     ← β2·v + (1 − β2)·g²           # second moment: how much g fluctuates
        m̂     = m / (1 − β1^t)               # bias corrections: m and v start at 0
        v̂     = v / (1 − β2^t)
        θ     ← θ − lr · m̂ / (√v̂ + ε)
    """

    def __init__(
        self,
        params: Mapping[str, np.ndarray],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        for i, b in enumerate(betas):
            if not 0.0 <= check_nonnegative(f"betas[{i}]", b) < 1.0:
                raise ValueError(f"betas[{i}] must be in [0, 1), got {b}")
        self.beta1, self.beta2 = float(betas[0]), float(betas[1])
        self.eps = check_nonnegative("eps", eps)
        self.weight_decay = check_nonnegative("weight_decay", weight_decay)
        self.exp_avg = {name: np.zeros_like(p) for name, p in self.params.items()}  # m
        self.exp_avg_sq = {name: np.zeros_like(p) for name, p in self.params.items()}  # v

    def step(self, grads: Mapping[str, np.ndarray]) -> None:
        grads = self._checked(grads)
        self.t += 1
        bias_correction1 = 1.0 - self.beta1**self.t
        bias_correction2 = 1.0 - self.beta2**self.t
        step_size = self.lr / bias_correction1
        for name, p in self.params.items():
            g = grads[name]
            if self.weight_decay:
                g = g + self.weight_decay * p
            m, v = self.exp_avg[name], self.exp_avg_sq[name]
            m *= self.beta1
            m += (1.0 - self.beta1) * g
            v *= self.beta2
            v += (1.0 - self.beta2) * g * g
            denom = np.sqrt(v) / np.sqrt(bias_correction2) + self.eps
            p -= step_size * m / denom
