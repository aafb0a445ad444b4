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

Non-finite numbers never pass silently: operations refuse a nan or overflowed
result, and `backward()` a nan or overflowed gradient, naming the operation
that caused it. `detect_anomaly()` checks every step of a pass, and that the
graph's data did not change after it was built.
"""

from __future__ import annotations

import math
import numbers
import operator
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from operator import attrgetter
from operator import mul as _mul
from types import FrameType, MappingProxyType
from typing import Any, Literal, TypeVar, Union, cast, overload

__all__ = [
    "OPS",
    "OpSpec",
    "Scalar",
    "Value",
    "abs",
    "detect_anomaly",
    "exp",
    "is_anomaly_enabled",
    "is_grad_enabled",
    "linear",
    "linear_layer",
    "log",
    "logsumexp",
    "no_grad",
    "relu",
    "sigmoid",
    "sqrt",
    "sum_of",
    "tanh",
    "topological_order",
    "watch_reads",
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


class _NotRecorded(tuple[float, ...]):
    """The local gradients of a result computed under `no_grad`.

    Empty, as a leaf's are, but a distinct object: `backward` tells such a
    result (whose graph was not recorded) from a leaf by it.
    """

    __slots__ = ()


_NOT_RECORDED: tuple[float, ...] = _NotRecorded()


class _Recorded(tuple[float, ...]):
    """The local gradients of a node built inside `detect_anomaly`.

    Still the tuple every reader zips with the parents; it also keeps what
    backward checks and names in that mode.
    """

    operand_data: tuple[float, ...]
    """The parents' ``.data`` when the node was built."""
    where: tuple[tuple[str, int, str], ...]
    """The frames that built it (file, line, function), innermost first."""


class _AnomalyMode:
    """`detect_anomaly`'s mode: record as usual, each node's local gradients as `_Recorded`."""

    __slots__ = ()


# What `_node` records: _RECORD (parents, local gradients and operands),
# _NO_GRAD (nothing), or _ANOMALY (those, and what each node was built from).
_RECORD = None
_NO_GRAD = False
_ANOMALY = _AnomalyMode()
_mode: ContextVar[_AnomalyMode | bool | None] = ContextVar("microgrid_mode", default=_RECORD)
_current_mode = _mode.get
# Who `watch_reads` tells of a number read off a Value (per thread and task),
# and one entry per such context in any thread (list append/pop are atomic):
# outside those, a read costs one truth test.
_reader: ContextVar[Callable[[Value, str], None] | None] = ContextVar(
    "microgrid_reader", default=None
)
_watching: list[None] = []
# Whether backward checks every step: apart from `_mode`, because a pass
# inside `no_grad` (which records nothing) is checked all the same.
_anomaly: ContextVar[bool] = ContextVar("microgrid_anomaly", default=False)


@contextmanager
def no_grad() -> Iterator[None]:
    """Compute without recording the graph: results get no parents.

    Use it for inference and for optimiser updates. The setting is per
    thread and per asyncio task (a `contextvars` variable)::

        with no_grad():
            y = net(x)        # y.parents == ()

    Such a result cannot be differentiated: its ``backward()`` raises
    RuntimeError (a graph built outside ``no_grad`` may use it as a constant).
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
def watch_reads(on_read: Callable[[Value, str], None]) -> Iterator[None]:
    """Call ``on_read(v, how)`` whenever code inside turns a Value into a Python number.

    ``float(v)``, ``int(v)``, ``v.item()``, a comparison (``v > 0``,
    ``max(values)``) or ``format(v, spec)``, ``how`` naming which. The
    compiler (`microgrid.compile`) refuses such reads in the function it
    records: the number would be frozen into the replay. (Reading the
    attribute ``v.data`` cannot be seen.) Per thread and asyncio task.
    """
    token = _reader.set(on_read)
    _watching.append(None)
    try:
        yield
    finally:
        _watching.pop()
        _reader.reset(token)


@contextmanager
def detect_anomaly() -> Iterator[None]:
    """Check every step of every backward pass, and the graph it walks.

    A debugging mode, as PyTorch's ``torch.autograd.detect_anomaly``: slower
    inside (a training step about 4x), and costing nothing outside. Inside
    it, ``backward()``

    - raises at the first step that makes a gradient nan or infinite,
      naming the operation, its label and the line that built it (even the
      exact +inf of ``sqrt`` at 0, which backward otherwise hands over);
    - refuses a graph that holds nan (a ``.data`` or local gradient set by
      hand): ValueError;
    - refuses a graph whose data changed after it was built: in
      ``y = x * x; x.data = 5.0; y.backward()`` the local derivatives were
      taken at the old ``x``, so the gradient would be wrong: RuntimeError.
      A graph must be built again after any ``.data`` it uses changes (in a
      training loop: the forward pass after each optimiser step).

    Nodes built inside the mode record their parents' data and the lines
    that built them; a graph built outside is checked for non-finite steps
    and nan, but a change of its data cannot be seen. The setting is per
    thread and per asyncio task::

        with detect_anomaly():
            loss = quadratic(net(x), y)     # built inside: recorded
            loss.backward()                 # checked
    """
    # Inside no_grad nothing is recorded, so nothing is recorded for the checks.
    token = _mode.set(_ANOMALY if _current_mode() is _RECORD else _current_mode())
    checking = _anomaly.set(True)
    try:
        yield
    finally:
        _anomaly.reset(checking)
        _mode.reset(token)


def is_anomaly_enabled() -> bool:
    """Whether backward checks every step (True inside `detect_anomaly`)."""
    return _anomaly.get()


def _shown(x: object) -> str:
    """A user's value for a message, short: an int of 400 digits by its size."""
    if isinstance(x, int) and x.bit_length() > 128:
        return f"an int of about {int(x.bit_length() * math.log10(2)) + 1} digits"
    try:
        text = f"{type(x).__name__} {x!r}"
    except ValueError:  # an int inside past Python's limit on digits
        return f"a {type(x).__name__} too long to show"
    return text if len(text) <= 80 else text[:77] + "..."


def _as_float(x: object, op: str, expected: str = "a real number") -> float:
    """Convert a user-supplied number to float, or raise an error naming it."""
    if isinstance(x, numbers.Real):
        try:
            return float(x)
        except OverflowError:
            raise OverflowError(f"{op}: {_shown(x)} is too large for a float") from None
    raise TypeError(f"{op}: expected {expected}, got {_shown(x)}")


