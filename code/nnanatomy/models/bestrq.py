"""BEST-RQ's targets (Chiu et al., 2022), chapter 08: a random-projection quantizer and masking.

BEST-RQ needs no learned tokenizer. A **frozen** random matrix projects stacked feature frames
to a small space, a **frozen** random codebook of l2-normalised vectors sits in that space, and
the index of the nearest code (after normalising the projection too) is the frame's label. The
encoder never sees the quantizer: it reads features whose masked frames were replaced by noise
and predicts the labels of those frames.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_int, check_real, outside

from .conformer import ConformerConfig, ConformerEncoder, ConvSubsampling, padding_from_lengths

__all__ = ["BestRQ", "RandomProjectionQuantizer", "mask_with_noise", "span_mask"]


class RandomProjectionQuantizer(nn.Module):
    """``(B, T, D)`` features → ``(B, T // stack)`` labels in ``[0, codebook_size)``.

    ``stack`` consecutive frames are concatenated (the encoder's frame rate after subsampling),
    projected by a Xavier-initialised ``(stack·D, code_dim)`` matrix, l2-normalised, and matched
    to the nearest of ``codebook_size`` l2-normalised standard-normal codes. Both tensors are
    buffers drawn from ``seed``: nothing here is ever trained.
    """

    def __init__(self, input_dim: int, stack: int = 4, codebook_size: int = 8192, code_dim: int = 16, seed: int = 0) -> None:
        super().__init__()
        for name, value in (("input_dim", input_dim), ("stack", stack), ("codebook_size", codebook_size), ("code_dim", code_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        gen = torch.Generator().manual_seed(seed)
        fan_in, fan_out = stack * input_dim, code_dim
        std = (2.0 / (fan_in + fan_out)) ** 0.5  # Xavier normal
        self.register_buffer("projection", torch.randn(fan_in, fan_out, generator=gen) * std)
        self.register_buffer("codebook", F.normalize(torch.randn(codebook_size, code_dim, generator=gen), dim=-1))
        self.input_dim, self.stack = input_dim, stack

    @torch.no_grad()
    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if not isinstance(features, torch.Tensor) or features.ndim != 3 or features.shape[-1] != self.input_dim:
            raise ValueError(f"features must be (batch, frames, {self.input_dim}), got {getattr(features, 'shape', type(features).__name__)}")
        b, t, d = features.shape
        usable = t // self.stack * self.stack
        if usable == 0:
            raise ValueError(f"need at least stack = {self.stack} frames, got {t}")
        stacked = features[:, :usable].reshape(b, usable // self.stack, self.stack * d)
        z = F.normalize(stacked @ self.projection, dim=-1)  # (B, T', code_dim)
        # nearest code: for unit vectors, the smallest distance is the largest dot product
        return (z @ self.codebook.T).argmax(dim=-1)


def span_mask(batch: int, frames: int, start_prob: float, span: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Boolean ``(batch, frames)``: every frame starts a masked span of ``span`` frames with
    probability ``start_prob`` (spans may overlap), as in wav2vec 2.0, HuBERT and BEST-RQ."""
    batch, frames = check_int("batch", batch, 1), check_int("frames", frames, 1)
    start_prob = check_real("start_prob", start_prob, 0.0, 1.0)
    span = check_int("span", span, 1, maximum=1 << 16)
    starts = torch.rand(batch, frames, generator=generator) < start_prob
    mask = torch.zeros(batch, frames, dtype=torch.bool)
    for offset in range(min(span, frames)):  # a span longer than the utterance stops at its end
        mask[:, offset:] |= starts[:, : frames - offset]
    return mask


def mask_with_noise(features: torch.Tensor, mask: torch.Tensor, std: float = 0.1,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """Replace the masked frames of ``(B, T, D)`` features by N(0, std²) noise (BEST-RQ's masking)."""
    if not isinstance(features, torch.Tensor) or features.ndim != 3 or not features.is_floating_point():
        raise ValueError(f"features must be a float tensor (B, T, D), got {getattr(features, 'dtype', type(features).__name__)} "
                         f"{tuple(getattr(features, 'shape', ()))}")
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"mask must be a bool tensor (B, T), got {type(mask).__name__}")
    std = check_real("std", std, 0.0)
    if mask.shape != features.shape[:2] or mask.dtype != torch.bool:
        raise ValueError(f"mask must be a bool tensor of shape {tuple(features.shape[:2])}, got {mask.dtype} {tuple(mask.shape)}")
    noise = torch.randn(features.shape, generator=generator, dtype=features.dtype) * std
    return torch.where(mask[..., None], noise.to(features.device), features)


class BestRQ(nn.Module):
    """BEST-RQ pre-training: the frozen quantizer labels the clean features, the Conformer reads
    the noise-masked features, a Linear head predicts a label for **every** encoder frame, and the
    cross-entropy keeps only the masked ones.

    Frames: the encoder subsamples by 4 and the quantizer stacks 4 frames, so encoder frame ``t``
    is predicted against the code of input frames ``4t … 4t+3``; it counts as masked when any of
    those four frames was masked.
    """

    #: methods that run the network in place of forward: under torchrun, fit calls them through DDP
    distributed_entry_points = ("loss",)

    def __init__(self, encoder_config: ConformerConfig | None = None, codebook_size: int = 1024, code_dim: int = 16,
                 quantizer_seed: int = 0, mask_prob: float = 0.04, mask_span: int = 12, noise_std: float = 0.1) -> None:
        super().__init__()
        encoder_config = ConformerConfig() if encoder_config is None else encoder_config
        if not isinstance(encoder_config, ConformerConfig):
            raise TypeError(f"encoder_config must be a ConformerConfig, got {type(encoder_config).__name__}")
        if not 0.0 < mask_prob <= 1.0:
            raise ValueError(f"mask_prob must be in (0, 1], got {mask_prob}")
        if isinstance(mask_span, bool) or not isinstance(mask_span, int) or mask_span < 1:
            raise ValueError(f"mask_span must be a positive int, got {mask_span!r}")
        noise_std = check_real("noise_std", noise_std, 0.0)
        self.quantizer = RandomProjectionQuantizer(encoder_config.input_dim, 4, codebook_size, code_dim, quantizer_seed)
        self.encoder = ConformerEncoder(encoder_config)
        self.head = nn.Linear(encoder_config.d_model, codebook_size)
        self.mask_prob, self.mask_span, self.noise_std = mask_prob, mask_span, noise_std

    def forward(self, features: torch.Tensor, lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits ``(B, T', codebook_size)`` for every encoder frame, and the padding mask."""
        h, padding = self.encoder(features, lengths)
        return self.head(h), padding

    def loss(self, features: torch.Tensor, lengths: torch.Tensor | None = None,
             generator: torch.Generator | None = None,
             targets: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Mask, predict, and score the masked frames: ``(loss, {logits, targets, selected, mask})``.

        ``targets`` (an experiment, not BEST-RQ): integer labels ``(B, T')``, one per encoder frame
        (−1: none), used in place of the quantizer's codes — another kind of target for the same
        encoder, masking and head; they must lie in ``[0, codebook_size)``."""
        b, t, _ = features.shape
        if lengths is not None:
            padding_from_lengths(lengths, features, ConvSubsampling.output_length(t))  # checked before anything is drawn
        if targets is None:
            targets = self.quantizer(features)  # (B, T // 4), from the clean features
        else:
            if (not isinstance(targets, torch.Tensor) or targets.ndim != 2 or targets.shape[0] != b
                    or targets.is_floating_point() or targets.dtype == torch.bool):
                raise ValueError(f"targets must be integer labels (batch {b}, encoder frames), "
                                 f"got {getattr(targets, 'dtype', type(targets).__name__)} {tuple(getattr(targets, 'shape', ()))}")
            if outside(targets, -1, self.head.out_features):
                raise ValueError(f"targets must lie in [0, codebook_size = {self.head.out_features}) or be -1 (none)")
            targets = targets.to(features.device)
        mask = span_mask(b, t, self.mask_prob, self.mask_span, generator=generator).to(features.device)
        if lengths is not None:
            mask &= torch.arange(t, device=features.device)[None] < lengths.to(features.device)[:, None]
        logits, _ = self(mask_with_noise(features, mask, self.noise_std, generator=generator), lengths)
        n = min(logits.shape[1], targets.shape[1], t // 4)  # a label covers four whole input frames
        usable = n * 4
        selected = mask[:, :usable].reshape(b, n, 4).any(-1)
        if lengths is not None:  # a label needs four real frames
            selected &= torch.arange(n, device=features.device)[None] < (lengths.to(features.device) // 4)[:, None]
        selected &= targets[:, :n] >= 0
        # the mean over the selected labels, computed on all of them (no host sync to find which);
        # no masked frame in the batch (short utterances, a low mask_prob) gives 0, not NaN
        per_label = F.cross_entropy(logits[:, :n].transpose(1, 2), targets[:, :n].clamp_min(0), reduction="none")  # (B, n)
        loss = torch.where(selected, per_label, 0.0).sum() / selected.sum().clamp_min(1)
        return loss, {"logits": logits, "targets": targets, "selected": selected, "mask": mask}
