"""Show the package's own source in a notebook, so the book displays the code that runs.

``show_source(scratch.Linear)`` renders the class's source with syntax highlighting (Markdown
in Jupyter and on the site, plain text elsewhere). Because the notebook's committed output *is*
the source, nbval fails as soon as the code and the book drift apart.
"""

from __future__ import annotations

import inspect
import pathlib
import textwrap
from typing import Any

__all__ = ["SourceCode", "show_source"]

_PACKAGE_ROOT = pathlib.Path(__file__).resolve().parent


class SourceCode:
    """Source text of one or more objects, rendered as highlighted Python."""

    def __init__(self, parts: list[tuple[str, str]]) -> None:
        self.parts = parts  # (header, code)

    def __str__(self) -> str:
        return "\n\n".join(f"# {header}\n{code}" for header, code in self.parts)

    __repr__ = __str__

    def _repr_markdown_(self) -> str:
        return "\n\n".join(f"`{header}`\n\n```python\n{code}\n```" for header, code in self.parts)


def _location(obj: Any) -> str:
    path = pathlib.Path(inspect.getsourcefile(obj) or "").resolve()
    try:
        rel = path.relative_to(_PACKAGE_ROOT.parent).as_posix()
    except ValueError:
        rel = path.name  # not part of the package: never print an absolute path
    return f"{rel} · {obj.__qualname__}"


def show_source(*objects: Any, docstring: bool = True) -> SourceCode:
    """The source of functions, classes or methods of the package, for display in a notebook.

    Args:
        objects: one or more functions, classes or methods.
        docstring: keep docstrings (``False`` drops them to show only the code).
    """
    if not objects:
        raise ValueError("show_source needs at least one function, class or method")
    parts = []
    for obj in objects:
        if not (inspect.isfunction(obj) or inspect.isclass(obj) or inspect.ismethod(obj)):
            raise TypeError(f"show_source shows functions, classes and methods, got {type(obj).__name__}")
        code = textwrap.dedent(inspect.getsource(obj)).rstrip()
        if not docstring:
            code = _strip_docstrings(code)
        parts.append((_location(obj), code))
    return SourceCode(parts)


def _strip_docstrings(code: str) -> str:
    import ast

    tree = ast.parse(code)
    lines = code.splitlines()
    drop: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant) and isinstance(first.value.value, str):
                drop.update(range(first.lineno - 1, first.end_lineno))
    return "\n".join(line for i, line in enumerate(lines) if i not in drop)
