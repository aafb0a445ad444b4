"""Constant lifting: recordings that differ only in constants share one program.

With ``static_y`` each distinct target is recorded on its own; the label in
``score * y`` is then a constant that differs from one target's recording to
the next. Such recordings form a family: one program, in which the
constants that differ are lifted into per-example rows of ``V``, filled from
a table with one row of constants per target. A family also runs its
program (forward, values, gradients) and picks the first batch's examples
to check.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from microgrid.compiler.packing import Program, build
from microgrid.compiler.tracing import (
    FIRST_BATCH_CHECKS,
    Path,
    _differences,
    _Recording,
    _value_at,
)
from microgrid.engine import Value

if TYPE_CHECKING:
    from numpy.typing import NDArray

    Array = NDArray[np.float64]
    Rows = NDArray[np.intp]


class Stores:
    """A family's per-example stores for one batch size, and its program bound to them.

    Its functions run numpy on values that may leave the engine's domain
    (an overflow, a log of 0): the callers run them under
    ``np.errstate(all="ignore")`` and check the results instead.
    """

    __slots__ = ("GV", "V", "backward", "computed_U", "computed_V", "forward")

    def __init__(self, family: Family, batch: int) -> None:
        p = family.program
        self.V = np.zeros((p.n_V, batch))
        self.GV = np.zeros_like(self.V)
        bound = [ins.bind(self.V, family.U, self.GV, family.GU) for ins in p.instructions]
        self.forward = [f for f, _ in bound]
        self.backward = [b for ins, (_, b) in zip(p.instructions, bound, strict=True)
                         if ins.needs_grad][::-1]
        # what the instructions compute: checked finite after each replay
        self.computed_V = self.V[p.lift_stop :]
        self.computed_U = family.U[p.n_free :] if len(family.U) > p.n_free else None


class Family:
    """Recordings that differ at most in constants, replayed by one program.

    Without static targets there is one family. With them, each distinct
    target is recorded (on the compiled example's ``x``); a recording that
    differs from the family's first only in constants joins it, and those
    constants (the label in ``score * y``) are lifted into per-example rows
    filled from ``table``, one row of constants per target.

    Its stores are kept from call to call: ``U`` and ``GU`` (batch-independent
    rows), and per batch size ``V`` and ``GV`` with the program's
    instructions bound to them (`Stores`), the last `MAX_BATCH_SIZES` sizes
    seen (an epoch's last batch is often smaller). So a replay allocates
    nothing it can reuse, and a family (and its `Compiled`) is not to be
    called from two threads at once.

    A family holds no reference to its `Compiled` (which holds it): no
    reference cycle, so a dropped `Compiled` is freed by reference counting.
    """

    MAX_BATCH_SIZES = 4

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
        self._set_program(build(recording, params))
        self.pending_check = check  # the first batch's examples are still to be checked
        # where this program's parameter rows are in the `Compiled`'s order (see
        # `Compiled._positions`), and the program that was found for
        self.positions: Rows | None = None
        self.positions_for: Program | None = None

    def _set_program(self, program: Program) -> None:
        self.program = program
        self.U: Array = program.U_template.copy()
        self.GU: Array = np.zeros_like(self.U)
        self._stores: dict[int, Stores] = {}

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
            self._set_program(build(self.base, self.params, self.lifted))
        row = np.array([[_value_at(recording, i, path) for i, path in self.lifted]])
        self.keys[key] = len(self.table)
        self.table = np.vstack([self.table, row])
        self.references[key] = recording
        return True

    def stores(self, batch: int) -> Stores:
        """The stores for ``batch`` examples, made (and the program bound) the first time."""
        found = self._stores.get(batch)
        if found is None:
            if len(self._stores) >= self.MAX_BATCH_SIZES:
                del self._stores[next(iter(self._stores))]
            found = self._stores[batch] = Stores(self, batch)
        return found

    def forward(
        self, X: Array, T: Array | None, table_rows: Rows | None,
        params: Sequence[float] | Array | None, others: Sequence[float],
    ) -> tuple[Stores, bool]:
        """Replay the program on the examples ``X`` (targets ``T``): the stores, and
        whether every value stayed in the engine's domain (finite).

        ``table_rows`` are each example's row of lifted constants; ``params``
        and ``others`` the values of the free leaves, in the order of
        `Program.free` (``params`` None: they are in ``U`` already).
        """
        p = self.program
        s = self.stores(X.shape[0])
        V = s.V
        nin = X.shape[1]
        V[:nin] = X.T
        if T is not None and not self.static_y:
            V[nin : nin + (1 if T.ndim == 1 else T.shape[1])] = T.T
        if p.lift_stop > p.lift_start:
            V[p.lift_start : p.lift_stop] = self.table[table_rows].T
        n = len(self.params)
        if params is not None:
            self.U[:n] = params
        if others:
            self.U[n : p.n_free] = others
        ok = True
        for step in s.forward:  # (the caller ignores numpy's warnings: checked here)
            ok = step() and ok
        return s, (ok and bool(np.isfinite(s.computed_V).all())
                   and (s.computed_U is None or bool(np.isfinite(s.computed_U).all())))

    def values(self, s: Stores) -> list[Array]:
        """The function's result(s) for every example replayed."""
        batch = s.V.shape[1]
        return [s.V[row] if kind == "V" else np.full(batch, self.U[row])
                for kind, row in self.program.roots]

    def gradients(self, s: Stores, seed: float) -> Array:
        """``seed * sum over the examples of ∂result/∂U`` (the first result), the
        parameters' in ``[:n_params]``, in the order of their rows (`Program.free`)."""
        p = self.program
        GV, GU = s.GV, self.GU
        for start, stop in p.zero_V:  # the rows with a sole writer are written, not added to
            GV[start:stop] = 0.0
        for start, stop in p.zero_U:
            GU[start:stop] = 0.0
        kind, row = p.roots[0]
        if kind == "V":
            GV[row] = seed
        else:  # every example's result is this one batch-independent value
            GU[row] = seed * GV.shape[1]
        for step in s.backward:  # (the caller ignores numpy's warnings)
            step()
        return GU

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


