# %% [markdown]
# # 01 · Exercises: sequence data
#
# Two order-related building blocks from `notebooks/01_sequence_data.ipynb`, written by you.
# Replace `raise NotImplementedError()` with your code, then run the check cell below it:
# ✅ means it matches the reference on several generated inputs, ❌ says what differs
# (and names the typical mistake when it recognises one), ✏️ means the stub is still there.

# %%
import attnkit as ak

_ = ak.seed_everything(0)  # seeds Python, NumPy and PyTorch
print(f"attnkit {ak.__version__}")

# %% [markdown]
# ## Exercise 1: the bag of embeddings
# Given token ids `ids` of shape (B, T) and an embedding table `table` of shape (V, D), return
# the **mean** of each sentence's token embeddings, shape (B, D). Hint: `table[ids]` is (B, T, D).

# %%
def bag_of_embeddings(ids, table):
    ### BEGIN SOLUTION
    return table[ids].mean(dim=1)  # (B, T, D) -> (B, D)
    ### END SOLUTION

# %%
ak.check.bag_of_embeddings(bag_of_embeddings)

# %% [markdown]
# ## Exercise 2: concatenated embeddings
# The order-aware alternative: return the embeddings of each sentence side by side, token 0's D numbers
# first, then token 1's, ..., shape (B, T * D).

# %%
def concat_embeddings(ids, table):
    ### BEGIN SOLUTION
    return table[ids].flatten(1)  # (B, T, D) -> (B, T * D)
    ### END SOLUTION

# %%
ak.check.concat_embeddings(concat_embeddings)

# %% [markdown]
# Done? The lesson measured what these two give on who-did-it: about 50% for the bag, 100% for the
# concatenation (three seeds each). Try it: swap two tokens of a row and compare each function's outputs.
