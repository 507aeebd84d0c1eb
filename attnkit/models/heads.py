"""What heads learn: image patches as tokens, a tiny ViT, and scores that name a head's job (lesson 10)."""


from __future__ import annotations

import torch
from torch import nn

from .._validate import require_int, require_tensor, shape_str
from ..layers import TransformerEncoderLayer

__all__: list[str] = []

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
