"""microgrid's eager engine against micrograd, on the same workloads, in one run.

    python benchmarks/engine.py            # full run (a few minutes)
    python benchmarks/engine.py --quick    # fewer repeats, chain up to 10^5 (about a minute)
    python benchmarks/engine.py --json     # the figures as JSON

Workloads (medians of repeated runs; ratios are micrograd / microgrid):

1. ``values``: one training step of a [2, 16, 16, 1] ReLU MLP (linear output)
   on 100 two-moons points, max-margin loss + 1e-4 L2, SGD update, written
   with the same ``+``, ``*`` and ``relu`` on each library's Value (no nn);
   and for microgrid also with its n-ary nodes (``linear`` for each neuron's
   ``z``, ``sum_of``), which micrograd does not have. Steps alone and in a
   loop, as in 2.
2. ``api``: the same step through each library's own API: micrograd's
   ``nn.MLP(2, [16, 16, 1])`` and microgrid's ``MLP(2, [16, 16, 1])`` (one
   ``linear`` node per neuron, ``sum_of`` for the sums, ``SGD``), with the
   cyclic garbage collector on (as shipped) and off. With the collector on,
   twice: steps in a loop (each also collects what the step before left, as
   in training: micrograd's graphs are reference cycles that only the
   collector frees), and a step alone (the collector emptied before it).
3. ``chain``: ``y = (y * 0.999 + 0.001).relu()`` repeated n times (3n
   nodes), forward + backward, n = 10^3 ... 10^6 (micrograd 0.1.0 has no
   ``tanh``; microgrid's ``tanh`` chain is timed too). micrograd's recursive
   topological sort raises RecursionError on deep graphs.
4. ``memory``: bytes per graph node (tracemalloc): what a built graph holds,
   and the peak during its backward pass.
5. ``gc``: the share of a training step's time spent in Python's cyclic
   garbage collector (``gc.callbacks``), through the API (2) and written
   with ``+ * relu`` (1).

micrograd is ``micrograd==0.1.0`` from PyPI (``pip install -e ".[bench]"``).
The figures go to stdout as each section ends; on a terminal, stderr shows
what is being measured meanwhile (a section can take a minute).
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
import tracemalloc
from collections.abc import Callable
from typing import Any

import microgrid
from microgrid import MLP, SGD, Value, linear, sum_of
from microgrid.datasets import moons
from microgrid.losses import hinge, l2_penalty

try:
    import micrograd.engine as mg_engine
    import micrograd.nn as mg_nn
except ImportError:  # pragma: no cover - the bench extra is missing
    sys.exit('benchmarks/engine.py needs micrograd: pip install -e ".[bench]"')

SIZES = [2, 16, 16, 1]
ALPHA = 1e-4
X, Y = moons(100, noise=0.1, seed=0, signed=True)
SHOW_PROGRESS = sys.stderr.isatty()


def progress(text: str) -> None:
    """Show ``text`` on stderr's last line, replacing what was there ("" clears it)."""
    if SHOW_PROGRESS:
        sys.stderr.write(f"\r\033[K{text}")
        sys.stderr.flush()


def print_line(*args: object) -> None:
    """Print to stdout, first clearing the progress line."""
    progress("")
    print(*args, flush=True)


def median_seconds(
    runs: dict[str, Callable[[], object]],
    repeats: int,
    gc_enabled: bool = True,
    in_a_loop: int = 0,
    label: str = "",
) -> dict[str, float]:
    """Median wall time of one run of each contender, interleaved.

    Shared machines are noisy: timing one contender after the other lets a
    change in load land on one of them, so every repetition runs each
    contender once. The collector is emptied before each. With
    ``in_a_loop=k`` a repetition is a warm-up run and then ``k`` timed runs
    in a row, as in a training loop, so each run also pays for collecting
    what the run before it left (micrograd's graphs are reference cycles,
    freed only by the cyclic collector); the time is their mean.
    """
    times: dict[str, list[float]] = {name: [] for name in runs}
    for i in range(repeats):
        progress(f"   ... {label}: repetition {i + 1} of {repeats}")
        for name, run in runs.items():
            gc.collect()
            if not gc_enabled:
                gc.disable()
            try:
                if in_a_loop:
                    run()
                start = time.perf_counter()
                for _ in range(max(1, in_a_loop)):
                    run()
                times[name].append((time.perf_counter() - start) / max(1, in_a_loop))
            finally:
                gc.enable()
    return {name: statistics.median(t) for name, t in times.items()}


