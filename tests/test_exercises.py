"""The exercise checkers: the solutions shown in the chapters pass, wrong answers fail clearly."""

from __future__ import annotations

import ast
import math
import re

import nbformat
import numpy as np
import pytest

from nnanatomy import scratch
from nnanatomy.exercises import CheckResult
from nnanatomy.exercises import anatomy, cnn, diffusion, dit, dnn, gpt, lab, lstm, moe, reverbnet, rnn, scale_out, separation, speech, stability, transformer, unet

from test_notebook_conventions import ROOT


def _solution_blocks(notebook: str) -> dict[str, str]:
    nb = nbformat.read(ROOT / "lessons" / notebook, as_version=4)
    blocks = {}
    for cell in nb.cells:
        match = re.search(r"````\{solution\} (\S+)", cell.source)
        if cell.cell_type == "markdown" and match:
            code = re.findall(r"```python\n(.*?)```", cell.source, flags=re.S)
            blocks[match.group(1)] = "\n".join(code)
    return blocks


def _run(code: str, namespace: dict):
    """Execute a solution; return the value of its last expression (the checker's verdict)."""
    tree = ast.parse(code)
    last = tree.body.pop()
    assert isinstance(last, ast.Expr), "a solution ends with the checker call"
    exec(compile(tree, "<solution>", "exec"), namespace)
    return eval(compile(ast.Expression(last.value), "<solution>", "eval"), namespace)


CHECKERS = {"01_dnn.ipynb": dnn, "02_cnn.ipynb": cnn, "03_rnn.ipynb": rnn, "04_lstm.ipynb": lstm,
            "05_transformer.ipynb": transformer, "06_gpt.ipynb": gpt, "07_moe.ipynb": moe,
            "08a_bestrq.ipynb": speech, "08b_hubert.ipynb": speech,
            "09_unet.ipynb": unet, "10_diffusion.ipynb": diffusion, "11_dit.ipynb": dit, "12_aspp_separation.ipynb": separation, "13_reverbnet.ipynb": reverbnet, "a1_anatomy.ipynb": anatomy, "a2_stability.ipynb": stability, "a3_architecture_lab.ipynb": lab, "a4_scale_out.ipynb": scale_out}
SOLUTIONS = [(nb, label, code) for nb in CHECKERS for label, code in sorted(_solution_blocks(nb).items())]


def _chapter_objects(label: str) -> dict:
    """What a solution uses from its chapter's notebook: for the sampling exercise of chapter 03,
    a CharRNN and its vocabulary (untrained: the checker measures the model it is given); for the
    zeroed-skip exercise of chapter 09, a U-Net of the chapter's recipe (untrained, likewise), its
    test set and the chapter's helpers."""
    if label == "ex-09-zero-skip":
        import torch

        from nnanatomy.experiments import segmentation
        from nnanatomy.models.unet import UNet

        torch.manual_seed(0)
        unet = UNet(segmentation.make_config("skips")).eval()
        x_test, y_test = segmentation._data()[2:]

        def predictions(model):
            with torch.no_grad():
                return model.eval()(torch.tensor(x_test)).argmax(1).numpy()

        return {"torch": torch, "unet": unet, "y_test": y_test, "edge": segmentation.boundary_mask(y_test),
                "predictions": predictions, "segmentation": segmentation}
    if label == "ex-10-repair":
        import torch

        from nnanatomy import judge
        from nnanatomy.experiments import guidance
        from nnanatomy.models.diffusion import ddim_sample

        shared = guidance.setup()
        return {"torch": torch, "judge": judge, "ddim_sample": ddim_sample, "shared": shared, "text_model": shared["model"],
                "judge_model": shared["judge"], "schedule": shared["schedule"], "requested": shared["requested"],
                "caption": shared["caption"], "empty": shared["empty"], "device": shared["device"]}
    if label == "ex-11-block-off":
        import torch

        from nnanatomy.experiments import dit as dit_exp
        from nnanatomy.models.pretrained import load_pretrained

        dit_model, _ = load_pretrained("dit-class")
        d = dit_exp._digits()

        @torch.no_grad()
        def heldout_mse(model, **conditioning):  # the chapter's, on its held-out digits, steps and noise
            model.eval()
            return float((model(d["x_eval"], d["t_eval"], **conditioning) - d["noise_eval"]).pow(2).mean())

        return {"torch": torch, "dit_model": dit_model, "device": torch.device("cpu"), "y_test": d["y_test"],
                "heldout_mse": heldout_mse}
    if label in ("ex-08a-codebook", "ex-08b-k500"):
        import torch

        from nnanatomy import speech
        from nnanatomy.exercises.speech import _mfcc_splits, _test_split
        from nnanatomy.models.bestrq import RandomProjectionQuantizer

        if label == "ex-08a-codebook":
            return {"RandomProjectionQuantizer": RandomProjectionQuantizer, "test_feats": _test_split()[0],
                    "test_set": speech.corpus("test"), "speech": speech, "torch": torch}
        probe_mfcc, test_mfcc, test_labels = _mfcc_splits()
        return {"speech": speech, "probe_mfcc": probe_mfcc, "test_mfcc": test_mfcc, "test_labels": test_labels}
    if label == "ex-13-curve":
        from nnanatomy.experiments import reverbnet as experiment
        return {"experiment": experiment}
    if label == "ex-a3-forget":
        import torch

        from nnanatomy import data
        from nnanatomy.experiments import lab as lab_exp
        from nnanatomy.models.lab import SequenceRegressor

        return {"torch": torch, "data": data, "lab_exp": lab_exp, "SequenceRegressor": SequenceRegressor}
    if label != "ex-rnn-temperature":
        return {}
    import torch

    from nnanatomy import data, models

    grammar = data.Grammar(data.SIMPLE_ENGLISH)
    vocab = data.CharVocab.from_text(grammar.corpus(500, seed=0))
    torch.manual_seed(0)
    return {"char_rnn": models.CharRNN(models.CharRNNConfig(vocab_size=len(vocab), hidden_size=16)), "vocab": vocab}


