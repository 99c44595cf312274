"""Hand-written MSE, SGD and Adam equal PyTorch's in float64, step for step."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnanatomy import models, scratch


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mse_equals_torch(reduction, rng):
    pred, target = rng.normal(size=(10, 3)), rng.normal(size=(10, 3))
    loss = scratch.MSELoss(reduction)
    value = loss.forward(pred, target)
    grad = loss.backward()
    pt = torch.from_numpy(pred).requires_grad_()
    ref = torch.nn.MSELoss(reduction=reduction)(pt, torch.from_numpy(target))
    ref.backward()
    assert value == pytest.approx(ref.item(), abs=1e-12)
    np.testing.assert_allclose(grad, pt.grad.numpy(), rtol=0, atol=1e-12)


def _train_pair(make_ours, make_ref, steps, seed=0):
    """Train a scratch MLP and a torch MLP from the same weights on the same batches."""
    torch.manual_seed(seed)
    ref_model = models.MLP(models.MLPConfig(in_features=2, hidden=(16, 16), out_features=1)).double()
    ours_model = scratch.MLP([2, 16, 16, 1], "tanh")
    ours_model.load_state_dict({k: v.detach().numpy() for k, v in ref_model.state_dict().items()})
    ours_opt, ref_opt = make_ours(ours_model.parameters()), make_ref(ref_model.parameters())
    rng = np.random.default_rng(seed)
    loss_ours, loss_ref = scratch.MSELoss(), torch.nn.MSELoss()
    worst = 0.0
    for _ in range(steps):
        x = rng.uniform(-2, 2, size=(32, 2))
        y = (3 * x[:, :1] ** 2 + 5) - x[:, 1:]
        loss_ours.forward(ours_model.forward(x), y)
        ours_model.backward(loss_ours.backward())
        ours_opt.step(ours_model.gradients())
        ref_opt.zero_grad()
        loss_ref(ref_model(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        ref_opt.step()
        for name, p in ref_model.named_parameters():
            worst = max(worst, float(np.abs(ours_model.parameters()[name] - p.detach().numpy()).max()))
    return worst


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_adam_equals_torch_over_200_steps(weight_decay):
    worst = _train_pair(
        lambda p: scratch.Adam(p, lr=1e-2, weight_decay=weight_decay),
        lambda p: torch.optim.Adam(p, lr=1e-2, weight_decay=weight_decay),
        steps=200,
    )
    assert worst < 1e-10


def test_adam_non_default_betas_and_eps():
    worst = _train_pair(
        lambda p: scratch.Adam(p, lr=3e-3, betas=(0.8, 0.99), eps=1e-6),
        lambda p: torch.optim.Adam(p, lr=3e-3, betas=(0.8, 0.99), eps=1e-6),
        steps=50,
    )
    assert worst < 1e-10


@pytest.mark.parametrize("momentum,weight_decay", [(0.0, 0.0), (0.9, 0.0), (0.9, 1e-3)])
def test_sgd_equals_torch(momentum, weight_decay):
    worst = _train_pair(
        lambda p: scratch.SGD(p, lr=1e-2, momentum=momentum, weight_decay=weight_decay),
        lambda p: torch.optim.SGD(p, lr=1e-2, momentum=momentum, weight_decay=weight_decay),
        steps=100,
    )
    assert worst < 1e-10


def test_adam_first_step_has_size_lr():
    """With bias correction, the first update is lr · g/|g| (up to eps), whatever g's scale."""
    for scale in (1e-3, 1.0, 1e3):
        p = {"w": np.zeros(3)}
        scratch.Adam(p, lr=0.1).step({"w": np.array([1.0, -2.0, 0.5]) * scale})
        np.testing.assert_allclose(p["w"], [-0.1, 0.1, -0.1], rtol=1e-4)


def test_optimizer_bad_inputs():
    p = {"w": np.zeros(3)}
    with pytest.raises(TypeError, match="non-empty dict"):
        scratch.Adam([np.zeros(3)])
    with pytest.raises(TypeError, match="floating"):
        scratch.Adam({"w": np.zeros(3, dtype=int)})
    with pytest.raises(ValueError, match="lr"):
        scratch.Adam(p, lr=-1.0)
    with pytest.raises(ValueError, match=r"betas\[1\]"):
        scratch.Adam(p, betas=(0.9, 1.0))
    with pytest.raises(TypeError, match="pair"):
        scratch.Adam(p, betas=0.9)
    opt = scratch.Adam(p)
    with pytest.raises(ValueError, match="keys"):
        opt.step({"v": np.zeros(3)})
    with pytest.raises(ValueError, match="shape"):
        opt.step({"w": np.zeros(2)})
    with pytest.raises(ValueError, match="reduction"):
        scratch.MSELoss("max")
    with pytest.raises(ValueError, match="same shape"):
        scratch.MSELoss()(np.zeros(3), np.zeros(4))
    with pytest.raises(RuntimeError, match="before forward"):
        scratch.MSELoss().backward()


def test_cosine_lr_equals_torch_scheduler():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)
    for epoch in range(10):
        assert scratch.cosine_lr(0.1, epoch, 10) == pytest.approx(opt.param_groups[0]["lr"], abs=1e-12)
        opt.step()
        sched.step()


def test_minibatch_fit_learns_and_validates(rng):
    x = rng.uniform(-1, 1, size=(200, 1))
    y = 2 * x - 1
    mlp = scratch.MLP([1, 8, 1], "tanh")
    opt = scratch.Adam(mlp.parameters(), lr=1e-2)
    hist = scratch.minibatch_fit(mlp, opt, scratch.MSELoss(), x, y, epochs=30, batch_size=20,
                                 evaluate=lambda m: float(np.mean((m.forward(x) - y) ** 2)))
    assert len(hist["train_loss"]) == len(hist["eval"]) == 30
    assert hist["eval"][-1] < 0.01 * hist["eval"][0]
    assert opt.lr == 1e-2  # restored after the cosine schedule
    with pytest.raises(ValueError, match="same number of rows"):
        scratch.minibatch_fit(mlp, opt, scratch.MSELoss(), x, y[:10], epochs=1, batch_size=4)
    with pytest.raises(TypeError, match="scratch.MLP"):
        scratch.minibatch_fit("mlp", opt, scratch.MSELoss(), x, y, epochs=1, batch_size=4)
    with pytest.raises(TypeError, match="optimizer"):
        scratch.minibatch_fit(mlp, None, scratch.MSELoss(), x, y, epochs=1, batch_size=4)
    with pytest.raises(ValueError, match="epochs"):
        scratch.minibatch_fit(mlp, opt, scratch.MSELoss(), x, y, epochs=0, batch_size=4)
