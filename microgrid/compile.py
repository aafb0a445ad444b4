"""Replay a recorded scalar graph over a whole batch with numpy.

For a fixed network and cost, every example builds a graph of the same
shape; only the numbers differ. `compile` records that graph once, from one
example, as a flat tape of instructions, and replays the tape with numpy
arrays holding a whole batch where the engine holds one float::

    >>> from microgrid import compile, sum_of
    >>> from microgrid.nn import MLP
    >>> net = MLP(2, [16, 16, 1], seed=0)
    >>> def cost(x, y):                       # one example's cost, from Values
    ...     score = net(x)[0]
    ...     return (1 - y * score).relu()
    >>> step = compile(cost, [0.5, -1.0], 1.0, params=net.parameters())
    >>> loss, grads = step([[0.5, -1.0], [2.0, 0.25]], [1.0, -1.0])
    >>> len(grads) == len(net.parameters())
    True

``loss`` is the sum of the examples' costs (``reduction="mean"``: their
mean) and ``grads[i]`` the matching derivative for ``params[i]``: exactly
what calling ``cost(x, y).backward()`` on each example would accumulate.
``step.backward(X, Y)`` adds the same gradients into the parameters'
``.grad``, so optimisers work unchanged.

How the tape is built (see docs/compile.md):

- Slots: every node of the recorded graph is one row of one of two stores:
  ``V``, shape ``(rows, batch)``, for nodes that depend on the example
  (inputs, targets and everything computed from them), and ``U``, shape
  ``(rows,)``, for nodes that do not (parameters, other leaves, and e.g. an
  L2 penalty over the parameters, computed once per call, not per example).
  Constants (the engine keeps no node for them) come from
  `engine.record_operands` and live in the instructions.
- Instructions: nodes with the same operation at the same depth of the graph
  whose operands line up are packed into one instruction acting on a block
  of rows, so a layer's activations are one numpy call and a layer's
  ``linear`` nodes, which share their inputs, are one matrix product
  ``z^l = w^l a^{l-1} + b^l`` (the batch along the columns, as in BACKPROP.md).
- Backward runs the instructions in reverse, each recomputing its local
  derivatives from the batch's own values (ReLU's mask, tanh's ``1 - t^2``)
  and summing over the batch wherever a batch-independent row meets a
  per-example one: the sum the eager engine accumulates example by example.

Tracing rule (as in JAX): the tape records which operations ran, not the
Python that chose them. A recording depends on the example, on any number
Python reads off a Value, on the parameters' values and on randomness: a
compiled function gives the eager engine's numbers on every example, or
`compile` refuses it with `TracingError`. Numbers read through the engine
(``float(v)``, ``v > 0``, ``max(values)``) are refused as they are read
(`engine.record_operands` reports them); what ``v.data`` could change is
found by recording again and comparing: on the example, with the parameters
moved, and on the first batch's examples that hold each node's extremes
(see `compile`).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, Union

from microgrid._extras import install_hint
from microgrid.engine import Value, record_operands, topological_order

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import ArrayLike, NDArray

    Array = NDArray[np.float64]
    Rows = NDArray[np.intp]
else:
    # numpy is the optional `fast` extra: `import microgrid` must not import
    # it, so `compile` binds this name on first use (see `_numpy`).
    np = None

__all__ = ["Compiled", "TracingError", "compile"]

INSTALL_HINT = install_hint("fast")

FIRST_BATCH_CHECKS = 32
"""How many examples of the first batch `compile` records again and compares (``check``)."""

_UNARY = ("neg", "exp", "log", "tanh", "sigmoid", "relu", "sqrt", "abs")
_BINARY = ("+", "-", "*", "/", "**")
_REDUCTIONS = ("sum", "mean")

Atom = Union[Value, float]  # noqa: UP007 - a runtime alias on Python 3.10
"""An operand as the tape sees it: a node of the graph or a constant."""


class TracingError(ValueError):
    """The function cannot be replayed: its graph depends on the data.

    Raised when two recordings of the same function differ (different
    operations, or a constant that came from an example's values), or when
    the graph uses nodes built outside the function.
    """


def _numpy() -> ModuleType:
    """numpy, or an ImportError naming the extra that installs it."""
    try:
        import numpy
    except ImportError:
        raise ImportError(
            f"microgrid.compile needs numpy, an optional extra: {INSTALL_HINT}"
        ) from None
    return numpy


def _ensure_numpy() -> None:
    if globals()["np"] is None:
        globals()["np"] = _numpy()


# -- recording ----------------------------------------------------------------


@dataclass
class _Recording:
    """One run of the user's function on Values, with everything the tape needs."""

    roots: list[Value]
    order: list[Value]
    inputs: list[Value]
    targets: list[Value]
    operands: dict[Value, tuple[object, ...]]
    signature: list[object] | None = None  # see `_signature`, made when first needed


def _example(x: object, what: str) -> list[float]:
    """An example's numbers as floats, or a clear error naming the bad one."""
    if isinstance(x, (str, bytes)) or not hasattr(x, "__len__") or not hasattr(x, "__iter__"):
        raise TypeError(f"compile: {what} must be a sequence of numbers, got {type(x).__name__}")
    values = []
    for k, v in enumerate(x):
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise TypeError(
                f"compile: {what}[{k}] is {type(v).__name__} {v!r}; expected a number"
            )
        f = float(v)
        if not math.isfinite(f):
            raise ValueError(f"compile: {what}[{k}] is {f!r}; examples must be finite")
        values.append(f)
    if not values:
        raise ValueError(f"compile: {what} is empty")
    return values


def _record(fn: Callable[..., Any], x: list[float], y: object, static: bool) -> _Recording:
    """Run ``fn`` on fresh Values for one example and keep its graph.

    The target ``y`` is passed as it is if ``static``, else as a Value (or
    a list of Values); None means ``fn`` takes no target.
    """
    inputs = [Value(v, f"x_{k}") for k, v in enumerate(x)]
    targets: list[Value] = []
    if y is None:
        args: tuple[object, ...] = (inputs,)
    elif static:
        args = (inputs, y)
    elif isinstance(y, list):
        targets = [Value(v, f"y_{j}") for j, v in enumerate(y)]
        args = (inputs, targets)
    else:
        targets = [Value(y, "y")]  # type: ignore[arg-type]
        args = (inputs, targets[0])
    reads: list[str] = []

    def refuse(v: Value, how: str) -> None:
        reads.append(_read_refused(v, how))
        raise TracingError(reads[0])

    with record_operands(on_read=refuse) as operands:
        result = fn(*args)
    if reads:  # raised inside fn, and fn caught it
        raise TracingError(reads[0])
    roots = _roots(result)
    if len(roots) == 1:
        return _Recording(roots, topological_order(roots[0]), inputs, targets, operands)
    order: list[Value] = []
    seen: set[Value] = set()
    for root in roots:
        for node in topological_order(root):
            if node not in seen:
                seen.add(node)
                order.append(node)
    return _Recording(roots, order, inputs, targets, operands)


def _read_refused(v: Value, how: str) -> str:
    return (
        f"compile: the function read the number held by {_name(v)} ({how}) while it was "
        "being recorded. A number read off a Value is Python, not an operation: the "
        "replay would not recompute it for other examples, nor after the parameters "
        "change, so compiled results could silently differ from eager ones. Keep the "
        "computation on Values (relu or abs instead of an if, logsumexp instead of max), "
        "read values outside the compiled function, or use the eager engine."
    )


def _roots(result: object) -> list[Value]:
    if type(result) is Value:
        return [result]
    if isinstance(result, (list, tuple)) and result and all(type(r) is Value for r in result):
        return list(result)
    raise TypeError(
        "compile: the function must return a Value (or a non-empty list of Values) "
        f"computed from its arguments, got {type(result).__name__} {result!r:.80}"
    )


def _arguments(node: Value, operands: dict[Value, tuple[object, ...]]) -> tuple[Any, ...]:
    """The node's operands in the order the operation was written, constants included.

    Unary and binary operations give their operands; ``sum`` and
    ``logsumexp`` their terms;
    ``linear`` a triple ``(weights, inputs, bias)``.
    """
    op = node.op
    parents = node.parents
    written = operands.get(node)
    if op in _UNARY:
        return (parents[0],)
    if op in _BINARY:
        if len(parents) == 2:
            return parents
        if written is None:
            raise TracingError(_outside(node))
        return tuple(_atom(a) for a in written)
    if op in ("sum", "logsumexp"):
        return parents if written is None else tuple(_atom(t) for t in written)
    if op == "linear":
        if written is None:
            n, odd = divmod(len(parents) - 1, 2)
            if odd:
                raise TracingError(_outside(node))
            return (parents[:n], parents[n : 2 * n], parents[2 * n])
        weights, inputs, bias = written
        return (
            tuple(_atom(w) for w in weights),  # type: ignore[attr-defined]
            tuple(_atom(v) for v in inputs),  # type: ignore[attr-defined]
            _atom(bias),
        )
    raise TracingError(f"compile: the operation {op!r} of {_name(node)} cannot be replayed")


def _atom(x: object) -> Atom:
    return x if type(x) is Value else float(x)  # type: ignore[arg-type]


def _outside(node: Value) -> str:
    return (
        f"compile: {_name(node)} was built outside the compiled function, so its "
        "constants were not recorded; compute it inside the function"
    )


def _name(node: Value) -> str:
    what = f"the {node.op!r} node" if node.op else "the leaf"
    return f"{what} {node.label!r}" if node.label else what


# -- comparing two recordings --------------------------------------------------

Path = Union[tuple[int, ...], None]  # noqa: UP007
"""Where a constant sits in a node's `_arguments` (None: a leaf's own data)."""

_RULE = (
    "A compiled graph replays the operations recorded for one example; Python control "
    "flow on values (if v.data > 0), numbers computed from them, and random numbers "
    "cannot be replayed. Keep the computation on Values (e.g. relu instead of an if), "
    "or use the eager engine."
)


@dataclass
class _Difference:
    """How two recordings of the function differ: in shape, or only in constants."""

    structure: str | None
    constants: list[tuple[int, Path, float, float]]  # node index, path, value in a, in b


def _roles(rec: _Recording, params: dict[Value, int]) -> dict[Value, tuple[Any, ...]]:
    roles: dict[Value, tuple[Any, ...]] = {p: ("param", i) for p, i in params.items()}
    roles.update((v, ("input", k)) for k, v in enumerate(rec.inputs))
    roles.update((v, ("target", j)) for j, v in enumerate(rec.targets))
    return roles


def _same(u: float, v: float) -> bool:
    return u == v and math.copysign(1.0, u) == math.copysign(1.0, v)


def _differences(a: _Recording, b: _Recording, params: dict[Value, int]) -> _Difference:
    """Walk two recordings side by side, node by node in topological order."""
    if len(a.order) != len(b.order):
        return _Difference(f"one graph has {len(a.order)} nodes, the other {len(b.order)}", [])
    roles_a, roles_b = _roles(a, params), _roles(b, params)
    index_a: dict[Value, int] = {}
    index_b: dict[Value, int] = {}
    constants: list[tuple[int, Path, float, float]] = []
    for i, (na, nb) in enumerate(zip(a.order, b.order, strict=True)):
        index_a[na] = index_b[nb] = i
        differs = f"node {i} is {_name(na)} in one and {_name(nb)} in the other"
        if not na.parents and not nb.parents:
            role = roles_a.get(na, ("leaf",))
            if role != roles_b.get(nb, ("leaf",)):
                return _Difference(differs, [])
            # the same leaf object in both is read live; leaves made inside fn compare by data
            if role == ("leaf",) and na is not nb and not _same(na.data, nb.data):
                constants.append((i, None, na.data, nb.data))
            continue
        if na.op != nb.op or not na.parents or not nb.parents:
            return _Difference(differs, [])
        stack: list[tuple[tuple[int, ...], Any, Any]] = [
            ((), _arguments(na, a.operands), _arguments(nb, b.operands))
        ]
        while stack:
            path, u, v = stack.pop()
            if isinstance(u, tuple) and isinstance(v, tuple) and len(u) == len(v):
                stack.extend(((*path, k), uk, vk) for k, (uk, vk) in enumerate(zip(u, v)))
            elif type(u) is Value and type(v) is Value:
                if index_a[u] != index_b[v]:
                    return _Difference(f"{_name(na)} (node {i}) reads other operands", [])
            elif type(u) is float and type(v) is float:
                if not _same(u, v):
                    constants.append((i, path, u, v))
            else:
                return _Difference(f"{_name(na)} (node {i}) has other operands", [])
    if [index_a[r] for r in a.roots] != [index_b[r] for r in b.roots]:
        return _Difference("the function returned other nodes", [])
    return _Difference(None, sorted(constants, key=lambda c: (c[0], c[1] or ())))


def _signature(rec: _Recording, params: dict[Value, int]) -> list[object]:
    """The recording as plain data: equal signatures are the same program.

    Each node's operation, its parents by position and its constants as
    written; each leaf's role (or, for a leaf made inside the function, its
    value). Comparing two signatures is one C-level ``==``: the fast path of
    `_compare`, which walks the graphs (`_differences`) only to say how two
    recordings differ.
    """
    if rec.signature is not None:
        return rec.signature
    roles = _roles(rec, params)
    index: dict[Value, int] = {}
    position = index.__getitem__
    signature: list[object] = []
    for i, node in enumerate(rec.order):
        index[node] = i
        if not node.parents:
            signature.append(roles.get(node) or ("leaf", _exactly(node.data)))
            continue
        written = rec.operands.get(node)
        signature.append((node.op, tuple(map(position, node.parents)),
                          None if written is None else _plain(written, index)))
    signature.append(tuple(map(position, rec.roots)))
    rec.signature = signature
    return signature


def _exactly(c: object) -> tuple[float, float]:
    """A constant as data that tells 0.0 from -0.0."""
    f = float(c)  # type: ignore[arg-type]
    return (f, math.copysign(1.0, f))


def _plain(written: tuple[object, ...], index: dict[Value, int]) -> tuple[object, ...]:
    return tuple(
        index[a] if type(a) is Value
        else _plain(a, index) if isinstance(a, tuple)
        else _exactly(a)
        for a in written
    )


def _compare(
    a: _Recording,
    b: _Recording,
    params: dict[Value, int],
    between: str,
    source: str = "the example's values",
) -> None:
    """Raise TracingError unless the two recordings are the same program, constants included.

    ``between`` says which recordings differ, ``source`` what a constant
    that differs must have been computed from.
    """
    seen = set(a.order)
    shared = [n for n in b.order if n.parents and n in seen]
    if shared:
        raise TracingError(_outside(shared[0]))
    if _signature(a, params) == _signature(b, params):
        return
    d = _differences(a, b, params)
    if d.structure is not None:
        raise TracingError(f"compile: the function built different graphs {between}: "
                           f"{d.structure}. {_RULE}")
    if d.constants:
        i, path, u, v = d.constants[0]
        node = a.order[i]
        what = ("a leaf Value made inside the function" if path is None
                else f"a constant operand of {_name(node)} (node {i})")
        raise TracingError(
            f"compile: the function built different graphs {between}: {what} is {u!r} in "
            f"one and {v!r} in the other, so it was computed from {source} "
            f"and would be replayed frozen. {_RULE}"
        )


def _value_at(rec: _Recording, i: int, path: Path) -> float:
    """The constant at ``path`` of node ``i`` of a recording."""
    node = rec.order[i]
    if path is None:
        return node.data
    found: Any = _arguments(node, rec.operands)
    for k in path:
        found = found[k]
    return float(found)


def _replace(args: tuple[Any, ...], path: tuple[int, ...], value: Value) -> tuple[Any, ...]:
    k = path[0]
    inner = value if len(path) == 1 else _replace(args[k], path[1:], value)
    return (*args[:k], inner, *args[k + 1 :])


def _values_in(args: tuple[Any, ...]) -> list[Value]:
    found: list[Value] = []
    for a in args:
        if type(a) is Value:
            found.append(a)
        elif isinstance(a, tuple):
            found.extend(v for v in a if type(v) is Value)
    return found


# -- operands of instructions --------------------------------------------------


class _Ref:
    """Where one operand of an instruction lives, for every lane at once.

    ``kind`` is ``"V"`` (per-example rows: arrays get a trailing batch
    axis), ``"U"`` (batch-independent rows) or ``"c"`` (constants, no
    gradient). ``shape`` is the grid of atoms: ``(w,)`` for one operand per
    lane, ``(w, n)`` for n terms per lane, ``(n,)`` for shared inputs.
    Contiguous rows are read as a slice (a view), others by fancy indexing.
    """

    __slots__ = ("const", "const_b", "kind", "needs_grad", "rows", "shape", "start", "stop",
                 "unique")

    def __init__(
        self,
        atoms: Sequence[Atom],
        shape: tuple[int, ...],
        rows: dict[Value, int],
        batched: dict[Value, bool],
        needs_grad: dict[Value, bool],
    ) -> None:
        self.shape = shape
        self.kind = _kind(atoms[0], batched)
        self.needs_grad = False
        self.start: int | None = None
        self.stop = 0
        self.unique = True
        if self.kind == "c":
            self.const = np.array(atoms, dtype=np.float64).reshape(shape)
            self.const_b = self.const[..., None]
            return
        index = np.array([rows[a] for a in atoms], dtype=np.intp)  # type: ignore[index]
        self.needs_grad = any(needs_grad[a] for a in atoms)  # type: ignore[index]
        if index.size == index[-1] - index[0] + 1 and (np.diff(index) == 1).all():
            self.start, self.stop = int(index[0]), int(index[-1]) + 1
        self.rows = index.reshape(shape)
        self.unique = len(set(index.tolist())) == index.size

    def get(self, V: Array, U: Array) -> Array:
        """The operand's values: ``shape`` (+ the batch axis for ``V``)."""
        if self.kind == "c":
            return self.const
        store = V if self.kind == "V" else U
        if self.start is None:
            return store[self.rows]
        block = store[self.start : self.stop]
        return block if len(self.shape) == 1 else block.reshape(self.shape + block.shape[1:])

    def get_b(self, V: Array, U: Array) -> Array:
        """As `get`, but batch-independent values get a size-1 axis for broadcasting."""
        if self.kind == "V":
            return self.get(V, U)
        if self.kind == "c":
            return self.const_b
        return self.get(V, U)[..., None]

    def add(self, GV: Array, GU: Array, contribution: Array) -> None:
        """Accumulate a gradient contribution into the operand's rows.

        A contribution with a batch axis into batch-independent rows is
        summed over the batch first: the eager engine's accumulation over
        examples.
        """
        shape = self.shape
        if self.kind == "V":
            store = GV
        else:
            store = GU
            if contribution.ndim > len(shape):
                contribution = contribution.sum(axis=-1)
        # In-place adds broadcast a contribution shared by all n terms of a lane.
        if self.start is not None:
            block = store[self.start : self.stop]
            if len(shape) > 1:
                block = block.reshape(shape + block.shape[1:])
            block += contribution
        elif self.unique:
            store[self.rows] += contribution
        else:
            np.add.at(store, self.rows, contribution)


def _kind(atom: Atom, batched: dict[Value, bool]) -> str:
    if type(atom) is not Value:
        return "c"
    return "V" if batched[atom] else "U"


# -- instructions --------------------------------------------------------------


class _Instruction:
    """One numpy step of the tape: a block of ``w`` rows computed at once."""

    op = ""
    batched = False
    start = 0
    stop = 0
    needs_grad = False

    def out(self, V: Array, U: Array) -> Array:
        return (V if self.batched else U)[self.start : self.stop]

    def forward(self, V: Array, U: Array) -> bool:
        """Compute the block; False if a value is outside the engine's domain."""
        raise NotImplementedError

    def backward(self, V: Array, U: Array, GV: Array, GU: Array) -> None:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


class _Unary(_Instruction):
    def __init__(self, op: str, a: _Ref) -> None:
        self.op = op
        self.a = a

    def forward(self, V: Array, U: Array) -> bool:
        a = self.a.get(V, U)
        out = self.out(V, U)
        op = self.op
        if op == "relu":
            np.maximum(a, 0.0, out=out)
        elif op == "tanh":
            np.tanh(a, out=out)
        elif op == "sigmoid":
            # the engine's stable form: 1/(1+e^-x) for x >= 0, e^x/(1+e^x) below
            e = np.exp(-np.abs(a))
            out[...] = np.where(a >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e))
        elif op == "exp":
            np.exp(a, out=out)
        elif op == "log":
            np.log(a, out=out)
        elif op == "neg":
            np.negative(a, out=out)
        elif op == "sqrt":
            np.sqrt(a, out=out)
        else:  # abs
            np.abs(a, out=out)
        return True

    def backward(self, V: Array, U: Array, GV: Array, GU: Array) -> None:
        if not self.a.needs_grad:
            return
        g = (GV if self.batched else GU)[self.start : self.stop]
        r = self.out(V, U)
        op = self.op
        local: NDArray[Any]
        if op == "relu":
            local = self.a.get(V, U) > 0.0
        elif op == "tanh":
            local = 1.0 - r * r
        elif op == "sigmoid":
            local = r * (1.0 - r)
        elif op == "exp":
            local = r
        elif op == "neg":
            self.a.add(GV, GU, -g)
            return
        elif op in ("log", "sqrt"):
            # 1/x and 1/(2 sqrt x) are +inf at (or next to) 0; where the gradient
            # g is 0 the engine passes nothing on, so 0 * inf must give 0, not nan
            local = 1.0 / self.a.get(V, U) if op == "log" else 0.5 / r
            self.a.add(GV, GU, _times(local, g))
            return
        else:  # abs
            local = np.sign(self.a.get(V, U))
        self.a.add(GV, GU, local * g)

    def describe(self) -> str:
        return f"{self.op}[{self.stop - self.start}]"


