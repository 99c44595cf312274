"""Run chapter 08's sweep: each encoder (BEST-RQ's Conformer, HuBERT's Transformer) with each kind of
target (random-projection codes, k-means clusters of MFCCs), three seeds each, pre-trained with
the shipped checkpoints' recipe and probed block by block; and both encoders untrained.

    .venv/bin/python tools/speech_sweep.py --workers 2

writes ``code/nnanatomy/results/speech_sweep.json`` (shipped with the package): records of
``nnanatomy.experiments.speech_design.run``. Seed 0 of BEST-RQ and of HuBERT's first iteration is
the shipped checkpoint, probed (``"source": "checkpoint"``), not trained again. Single-threaded per
process; a pre-training run takes 15 to 25 minutes on one core, the whole sweep about two hours
with two workers. Runs already in the file are skipped.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from course import ROOT, run_sweep, sweep_parser

from nnanatomy import runtime  # noqa: E402
from nnanatomy.experiments import speech_design as design  # noqa: E402

OUT = ROOT / "code" / "nnanatomy" / design.RESULTS


def _run(encoder: str, target: str, seed: int, steps: int, source: str = "trained") -> dict:
    if source == "checkpoint":
        from nnanatomy.models.pretrained import load_pretrained

        model, info = load_pretrained(design.CHECKPOINTS[(encoder, target)])
        stats = (torch.tensor(info["feature_mean"]), torch.tensor(info["feature_std"]))
        return {"encoder": encoder, "target": target, "seed": info["seed"], "steps": info["steps"],
                "seconds": info["train_seconds"], "final_loss": float(info["history"].train_loss[-1]) if "history" in info else None,
                "source": "checkpoint", **design.probe(model.encoder, stats)}
    return {**design.run(encoder, target, seed, steps=steps), "source": source}


def _order(r: dict) -> tuple:
    return (r["steps"] > 0, design.ENCODERS.index(r["encoder"]), design.TARGETS.index(r["target"]), r["seed"])


def main(argv: list[str]) -> int:
    parser = sweep_parser(__doc__, OUT, workers=True)
    args = parser.parse_args(argv)
    runtime.fix_threads(1)
    steps = design.speech.PRETRAINING["steps"]
    jobs = []
    for (encoder, target) in design.CHECKPOINTS:  # the shipped checkpoints are seed 0 of their cells
        if 0 in args.seeds:
            jobs.append({"encoder": encoder, "target": target, "seed": 0, "steps": steps, "source": "checkpoint"})
    for encoder, target in (("conformer", "random-projection"), ("transformer", "random-projection")):
        jobs += [{"encoder": encoder, "target": target, "seed": s, "steps": 0, "source": "untrained"} for s in args.seeds]
    cells = [(e, t) for e in design.ENCODERS for t in design.TARGETS]
    for seed in args.seeds:
        for encoder, target in cells:
            if seed == 0 and (encoder, target) in design.CHECKPOINTS:
                continue
            jobs.append({"encoder": encoder, "target": target, "seed": seed, "steps": steps, "source": "trained"})
    jobs.sort(key=lambda j: (j["source"] != "checkpoint", j["steps"] > 0, j["encoder"] != "conformer"))  # long BEST-RQ runs first
    run_sweep(Path(args.out), jobs, _run, workers=args.workers, order=_order,
              command="python tools/speech_sweep.py --workers 2  # runs already in the file are skipped",
              describe=lambda r: (f"{r['encoder']:11s} {r['target']:17s} seed {r['seed']} {r['source']:10s}: best block "
                                  f"test {max(r['test']):.3f}, held-out words {max(r['heldout']):.3f} ({r['seconds']:.0f} s)"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
