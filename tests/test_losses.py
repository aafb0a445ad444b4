"""Specification of microgrid.losses: values and gradients against closed forms.

Notation as in BACKPROP.md: ``z`` weighted inputs, ``a`` activations, ``y``
targets, ``delta = ∂C/∂z``. The book's output-layer shortcuts (``delta^L =
a - y`` for cross-entropy with sigmoid and for softmax with log-likelihood)
must hold on the graph the costs build.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from microgrid import MLP, Value
from microgrid.losses import (
    LOSSES,
    batch_cost,
    cross_entropy,
    cross_entropy_with_logits,
    get_loss,
    hinge,
    l2_penalty,
    l2_weight_penalty,
    log_likelihood,
    mean,
    mse,
    quadratic,
    softmax,
    softmax_nll,
)

logits = st.floats(min_value=-30.0, max_value=30.0, allow_nan=False)
probability_targets = st.floats(min_value=0.0, max_value=1.0)


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def leaves(*xs: float) -> list[Value]:
    return [Value(x) for x in xs]


def closed_softmax(zs: list[float]) -> list[float]:
    m = max(zs)
    es = [math.exp(z - m) for z in zs]
    return [e / sum(es) for e in es]


# -- quadratic and mse ------------------------------------------------------


def test_quadratic_is_half_the_squared_distance_and_its_gradient_is_a_minus_y():
    """C_x = 1/2 sum (y_j - a_j)^2 and ∂C_x/∂a_j = a_j - y_j."""
    a = leaves(0.8, 0.1, -2.0)
    y = [1.0, 0.0, 0.5]
    c = quadratic(a, y)
    c.backward()
    assert c.data == pytest.approx(0.5 * (0.2**2 + 0.1**2 + 2.5**2))
    assert [aj.grad for aj in a] == pytest.approx([-0.2, 0.1, -2.5])


@given(z=logits, y=probability_targets)
def test_quadratic_with_sigmoid_satisfies_bp1(z: float, y: float):
    """BP1: delta^L = (a - y) * sigma'(z) for the quadratic cost."""
    zv = Value(z)
    a = zv.sigmoid()
    quadratic([a], y).backward()
    s = sigmoid(z)
    assert zv.grad == pytest.approx((s - y) * s * (1 - s), rel=1e-9, abs=1e-15)


def test_quadratic_sums_with_one_node():
    """The sum over outputs is a single engine node (op "sum"), then one * 1/2."""
    c = quadratic(leaves(1.0, 2.0, 3.0, 4.0), [0.0, 0.0, 0.0, 0.0])
    assert c.op == "*" and len(c.parents) == 1
    assert c.parents[0].op == "sum" and len(c.parents[0].parents) == 4


def test_quadratic_accepts_a_bare_number_or_a_bare_value_for_one_output():
    """One output: the target may be a number and the output a single Value."""
    v = Value(0.5)
    assert quadratic(v, 1).data == quadratic([v], [1.0]).data == 0.125


def test_mse_is_the_mean_square_and_its_gradient_is_two_over_n_times_a_minus_y():
    """mse = 1/n sum (a_j - y_j)^2; ∂/∂a_j = 2 (a_j - y_j) / n."""
    a = leaves(1.0, 3.0)
    c = mse(a, [0.0, 1.0])
    c.backward()
    assert c.data == pytest.approx((1.0 + 4.0) / 2)
    assert [v.grad for v in a] == pytest.approx([1.0, 2.0])


@pytest.mark.parametrize("fn", [quadratic, mse, cross_entropy, cross_entropy_with_logits])
def test_mismatched_shapes_raise_value_error(fn):
    """2 outputs and 3 targets (or a single number for 2 outputs) are refused, with numbers."""
    with pytest.raises(ValueError, match="2 outputs but 3 targets"):
        fn(leaves(0.5, 0.5), [0.0, 1.0, 0.0])
    with pytest.raises(ValueError, match="2 outputs"):
        fn(leaves(0.5, 0.5), 1.0)


