"""Figures used by more than one chapter, in one book style."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt

from .train import History

__all__ = ["COLORS", "plot_history", "show_compact", "use_book_style"]

#: Colour cycle of the book (colour-blind safe, readable on light and dark pages).
COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")


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
    missing = [m for m in metrics if m not in history.metrics]
    if missing:
        raise ValueError(f"unknown metrics {missing}; the history has {sorted(history.metrics)}")
    if ax is None:
        _, ax = plt.subplots()
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