def _fail_non_finite(op: str, result: float, *operands: float) -> None:
    """Raise for a non-finite result; called only off the hot path.

    A result that is infinite because an operand already was infinite is
    allowed (the user asked for it); overflow from finite operands raises
    `OverflowError`, and NaN from an infinite operand raises `ValueError`.
    NaN from finite operands is an overflow too (a sum of terms that
    overflowed to +inf and -inf). Either names the operation and its operands.
    """
    shown = ", ".join(repr(o) for o in operands)
    finite = all(-_INF < o < _INF for o in operands)
    if result != result and not finite:
        raise ValueError(f"{op}({shown}) is not a number (nan)")
    if finite:
        raise OverflowError(f"{op}({shown}) overflows a float")


def _node(
    data: float,
    parents: tuple[Value, ...],
    local_grads: tuple[float, ...],
    op: str,
    operands: object = None,
) -> Value:
    """Make an operation's result node, recording what the current mode asks.

    ``operands`` (see `Value.operands`) is passed by operations with a
    plain-number operand, which is not a parent.
    """
    v = _new_value(Value)
    v.data = data
    v.grad = 0.0
    mode = _current_mode()
    if mode is _RECORD:
        v.parents = parents
        v.local_grads = local_grads
        v.operands = operands
    elif mode is _NO_GRAD:
        v.parents = _NO_PARENTS
        v.local_grads = _NOT_RECORDED
        v.operands = None
    else:
        v.parents = parents
        v.local_grads = _recorded(local_grads, parents)
        v.operands = operands
    v.op = op
    v.label = ""
    return v


_new_value = object.__new__
_THIS_FILE = __file__
_PACKAGE = os.path.dirname(__file__) + os.sep


def _recorded(local_grads: tuple[float, ...], parents: tuple[Value, ...]) -> _Recorded:
    """``local_grads`` with what `detect_anomaly` keeps: the parents' data and the
    frames from the innermost one outside this module to the user's (the first
    one outside the package)."""
    recorded = _Recorded(local_grads)
    recorded.operand_data = tuple([p.data for p in parents])
    frames: list[tuple[str, int, str]] = []
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename == _THIS_FILE:
        frame = frame.f_back
    while frame is not None and len(frames) < 8:
        code = frame.f_code
        frames.append((code.co_filename, frame.f_lineno, code.co_name))
        if not code.co_filename.startswith(_PACKAGE):
            break
        frame = frame.f_back
    recorded.where = tuple(frames)
    return recorded


# -- the table of operations ------------------------------------------------------

Caption = Callable[[tuple[Any, ...], Callable[[float], str]], str]
_F = TypeVar("_F", bound=Callable[..., Any])


def _everywhere(margin: float, *operands: object) -> bool:
    return True


@dataclass(frozen=True)
class OpSpec:
    """What the library knows of one kind of node: ``OPS[node.op]``.

    Declared beside the method that makes the node and read by every layer
    above the engine (compile, drawings, gradcheck, the strategies, the CLI);
    the engine's own methods do not read it: the hot path stays hand-written.

    Attributes:
        name: the node's ``op`` string. arity: 1, 2, or None (n-ary).
        label: how drawings name it (``×``, ``σ``, ``Σ w·a + b``).
        operands: reads a node's operands as written, numbers included (the
            arguments of the call that made it): ``(2.0, x)`` for ``2.0 - x``,
            ``((a, 2.0),)`` for ``sum_of([a, 2.0])``, ``(weights, inputs, bias)``.
        apply: makes the node again from them; code: how it is written in
            Python (``{0}``, ``{1}``: its operands).
        caption: a drawing's text from its operands and a number formatter
            (``× 2``, ``2 ÷``, ``Σ w·a - 1``).
        domain: ``domain(margin, *operands)`` on numbers: whether it is defined
            and differentiable within ``margin``; kinks: where its derivative
            jumps, in its first operand.
        call: the name ``microgrid graph`` expressions call it by, or None.
        constants: the range tests draw its numbers from; sample: an n-ary
            op's operands as written from Values and a number.
        forward: batched ``forward(xp, out, *operands)``, writing into ``out``
            (``xp``: the array namespace, numpy); derivatives: batched, per
            operand, ``d(xp, result, *operands)``, or a number if constant.
        slope_domain: batched, per operand (None: everywhere), where its local
            derivative exists; the engine refuses the operation elsewhere if
            that operand is a Value (a negative base with a Value exponent).
        unbounded: whether a local derivative can be infinite at finite
            operands (compile then keeps the engine's 0 where the gradient is 0).
        kernel: the compile kernel that replays it where ``forward`` and
            ``derivatives`` cannot say how its nodes pack (`linear`), or None.
        value_derivatives: its local derivatives expressed with Values, per
            operand: a number, or ``d(r, *operands)`` with ``r`` the node
            itself (tanh's ``1.0 - r * r``; mul's other operand), giving a
            Value or a number; for an operand that is a sequence (the terms of
            a sum, a linear node's weights or inputs), a number for each item
            or ``d`` giving one per item. Their data are the node's
            ``local_grads``; `microgrid.grad` with ``create_graph=True``
            builds the gradient as a graph from them.
    """

    name: str
    arity: int | None
    label: str
    operands: Callable[[Value], tuple[Any, ...]]
    apply: Callable[..., Value]
    code: str
    caption: Caption
    domain: Callable[..., bool] = _everywhere
    kinks: tuple[float, ...] = ()
    call: str | None = None
    constants: tuple[float, float] = (-3.0, 3.0)
    sample: Callable[[Sequence[Value], float], tuple[Any, ...]] | None = None
    forward: Callable[..., Any] | None = None
    derivatives: tuple[float | Callable[..., Any], ...] = ()
    slope_domain: tuple[Callable[..., Any] | None, ...] = ()
    unbounded: bool = False
    kernel: str | None = None
    value_derivatives: tuple[float | Callable[..., Any], ...] = ()


