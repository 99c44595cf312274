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

__all__ = ["RandomProjectionQuantizer", "mask_with_noise", "span_mask"]


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
    if not 0.0 <= start_prob <= 1.0:
        raise ValueError(f"start_prob must be in [0, 1], got {start_prob}")
    if isinstance(span, bool) or not isinstance(span, int) or span < 1:
        raise ValueError(f"span must be a positive int, got {span!r}")
    starts = torch.rand(batch, frames, generator=generator) < start_prob
    mask = torch.zeros(batch, frames, dtype=torch.bool)
    for offset in range(span):
        mask[:, offset:] |= starts[:, : frames - offset]
    return mask


def mask_with_noise(features: torch.Tensor, mask: torch.Tensor, std: float = 0.1,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """Replace the masked frames of ``(B, T, D)`` features by N(0, std²) noise (BEST-RQ's masking)."""
    if mask.shape != features.shape[:2] or mask.dtype != torch.bool:
        raise ValueError(f"mask must be a bool tensor of shape {tuple(features.shape[:2])}, got {mask.dtype} {tuple(mask.shape)}")
    noise = torch.randn(features.shape, generator=generator, dtype=features.dtype) * std
    return torch.where(mask[..., None], noise.to(features.device), features)
