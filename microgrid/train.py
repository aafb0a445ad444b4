"""The training loop: `fit` a network over shuffled mini-batches, get a `History`.

micrograd's moons demo, through `fit`::

    >>> from microgrid.nn import MLP
    >>> from microgrid.datasets import moons
    >>> X, y = moons(100, noise=0.1, seed=0, signed=True)     # labels -1/+1
    >>> net = MLP(2, [16, 16, 1], seed=1)
    >>> history = fit(net, X, y, loss="hinge", l2=1e-4, epochs=100,
    ...               lr_schedule=lambda k, steps: 1.0 - 0.9 * k / steps,
    ...               progress=False)                          # doctest: +SKIP
    >>> history.accuracy[-1]                                   # doctest: +SKIP
    1.0

Each step: the batch's per-example costs are summed into one node and
averaged, the penalties are added, one ``backward()`` fills the grads, and
the optimiser updates the parameters (under ``no_grad``). Ctrl-C stops
training cleanly: the step in progress is either completed or abandoned
(the parameters are never half-updated), and `fit` returns the `History`
so far with ``interrupted=True``. Training that diverges (a pass
overflows, the cost or an update is not finite: too large a learning rate)
stops the same way but raises `DivergenceError`, which carries that
`History` as ``.history``.
"""

from __future__ import annotations

import importlib
import math
import numbers
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol

from microgrid import losses
from microgrid.engine import Scalar, Value, no_grad, sum_of
from microgrid.optim import SGD, Adam, Optimizer

if TYPE_CHECKING:
    from microgrid.compiler import Compiled

__all__ = [
    "AccuracyFn",
    "DivergenceError",
    "Evaluation",
    "History",
    "Network",
    "argmax_accuracy",
    "evaluate",
    "fit",
    "sign_accuracy",
    "threshold_accuracy",
]

AccuracyFn = Callable[[list[Value], Any], bool]
"""Whether one example is classified right: ``accuracy(outputs, target) -> bool``."""

DEFAULT_LR = 0.1
"""The learning rate of the `SGD` that `fit` makes when given no optimiser."""


class Network(Protocol):
    """What `fit` trains: ``net(x) -> list[Value]`` and ``net.parameters()`` (e.g. an `MLP`)."""

    def __call__(self, x: Sequence[Scalar]) -> list[Value]: ...

    def parameters(self) -> list[Value]: ...


# -- accuracy ---------------------------------------------------------------


def _argmax(xs: Sequence[float]) -> int:
    return max(range(len(xs)), key=xs.__getitem__)


def _label(y: Any) -> float:
    """A scalar target, given as a number or a one-element list."""
    return float(y) if isinstance(y, numbers.Real) else float(y[0])


def _class(y: Any) -> int:
    """A class target, given as an index or a one-hot list."""
    return int(y) if isinstance(y, numbers.Integral) else _argmax(y)


def argmax_accuracy(outputs: list[Value], y: Any) -> bool:
    """Multi-class: right when the largest output is the target class.

    ``y`` is a class index or a one-hot list (the argmax of any list).
    """
    return _argmax([a.data for a in outputs]) == _class(y)


def sign_accuracy(outputs: list[Value], y: Any) -> bool:
    """One score against a -1/+1 label (`hinge`): right when the signs agree."""
    return (outputs[0].data > 0.0) == (_label(y) > 0.0)


def threshold_accuracy(cut: float) -> AccuracyFn:
    """One output against a 0/1 target: right when ``(a > cut) == (y > 1/2)``.

    For several outputs it is `argmax_accuracy`. Use ``cut=0.5`` for
    probabilities (sigmoid outputs) and ``cut=0.0`` for logits.
    """

    def accuracy(outputs: list[Value], y: Any) -> bool:
        if len(outputs) == 1:
            return (outputs[0].data > cut) == (_label(y) > 0.5)
        return argmax_accuracy(outputs, y)

    return accuracy


_PROBABILITY = threshold_accuracy(0.5)

