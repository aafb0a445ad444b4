"""``microgrid demo``: train a tiny network on a toy dataset and show everything about it.

The defaults are micrograd's demo: an MLP ``[2, 16, 16, 1]`` with ReLU
hidden layers, the max-margin (`hinge`) cost on -1/+1 labels plus
micrograd's L2 penalty ``1e-4 * sum p^2``, full-batch SGD with the rate
``1.0 - 0.9 k / steps`` for 100 steps, on 100 two-moons points with noise
0.1. It trains through `microgrid.train.fit` (with a progress bar) and
reaches 100% training accuracy with the default seed. Then it writes to
the output folder (default ``./microgrid-demo/``):

==========================  ==============================================  =======
file                        what                                            needs
==========================  ==============================================  =======
``training_curves.png``     loss and accuracy at every step                 plot
``decision_boundary.png``   the regions the network learned, with the data  plot
``computation_graph.svg``   one example's cost: z, a, delta (no params)    graph
``network.svg``             the network with each neuron's ``delta``        graph
``walkthrough.html``        that example's backward pass, step by step      graph
``model.json``              the trained weights (``MLP.load`` reads it)     --
==========================  ==============================================  =======

The drawings are of the training example with the smallest margin
``y * score`` (so the largest cost: the one the network is least sure of
or gets wrong), after
``cost.backward()`` on it alone, so the grads and ``delta`` shown are that
example's (BP1-BP4), and ``walkthrough.html`` goes through that backward
pass step by step (`microgrid.walkthrough`: every z, a, delta and gradient,
the engine's number beside the textbook's; the drawing needs the graph
extra, the steps do not). When every example lies beyond the margin (cost 0, as
circles and xor end up), its grads would all be 0 and teach nothing, so
the drawings show a point on the decision boundary instead: where the
boundary crosses the segment between the two nearest training examples of
opposite classes, labelled like the nearer of the two (cost about 1). The
summary says which it is.

``--dataset digits`` trains on real data instead: the book's chapter 1
network, ``[64, 30, 10]`` sigmoid with the quadratic cost, N(0, 1)
initial weights, mini-batches of 10 at eta = 3.0 for 30 epochs, on a
seeded, stratified 80/20 split of the 1,797 bundled 8x8 digits
(`datasets.digits`), measuring the test set after every epoch. It trains
compiled (`fit(compiled=True)`, under 2 s) where numpy is installed, else
eagerly (about 40 s). It writes ``training_curves.png`` (loss and accuracy
per epoch, training and test), ``confusion_matrix.png`` (the test set's),
``misclassified.png`` (the test images it gets wrong, true and predicted
digit under each) and ``model.json`` (`IMAGE_FILES`).

Missing extras do not stop the demo: it trains, writes what it can (the
DOT source of a drawing when SVG cannot be rendered) and names the extra
to install. Exit status (`DemoResult.status`): 0 when every file was
written or only skipped for a missing extra, 1 when a file could not be
written for another reason. Files are written atomically (a temporary
file renamed over the target), so an interrupted run never leaves half a
file; the six names above are overwritten, nothing else in the folder is
touched (the files of the dataset's kind: `FILES` or `IMAGE_FILES`).
"""

from __future__ import annotations

import importlib.util
import math
import os
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any, TextIO

from microgrid import _checks
from microgrid._extras import install_hint
from microgrid._files import write_atomically
from microgrid.datasets import DATASETS, IMAGES, Dataset, one_hot, train_test_split
from microgrid.engine import no_grad
from microgrid.losses import hinge
from microgrid.nn import HIDDEN_ACTIVATIONS, MLP
from microgrid.train import DivergenceError, History, evaluate, fit, predict

__all__ = ["ACTIVATIONS", "DATASET_NAMES", "FILES", "IMAGE_FILES", "IMAGE_PRESETS",
           "MAX_PARAMETERS", "PRESETS", "Artifact", "DemoOptions", "DemoResult", "ImagePreset",
           "OutputFolderError", "Preset", "run", "summary"]

