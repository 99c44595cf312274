"""An LSTM encoder–decoder with additive attention (Bahdanau, Cho & Bengio, 2015) in PyTorch
(chapter 04, the bridge to chapter 05's Transformer).

The encoder is a bidirectional LSTM over the source words; its state at word j,
``h_j = [h→_j ; h←_j]``, describes the word in both directions of its context. The decoder is
an LSTM cell that writes the target one word at a time. Before each step it scores every
source position against its previous state ``s``,

    e_j = vᵀ tanh(W s + U h_j),      α = softmax(e) over the real source words,      c = Σ_j α_j h_j,

and reads the *context* ``c`` with the previous word. Without attention (``attention=False``)
the context is one fixed vector, the encoder's two final states, at every step: the
encoder–decoder of Sutskever et al. (2014) and Cho et al. (2014), whose whole source must pass
through that vector. Both variants have the same layers and almost the same parameters (the
attention adds ``W``, ``U`` and ``v``), so their difference is the attention.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .._checks import check_bool, check_int, outside, without_values
from ..runtime import eval_mode

__all__ = ["AdditiveAttention", "Seq2Seq", "Seq2SeqConfig"]


@dataclass
class Seq2SeqConfig:
    src_vocab_size: int
    tgt_vocab_size: int
    embed_dim: int = 32
    hidden_size: int = 64  # per direction in the encoder; the decoder's state has this size too
    attention: bool = True  # False: a fixed context (the encoder's final states) at every step
    pad_id: int = 0

    def __post_init__(self) -> None:
        for name in ("src_vocab_size", "tgt_vocab_size", "embed_dim", "hidden_size"):
            check_int(f"Seq2SeqConfig.{name}", getattr(self, name), 1)
        check_bool("Seq2SeqConfig.attention", self.attention)
        check_int("Seq2SeqConfig.pad_id", self.pad_id, 0, maximum=min(self.src_vocab_size, self.tgt_vocab_size) - 1)


class AdditiveAttention(nn.Module):
    """``e_j = vᵀ tanh(W s + U h_j)``; returns the context ``Σ α_j h_j`` and the weights α."""

    def __init__(self, query_size: int, key_size: int, attn_size: int) -> None:
        super().__init__()
        self.w = nn.Linear(query_size, attn_size, bias=False)
        self.u = nn.Linear(key_size, attn_size)
        self.v = nn.Linear(attn_size, 1, bias=False)

    def forward(self, query: torch.Tensor, keys: torch.Tensor, projected_keys: torch.Tensor,
                padding: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``query (B, Q)``, ``keys (B, S, K)``, ``projected_keys = U keys (B, S, A)`` (computed once
        per sentence), ``padding (B, S)`` True on padding → ``(context (B, K), weights (B, S))``."""
        scores = self.v(torch.tanh(self.w(query)[:, None] + projected_keys)).squeeze(-1)  # (B, S)
        weights = torch.softmax(scores.masked_fill(padding, float("-inf")), dim=-1)
        return (weights[:, :, None] * keys).sum(1), weights


