"""Chapter 06's experiment: two of GPT-2's choices — weight tying and the residual-scaled
initialisation — on the chapter's character GPT, over several seeds.

``run(tie_embeddings, residual_init, seed)`` trains the chapter's CPU-size GPT (3 blocks,
d_model 96, 4 heads, windows of 64 characters) on the chapter's grammar corpus with its recipe
(AdamW 2e-3, weight decay 0.01, cosine schedule, clipping at 1, batch 32, 4 epochs) and records
the held-out cross-entropy after every epoch. ``tools/gpt_choices_sweep.py`` runs the four
combinations for three seeds and stores the results (``load_results``); the chapter reads them.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
import torch.nn.functional as F

from .. import data, train
from . import _stored
from .._checks import check_bool, check_int
from ..models.gpt import GPT, GPTConfig, sliding_cross_entropy

__all__ = ["RECIPE", "RESULTS", "load_results", "run"]

#: The chapter's CPU recipe (its ``CONFIG["cpu"]``).
RECIPE = {"n_sentences": 10000, "max_seq_len": 64, "d_model": 96, "num_heads": 4, "num_layers": 3, "epochs": 4,
          "batch_size": 32, "lr": 2e-3, "weight_decay": 0.01, "clip": 1.0, "data_seed": 0}
#: Where ``tools/gpt_choices_sweep.py`` stores the sweep (shipped with the package, for Colab).
RESULTS = "results/gpt_choices_sweep.json"


def run(tie_embeddings: bool, residual_init: bool, seed: int, *, device: torch.device | str = "cpu") -> dict:
    """Train one GPT with :data:`RECIPE` and return its record: parameters, the held-out
    cross-entropy (nats/char) after every epoch, and the wall time."""
    tie_embeddings = check_bool("tie_embeddings", tie_embeddings)
    residual_init = check_bool("residual_init", residual_init)
    seed = check_int("seed", seed, 0)
    r = RECIPE
    grammar = data.Grammar(data.STORY_ENGLISH)
    train_text = grammar.corpus(r["n_sentences"], seed=r["data_seed"])
    valid_text = grammar.corpus(500, seed=r["data_seed"] + 2)
    test_text = grammar.corpus(1500, seed=r["data_seed"] + 1)
    vocab = data.CharVocab.from_text(train_text + valid_text + test_text)  # the chapter's vocabulary
    x, y = data.next_token_windows(vocab.encode(train_text), r["max_seq_len"])
    test_ids = torch.tensor(vocab.encode(test_text))
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=len(vocab), max_seq_len=r["max_seq_len"], d_model=r["d_model"], num_heads=r["num_heads"],
                          num_layers=r["num_layers"], tie_embeddings=tie_embeddings, residual_init=residual_init))

    def loss(m: torch.nn.Module, batch) -> torch.Tensor:
        inputs, targets = batch
        logits, _ = m(inputs)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))

    optimizer = torch.optim.AdamW(model.parameters(), lr=r["lr"], weight_decay=r["weight_decay"])
    start = time.perf_counter()
    history = train.fit(model, data.tensor_loader(x, y, batch_size=r["batch_size"], seed=seed), optimizer=optimizer,
                        batch_loss=loss, epochs=r["epochs"], device=device, clip_grad_norm=r["clip"], progress=False,
                        scheduler=torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=r["epochs"]),
                        evaluate=lambda m: {"test": sliding_cross_entropy(m, test_ids.to(device))})
    return {"tie_embeddings": tie_embeddings, "residual_init": residual_init, "seed": seed,
            "parameters": model.num_parameters(), "test_cross_entropy": [float(v) for v in history.metrics["test"]],
            "train_loss": [float(v) for v in history.train_loss], "seconds": round(time.perf_counter() - start, 1)}


def load_results(path: str | Path | None = None) -> dict:
    """The stored sweep: ``{"command": ..., "runs": [record of :func:`run`, ...]}``.

    By default the file shipped inside the package; ``path`` reads another one.
    """
    return _stored.load(RESULTS, path, "a sweep file")

