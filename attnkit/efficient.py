"""Efficient attention: memory-efficient, local, block-sparse, cost counters (lesson 08), KV cache (lesson 11).

Full attention computes a ``(Tq, Tk)`` score matrix: its time and memory grow with
the square of the length. This module holds the fixes lesson 08 measures:

* :func:`memory_efficient_attention` is **exact** attention that never stores the
  score matrix: it walks over query tiles and key tiles and keeps, per query, a
  running maximum and a running sum of exponentials (the *online softmax*). Memory
  is ``O(T)``; time is still ``O(T^2)``.
* :func:`local_attention` and :func:`block_sparse_attention` are **different**
  attentions: each query sees only some keys (a band around itself; some blocks).
  They compute only the scores they keep, so time and memory are ``O(T)`` for a
  fixed window or block pattern. Each equals :func:`attnkit.attention` with the
  matching mask (:func:`attnkit.local_window_mask`, :func:`block_sparse_mask`).
* :class:`KVCache` stores the keys and values of the tokens a decoder has already
  seen, so generating one more token costs one row of attention, not a whole
  forward pass over the prefix.
* :func:`attention_cost` counts the FLOPs and the bytes of scores each variant needs.

All functions follow the mask rule of :mod:`attnkit.attention`.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from ._validate import require_bool, require_int, shape_str
from .attention import _REDUCED, _any, _attend, _check_mask, _check_qkv, _resolve_scale

__all__ = [
    "memory_efficient_attention",
    "local_attention",
    "block_sparse_layout",
    "block_sparse_mask",
    "block_sparse_attention",
    "KVCache",
    "attention_cost",
]


# ----------------------------------------------------------------------------
# memory-efficient (online softmax) attention
# ----------------------------------------------------------------------------

# exp() of scores within 20 of their offset stays far from float32's limits: e^20 is about 5e8
# (a billion keys sum to 5e17, against a largest float of 3e38) and e^-20 about 2e-9 (the
# smallest normal float is 1e-38), so no offset has to move while scores stay in this range.
_SAFE_SCORE = 20.0
# Tiles that need no offset work in base 2: e^s = 2^(s log2 e), and torch.exp2 is the cheaper
# function on the CPU measured (about 2.5x faster than torch.exp on a (2, 512, 512) tile, see
# benchmarks/results/time.md). Scores that may be huge stay in base e: there, rounding
# s log2 e would cost more accuracy than SDPA loses.
_LOG2_E = math.log2(math.e)


def memory_efficient_attention(query, key, value, mask=None, scale=None, block_size=512,
                               query_block_size=None, causal=False):
    r"""Exact attention, tile by tile with an online softmax: the ``(Tq, Tk)`` scores are never stored.

    For each tile of queries, the keys are visited one tile at a time. Each query keeps
    an offset ``m`` (the textbook choice is the running maximum of its scores), a running
    sum ``l`` of ``exp(s - m)`` and a running output ``acc``. When a tile's scores ``s``
    move the offset to ``m'``, the old sums are rescaled:

    .. math::
        l' = e^{m - m'} l + \sum_j e^{s_j - m'}, \quad
        acc' = e^{m - m'} acc + \sum_j e^{s_j - m'} v_j

    and the output is ``acc / l`` once every key tile was seen. Any offset gives the same
    ``acc / l`` (it cancels); it only has to keep ``exp`` from overflowing or vanishing.
    So the offset starts at 0 and moves to a tile's maximum only when a score rises more
    than 20 above it, or when a query's first scores all lie more than 20 below it (``e^20``
    is far from float32's limits). Scores of ordinary size never move it: no tile needs
    a rescale, and where an offset is needed its subtraction is folded into the score
    product (``torch.baddbmm``). Most tiles need not even look for their maximum: a score
    ``scale * q . k`` is at most ``scale * |q| |k|`` in size (Cauchy-Schwarz), so while every offset
    is still 0 and no float mask is added, a tile where that bound, with its largest query and
    key norms, is at most 20 cannot move an offset: it skips the search, and computes ``e^s``
    as ``2^(s log2 e)``, the same value up to float32 rounding, by ``torch.exp2`` (cheaper than ``torch.exp`` on the CPU
    measured, ``benchmarks/results/time.md``). Only one tile of scores
    exists at a time, so the extra memory is the output plus one tile, instead of the
    whole score matrix.

    Parameters
    ----------
    query, key, value, mask, scale
        As in :func:`attnkit.attention`: shapes ``(..., Tq, D)``, ``(..., Tk, D)``,
        ``(..., Tk, Dv)``; a bool mask is ``True`` where a query may attend, a float
        mask is added to the scores; a query with no key left gets a zero output.
        A mask you pass is itself ``(Tq, Tk)``: prefer ``causal=True`` for the
        causal pattern, which needs no mask and skips the tiles above the diagonal.
    block_size : int
        Keys per tile.
    query_block_size : int, optional
        Queries per tile; ``block_size`` by default. The batch and head dimensions are
        visited a few at a time, so that one tile of scores holds about 2**19 floats
        (2 MiB, about the size of the cores' L2 caches): two heads of 512 x 512.
    causal : bool
        Query ``i`` attends keys ``j <= i`` only (the pattern of
        :func:`attnkit.causal_mask` and of PyTorch's ``is_causal=True``); combined
        with ``mask`` if both are given.

    Returns
    -------
    output : torch.Tensor, shape ``(..., Tq, Dv)``
        No weights: returning them would need the very matrix this function avoids.
        float16 and bfloat16 are computed in float32, as in :func:`attnkit.attention`.
        With autograd recording, each tile's weights are kept for the backward pass:
        the memory saving is for inference (``torch.no_grad()``).

    Examples
    --------
    >>> from attnkit import attention
    >>> q, k, v = torch.randn(2, 7, 4), torch.randn(2, 9, 4), torch.randn(2, 9, 3)
    >>> out = memory_efficient_attention(q, k, v, block_size=4)  # tiles of 4 keys: 4 + 4 + 1
    >>> torch.allclose(out, attention(q, k, v)[0], atol=1e-6)
    True
    """
    batch_shape = _check_qkv(query, key, value)
    block_size = require_int(block_size, "block_size", minimum=1)
    query_block_size = block_size if query_block_size is None else require_int(
        query_block_size, "query_block_size", minimum=1)
    causal = require_bool(causal, "causal")
    Tq, Tk, D, Dv = query.shape[-2], key.shape[-2], query.shape[-1], value.shape[-1]
    scores_shape = batch_shape + (Tq, Tk)
    scale = _resolve_scale(scale, D)
    if mask is not None:
        mask = _check_mask(mask, scores_shape, query.dtype, query.device)
    if query.dtype in _REDUCED:  # float32 inside, one rounding at the end
        out = memory_efficient_attention(query.float(), key.float(), value.float(), mask, scale,
                                         block_size, query_block_size, causal)
        return out.to(query.dtype)
    if mask is not None:
        mask = mask.expand(scores_shape)  # a view, no copy
    N = math.prod(batch_shape)
    if Tq == 0 or Tk == 0 or N == 0:  # nothing to tile; attention's answer keeps the autograd graph
        if causal:
            mask = _causal_and(mask, Tq, Tk, query.device)
        return _attend(query, key, value, mask, scale)[0]

    # one flat batch axis N (a copy only where an input was broadcast): (N, T, D)
    query, key, value = (t.expand(batch_shape + t.shape[-2:]).reshape((N,) + t.shape[-2:])
                         for t in (query, key, value))
    key_t = key.transpose(-2, -1)  # (N, D, Tk)
    k_starts = range(0, Tk, block_size)
    # |score| <= |q| |k| (Cauchy-Schwarz): the largest key norm of each key tile bounds its scores
    key_norm = key.detach().norm(dim=-1)  # (N, Tk)
    tile_key_norm = torch.stack([key_norm[:, s:s + block_size].amax(-1) for s in k_starts], -1)  # (N, tiles)
    float_mask = mask is not None and mask.dtype != torch.bool  # added to the scores: may move them anywhere
    heads = max(1, 2**19 // (query_block_size * block_size))  # batch x head rows per tile
    output = query.new_empty(N, Tq, Dv)
    for n in range(0, N, heads):
        rows = slice(n, n + heads)
        for q_start in range(0, Tq, query_block_size):
            q_stop = min(q_start + query_block_size, Tq)
            q_tile = query[rows, q_start:q_stop] * scale  # (G, bq, D): cheaper than scaling the scores
            q_tile_2 = q_tile * _LOG2_E  # (G, bq, D): the same queries, for scores in base 2
            # the key tiles whose scores provably stay in [-SAFE, SAFE] for every query of this tile
            bound = q_tile.detach().norm(dim=-1).amax() * tile_key_norm[rows].amax(0)  # (tiles,)
            bounded = ((bound <= _SAFE_SCORE).tolist() if bound.device.type != "meta"  # meta: no values
                       else [False] * len(k_starts))
            offset = None  # (G, bq, 1): 0 for every query until one needs another
            run_sum = q_tile.new_zeros(q_tile.shape[:-1] + (1,))  # (G, bq, 1)
            acc = q_tile.new_zeros(q_tile.shape[:-1] + (Dv,))  # (G, bq, Dv)
            for tile, k_start in enumerate(k_starts):
                if causal and k_start >= q_stop:
                    break
                k_stop = min(k_start + block_size, Tk, q_stop if causal else Tk)
                k_tile = key_t[rows, :, k_start:k_stop]  # (G, D, bk)
                # fast: every offset is 0 and this tile's scores provably stay in the safe range
                fast = offset is None and bounded[tile] and not float_mask
                if fast:
                    scores = torch.bmm(q_tile_2, k_tile)  # (G, bq, bk), s log2 e
                elif offset is None:
                    scores = torch.bmm(q_tile, k_tile)  # (G, bq, bk)
                else:  # the scores minus the offset, in the same product
                    scores = torch.baddbmm(offset, q_tile, k_tile, beta=-1)
                if mask is not None:
                    tile_mask = mask[..., q_start:q_stop, k_start:k_stop]  # a view of the mask
                    tile_mask = tile_mask.reshape((N,) + tile_mask.shape[-2:])[rows]  # (G, bq, bk)
                    if float_mask:
                        scores += tile_mask
                    else:
                        scores.masked_fill_(~tile_mask, -math.inf)  # exactly zero weight
                if causal and k_stop - 1 > q_start:  # a tile that crosses the diagonal
                    q_pos = torch.arange(q_start, q_stop, device=query.device)[:, None]
                    k_pos = torch.arange(k_start, k_stop, device=query.device)[None, :]
                    scores.masked_fill_(k_pos > q_pos, -math.inf)
                if fast:
                    probs = scores.exp2_()  # (G, bq, bk): 2^(s log2 e) = e^s
                else:
                    # exp(scores) is safe while a query's largest score stays within SAFE of its
                    # offset. The offset moves to the tile's maximum where a score grew past that, or
                    # where a query's first finite scores lie far below it (their exp would vanish).
                    # Detached: the offset cancels out of acc / run_sum, so it needs no gradient.
                    tile_max = scores.detach().amax(dim=-1, keepdim=True)  # (G, bq, 1), above the offset
                    first = (run_sum == 0) & (tile_max > -math.inf) & (tile_max < -_SAFE_SCORE)
                    grow = (tile_max > _SAFE_SCORE) | first
                    if _any(grow):
                        shift = torch.where(grow, tile_max, 0.0)  # (G, bq, 1)
                        scores -= shift
                        offset = shift if offset is None else offset + shift
                        fade = (-shift.clamp_min(0.0)).exp()  # how much the old sums shrink
                        run_sum, acc = run_sum * fade, acc * fade
                    probs = scores.exp_()  # (G, bq, bk)
                run_sum = run_sum + probs.sum(dim=-1, keepdim=True)
                acc = torch.baddbmm(acc, probs, value[rows, k_start:k_stop])  # acc + probs @ v
            # a query that saw no finite score has acc = run_sum = 0: its output is 0
            output[rows, q_start:q_stop] = acc / run_sum.masked_fill(run_sum == 0, 1.0)
    return output.reshape(batch_shape + (Tq, Dv))


def _causal_and(mask, Tq, Tk, device):
    """``mask`` combined with the causal pattern (key ``j <= i``); for the empty cases only."""
    causal = torch.ones(Tq, Tk, dtype=torch.bool, device=device).tril()
    if mask is None:
        return causal
    if mask.dtype == torch.bool:
        return mask & causal
    return mask.masked_fill(~causal, -math.inf)


# ----------------------------------------------------------------------------
# local (banded) attention
# ----------------------------------------------------------------------------


def _check_self_attention(query, key, what):
    if query.shape[-2] != key.shape[-2]:
        raise ValueError(
            f"{what} is self-attention: query and key need the same length, got "
            f"query {shape_str(query.shape)} and key {shape_str(key.shape)}"
        )


def local_attention(query, key, value, window, scale=None, return_weights=False):
    r"""Attention where query ``i`` sees only the keys ``j`` with ``|i - j| <= window``.

    Equal to ``attention(query, key, value, mask=local_window_mask(T, window))``,
    but it computes only the band: queries are cut into blocks of ``b`` rows
    (``b = max(window, 32)``), and each block is compared with the ``b + 2 * window``
    keys around it. Work and memory are ``O(T * (b + 2 * window))``, linear in ``T``.

    Parameters
    ----------
    query, key, value : torch.Tensor
        ``(..., T, D)``, ``(..., T, D)``, ``(..., T, Dv)``: self-attention, so one length ``T``.
    window : int
        How many neighbours on each side a query sees (``0`` = only itself). A window
        of ``T - 1`` or more sees every key; it is computed as ``T - 1`` (so a huge window
        costs no more than the full band).
    scale : float, optional
        Defaults to ``1 / sqrt(D)``.
    return_weights : bool
        Also return the weights in the **banded layout** ``(..., T, 2 * window + 1)``:
        ``weights[..., i, window + d]`` is the weight query ``i`` gives key ``i + d``
        (zero where ``i + d`` falls outside the sequence).

    Returns
    -------
    output : torch.Tensor, shape ``(..., T, Dv)``
        Or ``(output, banded_weights)`` with ``return_weights=True``.

    Examples
    --------
    >>> from attnkit import attention, local_window_mask
    >>> q, k, v = torch.randn(2, 10, 4), torch.randn(2, 10, 4), torch.randn(2, 10, 4)
    >>> out, w = local_attention(q, k, v, window=2, return_weights=True)
    >>> w.shape  # each query: 2 keys left, itself, 2 keys right
    torch.Size([2, 10, 5])
    >>> dense = attention(q, k, v, mask=local_window_mask(10, 2))[0]
    >>> torch.allclose(out, dense, atol=1e-6)
    True
    """
    batch_shape = _check_qkv(query, key, value)
    _check_self_attention(query, key, "local_attention")
    window = require_int(window, "window", minimum=0)
    return_weights = require_bool(return_weights, "return_weights")
    scale = _resolve_scale(scale, query.shape[-1])
    T, Dv = query.shape[-2], value.shape[-1]
    requested, window = window, min(window, max(T - 1, 0))  # a wider window sees no more keys
    if query.dtype in _REDUCED:  # float32 inside, one rounding at the end (as in attention)
        result = local_attention(query.float(), key.float(), value.float(), requested, scale, return_weights)
        return tuple(t.to(query.dtype) for t in result) if return_weights else result.to(query.dtype)
    query, key, value = (t.expand(batch_shape + t.shape[-2:]) for t in (query, key, value))
    if T == 0:
        out = query.new_zeros(batch_shape + (0, Dv))
        return (out, query.new_zeros(batch_shape + (0, 2 * requested + 1))) if return_weights else out
    block = min(max(window, 32), T)
    n_blocks = -(-T // block)
    padded = n_blocks * block
    span = block + 2 * window  # keys a block of queries can see
    # pad queries at the end, keys/values by `window` on both sides (+ the query padding)
    q_pad = F.pad(query, (0, 0, 0, padded - T))  # (..., nb*b, D)
    k_pad = F.pad(key, (0, 0, window, window + padded - T))  # (..., nb*b + 2w, D)
    v_pad = F.pad(value, (0, 0, window, window + padded - T))
    q_blocks = q_pad.unflatten(-2, (n_blocks, block))  # (..., nb, b, D)
    k_slabs = k_pad.unfold(-2, span, block).transpose(-2, -1)  # (..., nb, span, D)
    v_slabs = v_pad.unfold(-2, span, block).transpose(-2, -1)  # (..., nb, span, Dv)
    attn_scores = q_blocks @ k_slabs.transpose(-2, -1) * scale  # (..., nb, b, span)

    # slab column c of block n holds key n*b - w + c; query row r is n*b + r
    rows = torch.arange(block, device=query.device)[:, None]
    cols = torch.arange(span, device=query.device)[None, :]
    key_pos = torch.arange(n_blocks, device=query.device)[:, None, None] * block - window + cols
    keep = ((cols - rows) >= 0) & ((cols - rows) <= 2 * window) & (key_pos >= 0) & (key_pos < T)
    attn_scores = attn_scores.masked_fill(~keep, torch.finfo(attn_scores.dtype).min)
    attn_weights = torch.softmax(attn_scores, dim=-1)  # (..., nb, b, span); every row keeps itself
    output = (attn_weights @ v_slabs).flatten(-3, -2)[..., :T, :]  # (..., T, Dv)
    if not return_weights:
        return output
    # the band of row r is columns r .. r + 2w of its slab; masked slots hold exactly 0
    band_index = rows + torch.arange(2 * window + 1, device=query.device)  # (b, 2w+1)
    banded = attn_weights.gather(-1, band_index.expand(attn_weights.shape[:-1] + band_index.shape[-1:]))
    banded = banded.flatten(-3, -2)[..., :T, :]  # (..., T, 2w+1)
    # the columns of a window wider than T - 1 point outside the sequence: zeros
    return output, F.pad(banded, (requested - window, requested - window))


# ----------------------------------------------------------------------------
# block-sparse attention
# ----------------------------------------------------------------------------


def block_sparse_layout(num_blocks: int, local_blocks: int = 1, global_blocks: int = 1,
                        causal: bool = False) -> torch.Tensor:
    """Which key blocks each query block attends: a ``(num_blocks, num_blocks)`` bool matrix.

    Block ``(i, j)`` is kept when ``|i - j| <= local_blocks`` (a band of blocks), or
    ``j < global_blocks`` (every query reads the first blocks: a summary, like a
    ``[CLS]`` token), or ``i < global_blocks`` (the first blocks read everything).
    With ``causal=True`` only ``j <= i`` is kept.

    Examples
    --------
    >>> block_sparse_layout(5, local_blocks=1, global_blocks=1).int()
    tensor([[1, 1, 1, 1, 1],
            [1, 1, 1, 0, 0],
            [1, 1, 1, 1, 0],
            [1, 0, 1, 1, 1],
            [1, 0, 0, 1, 1]], dtype=torch.int32)
    """
    num_blocks = require_int(num_blocks, "num_blocks")
    local_blocks = require_int(local_blocks, "local_blocks")
    global_blocks = require_int(global_blocks, "global_blocks")
    if not isinstance(causal, bool):
        raise TypeError(f"causal must be True or False, got {causal!r}")
    i = torch.arange(num_blocks)[:, None]
    j = torch.arange(num_blocks)[None, :]
    layout = ((i - j).abs() <= local_blocks) | (j < global_blocks) | (i < global_blocks)
    if causal:
        layout &= j <= i
    return layout


def block_sparse_mask(seq_len: int, block_size: int, local_blocks: int = 1, global_blocks: int = 1,
                      causal: bool = False) -> torch.Tensor:
    """The dense ``(T, T)`` bool mask of :func:`block_sparse_attention`'s pattern.

    Position ``p`` belongs to block ``p // block_size`` (the last block may be
    shorter); a query may attend a key when their blocks are kept in
    :func:`block_sparse_layout`, and, with ``causal=True``, when the key is not
    after the query.

    Examples
    --------
    >>> block_sparse_mask(6, block_size=2, local_blocks=0, global_blocks=1).int()
    tensor([[1, 1, 1, 1, 1, 1],
            [1, 1, 1, 1, 1, 1],
            [1, 1, 1, 1, 0, 0],
            [1, 1, 1, 1, 0, 0],
            [1, 1, 0, 0, 1, 1],
            [1, 1, 0, 0, 1, 1]], dtype=torch.int32)
    """
    seq_len = require_int(seq_len, "seq_len")
    block_size = require_int(block_size, "block_size", minimum=1)
    n_blocks = -(-seq_len // block_size)
    layout = block_sparse_layout(n_blocks, local_blocks, global_blocks, causal)
    block_of = torch.arange(seq_len) // block_size
    mask = layout[block_of[:, None], block_of[None, :]]  # (T, T)
    if causal:
        mask &= torch.ones(seq_len, seq_len, dtype=torch.bool).tril()
    return mask


def block_sparse_attention(query, key, value, block_size, local_blocks=1, global_blocks=1,
                           causal=False, scale=None):
    """Attention restricted to the blocks of :func:`block_sparse_layout`, computing only those blocks.

    Equal to ``attention(query, key, value, mask=block_sparse_mask(T, block_size, ...))``.
    Each ordinary query block gathers its at most ``2 * local_blocks + 1 + global_blocks``
    kept key blocks (one batched product for all of them); the ``global_blocks`` first
    query blocks, which read every key, are computed densely on their own. Work and
    memory grow like ``T * block_size * (kept blocks per row)``: linear in ``T``.

    Parameters
    ----------
    query, key, value : torch.Tensor
        ``(..., T, D)``, ``(..., T, D)``, ``(..., T, Dv)``: self-attention, one length ``T``.
    block_size : int
        Positions per block; the last block may be shorter.
    local_blocks, global_blocks, causal
        The pattern, as in :func:`block_sparse_layout`.
    scale : float, optional
        Defaults to ``1 / sqrt(D)``.

    Returns
    -------
    output : torch.Tensor, shape ``(..., T, Dv)``

    Examples
    --------
    >>> from attnkit import attention
    >>> q, k, v = torch.randn(3, 20, 8), torch.randn(3, 20, 8), torch.randn(3, 20, 8)
    >>> out = block_sparse_attention(q, k, v, block_size=4, local_blocks=1, global_blocks=1)
    >>> mask = block_sparse_mask(20, block_size=4, local_blocks=1, global_blocks=1)
    >>> torch.allclose(out, attention(q, k, v, mask=mask)[0], atol=1e-6)
    True
    """
    batch_shape = _check_qkv(query, key, value)
    _check_self_attention(query, key, "block_sparse_attention")
    block_size = require_int(block_size, "block_size", minimum=1)
    local_blocks = require_int(local_blocks, "local_blocks")
    global_blocks = require_int(global_blocks, "global_blocks")
    if not isinstance(causal, bool):
        raise TypeError(f"causal must be True or False, got {causal!r}")
    scale = _resolve_scale(scale, query.shape[-1])
    if query.dtype in _REDUCED:  # float32 inside, one rounding at the end (as in attention)
        return block_sparse_attention(query.float(), key.float(), value.float(), block_size, local_blocks,
                                      global_blocks, causal, scale).to(query.dtype)
    T, Dv = query.shape[-2], value.shape[-1]
    query, key, value = (t.expand(batch_shape + t.shape[-2:]) for t in (query, key, value))
    if T == 0:
        return query.new_zeros(batch_shape + (0, Dv))
    low = torch.finfo(query.dtype).min
    n_blocks = -(-T // block_size)
    padded = n_blocks * block_size
    layout = block_sparse_layout(n_blocks, local_blocks, global_blocks, causal).to(query.device)
    n_global = min(global_blocks, n_blocks)
    pieces = []
    positions = torch.arange(padded, device=query.device)

    # 1. the first query blocks read every (allowed) key: dense rows, O(global_blocks * b * T)
    if n_global:
        rows = n_global * block_size
        q_rows = query[..., : min(rows, T), :]
        attn_scores = q_rows @ key.transpose(-2, -1) * scale  # (..., G*b, T)
        if causal:
            keep = positions[: q_rows.shape[-2], None] >= positions[None, :T]
            attn_scores = attn_scores.masked_fill(~keep, low)
        pieces.append(torch.softmax(attn_scores, dim=-1) @ value)  # (..., G*b, Dv)

    # 2. the other query blocks gather their few kept key blocks
    if n_blocks > n_global:
        ordinary = layout[n_global:]  # (nr, nb)
        per_row = min(2 * local_blocks + 1 + global_blocks, n_blocks)  # the most blocks a row keeps
        # kept block indices of each row, padded with a repeated index marked invalid
        order = torch.sort((~ordinary).to(torch.int8), dim=1, stable=True).indices[:, :per_row]
        valid = ordinary.gather(1, order)  # (nr, K)
        q_pad = F.pad(query, (0, 0, 0, padded - T))
        k_pad = F.pad(key, (0, 0, 0, padded - T)).unflatten(-2, (n_blocks, block_size))
        v_pad = F.pad(value, (0, 0, 0, padded - T)).unflatten(-2, (n_blocks, block_size))
        q_blocks = q_pad.unflatten(-2, (n_blocks, block_size))[..., n_global:, :, :]  # (..., nr, b, D)
        k_gather = k_pad[..., order, :, :].flatten(-3, -2)  # (..., nr, K*b, D)
        v_gather = v_pad[..., order, :, :].flatten(-3, -2)  # (..., nr, K*b, Dv)
        attn_scores = q_blocks @ k_gather.transpose(-2, -1) * scale  # (..., nr, b, K*b)
        in_block = torch.arange(block_size, device=query.device)
        key_pos = (order[:, :, None] * block_size + in_block).flatten(1)  # (nr, K*b)
        key_ok = valid.repeat_interleave(block_size, dim=1) & (key_pos < T)  # (nr, K*b)
        keep = key_ok[:, None, :]  # (nr, 1, K*b)
        if causal:
            query_pos = positions[n_global * block_size:].view(-1, block_size)  # (nr, b)
            keep = keep & (key_pos[:, None, :] <= query_pos[:, :, None])  # (nr, b, K*b)
        attn_scores = attn_scores.masked_fill(~keep, low)
        attn_weights = torch.softmax(attn_scores, dim=-1)  # every real row keeps its own block
        pieces.append((attn_weights @ v_gather).flatten(-3, -2))  # (..., nr*b, Dv)
    return torch.cat(pieces, dim=-2)[..., :T, :]


# ----------------------------------------------------------------------------
# KV cache
# ----------------------------------------------------------------------------


class KVCache:
    """Preallocated keys and values of every layer, for fast autoregressive decoding.

    ``update(layer, k, v)`` copies the new keys/values into the next free slots of
    that layer (no ``torch.cat``: nothing is reallocated, each step costs the copy
    of one token) and returns views of everything stored so far for that layer.

    Parameters
    ----------
    num_layers, batch_size, num_heads, max_len, head_dim : int
        Buffers are ``(num_layers, batch_size, num_heads, max_len, head_dim)``.
    dtype : torch.dtype

    Examples
    --------
    >>> cache = KVCache(num_layers=2, batch_size=1, num_heads=2, max_len=8, head_dim=4)
    >>> k, v = cache.update(0, torch.randn(1, 2, 3, 4), torch.randn(1, 2, 3, 4))  # a 3-token prompt
    >>> k.shape
    torch.Size([1, 2, 3, 4])
    >>> k, v = cache.update(0, torch.randn(1, 2, 1, 4), torch.randn(1, 2, 1, 4))  # one more token
    >>> k.shape, cache.lengths
    (torch.Size([1, 2, 4, 4]), [4, 0])
    """

    def __init__(self, num_layers: int, batch_size: int, num_heads: int, max_len: int,
                 head_dim: int, dtype: torch.dtype = torch.float32, device=None):
        num_layers = require_int(num_layers, "num_layers", minimum=1)
        batch_size = require_int(batch_size, "batch_size", minimum=1)
        num_heads = require_int(num_heads, "num_heads", minimum=1)
        max_len = require_int(max_len, "max_len", minimum=1)
        head_dim = require_int(head_dim, "head_dim", minimum=1)
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
        shape = (num_layers, batch_size, num_heads, max_len, head_dim)
        self.keys = torch.zeros(shape, dtype=dtype, device=device)
        self.values = torch.zeros(shape, dtype=dtype, device=device)
        self.max_len = max_len
        self.lengths = [0] * num_layers
        self._per_layer = [(self.keys[i], self.values[i]) for i in range(num_layers)]  # views, made once
        self._expected = (batch_size, num_heads, head_dim)

    @property
    def seq_len(self) -> int:
        """Tokens stored in layer 0 (all layers agree between forward passes)."""
        return self.lengths[0]

    @property
    def nbytes(self) -> int:
        """Bytes of the two preallocated buffers."""
        return self.keys.nbytes + self.values.nbytes

    def reset(self) -> None:
        """Forget every stored token (the buffers are reused)."""
        self.lengths = [0] * len(self.lengths)

    def update(self, layer: int, key: torch.Tensor, value: torch.Tensor):
        """Store ``key``/``value`` ``(B, H, t, Dh)`` after the tokens already in ``layer``.

        Returns ``(keys, values)``: views ``(B, H, stored + t, Dh)`` of the buffers.
        """
        if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < len(self.lengths):
            raise ValueError(f"layer must be an int in [0, {len(self.lengths)}), got {layer!r}")
        start = self.lengths[layer]
        expected = self._expected
        for name, t in (("key", key), ("value", value)):
            if not isinstance(t, torch.Tensor):
                raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
            if t.dtype != self.keys.dtype or t.device != self.keys.device:
                raise TypeError(
                    f"{name} is {t.dtype} on {t.device} but this cache holds {self.keys.dtype} on "
                    f"{self.keys.device}: storing it would convert it silently; convert it first "
                    f"({name}.to({self.keys.dtype})) or make the cache with dtype={t.dtype}"
                )
            if t.dim() != 4 or (t.shape[0], t.shape[1], t.shape[3]) != expected:
                raise ValueError(
                    f"{name} must be (B, H, t, Dh) = ({expected[0]}, {expected[1]}, t, {expected[2]}), "
                    f"got {shape_str(t.shape)}"
                )
        stop = start + key.shape[2]
        if value.shape[2] != key.shape[2]:
            raise ValueError(f"key has {key.shape[2]} new tokens but value has {value.shape[2]}")
        if stop > self.max_len:
            raise ValueError(
                f"KVCache is full: {start} tokens stored + {key.shape[2]} new > max_len={self.max_len}"
            )
        layer_keys, layer_values = self._per_layer[layer]
        layer_keys[:, :, start:stop] = key  # one copy of the new tokens, nothing reallocated
        layer_values[:, :, start:stop] = value
        self.lengths[layer] = stop
        return layer_keys[:, :, :stop], layer_values[:, :, :stop]


# ----------------------------------------------------------------------------
# cost counters
# ----------------------------------------------------------------------------

_KINDS = ("full", "memory_efficient", "local", "block_sparse")


def attention_cost(seq_len: int, head_dim: int, num_heads: int = 1, batch_size: int = 1,
                   kind: str = "full", window: int | None = None, block_size: int = 512,
                   local_blocks: int = 1, global_blocks: int = 1, causal: bool = False,
                   bytes_per_float: int = 4) -> dict:
    """FLOPs and score-matrix bytes of one self-attention call of length ``seq_len``.

    Only the two products count (``Q K^T`` and ``weights @ V``, each ``2 * Dh`` FLOPs
    per kept score); the softmax's few operations per score are left out.

    Parameters
    ----------
    seq_len, head_dim, num_heads, batch_size : int
        ``T``, ``Dh`` (width of one head), ``H``, ``B``.
    kind : {"full", "memory_efficient", "local", "block_sparse"}
        ``"full"`` stores all ``T * T`` scores; ``"memory_efficient"`` computes them all but
        stores only one ``(block_size, block_size)`` tile per batch and head;
        ``"local"`` keeps ``|i - j| <= window``; ``"block_sparse"`` keeps the blocks of
        :func:`block_sparse_layout` (``block_size``, ``local_blocks``, ``global_blocks``).
    causal : bool
        Keep only keys ``j <= i`` (for ``"full"``, ``"memory_efficient"`` and ``"block_sparse"``).
    bytes_per_float : int
        4 for float32.

    Returns
    -------
    dict
        ``scores``: score entries computed; ``kept_fraction``: ``scores / T**2``;
        ``flops``: ``4 * scores * Dh`` (times ``B * H``); ``score_bytes``: bytes of the scores
        held in memory at once.

    Examples
    --------
    >>> attention_cost(1024, 64, num_heads=8)["score_bytes"] / 2**20  # MiB of scores
    32.0
    >>> round(attention_cost(1024, 64, kind="local", window=16)["kept_fraction"], 4)
    0.032
    """
    seq_len = require_int(seq_len, "seq_len")
    head_dim = require_int(head_dim, "head_dim", minimum=1)
    num_heads = require_int(num_heads, "num_heads", minimum=1)
    batch_size = require_int(batch_size, "batch_size", minimum=1)
    bytes_per_float = require_int(bytes_per_float, "bytes_per_float", minimum=1)
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}")
    T = seq_len
    if kind in ("full", "memory_efficient"):
        scores = T * (T + 1) // 2 if causal else T * T
        if kind == "full":
            held = T * T
        else:
            block_size = require_int(block_size, "block_size", minimum=1)
            held = min(block_size, T) ** 2
    elif kind == "local":
        if window is None:
            raise ValueError("kind='local' needs window=")
        window = require_int(window, "window")
        w = min(window, max(T - 1, 0))
        scores = T * (2 * w + 1) - w * (w + 1)  # the band, minus the corners cut by the ends
        held = scores
    else:
        block_size = require_int(block_size, "block_size", minimum=1)
        if T == 0:
            scores = 0
        else:
            n = -(-T // block_size)
            sizes = torch.full((n,), block_size, dtype=torch.long)
            sizes[-1] = T - (n - 1) * block_size
            layout = block_sparse_layout(n, local_blocks, global_blocks, causal).long()
            pair = sizes[:, None] * sizes[None, :]
            if causal:  # diagonal blocks keep their lower triangle
                pair = pair - torch.diag(sizes * (sizes - 1) // 2)
            scores = int((layout * pair).sum())
        held = scores
    per_head = batch_size * num_heads
    return {
        "kind": kind,
        "scores": scores * per_head,
        "kept_fraction": scores / (T * T) if T else 0.0,
        "flops": 4 * scores * head_dim * per_head,
        "score_bytes": held * bytes_per_float * per_head,
    }
