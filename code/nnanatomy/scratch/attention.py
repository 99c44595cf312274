"""The Transformer in NumPy (forward pass): positional encoding, LayerNorm, the feed-forward
block, scaled dot-product and multi-head attention with masks, encoder and decoder layers.

The functions read their weights from a dict of arrays keyed exactly like the ``state_dict`` of
:class:`nnanatomy.models.transformer.Transformer`, so the same trained weights run here and in
PyTorch and the two outputs can be compared number by number. Weights follow PyTorch's layout,
``(out_features, in_features)``: a projection is ``x @ W.T + b``.

Masks are boolean and mean *blocked*: ``True`` where a query may not look at a key (the
convention of ``nn.MultiheadAttention``'s boolean ``attn_mask``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ._checks import as_float_array, check_positive_int

__all__ = [
    "causal_mask",
    "decoder_layer",
    "encoder_layer",
    "feed_forward",
    "gelu",
    "gpt_block",
    "layer_norm",
    "multi_head_attention",
    "padding_mask",
    "scaled_dot_product_attention",
    "scaled_dot_product_attention_backward",
    "sinusoidal_positional_encoding",
    "softmax",
    "transformer_forward",
]

Params = Mapping[str, np.ndarray]


def sinusoidal_positional_encoding(max_len: int, d_model: int) -> np.ndarray:
    """``(max_len, d_model)``: ``PE[pos, 2i] = sin(pos / 10000^(2i/d))``, ``PE[pos, 2i+1] = cos(...)``.

    Every position gets a unique pattern of sines and cosines whose wavelengths grow
    geometrically from 2π to 10000·2π across the dimensions; the pattern of position
    ``pos + k`` is a fixed rotation of that of ``pos``, so relative offsets are easy to read.
    """
    max_len, d_model = check_positive_int("max_len", max_len), check_positive_int("d_model", d_model)
    if d_model % 2:
        raise ValueError(f"d_model must be even (sin/cos pairs), got {d_model}")
    pos = np.arange(max_len)[:, None]  # (T, 1)
    two_i = np.arange(0, d_model, 2)[None, :]  # (1, d/2): the even dimensions 2i
    angle = pos / 10000.0 ** (two_i / d_model)
    pe = np.zeros((max_len, d_model))
    pe[:, 0::2] = np.sin(angle)
    pe[:, 1::2] = np.cos(angle)
    return pe


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Normalise every vector over its own features (the last axis), then scale and shift.

    Unlike batch normalisation, each token is normalised on its own: "like" and "eat" get their
    own mean and variance, independent of the rest of the batch and of padding.
    """
    x = as_float_array("x", x)
    if not eps > 0:
        raise ValueError(f"eps must be > 0 (it keeps the division away from 0), got {eps}")
    mean = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)  # biased, as PyTorch
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def feed_forward(x: np.ndarray, p: Params, prefix: str) -> np.ndarray:
    """``ReLU(x W1ᵀ + b1) W2ᵀ + b2``, applied to every position on its own: ``(…, d) → (…, d)``."""
    _weights(p, prefix, "linear1", "linear2")
    hidden = np.maximum(x @ p[f"{prefix}.linear1.weight"].T + p[f"{prefix}.linear1.bias"], 0.0)  # (…, d_ff)
    return hidden @ p[f"{prefix}.linear2.weight"].T + p[f"{prefix}.linear2.bias"]


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """``exp(x) / Σ exp(x)`` computed as ``exp(x − max x)``: the same value, without overflow.

    Entries of −∞ (masked positions) get probability exactly 0.
    """
    shifted = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=axis, keepdims=True)


def causal_mask(length: int) -> np.ndarray:
    """``(T, T)``, True above the diagonal: position i may look at positions 0…i only."""
    length = check_positive_int("length", length)
    return np.triu(np.ones((length, length), dtype=bool), k=1)


def padding_mask(ids: np.ndarray, pad_id: int) -> np.ndarray:
    """``(B, T)`` → ``(B, 1, 1, T)``: True at padded keys, broadcastable over heads and queries."""
    ids = _token_ids("ids", ids)
    if isinstance(pad_id, (bool, np.bool_)) or not isinstance(pad_id, (int, np.integer)):
        raise TypeError(f"pad_id must be an int, got {type(pad_id).__name__}")
    return (ids == pad_id)[:, None, None, :]


