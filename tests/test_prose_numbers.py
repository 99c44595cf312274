"""Numbers in the prose come from outputs (DESIGN.md, "Evidence").

Every number in a notebook's Markdown with two or more significant digits — a decimal
(``0.972``), a percentage (``84 %``), a count with separators (``28,618``), a number in
scientific notation (``3.1e-01``, ``1.2 × 10⁻³``) or a count in words (``118 million``) — must
appear in the same notebook's outputs at the precision the prose writes it (``0.97`` is found
in an output ``0.9724``; ``17.4 dB`` in ``17.42``; ``41.3 M`` in ``41,287,680``), or, for a
setting, in its code. A number is exempt only where the text says where it comes from: a
citation or a paper's report in the same clause, or the result of a formula worked in the
text (after ``=`` or ``≈``, or inside a math formula with ``=``). Numbers in fenced code blocks
and inline code are code, not prose.

What cannot follow these rules is listed, with a reason, in ``prose_numbers_exceptions.yml``
beside this file; the list is meant to stay short: fix the prose, not the list.
"""

from __future__ import annotations

import bisect
import html
import pathlib
import re
import sys

import nbformat
import pytest
import yaml

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tools"))
from course import notebooks  # noqa: E402

NOTEBOOKS = notebooks()
EXCEPTIONS_FILE = pathlib.Path(__file__).with_name("prose_numbers_exceptions.yml")

_SUPERSCRIPT = str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")

# A number in prose: not part of a word, a version, a path, an identifier or a sub/superscript.
PROSE_NUMBER = re.compile(
    r"""
    (?<![\w.,/#^_{\\-])
    (?P<num>
        \d{1,3}(?:,\d{3})+(?:\.\d+)?            # 28,618   1,234.5
      | \d+\.\d+(?:[eE][-+−]?\d+)?               # 0.972    3.1e-01
      | \d+[eE][-+−]?\d+                         # 1e-3
      | \d+(?=\s?(?:%|\\%|\s(?:million|billion|thousand)\b))   # 84 %   118 million
    )
    (?!\d|\.\d)
    (?P<power>\s?(?:×|\\times)\s?10(?:\^\{?[-−]?\d+\}?|[⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+))?
    (?P<unit>\s?(?:%|\\%|(?:million|billion|thousand)\b|[kKMGT](?:i?B|FLOPs?|MACs?)?\b))?
    """,
    re.X,
)
OUTPUT_NUMBER = re.compile(r"(?<![\w.])[-−]?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?:[eE][-+−]?\d+)?")
UNIT_SCALE = {
    "thousand": 1e3, "million": 1e6, "billion": 1e9,
    "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
    "KiB": 2.0**10, "MiB": 2.0**20, "GiB": 2.0**30, "TiB": 2.0**40,
    "KB": 1e3, "kB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
}
# Words that say where a number comes from, when they stand in the number's own clause.
SOURCE_WORDS = re.compile(r"\{cite|\bpapers?\b|\bpaper's\b|\breports?\b|\breported\b|\baccording to\b", re.I)


def significant_digits(number: str) -> int:
    mantissa = re.split(r"[eE]", number.replace(",", ""))[0]
    return len(mantissa.replace(".", "").lstrip("0"))


def _value_and_tolerance(number: str, power: str) -> tuple[float, float]:
    """The value written and half a unit of its last written digit."""
    text = number.replace(",", "").replace("−", "-")
    mantissa, _, exponent = text.lower().partition("e")
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    if "." not in mantissa and "," in number:  # 17,000: written to the last non-zero digit
        decimals = -(len(mantissa) - len(mantissa.rstrip("0")))
    scale = int(exponent) if exponent else 0
    if power:
        digits = re.search(r"[-−]?\d+$", power.translate(_SUPERSCRIPT).replace("}", ""))
        scale += int(digits.group().replace("−", "-")) if digits else 0
    value = float(mantissa) * 10.0**scale
    return abs(value), 0.5 * 10.0 ** (scale - decimals) * (1 + 1e-9)


