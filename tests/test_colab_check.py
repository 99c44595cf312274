"""The parts of tools/colab_check.py that decide what is checked (the check itself installs into a
fresh environment and runs in CI as make colab-check): the install cell is pointed at the local
clone with its extras kept, and a notebook's imports are read from its code cells."""

from __future__ import annotations

import json
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import colab_check  # noqa: E402
from course import EXTRA_MODULES, EXTRAS, install_cell, load_config, notebooks  # noqa: E402


def test_the_install_cell_is_pointed_at_the_clone_with_its_extras(tmp_path):
    config = load_config()
    a1 = next(p for p in notebooks() if p.stem == "a1_anatomy")
    cell = colab_check._local_install_cell(install_cell(config, a1), tmp_path)
    assert f'"nnanatomy[compare] @ {tmp_path.as_uri()}"' in cell and "git+" not in cell
    assert "import torchinfo" in cell  # an installed nnanatomy without the extra still installs it
    with pytest.raises(ValueError, match="one nnanatomy"):
        colab_check._local_install_cell("import nnanatomy", tmp_path)


def test_notebook_imports_are_read_from_code_cells_without_magics(tmp_path):
    nb = {"cells": [{"cell_type": "code", "source": ["%pip install x\n", "import numpy as np, os.path\n", "from torch import nn\n"]},
                    {"cell_type": "markdown", "source": ["import notthis"]},
                    {"cell_type": "code", "source": ["!ls\n", "from .local import y\n", "import matplotlib.pyplot as plt"]}]}
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps(nb))
    assert colab_check._notebook_imports(path) == {"numpy", "os", "torch", "matplotlib"}


def test_every_extra_a_notebook_needs_is_named_and_executed_by_the_check():
    for stem, extras in EXTRAS.items():
        assert all(extra in EXTRA_MODULES for extra in extras)
        assert stem in colab_check.EXECUTE
    a1_imports = colab_check._notebook_imports(next(p for p in notebooks() if p.stem == "a1_anatomy"))
    assert set(EXTRA_MODULES["compare"]) <= a1_imports
