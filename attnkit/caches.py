"""KV caches of today's LLM serving: rolling (sliding-window, with attention sinks) and paged (lesson 11).

A decoder's cache holds the keys and values of the tokens it has seen; the only
question is *which* tokens and *where* in memory. Every cache here answers
``update(layer, key, value) -> (keys, values, positions)``: the keys and values a
new query may read, and the position each key is to be rotated at (rotary
positions, :func:`_apply_rotary`), so a model can use any of them unchanged.

* :class:`attnkit.KVCache` (lesson 11, first section) keeps every token in one contiguous,
  preallocated buffer per sequence.
* :class:`RollingKVCache` keeps only the last ``window`` tokens in a ring buffer
  (token ``p`` goes to slot ``p % window``), as Mistral 7B does (Jiang et al. 2023):
  memory stays flat however long the generation runs. With ``sinks > 0`` it also
  pins the first ``sinks`` tokens (StreamingLLM's attention sinks, Xiao et al. 2024)
  and, as that paper does, gives positions *within the cache*.
* :class:`PagedKVCache` stores tokens in fixed-size blocks from one shared pool,
  found through a per-sequence block table (vLLM's PagedAttention, Kwon et al.
  2023): a sequence holds only the blocks it has filled, not a max-length slab.
* :func:`kv_cache_bytes` is the formula they all pay per token:
  ``2 (K and V) x layers x KV heads x head width x bytes``.

The caches store keys *before* the rotary rotation and return the positions to
rotate them at; attention does not depend on the order of the keys, so a ring
buffer can hand its slots back in slot order.
"""

from __future__ import annotations

import torch

from ._validate import require_int, shape_str

__all__ = ["kv_cache_bytes", "RollingKVCache", "PagedKVCache"]


def kv_cache_bytes(num_layers: int, num_kv_heads: int, head_dim: int, seq_len: int = 1,
                   batch_size: int = 1, bytes_per_value: int = 2) -> int:
    """Bytes of the keys and values a decoder caches for ``batch_size`` sequences of ``seq_len`` tokens.

    ``2 * num_layers * num_kv_heads * head_dim * seq_len * batch_size * bytes_per_value``:
    one key and one value vector per KV head, per layer, per token. Multi-head
    attention has ``num_kv_heads = num_heads``, grouped-query fewer, multi-query 1.

    Examples
    --------
    >>> kv_cache_bytes(num_layers=32, num_kv_heads=32, head_dim=128)  # per token, 16-bit values
    524288
    >>> kv_cache_bytes(32, 8, 128, seq_len=32768) / 2**30  # GQA with 8 KV heads, 32k tokens: GiB
    4.0
    """
    values = [require_int(v, name, minimum=1) for v, name in (
        (num_layers, "num_layers"), (num_kv_heads, "num_kv_heads"), (head_dim, "head_dim"),
        (seq_len, "seq_len"), (batch_size, "batch_size"), (bytes_per_value, "bytes_per_value"))]
    total = 2
    for v in values:
        total *= v
    return total


def _apply_rotary(x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """Rotary position embedding (RoPE, Su et al. 2021): rotate pairs of ``x``'s features by position.

    ``x`` is ``(..., T, Dh)`` with ``Dh`` even, ``positions`` ``(T,)``. Feature pair
    ``(i, i + Dh/2)`` of the token at position ``p`` turns by the angle
    ``p * base ** (-2i / Dh)``. A query at ``p`` and a key at ``s`` then score by
    ``p - s`` only, so shifting every position by the same amount changes nothing.

    Examples
    --------
    >>> q, k = torch.randn(1, 4), torch.randn(1, 4)
    >>> near = _apply_rotary(q, torch.tensor([5])) @ _apply_rotary(k, torch.tensor([3])).T
    >>> far = _apply_rotary(q, torch.tensor([105])) @ _apply_rotary(k, torch.tensor([103])).T
    >>> torch.allclose(near, far, atol=1e-4)  # same distance, same score
    True
    """
    half = x.shape[-1] // 2
    if x.shape[-1] % 2:
        raise ValueError(f"rotary positions need an even head width, got {x.shape[-1]}")
    if positions.shape != x.shape[-2:-1]:
        raise ValueError(f"positions has shape {shape_str(positions.shape)} for {x.shape[-2]} tokens")
    inv_freq = base ** (-torch.arange(half, dtype=torch.float64) / half)  # (Dh/2,)
    angles = (positions.to(torch.float64)[:, None] * inv_freq).to(x.dtype)  # (T, Dh/2)
    cos, sin = angles.cos(), angles.sin()
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)  # (..., T, Dh)


