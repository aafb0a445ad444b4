"""Training with a compiled step: the parameters live in arrays while it lasts.

A compiled step replays a batch in a few numpy calls, but reading every
parameter's ``.data`` into the program, writing every gradient back into
``.grad`` and letting the optimiser walk the Values cost a Python loop over
the parameters each, several times the replay for a network of thousands of
weights. `Training` keeps them in one array instead, the optimiser's update
done there by the same arithmetic as `SGD` and `Adam` (element by element,
so the numbers are the same, bit for bit), and writes them back to the
Values when it ends and whenever Python has to compute with them (an eager
recording, to check or diagnose a batch), or when asked (`sync`)::

    step = compile(cost, X[0], Y[0], params=net.parameters(), reduction="mean")
    with step.training(SGD(net.parameters(), lr=3.0)) as train:
        for X_batch, Y_batch in batches:
            loss = train.step(X_batch, Y_batch)
    # here the network holds the trained parameters

Inside the block the network's Values are not updated: read the parameters
after it, or after ``train.sync()``; a change made to a Value's ``.data``
inside it is overwritten at the end.
"""

from __future__ import annotations

import math
import weakref
from types import TracebackType
from typing import TYPE_CHECKING

import numpy as np

from microgrid.optim import SGD, Adam, Optimizer

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

    from microgrid.compiler.api import Compiled

    Array = NDArray[np.float64]

__all__ = ["Training"]


class Training:
    """A compiled step and its optimiser, the parameters held in arrays; made by
    `Compiled.training`. Use it as a context manager (``with``): leaving the
    block, normally or by an exception, writes the parameters, the last
    gradients and the optimiser's state back (`sync`) and ends it (`close`).

    Attributes:
        outputs: after `step`/`compute`, the function's other results for each
            example (batch x k) when it returned ``[cost, *others]``, else None.
    """

    def __init__(self, compiled: Compiled, optimizer: Optimizer) -> None:
        if type(optimizer) not in (SGD, Adam):
            raise TypeError(f"training: the optimizer must be an SGD or an Adam (their update "
                            f"is done on arrays), got {type(optimizer).__name__}; for another "
                            "one call step.backward(X, Y) and optimizer.step() yourself")
        held = {id(p): i for i, p in enumerate(optimizer.params)}
        order = compiled._order
        if len(held) != len(order) or any(id(p) not in held for p in order):
            raise ValueError(
                "training: the optimizer must hold exactly the compiled function's params "
                f"({len(order)}), got {len(held)} of which "
                f"{sum(id(p) in held for p in order)} are among them")
        if compiled._theta is not None:
            raise ValueError("training: this compiled function is already training; "
                             "close the other Training first")
        self._compiled: Compiled | None = None  # set last: __del__ closes only a whole one
        self.optimizer = optimizer
        # _from[k]: where the arrays' k-th parameter (they keep `_order`) is in
        # optimizer.params; _to, the other way
        self._from = np.array([held[id(p)] for p in order], dtype=np.intp)
        self._to = np.argsort(self._from)
        self.grad: Array = np.zeros(len(order))
        """The last batch's gradients, in the arrays' order."""
        self.outputs: Array | None = None
        self._state = [np.array(s)[self._from] for s in _state(optimizer)]
        # the update's arrays, kept: arrays of the parameters' size are mapped
        # from the system and back at every step otherwise (~190 KB for 24,000)
        self._new = np.empty(len(order))
        self._work = np.empty(len(order))
        self._t = getattr(optimizer, "t", 0)
        self._ready = False  # a computed batch awaits its update
        compiled._hold(np.array([p.data for p in order]))
        # weakly: the compiled function must not keep this alive (no reference cycle)
        compiled._sync = weakref.WeakMethod(self.sync)
        self._compiled = compiled

    @property
    def theta(self) -> Array:
        """The parameters, in the order of the compiled function's arrays."""
        compiled = self._open()
        assert compiled._theta is not None
        return compiled._theta

    # -- the loop -----------------------------------------------------------

    def step(self, X: ArrayLike, Y: ArrayLike | None = None) -> float:
        """One training step on a batch: `compute` its loss and gradients, then
        `update` the parameters. Returns the loss."""
        loss = self.compute(X, Y)
        self.update()
        return loss

    def compute(self, X: ArrayLike, Y: ArrayLike | None = None) -> float:
        """Replay the batch: its loss (and ``outputs``); the gradients kept for `update`."""
        compiled = self._open()
        loss, grads, self.outputs = compiled._run(X, Y, outputs=compiled._n_roots > 1,
                                                  copy=False)
        self.grad = grads
        self._ready = True
        return loss

    def update(self) -> None:
        """The optimiser's update of the parameters by the last computed gradients.

        All or nothing, as `SGD.step` and `Adam.step`: ValueError, and no
        parameter changed, if a gradient or a new value is not finite (the
        learning rate is read from the optimiser now, so a schedule may set it).
        """
        self._open()
        if not self._ready:
            raise RuntimeError("training: update() before compute(): no gradients to apply")
        optimizer = self.optimizer
        lr = optimizer._checked_lr()
        g, theta = self.grad, self.theta
        with np.errstate(all="ignore"):  # an overflow is found and refused below
            if type(optimizer) is SGD and not optimizer.momentum and not optimizer.weight_decay:
                new, state = self._new, self._state  # the plain rule, into the kept arrays
                np.subtract(theta, np.multiply(g, lr, out=self._work), out=new)
            elif type(optimizer) is SGD:
                new, state = _sgd(optimizer, lr, theta, g, self._state)
            else:
                new, state = _adam(optimizer, lr, theta, g,  # type: ignore[arg-type]
                                   self._state, self._t + 1)
        # One sum finds a non-finite value (a sum of finite ones may overflow:
        # then the entries are looked at); a non-finite gradient makes the new
        # values so too, and is named first, as the optimisers' own steps do.
        moments = state[1:] if type(optimizer) is Adam else []
        if not all(math.isfinite(float(np.add.reduce(a))) for a in (new, *moments)):
            self._refuse(g, "the gradient of {} is {!r}")
            for v in moments:
                self._refuse(v, "the step would make the second moment of {} {!r}")
            self._refuse(new, "the step would make the value of {} {!r}")
        theta[...] = new
        self._state = state
        self._t += 1
        self._ready = False

    # -- the Values -----------------------------------------------------------

    def sync(self) -> None:
        """Write the parameters, the last gradients and the optimiser's state back
        into the Values and the optimiser, as an eager loop would have left them."""
        compiled = self._compiled
        if compiled is None:
            return
        for p, x, g in zip(compiled._order, self.theta.tolist(), self.grad.tolist(),
                           strict=True):  # (grad: the last batch's, as backward leaves it)
            p.data = x
            p.grad = g
        _set_state(self.optimizer, [s[self._to].tolist() for s in self._state], self._t)

    def close(self) -> None:
        """`sync`, then hand the parameters back to the Values for good."""
        compiled = self._compiled
        if compiled is None:
            return
        self.sync()
        compiled._hold(None)
        compiled._sync = None
        self._compiled = None

    def __enter__(self) -> Training:
        return self

    def __del__(self) -> None:
        # Dropped without being closed: the Values still get the parameters.
        if getattr(self, "_compiled", None) is not None:
            self.close()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def _open(self) -> Compiled:
        if self._compiled is None:
            raise RuntimeError("training: this Training is closed; make another with "
                               "step.training(optimizer)")
        return self._compiled

    def _refuse(self, values: Array, problem: str) -> None:
        """The optimiser's own ValueError for the first non-finite entry (the sum
        of all may overflow while every entry is finite: then nothing is wrong)."""
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size == 0:
            return
        i = int(self._from[bad].min())  # the first in optimizer.params, as its step names
        p = self.optimizer.params[i]
        name = f"parameter {i} ({p.label})" if p.label else f"parameter {i}"
        raise ValueError(f"{type(self.optimizer).__name__}: "
                         f"{problem.format(name, float(values[self._to[i]]))}; "
                         "no parameter was changed")


