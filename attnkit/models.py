"""Tiny Transformers for toy tasks and a tiny decoder-only language model (lessons 07, 08)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ._validate import require_int, require_number, require_tensor, shape_str
from .attention import _attend, attention
from .caches import _apply_rotary, kv_cache_bytes
from .data import toy_batch
from .decoder import TransformerDecoderLayer
from .efficient import KVCache
from .layers import MultiHeadAttention, TransformerEncoderLayer
from .masks import causal_mask
from .positional import alibi_bias, apply_rope, sinusoidal_positions
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


# --- lesson 07: the decoder side (built from attnkit.TransformerDecoderLayer) ---


__all__ += ["CausalLM", "next_token_loss", "TinySeq2Seq", "seq2seq_loss", "train_seq2seq", "seq2seq_accuracy"]


def _check_token_ids(ids, name: str, vocab_size: int, max_len: int, extra: int = 0) -> None:
    if not isinstance(ids, torch.Tensor) or ids.is_floating_point() or ids.dtype == torch.bool:
        what = f"dtype {ids.dtype}" if isinstance(ids, torch.Tensor) else type(ids).__name__
        raise TypeError(f"{name} must be an integer tensor of token ids (B, T), got {what}")
    if ids.dim() != 2 or ids.shape[1] == 0:
        raise ValueError(f"{name} must be (B, T) with T >= 1, got shape {shape_str(ids.shape)}")
    if int(ids.min()) < 0 or int(ids.max()) >= vocab_size:
        raise ValueError(f"{name} must lie in 0 .. {vocab_size - 1}, got values from {int(ids.min())} "
                         f"to {int(ids.max())}")
    if ids.shape[1] + extra > max_len:
        raise ValueError(f"{name} has T={ids.shape[1]}" + (f" + {extra} new tokens" if extra else "")
                         + f", more than max_len={max_len}")


class CausalLM(nn.Module):
    """A decoder-only (GPT-style) language model of :class:`attnkit.TransformerDecoderLayer` blocks (lesson 07).

    Token embeddings + learned positions (both initialised ``N(0, 0.02^2)`` as in GPT-2),
    ``num_layers`` pre-norm decoder blocks without
    cross-attention (causal self-attention, GELU feed-forward), a final LayerNorm and a
    linear read-out: ``(B, T)`` ids -> ``(B, T, vocab_size)`` logits, where position ``t``
    predicts token ``t + 1`` from tokens ``0 .. t`` only. ``generate`` appends tokens one at
    a time, with or without a :class:`attnkit.KVCache` (same tokens either way).

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> lm = CausalLM(vocab_size=11, d_model=16, num_heads=2, num_layers=2, max_len=32)
    >>> lm(torch.zeros(3, 5, dtype=torch.long)).shape
    torch.Size([3, 5, 11])
    >>> prompt = torch.tensor([[1, 2, 3]])
    >>> fast = lm.generate(prompt, max_new_tokens=6, use_cache=True)
    >>> fast.shape, torch.equal(fast, lm.generate(prompt, max_new_tokens=6, use_cache=False))
    (torch.Size([1, 9]), True)
    """

    def __init__(self, vocab_size: int, d_model: int = 64, num_heads: int = 4, num_layers: int = 2,
                 max_len: int = 128, dim_feedforward: int | None = None):
        super().__init__()
        self.vocab_size = require_int(vocab_size, "vocab_size", minimum=1)
        self.d_model = require_int(d_model, "d_model", minimum=1)
        self.num_layers = require_int(num_layers, "num_layers", minimum=1)
        self.max_len = require_int(max_len, "max_len", minimum=1)
        self.token_emb = nn.Embedding(self.vocab_size, self.d_model)
        self.pos_emb = nn.Embedding(self.max_len, self.d_model)
        # GPT-2's initialisation: small embeddings, so the pre-norm residual stream starts small
        nn.init.normal_(self.token_emb.weight, std=0.02)
        nn.init.normal_(self.pos_emb.weight, std=0.02)
        self.layers = nn.ModuleList(
            TransformerDecoderLayer(self.d_model, num_heads, dim_feedforward, norm_first=True,
                                    activation="gelu", cross_attention=False)
            for _ in range(self.num_layers)
        )
        self.num_heads = self.layers[0].self_attn.num_heads
        self.final_norm = nn.LayerNorm(self.d_model)
        self.head = nn.Linear(self.d_model, self.vocab_size)

    def _forward(self, ids, cache=None):
        start = 0 if cache is None else cache.seq_len
        positions = torch.arange(start, start + ids.shape[1], device=ids.device)
        x = self.token_emb(ids) + self.pos_emb(positions)  # (B, T, D)
        for index, layer in enumerate(self.layers):
            x = layer(x, cache=cache, layer_index=index)  # (B, T, D)
        return self.head(self.final_norm(x))  # (B, T, V)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` token ids -> ``(B, T, vocab_size)`` next-token logits."""
        _check_token_ids(ids, "ids", self.vocab_size, self.max_len)
        return self._forward(ids)

    @property
    def attn_weights(self) -> list:
        """The last call's causal self-attention weights of every layer: a list of ``(B, H, T, T)``."""
        return [layer.self_attn_weights for layer in self.layers]

    def new_cache(self, batch_size: int, max_len: int | None = None) -> KVCache:
        """An empty :class:`attnkit.KVCache` shaped for this model."""
        p = self.token_emb.weight
        return KVCache(self.num_layers, batch_size, self.num_heads, max_len or self.max_len,
                       self.d_model // self.num_heads, dtype=p.dtype, device=p.device)

    def generate(self, ids: torch.Tensor, max_new_tokens: int, use_cache: bool = True,
                 temperature: float = 0.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """Append ``max_new_tokens`` tokens to ``ids`` ``(B, T)`` or ``(T,)``; same rank back.

        ``temperature=0`` picks the most likely token (greedy); above 0 it samples from
        ``softmax(logits / temperature)`` with ``generator``. ``use_cache=True`` runs the prompt
        once into a KV cache and then feeds one token per step; ``False`` recomputes the prefix.
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
        _check_token_ids(ids, "ids", self.vocab_size, self.max_len, extra=max_new_tokens)
        was_training = self.training
        self.eval()
        out = torch.empty(ids.shape[0], ids.shape[1] + max_new_tokens, dtype=torch.long, device=ids.device)
        out[:, : ids.shape[1]] = ids
        length = ids.shape[1]
        cache = self.new_cache(ids.shape[0], length + max_new_tokens) if use_cache else None
        step_input = ids
        # inference mode: no autograd bookkeeping at all, which is most of a one-token step's overhead
        with torch.inference_mode():
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
        self.train(was_training)
        out = out.clone()  # a normal tensor again, usable anywhere (inference tensors are not)
        return out[0] if unbatched else out


def next_token_loss(model: nn.Module, batch: tuple) -> torch.Tensor:
    """Cross-entropy of ``model(ids)`` against ``targets`` (``ids`` shifted by one), all positions.

    Examples
    --------
    >>> lm = CausalLM(vocab_size=5, d_model=8, num_heads=2, num_layers=1, max_len=8)
    >>> ids = torch.tensor([[0, 1, 2, 3, 4]])
    >>> next_token_loss(lm, (ids[:, :-1], ids[:, 1:])).shape
    torch.Size([])
    """
    ids, targets = batch  # (B, T) each
    return F.cross_entropy(model(ids).flatten(0, 1), targets.flatten())


class TinySeq2Seq(nn.Module):
    """An encoder–decoder Transformer for the toy tasks (lesson 07).

    The encoder (``num_encoder_layers`` :class:`attnkit.TransformerEncoderLayer`) reads the
    source; the decoder (``num_decoder_layers`` :class:`attnkit.TransformerDecoderLayer`)
    writes the target one token at a time: causal self-attention over what it has written,
    cross-attention from its positions (queries) to the encoder output (keys and values).
    The decoder's input is the target shifted right behind a start token ``bos_id =
    vocab_size`` (:meth:`shift_right`). Sinusoidal positions on both sides.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> model = TinySeq2Seq(vocab_size=10, d_model=16, num_heads=2, max_len=8)
    >>> src = torch.tensor([[3, 1, 4, 1, 5]])
    >>> model(src, model.shift_right(src)).shape  # teacher forcing: (B, T, vocab_size)
    torch.Size([1, 5, 10])
    >>> model.cross_attn_weights[0].shape  # (B, H, T target, S source)
    torch.Size([1, 2, 5, 5])
    >>> model.generate(src).shape  # greedy, one token at a time
    torch.Size([1, 5])
    """

    def __init__(self, vocab_size: int, d_model: int = 32, num_heads: int = 4, num_encoder_layers: int = 1,
                 num_decoder_layers: int = 1, max_len: int = 16, dim_feedforward: int | None = None,
                 norm_first: bool = False):
        super().__init__()
        self.vocab_size = require_int(vocab_size, "vocab_size", minimum=1)
        self.d_model = require_int(d_model, "d_model", minimum=1)
        self.max_len = require_int(max_len, "max_len", minimum=1)
        num_encoder_layers = require_int(num_encoder_layers, "num_encoder_layers", minimum=1)
        num_decoder_layers = require_int(num_decoder_layers, "num_decoder_layers", minimum=1)
        self.bos_id = self.vocab_size
        self.src_embed = nn.Embedding(self.vocab_size, self.d_model)
        self.tgt_embed = nn.Embedding(self.vocab_size + 1, self.d_model)  # + the start token
        self.register_buffer("pos_table", sinusoidal_positions(self.max_len, self.d_model))
        self.encoder = nn.ModuleList(
            TransformerEncoderLayer(self.d_model, num_heads, dim_feedforward, norm_first=norm_first)
            for _ in range(num_encoder_layers))
        self.decoder = nn.ModuleList(
            TransformerDecoderLayer(self.d_model, num_heads, dim_feedforward, norm_first=norm_first)
            for _ in range(num_decoder_layers))
        final = nn.LayerNorm if norm_first else nn.Identity  # pre-norm: normalise the stream once at the end
        self.encoder_norm, self.decoder_norm = final(self.d_model), final(self.d_model)
        self.head = nn.Linear(self.d_model, self.vocab_size)

    def shift_right(self, targets: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` targets -> decoder input ``[bos, t_0, ..., t_{T-2}]`` ``(B, T)``."""
        _check_token_ids(targets, "targets", self.vocab_size, self.max_len)
        bos = torch.full_like(targets[:, :1], self.bos_id)
        return torch.cat([bos, targets[:, :-1]], dim=1)

    def encode(self, src: torch.Tensor) -> torch.Tensor:
        """``(B, S)`` source ids -> encoder output (the decoder's ``memory``) ``(B, S, D)``."""
        _check_token_ids(src, "src", self.vocab_size, self.max_len)
        x = self.src_embed(src) + self.pos_table[: src.shape[1]]  # (B, S, D)
        for layer in self.encoder:
            x = layer(x)
        return self.encoder_norm(x)

    def decode(self, tgt_in: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        """Decoder input ``(B, T)`` (start token first) and ``memory`` ``(B, S, D)`` -> logits ``(B, T, V)``."""
        _check_token_ids(tgt_in, "tgt_in", self.vocab_size + 1, self.max_len)
        x = self.tgt_embed(tgt_in) + self.pos_table[: tgt_in.shape[1]]  # (B, T, D)
        for layer in self.decoder:
            x = layer(x, memory)  # causal self-attention, then cross-attention to memory
        return self.head(self.decoder_norm(x))  # (B, T, V)

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: ``src`` ``(B, S)``, ``tgt_in`` ``(B, T)`` -> logits ``(B, T, vocab_size)``."""
        return self.decode(tgt_in, self.encode(src))

    @torch.no_grad()
    def generate(self, src: torch.Tensor, length: int | None = None) -> torch.Tensor:
        """Greedy decoding: ``(B, S)`` source -> ``(B, length)`` tokens (``length`` = ``S`` by default).

        The source is encoded once; each step runs the decoder on what it has written so far.
        """
        memory = self.encode(src)  # (B, S, D)
        length = src.shape[1] if length is None else require_int(length, "length", minimum=1)
        if length > self.max_len:
            raise ValueError(f"length={length} is more than max_len={self.max_len}")
        was_training = self.training
        self.eval()
        out = torch.full((src.shape[0], length + 1), self.bos_id, dtype=torch.long, device=src.device)
        for t in range(length):
            out[:, t + 1] = self.decode(out[:, : t + 1], memory)[:, -1].argmax(-1)  # (B,)
        self.train(was_training)
        return out[:, 1:]

    @property
    def cross_attn_weights(self) -> list:
        """The last call's cross-attention weights of every decoder layer: a list of ``(B, H, T, S)``."""
        return [layer.cross_attn_weights for layer in self.decoder]


def seq2seq_loss(model: TinySeq2Seq, batch: tuple) -> torch.Tensor:
    """Teacher-forced cross-entropy of a :class:`TinySeq2Seq` on ``(src, targets)``, every position."""
    src, targets = batch
    logits = model(src, model.shift_right(targets))  # (B, T, V)
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten())


def train_seq2seq(task: str = "reverse", length: int = 8, vocab_size: int = 10, steps: int = 300,
                  batch_size: int = 64, lr: float = 3e-3, seed: int = 0, progress: bool = True,
                  **model_kwargs) -> tuple[TinySeq2Seq, list[float]]:
    """Build a :class:`TinySeq2Seq` after seeding and train it on a toy task (as :func:`train_tiny_transformer`).

    Examples
    --------
    >>> model, losses = train_seq2seq("copy", length=4, steps=30, d_model=16, num_heads=2, progress=False)
    >>> len(losses), losses[-1] < losses[0]
    (30, True)
    """
    length = require_int(length, "length", minimum=1)
    steps = require_int(steps, "steps", minimum=1)
    batch_size = require_int(batch_size, "batch_size", minimum=1)
    if task == "recall":
        raise ValueError("task must be 'copy', 'reverse' or 'sort' (recall's targets are mostly ignored)")
    toy_batch(task, 1, length, vocab_size)  # validates task, length and vocab_size early
    torch.manual_seed(seed)
    model_kwargs.setdefault("max_len", length)
    model = TinySeq2Seq(vocab_size, **model_kwargs)
    losses = train(
        model, lambda g: toy_batch(task, batch_size, length, vocab_size, generator=g), seq2seq_loss,
        steps=steps, lr=lr, seed=seed, warmup=max(1, steps // 10), clip=1.0, progress=progress,
        desc=f"{task} encoder-decoder (T={length})",
    )
    model.eval()
    return model, losses


@torch.no_grad()
def seq2seq_accuracy(model: TinySeq2Seq, task: str, length: int, vocab_size: int = 10,
                     batch_size: int = 512, seed: int = 12345) -> tuple[float, float]:
    """Greedy decoding on a fresh seeded batch: ``(token accuracy, whole-sequence accuracy)``.

    Examples
    --------
    >>> model = TinySeq2Seq(vocab_size=10, d_model=16, num_heads=2, max_len=6)
    >>> tokens, sequences = seq2seq_accuracy(model, "reverse", 6, batch_size=8)
    >>> 0.0 <= sequences <= tokens <= 1.0
    True
    """
    batch_size = require_int(batch_size, "batch_size", minimum=1)
    generator = torch.Generator().manual_seed(require_int(seed, "seed"))
    src, targets = toy_batch(task, batch_size, length, vocab_size, generator=generator)
    pred = model.generate(src)  # (B, T)
    return (round((pred == targets).float().mean().item(), 6),
            round((pred == targets).all(dim=1).float().mean().item(), 6))


# --- character-level language modelling (lesson 11 and the KV-cache benchmark) ---


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
    """A tiny decoder-only (GPT-style) language model with a KV-cached ``generate`` (benchmarks; lesson 11).

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


# --- lesson 09 ---


__all__ += ["POSITION_SCHEMES", "PositionsModel", "train_positions_model", "accuracy_by_position"]

POSITION_SCHEMES = ("none", "learned", "sinusoidal", "rope", "alibi")


class PositionsModel(nn.Module):
    """A small causal Transformer whose only variable is how it knows positions (lesson 09).

    Token embedding, then ``num_layers`` pre-norm blocks (causal multi-head self-attention,
    then a GELU MLP, each in a residual), a final LayerNorm and a linear read-out. The
    ``positions`` scheme is the one thing that changes:

    * ``"none"``: no positional information at all (only the causal mask breaks the symmetry);
    * ``"learned"``: an ``nn.Embedding(max_len, D)`` added to the tokens (as in lessons 05, 08);
    * ``"sinusoidal"``: :func:`attnkit.sinusoidal_positions` added to the tokens (lesson 04);
    * ``"rope"``: :func:`attnkit.apply_rope` on every head's queries and keys;
    * ``"alibi"``: :func:`attnkit.alibi_bias` added to every layer's scores.

    Only ``"learned"`` is tied to ``max_len``: a longer input raises ``ValueError`` unless
    ``clamp_positions=True``, which gives every position from ``max_len - 1`` on the last
    learned vector (the others have no use for ``max_len``).

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> model = PositionsModel(vocab_size=10, positions="rope", d_model=16, num_heads=2, max_len=8)
    >>> model(torch.randint(0, 10, (3, 20))).shape  # (B, T, V); RoPE has no length limit
    torch.Size([3, 20, 10])
    >>> learned = PositionsModel(vocab_size=10, positions="learned", d_model=16, max_len=8)
    >>> learned(torch.zeros(1, 12, dtype=torch.long), clamp_positions=True).shape
    torch.Size([1, 12, 10])
    """

    def __init__(self, vocab_size: int, positions: str, d_model: int = 32, num_heads: int = 2,
                 num_layers: int = 2, max_len: int = 16, rope_base: float = 10000.0):
        super().__init__()
        if positions not in POSITION_SCHEMES:
            raise ValueError(f"positions must be one of {POSITION_SCHEMES}, got {positions!r}")
        self.vocab_size = require_int(vocab_size, "vocab_size", minimum=1)
        d_model = require_int(d_model, "d_model", minimum=1)
        self.num_heads = require_int(num_heads, "num_heads", minimum=1)
        num_layers = require_int(num_layers, "num_layers", minimum=1)
        self.max_len = require_int(max_len, "max_len", minimum=1)
        if d_model % self.num_heads:
            raise ValueError(f"d_model={d_model} is not divisible by num_heads={self.num_heads}")
        self.head_dim = d_model // self.num_heads
        if positions == "rope" and self.head_dim % 2:
            raise ValueError(f"RoPE needs an even head width, got d_model / num_heads = {self.head_dim}")
        self.positions, self.d_model = positions, d_model
        self.rope_base = require_number(rope_base, "rope_base")
        self.token_emb = nn.Embedding(self.vocab_size, d_model)
        if positions == "learned":
            self.pos_emb = nn.Embedding(self.max_len, d_model)
        self.blocks = nn.ModuleList(
            nn.ModuleDict({"ln1": nn.LayerNorm(d_model), "qkv": nn.Linear(d_model, 3 * d_model),
                           "out": nn.Linear(d_model, d_model), "ln2": nn.LayerNorm(d_model),
                           "mlp": nn.Sequential(nn.Linear(d_model, 2 * d_model), nn.GELU(),
                                                nn.Linear(2 * d_model, d_model))})
            for _ in range(num_layers)
        )
        self.ln_f = nn.LayerNorm(d_model)
        self.readout = nn.Linear(d_model, self.vocab_size)
        self.attn_weights: list[torch.Tensor] = []

    def forward(self, tokens: torch.Tensor, clamp_positions: bool = False) -> torch.Tensor:
        """``(B, T)`` token ids -> ``(B, T, vocab_size)`` logits; each block's weights in ``attn_weights``."""
        if not isinstance(tokens, torch.Tensor) or tokens.dtype != torch.long or tokens.dim() != 2:
            raise TypeError(f"tokens must be a (B, T) int64 tensor, got "
                            f"{getattr(tokens, 'dtype', type(tokens).__name__)} "
                            f"{shape_str(tokens.shape) if isinstance(tokens, torch.Tensor) else ''}")
        B, T = tokens.shape
        if tokens.numel() and (tokens.min() < 0 or tokens.max() >= self.vocab_size):
            raise ValueError(f"token ids must lie in 0..{self.vocab_size - 1}, got "
                             f"{tokens.min().item()}..{tokens.max().item()}")
        x = self.token_emb(tokens)  # (B, T, D)
        if self.positions == "learned":
            if T > self.max_len and not clamp_positions:
                raise ValueError(f"sequence length {T} exceeds max_len={self.max_len}: learned positions "
                                 f"have no vector beyond it (pass clamp_positions=True to reuse the last one)")
            x = x + self.pos_emb(torch.arange(T).clamp(max=self.max_len - 1))  # (B, T, D)
        elif self.positions == "sinusoidal":
            x = x + sinusoidal_positions(T, self.d_model)  # (B, T, D)
        mask = causal_mask(T)  # (T, T)
        if self.positions == "alibi":
            mask = alibi_bias(self.num_heads, T).masked_fill(~mask, float("-inf"))  # (H, T, T)
        self.attn_weights = []
        for block in self.blocks:
            qkv = block["qkv"](block["ln1"](x)).view(B, T, 3, self.num_heads, self.head_dim)
            q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, H, T, Dh)
            if self.positions == "rope":
                q, k = apply_rope(q, base=self.rope_base), apply_rope(k, base=self.rope_base)
            context, weights = _attend(q, k, v, mask, self.head_dim ** -0.5)  # (B, H, T, Dh), (B, H, T, T)
            self.attn_weights.append(weights.detach())
            x = x + block["out"](context.transpose(1, 2).reshape(B, T, self.d_model))  # (B, T, D)
            x = x + block["mlp"](block["ln2"](x))
        return self.readout(self.ln_f(x))  # (B, T, V)


def train_positions_model(positions: str, length: int = 16, offset: int = 3, vocab_size: int = 16,
                          steps: int = 300, batch_size: int = 32, lr: float = 3e-3, seed: int = 0,
                          progress: bool = True, **model_kwargs) -> tuple[PositionsModel, list[float]]:
    """Train a :class:`PositionsModel` on :func:`attnkit.offset_lookup_batch` sequences of ``length``.

    Every scheme gets the same recipe: the model is built after seeding with ``seed``, then
    :func:`attnkit.train` runs ``steps`` AdamW steps at ``lr`` (warm-up of ``steps // 10``,
    gradient clipping at 1) on fresh seeded batches of exactly ``length`` tokens.

    Returns
    -------
    model : PositionsModel, in eval mode, ``max_len = length``
    losses : list of float, one per step

    Examples
    --------
    >>> model, losses = train_positions_model("rope", length=8, offset=1, steps=20, d_model=16,
    ...                                       progress=False)
    >>> len(losses), model.max_len
    (20, 8)
    """
    from .data import offset_lookup_batch

    length = require_int(length, "length", minimum=1)
    batch_size = require_int(batch_size, "batch_size", minimum=1)
    offset_lookup_batch(1, length, offset, vocab_size)  # validates length, offset, vocab_size early
    torch.manual_seed(seed)
    model = PositionsModel(vocab_size, positions, max_len=length, **model_kwargs)

    def loss_fn(m, batch):
        inputs, targets = batch
        return F.cross_entropy(m(inputs).flatten(0, 1), targets.flatten(), ignore_index=-100)

    losses = train(model, lambda g: offset_lookup_batch(batch_size, length, offset, vocab_size, generator=g),
                   loss_fn, steps=steps, lr=lr, seed=seed, warmup=max(1, steps // 10), clip=1.0,
                   progress=progress, desc=f"{positions} (T={length})")
    return model, losses


@torch.no_grad()
def accuracy_by_position(model: PositionsModel, length: int, offset: int = 3, vocab_size: int = 16,
                         batch_size: int = 256, seed: int = 12345) -> torch.Tensor:
    """Accuracy at each position of fresh seeded sequences of ``length``: ``(length,)``, NaN where no target.

    The model is causal, so its prediction at position ``t`` does not depend on anything after
    ``t``: accuracy at position ``t`` of long sequences is accuracy at the last position of
    sequences of length ``t + 1``. A ``"learned"`` model is run with ``clamp_positions=True``.

    Examples
    --------
    >>> model = PositionsModel(vocab_size=16, positions="alibi", d_model=16, max_len=8)
    >>> acc = accuracy_by_position(model, 12, offset=3)
    >>> acc.shape, bool(acc[:3].isnan().all()), bool(((acc[3:] >= 0) & (acc[3:] <= 1)).all())
    (torch.Size([12]), True, True)
    """
    from .data import offset_lookup_batch

    if not isinstance(model, PositionsModel):
        raise TypeError(f"model must be a PositionsModel, got {type(model).__name__}")
    generator = torch.Generator().manual_seed(require_int(seed, "seed"))
    inputs, targets = offset_lookup_batch(batch_size, length, offset, vocab_size, generator=generator)
    was_training = model.training
    model.eval()
    logits = model(inputs, clamp_positions=True)  # (B, T, V)
    model.train(was_training)
    valid = targets != -100  # (B, T)
    right = ((logits.argmax(-1) == targets) & valid).sum(0).float()  # (T,)
    counts = valid.sum(0).float()  # (T,)
    return torch.where(counts > 0, right / counts.clamp_min(1), torch.full_like(counts, float("nan")))


# --- lesson 11 ---


__all__ += ["RotaryLM"]


class _RotaryBlock(nn.Module):
    """Pre-norm decoder block with rotary positions, grouped-query attention and an optional window."""

    def __init__(self, d_model: int, num_heads: int, num_kv_heads: int, window: int | None):
        super().__init__()
        self.num_heads, self.num_kv_heads = num_heads, num_kv_heads
        self.head_dim, self.window = d_model // num_heads, window
        self.ln1 = nn.LayerNorm(d_model)
        self.q_proj = nn.Linear(d_model, d_model)
        self.kv_proj = nn.Linear(d_model, 2 * num_kv_heads * self.head_dim)  # K and V, Hkv heads each
        self.out = nn.Linear(d_model, d_model)
        self.ln2 = nn.LayerNorm(d_model)
        self.fc1 = nn.Linear(d_model, 4 * d_model)
        self.fc2 = nn.Linear(4 * d_model, d_model)
        self.attn_weights: torch.Tensor | None = None

    def forward(self, x, start=0, layer_index=0, cache=None):
        B, T, D = x.shape
        h = self.ln1(x)
        q = self.q_proj(h).view(B, T, self.num_heads, self.head_dim).transpose(1, 2)  # (B, H, T, Dh)
        kv = self.kv_proj(h).view(B, T, 2, self.num_kv_heads, self.head_dim)
        k, v = kv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, Hkv, T, Dh)
        q_pos = torch.arange(start, start + T, device=x.device)
        k_pos = q_pos
        if cache is not None:  # the cache stores k un-rotated and says where to rotate each key
            stored = cache.update(layer_index, k, v)
            k, v = stored[0], stored[1]  # (B, Hkv, S, Dh): whatever the cache keeps
            k_pos = stored[2] if len(stored) == 3 else torch.arange(k.shape[2], device=x.device)
        q, k = _apply_rotary(q, q_pos), _apply_rotary(k, k_pos)
        distance = q_pos[:, None] - k_pos[None, :]  # (T, S)
        mask = distance >= 0  # causal
        if self.window is not None:
            mask &= distance < self.window  # the key is one of the last `window` tokens
        group = self.num_heads // self.num_kv_heads
        if group > 1:
            k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)  # (B, H, S, Dh)
        context, weights = _attend(q, k, v, None if bool(mask.all()) else mask, self.head_dim ** -0.5)
        self.attn_weights = weights.detach()  # (B, H, T, S)
        x = x + self.out(context.transpose(1, 2).reshape(B, T, D))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x)), approximate="tanh"))


