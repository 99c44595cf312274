"""Reading the results files that ``tools/`` scripts store inside the package."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path


def load(resource: str, path: str | Path | None, what: str) -> dict:
    """``{"command": ..., "runs": [...]}`` from the file shipped at ``resource`` inside the package,
    or from ``path`` when one is given; ``what`` names the file in error messages."""
    if path is None:
        text = (resources.files("nnanatomy") / resource).read_text()
    else:
        if not isinstance(path, (str, Path)):
            raise TypeError(f"path must be None, a str or a Path, got {type(path).__name__}")
        text = Path(path).read_text()
    results = json.loads(text)
    if not isinstance(results, dict) or not isinstance(results.get("runs"), list):
        raise ValueError(f"{what} is a JSON object with a list of runs under 'runs'")
    return results


def merge_recipe(recipe: dict | None, defaults: dict) -> dict:
    """An experiment's recipe: ``defaults`` with the entries of ``recipe`` (None: the defaults)
    in their place; a key that ``defaults`` lacks is refused."""
    if recipe is None:
        return dict(defaults)
    if not isinstance(recipe, dict):
        raise TypeError(f"recipe must be None or a dict of RECIPE's keys, got {type(recipe).__name__}")
    unknown = sorted(set(recipe) - set(defaults))
    if unknown:
        raise ValueError(f"recipe has unknown keys {unknown}; RECIPE's are {sorted(defaults)}")
    return {**defaults, **recipe}
