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


def test_edge_list_message_passing_equals_the_dense_propagation():
    from nnanatomy.models.lab import edge_list, gcn_propagate_edges

    g = _graph(seed=3)
    adj = torch.tensor(g.adjacency, dtype=torch.float64)
    adj[0] = adj[:, 0] = 0  # an isolated node keeps its own state
    h = torch.tensor(g.features, dtype=torch.float64)
    edges = edge_list(adj)
    assert edges.shape == (2, int(adj.sum())) and edges.dtype == torch.long
    assert bool(adj[edges[1], edges[0]].eq(1).all())  # row 1 receives from row 0
    torch.testing.assert_close(gcn_propagate_edges(h, edges), normalized_adjacency(adj) @ h, rtol=1e-12, atol=1e-14)
    torch.manual_seed(0)
    model = GNN("gcn", 5, 8, 3).double()
    torch.testing.assert_close(model(h, edges), model(h, adj), rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="0/1"):
        edge_list(adj * 0.5)
    with pytest.raises(ValueError, match="square"):
        edge_list(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="outside"):
        gcn_propagate_edges(h[:3], edges)
    with pytest.raises(ValueError, match="only the GCN"):
        GNN("gat", 5, 8, 3)(h.float(), edges)
    with pytest.raises(ValueError, match="long"):
        GNN("gcn", 5, 8, 3)(h.float(), edges.int())


def test_chebyshev_filter_equals_the_spectral_definition_is_local_and_reduces_to_gcn():
    from numpy.polynomial import chebyshev

    g = _graph(seed=1)
    a, h = g.adjacency.astype(np.float64), g.features.astype(np.float64)
    theta = np.array([0.3, -0.2, 0.5, 0.1])
    for lambda_max in (2.0, 1.7):
        np.testing.assert_allclose(scratch.graph.chebyshev_filter(a, h, theta, lambda_max=lambda_max),
                                   scratch.graph.spectral_filter(a, h, lambda lam: chebyshev.chebval(2 * lam / lambda_max - 1, theta)),
                                   atol=1e-10)
    # K + 1 coefficients: a node's output depends on nodes at most K hops away
    path = np.diag(np.ones(9), 1)
    path = path + path.T
    delta = np.zeros((10, 1))
    delta[0] = 1
    out = scratch.graph.chebyshev_filter(path, delta, theta)[:, 0]
    assert np.abs(out[:4]).min() > 0 and not out[4:].any()
    # K = 1, λ_max = 2, θ₀ = −θ₁: θ (I + D^-1/2 A D^-1/2) (an isolated node keeps θ h_i)
    deg = a.sum(1)
    d = np.where(deg > 0, 1 / np.sqrt(np.maximum(deg, 1)), 0.0)
    np.testing.assert_allclose(scratch.graph.chebyshev_filter(a, h, np.array([0.7, -0.7])),
                               0.7 * (h + (d[:, None] * a * d[None, :]) @ h), atol=1e-12)
    with pytest.raises(ValueError, match="coefficient"):
        scratch.graph.chebyshev_filter(a, h, np.zeros(0))
    with pytest.raises(ValueError, match="lambda_max"):
        scratch.graph.chebyshev_filter(a, h, theta, lambda_max=0.0)
    with pytest.raises(ValueError, match="one finite number per eigenvalue"):
        scratch.graph.spectral_filter(a, h, lambda lam: 1.0)
    with pytest.raises(TypeError, match="response"):
        scratch.graph.spectral_filter(a, h, 2.0)


def test_gradient_through_time_measures_each_steps_influence():
    from nnanatomy.experiments import lab as lab_exp

    class LastAndFirst(torch.nn.Module):  # ŷ = 2·x_0,0 + 3·x_T,1: known gradients
        def forward(self, x):
            return 2 * x[:, 0, 0] + 3 * x[:, -1, 1]

    g = lab_exp.gradient_through_time(LastAndFirst(), torch.randn(4, 6, 2))
    np.testing.assert_allclose(g, [2, 0, 0, 0, 0, 3])
    model = SequenceRegressor("rnn", hidden=8)
    model.train()
    before = [p.clone() for p in model.parameters()]
    g = lab_exp.gradient_through_time(model, torch.randn(3, 30, 2))
    assert g.shape == (30,) and g[0] < g[-1] and model.training
    assert all(p.grad is None for p in model.parameters()) and all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    with pytest.raises(ValueError, match="batch, time, features"):
        lab_exp.gradient_through_time(model, torch.randn(3, 30))
    with pytest.raises(ValueError, match=r"\(B,\)"):
        lab_exp.gradient_through_time(torch.nn.Identity(), torch.randn(3, 30, 2))


