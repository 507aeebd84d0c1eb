"""Q2: how much extra memory does each attention need?

Each case runs in a fresh Python process: it builds q, k, v, warms the kernels up on a tiny
input, resets the kernel's peak-RSS counter (``/proc/self/clear_refs``), makes one call and
reports the peak resident memory minus the memory held just before the call. That "extra peak"
includes the output (H * T * Dh floats), which every method must write.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

METHODS = ("SDPA", "memory_efficient", "ak.attention", "naive")
HEAD_DIM = 64
LIMIT_BYTES = 6 * 2**30  # skip a case whose score matrices alone would exceed this


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not found in /proc/self/status")


def worker(method: str, T: int, heads: int) -> None:
    import torch
    import torch.nn.functional as F

    import attnkit as ak

    common.setup()
    fns = {
        "SDPA": F.scaled_dot_product_attention,
        "memory_efficient": ak.memory_efficient_attention,
        "ak.attention": ak.attention,
        "naive": common.naive_attention,
    }
    fn = fns[method]
    with torch.no_grad():
        small = [torch.randn(1, heads, 64, HEAD_DIM) for _ in range(3)]
        fn(*small)  # first-call allocations (thread pools, kernels) happen here, not below
        q, k, v = (torch.randn(1, heads, T, HEAD_DIM) for _ in range(3))
        del small
        before = _rss_kib("VmRSS")
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM (peak RSS) to the current RSS
        out = fn(q, k, v)
        peak = _rss_kib("VmHWM")
        if isinstance(out, tuple):  # ak.attention also returns its weights
            out = out[0]
    print(json.dumps({"extra_bytes": (peak - before) * 1024, "output_bytes": out.nbytes}))


def measure(method: str, T: int, heads: int) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--worker", method, str(T), str(heads)],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(quick: bool = False) -> dict:
    from tqdm import tqdm

    common.setup()
    cases = [(1024, 8), (4096, 8), (16384, 1)] if quick else [(1024, 8), (4096, 8), (16384, 8), (16384, 1)]
    results = {}
    jobs = [(T, H, m) for T, H in cases for m in METHODS]
    for T, H, method in tqdm(jobs, desc="peak memory", file=sys.stderr):
        materialises = method in ("ak.attention", "naive")
        if materialises and 2 * H * T * T * 4 > LIMIT_BYTES:
            results[T, H, method] = None
            continue
        results[T, H, method] = measure(method, T, H)
    rows = []
    for T, H in cases:
        sdpa = results[T, H, "SDPA"]["extra_bytes"]
        row = [T, H]
        for method in METHODS:
            r = results[T, H, method]
            if r is None:
                row.append(f"skipped: {2 * H * T * T * 4 / 2**30:.0f} GiB of scores")
            else:
                row.append(f"{r['extra_bytes'] / 2**20:.1f} ({r['extra_bytes'] / max(sdpa, 1):.1f}x)")
        row.append(f"{H * T * HEAD_DIM * 4 / 2**20:.1f}")
        rows.append(row)
    table = common.markdown_table(["T", "H"] + [f"{m} MiB (x SDPA)" for m in METHODS] + ["output MiB"], rows)
    targets = []
    if (16384, 1, "memory_efficient") in results:
        mea = results[16384, 1, "memory_efficient"]["extra_bytes"]
        targets.append(("memory_efficient extra peak / SDPA's at T=16384, H=1", mea / results[16384, 1, "SDPA"]
                        ["extra_bytes"], 4.0))
        if results.get((16384, 1, "naive")):
            targets.append(("memory_efficient extra peak / naive's at T=16384, H=1",
                            mea / results[16384, 1, "naive"]["extra_bytes"], 1 / 64))
    notes = ["extra peak = peak RSS during the call minus RSS just before it, in a fresh process per case; "
             "it includes the output tensor (last column)"]
    markdown = common.report("memory", "Extra peak memory of one attention call (Dh=64, float32)", table, notes)

    fig = common.new_figure()
    ax = fig.add_subplot()
    labels = [f"T={T}\nH={H}" for T, H in cases]
    width = 0.2
    for i, method in enumerate(METHODS):
        xs, ys = [], []
        for j, (T, H) in enumerate(cases):
            r = results[T, H, method]
            if r is not None:
                xs.append(j + (i - 1.5) * width)
                ys.append(max(r["extra_bytes"], 2**16) / 2**20)
        ax.bar(xs, ys, width, label=method)
    ax.set_xticks(range(len(cases)), labels)
    ax.set(yscale="log", ylabel="extra peak memory (MiB, log)",
           title="Extra peak memory per call (missing bar: skipped)")
    ax.grid(alpha=0.3, axis="y")
    ax.legend()
    common.save_figure(fig, "memory")
    return {"markdown": markdown, "targets": targets}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--worker", nargs=3, metavar=("METHOD", "T", "H"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], int(args.worker[1]), int(args.worker[2]))
    else:
        main(args.quick)
