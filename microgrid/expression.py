"""Safe evaluation of arithmetic over Values, for ``microgrid graph "(x*y + z).tanh()"``.

`evaluate` reads the text with Python's `ast` and allows only what the
engine computes: numbers, the variables it is given, ``+ - * / **``, unary
``-`` and ``+``, and the engine's functions (`FUNCTIONS`, those of
`microgrid.engine.OPS` with a ``call`` name), called as functions
(``tanh(x)``) or as methods (``x.tanh()``).
Anything else (other names, attributes, subscripts, comparisons, lambdas,
strings, keyword arguments...) raises `ExpressionError` naming it, before
anything is computed. Nothing of the text is ever run as Python.

    >>> from microgrid import Value
    >>> out = evaluate("(x*y + z).tanh()", {"x": 2.0, "y": -3.0, "z": 1.0})
    >>> round(out.data, 6)
    -0.999909
    >>> try:  # doctest: +ELLIPSIS
    ...     evaluate("__import__('os')", {})
    ... except ExpressionError as e:
    ...     print(e)
    calls are limited to exp, log, ... (at column 1: __import__(...))
"""

from __future__ import annotations

import ast
import keyword
import math
import operator
import unicodedata
from collections.abc import Callable, Mapping
from typing import cast

from microgrid import engine
from microgrid.engine import Value

__all__ = ["FUNCTIONS", "MAX_LENGTH", "ExpressionError", "evaluate", "parse_assignment"]

FUNCTIONS = tuple(spec.call for spec in engine.OPS.values() if spec.call is not None)
"""The engine's functions an expression may call (``exp``, ``log``, ``tanh``, ...)."""

MAX_LENGTH = 100_000
"""The longest expression text accepted (in characters)."""

Number = Value | float

_BINARY: dict[type[ast.operator], Callable[[Number, Number], Number]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}


class ExpressionError(ValueError):
    """An expression uses something outside the engine's arithmetic (the message says what)."""


def evaluate(text: str, variables: Mapping[str, float | Value]) -> Value:
    """The Value of expression ``text``, each variable a leaf Value labelled by its name.

    ``variables`` maps names to numbers (each becomes ``Value(number,
    label=name)``, one leaf however often it is used) or to Values (used as
    given). Names are read as Python reads identifiers (NFKC-normalised:
    ``ｘ`` is ``x``), in the text and in ``variables`` alike. A result without
    variables (``"2 * 3"``) is returned as a leaf.
    Raises `ExpressionError` for anything outside the allowed arithmetic and
    the engine's ValueError/ZeroDivisionError/OverflowError for a domain error.
    """
    if not isinstance(text, str):
        raise TypeError(f"expression must be a str, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression is {len(text)} characters long; "
                              f"the limit is {MAX_LENGTH}")
    leaves: dict[str, Value] = {}
    for given, value in variables.items():
        name = _identifier(given)
        if name in leaves:
            raise ExpressionError(f"variables {given!r} and {_given(variables, name)!r} are "
                                  f"the same name {name!r} to Python; give it once")
        leaves[name] = _leaf(name, value)
    if not text.strip():
        raise ExpressionError("the expression is empty")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        raise ExpressionError(f"not a valid expression: {e.msg} (at column {e.offset})") from None
    except (RecursionError, MemoryError):
        raise ExpressionError("expression is nested too deeply for Python's parser "
                              "(a sum of thousands of terms, say)") from None
    nodes = _checked_nodes(tree, leaves)
    result = _run(nodes, leaves)
    return result if isinstance(result, Value) else Value(result)


def parse_assignment(text: str) -> tuple[str, float]:
    """``"x=2"`` -> ``("x", 2.0)``: a variable binding as ``--set`` takes it.

    The name must be an identifier (not a keyword or one of `FUNCTIONS`),
    the value a finite number; otherwise ExpressionError says which. The
    name comes back as Python reads it in an expression (``"ｘ=2"`` gives
    ``("x", 2.0)``).
    """
    name, sep, number = text.partition("=")
    name, number = _identifier(name.strip()), number.strip()
    if not sep or not name.isidentifier() or keyword.iskeyword(name):
        raise ExpressionError(f"expected NAME=NUMBER such as x=2, got {text!r}")
    if name in FUNCTIONS:
        raise ExpressionError(f"{name!r} is one of the engine's functions; "
                              "choose another variable name")
    try:
        value = float(number)
    except ValueError:
        raise ExpressionError(f"{name}: expected a number after '=', got {number!r}") from None
    if not math.isfinite(value):
        raise ExpressionError(f"{name}: expected a finite number, got {number!r}")
    return name, value


def _identifier(name: str) -> str:
    """``name`` as Python's parser reads an identifier: NFKC-normalised (``ｘ`` is ``x``)."""
    if not isinstance(name, str):
        raise TypeError(f"variable names must be str, got {type(name).__name__} {name!r}")
    return unicodedata.normalize("NFKC", name)


def _given(variables: Mapping[str, object], name: str) -> str:
    """The first key of ``variables`` that reads as ``name``."""
    return next(key for key in variables if _identifier(key) == name)


