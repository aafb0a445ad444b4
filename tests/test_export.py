"""Specification of microgrid.export: the way out to numpy (network.py) and PyTorch.

- Round trips keep every parameter bit for bit, the architecture, and the
  activations: MLP -> to_torch -> from_torch and MLP -> to_arrays ->
  from_arrays give the same network.
- The layouts are the book's: ``weights[l][j, k]`` is ``w^{l+2}_jk``;
  network.py's own feedforward and backprop, run on `to_arrays`' output,
  give microgrid's outputs and gradients; torch's module gives them too
  (float64, to 1e-12).
- Reading refuses, naming the problem, what an MLP cannot hold.
- numpy and torch are imported only when asked for.

The torch tests skip only where torch is not installed (CI installs its CPU
wheel from disk when it has one).
"""

from __future__ import annotations

import doctest
import importlib.util
import itertools
import math
import random
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from microgrid import MLP, Value, export
from microgrid.losses import quadratic
from microgrid.nn import Layer

np = pytest.importorskip("numpy", reason="to_arrays/from_arrays need numpy (fast extra)")

HAS_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.torch  # skips without torch (tests/conftest.py)
if HAS_TORCH:
    import torch

ROOT = Path(__file__).resolve().parent.parent
HIDDEN = ["sigmoid", "tanh", "relu", "linear"]
OUTPUTS = [*HIDDEN, "softmax"]


def bits(net: MLP) -> list[str]:
    """Every parameter, exactly (float.hex tells -0.0 from 0.0, and every last bit)."""
    return [p.data.hex() for p in net.parameters()]


def same_network(a: MLP, b: MLP) -> bool:
    return (a.sizes, a.activation, a.output_activation, bits(a)) == (
        b.sizes, b.activation, b.output_activation, bits(b))


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


def awkward(net: MLP) -> MLP:
    """Parameters no rounding may touch: -0.0, the smallest subnormal, huge, 1/3."""
    for p, x in zip(net.parameters(), [-0.0, 5e-324, -1.5e300, 1 / 3, 0.1], strict=False):
        p.data = x
    return net


architectures = st.tuples(
    st.lists(st.integers(1, 6), min_size=2, max_size=4),
    st.sampled_from(HIDDEN),
    st.sampled_from(OUTPUTS),
    st.integers(0, 2**32),
)


# -- round trips --------------------------------------------------------------------


@given(architectures)
def test_arrays_round_trip_keeps_every_bit(arch):
    sizes, hidden, output, seed = arch
    net = awkward(MLP(sizes[0], sizes[1:], hidden, output, seed=seed))
    biases, weights = net.to_arrays()
    back = MLP.from_arrays(biases, weights, hidden, output)
    assert same_network(back, net)
    assert back.init is None and back.seed is None


@needs_torch
@given(architectures)
def test_torch_round_trip_keeps_every_bit_and_the_activations(arch):
    sizes, hidden, output, seed = arch
    net = awkward(MLP(sizes[0], sizes[1:], hidden, output, seed=seed))
    back = MLP.from_torch(net.to_torch())
    if len(sizes) == 2:  # no hidden layer: the hidden activation is not in the module
        assert back.activation == "relu"
        back.activation = hidden
    assert same_network(back, net)


@needs_torch
def test_a_module_read_back_writes_the_same_module():
    module = torch.nn.Sequential(torch.nn.Linear(3, 4, dtype=torch.float64), torch.nn.Tanh(),
                                 torch.nn.Linear(4, 2, dtype=torch.float64))
    again = MLP.from_torch(module).to_torch()
    assert str(again) == str(module)
    for p, q in zip(module.parameters(), again.parameters(), strict=True):
        assert torch.equal(p, q) and q.dtype == torch.float64


# -- layouts --------------------------------------------------------------------------


def test_arrays_are_network_py_s_layout():
    """weights[l] is (n_l, n_{l-1}), [j-1, k-1] the book's w^{l+2}_jk; biases[l] is (n_l, 1)."""
    net = MLP(3, [4, 2], seed=0)
    biases, weights = net.to_arrays()
    assert [w.shape for w in weights] == [(4, 3), (2, 4)]
    assert [b.shape for b in biases] == [(4, 1), (2, 1)]
    assert all(a.dtype == np.float64 for a in biases + weights)
    neuron = net.layers[1].neurons[1]
    assert neuron.w[3].label == "w^3_24" and weights[1][1, 3] == neuron.w[3].data
    assert biases[1][1, 0] == neuron.b.data


