"""How every checker reports: a printed verdict and a truthy/falsy result."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["AnswerTypeError", "AnswerValueError", "CheckResult", "checker", "not_answered", "verdict"]


class AnswerTypeError(TypeError):
    """What was passed to a checker is not an answer of the right kind (a string for a number, a
    number for a function): the reader's call is wrong, so it is an error, not a verdict."""


class AnswerValueError(ValueError):
    """What was passed to a checker names something that does not exist (an unknown role)."""


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    message: str

    def __post_init__(self) -> None:
        if not isinstance(self.passed, bool):
            raise TypeError(f"passed must be a bool, got {type(self.passed).__name__}")
        if not isinstance(self.message, str):
            raise TypeError(f"message must be a str, got {type(self.message).__name__}")

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


def checker(check: Callable[..., CheckResult]) -> Callable[..., CheckResult]:
    """Turn a failure of the reader's code into a verdict instead of a traceback.

    A checker calls the reader's function (or builds the reader's class) and compares what comes
    back. When that code raises, or returns something of the wrong kind so that the comparison
    itself fails, the reader gets ``✗`` with what went wrong. Only a wrong call of the checker
    itself (``AnswerTypeError``/``AnswerValueError``: a string where a number belongs) raises.
    """

    @functools.wraps(check)
    def run(*args: Any, **kwargs: Any) -> CheckResult:
        try:
            return check(*args, **kwargs)
        except (AnswerTypeError, AnswerValueError):
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of the reader's code becomes a verdict
            text = str(exc).splitlines()[0] if str(exc) else ""
            return verdict(False, f"your code failed while being checked — {type(exc).__name__}: {text}")

    return run
