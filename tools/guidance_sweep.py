"""Run chapter 10's guidance sweep: the caption-conditioned U-Net sampled by the chapter's
sampler and its repairs at several guidance weights, for several sampling seeds, and store how
often the judge agrees with the caption.

    .venv/bin/python tools/guidance_sweep.py --workers 2

writes ``code/nnanatomy/results/guidance_sweep.json`` (shipped with the package): one record of
``nnanatomy.experiments.guidance.run`` per arm, weight and seed. The 50-step arms take a few
seconds a run, the ancestral arm (1,000 steps, two network calls each when guided) about a minute;
about ten minutes with two workers on a 2-core CPU. Runs already in the file are skipped.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from course import ROOT, run_sweep

from nnanatomy import runtime  # noqa: E402
from nnanatomy.experiments import guidance as experiment  # noqa: E402

OUT = ROOT / "code" / "nnanatomy" / experiment.RESULTS
_SHARED: dict = {}


def _run(arm: str, guidance: float, seed: int) -> dict:
    if not _SHARED:  # the model and the judge, built once per process
        _SHARED.update(experiment.setup())
    return experiment.run(arm, guidance, seed, shared=_SHARED)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", default=str(OUT), help="results file (runs already in it are skipped)")
    args = parser.parse_args(argv)
    runtime.fix_threads(1)
    arms = list(experiment.ARMS)
    jobs = [{"arm": arm, "guidance": w, "seed": seed} for arm in sorted(arms, key=lambda a: a != "ancestral")
            for w in experiment.WEIGHTS for seed in args.seeds]
    run_sweep(Path(args.out), jobs, _run, workers=args.workers,
              command="python tools/guidance_sweep.py --workers 2  # runs already in the file are skipped",
              order=lambda r: (arms.index(r["arm"]), r["guidance"], r["seed"]),
              describe=lambda r: (f"{r['arm']:14s} w = {r['guidance']:3.1f} seed {r['seed']}: agreement {r['agreement']:.1%}, "
                                  f"confident {r['confident']:.1%}, outside [-1, 1] {r['out_of_range']:.1%} ({r['seconds']:.0f} s)"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
