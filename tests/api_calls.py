"""A valid call of every public callable of nnanatomy, for the probe in `api_contract.py`.

Each entry of CALLS builds fresh arguments (the probe calls it once per case, so that a case
that changes its inputs cannot affect the next). Sizes are tiny: the whole probe runs in under a
minute. A callable that cannot be probed this way is in NOT_PROBED with the reason.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

import numpy as np
import torch
from torch import nn

from api_contract import Call
from nnanatomy import (data, display, distributed, exercises, experiments, explore, judge, models, plots, plots_reverbnet,
                       published, runtime, scratch, separation, speech, train)
from nnanatomy.data import bpe
from nnanatomy.models import (bestrq, conformer, diffusion, dit, gpt, hubert, lab, moe, ngram, pretrained, resnet, reverbnet, transformer,
                              unet, uvr5)

C = Call
T = torch.tensor


def _g(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=_g(seed))


def _nrandn(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


def _bpe() -> bpe.BytePairTokenizer:
    return bpe.BytePairTokenizer.train("ab ab ab cd cd", 260)


def _gpt2_encoder() -> dict:
    alphabet = bpe.gpt2_byte_alphabet()
    encoder = {alphabet[b]: b for b in range(256)}
    return {**encoder, "ab": 256, "<|endoftext|>": 257}


def _scratch_folder() -> str:
    import tempfile
    return tempfile.mkdtemp(prefix="nnanatomy-probe-")


def _local_hub() -> str:
    """A 'hub' on the local disk (urllib reads file:// addresses): fetch runs without a network."""
    import pathlib
    root = pathlib.Path(_scratch_folder())
    (root / "local" / "repo").mkdir(parents=True)
    (root / "local" / "repo" / "file.txt").write_text("hello")
    return root.as_uri() + "/{repo}/{file}"


def _gpt2_folder() -> str:
    """A tiny GPT-2 in the Hub's layout (pytorch_model.bin, config.json, vocab.json, merges.txt)."""
    import json
    import pathlib
    folder = pathlib.Path(_scratch_folder())
    (folder / "config.json").write_text(json.dumps({**_HF_GPT2_CONFIG, "vocab_size": 257}))
    config = gpt.config_from_hf_gpt2({**_HF_GPT2_CONFIG, "vocab_size": 257})
    torch.manual_seed(0)
    ours = dict(models.GPT(config).named_parameters())
    torch.save({"transformer." + hf: (ours[n].detach().t() if t else ours[n].detach()).clone()
                for n, (hf, t) in gpt._hf_gpt2_names(config).items()}, folder / "pytorch_model.bin")
    alphabet = bpe.gpt2_byte_alphabet()
    (folder / "vocab.json").write_text(json.dumps({**{alphabet[b]: b for b in range(256)}, "<|endoftext|>": 256}))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return str(folder)


_HF_HUBERT_CONFIG = {"conv_dim": [8, 8], "conv_kernel": [10, 3], "conv_stride": [5, 2], "hidden_size": 16, "num_hidden_layers": 1,
                     "num_attention_heads": 2, "intermediate_size": 32, "num_conv_pos_embeddings": 4, "num_conv_pos_embedding_groups": 2}


def _tiny_published_hubert_config() -> hubert.PublishedHuBERTConfig:
    return hubert.published_config_from_hf(_HF_HUBERT_CONFIG)


def _hf_hubert_state() -> dict:
    """A tiny HuBERT state dict under Hugging Face's names."""
    torch.manual_seed(0)
    config = _tiny_published_hubert_config()
    ours = dict(hubert.PublishedHuBERT(config).named_parameters())
    names = {**hubert._hf_hubert_names(config), "pos_conv.weight_g": "encoder.pos_conv_embed.conv.weight_g",
             "pos_conv.weight_v": "encoder.pos_conv_embed.conv.weight_v"}
    return {hf: ours[name].detach().clone() for name, hf in names.items()}


def _hubert_folder() -> str:
    import json
    import pathlib
    folder = pathlib.Path(_scratch_folder())
    torch.save(_hf_hubert_state(), folder / "pytorch_model.bin")
    (folder / "config.json").write_text(json.dumps(_HF_HUBERT_CONFIG))
    return str(folder)


_HF_GPT2_CONFIG = {"vocab_size": 11, "n_positions": 16, "n_embd": 16, "n_layer": 1, "n_head": 2}


def _hf_gpt2_state() -> dict:
    """A small GPT-2 state dict under Hugging Face's names (Conv1D weights transposed)."""
    config = gpt.config_from_hf_gpt2(_HF_GPT2_CONFIG)
    torch.manual_seed(0)
    ours = dict(models.GPT(config).named_parameters())
    return {"transformer." + hf: (ours[name].detach().t() if transposed else ours[name].detach()).clone()
            for name, (hf, transposed) in gpt._hf_gpt2_names(config).items()}


@functools.cache
def _corpus_cached() -> tuple:
    return tuple(data.phone_corpus(n_utterances=2, n_speakers=2, units_per_utterance=4))


def _corpus() -> list:
    return copy.deepcopy(list(_corpus_cached()))


def _features() -> list[torch.Tensor]:
    return speech.log_mel_features(_corpus(), n_mels=16)[0]


def _mlp() -> models.MLP:
    torch.manual_seed(0)
    return models.MLP(models.MLPConfig(in_features=3, hidden=(4,), out_features=2))


def _batches() -> list:
    return [(_randn(4, 3, seed=i), _randn(4, 2, seed=10 + i)) for i in range(2)]


def _sgd(m: nn.Module) -> torch.optim.Optimizer:
    return torch.optim.SGD(m.parameters(), lr=0.01)


def _checkpoint(tmp: list) -> str:
    import tempfile

    folder = tempfile.mkdtemp(prefix="probe-")
    m = _mlp()
    path = f"{folder}/c.pt"
    train.save_checkpoint(path, m, _sgd(m))
    return path


def _gpt() -> models.GPT:
    torch.manual_seed(0)
    return models.GPT(models.GPTConfig(vocab_size=11, max_seq_len=16, d_model=16, num_heads=2, num_layers=1))


def _moe_gpt() -> models.GPT:
    torch.manual_seed(0)
    return models.GPT(models.GPTConfig(vocab_size=11, max_seq_len=16, d_model=16, num_heads=2, num_layers=1, ffn="moe",
                                       num_experts=4, top_k=2))


def _tcfg() -> transformer.TransformerConfig:
    return transformer.TransformerConfig(src_vocab_size=12, tgt_vocab_size=13, d_model=16, num_heads=2, d_ff=32,
                                         num_encoder_layers=1, num_decoder_layers=1, max_len=16, dropout=0.0)


def _transformer() -> transformer.Transformer:
    torch.manual_seed(0)
    return transformer.Transformer(_tcfg())


def _gpt_block_params() -> dict:
    torch.manual_seed(0)
    gpt = models.GPT(models.GPTConfig(vocab_size=5, max_seq_len=4, d_model=8, num_heads=2, num_layers=1, dropout=0.0))
    return {k: v.detach().double().numpy() for k, v in gpt.state_dict().items()}


def _moe_params() -> dict:
    torch.manual_seed(0)
    layer = models.MoEFeedForward(8, 6, num_experts=4, top_k=2, shared_experts=1)
    return {f"ffn.{k}": v.detach().double().numpy() for k, v in layer.state_dict().items()}


def _seq2seq() -> models.Seq2Seq:
    torch.manual_seed(0)
    return models.Seq2Seq(models.Seq2SeqConfig(12, 13, embed_dim=4, hidden_size=6))


def _chained() -> data.ChainedTranslation:
    return data.chained_translation(20, 3, seed=0)


def _np_params() -> dict:
    return {k: v.detach().numpy().astype(np.float64) for k, v in _transformer().state_dict().items()}


def _ccfg() -> conformer.ConformerConfig:
    return conformer.ConformerConfig(input_dim=16, d_model=16, num_heads=2, num_layers=1, ff_mult=2, kernel_size=3, max_len=64)


def _hcfg() -> hubert.HuBERTConfig:
    return hubert.HuBERTConfig(input_dim=16, d_model=16, num_heads=2, num_layers=1, d_ff=32, pos_conv_kernel=3,
                               pos_conv_groups=2, num_clusters=5, final_dim=8)


def _bestrq() -> bestrq.BestRQ:
    torch.manual_seed(0)
    return bestrq.BestRQ(_ccfg(), codebook_size=8, code_dim=4, mask_prob=0.2, mask_span=2)


def _hubert() -> hubert.HuBERT:
    torch.manual_seed(0)
    return hubert.HuBERT(_hcfg())


def _unet(**kw: Any) -> models.UNet:
    torch.manual_seed(0)
    return models.UNet(models.UNetConfig(in_channels=1, out_channels=1, base_channels=4, depth=2, **kw))


def _dit() -> models.DiT:
    torch.manual_seed(0)
    return models.DiT(models.DiTConfig(image_size=4, patch=2, hidden=16, depth=1, num_heads=2, num_classes=3))


def _schedule() -> diffusion.NoiseSchedule:
    return diffusion.NoiseSchedule.linear(10)


def _eps_model() -> nn.Module:
    return _unet(time_dim=8)


def _uvr() -> uvr5.CascadedASPPNet:
    torch.manual_seed(0)
    return uvr5.CascadedASPPNet(n_fft=128, width=0.25).eval()


def _stems() -> data.MusicStems:
    return data.music_stems(seconds=0.1, sample_rate=8000)


def _tiny_setting() -> separation.PublishedSetting:
    """A published-style setting small enough for the probe (the real ones need n_fft = 2048)."""
    return separation.PublishedSetting("tiny", 8000, separation.SpectrogramConfig(128, 32, pad_mode="constant", lowpass=(60, 64)), 64)


def _wav_file() -> str:
    path = _scratch_folder() + "/song.wav"
    separation.write_wav(path, _nrandn(2, 800).astype(np.float32) * 0.1, 8000)
    return path


def _uvr_checkpoint() -> str:
    path = _scratch_folder() + "/checkpoint.pth"
    torch.save(_uvr().state_dict(), path)
    return path


def _crops() -> separation.SeparationCrops:
    return separation.SeparationCrops([_stems()], separation.SpectrogramConfig(n_fft=128, hop=32), frames=16, crops_per_song=2)


def _graph() -> tuple[np.ndarray, np.ndarray]:
    adj = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=np.float64)
    return adj, _nrandn(3, 4)


def _cnn() -> models.CNNClassifier:
    torch.manual_seed(0)
    return models.CNNClassifier(models.CNNConfig(channels=(4,), hidden=8))


def _reverb() -> reverbnet.ReverberationNet:
    torch.manual_seed(0)
    return reverbnet.ReverberationNet(d=8)


def _flow() -> explore.GradientFlow:
    m = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    return explore.gradient_flow(m, _randn(5, 3), lambda mod, b: mod(b).pow(2).mean())


def _summary() -> explore.Summary:
    return explore.summary(_mlp(), _randn(2, 3))


def _comparison() -> explore.Comparison:
    return explore.compare({"a": _mlp}, _batches(), (_randn(2, 3),), lambda m: {"loss": 0.5}, "loss",
                           loss_fn=nn.MSELoss(), epochs=1)


def _judge_samples() -> torch.Tensor:
    return torch.rand(3, 1, 8, 8, generator=_g()) * 2 - 1


def _char_rnn() -> models.CharRNN:
    torch.manual_seed(0)
    return models.CharRNN(models.CharRNNConfig(vocab_size=7, embed_dim=4, hidden_size=8))


def _scratch_mlp() -> scratch.MLP:
    return scratch.MLP([3, 4, 2])


def _grammar() -> data.Grammar:
    return data.Grammar({"S": [(1.0, ["ab", "A"]), (1.0, ["b"])], "A": [(2.0, ["a"]), (1.0, ["c"])]})


def _fitted_standardizer() -> data.Standardizer:
    return data.Standardizer().fit(_nrandn(5, 2))


def _history() -> train.History:
    h = train.History()
    h.epoch += [1, 2]
    h.train_loss += [1.0, 0.5]
    h.lr += [0.1, 0.1]
    h.seconds += [0.1, 0.1]
    h.grad_norm += [1.0, 1.0]
    return h


def _enter_and_leave(module: nn.Module) -> bool:
    with runtime.eval_mode(module) as inside:
        return inside.training


def _checker(fn: Any, answer: Any) -> Call:
    return C(fn, (answer,), checker=True)


def _student(*args: Any, **kwargs: Any) -> Any:
    return None


class _StudentClass:
    """A student's class with nothing in it yet."""


