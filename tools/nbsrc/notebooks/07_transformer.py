# %% [markdown]
# # 07 · The Transformer: encoder, decoder, and what attention buys
#
# Attention alone mixes information between positions, but a model needs more: a place to
# *compute* on what it gathered, a way to stack many layers without the signal blowing up or
# dying, and positions. The Transformer packs all of it into repeatable blocks. The **encoder
# layer** is self-attention, a feed-forward network, residual connections and layer
# normalisation. The **decoder layer** adds two things: a causal mask, so that each position
# sees only itself and earlier positions and the model can be trained to predict the next token, and
# **cross-attention**, which lets the decoder read the encoder's output. In this lesson we build
# both, check each against PyTorch's own module, train an encoder that sorts, a decoder-only
# language model that writes text, and an encoder–decoder that reverses a sequence; then we
# measure what "attention runs in parallel" really buys, and test whether the most-attended
# token is really the one that matters.
#
# **You will be able to**
# - write an encoder layer (attention + feed-forward, residuals, LayerNorm) and say where each piece goes;
# - train `ak.TinyTransformer` on a toy task and read its learned attention maps;
# - explain pre-norm vs post-norm and what changes in training and in gradients;
# - build a decoder layer: causal self-attention, cross-attention to the encoder, feed-forward;
# - train a decoder-only model with a next-token loss and generate text with it;
# - say where attention's parallelism helps (and where it does not), with measurements;
# - show, with a measurement, why attention weights are not explanations.
#
# **Time:** about 75 minutes, plus 15 for the exercises (reading carefully and running every cell).

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
    "In a Transformer encoder layer, what does self-attention do on its own?",
    ["Everything: the layer is just attention",
     "It mixes information across positions; a feed-forward network then transforms each position, "
     "with residuals and normalisation around both",
     "It replaces the embeddings, so positions are no longer needed"],
    answer=1,
    explanation="Attention computes weighted averages of the values: it moves information between "
                "positions, and once the weights are fixed its output is linear in the values; its "
                "nonlinearity comes from the scores (queries times keys) and the softmax over them, and it "
                "has no per-position activation like the feed-forward's ReLU. The feed-forward block does the per-position computation, "
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
# The **pre-norm** layer moves the norm inside the residual branch:
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
# a short warm-up and gradient clipping. A result from one training run could be luck, so we
# train three seeds; accuracy is measured on 512 fresh sequences.

# %%
sort_setup = dict(length=8, steps=200, batch_size=64, lr=3e-3, d_model=32, num_heads=4, num_layers=2,
                  dim_feedforward=64)
fresh_inputs, fresh_targets = ak.toy_batch("sort", 512, 8, generator=torch.Generator().manual_seed(12345))
post_models, post_losses, post_acc = {}, {}, {}
for seed in (0, 1, 2):
    post_models[seed], post_losses[seed] = ak.train_tiny_transformer(
        "sort", seed=seed, norm_first=False, progress=False, **sort_setup)
    post_acc[seed] = ak.toy_task_accuracy(post_models[seed], "sort", 8)  # the same 512 fresh sequences
    with torch.no_grad():
        whole = (post_models[seed](fresh_inputs).argmax(-1) == fresh_targets).all(-1).float().mean().item()
    print(f"post-norm, seed {seed}: final loss {sum(post_losses[seed][-20:]) / 20:.3f}, "
          f"token accuracy {post_acc[seed]:.3f}, whole sequence sorted right {whole:.3f}")
post_model = post_models[0]  # the one we look inside

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
# tokens. Every head of both layers of the seed-0 model, for the first example:

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
# strategy: find the digit of the right rank, copy it. The first layer's maps are more diffuse.
# Explore every example, layer and head:

# %%
ak.widgets.encoder_attention_explorer(post_model.attn_weights, key_labels, query_labels)

# %% [markdown]
# The static twin: the last layer, mean over heads, first example. Then we count, for each of the
# three seeds over 512 examples, how often a query's most-attended key (last layer, mean over
# heads) holds the digit that query outputs, and how often a key picked at random would:

# %%
display(ak.widgets.draw_encoder_attention(post_model.attn_weights, key_labels, query_labels, layer=1, head=-1))
eval_inputs, _ = ak.toy_batch("sort", 512, 8, generator=torch.Generator().manual_seed(5))
for seed, m in post_models.items():
    with torch.no_grad():
        eval_pred = m(eval_inputs).argmax(-1)  # (B, T)
    top_key = m.layers[-1].attn_weights.mean(1).argmax(-1)  # (B, T) most-attended key per query
    holds_output = (eval_inputs.gather(1, top_key) == eval_pred).float().mean().item()
    random_key = (eval_inputs[:, :, None] == eval_pred[:, None, :]).float().mean().item()
    print(f"seed {seed}: most-attended key holds the output digit for {holds_output:.1%} of queries "
          f"(a random key: {random_key:.1%})")

# %% [markdown]
# ## Pre-norm vs post-norm
#
# Same data, same seeds, same steps and learning rate; only `norm_first` changes. Pre-norm keeps
# an un-normalised residual stream from input to output (with one final LayerNorm before the
# head), so every layer receives the gradient of the loss through a plain sum. Post-norm puts a
# LayerNorm on that path after every block.

