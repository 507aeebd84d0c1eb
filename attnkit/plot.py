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


def plot_token_embeddings(embeddings, tokens, ax=None, title=None):
    """Heatmap of one sentence's embeddings: a row per token, a column per feature (lesson 01).

    ``embeddings`` is ``(T, D)`` and ``tokens`` holds the ``T`` token strings.

    Examples
    --------
    >>> ax = plot_token_embeddings(torch.randn(3, 4), ["the", "dog", "bites"])
    >>> ax.get_xlabel(), [t.get_text() for t in ax.get_yticklabels()]
    ('embedding feature', ['the', 'dog', 'bites'])
    >>> plt.close("all")
    """
    e = _as_numpy(embeddings)
    if len(tokens) != e.shape[0]:
        raise ValueError(f"{len(tokens)} tokens for {e.shape[0]} embedding rows")
    if ax is None:
        _, ax = plt.subplots(figsize=(0.3 * e.shape[1] + 2.5, 0.4 * e.shape[0] + 1.2), layout="constrained")
    limit = max(1e-9, float(abs(e).max()))
    image = ax.imshow(e, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    ax.set_yticks(range(len(tokens)), tokens)
    ax.set_xlabel("embedding feature")
    ax.set_ylabel("token")
    if title:
        ax.set_title(title)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return ax


__all__ += ["plot_token_embeddings"]


# --- lesson 02 figures ----------------------------------------------------------------


def plot_accuracy_by_length(lengths, accuracies: dict, train_range=None, ax=None, title=None):
    """Per-token accuracy against sequence length, one colour per model (lesson 02).

    Parameters
    ----------
    lengths : sequence of int
        The sequence lengths on the x axis.
    accuracies : dict
        ``{model name: values}``. ``values`` is one run (one accuracy per length), drawn as a
        line, or several runs (a list of such lists, e.g. one per seed), drawn as their mean
        line and a shaded min–max band; the legend then says how many runs.
    train_range : (lo, hi), optional
        Shades the lengths seen in training.
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made when omitted.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> ax = plot_accuracy_by_length([5, 10], {"a": [1.0, 0.5]}, train_range=(5, 8))
    >>> ax.get_ylabel()
    'per-token accuracy'
    >>> ax = plot_accuracy_by_length([5, 10], {"b": [[1.0, 0.5], [0.9, 0.7], [1.0, 0.6]]})
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['b (mean, min–max of 3 runs)']
    >>> plt.close("all")
    """
    lengths = list(lengths)
    if not isinstance(accuracies, dict) or not accuracies:
        raise ValueError(f"accuracies must be a non-empty dict {{name: values}}, got {type(accuracies).__name__}")
    series = {}
    for name, values in accuracies.items():
        runs = list(values)
        if runs and isinstance(runs[0], (list, tuple)):
            if any(not isinstance(run, (list, tuple)) for run in runs):
                raise ValueError(f"{name!r} mixes runs (lists) and single accuracies")
        else:
            runs = [runs]
        for r, run in enumerate(runs):
            if len(run) != len(lengths):
                which = f"run {r} of {name!r}" if len(runs) > 1 else repr(name)
                raise ValueError(f"{which} has {len(run)} accuracies for {len(lengths)} lengths")
        series[name] = torch.tensor([[float(v) for v in run] for run in runs])  # (runs, lengths)
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.5), layout="constrained")
    if train_range is not None:
        ax.axvspan(train_range[0], train_range[1], color="0.9", label="lengths seen in training")
    for i, (name, runs) in enumerate(series.items()):
        color = f"C{i}"
        if len(runs) == 1:
            ax.plot(lengths, runs[0].numpy(), marker="o", color=color, label=name)
            continue
        ax.fill_between(lengths, runs.min(0).values.numpy(), runs.max(0).values.numpy(),
                        color=color, alpha=0.25, lw=0)
        ax.plot(lengths, runs.mean(0).numpy(), marker="o", color=color,
                label=f"{name} (mean, min–max of {len(runs)} runs)")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("sequence length")
    ax.set_ylabel("per-token accuracy")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return ax


