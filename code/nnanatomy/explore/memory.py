"""Training memory, measured and predicted.

``summary`` reports the bytes of every layer's *output*, a heuristic for activation memory. What a
training step really keeps is what autograd saves for the backward pass, and that is often
something else: a convolution keeps its *input*, a ReLU its output, a matrix product both
operands, a dropout its mask. :func:`memory` records exactly those tensors (through
``torch.autograd.graph.saved_tensors_hooks``, each storage counted once, attributed to the module
whose operation saved it), then predicts the peak of one training step from a liveness analysis
of every operation the step runs:

* **forward** — parameters, buffers, inputs and optimiser state are resident; a tensor is alive
  from the operation that creates it to its last use, or, if autograd saved it, until the
  backward pass has gone past the earliest operation that saved it;
* **backward** — walking the operations in reverse, saved tensors are freed, the gradient of a
  parameter appears at its last use, and the gradient of an activation lives from its last
  consumer back to its producer;
* **optimiser step** — every gradient, the state, and the step's own temporaries (PyTorch's
  single-tensor Adam makes two of the largest parameter's size; the multi-tensor version used on
  CUDA, one of every parameter).

What it does not model: workspaces a kernel allocates inside its own backward (a convolution's
im2col buffers, a fused LSTM's), the copies autograd makes when a gradient must be made
contiguous, and the allocator's caching. These make the measured peak higher than predicted on
some models; the report's ``error`` says by how much.

Activation checkpointing and mixed precision change the prediction as they change the step: a
checkpointed module keeps only its inputs and recomputes what it saved when the backward pass
reaches it; under autocast the saved copies are half-size. On ``device="meta"`` the step runs on
fake tensors (shapes, no data), so the prediction is available for models far too large to run.
On a CPU the real peak is measured from the profiler's record of every allocation and free
during the step, added to the bytes of the tensors the step starts with (parameters, buffers,
inputs, optimiser state); on CUDA with ``torch.cuda.max_memory_allocated``. Allocator caching and fragmentation are not modelled: the
prediction is of the bytes held by tensors.
"""

from __future__ import annotations

import contextlib
import functools

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from ._copying import deepcopy_module
from .. import _guard
from .._checks import check_device
from .formatting import format_bytes

__all__ = ["MemoryReport", "MemoryRow", "memory", "OPTIMIZER_STATES"]

OPTIMIZER_STATES = {"adam": 2, "adamw": 2, "momentum": 1, "sgd": 0}  # state tensors per parameter
_AUTOCAST = (torch.bfloat16, torch.float16)
_FUSED_RNN = {"mkldnn_rnn_layer", "_cudnn_rnn", "_thnn_fused_lstm_cell", "_thnn_fused_gru_cell", "lstm", "gru", "rnn_tanh", "rnn_relu"}


@dataclass(frozen=True)
class MemoryRow:
    name: str  # dotted module name
    type: str  # class name
    saved_bytes: int  # storages this module's own operations saved for backward (its input included, weights not), each counted once
    parameter_bytes: int  # its own parameters (not its children's)


