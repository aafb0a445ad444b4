"""Hypothesis strategies for property tests of code built on microgrid.

Needs the ``testing`` extra (``pip install "microgrid-autodiff[testing]"``).

- `values`: bounded finite floats as `Value` leaves.
- `expressions`: random expression DAGs over the engine's operations, with
  shared subexpressions, safe for their domains; each draw is an
  `Expression` that rebuilds its graph on any leaves (handy with
  `microgrid.gradcheck.gradcheck`) and prints as the few lines of code it is.
- `networks`: random `MLP` architectures with initialised weights.
- `examples_for`: an input ``x`` and target ``y`` that fit a network and a cost.

All of them shrink towards small cases: one input, one step, one layer,
zeros and the first choice of every list.

    from hypothesis import given
    from microgrid.gradcheck import gradcheck
    from microgrid.strategies import expressions

    @given(expressions())
    def test_engine_gradients(expr):
        assert gradcheck(expr, expr.inputs).ok
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

try:
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover - exercised by the test with hypothesis hidden
    raise ImportError(
        "microgrid.strategies needs hypothesis; install the testing extra: "
        'pip install "microgrid-autodiff[testing]"'
    ) from None

from microgrid.engine import Value, linear, logsumexp, sum_of

if TYPE_CHECKING:  # pragma: no cover
    from microgrid.nn import MLP

__all__ = [
    "BINARY_OPS",
    "NARY_OPS",
    "UNARY_OPS",
    "Expression",
    "Step",
    "examples_for",
    "expressions",
    "networks",
    "values",
]


def values(min_value: float = -10.0, max_value: float = 10.0) -> st.SearchStrategy[Value]:
    """Finite floats in ``[min_value, max_value]`` as `Value` leaves (shrinking towards 0)."""
    if not (math.isfinite(min_value) and math.isfinite(max_value) and min_value <= max_value):
        raise ValueError(
            f"values: need finite min_value <= max_value, got {min_value!r}, {max_value!r}"
        )
    return st.floats(min_value, max_value, allow_nan=False, allow_infinity=False).map(Value)


# -- expressions -------------------------------------------------------------

# Each operation: how to apply it, and how to print it. ``c`` is the step's
# constant (None for operations without one).
_Apply = Callable[[list[Value], float], Value]

_UNARY: dict[str, tuple[_Apply, str]] = {
    "tanh": (lambda v, c: v[0].tanh(), "{0}.tanh()"),
    "neg": (lambda v, c: -v[0], "-{0}"),
    "square": (lambda v, c: v[0] ** 2, "{0} ** 2"),
    "scale": (lambda v, c: v[0] * c, "{0} * {c}"),
    "shift": (lambda v, c: v[0] + c, "{0} + {c}"),
    "rsub": (lambda v, c: c - v[0], "{c} - {0}"),
    "sigmoid": (lambda v, c: v[0].sigmoid(), "{0}.sigmoid()"),
    "exp": (lambda v, c: v[0].exp(), "{0}.exp()"),
    "log": (lambda v, c: v[0].log(), "{0}.log()"),
    "sqrt": (lambda v, c: v[0].sqrt(), "{0}.sqrt()"),
    "relu": (lambda v, c: v[0].relu(), "{0}.relu()"),
    "abs": (lambda v, c: v[0].abs(), "{0}.abs()"),
    "cube": (lambda v, c: v[0] ** 3, "{0} ** 3"),
    "power": (lambda v, c: v[0] ** c, "{0} ** {c}"),
    "recip": (lambda v, c: c / v[0], "{c} / {0}"),
    "rpow": (lambda v, c: c ** v[0], "{c} ** {0}"),
}
_BINARY: dict[str, tuple[_Apply, str]] = {
    "+": (lambda v, c: v[0] + v[1], "{0} + {1}"),
    "*": (lambda v, c: v[0] * v[1], "{0} * {1}"),
    "-": (lambda v, c: v[0] - v[1], "{0} - {1}"),
    "/": (lambda v, c: v[0] / v[1], "{0} / {1}"),
    "**": (lambda v, c: v[0] ** v[1], "{0} ** {1}"),
}


def _linear(v: list[Value], c: float) -> Value:
    half = len(v) // 2
    return linear(v[:half], v[half:], c)


_NARY: dict[str, tuple[_Apply, str]] = {
    "sum": (lambda v, c: sum_of(v), "sum_of([{args}])"),
    "linear": (_linear, "linear([{w}], [{x}], {c})"),
    "logsumexp": (lambda v, c: logsumexp([*v, c]), "logsumexp([{args}, {c}])"),
}

UNARY_OPS = tuple(_UNARY)
"""The one-operand operations `expressions` draws from (simplest first)."""
BINARY_OPS = tuple(_BINARY)
"""The two-operand operations."""
NARY_OPS = tuple(_NARY)
"""The n-ary nodes: ``sum_of``, ``linear`` and ``logsumexp``."""

# The range each constant is drawn from; the domain checks below try both ends.
_CONSTANTS: dict[str, tuple[float, float]] = {
    "scale": (-3.0, 3.0),
    "shift": (-3.0, 3.0),
    "rsub": (-3.0, 3.0),
    "recip": (-3.0, 3.0),
    "power": (0.5, 2.5),
    "rpow": (0.5, 3.0),
    "linear": (-3.0, 3.0),
    "logsumexp": (-3.0, 3.0),
}


@dataclass(frozen=True)
class Step:
    """One node of an `Expression`: ``op`` applied to earlier nodes ``args`` (and ``const``)."""

    op: str
    args: tuple[int, ...]
    const: float | None = None


@dataclass(frozen=True)
class Expression:
    """A random expression DAG: inputs ``x0, x1, ...`` and steps ``t0, t1, ...``.

    Node ``i`` is input ``x_i`` for ``i < len(inputs)`` and step
    ``t_{i - len(inputs)}`` after that; the last step is the root. Call it on
    a list of Values (one per input) to build its graph and get the root;
    `build` does that on fresh leaves holding ``inputs``.
    """

    inputs: tuple[float, ...]
    steps: tuple[Step, ...]

    def __call__(self, xs: Sequence[Value]) -> Value:
        """Build the graph on ``xs`` (one Value per input); return the root."""
        if len(xs) != len(self.inputs):
            raise ValueError(f"Expression: expected {len(self.inputs)} inputs, got {len(xs)}")
        nodes = list(xs)
        for n, step in enumerate(self.steps):
            args = [nodes[i] for i in step.args]
            node = _apply(step.op)(args, 0.0 if step.const is None else step.const)
            node.label = f"t{n}"
            nodes.append(node)
        return nodes[-1]

    def build(self) -> tuple[Value, list[Value]]:
        """``(root, leaves)``: the graph on fresh leaves ``x0, x1, ...`` holding ``inputs``."""
        leaves = [Value(x, label=f"x{i}") for i, x in enumerate(self.inputs)]
        return self(leaves), leaves

    def _name(self, i: int) -> str:
        n = len(self.inputs)
        return f"x{i}" if i < n else f"t{i - n}"

    def __str__(self) -> str:
        lines = [", ".join(f"x{i} = {x!r}" for i, x in enumerate(self.inputs))]
        for n, step in enumerate(self.steps):
            names = [self._name(i) for i in step.args]
            half = len(names) // 2
            text = _template(step.op).format(
                *names, c=step.const, args=", ".join(names),
                w=", ".join(names[:half]), x=", ".join(names[half:]),
            )
            lines.append(f"t{n} = {text}")
        return "\n".join(lines)

    __repr__ = __str__


def _apply(op: str) -> _Apply:
    for table in (_UNARY, _BINARY, _NARY):
        if op in table:
            return table[op][0]
    raise ValueError(f"unknown operation {op!r}")


def _template(op: str) -> str:
    for table in (_UNARY, _BINARY, _NARY):
        if op in table:
            return table[op][1]
    raise ValueError(f"unknown operation {op!r}")


def _allowed(op: str, args: list[Value], margin: float, bound: float) -> bool:
    """Whether ``op`` on ``args`` stays a ``margin`` away from domain edges and kinks.

    The margin keeps small perturbations of the inputs (finite differences)
    inside the domain and on one side of every kink; ``bound`` keeps values
    and local derivatives from growing until products overflow.
    """
    first = args[0].data
    if op in ("log", "sqrt") and not first > margin:
        return False
    if op in ("relu", "abs", "recip") and not abs(first) > margin:
        return False
    if op in ("/",) and not abs(args[1].data) > margin:
        return False
    if op in ("**", "power") and not first > margin:
        return False
    for c in set(_CONSTANTS.get(op, (0.0, 0.0))):
        try:
            r = _apply(op)(args, c)
        except (ValueError, ZeroDivisionError, OverflowError):
            return False
        if not abs(r.data) <= bound or not all(abs(g) <= bound for g in r.local_grads):
            return False
    return True


@st.composite
def _expressions(
    draw: Any, max_inputs: int, max_steps: int, margin: float, bound: float
) -> Expression:
    n_inputs = draw(st.integers(1, max_inputs))
    inputs = tuple(draw(st.lists(st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False),
                                 min_size=n_inputs, max_size=n_inputs)))
    nodes = [Value(x) for x in inputs]
    steps: list[Step] = []
    for _ in range(draw(st.integers(1, max_steps))):
        # Operands count back from the newest node, so shrinking gives chains
        # that reuse one node: the shared subexpressions worth testing.
        def pick() -> int:
            return len(nodes) - 1 - int(draw(st.integers(0, len(nodes) - 1)))

        kind = draw(st.sampled_from(("unary", "binary", "nary")))
        if kind == "unary":
            args, table = [pick()], UNARY_OPS
        elif kind == "binary":
            args, table = [pick(), pick()], BINARY_OPS
        else:
            op = draw(st.sampled_from(NARY_OPS))
            k = draw(st.integers(1, 3))
            args = [pick() for _ in range(2 * k if op == "linear" else k + 1)]
            table = (op,)
        operands = [nodes[i] for i in args]
        ok = [op for op in table if _allowed(op, operands, margin, bound)]
        if not ok:  # e.g. a sum that would leave the bound: squash the first operand
            args, ok = args[:1], ["tanh"]
            operands = operands[:1]
        op = draw(st.sampled_from(ok))
        const = None
        if op in _CONSTANTS:
            low, high = _CONSTANTS[op]
            const = draw(st.floats(low, high, allow_nan=False, allow_infinity=False))
        steps.append(Step(op, tuple(args), const))
        nodes.append(_apply(op)(operands, 0.0 if const is None else const))
    return Expression(inputs, tuple(steps))


def expressions(
    max_inputs: int = 3, max_steps: int = 8, margin: float = 0.1, bound: float = 1e4
) -> st.SearchStrategy[Expression]:
    """Random expression DAGs over the engine's operations (see `Expression`).

    Inputs lie in ``[-2, 2]``; each step applies one of `UNARY_OPS`,
    `BINARY_OPS` or `NARY_OPS` to earlier nodes, so subexpressions are
    shared. Domain-safe at the drawn inputs: ``log``, ``sqrt`` and powers
    see arguments above ``margin``, divisors and ``relu``/``abs`` arguments
    are at least ``margin`` away from 0 (so finite differences with a step
    much smaller than ``margin`` cross no kink), and every value and local
    derivative stays within ``bound`` in size.
    """
    if max_inputs < 1 or max_steps < 1:
        raise ValueError(
            f"expressions: max_inputs and max_steps must be >= 1, got {max_inputs}, {max_steps}"
        )
    if not (margin >= 0.0 and bound > 0.0):
        raise ValueError(f"expressions: need margin >= 0 and bound > 0, got {margin}, {bound}")
    strategy: st.SearchStrategy[Expression] = _expressions(max_inputs, max_steps, margin, bound)
    return strategy


# -- networks and examples -------------------------------------------------


def networks(
    min_depth: int = 1,
    max_depth: int = 4,
    max_width: int = 6,
    activations: Sequence[str] = ("sigmoid", "tanh", "relu", "linear"),
    output_activations: Sequence[str] | None = None,
    inits: Sequence[str] = ("uniform", "normal"),
) -> st.SearchStrategy[MLP]:
    """Random MLPs: ``min_depth..max_depth`` layers after the input, widths ``1..max_width``.

    The hidden activation is drawn from ``activations``, the output's from
    ``output_activations`` (default: the same list), the initialisation
    from ``inits``, and a seed for the weights; ``net.seed`` and ``net.init``
    record them, so ``MLP(*net.sizes[:1], net.sizes[1:], ...)`` rebuilds it.
    """
    from microgrid.nn import MLP

    if not 1 <= min_depth <= max_depth or max_width < 1:
        raise ValueError(
            f"networks: need 1 <= min_depth <= max_depth and max_width >= 1, "
            f"got {min_depth}, {max_depth}, {max_width}"
        )
    outputs = activations if output_activations is None else output_activations
    return st.builds(
        lambda sizes, act, out, init, seed: MLP(sizes[0], sizes[1:], act, out, init, seed),
        st.integers(min_depth, max_depth).flatmap(
            lambda depth: st.lists(st.integers(1, max_width), min_size=depth + 1,
                                   max_size=depth + 1)
        ),
        st.sampled_from(list(activations)),
        st.sampled_from(list(outputs)),
        st.sampled_from(list(inits)),
        st.integers(0, 2**32 - 1),
    )


def examples_for(
    net: MLP, cost: str = "quadratic", max_abs_x: float = 2.0
) -> st.SearchStrategy[tuple[list[float], list[float]]]:
    """An ``(x, y)`` pair for ``net`` and ``cost``.

    ``x`` has ``net.sizes[0]`` entries in ``[-max_abs_x, max_abs_x]``; ``y``
    has one entry per output: any in ``[-1, 1]`` for ``"quadratic"``, in
    ``[0, 1]`` for ``"cross-entropy"``, one-hot for ``"log-likelihood"``.
    """
    costs = ("quadratic", "cross-entropy", "log-likelihood")
    if cost not in costs:
        raise ValueError(f"examples_for: unknown cost {cost!r}; valid: {', '.join(costs)}")
    nin, nout = net.sizes[0], net.sizes[-1]
    floats = st.floats(-max_abs_x, max_abs_x, allow_nan=False, allow_infinity=False)
    x = st.lists(floats, min_size=nin, max_size=nin)
    if cost == "log-likelihood":
        y = st.integers(0, nout - 1).map(lambda k: [1.0 if j == k else 0.0 for j in range(nout)])
    else:
        low = 0.0 if cost == "cross-entropy" else -1.0
        y = st.lists(st.floats(low, 1.0, allow_nan=False, allow_infinity=False),
                     min_size=nout, max_size=nout)
    return st.tuples(x, y).map(lambda xy: (xy[0], xy[1]))
