"""Specification of `microgrid.strategies`: hypothesis strategies for users' property tests."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from microgrid import Value, gradcheck, topological_order
from microgrid.backprop import COSTS
from microgrid.engine import OPS
from microgrid.nn import MLP
from microgrid.strategies import (
    BINARY_OPS,
    NARY_OPS,
    UNARY_OPS,
    Expression,
    Step,
    examples_for,
    expressions,
    networks,
    values,
)


@given(values(-3.0, 5.0))
def test_values_are_bounded_finite_leaves(v: Value) -> None:
    assert isinstance(v, Value) and v.parents == ()
    assert -3.0 <= v.data <= 5.0


@given(expressions())
def test_expressions_are_domain_safe_and_kink_free(expr: Expression) -> None:
    """Every drawn expression evaluates, and gradcheck compares every input (nothing skipped)."""
    root, leaves = expr.build()
    assert math.isfinite(root.data)
    assert [v.label for v in leaves] == [f"x{i}" for i in range(len(expr.inputs))]
    result = gradcheck(expr, expr.inputs)
    assert result.ok, f"{expr}\n{result}"
    assert result.skipped == []


@given(expressions())
def test_expressions_only_use_the_listed_operations(expr: Expression) -> None:
    for n, step in enumerate(expr.steps):
        assert step.op in UNARY_OPS + BINARY_OPS + NARY_OPS
        assert all(0 <= i < len(expr.inputs) + n for i in step.args)  # earlier nodes only


def test_expressions_share_subexpressions() -> None:
    """Some draws reuse a node: the root's graph is a DAG with a node feeding two others."""
    def shared(e: Expression) -> bool:
        root, _ = e.build()
        uses: dict[int, int] = {}
        for node in topological_order(root):
            for parent in set(map(id, node.parents)):
                uses[parent] = uses.get(parent, 0) + 1
        return any(n >= 2 for n in uses.values())

    assert shared(find(expressions(), shared))


def test_expressions_shrink_to_small_readable_cases() -> None:
    """The smallest expression containing a log is one input and a step or two, printed as code."""
    # no example database and a fixed seed: a fresh clone shrinks exactly as here
    example = find(expressions(), lambda e: any(s.op == "log" for s in e.steps),
                   settings=settings(database=None, derandomize=True))
    assert len(example.inputs) == 1 and len(example.steps) <= 2
    text = str(example)
    assert text.splitlines()[0].startswith("x0 = ")
    assert ".log()" in text
    assert repr(example) == text


def test_expression_prints_as_the_code_it_runs() -> None:
    expr = Expression((0.5, -1.0), (Step("*", (0, 1)), Step("tanh", (2,)),
                                    Step("linear", (2, 3, 0, 1), 0.25)))
    assert str(expr) == (
        "x0 = 0.5, x1 = -1.0\n"
        "t0 = x0 * x1\n"
        "t1 = t0.tanh()\n"
        "t2 = linear([t0, t1], [x0, x1], 0.25)"
    )
    root, _ = expr.build()
    t0 = -0.5
    assert root.data == t0 * 0.5 + math.tanh(t0) * -1.0 + 0.25


def test_a_number_operand_is_written_on_its_side() -> None:
    expr = Expression((0.5,), (Step("-", (0,), 1.5, const_first=True), Step("**", (1,), 2.0)))
    assert str(expr).splitlines()[1:] == ["t0 = 1.5 - x0", "t1 = t0 ** 2.0"]
    assert expr.build()[0].data == (1.5 - 0.5) ** 2.0


@given(expressions(max_steps=3, ops=["log", "/"]))
def test_expressions_can_be_limited_to_some_operations(expr: Expression) -> None:
    assert {step.op for step in expr.steps} <= {"log", "/"}
    assert gradcheck(expr, expr.inputs).ok


def test_the_operations_drawn_are_the_engines_table() -> None:
    """Every operation of the table is drawn (the strategies keep no list of their own)."""
    assert set(UNARY_OPS + BINARY_OPS + NARY_OPS) == set(OPS)
    try:
        expressions(ops=["no such op"])
    except ValueError as e:
        assert "no such op" in str(e)
    else:
        raise AssertionError("no ValueError")


def test_expression_called_with_the_wrong_number_of_inputs() -> None:
    expr = Expression((0.5,), (Step("neg", (0,)),))
    try:
        expr([Value(1.0), Value(2.0)])
    except ValueError as e:
        assert "expected 1 inputs, got 2" in str(e)
    else:
        raise AssertionError("no ValueError")


@given(networks(max_depth=3, max_width=4, activations=("tanh",), output_activations=("softmax",)))
def test_networks_respect_their_bounds(net: MLP) -> None:
    assert 2 <= len(net.sizes) <= 4
    assert all(1 <= n <= 4 for n in net.sizes)
    assert net.activation == "tanh" and net.output_activation == "softmax"


@given(networks())
def test_networks_are_rebuilt_from_their_seed(net: MLP) -> None:
    """A drawn network is MLP(sizes, activation, output_activation, init, seed): reproducible."""
    again = MLP(net.sizes[0], net.sizes[1:], net.activation, net.output_activation, net.init,
                seed=net.seed)
    assert again.state_dict() == net.state_dict()


@given(st.data())
def test_examples_fit_the_network_and_the_cost(data: st.DataObject) -> None:
    net = data.draw(networks())
    cost = data.draw(st.sampled_from(COSTS))
    x, y = data.draw(examples_for(net, cost))
    assert len(x) == net.sizes[0] and len(y) == net.sizes[-1]
    assert all(-2.0 <= v <= 2.0 for v in x)
    if cost == "log_likelihood":
        assert sorted(y) == [0.0] * (len(y) - 1) + [1.0]
    elif cost == "cross_entropy":
        assert all(0.0 <= v <= 1.0 for v in y)
    else:
        assert all(-1.0 <= v <= 1.0 for v in y)


def test_examples_for_refuses_a_cost_it_does_not_know() -> None:
    net = MLP(2, [1], seed=0)
    with pytest.raises(ValueError, match=r"did you mean 'cross_entropy'"):
        examples_for(net, "cross-entropy")
    with pytest.raises(TypeError, match="cost must be a str"):
        examples_for(net, 3)  # type: ignore[arg-type]


def test_without_hypothesis_the_error_names_the_extra() -> None:
    """Importing the module without hypothesis says how to install it; the core still imports."""
    code = (
        "import sys; sys.modules['hypothesis'] = None\n"
        "import microgrid, microgrid.backprop, microgrid.gradcheck\n"
        "try:\n"
        "    import microgrid.strategies\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert 'pip install "microgrid-autodiff[testing]"' in out
