"""Q1: how fast is each attention, against PyTorch's fused kernel, as the sequence grows?

H=8 heads, Dh=64, float32, batch 1, 2 threads. All methods of one length are timed side by
side in interleaved rounds; the table gives milliseconds and the ratio to SDPA.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from matplotlib.ticker import NullLocator
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

import attnkit as ak  # noqa: E402

HEADS, HEAD_DIM = 8, 64
MAX_SCORE_BYTES = 2**30  # skip the methods that materialise (H, T, T) scores above 1 GiB
WINDOW = 128


def methods(q, k, v):
    return {
        "SDPA": lambda: F.scaled_dot_product_attention(q, k, v),
        "memory_efficient": lambda: ak.memory_efficient_attention(q, k, v),
        "ak.attention": lambda: ak.attention(q, k, v),
        "naive": lambda: common.naive_attention(q, k, v),
        f"local w={WINDOW}": lambda: ak.local_attention(q, k, v, window=WINDOW),
    }


MATERIALISING = ("ak.attention", "naive")


def main(quick: bool = False) -> dict:
    common.setup()
    lengths = [128, 256, 512, 1024, 2048, 4096] + ([] if quick else [8192, 16384])
    gflops_mm = common.matmul_gflops()
    results = {}
    for T in tqdm(lengths, desc="time vs length", file=sys.stderr):
        q, k, v = (torch.randn(1, HEADS, T, HEAD_DIM) for _ in range(3))
        fns = methods(q, k, v)
        if HEADS * T * T * 4 > MAX_SCORE_BYTES:
            for name in MATERIALISING:
                fns.pop(name)
        budget = 0.3 if quick else 1.0
        # the target length (4096) gets five full rounds: the minimum of more rounds is steadier
        results[T] = common.time_side_by_side(fns, min_rounds=5 if T == 4096 and not quick else
                                              2 if T <= 4096 or not quick else 1,
                                              max_rounds=3 if quick else 5, budget_s=budget)
    names = list(methods(*(torch.empty(1, 1, 1, 1),) * 3))
    rows = []
    for T, best in results.items():
        sdpa = best["SDPA"]
        flops = 4 * HEADS * T * T * HEAD_DIM
        row = [T, f"{flops / sdpa / 1e9:.0f}"]
        for name in names:
            if name in best:
                row.append(f"{best[name] * 1e3:.1f} ({best[name] / sdpa:.2f}x)")
            else:
                row.append(f"skipped: {2 * HEADS * T * T * 4 / 2**30:.0f} GiB of scores")
        rows.append(row)
    table = common.markdown_table(["T", "SDPA GFLOP/s"] + [f"{n} ms (x SDPA)" for n in names], rows)
    targets = []
    if 1024 in results:
        r = results[1024]["ak.attention"] / results[1024]["naive"]
        targets.append(("ak.attention / naive at T=1024, H=8, Dh=64", r, 1.3))
    if 4096 in results:
        r = results[4096]["memory_efficient"] / results[4096]["SDPA"]
        targets.append(("memory_efficient_attention / SDPA at T=4096, H=8, Dh=64", r, 1.3))
    tile, out = torch.randn(2, 512, 512), torch.empty(2, 512, 512)  # one tile of memory_efficient's scores
    exps = common.time_side_by_side({"exp": lambda: torch.exp(tile, out=out),
                                     "exp2": lambda: torch.exp2(tile, out=out)}, min_rounds=20, max_rounds=20)
    notes = [f"torch.exp2 vs torch.exp on one (2, 512, 512) tile of scores: {exps['exp2'] * 1e3:.3f} ms vs "
             f"{exps['exp'] * 1e3:.3f} ms ({exps['exp'] / exps['exp2']:.1f}x); memory_efficient_attention "
             "uses exp2 where the norm bound shows no offset is needed",
             f"plain (2048 x 2048) @ (2048 x 2048) matmul on this machine: {gflops_mm:.0f} GFLOP/s "
             f"(the ceiling for the two products of attention)",
             f"methods that materialise the (H, T, T) scores are skipped when one score matrix exceeds "
             f"{MAX_SCORE_BYTES / 2**30:.0f} GiB",
             f"local w={WINDOW}: each query sees {2 * WINDOW + 1} keys; a different (cheaper) attention, "
             "shown for its linear growth"]
    markdown = common.report("time", "Time of one attention call (H=8, Dh=64, float32, 2 threads)",
                             table, notes)

    fig = common.new_figure()
    ax = fig.add_subplot()
    for name in names:
        pts = [(T, best[name] * 1e3) for T, best in results.items() if name in best]
        ax.plot(*zip(*pts), marker="o", label=name)
    ax.set(xscale="log", yscale="log", xlabel="sequence length T", ylabel="time per call (ms)",
           title="Attention time, H=8, Dh=64, 2 threads")
    ax.set_xticks(lengths, [str(t) for t in lengths], rotation=45)
    ax.xaxis.set_minor_locator(NullLocator())
    ax.grid(alpha=0.3)
    ax.legend()
    common.save_figure(fig, "time")
    return {"markdown": markdown, "targets": targets, "matmul_gflops": gflops_mm}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="T up to 4096 and fewer rounds")
    main(parser.parse_args().quick)
