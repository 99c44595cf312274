"""A mixture-of-experts feed-forward layer in NumPy (chapter 07), the independent reference for
:class:`nnanatomy.models.moe.MoEFeedForward`: router, top-k with renormalised weights, expert
capacity (first come, first served), shared experts and the Switch load-balancing loss."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ._checks import as_float_array, check_positive_int
from .attention import gelu, softmax

__all__ = ["moe_feed_forward"]


def _expert(x: np.ndarray, p: Mapping[str, np.ndarray], prefix: str) -> np.ndarray:
    hidden = gelu(x @ p[f"{prefix}.up.weight"].T + p[f"{prefix}.up.bias"])
    return hidden @ p[f"{prefix}.down.weight"].T + p[f"{prefix}.down.bias"]


def moe_feed_forward(x: np.ndarray, p: Mapping[str, np.ndarray], prefix: str, top_k: int, *,
                     capacity_factor: float | None = None, renormalize: bool | None = None) -> tuple[np.ndarray, dict[str, np.ndarray | float]]:
    """``x (..., d) → (y (..., d), stats)``, with the weights read from ``p`` as
    :class:`~nnanatomy.models.moe.MoEFeedForward` names them (``{prefix}.router.gate.weight``,
    ``{prefix}.experts.{e}.up.weight``, …, ``{prefix}.shared.{s}.…`` when it has shared experts).

    Every token's router probabilities ``softmax(W_gate x)`` pick its ``top_k`` experts, whose
    probabilities are renormalised to sum to 1 (``renormalize``; by default only when
    ``top_k > 1`` — with one expert the weight is its probability, as in Switch); ``y`` is the weighted sum of those experts'
    outputs plus every shared expert's output. With a ``capacity_factor`` an expert takes at
    most ``ceil(factor · k · N / E)`` assignments, in token order; the rest are dropped.
    ``stats`` holds ``load`` (each expert's share of the assignments, before dropping),
    ``dropped`` (the share dropped), ``aux_loss`` (``E Σ f_i P_i``), ``expert_ids`` and ``weights``.
    """
    x = as_float_array("x", x)
    top_k = check_positive_int("top_k", top_k)
    if not isinstance(p, Mapping):
        raise TypeError(f"p must be a mapping of parameter names to arrays (a state dict), got {type(p).__name__}")
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a str, got {type(prefix).__name__}")
    gate_name = f"{prefix}.router.gate.weight"
    if gate_name not in p:
        raise ValueError(f"p has no {gate_name}: is the prefix {prefix!r} right?")
    gate = p[gate_name]
    num_experts, d = gate.shape
    if x.ndim < 1 or x.shape[-1] != d:
        raise ValueError(f"x must be (..., {d}) to match the router, got shape {x.shape}")
    if top_k > num_experts:
        raise ValueError(f"top_k must be at most the {num_experts} experts, got {top_k}")
    if capacity_factor is not None:
        if isinstance(capacity_factor, bool) or not isinstance(capacity_factor, (int, float)):
            raise TypeError(f"capacity_factor must be None or a number, got {type(capacity_factor).__name__}")
        if not math.isfinite(capacity_factor) or capacity_factor <= 0:
            raise ValueError(f"capacity_factor must be > 0, got {capacity_factor}")
    for e in range(num_experts):
        for name in ("up.weight", "up.bias", "down.weight", "down.bias"):
            if f"{prefix}.experts.{e}.{name}" not in p:
                raise ValueError(f"p has no {prefix}.experts.{e}.{name}, though the router scores {num_experts} experts")
    if renormalize is None:
        renormalize = top_k > 1
    if not isinstance(renormalize, bool):
        raise TypeError(f"renormalize must be None, True or False, got {renormalize!r}")
    tokens = x.reshape(-1, d)
    n = tokens.shape[0]
    probs = softmax(tokens @ gate.T)  # (N, E)
    ids = np.argsort(-probs, axis=-1, kind="stable")[:, :top_k]  # (N, k), most probable first
    top = np.take_along_axis(probs, ids, axis=-1)
    weights = top / top.sum(-1, keepdims=True) if renormalize else top

    y = np.zeros_like(tokens)
    s = 0
    while f"{prefix}.shared.{s}.up.weight" in p:  # shared experts: every token, weight 1
        y += _expert(tokens, p, f"{prefix}.shared.{s}")
        s += 1
    capacity = None if capacity_factor is None else math.ceil(capacity_factor * top_k * n / num_experts)
    counts = np.bincount(ids.reshape(-1), minlength=num_experts)
    kept = 0
    for e in range(num_experts):
        token_idx, slot = np.nonzero(ids == e)  # row-major: in token order
        if capacity is not None:
            token_idx, slot = token_idx[:capacity], slot[:capacity]
        kept += token_idx.size
        if token_idx.size:
            out = _expert(tokens[token_idx], p, f"{prefix}.experts.{e}")
            np.add.at(y, token_idx, out * weights[token_idx, slot][:, None])
    f = counts / counts.sum()
    stats = {"load": f, "dropped": 1.0 - kept / ids.size, "aux_loss": float(num_experts * (f * probs.mean(0)).sum()),
             "expert_ids": ids, "weights": weights}
    return y.reshape(x.shape), stats
