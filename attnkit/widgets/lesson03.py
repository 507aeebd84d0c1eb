"""Explorer for lesson 03: pick the query, move the inverse temperature."""

from __future__ import annotations

import math

import torch  # noqa: F401  (the doctests use it)

from ..attention import attention
from ..plot import new_figure
from ._core import Explorer, _one_sequence, live_figure

__all__ = ["draw_attention_row", "attention_explorer"]


def draw_attention_row(tokens, query, key, query_index: int = 0, beta: float = 1.0,
                       query_labels=None, ax=None):
    """Bar chart of one query's attention weights over ``tokens``, at inverse temperature ``beta``.

    ``query`` is ``(Tq, D)``, ``key`` is ``(Tk, D)`` with one row per token. The weights are
    ``softmax(beta * query @ key.T / sqrt(D))``: ``beta`` (the inverse temperature) multiplies
    the usual scaled scores, so ``beta=1`` is ordinary attention (it is *not* the ``scale`` of
    :func:`attnkit.attention`, which replaces ``1 / sqrt(D)``). Draws on ``ax`` when given, else on
    a new figure; returns the ``Figure``.

    Examples
    --------
    >>> keys = torch.eye(3)
    >>> fig = draw_attention_row(["a", "b", "c"], keys, keys, query_index=1, beta=0.0)
    >>> fig.axes[0].get_title()
    "query 'b', β = 0.00: max 0.33, entropy 1.10 nats"
    """
    query, key = _one_sequence(query, "query"), _one_sequence(key, "key")
    query_labels = list(tokens) if query_labels is None else list(query_labels)
    if len(tokens) != key.shape[-2]:
        raise ValueError(f"{len(tokens)} tokens for {key.shape[-2]} keys")
    if len(query_labels) != query.shape[-2]:
        raise ValueError(f"{len(query_labels)} query labels for {query.shape[-2]} queries")
    if not 0 <= query_index < len(query_labels):
        raise ValueError(f"query_index {query_index} is outside 0..{len(query_labels) - 1}")
    d = query.shape[-1]
    _, weights = attention(query, key, key, scale=beta / math.sqrt(d))  # (Tq, Tk)
    row = weights[query_index]
    if ax is None:
        ax = new_figure(5.5, 3.0).add_subplot()
    bars = ax.bar(range(len(tokens)), row.numpy(), color="tab:blue")
    bars[int(row.argmax())].set_color("tab:orange")
    ax.set_xticks(range(len(tokens)), tokens)
    ax.set_ylim(0, 1)
    ax.set_ylabel("attention weight")
    entropy = -(row * row.clamp_min(1e-12).log()).sum().item()
    ax.set_title(f"query '{query_labels[query_index]}', β = {beta:.2f}: "
                 f"max {row.max().item():.2f}, entropy {entropy:.2f} nats", fontsize=9)
    return ax.figure


def attention_explorer(tokens, query, key, query_labels=None):
    """Pick a query and move the inverse temperature β; see its attention weights over ``tokens`` change."""
    import ipywidgets as w

    labels = list(tokens) if query_labels is None else list(query_labels)
    picker = w.Dropdown(options=[(t, i) for i, t in enumerate(labels)], value=0, description="query")
    slider = w.FloatLogSlider(value=1.0, base=10, min=-1, max=1, step=0.05, description="inv. temp. β",
                              continuous_update=False, style={"description_width": "initial"})
    box = live_figure(
        lambda query_index, beta: draw_attention_row(tokens, query, key, query_index, beta, labels),
        query_index=picker, beta=slider,
    )
    return Explorer(box, "Attention explorer (live in JupyterLab): pick a query and move the "
                         "inverse temperature β (it multiplies the scaled scores); the bars are "
                         "that query's attention weights.")