CALLS: dict[str, Any] = {
    # ------------------------------------------------------------------ runtime
    "runtime.environment_report": lambda: C(runtime.environment_report, (), {"device": "cpu"}),
    "runtime.eval_mode": lambda: C(_enter_and_leave, (_mlp(),)),
    "runtime.get_device": lambda: C(runtime.get_device, ("cpu",)),
    "runtime.get_scale": lambda: C(runtime.get_scale, ("cpu",)),
    "runtime.move_to": lambda: C(runtime.move_to, ({"x": _randn(2)}, torch.device("cpu")), accepts_any=("obj",)),
    "runtime.seed_everything": lambda: C(runtime.seed_everything, (0,), {"deterministic": False}),
    "runtime.synchronize": lambda: C(runtime.synchronize, ("cpu",)),
    "runtime.fix_threads": lambda: C(runtime.fix_threads, (torch.get_num_threads(),)),
    # ------------------------------------------------------------------ data
    "data.audio.Segment": lambda: C(data.Segment, ("vowel", 0.0, 0.1)),
    "data.audio.speech_like": lambda: C(data.speech_like, (), {"n_syllables": 2, "sample_rate": 8000, "noise_std": 0.01}),
    "data.features.dct_matrix": lambda: C(data.dct_matrix, (4, 8)),
    "data.features.deltas": lambda: C(data.deltas, (_nrandn(3, 12),), {"width": 5, "order": 1}),
    "data.features.hz_to_mel": lambda: C(data.hz_to_mel, (np.array([100.0, 1000.0]),), nan_ok=("hz",)),
    "data.features.mel_to_hz": lambda: C(data.mel_to_hz, (np.array([100.0, 1000.0]),), nan_ok=("mel",)),
    "data.features.log_mel_spectrogram": lambda: C(data.log_mel_spectrogram, (_nrandn(1600), 16000),
                                                   {"n_fft": 256, "hop_length": 160, "n_mels": 16, "fmin": 0.0, "floor": 1e-10}),
    "data.features.mel_filterbank": lambda: C(data.mel_filterbank, (16000, 256), {"n_mels": 16, "fmin": 0.0}),
    "data.features.mfcc": lambda: C(data.mfcc, (_nrandn(1600), 16000), {"n_mfcc": 8, "n_fft": 256, "n_mels": 16, "top_db": 80.0}),
    "data.features.power_spectrogram": lambda: C(data.power_spectrogram, (_nrandn(1600),), {"n_fft": 256, "hop_length": 160}),
    "data.functions.quadratic": lambda: C(data.quadratic, (8,), {"noise_std": 0.1}),
    "data.graphs.sbm_graph": lambda: C(data.sbm_graph, (), {"blocks": 2, "nodes_per_block": 5, "features": 3, "labelled_per_block": 2}),
    "data.images.digit_captions": lambda: C(data.digit_captions, (np.array([0, 1, 2]),), {"null_fraction": 0.0}),
    "data.images.digits": lambda: C(data.digits, (), {"test_size": 0.25}),
    "data.images.null_captions": lambda: C(data.null_captions, (3,)),
    "data.loaders.tensor_loader": lambda: C(data.tensor_loader, (_nrandn(6, 2), _nrandn(6)), {"batch_size": 2, "shuffle": True, "drop_last": False}),
    "data.music.music_stems": lambda: C(data.music_stems, (), {"seconds": 0.1, "sample_rate": 8000, "vocal_db": 0.0, "vocal_spread_db": 3.0}),
    "data.phones.phone_corpus": lambda: C(data.phone_corpus, (), {"n_utterances": 1, "n_speakers": 1, "units_per_utterance": 3,
                                                                  "snr_db": (20.0, 35.0), "glide": 0.0}),
    "data.scaling.Standardizer": lambda: C(data.Standardizer),
    "data.scaling.Standardizer.fit": lambda: C(data.Standardizer().fit, (_nrandn(5, 2),)),
    "data.scaling.Standardizer.transform": lambda: C(_fitted_standardizer().transform, (_nrandn(3, 2),), nan_ok=("values",)),
    "data.scaling.Standardizer.inverse": lambda: C(_fitted_standardizer().inverse, (_nrandn(3, 2),), nan_ok=("values",)),
    "data.sequences.adding_problem": lambda: C(data.adding_problem, (4,), {"length": 5}),
    "data.sequences.reverb_regression": lambda: C(data.reverb_regression, (4,), {"length": 3, "d": 4, "noise_std": 0.1}),
    "data.sequences.reverb_terms": lambda: C(data.reverb_terms, (np.random.default_rng(0).normal(size=(4, 3, 4)),)),
    "data.shapes.shapes_segmentation": lambda: C(data.shapes_segmentation, (2,), {"size": 16, "noise_std": 0.1, "max_shapes": 2}),
    "data.bpe.BytePairTokenizer": lambda: C(bpe.BytePairTokenizer, ([bytes([b]) for b in range(256)] + [b"ab"], [(97, 98, 256)])),
    "data.bpe.BytePairTokenizer.train": lambda: C(bpe.BytePairTokenizer.train, ("ab ab ab cd cd", 260)),
    "data.bpe.BytePairTokenizer.encode": lambda: C(_bpe().encode, ("ab cd ef",)),
    "data.bpe.BytePairTokenizer.encode_bytes": lambda: C(_bpe().encode_bytes, (b"ab \xff cd",)),
    "data.bpe.BytePairTokenizer.decode": lambda: C(_bpe().decode, ([256, 32, 99],)),
    "data.bpe.BytePairTokenizer.decode_bytes": lambda: C(_bpe().decode_bytes, ([256, 32, 99],)),
    "data.bpe.BytePairTokenizer.tokens": lambda: C(_bpe().tokens, ("ab cd",)),
    "data.bpe.BytePairTokenizer.from_gpt2": lambda: C(bpe.BytePairTokenizer.from_gpt2, (_gpt2_encoder(), ["#version: 0.2", "a b"])),
    "data.bpe.gpt2_byte_alphabet": lambda: C(bpe.gpt2_byte_alphabet),
    "published.fetch": lambda: C(published.fetch, ("local/repo", ("file.txt",)), {"folder": _scratch_folder(),
                                                                                 "url": _local_hub(), "timeout": 5.0}),
    "published.load_gpt2": lambda: C(published.load_gpt2, (_gpt2_folder(),)),
    "published.load_hubert": lambda: C(published.load_hubert, (_hubert_folder(),)),
    "published.uvr_hash": lambda: C(published.uvr_hash, (_wav_file(),)),
    "published.load_vocal_remover": lambda: C(published.load_vocal_remover, (_uvr_checkpoint(), _tiny_setting())),
    "separation.oracle_mask": lambda: C(separation.oracle_mask, (_stems(), "psm", separation.SpectrogramConfig(n_fft=128, hop=32))),
    "separation.lowpass": lambda: C(separation.lowpass, (torch.ones(2, 65, 4, dtype=torch.complex64), _tiny_setting().config)),
    "separation.PublishedSetting": lambda: C(separation.PublishedSetting, ("tiny", 8000, separation.SpectrogramConfig(128, 32), 64)),
    "separation.PublishedSetting.from_uvr": lambda: C(separation.PublishedSetting.from_uvr, ("1band", {
        "bins": 1024, "sr": 44100, "pre_filter_start": 1023, "pre_filter_stop": 1024,
        "band": {"1": {"sr": 44100, "hl": 512, "n_fft": 2048, "crop_start": 0, "crop_stop": 1024, "hpf_start": -1}}})),
    "separation.VocalRemover": lambda: C(separation.VocalRemover, (_uvr(), _tiny_setting(), "tiny")),
    "separation.VocalRemover.separate": lambda: C(separation.VocalRemover(_uvr(), _tiny_setting()).separate,
                                                  (_nrandn(800).astype(np.float32) * 0.1, 8000), {"aggressiveness": 0.1}),
    "separation.read_audio": lambda: C(separation.read_audio, (_wav_file(),)),
    "separation.resample": lambda: C(separation.resample, (_nrandn(2, 100).astype(np.float32), 8000, 16000)),
    "separation.write_wav": lambda: C(separation.write_wav, (_scratch_folder() + "/out.wav", _nrandn(2, 100).astype(np.float32) * 0.1, 8000)),
    "speech.waveform_layer_features": lambda: C(speech.waveform_layer_features,
                                                (hubert.PublishedHuBERT(_tiny_published_hubert_config()), _corpus()[:1], 0)),
    "data.text.CharVocab": lambda: C(data.CharVocab, (("a", "b", " "),)),
    "data.text.CharVocab.encode": lambda: C(data.CharVocab(("a", "b", " ")).encode, ("ab ba",)),
    "data.text.CharVocab.decode": lambda: C(data.CharVocab(("a", "b", " ")).decode, (np.array([0, 1, 2]),)),
    "data.text.Grammar": lambda: C(data.Grammar, ({"S": [(1.0, ["ab"]), (2.0, ["b"])]},)),
    "data.text.Grammar.next_char_distribution": lambda: C(_grammar().next_char_distribution, ("b",)),
    "data.text.Grammar.sample": lambda: C(_grammar().sample, (3,), {"sentences": ["ab a"]}),
    "data.text.Grammar.corpus": lambda: C(_grammar().corpus, (3,), {"sentences": ["ab a", "b"]}),
    "data.text.Grammar.split_sentences": lambda: C(data.Grammar(data.SIMPLE_ENGLISH).split_sentences, (0.2,), {"seed": 0}),
    "data.text.stream_windows": lambda: C(data.stream_windows, (np.arange(50), 2, 4)),
    "data.text.Grammar.sentence_entropy": lambda: C(_grammar().sentence_entropy),
    "data.text.Grammar.mean_sentence_length": lambda: C(_grammar().mean_sentence_length),
    "data.text.Grammar.entropy_per_char": lambda: C(_grammar().entropy_per_char),
    "data.text.next_token_windows": lambda: C(data.next_token_windows, (np.arange(10), 3), {"stride": 2}),
    "data.translation.WordVocab": lambda: C(data.WordVocab, (("<pad>", "<bos>", "<eos>", "a", "b"),)),
    "data.translation.WordVocab.encode": lambda: C(data.WordVocab(("<pad>", "<bos>", "<eos>", "a", "b")).encode, ([["a", "b"], ["b"]],), {"bos": False}),
    "data.translation.WordVocab.decode": lambda: C(data.WordVocab(("<pad>", "<bos>", "<eos>", "a", "b")).decode, ([3, 4, 2],)),
    "data.translation.toy_translation": lambda: C(data.toy_translation, (), {"n_train": 20, "n_test": 5, "heldout_fraction": 0.2}),
    "data.translation.chained_translation": lambda: C(data.chained_translation, (), {"n_train": 20, "n_test": 5, "max_train_clauses": 2, "seed": 0}),
    "data.translation.chain_pairs": lambda: C(data.chain_pairs, (data.translation.all_pairs()[:2],)),
    # ------------------------------------------------------------------ display, plots
    "display.show_source": lambda: C(display.show_source, (runtime.get_scale,), {"docstring": True}),
    "plots.image_grid": lambda: C(plots.image_grid, (np.zeros((4, 3, 3)), 2, 2), {"gap": 1, "fill": -1.0}),
    "plots.plot_history": lambda: C(plots.plot_history, (_history(),), {"log_y": True, "title": "t", "ylabel": "loss"}),
    "plots.use_book_style": lambda: C(plots.use_book_style),
    "plots_reverbnet.draw_dataflow": lambda: C(plots_reverbnet.draw_dataflow, (_reverb(),), {"length": 4}),
    "plots_reverbnet.draw_mesh": lambda: C(plots_reverbnet.draw_mesh, (_reverb(),)),
    "plots_reverbnet.structure_text": lambda: C(plots_reverbnet.structure_text, (_reverb(),)),
    # ------------------------------------------------------------------ distributed (single process)
    "distributed.all_reduce_sum": lambda: C(distributed.all_reduce_sum, ([1.0, 2.0],), {"device": "cpu"}),
    "distributed.barrier": lambda: C(distributed.barrier),
    "distributed.info": lambda: C(distributed.info),
    "distributed.is_main": lambda: C(distributed.is_main),
    "distributed.rank": lambda: C(distributed.rank),
    "distributed.world_size": lambda: C(distributed.world_size),
    "distributed.shard_loader": lambda: C(distributed.shard_loader, (_nrandn(6, 2), _nrandn(6)), {"batch_size": 2, "shuffle": True}),
    # ------------------------------------------------------------------ train
    "train.fit": lambda: (lambda m: C(train.fit, (m, _batches()), {"optimizer": _sgd(m), "loss_fn": nn.MSELoss(), "epochs": 1,
                                                                    "progress": False, "clip_grad_norm": 1.0, "accumulate": 1,
                                                                    "amp": False, "evaluate": lambda mm: {"v": 1.0}, "keep_best": "v",
                                                                    "best_mode": "min", "patience": 1}))(_mlp()),
    "train.evaluate_loss": lambda: C(train.evaluate_loss, (_mlp(), _batches(), nn.MSELoss())),
    "train.save_checkpoint": lambda: (lambda m: C(train.save_checkpoint, (_tmp_path(), m, _sgd(m)), {"history": _history(),
                                                                                                     "extra": {"note": "x"}}))(_mlp()),
    "train.load_checkpoint": lambda: (lambda m: C(train.load_checkpoint, (_checkpoint([]), m, _sgd(m)), {"strict": True}))(_mlp()),
    "train.EMA": lambda: C(train.EMA, (_mlp(),), {"decay": 0.9}),
    "train.TruncatedBPTT": lambda: C(train.TruncatedBPTT, (3,)),
    "train.TruncatedBPTT.reset": lambda: C(train.TruncatedBPTT(3).reset),
    "train.EMA.update": lambda: (lambda m: C(train.EMA(m, 0.9).update, (m,)))(_mlp()),
    "train.EMA.copy_to": lambda: (lambda m: C(train.EMA(m, 0.9).copy_to, (m,)))(_mlp()),
    "train.History": lambda: C(train.History),
    "train.History.as_dict": lambda: C(_history().as_dict),
    # ------------------------------------------------------------------ judge
    "judge.judge_samples": lambda: C(judge.judge_samples, (_cnn(), _judge_samples()), {"threshold": 0.9}),
    "judge.embed": lambda: C(judge.embed, (_cnn(), _judge_samples())),
    "judge.frechet_distance": lambda: C(judge.frechet_distance, (_nrandn(20, 4), _nrandn(15, 4, seed=1))),
    "judge.precision_recall": lambda: C(judge.precision_recall, (_nrandn(20, 4), _nrandn(15, 4, seed=1)), {"k": 3}),
    "judge.JudgeReport": lambda: C(judge.JudgeReport, (np.array([1, 2]), np.array([0.9, 0.5]), 0.8)),
    "judge.JudgeReport.agreement": lambda: C(judge.JudgeReport(np.array([1, 2]), np.array([0.9, 0.95]), 0.8).agreement, (np.array([1, 3]),)),
}


def _tmp_path() -> str:
    import tempfile

    return f"{tempfile.mkdtemp(prefix='probe-')}/c.pt"


NOT_PROBED: dict[str, str] = {}


