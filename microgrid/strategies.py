"""Hypothesis strategies for property tests of code built on microgrid.

Needs the ``testing`` extra (``pip install "microgrid-autodiff[testing]"``).

- `values`: bounded finite floats as `Value` leaves.
- `expressions`: random expression DAGs over the engine's operations (its
  table, `microgrid.engine.OPS`), with shared subexpressions, safe for their
  domains; each draw is an
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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

try:
    from hypothesis import reject
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover - exercised by the test with hypothesis hidden
    raise ImportError(
        "microgrid.strategies needs hypothesis; install the testing extra: "
        'pip install "microgrid-autodiff[testing]"'
    ) from None

from microgrid._checks import choice
from microgrid.backprop import COSTS
from microgrid.engine import OPS, OpSpec, Value

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

# Every operation of the engine's table, by arity (in the table's order: shrinking
# goes towards the first).
UNARY_OPS = tuple(name for name, spec in OPS.items() if spec.arity == 1)
"""The one-operand operations `expressions` draws from (the table's, `OPS`)."""
BINARY_OPS = tuple(name for name, spec in OPS.items() if spec.arity == 2)
"""The two-operand operations (each also with a number on either side)."""
NARY_OPS = tuple(name for name, spec in OPS.items() if spec.arity is None)
"""The n-ary nodes: ``sum_of``, ``logsumexp`` and ``linear``."""

# How a step writes its operands: its Values only, or a number after or before them.
_FORMS = ("values", "number", "number first")


@dataclass(frozen=True)
class Step:
    """One node of an `Expression`: ``op`` applied to earlier nodes ``args`` (and ``const``).

    ``op`` is an ``op`` string of `OPS`. A binary op with a ``const`` has
    one node operand, and the number after it (``x0 * 2.0``), or before it
    if ``const_first`` (``2.0 - x0``); an n-ary op takes its operands from
    ``args`` and ``const`` as its spec's ``sample`` says.
    """

    op: str
    args: tuple[int, ...]
    const: float | None = None
    const_first: bool = False


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
            spec = _spec(step.op)
            node = spec.apply(*_written(spec, [nodes[i] for i in step.args], step.const,
                                        step.const_first))
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
            spec = _spec(step.op)
            names: Any = [self._name(i) for i in step.args]  # the operands' names as code
            written = _written(spec, names, step.const, step.const_first)
            lines.append(f"t{n} = {spec.code.format(*map(_code, written))}")
        return "\n".join(lines)

    __repr__ = __str__


def _spec(op: str) -> OpSpec:
    spec = OPS.get(op)
    if spec is None:
        raise ValueError(f"unknown operation {op!r}; the engine's are {', '.join(OPS)}")
    return spec


def _written(
    spec: OpSpec, operands: Sequence[Value], const: float | None, const_first: bool
) -> tuple[Any, ...]:
    """A step's operands as written (`OpSpec.operands`): its nodes and its number."""
    if spec.sample is not None:
        return spec.sample(operands, 0.0 if const is None else const)
    if const is None:
        return tuple(operands)
    return (const, *operands) if const_first else (*operands, const)


def _code(operand: object) -> str:
    """An operand as code: a name, a number, or a list ``[x0, t1]``."""
    if isinstance(operand, tuple):
        return f"[{', '.join(map(_code, operand))}]"
    return str(operand)


def _numbers(operands: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(_numbers(o) if isinstance(o, tuple) else o.data if isinstance(o, Value)
                 else o for o in operands)


def _allowed(
    spec: OpSpec, operands: list[Value], form: str, margin: float, bound: float
) -> bool:
    """Whether ``spec`` on ``operands`` (and any number of its range, written in
    ``form``) stays a ``margin`` inside its domain and away from its kinks.

    The margin keeps small perturbations of the inputs (finite differences)
    inside the domain and on one side of every kink; ``bound`` keeps values
    and local derivatives from growing until products overflow. A number
    operand is tried at both ends of its range.
    """
    constants = {None} if form == "values" else set(spec.constants)
    for c in constants:
        written = _written(spec, operands, c, form == "number first")
        numbers = _numbers(written)
        if not spec.domain(margin, *numbers):
            return False
        if any(not abs(numbers[0] - k) > margin for k in spec.kinks):
            return False
        try:
            r = spec.apply(*written)
        except (ValueError, ZeroDivisionError, OverflowError):
            return False
        if not abs(r.data) <= bound or not all(abs(g) <= bound for g in r.local_grads):
            return False
    return True


@st.composite
def _expressions(
    draw: Any, max_inputs: int, max_steps: int, margin: float, bound: float,
    ops: tuple[str, ...],
) -> Expression:
    n_inputs = draw(st.integers(1, max_inputs))
    inputs = tuple(draw(st.lists(st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False),
                                 min_size=n_inputs, max_size=n_inputs)))
    nodes = [Value(x) for x in inputs]
    steps: list[Step] = []
    unary = [op for op in UNARY_OPS if op in ops]
    binary = [op for op in BINARY_OPS if op in ops]
    nary = [op for op in NARY_OPS if op in ops]
    kinds = [kind for kind, table in (("unary", unary), ("binary", binary), ("nary", nary))
             if table]
    for _ in range(draw(st.integers(1, max_steps))):
        # Operands count back from the newest node, so shrinking gives chains
        # that reuse one node: the shared subexpressions worth testing.
        def pick() -> int:
            return len(nodes) - 1 - int(draw(st.integers(0, len(nodes) - 1)))

        kind = draw(st.sampled_from(kinds))
        form = "values"
        if kind == "unary":
            args, table = [pick()], unary
        elif kind == "binary":
            form = draw(st.sampled_from(_FORMS))
            args, table = [pick() for _ in range(2 if form == "values" else 1)], binary
        else:
            table = [draw(st.sampled_from(nary))]
            form = "number"
            args = [pick() for _ in range(2 * draw(st.integers(1, 3)))]
        operands = [nodes[i] for i in args]
        ok = [op for op in table if _allowed(OPS[op], operands, form, margin, bound)]
        if not ok:  # e.g. a sum that would leave the bound: one operand, through a unary op
            args, operands, form = args[:1], operands[:1], "values"
            ok = [op for op in unary if _allowed(OPS[op], operands, form, margin, bound)]
            if not ok:
                reject()
        op = draw(st.sampled_from(ok))
        const = None
        if form != "values":
            low, high = OPS[op].constants
            const = draw(st.floats(low, high, allow_nan=False, allow_infinity=False))
        step = Step(op, tuple(args), const, form == "number first")
        steps.append(step)
        spec = OPS[op]
        nodes.append(spec.apply(*_written(spec, operands, const, step.const_first)))
    return Expression(inputs, tuple(steps))


def expressions(
    max_inputs: int = 3, max_steps: int = 8, margin: float = 0.1, bound: float = 1e4,
    ops: Sequence[str] | None = None,
) -> st.SearchStrategy[Expression]:
    """Random expression DAGs over the engine's operations (see `Expression`).

    Inputs lie in ``[-2, 2]``; each step applies one of ``ops`` (default:
    every operation of the engine's table, `OPS`: `UNARY_OPS`, `BINARY_OPS`,
    each also with a number on either side, and `NARY_OPS`) to earlier
    nodes, so subexpressions are shared. Domain-safe at the drawn inputs:
    each operation's operands stay ``margin`` inside its domain and away
    from its kinks (its spec's ``domain`` and ``kinks``: ``log`` and
    ``sqrt`` see arguments above ``margin``, divisors and ``relu``/``abs``
    arguments are at least ``margin`` away from 0, so finite differences
    with a step much smaller than ``margin`` cross no kink), and every value
    and local derivative stays within ``bound`` in size. Numbers are drawn
    from each spec's ``constants`` range.
    """
    if max_inputs < 1 or max_steps < 1:
        raise ValueError(
            f"expressions: max_inputs and max_steps must be >= 1, got {max_inputs}, {max_steps}"
        )
    if not (margin >= 0.0 and bound > 0.0):
        raise ValueError(f"expressions: need margin >= 0 and bound > 0, got {margin}, {bound}")
    chosen = tuple(OPS) if ops is None else tuple(ops)
    unknown = [op for op in chosen if op not in OPS]
    if unknown or not chosen:
        raise ValueError(f"expressions: ops must be names of the engine's operations "
                         f"({', '.join(OPS)}), got {list(chosen)!r}")
    strategy: st.SearchStrategy[Expression] = _expressions(max_inputs, max_steps, margin,
                                                           bound, chosen)
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
    ``[0, 1]`` for ``"cross_entropy"``, one-hot for ``"log_likelihood"``
    (the costs of `microgrid.backprop.COSTS`, spelled as `microgrid.losses`
    spells them).
    """
    choice(cost, COSTS, "cost", who="examples_for")
    nin, nout = net.sizes[0], net.sizes[-1]
    floats = st.floats(-max_abs_x, max_abs_x, allow_nan=False, allow_infinity=False)
    x = st.lists(floats, min_size=nin, max_size=nin)
    if cost == "log_likelihood":
        y = st.integers(0, nout - 1).map(lambda k: [1.0 if j == k else 0.0 for j in range(nout)])
    else:
        low = 0.0 if cost == "cross_entropy" else -1.0
        y = st.lists(st.floats(low, 1.0, allow_nan=False, allow_infinity=False),
                     min_size=nout, max_size=nout)
    return st.tuples(x, y).map(lambda xy: (xy[0], xy[1]))
