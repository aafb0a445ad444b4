"""The book's experiments, reproduced: Nielsen's chapters 1 and 3 on handwritten digits.

Five runs, each changing one thing, as the book goes: chapter 1's sigmoid
network with the quadratic cost, then (chapter 3) the cross-entropy cost,
L2 regularisation, the scaled initialisation N(0, 1/n_in), and 100 hidden
neurons instead of 30. Each trains with the book's hyper-parameters
(mini-batches of 10, 30 epochs, eta 3.0 for the quadratic cost and 0.5
after) through ``fit(compiled=True)``, measuring the test set after every
epoch, and the table at the end sets the final test accuracies beside the
book's MNIST figures (docs/nielsen.md says where each comes from).

The data are the 1,797 8x8 digits bundled with microgrid, split 80/20
(seeded, stratified): 1,437 training and 360 test images, where the book
has MNIST's 50,000 training and 10,000 test images of 28x28. One
hyper-parameter is scaled for that: the book keeps ``lambda / n`` (the
weight decay per step) at 5.0 / 50,000 = 1e-4, as it does itself for its
1,000-image runs (lambda = 0.1), so here lambda = 1e-4 * 1,437. Needs numpy
(the ``fast`` extra).

    python examples/nielsen.py               # the five runs on digits, ~15 s on 2 cores
    python examples/nielsen.py --quick       # chapter 1's run in full, the others 2 epochs
    python examples/nielsen.py --mnist DIR   # on MNIST (the IDX files in DIR), the book's
                                             # own data and sizes: ~20 minutes
    python examples/nielsen.py --verbose     # also every epoch, as network.py prints it
                                             # (slower: the printing callback gets the
                                             # network synced after every step)

`run` and `SETUPS` are importable (scripts/make_nielsen_docs.py draws the
accuracy curves from them).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from microgrid import MLP, fit, losses
from microgrid.datasets import digits, mnist, one_hot, train_test_split

BOOK_N = 50_000
"""The book's training-set size (mnist_loader keeps 10,000 of MNIST's 60,000 for validation)."""
BOOK_LAMBDA = 5.0


@dataclass(frozen=True)
class Setup:
    """One run of the book: what changes, and what the book reports on MNIST."""

    name: str
    hidden: int
    loss: str
    lr: float
    init: str  # "normal": N(0, 1) everywhere; "scaled_normal": N(0, 1/n_in) weights
    lmbda: float  # the book's lambda for its 50,000 images (scaled to the data in `run`)
    book: str  # the book's figure on MNIST's test (or validation) images


SETUPS = [
    Setup("ch.1 quadratic cost", 30, "quadratic", 3.0, "normal", 0.0, "95.42% (peak)"),
    Setup("ch.3 cross-entropy", 30, "cross_entropy", 0.5, "normal", 0.0, "95.49%"),
    Setup("ch.3 + L2, lambda 5", 30, "cross_entropy", 0.5, "normal", BOOK_LAMBDA,
          "96.49% (peak)"),
    Setup("ch.3 + scaled init", 30, "cross_entropy", 0.5, "scaled_normal", BOOK_LAMBDA,
          "96.50% (validation)"),
    Setup("ch.3 + 100 hidden", 100, "cross_entropy", 0.5, "scaled_normal", BOOK_LAMBDA,
          "97.81% (validation)"),
]


@dataclass
class Data:
    name: str
    X_train: list[list[float]]
    y_train: list[int]
    X_test: list[list[float]]
    y_test: list[int]


@dataclass
class Result:
    setup: Setup
    lmbda: float  # as used: scaled to the training set
    epochs: int
    test_accuracy: list[float] = field(default_factory=list)  # after every epoch
    seconds: float = 0.0


def load(mnist_dir: str | None, seed: int) -> Data:
    """The bundled digits split 80/20, or MNIST as the book splits it (50,000 / test 10,000)."""
    if mnist_dir is None:
        X, y = digits()
        (X_train, y_train), (X_test, y_test) = train_test_split(X, y, 0.2, seed=seed)
        return Data("digits", X_train, y_train, X_test, y_test)
    X_train, y_train = mnist(mnist_dir, "train", limit=BOOK_N)
    X_test, y_test = mnist(mnist_dir, "test")
    return Data("MNIST", X_train, y_train, X_test, y_test)


def run(setup: Setup, data: Data, epochs: int = 30, seed: int = 0,
        verbose: bool = False) -> Result:
    """Train the setup's network on ``data``; the test accuracy after every epoch."""
    n = len(data.X_train)
    lmbda = setup.lmbda * n / BOOK_N  # the book's lambda/n, kept
    net = MLP(len(data.X_train[0]), [setup.hidden, 10], activation="sigmoid", init=setup.init,
              seed=seed)
    penalty = (lambda: losses.l2_weight_penalty(net, lmbda, n)) if lmbda else None
    n_test = len(data.y_test)

    def report(history):  # network.py's line after every epoch
        if verbose and len(history.validation_accuracy) > len(shown):
            shown.append(None)
            right = round(history.validation_accuracy[-1] * n_test)
            print(f"    Epoch {history.epochs - 1}: {right} / {n_test}", flush=True)

    shown: list[None] = []
    # (a callback only to print: a compiled fit hands it the network synced every step)
    history = fit(net, data.X_train, one_hot(data.y_train, 10), loss=setup.loss, lr=setup.lr,
                  epochs=epochs, batch_size=10, penalty=penalty, seed=seed,
                  validation=(data.X_test, one_hot(data.y_test, 10)), compiled=True,
                  progress=False, callback=report if verbose else None)
    return Result(setup, lmbda, epochs, history.validation_accuracy, history.seconds)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="chapter 1's run in full, the other four for 2 epochs (for tests)")
    parser.add_argument("--mnist", metavar="DIR", help="train on MNIST's IDX files in DIR")
    parser.add_argument("--epochs", type=int, default=30, help="epochs per run (default 30)")
    parser.add_argument("--seed", type=int, default=0, help="seeds split, weights, shuffling")
    parser.add_argument("--verbose", action="store_true", help="print every epoch")
    parser.add_argument("--json", metavar="FILE", help="write every epoch's test accuracy")
    args = parser.parse_args(argv)

    data = load(args.mnist, args.seed)
    print(f"{data.name}: {len(data.X_train):,} training and {len(data.X_test):,} test images "
          f"of {len(data.X_train[0])} pixels; mini-batches of 10, sigmoid neurons, "
          f"compiled; lambda scaled to {len(data.X_train):,} images as lambda/n = "
          f"{BOOK_LAMBDA / BOOK_N:g}")
    results = []
    for k, setup in enumerate(SETUPS):
        epochs = args.epochs if k == 0 or not args.quick else min(2, args.epochs)
        print(f"  {setup.name}: [{len(data.X_train[0])}, {setup.hidden}, 10], {setup.loss}, "
              f"eta {setup.lr:g}, {setup.init} init" + (
                  f", lambda {setup.lmbda * len(data.X_train) / BOOK_N:.3g}" if setup.lmbda
                  else "") + f", {epochs} epochs", flush=True)
        results.append(run(setup, data, epochs, args.seed, args.verbose))
    print()
    print(f"{'set-up':22} {'hidden':>6} {'epochs':>6} {'test acc.':>9} {'best':>7} "
          f"{'time':>7}   book, MNIST")
    for r in results:
        best = max(r.test_accuracy)
        print(f"{r.setup.name:22} {r.setup.hidden:6} {r.epochs:6} {r.test_accuracy[-1]:9.2%} "
              f"{best:7.2%} {r.seconds:6.1f}s   {r.setup.book}")
    first = results[0]
    print()
    print(f"[{len(data.X_train[0])}, 30, 10] trained with fit(compiled=True), chapter 1's "
          f"settings: {first.test_accuracy[-1]:.1%} test accuracy after {first.epochs} epochs "
          f"in {first.seconds:.1f} s")
    if args.json:
        rows = [{"setup": r.setup.name, "hidden": r.setup.hidden, "loss": r.setup.loss,
                 "lr": r.setup.lr, "init": r.setup.init, "lmbda": r.lmbda, "epochs": r.epochs,
                 "test_accuracy": r.test_accuracy, "seconds": r.seconds, "book": r.setup.book}
                for r in results]
        Path(args.json).write_text(json.dumps({"data": data.name, "runs": rows}, indent=1),
                                   encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
