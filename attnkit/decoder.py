"""The Transformer decoder layer: causal self-attention, cross-attention, feed-forward (lesson 07).

Invariant: a decoder position reads only earlier (and its own) positions of its own sequence
(the causal mask), and any position of the encoder's output (cross-attention: queries from the
decoder, keys and values from the encoder). Built from :class:`attnkit.MultiHeadAttention` and
proven equal to PyTorch's ``nn.TransformerDecoderLayer`` by ``from_torch``, outputs and gradients.
Without cross-attention (``cross_attention=False``) the layer is the block of a decoder-only
(GPT-style) language model.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ._validate import require_int, require_tensor, shape_str
from .attention import _attend
from .layers import MultiHeadAttention

__all__ = ["TransformerDecoderLayer"]

_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


def _check_sequence(x, name: str, d_model: int) -> None:
    require_tensor(x, name)
    if x.dim() not in (2, 3) or x.shape[-1] != d_model:
        raise ValueError(
            f"{name} must be (B, T, {d_model}) or (T, {d_model}) for this layer's d_model={d_model}, "
            f"got shape {shape_str(x.shape)}"
        )


class TransformerDecoderLayer(nn.Module):
    """Causal self-attention, cross-attention to the encoder, feed-forward; residual + LayerNorm each.

    Post-norm (``norm_first=False``, the 2017 paper)::

        x = norm1(x + self_attn(x))           # causal: position i reads positions <= i
        x = norm2(x + cross_attn(x, memory))  # queries from x, keys/values from the encoder
        x = norm3(x + feed_forward(x))

    Pre-norm (``norm_first=True``) moves each norm inside its branch: ``x = x + block(norm(x))``
    (the ``memory`` is not normalised by this layer). With ``cross_attention=False`` the middle
    block (and ``norm2``) is absent: the block of a decoder-only language model.
    The last weights are kept in ``self_attn_weights`` ``(B, H, T, T)`` and
    ``cross_attn_weights`` ``(B, H, T, S)`` for plotting.

    Parameters
    ----------
    d_model, num_heads : int
        Width ``D`` and heads ``H`` (``D`` divisible by ``H``).
    dim_feedforward : int, optional
        Hidden width of the feed-forward block; ``4 * d_model`` by default.
    dropout : float
        Dropout on the attention weights and on each block's output, in training mode only.
    norm_first : bool
        Pre-norm (``True``) or post-norm (``False``, PyTorch's default).
    activation : {"relu", "gelu"}
    layer_norm_eps : float
    bias : bool
        Biases in the projections, the feed-forward layers and the LayerNorms.
    cross_attention : bool
        ``False`` for a decoder-only block (no ``memory``).

    Examples
    --------
    >>> layer = TransformerDecoderLayer(d_model=8, num_heads=2, dim_feedforward=16)
    >>> x, memory = torch.randn(3, 5, 8), torch.randn(3, 7, 8)  # decoder (B, T, D), encoder (B, S, D)
    >>> layer(x, memory).shape
    torch.Size([3, 5, 8])
    >>> layer.self_attn_weights.shape, layer.cross_attn_weights.shape
    (torch.Size([3, 2, 5, 5]), torch.Size([3, 2, 5, 7]))
    >>> bool((layer.self_attn_weights[0, 0].triu(1) == 0).all())  # causal: nothing above the diagonal
    True
    """

    def __init__(
        self, d_model: int, num_heads: int, dim_feedforward: int | None = None,
        dropout: float = 0.0, norm_first: bool = False, activation: str = "relu",
        layer_norm_eps: float = 1e-5, bias: bool = True, cross_attention: bool = True,
    ):
        super().__init__()
        d_model = require_int(d_model, "d_model", minimum=1)
        if dim_feedforward is None:
            dim_feedforward = 4 * d_model
        dim_feedforward = require_int(dim_feedforward, "dim_feedforward", minimum=1)
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        if not isinstance(cross_attention, bool):
            raise TypeError(f"cross_attention must be True or False, got {cross_attention!r}")
        self.d_model = d_model
        self.self_attn = MultiHeadAttention(d_model, num_heads, bias=bias, dropout=dropout)
        self.cross_attn = (MultiHeadAttention(d_model, num_heads, bias=bias, dropout=dropout)
                           if cross_attention else None)
        self.linear1 = nn.Linear(d_model, dim_feedforward, bias=bias)
        self.linear2 = nn.Linear(dim_feedforward, d_model, bias=bias)
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias) if cross_attention else None
        self.norm3 = nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.dropout = nn.Dropout(dropout)
        self.norm_first, self.activation = bool(norm_first), activation
        self.self_attn_weights: torch.Tensor | None = None
        self.cross_attn_weights: torch.Tensor | None = None

    def _self_attention_block(self, x, mask, cache, layer_index):
        if cache is None:
            out, weights = self.self_attn(x, x, x, mask=mask)
        else:  # decoding with a KV cache: project the new tokens only, read the old keys/values
            mha = self.self_attn
            q, k, v = (mha.split_heads(proj(x)) for proj in (mha.q_proj, mha.k_proj, mha.v_proj))  # (B, H, T, Dh)
            start = cache.lengths[layer_index]
            k, v = cache.update(layer_index, k, v)  # (B, H, start + T, Dh)
            T = x.shape[1]
            # query i sits at position start + i and may read keys 0 .. start + i
            keep = None if T == 1 else torch.ones(T, start + T, dtype=torch.bool, device=x.device).tril(start)
            context, weights = _attend(q, k, v, keep, mha.head_dim ** -0.5)  # (B, H, T, Dh)
            out = mha.out_proj(mha.merge_heads(context))  # (B, T, D)
        self.self_attn_weights = weights.detach()
        return self.dropout(out)

    def _cross_attention_block(self, x, memory, mask):
        out, weights = self.cross_attn(x, memory, memory, mask=mask)  # (B, T, D), (B, H, T, S)
        self.cross_attn_weights = weights.detach()
        return self.dropout(out)

    def _feed_forward_block(self, x):
        hidden = self.dropout(_ACTIVATIONS[self.activation](self.linear1(x)))  # (B, T, F)
        return self.dropout(self.linear2(hidden))  # (B, T, D)

    def _self_mask(self, x, causal, self_mask, cache):
        if not isinstance(causal, bool):
            raise TypeError(f"causal must be True or False, got {causal!r}")
        if cache is not None:
            if x.dim() != 3 or not causal or self_mask is not None:
                raise ValueError("a KV cache needs batched x (B, T, D), causal=True and no self_mask")
            return None
        if not causal:
            return self_mask
        keep = torch.ones(x.shape[-2], x.shape[-2], dtype=torch.bool, device=x.device).tril()  # (T, T)
        if self_mask is None:
            return keep
        if not isinstance(self_mask, torch.Tensor) or self_mask.dtype != torch.bool:
            raise TypeError("with causal=True, self_mask must be a bool tensor (True = may attend); "
                            "pass causal=False to use a float mask on its own")
        if self_mask.dim() == 3:
            self_mask = self_mask[:, None]  # (B, 1, T, T): shared by the heads
        return keep & self_mask

    def forward(self, x: torch.Tensor, memory: torch.Tensor | None = None, *, causal: bool = True,
                self_mask: torch.Tensor | None = None, cross_mask: torch.Tensor | None = None,
                cache=None, layer_index: int = 0) -> torch.Tensor:
        """``x`` ``(B, T, D)`` (decoder side), ``memory`` ``(B, S, D)`` (encoder output) -> ``(B, T, D)``.

        ``causal=True`` (the default) lets position ``i`` attend to positions ``<= i`` only;
        ``self_mask`` (bool, ``True`` = may attend) is combined with it, e.g. for padding.
        ``cross_mask`` ``(T, S)`` / ``(B, T, S)`` masks the encoder positions. Masks follow
        :class:`attnkit.MultiHeadAttention` (``True`` = may attend, the opposite of
        PyTorch's ``tgt_mask``). ``cache`` (an :class:`attnkit.KVCache`) with ``layer_index``
        is for token-by-token generation without cross-attention.
        """
        _check_sequence(x, "x", self.d_model)
        if self.cross_attn is None:
            if memory is not None or cross_mask is not None:
                raise ValueError("this layer has no cross-attention (cross_attention=False): "
                                 "memory and cross_mask must be None")
        else:
            if memory is None:
                raise ValueError("memory (the encoder output, (B, S, D)) is required: this layer "
                                 "has cross-attention; build it with cross_attention=False for a decoder-only model")
            _check_sequence(memory, "memory", self.d_model)
            if memory.dim() != x.dim() or (x.dim() == 3 and memory.shape[0] != x.shape[0]):
                raise ValueError(f"x {shape_str(x.shape)} and memory {shape_str(memory.shape)} must both be "
                                 f"batched with the same batch size, or both unbatched")
            if cache is not None:
                raise ValueError("a KV cache is only supported without cross-attention")
        mask = self._self_mask(x, causal, self_mask, cache)
        if self.norm_first:
            x = x + self._self_attention_block(self.norm1(x), mask, cache, layer_index)
            if self.cross_attn is not None:
                x = x + self._cross_attention_block(self.norm2(x), memory, cross_mask)
            x = x + self._feed_forward_block(self.norm3(x))
        else:
            x = self.norm1(x + self._self_attention_block(x, mask, cache, layer_index))
            if self.cross_attn is not None:
                x = self.norm2(x + self._cross_attention_block(x, memory, cross_mask))
            x = self.norm3(x + self._feed_forward_block(x))
        return x

    @classmethod
    def from_torch(cls, module: nn.TransformerDecoderLayer | nn.TransformerEncoderLayer) -> TransformerDecoderLayer:
        """A ``TransformerDecoderLayer`` with the weights of PyTorch's (``batch_first=True``).

        From ``nn.TransformerDecoderLayer``: the full layer. From ``nn.TransformerEncoderLayer``:
        a decoder-only block (``cross_attention=False``), which is exactly an encoder layer run
        with a causal mask. PyTorch applies no mask unless given one: compare ``ours(x, memory)``
        with ``theirs(x, memory, tgt_mask=~ak.causal_mask(T))``.
        """
        if isinstance(module, nn.TransformerEncoderLayer):
            activation = {1: "relu", 2: "gelu"}.get(getattr(module, "activation_relu_or_gelu", 0))
            norms = (("norm1", "norm1"), ("norm3", "norm2"))
        elif isinstance(module, nn.TransformerDecoderLayer):
            activation = {F.relu: "relu", F.gelu: "gelu"}.get(module.activation)
            norms = (("norm1", "norm1"), ("norm2", "norm2"), ("norm3", "norm3"))
        else:
            raise TypeError(f"expected nn.TransformerDecoderLayer or nn.TransformerEncoderLayer, "
                            f"got {type(module).__name__}")
        if activation is None:
            raise ValueError(f"only relu or gelu activations can be copied, got {module.activation!r}")
        if not module.self_attn.batch_first:
            raise ValueError("only batch_first=True layers can be copied (attnkit is batch first)")
        cross = isinstance(module, nn.TransformerDecoderLayer)
        layer = cls(
            module.self_attn.embed_dim, module.self_attn.num_heads,
            dim_feedforward=module.linear1.out_features, dropout=module.dropout.p,
            norm_first=module.norm_first, activation=activation,
            layer_norm_eps=module.norm1.eps, bias=module.linear1.bias is not None, cross_attention=cross,
        )
        layer.self_attn = MultiHeadAttention.from_torch(module.self_attn)
        if cross:
            layer.cross_attn = MultiHeadAttention.from_torch(module.multihead_attn)
        for ours, theirs in (("linear1", "linear1"), ("linear2", "linear2"), *norms):
            getattr(layer, ours).load_state_dict(getattr(module, theirs).state_dict())
        return layer.to(module.linear1.weight.dtype)
