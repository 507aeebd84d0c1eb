"""The fixed-context baseline: a GRU encoder-decoder with and without additive attention (lesson 02).

Both models share the same bidirectional GRU encoder and the same GRU decoder; they
differ in one line, the context the decoder reads at each output step:

- :class:`FixedContextSeq2Seq` squeezes the whole input into **one** vector (the encoder's
  final states) and hands the decoder that same vector at every step (Cho et al. 2014);
- :class:`AttentionSeq2Seq` recomputes the context at every step as a weighted average of
  all encoder states, the weights coming from :class:`AdditiveAttention`
  (Bahdanau, Cho & Bengio 2015), and returns those weights so a lesson can plot them.

The decoder is trained with teacher forcing (it reads the true previous token) and
evaluated with :meth:`generate` (it reads its own previous prediction).
Shapes: B batch, Ts source length, T target length, H hidden width, V vocabulary.
"""

from __future__ import annotations

import torch
from torch import nn

from ._validate import require_int, require_tensor, shape_str

__all__ = ["AdditiveAttention", "GRUEncoder", "FixedContextSeq2Seq", "AttentionSeq2Seq",
           "token_accuracy"]


def _require_ids(x, name: str, vocab_size: int) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.dtype != torch.long or x.dim() != 2:
        got = shape_str(x.shape) + f" {x.dtype}" if isinstance(x, torch.Tensor) else type(x).__name__
        raise TypeError(f"{name} must be a (B, T) int64 tensor of token ids, got {got}")
    if x.numel() and (x.min() < 0 or x.max() >= vocab_size):
        raise ValueError(f"{name} holds ids in {int(x.min())}..{int(x.max())}, "
                         f"outside the vocabulary 0..{vocab_size - 1}")
    return x


