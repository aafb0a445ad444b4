"""Gradient checking: the engine's gradients against central finite differences.

`gradcheck` evaluates a scalar function ``f`` of some inputs, runs
``backward()`` to get the analytic gradient, and compares each entry with
the central difference

    numeric_i = (f(x + h e_i) - f(x - h e_i)) / (2h)

whose error is ``O(h^2)`` for a smooth ``f``. It reports the worst entry.

Kinks
-----
``relu`` and ``abs`` are not differentiable at 0 (the ``kinks`` of their
specs in `microgrid.engine.OPS`, which this module reads). The engine uses
``relu'(0) = abs'(0) = 0`` (as PyTorch does), while a central difference
whose stencil ``[x - h, x + h]`` straddles the kink measures the average of
the two one-sided slopes (``0.5`` for ``relu(x)`` at 0): neither is wrong,
they answer different questions, so comparing them would report a false
failure. Such entries are **skipped** and listed with the reason:
`gradcheck` re-runs ``f`` at ``x - h e_i`` and ``x + h e_i`` and skips entry
``i`` when the argument of any node with a kink crosses it (or is at it)
across the three points. A one-sided difference on the smooth side would
check them, but its ``O(h)`` error needs a tolerance about ``1/h`` times
looser than the central one, which would hide real mistakes elsewhere; we
prefer to say plainly what was not checked. Entries where ``f`` is
undefined at ``x +- h`` (a ``log`` or ``sqrt`` at the edge of its domain),
or where ``f`` takes a different path through its code (a Python ``if`` on
a value), are skipped the same way.

    >>> from microgrid import Value
    >>> r = gradcheck(lambda x: (x[0] * x[1]).tanh() + x[0].exp(), [0.3, -1.2])
    >>> r.ok, r.checked
    (True, 2)
    >>> gradcheck(lambda x: x[0].relu(), [0.0]).skipped
    [(0, 'relu node 1: its argument changes sign within eps')]
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from microgrid._checks import real
from microgrid.engine import OPS, Value, topological_order

__all__ = ["Entry", "GradcheckResult", "gradcheck"]

_MACHEPS = 2.220446049250313e-16


@dataclass
class Entry:
    """One input's check: analytic (engine) and numeric (central difference) derivative.

    ``skipped`` holds the reason when the entry was not compared (then
    ``numeric`` and the errors are NaN).
    """

    index: int
    analytic: float
    numeric: float = math.nan
    abs_error: float = math.nan
    rel_error: float = math.nan
    tolerance: float = math.nan
    ok: bool = True
    skipped: str | None = None


@dataclass
class GradcheckResult:
    """What `gradcheck` found. ``bool(result)`` is ``result.ok``.

    ``worst`` is the index of the checked entry furthest out of (or closest
    to) its tolerance, with its ``analytic`` and ``numeric`` derivatives and
    their ``abs_error`` and ``rel_error``; None when nothing was checked.
    """

    ok: bool
    worst: int | None
    analytic: float
    numeric: float
    abs_error: float
    rel_error: float
    entries: list[Entry]
    eps: float
    rtol: float
    atol: float
    checked: int = field(init=False)

    def __post_init__(self) -> None:
        self.checked = sum(1 for e in self.entries if e.skipped is None)

    @property
    def skipped(self) -> list[tuple[int, str]]:
        """``(index, reason)`` for every entry that was not compared."""
        return [(e.index, e.skipped) for e in self.entries if e.skipped is not None]

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        head = (f"gradcheck {'ok' if self.ok else 'FAILED'}: {self.checked} of "
                f"{len(self.entries)} entries checked (eps={self.eps:g}, "
                f"rtol={self.rtol:g}, atol={self.atol:g})")
        lines = [head]
        if self.worst is not None:
            lines.append(
                f"worst: input {self.worst}: analytic {self.analytic:.12g}, "
                f"numeric {self.numeric:.12g}, abs error {self.abs_error:.3g}, "
                f"rel error {self.rel_error:.3g}"
            )
        lines += [f"skipped input {i}: {reason}" for i, reason in self.skipped]
        return "\n".join(lines)


Kink = tuple[str, float, float]
"""A kinked node met in the graph: its op, the kink, and its argument minus the kink."""


def _signature(root: Value, inputs: list[Value]) -> tuple[list[tuple[object, ...]], list[Kink]]:
    """The graph's shape (op and parent positions of each node) and its kinks (`OPS`)."""
    order = topological_order(root)
    position = {id(node): n for n, node in enumerate(order)}
    input_number = {id(v): i for i, v in enumerate(inputs)}
    shape: list[tuple[object, ...]] = []
    kinks: list[Kink] = []
    for node in order:
        if node.parents:
            shape.append((node.op, *(position[id(p)] for p in node.parents)))
        else:
            shape.append(("input", input_number.get(id(node), -1)))
        spec = OPS.get(node.op)
        if spec is not None and spec.kinks:
            x = spec.operands(node)[0]
            x = x.data if isinstance(x, Value) else x
            kinks.extend((node.op, k, x - k) for k in spec.kinks)
    return shape, kinks


