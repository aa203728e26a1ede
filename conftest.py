"""Hypothesis profiles for tests/ and verify/, chosen with HYPOTHESIS_PROFILE (default: ci).

- ci:   derandomized, no example database, no deadline, bounded examples (fits CI's budget)
- dev:  random search, 100 examples, database on (find new counterexamples locally)
- deep: random search, 500 examples per search (tens of minutes on 2 cores); pin what it finds
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", derandomize=True, database=None, deadline=None, max_examples=25,
    suppress_health_check=[HealthCheck.too_slow], print_blob=True,
)
settings.register_profile("dev", deadline=None, max_examples=100, print_blob=True)
settings.register_profile(
    "deep", deadline=None, max_examples=500, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
