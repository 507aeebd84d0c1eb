# %% [markdown]
# # 05 · Multi-head attention: several questions at once
#
# One attention head gives each token one weighted average: one question asked of the sequence.
# But a token often needs several things at once: *which word came just before me?*, *what was
# the subject?*, *where does this clause start?* Multi-head attention runs several small heads
# side by side, each with its own queries, keys and values, and concatenates their answers. This
# lesson takes the reshapes apart (they hide the most common bug in attention code), checks our
# layer against PyTorch's, and then trains a tiny model to see whether the heads really learn
# different things or just repeat each other.
#
# **You will be able to**
# - split a `(B, T, D)` tensor into `H` heads of width `D / H` and merge them back, with every shape;
# - use `ak.MultiHeadAttention`, match it to `nn.MultiheadAttention`, and avoid the opposite mask convention;
# - train 1-, 2- and 4-head models on a task that needs two relations, read each head's map,
#   measure how different the heads are and what switching each one off costs;
# - explain when heads *are* redundant, and what head-pruning studies of trained Transformers found.
#
# **Time:** about 50 minutes, plus 15 for the exercises.

# %%
import torch
from IPython.display import display
from torch import nn

import attnkit as ak

ak.seed_everything(0)
torch.set_num_threads(1)  # the models here are tiny: a second thread costs more than it saves
torch.set_printoptions(precision=3, sci_mode=False)
print(f"torch {torch.__version__.split('+')[0]}, attnkit {ak.__version__}")

# %% [markdown]
# ## Predict first

# %%
ak.quiz.ask(
    "A layer has d_model = 8 and 2 heads. Compared with one head of width 8, how many numbers "
    "does each head's query for one token have, and how many attention maps does the layer make?",
    ["8 numbers, 1 map", "4 numbers, 2 maps", "8 numbers, 2 maps", "16 numbers, 2 maps"],
    answer=1,
    explanation="The width is split, not copied: each head works in d_model / H = 4 dimensions and "
                "makes its own T x T map. Same parameters and the same matrix-multiply work as one "
                "head of width 8, H different questions.",
)

# %% [markdown]
# ## Split into heads, attend, merge back
#
# With $H$ heads of width $D_h = D/H$, head $h$ uses its own slice of the projections:
#
# $$\operatorname{head}_h = \operatorname{softmax}\!\Big(\frac{Q_h K_h^\top}{\sqrt{D_h}}\Big)V_h,
#   \qquad \operatorname{MHA}(X) = \operatorname{concat}(\operatorname{head}_1, \dots, \operatorname{head}_H)\,W_o$$
#
# In code nobody loops over heads: one big projection makes all heads' queries at once
# (`(B, T, D)`), and a reshape plus a transpose turns the feature axis into a head axis. We do it
# by hand with the weights of an `ak.MultiHeadAttention` layer, printing every shape.

# %%
B, T, D, H = 2, 5, 8, 2
mha = ak.MultiHeadAttention(d_model=D, num_heads=H).eval()
x = torch.randn(B, T, D)
Dh = D // H
with torch.no_grad():
    q = mha.q_proj(x)                                     # (B, T, D)
    print("projected       ", tuple(q.shape), "(B, T, D)")
    q = q.view(B, T, H, Dh)                               # (B, T, H, Dh): cut the features into H slices
    print("view            ", tuple(q.shape), "(B, T, H, Dh)")
    q = q.transpose(1, 2)                                 # (B, H, T, Dh): heads become a batch axis
    print("transpose(1, 2) ", tuple(q.shape), "(B, H, T, Dh)")
    k = mha.k_proj(x).view(B, T, H, Dh).transpose(1, 2)   # (B, H, T, Dh)
    v = mha.v_proj(x).view(B, T, H, Dh).transpose(1, 2)   # (B, H, T, Dh)
    context, attn_weights = ak.attention(q, k, v)         # (B, H, T, Dh), (B, H, T, T)
    print("per-head output ", tuple(context.shape), "(B, H, T, Dh);  weights", tuple(attn_weights.shape))
    merged = context.transpose(1, 2)                      # (B, T, H, Dh)
    print("transpose back  ", tuple(merged.shape), "(B, T, H, Dh)")
    merged = merged.reshape(B, T, D)                      # (B, T, D): heads side by side
    print("reshape         ", tuple(merged.shape), "(B, T, D)")
    by_hand = mha.out_proj(merged)                        # (B, T, D): W_o mixes the heads
    layer_out, layer_weights = mha(x, x, x)
