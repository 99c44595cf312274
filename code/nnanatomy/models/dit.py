"""The Diffusion Transformer, DiT (Peebles & Xie, 2023), chapter 11.

The image is cut into patches that become tokens (``PatchEmbed``), fixed 2-D sine–cosine
positions are added, and a stack of Transformer blocks predicts the noise. The diffusion step
and the class label are embedded, summed into one conditioning vector c, and enter every block
through **adaLN-Zero**: a SiLU → Linear(D, 6D) map of c produces a shift, a scale and a gate for
the attention branch and for the MLP branch. The map is initialised to zero, so every block
starts as the identity and the final layer outputs zero — training begins from a network that
does nothing, and learns how much each block should contribute.

For the chapter's ablation, ``DiTConfig.conditioning`` also builds the alternatives: the paper's
``"adaln"`` (the same modulation, default-initialised instead of zero), ``"in-context"`` (the
embeddings of t and y become two extra tokens of the sequence, read by plain pre-LN blocks and
dropped after the last block) and ``"cross-attention"`` (t and y form a length-two sequence that
every block attends to in a cross-attention layer after its self-attention), and ``"add"`` — the
source notes' sketch, where the conditioning vector is added to every token once and the blocks
are plain pre-LN Transformer blocks. The plain variants end in a plain LayerNorm and Linear.

The modules and their names are those of the official implementation (facebookresearch/DiT,
``models.py``): ``x_embedder.proj``, ``t_embedder.mlp``, ``y_embedder.embedding_table``, a fixed
``pos_embed``, ``blocks.i.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2,
adaLN_modulation}``, ``final_layer.{norm_final, linear, adaLN_modulation}``. ``DiTConfig.paper
("DiT-XL/2")`` is the paper's 256×256 class-conditional model — 32×32×4 latents, 1,000 classes
plus the null class, learned variance (2·C outputs), 256 timestep frequencies — whose published
checkpoints load into :class:`DiT` with ``strict=True``; the chapter's digit model is a small
configuration of the same class.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from torch.nn import functional as F

from .._checks import check_int, check_real, outside

__all__ = ["CONDITIONINGS", "PAPER_MODELS", "Attention", "CrossAttention", "DiT", "DiTBlock", "DiTConfig", "FinalLayer", "LabelEmbedder",
           "Mlp", "PatchEmbed", "TimestepEmbedder", "modulate", "sincos_2d", "timestep_embedding"]


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``x·(1 + scale) + shift`` per sample: ``x (B, N, D)``, ``shift``/``scale`` ``(B, D)``."""
    return x * (1 + scale[:, None]) + shift[:, None]


def sincos_2d(grid: int, dim: int) -> torch.Tensor:
    """Fixed 2-D positional embedding ``(grid², dim)`` of the patches in row-major order: half the
    dimensions encode the patch's column, half its row, each with the 1-D sine–cosine code of the
    Transformer (sines, then cosines) — in the official DiT's order (column first)."""
    if dim % 4:
        raise ValueError(f"dim must be divisible by 4, got {dim}")
    quarter = dim // 4
    freqs = 1.0 / 10000 ** (torch.arange(quarter, dtype=torch.float64) / quarter)
    rows, cols = torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing="ij")
    parts = []
    for coord in (cols.reshape(-1), rows.reshape(-1)):
        angles = coord[:, None].double() * freqs[None]
        parts += [torch.sin(angles), torch.cos(angles)]
    return torch.cat(parts, dim=1).float()


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Diffusion steps ``(B,)`` → ``(B, dim)``: cosines then sines of ``t·ω_k``, ``ω_k =
    max_period^(−k/(dim/2))`` (the official DiT's order; an odd ``dim`` gets a zero column)."""
    if not isinstance(t, torch.Tensor) or t.ndim != 1:
        raise ValueError(f"t must be a 1-D tensor of steps (B,), got {getattr(t, 'shape', type(t).__name__)}")
    dim = check_int("dim", dim, 1)
    max_period = check_real("max_period", max_period, 1.0, low_open=True)
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    angles = t.float()[:, None] * freqs[None]
    embedding = torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)
    if dim % 2:
        embedding = torch.cat([embedding, torch.zeros_like(embedding[:, :1])], dim=-1)
    return embedding


