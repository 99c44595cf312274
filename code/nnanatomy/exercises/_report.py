"""How every checker reports: a printed verdict and a truthy/falsy result."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CheckResult", "not_answered", "verdict"]


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return f"{'✓' if self.passed else '✗'} {self.message}"

    def _repr_markdown_(self) -> str:
        return f"**{'✓' if self.passed else '✗'}** {self.message}"


def verdict(passed: bool, message: str) -> CheckResult:
    return CheckResult(bool(passed), message)


def not_answered(hint: str) -> CheckResult:
    return CheckResult(False, f"Not answered yet: {hint}")