@pytest.mark.parametrize("notebook,label,code", SOLUTIONS, ids=[f"{nb}:{label}" for nb, label, _ in SOLUTIONS])
def test_the_shown_solutions_pass_their_checkers(notebook, label, code):
    result = _run(code, {"ex": CHECKERS[notebook], "np": np, "scratch": scratch, "math": math, **_chapter_objects(label)})
    assert result, f"{notebook} {label}: {result}"


def test_every_chapter_has_a_checker_module():
    from test_notebook_conventions import NOTEBOOKS

    assert sorted(p.name for p in NOTEBOOKS) == sorted(CHECKERS)


def test_unanswered_is_reported_not_failed_loudly():
    for check in (dnn.check_param_count, dnn.check_sigmoid_depth, dnn.check_leaky_relu, dnn.check_adamw, dnn.check_xavier_relu_depth):
        result = check(None)
        assert not result and "Not answered yet" in result.message


def test_wrong_answers_fail_with_a_hint():
    assert "weights only" in dnn.check_param_count(3 * 128 + 128 * 64 + 64 * 10).message
    assert not dnn.check_param_count(1)
    assert not dnn.check_sigmoid_depth(9)
    assert "fewer" in dnn.check_sigmoid_depth(12).message

    class WrongBackward:
        def __init__(self, slope):
            self.slope = slope

        def forward(self, x):
            self.x = x
            return np.where(x > 0, x, self.slope * x)

        def backward(self, g):
            return g  # forgets the slope

    result = dnn.check_leaky_relu(WrongBackward)
    assert not result and "backward" in result.message

    class L2Adam(scratch.Adam):  # weight decay through the gradient: Adam, not AdamW
        pass

    result = dnn.check_adamw(L2Adam)
    assert not result and "L2" in result.message


def test_checkers_reject_wrong_types():
    with pytest.raises(TypeError):
        dnn.check_param_count("9418")
    with pytest.raises(TypeError):
        dnn.check_sigmoid_depth(10.0)
    with pytest.raises(TypeError, match="class itself"):
        dnn.check_leaky_relu(scratch.ReLU())
    with pytest.raises(TypeError, match="class itself"):
        dnn.check_adamw(scratch.Adam({"w": np.zeros(1)}))

