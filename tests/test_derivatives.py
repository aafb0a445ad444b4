"""Specification of `microgrid.derivatives`: `grad`, `hessian`, `hvp`, `jacobian`, and
`Value.backward(create_graph=True)`.

The derivative of a derivative: `grad` walks backward's order into a dict (never
``.grad``), with floats exactly as backward or, with ``create_graph=True``, with
Values, so the result is a graph that can be differentiated again, drawn and
compiled. The per-operation checks (every op's derivatives as Values and its second
derivatives) are in tests/test_operations.py; the property tests in
tests/test_derivatives_properties.py.
"""

from __future__ import annotations

import doctest
import gc
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

import microgrid
from microgrid import (
    MLP,
    Value,
    compile,
    detect_anomaly,
    draw,
    grad,
    hessian,
    hvp,
    jacobian,
    linear,
    logsumexp,
    no_grad,
    sum_of,
    topological_order,
)
from microgrid.derivatives import local_derivatives
from microgrid.losses import quadratic


def graph() -> tuple[Value, list[Value]]:
    """A graph with shared nodes, every kind of operand, and an interior node labelled."""
    x, y, w = Value(0.7, label="x"), Value(-1.3, label="y"), Value(0.4, label="w")
    h = (x * w + y).tanh()
    h.label = "h"
    out = logsumexp([h * y, x / (y * y + 1.0), 2.0]) + linear([w, x], [h, 0.5], y) + x.exp()
    return out, [x, y, w, h]


# -- grad: the numbers --------------------------------------------------------------------


def test_grad_gives_backwards_numbers_exactly_and_touches_no_grad() -> None:
    out, (x, y, w, h) = graph()
    x.grad, y.grad, w.grad = 10.0, 20.0, 30.0  # held from an earlier pass
    got = grad(out, [x, y, w, h])
    assert (x.grad, y.grad, w.grad, h.grad) == (10.0, 20.0, 30.0, 0.0)
    for v in (x, y, w):
        v.zero_grad()
    out.backward()
    assert [g.data for g in got] == [x.grad, y.grad, w.grad, h.grad]  # exactly
    assert all(not g.parents for g in got)  # new leaves holding the numbers


def test_an_input_the_output_does_not_depend_on_gets_0_and_the_seed_scales() -> None:
    x, unrelated = Value(2.0), Value(5.0)
    dx, du = grad(x * x, [x, unrelated])
    assert (dx.data, du.data) == (4.0, 0.0)
    assert [g.data for g in grad(x * x, [x, unrelated], seed=-0.5)] == [-2.0, 0.0]
    assert grad(x, [x])[0].data == 1.0 and grad(x, [unrelated])[0].data == 0.0
    assert [g.data for g in grad(x * x, [x, unrelated], create_graph=True)] == [4.0, 0.0]


