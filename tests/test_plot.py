"""Specification of microgrid.plot: loss/accuracy curves, decision boundaries, confusion
matrices and grids of images.

Each function returns a matplotlib Figure and writes a valid image with
``save=``; the decision boundary evaluates the network exactly (the
compiled grid agrees with the eager engine); bad input is refused by name;
without matplotlib the message names the extra to install.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")  # the plot extra; CI installs it (dev extra)

from matplotlib.figure import Figure

from microgrid import MLP, Value, fit, no_grad
from microgrid.datasets import moons
from microgrid.plot import (
    INSTALL_HINT,
    _grid_scores,
    confusion_matrix,
    images,
    plot_decision_boundary,
    plot_history,
)
from microgrid.train import History

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def data() -> tuple[list[list[float]], list[int]]:
    return moons(40, noise=0.1, seed=0, signed=True)


@pytest.fixture(scope="module")
def trained(data: tuple[list[list[float]], list[int]]) -> tuple[MLP, History]:
    X, y = data
    net = MLP(2, [8, 1], seed=0)
    history = fit(net, X, y, loss="hinge", epochs=15, lr=0.3, progress=False)
    return net, history


def legend_texts(figure: Figure) -> list[str]:
    return [t.get_text() for ax in figure.axes if ax.get_legend()
            for t in ax.get_legend().get_texts()]


# -- showing in a notebook ----------------------------------------------------


def test_a_returned_figure_shows_as_a_picture_without_the_inline_backend(
    trained: tuple[MLP, History], data: tuple[list[list[float]], list[int]]
) -> None:
    """What Jupyter shows for a cell's result: a PNG as well as the text, with no
    ``%matplotlib inline`` (no pyplot formatter registered), for both kinds of plot."""
    formatters = pytest.importorskip("IPython.core.formatters", reason="IPython shows results")
    net, history = trained
    for figure in (plot_history(history), plot_decision_boundary(net, *data, resolution=20)):
        shown, _ = formatters.DisplayFormatter().format(figure)
        assert set(shown) == {"image/png", "text/plain"}
        assert shown["image/png"].startswith(PNG_SIGNATURE)
        assert isinstance(figure, Figure)


def test_a_returned_figure_pickles_as_matplotlib_figures_do(trained: tuple[MLP, History]) -> None:
    import pickle

    figure = plot_history(trained[1])
    again = pickle.loads(pickle.dumps(figure))
    assert type(again) is type(figure) and len(again.axes) == 2


def test_the_share_right_says_100_percent_only_when_every_point_is_right() -> None:
    """999 of 1000 right is 99% in the title (rounding would say 100%), 1 of 1000 is 1%."""
    net = MLP(2, [1], activation="linear", seed=0)  # the score is x1
    net.layers[0].neurons[0].w[0].data, net.layers[0].neurons[0].w[1].data = 1.0, 0.0
    net.layers[0].neurons[0].b.data = 0.0
    X = [[i - 499.5, 0.0] for i in range(1000)]
    y = [1 if x1 > 0 else -1 for x1, _ in X]
    titles = []
    for wrong in (1, 999, 0, 1000):
        labels = [-label if i < wrong else label for i, label in enumerate(y)]
        figure = plot_decision_boundary(net, X, labels, resolution=2)
        titles.append(figure.axes[0].get_title())
    assert titles == [f"{n} of 1000 points classified right ({p})"
                      for n, p in ((999, "99%"), (1, "1%"), (1000, "100%"), (0, "0%"))]


# -- plot_history ------------------------------------------------------------


def test_the_last_accuracy_says_100_percent_only_when_every_example_is_right() -> None:
    for accuracy, shown in ((0.999, "99%"), (1.0, "100%"), (0.001, "1%")):
        history = History(loss=[1.0], accuracy=[accuracy], step_loss=[1.0],
                          step_accuracy=[accuracy])
        figure = plot_history(history)
        assert shown in [t.get_text() for t in figure.axes[1].texts]


def test_history_plot_has_loss_and_accuracy_panels_and_saves_a_png(
    trained: tuple[MLP, History], tmp_path: Path
) -> None:
    """Full-batch history: two panels (loss, accuracy) over the steps; save= writes a PNG."""
    _, history = trained
    path = tmp_path / "curves.png"
    figure = plot_history(history, save=path)
    assert isinstance(figure, Figure)
    loss_ax, acc_ax = figure.axes
    assert loss_ax.get_ylabel() == "loss" and acc_ax.get_ylabel() == "accuracy (%)"
    (line,) = loss_ax.get_lines()
    assert list(line.get_ydata()) == history.loss
    assert list(acc_ax.get_lines()[0].get_ydata()) == [100 * a for a in history.accuracy]
    assert loss_ax.get_xlabel() == "step"
    assert path.read_bytes().startswith(PNG_SIGNATURE)


def test_history_plot_with_mini_batches_shows_steps_behind_epochs(
    data: tuple[list[list[float]], list[int]],
) -> None:
    """Mini-batches: each step drawn (faintly) and the epoch means, against epochs."""
    X, y = data
    history = fit(MLP(2, [4, 1], seed=0), X, y, loss="hinge", epochs=3, batch_size=10,
                  progress=False)
    figure = plot_history(history)
    loss_ax = figure.axes[0]
    steps_line, epochs_line = loss_ax.get_lines()
    assert list(steps_line.get_ydata()) == history.step_loss  # 4 steps per epoch
    assert list(epochs_line.get_ydata()) == history.loss
    assert list(epochs_line.get_xdata()) == [1, 2, 3]
    assert steps_line.get_xdata()[-1] == pytest.approx(3.0)
    assert loss_ax.get_xlabel() == "epoch"
    assert set(legend_texts(figure)) == {"each step", "epoch mean"}


def test_history_without_accuracy_has_one_panel() -> None:
    """A history without tracked accuracy gets only the loss panel."""
    history = History(loss=[2.0, 1.0], step_loss=[2.0, 1.0])
    assert len(plot_history(history).axes) == 1


def test_history_log_scale_when_the_loss_spans_decades() -> None:
    """The loss axis is logarithmic by default when positive losses span > 20x; linear else."""
    wide = History(loss=[1.0, 0.01], step_loss=[1.0, 0.01])
    narrow = History(loss=[1.0, 0.5], step_loss=[1.0, 0.5])
    with_zero = History(loss=[1.0, 0.0], step_loss=[1.0, 0.0])
    assert plot_history(wide).axes[0].get_yscale() == "log"
    assert plot_history(narrow).axes[0].get_yscale() == "linear"
    assert plot_history(with_zero).axes[0].get_yscale() == "linear"
    assert plot_history(narrow, log_loss=True).axes[0].get_yscale() == "log"


def test_history_into_given_axes() -> None:
    """axes= draws into the caller's axes and returns their figure."""
    figure = Figure()
    axes = figure.subplots(1, 2)
    history = History(loss=[1.0, 0.5], accuracy=[0.5, 1.0], step_loss=[1.0, 0.5],
                      step_accuracy=[0.5, 1.0])
    assert plot_history(history, axes=list(axes)) is figure
    assert len(axes[0].get_lines()) == 1 and len(axes[1].get_lines()) == 1