def test_message_passing_cost_and_data_size_run():
    from nnanatomy.experiments import lab as lab_exp

    cost = lab_exp.message_passing_cost(200, degree=4.0, repeats=1)
    assert cost["nodes"] == 200 and 200 < cost["edges"] < 800 and cost["difference"] < 1e-5
    assert cost["dense_peak"] > cost["edges_peak"] > 0 and cost["dense_seconds"] > 0
    with pytest.raises(ValueError, match="degree"):
        lab_exp.message_passing_cost(200, degree=100.0)
    run = lab_exp.data_size_run("cnn", 50, 1, steps=10)
    assert run["size"] == 50 and 0 <= run["test_accuracy"] <= 1 and [s for s, _ in run["curve"]] == [2, 4, 6, 8, 10]
    again = lab_exp.data_size_run("cnn", 50, 1, steps=10)
    assert {k: v for k, v in again.items() if k != "seconds"} == {k: v for k, v in run.items() if k != "seconds"}  # reproducible
    with pytest.raises(ValueError, match="model"):
        lab_exp.data_size_run("mlp", 50, 0)
    with pytest.raises(ValueError, match="size"):
        lab_exp.data_size_run("vit", 5000, 0)


def test_tournaments_check_their_arguments_and_keep_the_trained_models():
    from nnanatomy.experiments import lab as lab_exp

    graphs = lab_exp.graphs(seed=1, epochs=2)
    assert [e.name for e in graphs.entries] == ["MLP (no edges)", "GCN", "GAT", "SAGE"]
    assert all(isinstance(e.model, torch.nn.Module) for e in graphs.entries)
    images = lab_exp.images(seed=0, epochs=1)
    assert [e.name for e in images.entries] == ["CNN (ch. 02)", "ViT"] and images.metric_name == "test accuracy"
    sequences = lab_exp.sequences(seed=0, epochs=1, length=10)
    assert [e.name for e in sequences.entries] == list(SequenceRegressor.KINDS)
    with pytest.raises(ValueError, match="tournament"):
        lab_exp.run("audio", 0)
    with pytest.raises(ValueError, match="seed"):
        lab_exp.graphs(seed=-1)
    with pytest.raises(ValueError, match="length"):
        lab_exp.sequences(length=1)


def test_stored_lab_sweep_is_complete():
    from nnanatomy.experiments import lab as lab_exp

    runs = lab_exp.load_results()["runs"]
    for name in lab_exp.TOURNAMENTS:
        assert sorted(r["seed"] for r in runs if r.get("tournament") == name) == [0, 1, 2]
    for model in ("cnn", "vit"):
        for size in lab_exp.RECIPE["data_size"]["sizes"]:
            found = [r for r in runs if r.get("model") == model and r["size"] == size]
            assert sorted(r["seed"] for r in found) == [0, 1, 2]
            assert all(r["steps"] == lab_exp.RECIPE["data_size"]["steps"] for r in found)


def test_forget_bias_checker_measures_the_effect():
    from nnanatomy.exercises import lab
    from nnanatomy.exercises.lab import _forget_bias_ratios

    before, after = _forget_bias_ratios()
    assert before < 1e-6 < 0.1 < after  # the bias opens the path back to the first step
    assert lab.check_forget_bias_gradient(after * 1.01)
    assert "as initialised" in lab.check_forget_bias_gradient(before).message
    assert "grew" in lab.check_forget_bias_gradient(after / before).message
    assert not lab.check_forget_bias_gradient(1.0)
    with pytest.raises(TypeError):
        lab.check_forget_bias_gradient(float("nan"))
