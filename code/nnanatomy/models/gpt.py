"""A decoder-only Transformer, GPT style (chapters 06 and 07).

As in the source notes: token embedding + learned position embedding → pre-LN decoder blocks
(causal self-attention with a fused ``qkv_proj``, a 4× feed-forward, residual connections) →
final LayerNorm → output projection to vocabulary logits. ``generate`` samples with temperature
and top-k, cropping the context to ``max_seq_len``; a key/value cache makes each new token cost
one position instead of the whole context.

The feed-forward of every block is either dense or a mixture of experts
(:class:`~nnanatomy.models.moe.MoEFeedForward`): one block implementation for both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_int, check_real, outside

from ..runtime import eval_mode
from .moe import MoEFeedForward

__all__ = ["CausalSelfAttention", "DecoderBlock", "FeedForward", "GPT", "GPTConfig", "KVCache", "config_from_hf_gpt2",
           "from_hf_gpt2", "residual_stream_stds", "sliding_cross_entropy"]

KVCache = list[tuple[torch.Tensor, torch.Tensor]]  # per block: keys and values (B, H, T, d_head)


@dataclass
class GPTConfig:
    vocab_size: int
    max_seq_len: int = 128
    d_model: int = 128
    num_heads: int = 4
    num_layers: int = 4
    ffn_mult: int = 4
    dropout: float = 0.0
    ffn: str = "dense"  # "dense" or "moe"
    num_experts: int = 8
    top_k: int = 2
    expert_hidden: int | None = None  # default: ffn_mult · d_model / (top_k + shared_experts) (equal active compute)
    capacity_factor: float | None = None
    router_noise: float = 0.0
    shared_experts: int = 0  # always-on experts next to the routed ones (DeepSeekMoE)
    tie_embeddings: bool = False  # output layer = token embedding (transposed), without a bias
    gelu_approximate: str = "none"  # "tanh" for GPT-2's GELU
    layer_norm_eps: float = 1e-5
    residual_init: bool = False  # GPT-2: projections into the residual stream get std 0.02/√(2L)

    #: GPT-2's published sizes: (layers, width, heads)
    GPT2_SIZES = {"124M": (12, 768, 12), "355M": (24, 1024, 16), "774M": (36, 1280, 20), "1558M": (48, 1600, 25)}

    @classmethod
    def gpt2(cls, size: str = "124M", **overrides: object) -> "GPTConfig":
        """GPT-2's architecture (Radford et al., 2019): BPE vocabulary of 50,257 tokens, 1,024
        positions, biases everywhere, tied embedding and output layer, tanh-approximated GELU,
        LayerNorm ε = 1e-5, residual-scaled initialisation, dropout 0.1. ``size`` is one of
        ``GPT2_SIZES``; ``overrides`` replace fields (smaller sizes for tests)."""
        if size not in cls.GPT2_SIZES:
            raise ValueError(f"size must be one of {sorted(cls.GPT2_SIZES)}, got {size!r}")
        layers, width, heads = cls.GPT2_SIZES[size]
        fields = dict(vocab_size=50257, max_seq_len=1024, d_model=width, num_heads=heads, num_layers=layers,
                      ffn_mult=4, dropout=0.1, tie_embeddings=True, gelu_approximate="tanh", layer_norm_eps=1e-5,
                      residual_init=True)
        unknown = sorted(set(overrides) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"unknown GPTConfig fields {unknown}")
        fields.update(overrides)
        return cls(**fields)

    def __post_init__(self) -> None:
        for name in ("vocab_size", "max_seq_len", "d_model", "num_heads", "num_layers", "ffn_mult", "num_experts", "top_k"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"GPTConfig.{name} must be a positive int, got {value!r}")
        if self.d_model % self.num_heads:
            raise ValueError(f"d_model {self.d_model} must be divisible by num_heads {self.num_heads}")
        if self.ffn not in ("dense", "moe"):
            raise ValueError(f"GPTConfig.ffn must be 'dense' or 'moe', got {self.ffn!r}")
        if self.top_k > self.num_experts:
            raise ValueError(f"top_k {self.top_k} cannot exceed num_experts {self.num_experts}")
        check_real("GPTConfig.dropout", self.dropout, 0.0, 1.0, high_open=True)
        check_real("GPTConfig.router_noise", self.router_noise, 0.0)
        if self.capacity_factor is not None:
            check_real("GPTConfig.capacity_factor", self.capacity_factor, 0.0, low_open=True)
        if self.expert_hidden is not None:
            check_int("GPTConfig.expert_hidden", self.expert_hidden, 1)
        check_int("GPTConfig.shared_experts", self.shared_experts, 0)
        for name in ("tie_embeddings", "residual_init"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"GPTConfig.{name} must be True or False, got {getattr(self, name)!r}")
        if self.gelu_approximate not in ("none", "tanh"):
            raise ValueError(f"GPTConfig.gelu_approximate must be 'none' or 'tanh', got {self.gelu_approximate!r}")
        check_real("GPTConfig.layer_norm_eps", self.layer_norm_eps, 0.0, 1.0, low_open=True)
        if self.expert_hidden is None:
            self.expert_hidden = self.ffn_mult * self.d_model // (self.top_k + self.shared_experts)


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention in which position i sees positions 0…i only.

    One fused projection ``qkv_proj: d → 3d`` computes queries, keys and values for all heads at
    once; they are split, then split again into heads. The causal mask is a lower-triangular
    matrix: scores above the diagonal become −∞, so their softmax weight is exactly 0 and no
    position can read the future.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.num_heads, self.d_head = config.num_heads, config.d_model // config.num_heads
        self.qkv_proj = nn.Linear(config.d_model, 3 * config.d_model)
        self.out_proj = nn.Linear(config.d_model, config.d_model)
        self.dropout = nn.Dropout(config.dropout)
        mask = torch.tril(torch.ones(config.max_seq_len, config.max_seq_len, dtype=torch.bool))
        self.register_buffer("causal", mask, persistent=False)
        self.keep_attention = False  # set True to keep the last weights in .attention (plots)
        self.attention: torch.Tensor | None = None

    def forward(
        self, x: torch.Tensor, cache: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """``x (B, T, d)`` new positions; ``cache`` the keys/values of earlier positions.
        Returns the output ``(B, T, d)`` and the keys/values of all positions so far."""
        b, t, d = x.shape
        q, k, v = self.qkv_proj(x).split(d, dim=2)  # 3 × (B, T, d)
        q, k, v = (z.view(b, t, self.num_heads, self.d_head).transpose(1, 2) for z in (q, k, v))  # (B, H, T, d_head)
        if cache is not None:
            k = torch.cat([cache[0], k], dim=2)  # (B, H, T_past + T, d_head)
            v = torch.cat([cache[1], v], dim=2)
        past = k.shape[2] - t
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.d_head)  # (B, H, T, T_past + T)
        allowed = self.causal[past : past + t, : past + t]  # new rows of the full causal mask
        scores = scores.masked_fill(~allowed, float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        if self.keep_attention:
            self.attention = weights.detach()
        y = (self.dropout(weights) @ v).transpose(1, 2).reshape(b, t, d)
        return self.out_proj(y), (k, v)


class FeedForward(nn.Module):
    """``Linear(d, 4d) → GELU → Linear(4d, d)``: widen, apply a non-linearity, narrow back to d
    so that the residual connection can add it."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.up = nn.Linear(config.d_model, config.ffn_mult * config.d_model)
        self.down = nn.Linear(config.ffn_mult * config.d_model, config.d_model)
        self.dropout = nn.Dropout(config.dropout)
        self.gelu_approximate = config.gelu_approximate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.down(F.gelu(self.up(x), approximate=self.gelu_approximate)))


