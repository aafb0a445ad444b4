"""Properties of microgrid.engine on random expressions (hypothesis).

Each expression is a small program: a list of instructions over a few input
leaves, where each instruction applies one of the engine's operations to
earlier results (so subexpressions are shared: the graph is a DAG, not a
tree). Every operation is wrapped so its inputs stay in its domain
(``log(u*u + 0.5)``, ``u / (v*v + 1)``, ``exp(tanh(u))``), and points near
the kinks of ``relu`` and ``abs`` are discarded before comparing with finite
differences, which cannot see a derivative there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from rounding import magnitudes

from microgrid import (
    Value,
    detect_anomaly,
    linear,
    logsumexp,
    no_grad,
    sum_of,
    topological_order,
)

Program = list[tuple[str, tuple[int, ...], float]]

UNARY = ["tanh", "sigmoid", "exp", "log", "sqrt", "relu", "abs", "neg", "square", "cube",
         "frac_pow", "rpow", "add_c", "mul_c", "rsub_c", "rdiv_c"]
BINARY = ["add", "sub", "mul", "div", "value_pow"]
NARY = ["sum_of", "linear", "logsumexp"]
KINKED = {"relu", "abs"}


@st.composite
def programs(draw: st.DrawFn, max_inputs: int = 3, max_ops: int = 8) -> tuple[int, Program]:
    n_inputs = draw(st.integers(1, max_inputs))
    program: Program = []
    for i in range(draw(st.integers(1, max_ops))):
        available = n_inputs + i
        index = st.integers(0, available - 1)
        op = draw(st.sampled_from(UNARY + BINARY + NARY))
        arity = 1 if op in UNARY else 2 if op in BINARY else 4
        args = tuple(draw(index) for _ in range(arity))
        constant = draw(st.floats(-2.0, 2.0).filter(lambda c: abs(c) > 0.1))
        program.append((op, args, constant))
    return n_inputs, program


inputs_in = st.floats(-2.0, 2.0, allow_nan=False)


# Each operation takes its operands (earlier results) and a constant c.
OPS: dict[str, Any] = {
    "tanh": lambda u, c: u.tanh(),
    "sigmoid": lambda u, c: u.sigmoid(),
    "exp": lambda u, c: u.tanh().exp(),
    "log": lambda u, c: (u * u + 0.5).log(),
    "sqrt": lambda u, c: (u * u + 0.5).sqrt(),
    "relu": lambda u, c: u.relu(),
    "abs": lambda u, c: u.abs(),
    "neg": lambda u, c: -u,
    "square": lambda u, c: u**2,
    "cube": lambda u, c: u.tanh() ** 3,
    "frac_pow": lambda u, c: (u * u + 0.5) ** 1.5,
    "rpow": lambda u, c: 2.0 ** u.tanh(),
    "add_c": lambda u, c: u + c,
    "mul_c": lambda u, c: u * c,
    "rsub_c": lambda u, c: c - u,
    "rdiv_c": lambda u, c: c / (u * u + 1.0),
    "add": lambda u, v, c: u + v,
    "sub": lambda u, v, c: u - v,
    "mul": lambda u, v, c: u * v,
    "div": lambda u, v, c: u / (v * v + 1.0),
    "value_pow": lambda u, v, c: (u * u + 0.5) ** v.tanh(),
    "sum_of": lambda t, u, v, w, c: _sum_of([t, u, v, w, c]),
    "linear": lambda t, u, v, w, c: _linear([t, c], [u, v], w),
    "logsumexp": lambda t, u, v, w, c: _logsumexp([t, u, c, v, w]),
}


def run(
    program: Program, xs: Sequence[Any], kink_arguments: list[float] | None = None
) -> Any:
    """Evaluate a program on Values (or on torch tensors: the same methods)."""
    nodes: list[Any] = list(xs)
    for op, args, c in program:
        operands = [nodes[a] for a in args]
        if op in KINKED and kink_arguments is not None:
            u = operands[0]
            kink_arguments.append(float(u.data if isinstance(u, Value) else u.item()))
        nodes.append(OPS[op](*operands, c))
    return nodes[-1]


def _sum_of(terms: list[Any]) -> Any:
    if any(isinstance(t, Value) for t in terms):
        return sum_of(terms)
    return sum(terms)


def _linear(w: list[Any], x: list[Any], b: Any) -> Any:
    if any(isinstance(t, Value) for t in (*w, *x, b)):
        return linear(w, x, b)
    return sum(wk * xk for wk, xk in zip(w, x, strict=True)) + b


def _logsumexp(terms: list[Any]) -> Any:
    if any(isinstance(t, Value) for t in terms):
        return logsumexp(terms)
    import torch  # the same expression on torch tensors

    return torch.logsumexp(torch.stack([torch.as_tensor(t, dtype=torch.float64)
                                        for t in terms]), 0)


def engine_gradients(program: Program, xs: Sequence[float]) -> tuple[float, list[float]]:
    leaves = [Value(x) for x in xs]
    out = run(program, leaves)
    out.backward()
    return out.data, [leaf.grad for leaf in leaves]


def magnitude_gradients(program: Program, xs: Sequence[float]) -> list[float]:
    """For each input, the magnitudes its gradient adds up (`rounding.magnitudes`)."""
    leaves = [Value(x) for x in xs]
    m = magnitudes(run(program, leaves))
    return [m.get(leaf, 0.0) for leaf in leaves]


def finite_differences(program: Program, xs: Sequence[float], h: float = 1e-6) -> list[float]:
    def f(point: Sequence[float]) -> float:
        with no_grad():
            value: float = run(program, [Value(p) for p in point]).data
        return value

    grads = []
    for i in range(len(xs)):
        up, down = list(xs), list(xs)
        up[i] += h
        down[i] -= h
        grads.append((f(up) - f(down)) / (2 * h))
    return grads


def well_conditioned(program: Program, xs: Sequence[float]) -> bool:
    """Away from kinks, with moderate values and slopes: where FD is trustworthy."""
    kinks: list[float] = []
    leaves = [Value(x) for x in xs]
    out = run(program, leaves, kinks)
    out.backward()
    values = [abs(n.data) for n in topological_order(out)]
    return (
        all(abs(k) > 1e-3 for k in kinks)
        and max(values) < 1e3
        and all(abs(x.grad) < 1e3 for x in leaves)
    )


@given(programs(), st.lists(inputs_in, min_size=3, max_size=3))
def test_gradients_match_central_finite_differences(
    case: tuple[int, Program], point: list[float]
) -> None:
    """∂f/∂x_i from backward() equals (f(x + h e_i) - f(x - h e_i)) / 2h."""
    n_inputs, program = case
    xs = point[:n_inputs]
    assume(well_conditioned(program, xs))
    _, grads = engine_gradients(program, xs)
    numeric = finite_differences(program, xs)
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


@given(programs(), programs(), st.lists(inputs_in, min_size=3, max_size=3),
       st.floats(-3, 3), st.floats(-3, 3))
def test_gradient_is_linear(
    f: tuple[int, Program], g: tuple[int, Program], point: list[float], alpha: float, beta: float
) -> None:
    """∇(αf + βg) = α∇f + β∇g, up to rounding.

    The two sides add the same terms in different orders, so they may differ
    by a few ulps of the MAGNITUDES summed (`magnitude_gradients`), which can
    be far larger than the result when terms cancel (``x - x``).
    """
    n = max(f[0], g[0])
    xs = point[:n]
    leaves = [Value(x) for x in xs]
    (alpha * run(f[1], leaves[: f[0]]) + beta * run(g[1], leaves[: g[0]])).backward()
    combined = [leaf.grad for leaf in leaves]
    _, grad_f = engine_gradients(f[1], xs[: f[0]])
    _, grad_g = engine_gradients(g[1], xs[: g[0]])
    magnitude_f = magnitude_gradients(f[1], xs[: f[0]]) + [0.0] * (n - f[0])
    magnitude_g = magnitude_gradients(g[1], xs[: g[0]]) + [0.0] * (n - g[0])
    grad_f += [0.0] * (n - f[0])
    grad_g += [0.0] * (n - g[0])
    for i, (total, df, dg) in enumerate(zip(combined, grad_f, grad_g, strict=True)):
        expected = alpha * df + beta * dg
        scale = abs(alpha) * magnitude_f[i] + abs(beta) * magnitude_g[i]
        assert abs(total - expected) <= 1e-12 * scale + 1e-300 or total == expected


@given(programs(), st.lists(inputs_in, min_size=3, max_size=3))
def test_backward_twice_doubles_leaf_grads_and_repeats_interior_grads(
    case: tuple[int, Program], point: list[float]
) -> None:
    n_inputs, program = case
    leaves = [Value(x) for x in point[:n_inputs]]
    out = run(program, leaves)
    out.backward()
    first_leaves = [leaf.grad for leaf in leaves]
    first_interior = [n.grad for n in topological_order(out) if n.parents]
    out.backward()
    assert [leaf.grad for leaf in leaves] == [2 * g for g in first_leaves]
    assert [n.grad for n in topological_order(out) if n.parents] == first_interior


@given(programs(), st.lists(inputs_in, min_size=3, max_size=3))
def test_detect_anomaly_gives_the_same_gradients_bit_for_bit(
    case: tuple[int, Program], point: list[float]
) -> None:
    """The checked pass does the plain pass's arithmetic in the same order."""
    n_inputs, program = case
    leaves = [Value(x) for x in point[:n_inputs]]
    out = run(program, leaves)
    out.backward()
    plain = [n.grad for n in topological_order(out)]
    with detect_anomaly():
        leaves = [Value(x) for x in point[:n_inputs]]
        out = run(program, leaves)
        out.backward()
    assert [n.grad for n in topological_order(out)] == plain


@given(programs(), st.lists(inputs_in, min_size=3, max_size=3))
def test_no_grad_records_nothing_and_computes_the_same_data(
    case: tuple[int, Program], point: list[float]
) -> None:
    n_inputs, program = case
    leaves = [Value(x) for x in point[:n_inputs]]
    recorded = run(program, leaves).data
    with no_grad():
        out = run(program, leaves)
    assert out.data == recorded
    assert out.parents == () and topological_order(out) == [out]


@pytest.mark.torch
@given(programs(), st.lists(inputs_in, min_size=3, max_size=3))
def test_gradients_agree_with_torch_autograd(
    case: tuple[int, Program], point: list[float]
) -> None:
    """The same expressions, in torch float64, give the same gradients."""
    import torch

    n_inputs, program = case
    xs = point[:n_inputs]
    _, grads = engine_gradients(program, xs)
    leaves = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    out = run(program, leaves)
    if out.requires_grad:
        out.backward()
    expected = [0.0 if t.grad is None else t.grad.item() for t in leaves]
    for ours, theirs in zip(grads, expected, strict=True):
        if math.isnan(theirs):
            continue  # torch's 0 * inf at sqrt(0) is nan; the engine documents +inf slopes
        assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-12)

