"""Specification of the package's public face, `microgrid/__init__.py`.

It only re-exports, each name imported from its module on first use, so that
``import microgrid`` and ``microgrid --help`` load little; ``abs`` and
``compile`` are importable by name but not by ``import *``.
"""

from __future__ import annotations

import builtins
import subprocess
import sys

import pytest

import microgrid


def loaded_by(code: str) -> list[str]:
    """The microgrid modules (and numpy) a fresh interpreter has loaded after ``code``."""
    probe = (f"{code}\nimport sys\nprint(' '.join(sorted(m for m in sys.modules "
             "if m.startswith('microgrid') or m == 'numpy')))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout
    return out.split()


def test_every_public_name_resolves_to_the_object_of_its_module() -> None:
    from microgrid import engine, nn, train

    for name in [*microgrid.__all__, "abs", "compile"]:
        assert getattr(microgrid, name) is not None
    assert (microgrid.Value, microgrid.MLP, microgrid.fit) == (engine.Value, nn.MLP, train.fit)
    assert callable(microgrid.gradcheck) and microgrid.abs is engine.abs
    assert {"Value", "draw", "compile"} <= set(dir(microgrid))
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        microgrid.nothing


def test_import_star_leaves_pythons_abs_and_compile_alone() -> None:
    namespace: dict[str, object] = {}
    exec("from microgrid import *", namespace)
    assert "abs" not in namespace and "compile" not in namespace
    assert "Value" in namespace and "sum_of" in namespace
    exec("r = abs(-3); c = compile('1 + 1', '<test>', 'eval')", namespace)
    assert namespace["r"] == 3 and eval(namespace["c"]) == 2  # type: ignore[arg-type]
    assert namespace.get("abs", builtins.abs) is builtins.abs


def test_importing_microgrid_loads_the_engine_and_little_else() -> None:
    assert loaded_by("import microgrid") == ["microgrid", "microgrid._checks",
                                              "microgrid.engine", "microgrid.gradcheck"]
    assert "microgrid.nn" in loaded_by("import microgrid; microgrid.MLP")
    assert "numpy" not in loaded_by("from microgrid import compile, TracingError, Value")


def test_the_help_of_the_command_line_loads_little() -> None:
    """It loads the modules whose names it lists (the engine's functions, the
    activations, costs and datasets), not the compiler, training, plots or numpy."""
    code = ("import contextlib, io\nfrom microgrid.cli import main\n"
            "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
            "    main(['--help'])")
    loaded = set(loaded_by(code))
    assert {"microgrid.engine", "microgrid.expression"} <= loaded
    assert not loaded & {"numpy", "microgrid.compiler", "microgrid.train", "microgrid.demo",
                         "microgrid.plot", "microgrid.losses"}


def test_gradcheck_is_the_function_even_once_its_module_is_imported() -> None:
    """The function shares its module's name; importing the module must not replace it."""
    code = "import microgrid.gradcheck, microgrid\nprint(callable(microgrid.gradcheck))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
