# %% [markdown]
# # 08 · Limits of attention, and the fixes
#
# Every token reads every other token: $T$ tokens make a $T \times T$ score matrix in every head
# of every layer, so doubling the context quadruples the work. This lesson measures that cost in
# time and memory, then the fixes: exact attention in tiles that never stores the matrix (online
# softmax), reading only a window or a few blocks, and reading a long input in segments with a
# **memory** of the previous one. It ends with a task where attention is the wrong tool. (The KV
# cache, head pruning and 8-bit weights are in expert notebook 11.)
#
# **You will be able to**
# - measure how the time and memory of attention grow with $T$, and explain why a kernel that
#   stores the $T \times T$ matrix costs more per score than one that works in tiles;
# - write the online-softmax update and say why it gives *exact* attention in $O(T)$ memory;
# - measure what a window or a block-sparse pattern saves and costs, and why dropping small
#   weights after the fact saves no work;
# - give a segment-reading model a memory, and measure what it adds;
# - say when a convolution is the better choice.
#
# **Time:** about 65 minutes, plus 25 for the exercises.

# %%
import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import attnkit as ak

ak.seed_everything(0)
torch.set_num_threads(1)  # tiny models: one thread is faster than two fighting over small matrices
torch.set_printoptions(precision=3, sci_mode=False)
print(f"torch {torch.__version__.split('+')[0]}, attnkit {ak.__version__}")

# %% [markdown]
# ## Predict first

# %%
ak.quiz.ask(
    "A model reads 1,000 tokens. You give it 2,000 instead. The memory of one head's "
    "attention-score matrix is multiplied by about...",
    ["2 (twice the tokens)", "4 (twice the queries times twice the keys)", "8", "it stays the same"],
    answer=1,
    explanation="The score matrix has one entry per (query, key) pair: T x T entries. Twice the "
                "tokens means twice the rows and twice the columns, four times the entries. "
                "We count, time and weigh it next.",
)

# %% [markdown]
# ## 1. The bill grows as $T^2$
#
# For $B$ sequences, $H$ heads of width $d_h$ and length $T$, attention computes $QK^\top$
# ($2BHT^2d_h$ floating-point operations, FLOPs), a softmax over $BHT^2$ scores and the weighted
# sum of values (another $2BHT^2d_h$). `ak.attention_cost` counts the FLOPs and the bytes of
# scores held:

# %%
print("     T |    GFLOP | scores stored: full | memory-efficient (512 x 512 tiles)")
for T in (512, 2048, 8192, 32768):
    full = ak.attention_cost(T, head_dim=64, num_heads=8)
    tiled = ak.attention_cost(T, head_dim=64, num_heads=8, kind="memory_efficient", block_size=512)
    print(f"{T:6d} | {full['flops'] / 1e9:8.1f} | {full['score_bytes'] / 2**20:10.0f} MiB      | "
          f"{tiled['score_bytes'] / 2**20:5.0f} MiB")

# %% [markdown]
# Each ×4 in $T$ is ×16 in work and in stored scores: 32 GiB of float32 scores at $T = 32768$,
# for one layer (8 heads) of one sequence. In tiles of 512 × 512 (section 2) the count is 8 MiB
# at any length (counting one tile per head held at once), for the same work. Now we measure,
# first the clock, for $T$ from 128 to 2048 (2 heads of width 32, one thread): `ak.attention`
# builds the $T \times T$ scores; `ak.memory_efficient_attention` (section 2) works in tiles and
# never stores them; PyTorch's fused `scaled_dot_product_attention` (SDPA) is there for reference.
# Each time is the fastest of several calls (`ak.best_time`), taken in rounds that visit every
# length and kernel in turn, so that a burst of load on the machine spoils one round, not a curve. The cell prints the time **per score**, which stays level where time grows
# as $T^2$, the growth of the time from $T = 1024$ to $2048$ (×4 is $T^2$), and how many times
# longer `ak.attention` takes than the tiled kernel. Times depend on your machine: the tests do not
# compare this output.

# %%
# NBVAL_IGNORE_OUTPUT


lengths = [128, 256, 512, 1024, 2048]
kernels = {"ak.attention": ak.attention, "SDPA": F.scaled_dot_product_attention,
           "memory_efficient_attention": ak.memory_efficient_attention}
inputs = [torch.randn(3, 1, 2, T, 32).unbind(0) for T in lengths]  # each (B, H, T, Dh)
timings = {name: [math.inf] * len(lengths) for name in kernels}
for round_ in range(5):  # rounds over every length and kernel: a burst of load spoils one round, not a curve
    for i, (T, qkv) in enumerate(zip(lengths, inputs)):
        if T > 1024 and round_ >= 3:  # the long calls are steadier: three rounds are enough
            continue
        for name, fn in kernels.items():
            t = ak.best_time(fn, *qkv, repeats=3 if T <= 1024 else 1, warmup=round_ == 0)
            timings[name][i] = min(timings[name][i], t)
