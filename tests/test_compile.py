"""Specification of `microgrid.compile`: a recorded scalar graph replayed over a batch.

The contract: for any function built from engine operations, the compiled
loss and every parameter gradient equal what the eager engine accumulates
by running the function on each example and calling ``backward()``.

Tolerance: the compiled path adds the same terms as the eager engine in
another order (matrix products, pairwise sums, the penalty's gradient added
to the data term's in one go), so the two results may differ by the
rounding of a reordered float sum: a few ulps of the sum of the MAGNITUDES
of the terms, which can be far larger than the result when terms cancel.
`rounding_scales` computes those magnitudes (the first-order rounding-error
bound of reverse mode: a backward pass on absolute values), and every
comparison allows ``1e-12`` times them: far above rounding, far below any
missing or wrong term.

One more difference is not the replay's: numpy's ``tanh`` and the C
library's ``math.tanh`` (the engine's) may differ by an ulp or two, and near
saturation ``tanh' = 1 - t^2`` magnifies that. The equality tests give the
engine numpy's ``tanh`` (`numpy_tanh`), so that they check the replay
exactly; `test_tanh_differs_from_the_engines_by_at_most_two_ulps` states the
difference itself. numpy's ``power`` matches C's ``pow`` bit for bit on some
CPUs and by an ulp on others (AVX-512, where numpy has its own vector code):
well inside the tolerance; `test_powers_differ_from_the_engines_by_at_most_two_ulps`
states it.
"""

from __future__ import annotations

import dataclasses
import doctest
import gc
import importlib
import math
import random
import re
import subprocess
import sys
import types
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, reject
from hypothesis import strategies as st
from rounding import magnitudes

from microgrid import compiler, engine, losses
from microgrid.compiler import Compiled, TracingError, compile
from microgrid.engine import OPS, Value, sum_of
from microgrid.nn import MLP, Layer
from microgrid.optim import SGD, Adam
from microgrid.strategies import Expression, expressions


class _MathWithNumpyTanh:
    """The math module, except that tanh is numpy's (see the module docstring)."""

    tanh = staticmethod(lambda x: float(np.tanh(x)))

    def __getattr__(self, name: str) -> Any:
        return getattr(math, name)


def numpy_tanh() -> Any:
    """Within this context the engine computes tanh with numpy, as the replay does."""
    return mock.patch.object(engine, "math", _MathWithNumpyTanh())

REL = 1e-12

# -- the eager reference ------------------------------------------------------------


def rounding_scales(cost: Value, params: Sequence[Value]) -> tuple[float, list[float]]:
    """The magnitudes of what is summed into the cost and into each ``∂cost/∂p``.

    ``m(node)`` is a backward pass on absolute values: ``m(cost) = 1`` and
    ``m(parent) += |local| m(node)``, the sum of the magnitudes of the terms
    that make up ``∂cost/∂parent``. The cost's scale weighs each node's
    own magnitude (all of its terms, for sums) by ``m(node)``.
    """
    m = magnitudes(cost)
    loss_scale = 0.0
    for node in m:
        terms = sum(abs(local * p.data) for p, local in zip(node.parents, node.local_grads,
                                                             strict=True))
        nary = node.parents and OPS[node.op].arity is None
        loss_scale += m[node] * (abs(node.data) + (terms if nary else 0))
    return loss_scale, [m.get(p, 0.0) for p in params]


def eager(
    fn: Callable[..., Value],
    params: Sequence[Value],
    X: Sequence[Sequence[float]],
    Y: Sequence[Any] | None,
    as_values: bool = True,
) -> tuple[float, list[float], float, list[float]]:
    """Run ``fn`` example by example on the eager engine.

    Returns the summed cost, the summed gradients, and their rounding
    scales (see `rounding_scales`) summed over the examples.
    """
    total = loss_scale = 0.0
    grads = [0.0] * len(params)
    grad_scales = [0.0] * len(params)
    for i, row in enumerate(X):
        x = [Value(float(v)) for v in row]
        if Y is None:
            cost = fn(x)
        else:
            y = Y[i]
            if as_values:
                y = [Value(float(v)) for v in y] if isinstance(y, list) else Value(float(y))
            cost = fn(x, y)
        for p in params:
            p.grad = 0.0
        cost.backward()
        total += cost.data
        scale, scales = rounding_scales(cost, params)
        loss_scale += scale
        for j, p in enumerate(params):
            grads[j] += p.grad
            grad_scales[j] += scales[j]
    for p in params:
        p.grad = 0.0
    return total, grads, loss_scale, grad_scales


def assert_matches(
    compiled: tuple[float, list[float]],
    reference: tuple[float, list[float], float, list[float]],
    scale: float = 1.0,
) -> None:
    """Compiled loss and gradients equal ``scale`` times the eager sums (see the tolerance)."""
    loss, grads = compiled
    e_loss, e_grads, loss_scale, grad_scales = reference
    assert abs(loss - scale * e_loss) <= REL * scale * loss_scale, (loss, scale * e_loss)
    assert len(grads) == len(e_grads)
    for i, (g, e, m) in enumerate(zip(grads, e_grads, grad_scales, strict=True)):
        assert abs(g - scale * e) <= REL * scale * m, (i, g, scale * e)


def hinge_l2(net: MLP, alpha: float = 1e-4) -> Callable[[list[Value], Any], Value]:
    params = net.parameters()

    def cost(x: list[Value], y: Any) -> Value:
        return losses.hinge(net(x), y) + losses.l2_penalty(params, alpha)

    return cost


# -- random networks and batches --------------------------------------------------

ACTIVATIONS = ["relu", "tanh", "sigmoid", "linear"]


@st.composite
def networks_and_batches(draw: st.DrawFn) -> tuple[MLP, list[list[float]], int]:
    nin = draw(st.integers(1, 4))
    widths = draw(st.lists(st.integers(1, 5), min_size=1, max_size=3))
    net = MLP(nin, widths, activation=draw(st.sampled_from(ACTIVATIONS)),
              output_activation=draw(st.sampled_from(ACTIVATIONS)),
              init=draw(st.sampled_from(["uniform", "normal", "he"])),
              seed=draw(st.integers(0, 2**32 - 1)))
    batch = draw(st.integers(1, 7))
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    X = [[rng.uniform(-3, 3) for _ in range(nin)] for _ in range(batch)]
    return net, X, widths[-1]


