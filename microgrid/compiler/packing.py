"""Packing a recording into a program: instructions over the V and U stores.

Four passes (`build`): lift the constants that change with a static target
into stand-in leaves; read what packing needs of every node (its operands,
depth, store, whether it needs a gradient); group the nodes of one operation
at one depth whose operands line up, each group one instruction (its kernel
says what must line up); and give every node its row, each group's rows in a
block. Constants stay in the instructions; parameters and other leaves from
outside the function are read from their ``.data`` at every call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from microgrid.compiler.kernels import Atom, Instruction, Kind, MatMul, _Ref, kernel_of
from microgrid.compiler.tracing import Path, _Recording, _value_at, operands_of
from microgrid.engine import OPS, Value

if TYPE_CHECKING:
    from numpy.typing import NDArray

    Array = NDArray[np.float64]


@dataclass
class Program:
    """A packed recording: run its instructions in order over V and U (backward: reversed)."""

    instructions: list[Instruction]
    n_V: int
    U_template: Array
    n_free: int  # params and other leaves, refreshed from their .data each call
    free: list[Value]  # in the order of their rows: the parameters first (U[:n_params])
    param_rows: NDArray[np.intp]  # the row of U of each parameter, in the order given
    roots: list[tuple[str, int]]
    n_nodes: int
    lift_start: int  # V rows [lift_start, lift_stop) hold lifted constants
    lift_stop: int
    zero_V: list[tuple[int, int]]  # gradient rows a backward pass zeroes first (the others
    zero_U: list[tuple[int, int]]  # have a sole writer, which writes them: `_sole_writers`)


@dataclass
class _Nodes:
    """What packing knows of each node: operands (computed nodes), depth, store, gradient."""

    operands: dict[Value, tuple[Any, ...]]
    level: dict[Value, int]
    batched: dict[Value, bool]  # per-example (a row of V) or not (a row of U)
    needs_grad: dict[Value, bool]
    free: list[Value]  # the parameters, then any other leaf from outside the function
    n_params: int = 0

    def kind(self, atom: Atom) -> str:
        if type(atom) is not Value:
            return "c"
        return "V" if self.batched[atom] else "U"


def build(
    rec: _Recording, params: list[Value], lifted: Sequence[tuple[int, Path]] = ()
) -> Program:
    """Pack a recording into instructions over the V and U stores.

    ``lifted`` names constants (node index, path) that become per-example
    rows after the inputs and targets: constants that change with a static
    target, filled per example by the caller.
    """
    lifted_rows, operands = _lift(rec, lifted)
    nodes = _read(rec, params, lifted_rows, operands)
    blocks = _group(rec.order, nodes)
    rows, n_V, n_U = _assign_rows(rec, lifted_rows, nodes, blocks)
    instructions = [_emit(block, nodes, rows) for block in blocks]
    roots = [("V" if nodes.batched[r] else "U", rows[r]) for r in rec.roots]
    lift_start = len(rec.inputs) + len(rec.targets)
    param_rows = np.array([rows[p] for p in params], dtype=np.intp)
    lift_stop = lift_start + len(lifted_rows)
    # read as gradients: what the instructions compute (each reads its rows' gradient)
    # and the parameters (the result); the inputs', targets' and other leaves' never
    read_V = np.arange(n_V) >= lift_stop
    read_U = (np.arange(n_U) < len(params)) | (np.arange(n_U) >= len(nodes.free))
    zero_V, zero_U = _sole_writers(instructions, roots[0], read_V, read_U)
    return Program(instructions, n_V, np.zeros(n_U, dtype=np.float64), len(nodes.free),
                   nodes.free, param_rows, roots, len(rec.order), lift_start, lift_stop,
                   zero_V, zero_U)


def _lift(
    rec: _Recording, lifted: Sequence[tuple[int, Path]]
) -> tuple[list[Value], dict[Value, tuple[Any, ...]]]:
    """The lifted rows (stand-in leaves for lifted constants, or leaves lifted
    whole), and every computed node's operands with the stand-ins in place."""
    rows: list[Value] = []
    substitutions: dict[Value, list[tuple[tuple[int, ...], Value]]] = {}
    for i, path in lifted:
        if path is None:
            rows.append(rec.order[i])
        else:
            stand_in = Value(_value_at(rec, i, path), "lifted constant")
            substitutions.setdefault(rec.order[i], []).append((path, stand_in))
            rows.append(stand_in)
    operands: dict[Value, tuple[Any, ...]] = {}
    for node in rec.order:
        if node.parents:
            written = operands_of(node)
            for path, stand_in in substitutions.get(node, ()):
                written = _replace(written, path, stand_in)
            operands[node] = written
    return rows, operands


def _read(
    rec: _Recording, params: list[Value], lifted_rows: list[Value],
    operands: dict[Value, tuple[Any, ...]],
) -> _Nodes:
    """Each node's depth, store and need of a gradient, from its operands'."""
    param_set = set(params)
    special = set(rec.inputs) | set(rec.targets) | set(lifted_rows)
    nodes = _Nodes(operands, dict.fromkeys(lifted_rows, 0), dict.fromkeys(lifted_rows, True),
                   dict.fromkeys(lifted_rows, False), list(params), len(params))
    for node in rec.order:
        if not node.parents:
            nodes.level[node] = 0
            nodes.batched[node] = node in special
            nodes.needs_grad[node] = node in param_set
            if node not in special and node not in param_set:
                nodes.free.append(node)
            continue
        atoms = _values_in(operands[node])
        nodes.level[node] = 1 + max(nodes.level[a] for a in atoms)
        nodes.batched[node] = any(nodes.batched[a] for a in atoms)
        nodes.needs_grad[node] = any(nodes.needs_grad[a] for a in atoms)
    return nodes


