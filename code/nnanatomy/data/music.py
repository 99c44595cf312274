"""Music-like stereo mixtures with their stems, for chapter 12's vocal remover.

No music can be downloaded, so we synthesise songs whose parts we know:

- a **vocal**: a melody in the song's key, sung on vowels — harmonics of a gliding pitch with
  vibrato, weighted by the vowel's formants — with short consonant bursts at note onsets,
  near the centre of the stereo image;
- an **accompaniment**: plucked chords (harmonic, no vibrato) panned to one side, a bass on the
  chord roots, and drums (kick, snare, hi-hat: pitched sweeps and filtered noise).

Everything is deterministic from a seed, any length, at any sample rate ≥ 8 kHz.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._checks import check_array
from .._checks import check_bool as _check_bool
from ._checks import check_count, check_real, check_seed

__all__ = ["MusicStems", "music_stems"]

# (F1, F2, F3) in Hz of five sung vowels
SUNG_VOWELS = {"a": (800, 1150, 2900), "e": (450, 1950, 2700), "i": (300, 2300, 3000),
               "o": (500, 850, 2600), "u": (350, 700, 2500)}
MAJOR, MINOR = (0, 2, 4, 5, 7, 9, 11), (0, 2, 3, 5, 7, 8, 10)
PROGRESSIONS = ((0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 4, 4), (5, 3, 0, 4))  # scale degrees of the chord roots


@dataclass(frozen=True)
class MusicStems:
    vocals: np.ndarray  # (2, samples) float32
    accompaniment: np.ndarray  # (2, samples) float32
    sample_rate: int

    def __post_init__(self) -> None:
        for name in ("vocals", "accompaniment"):
            if check_array(name, getattr(self, name), ndim=2).shape[0] != 2:
                raise ValueError(f"{name} must be stereo (2, samples), got {getattr(self, name).shape}")
        if self.vocals.shape != self.accompaniment.shape:
            raise ValueError(f"vocals {self.vocals.shape} and accompaniment {self.accompaniment.shape} must have the same shape")
        check_count("sample_rate", self.sample_rate, 1, maximum=192_000)

    @property
    def mix(self) -> np.ndarray:
        return self.vocals + self.accompaniment


def _midi_hz(note: np.ndarray | float) -> np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(note, dtype=np.float64) - 69) / 12)


def _band_noise(n: int, sr: int, rng: np.random.Generator, low: float, high: float) -> np.ndarray:
    spectrum = np.fft.rfft(rng.normal(size=n))
    freqs = np.fft.rfftfreq(n, 1 / sr)
    spectrum[(freqs < low) | (freqs > high)] = 0
    wave = np.fft.irfft(spectrum, n)
    return wave / (np.abs(wave).max() + 1e-12)


def _harmonic_tone(f0: np.ndarray, sr: int, amplitudes) -> np.ndarray:
    """Sum of harmonics of the (time-varying) pitch ``f0``; ``amplitudes(k, freq)`` weights
    harmonic k at frequency ``freq`` (arrays over time); harmonics above 0.45·sr are dropped."""
    phase = 2 * np.pi * np.cumsum(f0) / sr
    wave = np.zeros_like(f0)
    for k in range(1, int(0.45 * sr / f0.min()) + 1):
        freq = k * f0
        audible = freq < 0.45 * sr
        wave += np.where(audible, amplitudes(k, freq) * np.sin(k * phase), 0.0)
    return wave


def _vocal(n: int, sr: int, rng: np.random.Generator, beat: float, scale: tuple[int, ...], key: int,
           vibrato: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The sung line, and its pitch without vibrato and its gate (for an instrument doubling it)."""
    f0 = np.zeros(n)
    gate = np.zeros(n)
    vowel_of = np.zeros(n, dtype=int)
    onsets = []
    degree, t = int(rng.integers(0, 7)), 0
    vowels = list(SUNG_VOWELS)
    while t < n:
        length = int(rng.choice([0.5, 1, 1, 1.5, 2]) * beat * sr)
        end = min(t + length, n)
        if rng.random() < 0.15:  # a rest
            t = end
            continue
        degree = int(np.clip(degree + rng.choice([-2, -1, -1, 0, 1, 1, 2]), -3, 10))
        octave, step = divmod(degree, 7)
        note = 57 + key + 12 * octave + scale[step]  # around A3–A5
        f0[t:end] = _midi_hz(note)
        attack, release = min(int(0.03 * sr), end - t), min(int(0.06 * sr), end - t)
        env = np.ones(end - t)
        env[:attack] = np.linspace(0, 1, attack)
        if release:
            env[-release:] *= np.linspace(1, 0, release)
        gate[t:end] = env
        vowel_of[t:end] = rng.integers(0, len(vowels))
        onsets.append(t)
        t = end
    if not onsets:
        return np.zeros(n), np.zeros(n), np.zeros(n)
    # portamento: the pitch glides between notes (a one-pole smoother over ~40 ms)
    filled = f0.copy()
    last = filled[np.nonzero(filled)[0][0]]
    for i in range(n):
        if filled[i] == 0:
            filled[i] = last
        last = filled[i]
    alpha = 1 / (0.04 * sr)
    smooth = np.empty(n)
    acc = filled[0]
    for i in range(n):
        acc += alpha * (filled[i] - acc)
        smooth[i] = acc
    time = np.arange(n) / sr
    rate, depth = rng.uniform(5.0, 6.5), rng.uniform(0.25, 0.6)  # vibrato: Hz, semitones (drawn even when off: same song)
    pitch = smooth * 2 ** (depth * vibrato * np.sin(2 * np.pi * rate * time) / 12)
    formants = np.array([SUNG_VOWELS[v] for v in vowels], dtype=np.float64)[vowel_of]  # (n, 3)
    scale_formants = rng.uniform(0.9, 1.15)  # the singer's vocal tract

    def weight(k, freq):
        resonance = sum(1.0 / (1.0 + ((freq - scale_formants * formants[:, j]) / (70 + 40 * j)) ** 2) / (1 + j)
                        for j in range(3))
        return (resonance + 0.03) / k**0.3

    wave = _harmonic_tone(pitch, sr, weight) * gate
    wave /= np.abs(wave).max() + 1e-12
    for t in onsets:  # consonants: short bursts of hiss before some notes
        if rng.random() < 0.5:
            m = min(int(rng.uniform(0.03, 0.07) * sr), n - t)
            if m > 16:
                wave[t:t + m] += 0.25 * _band_noise(m, sr, rng, 2500, 0.45 * sr) * np.hanning(m)
    return wave, smooth, gate


