"""The compiled function: `Compiled`, what `microgrid.compile` returns.

It records targets as they come (one family per shape of graph, see
`microgrid.compiler.lifting`), checks recordings against each other (the
tracing rule, `microgrid.compiler.tracing`), splits a batch among its
families and replays each.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from microgrid.compiler.lifting import Family
from microgrid.compiler.tracing import TracingError, _compare, _record
from microgrid.engine import Value

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

    Array = NDArray[np.float64]
    Rows = NDArray[np.intp]


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
        self._families: list[Family] = []
        self._targets: dict[object, tuple[Family, int]] = {}
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

    def _target(self, y: object) -> tuple[Family, int]:
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
                family = Family(key, first, self.params, self.static_y, self.check_first_batch)
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
        self, family: Family, X: Array, T: Array | None, rows: Rows | None,
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
    ) -> list[tuple[Family, Rows | None, Rows | None]]:
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
        parts: list[tuple[Family, Rows | None, Rows | None]] = []
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


