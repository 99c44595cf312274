"""Shared test settings: deterministic seeds and a headless plot backend for the unit tests.

(The notebooks under nbval run in their own kernel with Jupyter's inline backend.)
"""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("Agg")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--site", default=None, help="path of the built site (_build/html) for the browser tests in tests/site")


@pytest.fixture(autouse=True)
def _seeded() -> None:
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
