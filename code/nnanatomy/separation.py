"""Separating vocals from music with a spectrogram mask (chapter 12).

The published inference of the cascaded ASPP vocal remover, step by step
(the ``inference`` code of tsurumeso/vocal-remover and Ultimate Vocal Remover):

1. STFT of each stereo channel; magnitudes divided by ``coef = max |X|``;
2. the frames cut into windows of 512 with ``offset = 128`` frames of context on each side, so
   each window contributes its middle ``roi = 256`` frames; the spectrogram padded with
   ``offset`` zero frames on the left and ``roi − T mod roi + offset`` on the right;
3. each window through ``model.predict`` (the masked magnitudes, context cropped), the windows
   concatenated and cut to ``T`` frames, multiplied back by ``coef``; optionally (TTA) a second
   pass shifted by ``roi / 2`` averaged in;
4. the instrument estimate takes the mixture's phase; the vocals are the mixture minus it;
5. inverse STFT.

Also here: the ideal ratio mask (the standard oracle, the upper reference for mask methods),
SI-SDR, SDR through ``mir_eval``, and the training data and loss of the chapter.
"""

from __future__ import annotations

import contextlib

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from . import _guard
from ._checks import check_array, check_bool, check_device, check_finite, check_int, check_real
from .data._checks import check_seed

from .data.music import MusicStems

__all__ = [
    "LOSS_WEIGHTS", "TRAINING_SETUP", "SeparationCrops", "SpectrogramConfig", "StereoSeparation", "ideal_ratio_mask", "sdr", "separate", "separation_loss",
    "si_sdr", "stft", "istft",
]


@dataclass(frozen=True)
class SpectrogramConfig:
    n_fft: int = 512
    hop: int = 128

    def __post_init__(self) -> None:
        if isinstance(self.n_fft, bool) or not isinstance(self.n_fft, int) or not 64 <= self.n_fft <= 65536 or self.n_fft % 64:
            raise ValueError(f"n_fft must be a multiple of 64 in [64, 65536], got {self.n_fft!r}")
        if isinstance(self.hop, bool) or not isinstance(self.hop, int) or not 0 < self.hop <= self.n_fft:
            raise ValueError(f"hop must be an int in (0, n_fft], got {self.hop!r}")


def _as_audio(wave: object, name: str, ndims: tuple[int, ...]) -> torch.Tensor:
    """Real, finite samples as a float32 tensor, or a clear error (NaN would spread through the STFT)."""
    if not isinstance(wave, (np.ndarray, torch.Tensor)):
        raise TypeError(f"{name} must be a NumPy array or a tensor of samples, got {type(wave).__name__}")
    x = torch.as_tensor(wave)
    if x.ndim not in ndims:
        raise ValueError(f"{name} must have shape {' or '.join({1: '(samples,)', 2: '(channels, samples)'}[d] for d in ndims)}, "
                         f"got {tuple(x.shape)}")
    if x.is_complex() or not x.is_floating_point():
        raise TypeError(f"{name} must hold real floating-point samples, got dtype {x.dtype}")
    if x.numel() == 0:
        raise ValueError(f"{name} holds no samples, shape {tuple(x.shape)}")
    check_finite(name, x)
    return x.float()


def _as_stereo(wave: np.ndarray | torch.Tensor, name: str = "wave") -> torch.Tensor:
    x = _as_audio(wave, name, (1, 2, 3))
    if x.ndim != 2 or x.shape[0] != 2:
        raise ValueError(f"{name} must be stereo audio of shape (2, samples), got {tuple(x.shape)}")
    return x


def _check_config(config: object) -> SpectrogramConfig:
    if not isinstance(config, SpectrogramConfig):
        raise TypeError(f"config must be a SpectrogramConfig, got {type(config).__name__}")
    return config


def stft(wave: np.ndarray | torch.Tensor, config: SpectrogramConfig = SpectrogramConfig()) -> torch.Tensor:
    """Complex spectrogram ``(channels, n_fft/2 + 1, frames)`` of ``(channels, samples)`` audio
    (Hann window, centred frames)."""
    config = _check_config(config)
    x = _as_audio(wave, "wave", (1, 2))
    if x.shape[-1] <= config.n_fft // 2:
        raise ValueError(f"wave has {x.shape[-1]} samples; the STFT with n_fft={config.n_fft} needs more than "
                         f"{config.n_fft // 2} (its centred frames reflect half a window at each end)")
    return torch.stft(x, config.n_fft, config.hop, window=torch.hann_window(config.n_fft, device=x.device),
                      center=True, return_complex=True)


