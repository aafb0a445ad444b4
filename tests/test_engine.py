"""Specification of microgrid.engine: Value, its operations, backward, no_grad."""

from __future__ import annotations

import gc
import inspect
import math
import re
import threading
import tracemalloc
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

import microgrid
from microgrid import (
    MLP,
    SGD,
    Value,
    detect_anomaly,
    linear,
    linear_layer,
    logsumexp,
    no_grad,
    sum_of,
    topological_order,
)
from microgrid.engine import OPS, is_anomaly_enabled, is_grad_enabled, watch_reads
from microgrid.losses import quadratic

# -- construction ------------------------------------------------------------


@pytest.mark.parametrize("number", [3, 3.0, True, Fraction(3, 1)])
def test_data_is_always_a_python_float(number: object) -> None:
    v = Value(number)  # type: ignore[arg-type]
    assert type(v.data) is float
    assert v.data == float(number)  # type: ignore[arg-type]
    assert v.grad == 0.0 and v.parents == () and v.op == "" and v.label == ""


@pytest.mark.parametrize("bad", ["3", None, 1j, [1.0], b"1"])
def test_non_numbers_are_rejected_with_a_type_error_naming_the_type(bad: object) -> None:
    with pytest.raises(TypeError, match=type(bad).__name__):
        Value(bad)  # type: ignore[arg-type]


def test_a_value_cannot_wrap_a_value() -> None:
    with pytest.raises(TypeError, match="got a Value"):
        Value(Value(1.0))  # type: ignore[arg-type]


def test_nan_data_is_rejected() -> None:
    with pytest.raises(ValueError, match="nan"):
        Value(math.nan)


def test_infinite_data_is_allowed_and_propagates() -> None:
    assert (Value(math.inf) + 1).data == math.inf


def test_label_must_be_a_string() -> None:
    assert Value(1.0, label="x").label == "x"
    with pytest.raises(TypeError, match="label"):
        Value(1.0, label=3)  # type: ignore[arg-type]


# -- every operation: value and local derivative against hand calculus --------


def grads_of(f, *xs: float) -> tuple[float, list[float]]:  # type: ignore[no-untyped-def]
    leaves = [Value(x) for x in xs]
    out = f(*leaves)
    out.backward()
    return out.data, [leaf.grad for leaf in leaves]


@pytest.mark.parametrize(
    ("f", "xs", "value", "grads"),
    [
        (lambda a, b: a + b, (2.0, -3.0), -1.0, [1.0, 1.0]),
        (lambda a: a + 5, (2.0,), 7.0, [1.0]),
        (lambda a: 5 + a, (2.0,), 7.0, [1.0]),
        (lambda a, b: a - b, (2.0, -3.0), 5.0, [1.0, -1.0]),
        (lambda a: a - 5, (2.0,), -3.0, [1.0]),
        (lambda a: 5 - a, (2.0,), 3.0, [-1.0]),
        (lambda a, b: a * b, (2.0, -3.0), -6.0, [-3.0, 2.0]),
        (lambda a: a * 4, (2.0,), 8.0, [4.0]),
        (lambda a: 4 * a, (2.0,), 8.0, [4.0]),
        (lambda a, b: a / b, (3.0, -2.0), -1.5, [-0.5, -0.75]),
        (lambda a: a / 4, (2.0,), 0.5, [0.25]),
        (lambda a: 4 / a, (2.0,), 2.0, [-1.0]),
        (lambda a: a**3, (2.0,), 8.0, [12.0]),
        (lambda a: a**-1, (2.0,), 0.5, [-0.25]),
        (lambda a: a**0.5, (4.0,), 2.0, [0.25]),
        (lambda a: (-2.0 + 0 * a) ** 3 + a, (1.0,), -7.0, [1.0]),
        (lambda a, b: a**b, (2.0, 3.0), 8.0, [12.0, 8.0 * math.log(2.0)]),
        (lambda a: 2**a, (3.0,), 8.0, [8.0 * math.log(2.0)]),
        (lambda a: -a, (2.0,), -2.0, [-1.0]),
        (lambda a: a.exp(), (1.0,), math.e, [math.e]),
        (lambda a: a.log(), (2.0,), math.log(2.0), [0.5]),
        (lambda a: a.tanh(), (0.5,), math.tanh(0.5), [1 - math.tanh(0.5) ** 2]),
        (lambda a: a.sigmoid(), (0.0,), 0.5, [0.25]),
        (lambda a: a.relu(), (2.0,), 2.0, [1.0]),
        (lambda a: a.relu(), (-2.0,), 0.0, [0.0]),
        (lambda a: a.sqrt(), (4.0,), 2.0, [0.25]),
        (lambda a: a.abs(), (-2.0,), 2.0, [-1.0]),
        (lambda a: abs(a), (2.0,), 2.0, [1.0]),
    ],
)
def test_operation_value_and_gradient(f, xs, value, grads) -> None:  # type: ignore[no-untyped-def]
    got_value, got_grads = grads_of(f, *xs)
    assert got_value == pytest.approx(value, rel=1e-15)
    assert got_grads == pytest.approx(grads, rel=1e-15)


