# %% [markdown]
# # 08 · Limits of attention, and the fixes used in practice
#
# Attention lets every token read every other token. That is its strength and its bill: a
# sequence of $T$ tokens makes a $T \times T$ score matrix in every head of every layer, so
# doubling the context quadruples the work and the memory. This lesson measures that cost, then
# the fixes people actually use: reading only a local window or a few blocks (and what quality
# that costs), computing exact attention in tiles without ever storing the matrix (online
# softmax), caching keys and values when generating text, pruning heads and storing weights in
# 8 bits. It ends with the case where attention is simply the wrong tool.
#
# **You will be able to**
# - predict and measure how time and memory of attention grow with $T$, on a log-log plot;
# - write the online-softmax update and explain why it gives *exact* attention in $O(T)$ memory;
# - measure what a local window or a block-sparse pattern saves and what accuracy it costs;
# - use a KV cache for generation and measure its speed-up (same tokens, less work);
# - prune heads and quantize a model to int8, measuring size and accuracy before and after;
# - say when a convolution or an RNN is the better choice.
#
# **Time:** about 35 minutes, plus 20 for the exercises.

# %%
import io
import math
import time
import warnings
from copy import deepcopy

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

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
                "We count and time it next.",
)

# %% [markdown]
# ## 1. The bill grows as $T^2$
#
# For $B$ sequences, $H$ heads of width $d_h$ and length $T$, attention computes
# $QK^\top$ ($2BHT^2d_h$ floating-point operations), a softmax over $BHT^2$ scores, and the
# weighted sum of values (another $2BHT^2d_h$). The score matrix alone holds $BHT^2$ numbers.
# `ak.attention_cost` counts both, so we can print the bill before paying it:

# %%
print("     T |    GFLOP | scores stored: full | memory-efficient (512 x 512 tiles)")
for T in (512, 2048, 8192, 32768):
    full = ak.attention_cost(T, head_dim=64, num_heads=8)
    tiled = ak.attention_cost(T, head_dim=64, num_heads=8, kind="memory_efficient", block_size=512)
    print(f"{T:6d} | {full['flops'] / 1e9:8.1f} | {full['score_bytes'] / 2**20:10.0f} MiB      | "
          f"{tiled['score_bytes'] / 2**20:5.0f} MiB")

# %% [markdown]
# Each ×4 in $T$ is a ×16 in work and in stored scores. At $T = 32768$ one layer's scores need
# 32 GiB in float32, more than most laptops have; computed tile by tile (section 2) they need 8 MiB
# at any length, for the same work. Is the count right? `ak.attention` returns the weights it
# built, so we can weigh that tensor:

# %%
q = torch.randn(1, 8, 512, 64)  # (B, H, T, Dh)
_, attn_weights = ak.attention(q, q, q)  # (B, H, T, T)
measured = attn_weights.nelement() * attn_weights.element_size()
print("weights", tuple(attn_weights.shape), "->", measured, "bytes; counted:",
      ak.attention_cost(512, head_dim=64, num_heads=8)["score_bytes"])

# %% [markdown]
# Now the clock. We time three implementations on the same inputs for $T$ from 128 to 2048
# (4 heads of width 32, one thread): `ak.attention` (builds and returns the weights), PyTorch's fused
# `scaled_dot_product_attention` (SDPA), and `ak.memory_efficient_attention` (section 2: never
# stores the matrix). The times depend on your machine, so this cell's output is not compared
# by the tests.

# %%
# NBVAL_IGNORE_OUTPUT
def best_time(fn, *args, repeats=3):
    """The fastest of ``repeats`` calls, in seconds (the least disturbed by other programs)."""
    fn(*args)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return min(times)


lengths = [128, 256, 512, 1024, 2048]
timings = {"ak.attention": [], "SDPA": [], "memory_efficient_attention": []}
for T in lengths:
    q, k, v = torch.randn(3, 1, 4, T, 32).unbind(0)  # each (B, H, T, Dh)
    timings["ak.attention"].append(best_time(ak.attention, q, k, v))
    timings["SDPA"].append(best_time(F.scaled_dot_product_attention, q, k, v))
    timings["memory_efficient_attention"].append(best_time(ak.memory_efficient_attention, q, k, v))