print("by hand vs ak.MultiHeadAttention: max abs diff", round((by_hand - layer_out).abs().max().item(), 6))

# %% [markdown]
# ### Pitfall: `view(B, H, T, Dh)` without the transpose
# The shapes `(B, T, D)` and `(B, H, T, Dh)` hold the same number of elements, so
# `x.view(B, H, T, Dh)` runs without complaint. It is wrong. To see why, fill a tensor so that each
# entry says where it came from: `100 * position + feature`.

# %%
labelled = (100 * torch.arange(T)[:, None] + torch.arange(D)[None, :]).float()[None]  # (1, T, D)
right = labelled.view(1, T, H, Dh).transpose(1, 2)    # (1, H, T, Dh)
wrong = labelled.view(1, H, T, Dh)                    # (1, H, T, Dh), same shape!
print("right, head 0 (rows = positions):\n", right[0, 0].int())
print("wrong, head 0 (rows = ?):\n", wrong[0, 0].int())
print("wrong, head 1 (rows = ?):\n", wrong[0, 1].int())

# %% [markdown]
# In the right split, head 0 holds features 0 to 3 of **every** position. In the wrong one, its
# "position 1" row is features 4 to 7 of position 0, and positions 3 and 4 are missing entirely:
# the head sees a scrambled sequence. Head 1 is worse: its rows "position 0" and "position 1" hold
# features of positions 2 and 3, so in a causal model the first positions would read later
# tokens. The output has the right shape and the wrong values, so nothing crashes. Exercise 1 has
# a checker that recognises this bug.
#
# ## Checked against PyTorch, and the opposite mask convention
# `from_torch` copies the weights of PyTorch's `nn.MultiheadAttention` into our layer.

# %%
torch_mha = nn.MultiheadAttention(D, H, batch_first=True).eval()
ours = ak.MultiHeadAttention.from_torch(torch_mha).eval()
with torch.no_grad():
    torch_out, torch_weights = torch_mha(x, x, x, average_attn_weights=False)
    our_out, our_weights = ours(x, x, x)
print("outputs: max abs diff", round((torch_out - our_out).abs().max().item(), 6))
print("weights: max abs diff", round((torch_weights - our_weights).abs().max().item(), 6))

# %% [markdown]
# Now a causal mask. attnkit follows `scaled_dot_product_attention`: a boolean mask is **True
# where a query may attend**. `nn.MultiheadAttention` reads a boolean `attn_mask` the other way
# round: **True where it may not**. Hand it our mask and it does the opposite of what you meant.

# %%
causal = ak.causal_mask(T)                                 # True on and below the diagonal = may attend
with torch.no_grad():
    our_out, our_weights = ours(x, x, x, mask=causal)
    naive_out, naive_weights = torch_mha(x, x, x, attn_mask=causal, average_attn_weights=False)
    fixed_out, fixed_weights = torch_mha(x, x, x, attn_mask=~causal, average_attn_weights=False)
print("our causal weights, example 0, head 0:\n", our_weights[0, 0])
print("nn.MultiheadAttention given the same mask:\n", naive_weights[0, 0])
print("same mask: output has NaN:", bool(naive_out.isnan().any()),
      "| weight above the diagonal:", round(naive_weights[0, 0].triu(1).nansum().item(), 3))
print("inverted mask (~causal): max abs diff", round((fixed_out - our_out).abs().max().item(), 6))

# %% [markdown]
# With our mask, PyTorch's layer lets each token look **only at the future**, and the last token,
# with no future, gets no keys at all: NaN. Invert the mask (`~causal`) and the two layers agree.
# When you move code between the two conventions, invert the boolean mask (or use a float mask of
# `0` and `-inf`, which both read the same way).
#
# ## Myth: "the heads are redundant"
#
# Do different heads learn different things, or is multi-head attention one head copied $H$
# times? We test it on a task that needs **two different relations**. At every position a causal
# model must output two tokens: the **previous** token and the **first** token of the sequence
# (`ak.two_relations_batch`). A head that looks one step back can do the first; a head that looks
# at position 0 can do the second. One head has a single row of weights per query, summing to 1:
# to serve both relations it has to split that row between the two positions. Does it manage? We
# train one, two and four heads the same way and compare.