def _token_ids(name: str, ids: object) -> np.ndarray:
    ids = np.asarray(ids)
    if ids.ndim != 2 or ids.dtype.kind not in "iu":
        raise ValueError(f"{name} must be integer token ids (B, T), got dtype {ids.dtype} and shape {ids.shape}")
    return ids


def _bool_mask(mask: object) -> np.ndarray:
    if not isinstance(mask, np.ndarray) or mask.dtype != bool:
        raise TypeError(f"mask must be a bool NumPy array (True = blocked), got {getattr(mask, 'dtype', type(mask).__name__)}")
    return mask


def _weights(p: Params, prefix: str, *names: str) -> None:
    """Every ``{prefix}.{name}.weight``/``.bias`` present in ``p`` (a state dict as NumPy arrays)."""
    if not isinstance(p, Mapping):
        raise TypeError(f"p must be a mapping of parameter names to arrays (a state dict), got {type(p).__name__}")
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a str, got {type(prefix).__name__}")
    missing = [f"{prefix}.{n}.{kind}" for n in names for kind in ("weight", "bias") if f"{prefix}.{n}.{kind}" not in p]
    if missing:
        raise ValueError(f"p has no {missing[0]} (and {len(missing) - 1} more): is the prefix {prefix!r} right?")


def scaled_dot_product_attention(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``softmax(q kᵀ / √d_k + mask) v``.

    Shapes ``q (…, T_q, d_k)``, ``k (…, T_k, d_k)``, ``v (…, T_k, d_v)``; ``mask`` broadcastable to
    ``(…, T_q, T_k)``. Entry (i, j) of ``q kᵀ`` scores how much query i attends to key j;
    dividing by √d_k keeps the scores' variance near 1 so that the softmax does not saturate.
    Returns the output ``(…, T_q, d_v)`` — each row a weighted average of the values — and the
    attention weights ``(…, T_q, T_k)``, each row summing to 1.
    """
    q, k, v = as_float_array("q", q), as_float_array("k", k), as_float_array("v", v)
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"incompatible shapes q {q.shape}, k {k.shape}, v {v.shape}")
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])  # (…, T_q, T_k)
    if mask is not None:
        mask = np.broadcast_to(_bool_mask(mask), scores.shape)
        if mask.all(axis=-1).any():  # a row with no key left: its softmax is 0/0
            raise ValueError("a query has every key masked: attention over no keys is undefined (NaN)")
        scores = np.where(mask, -np.inf, scores)  # blocked: probability 0 after the softmax
    weights = softmax(scores, axis=-1)
    return weights @ v, weights


def scaled_dot_product_attention_backward(
    grad_out: np.ndarray, q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The gradients of a loss with respect to ``q``, ``k`` and ``v``, given ``grad_out = ∂L/∂out``
    for ``out = softmax(q kᵀ / √d_k + mask) v`` (the shapes of :func:`scaled_dot_product_attention`).

    With ``S = q kᵀ / √d_k``, ``P = softmax(S)`` and ``out = P v``:

    - ``∂L/∂v = Pᵀ · grad_out`` — each value receives the gradient of the outputs that read it,
      weighted by how much they read it;
    - ``∂L/∂P = grad_out · vᵀ``, and through the softmax of every row,
      ``∂L/∂S = P ⊙ (∂L/∂P − rowsum(∂L/∂P ⊙ P))`` — blocked entries have ``P = 0`` and get none;
    - ``∂L/∂q = ∂L/∂S · k / √d_k`` and ``∂L/∂k = (∂L/∂S)ᵀ · q / √d_k``.

    The forward pass is recomputed here (a training framework would keep ``P`` from it).
    """
    out, weights = scaled_dot_product_attention(q, k, v, mask)
    grad_out = as_float_array("grad_out", grad_out)
    if grad_out.shape != out.shape:
        raise ValueError(f"grad_out must have the output's shape {out.shape}, got {grad_out.shape}")
    q, k, v = as_float_array("q", q), as_float_array("k", k), as_float_array("v", v)
    scale = 1.0 / np.sqrt(q.shape[-1])
    grad_v = np.swapaxes(weights, -1, -2) @ grad_out  # (…, T_k, d_v)
    grad_p = grad_out @ np.swapaxes(v, -1, -2)  # (…, T_q, T_k)
    grad_s = weights * (grad_p - (grad_p * weights).sum(axis=-1, keepdims=True))  # the softmax's Jacobian, row by row
    grad_q = grad_s @ k * scale
    grad_k = np.swapaxes(grad_s, -1, -2) @ q * scale
    return grad_q, grad_k, grad_v


def multi_head_attention(
    x_q: np.ndarray, x_kv: np.ndarray, p: Params, prefix: str, num_heads: int, mask: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Project, split into heads, attend in every head in parallel, concatenate, project back.

    ``x_q (B, T_q, d)`` supplies the queries; ``x_kv (B, T_k, d)`` the keys and values — the same
    tensor for self-attention, the encoder's output for cross-attention. Returns the output
    ``(B, T_q, d)`` and the weights ``(B, heads, T_q, T_k)``.
    """
    x_q, x_kv = as_float_array("x_q", x_q, ndim=3), as_float_array("x_kv", x_kv, ndim=3)
    num_heads = check_positive_int("num_heads", num_heads)
    _weights(p, prefix, "q_proj", "k_proj", "v_proj", "out_proj")
    b, t_q, d = x_q.shape
    t_k = x_kv.shape[1]
    if d % num_heads:
        raise ValueError(f"d_model {d} is not divisible by num_heads {num_heads}")
    d_head = d // num_heads

    def project(x: np.ndarray, name: str, length: int) -> np.ndarray:
        y = x @ p[f"{prefix}.{name}.weight"].T + p[f"{prefix}.{name}.bias"]  # (B, T, d)
        return y.reshape(b, length, num_heads, d_head).transpose(0, 2, 1, 3)  # (B, H, T, d_head)

    q, k, v = project(x_q, "q_proj", t_q), project(x_kv, "k_proj", t_k), project(x_kv, "v_proj", t_k)
    heads, weights = scaled_dot_product_attention(q, k, v, mask)  # (B, H, T_q, d_head)
    concat = heads.transpose(0, 2, 1, 3).reshape(b, t_q, d)  # (B, T_q, d)
    return concat @ p[f"{prefix}.out_proj.weight"].T + p[f"{prefix}.out_proj.bias"], weights


def encoder_layer(x: np.ndarray, p: Params, prefix: str, num_heads: int, mask: np.ndarray | None) -> np.ndarray:
    """Post-LN encoder layer: ``y = LN(x + SelfAttn(x))``, ``out = LN(y + FFN(y))``."""
    attn, _ = multi_head_attention(x, x, p, f"{prefix}.self_attn", num_heads, mask)
    y = layer_norm(x + attn, p[f"{prefix}.norm1.weight"], p[f"{prefix}.norm1.bias"])
    return layer_norm(y + feed_forward(y, p, f"{prefix}.ff"), p[f"{prefix}.norm2.weight"], p[f"{prefix}.norm2.bias"])


def gelu(x: np.ndarray, approximate: str = "none") -> np.ndarray:
    """``x Φ(x)``, Φ the standard normal CDF (``"none"``), or GPT-2's tanh approximation
    ``0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))`` (``"tanh"``)."""
    x = as_float_array("x", x)
    if approximate == "tanh":
        return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3)))
    if approximate != "none":
        raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
    return x * 0.5 * (1.0 + _ERF(x / np.sqrt(2.0)).astype(float))


_ERF = np.frompyfunc(math.erf, 1, 1)


def gpt_block(x: np.ndarray, p: Params, prefix: str, num_heads: int, *, eps: float = 1e-5,
              gelu_approximate: str = "none") -> np.ndarray:
    """One pre-LN decoder block of chapter 06's GPT, ``(B, T, d) → (B, T, d)``:

    ``x = x + Attn(LN₁(x))`` with causal multi-head self-attention from one fused ``qkv_proj``,
    then ``x = x + FFN(LN₂(x))`` with ``FFN = down(GELU(up(·)))``. Weights are read from ``p`` as
    :class:`nnanatomy.models.gpt.DecoderBlock` names them (``{prefix}.attn.qkv_proj.weight``, …).
    """
    x = as_float_array("x", x)
    num_heads = check_positive_int("num_heads", num_heads)
    _weights(p, prefix, "ln1", "attn.qkv_proj", "attn.out_proj", "ln2", "ffn.up", "ffn.down")
    if x.ndim != 3 or x.shape[-1] % num_heads:
        raise ValueError(f"x must be (B, T, d) with d divisible by num_heads = {num_heads}, got shape {x.shape}")
    b, t, d = x.shape
    h = layer_norm(x, p[f"{prefix}.ln1.weight"], p[f"{prefix}.ln1.bias"], eps)
    qkv = h @ p[f"{prefix}.attn.qkv_proj.weight"].T + p[f"{prefix}.attn.qkv_proj.bias"]  # (B, T, 3d)
    q, k, v = (z.reshape(b, t, num_heads, d // num_heads).transpose(0, 2, 1, 3) for z in np.split(qkv, 3, axis=-1))
    out, _ = scaled_dot_product_attention(q, k, v, causal_mask(t))  # (B, H, T, d_head)
    attn = out.transpose(0, 2, 1, 3).reshape(b, t, d) @ p[f"{prefix}.attn.out_proj.weight"].T + p[f"{prefix}.attn.out_proj.bias"]
    x = x + attn
    h = layer_norm(x, p[f"{prefix}.ln2.weight"], p[f"{prefix}.ln2.bias"], eps)
    hidden = gelu(h @ p[f"{prefix}.ffn.up.weight"].T + p[f"{prefix}.ffn.up.bias"], gelu_approximate)
    return x + hidden @ p[f"{prefix}.ffn.down.weight"].T + p[f"{prefix}.ffn.down.bias"]


def decoder_layer(
    x: np.ndarray,
    memory: np.ndarray,
    p: Params,
    prefix: str,
    num_heads: int,
    self_mask: np.ndarray | None,
    memory_mask: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Post-LN decoder layer: masked self-attention, cross-attention on the encoder output, FFN.

    ``y = LN(x + SelfAttn(x, causal))``, ``z = LN(y + CrossAttn(y, memory))``,
    ``out = LN(z + FFN(z))``. Returns the output and the cross-attention weights.
    """
    attn, _ = multi_head_attention(x, x, p, f"{prefix}.self_attn", num_heads, self_mask)
    y = layer_norm(x + attn, p[f"{prefix}.norm1.weight"], p[f"{prefix}.norm1.bias"])
    cross, cross_weights = multi_head_attention(y, memory, p, f"{prefix}.cross_attn", num_heads, memory_mask)
    z = layer_norm(y + cross, p[f"{prefix}.norm2.weight"], p[f"{prefix}.norm2.bias"])
    out = layer_norm(z + feed_forward(z, p, f"{prefix}.ff"), p[f"{prefix}.norm3.weight"], p[f"{prefix}.norm3.bias"])
    return out, cross_weights


