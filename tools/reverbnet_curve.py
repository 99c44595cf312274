"""Run chapter 13's learning curve and KL sweep, outside the memorisation regime of the ablation.

    .venv/bin/python tools/reverbnet_curve.py --workers 2

writes ``code/nnanatomy/results/reverbnet_curve.json`` (shipped with the package): records of
``nnanatomy.experiments.reverbnet.curve_run``. Every run trains on the first n of 16,000
sequences, keeps the weights of its best round on a validation split (early stopping), and
reports the error of those weights on a test split. Jobs, cheapest first:

1. the GRU, the Transformer and the MLP at 1k / 4k / 16k sequences, weight decay 0.1, lr 1e-3;
2. the GRU and the Transformer at 16k with lr 3e-4 (the control for the learning rate);
3. ReverbNet at 1k with the KL weights 1e-3 (the source's), 0, 1e-5 and 1e-4;
4. the baselines again without weight decay (the control for it);
5. ReverbNet at 4k and 16k (about 0.7 s a step on one thread: 30 to 90 minutes a run).

Single-threaded per process; runs already in the file are skipped, so the sweep can be stopped
and resumed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from course import ROOT, run_sweep, sweep_parser

from nnanatomy import runtime  # noqa: E402
from nnanatomy.experiments import reverbnet  # noqa: E402

OUT = ROOT / "code" / "nnanatomy" / reverbnet.CURVE_RESULTS
CURVE = reverbnet.CURVE
BASELINES = ("gru", "transformer", "mlp")


def _order(r: dict) -> tuple:
    return (CURVE["models"].index(r["config"]), r["n_train"], -r["weight_decay"], -r["lr"], r["kl_weight"], r["seed"])


def jobs_for(seeds: list[int]) -> list[dict]:
    """The sweep's jobs (keyword arguments of ``curve_run``), in the order they run."""
    wd, lr, big = CURVE["weight_decay"], reverbnet.LR, CURVE["sizes"][-1]
    jobs = [{"config": m, "n_train": n, "seed": s, "kl_weight": 0.0, "weight_decay": wd, "lr": lr}
            for n in CURVE["sizes"] for s in seeds for m in BASELINES]
    jobs += [{"config": m, "n_train": big, "seed": s, "kl_weight": 0.0, "weight_decay": wd, "lr": 3e-4}
             for s in seeds for m in ("gru", "transformer")]
    alphas = (1e-3,) + tuple(a for a in CURVE["kl_weights"] if a != 1e-3)
    jobs += [{"config": "reverbnet", "n_train": CURVE["sizes"][0], "seed": s, "kl_weight": a, "weight_decay": wd, "lr": lr}
             for a in alphas for s in seeds]
    jobs += [{"config": m, "n_train": n, "seed": s, "kl_weight": 0.0, "weight_decay": 0.0, "lr": lr}
             for n in CURVE["sizes"] for s in seeds for m in BASELINES]
    jobs += [{"config": "reverbnet", "n_train": n, "seed": s, "kl_weight": 1e-3, "weight_decay": wd, "lr": lr}
             for n in CURVE["sizes"][1:] for s in seeds]
    return jobs


def _run(config: str, **kwargs) -> dict:  # a record names its configuration "config"
    return reverbnet.curve_run(config, **kwargs)


def main(argv: list[str]) -> int:
    parser = sweep_parser(__doc__, OUT, workers=True)
    args = parser.parse_args(argv)
    runtime.fix_threads(1)
    run_sweep(Path(args.out), jobs_for(args.seeds), _run, workers=args.workers, order=_order,
              command="python tools/reverbnet_curve.py --workers 2  # runs already in the file are skipped",
              describe=lambda r: (f"{r['config']:11s} n {r['n_train']:5d} seed {r['seed']} α {r['kl_weight']:g} wd {r['weight_decay']:g} lr {r['lr']:g}: "
                                  f"test {r['test_mse']:.4f} (best round {r['best_round']} of {r['rounds']}, "
                                  f"{r['best_steps']} steps; {r['seconds']:.0f} s)"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
