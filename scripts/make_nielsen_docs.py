"""Regenerate the accuracy curves and the table of docs/nielsen.md.

Runs the five set-ups of ``examples/nielsen.py`` (the book's chapters 1
and 3) on the bundled digits for several seeds (each seed its own 80/20
split, initial weights and shuffling), draws the test accuracy after every
epoch (the seeds' mean, their range shaded) into
``docs/img/nielsen/accuracy.png``, and prints the page's table: seed 0's
final accuracy (what ``python examples/nielsen.py`` prints) and the mean
and spread over the seeds. Takes about 4 minutes on two cores.

    python scripts/make_nielsen_docs.py [--seeds 5]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
from pathlib import Path

from matplotlib.figure import Figure

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "img" / "nielsen" / "accuracy.png"
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00")


def example() -> object:
    """examples/nielsen.py as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("nielsen", ROOT / "examples" / "nielsen.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["nielsen"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args(argv)
    nielsen = example()
    runs: dict[str, list[list[float]]] = {s.name: [] for s in nielsen.SETUPS}  # type: ignore[attr-defined]
    seconds: dict[str, list[float]] = {s.name: [] for s in nielsen.SETUPS}  # type: ignore[attr-defined]
    for seed in range(args.seeds):
        data = nielsen.load(None, seed)  # type: ignore[attr-defined]
        for setup in nielsen.SETUPS:  # type: ignore[attr-defined]
            result = nielsen.run(setup, data, 30, seed)  # type: ignore[attr-defined]
            runs[setup.name].append(result.test_accuracy)
            seconds[setup.name].append(result.seconds)
            print(f"seed {seed}: {setup.name:22} {result.test_accuracy[-1]:.2%} "
                  f"({result.seconds:.1f} s)", flush=True)

    figure = Figure(figsize=(7.0, 4.2), dpi=100, layout="constrained")
    ax = figure.subplots()
    ax.grid(True, color="#dddddd", linewidth=0.6)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    epochs = range(1, 31)
    for (name, curves), colour in zip(runs.items(), COLOURS, strict=True):
        mean = [100 * statistics.fmean(c[e] for c in curves) for e in range(30)]
        low = [100 * min(c[e] for c in curves) for e in range(30)]
        high = [100 * max(c[e] for c in curves) for e in range(30)]
        ax.fill_between(epochs, low, high, color=colour, alpha=0.12, linewidth=0)
        ax.plot(epochs, mean, color=colour, linewidth=1.8, label=name)
    ax.set_ylim(90, 100)
    ax.set_xlim(1, 30)
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"Digits, 360 test images: the mean of {args.seeds} seeds (range shaded)",
                 loc="left", fontsize=11)
    ax.legend(frameon=False, fontsize=9, loc="lower right")
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(TARGET, dpi=150, facecolor="white")
    print(f"wrote {TARGET.relative_to(ROOT)}\n")

    print("| set-up | digits, seed 0 | digits, mean ± sd of "
          f"{args.seeds} seeds (min-max) | time, seed 0 |")
    print("| --- | ---: | ---: | ---: |")
    for setup in nielsen.SETUPS:  # type: ignore[attr-defined]
        finals = [100 * c[-1] for c in runs[setup.name]]
        print(f"| {setup.name} | {finals[0]:.2f}% | {statistics.fmean(finals):.2f} ± "
              f"{statistics.stdev(finals):.2f}% ({min(finals):.2f}-{max(finals):.2f}) | "
              f"{seconds[setup.name][0]:.1f} s |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