@dataclass
class MemoryReport:
    """What one training step keeps and the peak it reaches. Bytes throughout."""

    model_name: str
    device: str  # "cpu", "cuda", or "meta" (fake tensors: nothing computed or allocated)
    optimizer: str | None
    autocast: str | None  # "bfloat16", "float16" or None
    checkpoint: tuple[str, ...]
    rows: list[MemoryRow]
    parameters: int
    buffers: int
    inputs: int
    gradients: int
    optimizer_state: int
    activations: int  # saved for backward in a step without checkpointing, each storage once
    kept: int  # what stays saved between forward and backward with this step's checkpointing
    predicted_peak: int
    peak_phase: str  # "forward", "backward" or "optimizer step"
    measured_peak: int | None  # None on meta
    timeline: list[tuple[str, int]] = field(repr=False, default_factory=list)  # (phase, live bytes) per operation
    notes: list[str] = field(default_factory=list)

    @property
    def error(self) -> float | None:
        """(predicted − measured) / measured, or None where nothing was measured."""
        if self.measured_peak is None or self.measured_peak == 0:
            return None
        return (self.predicted_peak - self.measured_peak) / self.measured_peak

    def _lines(self) -> list[tuple[str, str]]:
        lines = [("parameters", format_bytes(self.parameters)), ("buffers", format_bytes(self.buffers)),
                 ("inputs", format_bytes(self.inputs)), ("gradients", format_bytes(self.gradients)),
                 (f"optimiser state ({self.optimizer or 'none'})", format_bytes(self.optimizer_state)),
                 ("activations saved for backward", format_bytes(self.activations))]
        if self.checkpoint:
            lines.append((f"… kept with {len(self.checkpoint)} checkpointed module(s)", format_bytes(self.kept)))
        lines.append((f"predicted peak ({self.peak_phase})", format_bytes(self.predicted_peak)))
        if self.measured_peak is not None:
            lines.append((f"measured peak ({self.device})", f"{format_bytes(self.measured_peak)}  (prediction {self.error:+.1%})"))
        return lines

    def __str__(self) -> str:
        mode = ", ".join(x for x in (self.autocast and f"autocast {self.autocast}",
                                     self.checkpoint and f"checkpoint {', '.join(self.checkpoint)}") if x)
        head = f"{self.model_name} — one training step on {self.device}" + (f" ({mode})" if mode else "")
        width = max([len(r.name) for r in self.rows] + [6])
        table = [f"{'module':{width}s} {'type':16s} {'kept for backward':>18s} {'parameters':>11s}"]
        table += [f"{r.name:{width}s} {r.type[:16]:16s} {format_bytes(r.saved_bytes):>18s} {format_bytes(r.parameter_bytes):>11s}"
                  for r in self.rows]
        return "\n".join([head, *table, "", *(f"{k:38s} {v}" for k, v in self._lines()), *(f"note: {n}" for n in self.notes)])

    __repr__ = __str__

    def _repr_html_(self) -> str:
        from html import escape

        rows = "".join(f"<tr><td>{escape(r.name)}</td><td>{escape(r.type)}</td><td>{format_bytes(r.saved_bytes)}</td>"
                       f"<td>{format_bytes(r.parameter_bytes)}</td></tr>" for r in self.rows)
        totals = "".join(f"<tr><th colspan='2'>{escape(k)}</th><td colspan='2'>{escape(v)}</td></tr>" for k, v in self._lines())
        return (f"<div class='nna-summary'><p><b>{escape(self.model_name)}</b> — one training step on {escape(self.device)}</p>"
                "<table><thead><tr><th>module</th><th>type</th><th>kept for backward</th><th>parameters</th></tr></thead>"
                f"<tbody>{rows}</tbody><tfoot>{totals}</tfoot></table></div>")

    def plot(self, ax: Any = None) -> Any:
        """The predicted live bytes through the step, operation by operation, in MiB."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 3))
        elif not isinstance(ax, plt.Axes):
            raise TypeError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
        colours = {"forward": "tab:blue", "backward": "tab:orange", "optimizer step": "tab:green"}
        start = 0
        for phase in colours:
            values = [b / 2**20 for p, b in self.timeline if p == phase]
            if values:
                ax.plot(range(start, start + len(values)), values, color=colours[phase], label=phase, linewidth=1.2,
                        marker="o" if len(values) == 1 else None)
                start += len(values)
        ax.axhline(self.predicted_peak / 2**20, color="grey", linestyle=":", linewidth=1, label="predicted peak")
        if self.measured_peak is not None:
            ax.axhline(self.measured_peak / 2**20, color="black", linestyle="--", linewidth=1, label="measured peak")
        ax.set(xlabel="operation of the step (forward, then backward in reverse, then the optimiser)",
               ylabel="live tensor memory (MiB)", title=f"{self.model_name}: memory through one training step")
        ax.legend(fontsize=8)
        return ax


# ------------------------------------------------------------------------------------- recording
def _key(t: torch.Tensor) -> int | None:
    try:
        return t.untyped_storage()._cdata
    except (RuntimeError, NotImplementedError, TypeError):  # sparse and other storage-less layouts
        return None


def _nbytes(t: torch.Tensor) -> int:
    return t.untyped_storage().nbytes()


class _Recorder(TorchDispatchMode):
    """Every operation of a forward pass: which storages it creates and uses, and which modules
    were running. It keeps a reference to every tensor it sees, so that a freed storage's address
    cannot be reused by another during the recording."""

    def __init__(self, running: list[nn.Module]) -> None:
        super().__init__()
        self.running = running
        self.stacks: list[tuple[nn.Module, ...]] = []  # per operation: the modules running, outermost first
        self.size: dict[int, int] = {}
        self.created: dict[int, int] = {}  # storage → the operation that created it
        self.last_use: dict[int, int] = {}
        self.grad: set[int] = set()  # storages used by an operation while requiring grad
        self.uses: list[set[int]] = []  # per operation: the storages it read
        # per tensor (views apart: autograd gives each view its own gradient): storage, bytes,
        # creating operation, last use, and whether it carried a gradient when used
        self.tensors: dict[int, list] = {}
        self.ops: set[str] = set()  # names of the operators that ran
        self.keep: list[torch.Tensor] = []

    def note(self, t: torch.Tensor, created: int | None = None) -> int | None:
        key = _key(t)
        if key is not None and key not in self.size:
            self.size[key] = _nbytes(t)
            if created is not None:
                self.created[key] = created
            self.keep.append(t)
        return key

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if not any(isinstance(t, torch.Tensor) for t in tree_leaves(out)):
            return out  # a query (device, size, a scalar read): no tensor made, none kept alive
        i = len(self.stacks)
        self.ops.add(str(func.overloadpacket))
        used = set()
        for t in tree_leaves((args, kwargs)):
            if isinstance(t, torch.Tensor):
                key = self.note(t, created=-1)  # first seen as an input: made outside any operation
                if key is not None:
                    self.last_use[key] = i
                    used.add(key)
                    if t.requires_grad:
                        self.grad.add(key)
                    entry = self.tensors.get(id(t))
                    if entry is not None:
                        entry[3] = i
                        entry[4] = entry[4] or t.requires_grad
        self.uses.append(used)
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor):
                key = self.note(t, created=i)
                if key is not None and id(t) not in self.tensors and t.is_floating_point():
                    self.keep.append(t)
                    self.tensors[id(t)] = [key, t.numel() * t.element_size(), i, i, False]
        self.stacks.append(tuple(self.running))
        return out


@dataclass
class _Recording:
    rec: _Recorder
    saved: dict[int, int]  # storage → earliest operation that saved it
    saved_by: dict[int, nn.Module | None]  # storage → the module running when it was first saved
    resident: set[int]  # parameters, buffers and inputs
    trainable: dict[int, int]  # parameter storage → bytes


def _record(model: nn.Module, inputs: tuple, loss_fn: Callable[[Any], torch.Tensor], autocast: torch.dtype | None,
            device_type: str) -> _Recording:
    running: list[nn.Module] = []
    handles = []
    def enter(module: nn.Module, args: Any) -> None:
        running.append(module)

    def leave(module: nn.Module, args: Any, output: Any) -> None:
        running.pop()

    for module in model.modules():
        handles.append(module.register_forward_pre_hook(enter))
        handles.append(module.register_forward_hook(leave))
    rec = _Recorder(running)
    saved: dict[int, int] = {}
    saved_by: dict[int, nn.Module | None] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        key = rec.note(t, created=-1)
        if key is not None:
            i = len(rec.stacks)
            if rec.created.get(key) == i - 1:  # an output of the operation that just ran
                i -= 1
            if key not in saved:
                saved[key] = i
                saved_by[key] = running[-1] if running else None
            saved[key] = min(saved[key], i)
        return t

    resident: set[int] = set()
    trainable: dict[int, int] = {}
    for p in model.parameters():
        key = rec.note(p.detach(), created=-1)
        resident.add(key)
        if p.requires_grad:
            trainable[key] = _nbytes(p)
    for b in model.buffers():
        resident.add(rec.note(b, created=-1))
    for t in tree_leaves(inputs):
        if isinstance(t, torch.Tensor):
            resident.add(rec.note(t, created=-1))
    cast = torch.autocast(device_type, dtype=autocast) if autocast is not None else contextlib.nullcontext()
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), rec, cast:
            loss = _guard.call("loss_fn(model(*inputs))", lambda: loss_fn(model(*inputs)))
    finally:
        for h in handles:
            h.remove()
    if not isinstance(loss, torch.Tensor) or loss.ndim != 0 or not loss.is_floating_point():
        raise ValueError("loss_fn must return a floating-point scalar tensor")
    if not loss.requires_grad:
        raise ValueError("the loss does not require grad: no parameter of the model reaches it, so there is no backward pass")
    return _Recording(rec, saved, saved_by, resident, trainable)


# ------------------------------------------------------------------------------------ prediction
def _predict(r: _Recording, optimizer: str | None, checkpoint: tuple[nn.Module, ...],
             foreach: bool) -> tuple[int, str, list[tuple[str, int]], int]:
    rec = r.rec
    n = len(rec.stacks)
    size, created, last_use = rec.size, rec.created, rec.last_use
    base = sum(size[k] for k in r.resident)
    grads = sum(r.trainable.values())
    state = OPTIMIZER_STATES[optimizer] * grads if optimizer else 0
    base += state
    activations = [k for k in size if k not in r.resident]
    saved = {k: i for k, i in r.saved.items() if k not in r.resident}
    # checkpointed modules: their operations' saved tensors are recomputed in backward, their inputs kept
    recompute: list[tuple[int, int, dict[int, int]]] = []  # (first op, last op, {storage: earliest saving op})
    for module in checkpoint:
        ops = [i for i, stack in enumerate(rec.stacks) if module in stack]
        if not ops:
            continue
        a, b = ops[0], ops[-1]
        inner = {k: i for k, i in saved.items() if a <= i <= b and created.get(k, -1) >= a}
        for k in inner:
            del saved[k]
        for k in set().union(*rec.uses[a:b + 1]):  # what it reads from outside is kept until backward reaches it
            if k not in r.resident and created.get(k, -1) < a:
                saved[k] = min(saved.get(k, a), a)
        recompute.append((a, b, inner))
    timeline: list[tuple[str, int]] = []
    delta = [0] * (n + 2)
    for k in activations:
        c = max(created.get(k, -1), 0)
        end = n - 1 if k in saved else max(last_use.get(k, c), c)
        delta[c] += size[k]
        delta[end + 1] -= size[k]
    live = base
    for i in range(n):
        live += delta[i]
        timeline.append(("forward", live))
    # backward: operation j from the last to the first
    free_after = [0] * (n + 1)
    for k, i in saved.items():
        free_after[i] += size[k]
    grad_at = [0] * (n + 1)
    for k, nbytes in r.trainable.items():
        grad_at[max(last_use.get(k, 0), 0)] += nbytes
    grad_live = [0] * (n + 2)  # the gradient of a tensor lives from its last consumer back to its producer
    for key, nbytes, c, u, carries in rec.tensors.values():
        if carries and key not in r.resident:
            grad_live[c] += nbytes
            grad_live[u + 1] -= nbytes
    spans = [0] * n
    running = 0
    for j in range(n):
        running += grad_live[j]
        spans[j] = running
    held = base + sum(size[k] for k in saved)
    grads_so_far = 0
    extra = {b: (a, inner) for a, b, inner in recompute}
    recomputed: dict[int, list[int]] = {}
    for j in range(n - 1, -1, -1):
        grads_so_far += grad_at[j]
        spike = 0
        if j in extra:  # the checkpointed module's forward runs again: its saved tensors return
            a, inner = extra[j]
            held += sum(size[k] for k in inner)
            for k, i in inner.items():
                recomputed.setdefault(i, []).append(size[k])
            before = timeline[a - 1][1] if a > 0 else base
            spike = max(v for _, v in timeline[a:j + 1]) - before - sum(size[k] for k in inner)
        timeline.append(("backward", held + grads_so_far + spans[j] + max(spike, 0)))
        held -= free_after[j] + sum(recomputed.pop(j, []))
    if optimizer is not None:
        largest = max(r.trainable.values(), default=0)
        temporaries = 0
        if optimizer in ("adam", "adamw"):
            temporaries = grads if foreach else 2 * largest
        timeline.append(("optimizer step", base + grads + temporaries))
    peak_index = max(range(len(timeline)), key=lambda i: timeline[i][1])
    kept = sum(size[k] for k in saved)
    return timeline[peak_index][1], timeline[peak_index][0], timeline, kept


# ----------------------------------------------------------------------------------- measurement
def _measured_peak_cpu(step: Callable[[], None], resident: Iterable[torch.Tensor]) -> int:
    """The peak bytes of one run of ``step``: the storages of ``resident`` (what exists before the
    step: parameters, buffers, inputs, optimiser state), plus the highest running total of the
    allocations minus the frees the profiler records during the step.

    The raw allocator events are used, not the profiler's memory timeline: the timeline matches
    allocations to tensors by heuristics that address reuse can fool (measured here: a ResNet-18
    step once read 235 MiB against 189 MiB, in a process whose earlier work had shaped the heap).
    The garbage collector is paused during the step, so that objects of earlier work freed in
    the middle cannot lower the total."""
    import gc
    import os
    import sys

    from torch._C._profiler import _EventType
    from torch.profiler import ProfilerActivity, profile

    storages: dict[int, int] = {}
    for t in resident:
        storage = t.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
    sys.stderr.flush()
    saved_fd, quiet = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 2)  # the profiler's C++ side logs its start and stop (with a timestamp) to stderr
    gc.collect()
    collecting = gc.isenabled()
    gc.disable()
    try:
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True, record_shapes=True, with_stack=True) as prof:
            step()
    finally:
        if collecting:
            gc.enable()
        os.dup2(saved_fd, 2)
        os.close(saved_fd)
        os.close(quiet)
    events = [(e.start_time_ns, e.typed[1].alloc_size) for e in prof._memory_profile()._op_tree.dfs()
              if e.typed[0] == _EventType.Allocation and e.typed[1].device.type == "cpu"]
    events.sort(key=lambda e: e[0])  # stable: events at the same time keep the order they were recorded in
    live = peak = 0
    for _, nbytes in events:
        live += nbytes
        peak = max(peak, live)
    return sum(storages.values()) + peak


def _measured_peak_cuda(step: Callable[[], None], device: torch.device, resident: int) -> int:
    torch.cuda.synchronize(device)
    before = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    step()
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) - before + resident


def _fake_copy(model: nn.Module, inputs: tuple, mode: Any) -> tuple[nn.Module, tuple]:
    """The model and inputs as fake CPU tensors: shapes and dtypes, no data (ties kept)."""
    memo: dict[int, Any] = {}
    with mode:
        for p in model.parameters():
            if id(p) not in memo:
                memo[id(p)] = nn.Parameter(torch.empty(p.shape, dtype=p.dtype), requires_grad=p.requires_grad)
        for b in model.buffers():
            if id(b) not in memo:
                memo[id(b)] = torch.empty(b.shape, dtype=b.dtype)
        fake_inputs = tuple(torch.empty(t.shape, dtype=t.dtype) if isinstance(t, torch.Tensor) else t for t in inputs)
    return deepcopy_module(model, memo), fake_inputs


def _default_loss(output: Any) -> torch.Tensor:
    for t in tree_leaves(output):
        if isinstance(t, torch.Tensor) and t.is_floating_point() and t.requires_grad:
            return t.float().mean()
    raise ValueError("the model's output holds no floating-point tensor that requires grad: pass loss_fn")


def _make_optimizer(name: str | None, params: list[nn.Parameter]) -> torch.optim.Optimizer | None:
    if name is None or not params:
        return None
    if name == "adam":
        return torch.optim.Adam(params, lr=0.0)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=0.0)
    return torch.optim.SGD(params, lr=0.0, momentum=0.9 if name == "momentum" else 0.0)


def memory(model: nn.Module, *inputs: Any, loss_fn: Callable[[Any], torch.Tensor] | None = None, optimizer: str | None = "adam",
           device: torch.device | str | None = None, autocast: torch.dtype | None = None,
           checkpoint: Iterable[str] = (), measure: bool = True) -> MemoryReport:
    """What one training step of ``model`` keeps, and its predicted (and measured) peak.

    Args:
        model: any ``nn.Module``; it runs in train mode (dropout keeps its masks). Its weights,
            buffers, gradients, train/eval mode and the random-number state are as before when
            this returns.
        inputs: the positional inputs of ``model.forward``, one training batch.
        loss_fn: ``loss_fn(output) -> scalar``; by default the mean of the first floating-point
            output (the loss hardly matters: the model's own saved tensors dominate).
        optimizer: ``"adam"``, ``"adamw"`` (two state tensors per parameter), ``"momentum"`` (SGD
            with momentum, one), ``"sgd"`` (none) or None (no step).
        device: where to run; by default where the model's parameters are. ``"meta"`` runs the
            step on fake tensors (no data, nothing allocated): exact saved bytes and a predicted
            peak for a model of any size, no measurement.
        autocast: ``torch.bfloat16`` or ``torch.float16``: the forward pass under
            ``torch.autocast`` (on meta, CPU autocast's rules).
        checkpoint: names of submodules (e.g. ``["blocks.0", "blocks.1"]``) run under
            ``torch.utils.checkpoint`` (non-reentrant): they keep their inputs, not their saved
            tensors, and recompute in backward.
        measure: also run a real step and measure its peak (CPU: the profiler's allocation
            and free events on top of the bytes the step starts with; CUDA:
            ``max_memory_allocated``).

    Returns:
        a :class:`MemoryReport`: per module the bytes saved for backward and of its own
        parameters; for the model parameters, buffers, inputs, gradients, optimiser state,
        activations kept, and the predicted and measured peak of the step.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not inputs:
        raise ValueError("memory needs the model's inputs, e.g. memory(model, torch.randn(64, 3, 32, 32))")
    if not any(isinstance(t, torch.Tensor) for t in tree_leaves(inputs)):
        raise TypeError("inputs must contain at least one torch.Tensor")
    if any(isinstance(t, torch.Tensor) and t.numel() == 0 for t in tree_leaves(inputs)):
        raise ValueError("an input is empty: a step on no data has no activations to measure")
    if loss_fn is not None and not callable(loss_fn):
        raise TypeError(f"loss_fn must be None or callable as loss_fn(output) -> scalar, got {type(loss_fn).__name__}")
    if optimizer is not None and not isinstance(optimizer, str):
        raise TypeError(f"optimizer must be one of {sorted(OPTIMIZER_STATES)} or None, got {type(optimizer).__name__}")
    if optimizer is not None and optimizer not in OPTIMIZER_STATES:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZER_STATES)} or None, got {optimizer!r}")
    if autocast is not None and not isinstance(autocast, torch.dtype):
        raise TypeError(f"autocast must be None, torch.bfloat16 or torch.float16, got {type(autocast).__name__}")
    if autocast is not None and autocast not in _AUTOCAST:
        raise ValueError(f"autocast must be None, torch.bfloat16 or torch.float16, got {autocast}")
    if isinstance(checkpoint, str) or not isinstance(checkpoint, Iterable):
        raise TypeError("checkpoint must be a list of submodule names such as ['blocks.0'], not a single string")
    checkpoint = tuple(checkpoint)
    modules = dict(model.named_modules())
    for name in checkpoint:
        if not isinstance(name, str):
            raise TypeError(f"checkpoint names must be str, got {type(name).__name__}")
        if name not in modules or name == "":
            raise ValueError(f"checkpoint: {name!r} is not a submodule of the model (e.g. {next(iter(list(modules)[1:]), '?')!r})")
    for a in checkpoint:
        for b in checkpoint:
            if a != b and b.startswith(a + "."):
                raise ValueError(f"checkpoint: {b!r} lies inside {a!r}; name each region once")
    if not isinstance(measure, bool):
        raise TypeError(f"measure must be a bool, got {type(measure).__name__}")
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError("the model has no trainable parameter: a training step would compute nothing")
    if device is None:
        first = next(iter(model.parameters()))
        device = first.device
    device = check_device("device", device)
    loss_fn = loss_fn or _default_loss
    name = type(model).__name__
    foreach = device.type == "cuda"

    if device.type == "meta":
        from torch._subclasses.fake_tensor import FakeTensorMode

        mode = FakeTensorMode(allow_non_fake_inputs=True)
        fake, fake_inputs = _fake_copy(model, inputs, mode)
        fake.train()
        with mode, torch.random.fork_rng(devices=[]):
            recording = _record(fake, fake_inputs, loss_fn, autocast, "cpu")
            report = _report(recording, fake, name, "meta", optimizer, autocast, checkpoint, foreach, None)
        return report

    from ..runtime import move_to

    inputs = tuple(move_to(inputs, device))
    if any(p.device != device for p in model.parameters()):
        raise ValueError(f"the model's parameters are not all on {device}: move the model there first (model.to(device))")
    was_training = model.training
    params = [p for p in model.parameters() if p.requires_grad]
    snapshot = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict(keep_vars=True).items()}
    old_grads = {p: p.grad for p in params}
    devices = [device.index or 0] if device.type == "cuda" else []
    try:
        model.train()
        with torch.random.fork_rng(devices=devices):
            recording = _record(model, inputs, loss_fn, autocast, device.type)
            measured = None
            if measure:
                measured = _measure(model, inputs, loss_fn, optimizer, autocast, checkpoint, device, params, recording)
            return _report(recording, model, name, device.type, optimizer, autocast, checkpoint, foreach, measured)
    finally:
        with torch.no_grad():
            for k, v in model.state_dict(keep_vars=True).items():
                if k in snapshot:
                    v.copy_(snapshot[k])
        for p, g in old_grads.items():
            p.grad = g
        model.train(was_training)


