"""Checkers for the self-study exercises, one module per chapter (``exercises.dnn``, ...).

A checker returns a :class:`CheckResult` (shown as a verdict, truthy when the answer is
right); passed ``None`` (the notebook's placeholder), it says the exercise is not answered yet.
"""

from . import anatomy, cnn, diffusion, dit, dnn, gpt, lab, lstm, moe, reverbnet, rnn, scale_out, stability, transformer, unet
from ._report import CheckResult

__all__ = ["CheckResult", "anatomy", "cnn", "diffusion", "dit", "dnn", "gpt", "lab", "lstm", "moe", "reverbnet", "rnn", "scale_out", "stability", "transformer", "unet"]
