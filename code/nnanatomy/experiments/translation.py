"""Translation on chained sentences (chapters 04 and 05): encoder–decoders over several seeds.

``run(arch, seed)`` trains one model on :func:`~nnanatomy.data.chained_translation` (10,000
training sentences of one or two clauses; test sentences of two clauses that are not training
sentences; a ``longer`` set of three clauses) and records, after every epoch, the training loss
and the exact-match accuracy on the test sentences, and at the end the accuracy on the longer
sentences and how many of those the model ends after two clauses. The architectures:

- ``"lstm"``: :class:`~nnanatomy.models.Seq2Seq` without attention (a fixed context);
- ``"lstm-attention"``: the same with additive attention (Bahdanau et al., 2015);
- ``"transformer"``: chapter 05's :class:`~nnanatomy.models.Transformer` (CPU scale), and its
  ablations (:data:`TRANSFORMER_ABLATIONS`): no positional encoding, one head, one layer in each
  stack, pre-LN instead of post-LN.

``tools/translation_sweep.py`` runs them for three seeds and stores the results
(``load_results``); chapters 04 and 05 read them and re-run configurations live.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .. import data, train
from . import _stored
from .._checks import check_bool, check_int
from ..models.seq2seq import Seq2Seq, Seq2SeqConfig
from ..models.transformer import Transformer, TransformerConfig

__all__ = ["ARCHS", "RECIPE", "RESULTS", "TRANSFORMER_ABLATIONS", "exact_match", "load_results", "make_model", "run"]

#: Data and training: Adam at ``lr`` (the Transformer at chapter 05's 1e-3), batch 64, clipping at 1.
RECIPE = {"n_train": 10000, "n_test": 1000, "max_train_clauses": 2, "data_seed": 0, "epochs": 6, "batch_size": 64,
          "lr": {"lstm": 3e-3, "lstm-attention": 3e-3, "transformer": 1e-3}, "clip": 1.0}
#: Chapter 05's ablations: what each changes in the Transformer's configuration.
TRANSFORMER_ABLATIONS = {
    "transformer-no-pe": {"positional": False},
    "transformer-1-head": {"num_heads": 1},
    "transformer-1-layer": {"num_encoder_layers": 1, "num_decoder_layers": 1},
    "transformer-pre-ln": {"norm_first": True},
}
ARCHS = ("lstm", "lstm-attention", "transformer", *TRANSFORMER_ABLATIONS)
#: Where ``tools/translation_sweep.py`` stores the sweep (shipped with the package, for Colab).
RESULTS = "results/translation_sweep.json"


def make_model(arch: str, corpus: data.ChainedTranslation) -> torch.nn.Module:
    """A freshly initialised model of ``arch`` for the vocabularies of ``corpus`` (seed first)."""
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {list(ARCHS)}, got {arch!r}")
    if not isinstance(corpus, data.ChainedTranslation):
        raise TypeError(f"corpus must be a data.ChainedTranslation, got {type(corpus).__name__}")
    v_src, v_tgt = len(corpus.src_vocab), len(corpus.tgt_vocab)
    if arch.startswith("transformer"):
        settings = dict(d_model=64, num_heads=4, d_ff=128, num_encoder_layers=2, num_decoder_layers=2, max_len=64, dropout=0.1)
        settings.update(TRANSFORMER_ABLATIONS.get(arch, {}))
        return Transformer(TransformerConfig(v_src, v_tgt, **settings))
    return Seq2Seq(Seq2SeqConfig(v_src, v_tgt, embed_dim=32, hidden_size=64, attention=arch == "lstm-attention"))


def exact_match(model: torch.nn.Module, pairs: list[data.Pair], corpus: data.ChainedTranslation) -> tuple[float, list[list[str]]]:
    """Greedy-decode the sources of ``pairs`` (on the model's device); returns the share translated
    exactly and the translations."""
    if not isinstance(model, (Seq2Seq, Transformer)):
        raise TypeError(f"model must be a models.Seq2Seq or models.Transformer, got {type(model).__name__}")
    if not isinstance(corpus, data.ChainedTranslation):
        raise TypeError(f"corpus must be a data.ChainedTranslation, got {type(corpus).__name__}")
    device = next(model.parameters()).device
    if not isinstance(pairs, list) or not pairs or not all(isinstance(p, data.Pair) for p in pairs):
        raise TypeError("pairs must be a non-empty list of data.Pair")
    src = torch.tensor(corpus.src_vocab.encode([p.src for p in pairs]), device=device)
    longest = max(len(p.tgt) for p in pairs)
    ids, _ = model.greedy_decode(src, bos_id=1, eos_id=2, max_len=longest + 4)
    hyps = [corpus.tgt_vocab.decode(row[1:]) for row in ids.tolist()]
    return float(np.mean([h == list(p.tgt) for h, p in zip(hyps, pairs)])), hyps


def _loss(model: torch.nn.Module, batch) -> torch.Tensor:
    src, tgt = batch
    logits = model(src, tgt[:, :-1])  # teacher forcing
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt[:, 1:].reshape(-1), ignore_index=0)


def _word_accuracies(model: torch.nn.Module, corpus: data.ChainedTranslation, hyps: list[list[str]]) -> tuple[float, float]:
    """Word accuracy on the test sentences with the true previous words as input (teacher forcing)
    and with the model's own (free running: position by position against the reference)."""
    device = next(model.parameters()).device
    src = torch.tensor(corpus.src_vocab.encode([p.src for p in corpus.test]), device=device)
    tgt = torch.tensor(corpus.tgt_vocab.encode([p.tgt for p in corpus.test], bos=True), device=device)
    model.eval()
    with torch.no_grad():
        predicted = model(src, tgt[:, :-1]).argmax(-1)
    labels = tgt[:, 1:]
    real = labels != 0
    forced = float(((predicted == labels) & real).sum() / real.sum())
    free = float(np.mean([sum(a == b for a, b in zip(h, p.tgt)) / len(p.tgt) for h, p in zip(hyps, corpus.test)]))
    return forced, free


def run(arch: str, seed: int, *, epochs: int | None = None, device: torch.device | str = "cpu",
        return_model: bool = False) -> dict | tuple[dict, torch.nn.Module]:
    """Train one model with :data:`RECIPE` and return its record (see the module's docstring);
    with ``return_model``, ``(record, trained model)``."""
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {list(ARCHS)}, got {arch!r}")
    seed = check_int("seed", seed, 0)
    return_model = check_bool("return_model", return_model)
    r = RECIPE
    epochs = r["epochs"] if epochs is None else check_int("epochs", epochs, 1)
    corpus = data.chained_translation(r["n_train"], r["n_test"], r["max_train_clauses"], seed=r["data_seed"])
    src = corpus.src_vocab.encode([p.src for p in corpus.train])
    tgt = corpus.tgt_vocab.encode([p.tgt for p in corpus.train], bos=True)
    torch.manual_seed(seed)
    model = make_model(arch, corpus).to(device)
    start = time.perf_counter()
    history = train.fit(model, data.tensor_loader(src, tgt, batch_size=r["batch_size"], seed=seed),
                        optimizer=torch.optim.Adam(model.parameters(), lr=r["lr"][arch.split("-")[0] if arch.startswith("transformer") else arch]), batch_loss=_loss,
                        epochs=epochs, device=device, clip_grad_norm=r["clip"], progress=False,
                        evaluate=lambda m: {"test exact match": exact_match(m, corpus.test, corpus)[0]})
    seconds = time.perf_counter() - start
    longer, hyps = exact_match(model, corpus.longer, corpus)
    _, test_hyps = exact_match(model, corpus.test, corpus)
    forced, free = _word_accuracies(model, corpus, test_hyps)
    beam = None
    if isinstance(model, Transformer):
        src_test = torch.tensor(corpus.src_vocab.encode([p.src for p in corpus.test]), device=device)
        ids = model.beam_search(src_test, 1, 2, beam_size=4, max_len=max(len(p.tgt) for p in corpus.test) + 4)
        beam = float(np.mean([corpus.tgt_vocab.decode(row[1:]) == list(p.tgt) for row, p in zip(ids.tolist(), corpus.test)]))
    clauses = [1 + sum(h[i:i + 2] == list(data.translation.TGT_JOIN) for i in range(len(h))) for h in hyps]
    record = {"arch": arch, "seed": seed, "parameters": sum(p.numel() for p in model.parameters()),
            "train_loss": [float(v) for v in history.train_loss],
            "test_exact_match": [float(v) for v in history.metrics["test exact match"]],
            "epoch_seconds": [round(float(v), 2) for v in history.seconds],
            "longer_exact_match": longer, "beam4_test_exact_match": beam,
            "teacher_forced_word_accuracy": forced, "free_running_word_accuracy": free,
            "longer_clauses_written": {str(k): clauses.count(k) for k in sorted(set(clauses))},
            "steps_per_epoch": int(np.ceil(r["n_train"] / r["batch_size"])), "seconds": round(seconds, 1)}
    return (record, model) if return_model else record


def load_results(path: str | Path | None = None) -> dict:
    """The stored sweep: ``{"command": ..., "runs": [record of :func:`run`, ...]}``.

    By default the file shipped inside the package; ``path`` reads another one.
    """
    return _stored.load(RESULTS, path, "a sweep file")

