"""Message passing in NumPy (appendix A3): one layer each of GCN, GraphSAGE and GAT, written as
"gather the neighbours' messages, aggregate, update" — equal to the PyTorch layers of
``nnanatomy.models.lab`` in float64 (tested)."""

from __future__ import annotations

import numpy as np

from ._checks import as_float_array

__all__ = ["chebyshev_filter", "gat_layer", "gcn_layer", "laplacian", "normalized_adjacency", "sage_layer", "spectral_filter"]


def _check(adj: np.ndarray, h: np.ndarray | None = None, **weights: np.ndarray) -> None:
    """Float arrays without NaN: adjacency (N, N), features (N, F), and the named weights."""
    adj = as_float_array("adj", adj, ndim=2)
    if adj.shape[0] != adj.shape[1]:
        raise ValueError(f"adjacency must be square (N, N), got {adj.shape}")
    if np.any(adj < 0) or not np.isfinite(adj).all():
        raise ValueError("adjacency must hold finite, non-negative edge weights")
    if h is not None:
        h = as_float_array("h", h, ndim=2)
        if len(h) != len(adj):
            raise ValueError(f"need adjacency (N, N) and features (N, F), got {adj.shape} and {h.shape}")
    for name, value in weights.items():
        as_float_array(name, value)


def normalized_adjacency(adj: np.ndarray) -> np.ndarray:
    """``D^{-1/2} (A + I) D^{-1/2}``."""
    _check(adj)
    a = adj + np.eye(len(adj))
    d = 1 / np.sqrt(a.sum(1))
    return d[:, None] * a * d[None, :]


def laplacian(adj: np.ndarray) -> np.ndarray:
    """The symmetric normalised Laplacian ``I − D^{-1/2} A D^{-1/2}`` (isolated nodes: rows of I)."""
    _check(adj)
    deg = adj.sum(1)
    d = np.where(deg > 0, 1 / np.sqrt(np.maximum(deg, 1e-300)), 0.0)
    return np.eye(len(adj)) - d[:, None] * adj * d[None, :]


def gcn_layer(adj: np.ndarray, h: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Node by node: ``h_i' = Σ_{j ∈ N(i) ∪ {i}} h_j W^T / √(d_i d_j) + b`` with degrees of A + I."""
    _check(adj, h, weight=weight, bias=bias)
    degree = adj.sum(1) + 1  # the self-loop counts
    messages = h @ weight.T
    out = np.zeros_like(messages)
    for i in range(len(h)):
        out[i] = messages[i] / degree[i]  # its own message
        for j in np.flatnonzero(adj[i]):  # and each neighbour's, weighted by 1/√(d_i d_j)
            out[i] += adj[i, j] * messages[j] / np.sqrt(degree[i] * degree[j])
    return out + bias


def sage_layer(adj: np.ndarray, h: np.ndarray, w_self: np.ndarray, b_self: np.ndarray, w_neigh: np.ndarray) -> np.ndarray:
    """``h_i' = W_self h_i + b + W_neigh · mean of the neighbours' h_j``."""
    _check(adj, h, w_self=w_self, b_self=b_self, w_neigh=w_neigh)
    out = h @ w_self.T + b_self
    for i in range(len(h)):
        neighbours = np.flatnonzero(adj[i])
        if len(neighbours):
            out[i] += (adj[i, neighbours] @ h[neighbours] / adj[i].sum()) @ w_neigh.T
    return out


def gat_layer(adj: np.ndarray, h: np.ndarray, weight: np.ndarray, att_src: np.ndarray, att_dst: np.ndarray,
              bias: np.ndarray) -> np.ndarray:
    """Per node i: scores ``e_ij = LeakyReLU_0.2(a_dst·Wh_i + a_src·Wh_j)`` for j ∈ N(i) ∪ {i},
    a softmax over them, and the α-weighted sum of the ``Wh_j``."""
    _check(adj, h, weight=weight, att_src=att_src, att_dst=att_dst, bias=bias)
    wh = h @ weight.T
    out = np.zeros_like(wh)
    for i in range(len(h)):
        js = np.union1d(np.flatnonzero(adj[i]), [i])
        e = wh[i] @ att_dst + wh[js] @ att_src
        e = np.where(e > 0, e, 0.2 * e)
        alpha = np.exp(e - e.max())
        alpha /= alpha.sum()
        out[i] = alpha @ wh[js]
    return out + bias


def spectral_filter(adj: np.ndarray, h: np.ndarray, response) -> np.ndarray:
    """A spectral graph convolution ``U g(Λ) Uᵀ h``: the features ``h`` (N, F) taken to the
    graph's frequencies (the eigenvectors ``U`` of the normalised Laplacian, eigenvalues ``Λ``),
    each frequency ``λ`` scaled by ``response(λ)``, and taken back. An ``O(N³)`` eigendecomposition
    and ``O(N²)`` per filter: the definition, not a layer to train."""
    _check(adj, h)
    if not callable(response):
        raise TypeError(f"response must be a function of the eigenvalues, got {type(response).__name__}")
    values, vectors = np.linalg.eigh(laplacian(adj))
    gain = np.asarray(response(values), dtype=np.float64)
    if gain.shape != values.shape or not np.isfinite(gain).all():
        raise ValueError(f"response(λ) must return one finite number per eigenvalue, shape {values.shape}")
    return vectors @ (gain[:, None] * (vectors.T @ h))


def chebyshev_filter(adj: np.ndarray, h: np.ndarray, theta, lambda_max: float = 2.0) -> np.ndarray:
    """``Σ_k θ_k T_k(L̃) h`` with ``L̃ = 2L/λ_max − I`` (Defferrard et al., 2016), by Chebyshev's
    recurrence ``T_k(L̃)h = 2L̃ T_{k−1}(L̃)h − T_{k−2}(L̃)h``: multiplications by L only, no
    eigenvectors. Equal to :func:`spectral_filter` with ``response(λ) = Σ_k θ_k T_k(2λ/λ_max − 1)``;
    with K + 1 coefficients a node's output depends on nodes at most K hops away."""
    _check(adj, h)
    theta = as_float_array("theta", theta, ndim=1)
    if len(theta) == 0:
        raise ValueError("theta needs at least one coefficient")
    if isinstance(lambda_max, bool) or not isinstance(lambda_max, (int, float)) or not 0 < lambda_max < np.inf:
        raise ValueError(f"lambda_max must be a positive number, got {lambda_max!r}")
    scaled = 2 * laplacian(adj) / lambda_max - np.eye(len(adj))
    previous, current = h, scaled @ h  # T_0 h, T_1 h
    out = theta[0] * previous
    for k in range(1, len(theta)):
        out = out + theta[k] * current
        previous, current = current, 2 * scaled @ current - previous
    return out
