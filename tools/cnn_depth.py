"""Run chapter 02's depth sweep: plain and residual DeepCNNs of several depths on the digits, for
several seeds, and store the results.

    .venv/bin/python tools/cnn_depth.py --blocks 1 2 4 8 16 --seeds 0 1 2

writes ``code/nnanatomy/results/cnn_depth.json`` (shipped with the package): one record of
``nnanatomy.experiments.digits.run_depth`` per configuration and seed. The chapter plots the file
and re-runs one configuration live to show that it reproduces. Every run is single-threaded on
the CPU (bit-for-bit reproducible on one machine); about five minutes in all on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from course import ROOT, store_results

from nnanatomy import runtime  # noqa: E402
from nnanatomy.experiments import digits  # noqa: E402

OUT = ROOT / "code" / "nnanatomy" / digits.DEPTH_RESULTS


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", default=str(OUT), help="results file (runs already in it are skipped)")
    args = parser.parse_args(argv)
    runtime.fix_threads(1)
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {"runs": []}
    done = {(r["blocks"], r["residual"], r["seed"]) for r in results["runs"]}
    for blocks in args.blocks:
        for residual in (False, True):
            for seed in args.seeds:
                if (blocks, residual, seed) in done:
                    continue
                record = digits.run_depth(blocks, residual, seed)
                results["runs"].append(record)
                results["command"] = "python tools/cnn_depth.py  # runs already in the file are skipped"
                store_results(out, results)
                print(f"{blocks:3d} blocks {'residual' if residual else 'plain   '} seed {seed}: training CE {record['train_ce']:.4f}, "
                      f"test accuracy {record['test_accuracy']:.4f} ({record['seconds']:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
