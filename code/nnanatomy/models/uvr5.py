"""The cascaded ASPP vocal remover (``nets_123812KB.py`` of UVR5), chapter 12.

A magnitude spectrogram ``(B, 2, bins, frames)`` (two stereo channels) goes through three
stages of U-Nets whose bottleneck is an ASPP module (atrous spatial pyramid pooling: parallel
dilated convolutions that see the spectrogram at several scales):

1. the lower and the upper half of the frequency axis, each through its own ``BaseASPPNet``;
2. the input and stage 1's features through a 1×1 "bridge" and a full-band ``BaseASPPNet``;
3. the input and both stages' features through another bridge and a wider full-band net;

then a 1×1 convolution and a sigmoid give a mask in [0, 1] per bin, frame and channel; the
instrument estimate is ``mask · mix`` and the vocals are what is left of the mix.

The modules reproduce the published layer files attribute for attribute (``lib_v5/nets_123812KB.py`` and
its layer file in Ultimate Vocal Remover; see the book's credits page): at the default width the network has 31,618,944 parameters and 459 state-dict
entries with the published key names, so a published checkpoint loads with ``strict=True``.
``width`` builds the same topology with every channel count scaled, for CPU training.

The newer blocks of ``layers_new.py`` (``NewEncoder``, ``NewDecoder``, ``NewASPPModule``,
``LSTMModule``) are at the end; chapter 12 compares them with the published ones.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "ASPPModule", "BaseASPPNet", "CascadedASPPNet", "Conv2DBNActiv", "Decoder", "Encoder", "LSTMModule",
    "NewASPPModule", "NewDecoder", "NewEncoder", "SeperableConv2DBNActiv", "crop_center", "published_size_kib",
]


def crop_center(h1: torch.Tensor, h2: torch.Tensor) -> torch.Tensor:
    """Crop the time axis (last dim) of ``h1`` to the width of ``h2``, centred."""
    w1, w2 = h1.shape[-1], h2.shape[-1]
    if w1 < w2:
        raise ValueError(f"crop_center: h1 ({w1} frames) is narrower than h2 ({w2} frames)")
    start = (w1 - w2) // 2
    return h1[..., start:start + w2]


class Conv2DBNActiv(nn.Module):
    """Conv2d (no bias) → BatchNorm2d → activation, as ``self.conv`` (a Sequential)."""

    def __init__(self, nin: int, nout: int, ksize: int = 3, stride: int = 1, pad: int = 1, dilation: int = 1,
                 activ: type[nn.Module] = nn.ReLU) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(nin, nout, kernel_size=ksize, stride=stride, padding=pad, dilation=dilation, bias=False),
            nn.BatchNorm2d(nout),
            activ(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class SeperableConv2DBNActiv(nn.Module):
    """Depthwise Conv2d (one filter per channel) → pointwise 1×1 Conv2d → BatchNorm2d → activation.
    (The published spelling, kept so that the checkpoints' key names match.)"""

    def __init__(self, nin: int, nout: int, ksize: int = 3, stride: int = 1, pad: int = 1, dilation: int = 1,
                 activ: type[nn.Module] = nn.ReLU) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(nin, nin, kernel_size=ksize, stride=stride, padding=pad, dilation=dilation, groups=nin, bias=False),
            nn.Conv2d(nin, nout, kernel_size=1, bias=False),
            nn.BatchNorm2d(nout),
            activ(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Encoder(nn.Module):
    """Two Conv2DBNActiv, the second strided; returns ``(h, skip)`` with ``skip`` the first's output."""

    def __init__(self, nin: int, nout: int, ksize: int = 3, stride: int = 1, pad: int = 1,
                 activ: type[nn.Module] = nn.LeakyReLU) -> None:
        super().__init__()
        self.conv1 = Conv2DBNActiv(nin, nout, ksize, 1, pad, activ=activ)
        self.conv2 = Conv2DBNActiv(nout, nout, ksize, stride, pad, activ=activ)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        skip = self.conv1(x)
        return self.conv2(skip), skip


class Decoder(nn.Module):
    """Bilinear ×2 upsampling, the skip cropped to the width and concatenated, one Conv2DBNActiv,
    optional Dropout2d(0.1)."""

    def __init__(self, nin: int, nout: int, ksize: int = 3, stride: int = 1, pad: int = 1,
                 activ: type[nn.Module] = nn.ReLU, dropout: bool = False) -> None:
        super().__init__()
        self.conv = Conv2DBNActiv(nin, nout, ksize, 1, pad, activ=activ)
        self.dropout = nn.Dropout2d(0.1) if dropout else None

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)
        if skip is not None:
            x = torch.cat([x, crop_center(skip, x)], dim=1)
        h = self._convolution()(x)
        return self.dropout(h) if self.dropout is not None else h

    def _convolution(self) -> nn.Module:
        return self.conv


class ASPPModule(nn.Module):
    """Five branches on ``nin`` channels — frequency-pooled context, 1×1, and three separable 3×3
    convolutions dilated by ``dilations`` — concatenated and fused by a 1×1 bottleneck."""

    def __init__(self, nin: int, nout: int, dilations: tuple[int, int, int] = (4, 8, 16),
                 activ: type[nn.Module] = nn.ReLU) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(nn.AdaptiveAvgPool2d((1, None)), Conv2DBNActiv(nin, nin, 1, 1, 0, activ=activ))
        self.conv2 = Conv2DBNActiv(nin, nin, 1, 1, 0, activ=activ)
        self.conv3 = SeperableConv2DBNActiv(nin, nin, 3, 1, dilations[0], dilations[0], activ=activ)
        self.conv4 = SeperableConv2DBNActiv(nin, nin, 3, 1, dilations[1], dilations[1], activ=activ)
        self.conv5 = SeperableConv2DBNActiv(nin, nin, 3, 1, dilations[2], dilations[2], activ=activ)
        self.bottleneck = nn.Sequential(Conv2DBNActiv(nin * 5, nout, 1, 1, 0, activ=activ), nn.Dropout2d(0.1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, _, h, w = x.shape
        feat1 = F.interpolate(self.conv1(x), size=(h, w), mode="bilinear", align_corners=True)
        out = torch.cat([feat1, self.conv2(x), self.conv3(x), self.conv4(x), self.conv5(x)], dim=1)
        return self.bottleneck(out)


class BaseASPPNet(nn.Module):
    """A four-level U-Net: encoders nin → ch → 2ch → 4ch → 8ch, each halving both axes (its skip
    is taken before the halving), an ASPP bottleneck 8ch → 16ch, and four decoders that double
    both axes back, each fusing the skip of its level, down to ``ch`` channels at full size."""

    def __init__(self, nin: int, ch: int, dilations: tuple[int, int, int] = (4, 8, 16)) -> None:
        super().__init__()
        self.enc1 = Encoder(nin, ch, 3, 2, 1)
        self.enc2 = Encoder(ch, ch * 2, 3, 2, 1)
        self.enc3 = Encoder(ch * 2, ch * 4, 3, 2, 1)
        self.enc4 = Encoder(ch * 4, ch * 8, 3, 2, 1)
        self.aspp = ASPPModule(ch * 8, ch * 16, dilations)
        self.dec4 = Decoder(ch * (8 + 16), ch * 8, 3, 1, 1)
        self.dec3 = Decoder(ch * (4 + 8), ch * 4, 3, 1, 1)
        self.dec2 = Decoder(ch * (2 + 4), ch * 2, 3, 1, 1)
        self.dec1 = Decoder(ch * (1 + 2), ch, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, e1 = self.enc1(x)
        h, e2 = self.enc2(h)
        h, e3 = self.enc3(h)
        h, e4 = self.enc4(h)
        h = self.aspp(h)
        h = self.dec4(h, e4)
        h = self.dec3(h, e3)
        h = self.dec2(h, e2)
        return self.dec1(h, e1)


def _scaled(channels: int, width: float) -> int:
    return max(1, int(round(channels * width)))


class CascadedASPPNet(nn.Module):
    """The published three-stage network; ``width`` scales every channel count (1 = published).

    ``forward(x)`` takes magnitudes ``(B, 2, ≥ n_fft/2 bins, frames)`` and returns the masked
    magnitudes at ``n_fft/2 + 1`` bins: in training ``(mask·mix, aux1·mix, aux2·mix)`` — the two
    auxiliary outputs of stages 1 and 2, for the auxiliary losses — in eval ``mask·mix``, with the
    mask raised to a power above ``aggressiveness["split_bin"]`` and below it when given.
    """

    def __init__(self, n_fft: int = 2048, width: float = 1.0) -> None:
        super().__init__()
        if isinstance(n_fft, bool) or not isinstance(n_fft, int) or n_fft < 64 or n_fft % 64:
            raise ValueError(f"n_fft must be a positive multiple of 64 (each band's n_fft/4 bins are halved 4 times), got {n_fft!r}")
        if isinstance(width, bool) or not isinstance(width, (int, float)) or not 0 < width <= 4:
            raise ValueError(f"width must be a number in (0, 4], got {width!r}")
        c1, c2, c3 = _scaled(32, width), _scaled(32, width), _scaled(64, width)
        self.width = float(width)
        self.stg1_low_band_net = BaseASPPNet(2, c1)
        self.stg1_high_band_net = BaseASPPNet(2, c1)
        self.stg2_bridge = Conv2DBNActiv(2 + c1, _scaled(16, width), 1, 1, 0)
        self.stg2_full_band_net = BaseASPPNet(_scaled(16, width), c2)
        self.stg3_bridge = Conv2DBNActiv(2 + c1 + c2, _scaled(32, width), 1, 1, 0)
        self.stg3_full_band_net = BaseASPPNet(_scaled(32, width), c3)
        self.out = nn.Conv2d(c3, 2, 1, bias=False)
        self.aux1_out = nn.Conv2d(c1, 2, 1, bias=False)
        self.aux2_out = nn.Conv2d(c2, 2, 1, bias=False)
        self.max_bin = n_fft // 2
        self.output_bin = n_fft // 2 + 1
        self.offset = 128

    def _check(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor) or x.ndim != 4:
            raise ValueError(f"expected magnitudes (batch, 2, bins, frames), got {getattr(x, 'shape', type(x).__name__)}")
        if x.shape[1] != 2:
            raise ValueError(f"expected 2 channels (stereo magnitudes), got {x.shape[1]}")
        if x.shape[2] < self.max_bin:
            raise ValueError(f"expected at least n_fft/2 = {self.max_bin} frequency bins, got {x.shape[2]}")
        if x.shape[3] % 16:
            raise ValueError(f"the number of frames must be a multiple of 16 (four stride-2 encoders), got {x.shape[3]}")

    def _pad(self, mask: torch.Tensor) -> torch.Tensor:
        """Repeat the top bin up to ``output_bin`` (the network sees ``max_bin`` bins)."""
        return F.pad(mask, (0, 0, 0, self.output_bin - mask.shape[2]), mode="replicate")

    def forward(self, x: torch.Tensor, aggressiveness: dict | None = None):
        self._check(x)
        mix = x.detach()
        x = x.clone()[:, :, : self.max_bin]
        bandw = x.shape[2] // 2
        aux1 = torch.cat([self.stg1_low_band_net(x[:, :, :bandw]), self.stg1_high_band_net(x[:, :, bandw:])], dim=2)
        aux2 = self.stg2_full_band_net(self.stg2_bridge(torch.cat([x, aux1], dim=1)))
        h = self.stg3_full_band_net(self.stg3_bridge(torch.cat([x, aux1, aux2], dim=1)))
        mask = self._pad(torch.sigmoid(self.out(h)))
        mix = mix[:, :, : self.output_bin]
        if self.training:
            aux1 = self._pad(torch.sigmoid(self.aux1_out(aux1)))
            aux2 = self._pad(torch.sigmoid(self.aux2_out(aux2)))
            return mask * mix, aux1 * mix, aux2 * mix
        if aggressiveness:
            split, value = int(aggressiveness["split_bin"]), float(aggressiveness["value"])
            mask = mask.clone()
            mask[:, :, :split] = torch.pow(mask[:, :, :split], 1 + value / 3)
            mask[:, :, split:] = torch.pow(mask[:, :, split:], 1 + value)
        return mask * mix

    def predict(self, x_mag: torch.Tensor, aggressiveness: dict | None = None) -> torch.Tensor:
        """``forward`` in eval, with ``offset`` frames cropped from each side (they saw padding)."""
        if isinstance(x_mag, torch.Tensor) and x_mag.ndim == 4 and x_mag.shape[3] <= 2 * self.offset:
            raise ValueError(f"predict needs more than 2 · offset = {2 * self.offset} frames, got {x_mag.shape[3]}")
        h = self.forward(x_mag, aggressiveness)
        return h[:, :, :, self.offset:-self.offset] if self.offset > 0 else h


# ---------------------------------------------------------------------------------------------
# The newer blocks of layers_new.py (tsurumeso/vocal-remover)


class NewEncoder(nn.Module):
    """Stride on the *first* convolution, and no skip returned: the caller keeps each level's
    output as the skip, which is then at the level's own (already reduced) resolution."""

    def __init__(self, nin: int, nout: int, ksize: int = 3, stride: int = 1, pad: int = 1,
                 activ: type[nn.Module] = nn.LeakyReLU) -> None:
        super().__init__()
        self.conv1 = Conv2DBNActiv(nin, nout, ksize, stride, pad, activ=activ)
        self.conv2 = Conv2DBNActiv(nout, nout, ksize, 1, pad, activ=activ)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(x))


class NewDecoder(Decoder):
    """As :class:`Decoder` (the newer file names the convolution ``conv1``)."""

    def __init__(self, nin: int, nout: int, ksize: int = 3, stride: int = 1, pad: int = 1,
                 activ: type[nn.Module] = nn.ReLU, dropout: bool = False) -> None:
        super().__init__(nin, nout, ksize, stride, pad, activ, dropout)
        self.conv1 = self.conv
        del self.conv

    def _convolution(self) -> nn.Module:
        return self.conv1


class NewASPPModule(nn.Module):
    """Branches map ``nin → nout`` directly, with plain (not separable) dilated convolutions at
    dilations (4, 8, 12); the bottleneck fuses ``5·nout → nout``; dropout optional."""

    def __init__(self, nin: int, nout: int, dilations: tuple[int, int, int] = (4, 8, 12),
                 activ: type[nn.Module] = nn.ReLU, dropout: bool = False) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(nn.AdaptiveAvgPool2d((1, None)), Conv2DBNActiv(nin, nout, 1, 1, 0, activ=activ))
        self.conv2 = Conv2DBNActiv(nin, nout, 1, 1, 0, activ=activ)
        self.conv3 = Conv2DBNActiv(nin, nout, 3, 1, dilations[0], dilations[0], activ=activ)
        self.conv4 = Conv2DBNActiv(nin, nout, 3, 1, dilations[1], dilations[1], activ=activ)
        self.conv5 = Conv2DBNActiv(nin, nout, 3, 1, dilations[2], dilations[2], activ=activ)
        self.bottleneck = Conv2DBNActiv(nout * 5, nout, 1, 1, 0, activ=activ)
        self.dropout = nn.Dropout2d(0.1) if dropout else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, _, h, w = x.shape
        feat1 = F.interpolate(self.conv1(x), size=(h, w), mode="bilinear", align_corners=True)
        out = self.bottleneck(torch.cat([feat1, self.conv2(x), self.conv3(x), self.conv4(x), self.conv5(x)], dim=1))
        return self.dropout(out) if self.dropout is not None else out


class LSTMModule(nn.Module):
    """Squeeze the channels to one (1×1 conv), run a bidirectional LSTM along time with the
    frequency bins as features, map back to the bins (Linear → BatchNorm1d → ReLU):
    ``(N, nin_conv, bins, frames)`` → ``(N, 1, bins, frames)`` with ``bins = nin_lstm``."""

    def __init__(self, nin_conv: int, nin_lstm: int, nout_lstm: int) -> None:
        super().__init__()
        if nout_lstm % 2:
            raise ValueError(f"nout_lstm must be even (two directions of nout_lstm / 2), got {nout_lstm}")
        self.conv = Conv2DBNActiv(nin_conv, 1, 1, 1, 0)
        self.lstm = nn.LSTM(input_size=nin_lstm, hidden_size=nout_lstm // 2, bidirectional=True)
        self.dense = nn.Sequential(nn.Linear(nout_lstm, nin_lstm), nn.BatchNorm1d(nin_lstm), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, nbins, nframes = x.shape
        if nbins != self.lstm.input_size:
            raise ValueError(f"expected {self.lstm.input_size} frequency bins, got {nbins}")
        h = self.conv(x)[:, 0].permute(2, 0, 1)  # (frames, N, bins)
        h, _ = self.lstm(h)
        h = self.dense(h.reshape(-1, h.shape[-1]))  # (frames·N, bins)
        return h.reshape(nframes, n, 1, nbins).permute(1, 2, 3, 0)


def published_size_kib(model: nn.Module, bytes_per_value: int = 4) -> float:
    """Size of the state dict's tensors in KiB (the number in the published file names)."""
    return sum(t.numel() for t in model.state_dict().values()) * bytes_per_value / 1024

