"""Specification of `microgrid._checks`: one policy for checking arguments.

A wrong type is a TypeError, a bad value a ValueError; every message names
the function, the argument and the value given (quoted short). The module
imports nothing from the package, so the independent witness can use it.
"""

from __future__ import annotations

import ast
import doctest
import math
from fractions import Fraction
from pathlib import Path

import pytest

from microgrid import _checks as check

ROOT = Path(__file__).resolve().parents[1]


def test_the_doctests_pass() -> None:
    assert doctest.testmod(check).failed == 0


def test_it_imports_nothing_from_the_package() -> None:
    tree = ast.parse((ROOT / "microgrid" / "_checks.py").read_text(encoding="utf-8"))
    imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in imported if m.split(".")[0] == "microgrid"]


# -- integer --------------------------------------------------------------------


def test_integer_returns_an_int_within_its_bounds() -> None:
    assert check.integer(3, "n", at_least=1) == 3
    assert check.integer(5, "n", at_least=2, at_most=5) == 5
    assert type(check.integer(True + 0, "n")) is int


@pytest.mark.parametrize("bad", [2.0, "3", None, True, Fraction(1, 2)])
def test_integer_refuses_a_non_int_with_a_type_error(bad: object) -> None:
    with pytest.raises(TypeError, match=rf"^fit: epochs must be an int, got {type(bad).__name__} "):
        check.integer(bad, "epochs", at_least=1, who="fit")


@pytest.mark.parametrize(
    ("value", "kwargs", "message"),
    [
        (0, {"at_least": 1}, "n must be an int >= 1, got 0"),
        (9, {"at_most": 8}, "n must be an int <= 8, got 9"),
        (1, {"at_least": 2, "at_most": 1000}, "n must be an int from 2 to 1000, got 1"),
        (1, {"at_least": 2, "why": "one point per class"},
         r"n must be an int >= 2 \(one point per class\), got 1"),
    ],
)
def test_integer_refuses_an_int_out_of_bounds_with_a_value_error(
    value: int, kwargs: dict[str, int], message: str
) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        check.integer(value, "n", **kwargs)  # type: ignore[arg-type]


# -- real -----------------------------------------------------------------------


def test_real_returns_a_float() -> None:
    assert check.real(1, "lr") == 1.0 and type(check.real(1, "lr")) is float
    assert check.real(Fraction(1, 4), "lr", at_least=0.0, below=1.0) == 0.25


@pytest.mark.parametrize("bad", ["0.1", None, True, [1.0], 1j])
def test_real_refuses_a_non_number_with_a_type_error(bad: object) -> None:
    pattern = rf"^SGD: lr must be a real number, got {type(bad).__name__} "
    with pytest.raises(TypeError, match=pattern):
        check.real(bad, "lr", who="SGD")


@pytest.mark.parametrize(
    ("value", "kwargs", "message"),
    [
        (math.nan, {}, "x must be a finite number, got nan"),
        (-math.inf, {"at_least": 0.0}, "x must be a finite number >= 0, got -inf"),
        (10**400, {}, r"x must be a finite number, got 10{10,20}\.\.\.0{10,20}"),
        (-0.1, {"at_least": 0.0}, r"x must be a finite number >= 0, got -0\.1"),
        (0.0, {"above": 0.0}, r"x must be a finite number > 0, got 0\.0"),
        (1.0, {"at_least": 0.0, "below": 1.0}, r"x must be a finite number in \[0, 1\), got 1\.0"),
        (1.0, {"above": 0.0, "below": 1.0}, r"x must be a finite number in \(0, 1\), got 1\.0"),
        (2.0, {"below": 1.0}, r"x must be a finite number < 1, got 2\.0"),
        (0.0, {"above": 0.0, "why": "it keeps the step finite"},
         r"x must be a finite number > 0 \(it keeps the step finite\), got 0\.0"),
    ],
)
def test_real_refuses_a_bad_value_with_a_value_error(
    value: float, kwargs: dict[str, float], message: str
) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        check.real(value, "x", **kwargs)  # type: ignore[arg-type]


# -- names, seeds, functions ------------------------------------------------------


def test_choice_returns_a_valid_name() -> None:
    assert check.choice("relu", ("relu", "tanh"), "activation") == "relu"


def test_choice_refuses_a_non_string_with_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"^MLP: init must be a str, one of he, normal; got int 3$"):
        check.choice(3, ("he", "normal"), "init", who="MLP")


def test_choice_refuses_an_unknown_name_listing_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"^unknown cost 'mse'; valid: quadratic, cross_entropy$"):
        check.choice("mse", ("quadratic", "cross_entropy"), "cost")


def test_choice_suggests_the_spelling_with_underscores() -> None:
    with pytest.raises(ValueError, match=r"unknown cost 'cross-entropy' \(did you mean "
                                         r"'cross_entropy'\?\)"):
        check.choice("cross-entropy", ("quadratic", "cross_entropy"), "cost")


def test_seed_is_an_int_or_none() -> None:
    assert check.seed(None) is None
    assert check.seed(7) == 7
    with pytest.raises(TypeError, match=r"^fit: seed must be an int or None, got str 'x'$"):
        check.seed("x", who="fit")
    with pytest.raises(TypeError, match="got bool True"):
        check.seed(True)


def test_function_is_callable_or_none() -> None:
    assert check.function(None, "callback") is None
    assert check.function(print, "callback") is print
    with pytest.raises(TypeError, match=r"^fit: callback must be callable or None, got int 3$"):
        check.function(3, "callback", who="fit")


def test_values_are_quoted_short() -> None:
    assert check.quote("x" * 1000).startswith("'xxxx") and len(check.quote("x" * 1000)) < 50
    assert check.quote(10**10000) == "an int of 33220 bits"
