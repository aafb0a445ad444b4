"""Specification of microgrid.train: `fit` learns, reports, and stops cleanly.

- `fit` with micrograd's settings is micrograd's training loop, step for step.
- An MLP learns XOR and two-moons (seeds fixed) to >= 97% training accuracy.
- Mini-batches are shuffled by ``seed`` and cover every example once per epoch;
  the history's per-epoch figures are the batch-size-weighted means of the steps.
- Ctrl-C returns the history so far with ``interrupted=True`` and parameters
  exactly as some completed step left them.
- Bad arguments raise ValueError naming them, before any parameter changes.
- A validation set is measured after every epoch, exactly as `evaluate` measures
  it then, without changing the training; `predict` and `confusion` read a
  classifier's answers on a test set.
"""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import json
import math
import re
import signal
import sys
import types

import pytest

from microgrid import MLP, SGD, Adam, Value, is_grad_enabled, no_grad, sum_of
from microgrid.datasets import circles, digits, moons, one_hot, train_test_split, xor
from microgrid.losses import batch_cost, l2_weight_penalty, quadratic
from microgrid.train import (
    DEFAULT_LR,
    DivergenceError,
    Evaluation,
    History,
    argmax_accuracy,
    confusion,
    evaluate,
    fit,
    predict,
    sign_accuracy,
    threshold_accuracy,
)

needs_numpy = pytest.mark.skipif(importlib.util.find_spec("numpy") is None,
                                 reason="compiled=True needs numpy (the fast extra)")


def micrograd_schedule(k: int, steps: int) -> float:
    return 1.0 - 0.9 * k / steps


def micrograd_loop(net, X, y, steps, alpha):
    """micrograd's demo.ipynb training loop, written out by hand."""
    params = net.parameters()
    losses, accuracies = [], []
    for k in range(steps):
        scores = [net(x) for x in X]
        data_loss = sum_of(
            [(1.0 - s[0] * yi).relu() for s, yi in zip(scores, y, strict=True)]
        ) * (1.0 / len(X))
        reg_loss = sum_of([p * p for p in params]) * alpha
        total = data_loss + reg_loss
        for p in params:
            p.grad = 0.0
        total.backward()
        lr = micrograd_schedule(k, steps)
        for p in params:
            p.data -= lr * p.grad
        losses.append(total.data)
        right = [(yi > 0) == (s[0].data > 0) for s, yi in zip(scores, y, strict=True)]
        accuracies.append(sum(right) / len(right))
    return losses, accuracies


# -- fit is the textbook loop ---------------------------------------------------


def test_fit_with_micrograds_settings_is_micrograds_loop_exactly():
    """hinge + alpha * sum p^2, full batch, SGD with lr = 1 - 0.9 k/steps: same numbers.

    Bit for bit on every Python version, because both sides do the same float
    operations in the same order: the loop's ``sum_of([p * p ...])`` and fit's
    L2 node ``linear(params, params)`` both add the rounded squares with the
    built-in ``sum`` from 0.0 (compensated since Python 3.12, a left-to-right
    chain of ``+`` before: the same either way on both sides), and an epoch of
    one full batch reports its step's loss as it is.
    """
    X, y = moons(20, noise=0.1, seed=0, signed=True)
    by_hand, by_fit = MLP(2, [4, 4, 1], seed=0), MLP(2, [4, 4, 1], seed=0)
    losses, accuracies = micrograd_loop(by_hand, X, y, steps=5, alpha=1e-4)
    history = fit(by_fit, X, y, loss="hinge", l2=1e-4, epochs=5,
                  lr_schedule=micrograd_schedule, progress=False)
    assert by_fit.state_dict() == by_hand.state_dict()
    assert history.loss == history.step_loss == losses
    assert history.accuracy == history.step_accuracy == accuracies
    assert history.lr == [micrograd_schedule(k, 5) for k in range(5)]
    assert (history.epochs, history.steps, history.interrupted) == (5, 5, False)


def test_one_backward_pass_per_step(monkeypatch):
    """The batch's costs are summed into one graph: one backward() per optimiser step."""
    calls = []
    original = Value.backward
    monkeypatch.setattr(Value, "backward", lambda self, *a: calls.append(1) or original(self, *a))
    X, y = xor(12, seed=0)
    history = fit(MLP(2, [3, 1], seed=0), X, y, batch_size=5, epochs=2, progress=False)
    assert history.steps == 6
    assert len(calls) == 6


def test_nielsens_penalty_is_added_to_every_batch_cost():
    """penalty=lambda: lambda/(2n) sum w^2 appears in the reported cost."""
    X, y = xor(8, seed=0)
    net = MLP(2, [3, 1], output_activation="sigmoid", seed=0)
    expected = (
        batch_cost(quadratic, [net(x) for x in X], y).data
        + l2_weight_penalty(net, 5.0, len(X)).data
    )
    history = fit(net, X, y, epochs=1, penalty=lambda: l2_weight_penalty(net, 5.0, len(X)),
                  progress=False)
    assert history.step_loss[0] == pytest.approx(expected)


# -- it learns ------------------------------------------------------------------------


def test_an_mlp_learns_xor_with_cross_entropy():
    """tanh hidden layer, sigmoid output, cross-entropy, plain SGD: all 40 points right."""
    X, y = xor(40, noise=0.1, seed=0)
    net = MLP(2, [4, 1], activation="tanh", output_activation="sigmoid", seed=0)
    history = fit(net, X, y, loss="cross_entropy", lr=1.0, epochs=60, progress=False)
    assert history.accuracy[-1] >= 0.97
    assert evaluate(net, X, y, loss="cross_entropy").accuracy == 1.0
    assert history.loss[-1] < history.loss[0] / 5


