"""Readable input checks shared by attnkit's public functions.

Every public function calls these at its door, so a learner sees
``ValueError: query has width 4 but key has width 6`` instead of a deep
``RuntimeError`` from a matrix product three calls down.
"""

from __future__ import annotations

import numbers

import torch

__all__: list[str] = []


def shape_str(shape) -> str:
    """``(2, 3, 4)`` for a ``torch.Size`` or a tuple."""
    return "(" + ", ".join(str(int(s)) for s in shape) + ")"


def require_tensor(x, name: str, min_dim: int = 0) -> torch.Tensor:
    """Raise ``TypeError`` unless ``x`` is a floating-point tensor with at least ``min_dim`` dims."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor, got dtype {x.dtype}; "
            f"convert it with {name}.float()"
        )
    if x.dim() < min_dim:
        raise ValueError(
            f"{name} must have at least {min_dim} dimensions, got shape {shape_str(x.shape)}"
        )
    return x


def require_int(value, name: str, minimum: int = 0) -> int:
    """Raise ``TypeError`` unless ``value`` is an integer, ``ValueError`` if below ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def require_number(value, name: str) -> float:
    """Raise ``TypeError`` unless ``value`` is a real number (not a bool)."""
    if isinstance(value, torch.Tensor) and value.dim() == 0:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    return float(value)


def broadcast_batch(shapes: dict[str, torch.Size]) -> torch.Size:
    """Broadcast the batch shapes ``{name: shape}``; a ``ValueError`` names them when they clash."""
    try:
        return torch.broadcast_shapes(*shapes.values())
    except RuntimeError:
        listed = ", ".join(f"{name} {shape_str(s)}" for name, s in shapes.items())
        raise ValueError(f"batch shapes do not broadcast: {listed}") from None


def require_bool(value, name: str) -> bool:
    """Raise ``TypeError`` unless ``value`` is ``True`` or ``False`` (a string like ``'no'`` is not)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r} ({type(value).__name__})")
    return value


def require_like(tensors: dict, like: torch.Tensor, owner: str) -> None:
    """Raise ``TypeError`` unless every tensor in ``{name: tensor}`` has the dtype and device of ``like``.

    ``owner`` names what ``like`` belongs to, e.g. ``"this layer's weights"``.
    """
    for name, t in tensors.items():
        if t.dtype != like.dtype or t.device != like.device:
            raise TypeError(
                f"{name} is {t.dtype} on {t.device} but {owner} are {like.dtype} on {like.device}; "
                f"convert one side, e.g. {name}.to({like.dtype}) or layer.to({t.dtype})"
            )
