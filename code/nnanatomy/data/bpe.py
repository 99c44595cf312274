"""Byte-level byte-pair encoding, the tokenizer of GPT-2 (chapter 06).

Byte-pair encoding (Sennrich et al., 2016) starts from single symbols and repeatedly merges the
most frequent adjacent pair into a new symbol. GPT-2 (Radford et al., 2019) runs it on the UTF-8
*bytes* of the text, so the 256 byte values are the first tokens and any string, in any script,
encodes without an "unknown" token. Before merging, the text is split into chunks (words with
their leading space, runs of digits, runs of punctuation, white space) and merges never cross a
chunk boundary, so " the" becomes one token but "the." never does.

:class:`BytePairTokenizer` trains on a text, encodes and decodes, and loads GPT-2's published
vocabulary (``encoder.json``/``vocab.json`` and ``merges.txt``) with :meth:`BytePairTokenizer.from_gpt2`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

__all__ = ["BytePairTokenizer", "GPT2_SPLIT", "gpt2_byte_alphabet"]

#: GPT-2's pre-tokenizer, written for Python's ``re``: contractions, letters with an optional
#: leading space, digits, other symbols, white space (a run of spaces before a word leaves its last
#: space to the word). GPT-2 writes ``\p{L}``/``\p{N}``; ``[^\W\d_]`` and ``\d`` are the same
#: classes except for rare numeric characters such as "²".
GPT2_SPLIT = r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+"""


