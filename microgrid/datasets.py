"""Small seeded toy datasets in the plane: moons, circles, XOR, spirals.

Each generator returns ``(X, y)``: ``X`` a list of ``n`` points ``[x1, x2]``
(Python floats) and ``y`` a list of ``n`` labels. The same arguments give
the same data (each call uses its own ``random.Random(seed)``), and the
points come shuffled, as scikit-learn's ``make_moons`` does.

Labels: by default the ints 0 and 1, as scikit-learn gives them (the
targets for `quadratic`, `cross_entropy` and friends). With
``signed=True`` they are -1 and +1, as the max-margin `hinge` cost needs
(micrograd's demo); `signed_labels` converts a 0/1 list. Both classes get
``n // 2`` or ``n - n // 2`` points.

``noise`` is the standard deviation of Gaussian noise added to each
coordinate. Example::

    >>> X, y = moons(100, noise=0.1, seed=0)
    >>> len(X), len(X[0]), sorted(set(y))
    (100, 2, [0, 1])
"""

from __future__ import annotations

import math
import numbers
import random
from collections.abc import Callable, Sequence

__all__ = ["DATASETS", "Dataset", "circles", "moons", "signed_labels", "spirals", "xor"]

Dataset = tuple[list[list[float]], list[int]]
"""``(X, y)``: points ``[x1, x2]`` and their labels."""