@given(networks_and_batches(), st.integers(0, 2**32 - 1), st.sampled_from(["sum", "mean"]))
def test_random_networks_quadratic_cost_matches_the_eager_engine(
    case: tuple[MLP, list[list[float]], int], seed: int, reduction: str
) -> None:
    """Nielsen's quadratic cost + L2 with Value targets: loss and every gradient as eager."""
    net, X, nout = case
    rng = random.Random(seed)
    Y = [[rng.uniform(-1, 1) for _ in range(nout)] for _ in X]
    params = net.parameters()

    def cost(x: list[Value], y: list[Value]) -> Value:
        a = net(x)
        return 0.5 * sum_of([(yj - aj) ** 2 for aj, yj in zip(a, y, strict=True)]) \
            + losses.l2_penalty(params, 1e-3)

    scale = 1.0 / len(X) if reduction == "mean" else 1.0
    with numpy_tanh():
        step = compile(cost, X[0], Y[0], params=params, reduction=reduction)
        assert_matches(step(X, Y), eager(cost, params, X, Y), scale)


@given(networks_and_batches(), st.integers(0, 2**32 - 1),
       st.sampled_from(["hinge", "quadratic", "cross_entropy"]))
def test_random_networks_static_targets_match_the_eager_engine(
    case: tuple[MLP, list[list[float]], int], seed: int, loss: str
) -> None:
    """The library's costs with static targets (plain numbers) as eager.

    hinge with -1/+1 labels and quadratic with targets from a small set
    differ between targets only in constants (one program, the constants
    lifted per example); cross-entropy's terms depend on the 0/1 targets
    (one program per target pattern).
    """
    net, X, nout = case
    rng = random.Random(seed)
    params = net.parameters()
    cost: Callable[[list[Value], Any], Value]
    if loss == "hinge":
        Y: list[Any] = [rng.choice([-1, 1]) for _ in X]

        def cost(x: list[Value], y: Any) -> Value:
            return losses.hinge(net(x)[0], y) + losses.l2_penalty(params, 1e-4)
    elif loss == "quadratic":
        Y = [[rng.choice([0.0, 0.5, 1.0]) for _ in range(nout)] for _ in X]

        def cost(x: list[Value], y: Any) -> Value:
            return losses.quadratic(net(x), y)
    else:
        Y = [[float(rng.random() < 0.5) for _ in range(nout)] for _ in X]

        def cost(x: list[Value], y: Any) -> Value:
            return losses.cross_entropy([a.sigmoid() for a in net(x)], y)

    with numpy_tanh():
        step = compile(cost, X[0], Y[0], params=params, static_y=True)
        assert_matches(step(X, Y), eager(cost, params, X, Y, as_values=False))


@given(networks_and_batches(), st.integers(0, 2**32 - 1),
       st.sampled_from(["quadratic", "mse", "cross_entropy", "cross_entropy_with_logits",
                        "hinge"]))
def test_random_networks_library_costs_with_value_targets_match_the_eager_engine(
    case: tuple[MLP, list[list[float]], int], seed: int, loss: str
) -> None:
    """compile's default passes targets as Values: every library cost with a number
    target builds its graph from them, so one program replays every target."""
    net, X, nout = case
    rng = random.Random(seed)
    params = net.parameters()
    cost_of = getattr(losses, loss)
    Y: list[Any]
    if loss == "hinge":
        Y = [rng.choice([-1.0, 1.0]) for _ in X]
    else:
        Y = [[rng.uniform(0.0, 1.0) for _ in range(nout)] for _ in X]

    def cost(x: list[Value], y: Any) -> Value:
        a = net(x)
        outputs = [a[0]] if loss == "hinge" else [aj.sigmoid() for aj in a] \
            if loss == "cross_entropy" else a
        return cost_of(outputs, y) + losses.l2_penalty(params, 1e-3)  # type: ignore[no-any-return]

    with numpy_tanh():
        try:
            reference = eager(cost, params, X, Y)
        except ValueError:
            reject()  # a saturated sigmoid: the cost refuses log(0), eagerly too
        step = compile(cost, X[0], Y[0], params=params)
        assert_matches(step(X, Y), reference)
    assert "programs=1" in repr(step)


# -- random expressions over every engine operation ---------------------------------


@given(expressions(max_inputs=4, max_steps=10), st.data(), st.integers(0, 2**32 - 1))
def test_random_expressions_over_every_operation_match_the_eager_engine(
    expr: Expression, data: st.DataObject, seed: int
) -> None:
    """Every operation of the table (the strategies draw from it), numbers on either
    side, sums and linear nodes with numbers; some inputs per example, the others
    parameters, so each operation runs on per-example and batch-independent rows."""
    rng = random.Random(seed)
    k = data.draw(st.integers(0, len(expr.inputs) - 1))
    params = [Value(v, f"p{i}") for i, v in enumerate(expr.inputs[:k])]
    example = list(expr.inputs[k:])
    batch = data.draw(st.integers(1, 6))
    # the other examples a step away, well inside the margin the strategy keeps
    X = [example] + [[v + rng.uniform(-1e-4, 1e-4) for v in example] for _ in range(batch - 1)]

    def cost(x: list[Value]) -> Value:
        return expr([*params, *x])

    with numpy_tanh():
        try:
            reference = eager(cost, params, X, None)
        except (ValueError, ZeroDivisionError, OverflowError):
            reject()  # a step away left an operation's domain after all
        step = compile(cost, X[0], params=params)
        assert_matches(step(X), reference)


def test_tanh_differs_from_the_engines_by_at_most_two_ulps() -> None:
    """The one elementary function where numpy and the C library round differently:
    each is within an ulp of the true tanh, so they are within two of each other."""
    xs = [i / 97.0 - 20.0 for i in range(4000)]
    replayed = compile(lambda x: x[0].tanh(), [0.5]).forward([[x] for x in xs])
    for x, t in zip(xs, replayed.tolist(), strict=True):
        assert abs(t - math.tanh(x)) <= 2 * math.ulp(math.tanh(x))


