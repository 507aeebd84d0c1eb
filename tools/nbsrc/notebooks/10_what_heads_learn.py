# %% [markdown]
# # 10 · What heads learn: induction heads, and attention as a spotlight
#
# *Expert zone.* Lessons 03 to 08 built attention and measured what it costs. This lesson opens
# trained models and reads what their heads do. First, the best-understood circuit in language
# models, the **induction head** (Olsson et al., 2022): the mechanism behind "I saw `A B` before,
# now I see `A` again, so `B` comes next". We grow one from scratch on a CPU, watch it appear
# suddenly during training, find its two parts in the attention maps, and switch them off.
# Second, the course's mental model taken literally: attention as a **spotlight** on an image.
# A tiny Vision-Transformer-style classifier looks at noisy pictures, and we measure where its
# class token looks.
#
# **You will be able to**
# - explain why copying from context needs **two** attention layers (a previous-token head, then
#   an induction head) and show that one layer does not learn it here;
# - measure a phase change in training and link it to a head's attention pattern;
# - score heads as previous-token or induction heads from their maps, and test the roles by ablation;
# - cut an image into patch tokens, train a tiny ViT and measure how much of the class token's
#   attention falls on the object.
#
# **Time:** about 40 minutes, plus 20 for the exercises.

# %%
import math

import matplotlib.pyplot as plt
import torch
from IPython.display import display
from torch.nn import functional as F

import attnkit as ak

ak.seed_everything(0)
torch.set_num_threads(1)  # the models here are tiny: a second thread costs more than it saves
torch.set_printoptions(precision=3, sci_mode=False)
print(f"torch {torch.__version__.split('+')[0]}, attnkit {ak.__version__}")

# %% [markdown]
# ## Predict first

# %%
ak.quiz.ask(
    "A causal, attention-only model reads random tokens in which a segment is repeated: "
    "'... K A B C ... K A B C'. In the copy, after 'A' it should predict 'B' by finding the earlier "
    "'A' and copying the token after it. The distance to the earlier 'A' changes from sequence "
    "to sequence. What is the smallest model that can do this?",
    ["one attention layer with one head", "one attention layer with two heads",
     "two attention layers", "it needs an MLP: attention only averages"],
    answer=2,
    explanation="The query 'A' must find the key whose PREVIOUS token is 'A'. A key only knows its own "
                "token and position until a first layer has copied its previous token into it. Layer 0 does that "
                "(a previous-token head), layer 1 matches on it (an induction head). We train both "
                "depths below, on three seeds each.",
)

# %% [markdown]
# ## The task: repeated random tokens
#
# `ak.repeat_batch` draws 24 uniform random tokens (vocabulary 32) and copies a segment of random
# length $n \in [6, 12]$, starting at a random offset $s$, right after itself:
# $t_{s+n+k} = t_{s+k}$. In the copy, the next token can be predicted by induction, and only
# there: the targets are the next token at the positions $p \in [s+n,\ s+2n-2]$, everything else
# is `-100` (ignored). Because $n$ varies, no fixed offset says where to look; the model has to
# find the earlier occurrence of its current token by **content**.

# %%
VOCAB, T = 32, 24
x_demo, y_demo, s_demo, n_demo = ak.repeat_batch(1, T, VOCAB, generator=torch.Generator().manual_seed(5))
s0, n0 = s_demo.item(), n_demo.item()
print("tokens  ", x_demo[0].tolist())
print(f"segment  s = {s0}, n = {n0}: tokens {s0}..{s0 + n0 - 1} are copied to {s0 + n0}..{s0 + 2 * n0 - 1}")
print("targets ", y_demo[0, :, 0].tolist())

