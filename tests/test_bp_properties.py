"""Property tests: BP1-BP4 fall out of the autodiff engine, for random networks.

For networks of depth 1-4 and widths 1-6, hidden activations sigmoid, tanh,
relu and linear, and the three costs (quadratic with any output
activation, cross-entropy with sigmoid outputs, log-likelihood with a
softmax layer), the engine's gradients after ``cost.backward()`` are checked
against the textbook algorithm in `microgrid.backprop` (plain floats, no
engine code) and, where the identity is a single multiplication on the
graph, against the graph itself. Notation as in BACKPROP.md: ``z^l``,
``a^l``, ``delta^l = ∂C/∂z^l``, ``w^l_jk`` from neuron k to neuron j.

Tolerance: relative 1e-9, with an absolute floor of 1e-12 times
``1 + G``, G the largest gradient of the network. Why this is safe (it
cannot hide a wrong formula): both sides evaluate the same sums of
products of the same numbers and differ only in the order of summation
(and `math.fsum` on the closed-form side), so they differ by float
rounding, a relative 1e-16 per operation, compounding over at most a few
dozen operations on this size of network: measured, the worst relative
difference is about 1e-12. A wrong formula (a missing ``sigma'``, a
transposed ``w``, a dropped term) changes gradients by a relative O(1).
Where the result is 0 or tiny by cancellation (a dead ReLU, ``a = y``),
relative error is meaningless and the rounding error scales with the
terms summed, which are bounded by the network's largest gradient times
its weights; hence the floor. Identities that are one multiplication on
the graph (``z.grad == b.grad``, ``w.grad == a^{l-1}_k * z^l_j.grad``) are
asserted exactly.

ReLU kinks: both the engine and the closed form use ``relu'(0) = 0`` (so
does PyTorch), so a ``z`` exactly at 0 (zero biases with a zero input)
gives exactly the same numbers on both sides: such draws are kept, not
avoided.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import assume, given, note
from hypothesis import strategies as st

from microgrid import losses
from microgrid.backprop import (
    Network,
    backprop,
    feedforward,
    mini_batch_gradients,
    sigma_prime,
    update_mini_batch,
)
from microgrid.engine import Value
from microgrid.nn import MLP, Trace
from microgrid.optim import SGD
from microgrid.strategies import examples_for, networks

RTOL = 1e-9
ABS_FLOOR = 1e-12

OUTPUTS = {
    "quadratic": ("sigmoid", "tanh", "relu", "linear", "softmax"),
    "cross_entropy": ("sigmoid",),
    "log_likelihood": ("softmax",),
}


@dataclass
class Problem:
    net: MLP
    cost: str
    batch: list[tuple[list[float], list[float]]]

    @property
    def x(self) -> list[float]:
        return self.batch[0][0]

    @property
    def y(self) -> list[float]:
        return self.batch[0][1]


def _defined(net: MLP, cost: str, x: list[float], y: list[float]) -> bool:
    """Whether the cost is finite: no output saturated at exactly 0 or 1 where a log needs it."""
    _, a = feedforward(Network.from_mlp(net), x)
    out = a[-1]
    if cost == "cross_entropy":
        return all(0.0 < aj < 1.0 for aj in out)
    if cost == "log_likelihood":
        a_y = out[y.index(1.0)]
        return a_y > 0.0 and math.isfinite(1.0 / a_y)
    return True


@st.composite
def problems(draw: Any, batch_size: int = 1) -> Problem:
    cost = draw(st.sampled_from(tuple(OUTPUTS)))
    net = draw(networks(output_activations=OUTPUTS[cost]))
    batch = [draw(examples_for(net, cost)) for _ in range(batch_size)]
    note(f"net seed={net.seed} init={net.init} {net!r}; cost={cost}")
    for x, y in batch:
        assume(_defined(net, cost, x, y))
    return Problem(net, cost, batch)


def engine_pass(net: MLP, cost: str, x: list[float], y: list[float]) -> tuple[Trace, Value]:
    """``trace = net.trace(x)``; ``C = cost(a^L, y)``; ``C.backward()`` on zeroed grads."""
    net.zero_grad()
    trace = net.trace(x)
    c = losses.get_loss(cost)(trace.output, y)
    c.backward()
    return trace, c


def largest_gradient(net: MLP, trace: Trace | None = None) -> float:
    grads = [abs(p.grad) for p in net.parameters()]
    if trace is not None:
        grads += [abs(v.grad) for layer in trace.a for v in layer]
    return max(grads, default=0.0)


def close(a: float, b: float, scale: float) -> bool:
    """``|a - b| <= 1e-9 max(|a|, |b|) + 1e-12 (1 + scale)`` (see the module docstring)."""
    return abs(a - b) <= RTOL * max(abs(a), abs(b)) + ABS_FLOOR * (1.0 + scale)


def assert_close(a: float, b: float, scale: float, what: str) -> None:
    assert close(a, b, scale), f"{what}: {a!r} != {b!r} (diff {abs(a - b):.3g})"


def layers_of(net: MLP) -> list[tuple[int, Any]]:
    """``(l, layer)`` for l = 2..L, the book's layer numbers."""
    return [(i + 2, layer) for i, layer in enumerate(net.layers)]


