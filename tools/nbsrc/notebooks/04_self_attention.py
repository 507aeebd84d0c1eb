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
# - show that, without positions, permuting the input only permutes the output, fix it with
#   sinusoidal positional encodings, and measure what that buys on lesson 01's *who did it?*;
# - apply the same attention function to a time series and measure what it does there.
#
# **Time:** about 40 minutes, plus 15 for the exercises.

# %%
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

import attnkit as ak

ak.seed_everything(0)
torch.set_num_threads(1)  # tiny models: one thread is faster than two fighting
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
# Our three lines, `ak.attention` and PyTorch's `scaled_dot_product_attention` agree.

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
# We test the layer we just built. Here are its three lines again, as a function of the sequence
# and the three matrices (it works for one sequence (T, D) or a batch (B, T, D)); we run it with
# the same `W_q`, `W_k`, `W_v` on the sentence and on a random permutation of its 11 tokens. If
# the layer is blind to order, then `self_attention(X[perm]) == self_attention(X)[perm]`:
# shuffling commutes with the layer.

# %%
def self_attention(X, W_q, W_k, W_v):                  # X: (T, D) or (B, T, D)
    Q, K, V = X @ W_q, X @ W_k, X @ W_v                 # (..., T, d_k) each
    attn_scores = Q @ K.transpose(-2, -1) / math.sqrt(K.shape[-1])   # (..., T, T)
    return torch.softmax(attn_scores, dim=-1) @ V       # (..., T, d_k)


perm = torch.randperm(len(tokens), generator=torch.Generator().manual_seed(1))
print("shuffled:", " ".join(tokens[i] for i in perm))
out = self_attention(X, W_q, W_k, W_v)                                   # (T, d_k)
out_of_shuffled = self_attention(X[perm], W_q, W_k, W_v)                 # (T, d_k)
print("same as the cell above:", torch.allclose(out, context_vecs))
gap_no_pos = (out_of_shuffled - out[perm]).abs().max().item()
print("no positions:   max |f(X[perm]) - f(X)[perm]| =", round(gap_no_pos, 6),
      "| below 1e-6:", gap_no_pos < 1e-6, "| typical |output|:", round(out.abs().mean().item(), 3))

# %% [markdown]
# Zero to six decimals (float32 rounding at most): *the cat sat on the mat* and any shuffle of it
# are the same bag of tokens to this layer. The fix is to make each token's vector depend on its
# position by **adding** a positional encoding before the first layer. The sinusoidal one
# (Vaswani et al., 2017) gives position $p$ the vector
#
# $$PE_{p,2i} = \sin\!\big(p / 10000^{2i/D}\big), \qquad PE_{p,2i+1} = \cos\!\big(p / 10000^{2i/D}\big),$$
#
# sines and cosines whose wavelengths grow geometrically from $2\pi$ towards $10000 \cdot 2\pi$: a
# fast-ticking clock in the first columns, slower ones further right.

# %%
pe = ak.sinusoidal_positions(len(tokens), 16)                     # (T, D)
out = self_attention(X + pe, W_q, W_k, W_v)                       # (T, d_k): word + where it is
out_of_shuffled = self_attention(X[perm] + pe, W_q, W_k, W_v)     # shuffle the words, then add positions
gap_pos = (out_of_shuffled - out[perm]).abs().max().item()
print("with positions: max |f(X[perm] + PE) - f(X + PE)[perm]| =", round(gap_pos, 3),
      "| typical |output|:", round(out.abs().mean().item(), 3),
      "| ratio:", round(gap_pos / out.abs().mean().item(), 2))
cat_a, cat_b = out[cat_rows[0]], out[cat_rows[1]]
print("the two 'cat' outputs now differ by up to", round((cat_a - cat_b).abs().max().item(), 3))

