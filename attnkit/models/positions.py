"""A small causal Transformer whose only variable is how it knows positions (lesson 09)."""


from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .._validate import require_int, require_number, shape_str
from ..attention import _attend
from ..masks import causal_mask
from ..positional import alibi_bias, apply_rope, sinusoidal_positions
from ..train import train

__all__: list[str] = []

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
    from ..data import offset_lookup_batch

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
    from ..data import offset_lookup_batch

    if not isinstance(model, PositionsModel):
        raise TypeError(f"model must be a PositionsModel, got {type(model).__name__}")
    generator = torch.Generator().manual_seed(require_int(seed, "seed"))
    inputs, targets = offset_lookup_batch(batch_size, length, offset, vocab_size, generator=generator)
    was_training = model.training
    model.eval()
    # 32 sequences at a time: the same predictions, with a fraction of the (B, H, T, T) weights in memory
    logits = torch.cat([model(chunk, clamp_positions=True) for chunk in inputs.split(32)])  # (B, T, V)
    model.train(was_training)
    valid = targets != -100  # (B, T)
    right = ((logits.argmax(-1) == targets) & valid).sum(0).float()  # (T,)
    counts = valid.sum(0).float()  # (T,)
    return torch.where(counts > 0, right / counts.clamp_min(1), torch.full_like(counts, float("nan")))
