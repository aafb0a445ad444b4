"""Pictures of training: loss and accuracy curves, decision boundaries, confusion
matrices and images.

Needs matplotlib (the ``plot`` extra: ``pip install "microgrid-autodiff[plot]"``,
or ``pip install -e ".[plot]"`` in a clone), imported only when a function here
is called. Each function returns a
matplotlib `~matplotlib.figure.Figure` and, given ``save="file.png"``,
writes it there (any format matplotlib knows, by the suffix)::

    from microgrid import MLP, fit
    from microgrid.datasets import moons
    from microgrid.plot import plot_decision_boundary, plot_history

    X, y = moons(100, noise=0.1, seed=0, signed=True)
    net = MLP(2, [16, 16, 1], seed=0)
    history = fit(net, X, y, loss="hinge", l2=1e-4, epochs=100, lr=0.5)
    plot_history(history, save="curves.png")
    plot_decision_boundary(net, X, y, save="boundary.png")

The figures are made without pyplot (a ``matplotlib.figure.Figure``), so
saving needs no display and no backend and nothing accumulates in pyplot's
list of open figures. A notebook shows a returned figure as a picture, once,
with or without ``%matplotlib inline`` (the figure has its own
``_repr_png_``). To draw into your own pyplot figure instead, pass ``ax=``
(or ``axes=``) and call ``plt.show()`` as usual.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from microgrid import _checks as check
from microgrid._extras import install_hint
from microgrid._files import write_atomically
from microgrid.engine import Value, no_grad

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from microgrid.train import History

__all__ = ["INSTALL_HINT", "confusion_matrix", "images", "plot_decision_boundary",
           "plot_history"]

INSTALL_HINT = install_hint("plot")

# Colour-blind-safe class colours (Okabe & Ito), then matplotlib's tab10 order.
_CLASS_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9",
                  "#D55E00", "#F0E442", "#000000")
_LOSS_COLOUR = "#0072B2"
_ACCURACY_COLOUR = "#009E73"
_VALIDATION_COLOUR = "#D55E00"
_WRONG_COLOUR = "#CC0000"
_MAX_RESOLUTION = 1000


def _matplotlib() -> Any:
    """The matplotlib package, or an ImportError naming the extra to install."""
    try:
        import matplotlib
        import matplotlib.colors
        import matplotlib.figure
        import matplotlib.lines
    except ImportError:
        raise ImportError(
            f"microgrid.plot needs matplotlib; install the plot extra: {INSTALL_HINT}"
        ) from None
    return matplotlib


def _new_figure(width: float, height: float) -> Figure:
    _matplotlib()  # or the ImportError naming the extra
    from microgrid._figure import NotebookFigure

    return NotebookFigure(figsize=(width, height), dpi=100, layout="constrained")


def _save(figure: Figure, save: str | os.PathLike[str] | None) -> None:
    """Write the figure to ``save`` atomically, in the format its suffix names."""
    if save is not None:
        suffix = os.path.splitext(os.fspath(save))[1].lstrip(".").lower()
        write_atomically(save, lambda f: figure.savefig(f, format=suffix or None, dpi=150,
                                                        facecolor="white"))


def _percent(fraction: float) -> str:
    """A whole percentage that says 100% only when all is right and 0% only when nothing is
    (999 of 1000 is 99%, not the 100% that rounding gives)."""
    p = round(100.0 * fraction)
    if fraction < 1.0:
        p = min(p, 99)
    if fraction > 0.0:
        p = max(p, 1)
    return f"{p}%"


def _style(ax: Axes) -> None:
    ax.grid(True, color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


# -- loss and accuracy curves --------------------------------------------------


def plot_history(
    history: History,
    *,
    title: str | None = None,
    log_loss: bool | None = None,
    validation_label: str = "validation",
    axes: Sequence[Axes] | None = None,
    save: str | os.PathLike[str] | None = None,
) -> Figure:
    """The loss and accuracy curves of a `fit` run, side by side.

    Args:
        history: what `microgrid.train.fit` returned.
        title: a title over both panels (default none).
        log_loss: a logarithmic loss axis; by default when every loss is
            positive and they span more than a factor of 20.
        validation_label: what the curves of ``fit(validation=...)`` are
            called in the legend, e.g. ``"test"`` for a test set.
        axes: draw into these (one for the loss, a second for the accuracy)
            instead of a new figure.
        save: a path to write the figure to (``.png``, ``.svg``, ``.pdf``...).

    With full-batch training (one step per epoch) the x axis counts steps;
    with mini-batches it counts epochs and the individual steps are drawn
    faintly behind the epoch averages. Without tracked accuracy there is
    only the loss panel. A history with a validation set gets its loss and
    accuracy after every epoch as a second curve in each panel.

    Raises:
        ValueError: the history has no completed step.
    """
    if not isinstance(validation_label, str):
        raise TypeError(f"plot_history: validation_label must be a str, "
                        f"got {type(validation_label).__name__} {check.quote(validation_label)}")
    losses = [float(v) for v in history.loss]
    steps = [float(v) for v in history.step_loss]
    if not steps:
        raise ValueError("plot_history: the history has no completed step; nothing to plot")
    accuracy = [float(v) for v in history.accuracy]
    held_loss = [float(v) for v in history.validation_loss]
    held_accuracy = [float(v) for v in history.validation_accuracy]
    full_batch = len(steps) == len(losses)
    unit = "step" if full_batch else "epoch"
    panels = 2 if accuracy or history.step_accuracy or history.validation_accuracy else 1

    if axes is None:
        figure = _new_figure(4.6 * panels, 3.4)
        made = figure.subplots(1, panels, squeeze=False)[0]
        loss_ax, acc_ax = made[0], made[1] if panels == 2 else None
    else:
        if len(axes) < panels:
            raise ValueError(f"plot_history: needs {panels} axes, got {len(axes)}")
        loss_ax, acc_ax = axes[0], axes[1] if panels == 2 else None
        figure = cast("Figure", loss_ax.figure)

    per_epoch = len(steps) / max(len(losses), 1)
    step_x = [(i + 1) / per_epoch for i in range(len(steps))]
    epoch_x = list(range(1, len(losses) + 1))
    if log_loss is None:
        every = steps + held_loss
        positive = [v for v in every if v > 0.0]
        log_loss = len(positive) == len(every) and max(positive) > 20.0 * min(positive)

    _style(loss_ax)
    if not full_batch:
        loss_ax.plot(step_x, steps, color=_LOSS_COLOUR, alpha=0.25, linewidth=0.8,
                     label="each step")
    if losses:
        loss_ax.plot(epoch_x, losses, color=_LOSS_COLOUR, linewidth=2.0,
                     label="epoch mean" if not full_batch else "training" if held_loss else None)
        loss_ax.annotate(f"{losses[-1]:.3g}", (epoch_x[-1], losses[-1]), xytext=(4, 4),
                         textcoords="offset points", color=_LOSS_COLOUR, fontsize=9)
    if held_loss:
        loss_ax.plot(range(1, len(held_loss) + 1), held_loss, color=_VALIDATION_COLOUR,
                     linewidth=2.0, label=validation_label)
    if log_loss:
        loss_ax.set_yscale("log")
    loss_ax.set_xlabel(unit)
    loss_ax.set_ylabel("loss")
    loss_ax.set_title("Loss", loc="left", fontsize=11)
    if not full_batch or held_loss:
        loss_ax.legend(frameon=False, fontsize=9)

    if acc_ax is not None:
        _style(acc_ax)
        if not full_batch and history.step_accuracy:
            acc_ax.plot(step_x, [100.0 * a for a in history.step_accuracy],
                        color=_ACCURACY_COLOUR, alpha=0.25, linewidth=0.8)
        if accuracy:
            acc_ax.plot(epoch_x, [100.0 * a for a in accuracy], color=_ACCURACY_COLOUR,
                        linewidth=2.0, label="training")
            acc_ax.annotate(_percent(accuracy[-1]), (epoch_x[-1], 100.0 * accuracy[-1]),
                            xytext=(-8, -14), textcoords="offset points", ha="right",
                            color=_ACCURACY_COLOUR, fontsize=9)
        if held_accuracy:
            acc_ax.plot(range(1, len(held_accuracy) + 1), [100.0 * a for a in held_accuracy],
                        color=_VALIDATION_COLOUR, linewidth=2.0, label=validation_label)
            acc_ax.annotate(_percent(held_accuracy[-1]),
                            (len(held_accuracy), 100.0 * held_accuracy[-1]),
                            xytext=(-8, 6), textcoords="offset points", ha="right",
                            color=_VALIDATION_COLOUR, fontsize=9)
            acc_ax.legend(frameon=False, fontsize=9, loc="lower right")
        low = min([100.0 * a for a in accuracy + held_accuracy + list(history.step_accuracy)]
                  + [50.0])
        acc_ax.set_ylim(max(0.0, low - 5.0), 101.0)
        acc_ax.set_xlabel(unit)
        acc_ax.set_ylabel("accuracy (%)")
        acc_ax.set_title("Accuracy" if held_accuracy else "Training accuracy", loc="left",
                         fontsize=11)
    if title is None and history.interrupted:
        title = "interrupted (Ctrl-C)"
    if title:
        figure.suptitle(title, fontsize=12)
    _save(figure, save)
    return figure


# -- decision boundaries ---------------------------------------------------------


def _points(X: object) -> list[tuple[float, float]]:
    """The points ``[x1, x2]`` as pairs of finite floats."""
    who = "plot_decision_boundary"
    if isinstance(X, (str, bytes)) or not isinstance(X, Sequence):
        raise TypeError(f"{who}: X must be a list of points [x1, x2], got {type(X).__name__}")
    if not X:
        raise ValueError(f"{who}: X is empty; give at least one point [x1, x2]")
    points = []
    for i, row in enumerate(X):
        if isinstance(row, (str, bytes)) or not isinstance(row, Sequence):
            raise TypeError(f"{who}: X[{i}] must be a point [x1, x2], "
                            f"got {type(row).__name__} {check.quote(row)}")
        if len(row) != 2:
            raise ValueError(f"{who}: X[{i}] is {check.quote(row)}; expected a point [x1, x2] "
                             "(decision boundaries are drawn for 2-D inputs)")
        x1, x2 = (check.real(v, f"X[{i}][{k}]", who=who) for k, v in enumerate(row))
        points.append((x1, x2))
    return points


def _class_index(label: object, i: int) -> int:
    """A label as a class index: -1/+1 and 0/1 give 0/1, k gives k, one-hot its argmax."""
    if isinstance(label, Sequence) and not isinstance(label, (str, bytes)):
        if len(label) == 1:
            return _class_index(label[0], i)
        if label and all(isinstance(v, numbers.Real) for v in label):
            return max(range(len(label)), key=lambda k: float(label[k]))
    elif not isinstance(label, bool) and isinstance(label, numbers.Real):
        v = float(label)
        if v == -1.0:
            return 0
        if v >= 0.0 and v == int(v):
            return int(v)
    else:
        raise TypeError(
            f"plot_decision_boundary: y[{i}] is {type(label).__name__} {check.quote(label)}; "
            "expected a class label (-1/+1, 0/1, a class index 0..k-1, or a one-hot list)"
        )
    raise ValueError(
        f"plot_decision_boundary: y[{i}] is {label!r}; expected a class label "
        "(-1/+1, 0/1, a class index 0..k-1, or a one-hot list)"
    )


def _grid_scores(
    net: Callable[[list[float]], Any], xs: list[float], ys: list[float]
) -> tuple[list[list[float]], str]:
    """The network's outputs at every grid point, and how they were computed.

    The compiled path (numpy; one replay of the recorded graph for the whole
    grid) is about 30x faster than one eager forward pass per point; it is
    used when it can replay the network exactly, else the eager engine.
    """
    points = [[x, y] for y in ys for x in xs]
    try:
        import numpy as np

        from microgrid.compiler import TracingError
        from microgrid.compiler import compile as compile_graph

        compiled = compile_graph(lambda x: net(x), points[0])
        out = np.asarray(compiled.forward(np.asarray(points)), dtype=float)
        if np.all(np.isfinite(out)):
            return out.reshape(len(points), -1).tolist(), "compiled"
    except (ImportError, TracingError, TypeError, ValueError, ArithmeticError):
        pass  # e.g. Python control flow on values: the eager engine is exact
    with no_grad():
        return [[a.data for a in _outputs(net(p))] for p in points], "eager"


def _outputs(result: object) -> list[Value]:
    if isinstance(result, Value):
        return [result]
    if isinstance(result, list) and result and all(isinstance(a, Value) for a in result):
        return result
    raise TypeError(
        "plot_decision_boundary: net(x) must return a Value or a list of Values, "
        f"got {check.quote(result)}"
    )


def _tint(colour: str, amount: float) -> tuple[float, float, float]:
    """``colour`` mixed with white: amount 0 is white, 1 the colour itself."""
    mpl = _matplotlib()
    r, g, b = mpl.colors.to_rgb(colour)
    return (1 - amount + amount * r, 1 - amount + amount * g, 1 - amount + amount * b)


def plot_decision_boundary(
    net: Callable[[list[float]], Any],
    X: Sequence[Sequence[float]],
    y: Sequence[Any],
    *,
    threshold: float | None = None,
    resolution: int = 200,
    padding: float = 0.4,
    margins: bool | None = None,
    title: str | None = None,
    ax: Axes | None = None,
    save: str | os.PathLike[str] | None = None,
) -> Figure:
    """A 2-D classifier's regions, its decision boundary, and the data points.

    Args:
        net: the classifier, e.g. an `MLP` with 2 inputs: ``net(x)`` returns
            one score (two classes) or one output per class (argmax).
        X: the points ``[x1, x2]``.
        y: their labels: -1/+1 (`hinge`), 0/1, class indices, or one-hot lists.
        threshold: one score's cut between the classes; default 0.5 for a
            network whose ``output_activation`` is ``"sigmoid"``, else 0.
        resolution: grid points per axis (the net runs ``resolution**2``
            times; with numpy it is one compiled replay, a fraction of a second).
        padding: space around the points, in data units.
        margins: draw dashed lines where the score is ``threshold +- 1`` (the
            `hinge` cost's margins); default on for one score and threshold 0.
        title: default: how many points are classified right.
        ax: draw into this matplotlib Axes instead of a new figure.
        save: a path to write the figure to (``.png``, ``.svg``, ``.pdf``...).

    The background shades each region by how sure the network is (its score
    squashed into the colour range); points it gets wrong are crossed out.

    Raises:
        TypeError: an argument of the wrong type (points or labels that are
            not numbers, a ``net`` that is not callable), named.
        ValueError: points that are not 2-D, labels that are not classes,
            mismatched lengths, a resolution outside ``2..1000``.
    """
    points = _points(X)
    classes, signed = _labels(y, len(points))
    who = "plot_decision_boundary"
    grid = check.integer(resolution, "resolution", at_least=2, at_most=_MAX_RESOLUTION, who=who)
    pad = check.real(padding, "padding", at_least=0.0, who=who)
    if not callable(net):
        raise TypeError(f"{who}: net must be callable, got {check.quote(net)}")
    if threshold is None:
        cut = 0.5 if getattr(net, "output_activation", None) == "sigmoid" else 0.0
    else:
        cut = check.real(threshold, "threshold", who=who)
    _matplotlib()  # or the ImportError naming the extra, before any work
    import numpy as np  # a dependency of matplotlib

    # Predictions at the data points, eagerly: what the network really says.
    with no_grad():
        outputs = [[a.data for a in _outputs(net(list(p)))] for p in points]
    right = _correct(outputs, classes, cut)
    n_out = len(outputs[0])

    xs, ys = (_span([p[i] for p in points], pad, grid) for i in (0, 1))
    scores, _ = _grid_scores(net, xs, ys)
    S = np.asarray(scores, dtype=float).reshape(grid, grid, n_out)
    XX, YY = np.meshgrid(xs, ys)
    figure, ax = _boundary_axes(ax, xs, ys)
    n_classes = max([*classes, *(range(n_out) if n_out > 1 else [1])]) + 1
    colours = [_CLASS_COLOURS[k % len(_CLASS_COLOURS)] for k in range(n_classes)]
    if n_out == 1:
        lines = _shade_score(ax, XX, YY, S[:, :, 0] - cut, colours,
                             cut == 0.0 if margins is None else margins)
    else:
        lines = _shade_regions(ax, XX, YY, S, colours)
    legend = _draw_points(ax, points, classes, right, colours, signed) + lines
    _frame(ax, xs, ys, legend)
    if title is None:
        share = _percent(sum(right) / len(right))
        title = f"{sum(right)} of {len(right)} points classified right ({share})"
    ax.set_title(title, fontsize=11)
    _save(figure, save)
    return figure


_Legend = list[tuple[Any, str]]
"""Legend entries: a handle and its text."""


def _labels(y: object, n: int) -> tuple[list[int], bool]:
    """The ``n`` labels as class indices, and whether they are -1/+1 (`hinge`'s)."""
    if isinstance(y, (str, bytes)) or not isinstance(y, Sequence):
        raise TypeError(f"plot_decision_boundary: y must be a list of labels, "
                        f"got {type(y).__name__}")
    if len(y) != n:
        raise ValueError(f"plot_decision_boundary: y must hold one label per point "
                         f"({n}), got {len(y)}")
    classes = [_class_index(label, i) for i, label in enumerate(y)]
    signed = any(
        not isinstance(label, bool) and isinstance(label, numbers.Real) and float(label) < 0
        for label in y
    )
    return classes, signed


def _correct(outputs: list[list[float]], classes: list[int], cut: float) -> list[bool]:
    """Whether each point is classified right: one score against ``cut``, else the argmax."""
    if len(outputs[0]) == 1:
        return [int(o[0] > cut) == c for o, c in zip(outputs, classes, strict=True)]
    return [max(range(len(o)), key=o.__getitem__) == c
            for o, c in zip(outputs, classes, strict=True)]


def _span(values: list[float], pad: float, n: int) -> list[float]:
    """``n`` evenly spaced coordinates from the smallest value to the largest, padded."""
    import numpy as np

    coordinates: list[float] = np.linspace(min(values) - pad, max(values) + pad, n).tolist()
    return coordinates


def _boundary_axes(ax: Axes | None, xs: list[float], ys: list[float]) -> tuple[Figure, Axes]:
    """``ax`` and its figure, or new ones shaped like the data."""
    if ax is not None:
        return cast("Figure", ax.figure), ax
    # The axes keep the data's aspect ratio (a circle stays round), so
    # the figure takes that shape too instead of framing it in white.
    aspect = (ys[-1] - ys[0]) / (xs[-1] - xs[0])
    width = 6.0 if aspect <= 1.0 else max(3.5, 5.0 / aspect)
    height = min(max((width - 0.8) * aspect, 2.5), 7.0) + 1.2  # + labels, title, legend
    figure = _new_figure(width, height)
    return figure, figure.subplots()


def _shade_score(
    ax: Axes, XX: Any, YY: Any, score: Any, colours: list[str], margins: bool
) -> _Legend:
    """One score (less the threshold): regions shaded by confidence, the boundary at 0,
    and the `hinge` margins at +-1."""
    mpl = _matplotlib()
    import numpy as np

    # Squash the score so the shading shows confidence near the boundary
    # instead of being dominated by the far corners of the grid.
    spread = float(np.percentile(np.abs(score), 90)) or 1.0
    sure = np.tanh(2.0 * score / spread)
    cmap = mpl.colors.LinearSegmentedColormap.from_list(
        "microgrid", [_tint(colours[0], 0.55), (1.0, 1.0, 1.0), _tint(colours[1], 0.55)]
    )
    ax.contourf(XX, YY, sure, levels=np.linspace(-1.0, 1.0, 34), cmap=cmap)
    legend: _Legend = []
    low, high = float(score.min()), float(score.max())
    if low < 0.0 < high:
        ax.contour(XX, YY, score, levels=[0.0], colors="#222222", linewidths=1.6)
        legend.append((mpl.lines.Line2D([], [], color="#222222", linewidth=1.6),
                       "decision boundary"))
    band = [v for v in (-1.0, 1.0) if low < v < high]
    if margins and band:
        ax.contour(XX, YY, score, levels=band, colors="#555555", linewidths=0.9,
                   linestyles="dashed")
        legend.append((mpl.lines.Line2D([], [], color="#555555", linewidth=0.9,
                                        linestyle="dashed"), "margin (score = \u00b11)"))
    return legend


def _shade_regions(ax: Axes, XX: Any, YY: Any, S: Any, colours: list[str]) -> _Legend:
    """One output per class: each class's region (the argmax), and the lines between them."""
    mpl = _matplotlib()
    import numpy as np

    n_out = S.shape[2]
    region = np.argmax(S, axis=2)
    cmap = mpl.colors.ListedColormap([_tint(c, 0.3) for c in colours[:n_out]])
    ax.contourf(XX, YY, region, levels=np.arange(-0.5, n_out), cmap=cmap)
    ax.contour(XX, YY, region, levels=np.arange(0.5, n_out - 1), colors="#222222",
               linewidths=1.2)
    return []


def _draw_points(
    ax: Axes,
    points: list[tuple[float, float]],
    classes: list[int],
    right: list[bool],
    colours: list[str],
    signed: bool,
) -> _Legend:
    """The data points in their class's colour, those classified wrong crossed out."""
    legend: _Legend = []
    for k in sorted(set(classes)):
        mine = [p for p, c in zip(points, classes, strict=True) if c == k]
        handle = ax.scatter([p[0] for p in mine], [p[1] for p in mine], s=30,
                            color=colours[k], edgecolors="white", linewidths=0.7, zorder=3)
        name = ("y = \u22121" if k == 0 else "y = +1") if signed and k < 2 else f"class {k}"
        legend.append((handle, name))
    wrong = [p for p, ok in zip(points, right, strict=True) if not ok]
    if wrong:
        handle = ax.scatter([p[0] for p in wrong], [p[1] for p in wrong], s=70, marker="x",
                            color="#CC0000", linewidths=1.6, zorder=4)
        legend.append((handle, "misclassified"))
    return legend


def _frame(ax: Axes, xs: list[float], ys: list[float], legend: _Legend) -> None:
    """The grid's extent at the data's aspect, axis labels, and the legend below."""
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.legend([h for h, _ in legend], [t for _, t in legend], loc="upper center",
              bbox_to_anchor=(0.5, -0.13), ncols=min(len(legend), 4), fontsize=8,
              frameon=False, handletextpad=0.3, columnspacing=1.2)



# -- classifiers of many classes: the confusion matrix, the images ---------------------

_MAX_IMAGES = 1000


def confusion_matrix(
    y: Sequence[Any],
    predicted: Sequence[int],
    *,
    classes: Sequence[str] | None = None,
    title: str | None = None,
    ax: Axes | None = None,
    save: str | os.PathLike[str] | None = None,
) -> Figure:
    """How often each true class (rows) was predicted as each class (columns).

    Args:
        y: the true labels: class indices, or one-hot lists (`datasets.one_hot`).
        predicted: the predicted classes, e.g. ``train.predict(net, X_test)``.
        classes: names for the classes (default ``"0"``, ``"1"``, ...).
        title: default: how many are right, e.g. ``"352 of 360 right (97%)"``.
        ax: draw into this matplotlib Axes instead of a new figure.
        save: a path to write the figure to (``.png``, ``.svg``, ``.pdf``...).

    Each cell shows its count (the counts are `train.confusion`'s). The
    diagonal, the right answers, is shaded blue by the share of its row;
    mistakes are shaded red, so the classes the network confuses stand out.

    Raises:
        TypeError: labels that are not class indices or one-hot lists, or
            class names that are not strings, named.
        ValueError: lengths that differ, too few class names, no labels.
    """
    from microgrid.train import _class_indices, confusion

    who = "confusion_matrix"
    true = _class_indices(y, "y", who)
    guessed = _class_indices(predicted, "predicted", who)
    if len(true) != len(guessed):
        raise ValueError(f"{who}: y has {len(true)} labels but predicted has {len(guessed)}; "
                         "they must match")
    if not true:
        raise ValueError(f"{who}: y is empty; there is nothing to count")
    n = max([*true, *guessed]) + 1
    names = [str(k) for k in range(n)] if classes is None else _names(classes, n, who)
    counts = confusion(true, guessed, len(names))
    _matplotlib()
    import numpy as np

    k = len(names)
    if ax is None:
        side = 1.6 + 0.42 * k
        figure = _new_figure(side + 0.4, side + 0.3)
        ax = figure.subplots()
    else:
        figure = cast("Figure", ax.figure)
    colours = np.ones((k, k, 3))
    for i, row in enumerate(counts):
        total = sum(row) or 1
        for j, count in enumerate(row):
            if count == 0:
                continue
            share = count / total
            colours[i, j] = (_tint(_CLASS_COLOURS[0], 0.15 + 0.85 * share) if i == j else
                             _tint(_WRONG_COLOUR, 0.25 + 0.75 * min(1.0, 4.0 * share)))
            dark = (i == j and share > 0.5) or (i != j and share > 0.15)
            ax.text(j, i, str(count), ha="center", va="center", fontsize=8 if k > 12 else 9,
                    color="white" if dark else "#222222")
    ax.imshow(colours, interpolation="nearest")
    ax.set_xticks(range(k), names)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.tick_params(length=0)
    for side_name in ("top", "right", "bottom", "left"):
        ax.spines[side_name].set_visible(False)
    if title is None:
        right = sum(counts[i][i] for i in range(k))
        title = f"{right} of {len(true)} right ({_percent(right / len(true))})"
    ax.set_title(title, fontsize=11)
    _save(figure, save)
    return figure


def _names(classes: object, n: int, who: str) -> list[str]:
    if isinstance(classes, (str, bytes)) or not isinstance(classes, Sequence):
        raise TypeError(f"{who}: classes must be a list of names, got {type(classes).__name__}")
    if not all(isinstance(c, str) for c in classes):
        raise TypeError(f"{who}: classes must be strings, got {check.quote(classes)}")
    if len(classes) < n:
        raise ValueError(f"{who}: {len(classes)} class names for labels up to {n - 1}; "
                         f"give at least {n}")
    return list(classes)


def images(
    X: Sequence[Sequence[float]],
    *,
    labels: Sequence[Any] | None = None,
    predicted: Sequence[int] | None = None,
    shape: tuple[int, int] | None = None,
    columns: int | None = None,
    limit: int = 100,
    title: str | None = None,
    save: str | os.PathLike[str] | None = None,
) -> Figure:
    """A grid of images, each captioned with its label and what the network predicted.

    Args:
        X: the images, one row of pixels each (as `datasets.digits` and
            `datasets.mnist` give them: 8x8 or 28x28, row by row).
        labels: their true classes (indices or one-hot lists), shown under each.
        predicted: the predicted classes, e.g. from ``train.predict``; where
            it differs from the label the caption reads ``true→predicted``
            in red.
        shape: ``(height, width)`` of an image; default the square that
            the row's length is (64 -> 8x8, 784 -> 28x28).
        columns: images per row of the grid (default up to 10).
        limit: draw at most the first ``limit`` images (at most 1,000).
        title: a title over the grid.
        save: a path to write the figure to (``.png``, ``.svg``, ``.pdf``...).

    Ink is dark on white (the colour scale runs from 0 to the largest
    pixel). To see the misclassified examples of a test set::

        predicted = train.predict(net, X_test)
        wrong = [i for i, (p, t) in enumerate(zip(predicted, y_test)) if p != t]
        images([X_test[i] for i in wrong], labels=[y_test[i] for i in wrong],
               predicted=[predicted[i] for i in wrong], save="misclassified.png")

    Raises:
        TypeError: an argument of the wrong type, named.
        ValueError: rows that are not images of the shape, labels that do
            not match the rows, a limit outside 1..1000, named.
    """
    from microgrid.train import _class_indices, _inputs

    who = "images"
    rows = _inputs(X, who)
    size = len(rows[0])
    height, width = _image_shape(shape, size, who)
    shown = check.integer(limit, "limit", at_least=1, at_most=_MAX_IMAGES, who=who)
    true = None if labels is None else _class_indices(labels, "labels", who)
    guessed = None if predicted is None else _class_indices(predicted, "predicted", who)
    for name, given in (("labels", true), ("predicted", guessed)):
        if given is not None and len(given) != len(rows):
            raise ValueError(f"{who}: {name} has {len(given)} entries for {len(rows)} images; "
                             "give one per image")
    n = min(len(rows), shown)
    cols = min(n, 10) if columns is None else check.integer(columns, "columns", at_least=1,
                                                            who=who)
    lines = -(-n // cols)
    _matplotlib()
    import numpy as np

    top = max(max(row) for row in rows[:n])
    cell = 0.95 if true is not None or guessed is not None else 0.8
    figure = _new_figure(max(2.0, 0.8 * cols), max(1.2, cell * lines + (0.4 if title else 0.0)))
    grid = figure.subplots(lines, cols, squeeze=False)
    for k, ax in enumerate(grid.flat):
        ax.set_axis_off()
        if k >= n:
            continue
        picture = np.asarray(rows[k], dtype=float).reshape(height, width)
        ax.imshow(picture, cmap="gray_r", vmin=min(0.0, min(rows[k])), vmax=top or 1.0,
                  interpolation="nearest")
        caption, colour = _caption(None if true is None else true[k],
                                   None if guessed is None else guessed[k])
        if caption:
            ax.set_title(caption, fontsize=9, color=colour, pad=2)
    if title:
        figure.suptitle(title, fontsize=11)
    _save(figure, save)
    return figure


def _image_shape(shape: object, size: int, who: str) -> tuple[int, int]:
    """``(height, width)`` for rows of ``size`` pixels: the given shape, checked, or a square."""
    if shape is None:
        side = round(size ** 0.5)
        if side * side != size:
            raise ValueError(f"{who}: rows of {size} numbers are not square images; "
                             "give shape=(height, width)")
        return side, side
    if (isinstance(shape, (str, bytes)) or not isinstance(shape, Sequence)
            or len(shape) != 2):
        raise TypeError(f"{who}: shape must be a pair (height, width), got {check.quote(shape)}")
    height = check.integer(shape[0], "shape[0]", at_least=1, who=who)
    width = check.integer(shape[1], "shape[1]", at_least=1, who=who)
    if height * width != size:
        raise ValueError(f"{who}: shape {height}x{width} holds {height * width} pixels but the "
                         f"rows have {size}")
    return height, width


def _caption(true: int | None, guessed: int | None) -> tuple[str, str]:
    """The caption under an image and its colour: red where the prediction is wrong."""
    if true is None:
        return ("" if guessed is None else str(guessed)), "#222222"
    if guessed is None or guessed == true:
        return str(true), "#222222"
    return f"{true}\u2192{guessed}", _WRONG_COLOUR
