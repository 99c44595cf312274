"""The anatomy lens on models we did not write: Hugging Face's GPT-2, BERT, ViT and HuBERT, built
from small configurations (random weights, nothing downloaded). Every row has a count, tied
weights count once, and the total equals PyTorch's FlopCounterMode on the same model with its
attention written as explicit matrix products (``attn_implementation="eager"``) — which the
default fused CPU attention hides from FlopCounterMode."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from nnanatomy import explore

transformers = pytest.importorskip("transformers")


def _flop_counter(model, *inputs):
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(*inputs)
    return counter.get_total_flops()


def _pair(model_class, config_class, **fields):
    """The same model twice: fused attention (the default) and explicit matrix products."""
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fused = model_class(config_class(**fields)).eval()
        explicit = model_class(config_class(**fields, attn_implementation="eager")).eval()
    explicit.load_state_dict(fused.state_dict())
    assert fused.config._attn_implementation != "eager" and explicit.config._attn_implementation == "eager"
    return fused, explicit


CASES = {
    "gpt2": lambda: (*_pair(transformers.GPT2LMHeadModel, transformers.GPT2Config, n_layer=2, n_head=4, n_embd=64,
                            vocab_size=300, n_positions=64), (torch.randint(0, 300, (2, 64)),)),
    "bert": lambda: (*_pair(transformers.BertModel, transformers.BertConfig, num_hidden_layers=2, num_attention_heads=4,
                            hidden_size=64, intermediate_size=128, vocab_size=300), (torch.randint(0, 300, (2, 40)),)),
    "vit": lambda: (*_pair(transformers.ViTModel, transformers.ViTConfig, num_hidden_layers=2, num_attention_heads=4,
                           hidden_size=64, intermediate_size=128, image_size=32, patch_size=8), (torch.randn(2, 3, 32, 32),)),
    "hubert": lambda: (*_pair(transformers.HubertModel, transformers.HubertConfig, num_hidden_layers=2, num_attention_heads=4,
                              hidden_size=64, intermediate_size=128, conv_dim=(32, 32), conv_kernel=(10, 3), conv_stride=(5, 2),
                              num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4), (torch.randn(2, 1600),)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_row_counted_and_the_total_is_the_explicit_models(name):
    fused, explicit, inputs = CASES[name]()
    table = explore.summary(fused, *inputs)
    assert all(row.macs is not None for row in table.rows) and "?" not in str(table)
    assert table.total_params == sum(p.numel() for p in fused.parameters())  # each tensor once, tied ones too
    assert sum(row.params for row in table.rows) == table.total_params
    truth = _flop_counter(explicit, *inputs)
    assert table.total_flops == truth
    # PyTorch's own counter misses the fused CPU attention: the table says how much it counted from shapes
    assert table.blind_flops == truth - _flop_counter(fused, *inputs) > 0
    # activations (GELU, tanh-GELU) are element-wise: 0, never unknown
    assert all(row.macs == 0 for row in table.rows if "GELU" in row.type or "Activation" in row.type)


def test_gpt2_tied_embedding_counts_once_on_meta_too():
    config = transformers.GPT2Config()  # the published 124M architecture, random weights
    with torch.device("meta"):
        model = transformers.GPT2LMHeadModel(config)
    model.eval()
    table = explore.summary(model, torch.zeros(1, 1024, dtype=torch.long), device="meta")
    assert table.total_params == 124_439_808  # not 163,037,184: the output layer is the embedding
    # the same count as the book's GPT built with GPT-2's configuration
    from nnanatomy import models

    with torch.device("meta"):
        ours = models.GPT(models.GPTConfig.gpt2())
    assert table.total_flops == explore.summary(ours, torch.zeros(1, 1024, dtype=torch.long), device="meta").total_flops


def test_a_branch_shared_between_two_attributes_counts_its_weights_once_and_its_work_twice():
    # as in the published vocal remover family, where one ASPP branch is reachable under two names
    from nnanatomy.models.uvr5 import ASPPModule

    torch.manual_seed(0)
    aspp = ASPPModule(8, 16).eval()
    shared = ASPPModule(8, 16).eval()
    shared.conv4 = shared.conv3  # one branch, two attributes, called twice per forward
    x = torch.randn(1, 8, 16, 12)
    alone, table = explore.summary(aspp, x), explore.summary(shared, x)
    branch = sum(p.numel() for p in aspp.conv3.parameters())
    assert table.total_params == alone.total_params - branch == sum(p.numel() for p in shared.parameters())
    assert sum(row.params for row in table.rows) == table.total_params
    # dilation 4 twice instead of 4 and 8: the same MACs here (padding keeps the shape); both calls are rows
    assert table.total_flops == alone.total_flops == _flop_counter(shared, x)
    assert sum(row.name.startswith("conv3.") for row in table.rows) == 2 * sum(row.name.startswith("conv3.") for row in alone.rows)
    meta = explore.summary(shared, x, device="meta")
    assert meta.total_params == table.total_params and meta.total_flops == table.total_flops


def _backward_flop_counter(model, *inputs):
    out = model(*inputs)
    loss = out[0].float().mean()
    with FlopCounterMode(display=False) as counter:
        torch.autograd.grad(loss, [p for p in model.parameters() if p.requires_grad], allow_unused=True)
    return counter.get_total_flops()


@pytest.mark.parametrize("name", sorted(CASES))
def test_backward_per_row_and_the_fused_kernels_recomputation(name):
    """The backward pass of the explicit model equals FlopCounterMode's; the fused CPU attention's
    backward kernel recomputes the scores, one product of the forward's size more per layer (half
    of the two the fused forward hides)."""
    fused, explicit, inputs = CASES[name]()
    loss = lambda out: out[0].float().mean()  # noqa: E731 — the first output: logits or hidden states
    table = explore.summary(explicit, *inputs, backward=True, loss_fn=loss)
    assert all(row.backward_macs is not None for row in table.rows)
    assert table.total_backward_flops == table.backward_counter_flops == _backward_flop_counter(explicit, *inputs)
    fused_table = explore.summary(fused, *inputs, backward=True, loss_fn=loss)
    assert fused_table.total_backward_flops - table.total_backward_flops == fused_table.blind_flops // 2 > 0
    assert all(p.grad is None for p in fused.parameters())
