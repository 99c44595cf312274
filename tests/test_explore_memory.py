"""explore.memory: what a training step keeps for backward, and its peak — predicted from a
liveness analysis of the step's operations, measured with the profiler's memory timeline."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nnanatomy import explore
from nnanatomy.models.cnn import CNNClassifier, CNNConfig
from nnanatomy.models.gpt import GPT, GPTConfig
from nnanatomy.models.lab import ViTClassifier
from nnanatomy.models.resnet import resnet18
from nnanatomy.models.rnn import CharRNN, CharRNNConfig

MiB = 2**20


def _mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(256, 1024), nn.ReLU(), nn.Dropout(0.1), nn.Linear(1024, 1024), nn.GELU(), nn.Linear(1024, 10))


def _gpt(**kw):
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=40, dropout=0.1, **kw))


def _ids():
    return torch.randint(0, 40, (32, 64), generator=torch.Generator().manual_seed(0))


FIVE = {  # model, one training batch
    "MLP": (_mlp, lambda: torch.randn(512, 256)),
    "digits CNN": (lambda: CNNClassifier(CNNConfig()), lambda: torch.randn(64, 1, 8, 8)),
    "GPT (ch. 06)": (_gpt, _ids),
    "ResNet-18": (lambda: resnet18(num_classes=10), lambda: torch.randn(4, 3, 64, 64)),
    "ViT (A3)": (lambda: ViTClassifier(), lambda: torch.randn(64, 1, 8, 8)),
}


@pytest.mark.parametrize("name", list(FIVE))
def test_predicted_peak_is_within_ten_percent_of_the_measured_and_meta_predicts_the_same(name):
    make, batch = FIVE[name]
    torch.manual_seed(0)
    model, x = make(), batch()
    report = explore.memory(model, x)
    assert report.measured_peak is not None and abs(report.error) <= 0.10, str(report)
    on_meta = explore.memory(model, x, device="meta")
    assert on_meta.measured_peak is None and on_meta.device == "meta"
    assert on_meta.predicted_peak == report.predicted_peak and on_meta.activations == report.activations


def test_an_mlp_is_predicted_within_a_few_kib_and_its_parts_add_up():
    model, x = nn.Sequential(nn.Linear(256, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10)), torch.randn(512, 256)
    for optimizer, state in (("adam", 2), ("momentum", 1), ("sgd", 0)):
        r = explore.memory(model, x, optimizer=optimizer)
        p = sum(q.numel() * 4 for q in model.parameters())
        assert (r.parameters, r.gradients, r.optimizer_state, r.inputs) == (p, p, state * p, 512 * 256 * 4)
        assert r.activations == 2 * 512 * 1024 * 4  # the two ReLU outputs: each Linear after them reads the same storage
        assert abs(r.predicted_peak - r.measured_peak) <= 8 * 1024, str(r)  # Adam's step counters and scalars: a few KiB
    assert r.peak_phase == "backward" and explore.memory(model, x).peak_phase == "optimizer step"


def test_a_convolution_keeps_its_input_not_its_output():
    # the seed's example: the output is 3.06 MiB (what summary reports), what backward keeps is the input
    conv, x = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False), torch.randn(1, 3, 224, 224)
    r = explore.memory(conv, x, measure=False)
    assert [row.saved_bytes for row in r.rows] == [3 * 224 * 224 * 4]
    assert explore.summary(conv, x).activation_bytes == 64 * 112 * 112 * 4
    relu = explore.memory(nn.Sequential(conv, nn.ReLU()), x, measure=False)
    assert [row.saved_bytes for row in relu.rows] == [3 * 224 * 224 * 4, 64 * 112 * 112 * 4]


def test_checkpointing_keeps_block_inputs_and_lowers_the_peak_as_measured():
    model, x = _gpt(), _ids()
    plain = explore.memory(model, x)
    blocks = [f"blocks.{i}" for i in range(4)]
    ckpt = explore.memory(model, x, checkpoint=blocks)
    d = 32 * 64 * 128 * 4  # one (B, T, d) float32 tensor: each block keeps only its input
    assert ckpt.kept < plain.kept / 10 and ckpt.kept >= 4 * d
    assert ckpt.predicted_peak < 0.5 * plain.predicted_peak
    assert abs(ckpt.error) <= 0.10, str(ckpt)
    assert explore.memory(model, x, checkpoint=blocks, device="meta").predicted_peak == ckpt.predicted_peak


def test_autocast_saves_half_size_copies_as_measured():
    model, x = _gpt(), _ids()
    full = explore.memory(model, x)
    half = explore.memory(model, x, autocast=torch.bfloat16)
    assert 0.4 < half.activations / full.activations < 0.75  # matmul inputs in bf16; softmax, norms stay float32
    assert abs(half.error) <= 0.10, str(half)
    assert explore.memory(model, x, autocast=torch.bfloat16, device="meta").activations == half.activations
    assert half.autocast == "bfloat16" and "autocast bfloat16" in str(half)


def test_meta_counts_a_gpt2_sized_model_without_allocating_it():
    model = GPT(GPTConfig.gpt2("124M", dropout=0.0))  # built for real once, then counted on fake tensors
    r = explore.memory(model, torch.zeros(1, 1024, dtype=torch.long), device="meta", autocast=torch.bfloat16,
                       checkpoint=[f"blocks.{i}" for i in range(12)])
    assert r.parameters == 124_439_808 * 4 and r.optimizer_state == 2 * r.gradients
    assert r.measured_peak is None and r.predicted_peak > r.parameters + r.gradients + r.optimizer_state


def test_the_fused_lstm_is_flagged():
    torch.manual_seed(0)
    model = CharRNN(CharRNNConfig(vocab_size=40, cell="lstm"))
    assert any("fused recurrent" in n for n in explore.memory(model, _ids(), device="meta").notes)


def test_memory_leaves_the_model_as_it_was():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.Dropout(0.5), nn.Linear(16, 1)).eval()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    model[0].weight.grad = torch.ones_like(model[0].weight)
    x = torch.randn(32, 8)
    rng = torch.get_rng_state()
    explore.memory(model, x, optimizer="adamw")
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())  # running statistics too
    assert not model.training and torch.equal(model[0].weight.grad, torch.ones_like(model[0].weight))
    assert model[3].weight.grad is None and torch.equal(torch.get_rng_state(), rng)
    assert "forward" not in vars(model[0])  # no checkpoint wrapper left behind


def test_plot_draws_the_step():
    import matplotlib

    matplotlib.use("Agg")
    ax = explore.memory(_mlp(), torch.randn(64, 256)).plot()
    assert ax.get_ylabel() == "live tensor memory (MiB)" and len(ax.lines) >= 4


def test_memory_rejects_bad_input():
    model, x = _mlp(), torch.randn(4, 256)
    with pytest.raises(TypeError, match="nn.Module"):
        explore.memory("model", x)
    with pytest.raises(ValueError, match="inputs"):
        explore.memory(model)
    with pytest.raises(TypeError, match="Tensor"):
        explore.memory(model, [1, 2])
    with pytest.raises(ValueError, match="empty"):
        explore.memory(model, torch.randn(0, 256))
    with pytest.raises(ValueError, match="optimizer must be one of"):
        explore.memory(model, x, optimizer="lion")
    with pytest.raises(TypeError, match="autocast"):
        explore.memory(model, x, autocast="bf16")
    with pytest.raises(ValueError, match="autocast"):
        explore.memory(model, x, autocast=torch.float64)
    with pytest.raises(TypeError, match="single string"):
        explore.memory(model, x, checkpoint="0")
    with pytest.raises(ValueError, match="not a submodule"):
        explore.memory(model, x, checkpoint=["9"])
    with pytest.raises(ValueError, match="inside"):
        explore.memory(_gpt(), _ids(), checkpoint=["blocks.0", "blocks.0.attn"])
    with pytest.raises(TypeError, match="loss_fn"):
        explore.memory(model, x, loss_fn="mse")
    with pytest.raises(ValueError, match="scalar"):
        explore.memory(model, x, loss_fn=lambda out: out)
    with pytest.raises(ValueError, match="no trainable"):
        explore.memory(nn.Sequential(nn.ReLU()), x)
    frozen = _mlp().requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable"):
        explore.memory(frozen, x)
    with pytest.raises(TypeError, match="measure"):
        explore.memory(model, x, measure="yes")


def test_without_an_optimizer_the_step_ends_with_the_backward_pass():
    model, x = _mlp(), torch.randn(64, 256)
    r = explore.memory(model, x, optimizer=None)
    assert r.optimizer_state == 0 and {phase for phase, _ in r.timeline} == {"forward", "backward"}
    assert abs(r.error) <= 0.10, str(r)
