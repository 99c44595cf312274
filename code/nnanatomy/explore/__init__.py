"""The anatomy lens: what every layer computes, what it costs, how gradients flow through it."""

from .backward import BackwardWalk, show_backward_effect
from .counting import count_macs, register_counter
from .formatting import format_bytes, format_count
from .summary import FLOP_CONVENTION, LayerRow, Summary, summary

__all__ = [
    "FLOP_CONVENTION",
    "BackwardWalk",
    "LayerRow",
    "Summary",
    "count_macs",
    "format_bytes",
    "format_count",
    "register_counter",
    "show_backward_effect",
    "summary",
]
