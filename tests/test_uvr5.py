"""Chapter 12: the published cascaded ASPP network, faithful to the last weight, and its newer blocks."""

import pytest
import torch

from nnanatomy import explore
from nnanatomy.models import uvr5
from nnanatomy.models.uvr5 import (ASPPModule, CascadedASPPNet, LSTMModule, NewASPPModule, NewDecoder, NewEncoder,
                                   crop_center)


def test_published_width_is_faithful():
    torch.manual_seed(0)
    model = CascadedASPPNet(2048)
    state = model.state_dict()
    assert sum(p.numel() for p in model.parameters()) == 31_618_944
    assert len(state) == 459
    assert sum(1 for k, v in state.items() if k.endswith("weight") and v.ndim == 4) == 89
    assert sum(1 for k in state if k.endswith("running_mean")) == 74
    for key in ("stg1_low_band_net.enc1.conv1.conv.0.weight", "stg3_full_band_net.aspp.conv3.conv.1.weight",
                "stg2_bridge.conv.1.running_var", "stg3_full_band_net.aspp.bottleneck.0.conv.0.weight",
                "stg1_high_band_net.dec4.conv.conv.1.num_batches_tracked", "out.weight", "aux1_out.weight", "aux2_out.weight"):
        assert key in state, key
    assert state["stg3_full_band_net.aspp.conv3.conv.0.weight"].shape == (512, 1, 3, 3)  # depthwise: one filter per channel
    # a "published checkpoint" (another instance's weights) loads strictly; the number of parameters does not depend on n_fft
    CascadedASPPNet(2048).load_state_dict(state, strict=True)
    assert sum(p.numel() for p in CascadedASPPNet(1024).parameters()) == 31_618_944
    assert round(uvr5.published_size_kib(model)) == 123_638  # ≈ the 123,812 KB of the file name (pickle overhead aside)


def test_published_width_shapes_on_meta():
    model = CascadedASPPNet(2048).eval()
    summary = explore.summary(model, torch.zeros(1, 2, 1025, 512), device="meta")
    assert summary.total_params == 31_618_944 and summary.total_flops == summary.flop_counter_flops
    assert next(model.parameters()).device.type == "cpu"  # the caller's model keeps its weights
    rows = {r.name: r for r in summary.rows}
    assert rows["out"].output_shape == "(1, 2, 1024, 512)"  # n_fft/2 bins; the mask is padded to 1,025 after
    assert rows["aux1_out"].output_shape == "not called" and rows["aux1_out"].params == 64 and rows["aux1_out"].macs == 0
    with pytest.raises(ValueError, match="meta"):
        explore.summary(model, torch.zeros(1, 2, 1025, 512), device="meta", timing=True)


def test_meta_summary_equals_a_real_run():
    torch.manual_seed(0)
    model = CascadedASPPNet(256, width=1 / 8)
    x = torch.rand(1, 2, 129, 32)
    real, meta = explore.summary(model, x), explore.summary(model, x, device="meta")
    assert [(r.name, r.macs, r.activation_bytes, r.output_shape) for r in real.rows] == \
           [(r.name, r.macs, r.activation_bytes, r.output_shape) for r in meta.rows]


def test_train_and_eval_outputs():
    torch.manual_seed(0)
    model = CascadedASPPNet(256, width=1 / 8)
    x = torch.rand(2, 2, 129, 32)
    outs = model.train()(x)
    assert len(outs) == 3 and all(o.shape == x.shape for o in outs)
    assert all(bool(((o >= 0) & (o <= x)).all()) for o in outs)  # a sigmoid mask times the mix
    model.eval()
    with torch.no_grad():
        plain = model(x)
        harder = model(x, aggressiveness={"split_bin": 40, "value": 0.3})
        mask = plain / x
        torch.testing.assert_close(harder[:, :, :40], mask[:, :, :40] ** 1.1 * x[:, :, :40], rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(harder[:, :, 40:], mask[:, :, 40:] ** 1.3 * x[:, :, 40:], rtol=1e-4, atol=1e-6)
        # the top bin of the mask is repeated into bin n_fft/2, which the network does not see
        torch.testing.assert_close(mask[:, :, 128], mask[:, :, 127])
        model.offset = 8
        assert model.predict(x).shape == (2, 2, 129, 16)


def test_bad_input_is_named():
    model = CascadedASPPNet(256, width=1 / 8).eval()
    with pytest.raises(ValueError, match="2 channels"):
        model(torch.rand(1, 1, 129, 32))
    with pytest.raises(ValueError, match="frequency bins"):
        model(torch.rand(1, 2, 100, 32))
    with pytest.raises(ValueError, match="multiple of 16"):
        model(torch.rand(1, 2, 129, 40))
    with pytest.raises(ValueError, match="2 · offset"):
        model.predict(torch.rand(1, 2, 129, 256))
    with pytest.raises(ValueError, match="n_fft"):
        CascadedASPPNet(1000)
    with pytest.raises(ValueError, match="width"):
        CascadedASPPNet(256, width=0)
    with pytest.raises(ValueError, match="narrower"):
        crop_center(torch.zeros(1, 1, 2, 5), torch.zeros(1, 1, 2, 6))


def test_crop_center_crops_time_only():
    h1 = torch.arange(2 * 9).float().reshape(1, 1, 2, 9)
    out = crop_center(h1, torch.zeros(1, 1, 4, 5))
    assert out.shape == (1, 1, 2, 5) and torch.equal(out[0, 0, 0], torch.tensor([2.0, 3, 4, 5, 6]))


def test_newer_blocks():
    x = torch.rand(2, 8, 16, 32)
    assert NewEncoder(8, 16, 3, 2, 1)(x).shape == (2, 16, 8, 16)  # stride on conv1, one output
    assert NewEncoder(8, 16, 3, 2, 1).conv1.conv[0].stride == (2, 2)
    old, new = ASPPModule(8, 16), NewASPPModule(8, 16)
    assert new.conv3.conv[0].dilation == (4, 4) and new.conv5.conv[0].dilation == (12, 12)
    assert old.conv5.conv[0].dilation == (16, 16) and old.conv5.conv[0].groups == 8
    assert new.conv3.conv[0].out_channels == 16 and new.bottleneck.conv[0].in_channels == 5 * 16
    assert new.eval()(x).shape == old.eval()(x).shape == (2, 16, 16, 32)
    decoder = NewDecoder(16 + 8, 8)
    assert decoder(torch.rand(2, 16, 8, 16), skip=x).shape == (2, 8, 16, 32) and not hasattr(decoder, "conv")
    lstm = LSTMModule(8, 16, 32).eval()
    assert lstm(x).shape == (2, 1, 16, 32)
    assert lstm.lstm.hidden_size == 16 and lstm.lstm.bidirectional
    with pytest.raises(ValueError, match="frequency bins"):
        lstm(torch.rand(2, 8, 12, 32))
    with pytest.raises(ValueError, match="even"):
        LSTMModule(8, 16, 31)


def test_lstm_module_is_counted_analytically():
    module = LSTMModule(4, 16, 8)
    s = explore.summary(module, torch.rand(2, 4, 16, 12))
    rows = {r.type: r for r in s.rows}
    assert rows["LSTM"].macs == 2 * 12 * 2 * 4 * 4 * (16 + 4)  # directions · frames · batch · gates · H · (bins + H)
    assert rows["Linear"].macs == 12 * 2 * 8 * 16
