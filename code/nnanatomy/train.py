"""The one training loop of the book, with its history and checkpoints.

Every chapter trains through :func:`fit`::

    history = fit(model, train_loader, optimizer=opt, loss_fn=nn.MSELoss(), epochs=100,
                  device=device, evaluate=lambda m: {"test_mse": ...}, eval_every=10)

A batch is either ``(inputs, targets)`` — the model sees ``inputs`` (a tensor, or a tuple of
tensors passed as separate arguments) and ``loss_fn(outputs, targets)`` is minimised — or, for
models that compute their own loss, anything at all, handed to ``batch_loss(model, batch)``.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from . import distributed
from ._checks import MissingFileError, check_device, check_int, check_real
from .runtime import move_to

__all__ = ["EMA", "History", "TruncatedBPTT", "evaluate_loss", "fit", "load_checkpoint", "save_checkpoint"]


@dataclass
class History:
    """What happened during :func:`fit`, one entry per epoch (metrics: per evaluation)."""

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)  # mean pre-clipping norm, when clipping
    eval_epoch: list[int] = field(default_factory=list)
    metrics: dict[str, list[float]] = field(default_factory=dict)
    best_epoch: int | None = None  # with fit(keep_best=...): the epoch whose weights were kept

    def __post_init__(self) -> None:
        for name in ("epoch", "train_loss", "lr", "seconds", "grad_norm", "eval_epoch"):
            value = getattr(self, name)
            if not isinstance(value, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
                raise TypeError(f"History.{name} must be a list of numbers, got {type(value).__name__}")
        if not isinstance(self.metrics, dict) or not all(
                isinstance(k, str) and isinstance(v, list) and all(isinstance(x, (int, float)) for x in v) for k, v in self.metrics.items()):
            raise TypeError("History.metrics must be a dict of metric name → list of numbers")
        if len(self.epoch) != len(self.train_loss):
            raise ValueError(f"History.epoch and train_loss must have one entry per epoch, got {len(self.epoch)} and {len(self.train_loss)}")
        uneven = [k for k, v in self.metrics.items() if len(v) != len(self.eval_epoch)]
        if uneven:
            raise ValueError(f"History.metrics {uneven} must have one value per evaluation ({len(self.eval_epoch)} in eval_epoch)")
        if self.best_epoch is not None and (isinstance(self.best_epoch, bool) or not isinstance(self.best_epoch, int)):
            raise TypeError(f"History.best_epoch must be None or an int, got {type(self.best_epoch).__name__}")

    def as_dict(self) -> dict[str, Any]:
        """Plain lists and dicts: what :func:`save_checkpoint` stores (safe for ``weights_only``)."""
        return {
            "epoch": list(self.epoch),
            "train_loss": list(self.train_loss),
            "lr": list(self.lr),
            "seconds": list(self.seconds),
            "grad_norm": list(self.grad_norm),
            "eval_epoch": list(self.eval_epoch),
            "metrics": {k: list(v) for k, v in self.metrics.items()},
            "best_epoch": self.best_epoch,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> History:
        if not isinstance(data, Mapping):
            raise TypeError(f"data must be a dict of History fields (as as_dict returns), got {type(data).__name__}")
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown History fields {sorted(unknown)}")
        return cls(**{k: (dict(v) if k == "metrics" else v if k == "best_epoch" else list(v)) for k, v in data.items()})

    @property
    def total_seconds(self) -> float:
        return float(sum(self.seconds))

    def __len__(self) -> int:
        return len(self.epoch)


def _batch_size(batch: Any) -> int:
    """Samples in a batch: the first dimension of its first tensor (1 if there is none)."""
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0]) if batch.ndim else 1
    if isinstance(batch, (list, tuple)):
        for item in batch:
            n = _batch_size(item)
            if n:
                return n
    if isinstance(batch, Mapping):
        for item in batch.values():
            return _batch_size(item)
    return 1


def _model_device(model: nn.Module) -> torch.device:
    for tensor in list(model.parameters()) + list(model.buffers()):
        return tensor.device
    return torch.device("cpu")


def _check_reiterable(name: str, data: object) -> None:
    if isinstance(data, (str, bytes)) or not isinstance(data, Iterable):
        raise TypeError(f"{name} must be a DataLoader or a list of batches, got {type(data).__name__}")
    if iter(data) is data:
        raise TypeError(
            f"{name} is an iterator and would be empty after the first epoch: "
            "pass a DataLoader or a list of batches instead"
        )


def _check_positive_int(name: str, value: object) -> int:
    return check_int(name, value, 1)


_TORCH_ERRORS = (RuntimeError, TypeError, ValueError, IndexError, AttributeError, NotImplementedError)


def _batch_error(stage: str, batch: Any, exc: BaseException) -> Exception:
    """An error from torch inside ``model``/``loss_fn`` as an error that says which and on what."""
    from ._guard import describe, raised_in_torch, translated

    if getattr(exc, "_nnanatomy_guarded", False) or not raised_in_torch(exc):
        return exc  # the package's own message, or the reader's own code: unchanged
    return translated(exc, f"{stage} failed on a batch ({', '.join(describe(part) for part in batch)})")


def _loss_of_batch(
    model: nn.Module,
    batch: Any,
    loss_fn: Callable[[Any, Any], torch.Tensor] | None,
    batch_loss: Callable[[nn.Module, Any], torch.Tensor] | None,
) -> torch.Tensor:
    if batch_loss is not None:
        loss = batch_loss(model, batch)
    else:
        if not (isinstance(batch, (list, tuple)) and len(batch) == 2):
            raise ValueError(
                "with loss_fn, every batch must be a pair (inputs, targets); "
                f"got {type(batch).__name__}{'' if not isinstance(batch, (list, tuple)) else f' of length {len(batch)}'}. "
                "Use batch_loss=(model, batch) -> loss for other batch layouts"
            )
        inputs, targets = batch
        try:
            outputs = model(*inputs) if isinstance(inputs, (list, tuple)) else model(inputs)
        except _TORCH_ERRORS as exc:
            raise _batch_error("model", batch, exc) from exc
        if (isinstance(outputs, torch.Tensor) and isinstance(targets, torch.Tensor) and targets.is_floating_point()
                and outputs.shape != targets.shape):
            raise ValueError(f"the targets {tuple(targets.shape)} do not have the shape of the model's outputs {tuple(outputs.shape)}: "
                             "loss_fn would broadcast one over the other and train on the wrong pairs")
        try:
            loss = loss_fn(outputs, targets)
        except _TORCH_ERRORS as exc:
            raise _batch_error("loss_fn", batch, exc) from exc
    if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
        raise ValueError(f"the loss must be a scalar tensor, got {type(loss).__name__} {getattr(loss, 'shape', '')}")
    return loss


def fit(
    model: nn.Module,
    train_data: Iterable[Any],
    *,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[Any, Any], torch.Tensor] | None = None,
    batch_loss: Callable[[nn.Module, Any], torch.Tensor] | None = None,
    epochs: int = 1,
    device: torch.device | str | None = None,
    evaluate: Callable[[nn.Module], Mapping[str, float]] | None = None,
    eval_every: int = 1,
    clip_grad_norm: float | None = None,
    scheduler: Any | None = None,
    amp: bool = False,
    progress: bool | None = None,
    log_every: int | None = None,
    history: History | None = None,
    after_step: Callable[[nn.Module], None] | None = None,
    accumulate: int = 1,
    find_unused_parameters: bool | None = None,
    keep_best: str | None = None,
    best_mode: str = "min",
    patience: int | None = None,
) -> History:
    """Train ``model`` for ``epochs`` passes over ``train_data``; return the :class:`History`.

    Args:
        model: the ``nn.Module`` to train; moved to ``device`` first.
        train_data: a re-iterable source of batches (a ``DataLoader`` or a list).
        optimizer: any ``torch.optim.Optimizer`` built on ``model``'s parameters.
        loss_fn: ``loss_fn(model(inputs), targets)`` for ``(inputs, targets)`` batches.
        batch_loss: ``batch_loss(model, batch)`` for everything else. Give exactly one of the two.
        epochs: passes over ``train_data``.
        device: where to train; ``None`` keeps the model where it is.
        evaluate: called as ``evaluate(model)`` with the model in eval mode and gradients off,
            every ``eval_every`` epochs and after the last; returns ``{metric name: value}``.
        clip_grad_norm: if set, rescale the gradients so that their global L2 norm is at most
            this; the mean pre-clipping norm per epoch is recorded in ``history.grad_norm``.
        scheduler: a learning-rate scheduler, stepped once per epoch.
        amp: automatic mixed precision (bfloat16 where supported, else float16 with a gradient
            scaler). CUDA only: ``amp=(device.type == "cuda")`` is the portable way to ask.
        progress: show a ``tqdm`` progress bar over the epochs. ``None`` (default): show it
            unless the environment variable ``NNANATOMY_PROGRESS`` is ``0`` — set when the book's
            notebooks are executed for the site, which shows the ``log_every`` lines instead
            of a live widget that a static page cannot render.
        log_every: print one line of the loss and the latest metrics every this many epochs.
        history: continue an existing history (epochs are numbered on from its last).
        after_step: called as ``after_step(model)`` after every optimiser step (e.g. ``EMA.update``).
        accumulate: gradient accumulation — sum the gradients of this many consecutive batches
            (each loss divided by the group's size) before one optimiser step: the update of a
            batch ``accumulate`` times larger, in the memory of one. A shorter last group at the
            end of an epoch is averaged over its own size.
        find_unused_parameters: under ``torchrun`` only — let ``DistributedDataParallel`` look
            for parameters that a step did not use (an MoE expert no token was routed to) and
            count their gradient as zero. ``None`` (default): on when a submodule declares
            ``may_skip_parameters = True`` (the MoE layer does), off otherwise. Such a parameter
            can then hold a zero gradient where one process would leave ``None``: plain SGD
            treats both alike, an optimizer with momentum (Adam) still moves it.
        keep_best: early stopping's bookkeeping. The name of a metric that ``evaluate`` returns
            (e.g. a validation loss): after training, the weights and buffers of the evaluation
            where it was best are loaded back into the model, and that epoch is
            ``history.best_epoch``. The optimiser and scheduler keep their latest state.
        best_mode: ``"min"`` (default) or ``"max"``: whether a lower or a higher ``keep_best`` is better.
        patience: with ``keep_best``, stop after this many evaluations in a row without a new
            best (early stopping proper); ``None`` trains all ``epochs``.

    Under ``torchrun`` (``torch.distributed`` initialised, see :mod:`nnanatomy.distributed`)
    the model is wrapped in ``DistributedDataParallel``: gradients are averaged across ranks
    (and only on the last batch of an accumulation group), a ``DistributedSampler``'s epoch is
    set, the recorded training loss is the mean over all ranks' samples, and only rank 0 shows
    progress and prints. ``loss_fn`` and ``batch_loss`` then receive a view of the model whose
    call goes through ``DistributedDataParallel`` (so that gradients are averaged) while every
    attribute is the model's own (``m.blocks``, ``m.aux_loss()``). A method that computes the
    loss in place of ``forward`` goes through it too when the model lists it in
    ``distributed_entry_points`` (``BestRQ.loss`` and ``HuBERT.loss`` do); any other method is
    called on the model directly and must not be the one that runs the network.

    Every argument is checked before the model is touched. On success the model is returned in
    eval mode, on ``device``; if training fails, the model's train/eval mode is restored.

    Raises:
        FloatingPointError: the loss became NaN or infinite (the epoch and step are named).
    """
    plan = _plan(model, train_data, optimizer, loss_fn, batch_loss, epochs, device, evaluate, eval_every, clip_grad_norm,
                 scheduler, amp, progress, log_every, history, after_step, accumulate, find_unused_parameters,
                 keep_best, best_mode, patience)
    # Checked: only now is the caller's model touched. On any failure it gets its mode and device back.
    was_training, was_on = model.training, _model_device(model)
    try:
        return _fit_loop(model, train_data, optimizer, plan)
    except BaseException:
        model.train(was_training)
        if was_on.type != "meta":
            model.to(was_on)
        raise


@dataclass
class _Plan:
    """Everything :func:`fit` decided before touching the model."""

    loss_fn: Callable | None
    batch_loss: Callable | None
    epochs: int
    device: torch.device
    evaluate: Callable | None
    eval_every: int
    clip_grad_norm: float | None
    scheduler: Any | None
    amp: bool
    progress: bool
    log_every: int | None
    history: History
    after_step: Callable | None
    accumulate: int
    world: int
    n_batches: int | None
    find_unused_parameters: bool
    keep_best: str | None = None
    best_mode: str = "min"
    patience: int | None = None


def _plan(model, train_data, optimizer, loss_fn, batch_loss, epochs, device, evaluate, eval_every, clip_grad_norm,
          scheduler, amp, progress, log_every, history, after_step, accumulate, find_unused_parameters,
          keep_best=None, best_mode="min", patience=None) -> _Plan:
    """Check every argument of :func:`fit`; raise before anything is changed."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    _check_reiterable("train_data", train_data)
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    if (loss_fn is None) == (batch_loss is None):
        raise ValueError("give exactly one of loss_fn=(outputs, targets) -> loss or batch_loss=(model, batch) -> loss")
    for name, fn in (("loss_fn", loss_fn), ("batch_loss", batch_loss), ("evaluate", evaluate), ("after_step", after_step)):
        if fn is not None and not callable(fn):
            raise TypeError(f"{name} must be callable, got {type(fn).__name__}")
    epochs = _check_positive_int("epochs", epochs)
    accumulate = _check_positive_int("accumulate", accumulate)
    eval_every = _check_positive_int("eval_every", eval_every)
    if log_every is not None:
        log_every = _check_positive_int("log_every", log_every)
    if keep_best is not None:
        if not isinstance(keep_best, str) or not keep_best:
            raise TypeError(f"keep_best must be None or the name of a metric that evaluate returns, got {keep_best!r}")
        if evaluate is None:
            raise ValueError(f"keep_best={keep_best!r} needs evaluate=..., which computes the metric to keep the best of")
    if best_mode not in ("min", "max"):
        raise ValueError(f"best_mode must be 'min' or 'max', got {best_mode!r}")
    if patience is not None:
        patience = _check_positive_int("patience", patience)
        if keep_best is None:
            raise ValueError("patience needs keep_best=<metric name>: it counts evaluations without a new best of that metric")
    if clip_grad_norm is not None:
        clip_grad_norm = check_real("clip_grad_norm", clip_grad_norm, 0.0, low_open=True)
    if progress is None:
        progress = os.environ.get("NNANATOMY_PROGRESS", "1").strip() not in ("0", "false", "no", "off")
    elif not isinstance(progress, bool):
        raise TypeError(f"progress must be None or a bool, got {type(progress).__name__}")
    world = distributed.world_size()
    progress = progress and distributed.is_main()
    if log_every is not None and not distributed.is_main():
        log_every = None
    n_batches = len(train_data) if hasattr(train_data, "__len__") else None
    if n_batches == 0:
        raise ValueError("train_data is empty: it holds no batches (with drop_last=True, are there fewer samples than batch_size?)")
    if n_batches is None and (accumulate > 1 or world > 1):
        raise TypeError("gradient accumulation and distributed training need train_data with a length (a DataLoader or a list)")
    if history is not None and not isinstance(history, History):
        raise TypeError(f"history must be a History, got {type(history).__name__}")
    if scheduler is not None:
        if not callable(getattr(scheduler, "step", None)):
            raise TypeError(f"scheduler must be a learning-rate scheduler with a step() method, got {type(scheduler).__name__}")
        if getattr(scheduler, "optimizer", optimizer) is not optimizer:
            raise ValueError("the scheduler belongs to another optimizer: build it on the optimizer passed to fit")

    device = _model_device(model) if device is None else _checked_device(device)
    if device.type == "meta":
        raise ValueError("fit cannot train on the meta device, which holds shapes but no data; "
                         "build the model on 'cpu' or 'cuda' (explore.summary is the tool for meta models)")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(device)!r} needs CUDA, which is not available here; use runtime.get_device()")
    if device.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise ValueError("device 'mps' is not available here; use runtime.get_device()")
    if not isinstance(amp, bool):
        raise TypeError(f"amp must be True or False, got {amp!r}")
    if amp and device.type != "cuda":
        raise ValueError(f"amp=True needs a CUDA device, got {device.type!r}; pass amp=(device.type == 'cuda')")
    own = {id(p) for p in model.parameters()}
    if not any(id(p) in own for group in optimizer.param_groups for p in group["params"]):
        raise ValueError("the optimizer holds none of the model's parameters: build it on model.parameters()")
    foreign = sum(id(p) not in own for group in optimizer.param_groups for p in group["params"])
    if foreign:
        raise ValueError(f"the optimizer holds {foreign} parameters that are not the model's: build it on model.parameters()")
    if find_unused_parameters is None:
        find_unused_parameters = any(getattr(m, "may_skip_parameters", False) is True for m in model.modules())
    elif not isinstance(find_unused_parameters, bool):
        raise TypeError(f"find_unused_parameters must be None, True or False, got {find_unused_parameters!r}")
    return _Plan(loss_fn, batch_loss, epochs, device, evaluate, eval_every, clip_grad_norm, scheduler, amp, progress,
                 log_every, History() if history is None else history, after_step, accumulate, world, n_batches,
                 find_unused_parameters, keep_best, best_mode, patience)


