"""The scalar reverse-mode autodiff engine: `Value`, its operations, `backward`.

Every operation computes its result *and its local derivatives* at forward
time and stores them beside its parents, so an operation and its derivative
sit next to each other below, readable as the calculus they are::

    c = a * b    ->  parents (a, b), local gradients (b.data, a.data)

`backward()` takes the graph's topological order from an iterative
depth-first search (no recursion: graphs a million nodes deep work) and, in
reverse order, adds ``local * node.grad`` into each parent.

Gradient semantics follow PyTorch: a backward pass resets the grads of the
graph's interior nodes and accumulates into its leaves.

Derivatives at the edges of an operation's domain follow PyTorch:
``relu'(0) = 0``, ``abs'(0) = 0``, ``d(x**0)/dx = 0`` (even at 0), and
``sqrt'(0) = +inf`` (the forward pass still succeeds).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from operator import mul as _mul
from typing import Union, cast

__all__ = [
    "Scalar",
    "Value",
    "abs",
    "exp",
    "is_grad_enabled",
    "linear",
    "linear_layer",
    "log",
    "logsumexp",
    "no_grad",
    "record_operands",
    "relu",
    "sigmoid",
    "sqrt",
    "sum_of",
    "tanh",
    "topological_order",
]

Scalar = Union["Value", float, int]
"""What the engine's operations accept: a `Value` or a real number."""

_INF = math.inf
_NO_PARENTS: tuple[Value, ...] = ()
_NO_GRADS: tuple[float, ...] = ()
_ONE = (1.0,)
_ONE_ONE = (1.0, 1.0)
_ONE_MINUS_ONE = (1.0, -1.0)
_MINUS_ONE = (-1.0,)

# What `_node` records: _RECORD (parents and local gradients), _NO_GRAD
# (nothing), or a dict (parents, and the operands as written of every
# operation with a number operand; see `record_operands`).
_RECORD = None
_NO_GRAD = False
_mode: ContextVar[dict[Value, tuple[object, ...]] | bool | None] = ContextVar(
    "microgrid_mode", default=_RECORD
)
_current_mode = _mode.get


@contextmanager
def no_grad() -> Iterator[None]:
    """Compute without recording the graph: results get no parents.

    Use it for inference and for optimiser updates. The setting is per
    thread and per asyncio task (a `contextvars` variable)::

        with no_grad():
            y = net(x)        # y.parents == ()
    """
    token = _mode.set(_NO_GRAD)
    try:
        yield
    finally:
        _mode.reset(token)


def is_grad_enabled() -> bool:
    """Whether operations currently record their parents (False inside `no_grad`)."""
    return _current_mode() is not _NO_GRAD


@contextmanager
def record_operands() -> Iterator[dict[Value, tuple[object, ...]]]:
    """Also record, for each operation with a plain-number operand, its operands.

    The engine does not make nodes for constants (``x + 1.0`` has parents
    ``(x,)``), so the constant is not in the graph. Inside this context the
    yielded dict maps each such result node to its operands as written:
    ``(x, 1.0)`` for ``x + 1.0``, ``(2.0, x)`` for ``2.0 / x``, the terms for
    `sum_of`, ``(weights, inputs, bias)`` for `linear`. The compiler
    (`microgrid.compile`) replays graphs from it. Costs nothing outside.
    """
    operands: dict[Value, tuple[object, ...]] = {}
    token = _mode.set(operands)
    try:
        yield operands
    finally:
        _mode.reset(token)


def _as_float(x: object, op: str) -> float:
    """Convert a user-supplied number to float, or raise a TypeError naming it."""
    if isinstance(x, numbers.Real):
        return float(x)
    raise TypeError(
        f"{op}: expected a Value or a real number, got {type(x).__name__} {x!r}"
    )


def _fail_non_finite(op: str, result: float, *operands: float) -> None:
    """Raise for a non-finite result; called only off the hot path.

    A result that is infinite because an operand already was infinite is
    allowed (the user asked for it); overflow from finite operands raises
    `OverflowError`, and NaN raises `ValueError`. Either names the operation
    and its operands.
    """
    shown = ", ".join(repr(o) for o in operands)
    if result != result:
        raise ValueError(f"{op}({shown}) is not a number (nan)")
    if all(-_INF < o < _INF for o in operands):
        raise OverflowError(f"{op}({shown}) overflows a float")


