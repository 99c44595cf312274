"""tools/gpu_check.py on this CPU (``--device cpu``): a notebook passes when it runs through, its
asserting cells' output is reported, a failed assert fails it with the error named, and the
report lists both. The real run needs CUDA (make gpu-check)."""

from __future__ import annotations

import json
import pathlib
import sys

import nbformat

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import gpu_check  # noqa: E402


def _notebook(path: pathlib.Path, check: str) -> pathlib.Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# t"),
                nbformat.v4.new_code_cell("raise RuntimeError('the install cell is not run')"),
                nbformat.v4.new_code_cell("import os\nscale = os.environ['NNANATOMY_SCALE']\nvalue = 0.25 if scale == 'cpu' else 2.0"),
                nbformat.v4.new_code_cell(f"print(f'value {{value}} at {{scale}} scale')\nassert {check}")]
    nbformat.write(nb, path)
    return path


def test_a_notebook_that_runs_through_passes_and_its_asserted_output_is_reported(tmp_path):
    good = gpu_check.run_one(_notebook(tmp_path / "good.ipynb", "value < 1"), "cpu", "cpu", timeout=120)
    bad = gpu_check.run_one(_notebook(tmp_path / "bad.ipynb", "value < 1"), "cpu", "gpu", timeout=120)
    assert good["passed"] and good["asserted_output"] == ["value 0.25 at cpu scale"] and good["error"] is None
    assert not bad["passed"] and bad["asserted_output"] == ["value 2.0 at gpu scale"]
    assert bad["error"] == "cell 3: AssertionError:  [at: assert value < 1]", bad["error"]
    report = gpu_check.write_report([good, bad], "cpu", tmp_path / "reports")
    text = report.read_text()
    assert "| good | cpu | pass |" in text and "| bad | gpu | FAIL: " in text and "value 0.25 at cpu scale" in text
    data = json.loads(report.with_suffix(".json").read_text())
    assert [r["passed"] for r in data["results"]] == [True, False]
    # a rerun of one notebook the same day replaces its row and keeps the others
    fixed = dict(bad, passed=True, error=None)
    gpu_check.write_report([fixed], "cpu", tmp_path / "reports")
    rows = json.loads(report.with_suffix(".json").read_text())["results"]
    assert [(r["notebook"], r["passed"]) for r in rows] == [("good", True), ("bad", True)]

