# %% [markdown]
# # 05 · Multi-head attention: exercises
#
# Two functions, each followed by a check cell that compares yours with the reference on many
# generated inputs and prints one line: ✅ when it matches, ❌ with what differs (and the typical
# mistake when it recognises one), ✏️ while the stub is still there. Replace
# `raise NotImplementedError()` with your code, run the cell, then run its check.
# Lesson: `notebooks/05_multi_head_attention.ipynb`.

# %%
import attnkit as ak

_ = ak.seed_everything(0)  # seeds Python, NumPy and PyTorch

# %% [markdown]
# ## Exercise 1: split into heads
# Write `split_heads(x, num_heads)` for `x` of shape `(B, T, D)`: return `(B, H, T, Dh)` with
# `Dh = D // num_heads`, where head `h` holds features `h * Dh` to `(h + 1) * Dh - 1` of every
# position. Careful: `x.view(B, H, T, Dh)` has the right shape and the wrong contents (the lesson
# shows why).

# %%
def split_heads(x, num_heads):
    ### BEGIN SOLUTION
    B, T, D = x.shape
    return x.view(B, T, num_heads, D // num_heads).transpose(1, 2)  # (B, T, H, Dh) -> (B, H, T, Dh)
    ### END SOLUTION

# %%
ak.check.split_heads(split_heads)

# %% [markdown]
# ## Exercise 2: merge the heads back
# Write `merge_heads(x)` for `x` of shape `(B, H, T, Dh)`: return `(B, T, H * Dh)` with the heads
# side by side, head 0's `Dh` features first, then head 1's, and so on (the inverse of
# `split_heads`). Hint: after a `transpose` the tensor is not contiguous, so `view` refuses;
# `reshape` copies when it has to.

# %%
def merge_heads(x):
    ### BEGIN SOLUTION
    B, H, T, Dh = x.shape
    return x.transpose(1, 2).reshape(B, T, H * Dh)  # (B, T, H, Dh) -> (B, T, D)
    ### END SOLUTION

# %%
ak.check.merge_heads(merge_heads)

# %% [markdown]
# ## Going further (not checked)
# - Check that `merge_heads(split_heads(x, h))` gives back `x` exactly, for a few `h`.
# - Rebuild `ak.MultiHeadAttention`'s forward pass from `mha.q_proj`, `mha.k_proj`, `mha.v_proj`,
#   your two functions, `ak.attention` and `mha.out_proj`, and compare with `mha(x, x, x)`.
# - In the lesson's 4-head model, ablate one head of each pair at the same time. Predict the
#   accuracy first, then measure it with `model.accuracy(x_test, y_test, head_mask=...)`.
