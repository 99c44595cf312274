"""Facts about the course repository that tests and maintenance scripts share.

The repository URL lives in ``_config.yml`` only; everything that points at the repository
(the Colab badge and the install cell of every notebook) is derived from it here.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import re

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
LESSONS = ROOT / "lessons"
BADGE_IMAGE = "../book/_static/colab-badge.svg"


def load_config(root: pathlib.Path = ROOT) -> dict:
    return yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))


def repository(config: dict) -> tuple[str, str, str]:
    """``(url, "owner/name", branch)`` from the ``repository`` section of ``_config.yml``."""
    repo = config["repository"]
    url = repo["url"].rstrip("/")
    match = re.fullmatch(r"https://github\.com/([^/]+/[^/]+)", url)
    if not match:
        raise ValueError(f"repository.url must be https://github.com/<owner>/<name>, got {url!r}")
    return url, match.group(1), repo.get("branch", "main")


def colab_url(config: dict, notebook: str) -> str:
    """The Colab address of ``notebook`` (a path relative to the repository root)."""
    _, slug, branch = repository(config)
    base = config["launch_buttons"]["colab_url"].rstrip("/")
    return f"{base}/github/{slug}/blob/{branch}/{notebook}"


def badge_markdown(config: dict, notebook: str) -> str:
    return f"[![Open in Colab]({BADGE_IMAGE})]({colab_url(config, notebook)})"


#: notebook (file stem) → the package extras its install cell adds to the base install
EXTRAS: dict[str, tuple[str, ...]] = {"a1_anatomy": ("compare",)}
#: extra → the modules it provides: the install cell installs when any of them is missing
EXTRA_MODULES: dict[str, tuple[str, ...]] = {"compare": ("torchinfo", "fvcore", "ptflops")}


def install_command(config: dict, extras: tuple[str, ...] = ()) -> str:
    url, _, branch = repository(config)
    spec = "nnanatomy" + (f"[{','.join(extras)}]" if extras else "")
    return f'%pip install -q "{spec} @ git+{url}@{branch}"'


def install_cell(config: dict, notebook: pathlib.Path) -> str:
    """The second cell of ``notebook``: in Colab, install the package (and the extras the
    notebook needs) when it is not importable; where the chapter has a ``gpu`` scale, say how to
    switch to it. Hidden on the site, skipped by nbval."""
    extras = EXTRAS.get(notebook.stem, ())
    modules = ["nnanatomy"] + [module for extra in extras for module in EXTRA_MODULES[extra]]
    lines = ["# Colab: install the course package when it is not importable yet (hidden on the site)."]
    if has_gpu_scale(notebook):
        lines += ['# On a GPU runtime, uncomment the next line to run this chapter at its larger "gpu" scale (see its box).',
                  "# %env NNANATOMY_SCALE=gpu"]
    lines += ["try:"] + [f"    import {module}" for module in modules]
    lines += ["except ImportError:", f"    {install_command(config, extras)}"]
    return "\n".join(lines)


def has_gpu_scale(notebook: pathlib.Path) -> bool:
    """Whether the notebook has a ``"gpu"`` configuration (a ``"gpu": dict(...)`` entry in a code
    cell after the install cell) for ``runtime.get_scale()`` to choose."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    code = "\n".join("".join(cell["source"]) for cell in nb["cells"][2:] if cell["cell_type"] == "code")
    return re.search(r'"gpu"\s*:\s*dict\(', code) is not None


def notebooks(root: pathlib.Path = ROOT) -> list[pathlib.Path]:
    return sorted(p for p in (root / "lessons").glob("*.ipynb"))


def store_results(path: pathlib.Path, results: dict) -> None:
    """Write a results file of a ``tools/`` sweep atomically: a run that is interrupted leaves
    the previous file whole, never a half-written one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(results, indent=1))
    tmp.replace(path)


def sweep_parser(doc: str, out: pathlib.Path, *, workers: bool = False) -> argparse.ArgumentParser:
    """The arguments every ``tools/`` sweep takes: ``--seeds`` (0 1 2), ``--out`` (``out``: runs
    already in it are skipped) and, with ``workers``, ``--workers`` (processes, one thread each).
    ``doc`` is the script's docstring; its first line describes the script."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", default=str(out), help="results file (runs already in it are skipped)")
    if workers:
        parser.add_argument("--workers", type=int, default=1)
    return parser


def run_sweep(out: pathlib.Path, jobs: list[dict], run, *, command: str, order, workers: int = 1,
              describe=None) -> dict:
    """Run the ``jobs`` of a ``tools/`` sweep that are not yet in ``out`` and store each record as
    it arrives (atomically, sorted by ``order(record)``).

    A job is a dict of keyword arguments of ``run``; a job is done when a stored record holds the
    same values under the same keys. ``workers`` > 1 runs jobs in that many processes, each on
    one thread (the results are the same as one process's; the seconds are not), and each record
    is stored as soon as its job finishes, so stopping the sweep loses only the running jobs. ``describe``
    turns a record into the line printed for it."""
    from concurrent.futures import ProcessPoolExecutor, as_completed

    results = json.loads(out.read_text()) if out.exists() else {"runs": []}
    todo = [job for job in jobs if not any(all(r.get(k) == v for k, v in job.items()) for r in results["runs"])]

    def keep(record: dict) -> None:
        results["runs"].append(record)
        results["runs"].sort(key=order)
        results["command"] = command
        store_results(out, results)
        print(describe(record) if describe else record, flush=True)

    if workers <= 1:
        for job in todo:
            keep(run(**job))
    else:
        with ProcessPoolExecutor(workers, initializer=_one_thread) as pool:
            for record in as_completed([pool.submit(run, **job) for job in todo]):  # stored as each finishes
                keep(record.result())
    return results


def _one_thread() -> None:
    from nnanatomy import runtime

    runtime.fix_threads(1)