def _leaf(name: str, value: float | Value) -> Value:
    if isinstance(value, Value):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"variable {name!r}: expected a number or a Value, "
                        f"got {type(value).__name__}")
    return Value(float(value), label=name)


def _where(node: ast.AST) -> str:
    column = getattr(node, "col_offset", -1) + 1
    try:
        shown = ast.unparse(node.func if isinstance(node, ast.Call) else node)
    except RecursionError:
        shown = type(node).__name__
    if isinstance(node, ast.Call):
        shown += "(...)"
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return f"at column {column}: {shown}" if column > 0 else shown


def _checked_nodes(tree: ast.Expression, leaves: Mapping[str, Value]) -> list[ast.expr]:
    """Every node of the expression, children before parents, after checking each.

    Iterative (an explicit stack), so a long sum does not hit Python's
    recursion limit.
    """
    order: list[ast.expr] = []
    stack: list[tuple[ast.expr, bool]] = [(tree.body, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            order.append(node)
            continue
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(_children(node, leaves)))
    return order


def _children(node: ast.expr, leaves: Mapping[str, Value]) -> list[ast.expr]:
    """The operands of an allowed node; raises ExpressionError for any other node."""
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ExpressionError(f"only numbers are allowed as constants ({_where(node)})")
        return []
    if isinstance(node, ast.Name):
        if node.id in leaves:
            return []
        if node.id in FUNCTIONS:
            raise ExpressionError(f"{node.id} is a function: call it, as {node.id}(x) "
                                  f"({_where(node)})")
        known = ", ".join(sorted(leaves)) or "none"
        raise ExpressionError(f"unknown name {node.id!r} ({_where(node)}); bind it with "
                              f"--set {node.id}=NUMBER (variables: {known})")
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _BINARY:
            raise ExpressionError(f"operator not allowed; use + - * / ** ({_where(node)})")
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            raise ExpressionError(f"operator not allowed; use + - * / ** ({_where(node)})")
        return [node.operand]
    if isinstance(node, ast.Call):
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise ExpressionError(f"keyword or starred arguments are not allowed "
                                  f"({_where(node)})")
        func = node.func
        if isinstance(func, ast.Name) and func.id in FUNCTIONS:
            if len(node.args) != 1:
                raise ExpressionError(f"{func.id} takes one argument, got {len(node.args)} "
                                      f"({_where(node)})")
            return [node.args[0]]
        if isinstance(func, ast.Attribute) and func.attr in FUNCTIONS:
            if node.args:
                raise ExpressionError(f".{func.attr}() takes no arguments ({_where(node)})")
            return [func.value]
        raise ExpressionError(f"calls are limited to {', '.join(FUNCTIONS)} ({_where(node)})")
    if isinstance(node, ast.Attribute):
        raise ExpressionError(f"attribute access is not allowed; the engine's methods are "
                              f"{', '.join(f'.{f}()' for f in FUNCTIONS)} ({_where(node)})")
    raise ExpressionError(f"{type(node).__name__} is not allowed in an expression; use "
                          f"numbers, variables, + - * / ** and {', '.join(FUNCTIONS)} "
                          f"({_where(node)})")


def _run(nodes: list[ast.expr], leaves: Mapping[str, Value]) -> Number:
    """Compute the checked nodes in order (each node's operands come before it)."""
    results: dict[int, Number] = {}
    for node in nodes:
        if isinstance(node, ast.Constant):
            try:
                result: Number = _finite(float(cast(float, node.value)), node)
            except OverflowError:
                raise OverflowError(f"{_where(node)} is too large for a float") from None
        elif isinstance(node, ast.Name):
            result = leaves[node.id]
        elif isinstance(node, ast.BinOp):
            left, right = results.pop(id(node.left)), results.pop(id(node.right))
            if isinstance(left, Value) or isinstance(right, Value):
                result = _BINARY[type(node.op)](left, right)
            else:
                result = _float_operation(type(node.op), left, right, node)
        elif isinstance(node, ast.UnaryOp):
            operand = results.pop(id(node.operand))
            result = -operand if isinstance(node.op, ast.USub) else operand
        else:
            assert isinstance(node, ast.Call)  # _children allowed nothing else
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr  # type: ignore[attr-defined]
            argument = node.args[0] if isinstance(func, ast.Name) else func.value  # type: ignore[attr-defined]
            result = getattr(engine, name)(results.pop(id(argument)))
        results[id(node)] = result
    (final,) = results.values()
    return final


def _finite(x: float, node: ast.AST) -> float:
    if not math.isfinite(x):
        raise OverflowError(f"{_where(node)} overflows a float")
    return x


def _float_operation(op: type[ast.operator], a: float, b: float, node: ast.AST) -> float:
    """Arithmetic on two plain numbers, with the engine's errors (never complex or inf)."""
    if op is ast.Pow:
        try:
            return _finite(math.pow(a, b), node)
        except ValueError:
            raise ValueError(f"{a!r} ** {b!r} is not a real number ({_where(node)})") from None
        except OverflowError:
            raise OverflowError(f"{_where(node)} overflows a float") from None
    if op is ast.Div and b == 0.0:
        raise ZeroDivisionError(f"division by zero ({_where(node)})")
    return _finite(_BINARY[op](a, b), node)  # type: ignore[arg-type]