@pytest.mark.parametrize(
    ("name", "x", "value", "grad"),
    [
        ("exp", 0.0, 1.0, 1.0),
        ("log", 1.0, 0.0, 1.0),
        ("tanh", 0.0, 0.0, 1.0),
        ("sigmoid", 0.0, 0.5, 0.25),
        ("relu", 3.0, 3.0, 1.0),
        ("sqrt", 9.0, 3.0, 1 / 6),
        ("abs", -3.0, 3.0, -1.0),
    ],
)
def test_module_functions_accept_values_and_numbers(
    name: str, x: float, value: float, grad: float
) -> None:
    fn = getattr(microgrid, name)
    assert fn(x).data == pytest.approx(value)
    leaf = Value(x)
    out = fn(leaf)
    out.backward()
    assert out.data == pytest.approx(value) and leaf.grad == pytest.approx(grad)
    with pytest.raises(TypeError, match="str"):
        fn("1")


def test_builtin_sum_over_values_works() -> None:
    xs = [Value(1.0), Value(2.0), Value(3.5)]
    s = sum(xs)
    assert isinstance(s, Value) and s.data == 6.5
    s.backward()
    assert [x.grad for x in xs] == [1.0, 1.0, 1.0]


def test_comparisons_and_conversions() -> None:
    a, b = Value(1.0), Value(2.0)
    assert a < b and a <= b and b > a and b >= a and a < 1.5 and b > 1
    assert max([a, b]) is b and sorted([b, a]) == [a, b]
    assert float(b) == 2.0 and int(Value(2.7)) == 2 and b.item() == 2.0
    assert repr(Value(2.0)) == "Value(data=2.0, grad=0.0)"
    assert repr(Value(2.0, label="x")) == "Value(data=2.0, grad=0.0, label='x')"
    assert f"{Value(2.0):.2f}" == "2.00"
    with pytest.raises(TypeError):
        a < "b"  # noqa: B015


def test_values_hash_and_compare_equal_by_identity() -> None:
    a, b = Value(1.0), Value(1.0)
    assert a != b and a == a
    assert len({a, b, a}) == 2
    assert {a: "a"}[a] == "a"


# -- edges of the domains: defined as PyTorch defines them ---------------------


def test_relu_derivative_at_zero_is_zero() -> None:
    assert grads_of(lambda a: a.relu(), 0.0) == (0.0, [0.0])


def test_abs_derivative_at_zero_is_zero() -> None:
    assert grads_of(lambda a: a.abs(), 0.0) == (0.0, [0.0])


@pytest.mark.parametrize("x", [0.0, 2.0, -3.0])
def test_power_zero_has_derivative_zero_even_at_zero(x: float) -> None:
    assert grads_of(lambda a: a**0, x) == (1.0, [0.0])


def test_sqrt_of_zero_is_zero_with_infinite_derivative() -> None:
    assert grads_of(lambda a: a.sqrt(), 0.0) == (0.0, [math.inf])
    assert grads_of(lambda a: a**0.5, 0.0) == (0.0, [math.inf])


def test_power_at_zero_base() -> None:
    assert grads_of(lambda a: a**1, 0.0) == (0.0, [1.0])
    assert grads_of(lambda a: a**2, 0.0) == (0.0, [0.0])
    # d(x^y)/dy at x = 0 is 0 for y >= 0, as in PyTorch
    assert grads_of(lambda a, b: a**b, 0.0, 2.0) == (0.0, [0.0, 0.0])


def test_negative_base_with_integer_exponent_is_real() -> None:
    assert grads_of(lambda a: a**3, -2.0) == (-8.0, [12.0])
    assert grads_of(lambda a: a**-2, -2.0) == (0.25, [0.25])


def test_sigmoid_is_stable_at_extremes() -> None:
    assert microgrid.sigmoid(-1000).data == 0.0
    assert microgrid.sigmoid(1000).data == 1.0
    assert microgrid.sigmoid(-745.0).data > 0.0
    assert grads_of(lambda a: a.sigmoid(), -1000.0) == (0.0, [0.0])


def test_tanh_does_not_overflow() -> None:
    assert microgrid.tanh(1000).data == 1.0
    assert microgrid.tanh(-1000).data == -1.0


# -- domain errors name the operation and the operand --------------------------


@pytest.mark.parametrize(
    ("f", "error", "message"),
    [
        (lambda: microgrid.log(0), ValueError, r"log\(0.0\)"),
        (lambda: microgrid.log(-1), ValueError, r"log\(-1.0\)"),
        (lambda: microgrid.sqrt(-1), ValueError, r"sqrt\(-1.0\)"),
        (lambda: Value(-8.0) ** (1 / 3), ValueError, r"-8.0 \*\* 0.333"),
        (lambda: Value(-8.0) ** Value(2.0), ValueError, "negative"),
        (lambda: 2.0 ** Value(3.0) * 0 + (-2.0) ** Value(2.0), ValueError, "negative"),
        (lambda: Value(0.0) ** -1, ZeroDivisionError, r"0.0 \*\* -1.0"),
        (lambda: Value(1.0) / 0, ZeroDivisionError, r"1.0 / 0.0"),
        (lambda: Value(1.0) / Value(0.0), ZeroDivisionError, r"1.0 / 0.0"),
        (lambda: 1.0 / Value(0.0), ZeroDivisionError, r"1.0 / 0.0"),
        (lambda: microgrid.exp(1000), OverflowError, r"exp\(1000.0\)"),
        (lambda: Value(10.0) ** 400, OverflowError, r"10.0 \*\* 400.0"),
        (lambda: Value(1e200) * 1e200, OverflowError, r"mul\(1e\+200, 1e\+200\)"),
        (lambda: Value(1e308) + Value(1e308), OverflowError, "add"),
        (lambda: Value(math.inf) - math.inf, ValueError, "nan"),
        (lambda: Value(math.inf) * 0, ValueError, "nan"),
        # nan from finite operands: terms overflowed to +inf and -inf (a diverging fit)
        (lambda: microgrid.linear([Value(1e200), Value(1e200)], [1e200, -1e200]),
         OverflowError, r"linear\(1e\+200, 1e\+200, 1e\+200, -1e\+200, 0.0\) overflows"),
    ],
)
def test_domain_errors_are_clear(f, error: type[Exception], message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=message):
        f()


