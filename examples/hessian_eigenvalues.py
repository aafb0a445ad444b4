"""The Hessian of a tiny network's cost, and its eigenvalues (numpy).

A 2-3-1 tanh network (13 parameters) is fitted to six points until its
quadratic cost is 0 to rounding. There, the matrix of second derivatives of
the cost with respect to the parameters, ``H[i][j] = ∂²C/∂p_i∂p_j``, comes
from `microgrid.hessian` (reverse over reverse: the gradient built as a
graph, then differentiated once per parameter). Its eigenvalues are the
cost's curvatures along its principal directions: at a minimum none is
negative. And at a minimum where every residual ``a - y`` is 0 the Hessian
of the quadratic cost is ``J^T J / n`` (``J``: the outputs' Jacobian, one row
per example), so at most 6 of the 13 are not 0: the other 7 directions keep
the cost at 0 (more parameters than equations). `microgrid.hvp` gives
``H v`` without forming ``H``. Needs numpy (the ``fast`` extra).

    python examples/hessian_eigenvalues.py
"""

from __future__ import annotations

import numpy as np

from microgrid import MLP, Adam, Value, fit, hessian, hvp, jacobian, sum_of
from microgrid.losses import quadratic

X = [[0.0, 0.0], [0.5, 1.0], [1.0, 0.0], [-1.0, 0.5], [0.3, -0.8], [-0.6, -0.4]]
Y = [[0.1], [0.8], [-0.3], [0.5], [-0.6], [0.2]]


def main() -> None:
    net = MLP(2, [3, 1], activation="tanh", seed=0)
    params = net.parameters()
    fit(net, X, Y, loss="quadratic", epochs=3000, optimizer=Adam(params, lr=0.02),
        progress=False, accuracy=None)

    def cost(ps: list[Value]) -> Value:  # the mean cost; ps are the network's own parameters
        return sum_of([quadratic(net(x), y) for x, y in zip(X, Y)]) * (1.0 / len(X))

    print(f"cost after training: {cost(params).data:.1e}")
    h = np.array(hessian(cost, params))
    print(f"{len(params)} parameters: H is {h.shape[0]}x{h.shape[1]}, "
          f"symmetric: {bool((h == h.T).all())}")
    eigenvalues = np.linalg.eigvalsh(h)
    print("eigenvalues:", " ".join(f"{e:.2g}" for e in eigenvalues))
    curved = eigenvalues > 1e-9 * eigenvalues[-1]
    print(f"{curved.sum()} curved directions, {len(params) - curved.sum()} flat; "
          f"smallest eigenvalue {eigenvalues[0]:.1g} (none below 0 but rounding)")
    j = np.array([row for x in X for row in jacobian(lambda ps, x=x: net(x), params)])
    print(f"H equals J^T J / n at this minimum: "
          f"{np.allclose(h, j.T @ j / len(X), rtol=1e-6, atol=1e-9)}")
    v = np.linspace(-1.0, 1.0, len(params))
    same = np.allclose(hvp(cost, params, v.tolist()), h @ v, rtol=1e-12, atol=1e-15)
    print(f"hvp(cost, params, v) equals H @ v: {same}")


if __name__ == "__main__":
    main()