def test_an_mlp_learns_the_xor_truth_table_with_shuffled_mini_batches():
    """Nielsen's setting: sigmoid everywhere, quadratic cost, batches of 2, eta = 3."""
    X, y = xor(4, noise=0.0)
    net = MLP(2, [4, 1], activation="sigmoid", output_activation="sigmoid", init="normal",
              seed=1)
    history = fit(net, X, y, loss="quadratic", lr=3.0, batch_size=2, epochs=400,
                  progress=False)
    assert history.steps == 800
    assert evaluate(net, X, y, loss="quadratic").accuracy == 1.0


def test_an_mlp_learns_two_moons_to_97_percent():
    """A small ReLU net, micrograd's loss and schedule, 60 steps."""
    X, y = moons(100, noise=0.1, seed=0, signed=True)
    net = MLP(2, [8, 8, 1], seed=0)
    fit(net, X, y, loss="hinge", l2=1e-4, epochs=60, lr_schedule=micrograd_schedule,
        progress=False)
    assert evaluate(net, X, y, loss="hinge").accuracy >= 0.97


@pytest.mark.slow
def test_micrograds_moons_demo_reaches_100_percent():
    """micrograd's demo exactly: [2, 16, 16, 1] ReLU, hinge + 1e-4 L2, 100 decaying SGD steps."""
    X, y = moons(100, noise=0.1, seed=0, signed=True)
    net = MLP(2, [16, 16, 1], activation="relu", seed=0)
    history = fit(net, X, y, loss="hinge", l2=1e-4, epochs=100,
                  lr_schedule=micrograd_schedule, progress=False)
    assert history.accuracy[-1] >= 0.97  # measured before the last update
    assert evaluate(net, X, y, loss="hinge").accuracy == 1.0


def test_a_softmax_classifier_learns_circles_with_adam_and_mini_batches():
    """Two logits, softmax_nll, class-index targets, argmax accuracy."""
    X, y = circles(60, noise=0.05, seed=0)
    net = MLP(2, [8, 2], seed=0)
    history = fit(net, X, y, loss="softmax_nll", optimizer=Adam(net.parameters(), lr=0.05),
                  batch_size=10, epochs=20, progress=False)
    assert history.accuracy[-1] >= 0.97
    assert evaluate(net, X, y, loss="softmax_nll").accuracy >= 0.97


# -- batches, seeds and the history ------------------------------------------------


class Recorder:
    """A network that records which examples the training passes see."""

    def __init__(self, net):
        self.net, self.seen = net, []

    def __call__(self, x):
        if is_grad_enabled():  # not fit's up-front check, which runs under no_grad
            self.seen.append(int(x[0]))
        return self.net(x)

    def parameters(self):
        return self.net.parameters()


def orders(seed, shuffle=True, n=10, batch_size=4, epochs=3):
    X = [[float(i), 0.0] for i in range(n)]
    rec = Recorder(MLP(2, [1], seed=0))
    fit(rec, X, [0.0] * n, batch_size=batch_size, epochs=epochs, seed=seed,
        shuffle=shuffle, lr=0.0, progress=False)
    return [rec.seen[e * n:(e + 1) * n] for e in range(epochs)]


def test_every_epoch_sees_every_example_once_in_a_seeded_shuffled_order():
    first = orders(seed=0)
    assert all(sorted(epoch) == list(range(10)) for epoch in first)
    assert first[0] != first[1]  # reshuffled each epoch
    assert orders(seed=0) == first
    assert orders(seed=1) != first
    assert orders(seed=0, shuffle=False) == [list(range(10))] * 3


def test_same_seed_same_training_run():
    X, y = xor(20, seed=0)

    def run():
        net = MLP(2, [3, 1], seed=0)
        history = fit(net, X, y, batch_size=6, epochs=3, seed=5, progress=False)
        return net.state_dict(), history.step_loss

    assert run() == run()


def test_epoch_figures_are_batch_size_weighted_means_of_the_steps():
    """10 examples in batches of 4: steps of 4, 4 and 2 examples per epoch."""
    X, y = xor(10, seed=0)
    history = fit(MLP(2, [3, 1], seed=0), X, y, batch_size=4, epochs=2,
                  accuracy=lambda a, t: a[0].data > 0, progress=False)
    assert (history.steps, history.epochs) == (6, 2)
    for e in range(2):
        s = history.step_loss[3 * e:3 * e + 3]
        acc = history.step_accuracy[3 * e:3 * e + 3]
        assert history.loss[e] == pytest.approx((4 * s[0] + 4 * s[1] + 2 * s[2]) / 10)
        assert history.accuracy[e] == pytest.approx((4 * acc[0] + 4 * acc[1] + 2 * acc[2]) / 10)


def test_an_epoch_of_one_full_batch_reports_its_steps_figures_exactly():
    """The weighted mean of one step is that step: no ``(c * n) / n`` round trip.

    ``(c * 20) / 20 != c`` for about one float in eight, so 30 epochs
    meet such a loss on every Python version.
    """
    X, y = moons(20, noise=0.1, seed=0, signed=True)
    history = fit(MLP(2, [4, 4, 1], seed=0), X, y, loss="hinge", lr=0.1, epochs=30,
                  progress=False)
    assert any((c * 20) / 20 != c for c in history.step_loss)  # the case is met
    assert history.loss == history.step_loss
    assert history.accuracy == history.step_accuracy


def test_schedule_counts_steps_over_the_whole_run_and_big_batches_mean_full_batch():
    X, y = xor(10, seed=0)
    seen = []
    history = fit(MLP(2, [3, 1], seed=0), X, y, batch_size=3, epochs=2,
                  lr_schedule=lambda k, total: seen.append((k, total)) or 0.01, progress=False)
    assert seen == [(k, 8) for k in range(8)]
    assert history.lr == [0.01] * 8
    assert fit(MLP(2, [3, 1], seed=0), X, y, batch_size=50, epochs=2,
               progress=False).steps == 2


def test_the_default_optimiser_is_sgd_with_the_default_or_given_lr():
    X, y = xor(8, seed=0)
    assert fit(MLP(2, [3, 1], seed=0), X, y, epochs=1, progress=False).lr == [DEFAULT_LR]
    assert fit(MLP(2, [3, 1], seed=0), X, y, epochs=1, lr=0.5, progress=False).lr == [0.5]


