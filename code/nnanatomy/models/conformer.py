"""The Conformer encoder (Gulati et al., 2020), chapter 08's speech encoder for BEST-RQ.

A Conformer block wraps self-attention (global context) and a convolution module (local
patterns) between two half-step feed-forward layers — the "macaron" shape:

    x = x + ½ FFN(x)
    x = x + MHSA(x)
    x = x + Conv(x)
    x = x + ½ FFN(x)
    y = LayerNorm(x)

The convolution module is LayerNorm → pointwise conv to 2d → GLU → depthwise conv (kernel k)
→ BatchNorm → Swish → pointwise conv. A convolutional front-end subsamples time by 4 before the
blocks, as speech encoders do (and as BEST-RQ's quantizer stacks 4 frames per label).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .._checks import check_bool, check_int, check_real, outside

from .transformer import MultiHeadAttention, sinusoidal_positional_encoding

__all__ = ["ConformerBlock", "ConformerConfig", "ConformerEncoder", "ConvModule", "ConvSubsampling"]


@dataclass
class ConformerConfig:
    input_dim: int = 64  # features per frame (e.g. log-mel bands)
    d_model: int = 96
    num_heads: int = 4
    num_layers: int = 4
    ff_mult: int = 4
    kernel_size: int = 15  # of the depthwise convolution, odd
    dropout: float = 0.1
    max_len: int = 2000  # frames after subsampling, for the positional encoding

    def __post_init__(self) -> None:
        for name in ("input_dim", "d_model", "num_heads", "num_layers", "ff_mult", "kernel_size", "max_len"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ConformerConfig.{name} must be a positive int, got {value!r}")
        if self.d_model % self.num_heads:
            raise ValueError(f"d_model {self.d_model} must be divisible by num_heads {self.num_heads}")
        if self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (same-length convolution), got {self.kernel_size}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


def padding_from_lengths(lengths: torch.Tensor, features: torch.Tensor, frames: int) -> torch.Tensor:
    """The padding mask ``(B, frames)`` of the subsampled sequence (True = padding) for ``lengths``,
    the real input frames of each utterance — integers in ``[4, T]``: an utterance needs four
    frames for one encoder frame, and a fully padded row would leave attention nothing to attend
    to (its softmax over no keys is NaN)."""
    if not isinstance(lengths, torch.Tensor) or lengths.dtype == torch.bool or lengths.is_floating_point() or lengths.is_complex():
        raise TypeError(f"lengths must be an integer tensor of frames per utterance, got {getattr(lengths, 'dtype', type(lengths).__name__)}")
    if lengths.shape != (features.shape[0],):
        raise ValueError(f"lengths must have shape ({features.shape[0]},), got {tuple(lengths.shape)}")
    if outside(lengths, 4, features.shape[1] + 1):  # one host sync; nothing to check on meta
        raise ValueError(f"lengths must be in [4, {features.shape[1]}] (at least one encoder frame, at most the frames given), "
                         f"got {lengths.tolist()}")
    lengths = lengths.to(features.device)
    return torch.arange(frames, device=features.device)[None] >= ConvSubsampling.output_length(lengths)[:, None]


class ConvSubsampling(nn.Module):
    """Two 3×3 convolutions with stride 2 over (time, features), then a Linear to ``d_model``:
    ``(B, T, F)`` → ``(B, ⌊(⌊(T − 1)/2⌋ − 1)/2⌋ + 1 …, d_model)`` — time divided by about 4."""

    def __init__(self, input_dim: int, d_model: int) -> None:
        super().__init__()
        input_dim, d_model = check_int("input_dim", input_dim, 1, maximum=1 << 16), check_int("d_model", d_model, 1, maximum=1 << 16)
        self.conv = nn.Sequential(nn.Conv2d(1, d_model, 3, stride=2, padding=1), nn.SiLU(),
                                  nn.Conv2d(d_model, d_model, 3, stride=2, padding=1), nn.SiLU())
        self.out = nn.Linear(d_model * math.ceil(math.ceil(input_dim / 2) / 2), d_model)

    @staticmethod
    def output_length(frames: torch.Tensor | int) -> torch.Tensor | int:
        """Frames after the two stride-2 convolutions (kernel 3, padding 1)."""
        if not (isinstance(frames, torch.Tensor) and not frames.is_floating_point()) and (
                isinstance(frames, bool) or not isinstance(frames, int)):
            raise TypeError(f"frames must be an int or an integer tensor, got {type(frames).__name__}")
        for _ in range(2):
            frames = (frames - 1) // 2 + 1
        return frames

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(x[:, None])  # (B, d, T/4, F/4)
        b, c, t, f = h.shape
        return self.out(h.permute(0, 2, 1, 3).reshape(b, t, c * f))


class ConvModule(nn.Module):
    """LayerNorm → pointwise (d → 2d) → GLU → depthwise (kernel k) → BatchNorm → Swish → pointwise → dropout."""

    def __init__(self, d_model: int, kernel_size: int, dropout: float) -> None:
        super().__init__()
        kernel_size = check_int("kernel_size", kernel_size, 1, maximum=4096)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (a same-length depthwise convolution), got {kernel_size}")
        dropout = check_real("dropout", dropout, 0.0, 1.0, high_open=True)
        self.norm = nn.LayerNorm(d_model)
        self.pointwise1 = nn.Conv1d(d_model, 2 * d_model, 1)
        self.depthwise = nn.Conv1d(d_model, d_model, kernel_size, padding=kernel_size // 2, groups=d_model)
        self.batch_norm = nn.BatchNorm1d(d_model)
        self.pointwise2 = nn.Conv1d(d_model, d_model, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        h = nn.functional.glu(self.pointwise1(self.norm(x).transpose(1, 2)), dim=1)  # (B, d, T)
        if padding_mask is not None:  # padded frames must not leak into their neighbours' depthwise sums
            h = h.masked_fill(padding_mask[:, None, :], 0.0)
        h = self.pointwise2(nn.functional.silu(self.batch_norm(self.depthwise(h))))
        return self.dropout(h.transpose(1, 2))


def _feed_forward(d_model: int, mult: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.LayerNorm(d_model), nn.Linear(d_model, mult * d_model), nn.SiLU(), nn.Dropout(dropout),
                         nn.Linear(mult * d_model, d_model), nn.Dropout(dropout))


class ConformerBlock(nn.Module):
    """½ FFN, MHSA, convolution module, ½ FFN, each residual; a final LayerNorm."""

    def __init__(self, config: ConformerConfig) -> None:
        super().__init__()
        d = config.d_model
        self.ff1 = _feed_forward(d, config.ff_mult, config.dropout)
        self.attn_norm = nn.LayerNorm(d)
        self.attn = MultiHeadAttention(d, config.num_heads, config.dropout)
        self.attn_dropout = nn.Dropout(config.dropout)
        self.conv = ConvModule(d, config.kernel_size, config.dropout)
        self.ff2 = _feed_forward(d, config.ff_mult, config.dropout)
        self.norm = nn.LayerNorm(d)

    def forward(self, x: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        x = x + 0.5 * self.ff1(x)
        h = self.attn_norm(x)
        x = x + self.attn_dropout(self.attn(h, h, key_padding_mask=padding_mask)[0])
        x = x + self.conv(x, padding_mask)
        x = x + 0.5 * self.ff2(x)
        return self.norm(x)


class ConformerEncoder(nn.Module):
    """``(B, T, input_dim)`` features (and optional ``lengths (B,)``) → ``(B, T', d_model)`` with
    ``T' ≈ T / 4``, and the padding mask at the new frame rate (True = padding) or None."""

    def __init__(self, config: ConformerConfig | None = None) -> None:
        super().__init__()
        config = ConformerConfig() if config is None else config
        if not isinstance(config, ConformerConfig):
            raise TypeError(f"config must be a ConformerConfig, got {type(config).__name__}")
        self.config = config
        self.subsample = ConvSubsampling(config.input_dim, config.d_model)
        self.register_buffer("positions", sinusoidal_positional_encoding(config.max_len, config.d_model).float(), persistent=False)
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(ConformerBlock(config) for _ in range(config.num_layers))

    def forward(self, features: torch.Tensor, lengths: torch.Tensor | None = None,
                return_layers: bool = False) -> tuple[torch.Tensor, torch.Tensor | None] | tuple[torch.Tensor, torch.Tensor | None, list[torch.Tensor]]:
        cfg = self.config
        return_layers = check_bool("return_layers", return_layers)
        if not isinstance(features, torch.Tensor) or features.ndim != 3 or features.shape[-1] != cfg.input_dim:
            raise ValueError(f"features must be (batch, frames, {cfg.input_dim}), got {getattr(features, 'shape', type(features).__name__)}")
        if features.shape[1] < 4:
            raise ValueError(f"need at least 4 frames (time is subsampled by 4), got {features.shape[1]}")
        x = self.subsample(features)
        if x.shape[1] > cfg.max_len:
            raise ValueError(f"{x.shape[1]} frames after subsampling exceed max_len = {cfg.max_len}")
        x = self.dropout(x + self.positions[: x.shape[1]])
        mask = None if lengths is None else padding_from_lengths(lengths, features, x.shape[1])
        layers = []
        for block in self.blocks:
            x = block(x, mask)
            layers.append(x)
        return (x, mask, layers) if return_layers else (x, mask)
