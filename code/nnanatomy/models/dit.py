"""The Diffusion Transformer, DiT (Peebles & Xie, 2023), chapter 11.

The image is cut into patches that become tokens (``PatchEmbed``), fixed 2-D sine–cosine
positions are added, and a stack of Transformer blocks predicts the noise. The diffusion step
and the class label are embedded, summed into one conditioning vector c, and enter every block
through **adaLN-Zero**: a SiLU → Linear(D, 6D) map of c produces a shift, a scale and a gate for
the attention branch and for the MLP branch. The map is initialised to zero, so every block
starts as the identity and the final layer outputs zero — training begins from a network that
does nothing, and learns how much each block should contribute.

For the chapter's ablation, ``DiTConfig.conditioning`` also builds the two alternatives:
``"adaln"`` (the same modulation, default-initialised instead of zero) and ``"add"`` — the
source notes' sketch, where the conditioning vector is added to every token once and the blocks
are plain pre-LN Transformer blocks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .._checks import check_real, outside

from .transformer import MultiHeadAttention
from .unet import SinusoidalTimeEmbedding

__all__ = ["CONDITIONINGS", "DiT", "DiTBlock", "DiTConfig", "FinalLayer", "PatchEmbed", "modulate", "sincos_2d"]


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``x·(1 + scale) + shift`` per sample: ``x (B, N, D)``, ``shift``/``scale`` ``(B, D)``."""
    return x * (1 + scale[:, None]) + shift[:, None]


def sincos_2d(grid: int, dim: int) -> torch.Tensor:
    """Fixed 2-D positional embedding ``(grid², dim)``: half the dimensions encode the row, half
    the column, each with the 1-D sine–cosine code of the Transformer."""
    if dim % 4:
        raise ValueError(f"dim must be divisible by 4, got {dim}")
    quarter = dim // 4
    freqs = 1.0 / 10000 ** (torch.arange(quarter, dtype=torch.float64) / quarter)
    rows, cols = torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing="ij")
    parts = []
    for coord in (rows.reshape(-1), cols.reshape(-1)):
        angles = coord[:, None].double() * freqs[None]
        parts += [torch.sin(angles), torch.cos(angles)]
    return torch.cat(parts, dim=1).float()


class PatchEmbed(nn.Module):
    """``(B, C, H, W)`` → ``(B, (H/p)·(W/p), D)``: each p×p patch becomes one D-dimensional token,
    by a convolution with kernel and stride p (a linear map of the flattened patch)."""

    def __init__(self, in_channels: int, hidden: int, patch: int) -> None:
        super().__init__()
        self.patch = patch
        self.proj = nn.Conv2d(in_channels, hidden, kernel_size=patch, stride=patch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)  # (B, N, D)


CONDITIONINGS = ("adaln-zero", "adaln", "add")


class DiTBlock(nn.Module):
    """Pre-LN Transformer block whose LayerNorms are modulated by the conditioning (adaLN-Zero).

    ``conditioning="adaln"`` keeps the modulation but initialises it like any Linear layer;
    ``"add"`` is a plain pre-LN block (LayerNorms with their own γ, β; no modulation, ``c`` unused).
    """

    def __init__(self, hidden: int, num_heads: int, mlp_ratio: float = 4.0, conditioning: str = "adaln-zero") -> None:
        super().__init__()
        if conditioning not in CONDITIONINGS:
            raise ValueError(f"conditioning must be one of {CONDITIONINGS}, got {conditioning!r}")
        adaptive = conditioning != "add"
        self.norm1 = nn.LayerNorm(hidden, elementwise_affine=not adaptive, eps=1e-6)
        self.attn = MultiHeadAttention(hidden, num_heads)
        self.norm2 = nn.LayerNorm(hidden, elementwise_affine=not adaptive, eps=1e-6)
        width = int(hidden * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(hidden, width), nn.GELU(approximate="tanh"), nn.Linear(width, hidden))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 6 * hidden)) if adaptive else None
        if conditioning == "adaln-zero":
            nn.init.zeros_(self.adaLN_modulation[1].weight)  # adaLN-Zero: the block starts as the identity
            nn.init.zeros_(self.adaLN_modulation[1].bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        if self.adaLN_modulation is None:  # plain pre-LN block
            h = self.norm1(x)
            x = x + self.attn(h, h)[0]
            return x + self.mlp(self.norm2(x))
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.adaLN_modulation(c).chunk(6, dim=1)
        h = modulate(self.norm1(x), shift_msa, scale_msa)
        attn, _ = self.attn(h, h)
        x = x + gate_msa[:, None] * attn
        return x + gate_mlp[:, None] * self.mlp(modulate(self.norm2(x), shift_mlp, scale_mlp))


class FinalLayer(nn.Module):
    """adaLN-modulated LayerNorm, then Linear(D, p²·C) back to pixels — zero-initialised
    (``"adaln"``: default-initialised; ``"add"``: a plain LayerNorm and Linear)."""

    def __init__(self, hidden: int, patch: int, out_channels: int, conditioning: str = "adaln-zero") -> None:
        super().__init__()
        if conditioning not in CONDITIONINGS:
            raise ValueError(f"conditioning must be one of {CONDITIONINGS}, got {conditioning!r}")
        adaptive = conditioning != "add"
        self.norm = nn.LayerNorm(hidden, elementwise_affine=not adaptive, eps=1e-6)
        self.linear = nn.Linear(hidden, patch * patch * out_channels)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 2 * hidden)) if adaptive else None
        if conditioning == "adaln-zero":
            for layer in (self.linear, self.adaLN_modulation[1]):
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        if self.adaLN_modulation is None:
            return self.linear(self.norm(x))
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=1)
        return self.linear(modulate(self.norm(x), shift, scale))


