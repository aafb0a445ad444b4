"""Newton's method with second derivatives from the engine: ``x <- x - f'(x) / f''(x)``.

Minimises ``f(x) = e^x - 2x`` (its minimum is at ``x = ln 2``). ``grad`` with
``create_graph=True`` gives ``f'`` as a graph, and ``grad`` of that gives
``f''``: no derivative is written by hand. Newton's method converges
quadratically: each step squares the error (the ratio ``e_{k+1} / e_k^2``
settles at ``|f'''(x*) / 2 f''(x*)| = 1/2``), so the digits double each step.

    python examples/newton.py
"""

from __future__ import annotations

import math

from microgrid import Value, grad


def f(x: Value) -> Value:
    return x.exp() - 2.0 * x


def newton_step(x: float) -> tuple[float, float, float]:
    """One step from ``x``: the new point, ``f'(x)`` and ``f''(x)``."""
    v = Value(x)
    (slope,) = grad(f(v), [v], create_graph=True)  # f'(x) = e^x - 2, as a graph
    (curvature,) = grad(slope, [v])  # f''(x) = e^x
    return x - slope.data / curvature.data, slope.data, curvature.data


def main() -> None:
    x, best = 2.0, math.log(2.0)
    error = abs(x - best)
    print(f"minimising f(x) = e^x - 2x from x = {x}; the minimum is at ln 2 = {best!r}")
    print("step  x                   f'(x)       f''(x)     error      error / previous²")
    for step in range(1, 7):
        x, slope, curvature = newton_step(x)
        previous, error = error, abs(x - best)
        ratio = f"{error / previous**2:.3f}" if error > 0.0 else "-"
        print(f"{step:4}  {x:<18.16f}  {slope:<10.3e}  {curvature:<9.5f}  {error:<9.2e}  {ratio}")
    print(f"converged to ln 2: {x == best or abs(x - best) <= 2e-16}")


if __name__ == "__main__":
    main()
