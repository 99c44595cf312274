"""Chapter 08's controls: the held-out part of the lexicon, context-matched log-mel stacks, and the
2 × 2 design of encoders and targets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnanatomy import data, speech
from nnanatomy.data.phones import _lexicon
from nnanatomy.experiments import speech_design as design


def _words(corpus):
    """The unit sequences of an utterance, silence-separated (a word list up to the pauses)."""
    return [tuple(data.PHONE_UNITS[i] for i in [u.labels[0]] + [b for a, b in zip(u.labels, u.labels[1:]) if a != b]) for u in corpus]


def test_a_lexicon_part_speaks_words_the_first_part_never_uses():
    first, larger = _lexicon(200, 0)[0], _lexicon(300, 0)[0]
    assert larger[:200] == first and not set(larger[200:]) & set(first)  # the first words are the same whatever the size
    held = data.phone_corpus(n_utterances=3, n_speakers=2, lexicon_size=300, lexicon_part=(200, 300), seed=5)
    same = data.phone_corpus(n_utterances=3, n_speakers=2, lexicon_size=300, seed=5)
    assert _words(held) != _words(same)
    with pytest.raises(ValueError, match="lexicon_part"):
        data.phone_corpus(n_utterances=1, lexicon_size=10, lexicon_part=(5, 11))
    with pytest.raises(ValueError, match="needs a lexicon"):
        data.phone_corpus(n_utterances=1, lexicon_part=(0, 1))
    assert set(speech.SPLITS) == {"pretrain", "probe", "test", "heldout"}
    assert speech.SPLITS["heldout"]["seed"] == speech.SPLITS["test"]["seed"]  # the test split's speakers


def test_encoder_rate_frames_stacks_context_on_both_sides():
    corpus = data.phone_corpus(n_utterances=2, n_speakers=2, units_per_utterance=4)
    feats = [torch.arange(u.frames, dtype=torch.float32)[:, None].repeat(1, 3) for u in corpus]  # frame f holds f
    stacked = speech.encoder_rate_frames(feats, corpus, stack=5, start=-2)
    centres = speech.subsample_frames(corpus[0].frames)
    first = stacked[0][:, ::3]  # one column per stacked frame
    expected = np.clip(centres[:, None] + np.arange(-2, 3)[None], 0, corpus[0].frames - 1)
    np.testing.assert_array_equal(first, expected)
    np.testing.assert_array_equal(speech.encoder_rate_frames(feats, corpus)[1], speech.encoder_rate_frames(feats, corpus, 1, 0)[1])
    with pytest.raises(ValueError, match="start"):
        speech.encoder_rate_frames(feats, corpus, stack=3, start=-300)


def test_the_four_cells_build_and_take_their_targets():
    corpus = data.phone_corpus(n_utterances=4, n_speakers=2, units_per_utterance=6, lexicon_size=20)
    feats, _ = speech.log_mel_features(corpus)
    for encoder in design.ENCODERS:
        for target in design.TARGETS:
            model = design.build(encoder, target)
            labels = design.targets_for(encoder, target, corpus, feats)
            assert (labels is None) == ((encoder, target) == ("conformer", "random-projection"))
            batch = next(iter(speech.UtteranceBatches(feats, labels, batch_size=2, seed=0)))
            x, lengths, y = batch
            g = torch.Generator().manual_seed(0)
            if encoder == "transformer":
                loss = model.loss(x, y, lengths, generator=g)[0]
            else:
                loss = model.loss(x, lengths, generator=g, targets=y)[0] if y is not None else model.loss(x, lengths, generator=g)[0]
            assert torch.isfinite(loss)
            if labels is not None:
                classes = 1024 if target == "random-projection" else speech.PRETRAINING["mfcc_clusters"]
                assert max(int(a.max()) for a in labels) < classes
    with pytest.raises(ValueError, match="encoder"):
        design.build("lstm", "mfcc-kmeans")
    with pytest.raises(ValueError, match="target"):
        design.run("conformer", "wav2vec", 0)


def test_stored_speech_sweep_has_its_cells():
    runs = design.load_results()["runs"]
    trained = {(r["encoder"], r["target"], r["seed"]) for r in runs if r["steps"] > 0}
    for cell in design.CHECKPOINTS:
        assert (*cell, 0) in trained  # the shipped checkpoints, probed
    for r in runs:
        assert len(r["test"]) == len(r["heldout"]) == 4 and all(0 < a < 1 for a in r["test"] + r["heldout"])


def test_probe_refuses_bad_arguments_before_synthesising_anything():
    with pytest.raises(TypeError, match="stats"):
        design.probe(torch.nn.Linear(1, 1), (torch.zeros(3), torch.zeros(4)))
    with pytest.raises(TypeError, match="encoder_module"):
        design.probe("encoder", (torch.zeros(3), torch.ones(3)))
