"""Checkers for lesson 07: the Transformer (used as ``ak.check.<name>``).

The modules passed to the learner are theirs to call, not to edit: the checker runs the reference
on pristine copies, names an answer that changed a layer's weights, and compares the gradients
that reach ``x`` and every parameter (a block a model trains must not cut the graph).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._core import Checker, _seeded

__all__ = ["pre_norm_residual", "feed_forward"]


def _frozen(module: torch.nn.Module, g: torch.Generator) -> torch.nn.Module:
    """``module`` with seeded random parameters and no gradients (the checker turns them on to compare
    gradients)."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            gain = 1.0 if isinstance(module, torch.nn.LayerNorm) and name == "weight" else 0.0
            p.copy_(torch.randn(p.shape, generator=g) * 0.5 + gain)
    return module.requires_grad_(False)


def _residual_cases():
    g = _seeded(70)
    for b, t, d in ((2, 3, 4), (1, 5, 8), (3, 2, 6)):
        x = torch.randn(b, t, d, generator=g) * 2 + 1
        yield x, _frozen(torch.nn.Linear(d, d), g), _frozen(torch.nn.LayerNorm(d), g)


def _plain_norm(x):
    return F.layer_norm(x, x.shape[-1:])


pre_norm_residual = Checker(
    "pre_norm_residual",
    reference=lambda x, sublayer, norm: x + sublayer(norm(x)),
    cases=_residual_cases,
    mistakes={
        "that is post-norm, norm(x + sublayer(x)): pre-norm normalises the sublayer's INPUT "
        "and adds to the raw x":
            lambda x, sublayer, norm: norm(x + sublayer(x)),
        "you dropped the residual: return x + sublayer(norm(x)), not sublayer(norm(x))":
            lambda x, sublayer, norm: sublayer(norm(x)),
        "you added the normalised x; the residual path carries the raw x: x + sublayer(norm(x))":
            lambda x, sublayer, norm: norm(x) + sublayer(norm(x)),
        "you normalised the sublayer's output; pre-norm normalises its input: x + sublayer(norm(x))":
            lambda x, sublayer, norm: x + norm(sublayer(x)),
        "you normalised without the norm you were given (its weight and bias): call norm(x)":
            lambda x, sublayer, norm: x + sublayer(_plain_norm(x)),
        "you left out the norm: pre-norm is x + sublayer(norm(x))":
            lambda x, sublayer, norm: x + sublayer(x),
    },
    grads=True,
)


def _ffn_cases():
    g = _seeded(71)
    # the last case scales x by 10 so that pre-activations go far past 6: an activation that
    # saturates (ReLU6, hardtanh) agrees with ReLU on small inputs only
    for b, t, d, f, scale in ((2, 3, 4, 8, 1.0), (1, 5, 6, 12, 1.0), (3, 2, 8, 32, 1.0), (2, 4, 6, 16, 10.0)):
        yield (torch.randn(b, t, d, generator=g) * scale, _frozen(torch.nn.Linear(d, f), g),
               _frozen(torch.nn.Linear(f, d), g))


feed_forward = Checker(
    "feed_forward",
    reference=lambda x, linear1, linear2: linear2(torch.relu(linear1(x))),
    cases=_ffn_cases,
    mistakes={
        "you left out the ReLU: two linear maps in a row are just one linear map":
            lambda x, linear1, linear2: linear2(linear1(x)),
        "you applied ReLU to the output too: the block ends with linear2, so outputs may be negative":
            lambda x, linear1, linear2: torch.relu(linear2(torch.relu(linear1(x)))),
        "you added the residual inside the block; the layer adds x itself: return linear2(relu(linear1(x)))":
            lambda x, linear1, linear2: x + linear2(torch.relu(linear1(x))),
        "ReLU in the wrong place: linear2(relu(linear1(x))), not relu(linear2(linear1(x)))":
            lambda x, linear1, linear2: torch.relu(linear2(linear1(x))),
        "you used GELU: this block uses a ReLU between the two linear layers":
            lambda x, linear1, linear2: linear2(F.gelu(linear1(x))),
        "you dropped the biases: call the layers, linear1(x), so their biases are added too":
            lambda x, linear1, linear2: torch.relu(x @ linear1.weight.T) @ linear2.weight.T,
    },
    grads=True,
)
