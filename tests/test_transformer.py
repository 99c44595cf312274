"""Chapter 05: the NumPy Transformer equals the PyTorch one, and attention equals nn.MultiheadAttention."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnanatomy import models, scratch

ATOL = 1e-10


def _model(seed=0, **kw):
    torch.manual_seed(seed)
    cfg = models.TransformerConfig(src_vocab_size=13, tgt_vocab_size=11, d_model=16, num_heads=4, d_ff=32,
                                   num_encoder_layers=2, num_decoder_layers=2, max_len=20, dropout=0.0, **kw)
    return models.Transformer(cfg).double().eval()


def _np_state(model):
    return {k: v.detach().numpy() for k, v in model.state_dict().items()}


def test_positional_encoding_and_layer_norm(rng):
    pe = scratch.sinusoidal_positional_encoding(50, 16)
    np.testing.assert_allclose(pe, models.transformer.sinusoidal_positional_encoding(50, 16).numpy(), atol=1e-15)
    assert pe[3, 0] == pytest.approx(np.sin(3.0)) and pe[3, 1] == pytest.approx(np.cos(3.0))
    assert pe[7, 2] == pytest.approx(np.sin(7 / 10000 ** (2 / 16)))
    x = rng.normal(size=(2, 5, 8))
    w, b = rng.normal(size=8), rng.normal(size=8)
    ref = torch.nn.functional.layer_norm(torch.tensor(x), (8,), torch.tensor(w), torch.tensor(b))
    np.testing.assert_allclose(scratch.layer_norm(x, w, b), ref.numpy(), atol=ATOL)


def test_softmax_is_stable_and_masks_give_zero(rng):
    x = np.array([[1000.0, 1001.0, -np.inf]])
    s = scratch.softmax(x)
    np.testing.assert_allclose(s, [[1 / (1 + np.e), np.e / (1 + np.e), 0.0]])
    assert scratch.causal_mask(3).tolist() == [[False, True, True], [False, False, True], [False, False, False]]


@pytest.mark.parametrize("masked", [False, True])
def test_attention_equals_nn_multiheadattention(masked, rng):
    d, heads = 12, 3
    torch.manual_seed(0)
    ref = torch.nn.MultiheadAttention(d, heads, batch_first=True).double()
    ours = models.transformer.MultiHeadAttention(d, heads).double()
    w_q, w_k, w_v = ref.in_proj_weight.detach().split(d)
    b_q, b_k, b_v = ref.in_proj_bias.detach().split(d)
    with torch.no_grad():
        for lin, w, b in ((ours.q_proj, w_q, b_q), (ours.k_proj, w_k, b_k), (ours.v_proj, w_v, b_v)):
            lin.weight.copy_(w)
            lin.bias.copy_(b)
        ours.out_proj.load_state_dict(ref.out_proj.state_dict())
    q, kv = torch.tensor(rng.normal(size=(2, 5, d))), torch.tensor(rng.normal(size=(2, 7, d)))
    attn_mask = torch.zeros(5, 7, dtype=torch.bool)
    pad = torch.zeros(2, 7, dtype=torch.bool)
    if masked:
        attn_mask = torch.tensor(rng.random((5, 7)) < 0.3)
        attn_mask[:, 0] = False  # never block a whole row
        pad[1, 5:] = True
    out_ref, w_ref = ref(q, kv, kv, attn_mask=attn_mask, key_padding_mask=pad, average_attn_weights=False)
    out, w = ours(q, kv, attn_mask=attn_mask, key_padding_mask=pad)
    torch.testing.assert_close(out, out_ref, rtol=0, atol=ATOL)
    torch.testing.assert_close(w, w_ref, rtol=0, atol=ATOL)
    # and the NumPy version, reading the same weights
    state = {f"a.{k}": v.detach().numpy() for k, v in ours.state_dict().items()}
    mask = attn_mask.numpy()[None, None] | pad.numpy()[:, None, None, :]
    out_np, w_np = scratch.multi_head_attention(q.numpy(), kv.numpy(), state, "a", heads, mask)
    np.testing.assert_allclose(out_np, out_ref.detach().numpy(), atol=ATOL)
    np.testing.assert_allclose(w_np, w_ref.detach().numpy(), atol=ATOL)


def test_full_encoder_decoder_equals_numpy(rng):
    model = _model()
    src = torch.tensor([[5, 6, 7, 8, 2, 0], [3, 4, 9, 2, 0, 0]])  # right-padded with pad_id 0
    tgt = torch.tensor([[1, 5, 6, 7, 8], [1, 4, 3, 0, 0]])
    logits = model(src, tgt)
    _, cross_ref = model.decode(tgt, *model.encode(src))
    logits_np, cross_np = scratch.transformer_forward(_np_state(model), src.numpy(), tgt.numpy(), num_heads=4,
                                                      num_encoder_layers=2, num_decoder_layers=2)
    np.testing.assert_allclose(logits_np, logits.detach().numpy(), atol=ATOL)
    for a, b in zip(cross_np, cross_ref):
        np.testing.assert_allclose(a, b.detach().numpy(), atol=ATOL)
    # cross-attention never looks at source padding
    assert np.all(cross_np[0][1, :, :, 4:] == 0)


def test_causality_and_padding_invariance():
    model = _model(seed=1)
    src = torch.tensor([[5, 6, 7, 2]])
    tgt = torch.tensor([[1, 5, 6, 7, 8]])
    logits = model(src, tgt)
    changed = tgt.clone()
    changed[0, 4] = 9  # a later target token cannot change earlier predictions
    torch.testing.assert_close(model(src, changed)[:, :4], logits[:, :4])
    padded = torch.tensor([[5, 6, 7, 2, 0, 0]])  # extra source padding changes nothing
    torch.testing.assert_close(model(padded, tgt), logits, rtol=0, atol=1e-12)


def test_greedy_decode_stops_and_validates():
    model = _model()
    ids, cross = model.greedy_decode(torch.tensor([[5, 6, 2]]), bos_id=1, eos_id=2, max_len=6)
    assert ids.shape[0] == 1 and ids[0, 0] == 1 and ids.shape[1] <= 6
    assert len(cross) == 2 and cross[0].shape[-1] == 3
    with pytest.raises(ValueError, match="max_len"):
        model(torch.zeros(1, 30, dtype=torch.long), torch.zeros(1, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="token ids"):
        model(torch.tensor([[99]]), torch.tensor([[1]]))
    with pytest.raises(ValueError, match="divisible"):
        models.TransformerConfig(src_vocab_size=5, tgt_vocab_size=5, d_model=10, num_heads=3)
    with pytest.raises(TypeError, match="long"):
        model(torch.zeros(1, 3), torch.zeros(1, 3))


def test_a_few_steps_reduce_the_loss():
    model = _model().float().train()
    src = torch.randint(3, 13, (16, 6))
    tgt = torch.cat([torch.ones(16, 1, dtype=torch.long), src[:, :5].clamp(max=10)], dim=1)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        logits = model(src, tgt[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 11), tgt[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def _load_torch_layer(ours, ref, decoder):
    """Copy a reference nn.Transformer{En,De}coderLayer's weights into the book's layer."""
    blocks = [("self_attn", ref.self_attn)] + ([("cross_attn", ref.multihead_attn)] if decoder else [])
    with torch.no_grad():
        for name, mha in blocks:
            mine = getattr(ours, name)
            for proj, w, b in zip((mine.q_proj, mine.k_proj, mine.v_proj), mha.in_proj_weight.split(mine.d_model),
                                  mha.in_proj_bias.split(mine.d_model)):
                proj.weight.copy_(w)
                proj.bias.copy_(b)
            mine.out_proj.load_state_dict(mha.out_proj.state_dict())
        ours.ff.linear1.load_state_dict(ref.linear1.state_dict())
        ours.ff.linear2.load_state_dict(ref.linear2.state_dict())
        for k in (1, 2, 3) if decoder else (1, 2):
            getattr(ours, f"norm{k}").load_state_dict(getattr(ref, f"norm{k}").state_dict())


@pytest.mark.parametrize("norm_first", [False, True])
def test_layers_equal_torch_transformer_layers(norm_first, rng):
    """Post-LN and pre-LN encoder and decoder layers equal PyTorch's with the same weights."""
    torch.manual_seed(1)
    cfg = models.TransformerConfig(5, 5, d_model=16, num_heads=4, d_ff=32, dropout=0.0, norm_first=norm_first)
    kw = dict(d_model=16, nhead=4, dim_feedforward=32, dropout=0.0, batch_first=True, norm_first=norm_first)
    enc_ref = torch.nn.TransformerEncoderLayer(**kw).double().eval()
    dec_ref = torch.nn.TransformerDecoderLayer(**kw).double().eval()
    enc, dec = models.transformer.EncoderLayer(cfg).double().eval(), models.transformer.DecoderLayer(cfg).double().eval()
    _load_torch_layer(enc, enc_ref, decoder=False)
    _load_torch_layer(dec, dec_ref, decoder=True)
    x, y = torch.tensor(rng.normal(size=(2, 6, 16))), torch.tensor(rng.normal(size=(2, 4, 16)))
    pad = torch.tensor([[False] * 6, [False] * 4 + [True] * 2])
    mask = models.transformer.causal_mask(4)
    torch.testing.assert_close(enc(x, pad), enc_ref(x, src_key_padding_mask=pad), atol=1e-12, rtol=0)
    memory = enc(x, pad)
    out, _ = dec(y, memory, mask, None, pad)
    ref = dec_ref(y, memory, tgt_mask=mask, memory_key_padding_mask=pad)
    torch.testing.assert_close(out, ref, atol=1e-12, rtol=0)


