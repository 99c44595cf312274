"""scratch CNN layers equal PyTorch's in float64, forward and gradients (atol 1e-10)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nnanatomy import scratch

ATOL = 1e-10
CONV_CASES = [
    dict(stride=1, padding=0, dilation=1),
    dict(stride=2, padding=1, dilation=1),
    dict(stride=1, padding=2, dilation=2),
    dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2)),
]


def _torch_conv(x, w, b, case):
    xt = torch.from_numpy(x).requires_grad_()
    wt = torch.from_numpy(w).requires_grad_()
    bt = torch.from_numpy(b).requires_grad_()
    out = F.conv2d(xt, wt, bt, **case)
    return out, xt, wt, bt


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_conv2d_loops_and_im2col_equal_torch(case, rng):
    x = rng.normal(size=(2, 3, 9, 8))
    w = rng.normal(size=(4, 3, 3, 3))
    b = rng.normal(size=4)
    ref, xt, wt, bt = _torch_conv(x, w, b, case)
    g = rng.normal(size=ref.shape)
    ref.backward(torch.from_numpy(g))

    loops = scratch.conv2d_loops(x, w, b, **case)
    np.testing.assert_allclose(loops, ref.detach().numpy(), rtol=0, atol=ATOL)
    gx, gw, gb = scratch.conv2d_loops_backward(g, x, w, **case)
    for ours, theirs in ((gx, xt.grad), (gw, wt.grad), (gb, bt.grad)):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=0, atol=ATOL)

    layer = scratch.Conv2D(3, 4, 3, **case)
    layer.params["weight"][...] = w
    layer.params["bias"][...] = b
    np.testing.assert_allclose(layer.forward(x), ref.detach().numpy(), rtol=0, atol=ATOL)
    np.testing.assert_allclose(layer.backward(g), xt.grad.numpy(), rtol=0, atol=ATOL)
    np.testing.assert_allclose(layer.grads["weight"], wt.grad.numpy(), rtol=0, atol=ATOL)
    np.testing.assert_allclose(layer.grads["bias"], bt.grad.numpy(), rtol=0, atol=ATOL)


def test_im2col_and_col2im_equal_unfold_and_fold(rng):
    x = rng.normal(size=(2, 3, 7, 6))
    kwargs = dict(stride=(2, 1), padding=1, dilation=(1, 2))
    cols = scratch.im2col(x, (3, 2), **kwargs)
    ref = F.unfold(torch.from_numpy(x), (3, 2), **kwargs)
    np.testing.assert_allclose(cols, ref.numpy(), rtol=0, atol=0)
    back = scratch.col2im(cols, x.shape, (3, 2), **kwargs)
    ref_back = F.fold(ref, (7, 6), (3, 2), **kwargs)
    np.testing.assert_allclose(back, ref_back.numpy(), rtol=0, atol=ATOL)


def test_conv_without_bias_and_init(rng):
    layer = scratch.Conv2D(2, 5, (3, 1), bias=False, rng=rng)
    assert set(layer.params) == {"weight"} and layer.params["weight"].shape == (5, 2, 3, 1)
    assert np.abs(layer.params["weight"]).max() <= 1 / np.sqrt(2 * 3)
    out = layer.forward(rng.normal(size=(1, 2, 4, 4)))
    layer.backward(np.ones_like(out))
    assert set(layer.grads) == {"weight"}


def test_convolution_vs_correlation(rng):
    f, g = rng.normal(size=9), rng.normal(size=3)
    np.testing.assert_allclose(scratch.convolve1d(f, g), np.convolve(f, g), atol=1e-12)
    # correlation = convolution with the flipped kernel (valid part)
    np.testing.assert_allclose(scratch.correlate1d(f, g), np.convolve(f, g[::-1], mode="valid"), atol=1e-12)
    np.testing.assert_allclose(scratch.correlate1d(f, g),
                               F.conv1d(torch.from_numpy(f)[None, None], torch.from_numpy(g)[None, None])[0, 0].numpy(), atol=1e-12)
    img, k = rng.normal(size=(6, 5)), rng.normal(size=(3, 2))
    np.testing.assert_allclose(scratch.correlate2d(img, k),
                               F.conv2d(torch.from_numpy(img)[None, None], torch.from_numpy(k)[None, None])[0, 0].numpy(), atol=1e-12)
    np.testing.assert_allclose(scratch.convolve2d(img, k), scratch.correlate2d(img, k[::-1, ::-1]), atol=1e-12)


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_equals_torch(training, rng):
    x = rng.normal(2.0, 3.0, size=(4, 3, 5, 5))
    g = rng.normal(size=x.shape)
    ours = scratch.BatchNorm2D(3, momentum=0.2)
    ref = torch.nn.BatchNorm2d(3, momentum=0.2).double()
    gamma, beta = rng.normal(size=3), rng.normal(size=3)
    ours.params["weight"][...], ours.params["bias"][...] = gamma, beta
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(gamma))
        ref.bias.copy_(torch.from_numpy(beta))
    if not training:  # give the running statistics something to hold first
        warm = rng.normal(1.0, 2.0, size=x.shape)
        ours.forward(warm)
        ref(torch.from_numpy(warm))
        ours.eval()
        ref.eval()
    xt = torch.from_numpy(x).requires_grad_()
    out = ref(xt)
    out.backward(torch.from_numpy(g))
    np.testing.assert_allclose(ours.forward(x), out.detach().numpy(), rtol=0, atol=ATOL)
    np.testing.assert_allclose(ours.backward(g), xt.grad.numpy(), rtol=0, atol=ATOL)
    np.testing.assert_allclose(ours.grads["weight"], ref.weight.grad.numpy(), rtol=0, atol=ATOL)
    np.testing.assert_allclose(ours.grads["bias"], ref.bias.grad.numpy(), rtol=0, atol=ATOL)
    np.testing.assert_allclose(ours.running_mean, ref.running_mean.numpy(), rtol=0, atol=ATOL)
    np.testing.assert_allclose(ours.running_var, ref.running_var.numpy(), rtol=0, atol=ATOL)


@pytest.mark.parametrize("kwargs", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=(2, 3), stride=1)], ids=str)
def test_maxpool_equals_torch(kwargs, rng):
    x = rng.normal(size=(2, 3, 7, 8))
    xt = torch.from_numpy(x).requires_grad_()
    ref = F.max_pool2d(xt, **kwargs)
    g = rng.normal(size=ref.shape)
    ref.backward(torch.from_numpy(g))
    pool = scratch.MaxPool2D(**kwargs)
    np.testing.assert_allclose(pool.forward(x), ref.detach().numpy(), rtol=0, atol=0)
    np.testing.assert_allclose(pool.backward(g), xt.grad.numpy(), rtol=0, atol=ATOL)


@pytest.mark.parametrize("size", [1, (2, 3), (3, 3), (5, 4)], ids=str)
def test_adaptive_avgpool_equals_torch(size, rng):
    x = rng.normal(size=(2, 3, 7, 5))
    xt = torch.from_numpy(x).requires_grad_()
    ref = F.adaptive_avg_pool2d(xt, size)
    g = rng.normal(size=ref.shape)
    ref.backward(torch.from_numpy(g))
    pool = scratch.AdaptiveAvgPool2D(size)
    np.testing.assert_allclose(pool.forward(x), ref.detach().numpy(), rtol=0, atol=ATOL)
    np.testing.assert_allclose(pool.backward(g), xt.grad.numpy(), rtol=0, atol=ATOL)


def test_flatten_equals_torch(rng):
    x = rng.normal(size=(2, 3, 4, 5))
    flat = scratch.Flatten()
    np.testing.assert_array_equal(flat.forward(x), torch.nn.Flatten()(torch.from_numpy(x)).numpy())
    assert flat.backward(np.ones((2, 60))).shape == x.shape


def test_dropout_equals_torch_with_the_same_mask_and_preserves_expectation(rng):
    x = rng.normal(size=(50, 40)) + 3.0
    torch.manual_seed(0)
    xt = torch.from_numpy(x).requires_grad_()
    ref = F.dropout(xt, p=0.3, training=True)
    g = rng.normal(size=x.shape)
    ref.backward(torch.from_numpy(g))
    mask = (ref.detach().numpy() != 0)  # the elements torch kept
    drop = scratch.Dropout(0.3)
    np.testing.assert_allclose(drop.forward(x, mask=mask), ref.detach().numpy(), rtol=0, atol=ATOL)
    np.testing.assert_allclose(drop.backward(g), xt.grad.numpy(), rtol=0, atol=ATOL)
    # expectation preserved: the mean over many draws of one element approaches the element
    many = np.stack([scratch.Dropout(0.3, rng=np.random.default_rng(s)).forward(x) for s in range(400)])
    assert abs(many.mean() / x.mean() - 1) < 0.01
    kept = (many != 0).mean()
    assert abs(kept - 0.7) < 0.01
    drop.eval()
    np.testing.assert_array_equal(drop.forward(x), x)


def test_conv_output_size_formula():
    for size, k, s, p, d in [(224, 7, 2, 3, 1), (8, 3, 1, 1, 1), (10, 3, 2, 0, 2), (5, 5, 1, 0, 1)]:
        ref = F.conv2d(torch.zeros(1, 1, size, size), torch.zeros(1, 1, k, k), stride=s, padding=p, dilation=d).shape[-1]
        assert scratch.conv_output_size(size, k, s, p, d) == ref
    assert scratch.conv_output_size(224, 7, 2, 3) == 112


def test_bad_inputs(rng):
    with pytest.raises(ValueError, match="channels"):
        scratch.conv2d_loops(np.zeros((1, 2, 5, 5)), np.zeros((4, 3, 3, 3)))
    with pytest.raises(ValueError, match="does not fit"):
        scratch.conv_output_size(3, 5)
    with pytest.raises(ValueError, match="padding"):
        scratch.conv_output_size(3, 3, padding=-1)
    with pytest.raises(TypeError, match="pair"):
        scratch.Conv2D(1, 1, 2.5)
    with pytest.raises(ValueError, match="pair"):
        scratch.Conv2D(1, 1, (1, 2, 3))
    with pytest.raises(ValueError, match="4 dimensions"):
        scratch.Conv2D(1, 1, 3).forward(np.zeros((5, 5)))
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        scratch.BatchNorm2D(3).forward(np.zeros((2, 4, 3, 3)))
    with pytest.raises(ValueError, match="more than one value"):
        scratch.BatchNorm2D(1).forward(np.zeros((1, 1, 1, 1)))
    with pytest.raises(ValueError, match="probability"):
        scratch.Dropout(1.0)
    with pytest.raises(ValueError, match="half the kernel"):
        scratch.MaxPool2D(2, padding=2)
    with pytest.raises(ValueError, match="shape"):
        scratch.Dropout(0.5).forward(np.zeros((2, 2)), mask=np.ones(3))
    with pytest.raises(RuntimeError, match="before forward"):
        scratch.MaxPool2D(2).backward(np.zeros((1, 1, 1, 1)))
    with pytest.raises(ValueError, match="larger than the image"):
        scratch.correlate2d(np.zeros((2, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="longer than the signal"):
        scratch.correlate1d(np.zeros(2), np.zeros(3))