def _fit_loop(model: nn.Module, train_data: Iterable[Any], optimizer: torch.optim.Optimizer, plan: _Plan) -> History:
    """The epochs of :func:`fit`, on arguments it has already checked: train, record, evaluate, report."""
    model.to(plan.device)
    train_model: Any = model
    if plan.world > 1 and not isinstance(model, nn.parallel.DistributedDataParallel):
        ddp = nn.parallel.DistributedDataParallel(_EntryPoints(model), device_ids=[plan.device.index] if plan.device.type == "cuda" else None,
                                                  find_unused_parameters=plan.find_unused_parameters)
        train_model = _DistributedView(ddp, model)
    precision = _mixed_precision(plan.amp)  # (autocast dtype, gradient scaler): one scaler for the whole run
    history = plan.history
    first_epoch = history.epoch[-1] + 1 if history.epoch else 1
    bar = tqdm(range(first_epoch, first_epoch + plan.epochs), desc="training", unit="epoch", disable=not plan.progress)
    best = _Best(plan.keep_best, plan.best_mode, plan.patience)
    best.check_metric(model, plan.evaluate, plan.device)
    for epoch in bar:
        start = time.perf_counter()
        mean_loss, norms = _train_epoch(model, train_model, train_data, optimizer, plan, epoch, precision)
        history.epoch.append(epoch)
        history.train_loss.append(mean_loss)
        history.lr.append(float(optimizer.param_groups[0]["lr"]))
        if norms:
            history.grad_norm.append(sum(norms) / len(norms))
        if plan.scheduler is not None:
            plan.scheduler.step()
        done = epoch - first_epoch + 1
        if plan.evaluate is not None and (done % plan.eval_every == 0 or done == plan.epochs):
            _evaluate_into(history, model, plan.evaluate, epoch)
            best.update(history, model, epoch)
        history.seconds.append(time.perf_counter() - start)
        stop = best.exhausted()
        _report(bar, history, epoch, plan.log_every is not None and (stop or done % plan.log_every == 0 or done == plan.epochs))
        if stop:
            break
    bar.close()
    best.restore(history, model)
    model.eval()
    return history


