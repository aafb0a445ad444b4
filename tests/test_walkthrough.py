"""Specification of `microgrid.walkthrough`: one backward pass, step by step.

A walkthrough's every number is the engine's, read where the step says
(``step.engine_name`` is a Python expression over ``net``, ``trace`` and
``C``: these tests evaluate it), and each step's textbook result is
`microgrid.backprop`'s (or, for a Value graph, the chain rule summed in
plain floats); a disagreement is shown in every format, never hidden.
The HTML page is tested in a real browser in ``test_walkthrough_page.py``.
"""

from __future__ import annotations

import doctest
import gc
import math
import re
import weakref
from pathlib import Path

import pytest

from microgrid import MLP, Value, backprop, losses, walkthrough
from microgrid.optim import SGD
from microgrid.render import MissingRendererError
from microgrid.walkthrough import COSTS, Walkthrough, explain

X, Y = [0.05, 0.1], [0.01, 0.99]


def book_net(**kwargs: object) -> MLP:
    """The docs' 2-2-2 sigmoid network, weights from N(0, 1) as in the book."""
    return MLP(2, [2, 2], activation="sigmoid", init="normal", seed=0, **kwargs)  # type: ignore[arg-type]


def engine_namespace(net: MLP, x: list[float], y: object, cost: str) -> dict[str, object]:
    """Our own engine pass: the names a step's ``engine_name`` reads."""
    net.zero_grad()
    trace = net.trace(x)
    C = losses.get_loss(cost)(trace.output, y)
    C.backward()
    return {"net": net, "trace": trace, "C": C}


# -- a network ---------------------------------------------------------------------------


def test_the_book_network_walks_forward_cost_bp1_bp2_bp3_bp4_and_the_update() -> None:
    net = book_net()
    walk = explain(net, X, Y, cost="quadratic", lr=0.5)
    assert walk.ok and not walk.disagreements
    sections = [s.section for s in walk.steps]
    # 4 neurons: z and a each; the cost; 4 deltas; 4 bias and 8 weight grads; 12 updates
    assert sections == (["forward"] * 8 + ["cost"] + ["BP1"] * 2 + ["BP2"] * 2
                        + (["BP3"] + ["BP4"] * 2) * 4 + ["update"] * 12)
    assert [s.number for s in walk.steps] == list(range(1, 38))
    names = [s.name.text for s in walk.steps]
    assert names[:9] == ["z²₁", "a²₁", "z²₂", "a²₂", "z³₁", "a³₁", "z³₂", "a³₂", "C"]
    assert names[9:13] == ["δ³₁", "δ³₂", "δ²₁", "δ²₂"]
    assert names[13:16] == ["∂C/∂b³₁", "∂C/∂w³₁₁", "∂C/∂w³₁₂"]


def test_every_number_is_the_engines_read_where_the_step_says() -> None:
    net = book_net()
    walk = explain(net, X, Y, lr=0.5)
    namespace = engine_namespace(net, X, Y, "quadratic")
    after = MLP.from_document(net.to_document())
    for mine, theirs in zip(after.parameters(), net.parameters(), strict=True):
        mine.grad = theirs.grad
    SGD(after.parameters(), lr=0.5).step()
    for step in walk.steps:
        if step.section == "update":
            where, _, how = step.engine_name.partition(" after ")
            assert how == "SGD(lr=0.5).step()"
            assert step.engine == eval(where, {"net": after}), step.engine_name
        else:
            assert step.engine == eval(step.engine_name, namespace), step.engine_name


def test_every_textbook_result_is_microgrid_backprops() -> None:
    net = book_net()
    closed = backprop.backprop(net, X, Y, "quadratic")
    walk = explain(net, X, Y, lr=0.5)
    by_name = {s.name.text: s.textbook for s in walk.steps}
    assert by_name["z³₂"] == closed.z[2][1] and by_name["a²₁"] == closed.a[1][0]
    assert by_name["δ²₂"] == closed.delta[1][1] and by_name["C"] == closed.cost
    assert by_name["∂C/∂b²₁"] == closed.nabla_b[0][0]
    assert by_name["∂C/∂w³₂₁"] == closed.nabla_w[1][1][0]
    new = backprop.update_mini_batch(net, [(X, Y)], 0.5)
    assert math.isclose(by_name["new w³₁₂"], new.weights[1][0][1], rel_tol=1e-15)
    assert math.isclose(by_name["new b²₂"], new.biases[0][1], rel_tol=1e-15)


