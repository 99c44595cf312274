"""The book's training loop: it learns, it checkpoints, it rejects bad arguments clearly."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nnanatomy import data, models, train


def _problem(seed=0):
    x, y = data.quadratic(256, seed=seed)
    loader = data.tensor_loader(x, y, batch_size=32, seed=seed)
    torch.manual_seed(seed)
    model = models.MLP()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    return model, opt, loader, (torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32))


def test_loss_decreases_and_history_is_recorded():
    model, opt, loader, (x, y) = _problem()
    hist = train.fit(
        model, loader, optimizer=opt, loss_fn=nn.MSELoss(), epochs=20, progress=False,
        evaluate=lambda m: {"mse": nn.functional.mse_loss(m(x), y).item()}, eval_every=5,
    )
    assert hist.epoch == list(range(1, 21))
    assert hist.eval_epoch == [5, 10, 15, 20]
    assert hist.train_loss[-1] < 0.1 * hist.train_loss[0]
    assert hist.metrics["mse"][-1] < hist.metrics["mse"][0]
    assert len(hist.seconds) == 20 and hist.total_seconds > 0
    assert not model.training  # left in eval mode
    assert train.evaluate_loss(model, loader, nn.MSELoss()) == pytest.approx(hist.metrics["mse"][-1], rel=1e-4)


def test_same_seed_same_history():
    runs = []
    for _ in range(2):
        model, opt, loader, _ = _problem(seed=3)
        runs.append(train.fit(model, loader, optimizer=opt, loss_fn=nn.MSELoss(), epochs=3, progress=False).train_loss)
    assert runs[0] == runs[1]


def test_batch_loss_clipping_scheduler_and_continuation(capsys):
    model, opt, loader, _ = _problem()
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)

    def batch_loss(m, batch):
        xb, yb = batch
        return ((m(xb) - yb) ** 2).mean()

    hist = train.fit(model, loader, optimizer=opt, batch_loss=batch_loss, epochs=2, clip_grad_norm=1.0,
                     scheduler=sched, progress=False, log_every=1)
    assert hist.lr == [1e-2, 5e-3]
    assert len(hist.grad_norm) == 2 and all(g > 0 for g in hist.grad_norm)
    assert "epoch    2" in capsys.readouterr().out
    hist = train.fit(model, loader, optimizer=opt, batch_loss=batch_loss, epochs=2, progress=False, history=hist)
    assert hist.epoch == [1, 2, 3, 4]


def test_checkpoint_round_trip(tmp_path):
    model, opt, loader, (x, _) = _problem()
    hist = train.fit(model, loader, optimizer=opt, loss_fn=nn.MSELoss(), epochs=2, progress=False)
    path = tmp_path / "sub" / "ckpt.pt"
    train.save_checkpoint(path, model, opt, history=hist, extra={"seed": 0, "note": "test"})
    fresh, _, _, _ = _problem(seed=9)
    fresh_opt = torch.optim.Adam(fresh.parameters(), lr=1e-2)
    info = train.load_checkpoint(path, fresh, fresh_opt)
    assert info["extra"] == {"seed": 0, "note": "test"}
    assert info["history"].train_loss == hist.train_loss
    torch.testing.assert_close(fresh(x), model(x), rtol=0, atol=0)
    assert fresh_opt.state_dict()["state"][0]["step"] == opt.state_dict()["state"][0]["step"]
    # the file is loadable by plain torch.load with weights_only=True
    torch.load(path, weights_only=True)


def test_load_checkpoint_errors(tmp_path):
    model, _, _, _ = _problem()
    with pytest.raises(FileNotFoundError):
        train.load_checkpoint(tmp_path / "missing.pt", model)
    torch.save({"something": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a checkpoint"):
        train.load_checkpoint(tmp_path / "other.pt", model)
    train.save_checkpoint(tmp_path / "no_opt.pt", model)
    with pytest.raises(ValueError, match="no optimizer"):
        train.load_checkpoint(tmp_path / "no_opt.pt", model, torch.optim.SGD(model.parameters(), lr=0.1))


def test_non_finite_loss_is_reported():
    model, _, loader, _ = _problem()
    opt = torch.optim.SGD(model.parameters(), lr=1e6)
    with pytest.raises(FloatingPointError, match="epoch"):
        train.fit(model, loader, optimizer=opt, loss_fn=nn.MSELoss(), epochs=50, progress=False)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"epochs": 0}, ValueError, "epochs"),
        ({"epochs": 1.5}, TypeError, "epochs"),
        ({"eval_every": 0}, ValueError, "eval_every"),
        ({"clip_grad_norm": -1.0}, ValueError, "clip_grad_norm"),
        ({"loss_fn": None}, ValueError, "exactly one"),
        ({"batch_loss": lambda m, b: 0}, ValueError, "exactly one"),
        ({"amp": True, "device": "cpu"}, ValueError, "CUDA"),
        ({"device": 3}, TypeError, "device"),
        ({"history": {}}, TypeError, "History"),
        ({"evaluate": 5}, TypeError, "evaluate"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    model, opt, loader, _ = _problem()
    args = {"optimizer": opt, "loss_fn": nn.MSELoss(), "progress": False} | kwargs
    with pytest.raises(error, match=match):
        train.fit(model, loader, **args)


def test_bad_data_and_objects():
    model, opt, loader, _ = _problem()
    with pytest.raises(TypeError, match="iterator"):
        train.fit(model, iter(loader), optimizer=opt, loss_fn=nn.MSELoss(), progress=False)
    with pytest.raises(TypeError, match="Module"):
        train.fit("model", loader, optimizer=opt, loss_fn=nn.MSELoss())
    with pytest.raises(TypeError, match="Optimizer"):
        train.fit(model, loader, optimizer="adam", loss_fn=nn.MSELoss())
    with pytest.raises(ValueError, match="pair"):
        train.fit(model, [torch.randn(4, 1)], optimizer=opt, loss_fn=nn.MSELoss(), progress=False)
    with pytest.raises(ValueError, match="no batches"):
        train.fit(model, [], optimizer=opt, loss_fn=nn.MSELoss(), progress=False)
    with pytest.raises(TypeError, match="dict"):
        train.fit(model, loader, optimizer=opt, loss_fn=nn.MSELoss(), evaluate=lambda m: 1.0, progress=False)
    with pytest.raises(ValueError, match="scalar"):
        train.fit(model, loader, optimizer=opt, loss_fn=lambda o, t: (o - t) ** 2, progress=False)


def test_progress_default_follows_the_environment(monkeypatch, capsys):
    model, opt, loader, _ = _problem()
    monkeypatch.setenv("NNANATOMY_PROGRESS", "0")
    train.fit(model, loader, optimizer=opt, loss_fn=nn.MSELoss(), epochs=1)
    assert "training" not in capsys.readouterr().err
    monkeypatch.setenv("NNANATOMY_PROGRESS", "1")
    train.fit(model, loader, optimizer=opt, loss_fn=nn.MSELoss(), epochs=1)
    assert "training" in capsys.readouterr().err
    with pytest.raises(TypeError, match="progress"):
        train.fit(model, loader, optimizer=opt, loss_fn=nn.MSELoss(), progress="yes")


def _overfit_problem():
    """Few noisy points and a wide net: the validation loss has a minimum early, then rises."""
    x, y = data.quadratic(40, noise_std=1.0, seed=0)
    xs = torch.tensor(x, dtype=torch.float32)
    ys = torch.tensor((y - y.mean()) / y.std(), dtype=torch.float32)
    train_data = [(xs[:20], ys[:20])]
    torch.manual_seed(0)
    model = models.MLP(models.MLPConfig(hidden=(64, 64)))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    evaluate = lambda m: {"val": nn.functional.mse_loss(m(xs[20:]), ys[20:]).item()}  # noqa: E731
    return model, opt, train_data, evaluate


def test_keep_best_restores_the_best_evaluation_and_patience_stops():
    model, opt, train_data, evaluate = _overfit_problem()
    full = train.fit(model, train_data, optimizer=opt, loss_fn=nn.MSELoss(), epochs=600, progress=False,
                     evaluate=evaluate, eval_every=10, keep_best="val")
    values = full.metrics["val"]
    best = min(range(len(values)), key=values.__getitem__)
    assert full.best_epoch == full.eval_epoch[best] < 600 and values[-1] > values[best]  # it did overfit
    assert evaluate(model)["val"] == pytest.approx(values[best], rel=1e-6)  # the best weights are back
    assert len(full) == 600  # without patience every epoch runs
    # patience: the same run (same seed), stopped 5 evaluations after the best
    model2, opt2, train_data, evaluate = _overfit_problem()
    short = train.fit(model2, train_data, optimizer=opt2, loss_fn=nn.MSELoss(), epochs=600, progress=False,
                      evaluate=evaluate, eval_every=10, keep_best="val", patience=5)
    best_so_far, stale = 0, 0  # where patience 5 must stop, read off the full run's curve
    for i in range(1, len(values)):
        best_so_far, stale = (i, 0) if values[i] < values[best_so_far] else (best_so_far, stale + 1)
        if stale == 5:
            break
    assert short.best_epoch == full.eval_epoch[best_so_far] and short.epoch[-1] == full.eval_epoch[i] < 600
    assert short.metrics["val"] == values[: i + 1]  # the same run, cut short
    assert evaluate(model2)["val"] == pytest.approx(values[best_so_far], rel=1e-6)
    # "max": the best of a metric to maximise (here: the negated loss, the same epoch)
    model3, opt3, train_data, _ = _overfit_problem()
    neg = train.fit(model3, train_data, optimizer=opt3, loss_fn=nn.MSELoss(), epochs=600, progress=False,
                    evaluate=lambda m: {"-val": -evaluate(m)["val"]}, eval_every=10, keep_best="-val", best_mode="max")
    assert neg.best_epoch == full.best_epoch
    restored = train.History.from_dict(full.as_dict())
    assert restored.best_epoch == full.best_epoch


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(keep_best="val"), ValueError, "needs evaluate"),
    (dict(keep_best=3, evaluate=lambda m: {}), TypeError, "keep_best"),
    (dict(patience=2, evaluate=lambda m: {"val": 0.0}), ValueError, "patience needs keep_best"),
    (dict(keep_best="val", patience=0, evaluate=lambda m: {"val": 0.0}), ValueError, "patience"),
    (dict(keep_best="val", best_mode="lowest", evaluate=lambda m: {"val": 0.0}), ValueError, "best_mode"),
])
def test_keep_best_bad_arguments(kwargs, error, match):
    model, opt, train_data, _ = _overfit_problem()
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(error, match=match):
        train.fit(model, train_data, optimizer=opt, loss_fn=nn.MSELoss(), epochs=2, progress=False, **kwargs)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # refused before any step


def test_keep_best_of_a_metric_evaluate_does_not_return():
    model, opt, train_data, evaluate = _overfit_problem()
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(ValueError, match="'loss' is not a metric that evaluate returns.*'val'"):
        train.fit(model, train_data, optimizer=opt, loss_fn=nn.MSELoss(), epochs=2, progress=False,
                  evaluate=evaluate, keep_best="loss")
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # refused before the first step
    assert not opt.state  # the optimiser never stepped


def test_keep_best_does_not_change_the_run():
    """The check before training draws no random numbers the run uses: with dropout, whose masks
    come from the global generator, the run with keep_best is the run without it."""
    runs = []
    for keep in (None, "val"):
        model, _, train_data, _ = _overfit_problem()
        torch.manual_seed(0)
        model = models.MLP(models.MLPConfig(hidden=(16, 16), dropout=0.2))
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        x = train_data[0][0]
        noisy = lambda m: {"val": float(m(x).mean()), "draw": float(torch.rand(()))}  # noqa: E731  (evaluate may draw too)
        h = train.fit(model, train_data, optimizer=opt, loss_fn=nn.MSELoss(), epochs=20, progress=False,
                      evaluate=noisy, eval_every=5, keep_best=keep)
        runs.append(h.train_loss)
    assert runs[0] == runs[1]
