"""Specification of `microgrid.optim`: SGD and Adam follow PyTorch's (and the papers') rules.

SGD, with ``g = grad + weight_decay * p``::

    buf = momentum * buf + g     (buf starts at 0; without momentum buf = g)
    p  -= lr * buf

Adam (Kingma & Ba 2015, Algorithm 1), with the same ``g``::

    m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
    p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from microgrid.engine import Value, sum_of
from microgrid.nn import MLP
from microgrid.optim import SGD, Adam, Optimizer


def leaves(data: list[float], grads: list[float]) -> list[Value]:
    params = [Value(d, label=f"p{i}") for i, d in enumerate(data)]
    for p, g in zip(params, grads, strict=True):
        p.grad = g
    return params


# -- SGD ------------------------------------------------------------------------------


def test_sgd_step_is_p_minus_lr_times_grad() -> None:
    params = leaves([1.0, -2.0, 0.5], [0.25, -1.0, 3.0])
    SGD(params, lr=0.1).step()
    assert [p.data for p in params] == [1.0 - 0.1 * 0.25, -2.0 - 0.1 * -1.0, 0.5 - 0.1 * 3.0]
    assert [p.grad for p in params] == [0.25, -1.0, 3.0]  # step leaves grads alone
    assert all(p.parents == () for p in params)


def test_sgd_weight_decay_adds_wd_times_p_to_the_gradient() -> None:
    (p,) = leaves([2.0], [0.5])
    SGD([p], lr=0.1, weight_decay=0.01).step()
    assert p.data == 2.0 - 0.1 * (0.5 + 0.01 * 2.0)


def test_sgd_momentum_over_three_steps_by_hand() -> None:
    """buf_1 = g_1; buf_2 = mu buf_1 + g_2; buf_3 = mu buf_2 + g_3; each p -= lr buf."""
    lr, mu, wd = 0.05, 0.9, 0.1
    (p,) = leaves([1.5], [0.0])
    opt = SGD([p], lr=lr, momentum=mu, weight_decay=wd)
    grads = [0.4, -0.2, 0.7]
    expected_p, buf = 1.5, 0.0
    for g in grads:
        p.grad = g
        opt.step()
        d = g + wd * expected_p
        buf = mu * buf + d
        expected_p = expected_p - lr * buf
        assert p.data == expected_p
        assert opt.buffers == [buf]
    # the first two steps with the numbers worked out by hand:
    # g_1 = 0.4 + 0.1 * 1.5 = 0.55, buf_1 = 0.55, p_1 = 1.5 - 0.05 * 0.55 = 1.4725
    # g_2 = -0.2 + 0.1 * 1.4725 = -0.05275, buf_2 = 0.9 * 0.55 - 0.05275 = 0.44225,
    # p_2 = 1.4725 - 0.05 * 0.44225 = 1.4503875
    (q,) = leaves([1.5], [0.4])
    opt = SGD([q], lr=lr, momentum=mu, weight_decay=wd)
    opt.step()
    assert q.data == pytest.approx(1.4725, rel=1e-15)
    q.grad = -0.2
    opt.step()
    assert opt.buffers == [pytest.approx(0.44225, rel=1e-14)]
    assert q.data == pytest.approx(1.4503875, rel=1e-15)


def test_sgd_uses_the_current_lr_so_schedules_work() -> None:
    (p,) = leaves([1.0], [1.0])
    opt = SGD([p], lr=0.1)
    opt.step()
    opt.lr = 0.01
    opt.step()
    assert p.data == (1.0 - 0.1) - 0.01


@given(
    data=st.lists(st.floats(-100, 100), min_size=1, max_size=5),
    lr=st.floats(0, 1), momentum=st.floats(0, 0.99), weight_decay=st.floats(0, 0.1),
    grads=st.lists(st.floats(-100, 100), min_size=5, max_size=5),
)
def test_sgd_matches_pytorchs_rule(data: list[float], lr: float, momentum: float,
                                   weight_decay: float, grads: list[float]) -> None:
    """Two steps of SGD equal PyTorch's update computed here by hand, parameter by parameter."""
    params = leaves(data, grads[: len(data)])
    opt = SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    expected = list(data)
    bufs = [0.0] * len(data)
    for step in range(2):
        for i, p in enumerate(params):
            p.grad = grads[(i + step) % len(grads)]
            g = p.grad + weight_decay * expected[i]
            bufs[i] = momentum * bufs[i] + g if momentum else g
            expected[i] -= lr * bufs[i]
        opt.step()
        assert [p.data for p in params] == expected


# -- Adam -------------------------------------------------------------------------------


