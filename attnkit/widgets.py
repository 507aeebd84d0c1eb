"""Explorer widgets. Each ``*_explorer`` returns an :class:`Explorer`; the drawing is a
plain function (``draw_*``) that returns a matplotlib ``Figure``, so a test can call
it directly and a notebook can show the same figure statically beside the widget.
"""

from __future__ import annotations

import io
import math

import torch

from ._validate import shape_str
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


PNG_DPI = 90


def figure_png(fig, dpi: int = PNG_DPI) -> bytes:
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
        image.value = figure_png(box.last_figure, dpi=PNG_DPI)
        image.width = str(int(box.last_figure.get_figwidth() * PNG_DPI))  # natural size, not cell width

    for control in controls.values():
        control.observe(redraw, names="value")
    redraw()
    return box


# --- lesson 03: pick the query, move the scale -------------------------------------------

def _one_sequence(x, name: str) -> torch.Tensor:
    """``x`` as a plain float32 ``(T, D)`` tensor for drawing: detached, on the CPU, one sequence."""
    from ._validate import require_tensor

    require_tensor(x, name)
    if x.dim() != 2:
        raise ValueError(
            f"{name} must be one sequence (T, D), got shape {shape_str(x.shape)}; "
            f"for a batch, pick one example, e.g. {name}[0]"
        )
    return x.detach().to("cpu", torch.float32)  # bfloat16 has no numpy twin; grad is not needed to draw


def draw_attention_row(tokens, query, key, query_index: int = 0, beta: float = 1.0,
                       query_labels=None, ax=None):
    """Bar chart of one query's attention weights over ``tokens``, at inverse temperature ``beta``.

    ``query`` is ``(Tq, D)``, ``key`` is ``(Tk, D)`` with one row per token. The weights are
    ``softmax(beta * query @ key.T / sqrt(D))``: ``beta`` (the inverse temperature) multiplies
    the usual scaled scores, so ``beta=1`` is ordinary attention (it is *not* the ``scale`` of
    :func:`attnkit.attention`, which replaces ``1 / sqrt(D)``). Draws on ``ax`` when given, else on
    a new figure; returns the ``Figure``.

    Examples
    --------
    >>> keys = torch.eye(3)
    >>> fig = draw_attention_row(["a", "b", "c"], keys, keys, query_index=1, beta=0.0)
    >>> fig.axes[0].get_title()
    "query 'b', β = 0.00: max 0.33, entropy 1.10 nats"
    """
    query, key = _one_sequence(query, "query"), _one_sequence(key, "key")
    query_labels = list(tokens) if query_labels is None else list(query_labels)
    if len(tokens) != key.shape[-2]:
        raise ValueError(f"{len(tokens)} tokens for {key.shape[-2]} keys")
    if len(query_labels) != query.shape[-2]:
        raise ValueError(f"{len(query_labels)} query labels for {query.shape[-2]} queries")
    if not 0 <= query_index < len(query_labels):
        raise ValueError(f"query_index {query_index} is outside 0..{len(query_labels) - 1}")
    d = query.shape[-1]
    _, weights = attention(query, key, key, scale=beta / math.sqrt(d))  # (Tq, Tk)
    row = weights[query_index]
    if ax is None:
        ax = new_figure(5.5, 3.0).add_subplot()
    bars = ax.bar(range(len(tokens)), row.numpy(), color="tab:blue")
    bars[int(row.argmax())].set_color("tab:orange")
    ax.set_xticks(range(len(tokens)), tokens)
    ax.set_ylim(0, 1)
    ax.set_ylabel("attention weight")
    entropy = -(row * row.clamp_min(1e-12).log()).sum().item()
    ax.set_title(f"query '{query_labels[query_index]}', β = {beta:.2f}: "
                 f"max {row.max().item():.2f}, entropy {entropy:.2f} nats", fontsize=9)
    return ax.figure