class RotaryLM(nn.Module):
    """A tiny decoder-only LM as today's LLMs build it: rotary positions, GQA, optional sliding window (lesson 11).

    Token embeddings (no position table: positions enter as rotations of the queries and
    keys, RoPE, Su et al. 2021, so the model runs at any length), ``num_layers`` pre-norm
    blocks of causal self-attention with ``num_kv_heads`` key/value heads shared by
    groups of the ``num_heads`` query heads (``None`` = ordinary multi-head, ``1`` =
    multi-query) and a GELU MLP, a final LayerNorm, a read-out tied to the embedding.
    With ``window`` a query reads only the last ``window`` tokens (itself included), in
    training and in generation.

    Generation with a cache feeds one token at a time through any cache of
    :mod:`attnkit.caches` or an :class:`attnkit.KVCache` (``update(layer, k, v)``),
    so the same weights run with a full, rolling or paged cache. Each block keeps its
    last attention weights in ``blocks[i].attn_weights`` ``(B, H, Tq, Tk)``.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> lm = RotaryLM(vocab_size=11, d_model=16, num_heads=4, num_kv_heads=2, num_layers=2)
    >>> lm(torch.zeros(3, 5, dtype=torch.long)).shape
    torch.Size([3, 5, 11])
    >>> prompt = torch.tensor([[1, 2, 3]])
    >>> fast = lm.generate(prompt, max_new_tokens=6, use_cache=True)
    >>> slow = lm.generate(prompt, max_new_tokens=6, use_cache=False)
    >>> fast.shape, bool((fast == slow).all()), lm.cache_bytes_per_token()  # 2 x 2 layers x 2 x 4 x 4 B
    (torch.Size([1, 9]), True, 128)
    """

    def __init__(self, vocab_size: int, d_model: int = 64, num_heads: int = 4,
                 num_kv_heads: int | None = None, num_layers: int = 2, window: int | None = None):
        super().__init__()
        vocab_size = require_int(vocab_size, "vocab_size", minimum=1)
        d_model = require_int(d_model, "d_model", minimum=1)
        num_heads = require_int(num_heads, "num_heads", minimum=1)
        num_layers = require_int(num_layers, "num_layers", minimum=1)
        num_kv_heads = num_heads if num_kv_heads is None else require_int(num_kv_heads, "num_kv_heads", 1)
        if d_model % num_heads or (d_model // num_heads) % 2:
            raise ValueError(f"d_model={d_model} must split into num_heads={num_heads} heads of even width "
                             f"(rotary positions turn pairs of features)")
        if num_heads % num_kv_heads:
            raise ValueError(f"num_heads={num_heads} is not a multiple of num_kv_heads={num_kv_heads}")
        if window is not None:
            window = require_int(window, "window", minimum=1)
        self.vocab_size, self.d_model, self.num_heads = vocab_size, d_model, num_heads
        self.num_kv_heads, self.num_layers, self.window = num_kv_heads, num_layers, window
        self.head_dim = d_model // num_heads
        self.token_emb = nn.Embedding(vocab_size, d_model)
        nn.init.normal_(self.token_emb.weight, std=0.02)
        self.blocks = nn.ModuleList(_RotaryBlock(d_model, num_heads, num_kv_heads, window)
                                    for _ in range(num_layers))
        self.ln_f = nn.LayerNorm(d_model)

    def _check_ids(self, ids):
        if not isinstance(ids, torch.Tensor):
            raise TypeError(f"ids must be a torch.Tensor of token ids, got {type(ids).__name__}")
        if ids.is_floating_point() or ids.dtype == torch.bool:
            raise TypeError(f"ids must hold integers, got dtype {ids.dtype}")
        if ids.dim() != 2 or ids.shape[1] == 0:
            raise ValueError(f"ids must be (B, T) with T >= 1, got shape {shape_str(ids.shape)}")
        if int(ids.min()) < 0 or int(ids.max()) >= self.vocab_size:
            raise ValueError(f"ids must lie in 0 .. {self.vocab_size - 1}, got values from "
                             f"{int(ids.min())} to {int(ids.max())}")

    def _forward(self, ids, start=0, cache=None):
        x = self.token_emb(ids)  # (B, T, D)
        for index, block in enumerate(self.blocks):
            x = block(x, start, index, cache)
        return self.ln_f(x) @ self.token_emb.weight.T  # (B, T, V)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` token ids -> ``(B, T, vocab_size)`` next-token logits, no cache."""
        self._check_ids(ids)
        return self._forward(ids)

    def cache_bytes_per_token(self) -> int:
        """Bytes one token adds to a KV cache: ``2 x layers x num_kv_heads x head_dim x bytes``."""
        p = self.token_emb.weight
        return kv_cache_bytes(self.num_layers, self.num_kv_heads, self.head_dim,
                              bytes_per_value=p.element_size())

    def new_cache(self, batch_size: int, max_len: int) -> KVCache:
        """An empty contiguous :class:`attnkit.KVCache` for ``max_len`` tokens (``num_kv_heads`` heads)."""
        p = self.token_emb.weight
        return KVCache(self.num_layers, batch_size, self.num_kv_heads, max_len, self.head_dim,
                       dtype=p.dtype, device=p.device)

    @torch.no_grad()
    def forward_cached(self, ids: torch.Tensor, cache) -> torch.Tensor:
        """Feed ``ids`` ``(B, T)`` one token at a time through ``cache``; ``(B, T, V)`` logits back.

        The cache keeps whatever it keeps (every token, the last ``window``, pages): the
        logits at each position are computed from the keys and values it returns.
        """
        self._check_ids(ids)
        logits = [self._forward(ids[:, i:i + 1], cache.seq_len, cache) for i in range(ids.shape[1])]
        return torch.cat(logits, dim=1)  # (B, T, V)

    def generate(self, ids: torch.Tensor, max_new_tokens: int, use_cache: bool = True,
                 cache=None) -> torch.Tensor:
        """Greedily append ``max_new_tokens`` tokens to ``ids`` ``(B, T)``.

        ``use_cache=True`` runs through ``cache`` (a new contiguous :meth:`new_cache` when
        ``None``), one token per step; ``use_cache=False`` recomputes the whole sequence
        at every step. With a cache that keeps every token needed, both give the same tokens.
        """
        if not isinstance(use_cache, bool):
            raise TypeError(f"use_cache must be True or False, got {use_cache!r}")
        if cache is not None and not use_cache:
            raise ValueError("a cache was given with use_cache=False: pass one or the other")
        if cache is not None and not hasattr(cache, "update"):
            raise TypeError(f"cache must have update(layer, key, value), got {type(cache).__name__}")
        max_new_tokens = require_int(max_new_tokens, "max_new_tokens")
        self._check_ids(ids)
        was_training = self.training
        self.eval()
        out = torch.empty(ids.shape[0], ids.shape[1] + max_new_tokens, dtype=torch.long)
        out[:, : ids.shape[1]] = ids  # preallocated: no torch.cat per step
        length = ids.shape[1]
        with torch.inference_mode():
            if use_cache:
                if cache is None:
                    cache = self.new_cache(ids.shape[0], length + max_new_tokens)
                logits = torch.cat([self._forward(ids[:, i:i + 1], cache.seq_len, cache)
                                    for i in range(length)], dim=1)  # the prompt, token by token
            for step in range(max_new_tokens):
                if not use_cache:
                    logits = self._forward(out[:, :length])  # the whole prefix again
                elif step > 0:
                    logits = self._forward(out[:, length - 1:length], cache.seq_len, cache)  # (B, 1, V)
                out[:, length] = logits[:, -1].argmax(dim=-1)
                length += 1
        self.train(was_training)
        return out.clone()
