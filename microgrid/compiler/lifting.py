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

from typing import TYPE_CHECKING

import numpy as np

from microgrid.compiler.packing import build
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


class Family:
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
        self.program = build(recording, params)
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
            self.program = build(self.base, self.params, self.lifted)
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


