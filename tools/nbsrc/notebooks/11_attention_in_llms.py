# %% [markdown]
# # 11 · Attention in today's LLMs, measured on a CPU (expert zone)
#
# Lesson 08 ended where serving a language model begins: generating text one token at a time.
# Production decoders have changed the attention layer of 2017 in a handful of ways, each to pay
# less for the keys and values they keep: **grouped-query and multi-query attention** share one
# key/value head among several query heads; **sliding windows with a rolling cache** keep only the
# last $W$ tokens; **attention sinks** keep the first few as well; a **paged cache** stores them in
# blocks instead of one slab per request; and **FlashAttention** computes exact attention while
# moving fewer bytes. This lesson builds each on one small decoder, `ak.RotaryLM`, and measures what
# it saves and what it costs, including what does *not* show at this scale. It also holds the
# production patterns that used to close lesson 08: the KV cache itself, head pruning and int8
# weights.
#
# **You will be able to**
# - explain and measure what a KV cache saves, and what it costs in memory per token;
# - build grouped-query attention from multi-head attention and prove it equal to PyTorch's;
# - compute a KV cache's size for a 7B-class model and see why GQA became the default;
# - write a rolling (ring-buffer) cache, and say what sinks and pages change;
# - state FlashAttention's argument in bytes moved, not FLOPs;
# - prune heads and quantize weights to int8, and say what each saves.
#
# **Time:** about 50 minutes, plus 30 for the exercises. Expert zone: it assumes lessons 05 (heads),
# 07 (the Transformer) and 08 (cost, online softmax).

# %%
import io
import math
import warnings
from copy import deepcopy

import matplotlib.pyplot as plt
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
    "A model has 32 query heads per layer. Switching from multi-head attention to grouped-query "
    "attention with 8 key/value heads, the memory of its KV cache per token becomes...",
    ["the same: the queries still have 32 heads", "1/4 of it", "1/32 of it", "4 times larger"],
    answer=1,
    explanation="The cache stores keys and values, one vector per KV head: 8 instead of 32 per layer. "
                "The queries are never cached. Counted and measured in section 2.",
)

# %% [markdown]
# ## 1. The model, and why generation caches keys and values
#
# `ak.RotaryLM` is a decoder-only model in the shape of today's LLMs, at toy size: causal
# self-attention with **rotary positions** (RoPE: queries and keys are rotated by their position,
# so a score depends only on the *distance* between query and key; Su et al. 2021; lesson 09 is
# about such positions), `num_kv_heads` key/value heads, an MLP, pre-norm. We train it to predict the next
# character of the course corpus on windows of 32 characters; this trained context matters later.
# Three seeds, because every claim below about a trained model is checked on all three.

# %%
text = " ".join(ak.CORPUS)  # the course's sentences, one string
tokenizer = ak.CharTokenizer(text)
data = tokenizer.encode(text)  # (N,) character ids
CONTEXT, STEPS, LR, SEEDS = 32, 150, 3e-3, (0, 1, 2)
eval_batch = ak.char_lm_batch(data, 64, CONTEXT, generator=torch.Generator().manual_seed(99))


def lm_loss(lm, batch):
    ids, targets = batch  # (B, T) each: targets are ids shifted by one
    return F.cross_entropy(lm(ids).flatten(0, 1), targets.flatten())


def train_lm(num_kv_heads, seed):
    torch.manual_seed(seed)
    lm = ak.RotaryLM(tokenizer.vocab_size, d_model=32, num_heads=4, num_kv_heads=num_kv_heads, num_layers=2)
    ak.train(lm, lambda g: ak.char_lm_batch(data, 16, CONTEXT, generator=g), lm_loss, steps=STEPS,
             lr=LR, seed=seed, warmup=15, clip=1.0, desc=f"{num_kv_heads} KV heads, seed {seed}")
    return lm.eval()


@torch.no_grad()
def eval_loss(lm):
    return lm_loss(lm, eval_batch).item()


models = {(4, seed): train_lm(4, seed) for seed in SEEDS}  # 4 query heads, 4 KV heads: ordinary MHA
print(f"{len(text)} characters, {tokenizer.vocab_size} distinct; uniform guessing scores "
      f"{math.log(tokenizer.vocab_size):.2f}")
print("loss on a fixed batch of 64 windows, per seed:", [round(eval_loss(models[4, s]), 3) for s in SEEDS])

# %% [markdown]
# The loss is measured on windows of the text it trains on (the corpus is small): it says how
# well each model fits the text, which is what we compare below.
#
# **The KV cache.** A decoder generates one token per step. Without a cache, step $t$ runs the
# whole prefix through the model again. But the keys and values of earlier tokens never change (the
# causal mask forbids them to see later tokens), so they can be stored: each step then computes
# $q, k, v$ for the newest token only and attends from it to the stored keys. Exercise 1
# (`my-work/11_attention_in_llms.ipynb`) writes that step by hand.

