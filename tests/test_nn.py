"""Specification of `microgrid.nn`: neurons, layers, MLPs, traces and model files.

Notation follows BACKPROP.md, neurons counted from 1 as in the book:
``net.layers[l-2].neurons[j-1].w[k-1]`` is ``w^l_jk`` (``net.weight(l, j, k)``),
``trace.z[l-1][j-1]`` is ``z^l_j`` and, after ``cost.backward()``,
``trace.delta[l-1][j-1]`` is ``delta^l_j = ∂C/∂z^l_j`` (``trace.delta_of(l, j)``).
"""

from __future__ import annotations

import itertools
import json
import math
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from microgrid import nn
from microgrid.engine import Value, sum_of
from microgrid.nn import INITS, MLP, Layer, Module, Neuron, Trace

# -- helpers ------------------------------------------------------------------


def quadratic_cost(a: list[Value], y: list[float]) -> Value:
    """Nielsen's ``C_x = 1/2 sum_j (y_j - a_j)^2``, written out (losses.py is tested apart)."""
    return 0.5 * sum_of([(yj - aj) ** 2 for aj, yj in zip(a, y, strict=True)])


def set_parameters(module: Module, values: list[float]) -> None:
    for p, v in zip(module.parameters(), values, strict=True):
        p.data = v


# -- Neuron ---------------------------------------------------------------------


def test_neuron_has_nin_weights_and_a_bias_labelled_in_book_notation() -> None:
    """A standalone neuron is the first of layer 2 unless told otherwise: w^2_1k, b^2_1.

    Labels count neurons from 1, as the book does; ``index`` is the Python
    position in the layer, from 0, so the neuron is ``j = index + 1``."""
    n = Neuron(3, rng=random.Random(0))
    assert len(n.w) == 3
    assert [w.label for w in n.w] == ["w^2_11", "w^2_12", "w^2_13"]
    assert n.b.label == "b^2_1"
    assert n.activation == "relu"
    assert all(p.op == "" and p.parents == () for p in n.parameters())
    m = Neuron(2, rng=random.Random(0), layer_number=4, index=12)
    assert [w.label for w in m.w] == ["w^4_13,1", "w^4_13,2"]
    assert m.b.label == "b^4_13"
    assert [w.label for w in Neuron(10, rng=random.Random(0), index=8).w][8:] == [
        "w^2_99", "w^2_9,10"]


