# %% [markdown]
# # 04 · Self-attention: exercises
#
# Two functions, each followed by a check cell that compares yours with the reference on many
# generated inputs and prints one line: ✅ when it matches, ❌ with what differs (and the typical
# mistake when it recognises one), ✏️ while the stub is still there. Replace
# `raise NotImplementedError()` with your code, run the cell, then run its check.
# Lesson: `notebooks/04_self_attention.ipynb`.

# %%
import math

import torch

import attnkit as ak

_ = ak.seed_everything(0)  # seeds Python, NumPy and PyTorch

# %% [markdown]
# ## Exercise 1: self-attention with three projections
# Write `self_attention(x, w_q, w_k, w_v)` for a batch of sequences `x` of shape `(B, T, D)` and
# three projection matrices of shape `(D, d_k)`. Compute the queries, keys and values **from the
# same `x`**, each with its own matrix, then scaled dot-product attention. Return the `(B, T, d_k)`
# output. You may use `ak.attention` for the last step, or write it out. (`ak.attention` returns
# a pair, `(output, weights)`: return only the output, its `[0]`.)

# %%
def self_attention(x, w_q, w_k, w_v):
    ### BEGIN SOLUTION
    query, key, value = x @ w_q, x @ w_k, x @ w_v                       # (B, T, d_k) each
    attn_scores = query @ key.transpose(-2, -1) / math.sqrt(key.shape[-1])  # (B, T, T)
    attn_weights = torch.softmax(attn_scores, dim=-1)                  # (B, T, T)
    return attn_weights @ value                                        # (B, T, d_k)
    ### END SOLUTION

# %%
ak.check.self_attention(self_attention)

# %% [markdown]
# ## Exercise 2: give the tokens their positions
# Write `add_positions(token_emb)` for embeddings of shape `(B, T, D)`: return them with the
# sinusoidal positional encodings added, so that position `p` of every sequence in the batch gets
# `ak.sinusoidal_positions(T, D)[p]`. (Broadcasting does the batch for you.)

# %%
def add_positions(token_emb):
    ### BEGIN SOLUTION
    _, T, D = token_emb.shape
    return token_emb + ak.sinusoidal_positions(T, D)  # (B, T, D) + (T, D) -> (B, T, D)
    ### END SOLUTION

# %%
ak.check.add_positions(add_positions)

# %% [markdown]
# ## Going further (not checked)
# - Use your two functions to redo the lesson's measurement: permute a sequence, run
#   `self_attention` with and without `add_positions`, and compare `out[perm]` with the output of
#   the permuted input. Which one is order-blind?
# - Learned positions (an `nn.Embedding(max_len, D)` added the same way) are another common
#   choice; lesson 05's model uses them. What can the sinusoidal table do that a learned table of
#   `max_len` rows cannot?
