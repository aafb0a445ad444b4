"""Specification of `microgrid.graph`: computation-graph and network drawings.

A drawing of ``root`` has one record node ``v<i>`` per value (``i`` its
place in the engine's topological order) and one node ``o<i>`` per
operation, edges ``v<parent> -> o<i> -> v<i>`` in the parents' order, and
labels carrying each value's data and grad. The DOT text is deterministic
(snapshots in ``tests/snapshots``; regenerate them with
``MICROGRID_UPDATE_SNAPSHOTS=1 pytest tests/test_graph.py`` after a
deliberate change, and look at the diff).

Rendering is tested with the in-process renderer explicitly (``renderer=
"wasm"``), so these tests mean the same with or without Graphviz's ``dot``.
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from microgrid import MLP, Value, linear, logsumexp, sum_of, topological_order
from microgrid.graph import DEFAULT_MAX_NODES, Drawing, draw, draw_network
from microgrid.nn import Neuron, Trace

SNAPSHOTS = Path(__file__).parent / "snapshots"
SVG = "{http://www.w3.org/2000/svg}"
wasm_only = pytest.mark.skipif(
    sys.version_info < (3, 11), reason="the in-process renderer needs Python >= 3.11"
)

# -- helpers ----------------------------------------------------------------------

_STATEMENT = re.compile(r"^\s*(\w+) \[(.*)\];$")
_ATTRIBUTE = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def nodes_of(source: str) -> dict[str, dict[str, str]]:
    """The node statements of a drawing's DOT text: name -> attributes."""
    found = {}
    for line in source.splitlines():
        m = _STATEMENT.match(line)
        if m and m[1] not in ("graph", "node", "edge"):
            found[m[1]] = dict(_ATTRIBUTE.findall(m[2]))
    return found


def edges_of(source: str) -> list[tuple[str, str]]:
    return re.findall(r"^  (\w+) -> (\w+)[ ;]", source, flags=re.MULTILINE)


def fields(record_label: str) -> list[str]:
    """The fields of a record label (split on unescaped ``|``, escapes removed)."""
    parts = re.split(r"(?<!\\)\|", record_label.strip("{}"))
    return [re.sub(r"\\(.)", r"\1", p) for p in parts]


def two_two_one() -> tuple[MLP, Trace, Value]:
    """A 2-2-1 sigmoid network with fixed weights, traced and back-propagated."""
    net = MLP(2, [2, 1], activation="sigmoid", output_activation="sigmoid", seed=0)
    weights = [0.15, 0.20, 0.35, 0.25, 0.30, 0.35, 0.40, 0.45, 0.60]
    for p, w in zip(net.parameters(), weights, strict=True):
        p.data = w
    trace = net.trace([0.05, 0.10])
    cost = 0.5 * sum_of([(y - a) ** 2 for a, y in zip(trace.output, [0.01], strict=True)])
    net.zero_grad()
    cost.backward()
    return net, trace, cost


def neuron_graph() -> Value:
    """One tanh neuron with two inputs, written with the engine's linear node."""
    x = [Value(2.0, label="x1"), Value(0.0, label="x2")]
    w = [Value(-3.0, label="w1"), Value(1.0, label="w2")]
    b = Value(6.8813735870195432, label="b")
    out = linear(w, x, b).tanh()
    out.label = "o"
    out.backward()
    return out


