"""Models of appendix A3 (the architecture lab): a Vision Transformer for the digits, one
sequence regressor with four interchangeable cores, and three graph neural networks.

Each reuses the book's own pieces — DiT's ``PatchEmbed``, chapter 05's ``EncoderLayer`` — so the
comparisons are between architectures, not between implementations.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .dit import PatchEmbed
from .transformer import EncoderLayer, TransformerConfig

__all__ = ["GNN", "GATLayer", "GCNLayer", "NodeMLP", "SAGELayer", "SequenceRegressor", "ViTClassifier", "edge_list",
           "gcn_propagate_edges", "normalized_adjacency"]


def _encoder_layer(width: int, heads: int) -> EncoderLayer:
    return EncoderLayer(TransformerConfig(src_vocab_size=1, tgt_vocab_size=1, d_model=width, num_heads=heads, d_ff=2 * width, dropout=0.0))


class ViTClassifier(nn.Module):
    """``(B, C, H, W)`` → class logits: patches as tokens, a learned [class] token and positions,
    Transformer encoder layers, the [class] token's final state through a linear head."""

    def __init__(self, image_size: int = 8, patch: int = 2, in_channels: int = 1, width: int = 64, depth: int = 3,
                 heads: int = 4, num_classes: int = 10) -> None:
        super().__init__()
        if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= 1000:
            raise ValueError(f"depth must be an int in [1, 1000], got {depth!r}")
        if image_size % patch:
            raise ValueError(f"image_size {image_size} must be divisible by patch {patch}")
        self.patch_embed = PatchEmbed(in_channels, width, patch)
        tokens = (image_size // patch) ** 2
        self.cls = nn.Parameter(torch.zeros(1, 1, width))
        self.pos = nn.Parameter(torch.randn(1, tokens + 1, width) * 0.02)
        self.layers = nn.ModuleList(_encoder_layer(width, heads) for _ in range(depth))
        self.head = nn.Linear(width, num_classes)
        self.image_size, self.in_channels = image_size, in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels or x.shape[2:] != (self.image_size, self.image_size):
            raise ValueError(f"ViTClassifier expects (B, {self.in_channels}, {self.image_size}, {self.image_size}), got {tuple(x.shape)}")
        h = self.patch_embed(x)
        h = torch.cat([self.cls.expand(len(h), -1, -1), h], dim=1) + self.pos
        for layer in self.layers:
            h = layer(h, None)
        return self.head(h[:, 0])


class SequenceRegressor(nn.Module):
    """``(B, T, F)`` → ``(B,)``: an RNN, LSTM or GRU read out at its last state, or Transformer
    encoder layers (learned positions) read out from the mean over time."""

    KINDS = ("rnn", "lstm", "gru", "transformer")

    def __init__(self, kind: str, in_features: int = 2, hidden: int = 64, max_len: int = 256, layers: int = 2, heads: int = 4) -> None:
        super().__init__()
        if kind not in self.KINDS:
            raise ValueError(f"kind must be one of {self.KINDS}, got {kind!r}")
        self.kind = kind
        if kind == "transformer":
            self.inp = nn.Linear(in_features, hidden)
            self.pos = nn.Parameter(torch.randn(1, max_len, hidden) * 0.02)
            self.layers = nn.ModuleList(_encoder_layer(hidden, heads) for _ in range(layers))
        else:
            self.core = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind](in_features, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3:
            raise ValueError(f"SequenceRegressor expects (batch, time, features), got {tuple(x.shape)}")
        if self.kind == "transformer":
            if x.shape[1] > self.pos.shape[1]:
                raise ValueError(f"sequence of {x.shape[1]} steps is longer than max_len {self.pos.shape[1]}")
            h = self.inp(x) + self.pos[:, : x.shape[1]]
            for layer in self.layers:
                h = layer(h, None)
            return self.head(h.mean(dim=1)).squeeze(-1)
        return self.head(self.core(x)[0][:, -1]).squeeze(-1)


def normalized_adjacency(adj: torch.Tensor) -> torch.Tensor:
    """``D^{-1/2} (A + I) D^{-1/2}``, with D the degrees of A + I: GCN's propagation matrix."""
    if adj.ndim != 2 or adj.shape[0] != adj.shape[1]:
        raise ValueError(f"adjacency must be a square (N, N) matrix, got {tuple(adj.shape)}")
    a = adj + torch.eye(len(adj), dtype=adj.dtype, device=adj.device)
    d = a.sum(1).pow(-0.5)
    return d[:, None] * a * d[None, :]


def edge_list(adj: torch.Tensor) -> torch.Tensor:
    """The edges of a dense 0/1 adjacency ``(N, N)`` as an index tensor ``(2, E)``: one column
    per nonzero ``A_ij``, row 0 the sender ``j``, row 1 the receiver ``i`` (an undirected edge
    appears once in each direction). Memory ``2E`` integers instead of ``N²`` numbers."""
    if not isinstance(adj, torch.Tensor) or adj.ndim != 2 or adj.shape[0] != adj.shape[1] or not adj.is_floating_point():
        raise ValueError(f"adjacency must be a square float tensor (N, N), got {_describe(adj)}")
    if not bool(((adj == 0) | (adj == 1)).all()):
        raise ValueError("edge_list takes a 0/1 adjacency (an edge list carries no weights)")
    receiver, sender = adj.nonzero().T
    return torch.stack([sender, receiver])


def _describe(x: object) -> str:
    return f"{tuple(x.shape)} {x.dtype}" if isinstance(x, torch.Tensor) else type(x).__name__


def _is_edge_list(adj: torch.Tensor) -> bool:
    return not adj.is_floating_point() and adj.ndim == 2 and adj.shape[0] == 2


def _check_edges(edges: torch.Tensor, num_nodes: int) -> None:
    if edges.dtype != torch.long:
        raise ValueError(f"an edge list is a (2, E) torch.long tensor, got {_describe(edges)}")
    if edges.numel() and (int(edges.min()) < 0 or int(edges.max()) >= num_nodes):
        raise ValueError(f"edge list refers to nodes outside 0..{num_nodes - 1}")


def gcn_propagate_edges(h: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """``Â h`` by message passing along the edges (no ``N × N`` matrix): every node keeps
    ``h_i / d_i`` (its self-loop) and receives ``h_j / √(d_i d_j)`` from each sender ``j``, with
    ``d`` the degrees counting the self-loop. Equal to ``normalized_adjacency(A) @ h`` (tested);
    time and memory grow with the edges, ``O(E·F)``, not with ``N²``."""
    if not isinstance(h, torch.Tensor) or h.ndim != 2:
        raise ValueError(f"node features must be a tensor (N, F), got {_describe(h)}")
    if not isinstance(edges, torch.Tensor) or not _is_edge_list(edges):
        raise ValueError(f"edges must be a (2, E) torch.long tensor from edge_list, got {_describe(edges)}")
    _check_edges(edges, len(h))
    sender, receiver = edges
    degree = torch.bincount(receiver, minlength=len(h)).to(h.dtype) + 1  # + the self-loop
    weight = (degree[sender] * degree[receiver]).rsqrt()
    return (h / degree[:, None]).index_add(0, receiver, h[sender] * weight[:, None])


class GCNLayer(nn.Module):
    """``H' = Â H W + b`` (Kipf & Welling, 2017): every node averages its neighbours and itself,
    weighted by 1/√(d_i d_j). ``adj`` is a dense float adjacency ``(N, N)`` (Â as a matrix) or an
    edge list ``(2, E)`` from :func:`edge_list` (Â by message passing along the edges)."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_features))

    def forward(self, h: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        if _is_edge_list(adj):
            return gcn_propagate_edges(self.linear(h), adj) + self.bias
        return normalized_adjacency(adj) @ self.linear(h) + self.bias  # the bias after propagation


class SAGELayer(nn.Module):
    """GraphSAGE, mean aggregator (Hamilton et al., 2017): ``h_i' = W_self h_i + W_neigh mean_{j∈N(i)} h_j + b``
    — the node's own state kept apart from its neighbourhood's."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.self_linear = nn.Linear(in_features, out_features)
        self.neigh_linear = nn.Linear(in_features, out_features, bias=False)

    def forward(self, h: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        degree = adj.sum(1, keepdim=True).clamp(min=1)
        return self.self_linear(h) + self.neigh_linear(adj @ h / degree)


class GATLayer(nn.Module):
    """Graph attention, one head (Veličković et al., 2018): ``e_ij = LeakyReLU(a·[W h_i ‖ W h_j])``
    over j ∈ N(i) ∪ {i}, ``α_ij = softmax_j e_ij``, ``h_i' = Σ_j α_ij W h_j + b`` — learned
    neighbour weights instead of GCN's fixed 1/√(d_i d_j)."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features, bias=False)
        self.att_src = nn.Parameter(torch.empty(out_features))
        self.att_dst = nn.Parameter(torch.empty(out_features))
        self.bias = nn.Parameter(torch.zeros(out_features))
        bound = 1 / math.sqrt(out_features)
        nn.init.uniform_(self.att_src, -bound, bound)
        nn.init.uniform_(self.att_dst, -bound, bound)
        self.last_attention: torch.Tensor | None = None

    def forward(self, h: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        wh = self.linear(h)  # (N, F')
        scores = F.leaky_relu((wh @ self.att_dst)[:, None] + (wh @ self.att_src)[None, :], 0.2)  # e_ij, i attends to j
        allowed = (adj + torch.eye(len(adj), dtype=adj.dtype, device=adj.device)) > 0
        alpha = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=1)
        self.last_attention = alpha.detach()
        return alpha @ wh + self.bias


class GNN(nn.Module):
    """Two graph layers of one kind with a ReLU between: node features ``(N, F)`` and a dense
    adjacency ``(N, N)`` — or, for GCN, an edge list ``(2, E)`` from :func:`edge_list` — → class
    logits ``(N, C)``."""

    LAYERS = {"gcn": GCNLayer, "gat": GATLayer, "sage": SAGELayer}

    def __init__(self, kind: str, in_features: int, hidden: int, num_classes: int) -> None:
        super().__init__()
        if kind not in self.LAYERS:
            raise ValueError(f"kind must be one of {sorted(self.LAYERS)}, got {kind!r}")
        self.kind = kind
        self.layer1 = self.LAYERS[kind](in_features, hidden)
        self.layer2 = self.LAYERS[kind](hidden, num_classes)

    def forward(self, x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or not isinstance(adj, torch.Tensor) or x.ndim != 2:
            raise ValueError(f"GNN expects features (N, F) and an adjacency, got {_describe(x)} and {_describe(adj)}")
        if _is_edge_list(adj):
            if self.kind != "gcn":
                raise ValueError(f"only the GCN takes an edge list here; a {self.kind.upper()} needs the dense adjacency (N, N)")
            _check_edges(adj, len(x))
        elif adj.shape != (len(x), len(x)) or not adj.is_floating_point():
            raise ValueError(f"GNN expects features (N, F) and a float adjacency (N, N) or an edge list (2, E), "
                             f"got {_describe(x)} and {_describe(adj)}")
        return self.layer2(F.relu(self.layer1(x, adj)), adj)


class NodeMLP(nn.Module):
    """The baseline that ignores the graph: each node classified from its own features alone,
    ``forward(x, adj)`` with the same signature as :class:`GNN`."""

    def __init__(self, in_features: int, hidden: int, num_classes: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))

    def forward(self, x: torch.Tensor, adj: torch.Tensor | None = None) -> torch.Tensor:
        if x.ndim != 2:
            raise ValueError(f"NodeMLP expects node features (N, F), got {tuple(x.shape)}")
        return self.net(x)
