"""The rounding scale of reverse mode, shared by the property tests.

Two computations that add the same terms in different orders agree up to a
few ulps of the MAGNITUDES of the terms, which can be far larger than the
result when terms cancel (``x - x`` has gradient 0 from terms of size 2).
"""

from __future__ import annotations

from microgrid import Value, topological_order


def magnitudes(root: Value) -> dict[Value, float]:
    """``m(node)``: the sum of the magnitudes of the terms that make up ``∂root/∂node``.

    A backward pass on absolute values: ``m(root) = 1`` and ``m(parent) +=
    |local| m(node)``; the first-order bound on reverse mode's rounding error,
    in units of the machine epsilon.
    """
    order = topological_order(root)
    m = dict.fromkeys(order, 0.0)
    m[root] = 1.0
    for node in reversed(order):
        for parent, local in zip(node.parents, node.local_grads, strict=True):
            m[parent] += abs(local) * m[node]
    return m