# %% [markdown]
# ### How two layers can do it
# At a query $p$ in the copy, the current token $t_p$ occurred before at $p - n$, and the answer
# $t_{p+1}$ sits right after it, at $p - n + 1$. A two-layer circuit finds it (Elhage et al.,
# 2021; Olsson et al., 2022):
#
# 1. a **previous-token head** in layer 0: every position $j$ attends to $j - 1$ and adds "my
#    previous token was $t_{j-1}$" to its vector;
# 2. an **induction head** in layer 1: the query at $p$ (token $t_p$) matches keys whose
#    *previous* token is $t_p$. That is key $p - n + 1$, and its value carries its own token,
#    $t_{p-n+1} = t_{p+1}$, which the read-out predicts.
#
# One layer has no step 1: a key holds only its own token and position, so no query can ask "who
# comes after an `A`?" by content. Our models are `ak.AttentionOnlyModel` (lesson 05): token plus
# learned position embeddings, causal attention layers with residuals, no MLP, a linear read-out,
# and `head_mask` to switch heads off.
#
# ## Training one and two layers, three seeds each
#
# Same width (32), heads (2 per layer), learning rate (3e-3), batch (64) and steps (500) for
# both depths. Every 25 steps we record the loss on a fixed evaluation batch of 256 sequences and
# score every head with `ak.head_scores`: the **previous-token score** is a head's mean weight on
# key $p-1$; the **induction score** its mean weight on key $p - n + 1$ over the queries in the
# copy. (The recording is done inside the loss function, under `torch.no_grad()`, so it does not
# change the training.)

# %%
STEPS, EVERY, LR = 500, 25, 3e-3
x_eval, y_eval, s_eval, n_eval = ak.repeat_batch(256, T, VOCAB, generator=torch.Generator().manual_seed(123))


def eval_loss(model, head_mask=None):
    with torch.no_grad():
        return model.loss(x_eval, y_eval, head_mask=head_mask).item()


def train_model(num_layers, seed):
    """Train one model; return it and its history (eval loss, best scores) every EVERY steps."""
    ak.seed_everything(seed)
    model = ak.AttentionOnlyModel(VOCAB, d_model=32, num_heads=2, max_len=T, num_layers=num_layers,
                                  num_outputs=1)
    history = {"loss": [], "previous": [], "induction": []}
    calls = [0]

    def record():
        history["loss"].append(eval_loss(model))
        previous, induction = ak.head_scores(model.attn_weights, s_eval, n_eval)  # (L, H) each
        history["previous"].append(previous[0].max().item())     # best previous-token head, layer 0
        history["induction"].append(induction[-1].max().item())  # best induction head, last layer

    def loss_fn(m, batch):
        if calls[0] % EVERY == 0:
            record()
        calls[0] += 1
        return m.loss(batch[0], batch[1])

    ak.train(model, lambda g: ak.repeat_batch(64, T, VOCAB, generator=g)[:2], loss_fn, steps=STEPS, lr=LR,
             seed=seed, desc=f"{num_layers} layer(s), seed {seed}")
    record()
    return model, history


SEEDS = range(3)
runs = {L: [train_model(L, seed) for seed in SEEDS] for L in (1, 2)}
record_steps = list(range(0, STEPS + 1, EVERY))
print(f"chance (uniform over {VOCAB} tokens): loss ln {VOCAB} = {math.log(VOCAB):.2f}")
for L, results in runs.items():
    for seed, (model, hist) in zip(SEEDS, results):
        print(f"{L} layer(s), seed {seed}: eval loss on the copy {hist['loss'][0]:.2f} -> {hist['loss'][-1]:.2f}"
              f" | accuracy {model.accuracy(x_eval, y_eval).item():.2f}")

# %% [markdown]
# ## The phase change
# Plot the evaluation loss against the training step (left), and the best induction score in the
# last layer (right).

