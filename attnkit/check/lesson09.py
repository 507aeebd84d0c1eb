"""Checkers for lesson 09: positions that extrapolate, RoPE and ALiBi (used as ``ak.check.<name>``)."""

from __future__ import annotations

import math

import torch

from ..positional import alibi_slopes as _alibi_slopes
from ..positional import apply_rope as _apply_rope
from ._core import Checker, _seeded

__all__ = ["rope", "alibi_slopes", "rope_scores"]


def _rope_with(x, positions, base=10000.0, exponent=2.0, sign=1.0, halves_in=False, halves_out=False):
    """RoPE with switches for the typical mistakes (``exponent=1``: ``base ** (-i / D)``)."""
    D = x.shape[-1]
    theta = base ** (-exponent * torch.arange(D // 2, dtype=torch.float64) / D)  # (D/2,)
    angle = sign * torch.as_tensor(positions, dtype=torch.float64)[..., None] * theta  # (T, D/2)
    cos, sin = torch.cos(angle).to(x.dtype), torch.sin(angle).to(x.dtype)
    if halves_in:  # pair column i with column i + D/2 (GPT-NeoX's rotate_half)
        first, second = x[..., : D // 2], x[..., D // 2:]
        return torch.cat((first * cos - second * sin, first * sin + second * cos), dim=-1)
    even, odd = x[..., 0::2], x[..., 1::2]
    new_even, new_odd = even * cos - odd * sin, even * sin + odd * cos
    if halves_out:  # right pairs, but written back as two halves instead of interleaved
        return torch.cat((new_even, new_odd), dim=-1)
    return torch.stack((new_even, new_odd), dim=-1).flatten(-2)


def _rope_cases():
    g = _seeded(90)
    for shape, start in (((6, 8), 3), ((2, 5, 4), 0), ((2, 3, 7, 16), 11), ((9, 6), 0), ((1, 4, 2), 5)):
        T = shape[-2]
        positions = torch.arange(start, start + T)  # (T,)
        yield torch.randn(*shape, generator=g), positions


rope = Checker(
    "rope", reference=lambda x, positions: _apply_rope(x, positions), cases=_rope_cases,
    mistakes={
        "you paired column i with column i + D/2 (the half-split 'rotate_half' convention): this "
        "exercise pairs neighbours, (x[..., 2i], x[..., 2i+1])":
            lambda x, p: _rope_with(x, p, halves_in=True),
        "you rotated the wrong way: the angle is +position * theta_i, so the new even column is "
        "x_even * cos - x_odd * sin":
            lambda x, p: _rope_with(x, p, sign=-1.0),
        "your frequencies use base ** (-i / D); the formula is theta_i = base ** (-2i / D) for pair i":
            lambda x, p: _rope_with(x, p, exponent=1.0),
        "you rotated the pairs right but wrote them back as two halves: interleave them again "
        "(torch.stack((new_even, new_odd), dim=-1).flatten(-2))":
            lambda x, p: _rope_with(x, p, halves_out=True),
        "you ignored `positions` and used 0 .. T-1: rotate row t by positions[t] * theta_i":
            lambda x, p: _apply_rope(x),
        "off by one: use the positions as given, not positions + 1":
            lambda x, p: _apply_rope(x, p + 1),
    },
    grads=True,  # a detached answer would match the values and break training
)


class _SlopesChecker(Checker):
    """Also accepts a list or tuple of numbers from the learner."""

    def evaluate(self, fn):
        if not callable(fn):
            return super().evaluate(fn)

        def as_tensor(*args):
            out = fn(*args)
            return torch.tensor([float(v) for v in out]) if isinstance(out, (list, tuple)) else out

        return super().evaluate(as_tensor)


def _slopes_cases():
    for num_heads in (4, 8, 1, 2, 16, 6, 12, 3, 5):
        yield (num_heads,)


def _geometric(num_heads):
    return torch.tensor([2.0 ** (-8.0 * (h + 1) / num_heads) for h in range(num_heads)])


alibi_slopes = _SlopesChecker(
    "alibi_slopes", reference=_alibi_slopes, cases=_slopes_cases, atol=1e-6, rtol=1e-5,
    mistakes={
        "your slopes are in reverse order: head 0 gets the steepest slope, 2 ** (-8 / H), and they shrink":
            lambda n: _alibi_slopes(n).flip(0),
        "your first slope is 1: the sequence starts at 2 ** (-8 / H), so head h (from 0) gets "
        "2 ** (-8 (h + 1) / H)":
            lambda n: torch.tensor([2.0 ** (-8.0 * h / n) for h in range(n)]),
        "your ratio is 1/2: the ratio between neighbouring heads equals the first slope, 2 ** (-8 / H)":
            lambda n: torch.tensor([2.0 ** -(h + 1) for h in range(n)]),
        "for H not a power of two the paper does not use 2 ** (-8 / H): take the slopes of the largest "
        "power of two n below H, then every other slope of 2n heads (1st, 3rd, ...) until you have H":
            _geometric,
        "for H not a power of two: after the n slopes of the largest power of two, take the 1st, 3rd, "
        "5th ... slopes of 2n heads, not the 2nd, 4th ...":
            lambda n: _slopes_even_picks(n),
    },
)


def _slopes_even_picks(num_heads):
    n = 2 ** int(math.floor(math.log2(num_heads)))
    slopes = _geometric(n).tolist()
    if n < num_heads:
        slopes += _geometric(2 * n).tolist()[1::2][: num_heads - n]
    return torch.tensor(slopes)


def _scores_cases():
    g = _seeded(91)
    for shape in ((5, 8), (2, 6, 4), (2, 3, 7, 16), (1, 9, 6)):
        yield torch.randn(*shape, generator=g), torch.randn(*shape, generator=g)


def _scores(q, k, rotate_q=True, rotate_k=True, scale=True):
    q = _apply_rope(q) if rotate_q else q
    k = _apply_rope(k) if rotate_k else k
    return q @ k.transpose(-2, -1) / (math.sqrt(q.shape[-1]) if scale else 1.0)  # (..., T, T)


rope_scores = Checker(
    "rope_scores", reference=_scores, cases=_scores_cases,
    mistakes={
        "you rotated the queries only: the keys rotate too (each by its own position), otherwise "
        "the score is not a function of the offset":
            lambda q, k: _scores(q, k, rotate_k=False),
        "you rotated the keys only: the queries rotate too, each by its own position":
            lambda q, k: _scores(q, k, rotate_q=False),
        "you rotated nothing: apply RoPE to the queries and to the keys before the dot product":
            lambda q, k: _scores(q, k, rotate_q=False, rotate_k=False),
        "you forgot the scale: divide the scores by sqrt(D)":
            lambda q, k: _scores(q, k, scale=False),
    },
)
