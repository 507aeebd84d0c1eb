"""Explorer for lesson 05: one head of a trained model."""

from __future__ import annotations

import torch

from ..plot import new_figure
from ._core import Explorer, live_figure

__all__: list[str] = []
__all__ += ["draw_head_attention", "head_explorer"]


def _check_layer_head_weights(weights, tokens):
    if not isinstance(weights, torch.Tensor) or weights.dim() != 4 or weights.shape[-1] != weights.shape[-2]:
        shape = tuple(weights.shape) if isinstance(weights, torch.Tensor) else type(weights).__name__
        raise ValueError(f"weights must be (layers, heads, T, T) self-attention weights of one example, "
                         f"got {shape}; for a (B, L, H, T, T) batch, pick one example, e.g. weights[0]")
    if len(tokens) != weights.shape[-1]:
        raise ValueError(f"{len(tokens)} tokens for weights of shape {tuple(weights.shape)}")


def draw_head_attention(weights, tokens, layer: int = 0, head: int = 0):
    """One head's attention map, titled with how much it looks back one step and at position 0.

    ``weights`` is ``(L, H, T, T)``: one example's weights for every layer and head (for
    instance ``model.attn_weights[0]`` of :class:`attnkit.AttentionOnlyModel`). The title
    gives the head's mean weight on the **previous** position and on **position 0**, from
    query 2 on (before that the two coincide). Returns a matplotlib ``Figure``.

    Examples
    --------
    >>> previous = torch.zeros(4, 4)
    >>> previous[0, 0] = 1.0
    >>> previous[torch.arange(1, 4), torch.arange(0, 3)] = 1.0  # query t looks at key t - 1
    >>> first = torch.zeros(4, 4)
    >>> first[:, 0] = 1.0                                          # every query looks at key 0
    >>> weights = torch.stack([previous, first])[None]             # (L, H, T, T) = (1, 2, 4, 4)
    >>> fig = draw_head_attention(weights, ["a", "b", "c", "d"], layer=0, head=1)
    >>> fig.axes[0].get_title()
    'layer 0, head 1: previous 0.00, first 1.00'
    """
    tokens = list(tokens)
    _check_layer_head_weights(weights, tokens)
    n_layers, n_heads, T, _ = weights.shape
    if not 0 <= layer < n_layers:
        raise ValueError(f"layer {layer} is outside 0..{n_layers - 1}")
    if not 0 <= head < n_heads:
        raise ValueError(f"head {head} is outside 0..{n_heads - 1}")
    from ..plot import plot_attention

    w = weights[layer, head].detach().float()  # (T, T)
    later = torch.arange(2, T)
    on_previous = w[later, later - 1].mean().item() if T > 2 else float("nan")
    on_first = w[later, 0].mean().item() if T > 2 else float("nan")
    fig = new_figure(5.0, 4.2)
    ax = fig.add_subplot()
    plot_attention(w, tokens, tokens, ax=ax, annotate=False,
                   title=f"layer {layer}, head {head}: previous {on_previous:.2f}, first {on_first:.2f}")
    return fig


def head_explorer(weights, tokens):
    """Pick a layer and a head; see its attention map over ``tokens`` (``weights``: ``(L, H, T, T)``)."""
    import ipywidgets as w

    tokens = list(tokens)
    _check_layer_head_weights(weights, tokens)
    layer = w.Dropdown(options=list(range(weights.shape[0])), value=0, description="layer")
    head = w.Dropdown(options=list(range(weights.shape[1])), value=0, description="head")
    box = live_figure(lambda layer, head: draw_head_attention(weights, tokens, layer, head),
                      layer=layer, head=head)
    return Explorer(box, f"Head explorer (live in JupyterLab): pick one of {weights.shape[0]} layer(s) "
                         f"and {weights.shape[1]} heads; the map is that head's attention.")
