"""Softmax and scaled dot-product attention (lesson 03).

The mask rule, stated once for the whole package (it is PyTorch's):

* a **boolean** mask marks with ``True`` the keys a query **may attend to**;
* a **float** mask is **added** to the scores before the softmax (``0`` keeps a
  key, ``-inf`` removes it, anything else is a bias);
* a query whose every key is removed gets **zero weights and a zero output**,
  as ``torch.nn.functional.scaled_dot_product_attention`` gives;
* integer masks are refused: ``1`` could mean "attend" or "add one".

A removed key gets **exactly zero weight**, whatever the other scores are (even when an
allowed key's score overflowed to ``-inf``). A query left with no finite score (every key
removed, or every score ``-inf``) is treated as fully masked: zeros.

float16 and bfloat16 inputs are computed in float32 and rounded once at the end, as
PyTorch's CPU kernels accumulate them; outputs and weights come back in the input's dtype.

Where attnkit and PyTorch differ on purpose:

* a NaN score at a key the mask removes (a NaN in a masked-out *key*) is dropped, so that
  key still gets weight 0; ``scaled_dot_product_attention`` and ``nn.MultiheadAttention``
  add ``-inf`` to it and return NaN for the whole row. (A NaN in a masked-out *value*
  gives NaN in both: ``0 * NaN`` is NaN.)
* a query whose keys are all padding gets zeros here and from
  ``scaled_dot_product_attention``; ``nn.MultiheadAttention`` returns NaN.
"""

from __future__ import annotations

import math

import torch

from ._validate import broadcast_batch, require_number, require_tensor, shape_str

__all__ = ["softmax", "attention"]


def softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r"""Numerically stable softmax; a row that is all ``-inf`` gives zeros, not NaN.

    .. math:: \operatorname{softmax}(x)_i = \frac{e^{x_i - m}}{\sum_j e^{x_j - m}},
              \quad m = \max_j x_j

    Subtracting the row maximum ``m`` changes nothing mathematically but keeps
    ``exp`` from overflowing for huge logits.

    Parameters
    ----------
    x : torch.Tensor
        Floating-point logits of any shape.
    dim : int
        The axis that is normalised to sum to one.

    Examples
    --------
    >>> softmax(torch.tensor([1000.0, 1000.0, -float("inf")]))
    tensor([0.5000, 0.5000, 0.0000])
    >>> softmax(torch.full((3,), -float("inf")))
    tensor([0., 0., 0.])
    """
    require_tensor(x, "x")
    if x.dim() == 0:
        raise ValueError("softmax needs at least one dimension, got a 0-d tensor")
    if not -x.dim() <= dim < x.dim():
        raise ValueError(f"dim={dim} is out of range for x of shape {shape_str(x.shape)}")
    if x.shape[dim] == 0:  # nothing to normalise: the empty result, as torch.softmax gives
        return torch.softmax(x, dim=dim)
    row_max = x.amax(dim=dim, keepdim=True).detach()
    row_max = torch.where(row_max == -math.inf, torch.zeros_like(row_max), row_max)
    exp = torch.exp(x - row_max)
    total = exp.sum(dim=dim, keepdim=True)
    # total >= 1 whenever the row has a finite entry (its max gives exp(0) = 1);
    # it is 0 only for an all -inf row, whose exp is all zeros anyway.
    return exp / total.clamp_min(1.0)


def _check_qkv(query, key, value):
    for name, t in (("query", query), ("key", key), ("value", value)):
        require_tensor(t, name, min_dim=2)
    if not (query.dtype == key.dtype == value.dtype):
        raise TypeError(
            f"query, key and value must share a dtype, got {query.dtype}, {key.dtype}, {value.dtype}"
        )
    if not (query.device == key.device == value.device):
        raise ValueError(
            f"query, key and value must be on one device, got {query.device}, {key.device}, "
            f"{value.device}; move them with .to(query.device)"
        )
    if query.shape[-1] != key.shape[-1]:
        raise ValueError(
            f"query has width {query.shape[-1]} but key has width {key.shape[-1]}: "
            f"scores are dot products, so they must match (query {shape_str(query.shape)}, "
            f"key {shape_str(key.shape)})"
        )
    if key.shape[-2] != value.shape[-2]:
        raise ValueError(
            f"key has length {key.shape[-2]} but value has length {value.shape[-2]}: "
            f"every key needs a value (key {shape_str(key.shape)}, value {shape_str(value.shape)})"
        )
    return broadcast_batch(
        {"query": query.shape[:-2], "key": key.shape[:-2], "value": value.shape[:-2]}
    )


def _check_mask(mask, scores_shape, dtype, device=None):
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"mask must be a torch.Tensor or None, got {type(mask).__name__}")
    if device is not None and mask.device != device:
        raise ValueError(
            f"mask is on {mask.device} but the scores are on {device}; move it with mask.to({str(device)!r})"
        )
    if mask.dtype != torch.bool and not mask.is_floating_point():
        raise TypeError(
            f"mask must be bool (True = may attend) or float (added to the scores), "
            f"got dtype {mask.dtype}; use mask.bool() if 1 means 'may attend'"
        )
    try:
        fits = torch.broadcast_shapes(mask.shape, scores_shape) == scores_shape
    except RuntimeError:
        fits = False
    if not fits:
        raise ValueError(
            f"mask of shape {shape_str(mask.shape)} does not broadcast to the scores "
            f"of shape {shape_str(scores_shape)} (batch..., queries, keys)"
        )
    return mask if mask.dtype == torch.bool else mask.to(dtype)


