"""Backpropagation the textbook way: BP1-BP4 in plain floats.

This module is the independent witness to the autodiff engine. Its
`backprop` is the algorithm of Nielsen's chapter 2 written with plain
Python floats and lists; it shares no code with `microgrid.engine` (it
never builds a `Value`), so when the two agree, that agreement means
something. Its sums use `math.fsum` (correctly rounded), not the built-in
`sum`, whose rounding changed in Python 3.12: its numbers are the same on
every version. Names follow BACKPROP.md:

    z^l = w^l a^{l-1} + b^l,  a^l = sigma(z^l),  a^1 = x
    BP1  delta^L = grad_a C ⊙ sigma'(z^L)
    BP2  delta^l = ((w^{l+1})^T delta^{l+1}) ⊙ sigma'(z^l)
    BP3  ∂C/∂b^l_j  = delta^l_j
    BP4  ∂C/∂w^l_jk = a^{l-1}_k delta^l_j

Indexing. The book numbers neurons from 1, Python's lists count from 0.
``z``, ``a`` and ``delta`` are lists indexed by the book's layer number
``l`` minus one and neuron number ``j`` minus one, exactly like
`microgrid.nn.Trace` (``z[l-1][j-1]`` is ``z^l_j``; ``z[0] == []`` and
``delta[0] == []``: the input layer has neither). ``weights``, ``biases``,
``nabla_w`` and ``nabla_b`` are indexed like ``net.layers``:
``weights[l-2][j-1][k-1]`` is ``w^l_jk`` and ``biases[l-2][j-1]`` is
``b^l_j``. The report names everything in the book's numbering.

`microgrid.report.compare` runs the engine beside this closed form and
reports, equation by equation, how far apart they are; this module never
imports the engine (nor anything of the package but its argument checks).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from microgrid import _checks as check  # imports nothing from the package

if TYPE_CHECKING:  # pragma: no cover
    from microgrid.nn import MLP

__all__ = [
    "ACTIVATIONS",
    "COSTS",
    "HIDDEN_ACTIVATIONS",
    "Backprop",
    "Network",
    "backprop",
    "cost_value",
    "default_output_activation",
    "feedforward",
    "mini_batch_gradients",
    "sigma",
    "sigma_prime",
    "softmax",
    "update_mini_batch",
]

# The names are `microgrid.nn`'s and `microgrid.losses`' (a test keeps them
# equal): the witness spells them the same but may not import the engine's side.

ACTIVATIONS = ("linear", "relu", "sigmoid", "softmax", "tanh")
"""Activation names; all act neuron by neuron except ``"softmax"`` (a whole layer)."""

HIDDEN_ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh")
"""The element-wise activations, which hidden layers take."""

COSTS = ("quadratic", "cross_entropy", "log_likelihood")
"""Cost names, as `microgrid.losses` spells them: ``1/2 ||y - a||^2``;
``-sum [y ln a + (1-y) ln(1-a)]``; ``-ln a_y``."""


def default_output_activation(cost: str, activation: str = "sigmoid") -> str:
    """The output activation for ``cost`` after hidden layers of ``activation``.

    Cross-entropy goes with sigmoid outputs and log-likelihood with a
    softmax layer, as in the book (then BP1 reduces to ``delta^L = a^L - y``).
    The quadratic cost takes what `microgrid.nn.MLP` chooses by default:
    sigmoid after sigmoid hidden layers (the book's networks are sigmoid
    throughout), linear after any other. `microgrid bp` uses this, so it
    builds the network ``MLP`` builds for the same request.

        >>> default_output_activation("log_likelihood")
        'softmax'
        >>> [default_output_activation("quadratic", act) for act in ("sigmoid", "relu")]
        ['sigmoid', 'linear']
    """
    check.choice(cost, COSTS, "cost")
    check.choice(activation, HIDDEN_ACTIVATIONS, "hidden activation")
    if cost == "log_likelihood":
        return "softmax"
    if cost == "cross_entropy" or activation == "sigmoid":
        return "sigmoid"
    return "linear"


# -- activations: sigma and sigma', by name ----------------------------------


def sigma(activation: str, z: float) -> float:
    """The activation function ``sigma(z)`` of an element-wise activation.

        >>> sigma("sigmoid", 0.0), sigma("relu", -2.0)
        (0.5, 0.0)
    """
    if activation == "sigmoid":
        if z >= 0.0:
            return 1.0 / (1.0 + math.exp(-z))
        e = math.exp(z)  # z < 0: never overflows
        return e / (1.0 + e)
    if activation == "tanh":
        return math.tanh(z)
    if activation == "relu":
        return z if z > 0.0 else 0.0
    if activation == "linear":
        return z
    check.choice(activation, HIDDEN_ACTIVATIONS, "element-wise activation")
    raise AssertionError("unreachable")  # pragma: no cover


def sigma_prime(activation: str, z: float) -> float:
    """The derivative ``sigma'(z)``; ``relu'(0) = 0``, as in the engine and PyTorch.

        >>> sigma_prime("sigmoid", 0.0), sigma_prime("relu", 0.0)
        (0.25, 0.0)
    """
    if activation == "sigmoid":
        s = sigma("sigmoid", z)
        return s * (1.0 - s)
    if activation == "tanh":
        t = math.tanh(z)
        return 1.0 - t * t
    if activation == "relu":
        return 1.0 if z > 0.0 else 0.0
    if activation == "linear":
        return 1.0
    check.choice(activation, HIDDEN_ACTIVATIONS, "element-wise activation")
    raise AssertionError("unreachable")  # pragma: no cover


def softmax(z: Sequence[float]) -> list[float]:
    """``a_j = exp(z_j - max z) / sum_i exp(z_i - max z)`` (shifting by max z avoids overflow).

        >>> softmax([0.0, 0.0])
        [0.5, 0.5]
    """
    m = max(z)
    e = [math.exp(zj - m) for zj in z]
    total = math.fsum(e)
    return [ej / total for ej in e]


# -- the network as plain floats ----------------------------------------------


@dataclass
class Network:
    """A network's parameters as plain floats: the closed form's view of an MLP.

    ``weights[l-2][j-1][k-1]`` is ``w^l_jk``, ``biases[l-2][j-1]`` is ``b^l_j`` and
    ``activations[l-2]`` names ``sigma`` for layer ``l`` (``"softmax"`` only
    for the last layer). Build one with `from_lists` or `from_mlp`.
    """

    weights: list[list[list[float]]]
    biases: list[list[float]]
    activations: list[str]

    def __post_init__(self) -> None:
        _validate_network(self.weights, self.biases, self.activations)

    @classmethod
    def from_lists(
        cls,
        weights: Sequence[Sequence[Sequence[float]]],
        biases: Sequence[Sequence[float]],
        activation: str = "sigmoid",
        output_activation: str | None = None,
    ) -> Network:
        """A network from nested lists: ``weights[l-2][j-1][k-1]``, ``biases[l-2][j-1]``.

        ``w^l_jk`` and ``b^l_j`` in the book's numbering (neurons from 1).
        Hidden layers use ``activation``; the last uses ``output_activation``
        (default: the same as the hidden layers). Copies the numbers.

            >>> Network.from_lists([[[1.0, 2.0]]], [[0.5]]).sizes
            [2, 1]
        """
        depth = len(_rows(weights, "weights"))
        out = activation if output_activation is None else output_activation
        activations = [activation] * (depth - 1) + [out] if depth else []
        w = [[_floats(row, f"weights[{i}][{j}]")
              for j, row in enumerate(_rows(w_l, f"weights[{i}]"))]
             for i, w_l in enumerate(weights)]
        b = [_floats(b_l, f"biases[{i}]") for i, b_l in enumerate(_rows(biases, "biases"))]
        return cls(w, b, activations)

    @classmethod
    def from_mlp(cls, net: MLP) -> Network:
        """A snapshot of ``net``'s parameters (``net.layers[i].neurons[j].w[k].data``)."""
        layers = getattr(net, "layers", None)
        if not isinstance(layers, list):
            raise TypeError(f"expected an MLP (with .layers), got {type(net).__name__}")
        weights = [[[wk.data for wk in n.w] for n in layer.neurons] for layer in layers]
        biases = [[n.b.data for n in layer.neurons] for layer in layers]
        activations = [str(layer.activation) for layer in layers]
        return cls(weights, biases, activations)

    @property
    def sizes(self) -> list[int]:
        """``[n_1, n_2, ..., n_L]``: the width of each layer, the input's first."""
        return [len(self.weights[0][0]), *(len(wl) for wl in self.weights)]