_specs: dict[str, OpSpec] = {}
OPS: Mapping[str, OpSpec] = MappingProxyType(_specs)
"""Every kind of node the engine makes, by its ``op`` string (read-only); see `OpSpec`.

    >>> OPS["sigmoid"].label, OPS["*"].arity, OPS["linear"].kernel, OPS["relu"].kinks
    ('σ', 2, 'matmul', (0.0,))
    >>> x = Value(3.0)
    >>> OPS["-"].operands(2.0 - x), OPS["*"].operands(x * 2.0)
    ((2.0, Value(data=3.0, grad=0.0)), (Value(data=3.0, grad=0.0), 2.0))
"""


def _op(name: str, arity: int | None, label: str, **fields: Any) -> Callable[[_F], _F]:
    """Register the spec of the node kind the decorated method or function makes.

    Returns it unchanged. An operator method (``__add__``) is applied as the
    operator (``operator.add``), so either operand may be the number; another
    method as a method call (``x.tanh()``).
    """

    def register(make: _F) -> _F:
        function = make.__name__
        if function.startswith("__"):
            apply = getattr(operator, function.strip("_"))
            code = "-{0}" if arity == 1 else f"{{0}} {name} {{1}}"
        elif arity == 1:  # a method: applied as one, so any object having it takes it
            apply, code = operator.methodcaller(function), f"{{0}}.{function}()"
        else:  # a module-level function: its arguments are its operands
            count = make.__code__.co_argcount
            apply, code = make, f"{function}({', '.join(f'{{{i}}}' for i in range(count))})"
        fields.setdefault("operands", _parents if arity == 1 else _binary_operands)
        fields.setdefault("caption", _beside(label) if arity == 2 else lambda o, n: label)
        _specs[name] = OpSpec(name, arity, label, apply=apply, code=code, **fields)
        return make

    return register


def _parents(node: Value) -> tuple[Any, ...]:
    return node.parents


def _binary_operands(node: Value) -> tuple[Any, ...]:
    written = node.operands
    if written is None:
        return node.parents
    if type(written) is float:  # x * 2.0
        return (node.parents[0], written)
    return cast("tuple[Any, ...]", written)


def _beside(label: str, gap: str = " ") -> Caption:
    """A binary op's caption: its label, and a number operand on the side written."""

    def caption(operands: tuple[Any, ...], number: Callable[[float], str]) -> str:
        x, y = operands
        if type(y) is float:
            return f"{label}{gap}{number(y)}"
        return f"{number(x)}{gap}{label}" if type(x) is float else label

    return caption