# -- 1. the moons step written with each library's Value --------------------------


def raw_parameters(value_type: Any, seed: int = 0) -> list[list[tuple[list[Any], Any]]]:
    """[layer][neuron] -> (weights, bias), micrograd's uniform(-1, 1) init."""
    rng = random.Random(seed)
    return [
        [
            ([value_type(rng.uniform(-1, 1)) for _ in range(nin)], value_type(0.0))
            for _ in range(nout)
        ]
        for nin, nout in itertools.pairwise(SIZES)
    ]


def raw_step(value_type: Any, layers: list[list[tuple[list[Any], Any]]]) -> float:
    """Forward over all points, max-margin loss + L2, backward, SGD: operators only."""
    params = [p for layer in layers for w, b in layer for p in (*w, b)]
    losses = []
    for x, y in zip(X, Y):
        a: list[Any] = [value_type(xk) for xk in x]
        for i, layer in enumerate(layers):
            z = [sum((wk * ak for wk, ak in zip(w, a)), b) for w, b in layer]
            a = z if i == len(layers) - 1 else [zj.relu() for zj in z]
        losses.append((1 + -y * a[0]).relu())
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = ALPHA * sum(p * p for p in params)
    total = data_loss + reg_loss
    for p in params:
        p.grad = 0.0
    total.backward()
    for p in params:
        p.data -= 0.1 * p.grad
    return float(total.data)


def nary_step(layers: list[list[tuple[list[Value], Value]]]) -> float:
    """`raw_step` with the engine's n-ary nodes: one `linear` per neuron, `sum_of`."""
    params = [p for layer in layers for w, b in layer for p in (*w, b)]
    losses = []
    for x, y in zip(X, Y):
        a: list[Any] = x
        for i, layer in enumerate(layers):
            z = [linear(w, a, b) for w, b in layer]
            a = z if i == len(layers) - 1 else [zj.relu() for zj in z]
        losses.append((1 + -y * a[0]).relu())
    total = sum_of(losses) * (1.0 / len(losses)) + ALPHA * linear(params, params)
    for p in params:
        p.grad = 0.0
    total.backward()
    for p in params:
        p.data -= 0.1 * p.grad
    return total.data


# -- 2. the moons step through each library's own API -----------------------------