def test_empty_history_is_refused() -> None:
    """Nothing trained, nothing to plot: a ValueError says so."""
    with pytest.raises(ValueError, match="no completed step"):
        plot_history(History())


def test_interrupted_history_says_so_in_the_title() -> None:
    history = History(loss=[1.0], step_loss=[1.0], interrupted=True)
    assert "interrupted" in plot_history(history).get_suptitle()


def test_a_validation_set_gets_its_own_curves_named_as_asked() -> None:
    """fit(validation=...): the held-out loss and accuracy per epoch beside the training's."""
    history = History(loss=[1.0, 0.5], accuracy=[0.5, 0.75], step_loss=[1.0, 0.5],
                      step_accuracy=[0.5, 0.75], validation_loss=[1.2, 0.7],
                      validation_accuracy=[0.4, 0.625])
    figure = plot_history(history, validation_label="test")
    loss_ax, acc_ax = figure.axes
    training, held = loss_ax.get_lines()
    assert list(training.get_ydata()) == [1.0, 0.5]
    assert list(held.get_ydata()) == [1.2, 0.7] and list(held.get_xdata()) == [1, 2]
    assert list(acc_ax.get_lines()[-1].get_ydata()) == [40.0, 62.5]
    assert set(legend_texts(figure)) == {"training", "test"}
    assert acc_ax.get_title(loc="left") == "Accuracy"
    assert "62%" in [t.get_text() for t in acc_ax.texts]
    with pytest.raises(TypeError, match="validation_label must be a str, got int 3"):
        plot_history(history, validation_label=3)  # type: ignore[arg-type]