print(f"{'ns per score, T =':27s}" + "".join(f"{T:6d}" for T in lengths) + " | time x, 1024 -> 2048")
for name, times in timings.items():
    per_score = "".join(f"{t / (2 * T * T) * 1e9:6.2f}" for t, T in zip(times, lengths))
    print(f"{name:27s}{per_score} | x{times[-1] / times[-2]:.1f}")
ratios = [a / b for a, b in zip(timings["ak.attention"], timings["memory_efficient_attention"])]
print(f"{'ak.attention / mem-eff':27s}" + "".join(f"{r:6.1f}" for r in ratios))
ax = ak.plot.plot_cost_curves(lengths, timings, ylabel="seconds per call",
                              title="Time of one attention call (2 heads, d_h = 32)")

# %% [markdown]
# On log-log axes a cost growing as $T^p$ is a line of slope $p$; the dashed guide has slope 2.
# Fixed overheads flatten the curves at small $T$ and inflate the first times per score. Past them,
# read the time per score. The two tiled kernels (SDPA and `memory_efficient_attention`) keep
# theirs roughly level: their time grows about as $T^2$. `ak.attention`'s stays about level while
# its matrices fit in the processor's caches, then rises to several times that at the longest
# lengths, as they outgrow the caches (the last column shows how its time grows from 1024 to 2048;
# ×4 is $T^2$). That is a one-off step, not a larger exponent: once the matrix lives in main
# memory, each score is dearer, and time grows as $T^2$ again. This lesson stops at 2048 to keep its memory
# small ($T = 4096$ takes the kernel past 600 MB); the course benchmark (`make bench`, `benchmarks/results/time.md`) times 8 heads of
# width 64 on 2 threads, whose matrices leave the caches at shorter lengths, and there `ak.attention`'s time relative to
# SDPA's stays about flat from $T = 2048$ to $4096$. The last line shows the result: `ak.attention`,
# faster than `memory_efficient_attention` at the shortest lengths, takes longer at the long ones,
# several times as long at the longest. Where the rise falls depends on your machine's cache sizes, and
# timings wobble on a busy machine: rerun the cell.
#
# More arithmetic? Over the same lengths: PyTorch's `FlopCounterMode` counts the FLOPs of the matrix
# products (and only those) in the two pure-PyTorch kernels, and `ak.peak_tensor_bytes` weighs the
# most memory the tensors created inside a call hold at one time (SDPA is left out: its scratch
# memory lives inside one fused operation, out of this count's sight).

# %%
peaks = {"ak.attention": [], "memory_efficient_attention": []}
print("     T | matrix-product GFLOP | peak MiB: ak.attention | memory_efficient | T x T matrix of 2 heads")
for T in lengths:  # 128 to 2048
    q, k, v = torch.randn(3, 1, 2, T, 32).unbind(0)  # each (B, H, T, Dh)
    flops = []
    for name in peaks:
        with FlopCounterMode(display=False) as counter:
            kernels[name](q, k, v)
        flops.append(counter.get_total_flops())
        peaks[name].append(ak.peak_tensor_bytes(kernels[name], q, k, v))
    same = "same" if flops[0] == flops[1] else "DIFFERENT"
    print(f"{T:6d} | {flops[0] / 1e9:6.3f} ({same:4s})        | {peaks['ak.attention'][-1] / 2**20:22.1f} | "
          f"{peaks['memory_efficient_attention'][-1] / 2**20:16.1f} | {2 * T * T * 4 / 2**20:6.1f}")
ax = ak.plot.plot_cost_curves(lengths, peaks, ylabel="peak bytes of tensors created in the call",
                              title="Memory of one attention call, measured")

# %% [markdown]
# The same matrix-product FLOPs at every length (the softmax adds a few operations per score, which
# `FlopCounterMode` does not count, against $4 d_h = 128$ in the two products); not the same
# memory. `ak.attention` holds about two $T \times T$ matrices at once (scores, then weights),
# along the $T^2$ guide. The tiled kernel's peak grows so only while the matrix fits in one tile
# (512 keys by default); beyond that it holds the output and a tile or two, a few MiB. What does `ak.attention` do with its matrix? `ak.trace_operations`
# lists the operations a call runs and the new tensors each makes ($T = 8$, to read the shapes):

# %%
q, k, v = torch.randn(3, 1, 2, 8, 4).unbind(0)  # each (B, H, T, Dh), T = 8
for name in ("ak.attention", "SDPA"):
    made = [(op, shapes) for op, shapes in ak.trace_operations(kernels[name], q, k, v) if shapes]
    print(f"{name}: " + "; ".join(f"{op} -> {', '.join(str(s) for s in shapes)}" for op, shapes in made))

