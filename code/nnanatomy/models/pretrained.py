"""The small pretrained models of chapters 08 and 10–12: their architectures, and loading
the checkpoints shipped inside the package (``nnanatomy/checkpoints/*.pt``, made by
``tools/train_checkpoints.py`` with the exact command stored in each file)."""

from __future__ import annotations

from importlib import resources
from typing import Any

import torch
from torch import nn

from .._checks import check_device
from ..data.images import CAPTION_WORDS
from .bestrq import BestRQ
from .conformer import ConformerConfig
from .dit import DiT, DiTConfig
from .hubert import HuBERT, HuBERTConfig
from .unet import UNet, UNetConfig
from .uvr5 import CascadedASPPNet

__all__ = ["CHECKPOINTS", "build", "load_pretrained"]

#: name → what it is
CHECKPOINTS = {
    "unet-uncond": "U-Net noise predictor, unconditional (chapter 10)",
    "unet-text": "U-Net noise predictor conditioned on a caption by cross-attention (chapters 10, 11)",
    "dit-class": "DiT noise predictor conditioned on the class label by adaLN-Zero (chapter 11)",
    "uvr5-narrow": "the cascaded ASPP vocal remover at 1/8 width, n_fft 512, on synthetic songs (chapter 12)",
    "bestrq-conformer": "BEST-RQ: a 4-block Conformer pre-trained on the phone corpus's random-projection labels (chapter 08)",
    "hubert-iter1": "HuBERT iteration 1: predicts k-means clusters (100) of MFCC + deltas (chapter 08)",
    "hubert-iter2": "HuBERT iteration 2: predicts k-means clusters (100) of iteration 1's layer-2 features (chapter 08)",
}


def build(name: str) -> nn.Module:
    """A freshly initialised model with the architecture of checkpoint ``name``."""
    if name == "unet-uncond":
        return UNet(UNetConfig(in_channels=1, out_channels=1, base_channels=32, depth=2, norm="group", time_dim=64))
    if name == "unet-text":
        return UNet(UNetConfig(in_channels=1, out_channels=1, base_channels=32, depth=2, norm="group", time_dim=64,
                               context_dim=32, vocab_size=len(CAPTION_WORDS)))
    if name == "dit-class":
        return DiT(DiTConfig(image_size=8, patch=2, hidden=64, depth=4, num_heads=4))
    if name == "uvr5-narrow":
        return CascadedASPPNet(512, width=1 / 8)
    if name == "bestrq-conformer":
        return BestRQ(ConformerConfig(input_dim=64, d_model=96, num_heads=4, num_layers=4, kernel_size=15), codebook_size=1024)
    if name == "hubert-iter1":
        return HuBERT(HuBERTConfig(num_clusters=100))
    if name == "hubert-iter2":
        return HuBERT(HuBERTConfig(num_clusters=100))
    raise ValueError(f"unknown checkpoint {name!r}; available: {sorted(CHECKPOINTS)}")


def load_pretrained(name: str, device: torch.device | str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """The trained model (eval mode) and the checkpoint's ``extra`` record (steps, seed, command,
    training time). Loads with ``weights_only=True``."""
    from ..train import load_checkpoint  # train sits above models; imported only when loading

    device = check_device("device", device)  # before anything is built
    model = build(name)
    path = resources.files("nnanatomy") / "checkpoints" / f"{name}.pt"
    with resources.as_file(path) as file:
        if not file.is_file():
            raise FileNotFoundError(f"checkpoint {name!r} is not installed: run tools/train_checkpoints.py {name}")
        info = load_checkpoint(file, model, map_location=device)
    return model.to(device).eval(), {"history": info["history"], **info["extra"]}
