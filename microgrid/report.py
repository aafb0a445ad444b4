"""The engine's gradients beside the closed-form BP1-BP4: `compare` and its `Report`.

`compare` runs the engine (``net.trace``, the cost from `microgrid.losses`,
``cost.backward()``) and the textbook backprop of `microgrid.backprop` on
one example, and reports, equation by equation and neuron by neuron (in
the book's numbering), how far apart they are. It is what ``microgrid bp``
prints. The two sides share no code: the closed form never imports the
engine, and this module only sets their numbers side by side.

    >>> from microgrid.nn import MLP
    >>> net = MLP(2, [3, 2], activation="sigmoid", output_activation="sigmoid", seed=0)
    >>> compare(net, [0.5, -1.0], [1.0, 0.0]).ok
    True
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from microgrid import _checks as check
from microgrid import losses
from microgrid.backprop import COSTS, backprop
from microgrid.nn import MLP

__all__ = ["EQUATIONS", "Agreement", "LayerReport", "Report", "compare"]

EQUATIONS = ("BP1", "BP2", "BP3", "BP4")


@dataclass
class Agreement:
    """How far apart two computations of one equation's numbers are."""

    equation: str
    entries: int = 0
    max_abs: float = 0.0
    max_rel: float = 0.0
    ok: bool = True

    def add(self, autodiff: float, closed: float, rtol: float, atol: float) -> None:
        """Fold in one pair of numbers (autodiff, closed form)."""
        self.entries += 1
        diff = abs(autodiff - closed)
        scale = max(abs(autodiff), abs(closed))
        if not diff <= atol + rtol * scale:  # also catches NaN
            self.ok = False
        if diff > self.max_abs or diff != diff:
            self.max_abs = diff
        # Below the absolute floor a relative difference is rounding noise.
        if scale > atol and (diff / scale > self.max_rel or diff != diff):
            self.max_rel = diff / scale


@dataclass
class LayerReport:
    """One layer ``l``: the engine's numbers beside the closed form's."""

    l: int  # noqa: E741 - the book's layer number
    equation: str  # which equation gives this layer's delta: BP1 (output) or BP2
    # Lists are indexed from 0: delta_autodiff[j-1] is z^l_j.grad, w_grad[j-1][k-1] w^l_jk.grad.
    delta_autodiff: list[float]  # z^l_j.grad
    delta_closed: list[float]  # delta^l_j from BP1/BP2
    b_grad: list[float]  # b^l_j.grad
    bp3: list[float]  # BP3: delta^l_j
    w_grad: list[list[float]]  # w^l_jk.grad
    bp4: list[list[float]]  # BP4: a^{l-1}_k delta^l_j

    def as_dict(self) -> dict[str, Any]:
        """The layer as JSON-able data."""
        return {
            "l": self.l,
            "delta": {"equation": self.equation, "autodiff": self.delta_autodiff,
                      "closed_form": self.delta_closed},
            "b": {"equation": "BP3", "autodiff": self.b_grad, "closed_form": self.bp3},
            "w": {"equation": "BP4", "autodiff": self.w_grad, "closed_form": self.bp4},
        }


