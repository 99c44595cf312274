"""Speed targets of the course, measured and printed (not asserted: timings belong to machines).

    .venv/bin/python tools/benchmarks.py

- ``explore.summary`` of the published-width separation network (chapter 12, 31.6 M parameters)
  on one 512-frame window at n_fft = 2048: target ≤ 3 s on a 2-core CPU. It runs on the
  ``meta`` device — shapes only — because one real forward pass of that window costs about
  0.9 TFLOP (≈ 13 s on the same CPU). Issue target for the lens: ≤ 1 s.
- ``explore.summary`` of GPT-2 124M (the book's GPT with ``GPTConfig.gpt2()``) at 1,024 tokens on
  ``meta``: target ≤ 3 s (one real forward pass is about 0.3 TFLOP).
- ``explore.summary`` of ResNet-18 at 224×224 on ``meta``.
- ``explore.summary(..., backward=True)`` of GPT-2 124M and ResNet-18 on ``meta``: the backward
  pass counted per layer, and its ratio to the forward.
- ``explore.memory``: the predicted peak of one Adam training step against the peak measured
  with the profiler's memory timeline, on five models (an MLP, the digits CNN, chapter 06's GPT,
  ResNet-18, A3's ViT; ``tests/test_explore_memory.py`` asserts |error| ≤ 10 % on the same five),
  and on the chapter-04 LSTM, whose fused kernel's workspace the prediction does not model.
  On a machine with CUDA the same table is printed again for the GPU (``max_memory_allocated``).
"""

from __future__ import annotations

import sys
import time

import torch

from course import ROOT

sys.path.insert(0, str(ROOT / "code"))
from nnanatomy import explore, models  # noqa: E402
from nnanatomy.models.uvr5 import CascadedASPPNet  # noqa: E402


def best_of(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    model = CascadedASPPNet(2048).eval()
    window = torch.rand(1, 2, 1025, 512)
    seconds = best_of(lambda: explore.summary(model, window, device="meta"))
    s = explore.summary(model, window, device="meta")
    print(f"summary of the published separation network (meta, one 512-frame window): {seconds:.2f} s "
          f"(target ≤ 1 s) — {s.total_params:,} parameters, {s.total_flops / 1e9:.0f} GFLOPs, "
          f"{explore.format_bytes(s.activation_bytes)} of activations")

    with torch.device("meta"):  # built on meta too: no 0.5 GB of weights to initialise
        gpt2 = models.GPT(models.GPTConfig.gpt2())
    tokens = torch.zeros(1, 1024, dtype=torch.long)
    seconds = best_of(lambda: explore.summary(gpt2, tokens, device="meta"))
    s = explore.summary(gpt2, tokens, device="meta")
    print(f"summary of GPT-2 124M (meta, 1,024 tokens): {seconds:.2f} s (target ≤ 3 s) — {s.total_params:,} parameters, "
          f"{s.total_flops / 1e9:.0f} GFLOPs")

    resnet = models.resnet18()
    image = torch.zeros(1, 3, 224, 224)
    seconds = best_of(lambda: explore.summary(resnet, image, device="meta"))
    s = explore.summary(resnet, image, device="meta")
    print(f"summary of ResNet-18 (meta, one 224×224 image): {seconds:.2f} s — {s.total_params:,} parameters, "
          f"{s.total_macs / 1e9:.3f} GMACs (the '1.8 GFLOPs' usually quoted)")

    for name, model_, inputs in (("GPT-2 124M, 1,024 tokens", gpt2, tokens), ("ResNet-18, one 224×224 image", resnet, image)):
        seconds = best_of(lambda: explore.summary(model_, inputs, device="meta", backward=True))
        s = explore.summary(model_, inputs, device="meta", backward=True)
        print(f"summary with the backward pass of {name} (meta): {seconds:.2f} s — forward {s.total_flops / 1e9:.1f} GFLOPs, "
              f"backward {s.total_backward_flops / 1e9:.1f} GFLOPs ({s.total_backward_flops / s.total_flops:.3f} × forward)")
    memory_table("cpu")
    if torch.cuda.is_available():  # max_memory_allocated against the prediction (multi-tensor Adam on CUDA)
        memory_table("cuda")
    return 0


def memory_table(device: str) -> None:
    """Predicted vs measured peak of one training step (Adam) on ``device``."""
    from torch import nn

    from nnanatomy.models.lab import ViTClassifier

    torch.manual_seed(0)
    ids = torch.randint(0, 40, (32, 64))
    cases = {
        "MLP 256-1024-1024-10, batch 512": (nn.Sequential(nn.Linear(256, 1024), nn.ReLU(), nn.Dropout(0.1), nn.Linear(1024, 1024),
                                                          nn.GELU(), nn.Linear(1024, 10)), torch.randn(512, 256)),
        "digits CNN (ch. 02), batch 64": (models.CNNClassifier(models.CNNConfig()), torch.randn(64, 1, 8, 8)),
        "GPT (ch. 06), 32 × 64 tokens": (models.GPT(models.GPTConfig(vocab_size=40, dropout=0.1)), ids),
        "ResNet-18, 4 × 64 × 64": (models.resnet18(num_classes=10), torch.randn(4, 3, 64, 64)),
        "ViT (A3), batch 64": (ViTClassifier(), torch.randn(64, 1, 8, 8)),
        "LSTM language model (ch. 04), 32 × 64": (models.CharRNN(models.CharRNNConfig(vocab_size=40, cell="lstm")), ids),
    }
    title = f"explore.memory, one Adam step on {'this CPU' if device == 'cpu' else torch.cuda.get_device_name()}"
    print(f"\n{title:42s} {'predicted peak':>15s} {'measured':>10s} {'error':>7s}   time")
    for name, (model, batch) in cases.items():
        start = time.perf_counter()
        r = explore.memory(model, batch, device=device)
        seconds = time.perf_counter() - start
        print(f"{name:42s} {explore.format_bytes(r.predicted_peak):>15s} {explore.format_bytes(r.measured_peak):>10s} "
              f"{r.error:+7.1%}   {seconds:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
