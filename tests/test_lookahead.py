"""Chapter 04's stacked-vs-bidirectional experiment (experiments.lookahead)."""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest
import torch

from nnanatomy import runtime
from nnanatomy.experiments import lookahead


def test_tags_are_strict_peaks():
    x, y = lookahead.make(50, 3)
    assert x.shape == y.shape == (50, lookahead.TASK["length"]) and x.dtype == torch.long
    for i, t in itertools.product(range(50), range(1, lookahead.TASK["length"] - 1)):
        assert int(y[i, t]) == int(x[i, t] > x[i, t - 1] and x[i, t] > x[i, t + 1])
    assert (y[:, 0] == 0).all() and (y[:, -1] == 0).all()
    assert torch.equal(lookahead.make(50, 3)[0], x)  # the seed decides the data


def test_left_to_right_ceiling_is_exact():
    assert lookahead.left_to_right_ceiling() == Fraction(7, 8)
    # brute force over (x[t-1], x[t], x[t+1]) with three digits: the best guess given the first two
    total = Fraction(0)
    for a, b in itertools.product(range(3), repeat=2):
        peaks = sum(b > a and b > c for c in range(3))
        total += Fraction(max(peaks, 3 - peaks), 3)
    assert lookahead.left_to_right_ceiling(3) == total / 9
    with pytest.raises(ValueError):
        lookahead.left_to_right_ceiling(1)


def test_tagger_and_run_check_their_inputs():
    model = lookahead.Tagger(2, True, hidden=4)
    assert model(torch.zeros(3, 5, dtype=torch.long)).shape == (3, 5, 2)
    with pytest.raises(ValueError, match="digits"):
        model(torch.full((1, 4), 10))
    with pytest.raises(TypeError):
        model(torch.zeros(1, 4))
    with pytest.raises(ValueError):
        lookahead.run("gru", 0)
    with pytest.raises(ValueError):
        lookahead.run("lstm", -1)


def test_the_stored_sweep_is_the_code_run():
    runs = lookahead.load_results()["runs"]
    assert sorted((r["arm"], r["seed"]) for r in runs) == sorted(itertools.product(lookahead.ARMS, (0, 1, 2)))
    stored = next(r for r in runs if (r["arm"], r["seed"]) == ("lstm", 0))
    before = runtime.fix_threads(1)  # as the sweep ran: small LSTMs on oversubscribed threads crawl
    try:
        again = lookahead.run("lstm", 0)
    finally:
        runtime.fix_threads(before)
    assert again["parameters"] == stored["parameters"]
    assert again["test_accuracy"][-1] == pytest.approx(stored["test_accuracy"][-1], abs=2e-3)
