"""Shared test settings: a headless matplotlib, one hypothesis profile, one torch thread per worker."""

import matplotlib
from hypothesis import settings

matplotlib.use("Agg")

# Derandomized: the same examples on every run and machine; no deadline, since the CI
# machine is shared and noisy (speed is judged by benchmarks, never by tests).
settings.register_profile("course", max_examples=60, deadline=None, derandomize=True)
settings.load_profile("course")

# One intra-op thread per test process: pytest runs two workers on two cores (`-n 2`), and the models
# tested here are tiny, so a second thread per worker only makes the two workers fight (a decoder test
# file took 500 s with PyTorch's default threads on a busy machine, 29 s with one).
import torch  # noqa: E402

torch.set_num_threads(1)
