# %% [markdown]
# # 03 · Basic attention: a learned, weighted average
#
# A model reading *"the cat sat on the mat"* and asked *who sat?* should look at **cat** and
# not much else. Attention is the mechanism that does this: it compares what we are looking
# for (a **query**) with a label on every input (its **key**), turns the match scores into
# weights that sum to one, and returns the weighted average of the inputs' contents (their
# **values**). It is the core operation of every Transformer layer (Vaswani et al., 2017), the
# architecture of GPT-style large language models (Brown et al., 2020), so this lesson takes it
# apart completely.
#
# **You will be able to**
# - compute attention by hand: scores, scaled scores, softmax weights, weighted sum, with shapes;
# - read an attention heatmap and say what a query is looking at;
# - explain what the scale does (an inverse temperature: from a plain average to a hard lookup) and measure it;
# - use `ak.attention` and know it equals PyTorch's `scaled_dot_product_attention`;
# - refute the myth that attention *ignores* the unimportant parts, with numbers.
#
# **Time:** about 35 minutes, plus 15 for the exercises.

# %%
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

import attnkit as ak

ak.seed_everything(0)
torch.set_printoptions(precision=3, sci_mode=False)
print(f"torch {torch.__version__.split('+')[0]}, attnkit {ak.__version__}")

# %% [markdown]
# ## Predict first
# Before any formula: commit to an answer. (In JupyterLab click an option, then **Reveal**.)

# %%
ak.quiz.ask(
    "A query is compared with 6 input words. How are the 6 attention weights distributed?",
    ["All equal: each word gets 1/6",
     "Different: relevant words get more, and they sum to 1",
     "Only the best-matching word gets weight 1, the others exactly 0"],
    answer=1,
    explanation="Softmax turns match scores into positive weights that sum to 1: relevant words get "
                "more, but every word keeps some weight (in exact arithmetic; float32 can round a tiny "
                "weight to exactly 0). Both are measured below.",
)

# %% [markdown]
# ## The idea: query, keys, values
#
# Think of a library. You walk in with a **question** (the query $q$). Every book has a
# **label on its spine** (its key $k_j$) and **contents** (its value $v_j$). You score each label
# against your question, and instead of taking one book you read *all* of them, each in
# proportion to how well its label matched.
#
# 1. **Scores**: how well each key matches the query, a dot product: $s_j = q \cdot k_j$.
# 2. **Scale**: divide by $\sqrt{d_k}$, the key width (lesson 06 shows why; here we just move it).
# 3. **Weights**: a softmax turns scores into positive numbers that sum to one:
#    $$a_j = \frac{e^{s_j/\sqrt{d_k}}}{\sum_{i} e^{s_i/\sqrt{d_k}}}$$
# 4. **Output**: the weighted sum of the values, $o = \sum_j a_j\, v_j$.
#
# With many queries stacked as rows of $Q$ it is one line of linear algebra:
# $$\operatorname{Attention}(Q, K, V) = \operatorname{softmax}\!\Big(\frac{QK^\top}{\sqrt{d_k}}\Big)\,V$$
#
# To see it work we give six words hand-made 4-number descriptions (real models *learn* these;
# lesson 04 does). The four features are: *is an animal*, *is a place/thing*, *is an action*,
# *is a little grammar word*.

# %%
tokens = ["the", "cat", "sat", "on", "the", "mat"]
features = torch.tensor([
    # animal place action grammar
    [0.0, 0.0, 0.0, 1.0],   # the
    [1.0, 0.2, 0.0, 0.0],   # cat
    [0.0, 0.0, 1.0, 0.1],   # sat
    [0.0, 0.3, 0.0, 1.0],   # on
    [0.0, 0.0, 0.0, 1.0],   # the
    [0.1, 1.0, 0.0, 0.0],   # mat
])
keys = 3.0 * features      # labels on the spines: (T, D) = (6, 4)
values = features          # contents: what each word contributes
questions = ["who?", "did what?", "where?"]
queries = 3.0 * torch.tensor([[1.0, 0, 0, 0], [0, 0, 1.0, 0], [0, 1.0, 0, 0]])  # (Tq, D) = (3, 4)
print("keys", tuple(keys.shape), " values", tuple(values.shape), " queries", tuple(queries.shape))

# %% [markdown]
# ### From a loop to a matrix product
# First one query, one key at a time, exactly as the formula reads:

# %%
q = queries[0]                                   # "who?"  (D,)
d_k = keys.shape[-1]
attn_scores = torch.tensor([q @ k for k in keys]) / math.sqrt(d_k)   # (T,)
attn_weights = torch.exp(attn_scores) / torch.exp(attn_scores).sum()  # (T,)
context_vec = sum(a * v for a, v in zip(attn_weights, values))       # (D,)
print("scores ", attn_scores)
print("weights", attn_weights, " sum =", round(attn_weights.sum().item(), 6))
print("output ", context_vec)

# %% [markdown]
# **cat** gets most of the weight, so the output is mostly cat's features. Now all queries at
# once: the loop over keys is a matrix product, the loop over queries is another axis of it.

# %%
attn_scores = queries @ keys.T / math.sqrt(d_k)          # (Tq, Tk) = (3, 6)
attn_weights = torch.softmax(attn_scores, dim=-1)        # (3, 6): each row sums to 1
context_vecs = attn_weights @ values                     # (Tq, D) = (3, 4)
print("scores", tuple(attn_scores.shape), "weights", tuple(attn_weights.shape),
      "outputs", tuple(context_vecs.shape))
print("row sums:", attn_weights.sum(-1))

# %% [markdown]
# The softmax runs over the **keys** (`dim=-1`, along each row): each query distributes one unit
# of attention over the words. Normalising over the other axis is a common bug; exercise 2
# catches it.
#
# ## The picture: an attention heatmap
# One row per query, one column per key; a cell is how much that query reads that word.

# %%
ax = ak.plot_attention(attn_weights, x_labels=tokens, y_labels=questions,
                       title="Attention weights: three questions about one sentence")

# %% [markdown]
# *who?* reads **cat**, *did what?* reads **sat**, *where?* reads **mat**. The two copies of
# *the* get the same weight from every query: identical keys, identical scores. Attention
# knows **what** a word is, not **where** it is; lesson 04 adds positions.
#
# ## Explore: the scale is an inverse temperature
# A softmax with **temperature** $\tau$ divides the scores by $\tau$ before the exponential; its
# **inverse temperature** $\beta = 1/\tau$ multiplies them. The explorer multiplies the usual
# scaled scores by $\beta$: weights $= \operatorname{softmax}(\beta\, q \cdot k_j / \sqrt{d_k})$, so
# $\beta = 1$ is ordinary attention. (Not to be confused with `ak.attention(..., scale=s)`, whose
# `scale` **replaces** $1/\sqrt{d_k}$: a given $\beta$ here is `scale=β/√d_k` there.)
# Pick a query and move $\beta$. Small $\beta$ (high temperature): the scores shrink, the softmax
# flattens, the output tends to a plain **average** of the values. Large $\beta$ (low temperature):
# the softmax sharpens to a **hard lookup** of the best key.

# %%
ak.widgets.attention_explorer(tokens, queries, keys, query_labels=questions)

# %% [markdown]
# The same explorer, frozen at three settings of $\beta$ for the question *who?*
# (this is what a PDF or GitHub shows):

# %%
fig, axes = plt.subplots(1, 3, figsize=(14, 3.2), layout="constrained", sharey=True)
for ax, beta in zip(axes, [0.1, 1.0, 10.0]):
    ak.widgets.draw_attention_row(tokens, queries, keys, query_index=0, beta=beta,
                                  query_labels=questions, ax=ax)

# %% [markdown]
# Measured at the two extremes, now with `ak.attention`'s own `scale` (it replaces $1/\sqrt{d_k}$):
# at `scale=0` the output *is* the mean of the values, and at a very large scale it *is* cat's value.

# %%
out_flat, _ = ak.attention(queries[:1], keys, values, scale=0.0)
out_sharp, w_sharp = ak.attention(queries[:1], keys, values, scale=1000.0)
print("scale 0    == mean of values:", torch.allclose(out_flat[0], values.mean(0)))
print("scale 1000 == value of 'cat': ", torch.allclose(out_sharp[0], values[1]))
print("scale 1000 weights:", w_sharp[0].tolist(), "| exactly zero:", int((w_sharp == 0).sum()), "of 6")

