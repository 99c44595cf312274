"""Execute every notebook on a GPU, at both scales, and write a report.

    .venv/bin/python tools/gpu_check.py                       # every notebook, cuda, scales cpu and gpu
    .venv/bin/python tools/gpu_check.py --scales cpu 06_gpt   # one notebook, one scale
    make gpu-check                                            # the same as the first line

The committed outputs were made on a CPU, so nothing is compared with them here: each notebook
runs from top to bottom on the device (``NNANATOMY_DEVICE``) and scale (``NNANATOMY_SCALE``)
given, and its own asserts are the test — a failed assert, or any error, fails the notebook.
The report (``tools/reports/gpu_check-<device>-<date>.md`` and ``.json``) lists, per notebook
and scale: pass or fail (with the error), wall time, peak GPU memory, and the lines printed by
the cells that assert (the numbers the chapter's claims rest on).

``--device cpu`` runs the same check on a CPU (a dry run of the tool; the ``gpu`` scale there
takes hours). Commit the report of a real GPU run under ``tools/reports/``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import re
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

from course import ROOT, notebooks

PEAK_MARKER = "GPU_CHECK_PEAK "
PEAK_CELL = f"""
import json as _json, torch as _torch
_peak = {{"cuda": _torch.cuda.max_memory_allocated() if _torch.cuda.is_available() else None,
          "device_name": _torch.cuda.get_device_name() if _torch.cuda.is_available() else None}}
