"""Checkers for the exercises of chapter 03 (RNN)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ._common import check_int
from ._report import AnswerTypeError, CheckResult, checker, not_answered, verdict

__all__ = ["check_gradient_ratio", "check_rnn_parameters", "check_rnn_step_backward", "check_temperature_share"]


@checker
def check_rnn_parameters(answer: Any) -> CheckResult:
    """Exercise 1: parameters of ``nn.RNN(input_size=32, hidden_size=128)``."""
    if answer is None:
        return not_answered("replace None with your count (an int).")
    answer = check_int(answer)
    expected = sum(p.numel() for p in torch.nn.RNN(32, 128).parameters())
    if answer == expected:
        return verdict(True, f"{expected:,} — correct: 128·32 + 128·128 + 2·128 (PyTorch keeps two bias vectors).")
    if answer == expected - 128:
        return verdict(False, "close: that is the textbook count with one bias; PyTorch's nn.RNN has bias_ih and bias_hh.")
    return verdict(False, f"{answer:,} is not it: count W_xh (H×D), W_hh (H×H) and the biases.")


@checker
def check_gradient_ratio(answer: Any) -> CheckResult:
    """Exercise 2: ‖∂L/∂h_{T−20}‖ / ‖∂L/∂h_T‖ for a linear RNN with W_hh = 0.9·I."""
    if answer is None:
        return not_answered("replace None with a number.")
    if isinstance(answer, bool) or not isinstance(answer, (int, float, np.floating)):
        raise AnswerTypeError(f"answer must be a number, got {type(answer).__name__}")
    h = torch.zeros(1, 4, requires_grad=True)
    state, w = h, 0.9 * torch.eye(4)
    for _ in range(20):
        state = state @ w.T  # linear RNN with zero input
    g = torch.ones(1, 4) / 2.0
    (state * g).sum().backward()
    expected = float(h.grad.norm() / g.norm())
    if abs(answer - expected) <= 1e-3:
        return verdict(True, f"{expected:.4f} = 0.9^20 — correct: each step back multiplies by W_hhᵀ = 0.9·I.")
    if abs(answer - 0.9 * 20) < 1e-6 or abs(answer - 0.9) < 1e-6:
        return verdict(False, "the factors multiply, they do not add: one factor 0.9 per step, 20 steps.")
    return verdict(False, f"{answer} is not it: ∂h_T/∂h_t is the product of T − t Jacobians.")


@checker
def check_rnn_step_backward(fn: Any, seed: int = 0) -> CheckResult:
    """Exercise 3: the backward pass of one RNN step, against autograd.

    ``fn(dh, x, h_prev, h, W_xh, W_hh)`` must return ``(dx, dh_prev, dW_xh, dW_hh, db)`` for
    ``h = tanh(x W_xhᵀ + h_prev W_hhᵀ + b)`` with batch-first 2-D arrays.
    """
    if fn is None:
        return not_answered("replace None with your function.")
    if not callable(fn):
        raise AnswerTypeError(f"pass your function, got {type(fn).__name__}")
    rng = np.random.default_rng(seed)
    x, h_prev = rng.normal(size=(3, 4)), rng.normal(size=(3, 5))
    w_xh, w_hh, b = rng.normal(size=(5, 4)) * 0.5, rng.normal(size=(5, 5)) * 0.5, rng.normal(size=5)
    dh = rng.normal(size=(3, 5))
    tensors = [torch.tensor(a, requires_grad=True) for a in (x, h_prev, w_xh, w_hh, b)]
    h = torch.tanh(tensors[0] @ tensors[2].T + tensors[1] @ tensors[3].T + tensors[4])
    h.backward(torch.tensor(dh))
    expected = [t.grad.numpy() for t in (tensors[0], tensors[1], tensors[2], tensors[3], tensors[4])]
    result = fn(dh.copy(), x.copy(), h_prev.copy(), h.detach().numpy().copy(), w_xh.copy(), w_hh.copy())
    if not isinstance(result, (tuple, list)) or len(result) != 5:
        raise TypeError("your function must return a tuple (dx, dh_prev, dW_xh, dW_hh, db)")
    names = ("dx", "dh_prev", "dW_xh", "dW_hh", "db")
    for name, ours, ref in zip(names, result, expected):
        ours = np.asarray(ours)
        if ours.shape != ref.shape:
            return verdict(False, f"{name} has shape {ours.shape}, expected {ref.shape}.")
        if not np.allclose(ours, ref, rtol=0, atol=1e-10):
            hint = " Did you multiply by tanh′ = 1 − h² first?" if name in ("dx", "dh_prev") else ""
            return verdict(False, f"{name} differs from autograd.{hint}")
    return verdict(True, "all five gradients equal autograd to 1e-10.")


@checker
def check_temperature_share(answer: Any, model: Any, vocab: Any, temperature: float = 1.25) -> CheckResult:
    """Exercise: the share of 300 sentences sampled from ``model`` at ``temperature`` (generator
    seed 0, from ``"\\n"`` to the next ``"\\n"``, at most 60 characters) that are sentences of the
    book's grammar. The checker samples the same way from the model it is given."""
    from ..data import SIMPLE_ENGLISH, CharVocab, Grammar
    from ..models.rnn import CharRNN

    if not isinstance(model, CharRNN):
        raise AnswerTypeError(f"model must be the chapter's CharRNN (char_rnn), got {type(model).__name__}")
    if not isinstance(vocab, CharVocab) or "\n" not in vocab.chars:
        raise AnswerTypeError("vocab must be the chapter's CharVocab (vocab)")
    if answer is None:
        return not_answered("replace None with the share of grammatical samples (a fraction between 0 and 1).")
    if isinstance(answer, bool) or not isinstance(answer, (int, float, np.integer, np.floating)) or not np.isfinite(answer):
        raise AnswerTypeError(f"answer must be a number between 0 and 1, got {answer!r}")
    valid = {s + ".\n" for s, _ in Grammar(SIMPLE_ENGLISH).sentences}
    outs = model.sample(torch.tensor(vocab.encode("\n")), 60, num_samples=300, temperature=temperature,
                        stop_id=vocab.chars.index("\n"), generator=torch.Generator().manual_seed(0))
    share = sum(vocab.decode(o) in valid for o in outs) / len(outs)
    if 1 < float(answer) <= 100:
        return verdict(False, f"{answer} looks like a percentage; give a fraction (the checker measured {share:.3f}).")
    if abs(float(answer) - share) <= 0.02:
        return verdict(True, f"{share:.1%} of the samples are sentences of the grammar at τ = {temperature:g}.")
    return verdict(False, f"the checker measured {share:.3f} on this model; sample with the settings of the exercise "
                          "(300 samples, generator seed 0, from '\\n' to '\\n', at most 60 characters).")
