"""Training steps compiled against micrograd, the eager engine, numpy and PyTorch, in one run.

    python benchmarks/batched.py            # full run (a few minutes)
    python benchmarks/batched.py --quick    # fewer sizes and repeats, a smaller epoch
    python benchmarks/batched.py --json     # the figures as JSON
    python benchmarks/batched.py --book     # only the book's workloads

Two parts. First micrograd's moons step at batch sizes 10, 100 and 1000
(below). Then the book's workloads (Nielsen's chapter 1, `book`): a
``[64, 30, 10]`` and a ``[784, 30, 10]`` sigmoid network, the quadratic cost
against one-hot targets, SGD at eta = 3.0, mini-batches of 10 (the book's)
and 100, inputs of the digits' and MNIST's shapes (random numbers in [0, 1]:
timing does not need real images), each step ``compiled`` (one recorded
example replayed, the parameters kept in arrays by `Compiled.training`),
``numpy`` (the same step written by hand with matrices: BP1-BP4) and
``torch`` (PyTorch eager, float64, on one CPU thread; skipped, saying so,
where torch is not installed), timed in turn; then a whole epoch of
``[784, 30, 10]`` at mini-batch 10: the compiled loop, `fit(compiled=True)`,
and the book's own ``network.py`` algorithm (per-example backprop with numpy,
its ``update_mini_batch`` and ``backprop`` ported to Python 3 below, with
attribution). The compile (recording the network and checking the first
batch) is timed apart.

The moons step:

One SGD step of a [2, 16, 16, 1] ReLU MLP (linear output) on two-moons
points with micrograd's loss: the mean max-margin cost plus ``1e-4 * sum p^2``.
Every implementation starts from the same weights; the first step's losses
are checked to agree before anything is timed.

- ``micrograd``: micrograd 0.1.0's ``nn.MLP`` and its demo's step.
- ``eager``: microgrid's ``MLP``, ``losses.hinge``, ``l2_penalty``, ``SGD``:
  one graph of the whole batch, one ``backward()``.
- ``compiled``: the same cost recorded once by ``microgrid.compile`` and
  replayed with numpy (``static_y=True``: one tape per label, -1 and +1),
  ``step.backward`` into the parameters' grads, the same ``SGD``.
- ``numpy``: the closed-form BP1-BP4 equations on matrices, written by hand
  (``z^l = w^l a^{l-1} + b^l`` with the batch along the columns).

Medians of repeated steps (each step trains on: the step costs the same);
compiled and numpy are timed in turn, step by step, so that they share the
machine's load.
Ratios: micrograd / compiled and eager / compiled (speed-ups), compiled /
numpy (the overhead left). The compile itself is a one-off, shown apart:
compile and the first step (which records the other label's tape), with
compile's checks (``check=True``, the default: the example recorded again
with the parameters changed, and up to 32 of the first batch's examples
recorded again and compared) and without them (``check=False``), timed in
turn.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

# One BLAS thread (unless set otherwise), as torch gets one below: on a shared
# two-core machine two threads spin against the other processes, and a
# [784, 30, 10] step at batch 100 took 47 ms instead of 0.3 in numpy and in
# the compiled step alike. Set before numpy is imported.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import numpy as np  # noqa: E402

import microgrid  # noqa: E402
from microgrid import MLP, SGD, Value, compile, fit, sum_of  # noqa: E402
from microgrid.datasets import moons  # noqa: E402
from microgrid.losses import hinge, l2_penalty, quadratic  # noqa: E402

try:
    import micrograd.engine as mg_engine  # type: ignore[import-untyped]
    import micrograd.nn as mg_nn  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover - the bench extra is missing
    sys.exit('benchmarks/batched.py needs micrograd: pip install -e ".[bench]"')

SIZES = [2, 16, 16, 1]
ALPHA = 1e-4
LR = 0.1


def median_ms(run: Callable[[], object], repeats: int, collect: bool) -> float:
    """Median wall time of ``run()`` in ms; ``collect`` empties the collector before each."""
    times = []
    for _ in range(repeats):
        if collect:
            gc.collect()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def interleaved_medians_ms(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median ms of each run, timed in turn step by step, so that the machine's
    load (other processes) weighs on all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) * 1e3 for name, t in times.items()}


def initial_weights(seed: int = 0) -> list[tuple[list[list[float]], list[float]]]:
    """``[(w^l, b^l)]``: micrograd's init, uniform(-1, 1) weights and zero biases."""
    rng = random.Random(seed)
    return [([[rng.uniform(-1.0, 1.0) for _ in range(nin)] for _ in range(nout)], [0.0] * nout)
            for nin, nout in itertools.pairwise(SIZES)]


