"""The walkthrough's HTML page in a real browser (`microgrid._walkthrough_page`).

Chromium (the system's: Debian's ``chromium`` package, or the program named
by ``MICROGRID_CHROMIUM``) is driven by playwright's Python API. Each test
opens the page from a file, with every request routed through a handler
that lets only that file through and records anything else (a script, a
font, a favicon: none may be asked for), steps through every step with the
keyboard and the buttons, and checks what the page shows against the
engine's numbers: the step counter, the highlighted nodes and edges, the
engine's number in the current step, and each grad on the drawing hidden
until its step computes it. No console message of type error, no page error.

Where playwright or a Chromium cannot be had, the tests skip saying which.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from microgrid import MLP, Value
from microgrid.render import svg_available
from microgrid.walkthrough import Walkthrough, explain

playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (the dev extra has it)")

CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic", "--disable-gpu"]


def chromium_path() -> str | None:
    """The system Chromium: ``MICROGRID_CHROMIUM``, else the first on PATH."""
    named = os.environ.get("MICROGRID_CHROMIUM")
    if named:
        return named
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium on PATH (install Debian's chromium, or set MICROGRID_CHROMIUM)")
    if not svg_available():
        pytest.skip("no SVG renderer (the graph extra on Python 3.11+, or Graphviz's dot)")
    with playwright_api.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        except playwright_api.Error as e:
            pytest.skip(f"Chromium at {path} does not start: {str(e).splitlines()[0]}")
        yield b
        b.close()


class Page:
    """A walkthrough page open in the browser, its requests and errors recorded."""

    def __init__(self, browser: Any, walk: Walkthrough, tmp_path: Path) -> None:
        self.walk = walk
        self.file = walk.save(tmp_path / "walkthrough.html")
        self.url = self.file.resolve().as_uri()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page = browser.new_page(viewport={"width": 1300, "height": 900})
        self.page.route("**/*", self._route)
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(self.url)

    def _route(self, route: Any) -> None:
        url = route.request.url
        if url == self.url:
            route.continue_()
        else:
            self.requests.append(url)
            route.abort()

    def titles(self, selector: str) -> list[str]:
        return sorted(self.page.eval_on_selector_all(
            selector, "els => els.map(e => e.querySelector('title').textContent)"))

    def check(self, i: int) -> None:
        """The page shows step ``i`` (from 0) as the walkthrough says it is."""
        step = self.walk.steps[i]
        n = len(self.walk.steps)
        assert self.page.text_content("#counter") == f"step {i + 1} of {n}"
        assert self.page.get_attribute("#current", "data-step") == str(i + 1)
        assert self.titles("g.node.hl") == sorted(step.nodes)
        assert self.titles("g.edge.hl") == sorted(f"{t}->{h}" for t, h in step.edges)
        shown = self.page.text_content("#current .value")
        assert shown == format(step.engine + 0.0, ".4g")
        assert self.page.text_content("#current .eq") == step.text
        assert self.page.text_content("#current .verdict") == "agrees"
        # Each grad on the drawing: hidden ("?") until the step that computes it.
        computed = {node for s in self.walk.steps[:i + 1] for node in s.reveals}
        for node, (prefix, value) in self.grad_texts().items():
            assert value == (self.expected_grad(node) if node in computed else "?"), (i, node)
            assert prefix in ("δ = ", "grad = ")

    def grad_texts(self) -> dict[str, tuple[str, str]]:
        pairs = self.page.eval_on_selector_all("g.node", """els => els.map(g => {
            const t = Array.from(g.querySelectorAll('text')).map(e => e.textContent)
                .find(s => s.startsWith('δ = ') || s.startsWith('grad = '));
            return [g.querySelector('title').textContent, t || null];
        })""")
        return {node: (text.split("= ")[0] + "= ", text.split("= ", 1)[1])
                for node, text in pairs
                if text is not None and "grad" in self.walk.node_info.get(node, {})}

    def expected_grad(self, node: str) -> str:
        """The drawing's number for a node's grad: the engine's, to 4 digits."""
        revealing = next(s for s in self.walk.steps if node in s.reveals)
        return format(revealing.engine, ".4g")

    def press(self, key: str) -> None:
        self.page.keyboard.press(key)

    def click(self, button: str) -> None:
        self.page.click(f"#{button}")

    def close(self) -> None:
        assert self.requests == [], f"the page asked for {self.requests}"
        assert self.errors == [], f"console errors: {self.errors}"
        self.page.close()