class _Best:
    """The bookkeeping of ``fit(keep_best=..., patience=...)``: a copy of the weights at the best
    evaluation so far, and the number of evaluations since."""

    def __init__(self, metric: str | None, mode: str, patience: int | None) -> None:
        self.metric, self.sign, self.patience = metric, (1.0 if mode == "min" else -1.0), patience
        self.score, self.state, self.epoch, self.stale = math.inf, None, None, 0

    def check_metric(self, model: nn.Module, evaluate: Callable | None, device: torch.device) -> None:
        """Before the first step: one evaluation, to refuse a ``keep_best`` that ``evaluate`` does not
        return while the weights are still untouched. It draws from no random generator the run uses
        (their states are put back), so the run is the same as without ``keep_best``."""
        if self.metric is None:
            return
        import random

        import numpy as np

        states = (random.getstate(), np.random.get_state())
        devices = [torch.cuda.current_device()] if device.type == "cuda" else []
        was_training = model.training
        try:
            with torch.random.fork_rng(devices=devices):
                model.eval()
                with torch.no_grad():
                    results = evaluate(model)
        finally:
            model.train(was_training)
            random.setstate(states[0])
            np.random.set_state(states[1])
        if not isinstance(results, Mapping):
            raise TypeError(f"evaluate must return a dict of metric name → number, got {type(results).__name__}")
        if self.metric not in results:
            raise ValueError(f"keep_best={self.metric!r} is not a metric that evaluate returns (it returns {sorted(results)})")

    def update(self, history: History, model: nn.Module, epoch: int) -> None:
        if self.metric is None:
            return
        values = history.metrics.get(self.metric)
        if values is None or len(values) != len(history.eval_epoch):
            raise ValueError(f"keep_best={self.metric!r} is not a metric that evaluate returned "
                             f"(it returned {sorted(k for k, v in history.metrics.items() if len(v) == len(history.eval_epoch))})")
        score = self.sign * values[-1]
        if math.isfinite(score) and score < self.score:
            self.score, self.epoch, self.stale = score, epoch, 0
            self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            self.stale += 1

    def exhausted(self) -> bool:
        return self.patience is not None and self.stale >= self.patience

    def restore(self, history: History, model: nn.Module) -> None:
        if self.state is not None:
            model.load_state_dict(self.state)
            history.best_epoch = self.epoch


