"""Tiny Transformers for toy tasks and a tiny decoder-only language model (lessons 07, 08)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ._validate import require_int, require_number, require_tensor, shape_str
from .attention import _attend, attention
from .data import toy_batch
from .efficient import KVCache
from .layers import MultiHeadAttention, TransformerEncoderLayer
from .masks import causal_mask
from .positional import sinusoidal_positions
from .rnn import token_accuracy
from .train import train

__all__: list[str] = []


# --- lesson 05 ---


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


# --- lesson 08 ---


__all__ += ["CharTokenizer", "char_lm_batch", "TinyLM"]


class CharTokenizer:
    """Characters to ids and back: the simplest tokenizer, for a character-level language model.

    The vocabulary is the sorted set of characters of ``text``.

    Examples
    --------
    >>> tok = CharTokenizer("hello world")
    >>> tok.vocab_size, tok.encode("hello")
    (8, tensor([3, 2, 4, 4, 5]))
    >>> tok.decode(tok.encode("old"))
    'old'
    """

    def __init__(self, text: str):
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if not text:
            raise ValueError("text is empty: a vocabulary needs at least one character")
        self.chars = sorted(set(text))
        self.stoi = {c: i for i, c in enumerate(self.chars)}

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> torch.Tensor:
        """``str`` -> ``(T,)`` int64 ids; characters outside the vocabulary raise ``ValueError``."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        unknown = sorted(set(text) - self.stoi.keys())
        if unknown:
            raise ValueError(f"characters {unknown} are not in the vocabulary")
        return torch.tensor([self.stoi[c] for c in text], dtype=torch.long)

    def decode(self, ids) -> str:
        """``(T,)`` ids (tensor or list) -> ``str``."""
        if isinstance(ids, torch.Tensor):
            if ids.dim() != 1 or ids.is_floating_point():
                raise ValueError(f"ids must be a 1-d integer tensor, got {ids.dtype} {shape_str(ids.shape)}")
            ids = ids.tolist()
        bad = [i for i in ids if not 0 <= int(i) < self.vocab_size]
        if bad:
            raise ValueError(f"ids {bad[:5]} are outside 0 .. {self.vocab_size - 1}")
        return "".join(self.chars[int(i)] for i in ids)


