"""runtime: device choice, seeding, scale, environment report."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from nnanatomy import runtime


def test_get_device_order_and_preference(monkeypatch):
    monkeypatch.delenv("NNANATOMY_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else ("mps" if runtime._mps_available() else "cpu")
    assert runtime.get_device().type == expected
    assert runtime.get_device("cpu").type == "cpu"
    monkeypatch.setenv("NNANATOMY_DEVICE", "cpu")
    assert runtime.get_device().type == "cpu"


def test_get_device_errors(monkeypatch):
    with pytest.raises(ValueError, match="one of"):
        runtime.get_device("tpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="not available"):
        runtime.get_device("cuda")


def test_seed_everything_makes_all_generators_repeat():
    def draw():
        return random.random(), np.random.rand(), torch.rand(1).item()

    assert runtime.seed_everything(7) == 7
    first = draw()
    runtime.seed_everything(7)
    assert draw() == first
    with pytest.raises(ValueError):
        runtime.seed_everything(-1)
    with pytest.raises(TypeError):
        runtime.seed_everything(1.5)


def test_scale(monkeypatch):
    monkeypatch.delenv("NNANATOMY_SCALE", raising=False)
    assert runtime.get_scale() == "cpu"
    monkeypatch.setenv("NNANATOMY_SCALE", "GPU")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # the warning without CUDA: tests/test_devices.py
    assert runtime.get_scale() == "gpu"
    monkeypatch.setenv("NNANATOMY_SCALE", "huge")
    with pytest.raises(ValueError, match="NNANATOMY_SCALE"):
        runtime.get_scale()


def test_environment_report_names_versions():
    report = runtime.environment_report("cpu")
    assert torch.__version__ in report and np.__version__ in report and "device    cpu" in report
    with pytest.raises(TypeError):
        runtime.environment_report(3)


def test_move_to_handles_nested_structures():
    batch = {"x": torch.zeros(2), "pair": (torch.ones(1), [torch.ones(1)]), "n": 3}
    moved = runtime.move_to(batch, torch.device("cpu"))
    assert moved["n"] == 3 and isinstance(moved["pair"], tuple) and isinstance(moved["pair"][1], list)