# -- confusion matrices and images --------------------------------------------------------


def test_the_confusion_matrix_shows_every_count_and_how_many_are_right(tmp_path: Path) -> None:
    y = [0, 0, 1, 1, 2, 2, 2]
    predicted = [0, 1, 1, 1, 2, 0, 2]
    path = tmp_path / "confusion.png"
    figure = confusion_matrix(y, predicted, save=path)
    ax = figure.axes[0]
    texts = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text()
             for t in ax.texts}  # (true, predicted) -> the count shown
    assert texts == {(0, 0): "1", (0, 1): "1", (1, 1): "2", (2, 0): "1", (2, 2): "2"}
    assert ax.get_title() == "5 of 7 right (71%)"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted class", "true class")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2"]
    assert path.read_bytes().startswith(PNG_SIGNATURE)
    named = confusion_matrix(y, predicted, classes=["cat", "dog", "eel", "fox"])
    assert [t.get_text() for t in named.axes[0].get_yticklabels()] == ["cat", "dog", "eel", "fox"]


def test_the_confusion_matrix_reads_one_hot_labels_and_refuses_bad_ones() -> None:
    figure = confusion_matrix([[0.0, 1.0], [1.0, 0.0]], [1, 1])
    assert figure.axes[0].get_title() == "1 of 2 right (50%)"
    with pytest.raises(ValueError, match="confusion_matrix: y has 2 labels but predicted has 1"):
        confusion_matrix([0, 1], [0])
    with pytest.raises(ValueError, match=r"confusion_matrix: y\[0\] is -1; classes are counted"):
        confusion_matrix([-1, 1], [0, 1])
    with pytest.raises(TypeError, match=r"confusion_matrix: predicted\[0\] is str '1'"):
        confusion_matrix([1], ["1"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="2 class names for labels up to 2; give at least 3"):
        confusion_matrix([0, 2], [0, 1], classes=["a", "b"])
    with pytest.raises(ValueError, match="y is empty"):
        confusion_matrix([], [])


def test_images_are_drawn_in_a_grid_with_wrong_predictions_in_red(tmp_path: Path) -> None:
    """Three 2x2 images, labelled: the wrong prediction reads true->predicted in red."""
    X = [[0.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 1.0], [0.5, 0.5, 0.5, 0.5]]
    path = tmp_path / "images.png"
    figure = images(X, labels=[1, 2, 3], predicted=[1, 0, 3], columns=2, save=path)
    assert len(figure.axes) == 4  # a 2 x 2 grid, one left empty
    shown = [ax for ax in figure.axes if ax.get_images()]
    assert len(shown) == 3
    assert shown[1].get_images()[0].get_array().tolist() == [[1.0, 0.0], [0.0, 1.0]]
    captions = [(ax.get_title(), ax.title.get_color()) for ax in shown]
    assert [c for c, _ in captions] == ["1", "2\u21920", "3"]
    assert captions[1][1] != captions[0][1]  # the wrong one stands out
    assert path.read_bytes().startswith(PNG_SIGNATURE)
    assert len([ax for ax in images(X, limit=2).axes if ax.get_images()]) == 2


def test_images_take_their_shape_from_the_row_or_as_given() -> None:
    square = images([[0.0] * 64])
    assert square.axes[0].get_images()[0].get_array().shape == (8, 8)
    wide = images([[0.0] * 6], shape=(2, 3))
    assert wide.axes[0].get_images()[0].get_array().shape == (2, 3)
    with pytest.raises(ValueError, match="rows of 6 numbers are not square images; give shape"):
        images([[0.0] * 6])
    with pytest.raises(ValueError, match="shape 2x2 holds 4 pixels but the rows have 6"):
        images([[0.0] * 6], shape=(2, 2))
    with pytest.raises(TypeError, match="shape must be a pair"):
        images([[0.0] * 4], shape=4)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="labels has 2 entries for 1 images"):
        images([[0.0] * 4], labels=[1, 2])
    with pytest.raises(ValueError, match="limit must be an int from 1 to 1000, got 0"):
        images([[0.0] * 4], limit=0)
    with pytest.raises(ValueError, match=r"images: X\[0\]\[1\] must be a finite number"):
        images([[0.0, float("nan"), 0.0, 0.0]])


# -- plot_decision_boundary ---------------------------------------------------------