@pytest.mark.parametrize("bad", ["a", None, 1j, [1.0]])
@pytest.mark.parametrize(
    "op",
    [
        lambda v, b: v + b,
        lambda v, b: b + v,
        lambda v, b: v - b,
        lambda v, b: b - v,
        lambda v, b: v * b,
        lambda v, b: b * v,
        lambda v, b: v / b,
        lambda v, b: b / v,
        lambda v, b: v**b,
        lambda v, b: b**v,
    ],
)
def test_non_number_operands_raise_type_error_naming_the_type(op, bad: object) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TypeError, match=rf"\b{type(bad).__name__}\b"):
        op(Value(2.0), bad)


@pytest.mark.parametrize(
    ("f", "message"),
    [
        (lambda: Value(2.0) ** -math.inf, r"pow: 2.0 \*\* -inf has no derivative"),
        (lambda: Value(0.5) ** math.inf, r"pow: 0.5 \*\* inf has no derivative"),
        (lambda: Value(2.0) ** math.inf, r"pow: 2.0 \*\* inf has no derivative"),
        (lambda: Value(2.0) ** Value(-math.inf), r"pow: 2.0 \*\* -inf has no derivative"),
        (lambda: Value(math.inf) ** Value(-1.0), r"inf \*\* -1.0 has no derivative .* exponent"),
        (lambda: math.inf ** Value(-1.0), r"inf \*\* -1.0 has no derivative .* exponent"),
    ],
)
def test_a_power_whose_local_derivative_would_be_nan_is_refused(f, message: str) -> None:  # type: ignore[no-untyped-def]
    """``x ** -inf`` is 0 near 2, but ``n x**(n-1)`` is ``-inf * 0``: nan, never stored."""
    with pytest.raises(ValueError, match=message):
        f()


def test_infinite_powers_with_a_derivative_still_work() -> None:
    """Against a constant base the exponent may be infinite: ``2**-inf = 0``, slope 0."""
    assert grads_of(lambda y: 2.0**y, -math.inf) == (0.0, [0.0])
    assert (Value(math.inf) ** 2).data == math.inf


_HUGE = 10**400


@pytest.mark.parametrize(
    ("f", "op"),
    [
        (lambda v: v + _HUGE, "add"), (lambda v: _HUGE + v, "add"),
        (lambda v: v - _HUGE, "sub"), (lambda v: _HUGE - v, "sub"),
        (lambda v: v * _HUGE, "mul"), (lambda v: _HUGE * v, "mul"),
        (lambda v: v / _HUGE, "div"), (lambda v: _HUGE / v, "div"),
        (lambda v: v**_HUGE, "pow"), (lambda v: _HUGE**v, "pow"),
        (lambda v: v < _HUGE, "<"), (lambda v: v >= _HUGE, ">="),
        (lambda v: Value(_HUGE), "Value"), (lambda v: v.backward(_HUGE), "backward"),
        (lambda v: microgrid.exp(_HUGE), "exp"), (lambda v: sum_of([v, _HUGE]), "sum_of"),
        (lambda v: logsumexp([v, _HUGE]), "logsumexp"), (lambda v: linear([v], [_HUGE]), "linear"),
        (lambda v: linear([v], [1.0], _HUGE), "linear"),
        (lambda v: Value(Fraction(_HUGE, 3)), "Value"),
    ],
)
def test_a_number_too_large_for_a_float_is_named_with_the_operation(f, op: str) -> None:  # type: ignore[no-untyped-def]
    """Not Python's bare "int too large to convert to float", nor 400 digits quoted."""
    with pytest.raises(OverflowError, match=rf"^{re.escape(op)}: .* is too large for a float") as e:
        f(Value(2.0))
    assert len(str(e.value)) < 150