def _exercise_calls() -> dict[str, Any]:
    """Every checker: ``answer`` checkers get a wrong-but-well-typed answer, the others a student
    function (or class) that returns None; the probe then feeds them worse."""
    import importlib
    import inspect
    import pkgutil

    special = {"check_conv_output_shape": (1, 1, 1, 1), "check_patch_shape": (1, 1, 1), "check_moe_parameters": (0, 0),
               "check_published_feedback": frozenset(), "check_separable_parameters": (0, 0), "check_bottleneck_shape": (1, 1, 1, 1),
               "check_unclipped_psm": (0.0, 0.0)}
    calls: dict[str, Any] = {}
    for info in pkgutil.iter_modules(exercises.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"nnanatomy.exercises.{info.name}")
        for name in module.__all__:
            fn = getattr(module, name)
            first = next(iter(inspect.signature(fn).parameters))
            answer = special.get(name, 0) if first == "answer" else _StudentClass if first.endswith("_class") else _student
            calls[f"exercises.{info.name}.{name}"] = functools.partial(_checker, fn, answer)
    return calls


CALLS.update(_exercise_calls())
# synthesises the test split (100 utterances, seconds on a loaded CPU) before it judges
CALLS["exercises.speech.check_codebook_pnmi"] = lambda: C(exercises.speech.check_codebook_pnmi, (0,), checker=True, seconds=60.0)
CALLS["exercises.speech.check_k500_pnmi"] = lambda: C(exercises.speech.check_k500_pnmi, (0,), checker=True, seconds=90.0)
# trains the MLP of chapter 13's learning curve on 2,000 sequences (seconds) before it judges
CALLS["exercises.reverbnet.check_curve_point"] = lambda: C(exercises.reverbnet.check_curve_point, (0,), checker=True, seconds=60.0)


def _seq(x: torch.Tensor) -> torch.Tensor:
    return x


