# %% [markdown]
# # 06 · Scaled dot-product attention: why divide by $\sqrt{d_k}$?
#
# Every attention layer divides its scores by $\sqrt{d_k}$ before the softmax. It looks like a
# cosmetic constant, and the seed's myth says it is one: *"scaling is a minor detail and can be
# skipped"*. This lesson measures what the constant does. Without it, the scores grow with the
# width of the keys, the softmax turns into a hard one-hot choice, and the gradient that should
# teach the queries and keys shrinks towards zero. We measure each of these three links, then
# train the same tiny model with and without the scale.
#
# **You will be able to**
# - derive and measure that $\operatorname{Var}(q \cdot k) = d_k$ for unit-variance entries;
# - measure how the softmax saturates (entropy of the weights) as $d_k$ grows, scaled and unscaled;
# - measure with autograd how the gradient through a saturated softmax vanishes;
# - say honestly what skipping the scale costs in training: slower and less reliable learning.
#
# **Time:** about 20 minutes, plus 15 for the exercises.

# %%
import math

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
    "Queries and keys have d_k independent entries, each with mean 0 and variance 1. "
    "You go from d_k = 16 to d_k = 256. What happens to the typical size (standard deviation) "
    "of a dot product q·k?",
    ["It stays about the same: the entries are normalised",
     "It grows 4 times (the square root of 16 times more terms)",
     "It grows 16 times (16 times more terms)"],
    answer=1,
    explanation="q·k is a sum of d_k independent products, each of variance 1, so its variance is d_k "
                "and its standard deviation is sqrt(d_k): sqrt(256 / 16) = 4. Measured below.",
)

# %% [markdown]
# ## 1. The variance of $q \cdot k$ grows with $d_k$
#
# Take $q, k \in \mathbb{R}^{d_k}$ with independent entries of mean 0 and variance 1. Each product
# $q_i k_i$ has mean 0 and variance $\mathbb{E}[q_i^2]\,\mathbb{E}[k_i^2] = 1$, and the $d_k$
# products are independent, so
# $$\operatorname{Var}(q\cdot k) = \sum_{i=1}^{d_k} \operatorname{Var}(q_i k_i) = d_k,
# \qquad \operatorname{Var}\!\Big(\frac{q\cdot k}{\sqrt{d_k}}\Big) = 1 .$$
# Dividing by $\sqrt{d_k}$ (the standard deviation), not by $d_k$, is what brings the variance back to 1.
# We measure both on 20,000 random pairs per width:

# %%
g = torch.Generator().manual_seed(0)
widths = [4, 16, 64, 256, 1024]
measured_var, scaled_var = [], []
for d_k in widths:
    q = torch.randn(20_000, d_k, generator=g)  # (N, d_k)
    k = torch.randn(20_000, d_k, generator=g)  # (N, d_k)
    dots = (q * k).sum(-1)  # (N,) one dot product per pair
    measured_var.append(dots.var().item())
    scaled_var.append((dots / math.sqrt(d_k)).var().item())
for d_k, v, s in zip(widths, measured_var, scaled_var):
    print(f"d_k={d_k:5d}  Var(q.k)={v:8.1f} (theory {d_k:5d})   Var(q.k/sqrt(d_k))={s:.2f}")

# %%
fig, ax = plt.subplots(figsize=(5.5, 3.5), layout="constrained")
ax.loglog(widths, widths, "k--", label="theory: $d_k$")
ax.loglog(widths, measured_var, "o", color="tab:red", label="measured, unscaled")
ax.loglog(widths, scaled_var, "s", color="tab:blue", label=r"measured, divided by $\sqrt{d_k}$")
ax.set_xlabel("$d_k$")
ax.set_ylabel("variance of the score")
ax.legend(fontsize=8)
ax.set_title("Unscaled scores spread out as d_k grows; scaled ones stay at 1")
plt.show()

# %% [markdown]
# ## 2. Big scores saturate the softmax
#
# The softmax only cares about **differences** between scores. With a spread of $\sqrt{d_k}$,
# the largest score of a row soon beats the runner-up by many units, and $e^{\text{gap}}$ makes
# its weight close to 1: the softmax turns into an arg-max. The **entropy** of a row of weights,
# $H(a) = -\sum_j a_j \log a_j$, measures this: $\log T$ for uniform weights over $T$ keys, 0 for a
# one-hot row. We measure it for 16 keys, averaged over 500 queries:

