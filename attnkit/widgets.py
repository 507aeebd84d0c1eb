"""Explorer widgets. Each ``*_explorer`` returns an :class:`Explorer`; the drawing is a
plain function (``draw_*``) that returns a matplotlib ``Figure``, so a test can call
it directly and a notebook can show the same figure statically beside the widget.
"""

from __future__ import annotations

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


def live_figure(draw, **controls):
    """An ipywidgets box: the ``controls`` above, ``draw(**values) -> Figure`` below.

    The figure is redrawn whenever a control moves.
    """
    import ipywidgets as w
    from IPython.display import display

    output = w.Output()

    def redraw(**values):
        output.clear_output(wait=True)
        with output:
            display(draw(**values))

    w.interactive_output(redraw, controls)
    redraw(**{name: c.value for name, c in controls.items()})
    return w.VBox([w.HBox(list(controls.values())), output])


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
# --- lesson 05 widgets ----------------------------------------------------------------
# --- lesson 06 widgets ----------------------------------------------------------------
# --- lesson 07 widgets ----------------------------------------------------------------
# --- lesson 08 widgets ----------------------------------------------------------------
