"""Distributed data parallel training through nnanatomy.train.fit: two CPU processes with Gloo
end with identical parameters, equal to one process on the same global batch; gradient
accumulation equals a larger batch; rank 0 alone writes checkpoints and logs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nnanatomy import distributed, train

sys.path.insert(0, str(Path(__file__).parent))
import ddp_worker  # noqa: E402

WORKER = Path(__file__).parent / "ddp_worker.py"


def _launch(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           str(WORKER), str(tmp_path), *args], capture_output=True, text=True, timeout=240, env=env)


def _single_process(shuffle: bool, batch_size: int = 32, accumulate: int = 1):
    x, y = ddp_worker.problem()
    model, optimizer = ddp_worker.build()
    loader = distributed.shard_loader(x, y, batch_size=batch_size, shuffle=shuffle, seed=0)  # world size 1: all samples
    history = train.fit(model, loader, optimizer=optimizer, loss_fn=torch.nn.MSELoss(), epochs=2, progress=False,
                        accumulate=accumulate)
    return model.state_dict(), history


@pytest.mark.parametrize("shuffle", [False, True], ids=["in-order", "shuffled"])
def test_two_gloo_ranks_match_each_other_and_one_process(tmp_path, shuffle):
    run = _launch(tmp_path, "shuffle" if shuffle else "ordered", "1")
    assert run.returncode == 0, run.stderr[-3000:]
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key  # bit for bit: the same averaged gradient everywhere
    single, history = _single_process(shuffle)
    for key in rank0:
        torch.testing.assert_close(rank0[key], single[key], rtol=1e-5, atol=1e-6)
    info0 = json.loads((tmp_path / "rank0.json").read_text())
    assert info0["world_size"] == 2 and info0["backend"] == "gloo" and info0["batches"] == 3  # 96 / 2 ranks / 16
    torch.testing.assert_close(torch.tensor(info0["train_loss"]), torch.tensor(history.train_loss), rtol=1e-5, atol=1e-6)
    # rank 0 alone logged and wrote the checkpoint
    assert run.stdout.count("epoch    2") == 1
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["extra"] == {"written_by": 0}


def test_two_ranks_with_gradient_accumulation(tmp_path):
    run = _launch(tmp_path, "ordered", "2")  # 2 ranks × 2 micro-batches of 8 = one step on 32 samples
    assert run.returncode == 0, run.stderr[-3000:]
    rank0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    single, _ = _single_process(shuffle=False)
    for key in rank0:
        torch.testing.assert_close(rank0[key], single[key], rtol=1e-5, atol=1e-6)


def test_an_error_on_one_rank_stops_the_job(tmp_path):
    run = _launch(tmp_path, "ordered", "1", "fail")
    assert run.returncode != 0
    assert "rank 1 fails on purpose" in run.stderr


def test_accumulation_equals_the_larger_batch():
    big, _ = _single_process(shuffle=True, batch_size=16)
    small, _ = _single_process(shuffle=True, batch_size=8, accumulate=2)
    for key in big:
        torch.testing.assert_close(small[key], big[key], rtol=1e-5, atol=1e-6)


def test_a_short_last_group_is_averaged_over_its_own_size():
    x, y = ddp_worker.problem()
    batches = [(torch.tensor(x[i:i + 8]), torch.tensor(y[i:i + 8])) for i in range(0, 40, 8)]  # 5 batches: groups 2, 2, 1
    model, optimizer = ddp_worker.build()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    train.fit(model, batches, optimizer=optimizer, loss_fn=torch.nn.MSELoss(), epochs=1, accumulate=2, progress=False)
    ref, _ = ddp_worker.build()
    ref_opt = torch.optim.SGD(ref.parameters(), lr=0.01)
    for group in ([batches[0], batches[1]], [batches[2], batches[3]], [batches[4]]):
        xs, ys = torch.cat([b[0] for b in group]), torch.cat([b[1] for b in group])
        ref_opt.zero_grad()
        torch.nn.functional.mse_loss(ref(xs), ys).backward()
        ref_opt.step()
    for (key, a), b in zip(model.state_dict().items(), ref.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=key)


def test_single_process_helpers_and_bad_input(tmp_path):
    with distributed.session() as info:
        assert (info.rank, info.world_size, info.backend, info.is_main) == (0, 1, None, True)
    assert distributed.all_reduce_sum([1.0, 2.0]) == [1.0, 2.0]
    with pytest.raises(TypeError, match="numbers"):
        distributed.all_reduce_sum(torch.ones(2))
    distributed.barrier()
    with pytest.raises(ValueError, match="backend"):
        with distributed.session(backend="mpi"):
            pass
    with pytest.raises(ValueError, match="batch_size"):
        distributed.shard_loader(torch.zeros(4, 1), batch_size=0)
    with pytest.raises(ValueError, match="first dimension"):
        distributed.shard_loader(torch.zeros(4, 1), torch.zeros(3), batch_size=2)
    with pytest.raises(TypeError, match="arrays"):
        distributed.shard_loader([1, 2, 3], batch_size=2)
    model, optimizer = ddp_worker.build()
    with pytest.raises(TypeError, match="accumulate"):
        train.fit(model, [(torch.zeros(2, 1), torch.zeros(2, 1))], optimizer=optimizer, loss_fn=torch.nn.MSELoss(), accumulate=1.5)
    with pytest.raises(ValueError, match="accumulate"):
        train.fit(model, [(torch.zeros(2, 1), torch.zeros(2, 1))], optimizer=optimizer, loss_fn=torch.nn.MSELoss(), accumulate=0)


def test_scale_out_checkers():
    from nnanatomy.exercises import scale_out

    assert scale_out.check_allreduce_bytes(70_000_000)
    assert "twice" in scale_out.check_allreduce_bytes(40_000_000).message
    assert "2·(N−1)/N" in scale_out.check_allreduce_bytes(80_000_000).message
    assert scale_out.check_fsdp_bytes(20_000_000)
    assert "without sharding" in scale_out.check_fsdp_bytes(160_000_000).message
    assert "two tensors" in scale_out.check_fsdp_bytes(15_000_000).message
    assert scale_out.check_global_batch(2048)
    assert "accumulation" in scale_out.check_global_batch(512).message
    assert "Not answered" in scale_out.check_global_batch(None).message
    with pytest.raises(TypeError):
        scale_out.check_global_batch(2048.0)


MODELS_WORKER = Path(__file__).parent / "ddp_models_worker.py"


def _launch_models(tmp_path: Path, mode: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           str(MODELS_WORKER), str(tmp_path), mode], capture_output=True, text=True, timeout=240, env=env)


def _ranks(tmp_path: Path):
    states = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    reports = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    return states, reports


def test_moe_under_ddp_reads_the_models_attributes_and_skips_idle_experts(tmp_path):
    """Chapter 07's batch_loss (m.blocks, m.aux_loss()) runs under torchrun, and experts that got
    no token in a step (no gradient) do not stop DDP: both ranks end equal, and equal to one
    process on the global batch."""
    import ddp_models_worker as worker

    run = _launch_models(tmp_path, "moe")
    assert run.returncode == 0, run.stderr[-3000:]
    (rank0, rank1), reports = _ranks(tmp_path)
    assert all("error" not in r for r in reports), reports
    assert reports[0]["idle_steps"] > 0 and reports[1]["idle_steps"] > 0  # the case DDP needs find_unused_parameters for
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    x, y = worker.moe_problem()
    model, optimizer = worker.moe_model()
    loader = distributed.shard_loader(x, y, batch_size=4, shuffle=False, dtype=torch.long)
    train.fit(model, loader, optimizer=optimizer, batch_loss=worker.moe_batch_loss([], 0.0), epochs=2, progress=False)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(rank0[key], value, rtol=1e-4, atol=1e-5, msg=key)


def test_moe_under_ddp_without_find_unused_parameters_says_what_to_do(tmp_path):
    run = _launch_models(tmp_path, "moe-strict")
    assert run.returncode == 0, run.stderr[-3000:]
    _, reports = _ranks(tmp_path)
    for report in reports:
        assert "find_unused_parameters=True" in report["error"], report


def test_bestrq_loss_method_runs_through_ddp(tmp_path):
    """BestRQ's batch_loss calls m.loss(...), not m(...): it is a declared entry point, so DDP
    averages its gradients. Each rank has its own utterances; without the averaging rank 0 would
    end where one process on rank 0's utterances ends."""
    import ddp_models_worker as worker

    run = _launch_models(tmp_path, "bestrq")
    assert run.returncode == 0, run.stderr[-3000:]
    (rank0, rank1), _ = _ranks(tmp_path)
    for key in rank0:
        if "running_" not in key:  # BatchNorm's running statistics are each rank's own after its last batch
            assert torch.equal(rank0[key], rank1[key]), key
    model, optimizer = worker.bestrq_model()
    g = torch.Generator().manual_seed(7)
    train.fit(model, worker.bestrq_batches(0), optimizer=optimizer, progress=False,
              batch_loss=lambda m, batch: m.loss(*batch, generator=g)[0])
    alone = model.state_dict()
    assert any(not torch.allclose(rank0[k], alone[k]) for k in rank0 if rank0[k].is_floating_point())
