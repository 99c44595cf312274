"""Small fixes to the HTML output of the book, as a local Sphinx extension.

* sphinx-thebe registers its inline configuration script twice in a Jupyter Book 1 build; the
  second copy re-declares ``const THEBE_JS_URL`` and every page logs a JavaScript error. The
  page's script list is de-duplicated before rendering (found by the browser test).
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx


def _dedupe_scripts(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple[str, str]] = set()
    unique = []
    for script in scripts:
        filename = getattr(script, "filename", script) or ""  # inline scripts: None and "" both occur
        key = (str(filename), str(sorted(getattr(script, "attributes", {}).items())))
        if key in seen:
            continue
        seen.add(key)
        unique.append(script)
    scripts[:] = unique  # in place: later handlers (MathJax, for one) add to this same list


def setup(app: Sphinx) -> dict[str, Any]:
    # early: html-page-context stops at the first handler that returns a template name
    app.connect("html-page-context", _dedupe_scripts, priority=1)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