# %%
pre_losses, pre_acc = {}, {}
for seed in (0, 1, 2):
    pre_model, pre_losses[seed] = ak.train_tiny_transformer(
        "sort", seed=seed, norm_first=True, progress=False, **sort_setup)
    pre_acc[seed] = ak.toy_task_accuracy(pre_model, "sort", 8)
for name, runs, acc in (("post-norm", post_losses, post_acc), ("pre-norm", pre_losses, pre_acc)):
    at_50 = [sum(losses[40:60]) / 20 for losses in runs.values()]
    final = [sum(losses[-20:]) / 20 for losses in runs.values()]
    print(f"{name:9s} (seeds 0, 1, 2): loss at step 50 {', '.join(f'{v:.3f}' for v in at_50)}; "
          f"final {', '.join(f'{v:.3f}' for v in final)}; "
          f"token accuracy {', '.join(f'{a:.3f}' for a in acc.values())}")
ax = ak.plot.plot_loss_curves({"post-norm": list(post_losses.values()), "pre-norm": list(pre_losses.values())},
                              smooth=10, title="sort, 2 layers, 3 seeds each, same lr and steps")

# %% [markdown]
# With two layers both orders learn the task on every seed. Pre-norm ends each seed with a somewhat
# lower loss, and the token accuracies of the two are close; compare the three numbers of each row
# to see how much of a difference the seed alone makes. Where do they differ inside? We take freshly
# initialised 12-layer stacks of each kind (three initialisation seeds) and measure, on one batch,
# the size of the residual stream after each layer and the gradient norm that reaches each layer:

# %%
stream_norms, grad_norms = {}, {}
batch = ak.toy_batch("sort", 64, 8, generator=torch.Generator().manual_seed(0))
for norm_first in (False, True):
    for seed in (0, 1, 2):
        torch.manual_seed(seed)
        deep = ak.TinyTransformer(10, d_model=32, num_heads=4, num_layers=12, max_len=8, dim_feedforward=64,
                                  norm_first=norm_first)
        with torch.no_grad():
            h = deep.embed_tokens(batch[0])  # (B, T, D)
            norms = []
            for layer in deep.layers:
                h = layer(h)  # (B, T, D)
                norms.append(h.norm(dim=-1).mean().item())
        stream_norms[norm_first, seed] = norms
        ak.toy_task_loss(deep, batch).backward()
        grad_norms[norm_first, seed] = [torch.cat([p.grad.flatten() for p in layer.parameters()]).norm().item()
                                        for layer in deep.layers]
for norm_first, name in ((False, "post-norm"), (True, "pre-norm")):
    for seed in (0, 1, 2):
        s_, g_ = stream_norms[norm_first, seed], grad_norms[norm_first, seed]
        print(f"{name:9s} seed {seed}: stream norm layer 0 {s_[0]:.1f} -> layer 11 {s_[-1]:.1f};  "
              f"gradient norm layer 0 {g_[0]:.3f} -> layer 11 {g_[-1]:.3f} (ratio {g_[-1] / g_[0]:.2f})")

fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), layout="constrained")
for norm_first, name, marker in ((False, "post-norm", "o-"), (True, "pre-norm", "s-")):
    axes[0].plot(range(12), stream_norms[norm_first, 0], marker, label=name)
    axes[1].plot(range(12), grad_norms[norm_first, 0], marker, label=name)
axes[0].set_ylabel("mean |h| after the layer")
axes[1].set_ylabel("gradient norm at initialisation")
for ax in axes:
    ax.set_xlabel("layer (0 = next to the input)")
    ax.legend()
axes[0].set_title("The residual stream (seed 0)")
axes[1].set_title("Where the gradient lands (seed 0)")
plt.show()

# %% [markdown]
# Post-norm renormalises the stream after every block, so its size stays at $\sqrt{D} \approx 5.7$
# (a LayerNorm at initialisation outputs vectors of mean 0 and variance 1 per position);
# each LayerNorm on the residual path also rescales the gradient that flows back through it.
# Pre-norm leaves the residual path as a plain sum: the stream grows layer after layer, and the
# gradient reaches every layer through that sum, passing only the final LayerNorm before the read-out.
# At initialisation, in all six 12-layer stacks, the last layer's gradient is within a factor of two
# of the first layer's (post-norm's last layer gets a little more, pre-norm's a little less), so at
# this size neither order starves a layer. Large models such as GPT-2 (Radford et al. 2019) and
# LLaMA (Touvron et al. 2023) use pre-norm; the LLaMA paper gives training stability as its reason
# (and normalises with RMSNorm, which rescales by the root mean square without subtracting the
# mean). Xiong et al. (2020) show that post-norm Transformers need a careful learning-rate warm-up
# while pre-norm ones can do without. That is the literature's result, not something this notebook measured.
#
# ## The decoder: causal self-attention
#
# The encoder reads a whole input at once. A model that **writes** a sequence, one token after
# the other, must be trained so that position $t$ predicts token $t+1$ from tokens $0..t$ only:
# if it could look at token $t+1$ during training, it would learn to copy it and be useless when
# it has to generate. The **causal mask** (lesson 05's `ak.causal_mask`) removes every key after
# the query:
# $$\operatorname{weights}_{ij} = \frac{e^{s_{ij}}\,[j \le i]}{\sum_{j' \le i} e^{s_{ij'}}} .$$

