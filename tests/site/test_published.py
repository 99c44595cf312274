"""What the GitHub Actions workflow publishes to Pages exists after make book: the site and,
inside it, the student edition."""

from __future__ import annotations

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
from test_workflow import ROOT, published_path  # noqa: E402


def test_the_published_folder_holds_the_site_and_the_student_edition(site_root):
    published = (ROOT / published_path()).resolve()
    assert published == site_root
    assert (published / "index.html").is_file() and (published / "student" / "index.html").is_file()
    assert len(list(published.glob("lessons/*.html"))) == len(list((ROOT / "lessons").glob("*.ipynb")))