# -- the four steps ---------------------------------------------------------------


class Micrograd:
    def __init__(self, weights: list[tuple[list[list[float]], list[float]]]) -> None:
        self.model = mg_nn.MLP(SIZES[0], SIZES[1:])
        for layer, (w, b) in zip(self.model.layers, weights, strict=True):
            for neuron, row, bias in zip(layer.neurons, w, b, strict=True):
                for wk, value in zip(neuron.w, row, strict=True):
                    wk.data = value
                neuron.b.data = bias

    def step(self, X: list[list[float]], Y: list[int]) -> float:
        """micrograd's demo step, as in its README notebook.

        ``sum(losses)`` is a chain as deep as the batch, and micrograd's
        topological sort recurses along it: batch 1000 needs a deeper stack
        than Python's default (see `main`).
        """
        model = self.model
        scores = [model(list(map(mg_engine.Value, x))) for x in X]
        losses = [(1 + -y * score).relu() for y, score in zip(Y, scores, strict=True)]
        total = sum(losses) * (1.0 / len(losses)) + ALPHA * sum(p * p for p in model.parameters())
        model.zero_grad()
        total.backward()
        for p in model.parameters():
            p.data -= LR * p.grad
        return float(total.data)


def microgrid_net(weights: list[tuple[list[list[float]], list[float]]]) -> MLP:
    net = MLP(SIZES[0], SIZES[1:], activation="relu", output_activation="linear", seed=0)
    for layer, (w, b) in zip(net.layers, weights, strict=True):
        for neuron, row, bias in zip(layer.neurons, w, b, strict=True):
            for wk, value in zip(neuron.w, row, strict=True):
                wk.data = value
            neuron.b.data = bias
    return net


class Eager:
    def __init__(self, weights: list[tuple[list[list[float]], list[float]]]) -> None:
        self.net = microgrid_net(weights)
        self.optimizer = SGD(self.net.parameters(), lr=LR)

    def step(self, X: list[list[float]], Y: list[int]) -> float:
        """One graph for the whole batch: mean hinge + L2, one backward, SGD."""
        net, params = self.net, self.optimizer.params
        cost = sum_of([hinge(net(x), y) for x, y in zip(X, Y, strict=True)]) * (1.0 / len(X))
        total = cost + l2_penalty(params, ALPHA)
        self.optimizer.zero_grad()
        total.backward()
        self.optimizer.step()
        return total.data


class Compiled:
    def __init__(self, weights: list[tuple[list[list[float]], list[float]]],
                 X: list[list[float]], Y: list[int]) -> None:
        self.net = net = microgrid_net(weights)
        params = net.parameters()
        self.optimizer = SGD(params, lr=LR)

        def cost(x: list[Value], y: int) -> Value:
            # one example's cost; the mean over the batch of (hinge + L2) is
            # micrograd's total, the L2 part computed once per tape
            return hinge(net(x), y) + l2_penalty(params, ALPHA)

        self.cost = cost
        self.program = self.compile(X, Y, check=True)

    def compile(self, X: Any, Y: Any, check: bool) -> Any:
        """Compile and run the first step's forward pass (which records the
        other label's tape and, if ``check``, checks the first batch)."""
        program = compile(self.cost, X[0], Y[0], params=self.optimizer.params,
                          reduction="mean", static_y=True, check=check)
        program.forward(X, Y)
        return program

    def step(self, X: Any, Y: Any) -> float:
        self.optimizer.zero_grad()
        loss = self.program.backward(X, Y)
        self.optimizer.step()
        return loss


