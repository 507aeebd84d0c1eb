"""Positional information: sinusoidal encodings (lesson 04), RoPE and ALiBi (lesson 09).

Attention by itself is blind to order: permute the tokens and the outputs are
permuted the same way. Adding sinusoidal vectors (Vaswani et al., 2017) to the
embeddings gives each position its own fingerprint. RoPE (Su et al., 2021) rotates
queries and keys instead, and ALiBi (Press et al., 2022) adds a distance penalty
to the scores: both put the offset between two positions into their score.
"""

from __future__ import annotations

import math

import torch

from ._validate import require_int, require_number, require_tensor, shape_str

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


# --- lesson 09: positions that extrapolate (RoPE, ALiBi) ---

__all__ += ["apply_rope", "alibi_slopes", "alibi_bias"]


def _rope_positions(positions, x: torch.Tensor) -> torch.Tensor:
    """``positions`` as a float64 tensor that broadcasts to ``x.shape[:-1]`` (checked)."""
    T = x.shape[-2]
    if positions is None:
        return torch.arange(T, dtype=torch.float64)  # (T,)
    if not isinstance(positions, torch.Tensor):
        try:
            positions = torch.as_tensor(positions)
        except (TypeError, ValueError, RuntimeError):
            raise TypeError(f"positions must be a tensor or a list of numbers, got "
                            f"{type(positions).__name__}") from None
    if positions.dtype == torch.bool or positions.is_complex():
        raise TypeError(f"positions must hold numbers, got dtype {positions.dtype}")
    positions = positions.to(torch.float64)
    try:
        fits = torch.broadcast_shapes(positions.shape, x.shape[:-1]) == x.shape[:-1]
    except RuntimeError:
        fits = False
    if positions.dim() == 0 or not fits:
        raise ValueError(f"positions of shape {shape_str(positions.shape)} do not match x of shape "
                         f"{shape_str(x.shape)}: give one position per row, e.g. shape ({T},)")
    if not torch.isfinite(positions).all():
        raise ValueError("positions must be finite numbers")
    return positions


def apply_rope(x: torch.Tensor, positions=None, base: float = 10000.0) -> torch.Tensor:
    r"""Rotary position embedding (RoPE) of Su et al. (2021), interleaved pairs (lesson 09).

    Each pair of columns ``(x[..., 2i], x[..., 2i+1])`` of the row at position ``p`` is
    rotated by the angle ``p * theta_i`` with ``theta_i = base ** (-2i / D)``:

    .. math:: \begin{pmatrix} y_{2i} \\ y_{2i+1} \end{pmatrix} =
              \begin{pmatrix} \cos p\theta_i & -\sin p\theta_i \\
                              \sin p\theta_i & \cos p\theta_i \end{pmatrix}
              \begin{pmatrix} x_{2i} \\ x_{2i+1} \end{pmatrix}

    Apply it to the queries **and** the keys (not the values): a rotation by ``a`` and one by
    ``b`` leave a dot product that depends on ``a - b`` only, so ``q_i . k_j`` depends on the
    contents and on the offset ``i - j``, not on where the pair sits.

    Some libraries (GPT-NeoX, and Llama as implemented in Hugging Face ``transformers``, with
    ``rotate_half``) pair column ``i`` with column ``i + D/2`` instead of ``2i`` with ``2i+1``.
    That is the same rotation applied to a permuted vector: ``rope_half(x) ==
    apply_rope(x[..., perm], ...)[..., inverse_perm]`` with ``perm`` interleaving the two halves
    (``0, D/2, 1, D/2+1, ...``). Scores are the same up to that fixed permutation of the
    projection weights, but weights trained with one convention are wrong under the other.

    Parameters
    ----------
    x : torch.Tensor, shape ``(..., T, D)``
        Queries or keys (one head's), ``D`` even.
    positions : tensor or list of numbers, optional
        The position of each row; broadcasts to ``x.shape[:-1]`` (``(T,)`` is typical).
        Defaults to ``0, 1, ..., T-1``.
    base : float
        Sets the slowest rotation; 10000 as in the paper.

    Returns
    -------
    torch.Tensor
        Same shape and dtype as ``x``.

    Examples
    --------
    >>> x = torch.tensor([[1.0, 0.0, 1.0, 0.0]] * 3)  # (T, D) = (3, 4)
    >>> apply_rope(x, base=100.0)  # pair 0 turns by p rad, pair 1 by p / 10 rad
    tensor([[ 1.0000,  0.0000,  1.0000,  0.0000],
            [ 0.5403,  0.8415,  0.9950,  0.0998],
            [-0.4161,  0.9093,  0.9801,  0.1987]])
    >>> q, k = torch.randn(8), torch.randn(8)
    >>> def score(i, j):
    ...     return apply_rope(q[None], [i]) @ apply_rope(k[None], [j]).T
    >>> bool(torch.allclose(score(5, 2), score(105, 102), atol=1e-4))  # only i - j matters
    True
    """
    require_tensor(x, "x", min_dim=2)
    D = x.shape[-1]
    if D % 2:
        raise ValueError(f"x has an odd width D={D} (shape {shape_str(x.shape)}): RoPE rotates pairs "
                         f"of columns, so D must be even")
    base = require_number(base, "base")
    if not math.isfinite(base) or base <= 0:
        raise ValueError(f"base must be a positive finite number, got {base}")
    pos = _rope_positions(positions, x)  # broadcasts to (..., T)
    theta = base ** (-torch.arange(0, D, 2, dtype=torch.float64) / D)  # (D/2,)
    angle = pos[..., None] * theta  # (..., T, D/2)
    cos, sin = torch.cos(angle).to(x.dtype), torch.sin(angle).to(x.dtype)
    x_even, x_odd = x[..., 0::2], x[..., 1::2]  # (..., T, D/2) each
    out = torch.stack((x_even * cos - x_odd * sin, x_even * sin + x_odd * cos), dim=-1)  # (..., T, D/2, 2)
    return out.flatten(-2)  # (..., T, D): pairs back in place


