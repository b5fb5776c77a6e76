"""Hypothesis profiles for the hostile-input suites: derandomized in CI so a run never flakes.

HYPOTHESIS_PROFILE=dev explores new examples on each run (and keeps a local example database);
the default "ci" profile replays the same examples every time, with no deadline because the
machine is shared and slow.
"""
import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, deadline=None, database=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
