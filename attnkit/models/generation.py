"""Token-by-token generation with or without a KV cache, shared by the course's decoder-only models.

Invariant: the cached and the uncached loop produce the same tokens; only the work per step differs.
A model that mixes in :class:`CachedGeneration` provides ``_check_ids(ids, extra)``,
``_forward(ids, cache)``, ``token_emb`` (its dtype decides what "too small a temperature" means),
and ``num_layers``, ``num_heads``, ``d_model``, ``max_len`` for its cache.
"""

from __future__ import annotations

import torch

from .._validate import require_int, require_number
from ..efficient import KVCache

__all__: list[str] = []


class CachedGeneration:
    """``new_cache`` and ``generate`` for a decoder-only model (lessons 07 and 11, the benchmarks)."""

    def new_cache(self, batch_size: int, max_len: int | None = None) -> KVCache:
        """An empty :class:`attnkit.KVCache` shaped for this model."""
        p = self.token_emb.weight
        return KVCache(self.num_layers, batch_size, self.num_heads, max_len or self.max_len,
                       self.d_model // self.num_heads, dtype=p.dtype, device=p.device)

    def generate(self, ids: torch.Tensor, max_new_tokens: int, use_cache: bool = True,
                 temperature: float = 0.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """Append ``max_new_tokens`` tokens to ``ids`` ``(B, T)`` or ``(T,)``; same shape rank back.

        ``temperature=0`` picks the most likely token (greedy); above 0 it samples from
        ``softmax(logits / temperature)`` with ``generator``. With ``use_cache=True`` the
        prompt is run once into a :class:`attnkit.KVCache` and each step feeds only the
        newest token; with ``use_cache=False`` each step recomputes the whole sequence.
        Both give the same tokens. A temperature so small that ``logits / temperature``
        overflows still works: it samples among the most likely tokens (greedy up to ties);
        one that is 0 in the model's dtype is greedy.
        The model's train/eval mode is restored afterwards, even after an error.
        """
        if not isinstance(use_cache, bool):
            raise TypeError(f"use_cache must be True or False, got {use_cache!r}")
        max_new_tokens = require_int(max_new_tokens, "max_new_tokens")
        temperature = require_number(temperature, "temperature")
        if not 0 <= temperature < float("inf"):  # also refuses NaN
            raise ValueError(f"temperature must be a finite number >= 0 (0 = greedy), got {temperature}")
        if torch.tensor(temperature, dtype=self.token_emb.weight.dtype) == 0:
            temperature = 0.0  # too small for the model's dtype (e.g. 1e-300 in float32): greedy
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
        unbatched = isinstance(ids, torch.Tensor) and ids.dim() == 1
        if unbatched:
            ids = ids[None]
        self._check_ids(ids, extra=max_new_tokens)
        was_training = self.training
        self.eval()
        try:  # inference mode: no autograd bookkeeping at all, most of a one-token step's overhead
            with torch.inference_mode():
                out = self._generate(ids, max_new_tokens, use_cache, temperature, generator)
        finally:
            self.train(was_training)
        out = out.clone()  # a normal tensor again, usable anywhere (inference tensors are not)
        return out[0] if unbatched else out

    def _generate(self, ids, max_new_tokens, use_cache, temperature, generator):
        out = torch.empty(ids.shape[0], ids.shape[1] + max_new_tokens, dtype=torch.long,
                          device=ids.device)  # preallocated: no torch.cat per step
        out[:, : ids.shape[1]] = ids
        length = ids.shape[1]
        cache = self.new_cache(ids.shape[0], length + max_new_tokens) if use_cache else None
        step_input = ids
        for _ in range(max_new_tokens):
            logits = self._forward(step_input if use_cache else out[:, :length], cache)[:, -1]  # (B, V)
            if temperature == 0:
                next_id = logits.argmax(dim=-1)  # (B,)
            else:
                # shifted so the largest logit is 0: a tiny temperature sends the others to -inf, not NaN
                shifted = logits - logits.amax(dim=-1, keepdim=True)  # (B, V)
                probs = torch.softmax(shifted / temperature, dim=-1)
                next_id = torch.multinomial(probs, 1, generator=generator)[:, 0]
            out[:, length] = next_id
            length += 1
            step_input = out[:, length - 1: length]  # (B, 1): only the newest token
        return out
