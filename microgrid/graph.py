"""Drawings of gradient graphs and networks: DOT text, SVG, image files, Jupyter.

`draw(root)` draws the computation graph behind a `Value`: a box per value
(its name, ``data`` and ``grad``) and a small oval per operation, edges in
the direction data flows, left to right. `draw_network(net, trace)` draws a
network as the textbook does: layers of neurons, an edge per weight.

Both return a `Drawing`: ``.source`` is the DOT text (always available, no
extra needed), ``.svg()`` renders it, ``.save(path)`` writes ``.svg``,
``.png``, ``.pdf``, ``.dot`` or ``.gv`` by the suffix, and Jupyter shows it
inline. Rendering uses Graphviz's ``dot`` program when installed and
otherwise an in-process Graphviz (see `microgrid.render`).

The DOT text is deterministic: nodes are named by their position in the
engine's topological order (``v0``, ``v1``, ... and ``o3`` for the operation
that made ``v3``), so the same graph always gives byte-identical text.

    >>> from microgrid import Value
    >>> x, y = Value(2.0, label="x"), Value(-3.0, label="y")
    >>> out = (x * y).tanh()
    >>> out.backward()
    >>> d = draw(out)
    >>> d.node_count          # 4 values and 2 operations
    6
    >>> print(d.source.splitlines()[0])
    digraph microgrid {
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from microgrid._checks import integer
from microgrid._files import check_writable, write_atomically
from microgrid.engine import OPS, Value, topological_order
from microgrid.nn import MLP, Trace
from microgrid.render import (
    DEFAULT_TIMEOUT,
    FORMATS,
    MissingRendererError,
    Renderer,
    RenderError,
    render,
)

__all__ = ["DEFAULT_MAX_NODES", "Drawing", "draw", "draw_network"]

DEFAULT_MAX_NODES = 5_000
"""Drawings with more nodes than this (or more than 3 edges a node) are not rendered
unless you raise ``max_nodes``.