class Numpy:
    """BP1-BP4 on matrices: the batch along the columns of ``a^l`` and ``z^l``."""

    def __init__(self, weights: list[tuple[list[list[float]], list[float]]]) -> None:
        self.w = [np.array(w) for w, _ in weights]
        self.b = [np.array(b)[:, None] for _, b in weights]

    def step(self, X: np.ndarray, Y: np.ndarray) -> float:
        w, b = self.w, self.b
        n = X.shape[0]
        a = [X.T]
        zs = []
        for l, (wl, bl) in enumerate(zip(w, b, strict=True)):  # noqa: E741 - the book's l
            z = wl @ a[-1] + bl
            zs.append(z)
            a.append(np.maximum(z, 0.0) if l < len(w) - 1 else z)
        margin = 1.0 - Y * a[-1][0]
        penalty = sum(float((wl * wl).sum() + (bl * bl).sum()) for wl, bl in zip(w, b, strict=True))
        loss = float(np.maximum(margin, 0.0).mean()) + ALPHA * penalty
        # BP1 for the hinge cost on a linear output: dC/dz^L = -y [margin > 0] / n
        delta = (-(Y * (margin > 0.0)) / n)[None, :]
        for l in range(len(w) - 1, -1, -1):  # noqa: E741
            grad_w = delta @ a[l].T + 2.0 * ALPHA * w[l]        # BP4 + the L2 term
            grad_b = delta.sum(axis=1, keepdims=True) + 2.0 * ALPHA * b[l]  # BP3 + L2
            if l > 0:
                delta = (w[l].T @ delta) * (zs[l - 1] > 0.0)  # BP2 with relu'
            w[l] -= LR * grad_w
            b[l] -= LR * grad_b
        return loss


# -- the run ------------------------------------------------------------------------


def measure(batch: int, repeats: tuple[int, int, int]) -> dict[str, Any]:
    """The four steps on ``batch`` moons points, from the same weights, timed."""
    X_list, Y_list = moons(batch, noise=0.1, seed=0, signed=True)
    X, Y = np.array(X_list), np.array(Y_list, dtype=np.float64)
    weights = initial_weights()
    mg, eager, numpy_step = Micrograd(weights), Eager(weights), Numpy(weights)
    compiled = Compiled(weights, X_list, Y_list)
    first = [mg.step(X_list, Y_list), eager.step(X_list, Y_list),
             compiled.step(X_list, Y_list), numpy_step.step(X, Y)]
    if max(first) - min(first) > 1e-9 * max(abs(v) for v in first):
        sys.exit(f"the four first-step losses disagree: {first}")
    r_mg, r_eager, r_fast = repeats
    fast = interleaved_medians_ms(
        {"compiled": lambda: compiled.step(X, Y), "numpy": lambda: numpy_step.step(X, Y)},
        r_fast)
    once = interleaved_medians_ms(
        {"checked": lambda: compiled.compile(X_list, Y_list, check=True),
         "unchecked": lambda: compiled.compile(X_list, Y_list, check=False)},
        max(3, r_eager))
    row: dict[str, Any] = {
        "batch": batch,
        "micrograd_ms": median_ms(lambda: mg.step(X_list, Y_list), r_mg, collect=True),
        "eager_ms": median_ms(lambda: eager.step(X_list, Y_list), r_eager, collect=True),
        "compiled_ms": fast["compiled"],
        "numpy_ms": fast["numpy"],
        "compile_ms": once["checked"],
        "compile_unchecked_ms": once["unchecked"],
    }
    row["micrograd_over_compiled"] = row["micrograd_ms"] / row["compiled_ms"]
    row["eager_over_compiled"] = row["eager_ms"] / row["compiled_ms"]
    row["compiled_over_numpy"] = row["compiled_ms"] / row["numpy_ms"]
    return row


# -- the book's workloads (Nielsen, chapter 1) ------------------------------------

BOOK_WORKLOADS = {"64-30-10": [64, 30, 10], "784-30-10": [784, 30, 10]}
ETA = 3.0


def book_weights(sizes: list[int], seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """network.py's initialisation: N(0, 1) weights ``(n_l, n_{l-1})`` and biases ``(n_l, 1)``."""
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal((n, m)) for m, n in itertools.pairwise(sizes)]
    biases = [rng.standard_normal((n, 1)) for n in sizes[1:]]
    return weights, biases


def book_batch(sizes: list[int], batch: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Random inputs in [0, 1] of the images' shape and random one-hot targets."""
    rng = np.random.default_rng(seed)
    X = rng.random((batch, sizes[0]))
    Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], batch)]
    return X, Y


def _set_weights(net: MLP, weights: list[np.ndarray], biases: list[np.ndarray]) -> None:
    """The network's parameters made those of the arrays (network.py's layout)."""
    for layer, w, b in zip(net.layers, weights, biases, strict=True):
        for j, neuron in enumerate(layer.neurons):
            for k, wk in enumerate(neuron.w):
                wk.data = float(w[j, k])
            neuron.b.data = float(b[j, 0])


