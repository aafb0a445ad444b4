"""Tiny neural networks on the engine: `Neuron`, `Layer`, `MLP`, and `Trace`.

The numbering is Nielsen's (see BACKPROP.md): layer 1 is the input, and
neurons are counted from 1 as the book counts them, while Python's lists
count from 0. So the book's ``w^l_jk``, the weight from neuron ``k`` of
layer ``l-1`` to neuron ``j`` of layer ``l``, is
``net.layers[l-2].neurons[j-1].w[k-1]`` (or ``net.weight(l, j, k)``), and
``b^l_j`` is ``net.layers[l-2].neurons[j-1].b`` (``net.bias(l, j)``).
Parameters carry the book's names as labels (``w^2_12``, ``b^2_1``).

A neuron's weighted input ``z = sum_k w_k a_k + b`` is ONE engine node (op
``"linear"``), and its activation ``a = sigma(z)`` is one more; for the
``"linear"`` activation ``a`` is the ``z`` node itself. So after
``cost.backward()`` the grad of a ``z`` node is the book's ``delta``.

    >>> net = MLP(2, [3, 1], seed=0)
    >>> out = net([1.0, -2.0])          # always a list of Values
    >>> len(out), net.sizes
    (1, [2, 3, 1])

Model files
-----------
``net.save(path)`` writes, and ``MLP.load(path)`` reads, a UTF-8 JSON
object (never pickle)::

    {
      "format": "microgrid.mlp",
      "version": 1,
      "sizes": [2, 3, 1],                 # [nin, *nouts], each 1..MAX_WIDTH
      "activation": "relu",               # hidden layers
      "output_activation": "linear",      # last layer (may be "softmax")
      "layers": [                         # one per layer after the input
        {"w": [[w^2_11, w^2_12], ...],    # nout rows of nin finite numbers
         "b": [b^2_1, ...]},              # nout finite numbers
        ...
      ]
    }

Floats are written with Python's shortest round-trip ``repr``, so a
save/load round trip is bit-exact. Saving is atomic: the file is written
to a temporary file in the same folder, flushed to disk, then renamed
over the target, so an interrupted save (even ``kill -9``) leaves the
previous file intact. A read-only file is not replaced, as ``cp`` would
not; the new file keeps the permissions of the one it replaces.
Loading checks everything (that it is a regular file, its size, keys,
types, shapes, the number of parameters before building any, finite
numbers, known format and version) and raises `ValueError` saying what
is wrong. A network above `MAX_PARAMETERS` is refused unless the caller
raises the limit: ``MLP.load(path, max_parameters=...)``.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import random
import textwrap
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from microgrid import _checks as check
from microgrid._files import read_regular_file, write_atomically
from microgrid.engine import Scalar, Value, linear, linear_layer, logsumexp

__all__ = [
    "ACTIVATIONS",
    "HIDDEN_ACTIVATIONS",
    "INITS",
    "MAX_FILE_BYTES",
    "MAX_LAYERS",
    "MAX_WIDTH",
    "MLP",
    "Layer",
    "Module",
    "Neuron",
    "Trace",
    "TraceRow",
    "TraceTable",
    "softmax",
]

_Activation = Callable[[Value], Value]

# None means identity: the "linear" neuron's output IS its z node.
_NEURON_ACTIVATIONS: dict[str, _Activation | None] = {
    "sigmoid": Value.sigmoid,
    "tanh": Value.tanh,
    "relu": Value.relu,
    "linear": None,
}

HIDDEN_ACTIVATIONS = tuple(sorted(_NEURON_ACTIVATIONS))
"""The per-neuron activation names, which hidden layers take: linear, relu, sigmoid, tanh."""

ACTIVATIONS = tuple(sorted((*HIDDEN_ACTIVATIONS, "softmax")))
"""Activation names: all are per neuron except ``"softmax"``, which is per layer."""

INITS = ("he", "normal", "scaled_normal", "uniform", "xavier")
"""Initialisation names accepted by `Neuron`, `Layer` and `MLP`."""

FORMAT = "microgrid.mlp"
VERSION = 1
MAX_PARAMETERS = 2**20
"""`MLP.load` refuses networks with more parameters (1,048,576 load in about 5 s and
300 MB) unless given a larger ``max_parameters``."""
MAX_FILE_BYTES = 64 * 1024 * 1024
"""`MLP.load` refuses larger model files, or, with a larger ``max_parameters``, files
of more than 64 bytes per parameter allowed."""
_BYTES_PER_PARAMETER = 64  # a float's repr is at most 24 characters; leave room for layout
MAX_WIDTH = 65_536
"""`MLP.load` refuses layers wider than this."""
MAX_LAYERS = 1_000
"""`MLP.load` refuses networks with more layers than this."""

_INF = math.inf


def _initial_parameters(
    init: str, nin: int, fan_out: int, rng: random.Random
) -> tuple[list[float], float]:
    """Draw one neuron's weights ``w[0..nin-1]`` and bias ``b`` by init name."""
    if init == "uniform":  # micrograd
        return [rng.uniform(-1.0, 1.0) for _ in range(nin)], 0.0
    if init == "normal":  # Nielsen's first network: N(0, 1) for everything
        return [rng.gauss(0.0, 1.0) for _ in range(nin)], rng.gauss(0.0, 1.0)
    if init == "scaled_normal":  # Nielsen ch. 3: N(0, 1/nin) keeps z from saturating
        sd = 1.0 / math.sqrt(nin)
        return [rng.gauss(0.0, sd) for _ in range(nin)], rng.gauss(0.0, 1.0)
    if init == "xavier":  # Glorot & Bengio: U(-r, r), r = sqrt(6 / (fan_in + fan_out))
        r = math.sqrt(6.0 / (nin + fan_out))
        return [rng.uniform(-r, r) for _ in range(nin)], 0.0
    if init == "he":  # Kaiming He: N(0, 2/nin) for ReLU layers
        sd = math.sqrt(2.0 / nin)
        return [rng.gauss(0.0, sd) for _ in range(nin)], 0.0
    check.choice(init, INITS, "init")
    raise AssertionError("unreachable")  # pragma: no cover


