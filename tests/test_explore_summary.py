"""explore.summary: per-layer counts by hand, totals equal to FlopCounterMode."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from nnanatomy import explore, models


def _flop_counter_total(model, *inputs):
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(*inputs)
    return counter.get_total_flops()


class SmallCNN(nn.Module):
    """The chapter-02 style pipeline, with groups, dilation and a transposed conv thrown in."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, stride=2, padding=2, dilation=2), nn.ReLU(),
            nn.Conv2d(16, 16, 3, padding=1, groups=4, bias=False),
            nn.ConvTranspose2d(16, 8, 2, stride=2), nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(8, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 10))

    def forward(self, x):
        return self.head(self.features(x))


class _SelfAttention(nn.Module):
    def __init__(self, mha):
        super().__init__()
        self.mha = mha

    def forward(self, x):
        # need_weights=True takes PyTorch's unfused path, whose matrix products FlopCounterMode sees
        return self.mha(x, x, x, need_weights=True)[0]


CASES = {
    "mlp-default": (lambda: models.MLP(), (torch.randn(64, 1),)),
    "mlp-deep-relu": (lambda: models.MLP(models.MLPConfig(3, (128, 64, 32), 10, "relu")), (torch.randn(16, 3),)),
    "mlp-sequence-input": (lambda: models.MLP(models.MLPConfig(8, (16,), 4)), (torch.randn(2, 5, 8),)),
    "mlp-no-bias": (lambda: models.MLP(models.MLPConfig(4, (6,), 2, bias=False)), (torch.randn(3, 4),)),
    "cnn-2d": (SmallCNN, (torch.randn(2, 1, 16, 16),)),
    "cnn-1d": (
        lambda: nn.Sequential(nn.Conv1d(2, 4, 5, stride=2), nn.GELU(), nn.ConvTranspose1d(4, 3, 3, stride=3, groups=1),
                              nn.Conv1d(3, 6, 3, groups=3), nn.AvgPool1d(2)),
        (torch.randn(3, 2, 40),),
    ),
    "cnn-3d": (lambda: nn.Sequential(nn.Conv3d(1, 2, 3), nn.ReLU(), nn.ConvTranspose3d(2, 1, 2)), (torch.randn(1, 1, 6, 6, 6),)),
    "cnn-classifier": (lambda: models.CNNClassifier(), (torch.randn(4, 1, 8, 8),)),
    "char-rnn": (lambda: models.CharRNN(models.CharRNNConfig(vocab_size=20, cell="rnn")), (torch.randint(0, 20, (3, 11)),)),
    "char-gru": (lambda: models.CharRNN(models.CharRNNConfig(vocab_size=20, cell="gru")), (torch.randint(0, 20, (3, 11)),)),
    "rnn-2-layer-bidirectional": (lambda: nn.GRU(4, 6, num_layers=2, bidirectional=True), (torch.randn(5, 2, 4),)),
    "regressor-rnn": (lambda: models.SequenceRegressor(models.SequenceRegressorConfig(cell="rnn")), (torch.randn(2, 9, 2),)),
    "transformer": (lambda: models.Transformer(models.TransformerConfig(src_vocab_size=11, tgt_vocab_size=9, d_model=16)),
                    (torch.randint(1, 11, (2, 7)), torch.randint(1, 9, (2, 5)))),
    "gpt": (lambda: models.GPT(models.GPTConfig(vocab_size=20, max_seq_len=16, d_model=32, num_heads=4, num_layers=2)),
            (torch.randint(0, 20, (3, 16)),)),
    "torch-mha": (lambda: nn.Sequential(nn.Linear(8, 16), _SelfAttention(nn.MultiheadAttention(16, 4, batch_first=True))),
                  (torch.randn(3, 7, 8),)),
    "moe-gpt": (lambda: models.GPT(models.GPTConfig(vocab_size=20, max_seq_len=16, d_model=32, num_layers=2, ffn="moe",
                                                    num_experts=4, top_k=2)), (torch.randint(0, 20, (3, 16)),)),
    "unet-segmentation": (lambda: models.UNet(models.UNetConfig(in_channels=1, out_channels=3, base_channels=4, depth=3)),
                          (torch.randn(2, 1, 16, 16),)),
    "unet-transposed": (lambda: models.UNet(models.UNetConfig(base_channels=4, depth=2, bilinear=False, skips=False)),
                        (torch.randn(2, 1, 8, 8),)),
    "unet-diffusion-text": (lambda: models.UNet(models.UNetConfig(out_channels=1, base_channels=8, depth=2, norm="group",
                                                                  time_dim=16, context_dim=8, vocab_size=12)),
                            (torch.randn(2, 1, 8, 8), torch.tensor([3, 50]), torch.randint(0, 12, (2, 4)))),
    "dit": (lambda: models.DiT(models.DiTConfig(hidden=32, depth=2)),
            (torch.randn(2, 1, 8, 8), torch.tensor([3, 50]), torch.tensor([1, 10]))),
    "vit": (lambda: models.lab.ViTClassifier(), (torch.randn(2, 1, 8, 8),)),
    "conformer": (lambda: models.conformer.ConformerEncoder(models.conformer.ConformerConfig(input_dim=16, d_model=32, num_layers=2)),
                  (torch.randn(2, 40, 16),)),
    # eval: in training the network also runs its two auxiliary heads, which summary (always eval) does not
    "uvr5-cascaded-aspp": (lambda: models.uvr5.CascadedASPPNet(256, width=1 / 8).eval(), (torch.rand(1, 2, 129, 32),)),
    "sequence-transformer": (lambda: models.lab.SequenceRegressor("transformer", hidden=16), (torch.randn(2, 12, 2),)),
    "sequence-gru": (lambda: models.lab.SequenceRegressor("gru", hidden=16), (torch.randn(2, 12, 2),)),
    "gnn-gcn": (lambda: models.lab.GNN("gcn", 5, 8, 3), (torch.randn(10, 5), (torch.rand(10, 10) > 0.6).float())),
    "gnn-gat": (lambda: models.lab.GNN("gat", 5, 8, 3), (torch.randn(10, 5), (torch.rand(10, 10) > 0.6).float())),
    "gnn-sage": (lambda: models.lab.GNN("sage", 5, 8, 3), (torch.randn(10, 5), (torch.rand(10, 10) > 0.6).float())),
}


