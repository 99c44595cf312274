"""HuBERT (Hsu et al., 2021), chapter 08: predict offline cluster ids of masked frames.

HuBERT's targets are not made by the network being trained. Iteration 1 clusters MFCC frames
(+Δ, ΔΔ) with k-means; a Transformer encoder reads the features with **spans** of frames
replaced by one learned mask embedding and predicts the cluster id of each masked frame.
Iteration 2 clusters an intermediate layer of the iteration-1 model — better targets — and
trains a fresh model on them.

Our encoder follows HuBERT BASE's shape at a small size: a convolutional front end (here the
log-mel ``ConvSubsampling`` of the Conformer, time ÷ 4, instead of the paper's waveform CNN),
LayerNorm, the mask embedding, a grouped convolution as relative positional embedding, a
LayerNorm, then post-norm Transformer layers. The prediction head projects each frame to
``final_dim`` and scores it against one embedding per cluster by cosine similarity over a
temperature τ = 0.1, as in the paper.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_bool, check_int, check_real, outside

from .bestrq import span_mask
from .conformer import ConvSubsampling, padding_from_lengths
from .transformer import EncoderLayer, TransformerConfig

__all__ = ["ConvPositionalEmbedding", "HuBERT", "HuBERTConfig", "HuBERTEncoder", "PublishedEncoderLayer", "PublishedHuBERT",
           "PublishedHuBERTConfig", "WaveformFeatureEncoder", "from_hf_hubert", "published_config_from_hf"]


@dataclass
class HuBERTConfig:
    input_dim: int = 64  # features per input frame (log-mel bands)
    d_model: int = 96
    num_heads: int = 4
    num_layers: int = 4
    d_ff: int = 384
    pos_conv_kernel: int = 15  # the paper: 128 (at 20 ms frames), 16 groups
    pos_conv_groups: int = 4
    dropout: float = 0.1
    num_clusters: int = 100  # k of the k-means teacher
    final_dim: int = 32  # projection in which frames meet the cluster embeddings
    temperature: float = 0.1
    mask_prob: float = 0.2  # a frame starts a masked span with this probability (paper: 0.08)
    mask_span: int = 3  # frames per span at 40 ms a frame = 120 ms (paper: 10 × 20 ms = 200 ms)

    def __post_init__(self) -> None:
        for name in ("input_dim", "d_model", "num_heads", "num_layers", "d_ff", "pos_conv_kernel", "pos_conv_groups",
                     "num_clusters", "final_dim", "mask_span"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"HuBERTConfig.{name} must be a positive int, got {value!r}")
        if self.d_model % self.num_heads or self.d_model % self.pos_conv_groups:
            raise ValueError(f"d_model {self.d_model} must be divisible by num_heads {self.num_heads} "
                             f"and pos_conv_groups {self.pos_conv_groups}")
        if self.pos_conv_kernel % 2 == 0:
            raise ValueError(f"pos_conv_kernel must be odd (same-length convolution), got {self.pos_conv_kernel}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if not 0.0 < self.mask_prob <= 1.0:
            raise ValueError(f"mask_prob must be in (0, 1], got {self.mask_prob}")
        check_real("HuBERTConfig.temperature", self.temperature, 0.0, low_open=True)


class HuBERTEncoder(nn.Module):
    """``(B, T, input_dim)`` features → ``(B, T', d_model)``, ``T' ≈ T / 4``, with the padding mask.

    ``mask`` (bool ``(B, T')``, optional) marks the frames whose front-end output is replaced by
    the learned mask embedding before the Transformer sees them.
    """

    def __init__(self, config: HuBERTConfig | None = None) -> None:
        super().__init__()
        config = HuBERTConfig() if config is None else config
        if not isinstance(config, HuBERTConfig):
            raise TypeError(f"config must be a HuBERTConfig, got {type(config).__name__}")
        self.config = config
        d = config.d_model
        self.subsample = ConvSubsampling(config.input_dim, d)
        self.feature_norm = nn.LayerNorm(d)
        self.mask_embedding = nn.Parameter(torch.empty(d).uniform_())
        self.pos_conv = nn.Conv1d(d, d, config.pos_conv_kernel, padding=config.pos_conv_kernel // 2, groups=config.pos_conv_groups)
        self.norm = nn.LayerNorm(d)
        self.dropout = nn.Dropout(config.dropout)
        layer = TransformerConfig(src_vocab_size=1, tgt_vocab_size=1, d_model=d, num_heads=config.num_heads,
                                  d_ff=config.d_ff, dropout=config.dropout)
        self.layers = nn.ModuleList(EncoderLayer(layer) for _ in range(config.num_layers))

    def forward(self, features: torch.Tensor, lengths: torch.Tensor | None = None, mask: torch.Tensor | None = None,
                return_layers: bool = False):
        cfg = self.config
        return_layers = check_bool("return_layers", return_layers)
        if not isinstance(features, torch.Tensor) or features.ndim != 3 or features.shape[-1] != cfg.input_dim:
            raise ValueError(f"features must be (batch, frames, {cfg.input_dim}), got {getattr(features, 'shape', type(features).__name__)}")
        if features.shape[1] < 4:
            raise ValueError(f"need at least 4 frames (time is subsampled by 4), got {features.shape[1]}")
        x = self.feature_norm(self.subsample(features))
        padding = None
        if lengths is not None:
            padding = padding_from_lengths(lengths, features, x.shape[1])  # checked: integers in [4, frames]
        if mask is not None:
            if mask.shape != x.shape[:2] or mask.dtype != torch.bool:
                raise ValueError(f"mask must be a bool tensor of shape {tuple(x.shape[:2])}, got {mask.dtype} {tuple(mask.shape)}")
            x = torch.where(mask[..., None], self.mask_embedding.to(x.dtype), x)
        if padding is not None:  # keep padded frames out of the positional convolution
            x = x.masked_fill(padding[..., None], 0.0)
        x = x + F.gelu(self.pos_conv(x.transpose(1, 2)).transpose(1, 2))
        x = self.dropout(self.norm(x))
        layers = []
        for layer in self.layers:
            x = layer(x, padding)
            layers.append(x)
        return (x, padding, layers) if return_layers else (x, padding)


class HuBERT(nn.Module):
    """The encoder and HuBERT's prediction head: ``logits[b, t, c] = cos(W h_bt, e_c) / τ``."""

    #: methods that run the network in place of forward: under torchrun, fit calls them through DDP
    distributed_entry_points = ("loss",)

    def __init__(self, config: HuBERTConfig | None = None) -> None:
        super().__init__()
        self.encoder = HuBERTEncoder(config)
        config = self.config = self.encoder.config
        self.final_proj = nn.Linear(config.d_model, config.final_dim)
        self.cluster_embeddings = nn.Parameter(torch.randn(config.num_clusters, config.final_dim) * config.final_dim ** -0.5)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor | None = None,
                mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits ``(B, T', num_clusters)`` for every frame, and the padding mask."""
        h, padding = self.encoder(features, lengths, mask)
        z = F.normalize(self.final_proj(h), dim=-1)
        return z @ F.normalize(self.cluster_embeddings, dim=-1).T / self.config.temperature, padding

    def loss(self, features: torch.Tensor, targets: torch.Tensor, lengths: torch.Tensor | None = None,
             generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Span-mask the frames, predict, and score the masked ones against ``targets`` ``(B, T')``
        (cluster ids; −1 where there is none): ``(loss, {logits, selected, mask})``."""
        cfg = self.config
        frames = ConvSubsampling.output_length(features.shape[1])
        if not isinstance(targets, torch.Tensor) or targets.shape != (features.shape[0], frames) or targets.is_floating_point():
            raise ValueError(f"targets must be integer cluster ids of shape ({features.shape[0]}, {frames}), "
                             f"got {getattr(targets, 'dtype', type(targets).__name__)} {tuple(getattr(targets, 'shape', ()))}")
        if outside(targets, -1, cfg.num_clusters):
            raise ValueError(f"targets must be cluster ids in [0, num_clusters = {cfg.num_clusters}) or -1 (no target), "
                             f"got values from {int(targets.min())} to {int(targets.max())}")
        if lengths is not None:
            padding_from_lengths(lengths, features, frames)  # checked before the mask draws from the generator
        mask = span_mask(features.shape[0], frames, cfg.mask_prob, cfg.mask_span, generator=generator).to(features.device)
        logits, padding = self(features, lengths, mask)
        selected = mask & (targets >= 0)
        if padding is not None:
            selected &= ~padding
        # the mean over the selected frames, computed on all of them (no host sync to find which);
        # no selected frame in the batch (short utterances, a low mask_prob) gives 0, not NaN
        per_frame = F.cross_entropy(logits.transpose(1, 2), targets.clamp_min(0), reduction="none")  # (B, T')
        loss = torch.where(selected, per_frame, 0.0).sum() / selected.sum().clamp_min(1)
        return loss, {"logits": logits, "selected": selected, "mask": mask}


# ---------------------------------------------------------------------------------------------
# HuBERT as published: the waveform model of Hsu et al. (2021), and Hugging Face's weights


@dataclass
class PublishedHuBERTConfig:
    """The published HuBERT's hyper-parameters; the defaults are BASE (Hsu et al., 2021, Table 1).

    ``conv_layers`` are the waveform CNN's (channels, kernel, stride): seven convolutions that
    turn 16 kHz samples into one 768-wide frame every 20 ms (a stride of 320 samples). BASE
    normalises the first convolution with a GroupNorm of one group per channel
    (``feature_norm="group"``); LARGE puts a LayerNorm after every convolution (``"layer"``) and
    uses pre-LN Transformer layers (``pre_norm=True``).
    """

    conv_layers: tuple[tuple[int, int, int], ...] = ((512, 10, 5),) + ((512, 3, 2),) * 4 + ((512, 2, 2),) * 2
    conv_bias: bool = False
    feature_norm: str = "group"
    hidden: int = 768
    num_layers: int = 12
    num_heads: int = 12
    ffn_hidden: int = 3072
    pos_conv_kernel: int = 128
    pos_conv_groups: int = 16
    layer_norm_eps: float = 1e-5
    pre_norm: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.conv_layers, tuple) or not self.conv_layers or not all(
                isinstance(c, tuple) and len(c) == 3 and all(isinstance(v, int) and v >= 1 for v in c) for c in self.conv_layers):
            raise ValueError("conv_layers must be a non-empty tuple of (channels, kernel, stride) positive ints")
        for name in ("hidden", "num_layers", "num_heads", "ffn_hidden", "pos_conv_kernel", "pos_conv_groups"):
            check_int(f"PublishedHuBERTConfig.{name}", getattr(self, name), 1)
        if self.feature_norm not in ("group", "layer"):
            raise ValueError(f"feature_norm must be 'group' or 'layer', got {self.feature_norm!r}")
        if self.hidden % self.num_heads or self.hidden % self.pos_conv_groups:
            raise ValueError(f"hidden {self.hidden} must be divisible by num_heads and by pos_conv_groups")
        check_bool("PublishedHuBERTConfig.conv_bias", self.conv_bias)
        check_bool("PublishedHuBERTConfig.pre_norm", self.pre_norm)
        check_real("PublishedHuBERTConfig.layer_norm_eps", self.layer_norm_eps, 0.0, 1.0, low_open=True)

    @property
    def receptive_field(self) -> int:
        """Samples one frame of the CNN sees (400 for BASE: 25 ms at 16 kHz)."""
        field, jump = 1, 1
        for _, kernel, stride in self.conv_layers:
            field += (kernel - 1) * jump
            jump *= stride
        return field

    @property
    def stride(self) -> int:
        """Samples between frames (320 for BASE: 20 ms at 16 kHz)."""
        return math.prod(stride for _, _, stride in self.conv_layers)


class WaveformFeatureEncoder(nn.Module):
    """The CNN front end: ``(B, N)`` samples → ``(B, C, T)`` frames, each convolution followed by
    GELU (and its normalisation: GroupNorm on the first only, or LayerNorm on every one)."""

    def __init__(self, config: PublishedHuBERTConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList()
        self.norms = nn.ModuleList()
        in_channels = 1
        for i, (channels, kernel, stride) in enumerate(config.conv_layers):
            self.layers.append(nn.Conv1d(in_channels, channels, kernel, stride, bias=config.conv_bias))
            if config.feature_norm == "layer":
                self.norms.append(nn.LayerNorm(channels, eps=config.layer_norm_eps))
            elif i == 0:
                self.norms.append(nn.GroupNorm(channels, channels, eps=config.layer_norm_eps))
            in_channels = channels
        self.layer_norm = config.feature_norm == "layer"

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        x = waveform[:, None]  # (B, 1, N)
        for i, conv in enumerate(self.layers):
            x = conv(x)
            if self.layer_norm:
                x = self.norms[i](x.transpose(1, 2)).transpose(1, 2)
            elif i == 0:
                x = self.norms[0](x)
            x = F.gelu(x)
        return x  # (B, C, T)


class ConvPositionalEmbedding(nn.Module):
    """A grouped convolution over time whose output is added to the frames: HuBERT's (and
    wav2vec 2.0's) relative positional information. The kernel is weight-normalised over its time
    axis: ``weight = g · v / ‖v‖`` with one ``g`` per kernel position, the norm over the other axes."""

    def __init__(self, config: PublishedHuBERTConfig) -> None:
        super().__init__()
        k, groups, d = config.pos_conv_kernel, config.pos_conv_groups, config.hidden
        self.kernel, self.groups = k, groups
        self.weight_v = nn.Parameter(torch.randn(d, d // groups, k) / math.sqrt(d // groups * k))
        self.weight_g = nn.Parameter(self.weight_v.detach().norm(dim=(0, 1), keepdim=True))  # (1, 1, k)
        self.bias = nn.Parameter(torch.zeros(d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight_g * self.weight_v / self.weight_v.norm(dim=(0, 1), keepdim=True)
        y = F.conv1d(x.transpose(1, 2), weight, self.bias, padding=self.kernel // 2, groups=self.groups)
        if self.kernel % 2 == 0:
            y = y[..., :-1]  # an even kernel with "same" padding makes one frame too many
        return F.gelu(y).transpose(1, 2)  # (B, T, d)


class PublishedEncoderLayer(nn.Module):
    """Self-attention and a GELU feed-forward, each in a residual; LayerNorm after (BASE) or
    before (LARGE, ``pre_norm``)."""

    def __init__(self, config: PublishedHuBERTConfig) -> None:
        super().__init__()
        from .transformer import MultiHeadAttention

        self.self_attn = MultiHeadAttention(config.hidden, config.num_heads)
        self.norm1 = nn.LayerNorm(config.hidden, eps=config.layer_norm_eps)
        self.up = nn.Linear(config.hidden, config.ffn_hidden)
        self.down = nn.Linear(config.ffn_hidden, config.hidden)
        self.norm2 = nn.LayerNorm(config.hidden, eps=config.layer_norm_eps)
        self.pre_norm = config.pre_norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pre_norm:
            h = self.norm1(x)
            x = x + self.self_attn(h, h)[0]
            return x + self.down(F.gelu(self.up(self.norm2(x))))
        x = self.norm1(x + self.self_attn(x, x)[0])
        return self.norm2(x + self.down(F.gelu(self.up(x))))


class PublishedHuBERT(nn.Module):
    """The published HuBERT encoder: 16 kHz waveform ``(B, N)`` → last hidden states
    ``(B, T, hidden)``, one frame per 20 ms (inference: no masking, no dropout).

    waveform CNN → LayerNorm → Linear to ``hidden`` → + convolutional positions → LayerNorm
    (post-norm BASE; pre-norm LARGE normalises at the end instead) → Transformer layers.
    """

    def __init__(self, config: PublishedHuBERTConfig | None = None) -> None:
        super().__init__()
        config = PublishedHuBERTConfig() if config is None else config
        if not isinstance(config, PublishedHuBERTConfig):
            raise TypeError(f"config must be a PublishedHuBERTConfig, got {type(config).__name__}")
        self.config = config
        channels = config.conv_layers[-1][0]
        self.feature_encoder = WaveformFeatureEncoder(config)
        self.feature_norm = nn.LayerNorm(channels, eps=config.layer_norm_eps)
        self.feature_projection = nn.Linear(channels, config.hidden)
        self.pos_conv = ConvPositionalEmbedding(config)
        self.norm = nn.LayerNorm(config.hidden, eps=config.layer_norm_eps)
        self.layers = nn.ModuleList(PublishedEncoderLayer(config) for _ in range(config.num_layers))
        # pre-training replaces masked frames by this vector (as chapter 08b's HuBERT does); unused here
        self.mask_embedding = nn.Parameter(torch.zeros(config.hidden))

    def forward(self, waveform: torch.Tensor, return_layers: bool = False) -> torch.Tensor | list[torch.Tensor]:
        """The last hidden states ``(B, T, hidden)``; with ``return_layers``, the list of every
        layer's output (the last one normalised for a pre-LN model), as the probes read them."""
        return_layers = check_bool("return_layers", return_layers)
        if not isinstance(waveform, torch.Tensor) or waveform.ndim != 2 or not waveform.is_floating_point():
            raise ValueError(f"waveform must be a float tensor (B, N), got {getattr(waveform, 'dtype', type(waveform).__name__)} "
                             f"{tuple(getattr(waveform, 'shape', ()))}")
        if waveform.shape[1] < self.config.receptive_field:
            raise ValueError(f"waveform needs at least {self.config.receptive_field} samples (one frame), got {waveform.shape[1]}")
        frames = self.feature_encoder(waveform).transpose(1, 2)  # (B, T, C)
        x = self.feature_projection(self.feature_norm(frames))  # (B, T, hidden)
        x = x + self.pos_conv(x)
        if not self.config.pre_norm:
            x = self.norm(x)
        outputs = []
        for layer in self.layers:
            x = layer(x)
            outputs.append(x)
        if self.config.pre_norm:
            outputs[-1] = x = self.norm(x)
        return outputs if return_layers else x


def published_config_from_hf(hf_config: dict) -> PublishedHuBERTConfig:
    """The :class:`PublishedHuBERTConfig` of a Hugging Face ``HubertConfig`` given as a dict."""
    if not isinstance(hf_config, dict):
        raise TypeError(f"hf_config must be a dict (HubertConfig.to_dict()), got {type(hf_config).__name__}")
    needed = ("conv_dim", "conv_kernel", "conv_stride", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size")
    missing = [k for k in needed if k not in hf_config]
    if missing:
        raise ValueError(f"hf_config lacks {missing}: is it a HuBERT configuration?")
    for key, expected in (("hidden_act", "gelu"), ("feat_extract_activation", "gelu")):
        if hf_config.get(key, expected) != expected:
            raise ValueError(f"hf_config's {key} is {hf_config[key]!r}; the published HuBERT uses {expected!r}")
    if not hf_config.get("feat_proj_layer_norm", True):
        raise ValueError("hf_config sets feat_proj_layer_norm=False, which this model does not implement")
    if hf_config.get("conv_pos_batch_norm", False):
        raise ValueError("hf_config sets conv_pos_batch_norm=True, which this model does not implement")
    conv = tuple(zip(hf_config["conv_dim"], hf_config["conv_kernel"], hf_config["conv_stride"]))
    return PublishedHuBERTConfig(
        conv_layers=tuple(tuple(int(v) for v in c) for c in conv), conv_bias=bool(hf_config.get("conv_bias", False)),
        feature_norm=hf_config.get("feat_extract_norm", "group"), hidden=hf_config["hidden_size"],
        num_layers=hf_config["num_hidden_layers"], num_heads=hf_config["num_attention_heads"],
        ffn_hidden=hf_config["intermediate_size"], pos_conv_kernel=hf_config.get("num_conv_pos_embeddings", 128),
        pos_conv_groups=hf_config.get("num_conv_pos_embedding_groups", 16),
        layer_norm_eps=float(hf_config.get("layer_norm_eps", 1e-5)), pre_norm=bool(hf_config.get("do_stable_layer_norm", False)))


def _hf_hubert_names(config: PublishedHuBERTConfig) -> dict[str, str]:
    """Our parameter name → Hugging Face's (``HubertModel``, without the ``hubert.`` prefix)."""
    names = {"feature_norm.weight": "feature_projection.layer_norm.weight", "feature_norm.bias": "feature_projection.layer_norm.bias",
             "feature_projection.weight": "feature_projection.projection.weight",
             "feature_projection.bias": "feature_projection.projection.bias",
             "pos_conv.bias": "encoder.pos_conv_embed.conv.bias", "mask_embedding": "masked_spec_embed",
             "norm.weight": "encoder.layer_norm.weight", "norm.bias": "encoder.layer_norm.bias"}
    for i in range(len(config.conv_layers)):
        names[f"feature_encoder.layers.{i}.weight"] = f"feature_extractor.conv_layers.{i}.conv.weight"
        if config.conv_bias:
            names[f"feature_encoder.layers.{i}.bias"] = f"feature_extractor.conv_layers.{i}.conv.bias"
        if config.feature_norm == "layer" or i == 0:
            for p in ("weight", "bias"):
                names[f"feature_encoder.norms.{i}.{p}"] = f"feature_extractor.conv_layers.{i}.layer_norm.{p}"
    for i in range(config.num_layers):
        ours, theirs = f"layers.{i}.", f"encoder.layers.{i}."
        for a, b in (("self_attn.q_proj", "attention.q_proj"), ("self_attn.k_proj", "attention.k_proj"),
                     ("self_attn.v_proj", "attention.v_proj"), ("self_attn.out_proj", "attention.out_proj"),
                     ("norm1", "layer_norm"), ("up", "feed_forward.intermediate_dense"),
                     ("down", "feed_forward.output_dense"), ("norm2", "final_layer_norm")):
            for p in ("weight", "bias"):
                names[ours + a + "." + p] = theirs + b + "." + p
    return names


def from_hf_hubert(state_dict: dict, hf_config: dict) -> PublishedHuBERT:
    """Build :class:`PublishedHuBERT` from the state dict of Hugging Face's ``HubertModel`` (keys
    with or without the ``hubert.`` prefix of the models with a head) and its config as a dict.
    The weight-normalised positional convolution is read in either of PyTorch's layouts
    (``weight_g``/``weight_v``, or ``parametrizations.weight.original0/1``). Weights of heads
    (CTC, the pre-training projection) are ignored; a missing weight, or one of another shape, is
    a ValueError naming it. Returned in eval mode."""
    config = published_config_from_hf(hf_config)
    if not isinstance(state_dict, dict) or not all(isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise TypeError("state_dict must be a dict of tensors (model.state_dict() or a loaded checkpoint)")
    theirs = {k.removeprefix("hubert."): v for k, v in state_dict.items()}
    base = "encoder.pos_conv_embed.conv."
    for new, old in (("weight_g", "parametrizations.weight.original0"), ("weight_v", "parametrizations.weight.original1")):
        if base + old in theirs:
            theirs[base + new] = theirs.pop(base + old)
    names = {**_hf_hubert_names(config), "pos_conv.weight_g": base + "weight_g", "pos_conv.weight_v": base + "weight_v"}
    missing = sorted(hf for hf in names.values() if hf not in theirs)
    if missing:
        raise ValueError(f"state_dict lacks {len(missing)} HuBERT weights for this config, e.g. {missing[:3]}")
    model = PublishedHuBERT(config)
    ours = dict(model.named_parameters())
    loaded = {}
    for name, hf in names.items():
        if theirs[hf].shape != ours[name].shape:
            raise ValueError(f"{hf} has shape {tuple(theirs[hf].shape)}; this config needs {tuple(ours[name].shape)}")
        loaded[name] = theirs[hf]
    model.load_state_dict(loaded, strict=True)
    return model.eval()