def check_snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if os.environ.get("MICROGRID_UPDATE_SNAPSHOTS"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing snapshot {path}; run with MICROGRID_UPDATE_SNAPSHOTS=1"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its snapshot"


# -- structure ----------------------------------------------------------------------


def test_one_record_per_value_and_one_node_per_operation() -> None:
    """Values are v0..v(n-1) in topological order; each interior value has an op node."""
    x, y = Value(2.0, label="x"), Value(-3.0, label="y")
    out = (x * y + x).tanh()
    out.backward()
    order = topological_order(out)
    nodes = nodes_of(draw(out, legend=False).source)
    values = {n for n, a in nodes.items() if a.get("shape") == "record"}
    ops = {n for n in nodes if n.startswith("o")}
    assert values == {f"v{i}" for i in range(len(order))}
    assert ops == {f"o{i}" for i, v in enumerate(order) if v.parents}
    assert draw(out).node_count == len(values) + len(ops)


def test_edges_follow_the_data_in_the_parents_order() -> None:
    """A linear node's edges come from its weights, then its inputs, then its bias."""
    w = [Value(0.5, label="w0"), Value(-1.0, label="w1")]
    a = [Value(2.0, label="a0"), Value(3.0, label="a1")]
    b = Value(0.1, label="b")
    z = linear(w, a, b)
    order = topological_order(z)
    index = {v: i for i, v in enumerate(order)}
    source = draw(z).source
    expected = [(f"v{index[p]}", f"o{index[z]}") for p in (*w, *a, b)]
    expected.append((f"o{index[z]}", f"v{index[z]}"))
    assert [e for e in edges_of(source) if "legend" not in e[0] + e[1]] == expected
    assert nodes_of(source)[f"o{index[z]}"]["label"] == "Σ w·a + b"


def test_a_value_used_twice_has_two_edges() -> None:
    """``a * a`` has parents (a, a): both edges are drawn, and a.grad = 2a."""
    a = Value(3.0, label="a")
    c = a * a
    c.backward()
    source = draw(c).source
    assert edges_of(source).count(("v0", "o1")) == 2
    assert fields(nodes_of(source)["v0"]["label"]) == ["a", "data = 3", "grad = 6"]


def test_labels_carry_each_values_data_and_grad() -> None:
    """Every record shows its label, data and grad in the drawing's number format."""
    out = neuron_graph()
    order = topological_order(out)
    nodes = nodes_of(draw(out, number_format=".6f").source)
    for i, v in enumerate(order):
        shown = fields(nodes[f"v{i}"]["label"])
        expected = [f"data = {v.data:.6f}", f"grad = {v.grad:.6f}"]
        assert shown == ([v.label] if v.label else []) + expected


def test_show_grad_false_hides_grads_and_precision_sets_digits() -> None:
    x = Value(1.0 / 3.0, label="x")
    y = x * 3
    y.backward()
    assert fields(nodes_of(draw(y, show_grad=False).source)["v0"]["label"]) == [
        "x", "data = 0.3333"]
    assert fields(nodes_of(draw(y, precision=2).source)["v0"]["label"]) == [
        "x", "data = 0.33", "grad = 3"]


def test_the_same_graph_gives_byte_identical_dot() -> None:
    """Node names come from the topological order, never from id(): rebuilding changes nothing."""
    assert draw(neuron_graph()).source == draw(neuron_graph()).source
    net, trace, cost = two_two_one()
    net2, trace2, cost2 = two_two_one()
    assert draw(cost, net=net, trace=trace).source == draw(cost2, net=net2, trace=trace2).source


def test_constants_show_inside_their_operation() -> None:
    """Constants are not nodes; each op with one Value operand shows its constant."""
    a = Value(3.0, label="a")
    expected = {
        "× 2": a * 2, "+ 3": a + 3, "- 1.5": a - 1.5, "4 -": 4 - a, "÷ 4": a / 4,
        "2 ÷": 2 / a, "^2": a**2, "^-1": a**-1, "^0.5": a**0.5, "2^": 2**a,
        "- 0": a - 0, "+ 0": a + 0, "0 -": 0 - a, "× 0": a * 0, "^0": a**0,
    }
    for text, node in expected.items():
        assert nodes_of(draw(node).source)["o1"]["label"] == text
    assert nodes_of(draw(a.tanh()).source)["o1"]["label"] == "tanh"
    assert nodes_of(draw(sum_of([a, a, a])).source)["o1"]["label"] == "Σ"
    assert nodes_of(draw(logsumexp([a, 0.0])).source)["o1"]["label"] == "log Σ exp"
    assert nodes_of(draw(-a).source)["o1"]["label"] == "−x"


def test_a_linear_node_shows_its_bias_however_it_was_built() -> None:
    """The bias is read from the node's operands, never guessed from its parent count."""
    a, b = Value(2.0, label="a"), Value(3.0, label="b")
    expected = [(linear([a], [b], bias=-1.0), "Σ w·a - 1"), (linear([a], [b], 0.5), "Σ w·a + 0.5"),
                (linear([a], [b]), "Σ w·a"), (linear([a], [b], a), "Σ w·a + b"),
                (linear([a, 2.0], [b, 1.0], -1.5), "Σ w·a - 1.5")]
    for z, text in expected:
        assert nodes_of(draw(z).source)[f"o{len(topological_order(z)) - 1}"]["label"] == text


def test_a_zero_constant_is_shown_not_read_as_a_sign() -> None:
    """``x - 0`` drew a bare ``-``, which reads as negation; ``x * 1`` always showed ``× 1``."""
    a = Value(3.0, label="a")
    expected = {"- 0": a - 0, "+ 0": a + 0, "+ 0.5": a + 0.5, "0 -": 0 - a, "× 1": a * 1,
                "× 0": a * 0}
    for text, node in expected.items():
        assert nodes_of(draw(node).source)["o1"]["label"] == text


def test_show_params_false_leaves_the_parameters_out_and_counts_them_on_each_operation() -> None:
    net = MLP(2, [3, 1], seed=0)
    trace = net.trace([0.5, -0.25])
    cost = (trace.output[0] - 1.0) ** 2
    cost.backward()
    full = draw(cost, net=net, trace=trace)
    small = draw(cost, net=net, trace=trace, show_params=False)
    assert full.node_count - small.node_count == len(net.parameters())  # 13
    full_nodes, small_nodes = nodes_of(full.source), nodes_of(small.source)
    order = topological_order(cost)
    index = {v: i for i, v in enumerate(order)}
    for p in net.parameters():
        assert f"v{index[p]}" in full_nodes and f"v{index[p]}" not in small_nodes
        assert f"v{index[p]} ->" not in small.source
    # drawn nodes keep their ids: the two drawings differ only by what is left out
    assert {k: v for k, v in full_nodes.items() if k in small_nodes and not k.startswith("o")} \
        == {k: v for k, v in small_nodes.items() if not k.startswith("o")}
    labels = [small_nodes[f"o{index[z]}"]["label"] for layer in trace.z for z in layer]
    assert labels == ["Σ w·a + b\\n3 parameters"] * 3 + ["Σ w·a + b\\n4 parameters"]
    assert "parameter" not in " ".join(v["label"] for k, v in small_nodes.items()
                                      if k.startswith("legend"))


def test_show_params_false_needs_to_know_the_parameters_and_keeps_the_root() -> None:
    w = Value(2.0, label="w")
    with pytest.raises(ValueError, match="show_params=False needs params= or net="):
        draw(w * 3.0, show_params=False)
    assert "v0" in nodes_of(draw(w, params=[w], show_params=False).source)
    product = w * Value(4.0, label="x")
    assert nodes_of(draw(product, params=[w], show_params=False).source)["o2"]["label"] \
        == "×\\n1 parameter"


# -- styles ------------------------------------------------------------------------


def test_parameters_inputs_constants_and_root_are_styled_apart() -> None:
    """Leaves in ``params`` and ``inputs`` and other leaves get distinct colours; root is bold."""
    w, x, c = Value(0.5, label="w"), Value(2.0, label="x"), Value(1.0)
    out = w * x + c
    out.backward()
    order = topological_order(out)
    nodes = nodes_of(draw(out, params=[w], inputs=[x]).source)
    style = {v: nodes[f"v{order.index(v)}"] for v in (w, x, c, out)}
    colours = {v: (s["fillcolor"], s["color"]) for v, s in style.items()}
    assert len(set(colours.values())) == 4
    assert "dashed" in style[c]["style"] and "bold" in style[out]["style"]
    legend = nodes_of(draw(out, params=[w], inputs=[x]).source)
    assert {"legend_parameter", "legend_input", "legend_constant", "legend_root"} <= set(legend)
    assert legend["legend_parameter"]["fillcolor"] == style[w]["fillcolor"]


def test_without_params_or_inputs_labelled_leaves_are_inputs() -> None:
    x, k = Value(2.0, label="x"), Value(3.0)
    nodes = nodes_of(draw(x * k).source)
    assert nodes["legend_input"]["fillcolor"] == nodes["v0"]["fillcolor"]
    assert nodes["legend_constant"]["fillcolor"] == nodes["v1"]["fillcolor"]


def test_non_finite_values_stand_out() -> None:
    """sqrt'(0) = inf: the leaf's grad is inf and it is drawn in the non-finite style."""
    x = Value(0.0, label="x")
    y = x.sqrt() + 1
    y.backward()
    assert x.grad == math.inf
    nodes = nodes_of(draw(y).source)
    assert nodes["v0"]["color"] == nodes["legend_non_finite"]["color"]
    assert nodes["v0"]["fontcolor"] == nodes["v0"]["color"]
    assert "grad = inf" in fields(nodes["v0"]["label"])
    assert nodes["v1"]["color"] != nodes["v0"]["color"]


def test_color_by_grad_shades_by_gradient_magnitude() -> None:
    """The largest |grad| gets the full shade, a zero grad stays white."""
    x, y = Value(3.0, label="x"), Value(0.0, label="y")
    out = x * y  # x.grad = 0, y.grad = 3, out.grad = 1
    out.backward()
    nodes = nodes_of(draw(out, color_by_grad=True).source)
    assert nodes["v0"]["fillcolor"] == "#ffffff"
    assert nodes["v1"]["fillcolor"] == nodes["legend_grad"]["fillcolor"] != "#ffffff"
    assert nodes["v2"]["fillcolor"] not in ("#ffffff", nodes["v1"]["fillcolor"])


def test_the_legend_lists_only_what_the_drawing_has() -> None:
    """A lone value has no operation, so the legend has no "operation" entry."""
    lone = nodes_of(draw(Value(1.0, label="x")).source)
    assert [n for n in lone if n.startswith("legend")] == ["legend_root"]
    product = nodes_of(draw(Value(1.0, label="x") * 2).source)
    assert product["legend_op"]["label"] == "operation"


def test_the_legend_sits_one_rank_after_the_root() -> None:
    out = Value(1.0, label="x") * 2
    source = draw(out).source
    assert "  v1 -> legend_input [style=invis];" in source
    assert "{ rank=same; legend_op -> legend_root -> legend_input [style=invis]; }" in source


def test_title_rankdir_and_legend_options() -> None:
    out = Value(1.0, label="x") * 2
    source = draw(out, title='say "hi"', rankdir="TB", legend=False).source
    assert 'label="say \\"hi\\""' in source and 'rankdir="TB"' in source
    assert "legend" not in source
    assert fields(nodes_of(source)["v0"]["label"]) == ["x", "data = 1", "grad = 0"]
    assert nodes_of(source)["v0"]["label"].startswith("{")  # fields stacked in TB too


def test_user_labels_are_escaped() -> None:
    """Record-special characters and quotes in labels show as written, never as structure."""
    x = Value(1.0, label='a|b {c} <d> "e" \\f')
    record = nodes_of(draw(x * 2).source)["v0"]["label"]
    assert fields(record)[0] == 'a|b {c} <d> "e" \\f'
    assert len(fields(record)) == 3


def test_bad_options_raise_clear_errors() -> None:
    x = Value(1.0)
    with pytest.raises(TypeError, match="root must be a Value"):
        draw(1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="precision must be an int >= 1, got 0"):
        draw(x, precision=0)
    with pytest.raises(TypeError, match="precision must be an int, got float"):
        draw(x, precision=4.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="number_format"):
        draw(x, number_format="q")
    with pytest.raises(ValueError, match="rankdir"):
        draw(x, rankdir="up")
    with pytest.raises(TypeError, match="title"):
        draw(x, title=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="params must hold Values"):
        draw(x, params=[1.0])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="max_nodes must be an int >= 1, got 0"):
        draw(x, max_nodes=0)
    with pytest.raises(TypeError, match="max_nodes must be an int, got str"):
        draw(x, max_nodes="10")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="net must be an MLP"):
        draw(x, net=object())  # type: ignore[arg-type]


