"""Character-level language modelling: a tokenizer, batches and TinyLM with a KV cache (lesson 11, benchmarks)."""


from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .._validate import require_int, shape_str
from ..attention import _attend
from .generation import CachedGeneration

__all__: list[str] = []

__all__ += ["CharTokenizer", "char_lm_batch", "TinyLM"]


class CharTokenizer:
    """Characters to ids and back: the simplest tokenizer, for a character-level language model.

    The vocabulary is the sorted set of characters of ``text``.

    Examples
    --------
    >>> tok = CharTokenizer("hello world")
    >>> tok.vocab_size, tok.encode("hello")
    (8, tensor([3, 2, 4, 4, 5]))
    >>> tok.decode(tok.encode("old"))
    'old'
    """

    def __init__(self, text: str):
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if not text:
            raise ValueError("text is empty: a vocabulary needs at least one character")
        self.chars = sorted(set(text))
        self.stoi = {c: i for i, c in enumerate(self.chars)}

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> torch.Tensor:
        """``str`` -> ``(T,)`` int64 ids; characters outside the vocabulary raise ``ValueError``."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        unknown = sorted(set(text) - self.stoi.keys())
        if unknown:
            raise ValueError(f"characters {unknown} are not in the vocabulary")
        return torch.tensor([self.stoi[c] for c in text], dtype=torch.long)

    def decode(self, ids) -> str:
        """``(T,)`` ids (tensor or list) -> ``str``."""
        if isinstance(ids, torch.Tensor):
            if ids.dim() != 1 or ids.is_floating_point():
                raise ValueError(f"ids must be a 1-d integer tensor, got {ids.dtype} {shape_str(ids.shape)}")
            ids = ids.tolist()
        bad = [i for i in ids if not 0 <= int(i) < self.vocab_size]
        if bad:
            raise ValueError(f"ids {bad[:5]} are outside 0 .. {self.vocab_size - 1}")
        return "".join(self.chars[int(i)] for i in ids)


def char_lm_batch(ids: torch.Tensor, batch_size: int, seq_len: int,
                  generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Random windows of a token stream for next-token training: ``(inputs, targets)``, both ``(B, T)``.

    ``targets`` is ``inputs`` shifted by one position: at every position the model
    predicts the next token.

    Examples
    --------
    >>> x, y = char_lm_batch(torch.arange(10), batch_size=2, seq_len=4,
    ...                      generator=torch.Generator().manual_seed(0))
    >>> x, y
    (tensor([[2, 3, 4, 5],
            [3, 4, 5, 6]]), tensor([[3, 4, 5, 6],
            [4, 5, 6, 7]]))
    """
    if not isinstance(ids, torch.Tensor) or ids.dim() != 1 or ids.is_floating_point():
        raise TypeError("ids must be a 1-d integer tensor (e.g. CharTokenizer.encode(text))")
    batch_size = require_int(batch_size, "batch_size", minimum=1)
    seq_len = require_int(seq_len, "seq_len", minimum=1)
    if ids.numel() < seq_len + 1:
        raise ValueError(f"ids has {ids.numel()} tokens, fewer than seq_len + 1 = {seq_len + 1}")
    starts = torch.randint(0, ids.numel() - seq_len, (batch_size,), generator=generator)  # (B,)
    window = starts[:, None] + torch.arange(seq_len + 1)  # (B, T + 1)
    chunk = ids[window]
    return chunk[:, :-1], chunk[:, 1:]


class _DecoderBlock(nn.Module):
    """Pre-norm block: ``x + attn(ln(x))`` then ``x + mlp(ln(x))``, causal self-attention."""

    def __init__(self, d_model: int, num_heads: int):
        super().__init__()
        self.num_heads, self.head_dim = num_heads, d_model // num_heads
        self.ln1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)  # the three projections in one product
        self.out = nn.Linear(d_model, d_model)
        self.ln2 = nn.LayerNorm(d_model)
        self.fc1 = nn.Linear(d_model, 4 * d_model)
        self.fc2 = nn.Linear(4 * d_model, d_model)
        self.attn_weights: torch.Tensor | None = None

    def forward(self, x, layer_index=0, cache=None):
        B, T, D = x.shape
        qkv = self.qkv(self.ln1(x)).view(B, T, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, H, T, Dh)
        start = 0
        if cache is not None:
            start = cache.lengths[layer_index]
            k, v = cache.update(layer_index, k, v)  # (B, H, start + T, Dh)
        # query i sits at position start + i and may read keys 0 .. start + i
        mask = None if T == 1 else torch.ones(T, start + T, dtype=torch.bool).tril(start)
        context, weights = _attend(q, k, v, mask, self.head_dim ** -0.5)  # (B, H, T, Dh), (B, H, T, start + T)
        self.attn_weights = weights.detach()
        x = x + self.out(context.transpose(1, 2).reshape(B, T, D))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x)), approximate="tanh"))  # GPT-2's GELU


