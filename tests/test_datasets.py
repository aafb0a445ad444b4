"""Specification of microgrid.datasets: shapes, labels, geometry, determinism, validation.

Every generator returns ``(X, y)``: ``n`` points ``[x1, x2]`` of floats and
``n`` labels, 0/1 by default and -1/+1 with ``signed=True``, the two
classes balanced (``n // 2`` and ``n - n // 2``); the same seed gives the
same data.

The real data: `digits` is the bundled copy of scikit-learn's 8x8 digits,
checked on load; `mnist` reads IDX files (tested on small ones written
here) and rejects corrupt ones naming the file; `train_test_split` is
seeded and stratified; `one_hot` makes the book's one-hot targets.
"""

from __future__ import annotations

import doctest
import gzip
import math
import os
import shutil
import statistics
import struct
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import microgrid.datasets
from microgrid.datasets import (
    DATASETS,
    MNIST_FILES,
    MNIST_URL,
    circles,
    digits,
    mnist,
    moons,
    one_hot,
    signed_labels,
    spirals,
    train_test_split,
    xor,
)

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
        ({"n": 1}, ValueError, r"n must be an int >= 2 \(at least one point per class\), got 1"),
        ({"n": 0}, ValueError, r"n must be an int >= 2.*got 0"),
        ({"n": -5}, ValueError, r"n must be an int >= 2.*got -5"),
        ({"n": 2.5}, TypeError, r"n must be an int, got float 2\.5"),
        ({"n": True}, TypeError, r"n must be an int, got bool"),
        ({"noise": -0.1}, ValueError, r"noise must be a finite number >= 0, got -0\.1"),
        ({"noise": math.nan}, ValueError, r"noise must be a finite number >= 0, got nan"),
        ({"noise": math.inf}, ValueError, r"noise must be a finite number >= 0, got inf"),
        ({"noise": "0.1"}, TypeError, r"noise must be a real number, got str"),
        ({"seed": "a"}, TypeError, r"seed must be an int or None, got str"),
    ],
)
def test_bad_arguments_are_named(make, kwargs, error, pattern):
    with pytest.raises(error, match=f"{make.__name__}: {pattern}"):
        make(**kwargs)


@pytest.mark.parametrize("factor", [1.0, -0.1, 2.0])
def test_circles_factor_must_be_in_0_1(factor):
    with pytest.raises(ValueError, match=rf"factor must be a finite number in \[0, 1\).*{factor}"):
        circles(10, factor=factor)


@pytest.mark.parametrize("turns", [0.0, -1.0, math.inf])
def test_spirals_turns_must_be_positive_and_finite(turns):
    with pytest.raises(ValueError, match=rf"turns must be a finite number > 0, got {turns}"):
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


def test_the_module_docstring_examples_run():
    result = doctest.testmod(microgrid.datasets)
    assert result.attempted > 15 and result.failed == 0


# -- digits -------------------------------------------------------------------------

# scikit-learn's load_digits(): the class sizes, and image 0 (a zero) as pixel counts 0..16.
DIGIT_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
FIRST_DIGIT = [0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0, 0, 3, 15, 2, 0, 11, 8, 0,
               0, 4, 12, 0, 0, 8, 8, 0, 0, 5, 8, 0, 0, 9, 8, 0, 0, 4, 11, 0, 1, 12, 7, 0,
               0, 2, 14, 5, 10, 12, 0, 0, 0, 0, 6, 13, 10, 0, 0, 0]


def test_digits_are_1797_images_of_64_floats_in_0_1_with_10_classes():
    X, y = digits()
    assert len(X) == len(y) == 1797
    assert all(len(row) == 64 and all(type(v) is float for v in row) for row in X)
    assert min(map(min, X)) == 0.0 and max(map(max, X)) == 1.0
    assert all(type(label) is int for label in y)
    assert [y.count(k) for k in range(10)] == DIGIT_COUNTS


def test_digits_are_scikit_learns_pixel_counts_divided_by_16_in_its_order():
    X, y = digits()
    assert X[0] == [v / 16 for v in FIRST_DIGIT]
    assert y[:12] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert {v * 16 for row in X for v in row} == set(range(17))  # every count 0..16, exactly