@pytest.mark.parametrize("fn", [quadratic, mse, cross_entropy, cross_entropy_with_logits, hinge])
def test_bad_outputs_and_targets_raise_clear_errors(fn):
    """Outputs must be Values; targets finite numbers; empty outputs are refused."""
    with pytest.raises(TypeError, match="output 0 must be a Value"):
        fn([0.5], 1.0)
    with pytest.raises(TypeError, match="outputs must be a list of Values"):
        fn("a", 1.0)
    with pytest.raises(ValueError, match="outputs are empty"):
        fn([], 1.0)
    with pytest.raises(ValueError, match="nan"):
        fn([Value(0.5)], math.nan)
    with pytest.raises(TypeError, match="target"):
        fn([Value(0.5)], "1")


# -- cross-entropy ------------------------------------------------------------


def test_cross_entropy_value_and_gradient_match_the_closed_form():
    """C = -sum [y ln a + (1-y) ln(1-a)]; ∂C/∂a = (a - y) / (a (1 - a))."""
    a = leaves(0.8, 0.3)
    y = [1.0, 0.25]
    c = cross_entropy(a, y)
    c.backward()
    expected = -(math.log(0.8) + 0.25 * math.log(0.3) + 0.75 * math.log(0.7))
    assert c.data == pytest.approx(expected)
    assert a[0].grad == pytest.approx((0.8 - 1.0) / (0.8 * 0.2))
    assert a[1].grad == pytest.approx((0.3 - 0.25) / (0.3 * 0.7))


@given(zs=st.lists(logits, min_size=1, max_size=4), data=st.data())
def test_cross_entropy_through_sigmoid_gives_delta_a_minus_y_and_bp1(zs, data):
    """On z -> a -> C: z.grad == a.grad * a(1-a) (BP1) and == a - y (the shortcut)."""
    ys = data.draw(st.lists(probability_targets, min_size=len(zs), max_size=len(zs)))
    z = [Value(x) for x in zs]
    a = [zj.sigmoid() for zj in z]
    cross_entropy(a, ys).backward()
    for zj, aj, yj in zip(z, a, ys, strict=True):
        assert zj.grad == pytest.approx(aj.grad * aj.data * (1 - aj.data), rel=1e-12, abs=1e-15)
        assert zj.grad == pytest.approx(aj.data - yj, abs=1e-12)


def test_cross_entropy_skips_zero_weight_terms_so_there_is_no_0_log_0():
    """a = 0 with y = 0 and a = 1 with y = 1 cost exactly 0, with finite gradients."""
    a = leaves(0.0, 1.0)
    c = cross_entropy(a, [0.0, 1.0])
    c.backward()
    assert c.data == 0.0
    assert [v.grad for v in a] == [1.0, -1.0]


def test_cross_entropy_is_finite_for_outputs_of_1e_300_and_1_minus_1e_16():
    """Extreme but unsaturated outputs give finite costs and gradients."""
    tiny, near_one = Value(1e-300), Value(1 - 1e-16)
    c = cross_entropy([tiny, near_one], [1.0, 0.0])
    c.backward()
    assert c.data == pytest.approx(-math.log(1e-300) - math.log(1 - (1 - 1e-16)))
    assert math.isfinite(tiny.grad) and tiny.grad == pytest.approx(-1e300)
    assert math.isfinite(near_one.grad) and near_one.grad > 1e15


def test_cross_entropy_through_a_tiny_sigmoid_gives_a_finite_delta():
    """z = -690 makes a ~ 1e-300; delta = a - y is still about -1."""
    z = Value(-690.0)
    cross_entropy([z.sigmoid()], 1.0).backward()
    assert z.grad == pytest.approx(-1.0)


