"""Rewrite every notebook's Colab badge and install cell from ``_config.yml`` (and ``course.EXTRAS``).

Run after changing ``repository.url`` or ``branch``:  python tools/sync_notebook_links.py
"""

from __future__ import annotations

import re
import sys

import nbformat

from course import ROOT, badge_markdown, install_cell, load_config, notebooks

BADGE = re.compile(r"\[!\[Open in Colab\]\([^)]*\)\]\([^)]*\)")


def main() -> int:
    config = load_config()
    changed = 0
    for path in notebooks():
        nb = nbformat.read(path, as_version=4)
        rel = path.relative_to(ROOT).as_posix()
        title, install = nb.cells[0], nb.cells[1]
        new_title = BADGE.sub(badge_markdown(config, rel).replace("\\", "\\\\"), title.source)
        new_install = install_cell(config, path)
        if (new_title, new_install) != (title.source, install.source):
            title.source, install.source = new_title, new_install
            nbformat.write(nb, path)
            changed += 1
            print(f"updated {rel}")
    print(f"{changed} notebook(s) changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
