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


def run_json(script: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), "--quick", "--json"],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )
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