Layout time grows faster than the size: about 3 s for 5,000 nodes in
process and 10 s with Graphviz 2.43's ``dot``, and with the edges too: a
dense drawing of 810 nodes and 10,900 edges takes 2.5 s and 7 s, one with
26,400 edges 11 s and 95 s (measured by ``scripts/make_doc_images.py
--timings``).
"""

_EDGES_PER_NODE = 3
"""A drawing under ``max_nodes`` has at most this many edges per allowed node."""

_FONT = "Courier"  # the in-process Graphviz knows its metrics; any monospace matches them


class Drawing:
    """A drawing: its DOT text, rendered to SVG and image files on demand.

    Attributes:
        source: the DOT text (deterministic; ``save("x.dot")`` writes it).
        node_count: the number of drawn values and operations (legend and
            references to values drawn elsewhere excluded).
        edge_count: the number of drawn edges (the legend's excluded).
        max_nodes: the largest ``node_count`` that `svg` and `save` render,
            with at most 3 edges a node (``3 * max_nodes``); raise it to
            render bigger drawings (layout time grows quickly).
    """

    __slots__ = ("_svg", "edge_count", "max_nodes", "node_count", "source")

    def __init__(
        self, source: str, node_count: int, max_nodes: int = DEFAULT_MAX_NODES,
        edge_count: int = 0,
    ) -> None:
        self.source = source
        self.node_count = node_count
        self.edge_count = edge_count
        self.max_nodes = _check_max_nodes(max_nodes)
        self._svg: dict[str, str] = {}

    def __repr__(self) -> str:
        return (f"<Drawing: {self.node_count} nodes, {self.edge_count} edges, "
                f"{len(self.source)} characters of DOT>")

    def render(
        self,
        format: str = "svg",
        *,
        renderer: Renderer = "auto",
        timeout: float | None = DEFAULT_TIMEOUT,
    ) -> bytes:
        """The drawing as ``"svg"``, ``"png"`` or ``"pdf"`` bytes.

        ``renderer``: ``"auto"`` (Graphviz's ``dot`` program if installed,
        else in-process), ``"dot"`` or ``"wasm"``; ``timeout`` in seconds
        (default 60, ``None`` for no limit; Ctrl-C also stops a long
        layout). Raises ValueError above `max_nodes`, `MissingRendererError`
        (an ImportError) naming what to install, `RenderError` if Graphviz
        fails or time runs out (`RenderTimeoutError`).
        """
        needed = max(self.node_count, math.ceil(self.edge_count / _EDGES_PER_NODE))
        if needed > self.max_nodes:
            raise ValueError(
                f"this drawing has {self.node_count} nodes and {self.edge_count} edges, more "
                f"than max_nodes={self.max_nodes} allows ({self.max_nodes} nodes, "
                f"{_EDGES_PER_NODE * self.max_nodes} edges; layout time grows quickly with "
                f"size); to render it anyway pass max_nodes={needed} to draw()/draw_network() "
                f"or set drawing.max_nodes = {needed}, or save it as .dot (no limit)"
            )
        return render(self.source, format, renderer=renderer, timeout=timeout)

    def svg(
        self, *, renderer: Renderer = "auto", timeout: float | None = DEFAULT_TIMEOUT
    ) -> str:
        """The drawing as SVG text (rendered once, then remembered); options as `render`."""
        if renderer not in self._svg:
            svg = self.render("svg", renderer=renderer, timeout=timeout)
            self._svg[renderer] = svg.decode("utf-8")
        return self._svg[renderer]

    def save(
        self,
        path: str | os.PathLike[str],
        *,
        renderer: Renderer = "auto",
        timeout: float | None = DEFAULT_TIMEOUT,
    ) -> Path:
        """Write the drawing to ``path``; the suffix picks the format; returns the path.

        ``.svg``, ``.png``, ``.pdf``, or ``.dot``/``.gv`` for the DOT text
        (options as `render`). The file is replaced only once the drawing
        has rendered, and atomically (a temporary file renamed over it), so
        a failed render or a killed process never truncates an existing
        file. A read-only file is refused (PermissionError), as ``cp`` does.

            >>> from microgrid import Value
            >>> import tempfile, pathlib
            >>> d = draw(Value(1.0, label="x") * 2)
            >>> with tempfile.TemporaryDirectory() as folder:
            ...     d.save(pathlib.Path(folder) / "graph.dot").read_text()[:7]
            'digraph'
        """
        target = Path(path)
        check_writable(target)  # before a render that may take seconds
        suffix = target.suffix.lower().lstrip(".")
        if suffix in ("dot", "gv"):
            data = self.source.encode("utf-8")
        elif suffix == "svg":
            data = self.svg(renderer=renderer, timeout=timeout).encode("utf-8")
        elif suffix in FORMATS:
            data = self.render(suffix, renderer=renderer, timeout=timeout)
        else:
            raise ValueError(
                f"save: cannot tell the format of {str(target)!r} from its suffix; "
                "use .svg, .png, .pdf, .dot or .gv"
            )
        return write_atomically(target, data)

    def to_graphviz(self) -> Any:
        """The drawing as a ``graphviz.Source`` (the ``graphviz`` package) of the same DOT.

        For code written for that package (micrograd's and torchviz's drawings
        are its objects): ``.render()``, ``.pipe()``, ``.view()`` and Jupyter's
        display work as they do there, through the system Graphviz ``dot``
        program, which that package needs. ``.source`` is exactly `source`.
        Raises `MissingRendererError` (an ImportError) naming the extra when
        the package is not installed.

            >>> from microgrid import Value
            >>> d = draw(Value(1.0, label="x") * 2)
            >>> d.to_graphviz().source == d.source
            True
        """
        try:
            import graphviz
        except ImportError:
            raise MissingRendererError(
                'to_graphviz needs the graphviz package: pip install "microgrid-autodiff[graph]" '
                "(or pip install graphviz); the DOT text is always in .source"
            ) from None
        return graphviz.Source(self.source)

    # -- Jupyter ----------------------------------------------------------------

    def _repr_svg_(self) -> str | None:
        svg, _ = self._display()
        return svg

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None
    ) -> dict[str, str]:
        svg, problem = self._display()
        if svg is not None:
            return {"image/svg+xml": svg, "text/plain": repr(self)}
        return {"text/plain": f"{self!r}\n(not rendered: {problem})"}

    def _display(self) -> tuple[str | None, str | None]:
        """The SVG for inline display, or why there is none (never raises)."""
        try:
            return self.svg(), None
        except (ValueError, MissingRendererError, RenderError) as e:
            return None, str(e)


def _check_max_nodes(max_nodes: object) -> int:
    return integer(max_nodes, "max_nodes", at_least=1)


# -- the computation graph ------------------------------------------------------

# Fill and border colours (and extra style) of each kind of value node.
_STYLES: dict[str, tuple[str, str, str]] = {
    "parameter": ("#dbeafe", "#1d4ed8", ""),
    "input": ("#dcfce7", "#15803d", ""),
    "constant": ("#f3f4f6", "#6b7280", "dashed"),
    "value": ("#ffffff", "#111827", ""),
    "root": ("#fef3c7", "#b45309", "bold"),
    "non-finite": ("#fee2e2", "#dc2626", "bold"),
}
_LEGEND_TEXT = {
    "parameter": "parameter",
    "input": "input",
    "constant": "constant leaf",
    "value": "computed value",
    "root": "output (root)",
    "non-finite": "inf or nan",
}
_GRAD_COLOUR = (0xF9, 0x73, 0x16)  # orange at the largest |grad|, white at 0


def draw(
    root: Value,
    *,
    net: MLP | None = None,
    trace: Trace | None = None,
    params: Iterable[Value] | None = None,
    inputs: Iterable[Value] | None = None,
    show_grad: bool = True,
    show_params: bool = True,
    precision: int = 4,
    number_format: str | None = None,
    color_by_grad: bool = False,
    title: str | None = None,
    rankdir: str = "LR",
    legend: bool = True,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> Drawing:
    """Draw the computation graph that produced ``root``.

    Each value is a box showing its name, ``data`` and (``show_grad``)
    ``grad``; each operation is an oval between its inputs and its result,
    with its inputs' edges in order (a ``linear`` node, drawn as
    ``Σ w·a + b``: the weights, then the inputs, then the bias). Constants
    are not nodes in the engine; an operation shows its own (``× 2``,
    ``4 -``, ``^0.5``, ``Σ w·a - 1``), as every node keeps its operands. A
    value read more than 4 operations after its box is drawn again beside
    that reader, small and dashed (a reference): no edge crosses more than 8
    ranks, which keeps Graphviz's layout fast.

    Leaves are styled as parameters (``params``, default
    ``net.parameters()``), inputs (``inputs``, default ``trace.a[0]``; when
    neither is known, every labelled leaf) or constants (the other leaves);
    the root and values that are inf or nan stand out; a legend explains.

    With ``net`` and/or ``trace`` (from ``net.trace(x)``) values are named in
    the book's notation, neurons counted from 1 (``w²₂₁``, the weight from
    neuron 1 of layer 1 to neuron 2 of layer 2; ``b²₁``, ``z²₁``, ``a²₁``),
    and ``z`` nodes show ``δ = ∂C/∂z``. Labels written ``w^2_21`` (as `MLP`
    labels its parameters) are shown that way anyway.

    ``show_params=False`` leaves the parameters out (an MLP's weights and
    biases are most of its graph: 337 of the 477 nodes of one example's
    cost through ``[2, 16, 16, 1]``); each operation that reads some says
    how many (``Σ w·a + b`` / ``17 parameters``). It needs ``params`` or
    ``net``, which say what the parameters are.

    Options: ``precision`` (significant digits) or ``number_format`` (any
    format spec, e.g. ``".3f"``), ``color_by_grad`` (fill shade grows with
    ``|grad|``), ``title``, ``rankdir`` (``"LR"``, ``"TB"``, ...),
    ``legend``, ``max_nodes`` (see `Drawing`).

        >>> from microgrid import Value
        >>> a = Value(3.0, label="a")
        >>> c = a * a
        >>> c.backward()
        >>> print(draw(c, legend=False).source)  # doctest: +ELLIPSIS
        digraph microgrid {
        ...
          v0 [shape="record", label="a|data = 3|grad = 6", style="filled", ...];
          v1 [shape="record", label="data = 9|grad = 1", style="filled,bold", ...];
          o1 [label="×"];
          v0 -> o1;
          v0 -> o1;
          o1 -> v1;
        }
        <BLANKLINE>
    """
    if not isinstance(root, Value):
        raise TypeError(f"draw: root must be a Value, got {type(root).__name__}")
    fmt = _number_formatter(precision, number_format)
    rankdir = _check_rankdir(rankdir)
    names, z_nodes = _book_names(net, trace)
    leaves = _Leaves(root, net, trace, params, inputs, show_params)
    order = topological_order(root)
    index = {node: i for i, node in enumerate(order)}
    max_grad = max((abs(v.grad) for v in order if v not in leaves.hidden
                    and math.isfinite(v.grad)), default=0.0)
    lines = _header(
        title, {"rankdir": rankdir, "fontname": _FONT, "nodesep": "0.25", "ranksep": "0.35"},
        {"fontname": _FONT, "fontsize": "12", "margin": "0.06,0.03", "shape": "ellipse",
         "style": "filled", "fillcolor": "#f3f4f6", "color": "#9ca3af", "height": "0.3",
         "ordering": "in"},  # ordering: an operation's inputs in their order
        {"fontname": _FONT, "color": "#4b5563", "arrowsize": "0.6"})
    edges: list[str] = []
    kinds_seen: set[str] = set()
    ranks = _ranks_before_root(order, index)
    short: dict[int, tuple[str, str]] = {}  # each drawn value's first field and border
    references: set[str] = set()
    for i, node in enumerate(order):
        if node in leaves.hidden:
            continue
        kind = leaves.kind(node)
        style_kind = kind if math.isfinite(node.data) and math.isfinite(node.grad) else "non-finite"
        style_kind = "root" if node is root and style_kind != "non-finite" else style_kind
        kinds_seen.add(style_kind)
        name = names.get(node) or _pretty_label(node.label)
        fields = [name, f"data = {fmt(node.data)}"] if name else [f"data = {fmt(node.data)}"]
        if show_grad:
            fields.append(f"{'δ' if node in z_nodes else 'grad'} = {fmt(node.grad)}")
        fill = _grad_fill(node.grad, max_grad) if color_by_grad and math.isfinite(node.grad) \
            else None
        lines.append(f"  v{i} {_value_box(fields, kind, style_kind, fill, rankdir)};")
        short[i] = (fields[0], _STYLES[style_kind][1])
        if node.parents:
            lines.append(f"  o{i} {_attributes({'label': _op_label(node, leaves.hidden, fmt)})};")
            edges.extend(_edge(index[p], i, ranks, short, references, lines)
                         for p in node.parents if p not in leaves.hidden)
            edges.append(f"  o{i} -> v{i};")
    lines += edges
    if legend:
        lines += _legend(kinds_seen, max_grad if color_by_grad else None, fmt,
                         f"v{len(order) - 1}", rankdir, operations=bool(root.parents),
                         references=bool(references))
    lines.append("}")
    node_count = len(order) - len(leaves.hidden.intersection(order)) + sum(
        1 for v in order if v.parents)
    return Drawing("\n".join(lines) + "\n", node_count, max_nodes, len(edges))


_MAX_EDGE_RANKS = 8
"""The most ranks (4 operations) an edge crosses; a reader farther away gets a reference.

