"""Cost functions: the cost ``C_x`` of one example, batch averages, penalties.

Every cost takes the network's outputs (a list of `Value`s, as ``net(x)``
returns; a single `Value` is accepted too) and a target, and returns ONE
`Value` you can call ``backward()`` on. Sums are one engine node
(`sum_of`). Names follow the book (see BACKPROP.md): ``a`` are output
activations ``a^L_j``, ``z`` weighted inputs ``z^L_j``, ``y`` the target.

The derivative shortcuts the book derives hold on the graph, so after
``cost.backward()`` the output ``z`` nodes carry ``delta^L``:

- `quadratic`, ``C_x = 1/2 sum_j (y_j - a_j)^2``: ``∂C_x/∂a_j = a_j - y_j``,
  so ``delta^L = (a - y) ⊙ sigma'(z)`` (BP1).
- `cross_entropy` of sigmoid outputs,
  ``C_x = -sum_j [y_j ln a_j + (1 - y_j) ln(1 - a_j)]``: ``delta^L = a - y``.
- `log_likelihood` of softmax outputs, ``C_x = -ln a_y``: ``delta^L = a - y``
  (``y`` one-hot); `softmax_nll` computes the same cost from ``z``.
- `hinge`, ``relu(1 - y * score)``: micrograd's max-margin cost.

Example::

    >>> from microgrid import Value
    >>> a = [Value(0.8), Value(0.1)]
    >>> c = quadratic(a, [1.0, 0.0])
    >>> c.backward()
    >>> round(c.data, 6), round(a[0].grad, 6)
    (0.025, -0.2)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

from microgrid import _checks as check
from microgrid.engine import Value, linear, logsumexp, sum_of
from microgrid.nn import softmax as _softmax

__all__ = [
    "LOSSES",
    "LossFn",
    "Outputs",
    "Target",
    "batch_cost",
    "cross_entropy",
    "cross_entropy_with_logits",
    "get_loss",
    "hinge",
    "l2_penalty",
    "l2_weight_penalty",
    "log_likelihood",
    "mean",
    "mse",
    "quadratic",
    "softmax",
    "softmax_nll",
]

Outputs = Value | Sequence[Value]
"""A network's outputs: the list ``net(x)`` returns, or a single Value."""

Target = float | Value | Sequence[float | Value]
"""A target: one number or Value (for a single output), or a list of them.

A Value target is part of the graph: the cost is built from it, so a
compiled cost replays it with each example's own target (`compile` passes
targets as Values by default). Class indices stay plain ints: they choose
which output the cost reads.
"""

LossFn = Callable[[Outputs, Any], Value]
"""A per-example cost ``loss(outputs, target) -> Value``; the target's type depends on it."""


# -- argument checking ----------------------------------------------------


def _outputs(a: object, fn: str) -> list[Value]:
    """The outputs as a non-empty list of Values, or a clear error."""
    if isinstance(a, Value):
        return [a]
    if isinstance(a, (str, bytes)) or not isinstance(a, Sequence):
        raise TypeError(
            f"{fn}: outputs must be a list of Values (as net(x) returns), "
            f"got {type(a).__name__} {a!r}"
        )
    outputs = list(a)
    if not outputs:
        raise ValueError(f"{fn}: outputs are empty; a cost needs at least one output")
    for j, v in enumerate(outputs):
        if not isinstance(v, Value):
            raise TypeError(
                f"{fn}: output {j} must be a Value (the network's output), "
                f"got {type(v).__name__} {v!r}"
            )
    return outputs


def _number(y: object, fn: str, what: str) -> float:
    """A finite real target number, or a clear error naming it."""
    if isinstance(y, Value) or not isinstance(y, numbers.Real):
        raise TypeError(f"{fn}: {what} must be a real number, got {type(y).__name__} {y!r}")
    r = float(y)
    if not math.isfinite(r):
        raise ValueError(f"{fn}: {what} must be finite, got {y!r}")
    return r


def _target(y: object, fn: str, what: str) -> float | Value:
    """A target as given if a Value (a node of the graph), else a finite float."""
    return y if type(y) is Value else _number(y, fn, what)


