"""A tiny decoder-only LM as today's LLMs build it: RoPE, GQA, a sliding window (lesson 11)."""


from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .._validate import require_int, shape_str
from ..attention import _attend
from ..caches import _apply_rotary, kv_cache_bytes
from ..efficient import KVCache

__all__: list[str] = []

__all__ += ["RotaryLM"]


class _RotaryBlock(nn.Module):
    """Pre-norm decoder block with rotary positions, grouped-query attention and an optional window."""

    def __init__(self, d_model: int, num_heads: int, num_kv_heads: int, window: int | None):
        super().__init__()
        self.num_heads, self.num_kv_heads = num_heads, num_kv_heads
        self.head_dim, self.window = d_model // num_heads, window
        self.ln1 = nn.LayerNorm(d_model)
        self.q_proj = nn.Linear(d_model, d_model)
        self.kv_proj = nn.Linear(d_model, 2 * num_kv_heads * self.head_dim)  # K and V, Hkv heads each
        self.out = nn.Linear(d_model, d_model)
        self.ln2 = nn.LayerNorm(d_model)
        self.fc1 = nn.Linear(d_model, 4 * d_model)
        self.fc2 = nn.Linear(4 * d_model, d_model)
        self.attn_weights: torch.Tensor | None = None

    def forward(self, x, start=0, layer_index=0, cache=None):
        B, T, D = x.shape
        h = self.ln1(x)
        q = self.q_proj(h).view(B, T, self.num_heads, self.head_dim).transpose(1, 2)  # (B, H, T, Dh)
        kv = self.kv_proj(h).view(B, T, 2, self.num_kv_heads, self.head_dim)
        k, v = kv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, Hkv, T, Dh)
        q_pos = torch.arange(start, start + T, device=x.device)
        k_pos = q_pos
        if cache is not None:  # the cache stores k un-rotated and says where to rotate each key
            stored = cache.update(layer_index, k, v)
            k, v = stored[0], stored[1]  # (B, Hkv, S, Dh): whatever the cache keeps
            k_pos = stored[2] if len(stored) == 3 else torch.arange(k.shape[2], device=x.device)
        q, k = _apply_rotary(q, q_pos), _apply_rotary(k, k_pos)
        distance = q_pos[:, None] - k_pos[None, :]  # (T, S)
        mask = distance >= 0  # causal
        if self.window is not None:
            mask &= distance < self.window  # the key is one of the last `window` tokens
        group = self.num_heads // self.num_kv_heads
        if group > 1:
            k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)  # (B, H, S, Dh)
        context, weights = _attend(q, k, v, None if bool(mask.all()) else mask, self.head_dim ** -0.5)
        self.attn_weights = weights.detach()  # (B, H, T, S)
        x = x + self.out(context.transpose(1, 2).reshape(B, T, D))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x)), approximate="tanh"))