def _node(
    data: float,
    parents: tuple[Value, ...],
    local_grads: tuple[float, ...],
    op: str,
    left: object = None,
    right: object = None,
) -> Value:
    """Make an operation's result node, recording what the current mode asks.

    ``left`` and ``right`` (the operands as written) are passed only by
    operations with a plain-number operand, and kept only inside
    `record_operands` (passing two names costs less than building a tuple).
    """
    v = _new_value(Value)
    v.data = data
    v.grad = 0.0
    mode = _current_mode()
    if mode is _RECORD:
        v.parents = parents
        v.local_grads = local_grads
    elif mode is _NO_GRAD:
        v.parents = _NO_PARENTS
        v.local_grads = _NO_GRADS
    else:
        v.parents = parents
        v.local_grads = local_grads
        if left is not None:
            mode[v] = (left, right)  # type: ignore[index]
    v.op = op
    v.label = ""
    return v


_new_value = object.__new__


def _remember_operands(v: Value, operands: tuple[object, ...]) -> None:
    """Inside `record_operands`, keep an n-ary node's operands as written."""
    mode = _current_mode()
    if isinstance(mode, dict):
        mode[v] = operands


class Value:
    """A scalar node of the computation graph.

    Attributes:
        data: the value, always a Python ``float``.
        grad: ``∂root/∂self`` after ``root.backward()``; starts at 0.0.
        parents: the operands this node was computed from, in order
            (``a * a`` has parents ``(a, a)``); ``()`` for a leaf.
        local_grads: ``∂self/∂parent`` for each parent, computed at forward time.
        op: the operation that made this node (``""`` for a leaf).
        label: a name for drawings and messages.

    Example::

        >>> x = Value(2.0, label="x")
        >>> y = x * x + 3 * x
        >>> y.backward()
        >>> x.grad
        7.0
    """

    __slots__ = ("data", "grad", "parents", "local_grads", "op", "label")

    data: float
    grad: float
    parents: tuple[Value, ...]
    local_grads: tuple[float, ...]
    op: str
    label: str

    def __init__(self, data: float, label: str = "") -> None:
        raw: object = data
        if type(raw) is float:
            x = data
        elif type(raw) is Value:
            raise TypeError(
                "Value: data must be a real number, got a Value; "
                "use the Value itself, or Value(v.data) for a detached copy"
            )
        else:
            x = _as_float(data, "Value")
        if x != x:
            raise ValueError("Value: data is nan; a Value holds a number")
        if type(label) is not str:
            raise TypeError(f"Value: label must be a str, got {type(label).__name__}")
        self.data = x
        self.grad = 0.0
        self.parents = _NO_PARENTS
        self.local_grads = _NO_GRADS
        self.op = ""
        self.label = label

    # -- arithmetic ---------------------------------------------------------

    def __add__(self, other: Scalar) -> Value:
        a = self.data
        if type(other) is Value:
            b = other.data
            r = a + b
            if not -_INF < r < _INF:
                _fail_non_finite("add", r, a, b)
            return _node(r, (self, other), _ONE_ONE, "+")
        c = other if type(other) is float else _operand(other)
        if c is None:
            return NotImplemented
        r = a + c
        if not -_INF < r < _INF:
            _fail_non_finite("add", r, a, c)
        return _node(r, (self,), _ONE, "+", self, c)

    __radd__ = __add__

    def __sub__(self, other: Scalar) -> Value:
        a = self.data
        if type(other) is Value:
            b = other.data
            r = a - b
            if not -_INF < r < _INF:
                _fail_non_finite("sub", r, a, b)
            return _node(r, (self, other), _ONE_MINUS_ONE, "-")
        c = other if type(other) is float else _operand(other)
        if c is None:
            return NotImplemented
        r = a - c
        if not -_INF < r < _INF:
            _fail_non_finite("sub", r, a, c)
        return _node(r, (self,), _ONE, "-", self, c)

    def __rsub__(self, other: Scalar) -> Value:
        b = self.data
        a = other if type(other) is float else _operand(other)
        if a is None:
            return NotImplemented
        r = a - b
        if not -_INF < r < _INF:
            _fail_non_finite("sub", r, a, b)
        return _node(r, (self,), _MINUS_ONE, "-", a, self)

    def __mul__(self, other: Scalar) -> Value:
        a = self.data
        if type(other) is Value:
            b = other.data
            r = a * b
            if not -_INF < r < _INF:
                _fail_non_finite("mul", r, a, b)
            return _node(r, (self, other), (b, a), "*")
        c = other if type(other) is float else _operand(other)
        if c is None:
            raw: object = other
            if isinstance(raw, (str, bytes, list, tuple)):
                # else Python tries sequence repetition and blames the Value
                raise TypeError(f"mul: expected a Value or a number, got {type(raw).__name__}")
            return NotImplemented
        r = a * c
        if not -_INF < r < _INF:
            _fail_non_finite("mul", r, a, c)
        return _node(r, (self,), (c,), "*", self, c)

    __rmul__ = __mul__

    def __truediv__(self, other: Scalar) -> Value:
        # d(a/b)/da = 1/b, d(a/b)/db = -a/b^2
        a = self.data
        if type(other) is Value:
            b = other.data
            parents: tuple[Value, ...] = (self, other)
        else:
            c = _operand(other)
            if c is None:
                return NotImplemented
            b, parents = c, (self,)
        if b == 0.0:
            raise ZeroDivisionError(f"div: {a!r} / {b!r} divides by zero")
        r = a / b
        if not -_INF < r < _INF:
            _fail_non_finite("div", r, a, b)
        if len(parents) == 2:
            return _node(r, parents, (1.0 / b, -r / b), "/")
        return _node(r, parents, (1.0 / b,), "/", self, b)

    def __rtruediv__(self, other: Scalar) -> Value:
        # d(c/x)/dx = -c/x^2
        b = self.data
        a = other if type(other) is float else _operand(other)
        if a is None:
            return NotImplemented
        if b == 0.0:
            raise ZeroDivisionError(f"div: {a!r} / {b!r} divides by zero")
        r = a / b
        if not -_INF < r < _INF:
            _fail_non_finite("div", r, a, b)
        return _node(r, (self,), (-r / b,), "/", a, self)

    def __pow__(self, exponent: Scalar) -> Value:
        # d(x^n)/dx = n x^(n-1) (0 when n == 0, even at x = 0);
        # d(x^y)/dy = x^y ln x (0 at x == 0 with y >= 0, as in PyTorch)
        x = self.data
        if type(exponent) is Value:
            y = exponent.data
            r = _power(x, y)
            if x > 0.0:
                d_exponent = r * math.log(x)
            elif x == 0.0:
                d_exponent = 0.0
            else:
                raise ValueError(
                    f"pow: base {x!r} is negative, so x**y has no derivative "
                    f"with respect to the exponent y={y!r}; use a number as the exponent"
                )
            return _node(r, (self, exponent), (_power_slope(x, y), d_exponent), "**")
        n = exponent if type(exponent) is float else _operand(exponent)
        if n is None:
            return NotImplemented
        r = _power(x, n)
        return _node(r, (self,), (_power_slope(x, n),), "**", self, n)

    def __rpow__(self, base: Scalar) -> Value:
        # d(c^y)/dy = c^y ln c
        c = _operand(base)
        if c is None:
            return NotImplemented
        y = self.data
        r = _power(c, y)
        if c > 0.0:
            d_exponent = r * math.log(c)
        elif c == 0.0:
            d_exponent = 0.0
        else:
            raise ValueError(
                f"pow: base {c!r} is negative, so c**y has no derivative "
                f"with respect to the exponent y={y!r}"
            )
        return _node(r, (self,), (d_exponent,), "**", c, self)

    def __neg__(self) -> Value:
        return _node(-self.data, (self,), _MINUS_ONE, "neg")

    def __pos__(self) -> Value:
        return self

    # -- functions ----------------------------------------------------------

    def exp(self) -> Value:
        """``e**self``; its derivative is itself. Raises OverflowError past ~709.78."""
        x = self.data
        try:
            r = math.exp(x)
        except OverflowError:
            raise OverflowError(f"exp({x!r}) overflows a float") from None
        return _node(r, (self,), (r,), "exp")

    def log(self) -> Value:
        """Natural logarithm; derivative ``1/x``. Raises ValueError for x <= 0."""
        x = self.data
        if not x > 0.0:
            raise ValueError(f"log({x!r}): the logarithm needs a positive number")
        return _node(math.log(x), (self,), (1.0 / x,), "log")

    def tanh(self) -> Value:
        """Hyperbolic tangent; derivative ``1 - tanh^2``. Never overflows."""
        t = math.tanh(self.data)
        return _node(t, (self,), (1.0 - t * t,), "tanh")

    def sigmoid(self) -> Value:
        """Logistic ``1 / (1 + e^-x)``, stable for any input; derivative ``s (1 - s)``."""
        x = self.data
        if x >= 0.0:
            s = 1.0 / (1.0 + math.exp(-x))
        else:
            e = math.exp(x)  # never overflows for x < 0
            s = e / (1.0 + e)
        return _node(s, (self,), (s * (1.0 - s),), "sigmoid")

    def relu(self) -> Value:
        """``max(0, x)``; derivative 1 for x > 0 and 0 otherwise (0 at x = 0)."""
        x = self.data
        if x > 0.0:
            return _node(x, (self,), _ONE, "relu")
        return _node(0.0, (self,), (0.0,), "relu")

    def sqrt(self) -> Value:
        """Square root; derivative ``1 / (2 sqrt x)``, +inf at 0. ValueError for x < 0."""
        x = self.data
        if x < 0.0:
            raise ValueError(f"sqrt({x!r}): the square root needs a non-negative number")
        r = math.sqrt(x)
        return _node(r, (self,), (0.5 / r if r > 0.0 else _INF,), "sqrt")

    def abs(self) -> Value:
        """Absolute value; derivative ``sign(x)``, 0 at x = 0."""
        x = self.data
        if x > 0.0:
            return _node(x, (self,), _ONE, "abs")
        if x < 0.0:
            return _node(-x, (self,), _MINUS_ONE, "abs")
        return _node(0.0, (self,), (0.0,), "abs")

    __abs__ = abs

    # -- the backward pass --------------------------------------------------

    def backward(self, grad: float = 1.0) -> None:
        """Fill ``.grad`` of every node in this graph with ``∂self/∂node``.

        Interior nodes (those with parents) have their grads reset first, so
        they hold exactly this pass's derivatives; leaves accumulate, as in
        PyTorch (call `zero_grad` on parameters between steps). ``grad`` seeds
        the root's derivative (1.0 for ``∂self/∂self``).

        A node whose gradient is exactly 0 passes nothing on (a dead ReLU, a
        satisfied margin): its parents are not visited, so ``0 * inf`` is
        never formed and a zero upstream gradient stays 0 where PyTorch
        would give nan (e.g. ``(x.sqrt() * 0.0).backward()`` at ``x = 0``).
        """
        seed = _as_float(grad, "backward")
        order = topological_order(self)
        # As in PyTorch, a pass sums its contributions to a leaf first and
        # then accumulates them into what the leaf held: so a second pass
        # gives exactly twice the first, not that up to rounding.
        earlier: list[tuple[Value, float]] = []
        for node in order:
            if node.parents:
                node.grad = 0.0
            elif node.grad != 0.0:
                earlier.append((node, node.grad))
                node.grad = 0.0
        self.grad = seed
        for node in reversed(order):
            g = node.grad
            if g == 0.0:
                continue  # contributes nothing: a dead ReLU, a satisfied margin
            for parent, local in zip(node.parents, node.local_grads):
                parent.grad += local * g
        for leaf, held in earlier:
            leaf.grad += held

    def zero_grad(self) -> None:
        """Set this node's grad to 0.0."""
        self.grad = 0.0

    # -- conversions and comparisons ----------------------------------------

    def __float__(self) -> float:
        return self.data

    def __int__(self) -> int:
        return int(self.data)

    def item(self) -> float:
        """The value as a Python float (as ``tensor.item()`` in PyTorch)."""
        return self.data

    def __lt__(self, other: Scalar) -> bool:
        b = other.data if type(other) is Value else _operand(other)
        return NotImplemented if b is None else self.data < b

    def __le__(self, other: Scalar) -> bool:
        b = other.data if type(other) is Value else _operand(other)
        return NotImplemented if b is None else self.data <= b

    def __gt__(self, other: Scalar) -> bool:
        b = other.data if type(other) is Value else _operand(other)
        return NotImplemented if b is None else self.data > b

    def __ge__(self, other: Scalar) -> bool:
        b = other.data if type(other) is Value else _operand(other)
        return NotImplemented if b is None else self.data >= b

    # == and hash stay those of object: a node is identified by identity, so
    # Values can be dict keys and set members like any graph node.

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data!r}, grad={self.grad!r}{label})"

    def __format__(self, spec: str) -> str:
        return format(self.data, spec) if spec else repr(self)