def test_a_failing_student_class_or_function_gets_a_verdict_not_a_traceback():
    result = dnn.check_leaky_relu(dict)
    assert not result and "could not build" in result.message
    result = dnn.check_leaky_relu(type("NoMethods", (), {"__init__": lambda self, slope: None}))
    assert not result and "forward" in result.message
    result = dnn.check_adamw(type("NoStep", (), {"__init__": lambda self, params, lr, weight_decay: None}))
    assert not result and "step" in result.message
    # the review's reproducers: a student's function that returns None or an array
    for check in (diffusion.check_q_sample, diffusion.check_guidance, unet.check_iou, dit.check_modulate):
        for student in (lambda *a, **k: None, lambda *a, **k: np.zeros(1), lambda *a, **k: 1 / 0):
            result = check(student)
            assert isinstance(result, CheckResult) and not result, (check.__name__, result)
    assert "ZeroDivisionError" in diffusion.check_guidance(lambda *a: 1 / 0).message
    # a wrong call of the checker itself still raises
    with pytest.raises(TypeError, match="pass your function"):
        diffusion.check_q_sample(3)


def test_chapter_checkers_reject_wrong_answers():
    assert not cnn.check_conv_output_shape((1, 16, 32, 32))
    assert "channel" in cnn.check_conv_output_shape((1, 3, 31, 31)).message
    assert "stride" in cnn.check_receptive_field(7).message
    with pytest.raises(TypeError, match="tuple"):
        cnn.check_conv_output_shape([1, 16, 31, 31])
    assert "one bias" in rnn.check_rnn_parameters(128 * 32 + 128 * 128 + 128).message
    assert "multiply" in rnn.check_gradient_ratio(18.0).message
    assert not rnn.check_rnn_step_backward(lambda dh, x, hp, h, wx, wh: (dh @ wx, dh @ wh, dh.T @ x, dh.T @ hp, dh.sum(0)))
    assert "vanilla RNN" in lstm.check_lstm_parameters(64 * 32 + 64 * 64 + 2 * 64).message
    assert not lstm.check_forget_bias(0.95)

    def wrong_order(x, h, c, wih, whh, bih, bhh):  # treats the rows as i, f, o, g
        z = x @ wih.T + h @ whh.T + bih + bhh
        i, f, o, g = np.split(z, 4, axis=1)
        c2 = scratch.sigmoid(f) * c + scratch.sigmoid(i) * np.tanh(g)
        return scratch.sigmoid(o) * np.tanh(c2), c2

    assert "order" in lstm.check_lstm_step(wrong_order).message or "i, f, g" in lstm.check_lstm_step(wrong_order).message
    with pytest.raises(TypeError, match="function"):
        lstm.check_lstm_step(3)


def test_transformer_checkers_reject_wrong_answers():
    assert "bias" in transformer.check_mha_parameters(4 * 512 * 512).message
    assert "sine" in transformer.check_positional_encoding(float(np.cos(0.3))).message

    def unmasked(q, k, v, mask):
        s = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
        w = np.exp(s - s.max(-1, keepdims=True))
        return (w / w.sum(-1, keepdims=True)) @ v

    assert "mask" in transformer.check_attention(unmasked).message


def test_gpt_checkers_reject_wrong_answers():
    assert "weights only" in gpt.check_block_parameters(12 * 128 * 128).message
    assert "values" in gpt.check_kv_cache_bytes(12 * 1024 * 768 * 2).message
    assert "2 bytes" in gpt.check_kv_cache_bytes(2 * 12 * 1024 * 768 * 4).message

    def top_k_instead(logits, p):
        out = np.full_like(logits, -np.inf)
        keep = np.argsort(-logits)[:3]
        out[keep] = logits[keep]
        return out

    assert "nucleus has" in gpt.check_top_p(top_k_instead).message


