"""The Hessian of a small network's cost: microgrid against HIPS autograd and torch, in one run.

    python benchmarks/hessian.py            # full run (about a minute)
    python benchmarks/hessian.py --quick    # fewer repeats
    python benchmarks/hessian.py --json     # the figures as JSON

The function: the mean quadratic cost of a [2, 6, 2] tanh MLP (linear
output; 32 parameters) on 4 fixed examples, as a function of the
parameters. The same function is written three ways, each as its library
is written (every one in float64):

- ``microgrid``: `microgrid.hessian` on the network's own parameters
  (reverse over reverse: one gradient built as a graph, then one pass
  through it per parameter, the lower triangle mirrored);
- ``autograd``: HIPS autograd 1.x, ``hessian(f)(p)`` on numpy arrays
  (its documented Hessian: the Jacobian of the gradient);
- ``torch``: ``torch.autograd.functional.hessian(f, p)`` (one reverse pass
  per row, over the gradient's graph), and ``torch.func.hessian``
  (forward over reverse, vectorised with vmap).

The three Hessians are checked to agree (1e-10 relative) before anything is
timed. Medians of repeated calls, timed in turn call by call so the machine's
load weighs on all alike; ratios are theirs over microgrid's (above 1:
microgrid is faster). Needs numpy, autograd and torch (``pip install -e
".[bench]"`` and the CPU wheel of torch).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import itertools
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import microgrid
from microgrid import MLP, Value, hessian, sum_of
from microgrid.losses import quadratic

try:
    import autograd
    import autograd.numpy as anp
    import numpy as np
    import torch
except ImportError as e:  # pragma: no cover - an extra is missing
    sys.exit(f'benchmarks/hessian.py needs numpy, autograd and torch ({e}): '
             'pip install -e ".[bench]" and torch')

SIZES = [2, 6, 2]
X = [[0.5, -1.0], [1.5, 0.3], [-0.7, 0.8], [0.1, 0.2]]
Y = [[0.2, -0.4], [0.9, 0.1], [-0.3, 0.6], [0.0, 0.5]]


def microgrid_hessian(net: MLP) -> Callable[[], list[list[float]]]:
    params = net.parameters()

    def cost(ps: list[Value]) -> Value:
        return sum_of([quadratic(net(x), y) for x, y in zip(X, Y)]) * (1.0 / len(X))

    return lambda: hessian(cost, params)


def _unflatten(p: Any) -> list[tuple[Any, Any]]:
    """(w, b) per layer from the parameters flattened as `MLP.parameters` orders them:
    each neuron's weights, then its bias (rows of ``[w | b]``)."""
    layers, at = [], 0
    for n_in, n_out in itertools.pairwise(SIZES):
        block = p[at: at + n_out * (n_in + 1)].reshape(n_out, n_in + 1)
        layers.append((block[:, :n_in], block[:, n_in]))
        at += n_out * (n_in + 1)
    return layers


def autograd_hessian(flat: list[float]) -> Callable[[], Any]:
    xs, ys = np.array(X).T, np.array(Y).T  # the batch along the columns

    def cost(p: Any) -> Any:
        a = xs
        layers = _unflatten(p)
        for i, (w, b) in enumerate(layers):
            z = anp.dot(w, a) + b[:, None]
            a = anp.tanh(z) if i < len(layers) - 1 else z
        return 0.5 * anp.sum((a - ys) ** 2) / len(X)

    h = autograd.hessian(cost)
    p = np.array(flat)
    return lambda: h(p)


def torch_cost() -> Callable[[Any], Any]:
    xs = torch.tensor(X, dtype=torch.float64).T
    ys = torch.tensor(Y, dtype=torch.float64).T

    def cost(p: Any) -> Any:
        a = xs
        layers = _unflatten(p)
        for i, (w, b) in enumerate(layers):
            z = w @ a + b[:, None]
            a = torch.tanh(z) if i < len(layers) - 1 else z
        return 0.5 * ((a - ys) ** 2).sum() / len(X)

    return cost


def torch_hessian(flat: list[float]) -> Callable[[], Any]:
    p = torch.tensor(flat, dtype=torch.float64)
    cost = torch_cost()
    return lambda: torch.autograd.functional.hessian(cost, p)


def torch_func_hessian(flat: list[float]) -> Callable[[], Any]:
    p = torch.tensor(flat, dtype=torch.float64)
    h = torch.func.hessian(torch_cost())
    return lambda: h(p)


def check_agree(results: dict[str, list[list[float]]]) -> float:
    """The largest difference from microgrid's, relative to the largest entry; raises
    above 1e-10 (nothing is timed for functions that differ)."""
    ours = np.array(results["microgrid"])
    worst = 0.0
    for name, h in results.items():
        diff = float(np.max(np.abs(np.array(h) - ours)) / np.max(np.abs(ours)))
        if not diff <= 1e-10:
            sys.exit(f"benchmarks/hessian.py: {name}'s Hessian differs from microgrid's "
                     f"by {diff:.3g} (relative)")
        worst = max(worst, diff)
    return worst


def interleaved_medians_ms(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median ms of each run, timed in turn call by call."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) * 1e3 for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    torch.set_num_threads(1)  # one core each, as microgrid and autograd run here
    net = MLP(SIZES[0], SIZES[1:], activation="tanh", seed=0)
    flat = [p.data for p in net.parameters()]
    runs: dict[str, Callable[[], Any]] = {
        "microgrid": microgrid_hessian(net),
        "autograd": autograd_hessian(flat),
        "torch": torch_hessian(flat),
        "torch_func": torch_func_hessian(flat),
    }
    results = {name: np.asarray(run()).tolist() for name, run in runs.items()}
    agreement = check_agree(results)
    for run in runs.values():  # warm up (torch.func compiles its vmap plan on first calls)
        run()
    medians = interleaved_medians_ms(runs, 10 if args.quick else 50)
    report = {
        "parameters": len(flat),
        "examples": len(X),
        "agree_relative": agreement,
        "versions": {"microgrid": microgrid.__version__, "torch": torch.__version__,
                     "autograd": importlib.metadata.version("autograd"),
                     "numpy": np.__version__, "python": sys.version.split()[0]},
        "results": {name: {"ms": ms, "over_microgrid": ms / medians["microgrid"]}
                    for name, ms in medians.items()},
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"Hessian of a {SIZES} tanh MLP's mean quadratic cost on {len(X)} examples: "
          f"{len(flat)} parameters, a {len(flat)}x{len(flat)} matrix")
    print(f"all agree with microgrid's to {agreement:.1e} (relative to the largest entry)")
    print(f"{'':28}{'median ms':>10}  {'/ microgrid':>11}")
    names = {"microgrid": "microgrid.hessian", "autograd": "autograd.hessian (HIPS)",
             "torch": "torch.autograd.functional", "torch_func": "torch.func.hessian"}
    for name, row in report["results"].items():  # type: ignore[union-attr]
        print(f"{names[name]:28}{row['ms']:10.2f}  {row['over_microgrid']:11.2f}")
    print("(medians of calls timed in turn, one thread each; a shared machine's figures "
          "vary from run to run, their ratios less)")


if __name__ == "__main__":
    main()