# %%
def mean_entropy(attn_weights):
    """Mean over queries of -sum_j a_j log a_j (0 log 0 counts as 0)."""
    return -torch.xlogy(attn_weights, attn_weights).sum(-1).mean().item()


num_keys = 16
entropy_unscaled, entropy_scaled, max_weight_unscaled = [], [], []
for d_k in widths:
    q = torch.randn(500, d_k, generator=g)  # (Tq, d_k)
    k = torch.randn(num_keys, d_k, generator=g)  # (Tk, d_k)
    attn_scores = q @ k.T  # (Tq, Tk)
    weights_unscaled = torch.softmax(attn_scores, dim=-1)
    weights_scaled = torch.softmax(attn_scores / math.sqrt(d_k), dim=-1)
    entropy_unscaled.append(mean_entropy(weights_unscaled))
    entropy_scaled.append(mean_entropy(weights_scaled))
    max_weight_unscaled.append(weights_unscaled.max(-1).values.mean().item())
print(f"uniform over {num_keys} keys: entropy log({num_keys}) = {math.log(num_keys):.2f} nats")
for d_k, hu, hs, mx in zip(widths, entropy_unscaled, entropy_scaled, max_weight_unscaled):
    print(f"d_k={d_k:5d}  entropy unscaled {hu:.2f}, scaled {hs:.2f}   "
          f"(unscaled: mean largest weight {mx:.2f})")

# %%
fig, ax = plt.subplots(figsize=(5.5, 3.5), layout="constrained")
ax.semilogx(widths, entropy_unscaled, "o-", color="tab:red", label="unscaled")
ax.semilogx(widths, entropy_scaled, "s-", color="tab:blue", label=r"scaled by $1/\sqrt{d_k}$")
ax.axhline(math.log(num_keys), color="gray", ls=":", label="uniform (log 16)")
ax.set_xlabel("$d_k$")
ax.set_ylabel("entropy of the weights (nats)")
ax.set_ylim(0, 3)
ax.legend(fontsize=8)
ax.set_title("Without the scale the weights collapse to one-hot")
plt.show()

# %% [markdown]
# ## 3. A saturated softmax passes almost no gradient
#
# The softmax's Jacobian is $\frac{\partial a_i}{\partial s_j} = a_i(\delta_{ij} - a_j)$. When one
# weight is near 1 and the rest near 0, **every** entry is near 0: nudging a score changes
# nothing, so the queries and keys that produced it get almost no learning signal. We measure it
# with autograd: push a random upstream gradient through the softmax and read the norm of the
# gradient that reaches the scores.

# %%
def score_gradient_norm(d_k, scale, seed=0):
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(500, d_k, generator=gen)  # (Tq, d_k)
    k = torch.randn(num_keys, d_k, generator=gen)  # (Tk, d_k)
    upstream = torch.randn(500, num_keys, generator=gen)  # dLoss/dweights
    attn_scores = (q @ k.T * scale).requires_grad_(True)  # (Tq, Tk)
    (torch.softmax(attn_scores, dim=-1) * upstream).sum().backward()
    return attn_scores.grad.norm(dim=-1).mean().item()  # mean over queries


grad_unscaled = [score_gradient_norm(d, 1.0) for d in widths]
grad_scaled = [score_gradient_norm(d, 1 / math.sqrt(d)) for d in widths]
for d_k, gu, gs in zip(widths, grad_unscaled, grad_scaled):
    print(f"d_k={d_k:5d}  |dL/dscores| unscaled {gu:.4f}, scaled {gs:.4f}  (ratio {gs / gu:5.1f}x)")

# %%
fig, ax = plt.subplots(figsize=(5.5, 3.5), layout="constrained")
ax.loglog(widths, grad_unscaled, "o-", color="tab:red", label="unscaled")
ax.loglog(widths, grad_scaled, "s-", color="tab:blue", label=r"scaled by $1/\sqrt{d_k}$")
ax.set_xlabel("$d_k$")
ax.set_ylabel("mean |gradient| reaching the scores")
ax.legend(fontsize=8)
ax.set_title("The gradient through an unscaled softmax fades as d_k grows")
plt.show()