def _times(local: Array, g: Array) -> Array:
    """``local * g``, 0 wherever ``g`` is 0 even if ``local`` is infinite.

    The engine skips a node whose gradient is exactly 0 (see
    ``Value.backward``), so it never forms ``0 * inf``; the replay must give
    the same 0 where ``local`` can be infinite. Only those operations pay
    for it.
    """
    product: Array = local * g
    if not np.isfinite(local).all():
        product[np.broadcast_to(g == 0.0, product.shape)] = 0.0
    return product


_UFUNC_NAMES = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide", "**": "power"}


class _Binary(_Instruction):
    def __init__(self, op: str, left: _Ref, right: _Ref) -> None:
        self.op = op
        self.left = left
        self.right = right
        self.ufunc = getattr(np, _UFUNC_NAMES[op])

    def _operands(self, V: Array, U: Array) -> tuple[Array, Array]:
        if self.batched:
            x, n = self.left.get_b(V, U), self.right.get_b(V, U)
        else:
            x, n = self.left.get(V, U), self.right.get(V, U)
        if self.op == "**" and n.shape != x.shape:
            # numpy's power takes shortcuts for a repeated exponent (x*x, sqrt,
            # 1/x) that round differently from C's pow, which the engine calls;
            # an exponent per element gets pow itself (or, on AVX-512 CPUs,
            # numpy's vector pow, within an ulp of it).
            full = np.empty(np.broadcast_shapes(x.shape, n.shape))
            full[...] = n
            n = full
        return x, n

    def forward(self, V: Array, U: Array) -> bool:
        x, n = self._operands(V, U)
        self.ufunc(x, n, out=self.out(V, U))
        # The engine refuses a negative base with a Value exponent (x**y has
        # no real derivative in y) even where numpy's result is finite.
        return not (self.op == "**" and self.right.kind != "c" and bool((x < 0.0).any()))

    def backward(self, V: Array, U: Array, GV: Array, GU: Array) -> None:
        left, right = self.left, self.right
        g = (GV if self.batched else GU)[self.start : self.stop]
        op = self.op
        if op == "+":
            if left.needs_grad:
                left.add(GV, GU, g)
            if right.needs_grad:
                right.add(GV, GU, g)
            return
        if op == "-":
            if left.needs_grad:
                left.add(GV, GU, g)
            if right.needs_grad:
                right.add(GV, GU, -g)
            return
        x, n = self._operands(V, U)
        if op == "*":
            if left.needs_grad:
                left.add(GV, GU, g * n)
            if right.needs_grad:
                right.add(GV, GU, g * x)
            return
        r = self.out(V, U)
        if op == "/":
            if left.needs_grad:
                left.add(GV, GU, g / n)
            if right.needs_grad:
                right.add(GV, GU, -g * r / n)
            return
        # "**": d(x^n)/dx = n x^(n-1), d(x^n)/dn = x^n ln x, with the engine's edges
        if left.needs_grad:
            slope = n * np.power(x, n - 1.0)  # n per element: no shortcuts (see _operands)
            at_zero = np.where(n < 1.0, np.inf, np.where(n == 1.0, n, 0.0))
            slope = np.where(n == 0.0, 0.0, np.where(x == 0.0, at_zero, slope))
            left.add(GV, GU, _times(slope, g))  # +inf at 0 for n < 1, and on overflow
        if right.needs_grad:
            positive = x > 0.0
            d_exponent = np.where(positive, r * np.log(np.where(positive, x, 1.0)), 0.0)
            right.add(GV, GU, g * d_exponent)

    def describe(self) -> str:
        kinds = f"{self.left.kind}{self.op}{self.right.kind}"
        return f"{kinds}[{self.stop - self.start}]"


