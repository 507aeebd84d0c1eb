"""Checkers for lesson 08: limits of attention and the fixes (used as ``ak.check.<name>``)."""

from __future__ import annotations

import math
import os
import sys
import weakref

import torch

from ..attention import attention as _attention
from ._core import Case, Checker, _seeded

__all__ = ["online_softmax_attention", "sliding_window_mask"]


# --- exercise 1: online softmax -------------------------------------------------------------------

def _online_softmax(query, key, value, block_size, rescale_sum=True, rescale_out=True, divide=True,
                    running=True, subtract_max=True, start=-math.inf, scale=None):
    """Attention over key blocks with a running max, sum and output (and optional mistakes:
    ``running=False`` re-references to each block's own max, ``subtract_max=False`` never subtracts
    one, ``start=0.0`` starts the running max at 0, ``scale`` replaces 1 / sqrt(d_k))."""
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    run_max = torch.full(query.shape[:-1] + (1,), start)  # (..., Tq, 1)
    run_sum = torch.zeros_like(run_max)  # (..., Tq, 1)
    run_out = torch.zeros(query.shape[:-1] + (value.shape[-1],))  # (..., Tq, Dv)
    for begin in range(0, key.shape[-2], block_size):
        scores = query @ key[..., begin:begin + block_size, :].transpose(-2, -1) * scale  # (..., Tq, b)
        block_max = scores.amax(-1, keepdim=True)
        new_max = torch.maximum(run_max, block_max) if running else block_max
        if not subtract_max:
            new_max = torch.zeros_like(new_max)
        correction = torch.exp(run_max - new_max) if subtract_max else torch.ones_like(new_max)
        exp_scores = torch.exp(scores - new_max)
        run_sum = (correction if rescale_sum else 1.0) * run_sum + exp_scores.sum(-1, keepdim=True)
        run_out = ((correction if rescale_out else 1.0) * run_out
                   + exp_scores @ value[..., begin:begin + block_size, :])
        run_max = new_max
    return run_out / run_sum if divide else run_out




def _large_cases():
    """Scores spanning hundreds: (a) every block's max near +300 (exp overflows without a max),
    (b) block maxima falling by ~390 (a per-block max overflows when re-referenced),
    (c) every score near -300 (a running max started at 0 underflows to 0 / 0),
    (d) block maxima rising by ~390 (a max kept from the first block overflows)."""
    tq, tk, d, dv, block = 3, 11, 4, 5, 3
    hints = (
        "exp() overflowed: subtract the running max before exp (scores here reach hundreds)",
        "keep a *running* max across blocks: re-referencing from one block's max to the next "
        "overflowed (here the block maxima fall by hundreds)",
        "start the running max at -inf, not 0: with every score near -300, exp(score - 0) underflows to 0",
        "update the running max at every block, m = max(m, block max): here later blocks score ~390 higher "
        "than the first and exp() overflowed",
    )
    key_sizes = (torch.full((tk,), 1.0), torch.cat([torch.full((block,), 1.0), torch.full((tk - block,), -0.3)]),
                 torch.full((tk,), -1.0), torch.cat([torch.full((block,), -0.3), torch.full((tk - block,), 1.0)]))
    for i, (sizes, hint) in enumerate(zip(key_sizes, hints)):
        g = _seeded(82 + i)
        query = torch.zeros(tq, d)
        query[:, 0] = torch.tensor([300.0, 280.0, 310.0]) * math.sqrt(d) / 1.0
        key = 0.01 * torch.randn(tk, d, generator=g)
        key[:, 0] = sizes + 0.01 * torch.randn(tk, generator=g)  # scores = 300 * size +- a few units
        value = torch.randn(tk, dv, generator=g)
        yield Case(query, key, value, block, hint=hint)


def _online_cases():
    g = _seeded(80)
    # (query shape, Tk, Dv, block); Tk differs from every other size, so a (Tq, Tk) tensor is the score matrix
    for shape_q, tk, dv, block in (((5, 4), 12, 3, 4), ((2, 3, 8), 10, 6, 3), ((1, 7, 16), 9, 5, 1),
                                   ((2, 2, 4, 8), 6, 4, 16), ((6, 4), 13, 2, 5)):
        d = shape_q[-1]
        query = 3 * torch.randn(*shape_q, generator=g)
        key = torch.randn(*shape_q[:-2], tk, d, generator=g)
        value = torch.randn(*shape_q[:-2], tk, dv, generator=g)
        yield query, key, value, block
    yield from _large_cases()


