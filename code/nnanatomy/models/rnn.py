"""Recurrent models in PyTorch (chapters 03 and 04): a character language model and a
sequence regressor, each with a choice of cell (``"rnn"``, ``"lstm"``, ``"gru"``)."""

from __future__ import annotations

import math

from dataclasses import dataclass

import torch
from torch import nn

from .._checks import outside

from ..runtime import eval_mode

__all__ = ["CELLS", "CharRNN", "CharRNNConfig", "SequenceRegressor", "SequenceRegressorConfig"]

CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def _check_positive(owner: str, **values: object) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{owner}.{name} must be a positive int, got {value!r}")


def _check_cell(owner: str, cell: str) -> None:
    if cell not in CELLS:
        raise ValueError(f"{owner}.cell must be one of {sorted(CELLS)}, got {cell!r}")


@dataclass
class CharRNNConfig:
    vocab_size: int
    embed_dim: int = 32
    hidden_size: int = 128
    cell: str = "rnn"

    def __post_init__(self) -> None:
        _check_positive("CharRNNConfig", vocab_size=self.vocab_size, embed_dim=self.embed_dim, hidden_size=self.hidden_size)
        _check_cell("CharRNNConfig", self.cell)


class CharRNN(nn.Module):
    """Next-character model: ``y_t = W_hy h_t + b_y`` scores every character of the vocabulary.

    ids ``(B, T)`` → embedding ``(B, T, E)`` → recurrent layer ``(B, T, H)`` → logits ``(B, T, V)``.
    The logit vector at step t has one entry per character; the highest is the prediction.
    """

    def __init__(self, config: CharRNNConfig) -> None:
        super().__init__()
        if not isinstance(config, CharRNNConfig):
            raise TypeError(f"config must be a CharRNNConfig, got {type(config).__name__}")
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.embed_dim)
        self.rnn = CELLS[config.cell](config.embed_dim, config.hidden_size, batch_first=True)
        self.head = nn.Linear(config.hidden_size, config.vocab_size)

    def forward(self, ids: torch.Tensor, state: object = None) -> tuple[torch.Tensor, object]:
        """Returns ``(logits (B, T, V), state)``; pass ``state`` back in to continue a sequence."""
        if not isinstance(ids, torch.Tensor) or ids.dtype != torch.long or ids.ndim != 2:
            raise TypeError("ids must be a (B, T) torch.long tensor of character ids")
        if outside(ids, 0, self.config.vocab_size):
            raise ValueError(f"ids must be in [0, {self.config.vocab_size})")
        hidden, state = self.rnn(self.embed(ids), state)  # (B, T, H)
        return self.head(hidden), state

    @torch.no_grad()
    def greedy_decode(
        self, prompt: torch.Tensor, max_new_tokens: int, stop_id: int | None = None
    ) -> tuple[list[int], torch.Tensor]:
        """Greedy decoding: feed the prompt, then repeatedly append the highest-scoring character.

        Returns the new ids and the probability vector at every generated step ``(n, V)``.
        """
        if not isinstance(prompt, torch.Tensor) or prompt.ndim != 1 or prompt.numel() == 0:
            raise ValueError("prompt must be a non-empty 1-D tensor of ids")
        _check_positive("greedy_decode", max_new_tokens=max_new_tokens)
        with eval_mode(self):
            device = next(self.parameters()).device
            logits, state = self(prompt.to(device)[None])
            new_ids, probs = [], []
            for _ in range(max_new_tokens):
                p = torch.softmax(logits[0, -1], dim=-1)  # (V,): y_t as probabilities
                next_id = int(p.argmax())  # greedy: the best character now, no look-ahead
                new_ids.append(next_id)
                probs.append(p.cpu())
                if stop_id is not None and next_id == stop_id:
                    break
                logits, state = self(torch.tensor([[next_id]], device=device), state)
        return new_ids, torch.stack(probs)

    @torch.no_grad()
    def sample(self, prompt: torch.Tensor, max_new_tokens: int, *, num_samples: int = 1, temperature: float = 1.0,
               stop_id: int | None = None, generator: torch.Generator | None = None) -> list[list[int]]:
        """``num_samples`` continuations of ``prompt``, drawn in parallel: at every step the next
        character is *sampled* from ``softmax(logits / temperature)`` (below 1: sharper, towards
        greedy; above 1: flatter, towards uniform). A continuation ends after ``stop_id``.
        Returns the new ids of each sample (without the prompt)."""
        if not isinstance(prompt, torch.Tensor) or prompt.ndim != 1 or prompt.numel() == 0:
            raise ValueError("prompt must be a non-empty 1-D tensor of ids")
        _check_positive("sample", max_new_tokens=max_new_tokens, num_samples=num_samples)
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not (0 < temperature < float("inf")):
            raise ValueError(f"temperature must be a positive finite number, got {temperature!r}")
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be None or a torch.Generator, got {type(generator).__name__}")
        if stop_id is not None and (isinstance(stop_id, bool) or not isinstance(stop_id, int)
                                    or not 0 <= stop_id < self.config.vocab_size):
            raise ValueError(f"stop_id must be None or a character id in [0, {self.config.vocab_size}), got {stop_id!r}")
        with eval_mode(self):
            device = next(self.parameters()).device
            logits, state = self(prompt.to(device)[None].expand(num_samples, -1))
            out: list[list[int]] = [[] for _ in range(num_samples)]
            done = torch.zeros(num_samples, dtype=torch.bool)
            for _ in range(max_new_tokens):
                p = torch.softmax(logits[:, -1].float().cpu() / temperature, dim=-1)  # (N, V)
                nxt = torch.multinomial(p, 1, generator=generator)[:, 0]  # (N,)
                for i in torch.nonzero(~done)[:, 0].tolist():
                    out[i].append(int(nxt[i]))
                if stop_id is not None:
                    done |= nxt == stop_id
                    if bool(done.all()):
                        break
                logits, state = self(nxt.to(device)[:, None], state)
        return out