# %%
ak.quiz.ask(
    "Greedy generation with a KV cache, compared with recomputing the prefix every step, gives...",
    ["the same tokens, faster", "slightly different tokens, faster", "the same tokens, same speed"],
    answer=0,
    explanation="The cached keys and values are exactly those the full recomputation would "
                "produce again, so the logits and the greedy choices are the same. Measured below.",
)

# %%
lm = models[4, 0]
prompt = tokenizer.encode("The dog ")[None]  # (1, 8)
new_tokens = 24  # prompt + output = 32 = the context it was trained on
cached = lm.generate(prompt, new_tokens, use_cache=True)  # (1, 32)
recomputed = lm.generate(prompt, new_tokens, use_cache=False)
print(repr(tokenizer.decode(cached[0])))
print("same tokens with and without the cache:", torch.equal(cached, recomputed))
fed_without = sum(range(prompt.shape[1], prompt.shape[1] + new_tokens))  # the prefix, every step
fed_with = prompt.shape[1] + new_tokens - 1  # each token once
print(f"token positions run through the model: {fed_without} without the cache, {fed_with} with it")
print(f"the price: {lm.cache_bytes_per_token()} bytes of keys and values per token "
      f"(2 x {lm.num_layers} layers x {lm.num_kv_heads} KV heads x {lm.head_dim} x 4 bytes)")

# %% [markdown]
# The time, for short and longer generations (machine-dependent, so not compared by the tests):

# %%
# NBVAL_IGNORE_OUTPUT


for n in (24, 120):
    t_cache = ak.best_time(lambda n=n: lm.generate(prompt, n, use_cache=True), repeats=2)
    t_full = ak.best_time(lambda n=n: lm.generate(prompt, n, use_cache=False), repeats=2)
    print(f"{n:3d} new tokens: {t_full * 1e3:5.0f} ms recomputing, {t_cache * 1e3:5.0f} ms with the cache "
          f"(x{t_full / t_cache:.1f})")

# %% [markdown]
# The work ratio (token positions above) is large; the time ratio is smaller, because a model this
# small spends much of each step on fixed per-call overhead (Python, launching small kernels) that
# the cache does not remove. The cache's advantage grows with the number of tokens generated:
# without it step $t$ costs $O(t)$ projections and $O(t^2)$ attention, with it $O(1)$ and $O(t)$.
# What it costs is memory, per token, per layer: the rest of this lesson is about that bill.
#
# ## 2. Grouped-query and multi-query attention
#
# In multi-head attention every query head has its own key and value head. **Multi-query
# attention** (MQA, Shazeer 2019) keeps $H$ query heads but one key/value head shared by all;
# **grouped-query attention** (GQA, Ainslie et al. 2023) sits between: $H_{kv}$ key/value heads,
# each shared by a group of $H / H_{kv}$ neighbouring query heads. Query head $h$ reads key/value
# head $\lfloor h / (H/H_{kv}) \rfloor$. The cache shrinks by $H / H_{kv}$; the queries are
# untouched. From scratch, for 4 query heads and 2 key/value heads:

# %%
torch.manual_seed(0)
B, T, H, H_kv, Dh = 1, 5, 4, 2, 8
q = torch.randn(B, H, T, Dh)  # (B, H, T, Dh): one query per head
k, v = torch.randn(2, B, H_kv, T, Dh).unbind(0)  # (B, Hkv, T, Dh): only 2 key/value heads
group = H // H_kv
k_full = k.repeat_interleave(group, dim=1)  # (B, H, T, Dh): heads 0, 1 read KV head 0; 2, 3 read head 1
v_full = v.repeat_interleave(group, dim=1)
out, weights = ak.attention(q, k_full, v_full, mask=ak.causal_mask(T))  # (B, H, T, Dh)
sdpa = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)  # PyTorch expands itself
print("output", tuple(out.shape), " max abs diff to SDPA(enable_gqa=True):",
      round((out - sdpa).abs().max().item(), 7))

# %% [markdown]
# **Pitfall: `repeat` instead of `repeat_interleave`.** `k.repeat(1, 2, 1, 1)` also makes 4 heads,
# but in the order 0, 1, 0, 1: query heads 0 and 2 share a key/value head instead of 0 and 1. The
# output has the right shape and is wrong:

# %%
k_tiled, v_tiled = k.repeat(1, group, 1, 1), v.repeat(1, group, 1, 1)  # (B, H, T, Dh), order 0, 1, 0, 1
tiled_out, _ = ak.attention(q, k_tiled, v_tiled, mask=ak.causal_mask(T))
print("with repeat: max abs diff to SDPA", round((tiled_out - sdpa).abs().max().item(), 3),
      "| mean |output|", round(sdpa.abs().mean().item(), 3))

# %% [markdown]
# (A model *trained* with either order would learn to use it; the mistake bites when weights
# trained one way, or PyTorch's kernel, meet code that expands the other way.)
#
# `ak.MultiHeadAttention(d_model, num_heads, num_kv_heads=...)` has this built in: its key and
# value projections produce only `num_kv_heads` heads. With the same projections it equals SDPA
# with `enable_gqa=True` (the tests also check the gradients, in float32 and float64):

