"""Facts about the course repository that tests and maintenance scripts share.

The repository URL lives in ``_config.yml`` only; everything that points at the repository
(the Colab badge and the install cell of every notebook) is derived from it here.
"""

from __future__ import annotations

import pathlib
import re

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
LESSONS = ROOT / "lessons"
BADGE_IMAGE = "../book/_static/colab-badge.svg"


def load_config(root: pathlib.Path = ROOT) -> dict:
    return yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))


def repository(config: dict) -> tuple[str, str, str]:
    """``(url, "owner/name", branch)`` from the ``repository`` section of ``_config.yml``."""
    repo = config["repository"]
    url = repo["url"].rstrip("/")
    match = re.fullmatch(r"https://github\.com/([^/]+/[^/]+)", url)
    if not match:
        raise ValueError(f"repository.url must be https://github.com/<owner>/<name>, got {url!r}")
    return url, match.group(1), repo.get("branch", "main")


def colab_url(config: dict, notebook: str) -> str:
    """The Colab address of ``notebook`` (a path relative to the repository root)."""
    _, slug, branch = repository(config)
    base = config["launch_buttons"]["colab_url"].rstrip("/")
    return f"{base}/github/{slug}/blob/{branch}/{notebook}"


def badge_markdown(config: dict, notebook: str) -> str:
    return f"[![Open in Colab]({BADGE_IMAGE})]({colab_url(config, notebook)})"


def install_command(config: dict) -> str:
    url, _, branch = repository(config)
    return f'%pip install -q "nnanatomy @ git+{url}@{branch}"'


def notebooks(root: pathlib.Path = ROOT) -> list[pathlib.Path]:
    return sorted(p for p in (root / "lessons").glob("*.ipynb"))
