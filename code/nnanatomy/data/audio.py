"""Speech-like audio, synthesised: voiced sounds with a pitch contour and formants, noise
fricatives, and pauses — deterministic from a seed, with the segment boundaries returned."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._checks import check_str
from ._checks import check_count, check_real, check_seed

__all__ = ["Segment", "speech_like"]

# (first, second) formant frequencies in Hz of a few vowels of an adult speaker
VOWEL_FORMANTS = {"a": (730, 1090), "i": (270, 2290), "u": (300, 870), "e": (530, 1840), "o": (570, 840)}


@dataclass(frozen=True)
class Segment:
    kind: str  # "vowel:a", "fricative", "pause"
    start: float  # seconds
    end: float

    def __post_init__(self) -> None:
        check_str("kind", self.kind)
        check_real("start", self.start, 0.0)
        if check_real("end", self.end) < self.start:
            raise ValueError(f"end ({self.end}) must not come before start ({self.start})")


def _vowel(duration: float, sr: int, f0_start: float, f0_end: float, formants: tuple[int, int]) -> np.ndarray:
    n = int(duration * sr)
    f0 = np.linspace(f0_start, f0_end, n)  # a pitch glide, as in intonation
    phase = 2 * np.pi * np.cumsum(f0) / sr
    wave = np.zeros(n)
    for k in range(1, int(4000 / max(f0_start, f0_end))):
        freq = k * f0
        # each harmonic is weighted by two resonances (the formants) of width ~100 Hz
        gain = sum(1.0 / (1.0 + ((freq - f) / 100.0) ** 2) for f in formants) + 0.02
        wave += gain * np.sin(k * phase) / k**0.5
    envelope = np.sin(np.linspace(0, np.pi, n)) ** 0.5
    return wave * envelope / (np.abs(wave).max() + 1e-9)


def _fricative(duration: float, sr: int, rng: np.random.Generator, centre: float) -> np.ndarray:
    n = int(duration * sr)
    spectrum = np.fft.rfft(rng.normal(size=n))
    freqs = np.fft.rfftfreq(n, 1 / sr)
    spectrum *= np.exp(-0.5 * ((freqs - centre) / 1200.0) ** 2)  # band-limited hiss ("s", "sh")
    wave = np.fft.irfft(spectrum, n)
    return 0.4 * wave / (np.abs(wave).max() + 1e-9) * np.hanning(n)


def speech_like(
    n_syllables: int = 6, sample_rate: int = 16000, seed: int = 0, noise_std: float = 0.01
) -> tuple[np.ndarray, list[Segment]]:
    """A sequence of syllables (optional fricative + vowel) separated by short pauses.

    Returns:
        ``(wave, segments)``: float64 samples in about [−1, 1], and what lies where.
    """
    check_count("n_syllables", n_syllables, maximum=10_000)
    sample_rate = check_count("sample_rate", sample_rate, 4000, maximum=192_000)
    rng = np.random.default_rng(check_seed(seed))
    noise_std = check_real("noise_std", noise_std, 0.0)
    pieces, segments, t = [], [], 0.0

    def add(kind: str, wave: np.ndarray) -> None:
        nonlocal t
        pieces.append(wave)
        segments.append(Segment(kind, round(t, 6), round(t + len(wave) / sample_rate, 6)))
        t += len(wave) / sample_rate

    add("pause", np.zeros(int(0.1 * sample_rate)))
    vowels = sorted(VOWEL_FORMANTS)
    for _ in range(n_syllables):
        if rng.random() < 0.5:
            add("fricative", _fricative(rng.uniform(0.06, 0.12), sample_rate, rng, rng.choice([3500.0, 5500.0])))
        v = vowels[rng.integers(len(vowels))]
        f0 = rng.uniform(100, 160)
        add(f"vowel:{v}", _vowel(rng.uniform(0.15, 0.3), sample_rate, f0, f0 * rng.uniform(0.8, 1.25), VOWEL_FORMANTS[v]))
        add("pause", np.zeros(int(rng.uniform(0.04, 0.1) * sample_rate)))
    wave = np.concatenate(pieces)
    return wave + rng.normal(0, noise_std, size=wave.shape), segments
