"""Argument checks shared by the whole package: one wording for every public boundary.

Every check names the argument, says what was expected and what came instead, and returns the
value converted (``int``, ``float``, ``bool``). NaN never passes a range check (``x < 0`` is
False for NaN, so every range test here is written the other way round: what must hold).
"""

from __future__ import annotations

from collections.abc import Iterable

import math
from typing import Any

import numpy as np
import torch

#: the largest count any generator or size argument accepts: beyond it nothing fits in memory or
#: finishes in a notebook, so it fails at once instead of hanging
MAX_COUNT = 10_000_000


def check_bool(name: str, value: object) -> bool:
    """``value`` as a bool; strings, numbers and None are refused (``"no"`` is truthy)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def check_int(name: str, value: object, minimum: int | None = None, maximum: int | None = MAX_COUNT) -> int:
    """``value`` as an int in ``[minimum, maximum]``; bools and floats are refused."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum:,} (more would not fit in memory or finish), got {value:,}")
    return int(value)


class MissingFileError(FileNotFoundError, ValueError):
    """A path argument that names no file: a FileNotFoundError, and a ValueError like every other
    bad argument of the package."""


def check_real(name: str, value: object, low: float | None = None, high: float | None = None, *,
               low_open: bool = False, high_open: bool = False, finite: bool = True) -> float:
    """``value`` as a float in the interval given (closed unless ``low_open``/``high_open``).

    NaN is always refused and ±inf unless ``finite=False``; bools and strings are refused.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    x = float(value)
    if math.isnan(x) or (finite and math.isinf(x)):
        raise ValueError(f"{name} must be a finite number, got {x}")
    if low is not None and not (x > low if low_open else x >= low):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {x}")
    if high is not None and not (x < high if high_open else x <= high):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}, got {x}")
    return x


def check_finite(name: str, value: np.ndarray | torch.Tensor) -> None:
    """Refuse NaN or Inf anywhere in an array or tensor (a silent NaN spreads through everything)."""
    if isinstance(value, torch.Tensor):
        if (value.is_floating_point() or value.is_complex()) and not without_values(value) and not bool(torch.isfinite(value).all()):
            raise ValueError(f"{name} contains NaN or Inf")
    elif isinstance(value, np.ndarray):
        if value.dtype.kind in "fc" and not bool(np.isfinite(value).all()):
            raise ValueError(f"{name} contains NaN or Inf")


def check_module(name: str, value: Any) -> torch.nn.Module:
    if not isinstance(value, torch.nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, got {type(value).__name__}")
    return value


def check_device(name: str, value: object) -> torch.device:
    """``value`` (a ``torch.device`` or a string such as ``"cuda:0"``) as a ``torch.device``."""
    if isinstance(value, torch.device):
        return value
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a torch.device or a string such as 'cpu' or 'cuda:0', got {type(value).__name__}")
    try:
        return torch.device(value)
    except RuntimeError as exc:
        raise ValueError(f"{name} must name a device such as 'cpu', 'cuda', 'cuda:0' or 'mps', got {value!r}") from exc


def check_array(name: str, value: object, *, ndim: int | tuple[int, ...] | None = None, kind: str = "f",
                finite: bool = True) -> np.ndarray:
    """A NumPy array of dtype kind ``kind`` (``"f"`` float, ``"i"`` integer, ``"b"`` bool, or several,
    e.g. ``"iu"``) with ``ndim`` dimensions and, for floats, no NaN or Inf."""
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array, got {type(value).__name__}")
    kinds = {"f": "floating-point", "i": "integer", "u": "unsigned", "b": "boolean"}
    if value.dtype.kind not in kind:
        raise TypeError(f"{name} must be a {' or '.join(kinds[k] for k in kind)} array, got dtype {value.dtype}")
    dims = (ndim,) if isinstance(ndim, int) else ndim
    if dims is not None and value.ndim not in dims:
        raise ValueError(f"{name} must have {' or '.join(map(str, dims))} dimensions, got shape {value.shape}")
    if finite and value.dtype.kind in "fc":
        check_finite(name, value)
    return value


def check_str(name: str, value: object, allow_none: bool = False) -> str | None:
    if value is None and allow_none:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str{' or None' if allow_none else ''}, got {type(value).__name__}")
    return value


def check_choice(name: str, value: object, choices: Iterable[str]) -> str:
    """``value`` if it is one of the strings ``choices``; TypeError for a non-str, ValueError otherwise."""
    choices = sorted(choices)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, one of {choices}, got {type(value).__name__}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def without_values(t: torch.Tensor) -> bool:
    """Whether ``t`` has a shape but no data: a tensor on ``meta``, or a fake tensor (the shapes-only
    runs of ``explore.summary`` and ``explore.memory``). Checks on values are skipped for these."""
    if t.is_meta:
        return True
    # by name: importing torch._subclasses.fake_tensor here would pull in torch._dynamo, whose
    # import draws from Python's global random state
    return any(c.__name__ == "FakeTensor" for c in type(t).__mro__)


def outside(values: torch.Tensor, low: int, high: int) -> bool:
    """Whether any of the integer ``values`` lies outside ``[low, high)``. One host sync (a GPU
    waits for each), where ``values.min() < low or values.max() >= high`` makes two."""
    if values.numel() == 0 or without_values(values):
        return False  # nothing to check (a tensor on meta has a shape and no values)
    smallest, largest = torch.stack(torch.aminmax(values)).tolist()  # both in one transfer
    return smallest < low or largest >= high