ACTIVATIONS = HIDDEN_ACTIVATIONS
"""Hidden-layer activations the demo accepts: `microgrid.nn.HIDDEN_ACTIVATIONS`."""

L2 = 1e-4
"""micrograd's ``alpha``: the cost gets ``L2 * sum p^2`` over all parameters."""


MAX_PARAMETERS = 100_000
"""The largest network the demo trains, in parameters (the default has 337).

Each full-batch step builds the graph of every example: at 91,500
parameters (``--hidden 300,300``) a step takes about 5 s and the run about
800 MB; ``--hidden 20000,20000`` (400 million) allocated until MemoryError.
"""


LEARNING_RATE = 1.0
"""micrograd's initial rate; the schedule takes it down to a tenth of it."""
LINEAR_LEARNING_RATE = 0.1
"""The initial rate for ``activation="linear"``: the network is then one linear
map of the input, and 1.0 makes its weights grow without bound."""


def learning_rate(k: int, steps: int, first: float = LEARNING_RATE) -> float:
    """micrograd's schedule ``first * (1 - 0.9 k / steps)``: from ``first`` to ``first / 10``."""
    return first * (1.0 - 0.9 * k / steps)


@dataclass(frozen=True)
class Preset:
    """A dataset's defaults: its points and noise, and how long and wide to train."""

    points: int
    noise: float
    steps: int
    hidden: tuple[int, ...]
    note: str


PRESETS: dict[str, Preset] = {
    "moons": Preset(100, 0.1, 100, (16, 16), "micrograd's demo; 100% with the default seed"),
    "circles": Preset(100, 0.05, 100, (16, 16), "a ring around a disc; 100% in 100 steps"),
    "xor": Preset(100, 0.1, 100, (16, 16), "four corners, no straight line works; 100% quickly"),
    "spirals": Preset(
        100, 0.05, 300, (16, 16),
        "two arms a turn long: needs 3x the steps (about 99% after 100, 100% after 300)",
    ),
}
"""The defaults of each toy ``--dataset``."""


@dataclass(frozen=True)
class ImagePreset:
    """A real dataset's defaults: the book's chapter 1 set-up, scaled to the data."""

    load: Callable[[], Dataset]
    inputs: int
    classes: int
    test_size: float
    hidden: tuple[int, ...]
    activation: str
    init: str
    loss: str
    lr: float
    batch_size: int
    epochs: int
    note: str


IMAGE_PRESETS: dict[str, ImagePreset] = {
    "digits": ImagePreset(
        IMAGES["digits"], 64, 10, 0.2, (30,), "sigmoid", "normal", "quadratic", 3.0, 10, 30,
        "the book's chapter 1 network on the bundled 8x8 digits; about 98% on the test set",
    ),
}
"""The real datasets ``--dataset`` takes, with the book's hyper-parameters."""

DATASET_NAMES: tuple[str, ...] = (*DATASETS, *IMAGES)
"""Every ``--dataset``: the toys (`datasets.DATASETS`), then the real images
(`datasets.IMAGES`); `PRESETS` and `IMAGE_PRESETS` hold their defaults."""

FILES: dict[str, str] = {
    "training_curves.png": "loss and accuracy at every step",
    "decision_boundary.png": "the regions the network learned, with the data",
    "computation_graph.svg": "the graph of one example's cost: z, a, delta (no params)",
    "network.svg": "the network with each neuron's delta for that example",
    "walkthrough.html": "that example's backward pass step by step (open it in a browser)",
    "model.json": "the trained network",
}
"""The files the demo writes for a toy dataset, with what each shows."""

IMAGE_FILES: dict[str, str] = {
    "training_curves.png": "loss and accuracy per epoch, on the training and the test set",
    "confusion_matrix.png": "the test set: each true digit against the one predicted",
    "misclassified.png": "the test images the network gets wrong, true -> predicted",
    "model.json": "the trained network",
}
"""The files the demo writes for a real dataset (``--dataset digits``)."""

_EXTRAS = {"plot": install_hint("plot"), "graph": install_hint("graph")}


class OutputFolderError(OSError):
    """The output folder cannot be created."""