# %%
x_demo, y_demo = ak.two_relations_batch(1, 8, vocab_size=16, generator=torch.Generator().manual_seed(0))
print("tokens          ", x_demo[0].tolist())
print("previous token  ", y_demo[0, :, 0].tolist(), "  (-100 = nothing to predict)")
print("first token     ", y_demo[0, :, 1].tolist())

# %%
ak.quiz.ask(
    "A 2-head model learns this task perfectly. You switch off (ablate) one of its heads. "
    "What happens to the accuracy on the two outputs?",
    ["Nothing: the other head covers for it",
     "Both outputs get a little worse",
     "One output stays perfect, the other falls to chance"],
    answer=2,
    explanation="If the heads specialise, each output depends on one head only. We measure it below, "
                "on three seeds.",
)

# %% [markdown]
# The model, `ak.AttentionOnlyModel`, is as small as it gets: token embeddings plus learned
# position embeddings, **one** causal `ak.MultiHeadAttention` layer with a residual, and a linear
# read-out with two predictions per position. No MLP: apart from the current token and its position,
# which the residual carries straight to the read-out, everything the model knows arrives through
# the heads.
# `head_mask` multiplies each head's output: a `0` ablates that head. Every model below, whatever
# its number of heads, has the same width (64), trains for the same 120 steps with Adam (lr 3e-3)
# on 3 seeds, and is measured on 1,000 fresh sequences, from position 2 on (at position 1 the
# previous token *is* the first token, so it cannot tell the relations apart).

# %%
VOCAB, LENGTH, STEPS = 16, 12, 120


def train_model(num_heads, seed):
    ak.seed_everything(seed)
    model = ak.AttentionOnlyModel(VOCAB, d_model=64, num_heads=num_heads, max_len=LENGTH)
    ak.train(model, lambda g: ak.two_relations_batch(64, LENGTH, VOCAB, generator=g),
             lambda m, batch: m.loss(*batch), steps=STEPS, lr=3e-3, seed=seed,
             desc=f"{num_heads} heads, seed {seed}")
    return model


x_test, y_test = ak.two_relations_batch(1000, LENGTH, VOCAB, generator=torch.Generator().manual_seed(123))
y_test[:, :2] = -100                                   # score positions 2.. only
later = torch.arange(2, LENGTH)


def head_roles(model):
    """Mean weight each head puts on the previous position and on position 0: (H,), (H,)."""
    with torch.no_grad():  # evaluation only: no graph to keep
        model(x_test)
    w = model.attn_weights[:, 0]                       # (B, H, T, T), layer 0
    return w[:, :, later, later - 1].mean((0, 2)), w[:, :, later, 0].mean((0, 2))


def head_distance(model):
    """(H, H) total-variation distance between heads' attention rows: 0 same, 1 disjoint."""
    with torch.no_grad():
        model(x_test)
    w = model.attn_weights[:, 0][:, :, later]          # (B, H, T-2, T)
    return 0.5 * (w[:, :, None] - w[:, None, :]).abs().sum(-1).mean((0, 3))


def ablation_accuracy(model, heads_off):
    """Accuracy (previous, first) with the heads in `heads_off` switched off."""
    head_mask = torch.ones(model.num_heads)
    head_mask[list(heads_off)] = 0.0
    return model.accuracy(x_test, y_test, head_mask=head_mask)


print(f"chance accuracy: 1/{VOCAB} = {1 / VOCAB:.3f}")

# %% [markdown]
# ### One head: the baseline

# %%
one_head_models = [train_model(1, seed) for seed in range(3)]
for seed, model in enumerate(one_head_models):
    on_prev, on_first = head_roles(model)
    acc = model.accuracy(x_test, y_test)
    print(f"seed {seed}: after {STEPS} steps accuracy (previous, first) = ({acc[0]:.2f}, {acc[1]:.2f})"
          f" | weight on previous {on_prev[0]:.2f}, on first {on_first[0]:.2f}")