@pytest.mark.parametrize(("args", "kwargs", "error", "message"), [
    ((2.0, []), {}, TypeError, "grad: output must be a Value, got float 2.0"),
    (("x * y", []), {}, TypeError, "grad: output must be a Value, got str 'x \\* y'"),
    ((Value(1.0), Value(1.0)), {}, TypeError, "got one Value; write \\[x\\]"),
    ((Value(1.0), [Value(1.0), 3.0]), {}, TypeError, "grad: inputs\\[1\\] must be a Value, "
     "got float 3.0"),
    ((Value(1.0), "x"), {}, TypeError, "inputs must be a list of Values, got str"),
    ((Value(1.0), {Value(1.0)}), {}, TypeError, "a set has no order"),
    ((Value(1.0), []), {"seed": math.nan}, ValueError, "seed must be a finite number, got nan"),
    ((Value(1.0), []), {"seed": math.inf}, ValueError, "seed must be a finite number, got inf"),
    ((Value(1.0), []), {"seed": "1"}, TypeError, "seed must be a real number, got str '1'"),
    ((Value(1.0), []), {"create_graph": 1}, TypeError, "create_graph must be True or False"),
])
def test_grad_refuses_what_is_not_a_value_or_a_finite_seed(
    args: tuple[object, ...], kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        grad(*args, **kwargs)  # type: ignore[arg-type]


def test_grad_refuses_a_graph_not_recorded_and_building_inside_no_grad() -> None:
    x = Value(2.0)
    with no_grad():
        y = x * x
    with pytest.raises(RuntimeError, match="computed under no_grad"):
        grad(y, [x])
    z = x * x
    with no_grad(), pytest.raises(RuntimeError, match="create_graph=True inside no_grad"):
        grad(z, [x], create_graph=True)
    with no_grad():
        assert grad(z, [x])[0].data == 4.0  # the float pass records nothing anyway


# -- grad: derivatives as a graph ------------------------------------------------------


def test_the_must_show_second_and_third_derivatives() -> None:
    x = Value(1.7)
    (d1,) = grad(x**3, [x], create_graph=True)
    (d2,) = grad(d1, [x], create_graph=True)
    assert grad(grad(x**3, [x], create_graph=True)[0], [x])[0].data == 6 * x.data
    assert (d1.data, d2.data) == (3 * x.data**2, 6 * x.data)
    assert grad(d2, [x])[0].data == 6.0
    t = Value(0.3)
    th = t.tanh()
    (g1,) = grad(th, [t], create_graph=True)
    (g2,) = grad(g1, [t], create_graph=True)
    (g3,) = grad(g2, [t])
    s = th.data
    assert g2.data == pytest.approx(-2 * s * (1 - s * s), rel=1e-14)
    assert g3.data == pytest.approx(-2 * (1 - s * s) * (1 - 3 * s * s), rel=1e-14)


def test_create_graph_results_are_nodes_of_their_own_that_depend_on_the_inputs() -> None:
    x, y = Value(3.0, label="x"), Value(-2.0, label="y")
    dx, dy = grad(x * y, [x, y], create_graph=True)
    assert (dx.data, dy.data) == (-2.0, 3.0)
    assert dx is not y and dy is not x  # y itself is the derivative: given as a new node
    assert (y.label, x.label) == ("y", "x")
    assert grad(dx, [y])[0].data == 1.0 and grad(dx, [x])[0].data == 0.0
    b1, b2 = Value(1.0), Value(2.0)
    g1, g2 = grad(b1 + b2, [b1, b2], create_graph=True)
    assert g1 is not g2 and g1.data == g2.data == 1.0


def test_contributions_into_one_node_are_one_sum_node_not_a_chain() -> None:
    x = Value(0.5)
    a = [Value(float(k)) for k in range(1, 6)]
    f = sum_of([x * ak for ak in a])
    (dx,) = grad(f, [x], create_graph=True)
    assert dx.op == "sum" and dx.parents == tuple(a)
    assert dx.data == 15.0
    ops = [n.op for n in topological_order(dx)]
    assert "+" not in ops
    # a node used by many others: its derivative is one n-ary node too
    y = Value(0.3)
    t = y.tanh()
    (dy,) = grad(t * 2.0 + t * t + t.exp(), [y], create_graph=True)
    (total,) = [n for n in topological_order(dy) if n.op == "sum"]
    (terms,) = microgrid.engine.OPS["sum"].operands(total)
    assert len(terms) == 4 and terms[:2] == (t, t) and terms[2].op == "exp" and terms[3] == 2.0


def test_a_sum_of_products_into_one_node_is_one_linear_node_bp2() -> None:
    """∂C/∂a^2_1 = sum_j w^3_j1 δ^3_j: BP2's (w^T δ) is one linear node, not a chain."""
    net = MLP(2, [2, 3], activation="sigmoid", seed=2)
    trace = net.trace([0.5, -0.4])
    c = quadratic(trace.a[-1], [0.1, 0.2, 0.3])
    c.label = "C"
    (da,) = grad(c, [trace.a_of(2, 1)], create_graph=True)
    assert da.op == "linear" and da.label == "∂C/∂a^2_1"
    weights, deltas, bias = microgrid.engine.OPS["linear"].operands(da)
    assert list(weights) == [net.weight(3, j, 1) for j in (1, 2, 3)] and bias == 0.0
    assert [d.label for d in deltas] == ["δ^3_1", "δ^3_2", "δ^3_3"]
    c.backward()
    assert da.data == pytest.approx(trace.a_of(2, 1).grad, rel=1e-14)


def test_a_zero_derivative_at_the_point_is_still_differentiated() -> None:
    """(x - 1)**2 at x = 1: the derivative 2(x - 1) is 0 there, but its own is 2."""
    x = Value(1.0)
    (d1,) = grad((x - 1.0) ** 2, [x], create_graph=True)
    assert d1.data == 0.0
    assert grad(d1, [x])[0].data == 2.0
    # and through a product whose other factor is 0 now: d/dx d/dy (x*y) = 1
    x, y = Value(0.0), Value(0.0)
    (dy,) = grad(x * y, [y], create_graph=True)
    assert grad(dy, [x])[0].data == 1.0


def test_a_dead_relu_and_constants_add_nothing_to_the_graph() -> None:
    x = Value(-1.0)
    (d,) = grad((x * 3.0).relu() + x * 2.0, [x], create_graph=True)
    assert d.data == 2.0 and not d.parents  # a constant: a new leaf
    (d,) = grad((x * x).relu(), [x], create_graph=True)
    assert grad(d, [x])[0].data == 2.0  # relu' = 1 here (x*x > 0): d(2x)/dx


def test_grad_with_respect_to_interior_nodes() -> None:
    out, (x, y, w, h) = graph()
    out.backward()
    (dh,) = grad(out, [h], create_graph=True)
    assert dh.data == pytest.approx(h.grad, rel=1e-15)

    def dh_at(xv: float) -> float:  # ∂out/∂h with x moved (and h with it)
        out, (_, _, _, h) = graph_at(xv, y.data, w.data)
        return grad(out, [h])[0].data

    e = 1e-6
    central = (dh_at(x.data + e) - dh_at(x.data - e)) / (2 * e)
    assert grad(dh, [x])[0].data == pytest.approx(central, rel=1e-7)


def graph_at(x: float, y: float, w: float) -> tuple[Value, list[Value]]:
    """`graph` at other inputs."""
    xv, yv, wv = Value(x), Value(y), Value(w)
    h = (xv * wv + yv).tanh()
    out = logsumexp([h * yv, xv / (yv * yv + 1.0), 2.0]) + linear([wv, xv], [h, 0.5], yv)
    return out + xv.exp(), [xv, yv, wv, h]


def test_local_derivatives_are_built_from_the_spec_as_values() -> None:
    x, y = Value(0.5), Value(2.0)
    t = x.tanh()
    (d,) = local_derivatives(t)
    assert d.op == "-" and d.data == t.local_grads[0]
    assert local_derivatives(x * y) == [y, x]
    assert local_derivatives(x * 2.0) == [2.0]
    assert local_derivatives(x) == []
    with pytest.raises(TypeError, match="expected a Value, got float"):
        local_derivatives(2.0)  # type: ignore[arg-type]
    odd = Value(1.0)
    odd.parents, odd.local_grads, odd.op = (x,), (1.0,), "sin"  # an op the table lacks
    with pytest.raises(ValueError, match=r"operation 'sin'.*OPS does not give"):
        grad(odd, [x], create_graph=True)


# -- non-finite derivatives ---------------------------------------------------------------


def test_the_float_pass_keeps_backwards_checks() -> None:
    x = Value(0.0, label="x")
    assert grad(x.sqrt(), [x])[0].data == math.inf  # an exact infinity is handed over
    with pytest.raises(ValueError, match=r"grad: a non-finite derivative at the leaf 'x'.*"
                       r"exact infinities each, and their sum is nan"):
        grad(x.sqrt() - x.sqrt() * 2.0, [x])
    tiny = Value(1e-200, label="tiny")
    with pytest.raises(OverflowError, match=r"local derivative .*'tiny'.* overflowed"):
        grad(1.0 / tiny, [tiny])
    with detect_anomaly(), pytest.raises(ValueError, match=r"exactly .*sqrt's slope at 0"):
        grad(x.sqrt(), [x])
    assert grad(x.sqrt() * 0.0, [x])[0].data == 0.0  # a 0 passes nothing on: no 0 * inf


def test_detect_anomaly_refuses_a_graph_whose_data_changed() -> None:
    with detect_anomaly():
        x = Value(2.0)
        y = x * x
    x.data = 5.0
    with detect_anomaly(), pytest.raises(RuntimeError, match=r"^grad: .* was 2\.0 when"):
        grad(y, [x], create_graph=True)


def test_the_value_pass_refuses_an_infinite_local_derivative_naming_its_node() -> None:
    x = Value(0.0, label="x")
    with pytest.raises(ValueError, match=r"the 'sqrt' node.*is inf, exactly \(sqrt's slope "
                       r"at 0 is vertical\).*no node holds"):
        grad(x.sqrt(), [x], create_graph=True)
    y = Value(3.0)
    (dy,) = grad(x.sqrt() * y, [y], create_graph=True)  # x is not asked for: no refusal
    assert dy.data == 0.0
    tiny = Value(1e-120, label="tiny")
    u = 1.0 / tiny  # 1e120, its derivative -1e240: finite numbers, and u*u = 1e240
    with pytest.raises(OverflowError, match=r"grad: building the derivative at the leaf "
                       r"'tiny' \(= 1e-120\): mul\(-1e\+240, 2e\+120\) overflows a float"):
        grad(u * u, [tiny], create_graph=True)  # 2u times -1e240 does not fit a float


# -- backward(create_graph=True) -----------------------------------------------------------


def test_backward_with_create_graph_fills_grad_as_ever_and_returns_every_derivative() -> None:
    out, (x, y, w, _) = graph()
    grads = out.backward(create_graph=True)
    floats = {v: v.grad for v in topological_order(out)}
    for v in (x, y, w):
        v.zero_grad()
    out.backward()
    assert floats == {v: v.grad for v in topological_order(out)}  # .grad exactly as before
    assert set(grads) == set(topological_order(out))
    for node, d in grads.items():
        assert isinstance(d, Value) and d.data == pytest.approx(node.grad, rel=1e-14)
    assert grads[x] is not grads[y]
    assert grad(grads[x], [y])[0].data == pytest.approx(grad(grads[y], [x])[0].data, rel=1e-12)


def test_backward_with_create_graph_changes_nothing_when_it_cannot_build() -> None:
    x = Value(0.0)
    x.grad = 7.0
    with pytest.raises(ValueError, match="sqrt"):
        x.sqrt().backward(create_graph=True)
    assert x.grad == 7.0
    with pytest.raises(TypeError, match="create_graph must be True or False"):
        x.sqrt().backward(create_graph="yes")  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="backward: grad must be a finite number, got nan"):
        (x * 2.0).backward(math.nan, create_graph=True)