class Value:
    """A scalar node of the computation graph.

    Attributes:
        data: the value, always a Python ``float``.
        grad: ``∂root/∂self`` after ``root.backward()``; starts at 0.0.
        parents: the operands this node was computed from, in order
            (``a * a`` has parents ``(a, a)``); ``()`` for a leaf.
        local_grads: ``∂self/∂parent`` for each parent, computed at forward time.
        op: the operation that made this node (``""`` for a leaf); `OPS`
            describes each.
        label: a name for drawings and messages.
        operands: None when the parents are all of the operands; else what
            ``OPS[op].operands`` reads them from, numbers included (the number
            of ``x * 2.0``, ``(2.0, x)`` for ``2.0 - x``, an n-ary node's).

    Example::

        >>> x = Value(2.0, label="x")
        >>> y = x * x + 3 * x
        >>> y.backward()
        >>> x.grad
        7.0
    """

    __slots__ = ("data", "grad", "parents", "local_grads", "op", "label", "operands")

    data: float
    grad: float
    parents: tuple[Value, ...]
    local_grads: tuple[float, ...]
    op: str
    label: str
    operands: object

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
        self.operands = None

    # -- arithmetic ---------------------------------------------------------

    @_op("+", 2, "+", forward=lambda xp, out, x, y: xp.add(x, y, out=out),
         derivatives=(1.0, 1.0), value_derivatives=(1.0, 1.0))
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
        return _node(r, (self,), _ONE, "+", c)

    __radd__ = __add__

    @_op("-", 2, "-", forward=lambda xp, out, x, y: xp.subtract(x, y, out=out),
         derivatives=(1.0, -1.0), value_derivatives=(1.0, -1.0))
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
        return _node(r, (self,), _ONE, "-", c)

    def __rsub__(self, other: Scalar) -> Value:
        b = self.data
        a = other if type(other) is float else _operand(other)
        if a is None:
            return NotImplemented
        r = a - b
        if not -_INF < r < _INF:
            _fail_non_finite("sub", r, a, b)
        return _node(r, (self,), _MINUS_ONE, "-", (a, self))

    @_op("*", 2, "×", forward=lambda xp, out, x, y: xp.multiply(x, y, out=out),
         derivatives=(lambda xp, r, x, y: y, lambda xp, r, x, y: x),
         value_derivatives=(lambda r, x, y: y, lambda r, x, y: x))
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
        return _node(r, (self,), (c,), "*", c)

    __rmul__ = __mul__

    @_op("/", 2, "÷", domain=lambda margin, x, y: not -margin <= y <= margin,
         constants=(0.5, 3.0), forward=lambda xp, out, x, y: xp.divide(x, y, out=out),
         derivatives=(lambda xp, r, x, y: 1.0 / y, lambda xp, r, x, y: -r / y),
         value_derivatives=(lambda r, x, y: 1.0 / y, lambda r, x, y: -r / y))
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
        return _node(r, parents, (1.0 / b,), "/", b)

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
        return _node(r, (self,), (-r / b,), "/", (a, self))

    @_op("**", 2, "^", caption=_beside("^", ""), domain=lambda margin, x, y: x > margin,
         constants=(0.5, 2.5),
         forward=lambda xp, out, x, y: xp.power(x, _per_element(xp, y, x), out=out),
         derivatives=(lambda xp, r, x, y: _batched_power_slope(xp, x, y),
                      lambda xp, r, x, y: _batched_exponent_slope(xp, r, x)),
         slope_domain=(None, lambda xp, x, y: x >= 0.0), unbounded=True,
         value_derivatives=(lambda r, x, y: _power_slope_value(x, y),
                            lambda r, x, y: _exponent_slope_value(r, x)))
    def __pow__(self, exponent: Scalar) -> Value:
        # d(x^n)/dx = n x^(n-1) (0 when n == 0, even at x = 0);
        # d(x^y)/dy = x^y ln x (0 at x == 0 with y >= 0, as in PyTorch)
        x = self.data
        if type(exponent) is Value:
            y = exponent.data
            r = _power(x, y)
            if x > 0.0:
                d_exponent = _exponent_slope(r, x, y)
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
        return _node(r, (self,), (_power_slope(x, n),), "**", n)

    def __rpow__(self, base: Scalar) -> Value:
        # d(c^y)/dy = c^y ln c
        c = _operand(base)
        if c is None:
            return NotImplemented
        y = self.data
        r = _power(c, y)
        if c > 0.0:
            d_exponent = _exponent_slope(r, c, y)
        elif c == 0.0:
            d_exponent = 0.0
        else:
            raise ValueError(
                f"pow: base {c!r} is negative, so c**y has no derivative "
                f"with respect to the exponent y={y!r}"
            )
        return _node(r, (self,), (d_exponent,), "**", (c, self))

    @_op("neg", 1, "−x", forward=lambda xp, out, x: xp.negative(x, out=out),
         derivatives=(-1.0,), value_derivatives=(-1.0,))
    def __neg__(self) -> Value:
        return _node(-self.data, (self,), _MINUS_ONE, "neg")

    def __pos__(self) -> Value:
        return self

    # -- functions ----------------------------------------------------------

    @_op("exp", 1, "exp", call="exp", forward=lambda xp, out, x: xp.exp(x, out=out),
         derivatives=(lambda xp, r, x: r,), value_derivatives=(lambda r, x: r,))
    def exp(self) -> Value:
        """``e**self``; its derivative is itself. Raises OverflowError past ~709.78."""
        x = self.data
        try:
            r = math.exp(x)
        except OverflowError:
            raise OverflowError(f"exp({x!r}) overflows a float") from None
        return _node(r, (self,), (r,), "exp")

    @_op("log", 1, "log", call="log", domain=lambda margin, x: x > margin,
         forward=lambda xp, out, x: xp.log(x, out=out),
         derivatives=(lambda xp, r, x: 1.0 / x,), unbounded=True,
         value_derivatives=(lambda r, x: 1.0 / x,))
    def log(self) -> Value:
        """Natural logarithm; derivative ``1/x``. Raises ValueError for x <= 0."""
        x = self.data
        if not x > 0.0:
            raise ValueError(f"log({x!r}): the logarithm needs a positive number")
        return _node(math.log(x), (self,), (1.0 / x,), "log")

    @_op("tanh", 1, "tanh", call="tanh", forward=lambda xp, out, x: xp.tanh(x, out=out),
         derivatives=(lambda xp, r, x: 1.0 - r * r,),
         value_derivatives=(lambda r, x: 1.0 - r * r,))
    def tanh(self) -> Value:
        """Hyperbolic tangent; derivative ``1 - tanh^2``. Never overflows."""
        t = math.tanh(self.data)
        return _node(t, (self,), (1.0 - t * t,), "tanh")

    @_op("sigmoid", 1, "σ", call="sigmoid", forward=lambda xp, out, x: _batched_sigmoid(xp, out, x),
         derivatives=(lambda xp, r, x: r * (1.0 - r),),
         value_derivatives=(lambda r, x: r * (1.0 - r),))
    def sigmoid(self) -> Value:
        """Logistic ``1 / (1 + e^-x)``, stable for any input; derivative ``s (1 - s)``."""
        x = self.data
        if x >= 0.0:
            s = 1.0 / (1.0 + math.exp(-x))
        else:
            e = math.exp(x)  # never overflows for x < 0
            s = e / (1.0 + e)
        return _node(s, (self,), (s * (1.0 - s),), "sigmoid")

    @_op("relu", 1, "ReLU", call="relu", kinks=(0.0,),
         forward=lambda xp, out, x: xp.maximum(x, 0.0, out=out),
         derivatives=(lambda xp, r, x: x > 0.0,),
         value_derivatives=(lambda r, x: 1.0 if x.data > 0.0 else 0.0,))
    def relu(self) -> Value:
        """``max(0, x)``; derivative 1 for x > 0 and 0 otherwise (0 at x = 0)."""
        x = self.data
        if x > 0.0:
            return _node(x, (self,), _ONE, "relu")
        return _node(0.0, (self,), (0.0,), "relu")

    @_op("sqrt", 1, "√", call="sqrt", domain=lambda margin, x: x > margin,
         forward=lambda xp, out, x: xp.sqrt(x, out=out),
         derivatives=(lambda xp, r, x: 0.5 / r,), unbounded=True,  # +inf at 0
         value_derivatives=(lambda r, x: 0.5 / r,))
    def sqrt(self) -> Value:
        """Square root; derivative ``1 / (2 sqrt x)``, +inf at 0. ValueError for x < 0."""
        x = self.data
        if x < 0.0:
            raise ValueError(f"sqrt({x!r}): the square root needs a non-negative number")
        r = math.sqrt(x)
        return _node(r, (self,), (0.5 / r if r > 0.0 else _INF,), "sqrt")

    @_op("abs", 1, "|x|", call="abs", kinks=(0.0,), forward=lambda xp, out, x: xp.abs(x, out=out),
         derivatives=(lambda xp, r, x: xp.sign(x),),
         value_derivatives=(lambda r, x: _sign(x.data),))
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

    @overload
    def backward(self, grad: float = ..., create_graph: Literal[False] = ...) -> None: ...

    @overload
    def backward(self, grad: float = ..., *, create_graph: Literal[True]) -> dict[Value, Value]:
        ...

    @overload
    def backward(self, grad: float = ..., create_graph: bool = ...) -> dict[Value, Value] | None:
        ...

    def backward(self, grad: float = 1.0, create_graph: bool = False) -> Any:
        """Fill ``.grad`` of every node in this graph with ``∂self/∂node``.

        Interior nodes (those with parents) have their grads reset first, so
        they hold exactly this pass's derivatives; leaves accumulate, as in
        PyTorch (call `zero_grad` on parameters between steps). ``grad`` seeds
        the root's derivative (1.0 for ``∂self/∂self``; it must be finite).

        A node whose gradient is exactly 0 passes nothing on (a dead ReLU, a
        satisfied margin): its parents are not visited, so ``0 * inf`` is
        never formed and a zero upstream gradient stays 0 where PyTorch
        would give nan (e.g. ``(x.sqrt() * 0.0).backward()`` at ``x = 0``).

        No gradient is handed over nan or overflowed. If a leaf's gradient
        comes out non-finite, the pass is checked step by step and the first
        step at fault is named, with its node's operation and label:
        ValueError for a nan (``0 * inf``, ``inf - inf``), OverflowError for
        an overflow (``1/x`` at ``x = 1e-200``, whose local derivative
        ``-1/x**2`` overflowed when the node was computed). The leaves'
        grads are then as they were before the call; the interior nodes
        keep what the pass gave them until it stopped. An exact infinity is
        handed over, as PyTorch does: ``sqrt'(0) = +inf`` (or an infinite
        operand) times a finite gradient gives ``+-inf``. Inside
        `detect_anomaly` every step is checked, exact infinities raise too,
        and the graph itself is checked first.

        A result computed under `no_grad` has no graph: RuntimeError.

        ``create_graph=True`` also builds the pass as a graph and returns it:
        a dict from every node of this graph to its derivative as a Value
        (``.grad`` is filled as above and stays a float), which can be
        differentiated again. To differentiate with respect to a few nodes,
        `microgrid.grad` builds less and touches no ``.grad``.

            >>> x = Value(3.0)
            >>> grads = (x ** 3).backward(create_graph=True)
            >>> x.grad, grads[x].data      # 3 x**2, as a float and as a graph
            (27.0, 27.0)
            >>> x.zero_grad()
            >>> grads[x].backward()        # d(3 x**2)/dx = 6 x
            >>> x.grad
            18.0
        """
        if create_graph:  # a truth test of a positional parameter: the cheapest (design.md)
            from microgrid.derivatives import _backward_with_graph

            return _backward_with_graph(self, grad, create_graph)
        seed = _as_float(grad, "backward")
        if not -_INF < seed < _INF:
            raise ValueError(f"backward: the seed gradient must be finite, got {seed!r}")
        if not self.parents and self.local_grads is _NOT_RECORDED:
            raise RuntimeError(
                f"backward: this Value (the result of {self.op!r}, {self.data!r}) was "
                "computed under no_grad(), so its graph was not recorded: there is "
                "nothing to differentiate. Compute it outside no_grad()."
            )
        order = topological_order(self)
        checking = _anomaly.get()
        if checking:
            _check_graph(order)
        # As in PyTorch, a pass sums its contributions to a leaf first and
        # then accumulates them into what the leaf held: so a second pass
        # gives exactly twice the first, not that up to rounding.
        leaves: list[Value] = []
        add_leaf = leaves.append
        earlier: list[tuple[Value, float]] = []
        for node in order:
            if node.parents:
                node.grad = 0.0
            else:
                add_leaf(node)
                if node.grad != 0.0:
                    earlier.append((node, node.grad))
                    node.grad = 0.0
        if checking:
            _checked_backward(self, seed, order, leaves, earlier, exact_infinities=False)
            return
        self.grad = seed
        for node in reversed(order):
            g = node.grad
            if g == 0.0:
                continue  # contributes nothing: a dead ReLU, a satisfied margin
            for parent, local in zip(node.parents, node.local_grads):
                parent.grad += local * g
        for leaf, held in earlier:
            leaf.grad += held
        # Outside the loop, one sum in C: a nan or inf in any leaf's grad
        # shows in it (and so does a mere overflow of the sum, which the
        # checked pass then finds harmless).
        if not -_INF < sum(map(_grad_of, leaves), 0.0) < _INF:
            _checked_backward(self, seed, order, leaves, earlier, exact_infinities=True)

    def zero_grad(self) -> None:
        """Set this node's grad to 0.0."""
        self.grad = 0.0

    # -- conversions and comparisons ----------------------------------------

    # Each of these turns the Value into a Python number; inside a recording
    # that watches reads (`watch_reads`) its `on_read` is told.

    def __float__(self) -> float:
        if _watching:
            _read(self, "float(v)")
        return self.data

    def __int__(self) -> int:
        if _watching:
            _read(self, "int(v)")
        return int(self.data)

    def item(self) -> float:
        """The value as a Python float (as ``tensor.item()`` in PyTorch)."""
        if _watching:
            _read(self, "v.item()")
        return self.data

    def __lt__(self, other: Scalar) -> bool:
        if _watching:
            _read(self, "a comparison v < ...")
        b = other.data if type(other) is Value else _operand(other)
        return NotImplemented if b is None else self.data < b

    def __le__(self, other: Scalar) -> bool:
        if _watching:
            _read(self, "a comparison v <= ...")
        b = other.data if type(other) is Value else _operand(other)
        return NotImplemented if b is None else self.data <= b

    def __gt__(self, other: Scalar) -> bool:
        if _watching:
            _read(self, "a comparison v > ...")
        b = other.data if type(other) is Value else _operand(other)
        return NotImplemented if b is None else self.data > b

    def __ge__(self, other: Scalar) -> bool:
        if _watching:
            _read(self, "a comparison v >= ...")
        b = other.data if type(other) is Value else _operand(other)
        return NotImplemented if b is None else self.data >= b

    # == and hash stay those of object: a node is identified by identity, so
    # Values can be dict keys and set members like any graph node.

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data!r}, grad={self.grad!r}{label})"

    def __format__(self, spec: str) -> str:
        if not spec:
            return repr(self)
        if _watching:
            _read(self, f"format(v, {spec!r})")
        return format(self.data, spec)


