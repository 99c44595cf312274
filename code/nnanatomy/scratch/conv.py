"""2-D convolution in NumPy, three ways: the definition, explicit loops, and im2col.

Shapes follow PyTorch: input ``x`` is ``(N, C_in, H, W)``, the kernel ``weight`` is
``(C_out, C_in, kH, kW)``, the output ``(N, C_out, H_out, W_out)`` with

    H_out = floor((H + 2·padding − dilation·(kH − 1) − 1) / stride) + 1

(with dilation 1 this is the familiar ``(H − K + 2P) / S + 1``). Like every deep-learning
library, these layers compute a *cross-correlation* — the kernel is not flipped; see
:func:`convolve1d` and :func:`correlate1d` for the difference.
"""

from __future__ import annotations

import numpy as np

from ._checks import as_float_array, check_positive_int
from .layers import Layer

__all__ = [
    "Conv2D",
    "col2im",
    "conv2d_loops",
    "conv2d_loops_backward",
    "conv_output_size",
    "convolve1d",
    "convolve2d",
    "correlate1d",
    "correlate2d",
    "im2col",
    "pair",
]


def pair(name: str, value: object, minimum: int = 1) -> tuple[int, int]:
    """``3`` → ``(3, 3)``; ``(3, 5)`` stays; anything else is a clear error."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
        a, b = value
    else:
        a = b = value
    out = []
    for v in (a, b):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
        if v < minimum:
            raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
        if v > 100_000:
            raise ValueError(f"{name} must be <= 100000, got {value!r}")
        out.append(int(v))
    return out[0], out[1]


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length of a convolution (or pooling) along one axis.

    ``floor((size + 2·padding − dilation·(kernel − 1) − 1) / stride) + 1``; with dilation 1
    this is ``floor((W − K + 2P) / S) + 1``.

    Raises:
        ValueError: the (dilated) kernel does not fit in the padded input.
    """
    size = check_positive_int("size", size)
    kernel = check_positive_int("kernel", kernel)
    stride = check_positive_int("stride", stride)
    dilation = check_positive_int("dilation", dilation)
    if isinstance(padding, bool) or not isinstance(padding, (int, np.integer)) or padding < 0:
        raise ValueError(f"padding must be an int >= 0, got {padding!r}")
    span = dilation * (kernel - 1) + 1  # the kernel's footprint on the input
    if size + 2 * padding < span:
        raise ValueError(
            f"kernel of footprint {span} (kernel {kernel}, dilation {dilation}) does not fit an input of "
            f"size {size} with padding {padding}"
        )
    return (size + 2 * padding - span) // stride + 1


# -- the definitions: convolution flips the kernel, correlation does not -----------------------