def _rows(x: object, where: str) -> Sequence[Any]:
    if not isinstance(x, Sequence) or isinstance(x, (str, bytes)):
        raise TypeError(f"{where} must be a list, got {type(x).__name__} {x!r}")
    return x


def _floats(xs: object, where: str) -> list[float]:
    """``xs`` as a list of finite floats, or a TypeError/ValueError naming the bad entry."""
    out = []
    for k, x in enumerate(_rows(xs, where)):
        if isinstance(x, bool) or not isinstance(x, numbers.Real):
            raise TypeError(f"{where}[{k}] is {type(x).__name__} {x!r}; expected a number")
        v = float(x)
        if not math.isfinite(v):
            raise ValueError(f"{where}[{k}] is {v!r}; expected a finite number")
        out.append(v)
    return out


def _validate_network(
    weights: list[list[list[float]]], biases: list[list[float]], activations: list[str]
) -> None:
    if not weights:
        raise ValueError("a network needs at least one layer of weights")
    if not len(weights) == len(biases) == len(activations):
        raise ValueError(
            f"{len(weights)} weight layers, {len(biases)} bias layers and "
            f"{len(activations)} activations; they must match"
        )
    nin = len(weights[0][0]) if weights[0] else 0
    if nin == 0:
        raise ValueError("weights[0] must have at least one row and one column")
    for i, (wl, bl, act) in enumerate(zip(weights, biases, activations, strict=True)):
        check.choice(act, ACTIVATIONS, f"activation of layer {i + 2}")
        if act == "softmax" and i != len(weights) - 1:
            raise ValueError(f"softmax is a layer-wise output activation; layer {i + 2} is hidden")
        if not wl:
            raise ValueError(f"weights[{i}] has no rows (layer {i + 2} needs a neuron)")
        for j, row in enumerate(wl):
            if len(row) != nin:
                raise ValueError(
                    f"weights[{i}][{j}] has {len(row)} entries; layer {i + 1} has {nin} neurons"
                )
        if len(bl) != len(wl):
            raise ValueError(f"biases[{i}] has {len(bl)} entries; weights[{i}] has {len(wl)} rows")
        nin = len(wl)


