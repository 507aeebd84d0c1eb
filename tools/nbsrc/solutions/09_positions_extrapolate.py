# %% [markdown]
# # 09 · Positions that extrapolate: exercises
#
# Three functions, each followed by a check cell that compares yours with the reference on many
# generated inputs and prints one line: ✅ when it matches, ❌ with what differs (and the typical
# mistake when it recognises one), ✏️ while the stub is still there. Replace
# `raise NotImplementedError()` with your code, run the cell, then run its check.
# Lesson: `notebooks/09_positions_extrapolate.ipynb`.

# %%
import math

import torch

import attnkit as ak

_ = ak.seed_everything(0)  # seeds Python, NumPy and PyTorch

# %% [markdown]
# ## Exercise 1: RoPE from the angle formula
# Write `rope(x, positions)` for `x` of shape `(..., T, D)` (D even) and `positions` a `(T,)`
# tensor of integers. Row `t` sits at position `positions[t]`; rotate each pair of neighbouring
# columns `(x[..., 2i], x[..., 2i+1])` by the angle `positions[t] * theta_i`, with
# `theta_i = 10000 ** (-2i / D)`:
#
# $$y_{2i} = x_{2i}\cos\alpha - x_{2i+1}\sin\alpha, \qquad y_{2i+1} = x_{2i}\sin\alpha + x_{2i+1}\cos\alpha,
#   \qquad \alpha = p\,\theta_i .$$
#
# Use real arithmetic (`torch.cos`, `torch.sin`, slicing `x[..., 0::2]` and `x[..., 1::2]`), not
# `ak.apply_rope`. Return a tensor of the same shape, the pairs back in their places.

# %%
def rope(x, positions):
    ### BEGIN SOLUTION
    D = x.shape[-1]
    theta = 10000.0 ** (-torch.arange(0, D, 2, dtype=torch.float64) / D)   # (D/2,)
    angle = positions.double()[:, None] * theta                          # (T, D/2)
    cos, sin = angle.cos().to(x.dtype), angle.sin().to(x.dtype)
    x_even, x_odd = x[..., 0::2], x[..., 1::2]                           # (..., T, D/2) each
    rotated = torch.stack((x_even * cos - x_odd * sin, x_even * sin + x_odd * cos), dim=-1)  # (..., T, D/2, 2)
    return rotated.flatten(-2)                                           # (..., T, D)
    ### END SOLUTION

# %%
ak.check.rope(rope)

# %% [markdown]
# ## Exercise 2: ALiBi's slopes
# Write `alibi_slopes(num_heads)` returning a `(num_heads,)` tensor (or a list) of the slopes of
# Press et al. (2022):
# - for `H` a power of two, the geometric sequence that starts at `2 ** (-8 / H)` with that same
#   ratio: head `h` (counting from 0) gets `2 ** (-8 * (h + 1) / H)`;
# - otherwise, take the `n` slopes of the largest power of two `n < H`, then append the 1st, 3rd,
#   5th ... slopes of `2n` heads until there are `H` slopes.

# %%
def alibi_slopes(num_heads):
    ### BEGIN SOLUTION
    def power_of_two(n):
        return [2.0 ** (-8.0 * (h + 1) / n) for h in range(n)]

    n = 2 ** int(math.floor(math.log2(num_heads)))
    slopes = power_of_two(n)
    if n < num_heads:
        slopes += power_of_two(2 * n)[0::2][: num_heads - n]
    return torch.tensor(slopes)
    ### END SOLUTION

# %%
ak.check.alibi_slopes(alibi_slopes)

# %% [markdown]
# ## Exercise 3: attention scores with RoPE
# Write `rope_scores(q, k)` for queries and keys of shape `(..., T, D)` at positions `0 .. T-1`:
# return the `(..., T, T)` scaled scores `q' k'^T / sqrt(D)` where `q'` and `k'` are rotated by
# their positions. You may use `ak.apply_rope` (or your `rope`).

# %%
def rope_scores(q, k):
    ### BEGIN SOLUTION
    q_rot, k_rot = ak.apply_rope(q), ak.apply_rope(k)                    # (..., T, D) each
    return q_rot @ k_rot.transpose(-2, -1) / math.sqrt(q.shape[-1])      # (..., T, T)
    ### END SOLUTION

# %%
ak.check.rope_scores(rope_scores)

# %% [markdown]
# ## Going further (not checked)
# - With your `rope_scores`, check the lesson's claim on your own: put the same `q` and `k` at
#   positions shifted by 500 (`ak.apply_rope(q, positions + 500)`) and compare the scores.
# - ALiBi on a harder offset: train `ak.train_positions_model("alibi", offset=3)` and compare it
#   with `"rope"` at the same settings. ALiBi's penalty only ever says "nearer is better"; can one
#   layer point at exactly three tokens back?
# - RoPE past its training length: change `rope_base` in `ak.PositionsModel` (through
#   `ak.train_positions_model(..., rope_base=...)`) and see where the lesson's RoPE models collapse.