_FUSED_ATTENTION = {"dit"}  # models whose attention is F.scaled_dot_product_attention


@pytest.mark.parametrize("case", sorted(CASES))
def test_totals_equal_flop_counter_mode(case):
    make, inputs = CASES[case]
    torch.manual_seed(0)
    model = make()
    s = explore.summary(model, *inputs)
    if case in _FUSED_ATTENTION:  # F.scaled_dot_product_attention: FlopCounterMode cannot see the CPU kernel
        assert s.blind_flops > 0 and s.total_flops == _flop_counter_total(model, *inputs) + s.blind_flops
    else:
        assert s.total_flops == _flop_counter_total(model, *inputs)  # a fresh model: training mode, unfused kernels
    assert s.unattributed_flops == 0
    if case != "torch-mha":  # in eval mode nn.MultiheadAttention runs a fused kernel FlopCounterMode cannot see
        assert s.total_flops == s.flop_counter_flops + s.blind_flops
    assert s.total_params == sum(p.numel() for p in model.parameters())
    assert sum(r.params for r in s.rows) == s.total_params
    assert not s.dispatched_types


def test_the_explorer_readme_example():
    """FACTS §3: Conv2d(3, 64, 7, 2, 3) on (1, 3, 224, 224) — 9,408 weights, 118,013,952 MACs, 3.0625 MiB out."""
    conv = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
    s = explore.summary(conv, torch.randn(1, 3, 224, 224))
    (row,) = s.rows
    assert row.params == 9408
    assert row.macs == 7 * 7 * 3 * 64 * 112 * 112 == 118_013_952
    assert row.flops == 2 * 118_013_952
    assert row.output_shape == "(1, 64, 112, 112)"
    assert row.activation_bytes == 64 * 112 * 112 * 4
    assert explore.format_bytes(row.activation_bytes) == "3.06 MiB"