def test_neuron_refuses_numbers_that_would_mislabel_it() -> None:
    with pytest.raises(ValueError, match="Neuron: index must be an int >= 0, got -1"):
        Neuron(2, index=-1)
    with pytest.raises(ValueError, match=r"layer_number must be an int >= 2 \(layer 1 is the in"):
        Neuron(2, layer_number=1)
    with pytest.raises(TypeError, match="index must be an int"):
        Neuron(2, index=1.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_neuron_output_is_activation_of_one_linear_z_node(activation: str) -> None:
    """``a = sigma(z)`` where ``z`` is ONE engine node with op "linear"."""
    n = Neuron(2, activation, rng=random.Random(1))
    set_parameters(n, [0.5, -2.0, 0.25])
    a = n([3.0, 1.0])
    assert a.op == activation
    (z,) = a.parents
    assert z.op == "linear"
    assert z.data == 0.5 * 3.0 + -2.0 * 1.0 + 0.25
    assert z.parents == (*n.w, n.b)
    expected = {"relu": max(0.0, z.data), "tanh": math.tanh(z.data),
                "sigmoid": 1.0 / (1.0 + math.exp(-z.data))}[activation]
    assert a.data == pytest.approx(expected, rel=1e-15)


def test_linear_neuron_output_is_the_z_node_itself() -> None:
    """For the "linear" activation there is no extra node: a IS z."""
    n = Neuron(2, "linear", rng=random.Random(1))
    set_parameters(n, [1.0, 2.0, 3.0])
    a = n([10.0, 100.0])
    assert a.op == "linear"
    assert a.data == 213.0
    assert a.parents == (*n.w, n.b)


def test_neuron_parameters_and_names_are_w_then_b() -> None:
    n = Neuron(3, rng=random.Random(0))
    assert n.parameters() == [*n.w, n.b]
    assert n.named_parameters() == [("w.0", n.w[0]), ("w.1", n.w[1]), ("w.2", n.w[2]),
                                    ("b", n.b)]
    assert n.num_parameters() == 4
    assert repr(n) == "Neuron(nin=3, activation='relu')"


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"nin": 0}, ValueError, "nin must be an int >= 1, got 0"),
        ({"nin": -3}, ValueError, ">= 1"),
        ({"nin": 2.0}, TypeError, "must be an int"),
        ({"nin": True}, TypeError, "must be an int"),
        ({"nin": 2, "activation": "softmax"}, ValueError, "linear, relu, sigmoid, tanh"),
        ({"nin": 2, "activation": "gelu"}, ValueError, "'gelu'"),
        ({"nin": 2, "init": "zeros"}, ValueError, "he, normal, scaled_normal, uniform, xavier"),
        ({"nin": 2, "activation": 3}, TypeError, "Neuron: activation must be a str.*got int 3"),
        ({"nin": 2, "init": None}, TypeError, "Neuron: init must be a str.*got NoneType None"),
        ({"nin": 2, "rng": 42}, TypeError, "random.Random"),
    ],
)
def test_neuron_rejects_bad_arguments(kwargs: dict[str, Any], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        Neuron(**kwargs)


def test_neuron_with_wrong_input_length_or_type_raises() -> None:
    n = Neuron(2, rng=random.Random(0))
    with pytest.raises(ValueError, match="2 weights but 3 inputs"):
        n([1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="str"):
        n([1.0, "x"])  # type: ignore[list-item]


def test_neuron_without_rng_is_random() -> None:
    """Without an rng each neuron draws fresh weights (uniform(-1, 1): never equal in practice)."""
    assert Neuron(5).state_dict() != Neuron(5).state_dict()


# -- Layer ----------------------------------------------------------------------


def test_layer_outputs_one_activation_per_neuron_equal_to_each_neurons_output() -> None:
    layer = Layer(3, 4, "tanh", rng=random.Random(2), layer_number=3)
    x = [0.1, -0.2, 0.3]
    out = layer(x)
    assert isinstance(out, list) and len(out) == 4
    assert [a.data for a in out] == [n(x).data for n in layer.neurons]
    assert [n.w[2].label for n in layer.neurons] == ["w^3_13", "w^3_23", "w^3_33", "w^3_43"]
    assert repr(layer) == "Layer(nin=3, nout=4, activation='tanh')"


def test_layer_parameters_go_neuron_by_neuron() -> None:
    layer = Layer(2, 2, rng=random.Random(0))
    n0, n1 = layer.neurons
    assert layer.parameters() == [n0.w[0], n0.w[1], n0.b, n1.w[0], n1.w[1], n1.b]
    assert [name for name, _ in layer.named_parameters()] == [
        "neurons.0.w.0", "neurons.0.w.1", "neurons.0.b",
        "neurons.1.w.0", "neurons.1.w.1", "neurons.1.b",
    ]


@pytest.mark.parametrize(
    ("args", "error"),
    [((2, 0), ValueError), ((0, 2), ValueError), ((2, "3"), TypeError),
     ((2, 3, "swish"), ValueError)],
)
def test_layer_rejects_bad_arguments(args: tuple[Any, ...], error: type) -> None:
    with pytest.raises(error):
        Layer(*args)


def test_softmax_layer_outputs_are_positive_and_sum_to_one() -> None:
    """``a_j = exp(z_j) / sum_i exp(z_i)``: a probability distribution over the j."""
    layer = Layer(3, 5, "softmax", rng=random.Random(3))
    assert all(n.activation == "linear" for n in layer.neurons)
    x = [0.3, -1.2, 2.0]
    a = layer(x)
    z = [n(x).data for n in layer.neurons]
    total = sum(math.exp(zj) for zj in z)
    assert math.fsum(aj.data for aj in a) == pytest.approx(1.0, rel=1e-15)
    for aj, zj in zip(a, z, strict=True):
        assert aj.data == pytest.approx(math.exp(zj) / total, rel=1e-13)


def test_softmax_layer_is_stable_for_logits_of_plus_minus_1000() -> None:
    """exp(1000) overflows a float; the max-shifted softmax gives (1, 0, 0) exactly."""
    layer = Layer(1, 3, "softmax", rng=random.Random(0))
    set_parameters(layer, [0.0, 1000.0, 0.0, -1000.0, 0.0, 0.0])  # z = (1000, -1000, 0)
    a = layer([1.0])
    assert [aj.data for aj in a] == [1.0, 0.0, 0.0]
    set_parameters(layer, [0.0, -1000.0, 0.0, -1000.0, 0.0, -999.0])
    a = layer([1.0])
    e = 1.0 / (2.0 + math.e)
    assert [aj.data for aj in a] == pytest.approx([e, e, math.e * e], rel=1e-14)


def test_softmax_with_log_likelihood_has_delta_equal_to_a_minus_y() -> None:
    """Book: softmax output and ``C = -ln a_y`` give ``delta^L = a^L - y``."""
    net = MLP(2, [3, 4], output_activation="softmax", seed=5)
    t = net.trace([0.7, -0.4])
    y = 2
    cost = -t.output[y].log()
    cost.backward()
    for j, (dj, aj) in enumerate(zip(t.delta[-1], t.output, strict=True)):
        assert dj == pytest.approx(aj.data - (1.0 if j == y else 0.0), rel=1e-12, abs=1e-15)


# -- MLP --------------------------------------------------------------------------


def test_mlp_structure_and_indexing_follow_the_book() -> None:
    """The book's w^l_jk (neurons counted from 1) is ``net.layers[l-2].neurons[j-1].w[k-1]``."""
    net = MLP(3, [4, 2], seed=0)
    assert net.sizes == [3, 4, 2]
    assert [len(layer.neurons) for layer in net.layers] == [4, 2]
    assert [len(layer.neurons[0].w) for layer in net.layers] == [3, 4]
    assert net.layers[1].neurons[1].w[3].label == "w^3_24"
    assert net.layers[0].neurons[2].b.label == "b^2_3"
    assert [layer.activation for layer in net.layers] == ["relu", "linear"]
    assert net.num_parameters() == 4 * 4 + 2 * 5


def test_mlp_parameter_order_and_names() -> None:
    """Layer by layer, neuron by neuron, w[0..nin-1] then b; names mirror the attributes."""
    net = MLP(2, [2, 1], seed=0)
    expected = [p for layer in net.layers for n in layer.neurons for p in [*n.w, n.b]]
    assert net.parameters() == expected
    named = net.named_parameters()
    assert [p for _, p in named] == expected
    assert [name for name, _ in named] == [
        "layers.0.neurons.0.w.0", "layers.0.neurons.0.w.1", "layers.0.neurons.0.b",
        "layers.0.neurons.1.w.0", "layers.0.neurons.1.w.1", "layers.0.neurons.1.b",
        "layers.1.neurons.0.w.0", "layers.1.neurons.0.w.1", "layers.1.neurons.0.b",
    ]
    for name, p in named:  # the name is the attribute path
        obj: Any = net
        for part in name.split("."):
            obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
        assert obj is p


def test_mlp_forward_matches_layer_by_layer_arithmetic() -> None:
    """``a^l = sigma(w^l a^{l-1} + b^l)`` computed with plain floats."""
    net = MLP(2, [3, 2], activation="tanh", output_activation="sigmoid", seed=11)
    x = [0.4, -0.9]
    a = x

    def sigmoid(z: float) -> float:
        return 1.0 / (1.0 + math.exp(-z))

    for layer, sigma in zip(net.layers, [math.tanh, sigmoid], strict=True):
        a = [sigma(sum(w.data * ak for w, ak in zip(n.w, a, strict=True)) + n.b.data)
             for n in layer.neurons]
    assert [o.data for o in net(x)] == pytest.approx(a, rel=1e-14)


def test_mlp_returns_a_list_even_for_one_output() -> None:
    out = MLP(2, [1], seed=0)([1.0, 2.0])
    assert isinstance(out, list) and len(out) == 1 and isinstance(out[0], Value)


def test_mlp_accepts_ints_tuples_iterables_and_values() -> None:
    net = MLP(2, [3, 1], activation="tanh", seed=4)
    ref = net([1.0, 0.0])[0].data
    assert net([1, 0])[0].data == ref
    assert net((1.0, 0.0))[0].data == ref
    assert net(v for v in [1.0, 0.0])[0].data == ref
    x = [Value(1.0), Value(0.0)]
    out = net(x)[0]
    assert out.data == ref
    out.backward()  # gradients reach Value inputs
    assert any(xk.grad != 0.0 for xk in x)


@pytest.mark.parametrize(
    ("x", "error", "message"),
    [
        ([1.0], ValueError, "expected 2 inputs, got 1"),
        ([1.0, 2.0, 3.0], ValueError, "expected 2 inputs, got 3"),
        ([1.0, "2"], TypeError, "input 1 is str"),
        ([None, 2.0], TypeError, "input 0 is NoneType"),
        ([True, 2.0], TypeError, "input 0 is bool"),
        ([1.0, math.nan], ValueError, "input 1 is nan"),
        ([math.inf, 1.0], ValueError, "input 0 is inf"),
        ([10**400, 1.0], ValueError, "input 0 is too large"),
        (1.5, TypeError, "sequence of 2 numbers"),
        ("ab", TypeError, "sequence of 2 numbers"),
    ],
)
def test_mlp_rejects_bad_input(x: Any, error: type, message: str) -> None:
    net = MLP(2, [2, 1], seed=0)
    with pytest.raises(error, match=message):
        net(x)
    with pytest.raises(error, match=message):
        net.trace(x)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        ((0, [2]), {}, ValueError, "MLP: nin must be an int >= 1, got 0"),
        ((2, []), {}, TypeError, "non-empty"),
        ((2, 3), {}, TypeError, "non-empty"),
        ((2, "3"), {}, TypeError, "non-empty"),
        ((2, [3, 0]), {}, ValueError, r"nouts\[1\] must be an int >= 1"),
        ((2, [3.0]), {}, TypeError, r"nouts\[0\] must be an int"),
        ((2, [3]), {"activation": "softmax"}, ValueError, "hidden activation"),
        ((2, [3]), {"output_activation": "sofmax"}, ValueError, "linear, relu, sigmoid, softmax"),
        ((2, [3]), {"init": "glorot"}, ValueError, "he, normal, scaled_normal, uniform, xavier"),
        ((2, [3]), {"seed": 1.5}, TypeError, "seed must be an int"),
        ((2, [3]), {"activation": ["relu"]}, TypeError, "MLP: hidden activation must be a str"),
    ],
)
def test_mlp_rejects_bad_arguments(
    args: tuple[Any, ...], kwargs: dict[str, Any], error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        MLP(*args, **kwargs)


def test_mlp_repr_shows_sizes_activations_and_parameter_count() -> None:
    net = MLP(2, [16, 16, 1], seed=0)
    assert repr(net) == (
        "MLP(sizes=[2, 16, 16, 1], activation='relu', output_activation='linear', "
        "parameters=337)"
    )


@pytest.mark.parametrize(
    ("activation", "output"),
    [("sigmoid", "sigmoid"), ("tanh", "linear"), ("relu", "linear"), ("linear", "linear")],
)
def test_mlp_output_layer_defaults_to_sigmoid_after_sigmoid_and_linear_otherwise(
    activation: str, output: str
) -> None:
    """A reader of the book writes MLP(2, [3, 2], activation="sigmoid") and gets the book's
    network, sigmoid throughout; micrograd's ReLU MLP keeps its linear output (a score)."""
    net = MLP(2, [3, 2], activation=activation, seed=0)
    assert net.output_activation == output
    assert [layer.activation for layer in net.layers] == [activation, output]
    assert f"output_activation={output!r}" in repr(net)
    assert MLP(2, [3], activation=activation, seed=0).layers[0].activation == output
    explicit = MLP(2, [3, 2], activation=activation, output_activation="tanh", seed=0)
    assert explicit.output_activation == explicit.layers[-1].activation == "tanh"


def test_weight_and_bias_take_the_books_numbers() -> None:
    """net.weight(l, j, k) is w^l_jk: from neuron k of layer l-1 to neuron j of layer l."""
    net = MLP(2, [3, 2], seed=0)
    w = net.weight(2, 2, 1)  # from neuron 1 of layer 1 to neuron 2 of layer 2
    assert w is net.layers[0].neurons[1].w[0] and w.label == "w^2_21"
    assert net.weight(3, 2, 3) is net.layers[1].neurons[1].w[2]
    assert net.bias(3, 1) is net.layers[1].neurons[0].b and net.bias(3, 1).label == "b^3_1"
    every = [net.weight(layer, j, k) for layer in (2, 3)
             for j in range(1, net.sizes[layer - 1] + 1)
             for k in range(1, net.sizes[layer - 2] + 1)]
    assert every == [w for layer in net.layers for n in layer.neurons for w in n.w]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda net: net.weight(1, 1, 1), ValueError,
         r"l=1 is out of range for w\^l_jk: l runs from 2 to 3 \(layer 1 is the input"),
        (lambda net: net.weight(4, 1, 1), ValueError, "l=4 is out of range"),
        (lambda net: net.weight(2, 0, 1), ValueError,
         r"j=0 is out of range for w\^2_jk: j runs from 1 to 3 \(neurons are numbered from 1"),
        (lambda net: net.weight(2, 1, 3), ValueError,
         r"k=3 is out of range for w\^2_1k: k runs from 1 to 2"),
        (lambda net: net.bias(3, 3), ValueError, r"j=3 is out of range for b\^3_j"),
        (lambda net: net.weight(2.0, 1, 1), TypeError, "l must be an int, got float"),
        (lambda net: net.bias(2, True), TypeError, "j must be an int, got bool"),
    ],
)
def test_weight_and_bias_refuse_numbers_outside_the_network(
    call: Any, error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        call(MLP(2, [3, 2], seed=0))


def test_zero_grad_clears_every_parameter() -> None:
    net = MLP(2, [3, 1], seed=0)
    net([1.0, 2.0])[0].backward()
    assert any(p.grad != 0.0 for p in net.parameters())
    net.zero_grad()
    assert all(p.grad == 0.0 for p in net.parameters())


def test_base_module_has_no_parameters() -> None:
    m = Module()
    assert m.parameters() == [] and m.named_parameters() == [] and m.state_dict() == {}


# -- initialisation -----------------------------------------------------------------


def test_a_seed_gives_identical_networks_and_different_seeds_differ() -> None:
    for init in INITS:
        a = MLP(3, [5, 2], init=init, seed=123)
        b = MLP(3, [5, 2], init=init, seed=123)
        c = MLP(3, [5, 2], init=init, seed=124)
        assert a.state_dict() == b.state_dict()
        assert a.state_dict() != c.state_dict()
    assert MLP(3, [5, 2]).state_dict() != MLP(3, [5, 2]).state_dict()


def _weights_and_biases(layer: Layer) -> tuple[list[float], list[float]]:
    return ([w.data for n in layer.neurons for w in n.w], [n.b.data for n in layer.neurons])


# Sample moments of N = 400 * 100 = 40,000 weights: the sample mean has
# standard deviation sd / 200 and the sample variance var * sqrt(2 / N) ~ var / 141
# (normal) or less (uniform). The bounds below are about 6 standard errors.
NIN, NOUT = 400, 100


@pytest.mark.parametrize(
    ("init", "weight_variance", "bias_variance"),
    [
        ("normal", 1.0, 1.0),
        ("scaled_normal", 1.0 / NIN, 1.0),
        ("uniform", 1.0 / 3.0, 0.0),
        ("xavier", 2.0 / (NIN + NOUT), 0.0),
        ("he", 2.0 / NIN, 0.0),
    ],
)
def test_init_statistics(init: str, weight_variance: float, bias_variance: float) -> None:
    """Each init draws weights with mean 0 and its published variance; biases likewise."""
    layer = Layer(NIN, NOUT, init=init, rng=random.Random(2024))
    w, b = _weights_and_biases(layer)
    sd = math.sqrt(weight_variance)
    assert abs(statistics.fmean(w)) < 6 * sd / math.sqrt(len(w))
    assert statistics.pvariance(w) == pytest.approx(weight_variance, rel=0.045)
    if bias_variance == 0.0:
        assert b == [0.0] * NOUT
    else:  # only 100 biases: a loose check
        assert abs(statistics.fmean(b)) < 0.6
        assert statistics.pvariance(b) == pytest.approx(bias_variance, rel=0.5)


def test_uniform_and_xavier_weights_stay_within_their_bounds() -> None:
    """micrograd's U(-1, 1); Glorot's U(-r, r) with r = sqrt(6 / (fan_in + fan_out))."""
    w, _ = _weights_and_biases(Layer(NIN, NOUT, init="uniform", rng=random.Random(1)))
    assert max(abs(x) for x in w) <= 1.0 and max(abs(x) for x in w) > 0.99
    w, _ = _weights_and_biases(Layer(NIN, NOUT, init="xavier", rng=random.Random(1)))
    r = math.sqrt(6.0 / (NIN + NOUT))
    assert max(abs(x) for x in w) <= r and max(abs(x) for x in w) > 0.99 * r


def test_default_init_is_micrographs_uniform() -> None:
    assert MLP(2, [3], seed=9).state_dict() == MLP(2, [3], init="uniform", seed=9).state_dict()


# -- trace and BP1-BP4 ----------------------------------------------------------------


def test_trace_layout() -> None:
    """a[0] are leaf inputs, z[0] == [], z[l-1][j] is the linear node feeding a[l-1][j]."""
    net = MLP(2, [3, 2], activation="sigmoid", output_activation="linear", seed=7)
    t = net.trace([0.5, -1])
    assert isinstance(t, Trace)
    assert t.z[0] == []
    assert [len(zl) for zl in t.z] == [0, 3, 2]
    assert [len(al) for al in t.a] == [2, 3, 2]
    assert [x.data for x in t.a[0]] == [0.5, -1.0]
    assert all(x.parents == () and x.op == "" for x in t.a[0])
    assert [x.label for x in t.a[0]] == ["a^1_1", "a^1_2"]
    for zj, aj, n in zip(t.z[1], t.a[1], net.layers[0].neurons, strict=True):
        assert zj.op == "linear" and zj.parents == (*n.w, *t.a[0], n.b)
        assert aj.op == "sigmoid" and aj.parents == (zj,)
    assert [zj.label for zj in t.z[1]] == ["z^2_1", "z^2_2", "z^2_3"]
    assert [aj.label for aj in t.a[1]] == ["a^2_1", "a^2_2", "a^2_3"]
    for zj, aj in zip(t.z[2], t.a[2], strict=True):  # linear output: a IS z
        assert aj is zj and zj.op == "linear"
        assert zj.parents[-1].label.startswith("b^3_")
    assert t.z[2][1].label == "z^3_2 = a^3_2"
    assert t.output is t.a[-1]
    assert [o.data for o in t.output] == [o.data for o in net([0.5, -1])]


def test_plain_call_sets_no_labels() -> None:
    """The hot path does no bookkeeping: only trace() labels z and a nodes."""
    out = MLP(2, [3, 1], seed=0)([1.0, 2.0])[0]
    a_hidden = out.parents[3]  # parents: w^3_11..w^3_13, a^2_1..a^2_3, b^3_1
    assert a_hidden.op == "relu" and a_hidden.parents[0].op == "linear"
    assert out.label == a_hidden.label == a_hidden.parents[0].label == ""


def test_trace_uses_value_inputs_as_given_and_keeps_their_labels() -> None:
    x0, x1 = Value(1.0, "x"), Value(2.0)
    t = MLP(2, [1], seed=0).trace([x0, x1])
    assert t.a[0][0] is x0 and t.a[0][1] is x1
    assert x0.label == "x" and x1.label == "a^1_2"


def test_delta_is_z_grad_and_equals_bias_grad_bp3_and_bp4_exactly() -> None:
    """After cost.backward(): delta^l_j = z^l_j.grad = ∂C/∂b^l_j (BP3) and
    ∂C/∂w^l_jk = a^{l-1}_k delta^l_j (BP4), with no rounding difference."""
    net = MLP(3, [4, 3, 2], activation="tanh", output_activation="sigmoid", seed=3)
    t = net.trace([0.2, -0.5, 0.9])
    assert t.delta == [[0.0] * len(zl) for zl in t.z]  # before backward
    quadratic_cost(t.output, [1.0, 0.0]).backward()
    for number in range(2, len(net.sizes) + 1):  # the book's l
        layer = net.layers[number - 2]
        for j, n in enumerate(layer.neurons):
            assert t.delta[number - 1][j] == t.z[number - 1][j].grad
            assert t.delta[number - 1][j] == n.b.grad  # BP3
            for k, w in enumerate(n.w):
                assert w.grad == t.a[number - 2][k].data * t.delta[number - 1][j]  # BP4
    assert any(d != 0.0 for dl in t.delta for d in dl)


def test_delta_satisfies_bp1_and_bp2() -> None:
    """BP1: delta^L = (a^L - y) ⊙ sigma'(z^L);
    BP2: delta^l = ((w^{l+1})^T delta^{l+1}) ⊙ sigma'(z^l)."""
    net = MLP(2, [3, 2], activation="sigmoid", output_activation="sigmoid", seed=8)
    y = [0.0, 1.0]
    t = net.trace([0.3, 0.8])
    quadratic_cost(t.output, y).backward()

    def sigma_prime(z: float) -> float:
        s = 1.0 / (1.0 + math.exp(-z))
        return s * (1.0 - s)

    output = [(a.data - yj) * sigma_prime(z.data) for a, z, yj in zip(t.a[2], t.z[2], y,
                                                                        strict=True)]
    assert t.delta[2] == pytest.approx(output, rel=1e-12)
    hidden = [sum(n.w[k].data * d for n, d in zip(net.layers[1].neurons, t.delta[2],
                                                   strict=True)) * sigma_prime(t.z[1][k].data)
              for k in range(3)]
    assert t.delta[1] == pytest.approx(hidden, rel=1e-12)


def test_input_gradient_is_readable_from_trace() -> None:
    """a[0] are leaves, so ∂C/∂x_k = sum_j w^2_jk delta^2_j is left on them."""
    net = MLP(2, [3, 1], activation="tanh", seed=1)
    t = net.trace([0.1, 0.2])
    t.output[0].backward()
    for k, xk in enumerate(t.a[0]):
        expected = sum(n.w[k].data * d for n, d in zip(net.layers[0].neurons, t.delta[1],
                                                       strict=True))
        assert xk.grad == pytest.approx(expected, rel=1e-14)


def test_trace_accessors_take_the_books_numbers() -> None:
    net = MLP(2, [3, 2], activation="sigmoid", seed=0)
    t = net.trace([0.5, -1.0])
    assert t.net is net
    assert t.a_of(1, 2) is t.a[0][1] and t.a_of(1, 2).label == "a^1_2"
    assert t.z_of(2, 3) is t.z[1][2] and t.z_of(2, 3).label == "z^2_3"
    assert t.a_of(3, 2) is t.output[1]
    quadratic_cost(t.output, [1.0, 0.0]).backward()
    assert t.delta_of(3, 1) == t.z[2][0].grad == t.delta[2][0] != 0.0
    with pytest.raises(ValueError, match=r"l=1 is out of range for z\^l_j: l runs from 2 to 3 "
                                         r"\(layer 1 is the input, which has no z\)"):
        t.z_of(1, 1)
    with pytest.raises(ValueError, match=r"j=0 is out of range for z\^2_j: j runs from 1 to 3"):
        t.delta_of(2, 0)
    with pytest.raises(ValueError, match=r"l=4 is out of range for a\^l_j: l runs from 1 to 3"):
        t.a_of(4, 1)
    with pytest.raises(TypeError, match="j must be an int"):
        t.a_of(1, "1")  # type: ignore[arg-type]


def traced_232() -> tuple[MLP, Trace]:
    net = MLP(2, [3, 2], activation="sigmoid", init="normal", seed=0)
    return net, net.trace([0.5, -1.0])


def test_trace_table_has_a_row_per_number_named_as_in_the_book() -> None:
    """Every a, z, delta, b, ∂C/∂b, w and ∂C/∂w, by its book label, with where it lives."""
    net, t = traced_232()
    quadratic_cost(t.output, [1.0, 0.0]).backward()
    rows = t.table()
    count = {q: sum(1 for r in rows if r.quantity == q)
             for q in ("a", "z", "delta", "b", "dC/db", "w", "dC/dw")}
    assert count == {"a": 7, "z": 5, "delta": 5, "b": 5, "dC/db": 5, "w": 12, "dC/dw": 12}
    assert len(rows) == sum(count.values())
    by_label = {r.label: r for r in rows}
    w = by_label["w^2_21"]  # from neuron 1 of layer 1 to neuron 2 of layer 2
    assert (w.l, w.j, w.k, w.value) == (2, 2, 1, net.layers[0].neurons[1].w[0].data)
    assert w.python == "net.layers[0].neurons[1].w[0].data"
    grad = by_label["∂C/∂w^3_13"]
    assert grad.value == net.layers[1].neurons[0].w[2].grad == t.a[1][2].data * t.delta[2][0]
    delta = by_label["delta^3_2"]
    assert (delta.value, delta.python) == (t.delta[2][1], "trace.delta[2][1]")
    assert by_label["a^1_1"].python == "trace.a[0][0].data"
    assert by_label["∂C/∂b^2_3"].python == "net.layers[0].neurons[2].b.grad"
    namespace = {"net": net, "trace": t}
    for r in rows:  # each row's Python expression gives its value
        assert eval(r.python, namespace) == r.value, r


def test_trace_table_prints_layer_by_layer() -> None:
    net, t = traced_232()
    quadratic_cost(t.output, [1.0, 0.0]).backward()
    text = str(t.table(precision=4))
    assert repr(t.table(precision=4)) == text
    lines = text.splitlines()
    assert lines[0] == f"trace of {net!r}"
    assert "layer 1: input" in lines and "layer 2: sigmoid" in lines
    assert "layer 3: sigmoid (output)" in lines
    assert lines[lines.index("layer 3: sigmoid (output)") + 1].split() == [
        "j", "z^3_j", "a^3_j", "delta^3_j", "b^3_j", "∂C/∂b^3_j"]
    first = lines[lines.index("layer 3: sigmoid (output)") + 2].split()
    assert first == ["1", *(format(v, ".4g") for v in (
        t.z[2][0].data, t.a[2][0].data, t.delta[2][0], net.layers[1].neurons[0].b.data,
        net.layers[1].neurons[0].b.grad))]
    assert ["j", "k", "w^2_jk", "∂C/∂w^2_jk"] in [line.split() for line in lines]
    assert "Note" not in text  # one backward pass from zeroed grads: nothing to warn about
    assert "w^l_jk is net.layers[l-2].neurons[j-1].w[k-1]" in " ".join(text.split())


def test_trace_table_says_when_no_backward_pass_has_run() -> None:
    """Read before backward, every delta and gradient is 0: the table says why."""
    _, t = traced_232()
    assert all(d == 0.0 for layer in t.delta for d in layer)
    text = " ".join(str(t.table()).split())
    assert "Note: every delta is 0" in text and "call cost.backward()" in text


def test_trace_table_says_when_parameter_grads_accumulated() -> None:
    """A second backward pass leaves delta as it was but doubles ∂C/∂b: BP3 seems to fail."""
    net, t = traced_232()
    cost = quadratic_cost(t.output, [1.0, 0.0])
    cost.backward()
    once = t.delta
    cost.backward()
    assert t.delta == once
    assert net.layers[0].neurons[0].b.grad == 2 * once[1][0]
    text = " ".join(str(t.table()).split())
    assert "Note: ∂C/∂b is not delta for 5 of 5 neurons" in text and "net.zero_grad()" in text
    net.zero_grad()
    cost.backward()
    assert "Note" not in str(t.table())


def test_trace_table_prints_negative_zero_as_zero() -> None:
    t = MLP(1, [1], seed=0).trace([-0.0])
    assert math.copysign(1.0, t.a[0][0].data) == -1.0
    assert " -0" not in str(t.table()) and "  1  0" in str(t.table())


def test_trace_without_a_network_tables_z_a_and_delta_only() -> None:
    _, t = traced_232()
    bare = Trace(a=t.a, z=t.z)
    assert {r.quantity for r in bare.table()} == {"a", "z", "delta"}
    assert "∂C/∂b" not in str(bare.table())


def test_trace_table_refuses_a_bad_precision() -> None:
    _, t = traced_232()
    with pytest.raises(ValueError, match="precision must be an int >= 1"):
        t.table(precision=0)


def test_the_module_docstring_examples_run() -> None:
    import doctest

    result = doctest.testmod(nn)
    assert result.attempted > 10 and result.failed == 0


# -- hypothesis: the fused linear node against * and + ----------------------------------

finite = st.floats(min_value=-10.0, max_value=10.0, allow_nan=False)
an_input = st.one_of(finite, st.integers(min_value=-10, max_value=10),
                     finite.map(lambda v: ("value", v)))


@given(
    data=st.data(),
    nin=st.integers(min_value=1, max_value=8),
    activation=st.sampled_from(["linear", "relu", "tanh", "sigmoid"]),
)
def test_neuron_z_and_gradients_equal_the_expression_with_times_and_plus(
    data: st.DataObject, nin: int, activation: str
) -> None:
    """Neuron's z (one linear node) and all grads equal those of ``w_0*x_0 + ... + b``.

    Within rel 1e-12, not exactly: both add the same products, `linear` starting from
    ``b`` and (from Python 3.12) with the built-in ``sum``'s compensated summation.

    Inputs mix floats, ints and Values; the comparison expression uses
    separate leaves so neither graph shares a node with the other.
    """
    n = Neuron(nin, activation, rng=random.Random(0))
    weights = data.draw(st.lists(finite, min_size=nin, max_size=nin))
    bias = data.draw(finite)
    set_parameters(n, [*weights, bias])
    raw = data.draw(st.lists(an_input, min_size=nin, max_size=nin))
    x = [Value(r[1]) if isinstance(r, tuple) else r for r in raw]
    x_ref = [Value(r[1]) if isinstance(r, tuple) else r for r in raw]
    w_ref = [Value(w) for w in weights]
    b_ref = Value(bias)

    a = n(x)
    z = a if activation == "linear" else a.parents[0]
    assert z.op == "linear"
    z_ref: Any = 0.0
    for wk, xk in zip(w_ref, x_ref, strict=True):
        z_ref = z_ref + wk * xk
    z_ref = z_ref + b_ref
    a_ref = z_ref if activation == "linear" else getattr(z_ref, activation)()
    scale = sum(abs(w * (r[1] if isinstance(r, tuple) else r))
                for w, r in zip(weights, raw, strict=True)) + abs(bias)
    tol = 1e-12 * scale
    assert z.data == pytest.approx(z_ref.data, rel=1e-12, abs=tol)

    (a * a).backward()  # any cost: gradients go through a and z to everything
    (a_ref * a_ref).backward()
    assert z.grad == pytest.approx(z_ref.grad, rel=1e-12, abs=1e-300)
    assert n.b.grad == pytest.approx(b_ref.grad, rel=1e-12, abs=1e-300)
    for wk, wk_ref in zip(n.w, w_ref, strict=True):
        assert wk.grad == pytest.approx(wk_ref.grad, rel=1e-12, abs=1e-300)
    for xk, xk_ref in zip(x, x_ref, strict=True):
        if isinstance(xk, Value):
            assert isinstance(xk_ref, Value)
            assert xk.grad == pytest.approx(xk_ref.grad, rel=1e-12, abs=1e-300)


@given(w0=finite, w1=finite, b=finite, v=finite)
def test_a_value_used_twice_as_input_gets_both_contributions(
    w0: float, w1: float, b: float, v: float
) -> None:
    """``z = w0 x + w1 x + b`` gives ``∂z/∂x = w0 + w1``: both edges count."""
    n = Neuron(2, "linear", rng=random.Random(0))
    set_parameters(n, [w0, w1, b])
    x = Value(v)
    z = n([x, x])
    z.backward()
    assert x.grad == w0 + w1
    assert n.w[0].grad == v and n.w[1].grad == v and n.b.grad == 1.0


# -- state dicts ------------------------------------------------------------------------


def test_state_dict_round_trip_copies_values() -> None:
    a, b = MLP(2, [3, 1], seed=1), MLP(2, [3, 1], seed=2)
    state = a.state_dict()
    assert list(state) == [name for name, _ in a.named_parameters()]
    b.load_state_dict(state)
    assert b.state_dict() == state
    assert [o.data for o in b([0.3, 0.4])] == [o.data for o in a([0.3, 0.4])]
    a.parameters()[0].data += 1.0  # a copy: later changes do not leak into b
    assert b.parameters()[0].data == state["layers.0.neurons.0.w.0"]


@pytest.mark.parametrize(
    ("edit", "error", "message"),
    [
        (lambda s: s.pop("layers.1.neurons.0.b"), ValueError, "missing"),
        (lambda s: s.update({"layers.9.neurons.0.b": 1.0}), ValueError, "unexpected"),
        (lambda s: s.update({"layers.0.neurons.0.b": "1"}), TypeError,
         "load_state_dict: layers.0.neurons.0.b must be a real number, got str '1'"),
        (lambda s: s.update({"layers.0.neurons.0.b": True}), TypeError,
         "layers.0.neurons.0.b must be a real number, got bool"),
        (lambda s: s.update({"layers.0.neurons.0.b": math.nan}), ValueError,
         "layers.0.neurons.0.b must be a finite number, got nan"),
        (lambda s: s.update({"layers.0.neurons.0.w.1": -math.inf}), ValueError,
         "must be a finite number"),
        (lambda s: s.update({"layers.1.neurons.0.w.2": 10**400}), ValueError,
         "w.2 must be a finite number, got 1000"),
    ],
)
def test_load_state_dict_rejects_mismatches_and_changes_nothing(
    edit: Any, error: type[Exception], message: str
) -> None:
    net = MLP(2, [3, 1], seed=1)
    before = net.state_dict()
    state = {name: v + 1.0 for name, v in before.items()}
    edit(state)
    with pytest.raises(error, match=message):
        net.load_state_dict(state)
    assert net.state_dict() == before


def test_load_state_dict_rejects_a_non_mapping() -> None:
    with pytest.raises(TypeError, match="state must be a mapping of names to numbers, got list"):
        MLP(2, [1], seed=0).load_state_dict([1.0, 2.0, 3.0])  # type: ignore[arg-type]


# -- model files ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("nouts", "activation", "output_activation", "init"),
    [([3, 1], "relu", "linear", "uniform"), ([4, 4, 3], "tanh", "softmax", "normal"),
     ([1], "sigmoid", "sigmoid", "he")],
)
def test_save_load_round_trip_is_bit_exact(
    tmp_path: Path, nouts: list[int], activation: str, output_activation: str, init: str
) -> None:
    net = MLP(2, nouts, activation, output_activation, init=init, seed=42)
    net.parameters()[0].data = 0.1 + 0.2  # a float needing all 17 digits
    net.parameters()[-1].data = 5e-324  # the smallest subnormal
    path = tmp_path / "net.json"
    net.save(path)
    loaded = MLP.load(path)
    assert loaded.sizes == net.sizes
    assert (loaded.activation, loaded.output_activation) == (activation, output_activation)
    assert (net.init, net.seed) == (init, 42)
    assert (loaded.init, loaded.seed) == (None, None)  # the weights came from the file
    assert [p.data.hex() for p in loaded.parameters()] == [p.data.hex() for p in net.parameters()]
    assert [p.label for p in loaded.parameters()] == [p.label for p in net.parameters()]
    assert [o.data for o in loaded([0.5, -0.5])] == [o.data for o in net([0.5, -0.5])]
    assert MLP.load(str(path)).state_dict() == net.state_dict()  # str paths too
    assert os.listdir(tmp_path) == ["net.json"]  # no temporary files left behind