def test_powers_differ_from_the_engines_by_at_most_two_ulps() -> None:
    """Constant and Value exponents: the engine calls C's pow, the replay numpy's
    power (an exponent per element, so no x*x or sqrt shortcuts). Where numpy
    computes power with its own vector code (AVX-512 CPUs) it rounds
    differently from C's pow; each is within an ulp of the true power."""
    rng = random.Random(4)
    X = [[rng.uniform(0.01, 5.0)] for _ in range(3000)]

    def assert_close(replayed: Any, expected: list[float]) -> None:
        for r, e in zip(replayed.tolist(), expected, strict=True):
            assert abs(r - e) <= 2 * math.ulp(e)

    for n in (2.0, 0.5, -1.0, 3.0, 1.7):
        assert_close(compile(lambda x, n=n: x[0] ** n, [1.0]).forward(X),
                     [row[0] ** n for row in X])
    assert_close(compile(lambda x: 2.5 ** x[0], [1.0]).forward(X), [2.5 ** row[0] for row in X])


# -- the API --------------------------------------------------------------------


def test_the_docstring_example() -> None:
    """``(w x - y)^2`` summed over two examples: loss 0.25, gradient ``2 (w x - y) x`` = 1."""
    w = Value(0.5)
    step = compile(lambda x, y: (w * x[0] - y) ** 2, [1.0], 0.0, params=[w])
    assert step([[1.0], [2.0]], [0.0, 1.0]) == (0.25, [1.0])


def test_backward_accumulates_into_grads_like_eager_backward() -> None:
    """``step.backward`` adds into ``p.grad`` (leaves accumulate), and returns the loss."""
    net = MLP(2, [3, 1], seed=0)
    params = net.parameters()
    X, Y = [[0.5, -1.0], [1.0, 2.0], [-0.3, 0.1]], [1, -1, 1]
    step = compile(hinge_l2(net), X[0], Y[0], params=params, static_y=True)
    loss, grads = step(X, Y)
    assert all(p.grad == 0.0 for p in params)  # __call__ writes nothing
    assert step.backward(X, Y) == loss
    assert [p.grad for p in params] == grads
    step.backward(X, Y)
    assert [p.grad for p in params] == [2 * g for g in grads]


def test_mean_reduction_is_the_sum_over_the_batch_size() -> None:
    net = MLP(2, [4, 1], seed=3)
    X = [[0.1 * i, -0.2 * i] for i in range(5)]
    Y = [1 if i % 2 else -1 for i in range(5)]
    kwargs: dict[str, Any] = {"params": net.parameters(), "static_y": True}
    total, g_sum = compile(hinge_l2(net), X[0], Y[0], **kwargs)(X, Y)
    mean, g_mean = compile(hinge_l2(net), X[0], Y[0], reduction="mean", **kwargs)(X, Y)
    assert math.isclose(mean, total / 5, rel_tol=1e-15)
    for a, b in zip(g_mean, g_sum, strict=True):
        assert math.isclose(a, b / 5, rel_tol=1e-12, abs_tol=1e-300)


def test_forward_gives_each_examples_value_and_several_outputs() -> None:
    """``forward`` returns per-example results, ``(batch, k)`` for k returned Values."""
    net = MLP(3, [4, 2], seed=5)
    X = [[0.1, 0.2, 0.3], [-1.0, 0.5, 2.0], [0.0, 0.0, 1.0]]
    outputs = compile(lambda x: net(x), X[0], params=net.parameters()).forward(X)
    assert outputs.shape == (3, 2)
    for row, out in zip(X, outputs, strict=True):
        assert out.tolist() == pytest.approx([a.data for a in net(row)], rel=1e-13)
    scores = compile(lambda x: net(x)[0], X[0]).forward(X)
    assert scores.shape == (3,)


def test_gradients_need_a_single_result() -> None:
    net = MLP(2, [2], seed=0)
    step = compile(lambda x: net(x), [0.0, 1.0], params=net.parameters())
    with pytest.raises(TypeError, match="returned 2 Values"):
        step([[0.0, 1.0]])


def test_a_layers_linear_nodes_become_one_matrix_product_and_the_penalty_runs_once() -> None:
    """DESIGN's speed rules: the moons step is a dozen numpy instructions, not 410 nodes."""
    net = MLP(2, [16, 16, 1], seed=1)
    step = compile(hinge_l2(net), [0.5, 0.5], 1, params=net.parameters(), static_y=True)
    text = step.describe()
    lines = text.splitlines()[1:]
    assert len(lines) <= 12
    assert sum("linear[16x" in line and "matmul" in line for line in lines) == 2
    # the L2 penalty sum_p p^2 (one linear node of the parameters with themselves)
    assert any("linear[1x337]" in line and line.endswith("once") for line in lines)


def test_the_recorded_graph_is_kept_for_drawing() -> None:
    """``step.graph`` is the recorded example's result Value (draw it like any graph)."""
    w = Value(2.0, "w")
    step = compile(lambda x, y: (w * x[0] - y).relu(), [3.0], 1.0, params=[w])
    assert isinstance(step.graph, Value)
    assert step.graph.op == "relu" and step.graph.data == 5.0
    assert isinstance(step, Compiled) and "instructions=" in repr(step)


def test_leaves_other_than_params_are_read_live() -> None:
    """A Value the function reads but does not differentiate is replayed with its .data now."""
    w, scale = Value(1.0), Value(2.0)
    step = compile(lambda x, y: scale * w * x[0], [1.0], 0.0, params=[w])
    assert step([[1.0]], [0.0]) == (2.0, [2.0])
    scale.data = 3.0
    assert step([[1.0]], [0.0]) == (3.0, [3.0])


def test_a_leaf_read_live_is_not_taken_for_a_target_constant() -> None:
    """A captured leaf changed between two targets' recordings stays live, not lifted."""
    w, scale = Value(1.0), Value(2.0)
    step = compile(lambda x, y: scale * w * x[0] * y, [1.0], 1, params=[w], static_y=True)
    scale.data = 3.0
    assert step([[1.0], [1.0]], [1, 2]) == (9.0, [9.0])  # scale 3 for both targets
    assert "programs=1" in repr(step) and "1 lifted constants" in step.describe()  # y only


def test_a_loss_independent_of_the_example_counts_once_per_example() -> None:
    """A cost that reads no example is still summed over the batch, as eager would."""
    w = Value(3.0)
    step = compile(lambda x, y: w * w, [0.0], 0.0, params=[w])
    assert step([[0.0], [1.0]], [0.0, 0.0]) == (18.0, [12.0])


# -- training -------------------------------------------------------------------