def test_linear_row_by_hand():
    s = explore.summary(models.MLP(), torch.randn(256, 1))
    rows = {r.name: r for r in s.rows}
    assert [r.name for r in s.rows] == ["net.0", "net.1", "net.2", "net.3", "net.4"]
    assert rows["net.2"].macs == 256 * 64 * 64 and rows["net.2"].params == 64 * 64 + 64
    assert rows["net.1"].macs == 0 and rows["net.1"].params == 0
    assert rows["net.4"].activation_bytes == 256 * 4
    assert s.param_bytes == 4353 * 4


def test_shared_and_frozen_parameters_counted_once():
    lin = nn.Linear(4, 4)
    model = nn.Sequential(lin, nn.ReLU(), lin)
    model[0].bias.requires_grad_(False)
    s = explore.summary(model, torch.randn(2, 4))
    assert [r.params for r in s.rows] == [20, 0, 0]
    assert s.total_params == 20 and s.trainable_params == 16
    assert s.total_macs == 2 * 2 * 16


def test_custom_forward_work_is_attributed_to_its_module():
    class Gram(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(8, 8)

        def forward(self, x):
            h = self.proj(x)  # (B, T, 8)
            return h @ h.transpose(1, 2)  # (B, T, T): matmul outside any counted layer

    s = explore.summary(Gram(), torch.randn(2, 5, 8))
    # the Gram matrix is computed in Gram's own forward: it gets a row of its own, after its child's
    assert [(r.name, r.macs) for r in s.rows] == [("proj", 2 * 5 * 8 * 8), ("Gram", 2 * 5 * 5 * 8)]
    assert s.unattributed_flops == 0 and s.total_flops == s.flop_counter_flops
    assert "FlopCounterMode saw" not in str(s) and "Gram" in s.dispatched_types


def test_layer_without_a_formula_is_counted_from_dispatched_operations():
    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.s = nn.Parameter(torch.ones(3))

        def forward(self, x):
            return x * self.s

    class Mix(nn.Module):  # a matrix product in a forward of its own
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(2, 5))

        def forward(self, x):
            return x @ self.w

    s = explore.summary(nn.Sequential(Scale(), nn.Linear(3, 2), Mix()), torch.randn(4, 3))
    # no formula for Scale or Mix: counted from what PyTorch dispatched inside them
    assert [r.macs for r in s.rows] == [0, 4 * 3 * 2, 4 * 2 * 5] and s.dispatched_types == ["Mix", "Scale"]
    assert "?" not in str(s) and "dispatched inside them" in str(s) and s.unattributed_flops == 0


def test_register_counter_extends_the_registry():
    class Twice(nn.Linear):
        def forward(self, x):
            return super().forward(super().forward(x))

    @explore.register_counter(Twice)
    def _twice(module, inputs, output):
        return 2 * output.numel() * module.in_features

    s = explore.summary(Twice(3, 3), torch.randn(4, 3))
    assert s.total_flops == s.flop_counter_flops == 2 * 2 * 4 * 3 * 3


def test_mode_and_batchnorm_statistics_are_untouched():
    model = SmallCNN().train()
    before = model.features[1].running_mean.clone()
    explore.summary(model, torch.randn(2, 1, 16, 16) + 5)
    assert model.training
    torch.testing.assert_close(model.features[1].running_mean, before)


def test_renderings():
    s = explore.summary(models.MLP(), torch.randn(8, 1))
    text = str(s)
    assert "total" in text and "4,353" in text and "FLOPs = 2 × MACs" in text
    html = s._repr_html_()
    assert html.startswith('<div class="nna-summary">') and "<table>" in html and "4,353" in html


def test_bad_inputs():
    with pytest.raises(TypeError, match="nn.Module"):
        explore.summary("model", torch.randn(1))
    with pytest.raises(ValueError, match="example input"):
        explore.summary(models.MLP())
    with pytest.raises(TypeError, match="torch.Tensor"):
        explore.summary(models.MLP(), [1.0])
    with pytest.raises(TypeError, match="nn.Module subclasses"):
        explore.register_counter(int)


