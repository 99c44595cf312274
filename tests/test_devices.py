"""Device handling that breaks only on a GPU, tested on this CPU (issue: run wherever readers run).

A CUDA machine is not available to these tests, so each checks the contract that makes the GPU
path work — on which device noise is drawn, where the receptive-field probe computes, which AMP
dtype and which process-group backend are chosen — with PyTorch's device queries stubbed.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from nnanatomy import distributed, explore, runtime, train
from nnanatomy.models import diffusion


def test_sampler_noise_is_drawn_on_the_generators_device(monkeypatch):
    """A CPU generator with device=cuda used to crash ch10/ch11 (torch.randn refuses the pair)."""
    calls = []
    real = torch.randn

    def randn(*args, **kwargs):
        calls.append(kwargs)
        generator = kwargs.get("generator")
        if generator is not None and torch.device(kwargs.get("device", "cpu")) != generator.device:
            raise RuntimeError("Expected a generator of the tensor's device")  # what CUDA does
        return real(*args, **kwargs)

    monkeypatch.setattr(torch, "randn", randn)
    noise = diffusion._noise((2, 3), torch.Generator().manual_seed(0), torch.device("meta"))
    assert noise.device.type == "meta" and calls[-1]["device"] == torch.device("cpu")
    monkeypatch.undo()
    same = diffusion._noise((2, 3), torch.Generator().manual_seed(0), torch.device("cpu"))
    assert torch.equal(same, torch.randn(2, 3, generator=torch.Generator().manual_seed(0)))  # CPU results unchanged


def test_the_receptive_field_probe_computes_on_a_cpu_float64_copy(monkeypatch):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Conv2d(2, 2, 3, stride=2))
    seen = []
    monkeypatch.setattr(nn.Module, "cpu", lambda self: (seen.append(type(self).__name__), self)[1])
    assert explore.measured_receptive_field(model, torch.zeros(1, 1, 11, 11)) == (5, 5)
    assert "Sequential" in seen  # the probe was moved to the CPU before .double() (MPS has no float64)
    assert next(model.parameters()).dtype == torch.float32  # the caller's model is untouched


def test_amp_uses_bf16_only_where_the_hardware_has_it(monkeypatch):
    asked = {}

    def is_bf16_supported(including_emulation=True):
        asked["including_emulation"] = including_emulation
        return including_emulation  # a T4: bf16 only by emulation

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)
    monkeypatch.setattr(torch.amp, "GradScaler", lambda device: ("scaler", device))
    dtype, scaler = train._mixed_precision(True)
    assert asked["including_emulation"] is False
    assert dtype == torch.float16 and scaler == ("scaler", "cuda")
    assert train._mixed_precision(False) == (None, None)


def test_session_falls_back_to_gloo_when_processes_outnumber_gpus(monkeypatch):
    chosen = {}
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)  # a one-GPU Colab
    monkeypatch.setattr(torch.cuda, "set_device", lambda index: pytest.fail("set_device on a GPU this rank does not have"))
    monkeypatch.setattr(distributed, "_active", lambda: False)
    monkeypatch.setattr(distributed, "info", lambda: "info")
    monkeypatch.setattr(distributed.dist, "init_process_group", lambda backend: chosen.setdefault("backend", backend))
    with distributed.session() as info:
        assert info == "info"
    assert chosen["backend"] == "gloo"
    with pytest.raises(ValueError, match="a GPU per process"):
        with distributed.session(backend="nccl"):
            pass


def test_info_gives_a_rank_without_a_gpu_of_its_own_the_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)  # a one-GPU Colab
    monkeypatch.setattr(distributed, "_active", lambda: False)
    monkeypatch.setenv("LOCAL_RANK", "0")
    assert distributed.info().device == torch.device("cuda", 0)
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert distributed.info().device == torch.device("cpu")  # no cuda:1 here
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setattr(distributed, "_active", lambda: True)
    monkeypatch.setattr(distributed.dist, "get_backend", lambda: "gloo")
    monkeypatch.setattr(distributed, "world_size", lambda: 2)
    monkeypatch.setattr(distributed, "rank", lambda: 0)
    assert distributed.info().device == torch.device("cpu")  # Gloo's group trains on the CPU


def test_the_gpu_scale_without_cuda_warns(monkeypatch):
    monkeypatch.setenv("NNANATOMY_SCALE", "gpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(RuntimeWarning, match="without CUDA"):
        assert runtime.get_scale() == "gpu"
    monkeypatch.setenv("NNANATOMY_SCALE", "cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert runtime.get_scale() == "cpu"


def test_pretraining_trains_where_it_is_told(monkeypatch):
    """speech.pretrain used to call fit without a device: chapter 08 pre-trained on the CPU at both scales."""
    from nnanatomy import speech
    from nnanatomy.models.bestrq import BestRQ
    from nnanatomy.models.conformer import ConformerConfig

    seen = {}
    monkeypatch.setattr(train, "fit", lambda model, batches, **kwargs: (seen.update(kwargs), train.History())[1])
    model = BestRQ(ConformerConfig(input_dim=8, d_model=16, num_heads=2, num_layers=1), codebook_size=8, code_dim=4)
    batches = speech.UtteranceBatches([torch.randn(16, 8), torch.randn(12, 8)], batch_size=2)
    speech.pretrain(model, batches, 1, device="cpu")
    assert seen["device"] == "cpu"
    speech.pretrain(model, batches, 1)
    assert seen["device"] is None  # where the model is


def _tiny_problem(seed: int = 0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(200, 3, generator=g)
    batches = [(x[i:i + 5], x[i:i + 5].sum(1, keepdim=True)) for i in range(0, 200, 5)]  # 40 steps: one read at 32, one at the end
    return model, batches


def test_fit_reads_the_losses_in_groups_on_an_accelerator_with_the_same_result(monkeypatch):
    """On an accelerator fit reads the losses and gradient norms every _LOOK_EVERY steps (one
    host sync) instead of every step; the history is the same, bit for bit."""
    from nnanatomy import train

    histories = []
    for deferred in (False, True):
        monkeypatch.setattr(train, "_reads_deferred", lambda device, d=deferred: d)
        model, batches = _tiny_problem()
        history = train.fit(model, batches, optimizer=torch.optim.SGD(model.parameters(), lr=0.05), loss_fn=torch.nn.MSELoss(),
                            epochs=2, clip_grad_norm=1.0, progress=False)
        histories.append((history.train_loss, history.grad_norm, [p.detach().clone() for p in model.parameters()]))
    assert histories[0][0] == histories[1][0] and histories[0][1] == histories[1][1]
    assert all(torch.equal(a, b) for a, b in zip(histories[0][2], histories[1][2]))


def test_fit_names_the_first_non_finite_step_when_reads_are_deferred(monkeypatch):
    from nnanatomy import train

    monkeypatch.setattr(train, "_reads_deferred", lambda device: True)
    model, batches = _tiny_problem()
    batches[3] = (batches[3][0], torch.full((5, 1), float("nan")))
    with pytest.raises(FloatingPointError, match=r"loss is nan at epoch 1, step 3 .*the 28 steps after it"):
        train.fit(model, batches, optimizer=torch.optim.SGD(model.parameters(), lr=0.05), loss_fn=torch.nn.MSELoss(),
                  progress=False)
    monkeypatch.setattr(train, "_reads_deferred", lambda device: False)  # on the CPU: stopped before the step's update
    model, _ = _tiny_problem()
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(FloatingPointError, match=r"loss is nan at epoch 1, step 0$"):
        train.fit(model, [batches[3]], optimizer=torch.optim.SGD(model.parameters(), lr=0.05), loss_fn=torch.nn.MSELoss(),
                  progress=False)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_id_range_checks_take_one_host_sync():
    from nnanatomy._checks import outside

    ids = torch.tensor([[0, 3, 4]])
    assert not outside(ids, 0, 5) and outside(ids, 0, 4) and outside(ids - 1, 0, 5) and not outside(ids[:, :0], 0, 1)
    from nnanatomy.models.hubert import HuBERT, HuBERTConfig

    hubert = HuBERT(HuBERTConfig(input_dim=16, d_model=32, num_heads=4, num_layers=1, d_ff=64, pos_conv_kernel=5, num_clusters=7))
    targets = torch.full((1, 4), -1)
    targets[0, 0] = -3  # below -1 (no target): rejected, where only too-large ids were before
    with pytest.raises(ValueError, match=r"in \[0, num_clusters = 7\) or -1 \(no target\), got values from -3 to -1"):
        hubert.loss(torch.randn(1, 16, 16), targets)


def test_synchronize_waits_on_the_device_it_is_given(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: calls.append(("cuda", device)))
    monkeypatch.setattr(torch.mps, "synchronize", lambda: calls.append(("mps", None)))
    runtime.synchronize("cpu")
    runtime.synchronize(torch.device("cuda", 1))
    runtime.synchronize("mps")
    assert calls == [("cuda", torch.device("cuda", 1)), ("mps", None)]
    with pytest.raises((TypeError, ValueError)):
        runtime.synchronize(3)


def test_no_model_of_the_package_holds_float64_tensors():
    """MPS has no float64: model.to("mps") raises on any float64 parameter or buffer. Every
    nn.Module the public API constructs (with the probe's valid arguments) is checked."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from api_calls import CALLS

    built = 0
    for name, make in sorted(CALLS.items()):
        call = make()
        if not (isinstance(call.fn, type) and issubclass(call.fn, nn.Module)):
            continue
        module = call.fn(*call.args, **call.kwargs)
        wide = [n for n, t in [*module.named_parameters(), *module.named_buffers()] if t.dtype == torch.float64]
        assert not wide, f"{name}: float64 tensors {wide[:5]}"
        built += 1
    assert built > 30


def test_a_float64_transformer_stays_exact_with_a_float32_table():
    from nnanatomy.models import Transformer, TransformerConfig
    from nnanatomy.models.transformer import sinusoidal_positional_encoding

    torch.manual_seed(0)
    model = Transformer(TransformerConfig(src_vocab_size=7, tgt_vocab_size=7, d_model=8, num_heads=2, d_ff=16,
                                          num_encoder_layers=1, num_decoder_layers=1, max_len=12, dropout=0.0))
    assert model.pe.dtype == torch.float32
    ids = torch.tensor([[1, 2, 3, 4]])
    double = model.double()
    x = double._embed(ids, double.src_embed, 7)
    scale = 8 ** 0.5 if double.config.scale_embeddings else 1.0
    torch.testing.assert_close(x, double.src_embed(ids) * scale + sinusoidal_positional_encoding(4, 8), rtol=0, atol=0)


def test_ema_follows_the_model_to_another_device():
    """An EMA made before fit moves the model (to CUDA, typically) keeps averaging: its copies
    move with the model. PyTorch's meta device stands in for the GPU here."""
    model = nn.Linear(3, 2)
    ema = train.EMA(model, decay=0.5)
    model.to("meta")
    ema.update(model)
    assert all(t.device.type == "meta" for t in ema.shadow.values())