CALLS.update({
    # ------------------------------------------------------------------ models: small configurable models
    "models.mlp.MLPConfig": lambda: C(models.MLPConfig, (), {"in_features": 3, "hidden": (4,), "out_features": 2, "activation": "tanh", "bias": True,
                                                           "dropout": 0.1}),
    "models.mlp.MLP": lambda: C(models.MLP, (models.MLPConfig(in_features=3, hidden=(4,), out_features=2),)),
    "models.mlp.MLP.forward": lambda: C(_mlp().forward, (_randn(2, 3),), nan_ok=("x",)),
    "models.mlp.MLP.num_parameters": lambda: C(_mlp().num_parameters, (), {"trainable_only": False}),
    "models.deep.DeepMLPConfig": lambda: C(models.DeepMLPConfig, (), {"in_features": 3, "width": 4, "depth": 2, "out_features": 2,
                                                                      "init_scale": 1.0, "residual": False}),
    "models.deep.DeepMLP": lambda: C(models.DeepMLP, (models.DeepMLPConfig(in_features=3, width=4, depth=2, out_features=2),)),
    "models.deep.DeepMLP.forward": lambda: C(models.DeepMLP(models.DeepMLPConfig(in_features=3, width=4, depth=2, out_features=2)).forward,
                                             (_randn(2, 3),), nan_ok=("x",)),
    "models.deep.DeepMLP.hidden_linears": lambda: C(models.DeepMLP(models.DeepMLPConfig(in_features=3, width=4, depth=2)).hidden_linears),
    "models.cnn.CNNConfig": lambda: C(models.CNNConfig, (), {"channels": (4,), "hidden": 8, "dropout": 0.3, "kernel_size": 3}),
    "models.cnn.CNNClassifier": lambda: C(models.CNNClassifier, (models.CNNConfig(channels=(4,), hidden=8),)),
    "models.cnn.CNNClassifier.forward": lambda: C(_cnn().forward, (_randn(2, 1, 8, 8),), nan_ok=("x",)),
    "models.cnn.CNNClassifier.num_parameters": lambda: C(_cnn().num_parameters),
    "models.cnn.DeepCNNConfig": lambda: C(models.DeepCNNConfig, (), {"channels": 4, "blocks": 2, "residual": False}),
    "models.cnn.DeepCNN": lambda: C(models.DeepCNN, (models.DeepCNNConfig(channels=4, blocks=2),)),
    "models.cnn.DeepCNN.forward": lambda: C(models.DeepCNN(models.DeepCNNConfig(channels=4, blocks=2)).eval().forward, (_randn(2, 1, 8, 8),),
                                            nan_ok=("x",)),
    "models.rnn.CharRNNConfig": lambda: C(models.CharRNNConfig, (7,), {"embed_dim": 4, "hidden_size": 8, "cell": "rnn"}),
    "models.rnn.CharRNN": lambda: C(models.CharRNN, (models.CharRNNConfig(7, embed_dim=4, hidden_size=8),)),
    "models.rnn.CharRNN.forward": lambda: C(_char_rnn().forward, (T([[1, 2, 3]]),)),
    "models.rnn.CharRNN.sample": lambda: C(_char_rnn().sample, (T([1, 2]), 4), {"num_samples": 3, "temperature": 0.8, "stop_id": 0,
                                                                             "generator": _g()}),
    "models.rnn.CharRNN.greedy_decode": lambda: C(_char_rnn().greedy_decode, (T([1, 2]), 3), {"stop_id": 0}),
    "models.rnn.SequenceRegressorConfig": lambda: C(models.SequenceRegressorConfig, (), {"input_size": 2, "hidden_size": 4, "cell": "lstm", "forget_bias": 1.0}),
    "models.rnn.SequenceRegressor": lambda: C(models.SequenceRegressor, (models.SequenceRegressorConfig(hidden_size=4),)),
    "models.rnn.SequenceRegressor.forward": lambda: C(models.SequenceRegressor(models.SequenceRegressorConfig(hidden_size=4)).forward,
                                                      (_randn(2, 5, 2),), nan_ok=("x",)),
    "models.rnn.SequenceRegressor.num_parameters": lambda: C(models.SequenceRegressor(models.SequenceRegressorConfig(hidden_size=4)).num_parameters),
    # transformer
    "models.transformer.TransformerConfig": lambda: C(transformer.TransformerConfig, (12, 13), {"d_model": 16, "num_heads": 2, "d_ff": 32,
                                                                                                 "num_encoder_layers": 1, "num_decoder_layers": 1,
                                                                                                 "max_len": 16, "dropout": 0.1, "pad_id": 0,
                                                                                                 "scale_embeddings": True}),
    "models.transformer.Transformer": lambda: C(transformer.Transformer, (_tcfg(),)),
    "models.seq2seq.Seq2SeqConfig": lambda: C(models.Seq2SeqConfig, (12, 13), {"embed_dim": 4, "hidden_size": 6, "attention": True, "pad_id": 0}),
    "models.seq2seq.Seq2Seq": lambda: C(models.Seq2Seq, (models.Seq2SeqConfig(12, 13, embed_dim=4, hidden_size=6),)),
    "models.seq2seq.Seq2Seq.forward": lambda: C(_seq2seq().forward, (T([[5, 6, 7, 8, 2]]), T([[1, 5, 6]]))),
    "models.seq2seq.Seq2Seq.forward_with_attention": lambda: C(_seq2seq().forward_with_attention, (T([[5, 6, 7, 2, 0]]), T([[1, 5, 6]]))),
    "models.seq2seq.Seq2Seq.encode": lambda: C(_seq2seq().encode, (T([[5, 6, 7, 2, 0]]),)),
    "models.seq2seq.Seq2Seq.greedy_decode": lambda: C(_seq2seq().greedy_decode, (T([[5, 6, 7, 2, 0]]), 1, 2), {"max_len": 4}),
    "models.seq2seq.Seq2Seq.num_parameters": lambda: C(_seq2seq().num_parameters),
    "models.seq2seq.AdditiveAttention": lambda: C(models.seq2seq.AdditiveAttention, (4, 6, 5)),
    "models.seq2seq.AdditiveAttention.forward": lambda: C(models.seq2seq.AdditiveAttention(4, 6, 5).forward,
                                                          (_randn(2, 4), _randn(2, 3, 6), _randn(2, 3, 5), torch.tensor([[False, False, True]] * 2)),
                                                          nan_ok=("query", "keys", "projected_keys")),
    "models.transformer.Transformer.forward": lambda: C(_transformer().forward, (T([[5, 6, 7, 2, 0]]), T([[1, 5, 6]]))),
    "models.transformer.Transformer.encode": lambda: C(_transformer().encode, (T([[5, 6, 7, 2, 0]]),)),
    "models.transformer.Transformer.decode": lambda: (lambda m: C(m.decode, (T([[1, 5, 6]]), *m.encode(T([[5, 6, 7, 2, 0]])))))(_transformer()),
    "models.transformer.Transformer.beam_search": lambda: C(_transformer().beam_search, (T([[5, 6, 7, 2, 0]]), 1, 2), {"beam_size": 3, "max_len": 4}),
    "models.transformer.Transformer.greedy_decode": lambda: C(_transformer().greedy_decode, (T([[5, 6, 7, 2, 0]]), 1, 2), {"max_len": 4}),
    "models.transformer.Transformer.num_parameters": lambda: C(_transformer().num_parameters),
    "models.transformer.EncoderLayer": lambda: C(transformer.EncoderLayer, (_tcfg(),)),
    "models.transformer.EncoderLayer.forward": lambda: C(transformer.EncoderLayer(_tcfg()).eval().forward, (_randn(1, 4, 16), T([[False, False, False, True]])),
                                                         nan_ok=("x",)),
    "models.transformer.DecoderLayer": lambda: C(transformer.DecoderLayer, (_tcfg(),)),
    "models.transformer.DecoderLayer.forward": lambda: C(transformer.DecoderLayer(_tcfg()).eval().forward,
                                                         (_randn(1, 3, 16), _randn(1, 4, 16, seed=1), transformer.causal_mask(3), None,
                                                          T([[False, False, False, True]])), nan_ok=("x", "memory")),
    "models.transformer.FeedForward": lambda: C(transformer.FeedForward, (16, 32), {"dropout": 0.0}),
    "models.transformer.FeedForward.forward": lambda: C(transformer.FeedForward(16, 32).forward, (_randn(1, 3, 16),), nan_ok=("x",)),
    "models.transformer.MultiHeadAttention": lambda: C(transformer.MultiHeadAttention, (16, 2), {"dropout": 0.0}),
    "models.transformer.MultiHeadAttention.forward": lambda: C(transformer.MultiHeadAttention(16, 2).forward, (_randn(1, 3, 16), _randn(1, 4, 16, seed=1)),
                                                               {"key_padding_mask": T([[False, False, False, True]])}, nan_ok=("query", "key_value")),
    "models.transformer.causal_mask": lambda: C(transformer.causal_mask, (4,)),
    "models.transformer.sinusoidal_positional_encoding": lambda: C(transformer.sinusoidal_positional_encoding, (8, 16)),
    # GPT and MoE
    "models.gpt.GPTConfig": lambda: C(models.GPTConfig, (11,), {"max_seq_len": 16, "d_model": 16, "num_heads": 2, "num_layers": 1,
                                                                "dropout": 0.0, "ffn": "dense", "router_noise": 0.0}),
    "models.gpt.GPT": lambda: C(models.GPT, (models.GPTConfig(11, max_seq_len=16, d_model=16, num_heads=2, num_layers=1),)),
    "models.gpt.GPT.forward": lambda: C(_gpt().forward, (T([[1, 2, 3]]),)),
    "models.gpt.GPT.aux_loss": lambda: C(_moe_gpt().aux_loss),
    "models.gpt.GPT.generate": lambda: C(_gpt().generate, (T([[1, 2]]), 3), {"temperature": 1.0, "top_k": 3, "greedy": False,
                                                                             "use_cache": True, "generator": _g()}),
    "models.gpt.GPT.num_parameters": lambda: C(_gpt().num_parameters),
    "models.gpt.GPT.active_parameters": lambda: C(_moe_gpt().active_parameters),
    "models.gpt.CausalSelfAttention": lambda: C(gpt.CausalSelfAttention, (_gpt().config,)),
    "models.gpt.CausalSelfAttention.forward": lambda: C(gpt.CausalSelfAttention(_gpt().config).forward, (_randn(1, 3, 16),), nan_ok=("x",)),
    "models.gpt.DecoderBlock": lambda: C(gpt.DecoderBlock, (_gpt().config,)),
    "models.gpt.DecoderBlock.forward": lambda: C(gpt.DecoderBlock(_gpt().config).forward, (_randn(1, 3, 16),), nan_ok=("x",)),
    "models.gpt.FeedForward": lambda: C(gpt.FeedForward, (_gpt().config,)),
    "models.gpt.FeedForward.forward": lambda: C(gpt.FeedForward(_gpt().config).forward, (_randn(1, 3, 16),), nan_ok=("x",)),
    "models.hubert.PublishedHuBERTConfig": lambda: C(hubert.PublishedHuBERTConfig, (((8, 10, 5), (8, 3, 2)),),
                                                    {"hidden": 16, "num_layers": 1, "num_heads": 2, "ffn_hidden": 32,
                                                     "pos_conv_kernel": 4, "pos_conv_groups": 2}),
    "models.hubert.PublishedHuBERT": lambda: C(hubert.PublishedHuBERT, (_tiny_published_hubert_config(),)),
    "models.hubert.PublishedHuBERT.forward": lambda: C(hubert.PublishedHuBERT(_tiny_published_hubert_config()).forward, (_randn(1, 200),),
                                                      nan_ok=("waveform",)),
    "models.hubert.WaveformFeatureEncoder": lambda: C(hubert.WaveformFeatureEncoder, (_tiny_published_hubert_config(),)),
    "models.hubert.WaveformFeatureEncoder.forward": lambda: C(hubert.WaveformFeatureEncoder(_tiny_published_hubert_config()).forward,
                                                             (_randn(1, 200),), nan_ok=("waveform",)),
    "models.hubert.ConvPositionalEmbedding": lambda: C(hubert.ConvPositionalEmbedding, (_tiny_published_hubert_config(),)),
    "models.hubert.ConvPositionalEmbedding.forward": lambda: C(hubert.ConvPositionalEmbedding(_tiny_published_hubert_config()).forward,
                                                              (_randn(1, 9, 16),), nan_ok=("x",)),
    "models.hubert.PublishedEncoderLayer": lambda: C(hubert.PublishedEncoderLayer, (_tiny_published_hubert_config(),)),
    "models.hubert.PublishedEncoderLayer.forward": lambda: C(hubert.PublishedEncoderLayer(_tiny_published_hubert_config()).forward,
                                                            (_randn(1, 9, 16),), nan_ok=("x",)),
    "models.hubert.published_config_from_hf": lambda: C(hubert.published_config_from_hf, (_HF_HUBERT_CONFIG,)),
    "models.hubert.from_hf_hubert": lambda: C(hubert.from_hf_hubert, (_hf_hubert_state(), _HF_HUBERT_CONFIG)),
    "models.resnet.ResNet": lambda: C(models.ResNet, ((1, 1, 1, 1), 5)),
    "models.resnet.ResNet.forward": lambda: C(models.ResNet((1, 1, 1, 1), 5).eval().forward, (_randn(1, 3, 32, 32),), nan_ok=("x",)),
    "models.resnet.BasicBlock": lambda: C(resnet.BasicBlock, (4, 8, 2), {"residual": True}),
    "models.resnet.BasicBlock.forward": lambda: C(resnet.BasicBlock(4, 8, 2).eval().forward, (_randn(1, 4, 8, 8),), nan_ok=("x",)),
    "models.resnet.resnet18": lambda: C(models.resnet18, (3,)),
    "models.resnet.resnet34": lambda: C(models.resnet34, (3,)),
    "models.gpt.GPTConfig.gpt2": lambda: C(models.GPTConfig.gpt2, ("124M",), {"num_layers": 1, "d_model": 16, "num_heads": 2,
                                                                          "vocab_size": 11, "max_seq_len": 16}),
    "models.gpt.config_from_hf_gpt2": lambda: C(gpt.config_from_hf_gpt2, (_HF_GPT2_CONFIG,)),
    "models.gpt.from_hf_gpt2": lambda: C(gpt.from_hf_gpt2, (_hf_gpt2_state(), _HF_GPT2_CONFIG)),
    "models.gpt.residual_stream_stds": lambda: C(gpt.residual_stream_stds, (_gpt(), T([[1, 2, 3, 4], [5, 6, 7, 8]]))),
    "models.gpt.sliding_cross_entropy": lambda: C(gpt.sliding_cross_entropy, (_gpt(), T([1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2])), {"batch_size": 4}),
    "models.moe.Expert": lambda: C(moe.Expert, (8, 16)),
    "models.moe.Expert.forward": lambda: C(moe.Expert(8, 16).forward, (_randn(3, 8),), nan_ok=("x",)),
    "models.moe.MoEFeedForward": lambda: C(moe.MoEFeedForward, (8, 16), {"num_experts": 4, "top_k": 2, "capacity_factor": 1.5, "router_noise": 0.0, "shared_experts": 1}),
    "models.moe.MoEFeedForward.forward": lambda: C(moe.MoEFeedForward(8, 16, num_experts=4).forward, (_randn(1, 3, 8),)),
    "models.moe.MoEFeedForward.active_parameters": lambda: C(moe.MoEFeedForward(8, 16, num_experts=4).active_parameters),
    "models.moe.TopKRouter": lambda: C(moe.TopKRouter, (8, 4, 2), {"noise_std": 0.0, "renormalize": None}),
    "models.moe.TopKRouter.forward": lambda: C(moe.TopKRouter(8, 4, 2).forward, (_randn(3, 8),)),
    "models.moe.load_balancing_loss": lambda: C(moe.load_balancing_loss, (torch.softmax(_randn(3, 4), -1), T([[0, 1], [1, 2], [3, 0]]), 4), nan_ok=("probs",)),
    "models.ngram.NGramLM": lambda: C(ngram.NGramLM, (2,), {"discount": 0.75}),
    "models.ngram.NGramLM.fit": lambda: C(ngram.NGramLM(2).fit, ("abab ba",), {"vocab": "ab "}),
    "models.ngram.NGramLM.prob": lambda: C(ngram.NGramLM(2).fit("abab ba").prob, ("a", "b")),
    "models.ngram.NGramLM.with_order": lambda: C(ngram.NGramLM(3).fit("abab ba").with_order, (2,)),
    "models.ngram.NGramLM.cross_entropy": lambda: C(ngram.NGramLM(2).fit("abab ba").cross_entropy, ("ab",)),
    # speech models
    "models.conformer.ConformerConfig": lambda: C(conformer.ConformerConfig, (), {"input_dim": 16, "d_model": 16, "num_heads": 2, "num_layers": 1,
                                                                                 "ff_mult": 2, "kernel_size": 3, "dropout": 0.1, "max_len": 64}),
    "models.conformer.ConformerEncoder": lambda: C(conformer.ConformerEncoder, (_ccfg(),)),
    "models.conformer.ConformerEncoder.forward": lambda: C(conformer.ConformerEncoder(_ccfg()).eval().forward, (_randn(2, 16, 16), T([16, 12])),
                                                           {"return_layers": False}),
    "models.conformer.ConformerBlock": lambda: C(conformer.ConformerBlock, (_ccfg(),)),
    "models.conformer.ConformerBlock.forward": lambda: C(conformer.ConformerBlock(_ccfg()).eval().forward, (_randn(2, 4, 16),),
                                                         {"padding_mask": T([[False] * 4, [False, False, True, True]])}),
    "models.conformer.ConvModule": lambda: C(conformer.ConvModule, (16, 3, 0.1)),
    "models.conformer.ConvModule.forward": lambda: C(conformer.ConvModule(16, 3, 0.1).eval().forward, (_randn(2, 4, 16),)),
    "models.conformer.ConvSubsampling": lambda: C(conformer.ConvSubsampling, (16, 16)),
    "models.conformer.ConvSubsampling.forward": lambda: C(conformer.ConvSubsampling(16, 16).forward, (_randn(2, 16, 16),)),
    "models.conformer.ConvSubsampling.output_length": lambda: C(conformer.ConvSubsampling.output_length, (16,)),
    "models.bestrq.BestRQ": lambda: C(bestrq.BestRQ, (_ccfg(),), {"codebook_size": 8, "code_dim": 4, "mask_prob": 0.2, "mask_span": 2, "noise_std": 0.1}),
    "models.bestrq.BestRQ.forward": lambda: C(_bestrq().eval().forward, (_randn(2, 16, 16), T([16, 12]))),
    "models.bestrq.BestRQ.loss": lambda: C(_bestrq().loss, (_randn(2, 32, 16), T([32, 28])), {"generator": _g(), "targets": None}),
    "models.bestrq.RandomProjectionQuantizer": lambda: C(bestrq.RandomProjectionQuantizer, (16,), {"stack": 4, "codebook_size": 8, "code_dim": 4}),
    "models.bestrq.RandomProjectionQuantizer.forward": lambda: C(bestrq.RandomProjectionQuantizer(16, codebook_size=8, code_dim=4).forward, (_randn(2, 16, 16),)),
    "models.bestrq.mask_with_noise": lambda: C(bestrq.mask_with_noise, (_randn(2, 4, 3), T([[True, False, False, True]] * 2)), {"std": 0.1, "generator": _g()},
                                               nan_ok=("features",)),
    "models.bestrq.span_mask": lambda: C(bestrq.span_mask, (2, 8, 0.2, 2), {"generator": _g()}),
    "models.hubert.HuBERTConfig": lambda: C(hubert.HuBERTConfig, (), {"input_dim": 16, "d_model": 16, "num_heads": 2, "num_layers": 1, "d_ff": 32,
                                                                     "pos_conv_kernel": 3, "pos_conv_groups": 2, "num_clusters": 5, "final_dim": 8,
                                                                     "temperature": 0.1, "mask_prob": 0.2, "dropout": 0.1}),
    "models.hubert.HuBERT": lambda: C(hubert.HuBERT, (_hcfg(),)),
    "models.hubert.HuBERT.forward": lambda: C(_hubert().eval().forward, (_randn(2, 16, 16), T([16, 12]))),
    "models.hubert.HuBERT.loss": lambda: C(_hubert().loss, (_randn(2, 32, 16), torch.randint(0, 5, (2, 8), generator=_g()), T([32, 28])), {"generator": _g()}),
    "models.hubert.HuBERTEncoder": lambda: C(hubert.HuBERTEncoder, (_hcfg(),)),
    "models.hubert.HuBERTEncoder.forward": lambda: C(hubert.HuBERTEncoder(_hcfg()).eval().forward, (_randn(2, 16, 16), T([16, 12])), {"return_layers": False}),
    # UNet, diffusion, DiT
    "models.unet.UNetConfig": lambda: C(models.UNetConfig, (), {"in_channels": 1, "out_channels": 1, "base_channels": 4, "depth": 2,
                                                               "bilinear": True, "skips": True, "norm": "batch"}),
    "models.unet.UNet": lambda: C(models.UNet, (models.UNetConfig(in_channels=1, out_channels=1, base_channels=4, depth=2),)),
    "models.unet.UNet.forward": lambda: C(_unet(time_dim=8, context_dim=4).eval().forward, (_randn(2, 1, 8, 8), T([1, 5]), _randn(2, 3, 4)),
                                         {"context_mask": T([[False, False, True]] * 2)}),
    "models.unet.UNet.num_parameters": lambda: C(_unet().num_parameters),
    "models.unet.DoubleConv": lambda: C(unet.DoubleConv, (1, 4), {"norm": "batch"}),
    "models.unet.DoubleConv.forward": lambda: C(unet.DoubleConv(1, 4).eval().forward, (_randn(2, 1, 8, 8),), nan_ok=("x",)),
    "models.unet.Down": lambda: C(unet.Down, (1, 4)),
    "models.unet.Down.forward": lambda: C(unet.Down(1, 4).eval().forward, (_randn(2, 1, 8, 8),), nan_ok=("x",)),
    "models.unet.Up": lambda: C(unet.Up, (8, 4, 4), {"bilinear": True}),
    "models.unet.Up.forward": lambda: C(unet.Up(8, 4, 4).eval().forward, (_randn(2, 8, 4, 4), _randn(2, 4, 8, 8, seed=1)), nan_ok=("x1", "x2")),
    "models.unet.OutConv": lambda: C(unet.OutConv, (4, 1)),
    "models.unet.OutConv.forward": lambda: C(unet.OutConv(4, 1).forward, (_randn(2, 4, 8, 8),), nan_ok=("x",)),
    "models.unet.SinusoidalTimeEmbedding": lambda: C(unet.SinusoidalTimeEmbedding, (8,)),
    "models.unet.SinusoidalTimeEmbedding.sinusoid": lambda: C(unet.SinusoidalTimeEmbedding(8).sinusoid, (T([0, 5]),)),
    "models.unet.SinusoidalTimeEmbedding.forward": lambda: C(unet.SinusoidalTimeEmbedding(8).forward, (T([0, 5]),)),
    "models.unet.CrossAttention2d": lambda: C(unet.CrossAttention2d, (4, 6), {"num_heads": 2}),
    "models.unet.CrossAttention2d.forward": lambda: C(unet.CrossAttention2d(4, 6, num_heads=2).forward, (_randn(2, 4, 3, 3), _randn(2, 5, 6)),
                                                      {"context_mask": T([[False, False, False, True, True]] * 2)}),
    "models.diffusion.NoiseSchedule": lambda: C(diffusion.NoiseSchedule, (torch.linspace(1e-4, 0.02, 10, dtype=torch.float64),)),
    "models.diffusion.NoiseSchedule.linear": lambda: C(diffusion.NoiseSchedule.linear, (10,), {"beta_start": 1e-4, "beta_end": 0.02}),
    "models.diffusion.NoiseSchedule.q_sample": lambda: C(_schedule().q_sample, (_randn(2, 1, 4, 4), T([0, 9]), _randn(2, 1, 4, 4, seed=1)), nan_ok=("x0", "noise")),
    "models.diffusion.NoiseSchedule.check_steps": lambda: C(_schedule().check_steps, (T([0, 9]), 2)),
    "models.diffusion.NoiseSchedule.check_step": lambda: C(_schedule().check_step, (3,)),
    "models.diffusion.reverse_step": lambda: C(diffusion.reverse_step, (_schedule(), _randn(2, 1, 4, 4), 5, _randn(2, 1, 4, 4, seed=1)), nan_ok=("x_t", "eps")),
    "models.diffusion.diffusion_loss": lambda: C(diffusion.diffusion_loss, (_eps_model(), _randn(2, 1, 8, 8), _schedule()), nan_ok=("x0",)),
    "models.diffusion.guided_eps": lambda: C(diffusion.guided_eps, (_eps_model().eval(), _randn(2, 1, 8, 8), T([1, 5])), {"guidance": 0.0}, nan_ok=("x",)),
    "models.diffusion.ddpm_sample": lambda: C(diffusion.ddpm_sample, (_eps_model().eval(), _schedule(), (1, 1, 8, 8)), {"generator": _g(), "keep": (0,)}),
    "models.diffusion.posterior": lambda: C(diffusion.posterior, (_schedule(), _randn(1, 1, 8, 8), _randn(1, 1, 8, 8, seed=1), 3)),
    "models.diffusion.ddim_sigma": lambda: C(diffusion.ddim_sigma, (_schedule(), 3, 1), {"eta": 0.5}),
    "models.diffusion.ddim_sample": lambda: C(diffusion.ddim_sample, (_eps_model().eval(), _schedule(), (1, 1, 8, 8), 3), {"generator": _g(), "clip": 1.0,
                                                                                                                           "guidance": 0.0}),
    "models.dit.DiTConfig": lambda: C(models.DiTConfig, (), {"image_size": 4, "patch": 2, "hidden": 16, "depth": 1, "num_heads": 2,
                                                            "mlp_ratio": 4.0, "num_classes": 3, "conditioning": "adaln-zero"}),
    "models.dit.DiT": lambda: C(models.DiT, (models.DiTConfig(image_size=4, patch=2, hidden=16, depth=1, num_heads=2, num_classes=3),)),
    "models.dit.DiT.forward": lambda: C(_dit().forward, (_randn(2, 1, 4, 4), T([1, 5]), T([0, 2]))),
    "models.dit.DiT.unpatchify": lambda: C(_dit().unpatchify, (_randn(2, 4, 4),), nan_ok=("x",)),
    "models.dit.DiT.num_parameters": lambda: C(_dit().num_parameters),
    "models.dit.DiTBlock": lambda: C(dit.DiTBlock, (16, 2), {"mlp_ratio": 4.0, "conditioning": "adaln-zero"}),
    "models.dit.DiTBlock.forward": lambda: C(dit.DiTBlock(16, 2).forward, (_randn(2, 4, 16), _randn(2, 16, seed=1)), nan_ok=("x", "c")),
    "models.dit.FinalLayer": lambda: C(dit.FinalLayer, (16, 2, 1), {"conditioning": "adaln-zero"}),
    "models.dit.FinalLayer.forward": lambda: C(dit.FinalLayer(16, 2, 1).forward, (_randn(2, 4, 16), _randn(2, 16, seed=1)), nan_ok=("x", "c")),
    "models.dit.PatchEmbed": lambda: C(dit.PatchEmbed, (1, 16, 2)),
    "models.dit.PatchEmbed.forward": lambda: C(dit.PatchEmbed(1, 16, 2).forward, (_randn(2, 1, 4, 4),), nan_ok=("x",)),
    "models.dit.modulate": lambda: C(dit.modulate, (_randn(2, 4, 16), _randn(2, 16, seed=1), _randn(2, 16, seed=2)), nan_ok=("x", "shift", "scale")),
    "models.dit.sincos_2d": lambda: C(dit.sincos_2d, (2, 16)),
    "models.dit.timestep_embedding": lambda: C(dit.timestep_embedding, (T([0, 7]), 16), {"max_period": 10000.0}),
    "models.dit.TimestepEmbedder": lambda: C(dit.TimestepEmbedder, (16,), {"frequency_embedding_size": 32, "mlp_width": None}),
    "models.dit.TimestepEmbedder.forward": lambda: C(dit.TimestepEmbedder(16, 32).forward, (T([0, 7]),)),
    "models.dit.LabelEmbedder": lambda: C(dit.LabelEmbedder, (3, 16)),
    "models.dit.LabelEmbedder.forward": lambda: C(dit.LabelEmbedder(3, 16).forward, (T([0, 3]),)),
    "models.dit.Attention": lambda: C(dit.Attention, (16, 2)),
    "models.dit.Attention.forward": lambda: C(dit.Attention(16, 2).forward, (_randn(2, 4, 16),), nan_ok=("x",)),
    "models.dit.CrossAttention": lambda: C(dit.CrossAttention, (16, 2)),
    "models.dit.CrossAttention.forward": lambda: C(dit.CrossAttention(16, 2).forward, (_randn(2, 4, 16), _randn(2, 2, 16, seed=1)),
                                                   nan_ok=("x", "context")),
    "models.dit.Mlp": lambda: C(dit.Mlp, (16, 32)),
    "models.dit.Mlp.forward": lambda: C(dit.Mlp(16, 32).forward, (_randn(2, 4, 16),), nan_ok=("x",)),
    "models.dit.DiTConfig.paper": lambda: C(models.DiTConfig.paper, ("DiT-S/8",), {"depth": 1}),
    # lab
    "models.lab.ViTClassifier": lambda: C(lab.ViTClassifier, (), {"image_size": 4, "patch": 2, "width": 8, "depth": 1, "heads": 2, "num_classes": 3}),
    "models.lab.ViTClassifier.forward": lambda: C(lab.ViTClassifier(image_size=4, patch=2, width=8, depth=1, heads=2).forward, (_randn(2, 1, 4, 4),),
                                                  nan_ok=("x",)),
    "models.lab.SequenceRegressor": lambda: C(lab.SequenceRegressor, ("gru",), {"hidden": 8, "max_len": 16, "layers": 1, "heads": 2}),
    "models.lab.SequenceRegressor.forward": lambda: C(lab.SequenceRegressor("gru", hidden=8).forward, (_randn(2, 5, 2),), nan_ok=("x",)),
    "models.lab.normalized_adjacency": lambda: C(lab.normalized_adjacency, (torch.from_numpy(_graph()[0]).float(),), nan_ok=("adj",)),
    "models.lab.GCNLayer": lambda: C(lab.GCNLayer, (4, 2)),
    "models.lab.GCNLayer.forward": lambda: C(lab.GCNLayer(4, 2).forward, (_randn(3, 4), torch.from_numpy(_graph()[0]).float()), nan_ok=("h",)),
    "models.lab.SAGELayer": lambda: C(lab.SAGELayer, (4, 2)),
    "models.lab.SAGELayer.forward": lambda: C(lab.SAGELayer(4, 2).forward, (_randn(3, 4), torch.from_numpy(_graph()[0]).float()), nan_ok=("h",)),
    "models.lab.GATLayer": lambda: C(lab.GATLayer, (4, 2)),
    "models.lab.GATLayer.forward": lambda: C(lab.GATLayer(4, 2).forward, (_randn(3, 4), torch.from_numpy(_graph()[0]).float()), nan_ok=("h",)),
    "models.lab.GNN": lambda: C(lab.GNN, ("gcn", 4, 8, 2)),
    "models.lab.GNN.forward": lambda: C(lab.GNN("gcn", 4, 8, 2).forward, (_randn(3, 4), torch.from_numpy(_graph()[0]).float()), nan_ok=("x",)),
    "models.lab.edge_list": lambda: C(lab.edge_list, (torch.from_numpy(_graph()[0]).float(),)),
    "models.lab.gcn_propagate_edges": lambda: C(lab.gcn_propagate_edges, (_randn(3, 4), lab.edge_list(torch.from_numpy(_graph()[0]).float())),
                                                nan_ok=("h",)),
    "models.lab.NodeMLP": lambda: C(lab.NodeMLP, (4, 8, 2)),
    "models.lab.NodeMLP.forward": lambda: C(lab.NodeMLP(4, 8, 2).forward, (_randn(3, 4),), nan_ok=("x",), accepts_any=("adj",)),
    # reverbnet
    "models.reverbnet.ReverberationNet": lambda: C(reverbnet.ReverberationNet, (), {"d": 8, "routing": "documented"}),
    "models.reverbnet.ReverberationNet.forward": lambda: C(_reverb().eval().forward, (_randn(2, 3, 8),), nan_ok=("x",)),
    "models.reverbnet.ReverberationNet.feedback_links": lambda: C(_reverb().feedback_links),
    "models.reverbnet.ReverberationNet.get_network_structure": lambda: C(_reverb().get_network_structure),
    "models.reverbnet.ReverberationNet.num_parameters": lambda: C(_reverb().num_parameters),
    "models.reverbnet.ReverberationNet.processor_roles": lambda: C(reverbnet.ReverberationNet.processor_roles, (1,)),
    "models.reverbnet.RoleModule": lambda: C(reverbnet.RoleModule, ("pluto", 8)),
    "models.reverbnet.RoleModule.forward": lambda: C(reverbnet.RoleModule("pluto", 8).eval().forward, (_randn(2, 3, 8),), nan_ok=("x",)),
    "models.reverbnet.FusionProcessor": lambda: C(reverbnet.FusionProcessor, (8,)),
    "models.reverbnet.FusionProcessor.forward": lambda: C(reverbnet.FusionProcessor(8).eval().forward, ([_randn(2, 3, 8), _randn(2, 3, 8, seed=1)],)),
    "models.reverbnet.Argallia": lambda: C(reverbnet.Argallia, (8,)),
    "models.reverbnet.Argallia.forward": lambda: C(reverbnet.Argallia(8).eval().forward, ([_randn(2, 3, 8), _randn(2, 3, 8, seed=1)],)),
    "models.reverbnet.kl_divergence": lambda: C(reverbnet.kl_divergence, (_randn(2, 8), _randn(2, 8, seed=1)), nan_ok=("mu", "logvar")),
    # uvr5
    "models.uvr5.CascadedASPPNet": lambda: C(uvr5.CascadedASPPNet, (), {"n_fft": 128, "width": 0.25}),
    "models.uvr5.CascadedASPPNet.forward": lambda: C(_uvr().forward, (torch.rand(1, 2, 65, 16, generator=_g()),)),
    "models.uvr5.CascadedASPPNet.predict": lambda: C(_uvr().predict, (torch.rand(1, 2, 65, 272, generator=_g()),),
                                                     {"aggressiveness": {"split_bin": 16, "value": 0.1}}),
    "models.uvr5.BaseASPPNet": lambda: C(uvr5.BaseASPPNet, (2, 4)),
    "models.uvr5.BaseASPPNet.forward": lambda: C(uvr5.BaseASPPNet(2, 4).eval().forward, (torch.rand(1, 2, 32, 16, generator=_g()),), nan_ok=("x",)),
    "models.uvr5.ASPPModule": lambda: C(uvr5.ASPPModule, (4, 4)),
    "models.uvr5.ASPPModule.forward": lambda: C(uvr5.ASPPModule(4, 4).eval().forward, (_randn(1, 4, 8, 8),), nan_ok=("x",)),
    "models.uvr5.NewASPPModule": lambda: C(uvr5.NewASPPModule, (4, 4), {"dropout": False}),
    "models.uvr5.NewASPPModule.forward": lambda: C(uvr5.NewASPPModule(4, 4).eval().forward, (_randn(1, 4, 8, 8),), nan_ok=("x",)),
    "models.uvr5.Conv2DBNActiv": lambda: C(uvr5.Conv2DBNActiv, (2, 4), {"ksize": 3, "stride": 1, "pad": 1, "dilation": 1}),
    "models.uvr5.Conv2DBNActiv.forward": lambda: C(uvr5.Conv2DBNActiv(2, 4).eval().forward, (_randn(1, 2, 8, 8),), nan_ok=("x",)),
    "models.uvr5.SeperableConv2DBNActiv": lambda: C(uvr5.SeperableConv2DBNActiv, (2, 4), {"ksize": 3, "stride": 1, "pad": 1, "dilation": 1}),
    "models.uvr5.SeperableConv2DBNActiv.forward": lambda: C(uvr5.SeperableConv2DBNActiv(2, 4).eval().forward, (_randn(1, 2, 8, 8),), nan_ok=("x",)),
    "models.uvr5.Encoder": lambda: C(uvr5.Encoder, (2, 4), {"ksize": 3, "stride": 2, "pad": 1}),
    "models.uvr5.Encoder.forward": lambda: C(uvr5.Encoder(2, 4, stride=2).eval().forward, (_randn(1, 2, 8, 8),), nan_ok=("x",)),
    "models.uvr5.NewEncoder": lambda: C(uvr5.NewEncoder, (2, 4), {"ksize": 3, "stride": 2, "pad": 1}),
    "models.uvr5.NewEncoder.forward": lambda: C(uvr5.NewEncoder(2, 4, stride=2).eval().forward, (_randn(1, 2, 8, 8),), nan_ok=("x",)),
    "models.uvr5.Decoder": lambda: C(uvr5.Decoder, (8, 4), {"dropout": False}),
    "models.uvr5.Decoder.forward": lambda: C(uvr5.Decoder(8, 4).eval().forward, (_randn(1, 4, 4, 4), _randn(1, 4, 8, 8, seed=1)), nan_ok=("x", "skip")),
    "models.uvr5.NewDecoder": lambda: C(uvr5.NewDecoder, (8, 4), {"dropout": False}),
    "models.uvr5.LSTMModule": lambda: C(uvr5.LSTMModule, (4, 8, 6)),
    "models.uvr5.LSTMModule.forward": lambda: C(uvr5.LSTMModule(4, 8, 6).eval().forward, (_randn(1, 4, 8, 5),), nan_ok=("x",)),
    "models.uvr5.crop_center": lambda: C(uvr5.crop_center, (_randn(1, 2, 4, 8), _randn(1, 2, 4, 6, seed=1)), nan_ok=("h1", "h2")),
    "models.uvr5.published_size_kib": lambda: C(uvr5.published_size_kib, (_mlp(),), {"bytes_per_value": 4}),
    # pretrained (offline: the shipped checkpoints)
    "models.pretrained.build": lambda: C(pretrained.build, ("unet-uncond",)),
    "models.pretrained.load_pretrained": lambda: C(pretrained.load_pretrained, ("unet-uncond",), {"device": "cpu"}),
})


