"""Execute notebooks in place, as CI will re-execute them, and store their outputs.

    .venv/bin/python tools/execute_notebooks.py lessons/01_dnn.ipynb   # one chapter
    .venv/bin/python tools/execute_notebooks.py                        # every chapter
    .venv/bin/python tools/execute_notebooks.py --keep-runtime lessons/01_dnn.ipynb

``--keep-runtime`` leaves the runtime line of the chapter box as it is: use it when other work
loads the machine, so that the page never shows a time measured on a busy CPU.

Run it whenever a chapter or the code it uses changes, then commit the notebook: nbval compares
the committed outputs with a fresh run. The environment is the CI one: CPU scale, and no progress
bars (a tqdm bar is a live widget; the committed page shows the loop's log lines instead).
Each notebook's wall time is printed: the budget is 120 s on a 2-core CPU.
"""

from __future__ import annotations

import os
import pathlib
import re
import sys
import time

import nbformat
from nbclient import NotebookClient

from course import ROOT, notebooks


def merge_streams(outputs: list) -> list:
    """Join consecutive stdout (or stderr) outputs into one, as a reader sees them."""
    merged: list = []
    for out in outputs:
        previous = merged[-1] if merged else None
        if (out.output_type == "stream" and previous is not None and previous.output_type == "stream"
                and previous.name == out.name):
            previous.text += out.text
        else:
            merged.append(out)
    return merged


RUNTIME_LINE = re.compile(r"\*\*Runtime:\*\*[^\n]*")


def record_runtime(nb, seconds: float) -> None:
    """Write the measured wall time into the chapter's "what you will build" box."""
    for cell in nb.cells:
        if cell.cell_type == "markdown" and RUNTIME_LINE.search(cell.source):
            cores = os.cpu_count() or 1
            line = f"**Runtime:** {seconds:.0f} s on a {cores}-core CPU, measured when the outputs on this page were made."
            cell.source = RUNTIME_LINE.sub(line, cell.source, count=1)
            return


def execute(path: pathlib.Path, keep_runtime: bool = False) -> float:
    nb = nbformat.read(path, as_version=4)
    env_backup = dict(os.environ)
    os.environ.update({"NNANATOMY_SCALE": "cpu", "NNANATOMY_PROGRESS": "0", "PYDEVD_DISABLE_FILE_VALIDATION": "1"})
    os.environ.pop("MPLBACKEND", None)
    start = time.perf_counter()
    try:
        client = NotebookClient(
            nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}},
            store_widget_state=False,  # widget state would make the site load widget code from a CDN
        )
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(env_backup)
    seconds = time.perf_counter() - start
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = merge_streams(cell.outputs)
    if not keep_runtime:
        record_runtime(nb, seconds)
    nbformat.write(nb, path)
    return seconds


def main(argv: list[str]) -> int:
    keep_runtime = "--keep-runtime" in argv
    paths = [pathlib.Path(a).resolve() for a in argv if a != "--keep-runtime"] or notebooks()
    for path in paths:
        seconds = execute(path, keep_runtime=keep_runtime)
        print(f"{path.relative_to(ROOT).as_posix()}: executed in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
