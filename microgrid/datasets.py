"""Datasets: seeded toys in the plane, the bundled 8x8 digits, and an MNIST reader.

The toys (moons, circles, XOR, spirals) are generated; `digits` is real
data shipped with the package (no network needed); `mnist` reads the MNIST
files from a folder you give. Helpers: `train_test_split` (seeded,
stratified) and `one_hot`.

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

import gzip
import hashlib
import importlib.resources
import io
import math
import numbers
import os
import random
import struct
import zlib
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Any, Literal

from microgrid import _checks as check
from microgrid._files import read_regular_file

__all__ = [
    "DATASETS",
    "IMAGES",
    "MAX_FILE_BYTES",
    "MNIST_FILES",
    "MNIST_URL",
    "Dataset",
    "circles",
    "digits",
    "mnist",
    "moons",
    "one_hot",
    "signed_labels",
    "spirals",
    "train_test_split",
    "xor",
]

Dataset = tuple[list[list[float]], list[int]]
"""``(X, y)``: rows of features (floats; points ``[x1, x2]`` for the toys) and their labels."""


def _is_int(x: object) -> bool:
    """An integer, and not a bool."""
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _check_list(fn: str, name: str, x: object, what: str) -> None:
    if isinstance(x, (str, bytes)) or not isinstance(x, Sequence):
        raise TypeError(f"{fn}: {name} must be a list of {what}, got {type(x).__name__}")


def _check(fn: str, n: object, noise: object, seed: object) -> None:
    """Validate the arguments every generator shares, naming the bad one."""
    check.integer(n, "n", at_least=2, who=fn, why="at least one point per class")
    check.real(noise, "noise", at_least=0.0, who=fn)
    check.seed(seed, who=fn)


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
    check.real(factor, "factor", at_least=0.0, below=1.0, who="circles",
               why="the inner circle's radius over the outer's")
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
    check.real(turns, "turns", above=0.0, who="spirals")
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


# -- splitting and labels -----------------------------------------------------


def train_test_split(
    X: Sequence[Sequence[float]],
    y: Sequence[Any],
    test_size: float = 0.2,
    *,
    seed: int | None = 0,
    stratify: bool = True,
) -> tuple[tuple[list[Any], list[Any]], tuple[list[Any], list[Any]]]:
    """Split ``(X, y)`` into ``(X_train, y_train), (X_test, y_test)``, seeded and stratified.

    The test part gets ``ceil(test_size * n)`` examples (as scikit-learn's
    ``train_test_split``), the training part the rest. With ``stratify``
    every class keeps its share of the examples in both parts: a class of
    ``n_c`` examples puts ``n_test * n_c / n`` of them in the test part,
    rounded so the parts have exactly their sizes (the largest remainders
    are rounded up). Which examples go where, and the order of each part
    (shuffled, so the classes are mixed), depend only on ``seed``.

    Labels are grouped by value: class indices (or any hashable labels),
    or one-hot lists. The rows are not copied: both parts hold the same row objects as ``X``
    (nothing is modified).

        >>> X, y = digits()
        >>> (X_train, y_train), (X_test, y_test) = train_test_split(X, y, 0.2, seed=0)
        >>> len(X_train), len(X_test), y_test.count(0), y.count(0)
        (1437, 360, 36, 178)
    """
    _check_list("train_test_split", "X", X, "rows")
    _check_list("train_test_split", "y", y, "labels")
    n = len(X)
    if len(y) != n:
        raise ValueError(f"train_test_split: X has {n} rows but y has {len(y)} labels")
    fraction = check.real(test_size, "test_size", above=0.0, below=1.0, who="train_test_split")
    check.seed(seed, who="train_test_split")
    # round() first: 0.28 * 25 is 7.000000000000001 in floats, and 7 is meant.
    n_test = math.ceil(round(fraction * n, 9))
    if not 1 <= n_test <= n - 1:
        raise ValueError(
            f"train_test_split: {n} examples with test_size={test_size!r} leave "
            f"{n_test} for testing and {n - n_test} for training; both need at least one"
        )
    rng = random.Random(seed)
    if stratify:
        test = _stratified_test_indices(y, n_test, rng)
    else:
        order = list(range(n))
        rng.shuffle(order)
        test = order[:n_test]
    chosen = set(test)
    train = [i for i in range(n) if i not in chosen]
    rng.shuffle(train)
    rng.shuffle(test)
    return (
        ([X[i] for i in train], [y[i] for i in train]),
        ([X[i] for i in test], [y[i] for i in test]),
    )


def _stratified_test_indices(y: Sequence[Any], n_test: int, rng: random.Random) -> list[int]:
    """``n_test`` indices drawn class by class in proportion to the class sizes."""
    classes: dict[Hashable, list[int]] = {}  # in order of first appearance: deterministic
    for i, label in enumerate(y):
        key = tuple(label) if isinstance(label, list) else label
        if not isinstance(key, Hashable):
            raise TypeError(
                f"train_test_split: label {i} is {type(label).__name__} {label!r}; "
                "stratifying needs class indices or one-hot lists"
            )
        classes.setdefault(key, []).append(i)
    n = len(y)
    groups = list(classes.values())
    # Exact integer shares: class c gets floor(n_test * n_c / n), and the
    # leftover examples go to the classes with the largest remainders.
    counts = [n_test * len(g) // n for g in groups]
    by_remainder = sorted(range(len(groups)), key=lambda c: -(n_test * len(groups[c]) % n))
    for c in by_remainder[: n_test - sum(counts)]:
        counts[c] += 1
    test: list[int] = []
    for group, count in zip(groups, counts, strict=True):
        members = list(group)
        rng.shuffle(members)
        test += members[:count]
    return test


def one_hot(y: Sequence[int], n_classes: int | None = None) -> list[list[float]]:
    """Class indices as one-hot rows: ``y_j = 1.0`` for the class, ``0.0`` elsewhere.

    The targets the book's quadratic and cross-entropy costs take for
    several outputs (``network.py``'s ``vectorized_result``). ``n_classes``
    defaults to ``max(y) + 1``.

        >>> one_hot([2, 0], n_classes=3)
        [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    """
    if n_classes is not None:
        check.integer(n_classes, "n_classes", at_least=1, who="one_hot")
    bad = next((i for i, label in enumerate(y) if not _is_int(label)), None)
    if bad is not None:
        raise TypeError(
            f"one_hot: label {bad} is {type(y[bad]).__name__} {y[bad]!r}; expected a class index"
        )
    k = n_classes if n_classes is not None else max(y, default=-1) + 1
    rows = []
    for i, label in enumerate(y):
        if not 0 <= label < k:
            raise ValueError(f"one_hot: label {i} is {label}; expected 0 to {k - 1}")
        row = [0.0] * k
        row[label] = 1.0
        rows.append(row)
    return rows


# -- IDX files (MNIST's format) -------------------------------------------------
#
# An IDX file is a 4-byte magic number (two zero bytes, the element type, the
# number of dimensions), each dimension as a big-endian uint32, then the
# elements in row-major order. Only unsigned bytes (type 0x08) are read here.

_UBYTE = 0x08
_GZIP_MAGIC = b"\x1f\x8b"


MAX_FILE_BYTES = 256 * 2**20
"""`mnist` refuses larger files (before or after gunzipping); MNIST's largest has 47 MB."""


def _read_bytes(path: Path) -> bytes:
    """The regular file's bytes, gunzipped if they are gzip (recognised by content, not name).

    Read without blocking (a named pipe is refused, not waited on) and at most
    `MAX_FILE_BYTES`, compressed or not.
    """
    limit = MAX_FILE_BYTES
    raw = read_regular_file(path, limit + 1)
    if len(raw) > limit:
        raise ValueError(f"{path}: larger than {limit:,} bytes (MAX_FILE_BYTES)")
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as unzipped:
            data = unzipped.read(limit + 1)
    except (OSError, EOFError, zlib.error) as e:
        raise ValueError(f"{path}: not a valid gzip file ({e})") from None
    if len(data) > limit:
        raise ValueError(f"{path}: larger than {limit:,} bytes (MAX_FILE_BYTES) uncompressed")
    return data


def _parse_idx(data: bytes, ndim: int, where: str) -> tuple[tuple[int, ...], bytes]:
    """The dimensions and the elements of an IDX file of unsigned bytes, all checked."""
    header = 4 + 4 * ndim
    magic, expected_magic = data[:4], bytes((0, 0, _UBYTE, ndim))
    if len(magic) == 4 and magic != expected_magic:
        raise ValueError(
            f"{where}: magic number 0x{magic.hex()}, expected 0x{expected_magic.hex()}"
            f" (an IDX file of unsigned bytes with {ndim} dimension{'s' * (ndim > 1)})"
        )
    if len(data) < header:
        raise ValueError(f"{where}: {len(data)} bytes, too short for an IDX header")
    dims = struct.unpack_from(f">{ndim}I", data, 4)
    expected = math.prod(dims)
    found = len(data) - header
    if found != expected:
        shape = " x ".join(f"{d:,}" for d in dims)
        problem = "truncated" if found < expected else "trailing bytes"
        raise ValueError(
            f"{where}: the header says {shape} = {expected:,} bytes of data, "
            f"the file has {found:,} ({problem})"
        )
    return dims, data[header:]


def _images_and_labels(
    images: bytes,
    labels: bytes,
    where: tuple[str, str],
    shape: tuple[int, int],
    top: int,
    limit: int | None,
) -> Dataset:
    """``(X, y)`` from an images and a labels IDX file, checked: pixels 0..``top``
    scaled to [0, 1] (``value / top``), labels 0..9."""
    (n, rows, cols), pixels = _parse_idx(images, 3, where[0])
    (n_labels,), classes = _parse_idx(labels, 1, where[1])
    if (rows, cols) != shape:
        raise ValueError(
            f"{where[0]}: images of {rows} x {cols} pixels, expected {shape[0]} x {shape[1]}"
        )
    if n != n_labels:
        raise ValueError(f"{where[0]} has {n:,} images but {where[1]} has {n_labels:,} labels")
    if n and max(classes) > 9:
        bad = next(i for i, c in enumerate(classes) if c > 9)
        raise ValueError(f"{where[1]}: label {bad} is {classes[bad]}; expected 0 to 9")
    if top < 255 and n and max(pixels) > top:
        bad = next(i for i, v in enumerate(pixels) if v > top)
        raise ValueError(
            f"{where[0]}: pixel {bad % (rows * cols)} of image {bad // (rows * cols)} is "
            f"{pixels[bad]}; expected 0 to {top}"
        )
    m = n if limit is None else min(limit, n)
    size = rows * cols
    # One float object per pixel value, shared by every row: a row then costs
    # only its list of pointers (8 bytes a pixel instead of 32).
    level = [v / top for v in range(256)]
    X = [[level[v] for v in pixels[i * size : (i + 1) * size]] for i in range(m)]
    return X, list(classes[:m])


# -- the bundled digits ---------------------------------------------------------

_DATA = importlib.resources.files("microgrid") / "data"
"""Where the package's data files are (``microgrid/data``)."""

_DIGITS_IMAGES = "digits-images-idx3-ubyte.gz"
_DIGITS_LABELS = "digits-labels-idx1-ubyte.gz"
_SHA256 = {  # of each file's uncompressed bytes, as scripts/make_digits_data.py prints them
    _DIGITS_IMAGES: "359cd13f0f514122884198b78a131df597421cbf5e93a76678fa96fc548f0d96",
    _DIGITS_LABELS: "ce71631c1f31ce56fa54f31d1d498fafacff59b001e6c30c4a5e29508aa277ad",
}


def _bundled(name: str) -> bytes:
    """A data file of the package, uncompressed and checked against its SHA-256."""
    raw = gzip.decompress((_DATA / name).read_bytes())
    digest = hashlib.sha256(raw).hexdigest()
    if digest != _SHA256[name]:
        raise RuntimeError(
            f"microgrid's data file {name} is damaged (SHA-256 {digest}, expected "
            f"{_SHA256[name]}); reinstall microgrid-autodiff"
        )
    return raw


def digits() -> Dataset:
    """The 1,797 8x8 handwritten digits that scikit-learn bundles, shipped with microgrid.

    Returns ``(X, y)``: ``X[i]`` is image ``i``'s 64 pixels, row by row,
    scaled from the original counts 0..16 to ``[0, 1]`` (``count / 16``);
    ``y[i]`` its digit, an int 0..9 (178 zeros, 182 ones, ...). The order
    is scikit-learn's: ``X[i]`` is ``load_digits().data[i] / 16``. No
    network and no extra needed; the file is checked against its SHA-256
    on every load (~20 ms).

    The data are the test set of E. Alpaydin and C. Kaynak's "Optical
    Recognition of Handwritten Digits" (UCI Machine Learning Repository,
    1998), as scikit-learn distributes it (BSD-3-Clause); the licence and
    attribution are in ``microgrid/data/DIGITS-LICENSE.txt``. Use
    `train_test_split` for a test set and `one_hot` for one-hot targets.

        >>> X, y = digits()
        >>> len(X), len(X[0]), sorted(set(y)) == list(range(10))
        (1797, 64, True)
        >>> min(min(row) for row in X), max(max(row) for row in X)
        (0.0, 1.0)
    """
    images, labels = _bundled(_DIGITS_IMAGES), _bundled(_DIGITS_LABELS)
    return _images_and_labels(images, labels, (_DIGITS_IMAGES, _DIGITS_LABELS), (8, 8), 16, None)


IMAGES: dict[str, Callable[[], Dataset]] = {"digits": digits}
"""The real image datasets bundled with microgrid, by name: loaders taking no
argument (the toys of `DATASETS` are generated, from ``(n, noise, seed)``)."""


# -- MNIST ----------------------------------------------------------------------

MNIST_URL = "https://yann.lecun.com/exdb/mnist/"
"""Where the MNIST files are published (LeCun, Cortes and Burges)."""

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
"""The images and labels file of each split, as published (also read with ``.gz``)."""

def _find_mnist_file(folder: Path, name: str) -> Path:
    # As published (optionally .gz), and as some mirrors rename them
    # (train-images.idx3-ubyte).
    dotted = name.replace("-idx", ".idx")
    for candidate in (name, f"{name}.gz", dotted, f"{dotted}.gz"):
        if (folder / candidate).exists():  # not is_file(): a pipe there is named as one
            return folder / candidate
    everything = ", ".join(f"{f}.gz" for pair in MNIST_FILES.values() for f in pair)
    raise FileNotFoundError(
        f"mnist: no {name} (or {name}.gz) in {str(folder)!r}. MNIST is not bundled: download "
        f"the four files {everything} from {MNIST_URL} (or a mirror of it) into that folder; "
        "gzipped or not, both are read."
    )


def mnist(
    path: str | os.PathLike[str],
    split: Literal["train", "test"] = "train",
    *,
    limit: int | None = None,
) -> Dataset:
    """Read MNIST's training (60,000) or test (10,000) images from the folder ``path``.

    The folder holds the standard IDX files (`MNIST_FILES`, gzipped or
    not, as downloaded from `MNIST_URL`). Returns ``(X, y)``: ``X[i]`` is
    image ``i``'s 784 pixels, row by row, scaled from 0..255 to ``[0, 1]``
    (``value / 255``); ``y[i]`` its digit, an int 0..9. ``limit`` keeps
    only the first ``limit`` examples.

    Everything is checked: missing files raise FileNotFoundError saying
    where to get them; a named pipe or a device in a file's place, a file
    above `MAX_FILE_BYTES` (before or after gunzipping), a wrong magic
    number, a truncated file or trailing bytes, images that are not 28 x 28,
    image and label counts that differ, or a label above 9 raise ValueError
    naming the file and the problem.

    Memory: Python lists of floats are large. The 256 possible pixel
    floats are shared by all rows, so an image costs only its list of 784
    pointers, about 7 KB: the 60,000 training images take about 420 MB
    and a few seconds to build (the 10,000 test images about 70 MB);
    without the sharing it would be four times that. The files are read
    whole, to check them (47 MB for the training images, released on
    return), but only the first ``limit`` rows are built: ``limit=10_000``
    costs about 70 MB.

        >>> X, y = mnist("~/data/mnist", limit=1000)        # doctest: +SKIP
        >>> len(X), len(X[0])                               # doctest: +SKIP
        (1000, 784)
    """
    check.choice(split, tuple(MNIST_FILES), "split", who="mnist")
    if limit is not None:
        check.integer(limit, "limit", at_least=1, who="mnist")
    folder = Path(path).expanduser()
    files = [_find_mnist_file(folder, name) for name in MNIST_FILES[split]]
    images, labels = (_read_bytes(f) for f in files)
    where = (str(files[0]), str(files[1]))
    return _images_and_labels(images, labels, where, (28, 28), 255, limit)
