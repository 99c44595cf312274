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

__all__ = ["GNN", "GATLayer", "GCNLayer", "NodeMLP", "SAGELayer", "SequenceRegressor", "ViTClassifier", "normalized_adjacency"]


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


class GCNLayer(nn.Module):
    """``H' = Â H W + b`` (Kipf & Welling, 2017): every node averages its neighbours and itself,
    weighted by 1/√(d_i d_j)."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_features))

    def forward(self, h: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
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
    adjacency ``(N, N)`` → class logits ``(N, C)``."""

    LAYERS = {"gcn": GCNLayer, "gat": GATLayer, "sage": SAGELayer}

    def __init__(self, kind: str, in_features: int, hidden: int, num_classes: int) -> None:
        super().__init__()
        if kind not in self.LAYERS:
            raise ValueError(f"kind must be one of {sorted(self.LAYERS)}, got {kind!r}")
        self.kind = kind
        self.layer1 = self.LAYERS[kind](in_features, hidden)
        self.layer2 = self.LAYERS[kind](hidden, num_classes)

    def forward(self, x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or adj.shape != (len(x), len(x)):
            raise ValueError(f"GNN expects features (N, F) and adjacency (N, N), got {tuple(x.shape)} and {tuple(adj.shape)}")
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