@pytest.mark.parametrize(
    ("a", "y"), [(0.0, 1.0), (0.0, 0.5), (1.0, 0.0), (1.0, 0.5), (5e-324, 1.0)]
)
def test_cross_entropy_refuses_a_saturated_output_and_points_to_the_logits_version(a, y):
    """ln 0 would be -inf (or the slope 1/a would overflow): a ValueError says so."""
    with pytest.raises(ValueError, match=r"saturated.*cross_entropy_with_logits"):
        cross_entropy([Value(a)], y)


def test_a_sigmoid_saturated_at_exactly_0_is_refused_but_the_logits_version_works():
    """sigmoid(-800) == 0.0: cross_entropy raises, cross_entropy_with_logits gives 800."""
    z = Value(-800.0)
    with pytest.raises(ValueError, match="cross_entropy_with_logits"):
        cross_entropy([z.sigmoid()], 1.0)
    c = cross_entropy_with_logits([z], 1.0)
    c.backward()
    assert c.data == pytest.approx(800.0)
    assert z.grad == pytest.approx(-1.0)


@pytest.mark.parametrize("y", [-0.1, 1.5])
def test_cross_entropy_targets_must_lie_in_0_1(y):
    """A target outside [0, 1] is named in the error."""
    for fn in (cross_entropy, cross_entropy_with_logits):
        with pytest.raises(ValueError, match=f"target 0 is {y!r}"):
            fn([Value(0.5)], y)


def test_cross_entropy_outputs_must_be_probabilities():
    """An output outside [0, 1] is not a sigmoid output: ValueError naming it."""
    with pytest.raises(ValueError, match=r"output 0 is 1\.5"):
        cross_entropy([Value(1.5)], 1.0)


@given(z=logits, y=probability_targets)
def test_cross_entropy_with_logits_is_softplus_minus_y_z_with_slope_sigmoid_minus_y(z, y):
    """C = ln(1 + e^z) - y z (computed here with log1p) and ∂C/∂z == sigmoid(z) - y."""
    zv = Value(z)
    c = cross_entropy_with_logits([zv], y)
    c.backward()
    softplus = max(z, 0.0) + math.log1p(math.exp(-abs(z)))
    assert c.data == pytest.approx(softplus - y * z, rel=1e-12, abs=1e-12)
    assert zv.grad == pytest.approx(sigmoid(z) - y, abs=1e-12)


@given(z=st.floats(min_value=-5.0, max_value=5.0), y=probability_targets)
def test_cross_entropy_with_logits_equals_cross_entropy_of_the_sigmoid(z, y):
    """Where sigmoid(z) is far from 0 and 1, both forms give the same cost."""
    c = cross_entropy_with_logits([Value(z)], y)
    assert c.data == pytest.approx(cross_entropy([Value(sigmoid(z))], y).data, rel=1e-12)


@pytest.mark.parametrize(
    ("z", "y", "cost", "grad"),
    [
        (1000.0, 1.0, 0.0, 0.0),
        (1000.0, 0.0, 1000.0, 1.0),
        (-1000.0, 1.0, 1000.0, -1.0),
        (-1000.0, 0.0, 0.0, 0.0),
        (0.0, 1.0, math.log(2.0), -0.5),
        (0.0, 0.0, math.log(2.0), 0.5),
    ],
)
def test_cross_entropy_with_logits_is_exact_at_extremes_and_at_zero(z, y, cost, grad):
    """Logits of +-1000 give finite, exact costs; the slope at z = 0 is 1/2 - y."""
    zv = Value(z)
    c = cross_entropy_with_logits(zv, y)
    c.backward()
    assert c.data == pytest.approx(cost, abs=1e-12)
    assert zv.grad == pytest.approx(grad, abs=1e-12)


# -- softmax, log-likelihood --------------------------------------------------


@given(zs=st.lists(logits, min_size=1, max_size=5))
def test_softmax_matches_the_closed_form_and_sums_to_one(zs):
    """a_j = e^{z_j} / sum_i e^{z_i}."""
    a = softmax([Value(z) for z in zs])
    assert [v.data for v in a] == pytest.approx(closed_softmax(zs), rel=1e-12, abs=1e-300)
    assert sum(v.data for v in a) == pytest.approx(1.0)