# -- the book's notation ------------------------------------------------------------


def test_network_values_are_named_in_the_books_notation() -> None:
    """With net and trace: w^l_jk, b^l_j, z^l_j, a^l_j (neurons counted from 1, as the book
    does), and z nodes show δ = their grad."""
    net, trace, cost = two_two_one()
    source = draw(cost, net=net, trace=trace).source
    order = topological_order(cost)
    nodes = nodes_of(source)
    label = {v: fields(nodes[f"v{i}"]["label"]) for i, v in enumerate(order)}
    # The weight from neuron 1 of layer 1 to neuron 2 of layer 2 is the book's w²₂₁.
    assert label[net.layers[0].neurons[1].w[0]][0] == "w²₂₁"
    assert label[net.layers[0].neurons[0].w[1]][0] == "w²₁₂"
    assert label[net.layers[1].neurons[0].b][0] == "b³₁"
    assert label[trace.a[0][1]][0] == "a¹₂"
    assert label[trace.a[1][0]][0] == "a²₁"
    for layer_number in (2, 3):
        for j, z in enumerate(trace.z[layer_number - 1], 1):
            assert label[z][0] == f"z{'²³'[layer_number - 2]}{'₁₂'[j - 1]}"
            assert label[z][2] == f"δ = {trace.delta_of(layer_number, j):.4g}"
    w = net.layers[0].neurons[0].w[0]
    assert nodes[f"v{order.index(w)}"]["fillcolor"] == nodes["legend_parameter"]["fillcolor"]


