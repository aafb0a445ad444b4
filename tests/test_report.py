"""Specification of `microgrid.report`: the engine's gradients beside BP1-BP4.

`compare` sets the engine's ``z.grad``, ``b.grad`` and ``w.grad`` beside the
closed form's ``delta`` (BP1, BP2), BP3 and BP4, layer by layer in the book's
numbering; its `Report` prints as a table and as JSON; ``microgrid bp`` and
``examples/bp_compare.py`` print it.
"""

from __future__ import annotations

import argparse
import doctest
import json
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from microgrid import backprop as bp
from microgrid import report as report_module
from microgrid.backprop import ACTIVATIONS, COSTS, HIDDEN_ACTIVATIONS, backprop
from microgrid.cli import build_parser, main
from microgrid.nn import INITS, MLP
from microgrid.report import compare

ROOT = Path(__file__).resolve().parent.parent


def cli_choices(command: str) -> dict[str, tuple[str, ...]]:
    """The options of ``microgrid COMMAND`` that take one of a list of names."""
    commands = next(a for a in build_parser()._actions
                    if isinstance(a, argparse._SubParsersAction))
    return {a.dest: tuple(a.choices) for a in commands.choices[command]._actions
            if a.choices is not None}


# -- compare and its report --------------------------------------------------------------


def sigmoid_232(seed: int = 0) -> MLP:
    return MLP(2, [3, 2], activation="sigmoid", output_activation="sigmoid", init="normal",
               seed=seed)


@pytest.mark.parametrize(
    ("cost", "output", "y"),
    [("quadratic", "sigmoid", [1.0, 0.0]), ("quadratic", "linear", [0.3, -2.0]),
     ("cross_entropy", "sigmoid", [0.0, 1.0]), ("log_likelihood", "softmax", 1)],
)
def test_compare_agrees_for_each_cost(cost: str, output: str, y: Any) -> None:
    """The engine's z.grad, b.grad and w.grad agree with BP1-BP4 within rounding."""
    net = MLP(2, [4, 3, 2], activation="tanh", output_activation=output, init="normal", seed=3)
    report = compare(net, [0.6, -0.9], y, cost)
    assert report.ok
    assert set(report.agreement) == {"BP1", "BP2", "BP3", "BP4"}
    assert report.agreement["BP1"].entries == 2
    assert report.agreement["BP2"].entries == 4 + 3
    assert report.agreement["BP4"].entries == 2 * 4 + 4 * 3 + 3 * 2
    assert report.cost_autodiff == pytest.approx(report.cost_closed, rel=1e-12)
    assert all(a.max_rel <= 1e-12 for a in report.agreement.values())


def test_compare_reports_each_layer_side_by_side() -> None:
    """Per layer: z.grad beside delta, b.grad beside BP3, w.grad beside BP4 (w^l_jk at [j][k])."""
    net = sigmoid_232()
    report = compare(net, [0.5, -1.0], [1.0, 0.0])
    assert [layer.l for layer in report.layers] == [2, 3]
    assert [layer.equation for layer in report.layers] == ["BP2", "BP1"]
    out = report.layers[1]
    assert out.b_grad == out.delta_autodiff  # BP3 holds exactly on the graph
    closed = backprop(net, [0.5, -1.0], [1.0, 0.0])
    assert out.bp4[1][2] == closed.a[1][2] * closed.delta[2][1]
    assert len(out.w_grad) == 2 and len(out.w_grad[0]) == 3


def test_compare_leaves_the_networks_gradients_as_they_were() -> None:
    net = sigmoid_232()
    for i, p in enumerate(net.parameters()):
        p.grad = float(i)
    compare(net, [0.5, -1.0], [1.0, 0.0])
    assert [p.grad for p in net.parameters()] == [float(i) for i in range(len(net.parameters()))]


def test_compare_detects_a_wrong_closed_form(monkeypatch: pytest.MonkeyPatch) -> None:
    """A closed form with a wrong sigma' disagrees, and the report says which equations."""
    net = sigmoid_232()
    monkeypatch.setattr(bp, "sigma_prime", lambda act, z: 0.2)  # should be s(1 - s)
    report = compare(net, [0.5, -1.0], [1.0, 0.0])
    assert not report.ok
    assert not report.agreement["BP1"].ok and not report.agreement["BP2"].ok
    assert report.agreement["BP1"].max_rel > 1e-3
    assert "DISAGREEMENT" in str(report)


