"""Tiny Transformers for toy tasks and a tiny decoder-only language model (lessons 07, 08)."""

from __future__ import annotations

__all__: list[str] = []


# --- lesson 05 ---

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from ._validate import require_int, require_tensor, shape_str  # noqa: E402
from .attention import attention  # noqa: E402
from .layers import MultiHeadAttention  # noqa: E402
from .masks import causal_mask  # noqa: E402

__all__ += ["AttentionOnlyModel"]


class AttentionOnlyModel(nn.Module):
    """A causal, attention-only model: embeddings, learned positions, attention layers (lesson 05).

    ``x = token_emb + pos_emb``; each layer adds ``MultiHeadAttention(x)`` to ``x`` (a
    residual, no MLP, no LayerNorm); a linear read-out gives ``num_outputs`` predictions per
    position. With so little machinery, what each head does is easy to read off its
    attention map and to test by switching it off (``head_mask``).

    Parameters
    ----------
    vocab_size : int
        Token ids lie in ``0 .. vocab_size - 1``.
    d_model : int
        Model width ``D``.
    num_heads : int
        Heads per layer ``H``; ``d_model`` must be divisible by it.
    max_len : int
        Longest sequence the learned positions cover.
    num_layers : int
        Number of attention layers ``L``.
    num_outputs : int
        Predictions per position (2 for :func:`attnkit.two_relations_batch`).

    Examples
    --------
    >>> model = AttentionOnlyModel(vocab_size=10, d_model=16, num_heads=2, max_len=8)
    >>> tokens = torch.randint(0, 10, (3, 8))
    >>> model(tokens).shape  # (B, T, num_outputs, vocab_size)
    torch.Size([3, 8, 2, 10])
    >>> model.attn_weights.shape  # (B, L, H, T, T)
    torch.Size([3, 1, 2, 8, 8])
    >>> off = model(tokens, head_mask=torch.tensor([[1.0, 0.0]]))  # head 1 of layer 0 ablated
    """

    def __init__(self, vocab_size: int, d_model: int = 64, num_heads: int = 2, max_len: int = 16,
                 num_layers: int = 1, num_outputs: int = 2):
        super().__init__()
        self.vocab_size = require_int(vocab_size, "vocab_size", minimum=1)
        self.max_len = require_int(max_len, "max_len", minimum=1)
        self.num_layers = require_int(num_layers, "num_layers", minimum=1)
        self.num_outputs = require_int(num_outputs, "num_outputs", minimum=1)
        self.token_emb = nn.Embedding(self.vocab_size, require_int(d_model, "d_model", minimum=1))
        self.pos_emb = nn.Embedding(self.max_len, d_model)
        self.layers = nn.ModuleList(MultiHeadAttention(d_model, num_heads) for _ in range(num_layers))
        self.num_heads = self.layers[0].num_heads
        self.readout = nn.Linear(d_model, self.num_outputs * self.vocab_size)
        self.attn_weights: torch.Tensor | None = None

    def _check_head_mask(self, head_mask):
        if head_mask is None:
            return None
        if not isinstance(head_mask, torch.Tensor):
            head_mask = torch.as_tensor(head_mask, dtype=torch.float32)
        head_mask = require_tensor(head_mask.float() if head_mask.dtype == torch.bool else head_mask,
                                   "head_mask")
        wanted = (self.num_layers, self.num_heads)
        if head_mask.shape == wanted[1:] and self.num_layers == 1:
            head_mask = head_mask[None]
        if head_mask.shape != wanted:
            raise ValueError(
                f"head_mask has shape {shape_str(head_mask.shape)} but this model needs "
                f"(num_layers, num_heads) = {shape_str(wanted)}"
            )
        return head_mask

    def forward(self, tokens: torch.Tensor, head_mask=None) -> torch.Tensor:
        """``(B, T)`` token ids -> logits ``(B, T, num_outputs, vocab_size)``.

        ``head_mask`` of shape ``(num_layers, num_heads)`` (or ``(num_heads,)`` for one layer)
        multiplies each head's output: ``0`` ablates a head, ``1`` keeps it. The attention
        weights of the call are kept in ``self.attn_weights``, ``(B, L, H, T, T)``.
        """
        if not isinstance(tokens, torch.Tensor) or tokens.dtype != torch.long or tokens.dim() != 2:
            raise TypeError(f"tokens must be a (B, T) int64 tensor, got "
                            f"{getattr(tokens, 'dtype', type(tokens).__name__)} "
                            f"{shape_str(tokens.shape) if isinstance(tokens, torch.Tensor) else ''}")
        B, T = tokens.shape
        if T > self.max_len:
            raise ValueError(f"sequence length {T} exceeds max_len={self.max_len}")
        if tokens.numel() and (tokens.min() < 0 or tokens.max() >= self.vocab_size):
            raise ValueError(f"token ids must lie in 0..{self.vocab_size - 1}, got "
                             f"{tokens.min().item()}..{tokens.max().item()}")
        head_mask = self._check_head_mask(head_mask)
        mask = causal_mask(T)  # (T, T)
        x = self.token_emb(tokens) + self.pos_emb(torch.arange(T))  # (B, T, D)
        all_weights = []
        for i, mha in enumerate(self.layers):
            q = mha.split_heads(mha.q_proj(x))  # (B, H, T, Dh)
            k = mha.split_heads(mha.k_proj(x))  # (B, H, T, Dh)
            v = mha.split_heads(mha.v_proj(x))  # (B, H, T, Dh)
            context, weights = attention(q, k, v, mask=mask)  # (B, H, T, Dh), (B, H, T, T)
            if head_mask is not None:
                context = context * head_mask[i].to(context.dtype)[None, :, None, None]
            x = x + mha.out_proj(mha.merge_heads(context))  # (B, T, D)
            all_weights.append(weights.detach())
        self.attn_weights = torch.stack(all_weights, dim=1)  # (B, L, H, T, T)
        return self.readout(x).view(B, T, self.num_outputs, self.vocab_size)

    def loss(self, tokens: torch.Tensor, targets: torch.Tensor, head_mask=None) -> torch.Tensor:
        """Cross-entropy over every position and output; targets ``-100`` are skipped."""
        logits = self(tokens, head_mask=head_mask)  # (B, T, O, V)
        if targets.shape != logits.shape[:-1]:
            raise ValueError(f"targets have shape {shape_str(targets.shape)}, expected "
                             f"{shape_str(logits.shape[:-1])} (B, T, num_outputs)")
        return F.cross_entropy(logits.reshape(-1, self.vocab_size), targets.reshape(-1), ignore_index=-100)

    @torch.no_grad()
    def accuracy(self, tokens: torch.Tensor, targets: torch.Tensor, head_mask=None) -> torch.Tensor:
        """Accuracy of each output, ``(num_outputs,)``, over the positions whose target is not -100."""
        logits = self(tokens, head_mask=head_mask)  # (B, T, O, V)
        if targets.shape != logits.shape[:-1]:
            raise ValueError(f"targets have shape {shape_str(targets.shape)}, expected "
                             f"{shape_str(logits.shape[:-1])} (B, T, num_outputs)")
        valid = targets != -100  # (B, T, O)
        right = (logits.argmax(-1) == targets) & valid
        return right.sum(dim=(0, 1)).float() / valid.sum(dim=(0, 1)).clamp_min(1).float()