def _targets(y: object, n: int, fn: str) -> list[float | Value]:
    """One finite target (a number or a Value) per output; a bare one for one output."""
    if isinstance(y, (str, bytes)) or not isinstance(y, (numbers.Real, Value, Sequence)):
        raise TypeError(
            f"{fn}: target must be a number, a Value or a list of them, "
            f"got {type(y).__name__} {y!r}"
        )
    if isinstance(y, (numbers.Real, Value)):
        if n != 1:
            raise ValueError(
                f"{fn}: target is the single {'Value' if type(y) is Value else 'number'} "
                f"{y!r} but there are {n} outputs; give a list of {n} targets"
            )
        return [_target(y, fn, "target")]
    if len(y) != n:
        raise ValueError(f"{fn}: {n} outputs but {len(y)} targets {list(y)!r}; they must match")
    return [_target(yj, fn, f"target {j}") for j, yj in enumerate(y)]


def _value_of(y: float | Value) -> float:
    """A target's number, to check its range: read, never branched on (see compile)."""
    return y.data if type(y) is Value else y  # type: ignore[return-value]


def _class_index(y: object, n: int, fn: str) -> int:
    """The class ``y`` as an index in ``0..n-1``, from an index or a one-hot list."""
    if not isinstance(y, bool) and isinstance(y, numbers.Integral):
        if not 0 <= int(y) < n:
            raise ValueError(
                f"{fn}: class index {y!r} is out of range for {n} outputs (0..{n - 1})"
            )
        return int(y)
    if type(y) is Value or (isinstance(y, Sequence) and any(type(v) is Value for v in y)):
        raise TypeError(
            f"{fn}: the class must be a plain int or one-hot list of numbers (it chooses "
            f"which output the cost reads), got {y!r}; with compile, pass static_y=True"
        )
    if isinstance(y, (str, bytes)) or not isinstance(y, Sequence):
        raise TypeError(
            f"{fn}: target must be a class index (int) or a one-hot list, "
            f"got {type(y).__name__} {y!r}"
        )
    if len(y) != n:
        raise ValueError(f"{fn}: one-hot target {list(y)!r} has {len(y)} entries for {n} outputs")
    values = [_number(yj, fn, f"one-hot entry {j}") for j, yj in enumerate(y)]
    if any(v not in (0.0, 1.0) for v in values) or sum(values) != 1.0:
        raise ValueError(
            f"{fn}: one-hot target {list(y)!r} must be zeros and a single 1 "
            f"(it sums to {sum(values)!r})"
        )
    return values.index(1.0)


def _check_log_input(x: float, fn: str, what: str, instead: str) -> None:
    """Refuse a log whose value or slope 1/x would be infinite."""
    if not (x > 0.0 and 1.0 / x < math.inf):
        raise ValueError(
            f"{fn}: {what} is {x!r}, so its log is -inf (the output is saturated); "
            f"compute the cost from the weighted inputs z with {instead} instead"
        )


# -- per-example costs ----------------------------------------------------


def quadratic(a: Outputs, y: Target) -> Value:
    """Nielsen's quadratic cost ``C_x = 1/2 sum_j (y_j - a_j)^2``.

    Its gradient is the book's shortcut ``∂C_x/∂a_j = a_j - y_j``. Targets
    are numbers or Values (as `compile` passes them), as in every cost
    below but the class-index ones.

        >>> from microgrid import Value
        >>> quadratic([Value(0.5)], 1.0).data
        0.125
        >>> quadratic([Value(0.5)], Value(1.0)).data
        0.125
    """
    outputs = _outputs(a, "quadratic")
    targets = _targets(y, len(outputs), "quadratic")
    return sum_of([(aj - yj) ** 2 for aj, yj in zip(outputs, targets, strict=True)]) * 0.5


def mse(a: Outputs, y: Target) -> Value:
    """Mean squared error ``1/n sum_j (a_j - y_j)^2``; ``∂/∂a_j = 2 (a_j - y_j) / n``.

        >>> from microgrid import Value
        >>> mse([Value(1.0), Value(3.0)], [0.0, 0.0]).data
        5.0
    """
    outputs = _outputs(a, "mse")
    targets = _targets(y, len(outputs), "mse")
    squares = [(aj - yj) ** 2 for aj, yj in zip(outputs, targets, strict=True)]
    return sum_of(squares) * (1.0 / len(outputs))


