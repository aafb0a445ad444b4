"""Every notebook in examples/notebooks runs in a fresh Jupyter kernel and shows what it says.

Each notebook is executed top to bottom by nbclient in a new ipykernel (this
interpreter, this checkout first on PYTHONPATH, an empty working directory),
as a learner's *Run All* would. No cell may raise or write to stderr (a
warning is something the reader sees); a cell that ends by drawing
(``draw(...)``, ``draw_network(...)``) must display SVG, one that ends with
a plot a picture; and the lines each notebook prints about agreement (the
equations, the compiled run) must say so. In the repository the notebooks
are stored without outputs.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from microgrid.render import svg_available

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "examples" / "notebooks").glob("*.ipynb"))
HAS_JUPYTER = all(importlib.util.find_spec(name) is not None
                  for name in ("nbclient", "nbformat", "ipykernel"))
HAS_PLOT = all(importlib.util.find_spec(name) is not None for name in ("matplotlib", "numpy"))
HAS_SVG = svg_available()

DRAWINGS = {"draw", "draw_network"}  # a cell ending with one of these calls displays SVG
PLOTS = {"plot_history", "plot_decision_boundary"}  # ... with one of these, a PNG


@dataclass
class Expect:
    """What a reader of one notebook sees: how many drawings and plots, and key lines."""

    svg: int
    png: int
    lines: list[str]
    walkthroughs: int = 0  # cells ending with a Walkthrough: its interactive page (HTML)
    agreements: int = 0  # lines "...agree: True", and no "agree: False"
    needs: list[tuple[bool, str]] = field(default_factory=list)


EXPECTED: dict[str, Expect] = {
    "01_from_a_value_to_an_mlp.ipynb": Expect(
        svg=5, png=0,
        lines=["L = -8.0\n∂L/∂a = 6.0   ∂L/∂b = -4.0   ∂L/∂c = -2.0   ∂L/∂f = 4.0\n",
               "gradcheck ok: 4 of 4 entries checked",
               "o = 0.7071   ∂o/∂n = 1 - o² = 0.5000   ∂o/∂w1 = x1 · (1 - o²) = 1.0000",
               "the same gradients as the neuron above: True",
               "step  0: loss ", "step 29: loss "],
        needs=[(HAS_SVG, "SVG drawings (the graph extra on Python 3.11+, or Graphviz)")],
    ),
    "02_backprop_chapter2.ipynb": Expect(
        svg=2, png=0,
        lines=["layer 3: sigmoid (output)", "delta^3_j", "∂C/∂w^3_jk",
               "BP1: 2 entries", "BP2: 3 entries", "BP3: 5 entries", "BP4: 12 entries",
               "δ vs closed form: 5 entries", "∂C/∂w vs closed form: 12 entries",
               "BP4: 12 entries, largest relative difference",
               "steps, every one agrees with the textbook: True"],
        agreements=10, walkthroughs=1,
        needs=[(HAS_SVG, "SVG drawings (the graph extra on Python 3.11+, or Graphviz)")],
    ),
    "03_training_moons.ipynb": Expect(
        svg=0, png=3,
        lines=["100 steps in ", "training accuracy 100%", "compiled: 100 steps in ",
               "the same trained network as the eager run: True", "1,000 points: 100 steps in "],
        needs=[(HAS_PLOT, "the plot and fast extras (matplotlib, numpy)")],
    ),
}


def last_call(source: str) -> str | None:
    """The name of the function the cell's last line calls, if that line is a bare call."""
    code = "\n".join(line for line in source.splitlines() if not line.startswith("%"))
    body = ast.parse(code).body
    if body and isinstance(body[-1], ast.Expr) and isinstance(body[-1].value, ast.Call):
        func = body[-1].value.func
        if isinstance(func, ast.Name):
            return func.id
    return None


def printed(cell: Any) -> str:
    return "".join(o["text"] for o in cell["outputs"] if o["output_type"] == "stream")


def shown(cell: Any) -> set[str]:
    """The MIME types the cell displays (results and display calls)."""
    return {mime for o in cell["outputs"] if o["output_type"] in ("execute_result", "display_data")
            for mime in o["data"]}


