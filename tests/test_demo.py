"""Specification of ``microgrid demo`` (microgrid.demo and its command line).

The demo trains micrograd's moons classifier through `fit` and writes six
files; each must exist, be non-empty and valid (PNG signature, SVG that
parses as XML, a model `MLP.load` reads back). Missing extras skip only the
files that need them, naming the extra; bad options exit 2 with an
argparse-style message and no traceback.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import math
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from microgrid import MLP, no_grad
from microgrid.cli import build_parser, main
from microgrid.datasets import DATASETS, IMAGES, digits, moons, train_test_split
from microgrid.demo import (
    ACTIVATIONS,
    DATASET_NAMES,
    FILES,
    IMAGE_FILES,
    IMAGE_PRESETS,
    MAX_PARAMETERS,
    PRESETS,
    DemoOptions,
    DemoResult,
    learning_rate,
    run,
)
from microgrid.nn import HIDDEN_ACTIVATIONS
from microgrid.render import svg_available
from microgrid.train import evaluate, predict

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SVG = "{http://www.w3.org/2000/svg}"
HAS_PLOT = importlib.util.find_spec("matplotlib") is not None
HAS_GRAPH = svg_available()


def check_files(out: Path) -> None:
    """Every promised file is there, non-empty and valid; nothing else was left behind."""
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)  # no temporary files
    for name in FILES:
        data = (out / name).read_bytes()
        assert data, f"{name} is empty"
        if name.endswith(".png"):
            assert data.startswith(PNG_SIGNATURE), name
        elif name.endswith(".html"):
            page = data.decode("utf-8")
            assert page.startswith("<!DOCTYPE html>") and "https:" not in page, name
            assert "<svg" in page and 'id="step-437"' in page, name  # [2, 16, 16, 1]: 437
        elif name.endswith(".svg"):
            root = ET.fromstring(data)
            assert root.tag.endswith("svg"), name
            assert len(list(root.iter())) > 10, name
    net = MLP.load(out / "model.json")
    assert net.sizes == [2, 16, 16, 1]


@pytest.mark.skipif(not (HAS_PLOT and HAS_GRAPH), reason="needs the plot and graph extras")
def test_short_demo_writes_every_promised_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``microgrid demo --steps 20 --out TMP``: six valid files, and the summary names each."""
    out = tmp_path / "demo"
    assert main(["demo", "--steps", "20", "--out", str(out), "--quiet"]) == 0
    check_files(out)
    printed = capsys.readouterr().out
    for name in FILES:
        assert name in printed
    assert "not written" not in printed and "FAILED" not in printed
    assert "training accuracy" in printed and "total time" in printed
    assert "MLP.load(" in printed


@pytest.mark.skipif(not (HAS_PLOT and HAS_GRAPH), reason="needs the plot and graph extras")
def test_demo_drawings_are_of_the_example_with_the_largest_cost(tmp_path: Path) -> None:
    """The drawings show the example with the smallest margin y*score (the largest cost),
    with the grads of that example alone."""
    result = run(DemoOptions(steps=5, out=tmp_path, quiet=True))
    X, y = moons(100, noise=0.1, seed=0, signed=True)
    with no_grad():
        margins = [t * result.net(x)[0].data for x, t in zip(X, y, strict=True)]
    assert result.example == margins.index(min(margins))
    assert result.example_x == X[result.example] and result.example_y == y[result.example]
    assert result.example_cost == pytest.approx(max(0.0, 1.0 - min(margins)))
    graph = (tmp_path / "computation_graph.svg").read_text(encoding="utf-8")
    assert f"training example {result.example}" in graph
    assert all(p.grad == 0.0 for p in result.net.parameters())  # left clean after drawing


@pytest.mark.skipif(not HAS_GRAPH, reason="needs the graph extra")
def test_demo_walkthrough_is_the_drawn_examples_backward_pass(tmp_path: Path) -> None:
    """walkthrough.html: every step of the drawn example's pass, the hinge cost, all agreeing."""
    from microgrid.walkthrough import explain

    result = run(DemoOptions(steps=5, out=tmp_path, quiet=True))
    page = (tmp_path / "walkthrough.html").read_text(encoding="utf-8")
    walk = explain(result.net, result.example_x, result.example_y, cost="hinge", max_steps=None)
    assert page == walk.html()
    assert "All 437 steps agree with the textbook." in page
    assert "hinge cost" in walk.title