def _room(n: int, sr: int, rng: np.random.Generator, rt60: float) -> np.ndarray:
    """A room's impulse response, one per channel: decaying noise whose energy falls by 60 dB in
    ``rt60`` seconds, with its direct path removed (the caller adds the dry signal)."""
    m = min(int(rt60 * sr), n)
    decay = np.exp(-6.91 * np.arange(m) / (rt60 * sr))  # ln(1000) = 6.91: amplitude −60 dB at rt60
    ir = rng.normal(size=(2, m)) * decay
    ir[:, : int(0.005 * sr)] = 0  # the first 5 ms: early reflections start after the direct sound
    return ir / np.sqrt((ir**2).sum(axis=1, keepdims=True))


def _reverberate(x: np.ndarray, ir: np.ndarray, wet: float) -> np.ndarray:
    """``x`` (2, n) through the room: dry·√(1 − wet) + reverb·√wet, at the dry signal's energy."""
    from scipy.signal import fftconvolve

    tail = np.stack([fftconvolve(x[c], ir[c])[: x.shape[1]] for c in range(2)])
    tail *= np.sqrt((x**2).sum() / max((tail**2).sum(), 1e-30))
    return np.sqrt(1 - wet) * x + np.sqrt(wet) * tail


def _accompaniment(n: int, sr: int, rng: np.random.Generator, beat: float, scale: tuple[int, ...], key: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Chords, bass and drums, each mono: the caller pans them."""
    chords, bass, drums = np.zeros(n), np.zeros(n), np.zeros(n)
    progression = PROGRESSIONS[int(rng.integers(0, len(PROGRESSIONS)))]
    bar = 4 * beat
    decay_chord = rng.uniform(0.5, 1.2)
    for b, start in enumerate(np.arange(0, n / sr, bar)):
        root = progression[b % len(progression)]
        notes = [48 + key + 12 * ((root + i) // 7) + scale[(root + i) % 7] for i in (0, 2, 4)]
        for strike in (start, start + 2 * beat):  # struck twice per bar, decaying like a plucked string
            i0 = int(strike * sr)
            if i0 >= n:
                break
            m = min(int(2 * beat * sr), n - i0)
            env = np.exp(-np.arange(m) / (decay_chord * sr))
            for note in notes:
                f = np.full(m, _midi_hz(note) * (1 + rng.normal(0, 0.002)))
                chords[i0:i0 + m] += _harmonic_tone(f, sr, lambda k, freq: np.exp(-k / 5.0) / k) * env
        bass_note = 36 + key + scale[root % 7]
        for beat_i in range(4):
            i0 = int((start + beat_i * beat) * sr)
            if i0 >= n:
                break
            m = min(int(beat * sr), n - i0)
            env = np.exp(-np.arange(m) / (0.35 * sr))
            bass[i0:i0 + m] += _harmonic_tone(np.full(m, _midi_hz(bass_note)), sr, lambda k, freq: 1.0 / k**2) * env
    for i, start in enumerate(np.arange(0, n / sr, beat / 2)):  # eighth notes
        i0 = int(start * sr)
        kind = i % 8
        if kind in (0, 4):  # kick on beats 1 and 3: a falling sine
            m = min(int(0.25 * sr), n - i0)
            tt = np.arange(m) / sr
            sweep = 45 + 80 * np.exp(-tt / 0.03)
            drums[i0:i0 + m] += np.sin(2 * np.pi * np.cumsum(sweep) / sr) * np.exp(-tt / 0.12)
        if kind in (2, 6):  # snare on 2 and 4: band noise and a body tone
            m = min(int(0.2 * sr), n - i0)
            tt = np.arange(m) / sr
            drums[i0:i0 + m] += (0.6 * _band_noise(m, sr, rng, 1000, min(6000, 0.45 * sr)) + 0.3 * np.sin(2 * np.pi * 185 * tt)) * np.exp(-tt / 0.08)
        m = min(int(0.06 * sr), n - i0)  # hi-hat on every eighth
        if m > 16:
            drums[i0:i0 + m] += 0.25 * _band_noise(m, sr, rng, min(6000, 0.3 * sr), 0.45 * sr) * np.exp(-np.arange(m) / (0.015 * sr))
    return chords, bass, drums


def _normalise(x: np.ndarray) -> np.ndarray:
    return x / (np.sqrt(np.mean(x**2)) + 1e-12)


def music_stems(seconds: float = 4.0, sample_rate: int = 16000, seed: int = 0, vocal_db: float = 0.0,
                vocal_spread_db: float = 3.0, *, vibrato: bool = True, mono: bool = False, reverb: float = 0.0,
                doubling: float = 0.0) -> MusicStems:
    """One synthetic song: its vocal and accompaniment stems, stereo.

    Args:
        seconds: length.
        sample_rate: samples per second (≥ 8000).
        seed: everything (tempo, key, melody, vowels, panning, levels) follows from it.
        vocal_db: vocal-to-accompaniment loudness ratio in dB (RMS), drawn uniformly within
            ``± vocal_spread_db`` of this value.

    The keyword-only options make the song harder to separate; each leaves the rest of the song
    (every note, level and pan drawn from ``seed``) as it is without it:

        vibrato: ``False`` sings every note at a steady pitch — the vocal's most distinctive shape
            in a spectrogram is gone.
        mono: ``True`` puts every part in the centre: both channels equal, no stereo cue.
        reverb: the share (0 … 0.9) of each stem's energy sent through one room (RT60 0.8 s, the
            same room for both stems): reflections smear notes in time over each other.
        doubling: the level (0 … 2, relative to the vocal's RMS) of an instrument in the
            accompaniment that plays the vocal's melody, steady and 8 cents sharp, with the brighter
            timbre of a reed: its harmonics lie on the voice's, within a few hertz.

    Returns:
        :class:`MusicStems` with ``vocals`` and ``accompaniment`` of shape ``(2, samples)``;
        the mix is their sum, scaled so that its peak is 0.9.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0.1 <= seconds <= 600:
        raise ValueError(f"seconds must be a number in [0.1, 600], got {seconds!r}")
    sr = check_count("sample_rate", sample_rate, 8000, maximum=192_000)
    vocal_db = check_real("vocal_db", vocal_db, -60.0, 60.0)
    vocal_spread_db = check_real("vocal_spread_db", vocal_spread_db, 0.0, 60.0)
    rng = np.random.default_rng(check_seed(seed))
    n = int(round(seconds * sr))
    beat = 60.0 / rng.uniform(85, 140)
    key = int(rng.integers(0, 12))
    scale = MAJOR if rng.random() < 0.6 else MINOR
    vibrato = _check_bool("vibrato", vibrato)
    mono = _check_bool("mono", mono)
    reverb = check_real("reverb", reverb, 0.0, 0.9)
    doubling = check_real("doubling", doubling, 0.0, 2.0)
    sung, pitch, gate = _vocal(n, sr, rng, beat, scale, key, vibrato)
    vocal = _normalise(sung + 1e-9)
    chords, bass, drums = (_normalise(part + 1e-9) for part in _accompaniment(n, sr, rng, beat, scale, key))
    side = rng.choice([-1, 1])
    chord_pan, drum_pan, vocal_pan = 0.5 + side * rng.uniform(0.2, 0.4), 0.5 - side * rng.uniform(0.0, 0.2), 0.5 + rng.uniform(-0.08, 0.08)

    def pan(x: np.ndarray, p: float) -> np.ndarray:  # constant-power panning, p = 0 left … 1 right
        return np.stack([np.cos(p * np.pi / 2) * x, np.sin(p * np.pi / 2) * x])

    if mono:
        chord_pan = drum_pan = vocal_pan = 0.5
    accompaniment = pan(0.7 * chords, chord_pan) + pan(0.6 * bass, 0.5) + pan(0.5 * drums, drum_pan)
    vocals = pan(vocal, vocal_pan)
    if doubling > 0:  # a reed doubling the melody at the vocal's pitch: harmonics on the voice's
        detune = 2 ** (8 / 1200)  # 8 cents sharp, as players doubling a singer are: the two never lock in phase
        reed = _harmonic_tone(np.where(pitch > 0, pitch, 1.0) * detune, sr, lambda k, freq: 1.0 / k**0.5) * gate
        reed *= doubling * np.sqrt(np.mean(vocal**2) / max(np.mean(reed**2), 1e-30))
        accompaniment = accompaniment + pan(reed, chord_pan)
    if reverb > 0:
        ir = _room(n, sr, np.random.default_rng([check_seed(seed), 1]), 0.8)  # its own stream: the song stays the same
        if mono:
            ir[1] = ir[0]  # one room heard from the centre: the channels stay equal
        vocals, accompaniment = _reverberate(vocals, ir, reverb), _reverberate(accompaniment, ir, reverb)
    ratio_db = vocal_db + rng.uniform(-vocal_spread_db, vocal_spread_db)
    vocals *= np.sqrt(np.mean(accompaniment**2) / np.mean(vocals**2)) * 10 ** (ratio_db / 20)
    peak = np.abs(vocals + accompaniment).max()
    scale_to = 0.9 / peak
    return MusicStems((vocals * scale_to).astype(np.float32), (accompaniment * scale_to).astype(np.float32), sr)