class DecoderBlock(nn.Module):
    """Pre-LN block: ``x = x + Attn(LN(x))``, then ``x = x + FFN(LN(x))``; FFN dense or MoE."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.attn = CausalSelfAttention(config)
        self.ln2 = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        if config.ffn == "moe":
            self.ffn: nn.Module = MoEFeedForward(
                config.d_model, config.expert_hidden, config.num_experts, config.top_k,
                config.capacity_factor, config.router_noise, config.shared_experts,
            )
        else:
            self.ffn = FeedForward(config)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, cache: tuple[torch.Tensor, torch.Tensor] | None = None):
        attn, new_cache = self.attn(self.ln1(x), cache)
        x = x + self.dropout(attn)
        x = x + self.ffn(self.ln2(x))
        return x, new_cache


class GPT(nn.Module):
    """ids ``(B, T)`` → next-token logits ``(B, T, vocab)``."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise TypeError(f"config must be a GPTConfig, got {type(config).__name__}")
        self.config = config
        self.token_embedding = nn.Embedding(config.vocab_size, config.d_model)
        self.pos_embedding = nn.Embedding(config.max_seq_len, config.d_model)
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(DecoderBlock(config) for _ in range(config.num_layers))
        self.ln_final = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.output_proj = nn.Linear(config.d_model, config.vocab_size, bias=not config.tie_embeddings)
        if config.tie_embeddings:  # one matrix reads tokens in and writes logits out
            self.output_proj.weight = self.token_embedding.weight
        self.apply(self._init_weights)
        if config.residual_init:  # each block adds two projections to the residual stream
            for name, p in self.named_parameters():
                if name.endswith(("attn.out_proj.weight", "ffn.down.weight")):
                    nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.num_layers))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)

    def forward(self, ids: torch.Tensor, cache: KVCache | None = None) -> tuple[torch.Tensor, KVCache]:
        """Returns ``(logits (B, T, V), cache)``. With a cache from earlier calls, ``ids`` holds
        only the new positions, which continue after the cached ones."""
        if not isinstance(ids, torch.Tensor) or ids.dtype != torch.long or ids.ndim != 2:
            raise TypeError("ids must be a (B, T) torch.long tensor")
        past = cache[0][0].shape[2] if cache else 0
        if past + ids.shape[1] > self.config.max_seq_len:
            raise ValueError(f"{past} cached + {ids.shape[1]} new positions exceed max_seq_len {self.config.max_seq_len}")
        if outside(ids, 0, self.config.vocab_size):
            raise ValueError(f"ids must be in [0, {self.config.vocab_size})")
        positions = torch.arange(past, past + ids.shape[1], device=ids.device)
        x = self.dropout(self.token_embedding(ids) + self.pos_embedding(positions))  # (B, T, d)
        new_cache: KVCache = []
        for i, block in enumerate(self.blocks):
            x, kv = block(x, cache[i] if cache else None)
            new_cache.append(kv)
        return self.output_proj(self.ln_final(x)), new_cache

    def aux_loss(self) -> torch.Tensor:
        """Sum of the MoE blocks' load-balancing losses from the last forward pass (0 if dense)."""
        losses = [b.ffn.last_stats["aux_loss"] for b in self.blocks if isinstance(b.ffn, MoEFeedForward) and b.ffn.last_stats]
        return torch.stack(losses).sum() if losses else torch.zeros((), device=self.output_proj.weight.device)

    @torch.no_grad()
    def generate(
        self,
        ids: torch.Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        greedy: bool = False,
        use_cache: bool = True,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Append ``max_new_tokens`` tokens to ``ids (B, T)``, one at a time.

        Each step takes the last position's logits, divides them by ``temperature`` (< 1 sharper,
        > 1 flatter), keeps the ``top_k`` largest if set, and draws from the softmax with
        ``torch.multinomial`` (or takes the argmax if ``greedy``). The context is cropped to the
        last ``max_seq_len`` tokens. With ``use_cache`` the keys and values of earlier positions
        are reused, so each step processes one position; once the context window is full the
        cache is rebuilt from the cropped window (the learned positions shift), giving exactly
        the tokens of the uncached path.
        """
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or not 1 <= max_new_tokens <= 100_000:
            raise ValueError(f"max_new_tokens must be an int in [1, 100000], got {max_new_tokens!r}")
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if top_k is not None and not 1 <= top_k <= self.config.vocab_size:
            raise ValueError(f"top_k must be in [1, {self.config.vocab_size}], got {top_k}")
        if not isinstance(ids, torch.Tensor) or ids.ndim != 2 or ids.shape[1] == 0:
            raise ValueError("ids must be a non-empty (B, T) tensor of token ids")
        if not isinstance(greedy, bool) or not isinstance(use_cache, bool):
            raise TypeError("greedy and use_cache must be True or False")
        with eval_mode(self):  # generation runs without dropout; the caller's mode comes back
            limit = self.config.max_seq_len
            cache: KVCache | None = None
            for _ in range(max_new_tokens):
                if not use_cache:
                    logits, _ = self(ids[:, -limit:])
                elif cache is None or cache[0][0].shape[2] + 1 > limit:
                    logits, cache = self(ids[:, -limit:])  # (re)build the cache from the window
                else:
                    logits, cache = self(ids[:, -1:], cache)  # only the newest position
                logits = logits[:, -1, :] / temperature  # (B, V)
                if top_k is not None:
                    kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
                    logits = logits.masked_fill(logits < kth, float("-inf"))
                if greedy:
                    next_id = logits.argmax(dim=-1, keepdim=True)
                else:
                    next_id = torch.multinomial(F.softmax(logits, dim=-1), num_samples=1, generator=generator)
                ids = torch.cat([ids, next_id], dim=1)
        return ids

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())  # a tied matrix once

    def active_parameters(self) -> int:
        """Parameters one token uses: everything except the experts a token is not routed to."""
        total = self.num_parameters()
        for block in self.blocks:
            if isinstance(block.ffn, MoEFeedForward):
                total -= sum(p.numel() for p in block.ffn.parameters()) - block.ffn.active_parameters()
        return total


@torch.no_grad()
def residual_stream_stds(model: GPT, ids: torch.Tensor) -> list[float]:
    """The standard deviation of the residual stream ``x`` (over batch, positions and features)
    after the embeddings and after every block, in eval mode: ``num_layers + 1`` numbers. Each
    block *adds* its attention and feed-forward outputs to the stream, so how these numbers grow
    with depth is what GPT-2's residual-scaled initialisation is about."""
    if not isinstance(model, GPT):
        raise TypeError(f"model must be a models.GPT, got {type(model).__name__}")
    if not isinstance(ids, torch.Tensor) or ids.dtype != torch.long or ids.ndim != 2:
        raise TypeError("ids must be a (B, T) torch.long tensor")
    if ids.numel() < 2 or ids.shape[1] > model.config.max_seq_len:
        raise ValueError(f"ids must hold at least 2 tokens (a std needs them) and T <= {model.config.max_seq_len}, "
                         f"got shape {tuple(ids.shape)}")
    if outside(ids, 0, model.config.vocab_size):
        raise ValueError(f"ids must be in [0, {model.config.vocab_size})")
    with eval_mode(model):
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = model.token_embedding(ids) + model.pos_embedding(positions)
        stds = [float(x.std())]
        for block in model.blocks:
            x, _ = block(x)
            stds.append(float(x.std()))
    return stds


