"""A tiny Transformer encoder for toy sequence tasks, and its training helpers (lesson 07)."""


from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .._validate import require_int, shape_str
from ..data import toy_batch
from ..layers import TransformerEncoderLayer
from ..positional import sinusoidal_positions
from ..rnn import token_accuracy
from ..train import train

__all__: list[str] = []

__all__ += ["TinyTransformer", "toy_task_loss", "train_tiny_transformer", "toy_task_accuracy"]

_POSITIONS = ("sinusoidal", "learned")


class TinyTransformer(nn.Module):
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
        self.vocab_size = require_int(vocab_size, "vocab_size", minimum=1)
        self.d_model = require_int(d_model, "d_model", minimum=1)
        num_layers = require_int(num_layers, "num_layers", minimum=1)
        self.max_len = require_int(max_len, "max_len", minimum=1)
        if positions not in _POSITIONS:
            raise ValueError(f"positions must be one of {_POSITIONS}, got {positions!r}")
        self.positions, self.norm_first = positions, bool(norm_first)
        self.embed = nn.Embedding(self.vocab_size, self.d_model)
        if positions == "learned":
            self.pos_embed = nn.Embedding(self.max_len, self.d_model)
        else:
            self.register_buffer("pos_table", sinusoidal_positions(self.max_len, self.d_model))
        self.layers = nn.ModuleList(
            TransformerEncoderLayer(self.d_model, num_heads, dim_feedforward=dim_feedforward, norm_first=norm_first)
            for _ in range(num_layers)
        )
        # Pre-norm leaves the residual stream un-normalised: normalise once before the head.
        self.final_norm = nn.LayerNorm(self.d_model) if self.norm_first else nn.Identity()
        self.head = nn.Linear(self.d_model, self.vocab_size)

    def _check_ids(self, ids):
        if not isinstance(ids, torch.Tensor) or ids.dtype != torch.long:
            what = f"dtype {ids.dtype}" if isinstance(ids, torch.Tensor) else type(ids).__name__
            raise TypeError(f"ids must be a LongTensor of token ids (B, T), got {what}")
        if ids.dim() != 2:
            raise ValueError(f"ids must have shape (B, T), got {shape_str(ids.shape)}")
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

    def embed_tokens(self, ids: torch.Tensor) -> torch.Tensor:
        """Token embeddings plus positions: ``(B, T)`` ids -> ``(B, T, D)``."""
        T = ids.shape[1]
        if self.positions == "learned":
            pos = self.pos_embed(torch.arange(T, device=ids.device))  # (T, D)
        else:
            pos = self.pos_table[:T]  # (T, D)
        return self.embed(ids) + pos  # (B, T, D)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
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


def toy_task_loss(model: nn.Module, batch: tuple, mask: torch.Tensor | None = None) -> torch.Tensor:
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
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100)


def train_tiny_transformer(task: str = "sort", length: int = 8, vocab_size: int = 10,
                           steps: int = 400, batch_size: int = 64, lr: float = 3e-3, seed: int = 0,
                           mask: torch.Tensor | None = None, progress: bool = True,
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
    length = require_int(length, "length", minimum=1)
    steps = require_int(steps, "steps", minimum=1)
    batch_size = require_int(batch_size, "batch_size", minimum=1)
    toy_batch(task, 1, length, vocab_size)  # validates task, length and vocab_size early
    torch.manual_seed(seed)
    model_kwargs.setdefault("max_len", length)
    model = TinyTransformer(vocab_size, **model_kwargs)
    losses = train(
        model, lambda g: toy_batch(task, batch_size, length, vocab_size, generator=g),
        lambda m, b: toy_task_loss(m, b, mask=mask), steps=steps, lr=lr, seed=seed,
        warmup=max(1, steps // 10), clip=1.0, progress=progress, desc=f"{task} (T={length})",
    )
    return model, losses


@torch.no_grad()
def toy_task_accuracy(model: nn.Module, task: str, length: int, vocab_size: int = 10,
                   batch_size: int = 512, seed: int = 12345, mask: torch.Tensor | None = None) -> float:
    """Fraction of target tokens ``model`` predicts right on a fresh seeded batch of ``task``.

    Positions whose target is ``-100`` are not counted.

    Examples
    --------
    >>> model = TinyTransformer(vocab_size=10, d_model=16, num_heads=2, max_len=8)
    >>> 0.0 <= toy_task_accuracy(model, "sort", 8) <= 1.0
    True
    """
    batch_size = require_int(batch_size, "batch_size", minimum=1)
    generator = torch.Generator().manual_seed(require_int(seed, "seed"))
    inputs, targets = toy_batch(task, batch_size, length, vocab_size, generator=generator)
    was_training = model.training
    model.eval()
    logits = model(inputs, mask=mask) if mask is not None else model(inputs)  # (B, T, V)
    model.train(was_training)
    return round(token_accuracy(logits.argmax(-1), targets), 6)
