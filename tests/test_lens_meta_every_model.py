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