def _measure(model: nn.Module, inputs: tuple, loss_fn: Callable, optimizer: str | None, autocast: torch.dtype | None,
             checkpoint: tuple[str, ...], device: torch.device, params: list[nn.Parameter], recording: _Recording) -> int:
    from torch.utils.checkpoint import checkpoint as run_checkpointed

    opt = _make_optimizer(optimizer, params)
    wrapped = [m for n, m in model.named_modules() if n in checkpoint]
    for m in wrapped:
        m.forward = functools.partial(run_checkpointed, m.forward, use_reentrant=False)  # instance attribute, removed below
    cast = (lambda: torch.autocast(device.type, dtype=autocast)) if autocast is not None else contextlib.nullcontext

    def step() -> None:
        with cast():
            loss = loss_fn(model(*inputs))
        loss.backward()
        del loss
        if opt is not None:
            opt.step()

    try:
        for p in params:
            p.grad = None
        step()  # warm-up: the optimiser's state exists from the first step on
        for p in params:
            p.grad = None
        if device.type == "cuda":
            resident = sum(recording.rec.size[k] for k in recording.resident)
            resident += OPTIMIZER_STATES[optimizer] * sum(recording.trainable.values()) if optimizer else 0
            return _measured_peak_cuda(step, device, resident)
        if device.type != "cpu":
            raise ValueError(f"the peak can be measured on cpu and cuda, not {device.type}: pass measure=False")
        state = [v for per_param in (opt.state.values() if opt is not None else ()) for v in per_param.values()
                 if isinstance(v, torch.Tensor)]
        resident_tensors = [*model.parameters(), *model.buffers(), *state,
                            *(t for t in tree_leaves(inputs) if isinstance(t, torch.Tensor))]
        return _measured_peak_cpu(step, resident_tensors)
    finally:
        for m in wrapped:
            del m.forward
        for p in params:
            p.grad = None


