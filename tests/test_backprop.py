"""Specification of `microgrid.backprop`: the textbook BP1-BP4 in plain floats, and `compare`.

Notation as in BACKPROP.md. The random-network properties (the engine
agreeing with BP1-BP4 everywhere) live in test_bp_properties.py; this
module pins the closed form down on examples small enough to check by
hand, against finite differences of its own cost (no engine involved),
and checks `compare`, its report and the ``microgrid bp`` command.
"""

from __future__ import annotations

import doctest
import importlib
import json
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import microgrid.engine
from microgrid import backprop as bp
from microgrid.backprop import (
    Network,
    backprop,
    compare,
    cost_value,
    default_output_activation,
    feedforward,
    mini_batch_gradients,
    sigma,
    sigma_prime,
    softmax,
    update_mini_batch,
)
from microgrid.cli import main
from microgrid.nn import MLP

# -- sigma and sigma' ----------------------------------------------------------


def test_sigma_and_its_derivative_by_name() -> None:
    """sigma and sigma' for each element-wise activation, at points known exactly."""
    assert sigma("sigmoid", 0.0) == 0.5 and sigma_prime("sigmoid", 0.0) == 0.25
    assert sigma("tanh", 0.0) == 0.0 and sigma_prime("tanh", 0.0) == 1.0
    assert sigma("relu", 3.0) == 3.0 and sigma("relu", -3.0) == 0.0
    assert sigma_prime("relu", 3.0) == 1.0 and sigma_prime("relu", -3.0) == 0.0
    assert sigma("linear", -2.5) == -2.5 and sigma_prime("linear", -2.5) == 1.0


def test_relu_derivative_at_zero_is_zero_like_the_engine() -> None:
    """relu'(0) = 0, the engine's (and PyTorch's) convention."""
    assert sigma_prime("relu", 0.0) == 0.0
    z = microgrid.engine.Value(0.0)
    assert z.relu().local_grads == (sigma_prime("relu", 0.0),)


def test_sigmoid_is_stable_for_large_inputs() -> None:
    """sigmoid(+-1000) is 1 and 0, with no OverflowError, and sigma' is 0 there."""
    assert sigma("sigmoid", 1000.0) == 1.0 and sigma("sigmoid", -1000.0) == 0.0
    assert sigma_prime("sigmoid", -1000.0) == 0.0


def test_sigma_derivatives_match_finite_differences() -> None:
    """sigma'(z) is the slope of sigma at z (central differences, smooth points only)."""
    h = 1e-6
    for activation in ("sigmoid", "tanh", "relu", "linear"):
        for z in (-1.3, -0.2, 0.4, 2.0):
            numeric = (sigma(activation, z + h) - sigma(activation, z - h)) / (2 * h)
            assert sigma_prime(activation, z) == pytest.approx(numeric, rel=1e-7, abs=1e-9)


def test_unknown_activation_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown element-wise activation 'gelu'; valid: sigmoid"):
        sigma("gelu", 0.0)
    with pytest.raises(ValueError, match="softmax"):
        sigma_prime("softmax", 0.0)  # layer-wise: no scalar derivative


def test_softmax_sums_to_one_and_does_not_overflow() -> None:
    a = softmax([1000.0, 0.0, -1000.0])
    assert a == [1.0, 0.0, 0.0]
    assert math.fsum(softmax([0.3, -1.2, 2.0])) == pytest.approx(1.0, abs=1e-15)


def test_softmax_divides_by_the_correctly_rounded_sum() -> None:
    """Every sum of the closed form is `math.fsum`: the same numbers on every Python."""
    z = math.log(0.9e-16)  # e^z below half an ulp of 1: a chain of + drops it twice
    e = [1.0, math.exp(z), math.exp(z)]
    assert 1.0 + e[1] + e[2] != math.fsum(e)
    assert softmax([0.0, z, z]) == [ej / math.fsum(e) for ej in e]


# -- the forward pass and BP1-BP4 on hand-computed examples ---------------------------


def two_layer_linear() -> Network:
    """w^2 = [[1, 2], [-1, 0.5]], b^2 = [0.5, 0]; w^3 = [[3, -2]], b^3 = [1]; linear everywhere."""
    return Network.from_lists([[[1.0, 2.0], [-1.0, 0.5]], [[3.0, -2.0]]],
                              [[0.5, 0.0], [1.0]], activation="linear")


