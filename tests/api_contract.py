"""The bad-input contract of nnanatomy's public API, probed systematically.

Every public callable (function, class, public method) is listed by `public_callables`. Each
one has a *valid call* in `api_calls.CALLS` or a reason in `api_calls.NOT_PROBED`. The probe
calls it once as given (that call must succeed), then once per *mutation*: one argument at a
time replaced by something wrong — a string for a bool, NaN/Inf for a float, a float or a
string for an int, a huge size, NaN in the data, an empty or extra-dimensional array, None or a
bare object — and classifies what happened:

    a   a clear ValueError/TypeError raised by nnanatomy's own code (or, for an exercise
        checker, a verdict)
    b   another exception type, or an error leaked from torch/NumPy/Python internals
    c   bad input accepted, or NaN/Inf returned where the valid call gave finite numbers
    d   a hang (more than HANG_SECONDS, on two runs of the case)
    e   state corrupted by a failed call: an argument changed in place, a module left in the
        other train/eval mode, or the global random state consumed
    ok  a harmless variation handled correctly (a zero, a negative offset, an empty array ...)

`tools/probe_api.py` prints the counts per module; `tests/test_api_contract.py` asserts them.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import math
import os
import pkgutil
import random
import signal
import sys
import tempfile
import traceback
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

import nnanatomy

PACKAGE_DIR = str(Path(nnanatomy.__file__).resolve().parent)
HANG_SECONDS = 5.0

REJECT = "reject"  # the mutation must raise a clear error
MAY = "may"  # the mutation may be accepted, but must not produce NaN/Inf or leak an error


class Hang(BaseException):
    """Raised by the alarm when a probed call runs longer than HANG_SECONDS."""


@dataclasses.dataclass
class Call:
    """A valid call: ``fn(*args, **kwargs)``.

    ``nan_ok`` lists the arguments through which NaN may propagate to the output by
    documented design (elementwise maths such as ``scratch.relu``): for them a NaN result is a
    correct answer, not a silent failure.
    ``checker`` marks an exercise checker, whose every answer must end in a verdict.
    ``accepts_any`` lists arguments that take any value by design (``runtime.move_to`` passes
    non-tensors through): a mutation of them that is accepted is fine.
    ``seconds`` replaces HANG_SECONDS for a call whose valid run takes seconds by design (it
    synthesises a whole data split): long enough for a slow, loaded CPU, short enough to catch a hang.
    """

    fn: Callable[..., Any]
    args: tuple = ()
    kwargs: dict = dataclasses.field(default_factory=dict)
    nan_ok: tuple[str, ...] = ()
    checker: bool = False
    accepts_any: tuple[str, ...] = ()
    seconds: float | None = None


@dataclasses.dataclass
class Case:
    name: str
    argument: str
    mutation: str
    outcome: str
    detail: str = ""


# --------------------------------------------------------------------------- the public API


def _public_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(nnanatomy.__path__, "nnanatomy."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        names.append(info.name)
    return sorted(names)


def public_callables() -> dict[str, Any]:
    """Every public function, class and public method defined in nnanatomy, by dotted name.

    A module's public names are its ``__all__`` (or, without one, what it defines without a
    leading underscore); a class's public methods are the functions it defines itself whose
    names do not start with an underscore (``forward`` included).
    """
    found: dict[str, Any] = {}
    for module_name in _public_modules():
        module = importlib.import_module(module_name)
        names = getattr(module, "__all__", None)
        if names is None:
            names = [n for n, v in vars(module).items() if not n.startswith("_") and (inspect.isfunction(v) or inspect.isclass(v))]
        for name in names:
            value = getattr(module, name)
            if inspect.ismodule(value) or not callable(value):
                continue
            owner = getattr(value, "__module__", "") or ""
            if not owner.startswith("nnanatomy.") or any(p.startswith("_") for p in owner.split(".")):
                continue
            key = f"{owner.removeprefix('nnanatomy.')}.{value.__qualname__}"
            if key in found:
                continue
            found[key] = value
            if inspect.isclass(value):
                for attr, member in vars(value).items():
                    if attr.startswith("_"):
                        continue
                    if isinstance(member, (staticmethod, classmethod)):
                        member = member.__func__
                    if inspect.isfunction(member):
                        found[f"{key}.{attr}"] = member
    return dict(sorted(found.items()))


# --------------------------------------------------------------------------- mutations


def _is_float_array(v: Any) -> bool:
    if isinstance(v, np.ndarray):
        return np.issubdtype(v.dtype, np.floating) and v.size > 0
    if isinstance(v, torch.Tensor):
        return v.is_floating_point() and v.numel() > 0
    return False


def _is_int_array(v: Any) -> bool:
    if isinstance(v, np.ndarray):
        return np.issubdtype(v.dtype, np.integer) and v.size > 0
    if isinstance(v, torch.Tensor):
        return not v.is_floating_point() and not v.is_complex() and v.dtype != torch.bool and v.numel() > 0
    return False


def _with_nan(v: Any) -> Any:
    out = v.copy() if isinstance(v, np.ndarray) else v.detach().clone()
    out.reshape(-1)[0] = float("nan")
    return out


def mutations(value: Any, default: Any, nan_ok: bool, checker: bool, annotation: str = "") -> Iterator[tuple[str, Any, str]]:
    """(label, replacement, expectation) for one argument whose valid value is ``value``
    (``annotation``: its type hint as text — an int argument hinted ``int | float`` may take 2.5)."""
    none_expect = MAY if default is None else REJECT
    if isinstance(value, bool) or isinstance(value, np.bool_):
        yield "str-for-bool", "no", REJECT
    elif isinstance(value, (int, np.integer)):
        yield "negative", -1, MAY
        yield "zero", 0, MAY
        yield "float-for-int", 2.5, (MAY if "float" in annotation else REJECT)
        yield "str-for-int", "3", REJECT
        yield "huge", 10**12, MAY
    elif isinstance(value, (float, np.floating)):
        yield "nan", float("nan"), REJECT
        yield "inf", float("inf"), MAY
        yield "negative", -1.0, MAY
        yield "str-for-float", "0.5", REJECT
    elif isinstance(value, str):
        yield "int-for-str", 3, REJECT
        yield "unknown-str", "no-such-option", MAY
    elif _is_float_array(value):
        yield "nan-data", _with_nan(value), (MAY if nan_ok else REJECT)
        yield "empty", value[:0], MAY
        yield "extra-dim", value[None], MAY
        yield "int-dtype", (value.astype(np.int64) if isinstance(value, np.ndarray) else value.long()), MAY
    elif _is_int_array(value):
        yield "negative-ids", -value - 1, MAY
        yield "float-dtype", (value.astype(np.float64) if isinstance(value, np.ndarray) else value.float()), MAY
        yield "empty", value[:0], MAY
        yield "extra-dim", value[None], MAY
    elif isinstance(value, nn.Module):
        yield "other-module", nn.Linear(1, 1), MAY
    elif checker and callable(value) and not isinstance(value, type):
        yield "fn-returns-none", lambda *a, **k: None, MAY
        yield "fn-returns-str", lambda *a, **k: "x", MAY
        yield "fn-returns-array", lambda *a, **k: np.zeros(1), MAY
        yield "fn-raises", _raises, MAY
    if value is not None:
        yield "none", None, none_expect
        yield "object", object(), REJECT
    elif not checker:
        yield "object", object(), REJECT


def _raises(*args: Any, **kwargs: Any) -> Any:
    raise ZeroDivisionError("a student's function that fails")


# --------------------------------------------------------------------------- state


def _global_rng() -> tuple:
    return (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())


def _same_rng(a: tuple, b: tuple) -> bool:
    return torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]


def _snapshot(value: Any, depth: int = 0) -> Any:
    if depth > 3:
        return None
    if isinstance(value, torch.Tensor):
        return ("tensor", value.detach().clone()) if value.device.type != "meta" else None
    if isinstance(value, np.ndarray):
        return ("array", value.copy())
    if isinstance(value, nn.Module):
        try:
            state = {k: v.detach().clone() for k, v in value.state_dict().items() if v.device.type != "meta"}
        except Exception:
            state = {}
        return ("module", state, [m.training for m in value.modules()])
    if isinstance(value, (list, tuple)):
        return ("seq", [_snapshot(v, depth + 1) for v in value[:50]])
    if isinstance(value, dict):
        return ("dict", {k: _snapshot(v, depth + 1) for k, v in list(value.items())[:50]})
    if hasattr(value, "__dict__") and type(value).__module__.startswith("nnanatomy."):
        return ("object", {k: _snapshot(v, depth + 1) for k, v in vars(value).items()})
    return None


def _unchanged(before: Any, value: Any, depth: int = 0) -> bool:
    if before is None:
        return True
    kind = before[0]
    try:
        if kind == "tensor":
            return before[1].shape == value.shape and torch.equal(before[1], value.detach()) or bool(
                torch.isnan(before[1]).any() and torch.allclose(before[1], value.detach(), equal_nan=True)
            )
        if kind == "array":
            return before[1].shape == value.shape and np.array_equal(before[1], value, equal_nan=before[1].dtype.kind in "fc")
        if kind == "module":
            state = value.state_dict()
            same = all(k in state and torch.equal(v, state[k]) or (v.is_floating_point() and torch.isnan(v).any()) for k, v in before[1].items())
            return same and before[2] == [m.training for m in value.modules()]
        if kind == "seq":
            return all(_unchanged(b, v, depth + 1) for b, v in zip(before[1], value))
        if kind == "dict":
            return all(_unchanged(b, value[k], depth + 1) for k, b in before[1].items() if k in value)
        if kind == "object":
            return all(_unchanged(b, getattr(value, k, None), depth + 1) for k, b in before[1].items())
    except Exception:
        return False
    return True


# --------------------------------------------------------------------------- outcomes


def _finite(value: Any, depth: int = 0) -> bool:
    """Whether every number in ``value`` is finite (NaN/Inf anywhere → False)."""
    if depth > 4:
        return True
    if isinstance(value, torch.Tensor):
        return value.device.type == "meta" or not (value.is_floating_point() or value.is_complex()) or bool(torch.isfinite(value).all())
    if isinstance(value, np.ndarray):
        return value.dtype.kind not in "fc" or bool(np.isfinite(value).all())
    if isinstance(value, (float, np.floating)):
        return math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return all(_finite(v, depth + 1) for v in value[:200])
    if isinstance(value, dict):
        return all(_finite(v, depth + 1) for v in list(value.values())[:200])
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return all(_finite(getattr(value, f.name), depth + 1) for f in dataclasses.fields(value))
    return True


def _raised_by_package(exc: BaseException) -> bool:
    """A deliberate check: the innermost frame is a ``raise`` statement in nnanatomy's code (Python
    failing on one of its lines — ``None.shape``, ``'<' not supported`` — does not count), or a
    torch error the package translated into a message of its own."""
    if getattr(exc, "_nnanatomy_guarded", False):
        return True
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return False
    last = frames[-1]
    inside = bool(last.filename) and not last.filename.startswith("<") and str(Path(last.filename).resolve()).startswith(PACKAGE_DIR)
    return inside and (last.line or "").lstrip().startswith("raise")


def _alarm(signum: int, frame: Any) -> None:
    raise Hang()


def invoke(call: Call) -> tuple[Any, BaseException | None]:
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, call.seconds or HANG_SECONDS)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return call.fn(*call.args, **call.kwargs), None
    except BaseException as exc:  # noqa: BLE001 - the probe classifies every exception
        if isinstance(exc, KeyboardInterrupt):
            raise
        return None, exc
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _parameters(fn: Callable) -> list[inspect.Parameter]:
    try:
        return list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return []


def _default(p: inspect.Parameter) -> Any:
    """The parameter's default, or None when its annotation admits None (``x: T | None``)."""
    return None if "None" in str(p.annotation) else p.default


