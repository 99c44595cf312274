"""Chapters 06–07: the GPT, its KV cache and sampling, and the mixture-of-experts layer."""

from __future__ import annotations

import warnings
import numpy as np
import pytest
import torch

from nnanatomy import models


def _gpt(dtype=torch.float64, seed=0, **kw):
    torch.manual_seed(seed)
    cfg = models.GPTConfig(vocab_size=17, max_seq_len=12, d_model=16, num_heads=4, num_layers=2, **kw)
    return models.GPT(cfg).to(dtype).eval()


def test_shapes_parameters_and_causality():
    model = _gpt()
    ids = torch.randint(0, 17, (3, 10))
    logits, cache = model(ids)
    assert logits.shape == (3, 10, 17) and len(cache) == 2 and cache[0][0].shape == (3, 4, 10, 4)
    changed = ids.clone()
    changed[:, 7] = (changed[:, 7] + 1) % 17
    torch.testing.assert_close(model(changed)[0][:, :7], logits[:, :7])  # the future is invisible
    d, v, t = 16, 17, 12
    block = 4 * d + (d * 3 * d + 3 * d) + (d * d + d) + (d * 4 * d + 4 * d) + (4 * d * d + d)
    assert model.num_parameters() == v * d + t * d + 2 * block + 2 * d + d * v + v
    assert model.active_parameters() == model.num_parameters()


def test_attention_rows_are_causal_distributions():
    model = _gpt()
    for block in model.blocks:
        block.attn.keep_attention = True
    model(torch.randint(0, 17, (1, 6)))
    w = model.blocks[0].attn.attention[0]  # (H, T, T)
    torch.testing.assert_close(w.sum(-1), torch.ones(4, 6, dtype=w.dtype))
    assert torch.all(w.triu(diagonal=1) == 0)


