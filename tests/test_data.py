"""Generated datasets: deterministic, shaped as documented, validated."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnanatomy import data


def test_quadratic_is_the_source_function_and_deterministic():
    x, y = data.quadratic(100, seed=1)
    assert x.shape == y.shape == (100, 1) and x.dtype == np.float64
    np.testing.assert_allclose(y, 3 * x**2 + 5)
    assert x.min() >= -2 and x.max() < 2
    x2, _ = data.quadratic(100, seed=1)
    np.testing.assert_array_equal(x, x2)
    xn, yn = data.quadratic(2000, seed=1, noise_std=0.1)
    assert 0.09 < np.std(yn - (3 * xn**2 + 5)) < 0.11


@pytest.mark.parametrize(
    "kwargs,error",
    [({"n": 0}, ValueError), ({"n": 2.0}, TypeError), ({"n": 5, "low": 1.0, "high": 1.0}, ValueError),
     ({"n": 5, "noise_std": -1.0}, ValueError), ({"n": 5, "seed": -1}, ValueError), ({"n": 5, "a": float("nan")}, ValueError)],
)
def test_quadratic_bad_arguments(kwargs, error):
    with pytest.raises(error):
        data.quadratic(**kwargs)


def test_tensor_loader_order_is_seeded_and_dtypes():
    x = np.arange(10.0).reshape(10, 1)
    labels = np.arange(10)
    first = [b[0].squeeze(1).tolist() for b in data.tensor_loader(x, labels, batch_size=4, seed=5)]
    again = [b[0].squeeze(1).tolist() for b in data.tensor_loader(x, labels, batch_size=4, seed=5)]
    assert first == again and sorted(sum(first, [])) == list(range(10))
    xb, lb = next(iter(data.tensor_loader(x, labels, batch_size=4, shuffle=False)))
    assert xb.dtype == torch.float32 and lb.dtype == torch.int64
    assert xb.squeeze(1).tolist() == [0.0, 1.0, 2.0, 3.0]


def test_tensor_loader_bad_arguments():
    with pytest.raises(ValueError, match="first dimension"):
        data.tensor_loader(np.zeros((3, 1)), np.zeros(4), batch_size=2)
    with pytest.raises(TypeError, match="NumPy array"):
        data.tensor_loader([1, 2, 3], batch_size=2)
    with pytest.raises(ValueError, match="at least one"):
        data.tensor_loader(batch_size=2)
    with pytest.raises(ValueError, match="batch_size"):
        data.tensor_loader(np.zeros(3), batch_size=0)


def test_standardizer_round_trip_and_errors():
    x, y = data.quadratic(500, seed=2)
    scaler = data.Standardizer().fit(y)
    z = scaler.transform(y)
    np.testing.assert_allclose(z.mean(), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(), 1, atol=1e-12)
    np.testing.assert_allclose(scaler.inverse(z), y, atol=1e-12)
    assert "mean=" in repr(scaler)
    with pytest.raises(ValueError, match="fit"):
        data.Standardizer().transform(y)
    with pytest.raises(ValueError, match="constant"):
        data.Standardizer().fit(np.ones((4, 1)))
    with pytest.raises(ValueError, match="columns"):
        scaler.transform(np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"\(N, features\)"):
        scaler.transform(np.zeros(3))
    with pytest.raises(TypeError, match="floating"):
        scaler.transform([[1.0]])


def test_digits_split_is_stratified_scaled_and_seeded():
    split = data.digits()
    assert split.x_train.shape == (1347, 1, 8, 8) and split.x_test.shape == (450, 1, 8, 8)
    assert split.x_train.dtype == np.float32 and 0.0 <= split.x_train.min() and split.x_train.max() <= 1.0
    total = np.bincount(split.y_train) + np.bincount(split.y_test)
    assert np.all(np.abs(np.bincount(split.y_test) - 0.25 * total) <= 1)  # stratified: 25 % of every class
    again = data.digits()
    np.testing.assert_array_equal(split.y_test, again.y_test)
    assert not np.array_equal(data.digits(seed=1).y_test, split.y_test)
    with pytest.raises(ValueError, match="test_size"):
        data.digits(test_size=1.5)


def test_adding_problem():
    x, y = data.adding_problem(1000, length=20, seed=0)
    assert x.shape == (1000, 20, 2) and y.shape == (1000,)
    assert (x[:, :, 1].sum(1) == 2).all()
    assert (x[:, :10, 1].sum(1) == 1).all()  # one marker in each half
    np.testing.assert_allclose(y, (x[:, :, 0] * x[:, :, 1]).sum(1), rtol=1e-6)
    assert abs(np.mean((y - 1.0) ** 2) - 1 / 6) < 0.02  # the baseline MSE of predicting 1
    with pytest.raises(ValueError):
        data.adding_problem(10, length=1)


def test_grammar_entropy_and_sampling():
    g = data.Grammar(data.SIMPLE_ENGLISH)
    probs = [p for _, p in g.sentences]
    assert abs(sum(probs) - 1) < 1e-12 and len(probs) == len({s for s, _ in g.sentences})
    # a sentence's probability is the product of its choices: "i like music" = 3/9 · 3/9 · 1/5
    assert dict(g.sentences)["i like music"] == pytest.approx(3 / 9 * 3 / 9 * 1 / 5)
    text = g.corpus(20000, seed=0)
    sentences = text.splitlines()
    assert all(s.endswith(".") for s in sentences)
    # the empirical sentence entropy approaches the exact one
    counts = np.unique(sentences, return_counts=True)[1] / len(sentences)
    assert abs(-(counts * np.log(counts)).sum() - g.sentence_entropy()) < 0.05
    assert abs(len(text) / len(sentences) - g.mean_sentence_length()) < 0.1
    assert g.entropy_per_char() == pytest.approx(g.sentence_entropy() / g.mean_sentence_length())
    assert g.corpus(5, seed=3) == g.corpus(5, seed=3)
    eat = g.next_char_distribution("we eat ")
    assert eat == pytest.approx({"h": 3 / 7, "n": 2 / 7, "f": 1 / 7, "r": 1 / 7})
    assert g.next_char_distribution("i like machine learning") == {".": 1.0}
    assert g.next_char_distribution("i like machine learning.") == {"\n": 1.0}
    assert abs(sum(g.next_char_distribution("").values()) - 1) < 1e-12
    with pytest.raises(ValueError, match="no sentence"):
        g.next_char_distribution("xyz")


def test_grammar_rejects_bad_rules():
    with pytest.raises(ValueError, match="ambiguous"):
        data.Grammar({"S": [(1, ["A"]), (1, ["B"])], "A": [(1, ["x"])], "B": [(1, ["x"])]})
    with pytest.raises(ValueError, match="no rule"):
        data.Grammar({"S": [(1, ["A"])]})
    with pytest.raises(ValueError, match="recursive"):
        data.Grammar({"S": [(1, ["S", "x"])]})
    with pytest.raises(ValueError, match="positive weight"):
        data.Grammar({"S": [(0, ["x"])]})
    with pytest.raises(ValueError, match="start"):
        data.Grammar({"A": [(1, ["x"])]})
    with pytest.raises(ValueError, match="word"):
        data.Grammar({"S": [(1, ["x."])]})


def test_char_vocab_round_trip():
    vocab = data.CharVocab.from_text("hello world.\n")
    assert vocab.chars == tuple(sorted(set("hello world.\n")))
    assert vocab.decode(vocab.encode("hold")) == "hold"
    with pytest.raises(ValueError, match="not in the vocabulary"):
        vocab.encode("xyz")
    with pytest.raises(ValueError, match="ids"):
        vocab.decode([99])


def test_mel_filterbank_and_log_mel_equal_librosa():
    librosa = pytest.importorskip("librosa")
    for sr, n_fft, n_mels, fmin, fmax in [(16000, 512, 64, 0.0, None), (22050, 1024, 80, 50.0, 8000.0), (8000, 256, 20, 0.0, None)]:
        ours = data.mel_filterbank(sr, n_fft, n_mels, fmin, fmax)
        ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, dtype=np.float64)
        np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)
    wave, _ = data.speech_like(n_syllables=3, seed=2)
    ours = data.log_mel_spectrogram(wave, 16000, n_fft=512, hop_length=160, n_mels=64).numpy()
    power = librosa.feature.melspectrogram(y=wave, sr=16000, n_fft=512, hop_length=160, n_mels=64, power=2.0, dtype=np.float64)
    np.testing.assert_allclose(ours, np.log(power + 1e-10), rtol=0, atol=1e-8)
    np.testing.assert_allclose(data.mel_to_hz(data.hz_to_mel([0.0, 440.0, 1000.0, 6000.0])), [0.0, 440.0, 1000.0, 6000.0])


def test_speech_like_is_deterministic_and_segmented():
    wave, segments = data.speech_like(n_syllables=4, seed=5)
    again, _ = data.speech_like(n_syllables=4, seed=5)
    np.testing.assert_array_equal(wave, again)
    assert segments[0].kind == "pause" and segments[-1].end == pytest.approx(len(wave) / 16000, abs=1e-5)
    assert sum(s.kind.startswith("vowel") for s in segments) == 4
    assert np.abs(wave).max() < 1.5
    batch = data.power_spectrogram(torch.from_numpy(np.stack([wave, wave])))
    assert batch.shape[0] == 2 and batch.shape[1] == 257
    with pytest.raises(ValueError, match="shape"):
        data.power_spectrogram(np.zeros((1, 2, 3)))
    with pytest.raises(TypeError, match="floating"):
        data.log_mel_spectrogram(np.zeros(100, dtype=int), 16000)
    with pytest.raises(ValueError, match="fmin"):
        data.mel_filterbank(16000, 512, 64, fmin=9000.0)


def test_mfcc_and_deltas_equal_librosa():
    librosa = pytest.importorskip("librosa")
    wave, _ = data.speech_like(n_syllables=3, seed=4)
    ours = data.mfcc(wave, 16000, n_mfcc=13, n_fft=512, hop_length=160, n_mels=40).numpy()
    ref = librosa.feature.mfcc(y=wave, sr=16000, n_mfcc=13, n_fft=512, hop_length=160, n_mels=40, center=True,
                               pad_mode="constant", dtype=np.float64)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-7)
    for order in (1, 2):
        np.testing.assert_allclose(data.deltas(ours, order=order), librosa.feature.delta(ours, order=order), rtol=0, atol=1e-10)
    np.testing.assert_allclose(data.dct_matrix(5, 5) @ data.dct_matrix(5, 5).T, np.eye(5), atol=1e-12)  # orthonormal
    with pytest.raises(ValueError, match="width"):
        data.deltas(ours, width=4)
    with pytest.raises(ValueError, match="cannot exceed"):
        data.dct_matrix(41, 40)


def test_phone_corpus_labels_the_frames():
    corpus = data.phone_corpus(n_utterances=6, n_speakers=3, units_per_utterance=12, seed=3)
    again = data.phone_corpus(n_utterances=6, n_speakers=3, units_per_utterance=12, seed=3)
    assert len(data.PHONE_UNITS) >= 20
    for utt, same in zip(corpus, again):
        np.testing.assert_array_equal(utt.wave, same.wave)
        assert utt.frames == 1 + len(utt.wave) // utt.hop_length
        assert utt.frames == data.log_mel_spectrogram(utt.wave, 16000, hop_length=160).shape[1]  # one label per feature frame
        silence = data.PHONE_UNITS.index("sil")
        assert utt.labels[0] == silence and utt.labels[-1] == silence
        assert np.abs(utt.wave).max() <= 0.5 + 1e-6
    used = set(np.concatenate([u.labels for u in data.phone_corpus(n_utterances=60, seed=0)]).tolist())
    assert len(used) == len(data.PHONE_UNITS)  # every unit occurs
    # vowels are voiced and loud, silences quiet: the labels line up with the signal
    utt = corpus[0]
    energy = data.log_mel_spectrogram(utt.wave, 16000, hop_length=160).exp().sum(0).numpy()
    vowel = np.isin(utt.labels, [data.PHONE_UNITS.index(v) for v in ("a", "e", "i", "o", "u", "ae", "er", "uh")])
    assert energy[vowel].mean() > 10 * energy[utt.labels == silence].mean()
    with pytest.raises(ValueError, match="snr_db"):
        data.phone_corpus(2, snr_db=(30.0, 10.0))


def test_phone_corpus_hard_settings_glide_tilt_and_errors():
    plain = data.phone_corpus(3, n_speakers=2, units_per_utterance=10, seed=4, snr_db=(60.0, 60.0))
    glided = data.phone_corpus(3, n_speakers=2, units_per_utterance=10, seed=4, snr_db=(60.0, 60.0), glide=0.5)
    for a, b in zip(plain, glided):
        np.testing.assert_array_equal(a.labels, b.labels)  # same units and durations: only the sound changes
    assert any(not np.allclose(a.wave, b.wave) for a, b in zip(plain, glided))
    # a tilt of +6 dB/octave lifts the top of the spectrum relative to the bottom
    flat = data.phone_corpus(2, n_speakers=1, units_per_utterance=10, seed=5, snr_db=(60.0, 60.0))
    bright = data.phone_corpus(2, n_speakers=1, units_per_utterance=10, seed=5, snr_db=(60.0, 60.0), tilt_db=(6.0, 6.0))

    def high_to_low(wave):
        power = np.abs(np.fft.rfft(wave)) ** 2
        freqs = np.fft.rfftfreq(len(wave), 1 / 16000)
        return power[freqs > 3000].sum() / power[freqs < 1000].sum()

    assert high_to_low(bright[0].wave) > 4 * high_to_low(flat[0].wave)
    assert data.PHONE_KINDS["a"] == "vowel" and data.PHONE_KINDS["sil"] == "silence" and len(data.PHONE_KINDS) == 22
    with pytest.raises(ValueError, match="formant_scale"):
        data.phone_corpus(2, formant_scale=(1.2, 0.8))
    with pytest.raises(ValueError, match="glide"):
        data.phone_corpus(2, glide=1.0)
    with pytest.raises(ValueError, match="tilt_db"):
        data.phone_corpus(2, tilt_db=(3.0,))


def _unit_runs(corpus) -> list[list[int]]:
    return [[int(x) for i, x in enumerate(u.labels) if i == 0 or u.labels[i - 1] != x] for u in corpus]


def _next_unit_entropy(corpus) -> float:
    pairs = [(a, b) for run in _unit_runs(corpus) for a, b in zip(run, run[1:])]
    _, joint = np.unique(np.array(pairs), axis=0, return_counts=True)
    _, first = np.unique(np.array(pairs)[:, 0], return_counts=True)
    h = lambda c: -(c / c.sum() * np.log(c / c.sum())).sum()  # noqa: E731
    return float(h(joint) - h(first))


def test_phone_corpus_lexicon_makes_units_predictable_and_is_shared_across_seeds():
    from nnanatomy.data.phones import _lexicon

    words, frequency = _lexicon(50, seed=0)
    assert len(set(words)) == 50 and all(1 <= len(w) <= 9 for w in words)
    assert np.isclose(frequency.sum(), 1) and np.all(np.diff(frequency) < 0)  # Zipf: rank 1 most frequent
    random = data.phone_corpus(40, units_per_utterance=12, seed=1, snr_db=(60.0, 60.0))
    worded = data.phone_corpus(40, units_per_utterance=12, seed=1, snr_db=(60.0, 60.0), lexicon_size=50)
    assert _next_unit_entropy(worded) < _next_unit_entropy(random) - 0.5  # the next unit is far more predictable
    assert all(len(run) >= 3 for run in _unit_runs(worded))
    # the lexicon is fixed by lexicon_seed, not by seed: two corpora of one "language" share their transitions
    bigrams = lambda c: {(a, b) for run in _unit_runs(c) for a, b in zip(run, run[1:])}  # noqa: E731
    other_seed = data.phone_corpus(40, units_per_utterance=12, seed=2, snr_db=(60.0, 60.0), lexicon_size=50)
    other_language = data.phone_corpus(40, units_per_utterance=12, seed=2, snr_db=(60.0, 60.0), lexicon_size=50,
                                       lexicon_seed=1)
    shared = lambda a, b: len(a & b) / len(a | b)  # noqa: E731
    assert shared(bigrams(worded), bigrams(other_seed)) > shared(bigrams(worded), bigrams(other_language)) + 0.1
    for bad in (-1, 2.5, True, 200_000):
        with pytest.raises(ValueError, match="lexicon_size"):
            data.phone_corpus(2, lexicon_size=bad)


def test_music_stems_harder_options_remove_one_cue_each():
    """Each option changes what it says and leaves the song drawn from the seed as it was."""
    from nnanatomy.data import music_stems

    base = music_stems(1.0, 8000, seed=4)
    assert np.array_equal(base.vocals, music_stems(1.0, 8000, seed=4, vibrato=True, mono=False, reverb=0.0, doubling=0.0).vocals)
    mono = music_stems(1.0, 8000, seed=4, mono=True, reverb=0.3)
    assert np.allclose(mono.vocals[0], mono.vocals[1]) and np.allclose(mono.accompaniment[0], mono.accompaniment[1])
    steady = music_stems(1.0, 8000, seed=4, vibrato=False)
    np.testing.assert_allclose(steady.accompaniment / np.abs(steady.accompaniment).max(),
                               base.accompaniment / np.abs(base.accompaniment).max(), atol=1e-6)  # the same accompaniment, rescaled
    assert not np.allclose(steady.vocals, base.vocals)
    doubled = music_stems(1.0, 8000, seed=4, doubling=1.0)
    corr = np.corrcoef(doubled.vocals.ravel(), base.vocals.ravel())[0, 1]
    assert corr > 0.9999 and not np.allclose(doubled.accompaniment, base.accompaniment)  # the same voice; a reed added
    wet = music_stems(1.0, 8000, seed=4, reverb=0.5)
    assert not np.allclose(wet.vocals, base.vocals) and np.abs(wet.mix).max() == pytest.approx(0.9, abs=1e-6)
    for bad in [dict(reverb=1.0), dict(reverb=-0.1), dict(doubling=3.0), dict(vibrato="no"), dict(mono=1)]:
        with pytest.raises((ValueError, TypeError)):
            music_stems(1.0, 8000, seed=4, **bad)
