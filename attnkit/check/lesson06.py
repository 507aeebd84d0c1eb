"""Checkers for lesson 06: scaled dot-product attention (used as ``ak.check.<name>``)."""

from __future__ import annotations

import math

import torch

from ._core import Checker, _seeded

__all__ = ["scaled_scores", "softmax_entropy"]


def _scaled_scores_cases():
    g = _seeded(60)
    for b, tq, tk, d in ((1, 3, 5, 4), (2, 6, 6, 16), (3, 2, 7, 64), (1, 5, 4, 9), (2, 4, 3, 25)):
        yield torch.randn(b, tq, d, generator=g), torch.randn(b, tk, d, generator=g)
    # wide scores (std ~ 8): the scaled scores are not bounded, nothing may clip them
    yield 8 * torch.randn(2, 3, 5, 16, generator=g)[0], torch.randn(3, 4, 16, generator=g)


def _scores(q, k):
    return q @ k.transpose(-2, -1)


scaled_scores = Checker(
    "scaled_scores",
    reference=lambda q, k: _scores(q, k) / math.sqrt(q.shape[-1]),
    cases=_scaled_scores_cases,
    mistakes={
        "you forgot the scale: divide by sqrt(d_k), so the scores keep unit variance":
            lambda q, k: _scores(q, k),
        "you divided by d_k instead of sqrt(d_k): the variance of q.k is d_k, so its std is sqrt(d_k)":
            lambda q, k: _scores(q, k) / q.shape[-1],
        "you divided by sqrt of the number of queries (q.shape[-2]); d_k is the width, q.shape[-1]":
            lambda q, k: _scores(q, k) / math.sqrt(q.shape[-2]),
        "you divided by sqrt of the number of keys (k.shape[-2]); d_k is the width, q.shape[-1]":
            lambda q, k: _scores(q, k) / math.sqrt(k.shape[-2]),
        "you multiplied by sqrt(d_k) instead of dividing":
            lambda q, k: _scores(q, k) * math.sqrt(q.shape[-1]),
        "you applied a softmax: the exercise asks for the scaled scores themselves":
            lambda q, k: torch.softmax(_scores(q, k) / math.sqrt(q.shape[-1]), dim=-1),
        "you transposed the result: rows are queries, columns keys, (B, Tq, Tk) = q @ k^T":
            lambda q, k: (_scores(q, k) / math.sqrt(q.shape[-1])).transpose(-2, -1),
    },
    grads=True,
)


def _entropy_cases():
    g = _seeded(61)
    yield (torch.softmax(torch.randn(4, 6, generator=g), -1),)
    yield (torch.softmax(3 * torch.randn(2, 3, 5, generator=g), -1),)
    yield (torch.full((2, 8), 1 / 8),)
    yield (torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0]]),)  # zeros: 0 * log 0 = 0
    yield (torch.softmax(2 * torch.randn(3, 5, 7, generator=g), -1),)


def _entropy_nan_hint(got, expected, args):
    if isinstance(got, torch.Tensor) and got.shape == expected.shape and torch.isnan(got).any():
        return "0 * log(0) gave NaN: treat it as 0 (torch.xlogy(w, w) or w * log(w.clamp_min(1e-12)))"
    return None


def _plogp(w):
    return torch.xlogy(w, w)


softmax_entropy = Checker(
    "softmax_entropy",
    reference=lambda w: -_plogp(w).sum(-1),
    cases=_entropy_cases,
    mistakes={
        "you forgot the minus sign: entropy is -sum(w * log w), which is >= 0":
            lambda w: _plogp(w).sum(-1),
        "you used log base 2 (bits); use the natural log so uniform weights give log(T) nats":
            lambda w: -(_plogp(w) / math.log(2)).sum(-1),
        "you used log base 10; use the natural log (torch.log) so the entropy is in nats":
            lambda w: -(_plogp(w) / math.log(10)).sum(-1),
        "you summed over the wrong axis: sum over the keys (dim=-1), one entropy per query":
            lambda w: -_plogp(w).sum(0),
        "you summed over every axis: return one entropy per query row (sum over dim=-1 only)":
            lambda w: -_plogp(w).sum(),
        "you averaged over the keys: the entropy is a sum over them, -sum(w * log w)":
            lambda w: -_plogp(w).mean(-1),
        "you left out the weights: the entropy is -sum(w * log w), not -sum(log w)":
            lambda w: -torch.log(w.clamp_min(1e-12)).sum(-1),
    },
    extra_hint=_entropy_nan_hint,
)