def test_model_file_is_the_documented_json(tmp_path: Path) -> None:
    net = MLP(2, [2, 1], seed=0)
    net.save(tmp_path / "m.json")
    doc = json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))
    assert doc["format"] == "microgrid.mlp" and doc["version"] == 1
    assert doc["sizes"] == [2, 2, 1]
    assert doc["activation"] == "relu" and doc["output_activation"] == "linear"
    n = net.layers[0].neurons[1]
    assert doc["layers"][0]["w"][1] == [n.w[0].data, n.w[1].data]
    assert doc["layers"][0]["b"][1] == n.b.data
    assert set(doc) == {"format", "version", "sizes", "activation", "output_activation",
                        "layers"}
    assert net.to_document() == doc
    assert MLP.from_document(doc).state_dict() == net.state_dict()


def test_save_refuses_non_finite_parameters_and_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    net = MLP(2, [2, 1], seed=0)
    net.save(path)
    before = path.read_bytes()
    net.layers[1].neurons[0].w[1].data = math.inf
    with pytest.raises(ValueError, match=r"layers\[1\]\.w\[0\]\[1\] \(w\^3_12\)"):
        net.save(path)
    assert path.read_bytes() == before


def test_interrupted_save_leaves_the_previous_file_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that dies half-way (disk full, Ctrl-C) never touches the old file.
    (A save killed with SIGKILL: tests/test_files.py.)"""
    path = tmp_path / "m.json"
    old = MLP(2, [3, 1], seed=1)
    old.save(path)
    before = path.read_bytes()

    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)  # the new content is written, not yet synced
    with pytest.raises(KeyboardInterrupt):
        MLP(2, [3, 1], seed=2).save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.json"]

    def no_rename(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", no_rename)
    with pytest.raises(OSError, match=r"cannot write '.*m\.json': No space left") as e:
        MLP(2, [3, 1], seed=2).save(path)
    monkeypatch.undo()
    assert ".tmp" not in str(e.value)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.json"]
    assert MLP.load(path).state_dict() == old.state_dict()


_SAVER = """
import sys
from microgrid import MLP
nets = [MLP(50, [50, 10], seed=seed) for seed in (1, 2)]
print("saving", flush=True)
for i in range(10**9):
    nets[i % 2].save(sys.argv[1])
