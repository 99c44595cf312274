"""Install the course the way Colab does, and check that its notebooks run there.

    .venv/bin/python tools/colab_check.py                  # what `make colab-check` and CI run
    .venv/bin/python tools/colab_check.py --keep           # keep _build/colab for a look

Colab has PyTorch, Jupyter's kernel and ipywidgets 7 preinstalled, and a notebook opened there
is alone in an empty folder: the package comes only from the notebook's install cell, which pip
installs (non-editable) from the repository. This tool rebuilds that situation here:

1. a fresh virtual environment with Colab's preinstalled set (the PyTorch build given by
   ``--torch``, ipykernel, nbclient, ``ipywidgets==7.7.1``) and a clone of the repository's
   committed HEAD — the install cell's ``git+https://…@main`` becomes that clone, since
   nothing else can be reached from CI;
2. (b) executes a few notebooks, each copied alone into an empty folder, *with* their install
   cell: the first one installs the package into the empty environment, the appendix A1 one adds
   its ``compare`` extra. Outputs are not compared (another environment), the notebooks' own
   asserts run. ipywidgets must still be 7.7.1 afterwards (no forced upgrade);
3. (a) checks that every notebook's imports resolve with what its install cell installs: the
   notebooks without extras right after the base install, the others after theirs;
4. (c) checks that every checkpoint and stored result of the source tree is inside the
   installed package, byte for byte, and that the package was not installed editable.

Exit status 0 when everything holds; the report lists each check.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time

TOOLS = pathlib.Path(__file__).resolve().parent
ROOT = TOOLS.parent
EXECUTE = ("03_rnn", "a1_anatomy", "02_cnn")  # base install first, then the extra, then widgets on ipywidgets 7
COLAB_PREINSTALLED = ("ipykernel", "nbclient>=0.9", "nbformat>=5.9", "ipywidgets==7.7.1")
PACKAGE_DATA = ("checkpoints/*.pt", "results/*.json")
KERNEL = "nnanatomy-colab"  # installed into the environment itself: no kernel of another Python is picked up
VERSIONS = "import ipywidgets, torch; print(ipywidgets.__version__, torch.__version__)"


# --------------------------------------------------------------------------------------------
# Inside the Colab-like environment (run by its own Python: no yaml, no course package)


def _notebook_imports(path: pathlib.Path) -> set[str]:
    """Top-level module names the notebook's code cells import (magics and shell lines skipped)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    modules: set[str] = set()
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        lines = [line[: len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("%", "!")) else line
                 for line in "".join(cell["source"]).splitlines()]  # a magic becomes a statement that imports nothing
        tree = ast.parse("\n".join(lines))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return modules


def _inside_check_imports(paths: list[str]) -> int:
    import importlib.util

    missing = {}
    for path in paths:
        absent = sorted(m for m in _notebook_imports(pathlib.Path(path)) if importlib.util.find_spec(m) is None)
        if absent:
            missing[pathlib.Path(path).name] = absent
    print(json.dumps(missing))
    return 0


def _inside_execute(path: str) -> int:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name=KERNEL, resources={"metadata": {"path": str(pathlib.Path(path).parent)}}).execute()
    print(f"{pathlib.Path(path).name}: executed in {time.perf_counter() - start:.1f} s")
    return 0


def _inside_package_data(source: str) -> int:
    import importlib.metadata

    import nnanatomy

    installed = pathlib.Path(nnanatomy.__file__).parent
    source_pkg = pathlib.Path(source) / "code" / "nnanatomy"
    report = {"installed_at": str(installed), "editable": source_pkg.resolve() == installed.resolve(),
              "missing": [], "different": [], "files": 0}
    direct_url = importlib.metadata.distribution("nnanatomy").read_text("direct_url.json") or "{}"
    report["editable"] = report["editable"] or json.loads(direct_url).get("dir_info", {}).get("editable", False)
    for pattern in PACKAGE_DATA:
        for file in sorted(source_pkg.glob(pattern)):
            rel = file.relative_to(source_pkg).as_posix()
            report["files"] += 1
            copy = installed / rel
            if not copy.is_file():
                report["missing"].append(rel)
            elif hashlib.sha256(copy.read_bytes()).digest() != hashlib.sha256(file.read_bytes()).digest():
                report["different"].append(rel)
    print(json.dumps(report))
    return 0


# --------------------------------------------------------------------------------------------
# Outside: build the environment, drive the checks, report


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, text=True, **kw)


def _inside(python: pathlib.Path, *args: str, cwd: pathlib.Path, env: dict) -> str:
    out = subprocess.run([str(python), str(TOOLS / "colab_check.py"), *args], cwd=cwd, env=env, text=True,
                         capture_output=True)
    if out.returncode:
        raise RuntimeError(f"{' '.join(args[:2])} failed:\n{out.stdout[-3000:]}\n{out.stderr[-6000:]}")
    return out.stdout