class RotaryLM(nn.Module):
    """A tiny decoder-only LM as today's LLMs build it: rotary positions, GQA, optional sliding window (lesson 11).

    Token embeddings (no position table: positions enter as rotations of the queries and
    keys, RoPE, Su et al. 2021, so the model runs at any length), ``num_layers`` pre-norm
    blocks of causal self-attention with ``num_kv_heads`` key/value heads shared by
    groups of the ``num_heads`` query heads (``None`` = ordinary multi-head, ``1`` =
    multi-query) and a GELU MLP, a final LayerNorm, a read-out tied to the embedding.
    With ``window`` a query reads only the last ``window`` tokens (itself included), in
    training and in generation.

    Generation with a cache feeds one token at a time through any cache of
    :mod:`attnkit.caches` or an :class:`attnkit.KVCache` (``update(layer, k, v)``),
    so the same weights run with a full, rolling or paged cache. Each block keeps its
    last attention weights in ``blocks[i].attn_weights`` ``(B, H, Tq, Tk)``.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> lm = RotaryLM(vocab_size=11, d_model=16, num_heads=4, num_kv_heads=2, num_layers=2)
    >>> lm(torch.zeros(3, 5, dtype=torch.long)).shape
    torch.Size([3, 5, 11])
    >>> prompt = torch.tensor([[1, 2, 3]])
    >>> fast = lm.generate(prompt, max_new_tokens=6, use_cache=True)
    >>> slow = lm.generate(prompt, max_new_tokens=6, use_cache=False)
    >>> fast.shape, bool((fast == slow).all()), lm.cache_bytes_per_token()  # 2 x 2 layers x 2 x 4 x 4 B
    (torch.Size([1, 9]), True, 128)
    """

    def __init__(self, vocab_size: int, d_model: int = 64, num_heads: int = 4,
                 num_kv_heads: int | None = None, num_layers: int = 2, window: int | None = None):
        super().__init__()
        vocab_size = require_int(vocab_size, "vocab_size", minimum=1)
        d_model = require_int(d_model, "d_model", minimum=1)
        num_heads = require_int(num_heads, "num_heads", minimum=1)
        num_layers = require_int(num_layers, "num_layers", minimum=1)
        num_kv_heads = num_heads if num_kv_heads is None else require_int(num_kv_heads, "num_kv_heads", 1)
        if d_model % num_heads or (d_model // num_heads) % 2:
            raise ValueError(f"d_model={d_model} must split into num_heads={num_heads} heads of even width "
                             f"(rotary positions turn pairs of features)")
        if num_heads % num_kv_heads:
            raise ValueError(f"num_heads={num_heads} is not a multiple of num_kv_heads={num_kv_heads}")
        if window is not None:
            window = require_int(window, "window", minimum=1)
        self.vocab_size, self.d_model, self.num_heads = vocab_size, d_model, num_heads
        self.num_kv_heads, self.num_layers, self.window = num_kv_heads, num_layers, window
        self.head_dim = d_model // num_heads
        self.token_emb = nn.Embedding(vocab_size, d_model)
        nn.init.normal_(self.token_emb.weight, std=0.02)
        self.blocks = nn.ModuleList(_RotaryBlock(d_model, num_heads, num_kv_heads, window)
                                    for _ in range(num_layers))
        self.ln_f = nn.LayerNorm(d_model)

    def _check_ids(self, ids):
        if not isinstance(ids, torch.Tensor):
            raise TypeError(f"ids must be a torch.Tensor of token ids, got {type(ids).__name__}")
        if ids.is_floating_point() or ids.dtype == torch.bool:
            raise TypeError(f"ids must hold integers, got dtype {ids.dtype}")
        if ids.dim() != 2 or ids.shape[1] == 0:
            raise ValueError(f"ids must be (B, T) with T >= 1, got shape {shape_str(ids.shape)}")
        if int(ids.min()) < 0 or int(ids.max()) >= self.vocab_size:
            raise ValueError(f"ids must lie in 0 .. {self.vocab_size - 1}, got values from "
                             f"{int(ids.min())} to {int(ids.max())}")

    def _forward(self, ids, start=0, cache=None):
        x = self.token_emb(ids)  # (B, T, D)
        for index, block in enumerate(self.blocks):
            x = block(x, start, index, cache)
        return self.ln_f(x) @ self.token_emb.weight.T  # (B, T, V)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` token ids -> ``(B, T, vocab_size)`` next-token logits, no cache."""
        self._check_ids(ids)
        return self._forward(ids)

    def cache_bytes_per_token(self) -> int:
        """Bytes one token adds to a KV cache: ``2 x layers x num_kv_heads x head_dim x bytes``."""
        p = self.token_emb.weight
        return kv_cache_bytes(self.num_layers, self.num_kv_heads, self.head_dim,
                              bytes_per_value=p.element_size())

    def new_cache(self, batch_size: int, max_len: int) -> KVCache:
        """An empty contiguous :class:`attnkit.KVCache` for ``max_len`` tokens (``num_kv_heads`` heads)."""
        p = self.token_emb.weight
        return KVCache(self.num_layers, batch_size, self.num_kv_heads, max_len, self.head_dim,
                       dtype=p.dtype, device=p.device)

    @torch.no_grad()
    def forward_cached(self, ids: torch.Tensor, cache) -> torch.Tensor:
        """Feed ``ids`` ``(B, T)`` one token at a time through ``cache``; ``(B, T, V)`` logits back.

        The cache keeps whatever it keeps (every token, the last ``window``, pages): the
        logits at each position are computed from the keys and values it returns.
        """
        self._check_ids(ids)
        logits = [self._forward(ids[:, i:i + 1], cache.seq_len, cache) for i in range(ids.shape[1])]
        return torch.cat(logits, dim=1)  # (B, T, V)

    def generate(self, ids: torch.Tensor, max_new_tokens: int, use_cache: bool = True,
                 cache=None) -> torch.Tensor:
        """Greedily append ``max_new_tokens`` tokens to ``ids`` ``(B, T)``.

        ``use_cache=True`` runs through ``cache`` (a new contiguous :meth:`new_cache` when
        ``None``), one token per step; ``use_cache=False`` recomputes the whole sequence
        at every step. With a cache that keeps every token needed, both give the same tokens.
        """
        if not isinstance(use_cache, bool):
            raise TypeError(f"use_cache must be True or False, got {use_cache!r}")
        if cache is not None and not use_cache:
            raise ValueError("a cache was given with use_cache=False: pass one or the other")
        if cache is not None and not hasattr(cache, "update"):
            raise TypeError(f"cache must have update(layer, key, value), got {type(cache).__name__}")
        max_new_tokens = require_int(max_new_tokens, "max_new_tokens")
        self._check_ids(ids)
        was_training = self.training
        self.eval()
        out = torch.empty(ids.shape[0], ids.shape[1] + max_new_tokens, dtype=torch.long)
        out[:, : ids.shape[1]] = ids  # preallocated: no torch.cat per step
        length = ids.shape[1]
        try:  # the train/eval mode comes back even after an error
            with torch.inference_mode():
                if use_cache:
                    if cache is None:
                        cache = self.new_cache(ids.shape[0], length + max_new_tokens)
                    logits = torch.cat([self._forward(ids[:, i:i + 1], cache.seq_len, cache)
                                        for i in range(length)], dim=1)  # the prompt, token by token
                for step in range(max_new_tokens):
                    if not use_cache:
                        logits = self._forward(out[:, :length])  # the whole prefix again
                    elif step > 0:
                        logits = self._forward(out[:, length - 1:length], cache.seq_len, cache)  # (B, 1, V)
                    out[:, length] = logits[:, -1].argmax(dim=-1)
                    length += 1
        finally:
            self.train(was_training)
        return out.clone()