# --- lesson 07 ---

import torch as _torch  # noqa: E402
from torch import nn as _nn  # noqa: E402
from torch.nn import functional as _F  # noqa: E402

from ._validate import require_int as _require_int  # noqa: E402
from ._validate import shape_str as _shape_str  # noqa: E402
from .data import toy_batch as _toy_batch  # noqa: E402
from .layers import TransformerEncoderLayer as _EncoderLayer  # noqa: E402
from .positional import sinusoidal_positions as _sinusoidal_positions  # noqa: E402
from .rnn import token_accuracy as _token_accuracy  # noqa: E402
from .train import train as _train  # noqa: E402

__all__ += ["TinyTransformer", "toy_task_loss", "train_tiny_transformer", "toy_task_accuracy"]

_POSITIONS = ("sinusoidal", "learned")


class TinyTransformer(_nn.Module):
    """A tiny encoder-only Transformer for the toy tasks (lesson 07).

    Token embedding + positions + ``num_layers`` :class:`attnkit.TransformerEncoderLayer`
    (in ``self.layers``) + a linear head giving one set of logits per position.
    Every layer keeps the attention weights of its last call in ``layer.attn_weights``
    ``(B, H, T, T)``.

    Parameters
    ----------
    vocab_size : int
        Token ids lie in ``0 .. vocab_size - 1``; the head predicts one of them per position.
    d_model, num_heads, num_layers : int
        Width ``D``, heads ``H`` per layer, number of stacked layers.
    max_len : int
        Longest sequence the position table covers.
    dim_feedforward : int, optional
        Hidden width of each feed-forward block (default ``4 * d_model``).
    norm_first : bool
        Pre-norm (``True``, with a final LayerNorm before the head) or post-norm (``False``).
    positions : {"sinusoidal", "learned"}
        Fixed :func:`attnkit.sinusoidal_positions` or a learned ``nn.Embedding``.

    Examples
    --------
    >>> import torch
    >>> model = TinyTransformer(vocab_size=10, d_model=16, num_heads=2, num_layers=2, max_len=8)
    >>> logits = model(torch.randint(0, 10, (3, 8)))
    >>> logits.shape, model.layers[0].attn_weights.shape
    (torch.Size([3, 8, 10]), torch.Size([3, 2, 8, 8]))
    """

    def __init__(self, vocab_size: int, d_model: int = 64, num_heads: int = 4, num_layers: int = 2,
                 max_len: int = 64, dim_feedforward: int | None = None, norm_first: bool = False,
                 positions: str = "sinusoidal"):
        super().__init__()
        self.vocab_size = _require_int(vocab_size, "vocab_size", minimum=1)
        self.d_model = _require_int(d_model, "d_model", minimum=1)
        num_layers = _require_int(num_layers, "num_layers", minimum=1)
        self.max_len = _require_int(max_len, "max_len", minimum=1)
        if positions not in _POSITIONS:
            raise ValueError(f"positions must be one of {_POSITIONS}, got {positions!r}")
        self.positions, self.norm_first = positions, bool(norm_first)
        self.embed = _nn.Embedding(self.vocab_size, self.d_model)
        if positions == "learned":
            self.pos_embed = _nn.Embedding(self.max_len, self.d_model)
        else:
            self.register_buffer("pos_table", _sinusoidal_positions(self.max_len, self.d_model))
        self.layers = _nn.ModuleList(
            _EncoderLayer(self.d_model, num_heads, dim_feedforward=dim_feedforward, norm_first=norm_first)
            for _ in range(num_layers)
        )
        # Pre-norm leaves the residual stream un-normalised: normalise once before the head.
        self.final_norm = _nn.LayerNorm(self.d_model) if self.norm_first else _nn.Identity()
        self.head = _nn.Linear(self.d_model, self.vocab_size)

    def _check_ids(self, ids):
        if not isinstance(ids, _torch.Tensor) or ids.dtype != _torch.long:
            what = f"dtype {ids.dtype}" if isinstance(ids, _torch.Tensor) else type(ids).__name__
            raise TypeError(f"ids must be a LongTensor of token ids (B, T), got {what}")
        if ids.dim() != 2:
            raise ValueError(f"ids must have shape (B, T), got {_shape_str(ids.shape)}")
        if ids.shape[1] > self.max_len:
            raise ValueError(
                f"sequence length T={ids.shape[1]} exceeds max_len={self.max_len}; "
                f"build the model with max_len >= {ids.shape[1]}"
            )
        if ids.numel() and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise ValueError(
                f"ids must lie in 0..{self.vocab_size - 1} (vocab_size={self.vocab_size}), "
                f"got values from {int(ids.min())} to {int(ids.max())}"
            )

    def embed_tokens(self, ids: _torch.Tensor) -> _torch.Tensor:
        """Token embeddings plus positions: ``(B, T)`` ids -> ``(B, T, D)``."""
        T = ids.shape[1]
        if self.positions == "learned":
            pos = self.pos_embed(_torch.arange(T, device=ids.device))  # (T, D)
        else:
            pos = self.pos_table[:T]  # (T, D)
        return self.embed(ids) + pos  # (B, T, D)

    def forward(self, ids: _torch.Tensor, mask: _torch.Tensor | None = None) -> _torch.Tensor:
        """``ids`` ``(B, T)`` -> logits ``(B, T, vocab_size)``; ``mask`` goes to every layer."""
        self._check_ids(ids)
        x = self.embed_tokens(ids)  # (B, T, D)
        for layer in self.layers:
            x = layer(x, mask=mask)  # (B, T, D)
        return self.head(self.final_norm(x))  # (B, T, V)

    @property
    def attn_weights(self) -> list:
        """The last call's attention weights of every layer: a list of ``(B, H, T, T)``."""
        return [layer.attn_weights for layer in self.layers]


