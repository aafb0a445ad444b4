"""Replay a recorded scalar graph over a whole batch with numpy.

For a fixed network and cost, every example builds a graph of the same
shape; only the numbers differ. `compile` records that graph once, from one
example, as a flat tape of instructions, and replays the tape with numpy
arrays holding a whole batch where the engine holds one float::

    >>> from microgrid import compile, sum_of
    >>> from microgrid.nn import MLP
    >>> net = MLP(2, [16, 16, 1], seed=0)
    >>> def cost(x, y):                       # one example's cost, from Values
    ...     score = net(x)[0]
    ...     return (1 - y * score).relu()
    >>> step = compile(cost, [0.5, -1.0], 1.0, params=net.parameters())
    >>> loss, grads = step([[0.5, -1.0], [2.0, 0.25]], [1.0, -1.0])
    >>> len(grads) == len(net.parameters())
    True

``loss`` is the sum of the examples' costs (``reduction="mean"``: their
mean) and ``grads[i]`` the matching derivative for ``params[i]``: exactly
what calling ``cost(x, y).backward()`` on each example would accumulate.
``step.backward(X, Y)`` adds the same gradients into the parameters'
``.grad``, so optimisers work unchanged.

The tracing rule is `compile`'s. The package, one mechanism per module:
`tracing` (recording the function, comparing recordings; no numpy),
`lifting` (constants that change with a static target), `packing` (a
recording into instructions), `kernels` (the numpy instructions) and `api`
(`Compiled`). numpy is imported by the first call of `compile`.
"""

from __future__ import annotations

import importlib
import numbers
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from microgrid._extras import install_hint
from microgrid.compiler.tracing import FIRST_BATCH_CHECKS, TracingError, _example, _name
from microgrid.engine import Value

if TYPE_CHECKING:
    from microgrid.compiler.api import Compiled

__all__ = ["FIRST_BATCH_CHECKS", "Compiled", "TracingError", "compile"]

INSTALL_HINT = install_hint("fast")

_REDUCTIONS = ("sum", "mean")


def __getattr__(name: str) -> Any:
    """`Compiled`, from the module that imports numpy, when first asked for."""
    if name == "Compiled":
        return importlib.import_module("microgrid.compiler.api").Compiled
    raise AttributeError(f"module 'microgrid.compiler' has no attribute {name!r}")


def compile(
    fn: Callable[..., Any],
    example_x: Sequence[float],
    example_y: object = None,
    *,
    params: Sequence[Value] = (),
    reduction: str = "sum",
    static_y: bool = False,
    check: bool = True,
) -> Compiled:
    """Record ``fn`` on one example; return a `Compiled` that replays it on batches.

    ``fn(x, y)`` builds ONE example's cost from Values: ``x`` is a list of
    ``len(example_x)`` Values; ``y`` is a Value if ``example_y`` is a
    number, a list of Values if it is a list, and there is no ``y``
    argument at all if ``example_y`` is None. ``params`` are the leaves
    whose gradients are wanted (e.g. ``net.parameters()``); any other leaf
    ``fn`` reads is replayed with its current ``.data``. ``reduction``
    combines a batch's costs: ``"sum"`` (what the eager engine accumulates
    over examples) or ``"mean"``.

        >>> w = Value(0.5)
        >>> step = compile(lambda x, y: (w * x[0] - y) ** 2, [1.0], 0.0, params=[w])
        >>> step([[1.0], [2.0]], [0.0, 1.0])
        (0.25, [1.0])

    ``static_y=True`` passes each target to ``fn`` as the plain number
    (or list) it is, as JAX's static arguments: one tape is recorded per
    distinct target, so costs that check or branch on the target work
    (``losses.hinge`` with labels -1/+1, class indices, one-hot lists).
    For continuous targets use Value targets (the default).

    The tracing rule: only operations on Values are recorded; Python
    control flow that looks at values would be frozen at the example, so
    it is refused with `TracingError`. Inside ``fn``, making a number of a
    Value (``float(v)``, ``int(v)``, ``v.item()``, a comparison,
    ``format(v, spec)``) raises at once. ``fn`` is recorded twice on the
    example (randomness, nodes built outside ``fn``) and, if ``check``,
    once more with every parameter (and other leaf from outside ``fn``)
    moved to the other side of 0 for that one recording, then put back (a
    branch on, or a number from, ``p.data``), and on the first batch, up
    to ``FIRST_BATCH_CHECKS``
    of its examples (all of a small batch, else those holding each input's,
    target's and node's smallest and largest value) are recorded again;
    any difference raises `TracingError` (`Compiled.check` checks a whole
    batch). Needs numpy (the ``fast`` extra), imported by the first call.
    """
    try:
        import numpy  # noqa: F401 - the optional extra, before anything is recorded
    except ImportError:
        raise ImportError(
            f"microgrid.compile needs numpy, an optional extra: {INSTALL_HINT}"
        ) from None
    from microgrid.compiler.api import Compiled
    if not callable(fn):
        raise TypeError(f"compile: fn must be callable, got {type(fn).__name__}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"compile: reduction must be 'sum' or 'mean', got {reduction!r}")
    if isinstance(params, Value):
        raise TypeError("compile: params must be a list of Values, got one Value")
    params = list(params)
    seen: set[Value] = set()
    for i, p in enumerate(params):
        if type(p) is not Value:
            raise TypeError(f"compile: params[{i}] is {type(p).__name__}, not a Value")
        if p.parents:
            raise ValueError(
                f"compile: params[{i}] ({_name(p)}) is computed from other Values; "
                "parameters must be leaves"
            )
        if p in seen:
            raise ValueError(f"compile: params[{i}] ({_name(p)}) appears more than once")
        seen.add(p)
    x = _example(example_x, "example_x")
    y: object = example_y
    if example_y is not None:
        if not hasattr(example_y, "__len__"):
            y = _example([example_y], "example_y")[0]
            if static_y and isinstance(example_y, numbers.Integral):
                y = int(example_y)  # a class index stays an int
        else:
            y = _example(example_y, "example_y")
            if static_y:
                y = [int(v) if isinstance(v, numbers.Integral) else float(v)
                     for v in example_y]  # type: ignore[attr-defined]
    return Compiled(fn, params, reduction, static_y, check, x, y)
