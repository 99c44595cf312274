"""Chapter 08's measuring kit: features of the phone corpus, self-supervised pre-training,
and the two ways the HuBERT paper judges a representation against known phones.

- **Features.** Log-mel frames (normalised with the training set's statistics) for the
  encoders; MFCC + Δ + ΔΔ (39 numbers) for HuBERT's first teacher. Encoders subsample time
  by 4 (10 ms → 40 ms); encoder frame ``t`` is centred on input frame ``4t`` and carries that
  frame's phone label (:func:`encoder_labels`).
- **Pre-training.** :func:`pretrain` runs the book's ``train.fit`` over padded batches of
  utterances with the model's own masked loss (``BestRQ.loss`` or ``HuBERT.loss``).
- **Linear probe.** A multinomial logistic regression on frozen frame features, trained on one
  set of utterances and scored on another: how linearly the phones can be read out.
- **Cluster quality.** For frames with phone ``y`` and cluster ``z``: phone purity
  ``E_z[max_y p(y|z)]``, cluster purity ``E_y[max_z p(z|y)]`` and phone-normalised mutual
  information ``PNMI = I(y; z) / H(y)`` — 1 when the cluster tells the phone exactly.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from . import data, train
from ._checks import check_finite, check_int, check_real
from .models.bestrq import BestRQ
from .models.conformer import ConvSubsampling
from .models.hubert import HuBERT

__all__ = ["CORPUS", "PRETRAINING", "SPLITS", "STACK", "UtteranceBatches", "all_layer_features", "chunks", "cluster_quality",
           "corpus", "encoder_labels", "encoder_rate_frames", "information", "kmeans", "layer_features", "linear_probe",
           "log_mel_features", "mfcc_features", "pretrain", "probe_predictions", "quantizer_labels", "subsample_frames",
           "waveform_layer_features"]

STACK = 4  # input frames per encoder frame

#: chapter 08's corpus: ``data.phone_corpus`` made hard enough that one frame is ambiguous —
#: noise at 5–15 dB, speakers whose vocal tracts differ by ±25 %, a microphone tilt of up to
#: ±4 dB per octave, and formant glides over the first 40 % of a voiced unit after a voiced one;
#: utterances are words of a 200-word lexicon, so context predicts units as in a real language
CORPUS = dict(snr_db=(5.0, 15.0), formant_scale=(0.8, 1.25), tilt_db=(-4.0, 4.0), glide=0.4, lexicon_size=200)
#: pre-training (shipped checkpoints), probe training and test sets: one seed each, so each draws its own speakers.
#: "heldout" is the test set's seed — the same eight speakers, drawn first — speaking 100 words the
#: other splits never use (words 200–299 of the same lexicon, whose first 200 are everyone else's)
SPLITS = {"pretrain": dict(n_utterances=2000, n_speakers=200, seed=0),
          "probe": dict(n_utterances=200, n_speakers=24, seed=2),
          "test": dict(n_utterances=100, n_speakers=8, seed=1),
          "heldout": dict(n_utterances=100, n_speakers=8, seed=1, lexicon_size=300, lexicon_part=(200, 300))}
#: how the shipped checkpoints were pre-trained (tools/train_checkpoints.py)
PRETRAINING = dict(batch_size=16, lr=1e-3, steps=4000, n_mels=64, mfcc_clusters=100, iter2_clusters=100, iter2_layer=1,
                   kmeans_seed=0)


def corpus(split: str) -> list[data.PhoneUtterance]:
    """The utterances of split ``"pretrain"``, ``"probe"``, ``"test"`` or ``"heldout"`` (deterministic)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
    return data.phone_corpus(**{**CORPUS, **SPLITS[split]})


def _check_corpus(corpus) -> None:
    if not isinstance(corpus, Sequence) or not corpus or not all(isinstance(u, data.PhoneUtterance) for u in corpus):
        raise TypeError(f"corpus must be a non-empty list of data.PhoneUtterance, got {type(corpus).__name__}")