class BookCompiled:
    """The step compiled: one example's quadratic cost recorded, replayed on the batch,
    SGD's update done in the arrays that hold the parameters (`Compiled.training`)."""

    def __init__(self, sizes: list[int], weights: list[np.ndarray], biases: list[np.ndarray],
                 X: np.ndarray, Y: np.ndarray) -> None:
        net = MLP(sizes[0], sizes[1:], activation="sigmoid", seed=0)
        _set_weights(net, weights, biases)
        self.net, params = net, net.parameters()
        start = time.perf_counter()
        self.program = compile(lambda x, y: quadratic(net(x), y), X[0].tolist(), Y[0].tolist(),
                               params=params, reduction="mean")
        self.compile_s = time.perf_counter() - start
        self.training = self.program.training(SGD(params, lr=ETA))
        start = time.perf_counter()
        self.first_loss = self.training.step(X, Y)  # the first batch is checked: timed apart
        self.first_step_s = time.perf_counter() - start

    def step(self, X: np.ndarray, Y: np.ndarray) -> float:
        return self.training.step(X, Y)


class BookNumpy:
    """The same step by hand: BP1-BP4 on matrices, the batch along the columns."""

    def __init__(self, weights: list[np.ndarray], biases: list[np.ndarray]) -> None:
        self.w = [w.copy() for w in weights]
        self.b = [b.copy() for b in biases]

    def step(self, X: np.ndarray, Y: np.ndarray) -> float:
        w, b = self.w, self.b
        n = X.shape[0]
        a = [X.T]
        for wl, bl in zip(w, b, strict=True):
            a.append(1.0 / (1.0 + np.exp(-(wl @ a[-1] + bl))))
        error = a[-1] - Y.T
        loss = 0.5 * float((error * error).sum()) / n
        delta = error * a[-1] * (1.0 - a[-1]) / n  # BP1, the batch's mean
        for l in range(len(w) - 1, -1, -1):  # noqa: E741 - the book's l
            grad_w = delta @ a[l].T  # BP4
            grad_b = delta.sum(axis=1, keepdims=True)  # BP3
            if l > 0:
                delta = (w[l].T @ delta) * a[l] * (1.0 - a[l])  # BP2
            w[l] -= ETA * grad_w
            b[l] -= ETA * grad_b
        return loss


class BookTorch:
    """PyTorch eager, float64: Linear and Sigmoid layers, the same cost, torch's SGD."""

    def __init__(self, torch: Any, weights: list[np.ndarray], biases: list[np.ndarray]) -> None:
        self.torch = torch
        layers = []
        for w, b in zip(weights, biases, strict=True):
            linear = torch.nn.Linear(w.shape[1], w.shape[0], dtype=torch.float64)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(w))
                linear.bias.copy_(torch.from_numpy(b[:, 0]))
            layers += [linear, torch.nn.Sigmoid()]
        self.model = torch.nn.Sequential(*layers)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=ETA)

    def step(self, X: Any, Y: Any) -> float:
        self.optimizer.zero_grad()
        error = self.model(X) - Y
        loss = 0.5 * (error * error).sum(dim=1).mean()
        loss.backward()
        self.optimizer.step()
        return float(loss.item())


def load_torch() -> Any:
    """torch on one CPU thread, or None where it is not installed.

    One thread: on a shared two-core machine torch's default of two threads
    spun against the other processes (16 ms a step of [784, 30, 10] against
    0.27 ms on one); numpy's products at these sizes run on one thread too.
    """
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    return torch


def book_step(name: str, batch: int, repeats: int, torch: Any) -> dict[str, Any]:
    """The three steps on one batch, from the same weights, timed in turn."""
    sizes = BOOK_WORKLOADS[name]
    weights, biases = book_weights(sizes)
    X, Y = book_batch(sizes, batch)
    compiled, numpy_step = BookCompiled(sizes, weights, biases, X, Y), BookNumpy(weights, biases)
    first = [compiled.first_loss, numpy_step.step(X, Y)]
    runs: dict[str, Callable[[], object]] = {"compiled": lambda: compiled.step(X, Y),
                                             "numpy": lambda: numpy_step.step(X, Y)}
    if torch is not None:
        torch_step = BookTorch(torch, weights, biases)
        Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
        first.append(torch_step.step(Xt, Yt))
        runs["torch"] = lambda: torch_step.step(Xt, Yt)
    if max(first) - min(first) > 1e-9 * max(abs(v) for v in first):
        sys.exit(f"the first-step losses of {name} disagree: {first}")
    times = interleaved_medians_ms(runs, repeats)
    compiled.training.close()
    row: dict[str, Any] = {
        "workload": name, "batch": batch,
        "compiled_ms": times["compiled"], "numpy_ms": times["numpy"],
        "torch_ms": times.get("torch"),
        "compile_s": compiled.compile_s, "first_step_s": compiled.first_step_s,
    }
    row["compiled_over_numpy"] = row["compiled_ms"] / row["numpy_ms"]
    row["torch_over_compiled"] = (None if row["torch_ms"] is None
                                  else row["torch_ms"] / row["compiled_ms"])
    return row