def test_softmax_is_stable_at_logits_of_plus_minus_1000():
    """No overflow: the max is subtracted before e^."""
    a = softmax(leaves(1000.0, -1000.0, 0.0))
    assert [v.data for v in a] == [1.0, 0.0, 0.0]


def test_softmax_gradient_is_the_jacobian_a_i_delta_ij_minus_a_j():
    """∂a_0/∂z_j = a_0 (delta_0j - a_j)."""
    z = leaves(0.5, -1.0, 2.0)
    a = softmax(z)
    a[0].backward()
    p = closed_softmax([0.5, -1.0, 2.0])
    assert [v.grad for v in z] == pytest.approx([p[0] * ((j == 0) - p[j]) for j in range(3)])


@given(zs=st.lists(logits, min_size=2, max_size=5), data=st.data())
def test_log_likelihood_of_softmax_gives_delta_a_minus_y(zs, data):
    """C = -ln a_y with a = softmax(z): z.grad == a - y (y one-hot), the book's shortcut."""
    k = data.draw(st.integers(min_value=0, max_value=len(zs) - 1))
    z = [Value(x) for x in zs]
    a = softmax(z)
    if a[k].data * 1e300 < 1.0:  # a_y underflowed to (near) 0: the documented ValueError
        with pytest.raises(ValueError, match="softmax_nll"):
            log_likelihood(a, k)
        return
    c = log_likelihood(a, k)
    c.backward()
    assert c.data == pytest.approx(-math.log(a[k].data))
    one_hot = [1.0 if j == k else 0.0 for j in range(len(zs))]
    for zj, aj, yj in zip(z, a, one_hot, strict=True):
        assert zj.grad == pytest.approx(aj.data - yj, abs=1e-12)


def test_log_likelihood_accepts_an_index_or_a_one_hot_list():
    """Class 1 given as 1 or as [0, 1, 0] is the same cost, -ln a_1."""
    a = leaves(0.2, 0.5, 0.3)
    assert log_likelihood(a, 1).data == log_likelihood(a, [0, 1, 0]).data == -math.log(0.5)


@pytest.mark.parametrize("fn", [log_likelihood, softmax_nll])
def test_bad_class_targets_are_refused_with_the_value_named(fn):
    """Out-of-range indices, bools, floats and bad one-hot lists raise clear errors."""
    a = leaves(0.2, 0.5, 0.3)
    with pytest.raises(ValueError, match="class index 3 is out of range"):
        fn(a, 3)
    with pytest.raises(ValueError, match="class index -1"):
        fn(a, -1)
    with pytest.raises(TypeError, match="class index"):
        fn(a, 1.0)
    with pytest.raises(TypeError, match="class index"):
        fn(a, True)
    with pytest.raises(ValueError, match=r"sums to 2\.0"):
        fn(a, [0, 1, 1])
    with pytest.raises(ValueError, match="sums to 0"):
        fn(a, [0, 0, 0])
    with pytest.raises(ValueError, match="single 1"):
        fn(a, [0.5, 0.5, 0])
    with pytest.raises(ValueError, match="2 entries for 3 outputs"):
        fn(a, [0, 1])


def test_log_likelihood_refuses_a_zero_probability_and_points_to_softmax_nll():
    """-ln 0 is infinite: ValueError naming softmax_nll."""
    with pytest.raises(ValueError, match=r"saturated.*softmax_nll"):
        log_likelihood(leaves(1.0, 0.0), 1)