@dataclass
class SequenceRegressorConfig:
    input_size: int = 2
    hidden_size: int = 64
    cell: str = "lstm"
    # LSTM only: set the forget gate's bias b_f (bias_ih + bias_hh of its rows) to this value;
    # None keeps PyTorch's random default, whose mean is 0
    forget_bias: float | None = None

    def __post_init__(self) -> None:
        _check_positive("SequenceRegressorConfig", input_size=self.input_size, hidden_size=self.hidden_size)
        _check_cell("SequenceRegressorConfig", self.cell)
        if self.forget_bias is not None:
            if self.cell != "lstm":
                raise ValueError(f"SequenceRegressorConfig.forget_bias is an LSTM setting; cell is {self.cell!r}")
            if isinstance(self.forget_bias, bool) or not isinstance(self.forget_bias, (int, float)) or not math.isfinite(self.forget_bias):
                raise ValueError(f"SequenceRegressorConfig.forget_bias must be a finite number or None, got {self.forget_bias!r}")


class SequenceRegressor(nn.Module):
    """Reads a whole sequence ``(B, T, D)`` and predicts one number per sequence from the last
    hidden state: ``(B,)``."""

    def __init__(self, config: SequenceRegressorConfig | None = None) -> None:
        super().__init__()
        config = SequenceRegressorConfig() if config is None else config
        if not isinstance(config, SequenceRegressorConfig):
            raise TypeError(f"config must be a SequenceRegressorConfig, got {type(config).__name__}")
        self.config = config
        self.rnn = CELLS[config.cell](config.input_size, config.hidden_size, batch_first=True)
        self.head = nn.Linear(config.hidden_size, 1)
        if config.forget_bias is not None:
            h = config.hidden_size
            with torch.no_grad():  # PyTorch's gate order is i, f, g, o: rows h..2h are the forget gate's
                self.rnn.bias_ih_l0[h:2 * h] = float(config.forget_bias)
                self.rnn.bias_hh_l0[h:2 * h] = 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.ndim != 3 or x.shape[2] != self.config.input_size:
            raise ValueError(f"SequenceRegressor expects (B, T, {self.config.input_size}), got {getattr(x, 'shape', type(x).__name__)}")
        hidden, _ = self.rnn(x)  # (B, T, H)
        return self.head(hidden[:, -1]).squeeze(-1)  # (B,)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
