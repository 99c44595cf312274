"""DeepMLP (the stability appendix's model), GradientFlow.plot and the appendix's checkers."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nnanatomy import explore
from nnanatomy.exercises import stability
from nnanatomy.models import DeepMLP, DeepMLPConfig
from nnanatomy.models.deep import ResidualBlock

matplotlib.use("Agg")


def test_plain_stack_layout_and_shapes():
    model = DeepMLP(DeepMLPConfig(depth=5, width=32, norm="batch", activation="tanh"))
    types = [type(m).__name__ for m in model.net]
    assert types == ["Linear"] + ["Linear", "BatchNorm1d", "Tanh"] * 5 + ["Linear"]
    assert len(model.hidden_linears()) == 5 and all(lin.weight.shape == (32, 32) for lin in model.hidden_linears())
    assert model(torch.randn(7, 64)).shape == (7, 10)


def test_residual_stack_has_pre_norm_blocks_and_a_final_norm():
    model = DeepMLP(DeepMLPConfig(depth=3, residual=True, norm="layer"))
    assert [type(m).__name__ for m in model.net] == ["Linear", "ResidualBlock", "ResidualBlock", "ResidualBlock", "LayerNorm", "Linear"]
    block = model.net[1]
    assert isinstance(block.norm, nn.LayerNorm)
    x = torch.randn(4, 64)
    with torch.no_grad():
        expected = x + torch.relu(block.linear(F.layer_norm(x, (64,), block.norm.weight, block.norm.bias)))
    torch.testing.assert_close(block(x), expected)


def test_residual_block_is_the_identity_when_its_linear_is_zero():
    block = ResidualBlock(16, "relu", "none")
    nn.init.zeros_(block.linear.weight)
    nn.init.zeros_(block.linear.bias)
    x = torch.randn(3, 16, requires_grad=True)
    y = block(x)
    torch.testing.assert_close(y, x)
    (grad,) = torch.autograd.grad(y.sum(), x)
    torch.testing.assert_close(grad, torch.ones_like(x))  # the gradient passes unchanged


@pytest.mark.parametrize("init,activation,expected_std", [
    ("he", "relu", math.sqrt(2 / 256)),
    ("xavier", "tanh", 5 / 3 * math.sqrt(2 / 512)),
    ("xavier", "sigmoid", 4 * math.sqrt(2 / 512)),
])
def test_initialisation_standard_deviations(init, activation, expected_std):
    torch.manual_seed(0)
    for scale in (1.0, 2.5):
        model = DeepMLP(DeepMLPConfig(in_features=256, width=256, depth=2, init=init, activation=activation, init_scale=scale))
        for lin in model.hidden_linears():
            assert lin.weight.std().item() == pytest.approx(scale * expected_std, rel=0.03)
            assert torch.all(lin.bias == 0)


def test_init_scale_compounds_in_the_forward_pass():
    torch.manual_seed(0)
    x = torch.randn(512, 64)
    stds = {}
    for scale in (1.0, 1.5):
        torch.manual_seed(1)
        model = DeepMLP(DeepMLPConfig(depth=10, init="he", init_scale=scale))
        h = model.net[0](x)
        for layer in list(model.net)[1:-1]:
            h = layer(h)
        stds[scale] = h.std().item()
    assert 1.5**10 / 4 < stds[1.5] / stds[1.0] < 1.5**10 * 4


def test_hundred_sigmoid_layers_underflow_and_residual_layernorm_repairs():
    x, y = torch.randn(64, 64), torch.randint(0, 10, (64,))

    def loss(model, batch):
        return F.cross_entropy(model(batch[0]), batch[1])

    torch.manual_seed(0)
    plain = DeepMLP(DeepMLPConfig(depth=100, activation="sigmoid"))
    flow = explore.gradient_flow(plain, (x, y), loss)
    assert plain.hidden_linears()[0].weight.grad.norm().item() == 0.0
    assert any(f.problem == "vanishing gradient" for f in explore.diagnose(flow))
    torch.manual_seed(0)
    repaired = DeepMLP(DeepMLPConfig(depth=100, activation="sigmoid", residual=True, norm="layer"))
    assert not explore.diagnose(explore.gradient_flow(repaired, (x, y), loss))


@pytest.mark.parametrize("kwargs,match", [
    (dict(depth=0), "depth"),
    (dict(width=True), "width"),
    (dict(activation="swish"), "activation"),
    (dict(init="orthogonal"), "init"),
    (dict(norm="instance"), "norm"),
    (dict(norm="group", width=20), "divisible by 8"),
    (dict(init_scale=0), "init_scale"),
])
def test_config_rejects_bad_values(kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        DeepMLPConfig(**kwargs)


def test_bad_model_input():
    with pytest.raises(TypeError, match="DeepMLPConfig"):
        DeepMLP({"depth": 3})
    model = DeepMLP(DeepMLPConfig(depth=2))
    with pytest.raises(ValueError, match=r"\(B, 64\)"):
        model(torch.randn(3, 32))
    with pytest.raises(ValueError, match=r"\(B, 64\)"):
        model(torch.randn(64))


def test_gradient_flow_plot_marks_zero_gradients():
    import matplotlib.pyplot as plt

    torch.manual_seed(0)
    model = DeepMLP(DeepMLPConfig(depth=100, activation="sigmoid"))
    flow = explore.gradient_flow(model, (torch.randn(8, 64), torch.randint(0, 10, (8,))),
                                 lambda m, b: F.cross_entropy(m(b[0]), b[1]))
    ax = flow.plot(label="plain")
    lines = ax.get_lines()
    zeros = [line for line in lines if line.get_label() == "plain: exactly 0"]
    assert zeros and np.all(zeros[0].get_ydata() == 1e-45)
    n_zero = sum(1 for s in flow.layers if s.grad_norm == 0.0)
    assert len(zeros[0].get_xdata()) == n_zero
    layer_norm = DeepMLP(DeepMLPConfig(depth=4, residual=True, norm="layer"))
    flow = explore.gradient_flow(layer_norm, (torch.randn(8, 64), torch.randint(0, 10, (8,))),
                                 lambda m, b: F.cross_entropy(m(b[0]), b[1]))
    ax = flow.plot(only="Linear")
    assert len(ax.get_lines()[0].get_xdata()) == 6  # input, 4 blocks, output: the LayerNorms left out
    with pytest.raises(ValueError, match="Conv2d"):
        flow.plot(only="Conv2d")
    with pytest.raises(TypeError):
        flow.plot(only=3)
    plt.close("all")


def test_stability_checkers():
    assert not stability.check_sigmoid_depth_bound(None) and "Not answered" in stability.check_sigmoid_depth_bound(None).message
    assert stability.check_sigmoid_depth_bound(12)
    assert "smallest" in stability.check_sigmoid_depth_bound(13).message
    assert "above" in stability.check_sigmoid_depth_bound(11).message
    with pytest.raises(TypeError):
        stability.check_sigmoid_depth_bound(12.0)

    def naive(x):
        return np.log(np.exp(x).sum(axis=-1))

    def no_add_back(x):
        m = x.max(axis=-1, keepdims=True)
        return np.log(np.exp(x - m).sum(axis=-1))

    def right(x):
        m = x.max(axis=-1, keepdims=True)
        return (m + np.log(np.exp(x - m).sum(axis=-1, keepdims=True)))[..., 0]

    assert "subtract the maximum" in stability.check_logsumexp(naive).message
    assert "add the maximum back" in stability.check_logsumexp(no_add_back).message
    assert stability.check_logsumexp(right)
    with pytest.raises(TypeError):
        stability.check_logsumexp("logsumexp")

    assert "diagonal" in stability.check_softmax_backward(lambda y, g: y * g).message
    assert not stability.check_softmax_backward(lambda y, g: g)
    assert stability.check_softmax_backward(lambda y, g: y * (g - (g * y).sum(-1, keepdims=True)))
