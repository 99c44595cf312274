"""ReverberationNet (source ``000``, chapter 13): 19 "role" modules, 7 fusion processors and the
Argallia conductor, connected as a mesh.

Every role is a small, differently built network (a convolution with attention, an LSTM, a
bidirectional GRU, gated MLPs, …) wrapped in the same shell: optional feedback from the
processors is added to its output, a variational encoding ``z = μ + ε·exp(½·log σ²)`` replaces
it, a gate ``σ(w·mean_t h)`` is computed (and, in the published model, used for nothing), and
``LayerNorm(x + z)`` is returned. The forward pass runs the roles twice — once on the input, once
on their own first output plus the processors' feedback — fuses triples of roles in the
processors, and lets Argallia attend over everything.

Sizes follow the published ReverbNet code (github.com/Ar1haraNaN7mI/ReverbNet) as functions of ``d``: at ``d = 64`` the network has
exactly 1,043,413 parameters (roles 733,844, processors 290,752, Argallia 18,817).

Routing. The source's two tables disagree. The *documented* design (its processor table and
text): processor k reads roles 3k, 3k+1, 3k+2 (mod 19) and feeds back to those same three. The
*published* code: role i asks processor ``i mod 7`` for feedback and receives it only if it is one
of that processor's three — which is true for Eileen and Zaixian alone. ``routing="none"`` gives
no feedback at all.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ROLE_NAMES", "Argallia", "FusionProcessor", "ReverberationNet", "RoleModule", "kl_divergence"]

ROLE_NAMES = (
    "eileen", "pluto", "organ", "harp", "wolfhour", "viola", "philip", "cello", "circusmaster", "bremen",
    "zaixian", "elena", "greta", "clarinet", "horn", "tuba", "trombone", "violin1", "violin2",
)
PROCESSOR_NAMES = ("harmony", "rhythm", "melody", "texture", "dynamics", "timbre", "structure")
ROUTINGS = ("documented", "published", "none")


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``−½ Σ (1 + log σ² − μ² − σ²)`` over all elements: how far N(μ, σ²) is from N(0, 1)."""
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())


# -- the role processors: (B, L, d) → (B, L, d) ------------------------------------------------


class _Seq(nn.Module):
    """A processor defined by a forward function over named submodules."""

    def __init__(self, fn: Callable[[nn.Module, torch.Tensor], torch.Tensor], **modules: nn.Module) -> None:
        super().__init__()
        self.fn = fn
        for name, module in modules.items():
            setattr(self, name, module)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(self, x)


