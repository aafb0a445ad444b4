"""Draw a neuron's computation graph, with every value and gradient, as SVG.

The neuron of micrograd's video lecture: two inputs, two weights, a bias
chosen so that ``n = 0.8814`` and ``o = tanh(n) = 0.7071``, built with
``*`` and ``+`` so every step shows; then the same neuron as microgrid's
`Neuron` builds it, one ``linear`` node ``z = w . x + b`` and one ``tanh``.
Renders in-process (the ``graph`` extra), no system Graphviz needed.

    python examples/draw_neuron.py                  # writes to a temporary folder
    python examples/draw_neuron.py out/neuron.svg   # writes there (and neuron_linear.svg)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from microgrid import Value, linear
from microgrid.graph import draw


def main(argv: list[str]) -> int:
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    x1w1 = x1 * w1
    x1w1.label = "x1*w1"
    x2w2 = x2 * w2
    x2w2.label = "x2*w2"
    n = x1w1 + x2w2 + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    o.backward()
    print(f"o = tanh(n) = {o.data:.4f}")
    print(f"do/dx1 = {x1.grad:.4f}  do/dw1 = {w1.grad:.4f}  "
          f"do/dx2 = {x2.grad:.4f}  do/dw2 = {w2.grad:.4f}")

    # The same neuron with one linear node, as microgrid's Neuron builds it.
    xs = [Value(2.0, label="x1"), Value(0.0, label="x2")]
    ws = [Value(-3.0, label="w1"), Value(1.0, label="w2")]
    bias = Value(6.8813735870195432, label="b")
    z = linear(ws, xs, bias)
    z.label = "z"
    a = z.tanh()
    a.label = "a"
    a.backward()
    same = [v.grad for v in (*xs, *ws, bias)] == [v.grad for v in (x1, x2, w1, w2, b)]
    print(f"the linear-node neuron has the same gradients: {same}")

    if len(argv) > 1:
        path = Path(argv[1])
        path.parent.mkdir(parents=True, exist_ok=True)
    else:
        path = Path(tempfile.mkdtemp(prefix="microgrid-")) / "neuron.svg"
    linear_path = path.with_name(path.stem + "_linear" + path.suffix)
    try:
        # params/inputs say which leaves are which (a network's draw knows it)
        draw(o, params=[w1, w2, b], inputs=[x1, x2],
             title="o = tanh(x1*w1 + x2*w2 + b)").save(path)
        draw(a, params=[*ws, bias], inputs=xs,
             title="a = tanh(z), z = w . x + b: one linear node").save(linear_path)
    except ImportError as e:  # no renderer: the message names the extra to install
        print(e)
        return 1
    print(f"wrote {path}")
    print(f"wrote {linear_path}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