def test_a_custom_loss_tracks_accuracy_only_when_asked():
    X, y = xor(8, seed=0, signed=True)

    def squared(a, t):
        return (a[0] - t) ** 2

    plain = fit(MLP(2, [3, 1], seed=0), X, y, loss=squared, epochs=2, progress=False)
    assert plain.accuracy == plain.step_accuracy == []
    assert len(plain.loss) == 2
    tracked = fit(MLP(2, [3, 1], seed=0), X, y, loss=squared, accuracy=sign_accuracy,
                  epochs=2, progress=False)
    assert len(tracked.accuracy) == 2
    disabled = fit(MLP(2, [3, 1], seed=0), X, y, loss="hinge", accuracy=None, epochs=2,
                   progress=False)
    assert disabled.accuracy == []


def test_accuracy_rules():
    """Sign for -1/+1 labels, a threshold for one 0/1 output, the argmax for several."""
    v = Value
    assert sign_accuracy([v(0.3)], 1) and sign_accuracy([v(-0.3)], -1)
    assert not sign_accuracy([v(0.3)], -1)
    prob = threshold_accuracy(0.5)
    assert prob([v(0.7)], 1) and prob([v(0.3)], 0) and not prob([v(0.3)], 1)
    assert prob([v(0.7)], [1.0])
    logit = threshold_accuracy(0.0)
    assert logit([v(0.1)], 1) and logit([v(-0.1)], 0)
    assert prob([v(0.1), v(0.6), v(0.3)], [0, 1, 0])  # several outputs: argmax
    assert argmax_accuracy([v(0.1), v(0.6)], 1) and argmax_accuracy([v(0.1), v(0.6)], [0, 1])
    assert not argmax_accuracy([v(0.9), v(0.6)], 1)


def test_history_as_dict_is_a_json_ready_copy():
    X, y = xor(8, seed=0)
    history = fit(MLP(2, [3, 1], seed=0), X, y, epochs=2, progress=False)
    d = history.as_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["loss"] == history.loss and d["epochs"] == 2 and d["steps"] == 2
    assert d["interrupted"] is False and d["seconds"] > 0
    d["loss"].append(0.0)
    assert len(history.loss) == 2


def test_evaluate_is_the_mean_cost_and_the_fraction_right():
    X, y = xor(8, seed=0)
    net = MLP(2, [3, 1], output_activation="sigmoid", seed=0)
    result = evaluate(net, X, y, loss="quadratic")
    outputs = [net(x) for x in X]
    assert isinstance(result, Evaluation)
    assert result.loss == pytest.approx(batch_cost(quadratic, outputs, y).data)
    assert result.accuracy == sum((a[0].data > 0.5) == (t == 1) for a, t in
                                  zip(outputs, y, strict=True)) / 8
    assert evaluate(net, X, y, loss=quadratic, accuracy=None).accuracy is None


# -- Ctrl-C ---------------------------------------------------------------------------


def test_ctrl_c_in_a_callback_returns_the_history_so_far():
    """Interrupted after step 3 of 10: 3 epochs recorded, parameters as step 3 left them."""
    X, y = xor(12, seed=0)
    net = MLP(2, [3, 1], seed=0)
    snapshots = []

    def callback(history):
        snapshots.append(net.state_dict())
        if history.steps == 3:
            raise KeyboardInterrupt

    history = fit(net, X, y, epochs=10, callback=callback, progress=False)
    assert history.interrupted
    assert (history.steps, history.epochs, len(history.accuracy)) == (3, 3, 3)
    assert net.state_dict() == snapshots[-1]


def test_ctrl_c_during_a_forward_pass_abandons_the_batch():
    """The parameters stay exactly as the last completed step left them; grads are cleared."""
    X, y = xor(12, seed=0)
    net = MLP(2, [3, 1], seed=0)
    snapshots = []
    calls = 0

    def loss(a, t):
        nonlocal calls
        if a[0].parents:  # a training forward pass, not fit's up-front check
            calls += 1
            if calls == 3 * 5 + 2:  # inside the 4th batch of 5
                raise KeyboardInterrupt
        return quadratic(a, t)

    history = fit(net, X, y, loss=loss, batch_size=5, epochs=10,
                  callback=lambda h: snapshots.append(net.state_dict()), progress=False)
    assert history.interrupted
    assert history.steps == 3
    assert history.epochs == 1  # 12 examples: batches of 5, 5, 2 per epoch
    assert net.state_dict() == snapshots[-1]
    assert all(p.grad == 0.0 for p in net.parameters())


def trained(steps):
    X, y = xor(12, seed=0)
    net = MLP(2, [3, 1], seed=0)
    fit(net, X, y, epochs=steps, progress=False)
    return net.state_dict()


def test_a_real_sigint_during_the_update_lets_the_step_finish(monkeypatch):
    """SIGINT raised inside optimizer.step(): the step completes, then fit stops."""
    X, y = xor(12, seed=0)
    net = MLP(2, [3, 1], seed=0)
    optimizer = SGD(net.parameters(), lr=DEFAULT_LR)
    original = optimizer.step
    calls = 0

    def step():
        nonlocal calls
        calls += 1
        if calls == 3:
            signal.raise_signal(signal.SIGINT)  # arrives before any parameter changes
        original()

    monkeypatch.setattr(optimizer, "step", step)
    history = fit(net, X, y, optimizer=optimizer, epochs=10, progress=False)
    assert history.interrupted
    assert history.steps == history.epochs == 3
    assert net.state_dict() == trained(3)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_keyboard_interrupt_raised_by_the_step_itself_leaves_the_last_good_state(
    monkeypatch,
):
    X, y = xor(12, seed=0)
    net = MLP(2, [3, 1], seed=0)
    optimizer = SGD(net.parameters(), lr=DEFAULT_LR)
    original = optimizer.step
    calls = 0

    def step():
        nonlocal calls
        calls += 1
        if calls == 3:
            raise KeyboardInterrupt
        original()

    monkeypatch.setattr(optimizer, "step", step)
    history = fit(net, X, y, optimizer=optimizer, epochs=10, progress=False)
    assert history.interrupted and history.steps == 2
    assert net.state_dict() == trained(2)


