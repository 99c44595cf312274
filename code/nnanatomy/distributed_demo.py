"""Data-parallel training of chapter 06's character GPT, as a script to launch with ``torchrun``
(appendix A4)::

    python -m torch.distributed.run --standalone --nproc_per_node=2 -m nnanatomy.distributed_demo --steps 30

Every rank builds the same model, reads its own shard of the story corpus through
:func:`nnanatomy.distributed.shard_loader`, and trains with :func:`nnanatomy.train.fit`. At the
end the ranks compare a checksum of their parameters, and rank 0 prints the measurements.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F

from . import data, distributed, train
from .models import GPT, GPTConfig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="data-parallel training of the chapter-06 GPT")
    parser.add_argument("--steps", type=int, default=30, help="optimiser steps (one epoch of that many global batches)")
    parser.add_argument("--global-batch", type=int, default=32, help="sequences per optimiser step, over all ranks")
    parser.add_argument("--accumulate", type=int, default=1, help="micro-batches per step on each rank")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads per process")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    with distributed.session() as info:
        per_rank, rest = divmod(args.global_batch, info.world_size * args.accumulate)
        if rest:
            raise ValueError(f"--global-batch {args.global_batch} is not divisible by {info.world_size} ranks × {args.accumulate} micro-batches")
        grammar = data.Grammar(data.STORY_ENGLISH)
        text = grammar.corpus(3000, seed=0)
        vocab = data.CharVocab.from_text(text)
        x, y = data.next_token_windows(vocab.encode(text), 64)
        n = args.steps * args.global_batch
        if n > len(x):
            raise ValueError(f"{args.steps} steps of {args.global_batch} need {n} windows; the corpus has {len(x)}")
        torch.manual_seed(0)
        model = GPT(GPTConfig(vocab_size=len(vocab), max_seq_len=64, d_model=96, num_heads=4, num_layers=3))
        optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)

        def loss(m, batch):
            logits, _ = m(batch[0])
            return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[1].reshape(-1))

        loader = distributed.shard_loader(x[:n], y[:n], batch_size=per_rank, seed=0, dtype=None)
        start = time.perf_counter()
        history = train.fit(model, loader, optimizer=optimizer, batch_loss=loss, epochs=1, accumulate=args.accumulate,
                            device=info.device, progress=False)
        seconds = time.perf_counter() - start
        checksum = torch.stack([p.detach().double().sum() for p in model.parameters()]).sum().reshape(1)
        sums = [torch.zeros_like(checksum) for _ in range(info.world_size)]
        if info.world_size > 1:
            dist.all_gather(sums, checksum)
        else:
            sums = [checksum]
        if info.is_main:
            params = sum(p.numel() for p in model.parameters())
            print(f"world size {info.world_size} ({info.backend or 'single process'}), {per_rank} sequences per rank per "
                  f"micro-batch × {args.accumulate} micro-batches = global batch {args.global_batch}")
            print(f"{params:,} parameters; {args.steps} steps in {seconds:.1f} s ({1000 * seconds / args.steps:.0f} ms per step); "
                  f"training loss {history.train_loss[-1]:.4f}")
            print("parameter checksum per rank:", ", ".join(f"{float(s):.10f}" for s in sums))
            print("identical on every rank:", all(torch.equal(s, sums[0]) for s in sums))
    return 0


if __name__ == "__main__":
    sys.exit(main())