@dataclass
class DiTConfig:
    image_size: int = 8
    in_channels: int = 1
    patch: int = 2
    hidden: int = 64
    depth: int = 4
    num_heads: int = 4
    mlp_ratio: float = 4.0
    num_classes: int = 10  # label num_classes is the "no class" token of classifier-free guidance
    conditioning: str = "adaln-zero"  # or "adaln" (not zero-initialised), "add" (the source's sketch)

    def __post_init__(self) -> None:
        for name in ("image_size", "in_channels", "patch", "hidden", "depth", "num_heads", "num_classes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"DiTConfig.{name} must be a positive int, got {value!r}")
        if self.image_size % self.patch:
            raise ValueError(f"image_size {self.image_size} must be divisible by patch {self.patch}")
        if self.hidden % self.num_heads or self.hidden % 4:
            raise ValueError(f"hidden {self.hidden} must be divisible by num_heads {self.num_heads} and by 4")
        if self.conditioning not in CONDITIONINGS:
            raise ValueError(f"DiTConfig.conditioning must be one of {CONDITIONINGS}, got {self.conditioning!r}")
        check_real("DiTConfig.mlp_ratio", self.mlp_ratio, 0.0, 64.0, low_open=True)


class DiT(nn.Module):
    """Noise predictor ``(x_t (B, C, H, W), t (B,), y (B,)) → ε̂ (B, C, H, W)``."""

    def __init__(self, config: DiTConfig | None = None) -> None:
        super().__init__()
        config = DiTConfig() if config is None else config
        if not isinstance(config, DiTConfig):
            raise TypeError(f"config must be a DiTConfig, got {type(config).__name__}")
        self.config = config
        grid = config.image_size // config.patch
        self.patch_embed = PatchEmbed(config.in_channels, config.hidden, config.patch)
        self.register_buffer("pos_embed", sincos_2d(grid, config.hidden)[None], persistent=False)
        self.t_embedder = SinusoidalTimeEmbedding(config.hidden)
        self.y_embedder = nn.Embedding(config.num_classes + 1, config.hidden)  # +1: the null label
        self.blocks = nn.ModuleList(DiTBlock(config.hidden, config.num_heads, config.mlp_ratio, config.conditioning)
                                    for _ in range(config.depth))
        self.final_layer = FinalLayer(config.hidden, config.patch, config.in_channels, config.conditioning)

    def unpatchify(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, N, p²·C)`` tokens → ``(B, C, H, W)`` image."""
        b, c, p = x.shape[0], self.config.in_channels, self.config.patch
        g = int(math.isqrt(x.shape[1]))
        x = x.view(b, g, g, p, p, c).permute(0, 5, 1, 3, 2, 4)  # (B, C, g, p, g, p)
        return x.reshape(b, c, g * p, g * p)

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        if not isinstance(x, torch.Tensor) or x.shape[1:] != (cfg.in_channels, cfg.image_size, cfg.image_size):
            raise ValueError(f"DiT expects (B, {cfg.in_channels}, {cfg.image_size}, {cfg.image_size}), got {tuple(getattr(x, 'shape', ()))}")
        for name, value in (("t", t), ("y", y)):
            if not isinstance(value, torch.Tensor) or value.shape != (x.shape[0],):
                raise ValueError(f"{name} must be a tensor of shape ({x.shape[0]},), got {getattr(value, 'shape', type(value).__name__)}")
        if y.is_floating_point():
            raise TypeError(f"y must hold integer class labels, got dtype {y.dtype}")
        if outside(y, 0, cfg.num_classes + 1):
            raise ValueError(f"labels must be in [0, {cfg.num_classes}] ({cfg.num_classes} = no class)")
        tokens = self.patch_embed(x) + self.pos_embed  # (B, N, D)
        c = self.t_embedder(t) + self.y_embedder(y)  # (B, D): when, and what
        if cfg.conditioning == "add":  # the source's sketch: the condition joins every token once
            tokens = tokens + c[:, None]
        for block in self.blocks:
            tokens = block(tokens, c)
        return self.unpatchify(self.final_layer(tokens, c))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