def _read(v: Value, how: str) -> None:
    """Inside `watch_reads`, tell its ``on_read`` that ``v``'s number was read."""
    on_read = _reader.get()
    if on_read is not None:
        on_read(v, how)


_ONLY_VALUES = frozenset({Value})
_ONLY_FLOATS = frozenset({float})


def _operand(x: object) -> float | None:
    """The float value of a number operand; None for a type we don't handle.

    Operators return NotImplemented on None, so Python raises its TypeError
    naming both types (or lets the other operand's reflected method try).
    A number too large for a float raises OverflowError naming the operator.
    """
    if type(x) is float:
        return x
    if type(x) is int or isinstance(x, numbers.Real):
        try:
            return float(x)
        except OverflowError:
            op = _OPERATORS.get(sys._getframe(1).f_code.co_name, "operand")
            raise OverflowError(f"{op}: {_shown(x)} is too large for a float") from None
    return None


# The operator that called `_operand`, for its error message: read from the
# calling frame on the error path only, so no operator passes its name.
_OPERATORS = {
    "__add__": "add", "__sub__": "sub", "__rsub__": "sub", "__mul__": "mul",
    "__truediv__": "div", "__rtruediv__": "div", "__pow__": "pow", "__rpow__": "pow",
    "__lt__": "<", "__le__": "<=", "__gt__": ">", "__ge__": ">=",
}


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
        r: float = x**n  # a float: the complex case is refused above
    except OverflowError:
        raise OverflowError(f"pow: {x!r} ** {n!r} overflows a float") from None
    if not -_INF < r < _INF:
        _fail_non_finite("pow", r, x, n)
    return r