def _lin() -> scratch.Linear:
    return scratch.Linear(3, 2, rng=np.random.default_rng(0))


def _forwarded(layer: Any, x: np.ndarray) -> Any:
    layer.forward(x)
    return layer


def _conv() -> scratch.Conv2D:
    return scratch.Conv2D(1, 2, 3, padding=1, rng=np.random.default_rng(0))


def _bn() -> scratch.BatchNorm2D:
    return scratch.BatchNorm2D(2)


def _rnn_layer(cls: type) -> Any:
    return cls(2, 3, seed=0)


def _fitted(cls: type, x: np.ndarray) -> Any:
    layer = _rnn_layer(cls)
    layer.forward(x)
    return layer


CALLS.update({
    # ------------------------------------------------------------------ scratch: NumPy reference maths
    "scratch.layers.relu": lambda: C(scratch.relu, (_nrandn(3, 2),), nan_ok=("x",)),
    "scratch.layers.sigmoid": lambda: C(scratch.sigmoid, (_nrandn(3, 2),), nan_ok=("x",)),
    "scratch.layers.tanh": lambda: C(scratch.tanh, (_nrandn(3, 2),), nan_ok=("x",)),
    "scratch.layers.Layer": lambda: C(scratch.Layer),
    "scratch.layers.ReLU": lambda: C(scratch.ReLU),
    "scratch.layers.ReLU.derivative": lambda: C(_forwarded(scratch.ReLU(), _nrandn(3, 2)).derivative),
    "scratch.layers.Sigmoid": lambda: C(scratch.Sigmoid),
    "scratch.layers.Sigmoid.derivative": lambda: C(_forwarded(scratch.Sigmoid(), _nrandn(3, 2)).derivative),
    "scratch.layers.Tanh": lambda: C(scratch.Tanh),
    "scratch.layers.Tanh.derivative": lambda: C(_forwarded(scratch.Tanh(), _nrandn(3, 2)).derivative),
    "scratch.layers.Linear": lambda: C(scratch.Linear, (3, 2), {"bias": True, "rng": np.random.default_rng(0)}),
    "scratch.layers.Linear.forward": lambda: C(_lin().forward, (_nrandn(4, 3),), nan_ok=("x",)),
    "scratch.layers.Linear.backward": lambda: C(_forwarded(_lin(), _nrandn(4, 3)).backward, (_nrandn(4, 2),), nan_ok=("grad_out",)),
    "scratch.layers.Dropout": lambda: C(scratch.Dropout, (0.5,), {"rng": np.random.default_rng(0)}),
    "scratch.layers.Dropout.forward": lambda: C(scratch.Dropout(0.5, rng=np.random.default_rng(0)).forward, (_nrandn(4, 3),), nan_ok=("x",)),
    "scratch.layers.Dropout.backward": lambda: C(_forwarded(scratch.Dropout(0.5, rng=np.random.default_rng(0)), _nrandn(4, 3)).backward, (_nrandn(4, 3),),
                                                 nan_ok=("grad_out",)),
    "scratch.layers.Dropout.train": lambda: C(scratch.Dropout(0.5).train, (True,)),
    "scratch.layers.Dropout.eval": lambda: C(scratch.Dropout(0.5).eval),
    "scratch.layers.Flatten": lambda: C(scratch.Flatten),
    "scratch.layers.Flatten.forward": lambda: C(scratch.Flatten().forward, (_nrandn(2, 3, 2),), nan_ok=("x",)),
    "scratch.layers.Flatten.backward": lambda: C(_forwarded(scratch.Flatten(), _nrandn(2, 3, 2)).backward, (_nrandn(2, 6),), nan_ok=("grad_out",)),
    "scratch.losses.CrossEntropyLoss": lambda: C(scratch.CrossEntropyLoss, ("mean",)),
    "scratch.losses.CrossEntropyLoss.forward": lambda: C(scratch.CrossEntropyLoss().forward, (_nrandn(4, 3), np.array([0, 2, 1, 0]))),
    "scratch.losses.CrossEntropyLoss.backward": lambda: C((lambda ce: (ce.forward(_nrandn(4, 3), np.array([0, 2, 1, 0])), ce)[1])(scratch.CrossEntropyLoss()).backward, ()),
    "scratch.losses.log_softmax": lambda: C(scratch.log_softmax, (_nrandn(4, 3),), {"axis": -1}),
    "scratch.losses.MSELoss": lambda: C(scratch.MSELoss, ("mean",)),
    "scratch.losses.MSELoss.forward": lambda: C(scratch.MSELoss().forward, (_nrandn(4, 2), _nrandn(4, 2, seed=1)), nan_ok=("pred", "target")),
    "scratch.losses.MSELoss.backward": lambda: C((lambda l: (l.forward(_nrandn(4, 2), _nrandn(4, 2, seed=1)), l)[1])(scratch.MSELoss()).backward),
    "scratch.mlp.MLP": lambda: C(scratch.MLP, ([3, 4, 2],), {"activation": "tanh", "seed": 0, "init": 0.5}),
    "scratch.mlp.init_std": lambda: C(scratch.init_std, (0.5, 3, 4)),
    "scratch.mlp.MLP.forward": lambda: C(_scratch_mlp().forward, (_nrandn(5, 3),), nan_ok=("x",)),
    "scratch.mlp.MLP.backward": lambda: C((lambda m: (m.forward(_nrandn(5, 3)), m)[1])(_scratch_mlp()).backward, (_nrandn(5, 2),), nan_ok=("grad_out",)),
    "scratch.mlp.MLP.parameters": lambda: C(_scratch_mlp().parameters),
    "scratch.mlp.MLP.gradients": lambda: C((lambda m: (m.forward(_nrandn(5, 3)), m.backward(_nrandn(5, 2)), m)[2])(_scratch_mlp()).gradients),
    "scratch.mlp.MLP.num_parameters": lambda: C(_scratch_mlp().num_parameters),
    "scratch.mlp.MLP.state_dict": lambda: C(_scratch_mlp().state_dict),
    "scratch.mlp.MLP.load_state_dict": lambda: C(_scratch_mlp().load_state_dict, (scratch.MLP([3, 4, 2], seed=1).state_dict(),)),
    "scratch.norm.BatchNorm2D": lambda: C(scratch.BatchNorm2D, (2,), {"eps": 1e-5, "momentum": 0.1}),
    "scratch.norm.BatchNorm2D.forward": lambda: C(_bn().forward, (_nrandn(3, 2, 4, 4),), nan_ok=("x",)),
    "scratch.norm.BatchNorm2D.backward": lambda: C(_forwarded(_bn(), _nrandn(3, 2, 4, 4)).backward, (_nrandn(3, 2, 4, 4, seed=1),), nan_ok=("grad_out",)),
    "scratch.norm.BatchNorm2D.train": lambda: C(_bn().train, (True,)),
    "scratch.norm.BatchNorm2D.eval": lambda: C(_bn().eval),
    "scratch.optim.SGD": lambda: C(scratch.SGD, ({"w": np.zeros(3)}, 0.1), {"momentum": 0.9, "weight_decay": 0.0}),
    "scratch.optim.SGD.step": lambda: C(scratch.SGD({"w": np.zeros(3)}, 0.1).step, ({"w": np.ones(3)},)),
    "scratch.optim.Adam": lambda: C(scratch.Adam, ({"w": np.zeros(3)},), {"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0}),
    "scratch.optim.Adam.step": lambda: C(scratch.Adam({"w": np.zeros(3)}).step, ({"w": np.ones(3)},)),
    "scratch.pooling.MaxPool2D": lambda: C(scratch.MaxPool2D, (2,), {"stride": 2, "padding": 0}),
    "scratch.pooling.MaxPool2D.forward": lambda: C(scratch.MaxPool2D(2).forward, (_nrandn(1, 2, 4, 4),), nan_ok=("x",)),
    "scratch.pooling.MaxPool2D.backward": lambda: C(_forwarded(scratch.MaxPool2D(2), _nrandn(1, 2, 4, 4)).backward, (_nrandn(1, 2, 2, 2),), nan_ok=("grad_out",)),
    "scratch.pooling.AdaptiveAvgPool2D": lambda: C(scratch.AdaptiveAvgPool2D, (2,)),
    "scratch.pooling.AdaptiveAvgPool2D.forward": lambda: C(scratch.AdaptiveAvgPool2D(2).forward, (_nrandn(1, 2, 4, 4),), nan_ok=("x",)),
    "scratch.pooling.AdaptiveAvgPool2D.backward": lambda: C(_forwarded(scratch.AdaptiveAvgPool2D(2), _nrandn(1, 2, 4, 4)).backward, (_nrandn(1, 2, 2, 2),),
                                                           nan_ok=("grad_out",)),
    "scratch.conv.Conv2D": lambda: C(scratch.Conv2D, (1, 2, 3), {"stride": 1, "padding": 1, "dilation": 1, "bias": True, "rng": np.random.default_rng(0)}),
    "scratch.conv.Conv2D.forward": lambda: C(_conv().forward, (_nrandn(1, 1, 5, 5),), nan_ok=("x",)),
    "scratch.conv.Conv2D.backward": lambda: C(_forwarded(_conv(), _nrandn(1, 1, 5, 5)).backward, (_nrandn(1, 2, 5, 5),), nan_ok=("grad_out",)),
    "scratch.conv.conv_output_size": lambda: C(scratch.conv_output_size, (8, 3), {"stride": 1, "padding": 1, "dilation": 1}),
    "scratch.conv.pair": lambda: C(scratch.conv.pair, ("stride", 2), {"minimum": 1}),
    "scratch.conv.conv2d_loops": lambda: C(scratch.conv2d_loops, (_nrandn(1, 1, 5, 5), _nrandn(2, 1, 3, 3, seed=1), np.zeros(2)),
                                           {"stride": 1, "padding": 1, "dilation": 1}, nan_ok=("x", "weight", "bias")),
    "scratch.conv.conv2d_loops_backward": lambda: C(scratch.conv2d_loops_backward, (_nrandn(1, 2, 3, 3), _nrandn(1, 1, 5, 5, seed=1), _nrandn(2, 1, 3, 3, seed=2)),
                                                    {"stride": 1, "padding": 0, "dilation": 1}, nan_ok=("grad_out", "x", "weight")),
    "scratch.conv.im2col": lambda: C(scratch.im2col, (_nrandn(1, 1, 5, 5), (3, 3)), {"stride": 1, "padding": 1, "dilation": 1}, nan_ok=("x",)),
    "scratch.conv.col2im": lambda: C(scratch.col2im, (_nrandn(1, 9, 25), (1, 1, 5, 5), (3, 3)), {"stride": 1, "padding": 1, "dilation": 1}, nan_ok=("cols",)),
    "scratch.conv.convolve1d": lambda: C(scratch.convolve1d, (_nrandn(8), _nrandn(3, seed=1)), nan_ok=("signal", "kernel")),
    "scratch.conv.correlate1d": lambda: C(scratch.correlate1d, (_nrandn(8), _nrandn(3, seed=1)), nan_ok=("signal", "kernel")),
    "scratch.conv.convolve2d": lambda: C(scratch.convolve2d, (_nrandn(5, 5), _nrandn(3, 3, seed=1)), nan_ok=("image", "kernel")),
    "scratch.conv.correlate2d": lambda: C(scratch.correlate2d, (_nrandn(5, 5), _nrandn(3, 3, seed=1)), nan_ok=("image", "kernel")),
    "scratch.recurrent.RNN": lambda: C(scratch.RNN, (2, 3), {"seed": 0}),
    "scratch.recurrent.RNN.forward": lambda: C(_rnn_layer(scratch.RNN).forward, (_nrandn(2, 4, 2),), nan_ok=("x",)),
    "scratch.recurrent.RNN.backward": lambda: C(_fitted(scratch.RNN, _nrandn(2, 4, 2)).backward, (_nrandn(2, 4, 3),), nan_ok=("grad_states",)),
    "scratch.recurrent.LSTM": lambda: C(scratch.LSTM, (2, 3), {"seed": 0}),
    "scratch.recurrent.LSTM.forward": lambda: C(_rnn_layer(scratch.LSTM).forward, (_nrandn(2, 4, 2),), nan_ok=("x",)),
    "scratch.recurrent.LSTM.backward": lambda: C(_fitted(scratch.LSTM, _nrandn(2, 4, 2)).backward, (_nrandn(2, 4, 3),), nan_ok=("grad_states",)),
    "scratch.recurrent.GRU": lambda: C(scratch.GRU, (2, 3), {"seed": 0}),
    "scratch.recurrent.GRU.forward": lambda: C(_rnn_layer(scratch.GRU).forward, (_nrandn(2, 4, 2),), nan_ok=("x",)),
    "scratch.gradcheck.numerical_gradient": lambda: (lambda x: C(scratch.numerical_gradient, (lambda: float((x**2).sum()), x), {"eps": 1e-6}, nan_ok=("x",)))(_nrandn(3)),
    "scratch.gradcheck.relative_error": lambda: C(scratch.relative_error, (_nrandn(3), _nrandn(3, seed=1)), nan_ok=("a", "b")),
    "scratch.graph.laplacian": lambda: C(scratch.graph.laplacian, (_graph()[0],)),
    "scratch.graph.spectral_filter": lambda: C(scratch.graph.spectral_filter, (*_graph(), np.cos), nan_ok=("h",)),
    "scratch.graph.chebyshev_filter": lambda: C(scratch.graph.chebyshev_filter, (*_graph(), np.array([0.5, -0.5])), {"lambda_max": 2.0},
                                                nan_ok=("h", "theta")),
    "scratch.graph.normalized_adjacency": lambda: C(scratch.graph.normalized_adjacency, (_graph()[0],)),
    "scratch.graph.gcn_layer": lambda: C(scratch.graph.gcn_layer, (*_graph(), _nrandn(2, 4, seed=2), np.zeros(2)), nan_ok=("h", "weight", "bias")),
    "scratch.graph.sage_layer": lambda: C(scratch.graph.sage_layer, (*_graph(), _nrandn(2, 4, seed=2), np.zeros(2), _nrandn(2, 4, seed=3)),
                                          nan_ok=("h", "w_self", "b_self", "w_neigh")),
    "scratch.graph.gat_layer": lambda: C(scratch.graph.gat_layer, (*_graph(), _nrandn(2, 4, seed=2), _nrandn(2, seed=3), _nrandn(2, seed=4), np.zeros(2)),
                                         nan_ok=("h", "weight", "att_src", "att_dst", "bias")),
    "scratch.training.cosine_lr": lambda: C(scratch.cosine_lr, (0.1, 1, 10)),
    "scratch.training.minibatch_fit": lambda: (lambda m: C(scratch.minibatch_fit, (m, scratch.SGD(m.parameters(), 0.01), scratch.MSELoss(), _nrandn(8, 3),
                                                                                     _nrandn(8, 2, seed=1)), {"epochs": 2, "batch_size": 4, "cosine_decay": True}))(_scratch_mlp()),
    "scratch.attention.softmax": lambda: C(scratch.softmax, (_nrandn(2, 3),), {"axis": -1}, nan_ok=("x",)),
    "scratch.attention.causal_mask": lambda: C(scratch.causal_mask, (4,)),
    "scratch.attention.padding_mask": lambda: C(scratch.padding_mask, (np.array([[3, 4, 0]]), 0)),
    "scratch.attention.sinusoidal_positional_encoding": lambda: C(scratch.sinusoidal_positional_encoding, (8, 16)),
    "scratch.attention.layer_norm": lambda: C(scratch.layer_norm, (_nrandn(2, 4), np.ones(4), np.zeros(4)), {"eps": 1e-5}, nan_ok=("x", "weight", "bias")),
    "scratch.attention.scaled_dot_product_attention": lambda: C(scratch.scaled_dot_product_attention, (_nrandn(1, 3, 4), _nrandn(1, 5, 4, seed=1), _nrandn(1, 5, 4, seed=2)),
                                                                {"mask": np.array([[[False, False, False, True, True]]])}, nan_ok=("q", "k", "v")),
    "scratch.attention.scaled_dot_product_attention_backward": lambda: C(
        scratch.scaled_dot_product_attention_backward, (_nrandn(1, 3, 2, seed=3), _nrandn(1, 3, 4), _nrandn(1, 5, 4, seed=1), _nrandn(1, 5, 2, seed=2)),
        {"mask": np.array([[[False, False, False, True, True]]])}, nan_ok=("grad_out", "q", "k", "v")),
    "scratch.attention.gelu": lambda: C(scratch.gelu, (_nrandn(2, 3),), {"approximate": "tanh"}, nan_ok=("x",)),
    "scratch.moe.moe_feed_forward": lambda: C(scratch.moe_feed_forward, (_nrandn(2, 3, 8), _moe_params(), "ffn", 2),
                                              {"capacity_factor": 1.0, "renormalize": True}, nan_ok=("x",)),
    "scratch.attention.gpt_block": lambda: C(scratch.gpt_block, (_nrandn(1, 3, 8), _gpt_block_params(), "blocks.0", 2),
                                             {"eps": 1e-5, "gelu_approximate": "none"}, nan_ok=("x",)),
    "scratch.attention.multi_head_attention": lambda: C(scratch.multi_head_attention, (_nrandn(1, 3, 16), _nrandn(1, 4, 16, seed=1), _np_params(),
                                                                                       "encoder_layers.0.self_attn", 2), nan_ok=("x_q", "x_kv")),
    "scratch.attention.feed_forward": lambda: C(scratch.feed_forward, (_nrandn(1, 3, 16), _np_params(), "encoder_layers.0.ff"), nan_ok=("x",)),
    "scratch.attention.encoder_layer": lambda: C(scratch.encoder_layer, (_nrandn(1, 3, 16), _np_params(), "encoder_layers.0", 2, np.array([[[[False, False, True]]]])),
                                                 nan_ok=("x",)),
    "scratch.attention.decoder_layer": lambda: C(scratch.decoder_layer, (_nrandn(1, 3, 16), _nrandn(1, 4, 16, seed=1), _np_params(), "decoder_layers.0", 2,
                                                                         scratch.causal_mask(3)[None, None], np.array([[[[False, False, False, True]]]])),
                                                 nan_ok=("x", "memory")),
    "scratch.attention.transformer_forward": lambda: C(scratch.transformer_forward, (_np_params(), np.array([[5, 6, 7, 2, 0]]), np.array([[1, 5, 6]])),
                                                       {"num_heads": 2, "num_encoder_layers": 1, "num_decoder_layers": 1, "pad_id": 0,
                                                        "scale_embeddings": True}),
    # ------------------------------------------------------------------ explore: the anatomy lens
    "explore.summary.summary": lambda: C(explore.summary, (_mlp(), _randn(2, 3)), {"depth": None, "timing": False, "backward": True, "loss_fn": None}, nan_ok=("args[1]",)),
    "explore.summary.Summary.grouped": lambda: C(_summary().grouped, (1,)),
    "explore.summary.Summary.training_memory": lambda: C(_summary().training_memory, ("adam",)),
    "explore.summary.Summary.theoretical_seconds": lambda: C(_summary().theoretical_seconds, (1e12,), {"training": False}),
    "explore.summary.Summary.notes": lambda: C(_summary().notes),
    "explore.trace.trace": lambda: (lambda m: C(explore.trace, (m, _randn(1, 3)), {"target": _randn(1, 2, seed=1), "loss_fn": nn.MSELoss(),
                                                                                  "optimizer": _sgd(m)}))(_mlp()),
    "explore.stability.gradient_flow": lambda: (lambda m: C(explore.gradient_flow, (m, _randn(5, 3), lambda mod, b: mod(b).pow(2).mean()),
                                                            {"optimizer": _sgd(m)}))(nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))),
    "explore.stability.diagnose": lambda: C(explore.diagnose, (_flow(),)),
    "explore.lint.lint": lambda: C(explore.lint, (nn.Sequential(nn.Conv2d(1, 2, 3, stride=2), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 4),
                                                                nn.Linear(4, 2)), _randn(2, 1, 5, 5)), nan_ok=("args[1]",)),  # shapes only
    "explore.memory.memory": lambda: C(explore.memory, (nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1)), _randn(5, 3)),
                                       {"loss_fn": lambda out: out.pow(2).mean(), "optimizer": "adam", "device": "cpu", "autocast": None,
                                        "checkpoint": ["1"], "measure": True}, nan_ok=("args[1]",)),  # memory depends on shapes, not values
    "explore.memory.MemoryReport.plot": lambda: C(explore.memory(nn.Linear(3, 2), _randn(4, 3), measure=False).plot, ()),
    "explore.stability.GradientFlow.plot": lambda: C(_flow().plot, (), {"label": "x", "floor": 1e-45}),
    "explore.gradcheck.gradcheck": lambda: C(explore.gradcheck, (nn.Linear(3, 2).double(), torch.randn(2, 3, dtype=torch.float64, generator=_g())),
                                             {"eps": 1e-6, "params": True}),
    "explore.gradcheck.grade": lambda: C(explore.grade, (1e-9,)),
    "explore.receptive.receptive_field": lambda: C(explore.receptive_field, (nn.Sequential(nn.Conv2d(1, 2, 3), nn.Conv2d(2, 2, 3, stride=2)), _randn(1, 1, 9, 9))),
    "explore.receptive.measured_receptive_field": lambda: C(explore.measured_receptive_field, (nn.Sequential(nn.Conv2d(1, 2, 3), nn.Conv2d(2, 2, 3)),
                                                                                               _randn(1, 1, 9, 9))),
    "explore.counting.count_macs": lambda: (lambda m, x: C(explore.count_macs, (m, (x,), m(x))))(nn.Linear(3, 2), _randn(4, 3)),
    "explore.counting.has_counter": lambda: C(explore.counting.has_counter, (nn.Linear(3, 2),)),
    "explore.formatting.format_bytes": lambda: C(explore.format_bytes, (2048,)),
    "explore.formatting.format_count": lambda: C(explore.format_count, (12345,), {"compact": False}),
    "explore.compare.compare": lambda: C(explore.compare, ({"a": _mlp}, _batches(), (_randn(2, 3),), lambda m: {"loss": 0.5}, "loss"),
                                         {"loss_fn": nn.MSELoss(), "epochs": 1, "lr": 1e-3}),
    "explore.compare.Comparison.table": lambda: C(_comparison().table),
    "explore.compare.Comparison.plot": lambda: C(_comparison().plot, (), {"title": "t"}),
    "explore.backward.show_backward_effect": lambda: C(explore.show_backward_effect, (), {"w": 0.5, "b": 0.0}),
    "explore.widgets.conv_geometry": lambda: C(explore.conv_geometry, (8, 8, 1, 2, 3), {"stride": 1, "padding": 1, "dilation": 1, "bias": True}),
    "explore.widgets.ConvGeometry.describe": lambda: C(explore.conv_geometry(8, 8, 1, 2, 3).describe),
    "explore.widgets.layer_cost": lambda: C(explore.layer_cost, ("Linear",), {"batch": 2, "in_features": 3, "out_features": 2}),
    "explore.parallel.parallel_cost": lambda: C(explore.parallel_cost, (124_439_808,), {"devices": 8, "strategy": "fsdp", "optimizer": "adam",
                                                                         "bytes_per_value": 4, "tokens_per_device": 8192,
                                                                         "peak_flops": 1e14, "link_bandwidth": 25e9}),
    "explore.parallel.ParallelCost.describe": lambda: C(explore.parallel_cost(1000).describe),
    # ------------------------------------------------------------------ separation
    "separation.SpectrogramConfig": lambda: C(separation.SpectrogramConfig, (), {"n_fft": 128, "hop": 32}),
    "separation.stft": lambda: C(separation.stft, (_nrandn(2, 800).astype(np.float32), separation.SpectrogramConfig(n_fft=128, hop=32))),
    "separation.istft": lambda: C(separation.istft, (separation.stft(_nrandn(2, 800).astype(np.float32), separation.SpectrogramConfig(n_fft=128, hop=32)), 800,
                                                     separation.SpectrogramConfig(n_fft=128, hop=32))),
    "separation.ideal_ratio_mask": lambda: C(separation.ideal_ratio_mask, (_stems(), separation.SpectrogramConfig(n_fft=128, hop=32))),
    "separation.separate": lambda: C(separation.separate, ((_stems().vocals + _stems().accompaniment).astype(np.float32), _uvr(),
                                                           separation.SpectrogramConfig(n_fft=128, hop=32)),
                                     {"window": 272, "tta": False, "aggressiveness": 0.1}),
    "separation.si_sdr": lambda: C(separation.si_sdr, (_nrandn(2, 100), _nrandn(2, 100, seed=1))),
    "separation.sdr": lambda: C(separation.sdr, ([_nrandn(2, 400)], [_nrandn(2, 400, seed=1)])),
    "separation.SeparationCrops": lambda: C(separation.SeparationCrops, ([_stems()], separation.SpectrogramConfig(n_fft=128, hop=32)),
                                            {"frames": 16, "crops_per_song": 2}),
    "separation.separation_loss": lambda: C(separation.separation_loss, (uvr5.CascadedASPPNet(n_fft=128, width=0.25), tuple(torch.stack(parts) for parts in zip(*(lambda c: (c[0], c[1]))(_crops()))))),
    "separation.StereoSeparation": lambda: C(separation.StereoSeparation, (np.zeros((2, 8), np.float32), np.zeros((2, 8), np.float32), np.zeros((2, 3, 4), np.float32))),
    # ------------------------------------------------------------------ speech
    # the smallest split synthesises 100 utterances: about 5 s on one core of a 2-core CPU
    "speech.corpus": lambda: C(speech.corpus, ("test",), seconds=30.0),
    "speech.subsample_frames": lambda: C(speech.subsample_frames, (16,)),
    "speech.encoder_labels": lambda: C(speech.encoder_labels, (_corpus()[0],)),
    "speech.quantizer_labels": lambda: C(speech.quantizer_labels, (_corpus()[0],)),
    "speech.log_mel_features": lambda: C(speech.log_mel_features, (_corpus(),), {"n_mels": 16}),
    "speech.mfcc_features": lambda: C(speech.mfcc_features, (_corpus(),), {"n_mfcc": 8}),
    "speech.encoder_rate_frames": lambda: C(speech.encoder_rate_frames, (_features(), _corpus()), {"stack": 1}),
    "speech.chunks": lambda: C(speech.chunks, (_features(), _corpus()), {"frames": 16}),
    "speech.UtteranceBatches": lambda: C(speech.UtteranceBatches, (_features(),), {"batch_size": 2}),
    "speech.pretrain": lambda: C(speech.pretrain, (bestrq.BestRQ(_ccfg(), codebook_size=8, code_dim=4, mask_prob=0.2, mask_span=2),
                                                   speech.UtteranceBatches(_features(), batch_size=2), 1), {"lr": 1e-3, "progress": False}),
    "speech.all_layer_features": lambda: C(speech.all_layer_features, (conformer.ConformerEncoder(_ccfg()), _features())),
    "speech.layer_features": lambda: C(speech.layer_features, (conformer.ConformerEncoder(_ccfg()), _features(), 0)),
    "speech.kmeans": lambda: C(speech.kmeans, ([_nrandn(20, 3), _nrandn(10, 3, seed=1)], 2), {"max_frames": 100}),
    "speech.cluster_quality": lambda: C(speech.cluster_quality, (np.array([0, 1, 1, 2]), np.array([0, 1, 1, 1]))),
    "speech.information": lambda: C(speech.information, (np.array([0, 1, 1, 2]), np.array([0, 1, 1, 1]))),
    "speech.linear_probe": lambda: C(speech.linear_probe, ([_nrandn(20, 3)], [np.arange(20) % 2], [_nrandn(10, 3, seed=1)], [np.arange(10) % 2]),
                                     {"max_iter": 20}),
    "speech.probe_predictions": lambda: C(speech.probe_predictions, ([_nrandn(20, 3)], [np.arange(20) % 2], [_nrandn(10, 3, seed=1)]), {"max_iter": 20}),
    # ------------------------------------------------------------------ experiments
    "experiments.reverbnet.build": lambda: C(experiments.reverbnet.build, ("mlp",)),
    "experiments.reverbnet.load_results": lambda: C(experiments.reverbnet.load_results),
    "experiments.reverbnet.load_curve": lambda: C(experiments.reverbnet.load_curve),
    "experiments.reverbnet.SequenceMLP": lambda: C(experiments.reverbnet.SequenceMLP, (8,)),
    "experiments.reverbnet.SequenceMLP.forward": lambda: C(experiments.reverbnet.SequenceMLP(8).forward, (_randn(2, 10, 64),), nan_ok=("x",)),
    "experiments.reverbnet.SequenceGRU": lambda: C(experiments.reverbnet.SequenceGRU, (8,)),
    "experiments.reverbnet.SequenceGRU.forward": lambda: C(experiments.reverbnet.SequenceGRU(8).forward, (_randn(2, 10, 64),), nan_ok=("x",)),
    "experiments.reverbnet.SequenceTransformer": lambda: C(experiments.reverbnet.SequenceTransformer, (16, 1)),
    "experiments.reverbnet.SequenceTransformer.forward": lambda: C(experiments.reverbnet.SequenceTransformer(16, 1).forward, (_randn(2, 10, 64),), nan_ok=("x",)),
    "experiments.digits.classifier": lambda: C(experiments.digits.classifier, ("CNN",), {"channels": (4, 8)}),
    "experiments.digits.shift": lambda: C(experiments.digits.shift, (_randn(2, 1, 8, 8),), {"dx": 1, "dy": -2}, nan_ok=("images",)),
    "experiments.digits.accuracy": lambda: C(experiments.digits.accuracy, (experiments.digits.classifier("MLP"), _randn(4, 1, 8, 8),
                                                                             T([0, 1, 2, 3])), nan_ok=("images",)),
    "experiments.digits.load_depth_results": lambda: C(experiments.digits.load_depth_results),
    "experiments.adding.load_results": lambda: C(experiments.adding.load_results),
    "experiments.real_text.load_results": lambda: C(experiments.real_text.load_results),
    "experiments.real_text.text": lambda: C(experiments.real_text.text),
    "experiments.real_text.split": lambda: C(experiments.real_text.split, ("x" * 200,)),
    "experiments.real_text.fingerprint": lambda: C(experiments.real_text.fingerprint, ("abc",)),
    "experiments.real_text.compressors": lambda: C(experiments.real_text.compressors, ("the cat sat. " * 20, "the dog sat. " * 5)),
    "experiments.gpt_choices.load_results": lambda: C(experiments.gpt_choices.load_results),
    "experiments.moe.load_results": lambda: C(experiments.moe.load_results),
    "experiments.lookahead.load_results": lambda: C(experiments.lookahead.load_results),
    "experiments.lookahead.make": lambda: C(experiments.lookahead.make, (4, 0)),
    "experiments.lookahead.left_to_right_ceiling": lambda: C(experiments.lookahead.left_to_right_ceiling, (4,)),
    "experiments.lookahead.Tagger": lambda: C(experiments.lookahead.Tagger, (1, False), {"hidden": 4}),
    "experiments.lookahead.Tagger.forward": lambda: C(experiments.lookahead.Tagger(1, True, hidden=4).forward, (T([[1, 2, 3, 0]]),)),
    "experiments.segmentation.load_results": lambda: C(experiments.segmentation.load_results),
    "experiments.segmentation.make_config": lambda: C(experiments.segmentation.make_config, ("no-skips-wide",)),
    "experiments.segmentation.dice_loss": lambda: C(experiments.segmentation.dice_loss, (_randn(2, 3, 4, 4), T([[[0, 1, 2, 1]] * 4] * 2))),
    "experiments.segmentation.iou_per_class": lambda: C(experiments.segmentation.iou_per_class, (np.array([[5, 1], [2, 3]]),)),
    "experiments.segmentation.boundary_mask": lambda: C(experiments.segmentation.boundary_mask, (np.array([[[0, 0, 1], [0, 1, 1]]]),)),
    "experiments.segmentation.confusion": lambda: C(experiments.segmentation.confusion,
                                                    (torch.nn.Conv2d(1, 3, 1), _nrandn(2, 1, 4, 4).astype(np.float32),
                                                     np.zeros((2, 4, 4), dtype=np.int64))),
    "experiments.guidance.load_results": lambda: C(experiments.guidance.load_results),
    "experiments.dit.load_results": lambda: C(experiments.dit.load_results),
    "experiments.lab.load_results": lambda: C(experiments.lab.load_results),
    "experiments.speech_design.load_results": lambda: C(experiments.speech_design.load_results),
    "experiments.speech_design.build": lambda: C(experiments.speech_design.build, ("conformer", "mfcc-kmeans")),
    "experiments.speech_design.targets_for": lambda: C(experiments.speech_design.targets_for, ("transformer", "random-projection", _corpus(),
                                                                                             speech.log_mel_features(_corpus())[0])),
    "experiments.lab.gradient_through_time": lambda: C(experiments.lab.gradient_through_time,
                                                       (lab.SequenceRegressor("gru", hidden=4), _randn(2, 5, 2)), nan_ok=("x",)),
    "experiments.lab.graphs": lambda: C(experiments.lab.graphs, (0,), {"epochs": 1, "device": "cpu"}),
    "experiments.lab.data_size_run": lambda: C(experiments.lab.data_size_run, ("cnn", 10, 0), {"steps": 2}),
    "experiments.lab.message_passing_cost": lambda: C(experiments.lab.message_passing_cost, (40,), {"degree": 2.0, "repeats": 1, "seed": 0},
                                                      seconds=30.0),
    "experiments.dit.make_config": lambda: C(experiments.dit.make_config, ("patch-1",)),
    "experiments.dit.heldout_mse": lambda: C(experiments.dit.heldout_mse, (models.DiT(experiments.dit.make_config("patch-4")),)),
    "experiments.moe.corpus": lambda: C(experiments.moe.corpus, ({"n_sentences": 20, "max_seq_len": 16},)),
    "experiments.moe.make_config": lambda: C(experiments.moe.make_config, ("moe-shared", 30), {"recipe": {"d_model": 16}}),
    "experiments.moe.collapse_stats": lambda: C(experiments.moe.collapse_stats, (np.array([[0.5, 0.25, 0.25, 0.0]]),), {"threshold": 0.01}),
    "experiments.translation.load_results": lambda: C(experiments.translation.load_results),
    "experiments.translation.make_model": lambda: C(experiments.translation.make_model, ("lstm-attention", _chained())),
    "experiments.translation.exact_match": lambda: (lambda c: C(experiments.translation.exact_match,
                                                                (experiments.translation.make_model("lstm", c), c.test[:2], c)))(_chained()),
})