# %% [markdown]
# The three links hold together: unscaled scores spread like $\sqrt{d_k}$ (section 1), the
# weights become one-hot (section 2), and the gradient that reaches the scores shrinks (section 3).
# The scaled column stays flat in all three: dividing by $\sqrt{d_k}$ makes the softmax behave the
# same way at every width.
#
# ## Explore: move $d_k$ and the scale
# The scores are multiplied by $d_k^{-e}$: $e = 0$ is no scaling, $e = 0.5$ is $1/\sqrt{d_k}$,
# $e = 1$ divides by $d_k$ (too much: every score shrinks to 0 and the weights become uniform,
# which is the opposite failure). Left: the scores' histogram; right: one query's weights.

# %%
ak.widgets.scaling_explorer()

# %% [markdown]
# The same figure, drawn statically for $d_k = 256$: unscaled (top) and scaled (bottom).

# %%
display(ak.widgets.draw_scaling(d_k=256, scale_exponent=0.0))
display(ak.widgets.draw_scaling(d_k=256, scale_exponent=0.5))

# %% [markdown]
# ## The package version, checked against PyTorch
# `ak.attention` scales by $1/\sqrt{d_k}$ unless told otherwise, like PyTorch's fused kernel; with
# `scale=1.0` both compute the unscaled version.

# %%
q, k, v = (torch.randn(2, 5, 64, generator=g) for _ in range(3))
for scale in (None, 1.0):
    ours, _ = ak.attention(q, k, v, scale=scale)
    theirs = F.scaled_dot_product_attention(q, k, v, scale=scale)
    print(f"scale={scale}: max abs diff {(ours - theirs).abs().max().item():.1e}")

# %% [markdown]
# ## Myth: "scaling is a minor detail and can be skipped"
#
# Predict before you run the experiment.

# %%
ak.quiz.ask(
    "A one-layer attention model learns to reverse 8 tokens. Trained without the 1/sqrt(d_k) scale, "
    "with Adam, for 100 steps. What happens at d_k = 256?",
    ["Nothing: Adam rescales the gradients, so both versions learn equally well",
     "It never learns anything: the loss stays at chance",
     "It learns, but slower and less reliably: some seeds are far behind the scaled model"],
    answer=2,
    explanation="Measured below on 3 seeds: the scaled model reaches a small loss on every seed, the "
                "unscaled one lags behind on most of them. Skipping the scale does not make learning "
                "impossible; it makes it slower and seed-dependent.",
)

# %% [markdown]
# The model: token embeddings plus learned positions, **one** attention layer (queries, keys
# and values are linear maps of the input) and a linear read-out. The task is `reverse`: position
# $i$ must fetch the token at position $7 - i$, which the model can only do by learning queries
# and keys that match the right positions. The query and key weights start from
# $\mathcal{N}(0, 1/d_{model})$, so the initial $q$ and $k$ have entries of variance about 2 and
# the unscaled scores spread with $d_k$ as in section 1. Only `scale` differs between the runs.

# %%
class OneLayerAttention(nn.Module):
    def __init__(self, d_model, scaled, vocab_size=10, max_len=8):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Parameter(torch.randn(max_len, d_model))
        self.q_proj, self.k_proj, self.v_proj = (nn.Linear(d_model, d_model, bias=False) for _ in range(3))
        for proj in (self.q_proj, self.k_proj):
            nn.init.normal_(proj.weight, std=d_model ** -0.5)
        self.head = nn.Linear(d_model, vocab_size)
        self.scale = d_model ** -0.5 if scaled else 1.0

    def forward(self, ids):  # (B, T)
        x = self.embed(ids) + self.pos[: ids.shape[1]]  # (B, T, D)
        context, self.attn_weights = ak.attention(self.q_proj(x), self.k_proj(x), self.v_proj(x),
                                                  scale=self.scale)  # (B, T, D), (B, T, T)
        return self.head(context)  # (B, T, V)


def reverse_loss(model, batch):
    inputs, targets = batch
    return F.cross_entropy(model(inputs).flatten(0, 1), targets.flatten())


def run(d_model, scaled, seed, steps=100):
    torch.manual_seed(seed)
    model = OneLayerAttention(d_model, scaled)
    with torch.no_grad():  # how saturated is the softmax at initialisation?
        model(ak.toy_batch("reverse", 64, 8, generator=torch.Generator().manual_seed(99))[0])
        start_entropy = mean_entropy(model.attn_weights)
    losses = ak.train(model, lambda gen: ak.toy_batch("reverse", 32, 8, generator=gen), reverse_loss,
                      steps=steps, lr=3e-3, seed=seed, desc=f"d={d_model} {'scaled' if scaled else 'unscaled'}")
    return losses, start_entropy


