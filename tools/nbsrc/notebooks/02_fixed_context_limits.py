# %% [markdown]
# # 02 · The limits of a fixed context
#
# Early neural translation models (Sutskever et al., 2014; Cho et al., 2014) read the whole
# source sentence into **one vector** and then wrote the translation from that vector alone.
# Whether the sentence had 5 words or 50, everything had to fit in the same few numbers. This
# lesson measures what that bottleneck costs on a toy task, and shows the fix that made attention
# famous: let the decoder look back at every input position, with weights it computes at each
# step (Bahdanau et al., 2015).
#
# **You will be able to**
# - describe an encoder-decoder and point at its fixed context vector;
# - measure per-token accuracy against sequence length for a fixed-context and an attentive model;
# - read a learned alignment (attention heatmap), explain why it is an anti-diagonal here and how
#   a state one column off still holds the token it copies;
# - write additive attention's score function yourself (exercises).
#
# **Time:** about 35 minutes, plus 20 for the exercises.

# %%
import torch
import torch.nn.functional as F

import attnkit as ak

ak.seed_everything(0)
torch.set_num_threads(1)  # tiny sequential models: one thread is faster than two fighting
torch.set_printoptions(precision=3, sci_mode=False)
print(f"torch {torch.__version__.split('+')[0]}, attnkit {ak.__version__}")

# %% [markdown]
# ## Predict first

# %%
ak.quiz.ask(
    "Two models learn to reverse digit sequences of length 4 to 12. One must squeeze the input "
    "into a single 64-number vector; the other may look back at every input position. "
    "At length 12, how does the single-vector model do?",
    ["As well as the other: 64 numbers are plenty for 12 digits",
     "Clearly worse, and worse the longer the sequence",
     "Worse at length 4 but better at 12, because it has seen the whole sequence"],
    answer=1,
    explanation="Training pushes the whole sequence through one vector; the longer it is, "
                "the less of each digit survives. Measured below, three seeds per model: at length 12 "
                "the single vector gets 0.46 to 0.47 of the tokens right, attention 0.80 to 0.86.",
)

# %% [markdown]
# ## The task and the two models
#
# The **reverse** task: read `3 7 1 9`, write `9 1 7 3`. It is easy to state, needs every input
# token, and the first output needs the *last* input: ideal to stress a memory.

# %%
src, tgt = ak.toy_batch("reverse", batch_size=2, length=6, generator=torch.Generator().manual_seed(0))
print("inputs ", src.tolist())
print("targets", tgt.tolist())

# %% [markdown]
# Both models in `ak.rnn` use the same encoder design: embeddings and a bidirectional GRU, which turns the
# $T_s$ input tokens into states $h_0 \dots h_{T_s-1}$ (each $2H$ numbers; positions count from 0). A GRU decoder then
# writes one token per step from its state $s_t$, the previous token and a **context** $c_t$.
# They differ only in $c_t$:
#
# - **fixed context** (Cho et al. 2014): $c_t = c$, the encoder's final states, the same vector at every step;
# - **additive attention** (Bahdanau et al. 2015): a fresh average of all encoder states,
#   weighted by how well each matches the decoder's state:
#   $$e_{tj} = v^\top \tanh(W_q\, s_{t-1} + W_k\, h_j), \qquad
#     \alpha_{tj} = \frac{e^{e_{tj}}}{\sum_i e^{e_{ti}}}, \qquad c_t = \sum_j \alpha_{tj}\, h_j$$
#   (`ak.AdditiveAttention` also adds a learned bias to $W_k\, h_j$; the plain code below leaves it out.)
#
# Here are those three formulas in plain tensor code, with shapes:

# %%
B, Ts, H, A = 2, 6, 32, 32
states = torch.randn(B, Ts, 2 * H)      # encoder states h_j
decoder_state = torch.randn(B, H)       # s_{t-1}
W_q, W_k, v = torch.randn(H, A) / H**0.5, torch.randn(2 * H, A) / (2 * H) ** 0.5, torch.randn(A)
scores = torch.tanh((decoder_state @ W_q).unsqueeze(1) + states @ W_k) @ v  # (B, Ts)
weights = torch.softmax(scores, dim=-1)                                     # (B, Ts), rows sum to 1
context = (weights.unsqueeze(-1) * states).sum(dim=1)                       # (B, 2H)
print("scores", tuple(scores.shape), "weights", tuple(weights.shape), "context", tuple(context.shape))
print("row sums:", weights.sum(-1))

