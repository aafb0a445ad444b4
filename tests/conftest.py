"""Shared test settings: hypothesis profiles.

The default profile keeps the whole suite within a few minutes on two
cores; ``HYPOTHESIS_PROFILE=thorough`` runs ten times the examples.
Deadlines are off: shared machines are noisy, and speed is checked by the
scripts in ``benchmarks/``, never by timed tests.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "default", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
