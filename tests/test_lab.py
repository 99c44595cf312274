"""Appendix A3: the ViT, the sequence regressors, the stochastic block model, and message
passing in NumPy equal to the PyTorch graph layers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnanatomy import data, scratch
from nnanatomy.models.lab import GNN, GATLayer, GCNLayer, SAGELayer, SequenceRegressor, ViTClassifier, normalized_adjacency


def _graph(seed=0):
    return data.sbm_graph(blocks=3, nodes_per_block=12, p_in=0.4, p_out=0.05, features=5, seed=seed)


def test_sbm_is_symmetric_without_self_loops_and_denser_inside_blocks():
    g = data.sbm_graph(seed=1)
    a = g.adjacency
    assert a.shape == (180, 180) and np.array_equal(a, a.T) and not a.diagonal().any()
    same = g.labels[:, None] == g.labels[None, :]
    assert a[same].mean() > 5 * a[~same].mean()
    assert g.train_mask.sum() == 15 and not (g.train_mask & g.test_mask).any()
    assert np.array_equal(data.sbm_graph(seed=1).adjacency, a)
    with pytest.raises(ValueError, match="p_out"):
        data.sbm_graph(p_in=0.1, p_out=0.2)
    with pytest.raises(ValueError, match="labelled"):
        data.sbm_graph(nodes_per_block=5, labelled_per_block=5)


@pytest.mark.parametrize("layer_cls", [GCNLayer, SAGELayer, GATLayer])
def test_numpy_message_passing_equals_pytorch(layer_cls):
    g = _graph()
    torch.manual_seed(0)
    layer = layer_cls(5, 4).double()
    adj, h = torch.tensor(g.adjacency, dtype=torch.float64), torch.tensor(g.features, dtype=torch.float64)
    expected = layer(h, adj).detach().numpy()
    a, x = g.adjacency.astype(np.float64), g.features.astype(np.float64)
    p = {k: v.detach().numpy() for k, v in layer.named_parameters()}
    if layer_cls is GCNLayer:
        got = scratch.graph.gcn_layer(a, x, p["linear.weight"], p["bias"])
    elif layer_cls is SAGELayer:
        got = scratch.graph.sage_layer(a, x, p["self_linear.weight"], p["self_linear.bias"], p["neigh_linear.weight"])
    else:
        got = scratch.graph.gat_layer(a, x, p["linear.weight"], p["att_src"], p["att_dst"], p["bias"])
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_normalized_adjacency_and_laplacian():
    g = _graph()
    a = g.adjacency.astype(np.float64)
    np.testing.assert_allclose(normalized_adjacency(torch.tensor(a)).numpy(), scratch.graph.normalized_adjacency(a), atol=1e-14)
    lap = scratch.graph.laplacian(a)
    values = np.linalg.eigvalsh(lap)
    assert values.min() > -1e-10 and values.max() < 2 + 1e-10  # the normalised Laplacian's spectrum lies in [0, 2]
    components = np.sum(values < 1e-9)
    assert components >= 1
    with pytest.raises(ValueError, match="square"):
        normalized_adjacency(torch.zeros(3, 4))


def test_gat_attention_rows_sum_to_one_over_neighbours():
    g = _graph()
    layer = GATLayer(5, 3)
    layer(torch.tensor(g.features), torch.tensor(g.adjacency))
    alpha = layer.last_attention
    torch.testing.assert_close(alpha.sum(1), torch.ones(len(alpha)))
    allowed = torch.tensor(g.adjacency) + torch.eye(len(alpha)) > 0
    assert torch.all(alpha[~allowed] == 0)


def test_models_shapes_and_errors():
    assert ViTClassifier()(torch.zeros(3, 1, 8, 8)).shape == (3, 10)
    with pytest.raises(ValueError, match="divisible"):
        ViTClassifier(image_size=8, patch=3)
    with pytest.raises(ValueError, match="expects"):
        ViTClassifier()(torch.zeros(3, 1, 16, 16))
    for kind in SequenceRegressor.KINDS:
        assert SequenceRegressor(kind, hidden=16)(torch.zeros(4, 20, 2)).shape == (4,)
    with pytest.raises(ValueError, match="kind"):
        SequenceRegressor("mamba")
    with pytest.raises(ValueError, match="max_len"):
        SequenceRegressor("transformer", hidden=16, max_len=8)(torch.zeros(1, 9, 2))
    g = _graph()
    for kind in GNN.LAYERS:
        assert GNN(kind, 5, 8, 3)(torch.tensor(g.features), torch.tensor(g.adjacency)).shape == (36, 3)
    with pytest.raises(ValueError, match="kind"):
        GNN("gin", 5, 8, 3)
    with pytest.raises(ValueError, match="adjacency"):
        GNN("gcn", 5, 8, 3)(torch.zeros(4, 5), torch.zeros(3, 3))


def test_lab_checkers():
    from nnanatomy.exercises import lab

    assert lab.check_vit_tokens(65) and "class token" in lab.check_vit_tokens(64).message
    assert lab.check_normalized_entry(1 / np.sqrt(6)) and "self-loops" in lab.check_normalized_entry(1 / np.sqrt(2)).message

    def no_loops(adj, h, weight, bias):
        d = np.maximum(adj.sum(1), 1)
        return (adj / np.sqrt(np.outer(d, d))) @ h @ weight.T + bias

    assert "self-loops" in lab.check_gcn_layer(no_loops).message
    assert lab.check_gcn_layer(lambda adj, h, w, b: scratch.graph.gcn_layer(adj, h, w, b))
    with pytest.raises(TypeError):
        lab.check_normalized_entry("0.41")