class AdditiveAttention(nn.Module):
    """Bahdanau's additive score: ``score(s, h_j) = v . tanh(W_q s + W_k h_j)``, softmax over j.

    Parameters
    ----------
    query_dim, key_dim, hidden : int
        Width of the decoder state ``s``, of each encoder state ``h_j``, and of the tanh layer.

    Examples
    --------
    >>> attn = AdditiveAttention(query_dim=4, key_dim=6, hidden=5)
    >>> context, weights = attn(torch.randn(2, 4), torch.randn(2, 7, 6))
    >>> context.shape, weights.shape, bool(torch.allclose(weights.sum(-1), torch.ones(2)))
    (torch.Size([2, 6]), torch.Size([2, 7]), True)
    """

    def __init__(self, query_dim: int, key_dim: int, hidden: int):
        super().__init__()
        for name, value in (("query_dim", query_dim), ("key_dim", key_dim), ("hidden", hidden)):
            require_int(value, name, minimum=1)
        self.w_query = nn.Linear(query_dim, hidden, bias=False)
        self.w_key = nn.Linear(key_dim, hidden, bias=True)
        self.v = nn.Linear(hidden, 1, bias=False)

    def scores(self, query: torch.Tensor, keys: torch.Tensor, projected_keys=None) -> torch.Tensor:
        """Unnormalised scores ``(B, Ts)`` of one query ``(B, Dq)`` against keys ``(B, Ts, Dk)``.

        ``projected_keys`` is ``w_key(keys)``, shape ``(B, Ts, hidden)``, when the caller already has
        it: a decoder computes it once per sequence instead of once per step.
        """
        require_tensor(query, "query", min_dim=2)
        require_tensor(keys, "keys", min_dim=3)
        if query.shape[-1] != self.w_query.in_features or keys.shape[-1] != self.w_key.in_features:
            raise ValueError(f"query {shape_str(query.shape)} and keys {shape_str(keys.shape)} must "
                             f"have widths {self.w_query.in_features} and {self.w_key.in_features}")
        if query.shape[0] != keys.shape[0]:
            raise ValueError(f"query {shape_str(query.shape)} and keys {shape_str(keys.shape)} "
                             f"have different batch sizes")
        if projected_keys is None:
            projected_keys = self.w_key(keys)                                  # (B, Ts, hidden)
        elif tuple(projected_keys.shape) != tuple(keys.shape[:-1]) + (self.w_key.out_features,):
            raise ValueError(f"projected_keys {shape_str(projected_keys.shape)} must be w_key(keys), shape "
                             f"{shape_str(tuple(keys.shape[:-1]) + (self.w_key.out_features,))}")
        hidden = torch.tanh(self.w_query(query).unsqueeze(1) + projected_keys)  # (B, Ts, hidden)
        return self.v(hidden).squeeze(-1)                                      # (B, Ts)

    def forward(self, query: torch.Tensor, keys: torch.Tensor,
                projected_keys=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(context (B, Dk), weights (B, Ts))``: the weighted average of ``keys``."""
        weights = torch.softmax(self.scores(query, keys, projected_keys), dim=-1)  # (B, Ts)
        context = (weights.unsqueeze(-1) * keys).sum(dim=1)                       # (B, Dk)
        return context, weights


class GRUEncoder(nn.Module):
    """Embedding + bidirectional GRU: token ids ``(B, Ts)`` -> states ``(B, Ts, 2H)`` and a summary.

    The summary ``(B, 2H)`` joins the forward GRU's last state and the backward GRU's
    first-step state: the fixed-size vector a fixed-context decoder must live with.

    Examples
    --------
    >>> enc = GRUEncoder(vocab_size=10, hidden=8)
    >>> states, summary = enc(torch.randint(0, 10, (3, 5)))
    >>> states.shape, summary.shape
    (torch.Size([3, 5, 16]), torch.Size([3, 16]))
    """

    def __init__(self, vocab_size: int, hidden: int = 32):
        super().__init__()
        self.vocab_size = require_int(vocab_size, "vocab_size", minimum=2)
        self.hidden = require_int(hidden, "hidden", minimum=1)
        self.embed = nn.Embedding(vocab_size, hidden)
        self.gru = nn.GRU(hidden, hidden, batch_first=True, bidirectional=True)

    def forward(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _require_ids(src, "src", self.vocab_size)
        states, last = self.gru(self.embed(src))           # (B, Ts, 2H), (2, B, H)
        summary = torch.cat([last[0], last[1]], dim=-1)    # (B, 2H)
        return states, summary


class _Seq2Seq(nn.Module):
    """Shared decoder loop; subclasses define :meth:`context`."""

    def __init__(self, vocab_size: int, hidden: int = 32):
        super().__init__()
        self.vocab_size = require_int(vocab_size, "vocab_size", minimum=2)
        self.hidden = require_int(hidden, "hidden", minimum=1)
        self.bos = vocab_size                                 # start token, never a target
        self.encoder = GRUEncoder(vocab_size, hidden)
        self.embed = nn.Embedding(vocab_size + 1, hidden)     # + the start token
        self.init_state = nn.Linear(2 * hidden, hidden)
        self.cell = nn.GRUCell(hidden + 2 * hidden, hidden)   # reads [previous token, context]
        self.out = nn.Linear(hidden + 2 * hidden, vocab_size)

    def context(self, state, states, summary, cache=None):  # pragma: no cover - overridden
        raise NotImplementedError

    def _cache(self, states):
        """Per-sequence work the context needs at every step, computed once (None here)."""
        return None

    def _step(self, embedded, state, states, summary, cache):
        context, weights = self.context(state, states, summary, cache)    # (B, 2H), (B, Ts) or None
        state = self.cell(torch.cat([embedded, context], -1), state)      # (B, H)
        logits = self.out(torch.cat([state, context], -1))                # (B, V)
        return logits, state, weights

    def forward(self, src: torch.Tensor, tgt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Teacher forcing: logits ``(B, T, V)`` for every target position, and weights ``(B, T, Ts)``.

        Position ``t`` reads the true token ``tgt[:, t - 1]`` (the start token at ``t = 0``).
        The weights are ``None`` for the fixed-context model.
        """
        _require_ids(tgt, "tgt", self.vocab_size)
        states, summary = self.encoder(src)                                  # (B, Ts, 2H), (B, 2H)
        if tgt.shape[0] != src.shape[0]:
            raise ValueError(f"src {shape_str(src.shape)} and tgt {shape_str(tgt.shape)} "
                             f"have different batch sizes")
        state = torch.tanh(self.init_state(summary))                         # (B, H)
        previous = torch.cat([torch.full_like(tgt[:, :1], self.bos), tgt[:, :-1]], 1)  # (B, T)
        embedded = self.embed(previous)                                      # (B, T, H)
        cache = self._cache(states)
        all_logits, all_weights = [], []
        for t in range(tgt.shape[1]):
            logits, state, weights = self._step(embedded[:, t], state, states, summary, cache)
            all_logits.append(logits)
            all_weights.append(weights)
        weights = None if all_weights[0] is None else torch.stack(all_weights, 1)  # (B, T, Ts)
        return torch.stack(all_logits, 1), weights                                # (B, T, V)

    @torch.no_grad()
    def generate(self, src: torch.Tensor, length: int | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Greedy decoding: each step reads the model's own previous prediction.

        Returns predicted ids ``(B, length)`` (default: the source length) and the
        weights ``(B, length, Ts)`` (``None`` for the fixed-context model).
        """
        states, summary = self.encoder(src)
        length = src.shape[1] if length is None else require_int(length, "length", minimum=1)
        state = torch.tanh(self.init_state(summary))
        token = torch.full_like(src[:, 0], self.bos)                         # (B,)
        cache = self._cache(states)
        tokens, all_weights = [], []
        for _ in range(length):
            logits, state, weights = self._step(self.embed(token), state, states, summary, cache)
            token = logits.argmax(-1)
            tokens.append(token)
            all_weights.append(weights)
        weights = None if all_weights[0] is None else torch.stack(all_weights, 1)
        return torch.stack(tokens, 1), weights


class FixedContextSeq2Seq(_Seq2Seq):
    """GRU encoder-decoder that reads the same fixed context vector (the encoder summary) at every step.

    Examples
    --------
    >>> model = FixedContextSeq2Seq(vocab_size=10, hidden=8)
    >>> src = torch.randint(0, 10, (2, 6))
    >>> logits, weights = model(src, src.flip(1))
    >>> logits.shape, weights is None, model.generate(src)[0].shape
    (torch.Size([2, 6, 10]), True, torch.Size([2, 6]))
    """

    def context(self, state, states, summary, cache=None):
        return summary, None                              # (B, 2H): the same vector every step


class AttentionSeq2Seq(_Seq2Seq):
    """GRU encoder-decoder with additive (Bahdanau) attention: a fresh context at every step.

    Examples
    --------
    >>> model = AttentionSeq2Seq(vocab_size=10, hidden=8)
    >>> src = torch.randint(0, 10, (2, 6))
    >>> logits, weights = model(src, src.flip(1))
    >>> logits.shape, weights.shape       # weights: (B, target step, source position)
    (torch.Size([2, 6, 10]), torch.Size([2, 6, 6]))
    """

    def __init__(self, vocab_size: int, hidden: int = 32):
        super().__init__(vocab_size, hidden)
        self.attention = AdditiveAttention(hidden, 2 * hidden, hidden)

    def _cache(self, states):
        return self.attention.w_key(states)               # (B, Ts, hidden): W_k h_j, once per sequence

    def context(self, state, states, summary, cache=None):
        return self.attention(state, states, projected_keys=cache)  # (B, 2H), (B, Ts)


def token_accuracy(predictions: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of positions where ``predictions`` equals ``targets`` (both ``(B, T)`` ids).

    Positions whose target is ``-100`` (the ignore index) are left out.

    Examples
    --------
    >>> token_accuracy(torch.tensor([[1, 2, 3, 4]]), torch.tensor([[1, 2, 0, 4]]))
    0.75
    """
    if not isinstance(predictions, torch.Tensor) or not isinstance(targets, torch.Tensor):
        raise TypeError(f"predictions and targets must be tensors, got "
                        f"{type(predictions).__name__} and {type(targets).__name__}")
    if predictions.shape != targets.shape:
        raise ValueError(f"predictions {shape_str(predictions.shape)} and targets "
                         f"{shape_str(targets.shape)} must have the same shape")
    keep = targets != -100
    if not keep.any():
        raise ValueError("targets has no position to score (all are -100)")
    return (predictions[keep] == targets[keep]).float().mean().item()