def test_each_step_shows_the_equation_its_numbers_and_the_result() -> None:
    net = book_net()
    trace = engine_namespace(net, X, Y, "quadratic")["trace"]
    walk = explain(net, X, Y)
    text = {s.name.text: s.text for s in walk.steps}
    w = net.weight(2, 1, 1).data
    assert text["z²₁"].startswith(f"z²₁ = Σₖ w²₁ₖ a¹ₖ + b²₁ = {w:.4g} × 0.05 ")
    a, z = trace.a_of(3, 1).data, trace.z_of(3, 1).data  # type: ignore[attr-defined]
    sigma_prime = trace.a_of(3, 1).local_grads[0]  # type: ignore[attr-defined]
    assert math.isclose(sigma_prime, a * (1 - a), rel_tol=1e-12)  # the engine's σ'(z)
    delta = trace.delta_of(3, 1)  # type: ignore[attr-defined]
    assert text["δ³₁"] == (f"δ³₁ = (a³₁ - y₁) σ'(z³₁) = ({a:.4g} - 0.01) × {sigma_prime:.4g} "
                           f"= {delta:.4g}")
    assert text["a³₁"] == f"a³₁ = σ(z³₁) = σ({z:.4g}) = {a:.4g}"
    assert text["∂C/∂b³₁"] == f"∂C/∂b³₁ = δ³₁ = {delta:.4g}"
    assert re.fullmatch(r"δ²₁ = \(Σₖ w³ₖ₁ δ³ₖ\) σ'\(z²₁\) = \(.+ × .+ [+-] .+ × .+\) × .+ = .+",
                        text["δ²₁"])


def test_the_network_and_its_grads_are_left_as_they_were() -> None:
    net = book_net()
    for i, p in enumerate(net.parameters()):
        p.grad = float(i)
    before = [(p.data, p.grad) for p in net.parameters()]
    explain(net, X, Y, lr=3.0)
    assert [(p.data, p.grad) for p in net.parameters()] == before


# Everything `microgrid bp` supports: its costs with each hidden activation, and the
# output layer it picks; plus the hinge cost (micrograd's, the demo's).
CASES = [(cost, act, backprop.default_output_activation(cost, act))
         for cost in backprop.COSTS for act in ("sigmoid", "tanh", "relu", "linear")]
CASES += [("quadratic", "tanh", "softmax"),
          ("log_likelihood", "sigmoid", "sigmoid"), ("hinge", "relu", "linear"),
          ("hinge", "tanh", "tanh")]


@pytest.mark.parametrize(("cost", "activation", "output"), CASES)
def test_every_cost_and_activation_agrees_with_the_textbook(
    cost: str, activation: str, output: str
) -> None:
    net = MLP(3, [4, 3, 1 if cost == "hinge" else 2], activation=activation,
              output_activation=output, init="normal", seed=7)
    y: object = {"hinge": -1, "log_likelihood": 1}.get(cost, [0.25, 0.75])
    x = [0.3, -0.8, 0.5]
    walk = explain(net, x, y, cost=cost, lr=0.1)
    assert walk.ok, [(s.number, s.text, s.engine) for s in walk.disagreements]
    target = [1.0 if j == y else 0.0 for j in range(2)] if cost == "log_likelihood" else y
    namespace = engine_namespace(net, x, target, cost)
    for step in walk.steps:
        if step.section != "update":
            assert step.engine == eval(step.engine_name, namespace), step.engine_name


def test_bp1_takes_the_books_form_for_each_cost() -> None:
    def bp1(cost: str, output: str, y: object) -> tuple[str, str]:
        net = MLP(2, [2, 2], activation="sigmoid", output_activation=output, seed=1)
        for neuron in net.layers[-1].neurons:  # outputs in (0, 1) whatever the activation
            neuron.b.data = 0.5
        step = next(s for s in explain(net, X, y, cost=cost).steps if s.section == "BP1")
        return step.text, walkthrough._prose_text(step.note)

    text, note = bp1("cross_entropy", "sigmoid", Y)
    assert text.startswith("δ³₁ = a³₁ - y₁ = ") and "the σ' cancels" in note
    text, note = bp1("log_likelihood", "softmax", 0)
    assert text.startswith("δ³₁ = a³₁ - y₁ = ") and "softmax" in note
    text, _ = bp1("quadratic", "sigmoid", Y)
    assert text.startswith("δ³₁ = (a³₁ - y₁) σ'(z³₁) = ")
    text, note = bp1("cross_entropy", "tanh", Y)  # no shortcut: ∂C/∂a times σ'
    assert text.startswith("δ³₁ = (∂C/∂a³₁) σ'(z³₁) = ") and "(a³ⱼ - yⱼ) / (a³ⱼ(1 - a³ⱼ))" in note
    text, note = bp1("quadratic", "softmax", Y)  # a layer-wise activation: a sum
    assert text.startswith("δ³₁ = Σᵢ (∂C/∂a³ᵢ)(∂a³ᵢ/∂z³₁) = ") and "sum over the layer" in note