class TimestepEmbedder(nn.Module):
    """Step t → ``timestep_embedding(t, frequencies)`` → Linear → SiLU → Linear: ``(B,)`` → ``(B, hidden)``.
    The paper: 256 frequencies and an MLP of width ``hidden``."""

    def __init__(self, hidden: int, frequency_embedding_size: int = 256, mlp_width: int | None = None) -> None:
        super().__init__()
        hidden, frequency_embedding_size = check_int("hidden", hidden, 1), check_int("frequency_embedding_size", frequency_embedding_size, 1)
        width = hidden if mlp_width is None else check_int("mlp_width", mlp_width, 1)
        self.frequency_embedding_size = frequency_embedding_size
        self.mlp = nn.Sequential(nn.Linear(frequency_embedding_size, width), nn.SiLU(), nn.Linear(width, hidden))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(timestep_embedding(t, self.frequency_embedding_size))


class LabelEmbedder(nn.Module):
    """Class label → a learned vector; row ``num_classes`` is the null class of classifier-free
    guidance. (Replacing labels by the null class during training is the training loop's job.)"""

    def __init__(self, num_classes: int, hidden: int) -> None:
        super().__init__()
        self.num_classes = check_int("num_classes", num_classes, 1)
        self.embedding_table = nn.Embedding(num_classes + 1, check_int("hidden", hidden, 1))

    def forward(self, labels: torch.Tensor) -> torch.Tensor:
        if not isinstance(labels, torch.Tensor) or labels.is_floating_point() or labels.is_complex():
            raise TypeError(f"labels must be an integer tensor, got {getattr(labels, 'dtype', type(labels).__name__)}")
        if outside(labels, 0, self.num_classes + 1):
            raise ValueError(f"labels must be in [0, {self.num_classes}] ({self.num_classes} = no class)")
        return self.embedding_table(labels)


def _check_heads(hidden: object, num_heads: object) -> tuple[int, int]:
    hidden, num_heads = check_int("hidden", hidden, 1), check_int("num_heads", num_heads, 1)
    if hidden % num_heads:
        raise ValueError(f"hidden {hidden} must be divisible by num_heads {num_heads}")
    return hidden, num_heads


