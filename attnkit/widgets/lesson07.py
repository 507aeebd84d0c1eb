"""Explorer for lesson 07: the encoder's attention."""

from __future__ import annotations

import torch

from ..plot import new_figure
from ._core import Explorer, live_figure

__all__: list[str] = []
__all__ += ["draw_encoder_attention", "encoder_attention_explorer"]


def _check_encoder_weights(weights, key_labels, query_labels):
    if not isinstance(weights, (list, tuple)) or not weights:
        raise TypeError(f"weights must be a non-empty list of (B, H, T, T) tensors (one per layer), "
                        f"got {type(weights).__name__}")
    shapes = {tuple(w.shape) if isinstance(w, torch.Tensor) else None for w in weights}
    shape = next(iter(shapes))
    if len(shapes) != 1 or shape is None or len(shape) != 4:
        raise ValueError(f"every layer's weights must be one (B, H, T, T) tensor shape, got {shapes}")
    B, _, Tq, Tk = shape
    if len(key_labels) != B or len(query_labels) != B:
        raise ValueError(f"need one list of labels per example: {B} examples, got "
                         f"{len(key_labels)} key label lists and {len(query_labels)} query label lists")
    for b in range(B):
        if len(key_labels[b]) != Tk or len(query_labels[b]) != Tq:
            raise ValueError(f"example {b}: {len(key_labels[b])} key labels and {len(query_labels[b])} "
                             f"query labels for weights of {Tq} queries x {Tk} keys")
    return shape


def draw_encoder_attention(weights, key_labels, query_labels, layer: int = 0, head: int = 0,
                           example: int = 0):
    """One head's attention map in a stacked encoder, for one example (lesson 07).

    Parameters
    ----------
    weights : list of tensors ``(B, H, T, T)``
        One per layer, e.g. ``model.attn_weights`` of :class:`attnkit.TinyTransformer`.
    key_labels, query_labels : list of lists of str
        Per example: the input tokens (keys) and what each query position outputs.
    layer, head, example : int
        Which map to draw. ``head=-1`` draws the mean over the heads.

    Returns a matplotlib ``Figure`` titled with the map's mean entropy (nats).

    Examples
    --------
    >>> w = [torch.softmax(torch.randn(1, 2, 3, 3), -1) for _ in range(2)]
    >>> fig = draw_encoder_attention(w, [["a", "b", "c"]], [["x", "y", "z"]], layer=1, head=-1)
    >>> fig.axes[0].get_title().startswith("layer 1, mean of 2 heads")
    True
    """
    from ..plot import plot_attention

    B, H, _, _ = _check_encoder_weights(weights, key_labels, query_labels)
    if not 0 <= layer < len(weights):
        raise ValueError(f"layer {layer} is outside 0..{len(weights) - 1}")
    if not -1 <= head < H:
        raise ValueError(f"head {head} is outside 0..{H - 1} (or -1 for the mean over heads)")
    if not 0 <= example < B:
        raise ValueError(f"example {example} is outside 0..{B - 1}")
    w = weights[layer][example].detach().float()  # (H, T, T)
    w = w.mean(0) if head == -1 else w[head]  # (T, T)
    entropy = -torch.xlogy(w, w).sum(-1).mean().item()
    which = f"mean of {H} heads" if head == -1 else f"head {head}"
    fig = new_figure(4.8, 4.2)
    plot_attention(w, list(key_labels[example]), list(query_labels[example]), ax=fig.add_subplot(),
                   annotate=False, title=f"layer {layer}, {which}: entropy {entropy:.2f} nats")
    fig.axes[0].set_xlabel("key (input token)")
    fig.axes[0].set_ylabel("query (its output)")
    return fig


def encoder_attention_explorer(weights, key_labels, query_labels):
    """Pick an example, a layer and a head of a trained encoder; see that attention map."""
    import ipywidgets as w

    B, H, _, _ = _check_encoder_weights(weights, key_labels, query_labels)
    example = w.Dropdown(options=list(range(B)), value=0, description="example")
    layer = w.Dropdown(options=list(range(len(weights))), value=0, description="layer")
    head = w.Dropdown(options=[("mean", -1)] + [(str(h), h) for h in range(H)], value=-1, description="head")
    box = live_figure(
        lambda example, layer, head: draw_encoder_attention(weights, key_labels, query_labels, layer, head,
                                                            example),
        example=example, layer=layer, head=head,
    )
    return Explorer(box, f"Encoder attention explorer (live in JupyterLab): pick one of {B} examples, "
                         f"{len(weights)} layers and {H} heads (or their mean).")