# -- the forward pass ---------------------------------------------------------


def feedforward(
    network: Network, x: Sequence[float]
) -> tuple[list[list[float]], list[list[float]]]:
    """The forward pass: ``(z, a)`` indexed by ``l - 1`` (``z[0] == []``, ``a[0] == x``).

        >>> net = Network.from_lists([[[2.0]]], [[1.0]], "linear")
        >>> feedforward(net, [3.0])
        ([[], [7.0]], [[3.0], [7.0]])
    """
    a_prev = _floats(x, "x")
    if len(a_prev) != network.sizes[0]:
        raise ValueError(f"x has {len(a_prev)} entries; the network takes {network.sizes[0]}")
    z: list[list[float]] = [[]]
    a: list[list[float]] = [a_prev]
    for w_l, b_l, act in zip(network.weights, network.biases, network.activations, strict=True):
        # z^l_j = sum_k w^l_jk a^{l-1}_k + b^l_j
        z_l = [math.fsum(w_jk * a_k for w_jk, a_k in zip(w_j, a_prev, strict=True)) + b_j
               for w_j, b_j in zip(w_l, b_l, strict=True)]
        if not all(math.isfinite(zj) for zj in z_l):
            raise OverflowError(f"z^{len(z) + 1} overflows a float: {z_l}")
        a_l = softmax(z_l) if act == "softmax" else [sigma(act, zj) for zj in z_l]
        z.append(z_l)
        a.append(a_l)
        a_prev = a_l
    return z, a