Graphviz's dot turns an edge across n ranks into a chain of n - 1 hidden
nodes and places them all, with a network simplex whose work grows much
faster than their number. One value read all along a chain (``x`` in
``x*0 + x*1 + ... + x*99``, or in ``y = y*0.5 + x`` repeated) made
about n^2/2 of them: 20,000 hidden nodes for 400 drawn ones, and minutes
of layout. Drawn again beside each far reader, a value costs one node
there, so a drawing has at most 7 hidden nodes per edge.
"""


def _edge(
    j: int, i: int, ranks: list[int], short: dict[int, tuple[str, str]], references: set[str],
    lines: list[str],
) -> str:
    """The edge from value ``j`` into operation ``i``: from its box, or, if that is far
    (see `_MAX_EDGE_RANKS`), from a reference drawn beside the operation (added to
    ``lines`` the first time)."""
    if ranks[j] - (ranks[i] + 1) <= _MAX_EDGE_RANKS:
        return f"  v{j} -> o{i};"
    reference = f"r{j}_{i}"
    if reference not in references:
        references.add(reference)
        lines.append(f"  {reference} {_reference_attributes(*short[j])};")
    return f"  {reference} -> o{i};"


def _ranks_before_root(order: list[Value], index: dict[Value, int]) -> list[int]:
    """For each value, how many ranks before the root it sits, each as late as it can.

    The root is at 0, an operation one rank before its result, and a value
    one rank before the earliest operation that reads it: so every value's
    earliest reader is next to it, and an edge ``value -> op`` crosses
    ``ranks[value] - ranks[result] - 1`` ranks. Graphviz ranks nodes to make
    the total of such lengths as small as it can, so its edges are in all
    no longer than these.
    """
    ranks = [0] * len(order)
    for i in range(len(order) - 1, -1, -1):  # readers before what they read
        before = ranks[i] + 2  # the operation making order[i] is at ranks[i] + 1
        for parent in order[i].parents:
            j = index[parent]
            ranks[j] = max(ranks[j], before)
    return ranks


def _reference_attributes(text: str, colour: str) -> str:
    """A value drawn again beside a far reader: its name (or data), dashed and rounded."""
    return _attributes({"shape": "box", "label": text, "style": "rounded,dashed",
                        "color": colour, "fontsize": "10", "height": "0.25"})


class _Leaves:
    """Which leaves of a drawing are parameters, inputs or constants, and which are left out."""

    def __init__(
        self, root: Value, net: MLP | None, trace: Trace | None, params: Iterable[Value] | None,
        inputs: Iterable[Value] | None, show_params: bool,
    ) -> None:
        self.params = _value_set(params, "params") if params is not None else (
            set(net.parameters()) if net is not None else None)
        self.inputs = _value_set(inputs, "inputs") if inputs is not None else (
            set(trace.a[0]) if trace is not None and trace.a else None)
        self.hidden: set[Value] = set()
        if not show_params:
            if self.params is None:
                raise ValueError("draw: show_params=False needs params= or net= to know which "
                                 "leaves are the parameters")
            self.hidden = self.params - {root}

    def kind(self, node: Value) -> str:
        """``value`` (computed), ``parameter``, ``input`` or ``constant``: its style."""
        if node.parents:
            return "value"
        if self.params is not None and node in self.params:
            return "parameter"
        if self.inputs is not None:
            return "input" if node in self.inputs else "constant"
        # when neither is known, every labelled leaf is an input
        return "input" if self.params is None and node.label != "" else "constant"


def _value_box(
    fields: list[str], kind: str, style_kind: str, fill: str | None, rankdir: str
) -> str:
    """A value's box: a record of its name (if any), data and grad, styled by its kind."""
    label = "|".join(_record_field(f) for f in fields)
    default_fill, border, extra = _STYLES[style_kind]
    attributes = {
        "shape": "record",
        # record fields stack across the rank direction
        "label": _Escaped(label if rankdir in ("LR", "RL") else "{" + label + "}"),
        "style": _style("filled", _STYLES[kind][2], extra),
        "fillcolor": fill or default_fill,
        "color": border,
    }
    if style_kind == "non-finite":
        attributes["fontcolor"] = border
    return _attributes(attributes)