# %%
ak.quiz.ask(
    "We train a decoder with the causal mask on whole sentences, all positions at once. "
    "What happens to the outputs at positions 0..4 if we change the token at position 5?",
    ["They change a little: attention mixes every position",
     "They do not change at all: no query before position 5 may read key 5",
     "Only position 4 changes: it is next to position 5"],
    answer=1,
    explanation="With the mask, the weight from query i to key j > i is exactly zero, in every layer, so "
                "nothing about token 5 can reach positions 0..4. That is what lets us train all positions "
                "in parallel (teacher forcing) and still generate one token at a time later. Measured below.",
)

# %%
T = 5
scores = torch.randn(T, T)  # (Tq, Tk) made-up scores
keep = ak.causal_mask(T)  # True where key j <= query i
causal_weights = torch.softmax(scores.masked_fill(~keep, float("-inf")), dim=-1)  # (Tq, Tk)
print(causal_weights)
print("row sums", causal_weights.sum(-1))

# %% [markdown]
# ## The decoder layer, checked against PyTorch
#
# A decoder layer of the encoder–decoder Transformer has three blocks, each with its residual and
# LayerNorm (post-norm shown; pre-norm moves each norm inside its branch as before):
# $$H_1 = \operatorname{LN}\big(X + \operatorname{MHA}_{\text{causal}}(X, X, X)\big),\quad
# H_2 = \operatorname{LN}\big(H_1 + \operatorname{MHA}(H_1, M, M)\big),\quad
# Y = \operatorname{LN}\big(H_2 + \operatorname{FFN}(H_2)\big).$$
# The middle block is **cross-attention**: the queries come from the decoder ($H_1$), the keys and
# values from the encoder's output $M$ (the "memory"), so every decoder position can read any
# input position. It plays the role of lesson 02's additive attention between the GRU decoder and
# its encoder (Bahdanau et al. 2015).
# `ak.TransformerDecoderLayer` is built from two `ak.MultiHeadAttention`; its `from_torch` copies
# PyTorch's `nn.TransformerDecoderLayer`. Note the masks: attnkit's is `True` = may attend,
# PyTorch's `tgt_mask` is `True` = may **not**, hence the `~`.

# %%
memory = torch.randn(2, 9, D)  # (B, S, D): an encoder output with 9 source positions
for norm_first in (False, True):
    torch.manual_seed(1)
    theirs = nn.TransformerDecoderLayer(D, num_heads, dim_feedforward=d_ff, dropout=0.0,
                                        batch_first=True, norm_first=norm_first).eval()
    ours = ak.TransformerDecoderLayer.from_torch(theirs).eval()
    with torch.no_grad():
        diff = (ours(x, memory) - theirs(x, memory, tgt_mask=~ak.causal_mask(6))).abs().max().item()
    print(f"decoder layer, norm_first={norm_first}: max abs diff {diff:.1e}")
print("self-attention weights", tuple(ours.self_attn_weights.shape), "(B, H, T, T);",
      "cross-attention weights", tuple(ours.cross_attn_weights.shape), "(B, H, T, S)")

# %% [markdown]
# A **decoder-only** model (the GPT family) has no encoder, so its blocks drop the cross-attention:
# what remains is exactly an encoder layer run with a causal mask.
# `ak.TransformerDecoderLayer(..., cross_attention=False)` is that block, and `from_torch` accepts
# PyTorch's encoder layer to prove it:

# %%
torch.manual_seed(2)
theirs = nn.TransformerEncoderLayer(D, num_heads, dim_feedforward=d_ff, dropout=0.0, activation="gelu",
                                    batch_first=True, norm_first=True).eval()
block = ak.TransformerDecoderLayer.from_torch(theirs).eval()  # cross_attention=False
with torch.no_grad():
    diff = (block(x) - theirs(x, src_mask=~ak.causal_mask(6))).abs().max().item()
print(f"decoder-only block vs nn.TransformerEncoderLayer with a causal mask: max abs diff {diff:.1e}")

# %% [markdown]
# ## A decoder-only language model that writes
#
# `ak.CausalLM` = token embedding + learned positions + a stack of pre-norm
# `ak.TransformerDecoderLayer(cross_attention=False)` blocks with GELU, as in GPT-2 (Radford et
# al. 2019) + a final LayerNorm + a linear read-out. We train it on the course corpus, one word per
# token, with the **next-token loss**: windows of 24 tokens, the targets are the same windows
# shifted by one, and cross-entropy is taken at every position at once (`ak.next_token_loss`).
# Three seeds, same learning rate and steps:

# %%
vocab = ak.corpus_vocab()
corpus_ids = torch.cat([vocab.encode(sentence) for sentence in ak.CORPUS])  # (N,) word ids
context = 24
print(f"{corpus_ids.numel()} tokens, {len(vocab)} distinct; "
      f"guessing uniformly would give a loss of ln {len(vocab)} = {math.log(len(vocab)):.2f}")
lms, lm_losses = {}, {}
for seed in (0, 1, 2):
    torch.manual_seed(seed)
    lms[seed] = ak.CausalLM(len(vocab), d_model=48, num_heads=4, num_layers=2, max_len=context)
    lm_losses[seed] = ak.train(lms[seed], lambda g: ak.char_lm_batch(corpus_ids, 32, context, generator=g),
                               ak.next_token_loss, steps=100, lr=3e-3, seed=seed, warmup=10, clip=1.0,
                               progress=False)
    print(f"seed {seed}: loss {lm_losses[seed][0]:.2f} at step 1 -> {sum(lm_losses[seed][-20:]) / 20:.3f} "
          f"(mean of the last 20 steps)")

