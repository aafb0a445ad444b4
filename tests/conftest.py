"""Shared test settings: hypothesis profiles, and the tests that need torch.

The default profile keeps the whole suite within a few minutes on two
cores; ``HYPOTHESIS_PROFILE=thorough`` runs ten times the examples.
Deadlines are off: shared machines are noisy, and speed is checked by the
scripts in ``benchmarks/``, never by timed tests.

Tests marked ``torch`` compare with PyTorch. They skip where torch is not
installed (README's test command installs none: the CPU wheel is large),
except with ``MICROGRID_REQUIRE_TORCH=1``, where a missing torch fails
them: CI runs ``-m torch`` that way in a virtualenv with torch, so none of
them can skip unseen.
"""

import importlib.util
import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "default", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

HAS_TORCH = importlib.util.find_spec("torch") is not None


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("torch") is None or HAS_TORCH:
        return
    if os.environ.get("MICROGRID_REQUIRE_TORCH") == "1":
        pytest.fail("torch is not installed, and MICROGRID_REQUIRE_TORCH=1 requires it")
    pytest.skip("torch is not installed")