# -- depth, memory --------------------------------------------------------------------------


def test_a_graph_a_hundred_thousand_nodes_deep_twice_differentiated() -> None:
    """No recursion: the chain is far deeper than Python's recursion limit."""
    x = Value(0.5)
    y = x
    for _ in range(33_334):
        y = (y * 0.999 + 0.001).tanh()
    assert len(topological_order(y)) > 100_000 > sys.getrecursionlimit()
    (d1,) = grad(y, [x], create_graph=True)
    (d2,) = grad(d1, [x])
    y.backward()
    assert d1.data == pytest.approx(x.grad, rel=1e-12)
    assert math.isfinite(d2.data)


def test_the_derivative_graph_is_freed_without_the_cyclic_collector() -> None:
    gc.collect()
    gc.disable()
    try:
        alive_before = sum(type(o) is Value for o in gc.get_objects())
        x = Value(0.5)
        y = x
        for _ in range(2_000):
            y = (y * 0.5 + 0.25).tanh()
        (d1,) = grad(y, [x], create_graph=True)
        (d2,) = grad(d1, [x], create_graph=True)
        grads = d2.backward(create_graph=True)
        built = sum(type(o) is Value for o in gc.get_objects())
        del x, y, d1, d2, grads
        alive = sum(type(o) is Value for o in gc.get_objects())
    finally:
        gc.enable()
    assert built - alive_before > 20_000
    assert alive == alive_before