_ONLY_VALUES = frozenset({Value})
_ONLY_FLOATS = frozenset({float})


def _operand(x: object) -> float | None:
    """The float value of a number operand; None for a type we don't handle.

    Operators return NotImplemented on None, so Python raises its TypeError
    naming both types (or lets the other operand's reflected method try).
    """
    if type(x) is float:
        return x
    if type(x) is int or isinstance(x, numbers.Real):
        return float(x)
    return None




def _power(x: float, n: float) -> float:
    """``x ** n`` as a real float, or a clear error (never a complex number)."""
    if x < 0.0 and not n.is_integer():
        raise ValueError(
            f"pow: {x!r} ** {n!r} is not a real number "
            "(a negative base needs an integer exponent)"
        )
    if x == 0.0 and n < 0.0:
        raise ZeroDivisionError(f"pow: 0.0 ** {n!r} divides by zero")
    try:
        r = x**n
    except OverflowError:
        raise OverflowError(f"pow: {x!r} ** {n!r} overflows a float") from None
    if not -_INF < r < _INF:
        _fail_non_finite("pow", r, x, n)
    return float(r)


def _power_slope(x: float, n: float) -> float:
    """``d(x**n)/dx = n x**(n-1)``, with PyTorch's values at the edges."""
    if n == 0.0:
        return 0.0
    if x == 0.0:
        if n < 1.0:
            return _INF  # 0 < n < 1: the slope is vertical at 0
        return n if n == 1.0 else 0.0
    try:
        slope: float = n * x ** (n - 1.0)
        return slope
    except OverflowError:
        # |slope| exceeds the largest float; keep its sign
        negative = (n < 0.0) != (x < 0.0 and (n - 1.0) % 2.0 == 1.0)
        return -_INF if negative else _INF


