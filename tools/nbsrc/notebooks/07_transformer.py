# %% [markdown]
# # 07 · The Transformer encoder: attention, stacked
#
# Attention alone mixes information between positions, but a model needs more: a place to
# *compute* on what it gathered, a way to stack many layers without the signal blowing up or
# dying, and positions. The Transformer encoder layer packs all of it into one repeatable block:
# self-attention, a feed-forward network, residual connections and layer normalisation. In this
# lesson we build that block, check it against PyTorch's, stack two of them into a tiny
# Transformer that learns to **sort** in seconds, read its attention maps, compare pre-norm with
# post-norm, measure why attention trains in parallel where an RNN cannot, and test whether the
# most-attended token is really the one that matters.
#
# **You will be able to**
# - write an encoder layer (attention + feed-forward, residuals, LayerNorm) and say where each piece goes;
# - train `ak.TinyTransformer` on a toy task and read its learned attention maps;
# - explain pre-norm vs post-norm and what changes in training and in gradients;
# - measure the parallelism that replaced recurrence;
# - show, with a measurement, why attention weights are not explanations.
#
# **Time:** about 30 minutes, plus 15 for the exercises.

# %%
import time

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from IPython.display import display
from torch import nn

import attnkit as ak

ak.seed_everything(0)
torch.set_num_threads(1)  # tiny models: one thread is faster than two fighting over small matrices
torch.set_printoptions(precision=3, sci_mode=False)
print(f"torch {torch.__version__.split('+')[0]}, attnkit {ak.__version__}")

# %% [markdown]
# ## Predict first

# %%
ak.quiz.ask(
    "In a Transformer encoder layer, what does self-attention do on its own?",
    ["Everything: the layer is just attention",
     "It mixes information across positions; a feed-forward network then transforms each position, "
     "with residuals and normalisation around both",
     "It replaces the embeddings, so positions are no longer needed"],
    answer=1,
    explanation="Attention only computes weighted averages of the values: it moves information between "
                "positions but is nearly linear. The feed-forward block does the per-position computation, "
                "residuals keep a direct path for the signal and the gradient, and LayerNorm keeps the scale "
                "in check. Attention complements these layers; it does not replace them.",
)

# %% [markdown]
# ## The encoder layer in one picture
#
# For an input $X \in \mathbb{R}^{T \times D}$, the **post-norm** layer of the 2017 paper is
# $$H = \operatorname{LN}\big(X + \operatorname{MHA}(X)\big), \qquad
# Y = \operatorname{LN}\big(H + \operatorname{FFN}(H)\big), \qquad
# \operatorname{FFN}(h) = W_2\,\operatorname{ReLU}(W_1 h + b_1) + b_2 .$$
# The **pre-norm** layer most modern models use moves the norm inside the residual branch:
# $H = X + \operatorname{MHA}(\operatorname{LN}(X))$, $Y = H + \operatorname{FFN}(\operatorname{LN}(H))$.
# From scratch, with lesson 05's `ak.MultiHeadAttention`:

# %%
D, num_heads, d_ff = 32, 4, 64
mha = ak.MultiHeadAttention(D, num_heads)
linear1, linear2 = nn.Linear(D, d_ff), nn.Linear(d_ff, D)
norm1, norm2 = nn.LayerNorm(D), nn.LayerNorm(D)

x = torch.randn(2, 6, D)  # (B, T, D)
attn_out, attn_weights = mha(x, x, x)  # (B, T, D), (B, H, T, T)
h = norm1(x + attn_out)  # (B, T, D) residual, then LayerNorm
ff_hidden = F.relu(linear1(h))  # (B, T, d_ff) the per-position network widens...
y = norm2(h + linear2(ff_hidden))  # (B, T, D) ...and comes back to D
print("x", tuple(x.shape), "-> weights", tuple(attn_weights.shape), "-> hidden", tuple(ff_hidden.shape),
      "-> y", tuple(y.shape))

# %% [markdown]
# The output has the input's shape, which is what lets us stack as many layers as we like.
#
# ## `ak.TransformerEncoderLayer`, checked against PyTorch
# `from_torch` copies the weights of PyTorch's `nn.TransformerEncoderLayer`; the two must then give
# the same output, post-norm and pre-norm.