# %% [markdown]
# This is the *connection to statistics*: attention is a **weighted mean** whose weights are
# computed from the data, the same form as Nadaraya–Watson kernel regression (1964) with the
# kernel $e^{\beta\, q \cdot k / \sqrt{d_k}}$. The inverse temperature decides how far it sits
# between "average everything" and "pick one".
#
# ## The package version, checked against PyTorch
# `ak.attention(query, key, value, mask=None, scale=None)` is the same computation for any
# batch shape, with masks, and it returns the weights too (PyTorch's
# `torch.nn.functional.scaled_dot_product_attention` does not, which is why we keep our own for
# plotting). The two must agree. PyTorch's function picks one of several implementations; the cell
# runs it inside `sdpa_kernel(SDPBackend.FLASH_ATTENTION)`, which allows only its fused "flash"
# kernel (for CPU tensors, its CPU version) and raises an error if that kernel cannot take the
# inputs, so the comparison below is against the fused kernel. That kernel needs values as wide as
# the queries and keys, hence `v` of width 16 here.

# %%
g = torch.Generator().manual_seed(3)
q, k, v = (torch.randn(2, 8, 5, 16, generator=g),   # (B, H, Tq, D)
           torch.randn(2, 8, 7, 16, generator=g),   # (B, H, Tk, D)
           torch.randn(2, 8, 7, 16, generator=g))   # (B, H, Tk, Dv), Dv = D for the fused kernel
mask = torch.rand(5, 7, generator=g) > 0.3            # (Tq, Tk), True = may attend
mask[2] = False                                      # query 2 may attend to nothing
ours, weights = ak.attention(q, k, v, mask=mask)     # (B, H, Tq, Dv), (B, H, Tq, Tk)
with sdpa_kernel(SDPBackend.FLASH_ATTENTION):        # the fused kernel only, or a RuntimeError
    theirs = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
print("output", tuple(ours.shape), "weights", tuple(weights.shape))
print("equal to PyTorch's fused kernel (largest difference below 1e-6):",
      (ours - theirs).abs().max().item() < 1e-6)
print("fully masked query -> zero weights and output:",
      bool((weights[..., 2, :] == 0).all() and (ours[..., 2, :] == 0).all()))

# %% [markdown]
# **The mask rule** used everywhere in this course (and by PyTorch's SDPA): a boolean mask is
# `True` where a query **may** attend; a float mask is *added* to the scores (`-inf` removes a
# key). PyTorch's `nn.MultiheadAttention` uses the *opposite* boolean convention: lesson 05
# shows the bug that causes.
#
# ## Myth: "attention ignores the unimportant parts"
# Predict first:

# %%
ak.quiz.ask(
    "For the query 'who?', the least-attended word gets about 1% of the weight. "
    "Does changing that word's value still change the output?",
    ["No: its weight is effectively zero, so it is ignored",
     "Yes: its weight is small but not zero, so its value still moves the output"],
    answer=1,
    explanation="In exact arithmetic softmax weights are never zero (unless masked), and this 1% is far "
                "from float32's limits. Every value contributes in proportion to its weight: "
                "measured below.",
)

# %%
out, w = ak.attention(queries, keys, values)
who = w[0]
print("weights for 'who?':", [f"{t}={x:.4f}" for t, x in zip(tokens, who.tolist())])
print("smallest weight:", f"{who.min().item():.2e}", "| weight outside 'cat':",
      round(1 - who.max().item(), 3))
# Perturb the value of the least-attended word and measure how far the output moves.
j = int(who.argmin())
changed = values.clone()
changed[j] += 10.0
out_changed, _ = ak.attention(queries, keys, changed)
shift = (out_changed[0] - out[0]).norm().item()
predicted = (10.0 * who[j] * torch.ones(4).norm()).item()
print(f"moving '{tokens[j]}' by 10 per feature shifts the output by {shift:.4f} "
      f"(weight x change = {predicted:.4f})")

# %% [markdown]
# Every word received a positive weight, and a change to the least-attended word moved the
# output by *its weight × the change* (to the four printed decimals; exactly so in exact
# arithmetic, since the weights do not depend on the values). Attention **down-weights**; it does
# not ignore. (Myth busted by measurement, not by assertion.)
#
# Two things do remove a word entirely: a **mask**, and **float32 underflow**. In exact
# arithmetic a softmax weight $e^{-g}/\sum\dots$ is never zero, however large the score gap $g$ to
# the best key; in float32, $e^{-g}$ stops being representable. The `scale=1000` cell above had
# exact zeros for that reason. At which gap does it happen? Two keys, the second $g$ below the first:
#
# %%
gaps = torch.arange(80.0, 110.0, 0.01)                              # score gap g to the best key
two_keys = torch.stack([torch.zeros_like(gaps), -gaps], dim=-1)     # (N, 2): scores 0 and -g
small = torch.softmax(two_keys, dim=-1)[:, 1]                       # (N,): the smaller weight
smallest_normal = torch.finfo(torch.float32).tiny
print(f"float32 weight leaves the normal range (< {smallest_normal:.2e}) at a gap of "
      f"{gaps[small < smallest_normal][0].item():.1f}")
