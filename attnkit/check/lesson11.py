"""Checkers for lesson 11: attention in today's LLMs (used as ``ak.check.<name>``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..attention import attention as _attention
from ._core import Checker, ScalarChecker, Verdict, _seeded

__all__ = ["cached_attention_step", "expand_kv_heads", "rolling_attention_step", "kv_cache_bytes", "llm_kv_table"]


# --- one step with a KV cache (moved here from lesson 08) ------------------------------------------------------------

def _cache_step(query, key, value, cache_key, cache_value):
    cache_key = torch.cat([cache_key, key], dim=-2)  # (B, H, t + 1, Dh)
    cache_value = torch.cat([cache_value, value], dim=-2)  # (B, H, t + 1, Dv)
    return _attention(query, cache_key, cache_value)[0], cache_key, cache_value


def _cache_step_before_append(query, key, value, cache_key, cache_value):
    out = _attention(query, cache_key, cache_value)[0]
    return out, torch.cat([cache_key, key], dim=-2), torch.cat([cache_value, value], dim=-2)


def _cache_step_prepend(query, key, value, cache_key, cache_value):
    cache_key = torch.cat([key, cache_key], dim=-2)
    cache_value = torch.cat([value, cache_value], dim=-2)
    return _attention(query, cache_key, cache_value)[0], cache_key, cache_value


def _cache_step_top_left(query, key, value, cache_key, cache_value):
    """``is_causal=True`` with one query: the mask is aligned top-left, so it sees only the first key."""
    out, ck, cv = _cache_step(query, key, value, cache_key, cache_value)
    return F.scaled_dot_product_attention(query, ck, cv, is_causal=True), ck, cv


def _cache_cases():
    g = _seeded(81)
    for b, h, t, d in ((1, 1, 3, 4), (2, 4, 5, 8), (1, 2, 1, 16), (3, 1, 7, 2)):
        yield (torch.randn(b, h, 1, d, generator=g), torch.randn(b, h, 1, d, generator=g),
               torch.randn(b, h, 1, d, generator=g), torch.randn(b, h, t, d, generator=g),
               torch.randn(b, h, t, d, generator=g))


def _with_caches(out_fn):
    def wrong(q, k, v, ck, cv):
        _, new_k, new_v = _cache_step(q, k, v, ck, cv)
        return out_fn(q, k, v, new_k, new_v), new_k, new_v
    return wrong


cached_attention_step = Checker(
    "cached_attention_step",
    reference=_cache_step,
    cases=_cache_cases,
    mistakes={
        "you attended before appending: the new token must also see its own key and value, so "
        "append first, then attend":
            _cache_step_before_append,
        "you put the new key/value at the front: append them at the end (dim=-2), after the "
        "older tokens":
            _cache_step_prepend,
        "you returned the old caches: return the caches with the new key and value appended":
            lambda q, k, v, ck, cv: (_cache_step(q, k, v, ck, cv)[0], ck, cv),
        "you forgot the scale: divide the scores by sqrt(d_k)":
            _with_caches(lambda q, k, v, ck, cv: _attention(q, ck, cv, scale=1.0)[0]),
        "is_causal=True aligns its mask top-left, so your one query saw only the first cached key: with "
        "a cache the new token may see every key, so use no mask":
            _cache_step_top_left,
        "you attended to the new token alone: attend to every cached key, the past and the new one":
            _with_caches(lambda q, k, v, ck, cv: v),
    },
)



# --- expanding key/value heads for grouped-query attention ---------------------------


def _expand(kv, num_heads):
    return kv.repeat_interleave(num_heads // kv.shape[1], dim=1)  # (B, H, T, Dh)


def _expand_cases():
    g = _seeded(110)
    for b, hkv, h, t, d in ((1, 2, 4, 3, 5), (2, 2, 8, 4, 3), (1, 3, 6, 2, 4), (2, 4, 4, 3, 2),
                            (1, 1, 4, 5, 3)):
        yield torch.randn(b, hkv, t, d, generator=g), h


expand_kv_heads = Checker(
    "expand_kv_heads",
    reference=_expand,
    cases=_expand_cases,
    mistakes={
        "you tiled the KV heads (kv.repeat): that gives query heads 0, 1, 2, 3 the KV heads "
        "0, 1, 0, 1; grouped-query attention gives each KV head a block of neighbouring query "
        "heads (0, 0, 1, 1): use repeat_interleave(group, dim=1)":
            lambda kv, h: kv.repeat(1, h // kv.shape[1], 1, 1),
        "you repeated along the wrong axis: heads are dim 1 of (B, Hkv, T, Dh), not the tokens":
            lambda kv, h: kv.repeat_interleave(h // kv.shape[1], dim=2),
        "you repeated each KV head num_heads times: the group size is num_heads // num_kv_heads":
            lambda kv, h: kv.repeat_interleave(h, dim=1),
    },
    grads=True,  # a detached answer would match the values and break training
)


# --- one decoding step with a rolling (ring-buffer) cache ----------------------------


def _rolling_step(query, key, value, cache_key, cache_value, t, write_slot=None, attend_all=False,
                  attend_first=False):
    window = cache_key.shape[-2]
    slot = t % window if write_slot is None else write_slot % window
    cache_key, cache_value = cache_key.clone(), cache_value.clone()
    old_key, old_value = cache_key.clone(), cache_value.clone()
    cache_key[..., slot, :] = key[..., 0, :]
    cache_value[..., slot, :] = value[..., 0, :]
    filled = window if attend_all else min(t + 1, window)
    read_key, read_value = (old_key, old_value) if attend_first else (cache_key, cache_value)
    output, _ = _attention(query, read_key[..., :filled, :], read_value[..., :filled, :])
    return output, cache_key, cache_value


def _rolling_cases():
    g = _seeded(111)
    for b, h, w, d, t in ((1, 1, 4, 3, 6), (2, 2, 3, 4, 1), (1, 2, 5, 2, 5), (1, 1, 4, 4, 9),
                          (2, 1, 3, 3, 2), (1, 2, 6, 3, 13)):
        cache_key, cache_value = torch.zeros(b, h, w, d), torch.zeros(b, h, w, d)
        filled = min(t, w)  # tokens 0 .. t-1 are already in their slots
        cache_key[..., :filled, :] = torch.randn(b, h, filled, d, generator=g)
        cache_value[..., :filled, :] = torch.randn(b, h, filled, d, generator=g)
        yield (torch.randn(b, h, 1, d, generator=g), torch.randn(b, h, 1, d, generator=g),
               torch.randn(b, h, 1, d, generator=g), cache_key, cache_value, t)


rolling_attention_step = Checker(
    "rolling_attention_step",
    reference=_rolling_step,
    cases=_rolling_cases,
    mistakes={
        "off by one: token t goes to slot t % window (token 0 to slot 0), not (t + 1) % window":
            lambda q, k, v, ck, cv, t: _rolling_step(q, k, v, ck, cv, t, write_slot=t + 1),
        "off by one: token t goes to slot t % window, not (t - 1) % window":
            lambda q, k, v, ck, cv, t: _rolling_step(q, k, v, ck, cv, t, write_slot=t - 1),
        "you attended to every slot before the window was full: only the first min(t + 1, window) "
        "slots hold tokens, the others are empty zeros":
            lambda q, k, v, ck, cv, t: _rolling_step(q, k, v, ck, cv, t, attend_all=True),
        "you attended before writing the new token: it must see its own key and value":
            lambda q, k, v, ck, cv, t: _rolling_step(q, k, v, ck, cv, t, attend_first=True),
    },
)


# --- the memory of a KV cache ---------------------------------------------------------


def _bytes(num_layers, num_kv_heads, head_dim, seq_len, batch_size, bytes_per_value, factor=2):
    return torch.tensor(float(factor * num_layers * num_kv_heads * head_dim * seq_len * batch_size
                              * bytes_per_value))


def _bytes_cases():
    yield from ((32, 32, 128, 4096, 1, 2), (2, 4, 8, 96, 3, 4), (80, 8, 128, 8192, 2, 2),
                (12, 1, 64, 1024, 4, 1), (5, 3, 16, 7, 1, 4))


kv_cache_bytes = ScalarChecker(
    "kv_cache_bytes",
    reference=_bytes,
    cases=_bytes_cases,
    atol=0.5,
    rtol=1e-6,
    mistakes={
        "you counted only the keys (or only the values): a cache holds both, so multiply by 2":
            lambda *a: _bytes(*a, factor=1),
        "you forgot the layers: every layer caches its own keys and values":
            lambda L, h, d, T, B, b: _bytes(1, h, d, T, B, b),
        "you forgot the batch: every sequence in the batch has its own cache":
            lambda L, h, d, T, B, b: _bytes(L, h, d, T, 1, b),
        "that is bits, not bytes: bytes_per_value is already in bytes, do not multiply by 8":
            lambda *a: _bytes(*a, factor=16),
    },
)


# --- the 7B-class table ---------------------------------------------------------------

_TABLE_KEYS = ("MHA", "GQA", "MQA")
_KV_HEADS = {"MHA": 32, "GQA": 8, "MQA": 1}


def _table(factor=2, layers=32, seq_len=32768, bytes_per_value=2, unit=2**30):
    return {name: factor * layers * heads * 128 * seq_len * bytes_per_value / unit
            for name, heads in _KV_HEADS.items()}


class _TableChecker(Checker):
    """Calls ``fn()`` and compares the dict it returns, key by key, with the reference."""

    def evaluate(self, fn):
        if not callable(fn):
            return super().evaluate(fn)

        def as_tensor():
            out = fn()
            if not isinstance(out, dict):
                raise TypeError(f"return a dict with keys {list(_TABLE_KEYS)}, got {type(out).__name__}")
            missing = [k for k in _TABLE_KEYS if k not in out]
            if missing:
                raise KeyError(f"the dict has no entry for {missing}")
            return torch.tensor([float(out[k]) for k in _TABLE_KEYS], dtype=torch.float64)

        verdict = super().evaluate(as_tensor)
        if verdict.passed:
            row = ", ".join(f"{k} {v:g} GiB" for k, v in _table().items())
            return Verdict("pass", f"{self.name}: right; one 32k-token sequence needs {row}")
        return verdict


def _as_tensor(table):
    return torch.tensor([table[k] for k in _TABLE_KEYS], dtype=torch.float64)


llm_kv_table = _TableChecker(
    "llm_kv_table",
    reference=lambda: _as_tensor(_table()),
    cases=lambda: [()],
    atol=1e-3,
    rtol=1e-3,
    mistakes={
        "you counted only keys or only values: the cache holds both (x 2)":
            lambda: _as_tensor(_table(factor=1)),
        "you forgot the 32 layers":
            lambda: _as_tensor(_table(layers=1)),
        "you used 4 bytes per value: the table is for 16-bit (2-byte) values":
            lambda: _as_tensor(_table(bytes_per_value=4)),
        "those are GB (10**9 bytes); the table asks for GiB (2**30 bytes)":
            lambda: _as_tensor(_table(unit=10**9)),
        "that is 32,000 tokens; 32k here is 32 * 1024 = 32768":
            lambda: _as_tensor(_table(seq_len=32000)),
    },
)