def _power_slope(x: float, n: float) -> float:
    """``d(x**n)/dx = n x**(n-1)``, with PyTorch's values at the edges.

    An infinite exponent is refused: ``x ** inf`` is a limit (0, 1 or inf),
    and ``n x**(n-1)`` there is ``inf * 0``, nan (PyTorch's gradient).
    """
    if n == 0.0:
        return 0.0
    if n - n:  # inf - inf is nan, which is true: the cheapest test for an infinite n
        raise ValueError(
            f"pow: {x!r} ** {n!r} has no derivative with respect to the base "
            "(the exponent is infinite); use a finite exponent"
        )
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


def _exponent_slope(r: float, x: float, y: float) -> float:
    """``d(x**y)/dy = x**y ln x`` for ``x > 0`` (``r = x**y``); an infinite base
    with ``x**y = 0`` (``inf ** -1``) makes it ``0 * inf``: refused."""
    slope = r * math.log(x)
    if slope != slope:
        raise ValueError(
            f"pow: {x!r} ** {y!r} has no derivative with respect to the exponent "
            "(x**y ln x is 0 * inf)"
        )
    return slope


# -- the same local derivatives as Values, for `microgrid.grad(create_graph=True)` ----
# Each is a function of the node's operands on a neighbourhood, not only its
# number at this point, so that differentiating it again is right: the slope of
# ``x**y`` is ``y x**(y-1)`` even where ``y`` is 0 now.


def _power_slope_value(x: Value, n: Scalar) -> Scalar:
    """`_power_slope` as a Value: ``n x**(n-1)`` (a number where it is constant)."""
    if type(n) is not Value:
        if n == 0.0 or n == 1.0:
            return n  # x**0 and x**1 have slopes 0 and 1 everywhere
        return (x if n == 2.0 else x ** (n - 1.0)) * n
    if n.data == 0.0 and x.data == 0.0:
        return 0.0  # 0**y's slope at y = 0 is 0 by the float rule; y/0 is not a number
    return n * x ** (n - 1.0)


def _exponent_slope_value(r: Value, x: Scalar) -> Scalar:
    """`_exponent_slope` as a Value: ``x**y ln x``, 0 where the base is 0."""
    if type(x) is Value:
        return 0.0 if x.data == 0.0 else r * x.log()
    return 0.0 if x == 0.0 else r * math.log(x)


def _exp_minus(t: Scalar, r: Value) -> Scalar:
    """``e^{t - r}``: a term's share of `logsumexp` ``r`` (its softmax), for a Value term."""
    return (t - r).exp() if type(t) is Value else 0.0


def _sign(x: float) -> float:
    """The slope of ``abs`` at ``x``: 1, -1, or 0 at 0 (PyTorch's)."""
    return 1.0 if x > 0.0 else -1.0 if x < 0.0 else 0.0


# -- batched twins of the scalar formulas above, for `compile` (xp: numpy) ------


def _batched_sigmoid(xp: Any, out: Any, x: Any) -> None:
    """`Value.sigmoid`'s stable form: 1/(1+e^-x) for x >= 0, e^x/(1+e^x) below."""
    e = xp.exp(-xp.abs(x))
    out[...] = xp.where(x >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e))


def _per_element(xp: Any, n: Any, x: Any) -> Any:
    """The exponent as one number per element: numpy's power takes shortcuts for a
    repeated exponent (x*x, sqrt, 1/x) that round otherwise than C's pow, the
    engine's; per element it calls pow (on AVX-512 CPUs its own, an ulp away)."""
    if n.shape == x.shape:
        return n
    full = xp.empty(xp.broadcast_shapes(x.shape, n.shape))
    full[...] = n
    return full


def _batched_power_slope(xp: Any, x: Any, n: Any) -> Any:
    """`_power_slope` per element: ``n x**(n-1)``, 0 for n = 0, and its values at x = 0."""
    n = _per_element(xp, n, x)
    at_zero = xp.where(n < 1.0, xp.inf, xp.where(n == 1.0, n, 0.0))
    return xp.where(n == 0.0, 0.0, xp.where(x == 0.0, at_zero, n * xp.power(x, n - 1.0)))


def _batched_exponent_slope(xp: Any, r: Any, x: Any) -> Any:
    """`_exponent_slope` per element: ``x**y ln x``, 0 at x = 0 (x < 0 is refused)."""
    positive = x > 0.0
    return xp.where(positive, r * xp.log(xp.where(positive, x, 1.0)), 0.0)


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


# -- checking a backward pass (off the hot path) -------------------------------------

_grad_of = attrgetter("grad")


def _check_graph(order: list[Value]) -> None:
    """`detect_anomaly`'s checks before a pass: no nan anywhere, and every node
    built inside the mode still sees the data it was built from."""
    for node in order:
        if node.data != node.data:
            raise ValueError(
                f"backward: the graph holds nan: {_describe(node)} (a .data set by hand?)"
            )
        local_grads = node.local_grads
        for i, local in enumerate(local_grads):
            if local != local:
                raise ValueError(
                    f"backward: the graph holds nan: the local derivative of "
                    f"{_describe(node)} with respect to parents[{i}]"
                )
        if isinstance(local_grads, _Recorded):
            for parent, then in zip(node.parents, local_grads.operand_data):
                if parent.data != then:
                    raise RuntimeError(
                        f"backward: {_describe(parent)} was {then!r} when "
                        f"{_describe(node)} was computed from it: the graph's local "
                        "derivatives were taken at the old value, so its gradients "
                        "would be wrong. Build the graph again after changing .data "
                        "(in a training loop: the forward pass after each step)."
                    )


