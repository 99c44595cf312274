"""Show the package's own source in a notebook, so the book displays the code that runs.

``show_source(scratch.Linear)`` renders the class's source with syntax highlighting (Markdown
in Jupyter and on the site, plain text elsewhere). It renders where it is called — not only as
the last expression of a cell — so a cell may show several listings, each next to the code
that uses it. Because the notebook's committed output *is* the source, nbval fails as soon as
the code and the book drift apart (``tests/test_notebook_conventions.py`` also checks that every
call left its listing, under a ``nnanatomy/…`` header, in the committed outputs).
"""

from __future__ import annotations

import inspect
import pathlib
import textwrap
from typing import Any

__all__ = ["SourceCode", "show_source"]

_PACKAGE_ROOT = pathlib.Path(__file__).resolve().parent


class SourceCode:
    """Source text of one or more objects, rendered as highlighted Python.

    In IPython it is displayed once: by :func:`show_source` where it is called, after which
    the object renders nothing more (as the value of a cell's last line, or passed to
    ``display``). ``str()`` gives the plain text anywhere.
    """

    def __init__(self, parts: list[tuple[str, str]]) -> None:
        self.parts = parts  # (header, code)
        self._displayed = False

    def __str__(self) -> str:
        return "\n\n".join(f"# {header}\n{code}" for header, code in self.parts)

    __repr__ = __str__

    def _repr_markdown_(self) -> str:
        return "\n\n".join(f"`{header}`\n\n```python\n{code}\n```" for header, code in self.parts)

    def _ipython_display_(self) -> None:
        if self._displayed:
            return
        self._displayed = True
        from IPython.display import display

        display({"text/markdown": self._repr_markdown_(), "text/plain": str(self)}, raw=True)


def _unwrapped(obj: Any) -> Any:
    """The function a decorator (``functools.wraps``, ``torch.no_grad()``, …) wraps."""
    if inspect.ismethod(obj):
        obj = obj.__func__
    return inspect.unwrap(obj)


def _location(obj: Any) -> str:
    path = pathlib.Path(inspect.getsourcefile(obj) or "").resolve()
    try:
        rel = path.relative_to(_PACKAGE_ROOT.parent).as_posix()
    except ValueError:
        rel = path.name  # not part of the package: never print an absolute path
    return f"{rel} · {obj.__qualname__}"


def _in_ipython() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with the notebook stack
        return False
    return get_ipython() is not None


def show_source(*objects: Any, docstring: bool = True) -> SourceCode:
    """Show the source of functions, classes or methods of the package in a notebook.

    In IPython (Jupyter, Colab) the listing is displayed immediately, wherever in a cell the
    call stands; the returned :class:`SourceCode` renders nothing more. Elsewhere nothing is
    displayed and ``str()`` of the result gives the text. Decorated functions are shown, and
    located, as the function the decorator wraps.

    Args:
        objects: one or more functions, classes or methods.
        docstring: keep docstrings (``False`` drops them to show only the code).

    Raises:
        ValueError: no object given.
        TypeError: an object is not a function, class or method, or ``docstring`` is not a bool.
    """
    if not objects:
        raise ValueError("show_source needs at least one function, class or method")
    if not isinstance(docstring, bool):
        raise TypeError(f"docstring must be True or False, got {docstring!r}")
    parts = []
    for obj in objects:
        if not (inspect.isfunction(obj) or inspect.isclass(obj) or inspect.ismethod(obj)):
            raise TypeError(f"show_source shows functions, classes and methods, got {type(obj).__name__}")
        target = obj if inspect.isclass(obj) else _unwrapped(obj)
        code = textwrap.dedent(inspect.getsource(target)).rstrip()
        if not docstring:
            code = _strip_docstrings(code)
        parts.append((_location(target), code))
    source = SourceCode(parts)
    if _in_ipython():
        source._ipython_display_()
    return source


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