@pytest.mark.parametrize(
    ("f", "message"),
    [
        (lambda: sum_of(5), r"sum_of: expected an iterable of Values and numbers .* got int 5"),
        (lambda: sum_of(None), r"sum_of: .* got NoneType None"),
        (lambda: sum_of(Value(1.0)), r"sum_of: .* got Value"),
        (lambda: sum_of("12"), r"sum_of: .* got str '12'"),
        (lambda: logsumexp(5), r"logsumexp: expected an iterable .* got int 5"),
        (lambda: linear([Value(1.0)], 5), r"linear: inputs must be a sequence, got int 5"),
        (lambda: linear([Value(1.0)], (x for x in [1.0])),
         r"linear: inputs must be a sequence, got generator"),
        (lambda: linear(5, [1.0]), r"linear: weights must be a sequence, got int 5"),
        (lambda: linear_layer(5, [1.0], [0.0]),
         r"linear_layer: weights must be a sequence, got int 5"),
        (lambda: linear_layer([[1.0]], [1.0], 5),
         r"linear_layer: biases must be a sequence, got int 5"),
        (lambda: linear_layer([[1.0]], 5, [0.0]),
         r"linear_layer: inputs must be a sequence, got int 5"),
        (lambda: Value("3"), r"Value: expected a real number, got str '3'"),
        (lambda: Value(1.0).backward(Value(1.0)), r"backward: expected a real number, got Value"),
    ],
)
def test_a_wrong_argument_to_an_n_ary_function_is_named(f, message: str) -> None:  # type: ignore[no-untyped-def]
    """Not Python's "'int' object is not iterable", which names neither function nor argument."""
    with pytest.raises(TypeError, match=message):
        f()


# -- backward -------------------------------------------------------------------


def test_reused_node_gets_every_contribution() -> None:
    a = Value(3.0)
    b = a * a
    assert b.parents == (a, a)
    b.backward()
    assert a.grad == 6.0


def test_node_used_k_times_gets_k_contributions() -> None:
    a = Value(1.5)
    for k in range(1, 6):
        a.grad = 0.0
        sum_of([a] * k).backward()
        assert a.grad == k


def test_backward_resets_interior_grads_and_accumulates_into_leaves() -> None:
    x = Value(2.0)
    h = x * x
    y = h * 3
    y.backward()
    assert (x.grad, h.grad, y.grad) == (12.0, 3.0, 1.0)
    y.backward()
    # interior grads are this pass's derivatives; the leaf's doubled
    assert (x.grad, h.grad, y.grad) == (24.0, 3.0, 1.0)


def test_backward_of_a_leaf_accumulates_one() -> None:
    x = Value(2.0)
    x.backward()
    x.backward()
    assert x.grad == 2.0


def test_backward_seed_scales_every_gradient() -> None:
    x = Value(2.0)
    y = x * x
    y.backward(0.5)
    assert x.grad == 2.0
    with pytest.raises(TypeError):
        y.backward("1")  # type: ignore[arg-type]


def test_zero_grad_clears_a_node() -> None:
    x = Value(2.0)
    (x * x).backward()
    x.zero_grad()
    assert x.grad == 0.0


def test_a_zero_gradient_passes_nothing_on_not_even_zero_times_inf() -> None:
    """sqrt'(0) = +inf, but a node that receives exactly 0 contributes 0, never nan."""
    x = Value(0.0)
    (x.sqrt() * 0.0).backward()
    assert x.grad == 0.0
    dead = Value(-1.0)
    w = Value(3.0)
    (w * dead).relu().backward()
    assert (w.grad, dead.grad) == (0.0, 0.0)


def test_topological_order_puts_parents_first_and_the_root_last() -> None:
    a, b = Value(1.0), Value(2.0)
    c = a * b
    d = c + a
    e = d * c
    order = topological_order(e)
    assert order[-1] is e
    assert len(order) == len({id(n) for n in order}) == 5
    position = {id(n): i for i, n in enumerate(order)}
    for node in order:
        for parent in node.parents:
            assert position[id(parent)] < position[id(node)]


@pytest.mark.slow
def test_a_graph_a_million_nodes_deep_runs_backward() -> None:
    """No recursion anywhere: depth is bounded by memory only."""
    x = Value(0.5)
    y = x
    for _ in range(1_000_000):
        y = (y * 0.999 + 0.001).tanh()
    y.backward()
    assert math.isfinite(x.grad) and 0.0 <= x.grad < 1.0
    assert len(topological_order(y)) == 3_000_001


def test_a_deep_graph_is_freed_without_the_cyclic_collector() -> None:
    """Nodes hold only their parents: no reference cycles, so refcounting frees a graph."""
    gc.collect()
    gc.disable()
    try:
        alive_before = sum(type(o) is Value for o in gc.get_objects())  # type(): no proxies asked
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        x = Value(0.5)
        y = x
        for _ in range(20_000):
            y = (y * 0.5 + 0.25).tanh()
        y.backward()
        built = tracemalloc.get_traced_memory()[0]
        del x, y
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        alive = sum(type(o) is Value for o in gc.get_objects())
    finally:
        gc.enable()
    assert alive == alive_before
    # what stays is CPython's bounded free lists (about 2,000 cached tuples)
    assert built - before > 20_000 * 3 * 100
    assert after - before < 0.02 * (built - before)


# -- non-finite gradients: never handed over silently ----------------------------------


@pytest.mark.parametrize("seed", [math.nan, math.inf, -math.inf])
def test_backward_refuses_a_non_finite_seed(seed: float) -> None:
    x = Value(2.0)
    x.grad = 0.5
    with pytest.raises(ValueError, match=rf"seed gradient must be finite, got {seed!r}"):
        (x * x).backward(seed)
    assert x.grad == 0.5


def test_a_local_derivative_that_overflowed_at_forward_time_is_named() -> None:
    """The issue's case: d(1/x)/dx = -1/x**2 overflows at 1e-200; the truth is -1e100."""
    x = Value(1e-200, label="x")
    q = 1 / x
    q.label = "q"
    with pytest.raises(OverflowError, match=(
            r"at the '/' node 'q' \(= 1e\+200\): its local derivative with respect to "
            r"parents\[0\], the leaf 'x' \(= 1e-200\), overflowed to -inf when the node was "
            r"computed.*as they were before backward\(\).*detect_anomaly\(\)")):
        (q * 1e-300).backward()
    assert x.grad == 0.0