def test_ablations_change_what_they_say():
    torch.manual_seed(0)
    src, tgt = torch.tensor([[5, 6, 7, 2]]), torch.tensor([[1, 5, 6]])
    base = _model()
    no_pe = _model(positional=False)
    no_pe.load_state_dict(base.state_dict())
    # without positions the encoder sees a set: permuting the source words permutes its output
    perm = torch.tensor([2, 0, 3, 1])
    memory, _ = no_pe.encode(src)
    memory_perm, _ = no_pe.encode(src[:, perm])
    torch.testing.assert_close(memory_perm, memory[:, perm])
    assert not torch.allclose(base.encode(src[:, perm])[0], base.encode(src)[0][:, perm])
    pre = _model(norm_first=True)
    assert "encoder_norm.weight" in pre.state_dict() and "encoder_norm.weight" not in base.state_dict()
    assert torch.isfinite(pre(src, tgt)).all()
    with pytest.raises(TypeError, match="norm_first"):
        models.TransformerConfig(5, 5, norm_first="yes")


@pytest.mark.parametrize("masked", [False, True])
def test_attention_backward_equals_autograd(masked, rng):
    q, k, v = rng.normal(size=(2, 3, 5, 8)), rng.normal(size=(2, 3, 6, 8)), rng.normal(size=(2, 3, 6, 4))
    grad_out = rng.normal(size=(2, 3, 5, 4))
    mask = None
    if masked:
        mask = np.zeros((2, 1, 5, 6), dtype=bool)
        mask[0, :, :, 4:] = True  # padding of the first sequence
        mask[1] = np.triu(np.ones((5, 6), dtype=bool), k=1)  # causal
    grads = scratch.scaled_dot_product_attention_backward(grad_out, q, k, v, mask)
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    scores = tq @ tk.transpose(-1, -2) / np.sqrt(8)
    if masked:
        scores = scores.masked_fill(torch.tensor(mask), float("-inf"))
    (torch.softmax(scores, -1) @ tv).backward(torch.tensor(grad_out))
    for ours, ref in zip(grads, (tq.grad, tk.grad, tv.grad)):
        np.testing.assert_allclose(ours, ref.numpy(), atol=1e-12)
    if masked:  # a padded key gets no gradient
        assert np.abs(grads[1][0, :, 4:]).max() == 0.0 and np.abs(grads[2][0, :, 4:]).max() == 0.0
    with pytest.raises(ValueError, match="grad_out"):
        scratch.scaled_dot_product_attention_backward(grad_out[..., :3], q, k, v)