class Attention(nn.Module):
    """Multi-head self-attention with one fused Q/K/V projection, as DiT's (timm's) ``Attention``:
    ``qkv = Linear(D, 3D)``, ``softmax(Q Kᵀ/√d_head) V`` per head, then ``proj = Linear(D, D)``."""

    def __init__(self, hidden: int, num_heads: int) -> None:
        super().__init__()
        hidden, self.num_heads = _check_heads(hidden, num_heads)
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.proj = nn.Linear(hidden, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_tokens(x, self.proj.in_features)
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.num_heads, d // self.num_heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)  # (B, H, N, d_head)
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class CrossAttention(nn.Module):
    """Multi-head attention of the tokens ``x (B, N, D)`` to a context ``(B, L, D)``: queries from
    ``x`` (``q = Linear(D, D)``), keys and values from the context (``kv = Linear(D, 2D)``), then
    ``proj = Linear(D, D)`` — the extra layer of the paper's cross-attention DiT block."""

    def __init__(self, hidden: int, num_heads: int) -> None:
        super().__init__()
        hidden, self.num_heads = _check_heads(hidden, num_heads)
        self.q = nn.Linear(hidden, hidden)
        self.kv = nn.Linear(hidden, 2 * hidden)
        self.proj = nn.Linear(hidden, hidden)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        _check_tokens(x, self.proj.in_features)
        _check_tokens(context, self.proj.in_features)
        if context.shape[0] != x.shape[0]:
            raise ValueError(f"context must have the batch size of x ({x.shape[0]}), got {context.shape[0]}")
        b, n, d = x.shape
        h = self.num_heads
        q = self.q(x).reshape(b, n, h, d // h).transpose(1, 2)  # (B, H, N, d_head)
        k, v = self.kv(context).reshape(b, context.shape[1], 2, h, d // h).permute(2, 0, 3, 1, 4)  # (B, H, L, d_head)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class Mlp(nn.Module):
    """``fc2(GELU_tanh(fc1(x)))``: the Transformer's position-wise MLP, named as timm names it."""

    def __init__(self, hidden: int, width: int) -> None:
        super().__init__()
        hidden, width = check_int("hidden", hidden, 1), check_int("width", width, 1)
        self.fc1 = nn.Linear(hidden, width)
        self.act = nn.GELU(approximate="tanh")
        self.fc2 = nn.Linear(width, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_tokens(x, self.fc1.in_features)
        return self.fc2(self.act(self.fc1(x)))


def _check_tokens(x: object, width: int) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 3 or x.shape[-1] != width or not x.is_floating_point():
        raise ValueError(f"expected floating-point tokens (B, N, {width}), got {getattr(x, 'dtype', type(x).__name__)} "
                         f"{tuple(getattr(x, 'shape', ()))}")


class PatchEmbed(nn.Module):
    """``(B, C, H, W)`` → ``(B, (H/p)·(W/p), D)``: each p×p patch becomes one D-dimensional token,
    by a convolution with kernel and stride p (a linear map of the flattened patch)."""

    def __init__(self, in_channels: int, hidden: int, patch: int) -> None:
        super().__init__()
        self.patch = patch
        self.proj = nn.Conv2d(in_channels, hidden, kernel_size=patch, stride=patch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)  # (B, N, D)


CONDITIONINGS = ("adaln-zero", "adaln", "in-context", "cross-attention", "add")
ADAPTIVE = ("adaln-zero", "adaln")  # the variants whose LayerNorms the condition modulates


class DiTBlock(nn.Module):
    """Pre-LN Transformer block whose LayerNorms are modulated by the conditioning (adaLN-Zero).

    ``conditioning="adaln"`` keeps the modulation but initialises it like any Linear layer;
    ``"in-context"`` and ``"add"`` are plain pre-LN blocks (LayerNorms with their own γ, β; no
    modulation, ``c`` unused); ``"cross-attention"`` adds a pre-LN cross-attention layer
    (``norm_cross``, ``cross_attn``) after the self-attention, and ``c`` is then its context
    ``(B, L, D)``. For the adaptive variants ``c`` is the conditioning vector ``(B, D)``.
    """

    def __init__(self, hidden: int, num_heads: int, mlp_ratio: float = 4.0, conditioning: str = "adaln-zero") -> None:
        super().__init__()
        if conditioning not in CONDITIONINGS:
            raise ValueError(f"conditioning must be one of {CONDITIONINGS}, got {conditioning!r}")
        adaptive = conditioning in ADAPTIVE
        self.norm1 = nn.LayerNorm(hidden, elementwise_affine=not adaptive, eps=1e-6)
        self.attn = Attention(hidden, num_heads)
        if conditioning == "cross-attention":
            self.norm_cross = nn.LayerNorm(hidden, eps=1e-6)
            self.cross_attn = CrossAttention(hidden, num_heads)
        else:
            self.norm_cross = self.cross_attn = None
        self.norm2 = nn.LayerNorm(hidden, elementwise_affine=not adaptive, eps=1e-6)
        self.mlp = Mlp(hidden, int(hidden * mlp_ratio))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 6 * hidden)) if adaptive else None
        if conditioning == "adaln-zero":
            nn.init.zeros_(self.adaLN_modulation[1].weight)  # adaLN-Zero: the block starts as the identity
            nn.init.zeros_(self.adaLN_modulation[1].bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        if self.adaLN_modulation is None:  # plain pre-LN block (with cross-attention to c, if it has one)
            x = x + self.attn(self.norm1(x))
            if self.cross_attn is not None:
                x = x + self.cross_attn(self.norm_cross(x), c)
            return x + self.mlp(self.norm2(x))
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.adaLN_modulation(c).chunk(6, dim=1)
        x = x + gate_msa[:, None] * self.attn(modulate(self.norm1(x), shift_msa, scale_msa))
        return x + gate_mlp[:, None] * self.mlp(modulate(self.norm2(x), shift_mlp, scale_mlp))


class FinalLayer(nn.Module):
    """adaLN-modulated LayerNorm, then Linear(D, p²·C) back to pixels — zero-initialised
    (``"adaln"``: default-initialised; the plain variants: a plain LayerNorm and Linear)."""

    def __init__(self, hidden: int, patch: int, out_channels: int, conditioning: str = "adaln-zero") -> None:
        super().__init__()
        if conditioning not in CONDITIONINGS:
            raise ValueError(f"conditioning must be one of {CONDITIONINGS}, got {conditioning!r}")
        adaptive = conditioning in ADAPTIVE
        self.norm_final = nn.LayerNorm(hidden, elementwise_affine=not adaptive, eps=1e-6)
        self.linear = nn.Linear(hidden, patch * patch * out_channels)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 2 * hidden)) if adaptive else None
        if conditioning == "adaln-zero":
            for layer in (self.linear, self.adaLN_modulation[1]):
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        if self.adaLN_modulation is None:
            return self.linear(self.norm_final(x))
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=1)
        return self.linear(modulate(self.norm_final(x), shift, scale))


