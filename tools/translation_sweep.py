"""Run the translation sweep of chapters 04 and 05: the LSTM encoder–decoder without and with
additive attention, chapter 05's Transformer and its four ablations on chained sentences, for
several seeds, and store the results.

    .venv/bin/python tools/translation_sweep.py --seeds 0 1 2

writes ``code/nnanatomy/results/translation_sweep.json`` (shipped with the package): one record
of ``nnanatomy.experiments.translation.run`` per architecture and seed. Chapters 04 and 05 read
the file, re-run configurations live for fewer epochs, and compare them with the stored records.
Every run is single-threaded on the CPU; about half an hour in all on one core (``--archs``
splits the work between processes; each writes its runs into the same file as it finishes).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from course import ROOT, store_results

from nnanatomy import runtime  # noqa: E402
from nnanatomy.experiments import translation  # noqa: E402

OUT = ROOT / "code" / "nnanatomy" / translation.RESULTS


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--archs", nargs="+", choices=translation.ARCHS, default=list(translation.ARCHS))
    parser.add_argument("--out", default=str(OUT), help="results file (runs already in it are skipped)")
    args = parser.parse_args(argv)
    runtime.fix_threads(1)
    out = Path(args.out)
    for seed in args.seeds:
        for arch in args.archs:
            results = json.loads(out.read_text()) if out.exists() else {"runs": []}
            if any((r["arch"], r["seed"]) == (arch, seed) for r in results["runs"]):
                continue
            record = translation.run(arch, seed)
            results = json.loads(out.read_text()) if out.exists() else {"runs": []}  # another process may have added runs
            results["runs"].append(record)
            results["runs"].sort(key=lambda r: (translation.ARCHS.index(r["arch"]), r["seed"]))
            results["command"] = "python tools/translation_sweep.py  # runs already in the file are skipped"
            store_results(out, results)
            print(f"{arch:15s} seed {seed}: test exact match by epoch {[round(v, 3) for v in record['test_exact_match']]}, "
                  f"longer {record['longer_exact_match']:.3f} ({record['seconds']:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