class _Sum(_Instruction):
    """``sum`` nodes: each lane adds its terms (per kind of term: V, U, constants)."""

    op = "sum"

    def __init__(self, parts: list[_Ref]) -> None:
        self.parts = parts

    def forward(self, V: Array, U: Array) -> bool:
        out = self.out(V, U)
        out[...] = 0.0
        for part in self.parts:
            if self.batched:
                out += part.get_b(V, U).sum(axis=1)
            else:
                out += part.get(V, U).sum(axis=1)
        return True

    def backward(self, V: Array, U: Array, GV: Array, GU: Array) -> None:
        g = (GV if self.batched else GU)[self.start : self.stop][:, None]
        for part in self.parts:
            if part.needs_grad:
                part.add(GV, GU, g)

    def describe(self) -> str:
        n = sum(p.shape[1] for p in self.parts)
        return f"sum[{self.stop - self.start}x{n}]"


class _LogSumExp(_Instruction):
    """``logsumexp`` nodes: each lane's ``m + ln(1 + sum_{i != k} e^{t_i - m})``, as the engine."""

    op = "logsumexp"

    def __init__(self, parts: list[_Ref]) -> None:
        self.parts = parts

    def _terms(self, V: Array, U: Array) -> Array:
        """Every lane's terms, one array: (lanes, terms) or (lanes, terms, batch)."""
        if not self.batched:
            return np.concatenate([part.get(V, U) for part in self.parts], axis=1)
        shape = (V.shape[1],)
        return np.concatenate(
            [np.broadcast_to(t, t.shape[:2] + shape) for t in (p.get_b(V, U) for p in self.parts)],
            axis=1,
        )

    def forward(self, V: Array, U: Array) -> bool:
        terms = self._terms(V, U)
        m = terms.max(axis=1)
        scaled = np.exp(terms - m[:, None])
        # the largest term's e^0 = 1 is the 1 of log1p (as in the engine)
        np.put_along_axis(scaled, scaled.argmax(axis=1)[:, None], 0.0, axis=1)
        self.out(V, U)[...] = m + np.log1p(scaled.sum(axis=1))
        return bool(np.isfinite(terms).all())  # the engine refuses infinite terms

    def backward(self, V: Array, U: Array, GV: Array, GU: Array) -> None:
        g = (GV if self.batched else GU)[self.start : self.stop]
        terms = self._terms(V, U)
        scaled = np.exp(terms - terms.max(axis=1)[:, None])
        contribution = g[:, None] * (scaled / scaled.sum(axis=1)[:, None])  # g * softmax
        start = 0
        for part in self.parts:
            stop = start + part.shape[1]
            if part.needs_grad:
                part.add(GV, GU, contribution[:, start:stop])
            start = stop

    def describe(self) -> str:
        n = sum(p.shape[1] for p in self.parts)
        return f"logsumexp[{self.stop - self.start}x{n}]"


