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
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import microgrid
from microgrid import Value, compile, draw, engine, gradcheck, topological_order
from microgrid.compiler.kernels import KERNELS
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
    written = spec.operands(root)
    caption = spec.caption(written, lambda c: str(int(c)) if c.is_integer() else f"{c:.4g}")
    assert drawn_text(root) == caption
    if not any(isinstance(o, float) for o in written):
        assert caption == spec.label
    check_compiled(expr, root, leaves)
    check_called(spec, root)
    for k in spec.kinks:  # gradcheck skips the kink, saying so
        assert gradcheck(lambda x: spec.apply(x[0]), [k]).skipped


def test_the_engines_and_the_compilers_docstring_examples_run() -> None:
    import doctest

    from microgrid import compiler

    for module in (engine, compiler):
        result = doctest.testmod(module)
        assert result.attempted > 5 and result.failed == 0
