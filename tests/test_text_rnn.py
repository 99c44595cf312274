"""Chapter 03's additions: held-out sentences of the grammar, streams for truncated BPTT, the
carried-state loss, and sampling with a temperature."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnanatomy import data, models, train


def test_split_sentences_holds_out_combinations_only():
    grammar = data.Grammar(data.SIMPLE_ENGLISH)
    seen, held = grammar.split_sentences(0.2, seed=0)
    assert len(seen) == 96 and len(held) == 24 and not set(seen) & set(held)
    assert {w for s in held for w in s.split()} <= {w for s in seen for w in s.split()}
    text = grammar.corpus(500, seed=1, sentences=held)
    assert set(text.splitlines()) <= {s + "." for s in held}
    assert grammar.split_sentences(0.2, seed=0) == (seen, held)  # seeded
    with pytest.raises(ValueError, match="not sentences of this grammar"):
        grammar.corpus(3, sentences=["i like nothing"])
    with pytest.raises(TypeError, match="sentences"):
        grammar.corpus(3, sentences="i like rice")
    with pytest.raises(ValueError, match="duplicates"):
        grammar.sample(3, sentences=[seen[0], seen[0]])
    with pytest.raises(ValueError, match="heldout_fraction"):
        grammar.split_sentences(1.0)


def test_restricted_sampling_keeps_the_relative_probabilities():
    grammar = data.Grammar({"S": [(1.0, ["a"]), (3.0, ["b"]), (6.0, ["c"])]})
    draws = grammar.sample(20_000, seed=0, sentences=["a", "b"])
    assert abs(draws.count("b.\n") / len(draws) - 0.75) < 0.01


def test_stream_windows_continue_each_row():
    ids = np.arange(1000)
    x, y = data.stream_windows(ids, n_streams=4, seq_len=10)
    assert x.shape == y.shape == (24, 4, 10)  # (1000 - 1) // 4 = 249 per stream → 24 windows
    assert np.array_equal(y, x + 1)  # the target is the next token
    for k in range(23):  # row b of batch k + 1 starts where row b of batch k stopped
        assert np.array_equal(x[k + 1, :, 0], x[k, :, -1] + 1)
    assert np.array_equal(x[0, :, 0], [0, 249, 498, 747])
    with pytest.raises(ValueError, match="no window"):
        data.stream_windows(np.arange(20), 4, 10)
    with pytest.raises(TypeError, match="1-D integer"):
        data.stream_windows(np.arange(20.0), 2, 3)


class _Counter(torch.nn.Module):
    """A 'recurrent model' whose state counts the steps it has read: it shows what is carried."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(3))

    def forward(self, ids, state=None):
        b, t = ids.shape
        state = torch.zeros(1, b, 1) if state is None else state
        self.seen = state.clone()
        return self.w.expand(b, t, 3), state + t


def test_truncated_bptt_carries_detached_state_and_resets_each_epoch():
    model, loss = _Counter(), train.TruncatedBPTT(windows_per_epoch=3)
    batch = (torch.zeros(2, 5, dtype=torch.long), torch.zeros(2, 5, dtype=torch.long))
    carried = []
    for _ in range(7):
        loss(model, batch)
        carried.append(int(model.seen[0, 0, 0]))
    assert carried == [0, 5, 10, 0, 5, 10, 0]  # carried within an epoch, dropped at its end
    assert not loss.state.requires_grad
    rnn = models.CharRNN(models.CharRNNConfig(vocab_size=5, hidden_size=8, cell="lstm"))
    lstm_loss = train.TruncatedBPTT(2)
    value = lstm_loss(rnn, (torch.zeros(3, 4, dtype=torch.long), torch.ones(3, 4, dtype=torch.long)))
    value.backward()
    assert all(not s.requires_grad for s in lstm_loss.state) and len(lstm_loss.state) == 2  # (h, c), detached
    with pytest.raises(ValueError, match="streams"):
        lstm_loss(rnn, (torch.zeros(2, 4, dtype=torch.long), torch.ones(2, 4, dtype=torch.long)))
    with pytest.raises(TypeError, match="batch"):
        lstm_loss(rnn, torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="windows_per_epoch"):
        train.TruncatedBPTT(0)


def test_sample_temperature_and_stop():
    torch.manual_seed(0)
    rnn = models.CharRNN(models.CharRNNConfig(vocab_size=6, hidden_size=8))
    prompt = torch.tensor([1, 2])
    a = rnn.sample(prompt, 20, num_samples=5, temperature=1.0, stop_id=0, generator=torch.Generator().manual_seed(3))
    b = rnn.sample(prompt, 20, num_samples=5, temperature=1.0, stop_id=0, generator=torch.Generator().manual_seed(3))
    assert a == b and len(a) == 5  # seeded
    assert all(len(s) <= 20 and (0 not in s[:-1]) for s in a)  # each stops at its first stop id
    cold = rnn.sample(prompt, 8, num_samples=4, temperature=1e-4, generator=torch.Generator().manual_seed(0))
    greedy, _ = rnn.greedy_decode(prompt, 8)
    assert all(s == greedy for s in cold)  # τ → 0 is greedy decoding
    with pytest.raises(ValueError, match="temperature"):
        rnn.sample(prompt, 3, temperature=0.0)
    with pytest.raises(TypeError, match="generator"):
        rnn.sample(prompt, 3, generator=0)
    with pytest.raises(ValueError, match="stop_id"):
        rnn.sample(prompt, 3, stop_id=6)  # no such character: the samples would never stop


def test_ngram_with_order_equals_a_fresh_fit():
    from nnanatomy.models.ngram import NGramLM

    text = "the cat sees the dog. the dog sees a cat. a cat eats fish.\n" * 3
    big = NGramLM(7).fit(text, vocab="abcdefghijklmnopqrstuvwxyz .\n")
    for order in (1, 3, 7):
        fresh = NGramLM(order).fit(text, vocab="abcdefghijklmnopqrstuvwxyz .\n")
        assert big.with_order(order).cross_entropy("the fish sees a dog.") == fresh.cross_entropy("the fish sees a dog.")
    with pytest.raises(ValueError, match="order"):
        big.with_order(8)
    with pytest.raises(RuntimeError, match="fit"):
        NGramLM(3).with_order(2)
