"""Worker for tests/test_distributed.py, launched as ``torchrun --nproc_per_node=2 ddp_worker.py OUT SHUFFLE``:
trains a small MLP with nnanatomy.train.fit on its shard and saves what it ended with."""

import json
import sys

import numpy as np
import torch

from nnanatomy import distributed, train
from nnanatomy.models import MLP, MLPConfig

STEPS_DATA = 96  # samples: 3 steps per epoch at a global batch of 32


def problem():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(STEPS_DATA, 1)).astype(np.float32)
    return x, (3 * x**2 + 5).astype(np.float32)


def build():
    torch.manual_seed(0)
    model = MLP(MLPConfig(in_features=1, hidden=(16, 16), out_features=1))
    return model, torch.optim.Adam(model.parameters(), lr=1e-2)


def main(out: str, shuffle: bool, accumulate: int) -> None:
    torch.set_num_threads(1)
    with distributed.session(backend="gloo") as info:
        x, y = problem()
        model, optimizer = build()
        loader = distributed.shard_loader(x, y, batch_size=16 // accumulate, shuffle=shuffle, seed=0)
        history = train.fit(model, loader, optimizer=optimizer, loss_fn=torch.nn.MSELoss(), epochs=2, accumulate=accumulate,
                            progress=True, log_every=1)
        torch.save(model.state_dict(), f"{out}/rank{info.rank}.pt")
        train.save_checkpoint(f"{out}/checkpoint.pt", model, history=history, extra={"written_by": info.rank})
        with open(f"{out}/rank{info.rank}.json", "w") as f:
            json.dump({"rank": info.rank, "world_size": info.world_size, "backend": info.backend,
                       "train_loss": history.train_loss, "batches": len(loader)}, f)
        if len(sys.argv) > 4 and sys.argv[4] == "fail" and info.rank == 1:
            raise RuntimeError("rank 1 fails on purpose")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] == "shuffle", int(sys.argv[3]))