# %% [markdown]
# With positions the shuffled sentence gives different outputs (the largest gap is now about twice
# the size of a typical output) and the two *cat*s are no longer interchangeable. What do
# these vectors look like? Each row is a position. A position's vector is most similar to itself
# and its neighbours: the dot product peaks there and falls over the next few positions, then
# wobbles at a lower level instead of falling further (far positions are not all equally far: it is
# not a ruler).

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
# ## Back to lesson 01: who did it?
#
# Lesson 01 promised that positions let a model tell *"the dog bites the man"* from *"the man
# bites the dog"*. Now we can check it for attention. The classifier below is lesson 01's recipe
# with the layer we just wrote in the middle: embeddings (D = 16), **our `self_attention`** with its
# three learned matrices, the **mean** over the five tokens, a linear read-out. The only
# difference between the two versions is whether the sinusoidal positions are added to the
# embeddings. Same data, test set, learning rate (1e-2) and steps (300) as lesson 01; three seeds
# each. (As in lesson 01, nearly all test sentences also occur in training: the question is what
# the model can represent.)

# %%
class SelfAttentionClassifier(nn.Module):
    def __init__(self, vocab_size, dim, n_classes, positions):
        super().__init__()
        self.embed, self.head = nn.Embedding(vocab_size, dim), nn.Linear(dim, n_classes)
        self.W_q, self.W_k, self.W_v = (nn.Parameter(torch.randn(dim, dim) / dim**0.5) for _ in range(3))
        self.positions = positions

    def forward(self, ids):                                            # (B, T)
        x = self.embed(ids)                                            # (B, T, D)
        if self.positions:
            x = x + ak.sinusoidal_positions(ids.shape[1], x.shape[-1])  # + (T, D)
        context_vecs = self_attention(x, self.W_q, self.W_k, self.W_v)  # (B, T, D)
        return self.head(context_vecs.mean(1))                         # (B, D) -> (B, C)


who_vocab = ak.corpus_vocab()
test_ids, test_agent = ak.who_did_it_batch(2000, torch.Generator().manual_seed(123), who_vocab)
twins = who_vocab.encode_batch(["the dog bites the man", "the man bites the dog"])
who_accuracy = {}
for positions in (False, True):
    name = "with positions" if positions else "no positions"
    who_accuracy[name] = []
    for seed in (0, 1, 2):
        ak.seed_everything(seed)
        model = SelfAttentionClassifier(len(who_vocab), 16, len(ak.AGENTS), positions)
        ak.train(model, lambda g: ak.who_did_it_batch(64, g, who_vocab),
                 lambda m, b: F.cross_entropy(m(b[0]), b[1]), steps=300, lr=1e-2, seed=seed, desc=name)
        with torch.no_grad():
            n_correct = (model(test_ids).argmax(-1) == test_agent).sum().item()   # out of 2000
            twin_logits = model(twins)                                 # (2, C)
        who_accuracy[name].append(round(n_correct / len(test_agent), 3))
        print(f"{name:15s} seed {seed}: test accuracy {who_accuracy[name][-1]:.3f} "
              f"({n_correct} of {len(test_agent)}) | same output for both orders: "
              f"{torch.allclose(twin_logits[0], twin_logits[1])}")

# %% [markdown]
# Without positions the layer sees a bag of tokens, the mean over tokens sees a bag of outputs,
# and so the model gives **identical** outputs for a sentence and its swapped twin: it sits at
# lesson 01's bag-of-embeddings level, about 50%, on every seed. With sinusoidal positions added,
# the very same layer solves the task: 2000, 1997 and 2000 of the 2,000 test sentences right on
# the three seeds (accuracy 1.000, 0.999, 1.000) within the 300 steps. (One layer, five-token sentences,
# one task: the point is the symmetry, not the size.)
#
# ## Myth: "attention is only for language"
#
# Nothing in the formula mentions words: it takes any set of vectors. Vision Transformers feed it
# image patches (Dosovitskiy et al., 2021); here we feed it a **time series**. We make a periodic
# signal (period 8 samples), add noise, and cut it into overlapping windows of 8 samples: window
# $i$ is the token for time $i$. Self-attention with $Q = K = V =$ the windows lets each window
# average the windows that *look like it*, wherever they are. For a periodic signal those are the
# windows one, two, three periods away, so the average should keep the signal and cancel the noise.
#
# The function is `ak.attention`, as in lesson 03, with two choices of ours: no learned
# projections (the windows themselves are queries, keys and values) and `scale=1.0` instead of the
# default $1/\sqrt{8}$, which makes the softmax sharper. The cell also prints what the default
# scale gives.