# -- BP3, BP4 and delta ------------------------------------------------------


@given(problems())
def test_bp3_every_bias_grad_equals_closed_form_delta(p: Problem) -> None:
    """BP3: ∂C/∂b^l_j = delta^l_j — every b.grad equals the closed form's delta."""
    engine_pass(p.net, p.cost, p.x, p.y)
    closed = backprop(p.net, p.x, p.y, p.cost)
    g = largest_gradient(p.net)
    for l, layer in layers_of(p.net):  # noqa: E741 - the book's layer number
        for j, neuron in enumerate(layer.neurons):
            assert_close(neuron.b.grad, closed.delta[l - 1][j], g, f"b^{l}_{j}")


@given(problems())
def test_bp4_every_weight_grad_equals_a_times_delta(p: Problem) -> None:
    """BP4: ∂C/∂w^l_jk = a^{l-1}_k delta^l_j — against the closed form, and exactly on the graph."""
    trace, _ = engine_pass(p.net, p.cost, p.x, p.y)
    closed = backprop(p.net, p.x, p.y, p.cost)
    g = largest_gradient(p.net)
    for l, layer in layers_of(p.net):  # noqa: E741 - the book's layer number
        for j, neuron in enumerate(layer.neurons):
            for k, w in enumerate(neuron.w):
                a_k = closed.a[l - 2][k]
                assert_close(w.grad, a_k * closed.delta[l - 1][j], g, f"w^{l}_{j}{k}")
                # On the graph: the edge w -> z has local derivative a^{l-1}_k.
                assert w.grad == trace.a[l - 2][k].data * trace.z[l - 1][j].grad


@given(problems())
def test_z_grad_is_delta_and_equals_its_bias_grad_exactly(p: Problem) -> None:
    """delta^l_j = ∂C/∂z^l_j: z.grad equals the closed-form delta, and its b.grad exactly.

    Exactly, because the edge b -> z has local derivative 1 (BP3).
    """
    trace, _ = engine_pass(p.net, p.cost, p.x, p.y)
    closed = backprop(p.net, p.x, p.y, p.cost)
    g = largest_gradient(p.net)
    assert trace.delta[0] == []
    for l, layer in layers_of(p.net):  # noqa: E741 - the book's layer number
        for j, neuron in enumerate(layer.neurons):
            z = trace.z[l - 1][j]
            assert trace.delta[l - 1][j] == z.grad
            assert_close(z.grad, closed.delta[l - 1][j], g, f"z^{l}_{j}")
            assert z.grad == neuron.b.grad


# -- BP1 and BP2 on the graph itself --------------------------------------------