# -- divergence ---------------------------------------------------------------------------


def diverge(compiled=False):
    """lr=1e6 on moons: the weights grow about 1e9-fold a step until a pass overflows."""
    X, y = moons(50, noise=0.1, seed=0)
    net = MLP(2, [8, 1], seed=0)
    with pytest.raises(DivergenceError) as info:
        fit(net, X, y, loss="mse", lr=1e6, epochs=300, progress=False, compiled=compiled)
    return net, info.value


@pytest.mark.parametrize("compiled", [False, pytest.param(True, marks=needs_numpy)])
def test_a_diverging_fit_stops_with_the_history_and_the_last_finite_parameters(compiled):
    """It ended in a raw OverflowError ('linear(...) overflows a float'), the history lost.
    Now: an error naming the step and the remedy, carrying the history, with the
    parameters exactly as the last completed step left them (as Ctrl-C does)."""
    net, error = diverge(compiled)
    n = error.step
    assert n > 1 and error.history.steps == n - 1 and error.history.epochs == n - 1
    message = str(error)
    assert message.startswith(f"fit: training diverged at step {n} of 300 (epoch {n}): ")
    assert "overflows a float" in message
    assert "lower the learning rate (it was 1e+06)" in message
    assert f"The parameters are as step {n - 1} left them" in message
    assert ".history" in message and len(message) < 600
    assert isinstance(error, ArithmeticError) and isinstance(error.__cause__, OverflowError)
    assert not error.history.interrupted and error.history.seconds > 0
    assert all(math.isfinite(p.data) for p in net.parameters())
    assert all(p.grad == 0.0 for p in net.parameters())
    again = MLP(2, [8, 1], seed=0)
    X, y = moons(50, noise=0.1, seed=0)
    history = fit(again, X, y, loss="mse", lr=1e6, epochs=n - 1, progress=False,
                  compiled=compiled)
    assert net.state_dict() == again.state_dict()
    assert error.history.step_loss == history.step_loss


def test_an_overflow_that_surfaces_as_nan_is_divergence_too():
    """A linear network at lr 5: a layer's terms overflow to +inf and -inf, their sum is
    nan (the engine said 'not a number', a ValueError, and fit lost the history)."""
    X, y = moons(100, noise=0.1, seed=0, signed=True)
    net = MLP(2, [16, 16, 1], activation="linear", seed=0)
    with pytest.raises(DivergenceError, match=r"diverged at step 9 of 100 .*overflows a float"
                                              r"; lower the learning rate \(it was 5\)") as info:
        fit(net, X, y, loss="hinge", l2=1e-4, lr=5.0, epochs=100, progress=False)
    assert info.value.history.steps == 8
    assert isinstance(info.value.__cause__, OverflowError)
    assert all(math.isfinite(p.data) for p in net.parameters())


def test_an_update_that_would_overflow_is_divergence_too():
    """SGD refuses a step whose new values are not finite and changes nothing: fit
    reports it as divergence at that step, with the history kept."""
    net = MLP(1, [1], activation="linear", seed=0)
    before = net.state_dict()
    with pytest.raises(DivergenceError, match=r"diverged at step 1 of 5 \(epoch 1\): SGD: "
                                              r"the step would make the value") as info:
        fit(net, [[1.0]], [0.0], loss=lambda a, t: a[0] * 1e200, lr=1e200, epochs=5,
            progress=False)
    assert info.value.step == 1 and info.value.history.steps == 0
    assert isinstance(info.value.__cause__, ValueError)
    assert net.state_dict() == before


def test_an_optimizer_that_makes_parameters_non_finite_is_undone():
    """Any optimiser (here one with no checks): a step leaving a parameter non-finite is
    rolled back, and fit says which."""

    class Careless:
        def __init__(self, params):
            self.params, self.lr = params, 1e300

        def zero_grad(self):
            for p in self.params:
                p.grad = 0.0

        def step(self):
            for p in self.params:
                p.data -= self.lr * p.grad * 1e300

    X, y = xor(8, seed=0)
    net = MLP(2, [3, 1], seed=0)
    before = net.state_dict()
    first = re.escape(net.parameters()[0].label)
    with pytest.raises(DivergenceError, match=rf"step 1 of 3.*the optimizer's step made "
                                              rf"{first} -?inf") as info:
        fit(net, X, y, optimizer=Careless(net.parameters()), epochs=3, progress=False)
    assert net.state_dict() == before and info.value.history.steps == 0


def test_a_bad_learning_rate_set_mid_training_is_not_called_divergence():
    X, y = xor(8, seed=0)
    net = MLP(2, [3, 1], seed=0)
    optimizer = SGD(net.parameters(), lr=0.1)

    def callback(history):
        optimizer.lr = math.nan

    with pytest.raises(ValueError, match="lr must be a finite number") as info:
        fit(net, X, y, optimizer=optimizer, epochs=3, callback=callback, progress=False)
    assert not isinstance(info.value, DivergenceError)


# -- the progress bar -----------------------------------------------------------------


def test_no_bar_when_progress_is_false(capsys):
    X, y = xor(8, seed=0)
    fit(MLP(2, [3, 1], seed=0), X, y, epochs=3, progress=False)
    assert capsys.readouterr() == ("", "")


def test_the_bar_shows_loss_and_accuracy(capsys):
    X, y = xor(8, seed=0, signed=True)
    fit(MLP(2, [3, 1], seed=0), X, y, loss="hinge", epochs=3, progress=True)
    err = capsys.readouterr().err
    assert "3/3" in err and "loss=" in err and "acc=" in err