def test_one_over_x_minus_one_over_x_is_refused_not_nan() -> None:
    """The issue's case: -inf + inf = nan at x, where the truth is 0."""
    x = Value(1e-200, label="x")
    with pytest.raises(OverflowError, match=r"'/' node .* overflowed to -inf"):
        (1 / x - 1 / x).backward()
    assert x.grad == 0.0


def test_a_failed_pass_leaves_every_leaf_as_it_was() -> None:
    """Leaves that held grads, and leaves this pass reached first, are put back."""
    x, w = Value(1e-200, label="x"), Value(3.0, label="w")
    x.grad, w.grad = 5.0, 1.0
    y = w * 2.0 + (1 / x) * 1e-300
    with pytest.raises(OverflowError):
        y.backward()
    assert (x.grad, w.grad) == (5.0, 1.0)


def test_a_product_or_sum_of_gradients_that_overflows_is_named() -> None:
    x = Value(1.0, label="x")
    with pytest.raises(OverflowError,
                       match=r"'\*' node .* times its local derivative .* 1e\+300, overflows"):
        (x * 1e300).backward(1e10)
    x = Value(1e-10, label="x")
    y = x * 1e308 + x * 1e308  # 2e298: finite; dy/dx = 2e308 is not
    with pytest.raises(OverflowError, match=r"at the leaf 'x' .* add up past the float range"):
        y.backward()
    assert x.grad == 0.0


def test_accumulating_into_a_leaf_past_the_float_range_is_refused() -> None:
    x = Value(1e-10, label="x")
    x.grad = 1e308
    with pytest.raises(OverflowError, match=r"leaf 'x' .* held the gradient 1e\+308 .* zero_grad"):
        (x * 1e308).backward()
    assert x.grad == 1e308


def test_a_sum_of_finite_leaf_grads_past_the_float_range_is_no_fault() -> None:
    """The after-pass check sums the leaves' grads; that sum overflowing is checked, and passes."""
    a, b = Value(1e-10), Value(1e-10)
    (a * 1e308 + b * 1e308).backward()
    assert (a.grad, b.grad) == (1e308, 1e308)


def test_an_exact_infinity_is_handed_over_as_pytorch_does() -> None:
    """sqrt'(0) = +inf is the derivative, not an overflow: +-inf reaches the leaf."""
    x = Value(0.0, label="x")
    (x.sqrt() * -3.0).backward()
    assert x.grad == -math.inf
    y = Value(math.inf)  # an infinite operand, as the forward pass allows
    (y * Value(2.0)).backward()
    assert y.grad == 2.0


@pytest.mark.parametrize(
    ("f", "message"),
    [
        # sqrt(x*x) at 0: inf reaches the '*' node, whose local derivatives are x = 0
        (lambda x: (x * x).sqrt(),
         r"'\*' node .* gradient is inf .* 'sqrt' node .* 0 \* inf = nan"),
        (lambda x: x.sqrt() - x.sqrt(), r"leaf 'x' .* the gradients .* meet there.* sum is nan"),
    ],
)
def test_an_exact_infinity_that_would_turn_into_nan_is_named(f, message: str) -> None:  # type: ignore[no-untyped-def]
    x = Value(0.0, label="x")
    with pytest.raises(ValueError, match=message):
        f(x).backward()
    assert x.grad == 0.0


# -- n-ary nodes ------------------------------------------------------------------


def test_sum_of_is_one_node_with_unit_local_gradients() -> None:
    xs = [Value(1.0), Value(2.0)]
    s = sum_of([xs[0], 3, xs[1], 0.5])
    assert (s.data, s.op, s.parents, s.local_grads) == (6.5, "sum", (xs[0], xs[1]), (1.0, 1.0))
    assert sum_of([]).data == 0.0
    assert sum_of(iter(xs)).data == 3.0
    with pytest.raises(TypeError, match="str"):
        sum_of([xs[0], "a"])  # type: ignore[list-item]


def test_linear_is_one_node_with_the_neuron_gradients() -> None:
    w = [Value(2.0), Value(-1.0)]
    x = [Value(3.0), Value(4.0)]
    b = Value(0.5)
    z = linear(w, x, b)
    assert (z.data, z.op) == (2.5, "linear")
    assert z.parents == (w[0], w[1], x[0], x[1], b)
    assert z.local_grads == (3.0, 4.0, 2.0, -1.0, 1.0)
    z.backward()
    assert [v.grad for v in (*w, *x, b)] == [3.0, 4.0, 2.0, -1.0, 1.0]


def test_linear_gives_numbers_no_parent_slot() -> None:
    w = [Value(2.0), Value(-1.0)]
    z = linear(w, [3.0, 4], 0.5)
    assert z.data == 2.5 and z.parents == tuple(w) and z.local_grads == (3.0, 4.0)
    z2 = linear([2.0, Value(-1.0)], [Value(3.0), 4.0])
    assert z2.data == 2.0 and [p.data for p in z2.parents] == [-1.0, 3.0]
    assert z2.local_grads == (4.0, 2.0)