# %%
torch.manual_seed(0)
for kv_heads in (4, 2, 1):  # MHA, GQA, MQA
    mha = ak.MultiHeadAttention(d_model=32, num_heads=4, num_kv_heads=kv_heads)
    x = torch.randn(2, 6, 32)  # (B, T, D)
    ours, _ = mha(x, x, x, mask=ak.causal_mask(6))
    q_ = mha.split_heads(mha.q_proj(x))  # (B, 4, T, 8)
    k_, v_ = mha.split_heads(mha.k_proj(x)), mha.split_heads(mha.v_proj(x))  # (B, kv_heads, T, 8)
    ref = mha.out_proj(mha.merge_heads(F.scaled_dot_product_attention(q_, k_, v_, is_causal=True,
                                                                      enable_gqa=True)))
    n_kv_params = mha.k_proj.weight.numel() + mha.v_proj.weight.numel()
    print(f"num_kv_heads={kv_heads}: K/V projection weights {n_kv_params:5d}, "
          f"max abs diff to SDPA {(ours - ref).abs().max().item():.1e}")

# %% [markdown]
# **What it saves: KV-cache bytes per token.** The formula is
# $2 \times \text{layers} \times H_{kv} \times d_h \times \text{bytes per value}$ (the 2 is K and V).
# We train the same model with 2 key/value heads (GQA) and with 1 (MQA), three seeds each, same
# learning rate and steps, and measure the bytes a cache actually holds after generating:

# %%
for kv_heads in (2, 1):
    for seed in SEEDS:
        models[kv_heads, seed] = train_lm(kv_heads, seed)
kinds = {4: "MHA", 2: "GQA", 1: "MQA"}
for kv_heads, name in kinds.items():
    m = models[kv_heads, 0]
    cache = m.new_cache(batch_size=1, max_len=64)
    m.generate(prompt, 56, cache=cache)  # fills all 64 slots
    print(f"{name} ({kv_heads} KV heads): measured {cache.nbytes // 64:4d} bytes per token, formula "
          f"{ak.kv_cache_bytes(m.num_layers, kv_heads, m.head_dim, bytes_per_value=4):4d}")

# %% [markdown]
# **What it costs: quality.** Fewer key/value heads means fewer parameters and less freedom: each
# group of query heads must make do with one set of keys and values. The loss of each model on the
# same fixed batch, per seed:

# %%
quality = {name: [eval_loss(models[kv, s]) for s in SEEDS] for kv, name in kinds.items()}
for name, losses in quality.items():
    print(f"{name}: loss per seed {[round(x, 3) for x in losses]}, mean {sum(losses) / 3:.3f}, "
          f"spread {max(losses) - min(losses):.3f}")
for name in ("GQA", "MQA"):
    above = min(quality[name]) > max(quality["MHA"])
    print(f"every {name} seed above every MHA seed: {above}")
fig, ax = plt.subplots(figsize=(5, 3), layout="constrained")
for i, losses in enumerate(quality.values()):
    ax.plot([i] * 3, losses, "o", color="tab:blue")
    ax.plot([i - 0.2, i + 0.2], [sum(losses) / 3] * 2, "k-")
ax.set_xticks(range(3), [f"{n}\n({kv} KV heads)" for kv, n in kinds.items()])
_ = ax.set(ylabel="next-character loss", title="Quality cost of sharing K/V heads (3 seeds each)")

# %% [markdown]
# Read the spread before the means. After the same 150 steps, every MQA seed ends above every MHA
# seed: on this task, sharing one key/value head among all four query heads costs loss. GQA's
# seeds overlap MHA's range, so at three seeds its cost is not separated from the seed-to-seed
# spread. Ainslie et al. (2023) report the same ordering at scale: for T5-XXL, MQA loses some
# quality against MHA, and GQA with 8 groups recovers most of it at close to MQA's speed.
#
# **Speed.** In a large model, each generated token reads the whole cache from memory, and that
# reading, not the arithmetic, bounds the speed of decoding; a cache 4 or 32 times smaller is 4 or
# 32 times fewer bytes to read (Shazeer 2019 makes this argument for MQA). Here the MHA cache of 128
# tokens is 64 KiB and fits in the CPU's caches, so there is little to gain; the timing below shows
# what is left of the difference at this size:

# %%
# NBVAL_IGNORE_OUTPUT
gen_times = {name: ak.best_time(lambda m=models[kv, 0]: m.generate(prompt, 120), repeats=2)
             for kv, name in kinds.items()}
print("120 new tokens with the cache:", {name: f"{t * 1e3:.0f} ms" for name, t in gen_times.items()})

