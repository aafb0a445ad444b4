"""Specification of microgrid.datasets: shapes, labels, geometry, determinism, validation.

Every generator returns ``(X, y)``: ``n`` points ``[x1, x2]`` of floats and
``n`` labels, 0/1 by default and -1/+1 with ``signed=True``, the two
classes balanced (``n // 2`` and ``n - n // 2``); the same seed gives the
same data.
"""

from __future__ import annotations

import math
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from microgrid.datasets import DATASETS, circles, moons, signed_labels, spirals, xor

GENERATORS = [moons, circles, xor, spirals]


def by_label(X, y):
    groups: dict[int, list[list[float]]] = {}
    for point, label in zip(X, y, strict=True):
        groups.setdefault(label, []).append(point)
    return groups


@pytest.mark.parametrize("make", GENERATORS)
@given(n=st.integers(min_value=2, max_value=300), seed=st.integers(0, 2**32))
def test_shapes_types_and_label_balance(make, n, seed):
    """n points of two floats, n labels in {0, 1}, split n // 2 and n - n // 2."""
    X, y = make(n, seed=seed)
    assert len(X) == len(y) == n
    assert all(len(p) == 2 and all(type(c) is float for c in p) for p in X)
    assert all(type(label) is int for label in y)
    assert sorted([y.count(0), y.count(1)]) == sorted([n // 2, n - n // 2])
    assert y.count(0) + y.count(1) == n


@pytest.mark.parametrize("make", GENERATORS)
def test_same_seed_same_data_and_different_seed_different_data(make):
    """Each call owns its random.Random(seed): reproducible, and unaffected by global state."""
    import random

    first = make(50, seed=3)
    random.seed(12345)
    random.random()
    assert make(50, seed=3) == first
    assert make(50, seed=4) != first


@pytest.mark.parametrize("make", GENERATORS)
def test_signed_labels_are_2y_minus_1_on_the_same_points(make):
    """signed=True changes only the labels: 0 -> -1, 1 -> +1."""
    X0, y0 = make(40, seed=1)
    X1, y1 = make(40, seed=1, signed=True)
    assert X1 == X0
    assert y1 == [2 * label - 1 for label in y0]
    assert signed_labels(y0) == y1


@pytest.mark.parametrize("make", GENERATORS)
def test_points_come_shuffled(make):
    """Like scikit-learn, the classes are mixed, not listed one after the other."""
    _, y = make(100, seed=0)
    assert 0 < sum(y[:50]) < 50


def test_moons_lie_on_two_interleaving_half_circles():
    """Without noise: label 0 on the upper unit half circle, label 1 on the lower one
    centred at (1, 1/2); each moon reaches into the other's x-range."""
    X, y = moons(60, noise=0.0, seed=0)
    groups = by_label(X, y)
    for x1, x2 in groups[0]:
        assert math.hypot(x1, x2) == pytest.approx(1.0) and x2 >= -1e-12
    for x1, x2 in groups[1]:
        assert math.hypot(x1 - 1.0, x2 - 0.5) == pytest.approx(1.0) and x2 <= 0.5 + 1e-12
    assert min(p[0] for p in groups[0]) == pytest.approx(-1.0)
    assert max(p[0] for p in groups[1]) == pytest.approx(2.0)
    assert max(p[0] for p in groups[0]) > min(p[0] for p in groups[1])  # interleaving


def test_circles_have_radius_1_outside_and_factor_inside():
    X, y = circles(40, noise=0.0, factor=0.3, seed=0)
    for (x1, x2), label in zip(X, y, strict=True):
        assert math.hypot(x1, x2) == pytest.approx(1.0 if label == 0 else 0.3)


def test_xor_puts_label_1_where_the_coordinates_signs_differ():
    """Clusters at (+-1, +-1); with small noise every point keeps its corner's label."""
    X, y = xor(200, noise=0.1, seed=0)
    assert all((x1 * x2 < 0) == (label == 1) for (x1, x2), label in zip(X, y, strict=True))
    corners = {(round(x1), round(x2)) for x1, x2 in X}
    assert corners == {(-1, -1), (-1, 1), (1, -1), (1, 1)}


def test_xor_of_four_noiseless_points_is_the_truth_table():
    X, y = xor(4, noise=0.0)
    table = sorted((x1, x2, label) for (x1, x2), label in zip(X, y, strict=True))
    assert table == [(-1.0, -1.0, 0), (-1.0, 1.0, 1), (1.0, -1.0, 1), (1.0, 1.0, 0)]


def test_spirals_are_two_arms_half_a_turn_apart():
    """Without noise: radii in [0.25, 1]; arm 1 is arm 0 rotated by pi (x -> -x)."""
    X, y = spirals(50, noise=0.0, seed=0, turns=1.5)
    groups = by_label(X, y)
    assert all(0.25 - 1e-12 <= math.hypot(*p) <= 1.0 + 1e-12 for p in X)
    mirrored = sorted((round(-a, 9), round(-b, 9)) for a, b in groups[0])
    assert mirrored == sorted((round(a, 9), round(b, 9)) for a, b in groups[1])


def test_noise_is_gaussian_with_the_given_standard_deviation():
    """The same seed shuffles identically, so noisy minus clean points is the noise."""
    clean, _ = moons(4000, noise=0.0, seed=7)
    noisy, _ = moons(4000, noise=0.2, seed=7)
    offsets = [b - a for p, q in zip(clean, noisy, strict=True) for a, b in zip(p, q, strict=True)]
    assert statistics.fmean(offsets) == pytest.approx(0.0, abs=0.01)
    assert statistics.pstdev(offsets) == pytest.approx(0.2, rel=0.03)


@pytest.mark.parametrize("make", GENERATORS)
@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"n": 1}, ValueError, r"n must be >= 2.*got 1"),
        ({"n": 0}, ValueError, r"n must be >= 2.*got 0"),
        ({"n": -5}, ValueError, r"n must be >= 2.*got -5"),
        ({"n": 2.5}, TypeError, r"n must be an int, got float 2\.5"),
        ({"n": True}, TypeError, r"n must be an int, got bool"),
        ({"noise": -0.1}, ValueError, r"noise must be finite and >= 0, got -0\.1"),
        ({"noise": math.nan}, ValueError, r"noise must be finite and >= 0, got nan"),
        ({"noise": math.inf}, ValueError, r"noise must be finite and >= 0, got inf"),
        ({"noise": "0.1"}, TypeError, r"noise must be a real number, got str"),
        ({"seed": "a"}, TypeError, r"seed must be an int or None, got str"),
    ],
)
def test_bad_arguments_are_named(make, kwargs, error, pattern):
    with pytest.raises(error, match=f"{make.__name__}: {pattern}"):
        make(**kwargs)


@pytest.mark.parametrize("factor", [1.0, -0.1, 2.0])
def test_circles_factor_must_be_in_0_1(factor):
    with pytest.raises(ValueError, match=rf"factor must be in \[0, 1\).*got {factor}"):
        circles(10, factor=factor)


@pytest.mark.parametrize("turns", [0.0, -1.0, math.inf])
def test_spirals_turns_must_be_positive_and_finite(turns):
    with pytest.raises(ValueError, match=rf"turns must be finite and > 0, got {turns}"):
        spirals(10, turns=turns)


def test_seed_none_gives_fresh_data():
    assert moons(50, seed=None) != moons(50, seed=None)


def test_signed_labels_refuses_labels_other_than_0_and_1():
    with pytest.raises(ValueError, match="label 1 is 2; expected 0 or 1"):
        signed_labels([0, 2])
    with pytest.raises(ValueError, match="label 0 is True"):
        signed_labels([True])


def test_datasets_are_registered_by_name():
    assert {"circles": circles, "moons": moons, "spirals": spirals, "xor": xor} == DATASETS
