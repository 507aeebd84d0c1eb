"""Tiny Transformers for toy tasks and a tiny decoder-only language model (lessons 07, 08)."""

from __future__ import annotations

__all__: list[str] = []
