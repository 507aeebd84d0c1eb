"""Checkers for lesson 03: softmax and attention (used as ``ak.check.<name>``)."""

from __future__ import annotations

import math

import torch

from ..attention import attention as _attention
from ..attention import softmax as _softmax
from ._core import Checker, _row_sum_hint, _seeded

__all__ = ["softmax", "attention_weights", "attention"]


def _softmax_cases():
    g = _seeded(3)
    yield (torch.randn(4, 6, generator=g),)
    yield (torch.randn(2, 3, 5, generator=g) * 3,)
    yield (torch.tensor([[1000.0, 1001.0, 999.0], [-1000.0, -1002.0, -1001.0]]),)
    yield (torch.randn(7, generator=g),)


softmax = Checker(
    "softmax", reference=lambda x: _softmax(x, dim=-1), cases=_softmax_cases,
    mistakes={
        "you normalised over the wrong axis: each row (dim=-1) should sum to 1":
            lambda x: torch.softmax(x, dim=0),
    },
    extra_hint=lambda got, exp, args: _row_sum_hint(got, exp, args)
    or ("huge logits overflow exp(): subtract each row's max first"
        if args[0].abs().max() > 100 else None),
)


def _qk_cases():
    g = _seeded(30)
    for b, tq, tk, d in ((1, 3, 3, 4), (2, 4, 6, 8), (3, 5, 2, 16), (1, 1, 7, 64)):
        yield torch.randn(b, tq, d, generator=g), torch.randn(b, tk, d, generator=g)


def _weights(q, k):
    return _attention(q, k, k)[1]


attention_weights = Checker(
    "attention_weights", reference=_weights, cases=_qk_cases,
    mistakes={
        "you forgot the scale: divide the scores by sqrt(d_k) before the softmax":
            lambda q, k: torch.softmax(q @ k.transpose(-2, -1), dim=-1),
        "you divided by d_k, not sqrt(d_k)":
            lambda q, k: torch.softmax(q @ k.transpose(-2, -1) / q.shape[-1], dim=-1),
        "softmax over the wrong axis: normalise over the keys (dim=-1), so each query's row sums to 1":
            lambda q, k: torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-2),
    },
    extra_hint=_row_sum_hint,
)


def _qkv_cases():
    g = _seeded(31)
    for b, tq, tk, d, dv in ((1, 3, 3, 4, 4), (2, 4, 6, 8, 5), (3, 5, 2, 16, 3)):
        yield (torch.randn(b, tq, d, generator=g), torch.randn(b, tk, d, generator=g),
               torch.randn(b, tk, dv, generator=g))


attention = Checker(
    "attention", reference=lambda q, k, v: _attention(q, k, v)[0], cases=_qkv_cases,
    mistakes={
        "you forgot the scale: divide the scores by sqrt(d_k) before the softmax":
            lambda q, k, v: torch.softmax(q @ k.transpose(-2, -1), dim=-1) @ v,
        "softmax over the wrong axis: normalise over the keys (dim=-1)":
            lambda q, k, v: torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-2) @ v,
        "you returned the weights, not the weighted sum of the values (weights @ value)":
            lambda q, k, v: _attention(q, k, v)[1],
    },
)
