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

Also here: the oracle masks (the ideal ratio mask, the standard reference of mask methods, and three more),
SI-SDR, SDR through ``mir_eval``, the training data and loss of the chapter, and what a published
checkpoint needs on a real song: its setting (:class:`PublishedSetting`, :data:`UVR_SETTINGS`),
audio in and out (:func:`read_audio`, :func:`resample`, :func:`write_wav`) and
:class:`VocalRemover`, the whole path.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import _guard
from ._checks import check_array, check_bool, check_device, check_finite, check_int, check_real, check_str
from .data._checks import check_seed

from .data.music import MusicStems

__all__ = [
    "LOSS_WEIGHTS", "TRAINING_SETUP", "UVR_SETTINGS", "PublishedSetting", "SeparationCrops", "SpectrogramConfig", "StereoSeparation",
    "VocalRemover", "ORACLES", "ideal_ratio_mask", "lowpass", "oracle_mask", "read_audio", "resample", "sdr", "separate", "separation_loss", "si_sdr", "stft",
    "istft", "write_wav",
]


@dataclass(frozen=True)
class SpectrogramConfig:
    """The STFT of the separation chapter, and of a published model's setting.

    Args:
        n_fft: window and FFT length (Hann window); ``n_fft/2 + 1`` bins.
        hop: frames advance by ``hop`` samples.
        pad_mode: how the centred first and last frames see past the ends: ``"reflect"`` (PyTorch's
            default) or ``"constant"`` (zeros: librosa's default since 0.10, so the published
            code's today). It changes the first and last two or three frames only.
        lowpass: ``None`` or the published pre-filter ``(start, stop)`` of the model's setting:
            the bins from ``start`` fade linearly towards 0, every bin from ``stop`` on is 0, in
            the mixture before the network sees it (so in both outputs too).
    """

    n_fft: int = 512
    hop: int = 128
    pad_mode: str = "reflect"
    lowpass: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.n_fft, bool) or not isinstance(self.n_fft, int) or not 64 <= self.n_fft <= 65536 or self.n_fft % 64:
            raise ValueError(f"n_fft must be a multiple of 64 in [64, 65536], got {self.n_fft!r}")
        if isinstance(self.hop, bool) or not isinstance(self.hop, int) or not 0 < self.hop <= self.n_fft:
            raise ValueError(f"hop must be an int in (0, n_fft], got {self.hop!r}")
        if self.pad_mode not in ("reflect", "constant"):
            raise ValueError(f"pad_mode must be 'reflect' or 'constant', got {self.pad_mode!r}")
        if self.lowpass is not None:
            bins = self.n_fft // 2 + 1
            if (not isinstance(self.lowpass, tuple) or len(self.lowpass) != 2
                    or not all(isinstance(b, int) and not isinstance(b, bool) for b in self.lowpass)
                    or not 0 < self.lowpass[0] < self.lowpass[1] <= bins):
                raise ValueError(f"lowpass must be None or a pair of bins (start, stop) with 0 < start < stop <= {bins}, "
                                 f"got {self.lowpass!r}")

    @property
    def bins(self) -> int:
        return self.n_fft // 2 + 1


