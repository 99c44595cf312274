"""Run chapter 06's sweep: its character GPT with and without weight tying and with and without
GPT-2's residual-scaled initialisation, for several seeds, and store the results.

    .venv/bin/python tools/gpt_choices_sweep.py --seeds 0 1 2

writes ``code/nnanatomy/results/gpt_choices_sweep.json`` (shipped with the package): one record
of ``nnanatomy.experiments.gpt_choices.run`` per combination and seed. The default combination
(untied, plain initialisation) is the chapter's own model; its seed-0 record equals the
chapter's live run. Single-threaded on the CPU, about 70 s a run, fourteen minutes in all
(``--arms`` splits the work between processes; each writes into the same file as it finishes).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from course import ROOT, store_results

from nnanatomy import runtime  # noqa: E402
from nnanatomy.experiments import gpt_choices  # noqa: E402

OUT = ROOT / "code" / "nnanatomy" / gpt_choices.RESULTS
ARMS = {"untied-plain": (False, False), "tied-plain": (True, False), "untied-scaled": (False, True), "tied-scaled": (True, True)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--arms", nargs="+", choices=list(ARMS), default=list(ARMS))
    parser.add_argument("--out", default=str(OUT), help="results file (runs already in it are skipped)")
    args = parser.parse_args(argv)
    runtime.fix_threads(1)
    out = Path(args.out)
    for seed in args.seeds:
        for arm in args.arms:
            tie, scaled = ARMS[arm]
            results = json.loads(out.read_text()) if out.exists() else {"runs": []}
            if any((r["tie_embeddings"], r["residual_init"], r["seed"]) == (tie, scaled, seed) for r in results["runs"]):
                continue
            record = gpt_choices.run(tie, scaled, seed)
            results = json.loads(out.read_text()) if out.exists() else {"runs": []}  # another process may have added runs
            results["runs"].append(record)
            results["runs"].sort(key=lambda r: (r["tie_embeddings"], r["residual_init"], r["seed"]))
            results["command"] = "python tools/gpt_choices_sweep.py  # runs already in the file are skipped"
            store_results(out, results)
            print(f"{arm:14s} seed {seed}: test cross-entropy by epoch {[round(v, 4) for v in record['test_cross_entropy']]} "
                  f"({record['seconds']:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
