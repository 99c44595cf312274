"""Audio features: the short-time Fourier transform, the mel filterbank, log-mel spectrograms,
MFCCs and their deltas.

Speech and music are stationary only over tens of milliseconds, so we analyse them in short
overlapping frames; the magnitude of each frame's spectrum, pooled into bands spaced like the
ear's pitch resolution (the mel scale), gives a 2-D time–frequency image — the input of the
CNNs and Conformers of later chapters. Implemented in PyTorch (batched, on any device); the
filterbank, the MFCCs and the deltas are tested against librosa's.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ._checks import check_count, check_finite, check_real

__all__ = ["dct_matrix", "deltas", "hz_to_mel", "log_mel_spectrogram", "mel_filterbank", "mel_to_hz", "mfcc", "power_spectrogram"]

# The Slaney mel scale (librosa's default, htk=False): linear below 1 kHz, logarithmic above.
_F_SP = 200.0 / 3  # Hz per mel in the linear part
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP  # 15 mel
_LOGSTEP = math.log(6.4) / 27.0


def _as_frequencies(name: str, value: object) -> np.ndarray:
    """A number or an array of numbers as float64 (NaN passes through, as in any elementwise maths)."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating, np.ndarray, list, tuple)):
        raise TypeError(f"{name} must be a number or an array of numbers, got {type(value).__name__}")
    array = np.asarray(value)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    return array.astype(np.float64)


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """Frequency in Hz → mel (Slaney): ``f / (200/3)`` below 1 kHz, ``15 + 27·ln(f/1000)/ln 6.4`` above."""
    hz = _as_frequencies("hz", hz)
    linear = hz / _F_SP
    log = _MIN_LOG_MEL + np.log(np.maximum(hz, 1e-12) / _MIN_LOG_HZ) / _LOGSTEP
    return np.where(hz >= _MIN_LOG_HZ, log, linear)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    """The inverse of :func:`hz_to_mel`."""
    mel = _as_frequencies("mel", mel)
    return np.where(mel >= _MIN_LOG_MEL, _MIN_LOG_HZ * np.exp(_LOGSTEP * (mel - _MIN_LOG_MEL)), _F_SP * mel)


def mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int = 64, fmin: float = 0.0, fmax: float | None = None
) -> np.ndarray:
    """Triangular filters on the mel scale, area-normalised ("slaney"): shape ``(n_mels, n_fft // 2 + 1)``.

    Filter m rises linearly from mel point m to m + 1 and falls to m + 2, the ``n_mels + 2``
    points being equally spaced in mel between ``fmin`` and ``fmax`` (default: Nyquist). Each
    row is scaled by ``2 / (f_{m+2} − f_m)`` so that wide high-frequency filters do not
    dominate. Equal to ``librosa.filters.mel(sr=..., n_fft=..., n_mels=...)``.
    """
    sample_rate = check_count("sample_rate", sample_rate, maximum=192_000)
    n_fft, n_mels = check_count("n_fft", n_fft, 2, maximum=1 << 16), check_count("n_mels", n_mels, maximum=1024)
    fmin = check_real("fmin", fmin, 0.0)
    fmax = sample_rate / 2 if fmax is None else check_real("fmax", fmax, 0.0, low_open=True)
    if not 0 <= fmin < fmax <= sample_rate / 2:
        raise ValueError(f"need 0 <= fmin < fmax <= sample_rate / 2 = {sample_rate / 2}, got fmin={fmin}, fmax={fmax}")
    fft_freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    mel_points = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    widths = np.diff(mel_points)
    ramps = mel_points[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]  # rising edge of each triangle
    upper = ramps[2:] / widths[1:, None]  # falling edge
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_points[2:] - mel_points[:-2]))[:, None]
    return weights


def _as_waveform(wave: np.ndarray | torch.Tensor) -> torch.Tensor:
    if isinstance(wave, np.ndarray):
        wave = torch.from_numpy(wave)
    if not isinstance(wave, torch.Tensor) or not wave.is_floating_point():
        raise TypeError("wave must be a floating NumPy array or torch.Tensor of samples")
    if wave.ndim not in (1, 2):
        raise ValueError(f"wave must be (samples,) or (batch, samples), got shape {tuple(wave.shape)}")
    if wave.shape[-1] == 0:
        raise ValueError("wave is empty: it needs at least one sample")
    check_finite("wave", wave)
    return wave