def lowpass(spec: torch.Tensor, config: SpectrogramConfig) -> torch.Tensor:
    """The published pre-filter of ``config.lowpass = (start, stop)`` applied to a spectrogram
    ``(..., bins, frames)``: bin ``start + i`` is multiplied by ``1 - (i + 1)/(stop - start)``
    (so bin ``stop - 1`` is 0) and every bin from ``stop`` on by 0. A copy; ``config.lowpass``
    ``None`` returns ``spec`` unchanged."""
    config = _check_config(config)
    if not isinstance(spec, torch.Tensor) or spec.ndim < 2 or spec.shape[-2] != config.bins:
        raise ValueError(f"spec must be a tensor (..., {config.bins} bins, frames) for n_fft={config.n_fft}, "
                         f"got {getattr(spec, 'shape', type(spec).__name__)}")
    if config.lowpass is None:
        return spec
    start, stop = config.lowpass
    gain = torch.ones(config.bins, dtype=torch.float64)
    gain[start:stop] = 1 - torch.arange(1, stop - start + 1, dtype=torch.float64) / (stop - start)
    gain[stop:] = 0
    return spec * gain.to(spec.real.dtype if spec.is_complex() else spec.dtype).to(spec.device)[:, None]


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
    (Hann window, centred frames, the ends padded by ``config.pad_mode``)."""
    config = _check_config(config)
    x = _as_audio(wave, "wave", (1, 2))
    if x.shape[-1] <= config.n_fft // 2:
        raise ValueError(f"wave has {x.shape[-1]} samples; the STFT with n_fft={config.n_fft} needs more than "
                         f"{config.n_fft // 2} (its centred frames reflect half a window at each end)")
    return torch.stft(x, config.n_fft, config.hop, window=torch.hann_window(config.n_fft, device=x.device),
                      center=True, pad_mode=config.pad_mode, return_complex=True)


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
    sample_rate: int | None = None  # samples per second of both outputs, where known

    def __post_init__(self) -> None:
        check_array("instruments", self.instruments, ndim=2)
        check_array("vocals", self.vocals, ndim=2)
        check_array("mask", self.mask, ndim=3)
        if self.sample_rate is not None:
            check_int("sample_rate", self.sample_rate, 1, maximum=10_000_000)
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
        spec = lowpass(stft(x, config), config)  # (2, bins, T); the setting's pre-filter, if any
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


#: the oracle masks :func:`oracle_mask` computes, from the true stems
ORACLES = ("irm", "iam", "ibm", "psm")


def oracle_mask(stems: MusicStems, kind: str = "irm", config: SpectrogramConfig = SpectrogramConfig()) -> StereoSeparation:
    """An oracle: an instrument mask computed from the true stems, applied to the mixture like the
    network's mask (instruments ``M·X``, vocals ``X − M·X``, the mixture's phase).

    With ``A``, ``V`` the accompaniment's and the vocals' STFTs and ``X = A + V``:

    - ``"irm"``, the ideal ratio mask ``|A| / (|A| + |V|)`` — the standard reference point;
    - ``"iam"``, the ideal amplitude mask ``min(|A| / |X|, 1)`` — what an L1 or L2 loss on
      magnitudes, like the chapter's, trains a network towards;
    - ``"ibm"``, the ideal binary mask ``1 if |A| > |V| else 0`` — the best mask taking only the
      values 0 and 1, in squared STFT error ``|M·X − A|²`` bin by bin;
    - ``"psm"``, the phase-sensitive mask ``Re(A / X) = |A| / |X| · cos(θ_A − θ_X)`` clipped to
      [0, 1] — the best of *all* masks in [0, 1] in the same error. It bounds what any network of
      this kind (a real mask in [0, 1] on the mixture's STFT) can reach in that error; after the
      inverse STFT, and in SI-SDR, it is a reference, not a proof.

    The squared errors of the instruments and of the vocals are the same number:
    ``X − M·X − V = A − M·X``.
    """
    if not isinstance(stems, MusicStems):
        raise TypeError(f"stems must be data.MusicStems, got {type(stems).__name__}")
    if kind not in ORACLES:
        raise ValueError(f"kind must be one of {ORACLES}, got {kind!r}")
    v, a = stft(stems.vocals, config), stft(stems.accompaniment, config)
    mix = v + a
    if kind == "irm":
        mask = a.abs() / (a.abs() + v.abs()).clamp_min(1e-8)
    elif kind == "iam":
        mask = (a.abs() / mix.abs().clamp_min(1e-8)).clamp(max=1.0)
    elif kind == "ibm":
        mask = (a.abs() > v.abs()).to(a.real.dtype)
    else:
        mask = ((a * mix.conj()).real / (mix.abs() ** 2).clamp_min(1e-16)).clamp(0.0, 1.0)
    instruments_spec = mask * mix
    n = stems.vocals.shape[-1]
    return StereoSeparation(istft(instruments_spec, n, config).numpy(), istft(mix - instruments_spec, n, config).numpy(),
                            mask.numpy())


def ideal_ratio_mask(stems: MusicStems, config: SpectrogramConfig = SpectrogramConfig()) -> StereoSeparation:
    """The oracle: the instrument mask ``|A| / (|A| + |V|)`` computed from the true stems, applied
    to the mixture like the network's mask — the standard reference for magnitude masks that keep
    the mixture's phase (not the best mask possible: see :func:`oracle_mask`)."""
    return oracle_mask(stems, "irm", config)


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


# ---------------------------------------------------------------------------------------------
# A published checkpoint on a real song: its setting, audio in and out, the whole path


@dataclass(frozen=True)
class PublishedSetting:
    """The setting a published checkpoint was trained at: the sample rate of its audio and its
    spectrogram (Ultimate Vocal Remover keeps it in a "model parameters" JSON file, named like
    ``1band_sr44100_hl512``). ``split_bin`` is where the published aggressiveness switches from
    the gentle power ``1 + v/3`` to ``1 + v`` (the band's ``crop_stop``)."""

    name: str
    sample_rate: int
    config: SpectrogramConfig
    split_bin: int

    def __post_init__(self) -> None:
        check_str("name", self.name)
        check_int("sample_rate", self.sample_rate, 1000, maximum=1_000_000)
        _check_config(self.config)
        check_int("split_bin", self.split_bin, 0, maximum=self.config.bins)

    @classmethod
    def from_uvr(cls, name: str, params: dict) -> "PublishedSetting":
        """Read one of Ultimate Vocal Remover's model-parameter dicts (its ``modelparams/*.json``).

        Only single-band settings without channel transforms are supported — those of the
        checkpoints of this network's v4 generation. A multi-band setting (2–4 bands at different
        sample rates, stitched together) or a mid/side or reversed input raises ``ValueError``.
        """
        check_str("name", name)
        if not isinstance(params, dict):
            raise TypeError(f"params must be the dict of a model-parameters JSON file, got {type(params).__name__}")
        missing = {"bins", "band", "sr", "pre_filter_start", "pre_filter_stop"} - set(params)
        if missing:
            raise ValueError(f"params lacks {sorted(missing)} (not a UVR model-parameters dict)")
        bands = params["band"]
        if not isinstance(bands, dict) or len(bands) != 1:
            raise ValueError(f"only single-band settings are supported; {name!r} has "
                             f"{len(bands) if isinstance(bands, dict) else 'no'} bands")
        for flag in ("mid_side", "mid_side_b2", "reverse"):
            if params.get(flag):
                raise ValueError(f"{name!r} sets {flag!r}: transformed channels are not supported")
        band = next(iter(bands.values()))
        need = {"sr", "hl", "n_fft", "crop_start", "crop_stop", "hpf_start"} - set(band)
        if need:
            raise ValueError(f"the band of {name!r} lacks {sorted(need)}")
        n_fft, bins = band["n_fft"], params["bins"]
        if band["sr"] != params["sr"]:
            raise ValueError(f"{name!r}: the band's sample rate {band['sr']} differs from the setting's {params['sr']}")
        if bins != n_fft // 2 or band["crop_start"] != 0 or band["crop_stop"] != bins:
            raise ValueError(f"{name!r}: only a band that keeps bins 0 … n_fft/2 - 1 is supported "
                             f"(bins {bins}, n_fft {n_fft}, crop {band['crop_start']}–{band['crop_stop']})")
        if band["hpf_start"] > 0:
            raise ValueError(f"{name!r}: a high-pass filter (hpf_start {band['hpf_start']}) is not supported")
        start, stop = params["pre_filter_start"], params["pre_filter_stop"]
        config = SpectrogramConfig(n_fft, band["hl"], pad_mode="constant", lowpass=(start, stop) if start > 0 else None)
        return cls(name, params["sr"], config, band["crop_stop"])


def _uvr_one_band(sr: int, hl: int, pre_filter: tuple[int, int]) -> dict:
    return {"bins": 1024, "sr": sr, "pre_filter_start": pre_filter[0], "pre_filter_stop": pre_filter[1],
            "band": {"1": {"sr": sr, "hl": hl, "n_fft": 2048, "crop_start": 0, "crop_stop": 1024, "hpf_start": -1}}}


#: the single-band settings of Ultimate Vocal Remover's v4 checkpoints of this network (values of
#: its ``lib_v5/vr_network/modelparams/*.json``; the STFT pads with zeros as librosa ≥ 0.10 does)
UVR_SETTINGS = {name: PublishedSetting.from_uvr(name, _uvr_one_band(*values)) for name, values in {
    "1band_sr44100_hl512": (44100, 512, (1023, 1024)),
    "1band_sr44100_hl1024": (44100, 1024, (1023, 1024)),
    "1band_sr32000_hl512": (32000, 512, (1000, 1021)),
    "1band_sr33075_hl384": (33075, 384, (1000, 1021)),
}.items()}


def resample(audio: np.ndarray | torch.Tensor, rate: int, new_rate: int) -> np.ndarray:
    """``(channels, samples)`` or ``(samples,)`` audio from ``rate`` to ``new_rate`` samples per
    second by polyphase filtering (``scipy.signal.resample_poly``); float32. The published code
    uses librosa's sinc resamplers; the difference is far below what a separation can hear."""
    from scipy.signal import resample_poly  # SciPy comes with scikit-learn, a dependency

    x = _as_audio(audio, "audio", (1, 2)).numpy()
    rate = check_int("rate", rate, 1, maximum=10_000_000)
    new_rate = check_int("new_rate", new_rate, 1, maximum=10_000_000)
    if rate == new_rate:
        return x.copy()
    g = math.gcd(rate, new_rate)
    return resample_poly(x, new_rate // g, rate // g, axis=-1).astype(np.float32)


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """A song from a file: ``(2, samples)`` float32 in [-1, 1] and its sample rate. Through the
    ``soundfile`` package when it is installed (WAV, FLAC, OGG, MP3 …; Colab has it), else WAV
    with integer samples through the standard library. A mono file is copied to both channels,
    as the published code does; more than two channels raise ``ValueError``."""
    if not isinstance(path, (str, Path)):
        raise TypeError(f"path must be a str or a Path, got {type(path).__name__}")
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no file at {str(path)!r}")
    try:
        import soundfile
    except ImportError:
        soundfile = None
    if soundfile is not None:
        try:
            data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        except Exception as exc:  # libsndfile's errors have several classes across versions
            raise ValueError(f"could not decode {str(path)!r} ({exc})") from exc
        audio = data.T
    else:
        audio, rate = _read_wav(path)
    if audio.shape[0] > 2:
        raise ValueError(f"{str(path)!r} has {audio.shape[0]} channels; a vocal remover takes mono or stereo")
    if audio.shape[1] == 0:
        raise ValueError(f"{str(path)!r} holds no samples")
    if audio.shape[0] == 1:
        audio = np.concatenate([audio, audio])
    check_finite("the samples of the file", audio)
    return np.ascontiguousarray(audio, dtype=np.float32), int(rate)


def _read_wav(path: Path) -> tuple[np.ndarray, int]:
    import wave

    try:
        with wave.open(str(path), "rb") as f:
            channels, width, rate, frames = f.getnchannels(), f.getsampwidth(), f.getframerate(), f.getnframes()
            raw = f.readframes(frames)
    except (wave.Error, EOFError) as exc:
        raise ValueError(f"could not read {str(path)!r} as a WAV file with integer samples ({exc}); "
                         f"install soundfile (pip install soundfile) for other formats") from exc
    if width == 1:
        samples = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128) / 128
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        samples = ((b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)) << 8 >> 8).astype(np.float32) / 2**23
    elif width in (2, 4):
        samples = np.frombuffer(raw, f"<i{width}").astype(np.float32) / 2 ** (8 * width - 1)
    else:
        raise ValueError(f"{str(path)!r} has {8 * width}-bit samples; expected 8, 16, 24 or 32")
    return samples.reshape(-1, channels).T, rate


