"""A multi-layer perceptron in NumPy: forward, hand-derived backward, PyTorch-compatible names."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ._checks import as_float_array, check_positive_int
from .layers import ACTIVATIONS, Layer, Linear

__all__ = ["INITS", "MLP", "init_std"]

#: The named initialisations of :class:`MLP` (a float σ is accepted too: weights from N(0, σ²)).
INITS = ("torch", "lecun", "xavier", "he")


def init_std(init: str | float, fan_in: int, fan_out: int) -> float:
    """The standard deviation of the initial weights of a ``fan_in → fan_out`` dense layer.

    * ``"torch"``: PyTorch's default, U(−1/√fan_in, 1/√fan_in), whose std is 1/√(3·fan_in);
    * ``"lecun"``: 1/√fan_in, keeps Var(z) = Var(x) through a *linear* layer (LeCun et al., 1998);
    * ``"xavier"``: √(2/(fan_in + fan_out)), the compromise between the forward condition
      (1/fan_in) and the backward one (1/fan_out) (Glorot & Bengio, 2010);
    * ``"he"``: √(2/fan_in), which makes up for the half of the signal a ReLU sets to zero
      (He et al., 2015);
    * a number σ > 0: that std, whatever the width ("naive" initialisation).
    """
    fan_in, fan_out = check_positive_int("fan_in", fan_in), check_positive_int("fan_out", fan_out)
    if isinstance(init, str):
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS} or a positive float, got {init!r}")
        return {
            "torch": 1.0 / np.sqrt(3.0 * fan_in),
            "lecun": 1.0 / np.sqrt(fan_in),
            "xavier": np.sqrt(2.0 / (fan_in + fan_out)),
            "he": np.sqrt(2.0 / fan_in),
        }[init]
    if isinstance(init, bool) or not isinstance(init, (int, float, np.integer, np.floating)):
        raise TypeError(f"init must be one of {INITS} or a positive float, got {type(init).__name__}")
    if not (np.isfinite(init) and init > 0):
        raise ValueError(f"init as a number is the weights' std and must be finite and > 0, got {init}")
    return float(init)


class MLP:
    """``sizes = [d_in, h_1, ..., h_k, d_out]`` → Linear, act, Linear, act, ..., Linear.

    The layers sit in ``self.net`` at the same positions as in
    :class:`nnanatomy.models.mlp.MLP`'s ``nn.Sequential``, so parameter names match PyTorch's
    ``state_dict`` keys (``"net.0.weight"``, ``"net.0.bias"``, ``"net.2.weight"``, ...).

    Args:
        sizes: layer widths, at least ``[d_in, d_out]``.
        activation: ``"relu"``, ``"tanh"`` or ``"sigmoid"``, applied after every hidden layer.
        seed: seeds the initialisation.
        init: ``"torch"`` (default): every weight and bias from U(±1/√fan_in), as ``nn.Linear``.
            ``"lecun"``, ``"xavier"``, ``"he"`` or a float σ: weights from N(0, std²) with the
            std of :func:`init_std`, biases 0.
    """

    def __init__(self, sizes: Sequence[int], activation: str = "tanh", *, seed: int = 0,
                 init: str | float = "torch") -> None:
        if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence):
            raise TypeError(f"sizes must be a sequence of ints, got {type(sizes).__name__}")
        if len(sizes) < 2:
            raise ValueError(f"sizes needs at least an input and an output width, got {list(sizes)}")
        sizes = [check_positive_int(f"sizes[{i}]", s) for i, s in enumerate(sizes)]
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        init_std(init, 1, 1)  # checks init before anything is built
        rng = np.random.default_rng(seed)
        self.sizes = sizes
        self.activation = activation
        self.net: list[Layer] = []
        for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layer = Linear(d_in, d_out, rng=rng)
            if init != "torch":
                layer.params["weight"] = rng.normal(0.0, init_std(init, d_in, d_out), (d_out, d_in))
                layer.params["bias"] = np.zeros(d_out)
            self.net.append(layer)
            if i < len(sizes) - 2:
                self.net.append(ACTIVATIONS[activation]())

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x ``(N, d_in)`` → y ``(N, d_out)``, caching what backward needs."""
        x = as_float_array("x", x, ndim=2)
        for layer in self.net:
            x = layer.forward(x)
        return x

    __call__ = forward

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """∂L/∂y ``(N, d_out)`` → ∂L/∂x ``(N, d_in)``; fills every layer's ``grads``.

        The chain rule, applied layer by layer from the output back to the input.
        """
        for layer in reversed(self.net):
            grad_out = layer.backward(grad_out)
        return grad_out

    def parameters(self) -> dict[str, np.ndarray]:
        """Name → parameter array. The arrays are the layers' own: optimisers update them in place."""
        return {f"net.{i}.{k}": v for i, layer in enumerate(self.net) for k, v in layer.params.items()}

    def gradients(self) -> dict[str, np.ndarray]:
        """Name → ∂L/∂parameter from the last ``backward``."""
        missing = [f"net.{i}.{k}" for i, layer in enumerate(self.net) for k in layer.params if k not in layer.grads]
        if missing:
            raise RuntimeError(f"no gradients yet for {missing}: call backward() first")
        return {f"net.{i}.{k}": v for i, layer in enumerate(self.net) for k, v in layer.grads.items()}

    def num_parameters(self) -> int:
        return sum(p.size for p in self.parameters().values())

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the parameters, keyed like PyTorch's ``state_dict``."""
        return {k: v.copy() for k, v in self.parameters().items()}

    def load_state_dict(self, state: Mapping[str, object]) -> None:
        """Copy arrays (or tensors, via ``np.asarray``) into the parameters, checking names and shapes."""
        if not isinstance(state, Mapping):
            raise TypeError(f"state must be a mapping of name → array, got {type(state).__name__}")
        params = self.parameters()
        if set(state) != set(params):
            raise ValueError(
                f"state keys do not match: missing {sorted(set(params) - set(state))}, "
                f"unexpected {sorted(set(state) - set(params))}"
            )
        for name, target in params.items():
            value = np.asarray(state[name], dtype=target.dtype)
            if value.shape != target.shape:
                raise ValueError(f"{name}: expected shape {target.shape}, got {value.shape}")
            target[...] = value

    def __repr__(self) -> str:
        inner = ",\n".join(f"  ({i}): {layer!r}" for i, layer in enumerate(self.net))
        return f"MLP(\n{inner}\n)"