def micrograd_api_step(model: Any) -> float:
    """micrograd's demo step, as in its README notebook."""
    inputs = [list(map(mg_engine.Value, x)) for x in X]
    scores = list(map(model, inputs))
    losses = [(1 + -y * score).relu() for y, score in zip(Y, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = ALPHA * sum(p * p for p in model.parameters())
    total = data_loss + reg_loss
    model.zero_grad()
    total.backward()
    for p in model.parameters():
        p.data -= 0.1 * p.grad
    return float(total.data)


def microgrid_api_step(model: MLP, optimizer: SGD) -> float:
    """The same step with microgrid's MLP, losses and optimiser."""
    params = optimizer.params
    data_loss = sum_of([hinge(model(x)[0], y) for x, y in zip(X, Y)]) * (1.0 / len(X))
    total = data_loss + l2_penalty(params, ALPHA)
    optimizer.zero_grad()
    total.backward()
    optimizer.step()
    return total.data


# -- 3. the deep chain ----------------------------------------------------------------


def chain(value_type: Any, n: int, activation: str = "relu") -> tuple[Any, Any]:
    x = value_type(0.5)
    y = x
    for _ in range(n):
        y = getattr(y * 0.999 + 0.001, activation)()
    return x, y


def chain_seconds(value_type: Any, n: int, activation: str = "relu") -> float | str:
    limit = sys.getrecursionlimit()
    try:
        start = time.perf_counter()
        _x, y = chain(value_type, n, activation)
        y.backward()
        return time.perf_counter() - start
    except RecursionError:
        return "RecursionError"
    finally:
        sys.setrecursionlimit(limit)


# -- 4. memory per node ---------------------------------------------------------------


def memory_per_node(value_type: Any, n: int = 30_000) -> dict[str, float]:
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    _x, y = chain(value_type, n)
    built = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.reset_peak()
    try:
        y.backward()
        peak: float = tracemalloc.get_traced_memory()[1] - base
    except RecursionError:
        peak = float("nan")
    tracemalloc.stop()
    nodes = 3 * n + 1
    return {"graph_bytes_per_node": built / nodes, "backward_peak_bytes_per_node": peak / nodes}


# -- 5. time in the cyclic garbage collector -----------------------------------------------


def gc_share(step: Callable[[], object], repeats: int) -> dict[str, float]:
    spent = 0.0
    collections = 0
    started = 0.0

    def callback(phase: str, info: dict[str, int]) -> None:
        nonlocal spent, started, collections
        if phase == "start":
            started = time.perf_counter()
        else:
            spent += time.perf_counter() - started
            collections += 1

    gc.collect()
    gc.callbacks.append(callback)
    try:
        start = time.perf_counter()
        for _ in range(repeats):
            step()
        total = time.perf_counter() - start
    finally:
        gc.callbacks.remove(callback)
    return {"share": spent / total, "collections_per_step": collections / repeats}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, chain up to 10^5")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    repeats = 3 if args.quick else 9
    out: dict[str, Any] = {
        "python": sys.version.split()[0],
        "microgrid": microgrid.__version__,
        "repeats": repeats,
    }
    say = (lambda *a: None) if args.json else print_line

    say(f"Python {out['python']}, microgrid {out['microgrid']}, micrograd 0.1.0; "
        f"medians of {repeats} interleaved runs\n")

    # 1. written with Values
    mg_layers = raw_parameters(mg_engine.Value)
    our_layers = raw_parameters(Value)
    nary_layers = raw_parameters(Value)
    say("1. moons step [2,16,16,1], 100 points, built from Values (no nn); microgrid "
        "with + * relu, and with its n-ary linear/sum_of nodes")
    for key, text, loop in (("values_step_in_a_loop", "steps in a loop", 3),
                            ("values_step", "a step alone   ", 0)):
        medians = median_seconds(
            {"micrograd": lambda: raw_step(mg_engine.Value, mg_layers),
             "microgrid": lambda: raw_step(Value, our_layers),
             "microgrid_nary": lambda: nary_step(nary_layers)},
            repeats,
            in_a_loop=loop,
            label=f"1. {text.strip()}",
        )
        mg, ours, nary = medians["micrograd"], medians["microgrid"], medians["microgrid_nary"]
        out[key] = {"micrograd_ms": mg * 1e3, "microgrid_ms": ours * 1e3, "ratio": mg / ours,
                    "microgrid_nary_ms": nary * 1e3, "nary_ratio": mg / nary}
        say(f"   {text}: micrograd {mg * 1e3:7.1f} ms   microgrid {ours * 1e3:6.1f} ms "
            f"({mg / ours:4.1f}x)   with linear/sum_of {nary * 1e3:5.1f} ms ({mg / nary:4.1f}x)")

    # 2. each library's own API, GC on and off
    random.seed(0)
    mg_model = mg_nn.MLP(2, [16, 16, 1])
    our_model = MLP(2, [16, 16, 1], activation="relu", output_activation="linear", seed=0)
    optimizer = SGD(our_model.parameters(), lr=0.1)
    say("\n2. moons step through each library's API (MLP, max-margin + 1e-4 L2, SGD)")
    api_runs = {"micrograd": lambda: micrograd_api_step(mg_model),
                "microgrid": lambda: microgrid_api_step(our_model, optimizer)}
    for key, text, gc_on, loop in (
        ("api_step_in_a_loop", "GC on, steps in a loop  ", True, 3),
        ("api_step_gc_on", "GC on, a step alone     ", True, 0),
        ("api_step_gc_off", "GC off                  ", False, 0),
    ):
        medians = median_seconds(api_runs, repeats, gc_on, in_a_loop=loop,
                                 label=f"2. {text.strip()}")
        mg, ours = medians["micrograd"], medians["microgrid"]
        out[key] = {"micrograd_ms": mg * 1e3, "microgrid_ms": ours * 1e3, "ratio": mg / ours}
        say(f"   {text}: micrograd {mg * 1e3:9.1f} ms   microgrid {ours * 1e3:7.1f} ms   "
            f"ratio {mg / ours:5.1f}x")

    # 3. deep chains
    say("\n3. chain of n relu links (3n nodes), forward + backward, one run each")
    out["chain"] = []
    depths = [10**3, 10**4, 10**5] + ([] if args.quick else [10**6])
    micrograd_failed = False
    for n in depths:
        progress(f"   ... 3. n = {n:,}")
        ours_s = chain_seconds(Value, n)
        tanh_s = chain_seconds(Value, n, "tanh")
        mg_s: float | str = "not run (failed at a smaller n)" if micrograd_failed else \
            chain_seconds(mg_engine.Value, n)
        micrograd_failed = micrograd_failed or isinstance(mg_s, str)
        out["chain"].append(
            {"n": n, "microgrid_s": ours_s, "microgrid_tanh_s": tanh_s, "micrograd_s": mg_s}
        )
        mg_text = f"{mg_s:8.3f} s" if isinstance(mg_s, float) else mg_s
        say(f"   n = {n:>9,}: microgrid {ours_s:7.3f} s (tanh {tanh_s:7.3f} s)   "
            f"micrograd {mg_text}")

    # 4. memory
    say("\n4. memory per graph node (chain of 30,000 links)")
    progress("   ... 4. memory")
    out["memory"] = {"microgrid": memory_per_node(Value), "micrograd": memory_per_node(
        mg_engine.Value, n=300)}
    for name, figures in out["memory"].items():
        say(f"   {name:9}: graph {figures['graph_bytes_per_node']:6.0f} B/node, "
            f"backward peak {figures['backward_peak_bytes_per_node']:6.0f} B/node")
    mem_ratio = (out["memory"]["micrograd"]["graph_bytes_per_node"]
                 / out["memory"]["microgrid"]["graph_bytes_per_node"])
    say(f"   ratio (graph): {mem_ratio:.1f}x")

    # 5. GC share
    progress("   ... 5. time in the collector")
    out["gc"] = {
        "microgrid": gc_share(lambda: microgrid_api_step(our_model, optimizer), 3 * repeats),
        "micrograd": gc_share(lambda: micrograd_api_step(mg_model), repeats),
    }
    out["gc_values"] = {
        "microgrid": gc_share(lambda: raw_step(Value, our_layers), repeats),
        "micrograd": gc_share(lambda: raw_step(mg_engine.Value, mg_layers), repeats),
    }
    say("\n5. share of a training step's time in the cyclic garbage collector")
    for key, text in (("gc", "through the API (2)"), ("gc_values", "with + * relu (1)  ")):
        ours_gc, mg_gc = out[key]["microgrid"], out[key]["micrograd"]
        say(f"   {text}: microgrid {100 * ours_gc['share']:5.1f}% "
            f"({ours_gc['collections_per_step']:5.1f} collections per step)   "
            f"micrograd {100 * mg_gc['share']:5.1f}% "
            f"({mg_gc['collections_per_step']:5.1f} per step)")

    if args.json:
        print_line(json.dumps(out, indent=2))
    progress("")


if __name__ == "__main__":
    main()