# %% [markdown]
# Three $T \times T$ tensors are written in turn (scores, scaled scores, weights), each read back
# by the next operation. Once the matrix no longer fits in the processor's caches (the small, fast
# memories beside its cores), every pass goes to slower memory: the larger, slower caches, then
# main memory, which delivers bytes far more slowly than the processor computes on them (Williams
# et al. 2009): the time goes into moving data, not into FLOPs. That is the rise in time per score.
# The tiled kernel does the same FLOPs one cache-sized tile at a time; SDPA runs as one operation
# (here PyTorch's flash-attention kernel for CPUs, also tiled).
# This is the argument of FlashAttention (Dao et al. 2022): on a GPU, attention is limited by
# traffic between the large, slow memory and the small, fast on-chip memory, and tiling with an
# online softmax (section 2) makes it *faster*, not only smaller. Our CPU shows the same effect,
# with its caches as the fast memory.
#
# ## 2. Exact attention without the $T \times T$ matrix: online softmax
#
# The softmax needs the maximum and the sum of a whole row of scores, which seems to need the
# row. It does not: read the keys in blocks and keep, per query, a running maximum $m$, a running
# sum $\ell$ of $e^{s - m}$ and a running output $o$ (unnormalised weighted sum of values). When a
# block raises the maximum from $m$ to $m'$, what was accumulated against the old maximum is
# rescaled by $e^{m - m'}$:
#
# $$m' = \max(m, \max_j s_j),\qquad \ell' = e^{m - m'}\,\ell + \sum_j e^{s_j - m'},\qquad
#   o' = e^{m - m'}\,o + \sum_j e^{s_j - m'}\,v_j$$
#
# and at the end the output is $o / \ell$ (Milakov and Gimelshein 2018; Rabe and Staats 2021).
# Memory: one block of scores at a time. From scratch, for a batch of queries and blocks of 4 keys:

# %%
torch.manual_seed(0)
q, k, v = 2 * torch.randn(5, 3), torch.randn(10, 3), torch.randn(10, 2)  # (Tq, D), (Tk, D), (Tk, Dv)
run_max = torch.full((5, 1), -math.inf)  # (Tq, 1)
run_sum, run_out = torch.zeros(5, 1), torch.zeros(5, 2)  # (Tq, 1), (Tq, Dv)
for start in range(0, 10, 4):  # blocks of keys 0-3, 4-7, 8-9
    attn_scores = q @ k[start:start + 4].T / math.sqrt(3)  # (Tq, block)
    new_max = torch.maximum(run_max, attn_scores.amax(-1, keepdim=True))
    exp_scores = torch.exp(attn_scores - new_max)  # (Tq, block)
    run_sum = torch.exp(run_max - new_max) * run_sum + exp_scores.sum(-1, keepdim=True)
    run_out = torch.exp(run_max - new_max) * run_out + exp_scores @ v[start:start + 4]
    run_max = new_max
online = run_out / run_sum  # (Tq, Dv)
print("output", tuple(online.shape), " max abs diff to ak.attention:",
      round((online - ak.attention(q, k, v)[0]).abs().max().item(), 7))

# %% [markdown]
# **Pitfall: forgetting the rescale.** The tempting version adds each block's exponentials to
# the running sum and output as they come. Measured on the same inputs:

# %%
def online_without_rescale(q, k, v, block=4):
    run_max, run_sum, run_out = torch.full((len(q), 1), -math.inf), 0.0, 0.0
    for start in range(0, len(k), block):
        attn_scores = q @ k[start:start + block].T / math.sqrt(q.shape[-1])
        run_max = torch.maximum(run_max, attn_scores.amax(-1, keepdim=True))
        exp_scores = torch.exp(attn_scores - run_max)
        run_sum = run_sum + exp_scores.sum(-1, keepdim=True)  # wrong: old terms used the old max
        run_out = run_out + exp_scores @ v[start:start + block]
    return run_out / run_sum


exact = ak.attention(q, k, v)[0]  # (Tq, Dv)
wrong = online_without_rescale(q, k, v)
print("typical output size (mean |output|):", round(exact.abs().mean().item(), 3))
print("without the rescale: max abs diff", round((wrong - exact).abs().max().item(), 3))
print("with the rescale:    max abs diff", round((online - exact).abs().max().item(), 7))