class _Linear(_Instruction):
    """``linear`` nodes sharing their inputs: ``z = W a + b``, one product per kind.

    The columns (terms ``k``) are grouped by the kinds of ``w_k`` and
    ``x_k``; batch-independent weights give a matrix product, per-example
    weights an element-wise product summed over ``k``.
    """

    op = "linear"

    def __init__(self, parts: list[tuple[_Ref, _Ref]], bias: _Ref | None) -> None:
        self.parts = parts
        self.bias = bias

    def forward(self, V: Array, U: Array) -> bool:
        out = self.out(V, U)
        parts = self.parts
        w, a = parts[0]
        if len(parts) == 1 and w.kind != "V" and (a.kind == "V" or not self.batched):
            # one layer's z = W a (+ b): the product goes straight into its rows
            np.matmul(w.get(V, U), a.get(V, U), out=out)
            if self.bias is not None:
                out += self.bias.get_b(V, U) if self.batched else self.bias.get(V, U)
            return True
        out[...] = 0.0 if self.bias is None else (
            self.bias.get_b(V, U) if self.batched else self.bias.get(V, U)
        )
        for w, a in parts:
            if w.kind == "V":
                out += (w.get(V, U) * a.get_b(V, U)[None]).sum(axis=1)
                continue
            product = w.get(V, U) @ a.get(V, U)
            if self.batched and a.kind != "V":
                product = product[:, None]
            out += product
        return True

    def backward(self, V: Array, U: Array, GV: Array, GU: Array) -> None:
        g = (GV if self.batched else GU)[self.start : self.stop]
        if self.bias is not None and self.bias.needs_grad:
            self.bias.add(GV, GU, g)
        for w, a in self.parts:
            if w.kind == "V":
                if w.needs_grad:
                    w.add(GV, GU, g[:, None] * a.get_b(V, U)[None])
                if a.needs_grad:
                    a.add(GV, GU, (g[:, None] * w.get(V, U)).sum(axis=0))
                continue
            W = w.get(V, U)
            if w.needs_grad:
                A = a.get(V, U)
                if a.kind == "V":  # BP4 summed over the batch: delta a^T
                    w.add(GV, GU, g @ A.T)
                elif self.batched:
                    w.add(GV, GU, np.outer(g.sum(axis=1), A))
                else:
                    w.add(GV, GU, np.outer(g, A))
            if a.needs_grad:  # BP2's w^T delta
                a.add(GV, GU, W.T @ g)

    def describe(self) -> str:
        n = sum(a.shape[0] for _, a in self.parts)
        kind = "matmul" if all(w.kind != "V" for w, _ in self.parts) else "dot"
        return f"linear[{self.stop - self.start}x{n}] ({kind})"