def topological_order(root: Value) -> list[Value]:
    """Every node ``root`` depends on, each before the nodes that use it.

    The root comes last. Iterative depth-first search with an explicit
    stack, so a graph of any depth works. Drawing and tracing reuse it.
    """
    order: list[Value] = []
    visited = {root}
    # Each stack entry: a node, and an iterator over its parents still to visit.
    stack = [(root, iter(root.parents))]
    while stack:
        node, parents = stack[-1]
        for parent in parents:
            if parent not in visited:
                visited.add(parent)
                stack.append((parent, iter(parent.parents)))
                break
        else:
            stack.pop()
            order.append(node)
    return order


# -- n-ary nodes -----------------------------------------------------------


def _number(x: object, op: str) -> float:
    """The float value of a plain-number argument, or a TypeError naming it."""
    r = _operand(x)
    if r is None:
        raise TypeError(f"{op}: expected a Value or a real number, got {type(x).__name__} {x!r}")
    return r


def _data(xs: Sequence[Scalar], op: str) -> list[float]:
    return [
        x.data if type(x) is Value else x if type(x) is float else _number(x, op) for x in xs
    ]


def sum_of(terms: Iterable[Scalar]) -> Value:
    """``t_1 + t_2 + ... + t_n`` as one node (built-in ``sum`` makes n nodes).

    Each Value term gets local gradient 1; numbers are added to the value
    and get no parent slot. A Value listed twice counts twice. The value is
    the built-in ``sum`` of the terms' values: from Python 3.12 a compensated
    sum, which can differ from the chain of ``+`` in the last bits (closer
    to the exact sum); on 3.10 and 3.11 that chain, left to right.

        >>> sum_of([Value(1.0), 2, Value(3.0)]).data
        6.0
    """
    terms = terms if isinstance(terms, (list, tuple)) else list(terms)
    parents = tuple([t for t in terms if type(t) is Value])
    total = sum(_data(terms, "sum_of"), 0.0)
    if not -_INF < total < _INF:
        _fail_non_finite("sum_of", total, *(p.data for p in parents))
    v = _node(total, parents, (1.0,) * len(parents), "sum")
    if len(parents) != len(terms):
        _remember_operands(v, tuple(terms))
    return v


