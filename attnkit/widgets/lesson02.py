"""Explorer for lesson 02: the alignment of a GRU with attention."""

from __future__ import annotations

import torch

from ..plot import new_figure
from ._core import Explorer, live_figure

__all__: list[str] = []
def draw_alignment(model, length: int = 12, seed: int = 0, vocab_size: int = 10):
    """The alignment an attentive seq2seq model learned, on one reverse-task sequence (lesson 02).

    Draws a random sequence of ``length`` tokens (seeded), decodes it greedily with
    ``model`` (an :class:`~attnkit.rnn.AttentionSeq2Seq`) and shows its attention weights:
    a row per output step, a column per input token. Returns a matplotlib ``Figure``.
    """
    from .._validate import require_int
    from ..data import toy_batch
    from ..plot import plot_attention

    length = require_int(length, "length", minimum=1)
    seed = require_int(seed, "seed")
    src, tgt = toy_batch("reverse", 1, length, vocab_size, torch.Generator().manual_seed(seed))
    predicted, weights = model.generate(src)                            # (1, T), (1, T, T)
    if weights is None:
        raise ValueError(f"{type(model).__name__} has no attention weights to draw")
    correct = int((predicted == tgt).sum())
    size = 0.2 * length + 2.5
    fig = new_figure(size + 0.8, size)
    ax = fig.add_subplot()
    out_labels = [f"{p}" + ("" if p == t else f"≠{t}") for p, t in zip(predicted[0].tolist(), tgt[0].tolist())]
    plot_attention(weights[0], [str(t) for t in src[0].tolist()], out_labels, ax=ax,
                   annotate=length <= 8, colorbar=False)
    ax.set_xlabel("input token (key)")
    ax.set_ylabel("output token (query); ≠ marks a mistake")
    ax.set_title(f"length {length}: {correct}/{length} tokens right", fontsize=10)
    return fig


def alignment_explorer(model, max_length: int = 30, vocab_size: int = 10):
    """Move the length and the seed; see the alignment and where the model goes wrong."""
    import ipywidgets as w

    length = w.IntSlider(value=12, min=3, max=max_length, description="length", continuous_update=False)
    seed = w.IntSlider(value=0, min=0, max=20, description="seed", continuous_update=False)
    box = live_figure(lambda length, seed: draw_alignment(model, length, seed, vocab_size),
                      length=length, seed=seed)
    return Explorer(box, "Alignment explorer (live in JupyterLab): move the length and the seed; "
                         "the heatmap is the attention of each output step over the input.")


__all__ += ["draw_alignment", "alignment_explorer"]
