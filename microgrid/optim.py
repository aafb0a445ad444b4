"""Optimisers: `SGD` (momentum, weight decay) and `Adam`, with PyTorch's update rules.

An optimiser holds a list of parameters (`Value` leaves) and, after
``cost.backward()`` has filled their grads, `step` moves their ``.data``::

    >>> from microgrid.nn import MLP
    >>> net = MLP(2, [4, 1], seed=0)
    >>> opt = SGD(net.parameters(), lr=0.1)
    >>> opt.zero_grad(); loss = net([1.0, 2.0])[0] ** 2; loss.backward(); opt.step()

A step is all or nothing: every gradient and every new value is checked
to be finite before any parameter changes, and a ValueError names the
offending parameter (its index and label) otherwise. ``lr`` is a plain
attribute: a learning-rate schedule may change it between steps.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from microgrid import _checks as check
from microgrid.engine import Value, no_grad

__all__ = ["SGD", "Adam", "Optimizer"]

_INF = math.inf


def _describe(i: int, p: Value) -> str:
    return f"parameter {i} ({p.label})" if p.label else f"parameter {i}"


class Optimizer:
    """Base class: holds ``params`` (a list of `Value`) and ``lr``."""

    def __init__(self, params: Iterable[Value], lr: float) -> None:
        name = type(self).__name__
        if isinstance(params, Value):
            raise TypeError(f"{name}: params must be an iterable of Values, got one Value")
        try:
            materialised = list(params)
        except TypeError:
            raise TypeError(
                f"{name}: params must be an iterable of Values, got {type(params).__name__}"
            ) from None
        if not materialised:
            raise ValueError(f"{name}: params is empty; pass e.g. net.parameters()")
        seen: set[int] = set()
        for i, p in enumerate(materialised):
            if not isinstance(p, Value):
                raise TypeError(f"{name}: params[{i}] is {type(p).__name__} {p!r}, not a Value")
            if id(p) in seen:
                raise ValueError(f"{name}: {_describe(i, p)} appears more than once in params")
            seen.add(id(p))
        self.params: list[Value] = materialised
        self.lr = check.real(lr, "lr", at_least=0.0, who=name)

    def zero_grad(self) -> None:
        """Set every parameter's grad to 0.0 (call it before each backward pass)."""
        for p in self.params:
            p.grad = 0.0

    def _checked_lr(self) -> float:
        # lr is public and schedules change it, so check it at every step.
        return check.real(self.lr, "lr", at_least=0.0, who=type(self).__name__)

    def _gradients(self, weight_decay: float = 0.0) -> list[float]:
        """The checked grads, plus ``weight_decay * p`` (PyTorch's L2) if asked."""
        grads = [p.grad for p in self.params]
        for i, g in enumerate(grads):
            if not -_INF < g < _INF:
                raise ValueError(
                    f"{type(self).__name__}: the gradient of {_describe(i, self.params[i])} "
                    f"is {g!r}; no parameter was changed"
                )
        if weight_decay:
            grads = [g + weight_decay * p.data for g, p in zip(grads, self.params, strict=True)]
        return grads

    def _check_finite(self, values: list[float], what: str) -> None:
        for i, x in enumerate(values):
            if not -_INF < x < _INF:
                raise ValueError(
                    f"{type(self).__name__}: the step would make the {what} of "
                    f"{_describe(i, self.params[i])} {x!r}; no parameter was changed"
                )

    def step(self) -> None:
        """Update every parameter from its grad."""
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent, PyTorch's rule.

    With ``g = p.grad + weight_decay * p``: without momentum ``p -= lr * g``;
    with momentum ``buf = momentum * buf + g`` (``buf`` starting at 0) and
    ``p -= lr * buf``.

        >>> w = Value(1.0); w.grad = 0.5
        >>> SGD([w], lr=0.1).step(); w.data
        0.95
    """

    def __init__(
        self,
        params: Iterable[Value],
        lr: float,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        self.momentum = check.real(momentum, "momentum", at_least=0.0, who="SGD")
        self.weight_decay = check.real(weight_decay, "weight_decay", at_least=0.0, who="SGD")
        self.buffers = [0.0] * len(self.params)
        """The momentum buffers, one per parameter."""

    def step(self) -> None:
        """``p -= lr * g`` (or ``lr * buf`` with momentum) for every parameter."""
        lr = self._checked_lr()
        params = self.params
        grads = self._gradients(self.weight_decay)
        mu = self.momentum
        if mu:
            grads = [mu * buf + g for buf, g in zip(self.buffers, grads, strict=True)]
        new_data = [p.data - lr * g for p, g in zip(params, grads, strict=True)]
        self._check_finite(new_data, "value")
        with no_grad():
            if mu:
                self.buffers = grads
            for p, x in zip(params, new_data, strict=True):
                p.data = x


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015, Algorithm 1), weight decay as in PyTorch's `Adam` (L2).

    At step ``t`` with ``g = p.grad + weight_decay * p``::

        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat = m / (1 - beta1**t);  v_hat = v / (1 - beta2**t)
        p -= lr * m_hat / (sqrt(v_hat) + eps)

        >>> w = Value(1.0); w.grad = 0.5
        >>> Adam([w], lr=0.1).step(); round(w.data, 6)   # the first step is ~lr * sign(g)
        0.9
    """

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        if not isinstance(betas, (tuple, list)):
            raise TypeError(f"Adam: betas must be a pair (beta1, beta2), "
                            f"got {type(betas).__name__} {check.quote(betas)}")
        if len(betas) != 2:
            raise ValueError(f"Adam: betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = (
            check.real(betas[0], "betas[0]", at_least=0.0, below=1.0, who="Adam"),
            check.real(betas[1], "betas[1]", at_least=0.0, below=1.0, who="Adam"),
        )
        self.eps = check.real(eps, "eps", above=0.0, who="Adam",
                              why="it keeps the step finite when v is 0")
        self.weight_decay = check.real(weight_decay, "weight_decay", at_least=0.0, who="Adam")
        self.t = 0
        """Steps taken so far."""
        self.m = [0.0] * len(self.params)
        """First-moment (mean) estimates, one per parameter."""
        self.v = [0.0] * len(self.params)
        """Second-moment (uncentred variance) estimates, one per parameter."""

    def step(self) -> None:
        """One Adam update of every parameter (bias-corrected moments)."""
        lr = self._checked_lr()
        params = self.params
        grads = self._gradients(self.weight_decay)
        beta1, beta2 = self.betas
        t = self.t + 1
        correction1 = 1.0 - beta1**t
        correction2 = 1.0 - beta2**t
        eps = self.eps
        m = [beta1 * mi + (1.0 - beta1) * g for mi, g in zip(self.m, grads, strict=True)]
        v = [beta2 * vi + (1.0 - beta2) * g * g for vi, g in zip(self.v, grads, strict=True)]
        new_data = [
            p.data - lr * (mi / correction1) / (math.sqrt(vi / correction2) + eps)
            for p, mi, vi in zip(params, m, v, strict=True)
        ]
        self._check_finite(v, "second moment")
        self._check_finite(new_data, "value")
        with no_grad():
            self.t, self.m, self.v = t, m, v
            for p, x in zip(params, new_data, strict=True):
                p.data = x
