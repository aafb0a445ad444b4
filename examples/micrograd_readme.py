"""micrograd's README example, line for line, on microgrid's `Value`.

micrograd (github.com/karpathy/micrograd) shows this expression in its
README and the numbers its forward and backward passes print. microgrid
runs the same code (only the import differs) and gets the same numbers:

    python examples/micrograd_readme.py
"""

from __future__ import annotations

from microgrid import Value


def main() -> int:
    a = Value(-4.0)
    b = Value(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    print(f"{g.data:.4f}")  # prints 24.7041, the outcome of this forward pass
    g.backward()
    print(f"{a.grad:.4f}")  # prints 138.8338, i.e. the numerical value of dg/da
    print(f"{b.grad:.4f}")  # prints 645.5773, i.e. the numerical value of dg/db

    # The numbers micrograd's README shows, to the 4 decimals it prints.
    expected = {"g.data": (g.data, 24.7041), "a.grad": (a.grad, 138.8338),
                "b.grad": (b.grad, 645.5773)}
    wrong = [name for name, (got, want) in expected.items() if f"{got:.4f}" != f"{want:.4f}"]
    if wrong:
        print(f"differs from micrograd's README: {', '.join(wrong)}")
        return 1
    print("same numbers as micrograd's README")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