@pytest.mark.parametrize("static", [True, False])
def test_training_with_the_compiled_step_reaches_the_eager_parameters(static: bool) -> None:
    """30 SGD steps, compiled vs eager, from the same start: the same parameters."""
    rng = random.Random(0)
    X = [[rng.uniform(-2, 2), rng.uniform(-1, 1.5)] for _ in range(20)]
    Y = [1 if x[1] > 0.5 * math.sin(2 * x[0]) else -1 for x in X]
    nets = [MLP(2, [8, 8, 1], seed=7) for _ in range(2)]

    def make_cost(net: MLP) -> Callable[[list[Value], Any], Value]:
        if static:
            return hinge_l2(net)
        params = net.parameters()
        return lambda x, y: (1.0 - y * net(x)[0]).relu() + losses.l2_penalty(params, 1e-4)

    eager_net, compiled_net = nets
    eager_cost, compiled_cost = make_cost(eager_net), make_cost(compiled_net)
    eager_opt = SGD(eager_net.parameters(), lr=0.05, momentum=0.9)
    compiled_opt = SGD(compiled_net.parameters(), lr=0.05, momentum=0.9)
    step = compile(compiled_cost, X[0], Y[0], params=compiled_net.parameters(),
                   reduction="mean", static_y=static)
    for _ in range(30):
        eager_opt.zero_grad()
        costs = [eager_cost([Value(v) for v in x], y if static else Value(float(y)))
                 for x, y in zip(X, Y, strict=True)]
        (sum_of(costs) * (1.0 / len(X))).backward()
        eager_opt.step()
        compiled_opt.zero_grad()
        step.backward(X, Y)
        compiled_opt.step()
    for a, b in zip(eager_net.parameters(), compiled_net.parameters(), strict=True):
        assert math.isclose(a.data, b.data, rel_tol=1e-9, abs_tol=1e-12)


# -- tracing rules --------------------------------------------------------------


def test_python_control_flow_on_values_is_detected_on_the_first_batch() -> None:
    """An ``if`` on a value records one branch; another example takes the other."""

    def cost(x: list[Value], y: Value) -> Value:
        return x[0] * 2.0 if x[0].data > 0 else x[0].tanh()

    step = compile(cost, [1.0], 0.0)
    with pytest.raises(TracingError, match="control flow"):
        step([[1.0], [-1.0]], [0.0, 0.0])


def test_a_constant_computed_from_an_examples_value_is_detected() -> None:
    """``v.data`` is a number: it would be replayed frozen."""
    step = compile(lambda x, y: x[0] * x[1].data, [1.0, 2.0], 0.0)
    with pytest.raises(TracingError, match=r"constant operand .* is 2\.0 in one and 5\.0"):
        step([[1.0, 2.0], [1.0, 5.0]], [0.0, 0.0])


def test_check_examines_every_example_of_a_batch() -> None:
    step = compile(lambda x, y: x[0].relu() if x[0].data < 5 else x[0], [1.0], 0.0, check=False)
    step.check([[1.0], [2.0]], [0.0, 0.0])  # same graph: fine
    with pytest.raises(TracingError, match="example 1 of the batch"):
        step.check([[1.0], [7.0]], [0.0, 0.0])


# What a recording depends on: the example's x and y, any number Python reads off
# a Value, the parameters' values, randomness. Reads through the engine's methods
# are refused as they happen; the rest is found by recording again what could change.

READS: list[tuple[str, Callable[[Value], object]]] = [
    ("float(v)", float), ("int(v)", int), ("v.item()", Value.item),
    ("v > ...", lambda v: v > 0), ("v <= ...", lambda v: v <= 1), ("v >= ...", lambda v: v >= 1),
    ("v < ...", lambda v: 0 > v),  # noqa: SIM300 - a number first: the Value's reflected method
    ("v > ...", lambda v: max(Value(-1.0), v)), ("format(v, '.3f')", lambda v: f"{v:.3f}"),
]


@pytest.mark.parametrize(("how", "read"), READS)
def test_reading_a_number_off_a_value_while_recording_is_refused_naming_the_read(
    how: str, read: Callable[[Value], object]
) -> None:
    """As JAX refuses to make a number of a traced value: whatever fn does with it
    (an if, a constant) would be frozen at the recorded example."""

    def cost(x: list[Value], y: Value) -> Value:
        read(x[1])
        return x[0] * y

    held = r"read the number held by the leaf 'x_1' \((a comparison )?"
    with pytest.raises(TracingError, match=held + re.escape(how)):
        compile(cost, [1.0, 2.0], 0.0)


def test_a_read_is_refused_even_if_the_function_catches_the_error() -> None:
    def cost(x: list[Value], y: Value) -> Value:
        try:
            flip = x[0] > 0
        except Exception:
            flip = True
        return x[0] if flip else -x[0]

    with pytest.raises(TracingError, match="read the number"):
        compile(cost, [1.0], 0.0)


def test_reads_outside_a_recording_and_printing_a_value_are_allowed() -> None:
    """Only recordings watch reads; ``repr`` (and ``f"{v}"``) show a Value, they are not numbers."""
    w = Value(0.5)
    shown: list[str] = []

    def cost(x: list[Value], y: Value) -> Value:
        shown.append(f"{x[0]} {x[0]!r}")
        return w * x[0]

    step = compile(cost, [2.0], 0.0, params=[w])
    assert step.forward([[3.0]], [0.0]).tolist() == [1.5]
    assert "Value(data=2.0" in shown[0]
    assert float(step.graph) == 1.0 and step.graph > 0.5  # outside fn: plain reads


def test_a_branch_on_the_target_is_refused() -> None:
    """The adversary's case: the first example whose x differed (x=2) has the same target,
    so the branch was never seen with y = -1; compiled gave 2.1875 and grads
    [0, 0.5] where eager gives 0.625 and [-2.5, -2]."""
    w, b = Value(0.5), Value(-0.25)

    def cost(x: list[Value], y: Value) -> Value:
        return (w * x[0] + b - y) ** 2 if y.data > 0 else (w * x[0] + b) * 0.0

    X, Y = [[1.0], [2.0], [1.0]], [1.0, 1.0, -1.0]
    assert eager(cost, [w, b], X, Y)[:2] == (0.625, [-2.5, -2.0])
    step = compile(cost, X[0], Y[0], params=[w, b])
    with pytest.raises(TracingError, match="example 2 of the first batch"):
        step(X, Y)


def test_a_branch_on_a_value_is_refused() -> None:
    """``|s|`` written as an if on ``s.data``: the examples where s < 0 are checked."""
    w, b = Value(0.5), Value(-0.25)

    def cost(x: list[Value], y: Value) -> Value:
        s = w * x[0] + b - y
        return s if s.data > 0 else -s

    X, Y = [[1.0], [2.0], [1.0]], [1.0, 1.0, -1.0]
    step = compile(cost, X[2], Y[2], params=[w, b])  # s = 1.25 > 0 recorded
    with pytest.raises(TracingError, match="example 0 of the first batch"):
        step(X, Y)


