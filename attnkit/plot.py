"""Figures for the lessons. Functions draw on an ``ax`` (or a new figure) and return it;
none calls ``plt.show()``, so notebooks, widgets and tests decide what to display.

Widgets draw on a fresh :func:`new_figure` (not registered with pyplot), so a
figure made in a callback is never shown twice or leaked.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

__all__ = ["plot_attention", "new_figure"]


def new_figure(width: float = 5.0, height: float = 4.0) -> Figure:
    """A matplotlib ``Figure`` that pyplot does not track (for widget callbacks)."""
    return Figure(figsize=(width, height), layout="constrained")


def _as_numpy(weights):
    if isinstance(weights, torch.Tensor):
        weights = weights.detach().float().cpu()
        if weights.dim() != 2:
            raise ValueError(f"weights must be 2-d (queries, keys), got shape {tuple(weights.shape)}")
        return weights.numpy()
    return weights


def plot_attention(weights, x_labels=None, y_labels=None, ax=None, title=None,
                   annotate: bool | None = None, cmap: str = "viridis", colorbar: bool = True):
    """Heatmap of attention weights: one row per query (``y_labels``), one column per key.

    Parameters
    ----------
    weights : tensor or array, shape ``(Tq, Tk)``
    x_labels, y_labels : list of str, optional
        Key and query tokens.
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made when omitted.
    annotate : bool, optional
        Write each weight in its cell (default: when the map is at most 12 x 12).

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> ax = plot_attention(torch.eye(3), ["a", "b", "c"], ["a", "b", "c"])
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('key', 'query')
    >>> plt.close("all")
    """
    w = _as_numpy(weights)
    n_rows, n_cols = w.shape
    if x_labels is not None and len(x_labels) != n_cols:
        raise ValueError(f"{len(x_labels)} x_labels for {n_cols} key columns")
    if y_labels is not None and len(y_labels) != n_rows:
        raise ValueError(f"{len(y_labels)} y_labels for {n_rows} query rows")
    if ax is None:
        _, ax = plt.subplots(figsize=(0.5 * n_cols + 2.5, 0.45 * n_rows + 1.5), layout="constrained")
    image = ax.imshow(w, cmap=cmap, vmin=0.0, vmax=max(1e-9, float(w.max())), aspect="auto")
    ax.set_xticks(range(n_cols), x_labels if x_labels is not None else range(n_cols),
                  rotation=45 if x_labels is not None else 0, ha="right" if x_labels is not None else "center")
    ax.set_yticks(range(n_rows), y_labels if y_labels is not None else range(n_rows))
    ax.set_xlabel("key")
    ax.set_ylabel("query")
    if title:
        ax.set_title(title)
    if annotate is None:
        annotate = n_rows <= 12 and n_cols <= 12
    if annotate:
        for i in range(n_rows):
            for j in range(n_cols):
                ax.text(j, i, f"{w[i, j]:.2f}", ha="center", va="center", fontsize=8,
                        color="black" if w[i, j] > 0.6 * w.max() else "white")
    if colorbar:
        ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return ax


# --- lesson 01 figures ----------------------------------------------------------------
# --- lesson 02 figures ----------------------------------------------------------------
# --- lesson 03 figures ----------------------------------------------------------------
# --- lesson 04 figures ----------------------------------------------------------------
# --- lesson 05 figures ----------------------------------------------------------------
# --- lesson 06 figures ----------------------------------------------------------------
# --- lesson 07 figures ----------------------------------------------------------------
# --- lesson 08 figures ----------------------------------------------------------------