"""


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_a_save_killed_at_any_moment_leaves_a_complete_model(tmp_path: Path) -> None:
    """kill -9 at random moments of repeated saves: the file always loads, as one of the
    two networks exactly (the old or the complete new one)."""
    path = tmp_path / "m.json"
    nets = [MLP(50, [50, 10], seed=seed) for seed in (1, 2)]
    nets[0].save(path)
    rng = random.Random(0)
    for _ in range(3):
        child = subprocess.Popen([sys.executable, "-c", _SAVER, str(path)],
                                 stdout=subprocess.PIPE)
        assert child.stdout is not None and child.stdout.readline() == b"saving\n"
        time.sleep(rng.uniform(0.05, 0.3))
        child.kill()
        child.wait()
        assert child.returncode == -signal.SIGKILL
        assert MLP.load(path).state_dict() in [net.state_dict() for net in nets]


def test_save_keeps_an_existing_files_permissions(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    net = MLP(2, [1], seed=0)
    net.save(path)
    os.chmod(path, 0o600)
    net.save(path)
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_load_of_a_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        MLP.load(tmp_path / "nope.json")


def _valid_document() -> dict[str, Any]:
    return MLP(2, [3, 2], activation="tanh", seed=0).to_document()


def _load_text(tmp_path: Path, text: str | bytes) -> MLP:
    path = tmp_path / "bad.json"
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return MLP.load(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"", "not valid JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b"[1, 2]", "expected a JSON object"),
        (b'{"format": "microgrid.mlp"}', "missing keys: version"),
    ],
)
def test_load_rejects_files_that_are_not_model_json(
    tmp_path: Path, text: bytes, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        _load_text(tmp_path, text)


def test_load_rejects_oversized_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "m.json"
    MLP(2, [3, 1], seed=0).save(path)
    monkeypatch.setattr(nn, "MAX_FILE_BYTES", os.path.getsize(path) - 1)
    with pytest.raises(ValueError, match="larger than"):
        MLP.load(path, max_parameters=1)  # else the cap is 64 bytes per allowed parameter


def _set(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    target: Any = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("format",), "microgrid.cnn", "format is 'microgrid.cnn'"),
        (("version",), 2, "unsupported version 2"),
        (("version",), "1", "unsupported version '1'"),
        (("version",), True, "unsupported version True"),
        (("sizes",), [2], "sizes must be a list"),
        (("sizes", 1), 10**9, r"sizes\[1\] is 1000000000"),
        (("sizes", 0), 0, r"sizes\[0\] is 0"),
        (("sizes", 0), 2.0, r"sizes\[0\] is 2.0"),
        (("activation",), "softmax", "activation 'softmax'"),
        (("output_activation",), None, "output_activation None"),
        (("layers",), {}, "layers must be a list of 2"),
        (("layers", 0), [], r"layers\[0\] must be an object"),
        (("layers", 0, "w"), [[0.0, 0.0]] * 2, r"layers\[0\]\.w must be a list of 3 rows"),
        (("layers", 0, "w", 2), [0.0], r"layers\[0\]\.w\[2\] must be a list of 2"),
        (("layers", 1, "w", 0, 1), "0.5", r"layers\[1\]\.w\[0\]\[1\]: expected a number"),
        (("layers", 1, "w", 0, 1), None, r"layers\[1\]\.w\[0\]\[1\]: expected a number"),
        (("layers", 1, "b"), [1.0], r"layers\[1\]\.b must be a list of 2"),
        (("layers", 1, "b", 1), False, r"layers\[1\]\.b\[1\]: expected a number"),
        (("layers", 1, "b", 1), 10**400, "too large"),
    ],
)
def test_load_names_what_is_wrong(tmp_path: Path, path: tuple[Any, ...], value: Any,
                                  message: str) -> None:
    doc = _valid_document()
    _set(doc, path, value)
    with pytest.raises(ValueError, match=message):
        _load_text(tmp_path, json.dumps(doc))
    with pytest.raises(ValueError, match=message):
        MLP.from_document(doc)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400", "-1e999"])
def test_load_rejects_non_finite_numbers(tmp_path: Path, literal: str) -> None:
    doc = _valid_document()
    doc["layers"][0]["b"][1] = "__X__"
    with pytest.raises(ValueError, match="finite"):
        _load_text(tmp_path, json.dumps(doc).replace('"__X__"', literal))


def test_load_checks_the_parameter_count_before_building_anything() -> None:
    """A file claiming sizes [4000, 4000, 4000] (32 million parameters; 61 MB of zeros fits
    under the byte cap and took minutes and gigabytes to build) is refused by its sizes,
    before its layers are even read, naming the keyword that raises the limit."""
    doc = _valid_document()
    doc["sizes"], doc["layers"] = [4000, 4000, 4000], "not read"
    with pytest.raises(ValueError, match=r"sizes \[4000, 4000, 4000\] make 32,008,000 "
                                         r"parameters.*max_parameters=1,048,576"):
        MLP.from_document(doc)
    assert nn.MAX_PARAMETERS == 2**20


def test_the_parameter_limit_can_be_raised(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    net = MLP(2, [3, 1], seed=0)  # 13 parameters
    net.save(path)
    with pytest.raises(ValueError, match=r"13 parameters, more than max_parameters=12; .*"
                                         r"MLP.load\(path, max_parameters=13\)"):
        MLP.load(path, max_parameters=12)
    assert MLP.load(path, max_parameters=13).state_dict() == net.state_dict()
    with pytest.raises(ValueError, match="max_parameters=12"):
        MLP.from_document(net.to_document(), max_parameters=12)
    with pytest.raises(TypeError, match="max_parameters must be an int"):
        MLP.load(path, max_parameters=1e6)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_parameters must be an int >= 1"):
        MLP.load(path, max_parameters=0)


def test_raising_the_parameter_limit_raises_the_byte_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file may hold 64 bytes per allowed parameter (or MAX_FILE_BYTES if more), so a
    larger limit is never defeated by the byte cap."""
    path = tmp_path / "m.json"
    net = MLP(2, [3, 1], seed=0)
    net.save(path)
    monkeypatch.setattr(nn, "MAX_FILE_BYTES", 100)
    with pytest.raises(ValueError, match=r"larger than 100 bytes.*max_parameters"):
        MLP.load(path, max_parameters=1)
    assert os.path.getsize(path) <= 64 * 13
    assert MLP.load(path, max_parameters=13).state_dict() == net.state_dict()