def _op_label(node: Value, hidden: set[Value], fmt: Any) -> str:
    """An operation's oval: its text, and how many of its inputs are hidden parameters."""
    text: str = _op_text(node, fmt)
    n_hidden = sum(1 for p in node.parents if p in hidden)
    if n_hidden:
        return _lines([text, f"{n_hidden} parameter{'s' * (n_hidden > 1)}"], "\\n")
    return text


def _header(
    title: str | None, graph: dict[str, str], node: dict[str, str], edge: dict[str, str]
) -> list[str]:
    """A drawing's first lines: the graph's, nodes' and edges' attributes, and its title."""
    if title is not None:
        if not isinstance(title, str):
            raise TypeError(f"title must be a str, got {type(title).__name__}")
        graph = {**graph, "label": title, "labelloc": "t", "fontsize": "16"}
    return ["digraph microgrid {", f"  graph {_attributes(graph)};",
            f"  node {_attributes(node)};", f"  edge {_attributes(edge)};"]


def _legend(
    kinds: set[str], max_grad: float | None, fmt: Any, root: str, rankdir: str, *,
    operations: bool, references: bool,
) -> list[str]:
    """A boxed key to the styles used, placed after the ``root`` node.

    ``max_grad``: the fill scale, when colouring by grad; ``operations`` and
    ``references``: whether the drawing has any (each gets an entry if so).
    """
    entries: list[tuple[str, dict[str, str]]] = []
    for kind, (fill, border, extra) in _STYLES.items():
        if kind in kinds:
            attributes = {"label": _LEGEND_TEXT[kind], "color": border,
                          "fillcolor": "white" if max_grad is not None else fill,
                          "style": _style("filled", extra)}
            if kind == "non-finite":
                attributes["fontcolor"] = border
            entries.append((kind.replace("-", "_"), attributes))
    if references:
        entries.append(("reference", {"label": "value drawn again",
                                      "style": "rounded,dashed"}))
    if operations:
        entries.append(("op", {"label": "operation", "shape": "ellipse"}))
    if max_grad is not None:
        entries.append(("grad", {"label": f"|grad| = {fmt(max_grad)}",
                                 "fillcolor": _grad_fill(max_grad, max_grad)}))
        entries.append(("no_grad", {"label": "|grad| = 0", "fillcolor": "white"}))
    lines = [
        "  subgraph cluster_legend {",
        '    label="legend"; fontsize=11; style="rounded,dashed"; color="#9ca3af";',
        '    node [shape=box, style=filled, fontsize=10, height=0.25, margin="0.08,0.02"];',
    ]
    lines += [f"    legend_{name} {_attributes(a)};" for name, a in entries]
    # One rank kept in order by invisible edges: a column beside the graph,
    # one rank after the root. (Left to right in TB is bottom to top in LR.)
    names = [f"legend_{name}" for name, _ in entries]
    chain = " -> ".join(reversed(names) if rankdir in ("LR", "RL") else names)
    lines += [f"    {{ rank=same; {chain} [style=invis]; }}", "  }",
              f"  {root} -> {names[0]} [style=invis];"]
    return lines


