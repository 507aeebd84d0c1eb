"""Explorer for lesson 10: previous-token and induction patterns."""

from __future__ import annotations

import torch  # noqa: F401  (the doctests use it)

from ..plot import new_figure
from ._core import Explorer, live_figure
from .lesson05 import _check_layer_head_weights

__all__: list[str] = []
__all__ += ["draw_induction_pattern", "induction_explorer"]


def _check_induction_inputs(weights, tokens, start, length):
    _check_layer_head_weights(weights, tokens)
    T = weights.shape[-1]
    if isinstance(start, bool) or isinstance(length, bool) or not isinstance(start, int) \
            or not isinstance(length, int) or start < 0 or length < 1 or start + 2 * length > T:
        raise ValueError(f"start={start!r}, length={length!r} do not describe a repeated segment "
                         f"inside {T} tokens (need start >= 0, length >= 1, start + 2 * length <= {T})")


def draw_induction_pattern(weights, tokens, start: int, length: int, layer: int = 0, head: int = 0,
                           query: int | None = None):
    """One head's map on a repeated sequence, and one query's row with its two telltale keys (lesson 10).

    ``weights`` is ``(L, H, T, T)`` for one sequence whose segment ``tokens[start:start + length]``
    is repeated right after itself. Left: the head's map. Right: the row of ``query`` (default:
    the middle of the copy) as bars; the key one step back (``query - 1``, what a
    previous-token head looks at) is orange, and, for a query in the copy, the key after the
    earlier occurrence of its token (``query - length + 1``, what an induction head looks at)
    is green. Returns a matplotlib ``Figure``.

    Examples
    --------
    >>> T = 6
    >>> prev = torch.zeros(T, T)
    >>> prev[0, 0] = 1.0
    >>> prev[torch.arange(1, T), torch.arange(T - 1)] = 1.0
    >>> fig = draw_induction_pattern(prev[None, None], list("abcabc"), start=0, length=3, query=4)
    >>> fig.axes[-1].get_title()
    'query 4 (b): previous key 1.00, after-earlier key 0.00'
    """
    tokens = list(tokens)
    _check_induction_inputs(weights, tokens, start, length)
    n_layers, n_heads, T, _ = weights.shape
    if not 0 <= layer < n_layers:
        raise ValueError(f"layer {layer} is outside 0..{n_layers - 1}")
    if not 0 <= head < n_heads:
        raise ValueError(f"head {head} is outside 0..{n_heads - 1}")
    if query is None:
        query = start + length + length // 2
    if isinstance(query, bool) or not isinstance(query, int) or not 0 <= query < T:
        raise ValueError(f"query {query!r} is outside 0..{T - 1}")
    from matplotlib.patches import Rectangle

    from ..plot import plot_attention

    w = weights[layer, head].detach().float()  # (T, T)
    row = w[query]  # (T,)
    labels = [f"{i}:{t}" for i, t in enumerate(tokens)]
    fig = new_figure(11.0, 4.2)
    left, right = fig.subplots(1, 2, width_ratios=[1, 1.3])
    plot_attention(w, labels, labels, ax=left, annotate=False, colorbar=False,
                   title=f"layer {layer}, head {head}")
    left.add_patch(Rectangle((-0.5, query - 0.5), T, 1, fill=False, edgecolor="tab:red", linewidth=2))
    left.tick_params(labelsize=6)
    colors = ["tab:blue"] * T
    on_previous = row[query - 1].item() if query >= 1 else 0.0
    if query >= 1:
        colors[query - 1] = "tab:orange"
    in_copy = start + length <= query < start + 2 * length
    on_after = row[query - length + 1].item() if in_copy else 0.0
    if in_copy:
        colors[query - length + 1] = "tab:green"
    right.bar(range(T), row.numpy(), color=colors)
    right.axvspan(start - 0.5, start + length - 0.5, color="0.85", zorder=0)
    right.axvspan(start + length - 0.5, start + 2 * length - 0.5, color="0.93", zorder=0)
    right.set_xticks(range(T), labels, rotation=90, fontsize=6)
    right.set_ylim(0, 1)
    right.set_ylabel("attention weight")
    after = f"{on_after:.2f}" if in_copy else "n/a"
    right.set_title(f"query {query} ({tokens[query]}): previous key {on_previous:.2f}, "
                    f"after-earlier key {after}", fontsize=10)
    return fig


def induction_explorer(weights, tokens, start: int, length: int):
    """Pick a layer, a head and a query position; see the head's map and that query's row."""
    import ipywidgets as w

    tokens = list(tokens)
    _check_induction_inputs(weights, tokens, start, length)
    layer = w.Dropdown(options=list(range(weights.shape[0])), value=0, description="layer")
    head = w.Dropdown(options=list(range(weights.shape[1])), value=0, description="head")
    query = w.IntSlider(min=0, max=weights.shape[-1] - 1, value=start + length + length // 2,
                        description="query")
    box = live_figure(lambda layer, head, query: draw_induction_pattern(weights, tokens, start, length,
                                                                        layer, head, query),
                      layer=layer, head=head, query=query)
    return Explorer(box, f"Induction explorer (live in JupyterLab): pick one of {weights.shape[0]} layer(s), "
                         f"{weights.shape[1]} heads and a query; orange = the key one step back, green = the "
                         "key after the earlier occurrence of the query's token.")
