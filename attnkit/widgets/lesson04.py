"""Explorer for lesson 04: a self-attention row."""

from __future__ import annotations

import torch

from ..plot import new_figure
from ._core import Explorer, live_figure

__all__: list[str] = []
__all__ += ["draw_self_attention_row", "self_attention_explorer"]


def _check_square_weights(weights, tokens, name="weights"):
    if not isinstance(weights, torch.Tensor) or weights.dim() != 2 or weights.shape[0] != weights.shape[1]:
        shape = tuple(weights.shape) if isinstance(weights, torch.Tensor) else type(weights).__name__
        raise ValueError(f"{name} must be a square (T, T) tensor of self-attention weights, got {shape}; "
                         f"for a batch or several heads, pick one map, e.g. {name}[0]")
    if len(tokens) != weights.shape[0]:
        raise ValueError(f"{len(tokens)} tokens for {name} of shape {tuple(weights.shape)}")


def draw_self_attention_row(weights, tokens, token_index: int = 0):
    """The self-attention map with one token's row boxed, and that row as bars (lesson 04).

    ``weights`` is ``(T, T)``: row ``i`` is how token ``i`` spreads its attention over the
    sentence. Returns a matplotlib ``Figure``.

    Examples
    --------
    >>> weights = torch.tensor([[1.0, 0.0, 0.0], [0.7, 0.3, 0.0], [0.2, 0.2, 0.6]])
    >>> fig = draw_self_attention_row(weights, ["a", "b", "c"], token_index=1)
    >>> fig.axes[1].get_title()
    "token 'b' attends most to 'a' (0.70)"
    """
    tokens = list(tokens)
    _check_square_weights(weights, tokens)
    if not 0 <= token_index < len(tokens):
        raise ValueError(f"token_index {token_index} is outside 0..{len(tokens) - 1}")
    from matplotlib.patches import Rectangle

    from ..plot import plot_attention

    weights = weights.detach().float()
    row = weights[token_index]
    fig = new_figure(10.0, 3.6)
    left, right = fig.subplots(1, 2, width_ratios=[1, 1.3])
    plot_attention(weights, tokens, tokens, ax=left, annotate=False, colorbar=False,
                   title="self-attention map")
    left.add_patch(Rectangle((-0.5, token_index - 0.5), len(tokens), 1, fill=False,
                             edgecolor="tab:red", linewidth=2))
    bars = right.bar(range(len(tokens)), row.numpy(), color="tab:blue")
    bars[int(row.argmax())].set_color("tab:orange")
    right.set_xticks(range(len(tokens)), tokens, rotation=45, ha="right")
    right.set_ylim(0, 1)
    right.set_ylabel("attention weight")
    right.set_title(f"token '{tokens[token_index]}' attends most to "
                    f"'{tokens[int(row.argmax())]}' ({row.max().item():.2f})", fontsize=10)
    return fig


def self_attention_explorer(weights, tokens):
    """Pick a token; see its row of the self-attention map (``weights``, ``(T, T)``)."""
    import ipywidgets as w

    tokens = list(tokens)
    _check_square_weights(weights, tokens)
    picker = w.Dropdown(options=[(f"{i}: {t}", i) for i, t in enumerate(tokens)], value=0,
                        description="token")
    box = live_figure(lambda token_index: draw_self_attention_row(weights, tokens, token_index),
                      token_index=picker)
    return Explorer(box, "Self-attention explorer (live in JupyterLab): pick a token; the box "
                         "marks its row of the map and the bars show where it looks.")
