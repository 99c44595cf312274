"""Chapter 08: HuBERT's encoder and masked cluster prediction; the speech measuring kit."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nnanatomy import data, speech
from nnanatomy.models.conformer import ConvSubsampling
from nnanatomy.models.hubert import HuBERT, HuBERTConfig, HuBERTEncoder


def _tiny(**kw):
    return HuBERT(HuBERTConfig(input_dim=16, d_model=32, num_heads=4, num_layers=2, d_ff=64, pos_conv_kernel=5,
                               pos_conv_groups=4, dropout=0.0, num_clusters=12, final_dim=8, **kw))


def test_hubert_logits_are_scaled_cosines_and_loss_keeps_masked_frames():
    torch.manual_seed(0)
    model = _tiny(mask_prob=0.3, mask_span=2)
    x, lengths = torch.randn(2, 36, 16), torch.tensor([36, 24])
    logits, padding = model(x, lengths)
    assert logits.shape == (2, 9, 12) and padding.tolist()[1] == [False] * 6 + [True] * 3
    assert logits.abs().max() <= 1 / 0.1 + 1e-4  # |cos| / τ
    h, _ = model.encoder(x, lengths)
    cos = F.cosine_similarity(model.final_proj(h)[:, :, None], model.cluster_embeddings[None, None], dim=-1)
    assert torch.allclose(logits, cos / 0.1, atol=1e-5)
    targets = torch.randint(0, 12, (2, 9))
    targets[0, 0] = -1
    loss, info = model.loss(x, targets, lengths, generator=torch.Generator().manual_seed(3))
    selected, mask = info["selected"], info["mask"]
    assert torch.equal(selected, mask & (targets >= 0) & ~padding)
    assert torch.allclose(loss, F.cross_entropy(info["logits"][selected], targets[selected]))
    with pytest.raises(ValueError, match="targets"):
        model.loss(x, targets[:, :5], lengths)
    with pytest.raises(ValueError, match="num_clusters"):
        model.loss(x, torch.full((2, 9), 12), lengths)


def test_hubert_mask_embedding_replaces_masked_frames_and_padding_does_not_leak():
    torch.manual_seed(1)
    enc = _tiny().encoder.eval()
    x = torch.randn(1, 40, 16)
    mask = torch.zeros(1, 10, dtype=torch.bool)
    mask[0, 3:6] = True
    a, _ = enc(x, mask=mask)
    y = x.clone()
    y[0, 12:24] = 50.0  # rewrite the input under the masked frames
    b, _ = enc(y, mask=mask)
    assert not torch.allclose(a, b)  # the unmasked neighbours' receptive fields reach into it ...
    everything = torch.ones(1, 10, dtype=torch.bool)  # ... but a fully masked utterance has no input left
    assert torch.allclose(enc(x, mask=everything)[0], enc(torch.randn(1, 40, 16), mask=everything)[0])
    assert not torch.allclose(enc(x)[0], enc(torch.randn(1, 40, 16))[0])
    # padding: an utterance padded with junk gives the same output as alone
    alone, _ = enc(x[:, :28])
    padded = torch.cat([x[:, :28], 9 * torch.randn(1, 12, 16)], 1)
    out, pad = enc(padded, torch.tensor([28]))
    assert torch.allclose(out[0, :7], alone[0], atol=1e-5) and pad[0, 7:].all()
    with pytest.raises(ValueError, match="mask"):
        enc(x, mask=torch.zeros(1, 9, dtype=torch.bool))
    with pytest.raises(TypeError, match="HuBERTConfig"):
        HuBERTEncoder({"d_model": 8})
    with pytest.raises(ValueError, match="pos_conv_kernel"):
        HuBERTConfig(pos_conv_kernel=4)


def test_cluster_quality_matches_definitions():
    y = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    assert speech.cluster_quality(y, y.copy()) == {"phone_purity": 1.0, "cluster_purity": 1.0, "pnmi": 1.0}
    z0 = np.zeros_like(y)
    q = speech.cluster_quality(y, z0)  # one cluster for everything: no information
    assert q["pnmi"] == pytest.approx(0.0, abs=1e-12) and q["phone_purity"] == pytest.approx(3 / 8)
    z = np.array([0, 0, 1, 1, 1, 2, 2, 3])
    q = speech.cluster_quality(y, z)
    joint = np.zeros((3, 4))
    for a, b in zip(y, z):
        joint[a, b] += 1 / 8
    py, pz = joint.sum(1), joint.sum(0)
    mi = sum(joint[i, j] * np.log(joint[i, j] / py[i] / pz[j]) for i in range(3) for j in range(4) if joint[i, j])
    assert q["pnmi"] == pytest.approx(mi / -(py * np.log(py)).sum())
    assert q["phone_purity"] == pytest.approx(sum(joint[:, j].max() for j in range(4)))  # E_z max_y p(y|z)
    assert q["cluster_purity"] == pytest.approx(sum(joint[i].max() for i in range(3)))
    from sklearn.metrics import mutual_info_score

    assert mi == pytest.approx(mutual_info_score(y, z))
    with pytest.raises(ValueError, match="equal length"):
        speech.cluster_quality(y, z[:5])
    with pytest.raises(ValueError, match="integer"):
        speech.cluster_quality(y.astype(float), z)


def test_speech_features_labels_and_batches():
    corpus = data.phone_corpus(4, n_speakers=2, units_per_utterance=8, seed=2)
    feats, (mean, std) = speech.log_mel_features(corpus)
    assert all(f.shape == (u.frames, 64) for f, u in zip(feats, corpus))
    assert torch.allclose(torch.cat(feats).mean(0), torch.zeros(64), atol=1e-4)
    for u in corpus:
        labels = speech.encoder_labels(u)
        assert len(labels) == ConvSubsampling.output_length(u.frames)
        np.testing.assert_array_equal(labels, u.labels[np.minimum(np.arange(len(labels)) * 4, u.frames - 1)])
    m = speech.mfcc_features(corpus)
    assert m[0].shape == (ConvSubsampling.output_length(corpus[0].frames), 39)
    targets = [speech.encoder_labels(u) for u in corpus]
    batches = speech.UtteranceBatches(feats, targets, batch_size=2, seed=0)
    assert len(batches) == 2
    seen = 0
    for x, lengths, y in batches:
        assert x.shape[0] == 2 and y.shape == (2, ConvSubsampling.output_length(x.shape[1]))
        for row in range(2):
            assert (x[row, lengths[row]:] == 0).all() and (y[row, ConvSubsampling.output_length(int(lengths[row])):] == -1).all()
        seen += 2
    assert seen == 4
    with pytest.raises(TypeError, match="PhoneUtterance"):
        speech.log_mel_features([np.zeros(100)])
    with pytest.raises(ValueError, match="one entry per utterance"):
        speech.UtteranceBatches(feats, targets[:2])
    with pytest.raises(ValueError, match="batch_size"):
        speech.UtteranceBatches(feats, batch_size=5)


def test_linear_probe_and_kmeans_read_separable_frames():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 5)) * 4
    labels = [rng.integers(0, 3, 50) for _ in range(4)]
    frames = [centres[y] + rng.normal(size=(50, 5)) * 0.3 for y in labels]
    assert speech.linear_probe(frames[:2], labels[:2], frames[2:], labels[2:]) == 1.0
    km = speech.kmeans(frames, 3, seed=0)
    assert speech.cluster_quality(np.concatenate(labels), km.predict(np.concatenate(frames)))["pnmi"] > 0.99
    with pytest.raises(ValueError, match="k must be"):
        speech.kmeans(frames, 1)


def test_pretrain_runs_both_models_and_checks_its_batches():
    from nnanatomy.models.bestrq import BestRQ
    from nnanatomy.models.conformer import ConformerConfig

    torch.manual_seed(0)
    corpus = data.phone_corpus(4, n_speakers=2, units_per_utterance=6, seed=1)
    feats, _ = speech.log_mel_features(corpus, n_mels=16)
    targets = [speech.encoder_labels(u) for u in corpus]
    hub = HuBERT(HuBERTConfig(
        input_dim=16, d_model=32, num_heads=4, num_layers=1, d_ff=64, pos_conv_kernel=5, dropout=0.0,
        num_clusters=len(data.PHONE_UNITS), final_dim=8))
    history, seconds = speech.pretrain(hub, speech.UtteranceBatches(feats, targets, batch_size=2), steps=4)
    assert len(history.train_loss) == 2 and seconds > 0
    rq = BestRQ(ConformerConfig(input_dim=16, d_model=32, num_heads=4, num_layers=1, kernel_size=5), codebook_size=16)
    history, _ = speech.pretrain(rq, speech.UtteranceBatches(feats, batch_size=2), steps=2)
    assert np.isfinite(history.train_loss).all()
    with pytest.raises(ValueError, match="targets"):
        speech.pretrain(hub, speech.UtteranceBatches(feats, batch_size=2), steps=2)
    layers = speech.layer_features(hub.encoder, feats[:2], 0)
    assert layers[0].shape == (ConvSubsampling.output_length(len(feats[0])), 32)


def test_chapter_splits_are_disjoint_and_named():
    assert {s["seed"] for s in speech.SPLITS.values()} == {0, 1, 2}
    with pytest.raises(ValueError, match="split"):
        speech.corpus("validation")


def test_chunks_cut_features_and_labels_alike():
    corpus = data.phone_corpus(3, n_speakers=2, units_per_utterance=8, seed=6)
    feats, _ = speech.log_mel_features(corpus, n_mels=16)
    pieces, labels = speech.chunks(feats, corpus, frames=32)
    assert sum(len(p) for p in pieces) <= sum(len(f) for f in feats)
    assert all(4 <= len(p) <= 32 for p in pieces)
    assert all(len(lab) == ConvSubsampling.output_length(len(p)) for p, lab in zip(pieces, labels))
    first = corpus[0]
    np.testing.assert_array_equal(labels[0], first.labels[np.arange(8) * 4])
    assert torch.equal(pieces[1], feats[0][32:64])
    with pytest.raises(ValueError, match="multiple of 4"):
        speech.chunks(feats, corpus, frames=30)


def test_information_matches_sklearn_and_conditions():
    from sklearn.metrics import mutual_info_score

    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 5, 400), rng.integers(0, 7, 400)
    assert speech.information(a, b) == pytest.approx(mutual_info_score(a, b))
    # given the phone, a cluster that is a function of the phone tells nothing more about anything
    phone = rng.integers(0, 4, 400)
    utterance = rng.integers(0, 10, 400)
    assert speech.information(phone * 2, utterance, given=phone) == pytest.approx(0.0, abs=1e-12)
    # a cluster that copies the utterance id tells H(utterance | phone)
    joint = speech.information(utterance, utterance, given=phone)
    assert joint == pytest.approx(speech.information(utterance, utterance) - speech.information(utterance, phone))
    with pytest.raises(ValueError, match="equal length"):
        speech.information(a, b[:10])


def test_pretrain_rejects_other_models():
    feats = [torch.zeros(40, 16)]
    with pytest.raises(TypeError, match="BestRQ or a HuBERT"):
        speech.pretrain(torch.nn.Linear(16, 4), speech.UtteranceBatches(feats, batch_size=1), steps=1)
    from nnanatomy.models.bestrq import BestRQ

    model, batches = BestRQ(), speech.UtteranceBatches(feats, batch_size=1)
    for bad in (0, -5, 2.5, True):
        with pytest.raises((TypeError, ValueError), match="steps"):
            speech.pretrain(model, batches, steps=bad)
    for bad in (0.0, -1e-3, "1e-3"):
        with pytest.raises((TypeError, ValueError), match="lr"):
            speech.pretrain(model, batches, steps=1, lr=bad)


def test_baseline_frames_quantizer_phones_and_probe_predictions():
    corpus = data.phone_corpus(3, n_speakers=2, units_per_utterance=8, seed=7)
    feats, _ = speech.log_mel_features(corpus, n_mels=8)
    one = speech.encoder_rate_frames(feats, corpus)
    four = speech.encoder_rate_frames(feats, corpus, stack=4)
    for f, u, a, b in zip(feats, corpus, one, four):
        idx = speech.subsample_frames(u.frames)
        np.testing.assert_array_equal(a, f[idx].numpy())
        assert b.shape == (len(idx), 32)
        np.testing.assert_array_equal(b[1], torch.cat([f[4], f[5], f[6], f[7]]).numpy())
        np.testing.assert_array_equal(b[-1, -8:], f[min(idx[-1] + 3, len(f) - 1)].numpy())  # clipped at the end
        q = speech.quantizer_labels(u)
        assert len(q) == u.frames // 4 and q[2] == u.labels[9]
    labels = [speech.encoder_labels(u) for u in corpus]
    predicted = speech.probe_predictions(one[:2], labels[:2], one[2:])
    assert predicted.shape == labels[2].shape
    assert speech.linear_probe(one[:2], labels[:2], one[2:], labels[2:]) == pytest.approx((predicted == labels[2]).mean())
    with pytest.raises(ValueError, match="same dims"):
        speech.probe_predictions(one[:2], labels[:2], four[2:])
    with pytest.raises(ValueError, match="stack"):
        speech.encoder_rate_frames(feats, corpus, stack=0)
    with pytest.raises(TypeError, match="PhoneUtterance"):
        speech.encoder_labels(np.zeros(10))
    with pytest.raises(ValueError, match="max_frames"):
        speech.kmeans(one, 3, max_frames=1)