# -- the cost and its gradient at the output -----------------------------------


def _target(y: object, cost: str, n_out: int) -> list[float]:
    """The target as a list of ``n_out`` floats (a class index becomes one-hot)."""
    if cost == "log_likelihood" and type(y) is int:
        if not 0 <= y < n_out:
            raise ValueError(f"class index y={y!r} out of range for {n_out} outputs")
        return [1.0 if j == y else 0.0 for j in range(n_out)]
    ys = _floats(y, "y")
    if len(ys) != n_out:
        raise ValueError(f"y has {len(ys)} entries; the network has {n_out} outputs")
    if cost == "log_likelihood" and (
        sorted(ys) != [0.0] * (n_out - 1) + [1.0]
    ):
        raise ValueError(f"log_likelihood needs y as a class index or a one-hot list, got {ys}")
    return ys


def cost_value(cost: str, a_L: Sequence[float], y: Sequence[float]) -> float:
    """``C_x`` for output ``a^L`` and target ``y`` (one-hot for log_likelihood).

    Cross-entropy takes ``0 ln 0 = 0``, so ``a_j = y_j = 1`` costs nothing.

        >>> cost_value("quadratic", [1.0, 0.0], [0.0, 0.0])
        0.5
    """
    check.choice(cost, COSTS, "cost")
    if len(a_L) != len(y):
        raise ValueError(f"a^L has {len(a_L)} entries but y has {len(y)}; they must match")
    if cost == "quadratic":
        return 0.5 * math.fsum((yj - aj) ** 2 for aj, yj in zip(a_L, y, strict=True))
    if cost == "cross_entropy":
        total = 0.0
        for j, (aj, yj) in enumerate(zip(a_L, y, strict=True)):
            for weight, p in ((yj, aj), (1.0 - yj, 1.0 - aj)):
                if weight != 0.0:
                    if not p > 0.0:
                        raise ValueError(
                            f"cross_entropy: a^L_{j + 1} = {aj!r} with y_{j + 1} = {yj!r} "
                            "makes the cost infinite (a must lie strictly between 0 and 1)"
                        )
                    total -= weight * math.log(p)
        return total
    j = y.index(1.0) if isinstance(y, list) else list(y).index(1.0)
    if not a_L[j] > 0.0:
        raise ValueError(f"log_likelihood: a^L_{j + 1} = {a_L[j]!r}; -ln a_y needs a_y > 0")
    return -math.log(a_L[j])


def _grad_a(cost: str, a_L: list[float], y: list[float]) -> list[float]:
    """``grad_a C``: the partial derivatives ``∂C/∂a^L_j``."""
    if cost == "quadratic":
        return [aj - yj for aj, yj in zip(a_L, y, strict=True)]
    if cost == "cross_entropy":
        # ∂/∂a of -[y ln a + (1-y) ln(1-a)] = (a - y) / (a (1 - a))
        out = []
        for j, (aj, yj) in enumerate(zip(a_L, y, strict=True)):
            if not 0.0 < aj < 1.0:
                raise ValueError(
                    f"cross_entropy: a^L_{j + 1} = {aj!r} is not strictly between 0 and 1, "
                    "so ∂C/∂a is undefined (use a sigmoid output layer)"
                )
            out.append((aj - yj) / (aj * (1.0 - aj)))
        return out
    # log-likelihood: ∂(-ln a_y)/∂a_j = -1/a_y for j = y, else 0
    return [-1.0 / aj if yj == 1.0 else 0.0 for aj, yj in zip(a_L, y, strict=True)]


