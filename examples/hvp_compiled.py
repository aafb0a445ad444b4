"""Hessian-vector products over a whole batch, compiled: the gradient graph replayed by numpy.

For each example ``(x, y)`` of a batch, ``H_x v`` is the Hessian of that
example's cost (with respect to a network's parameters) times a direction
``v``: two gradients, the first built as a graph (``create_graph=True``),
its dot product with ``v`` one `linear` node, and the gradient of that.
The function that builds it is made of the engine's operations like any
other, so `microgrid.compile` records it on one example and replays it on
every row of a batch with numpy: ``step.forward`` gives each example's
``H_x v``, and the compiled gradient of ``v · ∇C`` gives the batch's sum.
Both are checked against the eager `microgrid.hvp`. Needs numpy (the
``fast`` extra).

    python examples/hvp_compiled.py
"""

from __future__ import annotations

import time

import numpy as np

from microgrid import MLP, Value, compile, grad, hvp, linear
from microgrid.datasets import moons
from microgrid.losses import quadratic


def main() -> None:
    net = MLP(2, [8, 1], activation="tanh", seed=0)
    params = net.parameters()
    v = np.random.default_rng(0).normal(size=len(params)).tolist()
    X, labels = moons(200, noise=0.1, seed=0)
    Y = [[float(label)] for label in labels]

    def hessian_times_v(x: list[Value], y: list[Value]) -> list[Value]:
        gradient = grad(quadratic(net(x), y), params, create_graph=True)
        return grad(linear(gradient, v), params, create_graph=True)

    start = time.perf_counter()
    step = compile(hessian_times_v, X[0], Y[0], params=params)
    recorded = time.perf_counter()
    step.forward(X, Y)  # the first batch is also checked (some examples recorded again)
    checked = time.perf_counter()
    batched = step.forward(X, Y)  # shape (200, 33): one H_x v per example
    replayed = time.perf_counter()
    eager = np.array([hvp(lambda ps, x=x, y=y: quadratic(net(x), y), params, v)
                      for x, y in zip(X, Y)])
    done = time.perf_counter()
    print(f"{len(params)} parameters, {len(X)} examples: H_x v for every example")
    print(f"compiled: {(recorded - start) * 1e3:.0f} ms to record, "
          f"{(checked - recorded) * 1e3:.0f} ms for the first batch (checked), then "
          f"{(replayed - checked) * 1e3:.1f} ms a batch; eager hvp: "
          f"{(done - replayed) * 1e3:.0f} ms a batch")
    print(f"the same numbers as eager hvp: {np.allclose(batched, eager, rtol=1e-10, atol=1e-13)}")
    # The batch's own H v (the Hessian of the summed cost): the compiled gradient of v . ∇C_x.
    dot = compile(lambda x, y: linear(grad(quadratic(net(x), y), params, create_graph=True), v),
                  X[0], Y[0], params=params)
    _, summed = dot(X, Y)
    print(f"the batch's H v as a compiled gradient equals the sum: "
          f"{np.allclose(summed, eager.sum(axis=0), rtol=1e-10, atol=1e-12)}")


if __name__ == "__main__":
    main()