def test_formatting():
    assert explore.format_count(118013952) == "118,013,952"
    assert explore.format_count(118013952, compact=True) == "118M"
    assert explore.format_count(None) == "?"
    assert explore.format_bytes(512) == "512 B"
    assert explore.format_bytes(3 * 1024**3) == "3 GiB"
    assert explore.format_bytes(1000 * 1024) == "1000 KiB"
    with pytest.raises(ValueError):
        explore.format_bytes(-1)


def test_lstm_is_counted_analytically_where_flop_counter_mode_sees_nothing():
    model = models.SequenceRegressor(models.SequenceRegressorConfig(input_size=2, hidden_size=8, cell="lstm"))
    x = torch.randn(3, 10, 2)
    s = explore.summary(model, x)
    lstm = next(r for r in s.rows if r.type == "LSTM")
    assert lstm.macs == 3 * 10 * 4 * 8 * (2 + 8)  # B·T·gates·H·(D + H)
    assert _flop_counter_total(model, x) == 2 * 3 * 8  # only the head's Linear is seen
    # the same count FlopCounterMode gives for the GRU/RNN cells, whose kernels it can see
    gru = nn.GRU(2, 8, batch_first=True)
    assert explore.summary(gru, x).total_flops == _flop_counter_total(gru, x) == 2 * 3 * 10 * 3 * 8 * 10
    assert "fewer FLOPs" in str(s)


def test_grouped_rows_keep_the_totals():
    model = models.Transformer(models.TransformerConfig(src_vocab_size=11, tgt_vocab_size=9, d_model=16))
    inputs = (torch.randint(1, 11, (2, 7)), torch.randint(1, 9, (2, 5)))
    full = explore.summary(model, *inputs)
    grouped = explore.summary(model, *inputs, depth=2)
    assert grouped.total_flops == full.total_flops and grouped.total_params == full.total_params
    assert grouped.activation_bytes == full.activation_bytes
    names = [r.name for r in grouped.rows]
    assert "encoder_layers.0" in names and "decoder_layers.1" in names and len(names) < len(full.rows) / 3
    assert dict(zip(names, [r.type for r in grouped.rows]))["encoder_layers.0"] == "EncoderLayer"
    with pytest.raises(ValueError, match="depth"):
        full.grouped(0)


def test_fused_kernels_are_counted_analytically():
    """The ReverbNet uses the CPU LSTM and fused attention, which FlopCounterMode cannot see."""
    from nnanatomy.models.reverbnet import ReverberationNet

    model = ReverberationNet(16)
    x = torch.randn(2, 5, 16)
    s = explore.summary(model, x)
    assert not s.dispatched_types and s.unattributed_flops == 0
    assert s.total_flops > _flop_counter_total(model, x)
    mha = nn.MultiheadAttention(16, 4, batch_first=True)
    x = torch.randn(3, 7, 16)
    fused = explore.summary(_FusedSelfAttention(mha), x)
    assert fused.flop_counter_flops < fused.total_flops == _flop_counter_total(_SelfAttention(mha).train(), x)
    assert "fewer FLOPs" in str(fused)


class _FusedSelfAttention(_SelfAttention):
    def forward(self, x):
        return self.mha(x, x, x, need_weights=False)[0]


# -- the backward pass (summary(..., backward=True)) --


def _backward_flop_counter_total(model, *inputs):
    """FlopCounterMode on the backward pass alone: the gradients of the trainable parameters."""
    model.eval()
    out = model(*inputs)
    first = next(t for t in (out if isinstance(out, (tuple, list)) else (out,)) if isinstance(t, torch.Tensor))
    loss = first.float().mean()
    with FlopCounterMode(display=False) as counter:
        torch.autograd.grad(loss, [p for p in model.parameters() if p.requires_grad], allow_unused=True)
    return counter.get_total_flops()


# fused CPU kernels FlopCounterMode cannot see (the rows count them from shapes): checked separately
_BLIND_BACKWARD = {"torch-mha", "uvr5-cascaded-aspp", "dit"}