def toy_task_loss(model: _nn.Module, batch: tuple, mask: _torch.Tensor | None = None) -> _torch.Tensor:
    """Cross-entropy of ``model(inputs)`` against ``targets`` over every position (``-100`` ignored).

    Examples
    --------
    >>> import torch
    >>> from attnkit import toy_batch
    >>> model = TinyTransformer(vocab_size=10, d_model=16, num_heads=2, max_len=8)
    >>> batch = toy_batch("sort", 4, 8, generator=torch.Generator().manual_seed(0))
    >>> toy_task_loss(model, batch).shape
    torch.Size([])
    """
    inputs, targets = batch
    logits = model(inputs, mask=mask) if mask is not None else model(inputs)  # (B, T, V)
    return _F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100)


def train_tiny_transformer(task: str = "sort", length: int = 8, vocab_size: int = 10,
                           steps: int = 400, batch_size: int = 64, lr: float = 3e-3, seed: int = 0,
                           mask: _torch.Tensor | None = None, progress: bool = True,
                           **model_kwargs) -> tuple[TinyTransformer, list[float]]:
    """Build a :class:`TinyTransformer` and train it on a toy task with :func:`attnkit.train`.

    The recipe in five lines::

        model = TinyTransformer(vocab_size, max_len=length, **model_kwargs)
        get_batch = lambda g: toy_batch(task, batch_size, length, vocab_size, generator=g)
        losses = train(model, get_batch, toy_task_loss, steps=steps, lr=lr, seed=seed,
                       warmup=steps // 10, clip=1.0)

    The model is built after seeding with ``seed``, so the same arguments give the same
    weights and losses. ``mask`` (e.g. :func:`attnkit.local_window_mask`) is used in training.

    Returns
    -------
    model : TinyTransformer, in eval mode
    losses : list of float, one per step

    Examples
    --------
    >>> model, losses = train_tiny_transformer("copy", length=4, steps=30, d_model=16,
    ...                                        num_heads=2, num_layers=1, progress=False)
    >>> len(losses), losses[-1] < losses[0]
    (30, True)
    """
    length = _require_int(length, "length", minimum=1)
    steps = _require_int(steps, "steps", minimum=1)
    batch_size = _require_int(batch_size, "batch_size", minimum=1)
    _toy_batch(task, 1, length, vocab_size)  # validates task, length and vocab_size early
    _torch.manual_seed(seed)
    model_kwargs.setdefault("max_len", length)
    model = TinyTransformer(vocab_size, **model_kwargs)
    losses = _train(
        model, lambda g: _toy_batch(task, batch_size, length, vocab_size, generator=g),
        lambda m, b: toy_task_loss(m, b, mask=mask), steps=steps, lr=lr, seed=seed,
        warmup=max(1, steps // 10), clip=1.0, progress=progress, desc=f"{task} (T={length})",
    )
    return model, losses


@_torch.no_grad()
def toy_task_accuracy(model: _nn.Module, task: str, length: int, vocab_size: int = 10,
                   batch_size: int = 512, seed: int = 12345, mask: _torch.Tensor | None = None) -> float:
    """Fraction of target tokens ``model`` predicts right on a fresh seeded batch of ``task``.

    Positions whose target is ``-100`` are not counted.

    Examples
    --------
    >>> model = TinyTransformer(vocab_size=10, d_model=16, num_heads=2, max_len=8)
    >>> 0.0 <= toy_task_accuracy(model, "sort", 8) <= 1.0
    True
    """
    batch_size = _require_int(batch_size, "batch_size", minimum=1)
    generator = _torch.Generator().manual_seed(_require_int(seed, "seed"))
    inputs, targets = _toy_batch(task, batch_size, length, vocab_size, generator=generator)
    was_training = model.training
    model.eval()
    logits = model(inputs, mask=mask) if mask is not None else model(inputs)  # (B, T, V)
    model.train(was_training)
    return round(_token_accuracy(logits.argmax(-1), targets), 6)



# --- lesson 08 ---