# %% [markdown]
# Generation runs the model, takes the last position's prediction, appends it and repeats:
# one token per step (`generate`; a KV cache makes each step cheap and gives the same tokens,
# as expert notebook 11 measures). Greedy picks the most likely word; sampling at temperature 1 draws from
# the predicted distribution. To see how much is recited, we count the generated 4-word
# sequences that occur word for word in the corpus. Then the causal mask's promise, measured:

# %%
prompt = vocab.encode("the dog")[None]  # (1, 2)
corpus_words = [vocab.itos[i] for i in corpus_ids.tolist()]
corpus_4grams = {tuple(corpus_words[i:i + 4]) for i in range(len(corpus_words) - 3)}


def recited(ids):  # (1, L) -> (4-word sequences found in the corpus, 4-word sequences)
    words = vocab.decode(ids[0])
    grams = [tuple(words[i:i + 4]) for i in range(len(words) - 3)]
    return sum(g in corpus_4grams for g in grams), len(grams)


for seed, model_ in lms.items():
    greedy = model_.generate(prompt, context - 2)  # (1, 24)
    sampled = model_.generate(prompt, context - 2, temperature=1.0, generator=torch.Generator().manual_seed(0))
    if seed == 0:
        for name, ids in (("greedy ", greedy), ("sampled", sampled)):
            print(f"seed 0, {name}: {' '.join(vocab.decode(ids[0]))}")
    (g_in, g_all), (s_in, s_all) = recited(greedy), recited(sampled)
    print(f"seed {seed}: 4-word sequences that occur in the corpus: greedy {g_in} of {g_all}, "
          f"sampled {s_in} of {s_all}")
lm = lms[0]
greedy = lm.generate(prompt, context - 2)  # (1, 24) seed 0's greedy text, used below
print("same tokens with the KV cache as without (seed 0):",
      torch.equal(greedy, lm.generate(prompt, context - 2, use_cache=False)))

ids = greedy[:, :12]  # (1, 12)
changed = ids.clone()
changed[0, 11] = (changed[0, 11] + 1) % len(vocab)  # change the last token only
with torch.no_grad():
    moved = (lm(changed) - lm(ids)).abs().amax(-1)[0]  # (12,) largest logit change per position
print(f"changing token 11 moves the logits at positions 0-10 by at most {moved[:11].max().item():.1e}, "
      f"at position 11 by {moved[11].item():.2f}")

# %% [markdown]
# The loss falls far below uniform guessing on all three seeds, and greedy text is made of corpus
# sentences: on every seed, all 21 of its 4-word sequences occur in the corpus. With 202 tokens of
# training text, the model mostly **memorises** it. Sampling recombines pieces (14 to 17 of the 21
# found in the corpus, depending on the seed). That is the mechanism of a language model (causal attention, the
# next-token loss, one token per step), not language understanding; GPT-style models are trained
# with this recipe on vastly more text and parameters (Radford et al. 2019). The causal self-attention of the last layer, mean over
# heads, on the first 12 generated words: nothing above the diagonal.

# %%
labels = vocab.decode(greedy[0, :12])
with torch.no_grad():
    lm(greedy[:, :12])
ax = ak.plot_attention(lm.attn_weights[-1][0].mean(0), labels, labels, annotate=False,
                       title="CausalLM, last layer, mean over heads")

# %% [markdown]
# ## Cross-attention: an encoder–decoder that reverses
#
# `ak.TinySeq2Seq` puts the two halves together: an encoder (`ak.TransformerEncoderLayer`) reads
# 8 digits, a decoder (`ak.TransformerDecoderLayer`) writes them in reverse order, one digit per
# step. In training the decoder's input is the target shifted right behind a start token
# (`shift_right`), all positions at once under the causal mask; at test time `generate` feeds back
# its own outputs (greedy). Three seeds, 100 steps each:

# %%
seq2seq, s2s_losses = {}, {}
for seed in (0, 1, 2):
    seq2seq[seed], s2s_losses[seed] = ak.train_seq2seq(
        "reverse", length=8, steps=100, batch_size=64, lr=3e-3, seed=seed, d_model=32, num_heads=4,
        dim_feedforward=64, progress=False)
    token_acc, sequence_acc = ak.seq2seq_accuracy(seq2seq[seed], "reverse", 8)
    print(f"seed {seed}: greedy decoding of 512 fresh inputs: token accuracy {token_acc:.3f}, "
          f"whole sequence right {sequence_acc:.3f}")
s2s = seq2seq[0]
src, tgt = ak.toy_batch("reverse", 256, 8, generator=torch.Generator().manual_seed(5))
print("input", src[0].tolist(), "-> generated", s2s.generate(src[:1])[0].tolist())

# %% [markdown]
# Where does each output step read? The cross-attention weights `(B, H, T, S)`: a row per decoder
# position (labelled with the digit it writes), a column per input position. For a reversal, the
# digit written at step $i$ sits at input position $7 - i$:

# %%
with torch.no_grad():
    s2s(src, s2s.shift_right(tgt))  # teacher-forced pass: keeps the cross-attention weights
