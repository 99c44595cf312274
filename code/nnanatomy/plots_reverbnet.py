"""Pictures of ReverberationNet (chapter 13): the mesh of roles, processors and conductor, the
data flow of one forward pass, and a terminal-style printout — drawn from the model itself, so
that a routing variant draws its own links."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch

from .models.reverbnet import PROCESSOR_NAMES, ROLE_NAMES, ReverberationNet

__all__ = ["draw_dataflow", "draw_mesh", "structure_text"]

_ROLE, _PROC, _COND, _FEED = "#0072B2", "#D55E00", "#009E73", "#CC79A7"


def _check(model: ReverberationNet) -> None:
    if not isinstance(model, ReverberationNet):
        raise TypeError(f"model must be a ReverberationNet, got {type(model).__name__}")


def draw_mesh(model: ReverberationNet, ax: plt.Axes | None = None) -> plt.Axes:
    """Roles on an outer ring, processors on an inner ring, Argallia in the centre.

    Grey: a processor reads a role (pass 1). Pink: the processor's feedback reaches the role in
    pass 2 (only the links the model's routing actually uses). Green: everything Argallia reads.
    """
    _check(model)
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 7.5))
    elif not isinstance(ax, plt.Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
    n_roles, n_procs = len(ROLE_NAMES), len(PROCESSOR_NAMES)
    role_xy = [(math.cos(math.pi / 2 - 2 * math.pi * i / n_roles), math.sin(math.pi / 2 - 2 * math.pi * i / n_roles))
               for i in range(n_roles)]
    proc_xy = [(0.5 * math.cos(math.pi / 2 - 2 * math.pi * (k + 0.5) / n_procs), 0.5 * math.sin(math.pi / 2 - 2 * math.pi * (k + 0.5) / n_procs))
               for k in range(n_procs)]
    for (px, py) in proc_xy:
        ax.plot([px, 0], [py, 0], color=_COND, linewidth=1.2, alpha=0.6, zorder=1)
    for (rx, ry) in role_xy:
        ax.plot([rx, 0], [ry, 0], color=_COND, linewidth=0.4, alpha=0.35, zorder=1)
    feedback = model.feedback_links()
    for k in range(n_procs):
        for i in model.processor_roles(k):
            (rx, ry), (px, py) = role_xy[i], proc_xy[k]
            ax.plot([rx, px], [ry, py], color="grey", linewidth=1.0, alpha=0.7, zorder=2)
    for i, links in feedback.items():
        for k, _slot in links:
            (rx, ry), (px, py) = role_xy[i], proc_xy[k]
            ax.annotate("", xy=(rx * 0.93, ry * 0.93), xytext=(px, py), zorder=3,
                        arrowprops=dict(arrowstyle="-|>", color=_FEED, linewidth=1.6, connectionstyle="arc3,rad=0.15"))
    for i, (x, y) in enumerate(role_xy):
        ax.scatter([x], [y], s=520, color=_ROLE, zorder=4)
        ax.text(x * 1.17, y * 1.17, ROLE_NAMES[i], ha="center", va="center", fontsize=8)
        ax.text(x, y, str(i), ha="center", va="center", fontsize=7, color="white", zorder=5)
    for k, (x, y) in enumerate(proc_xy):
        ax.scatter([x], [y], s=900, marker="s", color=_PROC, zorder=4)
        ax.text(x, y, PROCESSOR_NAMES[k][:5], ha="center", va="center", fontsize=6.5, color="white", zorder=5)
    ax.scatter([0], [0], s=1400, marker="h", color=_COND, zorder=4)
    ax.text(0, 0, "Argallia", ha="center", va="center", fontsize=7, color="white", zorder=5)
    n_feedback = sum(len(v) for v in feedback.values())
    ax.set_title(f"ReverberationNet, {model.routing} routing: 19 roles, 7 processors, 1 conductor; "
                 f"{n_feedback} feedback links", fontsize=9)
    ax.plot([], [], color="grey", label="processor reads role")
    ax.plot([], [], color=_FEED, label="feedback to role (pass 2)")
    ax.plot([], [], color=_COND, label="read by Argallia")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, -0.08), ncol=3, fontsize=8)
    ax.set_xlim(-1.35, 1.35)
    ax.set_ylim(-1.3, 1.3)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def draw_dataflow(model: ReverberationNet, length: int = 10, ax: plt.Axes | None = None) -> plt.Axes:
    """The stages of one forward pass, left to right, with the tensor shapes between them."""
    _check(model)
    if isinstance(length, bool) or not isinstance(length, int) or not 1 <= length <= 10_000:
        raise ValueError(f"length must be an int in [1, 10000], got {length!r}")
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 3.4))
    elif not isinstance(ax, plt.Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
    d = model.d
    stages = [
        ("input x", f"(B, {length}, {d})", "grey"),
        ("pass 1\n19 roles", f"19 × (B, {length}, {d})", _ROLE),
        ("7 fusion\nprocessors", f"7 × 3 × (B, {length}, {d})\n(one vector, repeated)", _PROC),
        ("pass 2\n19 roles\n+ feedback", f"19 × (B, {length}, {d})", _ROLE),
        ("Argallia\nattention over\n40 sources", f"(B, {40 * length}, {d}) → (B, {d})", _COND),
        ("output", "(B,)", "grey"),
    ]
    width, gap = 1.25, 0.55
    for j, (name, shape, color) in enumerate(stages):
        x = j * (width + gap)
        ax.add_patch(FancyBboxPatch((x, 0), width, 1, boxstyle="round,pad=0.04", facecolor=color, alpha=0.85, edgecolor="none"))
        ax.text(x + width / 2, 0.5, name, ha="center", va="center", fontsize=8, color="white")
        if j + 1 < len(stages):
            ax.annotate("", xy=(x + width + gap - 0.04, 0.5), xytext=(x + width + 0.04, 0.5), arrowprops=dict(arrowstyle="-|>", color="black"))
            ax.text(x + width + gap / 2, -0.32, shape, ha="center", va="top", fontsize=7)
    side = dict(arrowstyle="-|>", color=_COND, connectionstyle="arc3,rad=-0.35", linewidth=1.2)
    ax.annotate("", xy=(4 * (width + gap) + 0.3, 1.05), xytext=(2 * (width + gap) + width / 2, 1.05), arrowprops=side)
    ax.text(3 * (width + gap) + 0.6, 1.62, "the 21 processor outputs also go to Argallia", ha="center", fontsize=7, color=_COND)
    ax.text(1 * (width + gap) + width / 2, -1.1, "each role: processor → (+ feedback) → z = μ + ε·σ → LayerNorm(x + z); KL and a gate on the side",
            ha="left", fontsize=7)
    ax.set_xlim(-0.2, len(stages) * (width + gap))
    ax.set_ylim(-1.4, 2.0)
    ax.axis("off")
    ax.set_title("Data flow of one forward pass", fontsize=10)
    return ax


def _layer_types(processor) -> str:
    """"Conv1d, MultiheadAttention, 3 × Linear": the processor's own layers, in order."""
    counts: dict[str, int] = {}
    for child in processor.children():
        for layer in (child.children() if type(child).__name__ == "ModuleList" else [child]):
            counts[type(layer).__name__] = counts.get(type(layer).__name__, 0) + 1
    return ", ".join(name if n == 1 else f"{n} × {name}" for name, n in counts.items())


def structure_text(model: ReverberationNet) -> str:
    """A terminal-style printout: every role with its processor type and parameters, every
    processor with the roles it reads and feeds back to, the conductor, and the totals."""
    _check(model)
    structure = model.get_network_structure()
    feedback = model.feedback_links()
    lines = [f"ReverberationNet(d={model.d}, routing={model.routing!r})", "│"]
    lines.append(f"├── roles ({structure['parameters']['roles']:,} parameters)")
    for i, (name, role) in enumerate(model.roles.items()):
        params = sum(p.numel() for p in role.parameters())
        inner = _layer_types(role.processor)
        fb = ", ".join(f"{PROCESSOR_NAMES[k]}[{slot}]" for k, slot in feedback[i]) or "—"
        lines.append(f"│   ├── {i:2d} {name:13s} {params:>7,}  {inner:46s} feedback: {fb}")
    lines.append(f"├── processors ({structure['parameters']['processors']:,} parameters)")
    for k, name in enumerate(PROCESSOR_NAMES):
        reads = ", ".join(ROLE_NAMES[i] for i in model.processor_roles(k))
        back = ", ".join(ROLE_NAMES[i] for i, links in feedback.items() if any(p == k for p, _ in links)) or "—"
        lines.append(f"│   ├── {name:10s} reads {reads:34s} feeds back to {back}")
    lines.append(f"├── argallia ({structure['parameters']['argallia']:,} parameters): "
                 f"attention over {structure['roles'] + 3 * structure['processors']} sources")
    lines.append(f"└── total {model.num_parameters():,} parameters; {structure['total_connections']} connections "
                 f"({structure['role_to_processor']} role→processor, {structure['processor_to_role']} processor→role), "
                 f"{structure['feedback_links_used']} feedback links used, {structure['gate_probabilities']} gate probabilities")
    return "\n".join(lines)