def _check_features(features: object) -> None:
    if isinstance(features, torch.Tensor) or not isinstance(features, Sequence) or not features or not all(
            isinstance(f, torch.Tensor) and f.ndim == 2 for f in features):
        raise TypeError("features must be a non-empty list of (frames, dims) tensors, one per utterance")


def subsample_frames(frames: int) -> np.ndarray:
    """Indices of the input frames at the centres of the encoder frames: ``0, 4, 8, …``."""
    frames = check_int("frames", frames, 1)
    n = ConvSubsampling.output_length(frames)
    return np.minimum(np.arange(n) * STACK, frames - 1)


def encoder_labels(utterance: data.PhoneUtterance) -> np.ndarray:
    """The phone label of every encoder frame (40 ms) of ``utterance``."""
    _check_corpus([utterance])
    return utterance.labels[subsample_frames(utterance.frames)]


def quantizer_labels(utterance: data.PhoneUtterance) -> np.ndarray:
    """The phone of every 4-frame stack a BEST-RQ quantizer labels (frames ``4t … 4t+3``, scored at
    ``4t + 1``, the earlier of its two middle frames): ``frames // 4`` labels."""
    _check_corpus([utterance])
    return utterance.labels[np.arange(utterance.frames // STACK) * STACK + 1]


def encoder_rate_frames(features: Sequence[torch.Tensor], corpus: Sequence[data.PhoneUtterance],
                        stack: int = 1, start: int = 0) -> list[np.ndarray]:
    """The log-mel frames a baseline probe reads at the encoder's rate: for encoder frame ``t``,
    input frame ``4t`` — or, with ``stack = 4``, frames ``4t … 4t+3`` concatenated, the span one
    quantizer label covers; in general frames ``4t + start … 4t + start + stack − 1`` (``stack =
    21, start = −10``: ±10 frames of context around ``4t``), clipped at both ends of the
    utterance. ``(T', stack · n_mels)`` per utterance."""
    _check_corpus(corpus)
    _check_features(features)
    if len(features) != len(corpus):
        raise ValueError(f"features must have one entry per utterance ({len(corpus)}), got {len(features)}")
    stack = check_int("stack", stack, 1, maximum=256)
    start = check_int("start", start, -256, maximum=256)
    out = []
    for f, u in zip(features, corpus):
        idx = subsample_frames(u.frames)
        out.append(torch.cat([f[np.clip(idx + start + j, 0, len(f) - 1)] for j in range(stack)], dim=1).numpy())
    return out


def log_mel_features(corpus: Sequence[data.PhoneUtterance], n_mels: int = 64,
                     stats: tuple[torch.Tensor, torch.Tensor] | None = None) -> tuple[list[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """``(frames, n_mels)`` log-mel features per utterance, standardised per band with ``stats``
    ``(mean, std)`` — computed from this corpus when not given (pass the training set's to the test set)."""
    _check_corpus(corpus)
    n_mels = check_int("n_mels", n_mels, 1, maximum=1024)
    if stats is not None:
        if not (isinstance(stats, tuple) and len(stats) == 2 and all(isinstance(t, torch.Tensor) and t.shape == (n_mels,) for t in stats)):
            raise TypeError(f"stats must be (mean, std), two tensors of shape ({n_mels},), as this function returns")
        check_finite("stats", torch.stack(stats))
        if not bool((stats[1] > 0).all()):
            raise ValueError("stats' std must be positive in every band (a band with std 0 cannot be standardised)")
    feats = [data.log_mel_spectrogram(u.wave, u.sample_rate, hop_length=u.hop_length, n_mels=n_mels).T.float() for u in corpus]
    if stats is None:
        joined = torch.cat(feats)
        stats = (joined.mean(0), joined.std(0))
        if not bool((stats[1] > 0).all()):
            raise ValueError("some mel band is constant over the whole corpus (silent audio?): it cannot be standardised")
    mean, std = stats
    return [(f - mean) / std for f in feats], stats


def chunks(features: Sequence[torch.Tensor], corpus: Sequence[data.PhoneUtterance],
           frames: int = 64) -> tuple[list[torch.Tensor], list[np.ndarray]]:
    """Cut every utterance into consecutive pieces of ``frames`` input frames (the last may be
    shorter; pieces under 4 frames are dropped), as a streaming encoder with no look across a
    piece boundary would see them: the pieces' features and their encoder-frame labels."""
    _check_corpus(corpus)
    _check_features(features)
    if isinstance(frames, bool) or not isinstance(frames, int) or frames < STACK or frames % STACK:
        raise ValueError(f"frames must be a positive multiple of {STACK}, got {frames!r}")
    if len(features) != len(corpus):
        raise ValueError(f"features must have one entry per utterance ({len(corpus)}), got {len(features)}")
    pieces, labels = [], []
    for f, u in zip(features, corpus):
        for start in range(0, u.frames, frames):
            n = min(frames, u.frames - start)
            if n >= STACK:
                pieces.append(f[start:start + n])
                labels.append(u.labels[start + subsample_frames(n)])
    return pieces, labels


def mfcc_features(corpus: Sequence[data.PhoneUtterance], n_mfcc: int = 13) -> list[np.ndarray]:
    """MFCC + Δ + ΔΔ at the encoder frames: ``(T', 3·n_mfcc)`` per utterance (HuBERT's first teacher)."""
    _check_corpus(corpus)
    out = []
    for u in corpus:
        c = data.mfcc(u.wave, u.sample_rate, n_mfcc=n_mfcc, n_fft=512, hop_length=u.hop_length).numpy()  # (n_mfcc, T)
        full = np.concatenate([c, data.deltas(c, order=1), data.deltas(c, order=2)]).T
        out.append(full[subsample_frames(u.frames)].astype(np.float32))
    return out


class UtteranceBatches:
    """Re-iterable padded batches ``(features (B, T, F), lengths (B,), targets (B, T') or None)``,
    shuffled anew each pass (deterministic by ``seed``). Targets are padded with −1."""

    def __init__(self, features: Sequence[torch.Tensor], targets: Sequence[np.ndarray] | None = None,
                 batch_size: int = 16, seed: int = 0) -> None:
        _check_features(features)
        if targets is not None and (isinstance(targets, (str, torch.Tensor)) or not isinstance(targets, Sequence)
                                    or not all(isinstance(t, np.ndarray) for t in targets)):
            raise TypeError("targets must be None or a list of per-utterance label arrays")
        if targets is not None and len(targets) != len(features):
            raise ValueError(f"targets must have one entry per utterance ({len(features)}), got {len(targets)}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= len(features):
            raise ValueError(f"batch_size must be an int in [1, {len(features)}] (the utterances), got {batch_size!r}")
        self.features, self.targets, self.batch_size = list(features), targets, batch_size
        self.generator = torch.Generator().manual_seed(data._checks.check_seed(seed))

    def __len__(self) -> int:
        return len(self.features) // self.batch_size

    def __iter__(self):
        order = torch.randperm(len(self.features), generator=self.generator).tolist()
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            idx = order[start:start + self.batch_size]
            lengths = torch.tensor([len(self.features[i]) for i in idx])
            x = torch.zeros(len(idx), int(lengths.max()), self.features[idx[0]].shape[1])
            for row, i in enumerate(idx):
                x[row, : lengths[row]] = self.features[i]
            y = None
            if self.targets is not None:
                y = torch.full((len(idx), ConvSubsampling.output_length(x.shape[1])), -1, dtype=torch.long)
                for row, i in enumerate(idx):
                    t = torch.as_tensor(self.targets[i], dtype=torch.long)
                    y[row, : len(t)] = t
            yield x, lengths, y


def pretrain(model: nn.Module, batches: UtteranceBatches, steps: int, lr: float = 1e-3, seed: int = 0,
             log_every: int | None = None, progress: bool | None = False,
             device: torch.device | str | None = None) -> tuple[train.History, float]:
    """Masked-prediction pre-training of a ``BestRQ`` or ``HuBERT`` model for about ``steps``
    optimiser steps (whole passes over ``batches``; AdamW, cosine decay per pass) on ``device``
    (default: where the model is; the masks are drawn by a CPU generator on every device, so a
    seed gives the same masks anywhere). Returns the history and the wall time in seconds."""
    if not isinstance(batches, UtteranceBatches):
        raise TypeError(f"batches must be UtteranceBatches, got {type(batches).__name__}")
    if not isinstance(model, (BestRQ, HuBERT)):
        raise TypeError(f"model must be a BestRQ or a HuBERT, got {type(model).__name__}")
    steps = check_int("steps", steps, 1)
    lr = check_real("lr", lr, 0.0, low_open=True)
    generator = torch.Generator().manual_seed(data._checks.check_seed(seed))
    if isinstance(model, HuBERT) and batches.targets is None:
        raise ValueError(f"{type(model).__name__} predicts given targets: build the batches with targets")

    def batch_loss(m: nn.Module, batch) -> torch.Tensor:
        x, lengths, y = batch
        if isinstance(model, HuBERT):
            return m.loss(x, y, lengths, generator=generator)[0]
        if y is not None:  # BEST-RQ's encoder and head on given labels (an experiment): not the quantizer's codes
            return m.loss(x, lengths, generator=generator, targets=y)[0]
        return m.loss(x, lengths, generator=generator)[0]  # BEST-RQ makes its own targets

    epochs = max(1, round(steps / len(batches)))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    start = time.perf_counter()
    history = train.fit(model, batches, optimizer=optimizer, batch_loss=batch_loss, epochs=epochs, scheduler=scheduler,
                        clip_grad_norm=5.0, progress=progress, log_every=log_every, device=device)
    return history, time.perf_counter() - start


@torch.no_grad()
def all_layer_features(encoder: nn.Module, features: Sequence[torch.Tensor]) -> list[list[np.ndarray]]:
    """Frozen outputs of every block of a Conformer or HuBERT encoder: ``[block][utterance]`` arrays
    ``(T', d)``, one utterance at a time (no padding), in eval mode — one pass for all blocks."""
    if not isinstance(encoder, nn.Module):
        raise TypeError(f"encoder must be an nn.Module, got {type(encoder).__name__}")
    if not "return_layers" in inspect.signature(encoder.forward).parameters:
        raise TypeError(f"encoder must be a ConformerEncoder or HuBERTEncoder (a forward with return_layers), got {type(encoder).__name__}")
    if isinstance(features, torch.Tensor) or not isinstance(features, Sequence) or not features:
        raise TypeError("features must be a non-empty list of (frames, dims) tensors, one per utterance")
    was_training = encoder.training
    first = next(encoder.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    encoder.eval()
    try:  # each utterance on the encoder's device, each result back on the CPU
        per_utterance = [encoder(f[None].to(device), return_layers=True)[2] for f in features]
    finally:
        encoder.train(was_training)
    return [[layers[i][0].cpu().numpy() for layers in per_utterance] for i in range(len(per_utterance[0]))] if per_utterance else []


def layer_features(encoder: nn.Module, features: Sequence[torch.Tensor], layer: int) -> list[np.ndarray]:
    """Frozen ``(T', d)`` outputs of block ``layer`` (0-based) of a Conformer or HuBERT encoder,
    one utterance at a time (no padding), in eval mode."""
    layer = check_int("layer", layer, None)
    blocks = all_layer_features(encoder, features)
    if not -len(blocks) <= layer < len(blocks):
        raise ValueError(f"layer must be in [0, {len(blocks)}), got {layer}")
    return blocks[layer]


@torch.no_grad()
def waveform_layer_features(model: nn.Module, corpus: Sequence[data.PhoneUtterance],
                            layer: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Frozen outputs of layer ``layer`` (0-based) of a waveform model (the published HuBERT) on
    each utterance, with the phone label of each of its frames: frame j sees samples
    ``[j·stride, j·stride + receptive field)`` and takes the label of the analysis frame at its
    centre. Returns ``(features, labels)``, lists of ``(T, d)`` and ``(T,)`` arrays."""
    from .models.hubert import PublishedHuBERT

    if not isinstance(model, PublishedHuBERT):
        raise TypeError(f"model must be a PublishedHuBERT (models.hubert.from_hf_hubert), got {type(model).__name__}")
    _check_corpus(corpus)
    layer = check_int("layer", layer, 0, model.config.num_layers - 1)
    stride, field = model.config.stride, model.config.receptive_field
    first = next(model.parameters())
    was_training = model.training
    model.eval()
    features, labels = [], []
    try:
        for u in corpus:
            if u.sample_rate != 16_000:
                raise ValueError(f"the published HuBERT reads 16 kHz audio, got an utterance at {u.sample_rate} Hz")
            wave = torch.as_tensor(u.wave, dtype=first.dtype, device=first.device)[None]
            h = model(wave, return_layers=True)[layer][0].cpu().numpy()  # (T, d)
            centres = (np.arange(len(h)) * stride + field // 2) // u.hop_length
            features.append(h)
            labels.append(u.labels[np.minimum(centres, len(u.labels) - 1)])
    finally:
        model.train(was_training)
    return features, labels


def _stack(parts: Sequence[np.ndarray]) -> np.ndarray:
    if isinstance(parts, (str, bytes)) or not isinstance(parts, Sequence) or not parts:
        raise TypeError(f"expected a non-empty list of per-utterance arrays, got {type(parts).__name__}")
    if not all(isinstance(p, np.ndarray) for p in parts):
        raise TypeError("expected a list of NumPy arrays, one per utterance")
    joined = np.concatenate(parts)
    if joined.size == 0:
        raise ValueError("the arrays hold no frames")
    check_finite("the frames", joined)
    return joined


def probe_predictions(train_x: Sequence[np.ndarray], train_y: Sequence[np.ndarray], test_x: Sequence[np.ndarray],
                      max_iter: int = 200) -> np.ndarray:
    """The test frames' labels as predicted by a logistic-regression probe (features standardised
    with the training frames' statistics) fitted on the training utterances — all test frames in
    one array, in order."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    max_iter = check_int("max_iter", max_iter, 1, maximum=100_000)
    xtr, ytr, xte = _stack(train_x), _stack(train_y), _stack(test_x)
    if xtr.ndim != 2 or xte.ndim != 2 or xtr.shape[1] != xte.shape[1]:
        raise ValueError(f"train and test features must be (frames, dims) with the same dims, got {xtr.shape} and {xte.shape}")
    if len(xtr) != len(ytr):
        raise ValueError(f"train features and labels must have as many frames: {len(xtr)} vs {len(ytr)}")
    scaler = StandardScaler().fit(xtr)
    return LogisticRegression(max_iter=max_iter).fit(scaler.transform(xtr), ytr).predict(scaler.transform(xte))


def linear_probe(train_x: Sequence[np.ndarray], train_y: Sequence[np.ndarray], test_x: Sequence[np.ndarray],
                 test_y: Sequence[np.ndarray], max_iter: int = 200) -> float:
    """Frame accuracy on the test utterances of :func:`probe_predictions`' probe."""
    yte = _stack(test_y)
    predicted = probe_predictions(train_x, train_y, test_x, max_iter)
    if len(predicted) != len(yte):
        raise ValueError(f"test features and labels must have as many frames: {len(predicted)} vs {len(yte)}")
    return float((predicted == yte).mean())


def kmeans(frames: Sequence[np.ndarray], k: int, seed: int = 0, max_frames: int = 20000):
    """scikit-learn's ``MiniBatchKMeans`` (as HuBERT uses) with ``k`` clusters, fitted on at most
    ``max_frames`` frames drawn from ``frames``; call ``.predict`` on any frames."""
    from sklearn.cluster import MiniBatchKMeans

    x = _stack(frames)
    seed = data._checks.check_seed(seed)
    if isinstance(max_frames, bool) or not isinstance(max_frames, int) or max_frames < 2:
        raise ValueError(f"max_frames must be an int >= 2, got {max_frames!r}")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 < k <= len(x):
        raise ValueError(f"k must be an int in (1, {len(x)}], got {k!r}")
    rng = np.random.default_rng(seed)
    if len(x) > max_frames:
        x = x[rng.choice(len(x), max_frames, replace=False)]
    return MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=3, batch_size=4096, max_iter=100).fit(x)


def cluster_quality(phones: np.ndarray | Sequence[np.ndarray], clusters: np.ndarray | Sequence[np.ndarray]) -> dict[str, float]:
    """Phone purity, cluster purity and PNMI of an assignment of frames to clusters (HuBERT §IV-F)."""
    y = _stack(phones) if not isinstance(phones, np.ndarray) else phones
    z = _stack(clusters) if not isinstance(clusters, np.ndarray) else clusters
    if y.size == 0:
        raise ValueError("phones and clusters hold no frames")
    if y.shape != z.shape or y.ndim != 1:
        raise ValueError(f"phones and clusters must be 1-D and of equal length, got {y.shape} and {z.shape}")
    if np.issubdtype(y.dtype, np.floating) or np.issubdtype(z.dtype, np.floating) or y.min() < 0 or z.min() < 0:
        raise ValueError("phones and clusters must be non-negative integer ids")
    joint = np.zeros((int(y.max()) + 1, int(z.max()) + 1))
    np.add.at(joint, (y, z), 1.0)
    joint /= joint.sum()
    py, pz = joint.sum(1), joint.sum(0)
    nz = joint > 0
    mutual = float((joint[nz] * np.log(joint[nz] / (py[:, None] * pz[None, :])[nz])).sum())
    entropy = float(-(py[py > 0] * np.log(py[py > 0])).sum())
    return {"phone_purity": float(joint.max(0).sum()), "cluster_purity": float(joint.max(1).sum()),
            "pnmi": mutual / entropy if entropy > 0 else 1.0}


def _entropy(*columns: np.ndarray) -> float:
    _, counts = np.unique(np.stack(columns, axis=1), axis=0, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


def information(a: np.ndarray | Sequence[np.ndarray], b: np.ndarray | Sequence[np.ndarray],
                given: np.ndarray | Sequence[np.ndarray] | None = None) -> float:
    """Mutual information ``I(a; b)`` in nats between two integer labellings of the same frames,
    or ``I(a; b | given)`` — e.g. how much a cluster tells about the *utterance* once the phone
    is known. Plug-in estimate from the counts."""
    cols = [_stack(c) if not isinstance(c, np.ndarray) else c for c in ((a, b) if given is None else (a, b, given))]
    if cols[0].size == 0:
        raise ValueError("the labellings hold no frames: information is undefined")
    if any(c.ndim != 1 or c.shape != cols[0].shape for c in cols):
        raise ValueError(f"the labellings must be 1-D and of equal length, got {[c.shape for c in cols]}")
    if any(np.issubdtype(c.dtype, np.floating) for c in cols):
        raise ValueError("the labellings must be integer ids")
    if given is None:
        return _entropy(cols[0]) + _entropy(cols[1]) - _entropy(cols[0], cols[1])
    x, y, z = cols
    return _entropy(x, z) + _entropy(y, z) - _entropy(x, y, z) - _entropy(z)