@pytest.mark.parametrize("case", sorted(set(CASES) - _BLIND_BACKWARD))
def test_backward_totals_equal_flop_counter_mode(case):
    make, inputs = CASES[case]
    torch.manual_seed(0)
    model = make()
    s = explore.summary(model, *inputs, backward=True)
    assert s.has_backward and all(r.backward_macs is not None for r in s.rows)
    assert s.total_backward_flops == s.backward_counter_flops == _backward_flop_counter_total(model, *inputs)
    assert all(p.grad is None for p in model.parameters())  # gradients are computed, never accumulated
    assert s.total_backward_flops > 0


def test_backward_of_each_linear_by_hand():
    """y = x Wᵀ: the backward computes dW = gᵀ x and, when anything before needs it, dx = g W — each
    as many MACs as the forward. The first layer's input needs no gradient; a frozen layer computes
    no dW."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 30), nn.ReLU(), nn.Linear(30, 5))
    s = explore.summary(model, torch.randn(4, 10), backward=True)
    first, second, third = (r for r in s.rows if r.type == "Linear")
    assert first.backward_macs == first.macs == 4 * 10 * 20  # dW only
    assert second.backward_macs == 2 * second.macs == 2 * 4 * 20 * 30
    assert third.backward_macs == 2 * third.macs
    assert all(r.backward_macs == 0 for r in s.rows if r.type == "ReLU")
    model[0].requires_grad_(False)  # freeze the first layer: nothing before layer 2 needs a gradient
    s = explore.summary(model, torch.randn(4, 10), backward=True)
    first, second, third = (r for r in s.rows if r.type == "Linear")
    assert (first.backward_macs, second.backward_macs, third.backward_macs) == (0, second.macs, 2 * third.macs)
    # an input that requires grad (an adversarial example, say) brings the first layer's dx back
    x = torch.randn(4, 10, requires_grad=True)
    s = explore.summary(model, x, backward=True)
    assert next(r for r in s.rows if r.type == "Linear").backward_macs == 4 * 10 * 20
    assert x.grad is None


def test_backward_of_a_layer_called_twice_is_counted_per_call():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Linear(6, 8)
            self.shared = nn.Linear(8, 8)

        def forward(self, x):
            return self.shared(torch.tanh(self.shared(self.stem(x))))

    s = explore.summary(Twice(), torch.randn(3, 6), backward=True)
    calls = [r for r in s.rows if r.name == "shared"]
    assert len(calls) == 2 and all(r.backward_macs == 2 * 3 * 8 * 8 for r in calls)
    assert s.total_backward_macs == 3 * 6 * 8 + 2 * 2 * 3 * 8 * 8 == s.backward_counter_flops // 2


def test_backward_on_meta_equals_cpu_and_what_the_fused_kernels_do():
    torch.manual_seed(0)
    for make, inputs in (CASES["gpt"], CASES["cnn-2d"], CASES["transformer"], (lambda: models.resnet.resnet18(), (torch.randn(2, 3, 32, 32),))):
        model = make()
        cpu = explore.summary(model, *inputs, backward=True)
        meta = explore.summary(model, *inputs, backward=True, device="meta")
        assert [r.backward_macs for r in cpu.rows] == [r.backward_macs for r in meta.rows]
    # the CPU's fused LSTM kernel computes every gradient, the first layer's input and the initial
    # states included: twice the forward
    lstm = nn.LSTM(8, 16, num_layers=2, batch_first=True)
    x = torch.randn(2, 5, 8)
    cpu = explore.summary(lstm, x, backward=True)
    assert cpu.total_backward_macs == 2 * cpu.total_macs == 2 * 2 * 5 * 4 * 16 * ((8 + 16) + (16 + 16))
    assert cpu.backward_counter_flops == 0  # invisible to FlopCounterMode
    # on meta the LSTM runs step by step, and autograd skips what nobody needs: the first layer's
    # dx (B·T·4H·D) and, in both layers, the gradient of the initial hidden state (B·4H·H)
    meta = explore.summary(lstm, x, backward=True, device="meta")
    assert meta.total_backward_macs == cpu.total_backward_macs - 2 * 5 * 4 * 16 * 8 - 2 * (2 * 4 * 16 * 16)


def test_backward_of_fused_cpu_attention_recomputes_the_scores():
    """F.scaled_dot_product_attention runs the CPU's fused kernel; its backward recomputes the
    scores: five products of the forward's size where explicit attention needs four."""

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv, self.out = nn.Linear(16, 48), nn.Linear(16, 16)

        def forward(self, x):
            q, k, v = self.qkv(x).view(3, 7, 3, 4, 4).permute(2, 0, 3, 1, 4)
            return self.out(nn.functional.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(3, 7, 16))

    torch.manual_seed(0)
    s = explore.summary(Attention(), torch.randn(3, 7, 16), backward=True)
    products = 3 * 4 * 7 * 7 * 4  # B·H·T·T·d_head MACs, one product
    assert s.total_macs == 3 * 7 * 16 * 48 + 3 * 7 * 16 * 16 + 2 * products
    attention = next(r for r in s.rows if r.type == "Attention")
    assert attention.macs == 2 * products and attention.backward_macs == 5 * products
    # backward: qkv computes dW only (its input is the data), out computes dW and dx
    assert s.total_backward_macs == 3 * 7 * 16 * 48 + 2 * 3 * 7 * 16 * 16 + 5 * products
    assert s.total_backward_flops - s.backward_counter_flops == 2 * 5 * products  # the kernel FlopCounterMode cannot see


