"""Run chapter 11's sweep: the DiT with each of the paper's ways of injecting the condition (and
the source's), and with patches of 1, 2 and 4 pixels, for three seeds, and store the results.

    .venv/bin/python tools/dit_sweep.py --workers 2

writes ``code/nnanatomy/results/dit_sweep.json`` (shipped with the package): one record of
``nnanatomy.experiments.dit.run`` per arm, seed and training length — every arm at the chapter's
250 steps (the held-out loss only) and at ``--long`` steps with its samples judged. Single-threaded
per process; about an hour with two workers on a 2-core CPU. Runs already in the file are skipped.
"""

from __future__ import annotations

import sys
from pathlib import Path

from course import ROOT, run_sweep, sweep_parser

from nnanatomy import runtime  # noqa: E402
from nnanatomy.experiments import dit  # noqa: E402

OUT = ROOT / "code" / "nnanatomy" / dit.RESULTS


def main(argv: list[str]) -> int:
    parser = sweep_parser(__doc__, OUT, workers=True)
    parser.add_argument("--short", type=int, default=dit.RECIPE["steps"], help="steps of the chapter's short runs")
    parser.add_argument("--long", type=int, default=2000, help="steps of the long runs, whose samples are judged")
    args = parser.parse_args(argv)
    runtime.fix_threads(1)
    arms = list(dit.ARMS)
    # the slowest first (64 tokens), so that two workers finish together
    order_of_work = ["patch-1"] + [a for a in arms if a != "patch-1"]
    jobs = [{"arm": arm, "seed": seed, "steps": args.long, "judge": True} for arm in order_of_work for seed in args.seeds]
    jobs += [{"arm": arm, "seed": seed, "steps": args.short, "judge": False} for arm in order_of_work for seed in args.seeds]
    run_sweep(Path(args.out), jobs, dit.run, workers=args.workers,
              command="python tools/dit_sweep.py --workers 2  # runs already in the file are skipped",
              order=lambda r: (r["steps"], arms.index(r["arm"]), r["seed"]),
              describe=lambda r: (f"{r['arm']:15s} seed {r['seed']} {r['steps']:5d} steps: held-out MSE {r['final_mse']:.4f}"
                                  + (f", agreement {r['agreement']:.1%}, FD {r['fd']:.1f}" if r["judge"] else "")
                                  + f" ({r['seconds']:.0f} s)"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