def test_book_labels_are_prettified_without_a_net() -> None:
    w = Value(1.0, label="w^2_21")
    z = Value(2.0, label="z^3_1 = a^3_1")
    assert fields(nodes_of(draw(w * z).source)["v0"]["label"])[0] == "w²₂₁"
    assert fields(nodes_of(draw(w * z).source)["v1"]["label"])[0] == "z³₁ = a³₁"
    assert fields(nodes_of(draw(Value(1.0, label="x_1^2") * 2).source)["v0"]["label"])[0] == (
        "x_1^2")


def test_a_linear_output_is_named_both_z_and_a() -> None:
    net = MLP(2, [1], output_activation="linear", seed=0)
    trace = net.trace([1.0, 2.0])
    out = trace.output[0]
    out.backward()
    nodes = nodes_of(draw(out, net=net, trace=trace).source)
    index = topological_order(out).index(out)
    assert fields(nodes[f"v{index}"]["label"])[0] == "z²₁ = a²₁"
    assert fields(nodes[f"v{index}"]["label"])[2] == "δ = 1"


# -- snapshots ----------------------------------------------------------------------


def test_snapshot_neuron() -> None:
    check_snapshot("neuron.dot", draw(neuron_graph()).source)


def test_snapshot_a_times_a() -> None:
    a = Value(3.0, label="a")
    c = a * a
    c.backward()
    check_snapshot("a_times_a.dot", draw(c).source)


