"""Images of simple shapes with per-pixel labels, for segmentation (chapter 09).

Every image holds one to three non-overlapping shapes — circles, squares, triangles — of random
size, position and brightness on a noisy, unevenly lit background. The label of every pixel is its shape's
class (0 background, 1 circle, 2 square, 3 triangle). The inside of a circle and of a square
look alike pixel by pixel; telling them apart needs the outline, far from most interior pixels —
a task for a network that sees both detail and context.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_count, check_real, check_seed

__all__ = ["SHAPE_CLASSES", "shapes_segmentation"]

SHAPE_CLASSES = ("background", "circle", "square", "triangle")


def _draw(kind: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """A boolean mask of one shape of class ``kind`` at a random place and scale."""
    yy, xx = np.mgrid[0:size, 0:size]
    radius = rng.uniform(0.12, 0.24) * size
    cy, cx = rng.uniform(radius, size - radius, size=2)
    if kind == 1:  # circle
        return (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2
    if kind == 2:  # axis-aligned square
        return (np.abs(yy - cy) <= radius * 0.85) & (np.abs(xx - cx) <= radius * 0.85)
    # upward triangle: below the apex, inside the two slanted edges
    top, bottom = cy - radius, cy + radius * 0.8
    half_width = (yy - top) / (bottom - top) * radius
    return (yy >= top) & (yy <= bottom) & (np.abs(xx - cx) <= half_width)


def shapes_segmentation(
    n: int, size: int = 32, seed: int = 0, noise_std: float = 0.15, max_shapes: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images and their label maps.

    Returns:
        images float32 ``(n, 1, size, size)`` (roughly in [−0.5, 1.5]) and labels int64
        ``(n, size, size)`` with values in 0…3.
    """
    n, size, max_shapes = check_count("n", n), check_count("size", size, 8, maximum=4096), check_count("max_shapes", max_shapes, maximum=64)
    noise_std = check_real("noise_std", noise_std, 0.0)
    rng = np.random.default_rng(check_seed(seed))
    images = np.empty((n, 1, size, size), dtype=np.float32)
    labels = np.zeros((n, size, size), dtype=np.int64)
    yy, xx = np.mgrid[0:size, 0:size] / size
    for i in range(n):
        gx, gy = rng.uniform(-0.3, 0.3, size=2)
        image = 0.2 + gx * (xx - 0.5) + gy * (yy - 0.5)  # uneven lighting
        occupied = np.zeros((size, size), dtype=bool)
        for _ in range(rng.integers(1, max_shapes + 1)):
            kind = int(rng.integers(1, 4))
            for _attempt in range(20):  # shapes do not overlap: every outline stays visible
                mask = _draw(kind, size, rng)
                grown = np.zeros_like(mask)
                grown[1:] |= mask[:-1]
                grown[:-1] |= mask[1:]
                grown[:, 1:] |= mask[:, :-1]
                grown[:, :-1] |= mask[:, 1:]
                if not (grown | mask)[occupied].any():
                    break
            else:
                continue
            occupied |= mask
            image[mask] = rng.uniform(0.5, 1.0)  # brightness says nothing about the class
            labels[i][mask] = kind
        images[i, 0] = image + rng.normal(0.0, noise_std, size=(size, size))
    return images, labels