#: callables the probe does not call, and why
NOT_PROBED.update({
    "distributed.session": "a context manager that starts a process group when launched by torchrun; tests/test_distributed.py runs it in two processes",
    "distributed_demo.main": "the torchrun entry point (parses argv, trains); tests/test_distributed.py runs it",
    "experiments.translation.run": "one training run of the stored translation sweep (minutes); its arguments are checked by tests/test_seq2seq.py",
    "experiments.segmentation.run": "one training run of chapter 09's stored U-Net sweep (a minute or more); tests/test_segmentation.py checks its arguments, and the chapter repeats two stored runs live",
    "experiments.speech_design.run": "pre-trains one cell of chapter 08's 2 x 2 design (15-25 minutes) and probes it; tests/test_speech_design.py checks its arguments, tools/speech_sweep.py runs it",
    "experiments.speech_design.probe": "probes every block of an encoder on three synthesised splits (about a minute); tools/speech_sweep.py runs it, the chapters read its stored results",
    "experiments.lab.images": "appendix A3's image tournament (about 10 s at one epoch and more); tests/test_lab.py runs one epoch and checks its arguments",
    "experiments.lab.sequences": "appendix A3's sequence tournament (seconds per epoch); tests/test_lab.py runs one epoch and checks its arguments",
    "experiments.lab.run": "one tournament of A3's stored sweep at the full recipe (seconds to a minute); tests/test_lab.py checks its arguments, the appendix repeats seed 0 live",
    "experiments.dit.run": "one training run of chapter 11's stored DiT sweep (seconds to minutes); tests/test_dit_experiments.py runs a short one and checks its arguments, and the chapter repeats two stored runs live",
    "experiments.guidance.setup": "loads chapter 10's caption U-Net and trains the digit judge (seconds); tests/test_guidance.py checks what the other functions accept, and the chapter runs it",
    "experiments.guidance.run": "samples 200 digits with guidance (seconds to a minute); the chapter repeats stored runs live, tests/test_guidance.py checks its arguments",
    "experiments.guidance.sample": "samples 200 digits with guidance (seconds to a minute); tests/test_guidance.py checks its arguments",
    "experiments.guidance.trace": "a guided 50-step run of the shipped model (seconds); the chapter runs it, tests/test_guidance.py checks its arguments",
    "experiments.lookahead.run": "one training run of chapter 04's stored stacked/bidirectional sweep (seconds); tests/test_lookahead.py runs it and checks its arguments",
    "experiments.moe.run": "one training run of chapter 07's stored sweep (seconds to a minute); tests/test_gpt_moe.py runs it on a tiny recipe and checks its arguments",
    "experiments.gpt_choices.run": "one training run of chapter 06's stored sweep (a minute); its arguments are checked by tests/test_gpt_moe.py",
    "experiments.real_text.run": "one training run of chapter 06's stored real-text sweep (minutes); its arguments are checked by tests/test_gpt_moe.py",
    "experiments.real_text.ngram_baseline": "fits n-grams to 420,000 characters (seconds); its arguments are checked by tests/test_gpt_moe.py",
    "experiments.adding.run": "one training run of chapter 04's stored sweep (seconds); its arguments are checked by tests/test_digits_experiments.py",
    "experiments.digits.fit_classifier": "30 epochs of training on the digits (seconds); its arguments are checked by tests/test_digits_experiments.py",
    "experiments.digits.run_depth": "one training run of chapter 02's stored depth sweep (seconds); its arguments are checked by tests/test_digits_experiments.py",
    "experiments.reverbnet.run": "one training run of chapter 13's stored ablation (minutes); its arguments are checked by tests/test_reverbnet.py",
    "experiments.reverbnet.curve_run": "one training run of chapter 13's stored learning curve (seconds to an hour); tests/test_reverbnet.py runs it on a tiny budget and checks its arguments",
    "explore.widgets.conv_calculator": "an ipywidgets panel; its arithmetic is conv_geometry, which is probed",
    "explore.widgets.layer_calculator": "an ipywidgets panel; its arithmetic is layer_cost, which is probed",
    "explore.parallel.parallel_calculator": "an ipywidgets panel; its arithmetic is parallel_cost, which is probed",
    "explore.counting.register_counter": "a decorator factory taking module types (*args): probed through count_macs and tests/test_explore_lens.py",
    "judge.train_digit_judge": "trains a classifier for seconds (30 epochs); its arguments are checked in tests/test_unet_diffusion_dit.py",
    "plots.show_compact": "displays a figure through IPython (needs a notebook front end)",
    "published.OfflineError": "an exception class (raised by fetch, tested in tests/test_published.py)",
    "published.hubert": "downloads HuBERT (380 MB) from the Hub: fetch and load_hubert, which it chains, are probed offline",
    "published.gpt2": "downloads GPT-2 (550 MB) from the Hub: fetch and load_gpt2, which it chains, are probed offline",
    "published.vocal_remover": "downloads a 30 MB checkpoint: fetch, uvr_hash and load_vocal_remover, which it chains, are probed offline",
})