@dataclass(frozen=True)
class DemoOptions:
    """What to train and where to write; ``None`` means the dataset's `Preset`."""

    dataset: str = "moons"
    steps: int | None = None
    """Full-batch steps, for the toy datasets."""
    seed: int = 0
    hidden: tuple[int, ...] | None = None
    activation: str | None = None
    """The hidden layers' activation (default relu; sigmoid for digits, as the book)."""
    lr: float | None = None
    """The initial learning rate (default `LEARNING_RATE`, `LINEAR_LEARNING_RATE` for linear;
    for digits the book's constant eta = 3.0)."""
    out: str | os.PathLike[str] = "microgrid-demo"
    quiet: bool = False
    epochs: int | None = None
    """Epochs of mini-batches, for the real datasets (default the preset's: 30)."""

    def check(self) -> None:
        """Raise ValueError (TypeError for a wrong type) naming the first bad option."""
        _checks.choice(self.dataset, DATASET_NAMES, "dataset")
        images = self.dataset in IMAGE_PRESETS
        if self.steps is not None:
            _checks.integer(self.steps, "steps", at_least=1)
            if images:
                raise ValueError(f"steps counts the full-batch steps of the toy datasets; "
                                 f"{self.dataset} trains in epochs of mini-batches: give epochs")
        if self.epochs is not None:
            _checks.integer(self.epochs, "epochs", at_least=1)
            if not images:
                raise ValueError(f"epochs is for the real datasets; {self.dataset} trains "
                                 "full-batch, one step an epoch: give steps")
        _checks.integer(self.seed, "seed")
        if self.hidden is not None:
            if not isinstance(self.hidden, (tuple, list)):
                raise TypeError(f"hidden must be a tuple of layer widths, "
                                f"got {type(self.hidden).__name__} {_checks.quote(self.hidden)}")
            if not self.hidden:
                raise ValueError("hidden must be one or more layer widths, got ()")
            for i, width in enumerate(self.hidden):
                _checks.integer(width, f"hidden[{i}]", at_least=1)
            sizes = [2, *self.hidden, 1]
            if images:
                preset = IMAGE_PRESETS[self.dataset]
                sizes = [preset.inputs, *self.hidden, preset.classes]
            count = sum(fan_in * width + width for fan_in, width in pairwise(sizes))
            if count > MAX_PARAMETERS:
                raise ValueError(
                    f"hidden widths {','.join(map(str, self.hidden))} make a network of {count:,} "
                    f"parameters; the demo trains at most {MAX_PARAMETERS:,} (each step builds "
                    "the graph of every example): choose smaller widths, such as 16,16"
                )
        if self.activation is not None:
            _checks.choice(self.activation, ACTIVATIONS, "activation")
        if self.lr is not None:
            _checks.real(self.lr, "lr", above=0.0)
        out = Path(self.out)
        if out.exists() and not out.is_dir():
            raise ValueError(f"the output folder {os.fspath(out)!r} exists and is a file")


@dataclass
class Artifact:
    """One file of the demo: written (``path``), or why not (``skipped``/``failed``)."""

    name: str
    description: str
    path: Path | None = None
    skipped: str | None = None
    """Why it was not written: a missing extra and the command that installs it."""
    failed: str | None = None
    """Why it could not be written for any other reason (the demo then exits 1)."""
    note: str | None = None
    """What was written instead, if anything (e.g. the DOT source of a drawing)."""