# -- building the tape ------------------------------------------------------


@dataclass
class _Program:
    instructions: list[_Instruction]
    n_V: int
    U_template: Array
    n_free: int  # params and other leaves, refreshed from their .data each call
    free: list[Value]
    roots: list[tuple[str, int]]
    n_nodes: int
    lift_start: int  # V rows [lift_start, lift_stop) hold lifted constants
    lift_stop: int


def _build(
    rec: _Recording, params: list[Value], lifted: Sequence[tuple[int, Path]] = ()
) -> _Program:
    """Pack a recording into instructions over the V and U stores.

    ``lifted`` names constants (node index, path) that become per-example
    rows after the inputs and targets: constants that change with a static
    target, filled per example by the caller.
    """
    param_index = {p: i for i, p in enumerate(params)}
    order = rec.order
    lifted_rows: list[Value] = []
    substitutions: dict[Value, list[tuple[tuple[int, ...], Value]]] = {}
    for i, path in lifted:
        if path is None:
            lifted_rows.append(order[i])
        else:
            stand_in = Value(_value_at(rec, i, path), "lifted constant")
            substitutions.setdefault(order[i], []).append((path, stand_in))
            lifted_rows.append(stand_in)
    special = set(rec.inputs) | set(rec.targets) | set(lifted_rows)
    arguments: dict[Value, tuple[Any, ...]] = {}
    level = dict.fromkeys(lifted_rows, 0)
    batched = dict.fromkeys(lifted_rows, True)
    needs_grad = dict.fromkeys(lifted_rows, False)
    free: list[Value] = list(params)
    for node in order:
        if not node.parents:
            level[node] = 0
            batched[node] = node in special
            needs_grad[node] = node in param_index
            if node not in special and node not in param_index:
                free.append(node)
            continue
        written = _arguments(node, rec.operands)
        for path, stand_in in substitutions.get(node, ()):
            written = _replace(written, path, stand_in)
        arguments[node] = written
        atoms = _values_in(written)
        level[node] = 1 + max(level[a] for a in atoms)
        batched[node] = any(batched[a] for a in atoms)
        needs_grad[node] = any(needs_grad[a] for a in atoms)

    def key(node: Value) -> tuple[Any, ...]:
        args = arguments[node]
        op = node.op
        if op in ("sum", "logsumexp"):
            return (level[node], op, tuple(_kind(t, batched) for t in args))
        if op == "linear":
            weights, inputs, bias = args
            shared = tuple(
                id(v) if type(v) is Value else ("c", v, math.copysign(1.0, v)) for v in inputs
            )
            return (level[node], op, tuple(_kind(w, batched) for w in weights), shared,
                    _kind(bias, batched))
        return (level[node], op, tuple(_kind(a, batched) for a in args))

    groups: dict[tuple[Any, ...], list[Value]] = {}
    for node in order:
        if node.parents:
            groups.setdefault(key(node), []).append(node)

    rows: dict[Value, int] = {}
    for k, v in enumerate(rec.inputs):
        rows[v] = k
    for j, v in enumerate(rec.targets):
        rows[v] = len(rec.inputs) + j
    n_V = len(rec.inputs) + len(rec.targets)
    for v in lifted_rows:
        rows[v] = n_V
        n_V += 1
    for i, v in enumerate(free):
        rows[v] = i
    n_U = len(free)
    blocks = sorted(groups.values(), key=lambda nodes: level[nodes[0]])
    for nodes in blocks:
        if batched[nodes[0]]:
            for v in nodes:
                rows[v] = n_V
                n_V += 1
        else:
            for v in nodes:
                rows[v] = n_U
                n_U += 1

    def ref(atoms: Sequence[Atom], shape: tuple[int, ...]) -> _Ref:
        return _Ref(atoms, shape, rows, batched, needs_grad)

    instructions: list[_Instruction] = []
    for nodes in blocks:
        first = nodes[0]
        op = first.op
        w = len(nodes)
        args = [arguments[v] for v in nodes]
        instruction: _Instruction
        if op in _UNARY:
            instruction = _Unary(op, ref([a[0] for a in args], (w,)))
        elif op in _BINARY:
            instruction = _Binary(op, ref([a[0] for a in args], (w,)),
                                  ref([a[1] for a in args], (w,)))
        elif op == "sum":
            instruction = _Sum(_columns_by_kind(args, batched, ref))
        elif op == "logsumexp":
            instruction = _LogSumExp(_columns_by_kind(args, batched, ref))
        else:
            instruction = _linear(args, batched, ref)
        instruction.batched = batched[first]
        instruction.start = rows[first]
        instruction.stop = rows[first] + w
        instruction.needs_grad = any(needs_grad[v] for v in nodes)
        instructions.append(instruction)

    U_template = np.zeros(n_U, dtype=np.float64)
    roots = [("V" if batched[r] else "U", rows[r]) for r in rec.roots]
    lift_start = len(rec.inputs) + len(rec.targets)
    return _Program(instructions, n_V, U_template, len(free), free, roots, len(order),
                    lift_start, lift_start + len(lifted_rows))


def _columns_by_kind(
    args: list[tuple[Any, ...]],
    batched: dict[Value, bool],
    ref: Callable[[Sequence[Atom], tuple[int, ...]], _Ref],
) -> list[_Ref]:
    """A ``sum`` or ``logsumexp`` block's terms as one (lanes x terms) grid per kind of term."""
    kinds = [_kind(t, batched) for t in args[0]]
    parts = []
    for kind in ("V", "U", "c"):
        columns = [k for k, c in enumerate(kinds) if c == kind]
        if columns:
            atoms = [a[k] for a in args for k in columns]
            parts.append(ref(atoms, (len(args), len(columns))))
    return parts


