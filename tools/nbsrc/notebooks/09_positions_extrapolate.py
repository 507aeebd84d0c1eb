# %% [markdown]
# # 09 · Positions that extrapolate: RoPE and ALiBi, trained short and tested long
#
# *Expert zone (optional): this lesson goes past the eight core steps, to what today's models use.*
#
# Lesson 04 gave each position a fingerprint by **adding** sinusoidal vectors to the embeddings.
# Widely used recent models do it differently. **RoPE** (rotary position embedding, Su et al.,
# 2021; used in LLaMA, Touvron et al., 2023) rotates every query and key by an angle proportional to
# its position. **ALiBi** (attention with linear biases, Press et al., 2022; used in BLOOM,
# BigScience Workshop, 2022) subtracts a penalty proportional to the distance from every score. Both put the *offset* between two tokens into the score. The hope: a model trained on
# short sequences keeps working on longer ones, because it never needed the absolute positions.
# Here we build both, measure what they do to a score, and then run the experiment: the same
# small model with five ways of knowing positions, trained on 16 tokens and tested on 64.
#
# **You will be able to**
# - rotate queries and keys with RoPE (pairs of columns, angle = position × frequency), and say how
#   the interleaved and the half-split conventions differ;
# - build ALiBi's per-head slopes and its bias, and combine it with a causal mask;
# - show, measured, that RoPE and ALiBi scores depend only on the offset $i - j$, while added
#   sinusoidal positions leak the absolute position into the score;
# - read a train-short, test-long experiment, including where a scheme fails and why.
#
# **Time:** about 35 minutes, plus 20 for the exercises.

# %%
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

import attnkit as ak

ak.seed_everything(0)
torch.set_num_threads(1)
torch.set_printoptions(precision=3, sci_mode=False)
print(f"torch {torch.__version__.split('+')[0]}, attnkit {ak.__version__}")

# %% [markdown]
# ## Predict first

# %%
ak.quiz.ask(
    "RoPE rotates the query of position i by angles proportional to i, and the key of position j by "
    "angles proportional to j. Move both tokens 100 positions later (i + 100, j + 100). Their score q·k...",
    ["changes: both vectors are rotated by larger angles",
     "stays exactly the same: only the difference i - j matters",
     "becomes zero: the rotations cancel"],
    answer=1,
    explanation="Rotating q by a and k by b leaves q·k depending on a - b only (a rotation keeps "
                "angles between vectors). Shifting both positions adds the same angle to a and b. "
                "Measured below.",
)

# %% [markdown]
# ## RoPE: rotate the queries and the keys
#
# Split a query (or key) of width $D$ into $D/2$ pairs of columns $(x_{2i}, x_{2i+1})$. At position
# $p$, RoPE turns pair $i$ by the angle $p\,\theta_i$, with a different frequency per pair:
#
# $$\theta_i = \text{base}^{-2i/D}, \qquad
#   \begin{pmatrix} y_{2i} \\ y_{2i+1} \end{pmatrix} =
#   \begin{pmatrix} \cos p\theta_i & -\sin p\theta_i \\ \sin p\theta_i & \cos p\theta_i \end{pmatrix}
#   \begin{pmatrix} x_{2i} \\ x_{2i+1} \end{pmatrix}, \qquad \text{base} = 10000.$$
#
# The first pair turns by one radian per position, the last by about $1/\text{base}$: the same
# fast and slow clocks as the sinusoidal table of lesson 04. Read each pair as one complex number
# $x_{2i} + \mathrm{i}\,x_{2i+1}$ and the rotation is a multiplication by $e^{\mathrm{i} p \theta_i}$;
# that is how Su et al. write it, and it is four lines:

# %%
T, D = 6, 8
x = torch.randn(T, D)                                              # (T, D): one head's queries
theta = 10000.0 ** (-torch.arange(0, D, 2) / D)                    # (D/2,): one frequency per pair
angle = torch.arange(T)[:, None] * theta                          # (T, D/2): position x frequency
pairs = torch.view_as_complex(x.reshape(T, D // 2, 2))             # (T, D/2) complex: x_2i + i x_2i+1
rotated = torch.view_as_real(pairs * torch.polar(torch.ones_like(angle), angle)).reshape(T, D)  # (T, D)
print("rotated", tuple(rotated.shape), "| max abs diff to ak.apply_rope:",
      round((rotated - ak.apply_rope(x)).abs().max().item(), 6))
print("norms kept:", torch.allclose(rotated.norm(dim=-1), x.norm(dim=-1)),
      "| position 0 unchanged:", torch.equal(rotated[0], x[0]))

# %% [markdown]
# Why rotate? For a query rotated by angle $a$ and a key rotated by $b$, each pair contributes
# $|q||k|\cos(\varphi + a - b)$ to the dot product: the positions enter only as $a - b$. Measure it:
# the same query and key, placed at $(i, j) = (5, 2)$, then shifted together by 10, 100 and 1000.

# %%
q, k = torch.randn(16), torch.randn(16)


def rope_score(i, j):
    return (ak.apply_rope(q[None], [i]) @ ak.apply_rope(k[None], [j]).T).item()


for shift in (0, 10, 100, 1000):
    print(f"positions ({5 + shift}, {2 + shift}): score {rope_score(5 + shift, 2 + shift):.4f}")
print(f"positions (5, 3), offset 2 instead of 3: score {rope_score(5, 3):.4f}")

# %% [markdown]
# Same offset, same score, to four decimals, however far along the sequence the pair sits; change
# the offset and the score changes. (Float32 rounding of a large angle costs precision, which is why
# `ak.apply_rope` computes the angles in float64 before it rotates.)
#
# ## ALiBi: a penalty for distance
#
# ALiBi adds nothing to the embeddings. Each head $h$ subtracts $m_h |i - j|$ from the score of
# query $i$ and key $j$, with fixed slopes: for $H$ heads a geometric sequence that starts at
# $2^{-8/H}$ and has that same ratio (for 8 heads: $1/2, 1/4, \dots, 1/256$). The first heads look
# close by, the last ones almost everywhere. For $H$ not a power of two, the paper takes the slopes
# of the largest power of two below $H$ and then every other slope of twice as many heads.

# %%
for heads in (4, 8, 6):
    print(f"{heads} heads: slopes", [round(m, 4) for m in ak.alibi_slopes(heads).tolist()])
bias = ak.alibi_bias(4, 6)                                          # (H, T, T) = (4, 6, 6)
print("bias", tuple(bias.shape), "| head 0, query 5:", bias[0, 5].tolist())

# %% [markdown]
# The bias is a **float mask**, so `ak.attention` adds it to the scores (the mask rule of lesson 03).
# A causal model also needs the future removed: fill the entries with $j > i$ with $-\infty$. With
# queries and keys that say nothing (all zeros) only the bias speaks, and each head spreads its
# attention backwards at its own rate:

# %%
causal_alibi = ak.alibi_bias(4, 6).masked_fill(~ak.causal_mask(6), float("-inf"))  # (H, T, T)
zeros = torch.zeros(4, 6, 8)                                          # (H, T, Dh): no content at all
_, alibi_weights = ak.attention(zeros, zeros, zeros, mask=causal_alibi)              # (H, T, T)
for h in range(4):
    print(f"head {h} (slope {ak.alibi_slopes(4)[h].item():.4f}), query 5 attends:",
          [round(w, 3) for w in alibi_weights[h, 5].tolist()])

# %%
mask_32 = ak.alibi_bias(4, 32).masked_fill(~ak.causal_mask(32), float("-inf"))     # (H, 32, 32)
_, weights_32 = ak.attention(torch.zeros(4, 32, 8), torch.zeros(4, 32, 8), torch.zeros(4, 32, 8), mask=mask_32)
fig, ax = plt.subplots(figsize=(6.5, 3.2), layout="constrained")
for h in range(4):
    ax.plot(range(32), weights_32[h, 31].flip(0).numpy(), marker=".",           # offsets 0, 1, ..., 31
            label=f"head {h}, slope {ak.alibi_slopes(4)[h].item():.4f}")
ax.set(xlabel="offset i - j (query 31)", ylabel="attention weight",
       title="causal ALiBi, no content: the weight falls with distance, at each head's own rate")
_ = ax.legend(fontsize=8)

# %% [markdown]
# ## Checked against PyTorch
# ALiBi plus the causal mask through `ak.attention` equals PyTorch's `scaled_dot_product_attention`
# given the same float mask. PyTorch has no RoPE function of its own; `ak.apply_rope` was checked
# above against the complex-number form, built from PyTorch's complex tensors.

# %%
qh, kh, vh = torch.randn(2, 4, 6, 8), torch.randn(2, 4, 6, 8), torch.randn(2, 4, 6, 8)  # (B, H, T, Dh)
ours, _ = ak.attention(qh, kh, vh, mask=causal_alibi)
theirs = F.scaled_dot_product_attention(qh, kh, vh, attn_mask=causal_alibi)
print("ak.attention + ALiBi vs PyTorch SDPA: max abs diff", round((ours - theirs).abs().max().item(), 6))

# %% [markdown]
# ## Three schemes, one score
#
# Put the **same token** at every position, so that only positions can change a score, and compare
# one query's score against each key behind it, for the query at position 24 and again 40 positions
# later:
# - **sinusoidal** (lesson 04): $\big((c + PE_i)W_q\big)\cdot\big((c + PE_j)W_k\big)$, positions added to the input;
# - **RoPE**: $\operatorname{rope}(cW_q, i)\cdot\operatorname{rope}(cW_k, j)$;
# - **ALiBi**: $(cW_q)\cdot(cW_k) - m\,(i - j)$, with slope $m = 1/4$.

# %%
ak.widgets.draw_position_scores(shift=40, max_offset=24)

# %%
ak.widgets.position_scores_explorer(max_offset=24)

# %% [markdown]
# RoPE's and ALiBi's two curves lie on top of each other: their scores are functions of the offset.
# The sinusoidal curves do not, although the sinusoidal table's own dot product $PE_i \cdot PE_j$
# *is* a function of $i - j$ (largest at offset 0 and lower further away, as lesson 04 measured:
# the first line below, the same at positions 24 and 64). The reason is the
# model never sees $PE$ alone: expanding the product gives cross terms such as
# $cW_q \cdot PE_j W_k$ in which the absolute position $j$ appears on its own.

# %%
pe = ak.sinusoidal_positions(80, 16)                                  # (80, 16)
offsets = [0, 1, 2, 5, 10, 20]
for i in (24, 64):
    print(f"PE[{i}] · PE[{i} - d] for d = {offsets}:", [round((pe[i] @ pe[i - d]).item(), 2) for d in offsets])
for scheme in ("sinusoidal", "rope", "alibi"):
    a = ak.widgets.position_scores(24, 24)[scheme]
    b = ak.widgets.position_scores(64, 24)[scheme]
    print(f"{scheme:10s} score, query at 24 vs at 64, same offsets: largest gap {(a - b).abs().max().item():.4f}")

# %% [markdown]
# Move the explorer's *shift*: RoPE's and ALiBi's gaps stay at zero for every shift, the sinusoidal
# one does not. Move RoPE's *base*: a small base makes every pair turn fast and the score wobbles
# with the offset; a large one makes it smooth.
#
# ### Pitfall: two conventions for the pairs
# This course pairs neighbouring columns $(2i, 2i+1)$, as the RoFormer paper and Meta's reference
# Llama code do (with complex numbers, as above). GPT-NeoX, and the Llama code of Hugging Face
# `transformers`, pair column $i$ with column $i + D/2$ (a helper called `rotate_half`). It is the
# same rotation of a permuted vector, so either works for a model trained with it; that is why the
# `transformers` script converting Meta's Llama checkpoints permutes the rows of the query and key
# projections. Using weights trained with one convention in code written for the other silently
# changes every score:

# %%
def rope_half_split(x, positions, base=10000.0):
    """The half-split convention: column i pairs with column i + D/2 (rotate_half)."""
    half = x.shape[-1] // 2
    angle = torch.as_tensor(positions, dtype=torch.float32)[:, None] * base ** (-torch.arange(0, 2 * half, 2) / (2 * half))
    cos, sin = torch.cat((angle.cos(), angle.cos()), -1), torch.cat((angle.sin(), angle.sin()), -1)  # (T, D)
    return x * cos + torch.cat((-x[..., half:], x[..., :half]), -1) * sin


qs, ks, positions = torch.randn(12, 16), torch.randn(12, 16), torch.arange(12)
perm = torch.stack((torch.arange(8), torch.arange(8, 16)), -1).flatten()   # 0, 8, 1, 9, ...: interleave
half_scores = rope_half_split(qs, positions) @ rope_half_split(ks, positions).T               # (T, T)
mixed_up = ak.apply_rope(qs, positions) @ ak.apply_rope(ks, positions).T                     # wrong convention
permuted = ak.apply_rope(qs[:, perm], positions) @ ak.apply_rope(ks[:, perm], positions).T   # columns permuted
print("half-split vs interleaved, same weights: max score gap", round((half_scores - mixed_up).abs().max().item(), 3))
print("half-split vs interleaved on permuted columns: max score gap", round((half_scores - permuted).abs().max().item(), 6))

# %% [markdown]
# ## The experiment: train on 16 tokens, test on 64
#
# **The task** (`ak.offset_lookup_batch`): a sequence of random tokens (16 kinds); at every
# position the model must output the token one place back. The rule is identical at every position
# and every length, so nothing *about the task* changes when the sequence gets longer; only
# positions the model has never seen appear.
#
# **The model** (`ak.PositionsModel`): one causal block (4 heads, width 32, pre-norm, with an MLP),
# the same for every scheme except how it knows positions: **none**, **learned** absolute vectors,
# **sinusoidal** vectors (both added to the tokens), **RoPE** on the queries and keys, or **ALiBi**
# on the scores. Each is trained for 300 steps with the same learning rate on sequences of exactly
# 16 tokens, with 3 seeds.
#
# **The test:** 256 fresh sequences of 64 tokens. The model is causal: its output at position $t$
# does not depend on anything after $t$, so accuracy at position $t$ of a 64-token sequence *is*
# the accuracy at the end of a sequence of length $t + 1$. One pass measures every length from 2 to
# 64. A learned table has no vector beyond position 15: there we give every later position the
# vector of position 15 (`clamp_positions=True`), the simplest thing one can do, and report it as
# such.

# %%
ak.quiz.ask(
    "Five models, identical except for how they know positions, learn to output the previous token on "
    "16-token sequences. Tested on 64-token sequences, which one keeps near-perfect accuracy all the "
    "way to position 63?",
    ["learned absolute positions (clamped after 15)", "sinusoidal positions", "RoPE", "ALiBi",
     "none of them"],
    answer=4,
    explanation="Measured below. Learned and sinusoidal positions fail right after the training range. "
                "RoPE holds well past it, then collapses. ALiBi is the best of the five far "
                "beyond the training range, but not perfect even inside it. Relative positions help; they do not "
                "guarantee extrapolation.",
)

# %%
L, OFFSET, VOCAB, STEPS, LR, SEEDS = 16, 1, 16, 300, 3e-3, (0, 1, 2)
MODEL = dict(d_model=32, num_heads=4, num_layers=1)
models = {}
for scheme, seed in tqdm([(s, seed) for s in ak.POSITION_SCHEMES for seed in SEEDS], desc="15 models"):
    models[scheme, seed], _ = ak.train_positions_model(scheme, length=L, offset=OFFSET, vocab_size=VOCAB,
                                                       steps=STEPS, lr=LR, seed=seed, progress=False, **MODEL)
accuracy = {scheme: torch.stack([ak.accuracy_by_position(models[scheme, seed], 4 * L, offset=OFFSET,
                                                         vocab_size=VOCAB) for seed in SEEDS])
            for scheme in ak.POSITION_SCHEMES}                          # scheme -> (seeds, 4L)
print(f"trained {len(models)} models: {len(ak.POSITION_SCHEMES)} schemes x {len(SEEDS)} seeds, "
      f"{STEPS} steps each at lr {LR}")

# %% [markdown]
# First, the claim that one long pass measures every length: run each trained model on the first
# $T$ tokens only and compare its last output with the output at position $T - 1$ of the 64-token run.

# %%
probe, _ = ak.offset_lookup_batch(8, 4 * L, OFFSET, VOCAB, generator=torch.Generator().manual_seed(5))
gap = 0.0
with torch.no_grad():
    for model in models.values():
        full = model(probe, clamp_positions=True)                      # (8, 64, V)
        for T_cut in (2, 16, 40, 64):
            short = model(probe[:, :T_cut], clamp_positions=True)     # (8, T_cut, V)
            gap = max(gap, (short[:, -1] - full[:, T_cut - 1]).abs().max().item())
print(f"largest |last logit of a length-T run - logit at T-1 of the 64 run| over 15 models: {gap:.1e}")

# %%
def band(acc, lo, hi):
    return acc[:, max(lo, OFFSET):hi].nanmean(-1)                      # (seeds,): mean over positions lo..hi-1


print(f"{'scheme':11s} {'positions 1-15':>18s} {'16-31':>18s} {'32-63':>18s}   (seeds {SEEDS})")
for scheme, acc in accuracy.items():
    cols = [" ".join(f"{v:.2f}" for v in band(acc, lo, hi).tolist()) for lo, hi in ((0, L), (L, 2 * L), (2 * L, 4 * L))]
    print(f"{scheme:11s} {cols[0]:>18s} {cols[1]:>18s} {cols[2]:>18s}")
print(f"chance: {1 / VOCAB:.2f}")
print("no positions, mean of the seeds at positions 1, 2, 4, 8, 15:",
      [round(accuracy["none"][:, t].mean().item(), 2) for t in (1, 2, 4, 8, 15)])

# %%
fig, ax = plt.subplots(figsize=(9, 3.8), layout="constrained")
ax = ak.plot.plot_accuracy_by_position(accuracy, train_len=L, ax=ax, chance=1 / VOCAB,
                                       title="trained on 16 tokens: accuracy at each position "
                                             "(mean of 3 seeds, band = min to max)")

# %% [markdown]
# What the measurement says, scheme by scheme (the numbers are in the table above):
# - **none**: far below the others even inside the training range. Without positions, a
#   one-layer causal model cannot tell the previous token from any other earlier token. It does
#   best at the first positions, where the prefix holds only a few tokens, and worse as the prefix
#   grows (the last printed line). Kazemnejad et al. (2023) prove that a causal model *without*
#   positional encodings can recover positions in its first layer (given a beginning-of-sequence
#   token) and use them in later layers, and find it generalises well on their tasks; a one-layer
#   model has no later layer.
# - **learned** and **sinusoidal**: perfect inside the training range, at chance soon after it.
#   A learned table has nothing to say about position 16 (clamping reuses 15's vector, which is
#   wrong for every later position). Sinusoidal vectors exist at every position, but the model has
#   only ever seen the first 16, and their scores depend on absolute positions.
# - **RoPE**: perfect inside the training range and well beyond it on every seed, then it collapses.
# - **ALiBi**: the best of the five at positions 32–63 and nearly flat from position 16 on, but not
#   perfect even on the trained lengths, and it declines within them.
#
# So both relative schemes do better than the absolute ones past the training range, and neither
# extrapolates cleanly here. Press et al. (2022) found ALiBi extrapolating where sinusoidal and
# rotary positions did not, in language modelling; Kazemnejad et al. (2023) found ALiBi and RoPE
# "not well suited" to length generalisation on reasoning tasks. Where does the attention go?
#
# ## Why: where the attention goes on long inputs
# For each trained RoPE and ALiBi model, per head (mean over 256 sequences): the share of a query's
# attention that falls on keys at offsets the model never saw in training ($i - j \geq 16$), for
# queries at $16..31$ and at $32..63$; and the weight on the previous token (offset 1, the answer)
# for queries inside the training range.

# %%
long_inputs, _ = ak.offset_lookup_batch(256, 4 * L, OFFSET, VOCAB, generator=torch.Generator().manual_seed(6))
offset = torch.arange(4 * L)[:, None] - torch.arange(4 * L)[None, :]   # (T, T): i - j
unseen = offset >= L                                                   # (T, T): offsets never trained on
unseen_share = {}
with torch.no_grad():
    for scheme in ("rope", "alibi"):
        for seed in SEEDS:
            share, previous = 0.0, 0.0
            for chunk in long_inputs.split(64):                        # 4 chunks: a quarter of the weights in memory
                models[scheme, seed](chunk)
                weights = models[scheme, seed].attn_weights[0]         # (b, H, T, T)
                share = share + (weights * unseen).sum(-1).sum(0) / len(long_inputs)  # (H, T): per head and query
                previous = previous + weights.diagonal(offset=-1, dim1=-2, dim2=-1)[..., :L - 1].sum(0).mean(-1) \
                    / len(long_inputs)                                 # (H,): query t, key t-1
            unseen_share[scheme, seed] = share
            print(f"{scheme:5s} seed {seed}: on unseen offsets, queries 16-31",
                  [round(v, 2) for v in share[:, L:2 * L].mean(-1).tolist()],
                  "| 32-63", [round(v, 2) for v in share[:, 2 * L:].mean(-1).tolist()],
                  "| on offset 1, queries 1-15", [round(v, 2) for v in previous.tolist()])

# %%
fig, (ax_rope, ax_alibi) = plt.subplots(1, 2, figsize=(10, 3.3), layout="constrained", sharey=True)
for ax, scheme in ((ax_rope, "rope"), (ax_alibi, "alibi")):
    share = unseen_share[scheme, 0]                                     # (H, T)
    for h in range(share.shape[0]):
        ax.plot(range(L, 4 * L), share[h, L:].numpy(), label=f"head {h}")
    ax.set(title=f"{'RoPE' if scheme == 'rope' else 'ALiBi'} (seed 0)", xlabel="query position")
    ax.legend(fontsize=7)
_ = ax_rope.set_ylabel("attention on offsets >= 16")

# %% [markdown]
# **RoPE.** For queries at 16–31, most heads put only a few percent of their attention on the new,
# never-seen offsets; for queries at 32–63, every head puts most of it there, and the lookup fails. RoPE's score depends only on
# the offset, but the score *at an offset never seen in training* was never trained to be low: some
# far offsets score higher than offset 1 and take the attention. Chen et al. (2023) give the same
# explanation for RoPE language models read past their training length (attention scores at
# unseen distances can be very large), and fix it by squeezing the positions back into the trained
# range.
#
# **ALiBi.** The steepest head (head 0, slope 1/4) keeps almost all of its attention near the query
# at every length: its penalty grows with distance, so far keys cannot win, and what it sees does
# not change with the length. That is why ALiBi's accuracy is nearly flat past the training range. But its slopes are fixed, not
# learned: with 4 heads the steepest penalises one more step of distance by only 1/4, so even that
# head spreads its attention over several recent tokens and the previous token does not stand out
# cleanly (its weight on offset 1 is printed above); the flatter heads spread further as sequences
# grow. A model with more heads gets steeper
# slopes (for 8 heads, the first is 1/2).
#
# **At this scale.** One layer, 300 steps, 16 training tokens: the papers train far larger models
# on far more data. What the toy shows is the mechanism: an offset-only score removes the absolute
# position, yet a head still meets offsets it has never seen once the input is longer than the
# training sequences.
#
# ## Recap
# - **RoPE** rotates each pair of query and key columns by position × frequency; scores then depend
#   on content and offset only (measured: the same score at positions shifted by 1000). Rotate the
#   queries **and** the keys, never the values. Mind the convention: interleaved pairs (this course,
#   RoFormer) or halves (`rotate_half`).
# - **ALiBi** subtracts $m_h |i - j|$ from the scores, with fixed geometric slopes per head; it is a
#   float mask and combines with a causal mask by filling the future with $-\infty$.
# - Added sinusoidal positions make the score depend on absolute positions through cross terms,
#   although $PE_i \cdot PE_j$ alone depends on $i - j$.
# - Trained on 16 tokens and tested on 64 (3 seeds): learned and sinusoidal positions fail right
#   after the training range; RoPE holds well beyond it, then fails when far offsets it never saw
#   take the attention; ALiBi's steep head keeps its view local, so its accuracy is nearly flat past
#   the training range, but it is imperfect from the start. No positions at all fails even inside the training range with one layer.
#
# **Exercises:** `my-work/09_positions_extrapolate.ipynb`: write RoPE from the angle formula,
# ALiBi's slopes for any number of heads, and RoPE attention scores; the checkers name the usual
# mistakes (halves instead of pairs, the sign of the angle, slopes reversed, keys not rotated).
#
# ## References
# - Su, Lu, Pan, Murtadha, Wen, Liu (2021). *RoFormer: Enhanced Transformer with Rotary Position
#   Embedding.* arXiv:2104.09864.
# - Press, Smith, Lewis (2022). *Train Short, Test Long: Attention with Linear Biases Enables Input
#   Length Extrapolation.* ICLR 2022.
# - Vaswani et al. (2017). *Attention Is All You Need.* NeurIPS 2017 (sinusoidal positions).
# - Touvron et al. (2023). *LLaMA: Open and Efficient Foundation Language Models.* arXiv:2302.13971 (RoPE).
# - BigScience Workshop (2022). *BLOOM: A 176B-Parameter Open-Access Multilingual Language Model.*
#   arXiv:2211.05100 (ALiBi).
# - Kazemnejad, Padhi, Natesan Ramamurthy, Das, Reddy (2023). *The Impact of Positional Encoding on
#   Length Generalization in Transformers.* NeurIPS 2023.
# - Chen, Wong, Chen, Tian (2023). *Extending Context Window of Large Language Models via
#   Positional Interpolation.* arXiv:2306.15595.
# - The half-split convention: `rotate_half` in Hugging Face `transformers`' Llama code, and the
#   discussion of how it differs from Meta's interleaved code, huggingface/transformers issue #25199
#   (2023), "[LLaMA] Rotary positional embedding differs with official implementation".