def network_py_feedforward(biases, weights, a):
    """network.py's Network.feedforward (sigmoid), as the book writes it."""
    for b, w in zip(biases, weights, strict=True):
        a = 1.0 / (1.0 + np.exp(-(np.dot(w, a) + b)))
    return a


def network_py_backprop(biases, weights, x, y):
    """network.py's Network.backprop: the gradient of C_x = 1/2 |a - y|^2, as the book
    writes it (BP1-BP4, sigmoid), ported to Python 3."""
    def sigmoid(z):
        return 1.0 / (1.0 + np.exp(-z))

    nabla_b = [np.zeros(b.shape) for b in biases]
    nabla_w = [np.zeros(w.shape) for w in weights]
    activation, activations, zs = x, [x], []
    for b, w in zip(biases, weights, strict=True):
        z = np.dot(w, activation) + b
        zs.append(z)
        activation = sigmoid(z)
        activations.append(activation)
    delta = (activations[-1] - y) * sigmoid(zs[-1]) * (1 - sigmoid(zs[-1]))
    nabla_b[-1] = delta
    nabla_w[-1] = np.dot(delta, activations[-2].transpose())
    for layer in range(2, len(biases) + 1):
        sp = sigmoid(zs[-layer]) * (1 - sigmoid(zs[-layer]))
        delta = np.dot(weights[-layer + 1].transpose(), delta) * sp
        nabla_b[-layer] = delta
        nabla_w[-layer] = np.dot(delta, activations[-layer - 1].transpose())
    return nabla_b, nabla_w


@given(st.lists(st.integers(1, 6), min_size=2, max_size=4), st.integers(0, 2**32))
def test_network_py_computes_microgrids_outputs_and_gradients_from_the_arrays(sizes, seed):
    """The book's own code, given to_arrays(), agrees with the engine to 1e-12."""
    rng = random.Random(seed)
    net = MLP(sizes[0], sizes[1:], "sigmoid", "sigmoid", init="normal", seed=seed)
    x = [rng.uniform(-2, 2) for _ in range(sizes[0])]
    y = [rng.random() for _ in range(sizes[-1])]
    biases, weights = net.to_arrays()
    column = np.array(x).reshape(-1, 1)
    a = network_py_feedforward(biases, weights, column)
    out = net(x)
    assert all(close(a[j, 0], out[j].data) for j in range(sizes[-1]))
    quadratic(out, y).backward()
    nabla_b, nabla_w = network_py_backprop(biases, weights, column, np.array(y).reshape(-1, 1))
    for layer, nb, nw in zip(net.layers, nabla_b, nabla_w, strict=True):
        for j, neuron in enumerate(layer.neurons):
            assert close(nb[j, 0], neuron.b.grad)
            assert all(close(nw[j, k], wk.grad) for k, wk in enumerate(neuron.w))


def test_from_arrays_reads_a_network_py_network():
    """network.py's initialisation (np.random.randn, biases (n, 1)) read as it is."""
    gen = np.random.default_rng(0)
    sizes = [4, 5, 3]
    biases = [gen.standard_normal((n, 1)) for n in sizes[1:]]
    weights = [gen.standard_normal((n, m)) for m, n in itertools.pairwise(sizes)]
    net = MLP.from_arrays(biases, weights)
    assert net.sizes == sizes and net.activation == net.output_activation == "sigmoid"
    x = [0.5, -1.0, 2.0, 0.0]
    a = network_py_feedforward(biases, weights, np.array(x).reshape(-1, 1))
    assert all(close(a[j, 0], out.data) for j, out in enumerate(net(x)))


def test_from_arrays_takes_1d_biases_int_arrays_and_tuples():
    net = MLP.from_arrays((np.array([0.5]),), (np.array([[1, 2]]),), "relu", "linear")
    assert bits(net) == [(1.0).hex(), (2.0).hex(), (0.5).hex()]
    net = MLP.from_arrays([[[0.25]]], [[[3.0]]])  # nested lists are arrays too
    assert bits(net) == [(3.0).hex(), (0.25).hex()]


def test_exported_arrays_and_modules_are_copies():
    net = MLP(2, [2, 1], seed=0)
    before = bits(net)
    biases, weights = net.to_arrays()
    weights[0][0, 0] += 1.0
    biases[0][0, 0] += 1.0
    assert bits(net) == before
    net2 = MLP.from_arrays(biases, weights, "relu", "linear")
    weights[0][0, 0] += 1.0
    assert net2.layers[0].neurons[0].w[0].data == weights[0][0, 0] - 1.0
    if HAS_TORCH:
        module = net.to_torch()
        with torch.no_grad():
            module[0].weight.add_(1.0)
        assert bits(net) == before