def test_snapshot_two_two_one_network() -> None:
    net, trace, cost = two_two_one()
    check_snapshot("network_2_2_1_graph.dot", draw(cost, net=net, trace=trace).source)
    check_snapshot("network_2_2_1.dot", draw_network(net, trace, edge_labels="grad").source)


# -- size -----------------------------------------------------------------------------


def test_a_hundred_thousand_node_graph_gives_its_dot() -> None:
    """Walks are iterative: a 50,000-step chain (10^5 drawn nodes) is no recursion problem."""
    x = Value(0.5, label="x")
    y = x
    for _ in range(50_000):
        y = y * 1.0
    y.backward()
    drawing = draw(y)
    assert drawing.node_count == 100_001
    assert drawing.source.count('shape="record"') == 50_001
    assert drawing.source.endswith("}\n")


def test_rendering_refuses_graphs_above_the_node_limit(tmp_path: Path) -> None:
    """Above max_nodes: a ValueError saying how to raise it; DOT and .dot files still work."""
    y = Value(1.0, label="x")
    for _ in range(10):
        y = y + 1
    drawing = draw(y, max_nodes=15)
    assert drawing.node_count == 21
    with pytest.raises(ValueError, match=r"21 nodes and 20 edges.*max_nodes=15.*max_nodes=21"):
        drawing.svg()
    existing = tmp_path / "graph.svg"
    existing.write_text("keep me")
    with pytest.raises(ValueError, match="max_nodes"):
        drawing.save(existing)
    assert existing.read_text() == "keep me"  # a failed render never truncates a file
    assert drawing.save(tmp_path / "graph.dot").read_text() == drawing.source
    assert Drawing("digraph {}", 1).max_nodes == DEFAULT_MAX_NODES


def sum_of_products(terms: int) -> Value:
    """``x*0 + x*1 + ... + x*(terms-1)``: one leaf read all along a chain of sums."""
    x = Value(2.0, label="x")
    out = x * 0
    for k in range(1, terms):
        out = out + x * k
    out.backward()
    return out


def halving_chain(steps: int) -> Value:
    """``y = y*0.5 + x`` repeated: x read at every step of a long chain."""
    x = Value(2.0, label="x")
    y = Value(1.0, label="y")
    for _ in range(steps):
        y = y * 0.5 + x
    y.backward()
    return y


def ranks_crossed(source: str) -> dict[tuple[str, str], int]:
    """How many ranks each drawn edge crosses, every node placed as late as it can be.

    Each node sits one rank before the earliest of the nodes it feeds (the
    sink at 0). Graphviz's dot minimises the total of these
    lengths, so its own total is at most this one's; an edge across n ranks
    costs it n - 1 hidden nodes to place.
    """
    edges = [e for e in edges_of(source) if not e[1].startswith("legend")]
    readers: dict[str, list[str]] = {}
    for tail, head in edges:
        readers.setdefault(tail, []).append(head)
    rank: dict[str, int] = {}
    pending = list(readers)
    while pending:  # no recursion: settle a node once all its readers are settled
        node = pending.pop()
        if node in rank:
            continue
        unsettled = [h for h in readers.get(node, []) if h not in rank]
        if unsettled:
            pending += [node, *unsettled]
            continue
        rank[node] = max((rank[h] + 1 for h in readers.get(node, [])), default=0)
    return {(tail, head): rank[tail] - rank[head] for tail, head in edges}


@pytest.mark.parametrize("make", [sum_of_products, halving_chain])
def test_no_edge_crosses_more_than_eight_ranks(make: object) -> None:
    """A value read far along a chain is drawn again beside each far reader.

    Each edge across n ranks costs Graphviz n - 1 hidden nodes to place:
    drawn straight, x's edges in ``x*0 + ... + x*99`` cost about 20,000 of
    them for 399 drawn nodes, and a layout of minutes.
    """
    out = make(100)  # type: ignore[operator]
    drawing = draw(out)
    crossed = ranks_crossed(drawing.source)
    assert max(crossed.values()) <= 8
    assert sum(n - 1 for n in crossed.values()) <= 7 * len(crossed)
    nodes = nodes_of(drawing.source)
    references = {name for name in nodes if name.startswith("r")}
    assert len(references) > 80  # most of x's readers are far from its box
    assert {nodes[r]["label"] for r in references} == {"x"}
    assert "legend_reference" in nodes
    # every operation still has an edge from each operand, in order: from its
    # box v<j>, or from a reference r<j>_<i> to it beside operation o<i>
    order = topological_order(out)
    for i, v in enumerate(order):
        tails = [tail for tail, head in edges_of(drawing.source) if head == f"o{i}"]
        assert [int(re.findall(r"\d+", t)[0]) for t in tails] == [
            order.index(p) for p in v.parents]
        assert all(t == f"r{order.index(p)}_{i}" for p, t in zip(v.parents, tails, strict=True)
                   if t.startswith("r"))
    assert drawing.node_count == 2 * len(order) - sum(1 for v in order if not v.parents)