CALLS.update({
    "data.graphs.Graph": lambda: C(data.Graph, (_graph()[0], _nrandn(3, 2), np.array([0, 1, 0]), np.array([True, False, True]), np.array([False, True, False]))),
    "data.images.Split": lambda: C(data.Split, (_nrandn(4, 2), np.array([0, 1, 0, 1]), _nrandn(2, 2, seed=1), np.array([1, 0]))),
    "data.music.MusicStems": lambda: C(data.MusicStems, (_nrandn(2, 80).astype(np.float32), _nrandn(2, 80, seed=1).astype(np.float32), 8000)),
    "data.phones.PhoneUtterance": lambda: (lambda u: C(data.PhoneUtterance, (u.wave, u.labels, u.speaker, u.sample_rate, u.hop_length)))(_corpus()[0]),
    "data.text.CharVocab.from_text": lambda: C(data.CharVocab.from_text, ("abba c",)),
    "data.translation.WordVocab.from_sentences": lambda: C(data.WordVocab.from_sentences, ([["a", "b"], ["b", "c"]],)),
    "data.translation.Pair": lambda: C(data.Pair, (("a", "b"), ("x", "y"), ((0, 0), (1, 1)), "a", "b")),
    "train.History.from_dict": lambda: C(train.History.from_dict, (_history().as_dict(),)),
    "scratch.layers.ReLU.fn": lambda: C(scratch.ReLU.fn, (_nrandn(3, 2),), nan_ok=("x",)),
    "scratch.layers.Sigmoid.fn": lambda: C(scratch.Sigmoid.fn, (_nrandn(3, 2),), nan_ok=("x",)),
    "scratch.layers.Tanh.fn": lambda: C(scratch.Tanh.fn, (_nrandn(3, 2),), nan_ok=("x",)),
})