class TinyLM(CachedGeneration, nn.Module):
    """A tiny decoder-only (GPT-style) language model with a KV-cached ``generate`` (benchmarks; lesson 11).

    Token embeddings plus learned positions, ``num_layers`` pre-norm blocks of causal
    multi-head self-attention (the computation of :func:`attnkit.attention`, minus its
    input checks) and a GELU MLP (GPT-2's tanh approximation), a final LayerNorm, and a read-out tied to the token
    embedding. Each block keeps its last attention weights in ``blocks[i].attn_weights``
    ``(B, H, T, T)`` for plotting.

    Parameters
    ----------
    vocab_size : int
    d_model, num_heads, num_layers : int
        Width, heads per layer (must divide ``d_model``), number of blocks.
    max_len : int
        Longest sequence (prompt + generated tokens) the positions cover.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> lm = TinyLM(vocab_size=11, d_model=16, num_heads=2, num_layers=2, max_len=32)
    >>> lm(torch.zeros(3, 5, dtype=torch.long)).shape
    torch.Size([3, 5, 11])
    >>> prompt = torch.tensor([[1, 2, 3]])
    >>> fast = lm.generate(prompt, max_new_tokens=6, use_cache=True)
    >>> slow = lm.generate(prompt, max_new_tokens=6, use_cache=False)
    >>> fast.shape, bool((fast == slow).all())
    (torch.Size([1, 9]), True)
    """

    def __init__(self, vocab_size: int, d_model: int = 128, num_heads: int = 4,
                 num_layers: int = 4, max_len: int = 512):
        super().__init__()
        vocab_size = require_int(vocab_size, "vocab_size", minimum=1)
        d_model = require_int(d_model, "d_model", minimum=1)
        num_heads = require_int(num_heads, "num_heads", minimum=1)
        num_layers = require_int(num_layers, "num_layers", minimum=1)
        max_len = require_int(max_len, "max_len", minimum=1)
        if d_model % num_heads:
            raise ValueError(f"d_model={d_model} is not divisible by num_heads={num_heads}")
        self.vocab_size, self.d_model, self.num_heads = vocab_size, d_model, num_heads
        self.num_layers, self.max_len = num_layers, max_len
        self.token_emb = nn.Embedding(vocab_size, d_model)
        self.pos_emb = nn.Embedding(max_len, d_model)
        nn.init.normal_(self.token_emb.weight, std=0.02)
        nn.init.normal_(self.pos_emb.weight, std=0.02)
        self.blocks = nn.ModuleList(_DecoderBlock(d_model, num_heads) for _ in range(num_layers))
        self.ln_f = nn.LayerNorm(d_model)

    def _check_ids(self, ids, extra: int = 0):
        if not isinstance(ids, torch.Tensor):
            raise TypeError(f"ids must be a torch.Tensor of token ids, got {type(ids).__name__}")
        if ids.dtype not in (torch.int64, torch.int32):  # what nn.Embedding takes
            raise TypeError(f"ids must hold integers of dtype int64 (torch.long) or int32, got dtype "
                            f"{ids.dtype}; convert with ids.long()")
        if ids.dim() != 2 or ids.shape[1] == 0:
            raise ValueError(f"ids must be (B, T) with T >= 1, got shape {shape_str(ids.shape)}")
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= self.vocab_size):
            raise ValueError(
                f"ids must lie in 0 .. {self.vocab_size - 1}, got values from {int(ids.min())} to {int(ids.max())}"
            )
        if ids.shape[1] + extra > self.max_len:
            raise ValueError(
                f"{ids.shape[1]} tokens + {extra} new ones exceed max_len={self.max_len}"
            )

    def _forward(self, ids, cache=None):
        start = 0 if cache is None else cache.seq_len
        positions = torch.arange(start, start + ids.shape[1], device=ids.device)
        x = self.token_emb(ids) + self.pos_emb(positions)  # (B, T, D)
        for index, block in enumerate(self.blocks):
            x = block(x, index, cache)
        return self.ln_f(x) @ self.token_emb.weight.T  # (B, T, V)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` token ids -> ``(B, T, vocab_size)`` next-token logits."""
        self._check_ids(ids)
        return self._forward(ids)