ax = ak.plot_attention(s2s.cross_attn_weights[0][0].mean(0), [str(t) for t in src[0].tolist()],
                       [f"→{t}" for t in tgt[0].tolist()], title="cross-attention, seed 0, mean over heads")
steps_ = torch.arange(8)
for seed, m in seq2seq.items():
    with torch.no_grad():
        m(src, m.shift_right(tgt))
    cross = m.cross_attn_weights[0].mean(1)  # (B, T, S)
    mirrored = cross[:, steps_, 7 - steps_]  # (B, T) weight on the input position each step copies
    is_top = (cross.argmax(-1) == 7 - steps_).float().mean().item()  # share of rows where it is the top key
    print(f"seed {seed}: mirrored position is the most-attended key in {is_top:.1%} of rows; its weight "
          f"{mirrored.mean().item():.3f} on average (uniform: {1 / 8:.3f}), per output step "
          f"{', '.join(f'{w:.2f}' for w in mirrored.mean(0).tolist())}")

# %% [markdown]
# The anti-diagonal is the reversal: on every seed the mirrored input position is the
# most-attended key in most rows (85.6% to 92.5%), and it gets 0.527 to 0.584 of the weight on
# average: 0.82 to 0.88 at the first output step, about half (0.46 to 0.58) at the others. The weight elsewhere is not necessarily wasted: the encoder's self-attention has
# already mixed the positions, so the vector at one input position also carries information about
# others (the pitfall at the end of this lesson comes back to this).
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

# %% [markdown]
# Vaswani et al. (2017, Table 1) compare layers by three counts, for length $n$ and width $d$:
#
# | layer | operations per layer | sequential steps | longest path between two positions |
# | --- | --- | --- | --- |
# | self-attention | $O(n^2 d)$ | $O(1)$ | $O(1)$ |
# | recurrent (RNN, GRU) | $O(n d^2)$ | $O(n)$ | $O(n)$ |
#
# The parallelism is in the middle column, and it pays off where there is hardware to run many
# operations at once. What does it mean on this CPU? We time, for a batch of 2 sequences of
# width 64, forward pass only:
# 1. a GRU stepped through time, one Python call per position (as lesson 02's decoder does);
# 2. the same GRU in **one** `nn.GRU` call: the loop over time now runs inside PyTorch's C++
#    kernel, but it still takes $T$ steps in order;
# 3. attention computed **one query position at a time** (the same arithmetic as 4, in $T$ pieces);
# 4. attention for **all** positions at once, materialising the $T \times T$ weights: only
#    $\operatorname{softmax}(QK^\top/\sqrt{d_k})\,V$, with $Q, K, V$ computed before the timer;
# 5. the whole attention layer (`mha_layer(seq, seq, seq)`: the $Q, K, V$ and output projections
#    included), the fair match for the GRU call, which includes all of the GRU's matrices.
#
# The cell also times one call that carries a **single** query (over all $T$ keys), to see the fixed
# cost of a call. Each time is the fastest of 3 runs after one warm-up run (`ak.best_time`). The two
# step-by-step methods (1 and 3) are timed up to $T = 256$ only (`nan` at 512): their trend is
# clear by then, and they are the slowest to time.
#
# Timings depend on the machine and its load, so this cell's numbers are not compared by the tests
# and the text below does not quote them: read the ratios the cell prints.

# %%
# NBVAL_IGNORE_OUTPUT
lengths = [16, 32, 64, 128, 256, 512]
width = 64
gru = nn.GRU(width, width, batch_first=True)
mha_layer = ak.MultiHeadAttention(width, num_heads)


def gru_step_by_step(seq):  # (B, T, D)
    state = None
    for t in range(seq.shape[1]):  # T calls, each needs the previous state
        _, state = gru(seq[:, t : t + 1], state)  # state: (1, B, D)
    return state


def attention_one_query_at_a_time(q, k, v):  # (B, H, T, Dh) each
    return torch.cat([ak.attention(q[:, :, t : t + 1], k, v)[0] for t in range(q.shape[2])], dim=2)


names = ["GRU, step by step", "GRU, one call", "attention, one query at a time", "attention, all at once",
         "attention layer (with projections)"]
timings = {name: [] for name in names}
single_query = []  # one call that carries one query
with torch.no_grad():
    for T in lengths:
        seq = torch.randn(2, T, width)  # (B, T, D)
        q, k, v = (mha_layer.split_heads(proj(seq)) for proj in
                   (mha_layer.q_proj, mha_layer.k_proj, mha_layer.v_proj))  # (B, H, T, Dh) each
        stepwise = T <= 256  # the step-by-step methods: their trend is clear by T = 256
        timings[names[0]].append(ak.best_time(gru_step_by_step, seq) if stepwise else math.nan)
        timings[names[1]].append(ak.best_time(gru, seq))
        timings[names[2]].append(ak.best_time(attention_one_query_at_a_time, q, k, v) if stepwise else math.nan)
        timings[names[3]].append(ak.best_time(ak.attention, q, k, v))
        timings[names[4]].append(ak.best_time(mha_layer, seq, seq, seq))
        single_query.append(ak.best_time(ak.attention, q[:, :, :1], k, v))
print("   T | GRU stepped | GRU one call | attn 1 query at a time | attn all at once | attn layer | "
      "1 call, 1 query  (ms)")
