"""Checkers for the exercises of chapter 04 (LSTM)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ._common import check_int
from ._report import AnswerTypeError, CheckResult, checker, not_answered, verdict

__all__ = ["check_forget_bias", "check_forget_bias_steps", "check_lstm_parameters", "check_lstm_step",
           "check_no_attention_exact_match"]


@checker
def check_lstm_parameters(answer: Any) -> CheckResult:
    """Exercise 1: parameters of ``nn.LSTM(input_size=32, hidden_size=64)``."""
    if answer is None:
        return not_answered("replace None with your count (an int).")
    answer = check_int(answer)
    expected = sum(p.numel() for p in torch.nn.LSTM(32, 64).parameters())
    if answer == expected:
        return verdict(True, f"{expected:,} — correct: 4 gates × (64·32 + 64·64 + 2·64).")
    rnn = sum(p.numel() for p in torch.nn.RNN(32, 64).parameters())
    if answer == rnn:
        return verdict(False, "that is a vanilla RNN's count: the LSTM has four sets of weights, one per gate.")
    return verdict(False, f"{answer:,} is not it: each of the 4 gates has W_x (H×D), W_h (H×H) and two biases.")


@checker
def check_forget_bias(answer: Any) -> CheckResult:
    """Exercise 2: the forget-gate bias that gives f = 0.95 when the weighted inputs sum to 0."""
    if answer is None:
        return not_answered("replace None with a number.")
    if isinstance(answer, bool) or not isinstance(answer, (int, float, np.floating)):
        raise AnswerTypeError(f"answer must be a number, got {type(answer).__name__}")
    expected = math.log(0.95 / 0.05)
    if abs(answer - expected) <= 1e-3:
        return verdict(True, f"b_f = ln(0.95/0.05) = {expected:.4f} — correct: σ(b_f) = 0.95.")
    if abs(1 / (1 + math.exp(-answer)) - 0.95) < 0.01:
        return verdict(False, "close, but give it to three decimals: solve σ(b) = 0.95 exactly.")
    return verdict(False, f"σ({answer}) = {1 / (1 + math.exp(-answer)):.3f}, not 0.95: invert the sigmoid.")


@checker
def check_lstm_step(fn: Any, seed: int = 0) -> CheckResult:
    """Exercise 3: one LSTM step from PyTorch's stacked tensors, against ``nn.LSTMCell``.

    ``fn(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh)`` → ``(h_new, c_new)``, batch first.
    """
    if fn is None:
        return not_answered("replace None with your function.")
    if not callable(fn):
        raise AnswerTypeError(f"pass your function, got {type(fn).__name__}")
    with torch.random.fork_rng(devices=[]):  # seeded here, the reader's random state left as it was
        torch.manual_seed(seed)
        cell = torch.nn.LSTMCell(3, 4).double()
    rng = np.random.default_rng(seed)
    x, h, c = rng.normal(size=(2, 3)), rng.normal(size=(2, 4)), rng.normal(size=(2, 4))
    with torch.no_grad():
        h_ref, c_ref = cell(torch.tensor(x), (torch.tensor(h), torch.tensor(c)))
    arrays = [t.detach().numpy().copy() for t in (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)]
    result = fn(x.copy(), h.copy(), c.copy(), *arrays)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise TypeError("your function must return a tuple (h_new, c_new)")
    h_new, c_new = (np.asarray(r) for r in result)
    if h_new.shape != (2, 4) or c_new.shape != (2, 4):
        return verdict(False, f"expected two (2, 4) arrays, got {h_new.shape} and {c_new.shape}.")
    if not np.allclose(c_new, c_ref.numpy(), rtol=0, atol=1e-12):
        return verdict(False, "c_new differs from nn.LSTMCell: the rows are stacked as i, f, g (candidate), o.")
    if not np.allclose(h_new, h_ref.numpy(), rtol=0, atol=1e-12):
        return verdict(False, "c_new is right, h_new is not: h = o ⊙ tanh(c_new).")
    return verdict(True, "h and c equal nn.LSTMCell to 1e-12.")


@checker
def check_forget_bias_steps(answer: Any) -> CheckResult:
    """Exercise: the optimiser steps the chapter's LSTM with forget-gate bias 1 needs on seed 1 to
    solve the adding problem, as ``experiments.adding.run`` measures them. Compared with the stored
    run of that configuration (within one epoch: another CPU rounds differently in the last bits)."""
    from ..experiments import adding

    if answer is None:
        return not_answered('replace None with record["steps_to_solve"] of adding.run("lstm", seed=1, forget_bias=1.0).')
    stored = next(r for r in adding.load_results()["runs"] if r["cell"] == "lstm" and r["forget_bias"] == 1.0 and r["seed"] == 1)
    default = next(r for r in adding.load_results()["runs"] if r["cell"] == "lstm" and r["forget_bias"] is None and r["seed"] == 1)
    answer = check_int(answer)
    if answer % stored["steps_per_epoch"]:
        return verdict(False, f"{answer} is not a whole number of epochs ({stored['steps_per_epoch']} steps each): "
                              "read record['steps_to_solve'].")
    if abs(answer - stored["steps_to_solve"]) <= stored["steps_per_epoch"]:
        return verdict(True, f"{answer:,} steps (the stored run: {stored['steps_to_solve']:,}); the default LSTM needed "
                             f"{default['steps_to_solve']:,} on this seed — over three seeds the two overlap.")
    return verdict(False, f"{answer:,} steps is not what this configuration needed; run adding.run('lstm', seed=1, "
                          "forget_bias=1.0) and read record['steps_to_solve'].")


@checker
def check_no_attention_exact_match(answer: Any) -> CheckResult:
    """Exercise: the exact-match accuracy of chapter 04's encoder–decoder *without* attention after
    two epochs on seed 1, as ``experiments.translation.run("lstm", seed=1, epochs=2)`` measures it.
    Compared with the stored run of that configuration (within 0.02: another CPU rounds differently)."""
    from ..experiments import translation

    if answer is None:
        return not_answered('replace None with record["test_exact_match"][-1] of translation.run("lstm", seed=1, epochs=2).')
    runs = translation.load_results()["runs"]
    stored = next(r for r in runs if r["arch"] == "lstm" and r["seed"] == 1)["test_exact_match"][1]
    with_attention = next(r for r in runs if r["arch"] == "lstm-attention" and r["seed"] == 1)["test_exact_match"][1]
    if isinstance(answer, bool) or not isinstance(answer, (int, float, np.integer, np.floating)) or not np.isfinite(answer):
        raise AnswerTypeError(f"answer must be a finite number (a share between 0 and 1), got {answer!r}")
    answer = float(answer)
    if not 0.0 <= answer <= 1.0:
        return verdict(False, f"{answer} is not a share: exact match is between 0 and 1.")
    if abs(answer - stored) <= 0.02:
        return verdict(True, f"{answer:.1%} (the stored run: {stored:.1%}); with attention the same model, seed and budget "
                             f"reach {with_attention:.1%}.")
    return verdict(False, f"{answer:.1%} is not what this configuration reaches after two epochs; run "
                          "translation.run('lstm', seed=1, epochs=2) and read record['test_exact_match'][-1].")
