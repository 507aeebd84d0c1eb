# %% [markdown]
# # 06 · Scaled dot-product attention: exercises
#
# Two functions, each followed by a check cell that compares yours with the reference on many
# generated inputs and prints one line: ✅ when it matches, ❌ with what differs and the typical
# mistake when it recognises one, ✏️ while the stub is still there. Replace
# `raise NotImplementedError()` with your code, run the cell, then run its check.
# Lesson: `notebooks/06_scaled_dot_product.ipynb`.

# %%
import math

import torch

import attnkit as ak

_ = ak.seed_everything(0)  # seeds Python, NumPy and PyTorch

# %% [markdown]
# ## Exercise 1: scaled scores
# Write `scaled_scores(q, k)`: the attention scores of queries `q` `(B, Tq, d_k)` against keys
# `k` `(B, Tk, d_k)`, scaled so that unit-variance entries give unit-variance scores. Return
# `(B, Tq, Tk)`. Which number do you divide by, and which axis of `q` holds $d_k$?

# %%
def scaled_scores(q, k):
    ### BEGIN SOLUTION
    d_k = q.shape[-1]
    return q @ k.transpose(-2, -1) / math.sqrt(d_k)
    ### END SOLUTION

# %%
ak.check.scaled_scores(scaled_scores)

# %% [markdown]
# ## Exercise 2: the entropy of attention weights
# Write `softmax_entropy(weights)`: for weights of shape `(..., Tq, Tk)` whose rows sum to one,
# return the entropy of each row in **nats**, $H = -\sum_j a_j \log a_j$, shape `(..., Tq)`.
# Rows may hold exact zeros (a masked key, a one-hot row): count $0 \log 0$ as 0, not NaN.

# %%
def softmax_entropy(weights):
    ### BEGIN SOLUTION
    return -torch.xlogy(weights, weights).sum(dim=-1)
    ### END SOLUTION

# %%
ak.check.softmax_entropy(softmax_entropy)

# %% [markdown]
# ## Going further (not checked)
# - Use your two functions to redo the lesson's entropy plot for $d_k \in \{4, \dots, 1024\}$, but
#   with queries and keys whose entries have variance 4 instead of 1. By what should you divide now?
# - With 16 keys, which entropy do uniform weights have? Which score gap between the best key and
#   all the others makes the best weight 0.9?
