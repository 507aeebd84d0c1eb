"""The fixed-context baseline: a GRU encoder-decoder with and without additive attention (lesson 02)."""

from __future__ import annotations

__all__: list[str] = []
