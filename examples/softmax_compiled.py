"""A softmax classifier trained eagerly and compiled: the same steps, faster.

Two-moons as two classes with a softmax output layer and the log-likelihood
cost ``C = -ln a_y`` (BP1: ``delta^L = a^L - y``). ``fit(..., compiled=True)``
records one example's graph once and replays it over every mini-batch with
numpy; the softmax is built on the engine's ``logsumexp`` node, so its graph
is the same for every example and replays exactly. Needs numpy (the ``fast``
extra). Takes a few seconds.

    python examples/softmax_compiled.py
"""

from __future__ import annotations

from microgrid import MLP, fit
from microgrid.datasets import moons
from microgrid.train import evaluate


def main() -> None:
    X, y = moons(200, noise=0.1, seed=0)  # class indices 0 and 1
    nets = {}
    for name, compiled in (("eager", False), ("compiled", True)):
        net = MLP(2, [16, 16, 2], activation="relu", output_activation="softmax", seed=1)
        history = fit(net, X, y, loss="log_likelihood", epochs=40, batch_size=20, lr=0.3,
                      compiled=compiled, progress=False)
        accuracy = evaluate(net, X, y, loss="log_likelihood").accuracy
        print(f"{name:8}: {history.steps} steps in {history.seconds:.2f} s, "
              f"training accuracy {accuracy:.0%}")
        nets[name] = net
    same = all(abs(p.data - q.data) <= 1e-9 * max(1.0, abs(p.data))
               for p, q in zip(nets["eager"].parameters(), nets["compiled"].parameters()))
    print(f"the two runs reach the same parameters: {same}")


if __name__ == "__main__":
    main()