# %% [markdown]
# With the same 120 steps, one head solves the task on no seed. On two seeds it splits its weight
# about evenly between the previous position and position 0, and neither relation is solved yet.
# On the third (seed 0) it puts all its weight on position 0: *first* is perfect and *previous* is
# at chance. Is it a
# matter of time? We train the same three models for 240 more steps, three times the budget in
# all (a fresh Adam and new batches; the multi-head models below need only the first 120).

# %%
EXTRA = 240
for seed, model in enumerate(one_head_models):
    ak.train(model, lambda g: ak.two_relations_batch(64, LENGTH, VOCAB, generator=g),
             lambda m, batch: m.loss(*batch), steps=EXTRA, lr=3e-3, seed=100 + seed,
             desc=f"1 head, seed {seed}, {EXTRA} more steps")
    on_prev, on_first = head_roles(model)
    acc = model.accuracy(x_test, y_test)
    print(f"seed {seed}: after {STEPS + EXTRA} steps accuracy (previous, first) = ({acc[0]:.2f}, {acc[1]:.2f})"
          f" | weight on previous {on_prev[0]:.2f}, on first {on_first[0]:.2f}")

# %% [markdown]
# The two seeds that split their weight climb above 0.9 on both relations, but not to 1, even
# with three times the steps; seed 0 is stuck where it was, all its weight still on position 0
# and *previous* still at chance. So one head is **worse and slower**, and on some seeds stuck; it is not *unable*
# (nothing in this experiment rules out a long run or another seed reaching 1.0). The
# comparison that matters is with the same budget: the next two experiments.
#
# ### Two heads, three seeds

# %%
two_head_models = [train_model(2, seed) for seed in range(3)]
for seed, model in enumerate(two_head_models):
    on_prev, on_first = head_roles(model)
    print(f"seed {seed}: accuracy (previous, first) = {[round(a, 2) for a in model.accuracy(x_test, y_test).tolist()]}")
    for h in range(2):
        acc = ablation_accuracy(model, [h])
        print(f"   head {h}: weight on previous {on_prev[h]:.2f}, on first {on_first[h]:.2f}"
              f" | head {h} ablated -> previous {acc[0]:.2f}, first {acc[1]:.2f}")
    print(f"   distance between the two heads: {head_distance(model)[0, 1]:.2f}")

# %% [markdown]
# On all three seeds the two heads split the work: one puts nearly all its weight on the previous
# position, the other on position 0, and the distance between their attention rows is close to
# the maximum of 1. Switch one off and *its* relation falls to chance while the other stays
# perfect. Which head takes which job changes with the seed; that they split does not. Here are
# the two maps of seed 0 on one test sequence:

# %%
model = two_head_models[0]
model(x_test[:1])
labels = [f"{i}:{t}" for i, t in enumerate(x_test[0].tolist())]   # position:token
on_prev, on_first = head_roles(model)
axes = ak.plot.plot_heads(model.attn_weights[0, 0], labels,
                          titles=[f"head {h}: prev {on_prev[h]:.2f}, first {on_first[h]:.2f}" for h in range(2)])

# %% [markdown]
# ### Four heads for two relations
# Give the model more heads than the task has relations and train it the same way.

# %%
four_head_models = [train_model(4, seed) for seed in range(3)]
for seed, model in enumerate(four_head_models):
    on_prev, on_first = head_roles(model)
    roles = ["previous" if p > f else "first" for p, f in zip(on_prev, on_first)]
    singles = [ablation_accuracy(model, [h]) for h in range(4)]
    print(f"seed {seed}: accuracy (previous, first) = {[round(a, 2) for a in model.accuracy(x_test, y_test).tolist()]}")
    print("   head roles:", roles)
    print("   one head ablated, accuracy of its own relation:",
          [round(acc[0 if r == "previous" else 1].item(), 2) for acc, r in zip(singles, roles)])
    for role, out in (("previous", 0), ("first", 1)):
        team = [h for h, r in enumerate(roles) if r == role]
        print(f"   all {role}-heads {team} ablated -> {role} accuracy {ablation_accuracy(model, team)[out]:.2f}")
    print("   head distances:", [[f"{d:.2f}" for d in row] for row in head_distance(model).tolist()])

