"""A graph whose communities we know (appendix A3): the stochastic block model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._checks import check_array
from ._checks import check_count, check_real, check_seed

__all__ = ["Graph", "sbm_graph"]


@dataclass(frozen=True)
class Graph:
    adjacency: np.ndarray  # float32 (N, N), symmetric, 0/1, no self-loops
    features: np.ndarray  # float32 (N, F)
    labels: np.ndarray  # int64 (N,): the block of every node
    train_mask: np.ndarray  # bool (N,): the few labelled nodes
    test_mask: np.ndarray  # bool (N,): the rest

    def __post_init__(self) -> None:
        n = check_array("adjacency", self.adjacency, ndim=2).shape[0]
        if self.adjacency.shape != (n, n):
            raise ValueError(f"adjacency must be square (N, N), got {self.adjacency.shape}")
        check_array("features", self.features, ndim=2)
        check_array("labels", self.labels, ndim=1, kind="iu")
        check_array("train_mask", self.train_mask, ndim=1, kind="b")
        check_array("test_mask", self.test_mask, ndim=1, kind="b")
        for name in ("features", "labels", "train_mask", "test_mask"):
            if getattr(self, name).shape[0] != n:
                raise ValueError(f"{name} must have one row per node ({n}), got shape {getattr(self, name).shape}")


def sbm_graph(blocks: int = 3, nodes_per_block: int = 60, p_in: float = 0.15, p_out: float = 0.01, features: int = 16,
              signal: float = 0.5, labelled_per_block: int = 5, seed: int = 0) -> Graph:
    """Nodes in ``blocks`` communities; an edge joins two nodes of the same block with
    probability ``p_in``, of different blocks with ``p_out``. Every node's features are its
    block's random centre times ``signal`` plus standard normal noise — too noisy to classify a
    node alone, so a model must pool its neighbours. Only ``labelled_per_block`` nodes per block
    are labelled for training (semi-supervised node classification)."""
    blocks, nodes_per_block = check_count("blocks", blocks, 2), check_count("nodes_per_block", nodes_per_block, 2)
    features = check_count("features", features)
    p_in, p_out = check_real("p_in", p_in, 0.0, 1.0), check_real("p_out", p_out, 0.0, 1.0)
    signal = check_real("signal", signal, 0.0)
    labelled_per_block = check_count("labelled_per_block", labelled_per_block)
    if not 0 <= p_out <= p_in <= 1:
        raise ValueError(f"need 0 <= p_out <= p_in <= 1, got p_in={p_in}, p_out={p_out}")
    if not 0 < labelled_per_block < nodes_per_block:
        raise ValueError(f"labelled_per_block must be in (0, {nodes_per_block}), got {labelled_per_block}")
    rng = np.random.default_rng(check_seed(seed))
    labels = np.repeat(np.arange(blocks), nodes_per_block)
    same = labels[:, None] == labels[None, :]
    upper = np.triu(rng.random((len(labels), len(labels))) < np.where(same, p_in, p_out), k=1)
    adjacency = (upper | upper.T).astype(np.float32)
    centres = rng.normal(size=(blocks, features))
    x = (signal * centres[labels] + rng.normal(size=(len(labels), features))).astype(np.float32)
    train = np.zeros(len(labels), dtype=bool)
    for b in range(blocks):
        train[rng.choice(np.flatnonzero(labels == b), labelled_per_block, replace=False)] = True
    return Graph(adjacency, x, labels.astype(np.int64), train, ~train)
