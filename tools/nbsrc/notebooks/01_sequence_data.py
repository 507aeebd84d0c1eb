# %% [markdown]
# # 01 · Sequence data: why order matters
#
# *"The dog bites the man"* and *"the man bites the dog"* use exactly the same five words, yet
# only one of them makes the news. Language, music, sensor readings and DNA are **sequences**:
# what an item means depends on where it sits. Before we can see why attention was invented,
# we need to see how text becomes numbers a model can read, and to measure what a model loses
# when it throws the order away.
#
# **You will be able to**
# - turn text into tokens, tokens into ids, and ids into an embedding tensor of shape (B, T, D);
# - explain why averaging embeddings (a "bag of embeddings") cannot see word order;
# - measure it: train an order-blind and two order-aware models on a who-did-what task.
#
# **Time:** about 25 minutes, plus 15 for the exercises.

# %%
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

import attnkit as ak

ak.seed_everything(0)
torch.set_num_threads(1)  # these models are tiny: one thread is faster than two fighting
torch.set_printoptions(precision=3, sci_mode=False)
print(f"torch {torch.__version__.split('+')[0]}, attnkit {ak.__version__}")

# %% [markdown]
# ## Predict first

# %%
ak.quiz.ask(
    "A model averages the embeddings of a sentence's words, then classifies the average. "
    "Asked 'who did it?' on sentences like 'the dog bites the man', how accurate can it be?",
    ["About 100%: embeddings carry enough meaning",
     "About 50%: it can narrow it down to the two nouns, but not which one came first",
     "About 1/16: no better than guessing among all 16 nouns"],
    answer=1,
    explanation="The average of the same five words is the same vector whichever noun comes first, "
                "so the best it can do is pick one of the two nouns present: 50%. Measured below.",
)

# %% [markdown]
# ## From text to tokens to ids
#
# `attnkit` ships a small corpus written for this course. A **tokenizer** cuts text into
# tokens (here: lower-cased words and punctuation), a **vocabulary** numbers every distinct
# token. Id 0 is reserved for padding, id 1 for words the vocabulary has never seen.

# %%
print(len(ak.CORPUS), "sentences, e.g.:", ak.CORPUS[2])
vocab = ak.corpus_vocab()
print(vocab)
tokens = ak.tokenize("The dog bites the man.")
ids = vocab.encode("The dog bites the man.")
print(tokens)
print(ids, "->", vocab.decode(ids))
print("an unknown word:", vocab.encode("the dog bites the zebra"))

# %% [markdown]
# Sentences have different lengths, but a batch is one rectangular tensor: shorter rows are
# **padded** on the right with id 0. The shape is (B, T): B sentences, T tokens.

# %%
batch_ids = vocab.encode_batch(["The dog bites the man.", "The man bites the dog.",
                                "A cat chases the mouse across the kitchen."])
print(batch_ids.shape)  # (B, T)
print(batch_ids)

# %% [markdown]
# ## From ids to embeddings
#
# An **embedding** is a learned table with one row of $D$ numbers per token id:
# $E \in \mathbb{R}^{V \times D}$. Looking up a batch of ids is indexing: `E[ids]` turns
# (B, T) into (B, T, D). Nothing more mysterious happens inside `nn.Embedding`.

# %%
D = 8
embed = nn.Embedding(len(vocab), D)
x = embed(batch_ids)
print("ids", tuple(batch_ids.shape), "-> embeddings", tuple(x.shape))  # (B, T, D)
print("same as indexing the table:", torch.equal(x, embed.weight[batch_ids]))

# %%
ax = ak.plot.plot_token_embeddings(x[0].detach(), vocab.decode(batch_ids[0]),
                                   title="'the dog bites the man.': one row per token (untrained)")

# %% [markdown]
# Each row belongs to a token, not to a position: both *the*s have identical rows. The position
# of a token is only in **which row** it is, so a model keeps the order only if it treats rows
# differently depending on where they are.
#
# ## The order-dependent task: who did it?
#
# `ak.who_did_it_batch` writes sentences *"the A verb the P"* from 16 nouns and 14 verbs
# and asks for the agent A (a class among the 16 nouns). Every sentence has a twin with the same
# words and the other agent ("the man bites the dog"), and the task draws both equally often.

# %%
sample_ids, sample_agent = ak.who_did_it_batch(4, torch.Generator().manual_seed(1), vocab)
for row, agent in zip(sample_ids, sample_agent):
    print(f"{' '.join(vocab.decode(row)):32s} -> agent: {ak.AGENTS[agent]}")

# %% [markdown]
# Three models, each under 10 lines, share the embedding width D = 16:
# - **bag of embeddings**: average the T rows, then a linear classifier. Order-blind by construction:
#   the mean of a set does not depend on its order.
# - **concatenated embeddings**: put the T rows side by side in order (T·D numbers), then a
#   linear classifier. Each position has its own weights, so order is visible.
# - **GRU**: a recurrent network reads the rows one by one and classifies its last state.

