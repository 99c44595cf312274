"""Number formatting shared by the anatomy tables."""

from __future__ import annotations

from .._checks import check_real

__all__ = ["format_bytes", "format_count"]

_BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")
_COUNT_UNITS = ("", "K", "M", "G", "T", "P")


def _number(name: str, n: object) -> int | float:
    check_real(name, n)  # a number, finite (NaN and inf have no unit)
    return n


def format_bytes(n: int | float) -> str:
    """``3211264`` → ``"3.06 MiB"`` (binary units, three significant digits)."""
    n = _number("n", n)
    if n < 0:
        raise ValueError(f"a byte count cannot be negative, got {n}")
    value, unit = float(n), 0
    while value >= 1024 and unit < len(_BYTE_UNITS) - 1:
        value /= 1024
        unit += 1
    if unit == 0:
        return f"{int(value)} B"
    return f"{value:.3g} {_BYTE_UNITS[unit]}" if value < 1000 else f"{value:.0f} {_BYTE_UNITS[unit]}"


def format_count(n: int | float | None, *, compact: bool = False) -> str:
    """``118013952`` → ``"118,013,952"``, or ``"118M"`` with ``compact=True``; ``None`` → ``"?"``."""
    if n is None:
        return "?"
    n = _number("n", n)
    if not isinstance(compact, bool):
        raise TypeError(f"compact must be True or False, got {type(compact).__name__}")
    if not compact:
        return f"{int(n):,}"
    value, unit = float(n), 0
    while abs(value) >= 1000 and unit < len(_COUNT_UNITS) - 1:
        value /= 1000
        unit += 1
    return f"{value:.3g}{_COUNT_UNITS[unit]}"
