"""Mixture of experts (chapter 07): several expert MLPs, a router that picks the top-k of them
for every token, and the load-balancing loss that keeps the experts' loads from drifting apart.

``MoEFeedForward`` has the call signature of the dense feed-forward block of
:mod:`nnanatomy.models.gpt`, so the same decoder block takes either (``GPTConfig(ffn="moe")``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_bool, check_int, check_real, outside, without_values

__all__ = ["Expert", "MoEFeedForward", "TopKRouter", "load_balancing_loss"]


class Expert(nn.Module):
    """One expert: the two-layer MLP of a Transformer block, up-project → GELU → down-project."""

    def __init__(self, d_model: int, d_hidden: int) -> None:
        super().__init__()
        self.up = nn.Linear(d_model, d_hidden)
        self.down = nn.Linear(d_hidden, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(F.gelu(self.up(x)))


class TopKRouter(nn.Module):
    """A linear layer scores every expert for every token; the top k are kept and their
    probabilities renormalised to sum to 1. Optional Gaussian noise on the logits during training
    encourages exploration of other experts.

    ``renormalize`` (default: only when ``top_k > 1``): with one expert per token, renormalising
    makes every weight exactly 1, and the router would get no gradient from the task at all —
    only from the balancing loss. The Switch Transformer therefore scales the single expert's
    output by its router probability, as ``renormalize=False`` does.
    """

    def __init__(self, d_model: int, num_experts: int, top_k: int, noise_std: float = 0.0,
                 renormalize: bool | None = None) -> None:
        super().__init__()
        num_experts = check_int("num_experts", num_experts, 1)
        top_k = check_int("top_k", top_k, 1, maximum=num_experts)
        noise_std = check_real("noise_std", noise_std, 0.0)
        if renormalize is None:
            renormalize = top_k > 1
        renormalize = check_bool("renormalize", renormalize)
        self.gate = nn.Linear(d_model, num_experts, bias=False)
        self.num_experts, self.top_k, self.noise_std, self.renormalize = num_experts, top_k, noise_std, renormalize

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``x (N, d)`` → ``(weights (N, k), expert ids (N, k), router probabilities (N, E))``."""
        logits = self.gate(x)  # (N, E)
        if self.training and self.noise_std > 0:
            logits = logits + torch.randn_like(logits) * self.noise_std
        probs = torch.softmax(logits, dim=-1)
        top_p, top_i = probs.topk(self.top_k, dim=-1)  # (N, k)
        if self.renormalize:
            top_p = top_p / top_p.sum(dim=-1, keepdim=True)
        return top_p, top_i, probs


def _expert_counts(flat_ids: torch.Tensor, num_experts: int) -> torch.Tensor:
    """Assignments per expert. On ``meta`` (shapes only: summary(..., device="meta")) the routing is
    unknown: an even split, which leaves the total expert work — N·k tokens' worth — exact."""
    if without_values(flat_ids):
        return torch.empty(num_experts, dtype=torch.long, device=flat_ids.device)
    return torch.bincount(flat_ids, minlength=num_experts)


