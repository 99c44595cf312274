"""Chapter 13: ReverberationNet rebuilt to its published parameter count, routing and errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnanatomy import data
from nnanatomy.experiments import reverbnet as experiment
from nnanatomy.models.reverbnet import ROLE_NAMES, ReverberationNet, kl_divergence

FACTS_ROLE_PARAMETERS = {  # the published ReverbNet code, at d = 64
    "eileen": 41665, "pluto": 66305, "organ": 41601, "harp": 41793, "wolfhour": 58433, "viola": 16961,
    "philip": 16865, "cello": 25217, "circusmaster": 33473, "bremen": 53953, "zaixian": 29249, "elena": 54081,
    "greta": 37377, "clarinet": 16865, "horn": 66305, "tuba": 29377, "trombone": 41474, "violin1": 33473,
    "violin2": 29377,
}


def test_parameter_counts_match_the_published_network():
    model = ReverberationNet(d=64, num_instruments=7)
    assert model.num_parameters() == 1_043_413
    structure = model.get_network_structure()
    assert structure["parameters"] == {"roles": 733_844, "processors": 290_752, "argallia": 18_817}
    for name, role in model.roles.items():
        assert sum(p.numel() for p in role.parameters()) == FACTS_ROLE_PARAMETERS[name], name
    shell = sum(p.numel() for m in (role.instrument_gate, role.W_mu, role.W_logvar, role.ln) for p in m.parameters())
    assert shell == 8513
    assert all(sum(p.numel() for p in proc.parameters()) == 41_536 for proc in model.processors.values())


def test_forward_shapes_gates_and_kl():
    torch.manual_seed(0)
    model = ReverberationNet(d=16)
    out, kl, gates = model(torch.randn(3, 5, 16))
    assert out.shape == (3,) and kl.ndim == 0 and kl > 0
    assert len(gates) == 38 and all(g.shape == (3,) and ((g > 0) & (g < 1)).all() for g in gates)
    model.eval()  # no sampling in evaluation: deterministic
    x = torch.randn(2, 5, 16)
    torch.testing.assert_close(model(x)[0], model(x)[0])
    other_d = ReverberationNet(d=32)
    assert other_d(torch.randn(1, 4, 32))[0].shape == (1,)


def test_routing_variants():
    documented = ReverberationNet(d=16).feedback_links()
    assert sum(len(v) for v in documented.values()) == 21
    assert documented[0] == [(0, 0), (6, 1)]  # Eileen: read by Harmony (first) and Structure (second)
    published = ReverberationNet(d=16, routing="published")
    structure = published.get_network_structure()
    assert structure["roles_receiving_feedback"] == ["eileen", "zaixian"]
    assert structure["total_connections"] == 40 and structure["gate_probabilities"] == 38
    assert ReverberationNet(d=16, routing="none").get_network_structure()["feedback_links_used"] == 0
    assert [ROLE_NAMES[i] for i in ReverberationNet.processor_roles(6)] == ["violin2", "eileen", "pluto"]
    # feedback changes the output only where it arrives
    torch.manual_seed(0)
    a = ReverberationNet(d=16, routing="documented").eval()
    b = ReverberationNet(d=16, routing="none").eval()
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 5, 16)
    assert not torch.allclose(a(x)[0], b(x)[0])


def test_kl_divergence_closed_form():
    mu, logvar = torch.zeros(4, 3), torch.zeros(4, 3)
    assert kl_divergence(mu, logvar).item() == 0.0
    assert kl_divergence(torch.ones(1, 2), torch.zeros(1, 2)).item() == pytest.approx(1.0)  # ½·Σ μ²


def test_bad_inputs():
    model = ReverberationNet(d=16)
    with pytest.raises(ValueError, match="d = 16"):
        model(torch.randn(2, 5, 8))
    with pytest.raises(ValueError, match="batch, length"):
        model(torch.randn(5, 16))
    with pytest.raises(ValueError, match="multiple of 8"):
        ReverberationNet(d=20)
    with pytest.raises(ValueError, match="routing"):
        ReverberationNet(d=16, routing="random")
    with pytest.raises(ValueError, match="7 fusion"):
        ReverberationNet(d=16, num_instruments=5)


def test_experiment_baselines_and_task():
    for name in ("mlp", "gru", "transformer"):
        params = sum(p.numel() for p in experiment.build(name).parameters())
        assert 0.9e6 < params < 1.1e6, (name, params)  # about ReverbNet's 1.04 M
    x, y = data.reverb_regression(200, seed=3)
    assert x.shape == (200, 10, 64) and y.shape == (200,)
    again, _ = data.reverb_regression(200, seed=3)
    assert (x == again).all()
    with pytest.raises(ValueError, match="unknown configuration"):
        experiment.build("resnet")


def test_pictures_and_printout_follow_the_routing():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nnanatomy import plots_reverbnet as mesh

    for routing, links in (("documented", 21), ("published", 2), ("none", 0)):
        model = ReverberationNet(d=16, routing=routing)
        ax = mesh.draw_mesh(model)
        feedback_arrows = [a for a in ax.texts if getattr(a, "arrow_patch", None) is not None]
        assert len(feedback_arrows) == links
        assert f"{links} feedback links" in ax.get_title()
        text = mesh.structure_text(model)
        assert f"{links} feedback links used" in text and f"{model.num_parameters():,} parameters" in text
        assert all(name in text for name in ROLE_NAMES)
        plt.close("all")
    ax = mesh.draw_dataflow(ReverberationNet(d=16), length=7)
    assert any("(B, 280, 16)" in t.get_text() for t in ax.texts)  # 40 sources × length 7
    with pytest.raises(TypeError, match="ReverberationNet"):
        mesh.draw_mesh(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="length"):
        mesh.draw_dataflow(ReverberationNet(d=16), length=0)
    plt.close("all")


def test_published_structure_text_at_d64():
    from nnanatomy import plots_reverbnet as mesh

    text = mesh.structure_text(ReverberationNet(d=64, routing="published"))
    assert "eileen         41,665" in text and "feedback: harmony[0]" in text
    assert "harmony    reads eileen, pluto, organ" in text and "feeds back to eileen\n" in text
    assert "total 1,043,413 parameters; 40 connections" in text


def test_stored_ablation_results_load_and_match_the_configurations(tmp_path):
    results = experiment.load_results()
    assert results["runs"] and "command" in results
    for record in results["runs"]:
        assert record["config"] in experiment.CONFIGS
        assert len(record["log"]) == record["epochs"] == experiment.EPOCHS
        assert record["eval_mse"] == record["log"][-1]["eval_mse"]
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    with pytest.raises(ValueError, match="runs"):
        experiment.load_results(bad)
    with pytest.raises(TypeError):
        experiment.load_results(3)


def test_run_and_curve_run_refuse_bad_arguments_before_training():
    with pytest.raises(ValueError, match="name"):
        experiment.run("resnet", 0)
    with pytest.raises(ValueError, match="seed"):
        experiment.run("mlp", -1)
    with pytest.raises(ValueError, match="n_train"):
        experiment.curve_run("mlp", 10, 0)  # fewer than one batch
    with pytest.raises(ValueError, match="n_train"):
        experiment.curve_run("mlp", experiment.CURVE["max_train"] + 1, 0)
    with pytest.raises(ValueError, match="no KL term"):
        experiment.curve_run("gru", 1000, 0, kl_weight=1e-3)
    with pytest.raises(ValueError, match="weight_decay"):
        experiment.curve_run("mlp", 1000, 0, weight_decay=-0.1)
    with pytest.raises(TypeError, match="device"):
        experiment.curve_run("mlp", 1000, 0, device=3)


def test_rounds_cut_an_endless_stream_of_epochs_into_fixed_passes():
    from nnanatomy.data import tensor_loader

    loader = tensor_loader(torch.arange(10.0), batch_size=4, shuffle=False)  # batches of 4, 4, 2
    rounds = experiment._Rounds(loader, 2)
    passes = [[b[0].tolist() for b in rounds] for _ in range(3)]
    assert len(rounds) == 2
    assert passes == [[[0, 1, 2, 3], [4, 5, 6, 7]], [[8, 9], [0, 1, 2, 3]], [[4, 5, 6, 7], [8, 9]]]


def test_curve_run_keeps_the_best_validation_round_and_scores_it_on_the_test_split(monkeypatch):
    monkeypatch.setitem(experiment.CURVE, "max_steps", 96)  # three rounds of 32 steps
    record = experiment.curve_run("mlp", 1000, 0)
    log = record["log"]
    assert [row["round"] for row in log] == [0, 1, 2, 3] and log[0]["train_mse"] is None
    assert record["rounds"] == 3 and record["round_steps"] == 32
    best = min(range(len(log)), key=lambda i: log[i]["val_mse"])
    assert record["best_round"] == best and record["val_mse"] == log[best]["val_mse"] and record["best_steps"] == 32 * best
    assert 0 < record["test_mse"] < 2 * record["test_variance"] and record["clean_train_mse"] >= 0
    again = experiment.curve_run("mlp", 1000, 0)
    assert again["test_mse"] == record["test_mse"]  # one thread, one seed: the same run


def test_reverb_terms_split_the_target_and_refuse_bad_input():
    from nnanatomy import data

    x, y = data.reverb_regression(50, seed=3, noise_std=0.0)
    sin_term, product_term = data.reverb_terms(x)
    assert sin_term.shape == product_term.shape == (50,)
    np.testing.assert_allclose(sin_term + product_term, y, atol=1e-5)
    with pytest.raises(TypeError):
        data.reverb_terms(x.tolist())
    with pytest.raises(ValueError, match="shape"):
        data.reverb_terms(x[:, :, 0])
    with pytest.raises(ValueError, match="finite"):
        data.reverb_terms(np.full((2, 3, 4), np.nan))


def test_curve_run_refuses_a_device_it_cannot_name():
    with pytest.raises(ValueError, match="device"):
        experiment.curve_run("mlp", 1000, 0, device="gpu")