def _checked_inputs(x: object, nin: int, who: str) -> Sequence[Scalar]:
    """The network input as a list/tuple of numbers or Values, or a clear error."""
    if type(x) is not list and type(x) is not tuple:
        if isinstance(x, (str, bytes)) or not isinstance(x, Iterable):
            raise TypeError(
                f"{who}: x must be a sequence of {nin} numbers or Values, "
                f"got {type(x).__name__}"
            )
        x = list(x)
    xs: Sequence[Any] = x
    if len(xs) != nin:
        raise ValueError(f"{who}: expected {nin} inputs, got {len(xs)}")
    for k, xk in enumerate(xs):
        t = type(xk)
        if t is Value:
            continue
        if t is not float:
            if isinstance(xk, bool) or not isinstance(xk, numbers.Real):
                raise TypeError(
                    f"{who}: input {k} is {t.__name__} {xk!r}; expected a number or a Value"
                )
            try:
                xk = float(xk)
            except OverflowError:
                raise ValueError(f"{who}: input {k} is too large for a float") from None
        if not -_INF < xk < _INF:
            raise ValueError(f"{who}: input {k} is {xk!r}; inputs must be finite")
    return xs


class Module:
    """Base class: a container of parameters (`Value` leaves).

    Subclasses define `named_parameters`; everything else derives from it.
    """

    def named_parameters(self) -> list[tuple[str, Value]]:
        """``(name, parameter)`` pairs in the order of `parameters`."""
        return []

    def parameters(self) -> list[Value]:
        """All parameters: layer by layer, neuron by neuron, ``w[0..nin-1]`` then ``b``."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        """Set every parameter's grad to 0.0 (leaves accumulate across backward passes)."""
        for p in self.parameters():
            p.grad = 0.0

    def num_parameters(self) -> int:
        """How many scalar parameters the module has."""
        return len(self.parameters())

    def state_dict(self) -> dict[str, float]:
        """A copy of the parameters' values by name (``"layers.0.neurons.1.w.2"`` etc.)."""
        return {name: p.data for name, p in self.named_parameters()}

    def load_state_dict(self, state: Mapping[str, float]) -> None:
        """Set the parameters' values from `state_dict`'s output.

        Everything is checked first (exactly the same names, finite real
        numbers); on any problem a ValueError (a TypeError for a value that
        is not a number) says what, and no parameter is changed.
        """
        if not isinstance(state, Mapping):
            raise TypeError(
                f"load_state_dict: state must be a mapping of names to numbers, "
                f"got {type(state).__name__}"
            )
        named = self.named_parameters()
        names = {name for name, _ in named}
        missing = [name for name, _ in named if name not in state]
        unexpected = [key for key in state if key not in names]
        if missing or unexpected:
            raise ValueError(
                f"state does not match the module: missing {missing[:5]}"
                f"{'...' if len(missing) > 5 else ''}, "
                f"unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''}"
            )
        values = [check.real(state[name], name, who="load_state_dict") for name, _ in named]
        for (_, p), v in zip(named, values, strict=True):
            p.data = v


