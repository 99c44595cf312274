"""Chapter 08: the Conformer encoder — shapes, parameters by formula, padding, bad input."""

import pytest
import torch

from nnanatomy import explore
from nnanatomy.models.conformer import ConformerBlock, ConformerConfig, ConformerEncoder, ConvSubsampling


def test_shapes_and_subsampling():
    torch.manual_seed(0)
    enc = ConformerEncoder(ConformerConfig(input_dim=40, d_model=32, num_heads=4, num_layers=2, kernel_size=7)).eval()
    x = torch.randn(3, 101, 40)
    y, mask = enc(x)
    assert y.shape == (3, ConvSubsampling.output_length(101), 32) == (3, 26, 32) and mask is None
    y, mask, layers = enc(x, lengths=torch.tensor([101, 60, 9]), return_layers=True)
    assert len(layers) == 2 and torch.equal(layers[-1], y)
    assert mask.shape == (3, 26) and mask.sum(1).tolist() == [0, 26 - 15, 26 - 3]


def test_block_parameters_by_formula():
    d, m, k = 32, 4, 7
    block = ConformerBlock(ConformerConfig(d_model=d, num_heads=4, ff_mult=m, kernel_size=k))
    ffn = 2 * d + (d * m * d + m * d) + (m * d * d + d)  # LayerNorm, Linear up, Linear down
    attn = 2 * d + 4 * (d * d + d)  # LayerNorm, q, k, v, out
    conv = 2 * d + (d * 2 * d + 2 * d) + (d * k + d) + 2 * d + (d * d + d)  # LN, pointwise, depthwise, BN, pointwise
    assert sum(p.numel() for p in block.parameters()) == 2 * ffn + attn + conv + 2 * d


def test_padding_does_not_change_the_real_frames():
    torch.manual_seed(0)
    enc = ConformerEncoder(ConformerConfig(input_dim=16, d_model=32, num_heads=4, num_layers=2, kernel_size=5)).eval()
    short = torch.randn(1, 48, 16)
    padded = torch.cat([short, torch.randn(1, 32, 16) * 5], dim=1)  # garbage after the end
    alone, _ = enc(short)
    together, mask = enc(padded, lengths=torch.tensor([48]))
    n = alone.shape[1]
    # 48 frames subsample to 12 that read only real frames: masked attention and convolution keep
    # the garbage after them out
    torch.testing.assert_close(together[:, :n], alone, atol=1e-5, rtol=1e-4)
    assert mask[0, n:].all() and not mask[0, :n].any()


def test_counted_by_the_anatomy_lens_and_errors():
    enc = ConformerEncoder(ConformerConfig(input_dim=16, d_model=32, num_heads=4, num_layers=1, kernel_size=5))
    s = explore.summary(enc, torch.randn(2, 40, 16))
    assert s.total_params == sum(p.numel() for p in enc.parameters()) and not s.dispatched_types
    with pytest.raises(ValueError, match="features"):
        enc(torch.randn(2, 40, 15))
    with pytest.raises(ValueError, match="at least 4"):
        enc(torch.randn(2, 3, 16))
    with pytest.raises(ValueError, match="lengths"):
        enc(torch.randn(2, 40, 16), lengths=torch.tensor([40]))
    with pytest.raises(ValueError, match="odd"):
        ConformerConfig(kernel_size=4)
    with pytest.raises(ValueError, match="divisible"):
        ConformerConfig(d_model=30, num_heads=4)
    with pytest.raises(TypeError, match="ConformerConfig"):
        ConformerEncoder({"d_model": 32})