def logsumexp(terms: Iterable[Scalar]) -> Value:
    """``ln(e^{t_1} + ... + e^{t_n})`` as one node, without overflow.

    Computed as ``m + ln(1 + sum_{i != k} e^{t_i - m})``, with ``t_k = m``
    the largest term: no ``e^`` exceeds 1, so logits of +-1000 are fine, and
    ``logsumexp([0.0, z])``, the softplus ``ln(1 + e^z)``, keeps its
    precision for very negative ``z``. Each Value term's local gradient is
    ``e^{t_i - result}``: the softmax of the terms. Numbers are constants
    and get no parent slot, as in `sum_of`. No terms, or an infinite one,
    raise ValueError.

        >>> round(logsumexp([Value(1000.0), Value(1000.0)]).data, 6)
        1000.693147
    """
    terms = terms if isinstance(terms, (list, tuple)) else list(terms)
    data = _data(terms, "logsumexp")
    if not data:
        raise ValueError("logsumexp: needs at least one term (an empty sum's log is -inf)")
    bad = [t for t in data if not -_INF < t < _INF]
    if bad:
        raise ValueError(f"logsumexp: the terms must be finite numbers, got {bad[0]!r}")
    m = max(data)
    k = data.index(m)
    scaled = [math.exp(t - m) for t in data]
    scaled[k] = 0.0  # the largest term's e^0 = 1 is the 1 of log1p
    rest = sum(scaled)
    r = m + math.log1p(rest)
    # softmax_i = e^{t_i - m} / sum_j e^{t_j - m}: shifted by m, which is exact
    scaled[k] = 1.0
    total = 1.0 + rest
    parents = tuple([t for t in terms if type(t) is Value])
    if len(parents) == len(terms):
        return _node(r, parents, tuple([e / total for e in scaled]), "logsumexp")
    softmax = [e / total for e, term in zip(scaled, terms) if type(term) is Value]
    v = _node(r, parents, tuple(softmax), "logsumexp")
    _remember_operands(v, tuple(terms))
    return v


