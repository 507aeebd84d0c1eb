# %% [markdown]
# # 04 · Self-attention: a sequence that reads itself
#
# In lesson 03 the queries came from outside: a question asked of a list of words. In
# **self-attention** the queries, the keys and the values are all computed from the *same*
# sequence, so every token asks a question of every other token and rewrites itself with the
# answer. That is the layer at the heart of every Transformer. It has one surprising blind spot
# (it does not know the order of its inputs), which we measure and then fix, and it has nothing
# to do with language in particular, which we show on a signal.
#
# **You will be able to**
# - compute $Q$, $K$, $V$ from one sequence with three learned projections, with shapes;
# - read a self-attention map and explore one token's row;
# - show that, without positions, permuting the input only permutes the output, and fix it with
#   sinusoidal positional encodings;
# - apply the same attention function to a time series and measure what it does there.
#
# **Time:** about 25 minutes, plus 15 for the exercises.

# %%
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

import attnkit as ak

ak.seed_everything(0)
torch.set_printoptions(precision=3, sci_mode=False)
print(f"torch {torch.__version__.split('+')[0]}, attnkit {ak.__version__}")

# %% [markdown]
# ## Predict first

# %%
ak.quiz.ask(
    "In self-attention, where do the queries, keys and values come from?",
    ["Queries from the sentence, keys and values from a separate memory",
     "All three from the same sequence, each through its own learned matrix",
     "All three are the token embeddings themselves, unchanged"],
    answer=1,
    explanation="Q = X W_q, K = X W_k, V = X W_v: one sequence X, three different projections, "
                "so a token can look for something (query) other than what it advertises (key).",
)

# %% [markdown]
# ## The idea: three views of the same tokens
#
# Stack the token embeddings of a sentence as the rows of $X$ (shape $T \times D$). Three
# matrices, learned during training, give each token three roles:
#
# $$Q = XW_q, \qquad K = XW_k, \qquad V = XW_v, \qquad
#   \operatorname{SelfAttention}(X) = \operatorname{softmax}\!\Big(\frac{QK^\top}{\sqrt{d_k}}\Big)V$$
#
# Row $i$ of the result is a weighted average of every token's value, weighted by how well
# token $i$'s query matches each token's key. Here it is from scratch, on a sentence with
# embeddings and projections drawn at random (an untrained layer: the mechanics are the same).

# %%
tokens = "the cat sat on the mat because the cat was tired".split()
vocab = sorted(set(tokens))
embedding = torch.nn.Embedding(len(vocab), 16)                 # a table: one 16-d row per word
ids = torch.tensor([vocab.index(t) for t in tokens])
with torch.no_grad():
    X = embedding(ids)                                          # (T, D) = (11, 16)
d_k = 8
W_q, W_k, W_v = (torch.randn(16, d_k) / 4 for _ in range(3))   # (D, d_k) each

Q, K, V = X @ W_q, X @ W_k, X @ W_v                             # (T, d_k) each
attn_scores = Q @ K.T / math.sqrt(d_k)                          # (T, T): every token vs every token
attn_weights = torch.softmax(attn_scores, dim=-1)               # (T, T), rows sum to 1
context_vecs = attn_weights @ V                                 # (T, d_k): one new vector per token
print("X", tuple(X.shape), "Q/K/V", tuple(Q.shape), "scores", tuple(attn_scores.shape),
      "output", tuple(context_vecs.shape))

# %% [markdown]
# The map is square: $T$ queries by $T$ keys, because the sequence attends to itself.

# %%
ax = ak.plot_attention(attn_weights, tokens, tokens, title="self-attention of an untrained layer")

# %% [markdown]
# ### Explore one token's row
# Pick a token: the box marks its row of the map, the bars show how it spreads its attention.
# (The widget runs in JupyterLab; below it, the same drawing for the token *sat*.)

# %%
ak.widgets.self_attention_explorer(attn_weights, tokens)

# %%
ak.widgets.draw_self_attention_row(attn_weights, tokens, token_index=tokens.index("sat"))

# %% [markdown]
# Look at the two **cat** rows (positions 1 and 8) and the three **the** rows. Same word, same
# embedding, same query: the rows are identical, although the words sit in different places.

# %%
cat_rows = [i for i, t in enumerate(tokens) if t == "cat"]
print("cat at positions", cat_rows, "- max abs diff between their attention rows:",
      round((attn_weights[cat_rows[0]] - attn_weights[cat_rows[1]]).abs().max().item(), 6))

