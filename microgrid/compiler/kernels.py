"""The numpy kernels: instructions that compute a block of rows at once.

An instruction computes the nodes of one operation at one depth whose
operands line up (its lanes): rows of ``V`` (per example, shape ``(rows,
batch)``) or of ``U`` (batch-independent, shape ``(rows,)``). Unary and
binary operations run their spec's batched ``forward`` and ``derivatives``
(`microgrid.engine.OPS`); others name their kernel: a sum's terms as a grid,
a layer's ``linear`` nodes, which share their inputs, as one matrix product
``z^l = w^l a^{l-1} + b^l``. Backward recomputes local derivatives from the
batch's own values and sums over the batch where a batch-independent row
meets a per-example one: what the eager engine accumulates example by example.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from microgrid.compiler.tracing import TracingError
from microgrid.engine import OpSpec, Value

if TYPE_CHECKING:
    from numpy.typing import NDArray

    Array = NDArray[np.float64]

Atom = Union[Value, float]  # noqa: UP007 - a runtime alias on Python 3.10
"""An operand as the tape sees it: a node of the graph or a constant."""
Kind = Callable[[Atom], str]
"""Where an atom lives: ``"V"`` (per example), ``"U"`` (batch-independent) or ``"c"``."""
MakeRef = Callable[[Sequence[Atom], tuple[int, ...]], "_Ref"]
Bound = tuple[Callable[[], bool], Callable[[], None]]
"""An instruction bound to a family's stores: its forward (False: outside the
engine's domain) and backward steps."""


# -- operands of instructions --------------------------------------------------


class _Ref:
    """Where one operand of an instruction lives, for every lane at once.

    ``kind`` is ``"V"`` (per-example rows: arrays get a trailing batch
    axis), ``"U"`` (batch-independent rows) or ``"c"`` (constants, no
    gradient). ``shape`` is the grid of atoms: ``(w,)`` for one operand per
    lane, ``(w, n)`` for n terms per lane, ``(n,)`` for shared inputs.
    Contiguous rows are read as a slice (a view), others by fancy indexing.
    """

    __slots__ = ("const", "const_b", "kind", "needs_grad", "rows", "shape", "sole", "start",
                 "stop", "unique")

    def __init__(
        self,
        atoms: Sequence[Atom],
        shape: tuple[int, ...],
        kind: Kind,
        rows: dict[Value, int],
        needs_grad: dict[Value, bool],
    ) -> None:
        self.shape = shape
        self.kind = kind(atoms[0])
        self.needs_grad = False
        self.start: int | None = None
        self.stop = 0
        self.unique = True
        # The only contribution to its gradient rows (set by packing): it then
        # writes them instead of adding, and they are not zeroed before a pass.
        self.sole = False
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

    def bound(self, V: Array, U: Array, broadcast: bool = False) -> Callable[[], Array]:
        """A function giving the operand's values in these stores, as `get` (or
        `get_b` if ``broadcast``): a fixed view where the rows are contiguous,
        made once here, else a gather at each call."""
        if self.kind == "c":
            value = self.const_b if broadcast else self.const
            return lambda: value
        store = V if self.kind == "V" else U
        if self.start is None:
            rows = self.rows
            if broadcast and self.kind != "V":
                return lambda: store[rows][..., None]
            return lambda: store[rows]
        view = store[self.start : self.stop]
        if len(self.shape) > 1:
            view = view.reshape(self.shape + view.shape[1:])
        if broadcast and self.kind != "V":
            view = view[..., None]
        return lambda: view

    def accumulator(self, GV: Array, GU: Array) -> Callable[[Array], None]:
        """A function doing `add` into these gradient stores, its views made once here."""
        shape = self.shape
        batch_independent = self.kind != "V"
        store = GU if batch_independent else GV
        if self.start is None:
            rows = self.rows
            scatter: Callable[[Array], None] = (
                (lambda c: np.add.at(store, rows, c)) if not self.unique
                else (lambda c: store.__setitem__(rows, store[rows] + c)))
            if not batch_independent:
                return scatter

            def add_summed(c: Array) -> None:
                scatter(c.sum(axis=-1) if c.ndim > len(shape) else c)

            return add_summed
        block = store[self.start : self.stop]
        if len(shape) > 1:
            block = block.reshape(shape + block.shape[1:])
        if self.sole:
            if not batch_independent:
                return lambda c: np.copyto(block, c)

            def write(c: Array) -> None:
                if c.ndim > len(shape):
                    np.sum(c, axis=-1, out=block)
                else:
                    np.copyto(block, c)

            return write
        if not batch_independent:
            def add_rows(c: Array) -> None:
                np.add(block, c, out=block)

            return add_rows

        def add(c: Array) -> None:
            np.add(block, c.sum(axis=-1) if c.ndim > len(shape) else c, out=block)

        return add

    def gradient_view(self, GV: Array, GU: Array) -> Array | None:
        """The gradient rows as one view (the operand's shape), if it is their sole
        writer and they are contiguous: a product can be made straight into them."""
        if not self.sole or self.start is None:
            return None
        block = (GV if self.kind == "V" else GU)[self.start : self.stop]
        return block if len(self.shape) == 1 else block.reshape(self.shape + block.shape[1:])

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
            if self.sole:
                np.copyto(block, contribution)
            else:
                block += contribution
        elif self.unique:
            store[self.rows] += contribution
        else:
            np.add.at(store, self.rows, contribution)


