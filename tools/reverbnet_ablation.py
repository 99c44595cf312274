"""Run chapter 13's ablation: every configuration of ``nnanatomy.experiments.reverbnet`` for
several seeds, on the source's training configuration, and store the results.

    .venv/bin/python tools/reverbnet_ablation.py --seeds 0 1 2

writes ``code/nnanatomy/results/reverbnet_ablation.json`` (shipped with the package) (one record per configuration and seed, with the
per-epoch log). The chapter plots the file and re-runs one configuration live to show that it
reproduces. Every run is single-threaded (bit-for-bit reproducible); about an hour in all.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from course import ROOT, store_results

from nnanatomy.experiments import reverbnet  # noqa: E402

OUT = ROOT / "code" / "nnanatomy" / reverbnet.RESULTS


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--configs", nargs="+", default=list(reverbnet.CONFIGS))
    parser.add_argument("--out", default=str(OUT), help="results file (runs already in it are skipped)")
    parser.add_argument("--device", default="cpu",
                        help="where to train (cpu: the stored results, bit for bit; cuda: faster, last digits differ)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {"runs": []}
    done = {(r["config"], r["seed"]) for r in results["runs"]}
    for name in args.configs:
        for seed in args.seeds:
            if (name, seed) in done:
                continue
            start = time.perf_counter()
            record = reverbnet.run(name, seed, device=args.device)
            if args.device != "cpu":
                record["device"] = args.device  # the stored CPU runs carry no such key
            results["runs"].append(record)
            results["command"] = "python tools/reverbnet_ablation.py  # runs already in the file are skipped"
            store_results(out, results)
            print(f"{name:24s} seed {seed}: eval MSE {record['eval_mse']:.4f} ({time.perf_counter() - start:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
