# %% [markdown]
# # 08 · Limits of attention and their fixes: exercises
#
# Two functions, each followed by a check cell that compares yours with the reference on many
# generated inputs and prints one line: ✅ when it matches, ❌ with what differs (and the usual
# mistake by name when it recognises one), ✏️ while the stub is still there. Replace
# `raise NotImplementedError()` with your code, run the cell, then run its check.
# Lesson: `notebooks/08_limitations_and_fixes.ipynb`. (The exercise on one generation step with a
# KV cache is in expert notebook 11, next to the cache itself.)

# %%
import math

import torch

import attnkit as ak

_ = ak.seed_everything(0)  # seeds Python, NumPy and PyTorch
torch.set_num_threads(1)  # small inputs: one thread is faster than two

# %% [markdown]
# ## Exercise 1: attention by online softmax
# Write `online_softmax_attention(query, key, value, block_size)`: exact scaled dot-product
# attention (scale $1/\sqrt{d_k}$, no mask) that reads the keys and values in blocks of
# `block_size` and never scores a query against all the keys at once (no full `(Tq, Tk)` score
# matrix, not even one whole row of it). Shapes: `query` is `(..., Tq, D)`, `key` `(..., Tk, D)`,
# `value` `(..., Tk, Dv)`; return `(..., Tq, Dv)`.
#
# Keep per query a running max `m`, a running sum `l` of `exp(score - m)` and a running output
# `o`. For each block: the new max `m2 = max(m, block max)`; rescale what you have by
# `exp(m - m2)` and add the block's terms; at the end return `o / l`. Start `m` at `-inf`
# (`torch.full(..., -math.inf)`): `exp(-inf - m2)` is 0, so the first block needs no special case.
# The last block may be shorter than `block_size`.

# %%
def online_softmax_attention(query, key, value, block_size):
    ### BEGIN SOLUTION
    scale = 1.0 / math.sqrt(query.shape[-1])
    run_max = torch.full(query.shape[:-1] + (1,), -math.inf)  # (..., Tq, 1)
    run_sum = torch.zeros_like(run_max)  # (..., Tq, 1)
    run_out = torch.zeros(query.shape[:-1] + (value.shape[-1],))  # (..., Tq, Dv)
    for start in range(0, key.shape[-2], block_size):
        k_block = key[..., start:start + block_size, :]  # (..., b, D)
        v_block = value[..., start:start + block_size, :]  # (..., b, Dv)
        attn_scores = query @ k_block.transpose(-2, -1) * scale  # (..., Tq, b)
        new_max = torch.maximum(run_max, attn_scores.amax(-1, keepdim=True))
        correction = torch.exp(run_max - new_max)  # shrinks what was summed under the old max
        exp_scores = torch.exp(attn_scores - new_max)  # (..., Tq, b)
        run_sum = correction * run_sum + exp_scores.sum(-1, keepdim=True)
        run_out = correction * run_out + exp_scores @ v_block
        run_max = new_max
    return run_out / run_sum
    ### END SOLUTION

# %%
ak.check.online_softmax_attention(online_softmax_attention)

# %% [markdown]
# ## Exercise 2: a causal sliding-window mask
# Write `sliding_window_mask(n, window)`: the `(n, n)` boolean mask of the sliding-window
# attention used by decoder language models such as Mistral. Query `i` may attend to itself and
# the `window` keys just before it, never to the future: `True` where
# `i - window <= j <= i`. Row = query `i`, column = key `j`, `True` = may attend.
#
# (Check your answer on `n=6, window=2` by eye: row 4 should be `[F, F, T, T, T, F]`.)

# %%
def sliding_window_mask(n, window):
    ### BEGIN SOLUTION
    i = torch.arange(n)[:, None]  # (n, 1) queries
    j = torch.arange(n)[None, :]  # (1, n) keys
    return (j <= i) & (i - j <= window)  # (n, n)
    ### END SOLUTION

# %%
ak.check.sliding_window_mask(sliding_window_mask)

# %% [markdown]
# ## Going further (optional, not checked)
# - How many `True` entries does `sliding_window_mask(n, w)` hold for `n` much larger than `w`?
#   What fraction of the causal mask is that for `n = 4096, w = 256`?
# - Add a `mask` argument to your online-softmax function. What must happen to a query whose
#   keys are all masked (its running sum stays 0)? Compare with `ak.memory_efficient_attention`.
#
# ## References
# - Jiang et al. (2023). *Mistral 7B.* (Sliding-window attention in a decoder language model.)
# - Milakov and Gimelshein (2018). *Online normalizer calculation for softmax.*
