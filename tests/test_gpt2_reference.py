"""GPT-2 in the book's own GPT class: the published architecture, and Hugging Face's weights
loaded into it, checked against ``transformers`` with random weights (nothing is downloaded)."""

from __future__ import annotations

import importlib
import os

import pytest
import torch

from nnanatomy import explore, models
from nnanatomy.models.gpt import config_from_hf_gpt2, from_hf_gpt2

PUBLISHED = {"124M": 124_439_808, "355M": 354_823_168, "774M": 774_030_080, "1558M": 1_557_611_200}


@pytest.mark.parametrize("size", sorted(PUBLISHED))
def test_gpt2_sizes_have_the_published_parameter_counts(size):
    with torch.device("meta"):
        model = models.GPT(models.GPTConfig.gpt2(size))
    assert model.num_parameters() == PUBLISHED[size]
    assert model.output_proj.weight is model.token_embedding.weight and model.output_proj.bias is None


def test_gpt2_config_fields_and_overrides():
    cfg = models.GPTConfig.gpt2()
    assert (cfg.vocab_size, cfg.max_seq_len, cfg.d_model, cfg.num_heads, cfg.num_layers) == (50257, 1024, 768, 12, 12)
    assert cfg.tie_embeddings and cfg.gelu_approximate == "tanh" and cfg.layer_norm_eps == 1e-5 and cfg.residual_init
    small = models.GPTConfig.gpt2("355M", num_layers=2, vocab_size=100)
    assert (small.num_layers, small.d_model, small.vocab_size) == (2, 1024, 100)
    with pytest.raises(ValueError, match="size must be one of"):
        models.GPTConfig.gpt2("117M")
    with pytest.raises(ValueError, match="unknown GPTConfig fields"):
        models.GPTConfig.gpt2(n_layer=2)
    with pytest.raises(ValueError, match="gelu_approximate"):
        models.GPTConfig(vocab_size=10, gelu_approximate="erf")
    with pytest.raises(TypeError, match="tie_embeddings"):
        models.GPTConfig(vocab_size=10, tie_embeddings="yes")


def test_residual_init_scales_the_projections_into_the_residual_stream():
    torch.manual_seed(0)
    cfg = models.GPTConfig(vocab_size=50, d_model=256, num_heads=4, num_layers=8, residual_init=True)
    model = models.GPT(cfg)
    expected = 0.02 / (2 * 8) ** 0.5
    for block in model.blocks:
        assert block.attn.out_proj.weight.std().item() == pytest.approx(expected, rel=0.05)
        assert block.ffn.down.weight.std().item() == pytest.approx(expected, rel=0.05)
        assert block.attn.qkv_proj.weight.std().item() == pytest.approx(0.02, rel=0.05)


def test_default_config_is_unchanged_by_the_gpt2_options():
    # the chapters' models draw the same initial weights as before the GPT-2 options existed
    torch.manual_seed(0)
    model = models.GPT(models.GPTConfig(vocab_size=20, d_model=16, num_heads=2, num_layers=1, max_seq_len=8))
    assert model.output_proj.bias is not None and model.output_proj.weight is not model.token_embedding.weight
    assert model.blocks[0].ffn.gelu_approximate == "none" and model.ln_final.eps == 1e-5


def test_summary_on_meta_counts_gpt2_once_and_without_running_it():
    with torch.device("meta"):
        model = models.GPT(models.GPTConfig.gpt2())
    table = explore.summary(model, torch.zeros(1, 1024, dtype=torch.long), device="meta")
    assert table.total_params == PUBLISHED["124M"]
    assert sum(r.params for r in table.rows) == PUBLISHED["124M"]  # the tied matrix in one row
    assert table.total_flops == table.flop_counter_flops  # every product seen by both counters


def _hf(seed=0, **overrides):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(seed)
    fields = dict(n_layer=2, n_head=4, n_embd=64, vocab_size=300, n_positions=48, bos_token_id=0, eos_token_id=0,
                  initializer_range=0.1)  # larger than GPT-2's 0.02, so attention is far from uniform
    fields.update(overrides)
    config = transformers.GPT2Config(**fields)
    return transformers.GPT2LMHeadModel(config).eval(), config


def test_reference_implementation_is_installed_in_ci():
    if os.environ.get("CI"):  # the test extra installs it; a silent skip would hide the checks below
        importlib.import_module("transformers")


def test_hf_gpt2_weights_give_transformers_logits():
    hf, config = _hf()
    model = from_hf_gpt2(hf.state_dict(), config.to_dict())
    assert not model.training and model.output_proj.weight is model.token_embedding.weight
    ids = torch.randint(0, 300, (3, 48))
    with torch.no_grad():
        expected = hf(ids).logits
        got, _ = model(ids)
    assert expected.abs().max() > 1.0  # a test that could fail: logits far from zero
    assert (got - expected).abs().max().item() < 1e-4
    # the same with the config given as ours, and with GPT2Model's keys (no "transformer." prefix)
    ours = config_from_hf_gpt2(config.to_dict())
    assert ours.gelu_approximate == "tanh" and ours.tie_embeddings
    bare = {k.removeprefix("transformer."): v for k, v in hf.state_dict().items()}
    with torch.no_grad():
        assert (from_hf_gpt2(bare, ours)(ids)[0] - expected).abs().max().item() < 1e-4


def test_hf_gpt2_greedy_generation_gives_the_same_tokens():
    hf, config = _hf(seed=1)
    model = from_hf_gpt2(hf.state_dict(), config.to_dict())
    prompt = torch.randint(0, 300, (2, 6))
    expected = hf.generate(prompt, max_new_tokens=40, do_sample=False, pad_token_id=0)
    assert torch.equal(model.generate(prompt, 40, greedy=True), expected)
    assert torch.equal(model.generate(prompt, 40, greedy=True, use_cache=False), expected)


def test_hf_gpt2_untied_and_plain_gelu_variants():
    hf, config = _hf(seed=2, tie_word_embeddings=False, activation_function="gelu", n_inner=128)
    model = from_hf_gpt2(hf.state_dict(), config.to_dict())
    assert model.output_proj.weight is not model.token_embedding.weight and model.config.ffn_mult == 2
    ids = torch.randint(0, 300, (2, 20))
    with torch.no_grad():
        assert (model(ids)[0] - hf(ids).logits).abs().max().item() < 1e-4


def test_hf_gpt2_loading_names_what_does_not_fit():
    hf, config = _hf()
    state = hf.state_dict()
    with pytest.raises(ValueError, match="lacks"):
        from_hf_gpt2({k: v for k, v in state.items() if "h.1.mlp.c_fc.bias" not in k}, config.to_dict())
    with pytest.raises(ValueError, match="does not use"):
        from_hf_gpt2(state, models.GPTConfig.gpt2(num_layers=1, d_model=64, num_heads=4, vocab_size=300, max_seq_len=48))
    with pytest.raises(ValueError, match="shape"):
        from_hf_gpt2(state, models.GPTConfig.gpt2(num_layers=2, d_model=64, num_heads=4, vocab_size=301, max_seq_len=48))
    with pytest.raises(ValueError, match="scale_attn_by_inverse_layer_idx"):
        from_hf_gpt2(state, {**config.to_dict(), "scale_attn_by_inverse_layer_idx": True})
    with pytest.raises(TypeError, match="GPTConfig"):
        from_hf_gpt2(state, "gpt2")
    with pytest.raises(ValueError, match="lm_head.weight differs"):
        from_hf_gpt2({**state, "lm_head.weight": state["lm_head.weight"] + 1}, config.to_dict())
