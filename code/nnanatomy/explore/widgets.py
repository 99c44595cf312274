"""Interactive front-ends (ipywidgets) for the anatomy lens. They need a live kernel (Jupyter,
Colab); every number they show comes from a plain function that the book also prints."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..scratch._checks import check_positive_int
from ..scratch.conv import conv_output_size
from .formatting import format_count

__all__ = ["LAYERS", "ConvGeometry", "conv_calculator", "conv_geometry", "layer_calculator", "layer_cost"]


@dataclass(frozen=True)
class ConvGeometry:
    """Output size, parameters and MACs of one ``nn.Conv2d`` on one image, with the settings
    that produced them, so that :meth:`describe` writes out formulas that evaluate to the numbers."""

    out_height: int
    out_width: int
    params: int
    macs: int
    height: int
    width: int
    in_channels: int
    out_channels: int
    kernel: int
    stride: int
    padding: int
    dilation: int
    bias: bool

    def describe(self) -> str:
        """The computation written out, each formula with its numbers filled in."""
        span = self.dilation * (self.kernel - 1) + 1
        k, c_in, c_out = self.kernel, self.in_channels, self.out_channels
        if self.bias:
            params = f"C_out·(C_in·k·k + 1) = {c_out}·({c_in}·{k}·{k} + 1)"
        else:
            params = f"C_out·C_in·k·k (no bias) = {c_out}·{c_in}·{k}·{k}"
        return (
            f"Conv2d({c_in}, {c_out}, kernel_size={k}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, bias={self.bias}) on (1, {c_in}, {self.height}, {self.width})\n"
            f"  H_out = floor(({self.height} + 2·{self.padding} − {span}) / {self.stride}) + 1 = {self.out_height}"
            f"   (kernel footprint {span} = dilation·(k − 1) + 1)\n"
            f"  W_out = floor(({self.width} + 2·{self.padding} − {span}) / {self.stride}) + 1 = {self.out_width}\n"
            f"  output (1, {c_out}, {self.out_height}, {self.out_width})\n"
            f"  parameters = {params} = {format_count(self.params)}\n"
            f"  MACs = C_out·H_out·W_out·C_in·k·k = {format_count(self.macs)}"
        )


def conv_geometry(height: int, width: int, in_channels: int, out_channels: int, kernel: int,
                  stride: int = 1, padding: int = 0, dilation: int = 1, bias: bool = True) -> ConvGeometry:
    """Output size, parameter count and MACs of one ``nn.Conv2d`` on one ``(C_in, H, W)`` image."""
    in_channels, out_channels = check_positive_int("in_channels", in_channels), check_positive_int("out_channels", out_channels)
    if not isinstance(bias, bool):
        raise TypeError(f"bias must be True or False, got {bias!r}")
    out_h = conv_output_size(height, kernel, stride, padding, dilation)
    out_w = conv_output_size(width, kernel, stride, padding, dilation)
    params = out_channels * (in_channels * kernel * kernel + (1 if bias else 0))
    macs = out_channels * out_h * out_w * in_channels * kernel * kernel
    return ConvGeometry(out_h, out_w, params, macs, height, width, in_channels, out_channels, kernel, stride,
                        padding, dilation, bias)


def conv_calculator(height: int = 32, width: int = 32, in_channels: int = 3, out_channels: int = 16):
    """Sliders for kernel, stride, padding and dilation; the output shape and cost update live."""
    import ipywidgets as widgets

    sliders = {
        "kernel": widgets.IntSlider(value=3, min=1, max=11, description="kernel"),
        "stride": widgets.IntSlider(value=1, min=1, max=4, description="stride"),
        "padding": widgets.IntSlider(value=1, min=0, max=5, description="padding"),
        "dilation": widgets.IntSlider(value=1, min=1, max=4, description="dilation"),
    }
    output = widgets.HTML()

    def update(_: object = None) -> None:
        values = {k: s.value for k, s in sliders.items()}
        try:
            geo = conv_geometry(height, width, in_channels, out_channels, **values)
            text = geo.describe()
        except ValueError as exc:
            text = f"invalid: {exc}"
        output.value = f"<pre>{text}</pre>"

    for s in sliders.values():
        s.observe(update, names="value")
    update()
    return widgets.VBox([widgets.HBox(list(sliders.values())[:2]), widgets.HBox(list(sliders.values())[2:]), output])


#: The layers the general calculator builds: name → (sizes it asks for, a builder, an example input).
LAYERS = {
    "Linear": (("batch", "in_features", "out_features"),
               lambda s: torch.nn.Linear(s["in_features"], s["out_features"]),
               lambda s: (torch.zeros(s["batch"], s["in_features"]),)),
    "Conv2d": (("batch", "in_channels", "out_channels", "size", "kernel", "stride", "padding"),
               lambda s: torch.nn.Conv2d(s["in_channels"], s["out_channels"], s["kernel"], s["stride"], s["padding"]),
               lambda s: (torch.zeros(s["batch"], s["in_channels"], s["size"], s["size"]),)),
    "BatchNorm2d": (("batch", "channels", "size"),
                    lambda s: torch.nn.BatchNorm2d(s["channels"]),
                    lambda s: (torch.zeros(s["batch"], s["channels"], s["size"], s["size"]),)),
    "LayerNorm": (("batch", "tokens", "d_model"),
                  lambda s: torch.nn.LayerNorm(s["d_model"]),
                  lambda s: (torch.zeros(s["batch"], s["tokens"], s["d_model"]),)),
    "MultiheadAttention": (("batch", "tokens", "d_model", "heads"),
                           lambda s: _MHA(s["d_model"], s["heads"]),
                           lambda s: (torch.zeros(s["batch"], s["tokens"], s["d_model"]),)),
    "LSTM": (("batch", "tokens", "in_features", "hidden"),
             lambda s: torch.nn.LSTM(s["in_features"], s["hidden"], batch_first=True),
             lambda s: (torch.zeros(s["batch"], s["tokens"], s["in_features"]),)),
}


class _MHA(torch.nn.Module):
    """Self-attention as one layer: ``nn.MultiheadAttention(x, x, x)``."""

    def __init__(self, d_model: int, heads: int) -> None:
        super().__init__()
        if d_model % heads:
            raise ValueError(f"d_model {d_model} must be divisible by heads {heads}")
        self.attn = torch.nn.MultiheadAttention(d_model, heads, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attn(x, x, x, need_weights=False)[0]


def layer_cost(kind: str, **sizes: int):
    """Build one layer of type ``kind`` (a key of :data:`LAYERS`) with ``sizes`` and return the
    anatomy :class:`~nnanatomy.explore.Summary` of one forward pass on zeros of that shape —
    the same counting as every chapter's table, so the calculator cannot disagree with the book."""
    from .summary import summary

    if kind not in LAYERS:
        raise ValueError(f"kind must be one of {sorted(LAYERS)}, got {kind!r}")
    needed, build, example = LAYERS[kind]
    missing = [n for n in needed if n not in sizes]
    unknown = [n for n in sizes if n not in needed]
    if missing or unknown:
        raise ValueError(f"{kind} needs sizes {list(needed)}; missing {missing}, unexpected {unknown}")
    for name in needed:
        sizes[name] = check_positive_int(name, sizes[name]) if name != "padding" else _non_negative(sizes[name])
    return summary(build(sizes), *example(sizes))