for i, T in enumerate(lengths):
    t_step, t_gru, t_loop, t_all, t_layer = (timings[name][i] for name in names)
    print(f"{T:4d} | {t_step * 1e3:11.2f} | {t_gru * 1e3:12.2f} | {t_loop * 1e3:22.2f} | {t_all * 1e3:16.2f} | "
          f"{t_layer * 1e3:10.2f} | {single_query[i] * 1e3:15.3f}")
print("\nratios:   T | GRU stepped / one call | attn one at a time / all at once | GRU one call / attn all at once "
      "| GRU one call / attn layer")
for i, T in enumerate(lengths):
    t_step, t_gru, t_loop, t_all, t_layer = (timings[name][i] for name in names)
    print(f"        {T:4d} | {t_step / t_gru:22.1f} | {t_loop / t_all:32.1f} | {t_gru / t_all:30.2f} | "
          f"{t_gru / t_layer:24.2f}")
print("\ntime x from T = 256 to 512 (x2 is linear, x4 quadratic): " + ", ".join(
    f"{name} x{timings[name][-1] / timings[name][-2]:.1f}" for name in (names[1], names[3], names[4])))
fig, ax = plt.subplots(figsize=(6.5, 3.8), layout="constrained")
for (name, values), marker in zip(timings.items(), "ovs^D"):
    ax.loglog(lengths, [t * 1e3 for t in values], marker + "-", label=name)
ax.set_xlabel("sequence length T")
ax.set_ylabel("time per batch (ms)")
ax.legend(fontsize=8)
ax.set_title("One position after another vs all at once (forward pass, one thread)")
plt.show()

# %% [markdown]
# What the ratios show, and what they do not:
# - Stepping the GRU from Python costs more than one `nn.GRU` call: part of the "RNN is slow"
#   story on a CPU is per-call overhead, not the recurrence.
# - Attention for all queries at once is many times faster than the same arithmetic one query at a
#   time. At short lengths most of that gap is the fixed cost of each call: compare the last
#   column, one call that carries a single query, with one call for all $T$ queries; at the
#   shortest length ($T = 16$) the two take a similar time. At longer lengths a single-query call
#   takes longer (it does more work), and one large matrix product also does the arithmetic more
#   efficiently than $T$ small ones. Both gains need all queries at once, which is possible only
#   because no query waits for another: that is what having no sequential dependency between
#   positions buys here.
# - Against the single `nn.GRU` call, attention does **not** win at every length: its work grows
#   as $T^2$ (the score matrix), the GRU's as $T$. The last line shows the start of it: from
#   $T = 256$ to $512$ the GRU call's time about doubles, while attention's grows faster, alone and
#   as a whole layer with its projections (the fair match: the GRU call includes all of its
#   matrices). Attention's lead over the GRU call, largest around $T = 64$–$128$, shrinks by 512
#   (the last two ratio columns; in some runs the GRU call is already ahead there); at longer
#   lengths, not timed here to keep the lesson's memory small, $T^2$ against $T$ means the GRU
#   call on one CPU thread wins. The quadratic cost and its fixes are lesson 08.
#
# So where is the advantage? (1) In **training** on parallel hardware: all target positions are
# known in training (teacher forcing, as in both decoders above), so a Transformer runs each layer
# in $O(1)$ sequential steps while an RNN needs $O(T)$, whatever the hardware (Vaswani et al. 2017,
# Table 1). (2) In the **path length**: information from token 0
# reaches token $T-1$ through one attention step, but through $T-1$ GRU updates, each of which can
# blur it (lesson 02 measured how a fixed-size state forgets). Generation is different: a decoder
# writes one token per step, like an RNN (the `generate` loops above); expert notebook 11 makes
# those steps cheap with a KV cache.
#
# ## Pitfall: "attention weights are explanations"
#
# Predict first:

# %%
ak.quiz.ask(
    "For one output of the trained sorter, the last layer puts most of its attention on input position j. "
    "Is changing the token at j the change to the input that moves that output the most?",
    ["Yes, always: the weights say which input the output depends on",
     "Not always: the weights show where one layer read from, not what the output depends on"],
    answer=1,
    explanation="The output also depends on earlier layers, which already mixed the positions, on the "
                "residual path, and on the values, not only on the weights. We measure it below.",
)

# %% [markdown]
# For 200 examples and every query position, we compare two rankings of the 8 input positions:
# - **attention**: the last layer's weights, averaged over heads;
# - **effect**: change the token at position $j$ to each of the 9 other digits and measure how far
#   the output distribution at the query moves (total-variation distance, averaged over the 9).
#
# Counting only whether the two top positions coincide would be unfair to attention in this task:
# an input often holds the same digit twice, and reading either copy is equally right. So we use
# the **Spearman rank correlation** over the 8 keys (1 = same order, 0 = unrelated, −1 = reversed;
# tied values share their average rank) and, for the top position, we compare **digits**, not
# positions. Jain & Wallace (2019) ran this kind of comparison (attention against
# gradient- and leave-one-out importance, with a rank correlation) on real NLP models and found the
# agreement often weak.

# %%
def average_ranks(x):  # (..., N) -> ranks 1..N; tied values share their average rank
    less = (x[..., None, :] < x[..., :, None]).sum(-1)
    equal = (x[..., None, :] == x[..., :, None]).sum(-1)
    return less + (equal + 1) / 2