def test_report_renders_as_a_table_and_as_json() -> None:
    report = compare(sigmoid_232(), [0.5, -1.0], [1.0, 0.0])
    text = str(report)
    assert "network 2,3,2: layer 2 sigmoid, layer 3 sigmoid (output); cost quadratic" in text
    assert "layer l=3 (output)" in text and "layer l=2" in text
    assert text.index("layer l=3") < text.index("layer l=2")  # backprop order
    for name in ("BP1", "BP2", "BP3", "BP4"):
        assert f"\n{name} " in text
    assert text.endswith("all four equations agree (rtol=1e-09, atol=1e-12)")
    data = json.loads(report.to_json())
    assert data == json.loads(json.dumps(report.as_dict()))
    assert data["ok"] is True
    assert data["sizes"] == [2, 3, 2]
    assert data["layers"][1]["delta"]["equation"] == "BP1"
    assert data["layers"][0]["w"]["autodiff"][2][1] == report.layers[0].w_grad[2][1]
    assert set(data["equations"]) == {"BP1", "BP2", "BP3", "BP4"}


def test_report_numbers_neurons_from_1_with_concrete_layer_numbers() -> None:
    """Rows count j and k from 1, as the book does; every header names its layer."""
    report = compare(sigmoid_232(), [0.5, -1.0], [1.0, 0.0])
    lines = str(report).splitlines()
    output = lines.index("layer l=3 (output)")
    assert lines[output + 1].split() == [
        "j", "z^3_j.grad", "BP1", "delta^3_j", "b^3_j.grad", "BP3", "delta^3_j"]
    assert [line.split()[0] for line in lines[output + 2:output + 4]] == ["1", "2"]
    assert lines[output + 4].split() == [
        "j", "k", "w^3_jk.grad", "BP4", "a^2_k", "delta^3_j"]
    assert [line.split()[:2] for line in lines[output + 5:output + 11]] == [
        ["1", "1"], ["1", "2"], ["1", "3"], ["2", "1"], ["2", "2"], ["2", "3"]]
    hidden = lines.index("layer l=2")
    assert lines[hidden + 1].split()[2:4] == ["BP2", "delta^2_j"]
    assert lines[hidden + 5].split()[3:] == ["BP4", "a^1_k", "delta^2_j"]
    assert "delta^l_j" not in str(report)
    # w^3_13 (row j=1, k=3) is report.layers[1].w_grad[0][2]
    row = lines[output + 7].split()
    assert row[:2] == ["1", "3"] and float(row[2]) == pytest.approx(report.layers[1].w_grad[0][2])


def test_report_prints_negative_zero_as_zero() -> None:
    """A ReLU output that is off gives -0.0 on one side and 0.0 on the other: both print 0."""
    net = MLP(2, [2], output_activation="relu", init="normal", seed=0)
    report = compare(net, [-1.0, -1.0], [0.0, 0.0])
    values = [v for layer in report.layers for row in layer.bp4 for v in row]
    assert any(math.copysign(1.0, v) == -1.0 and v == 0.0 for v in values)  # a real -0.0
    assert not re.search(r"\s-0(\s|$)", str(report))


def test_compare_on_a_single_layer_network_has_no_bp2() -> None:
    net = MLP(3, [2], output_activation="sigmoid", seed=1)
    report = compare(net, [0.1, 0.2, 0.3], [0.0, 1.0])
    assert report.ok and report.agreement["BP2"].entries == 0


def test_compare_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown cost"):
        compare(sigmoid_232(), [0.5, -1.0], [1.0, 0.0], cost="mse")
    with pytest.raises(ValueError, match=r"compare: rtol must be a finite number >= 0, got -1\.0"):
        compare(sigmoid_232(), [0.5, -1.0], [1.0, 0.0], rtol=-1.0)
    with pytest.raises(TypeError, match="compare: atol must be a real number, got str"):
        compare(sigmoid_232(), [0.5, -1.0], [1.0, 0.0], atol="0")  # type: ignore[arg-type]


# -- the command line -------------------------------------------------------------------


def test_cli_bp_prints_the_report_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bp", "--sizes", "2,3,2", "--activation", "sigmoid", "--cost", "quadratic",
                 "--seed", "0"]) == 0
    out = capsys.readouterr().out
    assert "network 2,3,2: layer 2 sigmoid, layer 3 sigmoid (output); cost quadratic" in out
    assert "all four equations agree" in out