def test_linear_rejects_mismatched_lengths_and_non_numbers() -> None:
    with pytest.raises(ValueError, match="2 weights but 3 inputs"):
        linear([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="NoneType"):
        linear([1.0], [None])  # type: ignore[list-item]


def test_linear_overflow_is_an_error() -> None:
    with pytest.raises(OverflowError, match="linear"):
        linear([Value(1e200)], [1e200])


def test_logsumexp_is_one_node_with_the_softmax_as_local_gradients() -> None:
    t = [Value(1.0), Value(2.0), Value(3.0)]
    r = logsumexp(t)
    expected = math.log(sum(math.exp(v.data) for v in t))
    assert (r.op, r.parents) == ("logsumexp", tuple(t))
    assert r.data == pytest.approx(expected, rel=1e-15)
    r.backward()
    for v in t:
        assert v.grad == pytest.approx(math.exp(v.data - expected), rel=1e-15)
    assert sum(v.grad for v in t) == pytest.approx(1.0, rel=1e-15)


def test_logsumexp_does_not_overflow_and_keeps_softplus_precise() -> None:
    big = [Value(1000.0), Value(1000.0)]
    r = logsumexp(big)
    r.backward()
    assert r.data == pytest.approx(1000.0 + math.log(2.0), rel=1e-15)
    assert [v.grad for v in big] == [0.5, 0.5]
    assert logsumexp([Value(-1000.0), Value(-1000.0)]).data == pytest.approx(
        -1000.0 + math.log(2.0), rel=1e-15)
    # softplus(z) = ln(1 + e^z) = logsumexp(0, z): e^-40 is far below 1's ulp
    z = Value(-40.0)
    softplus = logsumexp([0.0, z])
    softplus.backward()
    assert softplus.data == pytest.approx(math.exp(-40.0), rel=1e-15)
    assert z.grad == pytest.approx(math.exp(-40.0), rel=1e-15)  # sigmoid(-40)


def test_logsumexp_gives_numbers_no_parent_slot_and_records_them() -> None:
    x = Value(0.5)
    r = logsumexp([0.0, x, 1])
    assert r.parents == (x,)
    assert r.data == pytest.approx(math.log(1.0 + math.exp(0.5) + math.e), rel=1e-15)
    assert OPS["logsumexp"].operands(r) == ((0.0, x, 1.0),)
    assert logsumexp(v for v in [x]).data == 0.5  # any iterable; one term is itself


@pytest.mark.parametrize(
    ("terms", "error", "message"),
    [([], ValueError, "at least one term"),
     ([Value(1.0), math.inf], ValueError, "finite numbers, got inf"),
     ([Value(1.0), -math.inf], ValueError, "finite numbers, got -inf"),
     ([Value(1.0), math.nan], ValueError, "finite numbers, got nan"),
     ([Value(1.0), "2"], TypeError, "str")],
)
def test_logsumexp_rejects_no_terms_non_finite_terms_and_non_numbers(
    terms: list[object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        logsumexp(terms)  # type: ignore[arg-type]


_number = st.one_of(st.floats(-10.0, 10.0), st.integers(-10, 10))
_scalar = st.one_of(_number, st.floats(-10.0, 10.0).map(Value))


@given(
    data=st.data(),
    nin=st.integers(min_value=0, max_value=5),
    nout=st.integers(min_value=0, max_value=4),
    inputs_kind=st.sampled_from(["values", "floats", "mixed"]),
)
def test_linear_layer_makes_the_nodes_linear_makes_row_by_row(
    data: st.DataObject, nin: int, nout: int, inputs_kind: str
) -> None:
    """Same value, parents (the same objects, in order), local grads and operands."""
    element = {"values": st.floats(-10.0, 10.0).map(Value), "floats": st.floats(-10.0, 10.0),
               "mixed": _scalar}[inputs_kind]
    x = data.draw(st.lists(element, min_size=nin, max_size=nin))
    w = data.draw(st.lists(st.lists(_scalar, min_size=nin, max_size=nin),
                           min_size=nout, max_size=nout))
    b = data.draw(st.lists(_scalar, min_size=nout, max_size=nout))
    z = linear_layer(w, x, b)
    expected = [linear(wj, x, bj) for wj, bj in zip(w, b, strict=True)]
    assert len(z) == nout
    for zj, ej in zip(z, expected, strict=True):
        assert (zj.data, zj.op, zj.parents, zj.local_grads, zj.operands) == (
            ej.data, ej.op, ej.parents, ej.local_grads, ej.operands)


def test_linear_layer_rejects_mismatched_shapes_and_non_sequences() -> None:
    x = [Value(1.0), Value(2.0)]
    with pytest.raises(ValueError, match="2 rows of weights but 1 biases"):
        linear_layer([[1.0, 2.0], [3.0, 4.0]], x, [0.0])
    with pytest.raises(ValueError, match="3 weights but 2 inputs"):
        linear_layer([[Value(1.0)] * 3], x, [Value(0.0)])
    with pytest.raises(TypeError, match="weights must be a sequence, got Value"):
        linear_layer([Value(1.0)], x, [0.0])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="str"):
        linear_layer([[1.0, 2.0]], [1.0, "a"], [0.0])  # type: ignore[list-item]


# -- no_grad ----------------------------------------------------------------------------


def test_no_grad_records_no_parents() -> None:
    x = Value(2.0)
    assert is_grad_enabled()
    with no_grad():
        assert not is_grad_enabled()
        y = (x * x + 1).tanh()
        z = linear([x], [x], x)
        s = sum_of([x, y])
        lse = logsumexp([x, y, 1.0])
    assert is_grad_enabled()
    for v in (y, z, s, lse):
        assert v.parents == () and v.local_grads == ()
    assert y.data == pytest.approx(math.tanh(5.0))


def test_no_grad_restores_recording_after_an_exception() -> None:
    with pytest.raises(RuntimeError), no_grad():
        raise RuntimeError
    assert (Value(1.0) * 2).parents != ()


def test_no_grad_is_per_thread() -> None:
    seen: list[tuple[Value, ...]] = []
    entered, done = threading.Event(), threading.Event()

    def other_thread() -> None:
        entered.wait()
        seen.append((Value(1.0) * 2).parents)
        done.set()

    t = threading.Thread(target=other_thread)
    t.start()
    with no_grad():
        entered.set()
        done.wait()
        inside = (Value(1.0) * 2).parents
    t.join()
    assert inside == () and len(seen[0]) == 1


def test_backward_of_a_result_computed_under_no_grad_raises() -> None:
    """PyTorch raises too: silently doing nothing would look like a zero gradient."""
    x = Value(2.0)
    with no_grad():
        results = [x * x, sum_of([x, 1.0]), linear([x], [3.0]), (x + 1).tanh(), sum_of([1.0])]
    for y in results:
        with pytest.raises(RuntimeError,
                           match=r"computed under no_grad\(\), so its graph was not recorded"):
            y.backward()
    assert x.grad == 0.0


def test_leaves_and_constant_results_still_run_backward() -> None:
    """Only a result made under no_grad raises: a leaf, or an op on numbers only, has a graph."""
    x = Value(2.0)
    x.backward()
    c = sum_of([1.0, 2.0])
    c.backward()
    assert (x.grad, c.grad) == (1.0, 1.0)
    with no_grad():
        k = x * 3.0  # used as a constant by a graph built outside no_grad
    y = k * x
    y.backward()
    assert (x.grad, k.grad) == (1.0 + 6.0, 2.0)


# -- operands and reads ---------------------------------------------------------------


def test_every_node_keeps_its_operands_as_written_numbers_included() -> None:
    """The constants the parents leave out, in any graph, read through the table."""
    x, u = Value(2.0), Value(1.0)
    written = {x + 1.5: (x, 1.5), 3.0 / x: (3.0, x), x**2: (x, 2.0), 2.0**x: (2.0, x),
               x * x: (x, x), 1 - x: (1.0, x), -x: (x,), sum_of([x, 4]): ((x, 4.0),),
               linear([x], [u], -1.0): ((x,), (u,), -1.0), linear([x], [u], u): ((x,), (u,), u),
               linear([x, 2], [u, u]): ((x, 2.0), (u, u), 0.0)}
    for node, operands in written.items():
        assert OPS[node.op].operands(node) == operands
        assert all(type(c) is float for c in operands if type(c) is not Value and
                   not isinstance(c, tuple))
    assert ((x * x).operands, (x + 1).parents, x.operands) == (None, (x,), None)
    with no_grad():
        assert (2.0 - x).operands is None  # no graph: nothing kept


def test_watch_reads_tells_of_every_number_read_off_a_value() -> None:
    """What compile refuses: Python making a number of a Value while a graph is
    recorded. ``v.data`` and ``repr`` are not seen; outside the context nothing is."""
    x, y = Value(2.0, "x"), Value(3.0, "y")
    reads: list[tuple[Value, str]] = []
    with watch_reads(lambda v, how: reads.append((v, how))):
        float(x), int(x), x.item(), x < y, x <= 1, y > x, x >= 0.5, max(x, y)
        format(x, ".2f"), f"{x}", repr(x), x.data, x + y
    assert reads == [
        (x, "float(v)"), (x, "int(v)"), (x, "v.item()"), (x, "a comparison v < ..."),
        (x, "a comparison v <= ..."), (y, "a comparison v > ..."),
        (x, "a comparison v >= ..."), (y, "a comparison v > ..."), (x, "format(v, '.2f')"),
    ]
    float(x), x < y
    assert len(reads) == 9


# -- detect_anomaly ----------------------------------------------------------------


def test_detect_anomaly_refuses_a_graph_whose_data_changed_after_it_was_built() -> None:
    """The issue's case: without the mode, y.backward() silently gives dy/dx at x = 2 (4)."""
    x = Value(2.0, label="x")
    with detect_anomaly():
        y = x * x
        x.data = 5.0
        with pytest.raises(RuntimeError, match=(
                r"the leaf 'x' \(= 5.0\) was 2.0 when the '\*' node \(= 4.0, built at "
                r".*test_engine.py:\d+ in test_detect_anomaly_refuses.*\) was computed from it")):
            y.backward()
    assert (x.grad, y.grad) == (0.0, 0.0)


def test_detect_anomaly_catches_a_training_loop_that_steps_between_forward_and_backward() -> None:
    net = MLP(2, [3, 1], seed=0)
    optimizer = SGD(net.parameters(), lr=0.1)
    with detect_anomaly():
        cost = quadratic(net([0.5, -1.0]), [1.0])
        cost.backward()
        optimizer.step()  # the parameters move: cost's graph is now stale
        optimizer.zero_grad()
        with pytest.raises(RuntimeError, match=r"leaf 'w\^2_\d\d' .* Build the graph again"):
            cost.backward()
        cost = quadratic(net([0.5, -1.0]), [1.0])  # the forward pass again: fine
        cost.backward()


def test_detect_anomaly_names_the_line_that_built_the_node_at_fault() -> None:
    x = Value(1e-200, label="x")
    with detect_anomaly():
        q = 1 / x
        line = inspect.currentframe().f_lineno - 1  # type: ignore[union-attr]
        y = q * 1e-300
        with pytest.raises(OverflowError, match=(
                rf"at the '/' node \(= 1e\+200, built at .*test_engine.py:{line} in "
                r"test_detect_anomaly_names.*overflowed to -inf")):
            y.backward()
    assert x.grad == 0.0


def test_detect_anomaly_names_where_a_library_function_was_called() -> None:
    """A node made inside microgrid (a loss) is placed at the user's line, via the library's."""
    a = Value(math.inf)
    with detect_anomaly():
        cost = quadratic([a], [0.0])  # (a - 0)**2 = inf: allowed, a is infinite
        with pytest.raises(ValueError, match=(
                r"at the '\*\*' node \(= inf, built at .*test_engine.py:\d+ in "
                r"test_detect_anomaly_names_where.* via losses.py:\d+ in quadratic")):
            cost.backward()


def test_detect_anomaly_raises_on_an_exact_infinity_too() -> None:
    """Outside the mode sqrt'(0) = +inf reaches the leaf; inside, the first inf is named."""
    x = Value(0.0, label="x")
    with detect_anomaly():
        s = x.sqrt()
        s.label = "s"
        with pytest.raises(ValueError, match=(
                r"at the 'sqrt' node 's' .*is inf, exactly \(sqrt's slope at 0 is vertical\).*"
                r"outside detect_anomaly\(\), backward hands this infinity over")):
            (s * 3.0).backward()
    assert x.grad == 0.0


def test_detect_anomaly_refuses_a_graph_holding_nan() -> None:
    x = Value(2.0, label="x")
    y, z = x * 3.0, x * 3.0
    x.data = math.nan
    with detect_anomaly(), pytest.raises(ValueError, match=r"graph holds nan: the leaf 'x'"):
        y.backward()
    x.data = 2.0
    z.local_grads = (math.nan,)
    with detect_anomaly(), pytest.raises(ValueError, match="graph holds nan: the local derivative"):
        z.backward()


def test_a_graph_built_outside_the_mode_is_checked_but_its_lines_are_unknown() -> None:
    """Nothing was recorded when it was built: a change of data cannot be seen, a fault can."""
    x = Value(2.0)
    y = x * x
    x.data = 5.0
    with detect_anomaly():
        y.backward()  # unseen: the documented limit
    assert x.grad == 4.0
    x = Value(1e-200)
    y = (1 / x) * 1e-300
    with detect_anomaly(), pytest.raises(OverflowError, match=r"built outside detect_anomaly\(\)"):
        y.backward()


def test_detect_anomaly_changes_no_result_and_nothing_outside_it() -> None:
    x, w = Value(0.5), Value(-1.5)
    plain = (x * w + x).tanh() ** 2
    plain.backward()
    expected = (x.grad, w.grad)
    x.grad = w.grad = 0.0
    with detect_anomaly():
        assert is_anomaly_enabled()
        checked = (x * w + x).tanh() ** 2
        checked.backward()
        assert (x.grad, w.grad) == expected
    assert not is_anomaly_enabled()
    assert type((x * w).local_grads) is tuple  # nothing recorded outside


def test_detect_anomaly_composes_with_no_grad_and_watch_reads() -> None:
    """Inside no_grad nothing is recorded; compile's recordings (watch_reads) still
    hear of reads, and their nodes keep their operands."""
    x = Value(2.0)
    reads: list[tuple[Value, str]] = []
    with detect_anomaly():
        with no_grad():
            assert (x * 2.0).parents == ()
        with watch_reads(lambda v, how: reads.append((v, how))):
            y = x + 1.5
            float(x)
            assert is_anomaly_enabled()
        assert OPS["+"].operands(y) == (x, 1.5) and reads == [(x, "float(v)")]
        z = x * 3.0
        x.data = 3.0
        with pytest.raises(RuntimeError, match=r"was 2\.0"):
            z.backward()
    with no_grad(), detect_anomaly():
        assert is_anomaly_enabled() and (x * 2.0).parents == ()


def test_detect_anomaly_is_per_thread() -> None:
    seen: list[bool] = []
    t = threading.Thread(target=lambda: seen.append(is_anomaly_enabled()))
    with detect_anomaly():
        t.start()
        t.join()
    assert seen == [False]


def test_a_graph_built_in_the_mode_is_freed_without_the_cyclic_collector() -> None:
    gc.collect()
    gc.disable()
    try:
        alive_before = sum(type(o) is Value for o in gc.get_objects())
        with detect_anomaly():
            x = Value(0.5)
            y = x
            for _ in range(1000):
                y = (y * 0.5 + 0.25).tanh()
            y.backward()
        del x, y
        alive = sum(type(o) is Value for o in gc.get_objects())
    finally:
        gc.enable()
    assert alive == alive_before