# -- PyTorch agrees -----------------------------------------------------------------------


@needs_torch
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_torch_outputs_and_every_gradient_agree_to_1e_12(hidden, output):
    """C = sum over 8 examples of 1/2 |y - a|^2: the outputs, every parameter's gradient
    and the inputs' gradients, microgrid's against torch.autograd's (float64)."""
    rng = random.Random(1)
    net = MLP(3, [5, 4, 2], hidden, output, init="normal", seed=2)
    X = [[rng.uniform(-2, 2) for _ in range(3)] for _ in range(8)]
    Y = [[rng.random() for _ in range(2)] for _ in range(8)]
    module = net.to_torch()
    inputs = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    a = module(inputs)
    (0.5 * ((torch.tensor(Y, dtype=torch.float64) - a) ** 2).sum()).backward()

    xs = [[Value(v) for v in row] for row in X]
    outs = [net(row) for row in xs]
    sum(quadratic(out, y) for out, y in zip(outs, Y, strict=True)).backward()

    assert all(close(a[i, j].item(), aj.data) for i, out in enumerate(outs)
               for j, aj in enumerate(out))
    linears = [m for m in module if isinstance(m, torch.nn.Linear)]
    for layer, linear in zip(net.layers, linears, strict=True):
        for j, neuron in enumerate(layer.neurons):
            assert close(linear.bias.grad[j].item(), neuron.b.grad)
            assert all(close(linear.weight.grad[j, k].item(), wk.grad)
                       for k, wk in enumerate(neuron.w))
    assert all(close(inputs.grad[i, k].item(), v.grad) for i, row in enumerate(xs)
               for k, v in enumerate(row))


@needs_torch
def test_torch_module_reads_single_examples_and_batches():
    """Softmax(dim=-1) normalises over the outputs for an example or a batch."""
    net = MLP(2, [3], output_activation="softmax", seed=0)
    module = net.to_torch()
    one = module(torch.tensor([0.5, -1.0], dtype=torch.float64))
    batch = module(torch.tensor([[0.5, -1.0], [2.0, 0.0]], dtype=torch.float64))
    assert one.shape == (3,) and batch.shape == (2, 3)
    assert torch.equal(one, batch[0])
    assert all(close(one[j].item(), a.data) for j, a in enumerate(net([0.5, -1.0])))


@needs_torch
def test_to_torch_float32_rounds_each_parameter_to_nearest():
    net = awkward(MLP(2, [3, 1], seed=0))
    module = net.to_torch(torch.float32)
    values = [p.data for p in net.parameters()]
    rounded = torch.tensor(values, dtype=torch.float32)
    got = torch.cat([torch.cat([lin.weight, lin.bias[:, None]], 1).reshape(-1)
                     for lin in module if isinstance(lin, torch.nn.Linear)])
    assert got.dtype == torch.float32 and torch.equal(got, rounded)


@needs_torch
def test_from_torch_reads_float32_modules_exactly():
    module = torch.nn.Linear(2, 1)  # float32, torch's default
    net = MLP.from_torch(module)
    assert [p.data for p in net.parameters()] == [*module.weight[0].tolist(), module.bias.item()]
    assert net.output_activation == "linear"


@needs_torch
def test_to_torch_leaves_torchs_random_state_alone():
    state = torch.get_rng_state()
    MLP(10, [20, 5], seed=0).to_torch()
    assert torch.equal(torch.get_rng_state(), state)


@needs_torch
def test_from_torch_skips_identity_and_takes_softmax_over_dim_1():
    module = torch.nn.Sequential(torch.nn.Identity(), torch.nn.Linear(2, 3), torch.nn.ReLU(),
                                 torch.nn.Linear(3, 2), torch.nn.Softmax(dim=1))
    net = MLP.from_torch(module)
    assert (net.sizes, net.activation, net.output_activation) == ([2, 3, 2], "relu", "softmax")


@needs_torch
def test_from_torch_and_from_arrays_build_the_class_they_are_called_on():
    class Mine(MLP):
        pass

    assert type(Mine.from_torch(torch.nn.Linear(2, 1))) is Mine
    assert type(Mine.from_arrays([np.zeros((1, 1))], [np.ones((1, 2))])) is Mine