print(f"float32 weight is exactly 0 from a gap of {gaps[small == 0][0].item():.1f} on "
      f"(ak.softmax: {gaps[ak.softmax(two_keys)[:, 1] == 0][0].item():.1f})")

# %% [markdown]
# Past a gap of about 87 the weight is a subnormal number (it keeps fewer significant bits), and
# past about 104 it is exactly 0: the word is then ignored, by rounding and not by design. Such
# gaps are far from the ones in this sentence, but not from the `scale=1000` case above.
#
# ## Pitfall: softmax overflows without the max trick
# `exp(1000)` is infinite in float32. Large scores happen (unscaled dot products in wide
# models, lesson 06), and the textbook formula then returns NaN:

# %%
big = torch.tensor([1000.0, 999.0, 998.0])
naive = torch.exp(big) / torch.exp(big).sum()
print("naive exp/sum:", naive)
print("ak.softmax:   ", ak.softmax(big))
print("torch.softmax:", torch.softmax(big, dim=-1))

# %% [markdown]
# Subtracting the row maximum first changes nothing mathematically (it cancels in the ratio)
# but keeps every exponent at most 0. `ak.softmax` does that, and also returns zeros (not NaN)
# for a row that is entirely `-inf`, the case of a query with nothing it may attend to.
#
# Half precision needs one more precaution. float16's largest finite value is 65504, so the scores of
# moderately large vectors can overflow to `inf` before any scale is applied. For float16 and bfloat16
# inputs, `ak.attention` therefore computes the scores, the softmax and the weighted sum in float32 and
# rounds once at the end. The course's tests (`tests/test_precision.py`) compare both with a float64
# computation from the same rounded inputs: `ak.attention`'s error is no larger than that of PyTorch's
# `scaled_dot_product_attention` in the same dtype, give or take half the dtype's machine epsilon
# (`torch.finfo(dtype).eps`, times the output's largest magnitude when that exceeds 1).
#
# ## Recap
# - Attention = **scores** (query · key) → **scale** → **softmax** over the keys → **weighted sum**
#   of the values. Shapes: $(T_q, D) \times (T_k, D) \to (T_q, T_k) \to (T_q, D_v)$.
# - The weights are positive and sum to one per query: nothing is ignored, only down-weighted
#   (until a score gap of about 104, where float32 rounds a weight to exactly 0, or a mask).
# - The scale is an inverse temperature: it slides attention between "average all" and "pick one".
# - `ak.attention` returns the weights for plotting and equals PyTorch's `scaled_dot_product_attention`
#   (checked here against its fused CPU kernel, to within 1e-6).
#
# **Next:** lesson 04, where queries, keys and values are *learned* from the sentence itself.
#
# **Exercises:** open `my-work/03_basic_attention.ipynb`: write a stable softmax, the attention
# weights and attention itself; each check cell tells you what differs.

# %% [markdown]
# ## References
# - Vaswani, A., Shazeer, N., Parmar, N., Uszkoreit, J., Jones, L., Gomez, A. N., Kaiser, Ł. &
#   Polosukhin, I. (2017). *Attention is all you need.* NeurIPS 2017. (Scaled dot-product attention.)
# - Brown, T. B., Mann, B., Ryder, N., Subbiah, M., Kaplan, J., Dhariwal, P., et al. (2020).
#   *Language models are few-shot learners.* NeurIPS 2020. (GPT-3, a Transformer decoder.)
# - Bahdanau, D., Cho, K. & Bengio, Y. (2015). *Neural machine translation by jointly learning to
#   align and translate.* ICLR 2015. (Attention as a learned weighted average.)
# - Nadaraya, E. A. (1964). *On estimating regression.* Theory of Probability and Its
#   Applications 9(1); Watson, G. S. (1964). *Smooth regression analysis.* Sankhyā A 26(4).
# - IEEE (2019). *IEEE Standard for Floating-Point Arithmetic (IEEE 754-2019).* (float32's normal
#   and subnormal ranges.)