@pytest.mark.parametrize("where", ["target", "value"])
def test_in_a_large_first_batch_the_examples_that_can_branch_are_the_ones_checked(
    where: str,
) -> None:
    """Past FIRST_BATCH_CHECKS examples, those holding each row's extremes are checked:
    one odd example among 500 is found whether the branch reads y or an interior value."""
    rng = random.Random(3)
    w = Value(0.5)
    X = [[rng.uniform(0.1, 1.0)] for _ in range(500)]
    Y = [1.0] * 500
    odd = 317
    if where == "target":
        Y[odd] = -1.0

        def cost(x: list[Value], y: Value) -> Value:
            return (w * x[0] - y) ** 2 if y.data > 0 else w * x[0]
    else:
        X[odd] = [-3.0]

        def cost(x: list[Value], y: Value) -> Value:
            s = (x[0] * y).tanh()  # (not from w: a branch on w's sign is found at compile)
            return w * s if s.data > 0 else -w * s

    step = compile(cost, X[0], Y[0], params=[w])
    with pytest.raises(TracingError, match=f"example {odd} of the first batch"):
        step(X, Y)
    assert compiler.FIRST_BATCH_CHECKS < 500


def test_a_random_mask_is_refused() -> None:
    """A dropout-style coin flip inside fn: refused for every one of 20 seeds
    (the adversary's version compiled in about half the tries). Random recordings
    differ unless every one of them flips the same way: compile's two, the
    changed-parameter one and the first batch's."""
    w = Value(0.5)
    X, Y = [[0.1 * i] for i in range(8)], [1.0] * 8
    for seed in range(20):
        rng = random.Random(seed)

        def cost(x: list[Value], y: Value, rng: random.Random = rng) -> Value:
            keep = 1.0 if rng.random() < 0.5 else 0.0
            return (w * x[0] - y) * keep

        with pytest.raises(TracingError, match="random"):
            compile(cost, X[0], Y[0], params=[w])(X, Y)


def test_a_branch_on_a_parameters_value_is_refused() -> None:
    """Training moves a parameter across the branch; the replay would not follow.
    Compile records again with every parameter moved to the other side of 0."""
    w = Value(0.5)
    with pytest.raises(TracingError, match="parameters' values changed"):
        compile(lambda x, y: w * x[0] if w.data > 0 else -w * x[0], [1.0], 0.0, params=[w])
    with pytest.raises(TracingError, match=r"computed from the parameters' values"):
        compile(lambda x, y: x[0] * w.data, [1.0], 0.0, params=[w])
    with pytest.raises(TracingError, match="read the number held by"):
        compile(lambda x, y: w * x[0] if w > 0 else -w * x[0], [1.0], 0.0, params=[w])
    assert w.data == 0.5  # put back


def test_the_changed_parameter_recording_puts_the_values_back_even_on_error() -> None:
    w, scale = Value(0.5), Value(2.0)

    def cost(x: list[Value], y: Value) -> Value:
        return (w * scale).log() * x[0]  # not defined with w < 0: nothing learnt

    step = compile(cost, [1.0], 0.0, params=[w])
    assert (w.data, scale.data) == (0.5, 2.0)
    assert step([[1.0]], [0.0])[1] == pytest.approx([2.0])

    def asserting(x: list[Value], y: Value) -> Value:
        assert w.data > 0, "w must stay positive"  # fails only with w moved
        return w * x[0]

    compile(asserting, [1.0], 0.0, params=[w])
    assert w.data == 0.5
    with pytest.raises(TracingError, match="parameters' values changed"):
        compile(lambda x, y: w * x[0] * (scale if scale.data > 0 else -scale), [1.0], 0.0,
                params=[w])  # a leaf from outside the function is read live, as a parameter
    assert (w.data, scale.data) == (0.5, 2.0)


def test_a_target_the_cost_refuses_in_the_first_batch_is_named() -> None:
    """hinge checks its Value target's number when an example is recorded: a 0/1
    label among the first batch's checked examples raises hinge's error, naming it."""
    w = Value(0.5)
    step = compile(lambda x, y: losses.hinge(w * x[0], y), [1.0], 1.0, params=[w])
    with pytest.raises(ValueError, match=r"example 2 of the batch: hinge: target y must be"):
        step([[1.0], [2.0], [3.0]], [1.0, -1.0, 0.0])


def test_a_function_that_depends_on_nothing_else_passes_every_check() -> None:
    """The checks refuse nothing that replays right: the moons cost, checked on a
    first batch of 200 (past FIRST_BATCH_CHECKS), and its parameters untouched."""
    net = MLP(2, [16, 16, 1], seed=1)
    params = net.parameters()
    before = [p.data for p in params]
    rng = random.Random(0)
    X = [[rng.uniform(-2, 2), rng.uniform(-1, 1.5)] for _ in range(200)]
    Y = [rng.choice([-1.0, 1.0]) for _ in X]
    step = compile(hinge_l2(net), X[0], Y[0], params=params)
    step(X, Y)
    assert [p.data for p in params] == before


def test_a_random_function_is_refused() -> None:
    rng = random.Random(0)
    with pytest.raises(TracingError, match="random"):
        compile(lambda x, y: x[0] * rng.random(), [1.0], 0.0)


def test_a_node_built_outside_the_function_is_refused() -> None:
    """Its constants were not recorded and it would not be recomputed."""
    w = Value(1.0)
    with_constant = w * 2.0 + 1.0
    with pytest.raises(TracingError, match="outside"):
        compile(lambda x, y: x[0] * with_constant, [1.0], 0.0, params=[w])
    product = w * w
    with pytest.raises(TracingError, match="outside"):
        compile(lambda x, y: x[0] * product, [1.0], 0.0, params=[w])


@given(networks_and_batches(), st.integers(0, 2**32 - 1),
       st.sampled_from(["log_likelihood", "softmax_nll", "cross_entropy_with_logits"]))