def _linear(
    args: list[tuple[Any, ...]],
    batched: dict[Value, bool],
    ref: Callable[[Sequence[Atom], tuple[int, ...]], _Ref],
) -> _Linear:
    w = len(args)
    inputs = args[0][1]
    pairs = [(_kind(wk, batched), _kind(xk, batched))
             for wk, xk in zip(args[0][0], inputs, strict=True)]
    parts = []
    for pair in dict.fromkeys(pairs):
        columns = [k for k, p in enumerate(pairs) if p == pair]
        weights = [a[0][k] for a in args for k in columns]
        parts.append((ref(weights, (w, len(columns))),
                      ref([inputs[k] for k in columns], (len(columns),))))
    biases = [a[2] for a in args]
    bias = None if all(type(b) is float and b == 0.0 for b in biases) else ref(biases, (w,))
    return _Linear(parts, bias)


# -- the compiled function ------------------------------------------------------


class _Family:
    """Recordings that differ at most in constants, replayed by one program.

    Without static targets there is one family. With them, each distinct
    target is recorded (on the compiled example's ``x``); a recording that
    differs from the family's first only in constants joins it, and those
    constants (the label in ``score * y``) are lifted into per-example rows
    filled from ``table``, one row of constants per target.

    A family holds no reference to its `Compiled` (which holds it): no
    reference cycle, so a dropped `Compiled` is freed by reference counting.
    """

    def __init__(
        self, key: object, recording: _Recording, params: list[Value], static_y: bool,
        check: bool,
    ) -> None:
        self.base = recording
        self.params = params
        self.static_y = static_y
        self.lifted: list[tuple[int, Path]] = []
        self.keys: dict[object, int] = {key: 0}  # target key -> row of table
        self.references = {key: recording}  # what each target's examples must record
        self.table = np.zeros((1, 0))
        self.program = _build(recording, params)
        self.pending_check = check  # the first batch's examples are still to be checked

    def admit(self, key: object, recording: _Recording, param_index: dict[Value, int]) -> bool:
        """Take the target ``key`` in if its recording differs only in constants."""
        d = _differences(self.base, recording, param_index)
        if d.structure is not None:
            return False
        new = [(i, path) for i, path, _, _ in d.constants if (i, path) not in self.lifted]
        if new:
            self.lifted += new
            base_values = np.array([[_value_at(self.base, i, path) for i, path in new]])
            self.table = np.hstack([self.table, np.repeat(base_values, len(self.table), axis=0)])
            self.program = _build(self.base, self.params, self.lifted)
        row = np.array([[_value_at(recording, i, path) for i, path in self.lifted]])
        self.keys[key] = len(self.table)
        self.table = np.vstack([self.table, row])
        self.references[key] = recording
        return True

    def forward(
        self, X: Array, T: Array | None, table_rows: Rows | None
    ) -> tuple[Array, Array, bool]:
        """Replay the program on the examples ``X`` (targets ``T``): the stores V, U,
        and whether every value stayed in the engine's domain (finite).

        ``table_rows`` are each example's row of lifted constants.
        """
        p = self.program
        nin = X.shape[1]
        V = np.empty((p.n_V, X.shape[0]))
        V[:nin] = X.T
        if T is not None and not self.static_y:
            V[nin : nin + (1 if T.ndim == 1 else T.shape[1])] = T.T
        if p.lift_stop > p.lift_start:
            V[p.lift_start : p.lift_stop] = self.table[table_rows].T
        U = p.U_template.copy()
        U[: p.n_free] = [v.data for v in p.free]
        ok = True
        with np.errstate(all="ignore"):
            for instruction in p.instructions:
                ok = instruction.forward(V, U) and ok
        return V, U, ok and bool(np.isfinite(V).all()) and bool(np.isfinite(U).all())

    def values(self, V: Array, U: Array) -> list[Array]:
        """The function's result(s) for every example replayed."""
        batch = V.shape[1]
        return [V[row] if kind == "V" else np.full(batch, U[row])
                for kind, row in self.program.roots]

    def gradients(self, V: Array, U: Array, seed: float) -> Array:
        """``seed * sum over the examples of ∂result/∂params`` (one result)."""
        GV = np.zeros_like(V)
        GU = np.zeros_like(U)
        kind, row = self.program.roots[0]
        if kind == "V":
            GV[row] = seed
        else:  # every example's result is this one batch-independent value
            GU[row] = seed * V.shape[1]
        with np.errstate(all="ignore"):
            for instruction in reversed(self.program.instructions):
                if instruction.needs_grad:
                    instruction.backward(V, U, GV, GU)
        return GU[: len(self.params)]

    def examples_to_check(self, V: Array, T: Array | None) -> list[int]:
        """Which examples of a first batch to record again (see `compile`).

        All of a batch of at most ``FIRST_BATCH_CHECKS``; else that many,
        chosen to take what a branch on a value would take differently: the
        examples holding the smallest and largest value of each input and
        target, then of the result, then one of each distinct target (if at
        most 8: labels), then of every other node in the order computed.
        """
        batch = V.shape[1]
        if batch <= FIRST_BATCH_CHECKS:
            return list(range(batch))
        p = self.program
        lowest, highest = V.argmin(axis=1).tolist(), V.argmax(axis=1).tolist()
        roots = [row for kind, row in p.roots if kind == "V"]
        chosen: dict[int, None] = {}
        for row in range(p.lift_stop):
            chosen.update(((lowest[row], None), (highest[row], None)))
        for row in roots:
            chosen.update(((lowest[row], None), (highest[row], None)))
        if T is not None and not self.static_y:
            distinct, first = np.unique(T.reshape(batch, -1), axis=0, return_index=True)
            if len(distinct) <= 8:
                chosen.update(dict.fromkeys(sorted(first.tolist())))
        for row in range(p.lift_stop, p.n_V):
            if len(chosen) >= FIRST_BATCH_CHECKS:
                break
            chosen.update(((lowest[row], None), (highest[row], None)))
        return list(chosen)[:FIRST_BATCH_CHECKS]