@given(zs=st.lists(logits, min_size=2, max_size=5), data=st.data())
def test_softmax_nll_equals_minus_log_softmax_and_its_gradient_is_softmax_minus_y(zs, data):
    """ln sum e^z - z_y == -ln softmax(z)_y and ∂C/∂z == softmax(z) - y."""
    k = data.draw(st.integers(min_value=0, max_value=len(zs) - 1))
    z = [Value(x) for x in zs]
    c = softmax_nll(z, k)
    c.backward()
    p = closed_softmax(zs)
    assert c.data == pytest.approx(math.log(sum(math.exp(x) for x in zs)) - zs[k], rel=1e-9)
    assert [v.grad for v in z] == pytest.approx(
        [p[j] - (j == k) for j in range(len(zs))], abs=1e-12
    )


@pytest.mark.parametrize(
    ("y", "cost", "grads"), [(0, 0.0, [0.0, 0.0]), (1, 2000.0, [1.0, -1.0])]
)
def test_softmax_nll_is_finite_at_logits_of_plus_minus_1000(y, cost, grads):
    """Logits [1000, -1000]: costs 0 and 2000, gradients softmax - y, no overflow."""
    z = leaves(1000.0, -1000.0)
    c = softmax_nll(z, y)
    c.backward()
    assert c.data == cost
    assert [v.grad for v in z] == grads


# -- hinge ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "y", "cost", "grad"),
    [(0.25, 1, 0.75, -1.0), (0.25, -1, 1.25, 1.0), (2.0, 1, 0.0, 0.0), (-3.0, -1, 0.0, 0.0)],
)
def test_hinge_is_relu_of_one_minus_y_score(score, y, cost, grad):
    """C = max(0, 1 - y s); ∂C/∂s = -y inside the margin and 0 outside."""
    s = Value(score)
    c = hinge([s], y)
    c.backward()
    assert c.data == cost
    assert s.grad == grad


def test_hinge_accepts_a_bare_value_and_a_one_element_target():
    """hinge(s, [1]) == hinge([s], 1)."""
    s = Value(0.5)
    assert hinge(s, [1]).data == hinge([s], 1).data == 0.5


@pytest.mark.parametrize("y", [0, 2, 0.5, -1.5])
def test_hinge_refuses_labels_other_than_plus_minus_one(y):
    """0/1 labels are a common mistake: the error names the label and the fix."""
    with pytest.raises(ValueError, match=rf"-1 or \+1, got {y!r}.*2\*y - 1"):
        hinge([Value(0.5)], y)


def test_hinge_needs_exactly_one_score():
    """Two outputs are not a score."""
    with pytest.raises(ValueError, match="exactly one output"):
        hinge(leaves(0.5, 0.5), 1)


# -- Value targets --------------------------------------------------------------

# Each cost whose target is a number (not a class index), with outputs, targets,
# and ∂C/∂y_j in closed form (the target is a node of the graph, so it has one).
VALUE_TARGET_COSTS = [
    (quadratic, [0.3, 0.9], [1.0, 0.25], lambda a, y: [yj - aj for aj, yj in zip(a, y)]),
    (mse, [0.3, 0.9], [1.0, 0.25], lambda a, y: [(yj - aj) for aj, yj in zip(a, y)]),
    (cross_entropy, [0.3, 0.9], [1.0, 0.25],
     lambda a, y: [math.log(1 - aj) - math.log(aj) for aj in a]),
    (cross_entropy_with_logits, [-0.5, 2.0], [0.0, 0.75], lambda z, y: [-zj for zj in z]),
    (hinge, [0.4], [-1.0], lambda s, y: [-s[0]]),
]