def _sign(x: float) -> int:
    return (x > 0.0) - (x < 0.0)


def _evaluate(
    f: Callable[[list[Value]], Value], xs: list[float]
) -> tuple[Value, list[Value], list[tuple[object, ...]], list[Kink]]:
    """``f`` on fresh leaves at ``xs``: its result, the leaves, the graph's shape and kinks."""
    leaves = [Value(x, label=f"x{i}") for i, x in enumerate(xs)]
    out = f(leaves)
    if not isinstance(out, Value):
        raise TypeError(
            f"gradcheck: f must return a scalar Value, got {type(out).__name__} {out!r}"
        )
    return out, leaves, *_signature(out, leaves)


def gradcheck(
    f: Callable[[list[Value]], Value],
    inputs: Sequence[float | Value],
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-8,
) -> GradcheckResult:
    """Compare ``f``'s engine gradient with central differences; report the worst entry.

    ``f`` takes a list of `Value` leaves (one per input) and returns a
    scalar `Value`. ``inputs`` are numbers (or Values, whose ``.data`` is
    used; they are never modified). Entry ``i`` passes when

        |analytic - numeric| <= atol + rtol * max(|analytic|, |numeric|) + noise

    where ``noise = 4 macheps max(|f(x+h)|, |f(x-h)|) / h`` bounds the
    rounding error of the difference itself. Entries at a kink, outside
    ``f``'s domain, or where ``f`` branches are skipped (see the module
    docstring). Grads of other leaves ``f`` uses (a network's parameters)
    are left as they were. A wrong type raises TypeError, a bad value
    ValueError.

        >>> gradcheck(lambda x: x[0] ** 3, [2.0]).analytic
        12.0
    """
    xs = _points(f, inputs)
    h = real(eps, "eps", above=0.0, who="gradcheck")
    rtol = real(rtol, "rtol", at_least=0.0, who="gradcheck")
    atol = real(atol, "atol", at_least=0.0, who="gradcheck")
    analytic, shape, kinks = _analytic(f, xs)
    entries = [_entry(f, xs, i, g, h, rtol, atol, shape, kinks) for i, g in enumerate(analytic)]
    checked = [e for e in entries if e.skipped is None]
    ok = all(e.ok for e in checked)
    if not checked:
        return GradcheckResult(ok, None, math.nan, math.nan, math.nan, math.nan,
                               entries, h, rtol, atol)
    worst = max(checked, key=_badness)
    return GradcheckResult(ok, worst.index, worst.analytic, worst.numeric, worst.abs_error,
                           worst.rel_error, entries, h, rtol, atol)