class Compiled:
    """A recorded scalar function replayed over batches; made by `compile`.

    Attributes:
        graph: the recorded example's result (a Value, or the list of Values
            the function returned): draw it like any graph, e.g.
            ``draw(step.graph)``.
        params: the parameters whose gradients are computed, in order.
        reduction: ``"sum"`` or ``"mean"``: how a batch's costs combine.
        static_y: whether targets reach the function as plain numbers.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        params: list[Value],
        reduction: str,
        static_y: bool,
        check: bool,
        x: list[float],
        y: object,
    ) -> None:
        self.fn = fn
        self.params = params
        self.reduction = reduction
        self.static_y = static_y
        self.check_first_batch = check
        self._param_index = {p: i for i, p in enumerate(params)}
        self._x = x
        self._y_width = None if y is None else (len(y) if isinstance(y, list) else 0)
        self._families: list[_Family] = []
        self._targets: dict[object, tuple[_Family, int]] = {}
        self._y = y
        roots = self._target(y)[0].base.roots
        self.graph: Value | list[Value] = roots[0] if len(roots) == 1 else roots
        self._n_roots = len(roots)
        if check:
            self._check_live_leaves()

    # -- public ---------------------------------------------------------------

    def __call__(self, X: ArrayLike, Y: ArrayLike | None = None) -> tuple[float, list[float]]:
        """``(loss, grads)`` for a batch: the reduced cost and ``∂loss/∂params[i]``.

        Nothing is written into the parameters (see `backward` for that).
        ``X`` has shape ``(batch, nin)``; ``Y`` shape ``(batch,)`` if the
        example's target was a number, ``(batch, nout)`` if a list.
        """
        loss, grads = self._run(X, Y)
        return loss, grads.tolist()

    def backward(self, X: ArrayLike, Y: ArrayLike | None = None) -> float:
        """Add the batch's gradients into each parameter's ``.grad``; return the loss.

        The same accumulation as calling ``fn(x, y).backward()`` for every
        example (with ``reduction="mean"``, each scaled by ``1/batch``), so an
        optimiser's ``zero_grad``/``step`` work unchanged.
        """
        loss, grads = self._run(X, Y)
        for p, g in zip(self.params, grads.tolist(), strict=True):
            p.grad += g
        return loss

    def forward(self, X: ArrayLike, Y: ArrayLike | None = None) -> Array:
        """Each example's result, no gradients: shape ``(batch,)``, or
        ``(batch, k)`` when the function returned k Values."""
        Xa, T = self._batch(X, Y)
        out = np.empty((Xa.shape[0], self._n_roots))
        for family, rows, table_rows in self._split(Xa, T):
            Xg, Tg = _rows(Xa, T, rows)
            V, U = self._replay(family, Xg, Tg, rows, table_rows)
            out[slice(None) if rows is None else rows] = np.stack(family.values(V, U), axis=1)
        return out[:, 0] if self._n_roots == 1 else out

    def check(self, X: ArrayLike, Y: ArrayLike | None = None) -> None:
        """Record the function on every example of a batch, eagerly, and raise
        `TracingError` at the first whose graph differs from the compiled one
        (and, first, if it differs with the parameters' values changed)."""
        Xa, T = self._batch(X, Y)
        self._check_live_leaves()
        for i in range(Xa.shape[0]):
            self._verify(Xa[i].tolist(), None if T is None else T[i].tolist(),
                         f"for the recorded example and example {i} of the batch")

    def describe(self) -> str:
        """The program(s), one instruction per line: how the graph was packed."""
        lines = []
        for family in self._families:
            p = family.program
            targets = f" (targets {len(family.keys)})" if self.static_y else ""
            lines.append(
                f"{p.n_nodes} nodes -> {len(p.instructions)} instructions{targets}: "
                f"{p.n_V} per-example rows ({p.lift_stop - p.lift_start} lifted constants), "
                f"{len(p.U_template)} batch-independent rows"
            )
            for ins in p.instructions:
                where = "per example" if ins.batched else "once"
                lines.append(f"  {ins.describe():32s} {where}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        p = self._families[0].program
        return (f"Compiled(nodes={p.n_nodes}, instructions={len(p.instructions)}, "
                f"params={len(self.params)}, reduction={self.reduction!r}, "
                f"static_y={self.static_y}, programs={len(self._families)}, "
                f"targets={len(self._targets)})")

    # -- recording targets ----------------------------------------------------

    def _target(self, y: object) -> tuple[_Family, int]:
        """The family and table row for a target, recording it the first time."""
        key = _static_key(y) if self.static_y else None
        found = self._targets.get(key)
        if found is None:
            # on the compiled example's x: only what depends on y may differ
            first = _record(self.fn, self._x, y, self.static_y)
            again = _record(self.fn, self._x, y, self.static_y)
            _compare(first, again, self._param_index, "when recorded twice on the same "
                     "example (is the function random, or does it keep state?)")
            for family in self._families:
                if family.admit(key, first, self._param_index):
                    break
            else:
                family = _Family(key, first, self.params, self.static_y, self.check_first_batch)
                self._families.append(family)
            found = self._targets[key] = (family, family.keys[key])
        return found

    def _verify(self, x: list[float], y: object, between: str) -> None:
        """Record an example and raise TracingError if it is not what its target replays."""
        family, _ = self._target(y)
        reference = family.references[_static_key(y) if self.static_y else None]
        _compare(reference, _record(self.fn, x, y, self.static_y), self._param_index, between)

    def _check_live_leaves(self) -> None:
        """Record the example again with the parameters' values changed, and compare.

        The replay reads the parameters (and other leaves from outside the
        function) live, so a graph that depends on their values (a branch
        on ``w.data``, a constant computed from it) would be replayed
        frozen. Each is moved to the other side of 0, at least 1 away
        (``p -> -(p + 1)`` for ``p >= 0``, ``-(p - 1)`` below), so a branch
        on the sign of any of them flips, then put back. If the function
        fails there (log of a negative number, its own assertion), nothing
        is learnt: the failure is the moved values', not the caller's.
        """
        family, _ = self._target(self._y)
        reference = family.references[_static_key(self._y) if self.static_y else None]
        leaves = family.program.free
        if not leaves:
            return
        held = [v.data for v in leaves]
        try:
            for v, d in zip(leaves, held, strict=True):
                v.data = -(d + 1.0) if d >= 0.0 else -(d - 1.0)
            moved = _record(self.fn, self._x, self._y, self.static_y)
        except TracingError:
            raise
        except Exception:
            return
        finally:
            for v, d in zip(leaves, held, strict=True):
                v.data = d
        _compare(reference, moved, self._param_index,
                 "when recorded again with the parameters' values changed (does it read "
                 "them, as w.data, or is it random?)",
                 "the parameters' values (or another leaf's from outside the function)")

    # -- replaying a family ---------------------------------------------------

    def _replay(
        self, family: _Family, X: Array, T: Array | None, rows: Rows | None,
        table_rows: Rows | None,
    ) -> tuple[Array, Array]:
        """``family.forward``, with its checks: the stores V and U.

        ``rows`` are the examples' positions in the whole batch (None: all
        of it), for messages.
        """
        V, U, ok = family.forward(X, T, table_rows)
        if not ok:
            self._diagnose(X, T, rows)
        if family.pending_check:
            for i in family.examples_to_check(V, T):
                self._verify_example(X, T, i, rows, "of the first batch")
            family.pending_check = False  # only once every check has run and passed
        return V, U

    def _verify_example(
        self, X: Array, T: Array | None, i: int, rows: Rows | None, batch: str
    ) -> None:
        """`_verify` example ``i``; an error from ``fn`` (a cost refusing its
        target, a domain error) is raised naming the example."""
        where = i if rows is None else int(rows[i])
        try:
            self._verify(X[i].tolist(), None if T is None else T[i].tolist(),
                         f"for the recorded example and example {where} {batch}")
        except (ValueError, ZeroDivisionError, OverflowError) as e:
            if isinstance(e, TracingError):
                raise
            raise type(e)(f"example {where} of the batch: {e}") from e

    def _diagnose(self, X: Array, T: Array | None, rows: Rows | None) -> None:
        """A value left the engine's domain: find the example and raise the engine's error.

        numpy turns what the engine refuses (log of a negative number, an
        overflow) into nan or inf, so the examples are rerun eagerly to raise
        the engine's own error. If none raises and each graph is the recorded
        one, the non-finite values are the engine's too.
        """
        for i in range(X.shape[0]):
            self._verify_example(X, T, i, rows, "of the batch")

    # -- the replay -----------------------------------------------------------

    def _batch(self, X: ArrayLike, Y: ArrayLike | None) -> tuple[Array, Array | None]:
        Xa = _as_matrix(X, "X")
        if Xa.ndim != 2 or Xa.shape[1] != len(self._x) or Xa.shape[0] == 0:
            raise ValueError(
                f"compile: X must have shape (batch, {len(self._x)}) with batch >= 1, "
                f"got shape {Xa.shape}"
            )
        batch = Xa.shape[0]
        if self._y_width is None:
            if Y is not None:
                raise TypeError("compile: the function was compiled without a target; pass no Y")
            return Xa, None
        if Y is None:
            raise TypeError(f"compile: Y is missing: pass the batch's {batch} targets")
        T = _as_matrix(Y, "Y")
        expected = (batch,) if self._y_width == 0 else (batch, self._y_width)
        if T.shape != expected:
            raise ValueError(f"compile: Y must have shape {expected} for this X, got {T.shape}")
        return Xa, T

    def _split(
        self, X: Array, T: Array | None
    ) -> list[tuple[_Family, Rows | None, Rows | None]]:
        """Each family's examples (None: all) and their rows of lifted constants."""
        if not self.static_y or T is None:
            return [(self._families[0], None, None)]
        if T.ndim == 1:
            distinct, which = np.unique(T, return_inverse=True)
        else:
            distinct, which = np.unique(T, axis=0, return_inverse=True)
        entries = [self._target(target.tolist()) for target in distinct]
        families = list({id(f): f for f, _ in entries}.values())
        table_rows = np.array([row for _, row in entries])[which.reshape(-1)]
        if len(families) == 1:
            return [(families[0], None, table_rows)]
        family_of = np.array([families.index(f) for f, _ in entries])[which.reshape(-1)]
        parts: list[tuple[_Family, Rows | None, Rows | None]] = []
        for k, family in enumerate(families):
            rows = np.flatnonzero(family_of == k)
            parts.append((family, rows, table_rows[rows]))
        return parts

    def _run(self, X: ArrayLike, Y: ArrayLike | None) -> tuple[float, Array]:
        if self._n_roots != 1:
            raise TypeError(
                f"compile: the function returned {self._n_roots} Values; "
                "a loss and its gradients need it to return one"
            )
        Xa, T = self._batch(X, Y)
        batch = Xa.shape[0]
        mean = self.reduction == "mean"
        seed = 1.0 / batch if mean else 1.0
        loss = 0.0
        grads = None
        for family, rows, table_rows in self._split(Xa, T):
            Xg, Tg = _rows(Xa, T, rows)
            V, U = self._replay(family, Xg, Tg, rows, table_rows)
            loss += float(family.values(V, U)[0].sum())
            g = family.gradients(V, U, seed)
            grads = g if grads is None else grads + g
        assert grads is not None  # _split gives at least one part
        return (loss / batch if mean else loss), grads


def _rows(X: Array, T: Array | None, rows: Rows | None) -> tuple[Array, Array | None]:
    if rows is None:
        return X, T
    return X[rows], None if T is None else T[rows]


def _static_key(y: object) -> object:
    """A hashable key for a static target: its numbers, and whether each is an int."""
    if isinstance(y, list):
        return tuple(_static_key(v) for v in y)
    return (isinstance(y, numbers.Integral), float(y))  # type: ignore[arg-type]


def _as_matrix(A: ArrayLike, name: str) -> Array:
    try:
        M = np.asarray(A)
        if M.dtype.kind not in "biuf":
            raise TypeError(f"dtype {M.dtype}")
        if M.dtype.kind == "b":
            M = M.astype(np.float64)
    except (TypeError, ValueError) as e:
        raise TypeError(f"compile: {name} must be an array of numbers ({e})") from None
    if not np.isfinite(M).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(M))[0])
        raise ValueError(f"compile: {name}{list(bad)} is {float(M[bad])!r}; batches must be finite")
    return M.astype(np.float64, copy=False) if name == "X" else M