@dataclass
class Report:
    """The engine's gradients beside BP1-BP4's, layer by layer; from `compare`.

    ``ok`` is True when every number agrees within ``atol + rtol * scale``
    (``scale`` the larger magnitude of the pair). ``str(report)`` is a table;
    `as_dict` and `to_json` give the same as data.
    """

    sizes: list[int]
    activations: list[str]
    cost: str
    x: list[float]
    y: list[float]
    cost_autodiff: float
    cost_closed: float
    layers: list[LayerReport]
    agreement: dict[str, Agreement]
    rtol: float
    atol: float
    ok: bool = field(init=False)

    def __post_init__(self) -> None:
        self.ok = all(a.ok for a in self.agreement.values())

    def as_dict(self) -> dict[str, Any]:
        """Everything in the report as JSON-able Python data."""
        return {
            "sizes": self.sizes,
            "activations": self.activations,
            "cost": self.cost,
            "x": self.x,
            "y": self.y,
            "cost_value": {"autodiff": self.cost_autodiff, "closed_form": self.cost_closed},
            "rtol": self.rtol,
            "atol": self.atol,
            "ok": self.ok,
            "equations": {
                name: {"entries": a.entries, "max_abs": a.max_abs, "max_rel": a.max_rel,
                       "ok": a.ok}
                for name, a in self.agreement.items()
            },
            "layers": [layer.as_dict() for layer in self.layers],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """`as_dict` as a JSON string."""
        return json.dumps(self.as_dict(), indent=indent)

    def __str__(self) -> str:
        last = len(self.sizes)
        layers = ", ".join(f"layer {l} {act}" + (" (output)" if l == last else "")
                           for l, act in enumerate(self.activations, 2))  # noqa: E741
        lines = [
            f"network {','.join(map(str, self.sizes))}: {layers}; cost {self.cost}",
            f"x = {_fmt_list(self.x)}   y = {_fmt_list(self.y)}",
            f"C_x: autodiff {self.cost_autodiff:.12g}   closed form {self.cost_closed:.12g}",
            "neurons are numbered from 1, as in the book: j in layer l, k in layer l-1",
        ]
        for layer in reversed(self.layers):  # backprop order: output first
            lines += ["", *_layer_lines(layer)]
        lines += [
            "",
            f"{'equation':<9}{'entries':>8}{'max |diff|':>14}{'max rel diff':>14}  agree",
        ]
        for name, a in self.agreement.items():
            lines.append(f"{name:<9}{a.entries:>8}{a.max_abs:>14.3g}{a.max_rel:>14.3g}  "
                         f"{'yes' if a.ok else 'NO'}")
        verdict = "all four equations agree" if self.ok else "DISAGREEMENT"
        lines.append(f"{verdict} (rtol={self.rtol:g}, atol={self.atol:g})")
        return "\n".join(lines)


def _layer_lines(layer: LayerReport) -> list[str]:
    """One layer of the report: its deltas and bias grads, then its weight grads."""
    l = layer.l  # noqa: E741
    lines = [
        f"layer l={l}" + (" (output)" if layer.equation == "BP1" else ""),
        f"  {'j':>3}  {f'z^{l}_j.grad':>19}  {f'{layer.equation} delta^{l}_j':>19}"
        f"  {f'b^{l}_j.grad':>19}  {f'BP3 delta^{l}_j':>19}",
    ]
    for j, row in enumerate(zip(layer.delta_autodiff, layer.delta_closed,
                                layer.b_grad, layer.bp3, strict=True), 1):
        lines.append(f"  {j:>3}  " + "  ".join(_fmt_number(v) for v in row))
    lines.append(f"  {'j':>3} {'k':>2}  {f'w^{l}_jk.grad':>19}  "
                 f"{f'BP4 a^{l - 1}_k delta^{l}_j':>19}")
    for j, (row_auto, row_closed) in enumerate(zip(layer.w_grad, layer.bp4, strict=True), 1):
        for k, (wa, wc) in enumerate(zip(row_auto, row_closed, strict=True), 1):
            lines.append(f"  {j:>3} {k:>2}  {_fmt_number(wa)}  {_fmt_number(wc)}")
    return lines


def _fmt_number(v: float) -> str:
    """A report number: 12 significant digits, and 0 for -0.0 (the two are equal)."""
    return f"{v + 0.0:>19.12g}"


def _fmt_list(xs: Sequence[float]) -> str:
    return "[" + ", ".join(f"{v + 0.0:.6g}" for v in xs) + "]"


def compare(
    net: MLP,
    x: Sequence[float],
    y: object,
    cost: str = "quadratic",
    *,
    rtol: float = 1e-9,
    atol: float = 1e-12,
) -> Report:
    """Run the engine and the closed form on one example; report how well they agree.

    The engine side is ``trace = net.trace(x)``, the cost from
    `microgrid.losses` on ``trace.output``, and ``C.backward()``; its
    ``z``-node grads (``trace.delta``) are set beside BP1/BP2's ``delta``,
    ``b.grad`` beside BP3 and ``w.grad`` beside BP4. The network's
    gradients are left as they were before the call.

    ``cost`` is one of `microgrid.backprop.COSTS`; ``y`` a list of targets, or for
    ``"log_likelihood"`` a class index or one-hot list. The default
    tolerance allows for float rounding only: both sides compute the same
    sums, in different orders.
    """
    check.choice(cost, COSTS, "cost", who="compare")
    rtol = check.real(rtol, "rtol", at_least=0.0, who="compare")
    atol = check.real(atol, "atol", at_least=0.0, who="compare")
    closed = backprop(net, x, y, cost)
    target = closed.y

    params = net.parameters()
    saved = [p.grad for p in params]
    try:
        net.zero_grad()
        trace = net.trace(list(closed.a[0]))
        c = losses.get_loss(cost)(trace.output, target)
        c.backward()
        delta_autodiff = trace.delta
        b_grads = [[n.b.grad for n in layer.neurons] for layer in net.layers]
        w_grads = [[[wk.grad for wk in n.w] for n in layer.neurons] for layer in net.layers]
        cost_autodiff = c.data
    finally:
        for p, g in zip(params, saved, strict=True):
            p.grad = g

    agreement = {name: Agreement(name) for name in EQUATIONS}
    layers = []
    L = len(closed.z)
    for l in range(2, L + 1):  # noqa: E741
        equation = "BP1" if l == L else "BP2"
        i = l - 2
        layer = LayerReport(
            l=l, equation=equation,
            delta_autodiff=delta_autodiff[l - 1], delta_closed=closed.delta[l - 1],
            b_grad=b_grads[i], bp3=closed.nabla_b[i], w_grad=w_grads[i], bp4=closed.nabla_w[i],
        )
        for auto, ref in zip(layer.delta_autodiff, layer.delta_closed, strict=True):
            agreement[equation].add(auto, ref, rtol, atol)
        for auto, ref in zip(layer.b_grad, layer.bp3, strict=True):
            agreement["BP3"].add(auto, ref, rtol, atol)
        for row_auto, row_ref in zip(layer.w_grad, layer.bp4, strict=True):
            for auto, ref in zip(row_auto, row_ref, strict=True):
                agreement["BP4"].add(auto, ref, rtol, atol)
        layers.append(layer)
    return Report(
        sizes=list(net.sizes),
        activations=[str(layer.activation) for layer in net.layers],
        cost=cost, x=list(closed.a[0]), y=target,
        cost_autodiff=cost_autodiff, cost_closed=closed.cost,
        layers=layers, agreement=agreement, rtol=rtol, atol=atol,
    )