_MATMULS = {torch.matmul, torch.Tensor.matmul, torch.Tensor.__matmul__, torch.Tensor.__rmatmul__,
            torch.bmm, torch.Tensor.bmm, torch.einsum, torch.mm, torch.Tensor.mm, torch.tensordot,
            torch.baddbmm, torch.addmm}


def _inside(names: set[str]) -> str | None:
    """The name of an attnkit function in ``names`` on the call stack, if any."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frame = sys._getframe(2)
    for _ in range(40):
        if frame is None:
            return None
        code = frame.f_code
        if code.co_name in names and os.path.abspath(code.co_filename).startswith(here):
            return code.co_name
        frame = frame.f_back
    return None


def _tensors(obj, depth=3):
    """The tensors in a call's arguments or result (inside lists, tuples and dicts, ``depth`` levels)."""
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, dict):
        obj = list(obj.values())
    if depth > 0 and isinstance(obj, (tuple, list)):
        return [t for item in obj for t in _tensors(item, depth - 1)]
    return []


def _full_matrix_watch(query, key, value, block_size):
    """Flags a (Tq, Tk) score matrix, scores of one query against every key, and whole-matrix kernels.

    Scores against every key are found two ways: a matrix product whose result ends in Tk, and any
    result that ends in Tk and depends on the query (a per-query ``(q * key).sum(-1)``, its softmax, ...).
    "Depends on the query" is followed from the learner's copy of ``query`` (equal to it, same shape)
    through every torch call; the keys alone (``key.transpose(-2, -1)``, sliced later) are not flagged."""
    tq, tk = query.shape[-2], key.shape[-2]
    if tk <= block_size:
        return None  # one block is the whole matrix: nothing to tell apart
    from_query: dict[int, weakref.ref] = {}  # id -> weak reference, for tensors computed from the query

    def tainted(t):
        ref = from_query.get(id(t))
        if ref is not None and ref() is t:
            return True
        if t.shape == query.shape and t.dtype == query.dtype and torch.equal(t.detach(), query):
            from_query[id(t)] = weakref.ref(t)  # the learner's copy of the query
            return True
        return False

    def look(func, fargs, fkwargs, result):
        name = getattr(func, "__name__", "")
        if name == "scaled_dot_product_attention":
            return ("you called scaled_dot_product_attention on all the keys at once: the exercise is to "
                    "compute exact attention one block of keys at a time")
        if name in ("numpy", "__array__"):
            return ("you moved the scores to NumPy, where this check cannot follow them: write the block loop "
                    "with torch operations")
        lib = _inside({"memory_efficient_attention", "attention", "_attend"})
        if lib:
            return (f"you called ak.{lib.lstrip('_')}: write the block loop with its running max, sum and "
                    "output yourself")
        for t in (result if isinstance(result, (tuple, list)) else (result,)):
            if not isinstance(t, torch.Tensor) or t.dim() < 1:
                continue
            shape = tuple(t.shape)
            if len(shape) >= 2 and shape[-2:] in ((tq, tk), (tk, tq)):
                return (f"your function built the full (Tq, Tk) = ({tq}, {tk}) score matrix: compute the "
                        f"scores one block of block_size = {block_size} keys at a time, never all at once")
            if func in _MATMULS and shape[-1] == tk:
                return (f"your function scored a query against all {tk} keys at once: take the keys in "
                        f"blocks of block_size = {block_size}")
        outputs = _tensors(result)
        if name.startswith("new_") or name.endswith("_like"):
            outputs = []  # shaped or typed like the query, not computed from it
        sources = fargs[:1] if name in ("to", "type_as") else list(fargs) + list(fkwargs.values())
        if outputs and any(tainted(t) for t in _tensors(sources)):
            for t in outputs:
                from_query[id(t)] = weakref.ref(t)
                if t.dim() >= 1 and t.shape[-1] == tk:
                    return (f"your function computed, from the query, a tensor ending in all {tk} keys "
                            f"(shape {tuple(t.shape)}), a whole row of scores or weights at once: take the "
                            f"keys in blocks of block_size = {block_size}")
        return None

    return look