@torch.no_grad()
def sliding_cross_entropy(model: GPT, ids: torch.Tensor, batch_size: int = 64) -> float:
    """Mean next-token cross-entropy (nats) of ``model`` over a long 1-D token stream ``ids``.

    Windows of ``max_seq_len`` inputs start every half window; each window scores only its
    second half (the first window scores everything), so every token after the first is scored
    exactly once and, past the first half window, always with at least half a window of context
    — the fair comparison with an n-gram model reading the same stream.
    """
    if not isinstance(model, GPT):
        raise TypeError(f"model must be a GPT, got {type(model).__name__}")
    if not isinstance(ids, torch.Tensor) or ids.ndim != 1 or ids.numel() < 2:
        raise ValueError("ids must be a 1-D tensor of at least two token ids")
    window, n = model.config.max_seq_len, ids.numel()
    half = max(window // 2, 1)
    with eval_mode(model):
        device = model.output_proj.weight.device
        windows = []  # (start, first scored position inside the window)
        for start in range(0, n - 1, half):
            first = 0 if start == 0 else half
            if start + first + 1 >= n:
                break
            windows.append((start, first))
        total, count = 0.0, 0
        full = [(s, f) for s, f in windows if s + window + 1 <= n]
        partial = [(s, f) for s, f in windows if s + window + 1 > n]
        groups = [full[i : i + batch_size] for i in range(0, len(full), batch_size)] + [[w] for w in partial]
        for group in groups:
            length = min(window, n - 1 - group[0][0])
            x = torch.stack([ids[s : s + length] for s, _ in group]).to(device)
            y = torch.stack([ids[s + 1 : s + length + 1] for s, _ in group]).to(device)
            logits, _ = model(x)
            nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="none").view(len(group), -1)
            for row, (_, first) in enumerate(group):
                total += float(nll[row, first:].sum())
                count += nll.shape[1] - first
    return total / count


