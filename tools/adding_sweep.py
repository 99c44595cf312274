"""Run chapter 04's sweep: the RNN, the GRU and the LSTM on the adding problem, the LSTM also
with its forget-gate bias set to 0, 1 and 3, for several seeds, and store the results.

    .venv/bin/python tools/adding_sweep.py --seeds 0 1 2

writes ``code/nnanatomy/results/adding_sweep.json`` (shipped with the package): one record of
``nnanatomy.experiments.adding.run`` per configuration and seed. The chapter plots the file; its
live seed-0 runs of the three default cells are the stored seed-0 records (compared there).
Every run is single-threaded on the CPU; about four minutes in all on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from course import ROOT, store_results

from nnanatomy import runtime  # noqa: E402
from nnanatomy.experiments import adding  # noqa: E402

OUT = ROOT / "code" / "nnanatomy" / adding.RESULTS
CONFIGS = [("rnn", None), ("gru", None), ("lstm", None), ("lstm", 0.0), ("lstm", 1.0), ("lstm", 3.0)]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", default=str(OUT), help="results file (runs already in it are skipped)")
    args = parser.parse_args(argv)
    runtime.fix_threads(1)
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {"runs": []}
    done = {(r["cell"], r["forget_bias"], r["seed"]) for r in results["runs"]}
    for seed in args.seeds:
        for cell, bias in CONFIGS:
            if (cell, bias, seed) in done:
                continue
            record = adding.run(cell, seed, forget_bias=bias)
            results["runs"].append(record)
            results["command"] = "python tools/adding_sweep.py  # runs already in the file are skipped"
            store_results(out, results)
            print(f"{cell:4s} b_f {str(bias):4s} seed {seed}: final test MSE {record['final_test_mse']:.2e}, "
                  f"solved after {record['steps_to_solve']} steps ({record['seconds']:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
