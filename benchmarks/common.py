"""Shared helpers of the benchmarks: thread count, side-by-side timing, tables, plots, machine info."""

from __future__ import annotations

import math
import os
import platform
import sys
import time
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results"
THREADS = 2


def setup(threads: int = THREADS) -> None:
    """Fix the thread count (the targets are stated for 2 cores) and the seed."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    RESULTS.mkdir(exist_ok=True)


def naive_attention(query, key, value):
    """The reference everybody writes first: ``softmax(q @ k^T / sqrt(d)) @ v``."""
    return torch.softmax(query @ key.transpose(-2, -1) / math.sqrt(query.shape[-1]), dim=-1) @ value


def time_side_by_side(functions: dict, min_rounds: int = 2, max_rounds: int = 5,
                      budget_s: float = 1.0) -> dict:
    """Best time (s) of each function, measured in interleaved rounds (A, B, C, A, B, C, ...).

    Interleaving exposes every function to the same machine noise; the minimum over
    rounds is the least disturbed run. One untimed warm-up call each comes first.
    """
    for fn in functions.values():
        fn()
    best = {name: math.inf for name in functions}
    start = time.perf_counter()
    for round_index in range(max_rounds):
        for name, fn in functions.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
        if round_index + 1 >= min_rounds and time.perf_counter() - start > budget_s:
            break
    return best


def matmul_gflops(n: int = 2048, rounds: int = 3) -> float:
    """GFLOP/s of one plain ``(n, n) @ (n, n)`` float32 product: the machine's practical ceiling."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    best = time_side_by_side({"mm": lambda: a @ b}, min_rounds=rounds, max_rounds=rounds)["mm"]
    return 2 * n**3 / best / 1e9


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} logical CPUs visible, torch {torch.__version__} "
            f"with {torch.get_num_threads()} threads, Python {sys.version.split()[0]}, "
            f"{platform.system()} {platform.release()}")


def markdown_table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def report(name: str, title: str, table: str, notes: list[str] = ()) -> str:
    """Print the table and write it to ``results/<name>.md``; returns the markdown."""
    text = f"### {title}\n\n{table}\n"
    if notes:
        text += "\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    print("\n" + text, flush=True)
    (RESULTS / f"{name}.md").write_text(text)
    return text


def save_figure(fig, name: str) -> Path:
    path = RESULTS / f"{name}.png"
    fig.savefig(path, dpi=110)
    return path


def new_figure(width=6.5, height=4.0):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")
