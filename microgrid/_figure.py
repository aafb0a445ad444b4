"""The figure `microgrid.plot` returns: a matplotlib Figure that a notebook shows as a picture.

Jupyter shows a matplotlib figure as a picture only once pyplot's inline
backend has registered itself, which a figure made without pyplot never
triggers: in a fresh kernel it would show as ``<Figure size 600x400 with 1
Axes>``. This subclass carries its own `_repr_png_`, so it shows whatever the
backend. Where the inline backend is on, IPython uses that backend's
formatter instead (it is looked up by type first), so a figure still shows
once. Imported by `microgrid.plot` only when it draws (it imports matplotlib).
"""

from __future__ import annotations

import io

from matplotlib.figure import Figure

__all__ = ["NotebookFigure"]


class NotebookFigure(Figure):
    """A matplotlib `~matplotlib.figure.Figure` that displays itself in Jupyter as a PNG."""

    def _repr_png_(self) -> bytes:
        """The figure as PNG bytes, cropped to what is drawn, as the inline backend shows it."""
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", bbox_inches="tight", facecolor="white")
        return buffer.getvalue()
