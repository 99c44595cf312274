"""Recurrent layers in NumPy: the vanilla RNN and the LSTM with backpropagation through time
(BPTT), and the GRU's forward pass. Batch first: ``x`` is ``(B, T, D)``, hidden states are
``(B, T, H)``.

Parameters carry the names of the source notes (``W_xh``, ``W_hh``, ``b_h``; ``W_xi``, ``W_hi``,
``b_i``, ...). ``load_torch_state_dict`` maps PyTorch's fused, gate-stacked tensors onto them
explicitly, so every comparison with ``nn.RNN``/``nn.LSTM``/``nn.GRU`` states which slice is which.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ._checks import as_float_array, check_positive_int
from .layers import sigmoid

__all__ = ["GRU", "LSTM", "RNN", "TORCH_GATE_ORDER"]

#: How PyTorch stacks the gates in ``weight_ih_l0`` / ``weight_hh_l0`` / biases, by rows.
TORCH_GATE_ORDER = {
    "LSTM": ("i", "f", "c", "o"),  # input, forget, cell candidate ("g" in PyTorch's docs), output
    "GRU": ("r", "z", "n"),  # reset, update, new
}


def _init(rng: np.random.Generator, hidden: int, shape: tuple[int, ...]) -> np.ndarray:
    bound = 1.0 / np.sqrt(hidden)  # PyTorch's U(−1/√H, 1/√H) for every recurrent parameter
    return rng.uniform(-bound, bound, shape)


class _Recurrent:
    """Shared plumbing: parameters by name, input checks, PyTorch state loading."""

    gates: tuple[str, ...] = ()
    torch_name = ""

    def __init__(self, input_size: int, hidden_size: int, *, seed: int = 0) -> None:
        self.input_size = check_positive_int("input_size", input_size)
        self.hidden_size = check_positive_int("hidden_size", hidden_size)
        rng = np.random.default_rng(seed)
        d, h = input_size, hidden_size
        self.params: dict[str, np.ndarray] = {}
        for g in self.gates:
            self.params[f"W_x{g}"] = _init(rng, h, (h, d))  # input → gate
            self.params[f"W_h{g}"] = _init(rng, h, (h, h))  # previous hidden state → gate
            self.params[f"b_{g}"] = _init(rng, h, (h,))
        self.grads: dict[str, np.ndarray] = {}
        self._cache: dict | None = None

    def _check_input(self, x: np.ndarray, h0: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        x = as_float_array("x", x, ndim=3)
        if x.shape[2] != self.input_size:
            raise ValueError(f"{type(self).__name__} expects x of shape (B, T, {self.input_size}), got {x.shape}")
        if h0 is None:
            h0 = np.zeros((x.shape[0], self.hidden_size), dtype=x.dtype)
        h0 = as_float_array("h0", h0, ndim=2)
        if h0.shape != (x.shape[0], self.hidden_size):
            raise ValueError(f"h0 must have shape (B, H) = {(x.shape[0], self.hidden_size)}, got {h0.shape}")
        return x, h0

    def _pre(self, g: str, x_t: np.ndarray, h_prev: np.ndarray) -> np.ndarray:
        """The affine part of gate g: x_t W_xgᵀ + h_prev W_hgᵀ + b_g, shape (B, H)."""
        p = self.params
        return x_t @ p[f"W_x{g}"].T + h_prev @ p[f"W_h{g}"].T + p[f"b_{g}"]

    def load_torch_state_dict(self, state: Mapping[str, object]) -> None:
        """Copy a single-layer ``nn.RNN``/``nn.LSTM``/``nn.GRU`` state dict into the named gates."""
        if not isinstance(state, Mapping):
            raise TypeError(f"state must be a mapping, got {type(state).__name__}")
        needed = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
        missing = [k for k in needed if k not in state]
        if missing:
            raise ValueError(f"state is missing {missing}: expected a one-layer {self.torch_name} with bias=True")
        h, d, k = self.hidden_size, self.input_size, len(self.gates)
        arrays = {name: np.asarray(state[name], dtype=np.float64) for name in needed}
        expected = {"weight_ih_l0": (k * h, d), "weight_hh_l0": (k * h, h), "bias_ih_l0": (k * h,), "bias_hh_l0": (k * h,)}
        for name, shape in expected.items():
            if arrays[name].shape != shape:
                raise ValueError(f"{name} must have shape {shape} for input {d}, hidden {h}, got {arrays[name].shape}")
        self._load_gates(arrays)

    def _load_gates(self, arrays: dict[str, np.ndarray]) -> None:
        h = self.hidden_size
        for slot, g in enumerate(self.gates):
            rows = slice(slot * h, (slot + 1) * h)
            self.params[f"W_x{g}"] = arrays["weight_ih_l0"][rows].copy()
            self.params[f"W_h{g}"] = arrays["weight_hh_l0"][rows].copy()
            # PyTorch has two biases per gate; inside σ/tanh only their sum matters
            self.params[f"b_{g}"] = arrays["bias_ih_l0"][rows] + arrays["bias_hh_l0"][rows]

    def torch_layout_grads(self) -> dict[str, np.ndarray]:
        """The gradients stacked as PyTorch stacks its parameters (both biases get ∂L/∂b)."""
        if not self.grads:
            raise RuntimeError("no gradients yet: call backward() first")
        g = self.grads
        stack = lambda kind: np.concatenate([g[f"{kind}{name}"] for name in self.gates])  # noqa: E731
        bias = stack("b_")
        return {"weight_ih_l0": stack("W_x"), "weight_hh_l0": stack("W_h"), "bias_ih_l0": bias, "bias_hh_l0": bias.copy()}

    def num_parameters(self) -> int:
        return sum(p.size for p in self.params.values())


class RNN(_Recurrent):
    """``h_t = tanh(x_t W_xhᵀ + h_{t−1} W_hhᵀ + b_h)``: one weight for the input, one for the past.

    The hidden state h_t is the network's running summary of the sequence so far: h_0 holds the
    first token, h_1 the first two, and so on. An output layer ``y_t = W_hy h_t + b_y`` is a
    separate :class:`~nnanatomy.scratch.Linear`.
    """

    gates = ("h",)
    torch_name = "nn.RNN"

    def forward(self, x: np.ndarray, h0: np.ndarray | None = None) -> np.ndarray:
        """x ``(B, T, D)`` → all hidden states ``(B, T, H)``, computed one step after another."""
        x, h0 = self._check_input(x, h0)
        states = np.empty((x.shape[0], x.shape[1], self.hidden_size), dtype=x.dtype)
        h = h0
        for t in range(x.shape[1]):  # strictly serial: step t needs h_{t−1}
            h = np.tanh(self._pre("h", x[:, t], h))
            states[:, t] = h
        self._cache = {"x": x, "h0": h0, "states": states}
        return states

    def backward(self, grad_states: np.ndarray, grad_last: np.ndarray | None = None) -> np.ndarray:
        """Backpropagation through time.

        Args:
            grad_states: ∂L/∂h_t arriving directly at every step (from the outputs), ``(B, T, H)``.
            grad_last: optional extra ∂L/∂h_T (e.g. when only the last state is used), ``(B, H)``.

        Returns ∂L/∂x ``(B, T, D)``; fills ``grads`` and ``grad_h``, the *total* ∂L/∂h_t at each
        step — what flows back through time, used to watch gradients vanish or explode.
        """
        if self._cache is None:
            raise RuntimeError("RNN.backward called before forward")
        x, h0, states = self._cache["x"], self._cache["h0"], self._cache["states"]
        grad_states = as_float_array("grad_states", grad_states, ndim=3)
        if grad_states.shape != states.shape:
            raise ValueError(f"grad_states must have shape {states.shape}, got {grad_states.shape}")
        p = self.params
        grads = {k: np.zeros_like(v) for k, v in p.items()}
        grad_x = np.zeros_like(x)
        self.grad_h = np.zeros_like(states)
        dh_next = np.zeros_like(h0) if grad_last is None else as_float_array("grad_last", grad_last, ndim=2).copy()
        for t in reversed(range(x.shape[1])):
            dh = grad_states[:, t] + dh_next  # from the output at t and from step t + 1
            self.grad_h[:, t] = dh
            h_prev = states[:, t - 1] if t > 0 else h0
            da = dh * (1.0 - states[:, t] ** 2)  # through tanh
            grads["W_xh"] += da.T @ x[:, t]
            grads["W_hh"] += da.T @ h_prev
            grads["b_h"] += da.sum(axis=0)
            grad_x[:, t] = da @ p["W_xh"]
            dh_next = da @ p["W_hh"]  # to step t − 1: one more factor diag(1 − h²)·W_hh
        self.grads = grads
        self.grad_h0 = dh_next
        return grad_x


class LSTM(_Recurrent):
    """The LSTM cell of the source notes, gate by gate::

        i  = σ(x W_xiᵀ + h_prev W_hiᵀ + b_i)      input gate: how much new content to write
        f  = σ(x W_xfᵀ + h_prev W_hfᵀ + b_f)      forget gate: how much old memory to keep
        o  = σ(x W_xoᵀ + h_prev W_hoᵀ + b_o)      output gate: how much memory to reveal
        c̃  = tanh(x W_xcᵀ + h_prev W_hcᵀ + b_c)   candidate content, the only thing written
        c  = f ⊙ c_prev + i ⊙ c̃                   cell state: long-term memory
        h  = o ⊙ tanh(c)                           hidden state: short-term, the output

    Four sets of (W_x, W_h, b) where the RNN has one. After ``forward``, ``self.trace`` holds
    every gate and state, ``(B, T, H)`` each, for plotting.
    """

    gates = ("i", "f", "c", "o")
    torch_name = "nn.LSTM"

    def forward(
        self, x: np.ndarray, h0: np.ndarray | None = None, c0: np.ndarray | None = None
    ) -> np.ndarray:
        """x ``(B, T, D)`` → hidden states ``(B, T, H)``; the cell states are in ``trace["c"]``."""
        x, h = self._check_input(x, h0)
        c = np.zeros_like(h) if c0 is None else as_float_array("c0", c0, ndim=2)
        if c.shape != h.shape:
            raise ValueError(f"c0 must have shape {h.shape}, got {c.shape}")
        B, T, H = x.shape[0], x.shape[1], self.hidden_size
        trace = {k: np.empty((B, T, H), dtype=x.dtype) for k in ("i", "f", "o", "c_tilde", "c", "h")}
        h_init, c_init = h, c
        for t in range(T):
            i = sigmoid(self._pre("i", x[:, t], h))
            f = sigmoid(self._pre("f", x[:, t], h))
            o = sigmoid(self._pre("o", x[:, t], h))
            c_tilde = np.tanh(self._pre("c", x[:, t], h))
            c = f * c + i * c_tilde  # forget part of the past, write part of the present
            h = o * np.tanh(c)  # expose part of the memory as the output
            for key, value in (("i", i), ("f", f), ("o", o), ("c_tilde", c_tilde), ("c", c), ("h", h)):
                trace[key][:, t] = value
        self.trace = trace
        self._cache = {"x": x, "h0": h_init, "c0": c_init}
        return trace["h"].copy()

    def backward(self, grad_states: np.ndarray, grad_last: np.ndarray | None = None) -> np.ndarray:
        """BPTT through the cell: the memory path ``c_t = f ⊙ c_{t−1} + …`` carries its gradient
        back multiplied only by the forget gate, not by a weight matrix and a squashing slope at
        every step — why the LSTM remembers. Returns ∂L/∂x; fills ``grads`` and ``grad_h``."""
        if self._cache is None:
            raise RuntimeError("LSTM.backward called before forward")
        x, h0, c0, tr = self._cache["x"], self._cache["h0"], self._cache["c0"], self.trace
        grad_states = as_float_array("grad_states", grad_states, ndim=3)
        if grad_states.shape != tr["h"].shape:
            raise ValueError(f"grad_states must have shape {tr['h'].shape}, got {grad_states.shape}")
        p = self.params
        grads = {k: np.zeros_like(v) for k, v in p.items()}
        grad_x = np.zeros_like(x)
        self.grad_h = np.zeros_like(tr["h"])
        dh_next = np.zeros_like(h0) if grad_last is None else as_float_array("grad_last", grad_last, ndim=2).copy()
        dc_next = np.zeros_like(c0)
        for t in reversed(range(x.shape[1])):
            i, f, o, c_tilde, c = (tr[k][:, t] for k in ("i", "f", "o", "c_tilde", "c"))
            h_prev = tr["h"][:, t - 1] if t > 0 else h0
            c_prev = tr["c"][:, t - 1] if t > 0 else c0
            dh = grad_states[:, t] + dh_next
            self.grad_h[:, t] = dh
            tanh_c = np.tanh(c)
            dc = dh * o * (1.0 - tanh_c**2) + dc_next  # via h = o·tanh(c), and from step t + 1
            pre_grads = {
                "i": dc * c_tilde * i * (1.0 - i),
                "f": dc * c_prev * f * (1.0 - f),
                "o": dh * tanh_c * o * (1.0 - o),
                "c": dc * i * (1.0 - c_tilde**2),
            }
            dh_next = np.zeros_like(dh)
            for g, da in pre_grads.items():
                grads[f"W_x{g}"] += da.T @ x[:, t]
                grads[f"W_h{g}"] += da.T @ h_prev
                grads[f"b_{g}"] += da.sum(axis=0)
                grad_x[:, t] += da @ p[f"W_x{g}"]
                dh_next += da @ p[f"W_h{g}"]
            dc_next = dc * f  # the memory path: only the forget gate in between
        self.grads = grads
        return grad_x


class GRU(_Recurrent):
    """The GRU (forward pass), as PyTorch defines it::

        r = σ(x W_xrᵀ + h W_hrᵀ + b_r)                 reset gate
        z = σ(x W_xzᵀ + h W_hzᵀ + b_z)                 update gate
        n = tanh(x W_xnᵀ + b_in + r ⊙ (h W_hnᵀ + b_hn)) new content
        h' = (1 − z) ⊙ n + z ⊙ h

    Three gates, no separate cell state: ``z`` interpolates between keeping the old state and
    taking the new one, playing the forget and input gates' roles at once. (The reset gate
    multiplies ``b_hn``, so for n the two PyTorch biases stay separate.)
    """

    gates = ("r", "z", "n")
    torch_name = "nn.GRU"

    def __init__(self, input_size: int, hidden_size: int, *, seed: int = 0) -> None:
        super().__init__(input_size, hidden_size, seed=seed)
        self.params["b_hn"] = np.zeros(hidden_size)  # the recurrent bias of n, inside r ⊙ (...)

    def _load_gates(self, arrays: dict[str, np.ndarray]) -> None:
        super()._load_gates(arrays)
        h = self.hidden_size
        self.params["b_n"] = arrays["bias_ih_l0"][2 * h :].copy()
        self.params["b_hn"] = arrays["bias_hh_l0"][2 * h :].copy()

    def forward(self, x: np.ndarray, h0: np.ndarray | None = None) -> np.ndarray:
        x, h = self._check_input(x, h0)
        p = self.params
        states = np.empty((x.shape[0], x.shape[1], self.hidden_size), dtype=x.dtype)
        for t in range(x.shape[1]):
            r = sigmoid(self._pre("r", x[:, t], h))
            z = sigmoid(self._pre("z", x[:, t], h))
            n = np.tanh(x[:, t] @ p["W_xn"].T + p["b_n"] + r * (h @ p["W_hn"].T + p["b_hn"]))
            h = (1.0 - z) * n + z * h
            states[:, t] = h
        return states