for name, times in timings.items():  # slope of log(time) against log(T), fitted from T = 512 on
    slope = np.polyfit(np.log(lengths[2:]), np.log(times[2:]), 1)[0]
    print(f"{name:27s} T=2048: {times[-1] * 1e3:7.1f} ms, log-log slope from T=512: {slope:.1f}")
ax = ak.plot.plot_cost_curves(lengths, timings, ylabel="seconds per call",
                              title="Time of one attention call (4 heads, d_h = 32)")

# %% [markdown]
# On log-log axes a cost that grows as $T^p$ is a straight line of slope $p$; the dashed guide
# has slope 2. At small $T$ fixed overheads flatten the curves; from a few hundred tokens on they
# bend towards the guide, and the slopes fitted above come out near 2 (timings on a busy machine
# wobble; rerun the cell to see). Every implementation pays the $T^2$ *time*: the fixes below
# either do less work (keep fewer scores) or need less memory (never store them).
#
# Memory on the same axes, from the counts checked above: the full score matrix follows the $T^2$
# guide, the tiled computation holds one tile whatever $T$ is.

# %%
all_lengths = [512, 1024, 2048, 4096, 8192, 16384, 32768]
memory = {
    "ak.attention: T x T scores": [ak.attention_cost(t, 64, num_heads=8)["score_bytes"] for t in all_lengths],
    "memory-efficient: one tile": [ak.attention_cost(t, 64, num_heads=8, kind="memory_efficient")["score_bytes"]
                                   for t in all_lengths],
}
ax = ak.plot.plot_cost_curves(all_lengths, memory, ylabel="bytes of scores held (8 heads)",
                              title="Memory of the scores, one layer")

# %% [markdown]
# ## 2. Exact attention without the $T \times T$ matrix: online softmax
#
# The softmax needs the maximum and the sum of a whole row of scores, which seems to require the
# row. It does not: read the keys in blocks and keep, for each query, a running maximum $m$, a
# running sum $\ell$ of $e^{s - m}$, and a running output $o$ (the unnormalised weighted sum of
# values). When a new block raises the maximum from $m$ to $m'$, everything accumulated so far was
# measured against the old maximum, so it is rescaled by $e^{m - m'}$:
#
# $$m' = \max(m, \max_j s_j),\qquad \ell' = e^{m - m'}\,\ell + \sum_j e^{s_j - m'},\qquad
#   o' = e^{m - m'}\,o + \sum_j e^{s_j - m'}\,v_j$$
#
# and at the end the output is $o / \ell$. Memory: one block of scores at a time. From scratch,
# for a batch of queries and blocks of 4 keys:

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
# Without the rescale, the blocks read before the maximum grew are counted as if their scores
# were larger than they are: the error is bigger than the outputs themselves. With the rescale
# the difference is float32 rounding.
#
# `ak.memory_efficient_attention` is the same idea with query tiles as well as key tiles, for
# any batch shape and mask. Checked against `ak.attention` and PyTorch's SDPA with a causal mask
# and a length (1000) that leaves the last block short:

# %%
q, k, v = torch.randn(3, 2, 4, 1000, 32).unbind(0)  # each (B, H, T, Dh)
causal = ak.causal_mask(1000)  # (T, T), True = may attend
tiled = ak.memory_efficient_attention(q, k, v, mask=causal, block_size=256)
full, _ = ak.attention(q, k, v, mask=causal)
sdpa = F.scaled_dot_product_attention(q, k, v, is_causal=True)
print("max abs diff to ak.attention:", round((tiled - full).abs().max().item(), 6),
      " to SDPA:", round((tiled - sdpa).abs().max().item(), 6))