# %% [markdown]
# ## 3. The bill at scale: a 7B-class model at 32k tokens
#
# For our toy the cache is small. For a model with 32 layers of 32 query heads of width 128 (the
# shape of 7B-class models), in 16-bit numbers, one sequence of 32,768 tokens needs... that is the
# exercise: `kv_cache_bytes` and the table for MHA, GQA with 8 KV heads and MQA are yours to fill
# in (`my-work/11_attention_in_llms.ipynb`, exercises 3 and 4). The formula is the one the
# measurement above just confirmed. Compare the result with the 14 GB that the weights of a
# 7B-parameter model take in 16 bits (7e9 x 2 bytes), and you see why serving systems care.
#
# ## 4. Sliding-window attention and the rolling cache
#
# A **sliding window** of $W$ tokens lets query $i$ read only keys $j$ with $i - W < j \le i$
# (itself and the $W-1$ before it). Mistral 7B uses it (Jiang et al. 2023) with a **rolling
# buffer**: a cache of $W$ slots where token $t$ goes to slot $t \bmod W$, overwriting the token
# that just left the window. The cache never grows. Which token sits where:

# %%
ak.widgets.rolling_cache_explorer(max_seen=24)

# %% [markdown]
# The same drawing, frozen after 15 tokens with a window of 6 (and no sinks yet):

# %%
ak.widgets.draw_rolling_cache(window=6, sinks=0, seen=15, length=24)

# %% [markdown]
# Attention does not care in which order the keys sit, only at which positions, so the ring
# buffer hands its slots back as they are, with each token's position for the rotary embedding.
# Two checks. When the window covers the whole generation, nothing is ever evicted and the rolling
# cache must give the same tokens as the full one. And its memory must stay flat as the generation
# grows, where a contiguous cache grows with it:

# %%
total = prompt.shape[1] + new_tokens
rolling = ak.RollingKVCache(lm.num_layers, 1, lm.num_kv_heads, lm.head_dim, window=total)
print("window covers everything: same tokens as the full cache:",
      torch.equal(lm.generate(prompt, new_tokens, cache=rolling), cached))
print("generated | contiguous cache | rolling cache (W = 16)")
for n in (24, 120, 480):
    full_cache = lm.new_cache(1, prompt.shape[1] + n)
    rolling = ak.RollingKVCache(lm.num_layers, 1, lm.num_kv_heads, lm.head_dim, window=16)
    lm.generate(prompt, n, cache=rolling)
    print(f"{n:9d} | {full_cache.nbytes:10d} bytes | {rolling.nbytes:6d} bytes")

# %% [markdown]
# **Reading past the trained context.** The model saw windows of 32 characters in training, so no
# query ever met a key more than 31 positions away. We stream 384 characters of the corpus through
# it and measure the next-character loss at each position: with the full cache (distances up to
# 383, never trained) and with a rolling cache of 16 (distances up to 15). Three seeds:

# %%
stream = data[: 12 * CONTEXT + 1][None]  # (1, 385): 12 trained contexts long
targets = stream[0, 1:]


def stream_loss(lm, cache=None):
    """Next-token loss at each position of ``stream``; ``cache=None`` reads every token (one pass)."""
    with torch.no_grad():
        logits = lm(stream[:, :-1]) if cache is None else lm.forward_cached(stream[:, :-1], cache)
    return F.cross_entropy(logits[0], targets, reduction="none")  # (384,)


def rolling_cache(lm, window, sinks=0):
    return ak.RollingKVCache(lm.num_layers, 1, lm.num_kv_heads, lm.head_dim, window=window, sinks=sinks)


stream_losses = {"full cache": [], "rolling, W=16": []}
for seed in SEEDS:
    m = models[4, seed]
    stream_losses["full cache"].append(stream_loss(m))
    stream_losses["rolling, W=16"].append(stream_loss(m, rolling_cache(m, 16)))
rise = {}
for name, per_seed in stream_losses.items():
    inside = [x[:CONTEXT].mean().item() for x in per_seed]
    beyond = [x[CONTEXT:].mean().item() for x in per_seed]
    rise[name] = [b - a for a, b in zip(inside, beyond)]
    print(f"{name:14s} loss at positions < 32: {[round(x, 3) for x in inside]}, "
          f">= 32: {[round(x, 3) for x in beyond]}, rise {[round(x, 3) for x in rise[name]]}")
print("the full cache's loss rises more than the rolling cache's on every seed:",
      all(f > r for f, r in zip(rise["full cache"], rise["rolling, W=16"])))

# %%
def smooth(x, width=16):
    return F.avg_pool1d(x[None, None], width, stride=1)[0, 0]  # running mean, for reading the curve


fig, ax = plt.subplots(figsize=(7, 3.2), layout="constrained")
for color, (name, per_seed) in zip(("tab:red", "tab:blue"), stream_losses.items()):
    for i, x in enumerate(per_seed):
        ax.plot(smooth(x).numpy(), color=color, alpha=0.7, label=name if i == 0 else None)