# %%
fig, (ax_loss, ax_score) = plt.subplots(1, 2, figsize=(11, 3.6), layout="constrained")
for L, color in ((1, "tab:gray"), (2, "tab:blue")):
    for i, (_, hist) in enumerate(runs[L]):
        label = f"{L} layer(s)" if i == 0 else None
        ax_loss.plot(record_steps, hist["loss"], color=color, lw=1.2, label=label)
        ax_score.plot(record_steps, hist["induction"], color=color, lw=1.2, label=label)
ax_loss.axhline(math.log(VOCAB), color="black", ls=":", lw=1, label="chance")
ax_loss.set(xlabel="training step", ylabel="eval loss on the copy", title="loss (3 seeds per depth)")
ax_score.set(xlabel="training step", ylabel="best induction score, last layer", ylim=(0, 1),
             title="weight on the token after the earlier occurrence")
ax_loss.legend(fontsize=8)
_ = ax_score.legend(fontsize=8)

# %% [markdown]
# The two-layer loss does not fall steadily: it creeps down, then drops steeply within roughly a
# hundred steps, then flattens. Below, for each two-layer seed, the 25-step interval with the
# steepest fall of the loss and the one with the steepest rise of the induction score:

# %%
for seed, (_, hist) in zip(SEEDS, runs[2]):
    drops = [a - b for a, b in zip(hist["loss"], hist["loss"][1:])]
    rises = [b - a for a, b in zip(hist["induction"], hist["induction"][1:])]
    i, j = drops.index(max(drops)), rises.index(max(rises))
    print(f"seed {seed}: steepest loss drop at steps {record_steps[i]}-{record_steps[i + 1]} "
          f"({hist['loss'][i]:.2f} -> {hist['loss'][i + 1]:.2f}); steepest induction-score rise at steps "
          f"{record_steps[j]}-{record_steps[j + 1]} ({hist['induction'][j]:.2f} -> {hist['induction'][j + 1]:.2f})")

# %% [markdown]
# On each seed the loss falls fastest in the same 25-step window as the induction score rises
# fastest, or in the window right after it (compare the two intervals printed for the seed). This is the small-scale version of the
# **phase change** Olsson et al. (2022) report in real language models: in-context learning
# improves abruptly, at the same point in training where induction heads form. The one-layer
# models never drop: their loss creeps down and stays far above the two-layer ones.
#
# ### Loss against position in the copy
# If the model copies, the first predictable position in the copy should already be easy: one
# earlier occurrence is enough. Loss by offset $k$ into the copy (query $p = s + n + k$), final
# models, mean over the 3 seeds (min–max in brackets):

# %%
def loss_by_offset(model):
    """Mean eval loss at each offset k = 0 .. 10 into the copy (only where k <= n - 2)."""
    with torch.no_grad():
        logits = model(x_eval)[:, :, 0]  # (B, T, V)
        ce = F.cross_entropy(logits.reshape(-1, VOCAB), y_eval.reshape(-1).clamp_min(0),
                             reduction="none").view(len(x_eval), T)  # (B, T)
    offsets = torch.arange(T)[None] - (s_eval + n_eval)[:, None]  # (B, T): k of each position
    valid = y_eval[:, :, 0] != -100
    return [ce[valid & (offsets == k)].mean().item() for k in range(11)]


by_offset = {L: torch.tensor([loss_by_offset(m) for m, _ in runs[L]]) for L in (1, 2)}  # (seeds, 11)
for L, table in by_offset.items():
    print(f"{L} layer(s):", "  ".join(f"k={k}: {table[:, k].mean():.2f} [{table[:, k].min():.2f}-"
                                      f"{table[:, k].max():.2f}]" for k in (0, 2, 4, 6, 8, 10)))
distances = [sorted(set(n_eval[n_eval - 2 >= k].tolist())) for k in range(11)]
print("copy distances n possible at offset k:", {k: distances[k] for k in (0, 6, 8, 10)})
ax = plt.figure(figsize=(6, 3.4), layout="constrained").add_subplot()
for L, color in ((1, "tab:gray"), (2, "tab:blue")):
    for i, row in enumerate(by_offset[L]):
        ax.plot(range(11), row.tolist(), "o-", color=color, ms=3, label=f"{L} layer(s)" if i == 0 else None)