print("{PEAK_MARKER}" + _json.dumps(_peak))
"""
ASSERT = re.compile(r"^\s*assert\b", re.M)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _text(outputs: list) -> str:
    parts = []
    for out in outputs:
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif "data" in out and "text/plain" in out["data"]:
            parts.append(out["data"]["text/plain"])
    return "".join(parts)


def _where_it_failed(nb, exc: BaseException) -> str:
    """The failing cell (0-based position in the committed notebook) and its error and line."""
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.get("output_type") == "error":
                arrows = [m.group(1) for tb in out.get("traceback", [])
                          for m in re.finditer(r"-+>\s*\d+\s+(.*)", ANSI.sub("", tb))]
                evalue = ANSI.sub("", str(out.get("evalue", "")))[:300]
                return (f"cell {i + 1}: {out.get('ename')}: {evalue}"
                        + (f" [at: {arrows[-1].strip()[:200]}]" if arrows else ""))
    text = ANSI.sub("", str(exc)).strip()
    return text.splitlines()[-1][:500] if text else type(exc).__name__


def run_one(path: pathlib.Path, device: str, scale: str, timeout: int) -> dict:
    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for i, c in enumerate(nb.cells) if i != 1]  # the Colab install cell: the package is installed here
    nb.cells.append(nbformat.v4.new_code_cell(PEAK_CELL))
    saved = dict(os.environ)
    os.environ.update({"NNANATOMY_DEVICE": device, "NNANATOMY_SCALE": scale, "NNANATOMY_PROGRESS": "0",
                       "PYDEVD_DISABLE_FILE_VALIDATION": "1"})
    os.environ.pop("MPLBACKEND", None)
    result = {"notebook": path.stem, "device": device, "scale": scale, "passed": False, "error": None}
    start = time.perf_counter()
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
        result["passed"] = True
    except (CellExecutionError, CellTimeoutError, DeadKernelError, RuntimeError, AssertionError) as exc:
        # DeadKernelError: the kernel was killed (out of memory, typically); the next notebook still runs
        result["error"] = _where_it_failed(nb, exc)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    result["seconds"] = round(time.perf_counter() - start, 1)
    asserted = []
    for cell in nb.cells:
        if cell.cell_type == "code" and ASSERT.search(cell.source):
            text = _text(cell.get("outputs", [])).strip()
            if text:
                asserted.append(text)
    result["asserted_output"] = asserted
    peak = _text(nb.cells[-1].get("outputs", []))
    if PEAK_MARKER in peak:
        info = json.loads(peak.split(PEAK_MARKER, 1)[1].splitlines()[0])
        result["peak_gpu_mib"] = None if info["cuda"] is None else round(info["cuda"] / 2**20, 1)
        result["device_name"] = info["device_name"]
    return result


def write_report(results: list[dict], device: str, out_dir: pathlib.Path) -> pathlib.Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.date.today().isoformat()
    base = out_dir / f"gpu_check-{device}-{stamp}"
    if base.with_suffix(".json").exists():  # a rerun of some notebooks the same day replaces their rows, keeps the rest
        rerun = {(r["notebook"], r["scale"]) for r in results}
        earlier = json.loads(base.with_suffix(".json").read_text(encoding="utf-8"))["results"]
        results = [r for r in earlier if (r["notebook"], r["scale"]) not in rerun] + list(results)
        results.sort(key=lambda r: (r["scale"], r["notebook"]))
    names = sorted({r.get("device_name") for r in results if r.get("device_name")})
    header = {"date": stamp, "device": device, "device_names": names, "python": platform.python_version(),
              "torch": __import__("torch").__version__, "results": results}
    base.with_suffix(".json").write_text(json.dumps(header, indent=1) + "\n", encoding="utf-8")
    lines = [f"# GPU check, {stamp}", "",
             f"Device: {device} ({', '.join(names) or 'no CUDA device'}); PyTorch {header['torch']}, Python {header['python']}.",
             "Made by `tools/gpu_check.py`: every notebook executed top to bottom, its asserts are the test."]
    if device != "cuda":
        lines += [f"A dry run on {device.upper()}: it checks that the asserts hold with the configurations of the scales "
                  "run, not how the notebooks behave on a GPU (wall times are this machine's, one thread per notebook)."]
    lines += ["",
              "| notebook | scale | result | wall time | peak GPU memory |", "|---|---|---|---:|---:|"]
    for r in results:
        peak = "–" if r.get("peak_gpu_mib") is None else f"{r['peak_gpu_mib']:.0f} MiB"
        verdict = "pass" if r["passed"] else f"FAIL: {r['error']}".replace("|", "\\|")  # a table cell
        lines.append(f"| {r['notebook']} | {r['scale']} | {verdict} | {r['seconds']:.0f} s | {peak} |")
    lines += ["", "## What the asserting cells printed", ""]
    for r in results:
        lines += [f"### {r['notebook']} ({r['scale']} scale)", "", "```text", *("\n".join(r["asserted_output"]) or "(nothing printed)").splitlines(),
                  "```", ""]
    base.with_suffix(".md").write_text("\n".join(lines), encoding="utf-8")
    return base.with_suffix(".md")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("only", nargs="*", help="notebook stems (default: all)")
    parser.add_argument("--device", default="cuda", choices=("cuda", "mps", "cpu"))
    parser.add_argument("--scales", nargs="+", default=["cpu", "gpu"], choices=("cpu", "gpu"))
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    parser.add_argument("--out", default=str(ROOT / "tools" / "reports"))
    args = parser.parse_args(argv)
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print("no CUDA device here: run on a GPU machine, or pass --device cpu for a dry run", file=sys.stderr)
        return 2
    paths = notebooks()
    if args.only:
        unknown = set(args.only) - {p.stem for p in paths}
        if unknown:
            parser.error(f"unknown notebooks {sorted(unknown)}")
        paths = [p for p in paths if p.stem in args.only]
    results = []
    for scale in args.scales:
        for path in paths:
            result = run_one(path, args.device, scale, args.timeout)
            results.append(result)
            print(f"{path.stem:22s} {scale}: {'pass' if result['passed'] else 'FAIL'} in {result['seconds']:.0f} s"
                  + ("" if result.get("peak_gpu_mib") is None else f", peak {result['peak_gpu_mib']:.0f} MiB")
                  + ("" if result["passed"] else f" — {result['error']}"), flush=True)
    report = write_report(results, args.device, pathlib.Path(args.out))
    failed = sum(not r["passed"] for r in results)
    print(f"{len(results) - failed} of {len(results)} passed; report: {report.relative_to(ROOT) if report.is_relative_to(ROOT) else report}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