# How a prediction counts as right, for each cost by name.
_ACCURACY: dict[str, AccuracyFn] = {
    "cross_entropy": _PROBABILITY,
    "cross_entropy_with_logits": threshold_accuracy(0.0),
    "hinge": sign_accuracy,
    "log_likelihood": argmax_accuracy,
    "mse": _PROBABILITY,
    "quadratic": _PROBABILITY,
    "softmax_nll": argmax_accuracy,
}


def _resolve_accuracy(
    accuracy: AccuracyFn | Literal["auto"] | None, loss: str | losses.LossFn
) -> AccuracyFn | None:
    if accuracy is None:
        return None
    if accuracy != "auto":
        if not callable(accuracy):
            raise ValueError(
                f"accuracy must be a callable(outputs, target) -> bool, 'auto' or None, "
                f"got {accuracy!r}"
            )
        return accuracy
    name = loss if isinstance(loss, str) else next(
        (key for key, fn in losses.LOSSES.items() if fn is loss), None
    )
    return _ACCURACY.get(name) if name is not None else None


# -- history ----------------------------------------------------------------


@dataclass
class History:
    """What `fit` measured, per epoch and per step.

    Losses are the cost that was minimised (the average cost of the batch
    plus penalties), measured on each batch before its update; an epoch's
    value is the batch-size-weighted mean of its steps. Accuracies are the
    fraction of examples classified right by the same forward passes; the
    lists are empty when accuracy is not tracked. Only completed epochs
    appear in ``loss``/``accuracy``; ``step_*`` lists every completed step.
    """

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)
    step_accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    """The learning rate of each step (empty if the optimiser has no ``lr``)."""
    interrupted: bool = False
    """True when Ctrl-C stopped training early."""
    seconds: float = 0.0
    """Wall-clock time spent training."""

    @property
    def epochs(self) -> int:
        """Completed epochs."""
        return len(self.loss)

    @property
    def steps(self) -> int:
        """Completed optimiser steps."""
        return len(self.step_loss)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready copy: the lists, ``epochs``, ``steps``, ``interrupted``, ``seconds``."""
        return {
            "loss": list(self.loss),
            "accuracy": list(self.accuracy),
            "step_loss": list(self.step_loss),
            "step_accuracy": list(self.step_accuracy),
            "lr": list(self.lr),
            "epochs": self.epochs,
            "steps": self.steps,
            "interrupted": self.interrupted,
            "seconds": self.seconds,
        }


class DivergenceError(ArithmeticError):
    """`fit` stopped because training diverged: a pass overflowed, or the cost or
    an update was not finite (usually too large a learning rate).

    Training stops as Ctrl-C stops it: the network keeps the parameters the
    last completed step left (all finite), and the steps done are kept.

        >>> try:                                                  # doctest: +SKIP
        ...     history = fit(net, X, y, lr=1e6)
        ... except DivergenceError as e:
        ...     history = e.history    # the completed steps; e.step failed

    Attributes:
        history: the `History` of the completed steps.
        step: the step that diverged, counted from 1 (``history.steps + 1``).
    """

    def __init__(self, message: str, history: History, step: int) -> None:
        super().__init__(message)
        self.history = history
        self.step = step


def _diverged(
    history: History, optimizer: Any, cause: object, total_steps: int, steps_per_epoch: int
) -> DivergenceError:
    done = history.steps
    problem = str(cause)
    if len(problem) > 200:  # the engine names every operand; the chained error keeps them
        problem = f"{problem[:140]} ... {problem[-55:]}"
    lr = getattr(optimizer, "lr", None)
    remedy = (f"lower the learning rate (it was {lr:g})" if isinstance(lr, (int, float))
              else "lower the learning rate")
    error = DivergenceError(
        f"fit: training diverged at step {done + 1} of {total_steps} "
        f"(epoch {done // steps_per_epoch + 1}): {problem}; {remedy}. The parameters are "
        f"as step {done} left them, and this error's .history holds the {done} steps done.",
        history, done + 1,
    )
    if isinstance(cause, BaseException):
        error.__cause__ = cause
    return error


def _update(optimizer: Optimizer, params: list[Value]) -> ValueError | str | None:
    """Step the optimiser; if the step diverged, undo it and say why (else None)."""
    if type(optimizer) in (SGD, Adam):
        # They refuse a non-finite gradient or update and change nothing; any
        # other ValueError (a bad lr) is not divergence.
        lr = optimizer.lr
        try:
            optimizer.step()
        except ValueError as e:
            if isinstance(lr, (int, float)) and math.isfinite(lr) and lr >= 0:
                return e
            raise
        return None
    before = [p.data for p in params]
    optimizer.step()
    if math.isfinite(sum(p.data for p in params)):  # cheap; an overflowing sum rescans
        return None
    bad = next((p for p in params if not math.isfinite(p.data)), None)
    if bad is None:
        return None
    problem = f"the optimizer's step made {bad.label or 'a parameter'} {bad.data!r}"
    for p, x in zip(params, before, strict=True):
        p.data = x
    return problem


# -- checking arguments -------------------------------------------------------


def _int_arg(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < low:
        raise ValueError(f"fit: {name} must be an int >= {low}, got {value!r}")
    return int(value)


def _rate_arg(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"fit: {name} must be a real number, got {type(value).__name__} {value!r}")
    r = float(value)
    if not (math.isfinite(r) and r >= 0.0):
        raise ValueError(f"fit: {name} must be finite and >= 0, got {value!r}")
    return r


def _check_seed(seed: object) -> None:
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise ValueError(f"fit: seed must be an int or None, got {seed!r}")


def _scheduled_rate(schedule: Callable[[int, int], float], k: int, total: int) -> float:
    rate: object = schedule(k, total)
    r = float(rate) if not isinstance(rate, bool) and isinstance(rate, numbers.Real) else math.nan
    if not (math.isfinite(r) and r >= 0.0):
        raise ValueError(
            f"fit: lr_schedule({k}, {total}) returned {rate!r}; "
            "a learning rate must be a finite number >= 0"
        )
    return r


def _inputs(X: object, who: str) -> list[list[float]]:
    """``X`` as a non-empty list of equally long rows of finite floats."""
    if isinstance(X, (str, bytes)) or not isinstance(X, Sequence):
        raise ValueError(f"{who}: X must be a list of input rows, got {type(X).__name__}")
    if not X:
        raise ValueError(f"{who}: X is empty; there is nothing to train on")
    rows = []
    for i, row in enumerate(X):
        if isinstance(row, (str, bytes)) or not isinstance(row, Sequence):
            raise ValueError(f"{who}: X[{i}] must be a list of numbers, got {row!r}")
        if len(row) != len(X[0]):
            raise ValueError(f"{who}: X[{i}] has {len(row)} numbers but X[0] has {len(X[0])}")
        for k, v in enumerate(row):
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
                raise ValueError(f"{who}: X[{i}][{k}] is {v!r}; inputs must be finite numbers")
        rows.append([float(v) for v in row])
    return rows


def _check_examples(
    net: Network, X: list[list[float]], Y: Sequence[Any], loss_fn: losses.LossFn, who: str
) -> None:
    """Fail before training, not half-way: every row fits the net, every target the cost.

    Each target is checked by calling the cost on neutral outputs (all 1/2),
    which runs the cost's own validation of the target.
    """
    if isinstance(Y, (str, bytes)) or not isinstance(Y, Sequence):
        raise ValueError(f"{who}: Y must be a list of targets, got {type(Y).__name__}")
    if len(Y) != len(X):
        raise ValueError(f"{who}: X has {len(X)} rows but Y has {len(Y)} targets; they must match")
    with no_grad():
        outputs = net(X[0])
        if not isinstance(outputs, list) or not all(isinstance(a, Value) for a in outputs):
            raise ValueError(f"{who}: net(x) must return a list of Values, got {outputs!r}")
        probe = [Value(0.5) for _ in outputs]
        for i, y in enumerate(Y):
            try:
                cost = loss_fn(probe, y)
            except (TypeError, ValueError) as e:
                raise ValueError(f"{who}: Y[{i}] = {y!r} is not a valid target: {e}") from e
            if not isinstance(cost, Value):
                raise ValueError(
                    f"{who}: the loss must return a Value, got {type(cost).__name__} {cost!r}"
                )


# -- Ctrl-C and the progress bar ----------------------------------------------


@contextmanager
def _finish_before_interrupt() -> Iterator[None]:
    """Hold back a Ctrl-C that arrives in the block until the block is done.

    So an optimiser step, once started, completes: parameters and history
    never disagree. Only Python's default SIGINT handler is replaced, and
    only in the main thread (where signals are delivered).
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return
    caught: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if caught:
        raise KeyboardInterrupt


