"""Explorer for lesson 08: the window trade-off."""

from __future__ import annotations

from ..plot import new_figure
from ._core import Explorer, live_figure

__all__: list[str] = []
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
    from .._validate import require_int
    from ..masks import local_window_mask
    from ..plot import plot_quality_vs_cost

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
    ticks = range(0, length, max(1, length // 8))
    ax_mask.set_xticks(ticks)
    ax_mask.set_yticks(ticks)
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
