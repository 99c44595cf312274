"""scratch RNN/LSTM (forward + BPTT) and GRU (forward) equal PyTorch's in float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnanatomy import scratch

ATOL = 1e-10


def _pair(kind, d=3, h=5, seed=0):
    torch.manual_seed(seed)
    ref = getattr(torch.nn, kind)(d, h, batch_first=True).double()
    ours = getattr(scratch, kind)(d, h)
    ours.load_torch_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    return ours, ref


@pytest.mark.parametrize("kind", ["RNN", "LSTM"])
def test_forward_and_bptt_equal_torch(kind, rng):
    ours, ref = _pair(kind)
    x = rng.normal(size=(4, 7, 3))
    h0 = rng.normal(size=(4, 5)) * 0.5
    g = rng.normal(size=(4, 7, 5))
    g_last = rng.normal(size=(4, 5))

    xt = torch.from_numpy(x).requires_grad_()
    h0t = torch.from_numpy(h0)[None]
    if kind == "LSTM":
        c0 = rng.normal(size=(4, 5)) * 0.5
        out, (h_n, c_n) = ref(xt, (h0t, torch.from_numpy(c0)[None]))
        states = ours.forward(x, h0, c0)
        np.testing.assert_allclose(ours.trace["c"][:, -1], c_n[0].detach().numpy(), rtol=0, atol=ATOL)
    else:
        out, h_n = ref(xt, h0t)
        states = ours.forward(x, h0)
    np.testing.assert_allclose(states, out.detach().numpy(), rtol=0, atol=ATOL)
    np.testing.assert_allclose(states[:, -1], h_n[0].detach().numpy(), rtol=0, atol=ATOL)

    ((out * torch.from_numpy(g)).sum() + (h_n[0] * torch.from_numpy(g_last)).sum()).backward()
    grad_x = ours.backward(g, g_last)
    np.testing.assert_allclose(grad_x, xt.grad.numpy(), rtol=0, atol=ATOL)
    theirs = {k: p.grad.numpy() for k, p in ref.named_parameters()}
    for name, grad in ours.torch_layout_grads().items():
        np.testing.assert_allclose(grad, theirs[name], rtol=0, atol=ATOL, err_msg=name)


def test_gate_order_is_mapped_explicitly():
    ours, ref = _pair("LSTM", d=2, h=3)
    w = ref.weight_ih_l0.detach().numpy()
    assert scratch.TORCH_GATE_ORDER["LSTM"] == ("i", "f", "c", "o")
    np.testing.assert_array_equal(ours.params["W_xf"], w[3:6])  # forget gate: second block of rows
    np.testing.assert_array_equal(ours.params["W_xc"], w[6:9])  # cell candidate: PyTorch's "g"
    b = (ref.bias_ih_l0 + ref.bias_hh_l0).detach().numpy()
    np.testing.assert_allclose(ours.params["b_o"], b[9:12])


def test_gru_forward_equals_torch(rng):
    ours, ref = _pair("GRU")
    x = rng.normal(size=(3, 6, 3))
    h0 = rng.normal(size=(3, 5)) * 0.5
    out, h_n = ref(torch.from_numpy(x), torch.from_numpy(h0)[None])
    np.testing.assert_allclose(ours.forward(x, h0), out.detach().numpy(), rtol=0, atol=ATOL)


def test_bptt_gradient_check_and_vanishing_product(rng):
    rnn = scratch.RNN(2, 4, seed=1)
    x = rng.normal(size=(2, 5, 2))
    states = rnn.forward(x)
    v = rng.normal(size=states.shape)
    rnn.backward(v)
    analytic = rnn.grads["W_hh"].copy()
    numeric = scratch.numerical_gradient(lambda: float(np.sum(rnn.forward(x) * v)), rnn.params["W_hh"])
    assert scratch.relative_error(analytic, numeric) < 1e-8
    # only the last state matters: the gradient at step t is exactly the product of Jacobians
    rnn.forward(x)
    g_last = rng.normal(size=(2, 4))
    rnn.backward(np.zeros_like(states), g_last)
    s = rnn._cache["states"]
    expected = g_last
    for t in range(4, 0, -1):
        expected = (expected * (1 - s[:, t] ** 2)) @ rnn.params["W_hh"]
        np.testing.assert_allclose(rnn.grad_h[:, t - 1], expected, atol=1e-12)


def test_bad_inputs():
    rnn = scratch.RNN(3, 4)
    with pytest.raises(ValueError, match=r"\(B, T, 3\)"):
        rnn.forward(np.zeros((2, 5, 2)))
    with pytest.raises(ValueError, match="3 dimensions"):
        rnn.forward(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="h0"):
        rnn.forward(np.zeros((2, 5, 3)), np.zeros((2, 3)))
    with pytest.raises(RuntimeError, match="before forward"):
        scratch.LSTM(3, 4).backward(np.zeros((1, 1, 4)))
    with pytest.raises(ValueError, match="missing"):
        rnn.load_torch_state_dict({"weight_ih_l0": np.zeros((4, 3))})
    lstm = scratch.LSTM(3, 4)
    with pytest.raises(ValueError, match="shape"):
        lstm.load_torch_state_dict({k: np.zeros(1) for k in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")})
    with pytest.raises(RuntimeError, match="backward"):
        lstm.torch_layout_grads()
    rnn.forward(np.zeros((2, 5, 3)))
    with pytest.raises(ValueError, match="grad_states"):
        rnn.backward(np.zeros((2, 4, 4)))
