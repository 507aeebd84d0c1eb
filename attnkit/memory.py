"""Memory-augmented attention: reading a long input segment by segment, Transformer-XL style (lesson 08).

Invariant: the model only ever attends over ``memory_len + segment_len`` keys, whatever the input's
length; what crosses a segment boundary is the previous segments' hidden states, kept (detached) as
extra keys and values for the next segment.

Full attention over ``T`` tokens costs ``T * T`` scores. A model that reads the input in segments of
``S`` tokens costs ``S * S`` per segment, ``T * S`` in all, but then no token can see anything before its
own segment. Transformer-XL (Dai et al. 2019, *Transformer-XL: Attentive Language Models Beyond a
Fixed-Length Context*) keeps the hidden states of the previous segment in every layer as a **memory**:
the queries of the current segment attend over ``[memory; current]``, the memory is not trained through
(stop-gradient), and positions are relative, because absolute positions would repeat in every segment.

* :func:`delayed_copy_batch` is a task that needs an earlier segment: output ``t`` is input ``t - delay``.
* :class:`SegmentMemoryTransformer` reads ``(B, T)`` ids in segments, with or without the memory.
"""

from __future__ import annotations

import torch
from torch import nn

from ._validate import require_int, shape_str
from .data import offset_lookup_batch
from .layers import MultiHeadAttention

__all__ = ["delayed_copy_batch", "SegmentMemoryTransformer"]