def _points(f: object, inputs: object) -> list[float]:
    """The inputs as floats, after checking ``f`` and them."""
    if not callable(f):
        raise TypeError(f"gradcheck: f must be callable, got {type(f).__name__}")
    if isinstance(inputs, (str, bytes, Value)) or not isinstance(inputs, Sequence):
        raise TypeError(
            f"gradcheck: inputs must be a list of numbers, got {type(inputs).__name__}"
        )
    if not inputs:
        raise ValueError("gradcheck: inputs is empty; give at least one number")
    xs: list[float] = []
    for i, x in enumerate(inputs):
        v: object = x.data if isinstance(x, Value) else x
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise TypeError(
                f"gradcheck: inputs[{i}] is {type(x).__name__} {x!r}; expected a number"
            )
        if not math.isfinite(float(v)):
            raise ValueError(f"gradcheck: inputs[{i}] is {v!r}; inputs must be finite")
        xs.append(float(v))
    return xs


def _analytic(
    f: Callable[[list[Value]], Value], xs: list[float]
) -> tuple[list[float], list[tuple[object, ...]], list[Kink]]:
    """The engine's gradient at ``xs``, and the graph's shape and kinks there.

    Any other leaf's grad (a network's parameters) is put back as it was.
    """
    out, leaves, shape, kinks = _evaluate(f, xs)
    mine = {id(v) for v in leaves}
    others = [n for n in topological_order(out) if not n.parents and id(n) not in mine]
    saved = [n.grad for n in others]
    try:
        out.backward()
    finally:
        for n, g in zip(others, saved, strict=True):
            n.grad = g
    return [leaf.grad for leaf in leaves], shape, kinks


def _entry(
    f: Callable[[list[Value]], Value], xs: list[float], i: int, analytic: float, h: float,
    rtol: float, atol: float, shape: list[tuple[object, ...]], kinks: list[Kink],
) -> Entry:
    """Input ``i``'s check: its central difference against ``analytic``, or why skipped."""
    entry = Entry(index=i, analytic=analytic)
    up, down = list(xs), list(xs)
    up[i] += h
    down[i] -= h
    try:
        out_up, _, shape_up, kinks_up = _evaluate(f, up)
        out_down, _, shape_down, kinks_down = _evaluate(f, down)
    except (ValueError, ZeroDivisionError, OverflowError) as e:
        entry.skipped = f"f is undefined within eps of inputs[{i}] ({e})"
        return entry
    if not shape_up == shape == shape_down:
        entry.skipped = "f takes a different path within eps (a branch on a value?)"
        return entry
    n = _straddled_kink(kinks_down, kinks, kinks_up)
    if n is not None:
        op, k, _ = kinks[n]
        crosses = "changes sign" if k == 0.0 else f"crosses {k:g}"
        entry.skipped = f"{op} node {n + 1}: its argument {crosses} within eps"
        return entry
    f_up, f_down = out_up.data, out_down.data
    step = up[i] - down[i]  # the step actually taken, after rounding
    numeric = (f_up - f_down) / step
    diff = abs(entry.analytic - numeric)
    scale = max(abs(entry.analytic), abs(numeric))
    noise = 4.0 * _MACHEPS * max(abs(f_up), abs(f_down)) / (step / 2.0)
    entry.numeric = numeric
    entry.abs_error = diff
    entry.rel_error = diff / scale if scale > 0.0 else 0.0
    entry.tolerance = atol + rtol * scale + noise
    entry.ok = diff <= entry.tolerance  # False for NaN
    return entry


def _badness(e: Entry) -> float:
    """How far out of tolerance an entry is (> 1 fails); NaN counts as worst."""
    if e.abs_error != e.abs_error:
        return math.inf
    return e.abs_error / e.tolerance if e.tolerance > 0.0 else 0.0


def _straddled_kink(down: list[Kink], here: list[Kink], up: list[Kink]) -> int | None:
    """The first kink whose argument's side differs among x - h, x, x + h."""
    for n, (a, b, c) in enumerate(zip(down, here, up, strict=True)):
        if not _sign(a[2]) == _sign(b[2]) == _sign(c[2]):
            return n
    return None