# %%
class BagOfEmbeddings(nn.Module):
    def __init__(self, vocab_size, dim, n_classes):
        super().__init__()
        self.embed, self.head = nn.Embedding(vocab_size, dim), nn.Linear(dim, n_classes)

    def forward(self, ids):                        # (B, T)
        return self.head(self.embed(ids).mean(1))  # (B, T, D) -> (B, D) -> (B, C)


class ConcatEmbeddings(nn.Module):
    def __init__(self, vocab_size, dim, n_classes, length=5):
        super().__init__()
        self.embed, self.head = nn.Embedding(vocab_size, dim), nn.Linear(length * dim, n_classes)

    def forward(self, ids):                           # (B, T)
        return self.head(self.embed(ids).flatten(1))  # (B, T, D) -> (B, T*D) -> (B, C)


class GRUClassifier(nn.Module):
    def __init__(self, vocab_size, dim, n_classes):
        super().__init__()
        self.embed, self.head = nn.Embedding(vocab_size, dim), nn.Linear(dim, n_classes)
        self.gru = nn.GRU(dim, dim, batch_first=True)

    def forward(self, ids):                        # (B, T)
        states, _ = self.gru(self.embed(ids))      # (B, T, D)
        return self.head(states[:, -1])            # last state (B, D) -> (B, C)

# %% [markdown]
# Each trains for 300 fixed steps of 64 fresh sentences with `ak.train` (seconds on a laptop), with
# the same learning rate (1e-2), then we score it on 2,000 sentences drawn with another seed. The
# task has only 16 × 15 × 14 = 3,360 different sentences, so nearly all test sentences were also
# drawn during training (the cell prints how many): this test asks whether a model can represent
# *who did it* at all, not whether it generalises to sentences it never saw. A result from one
# training run can be luck, so each model is trained three times, with seeds 0, 1 and 2 (the seed
# sets both the initial weights and the training sentences). The seed-0 models are kept for the
# rest of the lesson.

# %%
def classification_loss(model, batch):
    ids, agent = batch
    return F.cross_entropy(model(ids), agent)


def get_batch(generator):
    return ak.who_did_it_batch(64, generator, vocab)


test_ids, test_agent = ak.who_did_it_batch(2000, torch.Generator().manual_seed(123), vocab)
noun_ids = torch.tensor([vocab.stoi[a] for a in ak.AGENTS])         # (16,): token id of each class
g = torch.Generator().manual_seed(0)                               # the seed-0 training sentences
seen = {tuple(row) for _ in range(300) for row in get_batch(g)[0].tolist()}
print(f"test sentences also drawn in seed 0's training: "
      f"{sum(tuple(row) in seen for row in test_ids.tolist()) / len(test_ids):.3f}")
models, accuracy, bag_in_sentence = {}, {}, []
for name, cls in [("bag of embeddings", BagOfEmbeddings), ("concatenated", ConcatEmbeddings),
                  ("GRU", GRUClassifier)]:
    accuracy[name] = []
    for seed in (0, 1, 2):
        ak.seed_everything(seed)
        model = cls(len(vocab), 16, len(ak.AGENTS))
        ak.train(model, get_batch, classification_loss, steps=300, lr=1e-2, seed=seed, desc=f"{name}, seed {seed}")
        with torch.no_grad():
            guess = model(test_ids).argmax(-1)                     # (2000,): predicted class
        accuracy[name].append((guess == test_agent).float().mean().item())
        if name == "bag of embeddings":  # is the bag's answer at least one of the sentence's nouns?
            predicted_id = noun_ids[guess]                         # (2000,): its token id
            bag_in_sentence.append(int((test_ids == predicted_id[:, None]).any(-1).sum()))
        if seed == 0:
            models[name] = model
    print(f"{name:18s} test accuracy, seeds 0/1/2: " + " / ".join(f"{a:.3f}" for a in accuracy[name]))

print("bag: test sentences where its answer is one of the sentence's two nouns, seeds 0/1/2: "
      + " / ".join(str(n) for n in bag_in_sentence) + f" of {len(test_ids)}")

# %%
fig, ax = plt.subplots(figsize=(5.5, 3), layout="constrained")
names = list(accuracy)
ax.bar(names, [sum(a) / len(a) for a in accuracy.values()], color=["tab:gray", "tab:blue", "tab:green"],
       alpha=0.6, label="mean of 3 seeds")
for i, name in enumerate(names):
    ax.plot([i] * len(accuracy[name]), accuracy[name], "k.", ms=8, label="one seed" if i == 0 else None)
