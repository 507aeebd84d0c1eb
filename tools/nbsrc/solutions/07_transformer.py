# %% [markdown]
# # 07 · The Transformer: exercises
#
# Two building blocks of the encoder (and decoder) layer, each followed by a check cell that compares yours
# with the reference on many generated inputs and prints one line: ✅ when it matches, ❌ with
# what differs and the typical mistake when it recognises one, ✏️ while the stub is still there.
# Replace `raise NotImplementedError()` with your code, run the cell, then run its check.
# Lesson: `notebooks/07_transformer.ipynb`.

# %%
import torch

import attnkit as ak

_ = ak.seed_everything(0)  # seeds Python, NumPy and PyTorch

# %% [markdown]
# ## Exercise 1: a pre-norm residual block
# Write `pre_norm_residual(x, sublayer, norm)`: the pre-norm wrapping of one sublayer (attention
# or feed-forward) in a Transformer layer. `x` is `(B, T, D)`; `sublayer` and `norm` are modules
# you call like functions (`sublayer(h)`, `norm(h)`), both `(B, T, D) -> (B, T, D)`. Which one
# does the LayerNorm see, and what does the residual add?

# %%
def pre_norm_residual(x, sublayer, norm):
    ### BEGIN SOLUTION
    return x + sublayer(norm(x))
    ### END SOLUTION

# %%
ak.check.pre_norm_residual(pre_norm_residual)

# %% [markdown]
# ## Exercise 2: the feed-forward block
# Write `feed_forward(x, linear1, linear2)`: the position-wise feed-forward block of the
# encoder layer, `(B, T, D) -> (B, T, D)`, with `linear1: D -> d_ff`, `linear2: d_ff -> D` and a
# ReLU between them. The residual and the norm are **not** part of it (the layer adds them).

# %%
def feed_forward(x, linear1, linear2):
    ### BEGIN SOLUTION
    return linear2(torch.relu(linear1(x)))
    ### END SOLUTION

# %%
ak.check.feed_forward(feed_forward)

# %% [markdown]
# ## Going further (optional, not checked)
# - Put your two functions together into a pre-norm encoder layer (attention from
#   `ak.MultiHeadAttention`) and compare it with `ak.TransformerEncoderLayer(..., norm_first=True)`
#   after copying the weights.
# - Train `ak.train_tiny_transformer("reverse", ...)` and plot its attention maps: which pattern
#   do you expect before you look?
# - Train `ak.train_seq2seq("sort", length=8, steps=300)` and plot `model.cross_attn_weights[0]`
#   for one example: where should the decoder step that writes the smallest digit read?
# - Build the decoder-only block yourself: your pre-norm residual around causal self-attention
#   (`mask=ak.causal_mask(T)`) and around your feed-forward block, and compare it with
#   `ak.TransformerDecoderLayer(..., norm_first=True, cross_attention=False)` after copying the weights.