def html_of(cell: Any) -> str:
    return "".join(o["data"].get("text/html", "") for o in cell["outputs"]
                   if o["output_type"] in ("execute_result", "display_data"))


def test_every_notebook_has_expectations() -> None:
    """A new notebook must say here what it shows, so its test asserts something."""
    assert NOTEBOOKS, "no notebooks found in examples/notebooks"
    assert sorted(p.name for p in NOTEBOOKS) == sorted(EXPECTED)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_stored_clean(path: Path) -> None:
    """No outputs, no execution counts, a python3 kernel: a learner's first run is theirs."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    assert notebook["nbformat"] == 4
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert code
    for cell in code:
        assert cell["outputs"] == [] and cell["execution_count"] is None, "".join(cell["source"])
    assert notebook["cells"][0]["cell_type"] == "markdown"
    assert "".join(notebook["cells"][0]["source"]).startswith("# "), "a title for the docs page"


@pytest.mark.skipif(not HAS_JUPYTER, reason="needs nbclient, nbformat and ipykernel: "
                                           'pip install -e ".[dev]"')
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_in_a_fresh_kernel(path: Path, tmp_path: Path) -> None:
    """Run All in a new kernel: no error, no stderr, the drawings, plots and lines promised."""
    import nbformat
    from nbclient import NotebookClient

    expect = EXPECTED[path.name]
    for available, what in expect.needs:
        if not available:
            pytest.skip(f"{path.name} needs {what}")
    notebook = nbformat.read(path, as_version=4)
    # The kernel imports this checkout's microgrid, whatever is installed.
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    client = NotebookClient(notebook, kernel_name="python3", timeout=300,
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env=env)  # raises CellExecutionError, naming the cell, if one raises

    cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    for cell in cells:
        kinds = {o["output_type"] for o in cell["outputs"]}
        assert "error" not in kinds, cell["source"]
        stderr = [o["text"] for o in cell["outputs"]
                  if o["output_type"] == "stream" and o["name"] == "stderr"]
        assert not stderr, f"{cell['source']!r} wrote to stderr: {stderr}"
        called = last_call(cell["source"])
        if called in DRAWINGS:
            assert "image/svg+xml" in shown(cell), f"no SVG from {cell['source']!r}"
        if called in PLOTS:
            assert "image/png" in shown(cell), f"no picture from {cell['source']!r}"
    assert sum("image/svg+xml" in shown(cell) for cell in cells) == expect.svg
    assert sum("image/png" in shown(cell) for cell in cells) == expect.png
    pages = [cell for cell in cells if "<iframe srcdoc=" in html_of(cell)]
    assert len(pages) == expect.walkthroughs
    for cell in pages:  # the page, with its drawing inside, and the Markdown beside it
        assert "&lt;svg" in html_of(cell) and "text/markdown" in shown(cell)

    text = "".join(printed(cell) for cell in cells)
    for line in expect.lines:
        assert line in text, f"{line!r} not printed by {path.name}"
    assert "agree: False" not in text and "DISAGREEMENT" not in text, text
    assert len(re.findall(r"agree: True$", text, flags=re.MULTILINE)) == expect.agreements
    assert list(tmp_path.iterdir()) == [], "notebooks must not litter the working directory"


@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None, reason="needs the docs extra")
def test_the_docs_site_has_every_notebook() -> None:
    """The mkdocs hook adds each notebook as the page notebooks/<name>, and the nav lists it."""
    from mkdocs.structure.files import Files

    spec = importlib.util.spec_from_file_location("mkdocs_notebooks",
                                                  ROOT / "scripts" / "mkdocs_notebooks.py")
    assert spec is not None and spec.loader is not None
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    files = hook.on_files(Files([]), {"site_dir": "/site", "use_directory_urls": True})
    added = {f.src_uri: Path(f.abs_src_path) for f in files}
    assert added == {f"notebooks/{p.name}": p for p in NOTEBOOKS}
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        assert f"- notebooks/{path.name}" in nav