def _arguments(call: Call) -> list[tuple[str, Any, Any, Callable[[Call, Any], Call], str]]:
    """(name, value, default, replace, annotation) for every positional, keyword and defaulted argument."""
    params = [p for p in _parameters(call.fn) if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    out = []
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    for i, value in enumerate(call.args):
        name = positional[i].name if i < len(positional) else f"args[{i}]"
        default = _default(positional[i]) if i < len(positional) else inspect.Parameter.empty

        def replace(c: Call, new: Any, i: int = i) -> Call:
            args = list(c.args)
            args[i] = new
            return dataclasses.replace(c, args=tuple(args))

        out.append((name, value, default, replace, str(positional[i].annotation) if i < len(positional) else ""))
    given = {p.name for p in positional[: len(call.args)]}
    for p in params:
        if p.name in given:
            continue
        if p.name in call.kwargs:
            value = call.kwargs[p.name]
        elif p.default is not inspect.Parameter.empty:
            value = p.default
        else:
            continue

        def replace(c: Call, new: Any, name: str = p.name) -> Call:
            return dataclasses.replace(c, kwargs={**c.kwargs, name: new})

        out.append((p.name, value, _default(p), replace, str(p.annotation)))
    return out


def classify(call: Call, expectation: str, baseline_finite: bool, label: str, nan_in: bool = False) -> tuple[str, str]:
    """Run one mutated call and return (outcome class, detail)."""
    rng_before = _global_rng()
    snapshots = [(v, _snapshot(v)) for v in [*call.args, *call.kwargs.values()]]
    self_obj = getattr(call.fn, "__self__", None)
    self_snapshot = _snapshot(self_obj) if self_obj is not None else None
    grad_before = torch.is_grad_enabled()
    result, exc = invoke(call)
    if torch.is_grad_enabled() != grad_before:
        torch.set_grad_enabled(grad_before)
        return "e", f"left autograd {'enabled' if grad_before is False else 'disabled'} ({'raised' if exc else 'returned'})"
    if isinstance(exc, Hang):
        return "d", f"ran longer than {call.seconds or HANG_SECONDS:.0f} s"
    if exc is not None:
        corrupted = [type(v).__name__ for v, s in snapshots if not _unchanged(s, v)]
        if self_obj is not None and not _unchanged(self_snapshot, self_obj):
            corrupted.append(f"its {type(self_obj).__name__}")
        if not _same_rng(rng_before, _global_rng()):
            corrupted.append("the global random state")
        if corrupted:
            return "e", f"raised {type(exc).__name__} and changed {', '.join(corrupted)}"
        message = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}"
        if call.checker and label.startswith("fn-"):
            return "b", f"a student's function that returns the wrong thing gets a traceback, not a verdict ({message})"
        if isinstance(exc, (ValueError, TypeError)) and _raised_by_package(exc):
            return "a", message
        return "b", message
    if call.checker:
        from nnanatomy.exercises._report import CheckResult

        if isinstance(result, CheckResult):
            return ("a" if expectation == REJECT else "ok"), f"verdict: {result.message[:100]}"
        return "c", f"returned {type(result).__name__}, not a verdict"
    if expectation == REJECT:
        return "c", f"accepted, returned {type(result).__name__}"
    if baseline_finite and not _finite(result) and not nan_in:
        return "c", "returned NaN/Inf"
    return "ok", ""