def attention_explorer(tokens, query, key, query_labels=None):
    """Pick a query and move the inverse temperature β; see its attention weights over ``tokens`` change."""
    import ipywidgets as w

    labels = list(tokens) if query_labels is None else list(query_labels)
    picker = w.Dropdown(options=[(t, i) for i, t in enumerate(labels)], value=0, description="query")
    slider = w.FloatLogSlider(value=1.0, base=10, min=-1, max=1, step=0.05, description="inv. temp. β",
                              continuous_update=False, style={"description_width": "initial"})
    box = live_figure(
        lambda query_index, beta: draw_attention_row(tokens, query, key, query_index, beta, labels),
        query_index=picker, beta=slider,
    )
    return Explorer(box, "Attention explorer (live in JupyterLab): pick a query and move the "
                         "inverse temperature β (it multiplies the scaled scores); the bars are "
                         "that query's attention weights.")

# --- lesson 01 widgets ----------------------------------------------------------------


def draw_who_did_it(models: dict, vocab, agent: str = "dog", action: str = "bites",
                    patient: str = "man"):
    """Each model's belief about who did it, for a sentence and for its swapped twin (lesson 01).

    ``models`` maps a name to a classifier ``ids (B, T) -> logits (B, len(AGENTS))``.
    One panel per model; in each, the probability given to ``agent`` and to
    ``patient`` for "the agent action the patient" and for "the patient action the agent".
    Returns a matplotlib ``Figure``.
    """
    from .data import ACTIONS, AGENTS

    for word, pool, name in ((agent, AGENTS, "agent"), (patient, AGENTS, "patient"),
                             (action, ACTIONS, "action")):
        if word not in pool:
            raise ValueError(f"{name} {word!r} is not one of {pool}")
    if agent == patient:
        raise ValueError(f"agent and patient must differ, both are {agent!r}")
    sentences = [f"the {agent} {action} the {patient}", f"the {patient} {action} the {agent}"]
    ids = vocab.encode_batch(sentences)                                   # (2, 5)
    columns = [AGENTS.index(agent), AGENTS.index(patient)]
    fig = new_figure(3.6 * len(models), 3.0)
    axes = fig.subplots(1, len(models), squeeze=False)[0]
    for ax, (name, model) in zip(axes, models.items()):
        with torch.no_grad():
            probs = torch.softmax(model(ids), dim=-1)[:, columns]           # (2, 2)
        for row in range(2):
            offsets = [row * 3, row * 3 + 1]
            ax.bar(offsets, probs[row].numpy(), color=["tab:orange", "tab:blue"])
        ax.set_xticks([0, 1, 3, 4], [agent, patient, agent, patient])
        ax.set_ylim(0, 1.15)
        ax.set_yticks([0, 0.25, 0.5, 0.75, 1])
        ax.set_title(name, fontsize=10)
        ax.set_ylabel("P(did it)")
        for row, sentence in enumerate(sentences):
            ax.text(row * 3 + 0.5, 1.06, sentence.replace("the ", ""), ha="center", fontsize=8)
    return fig


def who_did_it_explorer(models: dict, vocab):
    """Pick an agent, a verb and a patient; see which model notices the word order."""
    import ipywidgets as w

    from .data import ACTIONS, AGENTS

    agent = w.Dropdown(options=AGENTS, value="dog", description="agent")
    action = w.Dropdown(options=ACTIONS, value="bites", description="verb")
    patient = w.Dropdown(options=AGENTS, value="man", description="patient")

    def draw(agent, action, patient):
        if agent == patient:
            fig = new_figure(4, 1)
            fig.text(0.5, 0.5, "pick two different nouns", ha="center")
            return fig
        return draw_who_did_it(models, vocab, agent, action, patient)

    box = live_figure(draw, agent=agent, action=action, patient=patient)
    return Explorer(box, "Who-did-it explorer (live in JupyterLab): pick the nouns and the verb; "
                         "each panel shows a model's P(did it) for the sentence and its swap.")


__all__ += ["draw_who_did_it", "who_did_it_explorer"]


# --- lesson 02 widgets ----------------------------------------------------------------


def draw_alignment(model, length: int = 12, seed: int = 0, vocab_size: int = 10):
    """The alignment an attentive seq2seq model learned, on one reverse-task sequence (lesson 02).

    Draws a random sequence of ``length`` tokens (seeded), decodes it greedily with
    ``model`` (an :class:`~attnkit.rnn.AttentionSeq2Seq`) and shows its attention weights:
    a row per output step, a column per input token. Returns a matplotlib ``Figure``.
    """
    from ._validate import require_int
    from .data import toy_batch
    from .plot import plot_attention

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