def test_moe_checkers_reject_wrong_answers():
    expert = 64 * 128 + 128 + 128 * 64 + 64
    assert "top-2" in moe.check_moe_parameters((8 * expert + 512, 8 * expert + 512)).message
    assert "number of experts" in moe.check_balance_loss(0.4).message

    def no_renorm(logits, k):
        p = np.exp(logits - logits.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        ids = np.argsort(-p, axis=-1)[:, :k]
        return np.take_along_axis(p, ids, -1), ids

    assert "renormalise" in moe.check_router(no_renorm).message
    with pytest.raises(TypeError, match="tuple"):
        moe.check_moe_parameters(5)


def test_dit_checkers_catch_the_usual_mistakes():
    assert "1 + scale" in dit.check_modulate(lambda x, shift, scale: x * scale[:, None] + shift[:, None]).message
    assert "token axis" in dit.check_modulate(lambda x, shift, scale: x[:, 0] * (1 + scale) + shift).message
    assert "bias" in dit.check_adaln_parameters(64 * 6 * 64).message
    wrong_order = lambda tokens, p, C: tokens.reshape(tokens.shape[0], 4, 4, C, p, p).permute(0, 3, 1, 4, 2, 5).reshape(tokens.shape[0], C, 8, 8)  # noqa: E731
    assert not dit.check_unpatchify(wrong_order)
    assert not dit.check_patch_shape((8, 128, 64))
    assert dit.check_modulate(lambda x, shift, scale: x * (1 + scale[:, None]) + shift[:, None])


def test_block_off_checker_measures_and_leaves_the_model_alone():
    import torch

    from nnanatomy.experiments import dit as dit_exp
    from nnanatomy.models.dit import DiT, DiTConfig

    torch.manual_seed(0)
    model = DiT(dit_exp.make_config("adaln-zero"))
    for p in model.parameters():  # an untrained adaLN-Zero DiT is the zero map: give its gates something to switch off
        torch.nn.init.normal_(p, std=0.05)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    intact = dit_exp.heldout_mse(model)
    handle = model.blocks[2].register_forward_hook(lambda m, args, out: args[0])
    off = dit_exp.heldout_mse(model)
    handle.remove()
    assert off != intact
    model.train()
    assert dit.check_block_off(model, 2, off) and model.training  # its mode restored
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items()) and not model.blocks[2]._forward_hooks
    assert not dit.check_block_off(model, 2, off * 1.02)
    assert "every block on" in dit.check_block_off(model, 2, intact).message
    assert not dit.check_block_off(model, 2, None)
    for bad in ((model, 4, off), (model, "2", off), (model, 2, "0.1"), (model, 2, float("nan")), (torch.nn.Linear(2, 2), 0, off),
                (DiT(DiTConfig(conditioning="adaln")), 0, off)):
        with pytest.raises(TypeError):
            dit.check_block_off(*bad)


def test_separation_checkers_catch_the_usual_mistakes():
    assert "BatchNorm" in separation.check_separable_parameters((512 * 9 + 512 * 512, 512 * 512 * 9)).message
    assert not separation.check_separable_parameters((512 * 512 * 9, 512 * 512 * 9))
    assert not separation.check_windows(lambda n, window, offset: (offset, window - n % window + offset, math.ceil(n / window)))
    assert "(w1 − w2) // 2" in separation.check_crop_center(lambda h1, h2: h1[..., : h2.shape[-1]]).message
    gain, share = separation._unclipped_psm()
    assert 1.0 < gain < 3.0 and 0.2 < share < 0.6  # the measured effect the exercise asks for
    assert "not a percentage" in separation.check_unclipped_psm((gain, 100 * share)).message
    assert "unclipped minus clipped" in separation.check_unclipped_psm((-gain, share)).message
    assert separation.check_unclipped_psm((round(gain, 2), round(share, 3)))


def test_xavier_relu_depth_is_measured():
    assert dnn.check_xavier_relu_depth(15)  # measured on seeds 0-2, and 0.707^14 < 0.01 < 0.707^13
    assert "not fallen below 1 % yet" in dnn.check_xavier_relu_depth(14).message
    assert "earlier layer" in dnn.check_xavier_relu_depth(16).message
    assert "not a hidden layer" in dnn.check_xavier_relu_depth(31).message
    assert not dnn.check_xavier_relu_depth(0)
    with pytest.raises(TypeError):
        dnn.check_xavier_relu_depth(15.0)