def test_softmax_and_logit_costs_match_the_eager_engine(
    case: tuple[MLP, list[list[float]], int], seed: int, loss: str
) -> None:
    """Softmax layers and costs from logits are built on logsumexp nodes, with
    no number read off the values, so they replay like any other graph."""
    net, X, nout = case
    rng = random.Random(seed)
    params = net.parameters()
    if loss == "cross_entropy_with_logits":
        Y: list[Any] = [[float(rng.random() < 0.5) for _ in range(nout)] for _ in X]

        def cost(x: list[Value], y: Any) -> Value:
            return losses.cross_entropy_with_logits(net(x), y)
    else:
        Y = [rng.randrange(nout + 1) for _ in X]  # class nout: the head's extra output
        # softmax_nll reads the head's z (logits), log_likelihood its softmax outputs
        head = Layer(nout, nout + 1, activation="linear" if loss == "softmax_nll" else "softmax",
                     rng=random.Random(seed))
        params = params + head.parameters()
        head_cost = getattr(losses, loss)

        def cost(x: list[Value], y: Any) -> Value:
            return head_cost(head(net(x)), y)  # type: ignore[no-any-return]

    with numpy_tanh():
        step = compile(cost, X[0], Y[0], params=params, static_y=True)
        assert_matches(step(X, Y), eager(cost, params, X, Y, as_values=False))


# -- where the engine's semantics need care ----------------------------------------


@pytest.mark.parametrize(
    ("build", "at"),
    [
        (lambda w, x: (w * x).sqrt() * 0.0 + w * x, 0.0),  # the adversary's case
        (lambda w, x: ((w * x) ** 0.5) * 0.0 + w * x, 0.0),  # a fractional power at 0
        (lambda w, x: ((w * x) ** -1.0) * 0.0 + w * x, 1e-200),  # n x^(n-1) overflows
        (lambda w, x: (w * x + 1e-320).log() * 0.0 + w * x, 0.0),  # 1/x overflows
    ],
)
def test_a_zero_gradient_meeting_an_infinite_local_derivative_passes_nothing_on(
    build: Callable[[Value, Value], Value], at: float
) -> None:
    """The engine skips a node whose gradient is 0, so ``0 * inf`` is never formed;
    compiled, the same 0 (it was nan)."""
    w = Value(1.0)
    X, Y = [[at], [1.0]], [0.0, 0.0]

    def cost(x: list[Value], y: Value) -> Value:
        return build(w, x[0])

    loss, grads = compile(cost, X[0], 0.0, params=[w])(X, Y)
    e_loss, e_grads, _, _ = eager(cost, [w], X, Y)
    assert math.isfinite(grads[0])
    assert (loss, grads) == (pytest.approx(e_loss, rel=1e-15), pytest.approx(e_grads, rel=1e-15))


def test_infinite_gradients_stay_infinite_where_the_upstream_gradient_is_not_0() -> None:
    """sqrt'(0) = +inf, as in the engine: only the 0 * inf case changes."""
    w = Value(0.0)
    step = compile(lambda x, y: (x[0] + w).sqrt(), [1.0], 0.0, params=[w])
    eager_cost = (Value(0.0) + w).sqrt()
    eager_cost.backward()
    assert step([[0.0]], [0.0])[1] == [w.grad] == [math.inf]


# -- memory -----------------------------------------------------------------------


def test_a_dropped_compiled_function_is_freed_without_the_cyclic_collector() -> None:
    """No reference cycles in compiled programs (as in the engine's graphs): with the
    collector off, dropping the last reference frees it (100 compiled fits held 29 MB)."""
    net = MLP(2, [4, 1], seed=0)
    X, Y = [[0.5, -1.0], [1.0, 2.0], [-0.3, 0.1]], [1, -1, 1]

    def live_values() -> int:
        return sum(type(o) is Value for o in gc.get_objects())

    gc.collect()
    gc.disable()
    try:
        before = live_values()
        for static in (True, False):
            step = compile(hinge_l2(net), X[0], Y[0], params=net.parameters(), static_y=static)
            step(X, Y)
            step.forward(X, Y)
            dropped = weakref.ref(step)
            del step
            assert dropped() is None
        assert live_values() == before  # the recorded graphs went with it
    finally:
        gc.enable()


# -- training with the parameters in arrays -------------------------------------


