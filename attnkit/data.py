"""Toy tasks and the small course corpus (lessons 01, 02, 05, 07).

Everything here is generated from a seed or shipped in the package: no download.

- :func:`toy_batch` draws batches of the synthetic sequence tasks
  (``"copy"``, ``"reverse"``, ``"sort"``, ``"recall"``) used from lesson 02 on.
- :data:`CORPUS` is a small set of subject-verb-object sentences written for the course,
  :class:`Vocab` turns text into tokens and ids and back.
- :func:`who_did_it_batch` is lesson 01's order-dependent task: in "the dog bites the man"
  the agent is the first noun, so a model that ignores word order cannot find it.
"""

from __future__ import annotations

import torch

from ._validate import require_int

__all__: list[str] = ["toy_batch", "TOY_TASKS"]

TOY_TASKS = ("copy", "reverse", "sort", "recall")


def toy_batch(task: str, batch_size: int, length: int, vocab_size: int = 10,
              generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw one batch of a synthetic sequence task: ``(inputs, targets)``, both ``(B, T)`` int64.

    Parameters
    ----------
    task : {"copy", "reverse", "sort", "recall"}
        ``"copy"``: targets equal inputs. ``"reverse"``: targets are the inputs flipped.
        ``"sort"``: targets are each row sorted ascending.
        ``"recall"`` (associative recall): the input is ``P = (length - 1) // 2`` key-value
        pairs ``k1 v1 k2 v2 ...`` followed by a query key ``q`` (one of the keys) at position
        ``2 * P``, then one filler ``0`` when ``length`` is even. Keys are distinct ids from the
        lower half ``0 .. vocab_size // 2 - 1``, values come from the upper half
        ``vocab_size // 2 .. vocab_size - 1``. The target is ``-100`` (``cross_entropy``'s
        ignore index) everywhere except at the query's position, where it is the value paired
        with the query key. Recall needs ``length >= 3`` and ``P <= vocab_size // 2``.
    batch_size, length : int
        ``B`` and ``T``, at least 1.
    vocab_size : int
        Token ids lie in ``0 .. vocab_size - 1``; at least 2 (4 for ``"recall"``).
    generator : torch.Generator, optional
        Seeded generator for reproducible batches.

    Returns
    -------
    inputs, targets : torch.LongTensor of shape (B, T)

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> x, y = toy_batch("reverse", batch_size=2, length=5, generator=g)
    >>> x.shape, bool((y == x.flip(1)).all())
    (torch.Size([2, 5]), True)
    >>> x, y = toy_batch("recall", 1, 7, vocab_size=10, generator=g)
    >>> x, y  # 3 pairs (key, value), then the query key 4: its value 8 is the target
    (tensor([[2, 6, 3, 6, 4, 8, 4]]), tensor([[-100, -100, -100, -100, -100, -100,    8]]))
    """
    if not isinstance(task, str) or task not in TOY_TASKS:
        raise ValueError(f"task must be one of {TOY_TASKS}, got {task!r}")
    batch_size = require_int(batch_size, "batch_size", minimum=1)
    length = require_int(length, "length", minimum=1)
    vocab_size = require_int(vocab_size, "vocab_size", minimum=2)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    if task != "recall":
        inputs = torch.randint(0, vocab_size, (batch_size, length), generator=generator)  # (B, T)
        if task == "copy":
            targets = inputs.clone()
        elif task == "reverse":
            targets = inputs.flip(1)
        else:
            targets = inputs.sort(dim=1).values
        return inputs, targets
    # associative recall
    n_pairs = (length - 1) // 2
    n_keys = vocab_size // 2
    if length < 3 or vocab_size < 4 or n_pairs > n_keys:
        raise ValueError(
            f"task 'recall' needs length >= 3, vocab_size >= 4 and (length - 1) // 2 <= "
            f"vocab_size // 2 distinct keys; got length={length}, vocab_size={vocab_size} "
            f"({n_pairs} pairs, {n_keys} keys)"
        )
    keys = torch.rand(batch_size, n_keys, generator=generator).argsort(dim=1)[:, :n_pairs]  # (B, P)
    values = torch.randint(n_keys, vocab_size, (batch_size, n_pairs), generator=generator)  # (B, P)
    pick = torch.randint(0, n_pairs, (batch_size, 1), generator=generator)                # (B, 1)
    inputs = torch.zeros(batch_size, length, dtype=torch.long)
    inputs[:, 0:2 * n_pairs:2] = keys
    inputs[:, 1:2 * n_pairs:2] = values
    query_pos = 2 * n_pairs
    inputs[:, query_pos] = keys.gather(1, pick).squeeze(1)
    targets = torch.full((batch_size, length), -100, dtype=torch.long)
    targets[:, query_pos] = values.gather(1, pick).squeeze(1)
    return inputs, targets


# --- lesson 05 ---

__all__ += ["two_relations_batch"]


def two_relations_batch(batch_size: int, length: int, vocab_size: int = 16,
                        generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Lesson 05's task that needs two different relations at every position.

    At each position ``t`` a causal model must output two tokens: the **previous** token
    ``x[t - 1]`` and the **first** token ``x[0]``. One attention head can serve one relation
    (look one step back, or look at position 0), so a model with two heads can split the work.

    Parameters
    ----------
    batch_size, length : int
        ``B`` and ``T``; ``length`` is at least 2.
    vocab_size : int
        Tokens are uniform in ``0 .. vocab_size - 1``; chance accuracy is ``1 / vocab_size``.
    generator : torch.Generator, optional
        Seeded generator for reproducible batches.

    Returns
    -------
    inputs : torch.LongTensor, shape ``(B, T)``
    targets : torch.LongTensor, shape ``(B, T, 2)``
        ``targets[..., 0]`` is the previous token, ``targets[..., 1]`` the first token;
        position 0 has neither (it holds ``-100``, ``cross_entropy``'s ignore index).

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> x, y = two_relations_batch(1, 5, vocab_size=10, generator=g)
    >>> x
    tensor([[4, 9, 3, 0, 3]])
    >>> y[0, :, 0], y[0, :, 1]  # previous token, first token
    (tensor([-100,    4,    9,    3,    0]), tensor([-100,    4,    4,    4,    4]))
    """
    batch_size = require_int(batch_size, "batch_size", minimum=1)
    length = require_int(length, "length", minimum=2)
    vocab_size = require_int(vocab_size, "vocab_size", minimum=2)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    inputs = torch.randint(0, vocab_size, (batch_size, length), generator=generator)  # (B, T)
    targets = torch.full((batch_size, length, 2), -100, dtype=torch.long)  # (B, T, 2)
    targets[:, 1:, 0] = inputs[:, :-1]
    targets[:, 1:, 1] = inputs[:, :1]
    return inputs, targets



# --- lesson 07 ---
