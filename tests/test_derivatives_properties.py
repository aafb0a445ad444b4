"""Properties of microgrid.derivatives on random expressions and networks (hypothesis).

The expressions are `microgrid.strategies.expressions` (every operation of the
table, inside its domain and away from its kinks at the drawn inputs), the
networks `microgrid.strategies.networks`. Second derivatives come from `grad`
twice (reverse over reverse); gradcheck supplies the central differences and
skips, saying why, an entry whose stencil crosses a kink.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from rounding import magnitudes

from microgrid import MLP, grad, gradcheck, hessian
from microgrid.losses import quadratic
from microgrid.strategies import Expression, examples_for, expressions, networks


def second_derivatives(expr: Expression) -> tuple[list[list[float]], list[list[float]]]:
    """``H[i][j] = ∂/∂x_j (∂f/∂x_i)``, each entry from its own second pass (not mirrored),
    and the rounding scale of each (the magnitudes its pass adds up, `rounding`)."""
    root, leaves = expr.build()
    first = grad(root, leaves, create_graph=True)
    h, scale = [], []
    for g in first:
        h.append([d.data for d in grad(g, leaves)])
        m = magnitudes(g)
        scale.append([m.get(x, 0.0) for x in leaves])
    return h, scale


@given(expressions())
def test_mixed_partials_are_symmetric_within_rounding(expr: Expression) -> None:
    """∂²f/∂x∂y = ∂²f/∂y∂x: two different passes, equal up to a few ulps of the terms."""
    h, scale = second_derivatives(expr)
    n = len(h)
    for i in range(n):
        for j in range(i + 1, n):
            tolerance = 1e-12 * (scale[i][j] + scale[j][i]) + 1e-300
            assert abs(h[i][j] - h[j][i]) <= tolerance or h[i][j] == h[j][i], (i, j, str(expr))


@given(expressions(), st.data())
def test_second_derivatives_equal_central_differences_of_grad(
    expr: Expression, data: st.DataObject
) -> None:
    """The derivative of ``grad(f, [x_i], create_graph=True)`` is its central difference
    (gradcheck, which skips an entry whose stencil crosses a kink)."""
    i = data.draw(st.integers(0, len(expr.inputs) - 1))
    result = gradcheck(lambda xs: grad(expr(xs), [xs[i]], create_graph=True)[0], expr.inputs)
    assert result.ok, f"{expr}\n{result}"


@given(expressions())
def test_grad_without_a_graph_equals_backwards_grads_exactly(expr: Expression) -> None:
    root, leaves = expr.build()
    got = grad(root, leaves)
    assert all(leaf.grad == 0.0 for leaf in leaves)
    root.backward()
    assert [g.data for g in got] == [leaf.grad for leaf in leaves]


@given(expressions())
def test_grad_with_a_graph_gives_the_same_numbers_within_rounding(expr: Expression) -> None:
    root, leaves = expr.build()
    values = grad(root, leaves, create_graph=True)
    floats = grad(root, leaves)
    m = magnitudes(root)
    for v, f, leaf in zip(values, floats, leaves, strict=True):
        assert abs(v.data - f.data) <= 1e-13 * m.get(leaf, 0.0) + 1e-300 or v.data == f.data


# -- networks, against torch --------------------------------------------------------------


def torch_cost(net: MLP, x: list[float], y: list[float]) -> Any:
    """``net``'s quadratic cost as a torch function of its parameters, flattened in
    `MLP.parameters` order (each neuron's weights, then its bias)."""
    import torch

    act = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
           "linear": lambda z: z}
    target = torch.tensor(y, dtype=torch.float64)

    def cost(p: torch.Tensor) -> torch.Tensor:
        a, at = torch.tensor(x, dtype=torch.float64), 0
        for n, (n_in, n_out) in enumerate(zip(net.sizes, net.sizes[1:], strict=False), 1):
            block = p[at: at + n_out * (n_in + 1)].reshape(n_out, n_in + 1)
            last = n == len(net.sizes) - 1
            a = act[net.output_activation if last else net.activation](
                block[:, :n_in] @ a + block[:, n_in])
            at += n_out * (n_in + 1)
        return 0.5 * ((a - target) ** 2).sum()

    return cost


@pytest.mark.torch
@settings(max_examples=30)
@given(networks(max_depth=2, max_width=3), st.data())
def test_hessian_of_a_random_network_equals_torchs(net: MLP, data: st.DataObject) -> None:
    import torch
    from torch.autograd.functional import hessian as t_hessian

    x, y = data.draw(examples_for(net))
    params = net.parameters()
    assume(len(params) <= 40)
    # a ReLU at its kink: torch's and microgrid's one-sided conventions agree (0) there
    h = hessian(lambda ps: quadratic(net(x), y), params)
    p = torch.tensor([q.data for q in params], dtype=torch.float64)
    expected = t_hessian(torch_cost(net, x, y), p).tolist()
    biggest = max((abs(e) for row in expected for e in row), default=0.0)
    for row, want in zip(h, expected, strict=True):
        assert row == pytest.approx(want, rel=1e-9, abs=1e-12 * biggest + 1e-300)
