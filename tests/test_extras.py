"""Specification of `microgrid._extras`: the install hint every "missing extra" message gives.

The package is not on a package index yet: a hint names the index's command
and the one that works inside a clone, and every module's hint comes from
this one function.
"""

from __future__ import annotations

import doctest

import microgrid._extras
from microgrid import compiler, demo, plot, render
from microgrid._extras import install_hint


def test_a_hint_names_the_package_index_and_the_clone() -> None:
    hint = install_hint("graph")
    assert 'pip install "microgrid-autodiff[graph]"' in hint
    assert 'pip install -e ".[graph]"' in hint


def test_every_module_takes_its_hint_from_the_one_function() -> None:
    assert install_hint("graph") == render.INSTALL_EXTRA
    assert install_hint("plot") == plot.INSTALL_HINT
    assert install_hint("fast") == compiler.INSTALL_HINT
    assert {"plot": install_hint("plot"), "graph": install_hint("graph")} == demo._EXTRAS


def test_the_module_docstring_examples_run() -> None:
    result = doctest.testmod(microgrid._extras)
    assert result.attempted == 1 and result.failed == 0