def test_the_bar_is_tqdm_autos_so_a_notebook_gets_a_widget(monkeypatch):
    """tqdm.auto is the notebook widget in Jupyter (where ipywidgets is installed) and the
    text bar elsewhere; plain tqdm would draw its text bar raw on a notebook's stderr."""
    bars = []

    class Bar:
        def __init__(self, **options):
            self.options, self.n, self.closed = options, 0, False
            bars.append(self)

        def set_postfix(self, shown, refresh=True):
            self.shown = shown

        def update(self, n):
            self.n += n

        def close(self):
            self.closed = True

    auto = types.ModuleType("tqdm.auto")
    auto.tqdm = Bar
    monkeypatch.setitem(sys.modules, "tqdm.auto", auto)
    X, y = xor(8, seed=0, signed=True)
    fit(MLP(2, [3, 1], seed=0), X, y, loss="hinge", epochs=3, progress=True)
    assert len(bars) == 1
    bar = bars[0]
    assert bar.options["total"] == 3 and bar.n == 3 and bar.closed
    assert set(bar.shown) == {"loss", "acc"}


def test_without_tqdm_training_runs_silently(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # importing tqdm now raises ImportError
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # even once it has been imported
    X, y = xor(8, seed=0)
    history = fit(MLP(2, [3, 1], seed=0), X, y, epochs=3, progress=True)
    assert history.epochs == 3
    assert capsys.readouterr() == ("", "")


# -- bad arguments ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"epochs": 0}, ValueError, r"epochs must be an int >= 1, got 0"),
        ({"epochs": 2.5}, TypeError, r"epochs must be an int, got float 2\.5"),
        ({"epochs": True}, TypeError, r"epochs must be an int, got bool True"),
        ({"batch_size": 0}, ValueError, r"batch_size must be an int >= 1, got 0"),
        ({"batch_size": "4"}, TypeError, r"batch_size must be an int, got str '4'"),
        ({"l2": -1e-4}, ValueError, r"l2 must be a finite number >= 0, got -0\.0001"),
        ({"l2": math.nan}, ValueError, r"l2 must be a finite number >= 0, got nan"),
        ({"l2": "0"}, TypeError, r"l2 must be a real number, got str '0'"),
        ({"lr": -0.1}, ValueError, r"lr must be a finite number >= 0, got -0\.1"),
        ({"lr": [0.1]}, TypeError, r"lr must be a real number, got list \[0\.1\]"),
        ({"seed": "x"}, TypeError, r"seed must be an int or None, got str 'x'"),
        ({"loss": "nope"}, ValueError, r"unknown loss 'nope'; valid: cross_entropy"),
        ({"loss": 3}, TypeError, r"loss must be a cost function or a name in LOSSES, got int 3"),
        ({"accuracy": "sign"}, TypeError, r"accuracy must be a callable.*got 'sign'"),
        ({"callback": 3}, TypeError, r"callback must be callable or None, got int 3"),
        ({"optimizer": "sgd"}, TypeError, r"optimizer must have step\(\) and zero_grad\(\), "
                                          r"got str 'sgd'"),
        ({"lr_schedule": lambda k, n: -1.0}, ValueError, r"lr_schedule\(0, 5\) returned -1\.0"),
        ({"lr_schedule": lambda k, n: math.nan}, ValueError, r"lr_schedule\(0, 5\) returned nan"),
    ],
)
def test_bad_arguments_are_named_and_nothing_is_trained(kwargs, error, pattern):
    """The policy: a wrong type is a TypeError, a bad value a ValueError, both named."""
    X, y = xor(8, seed=0)
    net = MLP(2, [3, 1], seed=0)
    before = net.state_dict()
    with pytest.raises(error, match=pattern):
        fit(net, X, y, epochs=kwargs.pop("epochs", 5), progress=False, **kwargs)
    assert net.state_dict() == before


@pytest.mark.parametrize(
    ("X", "Y", "error", "pattern"),
    [
        ([], [], ValueError, r"X is empty"),
        ([[0.0, 1.0]], [1.0, 0.0], ValueError, r"X has 1 rows but Y has 2 targets"),
        ([[0.0, 1.0], [0.0]], [1.0, 0.0], ValueError, r"X\[1\] has 1 numbers but X\[0\] has 2"),
        ([[0.0, math.nan]], [1.0], ValueError, r"X\[0\]\[1\] must be a finite number, got nan"),
        ([[0.0, "1"]], [1.0], TypeError, r"X\[0\]\[1\] must be a real number, got str '1'"),
        ("ab", [1.0], TypeError, r"X must be a list of input rows"),
        ([[0.0, 1.0], 2.0], [1.0, 0.0], TypeError, r"X\[1\] must be a list of numbers, got float"),
        ([[0.0, 1.0]], 1.0, TypeError, r"Y must be a list of targets"),
        ([[0.0, 1.0]], [[1.0, 2.0]], ValueError, r"Y\[0\] = \[1\.0, 2\.0\] is not a valid target"),
        ([[0.0, 1.0]], ["1"], TypeError, r"Y\[0\] = '1' is not a valid target"),
        ([[0.0, 1.0, 2.0]], [1.0], ValueError, r"expected 2 inputs, got 3"),
    ],
)
def test_bad_data_is_refused_before_training(X, Y, error, pattern):
    net = MLP(2, [3, 1], seed=0)
    before = net.state_dict()
    with pytest.raises(error, match=pattern):
        fit(net, X, Y, progress=False)
    assert net.state_dict() == before


def test_a_bad_target_anywhere_is_refused_before_any_step():
    """The 0/1 label at the end of a hinge training set fails up front, naming it."""
    X, y = moons(20, seed=0, signed=True)
    y[-1] = 0
    net = MLP(2, [3, 1], seed=0)
    before = net.state_dict()
    with pytest.raises(ValueError, match=r"Y\[19\] = 0 is not a valid target.*-1 or \+1"):
        fit(net, X, y, loss="hinge", batch_size=4, progress=False)
    assert net.state_dict() == before


