"""Run chapter 09's sweep: the U-Net with and without skip connections (at its own width and
widened to as many parameters), and with the Dice loss, for several seeds and training lengths,
and store the results.

    .venv/bin/python tools/unet_sweep.py --workers 2

writes ``code/nnanatomy/results/unet_sweep.json`` (shipped with the package): one record of
``nnanatomy.experiments.segmentation.run`` per arm, seed and number of epochs — every arm at
the chapter's 6 epochs and at 20 for seeds 0–2, and seed 0 of the two arms without skips at 40
epochs, of the parameter-matched one at 80 as well (did 20 epochs converge?). Single-threaded per
process; about an hour with two workers on a 2-core CPU. Runs already in the file are skipped.
"""

from __future__ import annotations

import sys
from pathlib import Path

from course import ROOT, run_sweep, sweep_parser

from nnanatomy import runtime  # noqa: E402
from nnanatomy.experiments import segmentation  # noqa: E402

OUT = ROOT / "code" / "nnanatomy" / segmentation.RESULTS


def main(argv: list[str]) -> int:
    parser = sweep_parser(__doc__, OUT, workers=True)
    parser.add_argument("--epochs", type=int, nargs="+", default=[6, 20])
    parser.add_argument("--long", type=int, nargs="*", default=[40, 80],
                        help="epochs of the convergence check: seed 0 of no-skips-wide at each, of no-skips at the first")
    args = parser.parse_args(argv)
    runtime.fix_threads(1)
    jobs = [{"arm": arm, "seed": seed, "epochs": epochs}
            for epochs in sorted(args.epochs, reverse=True) for seed in args.seeds for arm in segmentation.ARMS]
    jobs[:0] = ([{"arm": "no-skips-wide", "seed": 0, "epochs": epochs} for epochs in sorted(args.long, reverse=True)]
                + [{"arm": "no-skips", "seed": 0, "epochs": epochs} for epochs in sorted(args.long)[:1]])
    arms = list(segmentation.ARMS)
    run_sweep(Path(args.out), jobs, segmentation.run, workers=args.workers,
              command="python tools/unet_sweep.py --workers 2  # runs already in the file are skipped",
              order=lambda r: (r["epochs"], arms.index(r["arm"]), r["seed"]),
              describe=lambda r: (f"{r['arm']:14s} seed {r['seed']} {r['epochs']:2d} epochs: mean IoU {r['final_miou']:.4f}, "
                                  f"outlines {r['outline_accuracy']:.2%} ({r['seconds']:.0f} s)"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