def test_digits_gives_fresh_lists_each_call():
    X, y = digits()
    X[0][0], y[0] = 99.0, 99
    X2, y2 = digits()
    assert X2[0][0] == 0.0 and y2[0] == 0


def copy_data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    shutil.copytree(Path(microgrid.datasets.__file__).parent / "data", folder)
    return folder


def test_digits_refuses_a_damaged_data_file(tmp_path, monkeypatch):
    """A file whose contents changed (here one pixel, re-gzipped so gzip's own CRC
    passes) fails the SHA-256 check, naming the file."""
    folder = copy_data(tmp_path)
    target = folder / "digits-images-idx3-ubyte.gz"
    raw = bytearray(gzip.decompress(target.read_bytes()))
    raw[100] ^= 1
    target.write_bytes(gzip.compress(bytes(raw)))
    monkeypatch.setattr(microgrid.datasets, "_DATA", folder)
    with pytest.raises(RuntimeError, match=r"digits-images-idx3-ubyte.gz is damaged.*reinstall"):
        digits()


def test_the_package_ships_the_digits_with_their_licence():
    """The data files and the licence sit in the package (hatch puts microgrid/* in the
    wheel); pyproject names the licence, so it is also in the wheel's metadata."""
    folder = Path(microgrid.datasets.__file__).parent / "data"
    assert {p.name for p in folder.iterdir()} >= {
        "digits-images-idx3-ubyte.gz", "digits-labels-idx1-ubyte.gz", "DIGITS-LICENSE.txt"}
    licence = (folder / "DIGITS-LICENSE.txt").read_text(encoding="utf-8")
    assert "BSD 3-Clause" in licence and "Alpaydin" in licence
    pyproject = (Path(__file__).parent.parent / "pyproject.toml").read_text(encoding="utf-8")
    assert '"microgrid/data/DIGITS-LICENSE.txt"' in pyproject


# -- train_test_split ----------------------------------------------------------------


def test_split_sizes_follow_scikit_learn_ceil_for_the_test_part():
    X, y = digits()
    (X_train, y_train), (X_test, y_test) = train_test_split(X, y, 0.2, seed=0)
    assert (len(X_train), len(y_train), len(X_test), len(y_test)) == (1437, 1437, 360, 360)


def test_split_sizes_are_not_thrown_off_by_float_rounding():
    """0.28 * 25 is 7.000000000000001 in floats; the test part gets 7, not 8."""
    _, (X_test, _) = train_test_split([[0.0]] * 25, [0] * 25, 0.28)
    assert len(X_test) == 7


def test_split_is_a_partition_of_the_rows_which_are_not_copied():
    X = [[float(i)] for i in range(50)]
    y = [i % 3 for i in range(50)]
    (X_train, y_train), (X_test, y_test) = train_test_split(X, y, 0.3, seed=1)
    ids = sorted(id(row) for row in X_train + X_test)
    assert ids == sorted(id(row) for row in X)  # every row once, the same objects
    for rows, labels in ((X_train, y_train), (X_test, y_test)):
        assert all(labels[i] == int(row[0]) % 3 for i, row in enumerate(rows))  # pairs kept
    assert [[float(i)] for i in range(50)] == X and [i % 3 for i in range(50)] == y


@given(
    sizes=st.lists(st.integers(1, 40), min_size=1, max_size=6),
    test_size=st.floats(0.05, 0.95),
    seed=st.integers(0, 2**32),
)
def test_stratified_split_gives_each_class_its_share(sizes, test_size, seed):
    """Class c of n_c examples has floor or ceil of n_test * n_c / n in the test part."""
    y = [c for c, size in enumerate(sizes) for _ in range(size)]
    n = len(y)
    n_test = math.ceil(round(test_size * n, 9))
    if not 1 <= n_test <= n - 1:
        return
    X = [[float(i)] for i in range(n)]
    _, (_, y_test) = train_test_split(X, y, test_size, seed=seed)
    assert len(y_test) == n_test
    for c, size in enumerate(sizes):
        share = n_test * size / n
        assert math.floor(share) <= y_test.count(c) <= math.ceil(share)


