"""Specification of the table of operations, `microgrid.engine.OPS`, across every
layer that reads it.

`test_every_operation_is_complete` runs once for every kind of node in the
table: an operation added with its spec, its module-level function and its
export is checked by it as it stands, and one that forgets anything fails it,
naming the operation. Each case is one node of that operation on inputs
drawn by the shipped strategies (so inside its domain and away from its
kinks, with numbers on either side where it takes them).
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import microgrid
from microgrid import Value, compile, draw, engine, grad, gradcheck, topological_order
from microgrid.compiler.kernels import KERNELS
from microgrid.derivatives import local_derivatives
from microgrid.engine import OPS, OpSpec
from microgrid.expression import FUNCTIONS, evaluate
from microgrid.strategies import Expression, expressions

REL = 1e-12  # numpy's tanh and power may round an ulp or two from the C library's


def test_the_table_lists_every_kind_of_node_the_engine_makes() -> None:
    """Every op string the engine gives a node (``_node(..., op)`` in its source) has a
    spec, with its name, arity and label, and the table is read-only."""
    tree = ast.parse(Path(engine.__file__).read_text(encoding="utf-8"))
    made = {call.args[3].value for call in ast.walk(tree)
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
            and call.func.id == "_node" and isinstance(call.args[3], ast.Constant)}
    assert made == set(OPS) and len(made) >= 16
    for name, spec in OPS.items():
        assert isinstance(spec, OpSpec) and spec.name == name
        assert spec.arity in (1, 2, None) and spec.label
    with pytest.raises(TypeError):
        OPS["sin"] = OPS["tanh"]  # type: ignore[index]


def drawn_text(root: Value) -> str:
    """The text of the root's operation in its drawing."""
    order = topological_order(root)
    source = draw(root, legend=False).source
    match = re.search(rf'^  o{len(order) - 1} \[label="((?:[^"\\]|\\.)*)"\];$', source, re.M)
    assert match, source
    return match[1]


def check_batched_twins(spec: OpSpec, root: Value) -> None:
    """Its batched forward and local derivatives give the engine's numbers, or it names
    a compile kernel."""
    if spec.forward is None:
        assert spec.kernel in KERNELS, f"{spec.name}: no batched forward and no known kernel"
        return
    assert spec.kernel is None and len(spec.derivatives) == spec.arity
    written = spec.operands(root)
    arrays = [np.array([o.data if isinstance(o, Value) else o]) for o in written]
    out = np.empty(1)
    spec.forward(np, out, *arrays)
    assert out[0] == pytest.approx(root.data, rel=REL, abs=0.0)
    locals_ = iter(root.local_grads)
    for i, operand in enumerate(written):
        if not isinstance(operand, Value):
            continue
        local = next(locals_)
        derivative = spec.derivatives[i]
        if callable(derivative):
            derivative = np.broadcast_to(derivative(np, out, *arrays), (1,))[0]
        batched = derivative
        assert batched == pytest.approx(local, rel=REL, abs=1e-300)
        if spec.slope_domain and spec.slope_domain[i] is not None:
            assert spec.slope_domain[i](np, *arrays).all()


# -- second derivatives in closed form, over a node's parents ----------------------------

Matrix = list[list[float]]


def _values(node: Value) -> list[float]:
    """The data of the operands of a node as written, numbers included, flattened."""
    out: list[float] = []
    for o in OPS[node.op].operands(node):
        items = o if isinstance(o, tuple | list) else (o,)
        out += [i.data if isinstance(i, Value) else i for i in items]
    return out


def _zeros(node: Value) -> Matrix:
    return [[0.0] * len(node.parents) for _ in node.parents]


def _binary(dxx: Callable[[float, float], float], dxy: Callable[[float, float], float],
            dyy: Callable[[float, float], float]) -> Callable[[Value], Matrix]:
    """A binary op's second partials, over whichever of its two operands are Values."""

    def second(node: Value) -> Matrix:
        x, y = OPS[node.op].operands(node)
        a, b = (o.data if isinstance(o, Value) else o for o in (x, y))
        full = [[dxx(a, b), dxy(a, b)], [dxy(a, b), dyy(a, b)]]
        kept = [i for i, o in enumerate((x, y)) if isinstance(o, Value)]
        return [[full[i][j] for j in kept] for i in kept]

    return second


def _unary(d2: Callable[[float, float], float]) -> Callable[[Value], Matrix]:
    """A unary op's second derivative, from its argument x and its result r."""
    return lambda node: [[d2(node.parents[0].data, node.data)]]