# -- instructions --------------------------------------------------------------


class Instruction:
    """One numpy step of the tape: a block of rows ``start:stop`` computed at once."""

    batched = False
    start = 0
    stop = 0
    needs_grad = False

    def __init__(self, spec: OpSpec) -> None:
        self.spec = spec

    @staticmethod
    def key(operands: tuple[Any, ...], kind: Kind) -> tuple[Any, ...]:
        """What nodes of one operation at one depth share to pack into one instruction."""
        return tuple(kind(a) for a in operands)

    @classmethod
    def pack(
        cls, spec: OpSpec, lanes: list[tuple[Any, ...]], kind: Kind, ref: MakeRef
    ) -> Instruction:
        """The instruction computing nodes with these operands (one tuple per lane)."""
        raise NotImplementedError

    def place(self, batched: bool, start: int, stop: int, needs_grad: bool) -> None:
        """Where the block's rows are (``V`` if ``batched``); set once, by packing."""
        self.batched, self.start, self.stop, self.needs_grad = batched, start, stop, needs_grad

    def out(self, V: Array, U: Array) -> Array:
        return (V if self.batched else U)[self.start : self.stop]

    def gradient_refs(self) -> list[_Ref]:
        """The operands whose gradient rows its backward step writes into."""
        return []

    def bind(self, V: Array, U: Array, GV: Array, GU: Array) -> Bound:
        """Its forward and backward steps on these stores, as two functions of no argument.

        A replay step costs microseconds, so what can be found once (the
        block's rows, its operands' views, which need a gradient) is found
        here, when a family's stores for a batch size are made, not at
        every call. This default calls `forward` and `backward`.
        """
        return (lambda: self.forward(V, U)), (lambda: self.backward(V, U, GV, GU))

    def forward(self, V: Array, U: Array) -> bool:
        """Compute the block; False if a value is outside the engine's domain."""
        raise NotImplementedError

    def backward(self, V: Array, U: Array, GV: Array, GU: Array) -> None:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


class Elementwise(Instruction):
    """Unary and binary operations: their spec's batched forward and local derivatives."""

    def __init__(self, spec: OpSpec, refs: list[_Ref]) -> None:
        super().__init__(spec)
        self.refs = refs

    @classmethod
    def pack(
        cls, spec: OpSpec, lanes: list[tuple[Any, ...]], kind: Kind, ref: MakeRef
    ) -> Instruction:
        w = len(lanes)
        return cls(spec, [ref([o[i] for o in lanes], (w,)) for i in range(len(lanes[0]))])

    def place(self, batched: bool, start: int, stop: int, needs_grad: bool) -> None:
        super().place(batched, start, stop, needs_grad)
        # Looked up once, not at every call (a replay step costs microseconds): how
        # to read each operand (batch-independent ones get a size-1 axis to broadcast
        # against per-example ones), which need their local derivative (constant or
        # computed), and which Value operands have a derivative only somewhere.
        self.getters = [ref.get_b if batched and ref.kind != "V" else ref.get
                        for ref in self.refs]
        slopes = [(ref, d) for ref, d in zip(self.refs, self.spec.derivatives, strict=True)
                  if ref.needs_grad]
        self.constant_slopes = [(ref, d) for ref, d in slopes if not callable(d)]
        self.slopes = [(ref, d) for ref, d in slopes if callable(d)]
        self.checks = [where for ref, where in zip(self.refs, self.spec.slope_domain)
                       if where is not None and ref.kind != "c"]
        self.formula, self.unbounded = self.spec.forward, self.spec.unbounded

    def gradient_refs(self) -> list[_Ref]:
        return [ref for ref in self.refs if ref.needs_grad]

    def _operands(self, V: Array, U: Array) -> tuple[Array, ...]:
        get = self.getters
        return (get[0](V, U),) if len(get) == 1 else (get[0](V, U), get[1](V, U))

    def bind(self, V: Array, U: Array, GV: Array, GU: Array) -> Bound:
        out = (V if self.batched else U)[self.start : self.stop]
        g = (GV if self.batched else GU)[self.start : self.stop]
        getters = [ref.bound(V, U, self.batched) for ref in self.refs]
        formula, checks, unbounded = self.formula, self.checks, self.unbounded
        constant_slopes = [(ref.accumulator(GV, GU), c) for ref, c in self.constant_slopes]
        slopes = [(ref.accumulator(GV, GU), d) for ref, d in self.slopes]
        if all(ref.start is not None or ref.kind == "c" for ref in self.refs):
            # every operand is a view (or a constant): found once, here. A constant
            # is spread to the block's full shape, so that the spec's formulas,
            # which make an exponent per element, find it made.
            fixed = tuple(get() if ref.kind != "c" else np.array(np.broadcast_to(get(), out.shape))
                          for ref, get in zip(self.refs, getters, strict=True))
            operands: Callable[[], tuple[Array, ...]] = lambda: fixed  # noqa: E731
        else:
            def operands() -> tuple[Array, ...]:
                return tuple(get() for get in getters)

        def forward() -> bool:
            xs = operands()
            formula(np, out, *xs)  # type: ignore[misc]
            return not checks or all(bool(where(np, *xs).all()) for where in checks)

        def backward() -> None:
            for add, c in constant_slopes:  # 1 for x + y, -1 for -x
                add(g if c == 1.0 else c * g)
            if slopes:
                xs = operands()
                for add, derivative in slopes:
                    local = derivative(np, out, *xs)
                    add(_times(local, g) if unbounded else local * g)

        return forward, backward

    def describe(self) -> str:
        kinds = [ref.kind for ref in self.refs]
        text = self.spec.name if len(kinds) == 1 else f"{kinds[0]}{self.spec.name}{kinds[1]}"
        return f"{text}[{self.stop - self.start}]"