ax.axvline(CONTEXT, color="k", ls="--", lw=1)
ax.text(CONTEXT + 3, ax.get_ylim()[1] * 0.9, "trained context", fontsize=8)
ax.legend(fontsize=8, loc="upper right")
_ = ax.set(xlabel="position in the stream", ylabel="loss (running mean of 16)",
           title="Streaming past the trained context (3 seeds each)")

# %% [markdown]
# Inside the trained context the two are close (there the window already drops keys older than 16
# characters). Past it, on every seed, the full cache's loss rises far more than the rolling
# cache's (the rises are printed above). This model never learned what to do with a key hundreds of
# positions away, and the window never shows it one. (A model *trained* with the window, as Mistral
# is, reads only such distances by construction; `tests/test_caches.py` checks that the rolling
# cache gives exactly the logits of a model trained with the window mask.) The price: nothing
# older than 16 characters can be read, so whatever the window drops is gone.
#
# ## 5. Attention sinks
#
# Xiao et al. (2024, StreamingLLM) found that large LLMs put a large share of their attention on
# the first few tokens whatever those tokens are, as a place to park weight that has nowhere
# useful to go; evicting them (plain window attention) made the perplexity of Llama-2 and others
# explode, and keeping 4 of them ("sinks") in the rolling cache fixed it. `RollingKVCache(...,
# sinks=4)` keeps them, and, as the paper does, gives positions within the cache, so a sink looks
# like the tokens just before the window.

# %%
ak.quiz.ask(
    "Our toy model, with a rolling cache of 16 slots: 16 window slots, or 12 window slots plus the "
    "first 4 tokens as sinks. Which has the lower loss past the trained context?",
    ["the sinks, clearly, as in StreamingLLM", "the plain window, or no clear difference",
     "both explode"],
    answer=1,
    explanation="Sinks help a model that has learned to park attention on the first tokens. Measured "
                "below: this one has not, so the 4 slots are better spent on recent characters.",
)

# %%
ak.widgets.draw_rolling_cache(window=12, sinks=4, seen=30, length=32)

# %%
stream_losses["rolling, W=12 + 4 sinks"] = [stream_loss(models[4, s], rolling_cache(models[4, s], 12, sinks=4))
                                           for s in SEEDS]
for name in ("rolling, W=16", "rolling, W=12 + 4 sinks"):
    beyond = [x[CONTEXT:].mean().item() for x in stream_losses[name]]
    print(f"{name:24s} loss at positions >= 32 per seed: {[round(x, 3) for x in beyond]}")

# %% [markdown]
# Does this model have sinks at all? The test is what its attention puts on the first token of a
# window, against what uniform attention would put there (query $i$ spreading evenly over its
# $i+1$ keys gives it $1/(i+1)$). Per head, averaged over queries 8 to 31 of the 64 evaluation
# windows, each seed:

# %%
uniform = (1.0 / torch.arange(9, CONTEXT + 1)).mean().item()  # queries 8 .. 31
print(f"uniform attention would give the first token {uniform:.3f}")
largest = 0.0
for seed in SEEDS:
    m = models[4, seed]
    with torch.no_grad():
        m(eval_batch[0])  # fills blocks[i].attn_weights, (B, H, T, T)
    first = [b.attn_weights[:, :, 8:, 0].mean(dim=(0, 2)) for b in m.blocks]  # (H,) per layer
    print(f"seed {seed}: " + "  ".join(f"layer {i} {[round(x, 3) for x in f.tolist()]}"
                                       for i, f in enumerate(first)))
    largest = max(largest, max(f.max().item() for f in first))
print(f"largest share on the first token, any head, any seed: {largest:.3f} (uniform: {uniform:.3f})")

# %% [markdown]
# No head of any seed gives the first token more than the uniform share (the largest share is
# printed last), and keeping the first tokens costs loss instead of saving it (previous cell, every
# seed): **this model develops no attention sink**, so StreamingLLM's effect does not show here,
# and we do not claim it. We did not test why. One difference from the paper's models: our
# training windows start at random characters, so the first position of a window is nothing
# special, while Xiao et al. attribute sinks to the first tokens being visible to every later
# query throughout pre-training (and show that a model pre-trained with one dedicated sink token
# needs only that one). What we did measure is the other half of their comparison: a plain window
# keeps this model's loss far lower past the trained context than the full cache does.
#
# ## 6. The paged KV cache
#
# A server decodes many requests at once, of lengths it does not know in advance. A contiguous
# cache reserves `max_len` slots per request; most requests end far earlier. vLLM's
# **PagedAttention** (Kwon et al. 2023) stores keys and values in fixed-size **blocks** from one
# pool, like pages of virtual memory: each request has a **block table** listing its blocks, and
# gets a new block only when its last one is full. At most `block_size - 1` slots per request are
# wasted. We serve six requests (prompts cut from the corpus, each generating a different number
# of tokens) with blocks of 16 tokens, and measure what the pool holds:

# %%
gen = torch.Generator().manual_seed(11)
requests = [(int(torch.randint(3, 20, (1,), generator=gen)), int(torch.randint(5, 100, (1,), generator=gen)))
            for _ in range(6)]  # (prompt length, new tokens) per request
