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
    with pytest.raises((TypeError, ValueError), match=match):
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


def test_cnn_classifier_shapes_and_errors():
    model = models.CNNClassifier()
    assert model(torch.randn(5, 1, 8, 8)).shape == (5, 10)
    assert [type(m).__name__ for m in model.features][:4] == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d"]
    assert [type(m).__name__ for m in model.classifier] == ["Flatten", "Linear", "ReLU", "Dropout", "Linear"]
    conv1 = 32 * (1 * 9 + 1)
    assert model.num_parameters() == conv1 + 2 * 32 + 64 * (32 * 9 + 1) + 2 * 64 + (64 * 128 + 128) + (128 * 10 + 10)
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        model(torch.randn(5, 3, 8, 8))
    with pytest.raises(ValueError, match="at least 4"):
        model(torch.randn(1, 1, 3, 3))
    with pytest.raises(ValueError, match="odd"):
        models.CNNConfig(kernel_size=4)
    with pytest.raises(ValueError, match="dropout"):
        models.CNNConfig(dropout=1.0)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_char_rnn_and_greedy_decoding(cell):
    torch.manual_seed(0)
    model = models.CharRNN(models.CharRNNConfig(vocab_size=7, hidden_size=16, cell=cell))
    ids = torch.randint(0, 7, (2, 5))
    logits, state = model(ids)
    assert logits.shape == (2, 5, 7)
    # continuing from the state equals running the whole sequence at once
    first, s1 = model(ids[:, :3])
    rest, _ = model(ids[:, 3:], s1)
    torch.testing.assert_close(torch.cat([first, rest], 1), logits)
    new, probs = model.greedy_decode(torch.tensor([1, 2, 3]), max_new_tokens=4)
    assert len(new) == 4 and probs.shape == (4, 7)
    assert all(int(p.argmax()) == i for p, i in zip(probs, new))
    with pytest.raises(ValueError, match="ids must be in"):
        model(torch.tensor([[9]]))
    with pytest.raises(TypeError, match="long"):
        model(torch.zeros(1, 2))


def test_greedy_decoding_stops_at_stop_id():
    model = models.CharRNN(models.CharRNNConfig(vocab_size=3, hidden_size=4))
    with torch.no_grad():
        model.head.bias.copy_(torch.tensor([0.0, 0.0, 100.0]))  # always predicts id 2
    new, _ = model.greedy_decode(torch.tensor([0]), max_new_tokens=10, stop_id=2)
    assert new == [2]


def test_sequence_regressor():
    for cell in ("rnn", "lstm", "gru"):
        model = models.SequenceRegressor(models.SequenceRegressorConfig(cell=cell, hidden_size=8))
        assert model(torch.randn(4, 6, 2)).shape == (4,)
    lstm = models.SequenceRegressor(models.SequenceRegressorConfig(hidden_size=64))
    assert lstm.num_parameters() == 4 * 64 * (2 + 64 + 2) + 65
    with pytest.raises(ValueError, match="cell"):
        models.SequenceRegressorConfig(cell="transformer")
    with pytest.raises(ValueError, match=r"\(B, T, 2\)"):
        lstm(torch.randn(4, 6))


def test_dropout_layout_train_and_eval():
    mlp = models.MLP(models.MLPConfig(in_features=2, hidden=(64, 64), out_features=1, activation="relu", dropout=0.5))
    assert [type(m).__name__ for m in mlp.net] == ["Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"]
    assert mlp.net[2].p == 0.5
    x = torch.randn(8, 2)
    mlp.eval()
    assert torch.equal(mlp(x), mlp(x))  # eval: dropout passes everything through
    mlp.train()
    torch.manual_seed(0)
    a = mlp(x)
    torch.manual_seed(1)
    assert not torch.equal(a, mlp(x))  # training: a new mask every call
    # without dropout the layout, and so the state_dict keys, are the scratch MLP's
    assert [type(m).__name__ for m in models.MLP(models.MLPConfig(dropout=0.0)).net] == ["Linear", "Tanh", "Linear", "Tanh", "Linear"]


@pytest.mark.parametrize("dropout,error", [(1.0, ValueError), (-0.1, ValueError), (True, TypeError), ("0.1", TypeError)])
def test_bad_dropout(dropout, error):
    with pytest.raises(error, match="dropout"):
        models.MLPConfig(dropout=dropout)
