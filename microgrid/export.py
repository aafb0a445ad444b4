"""The way out: an `MLP` as the book's numpy arrays or as a PyTorch module, and back.

A network moves between this library, Nielsen's ``network.py`` and
PyTorch with every parameter kept bit for bit (float64 all the way):

- `to_arrays` / `from_arrays`: ``(biases, weights)`` in ``network.py``'s
  layout, lists of numpy arrays with ``weights[l]`` of shape
  ``(n_l, n_{l-1})`` and ``biases[l]`` of shape ``(n_l, 1)``, one per
  layer after the input; ``weights[l][j-1, k-1]`` is the book's
  ``w^{l+2}_jk`` (neurons counted from 1), our
  ``net.layers[l].neurons[j-1].w[k-1]``.
- `to_torch` / `from_torch`: a ``torch.nn.Sequential`` of ``Linear``
  layers, each followed by the matching activation module (``Sigmoid``,
  ``Tanh``, ``ReLU``, ``Softmax(dim=-1)``; nothing for ``"linear"``),
  float64 by default; ``linear.weight`` is the same ``(n_l, n_{l-1})``
  matrix and ``linear.bias`` the biases.

numpy (the ``fast`` extra) and torch (the ``torch`` extra) are imported
only when these functions are called. The usual entry points are the
`MLP` methods ``net.to_arrays()``, ``MLP.from_arrays(...)``,
``net.to_torch()`` and ``MLP.from_torch(...)``; docs/outgrowing.md shows
the round trip.

Reading checks everything first (types, shapes that chain from layer to
layer, finite numbers, modules an `MLP` can express) and raises a
TypeError or ValueError naming the layer and the problem; nothing is built
until all of it passed. Writing copies the parameters as they are.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from microgrid.nn import MLP

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import torch

    Array = npt.NDArray[np.float64]

__all__ = ["from_arrays", "from_torch", "to_arrays", "to_torch"]

# A layer's parameters as plain floats: w[j][k] and b[j].
_Rows = list[list[float]]
_LayerValues = tuple[_Rows, list[float]]


def _require(module: str, extra: str, who: str) -> Any:
    """Import an optional library, or say which extra provides it.

    (Functions bind torch to the local name ``th``: ``torch`` is the
    type-checking import their annotations name.)
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f"{who} needs {module}: pip install 'microgrid-autodiff[{extra}]'"
        ) from None


def _check_net(net: object, who: str) -> MLP:
    if not isinstance(net, MLP):
        raise TypeError(f"{who}: expected an MLP, got {type(net).__name__}")
    return net


def _layer_values(net: MLP) -> list[_LayerValues]:
    return [
        ([[wk.data for wk in n.w] for n in layer.neurons], [n.b.data for n in layer.neurons])
        for layer in net.layers
    ]


def _build(
    cls: type[MLP],
    values: list[_LayerValues],
    activation: str,
    output_activation: str,
) -> MLP:
    """A network of ``cls`` holding exactly ``values`` (already checked)."""
    nin = len(values[0][0][0])
    net = cls(nin, [len(b) for _, b in values], activation, output_activation, seed=0)
    for layer, (rows, biases) in zip(net.layers, values, strict=True):
        for n, row, bias in zip(layer.neurons, rows, biases, strict=True):
            for wk, x in zip(n.w, row, strict=True):
                wk.data = x
            n.b.data = bias
    net.init = net.seed = None  # the parameters were given, not drawn
    return net


def _check_finite(values: list[_LayerValues], who: str, w_name: str, b_name: str) -> None:
    """Refuse a non-finite parameter, naming it (``w_name``/``b_name`` format ``{i}``)."""
    for i, (rows, biases) in enumerate(values):
        for j, row in enumerate(rows):
            for k, x in enumerate(row):
                if not math.isfinite(x):
                    where = w_name.format(i=i)
                    raise ValueError(f"{who}: {where}[{j}, {k}] is {x}; expected a finite number")
        for j, x in enumerate(biases):
            if not math.isfinite(x):
                where = b_name.format(i=i)
                raise ValueError(f"{who}: {where}[{j}] is {x}; expected a finite number")


# -- network.py's arrays ---------------------------------------------------------


def to_arrays(net: MLP) -> tuple[list[Array], list[Array]]:
    """``(biases, weights)`` as float64 numpy arrays, laid out as ``network.py``'s.

    ``weights[l]`` has shape ``(n_l, n_{l-1})`` and ``biases[l]`` shape
    ``(n_l, 1)``, for each layer after the input, so the book's
    ``feedforward`` (``a = sigmoid(np.dot(w, a) + b)``) computes what
    ``net(x)`` does for a sigmoid network. Fresh arrays: changing them
    leaves ``net`` as it was. Activations are not part of the layout:
    give them to `from_arrays` when they are not ``network.py``'s sigmoid.
    """
    np = _require("numpy", "fast", "to_arrays")
    values = _layer_values(_check_net(net, "to_arrays"))
    biases = [np.array(b, dtype=np.float64).reshape(-1, 1) for _, b in values]
    weights = [np.array(rows, dtype=np.float64) for rows, _ in values]
    return biases, weights


