"""Run chapter 07's sweep: the dense GPT and the MoE-GPT's routing choices, for several seeds,
and store the results.

    .venv/bin/python tools/moe_sweep.py --seeds 0 1 2

writes ``code/nnanatomy/results/moe_sweep.json`` (shipped with the package): one record of
``nnanatomy.experiments.moe.run`` per arm and seed, each with its learning curve in steps and in
training seconds. After the dense and top-2 MoE runs of every seed, the dense model runs again
for as many steps as fit into the MoE's mean training time (``seconds_ratio`` × its steps): the
equal-wall-clock comparison. Seconds are this machine's, single-threaded; run the sweep on a
quiet machine (one process) — another process on the same cores changes them. About twenty
minutes on a 2-core CPU. Runs already in the file are skipped.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from course import ROOT, store_results, sweep_parser

from nnanatomy import runtime  # noqa: E402
from nnanatomy.experiments import moe  # noqa: E402

OUT = ROOT / "code" / "nnanatomy" / moe.RESULTS


def _load(out: Path) -> dict:
    return json.loads(out.read_text()) if out.exists() else {"runs": []}


def _have(results: dict, label: str, seed: int) -> bool:
    return any((r["label"], r["seed"]) == (label, seed) for r in results["runs"])


def _store(out: Path, results: dict, record: dict) -> None:
    results["runs"].append(record)
    results["runs"].sort(key=lambda r: (r["label"], r["seed"]))
    results["command"] = "python tools/moe_sweep.py  # runs already in the file are skipped"
    results["threads"] = 1
    store_results(out, results)
    print(f"{record['label']:18s} seed {record['seed']}: {record['steps']} steps, test cross-entropy "
          f"{record['final_test']:.4f}, {record['seconds']:.1f} s of training", flush=True)


def main(argv: list[str]) -> int:
    parser = sweep_parser(__doc__, OUT)
    args = parser.parse_args(argv)
    runtime.fix_threads(1)
    out = Path(args.out)
    for seed in args.seeds:
        for arm in moe.ARMS:
            results = _load(out)
            if not _have(results, arm, seed):
                _store(out, results, {"label": arm, **moe.run(arm, seed)})
    results = _load(out)
    seconds = {arm: np.mean([r["seconds"] for r in results["runs"] if r["label"] == arm]) for arm in ("dense", "moe")}
    if "seconds_ratio" not in results:  # fixed once, so that later runs extend the same comparison
        results["seconds_ratio"] = round(float(seconds["moe"] / seconds["dense"]), 3)
        store_results(out, results)
    base = next(r["steps"] for r in results["runs"] if r["label"] == "dense")
    steps = round(base * results["seconds_ratio"])
    for seed in args.seeds:
        results = _load(out)
        if not _have(results, "dense-equal-time", seed):
            _store(out, results, {"label": "dense-equal-time", **moe.run("dense", seed, steps=steps)})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