def test_cache_gives_the_same_logits_as_the_full_pass():
    model = _gpt()
    ids = torch.randint(0, 17, (2, 9))
    full, _ = model(ids)
    step, cache = model(ids[:, :5])
    pieces = [step]
    for t in range(5, 9):
        out, cache = model(ids[:, t : t + 1], cache)
        pieces.append(out)
    torch.testing.assert_close(torch.cat(pieces, 1), full, rtol=0, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("mode", [dict(greedy=True), dict(temperature=0.8), dict(temperature=1.3, top_k=5)], ids=str)
def test_kv_cache_generates_exactly_the_uncached_tokens(dtype, mode):
    model = _gpt(dtype)
    prompt = torch.randint(0, 17, (2, 3))
    runs = []
    for use_cache in (True, False):
        gen = torch.Generator().manual_seed(7)
        runs.append(model.generate(prompt, 30, use_cache=use_cache, generator=gen, **mode))  # crosses max_seq_len
    assert runs[0].shape == (2, 33)
    torch.testing.assert_close(runs[0], runs[1], rtol=0, atol=0)


def test_top_k_and_temperature_restrict_sampling():
    model = _gpt()
    prompt = torch.zeros(1, 1, dtype=torch.long)
    logits, _ = model(prompt)
    top1 = int(logits[0, -1].argmax())
    gen = torch.Generator().manual_seed(0)
    out = model.generate(prompt.repeat(200, 1), 1, top_k=1, generator=gen)
    assert torch.all(out[:, -1] == top1)
    cold = model.generate(prompt.repeat(200, 1), 1, temperature=1e-3, generator=torch.Generator().manual_seed(0))
    assert torch.all(cold[:, -1] == top1)


def test_gpt_bad_inputs():
    model = _gpt()
    with pytest.raises(ValueError, match="max_seq_len"):
        model(torch.zeros(1, 13, dtype=torch.long))
    with pytest.raises(ValueError, match="temperature"):
        model.generate(torch.zeros(1, 1, dtype=torch.long), 2, temperature=0.0)
    with pytest.raises(ValueError, match="top_k"):
        model.generate(torch.zeros(1, 1, dtype=torch.long), 2, top_k=0)
    with pytest.raises(ValueError, match="ffn"):
        models.GPTConfig(vocab_size=5, ffn="sparse")
    with pytest.raises(ValueError, match="divisible"):
        models.GPTConfig(vocab_size=5, d_model=10, num_heads=4)


def test_router_weights_and_balancing_loss():
    torch.manual_seed(0)
    router = models.TopKRouter(8, num_experts=4, top_k=2)
    w, idx, probs = router(torch.randn(50, 8))
    torch.testing.assert_close(w.sum(-1), torch.ones(50))
    assert idx.shape == (50, 2) and torch.all(idx[:, 0] != idx[:, 1])
    # perfectly balanced routing gives 1; everything on one expert gives N
    uniform = torch.full((40, 4), 0.25)
    balanced_ids = torch.arange(80).reshape(40, 2) % 4
    assert models.load_balancing_loss(uniform, balanced_ids, 4).item() == pytest.approx(1.0)
    collapsed = torch.zeros(40, 4)
    collapsed[:, 0] = 1.0
    assert models.load_balancing_loss(collapsed, torch.zeros(40, 1, dtype=torch.long), 4).item() == pytest.approx(4.0)


def test_one_expert_moe_is_the_dense_mlp():
    torch.manual_seed(0)
    moe = models.MoEFeedForward(8, 16, num_experts=1, top_k=1)
    x = torch.randn(3, 5, 8)
    torch.testing.assert_close(moe(x), moe.experts[0](x))


def test_moe_routes_only_to_selected_experts_and_capacity_drops():
    torch.manual_seed(0)
    moe = models.MoEFeedForward(8, 16, num_experts=4, top_k=2)
    x = torch.randn(64, 8)
    y = moe(x)
    w, idx, _ = moe.router(x)
    manual = torch.stack([sum(w[n, s] * moe.experts[int(idx[n, s])](x[n]) for s in range(2)) for n in range(64)])
    torch.testing.assert_close(y, manual, rtol=1e-5, atol=1e-6)
    assert moe.last_stats["load"].sum().item() == pytest.approx(1.0) and moe.last_stats["dropped"] == 0
    tight = models.MoEFeedForward(8, 16, num_experts=4, top_k=2, capacity_factor=0.5)
    tight.load_state_dict(moe.state_dict())
    tight(x)
    assert tight.last_stats["dropped"] > 0
    assert moe.active_parameters() == 4 * 8 + 2 * (8 * 16 + 16 + 16 * 8 + 8)


def test_moe_capacity_keeps_each_experts_first_assignments_in_token_order():
    torch.manual_seed(1)
    moe = models.MoEFeedForward(8, 16, num_experts=5, top_k=2, capacity_factor=0.6)
    x = torch.randn(40, 8)
    y = moe(x)
    w, idx, _ = moe.router(x)
    capacity = -(-0.6 * 2 * 40 // 5)  # ceil
    expected, seen, kept = torch.zeros_like(x), [0] * 5, 0
    for n in range(40):  # first come, first served: token order, then slot order
        for s in range(2):
            e = int(idx[n, s])
            if seen[e] < capacity:
                expected[n] += w[n, s] * moe.experts[e](x[n])
                kept += 1
            seen[e] += 1
    torch.testing.assert_close(y, expected, rtol=1e-5, atol=1e-6)
    assert moe.last_stats["dropped"].item() == pytest.approx(1 - kept / 80)
    assert kept < 80  # the capacity did bind


def test_moe_gpt_equal_active_compute_and_aux_loss():
    dense = _gpt(torch.float32)
    moe = _gpt(torch.float32, ffn="moe", num_experts=4, top_k=2)
    assert moe.config.expert_hidden == 4 * 16 // 2
    assert moe.num_parameters() > dense.num_parameters()
    assert abs(moe.active_parameters() - dense.num_parameters()) <= 2 * (4 * 16 + 2 * 16)  # router and biases
    logits, _ = moe(torch.randint(0, 17, (2, 8)))
    assert logits.shape == (2, 8, 17)
    aux = moe.aux_loss()
    assert aux.requires_grad and 2 * 0.99 <= aux.item() <= 2 * 4  # two layers, each in [1, N]
    assert dense.aux_loss().item() == 0.0
    with pytest.raises(ValueError, match="top_k"):
        models.TopKRouter(8, 4, 5)


def test_sliding_cross_entropy_scores_every_token_once():
    model = _gpt(torch.float64)
    ids = torch.randint(0, 17, (41,))
    # reference: each target i scored with the context the sliding scheme gives it
    window, half = 12, 6
    total = 0.0
    for i in range(1, 41):
        start = 0 if i <= window else ((i - 1 - half) // half) * half  # the window that scores i
        logits, _ = model(ids[start:i][None])
        total += -torch.log_softmax(logits[0, -1], -1)[ids[i]].item()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no autograd graph: float() of a requires_grad tensor warns
        assert models.gpt.sliding_cross_entropy(model, ids, batch_size=3) == pytest.approx(total / 40, rel=1e-10)
        assert torch.is_grad_enabled()
    with pytest.raises(ValueError, match="1-D"):
        models.gpt.sliding_cross_entropy(model, ids[None])


def test_ngram_model_probabilities_and_baseline_behaviour():
    from nnanatomy.models.ngram import NGramLM

    text = "abcabcabcabd" * 20
    lm = NGramLM(3).fit(text)
    for history in ("", "a", "ab", "zz"):
        assert sum(lm.prob(history, c) for c in "abcd") == pytest.approx(1.0)
    assert lm.prob("ab", "c") > 0.7 and lm.prob("ab", "d") < 0.3
    assert NGramLM(3).fit(text).cross_entropy(text) < NGramLM(1).fit(text).cross_entropy(text)
    with pytest.raises(ValueError, match="never seen"):
        lm.cross_entropy("xyz")
    with pytest.raises(ValueError, match="order"):
        NGramLM(0)
    with pytest.raises(RuntimeError, match="fit"):
        NGramLM(2).prob("a", "b")


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_numpy_gpt_block_equals_pytorch(approximate):
    from nnanatomy import scratch

    torch.manual_seed(0)
    config = models.GPTConfig(vocab_size=11, max_seq_len=12, d_model=24, num_heads=3, num_layers=2, dropout=0.0,
                              gelu_approximate=approximate)
    model = models.GPT(config).double().eval()
    x = torch.randn(2, 9, 24, dtype=torch.float64)
    with torch.no_grad():
        ref, _ = model.blocks[1](x)
    params = {k: v.numpy() for k, v in model.state_dict().items()}
    ours = scratch.gpt_block(x.numpy(), params, "blocks.1", 3, gelu_approximate=approximate)
    np.testing.assert_allclose(ours, ref.numpy(), atol=1e-12, rtol=0)
    np.testing.assert_allclose(scratch.gelu(x.numpy(), approximate),
                               torch.nn.functional.gelu(x, approximate=approximate).numpy(), atol=1e-12)
    # causal: changing the last position leaves every earlier output unchanged
    x2 = x.numpy().copy()
    x2[:, -1] += 1.0
    np.testing.assert_array_equal(scratch.gpt_block(x2, params, "blocks.1", 3, gelu_approximate=approximate)[:, :-1],
                                  ours[:, :-1])
    with pytest.raises(ValueError, match="prefix"):
        scratch.gpt_block(x.numpy(), params, "blocks.7", 3)
    with pytest.raises(ValueError, match="approximate"):
        scratch.gelu(x.numpy(), "erf")


@pytest.mark.parametrize("capacity_factor, shared", [(None, 0), (1.0, 0), (None, 1), (1.25, 2)])
def test_numpy_moe_layer_equals_pytorch(capacity_factor, shared):
    from nnanatomy import scratch

    torch.manual_seed(1)
    layer = models.MoEFeedForward(d_model=12, d_hidden=10, num_experts=5, top_k=2, capacity_factor=capacity_factor,
                                  shared_experts=shared).double().eval()
    x = torch.randn(3, 7, 12, dtype=torch.float64)
    with torch.no_grad():
        ref = layer(x)
        weights, ids, _ = layer.router(x.reshape(-1, 12))
    params = {f"ffn.{k}": v.numpy() for k, v in layer.state_dict().items()}
    ours, stats = scratch.moe_feed_forward(x.numpy(), params, "ffn", 2, capacity_factor=capacity_factor)
    np.testing.assert_allclose(ours, ref.numpy(), atol=1e-12, rtol=0)
    np.testing.assert_array_equal(stats["expert_ids"], ids.numpy())
    np.testing.assert_allclose(stats["weights"], weights.numpy(), atol=1e-14)
    np.testing.assert_allclose(stats["load"], layer.last_stats["load"].numpy(), atol=1e-7)
    assert stats["dropped"] == pytest.approx(float(layer.last_stats["dropped"]), abs=1e-7)
    assert stats["aux_loss"] == pytest.approx(float(layer.last_stats["aux_loss"]), rel=1e-12)
    if capacity_factor == 1.0:
        assert stats["dropped"] > 0  # the capacity path is exercised
    assert layer.active_parameters() == sum(p.numel() for p in layer.router.parameters()) + (2 + shared) * 12 * 10 * 2 + (2 + shared) * 22
    with pytest.raises(ValueError, match="prefix"):
        scratch.moe_feed_forward(x.numpy(), params, "moe", 2)
    with pytest.raises(ValueError, match="top_k"):
        scratch.moe_feed_forward(x.numpy(), params, "ffn", 6)
    with pytest.raises(ValueError, match=r"\(\.\.\., 12\)"):
        scratch.moe_feed_forward(x.numpy()[..., :5], params, "ffn", 2)


def test_top1_router_learns_from_the_task():
    """With one expert per token a renormalised weight is always 1 and the router gets no gradient
    from the task; by default top-1 scales by the probability (Switch), as the NumPy layer does."""
    from nnanatomy import scratch

    torch.manual_seed(2)
    x = torch.randn(6, 8, dtype=torch.float64)
    grads = {}
    for renormalize in (True, None):
        layer = models.MoEFeedForward(8, 6, num_experts=4, top_k=1).double()
        layer.router.renormalize = layer.router.renormalize if renormalize is None else renormalize
        torch.manual_seed(3)
        layer.load_state_dict(models.MoEFeedForward(8, 6, num_experts=4, top_k=1).double().state_dict())
        layer(x).pow(2).sum().backward()
        grads[renormalize] = layer.router.gate.weight.grad
    assert grads[True] is None or float(grads[True].abs().max()) < 1e-15  # p / p: zero up to rounding
    assert float(grads[None].abs().max()) > 1e-3
    layer.eval()
    params = {f"f.{k}": v.detach().numpy() for k, v in layer.state_dict().items()}
    with torch.no_grad():
        ours, stats = scratch.moe_feed_forward(x.numpy(), params, "f", 1)
        np.testing.assert_allclose(ours, layer(x).numpy(), atol=1e-12, rtol=0)
    assert (stats["weights"] < 1).all()
    with pytest.raises(TypeError, match="renormalize"):
        models.TopKRouter(8, 4, 1, renormalize="yes")


def test_shared_experts_in_the_gpt():
    config = models.GPTConfig(vocab_size=11, max_seq_len=8, d_model=16, num_heads=2, num_layers=1, ffn="moe",
                              num_experts=4, top_k=1, shared_experts=1)
    assert config.expert_hidden == 4 * 16 // 2  # equal active compute: one routed + one shared, each half width
    model = models.GPT(config)
    assert len(model.blocks[0].ffn.shared) == 1
    dense = models.GPT(models.GPTConfig(vocab_size=11, max_seq_len=8, d_model=16, num_heads=2, num_layers=1))
    router = 16 * 4
    assert model.active_parameters() == dense.num_parameters() + router + 16  # two half-width MLPs: a second output bias
    with pytest.raises(ValueError, match="shared_experts"):
        models.GPTConfig(vocab_size=11, ffn="moe", shared_experts=-1)


def test_gpt_choices_experiment_checks_arguments():
    from nnanatomy.experiments import gpt_choices

    with pytest.raises(TypeError, match="tie_embeddings"):
        gpt_choices.run("yes", False, 0)
    with pytest.raises(TypeError, match="residual_init"):
        gpt_choices.run(True, 1, 0)
    with pytest.raises(ValueError, match="seed"):
        gpt_choices.run(True, False, -1)


def test_residual_stream_stds_grow_like_the_square_root_of_depth_without_scaling():
    ids = torch.randint(0, 26, (8, 64), generator=torch.Generator().manual_seed(0))
    growth = {}
    for scaled in (False, True):
        torch.manual_seed(0)
        model = models.GPT(models.GPTConfig(vocab_size=26, max_seq_len=64, d_model=96, num_heads=4, num_layers=32,
                                            residual_init=scaled))
        stds = models.gpt.residual_stream_stds(model, ids)
        assert len(stds) == 33
        growth[scaled] = stds[-1] / stds[1]
    assert growth[False] == pytest.approx(32 ** 0.5, rel=0.15)  # independent additions: variance ∝ depth
    assert growth[True] < 1.6
    with pytest.raises(TypeError, match="models.GPT"):
        models.gpt.residual_stream_stds(torch.nn.Linear(2, 2), ids)


def test_gpt_choices_sweep_is_stored():
    from nnanatomy.experiments import gpt_choices

    runs = gpt_choices.load_results()["runs"]
    assert {(r["tie_embeddings"], r["residual_init"], r["seed"]) for r in runs} == {
        (t, s, seed) for t in (False, True) for s in (False, True) for seed in (0, 1, 2)}
    for r in runs:
        assert len(r["test_cross_entropy"]) == gpt_choices.RECIPE["epochs"] and all(0.2 < v < 3 for v in r["test_cross_entropy"])
    untied = {r["parameters"] for r in runs if not r["tie_embeddings"]}
    tied = {r["parameters"] for r in runs if r["tie_embeddings"]}
    assert len(untied) == len(tied) == 1 and untied.pop() - tied.pop() == 26 * 96 + 26


def test_real_text_corpus_split_and_compressors():
    from nnanatomy.experiments import real_text

    corpus = real_text.text()
    train_text, test_text = real_text.split(corpus)
    assert train_text + test_text == corpus and abs(len(test_text) / len(corpus) - 0.1) < 1e-3
    assert "assert" in corpus and len(corpus) > 400_000
    packed = real_text.compressors(train_text[-50_000:], test_text[:20_000])
    for name in ("bz2", "lzma", "zlib"):  # the training text helps every compressor, and none reaches 1 bit/char here
        assert 1.0 < packed[name]["given training text"] < packed[name]["alone"] < 8.0
    assert real_text.fingerprint(corpus) == real_text.fingerprint(train_text + test_text)
    with pytest.raises(ValueError, match="seed"):
        real_text.run(-1)
    with pytest.raises(ValueError, match="orders"):
        real_text.ngram_baseline(orders=(0,))
    with pytest.raises(ValueError, match="corpus"):
        real_text.split("short")


def test_real_text_sweep_is_stored():
    from nnanatomy.experiments import real_text

    import platform

    results = real_text.load_results()
    assert sorted(r["seed"] for r in results["runs"]) == [0, 1, 2]
    corpus = real_text.text()
    for r in results["runs"]:
        if results["python"] == platform.python_version():
            assert r["text"] == real_text.fingerprint(corpus)  # the stored runs saw this text
        assert len(r["test_bits_per_char"]) == len(r["valid_bits_per_char"]) <= real_text.RECIPE["epochs"]
        best = r["best_epoch"]
        assert r["valid_bits_per_char"][best - 1] == min(r["valid_bits_per_char"])  # early stopping kept the best epoch
        assert r["test_bits_per_char_at_best"] == r["test_bits_per_char"][best - 1]
    assert results["ngram"]["order"] >= 3


TINY_MOE = {"n_sentences": 20, "n_test_sentences": 5, "max_seq_len": 16, "d_model": 8, "num_heads": 2, "num_layers": 1,
            "evaluations": 2, "load_every": 2}


def test_moe_experiment_runs_and_checks_its_arguments():
    from nnanatomy import runtime
    from nnanatomy.experiments import moe

    before = runtime.fix_threads(1)
    try:
        _check_moe_experiment(moe)
    finally:
        runtime.fix_threads(before)


def _check_moe_experiment(moe) -> None:
    record = moe.run("moe-shared", 0, steps=5, recipe=TINY_MOE, return_model=True)
    assert record["curve"]["step"] == [0, 2, 5] and record["steps"] == 5
    assert record["curve"]["seconds"][0] == 0 and np.all(np.diff(record["curve"]["seconds"]) > 0)
    assert np.array(record["loads"]).shape == (3, 1, 8)  # steps 1-2, 3-4, 5: one layer, eight experts
    np.testing.assert_allclose(np.array(record["loads"]).sum(-1), 1.0, atol=1e-4)
    model = record["model"]
    assert len(model.blocks[0].ffn.shared) == 1 and model.blocks[0].ffn.top_k == 1
    assert record["final_test"] == pytest.approx(models.gpt.sliding_cross_entropy(model, moe.corpus(TINY_MOE)["test_ids"]), abs=1e-5)
    again = moe.run("moe-shared", 0, steps=5, recipe=TINY_MOE)
    assert again["curve"]["test"] == record["curve"]["test"]  # the same seed, the same run
    dense = moe.run("dense", 0, steps=2, recipe=TINY_MOE)
    assert dense["loads"] == [] and dense["parameters"] == dense["active_parameters"]
    for bad, error in (({"arm": "moe-large"}, ValueError), ({"seed": -1}, ValueError), ({"steps": 0}, ValueError),
                       ({"recipe": {"layers": 3}}, ValueError), ({"recipe": [1]}, TypeError)):
        kwargs = {"arm": "moe", "seed": 0, "steps": 2, "recipe": TINY_MOE, **bad}
        with pytest.raises(error):
            moe.run(**kwargs)
    stats = moe.collapse_stats(np.array([[0.5, 0.5, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]]))
    assert stats["starved"].tolist() == [2, 0] and stats["max_share"].tolist() == [0.5, 0.25]
    with pytest.raises(ValueError, match="shares"):
        moe.collapse_stats(np.array([0.5, 0.6]))
