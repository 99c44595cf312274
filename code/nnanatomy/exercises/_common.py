"""Helpers shared by the chapter checkers."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._report import AnswerTypeError


def check_int(answer: Any, what: str = "answer") -> int:
    if isinstance(answer, bool) or not isinstance(answer, (int, np.integer)):
        raise AnswerTypeError(f"{what} must be an int, got {type(answer).__name__}")
    return int(answer)


def check_class(answer: Any) -> type:
    if not isinstance(answer, type):
        raise AnswerTypeError(f"pass the class itself, got {type(answer).__name__}")
    return answer


def build(cls: type, *args: Any, **kwargs: Any) -> Any:
    try:
        return cls(*args, **kwargs)
    except Exception as exc:
        shown = ", ".join([*map(repr, args), *(f"{k}={v!r}" for k, v in kwargs.items())])
        raise TypeError(f"could not build your class as {cls.__name__}({shown}): {exc}") from exc


def require_methods(obj: Any, *methods: str, like: str) -> None:
    for method in methods:
        if not callable(getattr(obj, method, None)):
            raise TypeError(f"your class needs a {method}() method, like {like}")