# %% [markdown]
# `ak.AdditiveAttention` is the same computation with learned $W_q, W_k, v$; its weights are
# a softmax over the input positions, as PyTorch's own `softmax` says:

# %%
attn = ak.AdditiveAttention(query_dim=H, key_dim=2 * H, hidden=A)
ctx, w = attn(decoder_state, states)
print("context", tuple(ctx.shape), "weights", tuple(w.shape))
print("max abs diff to torch.softmax(scores):",
      round((w - torch.softmax(attn.scores(decoder_state, states), -1)).abs().max().item(), 7))

fixed = ak.FixedContextSeq2Seq(vocab_size=10, hidden=H)
attentive = ak.AttentionSeq2Seq(vocab_size=10, hidden=H)
for model in (fixed, attentive):
    print(f"{type(model).__name__:20s} {sum(p.numel() for p in model.parameters()):6d} parameters")

# %% [markdown]
# ## Training: same data, same steps, three seeds
#
# Each step draws 64 sequences of one random length between 4 and 12. The decoder is trained
# with *teacher forcing* (it reads the true previous token); at test time it reads its own
# previous prediction. Adam at 2e-2 with warm-up, cosine decay and gradient clipping: 300
# fixed steps per model. One training run can be lucky, so each model is trained three times,
# with seeds 0, 1 and 2 (the seed sets the initial weights and the training batches; both models
# get the same batches for the same seed). Every claim about the trained models below is checked on all three.

# %%
def get_batch(generator):
    length = int(torch.randint(4, 13, (1,), generator=generator))
    return ak.toy_batch("reverse", 64, length, generator=generator)


def seq2seq_loss(model, batch):
    src, tgt = batch
    logits, _ = model(src, tgt)                                   # (B, T, V)
    return F.cross_entropy(logits.flatten(0, 1), tgt.flatten())


SEEDS = (0, 1, 2)
models = {"fixed context": [], "attention": []}                 # one trained model per seed
for seed in SEEDS:
    for name, cls in [("fixed context", ak.FixedContextSeq2Seq), ("attention", ak.AttentionSeq2Seq)]:
        ak.seed_everything(seed)                                 # initial weights
        model = cls(vocab_size=10, hidden=H)
        losses = ak.train(model, get_batch, seq2seq_loss, steps=300, lr=2e-2, seed=seed, warmup=20,
                          cosine=True, clip=1.0, desc=f"{name}, seed {seed}")
        models[name].append(model)
        print(f"seed {seed}  {name:14s} mean loss of the last 20 steps: {sum(losses[-20:]) / 20:.3f}")
fixed, attentive = models["fixed context"][0], models["attention"][0]  # seed 0: the examples below

# %% [markdown]
# ## The measurement: per-token accuracy against length
#
# For every even length from 4 to 20 we decode 100 fresh sequences greedily (the same ones for every
# model) and count the fraction of output tokens that are right. Lengths above 12 were never
# seen in training.

# %%
lengths = list(range(4, 21, 2))
accuracy = {name: [] for name in models}                         # accuracy[name][seed][length]
for name, runs in models.items():
    for model in runs:
        row = []
        for length in lengths:
            src, tgt = ak.toy_batch("reverse", 100, length,
                                    generator=torch.Generator().manual_seed(1000 + length))
            predicted, _ = model.generate(src)                   # (100, length)
            row.append(round(ak.token_accuracy(predicted, tgt), 2))
        accuracy[name].append(row)
print("length                ", lengths)
for name, rows in accuracy.items():
    for seed, row in zip(SEEDS, rows):
        print(f"{name:14s} seed {seed} ", row)

# %%
ax = ak.plot.plot_accuracy_by_length(lengths, accuracy, train_range=(4, 12),
                                     title="Reverse task: one fixed vector vs attention, 3 seeds")