def probe(name: str, factory: Callable[[], Call]) -> list[Case]:
    """All cases of one callable: the valid call, then every mutation of every argument."""
    base, exc = invoke(Call(factory))
    if exc is not None or not isinstance(base, Call):
        return [Case(name, "-", "build", "fixture", f"the valid call could not be built: {exc!r}")]
    result, exc = invoke(base)
    if exc is not None:
        return [Case(name, "-", "valid", "fixture", f"the valid call failed: {type(exc).__name__}: {exc}")]
    baseline_finite = _finite(result)
    cases = []
    # a model propagates NaN in its input like every torch layer (documented in nnanatomy/_guard.py)
    module_method = isinstance(getattr(base.fn, "__self__", None), nn.Module)
    for index, (arg, value, default, _, annotation) in enumerate(_arguments(base)):
        nan_ok = arg in base.nan_ok or module_method
        for label, replacement, expectation in list(mutations(value, default, nan_ok, base.checker, annotation)):
            if arg in base.accepts_any:
                expectation = MAY
            fresh, exc = invoke(Call(factory))
            if exc is not None:
                cases.append(Case(name, arg, label, "fixture", f"rebuilding failed: {exc!r}"))
                continue
            replace = _arguments(fresh)[index][3]
            outcome, detail = classify(replace(fresh, replacement), expectation, baseline_finite, label, nan_in=nan_ok and label == "nan-data")
            if outcome == "d":  # a hang must hang twice: a first call can pay a one-off cost (a JIT compile) on a loaded machine
                again, exc = invoke(Call(factory))
                if exc is None:
                    outcome, detail = classify(_arguments(again)[index][3](again, replacement), expectation, baseline_finite, label,
                                               nan_in=nan_ok and label == "nan-data")
            cases.append(Case(name, arg, label, outcome, detail))
    return cases