def char_lm_batch(ids: torch.Tensor, batch_size: int, seq_len: int,
                  generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Random windows of a token stream for next-token training: ``(inputs, targets)``, both ``(B, T)``.

    ``targets`` is ``inputs`` shifted by one position: at every position the model
    predicts the next token.

    Examples
    --------
    >>> x, y = char_lm_batch(torch.arange(10), batch_size=2, seq_len=4,
    ...                      generator=torch.Generator().manual_seed(0))
    >>> x, y
    (tensor([[2, 3, 4, 5],
            [3, 4, 5, 6]]), tensor([[3, 4, 5, 6],
            [4, 5, 6, 7]]))
    """
    if not isinstance(ids, torch.Tensor) or ids.dim() != 1 or ids.is_floating_point():
        raise TypeError("ids must be a 1-d integer tensor (e.g. CharTokenizer.encode(text))")
    batch_size = require_int(batch_size, "batch_size", minimum=1)
    seq_len = require_int(seq_len, "seq_len", minimum=1)
    if ids.numel() < seq_len + 1:
        raise ValueError(f"ids has {ids.numel()} tokens, fewer than seq_len + 1 = {seq_len + 1}")
    starts = torch.randint(0, ids.numel() - seq_len, (batch_size,), generator=generator)  # (B,)
    window = starts[:, None] + torch.arange(seq_len + 1)  # (B, T + 1)
    chunk = ids[window]
    return chunk[:, :-1], chunk[:, 1:]


class _DecoderBlock(nn.Module):
    """Pre-norm block: ``x + attn(ln(x))`` then ``x + mlp(ln(x))``, causal self-attention."""

    def __init__(self, d_model: int, num_heads: int):
        super().__init__()
        self.num_heads, self.head_dim = num_heads, d_model // num_heads
        self.ln1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)  # the three projections in one product
        self.out = nn.Linear(d_model, d_model)
        self.ln2 = nn.LayerNorm(d_model)
        self.fc1 = nn.Linear(d_model, 4 * d_model)
        self.fc2 = nn.Linear(4 * d_model, d_model)
        self.attn_weights: torch.Tensor | None = None

    def forward(self, x, layer_index=0, cache=None):
        B, T, D = x.shape
        qkv = self.qkv(self.ln1(x)).view(B, T, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, H, T, Dh)
        start = 0
        if cache is not None:
            start = cache.lengths[layer_index]
            k, v = cache.update(layer_index, k, v)  # (B, H, start + T, Dh)
        # query i sits at position start + i and may read keys 0 .. start + i
        mask = None if T == 1 else torch.ones(T, start + T, dtype=torch.bool).tril(start)
        context, weights = _attend(q, k, v, mask, self.head_dim ** -0.5)  # (B, H, T, Dh), (B, H, T, start + T)
        self.attn_weights = weights.detach()
        x = x + self.out(context.transpose(1, 2).reshape(B, T, D))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x)), approximate="tanh"))  # GPT-2's GELU


class TinyLM(nn.Module):
    """A tiny decoder-only (GPT-style) language model with a KV-cached ``generate`` (lesson 08).

    Token embeddings plus learned positions, ``num_layers`` pre-norm blocks of causal
    multi-head self-attention (the computation of :func:`attnkit.attention`, minus its
    input checks) and a GELU MLP (GPT-2's tanh approximation), a final LayerNorm, and a read-out tied to the token
    embedding. Each block keeps its last attention weights in ``blocks[i].attn_weights``
    ``(B, H, T, T)`` for plotting.

    Parameters
    ----------
    vocab_size : int
    d_model, num_heads, num_layers : int
        Width, heads per layer (must divide ``d_model``), number of blocks.
    max_len : int
        Longest sequence (prompt + generated tokens) the positions cover.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> lm = TinyLM(vocab_size=11, d_model=16, num_heads=2, num_layers=2, max_len=32)
    >>> lm(torch.zeros(3, 5, dtype=torch.long)).shape
    torch.Size([3, 5, 11])
    >>> prompt = torch.tensor([[1, 2, 3]])
    >>> fast = lm.generate(prompt, max_new_tokens=6, use_cache=True)
    >>> slow = lm.generate(prompt, max_new_tokens=6, use_cache=False)
    >>> fast.shape, bool((fast == slow).all())
    (torch.Size([1, 9]), True)
    """

    def __init__(self, vocab_size: int, d_model: int = 128, num_heads: int = 4,
                 num_layers: int = 4, max_len: int = 512):
        super().__init__()
        vocab_size = require_int(vocab_size, "vocab_size", minimum=1)
        d_model = require_int(d_model, "d_model", minimum=1)
        num_heads = require_int(num_heads, "num_heads", minimum=1)
        num_layers = require_int(num_layers, "num_layers", minimum=1)
        max_len = require_int(max_len, "max_len", minimum=1)
        if d_model % num_heads:
            raise ValueError(f"d_model={d_model} is not divisible by num_heads={num_heads}")
        self.vocab_size, self.d_model, self.num_heads = vocab_size, d_model, num_heads
        self.num_layers, self.max_len = num_layers, max_len
        self.token_emb = nn.Embedding(vocab_size, d_model)
        self.pos_emb = nn.Embedding(max_len, d_model)
        nn.init.normal_(self.token_emb.weight, std=0.02)
        nn.init.normal_(self.pos_emb.weight, std=0.02)
        self.blocks = nn.ModuleList(_DecoderBlock(d_model, num_heads) for _ in range(num_layers))
        self.ln_f = nn.LayerNorm(d_model)

    def _check_ids(self, ids, extra: int = 0):
        if not isinstance(ids, torch.Tensor):
            raise TypeError(f"ids must be a torch.Tensor of token ids, got {type(ids).__name__}")
        if ids.is_floating_point() or ids.dtype == torch.bool:
            raise TypeError(f"ids must hold integers, got dtype {ids.dtype}")
        if ids.dim() != 2 or ids.shape[1] == 0:
            raise ValueError(f"ids must be (B, T) with T >= 1, got shape {shape_str(ids.shape)}")
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= self.vocab_size):
            raise ValueError(
                f"ids must lie in 0 .. {self.vocab_size - 1}, got values from {int(ids.min())} to {int(ids.max())}"
            )
        if ids.shape[1] + extra > self.max_len:
            raise ValueError(
                f"{ids.shape[1]} tokens + {extra} new ones exceed max_len={self.max_len}"
            )

    def _forward(self, ids, cache=None):
        start = 0 if cache is None else cache.seq_len
        positions = torch.arange(start, start + ids.shape[1], device=ids.device)
        x = self.token_emb(ids) + self.pos_emb(positions)  # (B, T, D)
        for index, block in enumerate(self.blocks):
            x = block(x, index, cache)
        return self.ln_f(x) @ self.token_emb.weight.T  # (B, T, V)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` token ids -> ``(B, T, vocab_size)`` next-token logits."""
        self._check_ids(ids)
        return self._forward(ids)

    def new_cache(self, batch_size: int, max_len: int | None = None) -> KVCache:
        """An empty :class:`attnkit.KVCache` shaped for this model."""
        p = self.token_emb.weight
        return KVCache(self.num_layers, batch_size, self.num_heads, max_len or self.max_len,
                       self.d_model // self.num_heads, dtype=p.dtype, device=p.device)

    def generate(self, ids: torch.Tensor, max_new_tokens: int, use_cache: bool = True,
                 temperature: float = 0.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """Append ``max_new_tokens`` tokens to ``ids`` ``(B, T)`` or ``(T,)``; same shape rank back.

        ``temperature=0`` picks the most likely token (greedy); above 0 it samples from
        ``softmax(logits / temperature)`` with ``generator``. With ``use_cache=True`` the
        prompt is run once into a :class:`attnkit.KVCache` and each step feeds only the
        newest token; with ``use_cache=False`` each step recomputes the whole sequence.
        Both give the same tokens.
        """
        if not isinstance(use_cache, bool):
            raise TypeError(f"use_cache must be True or False, got {use_cache!r}")
        max_new_tokens = require_int(max_new_tokens, "max_new_tokens")
        temperature = require_number(temperature, "temperature")
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
        unbatched = isinstance(ids, torch.Tensor) and ids.dim() == 1
        if unbatched:
            ids = ids[None]
        self._check_ids(ids, extra=max_new_tokens)
        was_training = self.training
        self.eval()
        # inference mode: no autograd bookkeeping at all, which is most of a one-token step's overhead
        with torch.inference_mode():
            out = self._generate(ids, max_new_tokens, use_cache, temperature, generator)
        self.train(was_training)
        out = out.clone()  # a normal tensor again, usable anywhere (inference tensors are not)
        return out[0] if unbatched else out

    def _generate(self, ids, max_new_tokens, use_cache, temperature, generator):
        out = torch.empty(ids.shape[0], ids.shape[1] + max_new_tokens, dtype=torch.long,
                          device=ids.device)  # preallocated: no torch.cat per step
        out[:, : ids.shape[1]] = ids
        length = ids.shape[1]
        cache = self.new_cache(ids.shape[0], length + max_new_tokens) if use_cache else None
        step_input = ids
        for _ in range(max_new_tokens):
            logits = self._forward(step_input if use_cache else out[:, :length], cache)[:, -1]  # (B, V)
            if temperature == 0:
                next_id = logits.argmax(dim=-1)  # (B,)
            else:
                probs = torch.softmax(logits / temperature, dim=-1)
                next_id = torch.multinomial(probs, 1, generator=generator)[:, 0]
            out[:, length] = next_id
            length += 1
            step_input = out[:, length - 1: length]  # (B, 1): only the newest token
        return out


# --- lesson 10 ---


__all__ += ["image_to_patches", "TinyViT", "head_scores"]


def image_to_patches(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Cut images into patch tokens: ``(B, C, H, W)`` -> ``(B, N, C * p * p)`` (lesson 10).

    Patches are numbered row by row (left to right, then top to bottom), ``N = (H/p)(W/p)``;
    each patch is flattened in ``(C, p, p)`` order. A plain ``reshape(B, N, -1)`` has the
    same shape but cuts the image into horizontal strips, not squares.

    Examples
    --------
    >>> image = torch.arange(16.0).view(1, 1, 4, 4)
    >>> image_to_patches(image, 2)[0]  # 4 patches of 2x2 pixels
    tensor([[ 0.,  1.,  4.,  5.],
            [ 2.,  3.,  6.,  7.],
            [ 8.,  9., 12., 13.],
            [10., 11., 14., 15.]])
    """
    images = require_tensor(images, "images")
    patch_size = require_int(patch_size, "patch_size", minimum=1)
    if images.dim() != 4:
        raise ValueError(f"images must be (B, C, H, W), got shape {shape_str(images.shape)}")
    B, C, H, W = images.shape
    if H % patch_size or W % patch_size:
        raise ValueError(f"image size {H}x{W} is not a multiple of patch_size={patch_size}")
    p = patch_size
    grid = images.reshape(B, C, H // p, p, W // p, p)  # (B, C, rows, p, cols, p)
    grid = grid.permute(0, 2, 4, 1, 3, 5)  # (B, rows, cols, C, p, p)
    return grid.reshape(B, (H // p) * (W // p), C * p * p)  # (B, N, C*p*p)


class TinyViT(nn.Module):
    """A Vision-Transformer-style classifier, as small as it gets (lesson 10).

    The image is cut into ``patch_size`` squares (:func:`image_to_patches`), each patch is
    embedded by one linear map, a learned **class token** is put in front, learned positions
    are added, and ``num_layers`` pre-norm :class:`attnkit.TransformerEncoderLayer` s mix the
    tokens. The class token's final vector is the only thing the classifier reads, so what the
    class token attends to is what the decision is based on (Dosovitskiy et al., 2021).

    Examples
    --------
    >>> model = TinyViT(image_size=8, patch_size=4, d_model=16, num_heads=2, num_classes=3)
    >>> model(torch.randn(5, 1, 8, 8)).shape  # (B, num_classes)
    torch.Size([5, 3])
    >>> model.attn_weights.shape  # last layer: (B, H, 1 + N, 1 + N), token 0 = class token
    torch.Size([5, 2, 5, 5])
    >>> model.class_attention().shape  # the class token's weights over the N patches, heads averaged
    torch.Size([5, 4])
    """

    def __init__(self, image_size: int = 16, patch_size: int = 4, channels: int = 1, d_model: int = 32,
                 num_heads: int = 1, num_classes: int = 3, num_layers: int = 1):
        super().__init__()
        self.image_size = require_int(image_size, "image_size", minimum=1)
        self.patch_size = require_int(patch_size, "patch_size", minimum=1)
        self.channels = require_int(channels, "channels", minimum=1)
        if self.image_size % self.patch_size:
            raise ValueError(f"image_size={image_size} is not a multiple of patch_size={patch_size}")
        d_model = require_int(d_model, "d_model", minimum=1)
        num_classes = require_int(num_classes, "num_classes", minimum=2)
        num_layers = require_int(num_layers, "num_layers", minimum=1)
        self.num_patches = (self.image_size // self.patch_size) ** 2
        self.patch_embed = nn.Linear(self.channels * self.patch_size ** 2, d_model)
        self.class_token = nn.Parameter(torch.zeros(1, 1, d_model))
        self.pos_emb = nn.Parameter(0.02 * torch.randn(1, 1 + self.num_patches, d_model))
        self.layers = nn.ModuleList(
            TransformerEncoderLayer(d_model, num_heads, dim_feedforward=2 * d_model, norm_first=True)
            for _ in range(num_layers))
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, C, S, S)`` images -> ``(B, num_classes)`` logits."""
        images = require_tensor(images, "images")
        wanted = (self.channels, self.image_size, self.image_size)
        if images.dim() != 4 or tuple(images.shape[1:]) != wanted:
            raise ValueError(f"images must be (B, {', '.join(map(str, wanted))}), got {shape_str(images.shape)}")
        tokens = self.patch_embed(image_to_patches(images, self.patch_size))  # (B, N, D)
        cls = self.class_token.expand(len(images), -1, -1)  # (B, 1, D)
        x = torch.cat([cls, tokens], dim=1) + self.pos_emb  # (B, 1 + N, D)
        for layer in self.layers:
            x = layer(x)  # (B, 1 + N, D)
        return self.head(self.norm(x[:, 0]))  # (B, num_classes)

    @property
    def attn_weights(self) -> torch.Tensor | None:
        """The last layer's attention weights of the last call, ``(B, H, 1 + N, 1 + N)``."""
        return self.layers[-1].attn_weights

    def class_attention(self) -> torch.Tensor:
        """The class token's weights on the patches in the last call, averaged over heads: ``(B, N)``."""
        if self.attn_weights is None:
            raise ValueError("call the model on images first: no attention weights yet")
        return self.attn_weights[:, :, 0, 1:].mean(1)  # (B, N)


def head_scores(weights: torch.Tensor, starts: torch.Tensor, lengths: torch.Tensor):
    """Score every head as a previous-token head and as an induction head (lesson 10).

    ``weights`` are an :class:`AttentionOnlyModel`'s ``attn_weights``, ``(B, L, H, T, T)``,
    on a :func:`attnkit.repeat_batch` whose segments start at ``starts`` and have
    ``lengths`` ``(B,)``. The **previous-token score** is the mean weight a query ``p`` puts on
    key ``p - 1``, over every query ``p >= 1``. The **induction score** is the mean weight a
    query ``p`` in the copy (``s + n <= p <= s + 2n - 1``) puts on key ``p - n + 1``: the
    token *after* the earlier occurrence of its own token (Olsson et al., 2022). Both are
    pooled over the batch.

    Returns
    -------
    previous, induction : torch.Tensor, shape ``(L, H)``

    Examples
    --------
    >>> T = 6
    >>> prev = torch.zeros(T, T)
    >>> prev[0, 0] = 1.0
    >>> prev[torch.arange(1, T), torch.arange(T - 1)] = 1.0  # every query looks one step back
    >>> weights = prev.expand(1, 1, 1, T, T)  # (B, L, H, T, T)
    >>> previous, induction = head_scores(weights, torch.tensor([0]), torch.tensor([3]))
    >>> previous.tolist(), induction.tolist()  # queries 3..5 look at 2..4, not at 1..3
    ([[1.0]], [[0.0]])
    """
    weights = require_tensor(weights, "weights")
    if weights.dim() != 5 or weights.shape[-1] != weights.shape[-2]:
        raise ValueError(f"weights must be (B, L, H, T, T), got shape {shape_str(weights.shape)}")
    B, L, H, T, _ = weights.shape
    for name, v in (("starts", starts), ("lengths", lengths)):
        if not isinstance(v, torch.Tensor) or v.shape != (B,):
            raise ValueError(f"{name} must be a ({B},) tensor for weights with B={B}, got "
                             f"{shape_str(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__}")
    if (lengths < 1).any() or (starts < 0).any() or (starts + 2 * lengths > T).any():
        raise ValueError(f"every segment needs lengths >= 1, starts >= 0 and starts + 2 * lengths <= T={T}")
    pos = torch.arange(1, T)
    previous = weights[..., pos, pos - 1].mean((0, 3))  # (L, H)
    p = torch.arange(T)[None]  # (1, T)
    s, n = starts[:, None], lengths[:, None]  # (B, 1)
    in_copy = (p >= s + n) & (p < s + 2 * n)  # (B, T)
    key = (p - n + 1).clamp(0, T - 1)  # (B, T)
    picked = weights.gather(-1, key[:, None, None, :, None].expand(B, L, H, T, 1))[..., 0]  # (B, L, H, T)
    mask = in_copy[:, None, None, :].float()  # (B, 1, 1, T)
    induction = (picked * mask).sum((0, 3)) / mask.sum()  # (L, H)
    return previous, induction
