"""Chapter 07's experiment: the chapter's dense GPT against its mixture-of-experts GPT, and the
MoE's router choices — balancing loss, router noise, a shared expert, top-1 routing — over
several seeds, with learning curves in steps and in seconds.

``run(arm, seed)`` trains one arm of :data:`ARMS` with the chapter's CPU recipe (:data:`RECIPE`:
2 blocks, d_model 64, 4 heads, windows of 64 characters, AdamW 3e-3 with a per-step cosine
schedule, clipping at 1, batch 32, four epochs) on the chapter's grammar corpus. It measures the
held-out cross-entropy at evenly spaced steps, the seconds spent in training steps up to each
(evaluation not counted), and every MoE layer's expert loads. ``steps`` overrides the number of
optimiser steps (the schedule stretches to it): the sweep gives the dense model as many seconds
as the MoE takes. ``tools/moe_sweep.py`` runs every arm for three seeds and stores the results
(``load_results``); the chapter reads them and repeats seed 0 of three arms live.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .. import data, runtime
from . import _stored
from .._checks import check_choice, check_int
from ..models.gpt import GPT, GPTConfig, sliding_cross_entropy

__all__ = ["ARMS", "RECIPE", "RESULTS", "collapse_stats", "corpus", "load_results", "make_config", "run"]

#: The chapter's CPU recipe (its ``CONFIG["cpu"]``).
RECIPE = {"n_sentences": 6000, "n_test_sentences": 800, "max_seq_len": 64, "d_model": 64, "num_heads": 4, "num_layers": 2, "epochs": 4,
          "batch_size": 32, "lr": 3e-3, "weight_decay": 0.01, "clip": 1.0, "num_experts": 8, "data_seed": 0,
          "evaluations": 8, "load_every": 10}

#: The arms: the GPTConfig fields each sets, and the weight of the balancing loss.
ARMS = {
    "dense": {"ffn": "dense", "balance_weight": 0.0},
    "moe": {"ffn": "moe", "top_k": 2, "balance_weight": 0.01},
    "moe-unbalanced": {"ffn": "moe", "top_k": 2, "balance_weight": 0.0},
    "moe-noise": {"ffn": "moe", "top_k": 2, "router_noise": 1.0, "balance_weight": 0.01},
    "moe-shared": {"ffn": "moe", "top_k": 1, "shared_experts": 1, "balance_weight": 0.01},
    "top1": {"ffn": "moe", "top_k": 1, "balance_weight": 0.01},
    "top1-unbalanced": {"ffn": "moe", "top_k": 1, "balance_weight": 0.0},
}

#: Where ``tools/moe_sweep.py`` stores the sweep (shipped with the package, for Colab).
RESULTS = "results/moe_sweep.json"


def _check_arm(arm: object) -> str:
    return check_choice("arm", arm, ARMS)


def _recipe(recipe: dict | None) -> dict:
    return _stored.merge_recipe(recipe, RECIPE)


def corpus(recipe: dict | None = None) -> dict:
    """The chapter's data: the ``grammar``, ``vocab``, training windows ``x``, ``y`` and the
    held-out ``test_ids`` (``recipe`` overrides :data:`RECIPE`'s entries)."""
    r = _recipe(recipe)
    grammar = data.Grammar(data.STORY_ENGLISH)
    train_text = grammar.corpus(r["n_sentences"], seed=r["data_seed"])
    test_text = grammar.corpus(r["n_test_sentences"], seed=r["data_seed"] + 1)
    vocab = data.CharVocab.from_text(train_text + test_text + grammar.corpus(500, seed=r["data_seed"] + 2))
    x, y = data.next_token_windows(vocab.encode(train_text), r["max_seq_len"])
    return {"grammar": grammar, "vocab": vocab, "x": x, "y": y, "test_ids": torch.tensor(vocab.encode(test_text))}


def make_config(arm: str, vocab_size: int, recipe: dict | None = None) -> GPTConfig:
    """The :class:`GPTConfig` of ``arm``: the recipe's GPT with the arm's feed-forward layer.
    Every MoE arm keeps the dense model's compute per token (``expert_hidden`` =
    ``4 d / (top_k + shared_experts)``)."""
    arm = _check_arm(arm)
    vocab_size = check_int("vocab_size", vocab_size, 1)
    r = _recipe(recipe)
    fields = {k: v for k, v in ARMS[arm].items() if k != "balance_weight"}
    if fields["ffn"] == "moe":
        fields["num_experts"] = r["num_experts"]
    return GPTConfig(vocab_size=vocab_size, max_seq_len=r["max_seq_len"], d_model=r["d_model"], num_heads=r["num_heads"],
                     num_layers=r["num_layers"], **fields)


def collapse_stats(loads: np.ndarray, threshold: float = 0.01) -> dict:
    """From expert loads ``(..., E)`` (shares of the assignments, each row summing to 1): the
    largest share, the number of experts below ``threshold`` (starved: under 1 % by default,
    against a fair share of 1/E) and the max/min ratio, for each row."""
    loads = np.asarray(loads, dtype=float)
    if loads.ndim < 1 or loads.shape[-1] < 2:
        raise ValueError(f"loads must be (..., E) with E >= 2 experts, got shape {loads.shape}")
    if not np.allclose(loads.sum(-1), 1.0, atol=1e-3) or (loads < 0).any():
        raise ValueError("loads must be shares: non-negative, each row summing to 1")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold < 1:
        raise ValueError(f"threshold must be a number in (0, 1), got {threshold!r}")
    return {"max_share": loads.max(-1), "starved": (loads < threshold).sum(-1),
            "max_over_min": loads.max(-1) / np.maximum(loads.min(-1), 1e-9)}


def run(arm: str, seed: int, *, steps: int | None = None, recipe: dict | None = None,
        device: torch.device | str = "cpu", return_model: bool = False) -> dict:
    """Train one arm for ``steps`` optimiser steps (default: the recipe's four epochs) and return
    its record: parameters, the curve (``step``, training ``seconds`` up to it, held-out
    cross-entropy ``test`` in nats/char), the final cross-entropy, and for an MoE the loads of
    every layer averaged over each ``load_every`` steps (``loads``: blocks × layers × experts).
    ``recipe`` overrides entries of :data:`RECIPE` (the chapter's larger ``gpu`` scale);
    ``return_model`` adds the trained model under ``"model"``."""
    arm = _check_arm(arm)
    seed = check_int("seed", seed, 0)
    r = _recipe(recipe)
    d = corpus(r)
    batches_per_epoch = math.ceil(len(d["x"]) / r["batch_size"])
    steps = r["epochs"] * batches_per_epoch if steps is None else check_int("steps", steps, 1)
    if not isinstance(return_model, bool):
        raise TypeError(f"return_model must be True or False, got {return_model!r}")
    device = torch.device(device)
    runtime.seed_everything(seed)
    model = GPT(make_config(arm, len(d["vocab"]), r)).to(device)
    balance = ARMS[arm]["balance_weight"]
    moe = ARMS[arm]["ffn"] == "moe"
    optimizer = torch.optim.AdamW(model.parameters(), lr=r["lr"], weight_decay=r["weight_decay"])
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    loader = data.tensor_loader(d["x"], d["y"], batch_size=r["batch_size"], seed=seed)
    test_ids = d["test_ids"].to(device)
    checkpoints = set(np.linspace(0, steps, r["evaluations"] + 1).round().astype(int).tolist())
    curve = {"step": [], "seconds": [], "test": []}
    loads, block = [], []
    seconds, step = 0.0, 0

    def evaluate() -> None:
        curve["step"].append(step)
        curve["seconds"].append(round(seconds, 3))
        curve["test"].append(round(sliding_cross_entropy(model, test_ids), 5))

    evaluate()
    while step < steps:
        for inputs, targets in loader:
            start = time.perf_counter()
            model.train()
            logits, _ = model(inputs.to(device))
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.to(device).reshape(-1))
            if balance:
                loss = loss + balance * model.aux_loss()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), r["clip"])
            optimizer.step()
            schedule.step()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            seconds += time.perf_counter() - start
            step += 1
            if moe:
                block.append(torch.stack([b.ffn.last_stats["load"] for b in model.blocks]))  # stays on the device
                if len(block) == r["load_every"] or step == steps:
                    loads.append(torch.stack(block).mean(0).cpu().numpy().round(5).tolist())
                    block = []
            if step in checkpoints:
                evaluate()
            if step == steps:
                break
    record = {"arm": arm, "seed": seed, "steps": steps, "parameters": model.num_parameters(),
              "active_parameters": model.active_parameters(), "curve": curve, "final_test": curve["test"][-1],
              "seconds": round(seconds, 2), "loads": loads}
    if return_model:
        record["model"] = model.eval()
    return record


def load_results(path: str | Path | None = None) -> dict:
    """The stored sweep: ``{"command": ..., "seconds_ratio": ..., "runs": [record of :func:`run`, ...]}``.

    By default the file shipped inside the package; ``path`` reads another one.
    """
    return _stored.load(RESULTS, path, "a sweep file")
