"""An attention-only model whose heads can be read and switched off (lesson 05)."""


from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .._validate import require_int, require_tensor, shape_str
from ..attention import attention
from ..layers import MultiHeadAttention
from ..masks import causal_mask

__all__: list[str] = []

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