def _matrix(np: Any, x: object, who: str, where: str) -> Any:
    """``x`` as a float64 array of real numbers (ints and floats are widened exactly)."""
    array = np.asarray(x)
    if array.dtype.kind not in "fiu":
        raise TypeError(f"{who}: {where} holds {array.dtype} values; expected real numbers")
    return array.astype(np.float64)


def from_arrays(
    biases: Sequence[Any],
    weights: Sequence[Any],
    activation: str = "sigmoid",
    output_activation: str = "sigmoid",
    *,
    cls: type[MLP] = MLP,
) -> MLP:
    """A network holding ``network.py``'s ``biases`` and ``weights`` (see `to_arrays`).

    ``weights[l]`` must have shape ``(n_l, n_{l-1})``, each layer's columns
    the previous layer's rows, and ``biases[l]`` shape ``(n_l, 1)`` (or
    ``(n_l,)``); any real dtype is read exactly as float64. The
    activations default to ``network.py``'s sigmoid everywhere; the names
    are `MLP`'s (``"softmax"`` only for the output). ``init`` and ``seed``
    of the result are None: its weights were given, not drawn.
    """
    np = _require("numpy", "fast", "from_arrays")
    who = "from_arrays"
    for name, arrays in (("biases", biases), ("weights", weights)):
        if not isinstance(arrays, (list, tuple)):
            raise TypeError(
                f"{who}: {name} must be a list of arrays, one per layer after the input "
                f"(network.py's net.{name}), got {type(arrays).__name__}"
            )
    if not weights or len(biases) != len(weights):
        raise ValueError(
            f"{who}: expected as many biases as weights (one per layer after the input, "
            f"at least one), got {len(biases)} and {len(weights)}"
        )
    values: list[_LayerValues] = []
    for i, (b, w) in enumerate(zip(biases, weights, strict=True)):
        w = _matrix(np, w, who, f"weights[{i}]")
        b = _matrix(np, b, who, f"biases[{i}]")
        if w.ndim != 2 or 0 in w.shape:
            raise ValueError(f"{who}: weights[{i}] has shape {w.shape}; expected (n_l, n_l-1)")
        nout, nin = w.shape
        if values and nin != len(values[-1][1]):
            raise ValueError(
                f"{who}: weights[{i}] has shape {w.shape}, but weights[{i - 1}] has "
                f"{len(values[-1][1])} rows (neurons): expected {len(values[-1][1])} columns"
            )
        if b.shape not in ((nout, 1), (nout,)):
            raise ValueError(
                f"{who}: biases[{i}] has shape {b.shape}; expected ({nout}, 1) "
                f"for the {nout} rows of weights[{i}]"
            )
        values.append((w.tolist(), b.reshape(-1).tolist()))
    _check_finite(values, who, "weights[{i}]", "biases[{i}]")
    return _build(cls, values, activation, output_activation)


# -- PyTorch ---------------------------------------------------------------------


def _activation_modules(th: Any) -> dict[str, Any]:
    """The torch module class for each of `MLP`'s activations (None: no module)."""
    return {
        "linear": None,
        "relu": th.nn.ReLU,
        "sigmoid": th.nn.Sigmoid,
        "softmax": th.nn.Softmax,
        "tanh": th.nn.Tanh,
    }


def to_torch(net: MLP, dtype: torch.dtype | None = None) -> torch.nn.Sequential:
    """The network as a ``torch.nn.Sequential`` holding the same parameters.

    One ``Linear(n_{l-1}, n_l)`` per layer (``weight`` is ``(n_l,
    n_{l-1})``, as in `to_arrays`), each followed by the activation module
    (``Sigmoid``, ``Tanh``, ``ReLU``, ``Softmax(dim=-1)``; none for
    ``"linear"``). ``dtype`` defaults to ``torch.float64``, in which every
    parameter is exact and outputs and gradients agree with microgrid's to
    rounding; ``torch.float32`` rounds each parameter to the nearest
    float32. The module is on the CPU in training mode; torch's random
    state is not touched (the layers are made without initialisation).
    """
    th = _require("torch", "torch", "to_torch")
    net = _check_net(net, "to_torch")
    if dtype is None:
        dtype = th.float64
    if not isinstance(dtype, th.dtype) or not dtype.is_floating_point:
        raise TypeError(f"to_torch: dtype must be a torch floating-point dtype, got {dtype!r}")
    modules = []
    for layer, (rows, biases) in zip(net.layers, _layer_values(net), strict=True):
        linear = th.nn.utils.skip_init(
            th.nn.Linear, len(rows[0]), len(rows), dtype=dtype
        )
        with th.no_grad():
            linear.weight.copy_(th.tensor(rows, dtype=th.float64))
            linear.bias.copy_(th.tensor(biases, dtype=th.float64))
        modules.append(linear)
        if layer.activation == "softmax":
            modules.append(th.nn.Softmax(dim=-1))
        elif layer.activation != "linear":
            modules.append(_activation_modules(th)[layer.activation]())
    sequential: torch.nn.Sequential = th.nn.Sequential(*modules)
    return sequential