# --- lesson 04 widgets ----------------------------------------------------------------

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

__all__ += ["draw_scaling", "scaling_explorer"]


def _scaling_stats(d_k: int, scale_exponent: float, num_keys: int, num_queries: int = 256, seed: int = 0):
    """Scores, weights and their statistics for random unit-variance queries and keys."""
    g = torch.Generator().manual_seed(seed)
    query = torch.randn(num_queries, d_k, generator=g).requires_grad_(True)  # (Tq, d_k)
    key = torch.randn(num_keys, d_k, generator=g)  # (Tk, d_k)
    upstream = torch.randn(num_queries, num_keys, generator=g)  # dLoss/dweights from above
    attn_scores = query @ key.T * d_k ** -scale_exponent  # (Tq, Tk)
    attn_scores.retain_grad()
    attn_weights = torch.softmax(attn_scores, dim=-1)  # (Tq, Tk)
    (attn_weights * upstream).sum().backward()
    w = attn_weights.detach()
    entropy = -(torch.xlogy(w, w)).sum(-1)  # (Tq,) in nats
    return {
        "scores": attn_scores.detach(), "weights": w,
        "score_std": attn_scores.detach().std().item(),
        "entropy": entropy.mean().item(), "max_weight": w.max(-1).values.mean().item(),
        "grad_norm": attn_scores.grad.norm(dim=-1).mean().item(),
        "query_grad_norm": query.grad.norm(dim=-1).mean().item(),
    }


def draw_scaling(d_k: int = 64, scale_exponent: float = 0.5, num_keys: int = 16, seed: int = 0):
    """What the scale does to the scores and to one query's softmax weights (lesson 06).

    Queries and keys have independent N(0, 1) entries, and the scores are
    ``q . k * d_k ** -scale_exponent``: ``0`` is no scaling, ``0.5`` is the usual
    ``1 / sqrt(d_k)``, ``1`` divides by ``d_k``. Left: histogram of the scores. Right: the
    weights of query 0. The title gives the score spread, the mean entropy of the weights
    (``log(num_keys)`` is uniform, ``0`` is one-hot) and the mean norms of the gradient of a
    random loss at the scores and at the queries (the first shrinks as the softmax saturates,
    the second need not). Returns a matplotlib ``Figure``.

    Examples
    --------
    >>> fig = draw_scaling(d_k=256, scale_exponent=0.0)
    >>> len(fig.axes)
    2
    >>> fig._suptitle.get_text().split(":")[1].split(",")[0]  # sqrt(256) = 16 in theory
    ' score std 15.5'
    """
    from ._validate import require_int, require_number

    d_k = require_int(d_k, "d_k", minimum=1)
    num_keys = require_int(num_keys, "num_keys", minimum=2)
    scale_exponent = require_number(scale_exponent, "scale_exponent")
    if not 0.0 <= scale_exponent <= 1.0:
        raise ValueError(f"scale_exponent must be in [0, 1] (0: no scaling, 0.5: 1/sqrt(d_k)), "
                         f"got {scale_exponent}")
    stats = _scaling_stats(d_k, scale_exponent, num_keys, seed=seed)
    fig = new_figure(8.0, 3.2)
    ax_hist, ax_bar = fig.subplots(1, 2)
    ax_hist.hist(stats["scores"].flatten().numpy(), bins=40, color="tab:blue")
    ax_hist.set_xlabel("score")
    ax_hist.set_ylabel("count")
    row = stats["weights"][0]
    bars = ax_bar.bar(range(num_keys), row.numpy(), color="tab:blue")
    bars[int(row.argmax())].set_color("tab:orange")
    ax_bar.set_ylim(0, 1)
    ax_bar.set_xlabel("key")
    ax_bar.set_ylabel("weight of query 0")
    fig.suptitle(
        f"d_k={d_k}, scores x d_k^-{scale_exponent:.2f}: score std {stats['score_std']:.1f}, "
        f"entropy {stats['entropy']:.2f} of {math.log(num_keys):.2f} nats,\n"
        f"mean |dL/dscores| {stats['grad_norm']:.2g}, mean |dL/dq| {stats['query_grad_norm']:.2g}",
        fontsize=9)
    return fig


