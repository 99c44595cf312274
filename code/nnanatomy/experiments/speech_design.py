"""Chapter 08's controls: which encoder, which targets, which seed — and what an untrained encoder
or a wide stack of log-mel frames already gives.

The chapters compare BEST-RQ (a Conformer predicting random-projection codes) with HuBERT (a
Transformer encoder predicting k-means clusters of MFCCs). The two differ in the encoder *and*
the targets, so one comparison cannot say which of the two made the difference. This module
trains every cell of the 2 × 2 design:

==========================  ==============================  ===============================
encoder (with its masking   random-projection codes          k-means clusters of MFCC + Δ + ΔΔ
and prediction head)        (1,024, BEST-RQ's quantizer)     (100, HuBERT's first teacher)
==========================  ==============================  ===============================
Conformer (BEST-RQ)         **BEST-RQ**                      BEST-RQ's model on HuBERT's targets
Transformer (HuBERT)        HuBERT's model on RPQ codes      **HuBERT, iteration 1**
==========================  ==============================  ===============================

each with the shipped checkpoints' recipe (:data:`nnanatomy.speech.PRETRAINING`: 4,000 steps of
batches of 16 from the 2,000 pre-training utterances) and a seed, and probes every block of the
frozen encoder (:func:`probe`) on the test split (the pre-training language's words, new
speakers) and the held-out split (the same speakers saying words no other split uses).
``tools/speech_sweep.py`` runs the cells for three seeds and stores the probe accuracies
(:func:`load_results`); seed 0 of the two diagonal cells is the shipped checkpoint.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import runtime, speech
from . import _stored
from .._checks import check_choice, check_int

__all__ = ["CHECKPOINTS", "ENCODERS", "RESULTS", "TARGETS", "build", "load_results", "probe", "run", "targets_for"]

ENCODERS = ("conformer", "transformer")
TARGETS = ("random-projection", "mfcc-kmeans")
#: the cells the shipped checkpoints are (their seed 0)
CHECKPOINTS = {("conformer", "random-projection"): "bestrq-conformer", ("transformer", "mfcc-kmeans"): "hubert-iter1"}

#: Where ``tools/speech_sweep.py`` stores its runs (shipped with the package, for Colab).
RESULTS = "results/speech_sweep.json"

_CODES = 1024  # BEST-RQ's codebook here (the paper: 8,192)


def _check_cell(encoder: object, target: object) -> tuple[str, str]:
    return check_choice("encoder", encoder, ENCODERS), check_choice("target", target, TARGETS)


def build(encoder: str, target: str) -> nn.Module:
    """A fresh model of one cell: the encoder's own model class (``BestRQ`` or ``HuBERT``, as the
    checkpoints build it) with as many outputs as the targets have classes."""
    from ..models.bestrq import BestRQ
    from ..models.hubert import HuBERT, HuBERTConfig
    from ..models.pretrained import build as build_checkpoint

    encoder, target = _check_cell(encoder, target)
    classes = _CODES if target == "random-projection" else speech.PRETRAINING["mfcc_clusters"]
    if encoder == "conformer":
        model = build_checkpoint("bestrq-conformer")
        if classes != model.head.out_features:
            model = BestRQ(model.encoder.config, codebook_size=classes)
        return model
    return HuBERT(HuBERTConfig(num_clusters=classes))


@functools.lru_cache(maxsize=1)
def _pretraining() -> tuple[list, list[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    utterances = speech.corpus("pretrain")
    features, stats = speech.log_mel_features(utterances, n_mels=speech.PRETRAINING["n_mels"])
    return utterances, features, stats


def targets_for(encoder: str, target: str, utterances, features: list[torch.Tensor]) -> list[np.ndarray] | None:
    """The labels a cell is trained on, one array per utterance at the encoder's frame rate, or
    None where the model makes its own (BEST-RQ's quantizer inside ``BestRQ``). Random-projection
    codes for the Transformer come from the quantizer BEST-RQ uses (same seed, same 1,024 codes);
    k-means clusters are fitted as for HuBERT's first iteration (``speech.PRETRAINING``)."""
    from ..models.bestrq import RandomProjectionQuantizer

    encoder, target = _check_cell(encoder, target)
    speech._check_corpus(utterances)
    speech._check_features(features)
    if len(features) != len(utterances):
        raise ValueError(f"features must have one entry per utterance ({len(utterances)}), got {len(features)}")
    if target == "random-projection":
        if encoder == "conformer":
            return None
        quantizer = RandomProjectionQuantizer(features[0].shape[1], 4, _CODES, 16, seed=0)
        return [quantizer(f[None])[0].numpy() for f in features]
    setup = speech.PRETRAINING
    frames = speech.mfcc_features(utterances)
    clusters = speech.kmeans(frames, setup["mfcc_clusters"], seed=setup["kmeans_seed"])
    return [clusters.predict(f) for f in frames]


def probe(encoder_module: nn.Module, stats: tuple[torch.Tensor, torch.Tensor], max_iter: int = 1000) -> dict:
    """Linear-probe accuracy of every block of a frozen encoder (a ``ConformerEncoder`` or
    ``HuBERTEncoder``) on the test and the held-out split, fitted on the probe split; features
    normalised with ``stats`` (the pre-training set's). ``{"test": [...], "heldout": [...]}``, one
    accuracy per block."""
    if not isinstance(encoder_module, nn.Module):
        raise TypeError(f"encoder_module must be a ConformerEncoder or HuBERTEncoder, got {type(encoder_module).__name__}")
    if not (isinstance(stats, tuple) and len(stats) == 2 and all(isinstance(t, torch.Tensor) and t.ndim == 1 for t in stats)
            and stats[0].shape == stats[1].shape):
        raise TypeError("stats must be (mean, std), two 1-D tensors of the same length (a checkpoint's feature_mean and feature_std)")
    max_iter = check_int("max_iter", max_iter, 1, maximum=100_000)
    splits = _probe_splits(stats)
    train_blocks = speech.all_layer_features(encoder_module, splits["probe"][0])
    out = {}
    for split in ("test", "heldout"):
        blocks = speech.all_layer_features(encoder_module, splits[split][0])
        out[split] = [speech.linear_probe(train_blocks[b], splits["probe"][1], blocks[b], splits[split][1], max_iter=max_iter)
                      for b in range(len(blocks))]
    return out


def _probe_splits(stats: tuple[torch.Tensor, torch.Tensor]) -> dict:
    key = tuple(torch.cat(stats).tolist())
    return _splits_cached(key)


@functools.lru_cache(maxsize=2)
def _splits_cached(key: tuple) -> dict:
    values = torch.tensor(key)
    stats = (values[: len(values) // 2], values[len(values) // 2:])
    out = {}
    for split in ("probe", "test", "heldout"):
        utterances = speech.corpus(split)
        out[split] = (speech.log_mel_features(utterances, stats=stats)[0], [speech.encoder_labels(u) for u in utterances])
    return out


def run(encoder: str, target: str, seed: int, steps: int = speech.PRETRAINING["steps"]) -> dict:
    """Pre-train one cell from ``seed`` with the checkpoints' recipe on the CPU and probe it:
    ``{encoder, target, seed, steps, seconds, final_loss, test: [...], heldout: [...]}``.
    With ``steps = 0`` the encoder is probed untrained (the random-initialisation control)."""
    encoder, target = _check_cell(encoder, target)
    seed = check_int("seed", seed, 0, maximum=2**32 - 1)
    steps = check_int("steps", steps, 0, maximum=1_000_000)
    setup = speech.PRETRAINING
    utterances, features, stats = _pretraining()
    runtime.seed_everything(seed)
    model = build(encoder, target)
    seconds, final_loss = 0.0, None
    if steps:
        labels = targets_for(encoder, target, utterances, features)
        batches = speech.UtteranceBatches(features, labels, batch_size=setup["batch_size"], seed=seed)
        start = time.perf_counter()
        history, _ = speech.pretrain(model, batches, steps, lr=setup["lr"], seed=seed)
        seconds, final_loss = time.perf_counter() - start, float(history.train_loss[-1])
        steps = max(1, round(steps / len(batches))) * len(batches)
    model.eval()
    return {"encoder": encoder, "target": target, "seed": seed, "steps": steps, "seconds": round(seconds, 1),
            "final_loss": final_loss, **probe(model.encoder, stats)}


def load_results(path: str | Path | None = None) -> dict:
    """The stored sweep: ``{"command": ..., "runs": [record of :func:`run`, ...]}``. By default the
    file shipped inside the package; ``path`` reads another one."""
    return _stored.load(RESULTS, path, "a speech sweep file")