# %% [markdown]
# Exact, up to float32 rounding: this is the idea behind FlashAttention, which also fuses the
# tiles into one GPU kernel. The *time* is still $O(T^2)$; only the memory shrank from $T^2$ to
# one tile.
#
# ## 3. Local and block-sparse attention: less work, but what does it cost?
#
# The other family of fixes computes fewer scores. A **local window** lets query $i$ read only
# keys with $|i - j| \le w$; a **block-sparse** pattern cuts the sequence into blocks and lets a
# block read only some blocks (here: itself and its neighbours, plus the first block as a
# "global" summary). The work is proportional to the scores kept. What they lose depends on the
# task, so we measure it on lesson 07's task: **reversing** a sequence of 16 digits, where output
# $i$ must read input $T-1-i$, far away for most positions.
#
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

# %%
T = 16
model, losses = ak.train_tiny_transformer("reverse", length=T, steps=300, batch_size=32, d_model=32,
                                          num_heads=4, num_layers=2, dim_feedforward=64,
                                          norm_first=True, seed=0)
full_accuracy = ak.toy_task_accuracy(model, "reverse", T)
print(f"loss {losses[0]:.2f} -> {losses[-1]:.3f}; accuracy with full attention: {full_accuracy:.3f}")

# %%
windows = [0, 1, 2, 4, 6, 8, 10, 12, 15]
window_kept, window_acc = [], []
for w in windows:
    mask = ak.local_window_mask(T, w)  # (T, T)
    window_kept.append(mask.float().mean().item())
    window_acc.append(ak.toy_task_accuracy(model, "reverse", T, mask=mask))
    print(f"window {w:2d}: keeps {window_kept[-1]:5.1%} of the scores, accuracy {window_acc[-1]:.3f}")
sparse_kept, sparse_acc = [], []
for block, neighbors in [(2, 0), (2, 1), (4, 0), (4, 1)]:
    mask = ak.block_sparse_mask(T, block_size=block, local_blocks=neighbors, global_blocks=1)
    sparse_kept.append(mask.float().mean().item())
    sparse_acc.append(ak.toy_task_accuracy(model, "reverse", T, mask=mask))
    print(f"blocks of {block}, {neighbors} neighbour(s) + 1 global: keeps {sparse_kept[-1]:5.1%}, "
          f"accuracy {sparse_acc[-1]:.3f}")

# %%
ax = ak.plot.plot_quality_vs_cost({"local window": (window_kept, window_acc),
                                   "block-sparse": (sparse_kept, sparse_acc)}, chance=0.1,
                                  title="Reversal: accuracy vs scores kept")

# %% [markdown]
# For the local window, cost saved and quality lost move together: every far score it drops is
# one some output needed. The block-sparse points show that *which* scores are kept matters more
# than *how many*: with blocks of 4, one neighbour block and the first block global, the pattern
# happens to keep every pair $(i, T-1-i)$ that reversal reads (the middle blocks are neighbours,
# the end blocks reach each other through the global block), so at the same 88% as the widest
# window it loses nothing. Sparse patterns pay off when they match what the task needs: text is
# mostly local, so Longformer and BigBird combine a window with a few global tokens and **train**
# with the pattern. Cutting scores from a model trained with full attention, as here, is the
# hardest case.
#
# ## Explore: the window width
# Slide the window: the mask, the fraction of scores it keeps and the accuracy measured above.

# %%
ak.widgets.window_explorer(T, windows, window_acc, chance=0.1)

# %% [markdown]
# The same drawing, frozen at the window that keeps about half of the scores:

# %%
ak.widgets.draw_window_tradeoff(T, 4, windows, window_acc, chance=0.1)

# %% [markdown]
# **Myth: "attention ignores the unimportant tokens, so cutting them is free".** Attention gives
# every key some weight, and a small weight is not a useless one. How much weight did the full
# model put *outside* each window, layer by layer, and what did cutting it cost?