def scaling_explorer(num_keys: int = 16):
    """Move ``d_k`` and the scale exponent; watch the scores spread and the softmax saturate."""
    import ipywidgets as w

    d_k = w.SelectionSlider(options=[2 ** i for i in range(1, 11)], value=64, description="d_k",
                            continuous_update=False)
    exponent = w.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="scale exp.",
                             continuous_update=False)
    box = live_figure(lambda d_k, scale_exponent: draw_scaling(d_k, scale_exponent, num_keys),
                      d_k=d_k, scale_exponent=exponent)
    return Explorer(box, "Scaling explorer (live in JupyterLab): move d_k and the exponent of the scale "
                         "d_k^-e (0: none, 0.5: 1/sqrt(d_k), 1: 1/d_k); watch the scores and the weights.")

# --- lesson 07 widgets ----------------------------------------------------------------

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
    from .plot import plot_attention

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

# --- lesson 09 widgets ----------------------------------------------------------------

__all__ += ["position_scores", "draw_position_scores", "position_scores_explorer"]


def position_scores(query_pos: int, max_offset: int, base: float = 10000.0, head_dim: int = 16,
                    alibi_slope: float = 0.25, seed: int = 0) -> dict:
    """One query's score against keys ``0 .. max_offset`` places back, for three position schemes.

    The same token (a seeded random content vector ``c`` and projections ``W_q``, ``W_k``) sits
    at every position, so only positions change the scores (lesson 09):

    * ``"sinusoidal"``: ``((c + PE_i) W_q) . ((c + PE_j) W_k) / sqrt(D)``, positions added to the input;
    * ``"rope"``: ``rope(c W_q, i) . rope(c W_k, j) / sqrt(D)``, :func:`attnkit.apply_rope` with ``base``;
    * ``"alibi"``: ``(c W_q) . (c W_k) / sqrt(D) - alibi_slope * (i - j)``.

    Returns ``{scheme: (max_offset + 1,) tensor}``, entry ``d`` for the key at ``j = query_pos - d``.

    Examples
    --------
    >>> a, b = position_scores(20, 20), position_scores(60, 20)  # the same offsets, 40 places later
    >>> [round((a[s] - b[s]).abs().max().item(), 3) for s in ("sinusoidal", "rope", "alibi")]
    [2.688, 0.0, 0.0]
    """
    from ._validate import require_int, require_number
    from .positional import apply_rope, sinusoidal_positions

    query_pos = require_int(query_pos, "query_pos")
    max_offset = require_int(max_offset, "max_offset")
    head_dim = require_int(head_dim, "head_dim", minimum=2)
    if max_offset > query_pos:
        raise ValueError(f"max_offset={max_offset} reaches before position 0 from query_pos={query_pos}")
    if head_dim % 2:
        raise ValueError(f"head_dim must be even for RoPE, got {head_dim}")
    alibi_slope = require_number(alibi_slope, "alibi_slope")
    g = torch.Generator().manual_seed(require_int(seed, "seed"))
    c = torch.randn(head_dim, generator=g, dtype=torch.float64)  # (D,)
    w_q, w_k = (torch.randn(head_dim, head_dim, generator=g, dtype=torch.float64) / math.sqrt(head_dim)
                for _ in range(2))  # (D, D) each
    keys = torch.arange(query_pos, query_pos - max_offset - 1, -1)  # (K,): j = i, i-1, ..., i-max_offset
    scale = 1 / math.sqrt(head_dim)
    pe = sinusoidal_positions(query_pos + 1, head_dim).double()  # (i+1, D)
    sinusoidal = ((c + pe[query_pos]) @ w_q) @ ((c + pe[keys]) @ w_k).T * scale  # (K,)
    q_rot = apply_rope((c @ w_q)[None], [query_pos], base=base)  # (1, D)
    k_rot = apply_rope((c @ w_k).expand(len(keys), head_dim), keys, base=base)  # (K, D)
    rope = (q_rot @ k_rot.T)[0] * scale  # (K,)
    alibi = (c @ w_q) @ (c @ w_k) * scale - alibi_slope * (query_pos - keys).double()  # (K,)
    return {"sinusoidal": sinusoidal.float(), "rope": rope.float(), "alibi": alibi.float()}


