"""Run appendix A3's sweep: the three tournaments for three seeds, and the CNN and the ViT on
training sets of 100 to 1,347 digits for three seeds, and store the results.

    .venv/bin/python tools/lab_sweep.py --workers 2

writes ``code/nnanatomy/results/lab_sweep.json`` (shipped with the package): records of
``nnanatomy.experiments.lab.run`` (one per tournament and seed) and of ``data_size_run`` (one per
model, size and seed). Single-threaded per process; about six minutes with two workers on a
2-core CPU. Runs already in the file are skipped.
"""

from __future__ import annotations

import sys
from pathlib import Path

from course import ROOT, run_sweep, sweep_parser

from nnanatomy import runtime  # noqa: E402
from nnanatomy.experiments import lab  # noqa: E402

OUT = ROOT / "code" / "nnanatomy" / lab.RESULTS


def _run(**job):
    return lab.run(**job) if "tournament" in job else lab.data_size_run(**job)


def _order(record: dict) -> tuple:
    if "tournament" in record:
        return (0, lab.TOURNAMENTS.index(record["tournament"]), 0, record["seed"])
    return (1, record["model"], record["size"], record["seed"])


def _describe(record: dict) -> str:
    if "tournament" in record:
        return f"{record['tournament']:10s} seed {record['seed']}: " + ", ".join(
            f"{e['name']} {e['metric']:.4f}" for e in record["entries"])
    return (f"{record['model']:4s} {record['size']:5d} images seed {record['seed']}: test accuracy "
            f"{record['test_accuracy']:.4f} ({record['seconds']:.0f} s)")


def main(argv: list[str]) -> int:
    parser = sweep_parser(__doc__, OUT, workers=True)
    args = parser.parse_args(argv)
    runtime.fix_threads(1)
    jobs = [{"model": "vit", "size": size, "seed": seed} for size in reversed(lab.RECIPE["data_size"]["sizes"]) for seed in args.seeds]
    jobs += [{"tournament": name, "seed": seed} for name in lab.TOURNAMENTS for seed in args.seeds]
    jobs += [{"model": "cnn", "size": size, "seed": seed} for size in lab.RECIPE["data_size"]["sizes"] for seed in args.seeds]
    run_sweep(Path(args.out), jobs, _run, workers=args.workers, order=_order, describe=_describe,
              command="python tools/lab_sweep.py --workers 2  # runs already in the file are skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
