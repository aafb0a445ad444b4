"""The `microgrid` command line: ``microgrid demo | bp | graph | bench``.

Each subcommand lives in a function here that imports the library module it
presents only when it runs, so ``microgrid --help`` stays instant (it loads
the engine, whose table lists the functions ``microgrid graph`` may call).
Exit status: 0 on success, 1 when a check fails, 2 on bad arguments, 130
when stopped by Ctrl-C (one line on stderr, no traceback), 141 when the
reader of the output went away (``microgrid bp | head``: the command stops
quietly, with the status of a program ended by SIGPIPE).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from microgrid import __version__


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `microgrid` command (exposed for tests and docs)."""
    parser = argparse.ArgumentParser(
        prog="microgrid",
        description="A small reverse-mode scalar autodiff engine: "
        "train tiny networks, check backprop, draw gradient graphs.",
    )
    parser.add_argument("--version", action="version", version=f"microgrid {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    # Each subcommand: a function `_add_<name>(subparsers)` below that adds its
    # parser and sets `handler=` to a function taking the parsed args and
    # returning the exit status.
    _add_bp(subparsers)
    _add_demo(subparsers)
    _add_explain(subparsers)
    _add_graph(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stdout)
        return 0
    handler = args.handler
    try:
        status: int = handler(args)
        sys.stdout.flush()  # a closed pipe shows here, not in Python's flush at exit
    except KeyboardInterrupt:
        print(f"microgrid {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _discard_stdout()
        return _SIGPIPE_STATUS
    return status


_SIGPIPE_STATUS = 128 + 13
"""What a shell reports for a program ended by SIGPIPE (``yes | head``)."""


def _discard_stdout() -> None:
    """Send what is left of standard output nowhere, so exiting prints no second error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no file descriptor (a captured stream): nothing to do
        pass


BP_MAX_PARAMETERS = 1_000_000
"""The largest network ``microgrid bp`` builds: a million parameters take about 5 s and
500 MB (and print a million rows); ``--sizes 30000,30000`` allocated until MemoryError."""


def _add_bp(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``microgrid bp``: the engine's gradients beside the closed-form BP1-BP4."""
    import math
    from itertools import pairwise

    from microgrid.backprop import ACTIVATIONS, COSTS, HIDDEN_ACTIVATIONS
    from microgrid.nn import INITS

    def sizes(text: str) -> list[int]:
        try:
            values = [int(part) for part in text.split(",")]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected layer widths like 2,3,2, got {text!r}"
            ) from None
        if len(values) < 2 or any(n < 1 for n in values):
            raise argparse.ArgumentTypeError(
                f"expected at least two positive layer widths like 2,3,2, got {text!r}"
            )
        n = sum(fan_in * width + width for fan_in, width in pairwise(values))
        if n > BP_MAX_PARAMETERS:
            raise argparse.ArgumentTypeError(
                f"layer widths {text} make a network of {n:,} parameters; bp checks at most "
                f"{BP_MAX_PARAMETERS:,} (a table row each): choose smaller widths, such as 2,3,2"
            )
        return values

    def numbers(text: str) -> list[float]:
        try:
            values = [float(part) for part in text.split(",")]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected numbers like 0.5,-1, got {text!r}"
            ) from None
        if not all(math.isfinite(v) for v in values):
            raise argparse.ArgumentTypeError(f"expected finite numbers, got {text!r}")
        return values

    p = subparsers.add_parser(
        "bp",
        help="check BP1-BP4 against the autodiff engine on a random network",
        description="Build a random network and example, run the engine (trace, cost.backward()) "
        "and the textbook backprop in plain floats, and print both side by side, neurons "
        "numbered from 1 as in the book. The output layer's activation, unless "
        "--output-activation is given, is the one MLP chooses (sigmoid after sigmoid hidden "
        "layers, linear after others) for the quadratic cost, sigmoid for cross_entropy and "
        "softmax for log_likelihood. Exit status: 0 when all four equations agree, 1 when "
        "not, 2 on bad arguments.",
    )
    p.add_argument("--sizes", type=sizes, default=[2, 3, 2],
                   help=f"layer widths (default 2,3,2; at most {BP_MAX_PARAMETERS:,} parameters)")
    p.add_argument("--activation", default=None, choices=HIDDEN_ACTIVATIONS,
                   help="hidden layers' activation (default sigmoid; a network without "
                   "hidden layers, such as --sizes 1,1, takes only --output-activation)")
    p.add_argument("--cost", default="quadratic", choices=COSTS,
                   help="the cost C_x (default quadratic)")
    p.add_argument("--output-activation", default=None, choices=ACTIVATIONS,
                   help="output layer's activation (default: see above)")
    p.add_argument("--init", default="normal", choices=INITS,
                   help="weight initialisation (default normal: the book's N(0, 1))")
    p.add_argument("--seed", type=int, default=0,
                   help="seeds the network and the random example (default 0)")
    p.add_argument("--x", type=numbers, default=None,
                   help="the input, e.g. 0.5,-1 (default random; write --x=-1,2 "
                   "when it starts with a minus)")
    p.add_argument("--y", type=numbers, default=None,
                   help="the target, e.g. 1,0 (one-hot for log_likelihood; default random)")
    p.add_argument("--rtol", type=float, default=1e-9, help="relative tolerance (default 1e-9)")
    p.add_argument("--atol", type=float, default=1e-12, help="absolute tolerance (default 1e-12)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(handler=_run_bp)


def _run_bp(args: argparse.Namespace) -> int:
    import random

    from microgrid.backprop import default_output_activation
    from microgrid.nn import MLP
    from microgrid.report import compare

    sizes: list[int] = args.sizes
    if args.activation is not None and len(sizes) == 2:
        print(f"microgrid bp: error: --activation {args.activation} sets the hidden layers' "
              f"activation, and --sizes {','.join(map(str, sizes))} has no hidden layer; "
              "set the output layer's with --output-activation", file=sys.stderr)
        return 2
    activation = args.activation or "sigmoid"
    rng = random.Random(args.seed)
    x = args.x if args.x is not None else [rng.uniform(-1.0, 1.0) for _ in range(sizes[0])]
    if args.y is not None:
        y: object = args.y
    elif args.cost == "log_likelihood":
        y = rng.randrange(sizes[-1])
    else:
        y = [float(rng.random() < 0.5) for _ in range(sizes[-1])]
    output_activation = args.output_activation or default_output_activation(args.cost,
                                                                             activation)
    try:
        net = MLP(sizes[0], sizes[1:], activation, output_activation, args.init, seed=args.seed)
        report = compare(net, x, y, args.cost, rtol=args.rtol, atol=args.atol)
    except (ValueError, OverflowError, ZeroDivisionError) as e:
        print(f"microgrid bp: error: {e}", file=sys.stderr)
        return 2
    print(report.to_json() if args.json else report)
    return 0 if report.ok else 1


def _add_demo(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``microgrid demo``: train on a toy dataset or the digits, write pictures and the model
    (microgrid.demo)."""
    import math

    from microgrid.datasets import DATASETS, IMAGES
    from microgrid.nn import HIDDEN_ACTIVATIONS

    def positive(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
        if n < 1:
            raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
        return n

    def rate(text: str) -> float:
        try:
            r = float(text)
        except ValueError:
            r = math.nan
        if not (math.isfinite(r) and r > 0.0):
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
        return r

    def widths(text: str) -> tuple[int, ...]:
        try:
            values = tuple(int(part) for part in text.split(","))
        except ValueError:
            values = ()
        if not values or any(n < 1 for n in values):
            raise argparse.ArgumentTypeError(
                f"expected hidden layer widths like 16,16 (positive integers), got {text!r}"
            )
        return values

    p = subparsers.add_parser(
        "demo",
        help="train a small network on a toy dataset or the digits; write its pictures and "
        "the model",
        description="Train an MLP on a 2-D toy dataset as micrograd's demo does (ReLU, "
        "max-margin loss + 1e-4 L2, full-batch SGD with the rate 1.0 -> 0.1), with a progress "
        "bar, then write to --out: training_curves.png, decision_boundary.png, "
        "computation_graph.svg (one example's cost), network.svg (its deltas) and model.json "
        "(MLP.load reads it). The defaults reach 100% training accuracy on moons. With "
        "--dataset digits it trains the book's chapter 1 network (64-30-10 sigmoid, quadratic "
        "cost, mini-batches of 10 at eta 3.0, 30 epochs) on 80% of the bundled 8x8 digits, "
        "tests on the rest every epoch, and writes training_curves.png, confusion_matrix.png, "
        "misclassified.png and model.json. Without the plot or graph extra the demo still "
        "trains and writes the rest, naming the extra to install. Exit status: 0 on success "
        "(also when only extras were missing), 1 when a file could not be written, 2 on bad "
        "arguments.",
    )
    p.add_argument("--dataset", default="moons", choices=(*DATASETS, *IMAGES),
                   help=f"a toy dataset (default moons) or real images ({', '.join(IMAGES)})")
    p.add_argument("--steps", type=positive, default=None,
                   help="full-batch training steps of a toy dataset (default 100; 300 for "
                   "spirals)")
    p.add_argument("--epochs", type=positive, default=None,
                   help="epochs of mini-batches for digits (default 30)")
    p.add_argument("--seed", type=int, default=0,
                   help="seeds the data and the initial weights (default 0)")
    p.add_argument("--hidden", type=widths, default=None, metavar="WIDTHS",
                   help="hidden layer widths (default 16,16; 30 for digits; at most 100,000 "
                   "parameters)")
    p.add_argument("--activation", default=None, choices=HIDDEN_ACTIVATIONS,
                   help="hidden layers' activation (default relu; sigmoid for digits)")
    p.add_argument("--lr", type=rate, default=None,
                   help="initial learning rate, decaying to a tenth of it (default 1.0; "
                   "0.1 for --activation linear); for digits the constant eta (default 3.0)")
    p.add_argument("--out", default="microgrid-demo", metavar="DIR",
                   help="output folder, created if needed (default ./microgrid-demo)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar or narration; print only the summary")
    p.set_defaults(handler=lambda args: _run_demo(p, args))


def _run_demo(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from microgrid.demo import DemoOptions, OutputFolderError, run

    options = DemoOptions(dataset=args.dataset, steps=args.steps, seed=args.seed,
                          hidden=args.hidden, activation=args.activation, lr=args.lr,
                          out=args.out, quiet=args.quiet, epochs=args.epochs)
    try:
        options.check()
    except ValueError as e:
        parser.error(str(e))
    try:
        result = run(options)
    except RuntimeError as e:  # training diverged
        print(f"microgrid demo: error: {e}", file=sys.stderr)
        return 1
    except OutputFolderError as e:
        parser.error(f"--out: {e}")
    except KeyboardInterrupt:
        print("microgrid demo: interrupted", file=sys.stderr)
        return 130
    return result.status


def _add_explain(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``microgrid explain``: one backward pass, step by step (microgrid.walkthrough)."""
    import math

    from microgrid.backprop import ACTIVATIONS, HIDDEN_ACTIVATIONS
    from microgrid.nn import INITS
    from microgrid.walkthrough import COSTS

    def numbers(text: str) -> list[float]:
        try:
            values = [float(part) for part in text.split(",")]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected numbers like 0.5,-1, got {text!r}") from None
        if not all(math.isfinite(v) for v in values):
            raise argparse.ArgumentTypeError(f"expected finite numbers, got {text!r}")
        return values

    def widths(text: str) -> list[int]:
        try:
            values = [int(part) for part in text.split(",")]
        except ValueError:
            values = []
        if len(values) < 2 or any(n < 1 for n in values):
            raise argparse.ArgumentTypeError(
                f"expected at least two positive layer widths like 2,2,2, got {text!r}")
        return values

    def part(text: str) -> int | tuple[int, int]:
        try:
            values = [int(v) for v in text.split(",")]
        except ValueError:
            values = []
        if len(values) == 1:
            return values[0]
        if len(values) == 2:
            return values[0], values[1]
        raise argparse.ArgumentTypeError(
            f"expected a layer L (e.g. 3) or a neuron L,J (e.g. 3,1), got {text!r}")

    def rate(text: str) -> float:
        try:
            r = float(text)
        except ValueError:
            r = math.nan
        if not (math.isfinite(r) and r > 0.0):
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
        return r

    p = subparsers.add_parser(
        "explain",
        help="walk through one backward pass step by step, with every number",
        description="Walk through one example's backward pass through a network as Nielsen's "
        "chapter 2 does: every z and a of the forward pass, the cost, BP1 and BP2 for every "
        "delta, BP3 and BP4 for every bias and weight gradient and, with --lr, every updated "
        "parameter; each step shows its equation, the engine's numbers substituted, the "
        "result, and the engine's number beside the textbook's (microgrid.backprop), marked "
        "as agreeing. Neurons are numbered from 1, as in the book. The network is drawn "
        "(--sizes, --activation, --init, --seed) or read from a model file (--model, as "
        "MLP.save writes it), so a published worked example can be reproduced exactly. "
        "Example: microgrid explain --sizes 2,2,2 --activation sigmoid --cost quadratic "
        "--x 0.05,0.1 --y 0.01,0.99 --lr 0.5 --format markdown. Exit status: 0 when every "
        "step agrees, 1 when one does not (or the output cannot be written), 2 on bad "
        "arguments.",
    )
    p.add_argument("--sizes", type=widths, default=None,
                   help="layer widths, the input's first (default 2,2,2; with --model, "
                   "the file's, and if given they must match it)")
    p.add_argument("--activation", default=None, choices=HIDDEN_ACTIVATIONS,
                   help="hidden layers' activation (default sigmoid, or the model file's)")
    p.add_argument("--output-activation", default=None, choices=ACTIVATIONS,
                   help="output layer's activation (default: what microgrid bp picks for the "
                   "cost, linear for hinge; or the model file's)")
    p.add_argument("--cost", default="quadratic", choices=COSTS,
                   help="the cost C_x (default quadratic)")
    p.add_argument("--init", default=None, choices=INITS,
                   help="weight initialisation without --model (default normal: the book's "
                   "N(0, 1))")
    p.add_argument("--seed", type=int, default=0,
                   help="seeds the network (without --model) and the example when --x or --y "
                   "is not given (default 0)")
    p.add_argument("--model", default=None, metavar="FILE",
                   help="read the network from a model file (MLP.save's JSON)")
    p.add_argument("--x", type=numbers, default=None,
                   help="the input, e.g. 0.05,0.1 (default random; write --x=-1,2 when it "
                   "starts with a minus)")
    p.add_argument("--y", type=numbers, default=None,
                   help="the target, e.g. 0.01,0.99 (one-hot for log_likelihood, -1 or 1 for "
                   "hinge; default random)")
    p.add_argument("--lr", type=rate, default=None,
                   help="a learning rate: also show gradient descent's update of every "
                   "parameter")
    p.add_argument("--only", type=part, default=None, metavar="L or L,J",
                   help="show one layer L, or neuron J of layer L (numbered from 1)")
    p.add_argument("--format", default=None, choices=["text", "markdown", "html"],
                   help="text (default), markdown (LaTeX math), or html (one interactive page, "
                   "no network access); default from the suffix of -o")
    p.add_argument("-o", "--output", default=None, metavar="FILE",
                   help="write to FILE instead of printing")
    p.add_argument("--precision", type=int, default=4,
                   help="significant digits shown (default 4)")
    p.add_argument("--max-steps", type=int, default=None,
                   help="refuse longer walkthroughs (default 300; use --only for big networks)")
    p.set_defaults(handler=_run_explain)


def _run_explain(args: argparse.Namespace) -> int:
    import random

    from microgrid._files import write_atomically
    from microgrid.backprop import default_output_activation
    from microgrid.nn import MLP
    from microgrid.walkthrough import DEFAULT_MAX_STEPS, explain

    def fail(status: int, message: str) -> int:
        print(f"microgrid explain: error: {message}", file=sys.stderr)
        return status

    if args.model is not None:
        if args.init is not None:
            return fail(2, "--init draws a network's weights; --model reads them from a file: "
                        "give one or the other")
        try:
            net = MLP.load(args.model)
        except (ValueError, OSError) as e:
            return fail(2, f"--model: {e}")
        for option, given, found in (("--sizes", args.sizes, net.sizes),
                                     ("--activation", args.activation, net.activation),
                                     ("--output-activation", args.output_activation,
                                      net.output_activation)):
            if given is not None and given != found:
                return fail(2, f"{option} {_shown(given)} does not match the model file "
                            f"{args.model!r}, whose is {_shown(found)}")
    else:
        sizes: list[int] = args.sizes or [2, 2, 2]
        if args.activation is not None and len(sizes) == 2:
            return fail(2, f"--activation {args.activation} sets the hidden layers' activation, "
                        f"and --sizes {_shown(sizes)} has no hidden layer; set the output "
                        "layer's with --output-activation")
        activation = args.activation or "sigmoid"
        output = args.output_activation or (
            "linear" if args.cost == "hinge" else default_output_activation(args.cost, activation))
        try:
            net = MLP(sizes[0], sizes[1:], activation, output, args.init or "normal",
                      seed=args.seed)
        except ValueError as e:
            return fail(2, str(e))
    sizes = net.sizes
    rng = random.Random(args.seed)
    x = args.x if args.x is not None else [round(rng.uniform(-1.0, 1.0), 2)
                                           for _ in range(sizes[0])]
    if len(x) != sizes[0]:
        return fail(2, f"--x has {len(x)} numbers; the network's input layer has {sizes[0]} "
                    f"neurons (sizes {_shown(sizes)})")
    y: object
    if args.y is not None:
        y = args.y[0] if args.cost == "hinge" and len(args.y) == 1 else args.y
        if args.cost != "hinge" and len(args.y) != sizes[-1]:
            return fail(2, f"--y has {len(args.y)} numbers; the network's output layer has "
                        f"{sizes[-1]} neurons (sizes {_shown(sizes)})")
    elif args.cost == "log_likelihood":
        y = rng.randrange(sizes[-1])
    elif args.cost == "hinge":
        y = rng.choice([-1, 1])
    else:
        y = [float(rng.random() < 0.5) for _ in range(sizes[-1])]
    fmt = args.format or _format_of(args.output)
    try:
        walk = explain(net, x, y, cost=args.cost, lr=args.lr, only=args.only,
                       precision=args.precision,
                       max_steps=args.max_steps or DEFAULT_MAX_STEPS)
    except (ValueError, TypeError, OverflowError, ZeroDivisionError) as e:
        message = str(e)
        if "max_steps" in message:
            message += " On the command line: --only L or --only L,J, or --max-steps N."
        return fail(2, message)
    text = {"text": walk.text, "markdown": walk.markdown, "html": walk.html}[fmt]()
    if args.output is None:
        print(text, end="" if text.endswith("\n") else "\n")
    else:
        try:
            path = write_atomically(args.output, text.encode("utf-8"))
        except OSError as e:
            return fail(1, str(e))
        verdict = "all agree" if walk.ok else f"{len(walk.disagreements)} DISAGREE"
        print(f"wrote {path} ({fmt}, {len(walk.steps)} steps, {verdict})")
        if fmt == "html" and walk._svg()[0] is None:
            print(f"microgrid explain: note: the page has no drawing: {walk._svg()[1]}",
                  file=sys.stderr)
    if not walk.ok:
        first = walk.disagreements[0]
        return fail(1, f"{len(walk.disagreements)} of {len(walk.steps)} steps disagree with the "
                    f"textbook; the first is step {first.number}: {first.text} (engine: "
                    f"{first.engine_name} = {first.engine!r}, textbook {first.textbook!r})")
    return 0


def _shown(value: object) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def _format_of(output: str | None) -> str:
    """The format that ``-o``'s suffix names: html, markdown, or text."""
    suffix = output.rsplit(".", 1)[-1].lower() if output and "." in output else ""
    return {"html": "html", "htm": "html", "md": "markdown", "markdown": "markdown"}.get(
        suffix, "text")


def _add_graph(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``microgrid graph EXPR``: draw an expression's gradient graph (microgrid.graph)."""
    import math

    from microgrid.expression import FUNCTIONS  # the engine's table: no more than the engine

    def seconds(text: str) -> float:
        try:
            t = float(text)
        except ValueError:
            t = math.nan
        if not t >= 0.0:
            raise argparse.ArgumentTypeError(
                f"expected a number of seconds (0 for no limit), got {text!r}")
        return math.inf if t == 0.0 else t  # render() reads inf as no limit

    p = subparsers.add_parser(
        "graph",
        help="draw the computation graph of an expression, with every gradient",
        description="Evaluate EXPR with the engine (safely: numbers, the variables bound with "
        f"--set, + - * / **, and {' '.join(FUNCTIONS)} as functions or methods; "
        "nothing else), run backward, and save the drawing; the suffix of -o picks the "
        "format (.svg, .png, .pdf, .dot, .gv). Example: microgrid graph \"(x*y + z).tanh()\" "
        "--set x=2 --set y=-3 --set z=1 -o graph.svg. Exit status: 0 on success, 1 when "
        "the drawing could not be rendered or written, 2 on a bad expression or arguments.",
    )
    p.add_argument("expression", metavar="EXPR", help='the expression, e.g. "(x*y + z).tanh()"')
    p.add_argument("--set", dest="bindings", action="append", default=[], metavar="NAME=NUMBER",
                   help="bind a variable (repeatable), e.g. --set x=2 (write --set=x=-1 or "
                   "--set x=-1 for negative numbers)")
    p.add_argument("-o", "--output", default="graph.svg", metavar="PATH",
                   help="where to save the drawing (default graph.svg)")
    p.add_argument("--precision", type=int, default=4,
                   help="significant digits of the numbers shown (default 4)")
    p.add_argument("--no-grad", action="store_true", help="show data only, no gradients")
    p.add_argument("--color-by-grad", action="store_true",
                   help="shade each value by the size of its gradient")
    p.add_argument("--title", default=None, help="a title above the drawing")
    p.add_argument("--rankdir", default="LR", choices=["LR", "TB", "RL", "BT"],
                   help="direction of the data flow (default LR: left to right)")
    p.add_argument("--renderer", default="auto", choices=["auto", "dot", "wasm"],
                   help="auto (default): Graphviz's dot program if installed, else in-process")
    p.add_argument("--timeout", type=seconds, default=None, metavar="SECONDS",
                   help="stop a render that takes longer (default 60; 0 for no limit)")
    p.set_defaults(handler=_run_graph)


def _run_graph(args: argparse.Namespace) -> int:
    from microgrid.expression import ExpressionError, evaluate, parse_assignment
    from microgrid.graph import draw
    from microgrid.render import (
        DEFAULT_TIMEOUT,
        MissingRendererError,
        RenderError,
        RenderTimeoutError,
    )

    def fail(status: int, message: str) -> int:
        print(f"microgrid graph: error: {message}", file=sys.stderr)
        return status

    timeout = DEFAULT_TIMEOUT if args.timeout is None else args.timeout
    try:
        variables: dict[str, float] = {}
        for binding in args.bindings:
            name, value = parse_assignment(binding)
            if name in variables:
                return fail(2, f"--set {name} is given twice ({name}={variables[name]:g} and "
                               f"{binding!r}); give each variable once")
            variables[name] = value
        root = evaluate(args.expression, variables)
        root.backward()
        drawing = draw(root, show_grad=not args.no_grad, precision=args.precision,
                       color_by_grad=args.color_by_grad, title=args.title,
                       rankdir=args.rankdir)
    except (ExpressionError, ValueError, ZeroDivisionError, OverflowError, TypeError) as e:
        return fail(2, str(e))
    try:
        path = drawing.save(args.output, renderer=args.renderer, timeout=timeout)
    except ValueError as e:  # an unknown suffix, or too big to render
        return fail(2, str(e))
    except RenderTimeoutError as e:
        return fail(1, f"rendering took longer than --timeout {e.timeout:g} s and was stopped; "
                       "draw a smaller expression, pass a larger --timeout (0 for no limit), "
                       "or save the DOT text: -o graph.dot")
    except (MissingRendererError, RenderError) as e:
        return fail(1, f"{e} (the DOT text can always be saved: -o graph.dot)")
    except OSError as e:
        return fail(1, str(e))
    nodes = drawing.node_count
    print(f"saved {path} ({nodes} node{'' if nodes == 1 else 's'}; "
          f"{root.label or 'result'} = {root.data:.{args.precision}g})")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