def transformer_forward(
    p: Params,
    src: np.ndarray,
    tgt: np.ndarray,
    *,
    num_heads: int,
    num_encoder_layers: int,
    num_decoder_layers: int,
    pad_id: int = 0,
    scale_embeddings: bool = True,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """The whole encoder–decoder: token ids ``src (B, S)``, ``tgt (B, T)`` → logits ``(B, T, V)``.

    src → embedding (× √d) + PE → encoder layers; tgt → embedding + PE → decoder layers (causal
    self-attention, cross-attention on the encoder output) → final LayerNorm → projection onto
    the target vocabulary. Also returns every decoder layer's cross-attention weights.
    """
    src, tgt = _token_ids("src", src), _token_ids("tgt", tgt)
    if not isinstance(scale_embeddings, (bool, np.bool_)):
        raise TypeError(f"scale_embeddings must be True or False, got {type(scale_embeddings).__name__}")
    d = p["src_embed.weight"].shape[1]
    scale = np.sqrt(d) if scale_embeddings else 1.0
    pe = sinusoidal_positional_encoding(max(src.shape[1], tgt.shape[1]), d)
    src_mask = padding_mask(src, pad_id)  # (B, 1, 1, S): no query looks at padding
    x = p["src_embed.weight"][src] * scale + pe[: src.shape[1]]  # (B, S, d)
    for i in range(num_encoder_layers):
        x = encoder_layer(x, p, f"encoder_layers.{i}", num_heads, src_mask)
    memory = x
    self_mask = causal_mask(tgt.shape[1])[None, None] | padding_mask(tgt, pad_id)  # (B, 1, T, T)
    y = p["tgt_embed.weight"][tgt] * scale + pe[: tgt.shape[1]]  # (B, T, d)
    cross = []
    for i in range(num_decoder_layers):
        y, w = decoder_layer(y, memory, p, f"decoder_layers.{i}", num_heads, self_mask, src_mask)
        cross.append(w)
    y = layer_norm(y, p["final_norm.weight"], p["final_norm.bias"])
    return y @ p["output_proj.weight"].T + p["output_proj.bias"], cross