# -- hessian, hvp, jacobian ------------------------------------------------------------------


def test_hessian_is_symmetric_by_construction_and_has_the_closed_form() -> None:
    def f(v: list[Value]) -> Value:
        x, y, z = v
        return x**2 * y + (y * z).tanh() + x.exp() * z

    h = hessian(f, [0.3, -0.8, 1.1])
    x, y, z = 0.3, -0.8, 1.1
    t = math.tanh(y * z)
    s2 = 1 - t * t
    expected = [[2 * y + math.exp(x) * z, 2 * x, math.exp(x)],
                [2 * x, -2 * t * s2 * z * z, s2 - 2 * t * s2 * y * z],
                [math.exp(x), s2 - 2 * t * s2 * y * z, -2 * t * s2 * y * y]]
    for row, want in zip(h, expected, strict=True):
        assert row == pytest.approx(want, rel=1e-12)
    assert all(h[i][j] == h[j][i] for i in range(3) for j in range(3))


def test_hvp_is_the_hessian_times_v_and_jacobian_has_a_row_per_output() -> None:
    def f(v: list[Value]) -> Value:
        return v[0] ** 3 * v[1] + (v[1] * v[2]).sigmoid()

    xs, v = [0.5, -1.5, 2.0], [1.0, -2.0, 0.5]
    h = hessian(f, xs)
    assert hvp(f, xs, v) == pytest.approx(
        [sum(hij * vj for hij, vj in zip(row, v, strict=True)) for row in h], rel=1e-12)
    j = jacobian(lambda u: [u[0] * u[1], u[2].exp(), u[0] + 0.0 * u[1]], xs)
    assert j == [[-1.5, 0.5, 0.0], [0.0, 0.0, math.exp(2.0)], [1.0, 0.0, 0.0]]
    assert jacobian(lambda u: u[0] * u[1], xs) == [[-1.5, 0.5, 0.0]]


