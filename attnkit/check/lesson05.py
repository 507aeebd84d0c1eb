"""Checkers for lesson 05: multi-head attention (used as ``ak.check.<name>``)."""

from __future__ import annotations

import torch

from .._validate import shape_str
from ._core import Checker, _seeded

__all__ = ["split_heads", "merge_heads"]


def _split_cases():
    g = _seeded(50)
    # (B, T, D, H); in the last case H == T, so (B, T, H, Dh) has the expected shape
    for b, t, d, h in ((1, 5, 8, 2), (2, 3, 12, 4), (3, 7, 6, 3), (2, 4, 16, 8), (2, 3, 6, 3)):
        yield torch.randn(b, t, d, generator=g), h


def _split_reference(x, num_heads):
    B, T, D = x.shape
    return x.reshape(B, T, num_heads, D // num_heads).transpose(1, 2)  # (B, H, T, Dh)


def _split_shape_hint(got, expected, args):
    if not isinstance(got, torch.Tensor) or got.shape == expected.shape:
        return None
    B, H, T, Dh = expected.shape
    if tuple(got.shape) == (B, T, H, Dh):
        return "you have (B, T, H, Dh): add .transpose(1, 2) to bring the heads before the positions"
    return f"the result should be (B, H, T, Dh) = {shape_str(expected.shape)}"


split_heads = Checker(
    "split_heads", reference=_split_reference, cases=_split_cases,
    mistakes={
        "you reshaped straight to (B, H, T, Dh) without a transpose: that slices the sequence, not "
        "the features, so each 'head' mixes positions. View as (B, T, H, Dh), then .transpose(1, 2)":
            lambda x, h: x.reshape(x.shape[0], h, x.shape[1], x.shape[2] // h),
        "you split the features in the wrong order (Dh, H): head h gets every H-th feature. "
        "View as (B, T, H, Dh), so head h gets features h*Dh .. (h+1)*Dh - 1":
            lambda x, h: x.reshape(x.shape[0], x.shape[1], x.shape[2] // h, h).permute(0, 3, 1, 2),
        "you have (B, T, H, Dh): add .transpose(1, 2) to bring the heads before the positions":
            lambda x, h: x.reshape(x.shape[0], x.shape[1], h, x.shape[2] // h),
    },
    extra_hint=_split_shape_hint, grads=True,
)


def _merge_cases():
    g = _seeded(51)
    for b, h, t, dh in ((1, 2, 5, 4), (2, 4, 3, 3), (3, 3, 7, 2), (2, 8, 4, 2), (2, 3, 3, 4)):
        yield (torch.randn(b, h, t, dh, generator=g),)


def _merge_reference(x):
    B, H, T, Dh = x.shape
    return x.transpose(1, 2).reshape(B, T, H * Dh)  # (B, T, D)


merge_heads = Checker(
    "merge_heads", reference=_merge_reference, cases=_merge_cases,
    mistakes={
        "you reshaped (B, H, T, Dh) to (B, T, D) without transposing back first: positions and heads "
        "get mixed. Do .transpose(1, 2) before the reshape":
            lambda x: x.reshape(x.shape[0], x.shape[2], x.shape[1] * x.shape[3]),
        "wrong concatenation order: head 0's Dh features must come first, then head 1's ... "
        "(permute to (B, T, H, Dh), not (B, T, Dh, H))":
            lambda x: x.permute(0, 2, 3, 1).reshape(x.shape[0], x.shape[2], -1),
    },
    extra_hint=lambda got, exp, args: (
        "the result should be (B, T, H * Dh): transpose(1, 2), then reshape (not view: after a "
        "transpose the tensor is not contiguous)"
        if isinstance(got, torch.Tensor) and got.shape != exp.shape else None),
    error_hints={"view size is not compatible": "after a transpose the tensor is not contiguous: use "
                                                ".reshape (or .contiguous().view)"},
    grads=True,
)
