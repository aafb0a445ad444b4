"""Specification of `microgrid.backprop`: the textbook BP1-BP4 in plain floats.

Notation as in BACKPROP.md. The random-network properties (the engine
agreeing with BP1-BP4 everywhere) live in test_bp_properties.py; this
module pins the closed form down on examples small enough to check by
hand, against finite differences of its own cost (no engine involved),
and checks `compare`, its report and the ``microgrid bp`` command.
"""

from __future__ import annotations

import ast
import doctest
import importlib
import math
import re
from pathlib import Path
from typing import Any

import pytest

import microgrid.engine
from microgrid import backprop as bp
from microgrid import losses, nn
from microgrid.backprop import (
    Network,
    backprop,
    cost_value,
    default_output_activation,
    feedforward,
    mini_batch_gradients,
    sigma,
    sigma_prime,
    softmax,
    update_mini_batch,
)
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
    message = "unknown element-wise activation 'gelu'; valid: linear, relu, sigmoid, tanh$"
    with pytest.raises(ValueError, match=message):
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
    r = backprop(net, [0.5, 1.5], [1.0, 0.0], "cross_entropy")
    assert r.delta[-1] == [r.a[-1][0] - 1.0, r.a[-1][1] - 0.0]
    net = Network.from_lists([[[0.7, -0.4], [0.1, 0.9]]], [[0.2, -0.3]], "softmax")
    r = backprop(net, [0.5, 1.5], 0, "log_likelihood")
    assert r.delta[-1] == [r.a[-1][0] - 1.0, r.a[-1][1] - 0.0]


CASES = [
    # (cost, hidden activation, output activation): every BP1 branch, shortcut or not
    ("quadratic", "sigmoid", "sigmoid"),
    ("quadratic", "tanh", "linear"),
    ("quadratic", "relu", "tanh"),
    ("quadratic", "tanh", "softmax"),
    ("cross_entropy", "tanh", "sigmoid"),
    ("cross_entropy", "sigmoid", "softmax"),
    ("log_likelihood", "sigmoid", "softmax"),
    ("log_likelihood", "tanh", "sigmoid"),
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
    assert cost_value("cross_entropy", [1.0, 0.25], [1.0, 0.0]) == pytest.approx(-math.log(0.75))
    assert cost_value("log_likelihood", [0.25, 0.75], [0.0, 1.0]) == -math.log(0.75)
    with pytest.raises(ValueError, match=re.escape("cross_entropy: a^L_1 = 0.0 with y_1 = 1.0")):
        cost_value("cross_entropy", [0.0], [1.0])


def test_the_closed_form_never_touches_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """backprop builds no Value: with the engine's node constructors disabled it still works."""
    net = MLP(3, [4, 2], activation="tanh", output_activation="softmax", seed=5)
    expected = backprop(net, [0.1, 0.2, -0.3], 1, "log_likelihood")

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("the closed form used the engine")

    monkeypatch.setattr(microgrid.engine, "_node", forbidden)
    monkeypatch.setattr(microgrid.engine.Value, "__init__", forbidden)
    again = backprop(net, [0.1, 0.2, -0.3], 1, "log_likelihood")
    assert again == expected
    assert backprop(Network.from_mlp(net), [0.1, 0.2, -0.3], [0.0, 1.0], "log_likelihood") == again


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
        (lambda: backprop(two_layer_linear(), [1.0, 2.0], [0.5], "log_likelihood"), ValueError,
         "one-hot"),
        (lambda: backprop(two_layer_linear(), [1.0, 2.0], 3, "log_likelihood"), ValueError,
         "class index y=3 out of range"),
        (lambda: mini_batch_gradients(two_layer_linear(), []), ValueError, "batch is empty"),
        (lambda: backprop(two_layer_linear(), [1.0, 2.0], [0.0], 3), TypeError,
         "cost must be a str, one of quadratic"),
        (lambda: mini_batch_gradients(two_layer_linear(), [([1.0, 2.0], [0.0])], n=2.5),
         TypeError, "n must be an int, got float 2.5"),
        (lambda: mini_batch_gradients(two_layer_linear(), [([1.0, 2.0], [0.0])], n=0),
         ValueError, "n must be an int >= 1 (the training set's size), got 0"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(call: Any, error: type, message: str) -> None:
    with pytest.raises(error) as info:
        call()
    assert message in str(info.value)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "linear"])
def test_default_output_activation_agrees_with_mlps_default(activation: str) -> None:
    assert default_output_activation("quadratic", activation) == (
        MLP(2, [3, 2], activation=activation).output_activation)


# -- the docs and the example --------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent


def test_the_backprop_chapter_runs_as_written() -> None:
    """Every >>> line of docs/backprop.md prints what the page says (its numbers are real)."""
    result = doctest.testfile(str(ROOT / "docs" / "backprop.md"), module_relative=False,
                              optionflags=doctest.ELLIPSIS)
    assert result.attempted > 40 and result.failed == 0


def test_its_names_are_the_network_layers_and_the_costs_names() -> None:
    """One vocabulary: the witness spells activations as `microgrid.nn` does and costs as
    `microgrid.losses` does (it keeps its own copy, as it may not import them)."""
    assert bp.ACTIVATIONS == nn.ACTIVATIONS
    assert bp.HIDDEN_ACTIVATIONS == nn.HIDDEN_ACTIVATIONS
    assert bp.COSTS == ("quadratic", "cross_entropy", "log_likelihood")
    assert set(bp.COSTS) <= set(losses.LOSSES)


def test_the_witness_imports_nothing_of_the_package_but_its_argument_checks() -> None:
    """The closed form shares no code with the engine (docs/design.md): its only import
    from the package, outside type hints, is `_checks`, which imports nothing from it."""
    tree = ast.parse((ROOT / "microgrid" / "backprop.py").read_text(encoding="utf-8"))
    type_hints = [n for n in ast.walk(tree) if isinstance(n, ast.If)
                  and isinstance(n.test, ast.Name) and n.test.id == "TYPE_CHECKING"]
    hinted = {id(m) for n in type_hints for m in ast.walk(n)}
    imported = {(n.module or "") + "".join(f".{a.name}" for a in n.names)
                for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and id(n) not in hinted}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert {m for m in imported if m.startswith("microgrid")} == {"microgrid._checks"}


def test_the_module_docstring_examples_run() -> None:
    # (microgrid.gradcheck is the re-exported function; the module is imported by name)
    for module in (bp, importlib.import_module("microgrid.gradcheck")):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__