@wasm_only
@pytest.mark.parametrize("make", [sum_of_products, halving_chain])
def test_a_value_read_all_along_a_chain_lays_out_in_seconds(make: object) -> None:
    """These took minutes (the in-process renderer's own timeout stops a slow layout)."""
    drawing = draw(make(100))  # type: ignore[operator]
    assert drawing.svg(renderer="wasm", timeout=20).startswith("<?xml")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")
@pytest.mark.parametrize("make", [sum_of_products, halving_chain])
def test_a_value_read_all_along_a_chain_lays_out_in_seconds_with_dot(make: object) -> None:
    drawing = draw(make(100))  # type: ignore[operator]
    assert drawing.svg(renderer="dot", timeout=20).startswith("<?xml")


def test_a_value_read_nearby_is_drawn_once() -> None:
    """References only where an edge would cross more than 8 ranks; the doc pictures have none."""
    out = sum_of_products(4)
    assert not any(name.startswith("r") for name in nodes_of(draw(out).source))
    assert "legend_reference" not in draw(out).source
    net, trace, cost = two_two_one()
    assert not any(name.startswith("r") for name in nodes_of(draw(cost, net=net,
                                                                 trace=trace).source))


def test_rendering_refuses_dense_drawings_too() -> None:
    """At most 3 edges a node: a layer of 100 ReLUs feeding 100 more is 10,000 edges.

    Layout time grows with the edges as well (Graphviz 2.43's dot took 95 s
    for 26,000 edges between 1,300 nodes); the message says which max_nodes
    would render it.
    """
    net = MLP(2, [100, 100, 1], seed=0)
    trace = net.trace([0.5, -0.3])
    cost = (trace.output[0] - 1.0) ** 2
    drawing = draw(cost, net=net, trace=trace, show_params=False, max_nodes=3_000)
    assert drawing.node_count == 808
    assert drawing.edge_count == len(edges_of(drawing.source)) - 1  # the legend's edge
    assert drawing.edge_count > 100 * 100  # a^2_k -> z^3_j alone
    needed = -(-drawing.edge_count // 3)
    with pytest.raises(ValueError, match=rf"808 nodes and {drawing.edge_count} edges, more "
                                         rf"than max_nodes=3000 allows \(3000 nodes, 9000 "
                                         rf"edges.*max_nodes={needed}"):
        drawing.svg()
    assert draw_network(net).edge_count == 2 * 100 + 100 * 100 + 100


# -- rendering and files ------------------------------------------------------------


@wasm_only
def test_svg_has_one_node_group_per_value_and_operation() -> None:
    """The rendered SVG parses as XML; its node groups are the values and ops, with labels."""
    out = neuron_graph()
    order = topological_order(out)
    root = ET.fromstring(draw(out).svg(renderer="wasm"))
    groups = {
        g.findtext(f"{SVG}title", ""): g for g in root.iter(f"{SVG}g") if g.get("class") == "node"
    }
    drawn = {t for t in groups if not t.startswith("legend")}
    assert drawn == {f"v{i}" for i in range(len(order))} | {
        f"o{i}" for i, v in enumerate(order) if v.parents}
    for i, v in enumerate(order):
        texts = [t.text for t in groups[f"v{i}"].iter(f"{SVG}text")]
        assert f"data = {v.data:.4g}" in texts and f"grad = {v.grad:.4g}" in texts


@wasm_only
def test_save_picks_the_format_from_the_suffix(tmp_path: Path) -> None:
    drawing = draw(neuron_graph())
    assert drawing.save(tmp_path / "g.svg", renderer="wasm").read_text().startswith("<?xml")
    assert drawing.save(tmp_path / "g.PNG", renderer="wasm").read_bytes()[:8] == (
        b"\x89PNG\r\n\x1a\n")
    assert drawing.save(tmp_path / "g.gv").read_text() == drawing.source
    with pytest.raises(ValueError, match="suffix"):
        drawing.save(tmp_path / "g.jpeg")
    with pytest.raises(FileNotFoundError, match="no folder"):
        drawing.save(tmp_path / "missing" / "g.svg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.PNG", "g.gv", "g.svg"]
    with open(tmp_path / "plain.txt", "wb"):
        pass  # the permissions a plain open() gives
    assert (tmp_path / "g.svg").stat().st_mode == (tmp_path / "plain.txt").stat().st_mode
    (tmp_path / "g.gv").chmod(0o600)
    assert (drawing.save(tmp_path / "g.gv").stat().st_mode & 0o777) == 0o600  # kept


def test_save_refuses_a_read_only_file_before_rendering(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 0444 drawing was silently replaced; now refused, as cp does, and before any
    (possibly long) render, as is a missing folder."""
    drawing = draw(neuron_graph())
    kept = tmp_path / "g.svg"
    kept.write_text("<svg/>", encoding="utf-8")
    kept.chmod(0o444)
    rendered: list[str] = []
    monkeypatch.setattr(Drawing, "render", lambda self, *a, **k: rendered.append("!") or b"")
    monkeypatch.setattr(Drawing, "svg", lambda self, *a, **k: rendered.append("!") or "")
    with pytest.raises(PermissionError, match=r"cannot write '.*g\.svg': the file is read-only"):
        drawing.save(kept)
    with pytest.raises(FileNotFoundError, match="there is no folder"):
        drawing.save(tmp_path / "missing" / "g.png")
    assert rendered == [] and kept.read_text(encoding="utf-8") == "<svg/>"
    (tmp_path / "g.gv").write_text("old", encoding="utf-8")
    (tmp_path / "g.gv").chmod(0o444)
    with pytest.raises(PermissionError):
        drawing.save(tmp_path / "g.gv")
    assert sorted(os.listdir(tmp_path)) == ["g.gv", "g.svg"]


@wasm_only
def test_jupyter_shows_svg_or_says_why_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")  # no `dot`: the in-process renderer
    drawing = draw(neuron_graph())
    bundle = drawing._repr_mimebundle_()
    assert bundle["image/svg+xml"].startswith("<?xml")
    assert drawing._repr_svg_() == bundle["image/svg+xml"]
    too_big = draw(neuron_graph(), max_nodes=3)
    assert too_big._repr_svg_() is None
    assert "max_nodes" in too_big._repr_mimebundle_()["text/plain"]


# -- the graphviz package ----------------------------------------------------------------

needs_graphviz_package = pytest.mark.skipif(
    importlib.util.find_spec("graphviz") is None,
    reason="the graphviz package (the graph extra) is not installed",
)


@needs_graphviz_package
def test_to_graphviz_is_a_graphviz_source_of_the_same_dot() -> None:
    import graphviz

    drawing = draw(neuron_graph(), title='a "quoted" \\ title')
    source = drawing.to_graphviz()
    assert isinstance(source, graphviz.Source)
    assert source.source == drawing.source
    network = draw_network(MLP(2, [2, 1], seed=0))
    assert network.to_graphviz().source == network.source


@needs_graphviz_package
@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")
def test_to_graphviz_renders_through_the_system_dot() -> None:
    drawing = draw(neuron_graph())

    def node_names(svg: bytes) -> list[str]:
        groups = ET.fromstring(svg).findall(f".//{SVG}g[@class='node']")
        return sorted(g.findtext(f"{SVG}title") or "" for g in groups)

    names = node_names(drawing.to_graphviz().pipe(format="svg"))
    assert names == node_names(drawing.render("svg", renderer="dot"))
    assert {"v0", "o5", "v5"} <= set(names)


@needs_graphviz_package
def test_to_graphviz_without_dot_keeps_the_source_and_the_package_says_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import graphviz

    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot`
    drawing = draw(neuron_graph())
    source = drawing.to_graphviz()
    assert source.source == drawing.source
    with pytest.raises(graphviz.ExecutableNotFound):
        source.pipe(format="svg")


def test_to_graphviz_without_the_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from microgrid.render import MissingRendererError

    monkeypatch.setitem(sys.modules, "graphviz", None)  # import graphviz raises ImportError
    with pytest.raises(MissingRendererError, match=r"microgrid-autodiff\[graph\]"):
        draw(neuron_graph()).to_graphviz()


# -- draw_network -----------------------------------------------------------------------


def test_network_is_laid_out_as_layers_left_to_right() -> None:
    """Layer l is column l-1; neuron 1 (node n{l}_1) is at the top of its column; nothing
    overlaps."""
    net = MLP(3, [4, 2], seed=0)
    nodes = nodes_of(draw_network(net).source)
    position = {name: tuple(float(c) for c in a["pos"].rstrip("!").split(","))
                for name, a in nodes.items() if name.startswith("n")}
    xs = sorted({x for x, _ in position.values()})
    assert len(xs) == 3
    for layer_number, width in enumerate(net.sizes, start=1):
        column = [position[f"n{layer_number}_{j}"] for j in range(1, width + 1)]
        assert {x for x, _ in column} == {xs[layer_number - 1]}
        ys = [y for _, y in column]
        assert ys == sorted(ys, reverse=True) and len(set(ys)) == width


def test_network_has_an_edge_per_weight_styled_by_magnitude_and_sign() -> None:
    net, trace, _ = two_two_one()
    net.layers[0].neurons[1].w[0].data = -0.6  # one negative weight, the largest in size
    source = draw_network(net, trace).source
    weight_edges = {(a, b): attrs for a, b, attrs in re.findall(
        r"^  (n\d_\d) -> (n\d_\d) \[(.*)\];$", source, flags=re.MULTILINE)}
    assert len(weight_edges) == 6
    strongest = dict(_ATTRIBUTE.findall(weight_edges[("n1_1", "n2_2")]))
    weakest = dict(_ATTRIBUTE.findall(weight_edges[("n1_1", "n2_1")]))  # w = 0.15
    assert strongest["color"] != weakest["color"]
    assert float(strongest["penwidth"]) > float(weakest["penwidth"])
    # From neuron 1 of layer 1 to neuron 2 of layer 2: the book's w²₂₁.
    assert strongest["tooltip"] == "w²₂₁ = -0.6"


def test_network_neurons_show_a_and_delta_after_backward() -> None:
    net, trace, _ = two_two_one()
    nodes = nodes_of(draw_network(net, trace).source)
    lines = nodes["n2_2"]["label"].split("\\n")
    assert lines == ["a²₂", f"= {trace.a[1][1].data:.4g}", f"δ = {trace.delta[1][1]:.4g}"]
    assert nodes["n1_1"]["label"].split("\\n") == ["a¹₁", "= 0.05"]  # inputs have no δ
    before = net.trace([0.05, 0.10])  # not back-propagated: no δ shown
    assert "δ" not in draw_network(net, before).source.split("legend")[0]
    untraced = nodes_of(draw_network(net).source)
    assert untraced["n3_1"]["label"].split("\\n") == ["a³₁", "b = 0.6"]


def test_network_edge_labels_are_bp4() -> None:
    """edge_labels="grad": each edge shows ∂C/∂w^l_jk, which BP4 says is a^(l-1)_k δ^l_j."""
    net, trace, _ = two_two_one()
    nodes = nodes_of(draw_network(net, trace, edge_labels="grad", number_format=".12g").source)
    for layer_number, layer in enumerate(net.layers, 2):
        for j, neuron in enumerate(layer.neurons, 1):
            for k, w in enumerate(neuron.w, 1):
                shown = float(nodes[f"label{layer_number}_{j}_{k}"]["label"])
                bp4 = trace.a_of(layer_number - 1, k).data * trace.delta_of(layer_number, j)
                assert shown == pytest.approx(bp4, rel=1e-10)
                assert shown == pytest.approx(w.grad, rel=1e-10)
    weights = nodes_of(draw_network(net, edge_labels="w").source)
    assert weights["label2_2_1"]["label"] == "0.25"  # w^2_21


def test_draw_network_rejects_bad_arguments() -> None:
    net, _, _ = two_two_one()
    other = MLP(3, [2, 1], seed=0).trace([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="do not match"):
        draw_network(net, other)
    with pytest.raises(ValueError, match="edge_labels"):
        draw_network(net, edge_labels="weights")
    with pytest.raises(ValueError, match="needs a trace"):
        draw_network(net, show_delta=True)
    with pytest.raises(TypeError, match="MLP"):
        draw_network(Neuron(2))  # type: ignore[arg-type]


# -- the docs page ------------------------------------------------------------------------


@wasm_only
def test_drawing_page_examples_print_what_the_page_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every >>> line of docs/drawing.md gives the output shown (saving into a temp folder)."""
    import doctest

    monkeypatch.chdir(tmp_path)
    page = Path(__file__).parent.parent / "docs" / "drawing.md"
    test = doctest.DocTestParser().get_doctest(
        page.read_text(encoding="utf-8"), {"__name__": "drawing_md"}, "drawing.md", str(page), 0)
    runner = doctest.DocTestRunner()
    runner.run(test)
    assert runner.failures == 0
    assert runner.tries > 20
    assert (tmp_path / "graph.svg").read_text(encoding="utf-8").startswith("<?xml")


def test_drawing_page_pictures_exist() -> None:
    """Every picture the page shows is committed (scripts/make_doc_images.py makes them)."""
    page = Path(__file__).parent.parent / "docs" / "drawing.md"
    pictures = re.findall(r"\]\((img/drawing/[\w.]+)\)", page.read_text(encoding="utf-8"))
    assert len(pictures) == 7
    for picture in pictures:
        assert ET.parse(page.parent / picture).getroot().tag == f"{SVG}svg"


def test_the_module_docstring_examples_run() -> None:
    import doctest

    import microgrid.graph

    result = doctest.testmod(microgrid.graph)
    assert result.attempted > 5 and result.failed == 0
