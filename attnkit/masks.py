"""Masks for attention (lessons 03, 04, 08).

Every mask here follows the one rule of :mod:`attnkit.attention`: a boolean
tensor that is ``True`` where a query **may attend** to a key.
"""

from __future__ import annotations

import torch

from ._validate import require_int

__all__ = ["causal_mask", "local_window_mask", "padding_mask"]


def causal_mask(n: int) -> torch.Tensor:
    """``(n, n)`` bool mask, ``True`` where key ``j <= i``: no peeking at the future.

    Examples
    --------
    >>> causal_mask(3)
    tensor([[ True, False, False],
            [ True,  True, False],
            [ True,  True,  True]])
    """
    n = require_int(n, "n")
    return torch.ones(n, n, dtype=torch.bool).tril()


def local_window_mask(n: int, window: int) -> torch.Tensor:
    """``(n, n)`` bool mask, ``True`` where ``|i - j| <= window``.

    Examples
    --------
    >>> local_window_mask(4, 1).int()
    tensor([[1, 1, 0, 0],
            [1, 1, 1, 0],
            [0, 1, 1, 1],
            [0, 0, 1, 1]], dtype=torch.int32)
    """
    n = require_int(n, "n")
    window = require_int(window, "window")
    idx = torch.arange(n)
    return (idx[:, None] - idx[None, :]).abs() <= window


def padding_mask(lengths, max_len: int | None = None) -> torch.Tensor:
    """``(B, max_len)`` bool mask, ``True`` at the real (non-padding) positions.

    To mask padded **keys** in attention scores of shape ``(B, Tq, Tk)`` use
    ``padding_mask(lengths)[:, None, :]``; for ``(B, H, Tq, Tk)`` use
    ``[:, None, None, :]``.

    Examples
    --------
    >>> padding_mask([1, 3], max_len=4)
    tensor([[ True, False, False, False],
            [ True,  True,  True, False]])
    """
    if isinstance(lengths, torch.Tensor):
        if lengths.is_floating_point() or lengths.dtype == torch.bool:
            raise TypeError(f"lengths must hold integers, got dtype {lengths.dtype}")
        lengths = lengths.tolist()
    if not isinstance(lengths, (list, tuple)):
        raise TypeError(f"lengths must be a list or 1-d tensor of integers, got {type(lengths).__name__}")
    lengths = [require_int(n, f"lengths[{i}]") for i, n in enumerate(lengths)]
    if max_len is None:
        max_len = max(lengths, default=0)
    max_len = require_int(max_len, "max_len")
    too_long = [n for n in lengths if n > max_len]
    if too_long:
        raise ValueError(f"lengths {too_long} exceed max_len={max_len}")
    return torch.arange(max_len)[None, :] < torch.tensor(lengths, dtype=torch.long)[:, None]
