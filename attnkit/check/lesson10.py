"""Checkers for lesson 10: what heads learn (used as ``ak.check.<name>``)."""

from __future__ import annotations

import torch

from .._validate import shape_str
from ._core import Checker, _seeded

__all__ = ["image_to_patches", "previous_token_score", "induction_score"]


# --- cutting an image into patch tokens ---------------------------------------------------

def _patch_cases():
    g = _seeded(100)
    for b, c, h, w, p in ((1, 1, 4, 4, 2), (2, 1, 8, 8, 4), (2, 3, 6, 6, 3), (1, 1, 4, 8, 2), (3, 2, 8, 4, 2)):
        yield torch.randn(b, c, h, w, generator=g), p


def _patches(images, p, order=(0, 2, 4, 1, 3, 5)):
    B, C, H, W = images.shape
    grid = images.reshape(B, C, H // p, p, W // p, p).permute(*order)
    return grid.reshape(B, (H // p) * (W // p), C * p * p)


def _patch_shape_hint(got, expected, args):
    if not isinstance(got, torch.Tensor) or got.shape == expected.shape:
        return None
    return f"the result should be (B, N, C * p * p) = {shape_str(expected.shape)}, N = (H / p) * (W / p)"


image_to_patches = Checker(
    "image_to_patches", reference=_patches, cases=_patch_cases,
    mistakes={
        "you reshaped (B, C, H, W) straight to (B, N, C*p*p): the right shape, but each 'patch' is a run "
        "of consecutive pixels, i.e. horizontal strips of rows, not squares. Reshape to "
        "(B, C, H/p, p, W/p, p), then permute(0, 2, 4, 1, 3, 5) to bring the patch grid to the front":
            lambda x, p: x.reshape(x.shape[0], (x.shape[2] // p) * (x.shape[3] // p), -1),
        "your patches come column by column (top to bottom first): number them row by row, left to "
        "right, i.e. the patch-row axis (H/p) before the patch-column axis (W/p) in the permute":
            lambda x, p: _patches(x, p, (0, 4, 2, 1, 3, 5)),
        "inside each patch the pixels are flattened column-first: keep (C, row-in-patch, "
        "column-in-patch), i.e. permute(0, 2, 4, 1, 3, 5)":
            lambda x, p: _patches(x, p, (0, 2, 4, 1, 5, 3)),
        "inside each patch the channel comes last: flatten each patch in (C, p, p) order, channel first":
            lambda x, p: _patches(x, p, (0, 2, 4, 3, 5, 1)),
    },
    extra_hint=_patch_shape_hint,
    grads=True,  # a detached answer would match the values and break training
)


# --- scoring a head from its pattern ------------------------------------------------------

def _weight_cases(seed):
    g = _seeded(seed)
    for h, t in ((2, 9), (3, 12), (1, 7), (4, 16)):
        yield torch.softmax(2.0 * torch.randn(h, t, t, generator=g), dim=-1)  # (H, T, T), not causal


def _previous_cases():
    for w in _weight_cases(101):
        yield (w,)


def _previous_reference(weights):
    T = weights.shape[-1]
    p = torch.arange(1, T)
    return weights[:, p, p - 1].mean(-1)  # (H,)


def _wrong_axis_hint(got, expected, args):
    if not isinstance(got, torch.Tensor) or got.shape == expected.shape:
        return None
    return (f"the result should have one score per head, shape {shape_str(expected.shape)}: average over "
            "the queries (the last axis after picking one weight per query), not over the heads")


previous_token_score = Checker(
    "previous_token_score", reference=_previous_reference, cases=_previous_cases,
    mistakes={
        "you took the weight on the NEXT key (p + 1, the diagonal above): a previous-token head "
        "looks one step back, at key p - 1 (torch.diagonal(weights, offset=-1, dim1=-2, dim2=-1))":
            lambda w: torch.diagonal(w, offset=1, dim1=-2, dim2=-1).mean(-1),
        "you included query 0: it has no previous token, and weights[:, 0, -1] wraps around to the "
        "LAST key. Average over the queries p = 1 .. T-1 only":
            lambda w: w[:, torch.arange(w.shape[-1]), torch.arange(w.shape[-1]) - 1].mean(-1),
        "you counted query 0 as a zero and divided by T: query 0 has no previous token, so average "
        "over the T - 1 queries p = 1 .. T-1":
            lambda w: torch.diagonal(w, offset=-1, dim1=-2, dim2=-1).sum(-1) / w.shape[-1],
        "you averaged over the wrong axis (over the heads): keep one score per head and average "
        "over the queries":
            lambda w: torch.diagonal(w, offset=-1, dim1=-2, dim2=-1).mean(0),
    },
    extra_hint=_wrong_axis_hint,
)


def _induction_cases():
    sizes = iter(((0, 4), (2, 5), (0, 3), (3, 6)))
    for w in _weight_cases(102):
        start, length = next(sizes)
        yield w, start, length


def _induction_pick(weights, queries, offset):
    return weights[:, queries, queries + offset]  # (H, len(queries))


def _induction_reference(weights, start, length):
    p = torch.arange(start + length, start + 2 * length)  # queries in the copy
    return _induction_pick(weights, p, 1 - length).mean(-1)  # (H,)


induction_score = Checker(
    "induction_score", reference=_induction_reference, cases=_induction_cases,
    mistakes={
        "you took the weight on the earlier occurrence itself (key p - length): an induction head "
        "looks at the token AFTER it, key p - length + 1, because that is the token to copy":
            lambda w, s, n: _induction_pick(w, torch.arange(s + n, s + 2 * n), -n).mean(-1),
        "you took the key BEFORE the earlier occurrence (p - length - 1): the sign of the +1 is "
        "flipped; the induction key is p - length + 1":
            lambda w, s, n: _induction_pick(w, torch.arange(s + n, s + 2 * n), -n - 1).mean(-1),
        "you averaged over queries that have no earlier occurrence of their token: only the queries "
        "in the copy, p = start + length .. start + 2 * length - 1, have one":
            lambda w, s, n: _induction_pick(w, torch.arange(n - 1, w.shape[-1]), 1 - n).mean(-1),
        "you averaged over the queries after the segment's start but before the copy as well: "
        "only the queries in the copy (p >= start + length) have an earlier occurrence":
            lambda w, s, n: _induction_pick(w, torch.arange(max(s, n - 1), s + 2 * n), 1 - n).mean(-1),
        "you averaged over the wrong axis (over the heads): keep one score per head and average "
        "over the queries":
            lambda w, s, n: _induction_pick(w, torch.arange(s + n, s + 2 * n), 1 - n).mean(0),
    },
    extra_hint=_wrong_axis_hint,
)
