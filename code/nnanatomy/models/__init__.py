"""PyTorch models of the course, one file per family; configs are dataclasses."""

from .mlp import MLP, MLPConfig

__all__ = ["MLP", "MLPConfig"]
