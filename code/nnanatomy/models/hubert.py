"""HuBERT (Hsu et al., 2021), chapter 08: predict offline cluster ids of masked frames.

HuBERT's targets are not made by the network being trained. Iteration 1 clusters MFCC frames
(+Δ, ΔΔ) with k-means; a Transformer encoder reads the features with **spans** of frames
replaced by one learned mask embedding and predicts the cluster id of each masked frame.
Iteration 2 clusters an intermediate layer of the iteration-1 model — better targets — and
trains a fresh model on them.

Our encoder follows HuBERT BASE's shape at a small size: a convolutional front end (here the
log-mel ``ConvSubsampling`` of the Conformer, time ÷ 4, instead of the paper's waveform CNN),
LayerNorm, the mask embedding, a grouped convolution as relative positional embedding, a
LayerNorm, then post-norm Transformer layers. The prediction head projects each frame to
``final_dim`` and scores it against one embedding per cluster by cosine similarity over a
temperature τ = 0.1, as in the paper.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_bool, check_real, outside

from .bestrq import span_mask
from .conformer import ConvSubsampling, padding_from_lengths
from .transformer import EncoderLayer, TransformerConfig

__all__ = ["HuBERT", "HuBERTConfig", "HuBERTEncoder"]


@dataclass
class HuBERTConfig:
    input_dim: int = 64  # features per input frame (log-mel bands)
    d_model: int = 96
    num_heads: int = 4
    num_layers: int = 4
    d_ff: int = 384
    pos_conv_kernel: int = 15  # the paper: 128 (at 20 ms frames), 16 groups
    pos_conv_groups: int = 4
    dropout: float = 0.1
    num_clusters: int = 100  # k of the k-means teacher
    final_dim: int = 32  # projection in which frames meet the cluster embeddings
    temperature: float = 0.1
    mask_prob: float = 0.2  # a frame starts a masked span with this probability (paper: 0.08)
    mask_span: int = 3  # frames per span at 40 ms a frame = 120 ms (paper: 10 × 20 ms = 200 ms)

    def __post_init__(self) -> None:
        for name in ("input_dim", "d_model", "num_heads", "num_layers", "d_ff", "pos_conv_kernel", "pos_conv_groups",
                     "num_clusters", "final_dim", "mask_span"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"HuBERTConfig.{name} must be a positive int, got {value!r}")
        if self.d_model % self.num_heads or self.d_model % self.pos_conv_groups:
            raise ValueError(f"d_model {self.d_model} must be divisible by num_heads {self.num_heads} "
                             f"and pos_conv_groups {self.pos_conv_groups}")
        if self.pos_conv_kernel % 2 == 0:
            raise ValueError(f"pos_conv_kernel must be odd (same-length convolution), got {self.pos_conv_kernel}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if not 0.0 < self.mask_prob <= 1.0:
            raise ValueError(f"mask_prob must be in (0, 1], got {self.mask_prob}")
        check_real("HuBERTConfig.temperature", self.temperature, 0.0, low_open=True)


class HuBERTEncoder(nn.Module):
    """``(B, T, input_dim)`` features → ``(B, T', d_model)``, ``T' ≈ T / 4``, with the padding mask.

    ``mask`` (bool ``(B, T')``, optional) marks the frames whose front-end output is replaced by
    the learned mask embedding before the Transformer sees them.
    """

    def __init__(self, config: HuBERTConfig | None = None) -> None:
        super().__init__()
        config = HuBERTConfig() if config is None else config
        if not isinstance(config, HuBERTConfig):
            raise TypeError(f"config must be a HuBERTConfig, got {type(config).__name__}")
        self.config = config
        d = config.d_model
        self.subsample = ConvSubsampling(config.input_dim, d)
        self.feature_norm = nn.LayerNorm(d)
        self.mask_embedding = nn.Parameter(torch.empty(d).uniform_())
        self.pos_conv = nn.Conv1d(d, d, config.pos_conv_kernel, padding=config.pos_conv_kernel // 2, groups=config.pos_conv_groups)
        self.norm = nn.LayerNorm(d)
        self.dropout = nn.Dropout(config.dropout)
        layer = TransformerConfig(src_vocab_size=1, tgt_vocab_size=1, d_model=d, num_heads=config.num_heads,
                                  d_ff=config.d_ff, dropout=config.dropout)
        self.layers = nn.ModuleList(EncoderLayer(layer) for _ in range(config.num_layers))

    def forward(self, features: torch.Tensor, lengths: torch.Tensor | None = None, mask: torch.Tensor | None = None,
                return_layers: bool = False):
        cfg = self.config
        return_layers = check_bool("return_layers", return_layers)
        if not isinstance(features, torch.Tensor) or features.ndim != 3 or features.shape[-1] != cfg.input_dim:
            raise ValueError(f"features must be (batch, frames, {cfg.input_dim}), got {getattr(features, 'shape', type(features).__name__)}")
        if features.shape[1] < 4:
            raise ValueError(f"need at least 4 frames (time is subsampled by 4), got {features.shape[1]}")
        x = self.feature_norm(self.subsample(features))
        padding = None
        if lengths is not None:
            padding = padding_from_lengths(lengths, features, x.shape[1])  # checked: integers in [4, frames]
        if mask is not None:
            if mask.shape != x.shape[:2] or mask.dtype != torch.bool:
                raise ValueError(f"mask must be a bool tensor of shape {tuple(x.shape[:2])}, got {mask.dtype} {tuple(mask.shape)}")
            x = torch.where(mask[..., None], self.mask_embedding.to(x.dtype), x)
        if padding is not None:  # keep padded frames out of the positional convolution
            x = x.masked_fill(padding[..., None], 0.0)
        x = x + F.gelu(self.pos_conv(x.transpose(1, 2)).transpose(1, 2))
        x = self.dropout(self.norm(x))
        layers = []
        for layer in self.layers:
            x = layer(x, padding)
            layers.append(x)
        return (x, padding, layers) if return_layers else (x, padding)


class HuBERT(nn.Module):
    """The encoder and HuBERT's prediction head: ``logits[b, t, c] = cos(W h_bt, e_c) / τ``."""

    #: methods that run the network in place of forward: under torchrun, fit calls them through DDP
    distributed_entry_points = ("loss",)

    def __init__(self, config: HuBERTConfig | None = None) -> None:
        super().__init__()
        self.encoder = HuBERTEncoder(config)
        config = self.config = self.encoder.config
        self.final_proj = nn.Linear(config.d_model, config.final_dim)
        self.cluster_embeddings = nn.Parameter(torch.randn(config.num_clusters, config.final_dim) * config.final_dim ** -0.5)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor | None = None,
                mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits ``(B, T', num_clusters)`` for every frame, and the padding mask."""
        h, padding = self.encoder(features, lengths, mask)
        z = F.normalize(self.final_proj(h), dim=-1)
        return z @ F.normalize(self.cluster_embeddings, dim=-1).T / self.config.temperature, padding

    def loss(self, features: torch.Tensor, targets: torch.Tensor, lengths: torch.Tensor | None = None,
             generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Span-mask the frames, predict, and score the masked ones against ``targets`` ``(B, T')``
        (cluster ids; −1 where there is none): ``(loss, {logits, selected, mask})``."""
        cfg = self.config
        frames = ConvSubsampling.output_length(features.shape[1])
        if not isinstance(targets, torch.Tensor) or targets.shape != (features.shape[0], frames) or targets.is_floating_point():
            raise ValueError(f"targets must be integer cluster ids of shape ({features.shape[0]}, {frames}), "
                             f"got {getattr(targets, 'dtype', type(targets).__name__)} {tuple(getattr(targets, 'shape', ()))}")
        if outside(targets, -1, cfg.num_clusters):
            raise ValueError(f"targets must be cluster ids in [0, num_clusters = {cfg.num_clusters}) or -1 (no target), "
                             f"got values from {int(targets.min())} to {int(targets.max())}")
        if lengths is not None:
            padding_from_lengths(lengths, features, frames)  # checked before the mask draws from the generator
        mask = span_mask(features.shape[0], frames, cfg.mask_prob, cfg.mask_span, generator=generator).to(features.device)
        logits, padding = self(features, lengths, mask)
        selected = mask & (targets >= 0)
        if padding is not None:
            selected &= ~padding
        # the mean over the selected frames, computed on all of them (no host sync to find which);
        # no selected frame in the batch (short utterances, a low mask_prob) gives 0, not NaN
        per_frame = F.cross_entropy(logits.transpose(1, 2), targets.clamp_min(0), reduction="none")  # (B, T')
        loss = torch.where(selected, per_frame, 0.0).sum() / selected.sum().clamp_min(1)
        return loss, {"logits": logits, "selected": selected, "mask": mask}