def _times(local: Array, g: Array) -> Array:
    """``local * g``, 0 wherever ``g`` is 0 even if ``local`` is infinite.

    The engine skips a node whose gradient is exactly 0 (see
    ``Value.backward``), so it never forms ``0 * inf``; the replay must give
    the same 0 where ``local`` can be infinite. Only those operations pay
    for it (``spec.unbounded``).
    """
    product: Array = local * g
    if not np.isfinite(local).all():
        product[np.broadcast_to(g == 0.0, product.shape)] = 0.0
    return product


class Sums(Instruction):
    """`sum_of` nodes: each lane adds its terms (per kind of term: V, U, constants)."""

    def __init__(self, spec: OpSpec, parts: list[_Ref]) -> None:
        super().__init__(spec)
        self.parts = parts

    @staticmethod
    def key(operands: tuple[Any, ...], kind: Kind) -> tuple[Any, ...]:
        return tuple(kind(t) for t in operands[0])

    def gradient_refs(self) -> list[_Ref]:
        return [part for part in self.parts if part.needs_grad]

    @classmethod
    def pack(
        cls, spec: OpSpec, lanes: list[tuple[Any, ...]], kind: Kind, ref: MakeRef
    ) -> Instruction:
        """The terms as one (lanes x terms) grid per kind of term."""
        terms = [o[0] for o in lanes]
        kinds = [kind(t) for t in terms[0]]
        parts = []
        for which in ("V", "U", "c"):
            columns = [k for k, c in enumerate(kinds) if c == which]
            if columns:
                atoms = [t[k] for t in terms for k in columns]
                parts.append(ref(atoms, (len(terms), len(columns))))
        return cls(spec, parts)

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

    def bind(self, V: Array, U: Array, GV: Array, GU: Array) -> Bound:
        if type(self) is not Sums:  # logsumexp: its own forward and backward
            return super().bind(V, U, GV, GU)
        out = self.out(V, U)
        g = (GV if self.batched else GU)[self.start : self.stop][:, None]
        getters = [part.bound(V, U, self.batched) for part in self.parts]
        adds = [part.accumulator(GV, GU) for part in self.parts if part.needs_grad]

        def forward() -> bool:
            out[...] = 0.0  # then add, as `forward`: the same numbers, -0.0 included
            for get in getters:
                np.add(out, get().sum(axis=1), out=out)
            return True

        def backward() -> None:
            for add in adds:
                add(g)

        return forward, backward

    def describe(self) -> str:
        n = sum(p.shape[1] for p in self.parts)
        return f"{self.spec.name}[{self.stop - self.start}x{n}]"


class LogSumExps(Sums):
    """`logsumexp` nodes: each lane's ``m + ln(1 + sum_{i != k} e^{t_i - m})``, as the engine."""

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