def _softmax_curvature(node: Value) -> Matrix:
    """logsumexp's: diag(s) - s s^T over its Value terms."""
    terms = OPS["logsumexp"].operands(node)[0]
    s = [math.exp(t.data - node.data) for t in terms if isinstance(t, Value)]
    return [[(si if i == j else 0.0) - si * sj for j, sj in enumerate(s)]
            for i, si in enumerate(s)]


def _linear_curvature(node: Value) -> Matrix:
    """linear's: 1 between a weight and its input when both are Values, else 0."""
    weights, inputs, _ = OPS["linear"].operands(node)
    index: dict[tuple[str, int], int] = {}
    for name, items in (("w", weights), ("x", inputs)):
        for k, item in enumerate(items):
            if isinstance(item, Value):
                index[name, k] = len(index)
    h = _zeros(node)
    for k in range(len(weights)):
        if ("w", k) in index and ("x", k) in index:
            h[index["w", k]][index["x", k]] = h[index["x", k]][index["w", k]] = 1.0
    return h


SECOND_DERIVATIVES: dict[str, Callable[[Value], Matrix]] = {
    "+": _zeros, "-": _zeros, "neg": _zeros, "sum": _zeros, "relu": _zeros, "abs": _zeros,
    "*": _binary(lambda x, y: 0.0, lambda x, y: 1.0, lambda x, y: 0.0),
    "/": _binary(lambda x, y: 0.0, lambda x, y: -1.0 / y**2, lambda x, y: 2.0 * x / y**3),
    "**": _binary(lambda x, y: y * (y - 1.0) * x ** (y - 2.0),
                  lambda x, y: x ** (y - 1.0) * (1.0 + y * math.log(x)),
                  lambda x, y: x**y * math.log(x) ** 2),
    "exp": _unary(lambda x, r: r),
    "log": _unary(lambda x, r: -1.0 / x**2),
    "tanh": _unary(lambda x, r: -2.0 * r * (1.0 - r * r)),
    "sigmoid": _unary(lambda x, r: r * (1.0 - r) * (1.0 - 2.0 * r)),
    "sqrt": _unary(lambda x, r: -0.25 / (x * r)),
    "logsumexp": _softmax_curvature,
    "linear": _linear_curvature,
}
"""Each operation's second partial derivatives in closed form, over its parents."""


def check_value_derivatives(spec: OpSpec, expr: Expression, root: Value,
                            leaves: list[Value]) -> None:
    """Its local derivatives as Values hold its float local gradients; their own
    derivatives are its second derivatives, in closed form and by central differences
    of the first (`gradcheck` of ``grad(..., create_graph=True)``)."""
    values = local_derivatives(root)
    numbers = [d.data if isinstance(d, Value) else d for d in values]
    if spec.name == "logsumexp":  # e^(t - r), where the float pass divides by the sum:
        # t - r is rounded to an ulp of r, which e^ turns into a relative error of that size
        rel = 4 * 2.220446049250313e-16 * (2.0 + abs(root.data))
        assert numbers == pytest.approx(list(root.local_grads), rel=rel, abs=1e-300)
    else:
        assert numbers == list(root.local_grads)
    # second derivatives over the leaves (an operand may be a leaf twice: x * x)
    second = SECOND_DERIVATIVES[spec.name](root)
    at = {leaf: i for i, leaf in enumerate(leaves)}
    expected = [[0.0] * len(leaves) for _ in leaves]
    for p, parent in enumerate(root.parents):
        for q, other in enumerate(root.parents):
            expected[at[parent]][at[other]] += second[p][q]
    first = grad(root, leaves, create_graph=True)
    for i, g in enumerate(first):
        row = [h.data for h in grad(g, leaves)]
        assert row == pytest.approx(expected[i], rel=1e-9, abs=1e-12), (i, str(expr))
        result = gradcheck(lambda xs, i=i: grad(expr(xs), [xs[i]], create_graph=True)[0],
                           expr.inputs)
        assert result.ok, f"{expr}\n{result}"


