"""Property-test your own model code with hypothesis and `microgrid.strategies`.

Say you write a cost that microgrid does not ship: the Huber loss, quadratic
near the target and linear far from it (robust to outliers). Three
properties pin it down, each checked on hundreds of random networks and
examples that hypothesis draws (and shrinks to a minimal case on failure):

1. It never exceeds the quadratic cost, and equals it for small residuals.
2. Its gradient with respect to the outputs is the clipped residual
   ``clip(a - y, -delta, delta)``: the engine's ``a.grad`` after backward.
3. Through a whole random network, the engine's gradient with respect to
   the input agrees with finite differences (`microgrid.gradcheck`).

Needs hypothesis (``pip install "microgrid-autodiff[testing]"``).

    python examples/property_test.py                 # run the properties
    python examples/property_test.py --show-failure  # a wrong derivative, caught

In a project you would put the ``test_`` functions in a pytest file.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from microgrid import MLP, Value, gradcheck, sum_of
from microgrid.losses import quadratic
from microgrid.strategies import examples_for, networks

DELTA = 1.0


def huber(a: Sequence[Value], y: Sequence[float], delta: float = DELTA) -> Value:
    """The Huber cost ``sum_j h(a_j - y_j)``.

    ``h(r) = r^2 / 2`` where ``|r| <= delta``, ``delta (|r| - delta / 2)`` beyond.
    """
    terms = []
    for aj, yj in zip(a, y, strict=True):
        r = aj - yj
        terms.append(0.5 * r * r if abs(r.data) <= delta else delta * (r.abs() - 0.5 * delta))
    return sum_of(terms)


def clipped(r: float, delta: float = DELTA) -> float:
    """The derivative of the Huber term by hand: the residual, clipped to +-delta."""
    return max(-delta, min(delta, r))


# Smooth activations, so that the finite differences of property 3 see no kinks.
smooth_networks = networks(max_depth=3, max_width=5, activations=("tanh", "sigmoid", "linear"))


@settings(max_examples=200, deadline=None, database=None)
@given(smooth_networks.flatmap(lambda net: st.tuples(st.just(net), examples_for(net))))
def test_huber_is_at_most_quadratic(case: tuple[MLP, tuple[list[float], list[float]]]) -> None:
    net, (x, y) = case
    a = net(x)
    h, q = huber(a, y).data, quadratic(a, y).data
    assert 0.0 <= h <= q + 1e-12
    if all(abs(aj.data - yj) <= DELTA for aj, yj in zip(a, y, strict=True)):
        assert abs(h - q) <= 1e-12 * max(1.0, q)


@settings(max_examples=200, deadline=None, database=None)
@given(smooth_networks.flatmap(lambda net: st.tuples(st.just(net), examples_for(net))))
def test_huber_gradient_is_the_clipped_residual(
    case: tuple[MLP, tuple[list[float], list[float]]],
) -> None:
    net, (x, y) = case
    trace = net.trace(x)
    huber(trace.output, y).backward()
    for aj, yj in zip(trace.output, y, strict=True):
        assert abs(aj.grad - clipped(aj.data - yj)) <= 1e-12


@settings(max_examples=100, deadline=None, database=None)
@given(smooth_networks.flatmap(lambda net: st.tuples(st.just(net), examples_for(net))))
def test_gradient_through_the_network_matches_finite_differences(
    case: tuple[MLP, tuple[list[float], list[float]]],
) -> None:
    net, (x, y) = case
    result = gradcheck(lambda xs: huber(net(xs), y), x)
    assert result.ok, str(result)


def wrong_derivative(r: float) -> float:
    """A plausible slip: forgetting to clip."""
    return r


@settings(max_examples=200, deadline=None, database=None)
@given(smooth_networks.flatmap(lambda net: st.tuples(st.just(net), examples_for(net))))
def check_wrong_derivative(case: tuple[MLP, tuple[list[float], list[float]]]) -> None:
    net, (x, y) = case
    trace = net.trace(x)
    huber(trace.output, y).backward()
    for aj, yj in zip(trace.output, y, strict=True):
        assert abs(aj.grad - wrong_derivative(aj.data - yj)) <= 1e-12


def main(argv: list[str]) -> int:
    if "--show-failure" in argv:
        try:
            check_wrong_derivative()
        except AssertionError as e:
            # hypothesis attaches the shrunk falsifying example as notes
            print("\n".join(getattr(e, "__notes__", [])))
            print("caught: the unclipped derivative is wrong for large residuals")
            return 0
        print("the wrong derivative was not caught")
        return 1
    for test in (test_huber_is_at_most_quadratic, test_huber_gradient_is_the_clipped_residual,
                 test_gradient_through_the_network_matches_finite_differences):
        test()
        print(f"ok  {test.__name__}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
