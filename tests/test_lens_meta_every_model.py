"""``explore.summary(..., device="meta")`` works on every model of the book and gives the same
parameters and FLOPs as running it: each ``forward`` the API probe knows a valid call of (the
models of every chapter, from tests/api_calls.py) is summarised both ways."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))

from api_calls import CALLS  # noqa: E402
from nnanatomy import explore  # noqa: E402

FORWARDS = sorted(name for name in CALLS if name.startswith(("models.", "experiments.")) and name.endswith(".forward"))


def test_the_probe_lists_the_books_models():
    assert len(FORWARDS) >= 40


@pytest.mark.parametrize("name", FORWARDS)
def test_meta_summary_equals_the_real_one(name):
    call = CALLS[name]()
    model = getattr(call.fn, "__self__", None)
    if not isinstance(model, nn.Module) or call.kwargs:
        pytest.skip("not a module's forward with positional inputs")
    if not any(isinstance(a, torch.Tensor) for a in call.args):
        pytest.skip("no tensor input")
    real = explore.summary(model, *call.args)
    meta = explore.summary(model, *call.args, device="meta")
    assert (meta.total_params, meta.total_flops) == (real.total_params, real.total_flops)
    assert all(row.macs is not None for row in meta.rows)


def _uses_fused_lstm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.LSTM) for m in model.modules())


@pytest.mark.parametrize("name", FORWARDS)
def test_meta_backward_equals_the_real_one(name):
    """The backward pass on meta counts what the CPU computes, layer by layer — except the CPU's
    fused LSTM kernel, which also computes gradients nobody asked for (see test_explore_summary),
    the CPU's fused attention, whose backward recomputes the scores where meta's unfused attention
    keeps them (5 products against 4), and a mixture of experts, whose tokens meta splits evenly
    (exact in total, not per expert)."""
    call = CALLS[name]()
    model = getattr(call.fn, "__self__", None)
    if not isinstance(model, nn.Module) or call.kwargs or not any(isinstance(a, torch.Tensor) for a in call.args):
        pytest.skip("not a module's forward with positional inputs")
    if not any(p.requires_grad for p in model.parameters()):
        pytest.skip("nothing trainable")
    try:
        real = explore.summary(model, *call.args, backward=True)
    except ValueError as exc:
        if "requires grad" not in str(exc):
            raise
        pytest.skip("no differentiable output")
    meta = explore.summary(model, *call.args, device="meta", backward=True)
    assert all(p.grad is None for p in model.parameters())
    if _uses_fused_lstm(model) or real.blind_flops:
        assert meta.total_macs == real.total_macs and 0 < meta.total_backward_macs <= real.total_backward_macs
    elif "moe" in name.lower():
        assert meta.total_backward_macs == real.total_backward_macs
    else:
        assert [r.backward_macs for r in meta.rows] == [r.backward_macs for r in real.rows]