# %% [markdown]
# At length 4 both are nearly perfect in every seed: four digits fit in one vector. From there
# the fixed context falls off steadily with length (0.46 to 0.47 at length 12, the
# longest it was trained on), while the attentive model degrades far more slowly over the
# trained lengths (0.80 to 0.86 at 12). The three seeds agree closely (the bands are narrow), and
# at every length from 6 on, the worst attentive seed beats the best fixed-context seed. Beyond 12
# both degrade further: attention removes the memory bottleneck, but this model has not learned
# to reverse sequences longer than any it saw. These are small models trained briefly (300
# steps); what the comparison shows is the gap between two models given the same data, steps and
# learning rate, in every seed.
#
# ## What the attentive model looks at
#
# The weights $\alpha_{tj}$ form a matrix: one row per output step, one column per input
# token. To reverse, output step $t$ needs input $T_s - 1 - t$: we expect an anti-diagonal.
# Here is the seed-0 model on one sequence of length 10:

# %%
src, tgt = ak.toy_batch("reverse", 1, 10, generator=torch.Generator().manual_seed(7))
predicted, alignment = attentive.generate(src)                  # (1, T), (1, T, Ts)
print("input    ", src[0].tolist())
print("predicted", predicted[0].tolist())
ax = ak.plot_attention(alignment[0], [str(t) for t in src[0].tolist()],
                       [str(t) for t in predicted[0].tolist()], title="learned alignment, length 10")

# %%
T = src.shape[1]
mirrored = torch.arange(T - 1, -1, -1)                           # input position output t needs
print("input position output t needs:", mirrored.tolist())
print("most-weighted input position:   ", alignment[0].argmax(-1).tolist())

# %% [markdown]
# Nobody told the model to align output $t$ with input $T_s-1-t$: it learned that from the loss
# alone. But look closely: from the second output step on, the most-weighted column is, in all
# rows but one, one to the **right** of the token the output copies. How often, and in every
# seed? We decode 200 fresh sequences of length 10 with each of the three attentive models and
# count the rows whose most-weighted column is the needed one, and the rows where it is the one
# to its right (the first output step needs the last column, which has no right neighbour).

# %%
src200, tgt200 = ak.toy_batch("reverse", 200, 10, generator=torch.Generator().manual_seed(2))
print("seed  needed column  right neighbour  right neighbour, t >= 1  first step on needed")
for seed, model in zip(SEEDS, models["attention"]):
    _, alignments = model.generate(src200)                       # (200, T, Ts)
    top = alignments.argmax(-1)                                  # (200, T): most-weighted column
    on_needed = (top == mirrored).float()                        # (200, T)
    on_right = (top == mirrored + 1).float()
    print(f"{seed:4d}  {on_needed.mean().item():13.3f}  {on_right.mean().item():15.3f}  "
          f"{on_right[:, 1:].mean().item():23.3f}  {on_needed[:, 0].mean().item():20.3f}")

# %% [markdown]
# So the shift is the rule, in all three seeds: from the second output step on, 0.803 to 0.813
# of the rows put their largest weight one column right of the needed one, and only about a
# fifth of all rows (0.214 to 0.223) sit on the needed column itself. The first output step,
# which cannot shift, sits on the needed column in almost every sequence (0.960 to 0.975). It is
# not a bug. The encoder
# is bidirectional: state $h_j$ is a forward GRU's state after reading tokens $0 \dots j$ joined to a
# backward GRU's state after reading tokens $T_s-1$ down to $j$. So the **forward** half of
# $h_{j+1}$ has read token $j$ (one step before $j+1$), while its **backward** half has read
# only $j+1 \dots T_s-1$. A gradient check shows which inputs each half of one encoder state
# depends on: an input with zero gradient cannot influence it.

# %%
embedded = attentive.encoder.embed(src).detach().requires_grad_(True)  # (1, Ts, H)
encoder_states, _ = attentive.encoder.gru(embedded)                    # (1, Ts, 2H)
j, H = 4, attentive.hidden
for half, columns in [("forward", slice(0, H)), ("backward", slice(H, 2 * H))]:
    grad, = torch.autograd.grad(encoder_states[0, j, columns].sum(), embedded, retain_graph=True)
    depends_on = (grad[0].abs().sum(-1) > 0).nonzero().flatten().tolist()  # inputs with a nonzero gradient
    print(f"{half:8s} half of h_{j} depends on inputs {depends_on}")

