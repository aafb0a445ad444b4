"""Regenerate docs/walkthrough.md's worked example and its screenshot.

The worked example is the Markdown that `microgrid.explain` writes for the
2-2-2 sigmoid network of ``docs/walkthrough-2-2-2.json`` (quadratic cost,
x = [0.05, 0.1], y = [0.01, 0.99], learning rate 0.5), pasted between the
page's ``<!-- walkthrough:begin -->`` and ``<!-- walkthrough:end -->``
markers; ``tests/test_walkthrough.py`` checks that the page holds exactly
what the library writes. The screenshot is the interactive page at step
12 (BP2), taken by the system Chromium through playwright.

    python scripts/make_walkthrough_docs.py               # both
    python scripts/make_walkthrough_docs.py --no-picture  # the Markdown only
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from microgrid import MLP
from microgrid.walkthrough import Walkthrough, explain

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "walkthrough.md"
MODEL = ROOT / "docs" / "walkthrough-2-2-2.json"
PICTURE = ROOT / "docs" / "img" / "walkthrough" / "page.png"
BEGIN, END = "<!-- walkthrough:begin -->", "<!-- walkthrough:end -->"
X, Y, LR = [0.05, 0.1], [0.01, 0.99], 0.5


def worked_example() -> Walkthrough:
    """The page's example: the 2-2-2 network of the model file, one step of SGD."""
    return explain(MLP.load(MODEL), X, Y, cost="quadratic", lr=LR)


def embedded(page: str) -> str:
    """The Markdown between the page's markers."""
    start, end = page.index(BEGIN) + len(BEGIN), page.index(END)
    return page[start:end].strip("\n") + "\n"


def write_markdown() -> None:
    page = PAGE.read_text(encoding="utf-8")
    start, end = page.index(BEGIN) + len(BEGIN), page.index(END)
    PAGE.write_text(page[:start] + "\n" + worked_example().markdown(level=2) + "\n"
                    + page[end:], encoding="utf-8")


def take_screenshot(step: int = 12) -> None:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("no chromium on PATH (Debian: apt-get install chromium)")
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as p:
        html = worked_example().save(Path(folder) / "walkthrough.html")
        browser = p.chromium.launch(executable_path=chromium, args=[
            "--no-sandbox", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-quic"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(html.resolve().as_uri())
        for _ in range(step - 1):
            page.keyboard.press("ArrowRight")
        PICTURE.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(PICTURE))
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-picture", action="store_true", help="skip the screenshot")
    args = parser.parse_args()
    write_markdown()
    print(f"wrote the worked example into {PAGE.relative_to(ROOT)}")
    if not args.no_picture:
        take_screenshot()
        print(f"wrote {PICTURE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
