"""The U-Net (Ronneberger et al., 2015), as the source writes it (chapters 09 and 10).

An encoder of ``DoubleConv`` blocks and ``Down`` steps (max-pool, then DoubleConv doubling the
channels) turns the image into ever smaller, ever more semantic feature maps; a decoder of ``Up``
steps (upsample, pad, concatenate the encoder map of the same size — the *skip connection* —,
DoubleConv) grows them back to full size; ``OutConv`` maps every pixel to class scores. With the
default depth of 4 the module names are the source's: ``inc``, ``down1``…``down4``,
``up1``…``up4``, ``outc``.

The same network serves as the noise predictor of chapter 10: with ``time_dim`` set, every
DoubleConv adds a projection of the diffusion step's embedding to its features, and with
``context_dim`` set, a cross-attention block after the bottleneck and after the first upsampling
lets the features attend to a conditioning sequence (the embedded words of a caption).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_bool, check_int

__all__ = [
    "CrossAttention2d",
    "Down",
    "DoubleConv",
    "OutConv",
    "SinusoidalTimeEmbedding",
    "UNet",
    "UNetConfig",
    "Up",
]


def _norm(kind: str, channels: int) -> nn.Module:
    if kind not in ("batch", "group"):
        raise ValueError(f"norm must be 'batch' or 'group', got {kind!r}")
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    return nn.GroupNorm(min(8, channels), channels)  # group: independent of the batch (diffusion)


class DoubleConv(nn.Module):
    """(3×3 conv → norm → ReLU) twice: the U-Net's basic brick. With ``time_dim``, a linear map
    of the time embedding is added to the features between the two convolutions."""

    def __init__(self, in_channels: int, out_channels: int, mid_channels: int | None = None,
                 norm: str = "batch", time_dim: int | None = None) -> None:
        super().__init__()
        mid = mid_channels or out_channels
        self.conv1 = nn.Conv2d(in_channels, mid, 3, padding=1, bias=False)
        self.norm1 = _norm(norm, mid)
        self.conv2 = nn.Conv2d(mid, out_channels, 3, padding=1, bias=False)
        self.norm2 = _norm(norm, out_channels)
        self.time_proj = nn.Linear(time_dim, mid) if time_dim else None

    def forward(self, x: torch.Tensor, t_emb: torch.Tensor | None = None) -> torch.Tensor:
        h = self.norm1(self.conv1(x))
        if self.time_proj is not None:
            if t_emb is None:
                raise ValueError("this DoubleConv is time-conditioned: pass t_emb")
            h = h + self.time_proj(t_emb)[:, :, None, None]  # the same shift at every pixel
        elif t_emb is not None:
            raise ValueError("this DoubleConv has no time_dim: t_emb would be ignored")
        h = F.relu(h)
        return F.relu(self.norm2(self.conv2(h)))


class Down(nn.Module):
    """Downsampling: MaxPool2d(2) halves height and width, DoubleConv changes the channels."""

    def __init__(self, in_channels: int, out_channels: int, norm: str = "batch", time_dim: int | None = None) -> None:
        super().__init__()
        self.pool = nn.MaxPool2d(2)
        self.conv = DoubleConv(in_channels, out_channels, norm=norm, time_dim=time_dim)

    def forward(self, x: torch.Tensor, t_emb: torch.Tensor | None = None) -> torch.Tensor:
        return self.conv(self.pool(x), t_emb)


class Up(nn.Module):
    """Upsampling: double the size (bilinear, or a transposed convolution), pad to the skip's
    size, concatenate ``[skip, upsampled]`` along the channels, DoubleConv."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int, bilinear: bool = True,
                 norm: str = "batch", time_dim: int | None = None) -> None:
        super().__init__()
        if check_bool("bilinear", bilinear):
            self.up: nn.Module = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
            conv_in = in_channels + skip_channels
            self.conv = DoubleConv(conv_in, out_channels, conv_in // 2, norm=norm, time_dim=time_dim)
        else:
            self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)
            self.conv = DoubleConv(in_channels // 2 + skip_channels, out_channels, norm=norm, time_dim=time_dim)
        self.use_skip = skip_channels > 0

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, t_emb: torch.Tensor | None = None) -> torch.Tensor:
        x1 = self.up(x1)  # (B, C, 2H, 2W)
        dy, dx = x2.shape[2] - x1.shape[2], x2.shape[3] - x1.shape[3]
        x1 = F.pad(x1, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])  # odd sizes: match the skip
        x = torch.cat([x2, x1], dim=1) if self.use_skip else x1  # skip connection: encoder detail
        return self.conv(x, t_emb)