# %% [markdown]
# Without the rescale, blocks read before the maximum grew count as if their scores were larger:
# the error exceeds the outputs themselves. With it, the difference is float32 rounding.
# `ak.memory_efficient_attention` is the same idea with query tiles too, for any batch shape and
# mask. It takes one shortcut: since any offset cancels in the final division, it keeps a query's
# offset at 0 until one of its scores rises more than 20 above it, or its first scores all lie more
# than 20 below it ($e^{\pm 20}$ is far from float32's limits). So for scores of ordinary size no
# block is ever rescaled, and most blocks need not even look for their maximum: a score
# $q \cdot k / \sqrt{d}$ is at most $|q|\,|k| / \sqrt{d}$ in size, so while every offset is still 0
# (and no float mask is added), a block where that bound, with its largest query and key norms, is
# at most 20 cannot move an offset. Such a block also computes $e^s$ as $2^{s \log_2 e}$: the same
# value up to float32 rounding, by `torch.exp2`, which ran faster than `torch.exp` on the CPU we measured (`make bench`
# prints both times for yours). Checked with a causal mask and a length (1000) that leaves the last block short:

# %%
q, k, v = torch.randn(3, 1, 4, 1000, 32).unbind(0)  # each (B, H, T, Dh)
causal = ak.causal_mask(1000)  # (T, T), True = may attend
tiled = ak.memory_efficient_attention(q, k, v, mask=causal, block_size=256)
full, _ = ak.attention(q, k, v, mask=causal)
sdpa = F.scaled_dot_product_attention(q, k, v, is_causal=True)
print("max abs diff to ak.attention:", round((tiled - full).abs().max().item(), 6),
      " to SDPA:", round((tiled - sdpa).abs().max().item(), 6))

# %% [markdown]
# Exact up to rounding, with the FLOPs of full attention: the tiles remove the stored matrix and,
# as section 1's timings at equal FLOPs suggest, much of the time spent moving it.
#
# ## 3. Local and block-sparse attention: less work, but what does it cost?
#
# These fixes compute fewer scores. A **local window** lets query $i$ read keys with
# $|i - j| \le w$; a **block-sparse** pattern lets each block of queries read only some blocks of
# keys (here itself, its neighbours and the first block as a "global" one; fixed sparse patterns go
# back to Child et al. 2019, and BigBird, Zaheer et al. 2020, adds random blocks). The work grows
# with the scores kept (up to padding to whole tiles: `ak.local_attention` scores each block of at
# least 32 queries against every key that any of them may read), linearly in $T$ for a fixed
# window or number of blocks; what is lost depends on the task. We measure it on lesson 02's
# reversal task, now with a Transformer: output $i$ reads input $T-1-i$, far away for most $i$.
# First, the fast kernels compute what the masks say:

# %%
q, k, v = torch.randn(3, 1, 2, 64, 16).unbind(0)  # each (B, H, T, Dh)
local = ak.local_attention(q, k, v, window=5)
print("local_attention vs masked attention, max abs diff:",
      round((local - ak.attention(q, k, v, mask=ak.local_window_mask(64, 5))[0]).abs().max().item(), 6))
sparse_mask = ak.block_sparse_mask(64, block_size=16, local_blocks=1, global_blocks=1)  # (T, T)
sparse = ak.block_sparse_attention(q, k, v, block_size=16, local_blocks=1, global_blocks=1)
print("block_sparse_attention vs masked attention, max abs diff:",
      round((sparse - ak.attention(q, k, v, mask=sparse_mask)[0]).abs().max().item(), 6))

# %% [markdown]
# Predict before we measure:

# %%
ak.quiz.ask(
    "A Transformer trained with full attention reverses 16-digit sequences almost perfectly. "
    "We evaluate it with a local window that keeps about half of the score matrix. Its accuracy...",
    ["stays near 100%: the window keeps half the scores",
     "drops a lot: most outputs need an input that is far away",
     "drops exactly to chance (10%) everywhere"],
    answer=1,
    explanation="Output i needs input T-1-i, at distance |T-1-2i|. A window keeps only the "
                "positions whose partner is near, in the middle of the sequence. Measured below.",
)

# %% [markdown]
# Three seeds of a small Transformer (2 layers, 4 heads), trained with full attention, then
# evaluated with masks they never saw:

# %%
T, seeds = 16, (0, 1, 2)
models = []
for seed in seeds:
    model, losses = ak.train_tiny_transformer("reverse", length=T, steps=200, batch_size=32, d_model=32,
                                              num_heads=4, num_layers=2, dim_feedforward=64,
                                              norm_first=True, seed=seed, progress=False)
    models.append(model)
    print(f"seed {seed}: loss {losses[0]:.2f} -> {losses[-1]:.3f}, "
          f"accuracy with full attention {ak.toy_task_accuracy(model, 'reverse', T):.3f}")

# %% [markdown]
# For each mask: the share of scores kept and the accuracy (lowest–highest over the seeds)
# overall, on outputs whose partner $T-1-i$ the mask keeps, and on those whose partner it cuts
# (guessing scores 0.1):

# %%
partner = torch.arange(T).flip(0)  # output i reads input T - 1 - i
test_ids, test_targets = ak.toy_batch("reverse", 512, T, generator=torch.Generator().manual_seed(12345))