def istft(spec: torch.Tensor, length: int, config: SpectrogramConfig = SpectrogramConfig()) -> torch.Tensor:
    """Inverse of :func:`stft`, cut to ``length`` samples."""
    config = _check_config(config)
    if not isinstance(spec, torch.Tensor) or not spec.is_complex():
        raise ValueError(f"spec must be a complex spectrogram tensor, got {getattr(spec, 'dtype', type(spec).__name__)}")
    bins = config.n_fft // 2 + 1
    if spec.ndim not in (2, 3) or spec.shape[-2] != bins or spec.shape[-1] < 1 or (spec.ndim == 3 and spec.shape[0] < 1):
        raise ValueError(f"spec must be ({bins} bins, frames) or (channels, {bins}, frames) for n_fft={config.n_fft}, "
                         f"got {tuple(spec.shape)}")
    most = (spec.shape[-1] - 1) * config.hop + config.n_fft
    length = check_int("length", length, 1, maximum=most)
    return torch.istft(spec, config.n_fft, config.hop, window=torch.hann_window(config.n_fft, device=spec.device),
                       center=True, length=length)


@dataclass(frozen=True)
class StereoSeparation:
    instruments: np.ndarray  # (2, samples)
    vocals: np.ndarray  # (2, samples)
    mask: np.ndarray  # (2, bins, frames): instrument magnitude / mix magnitude

    def __post_init__(self) -> None:
        check_array("instruments", self.instruments, ndim=2)
        check_array("vocals", self.vocals, ndim=2)
        check_array("mask", self.mask, ndim=3)
        if self.instruments.shape != self.vocals.shape:
            raise ValueError(f"instruments {self.instruments.shape} and vocals {self.vocals.shape} must have the same shape")