online_softmax_attention = Checker(
    "online_softmax_attention",
    reference=lambda q, k, v, block_size: _attention(q, k, v)[0],
    cases=_online_cases,
    mistakes={
        "when the running max grows you must rescale the running SUM by exp(old_max - new_max) too":
            lambda q, k, v, b: _online_softmax(q, k, v, b, rescale_sum=False),
        "when the running max grows you must rescale the running OUTPUT by exp(old_max - new_max) too":
            lambda q, k, v, b: _online_softmax(q, k, v, b, rescale_out=False),
        "you never rescaled anything when the max changed: multiply the running sum and output "
        "by exp(old_max - new_max)":
            lambda q, k, v, b: _online_softmax(q, k, v, b, rescale_sum=False, rescale_out=False),
        "you forgot the final division of the running output by the running sum":
            lambda q, k, v, b: _online_softmax(q, k, v, b, divide=False),
        "you forgot the scale: multiply the scores by 1 / sqrt(d_k)":
            lambda q, k, v, b: _online_softmax(q, k, v, b, scale=1.0),
    },
    watch=_full_matrix_watch,
)


# --- exercise 2: the sliding-window mask -----------------------------------------------------------

def _sliding_reference(n, window):
    i = torch.arange(n)[:, None]
    j = torch.arange(n)[None, :]
    return (j <= i) & (i - j <= window)


def _sliding_cases():
    yield from ((6, 2), (5, 0), (8, 3), (4, 10), (10, 1), (1, 0), (7, 6))  # (n, window)


_MASK_RULE = "ak.attention and PyTorch read a bool mask, True = may attend"


def _mask_dtype_hint(got, expected, args) -> str | None:
    """Names the mask rule when the pattern is right but the dtype is not."""
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape or got.dtype == torch.bool:
        return None
    if got.is_floating_point():
        g = got.detach()
        if bool(((g == 0) | (g == -math.inf)).all()) and torch.equal(g == 0, expected):
            return ("that is an additive float mask (0 = attend, -inf = blocked), right pattern, wrong form: "
                    f"this exercise asks for the bool mask; {_MASK_RULE}")
        if bool(((g == 0) | (g == 1)).all()) and torch.equal(g == 1, expected):
            return ("a float 0/1 mask is *added* to the scores, so it masks nothing: return a bool tensor; "
                    f"{_MASK_RULE}")
        return f"return a bool tensor; {_MASK_RULE} (a float mask is added to the scores)"
    if torch.equal(got != 0, expected):
        return f"ak.attention refuses an integer mask: return it as a bool tensor (.bool()); {_MASK_RULE}"
    return f"return a bool tensor; {_MASK_RULE}"


sliding_window_mask = Checker(
    "sliding_window_mask",
    reference=_sliding_reference,
    cases=_sliding_cases,
    mistakes={
        "off by one: a query must see itself AND the `window` keys before it (use i - j <= window, "
        "not i - j < window)":
            lambda n, w: (torch.arange(n)[None, :] <= torch.arange(n)[:, None])
            & (torch.arange(n)[:, None] - torch.arange(n)[None, :] < w),
        "off by one the other way: that lets a query see window + 1 keys before it":
            lambda n, w: _sliding_reference(n, w + 1),
        "not causal: a query may only look back (j <= i), never at the future":
            lambda n, w: (torch.arange(n)[:, None] - torch.arange(n)[None, :]).abs() <= w,
        "transposed: rows are queries i, columns keys j; the window looks back (j <= i), not ahead":
            lambda n, w: _sliding_reference(n, w).T,
        "the mask is flipped: True must mean 'may attend'":
            lambda n, w: ~_sliding_reference(n, w),
        "you left out the window: that is the plain causal mask; also require i - j <= window":
            lambda n, w: _sliding_reference(n, n),
    },
    extra_hint=_mask_dtype_hint,
)