def linear(weights: Sequence[Scalar], inputs: Sequence[Scalar], bias: Scalar = 0.0) -> Value:
    """``sum_k w_k x_k + b`` as one node: a neuron's weighted input ``z``.

    Parents are the Value weights, then the Value inputs, then the bias;
    local gradients ``x_k`` for ``w_k``, ``w_k`` for ``x_k`` and 1 for ``b``,
    so its backward step is BP4's ``a delta`` and BP2's ``w^T delta``. Any
    argument may hold plain numbers, which get no parent slot. The products
    ``w_k x_k`` are added to ``b`` by the built-in ``sum``, rounded as in
    `sum_of`.

        >>> w, x = [Value(2.0), Value(-1.0)], [3.0, 4.0]
        >>> linear(w, x, Value(0.5)).data
        2.5
    """
    x_nodes, x_data = _read_inputs(inputs)
    return _linear(weights, inputs, bias, x_nodes, x_data)


def linear_layer(
    weights: Sequence[Sequence[Scalar]], inputs: Sequence[Scalar], biases: Sequence[Scalar]
) -> list[Value]:
    """A layer's weighted inputs ``z_j = sum_k w[j][k] x_k + b_j``, one `linear` node each.

    The same nodes as ``[linear(weights[j], inputs, biases[j]) for j ...]``;
    the inputs are checked and read once for the whole layer instead of once
    per neuron (`Layer` uses it).

        >>> w = [[Value(1.0), Value(2.0)], [Value(-1.0), Value(0.5)]]
        >>> [z.data for z in linear_layer(w, [3.0, 4.0], [Value(0.0), Value(1.0)])]
        [11.0, 0.0]
    """
    if len(weights) != len(biases):
        raise ValueError(
            f"linear_layer: {len(weights)} rows of weights but {len(biases)} biases; "
            "they must match"
        )
    x_nodes, x_data = _read_inputs(inputs)
    return [_linear(w, inputs, b, x_nodes, x_data) for w, b in zip(weights, biases)]


def _read_inputs(
    inputs: Sequence[Scalar],
) -> tuple[tuple[Value, ...] | None, Sequence[float] | None]:
    """``(nodes, values)`` of inputs that are all Values, ``(None, values)`` of
    all floats, ``(None, None)`` for anything else (checked item by item later).

    A neuron's inputs are all Values (a hidden layer) or all floats (the
    first): those cases check the types in C, not item by item.
    """
    types = {*map(type, inputs)}
    if types == _ONLY_VALUES:
        nodes = tuple(cast("Sequence[Value]", inputs))
        return nodes, [x.data for x in nodes]
    if types == _ONLY_FLOATS:
        return None, cast("Sequence[float]", inputs)
    return None, None