# %%
g = torch.Generator().manual_seed(0)
period, width, n = 8, 8, 96
t = torch.arange(n + width - 1, dtype=torch.float32)
clean = torch.sin(2 * math.pi * t / period) + 0.5 * torch.sin(4 * math.pi * t / period + 1.0)
noisy = clean + 0.4 * torch.randn(t.shape, generator=g)
windows = noisy.unfold(0, width, 1)                               # (n, width): one token per time step
denoised, ts_weights = ak.attention(windows, windows, windows, scale=1.0)   # (n, width), (n, n)
print("tokens", tuple(windows.shape), "attention map", tuple(ts_weights.shape))

same_phase = (torch.arange(n)[:, None] - torch.arange(n)[None, :]) % period == 0   # (n, n), diagonal included
on_same_phase = (ts_weights * same_phase).sum(-1).mean().item()
on_itself = ts_weights.diagonal().mean().item()                  # 0 periods away: the window itself
mse_noisy = ((noisy[:n] - clean[:n]) ** 2).mean().item()
mse_attn = ((denoised[:, 0] - clean[:n]) ** 2).mean().item()
print(f"attention on windows a whole number of periods away: {on_same_phase:.2f} = {on_itself:.2f} on "
      f"itself + {on_same_phase - on_itself:.2f} on the others (those are {same_phase.float().mean().item():.2f} "
      f"of all windows)")
print(f"mean squared error against the clean signal: noisy {mse_noisy:.3f}, after attention {mse_attn:.3f}")
denoised_default, weights_default = ak.attention(windows, windows, windows)   # default scale 1/sqrt(8)
print(f"with the default scale 1/sqrt({width}) instead: {(weights_default * same_phase).sum(-1).mean().item():.2f} "
      f"on same-phase windows, error {((denoised_default[:, 0] - clean[:n]) ** 2).mean().item():.3f}")

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
# The map is striped every 8 steps: on average a time step puts three quarters of its attention
# (0.75) on the windows a whole number of periods away, although they are only an eighth of the
# candidates. That count includes the window itself (0 periods away, 0.19); the windows one or more
# periods away get 0.56. Averaging them cuts the error (printed above). With the default scale the softmax
# is flatter: less weight lands on the same phase and the error falls less. No word anywhere:
# attention is a content-based average of any set of vectors.
#
# But look at the map again: some columns are much brighter than others. With $Q = K = V$ the
# score is $q_i \cdot k_j = |w_i|\,|w_j| \cos\theta_{ij}$, so a window with a **large norm** scores
# high with every window that points its way, and a window's score with itself is $|w_i|^2$. Measured:

# %%
norms = windows.norm(dim=-1)                                      # (n,): each window's norm
received = ts_weights.sum(0)                                      # (n,): attention each window receives
self_weight = ts_weights.diagonal()                               # (n,): weight a window puts on itself
order = norms.argsort()
low, high = order[: n // 4], order[-(n // 4):]                    # quietest and loudest quarter
print(f"window norms from {norms.min().item():.2f} to {norms.max().item():.2f}; correlation of norm "
      f"with attention received: {torch.corrcoef(torch.stack([norms, received]))[0, 1].item():.2f}")
print(f"attention received (1.00 if uniform): loudest quarter {received[high].mean().item():.2f}, "
      f"quietest quarter {received[low].mean().item():.2f}")
print(f"weight on itself: mean {self_weight.mean().item():.2f} (uniform: {1 / n:.3f}), "
      f"loudest quarter {self_weight[high].mean().item():.2f}, quietest {self_weight[low].mean().item():.2f}")
louder = norms[None, :] > norms[:, None]                         # (n, n): window j louder than window i
print(f"quietest quarter's weight on louder windows: {(ts_weights * louder).sum(-1)[low].mean().item():.2f}, "
      f"on louder windows of the same phase: {(ts_weights * (louder & same_phase)).sum(-1)[low].mean().item():.2f}")
unit = windows / norms[:, None]                                  # (n, width): directions only
others = ~torch.eye(n, dtype=torch.bool)                         # (n, n): every pair but a window with itself
print(f"pairs of windows pointing away from each other (cosine < 0): "
      f"{((unit @ unit.T < 0) & others).sum().item() / others.sum().item():.2f}")
denoised_no_self, _ = ak.attention(windows, windows, windows, scale=1.0, mask=others)   # True = may attend
print(f"error when no window may attend to itself: "
      f"{((denoised_no_self[:, 0] - clean[:n]) ** 2).mean().item():.3f} (all windows: {mse_attn:.3f})")

# %% [markdown]
# Dot-product scores **favour high-norm windows**: the loudest quarter of windows receives several
# times the attention of the quietest quarter, the loudest windows put about half of their weight
# on themselves, and the quietest put nearly all of theirs on louder windows, most of it on louder
# windows of the same phase. For denoising that is a bias, not a feature: a noise spike that raises
# a window's norm also raises its say in every average of windows that point its way (where the
# cosine is negative, 0.57 of the pairs here, a larger norm lowers the weight instead). One
# norm-driven weight is easy to take away: a window's weight on itself, whose score is $|w_i|^2$.
# Forbidding it lowers the error (printed above).
#
# Is that one noise draw? The same measurements on three noise seeds:

# %%
print("noise seed | on same phase (on itself) | error: noisy, attention, no self | corr(norm, received) "
      "| received: loudest, quietest quarter")
for noise_seed in (0, 1, 2):
    noisy_s = clean + 0.4 * torch.randn(t.shape, generator=torch.Generator().manual_seed(noise_seed))
    windows_s = noisy_s.unfold(0, width, 1)                      # (n, width)
    out_s, weights_s = ak.attention(windows_s, windows_s, windows_s, scale=1.0)          # (n, width), (n, n)
    out_no_self, _ = ak.attention(windows_s, windows_s, windows_s, scale=1.0, mask=others)
    norms_s, received_s = windows_s.norm(dim=-1), weights_s.sum(0)                       # (n,), (n,)
    quiet_s, loud_s = norms_s.argsort()[: n // 4], norms_s.argsort()[-(n // 4):]
    errors = [((x - clean[:n]) ** 2).mean().item() for x in (noisy_s[:n], out_s[:, 0], out_no_self[:, 0])]
    same_and_self = f"{(weights_s * same_phase).sum(-1).mean().item():.2f} ({weights_s.diagonal().mean().item():.2f})"
    correlation = torch.corrcoef(torch.stack([norms_s, received_s]))[0, 1].item()
    print(f"{noise_seed:>10} | {same_and_self:<25} | {', '.join(f'{e:.3f}' for e in errors):<32} "
          f"| {correlation:<20.2f} | {received_s[loud_s].mean().item():.2f}, {received_s[quiet_s].mean().item():.2f}")

# %% [markdown]
# Every seed tells the same story: most attention on the same phase, the error cut, a further cut
# without self-attention, and attention received tracking the norm.
#
# Would learned projections fix it? Not by themselves. With $Q = XW_q$ and $K = XW_k$ the score
# $x_i W_q W_k^\top x_j^\top$ is linear in each of its two windows, so doubling a window doubles its
# score with every other window (and quadruples its score with itself), whatever $W_q$ and $W_k$
# are (here with random ones; projections without biases, as written: a bias adds terms that do not
# grow with the window, which matter less the louder the window):

# %%
proj = torch.Generator().manual_seed(1)
W_q_ts, W_k_ts = torch.randn(width, width, generator=proj), torch.randn(width, width, generator=proj)   # (8, 8)
doubled = windows.clone()
doubled[0] *= 2                                                  # window 0 twice as loud
scores = (windows @ W_q_ts) @ (windows @ W_k_ts).T               # (n, n)
scores_doubled = (doubled @ W_q_ts) @ (doubled @ W_k_ts).T       # (n, n)
ratio_row, ratio_col = scores_doubled[0, 1:] / scores[0, 1:], scores_doubled[1:, 0] / scores[1:, 0]
print(f"score ratio, window 0 as query: {ratio_row.min().item():.2f} to {ratio_row.max().item():.2f}; "
      f"as key: {ratio_col.min().item():.2f} to {ratio_col.max().item():.2f}; "
      f"with itself: {(scores_doubled[0, 0] / scores[0, 0]).item():.2f}; "
      f"scores without window 0 unchanged: {torch.equal(scores_doubled[1:, 1:], scores[1:, 1:])}")

# %% [markdown]
# Learned $W_q$ and $W_k$ choose *which directions* count, but the score still scales with each
# token's norm. Transformers handle the norm elsewhere: a pre-norm Transformer (Xiong et al., 2020;
# lesson 07) passes each token through LayerNorm (Ba et al., 2016) before attention, and LayerNorm
# gives a vector and any positive multiple of it the same output (up to a tiny epsilon); QK-norm
# (Henry et al., 2020; lesson 06) normalises the queries and keys themselves.
#
# ## Recap
# - Self-attention: $Q = XW_q$, $K = XW_k$, $V = XW_v$ from **one** sequence; the map is
#   $T \times T$, each row a token's weighted look at all the others.
# - It is **blind to order**: we measured `f(X[perm]) == f(X)[perm]` to float precision, and two
#   copies of a word get identical rows. Adding positional encodings (`ak.sinusoidal_positions`)
#   breaks that symmetry; on lesson 01's *who did it?* the same layer goes from about 50% (no
#   positions, every seed) to 0.999–1.000 (with positions, three seeds).
# - It is **not about language**: on a noisy periodic signal the same function (`ak.attention`,
#   here with `scale=1.0` and no projections) attends across periods and cuts the error, on three
#   noise seeds; its dot-product scores favour high-norm windows, and learned projections alone
#   would not change that (without biases the score is linear in each of its two tokens).
#
# **Exercises:** `my-work/04_self_attention.ipynb`: write self-attention with its three
# projections, and add positional encodings to a batch of embeddings.
# Next, lesson 05: many attention heads side by side.


# %% [markdown]
# ## References
# - Vaswani, A., Shazeer, N., Parmar, N., Uszkoreit, J., Jones, L., Gomez, A. N., Kaiser, Ł. &
#   Polosukhin, I. (2017). *Attention is all you need.* NeurIPS 2017. (Self-attention, sinusoidal
#   positional encodings.)
# - Dosovitskiy, A., Beyer, L., Kolesnikov, A., Weissenborn, D., Zhai, X., Unterthiner, T., Dehghani,
#   M., Minderer, M., Heigold, G., Gelly, S., Uszkoreit, J. & Houlsby, N. (2021). *An image is worth
#   16x16 words: Transformers for image recognition at scale.* ICLR 2021.
# - Ba, J. L., Kiros, J. R. & Hinton, G. E. (2016). *Layer normalization.* arXiv:1607.06450.
# - Xiong, R., Yang, Y., He, D., Zheng, K., Zheng, S., Xing, C., Zhang, H., Lan, Y., Wang, L. &
#   Liu, T.-Y. (2020). *On layer normalization in the Transformer architecture.* ICML 2020.
# - Henry, A., Dachapally, P. R., Pawar, S. & Chen, Y. (2020). *Query-Key Normalization for
#   Transformers.* Findings of EMNLP 2020.
