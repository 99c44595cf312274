"""Where the code runs: device choice, seeding, the run scale and an environment report.

Every chapter starts with the same three lines::

    device = runtime.get_device()
    runtime.seed_everything(0)
    print(runtime.environment_report(device))
"""

from __future__ import annotations

import contextlib
import os
import platform
import random
import sys
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch

from ._checks import check_bool, check_device, check_int

__all__ = ["get_device", "seed_everything", "environment_report", "get_scale", "move_to", "eval_mode", "synchronize", "fix_threads", "SCALES"]

#: The run sizes a chapter can choose between. ``"cpu"`` is what CI executes and what the
#: committed outputs show; ``"gpu"`` trains longer and larger where a GPU is available.
SCALES = ("cpu", "gpu")

_DEVICE_ORDER = ("cuda", "mps", "cpu")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def get_device(prefer: str | None = None) -> torch.device:
    """Return the best available device: CUDA, then Apple's MPS, then the CPU.

    Args:
        prefer: ``None`` (automatic) or one of ``"cuda"``, ``"mps"``, ``"cpu"``. The environment
            variable ``NNANATOMY_DEVICE`` sets the same preference for a whole session.

    Raises:
        ValueError: ``prefer`` names an unknown device or one that is not available here.
    """
    if prefer is None:
        prefer = os.environ.get("NNANATOMY_DEVICE") or None
    if prefer is not None:
        if not isinstance(prefer, str) or prefer not in _DEVICE_ORDER:
            raise ValueError(f"prefer must be None or one of {_DEVICE_ORDER}, got {prefer!r}")
        available = {"cuda": torch.cuda.is_available(), "mps": _mps_available(), "cpu": True}
        if not available[prefer]:
            raise ValueError(f"device {prefer!r} was requested but is not available on this machine")
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int, *, deterministic: bool = False) -> int:
    """Seed Python's ``random``, NumPy's global generator and PyTorch (CPU and all GPUs).

    Args:
        seed: a non-negative integer below 2**32.
        deterministic: also ask PyTorch for deterministic kernels (slower on GPU; some
            operations then raise an error instead of running non-deterministically).

    Returns:
        The seed, so a notebook can print what it used.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= int(seed) < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    seed = int(seed)
    deterministic = check_bool("deterministic", deterministic)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    if deterministic:
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    return seed


def get_scale(default: str = "cpu") -> str:
    """The run scale of this session: ``"cpu"`` (default) or ``"gpu"``.

    Set ``NNANATOMY_SCALE=gpu`` before starting Jupyter (or in Colab's first cell) to run the
    larger, longer configurations a chapter documents. CI always runs ``"cpu"``.
    """
    if default not in SCALES:
        raise ValueError(f"default must be one of {SCALES}, got {default!r}")
    scale = os.environ.get("NNANATOMY_SCALE", default).strip().lower()
    if scale not in SCALES:
        raise ValueError(f"NNANATOMY_SCALE must be one of {SCALES}, got {scale!r}")
    if scale == "gpu" and not torch.cuda.is_available():
        warnings.warn("NNANATOMY_SCALE=gpu without CUDA: the larger configurations will run on this machine's "
                      f"{get_device().type.upper()}, which may take hours; unset it for the 'cpu' scale", RuntimeWarning,
                      stacklevel=2)
    return scale


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "mps":
        return "mps (Apple GPU)"
    return f"cpu ({platform.machine() or 'unknown'}, {torch.get_num_threads()} threads)"


def environment_report(device: torch.device | str | None = None) -> str:
    """One line per fact about this environment: Python, PyTorch, NumPy, the device.

    The lines vary from machine to machine, so notebooks print them in a cell marked
    ``# NBVAL_IGNORE_OUTPUT``.
    """
    device = get_device() if device is None else check_device("device", device)
    from . import __version__

    lines = [
        f"python    {sys.version.split()[0]}",
        f"torch     {torch.__version__}",
        f"numpy     {np.__version__}",
        f"nnanatomy {__version__}",
        f"device    {_device_name(device)}",
        f"scale     {get_scale()}",
    ]
    return "\n".join(lines)


def move_to(obj: Any, device: torch.device | str) -> Any:
    """Move every tensor inside ``obj`` (nested tuples, lists, dicts) to ``device``; anything
    else inside (numbers, strings, None) is returned as it is."""
    return _move(obj, check_device("device", device))


def _move(obj: Any, device: torch.device) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=True)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # named tuple
        return type(obj)(*(_move(o, device) for o in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_move(o, device) for o in obj)
    if isinstance(obj, Mapping):
        return {k: _move(v, device) for k, v in obj.items()}
    return obj


def fix_threads(threads: int = 1) -> int:
    """Run PyTorch's and NumPy's CPU kernels on ``threads`` threads from now on; return the number
    of threads PyTorch used before.

    A sum split over another number of threads is added up in another order, and floating-point
    addition is not associative: the last digits of a result change, and after thousands of
    training steps visible ones do. The chapters call ``fix_threads(1)`` first, so that every
    number they print is the same on a laptop with 2 cores or a workstation with 16 (what can
    still change a digit is the CPU's instruction set, and a GPU). One thread also lets the test
    suite run several notebooks side by side.
    """
    threads = check_int("threads", threads, 1, maximum=1024)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    from threadpoolctl import threadpool_limits  # NumPy's BLAS (scikit-learn depends on it too)

    threadpool_limits(limits=threads)
    return before


def synchronize(device: torch.device | str) -> None:
    """Wait until ``device`` has finished the work queued on it. A GPU (CUDA, MPS) runs
    asynchronously: a call returns before its kernels finish, so time GPU work between two
    ``synchronize`` calls. On the CPU there is nothing to wait for."""
    device = check_device("device", device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


@contextlib.contextmanager
def eval_mode(module: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """Put ``module`` in eval mode for the ``with`` block and give it back its train/eval mode
    afterwards — also when the block raises."""
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)