seeds = [0, 1, 2]
curves, final = {}, {}
for d_model in (64, 256):
    for scaled in (True, False):
        label = f"d_k={d_model}, {'scaled' if scaled else 'unscaled'}"
        runs = [run(d_model, scaled, seed) for seed in seeds]
        curves[label] = [losses for losses, _ in runs]
        final[label] = [round(sum(losses[-5:]) / 5, 3) for losses, _ in runs]
        print(f"{label:22s} entropy at init {runs[0][1]:.2f} of {math.log(8):.2f} nats;  "
              f"loss after 100 steps (mean of last 5), seeds {seeds}: {final[label]}")
for label, losses in final.items():
    print(f"{label:22s} seeds below loss 0.05 after 100 steps: {sum(v < 0.05 for v in losses)} of {len(seeds)}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained", sharey=True)
for ax, d_model in zip(axes, (64, 256)):
    ak.plot.plot_loss_curves({label: runs for label, runs in curves.items() if f"d_k={d_model}," in label},
                             ax=ax, smooth=5, title=f"d_model = d_k = {d_model}, 3 seeds each")

# %% [markdown]
# Read the numbers above, not a slogan. The unscaled models start with nearly one-hot weights
# (entropy at initialisation near 0, against about 1.2 nats for the scaled ones), exactly the
# saturation of section 2. Adam hides part of the damage: it rescales each parameter's step, so
# the small gradients of section 3 still move the weights, and some unscaled seeds reach the
# scaled loss. Others are still far behind after 100 steps, at both widths, while every scaled
# seed is below 0.05. Skipping the scale does not make training impossible; it makes it **slower
# and less reliable** (the result depends on the seed), and the saturation grows with the width,
# which is where real models live ($d_k$ = 64 to 128 per head, many layers deep).
#
# ## Pitfall: the seed's unscaled code, wrong then right
# The seed shows this as the wrong approach:
# ```python
# scores = torch.matmul(Q, K.transpose(-2, -1))
# weights = softmax(scores)
# ```
# Measured on queries and keys of width 256 from a projection like the model's above:

# %%
d_k = 256
x = torch.randn(1, 12, d_k, generator=g)  # (B, T, D) a 12-token input
w_q, w_k = (torch.randn(d_k, d_k, generator=g) / math.sqrt(d_k) for _ in range(2))
Q, K = x @ w_q, x @ w_k  # (B, T, d_k)

scores_wrong = torch.matmul(Q, K.transpose(-2, -1))  # (B, T, T)
weights_wrong = torch.softmax(scores_wrong, dim=-1)
scores_right = torch.matmul(Q, K.transpose(-2, -1)) / math.sqrt(d_k)  # (B, T, T)
weights_right = torch.softmax(scores_right, dim=-1)
for name, s, w in (("wrong (unscaled)", scores_wrong, weights_wrong), ("right (/sqrt(d_k))", scores_right, weights_right)):
    print(f"{name:18s} score std {s.std().item():5.2f}, mean largest weight {w.max(-1).values.mean().item():.2f}, "
          f"entropy {mean_entropy(w[0]):.2f} of {math.log(12):.2f} nats")

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
ak.plot_attention(weights_wrong[0], ax=axes[0], annotate=False, title="wrong: softmax(Q Kᵀ)")
ak.plot_attention(weights_right[0], ax=axes[1], annotate=False, title="right: softmax(Q Kᵀ / √d_k)")
plt.show()

# %% [markdown]
# The unscaled map is a set of hard one-hot picks; the scaled map keeps a spread of weights, so
# every query still gets gradient for every key while it learns.
#
# ## Recap
# - For unit-variance entries, $\operatorname{Var}(q \cdot k) = d_k$: the scores' spread grows like $\sqrt{d_k}$.
# - Large score gaps make the softmax one-hot (entropy → 0), and the softmax's Jacobian
#   $a_i(\delta_{ij} - a_j)$ then vanishes: little gradient reaches the queries and keys.
# - Dividing by $\sqrt{d_k}$ restores unit variance at every width; dividing by $d_k$ over-corrects.
# - Skipping the scale made training slower and less reliable here, more so at larger $d_k$;
#   it is not a minor detail, nor a guaranteed failure.
#
# **Next:** lesson 07 stacks attention into a full Transformer encoder.
#
# **Exercises:** open `exercises/06_scaled_dot_product.ipynb`: the scaled scores and the entropy
# of attention weights, each with a check that names the typical mistake.
