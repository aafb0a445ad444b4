"""Derivatives of derivatives: `grad`, `hessian`, `hvp`, `jacobian`.

`grad(output, inputs)` walks the same reverse topological order as
`Value.backward`, but keeps what it computes to itself (no ``.grad`` is
touched) and, with ``create_graph=True``, accumulates **Values** instead of
floats: each local derivative is built as a Value from its operation's spec
(`microgrid.engine.OPS`: tanh's ``1 - t*t`` with ``t`` the node itself, the
other operand of a product, a linear node's inputs for its weights), and the
contributions into one node are summed as one node (a `sum_of`, or a `linear`
node of their products: BP2's ``w^T δ``). The result is an
ordinary graph, made of the engine's operations: it can be differentiated
again (any number of times), drawn, and compiled.

    >>> from microgrid import Value
    >>> x = Value(2.0)
    >>> (dx,) = grad(x ** 3, [x], create_graph=True)    # 3 x**2, as a graph
    >>> (d2x,) = grad(dx, [x], create_graph=True)       # 6 x
    >>> dx.data, d2x.data, grad(d2x, [x])[0].data       # and 6
    (12.0, 12.0, 6.0)

`hessian`, `hvp` and `jacobian` are built on it, reverse over reverse.

The pass names the nodes it builds where the graph it walks is named in the
book's notation (`MLP.trace` labels every ``z`` and ``a``): a local
derivative of ``σ`` at ``z^2_1`` is labelled ``σ'(z^2_1)``, and when the
output is labelled ``C``, the derivative with respect to ``z^l_j`` is
``δ^l_j`` and with respect to any other labelled node ``∂C/∂(label)``: so
``draw(grad(C, [w])[0])`` draws BP1-BP4 node by node.

This module builds on the engine only (`microgrid.engine`), as `nn` does.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable, Sequence
from typing import Any

from microgrid._checks import quote, real
from microgrid.engine import (
    _NOT_RECORDED,
    OPS,
    OpSpec,
    Scalar,
    Value,
    _check_graph,
    _describe,
    _exactly_infinite,
    _Recorded,
    is_anomaly_enabled,
    is_grad_enabled,
    linear,
    sum_of,
    topological_order,
)

__all__ = ["grad", "hessian", "hvp", "jacobian", "local_derivatives"]

_INF = math.inf

# A node as `MLP.trace` labels a weighted input: z^l_j, or "z^l_j = a^l_j" for
# a linear neuron (whose a is its z).
_Z_LABEL = re.compile(r"z\^(\d+)_(\d+)(?: = a\^\d+_\d+)?")


# -- checking what was given ------------------------------------------------------


def _output(output: object, who: str) -> Value:
    if not isinstance(output, Value):
        raise TypeError(f"{who}: output must be a Value, got {type(output).__name__} "
                        f"{quote(output)}")
    if not output.parents and output.local_grads is _NOT_RECORDED:
        raise RuntimeError(
            f"{who}: the output (the result of {output.op!r}, {output.data!r}) was computed "
            "under no_grad(), so its graph was not recorded: there is nothing to "
            "differentiate. Compute it outside no_grad()."
        )
    return output


def _inputs(inputs: object, who: str) -> list[Value]:
    if isinstance(inputs, Value):
        raise TypeError(f"{who}: inputs must be a list of Values, got one Value; "
                        "write [x] for a single input")
    if isinstance(inputs, (str, bytes)) or not isinstance(inputs, Sequence):
        unordered = " (a set has no order: the results follow the inputs')" if isinstance(
            inputs, (set, frozenset)) else ""
        raise TypeError(f"{who}: inputs must be a list of Values{unordered}, got "
                        f"{type(inputs).__name__} {quote(inputs)}")
    xs = list(inputs)
    for i, x in enumerate(xs):
        if not isinstance(x, Value):
            raise TypeError(f"{who}: inputs[{i}] must be a Value, got {type(x).__name__} "
                            f"{quote(x)}")
    return xs


def _flag(value: object, name: str, who: str) -> bool:
    if type(value) is not bool:
        raise TypeError(f"{who}: {name} must be True or False, got {type(value).__name__} "
                        f"{quote(value)}")
    return value


# -- grad ----------------------------------------------------------------------------


def grad(
    output: Value, inputs: Sequence[Value], *, create_graph: bool = False, seed: float = 1.0
) -> list[Value]:
    """The derivatives of ``output`` with respect to each of ``inputs``, as Values.

    As ``torch.autograd.grad``: no ``.grad`` is read or written. ``inputs``
    are any nodes of the graph (leaves or not); one the output does not
    depend on gets 0. ``seed`` multiplies every derivative (the output's
    own derivative, 1 by default).

    Without ``create_graph`` the results are new leaves holding the numbers
    `Value.backward` would put in ``.grad`` (exactly: the same operations in
    the same order, with its checks: a nan or overflowed derivative raises,
    naming the step at fault; an exact infinity such as ``sqrt'(0)`` is
    handed over; inside `detect_anomaly` every step is checked).

    With ``create_graph=True`` each result is a node of a new graph that
    depends on the inputs (made of the engine's operations, each result a
    node of its own), so it can be differentiated again, drawn or compiled.
    Its numbers equal the float pass's up to rounding (the contributions
    into a node are summed as one node, a `sum_of` or a `linear` node of
    their products, which round as the built-in ``sum``). Every node is
    built by the engine, so its forward checks apply (an overflow raises);
    a local derivative that is not a finite number
    (``sqrt'(0) = +inf``) has no graph, and raises ValueError naming its
    node. A node whose derivative is 0 at this point still passes it on
    (its derivative's derivative need not be 0); only a derivative that is
    0 everywhere (the dead side of a ReLU, a constant) is left out.

        >>> from microgrid import Value
        >>> x, y = Value(3.0), Value(-2.0)
        >>> [g.data for g in grad(x * y + x, [x, y])]
        [-1.0, 3.0]
        >>> dx, dy = grad(x * x * y, [x, y], create_graph=True)
        >>> [g.data for g in grad(dx, [x, y])]            # 2y and 2x
        [-4.0, 6.0]

    A wrong type raises TypeError (an output or an input that is not a
    Value), a non-finite ``seed`` ValueError, an output computed under
    `no_grad` RuntimeError, as does ``create_graph=True`` inside `no_grad`
    (nothing would be recorded).
    """
    root = _output(output, "grad")
    xs = _inputs(inputs, "grad")
    s = real(seed, "seed", who="grad")
    building = _flag(create_graph, "create_graph", "grad")
    if building and not is_grad_enabled():
        raise RuntimeError("grad: create_graph=True inside no_grad() would record nothing; "
                           "call grad outside no_grad()")
    order = topological_order(root)
    if is_anomaly_enabled():
        _checked_graph(order, "grad")
    needed = _depending_on(order, xs)
    if not building:
        grads = _float_pass(_plan(order, needed), needed, root, s, xs)
        return [Value(grads.get(x, 0.0)) for x in xs]
    original = set(order)
    value_grads = _value_pass(order, needed, s, set(xs), original, _namer(root))
    return _results([value_grads.get(x, 0.0) for x in xs], original)


def _depending_on(order: list[Value], xs: list[Value]) -> set[Value]:
    """The nodes of ``order`` that depend on some of ``xs`` (the inputs included):
    only their derivatives lead to an input's."""
    needed = set(xs)
    add = needed.add
    for node in order:
        if node.parents and not needed.isdisjoint(node.parents):
            add(node)
    return needed


def _checked_graph(order: list[Value], who: str) -> None:
    """`detect_anomaly`'s checks of the graph (nan, data changed since it was built)."""
    try:
        _check_graph(order)
    except (ValueError, RuntimeError) as e:
        raise type(e)(str(e).replace("backward:", f"{who}:", 1)) from None


def _results(grads: list[Scalar], original: set[Value]) -> list[Value]:
    """Each derivative as a node of its own: a number as a new leaf, and a node of
    the graph walked (``∂(x*y)/∂x`` is ``y``) or one given twice as a one-term sum."""
    out: list[Value] = []
    given: set[Value] = set()
    for g in grads:
        if not isinstance(g, Value):
            out.append(Value(g))
            continue
        if g in original or g in given:
            g = sum_of([g])
        given.add(g)
        out.append(g)
    return out


# -- the float pass: backward's, into a dict -------------------------------------------


_Plan = list[tuple[Value, tuple[tuple[Value, float], ...]]]


def _plan(order: list[Value], needed: set[Value]) -> _Plan:
    """The steps of a float pass, in backward's order: each interior node that leads to
    an input, with its ``(parent, local derivative)`` pairs for the parents that do."""
    return [(node, tuple([(p, local) for p, local in zip(node.parents, node.local_grads)
                          if p in needed]))
            for node in reversed(order) if node.parents and node in needed]


def _float_pass(
    plan: _Plan, needed: set[Value], root: Value, seed: float, xs: list[Value]
) -> dict[Value, float]:
    """``∂root/∂node`` for the nodes that lead to an input, as backward computes them
    (``plan`` may hold other nodes too: those ``root`` does not reach pass nothing)."""
    if root not in needed:
        return {}
    grads = {root: seed}
    get = grads.get
    checking = is_anomaly_enabled()
    if not checking:
        for node, edges in plan:
            g = get(node)
            if not g:
                continue  # not reached, or 0: passes nothing on, as in backward (no 0 * inf)
            for parent, local in edges:
                grads[parent] = get(parent, 0.0) + local * g
        if -_INF < sum([get(x, 0.0) for x in xs], 0.0) < _INF:  # nan and inf show in it
            return grads
    return _checked_float_pass(plan, needed, root, seed, exact_infinities=not checking)


def _checked_float_pass(
    plan: _Plan, needed: set[Value], root: Value, seed: float, exact_infinities: bool
) -> dict[Value, float]:
    """`_float_pass` again, checking each step; raises at the first one at fault
    (backward's rules: see `Value.backward`)."""
    grads = {root: seed}
    get = grads.get
    source: dict[Value, Value] = {}  # an exact infinity's derivative -> the node that made it
    for node, _ in plan:
        g = get(node, 0.0)
        if g == 0.0:
            continue
        for i, (parent, local) in enumerate(zip(node.parents, node.local_grads)):
            if parent not in needed:
                continue
            c = local * g
            if not -_INF < c < _INF:
                _refuse_step(node, i, local, g, source, exact_infinities)
                source.setdefault(parent, source.get(node, node))
            held = get(parent, 0.0)
            total = held + c
            if not -_INF < total < _INF:
                _refuse_sum(parent, held, c, node, source)
            grads[parent] = total
    return grads


def _advice(node: Value) -> str:
    if not is_anomaly_enabled():
        return " Inside microgrid.detect_anomaly(), grad names the line that built each node."
    if not isinstance(node.local_grads, _Recorded):
        return " (This node was built outside detect_anomaly(): its line is not known.)"
    return ""


def _refuse_step(
    node: Value, i: int, local: float, g: float, source: dict[Value, Value],
    exact_infinities: bool,
) -> None:
    """Raise unless ``local * g``, not finite, is an exact infinity that may pass."""
    at = f"grad: a non-finite derivative at {_describe(node)}: "
    wrt = f"with respect to parents[{i}], {_describe(node.parents[i])},"
    if local != local:
        raise ValueError(f"{at}its local derivative {wrt} is nan.{_advice(node)}")
    if not -_INF < g < _INF:  # an exact infinity from the output's side
        if local == 0.0:
            raise ValueError(
                f"{at}its derivative is {g!r} (an exact infinity, from "
                f"{_describe(source.get(node, node))}) and its local derivative {wrt} "
                f"is 0: the chain rule gives 0 * inf = nan.{_advice(node)}"
            )
        return
    if -_INF < local < _INF:
        raise OverflowError(f"{at}its derivative {g!r} times its local derivative {wrt} "
                            f"{local!r}, overflows a float.{_advice(node)}")
    why = _exactly_infinite(node, i)
    if why is None:
        raise OverflowError(
            f"{at}its local derivative {wrt} overflowed to {local!r} when the node was "
            "computed: the true derivative is finite but past the float range, so this "
            f"derivative cannot be given (rescale the computation).{_advice(node)}"
        )
    if not exact_infinities:
        raise ValueError(
            f"{at}its local derivative {wrt} is {local!r}, exactly ({why}); outside "
            f"detect_anomaly(), grad hands this infinity over.{_advice(node)}"
        )


def _refuse_sum(
    parent: Value, held: float, c: float, node: Value, source: dict[Value, Value]
) -> None:
    """Raise unless ``held + c``, not finite, is an exact infinity."""
    at = f"grad: a non-finite derivative at {_describe(parent)}: the derivatives "
    if held + c != held + c:
        raise ValueError(
            f"{at}{held!r} (from {_describe(source.get(parent, parent))}) and {c!r} (from "
            f"{_describe(source.get(node, node))}) meet there, exact infinities each, and "
            f"their sum is nan.{_advice(parent)}"
        )
    if -_INF < c < _INF and -_INF < held < _INF:
        raise OverflowError(f"{at}flowing into it add up past the float range ({held!r} + "
                            f"{c!r}, the latter from {_describe(node)}).{_advice(parent)}")


# -- the Value pass: the same walk, building the derivatives as a graph --------------


def local_derivatives(node: Value) -> list[Scalar]:
    """``∂node/∂parent`` for each of ``node.parents``, as Values (numbers where constant).

    Built from the spec of the node's operation (``OPS[node.op].value_derivatives``);
    their data are ``node.local_grads``. A leaf has none.

        >>> from microgrid import Value
        >>> t = Value(0.5).tanh()
        >>> (d,) = local_derivatives(t)       # 1 - t*t, a node built from t
        >>> d.data == t.local_grads[0], d.op
        (True, '-')
    """
    if not isinstance(node, Value):
        raise TypeError(f"local_derivatives: expected a Value, got {type(node).__name__}")
    locals_ = _local_values(node, None)
    return [local for local in locals_ if local is not None]


def _spec(node: Value) -> OpSpec:
    spec = OPS.get(node.op)
    if spec is None or not spec.value_derivatives:
        raise ValueError(
            f"grad: {_describe(node)} was made by the operation {node.op!r}, whose "
            "derivatives as Values microgrid.engine.OPS does not give"
        )
    return spec


def _local_values(node: Value, needed: set[Value] | None) -> list[Scalar | None]:
    """The local derivative for each parent as a Value or a number, None for a parent
    not in ``needed`` (not built: a logsumexp's term builds two nodes)."""
    if not node.parents:
        return []
    spec = _spec(node)
    operands = spec.operands(node)
    out: list[Scalar | None] = []
    for operand, d in zip(operands, spec.value_derivatives, strict=True):
        if type(operand) is Value:
            wanted = needed is None or operand in needed
            out.append((d(node, *operands) if callable(d) else d) if wanted else None)
        elif isinstance(operand, (tuple, list)):  # the items of an n-ary node's operand
            each = d(node, *operands) if callable(d) else [d] * len(operand)
            out += [di if needed is None or o in needed else None
                    for o, di in zip(operand, each, strict=True) if type(o) is Value]
    return out


def _value_pass(
    order: list[Value],
    needed: set[Value],
    seed: float,
    keep: set[Value] | None,
    original: set[Value],
    name: Callable[[Value], str] | None,
) -> dict[Value, Scalar]:
    """``∂root/∂node`` as Values (numbers where constant) for the nodes in ``keep``
    (all if None), built from the nodes' local derivatives as Values; ``name``
    labels the derivatives it builds of labelled nodes (of the graph walked,
    ``original``)."""
    root = order[-1]
    if root not in needed:
        return {}
    # Each node's contributions, gathered as (local derivative, consumer's derivative)
    # pairs and summed once, as one node, when the walk reaches it.
    pending: dict[Value, list[tuple[Scalar, Scalar]]] = {root: [(1.0, seed)]}
    grads: dict[Value, Scalar] = {}
    for node in reversed(order):
        pairs = pending.pop(node, None)
        if pairs is None:
            continue
        try:
            g = _total(pairs)
            if (name is not None and node.label and type(g) is Value and not g.label
                    and g not in original):
                g.label = name(node)
            if keep is None or node in keep:
                grads[node] = g
            if not node.parents or (type(g) is not Value and g == 0.0):
                continue
            for parent, local in zip(node.parents, _checked_locals(node, needed)):
                if local is None or (type(local) is not Value and local == 0.0):
                    continue  # not asked for, or 0 everywhere around here: adds nothing
                pending.setdefault(parent, []).append((local, g))
        except (ValueError, OverflowError, ZeroDivisionError) as e:
            if str(e).startswith("grad"):
                raise
            raise type(e)(f"grad: building the derivative at {_describe(node)}: {e}") from e
    return grads


def _checked_locals(node: Value, needed: set[Value]) -> list[Scalar | None]:
    """`_local_values`, refusing a local derivative that is not a finite number (no
    graph of finite numbers gives it), and naming what a unary op's new node is."""
    for i, (parent, local) in enumerate(zip(node.parents, node.local_grads)):
        if not -_INF < local < _INF and parent in needed:
            _refuse_infinite_local(node, i, local)
    locals_ = _local_values(node, needed)
    if len(node.parents) == 1 and node.parents[0].label:
        (d,) = locals_
        if type(d) is Value and d is not node and d is not node.parents[0] and not d.label:
            d.label = f"{OPS[node.op].label}'({_book_label(node.parents[0].label)})"
    return locals_


def _refuse_infinite_local(node: Value, i: int, local: float) -> None:
    wrt = f"with respect to parents[{i}], {_describe(node.parents[i])},"
    if local != local:
        raise ValueError(f"grad: the local derivative of {_describe(node)} {wrt} is nan")
    why = _exactly_infinite(node, i)
    if why is None:
        raise OverflowError(
            f"grad: the local derivative of {_describe(node)} {wrt} overflowed to {local!r} "
            "when the node was computed (the true one is finite but past the float range); "
            "rescale the computation"
        )
    raise ValueError(
        f"grad: the local derivative of {_describe(node)} {wrt} is {local!r}, exactly "
        f"({why}): with create_graph=True every local derivative is built as a node, and "
        "no node holds this one (its derivative does not exist here). "
        "grad(create_graph=False) and backward() hand the infinity over."
    )


def _total(pairs: list[tuple[Scalar, Scalar]]) -> Scalar:
    """``sum local * g`` over a node's contributions, as one node: the only term
    (``g`` itself where ``local`` is 1), one `sum_of` where every term passes with
    a factor 1, else one `linear` node (BP2's ``sum_j w_jk δ_j`` for an ``a``);
    numbers where everything is a number. Terms in the order their consumers were
    built (the walk met them last first)."""
    factors: list[Scalar] = []  # a term is factors[i] * values[i], values[i] a Value
    values: list[Value] = []
    constant: float = 0.0
    for local, g in reversed(pairs):
        if isinstance(g, Value):
            factors.append(local)
            values.append(g)
        elif isinstance(local, Value):
            factors.append(g)
            values.append(local)
        else:
            constant += local * g
    if not values:
        return constant
    if all(type(f) is not Value and f == 1.0 for f in factors):
        if len(values) == 1 and constant == 0.0:
            return values[0]
        return sum_of([*values, constant] if constant else values)
    if len(values) == 1 and constant == 0.0:
        (f,), (v,) = factors, values
        if type(f) is Value:
            return f * v  # both nodes: BP4's a δ, the local derivative first
        return -v if f == -1.0 else v * f  # a node times a number draws as "× c"
    return linear(factors, values, constant)


def _book_label(label: str) -> str:
    """A node's label up to " = " (``z^3_1`` of a linear neuron's ``z^3_1 = a^3_1``)."""
    return label.split(" = ", 1)[0]


def _namer(root: Value) -> Callable[[Value], str] | None:
    """How the pass labels the derivative of a labelled node: by the output's label,
    ``δ^l_j`` for ``z^l_j`` when the output is the book's cost ``C``; None (no labels)
    for an unlabelled output or one that is itself a derivative."""
    c = root.label
    if not c or "∂" in c or "δ" in c:
        return None

    def name(node: Value) -> str:
        z = _Z_LABEL.fullmatch(node.label)
        if z is not None and c == "C":
            return f"δ^{z[1]}_{z[2]}"
        return f"∂{c}/∂{_book_label(node.label)}"

    return name


def _backward_with_graph(root: Value, seed: object, create_graph: object) -> dict[Value, Value]:
    """`Value.backward(create_graph=True)`: the float pass into ``.grad``, and every
    node's derivative as a Value, returned."""
    _flag(create_graph, "create_graph", "backward")
    s = real(seed, "grad", who="backward")
    _output(root, "backward")
    if not is_grad_enabled():
        raise RuntimeError("backward: create_graph=True inside no_grad() would record "
                           "nothing; call backward outside no_grad()")
    order = topological_order(root)
    if is_anomaly_enabled():
        _checked_graph(order, "backward")
    # The graph first: if it cannot be built, nothing has changed.
    original = set(order)
    value_grads = _value_pass(order, original, s, None, original, _namer(root))
    root.backward(s)
    grads = _results([value_grads.get(node, 0.0) for node in order], original)
    return dict(zip(order, grads, strict=True))


# -- reverse over reverse ------------------------------------------------------------


def _leaves(f: object, xs: object, who: str) -> list[Value]:
    """The Values ``f`` is called with: those given, and new leaves for numbers."""
    if not callable(f):
        raise TypeError(f"{who}: f must be callable, got {type(f).__name__} {quote(f)}")
    if isinstance(xs, (str, bytes, Value)) or not isinstance(xs, Sequence):
        raise TypeError(f"{who}: xs must be a list of numbers or Values, got "
                        f"{type(xs).__name__} {quote(xs)}")
    if not xs:
        raise ValueError(f"{who}: xs is empty; give at least one number")
    leaves = []
    for i, x in enumerate(xs):
        if isinstance(x, Value):
            leaves.append(x)
        elif isinstance(x, bool) or not isinstance(x, numbers.Real):
            raise TypeError(f"{who}: xs[{i}] must be a number or a Value, got "
                            f"{type(x).__name__} {quote(x)}")
        else:
            leaves.append(Value(real(x, f"xs[{i}]", who=who)))
    return leaves


def _scalar(out: object, who: str) -> Value:
    if not isinstance(out, Value):
        raise TypeError(f"{who}: f must return a Value, got {type(out).__name__} {quote(out)}")
    return out


def _rows(outputs: list[Value], xs: list[Value]) -> list[list[float]]:
    """``grad(output, xs)`` as floats for each output: one walk of their graphs together
    (the derivatives of a gradient's entries share most of their nodes), each output's
    pass running through it from its own node."""
    stand_in = Value(0.0)  # a node reading every output, only to order their graphs
    stand_in.parents = tuple(outputs)
    order = topological_order(stand_in)[:-1]
    if is_anomaly_enabled():
        _checked_graph(order, "grad")
    needed = _depending_on(order, xs)
    plan = _plan(order, needed)
    rows = []
    for output in outputs:
        grads = _float_pass(plan, needed, output, 1.0, xs)
        rows.append([grads.get(x, 0.0) for x in xs])
    return rows


def hessian(f: Callable[[list[Value]], Value], xs: Sequence[float | Value]) -> list[list[float]]:
    """The matrix of second derivatives ``H[i][j] = ∂²f/∂x_i∂x_j`` at ``xs``, as lists.

    ``f`` takes a list of Values (one per entry of ``xs``) and returns a
    Value. A number in ``xs`` becomes a new leaf; a Value is passed as it
    is (so ``hessian(lambda ps: cost(), net.parameters())`` differentiates
    a network's cost with respect to its parameters), and its ``.grad`` is
    not touched.

    Reverse over reverse: one `grad` with ``create_graph=True`` gives the
    gradient as a graph, then a float pass from each ``∂f/∂x_i`` gives row
    ``i`` (the ``n`` passes walk the gradient's graphs together: they share
    most of their nodes). ``H`` is symmetric by construction: the entries
    below the diagonal are those above it (``H[j][i]`` is ``H[i][j]``, read
    from row ``i`` for ``j >= i``). Computed apart they would differ by
    rounding only: mixed partials are equal wherever the second derivatives
    are continuous (Schwarz's theorem), and the pass differentiates the
    smooth piece the point is on (relu and abs are linear on each side of
    their kinks, their derivatives constants).

        >>> hessian(lambda x: x[0] ** 2 * x[1], [3.0, 2.0])   # [[2y, 2x], [2x, 0]]
        [[4.0, 6.0], [6.0, 0.0]]
    """
    leaves = _leaves(f, xs, "hessian")
    out = _scalar(f(leaves), "hessian")
    rows = _rows(grad(out, leaves, create_graph=True), leaves)
    n = len(leaves)
    return [[rows[min(i, j)][max(i, j)] for j in range(n)] for i in range(n)]


def hvp(
    f: Callable[[list[Value]], Value], xs: Sequence[float | Value], v: Sequence[float]
) -> list[float]:
    """The Hessian of ``f`` at ``xs`` times the vector ``v``, without forming the Hessian.

    ``∇(∇f · v)``: one `grad` with ``create_graph=True``, its dot product
    with ``v`` as one `linear` node, and one more pass: the cost of two
    gradients, whatever the number of inputs. ``f`` and ``xs`` as in
    `hessian`; ``v`` holds one finite number per input.

        >>> hvp(lambda x: x[0] ** 2 * x[1], [3.0, 2.0], [1.0, 0.0])   # H's first column
        [4.0, 6.0]
    """
    leaves = _leaves(f, xs, "hvp")
    if isinstance(v, (str, bytes, Value)) or not isinstance(v, Sequence):
        raise TypeError(f"hvp: v must be a list of numbers, got {type(v).__name__} {quote(v)}")
    if len(v) != len(leaves):
        raise ValueError(f"hvp: v has {len(v)} entries and xs {len(leaves)}; they must match")
    direction = [real(vi, f"v[{i}]", who="hvp") for i, vi in enumerate(v)]
    out = _scalar(f(leaves), "hvp")
    first = grad(out, leaves, create_graph=True)
    return _rows([linear(first, direction)], leaves)[0]


def jacobian(
    f: Callable[[list[Value]], Sequence[Value] | Value], xs: Sequence[float | Value]
) -> list[list[float]]:
    """The matrix ``J[i][j] = ∂f_i/∂x_j`` of a function with several outputs, as lists.

    ``f`` takes a list of Values and returns a list of Values (one row
    each; a single Value gives one row). ``xs`` as in `hessian`. One
    reverse pass per output.

        >>> jacobian(lambda x: [x[0] * x[1], x[0] + 2 * x[1]], [3.0, 2.0])
        [[2.0, 3.0], [1.0, 2.0]]
    """
    leaves = _leaves(f, xs, "jacobian")
    outs: Any = f(leaves)
    if isinstance(outs, Value):
        outs = [outs]
    if isinstance(outs, (str, bytes)) or not isinstance(outs, Sequence):
        raise TypeError(f"jacobian: f must return a list of Values, got "
                        f"{type(outs).__name__} {quote(outs)}")
    for i, out in enumerate(outs):
        if not isinstance(out, Value):
            raise TypeError(f"jacobian: f's output [{i}] must be a Value, got "
                            f"{type(out).__name__} {quote(out)}")
    return _rows(list(outs), leaves)
