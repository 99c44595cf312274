"""The anatomy lens: what every layer computes, what it costs, how gradients flow through it."""

from .backward import BackwardWalk, show_backward_effect
from .compare import Comparison, ComparisonEntry, compare
from .counting import count_macs, register_counter
from .formatting import format_bytes, format_count
from .gradcheck import GradCheck, grade, gradcheck
from .lint import LINT_LIMITS, lint
from .memory import OPTIMIZER_STATES, MemoryReport, MemoryRow, memory
from .parallel import STRATEGIES, ParallelCost, parallel_calculator, parallel_cost
from .receptive import ReceptiveField, RFRow, measured_receptive_field, receptive_field
from .stability import CRITERIA, THRESHOLDS, Finding, GradientFlow, LayerStats, diagnose, gradient_flow
from .summary import FLOP_CONVENTION, LayerRow, Summary, summary
from .trace import LayerTrace, Trace, trace
from .widgets import ConvGeometry, conv_calculator, conv_geometry, layer_calculator, layer_cost

__all__ = [
    "layer_calculator",
    "layer_cost",
    "FLOP_CONVENTION",
    "CRITERIA",
    "THRESHOLDS",
    "BackwardWalk",
    "Comparison",
    "ComparisonEntry",
    "ConvGeometry",
    "Finding",
    "MemoryReport",
    "MemoryRow",
    "OPTIMIZER_STATES",
    "ParallelCost",
    "STRATEGIES",
    "GradCheck",
    "GradientFlow",
    "LINT_LIMITS",
    "LayerRow",
    "LayerStats",
    "LayerTrace",
    "RFRow",
    "ReceptiveField",
    "Summary",
    "Trace",
    "compare",
    "conv_calculator",
    "conv_geometry",
    "count_macs",
    "diagnose",
    "format_bytes",
    "format_count",
    "grade",
    "gradcheck",
    "gradient_flow",
    "lint",
    "measured_receptive_field",
    "parallel_calculator",
    "parallel_cost",
    "memory",
    "receptive_field",
    "register_counter",
    "show_backward_effect",
    "summary",
    "trace",
]