def _non_negative(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"padding must be a non-negative int, got {value!r}")
    return value


def layer_calculator(kind: str = "Conv2d"):
    """A drop-down of layer types and a box per size; shows the layer's anatomy row live."""
    import ipywidgets as widgets

    defaults = dict(batch=1, in_features=64, out_features=64, in_channels=3, out_channels=64, size=224, kernel=7,
                    stride=2, padding=3, channels=64, tokens=128, d_model=256, heads=8, hidden=128)
    if kind not in LAYERS:
        raise ValueError(f"kind must be one of {sorted(LAYERS)}, got {kind!r}")
    choice = widgets.Dropdown(options=sorted(LAYERS), value=kind, description="layer")
    boxes = {name: widgets.BoundedIntText(value=value, min=0, max=100_000, description=name, layout=widgets.Layout(width="210px"))
             for name, value in defaults.items()}
    form, output = widgets.VBox(), widgets.HTML()

    def update(_: object = None) -> None:
        needed = LAYERS[choice.value][0]
        form.children = [boxes[n] for n in needed]
        try:
            text = str(layer_cost(choice.value, **{n: boxes[n].value for n in needed}))
        except (ValueError, RuntimeError) as exc:
            text = f"invalid: {exc}"
        output.value = f"<pre>{text}</pre>"

    choice.observe(update, names="value")
    for box in boxes.values():
        box.observe(update, names="value")
    update()
    return widgets.VBox([choice, form, output])
