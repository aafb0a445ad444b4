"""The moons training step, four ways, at batch sizes 10, 100 and 1000, in one run.

    python benchmarks/batched.py            # full run (about a minute)
    python benchmarks/batched.py --quick    # batch sizes 10 and 100, fewer repeats
    python benchmarks/batched.py --json     # the figures as JSON

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
import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import microgrid
from microgrid import MLP, SGD, Value, compile, sum_of
from microgrid.datasets import moons
from microgrid.losses import hinge, l2_penalty

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="batch sizes 10 and 100, fewer repeats")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
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
    for batch in batches:
        row = measure(batch, repeats[batch])
        out["results"].append(row)
        say(f"{batch:>6} {row['micrograd_ms']:>10.1f} {row['eager_ms']:>9.2f} "
            f"{row['compiled_ms']:>9.3f} {row['numpy_ms']:>8.3f}   "
            f"{row['micrograd_over_compiled']:>7.0f}x {row['eager_over_compiled']:>9.0f}x "
            f"{row['compiled_over_numpy']:>9.1f}x")
    say("\ncompile + first forward pass (one-off, both labels), with compile's checks / "
        "without (check=False):\n  "
        + ", ".join(f"batch {r['batch']}: {r['compile_ms']:.1f} / "
                    f"{r['compile_unchecked_ms']:.1f} ms" for r in out["results"]))
    if args.json:
        print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
