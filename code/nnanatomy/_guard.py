"""One guard for every model class of the package: clear errors, and no state lost on failure.

:func:`install` wraps, in place, the constructor and the public methods of every class a module
defines (``nn.Module`` subclasses, configs, the NumPy layers of ``scratch``) and its public
functions (the code you read with ``show_source`` is unchanged: the wrapper sits around it):

- **A failed constructor or function leaves the global random state as it found it.** Building
  layers draws their initial weights from torch's global generator, a loss draws its noise; a
  call that fails half-way (a bad argument found late) would otherwise have consumed draws and
  changed every later result.
- **Arguments match their annotations.** Before a constructor, a method other than ``forward``
  or a public function runs, every argument annotated with a plain type (``int``, ``float``,
  ``bool``, ``str``, ``torch.Tensor``, ``nn.Module``, or a union of them with ``None``) is checked:
  ``"no"`` is not a bool, ``2.5`` is not an int, NaN is not a float. Ranges stay the business
  of each function's own checks.
- **A forward pass that fails inside torch says where and on what.** Arguments the model checks
  itself raise their own ValueError/TypeError unchanged. Anything torch or Python raises deeper
  down (a shape mismatch, an integer tensor where floats belong, None for a tensor) becomes a
  ValueError (TypeError for a wrong type) that names the model class and what it was given —
  dtype and shape of every tensor — with torch's message after it.

NaN in a model's *input* is not an error here: like every torch layer, a model computes with what
it is given (the training loop refuses a NaN loss; see ``train.fit``).
"""

from __future__ import annotations

import functools
import inspect
import sys
import traceback
import types
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

_PACKAGE = str(Path(__file__).resolve().parent)


def _own(exc: BaseException) -> bool:
    """Whether ``exc`` is one of the package's own checks: a ``raise`` statement in its code (not
    Python failing on one of its lines, such as ``None.shape``), or an error already translated."""
    if getattr(exc, "_nnanatomy_guarded", False):
        return True
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    if not frames:
        return False
    last = frames[-1]
    inside = bool(last.filename) and str(Path(last.filename).resolve()).startswith(_PACKAGE) and not last.filename.endswith("_guard.py")
    return inside and (last.line or "").lstrip().startswith("raise")


def _inside_package(exc: BaseException) -> bool:
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    return bool(frames) and str(Path(frames[-1].filename).resolve()).startswith(_PACKAGE)


def raised_in_torch(exc: BaseException) -> bool:
    """Whether the innermost frame of ``exc`` lies inside PyTorch (or NumPy): a torch error, not the reader's."""
    frames = inspect.getinnerframes(exc.__traceback__, context=0) if exc.__traceback__ else []
    if not frames:
        return True  # raised by C code called directly
    parts = Path(frames[-1].filename).parts
    return "torch" in parts or "numpy" in parts


def describe(value: Any) -> str:
    """A short description of an argument: dtype and shape of a tensor or array, else its type."""
    if isinstance(value, torch.Tensor):
        return f"Tensor {str(value.dtype).removeprefix('torch.')} {tuple(value.shape)}"
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return f"{type(value).__name__} {value.dtype} {tuple(value.shape)}"
    if isinstance(value, (list, tuple)) and value and len(value) <= 4:
        return f"{type(value).__name__}[{', '.join(describe(v) for v in value)}]"
    if isinstance(value, (int, float, str, bool)) or value is None:
        return repr(value)
    return type(value).__name__


def _arguments(fn: Any, args: tuple, kwargs: dict, skip: int = 1) -> str:
    """``name=description`` of every argument of a call (``skip``: leave out ``self``)."""
    try:
        bound = inspect.signature(fn).bind(*args, **kwargs)
    except TypeError:
        return ", ".join([*map(describe, args[skip:]), *(f"{k}={describe(v)}" for k, v in kwargs.items())])
    return ", ".join(f"{name}={describe(value)}" for name, value in list(bound.arguments.items())[skip:])


_SIMPLE = {
    "int": lambda v: isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)),
    "float": lambda v: isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_)),
    "bool": lambda v: isinstance(v, (bool, np.bool_)),
    "str": lambda v: isinstance(v, str),
    "torch.Tensor": lambda v: isinstance(v, torch.Tensor),
    "nn.Module": lambda v: isinstance(v, nn.Module),
    "None": lambda v: v is None,
}


def _annotation_checker(annotation: Any) -> tuple[str, Any] | None:
    """(text, predicate) for an annotation made only of the simple types above, else None."""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", None)
    if not isinstance(text, str):
        return None
    parts = [part.strip() for part in text.split("|")]
    if not all(part in _SIMPLE for part in parts):
        return None
    tests = [_SIMPLE[part] for part in parts]
    return text, lambda v: any(test(v) for test in tests)


