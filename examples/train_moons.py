"""Train micrograd's moons classifier with microgrid, then use and save it.

The same setup as micrograd's demo notebook: 100 two-moons points with
labels -1/+1, an MLP [2, 16, 16, 1] with ReLU hidden layers, the
max-margin loss plus an L2 penalty, full-batch SGD whose rate decays from
1.0 to 0.1 over 100 steps. Takes a few seconds.

    python examples/train_moons.py             # train, report, predict
    python examples/train_moons.py OUT_DIR     # also write model.json and the
                                               # plots (plots need matplotlib)
"""

from __future__ import annotations

import sys
from pathlib import Path

from microgrid import MLP, fit
from microgrid.datasets import moons
from microgrid.train import evaluate


def main(argv: list[str]) -> int:
    X, y = moons(100, noise=0.1, seed=0, signed=True)  # labels -1 and +1
    net = MLP(2, [16, 16, 1], activation="relu", seed=0)
    print(net)

    history = fit(
        net, X, y,
        loss="hinge",                  # max(0, 1 - y * score)
        l2=1e-4,                       # + 1e-4 * sum of squared parameters
        epochs=100,                    # full batch: one step per epoch
        lr_schedule=lambda k, steps: 1.0 - 0.9 * k / steps,
        progress=False,
    )
    final = evaluate(net, X, y, loss="hinge")
    print(f"trained in {history.seconds:.1f} s: loss {history.loss[0]:.3f} -> "
          f"{history.loss[-1]:.4f}, training accuracy {final.accuracy:.0%}")

    # The network's score: positive means the lower moon (label +1).
    for point in ([0.0, 1.0], [1.0, -0.5], [0.5, 0.25]):
        score = net(point)[0].data
        print(f"  score at {point}: {score:+.3f} -> label {'+1' if score > 0 else '-1'}")

    if len(argv) > 1:
        out = Path(argv[1])
        out.mkdir(parents=True, exist_ok=True)
        net.save(out / "model.json")
        print(f"wrote {out / 'model.json'} (MLP.load reads it)")
        try:
            from microgrid.plot import plot_decision_boundary, plot_history

            plot_history(history, save=out / "training_curves.png")
            plot_decision_boundary(net, X, y, save=out / "decision_boundary.png")
            print(f"wrote {out / 'training_curves.png'} and {out / 'decision_boundary.png'}")
        except ImportError as e:
            print(f"no plots: {e}")
    return 0 if final.accuracy == 1.0 else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