def test_optimizer_arguments_are_checked():
    X, y = xor(8, seed=0)
    net = MLP(2, [3, 1], seed=0)
    with pytest.raises(ValueError, match="set it on your optimizer"):
        fit(net, X, y, optimizer=SGD(net.parameters(), lr=0.1), lr=0.1, progress=False)
    other = MLP(2, [3, 1], seed=1)
    with pytest.raises(ValueError, match="holds none of the network's parameters"):
        fit(net, X, y, optimizer=SGD(other.parameters(), lr=0.1), progress=False)

    class NoLr:
        def __init__(self, params):
            self.params = params

        def step(self):
            pass

        def zero_grad(self):
            pass

    with pytest.raises(ValueError, match="lr_schedule needs an optimizer with an lr"):
        fit(net, X, y, optimizer=NoLr(net.parameters()), lr_schedule=lambda k, n: 0.1,
            progress=False)
    history = fit(net, X, y, optimizer=NoLr(net.parameters()), epochs=2, progress=False)
    assert history.lr == [] and history.steps == 2


def test_history_defaults_are_empty():
    h = History()
    assert (h.epochs, h.steps, h.interrupted, h.loss) == (0, 0, False, [])


# -- the compiled path -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("loss", "labels", "nouts", "out", "batch_size"),
    [("hinge", "signed", [8, 8, 1], "linear", None),
     ("quadratic", "lists", [8, 8, 1], "sigmoid", 16),
     ("log_likelihood", "classes", [8, 2], "softmax", 16)],  # multi-class: softmax compiles too
)
def test_compiled_training_reaches_the_eager_parameters(loss, labels, nouts, out, batch_size):
    """fit(compiled=True) replays the same graph: same steps, same parameters, same history."""
    pytest.importorskip("numpy")
    X, y = moons(48, noise=0.1, seed=3, signed=labels == "signed")
    if labels == "lists":
        y = [[float(label)] for label in y]
    eager_net = MLP(2, nouts, output_activation=out, seed=5)
    compiled_net = MLP(2, nouts, output_activation=out, seed=5)
    settings = dict(loss=loss, l2=1e-4, epochs=15, batch_size=batch_size, lr=0.2,
                    lr_schedule=lambda k, n: 0.2 - 0.1 * k / n, progress=False)
    eager = fit(eager_net, X, y, **settings)
    compiled = fit(compiled_net, X, y, compiled=True, **settings)
    for p, q in zip(eager_net.parameters(), compiled_net.parameters(), strict=True):
        assert q.data == pytest.approx(p.data, rel=1e-9, abs=1e-12)
    assert compiled.step_loss == pytest.approx(eager.step_loss, rel=1e-9)
    assert compiled.step_accuracy == eager.step_accuracy
    assert compiled.lr == eager.lr


@needs_numpy
def test_one_hot_targets_of_the_books_costs_replay_as_one_program(monkeypatch):
    """Cross-entropy against one-hot targets: Value targets, so every batch is one program
    (static targets would record one per class: cross_entropy leaves out the terms whose
    weight is 0), with the eager run's parameters. Class indices stay static."""
    module = importlib.import_module("microgrid.compiler")
    real = module.compile
    seen = []

    def spy(*args, **kwargs):
        compiled = real(*args, **kwargs)
        seen.append(compiled)
        return compiled

    monkeypatch.setattr(module, "compile", spy)
    X, labels = three_classes(30)
    nets = [MLP(2, [5, 3], activation="sigmoid", seed=1) for _ in range(2)]
    for net, compiled in zip(nets, (False, True), strict=True):
        fit(net, X, one_hot(labels, 3), loss="cross_entropy", lr=0.5, epochs=3, batch_size=10,
            validation=(X, one_hot(labels, 3)), compiled=compiled, progress=False)
    for p, q in zip(nets[0].parameters(), nets[1].parameters(), strict=True):
        assert q.data == pytest.approx(p.data, rel=1e-9, abs=1e-12)
    assert seen and all(not c.static_y and repr(c).endswith("programs=1, targets=1)")
                        for c in seen)
    seen.clear()
    fit(MLP(2, [5, 3], output_activation="softmax", seed=1), X, labels, loss="log_likelihood",
        epochs=1, batch_size=10, compiled=True, progress=False)
    assert seen[0].static_y


@needs_numpy
def test_compiled_fit_hands_the_parameters_held_in_arrays_back_to_the_network():
    """With SGD or Adam the compiled step keeps the parameters in arrays; a callback,
    the validation set and the caller after fit see them as trained, and a callback
    changes nothing (the same run with and without one)."""
    X, labels = three_classes(30)
    targets = one_hot(labels, 3)
    finals = []
    for optimizer in (SGD, Adam):
        for with_callback in (False, True):
            net = MLP(2, [5, 3], activation="sigmoid", seed=4)
            seen = []
            fit(net, X, targets, optimizer=optimizer(net.parameters(), lr=0.3), epochs=2,
                batch_size=7, compiled=True, progress=False,
                callback=(lambda h, net=net, seen=seen: seen.append(net.state_dict()))
                if with_callback else None)
            if with_callback:
                assert len(seen) == 10 and all(a != b for a, b in itertools.pairwise(seen))
                assert seen[-1] == net.state_dict()
            finals.append(net.state_dict())
    assert finals[0] == finals[1] and finals[2] == finals[3]


@needs_numpy
def test_ctrl_c_in_a_compiled_fit_leaves_the_last_steps_parameters_in_the_network():
    X, y = xor(12, seed=0)
    net = MLP(2, [3, 1], seed=0)
    snapshots = []

    def callback(history):
        snapshots.append(net.state_dict())
        if history.steps == 3:
            raise KeyboardInterrupt

    history = fit(net, X, y, epochs=10, callback=callback, compiled=True, progress=False)
    assert history.interrupted and history.steps == 3
    assert net.state_dict() == snapshots[-1]
    assert all(p.grad == 0.0 for p in net.parameters())


