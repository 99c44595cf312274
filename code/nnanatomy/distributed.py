"""Training on several processes with ``torch.distributed``: what :func:`nnanatomy.train.fit`
needs to run unchanged under ``torchrun``.

Launch any training script with one process per device::

    torchrun --standalone --nproc_per_node=4 train_script.py        # one machine, 4 GPUs (or 4 CPU processes)
    torchrun --nnodes=2 --node_rank=0 --nproc_per_node=8 \\
             --rdzv_backend=c10d --rdzv_endpoint=HOST:29500 train_script.py   # and node_rank=1 on the second machine

and write the script as for one process, with three changes::

    with distributed.session() as info:          # joins the process group (NCCL on CUDA, Gloo on CPU)
        loader = distributed.shard_loader(x, y, batch_size=32, seed=0)   # each rank reads its own shard
        history = train.fit(model, loader, optimizer=opt, loss_fn=..., device=info.device)
        train.save_checkpoint("model.pt", model)  # written by rank 0 only

``fit`` sees the process group and wraps the model in ``DistributedDataParallel``: every rank
computes the gradient of its own batch, the gradients are averaged across ranks by an
all-reduce during ``backward()``, and every rank applies the same update — so the parameters
stay identical everywhere, equal to one process training on the global batch (tested).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from ._checks import check_bool, check_device
from .data.loaders import _as_sample_tensor

__all__ = ["Info", "all_reduce_sum", "barrier", "info", "is_main", "rank", "session", "shard_loader", "world_size"]


@dataclass(frozen=True)
class Info:
    rank: int  # this process, 0 … world_size − 1
    local_rank: int  # this process on its machine: the GPU it uses
    world_size: int  # processes in all
    device: torch.device
    backend: str | None  # "nccl", "gloo", or None for a single process

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _active() -> bool:
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    """Processes in the group; 1 when ``torch.distributed`` is not initialised."""
    return dist.get_world_size() if _active() else 1


def rank() -> int:
    return dist.get_rank() if _active() else 0


def is_main() -> bool:
    """True on rank 0 (and in a single process): the one that logs, shows progress and saves."""
    return rank() == 0


def info() -> Info:
    """Where this process stands, from the initialised group or the launcher's environment."""
    local = int(os.environ.get("LOCAL_RANK", "0"))
    backend = dist.get_backend() if _active() else None
    # a GPU of its own only where there is one for this local rank and the group is not Gloo's (CPU)
    own_gpu = torch.cuda.is_available() and local < torch.cuda.device_count() and backend in (None, "nccl")
    device = torch.device("cuda", local) if own_gpu else torch.device("cpu")
    return Info(rank(), local, world_size(), device, backend)


@contextlib.contextmanager
def session(backend: str | None = None) -> Iterator[Info]:
    """Join the process group that ``torchrun`` set up (``RANK``, ``WORLD_SIZE``,
    ``MASTER_ADDR``/``MASTER_PORT`` in the environment), yield :class:`Info`, and always leave it
    again — also when the training raises, so that no process is left waiting in a collective.

    Without those variables (a plain ``python script.py``) it is a single-process session.
    ``backend``: ``"nccl"`` (CUDA) or ``"gloo"`` (CPU); by default NCCL when every process on this
    machine has a GPU of its own, else Gloo (two processes on a one-GPU Colab run on Gloo).
    """
    if backend not in (None, "nccl", "gloo"):
        raise ValueError(f"backend must be None, 'nccl' or 'gloo', got {backend!r}")
    launched = "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1
    started = False
    if launched and not _active():
        local_processes = int(os.environ.get("LOCAL_WORLD_SIZE", os.environ["WORLD_SIZE"]))
        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
        backend = backend or ("nccl" if gpus >= local_processes else "gloo")  # the same choice on every rank
        if backend == "nccl":
            if gpus < local_processes:
                raise ValueError(f"backend 'nccl' needs a GPU per process: {local_processes} processes, {gpus} GPU(s); use 'gloo'")
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend=backend)
        started = True
    try:
        yield info()
    finally:
        if started and _active():
            dist.destroy_process_group()


def shard_loader(*arrays: np.ndarray | torch.Tensor, batch_size: int, shuffle: bool = True, seed: int = 0,
                 drop_last: bool = False, dtype: torch.dtype | None = torch.float32) -> DataLoader:
    """A ``DataLoader`` that gives each rank its own ``1 / world_size`` of the samples.

    ``batch_size`` is per rank: the global batch is ``batch_size × world_size``. The
    ``DistributedSampler`` deals sample ``i`` of a (seeded, per-epoch) permutation to rank
    ``i mod world_size``; ``fit`` calls its ``set_epoch`` so that every epoch is shuffled anew
    and all ranks agree on the permutation. In a single process it reads everything.
    """
    if not arrays:
        raise ValueError("shard_loader needs at least one array")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    shuffle, drop_last = check_bool("shuffle", shuffle), check_bool("drop_last", drop_last)
    tensors = [_as_sample_tensor(f"arrays[{i}]", a, dtype) for i, a in enumerate(arrays)]  # checked: samples first, no NaN
    if len({t.shape[0] for t in tensors}) != 1:
        raise ValueError(f"arrays must all have the same first dimension, got {[tuple(t.shape) for t in tensors]}")
    dataset = TensorDataset(*tensors)
    sampler = DistributedSampler(dataset, num_replicas=world_size(), rank=rank(), shuffle=shuffle, seed=seed,
                                 drop_last=drop_last)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=drop_last, pin_memory=torch.cuda.is_available())


def all_reduce_sum(values: list[float], device: torch.device | str = "cpu") -> list[float]:
    """Sum plain numbers over all ranks (identity in a single process)."""
    if not isinstance(values, (list, tuple)) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise TypeError(f"values must be a list of numbers, got {values!r}")
    device = check_device("device", device)
    if world_size() == 1:
        return list(values)
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.tolist()


def barrier() -> None:
    """Wait until every rank gets here (no-op in a single process)."""
    if world_size() > 1:
        dist.barrier()