def power_spectrogram(wave: np.ndarray | torch.Tensor, n_fft: int = 512, hop_length: int = 160) -> torch.Tensor:
    """``|STFT|²`` with a periodic Hann window, frames centred (zero-padded by ``n_fft // 2``).

    ``(samples,)`` → ``(n_fft // 2 + 1, frames)``; a batch ``(B, samples)`` → ``(B, bins, frames)``,
    with ``frames = 1 + samples // hop_length``.
    """
    wave = _as_waveform(wave)
    n_fft, hop_length = check_count("n_fft", n_fft, 2, maximum=1 << 16), check_count("hop_length", hop_length, maximum=1 << 16)
    window = torch.hann_window(n_fft, periodic=True, dtype=wave.dtype, device=wave.device)
    spec = torch.stft(wave, n_fft, hop_length, window=window, center=True, pad_mode="constant", return_complex=True)
    return spec.abs() ** 2


def log_mel_spectrogram(
    wave: np.ndarray | torch.Tensor,
    sample_rate: int,
    n_fft: int = 512,
    hop_length: int = 160,
    n_mels: int = 64,
    fmin: float = 0.0,
    fmax: float | None = None,
    floor: float = 1e-10,
) -> torch.Tensor:
    """``log(mel_filterbank @ |STFT|² + floor)``: ``(samples,)`` → ``(n_mels, frames)`` (natural log).

    At 16 kHz the defaults analyse 32 ms frames every 10 ms.
    """
    floor = check_real("floor", floor, 0.0, low_open=True)
    power = power_spectrogram(wave, n_fft, hop_length)
    fb = torch.as_tensor(mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax), dtype=power.dtype, device=power.device)
    return torch.log(torch.matmul(fb, power) + floor)


def dct_matrix(n_out: int, n_in: int) -> np.ndarray:
    """The orthonormal DCT-II as a matrix ``(n_out, n_in)``: row k is ``cos(π k (n + ½) / n_in)``,
    scaled by ``√(1/n_in)`` for k = 0 and ``√(2/n_in)`` otherwise."""
    n_out, n_in = check_count("n_out", n_out, maximum=1 << 14), check_count("n_in", n_in, maximum=1 << 14)
    if n_out > n_in:
        raise ValueError(f"n_out ({n_out}) cannot exceed n_in ({n_in})")
    k = np.arange(n_out)[:, None]
    n = np.arange(n_in)[None]
    basis = np.cos(np.pi * k * (n + 0.5) / n_in) * np.sqrt(2.0 / n_in)
    basis[0] /= np.sqrt(2.0)
    return basis


def mfcc(wave: np.ndarray | torch.Tensor, sample_rate: int, n_mfcc: int = 13, n_fft: int = 512, hop_length: int = 160,
         n_mels: int = 40, top_db: float | None = 80.0) -> torch.Tensor:
    """Mel-frequency cepstral coefficients ``(n_mfcc, frames)``: the mel power in decibels
    (``10·log10``, floored at ``top_db`` below the loudest bin), decorrelated by the orthonormal
    DCT-II — the first coefficients describe the spectral envelope (formants), not the pitch."""
    power = power_spectrogram(wave, n_fft, hop_length)
    fb = torch.as_tensor(mel_filterbank(sample_rate, n_fft, n_mels), dtype=power.dtype, device=power.device)
    db = 10.0 * torch.log10(torch.clamp(torch.matmul(fb, power), min=1e-10))
    if top_db is not None:
        top_db = check_real("top_db", top_db, 0.0)
        db = torch.maximum(db, db.amax(dim=(-2, -1), keepdim=True) - top_db)
    dct = torch.as_tensor(dct_matrix(n_mfcc, n_mels), dtype=db.dtype, device=db.device)
    return torch.matmul(dct, db)


def deltas(features: np.ndarray | torch.Tensor, width: int = 9, order: int = 1) -> np.ndarray:
    """Local slope (``order=1``, Δ) or curvature (``order=2``, ΔΔ) of every feature along time
    (the last axis): a least-squares polynomial fit over ``width`` frames (Savitzky–Golay), fitted
    to the first and last window at the edges."""
    from scipy.signal import savgol_filter  # scipy comes with scikit-learn

    if not isinstance(features, (np.ndarray, torch.Tensor)):
        raise TypeError(f"features must be a NumPy array or torch.Tensor (…, frames), got {type(features).__name__}")
    x = features.detach().cpu().numpy() if isinstance(features, torch.Tensor) else features
    if x.ndim < 1 or x.size == 0 or x.dtype.kind not in "iuf":
        raise ValueError(f"features must be real numbers with a time axis, got dtype {x.dtype} and shape {x.shape}")
    check_finite("features", x)
    width = check_count("width", width, 3, maximum=1 << 16)
    if width % 2 == 0:
        raise ValueError(f"width must be an odd int >= 3, got {width}")
    if isinstance(order, bool) or order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order!r}")
    if x.shape[-1] < width:
        raise ValueError(f"need at least width = {width} frames, got {x.shape[-1]}")
    return savgol_filter(x, window_length=width, polyorder=order, deriv=order, axis=-1, mode="interp")