@pytest.mark.parametrize(("fn", "a", "y", "dC_dy"), VALUE_TARGET_COSTS)
def test_costs_take_value_targets_and_build_the_graph_from_them(fn, a, y, dC_dy):
    """A Value target (what compile passes by default) gives the number target's
    cost and output gradients, and is itself a node: it gets ∂C/∂y."""
    by_number = leaves(*a)
    expected = fn(by_number, y)
    expected.backward()
    outputs, targets = leaves(*a), leaves(*y)
    cost = fn(outputs, targets)
    cost.backward()
    assert cost.data == pytest.approx(expected.data, rel=1e-15)
    assert [v.grad for v in outputs] == pytest.approx([v.grad for v in by_number], rel=1e-15)
    scale = 2 / len(a) if fn is mse else 1.0  # mse = (2/n) * quadratic's terms
    assert [t.grad for t in targets] == pytest.approx([scale * g for g in dC_dy(a, y)],
                                                      rel=1e-12)
    # a single output takes a bare Value, and a list may mix numbers and Values
    assert fn(outputs[:1], targets[0]).data == fn(outputs[:1], y[:1]).data
    if len(a) == 2:
        assert fn(outputs, [y[0], targets[1]]).data == pytest.approx(cost.data, rel=1e-15)


def test_value_targets_are_checked_like_numbers():
    """The range a cost needs is checked on a Value target's value too."""
    with pytest.raises(ValueError, match=r"target 0 is 2\.0; targets must lie in \[0, 1\]"):
        cross_entropy(leaves(0.5), [Value(2.0)])
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 1\]"):
        cross_entropy_with_logits(leaves(0.5), Value(-0.5))
    with pytest.raises(ValueError, match=r"-1 or \+1"):
        hinge(leaves(0.5), Value(0.0))
    with pytest.raises(ValueError, match="single Value"):
        quadratic(leaves(0.5, 0.5), Value(1.0))


def test_a_value_target_of_cross_entropy_keeps_both_terms():
    """Both terms whatever the target's value, so every example builds the same
    graph (numbers drop a term of weight 0): then a saturated output is refused."""
    a = leaves(0.25)
    y = Value(1.0)
    cost = cross_entropy(a, y)
    assert len(cost.parents[0].parents) == 2  # y ln a and (1 - y) ln(1 - a)
    assert len(cross_entropy(a, 1.0).parents[0].parents) == 1
    with pytest.raises(ValueError, match=r"1 - a_0 is 0\.0"):
        cross_entropy(leaves(1.0), Value(1.0))


@pytest.mark.parametrize("fn", [log_likelihood, softmax_nll])
def test_class_index_costs_refuse_a_value_target_and_name_static_y(fn):
    """A class index chooses which output the cost reads: it must be a plain number."""
    with pytest.raises(TypeError, match="static_y=True"):
        fn(leaves(0.2, 0.8), Value(1.0))
    with pytest.raises(TypeError, match="static_y=True"):
        fn(leaves(0.2, 0.8), [Value(0.0), Value(1.0)])


# -- batches --------------------------------------------------------------------


def test_mean_averages_costs_with_a_sum_node_and_one_scale():
    """C = 1/n sum_x C_x: one "sum" node times 1/n; each cost gets grad 1/n."""
    costs = leaves(1.0, 2.0, 6.0)
    c = mean(costs)
    c.backward()
    assert c.data == 3.0
    assert c.op == "*" and c.parents[0].op == "sum" and len(c.parents[0].parents) == 3
    assert [v.grad for v in costs] == pytest.approx([1 / 3] * 3)


def test_mean_refuses_an_empty_batch_and_non_values():
    with pytest.raises(ValueError, match="empty"):
        mean([])
    with pytest.raises(TypeError, match="cost 1 must be a Value"):
        mean([Value(1.0), 2.0])


def test_batch_cost_is_the_mean_of_the_per_example_costs():
    """batch_cost(quadratic, A, Y) == mean(quadratic(a, y) for each pair), by name or function."""
    outputs = [leaves(0.0), leaves(2.0), leaves(1.5)]
    targets = [1.0, 1.0, 0.0]
    expected = (0.5 + 0.5 + 1.125) / 3
    assert batch_cost("quadratic", outputs, targets).data == pytest.approx(expected)
    assert batch_cost(quadratic, outputs, targets).data == pytest.approx(expected)
    with pytest.raises(ValueError, match="3 outputs but 2 targets"):
        batch_cost(quadratic, outputs, targets[:2])


