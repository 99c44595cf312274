"""Experiments that more than one place runs — a chapter live, and a script in ``tools/`` that
runs all their configurations and seeds — so that both run exactly the same code."""

from .. import _guard
from . import (adding, digits, dit, gpt_choices, guidance, lab, lookahead, moe, real_text, reverbnet, segmentation, speech_design,
               translation)

_guard.install(adding, digits, dit, gpt_choices, guidance, lab, lookahead, moe, real_text, reverbnet, segmentation, speech_design,
               translation)

__all__ = ["adding", "digits", "dit", "gpt_choices", "guidance", "lab", "lookahead", "moe", "real_text", "reverbnet", "segmentation",
           "speech_design", "translation"]
