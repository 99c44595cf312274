"""train: nothing the reader owns is lost or corrupted (checkpoints, models, optimisers, modes).

Regression tests for the defects a systematic probe of the package found: a failed save that
destroyed the previous checkpoint, saves that could not be loaded back, loads that overwrote a
model and then raised, ``fit(device="meta")`` wiping a model, modes left wrong after errors.
"""

from __future__ import annotations

import dataclasses
import math
import os

import numpy as np
import pytest
import torch
from torch import nn

from nnanatomy import train


def _model(seed: int = 0, width: int = 3) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, width), nn.ReLU(), nn.Linear(width, 1))


def _snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _same(model: nn.Module, snapshot: dict[str, torch.Tensor]) -> bool:
    state = model.state_dict()
    return state.keys() == snapshot.keys() and all(torch.equal(state[k], snapshot[k]) for k in state)


def _batches(n: int = 4) -> list:
    g = torch.Generator().manual_seed(0)
    return [(torch.randn(8, 2, generator=g), torch.randn(8, 1, generator=g)) for _ in range(n)]


# ------------------------------------------------------------------------------ save_checkpoint
def test_a_failed_save_leaves_the_previous_checkpoint_intact(tmp_path):
    path = tmp_path / "c.pt"
    model = _model()
    train.save_checkpoint(path, model, extra={"note": "good"})
    before = path.read_bytes()
    with pytest.raises(TypeError, match="weights_only"):
        train.save_checkpoint(path, _model(1), extra={"f": lambda: 0})
    for bad in ({"mean": np.ones(3)}, {"config": dataclasses.make_dataclass("C", [("a", int)])(1)}):
        with pytest.raises(TypeError, match="cannot read back"):
            train.save_checkpoint(path, _model(1), extra=bad)
    assert path.read_bytes() == before
    assert train.load_checkpoint(path, _model(2))["extra"] == {"note": "good"}
    assert sorted(os.listdir(tmp_path)) == ["c.pt"]  # no temporary file left behind


def test_an_interrupted_save_leaves_the_previous_checkpoint_and_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    train.save_checkpoint(path, _model())
    before = path.read_bytes()
    real_save = torch.save

    def interrupted(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train.save_checkpoint(path, _model(1))
    monkeypatch.setattr(torch, "save", real_save)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["c.pt"]


def test_save_refuses_what_it_cannot_write(tmp_path):
    with pytest.raises(ValueError, match="meta"):
        train.save_checkpoint(tmp_path / "m.pt", _model().to("meta"))
    with pytest.raises(TypeError, match="history"):
        train.save_checkpoint(tmp_path / "h.pt", _model(), history={"epoch": [1]})
    with pytest.raises(TypeError, match="path"):
        train.save_checkpoint(3, _model())
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------------------------------ load_checkpoint
def test_a_checkpoint_that_does_not_fit_leaves_model_and_optimizer_unchanged(tmp_path):
    path = tmp_path / "c.pt"
    train.save_checkpoint(path, _model(0))  # no optimizer state
    model = _model(1)
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.randn(4, 2)).sum().backward()
    optimizer.step()
    before, opt_before = _snapshot(model), optimizer.state_dict()
    with pytest.raises(ValueError, match="no optimizer state"):
        train.load_checkpoint(path, model, optimizer)
    assert _same(model, before)
    wider = _model(1, width=5)
    wider_before = _snapshot(wider)
    with pytest.raises(ValueError, match="shapes"):
        train.load_checkpoint(path, wider)
    assert _same(wider, wider_before)
    with pytest.raises(ValueError, match="missing keys"):
        train.load_checkpoint(path, nn.Sequential(nn.Linear(2, 3)))
    assert optimizer.state_dict()["state"].keys() == opt_before["state"].keys()


def test_a_checkpoint_with_a_broken_history_is_refused_before_loading(tmp_path):
    path = tmp_path / "c.pt"
    torch.save({"format": "nnanatomy-checkpoint-1", "model": _model(0).state_dict(), "optimizer": None,
                "history": {"bogus": [1]}, "extra": {}}, path)
    model = _model(1)
    before = _snapshot(model)
    with pytest.raises(ValueError, match="unknown"):
        train.load_checkpoint(path, model)
    assert _same(model, before)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"PK\x03\x04 truncated zip"])
def test_corrupt_files_give_a_clear_error_without_bad_advice(tmp_path, content):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not a readable checkpoint") as info:
        train.load_checkpoint(path, _model())
    assert "weights_only=False" not in str(info.value)


def test_load_checks_its_arguments(tmp_path):
    path = tmp_path / "c.pt"
    train.save_checkpoint(path, _model())
    with pytest.raises(TypeError, match="strict"):
        train.load_checkpoint(path, _model(), strict="no")
    with pytest.raises(ValueError, match="device"):
        train.load_checkpoint(path, _model(), map_location="gpu0")
    with pytest.raises(FileNotFoundError):
        train.load_checkpoint(tmp_path / "missing.pt", _model())


