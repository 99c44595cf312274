"""Run chapter 04's stacked-vs-bidirectional sweep: the four LSTM taggers of
``nnanatomy.experiments.lookahead`` for several seeds, and store the results.

    .venv/bin/python tools/lookahead_sweep.py --seeds 0 1 2

writes ``code/nnanatomy/results/lookahead_sweep.json`` (shipped with the package): one record of
``lookahead.run`` per arm and seed. Single-threaded on the CPU, 2–6 s a run, under a minute in
all. Runs already in the file are skipped.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from course import ROOT, store_results

from nnanatomy import runtime  # noqa: E402
from nnanatomy.experiments import lookahead  # noqa: E402

OUT = ROOT / "code" / "nnanatomy" / lookahead.RESULTS


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", default=str(OUT), help="results file (runs already in it are skipped)")
    args = parser.parse_args(argv)
    runtime.fix_threads(1)
    out = Path(args.out)
    for seed in args.seeds:
        for arm in lookahead.ARMS:
            results = json.loads(out.read_text()) if out.exists() else {"runs": []}
            if any((r["arm"], r["seed"]) == (arm, seed) for r in results["runs"]):
                continue
            record = lookahead.run(arm, seed)
            results["runs"].append(record)
            results["runs"].sort(key=lambda r: (list(lookahead.ARMS).index(r["arm"]), r["seed"]))
            results["command"] = "python tools/lookahead_sweep.py  # runs already in the file are skipped"
            store_results(out, results)
            print(f"{arm:22s} seed {seed}: test accuracy by epoch {record['test_accuracy']} ({record['seconds']:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
