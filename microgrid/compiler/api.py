"""The compiled function: `Compiled`, what `microgrid.compile` returns.

It records targets as they come (one family per shape of graph, see
`microgrid.compiler.lifting`), checks recordings against each other (the
tracing rule, `microgrid.compiler.tracing`), splits a batch among its
families and replays each.
"""

from __future__ import annotations

import numbers
import operator
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from microgrid.compiler.lifting import Family, Stores
from microgrid.compiler.tracing import TracingError, _compare, _record
from microgrid.engine import Value

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

    from microgrid.compiler.training import Training
    from microgrid.optim import Optimizer

    Array = NDArray[np.float64]
    Rows = NDArray[np.intp]


_DATA = operator.attrgetter("data")
_NONE: list[float] = []


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
        # While a `Training` holds the parameters: their array (in `_order`), the
        # family whose U[:n] it is (no copy into that one; None: its own array),
        # and how to write them back to the Values.
        self._theta: Array | None = None
        self._theta_home: Family | None = None
        self._sync: weakref.WeakMethod[Callable[[], None]] | None = None
        first = self._target(y)[0]
        # The order the parameters' arrays (gradients, a `Training`'s) keep: their
        # rows in the first program, where a layer's weights lie together.
        self._order: list[Value] = first.program.free[: len(params)]
        self._to_params = first.program.param_rows  # position in _order of params[i]
        roots = first.base.roots
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
        loss, grads, _ = self._run(X, Y)
        return loss, grads[self._to_params].tolist()

    def backward(self, X: ArrayLike, Y: ArrayLike | None = None) -> float:
        """Add the batch's gradients into each parameter's ``.grad``; return the loss.

        The same accumulation as calling ``fn(x, y).backward()`` for every
        example (with ``reduction="mean"``, each scaled by ``1/batch``), so an
        optimiser's ``zero_grad``/``step`` work unchanged.
        """
        loss, grads, _ = self._run(X, Y)
        for p, g in zip(self._order, grads.tolist(), strict=True):
            p.grad += g
        return loss

    def forward(self, X: ArrayLike, Y: ArrayLike | None = None) -> Array:
        """Each example's result, no gradients: shape ``(batch,)``, or
        ``(batch, k)`` when the function returned k Values."""
        Xa, T = self._batch(X, Y)
        out = np.empty((Xa.shape[0], self._n_roots))
        for family, rows, table_rows in self._split(Xa, T):
            Xg, Tg = _rows(Xa, T, rows)
            with np.errstate(all="ignore"):
                stores = self._replay(family, Xg, Tg, rows, table_rows)
            out[slice(None) if rows is None else rows] = np.stack(family.values(stores), axis=1)
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

    def training(self, optimizer: Optimizer) -> Training:
        """Train with this step and ``optimizer`` (an `SGD` or an `Adam` holding
        exactly ``params``), the parameters kept in arrays while it lasts.

        Each ``train.step(X, Y)`` replays the batch, and the optimiser updates
        the parameters in the array by its own rule (the same numbers as its
        ``step``); the Values get them back when the `Training` is closed (at
        the end of its ``with`` block) or synced. Several times faster than
        ``backward`` and ``optimizer.step()`` for a network of thousands of
        weights, whose Python loops over the parameters it skips::

            with step.training(SGD(params, lr=3.0)) as train:
                for X_batch, Y_batch in batches:
                    loss = train.step(X_batch, Y_batch)

        See `microgrid.compiler.training.Training`.
        """
        from microgrid.compiler.training import Training

        return Training(self, optimizer)

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
                old = family.U
                if family.admit(key, first, self._param_index):
                    self._rehome(family, old)
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
        self._values_current()
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

    def _values_current(self) -> None:
        """Before recording eagerly (which computes with the Values' ``.data``): a
        `Training` holding the parameters writes them back first."""
        sync = None if self._sync is None else self._sync()
        if sync is not None:
            sync()

    def _free(self, family: Family) -> tuple[Sequence[float] | Array | None, list[float]]:
        """The values of the family's free leaves, in its rows' order: the
        parameters (None where they are in place already), then the others.
        The parameters come from their ``.data``, or from a `Training`'s array."""
        leaves = family.program.free
        n = len(self.params)
        others = list(map(_DATA, leaves[n:])) if len(leaves) > n else _NONE
        if self._theta is None:
            return list(map(_DATA, leaves[:n])), others
        if family is self._theta_home:
            return None, others
        positions = self._positions(family)
        return (self._theta if positions is None else self._theta[positions]), others

    def _hold(self, values: Array | None) -> Array | None:
        """Hold the parameters in an array from now (a `Training` begins; ``values``
        in `_order`) or no longer (None): the array, where it can, is the first
        family's U[:n], into which nothing is then copied at each step."""
        if values is None:
            self._theta = self._theta_home = None
            return None
        family = self._families[0]
        if self._positions(family) is None:
            view = family.U[: len(self.params)]
            view[...] = values
            self._theta, self._theta_home = view, family
        else:
            self._theta, self._theta_home = values.copy(), None
        return self._theta

    def _rehome(self, family: Family, old: Array) -> None:
        """The home family's program was rebuilt with new stores: move the
        parameters there (or, if its layout changed, into an array of their own)."""
        if self._theta_home is family and family.U is not old:
            self._hold(old[: len(self.params)].copy())

    def _positions(self, family: Family) -> Rows | None:
        """Where each of the family's parameter rows is in `_order` (the arrays'
        order); None where it is that order (the first family's, and any of the
        same layout). Found once per program."""
        if family.positions_for is not family.program:
            index = {id(v): i for i, v in enumerate(self._order)}
            found = np.array([index[id(v)] for v in family.program.free[: len(self.params)]],
                             dtype=np.intp)
            same = bool((found == np.arange(len(found))).all())
            family.positions = None if same else found
            family.positions_for = family.program
        return family.positions

    def _replay(
        self, family: Family, X: Array, T: Array | None, rows: Rows | None,
        table_rows: Rows | None,
    ) -> Stores:
        """``family.forward``, with its checks: the stores replayed.

        ``rows`` are the examples' positions in the whole batch (None: all
        of it), for messages.
        """
        stores, ok = family.forward(X, T, table_rows, *self._free(family))
        if not ok:
            self._diagnose(X, T, rows)
        if family.pending_check:
            for i in family.examples_to_check(stores.V, T):
                self._verify_example(X, T, i, rows, "of the first batch")
            family.pending_check = False  # only once every check has run and passed
        return stores

    def _verify_example(
        self, X: Array, T: Array | None, i: int, rows: Rows | None, batch: str
    ) -> None:
        """`_verify` example ``i``; an error from ``fn`` (a cost refusing its
        target, a domain error) is raised naming the example."""
        where = i if rows is None else int(rows[i])
        self._values_current()
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

    def _run(
        self, X: ArrayLike, Y: ArrayLike | None, outputs: bool = False, copy: bool = True
    ) -> tuple[float, Array, Array | None]:
        """The reduced loss (the first result), its gradients in `_order`, and with
        ``outputs`` the other results (batch x k), for a `Training`. Without
        ``copy`` the gradients may be a view of a family's store, valid until
        the next replay."""
        if self._n_roots != 1 and not outputs:
            raise TypeError(
                f"compile: the function returned {self._n_roots} Values; "
                "a loss and its gradients need it to return one"
            )
        Xa, T = self._batch(X, Y)
        batch = Xa.shape[0]
        mean = self.reduction == "mean"
        seed = 1.0 / batch if mean else 1.0
        n = len(self.params)
        loss = 0.0
        grads: Array | None = None
        others = np.empty((batch, self._n_roots - 1)) if outputs else None
        for family, rows, table_rows in self._split(Xa, T):
            Xg, Tg = _rows(Xa, T, rows)
            with np.errstate(all="ignore"):  # what leaves the domain is checked, not warned
                stores = self._replay(family, Xg, Tg, rows, table_rows)
                g = family.gradients(stores, seed)[:n]
            values = family.values(stores)
            loss += float(values[0].sum())
            if others is not None and len(values) > 1:
                others[slice(None) if rows is None else rows] = np.stack(values[1:], axis=1)
            positions = self._positions(family)
            if positions is not None:
                ordered = np.empty(n)
                ordered[positions] = g
                g = ordered
            grads = (g.copy() if copy else g) if grads is None else grads + g
        assert grads is not None  # _split gives at least one part
        return (loss / batch if mean else loss), grads, others


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
    if type(A) is np.ndarray and A.dtype == np.float64 and bool(np.isfinite(A).all()):
        return A  # the common case, and a training loop's: quickly
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


