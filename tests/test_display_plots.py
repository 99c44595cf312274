"""display.show_source and plots: what the notebooks use to show code and figures."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from nnanatomy import display, plots, scratch, train


def test_show_source_is_the_real_source_without_absolute_paths():
    src = display.show_source(scratch.Linear.backward)
    text, markdown = str(src), src._repr_markdown_()
    assert "nnanatomy/scratch/layers.py · Linear.backward" in text
    assert "grad_out.T @ self._x" in text
    assert markdown.count("```python") == 1
    assert "/root" not in text and "/home" not in text


def test_show_source_without_docstrings_and_several_objects():
    src = display.show_source(scratch.MSELoss, scratch.relu, docstring=False)
    text = str(src)
    assert "Mean squared error" not in text and "max(0, x)" not in text
    assert "def forward" in text and "np.maximum" in text
    assert len(src.parts) == 2


def test_show_source_locates_decorated_functions_in_the_package():
    """torch.no_grad() and contextlib decorators wrap the function: the header names our file."""
    from nnanatomy import distributed, models, separation

    for obj, header in [
        (models.GPT.generate, "nnanatomy/models/gpt.py · GPT.generate"),
        (separation._windowed, "nnanatomy/separation.py · _windowed"),
        (distributed.session, "nnanatomy/distributed.py · session"),
    ]:
        text = str(display.show_source(obj))
        assert text.splitlines()[0] == f"# {header}"
        assert "contextlib" not in text.splitlines()[0]


def test_show_source_displays_where_it_is_called_and_only_once(monkeypatch):
    """In IPython the listing renders at the call, not only as a cell's last value."""
    import IPython
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython, "get_ipython", lambda: object())
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: shown.append((obj, raw)))
    src = display.show_source(scratch.relu)
    assert len(shown) == 1 and shown[0][1] is True
    assert "nnanatomy/scratch/layers.py · relu" in shown[0][0]["text/plain"]
    assert "```python" in shown[0][0]["text/markdown"]
    src._ipython_display_()  # as the value of the cell's last line: nothing more
    assert len(shown) == 1


def test_show_source_outside_ipython_displays_nothing(monkeypatch):
    import IPython

    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    src = display.show_source(scratch.relu)
    assert not src._displayed and "def relu" in str(src)


def test_show_source_rejects_non_code():
    with pytest.raises(ValueError):
        display.show_source()
    with pytest.raises(TypeError, match="functions, classes"):
        display.show_source(3)
    with pytest.raises(TypeError, match="docstring"):
        display.show_source(scratch.relu, docstring="no")


def test_plot_history():
    plots.use_book_style()
    hist = train.History(epoch=[1, 2, 3], train_loss=[3.0, 2.0, 1.0], eval_epoch=[3], metrics={"test": [1.5]})
    ax = plots.plot_history(hist, "test")
    assert ax.get_xlabel() == "epoch" and ax.get_title()
    assert len(ax.get_lines()) == 2
    plt.close("all")
    with pytest.raises(ValueError, match="unknown metrics"):
        plots.plot_history(hist, ["nope"])
    with pytest.raises(ValueError, match="empty"):
        plots.plot_history(train.History())
    with pytest.raises(TypeError):
        plots.plot_history({"train_loss": [1.0]})


def test_history_round_trip():
    hist = train.History(epoch=[1], train_loss=[0.5], metrics={"a": [1.0]}, eval_epoch=[1])
    assert train.History.from_dict(hist.as_dict()) == hist
    with pytest.raises(ValueError, match="unknown"):
        train.History.from_dict({"bogus": []})


def test_show_compact_displays_a_jpeg_and_closes_the_figure(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    fig, ax = plt.subplots()
    ax.imshow(np.random.default_rng(0).random((64, 64)))
    plots.show_compact(fig)
    assert shown[0].format == "jpeg" and shown[0].data[:2] == b"\xff\xd8"  # the JPEG magic number
    assert not plt.fignum_exists(fig.number)
    with pytest.raises(ValueError, match="quality"):
        plots.show_compact(plt.figure(), quality=100)
    with pytest.raises(TypeError, match="Figure"):
        plots.show_compact("figure")
    plt.close("all")


def test_image_grid_puts_a_gutter_between_tiles():
    images = np.arange(6 * 2 * 3, dtype=float).reshape(6, 2, 3)
    grid = plots.image_grid(images, 2, 3, gap=1, fill=-9)
    assert grid.shape == (2 * 2 + 1, 3 * 3 + 2)
    np.testing.assert_array_equal(grid[:2, :3], images[0])
    np.testing.assert_array_equal(grid[3:5, 4:7], images[4])
    assert (grid[2] == -9).all() and (grid[:, 3] == -9).all()
    import torch

    assert plots.image_grid(torch.zeros(4, 8, 8), 2, 2).shape == (17, 17)
    with pytest.raises(ValueError, match="need 4 images"):
        plots.image_grid(np.zeros((3, 8, 8)), 2, 2)
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        plots.image_grid(np.zeros((4, 8)), 2, 2)
    with pytest.raises(ValueError, match="gap"):
        plots.image_grid(np.zeros((4, 8, 8)), 2, 2, gap=-1)
    with pytest.raises(TypeError, match="rows"):
        plots.image_grid(np.zeros((4, 8, 8)), 2.5, 2)