ax.axhline(math.log(VOCAB), color="black", ls=":", lw=1, label="chance")
ax.set(xlabel="offset k into the copy", ylabel="eval loss", title="loss along the copy (each line a seed)")
_ = ax.legend(fontsize=8)

# %% [markdown]
# The two-layer models are already good at the first position of the copy, $k = 0$: one earlier
# occurrence is enough, they look the answer up. The one-layer models stay high at the start of
# the copy, but their loss falls at large offsets. That is a **positional shortcut**, not
# induction: offset $k$ exists only in segments with $n \ge k + 2$, so at $k = 10$ the only copy
# distance left is 12 (printed above), the answer sits at a fixed distance back, and one layer can
# find it by position. This is why the task varies $n$: with one fixed distance, a single layer
# "solves" the copy by position alone.
#
# ## Finding the two heads from their patterns
# `ak.head_scores` on the final models. For each two-layer seed: every head's previous-token and
# induction score (rows = layers, columns = heads).

# %%
pos = torch.arange(T)[None]  # (1, T)
in_copy = (pos >= s_eval[:, None] + n_eval[:, None]) & (pos < s_eval[:, None] + 2 * n_eval[:, None])  # (B, T)
before_copy = (pos >= 1) & (pos < s_eval[:, None] + n_eval[:, None])  # (B, T): queries 1 .. s+n-1
scores = {}
for seed, (model, _) in zip(SEEDS, runs[2]):
    model(x_eval)
    previous, induction = ak.head_scores(model.attn_weights, s_eval, n_eval)  # (L, H) each
    scores[seed] = previous, induction
    print(f"seed {seed}: previous-token score {[[round(v, 2) for v in r] for r in previous.tolist()]}, "
          f"induction score {[[round(v, 2) for v in r] for r in induction.tolist()]}")
    bp = int(previous[0].argmax())
    back = torch.zeros(len(x_eval), T)  # (B, T): weight of query p on key p - 1
    back[:, 1:] = model.attn_weights[:, 0, bp].diagonal(offset=-1, dim1=-2, dim2=-1)
    print(f"   its best previous-token head 0.{bp} puts {back[before_copy].mean():.2f} on p - 1 for the "
          f"queries before the copy, {back[in_copy].mean():.2f} for those in the copy")
print(f"for comparison: a head spreading its weight evenly over the keys it may see puts "
      f"{(1 / (pos + 1.0)).expand(len(x_eval), T)[in_copy].mean():.2f} on one key, on average over the copy")

# %% [markdown]
# The roles sit where the circuit says: layer 0 holds the previous-token heads, layer 1 the
# induction heads, and neither layer does the other's job. With two heads per layer, the work is
# **shared**: on every seed both layer-1 heads are induction heads, and in layer 0 one head looks
# back more strongly than the other. The strongest previous-token head looks back almost perfectly
# for the queries before the copy, and much less inside the copy. That fits the circuit: the keys
# an induction head reads, $p - n + 1$, lie in the first occurrence, so that is where "my previous
# token was ..." must be written; inside the copy nothing in this task reads it.
#
# Here are the two heads of seed 0 on one evaluation sequence, drawn by the function behind the
# explorer below. The bars are one query's row (orange: the key one step back; green, for a query
# in the copy: the key after the earlier occurrence); the grey bands mark the segment and its
# copy. Layer 0 is shown at a query in the first occurrence, layer 1 at a query in the copy.