_RESULT = "a result record the package returns (readers read it, they do not build it)"
NOT_PROBED.update({name: _RESULT for name in (
    "data.translation.TranslationData", "data.translation.ChainedTranslation", "display.SourceCode", "distributed.Info", "explore.backward.BackwardWalk", "explore.compare.Comparison",
    "explore.compare.ComparisonEntry", "explore.gradcheck.GradCheck", "explore.receptive.RFRow", "explore.receptive.ReceptiveField",
    "explore.memory.MemoryReport", "explore.memory.MemoryRow", "explore.stability.Finding", "explore.stability.GradientFlow", "explore.stability.LayerStats", "explore.summary.LayerRow", "explore.summary.Summary", "explore.parallel.ParallelCost",
    "explore.trace.LayerTrace", "explore.trace.Trace", "explore.widgets.ConvGeometry")})
NOT_PROBED.update({
    "scratch.layers.Layer.forward": "the abstract base method: it raises NotImplementedError by design (every layer overrides it)",
    "scratch.layers.Layer.backward": "the abstract base method: it raises NotImplementedError by design (every layer overrides it)",
})


def _allow_nan(name: str, *arguments: str) -> None:
    """The lens measures what a network does, NaN included (diagnose names it): NaN in these
    arguments is shown, not refused."""
    import dataclasses

    factory = CALLS[name]
    CALLS[name] = lambda: dataclasses.replace(factory(), nan_ok=arguments)


for _name, _arguments in (("explore.trace.trace", ("x", "target")), ("explore.stability.gradient_flow", ("batch",)),
                          ("explore.receptive.receptive_field", ("example_input",)),
                          ("explore.receptive.measured_receptive_field", ("example_input",)),
                          ("explore.counting.count_macs", ("output",))):
    _allow_nan(_name, *_arguments)

# Its first call builds two 64-block GPTs of seven million parameters each (seconds on a slow CPU,
# past the probe's hang limit when two test workers share two cores); tests/test_exercises.py runs
# it with the chapter's solution and with wrong and ill-typed answers.
CALLS.pop("exercises.gpt.check_residual_growth")
NOT_PROBED["exercises.gpt.check_residual_growth"] = ("builds two 64-block GPTs on its first call (seconds); "
                                                     "tests/test_exercises.py checks it with right, wrong and ill-typed answers")
