"""Specification of `microgrid.gradcheck`: engine gradients against central differences."""

from __future__ import annotations

import math

import pytest

from microgrid import Value, gradcheck, linear, sum_of
from microgrid.engine import OPS
from microgrid.gradcheck import GradcheckResult
from microgrid.nn import MLP


def wrong_square(x: Value) -> Value:
    """x**2 with a deliberately wrong stored derivative (3x instead of 2x)."""
    v = Value(x.data**2)
    v.parents = (x,)
    v.local_grads = (3.0 * x.data,)
    v.op = "square"
    return v


def test_smooth_functions_pass() -> None:
    """Every engine operation's derivative matches the central difference at a smooth point."""
    def f(x: list[Value]) -> Value:
        a, b, c = x
        return sum_of([
            (a * b).tanh(), a.sigmoid() / c, c.log() * b.exp(), c.sqrt() ** 1.5,
            (b - a).abs(), (a + 1.0).relu(), 2.0 ** a, a ** b.abs(), -c,
            linear([a, b], [c, a], 0.5),
        ])

    result = gradcheck(f, [0.3, -1.2, 2.5])
    assert result.ok and bool(result)
    assert result.checked == 3 and result.skipped == []
    assert result.rel_error < 1e-7


def test_a_wrong_derivative_fails_and_the_worst_entry_is_reported() -> None:
    """analytic 3x vs numeric 2x for x0 = 1.5: input 0 is the worst, with both numbers."""
    result = gradcheck(lambda x: wrong_square(x[0]) + x[1] * x[2], [1.5, 2.0, -1.0])
    assert not result.ok and not bool(result)
    assert result.worst == 0
    assert result.analytic == 4.5
    assert result.numeric == pytest.approx(3.0, rel=1e-8)
    assert result.abs_error == pytest.approx(1.5, rel=1e-8)
    assert result.rel_error == pytest.approx(1.5 / 4.5, rel=1e-8)
    assert [e.ok for e in result.entries] == [False, True, True]
    assert "FAILED" in str(result) and "worst: input 0" in str(result)


@pytest.mark.parametrize("op", [name for name, spec in OPS.items() if spec.kinks])
def test_an_input_at_a_kink_is_skipped_with_the_reason(op: str) -> None:
    """relu/abs at 0 (the kinks of the table): the central difference straddles the
    kink (relu gives 0.5, the engine 0)."""
    spec = OPS[op]
    for k in spec.kinks:
        result = gradcheck(lambda x: spec.apply(x[0]) + x[1] * x[1], [k, 1.0])
        assert result.ok
        crosses = "changes sign" if k == 0.0 else f"crosses {k:g}"
        assert result.skipped == [(0, f"{op} node 1: its argument {crosses} within eps")]
        assert result.checked == 1 and result.worst == 1


def test_a_kink_reached_through_other_nodes_is_detected() -> None:
    """The argument 1000 x0 - 1 crosses 0 within eps of x0 = 0.001: skipped."""
    result = gradcheck(lambda x: (x[0] * 1000.0 - 1.0).relu(), [0.001])
    assert [i for i, _ in result.skipped] == [0]


def test_near_but_not_at_a_kink_is_checked() -> None:
    """relu(x) at x = 1e-3, well beyond eps = 1e-6: compared, slope 1."""
    result = gradcheck(lambda x: x[0].relu() * 3.0, [1e-3])
    assert result.checked == 1 and result.ok
    assert result.analytic == 3.0


def test_an_input_at_the_edge_of_the_domain_is_skipped() -> None:
    """sqrt at 0: f(x - eps) is undefined, so there is no central difference."""
    result = gradcheck(lambda x: x[0].sqrt(), [0.0])
    assert result.ok and result.checked == 0 and result.worst is None
    assert "undefined within eps" in result.skipped[0][1]
    assert math.isnan(result.analytic) and "0 of 1 entries checked" in str(result)


def test_a_branch_on_a_value_is_skipped() -> None:
    """f(x) = x if x > 0 else -2x at 0: the graph changes across the stencil."""
    result = gradcheck(lambda x: x[0] if x[0].data > 0 else x[0] * -2.0, [0.0])
    assert result.skipped and "different path" in result.skipped[0][1]


def test_rounding_in_f_itself_is_not_a_failure() -> None:
    """A large constant in f (1e6 + 1e-3 x) leaves ~1e-4 of rounding noise in the difference."""
    result = gradcheck(lambda x: x[0] * 1e-3 + 1e6, [0.7])
    assert result.ok
    assert result.analytic == 1e-3


def test_gradients_of_other_leaves_and_the_inputs_are_left_alone() -> None:
    """A network's parameters keep their grads; Values passed as inputs are not modified."""
    net = MLP(2, [3, 1], activation="tanh", seed=0)
    for p in net.parameters():
        p.grad = 7.0
    x0 = Value(0.4)
    result = gradcheck(lambda x: net(x)[0] ** 2, [x0, -0.3])
    assert result.ok and result.checked == 2
    assert all(p.grad == 7.0 for p in net.parameters())
    assert x0.grad == 0.0 and x0.data == 0.4


def test_result_fields() -> None:
    result = gradcheck(lambda x: x[0] ** 3, [2.0], eps=1e-5, rtol=1e-6, atol=0.0)
    assert isinstance(result, GradcheckResult)
    assert (result.eps, result.rtol, result.atol) == (1e-5, 1e-6, 0.0)
    entry = result.entries[0]
    assert entry.index == 0 and entry.analytic == 12.0
    assert entry.numeric == pytest.approx(12.0, rel=1e-9)
    assert entry.abs_error <= entry.tolerance


@pytest.mark.parametrize(
    ("f", "inputs", "kwargs", "error", "message"),
    [
        (lambda x: x[0], [], {}, ValueError, "inputs is empty"),
        (lambda x: x[0], "12", {}, TypeError, "inputs must be a list of numbers"),
        (lambda x: x[0], [1.0, "2"], {}, TypeError, "inputs[1] is str '2'"),
        (lambda x: x[0], [math.inf], {}, ValueError, "inputs[0] is inf"),
        (lambda x: x[0], [1.0], {"eps": 0.0}, ValueError, "eps must be a finite number > 0"),
        (lambda x: x[0], [1.0], {"rtol": -1.0}, ValueError, "rtol must be a finite number >= 0"),
        (lambda x: x[0], [1.0], {"eps": "1e-6"}, TypeError, "eps must be a real number, got str"),
        (lambda x: x[0], [1.0], {"atol": True}, TypeError, "atol must be a real number, got bool"),
        (lambda x: x[0], [1.0], {"atol": math.nan}, ValueError, "atol must be a finite number"),
        (lambda x: 3.0, [1.0], {}, TypeError, "f must return a scalar Value, got float"),
        ("not callable", [1.0], {}, TypeError, "f must be callable"),
    ],
)
def test_bad_arguments_are_refused(
    f: object, inputs: object, kwargs: dict[str, float], error: type, message: str
) -> None:
    with pytest.raises(error) as info:
        gradcheck(f, inputs, **kwargs)  # type: ignore[arg-type]
    assert message in str(info.value)