def gpt2_byte_alphabet() -> dict[int, str]:
    """GPT-2's printable stand-in for each byte value (its ``bytes_to_unicode``): the printable
    Latin-1 bytes stand for themselves, the other 68 are shifted to code points 256 and up, so
    that every token of ``vocab.json`` is a printable string."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table, shifted = {}, 0
    for byte in range(256):
        if byte in printable:
            table[byte] = chr(byte)
        else:
            table[byte] = chr(256 + shifted)
            shifted += 1
    return table


class BytePairTokenizer:
    """A byte-level BPE tokenizer.

    Args:
        vocab: the bytes of every token, indexed by token id.
        merges: ``(left id, right id, merged id)`` in the order they were learned (their rank).
        pattern: the pre-tokenizer's regular expression (default GPT-2's).
        special: special tokens (e.g. ``{"<|endoftext|>": 50256}``): decoded, never produced by
            :meth:`encode`.
    """

    def __init__(self, vocab: Sequence[bytes], merges: Sequence[tuple[int, int, int]], pattern: str = GPT2_SPLIT,
                 special: dict[str, int] | None = None) -> None:
        if not isinstance(vocab, Sequence) or not all(isinstance(b, bytes) and b for b in vocab):
            raise TypeError("vocab must be a sequence of non-empty bytes objects, one per token id")
        if not isinstance(pattern, str):
            raise TypeError(f"pattern must be a str (a regular expression), got {type(pattern).__name__}")
        if not isinstance(merges, Sequence):
            raise TypeError(f"merges must be a sequence of (left id, right id, merged id), got {type(merges).__name__}")
        if special is not None and not isinstance(special, dict):
            raise TypeError(f"special must be a dict (token text → id) or None, got {type(special).__name__}")
        self.vocab = list(vocab)
        singles = {b[0]: i for i, b in enumerate(self.vocab) if len(b) == 1}
        if len(singles) != 256:
            raise ValueError(f"vocab must contain all 256 single bytes, it has {len(singles)}")
        self._byte_id = [singles[b] for b in range(256)]
        self.ranks: dict[tuple[int, int], int] = {}
        self._merged: dict[tuple[int, int], int] = {}
        for rank, merge in enumerate(merges):
            if not (isinstance(merge, tuple) and len(merge) == 3 and all(isinstance(i, int) and 0 <= i < len(self.vocab) for i in merge)):
                raise ValueError(f"merge {rank} must be (left id, right id, merged id) of this vocab, got {merge!r}")
            left, right, merged = merge
            if self.vocab[left] + self.vocab[right] != self.vocab[merged]:
                raise ValueError(f"merge {rank}: {self.vocab[left]!r} + {self.vocab[right]!r} is not token {merged} ({self.vocab[merged]!r})")
            self.ranks.setdefault((left, right), rank)
            self._merged.setdefault((left, right), merged)
        self.special = dict(special or {})
        for text, i in self.special.items():
            if not (isinstance(text, str) and isinstance(i, int) and 0 <= i < len(self.vocab)):
                raise ValueError(f"special tokens map str to a token id of this vocab, got {text!r}: {i!r}")
        self.pattern = pattern
        self._split = re.compile(pattern)
        self._split_bytes = re.compile(pattern.encode())
        self._cache: dict[bytes, tuple[int, ...]] = {}

    # -- training ------------------------------------------------------------------------------

    @classmethod
    def train(cls, text: str, vocab_size: int, pattern: str = GPT2_SPLIT) -> BytePairTokenizer:
        """Learn ``vocab_size − 256`` merges from ``text``: each one joins the pair of adjacent
        tokens that occurs most often (ties: the pair of smaller ids), inside the chunks of the
        pre-tokenizer. Stops early if no pair occurs twice."""
        if not isinstance(text, str) or not text:
            raise ValueError("text must be a non-empty str")
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or not 256 <= vocab_size <= 1_000_000:
            raise ValueError(f"vocab_size must be an int in [256, 1000000] (256 byte tokens + merges), got {vocab_size!r}")
        if not isinstance(pattern, str):
            raise TypeError(f"pattern must be a str (a regular expression), got {type(pattern).__name__}")
        vocab = [bytes([b]) for b in range(256)]
        chunks = Counter(chunk.encode("utf-8") for chunk in re.findall(pattern, text))
        words = [[list(chunk), count] for chunk, count in chunks.items()]  # token ids of each distinct chunk
        merges: list[tuple[int, int, int]] = []
        while len(vocab) < vocab_size:
            pairs: Counter[tuple[int, int]] = Counter()
            for ids, count in words:
                for pair in zip(ids, ids[1:]):
                    pairs[pair] += count
            if not pairs:
                break
            best = max(pairs.items(), key=lambda item: (item[1], -item[0][0], -item[0][1]))
            if best[1] < 2:
                break
            (left, right), new = best[0], len(vocab)
            vocab.append(vocab[left] + vocab[right])
            merges.append((left, right, new))
            for word in words:
                word[0] = _merge(word[0], left, right, new)
        return cls(vocab, merges, pattern)

    # -- encoding ------------------------------------------------------------------------------

    def _encode_chunk(self, chunk: bytes) -> tuple[int, ...]:
        cached = self._cache.get(chunk)
        if cached is not None:
            return cached
        ids = [self._byte_id[b] for b in chunk]
        while len(ids) > 1:  # apply the earliest-learned merge present, as in training
            pair = min(zip(ids, ids[1:]), key=lambda p: self.ranks.get(p, float("inf")))
            if pair not in self.ranks:
                break
            ids = _merge(ids, pair[0], pair[1], self._merged[pair])
        result = tuple(ids)
        if len(self._cache) < 100_000:
            self._cache[chunk] = result
        return result

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (any Unicode string)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str (use encode_bytes for bytes), got {type(text).__name__}")
        ids: list[int] = []
        for chunk in self._split.findall(text):
            ids.extend(self._encode_chunk(chunk.encode("utf-8", errors="surrogatepass")))
        return ids

    def encode_bytes(self, data: bytes) -> list[int]:
        """Token ids of arbitrary bytes (not necessarily UTF-8); ``decode_bytes`` inverts it."""
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError(f"data must be bytes, got {type(data).__name__}")
        ids: list[int] = []
        for chunk in self._split_bytes.findall(bytes(data)):
            ids.extend(self._encode_chunk(chunk))
        return ids

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """The bytes the tokens stand for."""
        if not isinstance(ids, Iterable) or isinstance(ids, (str, bytes)):
            raise TypeError(f"ids must be an iterable of token ids, got {type(ids).__name__}")
        out = []
        for i in ids:
            if isinstance(i, bool) or not hasattr(i, "__index__") or not 0 <= int(i) < len(self.vocab):
                raise ValueError(f"token ids must be ints in [0, {len(self.vocab)}), got {i!r}")
            out.append(self.vocab[int(i)])
        return b"".join(out)

    def decode(self, ids: Iterable[int]) -> str:
        """The text the tokens stand for. A cut through a multi-byte character (possible when
        decoding part of a sequence) shows as U+FFFD."""
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def tokens(self, text: str) -> list[str]:
        """The pieces ``text`` is cut into, for display (a piece that is not whole UTF-8 shows U+FFFD)."""
        return [self.vocab[i].decode("utf-8", errors="replace") for i in self.encode(text)]

    # -- GPT-2's published files ---------------------------------------------------------------

    @classmethod
    def from_gpt2(cls, encoder: dict[str, int], merges: Sequence[str]) -> BytePairTokenizer:
        """GPT-2's tokenizer from its published files: ``encoder`` is ``encoder.json`` (or
        ``vocab.json``) loaded with :func:`json.load`, ``merges`` the lines of ``merges.txt``
        (a ``#version`` header line is skipped). Token ids are GPT-2's."""
        if not isinstance(encoder, dict) or not encoder:
            raise TypeError("encoder must be the dict of encoder.json (token string → id)")
        if not isinstance(merges, Sequence) or isinstance(merges, str):
            raise TypeError(f"merges must be the list of lines of merges.txt, got {type(merges).__name__}")
        if not all(isinstance(t, str) and isinstance(i, int) and not isinstance(i, bool) for t, i in encoder.items()):
            raise TypeError("encoder must map token strings to int ids")
        if sorted(encoder.values()) != list(range(len(encoder))):
            raise ValueError("encoder's ids must be 0 … n−1, each once")
        rules: list[tuple[int, int, int]] = []
        for line in merges:
            if not isinstance(line, str):
                raise TypeError("merges must be the lines of merges.txt (str)")
            if line.startswith("#version") or not line.strip():
                continue
            parts = line.split()
            if len(parts) != 2 or parts[0] + parts[1] not in encoder or parts[0] not in encoder or parts[1] not in encoder:
                raise ValueError(f"merges line {line!r} does not join two tokens of encoder into a third")
            rules.append((encoder[parts[0]], encoder[parts[1]], encoder[parts[0] + parts[1]]))
        # a token is one byte's stand-in, or made by a merge; anything else (<|endoftext|>) is special
        alphabet = {c: b for b, c in gpt2_byte_alphabet().items()}
        made = {merged for _, _, merged in rules}
        vocab: list[bytes] = [b""] * len(encoder)
        special: dict[str, int] = {}
        for token, i in encoder.items():
            if (len(token) == 1 or i in made) and all(c in alphabet for c in token):
                vocab[i] = bytes(alphabet[c] for c in token)
            else:
                vocab[i] = token.encode("utf-8")
                special[token] = i
        return cls(vocab, rules, GPT2_SPLIT, special)

    def __repr__(self) -> str:
        return f"BytePairTokenizer(vocab_size={self.vocab_size}, merges={len(self.ranks)})"


def _merge(ids: list[int], left: int, right: int, new: int) -> list[int]:
    """``ids`` with every non-overlapping ``left, right`` (read left to right) replaced by ``new``."""
    out, i, n = [], 0, len(ids)
    while i < n:
        if i + 1 < n and ids[i] == left and ids[i + 1] == right:
            out.append(new)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out
