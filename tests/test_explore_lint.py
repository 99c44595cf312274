"""explore.lint: design warnings, each with the numbers behind it, on meta."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nnanatomy import explore
from nnanatomy.models.gpt import GPT, GPTConfig
from nnanatomy.models.resnet import resnet18


def _vgg16(global_pool: bool = False) -> nn.Sequential:
    layers, c = [], 3
    for v in [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]:
        if v == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU()]
            c = v
    head = [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 4096)] if global_pool else [nn.Flatten(), nn.Linear(512 * 7 * 7, 4096)]
    return nn.Sequential(*layers, *head, nn.ReLU(), nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(), nn.Linear(4096, 1000))


def _problems(findings):
    return [(f.layer, f.problem) for f in findings]


def test_vgg16s_first_classifier_layer_is_flagged_and_global_pooling_removes_it():
    with torch.device("meta"):
        vgg, pooled = _vgg16(), _vgg16(global_pool=True)
    assert sum(p.numel() for p in vgg.parameters()) == 138_357_544  # torchvision's vgg16
    found = [f for f in explore.lint(vgg, torch.zeros(1, 3, 224, 224)) if f.problem.startswith("a Linear after")]
    assert len(found) == 1 and found[0].layer == "32"
    assert found[0].value == pytest.approx(102_764_544 / 138_357_544) and "102,764,544" in found[0].recommendation
    assert not any(f.problem.startswith("a Linear after") for f in explore.lint(pooled, torch.zeros(1, 3, 224, 224)))


def test_consecutive_linears_bias_before_batchnorm_and_dropped_pixels():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.BatchNorm2d(8), nn.ReLU(), nn.Linear(7, 7), nn.Dropout(0.1), nn.Linear(7, 3))
    found = explore.lint(model, torch.zeros(2, 3, 16, 16))
    assert ("5", "two Linears with no non-linearity between them") in _problems(found)  # through the dropout
    assert ("0", "a bias before BatchNorm") in _problems(found)
    dropped = [f for f in found if f.problem == "input pixels never read"]
    assert [f.value for f in dropped] == [1.0, 1.0]  # (16 − 3) mod 2 = 1 row and 1 column
    clean = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.Linear(8, 7), nn.ReLU(), nn.Linear(7, 3))
    assert explore.lint(clean, torch.zeros(2, 3, 16, 16)) == []


def test_attention_that_grows_as_t_squared():
    torch.manual_seed(0)
    gpt = GPT(GPTConfig(vocab_size=40, max_seq_len=1024))
    long = [f for f in explore.lint(gpt, torch.zeros(1, 1024, dtype=torch.long)) if f.problem.startswith("T × T")]
    short = [f for f in explore.lint(gpt, torch.zeros(1, 16, dtype=torch.long)) if f.problem.startswith("T × T")]
    assert len(long) == 1 and long[0].value > explore.LINT_LIMITS["attention_share"] and "T = 1024" in long[0].recommendation
    assert short == []


def test_a_deep_plain_stack_is_flagged_and_residual_or_normalised_ones_are_not():
    plain = nn.Sequential(*[nn.Sequential(nn.Linear(16, 16), nn.Tanh()) for _ in range(12)])
    assert _problems(explore.lint(plain, torch.zeros(4, 16))) == [("Sequential", "a deep stack without normalisation or residual connections")]
    normed = nn.Sequential(*[nn.Sequential(nn.Linear(16, 16), nn.LayerNorm(16), nn.Tanh()) for _ in range(12)])
    assert explore.lint(normed, torch.zeros(4, 16)) == []
    assert not any("deep stack" in f.problem for f in explore.lint(resnet18(), torch.zeros(1, 3, 224, 224)))


def test_lint_leaves_the_model_untouched_and_rejects_bad_input():
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    before = [p.detach().clone() for p in model.parameters()]
    model.train()
    explore.lint(model, torch.zeros(1, 4))
    assert model.training and all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    with pytest.raises(TypeError, match="nn.Module"):
        explore.lint("model", torch.zeros(1, 4))
    with pytest.raises(ValueError, match="inputs"):
        explore.lint(model)
    with pytest.raises(TypeError, match="Tensor"):
        explore.lint(model, [1, 2])
    with pytest.raises(ValueError, match="model"):
        explore.lint(model, torch.zeros(1, 5))
