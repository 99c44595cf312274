"""Turning arrays into PyTorch data loaders."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from ._checks import check_bool, check_count, check_finite, check_seed


def _as_sample_tensor(name: str, value: object, dtype: torch.dtype | None) -> torch.Tensor:
    """``value`` (NumPy or torch, samples first, no NaN or Inf) as a tensor, floats cast to ``dtype``."""
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(value)
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a NumPy array or a torch.Tensor, got {type(value).__name__}")
    if dtype is not None and not isinstance(dtype, torch.dtype):
        raise TypeError(f"dtype must be a torch.dtype or None, got {type(dtype).__name__}")
    if value.ndim == 0 or value.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one sample, got shape {tuple(value.shape)}")
    check_finite(name, value)
    if dtype is not None and value.is_floating_point():
        value = value.to(dtype)
    return value


def tensor_loader(
    *arrays: np.ndarray | torch.Tensor,
    batch_size: int,
    shuffle: bool = True,
    seed: int = 0,
    dtype: torch.dtype | None = torch.float32,
    drop_last: bool = False,
) -> DataLoader:
    """A :class:`~torch.utils.data.DataLoader` over equally long arrays (features, targets, ...).

    Shuffling uses its own generator seeded by ``seed``, so the batch order is the same on every
    run whatever else drew random numbers. Floating arrays are cast to ``dtype`` (``None`` keeps
    them as they are); integer arrays (class labels) keep their type.
    """
    if not arrays:
        raise ValueError("tensor_loader needs at least one array")
    batch_size = check_count("batch_size", batch_size)
    check_seed(seed)
    shuffle, drop_last = check_bool("shuffle", shuffle), check_bool("drop_last", drop_last)
    tensors = [_as_sample_tensor(f"arrays[{i}]", a, dtype) for i, a in enumerate(arrays)]
    lengths = {t.shape[0] if t.ndim else None for t in tensors}
    if None in lengths or len(lengths) != 1:
        shapes = [tuple(t.shape) for t in tensors]
        raise ValueError(f"arrays must all have the same first dimension (samples), got shapes {shapes}")
    if drop_last and tensors[0].shape[0] < batch_size:
        raise ValueError(f"drop_last=True with {tensors[0].shape[0]} samples and batch_size={batch_size} leaves no batch at all")
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(
        TensorDataset(*tensors),
        batch_size=batch_size,
        shuffle=shuffle,
        generator=generator,
        drop_last=drop_last,
        pin_memory=torch.cuda.is_available(),  # page-locked batches: move_to(..., non_blocking=True) then overlaps the copy
    )