# The book's network.py (Michael Nielsen, "Neural Networks and Deep Learning",
# https://github.com/mnielsen/neural-networks-and-deep-learning, src/network.py,
# MIT licence): its update_mini_batch and backprop, ported to Python 3 with the
# fewest changes (xrange, and the class reduced to what an epoch runs). One
# example at a time, as the book's code does.


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z: np.ndarray) -> np.ndarray:
    return sigmoid(z) * (1 - sigmoid(z))


class NetworkPy:
    def __init__(self, weights: list[np.ndarray], biases: list[np.ndarray]) -> None:
        self.num_layers = len(weights) + 1
        self.weights = [w.copy() for w in weights]
        self.biases = [b.copy() for b in biases]

    def update_mini_batch(self, mini_batch: list[tuple[np.ndarray, np.ndarray]],
                          eta: float) -> None:
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b, strict=True)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w, strict=True)]
        self.weights = [w - (eta / len(mini_batch)) * nw
                        for w, nw in zip(self.weights, nabla_w, strict=True)]
        self.biases = [b - (eta / len(mini_batch)) * nb
                       for b, nb in zip(self.biases, nabla_b, strict=True)]

    def backprop(self, x: np.ndarray, y: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights, strict=True):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        delta = self.cost_derivative(activations[-1], y) * sigmoid_prime(zs[-1])
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for l in range(2, self.num_layers):  # noqa: E741 - the book's l
            z = zs[-l]
            sp = sigmoid_prime(z)
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * sp
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return (nabla_b, nabla_w)

    def cost_derivative(self, output_activations: np.ndarray, y: np.ndarray) -> np.ndarray:
        return output_activations - y


def book_epoch(examples: int) -> dict[str, Any]:
    """One epoch of [784, 30, 10] at mini-batch 10 (the same shuffled order for all),
    run once each, in turn: the compiled loop, fit(compiled=True), network.py."""
    sizes = BOOK_WORKLOADS["784-30-10"]
    weights, biases = book_weights(sizes)
    X, Y = book_batch(sizes, examples, seed=2)
    order = np.random.default_rng(3).permutation(examples)
    batches = [order[k:k + 10] for k in range(0, examples, 10)]

    def compiled_epoch() -> float:
        step = BookCompiled(sizes, weights, biases, X[:10], Y[:10])  # compiled, and checked
        step.training.close()
        net = step.net
        _set_weights(net, weights, biases)
        start = time.perf_counter()
        with step.program.training(SGD(net.parameters(), lr=ETA)) as train:
            for rows in batches:
                train.step(X[rows], Y[rows])
        return time.perf_counter() - start

    def fit_epochs(epochs: int) -> float:
        """fit's training loop (after its checks of the data and the compile; its
        first step checks the first batch), without a validation set."""
        net = MLP(sizes[0], sizes[1:], activation="sigmoid", seed=0)
        _set_weights(net, weights, biases)
        history = fit(net, X_rows, Y_rows, lr=ETA, epochs=epochs, batch_size=10,
                      compiled=True, progress=False, seed=0)
        return history.seconds

    X_rows, Y_rows = X.tolist(), Y.tolist()

    def network_py_epoch() -> float:
        book = NetworkPy(weights, biases)
        data = [(X[i][:, None], Y[i][:, None]) for i in range(examples)]
        start = time.perf_counter()
        for rows in batches:
            book.update_mini_batch([data[i] for i in rows], ETA)
        return time.perf_counter() - start

    row: dict[str, Any] = {"workload": "784-30-10", "batch": 10, "examples": examples}
    row["epoch_compiled_s"] = compiled_epoch()
    one, three = fit_epochs(1), fit_epochs(3)
    # an epoch once fit runs, and fit's one-off (the first batch's checks): the
    # difference of two runs, so on a busy machine it is rough (even below 0)
    row["epoch_fit_s"] = (three - one) / 2
    row["fit_first_batch_s"] = one - row["epoch_fit_s"]
    row["epoch_network_py_s"] = network_py_epoch()
    row["network_py_over_compiled"] = row["epoch_network_py_s"] / row["epoch_compiled_s"]
    return row