class OutConv(nn.Module):
    """1×1 convolution: features → one score per class (or per output channel) at every pixel."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class SinusoidalTimeEmbedding(nn.Module):
    """Step t → the sinusoidal code of the Transformer's positional encoding, then an MLP:
    ``(B,)`` integer steps → ``(B, dim)``. It tells the noise predictor how noisy its input is."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        if dim % 2:
            raise ValueError(f"time embedding dim must be even, got {dim}")
        self.dim = dim
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.SiLU(), nn.Linear(4 * dim, dim))

    def sinusoid(self, t: torch.Tensor) -> torch.Tensor:
        """The code before the MLP: ``(B,)`` steps → ``(B, dim)``, sines then cosines of ``t·ω_k``."""
        half = self.dim // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
        angles = t.float()[:, None] * freqs[None]  # (B, half)
        return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.sinusoid(t))


class CrossAttention2d(nn.Module):
    """Every pixel's feature vector queries a conditioning sequence (keys and values), and the
    answer is added back: ``h + Attn(h, context)``. This is how text steers the image."""

    def __init__(self, channels: int, context_dim: int, num_heads: int = 4) -> None:
        super().__init__()
        from .transformer import MultiHeadAttention  # the chapter-05 attention, reused

        num_heads = check_int("num_heads", num_heads, 1)
        heads = num_heads if channels % num_heads == 0 else 1
        self.norm = nn.GroupNorm(min(8, channels), channels)
        self.context_proj = nn.Linear(context_dim, channels)
        self.attn = MultiHeadAttention(channels, heads)
        self.last_weights: torch.Tensor | None = None

    def forward(self, h: torch.Tensor, context: torch.Tensor, context_mask: torch.Tensor | None = None) -> torch.Tensor:
        b, c, height, width = h.shape
        q = self.norm(h).flatten(2).transpose(1, 2)  # (B, H·W, C): one query per pixel
        kv = self.context_proj(context)  # (B, L, C)
        out, self.last_weights = self.attn(q, kv, key_padding_mask=context_mask)
        return h + out.transpose(1, 2).reshape(b, c, height, width)


@dataclass
class UNetConfig:
    in_channels: int = 1
    out_channels: int = 2  # classes for segmentation; image channels for a noise predictor
    base_channels: int = 64
    depth: int = 4  # number of Down (and Up) steps
    bilinear: bool = True
    skips: bool = True  # False: the ablation without skip connections
    norm: str = "batch"  # "batch" or "group"
    time_dim: int | None = None  # set for a diffusion noise predictor
    context_dim: int | None = None  # set to condition on a sequence by cross-attention
    vocab_size: int | None = None  # with context_dim: embed caption word ids into the context

    def __post_init__(self) -> None:
        for name in ("in_channels", "out_channels", "base_channels", "depth"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"UNetConfig.{name} must be a positive int, got {value!r}")
        if self.norm not in ("batch", "group"):
            raise ValueError(f"UNetConfig.norm must be 'batch' or 'group', got {self.norm!r}")
        if self.time_dim is not None and (self.time_dim < 2 or self.time_dim % 2):
            raise ValueError(f"UNetConfig.time_dim must be an even int >= 2, got {self.time_dim}")
        if self.vocab_size is not None and self.context_dim is None:
            raise ValueError("UNetConfig.vocab_size needs context_dim")
        check_bool("UNetConfig.bilinear", self.bilinear)
        check_bool("UNetConfig.skips", self.skips)
        for name in ("time_dim", "context_dim", "vocab_size"):
            if getattr(self, name) is not None:
                check_int(f"UNetConfig.{name}", getattr(self, name), 1)


