"""scratch layers and MLP: forward and backward equal PyTorch in float64, and finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnanatomy import models, scratch

ATOL = 1e-12


@pytest.mark.parametrize("name,torch_fn", [("relu", torch.relu), ("tanh", torch.tanh), ("sigmoid", torch.sigmoid)])
def test_activation_forward_backward_equal_torch(name, torch_fn, rng):
    x = rng.normal(size=(7, 5)) * 3
    grad_out = rng.normal(size=(7, 5))
    layer = scratch.ACTIVATIONS[name]()
    y = layer.forward(x)
    grad_in = layer.backward(grad_out)
    xt = torch.from_numpy(x).requires_grad_()
    yt = torch_fn(xt)
    yt.backward(torch.from_numpy(grad_out))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=0, atol=ATOL)
    np.testing.assert_allclose(grad_in, xt.grad.numpy(), rtol=0, atol=ATOL)


def test_sigmoid_is_stable_for_large_inputs():
    x = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    with np.errstate(over="raise"):
        y = scratch.sigmoid(x)
    np.testing.assert_allclose(y, torch.sigmoid(torch.from_numpy(x)).numpy(), rtol=0, atol=ATOL)


def test_linear_equals_torch(rng):
    layer = scratch.Linear(4, 3, rng=rng)
    ref = torch.nn.Linear(4, 3).double()
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(layer.params["weight"]))
        ref.bias.copy_(torch.from_numpy(layer.params["bias"]))
    x = rng.normal(size=(6, 4))
    g = rng.normal(size=(6, 3))
    y = layer.forward(x)
    gx = layer.backward(g)
    xt = torch.from_numpy(x).requires_grad_()
    ref(xt).backward(torch.from_numpy(g))
    np.testing.assert_allclose(y, ref(torch.from_numpy(x)).detach().numpy(), rtol=0, atol=ATOL)
    np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=0, atol=ATOL)
    np.testing.assert_allclose(layer.grads["weight"], ref.weight.grad.numpy(), rtol=0, atol=ATOL)
    np.testing.assert_allclose(layer.grads["bias"], ref.bias.grad.numpy(), rtol=0, atol=ATOL)


def test_linear_without_bias(rng):
    layer = scratch.Linear(3, 2, bias=False, rng=rng)
    assert set(layer.params) == {"weight"}
    layer.forward(rng.normal(size=(2, 3)))
    layer.backward(np.ones((2, 2)))
    assert set(layer.grads) == {"weight"}


def test_linear_init_follows_torch_bound(rng):
    layer = scratch.Linear(100, 50, rng=rng)
    bound = 1 / np.sqrt(100)
    assert np.abs(layer.params["weight"]).max() <= bound
    assert np.abs(layer.params["weight"]).max() > 0.9 * bound  # the whole range is used


def _paired_models(sizes, activation, seed=0):
    cfg = models.MLPConfig(in_features=sizes[0], hidden=tuple(sizes[1:-1]), out_features=sizes[-1], activation=activation)
    torch.manual_seed(seed)
    ref = models.MLP(cfg).double()
    ours = scratch.MLP(sizes, activation)
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    return ours, ref


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("sizes", [[1, 8, 1], [3, 16, 16, 2], [5, 4]])
def test_mlp_forward_backward_equal_autograd(sizes, activation, rng):
    ours, ref = _paired_models(sizes, activation)
    x = rng.normal(size=(11, sizes[0]))
    y = rng.normal(size=(11, sizes[-1]))
    loss = scratch.MSELoss()
    pred = ours.forward(x)
    loss.forward(pred, y)
    grad_x = ours.backward(loss.backward())

    xt = torch.from_numpy(x).requires_grad_()
    pred_t = ref(xt)
    torch.nn.functional.mse_loss(pred_t, torch.from_numpy(y)).backward()
    np.testing.assert_allclose(pred, pred_t.detach().numpy(), rtol=0, atol=ATOL)
    np.testing.assert_allclose(grad_x, xt.grad.numpy(), rtol=0, atol=ATOL)
    grads = ours.gradients()
    for name, p in ref.named_parameters():
        np.testing.assert_allclose(grads[name], p.grad.numpy(), rtol=0, atol=ATOL, err_msg=name)


def test_mlp_gradients_match_finite_differences(rng):
    mlp = scratch.MLP([2, 5, 5, 1], "tanh", seed=3)
    x = rng.normal(size=(9, 2))
    y = rng.normal(size=(9, 1))
    loss = scratch.MSELoss()
    loss.forward(mlp.forward(x), y)
    mlp.backward(loss.backward())
    analytic = {k: v.copy() for k, v in mlp.gradients().items()}
    for name, p in mlp.parameters().items():
        numeric = scratch.numerical_gradient(lambda: loss.forward(mlp.forward(x), y), p)
        assert scratch.relative_error(analytic[name], numeric) < 1e-8, name


def test_numerical_gradient_restores_the_array_and_is_accurate():
    x = np.array([0.3, -1.2, 2.0])
    before = x.copy()
    grad = scratch.numerical_gradient(lambda: float(np.sum(x**3)), x)
    np.testing.assert_array_equal(x, before)
    np.testing.assert_allclose(grad, 3 * before**2, rtol=1e-8)


def test_relative_error_properties():
    a = np.array([1.0, 2.0])
    assert scratch.relative_error(a, a) == 0.0
    assert scratch.relative_error(a, -a) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="same shape"):
        scratch.relative_error(a, np.ones(3))


def test_state_dict_keys_match_torch():
    ours, ref = _paired_models([3, 7, 7, 2], "relu")
    assert list(ours.state_dict()) == list(ref.state_dict())
    assert ours.num_parameters() == ref.num_parameters()


def test_bad_inputs_are_rejected():
    mlp = scratch.MLP([3, 4, 1])
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        mlp.forward(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="2 dimensions"):
        mlp.forward(np.zeros(3))
    with pytest.raises(TypeError, match="NumPy array"):
        mlp.forward([[1.0, 2.0, 3.0]])
    with pytest.raises(TypeError, match="floating"):
        mlp.forward(np.zeros((2, 3), dtype=int))
    with pytest.raises(ValueError, match="activation"):
        scratch.MLP([3, 1], "swish")
    with pytest.raises(ValueError, match="at least"):
        scratch.MLP([3])
    with pytest.raises(ValueError, match=">= 1"):
        scratch.MLP([3, 0, 1])
    with pytest.raises(TypeError, match="sequence"):
        scratch.MLP("31")
    mlp.forward(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="forward output's shape"):
        mlp.backward(np.zeros((5, 2)))
    with pytest.raises(RuntimeError, match="before forward"):
        scratch.Linear(2, 2).backward(np.zeros((1, 2)))
    with pytest.raises(RuntimeError, match="backward"):
        scratch.MLP([2, 2]).gradients()
    with pytest.raises(ValueError, match="keys"):
        mlp.load_state_dict({"net.0.weight": np.zeros((4, 3))})
    state = mlp.state_dict()
    state["net.0.weight"] = np.zeros((3, 3))
    with pytest.raises(ValueError, match="shape"):
        mlp.load_state_dict(state)
    with pytest.raises(ValueError, match=r"float in \(0, 1\)"):
        scratch.numerical_gradient(lambda: 0.0, np.zeros(2), eps=0.0)


def test_cross_entropy_equals_torch_and_survives_large_logits():
    import torch.nn.functional as F

    rng = np.random.default_rng(0)
    logits, labels = rng.normal(size=(7, 5)) * 4, rng.integers(0, 5, size=7)
    for reduction in ("mean", "sum"):
        ours = scratch.CrossEntropyLoss(reduction)
        value, grad = ours(logits, labels), ours.backward()
        z = torch.from_numpy(logits).requires_grad_()
        ref = F.cross_entropy(z, torch.from_numpy(labels), reduction=reduction)
        ref.backward()
        assert abs(value - ref.item()) < 1e-12 and np.abs(grad - z.grad.numpy()).max() < 1e-12
    huge = np.array([[1e4, 0.0, -1e4]])
    assert scratch.CrossEntropyLoss()(huge, np.array([1])) == pytest.approx(1e4)
    np.testing.assert_allclose(np.exp(scratch.log_softmax(huge)).sum(), 1.0)
    with pytest.raises(ValueError, match="labels must lie"):
        scratch.CrossEntropyLoss()(logits, np.full(7, 5))
    with pytest.raises(ValueError, match="integer classes"):
        scratch.CrossEntropyLoss()(logits, labels.astype(float))
    with pytest.raises(RuntimeError, match="before forward"):
        scratch.CrossEntropyLoss().backward()


def test_init_schemes_draw_the_stated_std():
    sizes = [256, 512, 512, 1]
    for init, std in [("lecun", 1 / np.sqrt(512)), ("xavier", np.sqrt(2 / 1024)), ("he", np.sqrt(2 / 512)), (0.01, 0.01)]:
        net = scratch.MLP(sizes, activation="relu", seed=0, init=init)
        w = net.parameters()["net.2.weight"]  # 512 → 512
        assert w.std() == pytest.approx(std, rel=0.01) and abs(w.mean()) < 0.01 * std * 10
        assert not net.parameters()["net.2.bias"].any()
        assert scratch.init_std(init, 512, 512) == pytest.approx(std)
    assert scratch.init_std("xavier", 256, 512) == pytest.approx(np.sqrt(2 / 768))
    assert scratch.init_std("torch", 300, 7) == pytest.approx(1 / np.sqrt(900))
    # the default is unchanged: PyTorch's U(±1/√fan_in), the same draws as before the option existed
    rng = np.random.default_rng(3)
    first = scratch.Linear(4, 8, rng=rng)
    np.testing.assert_array_equal(scratch.MLP([4, 8, 2], seed=3).parameters()["net.0.weight"], first.params["weight"])
    np.testing.assert_array_equal(scratch.MLP([4, 8, 2], seed=3, init="torch").state_dict()["net.2.bias"],
                                  scratch.MLP([4, 8, 2], seed=3).state_dict()["net.2.bias"])


def test_he_keeps_the_relu_signal_and_xavier_halves_its_power():
    """He et al.'s argument, measured: E[a²] is multiplied by fan_in·σ²/2 per ReLU layer."""
    x = np.random.default_rng(0).normal(size=(512, 256))
    for init, factor in [("he", 1.0), ("xavier", 0.5), (0.01, 256 * 1e-4 / 2)]:
        net = scratch.MLP([256] * 11 + [1], activation="relu", seed=0, init=init)
        a, power = x, []
        for layer in net.net[:-1]:
            a = layer.forward(a)
            if isinstance(layer, scratch.ReLU):
                power.append(np.mean(a**2))
        ratio = (power[-1] / power[0]) ** (1 / (len(power) - 1))
        assert ratio == pytest.approx(factor, rel=0.05)


@pytest.mark.parametrize("init,error", [("glorot", ValueError), (0.0, ValueError), (-1.0, ValueError), (float("nan"), ValueError),
                                        (True, TypeError), (None, TypeError)])
def test_bad_init(init, error):
    with pytest.raises(error, match="init"):
        scratch.MLP([2, 3, 1], init=init)
    with pytest.raises(error, match="init"):
        scratch.init_std(init, 2, 3)