def test_feedforward_computes_z_and_a_layer_by_layer() -> None:
    """z^l = w^l a^{l-1} + b^l, a^l = sigma(z^l), indexed by l - 1 with z[0] == []."""
    z, a = feedforward(two_layer_linear(), [1.0, -1.0])
    # z^2 = [1 - 2 + 0.5, -1 - 0.5 + 0] = [-0.5, -1.5]; z^3 = 3(-0.5) - 2(-1.5) + 1 = 2.5
    assert z == [[], [-0.5, -1.5], [2.5]]
    assert a == [[1.0, -1.0], [-0.5, -1.5], [2.5]]


def test_backprop_by_hand_quadratic_linear() -> None:
    """BP1: delta^3 = a - y; BP2: delta^2 = (w^3)^T delta^3; BP3/BP4 from them."""
    result = backprop(two_layer_linear(), [1.0, -1.0], [0.5], "quadratic")
    # delta^3 = 2.5 - 0.5 = 2; delta^2 = [3 * 2, -2 * 2] = [6, -4]
    assert result.delta == [[], [6.0, -4.0], [2.0]]
    assert result.nabla_b == [[6.0, -4.0], [2.0]]
    # BP4: nabla_w^l_jk = a^{l-1}_k delta^l_j
    assert result.nabla_w == [[[6.0, -6.0], [-4.0, 4.0]], [[-1.0, -3.0]]]
    # dC/dx = (w^2)^T delta^2 = [1*6 + (-1)(-4), 2*6 + 0.5*(-4)]
    assert result.nabla_x == [10.0, 10.0]
    assert result.cost == 0.5 * 2.0**2


def test_bp1_shortcuts_give_a_minus_y() -> None:
    """Cross-entropy with sigmoid outputs and log-likelihood with softmax: delta^L = a^L - y."""
    net = Network.from_lists([[[0.7, -0.4], [0.1, 0.9]]], [[0.2, -0.3]], "sigmoid")
    r = backprop(net, [0.5, 1.5], [1.0, 0.0], "cross-entropy")
    assert r.delta[-1] == [r.a[-1][0] - 1.0, r.a[-1][1] - 0.0]
    net = Network.from_lists([[[0.7, -0.4], [0.1, 0.9]]], [[0.2, -0.3]], "softmax")
    r = backprop(net, [0.5, 1.5], 0, "log-likelihood")
    assert r.delta[-1] == [r.a[-1][0] - 1.0, r.a[-1][1] - 0.0]


CASES = [
    # (cost, hidden activation, output activation): every BP1 branch, shortcut or not
    ("quadratic", "sigmoid", "sigmoid"),
    ("quadratic", "tanh", "linear"),
    ("quadratic", "relu", "tanh"),
    ("quadratic", "tanh", "softmax"),
    ("cross-entropy", "tanh", "sigmoid"),
    ("cross-entropy", "sigmoid", "softmax"),
    ("log-likelihood", "sigmoid", "softmax"),
    ("log-likelihood", "tanh", "sigmoid"),
]


@pytest.mark.parametrize(("cost", "hidden", "output"), CASES)
def test_gradients_are_the_slopes_of_the_cost(cost: str, hidden: str, output: str) -> None:
    """BP3 and BP4 give ∂C/∂b and ∂C/∂w: central differences of the closed form's own cost agree."""
    weights = [[[0.3, -0.8, 0.5], [1.1, 0.2, -0.4]], [[-0.6, 0.9], [0.4, 0.7], [1.2, -0.3]]]
    biases = [[0.1, -0.2], [0.05, 0.3, -0.1]]
    net = Network.from_lists(weights, biases, hidden, output)
    x, y = [0.4, -0.7, 1.3], [0.0, 1.0, 0.0]
    result = backprop(net, x, y, cost)

    def cost_at(w: Any, b: Any) -> float:
        perturbed = Network.from_lists(w, b, hidden, output)
        _, a = feedforward(perturbed, x)
        return cost_value(cost, a[-1], y)

    h = 1e-6
    for i in range(2):
        for j in range(len(biases[i])):
            up = [list(row) for row in biases]
            down = [list(row) for row in biases]
            up[i][j] += h
            down[i][j] -= h
            numeric = (cost_at(weights, up) - cost_at(weights, down)) / (2 * h)
            assert result.nabla_b[i][j] == pytest.approx(numeric, rel=1e-6, abs=1e-9)
            for k in range(len(weights[i][j])):
                w_up = [[list(r) for r in layer] for layer in weights]
                w_down = [[list(r) for r in layer] for layer in weights]
                w_up[i][j][k] += h
                w_down[i][j][k] -= h
                numeric = (cost_at(w_up, biases) - cost_at(w_down, biases)) / (2 * h)
                assert result.nabla_w[i][j][k] == pytest.approx(numeric, rel=1e-6, abs=1e-9)


