"""Interactive front-ends (ipywidgets) for the anatomy lens. They need a live kernel (Jupyter,
Colab); every number they show comes from a plain function that the book also prints."""

from __future__ import annotations

from dataclasses import dataclass

from ..scratch._checks import check_positive_int
from ..scratch.conv import conv_output_size
from .formatting import format_count

__all__ = ["ConvGeometry", "conv_calculator", "conv_geometry"]


@dataclass(frozen=True)
class ConvGeometry:
    out_height: int
    out_width: int
    params: int
    macs: int

    def describe(self, height: int, width: int, in_channels: int, out_channels: int,
                 kernel: int, stride: int, padding: int, dilation: int) -> str:
        span = dilation * (kernel - 1) + 1
        return (
            f"Conv2d({in_channels}, {out_channels}, kernel_size={kernel}, stride={stride}, padding={padding}, "
            f"dilation={dilation}) on (1, {in_channels}, {height}, {width})\n"
            f"  H_out = floor(({height} + 2·{padding} − {span}) / {stride}) + 1 = {self.out_height}"
            f"   (kernel footprint {span} = dilation·(k − 1) + 1)\n"
            f"  W_out = floor(({width} + 2·{padding} − {span}) / {stride}) + 1 = {self.out_width}\n"
            f"  output (1, {out_channels}, {self.out_height}, {self.out_width})\n"
            f"  parameters = C_out·(C_in·k·k + 1) = {out_channels}·({in_channels}·{kernel}·{kernel} + 1) = {format_count(self.params)}\n"
            f"  MACs = C_out·H_out·W_out·C_in·k·k = {format_count(self.macs)}"
        )


def conv_geometry(height: int, width: int, in_channels: int, out_channels: int, kernel: int,
                  stride: int = 1, padding: int = 0, dilation: int = 1, bias: bool = True) -> ConvGeometry:
    """Output size, parameter count and MACs of one ``nn.Conv2d`` on one ``(C_in, H, W)`` image."""
    in_channels, out_channels = check_positive_int("in_channels", in_channels), check_positive_int("out_channels", out_channels)
    out_h = conv_output_size(height, kernel, stride, padding, dilation)
    out_w = conv_output_size(width, kernel, stride, padding, dilation)
    params = out_channels * (in_channels * kernel * kernel + (1 if bias else 0))
    macs = out_channels * out_h * out_w * in_channels * kernel * kernel
    return ConvGeometry(out_h, out_w, params, macs)


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
            text = geo.describe(height, width, in_channels, out_channels, **values)
        except ValueError as exc:
            text = f"invalid: {exc}"
        output.value = f"<pre>{text}</pre>"

    for s in sliders.values():
        s.observe(update, names="value")
    update()
    return widgets.VBox([widgets.HBox(list(sliders.values())[:2]), widgets.HBox(list(sliders.values())[2:]), output])
