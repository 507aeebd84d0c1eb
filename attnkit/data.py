"""Toy tasks and the small course corpus (lessons 01, 02, 05, 07)."""

from __future__ import annotations

__all__: list[str] = []
