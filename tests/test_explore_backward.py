"""explore.show_backward_effect: autograd's .grad equals the chain rule written out."""

from __future__ import annotations

import pytest
import torch

from nnanatomy import explore


def test_grads_equal_the_chain_rule():
    walk = explore.show_backward_effect()
    rows = {r[0]: r for r in walk.rows}
    for name, (_, _, before, after, by_hand) in rows.items():
        assert before == "None", name
        assert after == by_hand, name
        torch.testing.assert_close(walk.autograd[name], walk.chain_rule[name], rtol=0, atol=1e-12)
    # the default data: x = [-1, 0, 1, 2], y = 3x² + 5, w = 0.5, b = 0
    assert rows["w"][3] == "-15.5" and rows["b"][3] == "-18.5"
    assert walk.autograd["w"].item() == -15.5


def test_graph_is_the_recorded_chain():
    walk = explore.show_backward_effect()
    assert [g.strip().split()[0] for g in walk.graph] == [
        "MseLossBackward0", "AddBackward0", "MulBackward0", "AccumulateGrad", "AccumulateGrad"]
    assert "tensor" in str(walk)


def test_custom_inputs_and_errors():
    x = torch.tensor([1.0, 2.0], dtype=torch.float64)
    walk = explore.show_backward_effect(x, 2 * x, w=2.0, b=0.0)  # a perfect fit: zero gradients
    assert {r[0]: r[3] for r in walk.rows}["w"] == "0"
    with pytest.raises(TypeError, match="1-D"):
        explore.show_backward_effect(torch.ones(2, 2), torch.ones(2, 2))
    with pytest.raises(ValueError, match="equal length"):
        explore.show_backward_effect(torch.ones(2), torch.ones(3))
    with pytest.raises(TypeError, match="number"):
        explore.show_backward_effect(w="1")
