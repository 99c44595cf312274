"""The GitHub Actions workflow cannot run here; what it relies on can be checked: it parses, its
CI job runs .ci/run (and nothing else decides what CI is), it publishes the folder make book
builds, and its weekly job runs a make target that exists. (That the published folder holds the
site and the student edition after make book is checked in tests/site/test_published.py.)"""

from __future__ import annotations

import os
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"


def _workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def _runs(job: dict) -> list[str]:
    return [step["run"].strip() for step in job["steps"] if "run" in step]


def published_path() -> str:
    steps = [s for s in _workflow()["jobs"]["ci"]["steps"] if s.get("uses", "").startswith("actions/upload-pages-artifact@")]
    assert len(steps) == 1
    return steps[0]["with"]["path"]


def test_the_workflow_runs_ci_on_pushes_and_pull_requests():
    workflow = _workflow()
    triggers = workflow[True] if True in workflow else workflow["on"]  # YAML 1.1 reads the key `on` as True
    assert {"push", "pull_request", "schedule"} <= set(triggers)
    assert _runs(workflow["jobs"]["ci"]) == [".ci/run"]
    assert os.access(ROOT / ".ci" / "run", os.X_OK)


def test_pages_are_published_from_main_after_ci():
    workflow = _workflow()
    pages = workflow["jobs"]["pages"]
    assert pages["needs"] == "ci" and "refs/heads/main" in pages["if"] and "push" in pages["if"]
    assert [s["uses"].split("@")[0] for s in pages["steps"]] == ["actions/deploy-pages"]
    assert published_path() == "_build/html"
    assert re.search(r"^book:.*\n(\t.*\n)*\t.*jupyter-book build \.", (ROOT / "Makefile").read_text(), re.M)


def test_the_weekly_job_runs_the_colab_check():
    workflow = _workflow()
    colab = workflow["jobs"]["colab"]
    assert "schedule" in colab["if"]
    (command,) = _runs(colab)
    target = command.split()[1]
    assert command.startswith("make ") and re.search(rf"^{target}:", (ROOT / "Makefile").read_text(), re.M)


def test_the_readme_names_the_pages_address_of_the_configured_repository():
    sys.path.insert(0, str(ROOT / "tools"))
    from course import load_config, repository

    _, slug, _ = repository(load_config())
    owner, name = slug.split("/")
    assert f"https://{owner}.github.io/{name}/" in (ROOT / "README.md").read_text(encoding="utf-8")