def convolve1d(signal: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Full discrete convolution ``(f ∗ g)[n] = Σ_m f[m]·g[n − m]``: flip g, slide, multiply, sum.

    Equal to ``np.convolve(signal, kernel)`` (mode ``"full"``, length ``len(f) + len(g) − 1``).
    """
    f, g = as_float_array("signal", signal, ndim=1), as_float_array("kernel", kernel, ndim=1)
    out = np.zeros(len(f) + len(g) - 1)
    for n in range(len(out)):
        for m in range(len(f)):
            if 0 <= n - m < len(g):
                out[n] += f[m] * g[n - m]
    return out


def correlate1d(signal: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """'Valid' cross-correlation ``y[n] = Σ_k f[n + k]·g[k]``: slide g *without* flipping it.

    This is what ``nn.Conv1d`` computes; it equals the convolution with the flipped kernel.
    """
    f, g = as_float_array("signal", signal, ndim=1), as_float_array("kernel", kernel, ndim=1)
    if len(g) > len(f):
        raise ValueError(f"kernel (length {len(g)}) is longer than the signal (length {len(f)})")
    return np.array([np.dot(f[n : n + len(g)], g) for n in range(len(f) - len(g) + 1)])


def convolve2d(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """'Valid' 2-D convolution: the kernel flipped along both axes, then slid and summed."""
    kernel = as_float_array("kernel", kernel, ndim=2)
    return correlate2d(image, kernel[::-1, ::-1])


def correlate2d(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """'Valid' 2-D cross-correlation ``y[i, j] = Σ_{a,b} x[i + a, j + b]·k[a, b]``."""
    x, k = as_float_array("image", image, ndim=2), as_float_array("kernel", kernel, ndim=2)
    if k.shape[0] > x.shape[0] or k.shape[1] > x.shape[1]:
        raise ValueError(f"kernel {k.shape} is larger than the image {x.shape}")
    out_h, out_w = x.shape[0] - k.shape[0] + 1, x.shape[1] - k.shape[1] + 1
    out = np.zeros((out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            out[i, j] = np.sum(x[i : i + k.shape[0], j : j + k.shape[1]] * k)
    return out


# -- Conv2D by explicit loops -------------------------------------------------------------------


def _check_conv_args(x, weight, bias, stride, padding, dilation):
    x = as_float_array("x", x, ndim=4)
    weight = as_float_array("weight", weight, ndim=4)
    if x.shape[1] != weight.shape[1]:
        raise ValueError(
            f"x has {x.shape[1]} channels but the kernel expects {weight.shape[1]} "
            f"(x {x.shape}, weight (C_out, C_in, kH, kW) = {weight.shape})"
        )
    if bias is not None:
        bias = as_float_array("bias", bias, ndim=1)
        if bias.shape[0] != weight.shape[0]:
            raise ValueError(f"bias must have C_out = {weight.shape[0]} entries, got {bias.shape}")
    stride, dilation = pair("stride", stride), pair("dilation", dilation)
    padding = pair("padding", padding, minimum=0)
    out_h = conv_output_size(x.shape[2], weight.shape[2], stride[0], padding[0], dilation[0])
    out_w = conv_output_size(x.shape[3], weight.shape[3], stride[1], padding[1], dilation[1])
    return x, weight, bias, stride, padding, dilation, out_h, out_w


def _pad(x: np.ndarray, padding: tuple[int, int]) -> np.ndarray:
    ph, pw = padding
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), mode="constant")


def conv2d_loops(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
) -> np.ndarray:
    """Conv2D the way the source writes it: four loops, one receptive field at a time.

    ``out[b, c_out, h, w] = Σ (field · kernel[c_out]) + bias[c_out]``, where ``field`` is the
    (dilated) window of the padded input under output pixel ``(h, w)``.
    """
    x, weight, bias, stride, padding, dilation, out_h, out_w = _check_conv_args(x, weight, bias, stride, padding, dilation)
    (sh, sw), (dh, dw) = stride, dilation
    kh, kw = weight.shape[2:]
    x_pad = _pad(x, padding)
    out = np.zeros((x.shape[0], weight.shape[0], out_h, out_w), dtype=x.dtype)
    for b in range(x.shape[0]):  # every sample
        for c_out in range(weight.shape[0]):  # every output channel (one kernel each)
            for h in range(out_h):  # every output row
                for w in range(out_w):  # every output column
                    top, left = h * sh, w * sw
                    field = x_pad[b, :, top : top + dh * (kh - 1) + 1 : dh, left : left + dw * (kw - 1) + 1 : dw]
                    out[b, c_out, h, w] = np.sum(field * weight[c_out])
                    if bias is not None:
                        out[b, c_out, h, w] += bias[c_out]
    return out


def conv2d_loops_backward(
    grad_out: np.ndarray,
    x: np.ndarray,
    weight: np.ndarray,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of :func:`conv2d_loops`, by the same four loops run backwards.

    Every output pixel was ``Σ field · kernel``, so its gradient δ flows to the kernel as
    ``δ · field`` and to the input window as ``δ · kernel``. Returns ``(∂L/∂x, ∂L/∂weight,
    ∂L/∂bias)``.
    """
    x, weight, _, stride, padding, dilation, out_h, out_w = _check_conv_args(x, weight, None, stride, padding, dilation)
    grad_out = as_float_array("grad_out", grad_out, ndim=4)
    if grad_out.shape != (x.shape[0], weight.shape[0], out_h, out_w):
        raise ValueError(f"grad_out must have the output's shape {(x.shape[0], weight.shape[0], out_h, out_w)}, got {grad_out.shape}")
    (sh, sw), (dh, dw), (ph, pw) = stride, dilation, padding
    kh, kw = weight.shape[2:]
    x_pad = _pad(x, padding)
    grad_x_pad = np.zeros_like(x_pad)
    grad_w = np.zeros_like(weight)
    for b in range(x.shape[0]):
        for c_out in range(weight.shape[0]):
            for h in range(out_h):
                for w in range(out_w):
                    top, left = h * sh, w * sw
                    window = (b, slice(None), slice(top, top + dh * (kh - 1) + 1, dh), slice(left, left + dw * (kw - 1) + 1, dw))
                    delta = grad_out[b, c_out, h, w]
                    grad_w[c_out] += delta * x_pad[window]
                    grad_x_pad[window] += delta * weight[c_out]
    grad_b = grad_out.sum(axis=(0, 2, 3))
    grad_x = grad_x_pad[:, :, ph : ph + x.shape[2], pw : pw + x.shape[3]]
    return grad_x, grad_w, grad_b


# -- Conv2D by im2col: one matrix product --------------------------------------------------------


def _patch_indices(channels, kh, kw, out_h, out_w, stride, dilation):
    """Row/column indices into the padded input for every (patch element, output pixel)."""
    (sh, sw), (dh, dw) = stride, dilation
    i0 = np.tile(np.repeat(np.arange(kh) * dh, kw), channels)  # kernel row offsets, per C·kH·kW
    j0 = np.tile(np.arange(kw) * dw, kh * channels)  # kernel column offsets
    i1 = sh * np.repeat(np.arange(out_h), out_w)  # top-left row of each output pixel's window
    j1 = sw * np.tile(np.arange(out_w), out_h)
    rows = i0[:, None] + i1[None, :]  # (C·kH·kW, H_out·W_out)
    cols = j0[:, None] + j1[None, :]
    chans = np.repeat(np.arange(channels), kh * kw)[:, None]
    return chans, rows, cols


def im2col(
    x: np.ndarray,
    kernel_size: tuple[int, int],
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
) -> np.ndarray:
    """Unfold every receptive field into a column: ``(N, C, H, W)`` → ``(N, C·kH·kW, H_out·W_out)``.

    After this, a convolution is one matrix product ``weight.reshape(C_out, −1) @ cols`` —
    the trick that lets convolutions run on fast matrix-multiply kernels. Equal to
    ``torch.nn.functional.unfold``.
    """
    x = as_float_array("x", x, ndim=4)
    kh, kw = pair("kernel_size", kernel_size)
    stride, dilation, padding = pair("stride", stride), pair("dilation", dilation), pair("padding", padding, minimum=0)
    out_h = conv_output_size(x.shape[2], kh, stride[0], padding[0], dilation[0])
    out_w = conv_output_size(x.shape[3], kw, stride[1], padding[1], dilation[1])
    chans, rows, cols = _patch_indices(x.shape[1], kh, kw, out_h, out_w, stride, dilation)
    return _pad(x, padding)[:, chans, rows, cols]


def col2im(
    cols: np.ndarray,
    x_shape: tuple[int, int, int, int],
    kernel_size: tuple[int, int],
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
) -> np.ndarray:
    """The adjoint of :func:`im2col`: add every column back onto the pixels it came from.

    Overlapping windows *accumulate* — which is exactly the input gradient of a convolution
    when ``cols`` holds the gradient of the unfolded input. Equal to ``torch.nn.functional.fold``.
    """
    cols = as_float_array("cols", cols, ndim=3)
    n, c, h, w = x_shape
    kh, kw = pair("kernel_size", kernel_size)
    stride, dilation, padding = pair("stride", stride), pair("dilation", dilation), pair("padding", padding, minimum=0)
    out_h = conv_output_size(h, kh, stride[0], padding[0], dilation[0])
    out_w = conv_output_size(w, kw, stride[1], padding[1], dilation[1])
    if cols.shape != (n, c * kh * kw, out_h * out_w):
        raise ValueError(f"cols must have shape {(n, c * kh * kw, out_h * out_w)}, got {cols.shape}")
    chans, rows, cols_idx = _patch_indices(c, kh, kw, out_h, out_w, stride, dilation)
    padded = np.zeros((n, c, h + 2 * padding[0], w + 2 * padding[1]), dtype=cols.dtype)
    for b in range(n):
        np.add.at(padded[b], (chans, rows, cols_idx), cols[b])
    return padded[:, :, padding[0] : padding[0] + h, padding[1] : padding[1] + w]


class Conv2D(Layer):
    """``nn.Conv2d`` in NumPy (no groups): im2col forward, the matching backward.

    Initialised like PyTorch: weights and bias from ``U(−1/√fan_in, 1/√fan_in)`` with
    ``fan_in = C_in·kH·kW``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        dilation: int | tuple[int, int] = 1,
        *,
        bias: bool = True,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = check_positive_int("in_channels", in_channels)
        self.out_channels = check_positive_int("out_channels", out_channels)
        self.kernel_size = pair("kernel_size", kernel_size)
        self.stride, self.dilation = pair("stride", stride), pair("dilation", dilation)
        self.padding = pair("padding", padding, minimum=0)
        if rng is not None and not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a np.random.Generator (np.random.default_rng(seed)) or None, got {type(rng).__name__}")
        rng = np.random.default_rng(0) if rng is None else rng
        bound = 1.0 / np.sqrt(in_channels * self.kernel_size[0] * self.kernel_size[1])
        self.params["weight"] = rng.uniform(-bound, bound, (out_channels, in_channels, *self.kernel_size))
        if bias:
            self.params["bias"] = rng.uniform(-bound, bound, (out_channels,))
        self._cache: tuple | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x, weight, bias, *_, out_h, out_w = _check_conv_args(
            x, self.params["weight"], self.params.get("bias"), self.stride, self.padding, self.dilation
        )
        cols = im2col(x, self.kernel_size, self.stride, self.padding, self.dilation)  # (N, C·kH·kW, L)
        out = weight.reshape(self.out_channels, -1) @ cols  # (N, C_out, L): one matrix product
        if bias is not None:
            out += bias[:, None]
        self._cache = (x.shape, cols)
        return out.reshape(x.shape[0], self.out_channels, out_h, out_w)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise RuntimeError("Conv2D.backward called before forward")
        x_shape, cols = self._cache
        n, _, out_h, out_w = self._check_grad_out(grad_out, (x_shape[0], self.out_channels, *self._out_hw(x_shape))).shape
        delta = grad_out.reshape(n, self.out_channels, out_h * out_w)  # (N, C_out, L)
        w2d = self.params["weight"].reshape(self.out_channels, -1)  # (C_out, C·kH·kW)
        self.grads["weight"] = np.einsum("nol,nkl->ok", delta, cols).reshape(self.params["weight"].shape)
        if "bias" in self.params:
            self.grads["bias"] = delta.sum(axis=(0, 2))
        grad_cols = w2d.T @ delta  # (N, C·kH·kW, L)
        return col2im(grad_cols, x_shape, self.kernel_size, self.stride, self.padding, self.dilation)

    def _out_hw(self, x_shape: tuple[int, ...]) -> tuple[int, int]:
        return (
            conv_output_size(x_shape[2], self.kernel_size[0], self.stride[0], self.padding[0], self.dilation[0]),
            conv_output_size(x_shape[3], self.kernel_size[1], self.stride[1], self.padding[1], self.dilation[1]),
        )

    def __repr__(self) -> str:
        return (
            f"Conv2D({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}, dilation={self.dilation})"
        )
