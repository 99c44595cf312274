"""explore: gradient_flow/diagnose, gradcheck, trace, compare, training memory and timing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from nnanatomy import explore, scratch


def _mse(model, batch):
    x, y = batch
    return nn.functional.mse_loss(model(x), y)


def _deep_tanh(depth, scale):
    torch.manual_seed(0)
    layers = []
    for _ in range(depth):
        lin = nn.Linear(16, 16)
        nn.init.normal_(lin.weight, std=scale / 16 ** 0.5)
        nn.init.zeros_(lin.bias)
        layers += [lin, nn.Tanh()]
    return nn.Sequential(*layers, nn.Linear(16, 1))


BATCH = (torch.randn(32, 16, generator=torch.Generator().manual_seed(1)), torch.randn(32, 1, generator=torch.Generator().manual_seed(2)))


# --------------------------------------------------------------------------------------- diagnose
def test_gradient_flow_measures_every_leaf_and_leaves_gradients():
    model = _deep_tanh(3, 1.0)
    flow = explore.gradient_flow(model, BATCH, _mse)
    assert [s.name for s in flow.layers] == [str(i) for i in range(7)]
    expected = float(_mse(model, BATCH).detach())
    assert flow.loss == pytest.approx(expected)
    first = flow.layers[0]
    assert first.grad_norm == pytest.approx(float(torch.sqrt(model[0].weight.grad.pow(2).sum() + model[0].bias.grad.pow(2).sum())))
    tanh_out = torch.tanh(model[0](BATCH[0])).detach()
    assert flow.layers[1].act_max == pytest.approx(float(tanh_out.abs().max()))
    assert flow.layers[1].grad_norm is None and flow.layers[1].weight_norm is None
    assert "‖∂L/∂θ‖" in str(flow)


def test_diagnose_healthy_network_has_no_findings():
    assert explore.diagnose(explore.gradient_flow(_deep_tanh(3, 1.0), BATCH, _mse)) == []


def test_diagnose_finds_vanishing_gradients_in_a_deep_small_init_net():
    flow = explore.gradient_flow(_deep_tanh(30, 0.3), BATCH, _mse)
    findings = explore.diagnose(flow)
    vanishing = [f for f in findings if f.problem == "vanishing gradient"]
    assert vanishing, "a 30-layer tanh net with weights ×0.3 must show vanishing gradients"
    assert all(f.value < explore.THRESHOLDS["vanishing"] for f in vanishing)
    assert vanishing[0].layer == "0"  # the first layer is the furthest from the loss
    assert "residual" in vanishing[0].recommendation


def test_diagnose_finds_exploding_gradients_and_large_activations():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 1))
    with torch.no_grad():
        model[0].weight.mul_(200)
    problems = {f.problem for f in explore.diagnose(explore.gradient_flow(model, BATCH, _mse))}
    assert {"exploding gradient", "large activations"} <= problems


def test_diagnose_finds_saturated_sigmoid():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.Sigmoid(), nn.Linear(32, 1))
    with torch.no_grad():
        model[0].weight.mul_(50)
    flow = explore.gradient_flow(model, BATCH, _mse)
    gate = next(s for s in flow.layers if s.type == "Sigmoid")
    assert gate.saturated > 0.9
    findings = [f for f in explore.diagnose(flow) if f.problem == "saturated gate"]
    assert len(findings) == 1 and findings[0].layer == "1"


def test_thresholds_are_those_of_the_facts():
    assert explore.THRESHOLDS == {"vanishing": 1e-7, "exploding": 10.0, "large_activation": 100.0, "gate_low": 0.05, "gate_high": 0.95}


def test_gradient_flow_and_diagnose_reject_bad_input():
    with pytest.raises(TypeError, match="nn.Module"):
        explore.gradient_flow("net", BATCH, _mse)
    with pytest.raises(TypeError, match="loss_fn"):
        explore.gradient_flow(_deep_tanh(1, 1.0), BATCH, "mse")
    with pytest.raises(ValueError, match="scalar"):
        explore.gradient_flow(_deep_tanh(1, 1.0), BATCH, lambda m, b: m(b[0]))
    with pytest.raises(TypeError, match="gradient_flow"):
        explore.diagnose([1, 2])


# ------------------------------------------------------------------ diagnose: what breaks training
def _relu_net(bias=0.0):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 1))
    with torch.no_grad():
        model[2].bias.fill_(bias)
    return model


def test_diagnose_names_the_batch_when_the_input_holds_nan():
    x, y = BATCH[0].clone(), BATCH[1]
    x[3, 5] = float("nan")
    findings = explore.diagnose(explore.gradient_flow(_relu_net(), (x, y), _mse))
    problems = [(f.layer, f.problem) for f in findings]
    assert ("(loss)", "non-finite loss") in problems and ("(input)", "non-finite input") in problems
    start = next(f for f in findings if f.problem == "non-finite activations start here")
    assert start.layer == "0" and "batch" in start.recommendation
    assert not any(f.problem in {"vanishing gradient", "large activations"} for f in findings)


def test_diagnose_finds_the_layer_that_makes_nan_from_finite_inputs():
    class Log(nn.Module):
        def forward(self, x):
            return torch.log(x)  # log of negative pre-activations: NaN

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 8), Log(), nn.Linear(8, 1))
    flow = explore.gradient_flow(model, BATCH, _mse)
    start = next(f for f in explore.diagnose(flow) if f.problem == "non-finite activations start here")
    assert start.layer == "3" and "inputs were finite" in start.recommendation
    assert "1 later layer" in start.recommendation


def test_diagnose_names_non_finite_weights():
    model = _relu_net()
    with torch.no_grad():
        model[2].weight[0, 0] = float("inf")
    findings = explore.diagnose(explore.gradient_flow(model, BATCH, _mse))
    assert ("2", "non-finite weights") in [(f.layer, f.problem) for f in findings]


def test_diagnose_dead_relus_get_the_dead_unit_remedy_not_relu_advice():
    flow = explore.gradient_flow(_relu_net(bias=-100.0), BATCH, _mse)
    relu = next(s for s in flow.layers if s.name == "3")
    assert relu.dead == 1.0
    findings = explore.diagnose(flow)
    dead = [f for f in findings if f.problem == "dead units"]
    assert [f.layer for f in dead] == ["3"] and "learning rate" in dead[0].recommendation
    vanishing = [f for f in findings if f.problem == "vanishing gradient"]
    assert vanishing and all("dead units of 3" in f.recommendation for f in vanishing)
    assert not any("use ReLU-type" in f.recommendation for f in findings)
    assert explore.gradient_flow(_relu_net(), BATCH, _mse).layers[1].dead < explore.CRITERIA["dead"]


def test_dead_units_are_channels_of_a_feature_map():
    conv = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 1))
    with torch.no_grad():
        conv[0].bias[:3] = -100.0  # three of four channels dead
        conv[0].bias[3] = 100.0
    flow = explore.gradient_flow(conv, (torch.randn(8, 1, 8, 8), torch.randn(8, 1)), _mse)
    assert next(s for s in flow.layers if s.type == "ReLU").dead == pytest.approx(0.75)


def test_diagnose_relative_depth_criterion_is_scale_free():
    # 30 tanh layers ×0.3: the first layer's gradient-to-weight ratio is tiny against the last's;
    # multiplying the loss by 1e6 moves every absolute gradient but not the relative finding
    flow = explore.gradient_flow(_deep_tanh(30, 0.3), BATCH, _mse)
    scaled = explore.gradient_flow(_deep_tanh(30, 0.3), BATCH, lambda m, b: 1e6 * _mse(m, b))
    for f in (flow, scaled):
        shrink = [x for x in explore.diagnose(f) if x.problem == "gradient shrinks through depth"]
        assert len(shrink) == 1 and shrink[0].layer == "0" and shrink[0].value < 1e-2
    ratio = [x.value for x in explore.diagnose(flow) if x.problem == "gradient shrinks through depth"][0]
    ratio_scaled = [x.value for x in explore.diagnose(scaled) if x.problem == "gradient shrinks through depth"][0]
    assert ratio_scaled == pytest.approx(ratio, rel=1e-3)
    assert not any("depth" in x.problem for x in explore.diagnose(explore.gradient_flow(_deep_tanh(3, 1.0), BATCH, _mse)))


def test_update_to_weight_ratio_is_measured_and_everything_restored():
    model = _deep_tanh(3, 1.0)
    weights = [p.detach().clone() for p in model.parameters()]
    sgd = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    flow = explore.gradient_flow(model, BATCH, _mse, optimizer=sgd)
    first = flow.layers[0]
    grad = torch.cat([model[0].weight.grad.reshape(-1), model[0].bias.grad.reshape(-1)])
    theta = torch.cat([weights[0].reshape(-1), weights[1].reshape(-1)])
    assert first.update_ratio == pytest.approx(0.01 * float(grad.norm()) / float(theta.norm()), rel=1e-4)
    assert all(torch.equal(a, b) for a, b in zip(weights, model.parameters()))
    assert sgd.state_dict()["state"] == {}  # momentum buffers not left behind
    big = explore.diagnose(explore.gradient_flow(model, BATCH, _mse, optimizer=torch.optim.SGD(model.parameters(), lr=100.0)))
    small = explore.diagnose(explore.gradient_flow(model, BATCH, _mse, optimizer=torch.optim.SGD(model.parameters(), lr=1e-7)))
    assert any(f.problem == "updates too large" for f in big) and any(f.problem == "updates too small" for f in small)
    adam = torch.optim.Adam(model.parameters(), lr=1e-3)
    healthy = explore.gradient_flow(model, BATCH, _mse, optimizer=adam)
    assert all(1e-4 < s.update_ratio < 1e-2 for s in healthy.layers if s.update_ratio is not None)


def test_gradient_flow_rejects_an_optimizer_of_another_model():
    other = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="none of this model"):
        explore.gradient_flow(_deep_tanh(1, 1.0), BATCH, _mse, optimizer=torch.optim.SGD(other.parameters(), lr=0.1))
    with pytest.raises(TypeError, match="optimizer"):
        explore.gradient_flow(_deep_tanh(1, 1.0), BATCH, _mse, optimizer="adam")


def test_diagnose_float16_overflow_and_gradient_underflow():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 1))
    with torch.no_grad():
        model[0].weight.mul_(1e5)  # pre-activations ~1e5 > 65,504; tanh keeps the rest finite
    found = [(f.layer, f.problem) for f in explore.diagnose(explore.gradient_flow(model, BATCH, _mse))]
    assert ("0", "float16 overflow") in found and ("1", "float16 overflow") not in found
    tiny = explore.diagnose(explore.gradient_flow(_deep_tanh(3, 1.0), BATCH, lambda m, b: 1e-12 * _mse(m, b)))
    under = [f for f in tiny if f.problem == "float16 gradient underflow"]
    assert under and "GradScaler" in under[0].recommendation
    assert not any(f.problem.startswith("float16") for f in explore.diagnose(explore.gradient_flow(_deep_tanh(3, 1.0), BATCH, _mse)))


# -------------------------------------------------------------------------------------- gradcheck
@pytest.mark.parametrize("layer, shape", [
    (scratch.Linear(5, 3, rng=np.random.default_rng(0)), (4, 5)),
    (scratch.Tanh(), (3, 4)),
    (scratch.Sigmoid(), (3, 4)),
    (scratch.Conv2D(2, 3, 3, stride=2, padding=1, rng=np.random.default_rng(0)), (2, 2, 6, 6)),
    (scratch.BatchNorm2D(3), (4, 3, 3, 3)),
])
def test_gradcheck_grades_scratch_layers_good(layer, shape):
    x = np.random.default_rng(1).normal(size=shape)
    result = explore.gradcheck(layer, x)
    assert "input" in result.errors
    assert set(result.errors) == {"input"} | {f"param:{k}" for k in layer.params}
    assert result.grade == "good", str(result)


class _BrokenLinear(scratch.Linear):
    """A classic bug: the weight gradient forgets to sum over the batch (uses the first sample only)."""

    def backward(self, grad_out):
        dx = super().backward(grad_out)
        self.grads["weight"] = np.outer(grad_out[0], self._x[0])
        return dx


def test_gradcheck_grades_a_buggy_backward_bad():
    result = explore.gradcheck(_BrokenLinear(4, 3, rng=np.random.default_rng(0)), np.random.default_rng(1).normal(size=(5, 4)))
    assert result.errors["input"] < 1e-7  # the input gradient is still right
    assert result.errors["param:weight"] > 1e-2
    assert result.grade == "bad"


def test_gradcheck_on_modules_and_functions():
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(4, 6), nn.GELU(), nn.LayerNorm(6))
    result = explore.gradcheck(module, torch.randn(3, 4))
    assert set(result.errors) == {"input0", "param:0.weight", "param:0.bias", "param:2.weight", "param:2.bias"}
    assert result.grade == "good", str(result)
    assert module[0].weight.dtype == torch.float32  # the check works on a float64 copy
    f = explore.gradcheck(lambda a, b: torch.softmax(a @ b, dim=-1), torch.randn(2, 3), torch.randn(3, 4))
    assert set(f.errors) == {"input0", "input1"} and f.grade == "good"


class _WrongBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 2 * x ** 2  # should be 3x²


def test_gradcheck_catches_a_wrong_custom_autograd_function():
    assert explore.gradcheck(_WrongBackward.apply, torch.randn(5)).grade == "bad"


def test_grade_scale():
    assert [explore.grade(e) for e in (1e-9, 1e-6, 1e-3)] == ["good", "acceptable", "bad"]


def test_gradcheck_rejects_bad_input():
    with pytest.raises(ValueError, match="at least one input"):
        explore.gradcheck(nn.Linear(2, 2))
    with pytest.raises(TypeError, match="floating point"):
        explore.gradcheck(nn.Embedding(4, 2), torch.tensor([1, 2]))
    with pytest.raises(TypeError, match="module, a function or a scratch layer"):
        explore.gradcheck(3, torch.randn(2))


# ------------------------------------------------------------------------------------------ trace
def test_trace_records_weighted_sums_activations_gradients_and_updates():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    x, target = torch.randn(1, 3), torch.tensor([1])
    weights_before = model[0].weight.detach().clone()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    tr = explore.trace(model, x, target, nn.functional.cross_entropy, opt)
    assert [(lt.name, lt.kind) for lt in tr.layers] == [("0", "weighted sum"), ("1", "output"), ("2", "weighted sum")]
    z1 = x @ weights_before.T + tr.layers[0].updates["bias"][0]
    torch.testing.assert_close(tr.layers[0].output, z1)
    torch.testing.assert_close(tr.layers[1].output, torch.relu(z1))
    # the gradient reaching the logits is softmax − one-hot
    logits = tr.layers[2].output
    expected = torch.softmax(logits, -1) - nn.functional.one_hot(target, 2).float()
    torch.testing.assert_close(tr.layers[2].grad_output, expected)
    # SGD update: Δθ = −lr · ∂L/∂θ, and ∂L/∂W₀ = (∂L/∂z₁)ᵀ x
    before, after = tr.layers[0].updates["weight"]
    torch.testing.assert_close(before, weights_before)
    torch.testing.assert_close(after - before, -0.1 * tr.layers[0].grad_output.T @ x)
    assert tr.loss == pytest.approx(float(nn.functional.cross_entropy(logits, target)))
    assert "update weight" in str(tr) and "∂L/∂output" in str(tr)


def test_trace_forward_only_and_errors():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 1))
    tr = explore.trace(model, torch.randn(1, 1, 4, 4))
    assert tr.loss is None and all(lt.grad_output is None and not lt.updates for lt in tr.layers)
    assert tr.layers[0].kind == "weighted sum" and tuple(tr.layers[0].output.shape) == (1, 2, 2, 2)
    with pytest.raises(ValueError, match="batch size 1"):
        explore.trace(model, torch.randn(2, 1, 4, 4))
    with pytest.raises(ValueError, match="both loss_fn and target"):
        explore.trace(model, torch.randn(1, 1, 4, 4), target=torch.zeros(1, 1))
    with pytest.raises(ValueError, match="optimiser step"):
        explore.trace(model, torch.randn(1, 1, 4, 4), optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(TypeError, match="nn.Module"):
        explore.trace(lambda x: x, torch.randn(1, 3))


# ---------------------------------------------------------------------------------------- compare
def test_compare_trains_every_model_with_one_budget():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 2, generator=g)
    y = (x[:, 0] * x[:, 1] > 0).long()
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, generator=g)

    def evaluate(model):
        with torch.no_grad():
            return {"accuracy": float((model(x).argmax(-1) == y).float().mean())}

    builders = {
        "linear": lambda: nn.Linear(2, 2),
        "mlp": lambda: nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 2)),
    }
    result = explore.compare(builders, loader, (x[:4],), evaluate, "accuracy", loss_fn=nn.functional.cross_entropy,
                             epochs=15, lr=1e-2, device="cpu")
    linear, mlp = result.entries
    assert (linear.parameters, mlp.parameters) == (6, 2 * 32 + 32 + 32 * 2 + 2)
    assert linear.flops == 2 * 4 * 2 * 2
    # params + grads + 2 Adam moments, 4 B each; activations of the training batch (32), not of the example (4)
    assert linear.training_memory == 4 * 6 * 4 + 32 * 2 * 4
    assert "FLOPs/example" in result.table()
    assert mlp.metric > 0.9 > linear.metric  # XOR-like quadrants need the hidden layer
    assert len(mlp.history.metrics["accuracy"]) == 15
    assert "parameters" in result.table() and "accuracy" in str(result)
    with pytest.raises(TypeError, match="non-empty mapping"):
        explore.compare({}, loader, (x[:4],), evaluate, "accuracy")
    with pytest.raises(ValueError, match="not the metric"):
        explore.compare({"linear": builders["linear"]}, loader, (x[:4],), evaluate, "loss",
                        loss_fn=nn.functional.cross_entropy, epochs=1, device="cpu")


# ------------------------------------------------------------------ summary: memory, time, errors
def test_training_memory_per_optimizer():
    s = explore.summary(nn.Linear(10, 5), torch.randn(3, 10))
    p = 55 * 4
    act = 3 * 5 * 4
    assert s.training_memory("sgd") == {"parameters": p, "gradients": p, "optimizer state": 0, "activations": act, "total": 2 * p + act}
    assert s.training_memory("sgd-momentum")["optimizer state"] == p
    assert s.training_memory("adam")["total"] == 4 * p + act
    with pytest.raises(ValueError, match="optimizer must be one of"):
        s.training_memory("lion")


def test_frozen_parameters_need_no_gradient_or_state():
    model = nn.Sequential(nn.Linear(10, 5), nn.Linear(5, 1))
    model[0].requires_grad_(False)
    mem = explore.summary(model, torch.randn(2, 10)).training_memory("adam")
    assert mem["parameters"] == (55 + 6) * 4 and mem["gradients"] == 6 * 4 and mem["optimizer state"] == 2 * 6 * 4


def test_theoretical_and_measured_time():
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 8))
    s = explore.summary(model, torch.randn(16, 64), timing=True)
    assert s.theoretical_seconds(1e9) == pytest.approx(s.total_flops / 1e9)
    assert s.theoretical_seconds(1e9, training=True) == pytest.approx(3 * s.total_flops / 1e9)
    assert all(r.seconds is not None and r.seconds >= 0 for r in s.rows)
    assert s.measured_seconds == pytest.approx(sum(r.seconds for r in s.rows))
    assert "time" in str(s)
    assert explore.summary(model, torch.randn(16, 64)).measured_seconds is None
    with pytest.raises(ValueError, match="peak_flops"):
        s.theoretical_seconds(0)


def test_measured_time_sums_leaf_rows_only():
    # an attention module has a row of its own (its score products) whose time includes its
    # children's: summing every row would count the projections twice
    from nnanatomy.models.transformer import MultiHeadAttention

    attention = MultiHeadAttention(32, 4)
    x = torch.randn(2, 10, 32)
    s = explore.summary(attention, x, x, timing=True)
    container = [r for r in s.rows if not r.leaf]
    assert container and container[0].name == "MultiHeadAttention"
    assert s.measured_seconds == pytest.approx(sum(r.seconds for r in s.rows if r.leaf))
    assert s.measured_seconds < sum(r.seconds for r in s.rows)


def test_a_model_that_rejects_the_input_names_the_failing_layer():
    model = nn.Sequential(nn.Linear(8, 4), nn.ReLU(), nn.Linear(5, 2))
    with pytest.raises(ValueError, match=r"failed in layer '2' \(Linear\)"):
        explore.summary(model, torch.randn(3, 8))


def test_layer_cost_reproduces_the_explorer_example_and_rejects_bad_sizes():
    s = explore.layer_cost("Conv2d", batch=1, in_channels=3, out_channels=64, size=224, kernel=7, stride=2, padding=3)
    assert s.total_macs == 7 * 7 * 3 * 64 * 112 * 112 == 118_013_952
    assert s.total_params == 9_408 + 64 and s.activation_bytes == 64 * 112 * 112 * 4
    lin = explore.layer_cost("Linear", batch=4, in_features=10, out_features=3)
    assert (lin.total_params, lin.total_macs) == (33, 120)
    mha = explore.layer_cost("MultiheadAttention", batch=1, tokens=16, d_model=32, heads=4)
    assert mha.total_params == 4 * 32 * 32 + 4 * 32
    assert mha.total_macs == 4 * 16 * 32 * 32 + 2 * 16 * 16 * 32  # projections, QKᵀ and AV
    with pytest.raises(ValueError, match="kind"):
        explore.layer_cost("Conv3d", batch=1)
    with pytest.raises(ValueError, match="missing"):
        explore.layer_cost("Linear", batch=1, in_features=3)
    with pytest.raises(ValueError, match="unexpected"):
        explore.layer_cost("Linear", batch=1, in_features=3, out_features=2, heads=1)
    with pytest.raises(ValueError, match="padding"):
        explore.layer_cost("Conv2d", batch=1, in_channels=3, out_channels=4, size=8, kernel=3, stride=1, padding=-1)
    with pytest.raises(ValueError, match="divisible"):
        explore.layer_cost("MultiheadAttention", batch=1, tokens=4, d_model=30, heads=4)
    widget = explore.layer_calculator("LSTM")
    assert "LSTM" in widget.children[2].value


def test_anatomy_checkers():
    from nnanatomy.exercises import anatomy

    assert anatomy.check_conv_params(1792) and "bias" in anatomy.check_conv_params(1728).message
    assert anatomy.check_conv_macs(231_211_008) and "FLOP" in anatomy.check_conv_macs(462_422_016).message
    assert "56 × 56" in anatomy.check_conv_macs(128 * 54 * 54 * 64 * 9).message
    assert anatomy.check_attention_macs(8_388_608) and "two products" in anatomy.check_attention_macs(4_194_304).message
    assert "Not answered" in anatomy.check_conv_params(None).message
    with pytest.raises(TypeError):
        anatomy.check_conv_macs("231211008")
