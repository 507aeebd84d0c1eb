# %% [markdown]
# # 03 · Basic attention: exercises
#
# Three functions, each followed by a check cell that compares yours with the reference on many
# generated inputs and prints one line: ✅ when it matches, ❌ with what differs, ✏️ while the
# stub is still there. Replace `raise NotImplementedError()` with your code, run the cell, then
# run its check. Lesson: `notebooks/03_basic_attention.ipynb`.

# %%
import math

import torch

import attnkit as ak

_ = ak.seed_everything(0)  # seeds Python, NumPy and PyTorch

# %% [markdown]
# ## Exercise 1: a softmax that does not overflow
# Write `my_softmax(x)`: the softmax over the **last** axis of a tensor of any shape. It must
# survive logits like `1000.0` (hint: subtract each row's maximum first, with `keepdim=True`).

# %%
def my_softmax(x):
    ### BEGIN SOLUTION
    shifted = x - x.amax(dim=-1, keepdim=True)
    exp = torch.exp(shifted)
    return exp / exp.sum(dim=-1, keepdim=True)
    ### END SOLUTION

# %%
ak.check.softmax(my_softmax)

# %% [markdown]
# ## Exercise 2: attention weights
# Write `attention_weights(query, key)` for `query` of shape `(B, Tq, D)` and `key` of shape
# `(B, Tk, D)`: the `(B, Tq, Tk)` softmax of the scaled scores $QK^\top / \sqrt{d_k}$, each
# query's row summing to one. Use `torch.softmax` or your `my_softmax`.

# %%
def attention_weights(query, key):
    ### BEGIN SOLUTION
    d_k = query.shape[-1]
    attn_scores = query @ key.transpose(-2, -1) / math.sqrt(d_k)  # (B, Tq, Tk)
    return torch.softmax(attn_scores, dim=-1)
    ### END SOLUTION

# %%
ak.check.attention_weights(attention_weights)

# %% [markdown]
# ## Exercise 3: attention
# Write `my_attention(query, key, value)` returning the `(B, Tq, Dv)` output: the weighted sum of
# the values. Reuse `attention_weights`.

# %%
def my_attention(query, key, value):
    ### BEGIN SOLUTION
    return attention_weights(query, key) @ value  # (B, Tq, Dv)
    ### END SOLUTION

# %%
ak.check.attention(my_attention)

# %% [markdown]
# ## Going further (not checked)
# - Pass `scale=0.0` and `scale=100.0` to `ak.attention` on the lesson's sentence: which outputs do
#   you get, and why?
# - Why do most of the check's cases for exercise 2 give `Tq`, `Tk` and `D` three different sizes?
#   (Think of code that reads a size from the wrong axis, such as `math.sqrt(key.shape[-2])` instead
#   of `math.sqrt(query.shape[-1])`: on which shapes does it still give the right numbers?)