def test_loss_names_resolve_and_unknown_names_list_the_valid_ones():
    assert set(LOSSES) == {
        "quadratic", "mse", "cross_entropy", "cross_entropy_with_logits",
        "log_likelihood", "softmax_nll", "hinge",
    }
    assert get_loss("softmax_nll") is softmax_nll
    assert get_loss(mse) is mse
    with pytest.raises(ValueError, match=r"unknown loss 'nope'.*cross_entropy.*quadratic"):
        get_loss("nope")
    with pytest.raises(ValueError, match=r"unknown loss 'cross-entropy' \(did you mean "
                                         r"'cross_entropy'\?\)"):
        get_loss("cross-entropy")


def test_a_loss_that_is_neither_a_name_nor_a_function_is_a_type_error():
    with pytest.raises(TypeError, match="loss must be a cost function or a name in LOSSES, "
                                        "got int 3"):
        get_loss(3)  # type: ignore[arg-type]


# -- penalties ----------------------------------------------------------------


def test_l2_penalty_is_micrograds_alpha_sum_of_squares():
    """alpha * sum p^2; ∂/∂p = 2 alpha p (biases included)."""
    ps = leaves(1.0, -2.0, 0.5)
    c = l2_penalty(ps, 1e-4)
    c.backward()
    assert c.data == pytest.approx(1e-4 * 5.25)
    assert [p.grad for p in ps] == pytest.approx([2e-4, -4e-4, 1e-4])


@pytest.mark.parametrize("bad", [-1e-4, math.nan, math.inf])
def test_l2_penalty_strength_must_be_finite_and_non_negative(bad):
    with pytest.raises(ValueError, match="strength"):
        l2_penalty(leaves(1.0), bad)


def test_l2_penalty_strength_must_be_a_number():
    with pytest.raises(TypeError, match="l2_penalty: strength must be a real number, got str"):
        l2_penalty(leaves(1.0), "0.1")  # type: ignore[arg-type]


def test_l2_penalty_refuses_non_values():
    with pytest.raises(TypeError, match="parameter 1 must be a Value"):
        l2_penalty([Value(1.0), 2.0], 0.1)  # type: ignore[list-item]


def test_l2_weight_penalty_is_nielsens_form_over_weights_only():
    """lambda/(2n) sum w^2 over a network's weights: ∂/∂w = (lambda/n) w, ∂/∂b = 0."""
    net = MLP(2, [3, 1], seed=0)
    for layer in net.layers:
        for neuron in layer.neurons:
            neuron.b.data = 0.7  # biases must not count
    lmbda, n = 5.0, 50
    c = l2_weight_penalty(net, lmbda, n)
    c.backward()
    weights = [w for layer in net.layers for neuron in layer.neurons for w in neuron.w]
    assert c.data == pytest.approx(lmbda / (2 * n) * sum(w.data**2 for w in weights))
    for w in weights:
        assert w.grad == pytest.approx(lmbda / n * w.data)
    for layer in net.layers:
        for neuron in layer.neurons:
            assert neuron.b.grad == 0.0
    same = l2_weight_penalty(weights, lmbda, n)
    assert same.data == c.data


@pytest.mark.parametrize(
    ("lmbda", "n", "error", "pattern"),
    [
        (-1.0, 10, ValueError, r"lmbda must be a finite number >= 0, got -1\.0"),
        (1.0, 0, ValueError, r"n must be an int >= 1 \(the training-set size\), got 0"),
        (1.0, 2.5, TypeError, r"n must be an int, got float 2\.5"),
        (1.0, True, TypeError, r"n must be an int, got bool True"),
    ],
)
def test_l2_weight_penalty_validates_lambda_and_n(lmbda, n, error, pattern):
    with pytest.raises(error, match=f"l2_weight_penalty: {pattern}"):
        l2_weight_penalty(leaves(1.0), lmbda, n)
