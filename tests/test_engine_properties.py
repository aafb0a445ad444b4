"""Properties of microgrid.engine on random expressions (hypothesis).

The expressions are those of `microgrid.strategies.expressions`: random DAGs
over every operation of the engine's table (`microgrid.engine.OPS`), with
shared subexpressions, numbers on either side of binary operations, and
every step's operands inside its domain and away from its kinks at the
drawn inputs (so finite differences can see the derivative). A new
operation of the table is drawn here with no edit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from rounding import magnitudes

from microgrid import (
    Value,
    detect_anomaly,
    no_grad,
    sum_of,
    topological_order,
)
from microgrid.engine import OPS
from microgrid.strategies import Expression, expressions


def engine_gradients(expr: Expression) -> tuple[float, list[float]]:
    root, leaves = expr.build()
    root.backward()
    return root.data, [leaf.grad for leaf in leaves]


def magnitude_gradients(expr: Expression, n: int) -> list[float]:
    """For each of ``n`` inputs, the magnitudes its gradient adds up (`rounding.magnitudes`)."""
    root, leaves = expr.build()
    m = magnitudes(root)
    return [m.get(leaf, 0.0) for leaf in leaves] + [0.0] * (n - len(leaves))


def finite_differences(expr: Expression, h: float = 1e-6) -> list[float]:
    def f(point: Sequence[float]) -> float:
        with no_grad():
            value: float = expr([Value(p) for p in point]).data
        return value

    grads = []
    for i in range(len(expr.inputs)):
        up, down = list(expr.inputs), list(expr.inputs)
        up[i] += h
        down[i] -= h
        grads.append((f(up) - f(down)) / (2 * h))
    return grads


def well_conditioned(expr: Expression) -> bool:
    """Moderate values and slopes: where a finite difference is trustworthy."""
    root, leaves = expr.build()
    root.backward()
    return (max(abs(n.data) for n in topological_order(root)) < 1e3
            and all(abs(x.grad) < 1e3 for x in leaves))


# torch's counterparts of the n-ary nodes (the others apply to tensors as they are)
TORCH_NARY: dict[str, Callable[..., Any]] = {
    "sum": lambda terms: sum(terms),
    "linear": lambda w, x, b: sum(wk * xk for wk, xk in zip(w, x, strict=True)) + b,
    "logsumexp": lambda terms: _torch().logsumexp(_torch().stack(
        [_torch().as_tensor(t, dtype=_torch().float64) for t in terms]), 0),
}


def _torch() -> Any:
    import torch

    return torch


def on_torch(root: Value, leaves: list[Value], tensors: list[Any]) -> Any:
    """The same graph computed on torch tensors, node by node, from each node's operands."""
    torch_of: dict[Value, Any] = dict(zip(leaves, tensors, strict=True))

    def convert(operand: Any) -> Any:
        if isinstance(operand, tuple):
            return [convert(o) for o in operand]
        return torch_of[operand] if isinstance(operand, Value) else operand

    for node in topological_order(root):
        if node not in torch_of:
            spec = OPS[node.op]
            operands = [convert(o) for o in spec.operands(node)]
            apply = TORCH_NARY[node.op] if spec.arity is None else spec.apply
            torch_of[node] = apply(*operands)
    return torch_of[root]


@given(expressions())
def test_gradients_match_central_finite_differences(expr: Expression) -> None:
    """∂f/∂x_i from backward() equals (f(x + h e_i) - f(x - h e_i)) / 2h."""
    assume(well_conditioned(expr))
    _, grads = engine_gradients(expr)
    numeric = finite_differences(expr)
    for analytic, estimate in zip(grads, numeric, strict=True):
        assert analytic == pytest.approx(estimate, rel=1e-4, abs=1e-5)


@given(
    st.lists(st.floats(-3, 3), min_size=1, max_size=6),
    st.lists(st.integers(0, 5), min_size=1, max_size=6),
    st.floats(-2, 2),
)
def test_polynomial_gradients_equal_the_symbolic_derivative(
    coefficients: list[float], powers: list[int], x: float
) -> None:
    """d/dx sum_i c_i x^p_i = sum_i c_i p_i x^(p_i - 1), with x^0 contributing 0."""
    leaf = Value(x)
    terms = list(zip(coefficients, powers, strict=False))
    sum_of([c * leaf**p for c, p in terms]).backward()
    symbolic = sum(c * p * x ** (p - 1) for c, p in terms if p > 0)
    assert leaf.grad == pytest.approx(symbolic, rel=1e-12, abs=1e-12)


