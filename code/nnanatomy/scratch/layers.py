"""Dense layers and activation functions in NumPy, forward and hand-derived backward.

Every layer keeps what its backward pass needs from the forward pass (its *cache*) and
follows one protocol:

* ``forward(x)`` returns the output and remembers what backward will need;
* ``backward(grad_out)`` takes ∂L/∂output, stores ∂L/∂parameter in ``self.grads`` and
  returns ∂L/∂input;
* ``params`` and ``grads`` are dicts of arrays with the same keys (PyTorch's names).

Weights use PyTorch's layout, ``weight`` of shape ``(out_features, in_features)``, so that
a ``state_dict`` copies across unchanged and ``y = x @ weight.T + bias``.
"""

from __future__ import annotations

import numpy as np

from ._checks import as_float_array, check_positive_int

__all__ = ["ACTIVATIONS", "Dropout", "Flatten", "Layer", "Linear", "ReLU", "Sigmoid", "Tanh", "relu", "sigmoid", "tanh"]


class Layer:
    """Base class: a layer with no parameters unless a subclass adds some."""

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}

    def forward(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def backward(self, grad_out: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def _check_grad_out(self, grad_out: np.ndarray, expected_shape: tuple[int, ...]) -> np.ndarray:
        grad_out = as_float_array("grad_out", grad_out)
        if grad_out.shape != expected_shape:
            raise ValueError(
                f"{type(self).__name__}.backward: grad_out must have the forward output's shape "
                f"{expected_shape}, got {grad_out.shape}"
            )
        return grad_out


class Linear(Layer):
    """``y = x @ Wᵀ + b`` for ``x`` of shape ``(N, in_features)``.

    Initialised like ``torch.nn.Linear``: every weight and bias drawn from
    ``U(-1/√in_features, 1/√in_features)``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        bias: bool = True,
        rng: np.random.Generator | None = None,
        dtype: type = np.float64,
    ) -> None:
        super().__init__()
        self.in_features = check_positive_int("in_features", in_features)
        self.out_features = check_positive_int("out_features", out_features)
        rng = np.random.default_rng(0) if rng is None else _check_rng(rng)
        if not (isinstance(dtype, type) and np.issubdtype(dtype, np.floating)):
            raise TypeError(f"dtype must be a NumPy floating type such as np.float64, got {dtype!r}")
        bound = 1.0 / np.sqrt(in_features)
        self.params["weight"] = rng.uniform(-bound, bound, (out_features, in_features)).astype(dtype)
        if bias:
            self.params["bias"] = rng.uniform(-bound, bound, (out_features,)).astype(dtype)
        self._x: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_float_array("x", x, ndim=2)
        if x.shape[1] != self.in_features:
            raise ValueError(f"Linear expects x of shape (N, {self.in_features}), got {x.shape}")
        self._x = x  # (N, in)
        y = x @ self.params["weight"].T  # (N, out)
        if "bias" in self.params:
            y = y + self.params["bias"]
        return y

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        if self._x is None:
            raise RuntimeError("Linear.backward called before forward")
        grad_out = self._check_grad_out(grad_out, (self._x.shape[0], self.out_features))  # (N, out)
        self.grads["weight"] = grad_out.T @ self._x  # (out, in): sum over the batch of δ xᵀ
        if "bias" in self.params:
            self.grads["bias"] = grad_out.sum(axis=0)  # (out,)
        return grad_out @ self.params["weight"]  # (N, in)

    def __repr__(self) -> str:
        return f"Linear(in_features={self.in_features}, out_features={self.out_features}, bias={'bias' in self.params})"


def _check_rng(rng: object) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a np.random.Generator (np.random.default_rng(seed)) or None, got {type(rng).__name__}")
    return rng


def relu(x: np.ndarray) -> np.ndarray:
    """max(0, x), element-wise."""
    return np.maximum(x, 0.0)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + e^(−x)), computed without overflow for large |x|."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def tanh(x: np.ndarray) -> np.ndarray:
    """(e^x − e^(−x)) / (e^x + e^(−x)), element-wise."""
    return np.tanh(x)


class _Activation(Layer):
    """An element-wise function: the output has the input's shape."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_float_array("x", x)
        self._x = x
        self._y = self.fn(x)
        return self._y

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        if getattr(self, "_x", None) is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        grad_out = self._check_grad_out(grad_out, self._x.shape)
        return grad_out * self.derivative()

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ReLU(_Activation):
    """ReLU; its derivative is 1 where x > 0 and 0 elsewhere (PyTorch's choice at x = 0 too)."""

    fn = staticmethod(relu)

    def derivative(self) -> np.ndarray:
        return (self._x > 0).astype(self._x.dtype)


class Tanh(_Activation):
    """tanh; its derivative is 1 − tanh(x)², read off the cached output."""

    fn = staticmethod(tanh)

    def derivative(self) -> np.ndarray:
        return 1.0 - self._y**2


class Sigmoid(_Activation):
    """σ(x); its derivative is σ(x)(1 − σ(x)), at most 1/4 (at x = 0)."""

    fn = staticmethod(sigmoid)

    def derivative(self) -> np.ndarray:
        return self._y * (1.0 - self._y)


#: Activation name → layer class (the same names as :data:`nnanatomy.models.mlp.ACTIVATIONS`).
ACTIVATIONS: dict[str, type[_Activation]] = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid}


class Flatten(Layer):
    """``(N, C, H, W)`` → ``(N, C·H·W)``: the spatial layout is dropped so that a dense layer,
    which weighs every input globally, can follow. Backward restores the shape."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_float_array("x", x)
        if x.ndim < 2:
            raise ValueError(f"Flatten expects at least (N, features), got shape {x.shape}")
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        if getattr(self, "_shape", None) is None:
            raise RuntimeError("Flatten.backward called before forward")
        grad_out = self._check_grad_out(grad_out, (self._shape[0], int(np.prod(self._shape[1:]))))
        return grad_out.reshape(self._shape)

    def __repr__(self) -> str:
        return "Flatten()"


class Dropout(Layer):
    """Inverted dropout: in training, zero each element with probability ``p`` and scale the
    survivors by ``1/(1 − p)``, so that every element's *expected* value is unchanged and the
    network needs no rescaling at evaluation time, where dropout does nothing.

    The mask is drawn from a Bernoulli(1 − p) distribution by ``rng``, or passed in ``mask`` (to
    reproduce another library's draw).
    """

    def __init__(self, p: float = 0.5, *, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
            raise ValueError(f"p must be a probability in [0, 1), got {p!r}")
        self.p = float(p)
        self.rng = np.random.default_rng(0) if rng is None else _check_rng(rng)
        self.training = True
        self._scale: np.ndarray | float | None = None

    def forward(self, x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        x = as_float_array("x", x)
        if not self.training or self.p == 0.0:
            self._scale = 1.0
            return x
        if mask is None:
            mask = self.rng.random(x.shape) >= self.p  # keep with probability 1 − p
        elif np.shape(mask) != x.shape:
            raise ValueError(f"mask must have the input's shape {x.shape}, got {np.shape(mask)}")
        self._scale = np.asarray(mask, dtype=x.dtype) / (1.0 - self.p)
        return x * self._scale

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        if self._scale is None:
            raise RuntimeError("Dropout.backward called before forward")
        grad_out = as_float_array("grad_out", grad_out)
        return grad_out * self._scale

    def train(self, mode: bool = True) -> Dropout:
        self.training = bool(mode)
        return self

    def eval(self) -> Dropout:
        return self.train(False)

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"