def _sequence_logp(model, src, seq):
    """log P(seq[1:] | src) under teacher forcing, up to and including EOS (id 2)."""
    with torch.no_grad():
        logits = model(src, torch.tensor([seq[:-1]]))
    logp = torch.log_softmax(logits[0], -1)
    total = 0.0
    for t, word in enumerate(seq[1:]):
        total += float(logp[t, word])
        if word == 2:
            break
    return total


def test_beam_search_is_greedy_at_one_and_exhaustive_when_wide():
    import itertools

    model = _model(seed=4)
    src = torch.tensor([[5, 6, 7, 2], [8, 3, 2, 0]])
    greedy, _ = model.greedy_decode(src, 1, 2, max_len=6)
    beam1 = model.beam_search(src, 1, 2, beam_size=1, max_len=6)
    assert beam1[:, : greedy.shape[1]].tolist() == greedy.tolist()
    # two words after BOS, 11 words: 121 sequences; a beam of 121 keeps them all and finds the best
    for row in range(2):
        s = src[row:row + 1]
        best = model.beam_search(s, 1, 2, beam_size=121, max_len=3)[0].tolist()
        candidates = [[1, a] if a == 2 else [1, a, b] for a, b in itertools.product(range(11), repeat=2)]
        brute = max(_sequence_logp(model, s, c) for c in candidates)
        assert _sequence_logp(model, s, best[: 2 if best[1] == 2 else 3]) == pytest.approx(brute, abs=1e-9)
    # a wider beam never returns a less probable sequence than greedy here
    for row in range(2):
        s = src[row:row + 1]
        g = model.greedy_decode(s, 1, 2, max_len=6)[0][0].tolist()
        b4 = model.beam_search(s, 1, 2, beam_size=4, max_len=6)[0].tolist()
        trim = lambda seq: seq[: seq.index(2) + 1] if 2 in seq else seq  # noqa: E731
        assert _sequence_logp(model, s, trim(b4)) >= _sequence_logp(model, s, trim(g)) - 1e-9
    with pytest.raises(ValueError, match="beam_size"):
        model.beam_search(src, 1, 2, beam_size=0)