class UNet(nn.Module):
    """``(B, C_in, H, W)`` → ``(B, C_out, H, W)``; H and W divisible by ``2**depth``."""

    def __init__(self, config: UNetConfig | None = None) -> None:
        super().__init__()
        config = UNetConfig() if config is None else config
        if not isinstance(config, UNetConfig):
            raise TypeError(f"config must be a UNetConfig, got {type(config).__name__}")
        self.config = config
        b, d, factor = config.base_channels, config.depth, 2 if config.bilinear else 1
        norm, tdim = config.norm, config.time_dim
        widths = [b * 2**i for i in range(d)]  # inc, down1 … down(d−1)
        bottleneck = b * 2**d // factor
        self.time_embed = SinusoidalTimeEmbedding(tdim) if tdim else None
        self.word_embed = nn.Embedding(config.vocab_size, config.context_dim) if config.vocab_size else None
        self.inc = DoubleConv(config.in_channels, widths[0], norm=norm, time_dim=tdim)
        for i in range(1, d + 1):
            out = widths[i] if i < d else bottleneck
            setattr(self, f"down{i}", Down(widths[i - 1], out, norm, tdim))
        channels = bottleneck
        for j in range(1, d + 1):
            skip = widths[d - j] if config.skips else 0
            out = widths[d - j] // factor if j < d else widths[0]
            setattr(self, f"up{j}", Up(channels, skip, out, config.bilinear, norm, tdim))
            channels = out
        self.outc = OutConv(widths[0], config.out_channels)
        if config.context_dim:
            self.attn_down = CrossAttention2d(bottleneck, config.context_dim)
            self.attn_up = CrossAttention2d(widths[d - 1] // factor if d > 1 else widths[0], config.context_dim)

    def forward(self, x: torch.Tensor, t: torch.Tensor | None = None, context: torch.Tensor | None = None,
                context_mask: torch.Tensor | None = None) -> torch.Tensor:
        """``t (B,)`` diffusion steps (time-conditioned nets); ``context`` either ``(B, L, context_dim)``
        vectors or, with ``vocab_size``, ``(B, L)`` word ids; ``context_mask`` (B, L) True at padding."""
        cfg = self.config
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != cfg.in_channels:
            raise ValueError(f"UNet expects (B, {cfg.in_channels}, H, W), got {getattr(x, 'shape', type(x).__name__)}")
        if x.shape[2] % 2**cfg.depth or x.shape[3] % 2**cfg.depth:
            raise ValueError(f"height and width must be divisible by 2**depth = {2**cfg.depth}, got {tuple(x.shape[2:])}")
        t_emb = None
        if self.time_embed is not None:
            if t is None:
                raise ValueError("this UNet is time-conditioned: pass t")
            t_emb = self.time_embed(t)
        if cfg.context_dim:
            if context is None:
                raise ValueError("this UNet is conditioned on a context: pass context")
            if self.word_embed is not None:
                context = self.word_embed(context)
        # encoder: keep every level's output for the skip connections
        skips = [self.inc(x, t_emb)]
        for i in range(1, cfg.depth + 1):
            skips.append(getattr(self, f"down{i}")(skips[-1], t_emb))
        h = skips.pop()  # the bottleneck: smallest, most semantic
        if cfg.context_dim:
            h = self.attn_down(h, context, context_mask)
        for j in range(1, cfg.depth + 1):
            h = getattr(self, f"up{j}")(h, skips.pop(), t_emb)
            if j == 1 and cfg.context_dim:
                h = self.attn_up(h, context, context_mask)
        return self.outc(h)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