def test_a_gigantic_number_is_quoted_short(tmp_path: Path) -> None:
    """A 4,000-digit weight (a valid JSON number) gave a 4,000-character message."""
    doc = _valid_document()
    doc["layers"][0]["w"][1][0] = 10**3999
    for load in (lambda: _load_text(tmp_path, json.dumps(doc)), lambda: MLP.from_document(doc)):
        with pytest.raises(ValueError, match=r"layers\[0\]\.w\[1\]\[0\]: 1000.*too large") as e:
            load()
        assert len(str(e.value)) < 200
    doc = _valid_document()
    doc["activation"] = "x" * 100_000
    doc["sizes"] = [2] * 1000
    doc["extra" * 1000] = 1
    for key in ("activation", "sizes", "extra"):
        broken = _valid_document()
        broken[key if key != "extra" else "extra" * 1000] = doc[key if key != "extra" else
                                                                "extra" * 1000]
        with pytest.raises(ValueError) as e:
            MLP.from_document(broken)
        assert len(str(e.value)) < 200, key


def _finishes(fn: Any, seconds: float, unblock: Path) -> Any:
    """fn()'s result or exception, or a failure if it is still running after ``seconds``
    (then the named pipe ``unblock`` is opened for writing, which frees it)."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(fn())
        except BaseException as e:
            outcome.append(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        os.close(os.open(unblock, os.O_WRONLY))
        thread.join()
        pytest.fail(f"still blocked after {seconds} s")
    return outcome[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_load_refuses_a_named_pipe_without_waiting_on_it(tmp_path: Path) -> None:
    pipe = tmp_path / "model.json"
    os.mkfifo(pipe)
    error = _finishes(lambda: MLP.load(pipe), 5.0, pipe)
    assert isinstance(error, ValueError)
    assert "is a named pipe, not a regular file" in str(error)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_load_refuses_a_device() -> None:
    with pytest.raises(ValueError, match="'/dev/zero' is a character device, not a regular"):
        MLP.load("/dev/zero")


def test_load_of_a_folder_raises_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError, match="it is a folder"):
        MLP.load(tmp_path)


def test_save_refuses_a_read_only_file_as_cp_does(tmp_path: Path) -> None:
    """A 0444 file was silently replaced (even by root, for whom os.access allows it)."""
    path = tmp_path / "m.json"
    MLP(2, [1], seed=0).save(path)
    before = path.read_bytes()
    path.chmod(0o444)
    with pytest.raises(PermissionError, match=r"cannot write '.*m\.json': the file is "
                                             r"read-only \(mode 444\)"):
        MLP(2, [1], seed=1).save(path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["m.json"]


def test_save_into_a_read_only_folder_names_the_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The error named our temporary file ('.m.json.x1y2.tmp'), which the user never asked for."""
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    if os.geteuid() == 0:  # root creates files anywhere: fail as the kernel does for others
        real_open = os.open

        def refuse(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
            if flags & os.O_CREAT and Path(path).parent == folder:
                raise PermissionError(13, "Permission denied", os.fspath(path))
            return real_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(PermissionError) as e:
        MLP(2, [1], seed=0).save(folder / "m.json")
    monkeypatch.undo()
    assert f"cannot write {str(folder / 'm.json')!r}: Permission denied" in str(e.value)
    assert ".tmp" not in str(e.value)
    assert os.listdir(folder) == []


def test_save_refuses_an_empty_path_and_a_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """save("") made its temporary file in the parent of the working folder."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    with pytest.raises(ValueError, match="empty path"):
        MLP(2, [1], seed=0).save("")
    with pytest.raises(IsADirectoryError, match="it is a folder"):
        MLP(2, [1], seed=0).save(tmp_path)
    with pytest.raises(IsADirectoryError, match="names a folder"):
        MLP(2, [1], seed=0).save("m.json/")
    with pytest.raises(FileNotFoundError, match="there is no folder 'nope'"):
        MLP(2, [1], seed=0).save("nope/m.json")
    assert sorted(os.listdir(tmp_path)) == ["work"] and os.listdir(work) == []


# -- hypothesis: corrupted model files ---------------------------------------------------

_hostile_values = st.one_of(
    st.none(), st.booleans(), st.text(max_size=5), st.just({}), st.just([]),
    st.integers(min_value=-(2**53), max_value=2**53),  # exact as floats
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key/index path into the document (iterative, so no recursion)."""
    out: list[tuple[Any, ...]] = []
    stack = [(doc, prefix)]
    while stack:
        node, at = stack.pop()
        if isinstance(node, dict):
            children: Any = node.items()
        elif isinstance(node, list):
            children = enumerate(node)
        else:
            continue
        for key, child in children:
            out.append((*at, key))
            stack.append((child, (*at, key)))
    return sorted(out, key=repr)


_PATHS = _paths(_valid_document())


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


@given(cut=st.integers(min_value=0, max_value=10_000))
def test_truncated_files_get_a_clean_value_error(tmp_path_factory: Any, cut: int) -> None:
    text = json.dumps(_valid_document())
    assume(cut < len(text))
    with pytest.raises(ValueError, match="not valid JSON"):
        _load_text(tmp_path_factory.mktemp("t"), text[:cut])


@given(
    path=st.sampled_from(_PATHS),
    corruption=st.sampled_from(["delete", "wrap", "replace", "non-finite", "extra-key"]),
    value=_hostile_values,
    literal=st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400"]),
)
def test_corrupted_files_get_a_clean_value_error(
    tmp_path_factory: Any, path: tuple[Any, ...], corruption: str, value: Any, literal: str
) -> None:
    """Any one corruption of a valid file either loads as exactly what it says or raises
    ValueError; deletions, extra nesting, extra keys and non-finite numbers always raise."""
    doc = _valid_document()
    parent = _get(doc, path[:-1])
    key = path[-1]
    marker = "__NON_FINITE__"
    if corruption == "delete":
        del parent[key]
    elif corruption == "wrap":
        parent[key] = [parent[key]]
    elif corruption == "replace":
        parent[key] = value
    elif corruption == "non-finite":
        parent[key] = marker
    else:
        target = parent[key] if isinstance(parent[key], dict) else parent
        if not isinstance(target, dict):
            target = doc
        target["extra"] = value
    text = json.dumps(doc).replace(f'"{marker}"', literal)
    directory = tmp_path_factory.mktemp("c")
    if corruption == "replace":
        try:
            net = _load_text(directory, text)
        except ValueError:
            return
        # It loaded: then the replacement was valid, and the net says exactly what the file does.
        assert net.to_document() == json.loads(text)
        return
    with pytest.raises(ValueError):
        _load_text(directory, text)


@given(st.recursive(_hostile_values, lambda kids: st.one_of(
    st.lists(kids, max_size=4), st.dictionaries(st.text(max_size=6), kids, max_size=4))))
def test_arbitrary_json_gets_a_clean_value_error(tmp_path_factory: Any, document: Any) -> None:
    with pytest.raises(ValueError):
        _load_text(tmp_path_factory.mktemp("a"), json.dumps(document))


@given(st.binary(max_size=200))
def test_arbitrary_bytes_get_a_clean_value_error(tmp_path_factory: Any, raw: bytes) -> None:
    with pytest.raises(ValueError):
        _load_text(tmp_path_factory.mktemp("b"), raw)


# -- a small end-to-end check -----------------------------------------------------------


def test_a_few_sgd_steps_on_xor_lower_the_quadratic_cost() -> None:
    """Hand-written gradient descent ``p -= eta * ∂C/∂p`` on the four XOR points lowers
    the mean quadratic cost at every step (small steps on a smooth cost)."""
    net = MLP(2, [4, 1], activation="tanh", output_activation="sigmoid", init="xavier", seed=0)
    data = [([0.0, 0.0], 0.0), ([0.0, 1.0], 1.0), ([1.0, 0.0], 1.0), ([1.0, 1.0], 0.0)]

    def cost() -> Value:
        return sum_of([quadratic_cost(net(x), [y]) for x, y in data]) / len(data)

    costs = []
    for _ in range(20):
        net.zero_grad()
        c = cost()
        c.backward()
        costs.append(c.data)
        for p in net.parameters():
            p.data -= 2.0 * p.grad
    costs.append(cost().data)
    assert all(after < before for before, after in itertools.pairwise(costs))  # each step helps
    assert costs[-1] < costs[0]
