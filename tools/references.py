"""Each chapter's closing "References" section, written from ``book/references.bib``.

Chapters cite with ``{cite:p}`key``` / ``{cite:t}`key```; the site links each citation to the
book's bibliography page. A reader of the notebook (in Colab, say) sees those roles as plain
text, so every notebook also ends with a Markdown cell that lists the works it cites, written
here from the bibliography:

    python tools/references.py            # rewrite the References cell of every notebook
    python tools/references.py --check    # exit 1 if one is out of date (the tests do the same)

The bibliography is ours and simple (``@type{key, field = {value}, ...}``), so a small parser
reads it; LaTeX accents are turned into Unicode.
"""

from __future__ import annotations

import re
import sys

import nbformat

from course import ROOT, notebooks

BIB = ROOT / "book" / "references.bib"
HEADING = "## References"
CITATION = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")
_ACCENTS = {
    r'\"u': "ü", r'\"o': "ö", r'\"a': "ä", r'\"e': "ë", r"\'e": "é", r"\'E": "É", r"\'a": "á",
    r"\'c": "ć", r"\`o": "ò", r"\`e": "è", r"\v{c}": "č", r"\L": "Ł", r"\l": "ł", r"\'o": "ó",
}


def _latex_to_text(text: str) -> str:
    for latex, char in _ACCENTS.items():
        text = text.replace("{" + latex + "}", char).replace(latex, char)
    text = text.replace("\\_", "_").replace("--", "–")
    return re.sub(r"\s+", " ", text.replace("{", "").replace("}", "")).strip()


def _braced(text: str, start: int) -> tuple[str, int]:
    """The content of the brace group opening at ``text[start]`` and the index after it."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1: i], i + 1
    raise ValueError(f"unbalanced braces in {BIB.name} near {text[start:start + 40]!r}")


def load_bibliography(path=BIB) -> dict[str, dict[str, str]]:
    """``{key: {"type": ..., field: value}}`` of every entry of the bibliography."""
    text = "\n".join(line for line in path.read_text(encoding="utf-8").splitlines() if not line.lstrip().startswith("%"))
    entries: dict[str, dict[str, str]] = {}
    for match in re.finditer(r"@(\w+)\s*\{\s*([^,\s]+)\s*,", text):
        body, _ = _braced(text, text.index("{", match.start()))
        fields = {"type": match.group(1).lower()}
        for field in re.finditer(r"(\w+)\s*=\s*\{", body):
            value, _ = _braced(body, field.end() - 1)
            fields[field.group(1).lower()] = value
        key = match.group(2)
        if key in entries:
            raise ValueError(f"{BIB.name}: key {key} appears twice")
        entries[key] = fields
    return entries


def _authors(field: str) -> str:
    people = [p.strip() for p in re.split(r"\s+and\s+", field)]
    names = []
    for person in people:
        if person.startswith("{") and person.endswith("}"):  # an organisation, written as one unit
            names.append(_latex_to_text(person))
            continue
        last, _, first = person.partition(",")
        initials = " ".join(part[0] + "." for part in re.split(r"[\s-]+", _latex_to_text(first)) if part)
        names.append(f"{_latex_to_text(last)}, {initials}".rstrip(", "))
    if len(names) > 3:
        return f"{names[0]}, {names[1]}, {names[2]}, et al."
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _link(url: str) -> str:
    if m := re.fullmatch(r"https://arxiv\.org/abs/(.+)", url):
        label = f"arXiv:{m.group(1)}"
    elif m := re.fullmatch(r"https://doi\.org/(.+)", url):
        label = f"doi:{m.group(1)}"
    elif m := re.fullmatch(r"https://github\.com/(.+)", url):
        label = f"github.com/{m.group(1)}"
    else:
        label = re.sub(r"^https?://(www\.)?", "", url).split("/")[0]
    return f"[{label}]({url})"


def format_entry(entry: dict[str, str]) -> str:
    """One reference as Markdown: authors (year). *Title.* Venue. Link."""
    title = _latex_to_text(entry["title"])
    venue = entry.get("journal") or entry.get("booktitle") or entry.get("publisher") or entry.get("institution") \
        or entry.get("howpublished", "")
    venue = _latex_to_text(venue)
    details = [venue] if venue else []
    if entry.get("volume"):
        details.append(entry["volume"] + (f"({entry['number']})" if entry.get("number") else ""))
    if entry.get("pages"):
        details.append(_latex_to_text(entry["pages"]))
    text = f"{_authors(entry['author'])} ({entry['year']}). *{title}.*"
    if details:
        text += " " + ", ".join(details) + "."
    if entry.get("url"):
        text += " " + _link(entry["url"])
    return text


def cited_keys(nb) -> list[str]:
    """Keys cited in a notebook's Markdown (its References cell left out), in first-cited order."""
    keys: list[str] = []
    for cell in nb.cells:
        if cell.cell_type == "markdown" and not cell.source.startswith(HEADING):
            for group in CITATION.findall(cell.source):
                for key in group.split(","):
                    if key.strip() not in keys:
                        keys.append(key.strip())
    return keys


def _sort_key(entry: dict[str, str]) -> tuple[str, str]:
    return (_latex_to_text(entry["author"]).lower(), entry["year"])


def references_cell_source(nb, bibliography: dict[str, dict[str, str]]) -> str:
    keys = cited_keys(nb)
    missing = [k for k in keys if k not in bibliography]
    if missing:
        raise KeyError(f"cited but not in {BIB.name}: {', '.join(missing)}")
    lines = [HEADING, "", "The works this chapter cites (the whole list: {doc}`../book/references`).", ""]
    lines += [f"- {format_entry(bibliography[k])}" for k in sorted(keys, key=lambda k: _sort_key(bibliography[k]))]
    return "\n".join(lines)


def sync(nb, bibliography) -> bool:
    """Write (or rewrite) the notebook's last cell as its References section; True if it changed."""
    source = references_cell_source(nb, bibliography)
    last = nb.cells[-1]
    if last.cell_type == "markdown" and last.source.startswith(HEADING):
        if last.source == source:
            return False
        last.source = source
    else:
        nb.cells.append(nbformat.v4.new_markdown_cell(source))
    return True


def main(argv: list[str]) -> int:
    check = "--check" in argv
    bibliography = load_bibliography()
    stale = []
    for path in notebooks():
        nb = nbformat.read(path, as_version=4)
        if sync(nb, bibliography):
            stale.append(path.name)
            if not check:
                nbformat.write(nb, path)
    verb = "out of date" if check else "rewritten"
    print(f"{len(stale)} References section(s) {verb}: {', '.join(stale) or '-'}")
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
