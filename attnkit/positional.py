"""Sinusoidal positional encodings (lesson 04), as in Vaswani et al. (2017).

Attention by itself is blind to order: permute the tokens and the outputs are
permuted the same way. Adding these vectors to the embeddings gives each
position its own fingerprint.
"""

from __future__ import annotations

import torch

from ._validate import require_int, require_number

__all__ = ["sinusoidal_positions"]


def sinusoidal_positions(seq_len: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    r"""``(seq_len, d_model)`` float32 table of positional encodings.

    .. math:: PE_{p, 2i} = \sin\!\big(p / \text{base}^{2i/d}\big), \qquad
              PE_{p, 2i+1} = \cos\!\big(p / \text{base}^{2i/d}\big)

    An odd ``d_model`` works: the last column is a sine.

    Examples
    --------
    >>> pe = sinusoidal_positions(4, 6)
    >>> pe.shape
    torch.Size([4, 6])
    >>> pe[0]
    tensor([0., 1., 0., 1., 0., 1.])
    >>> sinusoidal_positions(2, 3)[1].round(decimals=4)
    tensor([0.8415, 0.5403, 0.0022])
    """
    seq_len = require_int(seq_len, "seq_len")
    d_model = require_int(d_model, "d_model")
    base = require_number(base, "base")
    if not 0 < base < float("inf"):  # wavelengths are powers of base: base <= 0 gives NaN
        raise ValueError(f"base must be a positive finite number, got {base}")
    position = torch.arange(seq_len, dtype=torch.float64)[:, None]  # (T, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)  # (ceil(D/2),)
    angle = position / base ** (two_i / d_model)  # (T, ceil(D/2))
    pe = torch.zeros(seq_len, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : d_model // 2])
    return pe.float()