def write_wav(path: str | Path, audio: np.ndarray | torch.Tensor, sample_rate: int) -> int:
    """Write ``(channels, samples)`` or ``(samples,)`` audio as a 16-bit PCM WAV file. Samples
    beyond [-1, 1] are clipped — a separated stem can exceed the mixture's peak — and their number
    is returned. The file is written under a temporary name and renamed when complete."""
    import os
    import tempfile
    import wave

    if not isinstance(path, (str, Path)):
        raise TypeError(f"path must be a str or a Path, got {type(path).__name__}")
    x = np.atleast_2d(_as_audio(audio, "audio", (1, 2)).numpy())
    sample_rate = check_int("sample_rate", sample_rate, 1, maximum=4_294_967_295)
    path = Path(path)
    if not path.parent.is_dir():
        raise ValueError(f"the folder of {str(path)!r} does not exist")
    clipped = int((np.abs(x) > 1).sum())
    pcm = np.round(np.clip(x, -1, 1) * 32767).astype("<i2").T.tobytes()
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out, wave.open(out, "wb") as f:
            f.setnchannels(x.shape[0])
            f.setsampwidth(2)
            f.setframerate(sample_rate)
            f.writeframes(pcm)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return clipped


class VocalRemover:
    """A mask network with the setting it was trained at: a song in, at any sample rate, its two
    stems out at the setting's rate — resampling, the setting's STFT and pre-filter, and the
    published windowed inference of :func:`separate`.

    ``aggressiveness`` is :func:`separate`'s ``value`` (the mask raised to ``1 + v/3`` below the
    setting's split bin, ``1 + v`` above). Ultimate Vocal Remover 5 doubles its setting divided
    by 100 before using it: its default 5 is ``v = 0.1`` here.
    """

    def __init__(self, model: nn.Module, setting: PublishedSetting, name: str = "") -> None:
        if not isinstance(model, nn.Module) or not hasattr(model, "predict") or not hasattr(model, "max_bin"):
            raise TypeError(f"model must be a CascadedASPPNet (predict, max_bin, offset), got {type(model).__name__}")
        if not isinstance(setting, PublishedSetting):
            raise TypeError(f"setting must be a PublishedSetting (e.g. separation.UVR_SETTINGS[...]), got {type(setting).__name__}")
        if model.max_bin != setting.config.n_fft // 2:
            raise ValueError(f"the model reads {model.max_bin} bins but setting {setting.name!r} has n_fft "
                             f"{setting.config.n_fft} ({setting.config.n_fft // 2} bins)")
        self.model, self.setting, self.name = model, setting, check_str("name", name)  # separate() sets eval and restores the mode

    def __repr__(self) -> str:
        n = sum(p.numel() for p in self.model.parameters())
        return f"VocalRemover({self.name or type(self.model).__name__}: {n:,} parameters, {self.setting.name})"

    def separate(self, song: np.ndarray | torch.Tensor, sample_rate: int, *, tta: bool = False,
                 aggressiveness: float | None = None, device: torch.device | str | None = None) -> StereoSeparation:
        """Instruments and vocals of ``song`` — ``(2, samples)`` or mono ``(samples,)`` at
        ``sample_rate`` — at :attr:`setting`'s sample rate (``result.sample_rate``)."""
        x = _as_audio(song, "song", (1, 2))
        if x.ndim == 1:
            x = torch.stack([x, x])
        if x.shape[0] != 2:
            raise ValueError(f"song must be mono (samples,) or stereo (2, samples), got {tuple(x.shape)}")
        sample_rate = check_int("sample_rate", sample_rate, 1000, maximum=1_000_000)
        rate = self.setting.sample_rate
        x = torch.from_numpy(resample(x, sample_rate, rate)) if sample_rate != rate else x
        if aggressiveness is not None:
            aggressiveness = {"split_bin": self.setting.split_bin, "value": aggressiveness}
        result = separate(x, self.model, self.setting.config, tta=tta, aggressiveness=aggressiveness, device=device)
        return StereoSeparation(result.instruments, result.vocals, result.mask, rate)