def _real(fn: str, name: str, x: object) -> float:
    """``x`` as a float, or a TypeError naming the argument."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{fn}: {name} must be a real number, got {type(x).__name__} {x!r}")
    return float(x)


def _check(fn: str, n: object, noise: object, seed: object) -> None:
    """Validate the arguments every generator shares, naming the bad one."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"{fn}: n must be an int, got {type(n).__name__} {n!r}")
    if int(n) < 2:
        raise ValueError(f"{fn}: n must be >= 2 (at least one point per class), got {n!r}")
    sigma = _real(fn, "noise", noise)
    if not (math.isfinite(sigma) and sigma >= 0.0):
        raise ValueError(f"{fn}: noise must be finite and >= 0, got {noise!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise TypeError(f"{fn}: seed must be an int or None, got {type(seed).__name__} {seed!r}")


def _linspace(start: float, stop: float, k: int, endpoint: bool = True) -> list[float]:
    """``k`` evenly spaced numbers from ``start`` to ``stop`` (as numpy's linspace)."""
    steps = (k - 1 if endpoint else k) or 1
    return [start + (stop - start) * i / steps for i in range(k)]


def _finish(
    points: list[tuple[float, float, int]], noise: float, rng: random.Random, signed: bool
) -> Dataset:
    """Shuffle, add noise, and split into ``X`` and ``y`` (0/1 or -1/+1 labels)."""
    rng.shuffle(points)
    X = [[x1 + rng.gauss(0.0, noise), x2 + rng.gauss(0.0, noise)] for x1, x2, _ in points]
    y = [2 * label - 1 if signed else label for _, _, label in points]
    return X, y


def moons(
    n: int = 100, noise: float = 0.1, seed: int | None = 0, *, signed: bool = False
) -> Dataset:
    """Two interleaving half circles (scikit-learn's ``make_moons``).

    Label 0: the upper moon ``(cos t, sin t)``; label 1: the lower moon
    ``(1 - cos t, 1/2 - sin t)``, for ``t`` in ``[0, pi]``.

        >>> X, y = moons(4, noise=0.0, signed=True)
        >>> sorted(y)
        [-1, -1, 1, 1]
    """
    _check("moons", n, noise, seed)
    rng = random.Random(seed)
    n_upper = n // 2
    points = [(math.cos(t), math.sin(t), 0) for t in _linspace(0.0, math.pi, n_upper)]
    points += [
        (1.0 - math.cos(t), 0.5 - math.sin(t), 1) for t in _linspace(0.0, math.pi, n - n_upper)
    ]
    return _finish(points, noise, rng, signed)


def circles(
    n: int = 100,
    noise: float = 0.05,
    factor: float = 0.5,
    seed: int | None = 0,
    *,
    signed: bool = False,
) -> Dataset:
    """A circle of radius ``factor`` inside the unit circle (``make_circles``).

    Label 0: the outer circle; label 1: the inner one. ``0 <= factor < 1``.

        >>> X, y = circles(4, noise=0.0, factor=0.5)
        >>> sorted(round(x1 * x1 + x2 * x2, 6) for x1, x2 in X)
        [0.25, 0.25, 1.0, 1.0]
    """
    _check("circles", n, noise, seed)
    if not 0.0 <= _real("circles", "factor", factor) < 1.0:
        raise ValueError(f"circles: factor must be in [0, 1) (inner/outer radius), got {factor!r}")
    rng = random.Random(seed)
    n_outer = n // 2
    angles = _linspace(0.0, 2.0 * math.pi, n_outer, endpoint=False)
    points = [(math.cos(t), math.sin(t), 0) for t in angles]
    angles = _linspace(0.0, 2.0 * math.pi, n - n_outer, endpoint=False)
    points += [(factor * math.cos(t), factor * math.sin(t), 1) for t in angles]
    return _finish(points, noise, rng, signed)


# The four corners in an order that alternates the labels, so any n >= 2
# gets both classes in balance; label 1 where the coordinates' signs differ.
_XOR_CORNERS = ((-1.0, -1.0, 0), (-1.0, 1.0, 1), (1.0, 1.0, 0), (1.0, -1.0, 1))


def xor(
    n: int = 100, noise: float = 0.1, seed: int | None = 0, *, signed: bool = False
) -> Dataset:
    """Four clusters at the corners ``(+-1, +-1)``: label 1 where ``x1 * x2 < 0``.

    No straight line separates the classes. ``xor(4, noise=0.0)`` is the
    truth table itself (in +-1 coordinates).

        >>> X, y = xor(4, noise=0.0)
        >>> sorted((x1, x2, label) for (x1, x2), label in zip(X, y))
        [(-1.0, -1.0, 0), (-1.0, 1.0, 1), (1.0, -1.0, 1), (1.0, 1.0, 0)]
    """
    _check("xor", n, noise, seed)
    rng = random.Random(seed)
    points = [_XOR_CORNERS[i % 4] for i in range(n)]
    return _finish(points, noise, rng, signed)


def spirals(
    n: int = 100,
    noise: float = 0.05,
    seed: int | None = 0,
    *,
    turns: float = 1.0,
    signed: bool = False,
) -> Dataset:
    """Two interleaved spiral arms, half a turn apart; each arm is one class.

    A point at ``t`` in ``[0, 1]`` lies at radius ``r = 0.25 + 0.75 t`` and
    angle ``2 pi turns t`` (plus ``pi`` for label 1); the arms start at
    radius 0.25 so the classes do not meet at the centre. ``turns > 0``.

        >>> X, y = spirals(6, noise=0.0)
        >>> sorted(y)
        [0, 0, 0, 1, 1, 1]
    """
    _check("spirals", n, noise, seed)
    if not (math.isfinite(_real("spirals", "turns", turns)) and turns > 0):
        raise ValueError(f"spirals: turns must be finite and > 0, got {turns!r}")
    rng = random.Random(seed)
    points = []
    for label, count in ((0, n // 2), (1, n - n // 2)):
        for t in _linspace(0.0, 1.0, count):
            r = 0.25 + 0.75 * t
            angle = 2.0 * math.pi * turns * t + math.pi * label
            points.append((r * math.cos(angle), r * math.sin(angle), label))
    return _finish(points, noise, rng, signed)


def signed_labels(y: Sequence[int]) -> list[int]:
    """Labels 0/1 as -1/+1 (``2 y - 1``), the targets the `hinge` cost needs.

        >>> signed_labels([0, 1, 1])
        [-1, 1, 1]
    """
    out = []
    for i, label in enumerate(y):
        if isinstance(label, bool) or label not in (0, 1):
            raise ValueError(f"signed_labels: label {i} is {label!r}; expected 0 or 1")
        out.append(2 * int(label) - 1)
    return out


DATASETS: dict[str, Callable[..., Dataset]] = {
    "circles": circles,
    "moons": moons,
    "spirals": spirals,
    "xor": xor,
}
"""The generators by name, e.g. for a ``--dataset`` option."""