# -- what cannot be read ---------------------------------------------------------------------


def bad_torch_module(case: str) -> tuple[Any, type[Exception], str]:
    """The module of each case (built when asked for), the error, and its message."""
    nn = torch.nn

    def linear(n_in: int, n_out: int, **kw: Any) -> Any:
        return nn.Linear(n_in, n_out, dtype=torch.float64, **kw)

    def no_outputs() -> Any:
        with warnings.catch_warnings():  # torch warns that initialising nothing does nothing
            warnings.simplefilter("ignore")
            return nn.Sequential(linear(2, 0))

    def with_nan() -> Any:
        layer = linear(2, 2)
        with torch.no_grad():
            layer.weight[1, 0] = math.nan
        return nn.Sequential(layer)

    cases: dict[str, tuple[Any, type[Exception], str]] = {
        "not a Sequential": (lambda: nn.ReLU(), TypeError,
                             "expected a torch.nn.Sequential .*got ReLU"),
        "a list": (lambda: [linear(2, 2)], TypeError, "expected a torch.nn.Sequential .*got list"),
        "no bias": (lambda: nn.Sequential(linear(2, 2, bias=False)), ValueError,
                    r"module 0 \(Linear.*bias=False\)\) has no bias"),
        "other activation": (lambda: nn.Sequential(linear(2, 2), nn.LeakyReLU()), ValueError,
                             r"module 1 \(LeakyReLU.*\) cannot be read"),
        "dropout": (lambda: nn.Sequential(linear(2, 2), nn.Dropout(0.5)), ValueError,
                    r"module 1 \(Dropout"),
        "nested": (lambda: nn.Sequential(nn.Sequential(linear(2, 2))), ValueError,
                   r"module 0 \(Sequential"),
        "mixed hidden": (lambda: nn.Sequential(linear(2, 2), nn.ReLU(), linear(2, 2), nn.Tanh(),
                                               linear(2, 1)), ValueError,
                         r"the hidden layers' activations differ \(relu, tanh\)"),
        "softmax hidden": (lambda: nn.Sequential(linear(2, 2), nn.Softmax(dim=-1), linear(2, 1)),
                           ValueError, "Softmax after a hidden layer"),
        "two activations": (lambda: nn.Sequential(linear(2, 2), nn.ReLU(), nn.Sigmoid()),
                            ValueError, r"module 2 \(Sigmoid\(\)\) cannot be read"),
        "activation first": (lambda: nn.Sequential(nn.ReLU(), linear(2, 2)), ValueError,
                             r"module 0 \(ReLU\(\)\) cannot be read"),
        "softmax dim 0": (lambda: nn.Sequential(linear(2, 2), nn.Softmax(dim=0)), ValueError,
                          r"module 1 \(Softmax\(dim=0\)\) cannot be read"),
        "empty": (lambda: nn.Sequential(), ValueError, "no Linear layer"),
        "sizes do not chain": (lambda: nn.Sequential(linear(2, 3), linear(4, 1)), ValueError,
                               "module 1 .* takes 4 inputs but the layer before it has 3"),
        "no outputs": (no_outputs, ValueError,
                       r"module 0 \(Linear.*out_features=0.*\) has no inputs or outputs"),
        "nan": (with_nan, ValueError,
                r"Linear layer 0's weight\[1, 0\] is nan; expected a finite number"),
        "complex": (lambda: nn.Sequential(nn.Linear(2, 2, dtype=torch.complex128)), TypeError,
                    "Linear layer 0's weight is torch.complex128"),
    }
    make, error, pattern = cases[case]
    return make(), error, pattern


@needs_torch
@pytest.mark.parametrize("case", [
    "not a Sequential", "a list", "no bias", "other activation", "dropout", "nested",
    "mixed hidden", "softmax hidden", "two activations", "activation first", "softmax dim 0",
    "empty", "sizes do not chain", "no outputs", "nan", "complex"])
def test_from_torch_refuses_what_an_mlp_cannot_express(case):
    module, error, pattern = bad_torch_module(case)
    with pytest.raises(error, match=f"from_torch: {pattern}"):
        MLP.from_torch(module)


W = np.ones((2, 3))
B = np.zeros((2, 1))


