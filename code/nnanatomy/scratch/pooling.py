"""Pooling in NumPy: max pooling (a sliding window without a kernel) and adaptive average pooling."""

from __future__ import annotations

import math

import numpy as np

from ._checks import as_float_array
from .conv import conv_output_size, pair
from .layers import Layer

__all__ = ["AdaptiveAvgPool2D", "MaxPool2D"]


class MaxPool2D(Layer):
    """Each output pixel is the maximum of its window; channels are pooled independently.

    Like a convolution it slides a window, but it has no kernel and keeps the channel count:
    it downsamples, keeping the strongest response of each region. ``stride`` defaults to the
    window size (non-overlapping windows); padding pads with −∞. Backward sends each output's
    gradient to the one input that was the maximum (its *argmax*); the rest get 0.
    """

    def __init__(self, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None,
                 padding: int | tuple[int, int] = 0) -> None:
        super().__init__()
        self.kernel_size = pair("kernel_size", kernel_size)
        self.stride = self.kernel_size if stride is None else pair("stride", stride)
        self.padding = pair("padding", padding, minimum=0)
        for k, p in zip(self.kernel_size, self.padding):
            if p > k // 2:
                raise ValueError(f"padding must be at most half the kernel size, got padding {self.padding}, kernel {self.kernel_size}")
        self._cache: tuple | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_float_array("x", x, ndim=4)
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        out_h = conv_output_size(x.shape[2], kh, sh, ph)
        out_w = conv_output_size(x.shape[3], kw, sw, pw)
        padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf)
        # every window as a view: (N, C, H_out, W_out, kH, kW)
        windows = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw][:, :, :out_h, :out_w]
        flat = windows.reshape(*windows.shape[:4], kh * kw)
        arg = flat.argmax(axis=-1)  # (N, C, H_out, W_out): which window element won
        self._cache = (x.shape, arg, out_h, out_w)
        return np.take_along_axis(flat, arg[..., None], axis=-1)[..., 0]

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise RuntimeError("MaxPool2D.backward called before forward")
        x_shape, arg, out_h, out_w = self._cache
        grad_out = self._check_grad_out(grad_out, (*x_shape[:2], out_h, out_w))
        (_, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        rows = np.arange(out_h)[:, None] * sh + arg // kw  # (N, C, H_out, W_out) row in the padded input
        cols = np.arange(out_w)[None, :] * sw + arg % kw
        grad = np.zeros((x_shape[0], x_shape[1], x_shape[2] + 2 * ph, x_shape[3] + 2 * pw), dtype=grad_out.dtype)
        n_idx = np.arange(x_shape[0])[:, None, None, None]
        c_idx = np.arange(x_shape[1])[None, :, None, None]
        np.add.at(grad, (n_idx, c_idx, rows, cols), grad_out)  # overlapping windows accumulate
        return grad[:, :, ph : ph + x_shape[2], pw : pw + x_shape[3]]

    def __repr__(self) -> str:
        return f"MaxPool2D(kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding})"


def _bins(size: int, out: int) -> list[tuple[int, int]]:
    """PyTorch's adaptive bins: output i averages input [floor(i·size/out), ceil((i+1)·size/out))."""
    return [(math.floor(i * size / out), math.ceil((i + 1) * size / out)) for i in range(out)]


class AdaptiveAvgPool2D(Layer):
    """Average over bins chosen so that the output has a fixed size, whatever the input size.

    With ``output_size=1`` it is global average pooling: each channel's whole map is summarised
    by its mean — the channel's overall strength, with the spatial detail discarded.
    """

    def __init__(self, output_size: int | tuple[int, int]) -> None:
        super().__init__()
        self.output_size = pair("output_size", output_size)
        self._cache: tuple | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_float_array("x", x, ndim=4)
        oh, ow = self.output_size
        rows, cols = _bins(x.shape[2], oh), _bins(x.shape[3], ow)
        out = np.empty((*x.shape[:2], oh, ow), dtype=x.dtype)
        for i, (r0, r1) in enumerate(rows):
            for j, (c0, c1) in enumerate(cols):
                out[:, :, i, j] = x[:, :, r0:r1, c0:c1].mean(axis=(2, 3))
        self._cache = (x.shape, rows, cols)
        return out

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise RuntimeError("AdaptiveAvgPool2D.backward called before forward")
        x_shape, rows, cols = self._cache
        grad_out = self._check_grad_out(grad_out, (*x_shape[:2], *self.output_size))
        grad = np.zeros(x_shape, dtype=grad_out.dtype)
        for i, (r0, r1) in enumerate(rows):
            for j, (c0, c1) in enumerate(cols):
                grad[:, :, r0:r1, c0:c1] += grad_out[:, :, i, j][:, :, None, None] / ((r1 - r0) * (c1 - c0))
        return grad

    def __repr__(self) -> str:
        return f"AdaptiveAvgPool2D(output_size={self.output_size})"