def _conv(d: int, k: int) -> nn.Conv1d:
    return nn.Conv1d(d, d, k, padding=k // 2)


def _over_time(conv: nn.Conv1d, x: torch.Tensor) -> torch.Tensor:
    return conv(x.transpose(1, 2)).transpose(1, 2)  # convolve along the sequence


def _role_processor(name: str, d: int) -> nn.Module:
    lin = nn.Linear
    if name == "eileen":  # high-frequency regulator: convolution, then attention
        def f(m, x):
            h = F.gelu(_over_time(m.conv, x))
            return m.ffn(m.attn(h, h, h, need_weights=False)[0])
        return _Seq(f, conv=_conv(d, 3), attn=nn.MultiheadAttention(d, 4, batch_first=True), ffn=lin(d, d))
    if name in ("pluto", "horn"):  # deep non-linear transforms d → 4d → 2d → d
        act = F.gelu if name == "pluto" else F.silu
        def f(m, x, act=act, drop=name == "pluto"):
            h = act(m.w1(x))
            if drop:
                h = F.dropout(h, 0.1, m.training)
            return m.w3(act(m.w2(h)))
        return _Seq(f, w1=lin(d, 4 * d), w2=lin(4 * d, 2 * d), w3=lin(2 * d, d))
    if name == "organ":  # four parallel pipes, fused
        def f(m, x):
            return m.fusion(torch.cat([F.gelu(p(x)) for p in m.pipes], dim=-1))
        return _Seq(f, pipes=nn.ModuleList(lin(d, d) for _ in range(4)), fusion=lin(4 * d, d))
    if name == "harp":  # arpeggio: an LSTM over the sequence
        return _Seq(lambda m, x: m.lstm(x)[0], lstm=nn.LSTM(d, d, batch_first=True))
    if name == "wolfhour":  # forward and backward GRU, summed
        def f(m, x):
            out = m.gru(x)[0]
            return out[..., :d] + out[..., d:]
        return _Seq(f, gru=nn.GRU(d, d, batch_first=True, bidirectional=True))
    if name == "viola":
        return _Seq(lambda m, x: m.norm(m.w2(torch.tanh(m.w1(x)))), w1=lin(d, d), w2=lin(d, d), norm=nn.LayerNorm(d))
    if name == "philip":
        return _Seq(lambda m, x: m.w3(F.dropout(m.w2(F.relu(m.w1(x))), 0.2, m.training)),
                    w1=lin(d, d // 2), w2=lin(d // 2, d), w3=lin(d, d))
    if name == "cello":
        return _Seq(lambda m, x: m.norm(m.w2(F.leaky_relu(m.w1(x), 0.2)).transpose(1, 2)).transpose(1, 2),
                    w1=lin(d, 2 * d), w2=lin(2 * d, d), norm=nn.BatchNorm1d(d))
    if name == "circusmaster":  # noise gate, then attention
        def f(m, x):
            gated = torch.sigmoid(m.noise(x)) * x
            return m.control(m.attn(gated, gated, gated, need_weights=False)[0])
        return _Seq(f, noise=lin(d, d), attn=nn.MultiheadAttention(d, 2, batch_first=True), control=lin(d, d))
    if name == "bremen":  # three channels, fused
        return _Seq(lambda m, x: m.w2(F.gelu(m.w1(torch.cat([c(x) for c in m.channels], dim=-1)))),
                    channels=nn.ModuleList(lin(d, d) for _ in range(3)), w1=lin(3 * d, 2 * d), w2=lin(2 * d, d))
    if name == "zaixian":
        return _Seq(lambda m, x: m.w3(F.gelu(m.w2(torch.sigmoid(m.w1(x))))), w1=lin(d, d), w2=lin(d, 2 * d), w3=lin(2 * d, d))
    if name == "elena":
        return _Seq(lambda m, x: m.norm(m.w3(F.gelu(m.w2(F.gelu(m.w1(x)))))),
                    w1=lin(d, 3 * d), w2=lin(3 * d, 2 * d), w3=lin(2 * d, d), norm=nn.LayerNorm(d))
    if name == "greta":  # rhythm: convolution, tempo, beat gate
        return _Seq(lambda m, x: m.tempo(F.gelu(_over_time(m.conv, x))) * torch.sigmoid(m.beat(x)),
                    conv=_conv(d, 5), tempo=lin(d, d), beat=lin(d, d))
    if name == "clarinet":
        return _Seq(lambda m, x: m.w3(F.elu(m.w2(F.softplus(m.w1(x))))), w1=lin(d, d), w2=lin(d, d // 2), w3=lin(d // 2, d))
    if name == "tuba":
        return _Seq(lambda m, x: m.norm(m.w3(F.leaky_relu(m.w2(F.leaky_relu(m.w1(x), 0.3)), 0.3))),
                    w1=lin(d, d), w2=lin(d, 2 * d), w3=lin(2 * d, d), norm=nn.LayerNorm(d))
    if name == "trombone":  # slide: convolution, glide, a smoothing weight per position
        return _Seq(lambda m, x: m.glide(F.gelu(_over_time(m.conv, x))) * torch.sigmoid(m.smooth(x)),
                    conv=_conv(d, 7), glide=lin(d, d), smooth=lin(d, 1))
    if name == "violin1":  # the leader: attention, vibrato, expression gate
        return _Seq(lambda m, x: F.gelu(m.vibrato(m.attn(x, x, x, need_weights=False)[0])) * torch.sigmoid(m.expression(x)),
                    attn=nn.MultiheadAttention(d, 8, batch_first=True), vibrato=lin(d, d), expression=lin(d, d))
    if name == "violin2":
        return _Seq(lambda m, x: m.norm(m.w3(F.dropout(m.w2(F.gelu(m.w1(x))), 0.1, m.training))),
                    w1=lin(d, 2 * d), w2=lin(2 * d, d), w3=lin(d, d), norm=nn.LayerNorm(d))
    raise ValueError(f"unknown role {name!r}")


class RoleModule(nn.Module):
    """One role: its processor, then feedback, variational encoding, gate, residual LayerNorm."""

    def __init__(self, name: str, d: int) -> None:
        super().__init__()
        self.name = name
        self.processor = _role_processor(name, d)
        self.instrument_gate = nn.Linear(d, 1)
        self.W_mu = nn.Linear(d, d)
        self.W_logvar = nn.Linear(d, d)
        self.ln = nn.LayerNorm(d)

    def forward(self, x: torch.Tensor, feedback: list[torch.Tensor] | None = None):
        h = self.processor(x)  # (B, L, d)
        for fb in feedback or []:  # h' = h + Σ AdaptivePool(P_j)
            if fb.shape[1] != h.shape[1]:
                fb = F.adaptive_avg_pool1d(fb.transpose(1, 2), h.shape[1]).transpose(1, 2)
            h = h + fb
        mu, logvar = self.W_mu(h), self.W_logvar(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        gate = torch.sigmoid(self.instrument_gate(h.mean(dim=1))).squeeze(-1)  # (B,)
        return self.ln(x + z), kl_divergence(mu, logvar), gate


class FusionProcessor(nn.Module):
    """Average three roles, mix, pool over time, MLP, variational code, three distributed outputs."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.input_fusion = nn.Linear(d, d)
        self.proc1 = nn.Linear(d, 2 * d)
        self.proc2 = nn.Linear(2 * d, d)
        self.W_mu = nn.Linear(d, d)
        self.W_logvar = nn.Linear(d, d)
        self.output_distributors = nn.ModuleList(nn.Linear(d, d) for _ in range(3))

    def forward(self, inputs: list[torch.Tensor]) -> tuple[list[torch.Tensor], torch.Tensor]:
        length = inputs[0].shape[1]
        fused = self.input_fusion(torch.stack(inputs).mean(dim=0))  # (B, L, d)
        h = self.proc2(F.gelu(self.proc1(fused.mean(dim=1))))  # (B, d)
        mu, logvar = self.W_mu(h), self.W_logvar(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        outputs = [dist(z)[:, None, :].expand(-1, length, -1) for dist in self.output_distributors]  # 3 × (B, L, d)
        return outputs, kl_divergence(mu, logvar)


class Argallia(nn.Module):
    """The conductor: attention over every source stacked along time, then a scalar read-out."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(d, 8, batch_first=True)
        self.fc1 = nn.Linear(d, d // 2)
        self.norm = nn.LayerNorm(d // 2)
        self.fc2 = nn.Linear(d // 2, 1)

    def forward(self, sources: list[torch.Tensor]) -> torch.Tensor:
        x = torch.cat(sources, dim=1)  # (B, 40·L, d)
        attended = self.attn(x, x, x, need_weights=False)[0]
        return self.fc2(F.gelu(self.norm(self.fc1(attended.mean(dim=1))))).squeeze(-1)  # (B,)


class ReverberationNet(nn.Module):
    """``forward(x (B, L, d))`` → ``(output (B,), kl_loss, gate_probs: 38 tensors of shape (B,))``."""

    def __init__(self, d: int = 64, num_instruments: int = 7, routing: str = "documented") -> None:
        super().__init__()
        if isinstance(d, bool) or not isinstance(d, int) or d < 8 or d % 8:
            raise ValueError(f"d must be a positive multiple of 8 (attention uses 8, 4 and 2 heads and d/2 widths), got {d!r}")
        if num_instruments != 7:
            raise ValueError(f"the published network has 7 fusion processors, got num_instruments={num_instruments}")
        if routing not in ROUTINGS:
            raise ValueError(f"routing must be one of {ROUTINGS}, got {routing!r}")
        self.d, self.routing = d, routing
        self.roles = nn.ModuleDict({name: RoleModule(name, d) for name in ROLE_NAMES})
        self.processors = nn.ModuleDict({name: FusionProcessor(d) for name in PROCESSOR_NAMES})
        self.argallia = Argallia(d)

    @staticmethod
    def processor_roles(k: int) -> list[int]:
        """The three roles processor k reads: 3k, 3k + 1, 3k + 2 (mod 19)."""
        return [(3 * k + j) % len(ROLE_NAMES) for j in range(3)]

    def feedback_links(self) -> dict[int, list[tuple[int, int]]]:
        """role → [(processor, which of its three outputs)] the role receives in the second pass."""
        links: dict[int, list[tuple[int, int]]] = {i: [] for i in range(len(ROLE_NAMES))}
        for k in range(len(PROCESSOR_NAMES)):
            for slot, role in enumerate(self.processor_roles(k)):
                if self.routing == "documented" or (self.routing == "published" and role % len(PROCESSOR_NAMES) == k):
                    links[role].append((k, slot))
        return links

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        if not isinstance(x, torch.Tensor) or x.ndim != 3:
            raise ValueError(f"ReverberationNet expects (batch, length, {self.d}), got {getattr(x, 'shape', type(x).__name__)}")
        if x.shape[2] != self.d:
            raise ValueError(f"the feature size must be d = {self.d}, got {x.shape[2]}")
        roles = list(self.roles.values())
        kl = x.new_zeros(())
        gates: list[torch.Tensor] = []
        first = []
        for role in roles:  # pass 1: every role on the input
            out, k, g = role(x)
            first.append(out)
            kl, gates = kl + k, gates + [g]
        processed = []
        for k, proc in enumerate(self.processors.values()):  # the processors fuse triples of roles
            outs, k_kl = proc([first[i] for i in self.processor_roles(k)])
            processed.append(outs)
            kl = kl + k_kl
        links = self.feedback_links()
        second = []
        for i, role in enumerate(roles):  # pass 2: every role on its own output, plus feedback
            out, k, g = role(first[i], [processed[p][slot] for p, slot in links[i]])
            second.append(out)
            kl, gates = kl + k, gates + [g]
        output = self.argallia(second + [o for outs in processed for o in outs])
        return output, kl, gates

    def get_network_structure(self) -> dict:
        """Counts of modules and connections, as the source states them, and the effective ones."""
        links = self.feedback_links()
        groups = {"roles": self.roles, "processors": self.processors, "argallia": self.argallia}
        return {
            "roles": len(ROLE_NAMES),
            "processors": len(PROCESSOR_NAMES),
            "role_to_processor": len(ROLE_NAMES),  # every role is read by a processor (gated selection)
            "processor_to_role": 3 * len(PROCESSOR_NAMES),  # every processor distributes three outputs
            "total_connections": len(ROLE_NAMES) + 3 * len(PROCESSOR_NAMES),
            "feedback_links_used": sum(len(v) for v in links.values()),
            "roles_receiving_feedback": [ROLE_NAMES[i] for i, v in links.items() if v],
            "gate_probabilities": 2 * len(ROLE_NAMES),
            "variational_terms": 2 * len(ROLE_NAMES) + len(PROCESSOR_NAMES),
            "parameters": {name: sum(p.numel() for p in m.parameters()) for name, m in groups.items()},
        }

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