def _linear(
    weights: Sequence[Scalar],
    inputs: Sequence[Scalar],
    bias: Scalar,
    x_nodes: tuple[Value, ...] | None,
    x_data: Sequence[float] | None,
) -> Value:
    """`linear`, given what `_read_inputs` read of its inputs."""
    try:
        n = len(weights)
    except TypeError:
        raise TypeError(
            f"linear: weights must be a sequence, got {type(weights).__name__}"
        ) from None
    if n != len(inputs):
        raise ValueError(f"linear: {n} weights but {len(inputs)} inputs; they must match")
    # A neuron's weights and bias are Values: with inputs read by
    # `_read_inputs`, the node's tuples are built directly.
    if x_data is not None and type(bias) is Value and {*map(type, weights)} == _ONLY_VALUES:
        w_nodes = cast("Sequence[Value]", weights)
        w_data = [w.data for w in w_nodes]
        total = sum(map(_mul, w_data, x_data), bias.data)
        if not -_INF < total < _INF:
            _fail_non_finite("linear", total, *w_data, *x_data, bias.data)
        if x_nodes is not None:
            return _node(total, (*w_nodes, *x_nodes, bias), (*x_data, *w_data, 1.0), "linear")
        v = _node(total, (*w_nodes, bias), (*x_data, 1.0), "linear")
        _remember_operands(v, (tuple(weights), tuple(inputs), bias))
        return v
    w_values = [w for w in weights if type(w) is Value]
    x_values = [x for x in inputs if type(x) is Value]
    # A neuron's weights are all Values, its inputs all Values or all numbers:
    # those cases read .data directly; mixed ones check each item.
    w_data = [w.data for w in w_values] if len(w_values) == n else _data(weights, "linear")
    x_data = [x.data for x in x_values] if len(x_values) == n else _data(inputs, "linear")
    b = bias.data if type(bias) is Value else _number(bias, "linear")
    total = sum(map(_mul, w_data, x_data), b)
    if not -_INF < total < _INF:
        _fail_non_finite("linear", total, *w_data, *x_data, b)
    parents: list[Value] = w_values + x_values
    local = x_data if len(w_values) == n else [
        xd for w, xd in zip(weights, x_data, strict=True) if type(w) is Value
    ]
    if x_values:
        local = local + (w_data if len(x_values) == n else [
            wd for x, wd in zip(inputs, w_data, strict=True) if type(x) is Value
        ])
    if type(bias) is Value:
        parents.append(bias)
        local = [*local, 1.0]
    v = _node(total, tuple(parents), tuple(local), "linear")
    if len(parents) != 2 * n + 1:
        _remember_operands(v, (tuple(weights), tuple(inputs), bias))
    return v


# -- module-level functions: accept a Value or a number ---------------------


def _lift(x: Scalar, op: str) -> Value:
    if type(x) is Value:
        return x
    return Value(_as_float(x, op))


def exp(x: Scalar) -> Value:
    """``e**x`` for a Value or a number (a number gives a new leaf's result)."""
    return _lift(x, "exp").exp()


def log(x: Scalar) -> Value:
    """Natural logarithm of a Value or a number; ValueError for x <= 0."""
    return _lift(x, "log").log()


def tanh(x: Scalar) -> Value:
    """Hyperbolic tangent of a Value or a number."""
    return _lift(x, "tanh").tanh()


def sigmoid(x: Scalar) -> Value:
    """Numerically stable logistic function of a Value or a number."""
    return _lift(x, "sigmoid").sigmoid()


def relu(x: Scalar) -> Value:
    """``max(0, x)`` of a Value or a number; derivative 0 at 0."""
    return _lift(x, "relu").relu()


def sqrt(x: Scalar) -> Value:
    """Square root of a Value or a number; derivative +inf at 0."""
    return _lift(x, "sqrt").sqrt()


def abs(x: Scalar) -> Value:
    """Absolute value of a Value or a number; derivative 0 at 0."""
    return _lift(x, "abs").abs()
