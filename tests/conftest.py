"""Shared test settings: a headless matplotlib, and one hypothesis profile for every test file."""

import matplotlib
from hypothesis import settings

matplotlib.use("Agg")

# Derandomized: the same examples on every run and machine; no deadline, since the CI
# machine is shared and noisy (speed is judged by benchmarks, never by tests).
settings.register_profile("course", max_examples=60, deadline=None, derandomize=True)
settings.load_profile("course")