def _progress_bar(total: int) -> Any:
    """A tqdm bar over the steps, or None when tqdm is not installed (said nowhere)."""
    try:
        tqdm = importlib.import_module("tqdm")
    except ImportError:
        return None
    return tqdm.tqdm(total=total, desc="fit", unit="step", dynamic_ncols=True)


def _show(bar: Any, loss: float, accuracy: float | None) -> None:
    shown = {"loss": f"{loss:.4g}"}
    if accuracy is not None:
        shown["acc"] = f"{accuracy:.1%}"
    bar.set_postfix(shown, refresh=False)
    bar.update(1)


# -- training -------------------------------------------------------------------


def fit(
    net: Network,
    X: Sequence[Sequence[float]],
    Y: Sequence[Any],
    *,
    loss: str | losses.LossFn = "quadratic",
    optimizer: Optimizer | None = None,
    lr: float | None = None,
    epochs: int = 100,
    batch_size: int | None = None,
    l2: float = 0.0,
    penalty: Callable[[], Value] | None = None,
    lr_schedule: Callable[[int, int], float] | None = None,
    accuracy: AccuracyFn | Literal["auto"] | None = "auto",
    shuffle: bool = True,
    seed: int | None = 0,
    progress: bool = True,
    callback: Callable[[History], None] | None = None,
    compiled: bool = False,
) -> History:
    """Train ``net`` on inputs ``X`` and targets ``Y``; return the `History`.

    Args:
        net: an `MLP` (anything with ``net(x) -> list[Value]`` and ``parameters()``).
        X: the training inputs: rows of finite numbers.
        Y: one target per row (its form is the cost's: a number, a list, a class index).
        loss: the per-example cost ``C_x``, a name in `losses.LOSSES`
            ("quadratic", "mse", "cross_entropy", "cross_entropy_with_logits",
            "log_likelihood", "softmax_nll", "hinge") or a callable
            ``(outputs, target) -> Value``.
        optimizer: e.g. ``Adam(net.parameters())``; default ``SGD`` with ``lr``.
        lr: the default SGD's learning rate (`DEFAULT_LR` if not given);
            only without ``optimizer``.
        epochs: passes over the data.
        batch_size: examples per step; None (or more than ``len(X)``) means
            the full batch, one step per epoch. The last batch may be smaller.
        l2: micrograd's L2 penalty ``l2 * sum p^2`` over all parameters,
            added to every batch's cost (`losses.l2_penalty`).
        penalty: any other term added to every batch's cost, e.g. Nielsen's
            ``lambda: losses.l2_weight_penalty(net, lmbda=5.0, n=len(X))``.
        lr_schedule: ``(step, total_steps) -> lr``, set on the optimiser
            before each step (``step`` counts from 0), e.g. micrograd's
            ``lambda k, steps: 1.0 - 0.9 * k / steps``.
        accuracy: ``(outputs, target) -> bool`` per example; "auto" picks by
            cost: the sign for "hinge" (-1/+1 labels), ``a > 0.5`` for one
            sigmoid/quadratic output (0/1 targets), ``z > 0`` for
            "cross_entropy_with_logits", the argmax for several outputs and
            the multi-class costs; not tracked (None) for other callables.
        shuffle: reshuffle the examples every epoch (mini-batches only).
        seed: seeds the shuffling: the same seed gives the same run.
        progress: show a tqdm bar with loss and accuracy (if tqdm is installed).
        callback: called with the history after every step.
        compiled: record one example's graph once and replay it over each
            batch with numpy (`microgrid.compile`, the ``fast`` extra): the
            same costs and gradients up to float rounding, many times faster
            for batches of tens of examples or more. The cost must follow
            the tracing rule (no Python branches on values; see
            docs/compile.md), else `compile.TracingError` says why.

    Ctrl-C ends training: the current step is completed (a Ctrl-C during the
    update waits for it to finish) or abandoned (during the forward or
    backward pass, leaving the parameters as the last step left them), and
    the history so far is returned with ``interrupted=True``.

    Divergence ends training the same way, with an error: when a pass
    overflows, the cost is not finite, or the optimiser's update is not
    finite (refused by `SGD` and `Adam`; undone for any other optimiser),
    the step is abandoned, the parameters stay as the last completed step
    left them, and `DivergenceError` is raised, saying at which step, with
    the history of the completed steps as its ``.history``.

    Raises:
        ValueError: a bad argument, named, before any parameter changes.
        DivergenceError: training diverged (an ArithmeticError; lower the rate).
    """
    X_rows = _inputs(X, "fit")
    loss_fn = losses.get_loss(loss)
    accuracy_fn = _resolve_accuracy(accuracy, loss)
    n_epochs = _int_arg("epochs", epochs, 1)
    n = len(X_rows)
    batch = n if batch_size is None else min(_int_arg("batch_size", batch_size, 1), n)
    alpha = _rate_arg("l2", l2)
    _check_seed(seed)
    for name, fn in (("penalty", penalty), ("lr_schedule", lr_schedule), ("callback", callback)):
        if fn is not None and not callable(fn):
            raise ValueError(f"fit: {name} must be callable or None, got {fn!r}")
    params = net.parameters()
    if optimizer is None:
        optimizer = SGD(params, lr=DEFAULT_LR if lr is None else _rate_arg("lr", lr))
    else:
        if lr is not None:
            raise ValueError("fit: lr is for the default SGD; set it on your optimizer instead")
        if not (callable(getattr(optimizer, "step", None))
                and callable(getattr(optimizer, "zero_grad", None))):
            raise ValueError(f"fit: optimizer must have step() and zero_grad(), got {optimizer!r}")
        held = {id(p) for p in getattr(optimizer, "params", params)}
        if not any(id(p) in held for p in params):
            raise ValueError("fit: the optimizer holds none of the network's parameters")
    has_lr = isinstance(getattr(optimizer, "lr", None), (int, float))
    if lr_schedule is not None and not has_lr:
        raise ValueError("fit: lr_schedule needs an optimizer with an lr attribute")
    _check_examples(net, X_rows, Y, loss_fn, "fit")

    targets = list(Y)
    step = predict = None
    if compiled:
        step, predict = _compiled_step(net, X_rows[0], targets[0], loss_fn, alpha, penalty,
                                       params, accuracy_fn is not None)
    rng = random.Random(seed)
    steps_per_epoch = -(-n // batch)
    total_steps = n_epochs * steps_per_epoch
    history = History()

    def diverged(cause: object) -> DivergenceError:
        return _diverged(history, optimizer, cause, total_steps, steps_per_epoch)

    bar = _progress_bar(total_steps) if progress else None
    start = time.perf_counter()
    try:
        order = list(range(n))
        for _ in range(n_epochs):
            if shuffle and batch < n:
                rng.shuffle(order)
            epoch_cost = 0.0
            epoch_right = 0
            for first in range(0, n, batch):
                idx = order[first:first + batch]
                m = len(idx)
                ys = [targets[i] for i in idx]
                optimizer.zero_grad()
                try:
                    if step is None:
                        outputs = [net(X_rows[i]) for i in idx]
                        cost = sum_of([loss_fn(a, y) for a, y in zip(outputs, ys, strict=True)])
                        cost = cost * (1.0 / m)
                        if alpha:
                            cost = cost + losses.l2_penalty(params, alpha)
                        if penalty is not None:
                            cost = cost + penalty()
                        cost.backward()
                        cost_value = cost.data
                    else:
                        rows = [X_rows[i] for i in idx]
                        cost_value = step.backward(rows, ys)
                        outputs = [] if predict is None else [
                            [Value(v) for v in row] for row in predict.forward(rows).reshape(m, -1)
                        ]
                except ArithmeticError as e:  # an overflow: the parameters have blown up
                    raise diverged(e) from e
                if not -math.inf < cost_value < math.inf:
                    raise diverged(f"the cost is {cost_value!r}")
                right = 0
                if accuracy_fn is not None:
                    right = sum(1 for a, y in zip(outputs, ys, strict=True) if accuracy_fn(a, y))
                with _finish_before_interrupt():
                    if lr_schedule is not None:
                        optimizer.lr = _scheduled_rate(lr_schedule, history.steps, total_steps)
                    problem = _update(optimizer, params)
                    if problem is not None:
                        raise diverged(problem)
                    # weight m/n, not c*m summed then /n: an epoch of one full
                    # batch (weight 1.0) then reports its step's cost exactly
                    epoch_cost += cost_value * (m / n)
                    epoch_right += right
                    history.step_loss.append(cost_value)
                    if accuracy_fn is not None:
                        history.step_accuracy.append(right / m)
                    if has_lr:
                        history.lr.append(float(optimizer.lr))
                    if first + batch >= n:  # the epoch's last step
                        history.loss.append(epoch_cost)
                        if accuracy_fn is not None:
                            history.accuracy.append(epoch_right / n)
                    if bar is not None:
                        _show(bar, cost_value, right / m if accuracy_fn is not None else None)
                if callback is not None:
                    callback(history)
    except KeyboardInterrupt:
        history.interrupted = True
        optimizer.zero_grad()  # the abandoned batch's partial grads mean nothing
    except DivergenceError:
        optimizer.zero_grad()
        raise
    finally:
        history.seconds = time.perf_counter() - start
        if bar is not None:
            bar.close()
    return history


def _compiled_step(
    net: Network,
    x: Sequence[float],
    y: Any,
    loss_fn: losses.LossFn,
    alpha: float,
    penalty: Callable[[], Value] | None,
    params: list[Value],
    want_outputs: bool,
) -> tuple[Compiled, Compiled | None]:
    """`fit`'s step as compiled programs: the mean cost (with the same
    penalties, which are batch-independent, so the mean adds them once) and,
    for accuracy, the network's outputs."""
    from microgrid.compiler import compile as compile_graph

    def example_cost(x: list[Value], y: Any) -> Value:
        cost = loss_fn(net(x), y)
        if alpha:
            cost = cost + losses.l2_penalty(params, alpha)
        if penalty is not None:
            cost = cost + penalty()
        return cost

    step = compile_graph(example_cost, x, y, params=params, reduction="mean", static_y=True)
    predict = compile_graph(lambda x: net(x), x) if want_outputs else None
    return step, predict


class Evaluation(NamedTuple):
    """The average cost over a data set, and the fraction classified right (or None)."""

    loss: float
    accuracy: float | None


def evaluate(
    net: Network,
    X: Sequence[Sequence[float]],
    Y: Sequence[Any],
    *,
    loss: str | losses.LossFn = "quadratic",
    accuracy: AccuracyFn | Literal["auto"] | None = "auto",
) -> Evaluation:
    """The mean cost ``C = 1/n sum_x C_x`` and the accuracy of ``net``, without a graph.

    ``loss`` and ``accuracy`` as in `fit` (no penalties are added).

        >>> from microgrid.nn import MLP
        >>> evaluate(MLP(1, [1], seed=0), [[0.0]], [0.0], loss="mse")
        Evaluation(loss=0.0, accuracy=1.0)
    """
    X_rows = _inputs(X, "evaluate")
    loss_fn = losses.get_loss(loss)
    accuracy_fn = _resolve_accuracy(accuracy, loss)
    _check_examples(net, X_rows, Y, loss_fn, "evaluate")
    total = 0.0
    right = 0
    with no_grad():
        for x, y in zip(X_rows, Y, strict=True):
            outputs = net(x)
            total += loss_fn(outputs, y).data
            if accuracy_fn is not None and accuracy_fn(outputs, y):
                right += 1
    n = len(X_rows)
    return Evaluation(total / n, right / n if accuracy_fn is not None else None)
