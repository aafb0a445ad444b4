"""Recording a function on one example, and comparing two recordings.

`_record` runs the user's function on fresh Values and keeps its graph (the
engine keeps every node's operands as written, numbers included, so the
graph is the whole program). Two recordings are the same program when their
signatures are equal: each node's operation, operands by position and
constants. What a recording may depend on, and so what `compile` compares,
is said in `microgrid.compile` (the tracing rule). No numpy here: the
errors are importable without it.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Union

from microgrid.engine import OPS, Value, topological_order, watch_reads

FIRST_BATCH_CHECKS = 32
"""How many examples of the first batch `compile` records again and compares (``check``)."""


class TracingError(ValueError):
    """The function cannot be replayed: its graph depends on the data.

    Raised when two recordings of the same function differ (different
    operations, or a constant that came from an example's values), or when
    the graph uses nodes built outside the function.
    """


TracingError.__module__ = "microgrid.compiler"  # where users import it from


# -- recording ----------------------------------------------------------------


@dataclass
class _Recording:
    """One run of the user's function on Values, with everything the tape needs."""

    roots: list[Value]
    order: list[Value]
    inputs: list[Value]
    targets: list[Value]
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

    with watch_reads(refuse):
        result = fn(*args)
    if reads:  # raised inside fn, and fn caught it
        raise TracingError(reads[0])
    roots = _roots(result)
    if len(roots) == 1:
        return _Recording(roots, topological_order(roots[0]), inputs, targets)
    order: list[Value] = []
    seen: set[Value] = set()
    for root in roots:
        if root in seen:  # (a cost's outputs, returned beside it: sorted with it already)
            continue
        for node in topological_order(root):
            if node not in seen:
                seen.add(node)
                order.append(node)
    return _Recording(roots, order, inputs, targets)


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


def operands_of(node: Value) -> tuple[Any, ...]:
    """The node's operands as written, numbers included (``OPS[node.op].operands``)."""
    spec = OPS.get(node.op)
    if spec is None:
        raise TracingError(f"compile: {_name(node)} was made by no operation of "
                           "microgrid.engine.OPS, so it cannot be replayed")
    return spec.operands(node)


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
"""Where a constant sits in a node's `operands_of` (None: a leaf's own data)."""

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
            ((), operands_of(na), operands_of(nb))
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
        signature.append((node.op, tuple(map(position, node.parents)),
                          None if node.operands is None else _plain(operands_of(node), index)))
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
    found: Any = operands_of(node)
    for k in path:
        found = found[k]
    return float(found)
