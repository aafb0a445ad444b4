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

from microgrid import _checks as check
from microgrid import losses
from microgrid.engine import Scalar, Value, no_grad, sum_of
from microgrid.optim import SGD, Adam, Optimizer

if TYPE_CHECKING:
    from microgrid.compiler import Compiled
    from microgrid.compiler.training import Training

__all__ = [
    "AccuracyFn",
    "DivergenceError",
    "Evaluation",
    "History",
    "Network",
    "argmax_accuracy",
    "confusion",
    "evaluate",
    "fit",
    "predict",
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
            raise TypeError(
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

    With ``fit(validation=(X, Y))``, ``validation_loss`` and
    ``validation_accuracy`` hold `evaluate`'s figures on that set after
    each epoch (the mean cost without penalties, as the network stands at
    the end of the epoch); an epoch is completed once they are measured, so
    every epoch list has one entry per completed epoch.
    """

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)
    step_accuracy: list[float] = field(default_factory=list)
    validation_loss: list[float] = field(default_factory=list)
    """The mean cost on the validation set after each epoch (empty without one)."""
    validation_accuracy: list[float] = field(default_factory=list)
    """The fraction of the validation set classified right after each epoch (empty
    without a validation set, or when accuracy is not tracked)."""
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
            "validation_loss": list(self.validation_loss),
            "validation_accuracy": list(self.validation_accuracy),
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


def _diverged(plan: _Plan, history: History, cause: object) -> DivergenceError:
    """The error that ends training at the step after the history's last, for ``cause``."""
    optimizer, total_steps, steps_per_epoch = plan.optimizer, plan.total_steps, plan.steps_per_epoch
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


def _update_training(training: Training, optimizer: Optimizer) -> ValueError | None:
    """`_update` for parameters held in arrays: `Training.update`, which refuses
    a non-finite gradient or update as `SGD` and `Adam` do, changing nothing."""
    lr = optimizer.lr
    try:
        training.update()
    except ValueError as e:
        if isinstance(lr, (int, float)) and math.isfinite(lr) and lr >= 0:
            return e
        raise
    return None


# -- checking arguments -------------------------------------------------------


def _scheduled_rate(schedule: Callable[[int, int], float], k: int, total: int) -> float:
    rate: object = schedule(k, total)
    r = float(rate) if not isinstance(rate, bool) and isinstance(rate, numbers.Real) else math.nan
    if not (math.isfinite(r) and r >= 0.0):
        raise ValueError(
            f"fit: lr_schedule({k}, {total}) returned {rate!r}; "
            "a learning rate must be a finite number >= 0"
        )
    return r


def _inputs(X: object, who: str, name: str = "X") -> list[list[float]]:
    """``X`` as a non-empty list of equally long rows of finite floats (``name`` in messages)."""
    if isinstance(X, (str, bytes)) or not isinstance(X, Sequence):
        raise TypeError(f"{who}: {name} must be a list of input rows, got {type(X).__name__}")
    if not X:
        raise ValueError(f"{who}: {name} is empty; there is nothing to work on")
    rows = []
    width = len(X[0]) if isinstance(X[0], Sequence) else -1
    for i, row in enumerate(X):
        if type(row) is list and len(row) == width and set(map(type, row)) == _FLOAT \
                and math.isfinite(sum(row)):
            # the common case, fast (MNIST's 47 million pixels): a list of finite
            # floats (a non-finite one makes the sum so), kept as it is, not copied
            rows.append(row)
            continue
        if isinstance(row, (str, bytes)) or not isinstance(row, Sequence):
            raise TypeError(f"{who}: {name}[{i}] must be a list of numbers, "
                            f"got {type(row).__name__} {check.quote(row)}")
        if len(row) != len(X[0]):
            raise ValueError(f"{who}: {name}[{i}] has {len(row)} numbers but {name}[0] has "
                             f"{len(X[0])}")
        for k, v in enumerate(row):
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
                check.real(v, f"{name}[{i}][{k}]", who=who)  # raises, naming it
        rows.append([float(v) for v in row])
    return rows


_FLOAT = {float}


def _check_examples(
    net: Network, X: list[list[float]], Y: Sequence[Any], loss_fn: losses.LossFn, who: str,
    names: tuple[str, str] = ("X", "Y"),
) -> None:
    """Fail before training, not half-way: every row fits the net, every target the cost.

    Each target is checked by calling the cost on neutral outputs (all 1/2),
    which runs the cost's own validation of the target.
    """
    x_name, y_name = names
    if isinstance(Y, (str, bytes)) or not isinstance(Y, Sequence):
        raise TypeError(f"{who}: {y_name} must be a list of targets, got {type(Y).__name__}")
    if len(Y) != len(X):
        raise ValueError(f"{who}: {x_name} has {len(X)} rows but {y_name} has {len(Y)} targets; "
                         "they must match")
    with no_grad():
        outputs = net(X[0])
        if not isinstance(outputs, list) or not all(isinstance(a, Value) for a in outputs):
            raise TypeError(f"{who}: net(x) must return a list of Values, "
                            f"got {check.quote(outputs)}")
        probe = [Value(0.5) for _ in outputs]
        for i, y in enumerate(Y):
            try:
                cost = loss_fn(probe, y)
            except (TypeError, ValueError) as e:
                error = TypeError if isinstance(e, TypeError) else ValueError
                raise error(f"{who}: {y_name}[{i}] = {check.quote(y)} is not a valid target: "
                            f"{e}") from e
            if not isinstance(cost, Value):
                raise TypeError(
                    f"{who}: the loss must return a Value, got {type(cost).__name__} {cost!r}"
                )


def _validation_set(
    validation: object, net: Network, X: list[list[float]], loss_fn: losses.LossFn
) -> tuple[list[list[float]], list[Any]] | None:
    """`fit`'s ``validation=(X, Y)`` checked as the training data are, or None."""
    if validation is None:
        return None
    if (isinstance(validation, (str, bytes)) or not isinstance(validation, Sequence)
            or len(validation) != 2):
        raise TypeError("fit: validation must be a pair (X, Y) of inputs and targets, "
                        f"got {type(validation).__name__} {check.quote(validation)}")
    X_val, Y_val = validation
    rows = _inputs(X_val, "fit", "validation X")
    if len(rows[0]) != len(X[0]):
        raise ValueError(f"fit: validation X has rows of {len(rows[0])} numbers but X has rows "
                         f"of {len(X[0])}; they must match")
    _check_examples(net, rows, Y_val, loss_fn, "fit", ("validation X", "validation Y"))
    return rows, list(Y_val)


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
    """A tqdm bar over the steps, or None when tqdm is not installed (said nowhere).

    ``tqdm.auto``: a widget in a notebook where ipywidgets is installed (the
    text bar there is drawn raw on stderr), the text bar elsewhere.
    """
    try:
        tqdm = importlib.import_module("tqdm.auto")
    except ImportError:
        return None
    return tqdm.tqdm(total=total, desc="fit", unit="step", dynamic_ncols=True)


def _show(bar: Any, plan: _Plan, loss: float, accuracy: float | None) -> None:
    """The step's loss and accuracy on the bar, then the last validation's figures."""
    plan.step_shown = {"loss": f"{loss:.4g}"}
    if accuracy is not None:
        plan.step_shown["acc"] = f"{accuracy:.1%}"
    bar.set_postfix({**plan.step_shown, **plan.shown}, refresh=False)
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
    validation: tuple[Sequence[Sequence[float]], Sequence[Any]] | None = None,
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
        validation: a held-out set ``(X, Y)`` (e.g. the test set, as the
            book's ``test_data``), measured with `evaluate` after every
            epoch into ``History.validation_loss`` and
            ``validation_accuracy`` and shown on the progress bar. It
            never changes the parameters. Checked up front like ``X`` and ``Y``.
        shuffle: reshuffle the examples every epoch (mini-batches only).
        seed: seeds the shuffling: the same seed gives the same run.
        progress: show a tqdm bar with loss and accuracy (if tqdm is installed;
            ``tqdm.auto``, so a widget in a notebook that has ipywidgets).
        callback: called with the history after every step.
        compiled: record one example's graph once and replay it over each
            batch with numpy (`microgrid.compile`, the ``fast`` extra): the
            same costs and gradients up to float rounding, many times faster
            for batches of tens of examples or more. The cost must follow
            the tracing rule (no Python branches on values; see
            docs/compile.md), else `compile.TracingError` says why. The
            validation set is then measured compiled too.

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
        TypeError: an argument of the wrong type, named, before any parameter changes.
        ValueError: an argument with a bad value, named, before any parameter changes.
        DivergenceError: training diverged (an ArithmeticError; lower the rate).
    """
    plan = _plan(net, X, Y, loss=loss, optimizer=optimizer, lr=lr, epochs=epochs,
                 batch_size=batch_size, l2=l2, penalty=penalty, lr_schedule=lr_schedule,
                 accuracy=accuracy, validation=validation, seed=seed, callback=callback,
                 compiled=compiled)
    history = History()
    bar = _progress_bar(plan.total_steps) if progress else None
    start = time.perf_counter()
    try:
        rng = random.Random(seed)
        order = list(range(len(plan.X)))
        with _holding(plan):
            for _ in range(plan.epochs):
                if shuffle and plan.batch < len(order):
                    rng.shuffle(order)
                _epoch(plan, history, order, bar, callback)
    except KeyboardInterrupt:
        history.interrupted = True
        plan.optimizer.zero_grad()  # the abandoned batch's partial grads mean nothing
    except DivergenceError:
        plan.optimizer.zero_grad()
        raise
    finally:
        history.seconds = time.perf_counter() - start
        if bar is not None:
            bar.close()
    return history


@dataclass
class _Plan:
    """What `fit` was asked to do, every argument checked."""

    net: Network
    X: list[list[float]]
    Y: list[Any]
    loss_fn: losses.LossFn
    accuracy_fn: AccuracyFn | None
    optimizer: Optimizer
    params: list[Value]
    epochs: int
    batch: int
    alpha: float
    penalty: Callable[[], Value] | None
    lr_schedule: Callable[[int, int], float] | None
    has_lr: bool
    validation: tuple[list[list[float]], list[Any]] | None = None
    compiled: tuple[Compiled, Compiled | None] | None = None
    """The compiled step and, when accuracy is tracked, the compiled forward pass."""
    scorer: Compiled | None = None
    """The compiled cost and outputs that measure the validation set (`_scorer`)."""
    arrays: tuple[Any, Any] | None = None
    """``X`` and ``Y`` as numpy arrays, when the compiled step trains in arrays."""
    training: Training | None = None
    """While `_holding`: the compiled step's `Training`, the parameters in its arrays."""
    step_shown: dict[str, str] = field(default_factory=dict)
    """What the progress bar shows of the last step (loss, accuracy)."""
    shown: dict[str, str] = field(default_factory=dict)
    """What the progress bar shows after the step's figures (the last validation's)."""

    @property
    def steps_per_epoch(self) -> int:
        return -(-len(self.X) // self.batch)

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch


def _plan(
    net: Network,
    X: object,
    Y: Sequence[Any],
    *,
    loss: str | losses.LossFn,
    optimizer: Optimizer | None,
    lr: float | None,
    epochs: int,
    batch_size: int | None,
    l2: float,
    penalty: Callable[[], Value] | None,
    lr_schedule: Callable[[int, int], float] | None,
    accuracy: AccuracyFn | Literal["auto"] | None,
    validation: object,
    seed: int | None,
    callback: Callable[[History], None] | None,
    compiled: bool,
) -> _Plan:
    """`fit`'s arguments checked, before any parameter changes (TypeError/ValueError)."""
    X_rows = _inputs(X, "fit")
    loss_fn = losses.get_loss(loss)
    accuracy_fn = _resolve_accuracy(accuracy, loss)
    n_epochs = check.integer(epochs, "epochs", at_least=1, who="fit")
    batch = len(X_rows) if batch_size is None else min(
        check.integer(batch_size, "batch_size", at_least=1, who="fit"), len(X_rows))
    alpha = check.real(l2, "l2", at_least=0.0, who="fit")
    check.seed(seed, who="fit")
    for name, fn in (("penalty", penalty), ("lr_schedule", lr_schedule), ("callback", callback)):
        check.function(fn, name, who="fit")
    params = net.parameters()
    optimizer = _checked_optimizer(optimizer, lr, params)
    has_lr = isinstance(getattr(optimizer, "lr", None), (int, float))
    if lr_schedule is not None and not has_lr:
        raise ValueError("fit: lr_schedule needs an optimizer with an lr attribute")
    _check_examples(net, X_rows, Y, loss_fn, "fit")
    held_out = _validation_set(validation, net, X_rows, loss_fn)
    plan = _Plan(net, X_rows, list(Y), loss_fn, accuracy_fn, optimizer, params, n_epochs, batch,
                 alpha, penalty, lr_schedule, has_lr, held_out)
    if compiled:
        plan.compiled = _compiled_step(plan)
        if held_out is not None:
            plan.scorer = _scorer(net, loss_fn, *held_out)
    return plan


def _checked_optimizer(optimizer: Optimizer | None, lr: float | None,
                       params: list[Value]) -> Optimizer:
    """The optimizer `fit` was given, checked, or the default SGD at rate ``lr``."""
    if optimizer is None:
        rate = DEFAULT_LR if lr is None else check.real(lr, "lr", at_least=0.0, who="fit")
        return SGD(params, lr=rate)
    if lr is not None:
        raise ValueError("fit: lr is for the default SGD; set it on your optimizer instead")
    if not (callable(getattr(optimizer, "step", None))
            and callable(getattr(optimizer, "zero_grad", None))):
        raise TypeError(f"fit: optimizer must have step() and zero_grad(), "
                        f"got {type(optimizer).__name__} {check.quote(optimizer)}")
    held = {id(p) for p in getattr(optimizer, "params", params)}
    if not any(id(p) in held for p in params):
        raise ValueError("fit: the optimizer holds none of the network's parameters")
    return optimizer


def _epoch(
    plan: _Plan,
    history: History,
    order: list[int],
    bar: Any,
    callback: Callable[[History], None] | None,
) -> None:
    """One pass over the examples in ``order``, a step per batch; the epoch's means recorded.

    The epoch's figures are appended with its last step, or, with a
    validation set, together with the validation's figures once they are
    measured (a Ctrl-C while measuring abandons the measurement, not a
    step), so every epoch list has one entry per completed epoch.
    """
    n = len(order)
    cost_mean = 0.0
    right_sum = 0
    for first in range(0, n, plan.batch):
        batch = order[first:first + plan.batch]
        m = len(batch)
        last = first + plan.batch >= n
        cost, right = _forward_backward(plan, history, batch)
        with _finish_before_interrupt():
            _step(plan, history, cost, right / m)
            # weight m/n, not c*m summed then /n: an epoch of one full
            # batch (weight 1.0) then reports its step's cost exactly
            cost_mean += cost * (m / n)
            right_sum += right
            if last and plan.validation is None:
                _record_epoch(plan, history, cost_mean, right_sum / n, None)
            if bar is not None:
                _show(bar, plan, cost, right / m if plan.accuracy_fn is not None else None)
        if not last and callback is not None:
            _sync(plan)
            callback(history)
    if plan.validation is not None:
        _sync(plan)  # the network's Values, which the validation reads, as trained
        held_out = _measure(plan.net, *plan.validation, plan.loss_fn, plan.accuracy_fn,
                            plan.scorer)
        with _finish_before_interrupt():
            _record_epoch(plan, history, cost_mean, right_sum / n, held_out)
            if bar is not None:  # the last step's figures, now with the validation's
                bar.set_postfix({**plan.step_shown, **plan.shown})
    if callback is not None:
        _sync(plan)
        callback(history)


def _record_epoch(plan: _Plan, history: History, loss: float, accuracy: float,
                  held_out: Evaluation | None) -> None:
    """Append a completed epoch's figures to the history (and the bar's validation text)."""
    history.loss.append(loss)
    if plan.accuracy_fn is not None:
        history.accuracy.append(accuracy)
    if held_out is not None:
        history.validation_loss.append(held_out.loss)
        plan.shown = {"val_loss": f"{held_out.loss:.4g}"}
        if held_out.accuracy is not None:
            history.validation_accuracy.append(held_out.accuracy)
            plan.shown["val_acc"] = f"{held_out.accuracy:.1%}"


def _forward_backward(plan: _Plan, history: History, batch: list[int]) -> tuple[float, int]:
    """The batch's cost, its gradients filled in, and how many it classifies right."""
    ys = [plan.Y[i] for i in batch]
    try:
        if plan.training is not None:
            cost, outputs = _training_cost(plan, batch)
        else:
            xs = [plan.X[i] for i in batch]
            plan.optimizer.zero_grad()
            if plan.compiled is None:
                cost, outputs = _eager_cost(plan, xs, ys)
            else:
                cost, outputs = _compiled_cost(*plan.compiled, xs, ys)
    except ArithmeticError as e:  # an overflow: the parameters have blown up
        raise _diverged(plan, history, e) from e
    if not -math.inf < cost < math.inf:
        raise _diverged(plan, history, f"the cost is {cost!r}")
    accuracy = plan.accuracy_fn
    right = 0 if accuracy is None else sum(
        1 for a, y in zip(outputs, ys, strict=True) if accuracy(a, y))
    return cost, right


def _eager_cost(
    plan: _Plan, xs: list[list[float]], ys: list[Any]
) -> tuple[float, list[list[Value]]]:
    """The batch's mean cost plus penalties, through the engine; backward run; the outputs."""
    outputs = [plan.net(x) for x in xs]
    cost = sum_of([plan.loss_fn(a, y) for a, y in zip(outputs, ys, strict=True)])
    cost = cost * (1.0 / len(xs))
    if plan.alpha:
        cost = cost + losses.l2_penalty(plan.params, plan.alpha)
    if plan.penalty is not None:
        cost = cost + plan.penalty()
    cost.backward()
    return cost.data, outputs


def _compiled_cost(
    step: Compiled, predict: Compiled | None, xs: list[list[float]], ys: list[Any]
) -> tuple[float, list[list[Value]]]:
    """`_eager_cost` replayed by the compiled programs (outputs only if accuracy is tracked)."""
    cost = step.backward(xs, ys)
    if predict is None:
        return cost, []
    rows = predict.forward(xs).reshape(len(xs), -1)
    return cost, [[Value(v) for v in row] for row in rows]


def _training_cost(plan: _Plan, batch: list[int]) -> tuple[float, list[list[Value]]]:
    """The batch replayed by the compiled step that holds the parameters in arrays:
    the cost (the gradients kept for `_step`) and the outputs, if accuracy is tracked."""
    assert plan.training is not None and plan.arrays is not None
    X, Y = plan.arrays
    cost = plan.training.compute(X[batch], Y[batch])
    outputs = plan.training.outputs
    if outputs is None:
        return cost, []
    return cost, [[Value(v) for v in row] for row in outputs.tolist()]


@contextmanager
def _holding(plan: _Plan) -> Iterator[None]:
    """While training compiled with `SGD` or `Adam`: the parameters in the compiled
    step's arrays (`Compiled.training`), written back to the network (with the
    last gradients and the optimiser's state) however the block ends."""
    if plan.compiled is None or plan.arrays is None:
        yield
        return
    with plan.compiled[0].training(plan.optimizer) as training:
        plan.training = training
        try:
            yield
        finally:
            plan.training = None


def _sync(plan: _Plan) -> None:
    """Before user code or the validation reads the network: its Values as trained."""
    if plan.training is not None:
        plan.training.sync()


def _step(plan: _Plan, history: History, cost: float, accuracy: float) -> None:
    """The optimiser's step (at the scheduled rate), recorded in the history."""
    optimizer = plan.optimizer
    if plan.lr_schedule is not None:
        optimizer.lr = _scheduled_rate(plan.lr_schedule, history.steps, plan.total_steps)
    problem: ValueError | str | None
    if plan.training is not None:
        problem = _update_training(plan.training, optimizer)
    else:
        problem = _update(optimizer, plan.params)
    if problem is not None:
        raise _diverged(plan, history, problem)
    history.step_loss.append(cost)
    if plan.accuracy_fn is not None:
        history.step_accuracy.append(accuracy)
    if plan.has_lr:
        history.lr.append(float(optimizer.lr))


def _compiled_step(plan: _Plan) -> tuple[Compiled, Compiled | None]:
    """`fit`'s step as compiled programs: the mean cost (with the same
    penalties, which are batch-independent, so the mean adds them once) and,
    for accuracy, the network's outputs.

    With `SGD` or `Adam` holding exactly the network's parameters the step
    trains in arrays (`Compiled.training`, see `_holding`): one program returns
    ``[cost, *outputs]`` and ``plan.arrays`` holds the data as arrays. Any
    other optimiser gets the gradients in the Values (``step.backward``) and
    a second program for the outputs.
    """
    import numpy as np

    from microgrid.compiler import compile as compile_graph

    net, loss_fn, alpha, penalty, params = (plan.net, plan.loss_fn, plan.alpha, plan.penalty,
                                            plan.params)

    def example_cost(x: list[Value], y: Any) -> Value:
        cost = loss_fn(net(x), y)
        if alpha:
            cost = cost + losses.l2_penalty(params, alpha)
        if penalty is not None:
            cost = cost + penalty()
        return cost

    x, y = plan.X[0], plan.Y[0]
    static = _static_targets(loss_fn, plan.Y)
    want_outputs = plan.accuracy_fn is not None
    optimizer = plan.optimizer
    if (type(optimizer) in (SGD, Adam)
            and {id(p) for p in optimizer.params} == {id(p) for p in params}
            and len(optimizer.params) == len(params)):
        def cost_and_outputs(x: list[Value], y: Any) -> list[Value]:
            outputs = net(x)
            cost = loss_fn(outputs, y)
            if alpha:
                cost = cost + losses.l2_penalty(params, alpha)
            if penalty is not None:
                cost = cost + penalty()
            return [cost, *outputs]

        step = compile_graph(cost_and_outputs if want_outputs else example_cost, x, y,
                             params=params, reduction="mean", static_y=static)
        plan.arrays = (np.array(plan.X), np.array(plan.Y))
        return step, None
    step = compile_graph(example_cost, x, y, params=params, reduction="mean", static_y=static)
    predict = (compile_graph(lambda x: net(x), x, params=params) if want_outputs
               else None)
    return step, predict


def _static_targets(loss_fn: losses.LossFn, Y: list[Any]) -> bool:
    """Whether a compiled cost must see each target as a plain number (`compile`'s ``static_y``).

    The costs that build the same graph for every target when it is a Value
    (`_VALUE_TARGETS`) get Value targets: one program replays every batch.
    Static targets give a recording per distinct target, and where the
    graph's shape depends on the target (``cross_entropy`` leaves out a
    term whose weight is 0, so each one-hot target is its own program) a
    batch of ten digits is replayed as up to ten programs, several times
    slower. Class indices choose the output they read, and any other cost
    may branch on its target: those stay static.
    """
    numeric = all(
        (not isinstance(y, bool) and isinstance(y, numbers.Real))
        or (isinstance(y, Sequence) and not isinstance(y, (str, bytes))
            and all(not isinstance(v, bool) and isinstance(v, numbers.Real) for v in y))
        for y in Y)
    return not (numeric and loss_fn in _VALUE_TARGETS)


_VALUE_TARGETS = (losses.quadratic, losses.mse, losses.cross_entropy,
                  losses.cross_entropy_with_logits)
"""The costs whose graph is the same for every Value target (see `_static_targets`)."""


def _scorer(net: Network, loss_fn: losses.LossFn, X: list[list[float]], Y: list[Any]) -> Compiled:
    """One compiled program giving each example's cost (no penalties) and the outputs.

    Targets as in the training step (`_static_targets`).
    """
    from microgrid.compiler import compile as compile_graph

    def cost_and_outputs(x: list[Value], y: Any) -> list[Value]:
        outputs = net(x)
        return [loss_fn(outputs, y), *outputs]

    # The parameters named (their gradients are never asked for): recordings are
    # compared by their role, where a leaf from outside compares by its value,
    # which training changes, and a changed value makes compile walk both graphs
    # to find it harmless (0.1 s an example for [784, 30, 10]).
    return compile_graph(cost_and_outputs, X[0], Y[0], params=net.parameters(),
                         static_y=_static_targets(loss_fn, Y))


_CHUNK = 1000
"""Examples replayed at once when measuring a data set compiled: the stores are
(rows x examples) floats, so this bounds memory for MNIST's 10,000 (~8 MB, not 80)."""


def _measure(
    net: Network,
    X: list[list[float]],
    Y: list[Any],
    loss_fn: losses.LossFn,
    accuracy_fn: AccuracyFn | None,
    scorer: Compiled | None,
) -> Evaluation:
    """The mean cost and the fraction right on ``(X, Y)``: eagerly, or by ``scorer``."""
    total = 0.0
    right = 0
    if scorer is None:
        with no_grad():
            for x, y in zip(X, Y, strict=True):
                outputs = net(x)
                total += loss_fn(outputs, y).data
                if accuracy_fn is not None and accuracy_fn(outputs, y):
                    right += 1
    else:
        for first in range(0, len(X), _CHUNK):
            ys = Y[first:first + _CHUNK]
            rows = scorer.forward(X[first:first + _CHUNK], ys).reshape(len(ys), -1)
            total += float(rows[:, 0].sum())
            if accuracy_fn is not None:
                right += sum(1 for row, y in zip(rows[:, 1:].tolist(), ys, strict=True)
                             if accuracy_fn([Value(v) for v in row], y))
    n = len(X)
    return Evaluation(total / n, right / n if accuracy_fn is not None else None)


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
    compiled: bool = False,
) -> Evaluation:
    """The mean cost ``C = 1/n sum_x C_x`` and the accuracy of ``net``, without a graph.

    ``loss`` and ``accuracy`` as in `fit` (no penalties are added). A test
    set after training, as the book's ``net.evaluate(test_data)`` (which
    counts the right ones: ``accuracy * len(X)``):

        >>> from microgrid.nn import MLP
        >>> evaluate(MLP(1, [1], seed=0), [[0.0]], [0.0], loss="mse")
        Evaluation(loss=0.0, accuracy=1.0)

    ``compiled=True`` replays one recorded example over the whole set with
    numpy (the ``fast`` extra; as `fit`'s ``compiled``): the same figures up
    to float rounding in the mean, and fast enough for MNIST's 10,000 test
    images (about 0.1 s for ``[784, 30, 10]``, where the eager engine takes
    tens of seconds).

    Raises:
        TypeError: an argument of the wrong type, named.
        ValueError: an argument with a bad value (a row that does not fit the
            network, a target the cost refuses), named.
    """
    X_rows = _inputs(X, "evaluate")
    loss_fn = losses.get_loss(loss)
    accuracy_fn = _resolve_accuracy(accuracy, loss)
    _check_examples(net, X_rows, Y, loss_fn, "evaluate")
    Y_list = list(Y)
    scorer = _scorer(net, loss_fn, X_rows, Y_list) if _flag(compiled, "evaluate") else None
    return _measure(net, X_rows, Y_list, loss_fn, accuracy_fn, scorer)


def _flag(value: object, who: str, name: str = "compiled") -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{who}: {name} must be True or False, got {check.quote(value)}")
    return value


def predict(
    net: Network, X: Sequence[Sequence[float]], *, compiled: bool = False
) -> list[int]:
    """The class ``net`` predicts for each row of ``X``: the index of its largest output.

    For a network with one output, 1 where the output is above the cut
    (0.5 for a sigmoid output, else 0: a score) and 0 elsewhere.
    ``compiled=True`` computes the outputs with one compiled replay (numpy).

        >>> from microgrid.nn import MLP
        >>> net = MLP(2, [3], activation="sigmoid", seed=1)
        >>> predict(net, [[0.0, 1.0], [1.0, 0.0], [-1.0, -1.0]])
        [0, 1, 2]

    Raises:
        TypeError: an argument of the wrong type, or outputs that are not Values.
        ValueError: rows that are empty or do not fit the network.
    """
    X_rows = _inputs(X, "predict")
    with no_grad():
        first = net(X_rows[0])
    if not isinstance(first, list) or not first or not all(isinstance(a, Value) for a in first):
        raise TypeError(f"predict: net(x) must return a list of Values, got {check.quote(first)}")
    if _flag(compiled, "predict"):
        from microgrid.compiler import compile as compile_graph

        forward = compile_graph(lambda x: net(x), X_rows[0], params=net.parameters())
        outputs: list[list[float]] = []
        for start in range(0, len(X_rows), _CHUNK):
            chunk = X_rows[start:start + _CHUNK]
            outputs += forward.forward(chunk).reshape(len(chunk), -1).tolist()
    else:
        with no_grad():
            outputs = [[a.data for a in net(x)] for x in X_rows]
    if len(first) > 1:
        return [_argmax(row) for row in outputs]
    cut = 0.5 if getattr(net, "output_activation", None) == "sigmoid" else 0.0
    return [int(row[0] > cut) for row in outputs]


def confusion(
    Y: Sequence[Any], predicted: Sequence[int], n_classes: int | None = None
) -> list[list[int]]:
    """The confusion matrix: ``counts[i][j]`` examples of class ``i`` predicted as ``j``.

    ``Y`` holds class indices or one-hot lists (as `one_hot` makes them),
    ``predicted`` class indices (as `predict` returns them). The diagonal
    counts the right ones. ``n_classes`` defaults to one more than the
    largest class seen.

        >>> confusion([0, 1, 1, 2], [0, 1, 2, 2])
        [[1, 0, 0], [0, 1, 1], [0, 0, 1]]

    Raises:
        TypeError: labels that are not class indices (ints) or one-hot lists.
        ValueError: lengths that differ, a negative class, a class >= ``n_classes``.
    """
    true = _class_indices(Y, "Y")
    guessed = _class_indices(predicted, "predicted")
    if len(true) != len(guessed):
        raise ValueError(f"confusion: Y has {len(true)} labels but predicted has {len(guessed)}; "
                         "they must match")
    seen = max([*true, *guessed], default=-1) + 1
    n = seen if n_classes is None else check.integer(n_classes, "n_classes", at_least=1,
                                                      who="confusion")
    if seen > n:
        raise ValueError(f"confusion: class {seen - 1} is out of range for n_classes={n}")
    counts = [[0] * n for _ in range(n)]
    for i, j in zip(true, guessed, strict=True):
        counts[i][j] += 1
    return counts


def _class_indices(labels: object, name: str, who: str = "confusion") -> list[int]:
    """Class labels as indices: ints >= 0, or one-hot lists (their argmax)."""
    if isinstance(labels, (str, bytes)) or not isinstance(labels, Sequence):
        raise TypeError(f"{who}: {name} must be a list of class labels, "
                        f"got {type(labels).__name__}")
    classes = []
    for i, y in enumerate(labels):
        if isinstance(y, Sequence) and not isinstance(y, (str, bytes)) and y and all(
                isinstance(v, numbers.Real) and not isinstance(v, bool) for v in y):
            classes.append(_argmax(y))
        elif not isinstance(y, bool) and isinstance(y, numbers.Integral):
            if y < 0:
                raise ValueError(f"{who}: {name}[{i}] is {y}; classes are counted from 0")
            classes.append(int(y))
        else:
            raise TypeError(f"{who}: {name}[{i}] is {type(y).__name__} {check.quote(y)}; "
                            "expected a class index (int) or a one-hot list")
    return classes