# %% [markdown]
# ## Checked against PyTorch
# Our three lines, `ak.attention` and PyTorch's fused `scaled_dot_product_attention` agree.

# %%
ak_out, ak_weights = ak.attention(Q, K, V)
torch_out = F.scaled_dot_product_attention(Q[None], K[None], V[None])[0]
print("from scratch vs PyTorch: max abs diff", round((context_vecs - torch_out).abs().max().item(), 6))
print("ak.attention vs PyTorch: max abs diff", round((ak_out - torch_out).abs().max().item(), 6))

# %% [markdown]
# ## Pitfall: self-attention does not know the order
#
# Predict first, then we measure.

# %%
ak.quiz.ask(
    "Shuffle the words of the sentence and run the same self-attention layer (no positional "
    "information). What happens to the outputs?",
    ["They are completely different vectors",
     "They are the same vectors, shuffled the same way as the words",
     "They are the same vectors in the original order"],
    answer=1,
    explanation="Every output is a weighted average over a *set* of tokens; nothing in the formula "
                "refers to a position. Permute the input and the output is permuted, nothing more.",
)

# %% [markdown]
# We use the package's layer, `ak.MultiHeadAttention` (lesson 05 opens it up), with its learned
# projections, and a random permutation of the 11 tokens. If the layer is blind to order, then
# `layer(X[perm]) == layer(X)[perm]`: shuffling commutes with the layer.

# %%
layer = ak.MultiHeadAttention(d_model=16, num_heads=2).eval()
perm = torch.randperm(len(tokens), generator=torch.Generator().manual_seed(1))
print("shuffled:", " ".join(tokens[i] for i in perm))
with torch.no_grad():
    out, _ = layer(X[None], X[None], X[None])                           # (1, T, D)
    Xp = X[perm][None]                                                   # (1, T, D), shuffled
    out_of_shuffled, _ = layer(Xp, Xp, Xp)
gap_no_pos = (out_of_shuffled - out[:, perm]).abs().max().item()
print("no positions:   max |layer(X[perm]) - layer(X)[perm]| =", round(gap_no_pos, 6),
      "| below 1e-6:", gap_no_pos < 1e-6, "| typical |output|:", round(out.abs().mean().item(), 3))

# %% [markdown]
# Zero to six decimals (float32 rounding at most), for outputs whose typical size is about 0.2: *the cat sat on the mat* and any shuffle of it are the same bag of
# tokens to this layer. The fix is to make each token's vector depend on its position by
# **adding** a positional encoding before the first layer. The sinusoidal one (Vaswani et al.,
# 2017) gives position $p$ the vector
#
# $$PE_{p,2i} = \sin\!\big(p / 10000^{2i/D}\big), \qquad PE_{p,2i+1} = \cos\!\big(p / 10000^{2i/D}\big),$$
#
# sines and cosines of wavelengths from $2\pi$ to $10000 \cdot 2\pi$: a fast-ticking clock in the
# first columns, slower ones further right.

# %%
pe = ak.sinusoidal_positions(len(tokens), 16)                     # (T, D)
with torch.no_grad():
    Xpos = X + pe                                                 # (T, D): word + where it is
    out, _ = layer(Xpos[None], Xpos[None], Xpos[None])
    Xp = (X[perm] + pe)[None]                                     # shuffle the words, then add positions
    out_of_shuffled, _ = layer(Xp, Xp, Xp)
gap_pos = (out_of_shuffled - out[:, perm]).abs().max().item()
print("with positions: max |layer(X[perm]) - layer(X)[perm]| =", round(gap_pos, 3),
      "| typical |output|:", round(out.abs().mean().item(), 3),
      "| ratio:", round(gap_pos / out.abs().mean().item(), 2))
cat_a, cat_b = out[0, cat_rows[0]], out[0, cat_rows[1]]
print("the two 'cat' outputs now differ by up to", round((cat_a - cat_b).abs().max().item(), 3))

# %% [markdown]
# With positions the gap jumps from below $10^{-6}$ to about a quarter of the typical output: the
# shuffled sentence now gives different outputs, and the two *cat*s are
# no longer interchangeable. What do these vectors look like? Each row is a position. A position's
# vector is most similar to itself and its neighbours: the dot product peaks there and drops over
# the first ten steps, then levels off (far positions are not all equally far, it is not a ruler).

