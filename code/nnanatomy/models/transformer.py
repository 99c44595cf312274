"""The encoder–decoder Transformer (Vaswani et al., 2017) in PyTorch (chapter 05).

The flow of the source notes: source tokens → embedding + positional encoding → encoder layers;
target tokens → embedding + positional encoding → decoder layers (masked self-attention,
cross-attention on the encoder's output) → final LayerNorm → projection onto the vocabulary.
Post-LN layers as in the original paper. Attention is written out (not ``nn.MultiheadAttention``)
so that its weights can be returned and plotted; it is tested equal to ``nn.MultiheadAttention``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .._checks import check_bool, check_int, check_real, outside, without_values

from ..runtime import eval_mode

__all__ = [
    "DecoderLayer",
    "EncoderLayer",
    "FeedForward",
    "MultiHeadAttention",
    "Transformer",
    "TransformerConfig",
    "causal_mask",
    "sinusoidal_positional_encoding",
]


def sinusoidal_positional_encoding(max_len: int, d_model: int) -> torch.Tensor:
    """``(max_len, d_model)``: ``PE[pos, 2i] = sin(pos / 10000^(2i/d))``, ``PE[pos, 2i+1] = cos(...)``."""
    if d_model % 2:
        raise ValueError(f"d_model must be even, got {d_model}")
    pos = torch.arange(max_len, dtype=torch.float64)[:, None]
    angle = pos / 10000.0 ** (torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    pe = torch.zeros(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle)
    return pe


def causal_mask(length: int, device: torch.device | None = None) -> torch.Tensor:
    """``(T, T)`` bool, True above the diagonal: query i may not look at keys after i."""
    return torch.triu(torch.ones(length, length, dtype=torch.bool, device=device), diagonal=1)


@dataclass
class TransformerConfig:
    src_vocab_size: int
    tgt_vocab_size: int
    d_model: int = 64
    num_heads: int = 4
    d_ff: int = 256
    num_encoder_layers: int = 2
    num_decoder_layers: int = 2
    max_len: int = 64
    dropout: float = 0.1
    pad_id: int = 0
    scale_embeddings: bool = True  # multiply embeddings by √d_model, as in the paper
    positional: bool = True  # False: no positional encoding (an ablation: attention then sees a set)
    norm_first: bool = False  # True: pre-LN layers, x + SubLayer(LN(x)); False: the paper's post-LN

    def __post_init__(self) -> None:
        for name in ("src_vocab_size", "tgt_vocab_size", "d_model", "num_heads", "d_ff", "max_len"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"TransformerConfig.{name} must be a positive int, got {value!r}")
        for name in ("num_encoder_layers", "num_decoder_layers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"TransformerConfig.{name} must be an int >= 0, got {value!r}")
        if self.d_model % self.num_heads:
            raise ValueError(f"d_model {self.d_model} must be divisible by num_heads {self.num_heads}")
        if self.d_model % 2:
            raise ValueError(f"d_model must be even for the sinusoidal encoding, got {self.d_model}")
        check_real("TransformerConfig.dropout", self.dropout, 0.0, 1.0, high_open=True)
        check_int("TransformerConfig.pad_id", self.pad_id, 0, maximum=min(self.src_vocab_size, self.tgt_vocab_size) - 1)
        check_bool("TransformerConfig.scale_embeddings", self.scale_embeddings)
        check_bool("TransformerConfig.positional", self.positional)
        check_bool("TransformerConfig.norm_first", self.norm_first)


class MultiHeadAttention(nn.Module):
    """``softmax(Q Kᵀ / √d_head + mask) V`` in ``num_heads`` heads of width ``d_model / num_heads``."""

    def __init__(self, d_model: int, num_heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        d_model, num_heads = check_int("d_model", d_model, 1), check_int("num_heads", num_heads, 1)
        dropout = check_real("dropout", dropout, 0.0, 1.0, high_open=True)
        if d_model % num_heads:
            raise ValueError(f"d_model {d_model} must be divisible by num_heads {num_heads}")
        self.d_model, self.num_heads, self.d_head = d_model, num_heads, d_model // num_heads
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        return x.view(b, t, self.num_heads, self.d_head).transpose(1, 2)  # (B, H, T, d_head)

    def forward(
        self,
        query: torch.Tensor,
        key_value: torch.Tensor,
        attn_mask: torch.Tensor | None = None,
        key_padding_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``query (B, T_q, d)``, ``key_value (B, T_k, d)``; ``attn_mask (T_q, T_k)`` and
        ``key_padding_mask (B, T_k)`` are bool, True = blocked. Returns ``(out (B, T_q, d),
        weights (B, H, T_q, T_k))``."""
        if query.ndim != 3 or key_value.ndim != 3 or query.shape[-1] != self.d_model or key_value.shape[-1] != self.d_model:
            raise ValueError(f"expected (B, T, {self.d_model}) inputs, got {tuple(query.shape)} and {tuple(key_value.shape)}")
        _check_not_fully_masked(query.shape[0], query.shape[1], key_value.shape[1], attn_mask, key_padding_mask)
        q, k, v = self._heads(self.q_proj(query)), self._heads(self.k_proj(key_value)), self._heads(self.v_proj(key_value))
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.d_head)  # (B, H, T_q, T_k)
        if attn_mask is not None:
            scores = scores.masked_fill(attn_mask, float("-inf"))
        if key_padding_mask is not None:
            scores = scores.masked_fill(key_padding_mask[:, None, None, :], float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        out = self.dropout(weights) @ v  # (B, H, T_q, d_head)
        out = out.transpose(1, 2).reshape(query.shape[0], query.shape[1], self.d_model)
        return self.out_proj(out), weights


def _check_not_fully_masked(batch: int, t_q: int, t_k: int, attn_mask: torch.Tensor | None,
                            key_padding_mask: torch.Tensor | None) -> None:
    """Bool masks of the right shapes, and no query left with every key blocked: the softmax over
    no keys is 0/0 = NaN, which would spread silently through every later layer."""
    blocked = None
    for name, mask, shape in (("attn_mask", attn_mask, (t_q, t_k)), ("key_padding_mask", key_padding_mask, (batch, t_k))):
        if mask is None:
            continue
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or tuple(mask.shape) != shape:
            raise ValueError(f"{name} must be a bool tensor of shape {shape} (True = blocked), "
                             f"got {getattr(mask, 'dtype', type(mask).__name__)} {tuple(getattr(mask, 'shape', ()))}")
        expanded = mask[None] if name == "attn_mask" else mask[:, None, :]
        blocked = expanded if blocked is None else blocked | expanded
    if blocked is not None and not without_values(blocked) and bool(blocked.all(-1).any()):  # meta: shapes only, no values
        raise ValueError("a query has every key masked (is a whole sequence padding?): attention over no keys is undefined "
                         "(its softmax is NaN); give every sequence at least one real token")


class FeedForward(nn.Module):
    """Position-wise ``Linear(d, d_ff) → ReLU → Linear(d_ff, d)``."""

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0) -> None:
        super().__init__()
        dropout = check_real("dropout", dropout, 0.0, 1.0, high_open=True)
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear2(self.dropout(torch.relu(self.linear1(x))))