def book(out: dict[str, Any], quick: bool, say: Callable[..., None]) -> None:
    torch = load_torch()
    out["torch"] = (f"torch {torch.__version__}, one thread" if torch is not None
                    else "skipped: torch is not installed")
    say(f"\nNielsen's chapter 1 workloads: sigmoid, quadratic cost, one-hot targets, SGD eta "
        f"{ETA:g}; medians, ms per step (torch: {out['torch']})\n")
    say(f"{'workload':>10} {'batch':>6} {'compiled':>9} {'numpy':>8} {'torch':>8}   "
        f"{'comp/numpy':>10} {'torch/comp':>10} {'compile':>8}")
    out["book"] = []
    repeats = 100 if quick else 400
    for name in BOOK_WORKLOADS:
        for batch in (10, 100):
            row = book_step(name, batch, repeats, torch)
            out["book"].append(row)
            torch_text = "skipped" if row["torch_ms"] is None else f"{row['torch_ms']:.3f}"
            ratio = ("" if row["torch_over_compiled"] is None
                     else f"{row['torch_over_compiled']:.1f}x")
            say(f"{name:>10} {batch:>6} {row['compiled_ms']:>9.3f} {row['numpy_ms']:>8.3f} "
                f"{torch_text:>8}   {row['compiled_over_numpy']:>9.2f}x {ratio:>10} "
                f"{row['compile_s']:>7.2f}s")
    examples = 2000 if quick else 10_000
    epoch = book_epoch(examples)
    out["book"].append(epoch)
    say(f"\nan epoch of [784, 30, 10], {examples:,} examples in mini-batches of 10 (one run "
        f"each): compiled {epoch['epoch_compiled_s']:.2f} s, fit(compiled=True) "
        f"{epoch['epoch_fit_s']:.2f} s (+ {epoch['fit_first_batch_s']:.2f} s once: its "
        f"first batch checked), network.py {epoch['epoch_network_py_s']:.2f} s "
        f"(network.py / compiled {epoch['network_py_over_compiled']:.1f}x)")
    say("compile: recording the network and its checks, with the first batch's checks "
        "(compile / first step): " + ", ".join(
            f"{r['workload']} batch {r['batch']}: {r['compile_s']:.2f} / {r['first_step_s']:.2f} s"
            for r in out["book"] if "compile_s" in r))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="batch sizes 10 and 100, fewer repeats")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--book", action="store_true",
                        help="only the book's workloads (not the moons step)")
    args = parser.parse_args()
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20_000))  # for micrograd (see its step)
    say = (lambda *a: None) if args.json else print
    batches = [10, 100] if args.quick else [10, 100, 1000]
    # repeats per batch size: (micrograd, eager, compiled and numpy)
    repeats = {10: (5, 20, 500), 100: (3, 7, 400), 1000: (1, 3, 200)}
    if args.quick:
        repeats = {10: (2, 5, 200), 100: (1, 3, 200)}
    out: dict[str, Any] = {
        "benchmark": "moons training step, [2, 16, 16, 1] relu, hinge + 1e-4 L2, SGD",
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "microgrid": microgrid.__version__,
        "results": [],
    }
    say(f"Python {out['python']}, numpy {out['numpy']}, microgrid {out['microgrid']}, "
        "micrograd 0.1.0")
    say(f"{out['benchmark']}; medians, ms per step\n")
    say(f"{'batch':>6} {'micrograd':>10} {'eager':>9} {'compiled':>9} {'numpy':>8}   "
        f"{'mg/comp':>8} {'eager/comp':>10} {'comp/numpy':>10}")
    for batch in [] if args.book else batches:
        row = measure(batch, repeats[batch])
        out["results"].append(row)
        say(f"{batch:>6} {row['micrograd_ms']:>10.1f} {row['eager_ms']:>9.2f} "
            f"{row['compiled_ms']:>9.3f} {row['numpy_ms']:>8.3f}   "
            f"{row['micrograd_over_compiled']:>7.0f}x {row['eager_over_compiled']:>9.0f}x "
            f"{row['compiled_over_numpy']:>9.1f}x")
    if not args.book:
        say("\ncompile + first forward pass (one-off, both labels), with compile's checks / "
            "without (check=False):\n  "
            + ", ".join(f"batch {r['batch']}: {r['compile_ms']:.1f} / "
                        f"{r['compile_unchecked_ms']:.1f} ms" for r in out["results"]))
    book(out, args.quick, say)
    if args.json:
        print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
