"""Per-notebook wall time under nbval, one notebook at a time: the benchmark behind the 120 s
budget per notebook and the time of make test.

    make test-times                                   # every notebook
    .venv/bin/python tools/notebook_times.py lessons/06_gpt.ipynb

Each notebook runs alone (no other notebook beside it) as ``make test`` runs it — nbval with the
course's sanitizer, CPU, cpu scale, no progress bars — and the table prints its wall time, the
budget, and whether its outputs matched. The total is what the notebooks cost one after the
other; ``make test`` runs them side by side (``JOBS``), so its wall time is shorter.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from course import ROOT, notebooks

BUDGET_S = 120


def main(argv: list[str]) -> int:
    paths = [ROOT / a for a in argv] if argv else notebooks()
    env = dict(os.environ, NNANATOMY_DEVICE="cpu", NNANATOMY_SCALE="cpu", NNANATOMY_PROGRESS="0")
    rows, total, over = [], 0.0, []
    for path in paths:
        start = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-p", "no:cacheprovider", "--nbval",
                              "--nbval-current-env", "--nbval-sanitize-with", "tests/nbval_sanitize.cfg",
                              "--nbval-cell-timeout=600", str(path.relative_to(ROOT))],
                             cwd=ROOT, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        total += seconds
        verdict = "outputs match" if run.returncode == 0 else "FAILED"
        rows.append((path.stem, seconds, verdict))
        if seconds > BUDGET_S:
            over.append(path.stem)
        print(f"{path.stem:24s} {seconds:6.1f} s  {'over budget' if seconds > BUDGET_S else 'within ' + str(BUDGET_S) + ' s':>15s}  {verdict}",
              flush=True)
    print(f"{'total, one after the other':24s} {total:6.1f} s  ({total / 60:.1f} min, {os.cpu_count()} cores)")
    if over:
        print(f"over the {BUDGET_S} s budget: {', '.join(over)}")
    return 1 if any(v == "FAILED" for *_, v in rows) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