def _check_kv(key, value, expected, what):
    for name, t in (("key", key), ("value", value)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.dim() != 4 or (t.shape[0], t.shape[1], t.shape[3]) != expected:
            raise ValueError(
                f"{what}: {name} must be (B, Hkv, t, Dh) = ({expected[0]}, {expected[1]}, t, {expected[2]}), "
                f"got {shape_str(t.shape)}"
            )
    if key.shape[2] != value.shape[2]:
        raise ValueError(f"{what}: key has {key.shape[2]} new tokens but value has {value.shape[2]}")


def _check_layer(layer, num_layers):
    if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < num_layers:
        raise ValueError(f"layer must be an int in [0, {num_layers}), got {layer!r}")


class RollingKVCache:
    """The last ``window`` tokens' keys and values in a ring buffer, plus ``sinks`` pinned first tokens.

    Token ``p`` (counting from 0) is written to slot ``p`` while ``p < sinks``, then to
    slot ``sinks + (p - sinks) % window``: once the window is full, each new token
    overwrites the oldest one. Memory is ``sinks + window`` slots per layer, however
    many tokens go through.

    ``update`` returns the stored keys and values in slot order with their
    positions: window tokens keep their own position; sink ``s`` is placed just before
    the oldest window token (position ``oldest - sinks + s``), as StreamingLLM assigns
    positions within the cache, so no query is ever further than
    ``sinks + window - 1`` from a key it reads. Until a token is evicted, the
    positions are the tokens' own: the cache then equals a full one.

    Parameters
    ----------
    num_layers, batch_size, num_kv_heads, head_dim : int
    window : int
        Tokens of the sliding window (the newest token included).
    sinks : int
        First tokens kept for ever (0 = a plain sliding window).

    Examples
    --------
    >>> cache = RollingKVCache(num_layers=1, batch_size=1, num_kv_heads=2, head_dim=4, window=3)
    >>> for _ in range(5):  # five tokens through a 3-token window
    ...     keys, values, positions = cache.update(0, torch.randn(1, 2, 1, 4), torch.randn(1, 2, 1, 4))
    >>> keys.shape, positions.tolist(), cache.seq_len  # slots hold tokens 3, 4, 2
    (torch.Size([1, 2, 3, 4]), [3, 4, 2], 5)
    """

    def __init__(self, num_layers: int, batch_size: int, num_kv_heads: int, head_dim: int,
                 window: int, sinks: int = 0, dtype: torch.dtype = torch.float32):
        num_layers = require_int(num_layers, "num_layers", minimum=1)
        batch_size = require_int(batch_size, "batch_size", minimum=1)
        num_kv_heads = require_int(num_kv_heads, "num_kv_heads", minimum=1)
        head_dim = require_int(head_dim, "head_dim", minimum=1)
        self.window = require_int(window, "window", minimum=1)
        self.sinks = require_int(sinks, "sinks", minimum=0)
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
        shape = (num_layers, batch_size, num_kv_heads, self.sinks + self.window, head_dim)
        self.keys = torch.zeros(shape, dtype=dtype)
        self.values = torch.zeros(shape, dtype=dtype)
        self.lengths = [0] * num_layers  # tokens seen per layer (not stored: seen)
        self._expected = (batch_size, num_kv_heads, head_dim)

    @property
    def seq_len(self) -> int:
        """Tokens seen so far by layer 0: the position of the next token."""
        return self.lengths[0]

    @property
    def nbytes(self) -> int:
        """Bytes of the two buffers: fixed at creation."""
        return self.keys.nbytes + self.values.nbytes

    def slot(self, position: int) -> int:
        """The slot token ``position`` is written to."""
        if position < self.sinks:
            return position
        return self.sinks + (position - self.sinks) % self.window

    def positions(self, seen: int) -> torch.Tensor:
        """Positions of the stored slots, in slot order, after ``seen`` tokens."""
        stored = min(seen, self.sinks + self.window)
        pos = torch.empty(stored, dtype=torch.long)
        newest = seen - 1
        for p in range(max(self.sinks, seen - self.window), seen):  # the window's tokens
            pos[self.slot(p)] = p
        oldest = max(self.sinks, newest - self.window + 1)
        for s in range(min(self.sinks, seen)):  # sinks sit just before the oldest window token
            pos[s] = oldest - self.sinks + s
        return pos

    def update(self, layer: int, key: torch.Tensor, value: torch.Tensor):
        """Write ``key``/``value`` ``(B, Hkv, t, Dh)`` token by token; return ``(keys, values, positions)``."""
        _check_layer(layer, len(self.lengths))
        _check_kv(key, value, self._expected, "RollingKVCache")
        seen = self.lengths[layer]
        for i in range(key.shape[2]):
            slot = self.slot(seen + i)
            self.keys[layer, :, :, slot] = key[:, :, i]
            self.values[layer, :, :, slot] = value[:, :, i]
        seen += key.shape[2]
        self.lengths[layer] = seen
        stored = min(seen, self.sinks + self.window)
        return self.keys[layer, :, :, :stored], self.values[layer, :, :, :stored], self.positions(seen)


class PagedKVCache:
    """Keys and values in fixed-size blocks from one shared pool, found through per-sequence block tables.

    The pool holds ``num_blocks`` blocks of ``block_size`` tokens for every layer. A
    sequence gets a block only when its previous one is full, so it wastes at most
    ``block_size - 1`` slots, instead of the ``max_len - length`` slots a contiguous
    max-length cache reserves. :meth:`sequence` returns a per-sequence view with the
    ``update`` / ``seq_len`` interface of the other caches (batch size 1), so a
    model decodes into pages exactly as into a contiguous cache.

    Parameters
    ----------
    num_layers, num_kv_heads, head_dim : int
    block_size : int
        Tokens per block.
    num_blocks : int
        Blocks in the shared pool.

    Examples
    --------
    >>> pool = PagedKVCache(num_layers=1, num_kv_heads=2, head_dim=4, block_size=4, num_blocks=8)
    >>> a, b = pool.sequence(), pool.sequence()
    >>> _ = a.update(0, torch.randn(1, 2, 6, 4), torch.randn(1, 2, 6, 4))  # 6 tokens: 2 blocks
    >>> keys, values, positions = b.update(0, torch.randn(1, 2, 3, 4), torch.randn(1, 2, 3, 4))
    >>> pool.block_tables, keys.shape, pool.blocks_in_use
    ({0: [0, 1], 1: [2]}, torch.Size([1, 2, 3, 4]), 3)
    """

    def __init__(self, num_layers: int, num_kv_heads: int, head_dim: int, block_size: int,
                 num_blocks: int, dtype: torch.dtype = torch.float32):
        self.num_layers = require_int(num_layers, "num_layers", minimum=1)
        num_kv_heads = require_int(num_kv_heads, "num_kv_heads", minimum=1)
        head_dim = require_int(head_dim, "head_dim", minimum=1)
        self.block_size = require_int(block_size, "block_size", minimum=1)
        num_blocks = require_int(num_blocks, "num_blocks", minimum=1)
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
        shape = (num_layers, num_blocks, num_kv_heads, self.block_size, head_dim)
        self.keys = torch.zeros(shape, dtype=dtype)  # the pool: (L, blocks, Hkv, block_size, Dh)
        self.values = torch.zeros(shape, dtype=dtype)
        self.free_blocks = list(range(num_blocks))
        self.block_tables: dict[int, list[int]] = {}
        self.lengths: dict[int, list[int]] = {}  # tokens stored per sequence, per layer
        self._next_id = 0
        self._expected = (1, num_kv_heads, head_dim)

    @property
    def blocks_in_use(self) -> int:
        return sum(len(t) for t in self.block_tables.values())

    @property
    def block_nbytes(self) -> int:
        """Bytes of one block (keys and values, all layers)."""
        return 2 * self.keys[:, 0].nbytes

    @property
    def nbytes_in_use(self) -> int:
        """Bytes of the blocks the sequences hold."""
        return self.blocks_in_use * self.block_nbytes

    def sequence(self) -> _PagedSequence:
        """Start a new sequence; returns its cache view."""
        seq_id = self._next_id
        self._next_id += 1
        self.block_tables[seq_id] = []
        self.lengths[seq_id] = [0] * self.num_layers
        return _PagedSequence(self, seq_id)

    def free(self, seq_id: int) -> None:
        """Give a finished sequence's blocks back to the pool."""
        if seq_id not in self.block_tables:
            raise ValueError(f"no sequence {seq_id!r}; live sequences: {sorted(self.block_tables)}")
        self.free_blocks.extend(self.block_tables.pop(seq_id))
        del self.lengths[seq_id]

    def _update(self, seq_id, layer, key, value):
        _check_layer(layer, self.num_layers)
        _check_kv(key, value, self._expected, "PagedKVCache")
        table, bs = self.block_tables[seq_id], self.block_size
        start = self.lengths[seq_id][layer]
        stop = start + key.shape[2]
        while len(table) * bs < stop:  # this layer runs ahead of the others: the sequence needs a block
            if not self.free_blocks:
                raise RuntimeError(f"PagedKVCache is out of blocks: all {self.keys.shape[1]} are in use")
            table.append(self.free_blocks.pop(0))
        for i in range(key.shape[2]):  # token p lives in block table[p // bs], row p % bs
            p = start + i
            self.keys[layer, table[p // bs], :, p % bs] = key[0, :, i]
            self.values[layer, table[p // bs], :, p % bs] = value[0, :, i]
        self.lengths[seq_id][layer] = stop
        blocks = torch.tensor(table[: -(-stop // bs)])
        # gather the sequence's blocks: (n, Hkv, bs, Dh) -> (1, Hkv, n * bs, Dh), cut to its length
        keys = self.keys[layer, blocks].transpose(0, 1).flatten(1, 2)[None, :, :stop]
        values = self.values[layer, blocks].transpose(0, 1).flatten(1, 2)[None, :, :stop]
        return keys, values, torch.arange(stop)


class _PagedSequence:
    """One sequence of a :class:`PagedKVCache`: ``update`` and ``seq_len`` like the other caches."""

    def __init__(self, pool: PagedKVCache, seq_id: int):
        self.pool, self.seq_id = pool, seq_id

    @property
    def seq_len(self) -> int:
        return self.pool.lengths[self.seq_id][0]

    def update(self, layer, key, value):
        return self.pool._update(self.seq_id, layer, key, value)