def test_decision_boundary_figure_and_png(
    trained: tuple[MLP, History], data: tuple[list[list[float]], list[int]], tmp_path: Path
) -> None:
    """Regions, the boundary line, both classes in the legend; save= writes a PNG."""
    net, _ = trained
    X, y = data
    path = tmp_path / "boundary.png"
    figure = plot_decision_boundary(net, X, y, resolution=60, save=path)
    assert isinstance(figure, Figure)
    texts = legend_texts(figure)
    assert texts[:2] == ["y = \u22121", "y = +1"]
    assert "decision boundary" in texts
    assert path.read_bytes().startswith(PNG_SIGNATURE)
    ax = figure.axes[0]
    x1 = [p[0] for p in X]
    assert ax.get_xlim()[0] == pytest.approx(min(x1) - 0.4)


def test_title_counts_the_points_classified_right(
    data: tuple[list[list[float]], list[int]],
) -> None:
    """The default title is the true count: here a net that says +1 everywhere."""
    X, y = data

    def always_positive(x: list[float]) -> list[object]:
        from microgrid import Value

        return [Value(1.0) + 0.0 * x[0]]

    figure = plot_decision_boundary(always_positive, X, y, resolution=10)
    positives = sum(1 for label in y if label == 1)
    assert figure.axes[0].get_title().startswith(f"{positives} of {len(y)} points")
    assert "misclassified" in legend_texts(figure)


def test_no_misclassified_marker_when_all_right(
    data: tuple[list[list[float]], list[int]],
) -> None:
    """A perfect classifier (the label itself as score, via a lookup) gets no crosses."""
    X, y = data
    label_of = {tuple(p): label for p, label in zip(X, y, strict=True)}
    from microgrid import Value

    def oracle(x: list[float]) -> list[Value]:
        return [Value(float(label_of.get(tuple(x), 1)))]

    figure = plot_decision_boundary(oracle, X, y, resolution=5)
    assert "misclassified" not in legend_texts(figure)
    assert figure.axes[0].get_title().startswith(f"{len(y)} of {len(y)}")


def test_compiled_grid_equals_the_eager_engine(trained: tuple[MLP, History]) -> None:
    """The fast path (one compiled replay over the grid) gives the eager engine's scores."""
    net, _ = trained
    xs, ys = [-1.0, 0.0, 0.5, 2.0], [-0.5, 0.25, 1.0]
    scores, how = _grid_scores(net, xs, ys)
    assert how == "compiled"
    with no_grad():
        eager = [[net([x, y])[0].data] for y in ys for x in xs]
    # equal up to the rounding of a reordered sum (numpy's matrix product)
    assert [s[0] for s in scores] == pytest.approx([e[0] for e in eager], rel=1e-12, abs=1e-12)


def test_softmax_classifier_is_compiled_and_uses_argmax() -> None:
    """A softmax output layer replays over the grid (logsumexp nodes); argmax regions."""
    net = MLP(2, [6, 3], activation="tanh", output_activation="softmax", seed=0)
    X = [[0.0, 0.0], [1.0, 1.0], [-1.0, 0.5], [0.5, -1.0]]
    y = [0, 1, 2, [0.0, 1.0, 0.0]]  # class indices and a one-hot list
    scores, how = _grid_scores(net, [0.0, 1.0], [0.0])
    assert how == "compiled"
    with no_grad():
        assert scores[1] == pytest.approx([a.data for a in net([1.0, 0.0])], rel=1e-12)
    figure = plot_decision_boundary(net, X, y, resolution=20)
    assert legend_texts(figure)[:3] == ["class 0", "class 1", "class 2"]


def test_a_network_that_branches_on_values_falls_back_to_the_eager_engine() -> None:
    """Python control flow on values cannot be replayed: every point runs eagerly."""
    net = MLP(2, [4, 1], seed=0)

    def branching(x: list[Value] | list[float]) -> list[Value]:
        score = net(x)[0]
        return [score if float(x[0]) > 0.5 else -score]

    scores, how = _grid_scores(branching, [0.0, 1.0], [0.0])
    assert how == "eager"
    with no_grad():
        assert scores == [[-net([0.0, 0.0])[0].data], [net([1.0, 0.0])[0].data]]


