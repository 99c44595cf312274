"""Chapter 09's experiment (experiments.segmentation): the Dice loss, the measures, the arms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nnanatomy.experiments import segmentation as seg
from nnanatomy.models.unet import UNet


def test_dice_loss_equals_its_formula_and_is_zero_when_perfect():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 5, 4, generator=g, dtype=torch.float64)
    target = torch.randint(0, 3, (2, 5, 4), generator=g)
    p = logits.softmax(1).numpy()
    onehot = np.eye(3)[target.numpy()].transpose(0, 3, 1, 2)
    per_class = [2 * (p[:, c] * onehot[:, c]).sum() / ((p[:, c] ** 2).sum() + (onehot[:, c] ** 2).sum() + 1.0) for c in range(3)]
    assert float(seg.dice_loss(logits, target)) == pytest.approx(1 - np.mean(per_class), rel=1e-12)
    perfect = 1e4 * F.one_hot(target, 3).permute(0, 3, 1, 2).double()
    assert float(seg.dice_loss(perfect, target, eps=0.0)) == pytest.approx(0.0, abs=1e-12)
    logits.requires_grad_(True)
    seg.dice_loss(logits, target).backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


def test_dice_weighs_classes_equally_where_cross_entropy_weighs_pixels():
    # 96 background pixels and 4 of a small class; a model that never predicts the small class
    target = torch.zeros(1, 10, 10, dtype=torch.long)
    target[0, :2, :2] = 1
    logits = torch.zeros(1, 2, 10, 10)
    logits[:, 0] = 3.0  # background everywhere, confidently
    ce, dice = float(F.cross_entropy(logits, target)), float(seg.dice_loss(logits, target))
    assert ce < 0.2  # cross-entropy: a small loss, the missed class is 4 % of the pixels
    assert dice > 0.45  # Dice: about half, the missed class is half the classes


def test_dice_loss_refuses_bad_input():
    logits = torch.zeros(1, 3, 2, 2)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        seg.dice_loss(logits, torch.full((1, 2, 2), 3))
    with pytest.raises(TypeError):
        seg.dice_loss(logits, torch.zeros(1, 2, 2))
    with pytest.raises(ValueError):
        seg.dice_loss(logits, torch.zeros(1, 2, 3, dtype=torch.long))
    with pytest.raises(TypeError):
        seg.dice_loss(torch.zeros(1, 3, 2, 2, dtype=torch.long), torch.zeros(1, 2, 2, dtype=torch.long))
    with pytest.raises(ValueError):
        seg.dice_loss(logits, torch.zeros(1, 2, 2, dtype=torch.long), eps=-1.0)


def test_measures():
    counts = np.array([[5, 1, 0], [2, 3, 0], [0, 0, 0]])
    iou = seg.iou_per_class(counts)
    assert iou[0] == pytest.approx(5 / 8) and iou[1] == pytest.approx(3 / 6) and np.isnan(iou[2])
    with pytest.raises(ValueError):
        seg.iou_per_class(np.ones((2, 3)))
    labels = np.array([[[0, 0, 0], [0, 1, 0], [0, 0, 0]]])
    assert seg.boundary_mask(labels)[0].tolist() == [[False, True, False], [True, True, True], [False, True, False]]
    with pytest.raises(ValueError):
        seg.boundary_mask(np.zeros((3, 3)))


def test_confusion_counts_every_pixel_once():
    model = torch.nn.Conv2d(1, 3, 1)
    images = np.random.default_rng(0).normal(size=(7, 1, 4, 4)).astype(np.float32)
    labels = np.random.default_rng(1).integers(0, 3, (7, 4, 4))
    counts = seg.confusion(model, images, labels, batch=3)
    with torch.no_grad():
        pred = model(torch.tensor(images)).argmax(1).numpy()
    assert counts.sum() == labels.size
    assert counts.tolist() == [[int(((labels == i) & (pred == j)).sum()) for j in range(3)] for i in range(3)]
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        seg.confusion(model, images, labels + 3)
    with pytest.raises(TypeError):
        seg.confusion(model, images, labels.astype(float))
    with pytest.raises(ValueError, match="at least one"):
        seg.confusion(model, images[:0], labels[:0])


def test_arms_and_run_arguments():
    wide, narrow, skips = (UNet(seg.make_config(a)).num_parameters() for a in ("no-skips-wide", "no-skips", "skips"))
    assert (narrow, skips, wide) == (183_172, 268_532, 285_844)
    assert narrow < skips < wide and (wide - skips) / skips < 0.07  # the widened arm: as many parameters, and a few more
    with pytest.raises(ValueError):
        seg.run("resnet", 0)
    with pytest.raises(TypeError):
        seg.run(3, 0)
    with pytest.raises(ValueError):
        seg.run("skips", 0, epochs=0)
    with pytest.raises(TypeError):
        seg.run("skips", 0, return_model=1)


def test_the_stored_sweep_holds_every_job():
    runs = seg.load_results()["runs"]
    have = {(r["arm"], r["seed"], r["epochs"]) for r in runs}
    assert {(a, s, e) for a in seg.ARMS for s in (0, 1, 2) for e in (6, 20)} <= have
    assert {("no-skips", 0, 40), ("no-skips-wide", 0, 40), ("no-skips-wide", 0, 80)} <= have
    for r in runs:
        assert len(r["iou"]) == len(r["train_loss"]) == r["epochs"]
        assert r["final_miou"] == pytest.approx(np.mean(r["iou"][-1]), abs=1e-5)
        assert r["parameters"] == UNet(seg.make_config(r["arm"])).num_parameters()


def test_recipe_overrides():
    assert seg.make_config("no-skips-wide", {"base_channels": 32}).base_channels == 40
    with pytest.raises(ValueError, match="unknown keys"):
        seg.make_config("skips", {"width": 2})
    with pytest.raises(TypeError):
        seg.run("skips", 0, recipe=[("depth", 2)])


def test_zeroed_skip_checker_measures_and_leaves_the_model_alone():
    from nnanatomy.exercises import unet as ex

    torch.manual_seed(0)
    model = UNet(seg.make_config("skips")).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    images, labels = seg._data()[2:]

    def outline(level):
        hook = getattr(model, level).register_forward_pre_hook(lambda m, a: (a[0], torch.zeros_like(a[1]), *a[2:]))
        model.eval()
        with torch.no_grad():
            pred = model(torch.as_tensor(images)).argmax(1).numpy()
        hook.remove()
        model.train()
        edge = seg.boundary_mask(labels)
        return float((pred == labels)[edge].mean())

    measured = outline("up3")
    assert ex.check_zeroed_skip(model, "up3", measured)
    assert not ex.check_zeroed_skip(model, "up3", measured + 0.01)
    assert not ex.check_zeroed_skip(model, "up3", 100 * measured)
    assert model.training and not model.up3._forward_pre_hooks
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    with pytest.raises(TypeError):
        ex.check_zeroed_skip(model, "up4", measured)
    with pytest.raises(TypeError):
        ex.check_zeroed_skip(torch.nn.Linear(2, 2), "up3", measured)
    with pytest.raises(TypeError):
        ex.check_zeroed_skip(UNet(seg.make_config("no-skips")), "up3", measured)
    assert not ex.check_zeroed_skip(model, "up3", None)
