"""One backward pass, step by step, with its numbers: `explain`, `Walkthrough`, `Step`.

`explain(net, x, y, cost=...)` walks through one example's pass through a
network the way Nielsen's chapter 2 does: the forward pass (every
``z^l_j = sum_k w^l_jk a^{l-1}_k + b^l_j`` and ``a^l_j = sigma(z^l_j)``),
the cost, BP1 for the output layer, BP2 for each layer going back, BP3 and
BP4 for every bias and weight and, given a learning rate, the
gradient-descent update of every parameter. `explain(root)` walks through
any `Value` graph instead: in reverse topological order, each node's grad
as the sum over its consumers of local derivative times their grad.

Every number a step shows is the engine's (``.data`` and ``.grad`` of the
graph after a backward pass). Each step's result is also computed the
textbook way, in plain floats and from the textbook's own earlier results,
never from the engine's grads: by `microgrid.backprop` (BP1-BP4) for a
network, by summing the chain rule's terms for a graph. The step shows
both, and whether they agree to rounding; a disagreement is shown, never
hidden (`Walkthrough.ok` is then False).

A walkthrough reads as plain text (``str(walk)``), as Markdown with LaTeX
math (`Walkthrough.markdown`; ``$...$`` and ``$$...$$`` as Jupyter, mkdocs,
GitHub and Typora render them) or as one self-contained interactive HTML
page (`Walkthrough.html`: the library's own drawing with each step's nodes
highlighted, no network access at all). In Jupyter it displays itself.

    >>> from microgrid import MLP
    >>> net = MLP(2, [2, 2], activation="sigmoid", seed=0)
    >>> walk = explain(net, [0.05, 0.1], [0.01, 0.99], cost="quadratic")
    >>> walk.ok, len(walk.steps)
    (True, 25)
    >>> print(walk.steps[9].text)      # BP1, after the forward pass and the cost
    δ³₁ = (a³₁ - y₁) σ'(z³₁) = (0.4799 - 0.01) × 0.2496 = 0.1173

This module presents what the rest of the library computes: it is a leaf
(nothing below it imports it; the package re-exports `explain`, and
`microgrid.cli` and `microgrid.demo` use it).
"""

from __future__ import annotations

import html
import math
import numbers
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from microgrid import _checks as check
from microgrid import backprop
from microgrid._files import write_atomically
from microgrid.derivatives import local_derivatives
from microgrid.engine import OPS, Value, topological_order
from microgrid.graph import Drawing, _op_text, draw, draw_network
from microgrid.nn import MLP, Trace
from microgrid.optim import SGD
from microgrid.render import MissingRendererError, RenderError

__all__ = ["COSTS", "DEFAULT_MAX_STEPS", "Formula", "Step", "Walkthrough", "explain"]

COSTS = (*backprop.COSTS, "hinge")
"""The costs a network walkthrough knows: `microgrid.backprop.COSTS` and micrograd's hinge."""

DEFAULT_MAX_STEPS = 300
"""More steps are refused unless ``only=`` picks a part or ``max_steps`` is raised."""

_MAX_DRAWN_WEIGHTS = 2_000  # a network drawing of more edges is a grey blur, and slow to lay out
_SUM_TERMS_SHOWN = 12  # longer sums show their first and last terms around "..."


# -- formulas: one equation as plain text and as LaTeX ---------------------------------


@dataclass(frozen=True)
class Formula:
    """A piece of mathematics written twice: ``text`` (Unicode) and ``latex``.

    ``text`` is what the terminal and the HTML page show (``δ³₁ = ...``);
    ``latex`` goes between ``$...$`` in Markdown (``\\delta^{3}_{1} = ...``).
    """

    text: str
    latex: str

    def __add__(self, other: Formula | str) -> Formula:
        if isinstance(other, str):
            other = Formula(other, other)
        return Formula(self.text + other.text, self.latex + other.latex)

    def __radd__(self, other: str) -> Formula:
        return Formula(other + self.text, other + self.latex)


def _f(text: str, latex: str | None = None) -> Formula:
    return Formula(text, text if latex is None else latex)


def _join(parts: Iterable[Formula], sep: Formula | str) -> Formula:
    sep_f = sep if isinstance(sep, Formula) else _f(sep)
    items = list(parts)
    return Formula(sep_f.text.join(p.text for p in items),
                   sep_f.latex.join(p.latex for p in items))