class EncoderLayer(nn.Module):
    """``y = LN(x + SelfAttn(x))``, ``out = LN(y + FFN(y))``; with ``norm_first`` (pre-LN)
    ``y = x + SelfAttn(LN(x))``, ``out = y + FFN(LN(y))``."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.self_attn = MultiHeadAttention(config.d_model, config.num_heads, config.dropout)
        self.ff = FeedForward(config.d_model, config.d_ff, config.dropout)
        self.norm1, self.norm2 = nn.LayerNorm(config.d_model), nn.LayerNorm(config.d_model)
        self.dropout = nn.Dropout(config.dropout)
        self.norm_first = config.norm_first

    def forward(self, x: torch.Tensor, src_padding_mask: torch.Tensor | None) -> torch.Tensor:
        if self.norm_first:
            h = self.norm1(x)
            y = x + self.dropout(self.self_attn(h, h, key_padding_mask=src_padding_mask)[0])
            return y + self.dropout(self.ff(self.norm2(y)))
        attn, _ = self.self_attn(x, x, key_padding_mask=src_padding_mask)
        y = self.norm1(x + self.dropout(attn))
        return self.norm2(y + self.dropout(self.ff(y)))


class DecoderLayer(nn.Module):
    """Masked self-attention, cross-attention on the encoder's output, FFN — each with residual and LN."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.self_attn = MultiHeadAttention(config.d_model, config.num_heads, config.dropout)
        self.cross_attn = MultiHeadAttention(config.d_model, config.num_heads, config.dropout)
        self.ff = FeedForward(config.d_model, config.d_ff, config.dropout)
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(config.d_model) for _ in range(3))
        self.dropout = nn.Dropout(config.dropout)
        self.norm_first = config.norm_first

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor,
        tgt_mask: torch.Tensor | None,
        tgt_padding_mask: torch.Tensor | None,
        src_padding_mask: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.norm_first:
            h = self.norm1(x)
            y = x + self.dropout(self.self_attn(h, h, attn_mask=tgt_mask, key_padding_mask=tgt_padding_mask)[0])
            cross, cross_weights = self.cross_attn(self.norm2(y), memory, key_padding_mask=src_padding_mask)
            z = y + self.dropout(cross)
            return z + self.dropout(self.ff(self.norm3(z))), cross_weights
        attn, _ = self.self_attn(x, x, attn_mask=tgt_mask, key_padding_mask=tgt_padding_mask)
        y = self.norm1(x + self.dropout(attn))
        cross, cross_weights = self.cross_attn(y, memory, key_padding_mask=src_padding_mask)  # K, V: encoder
        z = self.norm2(y + self.dropout(cross))
        return self.norm3(z + self.dropout(self.ff(z))), cross_weights


