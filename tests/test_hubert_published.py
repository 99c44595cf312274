"""HuBERT as published — the waveform CNN, the weight-normalised convolutional positions, the
post-LN (BASE) or pre-LN (LARGE) Transformer — checked against Hugging Face's ``HubertModel``
with random weights (nothing downloaded)."""

from __future__ import annotations

import warnings

import pytest
import torch

from nnanatomy import explore
from nnanatomy.models.hubert import PublishedHuBERT, PublishedHuBERTConfig, from_hf_hubert, published_config_from_hf


def test_base_has_the_published_shape():
    config = PublishedHuBERTConfig()
    assert (config.receptive_field, config.stride) == (400, 320)  # 25 ms windows every 20 ms at 16 kHz
    with torch.device("meta"):
        model = PublishedHuBERT(config)
    assert sum(p.numel() for p in model.parameters()) == 94_371_712  # transformers' HubertModel at BASE
    table = explore.summary(model, torch.zeros(1, 16_000), device="meta")
    assert table.total_params == 94_371_712 and all(r.macs is not None for r in table.rows)


def _hf(seed=0, **overrides):
    transformers = pytest.importorskip("transformers")
    fields = dict(num_hidden_layers=2, num_attention_heads=4, hidden_size=64, intermediate_size=128, conv_dim=(32, 32, 32),
                  conv_kernel=(10, 3, 3), conv_stride=(5, 2, 2), num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4,
                  initializer_range=0.1)
    fields.update(overrides)
    torch.manual_seed(seed)
    config = transformers.HubertConfig(**fields)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = transformers.HubertModel(config).eval()
    return model, config


@pytest.mark.parametrize("variant", ["base", "large"])
def test_last_hidden_states_equal_transformers(variant):
    extra = {} if variant == "base" else dict(feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True)
    hf, config = _hf(**extra)
    ours = from_hf_hubert(hf.state_dict(), config.to_dict())
    assert not ours.training and ours.config.pre_norm == (variant == "large")
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in hf.parameters())
    waveform = torch.randn(2, 4000)
    with torch.no_grad():
        expected = hf(waveform).last_hidden_state
        got = ours(waveform)
    assert got.shape == expected.shape == (2, 199, 64) and expected.abs().max() > 1.0
    assert (got - expected).abs().max().item() < 1e-4


def test_old_weight_norm_names_and_head_weights_load():
    hf, config = _hf(seed=1)
    state = {"hubert." + k: v for k, v in hf.state_dict().items()}  # as in HubertForCTC's checkpoints
    g = state.pop("hubert.encoder.pos_conv_embed.conv.parametrizations.weight.original0")
    v = state.pop("hubert.encoder.pos_conv_embed.conv.parametrizations.weight.original1")
    state.update({"hubert.encoder.pos_conv_embed.conv.weight_g": g, "hubert.encoder.pos_conv_embed.conv.weight_v": v,
                  "lm_head.weight": torch.zeros(5, 64)})
    waveform = torch.randn(1, 3000)
    with torch.no_grad():
        torch.testing.assert_close(from_hf_hubert(state, config.to_dict())(waveform), hf(waveform).last_hidden_state,
                                   atol=1e-4, rtol=0)


def test_bad_configs_and_weights_are_named():
    hf, config = _hf()
    state = hf.state_dict()
    with pytest.raises(ValueError, match="lacks"):
        from_hf_hubert({k: v for k, v in state.items() if "layers.1.attention.q_proj" not in k}, config.to_dict())
    with pytest.raises(ValueError, match="shape"):
        from_hf_hubert(state, {**config.to_dict(), "intermediate_size": 96})
    with pytest.raises(ValueError, match="hidden_act"):
        published_config_from_hf({**config.to_dict(), "hidden_act": "relu"})
    with pytest.raises(TypeError, match="dict"):
        from_hf_hubert(state, "facebook/hubert-base-ls960")
    with pytest.raises(ValueError, match="feature_norm"):
        PublishedHuBERTConfig(feature_norm="batch")
    model = PublishedHuBERT(PublishedHuBERTConfig(conv_layers=((8, 10, 5), (8, 3, 2)), hidden=16, num_layers=1, num_heads=2,
                                                  ffn_hidden=32, pos_conv_kernel=4, pos_conv_groups=2))
    with pytest.raises(ValueError, match="at least 20 samples"):
        model(torch.randn(1, 10))
    with pytest.raises(ValueError, match=r"waveform must be a float tensor \(B, N\)"):
        model(torch.randn(1, 1, 100))


def _tiny():
    config = PublishedHuBERTConfig(conv_layers=((8, 10, 5), (8, 3, 2)), hidden=16, num_layers=2, num_heads=2, ffn_hidden=32,
                                   pos_conv_kernel=4, pos_conv_groups=2)
    torch.manual_seed(0)
    return PublishedHuBERT(config).eval()


def test_return_layers_gives_every_layer_and_the_last_is_the_output():
    model = _tiny()
    wave = torch.randn(1, 800)
    with torch.no_grad():
        layers = model(wave, return_layers=True)
        assert len(layers) == 2 and torch.equal(layers[-1], model(wave))


def test_hub_folder_loads_and_frames_take_the_label_at_their_centre(tmp_path):
    import json

    from nnanatomy import data, published, speech
    from nnanatomy.models.hubert import _hf_hubert_names

    model = _tiny()
    names = {**_hf_hubert_names(model.config), "pos_conv.weight_g": "encoder.pos_conv_embed.conv.weight_g",
             "pos_conv.weight_v": "encoder.pos_conv_embed.conv.weight_v"}
    ours = dict(model.named_parameters())
    torch.save({hf: ours[n].detach().clone() for n, hf in names.items()}, tmp_path / "pytorch_model.bin")
    (tmp_path / "config.json").write_text(json.dumps({
        "conv_dim": [8, 8], "conv_kernel": [10, 3], "conv_stride": [5, 2], "hidden_size": 16, "num_hidden_layers": 2,
        "num_attention_heads": 2, "intermediate_size": 32, "num_conv_pos_embeddings": 4, "num_conv_pos_embedding_groups": 2}))
    loaded = published.load_hubert(tmp_path)
    wave = torch.randn(1, 900)
    with torch.no_grad():
        torch.testing.assert_close(loaded(wave), model(wave))
    corpus = data.phone_corpus(n_utterances=2, n_speakers=2, units_per_utterance=4, seed=0)
    features, labels = speech.waveform_layer_features(loaded, corpus, 1)
    for u, h, y in zip(corpus, features, labels):
        assert h.shape == (1 + (len(u.wave) - 20) // 10, 16) and y.shape == (len(h),)
        j = len(h) // 2  # frame j covers samples [10 j, 10 j + 20): its centre is sample 10 j + 10
        assert y[j] == u.labels[(10 * j + 10) // u.hop_length]
    with pytest.raises(ValueError, match="layer"):
        speech.waveform_layer_features(loaded, corpus, 2)
    with pytest.raises(TypeError, match="PublishedHuBERT"):
        speech.waveform_layer_features(torch.nn.Linear(2, 2), corpus, 0)
    with pytest.raises(ValueError, match="hubert-size|size must be one of"):
        published.hubert("huge")
