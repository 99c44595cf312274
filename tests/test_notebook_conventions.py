"""Every chapter notebook follows the conventions of DESIGN.md (checked without executing it)."""

from __future__ import annotations

import json
import re
import sys

import nbformat
import pytest

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent / "tools"))
from course import (  # noqa: E402
    EXTRAS, ROOT, badge_markdown, colab_url, has_gpu_scale, install_cell, install_command, load_config, notebooks,
)

CONFIG = load_config()
NOTEBOOKS = notebooks()
IDS = [p.name for p in NOTEBOOKS]
ABSOLUTE_PATH = re.compile(r"(/root/|/home/|/tmp/|/work/|/Users/|[A-Z]:\\\\)")


def _read(path):
    return nbformat.read(path, as_version=4)


def _tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def test_there_are_notebooks_and_all_are_in_the_toc():
    assert NOTEBOOKS, "no notebooks under lessons/"
    toc = (ROOT / "_toc.yml").read_text()
    for path in NOTEBOOKS:
        assert f"lessons/{path.stem}" in toc, f"{path.name} is not in _toc.yml"


def test_config_points_colab_at_the_repository():
    assert CONFIG["execute"]["execute_notebooks"] == "off"
    assert CONFIG["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert colab_url(CONFIG, "lessons/x.ipynb").startswith("https://colab.research.google.com/github/")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_title_badge_and_install_cell_point_at_the_config_repository(path):
    nb = _read(path)
    rel = path.relative_to(ROOT).as_posix()
    title, install = nb.cells[0], nb.cells[1]
    assert title.cell_type == "markdown" and title.source.startswith("# "), "cell 1 must be the Markdown title"
    assert badge_markdown(CONFIG, rel) in title.source, (
        f"{rel}: Colab badge does not match _config.yml; run python tools/sync_notebook_links.py")
    assert install.cell_type == "code"
    assert {"remove-cell", "nbval-skip"} <= set(_tags(install)), "cell 2 must be tagged remove-cell and nbval-skip"
    assert install.source == install_cell(CONFIG, path), (
        f"{rel}: install cell does not match _config.yml and course.EXTRAS; run python tools/sync_notebook_links.py")
    assert install_command(CONFIG, EXTRAS.get(path.stem, ())) in install.source and "import nnanatomy" in install.source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_box_states_what_to_build_and_the_measured_runtime(path):
    box = _read(path).cells[2]
    assert box.cell_type == "markdown" and "What you will build" in box.source and "**Need:**" in box.source
    assert re.search(r"\*\*Runtime:\*\* \d+ s on a \d+-core CPU", box.source), (
        "the runtime line is filled in by tools/execute_notebooks.py: re-execute the notebook")
    if has_gpu_scale(path):  # what the gpu configuration changes, and whether it was measured
        assert "**At `gpu` scale:**" in box.source and ("not yet measured" in box.source or "measured on" in box.source)
    else:  # one size: the box says why
        assert "no `gpu` scale" in " ".join(box.source.split())


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_environment_cell_seeds_and_reports(path):
    code = [c for c in _read(path).cells if c.cell_type == "code"][1]
    assert code.source.startswith("# NBVAL_IGNORE_OUTPUT")
    for needle in ("runtime.get_scale()", "runtime.seed_everything(", "runtime.get_device()", "runtime.environment_report("):
        assert needle in code.source, f"the environment cell must call {needle}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_markers_outputs_and_hygiene(path):
    nb = _read(path)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or i == 1:
            continue
        src = cell.source
        assert src.strip(), f"cell {i} is empty"
        assert cell.execution_count is not None, f"cell {i} was not executed: run tools/execute_notebooks.py"
        if re.search(r"\b(train\.fit|minibatch_fit)\(", src) and "def " not in src.split("fit(")[0].splitlines()[-1]:
            assert src.startswith("# NBVAL_IGNORE_OUTPUT"), f"cell {i} trains: its output varies, mark it NBVAL_IGNORE_OUTPUT"
        if "plt.subplots" in src or "plots.plot_" in src:
            assert "plt.show()" in src or "plots.show_compact(" in src, f"cell {i} draws a figure but does not end with plt.show()"
        for out in cell.outputs:
            assert out.output_type != "error", f"cell {i} has an error output"
            text = json.dumps(out)
            assert not ABSOLUTE_PATH.search(text), f"cell {i} output shows an absolute path"
            assert "Warning" not in text or "NBVAL_IGNORE_OUTPUT" in src, f"cell {i} output shows a warning"
    assert "--nbval-lax" not in (ROOT / "Makefile").read_text()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_figures_have_titles_and_axis_labels(path):
    for i, cell in enumerate(_read(path).cells):
        shows = "plt.show()" in cell.source or "plots.show_compact(" in cell.source
        if cell.cell_type == "code" and shows and "plots.plot_" not in cell.source:
            assert "title" in cell.source, f"cell {i}: every figure needs a title"
            gallery = 'axis("off")' in cell.source  # image galleries switch their axes off
            assert gallery or ("xlabel" in cell.source and "ylabel" in cell.source), f"cell {i}: label both axes"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_chapter_ends_with_exercises_and_solutions(path):
    nb = _read(path)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "## Exercises" in text
    labels = re.findall(r"```\{exercise\}[^\n]*\n:label: (\S+)", text)
    assert len(labels) >= 3, "a chapter has at least three exercises"
    for label in labels:
        assert re.search(r"\{solution\} " + re.escape(label) + r"\n:class: dropdown", text), f"{label}: no dropdown solution"
    assert "## Summary" in text


def _show_source_calls(source: str) -> list[list[str]]:
    """The arguments of every ``show_source(...)`` call in a cell, as source text (keywords left out)."""
    import ast

    try:
        tree = ast.parse("\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))))
    except SyntaxError:
        return []
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name == "show_source":
                calls.append([ast.unparse(arg) for arg in node.args])
    return calls


def _listing_headers(cell) -> list[tuple[str, str]]:
    """``(file, qualname)`` of every listing ``show_source`` left in a cell's outputs."""
    text = "\n".join(
        out.get("text", "") if out.output_type == "stream" else out.get("data", {}).get("text/plain", "")
        for out in cell.outputs
    )
    return re.findall(r"^# (\S+\.py) · ([\w.<>]+)$", text, flags=re.M)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_show_source_call_left_its_listing_in_the_outputs(path):
    """The book shows the code that runs: each object passed to ``show_source`` has its listing,
    under a ``nnanatomy/…`` header (never a decorator's module), in the committed outputs of the
    cell that calls it."""
    nb = _read(path)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        calls = _show_source_calls(cell.source)
        if not calls:
            continue
        headers = _listing_headers(cell)
        for file, qualname in headers:
            assert file.startswith("nnanatomy/"), f"cell {i}: listing of {qualname} is headed {file}, not a nnanatomy/ file"
        for args in calls:
            for arg in args:
                # the header names the object: scratch.Linear.forward → "Linear.forward"; an inherited
                # method is named by the class that defines it (scratch.RNN._pre → "_Recurrent._pre")
                found = any(
                    qualname.split(".")[-1] == arg.split(".")[-1] for _, qualname in headers
                ) if re.fullmatch(r"[\w.]+", arg) else len(headers) >= len(args)
                assert found, f"cell {i}: show_source({arg}) left no listing in the committed outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_heat_maps_have_colour_bars(path):
    """A heat map (imshow / pcolormesh / matshow) needs a colour bar saying what the colours mean.
    Picture galleries — digits, samples, label maps, with their axes switched off — are exempt."""
    for i, cell in enumerate(_read(path).cells):
        if cell.cell_type != "code" or not re.search(r"\.(imshow|pcolormesh|matshow)\(", cell.source):
            continue
        gallery = 'axis("off")' in cell.source or "image_grid(" in cell.source
        assert "colorbar" in cell.source or gallery, f"cell {i}: a heat map without a colour bar"
