"""Checkers for the exercises of chapter 12 (ASPP separation)."""

from __future__ import annotations

import math
from typing import Any

import torch

from ..models.uvr5 import Conv2DBNActiv, SeperableConv2DBNActiv, crop_center
from ._common import check_int
from ._report import AnswerTypeError, CheckResult, checker, not_answered, verdict

__all__ = ["check_crop_center", "check_separable_parameters", "check_unclipped_psm", "check_windows"]


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@checker
def check_separable_parameters(answer: Any) -> CheckResult:
    """Exercise 1: parameters of the widest ASPP branch (separable, 512 → 512, 3×3) and of a plain
    3×3 Conv2DBNActiv in its place, as a tuple ``(separable, plain)``."""
    if answer is None:
        return not_answered("replace None with a tuple (separable, plain).")
    if not isinstance(answer, tuple) or len(answer) != 2:
        raise AnswerTypeError(f"answer must be a tuple of two ints, got {answer!r}")
    separable, plain = (check_int(a, "each count") for a in answer)
    want_sep, want_plain = _count(SeperableConv2DBNActiv(512, 512, 3, 1, 16, 16)), _count(Conv2DBNActiv(512, 512, 3, 1, 16, 16))
    if (separable, plain) == (want_sep, want_plain):
        return verdict(True, f"({want_sep:,}, {want_plain:,}) — correct: the separable branch costs "
                             f"{want_plain / want_sep:.1f}× fewer parameters (and MACs per pixel).")
    if separable == want_sep - 2 * 512 or plain == want_plain - 2 * 512:
        return verdict(False, "add the BatchNorm's γ and β (2 per output channel); the convolutions have no bias.")
    if separable != want_sep:
        return verdict(False, f"{separable:,} is not the separable count: a depthwise 3×3 (one filter per input channel, "
                              "9 weights each), then a pointwise 1×1 (512 × 512), then BatchNorm.")
    return verdict(False, f"{plain:,} is not the plain count: a 3×3 convolution from 512 to 512 channels, then BatchNorm.")


def _published_windows(n_frame: int, window: int, offset: int) -> tuple[int, int, int]:
    roi = window - 2 * offset
    return offset, roi - n_frame % roi + offset, math.ceil(n_frame / roi)


@checker
def check_windows(fn: Any) -> CheckResult:
    """Exercise 2: ``fn(n_frame, window, offset)`` → ``(pad_l, pad_r, n_window)`` as published."""
    if fn is None:
        return not_answered("replace None with your function.")
    if not callable(fn):
        raise AnswerTypeError(f"pass your function, got {type(fn).__name__}")
    for n_frame, window, offset in ((1000, 512, 128), (256, 512, 128), (100, 512, 128), (1025, 256, 64)):
        expected = _published_windows(n_frame, window, offset)
        got = tuple(int(v) for v in fn(n_frame, window, offset))
        if got != expected:
            return verdict(False, f"for {n_frame} frames, window {window}, offset {offset}: got {got}, expected {expected}. "
                                  "roi = window − 2·offset; the right pad fills the last window and adds its context.")
    return verdict(True, "the published padding: every frame lands in exactly one window's region of interest, "
                         "with offset frames of context on both sides.")


@checker
def check_crop_center(fn: Any) -> CheckResult:
    """Exercise 3: ``fn(h1, h2)`` → h1 cropped on the time axis to h2's width, centred."""
    if fn is None:
        return not_answered("replace None with your function.")
    if not callable(fn):
        raise AnswerTypeError(f"pass your function, got {type(fn).__name__}")
    h1 = torch.arange(2 * 3 * 4 * 11, dtype=torch.float32).reshape(2, 3, 4, 11)
    for width in (11, 8, 7, 1):
        h2 = torch.zeros(2, 5, 4, width)
        got = torch.as_tensor(fn(h1, h2))
        expected = crop_center(h1, h2)
        if got.shape != expected.shape:
            return verdict(False, f"width {width}: shape {tuple(got.shape)}, expected {tuple(expected.shape)} — crop the last axis only.")
        if not torch.equal(got, expected):
            return verdict(False, f"width {width}: the right size, the wrong frames — start at (w1 − w2) // 2.")
    return verdict(True, "equal to crop_center for even and odd differences.")


def _unclipped_psm() -> tuple[float, float]:
    """On the chapter's first held-out song: vocals SI-SDR of the unclipped phase-sensitive mask
    minus the clipped one's, and the share of bins whose best mask lies outside [0, 1]."""
    from ..data.music import music_stems
    from ..separation import SpectrogramConfig, TRAINING_SETUP, istft, si_sdr, stft

    setup = TRAINING_SETUP
    song = music_stems(setup["seconds"], setup["sample_rate"], seed=100_000)
    config = SpectrogramConfig(**setup["spectrogram"])
    v, a = stft(song.vocals, config), stft(song.accompaniment, config)
    x = v + a
    best = (a * x.conj()).real / (x.abs() ** 2).clamp_min(1e-16)
    n = song.vocals.shape[-1]
    scores = [si_sdr(song.vocals, istft(x - m * x, n, config).numpy()) for m in (best.clamp(0.0, 1.0), best)]
    return scores[1] - scores[0], float(((best < 0) | (best > 1)).float().mean())


@checker
def check_unclipped_psm(answer: Any) -> CheckResult:
    """Exercise 4: ``(gain_db, share_outside)`` — what the phase-sensitive mask gains on test song 0
    when it is not clipped to [0, 1], and the share of bins whose best mask lies outside [0, 1]."""
    if answer is None:
        return not_answered("replace None with a tuple (gain in dB, share of bins outside [0, 1]).")
    if not isinstance(answer, tuple) or len(answer) != 2:
        raise AnswerTypeError(f"answer must be a tuple of two numbers, got {answer!r}")
    try:
        gain, share = (float(a) for a in answer)
    except (TypeError, ValueError) as exc:
        raise AnswerTypeError(f"answer must be a tuple of two numbers, got {answer!r}") from exc
    want_gain, want_share = _unclipped_psm()
    if abs(share - want_share) > 0.01:
        hint = " — a share is between 0 and 1, not a percentage" if share > 1 else ""
        return verdict(False, f"share {share:.3f}: count the bins where Re(A/X) < 0 or > 1 over all bins of both channels{hint}.")
    if abs(gain - want_gain) > 0.05:
        return verdict(False, f"gain {gain:+.2f} dB: compare the vocals X − M·X of the unclipped and the clipped mask, "
                              "by SI-SDR against the true vocals (unclipped minus clipped).")
    return verdict(True, f"{want_gain:+.2f} dB from {want_share:.0%} of the bins: the best real mask leaves [0, 1] often, "
                         "where the two sources' phases disagree — a range a sigmoid cannot reach.")