def spearman(a, b):  # rank correlation over the last axis
    ra, rb = average_ranks(a), average_ranks(b)
    ra, rb = ra - ra.mean(-1, keepdim=True), rb - rb.mean(-1, keepdim=True)
    return (ra * rb).sum(-1) / (ra.norm(dim=-1) * rb.norm(dim=-1))


probe, _ = ak.toy_batch("sort", 200, 8, generator=torch.Generator().manual_seed(7))
attn_heads, attn_last, effect = {}, {}, {}
for seed, m in post_models.items():
    with torch.no_grad():
        base_probs = m(probe).softmax(-1)  # (B, T, V)
        attn_heads[seed] = m.layers[-1].attn_weights.clone()  # (B, H, Tq, Tk) each head
        attn_last[seed] = attn_heads[seed].mean(1)  # (B, Tq, Tk) mean over heads
        effect[seed] = torch.zeros(200, 8, 8)  # (B, query, key)
        for j in range(8):
            for shift in range(1, 10):
                changed = probe.clone()
                changed[:, j] = (changed[:, j] + shift) % 10
                moved = 0.5 * (m(changed).softmax(-1) - base_probs).abs().sum(-1)  # (B, T)
                effect[seed][:, :, j] += moved / 9
    rho = spearman(attn_last[seed], effect[seed])  # (B, T)
    top_attn, top_effect = attn_last[seed].argmax(-1), effect[seed].argmax(-1)  # (B, T)
    same_position = (top_attn == top_effect).float().mean().item()
    same_digit = (probe.gather(1, top_attn) == probe.gather(1, top_effect)).float().mean().item()
    print(f"seed {seed}: Spearman median {rho.median().item():.2f} (quartiles {rho.quantile(0.25).item():.2f}"
          f"-{rho.quantile(0.75).item():.2f}), negative for {(rho < 0).float().mean().item():.1%} of queries; "
          f"top key: same position {same_position:.1%}, same digit {same_digit:.1%}")

# %% [markdown]
# Are the disagreements only near-ties, rows where attention hesitates between two keys? Keep the
# queries whose attention (mean over heads) is **clearly** peaked (the top weight beats the second
# by more than 0.3) and count how often the most-attended key holds a different digit from the most
# influential one; among those, how often the most-attended key barely matters (changing it moves
# the output by less than 0.05), and how often a **single head's** most-attended key does hold the
# most influential digit, which the mean over heads hides. Then plot the sharpest such case: the
# clearly peaked query where the most influential key's effect exceeds the most-attended key's
# effect by the most, with each head's weights printed.

# %%
clear = []
for seed in post_models:
    top2 = attn_last[seed].topk(2, dim=-1).values  # (B, T, 2)
    margin = top2[..., 0] - top2[..., 1]  # (B, T)
    digit_attn = probe.gather(1, attn_last[seed].argmax(-1))
    digit_effect = probe.gather(1, effect[seed].argmax(-1))
    differs = (margin > 0.3) & (digit_attn != digit_effect)  # (B, T)
    attended_effect = effect[seed].gather(-1, attn_last[seed].argmax(-1, keepdim=True))[..., 0]  # (B, T)
    head_top = attn_heads[seed].argmax(-1)  # (B, H, T) each head's most-attended key
    head_digits = probe[:, None, :].expand_as(head_top).gather(-1, head_top)  # (B, H, T)
    some_head = (head_digits == digit_effect[:, None]).any(1)  # (B, T)
    # chance: each head's top key a random position; copies = positions holding the influential digit
    copies = (probe[:, None, :] == digit_effect[..., None]).sum(-1).float()  # (B, T)
    chance = 1 - (1 - copies / 8) ** attn_heads[seed].shape[1]  # (B, T)
    print(f"seed {seed}: {int(differs.sum())} of {int((margin > 0.3).sum())} clearly peaked queries read "
          f"most from a digit other than the most influential one; in {int((differs & (attended_effect < 0.05)).sum())} "
          f"of these the most-attended key's effect is below 0.05; in {int((differs & some_head).sum())} one head's "
          f"most-attended key holds the most influential digit (chance, random top keys: {chance[differs].sum().item():.1f})")
    effect_gap = effect[seed].amax(-1) - attended_effect
    if differs.any():
        b, q = divmod(int((effect_gap * differs).flatten().argmax()), 8)
        clear.append((float(effect_gap[b, q]), seed, b, q))
_, seed, b, q = max(clear)
labels = [f"{j}:{t}" for j, t in enumerate(probe[b].tolist())]
fig, axes = plt.subplots(1, 2, figsize=(9, 3), layout="constrained")
for ax, values, title in ((axes[0], attn_last[seed][b, q], "attention weight (last layer, mean over heads)"),
                          (axes[1], effect[seed][b, q], "effect of changing the token")):
    bars = ax.bar(range(8), values.numpy(), color="tab:blue")
    bars[int(values.argmax())].set_color("tab:orange")
    ax.set_xticks(range(8), labels)
    ax.set_title(title, fontsize=10)
fig.suptitle(f"seed {seed}, example {b}, query position {q} (outputs the digit of rank {q}, 0 = smallest): "
             f"input {probe[b].tolist()}", fontsize=10)