# %%
fig, (ax_pe, ax_sim) = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
pe_long = ak.sinusoidal_positions(64, 32)                          # (64, 32)
ak.plot.plot_positional_encodings(pe_long, ax=ax_pe)
similarity = pe_long @ pe_long[20]                                # (64,): position 20 vs every position
ax_sim.plot(similarity.numpy(), marker=".")
ax_sim.axvline(20, color="tab:gray", linestyle=":")
_ = ax_sim.set(xlabel="position", ylabel="PE[p] · PE[20]", title="similarity to position 20")

# %%
print("PE[20] · PE[p] for p = 20, 21, 22, 25, 30, 40:",
      [round(similarity[p].item(), 2) for p in (20, 21, 22, 25, 30, 40)])

# %% [markdown]
# ## Myth: "attention is only for language"
#
# Nothing in the formula mentions words: it takes any set of vectors. Vision Transformers feed it
# image patches; here we feed it a **time series**. We make a periodic signal (period 8 samples),
# add noise, and cut it into overlapping windows of 8 samples: window $i$ is the token for time
# $i$. Self-attention with $Q = K = V =$ the windows lets each window average the windows that
# *look like it*, wherever they are. For a periodic signal those are the windows one, two, three
# periods away, so the average should keep the signal and cancel the noise.

# %%
g = torch.Generator().manual_seed(0)
period, width, n = 8, 8, 96
t = torch.arange(n + width - 1, dtype=torch.float32)
clean = torch.sin(2 * math.pi * t / period) + 0.5 * torch.sin(4 * math.pi * t / period + 1.0)
noisy = clean + 0.4 * torch.randn(t.shape, generator=g)
windows = noisy.unfold(0, width, 1)                               # (n, width): one token per time step
denoised, ts_weights = ak.attention(windows, windows, windows, scale=1.0)   # (n, width), (n, n)
print("tokens", tuple(windows.shape), "attention map", tuple(ts_weights.shape))

same_phase = (torch.arange(n)[:, None] - torch.arange(n)[None, :]) % period == 0   # (n, n)
on_same_phase = (ts_weights * same_phase).sum(-1).mean().item()
mse_noisy = ((noisy[:n] - clean[:n]) ** 2).mean().item()
mse_attn = ((denoised[:, 0] - clean[:n]) ** 2).mean().item()
print(f"attention on windows a whole number of periods away: {on_same_phase:.2f} "
      f"(those are {same_phase.float().mean().item():.2f} of all windows)")
print(f"mean squared error against the clean signal: noisy {mse_noisy:.3f}, after attention {mse_attn:.3f}")

# %%
fig, (ax_map, ax_sig) = plt.subplots(1, 2, figsize=(12, 3.8), layout="constrained", width_ratios=[1, 1.6])
ak.plot_attention(ts_weights, ax=ax_map, annotate=False, title="self-attention over time steps")
ax_map.set_xticks(range(0, n, 16), range(0, n, 16))
ax_map.set_yticks(range(0, n, 16), range(0, n, 16))
ax_sig.plot(noisy[:n].numpy(), color="tab:gray", alpha=0.6, label="noisy input")
ax_sig.plot(clean[:n].numpy(), color="black", linestyle="--", label="clean signal")
ax_sig.plot(denoised[:, 0].numpy(), color="tab:orange", label="after self-attention")
ax_sig.set(xlabel="time step", title="the same attention function on a signal")
_ = ax_sig.legend(loc="upper right", fontsize=8)

# %% [markdown]
# The map is striped every 8 steps: each time step attends to the steps a whole number of periods
# away, which is three quarters of its attention although they are only an eighth of the
# candidates. Averaging them cuts the error to about a third. No word anywhere: attention is a
# content-based average of any set of vectors, which is why it works on images, audio, proteins
# and time series alike. (Here $Q = K = V$ with no learned projections; a trained layer learns
# which similarity to use.)
#
# ## Recap
# - Self-attention: $Q = XW_q$, $K = XW_k$, $V = XW_v$ from **one** sequence; the map is
#   $T \times T$, each row a token's weighted look at all the others.
# - It is **blind to order**: we measured `layer(X[perm]) == layer(X)[perm]` to float precision,
#   and two copies of a word get identical rows. Adding positional encodings (`ak.sinusoidal_positions`)
#   breaks that symmetry: the gap rose to about a quarter of the typical output.
# - It is **not about language**: on a noisy periodic signal the same function attends across
#   periods and cuts the error by about two thirds.
#
# **Exercises:** `exercises/04_self_attention.ipynb`: write self-attention with its three
# projections, and add positional encodings to a batch of embeddings.
# Next, lesson 05: many attention heads side by side.