def test_compiled_training_refuses_a_cost_that_branches_on_values():
    """The tracing rule: a cost whose graph depends on the example's values cannot be replayed."""
    pytest.importorskip("numpy")
    from microgrid.compiler import TracingError

    def branching(outputs, target):
        a = outputs[0]
        return (a - target) ** 2 if a.data > 0 else (a - target).abs()

    # the recorded example's output is < 0, the batch's next one's > 0: compile
    # re-records that one and finds another graph
    X = [[0.0, 1.0], [5.0, -5.0], [1.0, 0.0], [-5.0, 5.0]]
    net = MLP(2, [4, 1], seed=0)
    assert net(X[0])[0].data < 0 < net(X[1])[0].data
    with pytest.raises(TracingError):
        fit(net, X, [0.0, 1.0, 1.0, 0.0], loss=branching, epochs=2, compiled=True,
            progress=False)


# -- a validation set, a test set ------------------------------------------------------


def three_classes(n=30, seed=0):
    """Circles' points with a third class (label 2) for the points far out."""
    X, y = circles(n, noise=0.05, seed=seed)
    labels = [2 if x1 * x1 + x2 * x2 > 1.1 else label for (x1, x2), label in
              zip(X, y, strict=True)]
    return X, labels


def test_the_validation_set_is_measured_after_every_epoch_as_evaluate_measures_it():
    """After each epoch: evaluate's loss and accuracy on the held-out set, no more."""
    X, y = moons(40, noise=0.1, seed=0)
    Xv, yv = moons(20, noise=0.1, seed=1)
    net = MLP(2, [4, 1], activation="tanh", output_activation="sigmoid", seed=0)
    measured = []

    def callback(history):
        if len(measured) < history.epochs:  # the epoch's last step: measure it ourselves
            measured.append(evaluate(net, Xv, yv, loss="quadratic"))

    history = fit(net, X, y, epochs=4, batch_size=16, lr=0.5, validation=(Xv, yv),
                  callback=callback, progress=False)
    assert len(measured) == history.epochs == 4
    assert history.validation_loss == [m.loss for m in measured]
    assert history.validation_accuracy == [m.accuracy for m in measured]
    assert history.as_dict()["validation_accuracy"] == history.validation_accuracy


def test_a_validation_set_does_not_change_the_training():
    X, y = xor(20, seed=0)
    Xv, yv = xor(10, seed=1)
    runs = []
    for validation in (None, (Xv, yv)):
        net = MLP(2, [3, 1], seed=0)
        history = fit(net, X, y, epochs=3, batch_size=6, validation=validation, progress=False)
        runs.append((net.state_dict(), history.step_loss, history.loss, history.accuracy))
    assert runs[0] == runs[1]


def test_without_a_validation_set_or_accuracy_the_validation_lists_stay_empty():
    X, y = xor(8, seed=0)
    history = fit(MLP(2, [3, 1], seed=0), X, y, epochs=2, progress=False)
    assert (history.validation_loss, history.validation_accuracy) == ([], [])
    history = fit(MLP(2, [3, 1], seed=0), X, y, epochs=2, accuracy=None, validation=(X, y),
                  progress=False)
    assert len(history.validation_loss) == 2 and history.validation_accuracy == []


def test_multi_class_accuracy_is_the_argmax_against_class_indices_or_one_hot_targets():
    """Ten sigmoid outputs and one-hot targets (the book's digits): right when the largest
    output is the target's class; log-likelihood against class indices the same."""
    X, labels = three_classes()
    for loss, targets, out in (("quadratic", one_hot(labels, 3), "sigmoid"),
                               ("log_likelihood", labels, "softmax")):
        net = MLP(2, [5, 3], activation="tanh", output_activation=out, seed=0)
        history = fit(net, X, targets, loss=loss, epochs=3, lr=0.5, validation=(X, targets),
                      progress=False)
        with no_grad():
            right = sum(max(range(3), key=lambda k: net(x)[k].data) == c
                        for x, c in zip(X, labels, strict=True))
        assert history.validation_accuracy[-1] == right / len(X)


def test_ctrl_c_while_measuring_the_validation_set_keeps_the_completed_epochs():
    """The measurement is abandoned, not a step: every epoch list has the epochs completed."""
    X, y = xor(12, seed=0)
    armed = []

    class Net:
        def __init__(self):
            self.net = MLP(2, [3, 1], seed=0)

        def __call__(self, x):
            if armed and not is_grad_enabled():  # measuring the validation set
                raise KeyboardInterrupt
            return self.net(x)

        def parameters(self):
            return self.net.parameters()

    net = Net()
    history = fit(net, X, y, epochs=5, batch_size=4, validation=(X, y), progress=False,
                  callback=lambda h: h.epochs == 1 and armed.append(True))
    assert history.interrupted
    assert history.steps == 6  # both epochs' steps were done
    assert (history.epochs, len(history.accuracy), len(history.validation_loss),
            len(history.validation_accuracy)) == (1, 1, 1, 1)


def test_the_bar_shows_the_validation_figures(monkeypatch):
    shown = []

    class Bar:
        def __init__(self, **options):
            pass

        def set_postfix(self, values, refresh=True):
            shown.append(dict(values))

        def update(self, n):
            pass

        def close(self):
            pass

    auto = types.ModuleType("tqdm.auto")
    auto.tqdm = Bar
    monkeypatch.setitem(sys.modules, "tqdm.auto", auto)
    X, y = xor(8, seed=0)
    history = fit(MLP(2, [3, 1], seed=0), X, y, epochs=2, batch_size=4, validation=(X, y))
    assert set(shown[0]) == {"loss", "acc"}  # no validation figures before the first epoch
    assert shown[-1]["val_acc"] == f"{history.validation_accuracy[-1]:.1%}"
    assert shown[-1]["val_loss"] == f"{history.validation_loss[-1]:.4g}"
    assert shown[-1]["loss"] == f"{history.step_loss[-1]:.4g}"


