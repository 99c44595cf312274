"""Chapter 12's network and inference at a published setting, checked against the reference.

The reference is Ultimate Vocal Remover's own network and spectrogram code (``lib_v5``), as the
``audio-separator`` package ships it. CI installs that package without its dependencies
(``make venv``): its network module needs only torch, its spectrogram module librosa and
soundfile, while the package's entry point would import ONNX Runtime and more. So the tests put
an empty stand-in for ``audio_separator.separator`` in ``sys.modules`` and import the two modules
from its folder directly. Nothing is downloaded: the weights are random.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from nnanatomy import published, separation
from nnanatomy.models import uvr5

SETTING = "1band_sr44100_hl512"


@pytest.fixture(scope="module")
def reference():
    spec = importlib.util.find_spec("audio_separator")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the reference (audio-separator, installed by `make venv` with --no-deps) is not installed")
    folder = Path(next(iter(spec.submodule_search_locations))) / "separator"
    saved = {k: sys.modules.get(k) for k in ("audio_separator", "audio_separator.separator")}
    for name, path in (("audio_separator", folder.parent), ("audio_separator.separator", folder)):
        stand_in = types.ModuleType(name)
        stand_in.__path__ = [str(path)]
        sys.modules[name] = stand_in
    try:
        base = "audio_separator.separator.uvr_lib_v5"
        yield types.SimpleNamespace(
            nets=importlib.import_module(f"{base}.vr_network.nets"),
            spec_utils=importlib.import_module(f"{base}.spec_utils"),
            params=importlib.import_module(f"{base}.vr_network.model_param_init"),
            modelparams=folder / "uvr_lib_v5" / "vr_network" / "modelparams",
        )
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def _random_state(model: torch.nn.Module, seed: int = 1, scale: float = 0.2) -> dict:
    """Random weights and BatchNorm statistics large enough that the mask varies (0.5 … 0.7)."""
    g = torch.Generator().manual_seed(seed)
    return {k: (torch.rand(v.shape, generator=g) + 0.5 if k.endswith("running_var") else torch.randn(v.shape, generator=g) * scale)
            if v.is_floating_point() else v for k, v in model.state_dict().items()}


@pytest.mark.parametrize("size_kb, width, n_params", [(31191, 0.5, 7_921_856), (123812, 1.0, 31_618_944), (123821, 1.0, 31_618_944)])
def test_the_network_is_the_reference(reference, size_kb, width, n_params):
    """UVR chooses the network by the checkpoint's size in KB; ours at the matching width has the
    same keys and shapes, loads the same weights strictly and computes the same mask (at full
    width on n_fft = 1024, half the bins, to save time: the widths do not depend on n_fft)."""
    n_fft = 2048 if width < 1 else 1024
    ref = reference.nets.determine_model_capacity(n_fft, size_kb)
    ours = uvr5.CascadedASPPNet(n_fft, width=width)
    ref_state, our_state = ref.state_dict(), ours.state_dict()
    assert list(ref_state) == list(our_state)
    assert all(ref_state[k].shape == our_state[k].shape for k in ref_state)
    assert sum(p.numel() for p in ours.parameters()) == n_params
    assert abs(uvr5.published_size_kib(ours) - size_kb) < 200  # the file name: the state dict plus ~180 KiB of pickling
    state = _random_state(ref)
    ref.load_state_dict(state, strict=True)
    ours.load_state_dict(state, strict=True)
    if size_kb == 123821:
        return  # UVR's two names for the same network: the same keys and shapes, checked above
    x = torch.rand(1, 2, n_fft // 2 + 1, 272)
    with torch.no_grad():
        mask = ref.eval().predict_mask(x)
        ours_out = ours.eval().predict(x)
    assert mask.std() > 1e-3  # the weights make the mask vary: the comparison tests the network
    torch.testing.assert_close(ours_out, mask * x[..., ours.offset:-ours.offset], rtol=1e-5, atol=1e-6)


def test_the_settings_are_the_reference_files(reference):
    for name, setting in separation.UVR_SETTINGS.items():
        params = json.loads((reference.modelparams / f"{name}.json").read_text())
        assert separation.PublishedSetting.from_uvr(name, params) == setting
    with pytest.raises(ValueError, match="single-band"):
        separation.PublishedSetting.from_uvr("4band_v2", json.loads((reference.modelparams / "4band_v2.json").read_text()))


@pytest.mark.parametrize("setting_name", [SETTING, "1band_sr32000_hl512"])
def test_a_song_end_to_end_as_the_reference_separates_it(reference, tmp_path, setting_name):
    """A checkpoint file with random weights at the published width, read by the package's loader,
    separates a stereo clip at the setting's rate exactly as UVR's pipeline does: its STFT,
    pre-filter, normalisation, 512-frame windows, aggressiveness, masking and inverse STFT."""
    su = reference.spec_utils
    mp = reference.params.ModelParameters(str(reference.modelparams / f"{setting_name}.json"))
    band = mp.param["band"][1]
    ref = reference.nets.determine_model_capacity(mp.param["bins"] * 2, 31191)
    state = _random_state(ref)
    ref.load_state_dict(state)
    ref.eval()
    torch.save(state, tmp_path / "checkpoint.pth")
    remover = published.load_vocal_remover(tmp_path / "checkpoint.pth", setting_name)
    assert remover.model.width == 0.5 and remover.setting is separation.UVR_SETTINGS[setting_name]

    rate = band["sr"]
    rng = np.random.default_rng(0)
    t = np.arange(int(1.5 * rate)) / rate
    song = np.stack([0.3 * np.sin(2 * np.pi * 220 * t), 0.3 * np.sin(2 * np.pi * 330 * t)]) + 0.05 * rng.standard_normal((2, t.size))
    song = song.astype(np.float32)

    # UVR's pipeline (separate.py's SeperateVR: loading_mix, inference_vr, spec_to_wav), step by step
    spec = su.combine_spectrograms({1: su.wave_to_spectrogram(song, band["hl"], band["n_fft"], mp, band=1)}, mp)
    magnitude, phase = su.preprocess(spec)
    frames = magnitude.shape[2]
    pad_l, pad_r, roi = su.make_padding(frames, 512, ref.offset)
    padded = np.pad(magnitude, ((0, 0), (0, 0), (pad_l, pad_r)))
    padded /= padded.max()
    with torch.no_grad():
        windows = [ref.predict_mask(torch.from_numpy(padded[None, :, :, i * roi:i * roi + 512]))[0].numpy()
                   for i in range((padded.shape[2] - 2 * ref.offset) // roi)]
    mask = np.concatenate(windows, axis=2)[:, :, :frames]
    mask = su.adjust_aggr(mask, False, {"value": 0.05, "split_bin": band["crop_stop"], "aggr_correction": None})  # UVR's default 5
    instruments = su.cmb_spectrogram_to_wave(mask * magnitude * np.exp(1j * phase), mp)
    vocals = su.cmb_spectrogram_to_wave((1 - mask) * magnitude * np.exp(1j * phase), mp)

    ours = remover.separate(song, rate, aggressiveness=0.1)
    assert ours.sample_rate == rate and ours.instruments.shape == song.shape
    n = instruments.shape[1]  # librosa's inverse stops at the last full hop; ours keeps the input's length
    assert n >= song.shape[1] - band["hl"]
    np.testing.assert_allclose(ours.instruments[:, :n], instruments, atol=1e-6)
    np.testing.assert_allclose(ours.vocals[:, :n], vocals, atol=1e-6)
    assert np.abs(instruments).max() > 0.1 and np.abs(vocals).max() > 0.1


def test_lowpass_is_the_published_pre_filter():
    config = separation.UVR_SETTINGS["1band_sr32000_hl512"].config
    ones = torch.ones(2, config.bins, 3, dtype=torch.complex64)
    gain = separation.lowpass(ones, config)[0, :, 0].real
    assert gain[999] == 1 and gain[1000] == pytest.approx(1 - 1 / 21) and gain[1019] == pytest.approx(1 / 21)
    assert (gain[1020:] == 0).all()
    assert separation.lowpass(ones, separation.SpectrogramConfig(2048, 512)) is ones
    for bad in [(0, 5), (5, 5), (10, 2000), (1.0, 5), [1, 5]]:
        with pytest.raises(ValueError, match="lowpass"):
            separation.SpectrogramConfig(2048, 512, lowpass=bad)
    with pytest.raises(ValueError, match="pad_mode"):
        separation.SpectrogramConfig(2048, 512, pad_mode="zeros")
    with pytest.raises(ValueError, match="1025 bins"):
        separation.lowpass(torch.ones(2, 513, 3), config)


def test_settings_outside_the_v4_family_are_refused():
    one = {"bins": 1024, "sr": 44100, "pre_filter_start": 1023, "pre_filter_stop": 1024,
           "band": {"1": {"sr": 44100, "hl": 512, "n_fft": 2048, "crop_start": 0, "crop_stop": 1024, "hpf_start": -1}}}
    assert separation.PublishedSetting.from_uvr(SETTING, one) == separation.UVR_SETTINGS[SETTING]
    for change, match in [({"mid_side": True}, "mid_side"), ({"bins": 672}, "keeps bins"), ({"band": {}}, "single-band"),
                          ({"band": {"1": {**one["band"]["1"], "hpf_start": 5}}}, "high-pass"),
                          ({"band": {"1": {**one["band"]["1"], "sr": 22050}}}, "sample rate"), ({"sr": None, "bins": None}, None)]:
        params = {**one, **change}
        if match is None:
            del params["sr"]
            match = "lacks"
        with pytest.raises(ValueError, match=match):
            separation.PublishedSetting.from_uvr("changed", params)
    with pytest.raises(TypeError, match="dict"):
        separation.PublishedSetting.from_uvr("changed", "1band_sr44100_hl512.json")


def test_uvr_hash_is_the_md5_of_the_last_10000_kib(tmp_path):
    big = tmp_path / "big.pth"
    data = np.random.default_rng(0).bytes(10_000 * 1024 + 4321)
    big.write_bytes(data)
    assert published.uvr_hash(big) == hashlib.md5(data[4321:]).hexdigest()
    small = tmp_path / "small.pth"
    small.write_bytes(b"abc")
    assert published.uvr_hash(small) == hashlib.md5(b"abc").hexdigest()
    with pytest.raises(ValueError, match="no file"):
        published.uvr_hash(tmp_path / "missing.pth")


def test_load_vocal_remover_refuses_what_is_not_this_network(tmp_path):
    model = uvr5.CascadedASPPNet(2048, width=0.5)
    state = model.state_dict()
    cases = {"not_a_dict.pth": [1, 2, 3], "no_width_key.pth": {"out.weight": torch.zeros(2, 32, 1, 1)},
             "extra_key.pth": {**state, "stg1_low_band_net.enc5.conv1.conv.0.weight": torch.zeros(1)}}
    for name, content in cases.items():
        torch.save(content, tmp_path / name)
        with pytest.raises(ValueError, match="state dict|CascadedASPPNet"):
            published.load_vocal_remover(tmp_path / name)
    (tmp_path / "text.pth").write_text("not a checkpoint")
    with pytest.raises(ValueError, match="could not read"):
        published.load_vocal_remover(tmp_path / "text.pth")
    torch.save(state, tmp_path / "good.pth")
    with pytest.raises(ValueError, match="setting must be one of"):
        published.load_vocal_remover(tmp_path / "good.pth", "4band_v2")
    with pytest.raises(ValueError, match="no file"):
        published.load_vocal_remover(tmp_path / "missing.pth")
    remover = published.load_vocal_remover(tmp_path / "good.pth")
    assert "7,921,856 parameters, 1band_sr44100_hl512" in repr(remover)


def test_vocal_remover_downloads_checks_the_hash_and_loads(tmp_path, monkeypatch):
    server = tmp_path / "server" / "TRvlvr" / "model_repo"
    server.mkdir(parents=True)
    torch.save(uvr5.CascadedASPPNet(2048, width=0.5).state_dict(), server / "MGM_MAIN_v4.pth")
    monkeypatch.setattr(published, "UVR_MODELS", (tmp_path / "server").as_uri() + "/{repo}/{file}")
    with pytest.raises(ValueError, match="another or a damaged file"):
        published.vocal_remover("MGM_MAIN_v4", tmp_path / "cache")
    entry = {**published.VOCAL_REMOVERS["MGM_MAIN_v4"], "uvr_hash": published.uvr_hash(server / "MGM_MAIN_v4.pth")}
    monkeypatch.setitem(published.VOCAL_REMOVERS, "MGM_MAIN_v4", entry)
    remover = published.vocal_remover("MGM_MAIN_v4", tmp_path / "cache")
    assert remover.setting.sample_rate == 44100 and remover.model.width == 0.5
    with pytest.raises(ValueError, match="name must be one of"):
        published.vocal_remover("1_HP-UVR")


def test_the_vocal_remover_resamples_and_takes_mono():
    torch.manual_seed(0)
    remover = separation.VocalRemover(uvr5.CascadedASPPNet(2048, width=0.125), separation.UVR_SETTINGS[SETTING], "narrow")
    song = np.random.default_rng(0).standard_normal(11025).astype(np.float32) * 0.1  # half a second of mono at 22.05 kHz
    out = remover.separate(song, 22050)
    assert out.sample_rate == 44100 and out.instruments.shape == out.vocals.shape == (2, 22050)
    np.testing.assert_allclose(out.instruments + out.vocals, separation.resample(np.stack([song, song]), 22050, 44100), atol=1e-3)
    with pytest.raises(ValueError, match="reads 512 bins"):
        separation.VocalRemover(uvr5.CascadedASPPNet(1024, width=0.125), separation.UVR_SETTINGS[SETTING])
    with pytest.raises(TypeError, match="PublishedSetting"):
        separation.VocalRemover(uvr5.CascadedASPPNet(2048, width=0.125), SETTING)
    with pytest.raises(ValueError, match="mono"):
        remover.separate(np.zeros((3, 5000), np.float32), 44100)
    with pytest.raises(ValueError, match="sample_rate"):
        remover.separate(song, 0)


def test_resample_keeps_the_pitch():
    t = np.arange(16000) / 16000
    tone = np.sin(2 * np.pi * 1000 * t).astype(np.float32)
    up = separation.resample(tone, 16000, 44100)
    assert up.shape == (44100,) and up.dtype == np.float32
    assert np.argmax(np.abs(np.fft.rfft(up))) == 1000  # 1 Hz bins over one second
    assert np.array_equal(separation.resample(tone, 16000, 16000), tone)
    with pytest.raises(ValueError, match="new_rate"):
        separation.resample(tone, 16000, 0)


@pytest.mark.parametrize("with_soundfile", [True, False])
def test_wav_round_trip(tmp_path, monkeypatch, with_soundfile):
    if not with_soundfile:
        monkeypatch.setitem(sys.modules, "soundfile", None)  # the standard-library reader
    elif importlib.util.find_spec("soundfile") is None:
        pytest.skip("soundfile is not installed")
    audio = np.stack([np.linspace(-1.2, 1.2, 1000), np.linspace(0.5, -0.5, 1000)]).astype(np.float32)
    clipped = separation.write_wav(tmp_path / "stereo.wav", audio, 44100)
    assert clipped == int((np.abs(audio) > 1).sum()) > 0
    back, rate = separation.read_audio(tmp_path / "stereo.wav")
    assert rate == 44100 and back.shape == (2, 1000) and back.dtype == np.float32
    assert np.abs(back - np.clip(audio, -1, 1)).max() <= 1.5 / 32768 + 1e-7  # written as ·32767, read as /32768, rounded
    separation.write_wav(tmp_path / "mono.wav", audio[1], 8000)
    mono, rate = separation.read_audio(tmp_path / "mono.wav")
    assert rate == 8000 and mono.shape == (2, 1000) and np.array_equal(mono[0], mono[1])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mono.wav", "stereo.wav"]  # no temporary file left
    (tmp_path / "noise.wav").write_bytes(b"RIFF1234WAVEjunk")
    with pytest.raises(ValueError, match="could not"):
        separation.read_audio(tmp_path / "noise.wav")
    with pytest.raises(ValueError, match="no file"):
        separation.read_audio(tmp_path / "absent.wav")
    with pytest.raises(ValueError, match="folder"):
        separation.write_wav(tmp_path / "absent" / "x.wav", audio, 44100)
    with pytest.raises(ValueError, match="finite|NaN"):
        separation.write_wav(tmp_path / "nan.wav", np.full(10, np.nan, np.float32), 44100)
    assert not (tmp_path / "nan.wav").exists()


def test_the_vocal_remover_leaves_the_model_mode_as_it_was():
    model = uvr5.CascadedASPPNet(2048, width=0.125).train()
    remover = separation.VocalRemover(model, separation.UVR_SETTINGS[SETTING])
    remover.separate(np.zeros((2, 4000), np.float32) + 0.01, 44100)
    assert model.training  # separate() ran in eval and restored the mode
