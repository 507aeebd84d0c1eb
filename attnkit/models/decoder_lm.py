"""The decoder side: a causal language model and an encoder-decoder (lesson 07)."""


from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .._validate import require_int, shape_str
from ..data import toy_batch
from ..decoder import TransformerDecoderLayer
from ..layers import TransformerEncoderLayer
from ..positional import sinusoidal_positions
from ..train import train
from .generation import CachedGeneration

__all__: list[str] = []

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


class CausalLM(CachedGeneration, nn.Module):
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

    def _check_ids(self, ids, extra: int = 0) -> None:
        _check_token_ids(ids, "ids", self.vocab_size, self.max_len, extra=extra)


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
