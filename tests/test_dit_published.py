"""The DiT as published (Peebles & Xie, 2023): ``DiTConfig.paper`` builds the twelve ImageNet
256×256 models with the state-dict names and shapes of the official implementation
(facebookresearch/DiT, ``models.py``), so its checkpoints load with ``strict=True``; the forward
pass equals an independent implementation, diffusers' ``DiTTransformer2DModel`` (random weights,
small sizes, nothing downloaded)."""

from __future__ import annotations

import pytest
import torch

from nnanatomy import explore
from nnanatomy.models.dit import DiT, DiTConfig, timestep_embedding

NAMES = [f"DiT-{size}/{patch}" for size in ("S", "B", "L", "XL") for patch in (8, 4, 2)]


def official_shapes(depth: int, hidden: int, patch: int, channels: int = 4, classes: int = 1000, size: int = 32) -> dict:
    """The official DiT's state dict, key → shape, written from its definition: timm's PatchEmbed,
    Attention (qkv, proj) and Mlp (fc1, fc2); a 256-frequency TimestepEmbedder; a LabelEmbedder
    with the null class; a fixed pos_embed; learned sigma (2·C outputs)."""
    d, tokens = hidden, (size // patch) ** 2
    shapes = {
        "pos_embed": (1, tokens, d),
        "x_embedder.proj.weight": (d, channels, patch, patch), "x_embedder.proj.bias": (d,),
        "t_embedder.mlp.0.weight": (d, 256), "t_embedder.mlp.0.bias": (d,),
        "t_embedder.mlp.2.weight": (d, d), "t_embedder.mlp.2.bias": (d,),
        "y_embedder.embedding_table.weight": (classes + 1, d),
        "final_layer.linear.weight": (patch * patch * 2 * channels, d), "final_layer.linear.bias": (patch * patch * 2 * channels,),
        "final_layer.adaLN_modulation.1.weight": (2 * d, d), "final_layer.adaLN_modulation.1.bias": (2 * d,),
    }
    for i in range(depth):
        shapes |= {
            f"blocks.{i}.attn.qkv.weight": (3 * d, d), f"blocks.{i}.attn.qkv.bias": (3 * d,),
            f"blocks.{i}.attn.proj.weight": (d, d), f"blocks.{i}.attn.proj.bias": (d,),
            f"blocks.{i}.mlp.fc1.weight": (4 * d, d), f"blocks.{i}.mlp.fc1.bias": (4 * d,),
            f"blocks.{i}.mlp.fc2.weight": (d, 4 * d), f"blocks.{i}.mlp.fc2.bias": (d,),
            f"blocks.{i}.adaLN_modulation.1.weight": (6 * d, d), f"blocks.{i}.adaLN_modulation.1.bias": (6 * d,),
        }
    return shapes


SIZES = {"S": (12, 384), "B": (12, 768), "L": (24, 1024), "XL": (28, 1152)}


@pytest.mark.parametrize("name", NAMES)
def test_the_paper_models_have_the_official_state_dict(name):
    with torch.device("meta"):
        model = DiT(DiTConfig.paper(name))
    depth, hidden = SIZES[name.split("-")[1].split("/")[0]]
    expected = official_shapes(depth, hidden, int(name.split("/")[1]))
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == expected
    # an official checkpoint (here: random values of the official shapes) loads strictly
    small = DiTConfig.paper(name, depth=1)
    target = DiT(small)
    state = {k: torch.randn(shape) for k, shape in official_shapes(1, hidden, small.patch).items()}
    target.load_state_dict(state, strict=True)
    assert torch.equal(target.pos_embed, state["pos_embed"])


def test_xl2_size_and_cost_as_published():
    """DiT-XL/2: "675M parameters", "118.6 Gflops" (the paper's Gflops are multiply–accumulates)."""
    with torch.device("meta"):
        model = DiT(DiTConfig.paper("DiT-XL/2"))
    learned = sum(p.numel() for p in model.parameters())
    assert learned + model.pos_embed.numel() == 675_129_632  # the official code keeps pos_embed as a (frozen) Parameter
    table = explore.summary(model, torch.zeros(1, 4, 32, 32), torch.zeros(1, dtype=torch.long),
                            torch.zeros(1, dtype=torch.long), device="meta")
    assert abs(table.total_macs / 1e9 - 118.64) < 0.03
    assert DiTConfig.paper("DiT-XL/2").out_channels == 8  # ε and the variance interpolation, 4 channels each


def test_paper_initialisation():
    torch.manual_seed(0)
    model = DiT(DiTConfig.paper("DiT-S/8", depth=2, num_classes=10))
    out = model(torch.randn(2, 4, 32, 32), torch.tensor([1, 999]), torch.tensor([3, 10]))
    assert out.shape == (2, 8, 32, 32) and out.abs().max() == 0  # adaLN-Zero: the untrained model predicts 0
    assert all(float(m.bias.detach().abs().max()) == 0 for m in model.modules() if isinstance(m, torch.nn.Linear))
    assert 0.015 < float(model.y_embedder.embedding_table.weight.detach().std()) < 0.025


def test_paper_config_errors():
    with pytest.raises(ValueError, match="DiT-XL/2"):
        DiTConfig.paper("DiT-XXL/2")
    with pytest.raises(ValueError, match="patch sizes"):
        DiTConfig.paper("DiT-S/16")
    with pytest.raises(ValueError, match="unknown DiTConfig fields"):
        DiTConfig.paper("DiT-S/2", width=3)
    with pytest.raises(ValueError, match="initialization"):
        DiTConfig(initialization="xavier")
    with pytest.raises(TypeError, match="learn_sigma"):
        DiTConfig(learn_sigma="yes")


def _to_diffusers(state: dict, depth: int) -> dict:
    """The official DiT's names → diffusers' (each diffusers block keeps its own copy of the step
    and label embedders; its final modulation is proj_out_1, its output layer proj_out_2)."""
    out = {"pos_embed.proj.weight": state["x_embedder.proj.weight"], "pos_embed.proj.bias": state["x_embedder.proj.bias"],
           "proj_out_1.weight": state["final_layer.adaLN_modulation.1.weight"],
           "proj_out_1.bias": state["final_layer.adaLN_modulation.1.bias"],
           "proj_out_2.weight": state["final_layer.linear.weight"], "proj_out_2.bias": state["final_layer.linear.bias"]}
    for i in range(depth):
        b = f"transformer_blocks.{i}"
        emb = f"{b}.norm1.emb"
        for j, k in ((1, 0), (2, 2)):
            out[f"{emb}.timestep_embedder.linear_{j}.weight"] = state[f"t_embedder.mlp.{k}.weight"]
            out[f"{emb}.timestep_embedder.linear_{j}.bias"] = state[f"t_embedder.mlp.{k}.bias"]
        out[f"{emb}.class_embedder.embedding_table.weight"] = state["y_embedder.embedding_table.weight"]
        out[f"{b}.norm1.linear.weight"] = state[f"blocks.{i}.adaLN_modulation.1.weight"]
        out[f"{b}.norm1.linear.bias"] = state[f"blocks.{i}.adaLN_modulation.1.bias"]
        for kind in ("weight", "bias"):
            q, k, v = state[f"blocks.{i}.attn.qkv.{kind}"].chunk(3)
            out |= {f"{b}.attn1.to_q.{kind}": q, f"{b}.attn1.to_k.{kind}": k, f"{b}.attn1.to_v.{kind}": v,
                    f"{b}.attn1.to_out.0.{kind}": state[f"blocks.{i}.attn.proj.{kind}"],
                    f"{b}.ff.net.0.proj.{kind}": state[f"blocks.{i}.mlp.fc1.{kind}"],
                    f"{b}.ff.net.2.{kind}": state[f"blocks.{i}.mlp.fc2.{kind}"]}
    return out


def test_forward_equals_diffusers_dit():
    diffusers = pytest.importorskip("diffusers")
    torch.manual_seed(0)
    config = DiTConfig.paper("DiT-S/2", image_size=8, hidden=64, depth=2, num_heads=4, num_classes=10)
    ours = DiT(config).eval()
    with torch.no_grad():
        for p in ours.parameters():  # random everywhere: the zero-initialised layers would hide mistakes
            p.normal_(0, 0.1)
    theirs = diffusers.DiTTransformer2DModel(num_attention_heads=4, attention_head_dim=16, in_channels=4, out_channels=8,
                                             num_layers=2, sample_size=8, patch_size=2, num_embeds_ada_norm=10,
                                             norm_eps=1e-6).eval()
    theirs.load_state_dict(_to_diffusers(ours.state_dict(), 2), strict=True)
    x, t, y = torch.randn(3, 4, 8, 8), torch.tensor([0, 371, 999]), torch.tensor([2, 7, 10])
    with torch.no_grad():
        expected = ours(x, t, y)
        ported = theirs(x, timestep=t, class_labels=y).sample
        # diffusers' port spaces the step frequencies by half − 1, the official code by half:
        # with the official spacing the two agree
        assert (ported - expected).abs().max() > 1e-3
        for block in theirs.transformer_blocks:
            block.norm1.emb.time_proj.downscale_freq_shift = 0
        ported = theirs(x, timestep=t, class_labels=y).sample
    torch.testing.assert_close(ported, expected, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(torch.as_tensor(theirs.pos_embed.pos_embed), ours.pos_embed)  # the same 2-D code


def test_timestep_embedding_is_cosine_then_sine():
    e = timestep_embedding(torch.tensor([0, 5]), 8)
    assert torch.equal(e[0], torch.tensor([1.0, 1, 1, 1, 0, 0, 0, 0]))
    torch.testing.assert_close(e[1, 0], torch.cos(torch.tensor(5.0)))
    assert timestep_embedding(torch.tensor([3]), 7).shape == (1, 7)
