"""One short training loop for every lesson that trains (lessons 01, 02, 05-08).

Fixed number of steps (never a fixed time), fixed seeds, a tqdm progress bar:
the same seed gives the same losses to the last digit on any machine.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from ._validate import require_int, require_number

__all__ = ["seed_everything", "train", "lr_schedule"]


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and PyTorch; return a ``torch.Generator`` seeded the same way.

    Examples
    --------
    >>> a = torch.rand(2, generator=seed_everything(7))
    >>> b = torch.rand(2, generator=seed_everything(7))
    >>> bool((a == b).all())
    True
    """
    seed = require_int(seed, "seed")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def lr_schedule(step: int, steps: int, warmup: int = 0, cosine: bool = False) -> float:
    """Multiplier of the base learning rate: linear warm-up, then constant or cosine decay.

    Examples
    --------
    >>> [round(lr_schedule(s, 10, warmup=2, cosine=True), 2) for s in (0, 1, 2, 6, 9)]
    [0.5, 1.0, 1.0, 0.5, 0.04]
    """
    if step < warmup:
        return (step + 1) / warmup
    if not cosine:
        return 1.0
    progress = (step - warmup) / max(1, steps - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def train(model: torch.nn.Module, get_batch: Callable[[torch.Generator], tuple],
          loss_fn: Callable[[torch.nn.Module, tuple], torch.Tensor], steps: int,
          lr: float = 1e-3, seed: int = 0, warmup: int = 0, cosine: bool = False,
          clip: float | None = None, weight_decay: float = 0.0, progress: bool = True,
          desc: str = "training") -> list[float]:
    """Train ``model`` with Adam(W) for exactly ``steps`` steps and return the loss of each step.

    Parameters
    ----------
    get_batch : callable
        ``get_batch(generator) -> batch``: draws a batch with the seeded generator.
    loss_fn : callable
        ``loss_fn(model, batch) -> scalar loss``.
    warmup, cosine, clip
        Linear warm-up steps, cosine decay after it, gradient-norm clipping.

    Examples
    --------
    >>> model = torch.nn.Linear(1, 1)
    >>> batch = lambda g: (x := torch.randn(16, 1, generator=g), 3 * x)
    >>> mse = lambda m, b: torch.nn.functional.mse_loss(m(b[0]), b[1])
    >>> losses = train(model, batch, mse, steps=200, lr=0.1, progress=False)
    >>> round(model.weight.item(), 2)
    3.0
    """
    steps = require_int(steps, "steps", minimum=1)
    lr = require_number(lr, "lr")
    generator = seed_everything(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_schedule(s, steps, warmup=warmup, cosine=cosine)
    )
    model.train()
    losses = []
    bar = tqdm(range(steps), desc=desc, disable=not progress, leave=False)
    for _ in bar:
        loss = loss_fn(model, get_batch(generator))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        if len(losses) % 20 == 0:
            bar.set_postfix(loss=f"{loss.item():.3f}")
    model.eval()
    return losses