def cross_entropy(a: Outputs, y: Target) -> Value:
    """Cross-entropy of sigmoid outputs ``-sum_j [y_j ln a_j + (1-y_j) ln(1-a_j)]``.

    Computed through the ``a`` nodes, so the graph reads ``z -> a -> C`` and
    BP1 holds on it; with ``a = sigmoid(z)`` the ``sigma'`` cancels and
    ``delta^L = a - y`` (the book's shortcut). Targets lie in ``[0, 1]``.

    A term whose weight is exactly 0 is left out, so there is never a
    ``0 * ln 0``: ``a_j = 0.0`` with ``y_j = 0`` costs nothing. An output
    saturated at exactly 0.0 (or 1.0) where ``ln a_j`` (or ``ln(1 - a_j)``)
    is needed would give an infinite cost: that raises ``ValueError``;
    use `cross_entropy_with_logits` on the ``z`` nodes, which is stable for
    any ``z``. A Value target keeps both terms whatever its value (the
    graph is the same for every target, so it compiles), so then both
    logs must be finite.

        >>> from microgrid import Value
        >>> round(cross_entropy([Value(0.5)], 1.0).data, 6)
        0.693147
    """
    outputs = _outputs(a, "cross_entropy")
    targets = _targets(y, len(outputs), "cross_entropy")
    terms = []
    for j, (aj, yj) in enumerate(zip(outputs, targets, strict=True)):
        y_number = _value_of(yj)
        if not 0.0 <= y_number <= 1.0:
            raise ValueError(
                f"cross_entropy: target {j} is {y_number!r}; targets must lie in [0, 1]"
            )
        if not 0.0 <= aj.data <= 1.0:
            raise ValueError(
                f"cross_entropy: output {j} is {aj.data!r}, not a probability in [0, 1]; "
                "use sigmoid outputs, or cross_entropy_with_logits on the z nodes"
            )
        graph_target = type(yj) is Value
        if graph_target or y_number > 0.0:
            _check_log_input(aj.data, "cross_entropy", f"output a_{j}",
                             "cross_entropy_with_logits(z, y)")
            terms.append(aj.log() * yj)
        if graph_target or y_number < 1.0:
            _check_log_input(1.0 - aj.data, "cross_entropy", f"1 - a_{j}",
                             "cross_entropy_with_logits(z, y)")
            terms.append((1.0 - aj).log() * (1.0 - yj))
    return -sum_of(terms)


def _softplus(z: Value) -> Value:
    """``ln(1 + e^z) = logsumexp(0, z)``: no overflow, full precision for
    very negative ``z``, and the exact slope ``sigmoid(z)``."""
    return logsumexp((0.0, z))


def cross_entropy_with_logits(z: Outputs, y: Target) -> Value:
    """Sigmoid cross-entropy from the weighted inputs ``z`` (logits).

    Equals ``cross_entropy(sigmoid(z), y)`` but is computed as
    ``sum_j softplus(z_j) - y_j z_j`` with a stable softplus, so it is
    finite for any ``z`` (``+-1000`` included); ``∂C/∂z_j = sigmoid(z_j) - y_j``.
    Use it with an ``output_activation="linear"`` network.

        >>> from microgrid import Value
        >>> round(cross_entropy_with_logits([Value(0.0)], 1.0).data, 6)
        0.693147
    """
    logits = _outputs(z, "cross_entropy_with_logits")
    targets = _targets(y, len(logits), "cross_entropy_with_logits")
    terms = []
    for j, (zj, yj) in enumerate(zip(logits, targets, strict=True)):
        y_number = _value_of(yj)
        if not 0.0 <= y_number <= 1.0:
            raise ValueError(
                f"cross_entropy_with_logits: target {j} is {y_number!r}; "
                "targets must lie in [0, 1]"
            )
        if type(yj) is Value or y_number != 0.0:
            terms.append(_softplus(zj) - zj * yj)
        else:
            terms.append(_softplus(zj))
    return sum_of(terms)