def compile(
    fn: Callable[..., Any],
    example_x: Sequence[float],
    example_y: object = None,
    *,
    params: Sequence[Value] = (),
    reduction: str = "sum",
    static_y: bool = False,
    check: bool = True,
) -> Compiled:
    """Record ``fn`` on one example; return a `Compiled` that replays it on batches.

    ``fn(x, y)`` builds ONE example's cost from Values: ``x`` is a list of
    ``len(example_x)`` Values; ``y`` is a Value if ``example_y`` is a
    number, a list of Values if it is a list, and there is no ``y``
    argument at all if ``example_y`` is None. ``params`` are the leaves
    whose gradients are wanted (e.g. ``net.parameters()``); any other leaf
    ``fn`` reads is replayed with its current ``.data``. ``reduction``
    combines a batch's costs: ``"sum"`` (what the eager engine accumulates
    over examples) or ``"mean"``.

        >>> w = Value(0.5)
        >>> step = compile(lambda x, y: (w * x[0] - y) ** 2, [1.0], 0.0, params=[w])
        >>> step([[1.0], [2.0]], [0.0, 1.0])
        (0.25, [1.0])

    ``static_y=True`` passes each target to ``fn`` as the plain number
    (or list) it is, as JAX's static arguments: one tape is recorded per
    distinct target, so costs that check or branch on the target work
    (``losses.hinge`` with labels -1/+1, class indices, one-hot lists).
    For continuous targets use Value targets (the default).

    The tracing rule: only operations on Values are recorded; Python
    control flow that looks at values would be frozen at the example, so
    it is refused with `TracingError`. Inside ``fn``, making a number of a
    Value (``float(v)``, ``int(v)``, ``v.item()``, a comparison,
    ``format(v, spec)``) raises at once. ``fn`` is recorded twice on the
    example (randomness, nodes built outside ``fn``) and, if ``check``,
    once more with every parameter (and other leaf from outside ``fn``)
    moved to the other side of 0 for that one recording, then put back (a
    branch on, or a number from, ``p.data``), and on the first batch, up
    to ``FIRST_BATCH_CHECKS``
    of its examples (all of a small batch, else those holding each input's,
    target's and node's smallest and largest value) are recorded again;
    any difference raises `TracingError` (`Compiled.check` checks a whole
    batch). Needs numpy (the ``fast`` extra).
    """
    _ensure_numpy()
    if not callable(fn):
        raise TypeError(f"compile: fn must be callable, got {type(fn).__name__}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"compile: reduction must be 'sum' or 'mean', got {reduction!r}")
    if isinstance(params, Value):
        raise TypeError("compile: params must be a list of Values, got one Value")
    params = list(params)
    seen: set[Value] = set()
    for i, p in enumerate(params):
        if type(p) is not Value:
            raise TypeError(f"compile: params[{i}] is {type(p).__name__}, not a Value")
        if p.parents:
            raise ValueError(
                f"compile: params[{i}] ({_name(p)}) is computed from other Values; "
                "parameters must be leaves"
            )
        if p in seen:
            raise ValueError(f"compile: params[{i}] ({_name(p)}) appears more than once")
        seen.add(p)
    x = _example(example_x, "example_x")
    y: object = example_y
    if example_y is not None:
        if not hasattr(example_y, "__len__"):
            y = _example([example_y], "example_y")[0]
            if static_y and isinstance(example_y, numbers.Integral):
                y = int(example_y)  # a class index stays an int
        else:
            y = _example(example_y, "example_y")
            if static_y:
                y = [int(v) if isinstance(v, numbers.Integral) else float(v)
                     for v in example_y]  # type: ignore[attr-defined]
    return Compiled(fn, params, reduction, static_y, check, x, y)
