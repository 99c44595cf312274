"""models.MLP: shapes, parameter counts, names, bad configs, a few seeded training steps."""

from __future__ import annotations

import pytest
import torch

from nnanatomy import models


def test_shapes_and_parameter_count():
    cfg = models.MLPConfig(in_features=3, hidden=(128, 64), out_features=10, activation="relu")
    mlp = models.MLP(cfg)
    assert mlp(torch.randn(5, 3)).shape == (5, 10)
    assert mlp(torch.randn(2, 7, 3)).shape == (2, 7, 10)  # any leading dimensions
    assert mlp.num_parameters() == 3 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10 == 9418
    assert cfg.sizes == [3, 128, 64, 10]


def test_layout_and_names():
    mlp = models.MLP(models.MLPConfig(hidden=(4, 4), activation="gelu"))
    assert [type(m).__name__ for m in mlp.net] == ["Linear", "GELU", "Linear", "GELU", "Linear"]
    assert list(mlp.state_dict()) == ["net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias", "net.4.weight", "net.4.bias"]


def test_no_hidden_layer_is_a_linear_model():
    mlp = models.MLP(models.MLPConfig(in_features=2, hidden=(), out_features=1, bias=False))
    assert len(mlp.net) == 1 and mlp.num_parameters() == 2


def test_trainable_only_counts():
    mlp = models.MLP()
    mlp.net[0].weight.requires_grad_(False)
    assert mlp.num_parameters(trainable_only=True) == mlp.num_parameters() - 64


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"in_features": 0}, "in_features"),
        ({"hidden": (8, -1)}, r"hidden\[1\]"),
        ({"activation": "swish"}, "activation"),
        ({"out_features": 1.5}, "out_features"),
    ],
)
def test_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        models.MLPConfig(**kwargs)


def test_bad_input():
    mlp = models.MLP()
    with pytest.raises(ValueError, match=r"\(\.\.\., 1\)"):
        mlp(torch.randn(4, 2))
    with pytest.raises(TypeError, match="torch.Tensor"):
        mlp([[1.0]])
    with pytest.raises(TypeError, match="MLPConfig"):
        models.MLP({"hidden": (3,)})


def test_a_few_seeded_steps_reduce_the_loss():
    torch.manual_seed(0)
    mlp = models.MLP()
    x = torch.linspace(-2, 2, 128).unsqueeze(1)
    y = 3 * x**2 + 5
    opt = torch.optim.Adam(mlp.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(mlp(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
