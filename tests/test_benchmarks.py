"""The benchmark scripts run and report what they promise (figures, never timings).

Speed is judged by reading the scripts' output, not here: these tests only
check that each script still runs on the current library and that its
``--json`` report has the documented fields, consistent with each other.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("micrograd", reason="the benchmarks compare with micrograd (bench extra)")
pytest.importorskip("numpy", reason="benchmarks/batched.py needs numpy (fast extra)")

ROOT = Path(__file__).resolve().parent.parent


def run_json(script: str, *options: str, hide_torch: bool = False) -> dict[str, Any]:
    command = [str(ROOT / "benchmarks" / script), "--quick", "--json", *options]
    if hide_torch:  # as on a machine without torch: importing it fails
        code = ("import runpy, sys; sys.modules['torch'] = None; "
                f"sys.argv = {command!r}; runpy.run_path(sys.argv[0], run_name='__main__')")
        command = ["-c", code]
    result = subprocess.run([sys.executable, *command], capture_output=True, text=True,
                            timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def positive(x: object) -> bool:
    return isinstance(x, float) and math.isfinite(x) and x > 0.0


@pytest.mark.slow
def test_batched_reports_each_batch_size_eager_compiled_numpy_and_micrograd() -> None:
    report = run_json("batched.py")
    assert [row["batch"] for row in report["results"]] == [10, 100]
    for row in report["results"]:
        for key in ("micrograd_ms", "eager_ms", "compiled_ms", "numpy_ms", "compile_ms",
                    "compile_unchecked_ms"):
            assert positive(row[key]), (key, row)
        assert row["micrograd_over_compiled"] == row["micrograd_ms"] / row["compiled_ms"]
        assert row["compiled_over_numpy"] == row["compiled_ms"] / row["numpy_ms"]


BOOK_STEP_FIELDS = ("compiled_ms", "numpy_ms", "compile_s", "first_step_s", "compiled_over_numpy")


@pytest.mark.slow
def test_batched_reports_the_books_workloads_against_numpy_torch_and_network_py() -> None:
    """[64, 30, 10] and [784, 30, 10] at mini-batches 10 and 100, then an epoch of
    [784, 30, 10]; the moons rows keep their fields (checked above)."""
    pytest.importorskip("torch", reason="the torch column")
    report = run_json("batched.py", "--book")
    assert report["results"] == [] and report["torch"].startswith("torch ")
    steps, (epoch,) = report["book"][:-1], report["book"][-1:]
    assert [(r["workload"], r["batch"]) for r in steps] == [
        ("64-30-10", 10), ("64-30-10", 100), ("784-30-10", 10), ("784-30-10", 100)]
    for row in steps:
        assert all(positive(row[key]) for key in (*BOOK_STEP_FIELDS, "torch_ms")), row
        assert row["compiled_over_numpy"] == row["compiled_ms"] / row["numpy_ms"]
        assert row["torch_over_compiled"] == row["torch_ms"] / row["compiled_ms"]
    assert (epoch["workload"], epoch["batch"], epoch["examples"]) == ("784-30-10", 10, 2000)
    for key in ("epoch_compiled_s", "epoch_network_py_s"):
        assert positive(epoch[key]), (key, epoch)
    for key in ("epoch_fit_s", "fit_first_batch_s"):  # differences of two runs: rough
        assert isinstance(epoch[key], float) and math.isfinite(epoch[key]), (key, epoch)
    assert epoch["network_py_over_compiled"] == (epoch["epoch_network_py_s"]
                                                 / epoch["epoch_compiled_s"])


@pytest.mark.slow
def test_batched_runs_without_torch_saying_it_skipped_it() -> None:
    report = run_json("batched.py", "--book", hide_torch=True)
    assert report["torch"] == "skipped: torch is not installed"
    for row in report["book"][:-1]:
        assert row["torch_ms"] is None and row["torch_over_compiled"] is None
        assert all(positive(row[key]) for key in BOOK_STEP_FIELDS), row


@pytest.mark.slow
def test_engine_reports_steps_chains_memory_and_gc_share() -> None:
    report = run_json("engine.py")
    for key in ("values_step", "values_step_in_a_loop", "api_step_in_a_loop",
                "api_step_gc_on", "api_step_gc_off"):
        row = report[key]
        assert positive(row["micrograd_ms"]) and positive(row["microgrid_ms"]), key
        assert row["ratio"] == row["micrograd_ms"] / row["microgrid_ms"]
    chains = report["chain"]
    assert [c["n"] for c in chains] == [1_000, 10_000, 100_000]
    assert all(positive(c["microgrid_s"]) and positive(c["microgrid_tanh_s"]) for c in chains)
    # micrograd's recursive topological sort cannot go 3,000 nodes deep
    assert chains[0]["micrograd_s"] == "RecursionError"
    for library in ("microgrid", "micrograd"):
        memory = report["memory"][library]
        assert positive(memory["graph_bytes_per_node"])
        assert memory["backward_peak_bytes_per_node"] >= memory["graph_bytes_per_node"]
        for key in ("gc", "gc_values"):
            assert 0.0 <= report[key][library]["share"] < 1.0


@pytest.mark.slow
def test_hessian_reports_each_library_and_their_agreement() -> None:
    pytest.importorskip("autograd", reason="benchmarks/hessian.py compares with HIPS autograd")
    pytest.importorskip("torch", reason="benchmarks/hessian.py compares with torch")
    report = run_json("hessian.py")
    assert report["parameters"] == 32 and report["agree_relative"] <= 1e-10
    results = report["results"]
    assert set(results) == {"microgrid", "autograd", "torch", "torch_func"}
    for row in results.values():
        assert positive(row["ms"])
        assert row["over_microgrid"] == row["ms"] / results["microgrid"]["ms"]