def _report(recording: _Recording, model: nn.Module, name: str, device: str, optimizer: str | None, autocast: torch.dtype | None,
            checkpoint: tuple[str, ...], foreach: bool, measured: int | None) -> MemoryReport:
    modules = dict(model.named_modules())
    names = {m: n or name for n, m in modules.items()}
    peak, phase, timeline, kept = _predict(recording, optimizer, tuple(modules[n] for n in checkpoint), foreach)
    rec = recording.rec
    weights = {_key(t) for t in (*model.parameters(), *model.buffers())}
    per_module: dict[nn.Module | None, int] = {}
    for k, who in recording.saved_by.items():
        if k not in weights:  # the model's input counts where a module keeps it; weights do not
            per_module[who] = per_module.get(who, 0) + rec.size[k]
    order: list[nn.Module] = []
    for stack in rec.stacks:
        if stack and stack[-1] not in order:
            order.append(stack[-1])
    order += [m for m in modules.values() if m not in order]
    rows = []
    for m in order:
        own = sum(p.numel() * p.element_size() for p in m.parameters(recurse=False))
        if per_module.get(m, 0) or own:
            rows.append(MemoryRow(names[m], type(m).__name__, per_module.get(m, 0), own))
    size = rec.size
    params = sum(size[k] for k in {_key(p) for p in model.parameters()})
    buffers = sum(size[k] for k in {_key(b) for b in model.buffers()} - {_key(p) for p in model.parameters()})
    inputs = sum(size[k] for k in recording.resident) - params - buffers
    grads = sum(recording.trainable.values())
    notes = []
    fused = sorted(op.split(".")[-1] for op in rec.ops if op.split(".")[-1] in _FUSED_RNN)
    if fused:
        notes.append(f"{', '.join(fused)}: a fused recurrent kernel; its backward allocates workspace this model does not "
                     "predict" + (", and on meta even its saved workspace is unknown (0 B here)" if device == "meta" else ""))
    return MemoryReport(
        notes=notes,
        model_name=name, device=device, optimizer=optimizer, autocast=None if autocast is None else str(autocast).split(".")[-1],
        checkpoint=checkpoint, rows=rows, parameters=params, buffers=buffers, inputs=inputs, gradients=grads,
        optimizer_state=OPTIMIZER_STATES[optimizer] * grads if optimizer else 0,
        activations=sum(size[k] for k in recording.saved if k not in recording.resident), kept=kept,
        predicted_peak=peak, peak_phase=phase, measured_peak=measured, timeline=timeline,
    )
