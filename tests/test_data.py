"""Generated datasets: deterministic, shaped as documented, validated."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnanatomy import data


def test_quadratic_is_the_source_function_and_deterministic():
    x, y = data.quadratic(100, seed=1)
    assert x.shape == y.shape == (100, 1) and x.dtype == np.float64
    np.testing.assert_allclose(y, 3 * x**2 + 5)
    assert x.min() >= -2 and x.max() < 2
    x2, _ = data.quadratic(100, seed=1)
    np.testing.assert_array_equal(x, x2)
    xn, yn = data.quadratic(2000, seed=1, noise_std=0.1)
    assert 0.09 < np.std(yn - (3 * xn**2 + 5)) < 0.11


@pytest.mark.parametrize(
    "kwargs,error",
    [({"n": 0}, ValueError), ({"n": 2.0}, TypeError), ({"n": 5, "low": 1.0, "high": 1.0}, ValueError),
     ({"n": 5, "noise_std": -1.0}, ValueError), ({"n": 5, "seed": -1}, ValueError), ({"n": 5, "a": float("nan")}, ValueError)],
)
def test_quadratic_bad_arguments(kwargs, error):
    with pytest.raises(error):
        data.quadratic(**kwargs)


def test_tensor_loader_order_is_seeded_and_dtypes():
    x = np.arange(10.0).reshape(10, 1)
    labels = np.arange(10)
    first = [b[0].squeeze(1).tolist() for b in data.tensor_loader(x, labels, batch_size=4, seed=5)]
    again = [b[0].squeeze(1).tolist() for b in data.tensor_loader(x, labels, batch_size=4, seed=5)]
    assert first == again and sorted(sum(first, [])) == list(range(10))
    xb, lb = next(iter(data.tensor_loader(x, labels, batch_size=4, shuffle=False)))
    assert xb.dtype == torch.float32 and lb.dtype == torch.int64
    assert xb.squeeze(1).tolist() == [0.0, 1.0, 2.0, 3.0]


def test_tensor_loader_bad_arguments():
    with pytest.raises(ValueError, match="first dimension"):
        data.tensor_loader(np.zeros((3, 1)), np.zeros(4), batch_size=2)
    with pytest.raises(TypeError, match="NumPy array"):
        data.tensor_loader([1, 2, 3], batch_size=2)
    with pytest.raises(ValueError, match="at least one"):
        data.tensor_loader(batch_size=2)
    with pytest.raises(ValueError, match="batch_size"):
        data.tensor_loader(np.zeros(3), batch_size=0)


def test_standardizer_round_trip_and_errors():
    x, y = data.quadratic(500, seed=2)
    scaler = data.Standardizer().fit(y)
    z = scaler.transform(y)
    np.testing.assert_allclose(z.mean(), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(), 1, atol=1e-12)
    np.testing.assert_allclose(scaler.inverse(z), y, atol=1e-12)
    assert "mean=" in repr(scaler)
    with pytest.raises(RuntimeError, match="fit"):
        data.Standardizer().transform(y)
    with pytest.raises(ValueError, match="constant"):
        data.Standardizer().fit(np.ones((4, 1)))
    with pytest.raises(ValueError, match="columns"):
        scaler.transform(np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"\(N, features\)"):
        scaler.transform(np.zeros(3))
    with pytest.raises(TypeError, match="floating"):
        scaler.transform([[1.0]])