def deltas_drawn(svg: Path) -> list[float]:
    """The δ values a drawing shows (its text elements ``δ = ...``)."""
    texts = [t.text or "" for t in ET.parse(svg).iter(f"{SVG}text")]
    return [float(t.split("=")[1]) for t in texts if t.startswith("δ = ") and "∂" not in t]


@pytest.fixture(scope="module")
def xor_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoResult, str]:
    """``microgrid demo --dataset xor`` (run once for the tests below): the result and
    what it printed."""
    printed = io.StringIO()
    out = tmp_path_factory.mktemp("xor")
    result = run(DemoOptions(dataset="xor", out=out, quiet=True), stream=printed)
    return result, printed.getvalue()


@pytest.mark.skipif(not HAS_GRAPH, reason="needs the graph extra")
def test_demo_xor_draws_non_zero_gradients(xor_demo: tuple[DemoResult, str]) -> None:
    """``microgrid demo --dataset xor`` trains every example beyond the margin (cost 0,
    every gradient 0), so its drawings show a point on the decision boundary instead."""
    result, printed = xor_demo
    for name in ("computation_graph.svg", "network.svg"):
        deltas = deltas_drawn(result.out / name)
        assert len(deltas) >= 33 and any(d != 0.0 for d in deltas), name
    summary = " ".join(printed.split())
    assert "every training example is beyond the margin" in summary
    assert "so the drawings show a point on the decision boundary, x = [" in summary
    graph = (result.out / "computation_graph.svg").read_text(encoding="utf-8")
    assert "a point on the decision boundary: x = [" in graph