def softmax(z: Outputs) -> list[Value]:
    """``a_j = e^{z_j} / sum_i e^{z_i}``, computed without overflow (see `nn.softmax`).

        >>> from microgrid import Value
        >>> [round(v.data, 4) for v in softmax([Value(0.0), Value(1000.0)])]
        [0.0, 1.0]
    """
    return _softmax(_outputs(z, "softmax"))


def log_likelihood(a: Outputs, y: int | Sequence[float]) -> Value:
    """The log-likelihood cost ``C_x = -ln a_y`` of softmax outputs ``a``.

    ``y`` is the class index or a one-hot list. Computed through the ``a``
    nodes; with ``a = softmax(z)``, ``delta^L = a - y`` (one-hot ``y``).
    ``a_y`` of exactly 0 raises ``ValueError``: use `softmax_nll` on ``z``.

        >>> from microgrid import Value
        >>> round(log_likelihood([Value(0.25), Value(0.75)], 1).data, 6)
        0.287682
    """
    outputs = _outputs(a, "log_likelihood")
    k = _class_index(y, len(outputs), "log_likelihood")
    _check_log_input(outputs[k].data, "log_likelihood", f"output a_{k} of the target class",
                     "softmax_nll(z, y)")
    return -outputs[k].log()


def softmax_nll(z: Outputs, y: int | Sequence[float]) -> Value:
    """``-ln softmax(z)_y = ln sum_j e^{z_j} - z_y`` by a stable log-sum-exp.

    ``y`` is the class index or a one-hot list; ``∂C/∂z_j = softmax(z)_j - y_j``.
    Finite for any logits (``+-1000`` included): the largest ``e^`` is ``e^0``.

        >>> from microgrid import Value
        >>> round(softmax_nll([Value(1000.0), Value(-1000.0)], 1).data, 6)
        2000.0
    """
    logits = _outputs(z, "softmax_nll")
    k = _class_index(y, len(logits), "softmax_nll")
    return logsumexp(logits) - logits[k]


def hinge(score: Outputs, y: Target) -> Value:
    """The max-margin (hinge) cost ``relu(1 - y * score)`` with ``y`` in {-1, +1}.

    micrograd's demo loss. ``score`` is a single Value or a one-output list;
    ``y`` a number or a one-element list. Labels 0/1 are refused: convert
    them with ``2 * y - 1`` (or ``datasets.moons(..., signed=True)``).

        >>> from microgrid import Value
        >>> hinge([Value(0.25)], 1).data
        0.75
    """
    scores = _outputs(score, "hinge")
    if len(scores) != 1:
        raise ValueError(f"hinge: needs exactly one output (a score), got {len(scores)}")
    label = _targets(y, 1, "hinge")[0]
    if _value_of(label) not in (-1.0, 1.0):
        raise ValueError(
            f"hinge: target y must be -1 or +1, got {y!r}; "
            "convert 0/1 labels with 2*y - 1 (or a dataset's signed=True)"
        )
    return (1.0 - scores[0] * label).relu()


# -- batches and penalties ------------------------------------------------


def mean(costs: Iterable[Value]) -> Value:
    """The average ``C = 1/n sum_x C_x`` of per-example costs, as two nodes.

        >>> from microgrid import Value
        >>> mean([Value(1.0), Value(2.0)]).data
        1.5
    """
    items = list(costs)
    if not items:
        raise ValueError("mean: no costs to average (the batch is empty)")
    for i, c in enumerate(items):
        if not isinstance(c, Value):
            raise TypeError(f"mean: cost {i} must be a Value, got {type(c).__name__} {c!r}")
    return sum_of(items) * (1.0 / len(items))


def get_loss(loss: str | LossFn) -> LossFn:
    """The cost function for a name in `LOSSES`, or ``loss`` itself if callable.

        >>> get_loss("hinge") is hinge
        True
    """
    if callable(loss):
        return loss
    if not isinstance(loss, str):
        raise TypeError(f"loss must be a cost function or a name in LOSSES, "
                        f"got {type(loss).__name__} {check.quote(loss)}")
    return LOSSES[check.choice(loss, sorted(LOSSES), "loss")]


