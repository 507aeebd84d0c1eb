# %% [markdown]
# # 06 · Scaled dot-product attention: why divide by $\sqrt{d_k}$?
#
# The standard attention layer (Vaswani et al. 2017) divides its scores by $\sqrt{d_k}$ before the
# softmax. It looks like a cosmetic constant, and the seed's myth says it is one: *"scaling is a
# minor detail and can be skipped"*. This lesson measures what the constant does. Without it, the
# scores grow with the width of the keys and the softmax turns into a nearly one-hot choice. A
# common explanation goes on: "so the queries and keys get no gradient". We measure that too, and
# it is wrong: the gradient that reaches the queries is *larger* without the scale. What goes
# wrong is subtler: the gradient lands on a few queries only, the others keep the key they
# happened to pick at initialisation until updates made for other queries move them, and training
# becomes slower and seed-dependent. We measure each link, then train the same tiny model without
# the scale, with it, and with the larger divisor $d_k$.
#
# **You will be able to**
# - derive and measure that $\operatorname{Var}(q \cdot k) = d_k$ for unit-variance entries;
# - measure how the softmax saturates (entropy of the weights) as $d_k$ grows, scaled and unscaled;
# - measure with autograd the gradient at the scores, the queries, the keys and $W_q$, and say
#   where it goes when the softmax is saturated;
# - say honestly what skipping the scale costs in training (slower, seed-dependent learning), and
#   what real models do instead of a fixed $1/\sqrt{d_k}$.
#
# **Time:** about 55 minutes, plus 15 for the exercises.

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
# (Vaswani et al. 2017 give this argument in a footnote.) We measure both on 10,000 random pairs
# per width:

# %%
g = torch.Generator().manual_seed(0)
widths = [4, 16, 64, 256, 1024]
measured_var, scaled_var = [], []
for d_k in widths:
    q = torch.randn(10_000, d_k, generator=g)  # (N, d_k)
    k = torch.randn(10_000, d_k, generator=g)  # (N, d_k)
    dots = (q[:, None, :] @ k[:, :, None]).flatten()  # (N,) one dot product per pair
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
ax.set_title("Without the scale the weights collapse towards one-hot")
plt.show()

# %% [markdown]
# ## 3. Where the gradient goes through a saturated softmax
#
# The softmax's Jacobian is $\frac{\partial a_i}{\partial s_j} = a_i(\delta_{ij} - a_j)$. When one
# weight is near 1 and the rest near 0, **every** entry is near 0: nudging a score barely changes
# the weights. Vaswani et al. (2017) put it this way: large dot products push the softmax into
# "regions where it has extremely small gradients". That is the gradient at the **scores**. But a
# score is not a parameter; the gradient travels on, to the query and from there to $W_q$:
#
# $$s_j = c\; q\cdot k_j \quad\Rightarrow\quad \frac{\partial L}{\partial q} = c \sum_j \frac{\partial L}{\partial s_j}\, k_j ,$$
#
# where $c$ is the scale. Scaled, $c\,\|k_j\| \approx 1$; unscaled, $c = 1$ and $\|k_j\| \approx \sqrt{d_k}$:
# the chain rule multiplies the small score gradient by a large key. Which wins? We measure it
# with autograd, on 3 seeds, at the scores, the queries, the keys and $W_q$: 500 queries
# $q = x W_q$ (unit-variance entries, as in section 1), 16 keys, and a random upstream gradient
# $\partial L/\partial a$ pushed back through the softmax.

