"""Regenerate the demo pictures the docs and README show (docs/img/demo/).

Runs ``microgrid demo`` with its defaults (moons, seed 0) into a temporary
folder and copies the pictures a reader sees first: the training curves,
the decision boundary and the network diagram. (The computation graph of
the [2, 16, 16, 1] network is about 30,000 pixels tall: it is for zooming
into, not for a page.) Then ``microgrid demo --dataset digits``, whose
three pictures are copied with a ``digits_`` prefix. The output is
deterministic up to the renderer and matplotlib versions.

    python scripts/make_demo_images.py
"""

from __future__ import annotations

import io
import shutil
import sys
import tempfile
from pathlib import Path

from microgrid.demo import DemoOptions, run

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "img" / "demo"
PICTURES = ("training_curves.png", "decision_boundary.png", "network.svg")
DIGITS_PICTURES = ("training_curves.png", "confusion_matrix.png", "misclassified.png")


def main() -> int:
    TARGET.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        result = run(DemoOptions(out=folder, quiet=True), stream=io.StringIO())
        missing = [a.name for a in result.artifacts if a.name in PICTURES and a.path is None]
        if missing:
            print(f"not written: {', '.join(missing)} (install the plot and graph extras)",
                  file=sys.stderr)
            return 1
        for name in PICTURES:
            shutil.copyfile(Path(folder) / name, TARGET / name)
            print(f"wrote {(TARGET / name).relative_to(ROOT)}")
    print(f"training accuracy {result.accuracy:.0%} in {result.history.seconds:.1f} s")
    with tempfile.TemporaryDirectory() as folder:
        result = run(DemoOptions(dataset="digits", out=folder, quiet=True), stream=io.StringIO())
        missing = [a.name for a in result.artifacts
                   if a.name in DIGITS_PICTURES and a.path is None]
        if missing:
            print(f"not written: {', '.join(missing)} (install the plot extra)", file=sys.stderr)
            return 1
        for name in DIGITS_PICTURES:
            shutil.copyfile(Path(folder) / name, TARGET / f"digits_{name}")
            print(f"wrote {(TARGET / f'digits_{name}').relative_to(ROOT)}")
    print(f"digits: test accuracy {result.test_accuracy:.1%} in {result.history.seconds:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