def _train_epoch(model: nn.Module, train_model: Any, train_data: Iterable[Any], optimizer: torch.optim.Optimizer,
                 plan: _Plan, epoch: int, precision: tuple[torch.dtype | None, Any]) -> tuple[float, list[float]]:
    """One pass over ``train_data``: forward, backward, and an optimiser step after every
    ``plan.accumulate`` batches. Returns the mean loss per sample and the gradient norms."""
    model.train()
    sampler = getattr(train_data, "sampler", None)
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)  # a new shuffle every epoch, the same on every rank
    amp_dtype, scaler = precision
    accumulate, n_batches, world = plan.accumulate, plan.n_batches, plan.world
    loss_sum, samples, norms = 0.0, 0, []
    # On an accelerator every float(tensor) makes the host wait for the device: the losses and
    # norms stay there and are read every _LOOK_EVERY steps (the loss's finiteness with them).
    # On the CPU reading is free, and a non-finite loss stops the step before its update.
    deferred = _reads_deferred(plan.device)
    pending: list[tuple[int, torch.Tensor, int]] = []
    optimizer.zero_grad(set_to_none=True)
    for step, batch in enumerate(train_data):
        batch = move_to(batch, plan.device)
        group_start = step - step % accumulate
        group_size = accumulate if n_batches is None else min(accumulate, n_batches - group_start)
        last_of_group = step - group_start + 1 == group_size
        # between the batches of a group, DDP keeps the gradients local (no all-reduce)
        sync = train_model.no_sync() if world > 1 and not last_of_group else contextlib.nullcontext()
        autocast = torch.autocast("cuda", dtype=amp_dtype) if plan.amp else contextlib.nullcontext()
        with sync:
            with autocast:
                try:
                    loss = _loss_of_batch(train_model, batch, plan.loss_fn, plan.batch_loss)
                except (RuntimeError, ValueError) as exc:
                    raise _unused_parameter_error(exc, plan) from exc
            if not deferred and not torch.isfinite(loss):
                raise FloatingPointError(f"loss is {loss.item()} at epoch {epoch}, step {step}{_rank_suffix(world)}")
            scaled = loss / group_size if group_size > 1 else loss
            if scaler is not None:
                scaler.scale(scaled).backward()
            else:
                scaled.backward()
        if last_of_group:
            if scaler is not None:
                scaler.unscale_(optimizer)
            if plan.clip_grad_norm is not None:
                norm = nn.utils.clip_grad_norm_(model.parameters(), plan.clip_grad_norm)
                norms.append(norm.detach() if deferred else float(norm))
            if scaler is not None:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if plan.after_step is not None:
                plan.after_step(model)
        n = _batch_size(batch)
        samples += n
        if deferred:
            pending.append((step, loss.detach(), n))
            if len(pending) == _LOOK_EVERY:
                loss_sum += _settle(pending, epoch, world)
        else:
            loss_sum += float(loss.detach()) * n
    if pending:
        loss_sum += _settle(pending, epoch, world)
    norms = [float(v) for v in torch.stack(norms).cpu()] if deferred and norms else norms
    if world > 1:
        loss_sum, samples = distributed.all_reduce_sum([loss_sum, samples], device=plan.device)
    if samples == 0:
        raise ValueError("train_data produced no batches")
    return loss_sum / samples, norms


