"""Checkers for lesson 04: self-attention (used as ``ak.check.<name>``)."""

from __future__ import annotations

import math

import torch

from ..attention import attention as _attention
from ._core import Checker, _seeded

__all__ = ["self_attention", "add_positions"]


def _self_attention_cases():
    g = _seeded(40)
    # (B, T, D, d_k): d_k != D in two cases (sqrt(D) is then the wrong scale), d_k != T everywhere
    for b, t, d, dk in ((1, 4, 6, 6), (2, 5, 8, 8), (3, 3, 4, 4), (2, 6, 8, 4), (2, 3, 9, 5)):
        yield (torch.randn(b, t, d, generator=g), torch.randn(d, dk, generator=g) / math.sqrt(d),
               torch.randn(d, dk, generator=g) / math.sqrt(d), torch.randn(d, dk, generator=g) / math.sqrt(d))
    # wide scores (x scaled by 4): nothing may clip them
    yield (4 * torch.randn(2, 4, 6, generator=g), torch.randn(6, 3, generator=g) / math.sqrt(6),
           torch.randn(6, 3, generator=g) / math.sqrt(6), torch.randn(6, 3, generator=g) / math.sqrt(6))


def _self_attention_reference(x, w_q, w_k, w_v):
    return _attention(x @ w_q, x @ w_k, x @ w_v)[0]


def _sa(x, wq, wk, wv, scale=None, dim=-1, causal=False):
    q, k, v = x @ wq, x @ wk, x @ wv
    scores = q @ k.transpose(-2, -1) * (1 / math.sqrt(k.shape[-1]) if scale is None else scale)
    if causal:
        t = x.shape[-2]
        scores = scores.masked_fill(~torch.ones(t, t, dtype=torch.bool).tril(), -math.inf)
    return torch.softmax(scores, dim=dim) @ v


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
            lambda x, wq, wk, wv: _sa(x, wq, wk, wv, scale=1.0),
        "you divided by sqrt(D), the width of x: d_k is the width of the projected keys, (x @ w_k).shape[-1]":
            lambda x, wq, wk, wv: _sa(x, wq, wk, wv, scale=1 / math.sqrt(x.shape[-1])),
        "you divided by sqrt(T), the number of tokens: d_k is the width of the projected keys":
            lambda x, wq, wk, wv: _sa(x, wq, wk, wv, scale=1 / math.sqrt(x.shape[-2])),
        "you divided by d_k, not sqrt(d_k)":
            lambda x, wq, wk, wv: _sa(x, wq, wk, wv, scale=1 / wk.shape[-1]),
        "softmax over the wrong axis: normalise over the keys (dim=-1), so each query's weights sum to 1":
            lambda x, wq, wk, wv: _sa(x, wq, wk, wv, dim=-2),
        "you added a causal mask: plain self-attention lets every token see every other":
            lambda x, wq, wk, wv: _sa(x, wq, wk, wv, causal=True),
        "you transposed the projection matrices: x @ w_q, with w_q of shape (D, d_k)":
            lambda x, wq, wk, wv: _sa(x, wq.T, wk.T, wv.T),
    },
    extra_hint=lambda got, exp, args: (
        "(B, T, T) is the shape of the attention weights: return the weighted sum of the values, weights @ V"
        if isinstance(got, torch.Tensor) and tuple(got.shape) == tuple(exp.shape[:2]) + (exp.shape[1],)
        else "ak.attention returns a pair (output, weights): return only the output, ak.attention(...)[0]"
        if isinstance(got, tuple) and len(got) == 2 else None),
    grads=True,
)


def _positions_cases():
    g = _seeded(41)
    for b, t, d in ((1, 5, 8), (2, 7, 6), (3, 4, 16), (2, 10, 5), (2, 8, 8)):  # T == D in the last
        yield (torch.randn(b, t, d, generator=g),)


def _sinusoidal(t, d):
    from ..positional import sinusoidal_positions

    return sinusoidal_positions(t, d)


def _blocked_table(t, d):
    """Sines in the first half of the features, cosines in the second (a common layout, not lesson 04's)."""
    table = _sinusoidal(t, d)
    return torch.cat([table[:, 0::2], table[:, 1::2]], dim=-1)


add_positions = Checker(
    "add_positions", reference=lambda x: x + _sinusoidal(x.shape[1], x.shape[2]), cases=_positions_cases,
    mistakes={
        "you returned the embeddings unchanged: add the positional table, or attention stays blind to order":
            lambda x: x,
        "you multiplied by the positions: add them (x + PE)":
            lambda x: x * _sinusoidal(x.shape[1], x.shape[2]),
        "off by one: the first position is 0, so use rows 0..T-1 of the table":
            lambda x: x + _sinusoidal(x.shape[1] + 1, x.shape[2])[1:],
        "you swapped the arguments: the table is sinusoidal_positions(T, D), T = x.shape[1], D = x.shape[2]":
            lambda x: x + _sinusoidal(x.shape[2], x.shape[1]).T,
        "you put every sine before every cosine: the table interleaves them (sin at even features, "
        "cos at odd); use ak.sinusoidal_positions":
            lambda x: x + _blocked_table(x.shape[1], x.shape[2]),
        "you returned only the table: add it to the embeddings, x + PE":
            lambda x: _sinusoidal(x.shape[1], x.shape[2]).expand_as(x),
    },
    extra_hint=lambda got, exp, args: (
        "the table is (T, D) = sinusoidal_positions(x.shape[1], x.shape[2]); it broadcasts over the batch"
        if isinstance(got, torch.Tensor) and got.shape != exp.shape else None),
    error_hints={"must match the size": "the table is sinusoidal_positions(T, D) with T = x.shape[1] and "
                                        "D = x.shape[2]; it broadcasts over the batch"},
    grads=True,
)