def test_split_depends_only_on_the_seed_and_mixes_the_classes():
    X, y = digits()
    first = train_test_split(X, y, seed=3)
    assert train_test_split(X, y, seed=3) == first
    assert train_test_split(X, y, seed=4) != first
    (_, y_train), _ = first
    assert y_train[:10] != sorted(y_train[:10])


def test_unstratified_split_is_a_seeded_shuffle():
    X = [[float(i)] for i in range(20)]
    y = [0] * 19 + [1]
    (_, y_train), (X_test, y_test) = train_test_split(X, y, 0.25, seed=0, stratify=False)
    assert len(X_test) == 5 and sorted(y_train + y_test) == y
    assert train_test_split(X, y, 0.25, seed=0, stratify=False)[1][0] == X_test


def test_split_stratifies_one_hot_labels_by_class():
    X = [[float(i)] for i in range(40)]
    y = one_hot([0] * 30 + [1] * 10)
    _, (_, y_test) = train_test_split(X, y, 0.5, seed=0)
    assert y_test.count([1.0, 0.0]) == 15 and y_test.count([0.0, 1.0]) == 5


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "pattern"),
    [
        (([[0.0]] * 3, [0, 1]), {}, ValueError, "X has 3 rows but y has 2 labels"),
        (([[0.0]] * 4, [0] * 4, 0.0), {}, ValueError,
         r"test_size must be a finite number in \(0, 1\), got 0\.0"),
        (([[0.0]] * 4, [0] * 4, 1.0), {}, ValueError,
         r"test_size must be a finite number in \(0, 1\), got 1\.0"),
        (([[0.0]] * 4, [0] * 4, "0.2"), {}, TypeError, "test_size must be a real number, got str"),
        (([[0.0]] * 2, [0] * 2, 0.9), {}, ValueError,
         "2 examples with test_size=0.9 leave 2 for testing and 0 for training"),
        (([[0.0]] * 4, [0] * 4), {"seed": 1.5}, TypeError, "seed must be an int or None"),
        (("abcd", [0] * 4), {}, TypeError, "X must be a list of rows, got str"),
        (([[0.0]] * 2, 7), {}, TypeError, "y must be a list of labels, got int"),
        (([[0.0]] * 2, [{}, {}]), {}, TypeError, "label 0 is dict"),
    ],
)
def test_split_refuses_bad_arguments_naming_them(args, kwargs, error, pattern):
    with pytest.raises(error, match=f"train_test_split: {pattern}"):
        train_test_split(*args, **kwargs)


# -- one_hot ------------------------------------------------------------------------