def _finite_number(x: object, where: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise ValueError(f"{where}: expected a number, got {type(x).__name__} {check.quote(x)}")
    try:
        v = float(x)
    except OverflowError:
        raise ValueError(f"{where}: {check.quote(x)} is too large for a float") from None
    if not -_INF < v < _INF:
        raise ValueError(f"{where}: {check.quote(x)} is not a finite number")
    return v


def _weight_label(layer_number: int, j: int, k: int) -> str:
    """The book's name of ``w^l_jk`` (``j``, ``k`` counted from 1): ``w^2_12``, ``w^2_12,3``."""
    if j < 10 and k < 10:
        return f"w^{layer_number}_{j}{k}"
    return f"w^{layer_number}_{j},{k}"


class Neuron(Module):
    """One neuron: ``z = sum_k w[k] x[k] + b`` (one `linear` node), then ``a = sigma(z)``.

    ``activation`` is ``"relu"``, ``"tanh"``, ``"sigmoid"`` or ``"linear"``
    (then ``a`` IS the ``z`` node). ``init`` names the initialisation (see
    `INITS`); ``rng`` is a `random.Random` to draw from (a fresh unseeded
    one if None). ``layer_number`` (the book's ``l``) and ``index`` (the
    neuron's place in its layer's ``neurons`` list, from 0) only name the
    parameters, in the book's numbering: the neuron is ``j = index + 1``
    and ``w[k]`` is labelled ``w^l_j(k+1)``. ``fan_out`` is used by ``"xavier"``.

        >>> n = Neuron(2, "linear", rng=random.Random(0))
        >>> n.w[0].label, n.w[1].label, n.b.label
        ('w^2_11', 'w^2_12', 'b^2_1')
        >>> n([1.0, 2.0]).op
        'linear'
    """

    def __init__(
        self,
        nin: int,
        activation: str = "relu",
        init: str = "uniform",
        rng: random.Random | None = None,
        *,
        layer_number: int = 2,
        index: int = 0,
        fan_out: int = 1,
    ) -> None:
        nin = check.integer(nin, "nin", at_least=1, who="Neuron")
        layer_number = check.integer(layer_number, "layer_number", at_least=2, who="Neuron",
                                     why="layer 1 is the input")
        index = check.integer(index, "index", at_least=0, who="Neuron")
        self.activation = check.choice(activation, HIDDEN_ACTIVATIONS, "activation",
                                       who="Neuron")
        self._sigma = _NEURON_ACTIVATIONS[activation]
        check.choice(init, INITS, "init", who="Neuron")
        if rng is None:
            rng = random.Random()
        elif not isinstance(rng, random.Random):
            raise TypeError(f"Neuron: rng must be a random.Random, got {type(rng).__name__}")
        w, b = _initial_parameters(init, nin, fan_out, rng)
        j = index + 1  # the book counts neurons from 1
        self.w = [Value(wk, _weight_label(layer_number, j, k)) for k, wk in enumerate(w, 1)]
        self.b = Value(b, f"b^{layer_number}_{j}")

    def __call__(self, x: Sequence[Scalar]) -> Value:
        """The neuron's output ``a`` for inputs ``x`` (numbers or Values, ``len(w)`` of them)."""
        z = linear(self.w, x, self.b)
        sigma = self._sigma
        return z if sigma is None else sigma(z)

    def named_parameters(self) -> list[tuple[str, Value]]:
        """``("w.0", w[0]), ..., ("b", b)``."""
        return [*((f"w.{k}", wk) for k, wk in enumerate(self.w)), ("b", self.b)]

    def parameters(self) -> list[Value]:
        """``[w[0], ..., w[nin-1], b]``."""
        return [*self.w, self.b]

    def __repr__(self) -> str:
        return f"Neuron(nin={len(self.w)}, activation={self.activation!r})"


def softmax(z: Sequence[Value]) -> list[Value]:
    """The softmax layer's activations ``a_j = e^{z_j} / sum_i e^{z_i}``.

    Computed as ``a_j = e^{z_j - logsumexp(z)}``: every exponent is at most
    0, so no ``e^`` overflows (logits of +-1000 are fine), and the graph is
    made of engine operations only, with no number read off the values, so
    it compiles (`microgrid.compile`).

        >>> from microgrid import Value
        >>> [round(a.data, 4) for a in softmax([Value(0.0), Value(1000.0)])]
        [0.0, 1.0]
    """
    lse = logsumexp(z)
    return [(zj - lse).exp() for zj in z]


class Layer(Module):
    """``nout`` neurons reading the same ``nin`` inputs.

    ``activation`` is one of `ACTIVATIONS`. ``"softmax"`` is layer-wise
    (for an output layer): its neurons are ``"linear"`` and the layer
    returns ``a_j = e^{z_j} / sum_i e^{z_i}`` (see `softmax`).

        >>> layer = Layer(3, 2, activation="softmax", rng=random.Random(0))
        >>> round(sum(a.data for a in layer([1.0, 2.0, 3.0])), 12)
        1.0
    """

    def __init__(
        self,
        nin: int,
        nout: int,
        activation: str = "relu",
        init: str = "uniform",
        rng: random.Random | None = None,
        *,
        layer_number: int = 2,
    ) -> None:
        nin = check.integer(nin, "nin", at_least=1, who="Layer")
        nout = check.integer(nout, "nout", at_least=1, who="Layer")
        self.activation = check.choice(activation, ACTIVATIONS, "activation", who="Layer")
        self._softmax = activation == "softmax"
        neuron_activation = "linear" if self._softmax else activation
        self._sigma = _NEURON_ACTIVATIONS[neuron_activation]
        if rng is None:
            rng = random.Random()
        self.neurons = [
            Neuron(nin, neuron_activation, init, rng,
                   layer_number=layer_number, index=j, fan_out=nout)
            for j in range(nout)
        ]

    def __call__(self, x: Sequence[Scalar]) -> list[Value]:
        """The layer's outputs ``a_j`` for inputs ``x``."""
        # The hot path of training: one linear node and one activation node
        # per neuron, nothing else.
        z = self._z(x)
        sigma = self._sigma
        if self._softmax:
            return softmax(z)
        return z if sigma is None else [sigma(zj) for zj in z]

    def _z(self, x: Sequence[Scalar]) -> list[Value]:
        neurons = self.neurons
        return linear_layer([n.w for n in neurons], x, [n.b for n in neurons])

    def _z_and_a(self, x: Sequence[Scalar]) -> tuple[list[Value], list[Value]]:
        z = self._z(x)
        sigma = self._sigma
        if self._softmax:
            return z, softmax(z)
        if sigma is None:
            return z, list(z)
        return z, [sigma(zj) for zj in z]

    def named_parameters(self) -> list[tuple[str, Value]]:
        """``("neurons.j.w.k", w), ("neurons.j.b", b)`` for each neuron ``j``."""
        return [
            (f"neurons.{j}.{name}", p)
            for j, n in enumerate(self.neurons)
            for name, p in n.named_parameters()
        ]

    def parameters(self) -> list[Value]:
        """Neuron by neuron, each ``w[0..nin-1]`` then ``b``."""
        return [p for n in self.neurons for p in (*n.w, n.b)]

    def __repr__(self) -> str:
        nin = len(self.neurons[0].w)
        return f"Layer(nin={nin}, nout={len(self.neurons)}, activation={self.activation!r})"


class TraceRow(NamedTuple):
    """One number of a `Trace.table`, named as in the book (neurons counted from 1)."""

    label: str
    """The book's name: ``"z^2_1"``, ``"delta^2_1"``, ``"∂C/∂w^2_12"``."""
    quantity: str
    """What it is: ``"a"``, ``"z"``, ``"delta"``, ``"b"``, ``"dC/db"``, ``"w"`` or ``"dC/dw"``."""
    l: int  # noqa: E741 - the book's layer number
    """The layer, 1 being the input."""
    j: int
    """The neuron within layer ``l``, from 1."""
    k: int | None
    """For a weight ``w^l_jk``: the neuron of layer ``l-1`` it comes from, from 1; else None."""
    value: float
    python: str
    """Where the number lives: ``"trace.z[1][0].data"``, ``"net.layers[0].neurons[0].b.grad"``."""


class TraceTable(list[TraceRow]):
    """The rows of `Trace.table`; printing it (or its repr) shows them layer by layer."""

    def __init__(self, rows: Iterable[TraceRow], text: str) -> None:
        super().__init__(rows)
        self._text = text

    def __str__(self) -> str:
        return self._text

    __repr__ = __str__


_MAPPING = (
    "In Python, whose lists count from 0: a^l_j is trace.a[l-1][j-1], z^l_j is "
    "trace.z[l-1][j-1], delta^l_j is trace.delta[l-1][j-1], w^l_jk is "
    "net.layers[l-2].neurons[j-1].w[k-1] and b^l_j is net.layers[l-2].neurons[j-1].b."
)


def _book_number(n: object, name: str, symbol: str, first: int, last: int, why: str = "") -> int:
    """``n`` checked as one of the book's numbers ``first..last``, or a clear error."""
    n = check.integer(n, name)
    if not first <= n <= last:
        why = why or ("layers are numbered from 1, the input, as in the book" if name == "l"
                      else "neurons are numbered from 1, as in the book")
        raise ValueError(
            f"{name}={n} is out of range for {symbol}: {name} runs from {first} to {last} ({why})"
        )
    return n


@dataclass
class Trace:
    """Every layer's weighted inputs ``z`` and activations ``a``, from `MLP.trace`.

    Lists are indexed by the book's layer number ``l`` minus one and the
    neuron's number ``j`` minus one (the book counts neurons from 1):
    ``a[0]`` are the inputs as Values (``a^1 = x``), ``z[0] == []`` (the
    input layer has no weighted input), ``z[l-1][j-1]`` is the node
    ``z^l_j`` and ``a[l-1][j-1]`` is ``a^l_j``. `z_of`, `a_of` and
    `delta_of` take the book's numbers instead, and `table` shows every
    number by its book name.

    Two things to know when reading ``delta`` (the z nodes' grads):

    - Before a backward pass every ``delta`` is 0: the grads are filled by
      ``cost.backward()`` on a cost built from ``output``.
    - A second ``cost.backward()`` leaves ``delta`` as it was (a pass
      resets the grads of the graph's inner nodes) but adds into the
      parameters' grads (they are leaves, and leaves accumulate, as in
      PyTorch), so ``∂C/∂b`` is then twice ``delta`` and BP3 seems to fail.
      Call ``net.zero_grad()`` before each backward pass.
    """

    a: list[list[Value]]
    z: list[list[Value]]
    net: MLP | None = field(default=None, repr=False, compare=False)
    """The traced network (its parameters name the rows of `table`); None if unknown."""

    @property
    def output(self) -> list[Value]:
        """The network's output ``a^L`` (same as ``a[-1]``)."""
        return self.a[-1]

    @property
    def delta(self) -> list[list[float]]:
        """``delta^l_j = ∂C/∂z^l_j`` at ``[l-1][j-1]``: the z nodes' grads, laid out like ``z``.

        All 0 until ``cost.backward()`` has run (see the class docstring).
        """
        return [[zj.grad for zj in zl] for zl in self.z]

    def a_of(self, l: int, j: int) -> Value:  # noqa: E741 - the book's layer number
        """The node ``a^l_j``, in the book's numbering (``a_of(1, j)`` is the input ``x_j``)."""
        l = _book_number(l, "l", "a^l_j", 1, len(self.a))  # noqa: E741
        return self.a[l - 1][_book_number(j, "j", f"a^{l}_j", 1, len(self.a[l - 1])) - 1]

    def z_of(self, l: int, j: int) -> Value:  # noqa: E741
        """The node ``z^l_j``, in the book's numbering (``l`` from 2: the input has no ``z``)."""
        why = "layer 1 is the input, which has no z"
        l = _book_number(l, "l", "z^l_j", 2, len(self.z), why)  # noqa: E741
        return self.z[l - 1][_book_number(j, "j", f"z^{l}_j", 1, len(self.z[l - 1])) - 1]

    def delta_of(self, l: int, j: int) -> float:  # noqa: E741
        """``delta^l_j = ∂C/∂z^l_j``, the grad of `z_of(l, j)` (0 before ``cost.backward()``)."""
        return self.z_of(l, j).grad

    def table(self, precision: int = 6) -> TraceTable:
        """Every ``a``, ``z``, ``delta`` and (with the network) ``b``, ``∂C/∂b``, ``w``, ``∂C/∂w``.

        Each number is a `TraceRow` named as in the book (``"delta^3_1"``,
        neurons counted from 1) that also says where it lives in Python
        (``"trace.delta[2][0]"``). Printed, the table shows the numbers
        layer by layer to ``precision`` significant digits, and says when
        no backward pass seems to have run (every ``delta`` is 0) or when
        the parameters' grads are not this pass's alone (``∂C/∂b`` is not
        ``delta``, which BP3 says it is after one pass from zeroed grads).

            >>> from microgrid.losses import quadratic
            >>> net = MLP(1, [1], activation="sigmoid", seed=0)
            >>> trace = net.trace([2.0])
            >>> quadratic(trace.output, [0.0]).backward()     # C = 1/2 (0 - a^2_1)^2
            >>> print(trace.table(precision=4))  # doctest: +ELLIPSIS, +NORMALIZE_WHITESPACE
            trace of MLP(sizes=[1, 1], activation='sigmoid', output_activation='sigmoid', ...)
            layer 1: input
              j  a^1_j
              1      2
            layer 2: sigmoid (output)
              j  z^2_j   a^2_j  delta^2_j  b^2_j  ∂C/∂b^2_j
              1  1.378  0.7986     0.1284      0     0.1284
              j  k  w^2_jk  ∂C/∂w^2_jk
              1  1  0.6888      0.2569
            In Python, ...
            >>> [(r.label, r.python) for r in trace.table() if r.quantity == "dC/dw"]
            [('∂C/∂w^2_11', 'net.layers[0].neurons[0].w[0].grad')]
        """
        check.integer(precision, "precision", at_least=1, who="table")
        rows = list(self._rows())
        return TraceTable(rows, _table_text(self, rows, precision))

    def _rows(self) -> Iterator[TraceRow]:
        net = self.net
        for l, a_l in enumerate(self.a, 1):  # noqa: E741
            for j, aj in enumerate(a_l, 1):
                at = f"[{l - 1}][{j - 1}]"
                if l > 1:
                    yield TraceRow(f"z^{l}_{j}", "z", l, j, None, self.z[l - 1][j - 1].data,
                                   f"trace.z{at}.data")
                yield TraceRow(f"a^{l}_{j}", "a", l, j, None, aj.data, f"trace.a{at}.data")
                if l == 1:
                    continue
                yield TraceRow(f"delta^{l}_{j}", "delta", l, j, None, self.z[l - 1][j - 1].grad,
                               f"trace.delta{at}")
                if net is None:
                    continue
                neuron = f"net.layers[{l - 2}].neurons[{j - 1}]"
                n = net.layers[l - 2].neurons[j - 1]
                yield TraceRow(f"b^{l}_{j}", "b", l, j, None, n.b.data, f"{neuron}.b.data")
                yield TraceRow(f"∂C/∂b^{l}_{j}", "dC/db", l, j, None, n.b.grad, f"{neuron}.b.grad")
                for k, wk in enumerate(n.w, 1):
                    name = _weight_label(l, j, k)
                    yield TraceRow(name, "w", l, j, k, wk.data, f"{neuron}.w[{k - 1}].data")
                    yield TraceRow(f"∂C/∂{name}", "dC/dw", l, j, k, wk.grad,
                                   f"{neuron}.w[{k - 1}].grad")


def _table_text(trace: Trace, rows: list[TraceRow], precision: int) -> str:
    """`Trace.table` as text: per layer, a line per neuron, then a line per weight."""

    def number(v: float) -> str:
        return format(v + 0.0, f".{precision}g")  # + 0.0 turns -0.0 into 0.0

    net = trace.net
    value = {(r.quantity, r.l, r.j, r.k): r.value for r in rows}
    last = len(trace.a)
    lines = [f"trace of {net!r}" if net is not None else "trace"]
    for l, a_l in enumerate(trace.a, 1):  # noqa: E741
        if l == 1:
            lines.append("layer 1: input")
            lines += _columns(["j", "a^1_j"], [[str(j), number(value["a", 1, j, None])]
                                                for j in range(1, len(a_l) + 1)])
            continue
        activation = f": {net.layers[l - 2].activation}" if net is not None else ""
        lines.append(f"layer {l}{activation}{' (output)' if l == last else ''}")
        names = ["z", "a", "delta"] + (["b", "dC/db"] if net is not None else [])
        headers = ["j", *(f"{_column_name(q)}^{l}_j" for q in names)]
        lines += _columns(headers, [[str(j), *(number(value[q, l, j, None]) for q in names)]
                                    for j in range(1, len(a_l) + 1)])
        if net is not None:
            weights = [[str(r.j), str(r.k), number(r.value), number(value["dC/dw", l, r.j, r.k])]
                       for r in rows if r.quantity == "w" and r.l == l]
            lines += _columns(["j", "k", f"w^{l}_jk", f"∂C/∂w^{l}_jk"], weights)
    for note in [*_table_notes(trace, rows, value), _MAPPING]:
        lines += textwrap.wrap(note, 88, subsequent_indent="  ")
    return "\n".join(lines)


def _column_name(quantity: str) -> str:
    return {"dC/db": "∂C/∂b"}.get(quantity, quantity)


def _columns(headers: list[str], rows: list[list[str]]) -> list[str]:
    """Right-aligned columns, two spaces apart, indented by two."""
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows)]
    return ["  " + "  ".join(cell.rjust(w) for cell, w in zip(line, widths))
            for line in (headers, *rows)]


