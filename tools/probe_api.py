"""Probe nnanatomy's public API with bad input and print the outcome counts per module.

    python tools/probe_api.py                 # the table (markdown) and the defects
    python tools/probe_api.py --only train.   # callables whose name starts with a prefix
    python tools/probe_api.py --csv out.csv   # every case

The classes (a clear error, b unhelpful error, c silent, d hang, e state) are defined in
tests/api_contract.py, which tests/test_api_contract.py runs in CI.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# --code DIR probes another copy of the package (e.g. an older commit checked out with git worktree)
_code = sys.argv[sys.argv.index("--code") + 1] if "--code" in sys.argv else str(ROOT / "code")
sys.path[:0] = [str(ROOT / "tests"), _code]

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import api_contract  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="probe only callables whose name starts with this prefix")
    parser.add_argument("--csv", type=Path, help="write every case to this CSV file")
    parser.add_argument("--quiet", action="store_true", help="print the table only, not the defects")
    parser.add_argument("--code", default=None, help="the folder holding the nnanatomy package to probe (default: code/)")
    args = parser.parse_args(argv)
    from api_calls import CALLS

    names = [n for n in CALLS if n.startswith(args.only)]
    start = time.perf_counter()
    cases, missing = api_contract.probe_all(names)
    seconds = time.perf_counter() - start
    table = api_contract.tally(cases)
    keys = ("callables", "cases", "a", "b", "c", "d", "e", "ok", "fixture")
    print("| module | " + " | ".join(keys) + " | defect share |")
    print("|---|" + "---:|" * (len(keys) + 1))
    total = {k: 0 for k in keys}
    for module, row in sorted(table.items()):
        for k in keys:
            total[k] += row[k]
        print(f"| {module} | " + " | ".join(str(row[k]) for k in keys) + f" | {_share(row)} |")
    print("| **all** | " + " | ".join(f"**{total[k]}**" for k in keys) + f" | **{_share(total)}** |")
    print(f"\n{len(names)} callables probed in {seconds:.1f} s; {len(missing)} public callables have neither a valid call nor a reason.")
    if not args.quiet:
        for case in cases:
            if case.outcome not in ("a", "ok"):
                print(f"[{case.outcome}] {case.name}({case.argument} <- {case.mutation}): {case.detail}")
        for name in missing:
            print(f"[missing] {name}")
    if args.csv:
        with args.csv.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["callable", "argument", "mutation", "outcome", "detail"])
            for case in cases:
                writer.writerow([case.name, case.argument, case.mutation, case.outcome, case.detail])
    return 0


def _share(row: dict) -> str:
    bad = row["b"] + row["c"] + row["d"] + row["e"]
    considered = row["cases"] - row["ok"] - row["fixture"]
    return f"{100 * bad / considered:.0f} %" if considered else "–"


if __name__ == "__main__":
    sys.exit(main())