# ---------------------------------------------------------------------------------------------
# Hugging Face's GPT-2 → this GPT


def config_from_hf_gpt2(hf_config: dict) -> GPTConfig:
    """The :class:`GPTConfig` of a Hugging Face ``GPT2Config`` given as a dict
    (``GPT2Config.to_dict()`` or a checkpoint's ``config.json``)."""
    if not isinstance(hf_config, dict):
        raise TypeError(f"hf_config must be a dict (GPT2Config.to_dict()), got {type(hf_config).__name__}")
    missing = [k for k in ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head") if k not in hf_config]
    if missing:
        raise ValueError(f"hf_config lacks {missing}: is it a GPT-2 configuration?")
    for flag in ("scale_attn_by_inverse_layer_idx", "add_cross_attention"):
        if hf_config.get(flag):
            raise ValueError(f"hf_config sets {flag}=True, which this GPT does not implement")
    activations = {"gelu_new": "tanh", "gelu_pytorch_tanh": "tanh", "gelu": "none"}
    act = hf_config.get("activation_function", "gelu_new")
    if act not in activations:
        raise ValueError(f"hf_config's activation_function must be one of {sorted(activations)}, got {act!r}")
    width = hf_config["n_embd"]
    inner = hf_config.get("n_inner") or 4 * width
    if inner % width:
        raise ValueError(f"n_inner {inner} must be a multiple of n_embd {width}")
    return GPTConfig(vocab_size=hf_config["vocab_size"], max_seq_len=hf_config["n_positions"], d_model=width,
                     num_heads=hf_config["n_head"], num_layers=hf_config["n_layer"], ffn_mult=inner // width,
                     dropout=float(hf_config.get("resid_pdrop", 0.1)), tie_embeddings=bool(hf_config.get("tie_word_embeddings", True)),
                     gelu_approximate=activations[act], layer_norm_eps=float(hf_config.get("layer_norm_epsilon", 1e-5)),
                     residual_init=True)


def _hf_gpt2_names(config: GPTConfig) -> dict[str, tuple[str, bool]]:
    """Our parameter name → (Hugging Face's name, whether its matrix is stored transposed).
    HF's GPT-2 keeps the original ``Conv1D`` layers, whose weight is ``(in, out)``, where
    ``nn.Linear`` stores ``(out, in)``."""
    names = {"token_embedding.weight": ("wte.weight", False), "pos_embedding.weight": ("wpe.weight", False),
             "ln_final.weight": ("ln_f.weight", False), "ln_final.bias": ("ln_f.bias", False)}
    for i in range(config.num_layers):
        ours, theirs = f"blocks.{i}.", f"h.{i}."
        for a, b, transposed in (("ln1", "ln_1", False), ("attn.qkv_proj", "attn.c_attn", True), ("attn.out_proj", "attn.c_proj", True),
                                 ("ln2", "ln_2", False), ("ffn.up", "mlp.c_fc", True), ("ffn.down", "mlp.c_proj", True)):
            names[ours + a + ".weight"] = (theirs + b + ".weight", transposed)
            names[ours + a + ".bias"] = (theirs + b + ".bias", False)
    if not config.tie_embeddings:
        names["output_proj.weight"] = ("lm_head.weight", False)
    return names


def from_hf_gpt2(state_dict: dict, config: GPTConfig | dict) -> GPT:
    """Build this chapter's :class:`GPT` from the state dict of Hugging Face's
    ``GPT2LMHeadModel`` (or ``GPT2Model``; keys with or without the ``transformer.`` prefix, as
    in the published checkpoints) and its configuration (a :class:`GPTConfig`, e.g.
    ``GPTConfig.gpt2("124M")``, or HF's config as a dict).

    Every tensor is checked: a missing or unexpected weight, or one of another shape, is a
    ValueError naming it. The model is returned in eval mode, in the state dict's dtype.
    """
    if isinstance(config, dict):
        config = config_from_hf_gpt2(config)
    if not isinstance(config, GPTConfig):
        raise TypeError(f"config must be a GPTConfig or a GPT2Config dict, got {type(config).__name__}")
    if config.ffn != "dense":
        raise ValueError("GPT-2 has dense feed-forward layers: config.ffn must be 'dense'")
    if not isinstance(state_dict, dict) or not all(isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise TypeError("state_dict must be a dict of tensors (model.state_dict() or a loaded checkpoint)")
    theirs = {k.removeprefix("transformer."): v for k, v in state_dict.items()}
    # the causal-mask buffers of older checkpoints are not weights
    theirs = {k: v for k, v in theirs.items() if not k.endswith((".attn.bias", ".attn.masked_bias"))}
    names = _hf_gpt2_names(config)
    missing = sorted(hf for hf, _ in names.values() if hf not in theirs)
    if missing:
        raise ValueError(f"state_dict lacks {len(missing)} GPT-2 weights for this config, e.g. {missing[:3]}")
    extra = sorted(set(theirs) - {hf for hf, _ in names.values()} - {"lm_head.weight"})
    if extra:
        raise ValueError(f"state_dict has {len(extra)} weights this config does not use, e.g. {extra[:3]} "
                         f"(does config have num_layers = {config.num_layers}?)")
    dtype = theirs["wte.weight"].dtype
    if not dtype.is_floating_point:
        raise TypeError(f"the weights must be floating point, got {dtype}")
    with torch.device("meta"):
        model = GPT(config)  # no initialisation is computed: every weight is replaced below
    ours = dict(model.named_parameters())
    loaded = {}
    for name, (hf, transposed) in names.items():
        tensor = theirs[hf].t() if transposed else theirs[hf]
        if tensor.shape != ours[name].shape:
            raise ValueError(f"{hf} has shape {tuple(theirs[hf].shape)}; this config needs "
                             f"{tuple(ours[name].shape[::-1] if transposed else ours[name].shape)}")
        loaded[name] = tensor.to(dtype).contiguous()
    if config.tie_embeddings and "lm_head.weight" in theirs and not torch.equal(theirs["lm_head.weight"], theirs["wte.weight"]):
        raise ValueError("lm_head.weight differs from wte.weight, but config.tie_embeddings is True")
    model.load_state_dict(loaded, strict=False, assign=True)  # the tied output layer follows token_embedding
    if config.tie_embeddings:
        model.output_proj.weight = model.token_embedding.weight
    else:  # GPT-2's untied output layer has no bias: ours is zero
        model.output_proj.bias = nn.Parameter(torch.zeros(config.vocab_size, dtype=dtype, device=loaded["token_embedding.weight"].device))
    for module in model.modules():  # the causal masks are buffers built on meta: rebuild them
        if isinstance(module, CausalSelfAttention):
            module.causal = torch.tril(torch.ones(config.max_seq_len, config.max_seq_len, dtype=torch.bool,
                                                  device=loaded["token_embedding.weight"].device))
    still_meta = [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if still_meta:  # cannot happen if the name table above is complete; a guard against its drift
        raise ValueError(f"weights left unset: {still_meta[:3]}")
    return model.eval()