def spread(values):
    return f"{min(values):.3f}-{max(values):.3f}" if values else "  (none)   "


def evaluate_mask(mask):
    """Kept share; accuracy per seed overall, on outputs whose partner is kept, on the others."""
    reachable = mask[torch.arange(T), partner]  # (T,): True where output i may read input T - 1 - i
    overall, kept_pairs, cut_pairs = [], [], []
    for m in models:
        with torch.no_grad():
            right = (m(test_ids, mask=mask).argmax(-1) == test_targets).float()  # (B, T)
        overall.append(right.mean().item())
        if reachable.any():
            kept_pairs.append(right[:, reachable].mean().item())
        if not reachable.all():
            cut_pairs.append(right[:, ~reachable].mean().item())
    kept = mask.float().mean().item()
    print(f"keeps {kept:5.1%}: accuracy {spread(overall)}; partner kept {spread(kept_pairs)}, "
          f"partner cut {spread(cut_pairs)}")
    return kept, sum(overall) / len(overall)


windows = [0, 1, 2, 4, 6, 8, 10, 12, 15]
window_kept, window_acc = [], []  # window_acc: mean over the seeds
for w in windows:
    print(f"window {w:2d}", end=" ")
    kept, accuracy = evaluate_mask(ak.local_window_mask(T, w))
    window_kept.append(kept)
    window_acc.append(accuracy)
sparse_kept, sparse_acc = [], []
for block, neighbors in [(2, 0), (2, 1), (4, 0), (4, 1)]:
    print(f"blocks of {block}, {neighbors} neighbour(s) + 1 global", end=" ")
    kept, accuracy = evaluate_mask(ak.block_sparse_mask(T, block_size=block, local_blocks=neighbors,
                                                        global_blocks=1))
    sparse_kept.append(kept)
    sparse_acc.append(accuracy)

# %%
ax = ak.plot.plot_quality_vs_cost({"local window": (window_kept, window_acc),
                                   "block-sparse": (sparse_kept, sparse_acc)}, chance=0.1,
                                  title="Reversal: accuracy vs scores kept (mean of 3 seeds)")

# %% [markdown]
# The seeds agree, and the split explains the accuracy: outputs whose partner is kept stay right
# or nearly (all 1.000 from window 8 on), the others fall to guessing. *Which* scores are kept
# matters more than *how many*: blocks of 4 with one neighbour and a global block happen to keep
# every pair $(i, T-1-i)$ (middle blocks are neighbours, end blocks meet through the global one). That pattern keeps 87.5% of the scores,
# about as many as window 10 (88.3%), and keeps its accuracy; window 10 loses a third of the
# answers. A pattern pays off when it matches the task: Longformer (Beltagy et al. 2020) and
# BigBird combine a sliding window with a few global tokens and **train** with it; here it was
# imposed after training.
#
# ## Explore: the window width
# Slide the window: its mask, the share of scores kept and the accuracy above (mean of 3 seeds).

# %%
ak.widgets.window_explorer(T, windows, window_acc, chance=0.1)

# %% [markdown]
# The same drawing, frozen at the window that keeps about half of the scores:

# %%
ak.widgets.draw_window_tradeoff(T, 4, windows, window_acc, chance=0.1)

# %% [markdown]
# **Myth: "attention ignores the unimportant tokens, so cutting them is free".** First question:
# were the weights the windows cut small? Per model and layer: the weight each output puts on its
# partner key (largest over the 4 heads, averaged over outputs and 512 sequences), and the share
# of all weight outside window 10:

# %%
inputs, _ = ak.toy_batch("reverse", 512, T, generator=torch.Generator().manual_seed(1))
outside_10 = ~ak.local_window_mask(T, 10)  # (T, T), True = cut by window 10
for seed, model in zip(seeds, models):
    with torch.no_grad():
        model(inputs)  # fills layer.attn_weights, (B, H, T, T) per layer
    on_partner = [layer.attn_weights[:, :, torch.arange(T), partner].amax(1).mean().item()
                  for layer in model.layers]  # weight on key T - 1 - i, largest over heads
    outside = [(layer.attn_weights * outside_10).sum(-1).mean().item() for layer in model.layers]
    print(f"seed {seed}: weight on the partner, layer 0 {on_partner[0]:.2f}, layer 1 {on_partner[1]:.2f}; "
          f"share outside window 10, layer 0 {outside[0]:.2f}, layer 1 {outside[1]:.2f}")

# %% [markdown]
# Not small: in layer 1 an output puts, on average, nearly all of one head's weight on its
# partner, and when the partner lies outside the window, that is what the window cuts. The windows cut *large*
# weights. Second question: what if we drop only small ones? In each layer, drop every weight
# below 0.05 and let the softmax share the rest out again (a mask does that):