@pytest.mark.parametrize(
    ("cost", "activation", "output"),
    [("quadratic", "sigmoid", "sigmoid"), ("quadratic", "relu", "linear"),
     ("quadratic", "tanh", "linear"), ("cross_entropy", "relu", "sigmoid"),
     ("log_likelihood", "relu", "softmax")],
)
def test_cli_bp_output_activation_is_mlps_unless_the_cost_needs_another(
    capsys: pytest.CaptureFixture[str], cost: str, activation: str, output: str
) -> None:
    """bp builds the network MLP builds for the same request: sigmoid after sigmoid layers,
    linear after others; cross-entropy needs sigmoid outputs, log-likelihood a softmax."""
    assert main(["bp", "--cost", cost, "--activation", activation, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["activations"] == [activation, output]
    assert data["cost"] == cost and data["ok"] is True
    if cost == "quadratic":
        assert MLP(2, [3, 2], activation=activation).output_activation == output


def test_cli_bp_offers_exactly_the_librarys_names() -> None:
    """The choices are read from the modules that define them, in their order."""
    assert cli_choices("bp") == {
        "activation": HIDDEN_ACTIVATIONS, "cost": COSTS, "output_activation": ACTIVATIONS,
        "init": INITS}


def test_cli_bp_refuses_a_hidden_activation_without_hidden_layers(
    capsys: pytest.CaptureFixture[str]
) -> None:
    """--sizes 1,1 has no hidden layer: --activation relu would be ignored silently."""
    assert main(["bp", "--sizes", "1,1", "--activation", "relu"]) == 2
    captured = capsys.readouterr()
    assert "--activation relu sets the hidden layers' activation" in captured.err
    assert "--sizes 1,1 has no hidden layer" in captured.err
    assert "--output-activation" in captured.err and captured.out == ""
    assert main(["bp", "--sizes", "1,1", "--output-activation", "relu"]) == 0
    assert "network 1,1: layer 2 relu (output)" in capsys.readouterr().out


def test_cli_bp_help_says_every_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["bp", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--seed SEED seeds the network and the random example (default 0)" in text
    for option in ("--sizes SIZES layer widths (default 2,3,2;",
                   "(default sigmoid", "(default quadratic)", "(default normal"):
        assert option in text


def test_cli_bp_takes_x_y_and_an_output_activation(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bp", "--sizes", "2,2", "--output-activation", "tanh", "--x=-1,0.5",
                 "--y", "0.25,1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["x"] == [-1.0, 0.5] and data["y"] == [0.25, 1.0]
    assert data["activations"] == ["tanh"]


def test_cli_bp_exits_1_when_the_equations_disagree(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bp, "sigma_prime", lambda act, z: 0.2)
    assert main(["bp"]) == 1
    assert "DISAGREEMENT" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--sizes", "2,x"], "expected layer widths like 2,3,2"),
        (["--sizes", "2"], "at least two positive layer widths"),
        (["--activation", "gelu"], "invalid choice: 'gelu'"),
        (["--cost", "cross-entropy"], "invalid choice: 'cross-entropy'"),
        (["--x", "1,2,3"], "x has 3 entries; the network takes 2"),
        (["--y", "nan,1"], "expected finite numbers"),
        (["--cost", "log_likelihood", "--y", "0.5,0.5"], "one-hot"),
        (["--cost", "cross_entropy", "--output-activation", "relu", "--seed", "3"],
         "not strictly between 0 and 1"),
    ],
)
def test_cli_bp_bad_arguments_exit_2_with_a_message(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    try:
        status = main(["bp", *argv])
    except SystemExit as e:  # argparse's own errors
        status = int(e.code or 0)
    assert status == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_cli_bp_refuses_networks_past_its_stated_size(
    capsys: pytest.CaptureFixture[str]
) -> None:
    """--sizes 30000,30000 allocated until MemoryError; past a million parameters bp refuses."""
    from microgrid.cli import BP_MAX_PARAMETERS

    with pytest.raises(SystemExit) as info:
        main(["bp", "--sizes", "30000,30000"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "layer widths 30000,30000 make a network of 900,030,000 parameters; bp checks " \
           "at most 1,000,000" in err
    assert BP_MAX_PARAMETERS == 1_000_000
    with pytest.raises(SystemExit):
        main(["bp", "--help"])
    assert "at most 1,000,000 parameters" in " ".join(capsys.readouterr().out.split())


# -- the docs and the example --------------------------------------------------------------


def test_the_module_docstring_examples_run() -> None:
    result = doctest.testmod(report_module)
    assert result.attempted > 0 and result.failed == 0


def test_the_example_prints_the_report_and_exits_0() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "bp_compare.py")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "all four equations agree" in done.stdout
    summaries = [line for line in done.stdout.splitlines() if "closed form| =" in line]
    assert len(summaries) == 3 and all(line.endswith("  agree") for line in summaries)