# ------------------------------------------------------------------------------------------ fit
def test_fit_refuses_a_bad_device_before_touching_the_model():
    model = _model()
    before = _snapshot(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for device, match in (("meta", "meta device"), ("gpu0", "name a device"), (3.5, "torch.device")):
        with pytest.raises((ValueError, TypeError), match=match):
            train.fit(model, _batches(), optimizer=optimizer, loss_fn=nn.MSELoss(), device=device)
        assert _same(model, before) and next(model.parameters()).device.type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            train.fit(model, _batches(), optimizer=optimizer, loss_fn=nn.MSELoss(), device="cuda")
        assert _same(model, before)


def test_fit_refuses_an_optimizer_of_another_model():
    model, other = _model(0), _model(1)
    with pytest.raises(ValueError, match="none of the model's parameters"):
        train.fit(model, _batches(), optimizer=torch.optim.SGD(other.parameters(), lr=0.1), loss_fn=nn.MSELoss())
    mixed = torch.optim.SGD(list(model.parameters()) + list(other.parameters()), lr=0.1)
    with pytest.raises(ValueError, match="not the model's"):
        train.fit(model, _batches(), optimizer=mixed, loss_fn=nn.MSELoss())
    with pytest.raises(TypeError, match="amp"):
        train.fit(model, _batches(), optimizer=torch.optim.SGD(model.parameters(), lr=0.1), loss_fn=nn.MSELoss(), amp="no")


def test_fit_restores_the_mode_when_it_fails_and_returns_eval_mode_when_it_succeeds():
    model = _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.eval()
    with pytest.raises(ValueError, match="no batches"):
        train.fit(model, [], optimizer=optimizer, loss_fn=nn.MSELoss(), progress=False)
    assert not model.training
    model.train()

    def nan_loss(outputs, targets):
        return outputs.sum() * math.nan

    with pytest.raises(FloatingPointError):
        train.fit(model, _batches(), optimizer=optimizer, loss_fn=nan_loss, progress=False)
    assert model.training
    train.fit(model, _batches(), optimizer=optimizer, loss_fn=nn.MSELoss(), progress=False)
    assert not model.training  # documented: fit returns the model in eval mode


def test_evaluate_loss_restores_the_mode_when_a_batch_fails():
    model = _model().train()

    def failing(outputs, targets):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        train.evaluate_loss(model, _batches(), failing)
    assert model.training
    model.eval()
    assert train.evaluate_loss(model, _batches(), nn.MSELoss()) > 0 and not model.training
    with pytest.raises(TypeError, match="loss_fn"):
        train.evaluate_loss(model, _batches(), "mse")


# ------------------------------------------------------------------------------------------ EMA
def test_ema_checks_its_arguments_and_never_half_loads():
    with pytest.raises(TypeError, match="decay"):
        train.EMA(_model(), decay="0.9")
    with pytest.raises(ValueError, match="decay"):
        train.EMA(_model(), decay=float("nan"))
    model = _model(0)
    ema = train.EMA(model, decay=0.5)
    other = _model(1, width=5)
    before = _snapshot(other)
    with pytest.raises(ValueError, match="shapes differ"):
        ema.update(other)
    with pytest.raises(ValueError, match="not the model"):
        ema.copy_to(other)
    assert _same(other, before)
    with pytest.raises(ValueError, match="missing"):
        ema.copy_to(nn.Linear(2, 1))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    ema.update(model)
    target = _model(2)
    ema.copy_to(target)
    assert torch.allclose(target[0].bias, _model(0)[0].bias + 0.5)


# ------------------------------------------------------------------- modes after inference helpers
def test_generation_and_judging_restore_the_callers_mode_even_on_error():
    from nnanatomy import judge, models, runtime

    gpt = models.GPT(models.GPTConfig(vocab_size=5, max_seq_len=8, d_model=8, num_heads=2, num_layers=1)).train()
    with pytest.raises(ValueError):
        gpt.generate(torch.tensor([[99]]), 2)  # an id outside the vocabulary
    assert gpt.training
    with pytest.raises(TypeError, match="greedy"):
        gpt.generate(torch.tensor([[1]]), 2, greedy="no")
    gpt.generate(torch.tensor([[1]]), 2)
    assert gpt.training
    rnn = models.CharRNN(models.CharRNNConfig(vocab_size=5)).train()
    rnn.greedy_decode(torch.tensor([1, 2]), 3)
    assert rnn.training
    cnn = models.CNNClassifier(models.CNNConfig()).train()
    buffers = {k: v.clone() for k, v in cnn.state_dict().items()}
    samples = torch.rand(16, 1, 8, 8) * 2 - 1
    first = judge.judge_samples(cnn, samples)
    again = judge.judge_samples(cnn, samples)
    assert cnn.training  # mode given back ...
    assert all(torch.equal(buffers[k], v) for k, v in cnn.state_dict().items())  # ... BatchNorm statistics untouched
    assert np.array_equal(first.predicted, again.predicted)  # dropout off: the same verdict twice
    with pytest.raises(ValueError, match="NaN"):
        judge.judge_samples(cnn, torch.full((2, 1, 8, 8), float("nan")))
    with pytest.raises(TypeError, match="Module"):
        with runtime.eval_mode("cnn"):
            pass


def test_compare_and_the_exercise_checkers_leave_the_global_random_state_alone():
    import random

    from nnanatomy import explore
    from nnanatomy.exercises import lab, lstm, moe

    torch.manual_seed(123)
    np.random.seed(123)
    random.seed(123)
    x = torch.randn(32, 2)
    y = (x[:, 0] > 0).long()
    states = torch.random.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()
    explore.compare({"linear": lambda: nn.Linear(2, 2)}, [(x, y)], (x[:1],), lambda m: {"acc": 0.0}, "acc",
                    loss_fn=nn.functional.cross_entropy, epochs=1, device="cpu")
    lab.check_gcn_layer(lambda adj, h, w, b: np.zeros((7, 3)))
    lstm.check_lstm_step(lambda *args: (np.zeros((2, 4)), np.zeros((2, 4))))
    moe.check_router(lambda logits, k: (np.zeros((7, 2)), np.zeros((7, 2), dtype=int)))
    assert torch.equal(torch.random.get_rng_state(), states[0])
    assert np.array_equal(np.random.get_state()[1], states[1]) and random.getstate() == states[2]