# %% [markdown]
# Token $j$ is inside $h_{j+1}$ through its forward half, read one step before, so attending to
# column $j+1$ still lets the decoder recover token $j$. (In fact every state has read token $j$ in
# one of its halves, the forward halves of $h_j \dots h_{T_s-1}$ and the backward halves of
# $h_0 \dots h_j$; it is most recent in $h_{j-1}$, $h_j$ and $h_{j+1}$.) Nothing in the
# architecture forces one of these columns; all three trainings settled mostly on $j+1$. The
# lesson: attention weights say **which state** the model read from, and a state in a recurrent
# (or deeper) encoder holds more than its own token, so "the most-weighted column" is not always
# "the input token used".
#
# ## Explore
# Move the length (up to 30) and the seed. Where the model errs (marked ≠ with the right
# token), look at its row: is the weight spread over several inputs, or sharp on the wrong
# one? The explorer and the static figure below show the seed-0 attentive model (the model's
# seed; the slider's seed picks the input sequence). The figure is length 16, beyond the
# training lengths.

# %%
ak.widgets.alignment_explorer(attentive)

# %%
ak.widgets.draw_alignment(attentive, length=16, seed=0)

# %% [markdown]
# ## Pitfall: scoring with teacher forcing
# During training the decoder reads the *true* previous token. Scoring the model that way
# flatters it: a mistake can never derail the next step. Honest evaluation decodes with the
# model's own predictions (`generate`). Measured on the same length-12 sequences as the curve,
# for every seed:

# %%
src, tgt = ak.toy_batch("reverse", 100, 12, generator=torch.Generator().manual_seed(1012))
for name, runs in models.items():
    for seed, model in zip(SEEDS, runs):
        with torch.no_grad():
            forced = model(src, tgt)[0].argmax(-1)               # reads the true previous tokens
        greedy, _ = model.generate(src)                          # reads its own predictions
        print(f"{name:14s} seed {seed}  teacher-forced {ak.token_accuracy(forced, tgt):.2f}   "
              f"greedy {ak.token_accuracy(greedy, tgt):.2f}")

# %% [markdown]
# In every seed, and for both models, the teacher-forced score is well above the greedy one.
# The curve above uses the greedy numbers, the ones a user would get.
#
# ## Recap
# - An encoder-decoder without attention passes one fixed vector from reader to writer.
# - Measured on reversal (three seeds per model, same steps and learning rate): per-token accuracy
#   of the fixed context falls fast with length; with additive attention it stays far higher over
#   the trained lengths.
# - Additive attention: scores $v^\top\tanh(W_q s + W_k h_j)$, softmax over inputs, weighted sum.
# - Its weights are an alignment we can plot; here it learned the anti-diagonal, shifted one
#   column right in most rows, in all three seeds: the forward half of $h_{j+1}$ has read token $j$
#   (gradient check).
#
# **Next:** `my-work/02_fixed_context_limits.ipynb`: write additive attention's weights, the
# last-state summary of a padded batch and per-token accuracy yourself. Lesson 03 strips attention down to its core,
# a dot product and a softmax.

# %% [markdown]
# ## References
# - Bahdanau, D., Cho, K. & Bengio, Y. (2015). *Neural machine translation by jointly learning to
#   align and translate.* ICLR 2015.
# - Cho, K., van Merriënboer, B., Gulcehre, C., Bahdanau, D., Bougares, F., Schwenk, H. & Bengio, Y.
#   (2014). *Learning phrase representations using RNN encoder-decoder for statistical machine
#   translation.* EMNLP 2014.
# - Sutskever, I., Vinyals, O. & Le, Q. V. (2014). *Sequence to sequence learning with neural
#   networks.* NeurIPS 2014.
# - Schuster, M. & Paliwal, K. K. (1997). *Bidirectional recurrent neural networks.* IEEE
#   Transactions on Signal Processing 45(11).
