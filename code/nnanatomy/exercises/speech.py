"""Checkers for the exercises of chapter 08 (Best-RQ and HuBERT)."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch

from .. import speech
from ..models.bestrq import RandomProjectionQuantizer, span_mask
from ..models.conformer import ConvModule
from ._common import check_int
from ._report import AnswerTypeError, CheckResult, checker, not_answered, verdict

__all__ = ["check_codebook_pnmi", "check_conv_module_parameters", "check_cosine_logits", "check_k500_pnmi", "check_masked_fraction",
           "check_masked_loss", "check_pnmi", "check_quantizer"]


def _callable(fn: Any) -> CheckResult | None:
    if fn is None:
        return not_answered("replace None with your function.")
    if not callable(fn):
        raise AnswerTypeError(f"pass your function, got {type(fn).__name__}")
    return None


@checker
def check_quantizer(fn: Any) -> CheckResult:
    """08a, exercise 1: ``fn(features (T, D), projection (4·D, c), codebook (K, c))`` → ``(T // 4,)``
    labels, as BEST-RQ's random-projection quantizer computes them."""
    early = _callable(fn)
    if early is not None:
        return early
    q = RandomProjectionQuantizer(12, stack=4, codebook_size=40, code_dim=6, seed=7)
    gen = torch.Generator().manual_seed(1)
    for frames in (16, 23):
        x = torch.randn(frames, 12, generator=gen)
        expected = q(x[None])[0]
        got = torch.as_tensor(np.asarray(fn(x, q.projection, q.codebook))).long().reshape(-1)
        if got.shape != expected.shape:
            return verdict(False, f"{frames} frames give {len(expected)} labels (stacks of 4, the remainder dropped), got {tuple(got.shape)}.")
        if not torch.equal(got, expected):
            raw = (x[: len(expected) * 4].reshape(-1, 48) @ q.projection @ q.codebook.T).argmax(-1)
            if torch.equal(got, raw):
                return verdict(False, "normalise the projected vectors before the nearest-code search (the codes are unit vectors).")
            return verdict(False, "stack 4 consecutive frames (a 4·D vector), project, l2-normalise, take the nearest code.")
    return verdict(True, "the labels match: a frozen matrix, a frozen codebook, no training anywhere.")


@checker
def check_conv_module_parameters(answer: Any) -> CheckResult:
    """08a, exercise 2: parameters of the Conformer convolution module at ``d_model = 96``, kernel 15."""
    if answer is None:
        return not_answered("replace None with an int.")
    got = check_int(answer)
    want = sum(p.numel() for p in ConvModule(96, 15, 0.0).parameters())
    if got == want:
        return verdict(True, f"{want:,}: the depthwise convolution, which gives the module its reach in time, "
                             f"is only {96 * 15 + 96:,} of them; the two pointwise convolutions hold {96 * 192 + 192 + 96 * 96 + 96:,}.")
    if got == want - 2 * 96 - 2 * 96:
        return verdict(False, "count the LayerNorm's and the BatchNorm's γ and β (2 · 96 each).")
    if got == want - 96 * 96 - 96:
        return verdict(False, "the GLU halves 2d channels back to d; a second pointwise convolution (d → d) follows the Swish.")
    return verdict(False, f"{got:,} is not it: LayerNorm, pointwise 96 → 192 (with bias), GLU (no parameters), "
                          "depthwise kernel 15 (one filter per channel, with bias), BatchNorm, pointwise 96 → 96 (with bias).")


@checker
def check_masked_fraction(fn: Any) -> CheckResult:
    """08b, exercise 1: ``fn(start_prob, span)`` → the expected fraction of masked frames far from
    the start of an utterance, for spans that may overlap."""
    early = _callable(fn)
    if early is not None:
        return early
    gen = torch.Generator().manual_seed(0)
    for p, span in ((0.08, 10), (0.2, 3), (0.04, 12)):
        got = float(fn(p, span))
        exact = 1 - (1 - p) ** span
        if abs(got - exact) > 1e-9:
            if abs(got - min(1.0, p * span)) < 1e-9:
                return verdict(False, f"p · span = {p * span:.2f} counts overlapping spans twice; a frame is masked "
                                      "unless none of the span frames before it (itself included) started a span.")
            return verdict(False, f"for start_prob {p} and span {span}: got {got:.4f}, expected {exact:.4f}.")
        measured = float(span_mask(64, 2000, p, span, generator=gen)[:, span:].float().mean())
        assert abs(measured - exact) < 0.02, (measured, exact)
    return verdict(True, "1 − (1 − p)^span — HuBERT's 0.08 and 10 mask about 57 % of the frames; "
                         "span_mask measures the same.")


@checker
def check_pnmi(fn: Any) -> CheckResult:
    """08b, exercise 2: ``fn(phones, clusters)`` → PNMI = I(phone; cluster) / H(phone)."""
    early = _callable(fn)
    if early is not None:
        return early
    rng = np.random.default_rng(3)
    for n_phones, n_clusters in ((5, 9), (4, 2)):
        phones = rng.integers(0, n_phones, 500)
        clusters = np.where(rng.random(500) < 0.6, phones % n_clusters, rng.integers(0, n_clusters, 500))
        expected = speech.cluster_quality(phones, clusters)["pnmi"]
        got = float(fn(phones, clusters))
        if abs(got - expected) > 1e-6:
            return verdict(False, f"got {got:.4f}, expected {expected:.4f}: build the joint distribution p(phone, cluster) "
                                  "from counts, then Σ p(y,z) log p(y,z) / (p(y) p(z)) divided by −Σ p(y) log p(y).")
    return verdict(True, "PNMI as the HuBERT paper defines it: the share of the phone's uncertainty that the cluster removes.")


@checker
def check_masked_loss(fn: Any) -> CheckResult:
    """08a, exercise 3: ``fn(logits (B, T, K), targets (B, T), selected (B, T) bool)`` → the mean
    cross-entropy over the selected (masked) frames only."""
    early = _callable(fn)
    if early is not None:
        return early
    gen = torch.Generator().manual_seed(4)
    logits = torch.randn(3, 10, 7, generator=gen)
    targets = torch.randint(0, 7, (3, 10), generator=gen)
    selected = torch.rand(3, 10, generator=gen) < 0.4
    expected = torch.nn.functional.cross_entropy(logits[selected], targets[selected])
    got = torch.as_tensor(fn(logits, targets, selected), dtype=torch.float32)
    if got.numel() != 1:
        return verdict(False, f"return one number (the mean over the selected frames), got shape {tuple(got.shape)}.")
    if torch.allclose(got, torch.nn.functional.cross_entropy(logits.reshape(-1, 7), targets.reshape(-1)), atol=1e-5):
        return verdict(False, "that is the loss over every frame: keep only the selected (masked) frames.")
    if not torch.allclose(got, expected, atol=1e-5):
        return verdict(False, f"got {float(got):.4f}, expected {float(expected):.4f}: index logits and targets with the "
                              "boolean mask, then the mean cross-entropy.")
    return verdict(True, "only the masked frames count; the others' logits get exactly zero gradient.")


@checker
def check_cosine_logits(fn: Any) -> CheckResult:
    """08b, exercise 3: ``fn(projected (N, c), embeddings (K, c), temperature)`` → ``(N, K)``
    cosine similarities divided by the temperature (HuBERT's head)."""
    early = _callable(fn)
    if early is not None:
        return early
    gen = torch.Generator().manual_seed(5)
    z, e = torch.randn(6, 4, generator=gen) * 3, torch.randn(5, 4, generator=gen)
    expected = torch.nn.functional.cosine_similarity(z[:, None], e[None], dim=-1) / 0.1
    got = torch.as_tensor(fn(z, e, 0.1), dtype=torch.float32)
    if got.shape != expected.shape:
        return verdict(False, f"expected shape {tuple(expected.shape)} (frames × clusters), got {tuple(got.shape)}.")
    if torch.allclose(got, z @ e.T / 0.1, atol=1e-4):
        return verdict(False, "normalise both the projected frames and the embeddings to unit length first.")
    if torch.allclose(got, expected * 0.1, atol=1e-5):
        return verdict(False, "divide by the temperature.")
    if not torch.allclose(got, expected, atol=1e-4):
        return verdict(False, "cosine similarity of every frame with every cluster embedding, divided by the temperature.")
    return verdict(True, "logits bounded by ±1/τ; a small τ sharpens the softmax over the clusters.")


def _check_measured(answer: Any) -> None:
    if isinstance(answer, bool) or not isinstance(answer, (int, float, np.floating)) or not np.isfinite(answer):
        raise AnswerTypeError(f"answer must be a finite number, got {answer!r}")


@functools.lru_cache(maxsize=1)
def _test_split() -> tuple[list[torch.Tensor], list[np.ndarray]]:
    """The test utterances' features, normalised with the shipped BEST-RQ's pre-training
    statistics, and the phone of every 4-frame stack (synthesised once)."""
    from ..models.pretrained import load_pretrained

    _, info = load_pretrained("bestrq-conformer")
    stats = (torch.tensor(info["feature_mean"]), torch.tensor(info["feature_std"]))
    test_set = speech.corpus("test")
    return speech.log_mel_features(test_set, stats=stats)[0], [speech.quantizer_labels(u) for u in test_set]


def _codebook_pnmi(codebook_size: int) -> float:
    """PNMI against the phones of the labels a quantizer with ``codebook_size`` codes (the
    chapter's projection seed 0, 16 dimensions, 4 stacked frames) gives the test utterances."""
    features, phones = _test_split()
    quantizer = RandomProjectionQuantizer(features[0].shape[1], 4, codebook_size, 16, seed=0)
    return speech.cluster_quality(phones, [quantizer(f[None])[0].numpy() for f in features])["pnmi"]


@checker
def check_codebook_pnmi(answer: Any) -> CheckResult:
    """08a, exercise 4: the PNMI of the test labels of a random-projection quantizer with the
    paper's 8,192 codes — measured here again and compared with the reader's measurement."""
    if answer is None:
        return not_answered("replace None with the PNMI you measured (a number).")
    _check_measured(answer)
    expected = _codebook_pnmi(8192)
    if abs(answer - expected) < 0.005:
        chapter = _codebook_pnmi(1024)
        return verdict(True, f"measured here too: {expected:.3f}, against {chapter:.3f} with 1,024 codes. More codes, higher "
                             "PNMI — but part of that is the measure, not the labels: with more clusters than the frames "
                             "can fill, many codes hold a handful of frames, and each such code 'tells' its phone by chance.")
    if abs(answer - _codebook_pnmi(1024)) < 0.005:
        return verdict(False, "that is the chapter's codebook of 1,024; build the quantizer with codebook_size=8192.")
    return verdict(False, f"{answer:.3f} is not what the same measurement gives here; use seed 0, 16 dimensions, the test "
                          "split normalised with the checkpoint's statistics, and speech.quantizer_labels for the phones.")


@functools.lru_cache(maxsize=1)
def _mfcc_splits() -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """MFCC + Δ + ΔΔ of the probe and test utterances, and the test frames' phones (synthesised once)."""
    probe_set, test_set = speech.corpus("probe"), speech.corpus("test")
    return speech.mfcc_features(probe_set), speech.mfcc_features(test_set), [speech.encoder_labels(u) for u in test_set]


def _mfcc_pnmi(k: int) -> float:
    probe_mfcc, test_mfcc, test_labels = _mfcc_splits()
    km = speech.kmeans(probe_mfcc, k, seed=0)
    return speech.cluster_quality(test_labels, [km.predict(f) for f in test_mfcc])["pnmi"]


@checker
def check_k500_pnmi(answer: Any) -> CheckResult:
    """08b, exercise 4: the PNMI of MFCC k-means clusters with the paper's iteration-2 K = 500 —
    measured here again and compared with the reader's measurement."""
    if answer is None:
        return not_answered("replace None with the PNMI you measured (a number).")
    _check_measured(answer)
    expected = _mfcc_pnmi(500)
    if abs(answer - expected) < 0.005:
        return verdict(True, f"measured here too: {expected:.3f}, against {_mfcc_pnmi(100):.3f} at K = 100 — higher, as PNMI "
                             "always is with more clusters; only a comparison at equal K says which teacher is better.")
    if abs(answer - _mfcc_pnmi(100)) < 0.005:
        return verdict(False, "that is K = 100, the chapter's; fit the k-means with 500 clusters.")
    return verdict(False, f"{answer:.3f} is not what the same measurement gives here; fit on the probe utterances' MFCC "
                          "frames with seed 0 and score the test frames against their phones.")
