# %% [markdown]
# # 11 · Attention in today's LLMs: exercises
#
# Five functions, each followed by a check cell that compares yours with the reference on
# generated inputs and prints one line: ✅ when it matches, ❌ with what differs (and the usual
# mistake by name when it recognises one), ✏️ while the stub is still there. Replace
# `raise NotImplementedError()` with your code, run the cell, then run its check.
# Lesson: `notebooks/11_attention_in_llms.ipynb`.

# %%
import torch

import attnkit as ak

_ = ak.seed_everything(0)  # seeds Python, NumPy and PyTorch
torch.set_num_threads(1)  # small inputs: one thread is faster than two

# %% [markdown]
# ## Exercise 1: one generation step with a KV cache
# When a decoder generates token $t$, the keys and values of tokens $0 .. t-1$ are already in the
# cache. Write `cached_attention_step(query, key, value, cache_key, cache_value)`: `query`, `key`,
# `value` are the new token's, each `(B, H, 1, Dh)`; the caches are `(B, H, t, Dh)`. Append the
# new key and value to the caches (tokens are axis `-2`), attend from the new query to **every**
# cached token including itself (scale $1/\sqrt{d_k}$; no mask is needed: the cache holds only
# the past), and return `(output, new_cache_key, new_cache_value)` with shapes `(B, H, 1, Dh)`,
# `(B, H, t + 1, Dh)`, `(B, H, t + 1, Dh)`. You may use `ak.attention`.

# %%
def cached_attention_step(query, key, value, cache_key, cache_value):
    ### BEGIN SOLUTION
    cache_key = torch.cat([cache_key, key], dim=-2)  # (B, H, t + 1, Dh)
    cache_value = torch.cat([cache_value, value], dim=-2)  # (B, H, t + 1, Dh)
    output, _ = ak.attention(query, cache_key, cache_value)  # (B, H, 1, Dh)
    return output, cache_key, cache_value
    ### END SOLUTION

# %%
ak.check.cached_attention_step(cached_attention_step)

# %% [markdown]
# ## Exercise 2: key/value heads for grouped-query attention
# In grouped-query attention, `Hkv` key/value heads serve `H` query heads: query head `h` reads
# key/value head `h // (H // Hkv)`, so heads `0 .. g-1` share KV head 0, the next `g` share KV
# head 1, and so on (`g = H // Hkv`). Write `expand_kv_heads(kv, num_heads)`: from `kv` of shape
# `(B, Hkv, T, Dh)` return `(B, num_heads, T, Dh)` where head `h` is a copy of KV head
# `h // (num_heads // Hkv)`. After it, ordinary attention with one key/value head per query head
# computes GQA.
#
# (On `Hkv = 2`, `num_heads = 4` by eye: the heads of the result are KV heads 0, 0, 1, 1.)

# %%
def expand_kv_heads(kv, num_heads):
    ### BEGIN SOLUTION
    group = num_heads // kv.shape[1]  # query heads per KV head
    return kv.repeat_interleave(group, dim=1)  # (B, H, T, Dh)
    ### END SOLUTION

# %%
ak.check.expand_kv_heads(expand_kv_heads)

# %% [markdown]
# ## Exercise 3: one step of a rolling (sliding-window) cache
# A rolling cache has `W` slots, `cache_key` and `cache_value` of shape `(B, H, W, Dh)`. Token `t`
# (counting from 0) is written to slot `t % W`: slots fill 0, 1, ..., W-1, then token `W`
# overwrites slot 0 (the oldest), and so on. Write
# `rolling_attention_step(query, key, value, cache_key, cache_value, t)`: write the new token's
# `key` and `value` (`(B, H, 1, Dh)` each) into slot `t % W`, then attend from `query` to the
# tokens the cache holds, itself included (scale $1/\sqrt{d_k}$, order does not matter). Careful:
# before the window is full (`t + 1 < W`) only slots `0 .. t` hold tokens; the others are empty.
# Return `(output, cache_key, cache_value)`, `(B, H, 1, Dh)` and the updated caches. Clone the
# caches before writing into them.

# %%
def rolling_attention_step(query, key, value, cache_key, cache_value, t):
    ### BEGIN SOLUTION
    window = cache_key.shape[-2]
    cache_key, cache_value = cache_key.clone(), cache_value.clone()
    slot = t % window  # token t overwrites the token t - W, the oldest one
    cache_key[..., slot, :] = key[..., 0, :]
    cache_value[..., slot, :] = value[..., 0, :]
    filled = min(t + 1, window)  # slots holding a token
    output, _ = ak.attention(query, cache_key[..., :filled, :], cache_value[..., :filled, :])
    return output, cache_key, cache_value
    ### END SOLUTION

# %%
ak.check.rolling_attention_step(rolling_attention_step)

# %% [markdown]
# ## Exercise 4: how many bytes does a KV cache need?
# Write `kv_cache_bytes(num_layers, num_kv_heads, head_dim, seq_len, batch_size, bytes_per_value)`:
# the bytes of the keys **and** values a decoder caches for `batch_size` sequences of `seq_len`
# tokens, when each layer keeps one key vector and one value vector of `head_dim` numbers per
# key/value head and per token, each number taking `bytes_per_value` bytes. Return an `int`.

# %%
def kv_cache_bytes(num_layers, num_kv_heads, head_dim, seq_len, batch_size, bytes_per_value):
    ### BEGIN SOLUTION
    per_token = 2 * num_layers * num_kv_heads * head_dim * bytes_per_value  # K and V, every layer
    return per_token * seq_len * batch_size
    ### END SOLUTION

# %%
ak.check.kv_cache_bytes(kv_cache_bytes)

# %% [markdown]
# ## Exercise 5: the bill of a 7B-class model at 32k tokens
# A 7B-class decoder has 32 layers, 32 query heads of width 128 (`d_model = 4096`), and stores its
# cache in 16-bit numbers (2 bytes). Fill in the table: the KV cache of **one** sequence of
# 32k = 32,768 tokens, in GiB ($2^{30}$ bytes), with multi-head attention (32 KV heads),
# grouped-query attention with 8 KV heads, and multi-query attention (1 KV head). Return a dict
# `{"MHA": ..., "GQA": ..., "MQA": ...}`. (You may call your `kv_cache_bytes`.)
#
# | attention | KV heads | KV cache at 32k tokens |
# | --- | --- | --- |
# | MHA | 32 | ? GiB |
# | GQA | 8 | ? GiB |
# | MQA | 1 | ? GiB |

# %%
def llm_kv_table():
    ### BEGIN SOLUTION
    return {name: kv_cache_bytes(32, kv_heads, 128, 32768, 1, 2) / 2**30
            for name, kv_heads in (("MHA", 32), ("GQA", 8), ("MQA", 1))}
    ### END SOLUTION

# %%
ak.check.llm_kv_table(llm_kv_table)

# %% [markdown]
# ## Going further (not checked)
# - The weights of that 7B model take about 13 GiB in 16 bits. From which context length does the
#   MHA cache of a single sequence weigh more than the weights? With GQA-8? For a batch of 16?
# - Add `sinks` to your rolling step: the first `S` tokens keep slots `0 .. S-1` for ever and the
#   others roll through the remaining `W` slots. Compare with `ak.RollingKVCache(..., sinks=S)`.
# - `torch.cat` in exercise 1 copies the whole cache at every step. `ak.KVCache` preallocates its
#   buffers and writes into them; time 500 steps of each.