def test_shift_drop_is_measured():
    import torch

    from nnanatomy import data
    from nnanatomy.experiments import digits as digit_lab

    split = data.digits(seed=0)
    torch.manual_seed(0)
    model = digit_lab.classifier("MLP")
    digit_lab.fit_classifier(model, split, seed=0, epochs=3, device="cpu")
    drop = 100 * (digit_lab.accuracy(model, split.x_test, split.y_test)
                  - digit_lab.accuracy(model, digit_lab.shift(split.x_test, 1, 0), split.y_test))
    assert drop > 10 and cnn.check_shift_drop(drop, model)
    result = cnn.check_shift_drop(drop + 5, model)
    assert not result and "not what the checker measured" in result.message
    assert "fraction" in cnn.check_shift_drop(drop / 100, model).message
    assert not cnn.check_shift_drop(None, None)  # not answered yet: no error
    with pytest.raises(TypeError):
        cnn.check_shift_drop("49", model)
    with pytest.raises(TypeError):
        cnn.check_shift_drop(49.0, "model")


def test_temperature_share_is_measured_on_the_given_model():
    objects = _chapter_objects("ex-rnn-temperature")
    model, vocab = objects["char_rnn"], objects["vocab"]
    assert not rnn.check_temperature_share(0.9, model, vocab)  # an untrained model writes almost no sentence
    assert "percentage" in rnn.check_temperature_share(45, model, vocab).message
    with pytest.raises(TypeError):
        rnn.check_temperature_share(0.5, "char_rnn", vocab)


def test_forget_bias_steps_are_checked_against_the_stored_run():
    assert lstm.check_forget_bias_steps(1000)  # the stored run of b_f = 1, seed 1
    assert "whole number of epochs" in lstm.check_forget_bias_steps(1001).message
    assert not lstm.check_forget_bias_steps(1500)
    with pytest.raises(TypeError):
        lstm.check_forget_bias_steps(1000.0)


def test_no_attention_exact_match_is_checked_against_the_stored_run():
    from nnanatomy.experiments import translation

    stored = next(r for r in translation.load_results()["runs"] if r["arch"] == "lstm" and r["seed"] == 1)
    measured = stored["test_exact_match"][1]
    assert lstm.check_no_attention_exact_match(measured)
    assert lstm.check_no_attention_exact_match(measured + 0.015)
    assert not lstm.check_no_attention_exact_match(1.0)
    assert "share" in lstm.check_no_attention_exact_match(22.6).message
    with pytest.raises(TypeError):
        lstm.check_no_attention_exact_match("0.2")


def test_no_positions_exact_match_is_checked_against_the_stored_run():
    from nnanatomy.exercises import transformer as tex
    from nnanatomy.experiments import translation

    stored = next(r for r in translation.load_results()["runs"] if r["arch"] == "transformer-no-pe" and r["seed"] == 1)
    measured = stored["test_exact_match"][2]
    assert tex.check_no_positions_exact_match(measured)
    assert not tex.check_no_positions_exact_match(min(1.0, measured + 0.1) if measured < 0.5 else measured - 0.1)
    assert "share" in tex.check_no_positions_exact_match(40).message
    with pytest.raises(TypeError):
        tex.check_no_positions_exact_match([0.1])


def test_residual_growth_is_measured_by_the_checker():
    import torch

    from nnanatomy import models

    torch.manual_seed(0)
    model = models.GPT(models.GPTConfig(vocab_size=26, max_seq_len=64, d_model=96, num_heads=4, num_layers=64))
    stds = models.gpt.residual_stream_stds(model, torch.randint(0, 26, (8, 64), generator=torch.Generator().manual_seed(0)))
    assert gpt.check_residual_growth(stds[-1] / stds[1])
    assert not gpt.check_residual_growth(stds[-1] / stds[0])
    with pytest.raises(TypeError):
        gpt.check_residual_growth("8")


def test_capacity_drop_is_measured_by_the_checker():
    import torch

    from nnanatomy import models
    from nnanatomy.exercises import moe as mex

    torch.manual_seed(0)
    layer = models.MoEFeedForward(64, 128, num_experts=8, top_k=2, capacity_factor=1.0).eval()
    with torch.no_grad():
        layer(torch.randn(4096, 64, generator=torch.Generator().manual_seed(0)))
    dropped = float(layer.last_stats["dropped"])
    assert 0 < dropped < 0.5
    assert mex.check_capacity_drop(dropped)
    assert not mex.check_capacity_drop(dropped * 100)  # a percentage
    assert not mex.check_capacity_drop(dropped + 0.01)
    with pytest.raises(TypeError):
        mex.check_capacity_drop("0.04")