# %% [markdown]
# Now the heads pair up: on every seed two heads do *previous* and two do *first*, and heads with
# the same job sit at a distance of at most 0.02 from each other (1.00 from the others). Switching
# off one head of a pair costs its relation between 0 and 28 points of accuracy, because its twin
# still points at the right token (the pair shared the work, so one alone gives a weaker signal);
# switching off the whole pair sends the relation to chance, 0.06.
#
# So both halves of the story are true in this model, and the measurement says when: **heads
# specialise when the task needs different relations**, and **heads beyond what the task needs
# duplicate each other**.
#
# What about large trained models? Two studies of 2019 pruned heads of trained Transformers.
# Michel, Levy & Neubig removed heads at test time, without retraining, from machine-translation
# models and BERT: most heads could be removed one at a time without a significant loss, many
# layers could be cut down to a single head, and pruning greedily across the whole network removed
# a large share of heads before the score dropped (but not most of them), with encoder-decoder
# attention the most dependent on having many heads. Voita et al. looked at which heads matter in
# a translation encoder: the important ones had clear, specialised roles (*positional* heads that
# look at a neighbouring token, *syntactic* heads that follow a dependency relation, and a head
# that looks at rare words), and when they pruned heads with a learned gate, these specialised
# heads were the last to go; on English-Russian, 38 of 48 encoder heads could be pruned for a
# drop of 0.15 BLEU. Heads that are removable are not always duplicates (some may just do
# little), but the picture matches our toy: a few heads doing distinct jobs carry the model.
#
# ### Explore the heads
# Pick a layer and a head of the 4-head model (seed 0) on one test sequence. This model has a
# single layer; the explorer also takes the weights of an `ak.AttentionOnlyModel` built with
# `num_layers > 1`. (Live in JupyterLab; below it the same drawing for head 0, then all four side
# by side.)

# %%
model = four_head_models[0]
model(x_test[:1])
ak.widgets.head_explorer(model.attn_weights[0], labels)

# %%
display(ak.widgets.draw_head_attention(model.attn_weights[0], labels, layer=0, head=0))
axes = ak.plot.plot_heads(model.attn_weights[0, 0], labels)

# %% [markdown]
# ## Recap
# - Multi-head attention cuts the width into $H$ heads: `view(B, T, H, Dh)` then `transpose(1, 2)`
#   to split, `transpose(1, 2)` then `reshape(B, T, D)` to merge, and `W_o` mixes the heads.
#   `view(B, H, T, Dh)` without the transpose runs and is wrong.
# - `ak.MultiHeadAttention` equals `nn.MultiheadAttention` (max abs diff 0 to six decimals), but
#   PyTorch's boolean `attn_mask` means **True = not allowed**: invert ours with `~mask`.
# - One head, with the same width, lr and steps, did worse and learned slower: it split its weight
#   between the two positions (2 seeds) or settled on one and left the other relation at chance
#   (1 seed); three times the steps brought the two splitting seeds above 0.9, not to 1.
# - Heads are not redundant when the task needs several relations: on 3 of 3 seeds the 2-head model
#   split *previous* and *first* between its heads, and ablating one sent its relation to chance.
#   With 4 heads for 2 relations, heads duplicated each other and single ablations cost less.
# - In trained Transformers many heads can be pruned with little loss (Michel et al. 2019); in a
#   translation encoder, the heads that survived pruning longest were the specialised ones
#   (Voita et al. 2019).
#
# **Exercises:** `my-work/05_multi_head_attention.ipynb`: write `split_heads` and `merge_heads`.
# Next, lesson 06: why the scores are divided by $\sqrt{d_k}$.
#
# ## References
# - Vaswani, A., et al. (2017). *Attention Is All You Need*. NeurIPS. (Multi-head attention.)
# - Michel, P., Levy, O., & Neubig, G. (2019). *Are Sixteen Heads Really Better than One?*
#   NeurIPS.
# - Voita, E., Talbot, D., Moiseev, F., Sennrich, R., & Titov, I. (2019). *Analyzing Multi-Head
#   Self-Attention: Specialized Heads Do the Heavy Lifting, the Rest Can Be Pruned*. ACL.
# - PyTorch documentation, `torch.nn.MultiheadAttention` (`attn_mask`: a boolean `True` means
#   *not* allowed to attend).