@dataclass
class DemoResult:
    """What `run` trained, measured and wrote."""

    options: DemoOptions
    net: MLP
    history: History
    accuracy: float
    """Training accuracy of the trained network (``evaluate`` after the last step)."""
    loss: float
    """Mean cost of the trained network on the training set (no penalty)."""
    example: int | None
    """The index of the training example the drawings show: the one with the largest
    cost. None when every training example is beyond the margin (cost 0, every grad 0):
    the drawings then show a point on the decision boundary (see `example_between`)."""
    example_cost: float
    """The cost ``C_x`` of what the drawings show: always above 0 (about 1 for a point on
    the decision boundary), so their gradients are not all 0."""
    out: Path
    example_x: list[float] = field(default_factory=list)
    """The input the drawings show."""
    example_y: int = 0
    """Its label, -1 or +1."""
    example_between: tuple[int, int] | None = None
    """For a point on the decision boundary: the two training examples (of opposite
    classes, the nearest such pair) on whose segment it lies; it has the nearer one's label."""
    artifacts: list[Artifact] = field(default_factory=list)
    seconds: float = 0.0
    """Wall time of the whole run: data, training, pictures, files."""
    test_accuracy: float | None = None
    """For a real dataset: the fraction of the test set classified right (else None)."""
    test_loss: float | None = None
    """For a real dataset: the mean cost on the test set after training (else None)."""

    @property
    def status(self) -> int:
        """0 if every file was written or skipped for a missing extra, else 1."""
        return 1 if any(a.failed for a in self.artifacts) else 0


