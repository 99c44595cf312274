"""The bad-input contract, over the whole public API (tests/api_contract.py explains the probe).

Every public callable has a valid call in tests/api_calls.py or a stated reason not to be probed;
a new function without either fails here. Every mutated call must end in a clear error raised by
nnanatomy, or in a harmless result: no leaked torch/NumPy/Python error, no silent NaN, no hang, no
state changed by a failed call. ``python tools/probe_api.py`` prints the same cases as a table.
"""

from __future__ import annotations

import faulthandler
import os

import pytest

import api_contract
from api_calls import CALLS, NOT_PROBED


@pytest.fixture(scope="module")
def probed():
    faulthandler.dump_traceback_later(600, exit=True)  # a hang inside C code cannot be interrupted: fail loudly
    before = set(os.listdir())
    try:
        return api_contract.probe_all()
    finally:
        faulthandler.cancel_dump_traceback_later()
        assert set(os.listdir()) <= before, f"the probe wrote {sorted(set(os.listdir()) - before)} into {os.getcwd()}"


def test_every_public_callable_has_a_valid_call_or_a_reason(probed):
    _, missing = probed
    assert not missing, f"add a valid call to tests/api_calls.py (or a reason to NOT_PROBED) for: {sorted(missing)}"
    stale = sorted(set(CALLS) & set(NOT_PROBED))
    assert not stale, f"both probed and excused: {stale}"


def test_every_valid_call_runs(probed):
    cases, _ = probed
    broken = [f"{c.name}: {c.detail}" for c in cases if c.outcome == "fixture"]
    assert not broken, "\n".join(broken)


def test_bad_input_gets_a_clear_error_and_changes_nothing(probed):
    cases, _ = probed
    defects = [f"[{c.outcome}] {c.name}({c.argument} <- {c.mutation}): {c.detail}" for c in cases if c.outcome in "bcde"]
    assert not defects, f"{len(defects)} of {len(cases)} cases break the contract:\n" + "\n".join(defects[:60])


def test_the_probe_covers_the_api_broadly(probed):
    cases, _ = probed
    assert len({c.name for c in cases}) >= 400
    assert len(cases) >= 5000
    assert sum(c.outcome == "a" for c in cases) >= 4000  # each a bad input that was refused with a clear error


def test_the_probe_detects_each_kind_of_defect():
    """The classifier itself: a leaked error (b), a silent NaN (c) and a corrupted input (e) are caught."""
    import numpy as np

    def leaks(x: np.ndarray) -> float:
        return float(x.reshape(-1)[0] + "a")  # TypeError from Python, not a check

    def silent(x: np.ndarray) -> np.ndarray:
        return x * 2  # NaN in, NaN out, no word

    def corrupts(x: np.ndarray) -> np.ndarray:
        x[0] = 99.0
        raise ValueError("too late: x was already changed")

    ok = np.ones(3)
    nan = ok.copy()
    nan[0] = np.nan
    assert api_contract.classify(api_contract.Call(leaks, (ok,)), api_contract.REJECT, True, "x")[0] == "b"
    assert api_contract.classify(api_contract.Call(silent, (nan,)), api_contract.REJECT, True, "nan-data")[0] == "c"
    assert api_contract.classify(api_contract.Call(corrupts, (ok.copy(),)), api_contract.REJECT, True, "x")[0] == "e"
