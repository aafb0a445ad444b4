"""A griffe extension for the docs site: doctest lines in docstrings render as code.

Python strips a docstring's common indentation, so in a docstring whose only
indented part is an example, the ``>>>`` lines end up at the left margin,
and Markdown reads ``>`` as a quotation. This extension wraps each such run
of doctest lines (the ``>>>`` and ``...`` lines and their output, up to a
blank line) in a ``pycon`` code fence before mkdocstrings renders it. The
docstrings themselves are unchanged (and still run as doctests).

Used by mkdocs.yml (``extensions: [scripts/griffe_doctests.py]``).
"""

from __future__ import annotations

from typing import Any

import griffe


def fence_doctests(text: str) -> str:
    """``text`` with each run of unindented doctest lines inside a ```pycon fence."""
    lines = text.split("\n")
    out: list[str] = []
    in_fence = False  # inside a fence the docstring wrote itself
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        if not in_fence and line.startswith(">>>"):
            block = []
            while i < len(lines) and lines[i].strip():
                block.append(lines[i])
                i += 1
            out += ["```pycon", *block, "```"]
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


class DoctestFences(griffe.Extension):
    """Wrap unindented doctest examples of every docstring in code fences."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None and ">>>" in obj.docstring.value:
            obj.docstring.value = fence_doctests(obj.docstring.value)
