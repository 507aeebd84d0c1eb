"""Explorer for lesson 11: the rolling KV cache."""

from __future__ import annotations

from ..plot import new_figure
from ._core import Explorer, live_figure

__all__: list[str] = []
__all__ += ["draw_rolling_cache", "rolling_cache_explorer"]


def draw_rolling_cache(window: int, sinks: int = 0, seen: int = 12, length: int | None = None):
    """Which tokens a :class:`attnkit.RollingKVCache` holds after ``seen`` tokens, and in which slot (lesson 11).

    Top row: the stream of tokens ``0 .. length - 1``; kept sinks in orange, the kept
    window in blue, evicted tokens in grey, tokens not seen yet blank. Bottom row: the
    ``sinks + window`` slots of the cache, each labelled with the token it holds and the
    position that token is given for its rotary embedding. Returns a matplotlib ``Figure``.

    Examples
    --------
    >>> fig = draw_rolling_cache(window=4, sinks=1, seen=9)
    >>> len(fig.axes)
    2
    """
    from matplotlib.patches import Rectangle

    from .._validate import require_int
    from ..caches import RollingKVCache

    window = require_int(window, "window", minimum=1)
    sinks = require_int(sinks, "sinks", minimum=0)
    seen = require_int(seen, "seen", minimum=1)
    length = max(seen, sinks + window) if length is None else require_int(length, "length", minimum=seen)
    cache = RollingKVCache(1, 1, 1, 1, window=window, sinks=sinks)
    positions = cache.positions(seen).tolist()
    held = {}  # slot -> token
    for p in range(seen):
        held[cache.slot(p)] = p
    kept = set(held.values())
    fig = new_figure(max(6.0, 0.3 * length + 1.0), 2.0)
    ax_stream, ax_slots = fig.subplots(2, 1)
    for p in range(length):
        if p >= seen:
            color = "white"
        elif p in kept:
            color = "tab:orange" if p < sinks else "tab:blue"
        else:
            color = "lightgrey"
        ax_stream.add_patch(Rectangle((p, 0), 0.9, 0.9, facecolor=color, edgecolor="k", lw=0.5))
        ax_stream.text(p + 0.45, 0.45, str(p), ha="center", va="center", fontsize=7,
                       color="white" if color.startswith("tab") else "k")
    ax_stream.set_xlim(-0.2, length + 0.2)
    ax_stream.set_title(f"stream after {seen} tokens: sinks (orange), window (blue), evicted (grey)",
                        fontsize=9)
    slots = sinks + window
    for s in range(slots):
        token = held.get(s)
        color = "white" if token is None else ("tab:orange" if s < sinks else "tab:blue")
        ax_slots.add_patch(Rectangle((s, 0), 0.9, 0.9, facecolor=color, edgecolor="k", lw=0.5))
        label = "" if token is None else f"t{token}\np{positions[s]}"
        ax_slots.text(s + 0.45, 0.45, label, ha="center", va="center", fontsize=7,
                      color="white" if token is not None else "k")
    ax_slots.set_xlim(-0.2, length + 0.2)
    ax_slots.set_title(f"cache slots ({slots}): token t held, position p it is rotated at", fontsize=9)
    for ax in (ax_stream, ax_slots):
        ax.set_ylim(-0.1, 1.0)
        ax.set_aspect("equal")
        ax.axis("off")
    return fig


def rolling_cache_explorer(max_seen: int = 24):
    """Move the number of tokens seen, the window and the sinks; see what a rolling cache keeps."""
    import ipywidgets as w

    seen = w.IntSlider(value=12, min=1, max=max_seen, description="tokens seen", continuous_update=False)
    window = w.IntSlider(value=6, min=1, max=12, description="window", continuous_update=False)
    sinks = w.IntSlider(value=0, min=0, max=4, description="sinks", continuous_update=False)
    box = live_figure(lambda seen, window, sinks: draw_rolling_cache(window, sinks, seen, length=max_seen),
                      seen=seen, window=window, sinks=sinks)
    return Explorer(box, "Rolling-cache explorer (live in JupyterLab): move the tokens seen, the window "
                         "and the sinks; the kept tokens, their slots and their positions follow.")