def _strip_non_prose(markdown: str) -> str:
    """Markdown without code, link targets, role targets, comments and worked formulas."""
    text = re.sub(r"<!--.*?-->", " ", markdown, flags=re.S)
    text = re.sub(r"(?ms)^(`{3,}|~{3,})(?!\{)[^\n]*\n.*?^\1\s*$", " ", text)  # fenced code, not directives
    text = re.sub(r"(?m)^(`{3,}|~{3,}|:{3,}).*$", " ", text)  # directive fences and their options
    text = re.sub(r"(?m)^:[\w-]+:.*$", " ", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    text = re.sub(r"\{[\w:]+\}`[^`]*`", "{cite}", text)  # {cite:p}`key`, {ref}`label`, {doc}`page`

    def formula(match: re.Match) -> str:  # a formula worked in the text is its own source
        return " " if re.search(r"=|\\approx", match.group(0)) else match.group(0)

    text = re.sub(r"\$\$.*?\$\$", formula, text, flags=re.S)
    text = re.sub(r"\$[^$\n]+\$", formula, text)
    text = re.sub(r"`[^`]+`", " ", text)
    return text


def _clauses(text: str) -> list[str]:
    sentences = re.split(r"(?<=[.!?;:])\s+(?=[A-Z(*_\-])|\n\s*\n|\n\s*(?:[-*] |\|)", text)
    return [clause for sentence in sentences for clause in re.split(r"[;()—]|, (?=and |but |while |against )", sentence)]


def prose_numbers(markdown: str) -> list[tuple[str, float, float, str, str]]:
    """``(text, value, tolerance, unit, context)`` of each number the prose must back."""
    found = []
    for clause in _clauses(_strip_non_prose(markdown)):
        if SOURCE_WORDS.search(clause):
            continue
        for match in PROSE_NUMBER.finditer(clause):
            number = match.group("num")
            if significant_digits(number) < 2:
                continue
            if clause[: match.start()].rstrip(" $\\,{~").endswith(("=", "≈")):
                continue  # the result of a formula written out just before it
            value, tolerance = _value_and_tolerance(number, match.group("power") or "")
            unit = (match.group("unit") or "").strip().lstrip("\\")
            context = clause[max(0, match.start() - 50): match.end() + 30].replace("\n", " ").strip()
            found.append((match.group(0).strip(), value, tolerance, unit, context))
    return found


def evidence_values(nb) -> list[float]:
    """Every number in the notebook's outputs and code, as absolute values, sorted."""
    parts = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        parts.append(cell.source)
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                parts.append(out.text)
            for kind, value in out.get("data", {}).items():
                if kind in ("text/plain", "text/markdown", "text/latex"):
                    parts.append(value)
                elif kind == "text/html":
                    parts.append(html.unescape(re.sub(r"<[^>]+>", " ", value)))
    values = set()
    for match in OUTPUT_NUMBER.finditer("\n".join(parts)):
        try:
            values.add(abs(float(match.group().replace(",", "").replace("−", "-"))))
        except ValueError:
            pass
    return sorted(values)


def backed(value: float, tolerance: float, unit: str, evidence: list[float]) -> bool:
    factors = [1.0]
    if unit == "%":
        factors.append(0.01)  # 84 % ↔ 0.84
    elif unit:
        scale = UNIT_SCALE.get(unit) or UNIT_SCALE.get(unit[:1])
        if scale:
            factors.append(scale)
    elif value < 1:
        factors.append(100.0)  # 0.84 ↔ 84 %
    for factor in factors:
        target, tol = value * factor, tolerance * factor
        i = bisect.bisect_left(evidence, target - tol)
        if i < len(evidence) and evidence[i] <= target + tol:
            return True
    return False


def load_exceptions() -> dict[str, dict[str, str]]:
    data = yaml.safe_load(EXCEPTIONS_FILE.read_text(encoding="utf-8")) or {}
    for notebook, entries in data.items():
        for number, reason in (entries or {}).items():
            assert isinstance(reason, str) and len(reason) > 20, f"{notebook}: exception {number!r} needs a reason"
    return data


def unbacked_numbers(nb, allowed: dict[str, str] | None = None) -> tuple[int, list[str]]:
    allowed = allowed or {}
    evidence = evidence_values(nb)
    checked, missing = 0, []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown" or cell.source.startswith("## References"):
            continue  # the bibliography's volumes, pages and arXiv numbers are not claims
        for text, value, tolerance, unit, context in prose_numbers(cell.source):
            checked += 1
            if text in allowed or backed(value, tolerance, unit, evidence):
                continue
            missing.append(f"cell {i}: {text!r} in “{context}”")
    return checked, missing


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_numbers_in_the_prose_appear_in_the_outputs(path):
    nb = nbformat.read(path, as_version=4)
    allowed = load_exceptions().get(path.name, {})
    checked, missing = unbacked_numbers(nb, allowed)
    assert not missing, (
        f"{len(missing)} of {checked} numbers in the prose of {path.name} appear in no output at the "
        "precision written (print them, or say where they come from):\n  " + "\n  ".join(missing))


def test_exceptions_name_numbers_that_are_still_in_the_prose():
    for name, entries in load_exceptions().items():
        path = next((p for p in NOTEBOOKS if p.name == name), None)
        assert path is not None, f"prose_numbers_exceptions.yml names {name}, which is not a notebook"
        prose = {text for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "markdown"
                 for text, *_ in prose_numbers(cell.source)}
        for number in entries:
            assert number in prose, f"{name}: the exception {number!r} is no longer in the prose; remove it"


def test_the_checker_finds_numbers_and_misses():
    """The rules themselves: what counts as a number, what backs it, what exempts it."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(
            "Accuracy reaches 97.2 % with 28,618 parameters and 41.3 M MACs; the loss is 0.268.\n\n"
            "The paper reports 2.27 for DiT-XL/2. The ratio is $64 \\cdot 148 = 9{,}472$ and "
            "64·148 = 9,472 as well. A setting `lr=3e-4` and a version 2.13.0 are not prose.\n\n"
            "The drifted 0.731 and 1,234 appear nowhere."),
        nbformat.v4.new_code_cell("print(acc)", outputs=[nbformat.v4.new_output(
            "stream", name="stdout", text="accuracy 0.9724  parameters 28618  MACs 41,287,680  loss 0.2681\n")]),
    ]
    checked, missing = unbacked_numbers(nb)
    assert checked == 6  # 97.2 %, 28,618, 41.3 M, 0.268, 0.731, 1,234
    assert [m.split("'")[1] for m in missing] == ["0.731", "1,234"]
    assert significant_digits("0.05") == 1 and significant_digits("17,000") == 5
    assert _value_and_tolerance("1.2", "× 10⁻³") == pytest.approx((1.2e-3, 0.5e-4))
    assert _value_and_tolerance("17,000", "")[1] == pytest.approx(500)