def probe_all(names: list[str] | None = None) -> tuple[list[Case], dict[str, str]]:
    """Probe every callable with a valid call; return the cases and the callables left unprobed."""
    from api_calls import CALLS, NOT_PROBED

    api = public_callables()
    missing = {n: "no valid call and no reason" for n in api if n not in CALLS and n not in NOT_PROBED}
    cases: list[Case] = []
    torch_threads = torch.get_num_threads()
    here = os.getcwd()
    # a mutated string argument can be a valid path (save_checkpoint("no-such-option")): whatever the calls
    # write lands in a folder of its own, never in the repository
    with tempfile.TemporaryDirectory(prefix="nnanatomy-probe-") as scratch:
        os.chdir(scratch)
        try:
            for number, name in enumerate(names or list(CALLS)):
                if name not in api:
                    cases.append(Case(name, "-", "lookup", "fixture", "not a public callable (renamed or removed?)"))
                    continue
                # each callable in a folder of its own: what one writes (fetch("no-such-option") makes a
                # folder) cannot change how the next behaves
                folder = os.path.join(scratch, str(number))
                os.makedirs(folder)
                os.chdir(folder)
                state = _global_rng()
                cases.extend(probe(name, CALLS[name]))
                torch.set_rng_state(state[0])
                np.random.seed(0)
                torch.set_num_threads(torch_threads)
        finally:
            os.chdir(here)
    return cases, missing


def module_of(name: str) -> str:
    head = name.split(".")[0]
    return "models.pretrained" if name.startswith("models.pretrained") else head


def tally(cases: list[Case]) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = {}
    for case in cases:
        row = table.setdefault(module_of(case.name), {k: 0 for k in ("callables", "cases", "a", "b", "c", "d", "e", "ok", "fixture")})
        row["cases"] += 1
        row[case.outcome] += 1
    for module, row in table.items():
        row["callables"] = len({c.name for c in cases if module_of(c.name) == module})
    return table


if __name__ == "__main__":  # pragma: no cover - use tools/probe_api.py
    sys.exit("run tools/probe_api.py")
