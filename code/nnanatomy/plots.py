"""Figures used by more than one chapter, in one book style."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt

from ._checks import check_bool, check_finite, check_int, check_real, check_str
from .train import History

__all__ = ["COLORS", "image_grid", "plot_history", "show_compact", "use_book_style"]

#: Colour cycle of the book (colour-blind safe, readable on light and dark pages).
COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")



def _axes(ax: object) -> plt.Axes:
    """``ax`` if it is a Matplotlib Axes, a new figure's Axes for None, else a TypeError."""
    if ax is None:
        return plt.subplots()[1]
    if not isinstance(ax, plt.Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
    return ax

def show_compact(fig: plt.Figure | None = None, quality: int = 85) -> None:
    """Show a figure as a JPEG instead of a PNG, and close it.

    For spectrograms and other photograph-like images, whose PNG is several times larger than
    a JPEG that looks the same; line plots stay PNG (``plt.show()``).
    """
    import io

    from IPython.display import Image, display

    fig = plt.gcf() if fig is None else fig
    if not isinstance(fig, plt.Figure):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 95:
        raise ValueError(f"quality must be an int in [1, 95], got {quality!r}")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="jpeg", pil_kwargs={"quality": quality})
    plt.close(fig)
    display(Image(data=buffer.getvalue(), format="jpeg"))


def use_book_style() -> None:
    """Set matplotlib's defaults for the book: size, resolution, grid, colours, white background."""
    mpl.rcParams.update(
        {
            "figure.figsize": (7.0, 3.6),
            "figure.dpi": 90,
            "savefig.dpi": 90,
            "figure.facecolor": "white",
            "axes.facecolor": "white",
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titlesize": 11,
            "axes.labelsize": 10,
            "legend.fontsize": 9,
            "legend.frameon": False,
            "axes.prop_cycle": mpl.cycler(color=list(COLORS)),
            "figure.constrained_layout.use": True,
        }
    )


def plot_history(
    history: History,
    metrics: Sequence[str] = (),
    *,
    ax: plt.Axes | None = None,
    log_y: bool = True,
    title: str = "Training history",
    ylabel: str = "loss",
) -> plt.Axes:
    """Training loss per epoch, and the named evaluation metrics at their evaluation epochs."""
    if not isinstance(history, History):
        raise TypeError(f"history must be a nnanatomy.train.History, got {type(history).__name__}")
    if len(history) == 0:
        raise ValueError("history is empty: nothing was trained")
    if isinstance(metrics, str):
        metrics = (metrics,)
    if not isinstance(metrics, (list, tuple)) or not all(isinstance(m, str) for m in metrics):
        raise TypeError(f"metrics must be a metric name or a list of names, got {type(metrics).__name__}")
    missing = [m for m in metrics if m not in history.metrics]
    if missing:
        raise ValueError(f"unknown metrics {missing}; the history has {sorted(history.metrics)}")
    log_y = check_bool("log_y", log_y)
    title, ylabel = check_str("title", title), check_str("ylabel", ylabel)
    ax = _axes(ax)
    ax.plot(history.epoch, history.train_loss, label="train loss")
    for name in metrics:
        ax.plot(history.eval_epoch, history.metrics[name], marker="o", markersize=3, label=name)
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    return ax


def image_grid(images, rows: int, cols: int, *, gap: int = 1, fill: float = -1.0):
    """``(rows·cols, H, W)`` images → one ``(rows·(H + gap) − gap, cols·(W + gap) − gap)`` picture,
    ``gap`` pixels of ``fill`` between neighbours, so that tiles never merge (NumPy or torch in,
    NumPy out; images in row-major order)."""
    import numpy as np

    if hasattr(images, "detach"):
        images = images.detach().cpu().numpy()
    if not isinstance(images, np.ndarray):
        raise TypeError(f"images must be a NumPy array or a tensor (N, H, W), got {type(images).__name__}")
    if images.dtype.kind not in "iufb":
        raise TypeError(f"images must hold numbers, got dtype {images.dtype}")
    images = images.astype(float)
    check_finite("images", images)
    fill = check_real("fill", fill)
    for name, value in (("rows", rows), ("cols", cols)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if images.ndim != 3:
        raise ValueError(f"images must be (N, H, W), got shape {images.shape}")
    if rows < 1 or cols < 1 or images.shape[0] != rows * cols:
        raise ValueError(f"{rows}×{cols} tiles need {rows * cols} images, got {images.shape[0]}")
    gap = check_int("gap", gap, 0, maximum=max(images.shape[1:]))
    h, w = images.shape[1:]
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap), float(fill))
    for k, image in enumerate(images):
        r, c = divmod(k, cols)
        out[r * (h + gap): r * (h + gap) + h, c * (w + gap): c * (w + gap) + w] = image
    return out