def _op_text(node: Value, fmt: Any) -> str:
    """An operation's text: its label, with its number operands (``× 2``, ``Σ w·a - 1``)."""
    spec = OPS.get(node.op)
    if spec is None:  # not made by the engine's operations (an op set by hand)
        return node.op
    return spec.caption(spec.operands(node), lambda c: _short(c, fmt))


def _short(c: float, fmt: Any) -> str:
    """A constant: integers without decimals, others in the drawing's number format."""
    if c.is_integer() and abs(c) < 1e15:
        return str(int(c))
    text: str = fmt(c)
    return text


def _style(*parts: str) -> str:
    """A DOT style list without blanks or repeats: ``_style("filled", "", "bold")``."""
    return ",".join(dict.fromkeys(p for p in parts if p))


def _grad_fill(grad: float, max_grad: float) -> str:
    t = abs(grad) / max_grad if max_grad > 0.0 else 0.0
    r, g, b = (round(255 + (c - 255) * t) for c in _GRAD_COLOUR)
    return f"#{r:02x}{g:02x}{b:02x}"


def _value_set(values: Iterable[Value], what: str) -> set[Value]:
    result: set[Value] = set()
    for v in values:
        if not isinstance(v, Value):
            raise TypeError(f"draw: {what} must hold Values, got {type(v).__name__} {v!r}")
        result.add(v)
    return result


# -- names in the book's notation -------------------------------------------------

_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_SUBSCRIPT = str.maketrans("0123456789-", "₀₁₂₃₄₅₆₇₈₉₋")
_BOOK_LABEL = re.compile(r"\b([A-Za-zα-ωΑ-Ω]+)\^(\d+)_(\d+(?:,\d+)?)\b")