#: the paper's model sizes: name → (depth, hidden, heads) (Peebles & Xie, 2023, Table 1)
PAPER_MODELS = {"DiT-S": (12, 384, 6), "DiT-B": (12, 768, 12), "DiT-L": (24, 1024, 16), "DiT-XL": (28, 1152, 16)}
INITIALIZATIONS = ("pytorch", "paper")


@dataclass
class DiTConfig:
    """Sizes of a DiT. The defaults are chapter 11's digit model; :meth:`paper` gives the paper's."""

    image_size: int = 8  # the input's side: pixels here, latent cells in the paper (32 for 256×256 images)
    in_channels: int = 1
    patch: int = 2
    hidden: int = 64
    depth: int = 4
    num_heads: int = 4
    mlp_ratio: float = 4.0
    num_classes: int = 10  # label num_classes is the "no class" token of classifier-free guidance
    conditioning: str = "adaln-zero"  # or "adaln" (not zero-initialised), "in-context", "cross-attention", "add" (the source's sketch)
    learn_sigma: bool = False  # the paper also predicts the variance: 2·C output channels
    frequency_embedding_size: int = 64  # sinusoid frequencies of the step t (the paper: 256)
    time_mlp_width: int | None = 256  # width of the step's MLP (None: hidden, as in the paper)
    initialization: str = "pytorch"  # "paper": Xavier-uniform Linears, N(0, 0.02) embeddings, as the official code

    def __post_init__(self) -> None:
        for name in ("image_size", "in_channels", "patch", "hidden", "depth", "num_heads", "num_classes",
                     "frequency_embedding_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"DiTConfig.{name} must be a positive int, got {value!r}")
        if self.time_mlp_width is not None and (isinstance(self.time_mlp_width, bool) or not isinstance(self.time_mlp_width, int)
                                                or self.time_mlp_width < 1):
            raise ValueError(f"DiTConfig.time_mlp_width must be None or a positive int, got {self.time_mlp_width!r}")
        if self.image_size % self.patch:
            raise ValueError(f"image_size {self.image_size} must be divisible by patch {self.patch}")
        if self.hidden % self.num_heads or self.hidden % 4:
            raise ValueError(f"hidden {self.hidden} must be divisible by num_heads {self.num_heads} and by 4")
        if self.conditioning not in CONDITIONINGS:
            raise ValueError(f"DiTConfig.conditioning must be one of {CONDITIONINGS}, got {self.conditioning!r}")
        if not isinstance(self.learn_sigma, bool):
            raise TypeError(f"DiTConfig.learn_sigma must be True or False, got {self.learn_sigma!r}")
        if self.initialization not in INITIALIZATIONS:
            raise ValueError(f"DiTConfig.initialization must be one of {INITIALIZATIONS}, got {self.initialization!r}")
        check_real("DiTConfig.mlp_ratio", self.mlp_ratio, 0.0, 64.0, low_open=True)

    @property
    def out_channels(self) -> int:
        return 2 * self.in_channels if self.learn_sigma else self.in_channels

    @classmethod
    def paper(cls, name: str = "DiT-XL/2", **overrides: object) -> DiTConfig:
        """The paper's class-conditional ImageNet 256×256 model ``name`` ("DiT-S/8" … "DiT-XL/2"):
        32×32×4 latents of the Stable Diffusion VAE, 1,000 classes and the null class, learned
        variance, 256 step frequencies, the official initialisation. ``overrides`` change any
        field (``image_size=64`` for the 512×512 models)."""
        if not isinstance(name, str) or "/" not in name or name.split("/")[0] not in PAPER_MODELS:
            raise ValueError(f"name must be one of {sorted(PAPER_MODELS)} with a patch size /2, /4 or /8, e.g. 'DiT-XL/2'; got {name!r}")
        size, patch = name.split("/")
        if patch not in ("2", "4", "8"):
            raise ValueError(f"the paper's patch sizes are 2, 4 and 8; got {name!r}")
        depth, hidden, heads = PAPER_MODELS[size]
        fields = dict(image_size=32, in_channels=4, patch=int(patch), hidden=hidden, depth=depth, num_heads=heads,
                      mlp_ratio=4.0, num_classes=1000, learn_sigma=True, frequency_embedding_size=256,
                      time_mlp_width=None, initialization="paper")
        unknown = sorted(set(overrides) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"unknown DiTConfig fields {unknown}")
        return cls(**{**fields, **overrides})


class DiT(nn.Module):
    """Noise predictor ``(x_t (B, C, H, W), t (B,), y (B,)) → ε̂ (B, C, H, W)`` — ``(B, 2C, H, W)``
    with ``learn_sigma``: the noise, then the variance interpolation ``v`` of Nichol & Dhariwal."""

    def __init__(self, config: DiTConfig | None = None) -> None:
        super().__init__()
        config = DiTConfig() if config is None else config
        if not isinstance(config, DiTConfig):
            raise TypeError(f"config must be a DiTConfig, got {type(config).__name__}")
        self.config = config
        grid = config.image_size // config.patch
        self.x_embedder = PatchEmbed(config.in_channels, config.hidden, config.patch)
        self.t_embedder = TimestepEmbedder(config.hidden, config.frequency_embedding_size, config.time_mlp_width)
        self.y_embedder = LabelEmbedder(config.num_classes, config.hidden)  # + the null label
        # fixed, not learned; in the state dict (as in the official checkpoints), not among the parameters
        self.register_buffer("pos_embed", sincos_2d(grid, config.hidden)[None])
        self.blocks = nn.ModuleList(DiTBlock(config.hidden, config.num_heads, config.mlp_ratio, config.conditioning)
                                    for _ in range(config.depth))
        self.final_layer = FinalLayer(config.hidden, config.patch, config.out_channels, config.conditioning)
        if config.initialization == "paper":
            self._initialize_as_published()

    @torch.no_grad()
    def _initialize_as_published(self) -> None:
        """The official ``initialize_weights``: Xavier-uniform Linears (and the patch projection, as
        a matrix) with zero biases, N(0, 0.02) for the label table and the step MLP, and the
        adaLN-Zero layers and the output layer at zero."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        weight = self.x_embedder.proj.weight
        nn.init.xavier_uniform_(weight.view(weight.shape[0], -1))
        nn.init.zeros_(self.x_embedder.proj.bias)
        nn.init.normal_(self.y_embedder.embedding_table.weight, std=0.02)
        nn.init.normal_(self.t_embedder.mlp[0].weight, std=0.02)
        nn.init.normal_(self.t_embedder.mlp[2].weight, std=0.02)
        if self.config.conditioning == "adaln-zero":
            for layer in [block.adaLN_modulation[1] for block in self.blocks] + [self.final_layer.adaLN_modulation[1],
                                                                                 self.final_layer.linear]:
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)

    def unpatchify(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, N, p²·C)`` tokens → ``(B, C, H, W)`` image (C: the output channels)."""
        b, c, p = x.shape[0], self.config.out_channels, self.config.patch
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
        tokens = self.x_embedder(x) + self.pos_embed  # (B, N, D)
        if cfg.conditioning in ("in-context", "cross-attention"):  # t and y stay two separate vectors
            pair = torch.stack([self.t_embedder(t), self.y_embedder(y)], dim=1)  # (B, 2, D)
            if cfg.conditioning == "in-context":  # two more tokens, treated like the patches, dropped at the end
                tokens = torch.cat([pair, tokens], dim=1)
                for block in self.blocks:
                    tokens = block(tokens, pair)
                tokens = tokens[:, 2:]
            else:
                for block in self.blocks:
                    tokens = block(tokens, pair)
            return self.unpatchify(self.final_layer(tokens, pair))
        c = self.t_embedder(t) + self.y_embedder(y)  # (B, D): when, and what
        if cfg.conditioning == "add":  # the source's sketch: the condition joins every token once
            tokens = tokens + c[:, None]
        for block in self.blocks:
            tokens = block(tokens, c)
        return self.unpatchify(self.final_layer(tokens, c))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
