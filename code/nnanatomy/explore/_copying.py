"""Copying a model that has been run: ``copy.deepcopy`` refuses a module that keeps a tensor with
a graph behind it (an MoE layer's last auxiliary loss, kept for the training loop to add), so such
attributes are copied detached."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn


def _graph_tensors(obj: Any, found: dict[int, torch.Tensor], depth: int = 0) -> None:
    if depth > 4:
        return
    if isinstance(obj, torch.Tensor):
        if not obj.is_leaf:
            found[id(obj)] = obj
    elif isinstance(obj, dict):
        for value in obj.values():
            _graph_tensors(value, found, depth + 1)
    elif isinstance(obj, (list, tuple, set)):
        for value in obj:
            _graph_tensors(value, found, depth + 1)


def deepcopy_module(model: nn.Module, memo: dict[int, Any] | None = None) -> nn.Module:
    """``copy.deepcopy(model, memo)``, with every non-leaf tensor the modules keep as an attribute
    (outside their parameters and submodules) copied as ``tensor.detach().clone()``."""
    memo = {} if memo is None else memo
    found: dict[int, torch.Tensor] = {}
    for module in model.modules():
        for key, value in vars(module).items():
            if key not in ("_parameters", "_modules"):
                _graph_tensors(value, found)
    for key, tensor in found.items():
        memo.setdefault(key, tensor.detach().clone())
    return copy.deepcopy(model, memo)