# %%
def gradient_norms(d_k, scale, seed):
    """Gradient norms at the scores, queries, keys and W_q, and which queries get the gradient."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(500, d_k, generator=gen)  # (Tq, d_k) inputs
    w_q = (torch.randn(d_k, d_k, generator=gen) / math.sqrt(d_k)).requires_grad_(True)  # (d_k, d_k)
    k = torch.randn(num_keys, d_k, generator=gen).requires_grad_(True)  # (Tk, d_k)
    upstream = torch.randn(500, num_keys, generator=gen)  # (Tq, Tk) dLoss/dweights
    q = x @ w_q  # (Tq, d_k), entries of variance about 1
    attn_scores = q @ k.T * scale  # (Tq, Tk)
    q.retain_grad()
    attn_scores.retain_grad()
    (torch.softmax(attn_scores, dim=-1) * upstream).sum().backward()
    per_query = q.grad.norm(dim=-1) ** 2  # (Tq,) squared gradient norm of each query
    top_queries = per_query.topk(50).indices  # the 10% of the queries with the most gradient
    best_two = attn_scores.detach().topk(2, dim=-1).values  # (Tq, 2) best and second-best score
    gap = best_two[:, 0] - best_two[:, 1]  # (Tq,) how far the winner is ahead, as the softmax sees it
    return {"dL/dscores": attn_scores.grad.norm(dim=-1).mean().item(),  # mean over queries
            "dL/dq": q.grad.norm(dim=-1).mean().item(),
            "dL/dk": k.grad.norm(dim=-1).mean().item(),  # mean over the 16 keys
            "dL/dW_q": w_q.grad.norm().item(),
            "top 10% share": (per_query.topk(50).values.sum() / per_query.sum()).item(),
            "gap, all queries": gap.median().item(),
            "gap, top 10%": gap[top_queries].median().item()}


seeds = [0, 1, 2]
grads = {(d_k, name): [gradient_norms(d_k, scale, seed) for seed in seeds]
         for d_k in widths for name, scale in (("unscaled", 1.0), ("scaled", d_k ** -0.5))}


def spread(d_k, name, key, fmt=".3f"):
    """min-max over the seeds, as text."""
    values = [run[key] for run in grads[d_k, name]]
    return f"{min(values):{fmt}}-{max(values):{fmt}}"


def mean(d_k, name, key):
    return sum(run[key] for run in grads[d_k, name]) / len(seeds)


print("min-max over seeds", seeds, "and the ratio of the means")
for key, fmt in (("dL/dscores", ".3f"), ("dL/dq", ".2f"), ("dL/dk", ".2f"), ("dL/dW_q", ".0f")):
    print(f"|{key}|")
    for d_k in widths:
        print(f"   d_k={d_k:5d}  unscaled {spread(d_k, 'unscaled', key, fmt):>11s}   "
              f"scaled {spread(d_k, 'scaled', key, fmt):>11s}   "
              f"unscaled / scaled = {mean(d_k, 'unscaled', key) / mean(d_k, 'scaled', key):5.2f}")
print("scaled |dL/dW_q| / sqrt(d_k), mean over seeds: "
      + ", ".join(f"{mean(d_k, 'scaled', 'dL/dW_q') / math.sqrt(d_k):.1f}" for d_k in widths))

# %%
fig, axes = plt.subplots(1, 4, figsize=(14, 3.4), layout="constrained")
for ax, key in zip(axes, ("dL/dscores", "dL/dq", "dL/dk", "dL/dW_q")):
    for name, color, marker in (("unscaled", "tab:red", "o"), ("scaled", "tab:blue", "s")):
        runs = [[run[key] for run in grads[d_k, name]] for d_k in widths]  # (widths, seeds)
        ax.loglog(widths, [sum(r) / len(r) for r in runs], "-", color=color, label=name)
        for seed_index in range(len(seeds)):
            ax.loglog(widths, [r[seed_index] for r in runs], marker, color=color, ms=4, alpha=0.6)
    ax.set_xlabel("$d_k$")
    ax.set_title(f"|{key}|")
axes[0].set_ylabel("gradient norm (3 seeds, line = mean)")
axes[0].legend(fontsize=8)
_ = fig.suptitle("Unscaled: less gradient at the scores, more at the queries, the keys and W_q", fontsize=10)

# %% [markdown]
# Read the four panels left to right. At the scores, the unscaled gradient shrinks as $d_k$
# grows, exactly the saturation of section 2. At the queries, the keys and $W_q$ it **grows**: the
# factor $\|k\| \approx \sqrt{d_k}$ (for the keys, $\|q\|$) wins. So "without the scale the queries
# and keys get almost no learning signal" is false: from $d_k = 16$ on they get several times more
# (the ratio column). The scaled gradient stays flat at the scores and at the queries, and nearly
# flat at the keys. At $W_q$ the scaled norm grows too, for a bookkeeping reason: a query gradient
# of fixed size is spread over $d_k$ coordinates, so each entry of $\partial L/\partial W_q$
# shrinks like $1/\sqrt{d_k}$, while the norm adds up all $d_k^2$ entries; together the norm grows
# like $\sqrt{d_k}$ (the last line: the scaled norm divided by $\sqrt{d_k}$ is nearly the same at
# every width). So compare the two columns there, not the rows.
#
# What does go wrong is *where* the gradient lands. A query whose best key is far ahead of the
# runner-up has a nearly one-hot row, and its Jacobian is nearly zero: it gets almost no gradient,
# whatever the loss says. Whichever key won at initialisation keeps winning, unless updates made
# for other queries happen to move it (winner-take-all). The gradient goes to the queries whose
# two best keys are close to a tie. We measure the share of the total squared query gradient
# carried by the 10% of queries with the most, and how close to a tie those queries are: the
# median gap between their best and second-best score, against the median over all queries:

# %%
print("share of sum |dL/dq|^2 carried by the top 10% of the 500 queries (min-max over seeds)")
for d_k in widths:
    print(f"   d_k={d_k:5d}  unscaled {spread(d_k, 'unscaled', 'top 10% share', '.2f')}   "
          f"scaled {spread(d_k, 'scaled', 'top 10% share', '.2f')}")
print("median gap between a query's best and second-best score, over all 500 queries and over the")
print("top 10% by gradient (min-max over seeds)")
for d_k in widths:
    print(f"   d_k={d_k:5d}  unscaled: all {spread(d_k, 'unscaled', 'gap, all queries', '.2f'):>11s}, "
          f"top 10% {spread(d_k, 'unscaled', 'gap, top 10%', '.2f')}   "
          f"scaled: all {spread(d_k, 'scaled', 'gap, all queries', '.2f')}, "
          f"top 10% {spread(d_k, 'scaled', 'gap, top 10%', '.2f')}")

# %% [markdown]
# Scaled, the top tenth of the queries carries less than half of the gradient at every width (the
# gradient is spread over many of them). Unscaled, the share climbs with $d_k$; at $d_k = 1024$ the
# top tenth carries nearly all of it and the other nine tenths share the few percent left. Those
# top queries are the near-tie ones: unscaled, their median gap between the best and the
# second-best score stays below 1 at every width, while from $d_k = 16$ on the median over all
# queries is larger and grows with $d_k$, past 10 at $d_k = 1024$. That is the real cost of saturation: not a small gradient, but a
# **concentrated** one, which changes a query's choice only when it happens to sit near a tie.
#
# ## Explore: move $d_k$ and the scale
# The scores are multiplied by $d_k^{-e}$: $e = 0$ is no scaling, $e = 0.5$ is $1/\sqrt{d_k}$,
# $e = 1$ divides by $d_k$. For these random, independent queries and keys, $e = 1$ shrinks every
# score towards 0 and the weights become nearly uniform at initialisation: the opposite extreme to
# $e = 0$. That is not a failure in itself. The gradient at the queries is smaller, but Adam
# rescales each weight's step (see the training experiment below, which also trains with $1/d_k$),
# and µP divides by $d_k$ on purpose (the box further down). Left: the scores' histogram; right:
# one query's weights; the title gives the mean gradient norm at the scores and at the queries.

# %%
ak.widgets.scaling_explorer()

# %% [markdown]
# The same figure, drawn statically for $d_k = 256$: unscaled (top) and scaled (bottom).

# %%
display(ak.widgets.draw_scaling(d_k=256, scale_exponent=0.0))
display(ak.widgets.draw_scaling(d_k=256, scale_exponent=0.5))

# %% [markdown]
# ## The package version, checked against PyTorch
# `ak.attention` scales by $1/\sqrt{d_k}$ unless told otherwise, like PyTorch's `scaled_dot_product_attention`; with
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
    explanation="Measured below on 3 seeds: the scaled model gets below a loss of 0.05 on every seed; "
                "the unscaled one gets there later on every seed, or not within 100 steps. Skipping "
                "the scale does not make learning impossible; it makes it slower and seed-dependent.",
)

# %% [markdown]
# The model: token embeddings plus learned positions, **one** attention layer (queries, keys
# and values are linear maps of the input) and a linear read-out. The task is `reverse`: position
# $i$ must fetch the token at position $7 - i$, which the model can only do by learning queries
# and keys that match the right positions. The query and key weights start from
# $\mathcal{N}(0, 1/d_{model})$, so the initial $q$ and $k$ have entries of variance about 2 and
# the unscaled scores spread with $d_k$ as in section 1. Only `scale` differs between the runs:
# unscaled ($e = 0$ in the explorer), scaled by $1/\sqrt{d_k}$ ($e = 0.5$) and divided by $d_k$
# ($e = 1$); same initial weights for a seed, same batches, same Adam learning rate (3e-3) and
# 100 steps.
#
# Before training we measure, at initialisation, what section 3 predicts for this model: the
# entropy of the weights, the norm of the gradient at $W_q$, the share of the query gradient
# carried by the top 10% of the query positions, and how well the $W_q$ gradients of 8 different
# batches agree with each other (mean cosine similarity between pairs: 1 = the same direction,
# 0 = unrelated).

# %%
class OneLayerAttention(nn.Module):
    def __init__(self, d_model, scale_exponent, vocab_size=10, max_len=8):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Parameter(torch.randn(max_len, d_model))
        self.q_proj, self.k_proj, self.v_proj = (nn.Linear(d_model, d_model, bias=False) for _ in range(3))
        for proj in (self.q_proj, self.k_proj):
            nn.init.normal_(proj.weight, std=d_model ** -0.5)
        self.head = nn.Linear(d_model, vocab_size)
        self.scale = d_model ** -scale_exponent  # 0: unscaled, 0.5: 1/sqrt(d_k), 1: 1/d_k

    def forward(self, ids):  # (B, T)
        x = self.embed(ids) + self.pos[: ids.shape[1]]  # (B, T, D)
        self.queries = self.q_proj(x)  # (B, T, D) kept to measure its gradient
        context, self.attn_weights = ak.attention(self.queries, self.k_proj(x), self.v_proj(x),
                                                  scale=self.scale)  # (B, T, D), (B, T, T)
        return self.head(context)  # (B, T, V)


def reverse_loss(model, batch):
    inputs, targets = batch
    return F.cross_entropy(model(inputs).flatten(0, 1), targets.flatten())


def at_init(model, seed):
    """Entropy, |dL/dW_q|, top-10% share of dL/dq and batch-to-batch agreement, before training."""
    gen = torch.Generator().manual_seed(1000 + seed)
    directions = []
    for b in range(8):
        loss = reverse_loss(model, ak.toy_batch("reverse", 32, 8, generator=gen))
        grad_w_q, grad_q = torch.autograd.grad(loss, [model.q_proj.weight, model.queries])
        directions.append(grad_w_q.flatten() / grad_w_q.norm())
        if b == 0:  # the first batch gives the entropy, the norm and the share
            entropy, norm_w_q = mean_entropy(model.attn_weights.detach()), grad_w_q.norm().item()
            per_query = grad_q.norm(dim=-1).flatten() ** 2  # (B * T,)
            share = (per_query.topk(len(per_query) // 10).values.sum() / per_query.sum()).item()
    cosines = torch.stack(directions) @ torch.stack(directions).T  # (8, 8)
    agreement = cosines[~torch.eye(8, dtype=torch.bool)].mean().item()
    return {"entropy": entropy, "|dL/dW_q|": norm_w_q, "top 10% share": share, "agreement": agreement}


def run(d_model, scale_exponent, seed, steps=100):
    torch.manual_seed(seed)
    model = OneLayerAttention(d_model, scale_exponent)
    start = at_init(model, seed)
    losses = ak.train(model, lambda gen: ak.toy_batch("reverse", 32, 8, generator=gen), reverse_loss,
                      steps=steps, lr=3e-3, seed=seed, desc=f"d={d_model} e={scale_exponent}")
    return losses, start


def steps_to(losses, threshold=0.05, window=5):
    """First step at which the mean of the last `window` losses is below `threshold` (None: never)."""
    running = torch.tensor(losses).unfold(0, window, 1).mean(-1)  # (steps - window + 1,) as in the figure
    below = (running < threshold).nonzero()
    return None if len(below) == 0 else below[0].item() + window


arms = {"scaled": 0.5, "unscaled": 0.0, "1/d_k": 1.0}  # name -> scale exponent e: scores * d_k ** -e
curves, final, init = {}, {}, {}
for d_model in (64, 256):
    for name, scale_exponent in arms.items():
        label = f"d_k={d_model}, {name}"
        runs = [run(d_model, scale_exponent, seed) for seed in seeds]
        curves[label] = [losses for losses, _ in runs]
        final[label] = [round(sum(losses[-5:]) / 5, 3) for losses, _ in runs]
        init[label] = [start for _, start in runs]
print(f"at initialisation, seeds {seeds} (entropy of uniform weights over 8 keys: {math.log(8):.2f} nats)")
for label, starts in init.items():
    print(f"{label:19s} " + "  ".join(f"{key} {[round(s[key], 2) for s in starts]}" for key in starts[0]))
print(f"after 100 steps, seeds {seeds}: training loss (mean of the last 5 steps), and the first step\n"
      "at which the 5-step mean falls below 0.05 (None: not within 100 steps)")
for label, losses in final.items():
    print(f"{label:19s} {str(losses):23s} below 0.05: {sum(v < 0.05 for v in losses)} of {len(seeds)}   "
          f"steps to 0.05: {[steps_to(run_losses) for run_losses in curves[label]]}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained", sharey=True)
for ax, d_model in zip(axes, (64, 256)):
    ak.plot.plot_loss_curves({label: runs for label, runs in curves.items() if f"d_k={d_model}," in label},
                             ax=ax, smooth=5, title=f"d_model = d_k = {d_model}, 3 seeds each (5-step mean)")
    ax.set_ylim(1e-5, 5)  # the 1/d_k curves at d_k = 256 fall below the axis: their loss rounds to 0.000

# %% [markdown]
# Read the numbers above, not a slogan. At initialisation the unscaled models have nearly one-hot
# weights (entropy near 0, against more than 1 nat scaled), and section 3 shows up in this model
# too: the gradient at $W_q$ is several times **larger** unscaled, the top tenth of the query
# positions carries more than 90% of the query gradient, and the $W_q$ gradients of different
# batches agree less with each other (near 0, against about 0.1 scaled).
#
# Adam (Kingma & Ba 2015) divides each weight's step by a running root-mean-square of that
# weight's own gradients, so the overall size of the gradient, larger or smaller, was never going
# to decide this. Its direction does, and unscaled, each batch's direction is set by the few
# queries that happen to sit near a tie in that batch. A query with a nearly one-hot row adds
# almost nothing to that batch's gradient; its choice changes only as a side effect of the updates
# the near-tie queries drive. "Steps to 0.05" makes "slower" exact: seed for seed, the unscaled
# model falls below 0.05 later than the scaled one, or not within 100 steps (3 of the 6 unscaled
# runs). After 100 steps some unscaled seeds are below 0.05 like every scaled seed, others are
# still above 0.5, at both widths. The scaled model's speed depends on the seed too (at
# $d_k = 256$ from 13 to 64 steps), but every scaled seed gets there. (In the figure, the scaled
# curves at $d_k = 256$ rise again after they first reach 0.01; every scaled seed still ends below
# 0.05, as printed.)
#
# Skipping the scale does not make training impossible; it makes it **slower and
# seed-dependent**, and the saturation at initialisation grows with the width, across the range
# real heads use (the original Transformer has $d_k = 64$; Vaswani et al. 2017).
#
# **Dividing by $d_k$** is the other extreme: at initialisation its weights are nearly uniform
# (entropy close to the 2.08 nats of uniform weights) and its gradient at $W_q$ is the smallest of
# the three. That is not a failure. Adam rescales the small gradient; what counts is its
# direction, and here the query gradient is spread over the most positions (the lowest top-10%
# share) and the batches agree with each other at least as well as scaled, seed for seed. Trained
# with the same learning rate and steps, every $1/d_k$ seed ends below 0.05 at both widths: at
# $d_k = 64$ within the scaled model's range of steps, at $d_k = 256$ in 12 steps on every seed,
# while the scaled seeds need 13 to 64. That is one task, two widths and one learning rate: it
# shows that nearly uniform initial weights are not a problem for this model, not that $1/d_k$ is
# better in general.
#
# > **Is $1/\sqrt{d_k}$ the last word? What real models do.** The variance argument holds at
# > initialisation, for *independent* $q$ and $k$. Training breaks that: a query learns to point at
# > the keys it needs, and for an aligned pair $q\cdot k$ is a sum of $d_k$ terms of the same sign,
# > growing like $d_k$, not $\sqrt{d_k}$. So dividing by $d_k$ shrinks the scores only while $q$
# > and $k$ are independent (nearly uniform weights at initialisation, the explorer's $e = 1$); for
# > aligned pairs it is the divisor that keeps the scores' size independent of the width. Large
# > models handle the scores' size in several ways:
# > - **Fold the scale into the initialisation.** T5 (Raffel et al. 2020) computes $q\cdot k$ with no
# >   $1/\sqrt{d_k}$; its Mesh TensorFlow code initialises $W_q$ with a standard deviation smaller by
# >   that factor instead, so the scores start at the same size as with the factor.
# > - **Divide by $d_k$.** µP (Yang et al. 2022, *Tensor Programs V*) uses $1/d_k$, so that the
# >   scores of the trained, aligned $q$ and $k$ stay the same size as the model is made wider, one
# >   of the rules that let hyperparameters tuned on a small model transfer to a large one.
# > - **Normalise $q$ and $k$ (QK-norm).** Henry et al. (2020) L2-normalise queries and keys and
# >   multiply by a learned scale; Dehghani et al. (2023) apply LayerNorm to them, which they needed
# >   to train a 22-billion-parameter vision Transformer, whose attention scores otherwise grew
# >   until the weights were near one-hot and training diverged.
# > - **Cap the scores.** Gemma 2 (Gemma Team 2024) soft-caps the attention scores,
# >   $s \mapsto c\,\tanh(s/c)$ with $c = 50$: a smooth ceiling on how large a score can grow.
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
# The unscaled map is nearly one-hot (mean largest weight 0.88); the scaled map keeps a spread of
# weights. The gradient at score $s_j$ is proportional to its weight $a_j$, so in the scaled map
# every key still gets some gradient from every query; in the unscaled map almost all of it goes
# to the few rows that are not yet one-hot.
#
# ## Recap
# - For unit-variance entries, $\operatorname{Var}(q \cdot k) = d_k$: the scores' spread grows like $\sqrt{d_k}$.
# - Large score gaps make the softmax nearly one-hot (entropy → 0), and its Jacobian
#   $a_i(\delta_{ij} - a_j)$ then vanishes: the gradient at the scores shrinks.
# - The gradient at the queries, the keys and $W_q$ does **not** shrink: the chain rule multiplies
#   it by $\|k\|$ (for the keys, $\|q\|$) $\approx \sqrt{d_k}$, and unscaled it is larger. What
#   saturation does is concentrate it on the few queries near a tie; the others keep their
#   initial pick until updates driven by the near-tie queries move them (winner-take-all).
# - Dividing by $\sqrt{d_k}$ restores unit variance at every width, for independent $q$ and $k$ at
#   initialisation. Trained models also use $1/d_k$ (µP), a scale folded into $W_q$'s
#   initialisation (T5), QK-norm or soft-capping.
# - Skipping the scale made training slower and seed-dependent here, at both widths: every
#   unscaled seed reached a loss of 0.05 later than its scaled twin, or not within 100 steps. It
#   is not a minor detail, nor a guaranteed failure.
# - Dividing by $d_k$ gives nearly uniform weights at initialisation, which is not a failure: with
#   the same learning rate and steps it trained on every seed here, at both widths.
#
# **Next:** lesson 07 builds the full Transformer around attention.
#
# **Exercises:** open `my-work/06_scaled_dot_product.ipynb`: the scaled scores and the entropy
# of attention weights, each with a check that names the typical mistake.
#
# ## References
# - Vaswani, A., et al. (2017). *Attention Is All You Need*. NeurIPS. (Scaled dot-product
#   attention, the variance footnote, $d_k = 64$.)
# - Kingma, D. P., & Ba, J. (2015). *Adam: A Method for Stochastic Optimization*. ICLR.
# - Raffel, C., et al. (2020). *Exploring the Limits of Transfer Learning with a Unified
#   Text-to-Text Transformer*. JMLR 21. (T5; no $1/\sqrt{d_k}$ in attention, the factor sits in
#   the initialisation of $W_q$ in its Mesh TensorFlow code.)
# - Yang, G., Hu, E. J., et al. (2022). *Tensor Programs V: Tuning Large Neural Networks via
#   Zero-Shot Hyperparameter Transfer*. (µP; attention scaled by $1/d_k$.)
# - Henry, A., Dachapally, P. R., Pawar, S., & Chen, Y. (2020). *Query-Key Normalization for
#   Transformers*. Findings of EMNLP.
# - Dehghani, M., et al. (2023). *Scaling Vision Transformers to 22 Billion Parameters*. ICML.
#   (QK LayerNorm against attention-logit growth.)
# - Gemma Team (2024). *Gemma 2: Improving Open Language Models at a Practical Size*. (Attention
#   logit soft-capping.)