def _local_install_cell(source: str, clone: pathlib.Path) -> str:
    """The install cell with its ``git+https://…@branch`` reference pointed at the local clone."""
    new, count = re.subn(r'"(nnanatomy(?:\[[^\]]*\])?) @ git\+[^"]*"', lambda m: f'"{m.group(1)} @ {clone.as_uri()}"', source)
    if count != 1:
        raise ValueError(f"the install cell should hold one nnanatomy @ git+… requirement, found {count}")
    return new


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--torch", default="torch==2.13.0", help="the PyTorch Colab has preinstalled (pip requirement)")
    parser.add_argument("--workdir", default=str(ROOT / "_build" / "colab"))
    parser.add_argument("--keep", action="store_true", help="keep the work folder afterwards")
    parser.add_argument("--inside", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inside:
        what, rest = args.inside[0], args.inside[1:]
        return {"imports": lambda: _inside_check_imports(rest), "execute": lambda: _inside_execute(rest[0]),
                "package-data": lambda: _inside_package_data(rest[0])}[what]()

    sys.path.insert(0, str(TOOLS))
    from course import EXTRAS, notebooks

    work = pathlib.Path(args.workdir).resolve()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    started = time.perf_counter()
    results: list[tuple[str, bool, str]] = []

    def record(name: str, ok: bool, detail: str) -> None:
        results.append((name, ok, detail))
        print(f"[{'ok' if ok else 'FAIL'}] {name}: {detail}", flush=True)

    clone = work / "clone"
    _run(["git", "clone", "--quiet", str(ROOT), str(clone)])
    venv = work / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    _run(pip + [args.torch])
    _run(pip + list(COLAB_PREINSTALLED))
    _run([str(python), "-m", "ipykernel", "install", "--prefix", str(venv), "--name", KERNEL], capture_output=True)
    preinstalled = subprocess.run([str(python), "-c", VERSIONS], capture_output=True, text=True, check=True).stdout.split()
    record("Colab's preinstalled set", True, f"{args.torch}, {', '.join(COLAB_PREINSTALLED)} ({time.perf_counter() - started:.0f} s)")

    env = {k: v for k, v in os.environ.items() if not k.startswith(("NNANATOMY_", "PYTHON", "VIRTUAL_ENV", "MPLBACKEND"))}
    env.update({"PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    all_notebooks = {p.stem: p for p in notebooks(clone)}
    plain = [str(p) for stem, p in all_notebooks.items() if not EXTRAS.get(stem)]

    for i, stem in enumerate(EXECUTE):
        folder = work / f"empty-{stem}"
        folder.mkdir()
        nb = json.loads(all_notebooks[stem].read_text(encoding="utf-8"))
        install = nb["cells"][1]
        install["source"] = _local_install_cell("".join(install["source"]), clone)
        target = folder / f"{stem}.ipynb"
        target.write_text(json.dumps(nb), encoding="utf-8")
        try:
            line = _inside(python, "--inside", "execute", str(target), cwd=folder, env=env).strip().splitlines()[-1]
            record(f"(b) {stem} alone in an empty folder, with its install cell", True, line)
        except RuntimeError as exc:
            record(f"(b) {stem} alone in an empty folder, with its install cell", False, str(exc))
            continue
        if i == 0:  # the base install is in: the notebooks without extras must import with it alone
            missing = json.loads(_inside(python, "--inside", "imports", *plain, cwd=work, env=env))
            record(f"(a) imports of the {len(plain)} notebooks without extras, base install", not missing,
                   "all resolve" if not missing else json.dumps(missing))
        if EXTRAS.get(stem):
            missing = json.loads(_inside(python, "--inside", "imports", str(all_notebooks[stem]), cwd=work, env=env))
            record(f"(a) imports of {stem} with its extras {list(EXTRAS[stem])}", not missing,
                   "all resolve" if not missing else json.dumps(missing))
    unexecuted_extras = [stem for stem in EXTRAS if stem not in EXECUTE]
    if unexecuted_extras:
        record("(a) notebooks with extras are executed here", False, f"add them to EXECUTE: {unexecuted_extras}")

    versions = subprocess.run([str(python), "-c", VERSIONS], capture_output=True, text=True, env=env, cwd=work).stdout.split()
    record("no forced upgrade of Colab's preinstalled packages", versions == preinstalled,
           f"ipywidgets and torch before {preinstalled}, after {versions}")

    data = json.loads(_inside(python, "--inside", "package-data", str(clone), cwd=work, env=env))
    record("(c) checkpoints and stored results inside the installed package",
           data["files"] > 0 and not data["missing"] and not data["different"] and not data["editable"],
           f"{data['files']} files checked, missing {data['missing']}, different {data['different']}, "
           f"editable install: {data['editable']}")

    failed = [name for name, ok, _ in results if not ok]
    print(f"Colab-like check: {len(results) - len(failed)} of {len(results)} passed in {time.perf_counter() - started:.0f} s")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
