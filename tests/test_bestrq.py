"""Chapter 08: BEST-RQ's frozen random-projection quantizer and its masking."""

import pytest
import torch
import torch.nn.functional as F

from nnanatomy.models.bestrq import RandomProjectionQuantizer, mask_with_noise, span_mask


def test_quantizer_is_frozen_deterministic_and_nearest():
    q = RandomProjectionQuantizer(input_dim=20, stack=4, codebook_size=64, code_dim=8, seed=3)
    assert not list(q.parameters())  # nothing to train
    assert torch.allclose(q.codebook.norm(dim=-1), torch.ones(64))
    assert torch.equal(q.projection, RandomProjectionQuantizer(20, 4, 64, 8, seed=3).projection)
    x = torch.randn(2, 11, 20)
    labels = q(x)
    assert labels.shape == (2, 2) and labels.dtype == torch.long  # 11 frames → 2 stacks of 4
    # brute force: the smallest Euclidean distance between the normalised projection and each code
    z = F.normalize(x[:, :8].reshape(2, 2, 80) @ q.projection, dim=-1)
    distances = ((z[..., None, :] - q.codebook) ** 2).sum(-1)
    assert torch.equal(labels, distances.argmin(-1))
    # scale-free: the label of a frame stack does not depend on its loudness
    assert torch.equal(q(3.0 * x), labels)
    with pytest.raises(ValueError, match="features"):
        q(torch.randn(2, 11, 19))
    with pytest.raises(ValueError, match="at least"):
        q(torch.randn(2, 3, 20))
    with pytest.raises(ValueError, match="codebook_size"):
        RandomProjectionQuantizer(20, codebook_size=0)


def test_span_mask_and_noise():
    gen = torch.Generator().manual_seed(0)
    mask = span_mask(4, 200, start_prob=0.05, span=10, generator=gen)
    assert mask.shape == (4, 200) and mask.dtype == torch.bool
    only = span_mask(1, 30, start_prob=0.0, span=5)
    assert not only.any()
    assert span_mask(1, 30, 1.0, 5).all()  # every frame starts a span
    # a span never reaches back: with a start probability just below 1, the frames masked are
    # exactly those within span − 1 frames after some start
    gen = torch.Generator().manual_seed(5)
    starts = torch.rand(2, 40, generator=gen) < 0.1
    small = span_mask(2, 40, 0.1, 3, generator=torch.Generator().manual_seed(5))
    expected = starts.clone()
    expected[:, 1:] |= starts[:, :-1]
    expected[:, 2:] |= starts[:, :-2]
    assert torch.equal(small, expected)
    features = torch.randn(4, 200, 16)
    masked = mask_with_noise(features, mask, std=0.1, generator=torch.Generator().manual_seed(1))
    assert torch.equal(masked[~mask], features[~mask])
    assert abs(float(masked[mask].std()) - 0.1) < 0.01
    with pytest.raises(ValueError, match="mask"):
        mask_with_noise(features, mask[:, :10])
    with pytest.raises(ValueError, match="start_prob"):
        span_mask(1, 10, 1.5, 2)


def _tiny_bestrq(**kw):
    from nnanatomy.models.bestrq import BestRQ
    from nnanatomy.models.conformer import ConformerConfig

    return BestRQ(ConformerConfig(input_dim=16, d_model=32, num_heads=4, num_layers=2, kernel_size=5, dropout=0.0),
                  codebook_size=32, code_dim=8, **kw)


def test_bestrq_loss_scores_masked_frames_only():
    torch.manual_seed(0)
    model = _tiny_bestrq(mask_prob=0.1, mask_span=4)
    x, lengths = torch.randn(3, 40, 16), torch.tensor([40, 33, 20])
    loss, info = model.loss(x, lengths, generator=torch.Generator().manual_seed(2))
    logits, targets, selected, mask = info["logits"], info["targets"], info["selected"], info["mask"]
    assert logits.shape == (3, 10, 32) and targets.shape == (3, 10)  # logits for every encoder frame
    assert torch.equal(targets, model.quantizer(x))  # the labels come from the clean features
    assert not mask[1, 33:].any() and not mask[2, 20:].any()  # padding is never masked
    assert not selected[2, 5:].any()  # labels need four real frames
    assert torch.equal(selected, mask[:, :40].reshape(3, 10, 4).any(-1) & (torch.arange(10)[None] < (lengths // 4)[:, None]))
    expected = F.cross_entropy(logits[selected], targets[selected])
    assert torch.allclose(loss, expected)
    # changing an unmasked frame's target changes nothing in the loss: only masked frames count
    loss.backward()
    head_grad = model.head.weight.grad.clone()
    assert head_grad.abs().sum() > 0
    with pytest.raises(ValueError, match="mask_prob"):
        _tiny_bestrq(mask_prob=0.0)
    with pytest.raises(TypeError, match="ConformerConfig"):
        from nnanatomy.models.bestrq import BestRQ
        BestRQ(encoder_config={"d_model": 8})


def test_bestrq_masked_input_is_noise_and_quantizer_untouched_by_training():
    torch.manual_seed(1)
    model = _tiny_bestrq()
    before = (model.quantizer.projection.clone(), model.quantizer.codebook.clone())
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(2, 48, 16)
    for _ in range(2):
        loss, _ = model.loss(x)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert torch.equal(model.quantizer.projection, before[0]) and torch.equal(model.quantizer.codebook, before[1])
    assert all(name.startswith(("encoder.", "head.")) for name, _ in model.named_parameters())


def test_bestrq_loss_with_given_targets():
    torch.manual_seed(0)
    model = _tiny_bestrq(mask_prob=0.2, mask_span=4)
    x, lengths = torch.randn(3, 42, 16), torch.tensor([42, 33, 20])
    codes = model.quantizer(x)  # (3, 10): what BEST-RQ predicts by itself
    own, _ = model.loss(x, lengths, generator=torch.Generator().manual_seed(2))
    given, info = model.loss(x, lengths, generator=torch.Generator().manual_seed(2),
                             targets=torch.cat([codes, torch.full((3, 1), -1)], dim=1))  # encoder-rate length, -1 past the end
    assert torch.allclose(own, given)  # the quantizer's codes, given: the same loss
    other = torch.randint(0, 32, (3, 11))
    other[0, :5] = -1  # frames without a label never count
    loss, info = model.loss(x, lengths, generator=torch.Generator().manual_seed(2), targets=other)
    selected = info["selected"]
    assert not selected[0, :5].any() and selected.shape == (3, 10)
    assert torch.allclose(loss, F.cross_entropy(info["logits"][:, :10][selected], other[:, :10][selected]))
    with pytest.raises(ValueError, match="codebook_size"):
        model.loss(x, lengths, targets=torch.full((3, 11), 32))
    with pytest.raises(ValueError, match="integer labels"):
        model.loss(x, lengths, targets=torch.zeros(3, 11))
