# %% [markdown]
# # 10 · What heads learn: exercises
#
# Three functions, each followed by a check cell that compares yours with the reference on many
# generated inputs and prints one line: ✅ when it matches, ❌ with what differs (and the typical
# mistake when it recognises one), ✏️ while the stub is still there. Replace
# `raise NotImplementedError()` with your code, run the cell, then run its check.
# Lesson: `notebooks/10_what_heads_learn.ipynb`.

# %%
import torch

import attnkit as ak

_ = ak.seed_everything(0)  # seeds Python, NumPy and PyTorch

# %% [markdown]
# ## Exercise 1: cut an image into patch tokens
# Write `image_to_patches(images, patch_size)` for `images` of shape `(B, C, H, W)` (H and W are
# multiples of `p = patch_size`). Return `(B, N, C * p * p)` with `N = (H / p) * (W / p)`:
# - patches numbered **row by row**: left to right along the top row of patches, then the next row;
# - each patch flattened in `(C, p, p)` order: channel first, then the pixel rows of the patch.
#
# Careful: `images.reshape(B, N, C * p * p)` has the right shape and the wrong contents (try it on
# `torch.arange(16.).view(1, 1, 4, 4)` with `p = 2` and look at the first "patch"). Hint: reshape to
# `(B, C, H/p, p, W/p, p)` first, then move the axes.

# %%
def image_to_patches(images, patch_size):
    ### BEGIN SOLUTION
    B, C, H, W = images.shape
    p = patch_size
    grid = images.reshape(B, C, H // p, p, W // p, p)      # (B, C, rows, p, cols, p)
    grid = grid.permute(0, 2, 4, 1, 3, 5)                   # (B, rows, cols, C, p, p)
    return grid.reshape(B, (H // p) * (W // p), C * p * p)  # (B, N, C*p*p)
    ### END SOLUTION

# %%
ak.check.image_to_patches(image_to_patches)

# %% [markdown]
# ## Exercise 2: is this a previous-token head?
# `weights` is one sequence's attention for every head of a layer, shape `(H, T, T)` (row = query,
# column = key). Write `previous_token_score(weights)`: for each head, the mean weight that a query
# `p` puts on key `p - 1`, over the queries that **have** a previous token, `p = 1 .. T-1`. Return
# shape `(H,)`. A perfect previous-token head scores 1.
#
# (The check uses random weights that are not causal, so looking forward gives a different answer
# from looking back.)

# %%
def previous_token_score(weights):
    ### BEGIN SOLUTION
    T = weights.shape[-1]
    p = torch.arange(1, T)                 # queries with a previous token
    return weights[:, p, p - 1].mean(-1)   # (H, T-1) -> (H,)
    ### END SOLUTION

# %%
ak.check.previous_token_score(previous_token_score)

# %% [markdown]
# ## Exercise 3: is this an induction head?
# The sequence has a segment of `length` tokens starting at `start`, repeated right after itself:
# `tokens[start + length + k] == tokens[start + k]`. A query `p` in the copy
# (`start + length <= p <= start + 2 * length - 1`) has seen its own token before, at
# `p - length`; an induction head looks at the token **after** that earlier occurrence.
# Write `induction_score(weights, start, length)` for `weights` of shape `(H, T, T)`: for each
# head, the mean weight that the queries in the copy put on key `p - length + 1`. Return `(H,)`.

# %%
def induction_score(weights, start, length):
    ### BEGIN SOLUTION
    p = torch.arange(start + length, start + 2 * length)   # the queries in the copy
    return weights[:, p, p - length + 1].mean(-1)          # (H, length) -> (H,)
    ### END SOLUTION

# %%
ak.check.induction_score(induction_score)

# %% [markdown]
# ## Going further (not checked)
# - Use your two scores on the lesson's two-layer model (`model(x_eval)`, then
#   `model.attn_weights[b, layer]` for one example `b`, with `s_eval[b]` and `n_eval[b]`) and compare
#   them with `ak.head_scores`, which pools the same scores over the whole batch.
# - Train the lesson's two-layer model with **one** head per layer. Predict first: does it still
#   find the circuit, and what does ablating its single layer-0 head cost?
# - Give the ViT shapes that straddle patch borders (place them anywhere, not inside one patch).
#   Predict how the class token's attention changes, then measure its share on the object's patches.