# %%
inputs, _ = ak.toy_batch("reverse", 512, T, generator=torch.Generator().manual_seed(1))
with torch.no_grad():
    model(inputs)  # fills layer.attn_weights, (B, H, T, T) per layer
for w in (2, 6, 10):
    outside = [(layer.attn_weights * ~ak.local_window_mask(T, w)).sum(-1).mean().item()
               for layer in model.layers]
    print(f"window {w:2d}: weight outside the window per layer {[round(x, 2) for x in outside]}, "
          f"accuracy lost {full_accuracy - window_acc[windows.index(w)]:.2f}")

# %% [markdown]
# No window leaves the weight outside it at zero: even the widest one, which keeps 88% of the
# scores, cuts a real share of each layer's attention, and a third of the answers go wrong. The
# far keys are not ignored, they carry exactly the information reversal needs. A low weight is
# not a licence to drop a key; only a measurement of the task tells what can go.
#
# ## 4. Generating text: the KV cache
#
# A decoder-only model (`ak.TinyLM`: causal attention, trained to predict the next character)
# generates one token at a time. Without a cache, step $t$ runs the whole prefix through the
# model again. But the keys and values of old tokens never change (the mask forbids them to see
# the new token), so they can be **cached**: each step then computes $q, k, v$ for one new token
# and attends from it to the cache. Same tokens, far less work.
#
# We train a tiny model on the course corpus, with a context (96 characters) as long as prompt
# plus output, so every position it will generate at has been trained.

# %%
ak.quiz.ask(
    "Greedy generation with a KV cache, compared with recomputing the prefix every step, gives...",
    ["the same tokens, faster", "slightly different tokens, faster", "the same tokens, same speed"],
    answer=0,
    explanation="The cached keys and values are exactly those the full recomputation would "
                "produce again, so the logits and the greedy choices are the same. Measured below.",
)

# %%
text = " ".join(ak.CORPUS)  # the course's sentences, one string
tokenizer = ak.CharTokenizer(text)
data = tokenizer.encode(text)  # (N,) character ids
context = 96
print(f"{len(text)} characters, {tokenizer.vocab_size} distinct")


def lm_loss(lm, batch):
    ids, targets = batch  # (B, T) each: targets are ids shifted by one
    return F.cross_entropy(lm(ids).flatten(0, 1), targets.flatten())


torch.manual_seed(0)
lm = ak.TinyLM(tokenizer.vocab_size, d_model=64, num_heads=4, num_layers=2, max_len=context)
lm_losses = ak.train(lm, lambda g: ak.char_lm_batch(data, 16, context, generator=g), lm_loss,
                     steps=250, lr=3e-3, warmup=20, clip=1.0, desc="TinyLM")
print(f"loss {lm_losses[0]:.2f} -> {lm_losses[-1]:.2f} (uniform guessing: {math.log(tokenizer.vocab_size):.2f})")

# %%
prompt = tokenizer.encode("The dog ")[None]  # (1, 8)
new_tokens = 88  # prompt + output = 96 = the positions trained
cached = lm.generate(prompt, new_tokens, use_cache=True)  # (1, 96)
recomputed = lm.generate(prompt, new_tokens, use_cache=False)
print(tokenizer.decode(cached[0]))
print("same tokens with and without the cache:", torch.equal(cached, recomputed))
fed_without = sum(range(prompt.shape[1], prompt.shape[1] + new_tokens))  # the prefix, every step
fed_with = prompt.shape[1] + new_tokens - 1  # the prompt once, then one token per step
print(f"token positions run through the model: {fed_without} without the cache, {fed_with} with it")
cache = lm.new_cache(batch_size=1, max_len=prompt.shape[1] + new_tokens)
print(f"the price: a cache of keys and values for {cache.keys.shape[0]} layers, {cache.nbytes} bytes")