# %%
for norm_first in (False, True):
    torch.manual_seed(1)
    theirs = nn.TransformerEncoderLayer(D, num_heads, dim_feedforward=d_ff, dropout=0.0,
                                        batch_first=True, norm_first=norm_first).eval()
    ours = ak.TransformerEncoderLayer.from_torch(theirs).eval()
    with torch.no_grad():
        diff = (ours(x) - theirs(x)).abs().max().item()
    print(f"norm_first={norm_first}: max abs diff {diff:.1e}")

# %% [markdown]
# ## A tiny Transformer that learns to sort
#
# `ak.TinyTransformer` = token embedding + sinusoidal positions (lesson 04) + a stack of
# `ak.TransformerEncoderLayer` + a linear head that predicts one token per position. The task
# (`ak.toy_batch("sort", ...)`): read 8 digits, output them sorted. No position can do this
# alone: the 3rd smallest digit depends on every other digit, so the model must compare all
# positions with all others, which is exactly what self-attention offers.

# %%
inputs, targets = ak.toy_batch("sort", 2, 8, generator=torch.Generator().manual_seed(0))
print("input :", inputs[0].tolist(), "\ntarget:", targets[0].tolist())

model = ak.TinyTransformer(vocab_size=10, d_model=32, num_heads=4, num_layers=2, max_len=8, dim_feedforward=64)
print(f"{sum(p.numel() for p in model.parameters()):,} parameters;",
      "logits", tuple(model(inputs).shape), "; attention per layer", tuple(model.layers[0].attn_weights.shape))

# %% [markdown]
# `ak.train_tiny_transformer` is the whole recipe: build the model after seeding, then
# `ak.train` with Adam for a fixed number of steps (200 here), cross-entropy at every position,
# a short warm-up and gradient clipping. Accuracy is measured on 512 fresh sequences.

# %%
post_model, post_losses = ak.train_tiny_transformer(
    "sort", length=8, steps=200, batch_size=64, lr=3e-3, seed=0,
    d_model=32, num_heads=4, num_layers=2, dim_feedforward=64, norm_first=False)
post_acc = ak.toy_task_accuracy(post_model, "sort", 8)
print(f"post-norm: final loss {sum(post_losses[-20:]) / 20:.3f}, token accuracy {post_acc:.3f}")

demo_inputs, demo_targets = ak.toy_batch("sort", 4, 8, generator=torch.Generator().manual_seed(3))
with torch.no_grad():
    demo_pred = post_model(demo_inputs).argmax(-1)  # (B, T)
for i in range(3):
    print(f"in {demo_inputs[i].tolist()} -> out {demo_pred[i].tolist()}  "
          f"({'right' if torch.equal(demo_pred[i], demo_targets[i]) else 'wrong'})")

# %% [markdown]
# ## What did it learn to look at?
#
# Each layer keeps its last attention weights in `layer.attn_weights` `(B, H, T, T)`. Rows are
# query positions labelled with the token the model **outputs** there; columns are the input
# tokens. Every head of both layers, for the first example:

# %%
key_labels = [[str(t) for t in row] for row in demo_inputs.tolist()]
query_labels = [[f"→{t}" for t in row] for row in demo_pred.tolist()]
for li, layer in enumerate(post_model.layers):
    ak.plot.plot_heads(layer.attn_weights[0], titles=[f"layer {li}, head {h}" for h in range(4)])
    for ax in plt.gcf().axes:
        ax.set_xticks(range(8), key_labels[0])
        ax.set_yticks(range(8), query_labels[0])

# %% [markdown]
# Look at the last layer: many rows put their weight on the input positions that hold the very
# digit that query must output (the column label equals the row's `→` label). That is a readable
# strategy: find the digit of the right rank, copy it. The first layer's maps are more diffuse:
# they gather the comparisons the ranks are made of. Explore every example, layer and head:

# %%
ak.widgets.encoder_attention_explorer(post_model.attn_weights, key_labels, query_labels)

# %% [markdown]
# The static twin: the last layer, mean over heads, first example. We measure how often each
# query's most-attended key holds the digit that query outputs, over 512 examples:

# %%
display(ak.widgets.draw_encoder_attention(post_model.attn_weights, key_labels, query_labels, layer=1, head=-1))
eval_inputs, _ = ak.toy_batch("sort", 512, 8, generator=torch.Generator().manual_seed(5))
with torch.no_grad():
    eval_pred = post_model(eval_inputs).argmax(-1)  # (B, T)