_SUPERSCRIPTS = dict(zip("0123456789-l", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻ˡ", strict=True))
_SUBSCRIPTS = dict(zip("0123456789-ijk,", "₀₁₂₃₄₅₆₇₈₉₋ᵢⱼₖ,", strict=True))


def _script(text: str, table: dict[str, str], fallback: str) -> str:
    """``text`` in Unicode super- or subscripts, or ``^text``/``_text`` where one is missing."""
    if all(c in table for c in text):
        return "".join(table[c] for c in text)
    return f"{fallback}{text}" if len(text) == 1 else f"{fallback}({text})"


_GREEK = {"delta": ("δ", r"\delta"), "eta": ("η", r"\eta"), "sigma": ("σ", r"\sigma")}


def _sym(letter: str, layer: int | str | None, *indices: int | str) -> Formula:
    """A symbol in the book's notation: ``_sym("w", 3, 1, 2)`` is ``w³₁₂``, ``w^{3}_{12}``.

    Indices are the book's numbers (neurons from 1); a comma separates them
    when one has two digits (``w^{3}_{12,1}``).
    """
    text, latex = _GREEK.get(letter, (letter, letter))
    if layer is not None:
        text += _script(str(layer), _SUPERSCRIPTS, "^")
        latex += f"^{{{layer}}}"
    if indices:
        sep = "" if all(len(str(i)) == 1 for i in indices) else ","
        sub = sep.join(str(i) for i in indices)
        text += _script(sub, _SUBSCRIPTS, "_")
        latex += f"_{{{sub}}}"
    return Formula(text, latex)


def _number(x: float, precision: int) -> Formula:
    """A number to ``precision`` significant digits (``-0`` shown as ``0``)."""
    s = format(x + 0.0, f".{precision}g")
    m = re.fullmatch(r"(-?[\d.]+)e([+-])0*(\d+)", s)
    if m:  # 1.5e-07: LaTeX writes the power of ten
        exponent = ("-" if m[2] == "-" else "") + m[3]
        return Formula(s, f"{m[1]} \\times 10^{{{exponent}}}")
    if s in ("inf", "-inf", "nan"):
        return Formula(s, {"inf": r"\infty", "-inf": r"-\infty", "nan": r"\mathrm{nan}"}[s])
    return Formula(s, s)


def _factor(x: float, precision: int) -> Formula:
    """A number as a factor of a product: in parentheses when negative."""
    n = _number(x, precision)
    return _f("(") + n + ")" if n.text.startswith("-") else n


_TIMES = Formula(" × ", r" \times ")


def _sum_of_products(
    pairs: Sequence[tuple[Formula, Formula]], extra: Formula | None = None
) -> Formula:
    """``p1 q1 + p2 q2 + ... (+ extra)``, abbreviated with ``...`` past a dozen terms."""
    terms = [p + _TIMES + q for p, q in pairs]
    if len(terms) > _SUM_TERMS_SHOWN:
        shown = [*terms[:4], _f("...", r"\dots"), *terms[-2:]]
        count = f"{len(terms)} terms"
        body = _join(shown, " + ") + _f(f" ({count})", rf"\ \text{{({count})}}")
    else:
        body = _join(terms, " + ")
    if extra is not None:
        body = body + " + " + extra
    return _signs(body)


def _signs(f: Formula) -> Formula:
    """``a + -b`` written ``a - b``: the sums above add possibly negative terms."""
    return Formula(f.text.replace("+ -", "- "), f.latex.replace("+ -", "- "))


# -- a label as a symbol ----------------------------------------------------------------

_BOOK_LABEL = re.compile(r"([A-Za-z]+|delta)\^(\d+)_(\d+)(?:,(\d+))?")
_LATEX_SPECIAL = {"\\": r"\backslash{}", "{": r"\{", "}": r"\}", "_": r"\_", "^": r"\hat{}",
                  "#": r"\#", "$": r"\$", "%": r"\%", "&": r"\&", "~": r"\sim{}", " ": r"\ "}


def _label_formula(label: str) -> Formula:
    """A node's label as a symbol: ``w^2_21`` as the book writes it, ``x1`` upright.

    Labels are user text; in LaTeX they are escaped, so any label is valid math.
    """
    if " = " in label:  # a linear neuron's node: "z^3_1 = a^3_1"
        return _join([_label_formula(part) for part in label.split(" = ")], " = ")
    m = _BOOK_LABEL.fullmatch(label)
    if m:
        if m[4] is not None:
            return _sym(m[1], int(m[2]), m[3], m[4])
        indices = m[3] if len(m[3]) <= 2 else ""
        if indices:
            return _sym(m[1], int(m[2]), *indices)
    if re.fullmatch(r"[A-Za-z]", label):
        return _f(label)
    if re.fullmatch(r"[A-Za-z]_[A-Za-z0-9]+", label):
        return Formula(label, f"{label[0]}_{{{label[2:]}}}")
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", label):
        return Formula(label, rf"\mathrm{{{label}}}")
    escaped = "".join(_LATEX_SPECIAL.get(c, c) if c.isascii() else c for c in label)
    return Formula(label, rf"\mathtt{{{escaped}}}")


# -- prose with math in it ------------------------------------------------------------

Prose = tuple["str | Formula", ...]
"""Words and formulas in turn: rendered as text, as Markdown (math in ``$...$``) or HTML."""


def _prose_text(prose: Prose) -> str:
    return "".join(p if isinstance(p, str) else p.text for p in prose)


def _prose_markdown(prose: Prose) -> str:
    return "".join(_markdown_escape(p) if isinstance(p, str) else f"${p.latex}$"
                   for p in prose)


def _prose_html(prose: Prose) -> str:
    return "".join(html.escape(p) if isinstance(p, str)
                   else f'<span class="m">{html.escape(p.text)}</span>' for p in prose)


def _markdown_escape(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>#|$])", r"\\\1", text)


# -- steps and walkthroughs -------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One step of a walkthrough: an equation, its numbers, and the engine's number.

    ``equation`` is the whole chain: the equation in symbols, the same with
    the engine's numbers substituted, and the result. ``textbook`` is that
    result computed the textbook way (`microgrid.backprop` for a network,
    the chain rule's terms summed in plain floats for a graph); ``engine``
    is the engine's number for the same quantity, read where ``engine_name``
    says. ``agrees`` is True when they agree to rounding.
    """

    number: int
    section: str
    """The part of the pass: ``"forward"``, ``"cost"``, ``"BP1"``, ``"BP2"``,
    ``"BP3"``, ``"BP4"``, ``"update"``, or ``"backward"`` for a graph's step."""
    name: Formula
    """The quantity this step computes: ``δ³₁``, ``∂C/∂w³₁₂``, ``x.grad``."""
    equation: Formula
    textbook: float
    engine: float
    engine_name: str
    """Where the engine keeps the number: ``trace.z_of(3, 1).grad``, ``o.grad``."""
    agrees: bool
    note: Prose = ()
    """What the reader should know about this step (a shortcut taken, an op's derivative)."""
    nodes: tuple[str, ...] = ()
    """The drawing's node names this step reads and writes (highlighted on the page)."""
    edges: tuple[tuple[str, str], ...] = ()
    """The drawing's edges (tail, head) this step goes along."""
    reveals: tuple[str, ...] = ()
    """The drawing's nodes whose grad (or δ) this step computes."""
    layer: int | None = None
    neuron: int | None = None

    @property
    def text(self) -> str:
        """The equation as plain text."""
        return self.equation.text

    @property
    def latex(self) -> str:
        """The equation as LaTeX."""
        return self.equation.latex


def _heading(section: str, layer: int | None) -> str:
    """The heading of a group of steps: one per part of the pass, and per layer."""
    if section == "forward":
        return f"The forward pass, layer {layer}"
    if section == "BP1":
        return f"BP1: the output layer's error (layer {layer})"
    if section == "BP2":
        return f"BP2: layer {layer}'s error, from layer {(layer or 0) + 1}'s"
    if section in ("BP3", "BP4"):
        return f"BP3 and BP4: layer {layer}'s gradients"
    return {"cost": "The cost", "update": "Gradient descent: the new parameters",
            "backward": "The backward pass, in reverse topological order"}[section]


@dataclass
class Walkthrough:
    """The steps of one backward pass, from `explain`; readable three ways.

    ``str(walk)`` (or `text`) is plain text, `markdown` Markdown with LaTeX
    math, `html` one self-contained interactive page; `save` writes one of
    them by the file's suffix. ``ok`` is True when every step's engine
    number agrees with the textbook's; `disagreements` lists those that do not.
    """

    title: str
    intro: list[Prose]
    steps: list[Step]
    drawing: Drawing | None = field(default=None, repr=False)
    """The network or the graph, as drawn after the pass (None if too big to draw)."""
    drawing_note: str = ""
    """Why there is no drawing, when there is none."""
    node_info: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)
    """For each drawn node: its name, data and grad as shown (the page's hover panel)."""
    precision: int = 4

    @property
    def ok(self) -> bool:
        """Whether every step's engine number agrees with the textbook's."""
        return all(step.agrees for step in self.steps)

    @property
    def disagreements(self) -> list[Step]:
        """The steps whose engine number and textbook result differ beyond rounding."""
        return [step for step in self.steps if not step.agrees]

    def __repr__(self) -> str:
        verdict = "all agree" if self.ok else f"{len(self.disagreements)} DISAGREE"
        return f"<Walkthrough: {self.title}; {len(self.steps)} steps, {verdict}>"

    def __str__(self) -> str:
        return self.text()

    # -- plain text -------------------------------------------------------------------

    def text(self) -> str:
        """The walkthrough as plain text, a line or two per step."""
        lines = [self.title, "=" * min(len(self.title), 88)]
        lines += [_prose_text(p) for p in self.intro]
        for heading, steps in self._sections():
            lines += ["", heading, "-" * len(heading)]
            for step in steps:
                head = f"{step.number:>4}. "
                lines.append(head + step.equation.text)
                pad = " " * len(head)
                lines.append(pad + self._verdict_text(step))
                if step.note:
                    lines.append(pad + _prose_text(step.note))
        lines += ["", self._summary()]
        return "\n".join(lines)

    def _verdict_text(self, step: Step) -> str:
        textbook, engine = _shown_pair(step.textbook, step.engine, self.precision)
        if step.agrees:
            return f"engine: {step.engine_name} = {engine}   agrees"
        return (f"engine: {step.engine_name} = {engine}   DISAGREES with the textbook's "
                f"{textbook} (difference {abs(step.engine - step.textbook):.3g})")

    def _summary(self) -> str:
        n = len(self.steps)
        if self.ok:
            return (f"All {n} steps agree: the engine's numbers are the textbook's, "
                    "to rounding.")
        bad = self.disagreements
        return (f"{len(bad)} of {n} steps DISAGREE with the textbook, the first at step "
                f"{bad[0].number}: the engine's number is not the textbook's.")

    def _sections(self) -> Iterator[tuple[str, list[Step]]]:
        """The steps grouped under their headings, in order."""
        group: list[Step] = []
        heading = ""
        for step in self.steps:
            this = _heading(step.section, step.layer)
            if this != heading and group:
                yield heading, group
                group = []
            heading = this
            group.append(step)
        if group:
            yield heading, group

    # -- Markdown with LaTeX ------------------------------------------------------------

    def markdown(self, level: int = 1) -> str:
        """The walkthrough as Markdown, its math as LaTeX in ``$...$`` and ``$$...$$``.

        The title is a heading of ``level`` (``#`` for 1), the sections one
        level below: pass ``level=2`` to embed it in a page that has its own
        title. The math is what MathJax and KaTeX read (Jupyter, mkdocs with
        arithmatex, GitHub, Typora).
        """
        level = check.integer(level, "level", at_least=1, at_most=5, who="markdown",
                              why="a heading level")
        out = [f"{'#' * level} {_markdown_escape(self.title)}", ""]
        for prose in self.intro:
            out += [_prose_markdown(prose), ""]
        for heading, steps in self._sections():
            out += [f"{'#' * (level + 1)} {_markdown_escape(heading)}", ""]
            for step in steps:
                out += [f"**Step {step.number}** ({step.section}) · {self._verdict_markdown(step)}",
                        "", f"$${step.equation.latex}$$", ""]
                if step.note:
                    out += [f"*{_prose_markdown(step.note)}*", ""]
        out.append(_markdown_escape(self._summary()))
        return "\n".join(out) + "\n"

    def _verdict_markdown(self, step: Step) -> str:
        textbook, engine = _shown_pair(step.textbook, step.engine, self.precision)
        where = f"`{step.engine_name}`"
        if step.agrees:
            return f"engine: {where} = {engine} ✓"
        return (f"engine: {where} = {engine} ✗ **DISAGREES** with the textbook's {textbook} "
                f"(difference {abs(step.engine - step.textbook):.3g})")

    # -- HTML -------------------------------------------------------------------------

    def html(self) -> str:
        """The walkthrough as one self-contained interactive HTML page.

        The drawing (rendered as `microgrid.graph` renders, inline SVG) with
        the current step's nodes and edges highlighted, the list of steps,
        buttons and arrow keys to move through them, play/pause, and each
        node's data and grad on hover; grads appear as the pass computes
        them. Everything is inline: no script, style or font is fetched, and
        the page works from ``file://``. Without a renderer (the ``graph``
        extra or Graphviz's ``dot``) the page says so and shows the steps.
        """
        from microgrid import _walkthrough_page

        svg, why = self._svg()
        return _walkthrough_page.page(self, svg, why)

    def _svg(self) -> tuple[str | None, str]:
        """The drawing as inline SVG (no XML prologue, no namespaces), or why there is none."""
        if self.drawing is None:
            return None, self.drawing_note
        try:
            svg = self.drawing.svg()
        except (MissingRendererError, RenderError, ValueError) as e:
            return None, f"The drawing could not be rendered: {e}"
        return _inline_svg(svg), ""

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the walkthrough to ``path``: ``.html``/``.htm``, ``.md``, or ``.txt``.

        Written atomically (`microgrid._files.write_atomically`); returns the path.
        """
        target = Path(path)
        suffix = target.suffix.lower()
        renderers: dict[str, Callable[[], str]] = {
            ".html": self.html, ".htm": self.html, ".md": self.markdown,
            ".markdown": self.markdown, ".txt": self.text,
        }
        if suffix not in renderers:
            raise ValueError(f"save: cannot tell the format of {str(target)!r} from its "
                             "suffix; use .html, .md or .txt")
        return write_atomically(target, renderers[suffix]().encode("utf-8"))

    # -- Jupyter ------------------------------------------------------------------------

    def _repr_markdown_(self) -> str:
        return self.markdown()

    def _repr_html_(self) -> str:
        """The page in an iframe, so its style and script stay its own."""
        page = html.escape(self.html(), quote=True)
        return (f'<iframe srcdoc="{page}" title="{html.escape(self.title)}" '
                'style="width: 100%; height: 760px; border: 1px solid #d1d5db;"></iframe>')


def _shown_pair(textbook: float, engine: float, precision: int) -> tuple[str, str]:
    """Both numbers at ``precision`` digits, or at full precision when those differ."""
    t, e = _number(textbook, precision).text, _number(engine, precision).text
    if t != e:
        t, e = repr(textbook + 0.0), repr(engine + 0.0)
    return t, e


def _inline_svg(svg: str) -> str:
    """Graphviz's SVG file as an element for an HTML page: no prologue, comments or URLs."""
    svg = re.sub(r"<\?xml.*?\?>|<!DOCTYPE.*?>|<!--.*?-->", "", svg, flags=re.DOTALL)
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)
    return svg.strip()


def _agree(textbook: float, engine: float, rtol: float, atol: float) -> bool:
    """Equal to rounding: ``|e - t| <= atol + rtol * max(|e|, |t|)``; NaN never agrees."""
    return abs(engine - textbook) <= atol + rtol * max(abs(engine), abs(textbook))


# -- explain ---------------------------------------------------------------------------


def explain(
    what: MLP | Value,
    x: Sequence[float] | None = None,
    y: object = None,
    *,
    cost: str = "quadratic",
    lr: float | None = None,
    only: int | tuple[int, int] | Value | str | None = None,
    precision: int = 4,
    max_steps: int | None = DEFAULT_MAX_STEPS,
    rtol: float = 1e-9,
    atol: float = 1e-12,
) -> Walkthrough:
    """A walkthrough of one backward pass, step by step, with the engine's numbers.

    ``explain(net, x, y, cost=...)``: one example ``(x, y)`` through an
    `MLP`, as the book does it: forward pass, cost, BP1, BP2, BP3 and BP4,
    and with ``lr`` the gradient-descent update (``w -> w - lr ∂C/∂w``,
    the engine's side by `microgrid.optim.SGD` on a copy). ``cost`` is one
    of `COSTS`; ``y`` a list of targets (for ``"log_likelihood"`` a class
    index or one-hot list, for ``"hinge"`` -1 or +1). One example only: a
    mini-batch's gradient is the average of its examples' (explain them one
    by one). The network's parameters and their grads are left as they were.

    ``explain(root)``: any `Value` graph, from its own backward pass (the
    leaves' grads are put back as they were; interior nodes keep this
    pass's grads, which any pass gives them).

    ``only`` shows a part: for a network, a layer ``l`` (an int, 2 to L) or
    one neuron's steps ``(l, j)`` (its z, a, delta, and its bias's and
    weights' gradients and updates); for a graph, a node (the Value, or its
    label) and the steps on its paths to the root. More than ``max_steps``
    steps (`DEFAULT_MAX_STEPS`; None for no limit) raise a ValueError that
    says how many there are and offers ``only=``. ``precision``: significant
    digits shown. ``rtol``, ``atol``: what "agrees to rounding" allows.

        >>> from microgrid import Value
        >>> x, w = Value(2.0, label="x"), Value(-3.0, label="w")
        >>> b = Value(6.8813735870195432, label="b")
        >>> o = (x * w + b).tanh(); o.label = "o"
        >>> walk = explain(o)
        >>> [step.name.text for step in walk.steps]   # unlabelled nodes: v + their place
        ['o.grad', 'v4.grad', 'b.grad', 'v2.grad', 'w.grad', 'x.grad']
        >>> print(walk.steps[1].text)
        v4.grad = ∂o/∂v4 · o.grad = 0.5 × 1 = 0.5
    """
    precision = check.integer(precision, "precision", at_least=1, who="explain")
    if max_steps is not None:
        max_steps = check.integer(max_steps, "max_steps", at_least=1, who="explain")
    rtol = check.real(rtol, "rtol", at_least=0.0, who="explain")
    atol = check.real(atol, "atol", at_least=0.0, who="explain")
    if isinstance(what, Value):
        if x is not None or y is not None or lr is not None or cost != "quadratic":
            raise TypeError("explain(root) walks through a Value's own graph: x, y, cost and "
                            "lr belong to explain(net, x, y, cost=..., lr=...)")
        return _explain_graph(what, only, precision, max_steps, float(rtol), float(atol))
    if isinstance(what, MLP):
        if x is None or y is None:
            raise TypeError("explain(net, x, y): a network's walkthrough needs an example: "
                            "the input x and the target y")
        return _explain_network(what, x, y, cost, lr, only, precision, max_steps,
                                float(rtol), float(atol))
    raise TypeError(f"explain: expected an MLP (with x and y) or a Value, got "
                    f"{type(what).__name__}")


def _too_many(count: int, max_steps: int | None, offer: str) -> None:
    if max_steps is not None and count > max_steps:
        raise ValueError(
            f"explain: this walkthrough has {count:,} steps, more than max_steps={max_steps}: "
            f"too many to read as one. {offer}, or pass max_steps={count} (or None) to have "
            "them all."
        )


# -- a network --------------------------------------------------------------------------

_SIGMA = {"sigmoid": _f("σ", r"\sigma"), "tanh": _f("tanh", r"\tanh"),
          "relu": _f("ReLU", r"\mathrm{ReLU}"), "linear": _f("", "")}
_SIGMA_PRIME_NOTE = {
    "sigmoid": ("σ is the sigmoid, ", _f("σ(z) = 1/(1 + e^(-z))", r"\sigma(z) = 1/(1 + e^{-z})"),
                ", and ", _f("σ'(z) = σ(z)(1 - σ(z))", r"\sigma'(z) = \sigma(z)(1 - \sigma(z))"),
                "."),
    "tanh": ("σ is tanh, and ", _f("σ'(z) = 1 - tanh²(z)", r"\sigma'(z) = 1 - \tanh^2(z)"), "."),
    "relu": ("σ is ReLU, ", _f("σ(z) = max(0, z)", r"\sigma(z) = \max(0, z)"), ", and ",
             _f("σ'(z) = 1", r"\sigma'(z) = 1"), " for z > 0, else 0 (at 0 too, as the "
             "engine and PyTorch take it)."),
    "linear": ("σ is the identity: ", _f("a = z", "a = z"), " and ",
               _f("σ'(z) = 1", r"\sigma'(z) = 1"), "."),
}


@dataclass
class _Pass:
    """Both sides of one example's pass: the engine's numbers and the textbook's."""

    net: MLP
    cost: str
    y: list[float]
    closed: backprop.Backprop
    z: list[list[float]]  # the engine's, indexed [l-1][j-1] like Trace
    a: list[list[float]]
    a_grad: list[list[float]]  # ∂C/∂a: the a nodes' grads
    sigma_prime: list[list[float]]  # σ'(z): the a nodes' local derivatives (1 if a is z)
    delta: list[list[float]]
    b_grad: list[list[float]]  # [l-2][j-1] like net.layers
    w_grad: list[list[list[float]]]
    cost_engine: float
    trace: Trace
    new_w: list[list[list[float]]] | None = None  # after SGD's step, [l-2][j-1][k-1]
    new_b: list[list[float]] | None = None


def _explain_network(
    net: MLP, x: object, y: object, cost: str, lr: float | None,
    only: object, precision: int, max_steps: int | None, rtol: float, atol: float,
) -> Walkthrough:
    check.choice(cost, COSTS, "cost", who="explain")
    xs = _one_example(x, net.sizes[0])
    if lr is not None:
        check.real(lr, "lr", above=0.0, who="explain")
    sizes = net.sizes
    L = len(sizes)
    keep = _network_filter(only, sizes)
    neurons = sum(sizes[1:])
    weights = sum(sizes[i] * sizes[i + 1] for i in range(L - 1))
    if only is None:
        count = 4 * neurons + weights + 1 + (neurons + weights if lr is not None else 0)
        _too_many(count, max_steps, f"Show one layer with only=l (l from 2 to {L}) or one "
                  "neuron's steps with only=(l, j)")
    p = _run_network(net, xs, y, cost, lr)
    fmt = precision
    steps: list[_StepDraft] = []
    steps += _forward_steps(p, keep, fmt)
    if keep(L, None):
        steps.append(_cost_step(p, fmt))
    steps += _error_steps(p, keep, fmt)
    steps += _gradient_steps(p, keep, fmt)
    if lr is not None:
        steps += _update_steps(p, float(lr), keep, fmt)
    if only is not None:
        _too_many(len(steps), max_steps, "Show a smaller part (one neuron: only=(l, j))")
    done = [d.finish(i, rtol, atol) for i, d in enumerate(steps, 1)]

    acts = [layer.activation for layer in net.layers]
    hidden = acts[0] if L > 2 else None
    shape = f"{', '.join(map(str, sizes))}"
    title = (f"Backprop, step by step: an MLP [{shape}] "
             + (f"({hidden} hidden, {acts[-1]} output)" if hidden else f"({acts[-1]} output)")
             + f", {cost} cost")
    drawing, drawing_note, info = _network_drawing(p)
    return Walkthrough(title, _network_intro(p, xs, lr, only, fmt), done, drawing,
                       drawing_note, info, precision)


def _one_example(x: object, nin: int) -> list[float]:
    """``x`` as one example's ``nin`` finite numbers; a batch is refused, saying why."""
    if isinstance(x, (str, bytes)) or not isinstance(x, Sequence):
        raise TypeError(f"explain: x must be a list of {nin} numbers, got {type(x).__name__}")
    if x and all(isinstance(xi, Sequence) and not isinstance(xi, (str, bytes)) for xi in x):
        raise ValueError(
            f"explain: x holds {len(x)} examples; a walkthrough is one example's backward "
            "pass. A mini-batch's gradient is the average of its examples' (see "
            "microgrid.backprop.mini_batch_gradients): explain them one at a time."
        )
    values = []
    for k, xk in enumerate(x, 1):
        if isinstance(xk, bool) or not isinstance(xk, numbers.Real):
            raise TypeError(f"explain: x_{k} is {type(xk).__name__} {xk!r}; expected a number")
        v = float(xk)
        if not math.isfinite(v):
            raise ValueError(f"explain: x_{k} is {v!r}; inputs must be finite")
        values.append(v)
    if len(values) != nin:
        raise ValueError(f"explain: x has {len(values)} numbers; the network takes {nin} inputs")
    return values


def _network_filter(only: object, sizes: list[int]) -> Callable[[int, int | None], bool]:
    """``keep(l, j)``: whether a step about neuron j of layer l (j None: the layer) shows."""
    L = len(sizes)
    if only is None:
        return lambda l, j: True  # noqa: E741
    if isinstance(only, bool):
        raise TypeError(f"only must be a layer number l or a neuron (l, j), got {only!r}")
    if isinstance(only, int):
        if not 2 <= only <= L:
            raise ValueError(f"only={only}: layers with steps are 2 to {L} (layer 1 is the "
                             "input: it has no z, delta or parameters)")
        return lambda l, j: l == only  # noqa: E741
    if (isinstance(only, tuple) and len(only) == 2
            and all(isinstance(i, int) and not isinstance(i, bool) for i in only)):
        layer, neuron = only
        if not 2 <= layer <= L:
            raise ValueError(f"only={only}: l runs from 2 to {L} (layer 1 is the input)")
        if not 1 <= neuron <= sizes[layer - 1]:
            raise ValueError(f"only={only}: layer {layer} has neurons 1 to {sizes[layer - 1]} "
                             "(numbered from 1, as in the book)")
        return lambda l, j: l == layer and j == neuron  # noqa: E741
    raise TypeError(f"only must be a layer number l or a neuron (l, j) for a network, "
                    f"got {only!r}")


def _run_network(net: MLP, x: list[float], y: object, cost: str, lr: float | None) -> _Pass:
    """The textbook's numbers, then the engine's (grads put back as they were)."""
    from microgrid import losses

    network = backprop.Network.from_mlp(net)
    closed, target = _closed_form(network, x, y, cost)
    cost_fn = losses.get_loss(cost)
    params = net.parameters()
    saved = [p.grad for p in params]
    try:
        net.zero_grad()
        trace = net.trace(x)
        c = cost_fn(trace.output, target)
        c.backward()
        p = _Pass(
            net, cost, target, closed,
            z=[[v.data for v in zl] for zl in trace.z], a=[[v.data for v in al] for al in trace.a],
            a_grad=[[v.grad for v in al] for al in trace.a],
            sigma_prime=[[1.0 if a is z else a.local_grads[0] for z, a in zip(zl, al)]
                         for zl, al in zip(trace.z, trace.a)],
            delta=trace.delta,
            b_grad=[[n.b.grad for n in layer.neurons] for layer in net.layers],
            w_grad=[[[w.grad for w in n.w] for n in layer.neurons] for layer in net.layers],
            cost_engine=c.data, trace=trace,
        )
        if lr is not None:
            copy = MLP.from_document(net.to_document())
            for mine, theirs in zip(copy.parameters(), params, strict=True):
                mine.grad = theirs.grad
            SGD(copy.parameters(), lr=lr).step()
            p.new_w = [[[w.data for w in n.w] for n in layer.neurons] for layer in copy.layers]
            p.new_b = [[n.b.data for n in layer.neurons] for layer in copy.layers]
    finally:
        for param, g in zip(params, saved, strict=True):
            param.grad = g
    return p


def _closed_form(
    network: backprop.Network, x: list[float], y: object, cost: str
) -> tuple[backprop.Backprop, list[float]]:
    """`microgrid.backprop`'s BP1-BP4 and the target as floats; the hinge cost here.

    The hinge cost ``C_x = max(0, 1 - y a^L_1)`` (micrograd's, the demo's) is
    not one of the book's; its BP1 is ``delta^L = -y σ'(z^L)`` while the
    margin is not met (else 0), and BP2-BP4 are the book's, in plain floats.
    """
    if cost != "hinge":
        target = y
        if cost == "log_likelihood" and isinstance(y, int) and not isinstance(y, bool):
            if not 0 <= y < network.sizes[-1]:
                raise ValueError(f"class index y={y!r} out of range for "
                                 f"{network.sizes[-1]} outputs")
            target = [1.0 if j == y else 0.0 for j in range(network.sizes[-1])]
        closed = backprop.backprop(network, x, target, cost)  # checks y
        assert isinstance(target, Sequence)  # backprop took it: a list of numbers
        return closed, [float(v) for v in target]
    if network.sizes[-1] != 1:
        raise ValueError(f"the hinge cost needs one output (a score); the network has "
                         f"{network.sizes[-1]}")
    label = y[0] if isinstance(y, Sequence) and not isinstance(y, str) and len(y) == 1 else y
    if isinstance(label, bool) or not isinstance(label, numbers.Real) or label not in (-1, 1):
        raise ValueError(f"the hinge cost needs y = -1 or +1, got {y!r}")
    t = float(label)
    z, a = backprop.feedforward(network, x)
    L = len(z)
    score, act = a[-1][0], network.activations[-1]
    margin = 1.0 - t * score
    delta: list[list[float]] = [[] for _ in range(L)]
    grad_a = -t if margin > 0.0 else 0.0  # relu'(0) = 0, as the engine takes it
    delta[L - 1] = [grad_a * backprop.sigma_prime(act, z[L - 1][0])]
    for l in range(L - 1, 1, -1):  # noqa: E741 - BP2, the book's layer number
        w_next = network.weights[l - 1]
        act = network.activations[l - 2]
        delta[l - 1] = [
            math.fsum(w_next[j][k] * delta[l][j] for j in range(len(w_next)))
            * backprop.sigma_prime(act, z[l - 1][k])
            for k in range(len(z[l - 1]))
        ]
    nabla_b = [list(d) for d in delta[1:]]
    nabla_w = [[[a_k * d_j for a_k in a_prev] for d_j in d_l]
               for a_prev, d_l in zip(a[:-1], delta[1:], strict=True)]
    closed = backprop.Backprop(z, a, delta, nabla_b, nabla_w, [], max(0.0, margin))
    return closed, [t]


@dataclass
class _StepDraft:
    section: str
    name: Formula
    equation: Formula
    textbook: float
    engine: float
    engine_name: str
    note: Prose = ()
    nodes: tuple[str, ...] = ()
    edges: tuple[tuple[str, str], ...] = ()
    reveals: tuple[str, ...] = ()
    layer: int | None = None
    neuron: int | None = None

    def finish(self, number: int, rtol: float, atol: float) -> Step:
        return Step(number, self.section, self.name, self.equation, self.textbook, self.engine,
                    self.engine_name, _agree(self.textbook, self.engine, rtol, atol), self.note,
                    self.nodes, self.edges, self.reveals, self.layer, self.neuron)


def _node(l: int, j: int) -> str:  # noqa: E741
    """The network drawing's name for neuron j of layer l (`draw_network` numbers from 1)."""
    return f"n{l}_{j}"


def _forward_steps(p: _Pass, keep: Callable[[int, int | None], bool], fmt: int
                   ) -> Iterator[_StepDraft]:
    net, closed = p.net, p.closed
    for l in range(2, len(net.sizes) + 1):  # noqa: E741
        layer = net.layers[l - 2]
        act = layer.activation
        for j, neuron in enumerate(layer.neurons, 1):
            if not keep(l, j):
                continue
            z, a = _sym("z", l, j), _sym("a", l, j)
            symbolic = z + " = " + _f("Σₖ ", r"\sum_k ") + _sym("w", l, j, "k") + " " + \
                _sym("a", l - 1, "k") + " + " + _sym("b", l, j)
            numbers_ = _sum_of_products(
                [(_number(w.data, fmt), _factor(ak, fmt))
                 for w, ak in zip(neuron.w, p.a[l - 2], strict=True)],
                _number(neuron.b.data, fmt))
            z_value = p.z[l - 1][j - 1]
            inputs = tuple(_node(l - 1, k) for k in range(1, net.sizes[l - 2] + 1))
            yield _StepDraft(
                "forward", z, symbolic + " = " + numbers_ + " = " + _number(z_value, fmt),
                closed.z[l - 1][j - 1], z_value, f"trace.z_of({l}, {j}).data",
                nodes=(*inputs, _node(l, j)), edges=tuple((i, _node(l, j)) for i in inputs),
                layer=l, neuron=j)
            a_value = p.a[l - 1][j - 1]
            if act == "softmax":
                equation = (a + " = " + _f("e^(", "e^{") + z + _f(") / Σᵢ e^(z", r"} / \sum_i e^{z")
                            + _f(f"{_script(str(l), _SUPERSCRIPTS, '^')}ᵢ)", f"^{{{l}}}_i}}")
                            + " = "
                            + _f("e^(", "e^{") + _number(z_value, fmt) + _f(") / ", "} / ")
                            + _join([_f("e^(", "e^{") + _number(zi, fmt) + _f(")", "}")
                                     for zi in p.z[l - 1]], " + ")
                            + " = " + _number(a_value, fmt))
                equation = _signs(equation)
                note: Prose = ("The softmax layer: its activations depend on every z of the "
                               "layer and add up to 1.",)
            elif act == "linear":
                equation = a + " = " + z + " = " + _number(a_value, fmt)
                note = ("A linear neuron: its a is its z (one node in the engine's graph).",)
            else:
                sigma = _SIGMA[act]
                equation = (a + " = " + sigma + "(" + z + ") = " + sigma + "("
                            + _number(z_value, fmt) + ") = " + _number(a_value, fmt))
                note = ()
            yield _StepDraft("forward", a, equation, closed.a[l - 1][j - 1], a_value,
                             f"trace.a_of({l}, {j}).data", note, nodes=(_node(l, j),),
                             layer=l, neuron=j)


def _cost_step(p: _Pass, fmt: int) -> _StepDraft:
    L = len(p.net.sizes)
    a = p.a[L - 1]
    outputs = tuple(_node(L, j) for j in range(1, len(a) + 1))
    c = _f("C", "C")
    if p.cost == "quadratic":
        symbolic = c + _f(" = ½ Σⱼ (yⱼ - ", r" = \frac{1}{2} \sum_j (y_j - ") + _sym("a", L, "j") \
            + _f(")²", ")^2")
        numbers_ = _f("½ (", r"\frac{1}{2} (") + _join(
            [_f("(") + _number(yj, fmt) + " - " + _number(aj, fmt) + _f(")²", ")^2")
             for yj, aj in zip(p.y, a, strict=True)], " + ") + ")"
    elif p.cost == "cross_entropy":
        symbolic = c + _f(" = -Σⱼ [yⱼ ln ", r" = -\sum_j [y_j \ln ") + _sym("a", L, "j") \
            + _f(" + (1 - yⱼ) ln(1 - ", r" + (1 - y_j) \ln(1 - ") + _sym("a", L, "j") + ")]"
        numbers_ = _f("-(", "-(") + _join(
            [_number(yj, fmt) + _f(" ln ", r" \ln ") + _number(aj, fmt) + " + "
             + _number(1.0 - yj, fmt) + _f(" ln(1 - ", r" \ln(1 - ") + _number(aj, fmt) + ")"
             for yj, aj in zip(p.y, a, strict=True)], " + ") + ")"
    elif p.cost == "log_likelihood":
        k = p.y.index(1.0) + 1
        symbolic = c + _f(" = -ln ", r" = -\ln ") + _sym("a", L, "y") + " = -" + \
            _f("ln ", r"\ln ") + _sym("a", L, k)
        numbers_ = _f("-ln ", r"-\ln ") + _number(a[k - 1], fmt)
    else:  # hinge
        symbolic = c + _f(" = max(0, 1 - y ", r" = \max(0, 1 - y\, ") + _sym("a", L, 1) + ")"
        numbers_ = _f("max(0, 1 - ", r"\max(0, 1 - ") + _factor(p.y[0], fmt) + _TIMES \
            + _factor(a[0], fmt) + ")"
    equation = _signs(symbolic + " = " + numbers_ + " = " + _number(p.cost_engine, fmt))
    return _StepDraft("cost", _f("C", "C"), equation, p.closed.cost, p.cost_engine, "C.data",
                      nodes=outputs, layer=L)


def _error_steps(p: _Pass, keep: Callable[[int, int | None], bool], fmt: int
                 ) -> Iterator[_StepDraft]:
    net = p.net
    L = len(net.sizes)
    for j in range(1, net.sizes[-1] + 1):
        if keep(L, j):
            yield _output_error_step(p, j, fmt)
    for l in range(L - 1, 1, -1):  # noqa: E741
        w_next = net.layers[l - 1].neurons
        for j in range(1, net.sizes[l - 1] + 1):
            if not keep(l, j):
                continue
            d = _sym("delta", l, j)
            sp = p.sigma_prime[l - 1][j - 1]
            symbolic = d + _f(" = (Σₖ ", r" = \Big(\sum_k ") + _sym("w", l + 1, "k", j) + " " + \
                _sym("delta", l + 1, "k") + _f(") σ'(", r"\Big)\, \sigma'(") + _sym("z", l, j) + ")"
            numbers_ = _f("(", r"\big(") + _sum_of_products(
                [(_number(n.w[j - 1].data, fmt), _factor(dk, fmt))
                 for n, dk in zip(w_next, p.delta[l], strict=True)]) + _f(")", r"\big)") \
                + _TIMES + _number(sp, fmt)
            nexts = tuple(_node(l + 1, k) for k in range(1, net.sizes[l] + 1))
            yield _StepDraft(
                "BP2", d, symbolic + " = " + numbers_ + " = " + _number(p.delta[l - 1][j - 1], fmt),
                p.closed.delta[l - 1][j - 1], p.delta[l - 1][j - 1], f"trace.z_of({l}, {j}).grad",
                nodes=(_node(l, j), *nexts), edges=tuple((_node(l, j), n) for n in nexts),
                reveals=(_node(l, j),), layer=l, neuron=j)


def _output_error_step(p: _Pass, j: int, fmt: int) -> _StepDraft:
    """BP1 for output neuron j, in the form the book gives for this cost and output."""
    L = len(p.net.sizes)
    act = p.net.layers[-1].activation
    d, a, z = _sym("delta", L, j), _sym("a", L, j), _sym("z", L, j)
    yj = _sym("y", None, j)
    a_value, y_value = p.a[L - 1][j - 1], p.y[j - 1]
    result = p.delta[L - 1][j - 1]
    note: Prose = ()
    if (p.cost, act) in (("cross_entropy", "sigmoid"), ("log_likelihood", "softmax")):
        symbolic = d + " = " + a + " - " + yj
        numbers_ = _number(a_value, fmt) + " - " + _factor(y_value, fmt)
        if p.cost == "cross_entropy":
            note = ("The book's form for the cross-entropy with sigmoid outputs: BP1's ",
                    _f("∂C/∂a = (a - y) / (a(1 - a))",
                       r"\partial C/\partial a = (a - y)/(a(1 - a))"),
                    " times ", _f("σ'(z) = a(1 - a)", r"\sigma'(z) = a(1 - a)"),
                    ": the σ' cancels.")
        else:
            note = ("The book's form for a softmax output with the log-likelihood cost (",
                    _f("y", "y"), " one-hot): the softmax's derivatives and ",
                    _f("∂C/∂a = -1/a_y", r"\partial C/\partial a_y = -1/a_y"), " combine to ",
                    _f("a - y", "a - y"), ".")
    elif act == "softmax":
        grads = p.a_grad[L - 1]
        mean = math.fsum(g * ai for g, ai in zip(grads, p.a[L - 1], strict=True))
        symbolic = d + _f(" = Σᵢ (∂C/∂", r" = \sum_i \frac{\partial C}{\partial ") + \
            _sym("a", L, "i") + _f(")(∂", r"} \frac{\partial ") + _sym("a", L, "i") + \
            _f("/∂", r"}{\partial ") + z + _f(") = ", "} = ") + a \
            + _f(" (∂C/∂", r" \Big(\frac{\partial C}{\partial ") + a \
            + _f(" - Σᵢ (∂C/∂", r"} - \sum_i \frac{\partial C}{\partial ") + _sym("a", L, "i") \
            + _f(") ", "} ") + _sym("a", L, "i") + _f(")", r"\Big)")
        numbers_ = _number(a_value, fmt) + _TIMES + _f("(") + _number(grads[j - 1], fmt) + \
            " - " + _factor(mean, fmt) + ")"
        note = ("A softmax output: each a depends on every z of the layer, so BP1's "
                "element-wise product becomes a sum over the layer.",)
    else:
        grad_aj = p.a_grad[L - 1][j - 1]
        sp = p.sigma_prime[L - 1][j - 1]
        if p.cost == "quadratic":
            symbolic = d + " = (" + a + " - " + yj + _f(") σ'(", r")\, \sigma'(") + z + ")"
            numbers_ = _f("(") + _number(a_value, fmt) + " - " + _factor(y_value, fmt) + ")" \
                + _TIMES + _number(sp, fmt)
        else:
            symbolic = d + _f(" = (∂C/∂", r" = \frac{\partial C}{\partial ") + a + \
                _f(") σ'(", r"}\, \sigma'(") + z + ")"
            numbers_ = _factor(grad_aj, fmt) + _TIMES + _number(sp, fmt)
            note = _grad_a_note(p.cost, L)
    equation = _signs(symbolic + " = " + numbers_ + " = " + _number(result, fmt))
    return _StepDraft("BP1", d, equation, p.closed.delta[L - 1][j - 1], result,
                      f"trace.z_of({L}, {j}).grad", note, nodes=(_node(L, j),),
                      reveals=(_node(L, j),), layer=L, neuron=j)


def _grad_a_note(cost: str, L: int) -> Prose:
    a = _sym("a", L, "j")
    if cost == "cross_entropy":
        return ("For the cross-entropy, ", _f("∂C/∂", r"\partial C/\partial ") + a
                + _f(" = (", " = (") + a + _f(" - yⱼ) / (", " - y_j)/(") + a + _f("(1 - ", "(1 - ")
                + a + "))", ".")
    if cost == "log_likelihood":
        return ("For the log-likelihood, ", _f("∂C/∂", r"\partial C/\partial ") + a
                + _f(" = -1/", " = -1/") + a + " for the target class j = y, else 0.",)
    return ("For the hinge cost, ", _f("∂C/∂", r"\partial C/\partial ") + _sym("a", L, 1)
            + _f(" = -y", " = -y"), " while the margin is not met (", _f("y a < 1", "y\\, a < 1"),
            "), else 0.")


def _gradient_steps(p: _Pass, keep: Callable[[int, int | None], bool], fmt: int
                    ) -> Iterator[_StepDraft]:
    net = p.net
    for l in range(len(net.sizes), 1, -1):  # noqa: E741 - output first, as the pass goes
        for j in range(1, net.sizes[l - 1] + 1):
            if not keep(l, j):
                continue
            d = _sym("delta", l, j)
            dcdb = _f("∂C/∂", r"\partial C / \partial ") + _sym("b", l, j)
            delta = p.delta[l - 1][j - 1]
            yield _StepDraft(
                "BP3", dcdb, dcdb + " = " + d + " = " + _number(p.b_grad[l - 2][j - 1], fmt),
                p.closed.nabla_b[l - 2][j - 1], p.b_grad[l - 2][j - 1], f"net.bias({l}, {j}).grad",
                nodes=(_node(l, j),), layer=l, neuron=j)
            for k in range(1, net.sizes[l - 2] + 1):
                dcdw = _f("∂C/∂", r"\partial C / \partial ") + _sym("w", l, j, k)
                a_k = p.a[l - 2][k - 1]
                engine = p.w_grad[l - 2][j - 1][k - 1]
                equation = _signs(dcdw + " = " + _sym("a", l - 1, k) + " " + d + " = "
                                  + _number(a_k, fmt) + _TIMES + _factor(delta, fmt) + " = "
                                  + _number(engine, fmt))
                yield _StepDraft(
                    "BP4", dcdw, equation, p.closed.nabla_w[l - 2][j - 1][k - 1], engine,
                    f"net.weight({l}, {j}, {k}).grad", nodes=(_node(l - 1, k), _node(l, j)),
                    edges=((_node(l - 1, k), _node(l, j)),), layer=l, neuron=j)


def _update_steps(p: _Pass, lr: float, keep: Callable[[int, int | None], bool], fmt: int
                  ) -> Iterator[_StepDraft]:
    net = p.net
    assert p.new_w is not None and p.new_b is not None  # _run_network made them
    eta = _f("η", r"\eta")
    rate = _number(lr, fmt)
    for l in range(2, len(net.sizes) + 1):  # noqa: E741
        for j, neuron in enumerate(net.layers[l - 2].neurons, 1):
            if not keep(l, j):
                continue
            params: list[tuple[Formula, float, float, float, float, str,
                               tuple[str, str] | None]] = [
                (_sym("w", l, j, k), w.data, p.closed.nabla_w[l - 2][j - 1][k - 1],
                 p.w_grad[l - 2][j - 1][k - 1], p.new_w[l - 2][j - 1][k - 1],
                 f"net.weight({l}, {j}, {k}).data", (_node(l - 1, k), _node(l, j)))
                for k, w in enumerate(neuron.w, 1)]
            params.append((_sym("b", l, j), neuron.b.data, p.closed.nabla_b[l - 2][j - 1],
                           p.b_grad[l - 2][j - 1], p.new_b[l - 2][j - 1],
                           f"net.bias({l}, {j}).data", None))
            for symbol, old, nabla, grad, new, where, edge in params:
                equation = _signs(
                    symbol + _f(" → ", r" \to ") + symbol + " - " + eta
                    + _f(" ∂C/∂", r" \frac{\partial C}{\partial ") + symbol
                    + _f(" = ", "} = ") + _number(old, fmt) + " - " + rate + _TIMES
                    + _factor(grad, fmt) + " = " + _number(new, fmt))
                yield _StepDraft(
                    "update", _f("new ") + symbol, equation, old - lr * nabla, new,
                    f"{where} after SGD(lr={lr:g}).step()",
                    nodes=edge if edge else (_node(l, j),), edges=(edge,) if edge else (),
                    layer=l, neuron=j)


def _network_intro(p: _Pass, x: list[float], lr: float | None, only: object, fmt: int
                   ) -> list[Prose]:
    L = len(p.net.sizes)
    vec = ", ".join
    intro: list[Prose] = [
        ("One example: ", _f("x = ", "x = ") + _f(f"[{vec(_number(v, fmt).text for v in x)}]",
                                                  f"[{vec(_number(v, fmt).latex for v in x)}]"),
         " (the input layer's activations ", _sym("a", 1), "), target ",
         _f(f"y = [{vec(_number(v, fmt).text for v in p.y)}]",
            f"y = [{vec(_number(v, fmt).latex for v in p.y)}]"),
         f"; {L} layers, layer 1 the input." + (f" Learning rate η = {lr:g}." if lr else "")),
        ("Neurons are numbered from 1, as in the book: ", _sym("w", "l", "j", "k"),
         " is the weight from neuron k of layer l-1 to neuron j of layer l, and ",
         _f("δ = ∂C/∂z", r"\delta = \partial C / \partial z"), " is a neuron's error."),
        ("Every number substituted below is the engine's (the graph of net.trace(x) after "
         "C.backward()); each result is also computed the textbook way in plain floats "
         "(microgrid.backprop, BP1-BP4, from its own forward pass) and marked as agreeing "
         "with the engine's to rounding, or not.",),
    ]
    seen = []
    for layer in p.net.layers:
        if layer.activation in _SIGMA_PRIME_NOTE and layer.activation not in seen:
            seen.append(layer.activation)
            intro.append(_SIGMA_PRIME_NOTE[layer.activation])
    if only is not None:
        part = (f"layer {only}" if isinstance(only, int)
                else f"neuron {only[1]} of layer {only[0]}")  # type: ignore[index]
        intro.append((f"Only the steps of {part} are shown (only={only!r}).",))
    return intro


def _network_drawing(p: _Pass) -> tuple[Drawing | None, str, dict[str, dict[str, str]]]:
    net = p.net
    weights = sum(len(n.w) for layer in net.layers for n in layer.neurons)
    info: dict[str, dict[str, str]] = {}
    for l, a_l in enumerate(p.a, 1):  # noqa: E741
        for j, a in enumerate(a_l, 1):
            entry = {"name": _sym("a", l, j).text, "data": format(a + 0.0, ".6g")}
            if l > 1:
                entry["grad"] = format(p.delta[l - 1][j - 1] + 0.0, ".6g")
                entry["gradName"] = _sym("delta", l, j).text
            info[_node(l, j)] = entry
    if weights > _MAX_DRAWN_WEIGHTS:
        return None, (f"The network has {weights:,} weights, too many to draw usefully "
                      f"(the page draws up to {_MAX_DRAWN_WEIGHTS:,})."), info
    drawing = draw_network(net, p.trace, show_delta=True)
    return drawing, "", info


# -- any Value graph ---------------------------------------------------------------------


def _op_label(node: Value) -> str:
    """How a step names a node's operation (``×``, ``tanh``, ``σ``, ``× 2``, ``Σ w·a + b``).

    The one place this module names an operation: today the drawing's label
    (`microgrid.graph`); to read ``microgrid.engine.OPS[op].label`` once that table exists.
    """
    return _op_text(node, lambda c: format(c, ".4g"))


# A local derivative's formula is drawn from the Value the second-order pass builds
# for it (`microgrid.derivatives.local_derivatives`, from the op's spec): the step
# shows what `grad(..., create_graph=True)` computes, written with the graph's names.
# Each piece of a formula is kept with how tightly it binds: 0 a sum, 1 a product,
# 2 a quotient or a negation, 3 an atom (a name, a power, a function's value).
_Piece = tuple[Formula, int]
_FUNCTIONS = {"exp": ("e^(", "e^{", ")", "}"), "log": ("ln ", r"\ln ", "", ""),
              "sqrt": ("√", r"\sqrt{", "", "}"), "abs": ("|", r"\lvert ", "|", r"\rvert ")}


def _local_formula(consumer: Value, names: dict[Value, Formula], i: int,
                   precision: int) -> Formula:
    """``∂consumer/∂parents[i]`` as a formula in the graph's names (or a number)."""
    d = local_derivatives(consumer)[i]
    if not isinstance(d, Value):
        number = _number(d, precision)
        kinks = OPS[consumer.op].kinks
        if not kinks:
            return number
        x = consumer.parents[0].data  # which side of its kink this node is on
        side = " > " if x > kinks[0] else " < " if x < kinks[0] else " = "
        return number + " (" + names[consumer.parents[0]] + side + _number(kinks[0], 4) + ")"
    pieces: dict[Value, _Piece] = {v: (name, 3) for v, name in names.items()}
    for node in _new_nodes(d, pieces):
        spec = OPS[node.op]
        operands = spec.operands(node)
        args = [pieces[o] if isinstance(o, Value) else _constant(o, precision) for o in operands]
        square = node.op == "*" and operands[0] is operands[1]
        pieces[node] = (_wrapped(args[0], 2) + _f("²", "^2"), 3) if square else \
            _piece(node.op, args, spec.label)
    return pieces[d][0]


def _new_nodes(d: Value, known: dict[Value, _Piece]) -> list[Value]:
    """The nodes ``d`` is built from that are not ``known``, each after its parents
    (an iterative depth-first walk that stops at known nodes)."""
    order: list[Value] = []
    seen = set(known)
    if d in seen:
        return order
    seen.add(d)
    stack = [(d, iter(d.parents))]
    while stack:
        node, parents = stack[-1]
        for parent in parents:
            if parent not in seen:
                seen.add(parent)
                stack.append((parent, iter(parent.parents)))
                break
        else:
            stack.pop()
            order.append(node)
    return order


def _constant(c: float, precision: int) -> _Piece:
    n = _number(c, precision)
    return (n, 3) if c >= 0.0 else (n, 0)


def _wrapped(piece: _Piece, tighter_than: int) -> Formula:
    """A piece in parentheses unless it binds tighter than ``tighter_than``."""
    f, binding = piece
    return f if binding > tighter_than else _f("(") + f + ")"


def _piece(op: str, args: list[_Piece], label: str) -> _Piece:
    """One operation written over its operands' formulas."""
    if op in ("+", "-"):
        a, b = args
        right = _wrapped(b, 0 if op == "+" else 1)
        return _signs(a[0] + f" {op} " + right), 0
    if op == "*":  # side by side, as the book writes products; "×" before a number
        a, b = args
        right = _wrapped(b, 1)
        times = _TIMES if right.text[:1].isdigit() or right.text[:1] == "-" else _f(" ", r"\,")
        return _wrapped(a, 0) + times + right, 1
    if op == "/":
        a, b = args
        return _wrapped(a, 1) + "/" + _wrapped(b, 2), 2
    if op == "**":
        a, b = args
        if b[0].text.isdigit():
            return _wrapped(a, 2) + _f(_script(b[0].text, _SUPERSCRIPTS, "^"),
                                       "^{" + b[0].latex + "}"), 3
        return _wrapped(a, 2) + _f("^(", "^{") + b[0] + _f(")", "}"), 3
    if op == "neg":
        return "-" + _wrapped(args[0], 1), 2
    if op in _FUNCTIONS:
        text, latex, text_end, latex_end = _FUNCTIONS[op]
        x = args[0] if op == "exp" or op == "abs" else (_wrapped(args[0], 2), 3)
        return Formula(text + x[0].text + text_end, latex + x[0].latex + latex_end), 3
    inner = _join([a[0] for a in args], ", ")
    return _latex_symbols(_f(f"{label}(") + inner + ")"), 3


def _explain_graph(
    root: Value, only: object, precision: int, max_steps: int | None, rtol: float, atol: float
) -> Walkthrough:
    order = topological_order(root)
    index = {node: i for i, node in enumerate(order)}
    names = [_label_formula(v.label) if v.label else _f(f"v{i}", f"v_{{{i}}}")
             for i, v in enumerate(order)]
    consumers: list[list[tuple[int, int]]] = [[] for _ in order]  # (consumer, parent position)
    for c, node in enumerate(order):
        for i, parent in enumerate(node.parents):
            consumers[index[parent]].append((c, i))
    shown = _graph_filter(only, root, order, index, consumers)
    if only is None:
        _too_many(len(order), max_steps, "Show one node's path to the root with only=node "
                  "(the Value, or its label)")
    else:
        _too_many(len(shown), max_steps, "Pick a node nearer the root")

    leaves = [v for v in order if not v.parents]
    saved = [v.grad for v in leaves]
    try:
        for v in leaves:
            v.grad = 0.0
        root.backward()
        engine = [v.grad for v in order]
        drawing = draw(root) if len(order) <= 5_000 else None
    finally:
        for v, g in zip(leaves, saved, strict=True):
            v.grad = g

    # The chain rule in plain floats, from this sum's own earlier results: a node
    # whose gradient is 0 passes nothing on (the engine's rule; it avoids 0 * inf).
    textbook = [0.0] * len(order)
    textbook[-1] = 1.0
    for n in range(len(order) - 2, -1, -1):
        textbook[n] = math.fsum(order[c].local_grads[i] * textbook[c]
                                for c, i in consumers[n] if textbook[c] != 0.0)

    fmt = precision
    drafts = []
    for n in range(len(order) - 1, -1, -1):
        if n in shown:
            drafts.append(_graph_step(n, order, index, names, consumers, engine, textbook[n], fmt))
    steps = [d.finish(i, rtol, atol) for i, d in enumerate(drafts, 1)]
    info = {f"v{i}": {"name": names[i].text, "data": format(v.data + 0.0, ".6g"),
                      "grad": format(engine[i] + 0.0, ".6g"), "gradName": f"{names[i].text}.grad"}
            for i, v in enumerate(order)}
    for i, v in enumerate(order):
        if v.parents:
            info[f"o{i}"] = {"name": _op_label(v), "data": "", "op": v.op}
    name = names[-1].text
    title = f"Backprop, step by step: the gradient of {name} ({len(order)} nodes)"
    intro: list[Prose] = [
        ("The backward pass visits the graph in reverse topological order, the root ",
         names[-1], " first. Each node's grad is the sum, over the operations that use it, "
         "of the local derivative times that operation's result's grad (the chain rule). "
         "Unlabelled nodes are named v0, v1, ... by their place in the topological order.",),
        ("Every number substituted below is the engine's (its local derivatives, recorded "
         "when each node was computed, and its grads after backward()); each sum is also "
         "computed in plain floats from the sums before it, never from the engine's grads, "
         "and marked as agreeing to rounding, or not.",),
    ]
    if only is not None:
        intro.append((f"Only the steps on the paths from {names[min(shown)].text} to the root "
                      "are shown.",))
    return Walkthrough(title, intro, steps, drawing,
                       "" if drawing else "The graph is too big to draw.", info, precision)


def _graph_filter(only: object, root: Value, order: list[Value], index: dict[Value, int],
                  consumers: list[list[tuple[int, int]]]) -> set[int]:
    """The nodes whose steps show: all, or those on a node's paths to the root."""
    if only is None:
        return set(range(len(order)))
    if isinstance(only, Value):
        if only not in index:
            raise ValueError(f"only: {only!r} is not in the graph of {root!r}")
        start = index[only]
    elif isinstance(only, str):
        matches = [i for i, v in enumerate(order) if v.label == only]
        if len(matches) != 1:
            labels = sorted({v.label for v in order if v.label})
            raise ValueError(f"only={only!r}: {len(matches)} nodes have that label (need one); "
                             f"labels in this graph: {', '.join(labels[:20])}")
        start = matches[0]
    else:
        raise TypeError(f"only must be a node of the graph (a Value or its label), got {only!r}")
    shown, stack = {start}, [start]
    while stack:  # every node downstream of it: its path to the root
        for c, _ in consumers[stack.pop()]:
            if c not in shown:
                shown.add(c)
                stack.append(c)
    return shown


def _graph_step(n: int, order: list[Value], index: dict[Value, int], names: list[Formula],
                consumers: list[list[tuple[int, int]]], engine: list[float], textbook: float,
                fmt: int) -> _StepDraft:
    node, name = order[n], names[n]
    grad = name + _f(".grad", r".\mathrm{grad}")
    me = f"v{n}"
    if n == len(order) - 1:
        equation = grad + _f(" = ∂", r" = \partial ") + name + _f("/∂", r"/\partial ") + name \
            + " = " + _number(engine[n], fmt)
        seed: Prose = (*_describe(node, n, index, names),
                       " The pass starts at the root, whose derivative by itself is 1 (the seed).")
        return _StepDraft("backward", grad, equation, textbook, engine[n], f"{name.text}.grad",
                          seed, nodes=(me,), reveals=(me,))
    terms_symbolic, terms_numbers, notes = [], [], []
    nodes, edges = [me], []
    for c, i in consumers[n]:
        consumer = order[c]
        partial = (_f("∂", r"\partial ") + names[c] + _f("/∂", r"/\partial ") + name)
        terms_symbolic.append(partial + _f(" · ", r" \cdot ") + names[c]
                              + _f(".grad", r".\mathrm{grad}"))
        terms_numbers.append(_factor(consumer.local_grads[i], fmt) + _TIMES
                             + _factor(engine[c], fmt))
        known = {order[c]: names[c], **{q: names[index[q]] for q in consumer.parents}}
        formula = _local_formula(consumer, known, i, fmt)
        if (partial + " = " + formula) not in notes:
            notes.append(partial + " = " + formula)
        nodes += [f"o{c}", f"v{c}"]
        edges += [(me, f"o{c}"), (f"o{c}", f"v{c}")]
    if not consumers[n]:  # pragma: no cover - every node but the root is used
        terms_symbolic, terms_numbers = [_f("0")], [_f("0")]
    equation = _signs(grad + " = " + _join(terms_symbolic, " + ") + " = "
                      + _join(terms_numbers, " + ") + " = " + _number(engine[n], fmt))
    note: Prose = _describe(node, n, index, names)
    if notes:
        note = (*note, " Local derivatives: ", _join(notes, "; "), ".")
    if any(engine[c] == 0.0 for c, _ in consumers[n]):
        note = (*note, " A consumer whose grad is 0 passes nothing on (the engine's rule).")
    return _StepDraft("backward", grad, equation, textbook, engine[n], f"{name.text}.grad", note,
                      nodes=tuple(dict.fromkeys(nodes)), edges=tuple(edges), reveals=(me,))


def _describe(node: Value, n: int, index: dict[Value, int], names: list[Formula]) -> Prose:
    """What a node is: ``o = tanh(v3)``, ``v2 = w × x``, ``x is a leaf``."""
    name = names[n]
    if not node.parents:
        return (name, " is a leaf (an input or a parameter).")
    parents = [names[index[q]] for q in node.parents]
    label = _op_label(node)
    if node.op in ("+", "-", "*", "/", "**") and len(parents) == 2:
        expression = parents[0] + f" {label} " + parents[1]
    elif node.op in ("+", "-", "*", "/", "**") and label[:1] in "+-×÷^":
        expression = parents[0] + f" {label}"
    elif node.op in ("+", "-", "*", "/", "**"):
        expression = _f(f"{label} ") + parents[0]
    elif node.op == "linear":
        expression = _f("linear(") + _join(parents, ", ") + ")"
    else:
        expression = _f(f"{label}(") + _join(parents, ", ") + ")"
    return (name + " = " + _latex_symbols(expression), ".")


_LATEX_SYMBOLS = {"×": r"\times ", "÷": r"\div ", "σ": r"\sigma", "Σ": r"\Sigma ",
                  "√": r"\sqrt", "−": "-", "·": r"\cdot "}


def _latex_symbols(f: Formula) -> Formula:
    """The drawing's op labels use Unicode symbols; LaTeX spells them."""
    latex = f.latex
    for symbol, command in _LATEX_SYMBOLS.items():
        latex = latex.replace(symbol, command)
    latex = re.sub(r"\b(tanh|exp|log)\(", r"\\\1(", latex)
    latex = re.sub(r"\b(ReLU)\(", r"\\mathrm{\1}(", latex)
    return Formula(f.text, latex)