a_row, e_row = attn_last[seed][b, q], effect[seed][b, q]
print(f"seed {seed}, example {b}, query {q}: most attended position {int(a_row.argmax())} "
      f"(weight {a_row.max().item():.3f}, its effect {e_row[a_row.argmax()].item():.3f}); "
      f"most influential position {int(e_row.argmax())} (effect {e_row.max().item():.3f}, "
      f"its weight {a_row[e_row.argmax()].item():.3f})")
print("effect of changing each position:", ", ".join(f"{v:.2f}" for v in e_row.tolist()))
for head, row in enumerate(attn_heads[seed][b, :, q]):
    print(f"head {head} weights:", ", ".join(f"{v:.2f}" for v in row.tolist()))

# %% [markdown]
# The rank correlation is positive on every seed, so attention is not noise, but it is far from 1,
# and for some queries it is negative. Comparing digits instead of positions raises the top-key
# agreement, but only to around half to two thirds of the queries. Even a clearly peaked row of the
# head-averaged map can point at a digit whose change barely moves the output: on seeds 1 and 2,
# 13 of 32 and 28 of 42 such queries read most from a key whose change moves the output by less
# than 0.05 (seed 0 has a single such query). How often the map and the effects disagree thus
# differs from seed to seed of the same model and task.
#
# The average over heads also hides who does the reading. In the plotted query, heads 0, 1 and 3
# put most of their weight on position 0, whose change barely moves the output (0.002), while
# head 2 puts 0.40 and 0.55 on positions 3 and 5: the two 0s, each of which decides the output
# (effect 1.00). The mean over heads leaves the most influential position only 0.189. Over the
# disagreements, one head's most-attended key holds the most influential digit in 26 of 32
# (seed 1) and 37 of 42 (seed 2) queries: above chance (the printed counts if each head's top key
# were a random position), but with four heads and repeated digits chance is already more than half. So look at heads one by one before averaging; and even
# one head's weights tell you only where one layer **read** from: the output also depends on what
# earlier layers already mixed into each position, on the residual path and on the values.
#
# The debate in the literature: Jain & Wallace (2019) found that attention weights often correlate
# weakly with gradient-based and leave-one-out importance, and that very different attention maps
# can give the same prediction; Wiegreffe & Pinter (2019) answered that whether attention explains
# depends on what one calls an explanation, and proposed tests of when the weights carry
# information the model needs. The practical rule agrees with both: use attention weights as a hint,
# then test the hint with an intervention (perturb or remove the input, as here).
#
# ## Recap
# - An encoder layer = self-attention (mixes positions) + feed-forward (computes per position),
#   each wrapped in a residual connection and a LayerNorm; input and output have the same shape.
# - `ak.TransformerEncoderLayer` equals PyTorch's; `ak.TinyTransformer` stacks it and sorts 8 digits
#   after 200 steps on all three seeds (token accuracy 0.985 to 0.997; whole sequences sorted right
#   0.895 to 0.973); its last layer's most-attended key holds the digit it must
#   output far more often than a random key would.
# - Post-norm normalises the residual stream after each block; pre-norm normalises each block's
#   input and lets the stream grow. On this tiny task both learn on every seed (pre-norm to a
#   slightly lower loss).
# - A decoder layer = causal self-attention + cross-attention (queries from the decoder, keys and
#   values from the encoder) + feed-forward; `ak.TransformerDecoderLayer` equals PyTorch's. Without
#   cross-attention it is the block of a decoder-only language model (`ak.CausalLM`), trained with
#   the next-token loss and generating one token per step.
# - Attention has no sequential dependency between positions, which is what lets a Transformer
#   train all positions at once; on one CPU thread its lead over a single GRU call shrinks fast
#   at longer lengths, because attention's work grows as $T^2$ and the GRU's as $T$.
# - Attention weights show where a layer reads, not why the output is what it is; the mean over
#   heads can hide the head that reads the deciding input: look at heads, then measure effects.
#
# **Next:** lesson 08, the cost of attention as $T$ grows and the fixes. The KV cache that
# `generate(..., use_cache=True)` already uses is measured in expert notebook 11.
#
# **Exercises:** open `my-work/07_transformer.ipynb`: a pre-norm residual block and the
# feed-forward block, each with a check that names the typical mistake.
#
# ## References
# - Vaswani, A. et al. (2017). *Attention Is All You Need*. NeurIPS. (Encoder and decoder layers;
#   Table 1: operations, sequential steps and path length per layer type.)
# - Bahdanau, D., Cho, K. & Bengio, Y. (2015). *Neural Machine Translation by Jointly Learning to
#   Align and Translate*. ICLR. (Attention from a decoder to an encoder, which cross-attention continues.)
# - Xiong, R. et al. (2020). *On Layer Normalization in the Transformer Architecture*. ICML.
#   (Pre-norm vs post-norm, warm-up.)
# - Radford, A. et al. (2019). *Language Models are Unsupervised Multitask Learners* (GPT-2).
#   (Decoder-only language model, pre-norm blocks.)
# - Touvron, H. et al. (2023). *LLaMA: Open and Efficient Foundation Language Models*. (Pre-norm.)
# - Jain, S. & Wallace, B. C. (2019). *Attention is not Explanation*. NAACL.
# - Wiegreffe, S. & Pinter, Y. (2019). *Attention is not not Explanation*. EMNLP.
