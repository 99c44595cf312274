"""A count-based character n-gram language model: the baseline a neural language model must beat.

``P(c | h)`` is estimated from counts with *interpolated absolute discounting*: every observed
count of the context ``h`` (the previous ``order − 1`` characters) gives up a discount D, and the
mass freed is spread according to the model of the next-shorter context, down to a uniform
distribution over the vocabulary. It is a strong, classic baseline; it cannot see further back
than ``order − 1`` characters.
"""

from __future__ import annotations

import math
from collections import defaultdict

__all__ = ["NGramLM"]


class NGramLM:
    """Character n-gram model with interpolated absolute discounting."""

    def __init__(self, order: int, discount: float = 0.75) -> None:
        if isinstance(order, bool) or not isinstance(order, int) or order < 1:
            raise ValueError(f"order must be a positive int, got {order!r}")
        if not 0.0 < discount < 1.0:
            raise ValueError(f"discount must be in (0, 1), got {discount}")
        self.order, self.discount = order, discount
        self.counts: list[dict[str, dict[str, int]]] = []
        self.vocab: frozenset[str] = frozenset()

    def fit(self, text: str, vocab: str | None = None) -> NGramLM:
        """Count every context of length 0 … order − 1 and its next character."""
        if not isinstance(text, str) or len(text) < 2:
            raise ValueError("text must be a string of at least two characters")
        self.vocab = frozenset(vocab if vocab is not None else text)
        self.counts = [defaultdict(lambda: defaultdict(int)) for _ in range(self.order)]
        for i in range(1, len(text)):
            c = text[i]
            for n in range(min(self.order, i + 1)):
                self.counts[n][text[i - n : i]][c] += 1
        # freeze the nested dicts and precompute totals and type counts
        self._totals = [{h: sum(nxt.values()) for h, nxt in level.items()} for level in self.counts]
        self._types = [{h: len(nxt) for h, nxt in level.items()} for level in self.counts]
        self.counts = [{h: dict(nxt) for h, nxt in level.items()} for level in self.counts]
        return self

    def with_order(self, order: int) -> NGramLM:
        """The model of a lower ``order`` on the same text, without counting again: the counts of
        contexts up to ``order − 1`` characters do not depend on the longest context counted, so
        this equals ``NGramLM(order, discount).fit(text, vocab)`` exactly. The tables are shared."""
        if not self.counts:
            raise RuntimeError("call fit(text) first")
        if isinstance(order, bool) or not isinstance(order, int) or not 1 <= order <= self.order:
            raise ValueError(f"order must be an int in [1, {self.order}] (this model's order), got {order!r}")
        lower = NGramLM(order, self.discount)
        lower.vocab = self.vocab
        lower.counts, lower._totals, lower._types = self.counts[:order], self._totals[:order], self._types[:order]
        return lower

    def prob(self, history: str, c: str) -> float:
        """``P(c | history)``, using at most the last ``order − 1`` characters of ``history``."""
        if not self.counts:
            raise RuntimeError("call fit(text) first")
        p = 1.0 / len(self.vocab)
        d = self.discount
        for n in range(0, min(self.order, len(history) + 1)):
            h = history[len(history) - n :] if n else ""
            total = self._totals[n].get(h)
            if not total:
                break  # unseen context: longer ones are unseen too
            count = self.counts[n][h].get(c, 0)
            p = max(count - d, 0.0) / total + d * self._types[n][h] / total * p
        return p

    def cross_entropy(self, text: str) -> float:
        """Mean −log P of every character of ``text`` after the first, in nats."""
        if len(text) < 2:
            raise ValueError("text must have at least two characters")
        unknown = set(text) - self.vocab
        if unknown:
            raise ValueError(f"characters never seen in fit: {sorted(unknown)}")
        k = self.order - 1
        total = sum(-math.log(self.prob(text[max(0, i - k) : i], text[i])) for i in range(1, len(text)))
        return total / (len(text) - 1)
