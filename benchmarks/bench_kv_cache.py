"""Q3: how much faster is generation with a KV cache than recomputing the whole prefix?

``attnkit.TinyLM(vocab_size=64, d_model=128, num_heads=4, num_layers=4)``, batch 1, a 16-token
prompt, greedy decoding, 2 threads. Both modes are timed side by side and must give the same tokens.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from matplotlib.ticker import NullLocator
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

import attnkit as ak  # noqa: E402

PROMPT = 16
NEW_TOKENS = (32, 64, 128, 256, 512)


def main(quick: bool = False) -> dict:
    common.setup()
    new_tokens = NEW_TOKENS[:4] if quick else NEW_TOKENS
    lm = ak.TinyLM(vocab_size=64, d_model=128, num_heads=4, num_layers=4, max_len=PROMPT + max(new_tokens))
    lm.eval()
    prompt = torch.randint(0, 64, (1, PROMPT), generator=torch.Generator().manual_seed(0))
    results = {}
    for n in tqdm(new_tokens, desc="KV cache", file=sys.stderr):
        same = torch.equal(lm.generate(prompt, n, use_cache=True), lm.generate(prompt, n, use_cache=False))
        best = common.time_side_by_side({
            "cache": lambda n=n: lm.generate(prompt, n, use_cache=True),
            "recompute": lambda n=n: lm.generate(prompt, n, use_cache=False),
        }, min_rounds=1 if quick else 2, max_rounds=3, budget_s=0.5 if quick else 2.0)
        results[n] = best, same
    rows = [[n, f"{b['cache'] * 1e3:.0f}", f"{b['recompute'] * 1e3:.0f}", f"{b['recompute'] / b['cache']:.1f}x",
             f"{b['cache'] * 1e3 / n:.2f}", "yes" if same else "NO"] for n, (b, same) in results.items()]
    table = common.markdown_table(
        ["new tokens", "with cache ms", "recompute ms", "speed-up", "ms / token (cache)", "same tokens"], rows)
    targets = []
    if 256 in results:
        b, same = results[256]
        targets.append(("KV-cache speed-up, 256 new tokens, d_model=128, 4 layers", b["recompute"] / b["cache"],
                        5.0, "min"))
        targets.append(("cached tokens == recomputed tokens (all lengths)",
                        float(all(s for _, s in results.values())), 1.0, "min"))
    notes = [f"prompt of {PROMPT} tokens, greedy, batch 1; the cache is preallocated (attnkit.KVCache)"]
    markdown = common.report("kv_cache", "Generation with and without the KV cache (TinyLM d=128, 4 layers)",
                             table, notes)

    fig = common.new_figure()
    ax = fig.add_subplot()
    ns = list(results)
    ax.plot(ns, [results[n][0]["recompute"] * 1e3 for n in ns], marker="o", label="recompute the prefix")
    ax.plot(ns, [results[n][0]["cache"] * 1e3 for n in ns], marker="o", label="KV cache")
    ax.set(xscale="log", yscale="log", xlabel="new tokens", ylabel="generation time (ms)",
           title="Greedy generation, TinyLM d=128, 4 layers")
    ax.set_xticks(ns, [str(n) for n in ns])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.grid(alpha=0.3)
    ax.legend()
    common.save_figure(fig, "kv_cache")
    return {"markdown": markdown, "targets": targets}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    main(parser.parse_args().quick)