def _output_error(
    cost: str, activation: str, z_L: list[float], a_L: list[float], y: list[float]
) -> list[float]:
    """BP1: ``delta^L``, with the book's ``a - y`` shortcuts where it derives them."""
    if (cost, activation) in (("cross_entropy", "sigmoid"), ("log_likelihood", "softmax")):
        # The sigma' (or the softmax Jacobian) cancels: delta^L = a^L - y.
        return [aj - yj for aj, yj in zip(a_L, y, strict=True)]
    grad_a = _grad_a(cost, a_L, y)
    if activation == "softmax":
        # A layer-wise activation: BP1's Hadamard product becomes the Jacobian
        # product delta_j = sum_i ∂C/∂a_i ∂a_i/∂z_j = a_j (∂C/∂a_j - sum_i ∂C/∂a_i a_i).
        mean = math.fsum(gi * ai for gi, ai in zip(grad_a, a_L, strict=True))
        return [aj * (gj - mean) for aj, gj in zip(a_L, grad_a, strict=True)]
    # BP1: delta^L = grad_a C ⊙ sigma'(z^L)
    return [gj * sigma_prime(activation, zj) for gj, zj in zip(grad_a, z_L, strict=True)]


# -- backpropagation ----------------------------------------------------------


@dataclass
class Backprop:
    """Everything the closed form computes for one example.

    ``z``, ``a``, ``delta`` are indexed by ``l - 1`` (like `microgrid.nn.Trace`);
    ``nabla_b``, ``nabla_w`` by ``l - 2`` (like ``net.layers`` and `Network`):
    ``nabla_w[l-2][j-1][k-1] = ∂C/∂w^l_jk``. ``nabla_x[k-1] = ∂C/∂x_k`` (BP2's
    ``(w^2)^T delta^2`` one layer further, without a ``sigma'``). ``cost`` is ``C_x``
    for the target ``y``.
    """

    z: list[list[float]]
    a: list[list[float]]
    delta: list[list[float]]
    nabla_b: list[list[float]]
    nabla_w: list[list[list[float]]]
    nabla_x: list[float]
    cost: float
    y: list[float] = field(default_factory=list)
    """The target as a list (a class index made one-hot)."""


def _transpose_times(w_next: list[list[float]], delta_next: list[float]) -> list[float]:
    """``(w^{l+1})^T delta^{l+1}``: entry k is ``sum_j w^{l+1}_jk delta^{l+1}_j``."""
    return [math.fsum(w_next[j][k] * delta_next[j] for j in range(len(w_next)))
            for k in range(len(w_next[0]))]


def backprop(
    network: Network | MLP, x: Sequence[float], y: object, cost: str = "quadratic"
) -> Backprop:
    """BP1-BP4 for one example ``(x, y)``: the closed form of every gradient.

    ``network`` is a `Network` or an MLP (read, never changed). ``y`` is a
    list of targets; for ``"log_likelihood"`` a class index or a one-hot list.

        >>> net = Network.from_lists([[[0.5, -1.0]]], [[0.0]], "linear")
        >>> backprop(net, [2.0, 1.0], [1.0]).nabla_w   # (a - y) * x
        [[[-2.0, -1.0]]]
    """
    check.choice(cost, COSTS, "cost")
    net = network if isinstance(network, Network) else Network.from_mlp(network)
    z, a = feedforward(net, x)
    target = _target(y, cost, net.sizes[-1])
    L = len(z)  # the book's number of layers
    delta: list[list[float]] = [[] for _ in range(L)]
    # BP1 at the output layer...
    delta[L - 1] = _output_error(cost, net.activations[-1], z[L - 1], a[L - 1], target)
    # ...then BP2 back through the hidden layers l = L-1, ..., 2.
    for l in range(L - 1, 1, -1):  # noqa: E741 - the book's layer number
        w_next = net.weights[l - 1]  # w^{l+1}
        back = _transpose_times(w_next, delta[l])
        act = net.activations[l - 2]
        delta[l - 1] = [s * sigma_prime(act, zj) for s, zj in zip(back, z[l - 1], strict=True)]
    # BP3 and BP4.
    nabla_b = [list(delta_l) for delta_l in delta[1:]]
    nabla_w = [[[a_k * d_j for a_k in a_prev] for d_j in delta_l]
               for a_prev, delta_l in zip(a[:-1], delta[1:], strict=True)]
    nabla_x = _transpose_times(net.weights[0], delta[1])
    cost_x = cost_value(cost, a[L - 1], target)
    return Backprop(z, a, delta, nabla_b, nabla_w, nabla_x, cost_x, target)