def test_adam_first_two_steps_follow_the_published_formulas() -> None:
    """Kingma & Ba, Algorithm 1, written out for t = 1 and t = 2."""
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    (p,) = leaves([0.5], [0.2])
    opt = Adam([p], lr=lr, betas=(b1, b2), eps=eps)
    opt.step()
    m1 = (1 - b1) * 0.2
    v1 = (1 - b2) * 0.2**2
    p1 = 0.5 - lr * (m1 / (1 - b1)) / (math.sqrt(v1 / (1 - b2)) + eps)
    assert p.data == pytest.approx(p1, rel=1e-12)
    assert p.data == pytest.approx(0.5 - lr, rel=1e-6)  # step 1 moves by ~lr * sign(g)
    assert opt.t == 1
    assert opt.m == [pytest.approx(m1, rel=1e-15)] and opt.v == [pytest.approx(v1, rel=1e-15)]
    p.grad = -0.3
    opt.step()
    m2 = b1 * m1 + (1 - b1) * -0.3
    v2 = b2 * v1 + (1 - b2) * 0.09
    p2 = p1 - lr * (m2 / (1 - b1**2)) / (math.sqrt(v2 / (1 - b2**2)) + eps)
    assert p.data == pytest.approx(p2, rel=1e-12)
    assert opt.t == 2


def test_adam_weight_decay_is_l2_added_to_the_gradient() -> None:
    """PyTorch's Adam(weight_decay=wd): g = grad + wd * p, before the moments."""
    (p,) = leaves([3.0], [0.1])
    Adam([p], lr=0.1, weight_decay=0.5).step()
    g = 0.1 + 0.5 * 3.0
    m, v = 0.1 * g, 0.001 * g * g
    assert p.data == pytest.approx(3.0 - 0.1 * (m / 0.1) / (math.sqrt(v / 0.001) + 1e-8),
                                   rel=1e-12)


def test_adam_with_zero_gradient_does_not_move() -> None:
    (p,) = leaves([1.25], [0.0])
    Adam([p]).step()
    assert p.data == 1.25


@given(
    data=st.lists(st.floats(-10, 10), min_size=1, max_size=4),
    grads=st.lists(st.floats(-10, 10), min_size=3, max_size=3),
    lr=st.floats(1e-4, 1), b1=st.floats(0, 0.99), b2=st.floats(0, 0.9999),
)
def test_adam_matches_the_published_algorithm(data: list[float], grads: list[float], lr: float,
                                              b1: float, b2: float) -> None:
    params = leaves(data, [0.0] * len(data))
    opt = Adam(params, lr=lr, betas=(b1, b2))
    expected, m, v = list(data), [0.0] * len(data), [0.0] * len(data)
    for t in (1, 2, 3):
        for i, p in enumerate(params):
            g = p.grad = grads[(i + t) % 3]
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            expected[i] -= lr * (m[i] / (1 - b1**t)) / (math.sqrt(v[i] / (1 - b2**t)) + 1e-8)
        opt.step()
        assert [p.data for p in params] == pytest.approx(expected, rel=1e-12, abs=1e-12)


# -- shared behaviour ---------------------------------------------------------------------


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1), lambda ps: Adam(ps)])
def test_zero_grad_clears_every_parameter(make: Any) -> None:
    params = leaves([1.0, 2.0], [3.0, 4.0])
    opt: Optimizer = make(params)
    opt.zero_grad()
    assert [p.grad for p in params] == [0.0, 0.0]


def test_params_are_materialised_once_from_any_iterable() -> None:
    net = MLP(2, [3, 1], seed=0)
    opt = SGD((p for p in net.parameters()), lr=0.1)
    assert opt.params == net.parameters()
    for p in net.parameters():
        p.grad = 1.0
    opt.step()
    opt.step()  # the generator was not consumed by the first step
    before = MLP(2, [3, 1], seed=0).parameters()
    assert [p.data for p in net.parameters()] == [(q.data - 0.1) - 0.1 for q in before]


