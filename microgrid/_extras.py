"""How to install an optional extra, for the messages that name one.

The package is not on a package index yet, so a hint names both ways: the
index's name, and the editable install that works inside a clone.
"""

from __future__ import annotations

__all__ = ["install_hint"]


def install_hint(extra: str) -> str:
    """The commands that install ``extra``, from a package index and inside a clone.

        >>> print(install_hint("graph"))
        pip install "microgrid-autodiff[graph]" (in a clone: pip install -e ".[graph]")
    """
    return (f'pip install "microgrid-autodiff[{extra}]" '
            f'(in a clone: pip install -e ".[{extra}]")')