def _plain_progress(stream: TextIO, total: int) -> Callable[[History], None]:
    """A line every tenth of the run, for when tqdm is not installed."""
    every = max(1, total // 10)

    def report(history: History) -> None:
        k = history.steps
        if k % every == 0 or k == total:
            acc = f", accuracy {history.step_accuracy[-1]:.0%}" if history.step_accuracy else ""
            print(f"  step {k:>4}/{total}: loss {history.step_loss[-1]:.4g}{acc}", file=stream)

    return report


def _has_tqdm() -> bool:
    return importlib.util.find_spec("tqdm") is not None


def run(options: DemoOptions | None = None, *, stream: TextIO | None = None) -> DemoResult:
    """Train per ``options``, write the files, print a summary; return the `DemoResult`.

    ``stream`` receives the narration and the summary (default stdout; the
    progress bar goes to stderr). With ``options.quiet`` only the summary
    is printed.

        >>> result = run(DemoOptions(steps=100, out="demo"))       # doctest: +SKIP
        >>> result.accuracy                                        # doctest: +SKIP
        1.0

    Raises:
        ValueError: a bad option (before anything is trained or written).
        OutputFolderError: the output folder cannot be created (an OSError).
        RuntimeError: training diverged (too large a learning rate).
    """
    options = options or DemoOptions()
    options.check()
    stream = stream or sys.stdout
    start = time.perf_counter()
    out = _output_folder(options.out)

    def say(text: str) -> None:
        if not options.quiet:
            print(text, file=stream, flush=True)

    if options.dataset in IMAGE_PRESETS:
        result = _run_images(options, out, stream, say)
    else:
        result = _run_toy(options, out, stream, say)
    result.seconds = time.perf_counter() - start
    print(summary(result), file=stream, flush=True)
    return result


def _output_folder(path: str | os.PathLike[str]) -> Path:
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputFolderError(
            f"cannot create the output folder {os.fspath(out)!r}: {e.strerror or e}"
        ) from e
    return out


def _train(options: DemoOptions, stream: TextIO, total_steps: int, lr: float,
           train: Callable[[Callable[[History], None] | None, bool], History]) -> History:
    """``train(callback, progress)``: `fit` with the demo's progress display (a tqdm bar,
    or a line every tenth of the run without tqdm); divergence as a RuntimeError.

    No callback where none shows anything: a compiled fit writes the parameters
    back to the network before each callback, a loop over them per step.
    """
    tqdm_bar = not options.quiet and _has_tqdm()
    show = None if options.quiet or tqdm_bar else _plain_progress(stream, total_steps)
    try:
        return train(show, tqdm_bar)
    except (ValueError, ArithmeticError) as e:
        # fit's DivergenceError: the parameters blew up (they are left as the
        # last good step left them); its cause is what overflowed.
        done = e.history.steps if isinstance(e, DivergenceError) else 0
        cause = e.__cause__ if isinstance(e, DivergenceError) and e.__cause__ else e
        problem = str(cause) if len(str(cause)) < 120 else str(cause)[:117] + "..."
        raise RuntimeError(
            f"training diverged after {done} of {total_steps} steps ({problem}); "
            f"try a smaller --lr than {lr:g}"
        ) from e


def _run_toy(options: DemoOptions, out: Path, stream: TextIO,
             say: Callable[[str], None]) -> DemoResult:
    """micrograd's demo on a toy dataset: train, pick the example to draw, write `FILES`."""
    preset = PRESETS[options.dataset]
    steps = options.steps or preset.steps
    activation = options.activation or "relu"
    lr = options.lr or (LINEAR_LEARNING_RATE if activation == "linear" else LEARNING_RATE)
    hidden = list(options.hidden or preset.hidden)
    X, y = DATASETS[options.dataset](preset.points, noise=preset.noise, seed=options.seed,
                                     signed=True)
    # A linear output: the score the hinge cost reads (MLP would end sigmoid
    # networks with a sigmoid, whose score never goes below 0).
    net = MLP(2, [*hidden, 1], activation=activation, output_activation="linear",
              seed=options.seed)
    say(f"Training an MLP {net.sizes} ({activation}, {net.num_parameters()} parameters) "
        f"on {options.dataset} ({len(X)} points) for {steps} steps: hinge loss + L2 {L2:g}, "
        f"SGD with the rate {lr:g} -> {lr / 10:g}")
    history = _train(options, stream, steps, lr, lambda callback, bar: fit(
        net, X, y, loss="hinge", l2=L2, epochs=steps, progress=bar, callback=callback,
        lr_schedule=lambda k, total: learning_rate(k, total, lr),
    ))
    final = evaluate(net, X, y, loss="hinge")
    accuracy = final.accuracy if final.accuracy is not None else math.nan

    result = DemoResult(options, net, history, accuracy, final.loss, None, 0.0, out)
    _choose_example(result, X, y)

    say(f"Writing pictures and the model to {os.fspath(out)}{os.sep}")
    artifacts = {name: Artifact(name, text) for name, text in FILES.items()}
    result.artifacts = list(artifacts.values())
    _write_plots(result, X, y, artifacts)
    _write_drawings(result, result.example_x, result.example_y, artifacts)
    _write(artifacts["model.json"], out, lambda path: net.save(path))
    return result


def _run_images(options: DemoOptions, out: Path, stream: TextIO,
                say: Callable[[str], None]) -> DemoResult:
    """The book's chapter 1 run on real images: train, test every epoch, write `IMAGE_FILES`."""
    preset = IMAGE_PRESETS[options.dataset]
    epochs = options.epochs or preset.epochs
    activation = options.activation or preset.activation
    lr = options.lr or preset.lr
    hidden = list(options.hidden or preset.hidden)
    X, y = preset.load()
    (X_train, y_train), (X_test, y_test) = train_test_split(
        X, y, preset.test_size, seed=options.seed)
    targets = one_hot(y_train, preset.classes)
    net = MLP(len(X[0]), [*hidden, preset.classes], activation=activation, init=preset.init,
              seed=options.seed)
    compiled = importlib.util.find_spec("numpy") is not None
    how = ("compiled (numpy)" if compiled else
           f"eagerly (about 40 s; {install_hint('fast')} trains compiled, some 20 times faster)")
    say(f"Training an MLP {net.sizes} ({activation}, {net.num_parameters()} parameters, "
        f"{preset.init} initial weights) on {options.dataset}: {len(X_train)} training and "
        f"{len(X_test)} test images, {epochs} epochs of mini-batches of {preset.batch_size} "
        f"at eta = {lr:g}, {preset.loss} cost, {how}")
    steps = epochs * -(-len(X_train) // preset.batch_size)
    history = _train(options, stream, steps, lr, lambda callback, bar: fit(
        net, X_train, targets, loss=preset.loss, lr=lr, epochs=epochs,
        batch_size=preset.batch_size, validation=(X_test, one_hot(y_test, preset.classes)),
        seed=options.seed, progress=bar, callback=callback, compiled=compiled,
    ))
    final = evaluate(net, X_train, targets, loss=preset.loss, compiled=compiled)
    predicted = predict(net, X_test, compiled=compiled)
    right = sum(p == t for p, t in zip(predicted, y_test, strict=True))
    result = DemoResult(options, net, history, final.accuracy or 0.0, final.loss, None, 0.0,
                        out, test_accuracy=right / len(y_test),
                        test_loss=history.validation_loss[-1] if history.validation_loss
                        else math.nan)

    say(f"Writing pictures and the model to {os.fspath(out)}{os.sep}")
    artifacts = {name: Artifact(name, text) for name, text in IMAGE_FILES.items()}
    result.artifacts = list(artifacts.values())
    _write_image_plots(result, X_test, y_test, predicted, artifacts)
    _write(artifacts["model.json"], out, lambda path: net.save(path))
    return result


def _write_image_plots(result: DemoResult, X_test: list[list[float]], y_test: list[int],
                       predicted: list[int], artifacts: dict[str, Artifact]) -> None:
    try:
        from microgrid import plot
    except ImportError as e:  # pragma: no cover - plot.py imports matplotlib lazily
        for name in ("training_curves.png", "confusion_matrix.png", "misclassified.png"):
            artifacts[name].skipped = str(e)
        return
    dataset = result.options.dataset
    sizes = "-".join(str(n) for n in result.net.sizes)
    right = sum(p == t for p, t in zip(predicted, y_test, strict=True))
    _write(artifacts["training_curves.png"], result.out, lambda path: plot.plot_history(
        result.history, validation_label="test", save=path,
        title=f"{dataset}, MLP {sizes} ({result.net.activation}), {result.history.epochs} "
              "epochs"))
    _write(artifacts["confusion_matrix.png"], result.out, lambda path: plot.confusion_matrix(
        y_test, predicted, save=path,
        title=f"{dataset} test set: {right} of {len(y_test)} right"))
    wrong = [i for i, (p, t) in enumerate(zip(predicted, y_test, strict=True)) if p != t]
    shown = wrong or list(range(min(30, len(y_test))))
    title = (f"the {len(wrong)} test images misclassified (true\u2192predicted)" if wrong
             else f"no test image misclassified; the first {len(shown)}")
    if len(wrong) > 100:
        title = f"100 of the {len(wrong)} test images misclassified (true\u2192predicted)"
    _write(artifacts["misclassified.png"], result.out, lambda path: plot.images(
        [X_test[i] for i in shown], labels=[y_test[i] for i in shown],
        predicted=[predicted[i] for i in shown], title=title, save=path))


def _choose_example(result: DemoResult, X: list[list[float]], y: list[int]) -> None:
    """Pick what the drawings show: an example whose gradients are not all 0.

    The training example with the smallest margin ``y * score`` (the largest
    cost, so the most to backpropagate), if its cost is above 0. Otherwise
    every example is beyond the margin, and the drawings show a point on
    the decision boundary, whose cost is about 1.
    """
    net = result.net
    with no_grad():
        margins = [t * net(x)[0].data for x, t in zip(X, y, strict=True)]
    example = min(range(len(X)), key=margins.__getitem__)
    if margins[example] < 1.0:
        result.example, result.example_x, result.example_y = example, X[example], y[example]
        result.example_cost = 1.0 - margins[example]
        return
    i, j, x = _boundary_point(net, X, y)
    nearer = i if math.dist(x, X[i]) <= math.dist(x, X[j]) else j
    with no_grad():
        score = net(x)[0].data
    result.example, result.example_x, result.example_y = None, x, y[nearer]
    result.example_between = (i, j)
    result.example_cost = max(0.0, 1.0 - y[nearer] * score)


def _boundary_point(
    net: MLP, X: list[list[float]], y: list[int]
) -> tuple[int, int, list[float]]:
    """Where the decision boundary crosses the segment between the nearest opposite pair.

    Called when every margin is at least 1, so the score is at least 1 at the
    +1 example ``i`` and at most -1 at the -1 example ``j``: bisection finds
    where on the segment between them it changes sign.
    """
    positive = [i for i, t in enumerate(y) if t > 0]
    negative = [j for j, t in enumerate(y) if t < 0]
    i, j = min(((i, j) for i in positive for j in negative),
               key=lambda pair: math.dist(X[pair[0]], X[pair[1]]))

    def point(t: float) -> list[float]:
        return [a + t * (b - a) for a, b in zip(X[i], X[j], strict=True)]

    low, high = 0.0, 1.0  # the score is positive at low, negative at high
    with no_grad():
        for _ in range(50):
            middle = (low + high) / 2
            if net(point(middle))[0].data > 0.0:
                low = middle
            else:
                high = middle
    return i, j, point((low + high) / 2)


def _write(artifact: Artifact, out: Path, write: Callable[[Path], object]) -> None:
    """Write one file, recording a missing extra or a failure instead of raising.

    ``write(path)`` is atomic itself: `MLP.save`, `Drawing.save` and the plots'
    ``save=`` all write through `microgrid._files.write_atomically`.
    """
    path = out / artifact.name
    try:
        write(path)
    except ImportError as e:
        artifact.skipped = str(e)
    except (OSError, ValueError, RuntimeError, ArithmeticError) as e:
        artifact.failed = f"{type(e).__name__}: {e}"
    else:
        artifact.path = path


def _write_plots(result: DemoResult, X: list[list[float]], y: list[int],
                 artifacts: dict[str, Artifact]) -> None:
    try:
        from microgrid import plot
    except ImportError as e:  # pragma: no cover - plot.py imports matplotlib lazily
        for name in ("training_curves.png", "decision_boundary.png"):
            artifacts[name].skipped = str(e)
        return
    options = result.options
    sizes = "-".join(str(n) for n in result.net.sizes)
    title = (f"{options.dataset}, MLP {sizes} ({result.net.activation}), "
             f"{result.history.steps} steps")
    _write(artifacts["training_curves.png"], result.out,
           lambda path: plot.plot_history(result.history, title=title, save=path))
    _write(artifacts["decision_boundary.png"], result.out,
           lambda path: plot.plot_decision_boundary(
               result.net, X, y, save=path,
               title=f"{options.dataset}: {round(result.accuracy * len(X))} of {len(X)} "
                     f"training points right ({result.accuracy:.0%})"))


def _write_drawings(result: DemoResult, x: list[float], target: int,
                    artifacts: dict[str, Artifact]) -> None:
    net = result.net
    trace = net.trace(x)
    cost = hinge(trace.output, target)
    cost.label = "C_x"
    what = (f"training example {result.example}" if result.example is not None
            else "a point on the decision boundary")
    where = (f"{what}: x = [{x[0]:.3g}, {x[1]:.3g}], "
             f"y = {target:+d}")
    net.zero_grad()  # so the parameters' grads are this example's alone
    cost.backward()
    try:
        from microgrid.graph import draw, draw_network
    except ImportError as e:
        for name in ("computation_graph.svg", "network.svg"):
            artifacts[name].skipped = _graph_hint(e)
        return
    drawings: dict[str, Callable[[], Any]] = {
        "computation_graph.svg": lambda: draw(
            cost, net=net, trace=trace, show_params=False,
            title=f"The hinge cost C_x of {where} (parameters left out)"),
        "network.svg": lambda: draw_network(
            net, trace, title=f"The trained network on {where}: each neuron's a and delta"),
    }
    for name, make in drawings.items():
        artifact = artifacts[name]
        try:
            drawing = make()
        except ImportError as e:
            artifact.skipped = _graph_hint(e)
            continue
        except (ValueError, RuntimeError) as e:
            artifact.failed = f"{type(e).__name__}: {e}"
            continue
        _write(artifact, result.out, drawing.save)
        if artifact.skipped is not None:  # no SVG renderer: keep the DOT source
            artifact.skipped = _graph_hint(artifact.skipped)
            dot = Artifact(Path(name).with_suffix(".dot").name, "")
            _write(dot, result.out, _text_writer(drawing.source))
            if dot.path is not None:
                artifact.note = f"wrote its DOT source to {dot.name}"
    _write_walkthrough(result, x, target, artifacts["walkthrough.html"])
    net.zero_grad()


def _write_walkthrough(result: DemoResult, x: list[float], target: int,
                       artifact: Artifact) -> None:
    """The drawn example's backward pass, step by step, as one interactive page.

    All of it (a few hundred steps: the page steps through them), with the
    hinge cost the drawings show; the page draws the network when SVG can be
    rendered, and lists the steps either way.
    """
    from microgrid.walkthrough import explain

    try:
        walk = explain(result.net, x, target, cost="hinge", max_steps=None)
    except (ValueError, ArithmeticError) as e:
        artifact.failed = f"{type(e).__name__}: {e}"
        return
    _write(artifact, result.out, _text_writer(walk.html()))


def _text_writer(text: str) -> Callable[[Path], object]:
    return lambda path: write_atomically(path, text.encode("utf-8"))


def _graph_hint(problem: object) -> str:
    text = str(problem)
    return text if "microgrid-autodiff[graph]" in text else f"{text}; {_EXTRAS['graph']}"


def _drawn_example(result: DemoResult) -> list[str]:
    """The summary's lines on what the drawings show, and why that."""
    if result.example is not None:
        return [f"  the drawings show training example {result.example}, the one with the "
                f"largest cost ({result.example_cost:.4g})"]
    x = ", ".join(f"{v:.3g}" for v in result.example_x)
    i, j = result.example_between or (0, 0)
    text = (f"every training example is beyond the margin (cost 0: all its gradients are 0), "
            f"so the drawings show a point on the decision boundary, x = [{x}], between "
            f"training examples {i} and {j}, labelled {result.example_y:+d} like the nearer "
            f"one (cost {result.example_cost:.4g})")
    return textwrap.wrap(text, 88, initial_indent="  ", subsequent_indent="  ")


def summary(result: DemoResult) -> str:
    """The few lines the demo prints at the end: what was trained, how well, which files."""
    options = result.options
    history = result.history
    interrupted = " (interrupted by Ctrl-C)" if history.interrupted else ""
    if result.test_accuracy is not None:
        cost = IMAGE_PRESETS[options.dataset].loss
        lines = [
            f"microgrid demo: {options.dataset}, MLP {result.net.sizes} "
            f"({result.net.activation}), {history.epochs} epochs ({history.steps} steps) in "
            f"{history.seconds:.1f} s{interrupted}",
            f"  test accuracy {result.test_accuracy:.1%}, training accuracy "
            f"{result.accuracy:.1%}, mean {cost} cost {result.loss:.4f} on the training set",
            "  (the book's chapter 1 network reaches about 95% on MNIST's 10,000 test images)",
        ]
    else:
        lines = [
            f"microgrid demo: {options.dataset}, MLP {result.net.sizes} "
            f"({result.net.activation}), {history.steps} steps in {history.seconds:.1f} s"
            f"{interrupted}",
            f"  training accuracy {result.accuracy:.0%}, mean hinge loss {result.loss:.4f} "
            "(after training, without the L2 term)",
        ]
        if history.step_loss:
            lines.append(f"  the loss minimised, hinge + L2 (the curve, the progress bar): "
                         f"{history.step_loss[-1]:.4f} at the last step")
        lines += _drawn_example(result)
    lines.append(f"  files in {os.fspath(result.out)}{os.sep}:")
    width = max(len(a.name) for a in result.artifacts)
    for a in result.artifacts:
        if a.path is not None:
            lines.append(f"    {a.name:<{width}}  {a.description}")
        elif a.skipped is not None:
            extra = f" ({a.note})" if a.note else ""
            lines.append(f"    {a.name:<{width}}  not written{extra}: {a.skipped}")
        else:
            lines.append(f"    {a.name:<{width}}  FAILED: {a.failed}")
    model = next(a for a in result.artifacts if a.name == "model.json")
    if model.path is not None:
        lines.append(f"  load the model with: MLP.load({os.fspath(model.path)!r})")
    lines.append(f"  total time {result.seconds:.1f} s")
    return "\n".join(lines)
