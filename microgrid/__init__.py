"""microgrid: a small, fast reverse-mode scalar autodiff engine.

The public face of the package: it only re-exports. The engine's names are
imported at once (the standard library only); the others from their modules
when first used, so ``import microgrid`` (and ``microgrid --help``) load the
engine and little else.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# At once: the engine (stdlib only), and gradcheck, a function with its module's
# name (importing the module later would put the module under that name).
from microgrid.engine import (
    Scalar,
    Value,
    detect_anomaly,
    exp,
    is_anomaly_enabled,
    is_grad_enabled,
    linear,
    linear_layer,
    log,
    logsumexp,
    no_grad,
    relu,
    sigmoid,
    sqrt,
    sum_of,
    tanh,
    topological_order,
)
from microgrid.engine import abs as abs
from microgrid.gradcheck import gradcheck

if TYPE_CHECKING:  # for type checkers; at run time `__getattr__` imports on first use
    from microgrid.compiler import TracingError
    from microgrid.compiler import compile as compile
    from microgrid.derivatives import grad, hessian, hvp, jacobian
    from microgrid.graph import Drawing, draw, draw_network
    from microgrid.nn import MLP, Layer, Module, Neuron, Trace
    from microgrid.optim import SGD, Adam
    from microgrid.report import compare
    from microgrid.train import DivergenceError, History, fit
    from microgrid.walkthrough import Walkthrough, explain

__version__ = "0.1.0"

_HOMES = {
    "microgrid.compiler": ["TracingError", "compile"],  # numpy only when compile is called
    "microgrid.derivatives": ["grad", "hessian", "hvp", "jacobian"],
    "microgrid.graph": ["Drawing", "draw", "draw_network"],  # renderers only when used
    "microgrid.nn": ["MLP", "Layer", "Module", "Neuron", "Trace"],
    "microgrid.optim": ["SGD", "Adam"],
    "microgrid.report": ["compare"],
    "microgrid.train": ["DivergenceError", "History", "fit"],
    "microgrid.walkthrough": ["Walkthrough", "explain"],  # a leaf: presents a backward pass
}
_HOME = {name: module for module, names in _HOMES.items() for name in names}

# `abs` and `compile` are importable by name, but not by `import *`, which
# would replace Python's own.
__all__ = [
    "MLP", "SGD", "Adam", "DivergenceError", "Drawing", "History", "Layer", "Module", "Neuron",
    "Scalar", "Trace", "TracingError", "Value", "Walkthrough", "__version__", "compare",
    "detect_anomaly", "draw", "draw_network", "exp", "explain", "fit", "grad", "gradcheck",
    "hessian", "hvp", "is_anomaly_enabled", "is_grad_enabled", "jacobian", "linear",
    "linear_layer", "log", "logsumexp", "no_grad", "relu", "sigmoid", "sqrt", "sum_of", "tanh",
    "topological_order",
]


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use (PEP 562)."""
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'microgrid' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once: later reads find it without this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOME})
