"""The checking machinery every exercise uses: run a learner's function against the reference on many inputs.

Each checker prints exactly one line:

* ``✅ …`` when every generated case matches the reference;
* ``❌ …`` with a hint that says what differs (shape, row sums, which positions)
  and, where it recognises one, the typical mistake by name;
* ``✏️ …`` while the exercise stub (``raise NotImplementedError``) is untouched.

A learner's exception is reported in one line, never as a traceback.
Checkers are objects: ``check.softmax(fn)`` prints, ``check.softmax.evaluate(fn)``
returns the :class:`Verdict` (what the tests use).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from .._validate import shape_str

__all__ = ["Checker", "ScalarChecker", "Verdict", "ICONS"]

ICONS = {"pass": "✅", "fail": "❌", "todo": "✏️"}


@dataclass(frozen=True)
class Verdict:
    status: str  # "pass", "fail" or "todo"
    message: str

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def __str__(self) -> str:
        return f"{ICONS[self.status]} {self.message}"


def _describe(args) -> str:
    parts = [shape_str(a.shape) if isinstance(a, torch.Tensor) else repr(a) for a in args]
    return "inputs of shape " + ", ".join(parts)


def _differences(got, expected, atol: float, rtol: float) -> str | None:
    """``None`` when ``got`` matches ``expected``; otherwise what differs, in words."""
    if isinstance(expected, tuple):
        if not isinstance(got, tuple) or len(got) != len(expected):
            return f"expected a tuple of {len(expected)} tensors, got {type(got).__name__}"
        for i, (g, e) in enumerate(zip(got, expected)):
            diff = _differences(g, e, atol, rtol)
            if diff:
                return f"item {i}: {diff}"
        return None
    if not isinstance(got, torch.Tensor):
        return f"expected a tensor, got {type(got).__name__}"
    if got.shape != expected.shape:
        return f"shape is {shape_str(got.shape)}, expected {shape_str(expected.shape)}"
    got = got.detach().to(expected.dtype)
    if expected.dtype == torch.bool:
        wrong = (got != expected).nonzero().tolist()
        return None if not wrong else f"wrong at positions {wrong[:3]}"
    bad = ~torch.isfinite(got) & torch.isfinite(expected)
    if bad.any():
        return f"has inf/NaN at {bad.nonzero()[0].tolist()} where a finite value was expected"
    if torch.allclose(got, expected, atol=atol, rtol=rtol, equal_nan=True):
        return None
    err = (got - expected).abs().nan_to_num(0.0)
    where = torch.unravel_index(err.argmax(), err.shape)
    pos = [int(i) for i in where]
    return (
        f"values differ: largest gap {err.max().item():.3g} at position {pos} "
        f"(got {got[tuple(pos)].item():.4g}, expected {expected[tuple(pos)].item():.4g})"
    )


class Checker:
    """Compares a learner's function with ``reference`` on ``cases()``.

    ``mistakes`` maps a hint to a function that makes a typical mistake: when the
    learner's output matches one, the hint names it.
    """

    def __init__(self, name: str, reference: Callable, cases: Callable,
                 mistakes: dict[str, Callable] | None = None, atol: float = 1e-5,
                 rtol: float = 1e-4, extra_hint: Callable | None = None):
        self.name, self.reference, self.cases = name, reference, cases
        self.mistakes = mistakes or {}
        self.atol, self.rtol, self.extra_hint = atol, rtol, extra_hint

    def evaluate(self, fn: Callable) -> Verdict:
        if not callable(fn):
            return Verdict("fail", f"{self.name}: expected a function, got {type(fn).__name__}")
        cases = list(self.cases())
        for args in cases:
            try:
                got = fn(*[a.clone() if isinstance(a, torch.Tensor) else a for a in args])
            except NotImplementedError:
                return Verdict("todo", f"{self.name}: replace `raise NotImplementedError()` with your code")
            except Exception as exc:  # a learner's bug, explained in one line
                first = (str(exc).strip().splitlines() or [""])[0][:200]
                return Verdict("fail", f"{self.name}: your code raised {type(exc).__name__}: "
                                       f"{first} (on {_describe(args)})")
            expected = self.reference(*args)
            diff = _differences(got, expected, self.atol, self.rtol)
            if diff is None:
                continue
            for hint, wrong in self.mistakes.items():
                try:
                    if _differences(got, wrong(*args), self.atol, self.rtol) is None:
                        return Verdict("fail", f"{self.name}: {hint} ({diff}, on {_describe(args)})")
                except Exception:
                    pass
            extra = self.extra_hint(got, expected, args) if self.extra_hint else None
            hint = f"; {extra}" if extra else ""
            return Verdict("fail", f"{self.name}: {diff} on {_describe(args)}{hint}")
        return Verdict("pass", f"{self.name}: matches the reference on all {len(cases)} test cases")

    def __call__(self, fn: Callable) -> None:
        print(self.evaluate(fn))


def _seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _row_sum_hint(got, expected, args) -> str | None:
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        return None
    sums = got.detach().sum(-1)
    if not torch.allclose(sums, torch.ones_like(sums), atol=1e-4):
        return f"rows should sum to 1 but yours sum to e.g. {sums.flatten()[0].item():.3g}"
    return None


class ScalarChecker(Checker):
    """Accepts a Python number as well as a 0-d tensor from the learner."""

    def evaluate(self, fn):
        if not callable(fn):
            return super().evaluate(fn)

        def as_tensor(*args):
            out = fn(*args)
            is_number = isinstance(out, (int, float)) and not isinstance(out, bool)
            return torch.tensor(float(out)) if is_number else out

        return super().evaluate(as_tensor)