@given(problems())
def test_bp1_holds_on_the_graph(p: Problem) -> None:
    """BP1: delta^L = grad_a C ⊙ sigma'(z^L) on the graph: z^L.grad == a^L.grad * sigma'(z^L).

    For a softmax output layer the Hadamard product becomes the Jacobian
    product: z_j.grad == sum_i a_i.grad * a_i (1[i=j] - a_j).
    """
    trace, _ = engine_pass(p.net, p.cost, p.x, p.y)
    z_L, a_L = trace.z[-1], trace.a[-1]
    activation = p.net.layers[-1].activation
    g = largest_gradient(p.net, trace)
    for j, zj in enumerate(z_L):
        if activation == "softmax":
            expected = math.fsum(
                ai.grad * ai.data * ((1.0 if i == j else 0.0) - a_L[j].data)
                for i, ai in enumerate(a_L)
            )
        else:
            expected = a_L[j].grad * sigma_prime(activation, zj.data)
        assert_close(zj.grad, expected, g, f"z^L_{j}")


@given(problems())
def test_bp2_holds_on_the_graph(p: Problem) -> None:
    """BP2 on the graph, in its two steps: delta^l = ((w^{l+1})^T delta^{l+1}) ⊙ sigma'(z^l).

    a^l_k.grad == sum_j w^{l+1}_jk z^{l+1}_j.grad, then z^l.grad == a^l.grad * sigma'(z^l).
    """
    trace, _ = engine_pass(p.net, p.cost, p.x, p.y)
    g = largest_gradient(p.net, trace)
    L = len(trace.z)
    for l in range(1, L):  # noqa: E741 - layer 1 is the input: ∂C/∂x is (w^2)^T delta^2
        next_layer = p.net.layers[l - 1]  # holds w^{l+1}
        for k, a_k in enumerate(trace.a[l - 1]):
            expected = math.fsum(
                n.w[k].data * trace.z[l][j].grad for j, n in enumerate(next_layer.neurons)
            )
            assert_close(a_k.grad, expected, g, f"a^{l}_{k}")
        if l >= 2:
            activation = p.net.layers[l - 2].activation
            for k, z_k in enumerate(trace.z[l - 1]):
                expected = trace.a[l - 1][k].grad * sigma_prime(activation, z_k.data)
                assert_close(z_k.grad, expected, g, f"z^{l}_{k}")


@given(problems())
def test_input_grads_equal_w2_transpose_delta2(p: Problem) -> None:
    """∂C/∂x_k = sum_j w^2_jk delta^2_j, i.e. (w^2)^T delta^2 from the closed form."""
    trace, _ = engine_pass(p.net, p.cost, p.x, p.y)
    closed = backprop(p.net, p.x, p.y, p.cost)
    g = largest_gradient(p.net, trace)
    for k, x_k in enumerate(trace.a[0]):
        assert_close(x_k.grad, closed.nabla_x[k], g, f"x_{k}")


@given(problems().filter(lambda p: p.cost != "quadratic"))
def test_cross_entropy_and_softmax_nll_give_a_minus_y(p: Problem) -> None:
    """Cross-entropy with sigmoid outputs, and log-likelihood with softmax: delta^L = a^L - y.

    The same holds for `losses.softmax_nll` computed from the logits z^L.
    """
    trace, _ = engine_pass(p.net, p.cost, p.x, p.y)
    delta_L = [z.grad for z in trace.z[-1]]
    a_minus_y = [a.data - yj for a, yj in zip(trace.output, p.y, strict=True)]
    g = largest_gradient(p.net, trace)
    for j, (d, e) in enumerate(zip(delta_L, a_minus_y, strict=True)):
        assert_close(d, e, g, f"delta^L_{j}")
    if p.cost == "log_likelihood":
        z = [Value(v.data) for v in trace.z[-1]]
        losses.softmax_nll(z, p.y).backward()
        for j, (zj, e) in enumerate(zip(z, a_minus_y, strict=True)):
            assert_close(zj.grad, e, g, f"softmax_nll delta^L_{j}")