@pytest.mark.parametrize("dataset", ["xor", pytest.param("circles", marks=pytest.mark.slow)])
def test_demo_draws_a_boundary_point_when_every_example_is_beyond_the_margin(
    dataset: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Where the boundary crosses the segment between the nearest training examples of
    opposite classes, labelled like the nearer one: its cost is about 1, not 0."""
    if dataset == "xor":
        result: DemoResult = request.getfixturevalue("xor_demo")[0]
    else:
        result = run(DemoOptions(dataset=dataset, out=tmp_path, quiet=True))
    preset = PRESETS[dataset]
    X, y = DATASETS[dataset](preset.points, noise=preset.noise, seed=0, signed=True)
    with no_grad():
        margins = [t * result.net(x)[0].data for x, t in zip(X, y, strict=True)]
        score = result.net(result.example_x)[0].data
    assert min(margins) >= 1.0  # every training example costs 0
    assert result.example is None and result.example_between is not None
    i, j = result.example_between
    assert y[i] == 1 and y[j] == -1
    assert math.dist(X[i], X[j]) == min(math.dist(X[p], X[q]) for p in range(len(X))
                                        for q in range(len(X)) if y[p] == 1 and y[q] == -1)
    assert abs(score) < 1e-9  # on the boundary...
    assert math.dist(result.example_x, X[i]) + math.dist(result.example_x, X[j]) == (
        pytest.approx(math.dist(X[i], X[j])))  # ...between the two
    nearer = i if math.dist(result.example_x, X[i]) <= math.dist(result.example_x, X[j]) else j
    assert result.example_y == y[nearer]
    assert result.example_cost == pytest.approx(1.0, abs=1e-9)


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes")
def test_each_file_is_written_once_atomically_with_opens_permissions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One atomic write per file, renamed onto its own name: the demo no longer wraps the
    already atomic saves in a second temporary file. Files get what open() would give
    (0o666 less the umask; it was always 0o644)."""
    renamed: list[str] = []
    real_replace = os.replace

    def replace(src: Any, dst: Any) -> None:
        renamed.append(Path(dst).name)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    old_umask = os.umask(0o077)
    try:
        result = run(DemoOptions(steps=2, out=tmp_path, quiet=True))
    finally:
        os.umask(old_umask)
    written = sorted(a.name for a in result.artifacts if a.path is not None)
    assert "model.json" in written
    assert sorted(renamed) == written
    assert sorted(os.listdir(tmp_path)) == written
    for name in written:
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600, name


def test_demo_trains_micrograds_setup_through_fit(tmp_path: Path) -> None:
    """The defaults are micrograd's: [2,16,16,1] ReLU, 100 moons points with noise 0.1,
    hinge + 1e-4 L2, lr 1.0 -> 0.1; the result's numbers match an evaluation."""
    assert PRESETS["moons"].points == 100 and PRESETS["moons"].noise == 0.1
    assert PRESETS["moons"].steps == 100 and PRESETS["moons"].hidden == (16, 16)
    assert learning_rate(0, 100) == 1.0 and learning_rate(100, 100) == pytest.approx(0.1)
    result = run(DemoOptions(steps=3, out=tmp_path, quiet=True))
    assert result.net.sizes == [2, 16, 16, 1] and result.net.activation == "relu"
    assert result.history.steps == 3
    assert result.history.lr == pytest.approx([1.0, 0.7, 0.4])  # 1 - 0.9 k / 3
    X, y = moons(100, noise=0.1, seed=0, signed=True)
    final = evaluate(result.net, X, y, loss="hinge")
    assert (result.accuracy, result.loss) == (final.accuracy, final.loss)
    assert MLP.load(tmp_path / "model.json").state_dict() == result.net.state_dict()


def test_demo_networks_end_in_a_linear_score_whatever_the_hidden_activation(
    tmp_path: Path
) -> None:
    """The hinge cost reads a score: MLP's default would end a sigmoid network in a sigmoid."""
    result = run(DemoOptions(steps=2, activation="sigmoid", out=tmp_path, quiet=True))
    assert result.net.activation == "sigmoid" and result.net.output_activation == "linear"


@pytest.mark.slow
def test_default_demo_reaches_full_training_accuracy(tmp_path: Path) -> None:
    """The default demo (100 steps on moons, seed 0) classifies every training point."""
    result = run(DemoOptions(out=tmp_path, quiet=True))
    assert result.history.steps == 100
    assert result.accuracy == 1.0
    assert result.status == 0


@pytest.mark.slow
def test_spirals_default_reaches_full_training_accuracy(tmp_path: Path) -> None:
    """--dataset spirals trains 300 steps by default and classifies every point."""
    result = run(DemoOptions(dataset="spirals", out=tmp_path, quiet=True))
    assert result.history.steps == PRESETS["spirals"].steps == 300
    assert result.accuracy == 1.0


@pytest.mark.parametrize("dataset", ["circles", "xor"])
def test_other_datasets_run(dataset: str, tmp_path: Path) -> None:
    """Each dataset trains (one hidden layer of 16, 40 steps: 98-100% on this seed)."""
    result = run(DemoOptions(dataset=dataset, steps=40, hidden=(16,), out=tmp_path, quiet=True))
    assert result.net.sizes == [2, 16, 1]
    assert result.accuracy >= 0.95
    assert MLP.load(tmp_path / "model.json").sizes == [2, 16, 1]


# -- options and errors ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--hidden", "0,x"], "--hidden: expected hidden layer widths"),
        (["--hidden", "16,0"], "--hidden"),
        (["--hidden", ""], "--hidden"),
        (["--steps", "0"], "--steps: expected a positive integer"),
        (["--steps", "ten"], "--steps"),
        (["--seed", "1.5"], "--seed"),
        (["--dataset", "mnist"], "--dataset: invalid choice"),
        (["--dataset", "digits", "--steps", "3"], "digits trains in epochs of mini-batches"),
        (["--epochs", "3"], "epochs is for the real datasets"),
        (["--epochs", "0"], "--epochs: expected a positive integer"),
        (["--activation", "gelu"], "--activation: invalid choice"),
        (["--lr", "-1"], "--lr: expected a positive number"),
        (["--lr", "nan"], "--lr"),
        (["--bogus"], "unrecognized arguments"),
    ],
)
def test_bad_options_exit_2_with_a_message(argv: list[str], message: str) -> None:
    """argparse-style: usage, ``microgrid demo: error: ...``, exit status 2, no traceback."""
    proc = subprocess.run([sys.executable, "-m", "microgrid", "demo", *argv],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "error:" in proc.stderr and message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_out_that_is_a_file_exits_2_and_keeps_the_file(tmp_path: Path) -> None:
    """--out naming an existing file: refused before training; the file is untouched."""
    target = tmp_path / "notes.txt"
    target.write_text("mine", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "microgrid", "demo", "--out", str(target)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "exists and is a file" in proc.stderr and "Traceback" not in proc.stderr
    assert target.read_text(encoding="utf-8") == "mine"


def test_out_that_cannot_be_created_exits_2(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    with pytest.raises(SystemExit) as info:
        main(["demo", "--steps", "1", "--quiet", "--out", str(blocker / "sub")])
    assert info.value.code == 2


def test_diverging_training_exits_1_with_advice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A linear network with lr 5 blows up: exit 1, the step, and 'try a smaller --lr'."""
    status = main(["demo", "--activation", "linear", "--lr", "5", "--quiet",
                   "--out", str(tmp_path)])
    assert status == 1
    err = capsys.readouterr().err
    assert "training diverged after" in err and "try a smaller --lr" in err


def test_parser_choices_match_the_demo() -> None:
    """The command line offers exactly the datasets and activations the library defines,
    read from the modules that define them, and the demo knows each."""
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    demo = subparsers.choices["demo"]
    choices = {a.dest: tuple(a.choices) for a in demo._actions if a.choices}
    assert choices == {"dataset": DATASET_NAMES, "activation": HIDDEN_ACTIVATIONS}
    assert set(PRESETS) == set(DATASETS)
    assert (*DATASETS, *IMAGES) == DATASET_NAMES and set(IMAGE_PRESETS) == set(IMAGES)
    assert ACTIVATIONS == HIDDEN_ACTIVATIONS


@pytest.mark.parametrize("command", [[], ["demo"], ["bp"], ["graph"]])
def test_help_pages_print_as_written(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """--help of each command exits 0 and shows its text as meant (no stray %% escapes)."""
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: microgrid") and "%%" not in out
    if command == ["demo"]:
        assert "reach 100% training accuracy" in " ".join(out.split())


def test_networks_past_the_stated_size_are_refused_before_anything_is_built(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--hidden 20000,20000 allocated until MemoryError; past MAX_PARAMETERS it is refused."""
    out = tmp_path / "never"
    with pytest.raises(SystemExit) as info:
        main(["demo", "--hidden", "20000,20000", "--out", str(out)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert ("hidden widths 20000,20000 make a network of 400,100,001 parameters; the demo "
            "trains at most 100,000") in err
    assert not out.exists()
    assert MAX_PARAMETERS == 100_000
    with pytest.raises(ValueError, match="320,320 make a network of 104,001 parameters"):
        DemoOptions(hidden=(320, 320)).check()  # 2*320+320 + 320*320+320 + 320+1
    DemoOptions(hidden=(300, 300)).check()  # 91,501 parameters: allowed
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    assert f"at most {MAX_PARAMETERS:,} parameters" in " ".join(capsys.readouterr().out.split())


def test_the_summary_says_which_loss_is_which(tmp_path: Path) -> None:
    """The mean hinge loss after training has no L2 term; the curve and the progress bar
    show the loss minimised (hinge + L2) at each step, before its update."""
    stream = io.StringIO()
    result = run(DemoOptions(steps=3, out=tmp_path, quiet=True), stream=stream)
    lines = stream.getvalue().splitlines()
    assert lines[1] == (f"  training accuracy {result.accuracy:.0%}, mean hinge loss "
                        f"{result.loss:.4f} (after training, without the L2 term)")
    assert lines[2] == ("  the loss minimised, hinge + L2 (the curve, the progress bar): "
                        f"{result.history.step_loss[-1]:.4f} at the last step")


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        (DemoOptions(dataset="mnist"), ValueError,
         "unknown dataset 'mnist'; valid: circles, moons, spirals, xor, digits"),
        (DemoOptions(steps=0), ValueError, "steps must be an int >= 1, got 0"),
        (DemoOptions(steps=2.0), TypeError, "steps must be an int, got float"),  # type: ignore
        (DemoOptions(hidden=()), ValueError, "hidden must be one or more layer widths"),
        (DemoOptions(hidden=(4, 0)), ValueError, r"hidden\[1\] must be an int >= 1, got 0"),
        (DemoOptions(hidden=16), TypeError, "hidden must be a tuple"),  # type: ignore[arg-type]
        (DemoOptions(activation="gelu"), ValueError, "unknown activation 'gelu'"),
        (DemoOptions(lr=math.inf), ValueError, "lr must be a finite number > 0, got inf"),
        (DemoOptions(lr="1"), TypeError, "lr must be a real number"),  # type: ignore[arg-type]
        (DemoOptions(seed=True), TypeError, "seed must be an int, got bool"),
        (DemoOptions(dataset="digits", steps=3), ValueError,
         "steps counts the full-batch steps of the toy datasets; digits trains in epochs"),
        (DemoOptions(epochs=3), ValueError, "epochs is for the real datasets; moons trains "
                                            "full-batch"),
        (DemoOptions(dataset="digits", epochs=0), ValueError, "epochs must be an int >= 1"),
        (DemoOptions(dataset="digits", hidden=(2000,)), ValueError,
         "2000 make a network of 150,010 parameters"),  # 64*2000+2000 + 2000*10+10
    ],
)
def test_options_are_checked_before_anything_happens(
    options: DemoOptions, error: type[Exception], message: str, tmp_path: Path
) -> None:
    """The library refuses bad options by name (TypeError for a wrong type, ValueError for a
    bad value), and writes nothing."""
    options = DemoOptions(**{**options.__dict__, "out": tmp_path / "never"})
    with pytest.raises(error, match=message):
        run(options)
    assert not (tmp_path / "never").exists()


# -- missing extras ---------------------------------------------------------------------


def test_without_matplotlib_the_demo_writes_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No matplotlib: exit 0, model (and drawings) written, PNGs skipped naming the extra."""
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["demo", "--steps", "2", "--quiet", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert not (tmp_path / "training_curves.png").exists()
    assert not (tmp_path / "decision_boundary.png").exists()
    assert MLP.load(tmp_path / "model.json").sizes == [2, 16, 16, 1]
    lines = {line.split()[0]: line for line in printed.splitlines()[4:] if line.startswith("    ")}
    for name in ("training_curves.png", "decision_boundary.png"):
        assert 'not written: microgrid.plot needs matplotlib' in lines[name]
        assert 'pip install "microgrid-autodiff[plot]"' in lines[name]
    assert "not written" not in lines["model.json"]


def test_without_the_graph_module_the_demo_writes_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No drawing support: exit 0, SVGs skipped naming the graph extra, the rest written."""
    monkeypatch.setitem(sys.modules, "microgrid.graph", None)
    assert main(["demo", "--steps", "2", "--quiet", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert not (tmp_path / "computation_graph.svg").exists()
    assert not (tmp_path / "network.svg").exists()
    assert MLP.load(tmp_path / "model.json").sizes == [2, 16, 16, 1]
    skipped = [line for line in printed.splitlines() if "not written" in line]
    assert len(skipped) == 2
    assert all('pip install "microgrid-autodiff[graph]"' in line for line in skipped)
    assert all('pip install -e ".[graph]"' in line for line in skipped)


@pytest.mark.skipif(not HAS_GRAPH, reason="needs the graph extra")
def test_without_an_svg_renderer_the_demo_keeps_the_dot_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No renderer (no dot, no in-process Graphviz): the DOT text is written instead."""
    import microgrid.render as render

    def missing(*args: object, **kwargs: object) -> bytes:
        raise render.MissingRendererError(f"no SVG renderer; {render.INSTALL_EXTRA}")

    monkeypatch.setattr("microgrid.graph.render", missing)
    assert main(["demo", "--steps", "2", "--quiet", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    for name in ("computation_graph", "network"):
        assert not (tmp_path / f"{name}.svg").exists()
        assert (tmp_path / f"{name}.dot").read_text(encoding="utf-8").startswith("digraph")
        assert f"wrote its DOT source to {name}.dot" in printed


# -- real images: --dataset digits --------------------------------------------------------


def check_image_files(out: Path) -> None:
    """Every promised file of the digits demo is there and valid, nothing else."""
    assert sorted(p.name for p in out.iterdir()) == sorted(IMAGE_FILES)
    for name in IMAGE_FILES:
        data = (out / name).read_bytes()
        if name.endswith(".png"):
            assert data.startswith(PNG_SIGNATURE), name


@pytest.fixture(scope="module")
def digits_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoResult, str]:
    """``microgrid demo --dataset digits --epochs 3`` (once for the tests below)."""
    printed = io.StringIO()
    out = tmp_path_factory.mktemp("digits")
    result = run(DemoOptions(dataset="digits", epochs=3, out=out, quiet=True), stream=printed)
    return result, printed.getvalue()


@pytest.mark.skipif(not HAS_PLOT, reason="needs the plot extra")
def test_the_digits_demo_writes_its_pictures_and_model(digits_demo: tuple[DemoResult, str]
                                                       ) -> None:
    result, printed = digits_demo
    check_image_files(result.out)
    assert MLP.load(result.out / "model.json").state_dict() == result.net.state_dict()
    for name in IMAGE_FILES:
        assert name in printed
    assert "not written" not in printed and "FAILED" not in printed
    assert f"test accuracy {result.test_accuracy:.1%}" in printed


def test_the_digits_demo_is_the_books_chapter_1_run_tested_every_epoch(
    digits_demo: tuple[DemoResult, str]
) -> None:
    """[64, 30, 10] sigmoid, N(0, 1) weights, quadratic cost, eta 3.0, mini-batches of 10, on
    the seeded 80/20 split; the test set measured after every epoch, the last one the
    result's test accuracy."""
    result, _ = digits_demo
    preset = IMAGE_PRESETS["digits"]
    assert (preset.hidden, preset.activation, preset.init, preset.loss, preset.lr,
            preset.batch_size, preset.epochs) == ((30,), "sigmoid", "normal", "quadratic", 3.0,
                                                  10, 30)
    assert result.net.sizes == [64, 30, 10] and result.net.activation == "sigmoid"
    assert result.net.output_activation == "sigmoid" and result.net.init == "normal"
    history = result.history
    assert history.epochs == 3 and history.steps == 3 * 144  # 1,437 images in tens
    assert set(history.lr) == {3.0}
    X, y = digits()
    _, (X_test, y_test) = train_test_split(X, y, 0.2, seed=0)
    right = sum(p == t for p, t in zip(predict(result.net, X_test), y_test, strict=True))
    assert result.test_accuracy == right / 360 == history.validation_accuracy[-1]
    assert len(history.validation_accuracy) == 3
    assert result.test_accuracy is not None and result.test_accuracy > 0.85


def test_without_numpy_the_digits_demo_trains_eagerly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No numpy (the fast extra): the same run through the eager engine, said so."""
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "numpy" else real_find_spec(name, *a))
    printed = io.StringIO()
    result = run(DemoOptions(dataset="digits", epochs=1, out=tmp_path), stream=printed)
    assert "eagerly" in printed.getvalue() and "microgrid-autodiff[fast]" in printed.getvalue()
    assert result.history.epochs == 1 and result.test_accuracy is not None


@pytest.mark.slow
def test_the_default_digits_demo_reaches_95_percent_on_the_test_set(tmp_path: Path) -> None:
    result = run(DemoOptions(dataset="digits", out=tmp_path, quiet=True))
    assert result.history.epochs == 30
    assert result.test_accuracy is not None and result.test_accuracy >= 0.95