def _table_notes(
    trace: Trace, rows: list[TraceRow], value: dict[tuple[str, int, int, int | None], float]
) -> list[str]:
    """What a reader should know about these numbers: the traps of reading grads."""
    notes = []
    if all(r.value == 0.0 for r in rows if r.quantity == "delta"):
        notes.append(
            "Note: every delta is 0. Grads are filled by a backward pass: build a cost from "
            "trace.output and call cost.backward() (a cost that is flat here, such as a hinge "
            "cost beyond its margin, also gives 0)."
        )
    biases = [r for r in rows if r.quantity == "dC/db"]
    off = [r for r in biases if r.value != value["delta", r.l, r.j, None]]
    if off:
        notes.append(
            f"Note: ∂C/∂b is not delta for {len(off)} of {len(biases)} neurons (BP3 says it is, "
            "for one backward pass): the parameters' grads hold more than this pass. They add up "
            "over backward passes (call net.zero_grad() before cost.backward()), or the cost has "
            "terms from outside this trace (an L2 penalty, other examples)."
        )
    return notes


class MLP(Module):
    """A multi-layer perceptron: ``nin`` inputs, then a layer per entry of ``nouts``.

    Hidden layers use ``activation``; the last uses ``output_activation``
    (``"softmax"`` allowed there). By default (None) the output layer is
    ``"sigmoid"`` after sigmoid hidden layers, as the book's networks are
    sigmoid throughout, and ``"linear"`` after any other (micrograd's MLP:
    the output is a score, e.g. for the hinge cost); ``output_activation``
    and the repr say which it is. ``init`` is one of `INITS`; a given
    ``seed`` always gives the same network (None: a random one). The
    attributes ``init`` and ``seed`` record them; a network read by `load`
    has both None (its weights came from the file).

        >>> net = MLP(2, [16, 16, 1], seed=1)
        >>> net
        MLP(sizes=[2, 16, 16, 1], activation='relu', output_activation='linear', parameters=337)
        >>> MLP(2, [3, 2], activation="sigmoid", seed=1)
        MLP(sizes=[2, 3, 2], activation='sigmoid', output_activation='sigmoid', parameters=17)

    Neurons are numbered as in the book, from 1, and Python's lists from 0:
    the book's ``w^l_jk`` is ``net.layers[l-2].neurons[j-1].w[k-1]``, which
    `weight` finds by the book's numbers; it is labelled so.

        >>> w = net.weight(2, 4, 2)          # from neuron 2 of layer 1 to neuron 4 of layer 2
        >>> w is net.layers[0].neurons[3].w[1], w.label
        (True, 'w^2_42')

    `trace` runs the forward pass keeping every layer's ``z`` and ``a``;
    after ``cost.backward()`` its `Trace.table` shows every ``z``, ``a``,
    ``delta``, ``∂C/∂b`` and ``∂C/∂w`` by its book name.
    """

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        activation: str = "relu",
        output_activation: str | None = None,
        init: str = "uniform",
        seed: int | None = None,
    ) -> None:
        nin = check.integer(nin, "nin", at_least=1, who="MLP")
        if isinstance(nouts, (str, bytes)) or not isinstance(nouts, Sequence) or not nouts:
            raise TypeError(f"MLP: nouts must be a non-empty list of layer widths, got {nouts!r}")
        widths = [check.integer(n, f"nouts[{i}]", at_least=1, who="MLP")
                  for i, n in enumerate(nouts)]
        self.activation = check.choice(activation, HIDDEN_ACTIVATIONS, "hidden activation",
                                       who="MLP")
        if output_activation is None:
            output_activation = "sigmoid" if activation == "sigmoid" else "linear"
        self.output_activation = check.choice(output_activation, ACTIVATIONS,
                                              "output activation", who="MLP")
        self.init: str | None = check.choice(init, INITS, "init", who="MLP")
        self.seed: int | None = check.seed(seed, who="MLP")
        rng = random.Random(seed)
        self.sizes = [nin, *widths]
        self.layers = [
            Layer(
                self.sizes[i],
                self.sizes[i + 1],
                output_activation if i == len(widths) - 1 else activation,
                init,
                rng,
                layer_number=i + 2,
            )
            for i in range(len(widths))
        ]

    def weight(self, l: int, j: int, k: int) -> Value:  # noqa: E741 - the book's layer number
        """The book's ``w^l_jk``: from neuron ``k`` of layer ``l-1`` to neuron ``j`` of layer ``l``.

        Numbers as in the book: layers from 1 (the input), neurons from 1.
        It is ``net.layers[l-2].neurons[j-1].w[k-1]``.
        """
        neuron = self._neuron("w", l, j)
        return neuron.w[_book_number(k, "k", f"w^{l}_{j}k", 1, len(neuron.w)) - 1]

    def bias(self, l: int, j: int) -> Value:  # noqa: E741
        """The book's ``b^l_j`` (numbered from 1): ``net.layers[l-2].neurons[j-1].b``."""
        return self._neuron("b", l, j).b

    def _neuron(self, letter: str, l: int, j: int) -> Neuron:  # noqa: E741
        symbol = f"{letter}^l_j{'k' if letter == 'w' else ''}"
        why = "layer 1 is the input, which has no parameters"
        l = _book_number(l, "l", symbol, 2, len(self.sizes), why)  # noqa: E741
        neurons = self.layers[l - 2].neurons
        symbol = f"{letter}^{l}_j{'k' if letter == 'w' else ''}"
        return neurons[_book_number(j, "j", symbol, 1, len(neurons)) - 1]

    def __call__(self, x: Iterable[Scalar]) -> list[Value]:
        """The output layer's activations for input ``x`` (a list, even of one Value).

        ``x`` holds ``nin`` finite numbers or Values; a wrong length raises
        ValueError and a non-number TypeError.
        """
        out = _checked_inputs(x, self.sizes[0], "MLP")
        for layer in self.layers:
            out = layer(out)
        return out  # type: ignore[return-value]

    def trace(self, x: Iterable[Scalar]) -> Trace:
        """The forward pass with every layer's ``z`` and ``a`` nodes, labelled as in the book.

        Numbers in ``x`` become new leaf Values ``a^1_k`` (so ``∂C/∂x`` is
        readable after backward); Values are used as given (and labelled
        ``a^1_k`` if they have no label). After ``cost.backward()``,
        ``trace.delta_of(l, j)`` (``trace.delta[l-1][j-1]``) is
        ``delta^l_j``, and ``print(trace.table())`` shows every number.

            >>> net = MLP(2, [2, 1], seed=0)
            >>> t = net.trace([0.5, -1.0])
            >>> [len(z) for z in t.z], t.z[1][0].label, t.a[0][1].label
            ([0, 2, 1], 'z^2_1', 'a^1_2')
            >>> t.z_of(2, 1) is t.z[1][0]
            True
        """
        xs = _checked_inputs(x, self.sizes[0], "MLP.trace")
        inputs: list[Value] = []
        for k, xk in enumerate(xs, 1):
            if type(xk) is Value:
                if not xk.label:
                    xk.label = f"a^1_{k}"
                inputs.append(xk)
            else:
                inputs.append(Value(float(xk), f"a^1_{k}"))
        a: list[list[Value]] = [inputs]
        z: list[list[Value]] = [[]]
        for layer_number, layer in enumerate(self.layers, 2):
            zl, al = layer._z_and_a(a[-1])
            for j, (zj, aj) in enumerate(zip(zl, al, strict=True), 1):
                if zj is aj:  # a "linear" neuron: a is the z node itself
                    zj.label = f"z^{layer_number}_{j} = a^{layer_number}_{j}"
                else:
                    zj.label = f"z^{layer_number}_{j}"
                    aj.label = f"a^{layer_number}_{j}"
            z.append(zl)
            a.append(al)
        return Trace(a=a, z=z, net=self)

    def named_parameters(self) -> list[tuple[str, Value]]:
        """``("layers.i.neurons.j.w.k", w)``, ``("layers.i.neurons.j.b", b)``: Python's indices.

        ``layers.i.neurons.j.w.k`` is the book's ``w^{i+2}_{j+1,k+1}``.
        """
        return [
            (f"layers.{i}.{name}", p)
            for i, layer in enumerate(self.layers)
            for name, p in layer.named_parameters()
        ]

    def parameters(self) -> list[Value]:
        """Layer by layer, neuron by neuron, ``w[0..nin-1]`` then ``b``."""
        return [p for layer in self.layers for n in layer.neurons for p in (*n.w, n.b)]

    def __repr__(self) -> str:
        return (
            f"MLP(sizes={self.sizes}, activation={self.activation!r}, "
            f"output_activation={self.output_activation!r}, "
            f"parameters={self.num_parameters()})"
        )

    # -- numpy and PyTorch: microgrid.export, imported when asked for -------

    def to_arrays(self) -> tuple[list[Any], list[Any]]:
        """``(biases, weights)``: numpy arrays in ``network.py``'s layout (`export.to_arrays`)."""
        from microgrid import export

        return export.to_arrays(self)

    @classmethod
    def from_arrays(
        cls,
        biases: Sequence[Any],
        weights: Sequence[Any],
        activation: str = "sigmoid",
        output_activation: str = "sigmoid",
    ) -> MLP:
        """A network holding ``network.py``'s ``biases`` and ``weights`` (`export.from_arrays`)."""
        from microgrid import export

        return export.from_arrays(biases, weights, activation, output_activation, cls=cls)

    def to_torch(self, dtype: Any = None) -> Any:
        """A ``torch.nn.Sequential`` with the same parameters, float64 (`export.to_torch`)."""
        from microgrid import export

        return export.to_torch(self, dtype)

    @classmethod
    def from_torch(cls, module: Any) -> MLP:
        """A network holding a ``torch.nn.Sequential``'s parameters (`export.from_torch`)."""
        from microgrid import export

        return export.from_torch(module, cls=cls)

    # -- model files ------------------------------------------------------

    def to_document(self) -> dict[str, Any]:
        """The model file's JSON object (see the module docstring) as Python data."""
        layers = []
        for i, layer in enumerate(self.layers):
            w = []
            for j, n in enumerate(layer.neurons):
                for k, wk in enumerate(n.w):
                    _finite_number(wk.data, f"layers[{i}].w[{j}][{k}] ({wk.label})")
                w.append([wk.data for wk in n.w])
                _finite_number(n.b.data, f"layers[{i}].b[{j}] ({n.b.label})")
            layers.append({"w": w, "b": [n.b.data for n in layer.neurons]})
        return {
            "format": FORMAT,
            "version": VERSION,
            "sizes": list(self.sizes),
            "activation": self.activation,
            "output_activation": self.output_activation,
            "layers": layers,
        }

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the network to ``path`` as JSON, atomically (see the module docstring).

        The previous file at ``path``, if any, stays intact until the new one
        is complete on disk. Raises ValueError if a parameter is not finite,
        PermissionError if ``path`` is read-only, OSError naming ``path`` if
        it cannot be written.
        """
        document = self.to_document()  # checks before touching the disk
        write_atomically(path, (json.dumps(document, allow_nan=False) + "\n").encode("utf-8"))

    @classmethod
    def from_document(cls, document: object, *, max_parameters: int = MAX_PARAMETERS) -> MLP:
        """Build a network from a parsed model file, validating everything.

        Raises ValueError naming the first problem found, or if the sizes
        make more than ``max_parameters`` parameters.
        """
        limit = check.integer(max_parameters, "max_parameters", at_least=1)
        return _from_document(cls, document, limit)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, max_parameters: int = MAX_PARAMETERS) -> MLP:
        """Read a network written by `save`.

        Raises ValueError saying what is wrong with a malformed, truncated,
        oversized or hostile file, or with what is not a regular file (a
        named pipe, a device); OSError if it cannot be read at all. A
        network of more than ``max_parameters`` parameters (`MAX_PARAMETERS`
        by default) is refused before it is built; raise the limit for a
        larger network you trust.
        """
        limit = check.integer(max_parameters, "max_parameters", at_least=1)
        name = os.fspath(path)
        max_bytes = max(MAX_FILE_BYTES, _BYTES_PER_PARAMETER * limit)
        raw = read_regular_file(path, max_bytes + 1)
        if len(raw) > max_bytes:
            raise ValueError(f"{name!r}: larger than {max_bytes} bytes, the cap for "
                             f"max_parameters={limit:,}")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"{name!r}: not UTF-8 text ({e.reason})") from None
        try:
            document = json.loads(text, parse_constant=_reject_constant)
        except RecursionError:
            raise ValueError(f"{name!r}: JSON nested too deeply") from None
        except ValueError as e:
            raise ValueError(f"{name!r}: not valid JSON ({e})") from None
        try:
            return _from_document(cls, document, limit)
        except ValueError as e:
            raise ValueError(f"{name!r}: {e}") from None


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a finite number")


_KEYS = ("format", "version", "sizes", "activation", "output_activation", "layers")


def _from_document(cls: type[MLP], document: object, max_parameters: int) -> MLP:
    if not isinstance(document, dict):
        raise ValueError(f"expected a JSON object, got {type(document).__name__}")
    missing = [key for key in _KEYS if key not in document]
    if missing:
        raise ValueError(f"missing keys: {', '.join(missing)}")
    extra = sorted(str(key) for key in document if key not in _KEYS)
    if extra:
        raise ValueError(f"unexpected keys: {check.quote(extra)[1:-1]}")
    if document["format"] != FORMAT:
        raise ValueError(f"format is {check.quote(document['format'])}, expected {FORMAT!r}")
    version = document["version"]
    if isinstance(version, bool) or not isinstance(version, int) or version != VERSION:
        raise ValueError(
            f"unsupported version {check.quote(version)} (this microgrid reads version {VERSION})"
        )
    sizes = document["sizes"]
    if not isinstance(sizes, list) or not 2 <= len(sizes) <= MAX_LAYERS + 1:
        raise ValueError(f"sizes must be a list of 2 to {MAX_LAYERS + 1} layer widths")
    for i, n in enumerate(sizes):
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_WIDTH:
            raise ValueError(
                f"sizes[{i}] is {check.quote(n)}; expected an int from 1 to {MAX_WIDTH}"
            )
    # Before reading any layer: a file of 61 MB can describe 32 million parameters,
    # which take minutes and gigabytes to build.
    count = sum((sizes[i] + 1) * sizes[i + 1] for i in range(len(sizes) - 1))
    if count > max_parameters:
        raise ValueError(
            f"sizes {check.quote(sizes)} make {count:,} parameters, more than "
            f"max_parameters={max_parameters:,}; if you trust the file, raise the limit: "
            f"MLP.load(path, max_parameters={count})"
        )
    activation = document["activation"]
    if not isinstance(activation, str) or activation not in _NEURON_ACTIVATIONS:
        raise ValueError(
            f"activation {check.quote(activation)} is not one of {list(HIDDEN_ACTIVATIONS)}"
        )
    output_activation = document["output_activation"]
    if not isinstance(output_activation, str) or output_activation not in ACTIVATIONS:
        raise ValueError(
            f"output_activation {check.quote(output_activation)} is not one of {list(ACTIVATIONS)}"
        )
    layers = document["layers"]
    if not isinstance(layers, list) or len(layers) != len(sizes) - 1:
        raise ValueError(f"layers must be a list of {len(sizes) - 1} layers, one per width")
    # Check every shape and number before building anything: the network's
    # size is then bounded by the file's.
    values: list[tuple[list[list[float]], list[float]]] = []
    for i, layer in enumerate(layers):
        nin, nout = sizes[i], sizes[i + 1]
        if not isinstance(layer, dict) or set(layer) != {"w", "b"}:
            raise ValueError(f"layers[{i}] must be an object with exactly the keys 'w' and 'b'")
        w, b = layer["w"], layer["b"]
        if not isinstance(w, list) or len(w) != nout:
            raise ValueError(f"layers[{i}].w must be a list of {nout} rows")
        rows = []
        for j, row in enumerate(w):
            if not isinstance(row, list) or len(row) != nin:
                raise ValueError(f"layers[{i}].w[{j}] must be a list of {nin} numbers")
            rows.append([_finite_number(x, f"layers[{i}].w[{j}][{k}]") for k, x in enumerate(row)])
        if not isinstance(b, list) or len(b) != nout:
            raise ValueError(f"layers[{i}].b must be a list of {nout} numbers")
        values.append((rows, [_finite_number(x, f"layers[{i}].b[{j}]") for j, x in enumerate(b)]))
    net = cls(sizes[0], sizes[1:], activation, output_activation, seed=0)
    for layer_obj, (rows, biases) in zip(net.layers, values, strict=True):
        for n, row, bias in zip(layer_obj.neurons, rows, biases, strict=True):
            for wk, x in zip(n.w, row, strict=True):
                wk.data = x
            n.b.data = bias
    net.init = net.seed = None  # the weights are the file's, not drawn
    return net