_EXPRESSIBLE = (
    "an MLP is Linear layers with biases, each followed by Sigmoid, Tanh, ReLU or "
    "nothing (the same after every hidden layer), and Softmax(dim=-1) allowed after the last"
)


def _parse_torch(th: Any, module: Any) -> tuple[list[Any], list[str]]:
    """The ``Linear`` modules of ``module`` and the activation name after each."""
    if type(module) is th.nn.Linear:
        children = [module]
    elif type(module) is th.nn.Sequential:
        children = list(module)
    else:
        raise TypeError(
            f"from_torch: expected a torch.nn.Sequential (or one Linear), "
            f"got {type(module).__name__}; {_EXPRESSIBLE}"
        )
    names = {cls: name for name, cls in _activation_modules(th).items() if cls is not None}
    linears: list[Any] = []
    activations: list[str] = []
    for i, child in enumerate(children):
        kind = type(child)
        if kind is th.nn.Identity:
            continue
        if kind is th.nn.Linear:
            if child.in_features < 1 or child.out_features < 1:
                raise ValueError(f"from_torch: module {i} ({child}) has no inputs or outputs")
            if child.bias is None:
                raise ValueError(f"from_torch: module {i} ({child}) has no bias; {_EXPRESSIBLE}")
            if linears and child.in_features != linears[-1].out_features:
                raise ValueError(
                    f"from_torch: module {i} ({child}) takes {child.in_features} inputs "
                    f"but the layer before it has {linears[-1].out_features} outputs"
                )
            linears.append(child)
            activations.append("linear")
            continue
        name = names.get(kind)
        if name is None or not linears or activations[-1] != "linear" or (
            name == "softmax" and child.dim not in (-1, 1)
        ):
            raise ValueError(f"from_torch: module {i} ({child}) cannot be read: {_EXPRESSIBLE}")
        activations[-1] = name
    if not linears:
        raise ValueError(f"from_torch: no Linear layer in {module}; {_EXPRESSIBLE}")
    return linears, activations


def from_torch(module: torch.nn.Module, *, cls: type[MLP] = MLP) -> MLP:
    """A network holding the parameters of a ``torch.nn.Sequential`` (see `to_torch`).

    Reads ``Linear`` layers (with biases), each followed by ``Sigmoid``,
    ``Tanh``, ``ReLU`` or nothing, the same after every hidden layer, with
    ``Softmax(dim=-1)`` allowed after the last; ``Identity`` modules are
    skipped. Anything else (another module, a nested ``Sequential``, a
    ``Linear`` without bias, mixed hidden activations) raises an error
    naming the module. Parameters of any real floating dtype and device
    are read exactly as float64; they must be finite.
    """
    th = _require("torch", "torch", "from_torch")
    linears, activations = _parse_torch(th, module)
    hidden = set(activations[:-1])
    if len(hidden) > 1:
        raise ValueError(
            f"from_torch: the hidden layers' activations differ ({', '.join(activations[:-1])}); "
            f"{_EXPRESSIBLE}"
        )
    if "softmax" in hidden:
        raise ValueError(f"from_torch: Softmax after a hidden layer; {_EXPRESSIBLE}")
    values: list[_LayerValues] = []
    for i, linear in enumerate(linears):
        for name, p in (("weight", linear.weight), ("bias", linear.bias)):
            if not p.dtype.is_floating_point:
                raise TypeError(f"from_torch: Linear layer {i}'s {name} is {p.dtype}")
        w = linear.weight.detach().to("cpu", th.float64).tolist()
        b = linear.bias.detach().to("cpu", th.float64).tolist()
        values.append((w, b))
    _check_finite(values, "from_torch", "Linear layer {i}'s weight", "Linear layer {i}'s bias")
    activation = hidden.pop() if hidden else "relu"  # one layer: MLP's default, unused
    return _build(cls, values, activation, activations[-1])
