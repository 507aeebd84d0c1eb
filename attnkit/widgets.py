"""Explorer widgets. Each ``*_explorer`` returns an :class:`Explorer`; the drawing is a
plain function (``draw_*``) that returns a matplotlib ``Figure``, so a test can call
it directly and a notebook can show the same figure statically beside the widget.
"""

from __future__ import annotations

import io
import math

import torch

from .attention import attention
from .plot import new_figure

__all__ = ["Explorer"]


class Explorer:
    """A live widget with a plain-text stand-in.

    JupyterLab shows ``widget``; GitHub, nbviewer, a PDF and nbval see ``text``
    (widget reprs are long and change between ipywidgets versions).
    """

    def __init__(self, widget, text: str):
        self.widget, self.text = widget, text

    def __repr__(self) -> str:
        return self.text

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = self.widget._repr_mimebundle_()
        bundle["text/plain"] = self.text
        return bundle


def figure_png(fig, dpi: int = 90) -> bytes:
    """PNG bytes of a matplotlib figure."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def live_figure(draw, **controls):
    """An ipywidgets box: the ``controls`` above, the figure ``draw(**values)`` below.

    The figure is re-rendered into an ``ipywidgets.Image`` whenever a control
    moves (an image, not an ``Output``, so nothing is printed into the notebook);
    the box's ``last_figure`` attribute holds the figure drawn last.
    """
    import ipywidgets as w

    image = w.Image(format="png")
    box = w.VBox([w.HBox(list(controls.values())), image])

    def redraw(_change=None):
        box.last_figure = draw(**{name: c.value for name, c in controls.items()})
        image.value = figure_png(box.last_figure)

    for control in controls.values():
        control.observe(redraw, names="value")
    redraw()
    return box


# --- lesson 03: pick the query, move the scale -------------------------------------------

def draw_attention_row(tokens, query, key, query_index: int = 0, scale: float = 1.0,
                       query_labels=None, ax=None):
    """Bar chart of one query's attention weights over ``tokens``.

    ``query`` is ``(Tq, D)``, ``key`` is ``(Tk, D)`` with one row per token; ``scale``
    multiplies the usual ``1 / sqrt(D)``. Draws on ``ax`` when given, else on a new
    figure; returns the ``Figure``.
    """
    query_labels = list(tokens) if query_labels is None else list(query_labels)
    if len(tokens) != key.shape[-2]:
        raise ValueError(f"{len(tokens)} tokens for {key.shape[-2]} keys")
    if len(query_labels) != query.shape[-2]:
        raise ValueError(f"{len(query_labels)} query labels for {query.shape[-2]} queries")
    if not 0 <= query_index < len(query_labels):
        raise ValueError(f"query_index {query_index} is outside 0..{len(query_labels) - 1}")
    d = query.shape[-1]
    _, weights = attention(query, key, key, scale=scale / math.sqrt(d))  # (Tq, Tk)
    row = weights[query_index]
    if ax is None:
        ax = new_figure(5.5, 3.0).add_subplot()
    bars = ax.bar(range(len(tokens)), row.numpy(), color="tab:blue")
    bars[int(row.argmax())].set_color("tab:orange")
    ax.set_xticks(range(len(tokens)), tokens)
    ax.set_ylim(0, 1)
    ax.set_ylabel("attention weight")
    entropy = -(row * row.clamp_min(1e-12).log()).sum().item()
    ax.set_title(f"query '{query_labels[query_index]}', scale x{scale:.2f}: "
                 f"max {row.max().item():.2f}, entropy {entropy:.2f} nats", fontsize=9)
    return ax.figure


def attention_explorer(tokens, query, key, query_labels=None):
    """Pick a query and move the scale; see its attention weights over ``tokens`` change."""
    import ipywidgets as w

    labels = list(tokens) if query_labels is None else list(query_labels)
    picker = w.Dropdown(options=[(t, i) for i, t in enumerate(labels)], value=0, description="query")
    slider = w.FloatLogSlider(value=1.0, base=10, min=-1, max=1, step=0.05, description="scale x",
                              continuous_update=False)
    box = live_figure(
        lambda query_index, scale: draw_attention_row(tokens, query, key, query_index, scale, labels),
        query_index=picker, scale=slider,
    )
    return Explorer(box, "Attention explorer (live in JupyterLab): pick a query and move the "
                         "scale; the bars are that query's attention weights.")

# --- lesson 01 widgets ----------------------------------------------------------------
# --- lesson 02 widgets ----------------------------------------------------------------
# --- lesson 04 widgets ----------------------------------------------------------------

__all__ += ["draw_self_attention_row", "self_attention_explorer"]


def _check_square_weights(weights, tokens, name="weights"):
    if not isinstance(weights, torch.Tensor) or weights.dim() != 2 or weights.shape[0] != weights.shape[1]:
        shape = tuple(weights.shape) if isinstance(weights, torch.Tensor) else type(weights).__name__
        raise ValueError(f"{name} must be a square (T, T) tensor of self-attention weights, got {shape}")
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

    from .plot import plot_attention

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

# --- lesson 05 widgets ----------------------------------------------------------------

__all__ += ["draw_head_attention", "head_explorer"]


def _check_layer_head_weights(weights, tokens):
    if not isinstance(weights, torch.Tensor) or weights.dim() != 4 or weights.shape[-1] != weights.shape[-2]:
        shape = tuple(weights.shape) if isinstance(weights, torch.Tensor) else type(weights).__name__
        raise ValueError(f"weights must be (layers, heads, T, T) self-attention weights, got {shape}")
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
    from .plot import plot_attention

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

# --- lesson 06 widgets ----------------------------------------------------------------
# --- lesson 07 widgets ----------------------------------------------------------------
# --- lesson 08 widgets ----------------------------------------------------------------

__all__ += ["draw_window_tradeoff", "window_explorer"]


def draw_window_tradeoff(length: int, window: int, windows, accuracies, chance: float | None = None):
    """The local window mask of width ``window`` beside accuracy against kept fraction (lesson 08).

    Left: the ``(length, length)`` mask of :func:`attnkit.local_window_mask` (a query may
    attend to keys with ``|i - j| <= window``). Right: the measured ``accuracies`` of a model
    evaluated with each of ``windows``, against the fraction of the score matrix each keeps,
    with the chosen ``window`` circled. Returns a matplotlib ``Figure``.

    Examples
    --------
    >>> fig = draw_window_tradeoff(8, 2, windows=[0, 2, 7], accuracies=[0.2, 0.5, 1.0])
    >>> len(fig.axes)
    2
    """
    from ._validate import require_int
    from .masks import local_window_mask
    from .plot import plot_quality_vs_cost

    length = require_int(length, "length", minimum=1)
    window = require_int(window, "window")
    windows = [require_int(w, f"windows[{i}]") for i, w in enumerate(windows)]
    accuracies = [float(a) for a in accuracies]
    if len(windows) != len(accuracies):
        raise ValueError(f"{len(windows)} windows but {len(accuracies)} accuracies")
    if window not in windows:
        raise ValueError(f"window {window} is not one of the measured windows {windows}")
    kept = [local_window_mask(length, w).float().mean().item() for w in windows]
    i = windows.index(window)
    mask = local_window_mask(length, window)  # (T, T)
    fig = new_figure(9.0, 3.8)
    ax_mask, ax_curve = fig.subplots(1, 2, width_ratios=[1, 1.3])
    ax_mask.imshow(mask.numpy(), cmap="Blues", vmin=0, vmax=1.3)
    ax_mask.set_xlabel("key j")
    ax_mask.set_ylabel("query i")
    ax_mask.set_title(f"window {window}: |i - j| <= {window}", fontsize=10)
    plot_quality_vs_cost({"local window": (kept, accuracies)}, ax=ax_curve, chance=chance,
                         highlight=(kept[i], accuracies[i]))
    ax_curve.set_title(f"keeps {kept[i]:.0%} of the scores, accuracy {accuracies[i]:.2f}", fontsize=10)
    return fig


def window_explorer(length: int, windows, accuracies, chance: float | None = None):
    """Slide the local window width; see the mask, the kept fraction and the measured accuracy."""
    import ipywidgets as w

    windows = list(windows)
    slider = w.SelectionSlider(options=windows, value=windows[len(windows) // 2], description="window",
                               continuous_update=False)
    box = live_figure(
        lambda window: draw_window_tradeoff(length, window, windows, accuracies, chance), window=slider
    )
    return Explorer(box, "Window explorer (live in JupyterLab): slide the window width; the mask, "
                         "the fraction of scores kept and the measured accuracy follow.")