@given(st.floats(-5, 5), st.floats(-3, 3), st.floats(-3, 3))
def test_composed_functions_follow_the_chain_rule(x: float, a: float, b: float) -> None:
    """d/dx sigmoid(tanh(a x + b)) = s (1 - s) (1 - t^2) a."""
    leaf = Value(x)
    out = (leaf * a + b).tanh().sigmoid()
    out.backward()
    t = math.tanh(a * x + b)
    s = 1 / (1 + math.exp(-t))
    assert leaf.grad == pytest.approx(s * (1 - s) * (1 - t * t) * a, rel=1e-12, abs=1e-15)


@given(expressions(), st.data(), st.floats(-3, 3), st.floats(-3, 3))
def test_gradient_is_linear(f: Expression, data: st.DataObject, alpha: float, beta: float) -> None:
    """∇(αf + βg) = α∇f + β∇g, up to rounding (g: f's first steps, on the same leaves).

    The two sides add the same terms in different orders, so they may differ
    by a few ulps of the MAGNITUDES summed (`magnitude_gradients`), which can
    be far larger than the result when terms cancel (``x - x``).
    """
    g = Expression(f.inputs, f.steps[: data.draw(st.integers(1, len(f.steps)))])
    n = len(f.inputs)
    leaves = [Value(x) for x in f.inputs]
    (alpha * f(leaves) + beta * g(leaves)).backward()
    combined = [leaf.grad for leaf in leaves]
    _, grad_f = engine_gradients(f)
    _, grad_g = engine_gradients(g)
    magnitude_f, magnitude_g = magnitude_gradients(f, n), magnitude_gradients(g, n)
    for i, (total, df, dg) in enumerate(zip(combined, grad_f, grad_g, strict=True)):
        expected = alpha * df + beta * dg
        scale = abs(alpha) * magnitude_f[i] + abs(beta) * magnitude_g[i]
        assert abs(total - expected) <= 1e-12 * scale + 1e-300 or total == expected


@given(expressions())
def test_backward_twice_doubles_leaf_grads_and_repeats_interior_grads(expr: Expression) -> None:
    out, leaves = expr.build()
    out.backward()
    first_leaves = [leaf.grad for leaf in leaves]
    first_interior = [n.grad for n in topological_order(out) if n.parents]
    out.backward()
    assert [leaf.grad for leaf in leaves] == [2 * g for g in first_leaves]
    assert [n.grad for n in topological_order(out) if n.parents] == first_interior


@given(expressions())
def test_detect_anomaly_gives_the_same_gradients_bit_for_bit(expr: Expression) -> None:
    """The checked pass does the plain pass's arithmetic in the same order."""
    out, _ = expr.build()
    out.backward()
    plain = [n.grad for n in topological_order(out)]
    with detect_anomaly():
        out, _ = expr.build()
        out.backward()
    assert [n.grad for n in topological_order(out)] == plain


@given(expressions())
def test_no_grad_records_nothing_and_computes_the_same_data(expr: Expression) -> None:
    recorded, leaves = expr.build()
    with no_grad():
        out = expr(leaves)
    assert out.data == recorded.data
    assert out.parents == () and topological_order(out) == [out]


@pytest.mark.torch
@given(expressions())
def test_gradients_agree_with_torch_autograd(expr: Expression) -> None:
    """The same expressions, in torch float64, give the same gradients."""
    import torch

    root, leaves_ = expr.build()
    root.backward()
    grads = [leaf.grad for leaf in leaves_]
    leaves = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in expr.inputs]
    out = on_torch(root, leaves_, leaves)
    if out.requires_grad:
        out.backward()
    expected = [0.0 if t.grad is None else t.grad.item() for t in leaves]
    assert root.data == pytest.approx(float(out.detach()), rel=1e-12)
    for ours, theirs in zip(grads, expected, strict=True):
        assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-12)