def _batch_sizes(counts: torch.Tensor, assignments: int) -> list[int]:
    """``counts`` as Python ints (one host sync); on ``meta``, an even split of the assignments."""
    if without_values(counts):
        e = counts.numel()
        return [assignments // e + (i < assignments % e) for i in range(e)]
    return counts.tolist()


def load_balancing_loss(probs: torch.Tensor, expert_ids: torch.Tensor, num_experts: int) -> torch.Tensor:
    """Switch Transformer's auxiliary loss ``N · Σ_i f_i · P_i``.

    ``f_i`` is the fraction of routing assignments that went to expert i (each token makes k),
    ``P_i`` the mean router probability of expert i. Both are 1/N under perfect balance, giving a
    loss of 1; if the router sends everything to one expert it approaches N. Only ``P`` carries a
    gradient, pushing probability away from overloaded experts.
    """
    if probs.ndim != 2 or probs.shape[0] == 0 or probs.shape[1] != num_experts or not probs.is_floating_point():
        raise ValueError(f"probs must be float router probabilities (tokens, {num_experts}), got {probs.dtype} {tuple(probs.shape)}")
    if expert_ids.numel() == 0 or expert_ids.is_floating_point() or outside(expert_ids, 0, num_experts):
        raise ValueError(f"expert_ids must be integer ids in [0, {num_experts}), at least one")
    counts = _expert_counts(expert_ids.reshape(-1), num_experts).to(probs.dtype)
    f = counts / counts.sum()
    p = probs.mean(dim=0)
    return num_experts * (f * p).sum()


class MoEFeedForward(nn.Module):
    """Route every token to its top-k experts and sum their outputs, weighted by the router.

    Args:
        d_model: token width.
        d_hidden: each expert's hidden width.
        num_experts: experts E.
        top_k: experts per token; a token's compute is that of k experts, whatever E is.
        capacity_factor: if set, an expert accepts at most ``ceil(capacity_factor · k · N / E)``
            of a batch's N tokens; assignments beyond that are dropped (the residual connection
            around the block still carries the token).
        router_noise: standard deviation of the router's training noise.
        shared_experts: experts every token passes through, unrouted, added with weight 1 next to
            the routed ones (DeepSeekMoE's shared-expert isolation): common knowledge lives in them,
            so the routed experts can specialise. A token's compute is that of
            ``top_k + shared_experts`` experts.

    After each forward pass, ``last_stats`` holds the load-balancing loss (``aux_loss``, with
    gradient), the fraction of assignments per expert (``load``) and the dropped fraction.
    """

    #: an expert that no token is routed to gets no gradient in that step (fit tells DDP to expect it)
    may_skip_parameters = True

    def __init__(self, d_model: int, d_hidden: int, num_experts: int = 8, top_k: int = 2,
                 capacity_factor: float | None = None, router_noise: float = 0.0, shared_experts: int = 0) -> None:
        super().__init__()
        if num_experts < 1 or d_hidden < 1:
            raise ValueError(f"need num_experts >= 1 and d_hidden >= 1, got {num_experts}, {d_hidden}")
        shared_experts = check_int("shared_experts", shared_experts, 0)
        if capacity_factor is not None:
            capacity_factor = check_real("capacity_factor", capacity_factor, 0.0, low_open=True)
        self.router = TopKRouter(d_model, num_experts, top_k, router_noise)
        self.experts = nn.ModuleList(Expert(d_model, d_hidden) for _ in range(num_experts))
        self.shared = nn.ModuleList(Expert(d_model, d_hidden) for _ in range(shared_experts))
        self.num_experts, self.top_k, self.capacity_factor = num_experts, top_k, capacity_factor
        self.last_stats: dict[str, torch.Tensor] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        tokens = x.reshape(-1, shape[-1])  # (N, d)
        weights, expert_ids, probs = self.router(tokens)  # (N, k), (N, k), (N, E)
        out = torch.zeros_like(tokens)
        for expert in self.shared:  # every token, weight 1
            out = out + expert(tokens)
        capacity = None
        if self.capacity_factor is not None:
            capacity = math.ceil(self.capacity_factor * self.top_k * tokens.shape[0] / self.num_experts)
        # sort the N·k assignments by expert (stable: in token order within an expert), then cut
        flat = expert_ids.reshape(-1)
        order = torch.argsort(flat, stable=True)
        counts = _expert_counts(flat, self.num_experts)
        token_of, slot_of = order // self.top_k, order % self.top_k
        sizes = _batch_sizes(counts, flat.numel())  # one host sync: every expert's batch size
        kept, start = 0, 0
        for expert, n in zip(self.experts, sizes):
            token_idx, slot = token_of[start:start + n], slot_of[start:start + n]  # assignments to it
            start += n
            if capacity is not None and n > capacity:
                token_idx, slot = token_idx[:capacity], slot[:capacity]  # first come, first served
            if token_idx.numel() == 0:
                continue
            kept += token_idx.numel()
            y = expert(tokens[token_idx])  # only the routed tokens: active compute
            out.index_add_(0, token_idx, y * weights[token_idx, slot, None])
        self.last_stats = {
            "aux_loss": load_balancing_loss(probs, expert_ids, self.num_experts),
            "load": counts.float().detach() / expert_ids.numel(),
            "dropped": torch.tensor(1.0 - kept / expert_ids.numel()),
        }
        return out.reshape(shape)

    def active_parameters(self) -> int:
        """Parameters a single token uses: the router, k routed experts and the shared ones."""
        per_expert = sum(p.numel() for p in self.experts[0].parameters())
        return sum(p.numel() for p in self.router.parameters()) + (self.top_k + len(self.shared)) * per_expert
