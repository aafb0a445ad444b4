"""Argument checks, with one policy for every public function.

A wrong type raises `TypeError`, a bad value `ValueError`, and the message
names the function (``who``), the argument and the value given, quoted
short (a 4,000-digit int or a megabyte-long string is not repeated)::

    >>> integer(2.5, "epochs", at_least=1, who="fit")
    Traceback (most recent call last):
    ...
    TypeError: fit: epochs must be an int, got float 2.5
    >>> real(-0.1, "lr", at_least=0.0, who="SGD")
    Traceback (most recent call last):
    ...
    ValueError: SGD: lr must be a finite number >= 0, got -0.1

``bool`` is never a number here, though Python counts it as an int. This
module imports nothing from the package, so `microgrid.backprop`, the
independent witness, may use it without importing the engine.
"""

from __future__ import annotations

import math
import numbers
import reprlib
from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = ["choice", "function", "integer", "quote", "real", "seed"]

_F = TypeVar("_F", bound=Callable[..., object])

_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxlong = _SHORT.maxother = 40
_SHORT.maxlist = _SHORT.maxdict = 6
_SHORT.maxlevel = 2


def quote(x: object) -> str:
    """``repr(x)``, cut short for an error message."""
    try:
        return _SHORT.repr(x)
    except ValueError:  # an int past Python's limit of digits for str()
        return f"an int of {x.bit_length()} bits" if isinstance(x, int) else type(x).__name__


def _named(name: str, who: str) -> str:
    return f"{who}: {name}" if who else name


def _given(x: object) -> str:
    return f"{type(x).__name__} {quote(x)}"


def choice(value: object, valid: Sequence[str], name: str, *, who: str = "") -> str:
    """``value`` if it is one of the names ``valid``."""
    if not isinstance(value, str):
        raise TypeError(f"{_named(name, who)} must be a str, one of {', '.join(valid)}; "
                        f"got {_given(value)}")
    if value not in valid:
        hint = next((f" (did you mean {v!r}?)" for v in valid
                     if v.replace("_", "-") == value.replace("_", "-")), "")
        where = f"{who}: " if who else ""
        raise ValueError(f"{where}unknown {name} {quote(value)}{hint}; valid: {', '.join(valid)}")
    return value


def integer(
    value: object,
    name: str,
    *,
    at_least: int | None = None,
    at_most: int | None = None,
    who: str = "",
    why: str = "",
) -> int:
    """``value`` as an int within the bounds given; ``why`` explains them in the message."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{_named(name, who)} must be an int, got {_given(value)}")
    n = int(value)
    if (at_least is not None and n < at_least) or (at_most is not None and n > at_most):
        if at_most is None:
            bounds = f">= {at_least}"
        elif at_least is None:
            bounds = f"<= {at_most}"
        else:
            bounds = f"from {at_least} to {at_most}"
        because = f" ({why})" if why else ""
        raise ValueError(f"{_named(name, who)} must be an int {bounds}{because}, "
                         f"got {quote(value)}")
    return n


def real(
    value: object,
    name: str,
    *,
    at_least: float | None = None,
    above: float | None = None,
    below: float | None = None,
    who: str = "",
    why: str = "",
) -> float:
    """``value`` as a finite float, ``>= at_least``, ``> above`` and ``< below`` if given."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{_named(name, who)} must be a real number, got {_given(value)}")
    try:
        x = float(value)
    except OverflowError:
        x = math.inf  # an int too large for a float
    bad = (not math.isfinite(x)
           or (at_least is not None and not x >= at_least)
           or (above is not None and not x > above)
           or (below is not None and not x < below))
    if bad:
        low = (f"[{at_least:g}" if at_least is not None
               else f"({above:g}" if above is not None else None)
        if low is not None and below is not None:
            bounds = f" in {low}, {below:g})"
        elif low is not None:
            bounds = f" {'>=' if at_least is not None else '>'} {low[1:]}"
        elif below is not None:
            bounds = f" < {below:g}"
        else:
            bounds = ""
        because = f" ({why})" if why else ""
        raise ValueError(f"{_named(name, who)} must be a finite number{bounds}{because}, "
                         f"got {quote(value)}")
    return x


def seed(value: object, name: str = "seed", *, who: str = "") -> int | None:
    """A random seed: an int, or None for a fresh random one."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{_named(name, who)} must be an int or None, got {_given(value)}")
    return int(value)


def function(value: _F | None, name: str, *, who: str = "") -> _F | None:
    """``value`` if it is callable or None."""
    if value is not None and not callable(value):
        raise TypeError(f"{_named(name, who)} must be callable or None, got {_given(value)}")
    return value