def _resolve_scale(scale, width: int) -> float:
    """``1 / sqrt(width)`` by default; otherwise a finite number (checked)."""
    if scale is None:  # width 0 has all-zero scores whatever the scale: uniform weights, as in SDPA
        return 1.0 / math.sqrt(width) if width > 0 else 1.0
    if isinstance(scale, torch.Tensor) and scale.requires_grad:
        raise TypeError(
            "scale is a tensor that requires grad: attention reads it as a plain number, so its "
            "gradient would be lost; pass a float (scale.item()), or multiply the query by it instead"
        )
    scale = require_number(scale, "scale")
    if not math.isfinite(scale):
        raise ValueError(f"scale must be a finite number, got {scale}")
    return scale


_REDUCED = (torch.float16, torch.bfloat16)


def _any(flags: torch.Tensor) -> bool:
    """``flags.any()`` as a Python bool; ``False`` on the ``meta`` device, which holds no values."""
    return flags.device.type != "meta" and bool(flags.any())


def _attend(query, key, value, mask=None, scale: float = 1.0):
    """The computation of :func:`attention`, without its input checks.

    ``mask`` is ``None``, bool or float and already broadcasts to the scores. Code that
    has checked its inputs once (a decoding loop, called per token and layer) calls this.
    float16 and bfloat16 inputs are computed in float32 and rounded once at the end, as
    PyTorch's CPU kernels accumulate them: float16 overflows at 65504, and a bfloat16
    softmax keeps only 8 bits of each weight.
    """
    if query.dtype in _REDUCED:
        if mask is not None and mask.is_floating_point():
            mask = mask.float()
        output, attn_weights = _attend(query.float(), key.float(), value.float(), mask, scale)
        return output.to(query.dtype), attn_weights.to(query.dtype)
    attn_scores = query @ key.transpose(-2, -1) * scale  # (..., Tq, Tk)
    if mask is not None:
        # -inf, not a large negative number: a removed key gets exactly zero weight
        # even when an allowed key's score is -inf too
        if mask.dtype == torch.bool:
            attn_scores = attn_scores.masked_fill(~mask, -math.inf)
        else:
            attn_scores = attn_scores + mask
    attn_weights = torch.softmax(attn_scores, dim=-1)
    # A row with no finite score (every key removed, or scores that overflowed to -inf)
    # has nothing to attend to: zero weights, as SDPA gives. The softmax makes such a row
    # NaN, so its first column finds the candidates in one cheap look (a row holding a
    # NaN score is NaN too, and stays so); only then are the scores searched and the
    # softmax redone, with those rows zeroed before it so no NaN reaches the gradient.
    if _any(attn_weights[..., :1].isnan()):
        has_key = (attn_scores > -math.inf).any(dim=-1, keepdim=True)  # (..., Tq, 1)
        attn_scores = attn_scores.masked_fill(~has_key, 0.0)
        attn_weights = torch.softmax(attn_scores, dim=-1).masked_fill(~has_key, 0.0)
    output = attn_weights @ value  # (..., Tq, Dv)
    return output, attn_weights


def attention(query, key, value, mask=None, scale=None):
    r"""Scaled dot-product attention that also returns its weights (lesson 03).

    .. math:: \operatorname{Attention}(Q, K, V) = \operatorname{softmax}\!\Big(\frac{QK^\top}{\sqrt{d_k}}\Big)V

    Parameters
    ----------
    query : torch.Tensor, shape ``(..., Tq, D)``
    key : torch.Tensor, shape ``(..., Tk, D)``
    value : torch.Tensor, shape ``(..., Tk, Dv)``
        Leading batch dimensions broadcast against each other.
    mask : torch.Tensor, optional
        Broadcasts to ``(..., Tq, Tk)``. Bool: ``True`` = may attend. Float: added
        to the scores. See the module docstring for the full rule.
    scale : float, optional
        Multiplies the scores; defaults to ``1 / sqrt(D)``.

    Returns
    -------
    output : torch.Tensor, shape ``(..., Tq, Dv)``
    weights : torch.Tensor, shape ``(..., Tq, Tk)``
        Each row sums to one, or is all zeros where every key was masked.

    Examples
    --------
    >>> q, k, v = torch.randn(2, 3, 4), torch.randn(2, 5, 4), torch.randn(2, 5, 6)
    >>> out, w = attention(q, k, v)
    >>> out.shape, w.shape
    (torch.Size([2, 3, 6]), torch.Size([2, 3, 5]))
    >>> w.sum(-1)
    tensor([[1.0000, 1.0000, 1.0000],
            [1.0000, 1.0000, 1.0000]])
    """
    batch_shape = _check_qkv(query, key, value)
    scores_shape = batch_shape + (query.shape[-2], key.shape[-2])
    scale = _resolve_scale(scale, query.shape[-1])

    if mask is not None:
        mask = _check_mask(mask, scores_shape, query.dtype, query.device)
    return _attend(query, key, value, mask, scale)
