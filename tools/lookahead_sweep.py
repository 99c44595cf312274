"""Run chapter 04's stacked-vs-bidirectional sweep: the four LSTM taggers of
``nnanatomy.experiments.lookahead`` for several seeds, and store the results.

    .venv/bin/python tools/lookahead_sweep.py --seeds 0 1 2

writes ``code/nnanatomy/results/lookahead_sweep.json`` (shipped with the package): one record of
``lookahead.run`` per arm and seed. Single-threaded on the CPU, 2–6 s a run, under a minute in
all. Runs already in the file are skipped.
"""

from __future__ import annotations

import sys
from pathlib import Path

from course import ROOT, run_sweep, sweep_parser

from nnanatomy import runtime  # noqa: E402
from nnanatomy.experiments import lookahead  # noqa: E402

OUT = ROOT / "code" / "nnanatomy" / lookahead.RESULTS


def main(argv: list[str]) -> int:
    parser = sweep_parser(__doc__, OUT)
    args = parser.parse_args(argv)
    runtime.fix_threads(1)
    arms = list(lookahead.ARMS)
    jobs = [{"arm": arm, "seed": seed} for seed in args.seeds for arm in arms]
    run_sweep(Path(args.out), jobs, lookahead.run, command="python tools/lookahead_sweep.py  # runs already in the file are skipped",
              order=lambda r: (arms.index(r["arm"]), r["seed"]),
              describe=lambda r: f"{r['arm']:22s} seed {r['seed']}: test accuracy by epoch {r['test_accuracy']} ({r['seconds']:.1f} s)")
    return 0

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