max_len = 128  # what a contiguous cache must reserve: the longest request it may get
pool = ak.PagedKVCache(lm.num_layers, lm.num_kv_heads, lm.head_dim, block_size=16, num_blocks=64)
same = True
lengths = []
for i, (p_len, n_new) in enumerate(requests):
    request_prompt = data[10 * i: 10 * i + p_len][None]  # (1, p_len)
    paged_out = lm.generate(request_prompt, n_new, cache=pool.sequence())
    contiguous_out = lm.generate(request_prompt, n_new, cache=lm.new_cache(1, max_len))
    same &= torch.equal(paged_out, contiguous_out)
    lengths.append(p_len + n_new - 1)  # the last token generated is never fed back
per_token = lm.cache_bytes_per_token()
used, contiguous = sum(lengths) * per_token, len(lengths) * max_len * per_token
print("tokens stored per request:", lengths, "| block tables:", list(pool.block_tables.values()))
print("paged decode gives the same tokens as the contiguous cache:", bool(same))
print(f"needed {used} bytes; contiguous cache (6 x {max_len} slots) {contiguous} bytes, "
      f"wastes {1 - used / contiguous:.0%}; pages hold {pool.nbytes_in_use} bytes, waste "
      f"{1 - used / pool.nbytes_in_use:.0%}")
print(f"requests like these that fit in the same memory: x{contiguous / pool.nbytes_in_use:.1f} with pages")

# %% [markdown]
# Same tokens (the pages only change *where* the keys live), and the memory is near what the
# tokens need, so the same memory holds more requests at once (the factor is printed last). Blocks can also be
# shared between requests with a common prompt; Kwon et al. measure both effects on real workloads.
# What we skipped: a real paged kernel reads the blocks in place; ours gathers them into one
# tensor per step for clarity, which is exactly the copy the real kernel avoids.
#
# ## 7. FlashAttention's argument: bytes, not FLOPs
#
# Lesson 08 built exact attention tile by tile (`ak.memory_efficient_attention`). It does the same
# multiplications as the version that builds the $T \times T$ matrix. FlashAttention (Dao et al.
# 2022) is faster anyway, and its argument is about **memory traffic**: on a GPU, arithmetic is so
# much faster than reading and writing main memory that attention's time goes mostly to the bytes
# it moves. Whether that shows on this CPU, we measure.

# %%
ak.quiz.ask(
    "Tiled (FlashAttention-style) exact attention, compared with the version that builds the "
    "T x T score matrix, does...",
    ["fewer FLOPs, that is why it is faster", "the same FLOPs, but reads and writes far fewer bytes",
     "more FLOPs and fewer bytes"],
    answer=1,
    explanation="Every score is still computed (the online softmax even adds a few rescales). What "
                "changes is that scores live in a small tile that stays in fast memory. Counted next.",
)

# %% [markdown]
# Count the bytes each moves to and from main memory, per head, in float32, for $T$ queries and
# keys of width $d$. **Materialised:** read $Q, K$, write the scores $S$ ($T^2$), read $S$ and
# write the weights $P$ ($T^2$ each, at least once), read $P$ and $V$, write $O$: at least
# $4T^2 + 4Td$ numbers. **Tiled** with $B_q$ queries per tile: read $Q$ and write $O$ once, read
# all of $K$ and $V$ once per query tile; a $B_q \times B_k$ tile of scores is made, used and
# dropped while it sits in cache: $2Td + 2Td \cdot T/B_q$ numbers.

# %%
T, d, heads, tile_q, tile_k = 2048, 32, 1, 256, 512  # one head: the count is per head
flops_full = ak.attention_cost(T, d, num_heads=heads)["flops"]
flops_tiled = ak.attention_cost(T, d, num_heads=heads, kind="memory_efficient", block_size=tile_k)["flops"]
bytes_full = heads * 4 * (4 * T * T + 4 * T * d)
bytes_tiled = heads * 4 * (2 * T * d + 2 * T * d * math.ceil(T / tile_q))
tile_bytes = heads * tile_q * tile_k * 4
print(f"FLOPs: materialised {flops_full / 1e9:.2f} G, tiled {flops_tiled / 1e9:.2f} G")
print(f"main-memory traffic: materialised >= {bytes_full / 2**20:.0f} MiB, tiled {bytes_tiled / 2**20:.0f} MiB "
      f"(x{bytes_full / bytes_tiled:.0f} less); one tile of scores: {tile_bytes // 2**10} KiB")

# %% [markdown]
# The same FLOPs; many times fewer bytes. The whole score matrix of one head here is 16 MiB, larger
# than a laptop CPU's L2 cache, so every pass over it (write, read for the softmax, write the
# weights, read them for $PV$) goes out to RAM; a tile of a few hundred KiB can stay in the cache
# between being made and being used. The clock, on this machine (timings are not compared by the
# tests; the verdict line is computed from them):