def _group(order: list[Value], nodes: _Nodes) -> list[list[Value]]:
    """The computed nodes in blocks, one per instruction, in order of depth."""
    groups: dict[tuple[Any, ...], list[Value]] = {}
    for node in order:
        if node.parents:
            kernel = kernel_of(OPS[node.op])
            key = (nodes.level[node], node.op, kernel.key(nodes.operands[node], nodes.kind))
            groups.setdefault(key, []).append(node)
    return sorted(groups.values(), key=lambda block: nodes.level[block[0]])


def _assign_rows(
    rec: _Recording, lifted_rows: list[Value], nodes: _Nodes, blocks: list[list[Value]]
) -> tuple[dict[Value, int], int, int]:
    """Each node's row: V holds the inputs, targets, lifted constants and then the
    per-example blocks; U the free leaves and then the other blocks."""
    rows: dict[Value, int] = {}
    for k, v in enumerate([*rec.inputs, *rec.targets, *lifted_rows]):
        rows[v] = k
    n_V = len(rows)
    nodes.free = _in_layers(nodes, blocks)
    for i, v in enumerate(nodes.free):
        rows[v] = i
    n_U = len(nodes.free)
    for block in blocks:
        for v in block:
            if nodes.batched[block[0]]:
                rows[v], n_V = n_V, n_V + 1
            else:
                rows[v], n_U = n_U, n_U + 1
    return rows, n_V, n_U


def _in_layers(nodes: _Nodes, blocks: list[list[Value]]) -> list[Value]:
    """The free leaves in the order their rows take: a layer's weights lane by lane,
    then its biases, so that ``w^l`` and ``b^l`` are views of U, not gathers.

    The parameters come first, as given by the caller where no layer reads
    them; then the other leaves from outside the function. Layers that run
    per example and have the most lanes are placed first (an L2 penalty, one
    batch-independent node reading every weight, must not decide the order).
    """
    params = nodes.free[: nodes.n_params]
    wanted = set(params)
    placed: dict[Value, None] = {}
    layers = [b for b in blocks if kernel_of(OPS[b[0].op]) is MatMul]
    layers.sort(key=lambda b: (not nodes.batched[b[0]], -len(b)))
    for block in layers:
        for grid in ([w for v in block for w in nodes.operands[v][0]],
                     [nodes.operands[v][2] for v in block]):
            if all(type(a) is Value and a in wanted and a not in placed for a in grid):
                placed.update(dict.fromkeys(grid))
    placed.update(dict.fromkeys(params))
    return [*placed, *nodes.free[nodes.n_params :]]


def _sole_writers(
    instructions: list[Instruction], root: tuple[str, int],
    read_V: NDArray[np.bool_], read_U: NDArray[np.bool_],
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Mark the operands that are the only contribution to their gradient rows, and
    return the runs of rows a backward pass must still zero (V's, U's): of the
    rows whose gradient is read (``read_V``, ``read_U``), those without one.

    A gradient row is the sum of its contributions; where there is one (a
    layer's weights, read by their layer alone) its writer writes it, so it
    need not be zeroed first and added to: two passes over the rows saved,
    the size of the network's weights for ``U``. The seeded root counts as a
    writer of its row.
    """
    counts = {"V": np.zeros(len(read_V), dtype=np.intp), "U": np.zeros(len(read_U), dtype=np.intp)}
    counts[root[0]][root[1]] += 1
    refs = [ref for ins in instructions if ins.needs_grad for ref in ins.gradient_refs()]
    for ref in refs:
        np.add.at(counts[ref.kind], ref.rows.reshape(-1), 1)
    for ref in refs:
        ref.sole = (ref.start is not None and ref.unique
                    and bool((counts[ref.kind][ref.start : ref.stop] == 1).all()))
    zero = {"V": read_V.copy(), "U": read_U.copy()}
    for ref in refs:
        if ref.sole:
            zero[ref.kind][ref.start : ref.stop] = False
    return _runs(zero["V"]), _runs(zero["U"])


def _runs(mask: NDArray[np.bool_]) -> list[tuple[int, int]]:
    """The ``(start, stop)`` of each run of True in ``mask``."""
    edges = np.flatnonzero(np.diff(np.concatenate(([False], mask, [False])).astype(np.int8)))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _emit(block: list[Value], nodes: _Nodes, rows: dict[Value, int]) -> Instruction:
    """The instruction computing a block of nodes, by the kernel of their operation."""
    kind: Kind = nodes.kind

    def ref(atoms: Sequence[Atom], shape: tuple[int, ...]) -> _Ref:
        return _Ref(atoms, shape, kind, rows, nodes.needs_grad)

    first = block[0]
    spec = OPS[first.op]
    instruction = kernel_of(spec).pack(spec, [nodes.operands[v] for v in block], kind, ref)
    instruction.place(nodes.batched[first], rows[first], rows[first] + len(block),
                      any(nodes.needs_grad[v] for v in block))
    return instruction


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
