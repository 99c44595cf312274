"""``summary(model, *example_inputs)``: the anatomy table of a model.

One forward pass on example inputs, with a hook on every module, gives for each layer call:
its output shape, the parameters it owns, its MACs and FLOPs (FLOPs = 2 × MACs, see
:mod:`nnanatomy.explore.counting`) and the memory of its output activation.

Where do the MACs come from? A layer type the book teaches has an analytic counter (its formula,
in ``counting``). Any other module — a third-party model's ``Conv1D``, its attention, its GELU —
is counted from the operations PyTorch dispatches while that module, and none of its children,
runs: each matrix product, convolution or attention kernel is attributed to the innermost module
running, with the formulas of ``torch.utils.flop_counter``. Fused kernels that PyTorch's counter
cannot look into are counted from their shapes: the CPU's scaled-dot-product attention here, the
CPU LSTM/GRU by their module's counter. Every row therefore has a number; element-wise modules
have 0.

The same pass runs under ``FlopCounterMode`` as an independent check, and the table says when its
total differs from the rows'.

``summary(..., backward=True)`` also counts the backward pass, per layer call. Every autograd node
the forward pass creates is credited to the layer call whose forward created it (a function mode
walks the new part of the graph after each operation); in the backward pass a hook on each node
says whose gradient is being computed, and the FLOPs dispatched then are that layer's. A Linear
layer's backward is two products of its forward's size (the gradient of its input, of its weight)
— unless nothing before it needs a gradient, as for the first layer of a network.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode, flop_registry, sdpa_backward_flop_count, sdpa_flop_count

from ._copying import deepcopy_module
from .._checks import check_bool, check_device, check_real

from ..runtime import move_to
from .counting import count_macs, has_counter
from .formatting import format_bytes, format_count

__all__ = ["LayerRow", "Summary", "summary"]

_aten = torch.ops.aten


def _cpu_sdpa_flops(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, *args: Any, **kwargs: Any) -> int:
    # the CPU kernel of F.scaled_dot_product_attention, which FlopCounterMode has no formula for:
    # the same two products as on a GPU (scores q·kᵀ, then weights·v), the whole square (as PyTorch counts)
    return sdpa_flop_count(query.shape, key.shape, value.shape)


def _cpu_sdpa_backward_flops(grad_out: torch.Tensor, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                             *args: Any, **kwargs: Any) -> int:
    # its backward: the scores recomputed, then the gradients of the weights, of V, of Q and of K
    # (five products of the forward's size, as FlopCounterMode counts the GPU kernels' backward)
    return sdpa_backward_flop_count(grad_out.shape, query.shape, key.shape, value.shape)


def _cpu_lstm_layer_macs(x: torch.Tensor, w_ih: torch.Tensor, w_hh: torch.Tensor) -> int:
    # one layer and direction of the CPU's fused LSTM: every step (T·B of them) multiplies its input
    # by W_ih (4H × D) and its previous hidden state by W_hh (4H × H)
    return (x.numel() // max(x.shape[-1], 1)) * (w_ih.numel() + w_hh.numel())


def _cpu_lstm_flops(x: torch.Tensor, w_ih: torch.Tensor, w_hh: torch.Tensor, *args: Any, **kwargs: Any) -> int:
    return 2 * _cpu_lstm_layer_macs(x, w_ih, w_hh)


def _cpu_lstm_backward_flops(x: torch.Tensor, w_ih: torch.Tensor, w_hh: torch.Tensor, *args: Any, **kwargs: Any) -> int:
    # the kernel computes the gradients of both weight matrices and of the layer's input and
    # hidden states: twice the forward's products
    return 4 * _cpu_lstm_layer_macs(x, w_ih, w_hh)


#: kernels PyTorch's FLOP counter cannot see, counted from their shapes
_BLIND_KERNELS = {
    _aten._scaled_dot_product_flash_attention_for_cpu: _cpu_sdpa_flops,
    _aten._scaled_dot_product_flash_attention_for_cpu_backward: _cpu_sdpa_backward_flops,
    _aten.mkldnn_rnn_layer: _cpu_lstm_flops,
    _aten.mkldnn_rnn_layer_backward: _cpu_lstm_backward_flops,
}


class _Attribution(TorchDispatchMode):
    """FLOPs of every dispatched operation, attributed to ``owner()``: in the forward pass the id of
    the innermost module running (kept by the summary's hooks; the root model when none is), in
    the backward pass the row whose gradient is being computed."""

    _SKIP = {_aten.size.default, _aten.stride.default, _aten.numel.default, _aten.dim.default,
             _aten.sym_size.default, _aten.sym_stride.default, _aten.sym_numel.default,
             _aten.is_contiguous.default, _aten.storage_offset.default, _aten.sym_storage_offset.default}

    def __init__(self, owner: Callable[[], Any]) -> None:
        super().__init__()
        self.owner = owner
        self.own: dict[Any, int] = {}  # owner → FLOPs dispatched while it was running
        self.blind = 0  # of which in kernels FlopCounterMode cannot see

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if func in self._SKIP or isinstance(func, torch._ops.HigherOrderOperator):
            return func(*args, **kwargs)  # a higher-order operator (torch.cond, flex attention) runs uncounted
        packet = func._overloadpacket
        if packet not in flop_registry and packet not in _BLIND_KERNELS:
            with self:  # as FlopCounterMode does: count what an operation decomposes into
                out = func.decompose(*args, **kwargs)
            if out is not NotImplemented:
                return out
        out = func(*args, **kwargs)
        flops = 0
        if packet in flop_registry:
            flops = flop_registry[packet](*args, **kwargs, out_val=out)
        elif packet in _BLIND_KERNELS:
            flops = _BLIND_KERNELS[packet](*args, **kwargs)
            self.blind += flops
        if flops:
            owner = self.owner()
            self.own[owner] = self.own.get(owner, 0) + int(flops)
        return out


def _nodes(obj: Any) -> list[Any]:
    return [t.grad_fn for t in _tensors(obj) if t.grad_fn is not None]


class _NodeOwners(TorchFunctionMode):
    """Credits every autograd node to the layer call that created it: after each operation, the
    part of the graph behind its outputs that no earlier operation created is walked and given to
    ``calls[-1]`` (the innermost layer call running; None outside the model)."""

    def __init__(self, calls: list[int]) -> None:
        super().__init__()
        self.calls = calls
        self.owner: dict[Any, int | None] = {}  # autograd node → call token

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        out = func(*args, **(kwargs or {}))
        _claim(self.owner, out, self.calls[-1] if self.calls else None)
        return out


def _claim(owner: dict[Any, int | None], obj: Any, token: int | None) -> None:
    """Give ``token`` every node behind ``obj``'s tensors that ``owner`` does not know yet."""
    stack = _nodes(obj)
    while stack:
        node = stack.pop()
        if node in owner:
            continue
        owner[node] = token
        stack.extend(n for n, _ in node.next_functions if n is not None)

FLOP_CONVENTION = (
    "FLOPs = 2 × MACs, counting the multiply–accumulates of matrix products and convolutions; "
    "bias adds and element-wise operations are not counted (the convention of FlopCounterMode)."
)


def _tensors(obj: Any) -> list[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for item in obj for t in _tensors(item)]
    if isinstance(obj, dict):
        return [t for item in obj.values() for t in _tensors(item)]
    return []


def _shape_text(obj: Any) -> str:
    tensors = _tensors(obj)
    if not tensors:
        return "—"
    shapes = [str(tuple(t.shape)) for t in tensors]
    return shapes[0] if len(shapes) == 1 else "[" + ", ".join(shapes) + "]"


@dataclass(frozen=True)
class LayerRow:
    """One call of one layer."""

    name: str  # dotted path in the model, e.g. "net.0"
    type: str  # class name, e.g. "Linear"
    output_shape: str  # e.g. "(256, 64)"
    params: int  # parameters this module owns directly (counted at its first call only)
    trainable: int  # of which requires_grad
    macs: int | None  # None only in rows merged from a table that had unknown counts
    activation_bytes: int  # memory of the output tensor(s)
    seconds: float | None = None  # measured forward time of this call (summary(..., timing=True))
    leaf: bool = True  # False for a module with children (its time includes theirs)
    backward_macs: int | None = None  # MACs of this call's backward (summary(..., backward=True))

    @property
    def flops(self) -> int | None:
        return None if self.macs is None else 2 * self.macs

    @property
    def backward_flops(self) -> int | None:
        return None if self.backward_macs is None else 2 * self.backward_macs


@dataclass
class Summary:
    """The anatomy table; ``print`` it, or let Jupyter render its HTML."""

    model_name: str
    input_shapes: list[str]
    rows: list[LayerRow]
    total_params: int
    trainable_params: int
    param_bytes: int
    flop_counter_flops: int  # FlopCounterMode's total on the same forward pass
    dispatched_types: list[str] = field(default_factory=list)  # counted from dispatched operations, not a formula
    blind_flops: int = 0  # FLOPs in kernels FlopCounterMode cannot see (CPU attention), counted from shapes
    module_types: dict[str, str] = field(default_factory=dict)  # dotted name → class name
    backward_counter_flops: int | None = None  # FlopCounterMode's total on the backward pass (backward=True)
    backward_outside_macs: int = 0  # backward MACs of operations outside every row (the loss, say)

    def grouped(self, depth: int) -> Summary:
        """The same table with the rows merged into modules ``depth`` levels deep
        (``depth=2``: ``encoder_layers.0``, ``decoder_layers.1``, ...). Parameters, MACs and
        activations are summed; the output shape is that of the group's last row."""
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
            raise ValueError(f"depth must be a positive int, got {depth!r}")
        groups: dict[str, list[LayerRow]] = {}
        for row in self.rows:
            groups.setdefault(".".join(row.name.split(".")[:depth]), []).append(row)
        rows = [
            LayerRow(
                name=name,
                type=self.module_types.get(name, members[-1].type),
                output_shape=members[-1].output_shape,
                params=sum(r.params for r in members),
                trainable=sum(r.trainable for r in members),
                macs=None if any(r.macs is None for r in members) else sum(r.macs for r in members),
                activation_bytes=sum(r.activation_bytes for r in members),
                backward_macs=None if any(r.backward_macs is None for r in members) else sum(r.backward_macs for r in members),
            )
            for name, members in groups.items()
        ]
        return replace(self, rows=rows)

    @property
    def total_macs(self) -> int:
        """Sum of the rows' MACs."""
        return sum(r.macs for r in self.rows if r.macs is not None)

    @property
    def total_flops(self) -> int:
        return 2 * self.total_macs

    @property
    def has_backward(self) -> bool:
        """Whether the backward pass was counted (``summary(..., backward=True)``)."""
        return self.backward_counter_flops is not None

    @property
    def total_backward_macs(self) -> int:
        """MACs of the backward pass: the rows', plus any outside them (the loss). Raises if the
        backward pass was not counted."""
        if not self.has_backward:
            raise ValueError("the backward pass was not counted: call summary(model, ..., backward=True)")
        return sum(r.backward_macs for r in self.rows if r.backward_macs is not None) + self.backward_outside_macs

    @property
    def total_backward_flops(self) -> int:
        return 2 * self.total_backward_macs

    @property
    def activation_bytes(self) -> int:
        return sum(r.activation_bytes for r in self.rows)

    OPTIMIZER_STATES = {"sgd": 0, "sgd-momentum": 1, "adam": 2, "adamw": 2}

    def training_memory(self, optimizer: str = "adam") -> dict[str, int]:
        """Bytes to train with ``optimizer``: the parameters, their gradients, the optimiser's state
        (momentum: one tensor per parameter; Adam: two) and the activations kept for backward
        (the rows' outputs, an upper estimate: in-place and fused operations keep less)."""
        if optimizer not in self.OPTIMIZER_STATES:
            raise ValueError(f"optimizer must be one of {sorted(self.OPTIMIZER_STATES)}, got {optimizer!r}")
        parts = {
            "parameters": self.param_bytes,
            "gradients": self.trainable_params * (self.param_bytes // max(self.total_params, 1)),
            "optimizer state": self.OPTIMIZER_STATES[optimizer] * self.trainable_params * (self.param_bytes // max(self.total_params, 1)),
            "activations": self.activation_bytes,
        }
        parts["total"] = sum(parts.values())
        return parts

    def theoretical_seconds(self, peak_flops: float, training: bool = False) -> float:
        """Forward time at ``peak_flops`` FLOP/s. For a training step, forward plus the counted
        backward when ``summary(..., backward=True)`` counted it, else 3 × forward (backward ≈ 2 ×
        forward)."""
        peak_flops = check_real("peak_flops", peak_flops, 0.0, low_open=True)
        training = check_bool("training", training)
        if not training:
            return self.total_flops / peak_flops
        if self.has_backward:
            return (self.total_flops + self.total_backward_flops) / peak_flops
        return 3 * self.total_flops / peak_flops

    @property
    def measured_seconds(self) -> float | None:
        """The forward time of the leaf layers, summed: a container's row (attention) includes its
        children's time, so adding it too would count them twice."""
        timed = [r.seconds for r in self.rows if r.seconds is not None and r.leaf]
        return sum(timed) if timed else None

    @property
    def unattributed_flops(self) -> int:
        """FLOPs FlopCounterMode saw that no layer row accounts for (0 when the table is complete)."""
        return max(self.flop_counter_flops - self.total_flops, 0)

    def _table(self) -> tuple[list[str], list[list[str]], list[str]]:
        timed = self.measured_seconds is not None
        backward = self.has_backward
        header = (["layer", "type", "output shape", "params", "MACs", "FLOPs"] + (["backward FLOPs"] if backward else [])
                  + ["activations"] + (["time"] if timed else []))
        body = [
            [
                r.name,
                r.type,
                r.output_shape,
                format_count(r.params) if r.params else "—",
                format_count(r.macs),
                format_count(r.flops),
            ] + ([format_count(r.backward_flops)] if backward else []) + [
                format_bytes(r.activation_bytes),
            ] + ([f"{r.seconds * 1e3:.2f} ms" if r.seconds is not None else "—"] if timed else [])
            for r in self.rows
        ]
        total = [
            "total",
            "",
            "",
            format_count(self.total_params),
            format_count(self.total_macs),
            format_count(self.total_flops),
        ] + ([format_count(self.total_backward_flops)] if backward else []) + [
            format_bytes(self.activation_bytes),
        ] + ([f"{self.measured_seconds * 1e3:.2f} ms"] if timed else [])
        return header, body, total

    def notes(self) -> list[str]:
        frozen = self.total_params - self.trainable_params
        lines = [
            f"input {', '.join(self.input_shapes)}",
            f"parameters {format_count(self.total_params)} ({format_count(self.trainable_params)} trainable, "
            f"{format_count(frozen)} frozen), {format_bytes(self.param_bytes)}",
            FLOP_CONVENTION,
        ]
        if self.dispatched_types:
            lines.append(f"counted from the operations PyTorch dispatched inside them (no formula of the book's): "
                         f"{', '.join(self.dispatched_types)}")
        if self.flop_counter_flops < self.total_flops:
            lines.append(
                f"FlopCounterMode saw {format_count(self.total_flops - self.flop_counter_flops)} fewer FLOPs than the rows "
                "count: fused kernels it cannot look into (the CPU LSTM, the CPU's scaled-dot-product attention); "
                "the rows count them from their shapes"
            )
        if self.unattributed_flops:
            lines.append(
                f"FlopCounterMode saw {format_count(self.unattributed_flops)} more FLOPs than the rows account for "
                "(operations in a forward() outside the counted layers)"
            )
        if self.has_backward:
            ratio = self.total_backward_flops / self.total_flops if self.total_flops else float("nan")
            lines.append(
                f"backward pass (the gradients of the trainable parameters): {format_count(self.total_backward_flops)} FLOPs, "
                f"{ratio:.2f} × the forward's"
                + (f", of which {format_count(2 * self.backward_outside_macs)} outside the layers" if self.backward_outside_macs else "")
                + (f"; FlopCounterMode saw {format_count(self.total_backward_flops - self.backward_counter_flops)} fewer "
                   "(the backward kernels of fused CPU attention and LSTM, counted here from their shapes)"
                   if self.backward_counter_flops < self.total_backward_flops else "")
            )
        return lines

    def __str__(self) -> str:
        header, body, total = self._table()
        table = [header, *body, total]
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        left = {0, 1, 2}

        def line(cells: list[str]) -> str:
            return "  ".join(c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

        rule = "─" * len(line(header))
        out = [f"{self.model_name}", rule, line(header), rule, *(line(r) for r in body), rule, line(total), rule]
        out += self.notes()
        return "\n".join(out)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        header, body, total = self._table()
        esc = html.escape
        numeric = set(range(3, len(header)))

        def cells(row: list[str], tag: str) -> str:
            return "".join(
                f'<{tag} style="text-align:{"right" if i in numeric else "left"}">{esc(c)}</{tag}>'
                for i, c in enumerate(row)
            )

        rows = "".join(f"<tr>{cells(r, 'td')}</tr>" for r in body)
        notes = "<br>".join(esc(n) for n in self.notes())
        return (
            f'<div class="nna-summary"><p><b>{esc(self.model_name)}</b></p>'
            f"<table><thead><tr>{cells(header, 'th')}</tr></thead><tbody>{rows}</tbody>"
            f"<tfoot><tr>{cells(total, 'th')}</tr></tfoot></table>"
            f"<p><small>{notes}</small></p></div>"
        )


def _meta_copy(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose parameters and buffers live on ``meta`` (no data is copied).

    A tensor that two modules share (a tied embedding and output layer) stays one tensor in the
    copy; ``model.to("meta")`` would give each module its own, and count the tied weights twice.
    """
    memo: dict[int, Any] = {}
    for p in model.parameters():
        memo[id(p)] = nn.Parameter(torch.empty_like(p, device="meta"), requires_grad=p.requires_grad)
    for b in model.buffers():
        memo[id(b)] = torch.empty_like(b, device="meta")
    return deepcopy_module(model, memo)


def summary(model: nn.Module, *example_inputs: Any, device: torch.device | str | None = None, depth: int | None = None,
            timing: bool = False, backward: bool = False,
            loss_fn: Callable[[Any], torch.Tensor] | None = None) -> Summary:
    """Run ``model(*example_inputs)`` once and tabulate every layer call.

    Args:
        model: any ``nn.Module``. It runs in eval mode without gradients (so BatchNorm's running
            statistics are untouched); its train/eval mode is restored afterwards.
        example_inputs: the positional inputs of ``model.forward``, e.g. one batch.
        device: where to run; by default where the model's parameters are. ``"meta"`` runs a
            copy of the model on tensors without data: parameters, MACs, FLOPs and activation
            memory come out exactly, in a fraction of the time, with nothing computed.
        depth: merge the rows into modules this many name levels deep (see :meth:`Summary.grouped`).
        timing: also measure every call's forward time (a second, timed pass; CUDA is synchronised).
        backward: also count the backward pass of a training step, per layer call: the gradients
            of the trainable parameters (and of any input that requires grad), as
            ``loss.backward()`` computes them. The forward pass then records its graph (still in
            eval mode); the parameters' ``.grad`` are not touched.
        loss_fn: with ``backward=True``, ``loss_fn(output) -> scalar``; by default the mean of the
            first floating-point output that requires grad (a loss's own backward is element-wise:
            0 FLOPs by the convention).

    Returns:
        a :class:`Summary`. Rows are the calls of leaf modules, of containers that compute
        something themselves (attention's score and weighting products) and of any module that
        owns parameters directly, in the order they finish; a container's row comes after its
        children's. A module's parameters are counted at its first call; totals count every
        parameter of the model once, called or not.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not example_inputs:
        raise ValueError("summary needs at least one example input, e.g. summary(model, torch.randn(1, 3, 32, 32))")
    if not _tensors(example_inputs):
        raise TypeError("example_inputs must contain at least one torch.Tensor")
    if device is None:
        first = next(iter(model.parameters()), None)
        device = first.device if first is not None else torch.device("cpu")
    device = check_device("device", device)
    timing = check_bool("timing", timing)
    backward = check_bool("backward", backward)
    if loss_fn is not None and not callable(loss_fn):
        raise TypeError(f"loss_fn must be None or callable as loss_fn(output) -> scalar, got {type(loss_fn).__name__}")
    if loss_fn is not None and not backward:
        raise ValueError("loss_fn is used only by the backward pass: pass backward=True with it")
    if backward and not any(p.requires_grad for p in model.parameters()) and not any(
            t.requires_grad for t in _tensors(example_inputs)):
        raise ValueError("backward=True needs something to differentiate: the model has no trainable parameter "
                         "and no input requires grad")
    if device.type == "meta":
        # shapes only: every layer runs on tensors without data, so a network too large to run
        # quickly is still counted in a moment; the caller's model keeps its weights
        if timing:
            raise ValueError("timing=True needs a device that computes, not 'meta'")
        model = _meta_copy(model)
    example_inputs = move_to(example_inputs, device)
    model.to(device)

    names = {module: name or type(model).__name__ for name, module in model.named_modules()}
    rows: list[LayerRow] = []
    seen: set[int] = set()
    dispatched_types: set[str] = set()
    running: list[nn.Module] = []  # the stack of modules whose forward is executing
    calls: list[int] = []  # their call tokens (one per module call, for the backward pass)
    call_parent: dict[int, int | None] = {}
    call_row: dict[int, int] = {}  # call token → index of its row
    attribution = _Attribution(lambda: id(running[-1] if running else model))
    owners = _NodeOwners(calls)
    flops_before: dict[int, int] = {}

    def hook(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
        is_leaf = next(module.children(), None) is None
        own = list(module.parameters(recurse=False))
        dispatched = attribution.own.get(id(module), 0) - flops_before.get(id(module), 0)  # this call's own FLOPs
        formula = is_leaf or has_counter(module)  # containers with a formula for their own work (attention)
        if not formula and not own and not dispatched:
            return
        fresh = [p for p in own if id(p) not in seen]
        seen.update(id(p) for p in fresh)
        macs = count_macs(module, inputs, output) if formula else None
        if macs is None:  # no formula: what PyTorch dispatched inside this module and none of its children
            macs = dispatched // 2
            dispatched_types.add(type(module).__name__)
        call_row[calls[-1]] = len(rows)
        rows.append(
            LayerRow(
                name=names[module],
                type=type(module).__name__,
                output_shape=_shape_text(output),
                params=sum(p.numel() for p in fresh),
                trainable=sum(p.numel() for p in fresh if p.requires_grad),
                macs=macs,
                activation_bytes=sum(t.numel() * t.element_size() for t in _tensors(output)),
                leaf=is_leaf,
            )
        )

    starts: dict[int, float] = {}
    durations: list[float] = []

    def pre_hook(module: nn.Module, inputs: tuple[Any, ...]) -> None:
        running.append(module)
        call_parent[len(call_parent)] = calls[-1] if calls else None
        calls.append(len(call_parent) - 1)
        flops_before[id(module)] = attribution.own.get(id(module), 0)
        if timing and device.type == "cuda":
            torch.cuda.synchronize(device)
        starts[id(module)] = time.perf_counter()

    def post_hook(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
        if timing and device.type == "cuda":
            torch.cuda.synchronize(device)
        durations.append(time.perf_counter() - starts.pop(id(module), time.perf_counter()))
        if running and running[-1] is module:
            running.pop()
            calls.pop()

    handles = [m.register_forward_pre_hook(pre_hook) for m in model.modules()]
    handles += [m.register_forward_hook(hook) for m in model.modules()]
    handles += [m.register_forward_hook(post_hook) for m in model.modules()]
    was_training = model.training
    model.eval()
    output = None
    try:
        with torch.set_grad_enabled(backward), FlopCounterMode(display=False) as counter, attribution:
            if backward:
                with owners:
                    output = model(*example_inputs)
            else:
                model(*example_inputs)
    except Exception as exc:
        culprit = running[-1] if running else model
        shapes = ", ".join(str(tuple(t.shape)) for t in _tensors(example_inputs))
        raise ValueError(
            f"the model failed in layer {names.get(culprit, '?')!r} ({type(culprit).__name__}) on example inputs {shapes}: {exc}"
        ) from exc
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)

    if timing:
        timed_rows: list[float] = []
        call_order: list[nn.Module] = []

        def time_pre(module: nn.Module, inputs: tuple[Any, ...]) -> None:
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            starts[id(module)] = time.perf_counter()

        def time_post(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            elapsed = time.perf_counter() - starts.pop(id(module))
            is_leaf = next(module.children(), None) is None
            if is_leaf or has_counter(module) or list(module.parameters(recurse=False)):
                timed_rows.append(elapsed)
                call_order.append(module)

        timers = [m.register_forward_pre_hook(time_pre) for m in model.modules()]
        timers += [m.register_forward_hook(time_post) for m in model.modules()]
        model.eval()
        try:
            with torch.no_grad():
                model(*example_inputs)
        finally:
            for h in timers:
                h.remove()
            model.train(was_training)
        if len(timed_rows) == len(rows):
            rows = [replace(r, seconds=t) for r, t in zip(rows, timed_rows)]

    # parameters of children that were used as functions, never called as modules (PyTorch's
    # MultiheadAttention reads its out_proj this way) belong to the nearest ancestor with a row
    row_index = {r.name: i for i, r in enumerate(rows)}
    for module_name, module in model.named_modules():
        for p in module.parameters(recurse=False):
            if id(p) in seen:
                continue
            parts = module_name.split(".")
            owner = next((".".join(parts[:k]) for k in range(len(parts) - 1, 0, -1) if ".".join(parts[:k]) in row_index), None)
            if owner is not None:
                i = row_index[owner]
                rows[i] = replace(rows[i], params=rows[i].params + p.numel(),
                                  trainable=rows[i].trainable + (p.numel() if p.requires_grad else 0))
                seen.add(id(p))

    # modules with parameters that this forward pass never called (the auxiliary heads of a
    # network in eval mode, say) get a row of their own: their parameters are in the totals
    for module_name, module in model.named_modules():
        idle = [p for p in module.parameters(recurse=False) if id(p) not in seen]
        if idle:
            seen.update(id(p) for p in idle)
            rows.append(LayerRow(name=module_name or type(model).__name__, type=type(module).__name__, output_shape="not called",
                                 params=sum(p.numel() for p in idle), trainable=sum(p.numel() for p in idle if p.requires_grad),
                                 macs=0, activation_bytes=0))

    backward_counter_flops = None
    outside_macs = 0
    if backward:
        rows, backward_counter_flops, outside_macs = _count_backward(model, example_inputs, output, loss_fn, rows, owners.owner,
                                                                     call_parent, call_row)

    unique = {id(p): p for p in model.parameters()}.values()
    table = Summary(
        model_name=type(model).__name__,
        input_shapes=[str(tuple(t.shape)) for t in _tensors(example_inputs)],
        rows=rows,
        total_params=sum(p.numel() for p in unique),
        trainable_params=sum(p.numel() for p in unique if p.requires_grad),
        param_bytes=sum(p.numel() * p.element_size() for p in unique),
        flop_counter_flops=int(counter.get_total_flops()),
        dispatched_types=sorted(dispatched_types),
        blind_flops=attribution.blind,
        module_types={name: type(module).__name__ for name, module in model.named_modules() if name},
        backward_counter_flops=backward_counter_flops,
        backward_outside_macs=outside_macs,
    )
    return table if depth is None else table.grouped(depth)


def _default_loss(output: Any) -> torch.Tensor:
    for t in _tensors(output):
        if t.is_floating_point() and t.requires_grad:
            return t.float().mean()
    raise ValueError("backward=True: the model's output holds no floating-point tensor that requires grad; pass loss_fn")


def _count_backward(model: nn.Module, inputs: tuple[Any, ...], output: Any, loss_fn: Callable[[Any], torch.Tensor] | None,
                    rows: list[LayerRow], node_owner: dict[Any, int | None], call_parent: dict[int, int | None],
                    call_row: dict[int, int]) -> tuple[list[LayerRow], int, int]:
    """The backward pass of ``loss_fn(output)``, its FLOPs credited to the rows whose forward built
    each autograd node. Returns the rows with ``backward_macs``, FlopCounterMode's backward total,
    and the MACs outside every row."""
    loss = (loss_fn or _default_loss)(output)
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1 or not loss.is_floating_point():
        raise TypeError(f"loss_fn must return a floating-point scalar tensor, got {loss!r:.80}")
    if loss.grad_fn is None:
        raise ValueError("backward=True: the loss does not depend on any trainable parameter (it has no grad_fn)")
    targets = list({id(p): p for p in model.parameters() if p.requires_grad}.values())
    targets += [t for t in _tensors(inputs) if t.requires_grad]

    def row_of(token: int | None) -> int | None:
        while token is not None and token not in call_row:
            token = call_parent[token]  # a call without a row (a plain container): its nearest ancestor's
        return None if token is None else call_row[token]

    _claim(node_owner, loss, None)  # nodes the loss added after the model's forward belong to no row

    current: list[int | None] = [None]

    def entering(row: int | None) -> Callable[[Any], None]:
        def hook(grad_outputs: Any) -> None:
            current[0] = row
        return hook

    handles = [node.register_prehook(entering(row_of(token))) for node, token in node_owner.items()]
    attribution = _Attribution(lambda: current[0])
    try:
        with FlopCounterMode(display=False) as counter, attribution:
            torch.autograd.grad(loss, targets, allow_unused=True)
    except Exception as exc:
        raise ValueError(f"the backward pass failed: {exc}") from exc
    finally:
        for h in handles:
            h.remove()
        node_owner.clear()
    rows = [replace(r, backward_macs=attribution.own.get(i, 0) // 2) for i, r in enumerate(rows)]
    return rows, int(counter.get_total_flops()), attribution.own.get(None, 0) // 2