ax.axhline(0.5, ls="--", color="k", lw=1, label="pick one of the two nouns (50%)")
ax.axhline(1 / len(ak.AGENTS), ls=":", color="k", lw=1, label="guess any noun (1/16)")
ax.set_ylabel("test accuracy")
ax.set_title("Who did it? Same words, different order")
_ = ax.legend(fontsize=8)

# %% [markdown]
# The bag sits at about 50% on every seed, and on every seed its answer is one of the two nouns in
# the sentence for all 2,000 test sentences: it learned which two nouns are there, and then it can only guess. The two
# order-aware models are at 100% on all three seeds.
#
# **Proof that the bag cannot do better:** swap the two nouns and its output does not change
# at all, because the average of the same vectors is the same vector.

# %%
twins = vocab.encode_batch(["the dog bites the man", "the man bites the dog"])
with torch.no_grad():
    for name, model in models.items():
        logits = model(twins)  # (2, C)
        print(f"{name:18s} same output for both orders: {torch.allclose(logits[0], logits[1])}; "
              f"predicts {ak.AGENTS[logits[0].argmax()]!r} / {ak.AGENTS[logits[1].argmax()]!r}")

# %% [markdown]
# ## Explore
# Pick two nouns and a verb. Each panel shows one model's probability that each noun did it,
# for the sentence (left pair) and its swapped twin (right pair). The static figure below the
# widget is the dog/man pair, drawn by the same function.

# %%
ak.widgets.who_did_it_explorer(models, vocab)

# %%
ak.widgets.draw_who_did_it(models, vocab, "dog", "bites", "man")

# %% [markdown]
# ## Myth: "embeddings already know the meaning, so order is a detail"
# Wrong, as measured above: with the very same embedding table size, dropping the order costs
# half of the accuracy on who-did-what. The fix is not bigger embeddings but a way to use
# positions: one weight per position (concatenation), a recurrence (GRU), or, later in this
# course, positional encodings added to attention's inputs (lesson 04).
#
# The concatenation has its own flaw: its classifier has one block of weights per position, so
# it only accepts sentences of exactly T = 5 tokens.

# %%
try:
    models["concatenated"](vocab.encode_batch(["the dog bites the man ."]))  # 6 tokens
except RuntimeError as err:
    print("RuntimeError:", str(err).splitlines()[0][:70])
with torch.no_grad():
    print("GRU on 6 tokens:", tuple(models["GRU"](vocab.encode_batch(["the dog bites the man ."])).shape))

# %% [markdown]
# The GRU reads any length, but squeezes everything it read into one state vector. Lesson 02
# measures what that costs on longer sequences, and how attention removes the squeeze.
#
# ## Toy tasks for the next lessons
# Words are not the only sequences. From lesson 02 on, small synthetic tasks isolate one
# skill each: `ak.toy_batch(task, batch_size, length)` gives (inputs, targets) of shape (B, T).
# In *copy*, *reverse* and *recall* the targets depend on the order of the inputs; in *sort* they
# depend only on which tokens are present, but must be written out in a fixed order.

# %%
g = torch.Generator().manual_seed(0)
for task in ["copy", "reverse", "sort", "recall"]:
    inputs, targets = ak.toy_batch(task, batch_size=1, length=7, generator=g)
    print(f"{task:8s} inputs {inputs[0].tolist()}  targets {targets[0].tolist()}")

# %% [markdown]
# In *recall* the input holds key-value pairs then a query key; only the query's position has a
# target (the value stored with that key), -100 marks positions that are not scored.
#
# ## Recap
# - Text → tokens → ids (B, T) → embeddings (B, T, D); an embedding is a table lookup.
# - An average of embeddings is order-blind: same words, same vector, about 50% on who-did-it
#   (three seeds).
# - Concatenation and recurrence see order (100% on three seeds each); concatenation needs a
#   fixed length.
# - The toy tasks of later lessons come from `ak.toy_batch` (copy, reverse, sort, recall).
#
# **Next:** the exercises in `my-work/01_sequence_data.ipynb` (your own copy of the exercise notebook,
# which `make lab` puts there and no course command overwrites): build the bag and the
# concatenation yourself.

# %% [markdown]
# ## References
# - Bengio, Y., Ducharme, R., Vincent, P. & Jauvin, C. (2003). *A neural probabilistic language
#   model.* Journal of Machine Learning Research 3. (Learned word embeddings.)
# - Cho, K., van Merriënboer, B., Gulcehre, C., Bahdanau, D., Bougares, F., Schwenk, H. & Bengio, Y.
#   (2014). *Learning phrase representations using RNN encoder-decoder for statistical machine
#   translation.* EMNLP 2014. (The GRU.)
# - Vaswani, A., Shazeer, N., Parmar, N., Uszkoreit, J., Jones, L., Gomez, A. N., Kaiser, Ł. &
#   Polosukhin, I. (2017). *Attention is all you need.* NeurIPS 2017. (Positional encodings, lesson 04.)
