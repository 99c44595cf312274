"""Chapter 02's experiments: the contestants, the pixel shift, the training recipe and the stored
depth sweep (plain and residual DeepCNNs)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnanatomy import data, models
from nnanatomy.experiments import digits as digit_lab


def test_shift_moves_pixels_and_fills_with_zeros():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    right = digit_lab.shift(x, 1, 0)
    assert torch.equal(right[0, 0, :, 1:], x[0, 0, :, :3]) and not right[0, 0, :, 0].any()
    up = digit_lab.shift(x, 0, -1)
    assert torch.equal(up[0, 0, :3], x[0, 0, 1:]) and not up[0, 0, 3].any()
    assert torch.equal(digit_lab.shift(digit_lab.shift(x, 2, 1), -2, -1)[..., :3, :2], x[..., :3, :2])
    assert torch.equal(digit_lab.shift(np.ones((2, 1, 8, 8), dtype=np.float32), 0, 0), torch.ones(2, 1, 8, 8))
    with pytest.raises(ValueError, match="dx"):
        digit_lab.shift(x, 4, 0)
    with pytest.raises(TypeError, match="images"):
        digit_lab.shift(torch.ones(4, 4))
    with pytest.raises(TypeError, match="dy"):
        digit_lab.shift(x, 1, 0.5)


def test_contestants_see_the_same_pixels():
    x = torch.randn(3, 1, 8, 8)
    sizes = {}
    for kind in digit_lab.CLASSIFIERS:
        torch.manual_seed(0)
        model = digit_lab.classifier(kind)
        assert model(x).shape == (3, 10)
        sizes[kind] = sum(p.numel() for p in model.parameters())
    assert sizes == {"softmax regression": 650, "MLP": 26_122, "CNN": 28_618}
    with pytest.raises(ValueError, match="kind"):
        digit_lab.classifier("ResNet")


def test_accuracy_and_its_errors():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].bias.copy_(torch.arange(10.0))  # always predicts 9
    model.train()
    x = torch.zeros(4, 1, 8, 8)
    assert digit_lab.accuracy(model, x, torch.tensor([9, 9, 1, 2])) == 0.5
    assert model.training  # its mode is put back
    with pytest.raises(ValueError, match="one per image"):
        digit_lab.accuracy(model, x, torch.tensor([9, 9]))
    with pytest.raises(TypeError, match="model"):
        digit_lab.accuracy("model", x, torch.tensor([9, 9, 9, 9]))


def test_fit_classifier_learns_the_digits():
    split = data.digits(seed=0)
    torch.manual_seed(0)
    model = digit_lab.classifier("softmax regression")
    history = digit_lab.fit_classifier(model, split, seed=0, epochs=5, device="cpu")
    assert history.eval_epoch == [5] and history.metrics["test accuracy"][-1] > 0.85
    with pytest.raises(TypeError, match="data.Split"):
        digit_lab.fit_classifier(model, (split.x_train, split.y_train), seed=0)


def test_plain_block_is_the_residual_block_without_the_addition():
    torch.manual_seed(0)
    residual = models.resnet.BasicBlock(4, 4).eval()
    plain = models.resnet.BasicBlock(4, 4, residual=False).eval()
    plain.load_state_dict(residual.state_dict())
    x = torch.randn(2, 4, 6, 6)
    inner = residual.bn2(residual.conv2(residual.relu(residual.bn1(residual.conv1(x)))))
    assert torch.allclose(plain(x), torch.relu(inner)) and torch.allclose(residual(x), torch.relu(inner + x))
    assert models.resnet.BasicBlock(4, 8, residual=False).downsample is None  # no shortcut to build
    with pytest.raises(TypeError, match="residual"):
        models.resnet.BasicBlock(4, 4, residual=1)


def test_deep_cnn_depth_and_switch():
    for residual in (False, True):
        net = models.DeepCNN(models.DeepCNNConfig(channels=8, blocks=3, residual=residual))
        assert net(torch.randn(2, 1, 8, 8)).shape == (2, 10)
        assert sum(isinstance(m, torch.nn.Conv2d) for m in net.modules()) == 7
    plain, res = (sum(p.numel() for p in models.DeepCNN(models.DeepCNNConfig(blocks=2, residual=r)).parameters()) for r in (False, True))
    assert plain == res  # the skip adds no parameter
    with pytest.raises(ValueError, match="blocks"):
        models.DeepCNNConfig(blocks=0)
    with pytest.raises(TypeError, match="residual"):
        models.DeepCNNConfig(residual="yes")
    with pytest.raises(ValueError, match="DeepCNN expects"):
        models.DeepCNN()(torch.randn(2, 3, 8, 8))


def test_run_depth_record_and_arguments():
    record = digit_lab.run_depth(1, True, 0, channels=4, epochs=1)
    assert record["convolutions"] == 3 and len(record["train_loss"]) == 1
    assert 0 < record["train_ce"] < 3 and 0 <= record["test_accuracy"] <= 1
    with pytest.raises(TypeError, match="residual"):
        digit_lab.run_depth(1, 1, 0)
    with pytest.raises(ValueError, match="blocks"):
        digit_lab.run_depth(0, True, 0)


def test_stored_depth_sweep_is_complete():
    runs = digit_lab.load_depth_results()["runs"]
    keys = {(r["blocks"], r["residual"], r["seed"]) for r in runs}
    assert keys == {(b, r, s) for b in (1, 2, 4, 8, 16) for r in (False, True) for s in (0, 1, 2)}
    assert all(len(r["train_loss"]) == r["epochs"] == 15 for r in runs)
    with pytest.raises(TypeError, match="path"):
        digit_lab.load_depth_results(3)


def test_forget_bias_sets_the_lstm_forget_rows():
    torch.manual_seed(0)
    model = models.SequenceRegressor(models.SequenceRegressorConfig(hidden_size=8, cell="lstm", forget_bias=3.0))
    b_ih, b_hh = model.rnn.bias_ih_l0.detach(), model.rnn.bias_hh_l0.detach()
    assert torch.equal(b_ih[8:16], torch.full((8,), 3.0)) and not b_hh[8:16].any()
    x = torch.zeros(1, 1, 2)  # with no input and no state, the forget gate is σ(b_f)
    gates = b_ih + b_hh + model.rnn.weight_ih_l0 @ x[0, 0]
    assert torch.allclose(torch.sigmoid(gates[8:16]), torch.full((8,), float(torch.sigmoid(torch.tensor(3.0)))))
    with pytest.raises(ValueError, match="LSTM setting"):
        models.SequenceRegressorConfig(cell="gru", forget_bias=1.0)
    with pytest.raises(ValueError, match="finite"):
        models.SequenceRegressorConfig(forget_bias=float("inf"))


def test_adding_sweep_is_stored_and_run_checks_arguments():
    from nnanatomy.experiments import adding

    runs = adding.load_results()["runs"]
    keys = {(r["cell"], r["forget_bias"], r["seed"]) for r in runs}
    expected = {(c, b, s) for c, b in [("rnn", None), ("gru", None), ("lstm", None), ("lstm", 0.0), ("lstm", 1.0), ("lstm", 3.0)]
                for s in (0, 1, 2)}
    assert keys == expected and all(len(r["test_mse"]) == adding.RECIPE["epochs"] for r in runs)
    with pytest.raises(ValueError, match="cell"):
        adding.run("transformer", 0)
    with pytest.raises(TypeError, match="seed"):
        adding.run("lstm", 0.5)