class Seq2Seq(nn.Module):
    """Bidirectional-LSTM encoder, LSTM-cell decoder, with or without additive attention."""

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        if not isinstance(config, Seq2SeqConfig):
            raise TypeError(f"config must be a Seq2SeqConfig, got {type(config).__name__}")
        self.config = config
        e, h = config.embed_dim, config.hidden_size
        self.src_embed = nn.Embedding(config.src_vocab_size, e, padding_idx=config.pad_id)
        self.tgt_embed = nn.Embedding(config.tgt_vocab_size, e, padding_idx=config.pad_id)
        self.encoder = nn.LSTM(e, h, batch_first=True, bidirectional=True)
        self.init_state = nn.Linear(2 * h, 2 * h)  # the encoder's final states → the decoder's (h, c)
        self.attention = AdditiveAttention(h, 2 * h, h) if config.attention else None
        self.decoder = nn.LSTMCell(e + 2 * h, h)
        self.output = nn.Linear(h + 2 * h + e, config.tgt_vocab_size)  # from [s_t ; c_t ; previous word]

    def _check_ids(self, ids: torch.Tensor, vocab: int, name: str) -> None:
        if not isinstance(ids, torch.Tensor) or ids.dtype != torch.long or ids.ndim != 2 or ids.shape[1] == 0:
            raise TypeError(f"{name} must be a (B, T) torch.long tensor of word ids with T >= 1")
        if outside(ids, 0, vocab):
            raise ValueError(f"{name} ids must be in [0, {vocab})")

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """``src (B, S)``, padded at the end → ``(states (B, S, 2H), padding (B, S), (s_0, c_0))``.
        The LSTMs run over the real words only (packed), so the backward direction starts at
        each sentence's last word, not on its padding. On the meta device (``explore.summary(...,
        device="meta")``) no values exist, so every sentence counts at full length."""
        self._check_ids(src, self.config.src_vocab_size, "src")
        padding = src == self.config.pad_id
        if without_values(src):
            # meta (the lens counting on shapes): no values, so no padding is known; every
            # sentence counts as full length, which is what packing a full batch computes
            states, (h_n, _) = self.encoder(self.src_embed(src))
        else:
            lengths = (~padding).sum(1)
            if bool((lengths == 0).any()):
                raise ValueError("every source sentence needs at least one word (a row of src is all padding)")
            real = torch.arange(src.shape[1], device=src.device)[None] < lengths[:, None]
            if bool((real != ~padding).any()):
                raise ValueError("src must be padded at the end only: a padding id sits before a word")
            packed = pack_padded_sequence(self.src_embed(src), lengths.cpu(), batch_first=True, enforce_sorted=False)
            out, (h_n, _) = self.encoder(packed)
            states, _ = pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])
        summary = torch.cat([h_n[0], h_n[1]], dim=-1)  # forward's last word, backward's first: (B, 2H)
        s0, c0 = torch.tanh(self.init_state(summary)).chunk(2, dim=-1)
        return states, padding, (s0.contiguous(), c0.contiguous())

    def _step(self, prev: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor], states: torch.Tensor,
              projected: torch.Tensor | None, padding: torch.Tensor, fixed: torch.Tensor
              ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor], torch.Tensor | None]:
        emb = self.tgt_embed(prev)  # (B, E)
        if self.attention is not None:
            context, weights = self.attention(state[0], states, projected, padding)
        else:
            context, weights = fixed, None
        s, c = self.decoder(torch.cat([emb, context], dim=-1), state)
        logits = self.output(torch.cat([s, context, emb], dim=-1))
        return logits, (s, c), weights

    def _prepare(self, src: torch.Tensor):
        states, padding, state = self.encode(src)
        projected = self.attention.u(states) if self.attention is not None else None
        fixed = torch.cat([states[:, 0, self.config.hidden_size:],  # backward direction at the first word
                           states[torch.arange(src.shape[0]), (~padding).sum(1) - 1, : self.config.hidden_size]], dim=-1)
        return states, padding, state, projected, fixed

    def forward_with_attention(self, src: torch.Tensor, tgt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Teacher forcing: ``tgt (B, T)`` starts with BOS → ``(logits (B, T, V), weights (B, T, S)``
        or None without attention)."""
        self._check_ids(tgt, self.config.tgt_vocab_size, "tgt")
        if tgt.shape[0] != src.shape[0]:
            raise ValueError(f"src and tgt must have the same batch size, got {src.shape[0]} and {tgt.shape[0]}")
        states, padding, state, projected, fixed = self._prepare(src)
        logits, weights = [], []
        for t in range(tgt.shape[1]):
            step_logits, state, w = self._step(tgt[:, t], state, states, projected, padding, fixed)
            logits.append(step_logits)
            weights.append(w)
        return torch.stack(logits, 1), (torch.stack(weights, 1) if self.attention is not None else None)

    def forward(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        """Teacher forcing, like ``Transformer.forward``: returns the logits ``(B, T, V)``."""
        return self.forward_with_attention(src, tgt)[0]

    @torch.no_grad()
    def greedy_decode(self, src: torch.Tensor, bos_id: int, eos_id: int, max_len: int = 32
                      ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Start from BOS and append the most probable word until every sentence has written EOS
        (or ``max_len`` ids). Returns the ids ``(B, T)`` (BOS first, padding after EOS) and the
        attention weights of every written word ``(B, T - 1, S)`` (None without attention)."""
        v = self.config.tgt_vocab_size
        bos_id, eos_id = check_int("bos_id", bos_id, 0, v - 1), check_int("eos_id", eos_id, 0, v - 1)
        max_len = check_int("max_len", max_len, 2)
        with eval_mode(self):
            states, padding, state, projected, fixed = self._prepare(src)
            prev = torch.full((src.shape[0],), bos_id, dtype=torch.long, device=src.device)
            ids, weights = [prev], []
            finished = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
            for _ in range(max_len - 1):
                logits, state, w = self._step(prev, state, states, projected, padding, fixed)
                prev = torch.where(finished, torch.full_like(prev, self.config.pad_id), logits.argmax(-1))
                ids.append(prev)
                weights.append(w)
                finished |= prev == eos_id
                if bool(finished.all()):
                    break
        return torch.stack(ids, 1), (torch.stack(weights, 1) if self.attention is not None else None)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