_LOOK_EVERY = 32  # steps between reads of the losses on an accelerator


def _reads_deferred(device: torch.device) -> bool:
    """Whether fit keeps the losses on ``device`` between reads: everywhere but on the CPU."""
    return device.type != "cpu"


def _rank_suffix(world: int) -> str:
    return f" on rank {distributed.rank()}" if world > 1 else ""


def _settle(pending: list[tuple[int, torch.Tensor, int]], epoch: int, world: int) -> float:
    """Read the losses held on the device (one transfer), check them, and return their sum
    weighted by batch size — the same sum, in the same order, as reading them one by one."""
    values = torch.stack([loss.float() for _, loss, _ in pending]).cpu().tolist()
    total = 0.0
    for i, ((step, _, n), value) in enumerate(zip(pending, values)):
        if not math.isfinite(value):
            raise FloatingPointError(
                f"loss is {value} at epoch {epoch}, step {step}{_rank_suffix(world)} (on an accelerator the losses are "
                f"read every {_LOOK_EVERY} steps: the parameters have also taken the {len(pending) - 1 - i} "
                "steps after it, and may no longer be finite)")
        total += value * n
    pending.clear()
    return total


class _EntryPoints(nn.Module):
    """What :func:`fit` wraps in ``DistributedDataParallel``: the model, whose forward can also run
    one of the methods the model lists in ``distributed_entry_points`` — DDP averages the
    gradients of whatever runs inside its own forward, and of nothing else."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, *args: Any, _nnanatomy_entry: str | None = None, **kwargs: Any) -> Any:
        if _nnanatomy_entry is None:
            return self.model(*args, **kwargs)
        return getattr(self.model, _nnanatomy_entry)(*args, **kwargs)


class _DistributedView:
    """The model as ``loss_fn``/``batch_loss`` see it under ``torchrun``: calling it (or one of its
    ``distributed_entry_points``) runs through DDP, every other attribute is the model's own."""

    def __init__(self, ddp: nn.parallel.DistributedDataParallel, model: nn.Module) -> None:
        object.__setattr__(self, "_ddp", ddp)
        object.__setattr__(self, "_model", model)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._ddp(*args, **kwargs)

    def no_sync(self) -> Any:
        return self._ddp.no_sync()

    def __getattr__(self, name: str) -> Any:
        entry_points = getattr(self._model, "distributed_entry_points", ())
        if name in entry_points:
            return lambda *args, **kwargs: self._ddp(*args, _nnanatomy_entry=name, **kwargs)
        return getattr(self._model, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._model, name, value)

    def __repr__(self) -> str:
        return f"DistributedDataParallel view of {type(self._model).__name__}"


