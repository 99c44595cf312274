"""Run chapter 04's sweep: the RNN, the GRU and the LSTM on the adding problem, the LSTM also
with its forget-gate bias set to 0, 1 and 3, for several seeds, and store the results.

    .venv/bin/python tools/adding_sweep.py --seeds 0 1 2

writes ``code/nnanatomy/results/adding_sweep.json`` (shipped with the package): one record of
``nnanatomy.experiments.adding.run`` per configuration and seed. The chapter plots the file; its
live seed-0 runs of the three default cells are the stored seed-0 records (compared there).
Every run is single-threaded on the CPU; about four minutes in all on a 2-core CPU.
"""

from __future__ import annotations

import sys
from pathlib import Path

from course import ROOT, run_sweep, sweep_parser

from nnanatomy import runtime  # noqa: E402
from nnanatomy.experiments import adding  # noqa: E402

OUT = ROOT / "code" / "nnanatomy" / adding.RESULTS
CONFIGS = [("rnn", None), ("gru", None), ("lstm", None), ("lstm", 0.0), ("lstm", 1.0), ("lstm", 3.0)]


def main(argv: list[str]) -> int:
    parser = sweep_parser(__doc__, OUT)
    args = parser.parse_args(argv)
    runtime.fix_threads(1)
    jobs = [{"cell": cell, "seed": seed, "forget_bias": bias} for seed in args.seeds for cell, bias in CONFIGS]
    run_sweep(Path(args.out), jobs, adding.run, command="python tools/adding_sweep.py  # runs already in the file are skipped",
              order=lambda r: (r["seed"], CONFIGS.index((r["cell"], r["forget_bias"]))),
              describe=lambda r: (f"{r['cell']:4s} b_f {str(r['forget_bias']):4s} seed {r['seed']}: final test MSE "
                                  f"{r['final_test_mse']:.2e}, solved after {r['steps_to_solve']} steps ({r['seconds']:.0f} s)"))
    return 0

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