def test_cost_values() -> None:
    """C_x: quadratic 1/2 ||y - a||^2; cross-entropy with 0 ln 0 = 0; log-likelihood -ln a_y."""
    assert cost_value("quadratic", [1.0, 0.0], [0.0, 2.0]) == 2.5
    assert cost_value("cross-entropy", [1.0, 0.25], [1.0, 0.0]) == pytest.approx(-math.log(0.75))
    assert cost_value("log-likelihood", [0.25, 0.75], [0.0, 1.0]) == -math.log(0.75)
    with pytest.raises(ValueError, match=re.escape("cross-entropy: a^L_1 = 0.0 with y_1 = 1.0")):
        cost_value("cross-entropy", [0.0], [1.0])


def test_the_closed_form_never_touches_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """backprop builds no Value: with the engine's node constructors disabled it still works."""
    net = MLP(3, [4, 2], activation="tanh", output_activation="softmax", seed=5)
    expected = backprop(net, [0.1, 0.2, -0.3], 1, "log-likelihood")

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("the closed form used the engine")

    monkeypatch.setattr(microgrid.engine, "_node", forbidden)
    monkeypatch.setattr(microgrid.engine.Value, "__init__", forbidden)
    again = backprop(net, [0.1, 0.2, -0.3], 1, "log-likelihood")
    assert again == expected
    assert backprop(Network.from_mlp(net), [0.1, 0.2, -0.3], [0.0, 1.0], "log-likelihood") == again


def test_network_from_mlp_reads_the_books_indices() -> None:
    """weights[l-2][j-1][k-1] is net.layers[l-2].neurons[j-1].w[k-1] = w^l_jk; a copy."""
    net = MLP(2, [3, 1], activation="relu", output_activation="linear", seed=2)
    plain = Network.from_mlp(net)
    assert plain.sizes == [2, 3, 1]
    assert plain.activations == ["relu", "linear"]
    assert plain.weights[0][2][1] == net.layers[0].neurons[2].w[1].data
    assert net.layers[0].neurons[2].w[1].label == "w^2_32"
    assert plain.biases[1][0] == net.layers[1].neurons[0].b.data
    plain.weights[0][0][0] = 99.0
    assert net.layers[0].neurons[0].w[0].data != 99.0


# -- mini-batches, L2, the update rule -------------------------------------------------


def test_mini_batch_gradients_average_and_add_l2_to_weights_only() -> None:
    """nabla = 1/m sum_x nabla_x, plus (lambda/n) w for the weights and nothing for the biases."""
    net = two_layer_linear()
    batch = [([1.0, -1.0], [0.5]), ([0.0, 2.0], [-1.0])]
    r1, r2 = (backprop(net, x, y) for x, y in batch)
    nabla_b, nabla_w = mini_batch_gradients(net, batch, lmbda=0.0)
    assert nabla_b[1][0] == (r1.nabla_b[1][0] + r2.nabla_b[1][0]) / 2
    reg_b, reg_w = mini_batch_gradients(net, batch, lmbda=3.0, n=10)
    assert reg_b == nabla_b
    assert reg_w[0][1][0] == pytest.approx(nabla_w[0][1][0] + 3.0 / 10 * net.weights[0][1][0])


def test_update_mini_batch_is_the_books_rule_and_leaves_the_input_alone() -> None:
    """w -> (1 - eta lambda/n) w - eta mean(nabla_w); b -> b - eta mean(nabla_b); a new Network."""
    net = two_layer_linear()
    batch = [([1.0, -1.0], [0.5]), ([0.0, 2.0], [-1.0])]
    nabla_b, nabla_w = mini_batch_gradients(net, batch)
    new = update_mini_batch(net, batch, eta=0.1, lmbda=2.0, n=4)
    assert new.weights[1][0][1] == pytest.approx(
        (1 - 0.1 * 2.0 / 4) * net.weights[1][0][1] - 0.1 * nabla_w[1][0][1]
    )
    assert new.biases[0][1] == pytest.approx(net.biases[0][1] - 0.1 * nabla_b[0][1])
    assert net.weights == two_layer_linear().weights