def test_the_helpers_take_values_as_they_are_and_leave_their_grads() -> None:
    net = MLP(2, [3, 1], activation="tanh", seed=0)
    params = net.parameters()
    for p in params:
        p.grad = 1.5
    before = [p.data for p in params]
    h = hessian(lambda ps: quadratic(net([0.5, -0.2]), [0.3]), params)
    assert len(h) == len(params) == 13 and all(len(row) == 13 for row in h)
    assert [p.grad for p in params] == [1.5] * 13 and [p.data for p in params] == before
    assert h[0][0] != 0.0


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda: hessian(3.0, [1.0]), TypeError, "hessian: f must be callable, got float"),
    (lambda: hessian(lambda v: v[0], 1.0), TypeError, "xs must be a list of numbers"),
    (lambda: hessian(lambda v: v[0], []), ValueError, "xs is empty"),
    (lambda: hessian(lambda v: v[0], [1.0, "2"]), TypeError, r"xs\[1\] must be a number or "
     "a Value, got str '2'"),
    (lambda: hessian(lambda v: v[0], [math.nan]), ValueError, r"xs\[0\] must be a finite"),
    (lambda: hessian(lambda v: 2.0, [1.0]), TypeError, "f must return a Value, got float"),
    (lambda: hvp(lambda v: v[0], [1.0], [1.0, 2.0]), ValueError, "v has 2 entries and xs 1"),
    (lambda: hvp(lambda v: v[0], [1.0], [math.inf]), ValueError, r"v\[0\] must be a finite"),
    (lambda: hvp(lambda v: v[0], [1.0], 2.0), TypeError, "v must be a list of numbers"),
    (lambda: jacobian(lambda v: 2.0, [1.0]), TypeError, "must return a list of Values"),
    (lambda: jacobian(lambda v: [v[0], 2.0], [1.0]), TypeError, r"output \[1\] must be a "
     "Value, got float"),
])
def test_the_helpers_refuse_bad_arguments_naming_them(
    call: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        call()  # type: ignore[operator]


def torch_network(net: MLP) -> object:
    """``net`` as a torch function of its parameters, flattened in `MLP.parameters` order
    (each neuron's weights, then its bias): tanh hidden layers, a linear output."""
    import torch

    def outputs(p: torch.Tensor, x: list[float]) -> torch.Tensor:
        a, at = torch.tensor(x, dtype=torch.float64), 0
        for l, (n_in, n_out) in enumerate(zip(net.sizes, net.sizes[1:], strict=False), 2):  # noqa: E741
            block = p[at: at + n_out * (n_in + 1)].reshape(n_out, n_in + 1)
            a = block[:, :n_in] @ a + block[:, n_in]
            a = torch.tanh(a) if l < len(net.sizes) else a
            at += n_out * (n_in + 1)
        return a

    return outputs


@pytest.mark.torch
@pytest.mark.parametrize("seed", range(5))
def test_hessian_hvp_jacobian_equal_torchs_for_a_random_network(seed: int) -> None:
    """The issue's case: a random MLP(3, [4, 2]), tanh, quadratic cost, to 1e-10 relative."""
    import torch
    from torch.autograd.functional import hessian as t_hessian
    from torch.autograd.functional import hvp as t_hvp
    from torch.autograd.functional import jacobian as t_jacobian

    net = MLP(3, [4, 2], activation="tanh", seed=seed)
    x, y = [0.4, -0.9, 0.25], [0.3, -0.6]
    params = net.parameters()
    outputs = torch_network(net)
    target = torch.tensor(y, dtype=torch.float64)

    def cost(p: torch.Tensor) -> torch.Tensor:
        return 0.5 * ((outputs(p, x) - target) ** 2).sum()  # type: ignore[operator]

    p = torch.tensor([q.data for q in params], dtype=torch.float64)
    h = hessian(lambda ps: quadratic(net(x), y), params)
    expected = t_hessian(cost, p).tolist()
    assert h == [pytest.approx(row, rel=1e-10, abs=1e-15) for row in expected]
    assert all(h[i][j] == h[j][i] for i in range(len(h)) for j in range(len(h)))
    v = [0.1 * ((i * 7) % 5 - 2) for i in range(len(params))]
    got = hvp(lambda ps: quadratic(net(x), y), params, v)
    want = t_hvp(cost, p, torch.tensor(v, dtype=torch.float64))[1].tolist()
    assert got == pytest.approx(want, rel=1e-10, abs=1e-15)
    j = jacobian(lambda ps: net(x), params)
    want_j = t_jacobian(lambda q: outputs(q, x), p).tolist()  # type: ignore[operator]
    assert j == [pytest.approx(row, rel=1e-12, abs=1e-300) for row in want_j]


# -- compiled -----------------------------------------------------------------------------


def test_a_batch_of_hessian_vector_products_compiles_and_equals_eager() -> None:
    np = pytest.importorskip("numpy")
    net = MLP(3, [4, 2], activation="tanh", seed=1)
    params = net.parameters()
    v = [0.1 * ((i * 3) % 7 - 3) for i in range(len(params))]

    def hv(x: list[Value], y: list[Value]) -> list[Value]:
        first = grad(quadratic(net(x), y), params, create_graph=True)
        return grad(linear(first, v), params, create_graph=True)

    step = compile(hv, [0.1, 0.2, 0.3], [0.0, 1.0], params=params)
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    batched = step.forward(X, Y)
    eager = [hvp(lambda ps, x=x, y=y: quadratic(net(x), y), params, v)
             for x, y in zip(X.tolist(), Y.tolist(), strict=True)]
    assert batched.shape == (6, len(params))
    assert batched.tolist() == [pytest.approx(row, rel=1e-12, abs=1e-15) for row in eager]
    # the batch's summed Hessian-vector product, as the compiled gradient of v . grad
    dot = compile(lambda x, y: linear(grad(quadratic(net(x), y), params, create_graph=True), v),
                  [0.1, 0.2, 0.3], [0.0, 1.0], params=params)
    _, summed = dot(X, Y)
    assert summed == pytest.approx(np.sum(np.array(eager), axis=0).tolist(), rel=1e-11,
                                   abs=1e-14)


# -- the pass named in the book's notation -----------------------------------------------------


def network_pass() -> tuple[Value, Value, object]:
    net = MLP(2, [2, 1], activation="sigmoid", seed=3)
    trace = net.trace([0.05, 0.1])
    c = quadratic(trace.a[-1], [0.01])
    c.label = "C"
    return c, net.weight(2, 1, 2), trace


def test_the_pass_names_delta_sigma_prime_and_the_derivatives_of_labelled_nodes() -> None:
    c, w, trace = network_pass()
    (dw,) = grad(c, [w], create_graph=True)
    labels = {n.label for n in topological_order(dw)}
    assert dw.label == "∂C/∂w^2_12"
    assert {"δ^3_1", "δ^2_1", "σ'(z^3_1)", "σ'(z^2_1)", "∂C/∂a^3_1", "∂C/∂a^2_1", "a^1_2",
            "w^3_11"} <= labels
    c.backward()
    by_label = {n.label: n for n in topological_order(dw)}
    assert by_label["δ^2_1"].data == pytest.approx(trace.delta_of(2, 1), rel=1e-14)  # type: ignore[attr-defined]
    assert by_label["δ^3_1"].data == pytest.approx(trace.delta_of(3, 1), rel=1e-14)  # type: ignore[attr-defined]
    assert dw.data == pytest.approx(w.grad, rel=1e-14)  # BP4: a^1_2 δ^2_1
    source = draw(dw).source
    for name in ("δ²₁", "δ³₁", "σ'(z²₁)", "∂C/∂w²₁₂", "a¹₂"):
        assert name in source


def test_the_pass_labels_only_nodes_it_builds_and_not_a_derivative_of_a_derivative() -> None:
    c, w, _ = network_pass()
    original = {n: n.label for n in topological_order(c)}
    (dw,) = grad(c, [w], create_graph=True)
    assert {n: n.label for n in original} == original  # nothing of the user's relabelled
    (dww,) = grad(dw, [w], create_graph=True)
    second = set(topological_order(dww)) - set(topological_order(dw)) - set(original)
    assert second and all(not re.search("δ|∂", n.label) for n in second)
    c.label = ""
    (plain,) = grad(c, [w], create_graph=True)
    assert not plain.label
    assert all("δ" not in n.label for n in topological_order(plain))


def test_the_package_exports_the_functions_not_a_module_of_that_name() -> None:
    from microgrid import derivatives

    assert microgrid.grad is derivatives.grad and callable(microgrid.grad)
    assert (microgrid.hessian, microgrid.hvp, microgrid.jacobian) == (
        derivatives.hessian, derivatives.hvp, derivatives.jacobian)
    assert {"grad", "hessian", "hvp", "jacobian"} <= set(microgrid.__all__)
    code = ("import microgrid\nprint('microgrid.derivatives' in __import__('sys').modules)\n"
            "import microgrid.derivatives\nfrom microgrid import grad\n"
            "print(callable(microgrid.grad), callable(grad), microgrid.derivatives.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "True", "True", "microgrid.derivatives"]


def test_the_higher_order_page_runs_as_written_and_its_picture_is_committed() -> None:
    """Every >>> line of docs/higher-order.md prints what the page says (its compile
    example needs numpy); the drawing it shows is in the repository
    (scripts/make_doc_images.py makes it)."""
    pytest.importorskip("numpy")
    page = Path(__file__).resolve().parent.parent / "docs" / "higher-order.md"
    result = doctest.testfile(str(page), module_relative=False)
    assert result.attempted > 40 and result.failed == 0
    pictures = re.findall(r"\]\((img/[\w/.]+)\)", page.read_text(encoding="utf-8"))
    assert pictures and all((page.parent / p).is_file() for p in pictures)