def digits_like(n: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Inputs in [0, 1] and one-hot targets of three classes."""
    rng = np.random.default_rng(seed)
    return rng.random((n, 6)), np.eye(3)[rng.integers(0, 3, n)]


def book_net() -> tuple[MLP, list[Value], Compiled]:
    net = MLP(6, [5, 3], activation="sigmoid", init="normal", seed=0)
    params = net.parameters()
    X, Y = digits_like(1)
    return net, params, compile(lambda x, y: losses.quadratic(net(x), y), X[0].tolist(),
                                Y[0].tolist(), params=params, reduction="mean")


BATCHES = [slice(0, 16), slice(16, 32), slice(32, 40)]  # the last one smaller


@pytest.mark.parametrize(("optimizer", "settings"), [
    (SGD, {"lr": 3.0}), (SGD, {"lr": 0.5, "momentum": 0.9, "weight_decay": 1e-3}),
    (Adam, {"lr": 0.01, "weight_decay": 1e-3})])
def test_training_in_arrays_is_backward_and_the_optimisers_step_bit_for_bit(
    optimizer: type[SGD] | type[Adam], settings: dict[str, float]
) -> None:
    """The same parameters, gradients and optimiser state, to the last bit, as
    ``zero_grad(); step.backward(X, Y); optimizer.step()`` on every batch."""
    X, Y = digits_like()
    (_, eager_params, eager), (_, params, step) = book_net(), book_net()
    eager_optimizer, opt = optimizer(eager_params, **settings), optimizer(params, **settings)
    for rows in BATCHES * 2:
        eager_optimizer.zero_grad()
        eager.backward(X[rows], Y[rows])
        eager_optimizer.step()
    with step.training(opt) as train:
        losses_seen = [train.step(X[rows], Y[rows]) for rows in BATCHES * 2]
    assert [p.data for p in params] == [p.data for p in eager_params]
    assert [p.grad for p in params] == [p.grad for p in eager_params]
    if optimizer is SGD:
        assert opt.buffers == eager_optimizer.buffers  # type: ignore[attr-defined]
    else:
        assert (opt.m, opt.v, opt.t) == (eager_optimizer.m, eager_optimizer.v,  # type: ignore[attr-defined]
                                         eager_optimizer.t)  # type: ignore[attr-defined]
    assert len(losses_seen) == 6 and all(math.isfinite(v) for v in losses_seen)


def test_static_targets_of_several_programs_train_in_arrays_as_backward_does() -> None:
    """Class indices chose the output read: one program per class, one array of parameters."""
    X, Y = digits_like()
    labels = Y.argmax(axis=1)
    runs = []
    for arrays in (False, True):
        net = MLP(6, [5, 3], output_activation="softmax", seed=0)
        params = net.parameters()
        step = compile(lambda x, y, net=net: losses.log_likelihood(net(x), y), X[0].tolist(),
                       int(labels[0]), params=params, reduction="mean", static_y=True)
        opt = SGD(params, lr=0.5)
        if arrays:
            with step.training(opt) as train:
                for rows in BATCHES:
                    train.step(X[rows], labels[rows])
        else:
            for rows in BATCHES:
                opt.zero_grad()
                step.backward(X[rows], labels[rows])
                opt.step()
        runs.append(([p.data for p in params], repr(step)))
    assert runs[0][0] == runs[1][0]
    assert "programs=3" in runs[1][1]


def test_the_values_get_the_parameters_when_the_training_ends_or_is_synced() -> None:
    X, Y = digits_like()
    _, params, step = book_net()
    before = [p.data for p in params]
    loss_before, _ = step(X[:10], Y[:10])
    train = step.training(SGD(params, lr=1.0))
    train.step(X[:10], Y[:10])
    assert [p.data for p in params] == before  # inside the block: held in the array,
    loss_now, _ = step(X[:10], Y[:10])  # which other replays read
    assert loss_now < loss_before
    train.sync()
    moved = [p.data for p in params]
    assert moved != before and moved == train.theta[step._to_params].tolist()
    assert step(X[:10], Y[:10])[0] == loss_now  # the same numbers, from the Values now
    train.step(X[10:20], Y[10:20])
    train.close()
    assert [p.data for p in params] != moved
    with pytest.raises(RuntimeError, match="this Training is closed"):
        train.step(X[:10], Y[:10])


def test_a_training_dropped_without_closing_still_hands_the_parameters_back() -> None:
    X, Y = digits_like()
    _, params, step = book_net()
    before = [p.data for p in params]
    train = step.training(SGD(params, lr=1.0))
    train.step(X[:10], Y[:10])
    del train
    assert [p.data for p in params] != before
    with step.training(SGD(params, lr=1.0)) as again:  # the compiled function is free again
        again.step(X[:10], Y[:10])


def test_a_non_finite_update_in_arrays_is_refused_as_the_optimiser_refuses_it() -> None:
    """All or nothing, with the optimiser's own ValueError: no parameter changed."""
    w, b = Value(1.0, "w"), Value(0.0, "b")
    step = compile(lambda x, y: (w * x[0] + b - y) ** 2, [1.0], 0.0, params=[w, b],
                   reduction="mean")
    X, Y = np.array([[3.0], [4.0]]), np.array([0.0, 1.0])
    eager = SGD([w, b], lr=1e308)
    eager.zero_grad()
    step.backward(X, Y)
    with pytest.raises(ValueError) as expected:
        eager.step()
    w.grad = b.grad = 0.0
    with step.training(SGD([w, b], lr=1e308)) as train, pytest.raises(ValueError) as refused:
        train.step(X, Y)
    assert str(refused.value) == str(expected.value)
    assert "the step would make the value of parameter 0 (w) -inf" in str(refused.value)
    assert (w.data, b.data) == (1.0, 0.0)


def test_training_refuses_what_it_cannot_do() -> None:
    _, params, step = book_net()

    class Mine(SGD):
        pass

    with pytest.raises(TypeError, match=r"must be an SGD or an Adam.*got Mine"):
        step.training(Mine(params, lr=0.1))
    with pytest.raises(ValueError, match=r"exactly the compiled function's params \(53\), "
                                         r"got 52 of which 52"):
        step.training(SGD(params[1:], lr=0.1))
    with step.training(SGD(params, lr=0.1)) as train:
        with pytest.raises(ValueError, match="already training"):
            step.training(SGD(params, lr=0.1))
        with pytest.raises(RuntimeError, match="update\\(\\) before compute\\(\\)"):
            train.update()


def test_an_eager_check_while_training_sees_the_trained_parameters() -> None:
    """Recording examples again (check, a first batch, a diagnosis) computes with the
    Values: they are synced first, so what is checked is the network as trained."""
    X, Y = digits_like()
    _, params, step = book_net()
    with step.training(SGD(params, lr=3.0)) as train:
        for rows in BATCHES:
            train.step(X[rows], Y[rows])
        step.check(X[:4], Y[:4])
        assert [p.data for p in params] == train.theta[step._to_params].tolist()


def test_a_training_leaves_no_reference_cycle() -> None:
    X, Y = digits_like()
    gc.collect()
    gc.disable()
    try:
        _, params, step = book_net()
        with step.training(SGD(params, lr=1.0)) as train:
            train.step(X[:10], Y[:10])
        dropped, dropped_training = weakref.ref(step), weakref.ref(train)
        del step, train
        assert dropped() is None and dropped_training() is None
    finally:
        gc.enable()


# -- the docs -------------------------------------------------------------------


def test_the_compile_page_runs_as_written() -> None:
    """Every >>> line of docs/compile.md prints what the page says."""
    page = Path(__file__).resolve().parent.parent / "docs" / "compile.md"
    result = doctest.testfile(str(page), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 20 and result.failed == 0


def test_compile_and_tracing_error_are_importable_from_microgrid() -> None:
    import microgrid

    assert microgrid.compile is compile
    assert microgrid.TracingError is TracingError
    assert issubclass(TracingError, ValueError)
    assert TracingError.__module__ == "microgrid.compiler"  # as tracebacks name it


def test_the_compiler_is_a_package_no_function_hides() -> None:
    """``import microgrid.compiler`` gives the package, whose modules are
    importable by name; ``microgrid.compile`` is the function."""
    import microgrid
    import microgrid.compiler as package

    assert isinstance(package, types.ModuleType) and callable(microgrid.compile)
    for part in ("api", "kernels", "lifting", "packing", "tracing"):
        assert isinstance(importlib.import_module(f"microgrid.compiler.{part}"), types.ModuleType)


def test_compile_imports_numpy_only_when_first_called() -> None:
    """``TracingError`` and the function itself come without numpy; the first call loads it."""
    code = ("import sys\nfrom microgrid import compile, TracingError\n"
            "from microgrid.compiler import tracing\nprint('numpy' in sys.modules)\n"
            "compile(lambda x: x[0] * 2.0, [1.0])\nprint('numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


# -- errors --------------------------------------------------------------------


def test_an_operation_compile_cannot_replay_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Nothing falls through to a default (an unknown unary op was once replayed as abs):
    an op whose spec gives no batched formulas nor a kernel, or an op the table does not
    have, raises TracingError naming it."""

    def renamed(op: str) -> Callable[[list[Value]], Value]:
        def fn(x: list[Value]) -> Value:
            node = x[0].tanh()
            node.op = op
            return node
        return fn

    bare = dataclasses.replace(OPS["tanh"], name="mystery", forward=None, derivatives=())
    monkeypatch.setitem(engine._specs, "mystery", bare)
    with pytest.raises(TracingError, match="operation 'mystery' cannot be replayed"):
        compile(renamed("mystery"), [0.5])
    with pytest.raises(TracingError, match="'unknown' node was made by no operation"):
        compile(renamed("unknown"), [0.5])


def test_numpy_missing_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "numpy", None)  # makes `import numpy` fail
    with pytest.raises(ImportError, match=r"microgrid-autodiff\[fast\]"):
        compile(lambda x: x[0], [1.0])


def test_importing_microgrid_does_not_import_numpy() -> None:
    code = "import sys, microgrid; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.fixture
def step() -> Compiled:
    w = Value(1.0)
    return compile(lambda x, y: w * x[0] + x[1] - y, [1.0, 2.0], 0.5, params=[w])


@pytest.mark.parametrize(
    ("X", "Y", "error", "message"),
    [
        ([[1.0, 2.0, 3.0]], [0.0], ValueError, r"shape \(batch, 2\)"),
        ([1.0, 2.0], [0.0], ValueError, r"shape \(batch, 2\)"),
        (np.zeros((0, 2)), [], ValueError, "batch >= 1"),
        ([[1.0, 2.0]], [0.0, 1.0], ValueError, r"Y must have shape \(1,\)"),
        ([[1.0, 2.0]], None, TypeError, "Y is missing"),
        ([[1.0, math.nan]], [0.0], ValueError, r"X\[0, 1\] is nan"),
        ([[1.0, 2.0]], [math.inf], ValueError, r"Y\[0\] is inf"),
        ([["a", 2.0]], [0.0], TypeError, "array of numbers"),
    ],
)
def test_bad_batches_are_refused_with_a_clear_error(
    step: Compiled, X: Any, Y: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        step(X, Y)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"params": [Value(1.0) * 2]}, ValueError, "must be leaves"),
        ({"params": [1.0]}, TypeError, r"params\[0\] is float"),
        ({"params": Value(1.0)}, TypeError, "got one Value"),
        ({"reduction": "max"}, ValueError, "reduction"),
        ({"example_x": [1.0, math.inf]}, ValueError, r"example_x\[1\] is inf"),
        ({"example_x": "ab"}, TypeError, "sequence of numbers"),
        ({"fn": 3}, TypeError, "callable"),
    ],
)
def test_bad_arguments_are_refused_with_a_clear_error(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    arguments: dict[str, Any] = {"fn": lambda x, y: x[0] * y, "example_x": [1.0, 2.0],
                                 "example_y": 1.0}
    arguments.update(kwargs)
    fn, example_x, example_y = (arguments.pop(k) for k in ("fn", "example_x", "example_y"))
    with pytest.raises(error, match=message):
        compile(fn, example_x, example_y, **arguments)


def test_a_duplicate_parameter_is_refused() -> None:
    w = Value(1.0)
    with pytest.raises(ValueError, match="more than once"):
        compile(lambda x, y: w * x[0], [1.0], 0.0, params=[w, w])


def test_the_function_must_return_values() -> None:
    with pytest.raises(TypeError, match="must return a Value"):
        compile(lambda x, y: 3.0, [1.0], 0.0)


def test_a_domain_error_in_the_batch_raises_the_engines_error_naming_the_example() -> None:
    """numpy would give nan for log(-1); the engine's ValueError is raised instead."""
    step = compile(lambda x, y: (x[0] - y).log(), [2.0], 0.0)
    with pytest.raises(ValueError, match=r"example 2 of the batch: log\(-1\.0\)"):
        step([[2.0], [3.0], [1.0]], [0.0, 0.0, 2.0])


def test_a_negative_base_with_a_value_exponent_is_refused_as_in_the_engine() -> None:
    step = compile(lambda x, y: x[0] ** y, [2.0], 2.0)
    assert step.forward([[3.0]], [2.0]).tolist() == [9.0]
    with pytest.raises(ValueError, match="example 1 of the batch: pow"):
        step([[3.0], [-3.0]], [2.0, 2.0])


def test_static_targets_record_one_tape_per_distinct_target() -> None:
    """Class indices reach the loss as ints; each class gets its own tape."""
    net = MLP(2, [3], output_activation="sigmoid", seed=2)
    params = net.parameters()

    def cost(x: list[Value], y: int) -> Value:
        return losses.cross_entropy(net(x), [1.0 if j == y else 0.0 for j in range(3)])

    X = [[0.1, 0.2], [0.3, -0.1], [1.0, 1.0], [-0.5, 0.2]]
    Y = [0, 2, 2, 1]
    step = compile(cost, X[0], Y[0], params=params, static_y=True)
    assert_matches(step(X, Y), eager(cost, params, X, Y, as_values=False))
    assert "programs=3, targets=3" in repr(step)  # each class's terms differ


def test_static_targets_differing_only_in_constants_share_one_program() -> None:
    """hinge's label is a constant of ``score * y``: both labels replay one program,
    the label lifted into a per-example row; likewise a leaf made from the target."""
    net = MLP(2, [4, 1], seed=6)
    params = net.parameters()
    X = [[0.1 * i, 1.0 - 0.2 * i] for i in range(6)]
    step = compile(hinge_l2(net), X[0], 1, params=params, static_y=True)
    step(X, [1, -1, 1, 1, -1, -1])
    assert "programs=1, targets=2" in repr(step)
    assert "1 lifted constants" in step.describe()

    def cost(x: list[Value], y: float) -> Value:
        return (net(x)[0] - Value(y)) ** 2

    Y = [0.5 * i for i in range(6)]
    step = compile(cost, X[0], Y[0], params=params, static_y=True)
    assert_matches(step(X, Y), eager(cost, params, X, Y, as_values=False))
    assert "programs=1, targets=6" in repr(step)