# %%
def drop_small_weights(model, ids, threshold):
    """Logits of ``model`` when each layer attends only to keys whose weight is >= ``threshold``."""
    x = model.embed_tokens(ids)  # (B, T, D)
    removed = []
    for layer in model.layers:
        layer(x)  # a full pass, only to read every weight: layer.attn_weights (B, H, T, T)
        keep = layer.attn_weights >= threshold  # (B, H, T, T)
        removed.append(1 - keep.float().mean().item())
        x = layer(x, mask=keep)  # the real pass: each query reads only its large-weight keys
    return model.head(model.final_norm(x)), removed  # (B, T, V)


for seed, model in zip(seeds, models):
    with torch.no_grad():
        logits, removed = drop_small_weights(model, test_ids, 0.05)
    accuracy = (logits.argmax(-1) == test_targets).float().mean().item()
    print(f"seed {seed}: scores dropped per layer {[f'{r:.0%}' for r in removed]}, "
          f"{sum(removed) / len(removed):.0%} overall; accuracy {accuracy:.3f}")

# %% [markdown]
# Most scores go and the accuracy stays: these small weights were dispensable. But to find them,
# `drop_small_weights` first ran every layer in full, all of $QK^\top$ and the softmax. Dropping
# them afterwards saves none of that work (at most part of the weighted sum of values). Saving
# work means choosing the scores to skip **before** computing them: a fixed pattern (cheap, but it
# must match the task, as measured above), or a cheap guess of which keys will score high, as
# Reformer does by hashing similar queries and keys into the same bucket (Kitaev et al. 2020).
#
# ## 4. Memory-augmented attention: reading a long input in segments
#
# Reading a long input in **segments** of $S$ tokens costs $S^2$ scores per segment, $T \cdot S$ in
# all: linear in $T$. But no token sees anything before its segment. Transformer-XL (Dai et al.
# 2019) adds a **memory**: each layer keeps the previous segment's hidden states, and the current
# queries attend over them as extra keys and values. No gradient flows into the memory (it is
# `detach`ed), and positions must be relative, since absolute ones would repeat in every segment
# (our model learns one score bias per head and distance, in the style of T5, Raffel et al. 2020).
#
# `ak.SegmentMemoryTransformer` is such a model, causal (a query reads the memory, itself and
# the earlier tokens of its own segment; 1 layer, 2 heads, segments and memory of 8);
# `use_memory=False` reads each segment alone. The task, `ak.delayed_copy_batch`: output $t$ is
# input $t - 8$, so every answer lies in the *previous* segment.

# %%
ak.quiz.ask(
    "A model reads 16 digits in two segments of 8. The answer at position t is the digit at t - 8. "
    "Reading each segment alone (no memory), its accuracy on the second segment is about...",
    ["100%: attention can read any token", "10%: chance, the digit it needs is in the other segment",
     "50%: it sees half of the input"],
    answer=1,
    explanation="Without memory the second segment's queries only have the second segment's keys, "
                "and those digits are independent of the answer: a guess is right 1 time in 10.",
)

# %% [markdown]
# With and without memory: three seeds each, same learning rate, same 100 steps on 16 digits (two
# segments); accuracy on the positions that have an answer, on 16 digits and on 128 (16 segments,
# longer than in training):

# %%
def train_segment_model(seed, use_memory):
    torch.manual_seed(seed)
    model = ak.SegmentMemoryTransformer(10, d_model=32, num_heads=2, num_layers=1, segment_len=8)

    def loss_fn(m, batch):
        ids, targets = batch  # (B, T) each; targets -100 where there is nothing to copy
        logits = m(ids, use_memory=use_memory)  # (B, T, 10)
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100)

    ak.train(model, lambda g: ak.delayed_copy_batch(32, 16, delay=8, generator=g), loss_fn, steps=100,
             lr=1e-2, warmup=10, clip=1.0, seed=seed, progress=False)
    return model


@torch.no_grad()
def copy_accuracy(model, length, use_memory):
    ids, targets = ak.delayed_copy_batch(512, length, delay=8, generator=torch.Generator().manual_seed(7))
    predicted = model(ids, use_memory=use_memory).argmax(-1)  # (B, T)
    answered = targets != -100
    return (predicted[answered] == targets[answered]).float().mean().item()


segment_models = {}
for use_memory in (True, False):
    for seed in seeds:
        segment_models[use_memory, seed] = m = train_segment_model(seed, use_memory)
        print(f"{'with' if use_memory else 'without'} memory, seed {seed}: accuracy on 16 digits "
              f"{copy_accuracy(m, 16, use_memory):.3f}, on 128 digits {copy_accuracy(m, 128, use_memory):.3f}")

# %% [markdown]
# Without memory every seed stays at chance (the digit is not there); with it every seed copies
# across the boundary, over 16 segments too, each query still attending over at most 8 + 8 keys. Where
# does a query look? The last segment of a 128-digit input, seed 0:

# %%
model = segment_models[True, 0]
ids, _ = ak.delayed_copy_batch(1, 128, delay=8, generator=torch.Generator().manual_seed(3))  # (1, 128)
with torch.no_grad():
    model(ids)  # keeps the last segment's weights in model.layers[0].attn_weights
weights = model.layers[0].attn_weights[0]  # (H, 8 queries, 8 memory + 8 current keys)
on_partner = weights[:, torch.arange(8), torch.arange(8)].mean(-1)  # (H,): query c_i's weight on m_i
head = int(on_partner.argmax())
print(f"mean weight of query c_i on memory slot m_i, per head: {[round(x, 2) for x in on_partner.tolist()]}")
print("in every head, every query's largest weight is on m_i:",
      bool((weights.argmax(-1) == torch.arange(8)).all()))
n_scores = 8 * 8 + 15 * 8 * 16  # first segment: 8 queries x 8 keys (no memory yet); 15 more: 8 x (8 + 8)
print(f"scores computed per head for 128 digits: {n_scores} in segments with memory, "
      f"{128 * 128} with full attention")
keys = [f"m{j}" for j in range(8)] + [f"c{j}" for j in range(8)]
ax = ak.plot_attention(weights[head], x_labels=keys, y_labels=[f"c{i}" for i in range(8)],
                       title=f"head {head}: current-segment queries over [memory; current]")

# %% [markdown]
# Query $c_i$ puts its largest weight on memory slot $m_i$, exactly 8 tokens back. Limits: one
# layer reaches back only as far as its memory, and no loss of a later segment shapes what an
# earlier one stores. With several layers the memory holds states that already read the segment
# before, so the reach grows with layers times segment length (Dai et al. 2019). Keeping earlier
# keys and values is also what a KV cache does in generation: expert notebook 11 builds one.
#
# ## 5. When *not* to use attention
#
# When every output depends on a few neighbours, reading anything anywhere is wasted. Task:
# output $t$ is $(x_{t-1} + x_t) \bmod 10$. A small convolution and a one-layer Transformer, same
# learning rate, warm-up, clipping and steps, three seeds each; "solved" at the first step from
# which 20 fresh batches in a row (each scored before the model learns from it) are ≥ 99% right.

# %%
def neighbour_sum_batch(generator, batch_size=32, length=16):
    inputs = torch.randint(0, 10, (batch_size, length), generator=generator)  # (B, T)
    previous = F.pad(inputs[:, :-1], (1, 0))  # (B, T), a 0 before the first token
    return inputs, (inputs + previous) % 10


class ConvTagger(nn.Module):
    """Embedding, a causal convolution over 2 positions, a per-position classifier."""

    def __init__(self, vocab_size=10, width=32):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, width)
        self.conv = nn.Conv1d(width, width, kernel_size=2)
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, vocab_size))

    def forward(self, ids):
        x = self.embed(ids).transpose(1, 2)  # (B, D, T)
        x = self.conv(F.pad(x, (1, 0)))  # (B, D, T): position t sees t-1 and t
        return self.head(x.transpose(1, 2))  # (B, T, V)


def steps_to_solve(model, seed, steps=350):
    batch_accuracy = []  # each fresh batch's accuracy, before the model learns from it

    def loss_fn(m, batch):
        ids, targets = batch
        logits = m(ids)  # (B, T, 10)
        batch_accuracy.append((logits.argmax(-1) == targets).float().mean().item())
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten())

    ak.train(model, neighbour_sum_batch, loss_fn, steps=steps, lr=1e-2, warmup=30, clip=1.0, seed=seed,
             progress=False)
    return next((s for s in range(steps - 19) if min(batch_accuracy[s:s + 20]) >= 0.99), None)


makers = {"convolution": ConvTagger,
          "Transformer": lambda: ak.TinyTransformer(10, d_model=32, num_heads=4, num_layers=1,
                                                    dim_feedforward=64, norm_first=True, max_len=64)}
trained_taggers = {}
for name, make in makers.items():
    solved = []
    for seed in seeds:
        torch.manual_seed(seed)
        trained_taggers[name, seed] = tagger = make()
        solved.append(steps_to_solve(tagger, seed))
    n_params = sum(p.numel() for p in tagger.parameters())
    print(f"{name:12s} {n_params:5d} parameters, steps to solve per seed: {solved} (of 350)")

# where the trained Transformer looks: each head's mean weight of query t on key t - 1
probe_ids, _ = neighbour_sum_batch(torch.Generator().manual_seed(5), batch_size=256)  # (256, 16)
t = torch.arange(1, 16)  # every query with a previous token
on_previous = []
for seed in seeds:
    with torch.no_grad():
        trained_taggers["Transformer", seed](probe_ids)
    weights = trained_taggers["Transformer", seed].layers[0].attn_weights  # (B, H, T, T)
    per_head = weights[:, :, t, t - 1].mean((0, 2))  # (H,)
    on_previous.append(round(per_head.max().item(), 2))