def _checked_backward(
    root: Value,
    seed: float,
    order: list[Value],
    leaves: list[Value],
    earlier: list[tuple[Value, float]],
    exact_infinities: bool,
) -> None:
    """`backward`'s pass again, checking every step.

    Raises at the first step that makes a gradient nan or overflow (and,
    unless ``exact_infinities``, infinite at all), after putting the leaves'
    grads back as they were. Otherwise its result is the plain pass's: the
    same operations in the same order.
    """
    for node in order:
        node.grad = 0.0
    root.grad = seed
    try:
        _checked_steps(order, exact_infinities)
        for leaf, held in earlier:
            leaf.grad = _accumulated(leaf, held, exact_infinities)
    except (ValueError, OverflowError):
        for leaf in leaves:
            leaf.grad = 0.0
        for leaf, held in earlier:
            leaf.grad = held
        raise


def _checked_steps(order: list[Value], exact_infinities: bool) -> None:
    """`backward`'s loop, checking each contribution and each sum it makes."""
    # A node whose gradient is an exact infinity -> the node whose infinite
    # local derivative made it (for the messages).
    source: dict[Value, Value] = {}
    for node in reversed(order):
        g = node.grad
        if g == 0.0:
            continue
        for i, (parent, local) in enumerate(zip(node.parents, node.local_grads)):
            c = local * g
            if not -_INF < c < _INF:
                _check_step(node, i, local, g, source, exact_infinities)
                source.setdefault(parent, source.get(node, node))
            total = parent.grad + c
            if not -_INF < total < _INF:
                _check_sum(parent, total, c, node, source)
            parent.grad = total


def _check_step(
    node: Value,
    i: int,
    local: float,
    g: float,
    source: dict[Value, Value],
    exact_infinities: bool,
) -> None:
    """Raise unless ``local * g``, non-finite, is an exact infinity that may pass."""
    at = f"backward: a non-finite gradient at {_describe(node)}: "
    wrt = f"with respect to parents[{i}], {_describe(node.parents[i])},"
    if local != local:
        raise ValueError(f"{at}its local derivative {wrt} is nan.{_advice(node)}")
    if not -_INF < g < _INF:  # an exact infinity from upstream
        if local == 0.0:
            raise ValueError(
                f"{at}its gradient is {g!r} (an exact infinity, from "
                f"{_describe(source.get(node, node))}) and its local derivative {wrt} "
                f"is 0: the chain rule gives 0 * inf = nan.{_advice(node)}"
            )
        return
    if -_INF < local < _INF:
        raise OverflowError(
            f"{at}its gradient {g!r} times its local derivative {wrt} {local!r}, "
            f"overflows a float.{_advice(node)}"
        )
    why = _exactly_infinite(node, i)
    if why is None:
        raise OverflowError(
            f"{at}its local derivative {wrt} overflowed to {local!r} when the node "
            "was computed: the true derivative is finite but past the float range, "
            f"so this gradient cannot be given (rescale the computation).{_advice(node)}"
        )
    if not exact_infinities:
        raise ValueError(
            f"{at}its local derivative {wrt} is {local!r}, exactly ({why}), so the "
            f"gradient it passes on is {local * g!r}; outside detect_anomaly(), "
            f"backward hands this infinity over.{_advice(node)}"
        )


def _check_sum(
    parent: Value, total: float, c: float, node: Value, source: dict[Value, Value]
) -> None:
    """Raise unless ``parent.grad + c``, non-finite, is an exact infinity."""
    if total != total:  # +inf and -inf meet
        raise ValueError(
            f"backward: a non-finite gradient at {_describe(parent)}: the gradients "
            f"{parent.grad!r} (from {_describe(source.get(parent, parent))}) and "
            f"{c!r} (from {_describe(source.get(node, node))}) meet there, exact "
            f"infinities each, and their sum is nan.{_advice(parent)}"
        )
    if -_INF < c < _INF and -_INF < parent.grad < _INF:
        raise OverflowError(
            f"backward: a non-finite gradient at {_describe(parent)}: the gradients "
            f"flowing into it add up past the float range ({parent.grad!r} + {c!r}, "
            f"the latter from {_describe(node)}).{_advice(parent)}"
        )


def _accumulated(leaf: Value, held: float, exact_infinities: bool) -> float:
    """``leaf.grad + held``: this pass's gradient added to what the leaf held."""
    total = leaf.grad + held
    if -_INF < total < _INF:
        return total
    added = (
        f"backward: {_describe(leaf)} held the gradient {held!r} from an earlier "
        f"pass, and adding this pass's {leaf.grad!r} "
    )
    advice = " (call zero_grad() between passes). The leaves' grads are as they were."
    if total != total:
        raise ValueError(f"{added}gives nan{advice}")
    if -_INF < held < _INF and -_INF < leaf.grad < _INF:
        raise OverflowError(f"{added}overflows a float{advice}")
    if not exact_infinities:
        raise ValueError(f"{added}gives {total!r}{advice}")
    return total


def _exactly_infinite(node: Value, i: int) -> str | None:
    """Why ``node``'s infinite local derivative with respect to ``parents[i]`` is
    the true one, or None if it overflowed (``-1/x**2`` at ``x = 1e-200``)."""
    x = node.parents[i].data
    if node.op == "sqrt" and x == 0.0:
        return "sqrt's slope at 0 is vertical"
    if node.op == "**" and i == 0 and x == 0.0:
        return "the slope of x**n at x = 0 is vertical for 0 < n < 1"
    if not -_INF < node.data < _INF or not all(-_INF < p.data < _INF for p in node.parents):
        return "an operand is infinite"
    return None


def _describe(node: Value) -> str:
    """A node as messages name it: operation, label, value, and where it was built."""
    text = f"the {node.op!r} node" if node.op else "the leaf"
    if node.label:
        text += f" {node.label!r}"
    text += f" (= {node.data!r}"
    local_grads = node.local_grads
    if isinstance(local_grads, _Recorded) and local_grads.where:
        *inner, (file, line, function) = local_grads.where
        text += f", built at {file}:{line} in {function}"
        if inner:
            text += " via " + ", ".join(
                f"{os.path.basename(f)}:{n} in {fn}" for f, n, fn in reversed(inner)
            )
    return text + ")"


def _advice(node: Value) -> str:
    """What a message about a failed pass ends with."""
    text = " The leaves' grads are as they were before backward()."
    if not _anomaly.get():
        return text + (
            " Inside microgrid.detect_anomaly(), backward names the line that built each node."
        )
    if not isinstance(node.local_grads, _Recorded):
        return text + " (This node was built outside detect_anomaly(): its line is not known.)"
    return text