def test_backward_training_time_and_grouping():
    torch.manual_seed(0)
    make, inputs = CASES["gpt"]
    s = explore.summary(make(), *inputs, backward=True)
    assert s.theoretical_seconds(1e9, training=True) == pytest.approx((s.total_flops + s.total_backward_flops) / 1e9)
    assert s.grouped(1).total_backward_macs == s.total_backward_macs
    assert "backward FLOPs" in str(s) and "backward FLOPs" in s._repr_html_()
    plain = explore.summary(make(), *inputs)
    assert not plain.has_backward and "backward FLOPs" not in str(plain)
    with pytest.raises(ValueError, match="backward=True"):
        plain.total_backward_macs


def test_backward_bad_inputs():
    model = nn.Linear(3, 2)
    x = torch.randn(4, 3)
    with pytest.raises(TypeError, match="backward"):
        explore.summary(model, x, backward="yes")
    with pytest.raises(TypeError, match="loss_fn"):
        explore.summary(model, x, backward=True, loss_fn="mse")
    with pytest.raises(ValueError, match="backward=True"):
        explore.summary(model, x, loss_fn=lambda out: out.sum())
    with pytest.raises(TypeError, match="scalar"):
        explore.summary(model, x, backward=True, loss_fn=lambda out: out)
    frozen = nn.Linear(3, 2).requires_grad_(False)
    with pytest.raises(ValueError, match="nothing to differentiate|trainable"):
        explore.summary(frozen, x, backward=True)

    class Predict(nn.Linear):
        def forward(self, x):
            return super().forward(x).argmax(-1)  # integers: nothing to differentiate

    with pytest.raises(ValueError, match="requires grad; pass loss_fn"):
        explore.summary(Predict(3, 2), x, backward=True)
    with pytest.raises(ValueError, match="no grad_fn"):
        explore.summary(model, x, backward=True, loss_fn=lambda out: torch.zeros(()))
    assert model.weight.grad is None


def test_a_model_that_has_trained_can_be_copied_to_meta():
    """An MoE layer keeps its last auxiliary loss, a tensor with a graph, for the training loop;
    copy.deepcopy refuses such a module, the lens copies it detached."""
    torch.manual_seed(0)
    moe = models.moe.MoEFeedForward(8, 16, num_experts=4)
    x = torch.randn(2, 5, 8)
    moe(x)  # a training forward: last_stats["aux_loss"] has a grad_fn
    assert moe.last_stats["aux_loss"].grad_fn is not None
    on_meta = explore.summary(moe, x, device="meta")
    assert explore.memory(moe, x, device="meta").kept > 0
    assert moe.last_stats["aux_loss"].grad_fn is not None  # the caller's model is as it was
    assert on_meta.total_macs == explore.summary(moe, x).total_macs
