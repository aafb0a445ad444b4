"""Specification of `microgrid.expression` and the ``microgrid graph`` command.

`evaluate` computes an expression with the engine, allowing only numbers,
the given variables, ``+ - * / **``, unary ``-``/``+`` and the engine's
functions (as functions or methods). Everything else is refused with an
ExpressionError before anything runs; the command exits with status 2.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from microgrid import Value, topological_order
from microgrid.cli import main
from microgrid.expression import FUNCTIONS, ExpressionError, evaluate, parse_assignment

needs_wasm_or_dot = pytest.mark.skipif(
    sys.version_info < (3, 11), reason="rendering without dot needs Python >= 3.11"
)

HOSTILE = [
    "__import__('os')",
    "__import__('os').system('touch pwned')",
    "x.__class__",
    "x.__class__.__mro__",
    "x.data",
    "x.grad",
    "x.backward()",
    "(1).__class__",
    "x.tanh",
    "getattr(x, 'data')",
    "open('f')",
    "eval('1')",
    "exec('1')",
    "globals()",
    "lambda: 1",
    "[c for c in ()]",
    "x if x else x",
    "x < 2",
    "x and x",
    "x[0]",
    "'a' * 3",
    "b'a'",
    "True",
    "None",
    "...",
    "1j",
    "x @ x",
    "x // 2",
    "x % 2",
    "x ^ 2",
    "~x",
    "not x",
    "f'{x}'",
    "(y := 2)",
    "exp(x=1)",
    "exp(*[x])",
    "tanh(x, x)",
    "x.tanh(1)",
    "unknown + x",
    "exp",
    "math.exp(x)",
]


def test_the_value_and_gradients_are_the_engines() -> None:
    """``(x*y + z).tanh()`` equals the same expression written with Values."""
    out = evaluate("(x*y + z).tanh()", {"x": 2.0, "y": -3.0, "z": 1.0})
    out.backward()
    x, y, z = Value(2.0), Value(-3.0), Value(1.0)
    ref = (x * y + z).tanh()
    ref.backward()
    leaves = {v.label: v for v in topological_order(out) if not v.parents}
    assert out.data == ref.data
    assert [leaves[n].grad for n in "xyz"] == [x.grad, y.grad, z.grad]


def test_every_operation_and_function_is_available() -> None:
    text = ("x*x + 2*x - y/2 + x**2 + 2**x + -x + +x + exp(y) + log(x) + tanh(y) + sigmoid(y) "
            "+ relu(y) + sqrt(x) + abs(y) + x.exp() + x.log() + y.tanh() + y.sigmoid() "
            "+ x.relu() + x.sqrt() + y.abs()")
    x, y = 2.0, -3.0
    expected = (x * x + 2 * x - y / 2 + x**2 + 2**x - x + x + math.exp(y) + math.log(x)
                + math.tanh(y) + 1 / (1 + math.exp(-y)) + 0.0 + math.sqrt(x) + abs(y)
                + math.exp(x) + math.log(x) + math.tanh(y) + 1 / (1 + math.exp(-y)) + x
                + math.sqrt(x) + abs(y))
    assert evaluate(text, {"x": x, "y": y}).data == pytest.approx(expected, rel=1e-12)
    assert {"exp", "log", "tanh", "sigmoid", "relu", "sqrt", "abs"} <= set(FUNCTIONS)


def test_a_variable_is_one_leaf_however_often_it_is_used() -> None:
    """``x*x`` has parents (x, x): one leaf labelled x, and d(x*x)/dx = 2x."""
    out = evaluate("x*x", {"x": 3.0})
    out.backward()
    (leaf,) = {v for v in topological_order(out) if not v.parents}
    assert leaf.label == "x" and leaf.grad == 6.0
    given = Value(5.0, label="mine")
    assert evaluate("w * 2", {"w": given}).parents == (given,)


def test_constants_stay_constants() -> None:
    """Numbers are not nodes, as in the engine; a constant-only expression is one leaf."""
    out = evaluate("2 * x + 3 * 4", {"x": 1.0})
    assert len(topological_order(out)) == 3  # x, 2*x, 2*x + 12
    assert out.data == 14.0
    alone = evaluate("2 ** 3 - 1", {})
    assert alone.data == 7.0 and alone.parents == ()


@pytest.mark.parametrize("text", HOSTILE)
def test_everything_else_is_refused_before_running(
    text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ExpressionError):
        evaluate(text, {"x": 1.0, "y": 2.0})
    assert list(tmp_path.iterdir()) == []  # nothing ran


def test_refusals_say_what_is_wrong_and_where() -> None:
    with pytest.raises(ExpressionError, match=r"calls are limited to exp, log.*column 1"):
        evaluate("__import__('os')", {})
    with pytest.raises(ExpressionError, match=r"attribute access.*\.tanh\(\).*x\.data"):
        evaluate("x.data", {"x": 1.0})
    with pytest.raises(ExpressionError, match=r"unknown name 'q'.*--set q=NUMBER.*x, y"):
        evaluate("x + q", {"x": 1.0, "y": 2.0})
    with pytest.raises(ExpressionError, match="exp is a function"):
        evaluate("exp + 1", {})
    with pytest.raises(ExpressionError, match="not a valid expression"):
        evaluate("x +", {"x": 1.0})
    with pytest.raises(ExpressionError, match="empty"):
        evaluate("  ", {})


def test_domain_errors_are_the_engines_never_complex_or_inf() -> None:
    with pytest.raises(ValueError, match="log"):
        evaluate("log(x)", {"x": -1.0})
    with pytest.raises(ValueError, match="not a real number"):
        evaluate("(-8) ** 0.5", {})
    with pytest.raises(ZeroDivisionError):
        evaluate("1 / 0", {})
    with pytest.raises(OverflowError, match="overflows"):
        evaluate("2 ** 10 ** 10", {})
    with pytest.raises(OverflowError, match="too large"):
        evaluate("1" + "0" * 400, {})
    with pytest.raises(OverflowError, match="overflows"):
        evaluate("1e308 * 10", {})


def test_long_and_deep_expressions_never_hit_recursion_errors() -> None:
    """Checking and computing are iterative; a too-deep parse is an ExpressionError."""
    assert evaluate("+".join(["x"] * 2_000), {"x": 1.0}).data == 2_000.0
    try:
        result = evaluate("+".join(["x"] * 40_000), {"x": 1.0})
    except ExpressionError as e:
        assert "nested too deeply" in str(e)
    else:
        assert result.data == 40_000.0
    with pytest.raises(ExpressionError, match="limit"):
        evaluate("x" * 100_001, {"x": 1.0})


def test_parse_assignment() -> None:
    assert parse_assignment("x=2") == ("x", 2.0)
    assert parse_assignment(" rate = -1e-3 ") == ("rate", -0.001)
    for bad, message in [("x", "NAME=NUMBER"), ("1x=2", "NAME=NUMBER"), ("for=1", "NAME=NUMBER"),
                         ("x=abc", "expected a number"), ("x=nan", "finite"),
                         ("x=inf", "finite"), ("exp=1", "engine's functions")]:
        with pytest.raises(ExpressionError, match=message):
            parse_assignment(bad)


def test_variables_must_be_numbers_or_values() -> None:
    with pytest.raises(TypeError, match="'x'"):
        evaluate("x", {"x": "2"})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="str"):
        evaluate(2, {})  # type: ignore[arg-type]


# -- the command line ----------------------------------------------------------------


@needs_wasm_or_dot
def test_cli_graph_saves_the_drawing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "graph.svg"
    status = main(["graph", "(x*y + z).tanh()", "--set", "x=2", "--set", "y=-3",
                   "--set", "z=1", "-o", str(target)])
    out = capsys.readouterr().out
    assert status == 0
    assert target.read_text().startswith("<?xml")
    assert f"saved {target}" in out and "-0.9999" in out
    texts = [t.text for t in ET.parse(target).iter("{http://www.w3.org/2000/svg}text")]
    assert "grad = -0.0005447" in texts  # d tanh(xy + z)/dx = y (1 - tanh^2) at (2, -3, 1)


def test_cli_graph_writes_dot_without_any_renderer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    target = tmp_path / "graph.dot"
    assert main(["graph", "x**2", "--set", "x=3", "--no-grad", "-o", str(target)]) == 0
    assert 'label="x|data = 3"' in target.read_text()


@pytest.mark.parametrize("text", ["__import__('os')", "x.__class__", "x.data", "unknown + x"])
def test_cli_graph_rejects_hostile_expressions(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "graph.svg"
    assert main(["graph", text, "--set", "x=1", "-o", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("microgrid graph: error: ")
    assert not target.exists()


def test_cli_graph_bad_arguments_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "x", "--set", "x"]) == 2
    assert "NAME=NUMBER" in capsys.readouterr().err
    assert main(["graph", "log(x)", "--set", "x=0"]) == 2
    assert "logarithm" in capsys.readouterr().err
    assert main(["graph", "x", "--set", "x=1", "-o", str(tmp_path / "g.bmp")]) == 2
    assert "suffix" in capsys.readouterr().err


def test_cli_graph_pdf_without_dot_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["graph", "x*2", "--set", "x=1", "-o", str(tmp_path / "g.pdf")]) == 1
    err = capsys.readouterr().err
    assert "PDF needs Graphviz" in err and "-o graph.dot" in err
    assert not (tmp_path / "g.pdf").exists()


def test_cli_graph_counts_one_node_in_the_singular(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["graph", "x", "--set", "x=1", "-o", str(tmp_path / "g.dot")]) == 0
    assert "(1 node; x = 1)" in capsys.readouterr().out
    assert main(["graph", "x*2", "--set", "x=1", "-o", str(tmp_path / "g.dot")]) == 0
    assert "(3 nodes; result = 2)" in capsys.readouterr().out


@pytest.mark.parametrize("second", ["x=5", "ｘ=5"])
def test_cli_graph_refuses_a_variable_set_twice(
    second: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The last one used to win silently."""
    target = tmp_path / "g.dot"
    assert main(["graph", "x", "--set", "x=2", "--set", second, "-o", str(target)]) == 2
    err = capsys.readouterr().err
    assert err == (f"microgrid graph: error: --set x is given twice (x=2 and {second!r}); "
                   "give each variable once\n")
    assert not target.exists()