def batch_cost(
    cost: str | LossFn, outputs: Sequence[Outputs], targets: Sequence[Target]
) -> Value:
    """``1/n sum_x C_x`` over a batch: the cost of each output/target pair, averaged.

    ``cost`` is a cost function or its name in `LOSSES`.

        >>> from microgrid import Value
        >>> batch_cost("quadratic", [[Value(0.0)], [Value(2.0)]], [1.0, 1.0]).data
        0.5
    """
    fn = get_loss(cost)
    if len(outputs) != len(targets):
        raise ValueError(
            f"batch_cost: {len(outputs)} outputs but {len(targets)} targets; they must match"
        )
    return mean([fn(a, y) for a, y in zip(outputs, targets, strict=True)])


def _values(params: Iterable[object], fn: str) -> list[Value]:
    values: list[Value] = []
    for i, p in enumerate(params):
        if not isinstance(p, Value):
            raise TypeError(f"{fn}: parameter {i} must be a Value, got {type(p).__name__} {p!r}")
        values.append(p)
    return values


def _sum_of_squares(params: list[Value]) -> Value:
    # sum_p p^2 is the dot product of the parameters with themselves: one
    # `linear` node (each p a parent twice, local gradient p each time, so
    # 2p in all) instead of a square node per parameter and a sum.
    return linear(params, params)


def l2_penalty(params: Iterable[Value], strength: float) -> Value:
    """micrograd's L2 penalty ``strength * sum_p p^2`` over all ``params``.

    This is micrograd's ``alpha`` form (biases included); it adds
    ``2 * strength * p`` to each ``∂C/∂p``. For Nielsen's form see
    `l2_weight_penalty`.

        >>> from microgrid import Value
        >>> l2_penalty([Value(1.0), Value(-2.0)], 1e-4).data
        0.0005
    """
    alpha = check.real(strength, "strength", at_least=0.0, who="l2_penalty")
    return _sum_of_squares(_values(params, "l2_penalty")) * alpha


@runtime_checkable
class _HasNamedParameters(Protocol):
    def named_parameters(self) -> list[tuple[str, Value]]: ...


def l2_weight_penalty(
    net_or_weights: _HasNamedParameters | Iterable[Value], lmbda: float, n: int
) -> Value:
    """Nielsen's L2 term ``lambda/(2n) sum_w w^2`` over the weights only.

    ``n`` is the size of the whole training set. Added to the batch cost
    it puts BACKPROP.md's ``(lambda/n) w`` into ``∂C/∂w`` and nothing into
    ``∂C/∂b``, i.e. the book's update ``w -> (1 - eta lambda/n) w - ...``.
    Pass a network (its ``w`` parameters are picked by name) or the weights.

        >>> from microgrid import Value
        >>> l2_weight_penalty([Value(2.0)], lmbda=1.0, n=2).data
        1.0
    """
    lam = check.real(lmbda, "lmbda", at_least=0.0, who="l2_weight_penalty")
    size = check.integer(n, "n", at_least=1, who="l2_weight_penalty", why="the training-set size")
    if isinstance(net_or_weights, _HasNamedParameters):
        # names end in ".w.<k>" for weights and ".b" for biases (nn's contract)
        named = net_or_weights.named_parameters()
        weights = [p for name, p in named if name.split(".")[-2:-1] == ["w"]]
        if not weights:
            raise ValueError("l2_weight_penalty: the network has no weight parameters")
    else:
        weights = _values(net_or_weights, "l2_weight_penalty")
    return _sum_of_squares(weights) * (lam / (2.0 * size))


LOSSES: dict[str, LossFn] = {
    "cross_entropy": cross_entropy,
    "cross_entropy_with_logits": cross_entropy_with_logits,
    "hinge": hinge,
    "log_likelihood": log_likelihood,
    "mse": mse,
    "quadratic": quadratic,
    "softmax_nll": softmax_nll,
}
"""The per-example costs by name (what `get_loss` and ``fit(loss=...)`` accept)."""
