"""Multi-head attention and the Transformer encoder layer (lessons 05 and 07).

Both are written from scratch and proven equal to PyTorch's own modules:
``from_torch`` copies the weights of ``nn.MultiheadAttention`` /
``nn.TransformerEncoderLayer`` so a test can compare outputs and gradients.

Note the opposite mask conventions: PyTorch's ``nn.MultiheadAttention`` takes a
boolean ``attn_mask`` that is ``True`` where attention is **not** allowed;
attnkit (like ``scaled_dot_product_attention``) uses ``True`` = **may** attend.

Where these layers and PyTorch's differ on purpose (see :mod:`attnkit.attention`): a query
whose keys are all masked (a fully padded row) gives zero attention output here and NaN in
``nn.MultiheadAttention``; a NaN in a masked-out key is ignored here and spreads NaN there.
Inputs must have the dtype and device of the layer's weights (a ``TypeError`` says so),
where PyTorch raises a ``RuntimeError`` from inside a product.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ._validate import require_bool, require_int, require_like, require_number, require_tensor, shape_str
from .attention import attention

__all__ = ["MultiHeadAttention", "TransformerEncoderLayer"]


class MultiHeadAttention(nn.Module):
    """Multi-head attention, batch first: inputs ``(B, T, D)`` or unbatched ``(T, D)``.

    Parameters
    ----------
    d_model : int
        Model width ``D``; must be divisible by ``num_heads``.
    num_heads : int
        Number of query heads ``H``; each works in ``Dh = D // H`` dimensions.
    num_kv_heads : int, optional
        Number of key/value heads ``Hkv`` (lesson 11). ``None`` (the default) means
        ``num_heads``: ordinary multi-head attention. Fewer is grouped-query attention
        (GQA, Ainslie et al. 2023): query heads ``h`` of the group
        ``h // (H // Hkv)`` share one key/value head, as in
        ``scaled_dot_product_attention(..., enable_gqa=True)``; ``1`` is multi-query
        attention (MQA, Shazeer 2019). ``H`` must be a multiple of ``Hkv``. The key and
        value projections shrink to ``Hkv * Dh`` outputs, and so does a KV cache.
    bias : bool
        Whether the four projections have biases.
    dropout : float
        Dropout on the attention weights, in training mode only.

    Examples
    --------
    >>> mha = MultiHeadAttention(d_model=8, num_heads=2)
    >>> x = torch.randn(3, 5, 8)
    >>> out, weights = mha(x, x, x)
    >>> out.shape, weights.shape
    (torch.Size([3, 5, 8]), torch.Size([3, 2, 5, 5]))
    >>> gqa = MultiHeadAttention(d_model=8, num_heads=4, num_kv_heads=2)  # 2 query heads per KV head
    >>> gqa.k_proj.weight.shape  # (Hkv * Dh, D)
    torch.Size([4, 8])
    """

    def __init__(self, d_model: int, num_heads: int, bias: bool = True, dropout: float = 0.0,
                 num_kv_heads: int | None = None):
        super().__init__()
        d_model = require_int(d_model, "d_model", minimum=1)
        num_heads = require_int(num_heads, "num_heads", minimum=1)
        if d_model % num_heads:
            raise ValueError(
                f"d_model={d_model} is not divisible by num_heads={num_heads}: "
                f"each head needs d_model / num_heads dimensions"
            )
        if num_kv_heads is None:
            num_kv_heads = num_heads
        num_kv_heads = require_int(num_kv_heads, "num_kv_heads", minimum=1)
        if num_heads % num_kv_heads:
            raise ValueError(
                f"num_heads={num_heads} is not a multiple of num_kv_heads={num_kv_heads}: "
                f"each key/value head must serve the same number of query heads"
            )
        require_bool(bias, "bias")
        dropout = require_number(dropout, "dropout")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.d_model, self.num_heads, self.head_dim = d_model, num_heads, d_model // num_heads
        self.num_kv_heads = num_kv_heads
        self.dropout = dropout
        kv_width = num_kv_heads * self.head_dim  # = d_model for ordinary multi-head attention
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, kv_width, bias=bias)
        self.v_proj = nn.Linear(d_model, kv_width, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, H * Dh)`` -> ``(B, H, T, Dh)`` (``Hkv`` heads for the keys and values)."""
        B, T, width = x.shape
        return x.view(B, T, width // self.head_dim, self.head_dim).transpose(1, 2)

    def merge_heads(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, H, T, Dh)`` -> ``(B, T, D)``."""
        B, _, T, _ = x.shape
        return x.transpose(1, 2).reshape(B, T, self.d_model)

    def _check_inputs(self, query, key, value):
        for name, t in (("query", query), ("key", key), ("value", value)):
            require_tensor(t, name)
            if t.dim() not in (2, 3):
                raise ValueError(
                    f"{name} must be (B, T, D) or (T, D), got shape {shape_str(t.shape)}"
                )
            if t.shape[-1] != self.d_model:
                raise ValueError(
                    f"{name} has width {t.shape[-1]} but this layer's d_model is {self.d_model} "
                    f"({name} shape {shape_str(t.shape)})"
                )
        if not query.dim() == key.dim() == value.dim():
            raise ValueError(
                f"query, key and value must all be batched or all unbatched, got shapes "
                f"{shape_str(query.shape)}, {shape_str(key.shape)}, {shape_str(value.shape)}"
            )
        if query.dim() == 3 and not query.shape[0] == key.shape[0] == value.shape[0]:
            raise ValueError(
                f"batch sizes differ: query {query.shape[0]}, key {key.shape[0]}, value {value.shape[0]}"
            )
        if key.shape[-2] != value.shape[-2]:
            raise ValueError(
                f"key has length {key.shape[-2]} but value has length {value.shape[-2]}"
            )
        require_like({"query": query, "key": key, "value": value}, self.q_proj.weight, "this layer's weights")

    def forward(self, query, key, value, mask=None):
        """Attend from ``query`` to ``key``/``value``.

        ``mask`` (bool, ``True`` = may attend, or float, added to the scores)
        broadcasts to ``(B, H, Tq, Tk)``: ``(Tq, Tk)`` for all, ``(B, 1, Tq, Tk)``
        per example, ``(B, H, Tq, Tk)`` per head. A 3-d mask is read as
        ``(B, Tq, Tk)`` and shared by the heads.

        Returns ``(output, weights)``: ``(B, Tq, D)`` and per-head ``(B, H, Tq, Tk)``
        (without the ``B`` axis for unbatched input).
        """
        self._check_inputs(query, key, value)
        unbatched = query.dim() == 2
        if unbatched:
            query, key, value = query[None], key[None], value[None]
        if isinstance(mask, torch.Tensor) and mask.dim() == 3:
            mask = mask[:, None]  # (B, 1, Tq, Tk)
        q = self.split_heads(self.q_proj(query))  # (B, H, Tq, Dh)
        k = self.split_heads(self.k_proj(key))  # (B, Hkv, Tk, Dh)
        v = self.split_heads(self.v_proj(value))  # (B, Hkv, Tk, Dh)
        if self.num_kv_heads != self.num_heads:  # GQA / MQA: each KV head serves a group of query heads
            group = self.num_heads // self.num_kv_heads
            k = k.repeat_interleave(group, dim=1)  # (B, H, Tk, Dh): heads 0..g-1 share KV head 0, ...
            v = v.repeat_interleave(group, dim=1)  # (B, H, Tk, Dh)
        context, attn_weights = attention(q, k, v, mask=mask)  # (B, H, Tq, Dh), (B, H, Tq, Tk)
        if self.training and self.dropout > 0:
            attn_weights = F.dropout(attn_weights, self.dropout)
            context = attn_weights @ v
        output = self.out_proj(self.merge_heads(context))  # (B, Tq, D)
        if unbatched:
            return output[0], attn_weights[0]
        return output, attn_weights

    @classmethod
    def from_torch(cls, module: nn.MultiheadAttention) -> MultiHeadAttention:
        """A ``MultiHeadAttention`` with the weights of PyTorch's ``nn.MultiheadAttention``.

        PyTorch's module has one key/value head per query head, so the copy always has
        ``num_kv_heads == num_heads``.
        """
        if not isinstance(module, nn.MultiheadAttention):
            raise TypeError(f"expected nn.MultiheadAttention, got {type(module).__name__}")
        if not module._qkv_same_embed_dim or module.bias_k is not None or module.add_zero_attn:
            raise ValueError("only kdim = vdim = embed_dim, no bias_k/bias_v, no add_zero_attn")
        layer = cls(
            module.embed_dim, module.num_heads, bias=module.in_proj_bias is not None,
            dropout=module.dropout,
        )
        w_q, w_k, w_v = module.in_proj_weight.detach().chunk(3)
        with torch.no_grad():
            for proj, w in ((layer.q_proj, w_q), (layer.k_proj, w_k), (layer.v_proj, w_v)):
                proj.weight.copy_(w)
            layer.out_proj.weight.copy_(module.out_proj.weight)
            if module.in_proj_bias is not None:
                b_q, b_k, b_v = module.in_proj_bias.detach().chunk(3)
                for proj, b in ((layer.q_proj, b_q), (layer.k_proj, b_k), (layer.v_proj, b_v)):
                    proj.bias.copy_(b)
                layer.out_proj.bias.copy_(module.out_proj.bias)
        return layer.to(module.in_proj_weight.dtype).train(module.training)  # same dtype, same mode


_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


class TransformerEncoderLayer(nn.Module):
    """Self-attention and a feed-forward block, each wrapped in a residual and LayerNorm.

    Post-norm (``norm_first=False``, the 2017 paper): ``x = norm(x + block(x))``.
    Pre-norm (``norm_first=True``, most modern models): ``x = x + block(norm(x))``.
    The attention weights of the last call are kept in ``self.attn_weights``
    ``(B, H, T, T)`` for plotting.

    Examples
    --------
    >>> layer = TransformerEncoderLayer(d_model=8, num_heads=2, dim_feedforward=16)
    >>> layer(torch.randn(3, 5, 8)).shape
    torch.Size([3, 5, 8])
    >>> layer.attn_weights.shape
    torch.Size([3, 2, 5, 5])
    """

    def __init__(
        self, d_model: int, num_heads: int, dim_feedforward: int | None = None,
        dropout: float = 0.0, norm_first: bool = False, activation: str = "relu",
        layer_norm_eps: float = 1e-5, bias: bool = True,
    ):
        super().__init__()
        if dim_feedforward is None:
            dim_feedforward = 4 * require_int(d_model, "d_model", minimum=1)
        dim_feedforward = require_int(dim_feedforward, "dim_feedforward", minimum=1)
        require_bool(norm_first, "norm_first")
        require_bool(bias, "bias")
        layer_norm_eps = require_number(layer_norm_eps, "layer_norm_eps")
        if not 0.0 < layer_norm_eps < float("inf"):
            raise ValueError(f"layer_norm_eps must be a positive finite number, got {layer_norm_eps}")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        self.self_attn = MultiHeadAttention(d_model, num_heads, bias=bias, dropout=dropout)
        self.linear1 = nn.Linear(d_model, dim_feedforward, bias=bias)
        self.linear2 = nn.Linear(dim_feedforward, d_model, bias=bias)
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.dropout = nn.Dropout(dropout)
        self.norm_first, self.activation = norm_first, activation
        self.attn_weights: torch.Tensor | None = None

    def _attention_block(self, x, mask):
        out, weights = self.self_attn(x, x, x, mask=mask)
        self.attn_weights = weights.detach()
        return self.dropout(out)

    def _feed_forward_block(self, x):
        hidden = self.dropout(_ACTIVATIONS[self.activation](self.linear1(x)))  # (B, T, F)
        return self.dropout(self.linear2(hidden))  # (B, T, D)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, T, D)`` -> ``(B, T, D)``; ``mask`` as in :class:`MultiHeadAttention`."""
        require_tensor(x, "x")  # checked here: pre-norm would hand a bad x to LayerNorm first
        d_model = self.self_attn.d_model
        if x.dim() not in (2, 3) or x.shape[-1] != d_model:
            raise ValueError(
                f"x must be (B, T, {d_model}) or (T, {d_model}) for this layer's d_model={d_model}, "
                f"got shape {shape_str(x.shape)}"
            )
        require_like({"x": x}, self.linear1.weight, "this layer's weights")
        if self.norm_first:
            x = x + self._attention_block(self.norm1(x), mask)
            x = x + self._feed_forward_block(self.norm2(x))
        else:
            x = self.norm1(x + self._attention_block(x, mask))
            x = self.norm2(x + self._feed_forward_block(x))
        return x

    @classmethod
    def from_torch(cls, module: nn.TransformerEncoderLayer) -> TransformerEncoderLayer:
        """A ``TransformerEncoderLayer`` with the weights of PyTorch's (``batch_first=True``)."""
        if not isinstance(module, nn.TransformerEncoderLayer):
            raise TypeError(f"expected nn.TransformerEncoderLayer, got {type(module).__name__}")
        activation = {1: "relu", 2: "gelu"}.get(getattr(module, "activation_relu_or_gelu", 0))
        if activation is None:
            raise ValueError("only relu or gelu activations can be copied")
        layer = cls(
            module.self_attn.embed_dim, module.self_attn.num_heads,
            dim_feedforward=module.linear1.out_features, dropout=module.dropout.p,
            norm_first=module.norm_first, activation=activation,
            layer_norm_eps=module.norm1.eps, bias=module.linear1.bias is not None,
        )
        layer.self_attn = MultiHeadAttention.from_torch(module.self_attn)
        for name in ("linear1", "linear2", "norm1", "norm2"):
            getattr(layer, name).load_state_dict(getattr(module, name).state_dict())
        return layer.to(module.linear1.weight.dtype).train(module.training)  # same dtype, same mode
