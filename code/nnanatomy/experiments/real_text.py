"""Chapter 06 on real text: the chapter's character GPT trained on English prose that ships with
Python itself — the help topics of the standard library's documentation (``pydoc_data``) — and
judged against general-purpose compressors.

``text()`` is the corpus (every topic, in sorted order; about 465,000 characters) and
``split()`` its first 90 % for training, the last 10 % for testing. ``compressors()`` measures
bits per character of the test text for ``bz2`` and ``lzma`` (and ``zlib``), both alone and
*given the training text* — the compressed size of training + test text minus that of the
training text alone, which is what a compressor adds for the test text once it has read the
training text, as the model has. ``run(seed)`` trains the GPT on the first 90 % of the training
text, records the bits per character of the rest of it (validation) and of the test text after
every epoch, and keeps the weights of the best validation epoch (early stopping);
``tools/real_text_sweep.py`` runs three seeds and the n-gram baseline (its order chosen on the
same validation text) and stores them (``load_results``).
"""

from __future__ import annotations

import bz2
import hashlib
import lzma
import math
import time
import zlib
from pathlib import Path

import torch
import torch.nn.functional as F

from .. import data, train
from . import _stored
from .._checks import check_int
from ..models.gpt import GPT, GPTConfig, sliding_cross_entropy
from ..models.ngram import NGramLM

__all__ = ["RECIPE", "RESULTS", "compressors", "fingerprint", "load_results", "ngram_baseline", "run", "split", "text"]

#: The chapter's GPT shape (its CPU size) with more epochs: real text has far more to learn.
RECIPE = {"max_seq_len": 64, "d_model": 96, "num_heads": 4, "num_layers": 3, "epochs": 20, "patience": 3, "batch_size": 32,
          "lr": 2e-3, "weight_decay": 0.01, "clip": 1.0, "test_fraction": 0.1, "valid_fraction": 0.1}
#: Where ``tools/real_text_sweep.py`` stores its runs (shipped with the package, for Colab).
RESULTS = "results/real_text_sweep.json"
LN2 = math.log(2)


def text() -> str:
    """Every help topic of the standard library's ``pydoc_data.topics``, sorted by name, joined by newlines."""
    from pydoc_data.topics import topics

    return "\n".join(topics[name] for name in sorted(topics))


def split(corpus: str | None = None) -> tuple[str, str]:
    """``(train, test)``: the first 90 % of the characters and the last 10 %."""
    corpus = text() if corpus is None else corpus
    if not isinstance(corpus, str) or len(corpus) < 100:
        raise ValueError("corpus must be a str of at least 100 characters")
    cut = round(len(corpus) * (1 - RECIPE["test_fraction"]))
    return corpus[:cut], corpus[cut:]


def fingerprint(corpus: str) -> str:
    """The first 16 hex digits of the SHA-256 of the UTF-8 text: which text a stored run saw."""
    if not isinstance(corpus, str):
        raise TypeError(f"corpus must be a str, got {type(corpus).__name__}")
    return hashlib.sha256(corpus.encode()).hexdigest()[:16]


def compressors(train_text: str, test_text: str) -> dict[str, dict[str, float]]:
    """Bits per character of ``test_text`` for bz2 (level 9), lzma (preset 9, extreme) and zlib
    (level 9): ``{"alone": ..., "given training text": ...}`` for each."""
    for name, value in (("train_text", train_text), ("test_text", test_text)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"{name} must be a non-empty str")
    packers = {"bz2": lambda b: bz2.compress(b, 9), "lzma": lambda b: lzma.compress(b, preset=9 | lzma.PRESET_EXTREME),
               "zlib": lambda b: zlib.compress(b, 9)}
    train_bytes, test_bytes = train_text.encode(), test_text.encode()
    out = {}
    for name, pack in packers.items():
        alone = len(pack(test_bytes))
        given = len(pack(train_bytes + test_bytes)) - len(pack(train_bytes))
        out[name] = {"alone": 8 * alone / len(test_text), "given training text": 8 * given / len(test_text)}
    return out