# -- mini-batches, L2 and the update rule ------------------------------------------


@st.composite
def batch_problems(draw: Any) -> tuple[Problem, float, int, float]:
    m = draw(st.integers(1, 4))
    p = draw(problems(batch_size=m))
    lmbda = draw(st.floats(0.0, 5.0, allow_nan=False))
    n = draw(st.integers(m, 100))
    eta = draw(st.floats(0.0, 3.0, allow_nan=False))
    return p, lmbda, n, eta


def _grads(net: MLP) -> list[float]:
    return [q.grad for q in net.parameters()]


def _engine_batch_cost(p: Problem, lmbda: float = 0.0, n: int = 1) -> Value:
    """C = 1/m sum_x C_x (+ lambda/(2n) sum_w w^2), backward on zeroed grads."""
    p.net.zero_grad()
    costs = [losses.get_loss(p.cost)(p.net(x), y) for x, y in p.batch]
    c = losses.mean(costs)
    if lmbda:
        c = c + losses.l2_weight_penalty(p.net, lmbda, n)
    c.backward()
    return c


def _flatten(nabla_b: list[list[float]], nabla_w: list[list[list[float]]]) -> list[float]:
    """Closed-form gradients in `MLP.parameters` order: neuron by neuron, w then b."""
    out: list[float] = []
    for b_l, w_l in zip(nabla_b, nabla_w, strict=True):
        for b_j, w_j in zip(b_l, w_l, strict=True):
            out += [*w_j, b_j]
    return out


@given(batch_problems())
def test_gradient_of_mean_cost_is_mean_of_per_example_gradients(
    args: tuple[Problem, float, int, float],
) -> None:
    """C = 1/m sum_x C_x gives ∂C/∂w = 1/m sum_x ∂C_x/∂w (engine per example; closed form)."""
    p, _, _, _ = args
    per_example = []
    for x, y in p.batch:
        engine_pass(p.net, p.cost, x, y)
        per_example.append(_grads(p.net))
    _engine_batch_cost(p)
    batch = _grads(p.net)
    closed = _flatten(*mini_batch_gradients(p.net, p.batch, p.cost))
    g = max(abs(v) for v in batch + [0.0] + [abs(v) for row in per_example for v in row])
    for i, q in enumerate(batch):
        mean = math.fsum(row[i] for row in per_example) / len(per_example)
        assert_close(q, mean, g, f"parameter {i}")
        assert_close(q, closed[i], g, f"parameter {i} (closed form)")


@given(batch_problems())
def test_l2_adds_lambda_over_n_times_w_to_weights_only(
    args: tuple[Problem, float, int, float],
) -> None:
    """L2: C = C_0 + lambda/(2n) sum_w w^2 adds (lambda/n) w to ∂C/∂w and nothing to ∂C/∂b."""
    p, lmbda, n, _ = args
    _engine_batch_cost(p)
    plain = _grads(p.net)
    _engine_batch_cost(p, lmbda, n)
    regularised = _grads(p.net)
    closed = _flatten(*mini_batch_gradients(p.net, p.batch, p.cost, lmbda, n))
    g = max(abs(v) for v in [*plain, *regularised, 0.0])
    names = [name for name, _ in p.net.named_parameters()]
    for i, (name, q) in enumerate(zip(names, p.net.parameters(), strict=True)):
        if name.endswith(".b"):
            assert regularised[i] == plain[i], name  # the same graph below C_0: exact
        else:
            assert_close(regularised[i], plain[i] + lmbda / n * q.data, g, name)
        assert_close(regularised[i], closed[i], g, f"{name} (closed form)")