def _pretty_label(label: str) -> str:
    """``w^2_21`` -> ``w²₂₁`` (the book's names, as nn writes them); others unchanged."""
    return _BOOK_LABEL.sub(
        lambda m: m[1] + m[2].translate(_SUPERSCRIPT) + m[3].translate(_SUBSCRIPT), label
    )


def _book_name(letter: str, layer: int, *indices: int) -> str:
    """``_book_name("w", 2, 2, 1)`` -> ``w²₂₁``: the book's numbers, neurons from 1."""
    sep = "" if all(i < 10 for i in indices) else ","
    sub = sep.join(str(i) for i in indices)
    return f"{letter}{str(layer).translate(_SUPERSCRIPT)}{sub.translate(_SUBSCRIPT)}"


def _book_names(net: MLP | None, trace: Trace | None) -> tuple[dict[Value, str], set[Value]]:
    """Names of the parameters and of the traced z and a nodes, and the set of z nodes."""
    names: dict[Value, str] = {}
    z_nodes: set[Value] = set()
    if net is not None:
        if not isinstance(net, MLP):
            raise TypeError(f"draw: net must be an MLP, got {type(net).__name__}")
        for l, layer in enumerate(net.layers, 2):  # noqa: E741 - the book's layer number
            for j, neuron in enumerate(layer.neurons, 1):
                for k, w in enumerate(neuron.w, 1):
                    names[w] = _book_name("w", l, j, k)
                names[neuron.b] = _book_name("b", l, j)
    if trace is not None:
        if not isinstance(trace, Trace):
            raise TypeError(f"draw: trace must be a Trace (from net.trace(x)), got "
                            f"{type(trace).__name__}")
        for layer_number, a_layer in enumerate(trace.a, start=1):
            for j, a in enumerate(a_layer, 1):
                names[a] = _book_name("a", layer_number, j)
        for layer_number, z_layer in enumerate(trace.z, start=1):
            for j, z in enumerate(z_layer, 1):
                z_name = _book_name("z", layer_number, j)
                names[z] = f"{z_name} = {names[z]}" if z in names else z_name
                z_nodes.add(z)
    return names, z_nodes


# -- the network ----------------------------------------------------------------

_POSITIVE, _NEGATIVE = "#2563eb", "#dc2626"