def ngram_baseline(orders: tuple[int, ...] = (3, 4, 5, 6, 7, 8)) -> dict:
    """The character n-gram of chapter 06 on this text: the order chosen on the last tenth of the
    training text, refitted on the whole training text and scored on the test text (bits/char)."""
    if not isinstance(orders, tuple) or not orders or not all(isinstance(o, int) and not isinstance(o, bool) and o >= 1 for o in orders):
        raise ValueError(f"orders must be a non-empty tuple of positive ints, got {orders!r}")
    train_text, test_text = split()
    vocab = "".join(sorted(set(train_text + test_text)))
    cut = round(len(train_text) * 0.9)
    longest = NGramLM(max(orders)).fit(train_text[:cut], vocab=vocab)
    valid = {o: longest.with_order(o).cross_entropy(train_text[cut:]) / LN2 for o in orders}
    best = min(valid, key=valid.get)
    test = NGramLM(best).fit(train_text, vocab=vocab).cross_entropy(test_text) / LN2
    return {"valid_bits_per_char": {str(o): v for o, v in valid.items()}, "order": best, "test_bits_per_char": test}


def run(seed: int, *, epochs: int | None = None, device: torch.device | str = "cpu") -> dict:
    """Train the GPT and return its record: the validation and test bits per character after every
    epoch, the epoch whose weights were kept (best validation; training stops after
    ``RECIPE["patience"]`` epochs without a better one) and its test bits per character, the
    parameters, the text's fingerprint and the wall time."""
    seed = check_int("seed", seed, 0)
    r = RECIPE
    epochs = r["epochs"] if epochs is None else check_int("epochs", epochs, 1)
    train_text, test_text = split()
    vocab = data.CharVocab.from_text(train_text + test_text)
    cut = round(len(train_text) * (1 - r["valid_fraction"]))
    x, y = data.next_token_windows(vocab.encode(train_text[:cut]), r["max_seq_len"])
    valid_ids, test_ids = torch.tensor(vocab.encode(train_text[cut:])), torch.tensor(vocab.encode(test_text))
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=len(vocab), max_seq_len=r["max_seq_len"], d_model=r["d_model"], num_heads=r["num_heads"],
                          num_layers=r["num_layers"]))

    def loss(m: torch.nn.Module, batch) -> torch.Tensor:
        inputs, targets = batch
        logits, _ = m(inputs)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))

    optimizer = torch.optim.AdamW(model.parameters(), lr=r["lr"], weight_decay=r["weight_decay"])
    start = time.perf_counter()
    history = train.fit(model, data.tensor_loader(x, y, batch_size=r["batch_size"], seed=seed), optimizer=optimizer,
                        batch_loss=loss, epochs=epochs, device=device, clip_grad_norm=r["clip"], progress=False,
                        scheduler=torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs),
                        keep_best="valid", patience=r["patience"],
                        evaluate=lambda m: {"valid": sliding_cross_entropy(m, valid_ids.to(device)) / LN2,
                                            "test": sliding_cross_entropy(m, test_ids.to(device)) / LN2})
    test = [float(v) for v in history.metrics["test"]]
    return {"seed": seed, "epochs": epochs, "parameters": model.num_parameters(), "vocab_size": len(vocab),
            "steps_per_epoch": math.ceil(len(x) / r["batch_size"]), "text": fingerprint(train_text + test_text),
            "valid_bits_per_char": [float(v) for v in history.metrics["valid"]], "test_bits_per_char": test,
            "best_epoch": history.best_epoch, "test_bits_per_char_at_best": test[history.best_epoch - 1],
            "seconds": round(time.perf_counter() - start, 1)}


def load_results(path: str | Path | None = None) -> dict:
    """The stored sweep: ``{"command": ..., "runs": [record of :func:`run`, ...], "ngram": ...}``.

    By default the file shipped inside the package; ``path`` reads another one.
    """
    return _stored.load(RESULTS, path, "a sweep file")