@pytest.mark.parametrize(
    ("validation", "error", "pattern"),
    [
        ([[0.0, 1.0]], TypeError, r"validation must be a pair \(X, Y\).*got list"),
        ("ab", TypeError, r"validation must be a pair \(X, Y\)"),
        (([], []), ValueError, r"validation X is empty"),
        (([[0.0, 1.0, 2.0]], [1]), ValueError,
         r"validation X has rows of 3 numbers but X has rows of 2"),
        (([[0.0, math.inf]], [1]), ValueError, r"validation X\[0\]\[1\] must be a finite"),
        (([[0.0, 1.0]], [1, 0]), ValueError, r"validation X has 1 rows but validation Y has 2"),
        (([[0.0, 1.0]], [[1.0, 0.0]]), ValueError, r"validation Y\[0\] = \[1\.0, 0\.0\] is not"),
    ],
)
def test_a_bad_validation_set_is_refused_before_training(validation, error, pattern):
    X, y = xor(8, seed=0)
    net = MLP(2, [3, 1], seed=0)
    before = net.state_dict()
    with pytest.raises(error, match=pattern):
        fit(net, X, y, validation=validation, progress=False)
    assert net.state_dict() == before


def test_predict_is_the_argmax_or_one_score_against_its_cut():
    X, _ = three_classes()
    net = MLP(2, [5, 3], activation="tanh", seed=0)
    with no_grad():
        outputs = [[a.data for a in net(x)] for x in X]
    assert predict(net, X) == [max(range(3), key=o.__getitem__) for o in outputs]
    score = MLP(2, [3, 1], seed=0)  # a linear output: cut at 0
    probability = MLP(2, [3, 1], output_activation="sigmoid", seed=0)  # cut at 0.5
    with no_grad():
        assert predict(score, X) == [int(score(x)[0].data > 0.0) for x in X]
        assert predict(probability, X) == [int(probability(x)[0].data > 0.5) for x in X]
    assert 0 < sum(predict(probability, X)) < len(X)  # both sides of the cut are met


def test_confusion_counts_each_true_class_against_each_predicted_one():
    assert confusion([0, 1, 1, 2], [0, 1, 2, 2]) == [[1, 0, 0], [0, 1, 1], [0, 0, 1]]
    assert confusion(one_hot([0, 1], 2), [1, 1], n_classes=3) == [[0, 1, 0], [0, 1, 0],
                                                                  [0, 0, 0]]
    with pytest.raises(ValueError, match="Y has 2 labels but predicted has 1"):
        confusion([0, 1], [0])
    with pytest.raises(ValueError, match="class 2 is out of range for n_classes=2"):
        confusion([0, 2], [0, 1], n_classes=2)
    with pytest.raises(ValueError, match=r"Y\[0\] is -1; classes are counted from 0"):
        confusion([-1, 1], [0, 1])
    with pytest.raises(TypeError, match=r"predicted\[1\] is float 1\.0; expected a class"):
        confusion([0, 1], [0, 1.0])


def test_bad_arguments_to_evaluate_and_predict_are_named():
    net = MLP(2, [3, 1], seed=0)
    with pytest.raises(TypeError, match="evaluate: compiled must be True or False, got 1"):
        evaluate(net, [[0.0, 1.0]], [1.0], compiled=1)
    with pytest.raises(TypeError, match="predict: X must be a list of input rows"):
        predict(net, "ab")
    with pytest.raises(ValueError, match=r"predict: X\[1\] has 1 numbers but X\[0\] has 2"):
        predict(net, [[0.0, 1.0], [2.0]])


@needs_numpy
def test_compiled_evaluate_and_predict_give_the_eager_answers():
    X, labels = three_classes(40)
    targets = one_hot(labels, 3)
    net = MLP(2, [6, 3], activation="sigmoid", seed=2)
    eager = evaluate(net, X, targets)
    compiled = evaluate(net, X, targets, compiled=True)
    assert compiled.loss == pytest.approx(eager.loss, rel=1e-12)
    assert compiled.accuracy == eager.accuracy
    assert predict(net, X, compiled=True) == predict(net, X)
    assert evaluate(net, X, labels, loss="log_likelihood", compiled=True).accuracy == \
        evaluate(net, X, labels, loss="log_likelihood").accuracy


@needs_numpy
def test_compiled_training_with_a_validation_set_measures_what_eager_training_measures():
    X, labels = three_classes(40)
    Xv, labels_v = three_classes(20, seed=1)
    histories = []
    for compiled in (False, True):
        net = MLP(2, [6, 3], activation="sigmoid", seed=2)
        histories.append(fit(net, X, one_hot(labels, 3), lr=3.0, epochs=3, batch_size=10,
                             validation=(Xv, one_hot(labels_v, 3)), compiled=compiled,
                             progress=False))
    eager, compiled_run = histories
    assert compiled_run.validation_loss == pytest.approx(eager.validation_loss, rel=1e-9)
    assert compiled_run.validation_accuracy == eager.validation_accuracy


@needs_numpy
def test_the_books_digits_run_is_seeded_and_repeatable():
    """[64, 30, 10], chapter 1's settings, a few epochs on digits, twice: the same run."""
    X, y = digits()
    (X_train, y_train), (X_test, y_test) = train_test_split(X, y, test_size=0.2, seed=0)
    X_train, y_train = X_train[:300], y_train[:300]

    def run():
        net = MLP(64, [30, 10], activation="sigmoid", init="normal", seed=0)
        history = fit(net, X_train, one_hot(y_train, 10), lr=3.0, epochs=2, batch_size=10,
                      validation=(X_test, one_hot(y_test, 10)), compiled=True, progress=False)
        return net.state_dict(), history.as_dict()["step_loss"], history.validation_accuracy

    first = run()
    assert first == run()
    assert first[2][-1] > 0.25  # it learns: ten classes, a tenth by chance