def test_names_are_read_as_python_reads_them_in_set_and_expression(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Python's parser reads ｘ (fullwidth) as x; a --set name or a variables key too."""
    assert parse_assignment("ｘ=2") == ("x", 2.0)
    assert parse_assignment("ℌ=1") == ("H", 1.0)
    for key, text in [("ｘ", "ｘ*2"), ("ｘ", "x*2"), ("x", "ｘ*2")]:
        out = evaluate(text, {key: 2.0})
        assert out.data == 4.0 and out.parents[0].label == "x"
    with pytest.raises(ExpressionError, match="'ｘ' and 'x' are the same name 'x'"):
        evaluate("x", {"x": 1.0, "ｘ": 2.0})
    with pytest.raises(ExpressionError, match="NAME=NUMBER"):
        parse_assignment("ｉｆ=1")  # the keyword `if`
    assert main(["graph", "ｘ*2", "--set", "ｘ=2", "-o", str(tmp_path / "g.dot")]) == 0
    assert "result = 4" in capsys.readouterr().out


def test_cli_graph_timeout_reaches_the_renderer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--timeout SECONDS (default the library's 60 s; 0 for no limit)."""
    from microgrid.graph import Drawing
    from microgrid.render import DEFAULT_TIMEOUT

    seen: list[float | None] = []
    monkeypatch.setattr(Drawing, "save",
                        lambda self, path, renderer, timeout: seen.append(timeout) or Path(path))
    target = str(tmp_path / "g.svg")
    for extra in ([], ["--timeout", "5"], ["--timeout", "0"], ["--timeout=2.5"]):
        assert main(["graph", "x*2", "--set", "x=1", "-o", target, *extra]) == 0
    assert seen == [DEFAULT_TIMEOUT, 5.0, math.inf, 2.5]
    for bad in ("-1", "soon", "nan"):
        with pytest.raises(SystemExit) as info:
            main(["graph", "x", "--set", "x=1", "--timeout", bad])
        assert info.value.code == 2
        assert "expected a number of seconds (0 for no limit)" in capsys.readouterr().err
    help_text = _help(["graph", "--help"], capsys)
    assert f"default {DEFAULT_TIMEOUT:g}; 0 for no limit" in " ".join(help_text.split())


def test_cli_graph_says_what_to_do_when_time_runs_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from microgrid.graph import Drawing
    from microgrid.render import RenderTimeoutError

    def slow(self: Drawing, path: str, renderer: str, timeout: float) -> Path:
        raise RenderTimeoutError(timeout, "the in-process Graphviz")

    monkeypatch.setattr(Drawing, "save", slow)
    assert main(["graph", "x*2", "--set", "x=1", "--timeout", "3"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "took longer than --timeout 3 s" in err
    assert "larger --timeout (0 for no limit)" in err and "-o graph.dot" in err


def test_ctrl_c_in_microgrid_graph_is_one_line_and_status_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from microgrid.graph import Drawing

    def interrupted(self: Drawing, *args: object, **kwargs: object) -> Path:
        raise KeyboardInterrupt

    monkeypatch.setattr(Drawing, "save", interrupted)
    assert main(["graph", "x*2", "--set", "x=1"]) == 130
    assert capsys.readouterr().err == "microgrid graph: interrupted\n"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_real_ctrl_c_during_a_render_ends_the_command_with_one_line(tmp_path: Path) -> None:
    """SIGINT while the drawing renders: no traceback, exit status 130."""
    script = textwrap.dedent("""
        import signal, sys, time
        signal.signal(signal.SIGINT, signal.default_int_handler)
        from microgrid.cli import main
        from microgrid.graph import Drawing
        def save(self, *args, **kwargs):
            print("ready", flush=True)
            time.sleep(60)
        Drawing.save = save
        raise SystemExit(main(["graph", "x*2", "--set", "x=1"]))
    """)
    import microgrid

    env = {**os.environ, "PYTHONPATH": str(Path(microgrid.__file__).parents[1])}
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=30)
    finally:
        child.kill()
        child.wait()
    assert err == "microgrid graph: interrupted\n"
    assert child.returncode == 130


def _help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        main(argv)
    return capsys.readouterr().out


def test_the_module_docstring_examples_run() -> None:
    import doctest

    import microgrid.expression

    result = doctest.testmod(microgrid.expression)
    assert result.attempted > 3 and result.failed == 0