def draw_position_scores(shift: int = 40, base: float = 10000.0, max_offset: int = 24,
                         alibi_slope: float = 0.25, head_dim: int = 16, seed: int = 0):
    """Score against offset for a query at ``max_offset`` and the same query ``shift`` places later.

    One panel per scheme (see :func:`position_scores`). Where the two curves lie on top of each
    other, the score depends only on the offset ``i - j``; the panel title gives the largest gap.
    Returns a matplotlib ``Figure``.

    Examples
    --------
    >>> fig = draw_position_scores(shift=40)
    >>> [ax.get_title().split(":")[0] for ax in fig.axes]
    ['sinusoidal (added to x)', 'RoPE (base 10000)', 'ALiBi (slope 0.25)']
    """
    from ._validate import require_int

    shift = require_int(shift, "shift")
    max_offset = require_int(max_offset, "max_offset")
    first = position_scores(max_offset, max_offset, base, head_dim, alibi_slope, seed)
    later = position_scores(max_offset + shift, max_offset, base, head_dim, alibi_slope, seed)
    fig = new_figure(10.5, 3.2)
    names = {"sinusoidal": "sinusoidal (added to x)", "rope": f"RoPE (base {base:g})",
             "alibi": f"ALiBi (slope {alibi_slope:g})"}
    offsets = range(max_offset + 1)
    for ax, (scheme, title) in zip(fig.subplots(1, 3), names.items()):
        gap = (first[scheme] - later[scheme]).abs().max().item()
        ax.plot(offsets, first[scheme].numpy(), marker=".", label=f"query at {max_offset}")
        ax.plot(offsets, later[scheme].numpy(), linestyle="--", label=f"query at {max_offset + shift}")
        ax.set_title(f"{title}: largest gap {gap:.3f}", fontsize=9)
        ax.set_xlabel("offset i - j")
        ax.legend(fontsize=7)
    fig.axes[0].set_ylabel("score q . k")
    return fig


def position_scores_explorer(max_offset: int = 24):
    """Shift the query and change RoPE's base; see which schemes' scores depend on the offset only."""
    import ipywidgets as w

    shift = w.IntSlider(value=40, min=0, max=200, step=1, description="shift", continuous_update=False)
    base = w.FloatLogSlider(value=10000.0, base=10, min=1, max=5, step=0.25, description="RoPE base",
                            continuous_update=False)
    slope = w.SelectionSlider(options=[round(2.0 ** -e, 4) for e in range(1, 9)], value=0.25,
                              description="ALiBi slope", continuous_update=False)
    box = live_figure(
        lambda shift, base, alibi_slope: draw_position_scores(shift, base, max_offset, alibi_slope),
        shift=shift, base=base, alibi_slope=slope,
    )
    return Explorer(box, "Position-scores explorer (live in JupyterLab): move the query later (shift), "
                         "change RoPE's base and ALiBi's slope; compare the score-against-offset curves.")


# --- lesson 11 widgets ----------------------------------------------------------------

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

    from ._validate import require_int
    from .caches import RollingKVCache

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


# --- lesson 10 widgets ----------------------------------------------------------------

__all__ += ["draw_induction_pattern", "induction_explorer"]


def _check_induction_inputs(weights, tokens, start, length):
    _check_layer_head_weights(weights, tokens)
    T = weights.shape[-1]
    if isinstance(start, bool) or isinstance(length, bool) or not isinstance(start, int) \
            or not isinstance(length, int) or start < 0 or length < 1 or start + 2 * length > T:
        raise ValueError(f"start={start!r}, length={length!r} do not describe a repeated segment "
                         f"inside {T} tokens (need start >= 0, length >= 1, start + 2 * length <= {T})")