# -- n-ary nodes -----------------------------------------------------------


def _number(x: object, op: str) -> float:
    """The float value of a plain-number argument, or an error naming it."""
    return _as_float(x, op, "a Value or a real number")


def _terms(terms: Iterable[Scalar], op: str) -> list[Scalar]:
    """An n-ary function's terms (not a list) as a list, or a TypeError naming what came."""
    try:
        if isinstance(terms, (str, bytes)):
            raise TypeError  # iterable, but of characters
        items = iter(terms)
    except TypeError:
        raise TypeError(
            f"{op}: expected an iterable of Values and numbers (a list), got {_shown(terms)}"
        ) from None
    return list(items)


def _sequence_error(op: str, name: str, x: object) -> TypeError:
    return TypeError(
        f"{op}: {name} must be a sequence, got {_shown(x)}; pass a list of Values and numbers"
    )


def _data(xs: Sequence[Scalar], op: str) -> list[float]:
    return [
        x.data if type(x) is Value else x if type(x) is float else _number(x, op) for x in xs
    ]


def _written(xs: Sequence[Scalar], data: Sequence[float]) -> tuple[Value | float, ...]:
    """Operands as a node keeps them: its Values, and its numbers as floats."""
    return tuple([x if type(x) is Value else d for x, d in zip(xs, data, strict=True)])


def _terms_of(node: Value) -> tuple[Any, ...]:
    return (node.parents if node.operands is None else node.operands,)


def _linear_operands(node: Value) -> tuple[Any, ...]:
    if node.operands is not None:
        return cast("tuple[Any, ...]", node.operands)
    parents = node.parents  # Values only: n weights, n inputs and the bias
    n = len(parents) // 2
    return (parents[:n], parents[n : 2 * n], parents[2 * n])


def _linear_caption(operands: tuple[Any, ...], number: Callable[[float], str]) -> str:
    bias = operands[2]
    if type(bias) is Value:
        return "Σ w·a + b"
    if bias == 0.0:
        return "Σ w·a"
    return f"Σ w·a - {number(-bias)}" if bias < 0.0 else f"Σ w·a + {number(bias)}"


def _linear_sample(values: Sequence[Value], c: float) -> tuple[Any, ...]:
    half = len(values) // 2
    return (tuple(values[:half]), tuple(values[half : 2 * half]), c)


@_op("sum", None, "Σ", operands=_terms_of, sample=lambda values, c: ((*values, c),),
     kernel="sums", value_derivatives=(1.0,))
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
    terms = terms if isinstance(terms, (list, tuple)) else _terms(terms, "sum_of")
    parents = tuple([t for t in terms if type(t) is Value])
    data = _data(terms, "sum_of")
    total = sum(data, 0.0)
    if not -_INF < total < _INF:
        _fail_non_finite("sum_of", total, *(p.data for p in parents))
    if len(parents) == len(terms):
        return _node(total, parents, (1.0,) * len(parents), "sum")
    return _node(total, parents, (1.0,) * len(parents), "sum", _written(terms, data))


@_op("logsumexp", None, "log Σ exp", operands=_terms_of,
     sample=lambda values, c: ((*values, c),), kernel="logsumexps",
     value_derivatives=(lambda r, terms: [_exp_minus(t, r) for t in terms],))
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
    terms = terms if isinstance(terms, (list, tuple)) else _terms(terms, "logsumexp")
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
    return _node(r, parents, tuple(softmax), "logsumexp", _written(terms, data))


@_op("linear", None, "Σ w·a + b", operands=_linear_operands, caption=_linear_caption,
     sample=_linear_sample, kernel="matmul",
     value_derivatives=(lambda r, w, x, b: x, lambda r, w, x, b: w, 1.0))
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
    x_nodes, x_data = _read_inputs(inputs, "linear")
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
    try:
        rows = len(weights)
    except TypeError:
        raise TypeError(
            f"linear_layer: weights must be a sequence, got {_shown(weights)}; "
            "pass a list of rows (each a list of Values and numbers)"
        ) from None
    try:
        n_biases = len(biases)
    except TypeError:
        raise _sequence_error("linear_layer", "biases", biases) from None
    if rows != n_biases:
        raise ValueError(
            f"linear_layer: {rows} rows of weights but {n_biases} biases; they must match"
        )
    x_nodes, x_data = _read_inputs(inputs, "linear_layer")
    return [_linear(w, inputs, b, x_nodes, x_data) for w, b in zip(weights, biases)]


def _read_inputs(
    inputs: Sequence[Scalar], op: str
) -> tuple[tuple[Value, ...] | None, Sequence[float] | None]:
    """``(nodes, values)`` of inputs that are all Values, ``(None, values)`` of
    all floats, ``(None, None)`` for anything else (checked item by item later).

    A neuron's inputs are all Values (a hidden layer) or all floats (the
    first): those cases check the types in C, not item by item.
    """
    try:
        types = {*map(type, inputs)}
    except TypeError:
        raise _sequence_error(op, "inputs", inputs) from None
    if types == _ONLY_VALUES:
        nodes = tuple(cast("Sequence[Value]", inputs))
        return nodes, [x.data for x in nodes]
    if types == _ONLY_FLOATS:  # a tuple: the operands of every neuron of a layer
        return None, tuple(cast("Sequence[float]", inputs))
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
        raise _sequence_error("linear", "weights", weights) from None
    try:
        n_inputs = len(inputs)
    except TypeError:  # a generator, say (which `_read_inputs` has used up)
        raise _sequence_error("linear", "inputs", inputs) from None
    if n != n_inputs:
        raise ValueError(f"linear: {n} weights but {n_inputs} inputs; they must match")
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
        return _node(total, (*w_nodes, bias), (*x_data, 1.0), "linear",
                     (tuple(w_nodes), x_data, bias))
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
    written = None
    if len(parents) != 2 * n + 1:
        written = (_written(weights, w_data), _written(inputs, x_data),
                   bias if type(bias) is Value else b)
    return _node(total, tuple(parents), tuple(local), "linear", written)


# -- module-level functions: accept a Value or a number ---------------------


def _lift(x: Scalar, op: str) -> Value:
    if type(x) is Value:
        return x
    return Value(_as_float(x, op, "a Value or a real number"))


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
