"""Checkers for lesson 01: sequence data (used as ``ak.check.<name>``)."""

from __future__ import annotations

import torch

from ._core import Checker, _seeded

__all__ = ["bag_of_embeddings", "concat_embeddings"]


def _ids_table_cases():
    g = _seeded(101)
    for b, t, v, d in ((2, 5, 10, 4), (3, 7, 20, 8), (1, 3, 6, 5), (4, 1, 9, 3), (3, 3, 4, 3)):
        ids = torch.randint(0, v, (b, t), generator=g)
        if t > 2:
            ids[0, 1] = ids[0, 0]  # a repeated token: the mean counts it twice
        yield ids, torch.randn(v, d, generator=g)


def _keepdim_hint(got, expected, args):
    if isinstance(got, torch.Tensor) and got.dim() == expected.dim() + 1 and 1 in tuple(got.shape):
        return "drop the extra axis of size 1 (no keepdim=True)"
    return None


bag_of_embeddings = Checker(
    "bag_of_embeddings", reference=lambda ids, table: table[ids].mean(dim=1), cases=_ids_table_cases,
    mistakes={
        "you averaged over the embedding features (dim=-1): average over the tokens, dim=1":
            lambda ids, table: table[ids].mean(dim=-1),
        "you summed the embeddings: a bag of embeddings here is their mean (divide by T)":
            lambda ids, table: table[ids].sum(dim=1),
        "you averaged over the batch (dim=0): each sentence keeps its own row":
            lambda ids, table: table[ids].mean(dim=0),
        "you took the max over the tokens: the bag here is their mean":
            lambda ids, table: table[ids].amax(dim=1),
        "you averaged each sentence's distinct tokens: a repeated token counts every time it appears":
            lambda ids, table: torch.stack([table[row.unique()].mean(0) for row in ids]),
    },
    extra_hint=_keepdim_hint, grads=True,
)


concat_embeddings = Checker(
    "concat_embeddings", reference=lambda ids, table: table[ids].flatten(1), cases=_ids_table_cases,
    mistakes={
        "you flattened the whole batch into one vector: flatten from dim 1, keep (B, T * D)":
            lambda ids, table: table[ids].flatten(),
        "you interleaved the features (transposed to (B, D, T) first): put token 0's D "
        "features first, then token 1's":
            lambda ids, table: table[ids].transpose(1, 2).flatten(1),
        "you averaged the tokens: that is the order-blind bag, not the concatenation":
            lambda ids, table: table[ids].mean(dim=1),
        "you swapped the batch and token axes (ids.T): row b must hold sentence b's tokens":
            lambda ids, table: table[ids.T].flatten(1),
    },
    grads=True,
)
