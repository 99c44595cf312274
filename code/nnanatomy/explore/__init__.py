"""The anatomy lens: what every layer computes, what it costs, how gradients flow through it."""

from .backward import BackwardWalk, show_backward_effect
from .counting import count_macs, register_counter
from .formatting import format_bytes, format_count
from .receptive import ReceptiveField, RFRow, measured_receptive_field, receptive_field
from .summary import FLOP_CONVENTION, LayerRow, Summary, summary
from .widgets import ConvGeometry, conv_calculator, conv_geometry

__all__ = [
    "FLOP_CONVENTION",
    "BackwardWalk",
    "ConvGeometry",
    "RFRow",
    "ReceptiveField",
    "LayerRow",
    "Summary",
    "conv_calculator",
    "conv_geometry",
    "count_macs",
    "format_bytes",
    "format_count",
    "measured_receptive_field",
    "receptive_field",
    "register_counter",
    "show_backward_effect",
    "summary",
]