def draw_induction_pattern(weights, tokens, start: int, length: int, layer: int = 0, head: int = 0,
                           query: int | None = None):
    """One head's map on a repeated sequence, and one query's row with its two telltale keys (lesson 10).

    ``weights`` is ``(L, H, T, T)`` for one sequence whose segment ``tokens[start:start + length]``
    is repeated right after itself. Left: the head's map. Right: the row of ``query`` (default:
    the middle of the copy) as bars; the key one step back (``query - 1``, what a
    previous-token head looks at) is orange, and, for a query in the copy, the key after the
    earlier occurrence of its token (``query - length + 1``, what an induction head looks at)
    is green. Returns a matplotlib ``Figure``.

    Examples
    --------
    >>> T = 6
    >>> prev = torch.zeros(T, T)
    >>> prev[0, 0] = 1.0
    >>> prev[torch.arange(1, T), torch.arange(T - 1)] = 1.0
    >>> fig = draw_induction_pattern(prev[None, None], list("abcabc"), start=0, length=3, query=4)
    >>> fig.axes[-1].get_title()
    'query 4 (b): previous key 1.00, after-earlier key 0.00'
    """
    tokens = list(tokens)
    _check_induction_inputs(weights, tokens, start, length)
    n_layers, n_heads, T, _ = weights.shape
    if not 0 <= layer < n_layers:
        raise ValueError(f"layer {layer} is outside 0..{n_layers - 1}")
    if not 0 <= head < n_heads:
        raise ValueError(f"head {head} is outside 0..{n_heads - 1}")
    if query is None:
        query = start + length + length // 2
    if isinstance(query, bool) or not isinstance(query, int) or not 0 <= query < T:
        raise ValueError(f"query {query!r} is outside 0..{T - 1}")
    from matplotlib.patches import Rectangle

    from .plot import plot_attention

    w = weights[layer, head].detach().float()  # (T, T)
    row = w[query]  # (T,)
    labels = [f"{i}:{t}" for i, t in enumerate(tokens)]
    fig = new_figure(11.0, 4.2)
    left, right = fig.subplots(1, 2, width_ratios=[1, 1.3])
    plot_attention(w, labels, labels, ax=left, annotate=False, colorbar=False,
                   title=f"layer {layer}, head {head}")
    left.add_patch(Rectangle((-0.5, query - 0.5), T, 1, fill=False, edgecolor="tab:red", linewidth=2))
    left.tick_params(labelsize=6)
    colors = ["tab:blue"] * T
    on_previous = row[query - 1].item() if query >= 1 else 0.0
    if query >= 1:
        colors[query - 1] = "tab:orange"
    in_copy = start + length <= query < start + 2 * length
    on_after = row[query - length + 1].item() if in_copy else 0.0
    if in_copy:
        colors[query - length + 1] = "tab:green"
    right.bar(range(T), row.numpy(), color=colors)
    right.axvspan(start - 0.5, start + length - 0.5, color="0.85", zorder=0)
    right.axvspan(start + length - 0.5, start + 2 * length - 0.5, color="0.93", zorder=0)
    right.set_xticks(range(T), labels, rotation=90, fontsize=6)
    right.set_ylim(0, 1)
    right.set_ylabel("attention weight")
    after = f"{on_after:.2f}" if in_copy else "n/a"
    right.set_title(f"query {query} ({tokens[query]}): previous key {on_previous:.2f}, "
                    f"after-earlier key {after}", fontsize=10)
    return fig


def induction_explorer(weights, tokens, start: int, length: int):
    """Pick a layer, a head and a query position; see the head's map and that query's row."""
    import ipywidgets as w

    tokens = list(tokens)
    _check_induction_inputs(weights, tokens, start, length)
    layer = w.Dropdown(options=list(range(weights.shape[0])), value=0, description="layer")
    head = w.Dropdown(options=list(range(weights.shape[1])), value=0, description="head")
    query = w.IntSlider(min=0, max=weights.shape[-1] - 1, value=start + length + length // 2,
                        description="query")
    box = live_figure(lambda layer, head, query: draw_induction_pattern(weights, tokens, start, length,
                                                                        layer, head, query),
                      layer=layer, head=head, query=query)
    return Explorer(box, f"Induction explorer (live in JupyterLab): pick one of {weights.shape[0]} layer(s), "
                         f"{weights.shape[1]} heads and a query; orange = the key one step back, green = the "
                         "key after the earlier occurrence of the query's token.")