def _unused_parameter_error(exc: RuntimeError, plan: _Plan) -> BaseException:
    """DDP's complaint about a parameter that got no gradient, with what to do about it."""
    if plan.world <= 1 or "finished reduction in the prior iteration" not in f"{exc} {exc.__cause__}":
        return exc
    if plan.find_unused_parameters:
        hint = ("find_unused_parameters is on, so a parameter took part in the forward pass (its output is among the "
                "model's outputs) without reaching the loss: detach that output or add it to the loss")
    else:
        hint = ("a parameter got no gradient in the previous step (an MoE expert without tokens, a head the loss "
                "does not use): pass fit(find_unused_parameters=True), or set may_skip_parameters = True on the module")
    said = str(exc.__cause__ if "finished reduction" in str(exc.__cause__) else exc).splitlines()[0]
    return ValueError(f"distributed training stopped: {hint}. DDP said: {said}")


def _mixed_precision(amp: bool) -> tuple[torch.dtype | None, Any]:
    """bfloat16 autocast where the GPU has it, else float16 with a gradient scaler; nothing without amp."""
    if not amp:
        return None, None
    # bf16 only where the hardware has it (sm80+): is_bf16_supported() alone also counts emulation (a T4)
    if torch.cuda.is_bf16_supported(including_emulation=False):
        return torch.bfloat16, None
    return torch.float16, torch.amp.GradScaler("cuda")


def _evaluate_into(history: History, model: nn.Module, evaluate: Callable, epoch: int) -> None:
    model.eval()
    with torch.no_grad():
        results = evaluate(model)
    if not isinstance(results, Mapping):
        raise TypeError(f"evaluate must return a dict of metric name → number, got {type(results).__name__}")
    history.eval_epoch.append(epoch)
    for key, value in results.items():
        history.metrics.setdefault(key, []).append(float(value))


def _report(bar: Any, history: History, epoch: int, log: bool) -> None:
    postfix = {"loss": f"{history.train_loss[-1]:.4g}"}
    postfix.update({k: f"{v[-1]:.4g}" for k, v in history.metrics.items()})
    bar.set_postfix(postfix, refresh=False)
    if log:
        parts = [f"epoch {epoch:>4d}", f"train_loss {history.train_loss[-1]:.4g}"]
        parts += [f"{k} {v[-1]:.4g}" for k, v in sorted(history.metrics.items())]
        print("  ".join(parts))


class TruncatedBPTT:
    """A ``batch_loss`` for :func:`fit` that trains a recurrent model by *truncated*
    backpropagation through time on batches from :func:`nnanatomy.data.stream_windows`.

    Each call runs ``model(inputs, state)`` from the state the previous batch ended in, then keeps
    the new state *detached*: the forward pass carries information across window boundaries,
    while the gradient stops at them (at most ``seq_len`` steps back). After
    ``windows_per_epoch`` calls (one pass over the stream) the state is dropped, because the next
    batch starts the streams again. The loss is the cross-entropy of ``model``'s logits
    ``(B, T, V)`` against the targets ``(B, T)``.
    """

    def __init__(self, windows_per_epoch: int) -> None:
        self.windows_per_epoch = _check_positive_int("windows_per_epoch", windows_per_epoch)
        self.state: Any = None
        self.calls = 0

    def reset(self) -> None:
        """Forget the carried state (start the streams again)."""
        self.state, self.calls = None, 0

    def __call__(self, model: nn.Module, batch: Any) -> torch.Tensor:
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise TypeError("a batch is (inputs (B, T), targets (B, T)), as data.stream_windows arranges them")
        inputs, targets = batch
        if self.calls == self.windows_per_epoch:
            self.reset()
        if self.state is not None and _state_batch(self.state) != inputs.shape[0]:
            raise ValueError(f"the carried state holds {_state_batch(self.state)} streams, this batch {inputs.shape[0]}: "
                             "every batch must hold the same streams (data.stream_windows)")
        logits, state = model(inputs, self.state)
        self.state = _detached(state)
        self.calls += 1
        return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def _detached(state: Any) -> Any:
    if isinstance(state, torch.Tensor):
        return state.detach()
    if isinstance(state, (tuple, list)):
        return type(state)(_detached(s) for s in state)
    return state