def alibi_slopes(num_heads: int) -> torch.Tensor:
    """ALiBi's per-head slopes ``m_h``, Press et al. (2022) (lesson 09), float32 ``(H,)``.

    For ``H`` a power of two the slopes are the geometric sequence that starts at
    ``2 ** (-8 / H)`` with that same ratio: ``m_h = 2 ** (-8 (h + 1) / H)``, steepest first.
    For other ``H`` (the paper's rule): the slopes of the largest power of two ``n < H``,
    followed by every other slope of ``2n`` heads (the 1st, 3rd, ...) until there are ``H``.

    Examples
    --------
    >>> alibi_slopes(4)
    tensor([0.2500, 0.0625, 0.0156, 0.0039])
    >>> alibi_slopes(8)[:2]
    tensor([0.5000, 0.2500])
    >>> alibi_slopes(6)  # 4 heads' slopes, then the 1st and 3rd of 8 heads'
    tensor([0.2500, 0.0625, 0.0156, 0.0039, 0.5000, 0.1250])
    """
    num_heads = require_int(num_heads, "num_heads", minimum=1)

    def power_of_two(n: int) -> list[float]:
        start = 2.0 ** (-8.0 / n)
        return [start ** (h + 1) for h in range(n)]

    n = 2 ** int(math.floor(math.log2(num_heads)))
    slopes = power_of_two(n)
    if n < num_heads:
        slopes += power_of_two(2 * n)[0::2][: num_heads - n]
    return torch.tensor(slopes, dtype=torch.float32)


def alibi_bias(num_heads: int, seq_len: int) -> torch.Tensor:
    r"""ALiBi's additive attention bias ``-m_h |i - j|``, float32 ``(H, T, T)`` (lesson 09).

    Attention with linear biases (Press et al., 2022) adds no vector to the embeddings: each
    head ``h`` subtracts ``m_h`` (:func:`alibi_slopes`) times the distance from every score,
    so far keys are penalised linearly, more steeply in the first heads.

    It is a **float mask**: :func:`attnkit.attention` adds it to the scores. To make it causal,
    fill the future with ``-inf`` (the entries with ``j > i``), as the example shows.

    Examples
    --------
    >>> alibi_bias(2, 3)[0]  # head 0, slope 2 ** -4
    tensor([[ 0.0000, -0.0625, -0.1250],
            [-0.0625,  0.0000, -0.0625],
            [-0.1250, -0.0625,  0.0000]])
    >>> from attnkit import attention, causal_mask
    >>> mask = alibi_bias(2, 3).masked_fill(~causal_mask(3), float("-inf"))  # (H, T, T)
    >>> q = k = v = torch.zeros(2, 3, 4)  # content says nothing: only the bias decides
    >>> attention(q, k, v, mask=mask)[1][0, 2]  # query 2 of head 0 prefers the nearest key
    tensor([0.3127, 0.3329, 0.3544])
    """
    num_heads = require_int(num_heads, "num_heads", minimum=1)
    seq_len = require_int(seq_len, "seq_len")
    idx = torch.arange(seq_len)
    distance = (idx[:, None] - idx[None, :]).abs().float()  # (T, T)
    return -alibi_slopes(num_heads)[:, None, None] * distance + 0.0  # (H, T, T); + 0.0 turns -0.0 into 0.0