def check_compiled(expr: Expression, root: Value, leaves: list[Value]) -> None:
    """Replayed by compile, as parameters (batch-independent rows) and as per-example
    inputs, it gives the eager value and gradients."""
    root.backward()
    grads = [leaf.grad for leaf in leaves]
    params = [Value(x) for x in expr.inputs]
    loss, compiled = compile(lambda x: expr(params), [0.0], params=params)([[0.0]])
    assert loss == pytest.approx(root.data, rel=REL)
    assert compiled == pytest.approx(grads, rel=REL, abs=1e-300)
    shifts = [Value(0.0) for _ in expr.inputs]
    step = compile(lambda x: expr([xi + s for xi, s in zip(x, shifts, strict=True)]),
                   list(expr.inputs), params=shifts)
    loss, compiled = step([list(expr.inputs), list(expr.inputs)])
    assert loss == pytest.approx(2.0 * root.data, rel=REL)
    assert compiled == pytest.approx([2.0 * g for g in grads], rel=REL, abs=1e-300)


def check_called(spec: OpSpec, root: Value) -> None:
    """Where the CLI may call it, it parses (as a function and as a method) and is exported."""
    if spec.call is None:
        assert spec.name not in FUNCTIONS
        return
    assert spec.call in FUNCTIONS and spec.call in engine.__all__
    assert getattr(microgrid, spec.call) is getattr(engine, spec.call)
    (x,) = spec.operands(root)
    for text in (f"{spec.call}(x)", f"x.{spec.call}()"):
        assert evaluate(text, {"x": x.data}).data == root.data


@pytest.mark.parametrize("name", list(OPS))
@settings(max_examples=15)
@given(data=st.data())
def test_every_operation_is_complete(name: str, data: st.DataObject) -> None:
    """Fuzzed by the strategies; its local gradients equal central differences and its
    batched twins; drawn with its label; replayed by compile; called by the CLI."""
    spec = OPS[name]
    expr = data.draw(expressions(max_inputs=3, max_steps=1, ops=[name]))
    root, leaves = expr.build()
    assert root.op == name and expr.steps[0].op == name
    again = spec.apply(*spec.operands(root))  # the operands as written make it again
    assert (again.op, again.data, again.local_grads) == (name, root.data, root.local_grads)
    result = gradcheck(expr, expr.inputs)
    assert result.ok and result.skipped == [], f"{expr}\n{result}"
    check_batched_twins(spec, root)
    check_value_derivatives(spec, expr, root, leaves)
    written = spec.operands(root)
    caption = spec.caption(written, lambda c: str(int(c)) if c.is_integer() else f"{c:.4g}")
    assert drawn_text(root) == caption
    if not any(isinstance(o, float) for o in written):
        assert caption == spec.label
    check_compiled(expr, root, leaves)
    check_called(spec, root)
    for k in spec.kinks:  # gradcheck skips the kink, saying so
        assert gradcheck(lambda x: spec.apply(x[0]), [k]).skipped


def test_every_operation_has_its_derivatives_as_values_and_its_second_derivatives() -> None:
    """One Value derivative per operand (``value_derivatives``, beside the float one),
    and a closed form of its second derivatives here: a new op must bring both."""
    assert set(SECOND_DERIVATIVES) == set(OPS)
    for name, spec in OPS.items():
        operands = 3 if name == "linear" else spec.arity or 1
        assert len(spec.value_derivatives) == operands, name


@pytest.mark.parametrize("name", list(OPS))
def test_the_second_derivative_of_every_operation_is_its_closed_form(name: str) -> None:
    """``grad(grad(f(x), [x], create_graph=True)[0], [x])``: x**3 gives 6x exactly, and
    every op its closed form, at a point inside its domain with Values on every side."""
    x = Value(0.7)
    assert grad(grad(x**3, [x], create_graph=True)[0], [x])[0].data == 6 * x.data
    a, b, c = Value(0.7), Value(1.3), Value(-0.4)
    spec = OPS[name]
    node = {1: lambda: spec.apply(a), 2: lambda: spec.apply(a, b)}.get(
        spec.arity or 0, lambda: spec.apply(*spec.sample([a, b, c, a], 0.5)))()
    leaves = [a, b, c]
    expected = [[0.0] * 3 for _ in leaves]
    second = SECOND_DERIVATIVES[name](node)
    for p, parent in enumerate(node.parents):
        for q, other in enumerate(node.parents):
            expected[leaves.index(parent)][leaves.index(other)] += second[p][q]
    first = grad(node, leaves, create_graph=True)
    got = [[h.data for h in grad(g, leaves)] for g in first]
    assert got == [pytest.approx(row, rel=1e-12, abs=1e-15) for row in expected]


def test_the_engines_and_the_compilers_docstring_examples_run() -> None:
    import doctest

    from microgrid import compiler

    for module in (engine, compiler):
        result = doctest.testmod(module)
        assert result.attempted > 5 and result.failed == 0