def _checker_for(fn: Any) -> Any:
    """A function that checks bound arguments of ``fn`` against their simple annotations."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    checks = {name: c for name, p in signature.parameters.items()
              if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and (c := _annotation_checker(p.annotation)) is not None}
    if not checks:
        return None

    def check(args: tuple, kwargs: dict) -> None:
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError:
            return  # a wrong call is Python's to report
        for name, value in bound.arguments.items():
            if name in checks:
                text, ok = checks[name]
                if not ok(value):
                    raise TypeError(f"{getattr(fn, '__qualname__', fn.__name__)}: {name} must be {text}, "
                                    f"got {type(value).__name__} {value!r:.60}")
                if isinstance(value, (float, np.floating)) and value != value:
                    raise ValueError(f"{getattr(fn, '__qualname__', fn.__name__)}: {name} must be a number, got NaN")

    return check


_WRONG_TYPE = (TypeError, AttributeError)
_TRANSLATED = (RuntimeError, IndexError, KeyError, ValueError, NotImplementedError, ZeroDivisionError, OverflowError, *_WRONG_TYPE)


def translated(exc: BaseException, where: str, hint: str = "") -> Exception:
    """``exc`` (raised inside torch or on a Python line) as a TypeError (wrong type) or ValueError
    that says ``where`` first, then the original message; marked so that no outer guard wraps it again."""
    kind = TypeError if isinstance(exc, _WRONG_TYPE) else ValueError
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    error = kind(f"{where}: {text}{hint}")
    error._nnanatomy_guarded = True
    return error


def _guard_forward(cls: type, fn: Any, annotations: bool = False) -> Any:
    check = _checker_for(fn) if annotations else None

    @functools.wraps(fn)
    def forward(self: nn.Module, *args: Any, **kwargs: Any) -> Any:
        if check is not None:
            check((self, *args), kwargs)
        try:
            return fn(self, *args, **kwargs)
        except _TRANSLATED as exc:
            if _own(exc) or (not raised_in_torch(exc) and not _inside_package(exc)):
                raise  # the package's own check, or the reader's code (a callable passed in): unchanged
            name = f"{type(self).__name__}.{fn.__name__}"
            raise translated(exc, f"{name}({_arguments(fn, (self, *args), kwargs)}) failed",
                             f" — see help({name}) for the inputs it takes") from exc

    forward.__nnanatomy_guard__ = True
    return forward


def _guard_init(cls: type, fn: Any) -> Any:
    check = _checker_for(fn)

    @functools.wraps(fn)
    def __init__(self: nn.Module, *args: Any, **kwargs: Any) -> None:
        if check is not None:
            check((self, *args), kwargs)
        state = torch.random.get_rng_state()
        try:
            fn(self, *args, **kwargs)
        except BaseException as exc:
            torch.random.set_rng_state(state)
            if isinstance(exc, _TRANSLATED) and not _own(exc):
                raise translated(exc, f"{cls.__name__}({_arguments(fn, (self, *args), kwargs)}) could not be built") from exc
            raise

    __init__.__nnanatomy_guard__ = True
    return __init__


def _guard_function(fn: Any) -> Any:
    check = _checker_for(fn)

    @functools.wraps(fn)
    def function(*args: Any, **kwargs: Any) -> Any:
        if check is not None:
            check(args, kwargs)
        state = torch.random.get_rng_state()
        try:
            return fn(*args, **kwargs)
        except BaseException as exc:
            torch.random.set_rng_state(state)  # a failed call leaves the global random state as it found it
            if not isinstance(exc, _TRANSLATED):
                raise
            if _own(exc) or (not raised_in_torch(exc) and not _inside_package(exc)):
                raise
            raise translated(exc, f"{fn.__name__}({_arguments(fn, args, kwargs, skip=0)}) failed",
                             f" — see help({fn.__name__}) for the arguments it takes") from exc

    function.__nnanatomy_guard__ = True
    return function


def install(*modules: types.ModuleType) -> None:
    """Guard ``__init__`` and every public method (``forward``, ``loss``, ``generate`` ...) of each class
    defined in ``modules``, and every public function listed in a module's ``__all__``; idempotent."""
    for module in modules:
        for name in getattr(module, "__all__", ()):
            value = getattr(module, name, None)
            if inspect.isfunction(value) and value.__module__ == module.__name__ and not getattr(value, "__nnanatomy_guard__", False):
                wrapped = _guard_function(value)
                # every module that already imported the function (a package re-exporting it) gets the guarded one
                for other in list(sys.modules.values()):
                    if getattr(other, "__name__", "").startswith("nnanatomy") and other.__dict__.get(name) is value:
                        setattr(other, name, wrapped)
        for value in vars(module).values():
            if not (isinstance(value, type) and value.__module__ == module.__name__) or issubclass(value, BaseException):
                continue
            for name, member in list(vars(value).items()):
                if isinstance(member, staticmethod) and inspect.isfunction(member.__func__) and not name.startswith("_") \
                        and not getattr(member.__func__, "__nnanatomy_guard__", False):
                    setattr(value, name, staticmethod(_guard_function(member.__func__)))
                    continue
                if not inspect.isfunction(member) or getattr(member, "__nnanatomy_guard__", False):
                    continue
                if name == "__init__":
                    setattr(value, name, _guard_init(value, member))
                elif not name.startswith("_"):  # forward, loss, generate, predict, ...
                    # forward runs in every training step: its inputs are left to torch (errors translated)
                    setattr(value, name, _guard_forward(value, member, annotations=name != "forward"))


def call(name: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` — a model or function the reader passed in — with an error raised
    inside torch turned into a ValueError (TypeError for a wrong type) that names ``name`` and
    what it was given. The reader's own exceptions and the package's clear errors pass unchanged."""
    try:
        return fn(*args, **kwargs)
    except _TRANSLATED as exc:
        if _own(exc) or not raised_in_torch(exc):
            raise
        shown = ", ".join([*map(describe, args), *(f"{k}={describe(v)}" for k, v in kwargs.items())])
        raise translated(exc, f"{name} failed on ({shown})") from exc