def test_a_disagreement_is_shown_in_every_format_never_hidden(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    real = backprop.sigma_prime

    def wrong(activation: str, z: float) -> float:  # a textbook with a mistake in σ'
        return real(activation, z) * (1.001 if activation == "sigmoid" else 1.0)

    monkeypatch.setattr(backprop, "sigma_prime", wrong)
    walk = explain(book_net(), X, Y)
    assert not walk.ok
    assert [s.section for s in walk.disagreements][:2] == ["BP1", "BP1"]
    first = walk.disagreements[0]
    assert "DISAGREES with the textbook's" in walk.text()
    assert f"{first.number} of" not in walk.text()  # the summary names the count and first step
    assert f"DISAGREE with the textbook, the first at step {first.number}" in walk.text()
    assert "✗ **DISAGREES**" in walk.markdown()
    page = walk.html()
    assert 'class="step bad"' in page and "DISAGREE" in page


def test_rounding_never_shows_two_different_numbers_as_one() -> None:
    textbook, engine = walkthrough._shown_pair(0.123450000000001, 0.12344999999999, 4)
    assert textbook != engine  # 0.1235 and 0.1234 at 4 digits: shown in full instead
    assert walkthrough._shown_pair(0.5, 0.5 + 1e-17, 4) == ("0.5", "0.5")


def test_only_shows_one_layer_or_one_neurons_steps() -> None:
    net = MLP(2, [3, 2], activation="sigmoid", seed=0)
    layer = explain(net, X, Y, only=2, lr=0.1)
    assert {s.layer for s in layer.steps} == {2} and layer.ok
    assert [s.number for s in layer.steps] == list(range(1, len(layer.steps) + 1))
    assert "only=2" in layer.text()
    neuron = explain(net, X, Y, only=(2, 3), lr=0.1)
    assert {(s.layer, s.neuron) for s in neuron.steps} == {(2, 3)}
    assert [s.name.text for s in neuron.steps] == [
        "z²₃", "a²₃", "δ²₃", "∂C/∂b²₃", "∂C/∂w²₃₁", "∂C/∂w²₃₂", "new w²₃₁", "new w²₃₂",
        "new b²₃"]
    output = explain(net, X, Y, only=3)
    assert "cost" in [s.section for s in output.steps]


@pytest.mark.parametrize(("only", "error", "message"), [
    (1, ValueError, "layer 1 is the input"),
    (4, ValueError, "layers with steps are 2 to 3"),
    ((2, 4), ValueError, "neurons 1 to 3"),
    ((2, 0), ValueError, "numbered from 1"),
    ("2", TypeError, "a layer number l or a neuron"),
    (True, TypeError, "a layer number l or a neuron"),
])
def test_only_refuses_what_is_not_a_layer_or_neuron(
    only: object, error: type[Exception], message: str
) -> None:
    net = MLP(2, [3, 2], activation="sigmoid", seed=0)
    with pytest.raises(error, match=message):
        explain(net, X, Y, only=only)  # type: ignore[arg-type]


def test_more_steps_than_max_steps_says_so_and_offers_only() -> None:
    net = MLP(4, [30, 10], activation="sigmoid", seed=0)
    with pytest.raises(ValueError, match=r"has 581 steps, more than max_steps=300.*only=l "
                       r"\(l from 2 to 3\).*only=\(l, j\)"):
        explain(net, [0.1] * 4, [0.0] * 10)
    assert len(explain(net, [0.1] * 4, [0.0] * 10, only=(2, 5)).steps) == 8
    assert len(explain(net, [0.1] * 4, [0.0] * 10, max_steps=None).steps) == 581
    with pytest.raises(ValueError, match="explain: max_steps must be an int >= 1, got 0"):
        explain(net, [0.1] * 4, [0.0] * 10, max_steps=0)


@pytest.mark.parametrize(("x", "y", "kwargs", "error", "message"), [
    ([[0.1, 0.2], [0.3, 0.4]], Y, {}, ValueError, "holds 2 examples.*one at a time"),
    ([0.1, 0.2, 0.3], Y, {}, ValueError, "x has 3 numbers; the network takes 2"),
    ([0.1, math.nan], Y, {}, ValueError, "x_2 is nan"),
    ([0.1, "a"], Y, {}, TypeError, "x_2 is str"),
    ("ab", Y, {}, TypeError, "x must be a list"),
    (X, [1.0], {}, ValueError, "y has 1 entries; the network has 2 outputs"),
    (X, Y, {"cost": "hinge"}, ValueError, "hinge cost needs one output"),
    (X, Y, {"cost": "mse"}, ValueError, "unknown cost 'mse'"),
    (X, 5, {"cost": "log_likelihood"}, ValueError, "class index y=5 out of range"),
    (X, Y, {"lr": -1.0}, ValueError, r"explain: lr must be a finite number > 0, got -1\.0"),
    (X, Y, {"lr": "0.1"}, TypeError, "explain: lr must be a real number, got str"),
    (X, Y, {"precision": 0}, ValueError, "explain: precision must be an int >= 1, got 0"),
    (X, Y, {"precision": 4.0}, TypeError, "explain: precision must be an int, got float"),
    (X, Y, {"rtol": "0"}, TypeError, "explain: rtol must be a real number, got str"),
    (X, Y, {"cost": 3}, TypeError, "explain: cost must be a str"),
])
def test_bad_arguments_get_clear_errors(
    x: object, y: object, kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        explain(book_net(), x, y, **kwargs)  # type: ignore[arg-type]


def test_the_hinge_cost_needs_a_label_of_minus_or_plus_one() -> None:
    net = MLP(2, [3, 1], seed=0)
    with pytest.raises(ValueError, match=r"y = -1 or \+1, got 0"):
        explain(net, X, 0, cost="hinge")
    assert explain(net, X, [1], cost="hinge").ok


def test_explain_needs_a_network_with_an_example_or_a_value() -> None:
    with pytest.raises(TypeError, match="needs an example"):
        explain(book_net())
    with pytest.raises(TypeError, match=r"expected an MLP .* or a Value, got list"):
        explain([1.0])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="x, y, cost and lr belong to explain"):
        explain(Value(1.0), lr=0.1)


def test_costs_are_the_textbooks_and_the_hinge() -> None:
    assert COSTS == ("quadratic", "cross_entropy", "log_likelihood", "hinge")


# -- any Value graph ----------------------------------------------------------------------


def readme_neuron() -> Value:
    """micrograd's README neuron, labelled as micrograd labels it."""
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    x1w1 = x1 * w1
    x1w1.label = "x1w1"
    x2w2 = x2 * w2
    x2w2.label = "x2w2"
    s = x1w1 + x2w2
    s.label = "x1w1x2w2"
    n = s + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    return o


def test_a_graph_walks_in_reverse_topological_order_with_the_chain_rules_terms() -> None:
    o = readme_neuron()
    walk = explain(o)
    assert walk.ok
    assert [s.name.text for s in walk.steps] == [
        "o.grad", "n.grad", "b.grad", "x1w1x2w2.grad", "x2w2.grad", "w2.grad", "x2.grad",
        "x1w1.grad", "w1.grad", "x1.grad"]
    text = {s.name.text: s for s in walk.steps}
    assert text["o.grad"].text == "o.grad = ∂o/∂o = 1"
    assert text["n.grad"].text == "n.grad = ∂o/∂n · o.grad = 0.5 × 1 = 0.5"
    assert "∂o/∂n = 1 - o²" in walkthrough._prose_text(text["n.grad"].note)
    assert text["x1.grad"].text == "x1.grad = ∂x1w1/∂x1 · x1w1.grad = (-3) × 0.5 = -1.5"
    assert "x1w1 = x1 × w1" in walkthrough._prose_text(text["x1w1.grad"].note)


def test_a_graphs_local_derivatives_are_written_from_the_values_grad_builds() -> None:
    """Each formula is the op's derivative as a Value (`local_derivatives`, from the op
    table), written in the graph's names; a kinked op's constant says its side."""
    from microgrid import linear, logsumexp

    x, y = Value(2.0, label="x"), Value(3.0, label="y")
    parts = {"p": x**y, "q": x / y, "r": x * 2.0, "s": x.relu(), "t": (-x).abs(),
             "u": logsumexp([x, y]), "v": linear([x], [y], 1.0), "w": x.sigmoid(),
             "z": 1.0 / y}
    for name, node in parts.items():
        node.label = name
    out = sum(parts.values(), Value(0.0))
    out.label = "out"
    steps = {s.name.text: walkthrough._prose_text(s.note) for s in explain(out).steps}
    for formula in ("∂p/∂x = y x^(y - 1)", "∂p/∂y = p ln x", "∂q/∂x = 1/y", "∂q/∂y = -q/y",
                    "∂r/∂x = 2", "∂s/∂x = 1 (x > 0)", "∂u/∂x = e^(x - u)", "∂v/∂x = y",
                    "∂v/∂y = x", "∂w/∂x = w (1 - w)", "∂z/∂y = -z/y"):
        assert any(formula in note for note in steps.values()), formula
    assert any(re.search(r"∂t/∂v\d+ = -1 \(v\d+ < 0\)", note)  # abs(-x): -1 on its side
               for note in steps.values())
    markdown = explain(out).markdown()
    assert r"y\,x^{y - 1}" in markdown and r"e^{x - u}" in markdown


def test_a_graphs_numbers_are_the_engines_and_the_sums_are_computed_apart() -> None:
    a = Value(3.0, label="a")
    c = a * a + a * 2.0 - 1.0 / a
    c.label = "c"
    walk = explain(c)
    c.backward()
    by_name = {s.name.text: s for s in walk.steps}
    step = by_name["a.grad"]
    assert step.engine == a.grad == 2 * 3.0 + 2.0 + 1 / 9.0
    assert step.textbook == math.fsum([3.0, 3.0, 2.0, 1 / 9.0])
    assert step.text.count("∂v1/∂a · v1.grad") == 2  # a * a: both uses count


def test_a_graph_disagreement_is_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    o = readme_neuron()
    real = Value.backward

    def off_by_a_little(self: Value, grad: float = 1.0) -> None:
        real(self, grad)
        x1 = next(v for v in walkthrough.topological_order(self) if v.label == "x1")
        x1.grad += 1e-6  # an engine that gets one leaf wrong

    monkeypatch.setattr(Value, "backward", off_by_a_little)
    walk = explain(o)
    assert [s.name.text for s in walk.disagreements] == ["x1.grad"]
    assert "DISAGREES with the textbook's -1.5" in walk.text()


def test_a_graphs_leaf_grads_are_left_as_they_were() -> None:
    o = readme_neuron()
    o.backward()
    o.backward()  # leaves accumulate: twice one pass
    before = {v.label: v.grad for v in walkthrough.topological_order(o) if not v.parents}
    walk = explain(o)
    assert {v.label: v.grad for v in walkthrough.topological_order(o) if not v.parents} == before
    assert {s.name.text: s.engine for s in walk.steps}["x1.grad"] * 2 == before["x1"]


def test_only_a_node_shows_its_paths_to_the_root() -> None:
    o = readme_neuron()
    walk = explain(o, only="w1")
    assert [s.name.text for s in walk.steps] == ["o.grad", "n.grad", "x1w1x2w2.grad",
                                                 "x1w1.grad", "w1.grad"]
    nodes = {v.label: v for v in walkthrough.topological_order(o)}
    assert [s.name.text for s in explain(o, only=nodes["n"]).steps] == ["o.grad", "n.grad"]
    with pytest.raises(ValueError, match="0 nodes have that label"):
        explain(o, only="nope")
    with pytest.raises(ValueError, match="not in the graph"):
        explain(o, only=Value(1.0))
    with pytest.raises(TypeError, match="a Value or its label"):
        explain(o, only=3)


def test_a_big_graph_says_so_and_offers_only() -> None:
    x = Value(0.5, label="x")
    y = x
    for _ in range(400):
        y = y * 1.001
    with pytest.raises(ValueError, match=r"401 steps.*only=node"):
        explain(y)
    assert len(explain(y, max_steps=None).steps) == 401


def test_unlabelled_nodes_are_named_by_their_place_and_any_label_is_valid_latex() -> None:
    x = Value(2.0, label="weird {label}_$ & ^")
    y = (x * x).exp()
    walk = explain(y)
    assert walk.steps[0].name.text == "v2.grad"
    latex = walk.steps[-1].name.latex
    assert latex.startswith(r"\mathtt{weird\ \{label\}\_\$\ \&\ \hat{}}")
    assert_balanced(walk.markdown())


def test_a_networks_cost_graph_is_named_in_the_books_notation() -> None:
    net = MLP(2, [2, 1], activation="tanh", seed=0)  # a linear output: z^3_1 = a^3_1
    trace = net.trace(X)
    C = losses.quadratic(trace.output, [0.5])
    C.label = "C"
    walk = explain(C)
    assert walk.ok
    names = [s.name.text for s in walk.steps]
    assert "z³₁ = a³₁.grad" in names and "w²₁₂.grad" in names and "a¹₂.grad" in names
    by_name = {s.name.text: s for s in walk.steps}
    assert by_name["z²₁.grad"].engine == trace.delta_of(2, 1)  # BP2, by the chain rule
    assert r"z^{3}_{1} = a^{3}_{1}" in walk.markdown()
    assert_balanced(walk.markdown())


# -- the three ways to read it --------------------------------------------------------------


def assert_balanced(markdown: str) -> None:
    """Display math in $$ pairs on lines of their own, inline $ paired, braces balanced."""
    for line in markdown.splitlines():
        if line.startswith("$$"):
            assert line.endswith("$$") and len(line) > 4, line
            math_text = line[2:-2]
        else:
            unescaped = re.sub(r"\\\$|`[^`]*`", "", line)  # code spans hold no math
            assert unescaped.count("$") % 2 == 0, line
            math_text = "".join(unescaped.split("$")[1::2])
        body = re.sub(r"\\[{}]", "", math_text)
        depth = 0
        for c in body:
            depth += {"{": 1, "}": -1}.get(c, 0)
            assert depth >= 0, line
        assert depth == 0, line


def test_markdown_has_a_heading_per_part_and_display_math_per_step() -> None:
    walk = explain(book_net(), X, Y, lr=0.5)
    md = walk.markdown()
    assert md.startswith("# Backprop, step by step: an MLP \\[2, 2, 2\\]")
    headings = re.findall(r"^## (.*)$", md, flags=re.MULTILINE)
    assert headings == [
        "The forward pass, layer 2", "The forward pass, layer 3", "The cost",
        "BP1: the output layer's error (layer 3)", "BP2: layer 2's error, from layer 3's",
        "BP3 and BP4: layer 3's gradients", "BP3 and BP4: layer 2's gradients",
        "Gradient descent: the new parameters"]
    assert md.count("\n$$") == len(walk.steps)
    assert r"$$\delta^{3}_{1} = (a^{3}_{1} - y_{1})\, \sigma'(z^{3}_{1}) = " in md
    assert_balanced(md)
    assert walk.markdown(level=2).startswith("## ")
    with pytest.raises(ValueError, match=r"level must be an int from 1 to 5 \(a heading level\)"):
        walk.markdown(level=0)
    with pytest.raises(TypeError, match="markdown: level must be an int, got str"):
        walk.markdown(level="2")  # type: ignore[arg-type]


def test_text_has_a_line_per_step_and_its_verdict() -> None:
    walk = explain(book_net(), X, Y)
    text = str(walk)
    assert text.splitlines()[0] == walk.title
    assert "  10. δ³₁ = (a³₁ - y₁) σ'(z³₁) = " in text
    assert "engine: trace.z_of(3, 1).grad = " in text
    assert text.rstrip().endswith("All 25 steps agree: the engine's numbers are the "
                                  "textbook's, to rounding.")
    assert repr(walk).endswith("25 steps, all agree>")


def test_the_html_page_is_one_file_that_fetches_nothing() -> None:
    walk = explain(book_net(), X, Y, lr=0.5)
    page = walk.html()
    assert page.startswith("<!DOCTYPE html>")
    assert "http:" not in page and "https:" not in page
    assert not re.search(r"""(src|href|url)\s*[=(]\s*["']?//""", page)
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", page)
    if walk.drawing is not None and walk._svg()[0] is not None:
        assert page.count("<svg") == 1 and "<?xml" not in page and "<!--" not in page
    for step in walk.steps:
        assert f'id="step-{step.number}"' in page


def test_the_html_page_says_why_there_is_no_drawing(monkeypatch: pytest.MonkeyPatch) -> None:
    walk = explain(book_net(), X, Y)
    assert walk.drawing is not None

    def no_renderer(*args: object, **kwargs: object) -> str:
        raise MissingRendererError("no renderer here: install the graph extra")

    monkeypatch.setattr(type(walk.drawing), "svg", no_renderer)
    page = walk.html()
    assert "<svg" not in page and "no renderer here" in page and 'id="step-25"' in page


def test_save_picks_the_format_by_suffix(tmp_path: Path) -> None:
    walk = explain(book_net(), X, Y)
    assert walk.save(tmp_path / "w.md").read_text(encoding="utf-8") == walk.markdown()
    assert walk.save(tmp_path / "w.txt").read_text(encoding="utf-8") == walk.text()
    assert walk.save(tmp_path / "w.html").read_text(encoding="utf-8").startswith("<!DOCTYPE")
    with pytest.raises(ValueError, match=r"use \.html, \.md or \.txt"):
        walk.save(tmp_path / "w.pdf")


def test_jupyter_shows_the_page_in_a_frame_and_the_markdown() -> None:
    walk = explain(readme_neuron())
    assert walk._repr_markdown_() == walk.markdown()
    frame = walk._repr_html_()
    assert frame.startswith('<iframe srcdoc="&lt;!DOCTYPE html&gt;')


def test_a_walkthrough_holds_no_reference_cycle() -> None:
    gc.collect()
    gc.disable()
    try:
        walk = explain(book_net(), X, Y, lr=0.5)
        graph = explain(readme_neuron())
        refs = [weakref.ref(walk), weakref.ref(graph), weakref.ref(walk.steps[0])]
        del walk, graph
        assert all(r() is None for r in refs)
    finally:
        gc.enable()


def test_the_module_docstring_examples_run() -> None:
    assert doctest.testmod(walkthrough).failed == 0


def test_walkthrough_is_exported() -> None:
    import microgrid

    assert microgrid.explain is explain and isinstance(explain(readme_neuron()), Walkthrough)


# -- microgrid explain ------------------------------------------------------------------------


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from microgrid.cli import main

    status = main(["explain", *args])
    out, err = capsys.readouterr()
    return status, out, err


def test_cli_offers_exactly_the_librarys_names() -> None:
    """The choices are read from the modules that define them (one vocabulary)."""
    import argparse

    from microgrid import nn
    from microgrid.cli import build_parser

    commands = next(a for a in build_parser()._actions
                    if isinstance(a, argparse._SubParsersAction))
    choices = {a.dest: tuple(a.choices) for a in commands.choices["explain"]._actions
               if a.choices is not None}
    assert choices == {"activation": nn.HIDDEN_ACTIVATIONS, "output_activation": nn.ACTIVATIONS,
                       "cost": COSTS, "init": nn.INITS, "format": ("text", "markdown", "html")}


def test_cli_reproduces_a_worked_example_from_a_model_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "M.json"
    book_net().save(model)
    status, out, err = run_cli(
        ["--sizes", "2,2,2", "--activation", "sigmoid", "--cost", "quadratic", "--model",
         str(model), "--x", "0.05,0.1", "--y", "0.01,0.99", "--lr", "0.5", "--format",
         "markdown"], capsys)
    assert status == 0 and err == ""
    walk = explain(MLP.load(model), X, Y, lr=0.5)
    assert out == walk.markdown()
    # every forward value, delta, gradient and updated parameter, each the engine's
    assert [s.section for s in walk.steps].count("update") == 12
    for step in walk.steps:
        assert f"= {format(step.engine + 0.0, '.4g')} ✓" in out


def test_cli_writes_one_html_file_that_refers_to_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "page.html"
    status, out, _ = run_cli(["--sizes", "2,3,2", "--seed", "3", "--lr", "1", "--format",
                              "html", "-o", str(page)], capsys)
    assert status == 0
    assert out == f"wrote {page} (html, 50 steps, all agree)\n"
    text = page.read_text(encoding="utf-8")
    assert "http://" not in text and "https://" not in text
    assert not re.search(r"""(src|href)\s*=\s*["']?//""", text)


def test_cli_picks_the_format_from_the_suffix_and_shows_a_part(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, _ = run_cli(["--only", "3,1", "-o", str(tmp_path / "w.md")], capsys)
    assert status == 0
    text = (tmp_path / "w.md").read_text(encoding="utf-8")
    assert text.startswith("# Backprop, step by step") and "neuron 1 of layer 3" in text
    status, out, _ = run_cli(["--cost", "hinge", "--sizes", "2,3,1", "--activation", "relu",
                              "--y", "-1"], capsys)
    assert status == 0 and "C = max(0, 1 - y a³₁)" in out


def test_cli_exits_1_when_a_step_disagrees(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = backprop.sigma_prime
    monkeypatch.setattr(backprop, "sigma_prime", lambda act, z: real(act, z) * 1.01)
    status, out, err = run_cli([], capsys)
    assert status == 1
    assert "DISAGREES" in out
    assert re.match(r"microgrid explain: error: 16 of 25 steps disagree with the textbook; the "
                    r"first is step 10: δ³₁ = ", err)


@pytest.mark.parametrize(("args", "message"), [
    (["--sizes", "2,3,2"], "--sizes 2,3,2 does not match the model file .*, whose is 2,2,2"),
    (["--activation", "relu"], "--activation relu does not match the model file"),
    (["--init", "he"], "give one or the other"),
    (["--x", "1,2,3"], "--x has 3 numbers; the network's input layer has 2 neurons"),
    (["--y", "1"], "--y has 1 numbers; the network's output layer has 2 neurons"),
    (["--only", "4"], "layers with steps are 2 to 3"),
    (["--cost", "hinge"], "the hinge cost needs one output"),
])
def test_cli_bad_arguments_exit_2_with_a_message(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "M.json"
    book_net().save(model)
    status, out, err = run_cli(["--model", str(model), *args], capsys)
    assert status == 2 and out == ""
    assert re.search(message, err), err


def test_cli_bad_files_and_big_networks_exit_2_and_unwritable_output_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    status, _, err = run_cli(["--model", str(bad)], capsys)
    assert status == 2 and "--model: " in err and "not valid JSON" in err
    status, _, err = run_cli(["--model", str(tmp_path / "missing.json")], capsys)
    assert status == 2 and "--model: " in err
    status, _, err = run_cli(["--sizes", "8,30,10"], capsys)
    assert status == 2 and "--only L or --only L,J, or --max-steps N" in err
    status, _, err = run_cli(["-o", str(tmp_path / "no" / "such" / "folder" / "w.txt")], capsys)
    assert status == 1 and "microgrid explain: error: " in err
    with pytest.raises(SystemExit) as exit_info:
        run_cli(["--only", "a,b"], capsys)
    assert exit_info.value.code == 2


# -- the docs page "Backprop, step by step" ----------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "walkthrough.md"


def test_the_docs_page_holds_the_worked_example_the_library_writes() -> None:
    """docs/walkthrough.md's example is explain()'s Markdown, unchanged (regenerate it with
    python scripts/make_walkthrough_docs.py)."""
    page = PAGE.read_text(encoding="utf-8")
    begin, end = "<!-- walkthrough:begin -->\n", "<!-- walkthrough:end -->"
    embedded = page[page.index(begin) + len(begin):page.index(end)]
    net = MLP.load(ROOT / "docs" / "walkthrough-2-2-2.json")
    walk = explain(net, X, Y, cost="quadratic", lr=0.5)
    assert embedded == walk.markdown(level=2) + "\n"
    assert walk.ok and net.sizes == [2, 2, 2] and net.activation == "sigmoid"
    # the published example's numbers: total error and the new w5 (our w³₁₁)
    by_name = {s.name.text: s.engine for s in walk.steps}
    assert round(by_name["C"], 9) == 0.298371109 and round(by_name["new w³₁₁"], 8) == 0.35891648
    assert_balanced(page[page.index(begin):])


def test_the_docs_pages_examples_print_what_the_page_shows(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # the page loads docs/walkthrough-2-2-2.json
    result = doctest.testfile(str(PAGE), module_relative=False)
    assert result.failed == 0 and result.attempted >= 10


def test_the_docs_pages_picture_exists() -> None:
    picture = ROOT / "docs" / "img" / "walkthrough" / "page.png"
    assert picture.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "(img/walkthrough/page.png)" in PAGE.read_text(encoding="utf-8")
