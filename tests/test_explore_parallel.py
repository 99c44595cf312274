"""explore.parallel_cost: the per-device arithmetic of data-parallel training (appendix A4), by hand."""

from __future__ import annotations

import pytest

from nnanatomy import explore


def test_ddp_by_hand():
    cost = explore.parallel_cost(1_000, devices=4, strategy="ddp", optimizer="adam", bytes_per_value=4,
                                 tokens_per_device=10, peak_flops=6e4, link_bandwidth=1_500)
    assert cost.state_bytes == 16_000  # parameters, gradients, two Adam moments, float32
    assert cost.sent_bytes == 2 * 3 / 4 * 4 * 1_000 == 6_000  # a ring all-reduce
    assert cost.compute_seconds == pytest.approx(6 * 1_000 * 10 / 6e4) == 1.0
    assert cost.communication_seconds == 4.0 and cost.communication_share == 4.0
    assert "(2 + 2)·4·P = 15.6 KiB" in cost.describe()


def test_fsdp_shards_the_state_and_sends_half_as_much_again():
    ddp = explore.parallel_cost(10**9, devices=8)
    fsdp = explore.parallel_cost(10**9, devices=8, strategy="fsdp")
    assert fsdp.state_bytes == ddp.state_bytes / 8
    assert fsdp.sent_bytes == pytest.approx(1.5 * ddp.sent_bytes)
    assert fsdp.compute_seconds == ddp.compute_seconds


@pytest.mark.parametrize("optimizer, tensors", [("sgd", 2), ("momentum", 3), ("adam", 4), ("adamw", 4)])
def test_optimizer_state_and_bfloat16(optimizer, tensors):
    assert explore.parallel_cost(100, optimizer=optimizer).state_bytes == tensors * 4 * 100
    assert explore.parallel_cost(100, optimizer=optimizer, bytes_per_value=2).state_bytes == tensors * 2 * 100


def test_one_device_sends_nothing():
    cost = explore.parallel_cost(124_439_808, devices=1)
    assert cost.sent_bytes == 0 and cost.communication_seconds == 0


def test_bad_inputs():
    with pytest.raises(TypeError, match="parameters must be an int"):
        explore.parallel_cost(1.5e8)
    with pytest.raises(ValueError, match="parameters must be >= 1"):
        explore.parallel_cost(0)
    with pytest.raises(ValueError, match="devices must be >= 1"):
        explore.parallel_cost(100, devices=0)
    with pytest.raises(ValueError, match="strategy must be one of"):
        explore.parallel_cost(100, strategy="zero")
    with pytest.raises(TypeError, match="strategy must be one of"):
        explore.parallel_cost(100, strategy=None)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        explore.parallel_cost(100, optimizer="lion")
    with pytest.raises(ValueError, match="bytes_per_value must be <= 8"):
        explore.parallel_cost(100, bytes_per_value=16)
    with pytest.raises(ValueError, match="peak_flops must be > 0"):
        explore.parallel_cost(100, peak_flops=0)
    with pytest.raises(ValueError, match="link_bandwidth must be a finite number"):
        explore.parallel_cost(100, link_bandwidth=float("nan"))
    with pytest.raises(ValueError, match="parameters must be <="):
        explore.parallel_cost(10**16)