top_key = post_model.layers[-1].attn_weights.mean(1).argmax(-1)  # (B, T) most-attended key per query
holds_output = eval_inputs.gather(1, top_key) == eval_pred  # (B, T)
print(f"last layer: most-attended key holds the output digit in {holds_output.float().mean().item():.1%} "
      f"of queries (a random key would in about {(eval_inputs[:, :, None] == eval_pred[:, None, :]).float().mean().item():.1%})")

# %% [markdown]
# ## Pre-norm vs post-norm
#
# Same data, same seed, same steps; only `norm_first` changes. Pre-norm keeps an un-normalised
# residual stream from input to output (with one final LayerNorm before the head), so every layer
# receives the gradient of the loss through a plain sum. Post-norm puts a LayerNorm on that path
# after every block.

# %%
pre_model, pre_losses = ak.train_tiny_transformer(
    "sort", length=8, steps=200, batch_size=64, lr=3e-3, seed=0,
    d_model=32, num_heads=4, num_layers=2, dim_feedforward=64, norm_first=True)
pre_acc = ak.toy_task_accuracy(pre_model, "sort", 8)
for name, losses, acc in (("post-norm", post_losses, post_acc), ("pre-norm", pre_losses, pre_acc)):
    print(f"{name:9s}: loss at step 50 {sum(losses[40:60]) / 20:.3f}, final {sum(losses[-20:]) / 20:.3f}, "
          f"token accuracy {acc:.3f}")
ak.plot.plot_loss_curves({"post-norm": post_losses, "pre-norm": pre_losses}, smooth=10,
                         title="sort, 2 layers, same seed and steps")
plt.show()

# %% [markdown]
# With two layers both orders learn the task. Where do they differ inside? We take a freshly
# initialised 12-layer stack of each kind and measure, on one batch, (left) the size of the
# residual stream after each layer and (right) the gradient norm that reaches each layer:

# %%
stream_norms, grad_norms = {}, {}
batch = ak.toy_batch("sort", 64, 8, generator=torch.Generator().manual_seed(0))
for norm_first in (False, True):
    torch.manual_seed(0)
    deep = ak.TinyTransformer(10, d_model=32, num_heads=4, num_layers=12, max_len=8, dim_feedforward=64,
                              norm_first=norm_first)
    with torch.no_grad():
        h = deep.embed_tokens(batch[0])  # (B, T, D)
        stream_norms[norm_first] = []
        for layer in deep.layers:
            h = layer(h)  # (B, T, D)
            stream_norms[norm_first].append(h.norm(dim=-1).mean().item())
    ak.toy_task_loss(deep, batch).backward()
    grad_norms[norm_first] = [torch.cat([p.grad.flatten() for p in layer.parameters()]).norm().item()
                              for layer in deep.layers]
for norm_first, name in ((False, "post-norm"), (True, "pre-norm")):
    s_, g_ = stream_norms[norm_first], grad_norms[norm_first]
    print(f"{name:9s}: stream norm layer 0 {s_[0]:.1f} -> layer 11 {s_[-1]:.1f};  "
          f"gradient norm layer 0 {g_[0]:.3f} -> layer 11 {g_[-1]:.3f}")

fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), layout="constrained")
for norm_first, name, marker in ((False, "post-norm", "o-"), (True, "pre-norm", "s-")):
    axes[0].plot(range(12), stream_norms[norm_first], marker, label=name)
    axes[1].plot(range(12), grad_norms[norm_first], marker, label=name)
axes[0].set_ylabel("mean |h| after the layer")
axes[1].set_ylabel("gradient norm at initialisation")
for ax in axes:
    ax.set_xlabel("layer (0 = next to the input)")
    ax.legend()
axes[0].set_title("The residual stream")
axes[1].set_title("Where the gradient lands")
plt.show()

# %% [markdown]
# Post-norm renormalises the stream after every block, so its size stays at $\sqrt{D} \approx 5.7$;
# each LayerNorm on the residual path also rescales the gradient that flows back through it.
# Pre-norm leaves the residual path as a plain sum: the stream grows layer after layer, and the
# gradient reaches every layer through that sum without passing any LayerNorm.
# At this size the choice barely matters for the result (the accuracies above are within a few
# tenths of a percent, and in both stacks the first and last layers' gradients differ by less
# than a factor of two).
# The reason most recent large models use pre-norm is training stability of much deeper stacks:
# Xiong et al. (2020) show that post-norm then needs a careful learning-rate warm-up. Treat that as
# the literature's result, not as something this notebook measured.
#
# ## Parallel processing: attention vs a step-by-step RNN
#
# Predict first:

# %%
ak.quiz.ask(
    "A sequence has T tokens. How many steps must run one after the other, for a GRU reading it "
    "(as in lesson 02) and for one self-attention layer?",
    ["T for both: every token has to be visited",
     "T for the GRU, 1 for attention: no position of an attention layer waits for another",
     "1 for the GRU, T for attention: attention compares every pair"],
    answer=1,
    explanation="The GRU's step t needs its state from step t-1, so its T steps form a chain. In an attention "
                "layer every query reads the keys and values of the layer's input, which all exist at once, "
                "so all T queries can be computed together, in a few large matrix products.",
)

# %%
lengths = [16, 32, 64, 128, 256]
print("steps that must run in order, per layer: GRU", lengths, "| attention", [1] * len(lengths))

# %% [markdown]
# What does computing all positions together buy? We time three things for a batch of 16
# sequences of width 64, forward pass only:
# 1. a GRU stepped through time, one position per call (as lesson 02 does);
# 2. attention computed **one query position at a time**, the way a model that must go in order
#    would compute it (the same arithmetic as 3, in $T$ small pieces);
# 3. attention for **all** positions at once.
#
# The gap between 2 and 3 is what doing the positions together buys; the GRU cannot do 3.
# Timings depend on the machine and its load, so this cell's numbers are not compared by the tests.

# %%
# NBVAL_IGNORE_OUTPUT
width = 64
gru = nn.GRU(width, width, batch_first=True)
mha_layer = ak.MultiHeadAttention(width, num_heads)


def best_time(fn, repeats=3):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def gru_step_by_step(seq):  # (B, T, D)
    state = None
    for t in range(seq.shape[1]):  # T calls, each needs the previous state
        _, state = gru(seq[:, t : t + 1], state)  # state: (1, B, D)
    return state


def attention_one_query_at_a_time(q, k, v):  # (B, H, T, Dh) each
    return torch.cat([ak.attention(q[:, :, t : t + 1], k, v)[0] for t in range(q.shape[2])], dim=2)


timings = {"GRU, step by step": [], "attention, one query at a time": [], "attention, all at once": []}
with torch.no_grad():
    for T in lengths:
        seq = torch.randn(16, T, width)  # (B, T, D)
        q, k, v = (mha_layer.split_heads(proj(seq)) for proj in
                   (mha_layer.q_proj, mha_layer.k_proj, mha_layer.v_proj))  # (B, H, T, Dh) each
        timings["GRU, step by step"].append(best_time(lambda s=seq: gru_step_by_step(s)))
        timings["attention, one query at a time"].append(
            best_time(lambda q=q, k=k, v=v: attention_one_query_at_a_time(q, k, v)))
        timings["attention, all at once"].append(best_time(lambda q=q, k=k, v=v: ak.attention(q, k, v)))
for i, T in enumerate(lengths):
    t_gru, t_loop, t_all = (timings[name][i] for name in timings)
    print(f"T={T:4d}: GRU {t_gru * 1e3:6.2f} ms, attention one query at a time {t_loop * 1e3:6.2f} ms, "
          f"all at once {t_all * 1e3:6.2f} ms  (GRU / all {t_gru / t_all:4.1f}x, "
          f"one-at-a-time / all {t_loop / t_all:4.1f}x)")
fig, ax = plt.subplots(figsize=(6, 3.6), layout="constrained")
for (name, values), marker in zip(timings.items(), "o^s"):
    ax.loglog(lengths, [t * 1e3 for t in values], marker + "-", label=name)
ax.set_xlabel("sequence length T")
ax.set_ylabel("time per batch (ms)")
ax.legend(fontsize=8)
ax.set_title("Doing all positions at once vs one after another")
plt.show()