@pytest.mark.parametrize(
    ("biases", "weights", "error", "pattern"),
    [
        (B, [W], TypeError, "biases must be a list of arrays.*got ndarray"),
        ([B], W, TypeError, r"weights must be a list of arrays.*\(network.py's net.weights\)"),
        ([B, B], [W], ValueError, "expected as many biases as weights.*got 2 and 1"),
        ([], [], ValueError, "expected as many .* at least one.*got 0 and 0"),
        ([B], [np.ones(3)], ValueError, r"weights\[0\] has shape \(3,\); expected \(n_l, n_l-1\)"),
        ([B], [np.ones((2, 0))], ValueError, r"weights\[0\] has shape \(2, 0\)"),
        ([B, B], [W, W], ValueError,
         r"weights\[1\] has shape \(2, 3\), but weights\[0\] has 2 rows \(neurons\): "
         "expected 2 columns"),
        ([np.zeros((3, 1))], [W], ValueError,
         r"biases\[0\] has shape \(3, 1\); expected \(2, 1\) for the 2 rows of weights\[0\]"),
        ([np.zeros((1, 2))], [W], ValueError, r"biases\[0\] has shape \(1, 2\)"),
        ([B], [W.astype(complex)], TypeError, r"weights\[0\] holds complex128 values"),
        ([B.astype(bool)], [W], TypeError, r"biases\[0\] holds bool values"),
        ([B], [[["a", "b", "c"]] * 2], TypeError, r"weights\[0\] holds <U1 values"),
        ([B], [np.array([[1.0, 2.0, 3.0], [4.0, math.inf, 6.0]])], ValueError,
         r"weights\[0\]\[1, 1\] is inf; expected a finite number"),
        ([np.array([[0.0], [math.nan]])], [W], ValueError, r"biases\[0\]\[1\] is nan"),
    ],
)
def test_from_arrays_refuses_bad_arrays_naming_them(biases, weights, error, pattern):
    with pytest.raises(error, match=f"from_arrays: {pattern}"):
        MLP.from_arrays(biases, weights)


def test_from_arrays_refuses_unknown_activations():
    with pytest.raises(ValueError, match="unknown output activation 'softplus'"):
        MLP.from_arrays([B], [W], "sigmoid", "softplus")


def test_export_refuses_what_is_not_an_mlp():
    layer = Layer(2, 2)
    with pytest.raises(TypeError, match="to_arrays: expected an MLP, got Layer"):
        export.to_arrays(layer)  # type: ignore[arg-type]
    if HAS_TORCH:
        with pytest.raises(TypeError, match="to_torch: expected an MLP, got Layer"):
            export.to_torch(layer)  # type: ignore[arg-type]


@needs_torch
@pytest.mark.parametrize("dtype", ["float64", torch.int64 if HAS_TORCH else None])
def test_to_torch_refuses_a_dtype_that_is_not_floating_point(dtype):
    with pytest.raises(TypeError, match="dtype must be a torch floating-point dtype"):
        MLP(2, [1], seed=0).to_torch(dtype)


# -- optional imports ---------------------------------------------------------------------------


def test_numpy_and_torch_are_imported_only_when_asked_for():
    code = (
        "import sys\n"
        "from microgrid import MLP\n"
        "net = MLP(2, [3, 1], seed=0)\n"
        "print('numpy' in sys.modules, 'torch' in sys.modules)\n"
        "net.to_arrays()\n"
        "print('numpy' in sys.modules, 'torch' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=ROOT)
    assert result.stdout.split("\n")[:2] == ["False False", "True False"]


@pytest.mark.parametrize(("call", "library", "extra"), [
    (lambda net: net.to_torch(), "torch", "torch"),
    (lambda net: MLP.from_torch(None), "torch", "torch"),
    (lambda net: net.to_arrays(), "numpy", "fast"),
    (lambda net: MLP.from_arrays([], []), "numpy", "fast"),
])
def test_a_missing_library_names_the_extra_to_install(monkeypatch, call, library, extra):
    monkeypatch.setitem(sys.modules, library, None)  # makes `import library` fail
    with pytest.raises(ImportError, match=rf"needs {library}: pip install "
                                          rf"'microgrid-autodiff\[{extra}\]'"):
        call(MLP(2, [1], seed=0))


# -- the docs page ----------------------------------------------------------------------------


@needs_torch
def test_outgrowing_scalars_page_prints_what_it_shows():
    """Every >>> line of docs/outgrowing.md gives the output shown."""
    page = ROOT / "docs" / "outgrowing.md"
    test = doctest.DocTestParser().get_doctest(
        page.read_text(encoding="utf-8"), {"__name__": "outgrowing_md"}, "outgrowing.md",
        str(page), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    assert runner.failures == 0
    assert runner.tries > 15