@given(batch_problems())
def test_one_sgd_step_equals_the_books_update_rule(args: tuple[Problem, float, int, float]) -> None:
    """SGD on C_0 + L2 is the book's rule.

    w -> (1 - eta lambda/n) w - (eta/m) sum_x delta^x (a^x)^T,  b -> b - (eta/m) sum_x delta^x.
    """
    p, lmbda, n, eta = args
    expected = update_mini_batch(p.net, p.batch, eta, p.cost, lmbda, n)
    _engine_batch_cost(p, lmbda, n)
    scale = max(abs(q.data) for q in p.net.parameters()) + eta * largest_gradient(p.net)
    SGD(p.net.parameters(), lr=eta).step()
    after = Network.from_mlp(p.net)
    for i, (w_l, e_l) in enumerate(zip(after.weights, expected.weights, strict=True)):
        for j, (w_j, e_j) in enumerate(zip(w_l, e_l, strict=True)):
            for k, (w, e) in enumerate(zip(w_j, e_j, strict=True)):
                assert_close(w, e, scale, f"w^{i + 2}_{j}{k}")
    for i, (b_l, eb_l) in enumerate(zip(after.biases, expected.biases, strict=True)):
        for j, (b, eb) in enumerate(zip(b_l, eb_l, strict=True)):
            assert_close(b, eb, scale, f"b^{i + 2}_{j}")


# -- the same checks against PyTorch ---------------------------------------------


def _torch_pass(torch: Any, net: Network, cost: str, x: Sequence[float], y: Sequence[float]) -> Any:
    """The network in float64 PyTorch; returns (W, b, xs, zs) after backward, z grads retained."""
    f64 = torch.float64
    weights = [torch.tensor(w, dtype=f64, requires_grad=True) for w in net.weights]
    biases = [torch.tensor(b, dtype=f64, requires_grad=True) for b in net.biases]
    xs = torch.tensor(list(x), dtype=f64, requires_grad=True)
    a, zs = xs, []
    functions = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
                 "linear": lambda t: t, "softmax": lambda t: torch.softmax(t, dim=0)}
    for w, b, act in zip(weights, biases, net.activations, strict=True):
        z = w @ a + b  # z^l = w^l a^{l-1} + b^l
        z.retain_grad()
        zs.append(z)
        a = functions[act](z)
    target = torch.tensor(list(y), dtype=f64)
    if cost == "quadratic":
        c = 0.5 * ((target - a) ** 2).sum()
    elif cost == "cross_entropy":
        c = -(target * torch.log(a) + (1 - target) * torch.log(1 - a)).sum()
    else:
        c = -torch.log(a[int(target.argmax())])
    c.backward()
    return weights, biases, xs, zs


@pytest.mark.torch
def test_engine_agrees_with_torch_autograd_in_float64() -> None:
    """torch.autograd in float64 agrees: z.grad (delta), b.grad (BP3), w.grad (BP4), ∂C/∂x."""
    import torch

    @given(problems())
    def check(p: Problem) -> None:
        _check_against_torch(torch, p)

    check()


def _check_against_torch(torch: Any, p: Problem) -> None:
    trace, _ = engine_pass(p.net, p.cost, p.x, p.y)
    weights, biases, xs, zs = _torch_pass(torch, Network.from_mlp(p.net), p.cost, p.x, p.y)
    g = largest_gradient(p.net, trace)
    for i, layer in enumerate(p.net.layers):
        l = i + 2  # noqa: E741 - the book's layer number
        for j, neuron in enumerate(layer.neurons):
            assert_close(trace.z[l - 1][j].grad, float(zs[i].grad[j]), g, f"z^{l}_{j}")
            assert_close(neuron.b.grad, float(biases[i].grad[j]), g, f"b^{l}_{j}")
            for k, w in enumerate(neuron.w):
                assert_close(w.grad, float(weights[i].grad[j, k]), g, f"w^{l}_{j}{k}")
    for k, x_k in enumerate(trace.a[0]):
        assert_close(x_k.grad, float(xs.grad[k]), g, f"x_{k}")
