"""explore.receptive_field: the recurrence r_l = r_{l−1} + (k − 1)·d·j, checked by autograd."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nnanatomy import explore, models


def test_stacked_3x3_convs_grow_by_two():
    stack = nn.Sequential(*[nn.Conv2d(1, 1, 3, padding=1) for _ in range(3)])
    rf = explore.receptive_field(stack, torch.zeros(1, 1, 32, 32))
    assert [r.receptive_field for r in rf.rows] == [(3, 3), (5, 5), (7, 7)]
    assert explore.measured_receptive_field(stack, torch.zeros(1, 1, 32, 32)) == (7, 7)


@pytest.mark.parametrize(
    "layers",
    [
        [nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(2, 2, 3, padding=1)],
        [nn.Conv2d(1, 2, 5, stride=2, padding=2), nn.Conv2d(2, 2, 3, padding=2, dilation=2), nn.AvgPool2d(3, 2, 1)],
        [nn.Conv2d(1, 2, (3, 5), padding=(1, 2)), nn.MaxPool2d((2, 1)), nn.Conv2d(2, 1, 3, padding=1)],
    ],
    ids=["conv-pool-conv", "stride-dilation-avgpool", "rectangular"],
)
def test_formula_equals_autograd(layers):
    model = nn.Sequential(*layers)
    x = torch.zeros(1, 1, 48, 48)
    assert explore.receptive_field(model, x).final == explore.measured_receptive_field(model, x)


def test_global_pooling_sees_everything_and_model_is_untouched():
    model = models.CNNClassifier()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.zeros(1, 1, 40, 40)
    rf = explore.receptive_field(model, x)
    assert rf.rows[-1].type == "AdaptiveAvgPool2d" and rf.final == (40, 40)
    assert rf.rows[-2].receptive_field == (10, 10)
    assert explore.measured_receptive_field(model, x) == (10, 10)
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, before[k])
    assert "receptive field" in str(rf)


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        explore.receptive_field(nn.Conv2d(1, 1, 3), torch.zeros(1, 5))
    with pytest.raises(TypeError, match="Module"):
        explore.receptive_field("cnn", torch.zeros(1, 1, 5, 5))


def test_conv_geometry_and_calculator():
    geo = explore.conv_geometry(224, 224, 3, 64, 7, stride=2, padding=3)
    assert (geo.out_height, geo.out_width) == (112, 112)
    assert geo.params == 64 * (3 * 49 + 1) and geo.macs == 118_013_952
    conv = nn.Conv2d(3, 64, 7, 2, 3)
    assert geo.params == sum(p.numel() for p in conv.parameters())
    assert explore.summary(conv, torch.zeros(1, 3, 224, 224)).total_macs == geo.macs
    assert "= 112" in geo.describe()
    assert "64·(3·7·7 + 1) = 9,472" in geo.describe()
    # without a bias the formula drops the + 1 and still evaluates to the count it prints
    no_bias = explore.conv_geometry(224, 224, 3, 64, 7, stride=2, padding=3, bias=False)
    assert "(no bias) = 64·3·7·7 = 9,408" in no_bias.describe() and "k + 1" not in no_bias.describe()
    with pytest.raises(TypeError, match="bias"):
        explore.conv_geometry(8, 8, 1, 1, 3, bias="no")
    widget = explore.conv_calculator()
    html = widget.children[-1]
    assert "output (1, 16, 32, 32)" in html.value
    widget.children[0].children[1].value = 2  # stride 2
    assert "output (1, 16, 16, 16)" in html.value
    widget.children[1].children[0].value = 0  # padding 0 with kernel 3, stride 2: 15
    assert "(1, 16, 15, 15)" in html.value
    with pytest.raises(ValueError, match="in_channels"):
        explore.conv_geometry(8, 8, 0, 1, 3)
