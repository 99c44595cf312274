"""Speech-like utterances built from known phone-like units, for chapter 08 (Best-RQ, HuBERT).

Self-supervised speech models are judged by how well their representations recover the units
speech is made of. No corpus can be downloaded, so we synthesise one whose ground truth we
know: 22 units — vowels, nasals and approximants (harmonics of a pitch contour shaped by
formants), fricatives (band-limited noise, one voiced), plosives (a closure, then a burst) and
silence — strung into utterances by "speakers" who differ in pitch and vocal-tract length,
with additive noise. Every frame of the analysis grid carries the label of the unit sounding
at its centre.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._checks import check_array
from ._checks import check_count, check_real, check_seed

__all__ = ["PHONE_KINDS", "PHONE_UNITS", "PhoneUtterance", "phone_corpus"]

# name → (kind, parameters). Formants (F1, F2, F3) in Hz for an average adult speaker;
# noise bands (low, high) in Hz.
_UNITS: dict[str, tuple[str, tuple]] = {
    "a": ("vowel", (730, 1090, 2440)), "e": ("vowel", (530, 1840, 2480)), "i": ("vowel", (270, 2290, 3010)),
    "o": ("vowel", (570, 840, 2410)), "u": ("vowel", (300, 870, 2240)), "ae": ("vowel", (660, 1720, 2410)),
    "er": ("vowel", (490, 1350, 1690)), "uh": ("vowel", (520, 1190, 2390)),
    "m": ("nasal", (250, 1100, 2300)), "n": ("nasal", (250, 1700, 2600)), "ng": ("nasal", (250, 2300, 2750)),
    "l": ("approximant", (360, 1300, 2600)), "w": ("approximant", (300, 700, 2200)),
    "s": ("fricative", (4000, 7500)), "sh": ("fricative", (2000, 4500)), "f": ("fricative", (1000, 7500)),
    "h": ("fricative", (400, 3000)), "z": ("voiced fricative", (3800, 7500)),
    "p": ("plosive", (300, 1800)), "t": ("plosive", (3000, 6500)), "k": ("plosive", (1500, 3200)),
    "sil": ("silence", ()),
}
#: the unit names; a frame label is an index into this tuple
PHONE_UNITS: tuple[str, ...] = tuple(_UNITS)
#: unit name → its kind ("vowel", "nasal", "approximant", "fricative", "voiced fricative", "plosive", "silence")
PHONE_KINDS: dict[str, str] = {name: kind for name, (kind, _) in _UNITS.items()}
_VOICED = {"vowel", "nasal", "approximant"}
_VOWELS = [u for u in PHONE_UNITS if _UNITS[u][0] == "vowel"]
_CONSONANTS = [u for u in PHONE_UNITS if _UNITS[u][0] not in ("vowel", "silence")]


@dataclass(frozen=True)
class PhoneUtterance:
    wave: np.ndarray  # (samples,) float32
    labels: np.ndarray  # (frames,) int64 index into PHONE_UNITS, one per analysis frame
    speaker: int
    sample_rate: int
    hop_length: int

    def __post_init__(self) -> None:
        check_array("wave", self.wave, ndim=1)
        check_array("labels", self.labels, ndim=1, kind="iu")
        check_count("speaker", self.speaker, 0)
        check_count("sample_rate", self.sample_rate, 1, maximum=192_000)
        check_count("hop_length", self.hop_length, 1, maximum=self.sample_rate)
        expected = 1 + len(self.wave) // self.hop_length  # centred STFT frames
        if len(self.labels) != expected:
            raise ValueError(f"labels must have one entry per frame: 1 + {len(self.wave)} // {self.hop_length} = {expected}, "
                             f"got {len(self.labels)}")

    @property
    def frames(self) -> int:
        return len(self.labels)


def _band_noise(n: int, sr: int, rng: np.random.Generator, low: float, high: float) -> np.ndarray:
    spectrum = np.fft.rfft(rng.normal(size=n))
    freqs = np.fft.rfftfreq(n, 1 / sr)
    spectrum[(freqs < low) | (freqs > min(high, 0.48 * sr))] = 0
    wave = np.fft.irfft(spectrum, n)
    return wave / (np.sqrt(np.mean(wave**2)) + 1e-12)


def _voiced(n: int, sr: int, f0: np.ndarray, formants: np.ndarray, bandwidth: float) -> np.ndarray:
    """Harmonics of the pitch contour ``f0`` (n,), each weighted by resonances at ``formants``:
    ``(3,)`` fixed, or ``(3, n)`` moving (a glide)."""
    phase = 2 * np.pi * np.cumsum(f0) / sr
    k = np.arange(1, int(0.45 * sr / f0.min()) + 1)[:, None]  # (K, 1) harmonic numbers
    freq = k * f0[None]  # (K, n)
    formants = np.asarray(formants, dtype=np.float64).reshape(3, -1)
    gain = sum(1.0 / (1.0 + ((freq - formants[j][None]) / (bandwidth * (1 + j))) ** 2) / (1 + j) for j in range(3))
    wave = np.where(freq < 0.45 * sr, (gain + 0.01) * np.sin(k * phase[None]), 0.0).sum(0)
    return wave / (np.sqrt(np.mean(wave**2)) + 1e-12)


def _unit_wave(name: str, n: int, sr: int, rng: np.random.Generator, f0: np.ndarray, scale: float,
               previous: str | None = None, glide: float = 0.0) -> np.ndarray:
    """One unit's samples. A voiced unit after a voiced ``previous`` one starts at the previous
    unit's formants and glides to its own over the first ``glide`` of its length (coarticulation)."""
    kind, params = _UNITS[name]
    if kind == "silence":
        return np.zeros(n)
    ramp = min(n // 4, int(0.01 * sr))
    envelope = np.ones(n)
    if ramp:
        envelope[:ramp] = np.linspace(0, 1, ramp)
        envelope[-ramp:] = np.linspace(1, 0, ramp)
    if kind in _VOICED:
        level = {"vowel": 1.0, "nasal": 0.45, "approximant": 0.6}[kind]
        target = scale * np.array(params, dtype=np.float64)
        formants = target
        if glide > 0 and previous is not None and _UNITS[previous][0] in _VOICED:
            moving = max(1, int(glide * n))
            weight = np.minimum(np.arange(n) / moving, 1.0)
            start = scale * np.array(_UNITS[previous][1], dtype=np.float64)
            formants = start[:, None] + (target - start)[:, None] * weight[None]
        wave = level * _voiced(n, sr, f0, formants, 60.0 if kind == "vowel" else 90.0)
    elif kind == "fricative":
        wave = (0.35 if name in ("f", "h") else 0.6) * _band_noise(n, sr, rng, scale * params[0], scale * params[1])
    elif kind == "voiced fricative":
        wave = 0.5 * _band_noise(n, sr, rng, scale * params[0], scale * params[1]) + 0.3 * _voiced(n, sr, f0, scale * np.array([250.0, 1800.0, 2600.0]), 90.0)
    else:  # plosive: a silent closure, then a burst that decays
        closure = int(0.55 * n)
        burst = n - closure
        wave = np.zeros(n)
        wave[closure:] = 1.2 * _band_noise(burst, sr, rng, scale * params[0], scale * params[1]) * np.exp(-np.arange(burst) / (0.012 * sr))
        return wave
    return wave * envelope


def _durations(name: str, rng: np.random.Generator) -> float:
    kind = _UNITS[name][0]
    low, high = {"vowel": (0.08, 0.2), "nasal": (0.05, 0.11), "approximant": (0.05, 0.1), "fricative": (0.06, 0.14),
                 "voiced fricative": (0.06, 0.12), "plosive": (0.05, 0.09), "silence": (0.08, 0.25)}[kind]
    return float(rng.uniform(low, high))


def _lexicon(size: int, seed: int) -> tuple[list[tuple[str, ...]], np.ndarray]:
    """``size`` distinct words of 1–3 syllables (V, CV, VC, CVC) and their Zipf frequencies."""
    rng = np.random.default_rng(seed)
    words: dict[tuple[str, ...], None] = {}
    while len(words) < size:
        word: list[str] = []
        for _ in range(int(rng.integers(1, 4))):
            pattern = str(rng.choice(["CV", "CVC", "V", "VC"]))
            word += [str(rng.choice(_VOWELS)) if slot == "V" else str(rng.choice(_CONSONANTS)) for slot in pattern]
        words[tuple(word)] = None
    frequency = 1.0 / np.arange(1, size + 1)
    return list(words), frequency / frequency.sum()


def phone_corpus(n_utterances: int = 100, n_speakers: int = 8, units_per_utterance: int = 16, sample_rate: int = 16000,
                 hop_length: int = 160, snr_db: tuple[float, float] = (20.0, 35.0),
                 formant_scale: tuple[float, float] = (0.85, 1.2), tilt_db: tuple[float, float] = (0.0, 0.0),
                 glide: float = 0.0, lexicon_size: int = 0, lexicon_seed: int = 0, lexicon_part: tuple[int, int] | None = None,
                 seed: int = 0) -> list[PhoneUtterance]:
    """Utterances of random syllables (consonant–vowel–consonant patterns) over 22 known units.

    Speakers differ in pitch (85–250 Hz) and in a formant scale drawn from ``formant_scale``
    (vocal-tract length); each utterance has a falling pitch contour with random wiggles, starts
    and ends with silence, passes through a "microphone" whose spectral tilt (dB per octave
    around 1 kHz) is drawn from ``tilt_db``, and gets white noise at a signal-to-noise ratio
    drawn from ``snr_db``. With ``glide > 0`` a voiced unit after a voiced unit glides from the
    previous unit's formants to its own over that fraction of its length (coarticulation: its
    first frames sound like their neighbour, as in real speech). With ``lexicon_size > 0`` the
    utterances are strings of words (1–3 syllables each, an occasional pause between words) drawn
    with Zipf frequencies from a lexicon of that many words, which ``lexicon_seed`` fixes — the same
    "language" for every ``seed`` — so the units follow each other as predictably as in real speech;
    such an utterance has at least ``units_per_utterance`` units. ``lexicon_part = (start, stop)``
    speaks only words ``start … stop − 1`` of that lexicon (Zipf frequencies over the part): the
    first words of a lexicon are the same whatever its size, so ``lexicon_size = 300,
    lexicon_part = (200, 300)`` speaks 100 words that a 200-word lexicon of the same seed never
    uses. Frame ``f`` is labelled
    with the unit sounding at sample ``f · hop_length`` (the centre of a centred STFT frame).
    """
    check_count("n_utterances", n_utterances, maximum=100_000)
    check_count("n_speakers", n_speakers, maximum=100_000)
    check_count("units_per_utterance", units_per_utterance, 2, maximum=10_000)
    sr = check_count("sample_rate", sample_rate, 8000, maximum=192_000)
    hop = check_count("hop_length", hop_length, maximum=sr)
    for name, pair in (("snr_db", snr_db), ("formant_scale", formant_scale), ("tilt_db", tilt_db)):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"{name} must be (low, high) with low <= high, got {pair!r}")
        low, high = (check_real(f"{name}[{i}]", v) for i, v in enumerate(pair))
        if low > high:
            raise ValueError(f"{name} must be (low, high) with low <= high, got {pair!r}")
    if formant_scale[0] <= 0:
        raise ValueError(f"formant_scale must be positive, got {formant_scale!r}")
    glide = check_real("glide", glide, 0.0, 1.0, high_open=True)
    if isinstance(lexicon_size, bool) or not isinstance(lexicon_size, int) or not 0 <= lexicon_size <= 100_000:
        raise ValueError(f"lexicon_size must be an int in [0, 100000] (0: no lexicon), got {lexicon_size!r}")
    lexicon_seed = check_seed(lexicon_seed)
    lexicon = _lexicon(lexicon_size, lexicon_seed) if lexicon_size else None
    if lexicon_part is not None:
        if lexicon is None:
            raise ValueError("lexicon_part needs a lexicon (lexicon_size > 0)")
        if (not isinstance(lexicon_part, tuple) or len(lexicon_part) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in lexicon_part)
                or not 0 <= lexicon_part[0] < lexicon_part[1] <= lexicon_size):
            raise ValueError(f"lexicon_part must be a tuple (start, stop) of ints with 0 <= start < stop <= lexicon_size "
                             f"({lexicon_size}), got {lexicon_part!r}")
        part = lexicon[0][lexicon_part[0]:lexicon_part[1]]
        frequency = 1.0 / np.arange(1, len(part) + 1)
        lexicon = (part, frequency / frequency.sum())
    rng = np.random.default_rng(check_seed(seed))
    speakers = [(float(rng.uniform(85, 250)), float(rng.uniform(*formant_scale))) for _ in range(n_speakers)]
    utterances = []
    for _ in range(n_utterances):
        speaker = int(rng.integers(0, n_speakers))
        base_f0, scale = speakers[speaker]
        names = ["sil"]
        if lexicon is not None:  # whole words, an occasional pause between them
            words, frequency = lexicon
            while len(names) < units_per_utterance - 1:
                names.extend(words[int(rng.choice(len(words), p=frequency))])
                if len(names) < units_per_utterance - 1 and rng.random() < 0.15:
                    names.append("sil")
        else:  # random syllables, cut to length
            while len(names) < units_per_utterance - 1:
                pattern = rng.choice(["CV", "CVC", "V", "VC", "CVsil"])
                for slot in pattern.replace("sil", "S"):
                    names.append({"C": lambda: str(rng.choice(_CONSONANTS)), "V": lambda: str(rng.choice(_VOWELS)),
                                  "S": lambda: "sil"}[slot]())
            names = names[: units_per_utterance - 1]
        names = names + ["sil"]
        lengths = [max(int(_durations(u, rng) * sr), 4 * hop) for u in names]
        total = sum(lengths)
        contour = base_f0 * (1.1 - 0.2 * np.linspace(0, 1, total)) * (1 + 0.04 * np.sin(2 * np.pi * rng.uniform(1, 3) * np.arange(total) / sr))
        wave = np.zeros(total)
        sample_labels = np.zeros(total, dtype=np.int64)
        start = 0
        for i, (name, length) in enumerate(zip(names, lengths)):
            wave[start:start + length] = _unit_wave(name, length, sr, rng, contour[start:start + length], scale,
                                                    names[i - 1] if i else None, glide)
            sample_labels[start:start + length] = PHONE_UNITS.index(name)
            start += length
        if tilt_db[0] != 0 or tilt_db[1] != 0:
            tilt = rng.uniform(*tilt_db)
            freqs = np.maximum(np.fft.rfftfreq(total, 1 / sr), 62.5)
            wave = np.fft.irfft(np.fft.rfft(wave) * 10 ** (tilt * np.log2(freqs / 1000) / 20), total)
        power = np.mean(wave**2)
        snr = rng.uniform(*snr_db)
        wave = wave + rng.normal(size=total) * np.sqrt(power / 10 ** (snr / 10))
        wave = 0.5 * wave / (np.abs(wave).max() + 1e-12)
        frames = 1 + total // hop
        labels = sample_labels[np.minimum(np.arange(frames) * hop, total - 1)]
        utterances.append(PhoneUtterance(wave.astype(np.float32), labels, speaker, sr, hop))
    return utterances