# %%
# NBVAL_IGNORE_OUTPUT
for n in (30, new_tokens):
    t_cache = best_time(lambda n=n: lm.generate(prompt, n, use_cache=True), repeats=2)
    t_full = best_time(lambda n=n: lm.generate(prompt, n, use_cache=False), repeats=2)
    print(f"{n:3d} new tokens: {t_full * 1e3:5.0f} ms recomputing, {t_cache * 1e3:5.0f} ms with the cache: "
          f"x{t_full / t_cache:.1f} faster")

# %% [markdown]
# The work ratio is about 48 to 1, the time ratio far smaller: a model this small spends most of
# each step on fixed per-call overhead (Python, launching small kernels), which the cache does
# not remove. The gain grows with the length generated, as the two lines above show, and with
# the model size: without the cache step $t$ costs $O(t)$ projections and $O(t^2)$ attention,
# with it $O(1)$ and $O(t)$. The price is memory: the cache holds
# $2 \times$ layers $\times T \times d$ numbers per sequence, which is what limits batch sizes in
# large-model serving.
#
# ## 5. Production patterns: pruning heads, int8 weights
#
# **Head pruning.** Lesson 05 showed that some heads duplicate others. In the reversal model,
# switch off one head at a time (zero its slice of the output projection, which is exactly what
# removing it does) and measure the accuracy lost:

# %%
def without_heads(model, heads):
    """A copy of ``model`` with the (layer, head) pairs in ``heads`` switched off."""
    pruned = deepcopy(model)
    for layer_index, head in heads:
        attn = pruned.layers[layer_index].self_attn
        cols = slice(head * attn.head_dim, (head + 1) * attn.head_dim)
        with torch.no_grad():
            attn.out_proj.weight[:, cols] = 0.0  # the head's output no longer reaches the model
    return pruned


all_heads = [(i, h) for i in range(len(model.layers)) for h in range(model.layers[0].self_attn.num_heads)]
drops = [full_accuracy - ak.toy_task_accuracy(without_heads(model, [lh]), "reverse", T) for lh in all_heads]
print("accuracy lost per head:", {f"L{i}H{h}": round(d, 3) for (i, h), d in zip(all_heads, drops)})
fig, ax = plt.subplots(figsize=(6, 2.8), layout="constrained")
ax.bar([f"L{i}H{h}" for i, h in all_heads], drops, color="tab:red")
_ = ax.set(ylabel="accuracy lost", title="Switching off one head at a time")

# %%
order = sorted(range(len(all_heads)), key=lambda i: drops[i])
for n in (1, 2, 4):
    chosen = [all_heads[i] for i in order[:n]]
    acc = ak.toy_task_accuracy(without_heads(model, chosen), "reverse", T)
    single = sum(drops[i] for i in order[:n])
    print(f"prune the {n} least useful head(s) {chosen}: accuracy {full_accuracy:.3f} -> {acc:.3f} "
          f"(sum of their single losses: {single:.3f})")

# %% [markdown]
# Heads are not equally useful: the least useful ones can go at a small cost, which saves their
# share of the attention work. Pruning the least useful heads together costs more than the sum
# of their single losses suggests when they back each other up, so production pipelines prune a
# few at a time and fine-tune in between.
#
# **Dynamic int8 quantization** stores the weights of every `nn.Linear` in 8 bits instead of 32
# and quantizes activations on the fly. Size (of the saved weights) and accuracy, before and
# after:

# %%
def saved_bytes(module):
    buffer = io.BytesIO()
    torch.save(module.state_dict(), buffer)
    return buffer.getbuffer().nbytes


with warnings.catch_warnings():  # torch.ao.quantization is being moved to the torchao package
    warnings.simplefilter("ignore")
    model_int8 = torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
    int8_accuracy = ak.toy_task_accuracy(model_int8, "reverse", T)
print(f"float32: {saved_bytes(model):7d} bytes, accuracy {full_accuracy:.3f}")
print(f"int8:    {saved_bytes(model_int8):7d} bytes, accuracy {int8_accuracy:.3f}")
print(f"size x{saved_bytes(model) / saved_bytes(model_int8):.1f} smaller")

