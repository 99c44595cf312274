"""One regression test per defect of the reliability review that tests/test_train_reliability.py
does not already cover (the review numbers its 25 defects; the number is in each test's name).
Each test is the review's reproducer, and fails on the code the review probed."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from torch import nn

from nnanatomy import data, explore, judge, models, runtime, scratch, separation, speech, train
from nnanatomy.exercises import diffusion as ex_diffusion
from nnanatomy.exercises import dit as ex_dit
from nnanatomy.exercises import unet as ex_unet
from nnanatomy.models import conformer, diffusion, transformer, unet


def _mlp() -> models.MLP:
    torch.manual_seed(0)
    return models.MLP(models.MLPConfig(in_features=3, hidden=(4,), out_features=2))


def _states() -> tuple:
    return torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()


def _same(a: tuple, b: tuple) -> bool:
    return torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]


def test_05_diagnose_names_a_nan_network():
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    with torch.no_grad():
        net[0].weight.fill_(float("nan"))
    findings = explore.diagnose(explore.gradient_flow(net, torch.randn(5, 3), lambda m, b: m(b).pow(2).mean()))
    assert findings and findings[0].problem == "non-finite loss"
    assert {(f.layer, f.problem) for f in findings} >= {("(loss)", "non-finite loss"), ("0", "non-finite weights"),
                                                         ("0", "non-finite activations start here")}


def test_09_a_fully_masked_attention_row_is_an_error_not_nan():
    cfg = transformer.TransformerConfig(src_vocab_size=12, tgt_vocab_size=13, d_model=16, num_heads=2, d_ff=32,
                                        num_encoder_layers=1, num_decoder_layers=1, max_len=16)
    model = transformer.Transformer(cfg).eval()
    with pytest.raises(ValueError, match="every key masked"):
        model(torch.zeros(1, 3, dtype=torch.long), torch.tensor([[1, 5, 6]]))  # a source of padding only
    attention = unet.CrossAttention2d(4, 6, num_heads=2)
    with pytest.raises(ValueError, match="every key masked"):
        attention(torch.randn(1, 4, 3, 3), torch.randn(1, 5, 6), context_mask=torch.ones(1, 5, dtype=torch.bool))
    block = conformer.ConformerBlock(conformer.ConformerConfig(input_dim=16, d_model=16, num_heads=2, num_layers=1)).eval()
    with pytest.raises(ValueError, match="every key masked"):
        block(torch.randn(1, 4, 16), torch.ones(1, 4, dtype=torch.bool))
    q = np.random.default_rng(0).normal(size=(1, 3, 4))
    with pytest.raises(ValueError, match="every key masked"):
        scratch.scaled_dot_product_attention(q, q, q, np.ones((1, 3, 3), dtype=bool))
    with pytest.raises(TypeError, match="bool"):
        scratch.scaled_dot_product_attention(q, q, q, "no")  # a truthy string used to mask every position
    with pytest.raises(TypeError, match="int"):
        scratch.padding_mask(np.array([[3, 4, 0]]), True)


def test_10_sequence_lengths_are_checked():
    encoder = conformer.ConformerEncoder(conformer.ConformerConfig(input_dim=8, d_model=16, num_heads=2, num_layers=1)).eval()
    x = torch.randn(2, 16, 8)
    for lengths in (torch.tensor([0, 16]), torch.tensor([-3, 16]), torch.tensor([17, 16]), torch.tensor([3, 16])):
        with pytest.raises(ValueError, match="lengths"):
            encoder(x, lengths)
    with pytest.raises(TypeError, match="integer"):
        encoder(x, torch.tensor([8.0, 16.0]))
    out, mask = encoder(x, torch.tensor([4, 16]))
    assert torch.isfinite(out).all() and mask[0].sum() == 3  # 4 frames make one encoder frame of 4
    rq = models.bestrq.BestRQ(conformer.ConformerConfig(input_dim=8, d_model=16, num_heads=2, num_layers=1), codebook_size=8,
                              code_dim=4)
    with pytest.raises(ValueError, match="lengths"):
        rq.loss(torch.randn(2, 32, 8), torch.tensor([2, 32]))
    loss, parts = rq.loss(torch.randn(1, 8, 8), torch.tensor([8]), generator=torch.Generator().manual_seed(3))
    assert torch.isfinite(loss)  # no masked frame in a short utterance: a zero loss, not NaN
    if not parts["selected"].any():
        assert float(loss) == 0.0


def _mix(n: int = 2000) -> np.ndarray:
    stems = data.music_stems(seconds=0.25, sample_rate=8000)
    return (stems.vocals + stems.accompaniment)[:, :n].astype(np.float32)


def test_11_one_nan_sample_is_refused_by_the_separation():
    config = separation.SpectrogramConfig(n_fft=128, hop=32)
    net = models.uvr5.CascadedASPPNet(n_fft=128, width=0.25).eval()
    mix = _mix()
    mix[0, 100] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        separation.separate(mix, net, config, window=272)
    with pytest.raises(ValueError, match="NaN"):
        separation.stft(mix, config)
    for bad in (float("nan"), -0.5):
        with pytest.raises(ValueError, match="aggressiveness"):
            separation.separate(_mix(), net, config, window=272, aggressiveness=bad)


def test_12_audio_shorter_than_half_a_window_is_a_clear_error():
    with pytest.raises(ValueError, match="needs more than 256"):
        separation.stft(np.zeros((2, 200), np.float32))
    with pytest.raises(ValueError, match="needs more than 256"):
        separation.separate(np.zeros((2, 200), np.float32), models.uvr5.CascadedASPPNet(n_fft=512, width=0.25))


def test_13_si_sdr_has_defined_edges():
    x = np.random.default_rng(0).normal(size=(2, 100))
    with pytest.raises(ValueError, match="silent"):
        separation.si_sdr(np.zeros((2, 100)), x)
    assert separation.si_sdr(x, np.zeros((2, 100))) == -np.inf  # nothing of the reference in the estimate
    assert separation.si_sdr(x, 3 * x) > 200  # the reference itself, up to scale (and round-off)
    with pytest.raises(ValueError, match="NaN"):
        separation.si_sdr(x, np.full((2, 100), np.nan))
    with pytest.raises((TypeError, ValueError)):
        separation.si_sdr(np.zeros((2, 0)), np.zeros((2, 0)))


def test_14_diffusion_step_indices_are_checked():
    schedule = diffusion.NoiseSchedule.linear(10)
    x = torch.randn(2, 1, 4, 4)
    for t in (-1, 10):
        with pytest.raises(ValueError, match="t must be in"):
            diffusion.reverse_step(schedule, x, t, torch.randn_like(x))
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        schedule.q_sample(x, torch.tensor([-1, 3]), torch.randn_like(x))
    with pytest.raises(ValueError, match="one step per sample"):
        schedule.q_sample(torch.randn(1, 4, 4), torch.tensor([0, 1]), torch.randn(1, 4, 4))
    eps_model = models.UNet(models.UNetConfig(in_channels=1, out_channels=1, base_channels=4, depth=2, time_dim=8)).eval()
    for clip in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="clip"):
            diffusion.ddim_sample(eps_model, schedule, (1, 1, 8, 8), 2, clip=clip)


def test_15_nan_does_not_pass_range_checks():
    with pytest.raises(ValueError, match="vocal_db"):
        data.music_stems(vocal_db=float("nan"))
    for make in (lambda: data.speech_like(noise_std=float("nan")), lambda: data.shapes_segmentation(2, noise_std=float("nan")),
                 lambda: data.reverb_regression(2, noise_std=float("nan"))):
        with pytest.raises(ValueError, match="noise_std"):
            make()
    wave = np.random.default_rng(0).normal(size=1600)
    with pytest.raises(ValueError, match="floor"):
        data.log_mel_spectrogram(wave, 16000, floor=-1.0)
    with pytest.raises(ValueError, match="top_db"):
        data.mfcc(wave, 16000, top_db=float("nan"))
    with pytest.raises(ValueError, match="std"):
        models.bestrq.mask_with_noise(torch.randn(1, 4, 3), torch.ones(1, 4, dtype=torch.bool), std=float("nan"))
    with pytest.raises(ValueError, match="noise_std"):
        models.TopKRouter(8, 4, 2, noise_std=float("nan"))
    with pytest.raises(ValueError):
        data.Grammar({"S": [(float("nan"), ["a"])]})


def test_16_fit_refuses_broadcast_targets_and_a_foreign_scheduler():
    model = _mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    batches = [(torch.randn(4, 3), torch.randn(4, 1))]  # the model has 2 outputs
    with pytest.raises(ValueError, match="broadcast"):
        train.fit(model, batches, optimizer=optimizer, loss_fn=nn.MSELoss(), progress=False)
    with pytest.raises(ValueError, match="broadcast"):
        train.evaluate_loss(model, batches, nn.MSELoss())
    other = torch.optim.SGD(_mlp().parameters(), lr=0.1)
    with pytest.raises(ValueError, match="another optimizer"):
        train.fit(model, [(torch.randn(4, 3), torch.randn(4, 2))], optimizer=optimizer, loss_fn=nn.MSELoss(), progress=False,
                  scheduler=torch.optim.lr_scheduler.StepLR(other, 1))


def test_17_truthy_strings_are_not_booleans():
    before = torch.are_deterministic_algorithms_enabled()
    with pytest.raises(TypeError, match="deterministic"):
        runtime.seed_everything(0, deterministic="no")
    assert torch.are_deterministic_algorithms_enabled() == before
    with pytest.raises(TypeError, match="shuffle"):
        data.tensor_loader(np.zeros((4, 2)), batch_size=2, shuffle="no")
    with pytest.raises(TypeError, match="tta"):
        separation.separate(_mix(), models.uvr5.CascadedASPPNet(n_fft=128, width=0.25), separation.SpectrogramConfig(128, 32),
                            window=272, tta="no")
    gpt = models.GPT(models.GPTConfig(vocab_size=11, max_seq_len=16, d_model=16, num_heads=2, num_layers=1))
    with pytest.raises(TypeError, match="greedy"):
        gpt.generate(torch.tensor([[1]]), 2, greedy="no")


def test_17_load_checkpoint_strict_must_be_a_bool(tmp_path):
    model = _mlp()
    train.save_checkpoint(tmp_path / "c.pt", model)
    with pytest.raises(TypeError, match="strict"):
        train.load_checkpoint(tmp_path / "c.pt", model, strict="no")


def test_18_devices_are_checked():
    with pytest.raises(TypeError, match="device"):
        runtime.move_to({"x": torch.randn(2)}, 3.5)  # used to return a float64 tensor
    for call in (lambda: runtime.environment_report("gpu0"), lambda: runtime.move_to(torch.zeros(1), "gpu0"),
                 lambda: train.evaluate_loss(_mlp(), [(torch.randn(2, 3), torch.randn(2, 2))], nn.MSELoss(), device="gpu0"),
                 lambda: models.pretrained.load_pretrained("unet-uncond", device="gpu0")):
        with pytest.raises(ValueError, match="device"):
            call()


def test_20_failed_calls_leave_their_inputs_unchanged():
    x = np.zeros(3)
    with pytest.raises(TypeError):
        scratch.numerical_gradient(lambda: None, x)
    assert np.array_equal(x, np.zeros(3))
    layer = scratch.BatchNorm2D(2)
    mean, var = layer.running_mean.copy(), layer.running_var.copy()
    explore.gradcheck(layer, np.random.default_rng(0).normal(size=(3, 2, 4, 4)))
    assert np.array_equal(layer.running_mean, mean) and np.array_equal(layer.running_var, var)
    net = models.uvr5.CascadedASPPNet(n_fft=128, width=0.25).train()
    buffers = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.raises(ValueError):
        separation.separation_loss(net, (torch.rand(2, 2, 65, 16), torch.rand(2, 2, 65, 8)))  # a mismatched target
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in buffers.items())


def test_21_huge_sizes_fail_at_once():
    for call in (lambda: data.phone_corpus(units_per_utterance=10**12), lambda: data.phone_corpus(n_utterances=10**12),
                 lambda: data.speech_like(n_syllables=10**12), lambda: data.shapes_segmentation(2, max_shapes=10**12),
                 lambda: models.lab.ViTClassifier(depth=10**12)):
        with pytest.raises(ValueError, match="must be"):
            call()
    stems = data.music_stems(seconds=0.25, sample_rate=8000)
    with pytest.raises(ValueError, match="crops_per_song"):
        separation.SeparationCrops([stems], separation.SpectrogramConfig(128, 32), frames=16, crops_per_song=10**12)
    features = [torch.randn(20, 4)]
    with pytest.raises(ValueError, match="stack"):
        speech.encoder_rate_frames(features, data.phone_corpus(n_utterances=1, n_speakers=1, units_per_utterance=2), stack=10**12)


def test_22_empty_data_is_refused():
    stems = data.music_stems(seconds=0.25, sample_rate=8000)
    for count in (0, -3):
        with pytest.raises(ValueError, match="crops_per_song"):
            separation.SeparationCrops([stems], separation.SpectrogramConfig(128, 32), frames=16, crops_per_song=count)
    with pytest.raises(ValueError, match="no batch"):
        data.tensor_loader(np.zeros((5, 2)), np.zeros(5), batch_size=10, drop_last=True)
    with pytest.raises(ValueError, match="at least one sample"):
        data.tensor_loader(np.zeros((0, 2)), batch_size=2)
    with pytest.raises((TypeError, ValueError)):
        speech.information(np.array([], dtype=int), np.array([], dtype=int))
    with pytest.raises(TypeError, match="non-empty"):
        speech.all_layer_features(conformer.ConformerEncoder(conformer.ConformerConfig(input_dim=8, d_model=16, num_heads=2,
                                                                                        num_layers=1)), [])


def test_23_degenerate_speech_features_are_refused():
    corpus = data.phone_corpus(n_utterances=1, n_speakers=1, units_per_utterance=2)
    silent = data.PhoneUtterance(np.zeros_like(corpus[0].wave), corpus[0].labels, 0, corpus[0].sample_rate, corpus[0].hop_length)
    with pytest.raises(ValueError, match="constant"):
        speech.log_mel_features([silent], n_mels=16)
    with pytest.raises(ValueError, match="std"):
        speech.log_mel_features(corpus, n_mels=16, stats=(torch.zeros(16), torch.zeros(16)))
    u = corpus[0]
    with pytest.raises(ValueError, match="one entry per frame"):
        data.PhoneUtterance(u.wave, u.labels[:-5], u.speaker, u.sample_rate, u.hop_length)


def test_24_wrong_types_get_named_errors_not_raw_python_ones():
    with pytest.raises(TypeError, match="decay"):
        train.EMA(_mlp(), decay="0.9")
    ema = train.EMA(_mlp(), 0.9)
    with pytest.raises(ValueError):
        ema.update(nn.Linear(2, 2))
    with pytest.raises(TypeError, match="features"):
        data.deltas(None)
    vocab = data.WordVocab(("<pad>", "<bos>", "<eos>", "a"))
    with pytest.raises(TypeError, match="non-empty"):
        vocab.encode([])
    with pytest.raises(TypeError, match="SpectrogramConfig"):
        separation.istft(torch.zeros(65, 4, dtype=torch.complex64), 100, config=None)


def test_24_checkers_give_verdicts_for_wrong_student_functions():
    for check in (ex_diffusion.check_q_sample, ex_diffusion.check_guidance, ex_unet.check_iou, ex_dit.check_modulate):
        result = check(lambda *args, **kwargs: None)
        assert not result and "your code failed" in result.message


def test_25_train_digit_judge_leaves_the_global_random_state_and_checks_first():
    before = _states()
    with pytest.raises(TypeError, match="seed"):
        judge.train_digit_judge(seed=None)
    assert _same(before, _states())
    judge_model, accuracy = judge.train_digit_judge(seed=0, epochs=1)
    assert _same(before, _states()) and 0 < accuracy <= 1
    again, accuracy_again = judge.train_digit_judge(seed=0, epochs=1)
    assert accuracy_again == accuracy and all(torch.equal(a, b) for a, b in zip(judge_model.state_dict().values(),
                                                                               again.state_dict().values()))


def test_lower_impact_findings():
    with pytest.raises(ValueError):
        explore.grade(-1.0)
    with pytest.raises(ValueError):
        explore.format_bytes(float("inf"))
    with pytest.raises(ValueError, match="repeat"):
        data.CharVocab(("a", "a"))
    with pytest.raises(TypeError, match="single characters"):
        data.CharVocab(("ab",))
    with pytest.raises(TypeError, match="1-D"):
        data.CharVocab(("a", "b")).decode(np.array([[0, 1]]))
    with pytest.raises(ValueError, match="ids"):
        data.WordVocab(("<pad>", "<bos>", "<eos>", "a")).decode([3, -1])
    with pytest.raises(ValueError, match="n_fft"):
        separation.SpectrogramConfig(n_fft=10**12)
    with pytest.raises(ValueError, match="end"):
        data.Segment("vowel:a", 1.0, 0.5)
    with pytest.raises(ValueError, match="same number of samples"):
        data.Split(np.zeros((3, 2)), np.zeros(2, dtype=int), np.zeros((1, 2)), np.zeros(1, dtype=int))
    with pytest.raises(TypeError, match="passed"):
        from nnanatomy.exercises import CheckResult

        CheckResult("no", "message")
    with pytest.raises(ValueError, match="not fitted"):
        data.Standardizer().transform(np.zeros((2, 2)))
