"""Efficient attention: local, block-sparse, memory-efficient (online softmax), KV cache, cost counters (lesson 08)."""

from __future__ import annotations

__all__: list[str] = []
