"""``parallel_cost``: what one data-parallel training step costs each device — memory of the model
state, bytes exchanged, and the time of both against the time of the computation (appendix A4).

The arithmetic, per optimiser step with ``P`` parameters over ``N`` devices, ``b`` bytes per value:

- model state per device: parameters, gradients and the optimiser's state (Adam: two tensors per
  parameter, momentum one, SGD none), ``(2 + states) · b · P``; sharded (FSDP, ZeRO stage 3): ``/ N``.
- sent per device: plain data parallelism (DDP) all-reduces the gradient in a ring,
  ``2 (N − 1)/N · b · P``; FSDP all-gathers the parameters in the forward pass and again in the
  backward pass and reduce-scatters the gradients, ``3 (N − 1)/N · b · P``.
- compute: ``6 · P`` FLOPs per token (forward 2P, backward 4P; Kaplan et al., 2020), at an assumed
  sustained ``peak_flops``; communication: the bytes sent at ``link_bandwidth``.

The website's calculator computes the same numbers in the reader's browser; the browser test
compares the two on a table of cases.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._checks import check_int, check_real
from .formatting import format_bytes
from .memory import OPTIMIZER_STATES

__all__ = ["STRATEGIES", "ParallelCost", "parallel_calculator", "parallel_cost"]

#: strategy → values each device sends per parameter and step, as a multiple of (N − 1)/N
STRATEGIES = {"ddp": 2, "fsdp": 3}
_MAX_PARAMETERS = 10**15  # a quadrillion: beyond any model, small enough to stay exact in a float64 (JavaScript's numbers)


@dataclass(frozen=True)
class ParallelCost:
    """One data-parallel training step, per device; see :func:`parallel_cost`."""

    strategy: str
    parameters: int
    devices: int
    optimizer: str
    bytes_per_value: int
    tokens_per_device: int
    peak_flops: float
    link_bandwidth: float
    state_bytes: float  # parameters, gradients and optimiser state held by each device
    sent_bytes: float  # bytes each device sends per step
    compute_seconds: float  # 6 · P · tokens / peak
    communication_seconds: float  # sent / bandwidth

    @property
    def communication_share(self) -> float:
        """Communication time over compute time (below 1 it can hide behind the computation)."""
        return self.communication_seconds / self.compute_seconds

    def describe(self) -> str:
        """The computation written out, each formula with its numbers filled in."""
        n, p, b = self.devices, self.parameters, self.bytes_per_value
        states = OPTIMIZER_STATES[self.optimizer]
        shard = f" / {n}" if self.strategy == "fsdp" else ""
        factor = STRATEGIES[self.strategy]
        return (
            f"{self.strategy.upper()} over N = {n} devices, P = {p:,} parameters, {b} bytes per value, {self.optimizer}\n"
            f"  model state per device = (2 + {states})·{b}·P{shard} = {format_bytes(self.state_bytes)}\n"
            f"  sent per device and step = {factor}·(N − 1)/N·{b}·P = {format_bytes(self.sent_bytes)}\n"
            f"  compute = 6·P·{self.tokens_per_device:,} tokens / {self.peak_flops:.3g} FLOP/s = {self.compute_seconds * 1e3:.2f} ms\n"
            f"  communication = sent / {self.link_bandwidth:.3g} B/s = {self.communication_seconds * 1e3:.2f} ms "
            f"({self.communication_share:.2f} × the compute)"
        )


def parallel_cost(parameters: int, devices: int = 8, strategy: str = "ddp", optimizer: str = "adam",
                  bytes_per_value: int = 4, tokens_per_device: int = 8192, peak_flops: float = 100e12,
                  link_bandwidth: float = 25e9) -> ParallelCost:
    """Memory and communication of one data-parallel training step, per device.

    Args:
        parameters: the model's parameter count ``P``.
        devices: ``N``, the devices the batch is spread over (1: no exchange).
        strategy: ``"ddp"`` (every device holds everything, the gradient is all-reduced) or
            ``"fsdp"`` (parameters, gradients and optimiser state sharded ``N`` ways).
        optimizer: ``"adam"`` or ``"adamw"`` (two state tensors per parameter), ``"momentum"`` (one)
            or ``"sgd"`` (none) — :data:`nnanatomy.explore.OPTIMIZER_STATES`.
        bytes_per_value: 4 for float32, 2 for bfloat16 gradients and parameters.
        tokens_per_device: the tokens each device processes per step.
        peak_flops: the assumed sustained FLOP/s of one device.
        link_bandwidth: the assumed bytes per second each device sends.
    """
    parameters = check_int("parameters", parameters, 1, _MAX_PARAMETERS)
    devices = check_int("devices", devices, 1, 1_000_000)
    if not isinstance(strategy, str):
        raise TypeError(f"strategy must be one of {sorted(STRATEGIES)}, got {type(strategy).__name__}")
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {sorted(STRATEGIES)}, got {strategy!r}")
    if not isinstance(optimizer, str):
        raise TypeError(f"optimizer must be one of {sorted(OPTIMIZER_STATES)}, got {type(optimizer).__name__}")
    if optimizer not in OPTIMIZER_STATES:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZER_STATES)}, got {optimizer!r}")
    bytes_per_value = check_int("bytes_per_value", bytes_per_value, 1, 8)
    tokens_per_device = check_int("tokens_per_device", tokens_per_device, 1, 10**9)
    peak_flops = check_real("peak_flops", peak_flops, 0.0, low_open=True)
    link_bandwidth = check_real("link_bandwidth", link_bandwidth, 0.0, low_open=True)

    state = (2 + OPTIMIZER_STATES[optimizer]) * bytes_per_value * parameters
    if strategy == "fsdp":
        state = state / devices
    sent = STRATEGIES[strategy] * (devices - 1) / devices * bytes_per_value * parameters
    compute = 6 * parameters * tokens_per_device / peak_flops
    return ParallelCost(strategy, parameters, devices, optimizer, bytes_per_value, tokens_per_device, peak_flops,
                        link_bandwidth, float(state), float(sent), compute, sent / link_bandwidth)


def parallel_calculator(parameters: int = 124_439_808, devices: int = 8):
    """Boxes for the model, the cluster and the link; the per-device cost updates live (Jupyter,
    Colab). The book's website has the same calculator in JavaScript."""
    import ipywidgets as widgets

    boxes = {
        "parameters": widgets.BoundedIntText(value=parameters, min=1, max=_MAX_PARAMETERS, description="parameters"),
        "devices": widgets.BoundedIntText(value=devices, min=1, max=1_000_000, description="devices"),
        "strategy": widgets.Dropdown(options=sorted(STRATEGIES), value="ddp", description="strategy"),
        "optimizer": widgets.Dropdown(options=sorted(OPTIMIZER_STATES), value="adam", description="optimizer"),
        "bytes_per_value": widgets.Dropdown(options=[4, 2], value=4, description="bytes/value"),
        "tokens_per_device": widgets.BoundedIntText(value=8192, min=1, max=10**9, description="tokens/device"),
        "peak_flops": widgets.FloatText(value=100e12, description="FLOP/s"),
        "link_bandwidth": widgets.FloatText(value=25e9, description="link B/s"),
    }
    output = widgets.HTML()

    def update(_: object = None) -> None:
        try:
            text = parallel_cost(**{name: box.value for name, box in boxes.items()}).describe()
        except (TypeError, ValueError) as exc:
            text = f"invalid: {exc}"
        output.value = f"<pre>{text}</pre>"

    for box in boxes.values():
        box.observe(update, names="value")
    update()
    return widgets.VBox([widgets.HBox(list(boxes.values())[:4]), widgets.HBox(list(boxes.values())[4:]), output])