__all__ += ["plot_accuracy_by_length"]


# --- lesson 03 figures ----------------------------------------------------------------
# --- lesson 04 figures ----------------------------------------------------------------

__all__ += ["plot_positional_encodings"]


def plot_positional_encodings(pe, ax=None, title=None):
    """Heatmap of a positional-encoding table: one row per position, one column per dimension (lesson 04).

    Parameters
    ----------
    pe : tensor, shape ``(T, D)``
        For instance :func:`attnkit.sinusoidal_positions`.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> from attnkit.positional import sinusoidal_positions
    >>> ax = plot_positional_encodings(sinusoidal_positions(16, 8))
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('dimension', 'position')
    >>> plt.close("all")
    """
    if not isinstance(pe, torch.Tensor) or pe.dim() != 2:
        raise ValueError(f"pe must be a 2-d tensor (positions, dimensions), got "
                         f"{tuple(pe.shape) if isinstance(pe, torch.Tensor) else type(pe).__name__}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
    image = ax.imshow(pe.detach().float().numpy(), cmap="RdBu", vmin=-1, vmax=1, aspect="auto")
    ax.set_xlabel("dimension")
    ax.set_ylabel("position")
    ax.set_title(title or f"sinusoidal positions ({pe.shape[0]} x {pe.shape[1]})")
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return ax

# --- lesson 05 figures ----------------------------------------------------------------

__all__ += ["plot_heads"]


def plot_heads(weights, labels=None, axes=None, titles=None):
    """One attention heatmap per head, side by side (lesson 05).

    Parameters
    ----------
    weights : tensor, shape ``(H, Tq, Tk)``
        One head's weights per slice (for instance one example, one layer).
    labels : list of str, optional
        Token labels, used for both axes when ``Tq == Tk``.
    axes : sequence of matplotlib Axes, optional
        ``H`` axes to draw on; a new figure is made when omitted.
    titles : list of str, optional
        One title per head (default ``"head h"``).

    Returns
    -------
    list of matplotlib.axes.Axes

    Examples
    --------
    >>> axes = plot_heads(torch.softmax(torch.randn(2, 4, 4), -1))
    >>> [ax.get_title() for ax in axes]
    ['head 0', 'head 1']
    >>> plt.close("all")
    """
    if not isinstance(weights, torch.Tensor) or weights.dim() != 3:
        raise ValueError(f"weights must be a 3-d tensor (heads, queries, keys), got "
                         f"{tuple(weights.shape) if isinstance(weights, torch.Tensor) else type(weights).__name__}")
    n_heads, n_rows, n_cols = weights.shape
    if titles is not None and len(titles) != n_heads:
        raise ValueError(f"{len(titles)} titles for {n_heads} heads")
    if axes is None:
        _, axes = plt.subplots(1, n_heads, figsize=(3.2 * n_heads + 0.5, 3.2), layout="constrained",
                               squeeze=False)
        axes = list(axes[0])
    axes = list(axes)
    if len(axes) != n_heads:
        raise ValueError(f"{len(axes)} axes for {n_heads} heads")
    y_labels = labels if labels is not None and len(labels) == n_rows else None
    x_labels = labels if labels is not None and len(labels) == n_cols else None
    for h, ax in enumerate(axes):
        plot_attention(weights[h], x_labels, y_labels, ax=ax, annotate=False, colorbar=False,
                       title=titles[h] if titles else f"head {h}")
    return axes

# --- lesson 06 figures ----------------------------------------------------------------

__all__ += ["plot_loss_curves"]


def plot_loss_curves(curves: dict, ax=None, title=None, log: bool = True, smooth: int = 1):
    """Training-loss curves: one colour per label, one thin line per run (seed).

    Parameters
    ----------
    curves : dict
        ``{label: losses}`` where ``losses`` is one run (a list of floats) or several runs
        (a list of lists); the runs of a label share its colour.
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made when omitted.
    log : bool
        Log-scale loss axis (a loss that falls from 2 to 0.01 is readable only so).
    smooth : int
        Moving-average window in steps (1 = raw).

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> ax = plot_loss_curves({"scaled": [[2.0, 1.0, 0.5], [2.0, 0.9, 0.4]], "unscaled": [2.0, 1.8, 1.7]})
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['scaled', 'unscaled']
    >>> plt.close("all")
    """
    if not isinstance(curves, dict) or not curves:
        raise ValueError(f"curves must be a non-empty dict {{label: losses}}, got {type(curves).__name__}")
    if isinstance(smooth, bool) or not isinstance(smooth, int) or smooth < 1:
        raise ValueError(f"smooth must be a positive integer, got {smooth!r}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
    for i, (label, runs) in enumerate(curves.items()):
        runs = list(runs)
        if not runs:
            raise ValueError(f"curves[{label!r}] is empty")
        if not isinstance(runs[0], (list, tuple)):
            runs = [runs]
        color = f"C{i}"
        for r, run in enumerate(runs):
            values = torch.as_tensor([float(v) for v in run])
            if smooth > 1 and len(values) >= smooth:
                values = values.unfold(0, smooth, 1).mean(-1)
            steps = torch.arange(len(values)) + (smooth if len(values) < len(run) else 1)
            ax.plot(steps.numpy(), values.numpy(), color=color, lw=1.2, alpha=0.85,
                    label=label if r == 0 else None)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("loss")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return ax

# --- lesson 07 figures ----------------------------------------------------------------
# --- lesson 08 figures ----------------------------------------------------------------

__all__ += ["plot_cost_curves", "plot_quality_vs_cost"]


def plot_cost_curves(lengths, series, ax=None, ylabel="seconds per call", slope: float | None = 2.0,
                     title=None):
    """Cost against sequence length on log-log axes, with a dashed ``T**slope`` guide (lesson 08).

    On log-log axes a cost that grows as ``T**p`` is a straight line of slope ``p``,
    so the guide shows at a glance which curves grow quadratically.

    Parameters
    ----------
    lengths : sequence of int
        The sequence lengths ``T`` (x axis).
    series : dict of str to sequence of float
        One curve per name, one value per length (seconds, bytes, FLOPs...).
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made when omitted.
    slope : float or None
        Exponent of the dashed guide line, anchored at the first curve's last point;
        ``None`` draws no guide.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> ax = plot_cost_curves([128, 256, 512], {"naive": [1.0, 4.0, 16.0]})
    >>> ax.get_xscale(), ax.get_yscale(), len(ax.lines)
    ('log', 'log', 2)
    >>> plt.close("all")
    """
    lengths = [float(t) for t in lengths]
    if len(lengths) < 2 or min(lengths) <= 0:
        raise ValueError(f"lengths must hold at least two positive values, got {lengths}")
    if not isinstance(series, dict) or not series:
        raise TypeError(f"series must be a non-empty dict of name -> values, got {type(series).__name__}")
    for name, values in series.items():
        if len(values) != len(lengths):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(lengths)} lengths")
        if min(float(v) for v in values) <= 0:
            raise ValueError(f"series {name!r} must be positive to be drawn on log axes")
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 4.0), layout="constrained")
    for name, values in series.items():
        ax.plot(lengths, [float(v) for v in values], "o-", label=name)
    if slope is not None:
        first = [float(v) for v in next(iter(series.values()))]
        guide = [first[-1] * (t / lengths[-1]) ** slope for t in lengths]
        ax.plot(lengths, guide, "k--", lw=1, alpha=0.6, label=f"∝ T^{slope:g}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("sequence length T")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    ax.grid(True, which="major", alpha=0.3)
    if title:
        ax.set_title(title)
    return ax


def plot_quality_vs_cost(curves, ax=None, chance: float | None = None, highlight=None, title=None):
    """Accuracy against the fraction of the score matrix kept, one curve per sparsity pattern (lesson 08).

    Parameters
    ----------
    curves : dict of str to (kept_fractions, accuracies)
        Each pattern's points, e.g. ``{"local window": ([0.1, 0.5, 1.0], [0.2, 0.6, 1.0])}``.
    ax : matplotlib Axes, optional
    chance : float, optional
        Accuracy of guessing, drawn as a dotted line.
    highlight : (float, float), optional
        One ``(kept_fraction, accuracy)`` point to circle (the widget's current choice).

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> ax = plot_quality_vs_cost({"window": ([0.25, 1.0], [0.4, 1.0])}, chance=0.1)
    >>> ax.get_xlabel()
    'fraction of the score matrix kept'
    >>> plt.close("all")
    """
    if not isinstance(curves, dict) or not curves:
        raise TypeError(f"curves must be a non-empty dict of name -> (kept, accuracy), got "
                        f"{type(curves).__name__}")
    for name, pair in curves.items():
        if len(pair) != 2 or len(pair[0]) != len(pair[1]):
            raise ValueError(f"curve {name!r} must be (kept_fractions, accuracies) of equal length")
    if ax is None:
        _, ax = plt.subplots(figsize=(5.0, 3.8), layout="constrained")
    for (name, (kept, acc)), marker in zip(curves.items(), "osD^v"):
        order = sorted(range(len(kept)), key=lambda i: float(kept[i]))
        ax.plot([float(kept[i]) for i in order], [float(acc[i]) for i in order], marker + "-", label=name)
    if chance is not None:
        ax.axhline(float(chance), color="gray", ls=":", lw=1, label="chance")
    if highlight is not None:
        ax.plot([float(highlight[0])], [float(highlight[1])], "o", ms=14, mfc="none", mec="red", mew=2)
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("fraction of the score matrix kept")
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(True, alpha=0.3)
    if title:
        ax.set_title(title)
    return ax


# --- lesson 09 figures ----------------------------------------------------------------

__all__ += ["plot_accuracy_by_position"]


def plot_accuracy_by_position(curves: dict, train_len: int, ax=None, chance: float | None = None,
                              title=None):
    """Accuracy against position, one line per model with its seeds' spread (lesson 09).

    Parameters
    ----------
    curves : dict of name -> tensor ``(S, T)``
        Per seed (rows) the accuracy at each position (columns); NaN where there is no target.
        The line is the mean over seeds, the band runs from the lowest to the highest seed.
    train_len : int
        Length of the training sequences: positions ``0 .. train_len - 1`` are shaded.
    chance : float, optional
        Drawn as a dotted line.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> acc = torch.tensor([[float("nan"), 1.0, 1.0, 0.5], [float("nan"), 1.0, 0.8, 0.3]])
    >>> ax = plot_accuracy_by_position({"rope": acc}, train_len=2, chance=0.1)
    >>> ax.get_xlabel()
    'position t (= the last position of a sequence of length t + 1)'
    >>> plt.close("all")
    """
    if not isinstance(curves, dict) or not curves:
        raise TypeError("curves must be a non-empty dict of name -> (seeds, positions) tensor")
    for name, acc in curves.items():
        if not isinstance(acc, torch.Tensor) or acc.dim() != 2:
            raise ValueError(f"curves[{name!r}] must be a (seeds, positions) tensor, got "
                             f"{tuple(acc.shape) if isinstance(acc, torch.Tensor) else type(acc).__name__}")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.8), layout="constrained")
    ax.axvspan(-0.5, train_len - 0.5, color="0.9", label=f"positions seen in training (< {train_len})")
    for name, acc in curves.items():
        acc = acc.detach().float()
        t = torch.arange(acc.shape[1])
        keep = ~acc.isnan().all(0)  # positions with a target
        line, = ax.plot(t[keep].numpy(), acc[:, keep].mean(0).numpy(), label=name)
        ax.fill_between(t[keep].numpy(), acc[:, keep].amin(0).numpy(), acc[:, keep].amax(0).numpy(),
                        color=line.get_color(), alpha=0.2, linewidth=0)
    if chance is not None:
        ax.axhline(chance, color="black", linestyle=":", linewidth=1, label="chance")
    ax.set_ylim(-0.02, 1.05)
    ax.set_xlabel("position t (= the last position of a sequence of length t + 1)")
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    if title:
        ax.set_title(title)
    return ax