def test_sigmoid_output_cuts_at_one_half() -> None:
    """Default threshold: 0.5 for a sigmoid output, so a=0.6 counts as class 1."""
    net = MLP(2, [1], output_activation="sigmoid", seed=0)
    neuron = net.layers[0].neurons[0]
    for w in neuron.w:
        w.data = 0.0
    neuron.b.data = 0.4054651081081644  # sigmoid(b) = 0.6
    X, y = [[0.0, 0.0], [1.0, 1.0]], [1, 1]
    title = plot_decision_boundary(net, X, y, resolution=5).axes[0].get_title()
    assert title.startswith("2 of 2")
    title = plot_decision_boundary(net, X, y, resolution=5, threshold=0.7).axes[0].get_title()
    assert title.startswith("0 of 2")


@pytest.mark.parametrize(
    ("X", "y", "kwargs", "error", "message"),
    [
        ([[0.0, 0.0, 1.0]], [1], {}, ValueError, r"X\[0\].*2-D"),
        ([], [], {}, ValueError, "X is empty"),
        ("ab", [1], {}, TypeError, "X must be a list of points"),
        ([0.0], [1], {}, TypeError, r"X\[0\] must be a point \[x1, x2\], got float 0\.0"),
        ([[0.0, float("nan")]], [1], {}, ValueError, r"X\[0\]\[1\] must be a finite number"),
        ([[0.0, "1"]], [1], {}, TypeError, r"X\[0\]\[1\] must be a real number, got str"),
        ([[0.0, 0.0]], [0.5], {}, ValueError, r"y\[0\] is 0.5"),
        ([[0.0, 0.0]], ["a"], {}, TypeError, r"y\[0\] is str 'a'"),
        ([[0.0, 0.0]], [1, 1], {}, ValueError, r"y must hold one label per point \(1\), got 2"),
        ([[0.0, 0.0]], 1, {}, TypeError, "y must be a list of labels, got int"),
        ([[0.0, 0.0]], [1], {"resolution": 1}, ValueError,
         "resolution must be an int from 2 to 1000, got 1"),
        ([[0.0, 0.0]], [1], {"resolution": 5000}, ValueError, "resolution"),
        ([[0.0, 0.0]], [1], {"resolution": 20.0}, TypeError, "resolution must be an int, got fl"),
        ([[0.0, 0.0]], [1], {"padding": -1.0}, ValueError, "padding must be a finite number >= 0"),
        ([[0.0, 0.0]], [1], {"padding": "1"}, TypeError, "padding must be a real number"),
        ([[0.0, 0.0]], [1], {"threshold": float("inf")}, ValueError, "threshold"),
    ],
)
def test_bad_input_is_refused_by_name(
    X: list[list[float]], y: list[object], kwargs: dict[str, object], error: type[Exception],
    message: str
) -> None:
    net = MLP(2, [1], seed=0)
    with pytest.raises(error, match=f"plot_decision_boundary: {message}"):
        plot_decision_boundary(net, X, y, **kwargs)  # type: ignore[arg-type]


def test_net_must_be_callable_and_return_values() -> None:
    with pytest.raises(TypeError, match="net must be callable, got 3"):
        plot_decision_boundary(3, [[0.0, 0.0]], [1], resolution=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"list of Values, got 1\.0"):
        plot_decision_boundary(lambda x: 1.0, [[0.0, 0.0]], [1], resolution=3)


# -- without matplotlib -----------------------------------------------------------


def test_without_matplotlib_the_message_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """matplotlib hidden (None in sys.modules makes its import fail): an ImportError
    saying ``pip install "microgrid-autodiff[plot]"``, from either function."""
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError) as info:
        plot_history(History(loss=[1.0], step_loss=[1.0]))
    assert 'pip install "microgrid-autodiff[plot]"' in str(info.value)
    assert INSTALL_HINT in str(info.value)
    with pytest.raises(ImportError, match=r"microgrid-autodiff\[plot\]"):
        plot_decision_boundary(MLP(2, [1], seed=0), [[0.0, 0.0]], [1])
    with pytest.raises(ImportError, match=r"microgrid-autodiff\[plot\]"):
        confusion_matrix([0, 1], [0, 1])
    with pytest.raises(ImportError, match=r"microgrid-autodiff\[plot\]"):
        images([[0.0] * 4])


def test_importing_microgrid_or_plot_does_not_import_matplotlib() -> None:
    """The core imports only the standard library; plot imports matplotlib when called."""
    code = ("import sys, microgrid, microgrid.plot; "
            "print('matplotlib' in sys.modules, 'numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.split() == ["False", "False"]