class Transformer(nn.Module):
    """Encoder–decoder for sequence-to-sequence tasks such as translation."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        if not isinstance(config, TransformerConfig):
            raise TypeError(f"config must be a TransformerConfig, got {type(config).__name__}")
        self.config = config
        self.src_embed = nn.Embedding(config.src_vocab_size, config.d_model)
        self.tgt_embed = nn.Embedding(config.tgt_vocab_size, config.d_model)
        # float32 (MPS has no float64); a float64 model recomputes the table in float64, so it stays exact
        self.register_buffer("pe", sinusoidal_positional_encoding(config.max_len, config.d_model).float(), persistent=False)
        self.encoder_layers = nn.ModuleList(EncoderLayer(config) for _ in range(config.num_encoder_layers))
        self.decoder_layers = nn.ModuleList(DecoderLayer(config) for _ in range(config.num_decoder_layers))
        self.final_norm = nn.LayerNorm(config.d_model)
        # pre-LN leaves the encoder's output un-normalised: one LayerNorm closes its stack (as in nn.Transformer)
        self.encoder_norm = nn.LayerNorm(config.d_model) if config.norm_first else None
        self.output_proj = nn.Linear(config.d_model, config.tgt_vocab_size)
        self.dropout = nn.Dropout(config.dropout)

    def _embed(self, ids: torch.Tensor, table: nn.Embedding, vocab: int) -> torch.Tensor:
        if not isinstance(ids, torch.Tensor) or ids.dtype != torch.long or ids.ndim != 2:
            raise TypeError("token ids must be a (B, T) torch.long tensor")
        if ids.shape[1] > self.config.max_len:
            raise ValueError(f"sequence length {ids.shape[1]} exceeds max_len {self.config.max_len}")
        if outside(ids, 0, vocab):
            raise ValueError(f"token ids must be in [0, {vocab})")
        scale = math.sqrt(self.config.d_model) if self.config.scale_embeddings else 1.0
        if table.weight.dtype == torch.float64:
            pe = sinusoidal_positional_encoding(ids.shape[1], self.config.d_model).to(ids.device)
        else:
            pe = self.pe[: ids.shape[1]].to(table.weight.dtype)
        x = table(ids) * scale + pe if self.config.positional else table(ids) * scale
        return self.dropout(x)

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``src (B, S)`` → ``(memory (B, S, d), src_padding_mask (B, S))``."""
        pad = src == self.config.pad_id
        x = self._embed(src, self.src_embed, self.config.src_vocab_size)
        for layer in self.encoder_layers:
            x = layer(x, pad)
        if self.encoder_norm is not None:
            x = self.encoder_norm(x)
        return x, pad

    def decode(
        self, tgt: torch.Tensor, memory: torch.Tensor, src_padding_mask: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``tgt (B, T)`` → ``(logits (B, T, V), cross-attention weights per layer)``."""
        y = self._embed(tgt, self.tgt_embed, self.config.tgt_vocab_size)
        mask = causal_mask(tgt.shape[1], tgt.device)
        tgt_pad = tgt == self.config.pad_id
        cross = []
        for layer in self.decoder_layers:
            y, w = layer(y, memory, mask, tgt_pad, src_padding_mask)
            cross.append(w)
        return self.output_proj(self.final_norm(y)), cross

    def forward(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: ``tgt`` is the target shifted right (it starts with BOS); returns logits."""
        memory, pad = self.encode(src)
        logits, _ = self.decode(tgt, memory, pad)
        return logits

    @torch.no_grad()
    def greedy_decode(
        self, src: torch.Tensor, bos_id: int, eos_id: int, max_len: int | None = None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Autoregressive inference: start from BOS, append the most probable token, repeat
        until every sequence has produced EOS (or ``max_len``). Returns the ids ``(B, T)``
        (BOS first) and the last step's cross-attention weights per layer."""
        max_len = self.config.max_len if max_len is None else max_len
        with eval_mode(self):
            memory, pad = self.encode(src)
            ids = torch.full((src.shape[0], 1), bos_id, dtype=torch.long, device=src.device)
            finished = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
            cross: list[torch.Tensor] = []
            for _ in range(max_len - 1):
                logits, cross = self.decode(ids, memory, pad)
                next_id = logits[:, -1].argmax(dim=-1)
                next_id = torch.where(finished, torch.full_like(next_id, self.config.pad_id), next_id)
                ids = torch.cat([ids, next_id[:, None]], dim=1)
                finished |= next_id == eos_id
                if finished.all():
                    break
        return ids, cross

    @torch.no_grad()
    def beam_search(self, src: torch.Tensor, bos_id: int, eos_id: int, beam_size: int = 4,
                    max_len: int | None = None) -> torch.Tensor:
        """Keep the ``beam_size`` most probable prefixes of every sentence instead of one: at each
        step every kept prefix is extended by every word, and the ``beam_size`` extensions with the
        highest total log-probability survive. A prefix that has written EOS is finished; it keeps
        its score and competes with the unfinished ones (no length penalty). Stops when the best
        prefix of every sentence is finished (or at ``max_len``). Returns the best sequence of each
        sentence ``(B, T)``, BOS first and padding after EOS; ``beam_size=1`` is greedy decoding."""
        v = self.config.tgt_vocab_size
        bos_id, eos_id = check_int("bos_id", bos_id, 0, v - 1), check_int("eos_id", eos_id, 0, v - 1)
        k = check_int("beam_size", beam_size, 1, 256)
        max_len = self.config.max_len if max_len is None else check_int("max_len", max_len, 2, self.config.max_len)
        with eval_mode(self):
            memory, pad = self.encode(src)
            b = src.shape[0]
            memory, pad = memory.repeat_interleave(k, 0), pad.repeat_interleave(k, 0)  # (B·K, S, d)
            ids = torch.full((b * k, 1), bos_id, dtype=torch.long, device=src.device)
            scores = torch.full((b, k), float("-inf"), device=src.device)
            scores[:, 0] = 0.0  # the K copies of BOS must not become K identical beams
            finished = torch.zeros(b * k, dtype=torch.bool, device=src.device)
            for _ in range(max_len - 1):
                logits, _ = self.decode(ids, memory, pad)
                logp = torch.log_softmax(logits[:, -1].float(), dim=-1)  # (B·K, V)
                # a finished prefix can only be extended by padding, at no cost
                logp = torch.where(finished[:, None], torch.full_like(logp, float("-inf")), logp)
                logp[finished, self.config.pad_id] = 0.0
                total = (scores.reshape(-1, 1) + logp).reshape(b, k * v)
                scores, flat = total.topk(k, dim=-1)  # (B, K)
                parent = (flat // v) + torch.arange(b, device=src.device)[:, None] * k
                word = flat % v
                ids = torch.cat([ids[parent.reshape(-1)], word.reshape(-1, 1)], dim=1)
                finished = finished[parent.reshape(-1)] | (word.reshape(-1) == eos_id)
                if bool(finished.reshape(b, k)[:, 0].all()):  # the best of every sentence is finished
                    break
            best = ids.reshape(b, k, -1)[:, 0]  # topk sorts: beam 0 is the most probable
        return best

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