def _batch_backprop(
    network: Network | MLP,
    batch: Sequence[tuple[Sequence[float], object]],
    cost: str,
    n: int | None,
) -> tuple[Network, list[Backprop], int, int]:
    """The network, each example's `backprop`, the batch size ``m`` and ``n``."""
    net = network if isinstance(network, Network) else Network.from_mlp(network)
    m = len(batch)
    if m == 0:
        raise ValueError("batch is empty; a mini-batch needs at least one (x, y) example")
    n = m if n is None else check.integer(n, "n", at_least=1, why="the training set's size")
    return net, [backprop(net, x, y, cost) for x, y in batch], m, n


def mini_batch_gradients(
    network: Network | MLP,
    batch: Sequence[tuple[Sequence[float], object]],
    cost: str = "quadratic",
    lmbda: float = 0.0,
    n: int | None = None,
) -> tuple[list[list[float]], list[list[list[float]]]]:
    """``(nabla_b, nabla_w)`` of ``C = 1/m sum_x C_x + lmbda/(2n) sum_w w^2``.

    The average over the ``m`` examples of ``batch`` (pairs ``(x, y)``), as
    in the book's ``update_mini_batch``; L2 regularisation adds
    ``lmbda/n * w`` to each weight's gradient and nothing to the biases'.
    ``n`` is the size of the whole training set (default: ``m``).
    """
    net, results, m, n = _batch_backprop(network, batch, cost, n)
    nabla_b = [[math.fsum(r.nabla_b[i][j] for r in results) / m for j in range(len(b_l))]
               for i, b_l in enumerate(net.biases)]
    nabla_w = [[[math.fsum(r.nabla_w[i][j][k] for r in results) / m + lmbda / n * w_jk
                 for k, w_jk in enumerate(w_j)]
                for j, w_j in enumerate(w_l)]
               for i, w_l in enumerate(net.weights)]
    return nabla_b, nabla_w


def update_mini_batch(
    network: Network | MLP,
    batch: Sequence[tuple[Sequence[float], object]],
    eta: float,
    cost: str = "quadratic",
    lmbda: float = 0.0,
    n: int | None = None,
) -> Network:
    """One step of gradient descent, the book's rule; returns the new `Network`.

        w^l -> (1 - eta lmbda/n) w^l - (eta/m) sum_x delta^{x,l} (a^{x,l-1})^T
        b^l -> b^l - (eta/m) sum_x delta^{x,l}

    ``network`` itself is not changed.
    """
    net, results, m, n = _batch_backprop(network, batch, cost, n)
    decay = 1.0 - eta * lmbda / n
    weights = [[[decay * w_jk - (eta / m) * math.fsum(r.nabla_w[i][j][k] for r in results)
                 for k, w_jk in enumerate(w_j)]
                for j, w_j in enumerate(w_l)]
               for i, w_l in enumerate(net.weights)]
    biases = [[b_j - (eta / m) * math.fsum(r.nabla_b[i][j] for r in results)
               for j, b_j in enumerate(b_l)]
              for i, b_l in enumerate(net.biases)]
    return Network(weights, biases, list(net.activations))