print(f"Transformer, mean weight on key t - 1 in the head that looks back most, per seed: {on_previous}; "
      f"spread evenly over 16 keys it would be {1 / 16:.2f}")

# %% [markdown]
# The convolution solves it several times sooner on every seed, with fewer parameters: the
# Transformer must *learn*, from its positional encodings, to look one position back (and, trained,
# one of its heads puts most of its weight on key $t-1$: last line); the convolution's shape
# builds that in. Its work per token is also independent of $T$, attention's
# grows with $T$. Time per token at two lengths (fresh models; per-call overheads make the short
# input look dearer):

# %%
# NBVAL_IGNORE_OUTPUT
conv = ConvTagger()
tagger_long = ak.TinyTransformer(10, d_model=32, num_heads=4, num_layers=1, dim_feedforward=64,
                                 norm_first=True, max_len=512)
for n in (128, 512):
    long_ids = torch.randint(0, 10, (1, n))  # (1, T)
    with torch.no_grad():
        t_conv, t_attn = ak.best_time(conv, long_ids), ak.best_time(tagger_long, long_ids)
    print(f"T = {n:3d}: per token, convolution {t_conv / n * 1e6:5.2f} us, Transformer {t_attn / n * 1e6:6.2f} us")

# %% [markdown]
# Attention earns its cost when outputs need information from far away: fixed far positions
# (reversal, where one convolution would need a kernel about twice as wide as the sequence) or places that
# depend on the content (a value looked up by its key; aligning words in translation, Bahdanau et
# al. 2015). For local patterns a convolution does the job in $O(T)$; for long signals, recurrent
# and state-space models are $O(T)$ alternatives (Gu and Dao 2023); hybrids use convolutions for
# local features and attention for global context (Gulati et al. 2020, for speech).
#
# ## Recap
# - Attention does $O(T^2)$ work. Storing the $T \times T$ matrix costs $O(T^2)$ memory, and while
#   the matrix outgrows the caches its time per score rises; then time grows as $T^2$ again, at
#   that higher cost per score: moving the matrix is the bill (Dao et al. 2022).
# - **Online softmax** (running max, sum and output, rescaled by $e^{m - m'}$) gives *exact*
#   attention with one tile of memory; forgetting the rescale gives wrong outputs.
# - **Local and block-sparse** attention work roughly in proportion to the scores kept; imposed
#   after training, they lose the outputs whose pairs they drop. Dropping small weights after
#   computing them saves no work.
# - A **memory** of the previous segment (Transformer-XL) lets a segment reader use what came
#   before, at a cost per segment that does not grow with the input.
# - On a local task a convolution learned several times faster here, and it runs in $O(T)$.
#
# **Exercises:** `my-work/08_limitations_and_fixes.ipynb`: the online-softmax loop and a causal
# sliding-window mask; the checkers name the usual mistakes (a forgotten rescale, an off-by-one
# window). The KV cache, head pruning and int8 weights: expert notebook 11.
#
# ## References
# - Bahdanau, Cho and Bengio (2015). *Neural Machine Translation by Jointly Learning to Align and
#   Translate.*
# - Beltagy, Peters and Cohan (2020). *Longformer: The Long-Document Transformer.*
# - Child, Gray, Radford and Sutskever (2019). *Generating Long Sequences with Sparse Transformers.*
# - Dai, Yang, Yang, Carbonell, Le and Salakhutdinov (2019). *Transformer-XL: Attentive Language
#   Models Beyond a Fixed-Length Context.*
# - Dao, Fu, Ermon, Rudra and Ré (2022). *FlashAttention: Fast and Memory-Efficient Exact Attention
#   with IO-Awareness.*
# - Gu and Dao (2023). *Mamba: Linear-Time Sequence Modeling with Selective State Spaces.*
# - Gulati et al. (2020). *Conformer: Convolution-augmented Transformer for Speech Recognition.*
# - Kitaev, Kaiser and Levskaya (2020). *Reformer: The Efficient Transformer.*
# - Milakov and Gimelshein (2018). *Online normalizer calculation for softmax.*
# - Rabe and Staats (2021). *Self-attention Does Not Need $O(n^2)$ Memory.*
# - Raffel et al. (2020). *Exploring the Limits of Transfer Learning with a Unified Text-to-Text
#   Transformer.* (T5.)
# - Williams, Waterman and Patterson (2009). *Roofline: An Insightful Visual Performance Model for
#   Multicore Architectures.*
# - Zaheer et al. (2020). *Big Bird: Transformers for Longer Sequences.*