def delayed_copy_batch(batch_size: int, length: int, delay: int, vocab_size: int = 10,
                       generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of the delayed-copy task: the target at position ``t`` is the input at ``t - delay``.

    The first ``delay`` positions have no earlier input to copy: their target is ``-100``
    (``cross_entropy``'s ignore index).

    Parameters
    ----------
    batch_size, length : int
        ``B`` and ``T``, at least 1.
    delay : int
        How far back each target lies, ``1 <= delay < length``.
    vocab_size : int
        Inputs are uniform in ``0 .. vocab_size - 1`` (at least 2), so a model that cannot see
        position ``t - delay`` is right ``1 / vocab_size`` of the time.
    generator : torch.Generator, optional
        Seeded generator for reproducible batches.

    Returns
    -------
    inputs, targets : torch.LongTensor of shape (B, T)

    Examples
    --------
    >>> x, y = delayed_copy_batch(1, 6, delay=2, generator=torch.Generator().manual_seed(0))
    >>> x, y
    (tensor([[4, 9, 3, 0, 3, 9]]), tensor([[-100, -100,    4,    9,    3,    0]]))
    """
    batch_size = require_int(batch_size, "batch_size", minimum=1)
    length = require_int(length, "length", minimum=2)
    delay = require_int(delay, "delay", minimum=1)
    vocab_size = require_int(vocab_size, "vocab_size", minimum=2)
    if delay >= length:
        raise ValueError(f"delay must be smaller than length, got delay={delay}, length={length}")
    # the same task as lesson 09's offset lookup, under the name this lesson uses
    return offset_lookup_batch(batch_size, length, offset=delay, vocab_size=vocab_size, generator=generator)


class _MemoryBlock(nn.Module):
    """Pre-norm block: attention over ``[memory; current]`` with a relative-position bias, then an MLP."""

    def __init__(self, d_model: int, num_heads: int, dim_feedforward: int, max_distance: int):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.attn = MultiHeadAttention(d_model, num_heads)
        self.ff = nn.Sequential(nn.Linear(d_model, dim_feedforward), nn.ReLU(), nn.Linear(dim_feedforward, d_model))
        # one learned score bias per head and per distance 0 .. max_distance - 1 (query minus key)
        self.rel_bias = nn.Parameter(torch.zeros(num_heads, max_distance))
        self.attn_weights: torch.Tensor | None = None

    def forward(self, x: torch.Tensor, memory: torch.Tensor | None) -> torch.Tensor:
        s = x.shape[1]
        m = 0 if memory is None else memory.shape[1]
        h = self.norm1(x)  # (B, s, D)
        kv = h if memory is None else torch.cat([self.norm1(memory), h], dim=1)  # (B, m + s, D)
        # distance from query i (at m + i in the window) to key j; negative = the future
        distance = (m + torch.arange(s))[:, None] - torch.arange(m + s)[None, :]  # (s, m + s)
        bias = self.rel_bias[:, distance.clamp(min=0)]  # (H, s, m + s)
        bias = bias.masked_fill(distance < 0, float("-inf"))[None]  # (1, H, s, m + s): causal
        out, weights = self.attn(h, kv, kv, mask=bias)  # (B, s, D), (B, H, s, m + s)
        self.attn_weights = weights.detach()
        x = x + out
        return x + self.ff(self.norm2(x))  # (B, s, D)


class SegmentMemoryTransformer(nn.Module):
    """A causal Transformer that reads its input in segments, with a Transformer-XL memory (lesson 08).

    The input ``(B, T)`` is cut into segments of ``segment_len`` tokens, read left to right. In every
    layer the queries of a segment attend to the segment's earlier tokens and, with
    ``use_memory=True``, to the last ``memory_len`` hidden states that layer saw before (the previous
    segments), **detached**: no gradient flows into the memory, as in Transformer-XL (Dai et al.
    2019). Positions are relative: each head learns one score bias per distance (query minus key),
    so the same weights serve every segment. With ``use_memory=False`` each segment is read alone.

    Parameters
    ----------
    vocab_size : int
        Token ids lie in ``0 .. vocab_size - 1``.
    d_model, num_heads, num_layers : int
        Width ``D``, heads ``H``, layers.
    segment_len : int
        Tokens read at a time ``S``.
    memory_len : int, optional
        Hidden states kept per layer ``M`` (default ``segment_len``).
    dim_feedforward : int, optional
        Hidden width of the MLP (default ``4 * d_model``).

    Examples
    --------
    >>> model = SegmentMemoryTransformer(vocab_size=10, d_model=16, num_heads=2, segment_len=4)
    >>> ids = torch.randint(0, 10, (3, 12))  # three segments of 4
    >>> model(ids).shape
    torch.Size([3, 12, 10])
    >>> model.layers[0].attn_weights.shape  # last segment: 4 queries, 4 memory + 4 current keys
    torch.Size([3, 2, 4, 8])
    >>> model(ids, use_memory=False).shape, model.layers[0].attn_weights.shape  # each segment alone
    (torch.Size([3, 12, 10]), torch.Size([3, 2, 4, 4]))
    """

    def __init__(self, vocab_size: int, d_model: int = 32, num_heads: int = 2, num_layers: int = 1,
                 segment_len: int = 8, memory_len: int | None = None, dim_feedforward: int | None = None):
        super().__init__()
        self.vocab_size = require_int(vocab_size, "vocab_size", minimum=1)
        d_model = require_int(d_model, "d_model", minimum=1)
        num_layers = require_int(num_layers, "num_layers", minimum=1)
        self.segment_len = require_int(segment_len, "segment_len", minimum=1)
        self.memory_len = self.segment_len if memory_len is None else require_int(memory_len, "memory_len")
        if dim_feedforward is None:
            dim_feedforward = 4 * d_model
        dim_feedforward = require_int(dim_feedforward, "dim_feedforward", minimum=1)
        self.embed = nn.Embedding(self.vocab_size, d_model)
        self.layers = nn.ModuleList(
            _MemoryBlock(d_model, num_heads, dim_feedforward, self.memory_len + self.segment_len)
            for _ in range(num_layers)
        )
        self.final_norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, self.vocab_size)

    def forward(self, ids: torch.Tensor, use_memory: bool = True) -> torch.Tensor:
        """``ids`` ``(B, T)`` -> logits ``(B, T, vocab_size)``, read ``segment_len`` tokens at a time."""
        if not isinstance(ids, torch.Tensor) or ids.dtype != torch.long:
            what = f"dtype {ids.dtype}" if isinstance(ids, torch.Tensor) else type(ids).__name__
            raise TypeError(f"ids must be a LongTensor of token ids (B, T), got {what}")
        if ids.dim() != 2:
            raise ValueError(f"ids must have shape (B, T), got {shape_str(ids.shape)}")
        if ids.numel() and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise ValueError(
                f"ids must lie in 0..{self.vocab_size - 1} (vocab_size={self.vocab_size}), "
                f"got values from {int(ids.min())} to {int(ids.max())}"
            )
        if not isinstance(use_memory, bool):
            raise TypeError(f"use_memory must be True or False, got {use_memory!r}")
        memories: list[torch.Tensor | None] = [None] * len(self.layers)
        logits = []
        for start in range(0, ids.shape[1], self.segment_len):
            x = self.embed(ids[:, start:start + self.segment_len])  # (B, s, D)
            for i, layer in enumerate(self.layers):
                memory = memories[i] if use_memory else None
                if use_memory and self.memory_len:
                    seen = x.detach() if memory is None else torch.cat([memory, x.detach()], dim=1)
                    memories[i] = seen[:, -self.memory_len:]  # (B, <= M, D): stop-gradient
                x = layer(x, memory)  # (B, s, D)
            logits.append(self.head(self.final_norm(x)))  # (B, s, V)
        return torch.cat(logits, dim=1)  # (B, T, V)