def step_through(page: Page) -> None:
    """Every step forward (keys for the first half, the Next button after), then back."""
    n = len(page.walk.steps)
    page.check(0)
    for i in range(1, n):
        if i <= n // 2:
            page.press("ArrowRight")
        else:
            page.click("next")
        page.check(i)
    page.click("next")  # past the end: stays on the last step
    page.check(n - 1)
    for i in range(n - 2, -1, -1):
        if i % 2:
            page.press("ArrowLeft")
        else:
            page.click("prev")
        page.check(i)
    page.press("End")
    page.check(n - 1)
    page.press("Home")
    page.check(0)
    page.click("last")
    page.check(n - 1)
    page.click("first")
    page.check(0)


def test_a_network_walkthrough_steps_through_in_the_browser(browser: Any, tmp_path: Path) -> None:
    net = MLP(2, [2, 2], activation="sigmoid", init="normal", seed=0)
    walk = explain(net, [0.05, 0.1], [0.01, 0.99], lr=0.5)
    page = Page(browser, walk, tmp_path)
    step_through(page)
    # Hover: a neuron's a and its delta, which is not computed before BP1 reaches it.
    page.page.hover("g.node:has(title:text-is('n3_1'))")
    assert page.page.text_content("#hover") == (
        f"a³₁: data = {walk.node_info['n3_1']['data']}, δ³₁ = not computed yet (step 10)")
    page.press("End")
    assert page.page.text_content("#hover").endswith(f"δ³₁ = {walk.node_info['n3_1']['grad']}")
    # Clicking a step in the list goes there.
    page.page.click("#step-12")
    page.check(11)
    screenshot = page.page.screenshot(path=str(tmp_path / "walkthrough.png"))
    assert screenshot.startswith(b"\x89PNG")
    page.close()


def test_a_graph_walkthrough_steps_through_in_the_browser(browser: Any, tmp_path: Path) -> None:
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    n = x1 * w1 + x2 * w2 + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    page = Page(browser, explain(o), tmp_path)
    step_through(page)
    page.close()


def test_play_advances_and_pause_stops(browser: Any, tmp_path: Path) -> None:
    a = Value(3.0, label="a")
    c = a * a + a
    c.label = "c"
    walk = explain(c)
    assert len(walk.steps) == 3
    page = Page(browser, walk, tmp_path)
    page.click("play")
    page.page.wait_for_function("document.getElementById('counter').textContent "
                                "=== 'step 2 of 3'", timeout=5000)
    assert "Pause" in page.page.text_content("#play")
    page.press(" ")  # the space bar pauses too
    assert "Play" in page.page.text_content("#play")
    stopped = page.page.text_content("#counter")
    page.page.wait_for_timeout(1500)
    assert page.page.text_content("#counter") == stopped
    page.close()


def test_a_disagreement_is_marked_on_the_page(browser: Any, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from microgrid import backprop

    real = backprop.sigma_prime
    monkeypatch.setattr(backprop, "sigma_prime", lambda act, z: real(act, z) * 1.01)
    walk = explain(MLP(2, [2, 1], activation="sigmoid", seed=0), [0.5, 0.5], [1.0])
    page = Page(browser, walk, tmp_path)
    assert "DISAGREE" in page.page.text_content("#verdict")
    bad = walk.disagreements[0].number
    page.page.click(f"#step-{bad}")
    assert page.page.text_content("#current .verdict").startswith("DISAGREES with the textbook's")
    page.close()
