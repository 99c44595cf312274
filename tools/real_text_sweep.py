"""Run chapter 06's real-text experiment: its character GPT on the standard library's help
topics for several seeds, and the n-gram baseline, and store the results.

    .venv/bin/python tools/real_text_sweep.py --seeds 0 1 2

writes ``code/nnanatomy/results/real_text_sweep.json`` (shipped with the package): one record of
``nnanatomy.experiments.real_text.run`` per seed and the n-gram baseline. Single-threaded on the
CPU, about six minutes a seed (``--seeds`` splits the work between processes; each writes into
the same file as it finishes).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

from course import ROOT, store_results

from nnanatomy import runtime  # noqa: E402
from nnanatomy.experiments import real_text  # noqa: E402

OUT = ROOT / "code" / "nnanatomy" / real_text.RESULTS


def _update(out: Path, change) -> None:
    results = json.loads(out.read_text()) if out.exists() else {"runs": []}  # another process may have written
    change(results)
    results["command"] = "python tools/real_text_sweep.py  # runs already in the file are skipped"
    results["python"] = platform.python_version()  # pydoc_data's topics differ between Python versions
    store_results(out, results)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--ngram", action="store_true", help="also (re)compute the n-gram baseline")
    parser.add_argument("--out", default=str(OUT), help="results file (runs already in it are skipped)")
    args = parser.parse_args(argv)
    runtime.fix_threads(1)
    out = Path(args.out)
    if args.ngram:
        baseline = real_text.ngram_baseline()
        _update(out, lambda results: results.update(ngram=baseline))
        print(f"n-gram: order {baseline['order']}, {baseline['test_bits_per_char']:.3f} bits/char", flush=True)
    for seed in args.seeds:
        results = json.loads(out.read_text()) if out.exists() else {"runs": []}
        if any(r["seed"] == seed for r in results["runs"]):
            continue
        record = real_text.run(seed)
        _update(out, lambda results: (results["runs"].append(record), results["runs"].sort(key=lambda r: r["seed"])))
        print(f"seed {seed}: bits/char by epoch {[round(v, 3) for v in record['test_bits_per_char']]} ({record['seconds']:.0f} s)",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
