"""Write the configuration of the student edition: the book's _config.yml with exercise
solutions hidden (sphinx-exercise's ``hide_solutions``) and a banner saying so.

    python tools/student_config.py _build/student_config.yml
"""

from __future__ import annotations

import os
import pathlib
import sys

import yaml

from course import ROOT, load_config


def student_config(config: dict, config_dir: pathlib.Path = ROOT) -> dict:
    """The student edition's configuration, to be written into ``config_dir``."""
    config = dict(config)
    config["title"] = f"{config['title']} (student edition)"
    sphinx = dict(config.get("sphinx", {}))
    sphinx_config = dict(sphinx.get("config", {}))
    sphinx_config["hide_solutions"] = True
    sphinx["config"] = sphinx_config
    # Jupyter Book resolves local extension paths against the configuration file's folder
    sphinx["local_extensions"] = {
        name: os.path.relpath(ROOT / path, config_dir) for name, path in sphinx.get("local_extensions", {}).items()
    }
    config["sphinx"] = sphinx
    html = dict(config.get("html", {}))
    html["announcement"] = "Student edition: the solutions of the exercises are hidden. Their checkers still run."
    config["html"] = html
    return config


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    out = ROOT / argv[0]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(student_config(load_config(), out.parent), sort_keys=False, allow_unicode=True), encoding="utf-8")
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