def draw_network(
    net: MLP,
    trace: Trace | None = None,
    *,
    show_delta: bool | None = None,
    edge_labels: str | None = None,
    precision: int = 4,
    number_format: str | None = None,
    title: str | None = None,
    legend: bool = True,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> Drawing:
    """Draw ``net`` as the textbook does: layers of neurons, left to right.

    An edge per weight ``w^l_jk`` (from neuron k of layer l-1 to neuron j of
    layer l, counted from 1 as in the book: ``w²₂₁`` runs from neuron 1 of
    layer 1 to neuron 2 of layer 2), its width growing with ``|w|``, blue for positive and red for
    negative. With a ``trace`` (from ``net.trace(x)``) each neuron shows its
    activation ``a`` and, after ``cost.backward()``, its ``δ = ∂C/∂z``
    (``show_delta``: default when any δ is non-zero); without one, each
    neuron shows its bias. ``edge_labels``: ``"w"`` labels edges with the
    weights, ``"grad"`` with ``∂C/∂w`` (the weights' grads; BP4 says each
    is ``a^(l-1)_k δ^l_j``), None (default) with nothing.

        >>> from microgrid import MLP
        >>> net = MLP(2, [2, 1], seed=0)
        >>> draw_network(net).source.count("penwidth")  # an edge per weight
        6
    """
    show_delta = _check_network(net, trace, edge_labels, show_delta)
    fmt = _number_formatter(precision, number_format)
    # Neurons are numbered from 1 as in the book, in the labels and the node ids.
    texts = [[_neuron_text(net, trace, layer_number, j, fmt, show_delta)
              for j in range(1, width + 1)]
             for layer_number, width in enumerate(net.sizes, start=1)]
    grid = _Grid(net.sizes, max(_circle_inches(t, 11) for layer in texts for t in layer),
                 edge_labels is not None)
    lines = _header(
        title, {"layout": "neato", "splines": "line", "outputorder": "edgesfirst",
                "fontname": _FONT},
        {"fontname": _FONT, "fontsize": "11", "shape": "circle", "fixedsize": "true",
         "width": f"{grid.size:.2f}", "style": "filled", "color": "#111827"},
        {"fontname": _FONT, "arrowsize": "0.6"})
    lines += _neurons(net, texts, grid)
    lines += _weights(net, grid, fmt, edge_labels)
    if legend:
        lines.append(_network_legend(show_delta, edge_labels, grid))
    lines.append("}")
    weights = sum(len(neuron.w) for layer in net.layers for neuron in layer.neurons)
    return Drawing("\n".join(lines) + "\n", sum(net.sizes), max_nodes, weights)


def _check_network(
    net: MLP, trace: Trace | None, edge_labels: str | None, show_delta: bool | None
) -> bool:
    """`draw_network`'s arguments checked; whether to show each neuron's δ."""
    if not isinstance(net, MLP):
        raise TypeError(f"draw_network: net must be an MLP, got {type(net).__name__}")
    if trace is not None and not isinstance(trace, Trace):
        raise TypeError(f"draw_network: trace must be a Trace (from net.trace(x)), got "
                        f"{type(trace).__name__}")
    if trace is not None and [len(a) for a in trace.a] != net.sizes:
        raise ValueError(
            f"draw_network: the trace's layer widths {[len(a) for a in trace.a]} do not match "
            f"the network's {net.sizes}; trace this network: net.trace(x)"
        )
    if edge_labels not in (None, "w", "grad"):
        raise ValueError(f"draw_network: edge_labels must be None, 'w' or 'grad', "
                         f"got {edge_labels!r}")
    if show_delta is None:
        return trace is not None and any(d != 0.0 for layer in trace.delta for d in layer)
    if show_delta and trace is None:
        raise ValueError("draw_network: show_delta needs a trace (net.trace(x), then backward)")
    return show_delta


class _Grid:
    """Where `draw_network` puts its neurons (Graphviz's neato only draws it): columns
    are layers, neuron j of each layer sits j - 1 rows below the top, centred."""

    def __init__(self, sizes: list[int], size: float, edge_labels: bool) -> None:
        self.sizes = sizes
        self.size = size  # one circle size for all
        self.row_gap = size + 0.3
        self.column_gap = max(2.4, size + (2.2 if edge_labels else 1.4))
        self.top = (max(sizes) - 1) / 2 * self.row_gap

    def position(self, layer_number: int, j: int) -> tuple[float, float]:
        width = self.sizes[layer_number - 1]
        return (layer_number - 1) * self.column_gap, ((width - 1) / 2 - (j - 1)) * self.row_gap


def _neurons(net: MLP, texts: list[list[list[str]]], grid: _Grid) -> list[str]:
    """Each layer's heading and its neurons, the input layer green and the output amber."""
    lines = []
    for layer_number in range(1, len(net.sizes) + 1):
        if layer_number == 1:
            caption = "layer 1: input"
        else:
            caption = f"layer {layer_number}: {net.layers[layer_number - 2].activation}"
        heading = {"label": caption, "shape": "plaintext", "style": "solid", "fixedsize": "false",
                   "fontsize": "12", "pos": _pin((layer_number - 1) * grid.column_gap,
                                                 grid.top + grid.size / 2 + 0.3)}
        lines.append(f"  layer{layer_number} {_attributes(heading)};")
        fill = "#dcfce7" if layer_number == 1 else (
            "#fef3c7" if layer_number == len(net.sizes) else "white")
        for j, text in enumerate(texts[layer_number - 1], 1):
            attributes = {"label": _lines(text, "\\n"), "fillcolor": fill,
                          "pos": _pin(*grid.position(layer_number, j))}
            lines.append(f"  n{layer_number}_{j} {_attributes(attributes)};")
    return lines


def _weights(net: MLP, grid: _Grid, fmt: Any, edge_labels: str | None) -> list[str]:
    """An edge per weight, its width growing with |w|, blue or red by its sign; and its label."""
    weights = [w for layer in net.layers for n in layer.neurons for w in n.w]
    biggest = max((abs(w.data) for w in weights if math.isfinite(w.data)), default=0.0)
    lines = []
    for layer_number, layer in enumerate(net.layers, 2):
        for j, neuron in enumerate(layer.neurons, 1):
            for k, w in enumerate(neuron.w, 1):
                finite = biggest > 0.0 and math.isfinite(w.data)
                magnitude = abs(w.data) / biggest if finite else 1.0
                colour = _POSITIVE if w.data >= 0.0 else _NEGATIVE
                attributes = {
                    "color": colour,
                    "penwidth": f"{0.4 + 3.6 * magnitude:.2f}",
                    "tooltip": f"{_book_name('w', layer_number, j, k)} = {fmt(w.data)}",
                }
                lines.append(f"  n{layer_number - 1}_{k} -> n{layer_number}_{j} "
                             f"{_attributes(attributes)};")
                if edge_labels is not None:
                    lines.append(f"  label{layer_number}_{j}_{k} " + _attributes({
                        "label": fmt(w.data if edge_labels == "w" else w.grad),
                        "shape": "plaintext", "fixedsize": "false", "fontsize": "9",
                        "fontcolor": colour, "fillcolor": "white", "margin": "0.02,0.01",
                        "height": "0", "width": "0",
                        "pos": _pin(*_label_position(grid.position(layer_number - 1, k),
                                                     grid.position(layer_number, j), k - 1,
                                                     len(neuron.w))),
                    }) + ";")
    return lines


def _network_legend(show_delta: bool, edge_labels: str | None, grid: _Grid) -> str:
    """A note below the input layer saying what widths, colours and labels mean."""
    notes = ["edge width: |w|", "blue: w > 0", "red: w < 0"]
    if show_delta:
        notes.append("δ = ∂C/∂z (BP1, BP2)")
    if edge_labels == "grad":
        notes.append("edge labels: ∂C/∂w = a·δ (BP4)")
    elif edge_labels == "w":
        notes.append("edge labels: w")
    bottom = -grid.top - grid.size / 2 - 0.35 - len(notes) * 0.09
    note = {"shape": "note", "fixedsize": "false", "fontsize": "10", "fillcolor": "#f9fafb",
            "label": _lines(notes, "\\l"), "pos": _pin(0.0, bottom)}
    return f"  legend {_attributes(note)};"


def _pin(x: float, y: float) -> str:
    """A node position in inches, pinned (``!``) so that neato keeps it."""
    return f"{x:.3f},{y:.3f}!"


def _label_position(
    tail: tuple[float, float], head: tuple[float, float], k: int, fan_in: int
) -> tuple[float, float]:
    """Where on the edge from input ``k`` (a Python index, from 0) to put its label.

    Each input's labels sit at their own fraction of the way along (0.25 to
    0.6, by k), so no two labels share a spot even where edges cross.
    """
    t = 0.4 if fan_in == 1 else 0.25 + 0.35 * k / (fan_in - 1)
    return tail[0] + t * (head[0] - tail[0]), tail[1] + t * (head[1] - tail[1])


def _neuron_text(
    net: MLP, trace: Trace | None, layer_number: int, j: int, fmt: Any, show_delta: bool
) -> list[str]:
    """The lines inside neuron ``j`` (counted from 1) of layer ``layer_number``."""
    text = [_book_name("a", layer_number, j)]
    if trace is not None:
        text.append(f"= {fmt(trace.a[layer_number - 1][j - 1].data)}")
        if show_delta and layer_number > 1:
            text.append(f"δ = {fmt(trace.z[layer_number - 1][j - 1].grad)}")
    elif layer_number > 1:
        text.append(f"b = {fmt(net.layers[layer_number - 2].neurons[j - 1].b.data)}")
    return text


def _circle_inches(lines: Sequence[str], fontsize: float) -> float:
    """The diameter of a circle holding ``lines`` of monospace text (0.6 em a character).

    Computed here because Graphviz's in-process build measures non-ASCII
    text by its UTF-8 bytes and would draw circles far too big.
    """
    width = max(len(line) for line in lines) * 0.6 * fontsize
    height = len(lines) * 1.2 * fontsize
    return (math.hypot(width, height) + 16.0) / 72.0  # room for wider fonts


def _lines(lines: Sequence[str], end: str) -> _Escaped:
    """Lines of text as one label: ``end`` is ``\\n`` (centred) or ``\\l`` (left-justified)."""
    if end == "\\l":
        return _Escaped("".join(_plain(line)[1:-1] + end for line in lines))
    return _Escaped(end.join(_plain(line)[1:-1] for line in lines))


# -- DOT text ---------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_RECORD_SPECIAL = re.compile(r'([{}|<>"\\])')


def _record_field(text: str) -> str:
    """``text`` as one field of a record label (its special characters escaped)."""
    return _RECORD_SPECIAL.sub(r"\\\1", _CONTROL.sub(" ", text))


def _plain(text: str) -> str:
    """``text`` as a quoted DOT string showing exactly that text."""
    escaped = _CONTROL.sub(" ", text).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


class _Escaped(str):
    """Text already escaped for a DOT string (a record label, lines ending in ``\\l``)."""


def _attributes(attributes: dict[str, str]) -> str:
    """``[name="value", ...]``: values quoted to show as written, unless `_Escaped`."""
    parts = [
        f'{name}="{value}"' if isinstance(value, _Escaped) else f"{name}={_plain(value)}"
        for name, value in attributes.items()
    ]
    return "[" + ", ".join(parts) + "]"


def _number_formatter(precision: int, number_format: str | None) -> Any:
    """A function formatting numbers as the drawing's options ask."""
    if number_format is None:
        number_format = f".{integer(precision, 'precision', at_least=1)}g"
    elif not isinstance(number_format, str):
        raise TypeError(f"number_format must be a str, got {type(number_format).__name__}")
    try:
        format(1.5, number_format)
    except ValueError:
        raise ValueError(
            f"number_format {number_format!r} is not a format spec for floats; "
            "try '.4g', '.3f' or '.2e'"
        ) from None

    def fmt(x: float) -> str:
        return format(x, number_format)

    return fmt


def _check_rankdir(rankdir: object) -> str:
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"rankdir must be 'LR', 'RL', 'TB' or 'BT', got {rankdir!r}")
    return rankdir