# %%
# NBVAL_IGNORE_OUTPUT
q, k, v = torch.randn(3, 1, heads, T, d).unbind(0)  # each (B, H, T, Dh)
t_full = ak.best_time(ak.attention, q, k, v)
t_tiled = ak.best_time(lambda: ak.memory_efficient_attention(q, k, v, block_size=tile_k, query_block_size=tile_q))
print(f"T={T}: materialised {t_full * 1e3:.0f} ms, tiled {t_tiled * 1e3:.0f} ms -> "
      f"{'tiled' if t_tiled < t_full else 'materialised'} is faster here (x{max(t_full, t_tiled) / min(t_full, t_tiled):.1f})")
print("same outputs:", torch.allclose(ak.attention(q, k, v)[0], ak.memory_efficient_attention(q, k, v), atol=1e-5))

# %% [markdown]
# Our tiled version is plain PyTorch: each step of a tile (scores, exponentials, rescale, product
# with $V$) is a separate call that makes a temporary tensor, and the loop over tiles runs in
# Python. FlashAttention fuses all of it into one GPU kernel that keeps the tiles in on-chip SRAM,
# and recomputes the scores in the backward pass instead of storing them (Dao et al. 2022).
#
# ## 8. Production patterns: pruning heads, int8 weights
#
# **Head pruning.** Switch off one head at a time in the MHA models (zero its columns of the
# output projection, so its output no longer reaches the model) and measure the loss it adds,
# per seed:

# %%
def without_heads(model, heads):
    """A copy of ``model`` whose (layer, head) pairs in ``heads`` no longer reach the output."""
    pruned = deepcopy(model)
    for layer_index, head in heads:
        block = pruned.blocks[layer_index]
        cols = slice(head * block.head_dim, (head + 1) * block.head_dim)
        with torch.no_grad():
            block.out.weight[:, cols] = 0.0
    return pruned


all_heads = [(i, h) for i in range(2) for h in range(4)]
head_cost = {}
for seed in SEEDS:
    base = eval_loss(models[4, seed])
    head_cost[seed] = [eval_loss(without_heads(models[4, seed], [lh])) - base for lh in all_heads]
    print(f"seed {seed}: loss added per head", {f"L{i}H{h}": round(c, 3)
                                               for (i, h), c in zip(all_heads, head_cost[seed])})
fig, ax = plt.subplots(figsize=(7, 2.8), layout="constrained")
for j, seed in enumerate(SEEDS):
    ax.bar([i + 0.27 * (j - 1) for i in range(8)], head_cost[seed], width=0.27, label=f"seed {seed}")
ax.set_xticks(range(8), [f"L{i}H{h}" for i, h in all_heads])
ax.legend(fontsize=8)
_ = ax.set(ylabel="loss added", title="Switching off one head at a time")

# %% [markdown]
# The heads are not equally useful in any seed: some add little loss when switched off, others
# much more. Which head matters most differs from seed to seed, but in all three the first layer's
# heads cost more than the second's. Now, what does switching a head off *save*?
# Zeroing its columns saves **nothing**: the layer still computes that head's queries, keys,
# values and scores, and multiplies the zeros. The work goes away only when the head is *removed*:
# its rows cut out of the query, key and value projections and its columns out of the output
# projection, leaving smaller matrices. Counting the multiply-adds of one layer's attention for a
# window of 32 tokens:

# %%
def attention_macs(heads_kept, T=CONTEXT, d_model=32, head_dim=8):
    """Multiply-adds of one attention layer: Q, K, V and output projections, QK^T and PV."""
    width = heads_kept * head_dim
    return T * d_model * width * 4 + 2 * heads_kept * T * T * head_dim


print(f"4 heads: {attention_macs(4)}; 2 heads zeroed: {attention_macs(4)} (unchanged); "
      f"2 heads removed: {attention_macs(2)}")

# %%
for seed in SEEDS:
    order = sorted(range(8), key=lambda i: head_cost[seed][i])
    chosen = [all_heads[i] for i in order[:2]]
    together = eval_loss(without_heads(models[4, seed], chosen)) - eval_loss(models[4, seed])
    single = sum(head_cost[seed][i] for i in order[:2])
    print(f"seed {seed}: the 2 least useful heads {chosen}: loss added together {together:.3f}, "
          f"sum of their single costs {single:.3f}")

# %% [markdown]
# Compare the two numbers of each seed: the pair costs about the sum of its single costs or more,
# never clearly less. Heads interact (one may back another up, or two may only work together), so
# the cost of a set is measured, not added from single measurements. Michel et al. (2019) found that many heads of
# trained Transformers can be removed at test time with little loss, and Voita et al. (2019) that
# the heads which survive pruning are the specialised ones (positional, syntactic, rare words).
#
# **Dynamic int8 quantization** stores the weights of every `nn.Linear` in 8 bits instead of 32 and
# quantizes the activations on the fly (Jacob et al. 2018 describe the integer arithmetic). Size of
# the saved weights and loss, before and after, per seed:

# %%
def saved_bytes(module):
    buffer = io.BytesIO()
    torch.save(module.state_dict(), buffer)
    return buffer.getbuffer().nbytes


with warnings.catch_warnings():  # torch.ao.quantization is being moved to the torchao package
    warnings.simplefilter("ignore")
    for seed in SEEDS:
        m = models[4, seed]
        m_int8 = torch.ao.quantization.quantize_dynamic(m, {nn.Linear}, dtype=torch.qint8)
        print(f"seed {seed}: float32 {saved_bytes(m)} bytes, loss {eval_loss(m):.3f} | int8 "
              f"{saved_bytes(m_int8)} bytes, loss {eval_loss(m_int8):.3f}")
n_linear = sum(mod.weight.numel() for mod in m.modules() if isinstance(mod, nn.Linear))
n_params = sum(p.numel() for p in m.parameters())
print(f"share of the parameters in nn.Linear weights: {n_linear / n_params:.0%}; parameter bytes: "
      f"float32 {4 * n_params}, int8 {n_linear + 4 * (n_params - n_linear)} (nn.Linear weights in 1 byte)")

# %% [markdown]
# The file shrinks, but not 4 times. Only the `nn.Linear` weights went to 8 bits (most of the
# parameters, printed above); the embedding, LayerNorms and biases stayed in 32 bits, and the rest
# of each file is bookkeeping (names, shapes, per-layer scales), which weighs a lot in a model
# this small: compare the parameter bytes with the file sizes. The loss moves little here. Always measure it:
# Dettmers et al. (2022) show that from about 6.7B parameters, outlier features in the activations
# break plain int8 quantization of LLMs unless they are handled separately.
#
# ## Recap
# - A **KV cache** gives the same tokens with far less work; its price is
#   $2 \times$ layers $\times H_{kv} \times d_h$ numbers per token.
# - **GQA/MQA** share each key/value head among a group of query heads (`repeat_interleave`, not
#   `repeat`): the cache shrinks by $H/H_{kv}$. Here MQA cost loss on every seed; GQA's cost was
#   within the seed spread.
# - A **rolling cache** (slot $t \bmod W$) keeps memory flat; past the trained context this
#   model's loss rose far less with it than with the full cache.
# - **Attention sinks** did not appear in this small model: we measured that, and say so.
# - A **paged cache** wastes at most one partial block per request instead of `max_len - length`
#   slots, and gives the same tokens.
# - **FlashAttention** does the same FLOPs and moves far fewer bytes.
# - **Zeroing** a head saves no work; removing it does. **int8** shrinks the `nn.Linear` weights
#   4 times, the whole model less.
#
# **Exercises:** `my-work/11_attention_in_llms.ipynb`: one cached decoding step, expanding KV
# heads for GQA, a rolling-cache step, and the KV-cache bill of a 7B-class model at 32k tokens.
#
# ## References
# - Shazeer, N. (2019). *Fast Transformer Decoding: One Write-Head is All You Need.* arXiv:1911.02150.
# - Ainslie, J., Lee-Thorp, J., de Jong, M., Zemlyanskiy, Y., Lebrón, F., Sanghai, S. (2023).
#   *GQA: Training Generalized Multi-Query Transformer Models from Multi-Head Checkpoints.* EMNLP.
# - Jiang, A. Q., et al. (2023). *Mistral 7B.* arXiv:2310.06825.
# - Xiao, G., Tian, Y., Chen, B., Han, S., Lewis, M. (2024). *Efficient Streaming Language Models
#   with Attention Sinks.* ICLR.
# - Kwon, W., et al. (2023). *Efficient Memory Management for Large Language Model Serving with
#   PagedAttention.* SOSP.
# - Dao, T., Fu, D. Y., Ermon, S., Rudra, A., Ré, C. (2022). *FlashAttention: Fast and
#   Memory-Efficient Exact Attention with IO-Awareness.* NeurIPS.
# - Su, J., Lu, Y., Pan, S., Murtadha, A., Wen, B., Liu, Y. (2021). *RoFormer: Enhanced Transformer
#   with Rotary Position Embedding.* arXiv:2104.09864.
# - Michel, P., Levy, O., Neubig, G. (2019). *Are Sixteen Heads Really Better than One?* NeurIPS.
# - Voita, E., Talbot, D., Moiseev, F., Sennrich, R., Titov, I. (2019). *Analyzing Multi-Head
#   Self-Attention: Specialized Heads Do the Heavy Lifting, the Rest Can Be Pruned.* ACL.
# - Jacob, B., et al. (2018). *Quantization and Training of Neural Networks for Efficient
#   Integer-Arithmetic-Only Inference.* CVPR.
# - Dettmers, T., Lewis, M., Belkada, Y., Zettlemoyer, L. (2022). *LLM.int8(): 8-bit Matrix
#   Multiplication for Transformers at Scale.* NeurIPS.