@torch.no_grad()
def _windowed(model: nn.Module, x_mag: torch.Tensor, window: int, tta: bool, aggressiveness: dict | None) -> torch.Tensor:
    offset = model.offset
    roi = window - 2 * offset
    if roi <= 0:
        raise ValueError(f"window ({window}) must be wider than 2 · offset ({2 * offset})")
    n_frame = x_mag.shape[-1]

    def one_pass(pad_l: int, pad_r: int, n_window: int) -> torch.Tensor:
        padded = torch.nn.functional.pad(x_mag, (pad_l, pad_r))
        preds = [model.predict(padded[None, :, :, i * roi:i * roi + window], aggressiveness)[0] for i in range(n_window)]
        return torch.cat(preds, dim=-1)

    pad_l, pad_r = offset, roi - n_frame % roi + offset
    n_window = math.ceil(n_frame / roi)
    pred = one_pass(pad_l, pad_r, n_window)[..., :n_frame]
    if tta:
        shifted = one_pass(pad_l + roi // 2, pad_r + roi // 2, n_window + 1)[..., roi // 2:][..., :n_frame]
        pred = (pred + shifted) / 2
    return pred


def _check_aggressiveness(aggressiveness: object, config: SpectrogramConfig) -> dict | None:
    """None, or the published dict with a split bin inside the spectrogram and a power offset in [0, 10]
    (a negative value would raise weak masks, pushing the instruments above the mixture)."""
    if aggressiveness is None:
        return None
    if isinstance(aggressiveness, dict):
        if set(aggressiveness) != {"split_bin", "value"}:
            raise ValueError(f"aggressiveness must be {{'split_bin': int, 'value': number}}, got keys {sorted(aggressiveness)}")
        split_bin = check_int("aggressiveness['split_bin']", aggressiveness["split_bin"], 0, maximum=config.n_fft // 2 + 1)
        return {"split_bin": split_bin, "value": check_real("aggressiveness['value']", aggressiveness["value"], 0.0, 10.0)}
    return {"split_bin": config.n_fft // 4, "value": check_real("aggressiveness", aggressiveness, 0.0, 10.0)}


def separate(mix: np.ndarray | torch.Tensor, model: nn.Module, config: SpectrogramConfig = SpectrogramConfig(), *,
             window: int = 512, tta: bool = False, aggressiveness: float | dict | None = None,
             device: torch.device | str | None = None) -> StereoSeparation:
    """Split a stereo mixture into instruments and vocals with a mask network, as published.

    Args:
        mix: ``(2, samples)`` audio.
        model: a ``CascadedASPPNet`` (anything with ``predict`` and ``offset``) for ``config.n_fft``.
        window: frames per network call (the published 512).
        tta: also run windows shifted by half a region of interest and average.
        aggressiveness: a number (the published ``value``, e.g. 0.1 … 0.5, split at the middle
            bin) or the published dict ``{"split_bin": …, "value": …}``: the mask is raised to a
            power above 1 — weak masks weaker, so less of the vocals leaks into the instruments.
    """
    x = _as_stereo(mix, "mix")
    config = _check_config(config)
    if not isinstance(model, nn.Module) or not hasattr(model, "predict") or not hasattr(model, "offset"):
        raise TypeError(f"model must have predict() and offset (a CascadedASPPNet), got {type(model).__name__}")
    window = check_int("window", window, 2 * model.offset + 1, maximum=100_000)
    tta = check_bool("tta", tta)
    aggressiveness = _check_aggressiveness(aggressiveness, config)
    device = check_device("device", device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        spec = stft(x, config)  # (2, bins, T)
        mag = spec.abs()
        coef = float(mag.max()) or 1.0
        pred = _windowed(model, (mag / coef).to(device), window, tta, aggressiveness).cpu() * coef
    finally:
        model.train(was_training)
    phase = torch.exp(1j * spec.angle())
    instruments_spec = pred * phase
    vocals_spec = spec - instruments_spec
    n = x.shape[-1]
    return StereoSeparation(istft(instruments_spec, n, config).numpy(), istft(vocals_spec, n, config).numpy(),
                            (pred / mag.clamp_min(1e-8)).numpy())


def ideal_ratio_mask(stems: MusicStems, config: SpectrogramConfig = SpectrogramConfig()) -> StereoSeparation:
    """The oracle: the instrument mask ``|A| / (|A| + |V|)`` computed from the true stems, applied
    to the mixture like the network's mask — the standard upper reference for magnitude masks
    that keep the mixture's phase (not the best mask possible, but near it)."""
    if not isinstance(stems, MusicStems):
        raise TypeError(f"stems must be data.MusicStems, got {type(stems).__name__}")
    v, a = stft(stems.vocals, config), stft(stems.accompaniment, config)
    mix = v + a
    mask = a.abs() / (a.abs() + v.abs()).clamp_min(1e-8)
    instruments_spec = mask * mix
    n = stems.vocals.shape[-1]
    return StereoSeparation(istft(instruments_spec, n, config).numpy(), istft(mix - instruments_spec, n, config).numpy(),
                            mask.numpy())


def si_sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Scale-invariant SDR in dB, averaged over channels: the estimate is projected on the
    reference, ``10·log10(‖α·s‖² / ‖α·s − ŝ‖²)`` with ``α = ⟨ŝ, s⟩ / ‖s‖²`` (means removed).

    Defined cases at the edges: an estimate equal to the reference (up to scale) scores ``+inf``;
    a silent (constant) estimate, or one orthogonal to the reference, scores ``-inf``. A silent
    reference has no SI-SDR (there is nothing to project on): ValueError.
    """
    ref, est = (np.atleast_2d(check_array(name, value, ndim=(1, 2), kind="f").astype(np.float64))
                for name, value in (("reference", reference), ("estimate", estimate)))
    if ref.shape != est.shape:
        raise ValueError(f"reference and estimate must have the same shape, got {ref.shape} and {est.shape}")
    if ref.shape[-1] < 2:
        raise ValueError(f"reference and estimate need at least 2 samples per channel, got {ref.shape[-1]}")
    values = []
    for channel, (s, e) in enumerate(zip(ref, est)):
        s, e = s - s.mean(), e - e.mean()
        energy = np.dot(s, s)
        if energy == 0:
            raise ValueError(f"the reference is silent (constant) in channel {channel}: its SI-SDR is undefined")
        target = np.dot(e, s) / energy * s
        signal, noise = np.dot(target, target), np.dot(target - e, target - e)
        with np.errstate(divide="ignore"):
            values.append(10 * np.log10(signal / noise) if noise > 0 else np.inf if signal > 0 else -np.inf)
    return float(np.mean(values))


def sdr(references: list[np.ndarray], estimates: list[np.ndarray]) -> np.ndarray:
    """SDR in dB of each source (BSS Eval v3, ``mir_eval.separation.bss_eval_sources``), per
    channel and averaged over the channels: ``references[i]`` and ``estimates[i]`` are source i,
    ``(2, samples)`` each."""
    import mir_eval  # an optional dependency of the audio chapter; imported only when used

    for name, value in (("references", references), ("estimates", estimates)):
        if not isinstance(value, (list, tuple)) or not value or not all(isinstance(v, np.ndarray) for v in value):
            raise TypeError(f"{name} must be a non-empty list of (channels, samples) NumPy arrays, got {type(value).__name__}")
    ref, est = np.stack(references).astype(np.float64), np.stack(estimates).astype(np.float64)  # (sources, 2, n)
    if ref.shape != est.shape or ref.ndim != 3:
        raise ValueError(f"references and estimates must be lists of equal (channels, samples) arrays, got {ref.shape} and {est.shape}")
    if not (np.isfinite(ref).all() and np.isfinite(est).all()):
        raise ValueError("references and estimates must be finite (no NaN or infinity)")
    if (np.abs(ref).reshape(ref.shape[0], -1).max(axis=1) == 0).any():
        raise ValueError("every reference must hold some signal: the SDR of a silent reference is undefined")
    with _numpy2_inf():
        per_channel = [mir_eval.separation.bss_eval_sources(ref[:, c], est[:, c], compute_permutation=False)[0]
                       for c in range(ref.shape[1])]
    return np.mean(per_channel, axis=0)


@contextlib.contextmanager
def _numpy2_inf():
    """mir_eval 0.7 returns ``np.Inf`` for an infinite SIR (always, with a single source), a name
    NumPy 2 removed; 0.8 fixes it but deprecates the separation module. Provide the old name for
    the duration of the call only."""
    added = not hasattr(np, "Inf")
    if added:
        np.Inf = np.inf
    try:
        yield
    finally:
        if added:
            del np.Inf


class SeparationCrops(torch.utils.data.Dataset):
    """Training pairs for the mask network: ``(mix magnitude, accompaniment magnitude)`` crops of
    ``frames`` frames, ``(2, n_fft/2 + 1, frames)`` each, both divided by the crop's mix maximum
    (the ``coef`` of inference). ``crops_per_song`` fixed random positions per song."""

    def __init__(self, songs: list[MusicStems], config: SpectrogramConfig = SpectrogramConfig(), frames: int = 128,
                 crops_per_song: int = 4, seed: int = 0) -> None:
        if not isinstance(songs, (list, tuple)) or not songs or not all(isinstance(s, MusicStems) for s in songs):
            raise TypeError("songs must be a non-empty list of MusicStems")
        if isinstance(frames, bool) or not isinstance(frames, int) or frames < 16 or frames % 16:
            raise ValueError(f"frames must be a positive multiple of 16, got {frames!r}")
        config = _check_config(config)
        crops_per_song = check_int("crops_per_song", crops_per_song, 1, maximum=100_000)
        seed = check_seed(seed)
        self.mix = [stft(s.mix, config).abs() for s in songs]
        self.accompaniment = [stft(s.accompaniment, config).abs() for s in songs]
        rng = np.random.default_rng(seed)
        self.index = []
        for i, m in enumerate(self.mix):
            if m.shape[-1] < frames:
                raise ValueError(f"song {i} has {m.shape[-1]} frames, fewer than a crop of {frames}")
            self.index += [(i, int(rng.integers(0, m.shape[-1] - frames + 1))) for _ in range(crops_per_song)]
        self.frames = frames

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        i, start = self.index[k]
        x = self.mix[i][..., start:start + self.frames]
        y = self.accompaniment[i][..., start:start + self.frames]
        coef = x.max().clamp_min(1e-8)
        return x / coef, y / coef


#: the training set-up of chapter 12's shipped network (``tools/train_checkpoints.py uvr5-narrow``):
#: 4-second songs at 16 kHz, STFT 512 / hop 128 (257 bins, 125 frames per second), crops of 128 frames
TRAINING_SETUP = dict(seconds=4.0, sample_rate=16000, songs=256, frames=128, crops_per_song=4, batch_size=8,
                      spectrogram=dict(n_fft=512, hop=128))

#: weights of the main output and the two auxiliary outputs in the training loss (ours)
LOSS_WEIGHTS = (0.8, 0.1, 0.1)


def separation_loss(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """L1 between the masked mixture and the accompaniment magnitudes, for the final output and
    the two auxiliary outputs (stages 1 and 2), weighted by :data:`LOSS_WEIGHTS`."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module (a CascadedASPPNet), got {type(model).__name__}")
    if not (isinstance(batch, (tuple, list)) and len(batch) == 2 and all(isinstance(t, torch.Tensor) for t in batch)):
        raise TypeError("batch must be a pair (mix magnitudes, accompaniment magnitudes) of tensors")
    x, y = batch
    if x.shape != y.shape:
        raise ValueError(f"mix {tuple(x.shape)} and accompaniment {tuple(y.shape)} magnitudes must have the same shape")
    outputs = _guard.call("model", model, x)
    if not isinstance(outputs, tuple):
        raise ValueError("separation_loss needs the model in training mode (three outputs)")
    return sum(w * torch.nn.functional.l1_loss(o, y) for w, o in zip(LOSS_WEIGHTS, outputs))
