"""Backprop, proven: the engine's gradients beside Nielsen's BP1-BP4.

Builds the book's kind of network (2 inputs, 3 sigmoid hidden neurons, 2
sigmoid outputs, N(0, 1) weights and biases), runs one example through the
autodiff engine (``net.trace``, ``cost.backward()``) and through the
textbook algorithm in plain floats (`microgrid.backprop`), and prints the
two side by side. Then the same check for each cost on a deeper network.

    python examples/bp_compare.py        # exit status 0 when everything agrees
"""

from __future__ import annotations

from microgrid import MLP, compare


def main() -> int:
    net = MLP(2, [3, 2], activation="sigmoid", output_activation="sigmoid", init="normal", seed=0)
    report = compare(net, [0.5, -1.0], [1.0, 0.0], cost="quadratic")
    print(report)
    all_ok = report.ok

    print("\nThe other costs, on a 3-5-4-3 tanh network:")
    for cost, output, y in [
        ("quadratic", "linear", [0.5, -0.25, 1.0]),
        ("cross_entropy", "sigmoid", [1.0, 0.0, 1.0]),
        ("log_likelihood", "softmax", 2),
    ]:
        net = MLP(3, [5, 4, 3], activation="tanh", output_activation=output, init="normal",
                  seed=1)
        r = compare(net, [0.2, -0.7, 1.1], y, cost=cost)
        worst = max(a.max_abs for a in r.agreement.values())
        print(f"  {cost:<15} output {output:<8} largest |autodiff - closed form| = "
              f"{worst:.1e}  {'agree' if r.ok else 'DISAGREE'}")
        all_ok = all_ok and r.ok
    return 0 if all_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
