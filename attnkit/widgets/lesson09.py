"""Explorer for lesson 09: scores against offset, per position scheme."""

from __future__ import annotations

import math

import torch

from ..plot import new_figure
from ._core import Explorer, live_figure

__all__: list[str] = []
__all__ += ["position_scores", "draw_position_scores", "position_scores_explorer"]


def position_scores(query_pos: int, max_offset: int, base: float = 10000.0, head_dim: int = 16,
                    alibi_slope: float = 0.25, seed: int = 0) -> dict:
    """One query's score against keys ``0 .. max_offset`` places back, for three position schemes.

    The same token (a seeded random content vector ``c`` and projections ``W_q``, ``W_k``) sits
    at every position, so only positions change the scores (lesson 09):

    * ``"sinusoidal"``: ``((c + PE_i) W_q) . ((c + PE_j) W_k) / sqrt(D)``, positions added to the input;
    * ``"rope"``: ``rope(c W_q, i) . rope(c W_k, j) / sqrt(D)``, :func:`attnkit.apply_rope` with ``base``;
    * ``"alibi"``: ``(c W_q) . (c W_k) / sqrt(D) - alibi_slope * (i - j)``.

    Returns ``{scheme: (max_offset + 1,) tensor}``, entry ``d`` for the key at ``j = query_pos - d``.

    Examples
    --------
    >>> a, b = position_scores(20, 20), position_scores(60, 20)  # the same offsets, 40 places later
    >>> [round((a[s] - b[s]).abs().max().item(), 3) for s in ("sinusoidal", "rope", "alibi")]
    [2.688, 0.0, 0.0]
    """
    from .._validate import require_int, require_number
    from ..positional import apply_rope, sinusoidal_positions

    query_pos = require_int(query_pos, "query_pos")
    max_offset = require_int(max_offset, "max_offset")
    head_dim = require_int(head_dim, "head_dim", minimum=2)
    if max_offset > query_pos:
        raise ValueError(f"max_offset={max_offset} reaches before position 0 from query_pos={query_pos}")
    if head_dim % 2:
        raise ValueError(f"head_dim must be even for RoPE, got {head_dim}")
    alibi_slope = require_number(alibi_slope, "alibi_slope")
    g = torch.Generator().manual_seed(require_int(seed, "seed"))
    c = torch.randn(head_dim, generator=g, dtype=torch.float64)  # (D,)
    w_q, w_k = (torch.randn(head_dim, head_dim, generator=g, dtype=torch.float64) / math.sqrt(head_dim)
                for _ in range(2))  # (D, D) each
    keys = torch.arange(query_pos, query_pos - max_offset - 1, -1)  # (K,): j = i, i-1, ..., i-max_offset
    scale = 1 / math.sqrt(head_dim)
    pe = sinusoidal_positions(query_pos + 1, head_dim).double()  # (i+1, D)
    sinusoidal = ((c + pe[query_pos]) @ w_q) @ ((c + pe[keys]) @ w_k).T * scale  # (K,)
    q_rot = apply_rope((c @ w_q)[None], [query_pos], base=base)  # (1, D)
    k_rot = apply_rope((c @ w_k).expand(len(keys), head_dim), keys, base=base)  # (K, D)
    rope = (q_rot @ k_rot.T)[0] * scale  # (K,)
    alibi = (c @ w_q) @ (c @ w_k) * scale - alibi_slope * (query_pos - keys).double()  # (K,)
    return {"sinusoidal": sinusoidal.float(), "rope": rope.float(), "alibi": alibi.float()}


def draw_position_scores(shift: int = 40, base: float = 10000.0, max_offset: int = 24,
                         alibi_slope: float = 0.25, head_dim: int = 16, seed: int = 0):
    """Score against offset for a query at ``max_offset`` and the same query ``shift`` places later.

    One panel per scheme (see :func:`position_scores`). Where the two curves lie on top of each
    other, the score depends only on the offset ``i - j``; the panel title gives the largest gap.
    Returns a matplotlib ``Figure``.

    Examples
    --------
    >>> fig = draw_position_scores(shift=40)
    >>> [ax.get_title().split(":")[0] for ax in fig.axes]
    ['sinusoidal (added to x)', 'RoPE (base 10000)', 'ALiBi (slope 0.25)']
    """
    from .._validate import require_int

    shift = require_int(shift, "shift")
    max_offset = require_int(max_offset, "max_offset")
    first = position_scores(max_offset, max_offset, base, head_dim, alibi_slope, seed)
    later = position_scores(max_offset + shift, max_offset, base, head_dim, alibi_slope, seed)
    fig = new_figure(10.5, 3.2)
    names = {"sinusoidal": "sinusoidal (added to x)", "rope": f"RoPE (base {base:g})",
             "alibi": f"ALiBi (slope {alibi_slope:g})"}
    offsets = range(max_offset + 1)
    for ax, (scheme, title) in zip(fig.subplots(1, 3), names.items()):
        gap = (first[scheme] - later[scheme]).abs().max().item()
        ax.plot(offsets, first[scheme].numpy(), marker=".", label=f"query at {max_offset}")
        ax.plot(offsets, later[scheme].numpy(), linestyle="--", label=f"query at {max_offset + shift}")
        ax.set_title(f"{title}: largest gap {gap:.3f}", fontsize=9)
        ax.set_xlabel("offset i - j")
        ax.legend(fontsize=7)
    fig.axes[0].set_ylabel("score q . k")
    return fig


def position_scores_explorer(max_offset: int = 24):
    """Shift the query and change RoPE's base; see which schemes' scores depend on the offset only."""
    import ipywidgets as w

    shift = w.IntSlider(value=40, min=0, max=200, step=1, description="shift", continuous_update=False)
    base = w.FloatLogSlider(value=10000.0, base=10, min=1, max=5, step=0.25, description="RoPE base",
                            continuous_update=False)
    slope = w.SelectionSlider(options=[round(2.0 ** -e, 4) for e in range(1, 9)], value=0.25,
                              description="ALiBi slope", continuous_update=False)
    box = live_figure(
        lambda shift, base, alibi_slope: draw_position_scores(shift, base, max_offset, alibi_slope),
        shift=shift, base=base, alibi_slope=slope,
    )
    return Explorer(box, "Position-scores explorer (live in JupyterLab): move the query later (shift), "
                         "change RoPE's base and ALiBi's slope; compare the score-against-offset curves.")