def _state(optimizer: Optimizer) -> list[list[float]]:
    if isinstance(optimizer, SGD):
        return [optimizer.buffers]
    assert isinstance(optimizer, Adam)
    return [optimizer.m, optimizer.v]


def _set_state(optimizer: Optimizer, state: list[list[float]], t: int) -> None:
    if isinstance(optimizer, SGD):
        (optimizer.buffers,) = state
    else:
        assert isinstance(optimizer, Adam)
        optimizer.m, optimizer.v = state
        optimizer.t = t


def _sgd(optimizer: SGD, lr: float, theta: Array, g: Array,
         state: list[Array]) -> tuple[Array, list[Array]]:
    """`SGD.step` on arrays, the same operations in the same order."""
    if optimizer.weight_decay:
        g = g + optimizer.weight_decay * theta
    if optimizer.momentum:
        g = optimizer.momentum * state[0] + g
        return theta - lr * g, [g]
    return theta - lr * g, state


def _adam(optimizer: Adam, lr: float, theta: Array, g: Array, state: list[Array],
          t: int) -> tuple[Array, list[Array]]:
    """`Adam.step` on arrays, the same operations in the same order."""
    if optimizer.weight_decay:
        g = g + optimizer.weight_decay * theta
    beta1, beta2 = optimizer.betas
    m = beta1 * state[0] + (1.0 - beta1) * g
    v = beta2 * state[1] + (1.0 - beta2) * g * g
    new = theta - lr * (m / (1.0 - beta1**t)) / (np.sqrt(v / (1.0 - beta2**t)) + optimizer.eps)
    return new, [m, v]

