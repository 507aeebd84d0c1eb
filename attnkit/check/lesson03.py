"""Checkers for lesson 03: softmax and attention (used as ``ak.check.<name>``)."""

from __future__ import annotations

import math

import torch

from ..attention import attention as _attention
from ..attention import softmax as _softmax
from ._core import Case, Checker, _row_sum_hint, _seeded

__all__ = ["softmax", "attention_weights", "attention"]

_SHIFT_HINT = ("exp() overflowed, or underflowed to 0 / 0: subtract each row's *max* (x.amax(dim=-1, "
               "keepdim=True)) before exp, not its min, mean or first entry, nor one max for the whole tensor")


def _softmax_cases():
    g = _seeded(3)
    yield (torch.randn(4, 6, generator=g),)
    yield (torch.randn(2, 3, 5, generator=g) * 3,)
    yield (torch.randn(7, generator=g),)
    yield (torch.randn(5, 5, generator=g),)  # square: a sum without keepdim broadcasts the wrong way
    yield Case(torch.tensor([[1000.0, 1001.0, 999.0], [-1000.0, -1002.0, -1001.0]]), hint=_SHIFT_HINT)
    # rows spanning 2000 units, the largest logit in a different place in each row
    yield Case(torch.tensor([[-1000.0, 0.0, 1000.0], [1000.0, -1000.0, 0.0], [0.0, 1000.0, -1000.0]]),
               hint=_SHIFT_HINT)
    yield Case(torch.tensor([[[500.0, 480.0, -300.0, 490.0]], [[-800.0, -790.0, -805.0, -900.0]]]),
               hint=_SHIFT_HINT)
    yield Case(torch.tensor([[-1000.0, -1001.0, -999.5], [-500.0, -520.0, -490.0]]), hint=_SHIFT_HINT)  # all < 0


def _shifted(x, shift):
    e = torch.exp(x - shift)
    return e / e.sum(-1, keepdim=True)


softmax = Checker(
    "softmax", reference=lambda x: _softmax(x, dim=-1), cases=_softmax_cases,
    mistakes={
        "you normalised over the wrong axis: each row (dim=-1) should sum to 1":
            lambda x: torch.softmax(x, dim=0),
        "you subtracted the row's min: the largest logit then overflows exp(); subtract the row's *max*":
            lambda x: _shifted(x, x.amin(-1, keepdim=True)),
        "you subtracted the row's mean: exp() still overflows on a wide row; subtract the row's *max*":
            lambda x: _shifted(x, x.mean(-1, keepdim=True)),
        "you subtracted the row's first logit: subtract the row's *max*, wherever it is":
            lambda x: _shifted(x, x[..., :1]),
        "you subtracted one max for the whole tensor: rows far below it underflow to 0/0; subtract "
        "each row's max (dim=-1, keepdim=True)":
            lambda x: _shifted(x, x.max()),
        "clamping the logits changes the answer: subtract each row's max instead":
            lambda x: _shifted(x.clamp(-80, 80), 0.0),
    },
    extra_hint=lambda got, exp, args: _row_sum_hint(got, exp, args)
    or ("huge logits overflow exp(): subtract each row's max first"
        if args[0].abs().max() > 100 else None),
    error_hints={"must match the size": "keep the row axis with keepdim=True, so the max and the sum "
                                        "broadcast back over each row"},
)


def _qk_cases():
    g = _seeded(30)
    for b, tq, tk, d in ((2, 4, 6, 8), (3, 5, 2, 16), (1, 1, 7, 64), (2, 6, 9, 3), (1, 3, 3, 4)):
        yield torch.randn(b, tq, d, generator=g), torch.randn(b, tk, d, generator=g)
    yield 6 * torch.randn(2, 3, 8, generator=g), torch.randn(2, 5, 8, generator=g)  # wide scores: nothing may clip


def _weights(q, k):
    return _attention(q, k, k)[1]


def _scaled(q, k, scale):
    return q @ k.transpose(-2, -1) * scale


attention_weights = Checker(
    "attention_weights", reference=_weights, cases=_qk_cases,
    mistakes={
        "you forgot the scale: divide the scores by sqrt(d_k) before the softmax":
            lambda q, k: torch.softmax(q @ k.transpose(-2, -1), dim=-1),
        "you divided by d_k, not sqrt(d_k)":
            lambda q, k: torch.softmax(q @ k.transpose(-2, -1) / q.shape[-1], dim=-1),
        "softmax over the wrong axis: normalise over the keys (dim=-1), so each query's row sums to 1":
            lambda q, k: torch.softmax(_scaled(q, k, 1 / math.sqrt(q.shape[-1])), dim=-2),
        "softmax over the batch axis (dim=0): normalise over the keys (dim=-1)":
            lambda q, k: torch.softmax(_scaled(q, k, 1 / math.sqrt(q.shape[-1])), dim=0),
        "you divided by sqrt of the number of keys: d_k is the width of the queries and keys, query.shape[-1]":
            lambda q, k: torch.softmax(_scaled(q, k, 1 / math.sqrt(k.shape[-2])), dim=-1),
        "you divided by sqrt of the number of queries: d_k is the width, query.shape[-1]":
            lambda q, k: torch.softmax(_scaled(q, k, 1 / math.sqrt(q.shape[-2])), dim=-1),
        "you multiplied by sqrt(d_k) instead of dividing":
            lambda q, k: torch.softmax(_scaled(q, k, math.sqrt(q.shape[-1])), dim=-1),
    },
    extra_hint=_row_sum_hint, grads=True,
)


def _qkv_cases():
    g = _seeded(31)
    for b, tq, tk, d, dv in ((1, 3, 3, 4, 4), (2, 4, 6, 8, 5), (3, 5, 2, 16, 3), (2, 3, 7, 4, 9)):
        yield (torch.randn(b, tq, d, generator=g), torch.randn(b, tk, d, generator=g),
               torch.randn(b, tk, dv, generator=g))
    yield (6 * torch.randn(2, 3, 8, generator=g), torch.randn(2, 5, 8, generator=g),  # wide scores
           torch.randn(2, 5, 4, generator=g))


attention = Checker(
    "attention", reference=lambda q, k, v: _attention(q, k, v)[0], cases=_qkv_cases,
    mistakes={
        "you forgot the scale: divide the scores by sqrt(d_k) before the softmax":
            lambda q, k, v: torch.softmax(q @ k.transpose(-2, -1), dim=-1) @ v,
        "softmax over the wrong axis: normalise over the keys (dim=-1)":
            lambda q, k, v: torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-2) @ v,
        "you returned the weights, not the weighted sum of the values (weights @ value)":
            lambda q, k, v: _attention(q, k, v)[1],
        "you took the weighted sum of the keys: multiply the weights by the values":
            lambda q, k, v: _attention(q, k, k)[0],
        "you scaled by the values' width: d_k is the width of the queries and keys, query.shape[-1]":
            lambda q, k, v: _attention(q, k, v, scale=1 / math.sqrt(v.shape[-1]))[0],
    },
    grads=True,
)