# %% [markdown]
# Not 4x smaller: only the `nn.Linear` weights went to 8 bits; embeddings, LayerNorms, biases,
# the per-layer scales and the file's bookkeeping did not, and in a model this small they weigh
# almost half. The accuracy did not move: 256 levels per weight matrix are plenty here. (Always
# measure it: models with outlier weights or activations lose more.)
#
# ## 6. When *not* to use attention
#
# If every output depends only on a few neighbours, attention's ability to read anything
# anywhere is wasted. A task like that: output $t$ is $(x_{t-1} + x_t) \bmod 10$. We train a
# two-layer convolution and a Transformer for the same number of steps:

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


def tagging_loss(m, batch):
    ids, targets = batch
    return F.cross_entropy(m(ids).flatten(0, 1), targets.flatten())


def tagging_accuracy(m, length=16):
    ids, targets = neighbour_sum_batch(torch.Generator().manual_seed(7), batch_size=512, length=length)
    with torch.no_grad():
        return (m(ids).argmax(-1) == targets).float().mean().item()


torch.manual_seed(0)
conv = ConvTagger()
ak.train(conv, neighbour_sum_batch, tagging_loss, steps=300, lr=1e-2, desc="convolution")
torch.manual_seed(0)
tagger = ak.TinyTransformer(10, d_model=32, num_heads=4, num_layers=2, dim_feedforward=64,
                            norm_first=True, max_len=64)
ak.train(tagger, neighbour_sum_batch, tagging_loss, steps=300, lr=3e-3, warmup=30, clip=1.0,
         desc="Transformer")
for name, m in (("convolution", conv), ("Transformer", tagger)):
    n_params = sum(p.numel() for p in m.parameters())
    print(f"{name:12s} {n_params:6d} parameters, accuracy {tagging_accuracy(m):.3f}")

# %% [markdown]
# With the same 300 steps the convolution solves the task and the Transformer, with about five
# times the parameters, has not yet: it must first *learn* to look one position back, which the
# convolution's shape gives for free. And the convolution's cost per token does not depend on
# $T$, attention's does. Time of one forward pass on 2048 tokens:

# %%
# NBVAL_IGNORE_OUTPUT
long_ids = torch.randint(0, 10, (1, 2048))
tagger_long = ak.TinyTransformer(10, d_model=32, num_heads=4, num_layers=2, dim_feedforward=64,
                                 norm_first=True, max_len=2048)
with torch.no_grad():
    t_conv, t_attn = best_time(conv, long_ids), best_time(tagger_long, long_ids)
print(f"T = 2048: convolution {t_conv * 1e3:.1f} ms, Transformer {t_attn * 1e3:.1f} ms (x{t_attn / t_conv:.0f})")

# %% [markdown]
# Choose attention when outputs need information from far and unpredictable places (reversal,
# retrieval, translation). For local patterns, long signals (audio, sensor streams) or tight
# latency budgets, convolutions, recurrent models or state-space models do the job in $O(T)$;
# hybrids use convolutions for local features and a few attention layers for global context.
#
# ## Recap
# - Attention costs $O(T^2)$ time and memory per head and layer: measured as slope 2 on log-log axes.
# - **Online softmax** (running max, sum and output, rescaled by $e^{m - m'}$ when the max grows)
#   gives *exact* attention with memory for one tile; forgetting the rescale gives wrong outputs.
# - **Local and block-sparse** attention do work proportional to the scores they keep; what they
#   lose depends on whether the task needs the dropped pairs (reversal does, badly).
# - A **KV cache** makes generation produce the same tokens with far less work.
# - **Head pruning** and **int8 quantization** shrink a model; measure the accuracy each time.
# - For local tasks a convolution or RNN can match attention at a fraction of the cost.
#
# **Exercises:** `exercises/08_limitations_and_fixes.ipynb`: write the online-softmax loop, a
# causal sliding-window mask and one KV-cached generation step; the checkers name the usual
# mistakes (a forgotten rescale, an off-by-one window, attending before appending).