# %% [markdown]
# Computing the same attention one query at a time is many times slower than all at once: the
# hardware is only busy when it gets large products to chew on. The GRU has no choice but to go
# one step at a time, and its time grows in proportion to $T$. Attention does more arithmetic as
# $T$ grows (its score matrix is $T \times T$); on this CPU you can see its curve steepen at the
# longest lengths, where that cost starts to dominate. That quadratic cost, and its fixes, is
# lesson 08.
#
# ## Pitfall: "attention weights are explanations"
#
# Predict first:

# %%
ak.quiz.ask(
    "For one output of the trained sorter, the last layer puts most of its attention on input position j. "
    "Is changing the token at j the change to the input that moves that output the most?",
    ["Yes, always: the weights say which input the output depends on",
     "Often not: the weights show where one layer read from, not what the output depends on"],
    answer=1,
    explanation="The output also depends on earlier layers, which already mixed the positions, on the "
                "residual path, and on the values, not only on the weights. We measure it below.",
)

# %% [markdown]
# For 200 examples and every query position, we compare two rankings of the 8 input positions:
# - **attention**: the last layer's weights, averaged over heads;
# - **effect**: change the token at position $j$ to each of the 9 other digits and measure how far
#   the output distribution at the query moves (total-variation distance, averaged over the 9).

# %%
probe, _ = ak.toy_batch("sort", 200, 8, generator=torch.Generator().manual_seed(7))
with torch.no_grad():
    base_probs = post_model(probe).softmax(-1)  # (B, T, V)
    attn_last = post_model.layers[-1].attn_weights.mean(1)  # (B, Tq, Tk) mean over heads
    effect = torch.zeros(200, 8, 8)  # (B, query, key)
    for j in range(8):
        for shift in range(1, 10):
            changed = probe.clone()
            changed[:, j] = (changed[:, j] + shift) % 10
            moved = 0.5 * (post_model(changed).softmax(-1) - base_probs).abs().sum(-1)  # (B, T)
            effect[:, :, j] += moved / 9
agree = (attn_last.argmax(-1) == effect.argmax(-1)).float().mean().item()
print(f"most-attended key == most influential key for {agree:.1%} of (example, query) pairs")

# %%
mismatch = (attn_last.argmax(-1) != effect.argmax(-1)).nonzero()[0].tolist()
b, q = mismatch
labels = [f"{j}:{t}" for j, t in enumerate(probe[b].tolist())]
fig, axes = plt.subplots(1, 2, figsize=(9, 3), layout="constrained")
for ax, values, title in ((axes[0], attn_last[b, q], "attention weight (last layer)"),
                          (axes[1], effect[b, q], "effect of changing the token")):
    bars = ax.bar(range(8), values.numpy(), color="tab:blue")
    bars[int(values.argmax())].set_color("tab:orange")
    ax.set_xticks(range(8), labels)
    ax.set_title(title, fontsize=10)
fig.suptitle(f"example {b}, query position {q}: input {probe[b].tolist()}", fontsize=10)
print(f"example {b}, query {q}: most attended = position {int(attn_last[b, q].argmax())}, "
      f"most influential = position {int(effect[b, q].argmax())}")

# %% [markdown]
# In a large share of cases, the position that receives the most attention is not the one
# whose change moves the output most. Attention weights tell you where one layer **read** from;
# the output also depends on what earlier layers already mixed into each position, on the
# residual path and on the values. Use them as a hint, then test the hint with an intervention
# (perturb or remove the input, as here), which is what interpretability methods do.
#
# ## Recap
# - An encoder layer = self-attention (mixes positions) + feed-forward (computes per position),
#   each wrapped in a residual connection and a LayerNorm; input and output have the same shape.
# - `ak.TransformerEncoderLayer` equals PyTorch's; `ak.TinyTransformer` stacks it and sorts 8 digits
#   after 200 steps; its last layer learns to look at the digit it must output.
# - Post-norm normalises the residual stream after each block; pre-norm normalises each block's
#   input and lets the stream grow. On this tiny task both learn equally well.
# - Attention computes all positions in one step; an RNN needs $T$ steps in sequence, and doing the
#   positions together was measured many times faster than doing them one by one.
# - Attention weights show where a layer reads, not why the output is what it is: measure effects.
#
# **Next:** lesson 08, the cost of attention as $T$ grows and the fixes.
#
# **Exercises:** open `exercises/07_transformer.ipynb`: a pre-norm residual block and the
# feed-forward block, each with a check that names the typical mistake.