# --- lesson 10 figures ----------------------------------------------------------------

__all__ += ["plot_patch_attention"]


def plot_patch_attention(image, weights, patch_size: int, ax=None, title=None, alpha: float = 0.45,
                         highlight=None):
    """An image with one attention weight per patch laid over it as a heatmap (lesson 10).

    Parameters
    ----------
    image : tensor, shape ``(S, S)`` or ``(1, S, S)``
        A one-channel image.
    weights : tensor, shape ``(N,)``
        One weight per patch, patches numbered row by row (as :func:`attnkit.image_to_patches`).
    patch_size : int
        ``N`` must equal ``(S / patch_size) ** 2``.
    highlight : bool tensor, shape ``(N,)``, optional
        Patches to outline (for instance the ones that hold the object).

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> ax = plot_patch_attention(torch.zeros(4, 4), torch.tensor([0.7, 0.1, 0.1, 0.1]), 2)
    >>> len(ax.images)  # the image and the heatmap over it
    2
    >>> ax = plot_patch_attention(torch.zeros(4, 4), torch.ones(4) / 4, 2, highlight=torch.tensor([1, 0, 0, 0]))
    >>> len(ax.patches)  # one outline
    1
    >>> plt.close("all")
    """
    image = torch.as_tensor(image).detach().float()
    if image.dim() == 3 and image.shape[0] == 1:
        image = image[0]
    if image.dim() != 2 or image.shape[0] != image.shape[1]:
        raise ValueError(f"image must be (S, S) or (1, S, S), got {tuple(image.shape)}")
    weights = torch.as_tensor(weights).detach().float().flatten()
    if isinstance(patch_size, bool) or not isinstance(patch_size, int) or patch_size < 1:
        raise ValueError(f"patch_size must be a positive integer, got {patch_size!r}")
    size = image.shape[0]
    if size % patch_size or weights.numel() != (size // patch_size) ** 2:
        raise ValueError(f"{weights.numel()} weights do not tile a {size}x{size} image in "
                         f"{patch_size}x{patch_size} patches")
    grid = size // patch_size
    heat = weights.view(grid, grid).repeat_interleave(patch_size, 0).repeat_interleave(patch_size, 1)
    if ax is None:
        _, ax = plt.subplots(figsize=(3.2, 3.2), layout="constrained")
    ax.imshow(image.numpy(), cmap="gray")
    ax.imshow(heat.numpy(), cmap="magma", alpha=alpha, vmin=0.0, vmax=max(1e-9, float(weights.max())))
    for k in range(1, grid):
        ax.axhline(k * patch_size - 0.5, color="white", lw=0.4, alpha=0.6)
        ax.axvline(k * patch_size - 0.5, color="white", lw=0.4, alpha=0.6)
    if highlight is not None:
        from matplotlib.patches import Rectangle

        highlight = torch.as_tensor(highlight).flatten().bool()
        if highlight.numel() != weights.numel():
            raise ValueError(f"highlight has {highlight.numel()} entries for {weights.numel()} patches")
        for n in highlight.nonzero().flatten().tolist():
            r, c = divmod(n, grid)
            ax.add_patch(Rectangle((c * patch_size - 0.5, r * patch_size - 0.5), patch_size, patch_size,
                                   fill=False, edgecolor="cyan", linewidth=1.8))
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)
    return ax