def _state_batch(state: Any) -> int:
    """Streams in a recurrent state: dim 1 of ``h`` (num_layers, B, H), or of an LSTM's ``(h, c)``."""
    return int((state[0] if isinstance(state, (tuple, list)) else state).shape[1])


def evaluate_loss(
    model: nn.Module,
    data: Iterable[Any],
    loss_fn: Callable[[Any, Any], torch.Tensor],
    device: torch.device | str | None = None,
) -> float:
    """Mean of ``loss_fn(model(inputs), targets)`` over ``(inputs, targets)`` batches, weighted by
    batch size (exact for losses with ``reduction="mean"``), in eval mode without gradients.
    The model's train/eval mode is restored afterwards, also when a batch raises."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
    _check_reiterable("data", data)
    device = _model_device(model) if device is None else _checked_device(device)
    was_training = model.training
    model.eval()
    total, samples = 0.0, 0
    try:
        with torch.no_grad():
            for batch in data:
                batch = move_to(batch, device)
                n = _batch_size(batch)
                total += float(_loss_of_batch(model, batch, loss_fn, None)) * n
                samples += n
    finally:
        model.train(was_training)
    if samples == 0:
        raise ValueError("data produced no batches")
    return total / samples


def _checked_device(device: object) -> torch.device:
    """``device`` as a ``torch.device``, or a ValueError/TypeError that names what was expected."""
    return check_device("device", device)


# What torch.load(weights_only=True) reads back: tensors and plain Python values.
_PLAIN = (type(None), bool, int, float, str)


def _check_loadable(value: Any, where: str) -> None:
    """Raise a TypeError if ``value`` could not be read back by ``torch.load(weights_only=True)``."""
    if isinstance(value, _PLAIN):
        return
    if isinstance(value, torch.Tensor):
        if value.device.type == "meta":
            raise ValueError(f"{where} is a tensor on the meta device, which holds no data to save")
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_loadable(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, (str, int)):
                raise TypeError(f"{where} has a key of type {type(key).__name__}; keys must be str or int")
            _check_loadable(item, f"{where}[{key!r}]")
        return
    hint = " (convert a NumPy array with .tolist() or torch.from_numpy)" if type(value).__module__ == "numpy" else ""
    raise TypeError(
        f"{where} is a {type(value).__name__}, which a checkpoint loaded with weights_only=True cannot read back; "
        f"use tensors, numbers, strings, lists and dicts{hint}"
    )


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    *,
    history: History | None = None,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """Save the model's (and optionally the optimiser's) state, the history and plain extras.

    Under ``torchrun`` only rank 0 writes (call it on every rank; the others return at once).

    Everything saved is tensors, numbers, strings, lists and dicts, so the file loads with
    ``torch.load(weights_only=True)`` — no pickled code runs when a reader opens it. Anything
    else in ``extra`` is refused before a byte is written. The file is written atomically: to a
    temporary file in the same folder, flushed, then renamed over ``path``; if anything fails
    (or the save is interrupted) an existing checkpoint at ``path`` is left as it was.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be None or a torch.optim.Optimizer, got {type(optimizer).__name__}")
    if history is not None and not isinstance(history, History):
        raise TypeError(f"history must be None or a nnanatomy.train.History, got {type(history).__name__}")
    if extra is not None and not isinstance(extra, Mapping):
        raise TypeError(f"extra must be None or a dict, got {type(extra).__name__}")
    if not distributed.is_main():
        return  # under torchrun only rank 0 writes: every rank holds the same parameters
    if isinstance(model, nn.parallel.DistributedDataParallel):
        model = model.module  # save the bare model's keys, loadable without DDP
    payload = {
        "format": "nnanatomy-checkpoint-1",
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "history": history.as_dict() if history is not None else None,
        "extra": dict(extra) if extra is not None else {},
    }
    _check_loadable(payload["model"], "the model's state")
    _check_loadable(payload["optimizer"], "the optimizer's state")
    _check_loadable(payload["history"], "history")
    _check_loadable(payload["extra"], "extra")
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".checkpoint-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(payload, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:  # also KeyboardInterrupt: never leave a half-written file behind
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise


def _read_checkpoint(path: str, map_location: Any) -> dict[str, Any]:
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # truncated, empty, not a zip, or pickled objects weights_only refuses
        raise ValueError(
            f"{path!r} is not a readable checkpoint (empty, truncated, corrupt, or holding objects other than "
            f"tensors and plain values): {type(exc).__name__}"
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != "nnanatomy-checkpoint-1":
        raise ValueError(f"{path!r} is not a checkpoint written by nnanatomy.train.save_checkpoint")
    for key in ("model", "optimizer", "history", "extra"):
        if key not in payload:
            raise ValueError(f"{path!r} is incomplete: it has no {key!r} entry")
    if not isinstance(payload["model"], Mapping):
        raise ValueError(f"{path!r}: the model state is a {type(payload['model']).__name__}, not a state dict")
    return payload


def _check_state_fits(state: Mapping[str, Any], model: nn.Module, strict: bool) -> None:
    """Every key and shape of ``state`` against ``model``, before anything is copied."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if strict and (missing or unexpected):
        raise ValueError(
            f"the checkpoint does not fit this model: missing keys {missing[:5]}{' …' if len(missing) > 5 else ''}, "
            f"unexpected keys {unexpected[:5]}{' …' if len(unexpected) > 5 else ''} (strict=False loads the common keys)"
        )
    wrong = [f"{k}: checkpoint {tuple(state[k].shape)}, model {tuple(own[k].shape)}"
             for k in own if k in state and isinstance(state[k], torch.Tensor) and state[k].shape != own[k].shape]
    if wrong:
        raise ValueError(f"the checkpoint's shapes do not fit this model: {'; '.join(wrong[:5])}")


def _check_optimizer_fits(state: Any, optimizer: torch.optim.Optimizer) -> None:
    if not isinstance(state, Mapping) or "param_groups" not in state or "state" not in state:
        raise ValueError("the checkpoint's optimizer state is not an optimizer state dict")
    saved, own = state["param_groups"], optimizer.param_groups
    if len(saved) != len(own) or any(len(a.get("params", ())) != len(b["params"]) for a, b in zip(saved, own)):
        raise ValueError(
            "the checkpoint's optimizer state does not fit this optimizer: "
            f"{[len(g.get('params', ())) for g in saved]} parameters per group saved, {[len(g['params']) for g in own]} here"
        )


def load_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    *,
    map_location: torch.device | str | None = "cpu",
    strict: bool = True,
) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` into ``model`` (and ``optimizer``).

    Loads with ``weights_only=True``. Everything is checked first — the file, the model's keys
    and shapes, the optimizer's state, the history — and only then are the model and the
    optimizer changed: a checkpoint that does not fit raises a ValueError and leaves both as
    they were. Returns ``{"history": History | None, "extra": dict}``.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be None or a torch.optim.Optimizer, got {type(optimizer).__name__}")
    if not isinstance(strict, bool):
        raise TypeError(f"strict must be True or False, got {strict!r}")
    if map_location is not None:
        map_location = _checked_device(map_location)
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise MissingFileError(f"no checkpoint at {path!r}")
    payload = _read_checkpoint(path, map_location)
    _check_state_fits(payload["model"], model, strict)
    if optimizer is not None:
        if payload["optimizer"] is None:
            raise ValueError("the checkpoint holds no optimizer state (it was saved without an optimizer)")
        _check_optimizer_fits(payload["optimizer"], optimizer)
    history = History.from_dict(payload["history"]) if payload["history"] is not None else None
    model.load_state_dict(payload["model"], strict=strict)
    if optimizer is not None:
        optimizer.load_state_dict(payload["optimizer"])
    return {"history": history, "extra": payload["extra"]}


class EMA:
    """An exponential moving average of a model's parameters: ``avg ← decay·avg + (1 − decay)·θ``.

    Generative models are usually sampled with averaged weights, which smooth out the noise of
    the last optimiser steps. ``update(model)`` after each step (``fit(after_step=ema.update)``);
    ``copy_to(model)`` to load the averages. The averages follow the model's device.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if isinstance(decay, bool) or not isinstance(decay, (int, float)):
            raise TypeError(f"decay must be a number in (0, 1), got {type(decay).__name__}")
        if not 0.0 < decay < 1.0:  # also False for NaN
            raise ValueError(f"decay must be in (0, 1), got {decay}")
        self.decay = float(decay)
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def _check_model(self, model: nn.Module) -> dict[str, torch.Tensor]:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        state = model.state_dict()
        if state.keys() != self.shadow.keys():
            missing, extra = sorted(self.shadow.keys() - state.keys()), sorted(state.keys() - self.shadow.keys())
            raise ValueError(f"this is not the model the EMA averages: missing {missing[:5]}, unexpected {extra[:5]}")
        wrong = [k for k, v in state.items() if v.shape != self.shadow[k].shape]
        if wrong:
            raise ValueError(f"this is not the model the EMA averages: shapes differ for {wrong[:5]}")
        return state

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        for k, v in self._check_model(model).items():
            if self.shadow[k].device != v.device:
                self.shadow[k] = self.shadow[k].to(v.device)
            if v.is_floating_point():
                self.shadow[k].mul_(self.decay).add_(v.detach(), alpha=1 - self.decay)
            else:
                self.shadow[k].copy_(v)

    def copy_to(self, model: nn.Module) -> None:
        """Load the averages into ``model`` (checked first: a different model is left unchanged)."""
        self._check_model(model)
        model.load_state_dict(self.shadow)