def test_one_hot_puts_1_at_the_class_index():
    assert one_hot([1, 0, 2]) == [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    assert one_hot([0], n_classes=3) == [[1.0, 0.0, 0.0]]
    assert one_hot([]) == []
    assert all(type(v) is float for row in one_hot([3, 1]) for v in row)


@pytest.mark.parametrize(
    ("y", "n_classes", "error", "pattern"),
    [
        ([0, 3], 3, ValueError, "label 1 is 3; expected 0 to 2"),
        ([-1], None, ValueError, "label 0 is -1; expected 0 to -1"),
        ([0, 1.0], None, TypeError, "label 1 is float 1.0; expected a class index"),
        ([True], None, TypeError, "label 0 is bool"),
        ([0], 0, ValueError, "n_classes must be an int >= 1, got 0"),
        ([0], 2.0, TypeError, "n_classes must be an int, got float"),
    ],
)
def test_one_hot_refuses_bad_labels(y, n_classes, error, pattern):
    with pytest.raises(error, match=f"one_hot: {pattern}"):
        one_hot(y, n_classes)


# -- mnist (on small IDX files written here) -----------------------------------------------


def idx(magic_ndim: int, dims: list[int], data: bytes, dtype: int = 0x08) -> bytes:
    return bytes((0, 0, dtype, magic_ndim)) + struct.pack(f">{len(dims)}I", *dims) + data


def images_file(n: int, rows: int = 28, cols: int = 28) -> bytes:
    """n images whose pixel k of image i is (i + k) % 256."""
    pixels = bytes((i + k) % 256 for i in range(n) for k in range(rows * cols))
    return idx(3, [n, rows, cols], pixels)


def labels_file(labels: list[int]) -> bytes:
    return idx(1, [len(labels)], bytes(labels))


def write_mnist(folder: Path, n_train: int = 5, n_test: int = 3, gz: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("test", n_test)):
        images, labels = MNIST_FILES[split]
        contents = {images: images_file(n), labels: labels_file([i % 10 for i in range(n)])}
        for name, raw in contents.items():
            if gz:
                (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
            else:
                (folder / name).write_bytes(raw)
    return folder


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gzipped"])
def test_mnist_reads_both_splits_scaled_to_0_1(tmp_path, gz):
    folder = write_mnist(tmp_path / "mnist", n_train=12, n_test=3, gz=gz)
    X, y = mnist(folder)
    assert len(X) == len(y) == 12
    assert all(len(row) == 784 and all(type(v) is float for v in row) for row in X)
    assert X[0][:3] == [0.0, 1 / 255, 2 / 255] and X[0][255] == 1.0 and X[1][254] == 1.0
    assert y == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1] and all(type(c) is int for c in y)
    X_test, y_test = mnist(str(folder), "test")
    assert len(X_test) == 3 and y_test == [0, 1, 2] and X_test[2][0] == 2 / 255


def test_mnist_rows_share_the_256_pixel_floats(tmp_path):
    """What keeps 60,000 images near 420 MB: equal pixels are one float object."""
    X, _ = mnist(write_mnist(tmp_path))
    assert X[0][1] is X[1][0]
    assert len({id(v) for row in X for v in row}) <= 256


def test_mnist_limit_keeps_the_first_examples(tmp_path):
    folder = write_mnist(tmp_path, n_train=20)
    X, y = mnist(folder)
    X5, y5 = mnist(folder, limit=5)
    assert (X5, y5) == (X[:5], y[:5])
    assert mnist(folder, limit=1000) == (X, y)


def test_mnist_finds_gzipped_files_by_content_and_the_dotted_names(tmp_path):
    """Some mirrors name the files train-images.idx3-ubyte; a gzip is recognised by its
    bytes, whatever its name."""
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "train-images.idx3-ubyte").write_bytes(gzip.compress(images_file(2)))
    (folder / "train-labels.idx1-ubyte").write_bytes(labels_file([7, 3]))
    assert mnist(folder)[1] == [7, 3]


def test_mnist_expands_the_home_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    write_mnist(tmp_path / "mnist")
    assert len(mnist("~/mnist")[0]) == 5


def test_missing_files_say_where_to_get_them(tmp_path):
    with pytest.raises(FileNotFoundError) as missing:
        mnist(tmp_path)
    message = str(missing.value)
    assert "no train-images-idx3-ubyte (or train-images-idx3-ubyte.gz)" in message
    assert str(tmp_path) in message and MNIST_URL in message
    assert all(f"{name}.gz" in message for pair in MNIST_FILES.values() for name in pair)
    with pytest.raises(FileNotFoundError, match="no t10k-labels-idx1-ubyte"):
        folder = write_mnist(tmp_path / "partial")
        (folder / "t10k-labels-idx1-ubyte").unlink()
        mnist(folder, "test")
    with pytest.raises(FileNotFoundError, match=MNIST_URL):
        mnist(tmp_path / "does-not-exist")


CORRUPTIONS = {
    # what is written as train-images / train-labels -> the error's file and text
    "truncated images": (images_file(3)[:-1], labels_file([0, 1, 2]), "train-images",
                         r"the header says 3 x 28 x 28 = 2,352 bytes of data, the file has "
                         r"2,351 \(truncated\)"),
    "trailing bytes": (images_file(3) + b"\0", labels_file([0, 1, 2]), "train-images",
                       r"2,352 bytes of data, the file has 2,353 \(trailing bytes\)"),
    "truncated header": (images_file(3)[:10], labels_file([0, 1, 2]), "train-images",
                         "10 bytes, too short for an IDX header"),
    "labels' magic on images": (labels_file([0, 1, 2]), labels_file([0, 1, 2]), "train-images",
                                r"magic number 0x00000801, expected 0x00000803"),
    "images' magic on labels": (images_file(3), images_file(3), "train-labels",
                                r"magic number 0x00000803, expected 0x00000801"),
    "not unsigned bytes": (idx(3, [1, 28, 28], bytes(784 * 4), dtype=0x0D), labels_file([0]),
                           "train-images", r"magic number 0x00000d03"),
    "wrong counts": (images_file(3), labels_file([0, 1]), "train-images",
                     r"has 3 images but .*train-labels-idx1-ubyte has 2 labels"),
    "wrong shape": (images_file(2, 27, 28), labels_file([0, 1]), "train-images",
                    "images of 27 x 28 pixels, expected 28 x 28"),
    "label above 9": (images_file(3), labels_file([0, 10, 1]), "train-labels",
                      "label 1 is 10; expected 0 to 9"),
    "truncated gzip": (gzip.compress(images_file(3))[:-12], labels_file([0, 1, 2]),
                       "train-images", "not a valid gzip file"),
}


