"""Regenerate microgrid/data/digits-*-idx*-ubyte.gz from scikit-learn's copy of the digits.

`microgrid.datasets.digits` ships the 1,797 8x8 digits that scikit-learn
bundles (``sklearn/datasets/data/digits.csv.gz``: one row per image, 64
pixels 0..16 then the class 0..9), stored as the two IDX files MNIST uses
(the same reader loads both), gzipped with a fixed header so the output is
byte-identical from run to run. It prints the SHA-256 of each file's
uncompressed bytes: `datasets.py` checks them on every load.

    pip install scikit-learn                       # only to generate, never at run time
    python scripts/make_digits_data.py             # write the files, print the checksums
    python scripts/make_digits_data.py --check     # compare the shipped files to sklearn's
    python scripts/make_digits_data.py --csv PATH  # read a digits.csv.gz given by path

scikit-learn is found without being imported (its data file is read as
text), so any installed version serves.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib.util
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "microgrid" / "data"
IMAGES = "digits-images-idx3-ubyte.gz"
LABELS = "digits-labels-idx1-ubyte.gz"


def sklearn_csv() -> Path:
    """The path of scikit-learn's ``digits.csv.gz``, or exit saying how to get it."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or spec.origin is None:
        sys.exit("scikit-learn is not installed: pip install scikit-learn (or give --csv PATH)")
    return Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz"


def read_csv(path: Path) -> tuple[bytes, bytes]:
    """The pixels (row by row) and the labels of the CSV, as unsigned bytes."""
    pixels, labels = bytearray(), bytearray()
    with gzip.open(path, "rt", encoding="ascii") as f:
        for number, line in enumerate(f, 1):
            fields = [int(float(v)) for v in line.split(",")]
            if len(fields) != 65 or not all(0 <= v <= 16 for v in fields[:64]) \
                    or not 0 <= fields[64] <= 9:
                sys.exit(f"{path}:{number}: expected 64 pixels 0..16 and a class 0..9")
            pixels += bytes(fields[:64])
            labels.append(fields[64])
    return bytes(pixels), bytes(labels)


def idx_files(pixels: bytes, labels: bytes) -> tuple[bytes, bytes]:
    """The uncompressed IDX images file (n x 8 x 8 ubyte) and labels file (n ubyte)."""
    n = len(labels)
    images = struct.pack(">4B3I", 0, 0, 0x08, 3, n, 8, 8) + pixels
    return images, struct.pack(">4BI", 0, 0, 0x08, 1, n) + labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--csv", type=Path, help="scikit-learn's digits.csv.gz")
    parser.add_argument("--check", action="store_true",
                        help="compare the shipped files instead of writing them")
    args = parser.parse_args()
    images, labels = idx_files(*read_csv(args.csv or sklearn_csv()))
    for name, raw in ((IMAGES, images), (LABELS, labels)):
        target = DATA / name
        if args.check:
            same = gzip.decompress(target.read_bytes()) == raw
            print(f"{name}: {'same as' if same else 'DIFFERENT FROM'} scikit-learn's data")
            if not same:
                sys.exit(1)
            continue
        # mtime=0 and no file name in the header: the same bytes on every run.
        packed = gzip.compress(raw, compresslevel=9, mtime=0)
        target.write_bytes(packed)
        print(f"{name}: {len(raw):,} bytes, {len(packed):,} gzipped, "
              f"sha256 {hashlib.sha256(raw).hexdigest()}")


if __name__ == "__main__":
    main()