# %%
model = runs[2][0][0]
model(x_eval[:1])
weights0 = model.attn_weights[0]  # (L, H, T, T)
s_ex, n_ex = s_eval[0].item(), n_eval[0].item()
previous, induction = scores[0]
best_prev, best_ind = int(previous[0].argmax()), int(induction[1].argmax())
display(ak.widgets.draw_induction_pattern(weights0, x_eval[0].tolist(), s_ex, n_ex, layer=0, head=best_prev,
                                          query=s_ex + n_ex // 2))
display(ak.widgets.draw_induction_pattern(weights0, x_eval[0].tolist(), s_ex, n_ex, layer=1, head=best_ind))

# %% [markdown]
# ### Explore the heads
# Pick a layer, a head and a query position (live in JupyterLab; the static figures above are
# the same drawing). Try queries before the copy, in the copy, and at its last token.

# %%
ak.widgets.induction_explorer(weights0, x_eval[0].tolist(), s_ex, n_ex)

# %% [markdown]
# ## Ablation: switch the heads off
# An attention map shows where a head looks; it does not prove the model *uses* it. Switching a
# head off (`head_mask`) and measuring the loss does. For each two-layer seed: the loss on the
# copy with all heads on, with the best previous-token head off, with the best induction head off,
# and with both heads of a layer off.

# %%
def ablated(model, off):
    head_mask = torch.ones(model.num_layers, model.num_heads)
    for layer, head in off:
        head_mask[layer, head] = 0.0
    return eval_loss(model, head_mask), model.accuracy(x_eval, y_eval, head_mask=head_mask).item()


for seed, (model, _) in zip(SEEDS, runs[2]):
    previous, induction = scores[seed]
    bp, bi = int(previous[0].argmax()), int(induction[1].argmax())
    cases = {"all heads on": [], f"prev-token head 0.{bp} off": [(0, bp)],
             f"induction head 1.{bi} off": [(1, bi)], "both layer-0 heads off": [(0, 0), (0, 1)],
             "both layer-1 heads off": [(1, 0), (1, 1)]}
    print(f"seed {seed}: " + " | ".join(f"{name}: loss {lo:.2f}, acc {acc:.2f}"
                                        for name, (lo, acc) in ((n, ablated(model, off)) for n, off in cases.items())))

# %% [markdown]
# Switching off a whole layer destroys the copying on every seed: with both layer-1 heads off,
# loss and accuracy are at chance (accuracy chance is 1/32 ≈ 0.03); with both layer-0 heads off,
# the loss is back near ln 32 and the accuracy far below the intact model's. Both steps of the circuit are needed. A single head costs less
# when its partner shares the job; the strongest previous-token head is the one the model leans
# on most, and either induction head alone still carries part of the copying.
#
# ## One layer cannot: what it learns instead
# The one-layer models' heads, and a hint of what they do. A model that cannot look the answer
# up can still bet on the tokens **it has already seen** in the sequence (the right answer in the
# copy is always one of them); Elhage et al. (2021) describe such one-layer behaviour. We measure
# the share of its predicted probability that falls on tokens present earlier in the sequence.

# %%
def mass_on_seen(model):
    with torch.no_grad():
        probs = model(x_eval)[:, :, 0].softmax(-1)  # (B, T, V)
    seen = F.one_hot(x_eval, VOCAB).cumsum(1).clamp_max(1).bool()  # (B, T, V): token seen at or before p
    valid = y_eval[:, :, 0] != -100
    return (probs * seen).sum(-1)[valid].mean().item()


for L in (1, 2):
    for seed, (model, _) in zip(SEEDS, runs[L]):
        model(x_eval)
        previous, induction = ak.head_scores(model.attn_weights, s_eval, n_eval)
        print(f"{L} layer(s), seed {seed}: best previous-token score {previous[0].max():.2f}, best induction "
              f"score {induction[-1].max():.2f}, probability on tokens already seen {mass_on_seen(model):.2f}")

# %% [markdown]
# The one-layer models put most of their probability on tokens already seen, but they cannot tell
# which of them comes next, so their loss stays far from the two-layer models' (where they do
# better, at large offsets, position gives the answer away, as measured above). Their heads
# score low both ways. The two-layer models put nearly all their probability on seen tokens, and
# the accuracy says it is usually the right one.
#
# ## Attention as a spotlight, literally
#
# The syllabus pictures attention as a **spotlight on a stage** that lights up the actors that
# matter, and connects it with human visual attention. With images we can take the picture
# literally. This is also the myth from lesson 04, *"attention is only for language"*, answered a
# second time: lesson 04 fed attention a signal; Vision Transformers (Dosovitskiy et al., 2021)
# feed it **image patches** as tokens.
#
# The data: 16×16 images of Gaussian noise with one small bright shape (a plus, a cross or a
# ring, 3×3 pixels) at a random place; the label is the shape. The shape always lies inside one
# 4×4 patch, so it covers 1 of the 16 patches.

# %%
PATCH = 4
x_img, y_img, m_img = ak.shape_images(1000, patch_size=PATCH, generator=torch.Generator().manual_seed(99))
on_object = ak.object_patches(m_img, PATCH)  # (B, 16): which patch holds the shape
print("images", tuple(x_img.shape), "| patch tokens", tuple(ak.image_to_patches(x_img, PATCH).shape),
      "(B, N, pixels per patch)")
print("object patches per image:", on_object.sum(1).unique().tolist(),
      f"-> share of the image: {on_object.float().mean():.4f}")
fig, axes = plt.subplots(1, 6, figsize=(11, 2.2), layout="constrained")
for i, ax in enumerate(axes):
    ax.imshow(x_img[i, 0], cmap="gray")
    ax.set(xticks=[], yticks=[], title=ak.SHAPE_NAMES[y_img[i]])
_ = fig.suptitle("the task: which shape is in the noise?")

# %% [markdown]
# The model, `ak.TinyViT`: each 4×4 patch (`ak.image_to_patches`, exercise 1) is embedded by one
# linear map, a learned **class token** goes in front, learned positions are added, and **one**
# pre-norm encoder layer (1 head) mixes the 17 tokens. The classifier reads only the class
# token's output, so whatever the class token attends to is what the decision is made from.

# %%
ak.quiz.ask(
    "Before any training, what share of the class token's attention falls on the patch that holds "
    "the shape (1 of 16 patches)?",
    ["about 1/16: it has no reason to prefer any patch",
     "most of it: the shape is the brightest thing in the image",
     "none: the class token attends only to itself"],
    answer=0,
    explanation="At initialisation, queries and keys are random projections; nothing ties them to the "
                "shape. The spotlight has to be learned. We measure it before and after training.",
)

# %%
def spotlight_share(vit):
    """Accuracy, and the class token's mean attention share on the object's patch (test images)."""
    with torch.no_grad():
        correct = vit(x_img).argmax(-1) == y_img  # (B,)
    spot = vit.class_attention()  # (B, N)
    share = (spot * on_object).sum(1).mean().item()  # mean share on the object's patch
    hit = on_object.gather(1, spot.argmax(1, keepdim=True))[:, 0]  # (B,): brightest spot on the object?
    return correct.float().mean().item(), share, hit, correct


vits = []
for seed in SEEDS:
    ak.seed_everything(seed)
    vit = ak.TinyViT(image_size=16, patch_size=PATCH, d_model=32, num_heads=1, num_classes=3)
    before = spotlight_share(vit)
    ak.train(vit, lambda g: ak.shape_images(64, patch_size=PATCH, generator=g),
             lambda m, b: F.cross_entropy(m(b[0]), b[1]), steps=300, lr=3e-3, seed=seed, desc=f"ViT seed {seed}")
    after = spotlight_share(vit)
    vits.append(vit)
    print(f"seed {seed}: accuracy {before[0]:.2f} -> {after[0]:.2f} (chance 0.33) | class-token attention on "
          f"the object's patch {before[1]:.2f} -> {after[1]:.2f} (its share of the image: 1/16 = 0.06)")
    hit, correct = after[2], after[3]
    print(f"   after training: the most-attended patch is the object's on {hit.float().mean():.2f} of the "
          f"images; accuracy there {correct[hit].float().mean():.2f}, elsewhere {correct[~hit].float().mean():.2f}")

# %% [markdown]
# Before training, the object's patch gets about its share of the image of the class token's
# attention. After training, on every seed, most of the class token's
# attention falls on the one patch in sixteen that holds the shape: the spotlight was learned,
# from nothing but the class labels. And it matters for the answer: on every seed, the images
# where the class token's most-attended patch is *not* the shape's are classified much less
# accurately (though above chance) than those where it is. Here it is on test images (seed 0), the heatmap laid over
# each image and the shape's patch boxed in cyan:

# %%
vit = vits[0]
with torch.no_grad():
    predicted = vit(x_img[:8]).argmax(-1)
    spot = vit.class_attention()  # (8, 16)
fig, axes = plt.subplots(2, 4, figsize=(10, 5.4), layout="constrained")
for i, ax in enumerate(axes.flat):
    share = (spot[i] * on_object[i]).sum().item()
    ak.plot.plot_patch_attention(x_img[i, 0], spot[i], PATCH, ax=ax, highlight=on_object[i],
                                 title=f"{ak.SHAPE_NAMES[y_img[i]]} -> {ak.SHAPE_NAMES[predicted[i]]}, "
                                       f"{share:.2f} on it")
_ = fig.suptitle("class token's attention over the patches (seed 0); cyan box: the shape's patch; "
                 "title: true -> predicted, share on the shape")

# %% [markdown]
# The spotlight is a good picture here because the task makes one patch matter. Two cautions
# keep it honest:
# - **A map is not a proof.** Attention weights show where a head reads, not that the output
#   depends on it; attention maps can be changed a lot with little change in predictions (Jain &
#   Wallace, 2019). For the induction heads we therefore ablated them; here the hit-or-miss
#   accuracy above ties the map to the answer.
# - **Not every head is a spotlight.** This lesson's previous-token heads look at a fixed offset
#   (one step back), not at an object, and lesson 05's heads looked at the previous position and at
#   position 0; "spotlight" describes this model on this task.
#
# ## Recap
# - Copying from context takes two steps: a **previous-token head** (layer 0) writes each token's
#   predecessor into it, an **induction head** (layer 1) matches the current token against those
#   and copies the token after the match. Two-layer attention-only models learned it on 3 of 3
#   seeds; one-layer models, with the same steps and learning rate, did not.
# - It appears in a **phase change**: the loss drops steeply in the same window of training as the
#   induction score rises, as Olsson et al. (2022) report for language models.
# - Scores from the maps (`ak.head_scores`) find the heads; **ablation** proves they are used:
#   switch off either layer's heads and the copying breaks down (loss back near chance).
# - A ViT-style model's **class token** learns to spotlight the one patch that holds the object,
#   from labels alone: attention works on any set of tokens, image patches included.
#
# **Exercises:** `my-work/10_what_heads_learn.ipynb`: cut images into patch tokens, and score a
# head as previous-token or induction head from its map; the checkers name the usual mistakes.
#
# ## References
# - Olsson, C., Elhage, N., Nanda, N., et al. (2022). *In-context Learning and Induction Heads.*
#   Transformer Circuits Thread.
# - Elhage, N., Nanda, N., Olsson, C., et al. (2021). *A Mathematical Framework for Transformer
#   Circuits.* Transformer Circuits Thread.
# - Dosovitskiy, A., Beyer, L., Kolesnikov, A., et al. (2021). *An Image is Worth 16x16 Words:
#   Transformers for Image Recognition at Scale.* ICLR.
# - Jain, S., & Wallace, B. C. (2019). *Attention is not Explanation.* NAACL.
