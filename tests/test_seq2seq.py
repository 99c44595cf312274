"""Chapter 04's LSTM encoder–decoder with additive attention, and the chained-sentence corpus."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnanatomy import data, models
from nnanatomy.experiments import translation


def _model(attention=True, seed=0):
    torch.manual_seed(seed)
    return models.Seq2Seq(models.Seq2SeqConfig(12, 13, embed_dim=5, hidden_size=7, attention=attention)).double().eval()


SRC = torch.tensor([[5, 6, 7, 8, 2], [9, 4, 2, 0, 0]])
TGT = torch.tensor([[1, 5, 6, 7], [1, 8, 3, 0]])


@pytest.mark.parametrize("attention", [True, False])
def test_padding_changes_nothing(attention):
    """A padded sentence is translated as if alone: the packed encoder never reads the padding,
    and attention gives it weight 0."""
    model = _model(attention)
    logits, weights = model.forward_with_attention(SRC, TGT)
    alone, alone_w = model.forward_with_attention(SRC[1:, :3], TGT[1:])
    torch.testing.assert_close(logits[1], alone[0], atol=1e-12, rtol=0)
    if attention:
        assert weights.shape == (2, 4, 5)
        torch.testing.assert_close(weights.sum(-1), torch.ones(2, 4, dtype=torch.float64))
        assert float(weights[1, :, 3:].detach().abs().max()) == 0.0
        torch.testing.assert_close(weights[1, :, :3], alone_w[0], atol=1e-12, rtol=0)
    else:
        assert weights is None


def test_the_lens_counts_it_on_meta():
    """On meta there are no values, so no padding is known: every source sentence counts at full
    length — equal to the real count when nothing is padded, an upper bound when something is."""
    from nnanatomy import explore

    model = _model()
    full = (SRC[:1], TGT[:1])
    real, meta = explore.summary(model, *full), explore.summary(model, *full, device="meta")
    assert (meta.total_params, meta.total_macs) == (real.total_params, real.total_macs)
    padded = (SRC[1:], TGT[1:])
    real_padded = explore.summary(model, *padded)
    assert explore.summary(model, *padded, device="meta").total_macs > real_padded.total_macs


def test_additive_attention_is_the_formula():
    model = _model()
    states, padding, (s0, _) = model.encode(SRC)
    att = model.attention
    context, w = att(s0, states, att.u(states), padding)
    # e_j = vᵀ tanh(W s + U h_j + b), written with the weight matrices
    e = torch.tanh((s0 @ att.w.weight.T)[:, None] + states @ att.u.weight.T + att.u.bias) @ att.v.weight[0]
    e = e.masked_fill(padding, float("-inf"))
    alpha = torch.exp(e - e.max(-1, keepdim=True).values)
    alpha = alpha / alpha.sum(-1, keepdim=True)
    torch.testing.assert_close(w, alpha)
    torch.testing.assert_close(context, torch.einsum("bs,bsk->bk", alpha, states))
    # the encoder's states are [forward ; backward]: the backward half at word 0 has read the whole sentence
    fwd_only = torch.nn.LSTM(5, 7, batch_first=True).double()
    fwd_only.load_state_dict({k.replace("_reverse", ""): v for k, v in model.encoder.state_dict().items() if "reverse" not in k})
    out, _ = fwd_only(model.src_embed(SRC[:1]))
    torch.testing.assert_close(states[0, :, :7], out[0])


@pytest.mark.parametrize("attention", [True, False])
def test_greedy_decode_agrees_with_teacher_forcing(attention):
    model = _model(attention, seed=3)
    ids, weights = model.greedy_decode(SRC, 1, 2, max_len=6)
    assert ids.shape[0] == 2 and bool((ids[:, 0] == 1).all())
    logits, _ = model.forward_with_attention(SRC, ids[:, :-1])
    for b in range(2):  # every written word is the argmax given the words before it, up to EOS
        row = ids[b, 1:].tolist()
        end = row.index(2) + 1 if 2 in row else len(row)
        assert logits[b, :end].argmax(-1).tolist() == row[:end]
    if attention:
        assert weights.shape == (2, ids.shape[1] - 1, 5)


def test_attention_changes_only_the_context():
    with_att, without = _model(True), _model(False)
    extra = {k for k in with_att.state_dict()} - {k for k in without.state_dict()}
    assert extra == {"attention.w.weight", "attention.u.weight", "attention.u.bias", "attention.v.weight"}
    assert with_att.num_parameters() - without.num_parameters() == 7 * 7 + 14 * 7 + 7 + 7


def test_bad_input_is_refused():
    model = _model()
    with pytest.raises(TypeError, match="Seq2SeqConfig"):
        models.Seq2Seq({"src_vocab_size": 3})
    with pytest.raises(ValueError, match="hidden_size"):
        models.Seq2SeqConfig(5, 5, hidden_size=0)
    with pytest.raises(ValueError, match="all padding"):
        model(torch.tensor([[0, 0, 0]]), TGT[:1])
    with pytest.raises(ValueError, match="padded at the end"):
        model(torch.tensor([[5, 0, 6]]), TGT[:1])
    with pytest.raises(ValueError, match=r"in \[0, 12\)"):
        model(torch.tensor([[5, 12]]), TGT[:1])
    with pytest.raises(TypeError, match="torch.long"):
        model(SRC.float(), TGT)
    with pytest.raises(ValueError, match="batch size"):
        model(SRC, TGT[:1])
    with pytest.raises(ValueError, match="max_len"):
        model.greedy_decode(SRC, 1, 2, max_len=1)


def test_chained_translation():
    corpus = data.chained_translation(300, 40, max_train_clauses=2, seed=1)
    joins = lambda p: p.src.count("ranhou")  # noqa: E731
    assert {joins(p) for p in corpus.train} == {0, 1}
    assert {joins(p) for p in corpus.test} == {1} and {joins(p) for p in corpus.longer} == {2}
    assert not {p.src for p in corpus.test} & {p.src for p in corpus.train}
    assert len({p.src for p in corpus.test}) == 40
    for p in corpus.longer:  # each clause is a grammar pair; the joiner aligns to "and then"
        assert p.tgt.count("then") == 2
        for s, t in p.alignment:
            if p.src[s] == "ranhou":
                assert p.tgt[t] in ("and", "then")
    single = data.translation.all_pairs()[:2]
    chained = data.chain_pairs(single)
    assert chained.src == single[0].src + ("ranhou",) + single[1].src
    assert chained.tgt == single[0].tgt + ("and", "then") + single[1].tgt
    corpus.src_vocab.encode([p.src for p in corpus.longer])  # every word is in the vocabularies
    corpus.tgt_vocab.encode([p.tgt for p in corpus.longer])
    again = data.chained_translation(300, 40, max_train_clauses=2, seed=1)
    assert [p.src for p in again.test] == [p.src for p in corpus.test]
    with pytest.raises(TypeError, match="list of Pair"):
        data.chain_pairs([("wo",)])
    with pytest.raises(ValueError, match="max_train_clauses"):
        data.chained_translation(10, 5, max_train_clauses=0)


def test_translation_experiment_arguments_and_stored_sweep():
    corpus = data.chained_translation(30, 4, seed=0)
    with pytest.raises(ValueError, match="arch"):
        translation.run("gru", 0)
    with pytest.raises(ValueError, match="seed"):
        translation.run("lstm", -1)
    with pytest.raises(TypeError, match="ChainedTranslation"):
        translation.make_model("lstm", corpus.train)
    torch.manual_seed(0)
    share, hyps = translation.exact_match(translation.make_model("lstm-attention", corpus), corpus.test, corpus)
    assert 0.0 <= share <= 1.0 and len(hyps) == 4
    runs = translation.load_results()["runs"]
    assert {(r["arch"], r["seed"]) for r in runs} == {(a, s) for a in translation.ARCHS for s in (0, 1, 2)}
    for r in runs:
        assert len(r["test_exact_match"]) == translation.RECIPE["epochs"] == len(r["train_loss"])
        assert sum(r["longer_clauses_written"].values()) == translation.RECIPE["n_test"]
        assert np.all(np.isfinite(r["train_loss"]))
