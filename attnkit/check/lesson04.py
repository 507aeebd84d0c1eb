"""Checkers for lesson 04: self-attention (used as ``ak.check.<name>``)."""

from __future__ import annotations

import math

import torch

from ..attention import attention as _attention
from ._core import Checker, _seeded

__all__ = ["self_attention", "add_positions"]


def _self_attention_cases():
    g = _seeded(40)
    for b, t, d, dk in ((1, 4, 6, 6), (2, 5, 8, 8), (3, 3, 4, 4), (2, 6, 8, 4)):
        yield (torch.randn(b, t, d, generator=g), torch.randn(d, dk, generator=g) / math.sqrt(d),
               torch.randn(d, dk, generator=g) / math.sqrt(d), torch.randn(d, dk, generator=g) / math.sqrt(d))


def _self_attention_reference(x, w_q, w_k, w_v):
    return _attention(x @ w_q, x @ w_k, x @ w_v)[0]


self_attention = Checker(
    "self_attention", reference=_self_attention_reference, cases=_self_attention_cases,
    mistakes={
        "you projected Q, K and V all with w_q: each needs its own matrix (w_q, w_k, w_v)":
            lambda x, wq, wk, wv: _attention(x @ wq, x @ wq, x @ wq)[0],
        "you swapped queries and keys: the scores are Q @ K^T, with Q = x @ w_q":
            lambda x, wq, wk, wv: _attention(x @ wk, x @ wq, x @ wv)[0],
        "you used x itself as the values: project them too, V = x @ w_v":
            lambda x, wq, wk, wv: _attention(x @ wq, x @ wk, x)[0],
        "you used x itself as queries and keys: project them, Q = x @ w_q and K = x @ w_k":
            lambda x, wq, wk, wv: _attention(x, x, x @ wv)[0],
        "you forgot the scale: divide the scores by sqrt(d_k) before the softmax":
            lambda x, wq, wk, wv: torch.softmax((x @ wq) @ (x @ wk).transpose(-2, -1), -1) @ (x @ wv),
    },
)


def _positions_cases():
    g = _seeded(41)
    for b, t, d in ((1, 5, 8), (2, 7, 6), (3, 4, 16), (2, 10, 5)):
        yield (torch.randn(b, t, d, generator=g),)


def _sinusoidal(t, d):
    from ..positional import sinusoidal_positions

    return sinusoidal_positions(t, d)


add_positions = Checker(
    "add_positions", reference=lambda x: x + _sinusoidal(x.shape[1], x.shape[2]), cases=_positions_cases,
    mistakes={
        "you returned the embeddings unchanged: add the positional table, or attention stays blind to order":
            lambda x: x,
        "you multiplied by the positions: add them (x + PE)":
            lambda x: x * _sinusoidal(x.shape[1], x.shape[2]),
        "off by one: the first position is 0, so use rows 0..T-1 of the table":
            lambda x: x + _sinusoidal(x.shape[1] + 1, x.shape[2])[1:],
    },
    extra_hint=lambda got, exp, args: (
        "the table is (T, D) = sinusoidal_positions(x.shape[1], x.shape[2]); it broadcasts over the batch"
        if isinstance(got, torch.Tensor) and got.shape != exp.shape else None),
)
