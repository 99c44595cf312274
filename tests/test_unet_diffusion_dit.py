"""Chapters 09–11: the U-Net, the diffusion maths and samplers, the DiT."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from nnanatomy import data, models
from nnanatomy.models import diffusion
from nnanatomy.models.dit import DiT, DiTConfig, sincos_2d
from nnanatomy.models.unet import UNet, UNetConfig


def test_unet_follows_the_source_layout_and_forward():
    torch.manual_seed(0)
    net = UNet(UNetConfig(in_channels=1, out_channels=4, base_channels=8, depth=4)).eval()
    x = torch.randn(2, 1, 32, 32)
    # the source's forward, line by line
    x1 = net.inc(x)
    x2 = net.down1(x1)
    x3 = net.down2(x2)
    x4 = net.down3(x3)
    x5 = net.down4(x4)
    h = net.up1(x5, x4)
    h = net.up2(h, x3)
    h = net.up3(h, x2)
    h = net.up4(h, x1)
    torch.testing.assert_close(net.outc(h), net(x))
    assert [t.shape[1] for t in (x1, x2, x3, x4, x5)] == [8, 16, 32, 64, 64]  # bottleneck halved for bilinear
    assert net(x).shape == (2, 4, 32, 32)


@pytest.mark.parametrize("bilinear", [True, False])
def test_unet_channel_arithmetic_matches_the_reference_sizes(bilinear):
    net = UNet(UNetConfig(in_channels=3, out_channels=2, base_channels=64, depth=4, bilinear=bilinear))
    assert net.down4.conv.conv2.out_channels == (512 if bilinear else 1024)
    assert net.up1.conv.conv2.out_channels == (256 if bilinear else 512)
    assert net.up4.conv.conv2.out_channels == 64
    # the milesial Pytorch-UNet (bilinear) has 17,263,042 parameters for 3 → 2 classes
    if bilinear:
        assert net.num_parameters() == 17_263_042


def test_unet_odd_sizes_pad_and_no_skip_ablation():
    up = models.unet.Up(8, 4, 4)
    assert up(torch.randn(1, 8, 3, 3), torch.randn(1, 4, 7, 7)).shape == (1, 4, 7, 7)
    plain = UNet(UNetConfig(in_channels=1, out_channels=3, base_channels=8, depth=2, skips=False))
    assert plain(torch.randn(1, 1, 16, 16)).shape == (1, 3, 16, 16)
    with_skips = UNet(UNetConfig(in_channels=1, out_channels=3, base_channels=8, depth=2))
    assert plain.num_parameters() < with_skips.num_parameters()


def test_unet_conditioning_and_errors():
    net = UNet(UNetConfig(in_channels=1, out_channels=1, base_channels=8, depth=2, norm="group", time_dim=16,
                          context_dim=8, vocab_size=len(data.CAPTION_WORDS)))
    ids, mask = data.digit_captions(np.array([3, 7]))
    out = net(torch.randn(2, 1, 8, 8), torch.tensor([0, 999]), torch.tensor(ids), torch.tensor(mask))
    assert out.shape == (2, 1, 8, 8)
    assert net.attn_down.last_weights.shape[-1] == 3
    with pytest.raises(ValueError, match="pass t"):
        net(torch.randn(2, 1, 8, 8))
    with pytest.raises(ValueError, match="divisible"):
        UNet()(torch.randn(1, 1, 20, 20))
    with pytest.raises(ValueError, match="norm"):
        UNetConfig(norm="layer")


def test_schedule_matches_the_closed_forms():
    s = diffusion.NoiseSchedule.linear(1000)
    assert s.betas[0] == pytest.approx(1e-4) and s.betas[-1] == pytest.approx(0.02)
    assert float(s.alpha_bars[-1]) == pytest.approx(math.prod(1 - b for b in s.betas.tolist()), rel=1e-9)
    # composing the single steps gives the closed form: mean and variance of x_t given x_0
    x0 = torch.full((200000,), 0.7, dtype=torch.float64)
    x = x0.clone()
    gen = torch.Generator().manual_seed(0)
    for t in range(50):
        beta = float(s.betas[t])
        x = (1 - beta) ** 0.5 * x + beta**0.5 * torch.randn(x.shape, generator=gen, dtype=torch.float64)
    ab = float(s.alpha_bars[49])
    assert x.mean().item() == pytest.approx(ab**0.5 * 0.7, abs=3e-3)
    assert x.var().item() == pytest.approx(1 - ab, rel=2e-2)
    noise = torch.randn(3, 1, 8, 8, dtype=torch.float64)
    xt = s.q_sample(torch.zeros(3, 1, 8, 8, dtype=torch.float64), torch.tensor([0, 10, 999]), noise)
    torch.testing.assert_close(xt[2], (1 - s.alpha_bars[999]).sqrt() * noise[2])


def test_reverse_step_is_the_source_formula_and_inverts_a_known_noise():
    s = diffusion.NoiseSchedule.linear(100)
    x0 = torch.randn(4, 1, 8, 8, dtype=torch.float64)
    noise = torch.randn_like(x0)
    t = 40
    xt = s.q_sample(x0, torch.full((4,), t), noise)
    a, ab = float(s.alphas[t]), float(s.alpha_bars[t])
    expected = (xt - (1 - a) / math.sqrt(1 - ab) * noise) / math.sqrt(a)
    torch.testing.assert_close(diffusion.reverse_step(s, xt, t, noise, torch.zeros_like(xt)), expected)
    # a DDIM step from t to 0 with the true noise recovers x_0 exactly
    oracle = lambda x, tt: (x - ab**0.5 * x0) / (1 - ab) ** 0.5  # noqa: E731
    torch.testing.assert_close((xt - (1 - ab) ** 0.5 * oracle(xt, None)) / ab**0.5, x0)


def test_samplers_run_and_guidance_combines():
    s = diffusion.NoiseSchedule.linear(20)
    model = lambda x, t, **kw: torch.zeros_like(x) + kw.get("shift", 0.0)  # noqa: E731
    out, traj = diffusion.ddpm_sample(model, s, (3, 1, 8, 8), generator=torch.Generator().manual_seed(0), keep=(19, 5))
    assert out.shape == (3, 1, 8, 8) and set(traj) == {19, 5}
    ddim = diffusion.ddim_sample(model, s, (3, 1, 8, 8), 5, generator=torch.Generator().manual_seed(0))
    assert ddim.shape == (3, 1, 8, 8) and ddim.abs().max() <= 1.0
    eps = diffusion.guided_eps(model, torch.zeros(1, 1, 2, 2), torch.zeros(1), 2.0, {"shift": 1.0}, {"shift": 0.0})
    torch.testing.assert_close(eps, torch.full((1, 1, 2, 2), 3.0))  # ε_c + w(ε_c − ε_u) = 1 + 2·1
    with pytest.raises(ValueError, match="null_conditioning"):
        diffusion.guided_eps(model, torch.zeros(1, 1, 2, 2), torch.zeros(1), 1.0, {"shift": 1.0})
    with pytest.raises(ValueError, match="steps"):
        diffusion.ddim_sample(model, s, (1, 1, 2, 2), 0)


def test_diffusion_loss_decreases_for_a_tiny_unet():
    torch.manual_seed(0)
    s = diffusion.NoiseSchedule.linear(100)
    net = UNet(UNetConfig(in_channels=1, out_channels=1, base_channels=8, depth=1, norm="group", time_dim=16))
    x0 = torch.tensor(data.digits().x_train[:64]) * 2 - 1
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(60):
        loss = diffusion.diffusion_loss(net, x0, s)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-10:]) < 0.6 * np.mean(losses[:10])


def test_dit_is_zero_initialised_and_shaped():
    torch.manual_seed(0)
    dit = DiT(DiTConfig(image_size=8, patch=2, hidden=32, depth=2, num_heads=4))
    x = torch.randn(3, 1, 8, 8)
    out = dit(x, torch.tensor([1, 500, 999]), torch.tensor([0, 5, 10]))
    assert out.shape == x.shape and out.abs().max() == 0  # zero-initialised final layer
    for block in dit.blocks:
        assert block.adaLN_modulation[1].weight.abs().sum() == 0
        c = torch.randn(3, 32)
        tokens = torch.randn(3, 16, 32)
        torch.testing.assert_close(block(tokens, c), tokens)  # every block starts as the identity
    tokens = dit.x_embedder(x)
    assert tokens.shape == (3, 16, 32)
    patches = torch.randn(3, 16, 4)
    image = dit.unpatchify(patches)
    assert image.shape == (3, 1, 8, 8)
    torch.testing.assert_close(image[0, 0, :2, :2].reshape(-1), patches[0, 0])  # first patch top-left
    torch.testing.assert_close(image[0, 0, :2, 2:4].reshape(-1), patches[0, 1])  # next patch to its right
    assert sincos_2d(4, 32).shape == (16, 32)
    with pytest.raises(ValueError, match="labels"):
        dit(x, torch.tensor([1, 2, 3]), torch.tensor([0, 11, 1]))
    with pytest.raises(ValueError, match="divisible"):
        DiTConfig(image_size=9, patch=2)


def test_shapes_segmentation_data():
    images, labels = data.shapes_segmentation(20, size=32, seed=3)
    assert images.shape == (20, 1, 32, 32) and labels.shape == (20, 32, 32)
    assert set(np.unique(labels)) <= {0, 1, 2, 3} and (labels > 0).any(axis=(1, 2)).all()
    again, _ = data.shapes_segmentation(20, size=32, seed=3)
    np.testing.assert_array_equal(images, again)


def test_captions_and_pretrained_registry():
    ids, mask = data.digit_captions(np.arange(10), seed=1, null_fraction=0.0)
    words = [[data.CAPTION_WORDS[i] for i in row if i] for row in ids]
    assert all(data.NUMBER_WORDS[d] in w for d, w in enumerate(words))
    null_ids, _ = data.digit_captions(np.zeros(100, dtype=int), seed=0, null_fraction=0.5)
    assert 30 < (null_ids[:, 0] == 1).sum() < 70
    for name in models.pretrained.CHECKPOINTS:
        assert isinstance(models.pretrained.build(name), torch.nn.Module)
    with pytest.raises(ValueError, match="unknown"):
        models.pretrained.build("gan")


def test_dit_conditioning_variants():
    config = dict(image_size=8, patch=2, hidden=32, depth=2, num_heads=4)
    x, t, y = torch.randn(3, 1, 8, 8), torch.tensor([1, 500, 999]), torch.tensor([0, 5, 10])
    zero = DiT(DiTConfig(**config))
    torch.manual_seed(0)
    plain = DiT(DiTConfig(**config, conditioning="adaln"))
    assert plain.blocks[0].adaLN_modulation[1].weight.abs().sum() > 0 and plain(x, t, y).abs().max() > 0
    torch.testing.assert_close(plain.num_parameters(), zero.num_parameters())
    added = DiT(DiTConfig(**config, conditioning="add"))
    assert all(block.adaLN_modulation is None for block in added.blocks) and added.final_layer.adaLN_modulation is None
    d = 32
    modulation = 2 * (d * 6 * d + 6 * d) + (d * 2 * d + 2 * d)  # two blocks' Linear(D, 6D) and the final Linear(D, 2D)
    affine = 2 * 2 * 2 * d + 2 * d  # the plain LayerNorms' γ and β instead
    assert added.num_parameters() == zero.num_parameters() - modulation + affine
    # in "add", the label changes the output only through the tokens: two labels, two outputs
    torch.manual_seed(1)
    for p in added.parameters():
        torch.nn.init.normal_(p, std=0.1)
    out = added(x[:1].expand(2, -1, -1, -1), t[:2], torch.tensor([3, 4]))
    assert (out[0] - out[1]).abs().max() > 0
    with pytest.raises(ValueError, match="conditioning"):
        DiTConfig(conditioning="film")
    with pytest.raises(ValueError, match="t must be"):
        zero(x, torch.tensor([1, 2]), y)
    with pytest.raises(TypeError, match="integer"):
        zero(x, t, y.float())


def test_dit_in_context_and_cross_attention_as_the_paper_describes():
    """The paper's two other ways in (Peebles & Xie, 2023, section 3.2): t and y as two more tokens
    read by plain blocks, or as a length-two sequence each block cross-attends to."""
    config = dict(image_size=8, patch=2, hidden=32, depth=2, num_heads=4)
    x, t, y = torch.randn(3, 1, 8, 8), torch.tensor([1, 500, 999]), torch.tensor([0, 5, 10])
    torch.manual_seed(0)
    ctx = DiT(DiTConfig(**config, conditioning="in-context"))
    torch.manual_seed(0)
    added = DiT(DiTConfig(**config, conditioning="add"))
    assert ctx.num_parameters() == added.num_parameters()  # the same plain blocks; only where c goes differs
    assert all(b.adaLN_modulation is None and b.cross_attn is None for b in ctx.blocks) and ctx.final_layer.adaLN_modulation is None
    # by hand: the two condition tokens lead the sequence, pass through the blocks and are dropped
    with torch.no_grad():
        pair = torch.stack([ctx.t_embedder(t), ctx.y_embedder(y)], dim=1)
        tokens = torch.cat([pair, ctx.x_embedder(x) + ctx.pos_embed], dim=1)
        for block in ctx.blocks:
            tokens = tokens + block.attn(block.norm1(tokens))
            tokens = tokens + block.mlp(block.norm2(tokens))
        expected = ctx.unpatchify(ctx.final_layer.linear(ctx.final_layer.norm_final(tokens[:, 2:])))
        torch.testing.assert_close(ctx(x, t, y), expected)
    assert (ctx(x[:1].expand(2, -1, -1, -1), t[:1].expand(2), torch.tensor([3, 4])).diff(dim=0)).abs().max() > 0
    torch.manual_seed(0)
    cross = DiT(DiTConfig(**config, conditioning="cross-attention"))
    d = 32
    extra = 2 * (2 * d + (d * d + d) + (d * 2 * d + 2 * d) + (d * d + d))  # per block: norm_cross, q, kv, proj
    assert cross.num_parameters() == added.num_parameters() + extra
    block = cross.blocks[0]
    h = torch.randn(3, 16, d)
    with torch.no_grad():
        pair = torch.stack([cross.t_embedder(t), cross.y_embedder(y)], dim=1)
        # cross-attention by hand: each token's query against the two condition vectors' keys
        q = block.cross_attn.q(block.norm_cross(h + block.attn(block.norm1(h))))
        k, v = block.cross_attn.kv(pair).chunk(2, dim=-1)
        heads = lambda z: z.reshape(3, z.shape[1], 4, 8).transpose(1, 2)  # noqa: E731
        w = (heads(q) @ heads(k).transpose(-1, -2) / 8**0.5).softmax(-1)
        attended = block.cross_attn.proj((w @ heads(v)).transpose(1, 2).reshape(3, 16, d))
        mid = h + block.attn(block.norm1(h)) + attended
        torch.testing.assert_close(block(h, pair), mid + block.mlp(block.norm2(mid)))
    with pytest.raises(ValueError, match="context"):
        block(h, pair[:2])
    with pytest.raises(ValueError, match="tokens"):
        block.cross_attn(h, pair[:, :, :8])


def test_set_measures_of_the_judge():
    """The Fréchet distance equals the textbook formula with a matrix square root; precision and
    recall are 1 for a set against itself and 0 for sets far apart; embed reads the hidden layer."""
    from scipy.linalg import sqrtm

    from nnanatomy import judge
    from nnanatomy.models import CNNClassifier, CNNConfig

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(300, 6)), rng.normal(size=(200, 6)) @ rng.normal(size=(6, 6)) + 0.5
    ca, cb, mu = np.cov(a, rowvar=False), np.cov(b, rowvar=False), a.mean(0) - b.mean(0)
    assert judge.frechet_distance(a, b) == pytest.approx(mu @ mu + np.trace(ca + cb - 2 * sqrtm(ca @ cb).real), rel=1e-9)
    assert judge.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    assert judge.frechet_distance(a, b) == pytest.approx(judge.frechet_distance(b, a), rel=1e-9)
    singular = np.c_[a, np.zeros(300)]  # a dead ReLU unit: a singular covariance, no warning, no NaN
    assert np.isfinite(judge.frechet_distance(singular, np.c_[b, np.zeros(200)]))
    assert judge.precision_recall(a, a) == (1.0, 1.0)
    assert judge.precision_recall(a, a + 100.0) == (0.0, 0.0)
    precision, recall = judge.precision_recall(a, a[:, ::-1] * 0.2)  # a collapsed set: real-looking, little variety
    assert recall < precision
    model = CNNClassifier(CNNConfig()).eval()
    features = judge.embed(model, torch.zeros(5, 1, 8, 8))
    assert features.shape == (5, model.config.hidden) and (features >= 0).all()
    with pytest.raises(ValueError, match="same feature dimension"):
        judge.frechet_distance(a, b[:, :3])
    with pytest.raises(ValueError, match="at least 4 rows"):
        judge.precision_recall(a, b[:3])
    with pytest.raises(TypeError, match="CNNClassifier"):
        judge.embed(torch.nn.Linear(64, 10), torch.zeros(5, 1, 8, 8))


def test_forward_posterior_and_ddim_eta():
    """q(x_{t−1} | x_t, x_0) in closed form against a regression on sampled pairs; the reverse step's
    mean is the posterior mean with x_0 written through ε; DDIM at η = 1 adds the posterior's noise."""
    s = diffusion.NoiseSchedule.linear(1000)
    t, x0 = 300, 0.7
    g = torch.Generator().manual_seed(0)
    n = 400_000
    ab_prev = float(s.alpha_bars[t - 1])
    x_prev = ab_prev**0.5 * x0 + (1 - ab_prev) ** 0.5 * torch.randn(n, generator=g, dtype=torch.float64)
    x_t = float(s.alphas[t]) ** 0.5 * x_prev + float(s.betas[t]) ** 0.5 * torch.randn(n, generator=g, dtype=torch.float64)
    mean, var = diffusion.posterior(s, x_t, torch.full_like(x_t, x0), t)
    residual = x_prev - mean
    assert abs(float(residual.mean())) < 4 * var**0.5 / n**0.5  # unbiased
    assert float(residual.var()) == pytest.approx(var, rel=0.01)  # the right spread
    assert abs(float(torch.corrcoef(torch.stack([residual, x_t]))[0, 1])) < 0.01  # nothing left to explain from x_t
    xt, eps = torch.randn(5, generator=g, dtype=torch.float64), torch.randn(5, generator=g, dtype=torch.float64)
    x0_hat = (xt - (1 - float(s.alpha_bars[t])) ** 0.5 * eps) / float(s.alpha_bars[t]) ** 0.5
    torch.testing.assert_close(diffusion.posterior(s, xt, x0_hat, t)[0], diffusion.reverse_step(s, xt, t, eps, noise=torch.zeros(5, dtype=torch.float64)))
    for step in (1, 10, 500, 999):
        assert diffusion.ddim_sigma(s, step, step - 1) ** 2 == pytest.approx(diffusion.posterior(s, xt, xt, step)[1], rel=1e-9)
    assert diffusion.ddim_sigma(s, 500, 400, eta=0.0) == 0.0
    with pytest.raises(ValueError, match="earlier step"):
        diffusion.ddim_sigma(s, 10, 10)
    model = UNet(UNetConfig(in_channels=1, out_channels=1, base_channels=8, depth=1, time_dim=8)).eval()
    a = diffusion.ddim_sample(model, s, (2, 1, 8, 8), 5, generator=torch.Generator().manual_seed(0))
    b = diffusion.ddim_sample(model, s, (2, 1, 8, 8), 5, generator=torch.Generator().manual_seed(0), eta=0.0)
    c = diffusion.ddim_sample(model, s, (2, 1, 8, 8), 5, generator=torch.Generator().manual_seed(0), eta=1.0)
    assert torch.equal(a, b) and not torch.equal(a, c)
    with pytest.raises(ValueError, match="eta"):
        diffusion.ddim_sample(model, s, (2, 1, 8, 8), 5, eta=1.5)


def test_ddim_clipping_repairs():
    s = diffusion.NoiseSchedule.linear(1000)
    model = UNet(UNetConfig(in_channels=1, out_channels=1, base_channels=8, depth=1, time_dim=8)).eval()
    run = {name: diffusion.ddim_sample(model, s, (3, 1, 8, 8), 4, generator=torch.Generator().manual_seed(0), **kw)
           for name, kw in {"clip": {}, "bare": dict(clip=None), "rederive": dict(rederive_eps=True),
                            "dynamic": dict(dynamic_threshold=0.9)}.items()}
    assert run["clip"].abs().max() <= 1 and run["dynamic"].abs().max() <= 1 + 1e-6  # the last x̂_0 is the sample
    assert not torch.equal(run["clip"], run["rederive"]) and not torch.equal(run["clip"], run["dynamic"])
    with pytest.raises(TypeError, match="rederive_eps"):
        diffusion.ddim_sample(model, s, (1, 1, 8, 8), 2, rederive_eps=1)
    with pytest.raises(ValueError, match="dynamic_threshold"):
        diffusion.ddim_sample(model, s, (1, 1, 8, 8), 2, dynamic_threshold=1.0)
