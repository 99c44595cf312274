"""Worker for tests/test_distributed.py, launched as
``torchrun --nproc_per_node=2 ddp_models_worker.py OUT MODE``: trains a model whose loss is not a
plain ``model(inputs)`` under DDP through nnanatomy.train.fit, and saves what each rank ended with.

MODE ``moe``: a GPT with MoE blocks and chapter 07's batch_loss (it reads ``m.blocks`` and calls
``m.aux_loss()``); with eight experts and top-1 routing on 16 tokens per rank, some experts get
no token in some steps, so their parameters have no gradient there. ``moe-strict``: the same
with ``find_unused_parameters=False``. ``bestrq``: BEST-RQ, whose batch_loss calls ``m.loss``.
"""

import json
import sys

import numpy as np
import torch
import torch.nn.functional as F

from nnanatomy import distributed, models, train
from nnanatomy.models.bestrq import BestRQ
from nnanatomy.models.conformer import ConformerConfig

SEQUENCES, LENGTH, VOCAB = 16, 8, 11


def moe_problem():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, VOCAB, size=(SEQUENCES, LENGTH + 1))
    return ids[:, :-1], ids[:, 1:]


def moe_model():
    torch.manual_seed(0)
    config = models.GPTConfig(vocab_size=VOCAB, max_seq_len=LENGTH, d_model=16, num_heads=2, num_layers=2, ffn="moe",
                              num_experts=8, top_k=1)
    model = models.GPT(config)
    # plain SGD: under DDP an expert that no rank routed a token to gets a zero gradient, alone it
    # gets None; SGD treats both alike, Adam's momentum would move the first (see train.fit)
    return model, torch.optim.SGD(model.parameters(), lr=0.1)


def moe_batch_loss(idle_steps: list[int], balance_weight: float):
    def batch_loss(m, batch) -> torch.Tensor:
        inputs, targets = batch
        logits, _ = m(inputs)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        loads = torch.stack([blk.ffn.last_stats["load"] for blk in m.blocks])  # the model's attribute, read through the view
        idle_steps.append(int((loads == 0).any()))
        return loss + balance_weight * m.aux_loss()
    return batch_loss


def bestrq_model():
    torch.manual_seed(0)
    config = ConformerConfig(input_dim=8, d_model=16, num_heads=2, num_layers=1, kernel_size=3, dropout=0.0)
    model = BestRQ(config, codebook_size=16, code_dim=4, mask_prob=0.2, mask_span=2)
    return model, torch.optim.Adam(model.parameters(), lr=1e-3)


def bestrq_batches(rank: int, steps: int = 3):
    g = torch.Generator().manual_seed(100 + rank)  # each rank its own utterances: unsynced ranks would drift apart
    return [(torch.randn(2, 24, 8, generator=g), torch.tensor([24, 20])) for _ in range(steps)]


def main(out: str, mode: str) -> None:
    torch.set_num_threads(1)
    with distributed.session(backend="gloo") as info:
        report: dict = {"rank": info.rank}
        if mode.startswith("moe"):
            x, y = moe_problem()
            model, optimizer = moe_model()
            idle: list[int] = []
            loader = distributed.shard_loader(x, y, batch_size=2, shuffle=False, dtype=torch.long)
            kwargs = {"find_unused_parameters": False} if mode == "moe-strict" else {}
            try:
                train.fit(model, loader, optimizer=optimizer, batch_loss=moe_batch_loss(idle, 0.0), epochs=2, progress=False,
                          **kwargs)
            except ValueError as exc:
                report["error"] = str(exc)
            report["idle_steps"] = sum(idle)
        else:
            model, optimizer = bestrq_model()
            g = torch.Generator().manual_seed(7)
            train.fit(model, bestrq_batches(info.rank), optimizer=optimizer, progress=False,
                      batch_loss=lambda m, batch: m.loss(*batch, generator=g)[0])
        torch.save(model.state_dict(), f"{out}/rank{info.rank}.pt")
        with open(f"{out}/rank{info.rank}.json", "w") as f:
            json.dump(report, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
