# %% [markdown]
# # 02 · Exercises: the fixed context and additive attention
#
# Three pieces of `notebooks/02_fixed_context_limits.ipynb`, written by you.
# Replace `raise NotImplementedError()` with your code, then run the check cell below it:
# ✅ means it matches the reference on several generated inputs, ❌ says what differs
# (and names the typical mistake when it recognises one), ✏️ means the stub is still there.

# %%
import torch

import attnkit as ak

_ = ak.seed_everything(0)  # seeds Python, NumPy and PyTorch
print(f"attnkit {ak.__version__}")

# %% [markdown]
# ## Exercise 1: additive attention weights
# One decoder state per batch row, `query` (B, Dq), against the encoder states `keys`
# (B, T, Dk). With `w_query` (Dq, A), `w_key` (Dk, A) and `v` (A,), return the weights (B, T):
# $$e_j = v^\top \tanh(W_q^\top q + W_k^\top k_j), \qquad \alpha = \operatorname{softmax}(e)$$
# Hint: `query @ w_query` is (B, A); add a time axis to it so it broadcasts against `keys @ w_key`
# (B, T, A).

# %%
def additive_attention_weights(query, keys, w_query, w_key, v):
    ### BEGIN SOLUTION
    hidden = torch.tanh((query @ w_query).unsqueeze(1) + keys @ w_key)  # (B, T, A)
    scores = hidden @ v                                                 # (B, T)
    return torch.softmax(scores, dim=-1)
    ### END SOLUTION

# %%
ak.check.additive_attention_weights(additive_attention_weights)

# %% [markdown]
# ## Exercise 2: the fixed context of a padded batch
# A fixed-context model summarises a sequence by the RNN's **last** state (of a one-directional RNN). In a padded batch,
# rows have different lengths: `states` is (B, T, D) and `lengths` (B,) holds each row's real
# length (the steps after it are padding and hold junk). Return each row's last *real* state,
# shape (B, D).

# %%
def last_state(states, lengths):
    ### BEGIN SOLUTION
    rows = torch.arange(states.shape[0])
    return states[rows, lengths - 1]  # (B, D)
    ### END SOLUTION

# %%
ak.check.last_state(last_state)

# %% [markdown]
# ## Exercise 3: per-token accuracy
# The lesson's curve scores models by **per-token** accuracy: the fraction of output tokens
# that equal their target. `predictions` and `targets` are (B, T) ids; a target of -100 marks a
# position that is not scored (as `F.cross_entropy` ignores it). Return the accuracy as a
# number (a Python float or a 0-d tensor).

# %%
def token_accuracy(predictions, targets):
    ### BEGIN SOLUTION
    scored = targets != -100
    return (predictions[scored] == targets[scored]).float().mean()
    ### END SOLUTION

# %%
ak.check.token_accuracy(token_accuracy)

# %% [markdown]
# Done? In the lesson the whole input had to pass through such a single vector; attention
# replaced it with Exercise 1's weights, recomputed at each output step.