class MatMul(Instruction):
    """`linear` nodes sharing their inputs: ``z = W a + b``, one product per kind.

    The columns (terms ``k``) are grouped by the kinds of ``w_k`` and
    ``x_k``; batch-independent weights give a matrix product, per-example
    weights an element-wise product summed over ``k``.
    """

    def __init__(
        self, spec: OpSpec, parts: list[tuple[_Ref, _Ref]], bias: _Ref | None
    ) -> None:
        super().__init__(spec)
        self.parts = parts
        self.bias = bias

    def gradient_refs(self) -> list[_Ref]:
        refs = [ref for pair in self.parts for ref in pair]
        if self.bias is not None:
            refs.append(self.bias)
        return [ref for ref in refs if ref.needs_grad]

    @staticmethod
    def key(operands: tuple[Any, ...], kind: Kind) -> tuple[Any, ...]:
        weights, inputs, bias = operands
        shared = tuple(id(v) if type(v) is Value else ("c", v, math.copysign(1.0, v))
                       for v in inputs)
        return (tuple(kind(w) for w in weights), shared, kind(bias))

    @classmethod
    def pack(
        cls, spec: OpSpec, lanes: list[tuple[Any, ...]], kind: Kind, ref: MakeRef
    ) -> Instruction:
        w = len(lanes)
        inputs = lanes[0][1]
        pairs = [(kind(wk), kind(xk)) for wk, xk in zip(lanes[0][0], inputs, strict=True)]
        parts = []
        for pair in dict.fromkeys(pairs):
            columns = [k for k, p in enumerate(pairs) if p == pair]
            weights = [o[0][k] for o in lanes for k in columns]
            parts.append((ref(weights, (w, len(columns))),
                          ref([inputs[k] for k in columns], (len(columns),))))
        biases = [o[2] for o in lanes]
        bias = None if all(type(b) is float and b == 0.0 for b in biases) else ref(biases, (w,))
        return cls(spec, parts, bias)

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

    def bind(self, V: Array, U: Array, GV: Array, GU: Array) -> Bound:
        w, a = self.parts[0]
        if not (len(self.parts) == 1 and w.kind != "V" and a.kind == "V" and self.batched):
            return super().bind(V, U, GV, GU)
        # One layer's z = W a + b over the batch: the product goes straight into
        # its rows; backward is BP3, BP4 summed over the batch (delta a^T) and BP2.
        out = self.out(V, U)
        g = GV[self.start : self.stop]
        weights, inputs = w.bound(V, U), a.bound(V, U)
        bias = None if self.bias is None else self.bias.bound(V, U, True)
        add_bias = (self.bias.accumulator(GV, GU)
                    if self.bias is not None and self.bias.needs_grad else None)
        add_weights = w.accumulator(GV, GU) if w.needs_grad else None
        add_inputs = a.accumulator(GV, GU) if a.needs_grad else None
        # BP4's product is as large as the layer's weights: made straight into their
        # gradient rows where nothing else writes there, else into a buffer kept
        # here, not a new array each step (one of 190 KB is mapped and unmapped
        # from the system at every step, which costs more than the product)
        sole_weights = w.gradient_view(GV, GU) if w.needs_grad else None
        delta_a = np.empty(w.shape) if sole_weights is None else sole_weights
        if sole_weights is not None:
            add_weights = None

        def forward() -> bool:
            np.matmul(weights(), inputs(), out=out)
            if bias is not None:
                np.add(out, bias(), out=out)
            return True

        def backward() -> None:
            if add_bias is not None:
                add_bias(g)
            if add_weights is not None:
                add_weights(np.matmul(g, inputs().T, out=delta_a))
            elif sole_weights is not None:
                np.matmul(g, inputs().T, out=sole_weights)
            if add_inputs is not None:
                add_inputs(weights().T @ g)

        return forward, backward

    def describe(self) -> str:
        n = sum(a.shape[0] for _, a in self.parts)
        kind = "matmul" if all(w.kind != "V" for w, _ in self.parts) else "dot"
        return f"{self.spec.name}[{self.stop - self.start}x{n}] ({kind})"


KERNELS: dict[str, type[Instruction]] = {"sums": Sums, "logsumexps": LogSumExps, "matmul": MatMul}
"""The kernels an operation's spec may name (``spec.kernel``)."""


def kernel_of(spec: OpSpec) -> type[Instruction]:
    """The kernel replaying ``spec``'s nodes, or TracingError if it has none."""
    if spec.kernel is None and spec.forward is not None and len(spec.derivatives) == spec.arity:
        return Elementwise
    kernel = KERNELS.get(spec.kernel or "")
    if kernel is None:
        raise TracingError(
            f"compile: the operation {spec.name!r} cannot be replayed: its spec in "
            "microgrid.engine.OPS gives neither a batched forward and a local derivative "
            f"for each operand, nor a kernel compile has (kernel={spec.kernel!r}; "
            f"known: {', '.join(KERNELS)})"
        )
    return kernel
