"""Checkers for lesson 08: limits of attention and the fixes (used as ``ak.check.<name>``)."""

from __future__ import annotations

import math

import torch

from ..attention import attention as _attention
from ._core import Checker, _seeded

__all__ = ["online_softmax_attention", "sliding_window_mask", "cached_attention_step"]


def _online_softmax(query, key, value, block_size, rescale_sum=True, rescale_out=True, divide=True):
    """Attention over key blocks with a running max, sum and output (and optional mistakes)."""
    scale = 1.0 / math.sqrt(query.shape[-1])
    run_max = torch.full(query.shape[:-1] + (1,), -math.inf)  # (..., Tq, 1)
    run_sum = torch.zeros_like(run_max)  # (..., Tq, 1)
    run_out = torch.zeros(query.shape[:-1] + (value.shape[-1],))  # (..., Tq, Dv)
    for start in range(0, key.shape[-2], block_size):
        scores = query @ key[..., start:start + block_size, :].transpose(-2, -1) * scale  # (..., Tq, b)
        new_max = torch.maximum(run_max, scores.amax(-1, keepdim=True))
        correction = torch.exp(run_max - new_max)
        exp_scores = torch.exp(scores - new_max)
        run_sum = (correction if rescale_sum else 1.0) * run_sum + exp_scores.sum(-1, keepdim=True)
        run_out = ((correction if rescale_out else 1.0) * run_out
                   + exp_scores @ value[..., start:start + block_size, :])
        run_max = new_max
    return run_out / run_sum if divide else run_out


def _online_cases():
    g = _seeded(80)
    for shape_q, tk, dv, block in (((5, 4), 12, 3, 4), ((2, 3, 8), 10, 8, 3), ((1, 7, 16), 9, 5, 1),
                                   ((2, 2, 4, 8), 6, 4, 16), ((6, 4), 13, 2, 5)):
        d = shape_q[-1]
        query = 3 * torch.randn(*shape_q, generator=g)
        key = torch.randn(*shape_q[:-2], tk, d, generator=g)
        value = torch.randn(*shape_q[:-2], tk, dv, generator=g)
        yield query, key, value, block


online_softmax_attention = Checker(
    "online_softmax_attention",
    reference=lambda q, k, v, block_size: _attention(q, k, v)[0],
    cases=_online_cases,
    mistakes={
        "when the running max grows you must rescale the running SUM by exp(old_max - new_max) too":
            lambda q, k, v, b: _online_softmax(q, k, v, b, rescale_sum=False),
        "when the running max grows you must rescale the running OUTPUT by exp(old_max - new_max) too":
            lambda q, k, v, b: _online_softmax(q, k, v, b, rescale_out=False),
        "you never rescaled anything when the max changed: multiply the running sum and output "
        "by exp(old_max - new_max)":
            lambda q, k, v, b: _online_softmax(q, k, v, b, rescale_sum=False, rescale_out=False),
        "you forgot the final division of the running output by the running sum":
            lambda q, k, v, b: _online_softmax(q, k, v, b, divide=False),
        "you forgot the scale: multiply the scores by 1 / sqrt(d_k)":
            lambda q, k, v, b: _attention(q, k, v, scale=1.0)[0],
    },
)


def _sliding_reference(n, window):
    i = torch.arange(n)[:, None]
    j = torch.arange(n)[None, :]
    return (j <= i) & (i - j <= window)


def _sliding_cases():
    yield from ((6, 2), (5, 0), (8, 3), (4, 10), (10, 1), (1, 0))  # (n, window)


sliding_window_mask = Checker(
    "sliding_window_mask",
    reference=_sliding_reference,
    cases=_sliding_cases,
    mistakes={
        "off by one: a query must see itself AND the `window` keys before it (use i - j <= window, "
        "not i - j < window)":
            lambda n, w: (torch.arange(n)[None, :] <= torch.arange(n)[:, None])
            & (torch.arange(n)[:, None] - torch.arange(n)[None, :] < w),
        "off by one the other way: that lets a query see window + 1 keys before it":
            lambda n, w: _sliding_reference(n, w + 1),
        "not causal: a query may only look back (j <= i), never at the future":
            lambda n, w: (torch.arange(n)[:, None] - torch.arange(n)[None, :]).abs() <= w,
        "transposed: rows are queries i, columns keys j; the window looks back (j <= i), not ahead":
            lambda n, w: _sliding_reference(n, w).T,
        "the mask is flipped: True must mean 'may attend'":
            lambda n, w: ~_sliding_reference(n, w),
    },
)


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


def _cache_cases():
    g = _seeded(81)
    for b, h, t, d in ((1, 1, 3, 4), (2, 4, 5, 8), (1, 2, 1, 16), (3, 1, 7, 2)):
        yield (torch.randn(b, h, 1, d, generator=g), torch.randn(b, h, 1, d, generator=g),
               torch.randn(b, h, 1, d, generator=g), torch.randn(b, h, t, d, generator=g),
               torch.randn(b, h, t, d, generator=g))


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
            lambda q, k, v, ck, cv: (_attention(q, torch.cat([ck, k], -2), torch.cat([cv, v], -2),
                                                scale=1.0)[0],
                                     torch.cat([ck, k], -2), torch.cat([cv, v], -2)),
    },
)
