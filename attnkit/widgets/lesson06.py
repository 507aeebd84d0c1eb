"""Explorer for lesson 06: scores, softmax saturation and gradients."""

from __future__ import annotations

import math

import torch

from ..plot import new_figure
from ._core import Explorer, live_figure

__all__: list[str] = []
__all__ += ["draw_scaling", "scaling_explorer"]


def _scaling_stats(d_k: int, scale_exponent: float, num_keys: int, num_queries: int = 256, seed: int = 0):
    """Scores, weights and their statistics for random unit-variance queries and keys."""
    g = torch.Generator().manual_seed(seed)
    query = torch.randn(num_queries, d_k, generator=g).requires_grad_(True)  # (Tq, d_k)
    key = torch.randn(num_keys, d_k, generator=g)  # (Tk, d_k)
    upstream = torch.randn(num_queries, num_keys, generator=g)  # dLoss/dweights from above
    attn_scores = query @ key.T * d_k ** -scale_exponent  # (Tq, Tk)
    attn_scores.retain_grad()
    attn_weights = torch.softmax(attn_scores, dim=-1)  # (Tq, Tk)
    (attn_weights * upstream).sum().backward()
    w = attn_weights.detach()
    entropy = -(torch.xlogy(w, w)).sum(-1)  # (Tq,) in nats
    return {
        "scores": attn_scores.detach(), "weights": w,
        "score_std": attn_scores.detach().std().item(),
        "entropy": entropy.mean().item(), "max_weight": w.max(-1).values.mean().item(),
        "grad_norm": attn_scores.grad.norm(dim=-1).mean().item(),
        "query_grad_norm": query.grad.norm(dim=-1).mean().item(),
    }


def draw_scaling(d_k: int = 64, scale_exponent: float = 0.5, num_keys: int = 16, seed: int = 0):
    """What the scale does to the scores and to one query's softmax weights (lesson 06).

    Queries and keys have independent N(0, 1) entries, and the scores are
    ``q . k * d_k ** -scale_exponent``: ``0`` is no scaling, ``0.5`` is the usual
    ``1 / sqrt(d_k)``, ``1`` divides by ``d_k``. Left: histogram of the scores. Right: the
    weights of query 0. The title gives the score spread, the mean entropy of the weights
    (``log(num_keys)`` is uniform, ``0`` is one-hot) and the mean norms of the gradient of a
    random loss at the scores and at the queries (the first shrinks as the softmax saturates,
    the second need not). Returns a matplotlib ``Figure``.

    Examples
    --------
    >>> fig = draw_scaling(d_k=256, scale_exponent=0.0)
    >>> len(fig.axes)
    2
    >>> fig._suptitle.get_text().split(":")[1].split(",")[0]  # sqrt(256) = 16 in theory
    ' score std 15.5'
    """
    from .._validate import require_int, require_number

    d_k = require_int(d_k, "d_k", minimum=1)
    num_keys = require_int(num_keys, "num_keys", minimum=2)
    scale_exponent = require_number(scale_exponent, "scale_exponent")
    if not 0.0 <= scale_exponent <= 1.0:
        raise ValueError(f"scale_exponent must be in [0, 1] (0: no scaling, 0.5: 1/sqrt(d_k)), "
                         f"got {scale_exponent}")
    stats = _scaling_stats(d_k, scale_exponent, num_keys, seed=seed)
    fig = new_figure(8.0, 3.2)
    ax_hist, ax_bar = fig.subplots(1, 2)
    ax_hist.hist(stats["scores"].flatten().numpy(), bins=40, color="tab:blue")
    ax_hist.set_xlabel("score")
    ax_hist.set_ylabel("count")
    row = stats["weights"][0]
    bars = ax_bar.bar(range(num_keys), row.numpy(), color="tab:blue")
    bars[int(row.argmax())].set_color("tab:orange")
    ax_bar.set_ylim(0, 1)
    ax_bar.set_xlabel("key")
    ax_bar.set_ylabel("weight of query 0")
    fig.suptitle(
        f"d_k={d_k}, scores x d_k^-{scale_exponent:.2f}: score std {stats['score_std']:.1f}, "
        f"entropy {stats['entropy']:.2f} of {math.log(num_keys):.2f} nats,\n"
        f"mean |dL/dscores| {stats['grad_norm']:.2g}, mean |dL/dq| {stats['query_grad_norm']:.2g}",
        fontsize=9)
    return fig


def scaling_explorer(num_keys: int = 16):
    """Move ``d_k`` and the scale exponent; watch the scores spread and the softmax saturate."""
    import ipywidgets as w

    d_k = w.SelectionSlider(options=[2 ** i for i in range(1, 11)], value=64, description="d_k",
                            continuous_update=False)
    exponent = w.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="scale exp.",
                             continuous_update=False)
    box = live_figure(lambda d_k, scale_exponent: draw_scaling(d_k, scale_exponent, num_keys),
                      d_k=d_k, scale_exponent=exponent)
    return Explorer(box, "Scaling explorer (live in JupyterLab): move d_k and the exponent of the scale "
                         "d_k^-e (0: none, 0.5: 1/sqrt(d_k), 1: 1/d_k); watch the scores and the weights.")
