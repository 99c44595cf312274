"""ResNet as published: torchvision's layout and names, the paper's parameter counts, and the
MAC count behind ResNet-18's quoted '1.8 GFLOPs'."""

from __future__ import annotations

import pytest
import torch

from nnanatomy import explore, models


def test_published_parameter_counts():
    assert sum(p.numel() for p in models.resnet18().parameters()) == 11_689_512
    assert sum(p.numel() for p in models.resnet34().parameters()) == 21_797_672
    assert sum(p.numel() for p in models.resnet18(num_classes=10).parameters()) == 11_689_512 - 990 * 513


def test_state_dict_has_torchvisions_names_and_shapes():
    state = models.resnet18().state_dict()
    assert len(state) == 122  # as torchvision's resnet18, running statistics included
    shapes = {k: tuple(v.shape) for k, v in state.items()}
    assert shapes["conv1.weight"] == (64, 3, 7, 7) and shapes["fc.weight"] == (1000, 512)
    assert shapes["layer2.0.downsample.0.weight"] == (128, 64, 1, 1) and "layer2.0.downsample.1.running_var" in shapes
    assert shapes["layer4.1.conv2.weight"] == (512, 512, 3, 3) and "layer1.0.downsample.0.weight" not in shapes


def test_quoted_gflops_are_macs():
    table = explore.summary(models.resnet18(), torch.zeros(1, 3, 224, 224), device="meta")
    assert table.total_macs == 1_814_073_344  # "1.8 GFLOPs": multiply–accumulates
    assert table.total_flops == table.flop_counter_flops == 2 * 1_814_073_344


def test_forward_shapes_residual_and_bad_input():
    torch.manual_seed(0)
    model = models.resnet18(num_classes=7).eval()
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, 7)
    block = model.layer1[0]
    x = torch.randn(1, 64, 8, 8)
    with torch.no_grad():  # the identity shortcut: zero the second BatchNorm's scale and the block is relu(x)
        block.bn2.weight.zero_()
        block.bn2.bias.zero_()
        torch.testing.assert_close(block(x), torch.relu(x))
    with pytest.raises(ValueError, match="images"):
        model(torch.randn(2, 1, 64, 64))
    with pytest.raises(ValueError, match="blocks"):
        models.ResNet((2, 2, 2))
