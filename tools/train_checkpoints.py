"""Train the small diffusion checkpoints that chapters 10 and 11 load.

A diffusion model that samples convincing digits needs more steps than a notebook's two-minute
CPU budget; the chapters train live for a short run to show the mechanics, then load these
checkpoints for the quality measurements. Reproduce them exactly (CPU, 2 threads) with:

    .venv/bin/python tools/train_checkpoints.py unet-uncond --steps 16000 --seed 0
    .venv/bin/python tools/train_checkpoints.py unet-text   --steps 16000 --seed 0
    .venv/bin/python tools/train_checkpoints.py dit-class   --steps 16000 --seed 0
    .venv/bin/python tools/train_checkpoints.py uvr5-narrow --steps 2000 --seed 0 --threads 1
    .venv/bin/python tools/train_checkpoints.py bestrq-conformer --steps 4000 --seed 0 --threads 1
    .venv/bin/python tools/train_checkpoints.py hubert-iter1 --steps 4000 --seed 0
    .venv/bin/python tools/train_checkpoints.py hubert-iter2 --steps 4000 --seed 0 --threads 1

uvr5-narrow is chapter 12's vocal remover: the published cascaded ASPP network at 1/8 of its
width, trained on synthetic songs (``data.music_stems``) with the auxiliary losses. The last
three are chapter 08's self-supervised speech encoders, pre-trained on ``speech.corpus("pretrain")``
(``speech.PRETRAINING``); hubert-iter2 needs hubert-iter1 (its targets are k-means clusters of
iteration 1's features).

Each writes ``code/nnanatomy/checkpoints/<name>.pt``, shipped inside the package so that Colab
finds it too (exponential-moving-average weights, the training
history and the wall time in ``extra``; loadable with ``torch.load(weights_only=True)``).
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import torch

from course import ROOT

sys.path.insert(0, str(ROOT / "code"))
from nnanatomy import data, runtime, train  # noqa: E402
from nnanatomy.models.diffusion import NoiseSchedule, diffusion_loss  # noqa: E402
from nnanatomy.models.pretrained import build  # noqa: E402

BATCH = 128
NULL_FRACTION = 0.15  # share of training examples without their condition (classifier-free guidance)


def batch_loss_for(name: str, schedule: NoiseSchedule):
    counter = {"step": 0}

    def loss(model: torch.nn.Module, batch) -> torch.Tensor:
        x0, labels = batch
        counter["step"] += 1
        if name == "unet-uncond":
            return diffusion_loss(model, x0, schedule)
        if name == "unet-text":
            ids, mask = data.digit_captions(labels.cpu().numpy(), seed=counter["step"], null_fraction=NULL_FRACTION)
            return diffusion_loss(model, x0, schedule, context=torch.tensor(ids, device=x0.device),
                                  context_mask=torch.tensor(mask, device=x0.device))
        drop = torch.rand(labels.shape, device=labels.device) < NULL_FRACTION
        return diffusion_loss(model, x0, schedule, y=torch.where(drop, torch.full_like(labels, 10), labels))

    return loss


def train_separator(args) -> tuple[torch.nn.Module, train.History, float, int]:
    """Chapter 12: the narrow vocal remover on spectrogram crops of synthetic songs."""
    from nnanatomy import separation
    from nnanatomy.data.music import music_stems

    SEPARATOR = separation.TRAINING_SETUP

    songs = [music_stems(SEPARATOR["seconds"], SEPARATOR["sample_rate"], seed=s) for s in range(SEPARATOR["songs"])]
    crops = separation.SeparationCrops(songs, separation.SpectrogramConfig(**SEPARATOR["spectrogram"]),
                                       frames=SEPARATOR["frames"], crops_per_song=SEPARATOR["crops_per_song"], seed=args.seed)
    loader = torch.utils.data.DataLoader(crops, batch_size=SEPARATOR["batch_size"], shuffle=True, drop_last=True,
                                         generator=torch.Generator().manual_seed(args.seed))
    epochs = math.ceil(args.steps / len(loader))
    model = build(args.name)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    start = time.perf_counter()
    history = train.fit(model, loader, optimizer=optimizer, batch_loss=separation.separation_loss, epochs=epochs,
                        scheduler=scheduler, progress=False, log_every=max(epochs // 10, 1))
    return model, history, time.perf_counter() - start, epochs * len(loader)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=["unet-uncond", "unet-text", "dit-class", "uvr5-narrow", "bestrq-conformer",
                                         "hubert-iter1", "hubert-iter2"])
    parser.add_argument("--steps", type=int, default=16000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (recorded in the checkpoint)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    runtime.seed_everything(args.seed)
    if args.name == "uvr5-narrow":
        model, history, seconds, steps = train_separator(args)
        from nnanatomy.separation import TRAINING_SETUP

        extra = {"batch_size": TRAINING_SETUP["batch_size"], "setup": TRAINING_SETUP}
    elif args.name in ("bestrq-conformer", "hubert-iter1", "hubert-iter2"):
        model, history, seconds, steps, extra = train_speech(args)
    else:
        model, history, seconds, steps = train_diffusion(args)
        extra = {"batch_size": BATCH}
    out = ROOT / "code" / "nnanatomy" / "checkpoints" / f"{args.name}.pt"
    train.save_checkpoint(out, model, history=history, extra={
        "name": args.name, "steps": steps, "seed": args.seed, **extra,
        "train_seconds": round(seconds, 1), "threads": args.threads, "parameters": sum(p.numel() for p in model.parameters()),
        "command": f"python tools/train_checkpoints.py {args.name} --steps {args.steps} --seed {args.seed}"
                   + (f" --threads {args.threads}" if args.threads != 2 else ""),
    })
    print(f"wrote {out.relative_to(ROOT)}: {steps} steps in {seconds:.0f} s, {out.stat().st_size / 1e6:.2f} MB")
    return 0


def train_speech(args):
    """Chapter 08: BEST-RQ or one HuBERT iteration on the pre-training utterances."""
    import numpy as np

    from nnanatomy import speech
    from nnanatomy.models.pretrained import load_pretrained

    setup = speech.PRETRAINING
    utterances = speech.corpus("pretrain")
    features, (mean, std) = speech.log_mel_features(utterances, n_mels=setup["n_mels"])
    extra = {"batch_size": setup["batch_size"], "setup": setup, "feature_mean": mean.tolist(), "feature_std": std.tolist()}
    targets = None
    if args.name == "hubert-iter1":  # k-means on MFCC + deltas
        frames = speech.mfcc_features(utterances)
        clusters = speech.kmeans(frames, setup["mfcc_clusters"], seed=setup["kmeans_seed"])
        targets = [clusters.predict(f) for f in frames]
    elif args.name == "hubert-iter2":  # k-means on a block of iteration 1
        teacher, _ = load_pretrained("hubert-iter1")
        frames = speech.layer_features(teacher.encoder, features, setup["iter2_layer"])
        clusters = speech.kmeans(frames, setup["iter2_clusters"], seed=setup["kmeans_seed"])
        targets = [clusters.predict(f) for f in frames]
    if targets is not None:
        labels = np.concatenate([speech.encoder_labels(u) for u in utterances])
        extra["target_quality"] = speech.cluster_quality(labels, np.concatenate(targets))
    model = build(args.name)
    batches = speech.UtteranceBatches(features, targets, batch_size=setup["batch_size"], seed=args.seed)
    history, seconds = speech.pretrain(model, batches, args.steps, lr=setup["lr"], seed=args.seed, log_every=10)
    steps = max(1, round(args.steps / len(batches))) * len(batches)
    return model, history, seconds, steps, extra


def train_diffusion(args) -> tuple[torch.nn.Module, train.History, float, int]:
    """Chapters 10 and 11: a noise predictor on the digits, EMA weights."""
    split = data.digits(seed=0)  # the chapters' split: the judge never sees the test digits in training
    x0 = split.x_train * 2 - 1  # pixels in [−1, 1]
    loader = data.tensor_loader(x0, split.y_train, batch_size=BATCH, seed=args.seed, drop_last=True)
    epochs = math.ceil(args.steps / len(loader))
    model = build(args.name)
    schedule = NoiseSchedule.linear(1000)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    ema = train.EMA(model, decay=0.999)
    start = time.perf_counter()
    history = train.fit(model, loader, optimizer=optimizer, batch_loss=batch_loss_for(args.name, schedule),
                        epochs=epochs, scheduler=scheduler, after_step=ema.update, progress=False,
                        log_every=max(epochs // 10, 1))
    seconds = time.perf_counter() - start
    ema.copy_to(model)
    return model, history, seconds, epochs * len(loader)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
