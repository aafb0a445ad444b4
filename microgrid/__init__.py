"""microgrid: a small, fast reverse-mode scalar autodiff engine.

The public face of the package: it only re-exports.
"""

from microgrid.backprop import compare
from microgrid.compiler import TracingError
from microgrid.compiler import compile as compile  # imports numpy only when called
from microgrid.engine import (
    Scalar,
    Value,
    abs,
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
from microgrid.gradcheck import gradcheck
from microgrid.graph import Drawing, draw, draw_network  # renderers imported only when used
from microgrid.nn import MLP, Layer, Module, Neuron, Trace
from microgrid.optim import SGD, Adam
from microgrid.train import DivergenceError, History, fit

__version__ = "0.1.0"

__all__ = [
    "MLP",
    "SGD",
    "Adam",
    "DivergenceError",
    "Drawing",
    "History",
    "Layer",
    "Module",
    "Neuron",
    "Scalar",
    "Trace",
    "TracingError",
    "Value",
    "__version__",
    "abs",
    "compare",
    "detect_anomaly",
    "draw",
    "draw_network",
    "exp",
    "fit",
    "gradcheck",
    "is_anomaly_enabled",
    "is_grad_enabled",
    "linear",
    "linear_layer",
    "log",
    "logsumexp",
    "no_grad",
    "relu",
    "sigmoid",
    "sqrt",
    "sum_of",
    "tanh",
    "topological_order",
]