@pytest.mark.parametrize("cls", [SGD, Adam])
@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ([], ValueError, "params is empty"),
        ([Value(1.0), 2.0], TypeError, r"params\[1\] is float"),
        (Value(1.0), TypeError, "got one Value"),
        (3, TypeError, "iterable of Values, got int"),
    ],
)
def test_bad_params_are_rejected(cls: Any, params: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        cls(params, lr=0.1)


@pytest.mark.parametrize("cls", [SGD, Adam])
def test_a_parameter_listed_twice_is_rejected(cls: Any) -> None:
    w = Value(1.0, label="w^2_00")
    with pytest.raises(ValueError, match=r"parameter 2 \(w\^2_00\) appears more than once"):
        cls([w, Value(0.0), w], lr=0.1)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"lr": -0.1}, ValueError, r"lr must be a finite number >= 0, got -0\.1"),
        ({"lr": math.nan}, ValueError, "lr must be a finite number >= 0, got nan"),
        ({"lr": math.inf}, ValueError, "lr must be a finite number >= 0, got inf"),
        ({"lr": "0.1"}, TypeError, "lr must be a real number, got str '0.1'"),
        ({"lr": True}, TypeError, "lr must be a real number, got bool True"),
        ({"lr": 0.1, "momentum": -0.5}, ValueError, "momentum must be a finite number >= 0"),
        ({"lr": 0.1, "momentum": math.nan}, ValueError, "momentum must be a finite number"),
        ({"lr": 0.1, "momentum": None}, TypeError, "momentum must be a real number, got None"),
        ({"lr": 0.1, "weight_decay": -1e-4}, ValueError,
         "weight_decay must be a finite number >= 0, got -0.0001"),
    ],
)
def test_sgd_rejects_bad_hyper_parameters(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=f"SGD: {message}"):
        SGD([Value(1.0)], **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"lr": -1e-3}, ValueError, r"lr must be a finite number >= 0"),
        ({"betas": (1.0, 0.999)}, ValueError,
         r"betas\[0\] must be a finite number in \[0, 1\), got 1.0"),
        ({"betas": (0.9, -0.1)}, ValueError, r"betas\[1\] must be a finite number in \[0, 1\)"),
        ({"betas": (0.9, math.nan)}, ValueError, r"betas\[1\] must be a finite number"),
        ({"betas": (0.9, "0.999")}, TypeError, r"betas\[1\] must be a real number, got str"),
        ({"betas": (0.9,)}, ValueError, "betas must be a pair"),
        ({"betas": 0.9}, TypeError, "betas must be a pair"),
        ({"eps": 0.0}, ValueError, r"eps must be a finite number > 0 \(it keeps the step finite"),
        ({"eps": -1e-8}, ValueError, "eps must be a finite number > 0"),
        ({"weight_decay": math.inf}, ValueError, "weight_decay must be a finite number"),
    ],
)
def test_adam_rejects_bad_hyper_parameters(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=f"Adam: {message}"):
        Adam([Value(1.0)], **kwargs)


@pytest.mark.parametrize("cls", [SGD, Adam])
def test_a_bad_lr_set_later_is_caught_at_step_and_changes_nothing(cls: Any) -> None:
    params = leaves([1.0], [1.0])
    opt = cls(params, lr=0.1)
    opt.lr = -1.0
    with pytest.raises(ValueError, match=r"lr must be a finite number >= 0, got -1\.0"):
        opt.step()
    assert params[0].data == 1.0


@pytest.mark.parametrize("cls", [SGD, Adam])
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_non_finite_gradient_names_the_parameter_and_changes_nothing(
    cls: Any, bad: float
) -> None:
    params = leaves([1.0, 2.0, 3.0], [0.5, 0.5, bad])
    params[2].label = "b^3_0"
    opt: Any = cls(params, lr=0.1, momentum=0.9) if cls is SGD else cls(params, lr=0.1)
    with pytest.raises(ValueError, match=rf"gradient of parameter 2 \(b\^3_0\) is {bad!r}"):
        opt.step()
    assert [p.data for p in params] == [1.0, 2.0, 3.0]
    if cls is SGD:
        assert opt.buffers == [0.0, 0.0, 0.0]
    else:
        assert (opt.t, opt.m, opt.v) == (0, [0.0] * 3, [0.0] * 3)


def test_an_unlabelled_parameter_is_named_by_index() -> None:
    p = Value(1.0)
    p.grad = math.nan
    with pytest.raises(ValueError, match=r"gradient of parameter 0 is nan"):
        SGD([p], lr=0.1).step()


def test_a_step_that_would_overflow_raises_and_changes_nothing() -> None:
    params = leaves([1.0, 1e308], [1.0, -1e308])
    with pytest.raises(ValueError, match=r"value of parameter 1 \(p1\) inf"):
        SGD(params, lr=10.0).step()
    assert [p.data for p in params] == [1.0, 1e308]
    params = leaves([1.0], [1e200])  # g^2 overflows the second moment
    with pytest.raises(ValueError, match=r"second moment of parameter 0 \(p0\) inf"):
        Adam(params).step()
    assert params[0].data == 1.0


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1, momentum=0.9),
                                  lambda ps: Adam(ps, lr=0.05)])
def test_optimisers_lower_a_networks_cost(make: Any) -> None:
    """A few steps on a tiny regression (y = x0 - x1) lower the quadratic cost."""
    net = MLP(2, [8, 1], activation="tanh", seed=3)
    data = [([x0 / 2, x1 / 2], x0 / 2 - x1 / 2) for x0 in range(-2, 3) for x1 in range(-2, 3)]
    opt: Optimizer = make(net.parameters())

    def cost() -> Value:
        return sum_of([0.5 * (net(x)[0] - y) ** 2 for x, y in data]) / len(data)

    start = cost().data
    for _ in range(30):
        opt.zero_grad()
        cost().backward()
        opt.step()
    assert cost().data < 0.5 * start