# -- bad input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: Network.from_lists([[[1.0, 2.0]]], [[0.0, 1.0]]), ValueError, "biases[0] has 2"),
        (lambda: Network.from_lists([[[1.0, 2.0]], [[1.0, 2.0]]], [[0.0], [0.0]]), ValueError,
         "weights[1][0] has 2 entries; layer 2 has 1"),
        (lambda: Network.from_lists([[[1.0, math.nan]]], [[0.0]]), ValueError,
         "weights[0][0][1] is nan"),
        (lambda: Network.from_lists([[[1.0, "2"]]], [[0.0]]),  # type: ignore[list-item]
         TypeError, "weights[0][0][1] is str '2'"),
        (lambda: Network.from_lists([], []), ValueError, "at least one layer"),
        (lambda: Network.from_lists([[[1.0]], [[1.0]]], [[0.0], [0.0]], "softmax"), ValueError,
         "layer 2 is hidden"),
        (lambda: backprop(two_layer_linear(), [1.0], [0.0]), ValueError, "x has 1 entries"),
        (lambda: backprop(two_layer_linear(), [1.0, 2.0], [0.0, 1.0]), ValueError, "y has 2"),
        (lambda: backprop(two_layer_linear(), [1.0, 2.0], [0.0], "hinge"), ValueError,
         "unknown cost 'hinge'"),
        (lambda: backprop(two_layer_linear(), [1.0, 2.0], [0.5], "log-likelihood"), ValueError,
         "one-hot"),
        (lambda: backprop(two_layer_linear(), [1.0, 2.0], 3, "log-likelihood"), ValueError,
         "class index y=3 out of range"),
        (lambda: mini_batch_gradients(two_layer_linear(), []), ValueError, "batch is empty"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(call: Any, error: type, message: str) -> None:
    with pytest.raises(error) as info:
        call()
    assert message in str(info.value)


# -- compare and its report --------------------------------------------------------------


def sigmoid_232(seed: int = 0) -> MLP:
    return MLP(2, [3, 2], activation="sigmoid", output_activation="sigmoid", init="normal",
               seed=seed)


@pytest.mark.parametrize(
    ("cost", "output", "y"),
    [("quadratic", "sigmoid", [1.0, 0.0]), ("quadratic", "linear", [0.3, -2.0]),
     ("cross-entropy", "sigmoid", [0.0, 1.0]), ("log-likelihood", "softmax", 1)],
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
    with pytest.raises(ValueError, match="rtol and atol"):
        compare(sigmoid_232(), [0.5, -1.0], [1.0, 0.0], rtol=-1.0)


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
     ("quadratic", "tanh", "linear"), ("cross-entropy", "relu", "sigmoid"),
     ("log-likelihood", "relu", "softmax")],
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


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "linear"])
def test_default_output_activation_agrees_with_mlps_default(activation: str) -> None:
    assert default_output_activation("quadratic", activation) == (
        MLP(2, [3, 2], activation=activation).output_activation)


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
        (["--x", "1,2,3"], "x has 3 entries; the network takes 2"),
        (["--y", "nan,1"], "expected finite numbers"),
        (["--cost", "log-likelihood", "--y", "0.5,0.5"], "one-hot"),
        (["--cost", "cross-entropy", "--output-activation", "relu", "--seed", "3"],
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

ROOT = Path(__file__).resolve().parent.parent


def test_the_backprop_chapter_runs_as_written() -> None:
    """Every >>> line of docs/backprop.md prints what the page says (its numbers are real)."""
    result = doctest.testfile(str(ROOT / "docs" / "backprop.md"), module_relative=False,
                              optionflags=doctest.ELLIPSIS)
    assert result.attempted > 40 and result.failed == 0


def test_the_module_docstring_examples_run() -> None:
    # (microgrid.gradcheck is the re-exported function; the module is imported by name)
    for module in (bp, importlib.import_module("microgrid.gradcheck")):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__


def test_the_example_prints_the_report_and_exits_0() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "bp_compare.py")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "all four equations agree" in done.stdout
    summaries = [line for line in done.stdout.splitlines() if "closed form| =" in line]
    assert len(summaries) == 3 and all(line.endswith("  agree") for line in summaries)