@pytest.mark.parametrize("case", CORRUPTIONS)
def test_corrupt_files_raise_value_error_naming_the_file_and_the_problem(tmp_path, case):
    images, labels, culprit, pattern = CORRUPTIONS[case]
    (tmp_path / "train-images-idx3-ubyte").write_bytes(images)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(labels)
    with pytest.raises(ValueError, match=pattern) as error:
        mnist(tmp_path)
    assert str(error.value).startswith(str(tmp_path / culprit))


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"split": "validation"}, ValueError, "unknown split 'validation'; valid: train, test"),
        ({"split": 0}, TypeError, "split must be a str, one of train, test; got int 0"),
        ({"limit": 0}, ValueError, "limit must be an int >= 1, got 0"),
        ({"limit": 2.0}, TypeError, "limit must be an int, got float"),
        ({"limit": True}, TypeError, "limit must be an int, got bool"),
    ],
)
def test_mnist_refuses_bad_arguments(tmp_path, kwargs, error, pattern):
    with pytest.raises(error, match=f"mnist: {pattern}"):
        mnist(write_mnist(tmp_path), **kwargs)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_is_refused_not_waited_on(tmp_path):
    """A named pipe where a file should be is named as such at once: reading it would wait
    for a writer, possibly forever (the read runs in a thread, so a hang fails, not blocks)."""
    write_mnist(tmp_path)
    (tmp_path / "train-images-idx3-ubyte").unlink()
    os.mkfifo(tmp_path / "train-images-idx3-ubyte")
    outcome: list[BaseException | None] = []

    def read() -> None:
        try:
            mnist(tmp_path)
            outcome.append(None)
        except BaseException as e:  # handed to the test below
            outcome.append(e)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=30)
    if reader.is_alive():  # let the blocked open return, so the thread ends
        with open(os.open(tmp_path / "train-images-idx3-ubyte", os.O_WRONLY | os.O_NONBLOCK),
                  "wb"):
            pass
        pytest.fail("mnist waited on a named pipe")
    assert isinstance(outcome[0], ValueError)
    assert str(outcome[0]) == (f"{str(tmp_path / 'train-images-idx3-ubyte')!r} is a named pipe, "
                               "not a regular file")


def test_a_file_too_large_for_mnist_is_refused_before_it_fills_memory(tmp_path, monkeypatch):
    """Files are read up to a bound (MNIST's largest is 47 MB), and so are gzip's contents."""
    folder = write_mnist(tmp_path / "plain")
    zipped = write_mnist(tmp_path / "zipped", gz=True)
    size = len(images_file(5))
    monkeypatch.setattr(microgrid.datasets, "MAX_FILE_BYTES", size - 1)
    with pytest.raises(ValueError, match=rf"train-images-idx3-ubyte: larger than {size - 1:,} "
                                         r"bytes \(MAX_FILE_BYTES\)"):
        mnist(folder)
    with pytest.raises(ValueError, match=rf"train-images-idx3-ubyte.gz: larger than {size - 1:,} "
                                         r"bytes \(MAX_FILE_BYTES\) uncompressed"):
        mnist(zipped)
    monkeypatch.setattr(microgrid.datasets, "MAX_FILE_BYTES", size)
    assert len(mnist(folder)[0]) == len(mnist(zipped)[0]) == 5
