"""The checking machinery every exercise uses: run a learner's function against the reference on many inputs.

Each checker prints exactly one line:

* ``✅ …`` when every generated case matches the reference;
* ``❌ …`` with a hint that says what differs (shape, dtype, row sums, which positions)
  and, where it recognises one, the typical mistake by name;
* ``✏️ …`` while the exercise stub (``raise NotImplementedError``) is untouched.

Whatever the learner's function does (raises, hangs, exits, edits its inputs, returns
something odd) the check ends in one of those lines, never a traceback.
Checkers are objects: ``check.softmax(fn)`` prints, ``check.softmax.evaluate(fn)``
returns the :class:`Verdict` (what the tests use). Under nbgrader (``NBGRADER_EXECUTION`` is
set during ``autograde`` and ``validate``) a verdict that is not ✅ raises :class:`CheckFailed`,
so the graded cell fails with that one line.
"""

from __future__ import annotations

import inspect
import math
import numbers
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .._validate import shape_str
from ._guards import (
    DEFAULT_TIME_LIMIT,
    GlobalState,
    ShapeWatch,
    TimeLimitExceeded,
    arg_names,
    changed_input,
    copy_args,
    safe_str,
    stub_name,
    time_limit,
)

__all__ = ["Case", "Checker", "CheckFailed", "ScalarChecker", "Verdict", "ICONS"]

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


class CheckFailed(AssertionError):
    """A check that is not ✅ under nbgrader: fails the graded cell with its one verdict line.

    IPython shows ``_render_traceback_`` instead of a traceback, so the cell's error output is
    that line alone.
    """

    def _render_traceback_(self) -> list[str]:
        return [str(self)]


class Case:
    """One test case: the arguments, and optionally a hint shown when the learner fails on it.

    A checker's ``cases()`` may yield plain tuples of arguments or ``Case(*args, hint="...")``;
    the hint names what this case is there to catch ("subtract the row's *max*").
    """

    def __init__(self, *args, hint: str | None = None):
        self.args, self.hint = args, hint

    @classmethod
    def of(cls, item) -> Case:
        return item if isinstance(item, Case) else cls(*item)


def _describe(args) -> str:
    parts = [shape_str(a.shape) if isinstance(a, torch.Tensor)
             else type(a).__name__ if isinstance(a, torch.nn.Module) else safe_str(repr(a), 40)
             for a in args]
    tensors = any(isinstance(a, torch.Tensor) for a in args)
    return ("inputs of shape " if tensors else "inputs ") + ", ".join(parts)


def _kind(x) -> str:
    return "None" if x is None else type(x).__name__


def _odd_tensor(t: torch.Tensor) -> str | None:
    """What makes ``t`` impossible to compare as a plain CPU tensor of numbers."""
    if t.is_meta:
        return "you returned a meta tensor (a shape with no values): compute on real CPU tensors"
    if t.layout != torch.strided or t.is_sparse:
        return f"you returned a {t.layout} tensor: return a dense one (.to_dense())"
    if getattr(t, "is_nested", False):
        return "you returned a nested tensor: return one regular tensor"
    if t.is_quantized:
        return "you returned a quantized tensor: return float values"
    if t.device.type != "cpu":
        return f"you returned a tensor on {t.device}: return it on the CPU"
    if t.is_complex():
        return f"you returned complex numbers ({t.dtype}): the result is real"
    return None


def _dtype_problem(got: torch.Tensor, expected: torch.Tensor) -> str | None:
    if expected.dtype == torch.bool:
        return None if got.dtype == torch.bool else f"you returned dtype {got.dtype}, expected a bool tensor"
    if expected.is_floating_point():
        if not got.is_floating_point():
            return f"you returned dtype {got.dtype}, expected floating-point values ({expected.dtype})"
        half = (torch.float16, torch.bfloat16)
        if got.dtype in half and expected.dtype not in half:  # float32 and float64 are both fine
            return f"you returned {got.dtype}: compute in {expected.dtype} (half precision loses digits)"
        return None
    if got.is_floating_point() or got.dtype == torch.bool:
        return f"you returned dtype {got.dtype}, expected {expected.dtype}"
    return None


def _differences(got, expected, atol: float, rtol: float) -> str | None:
    """``None`` when ``got`` matches ``expected``; otherwise what differs, in words. Never raises."""
    try:
        with torch._C.DisableTorchFunctionSubclass():
            return _compare(got, expected, atol, rtol)
    except BaseException as exc:  # noqa: BLE001 - an odd result never crashes the checker
        return f"your result could not be compared ({type(exc).__name__}: {safe_str(exc, 120)})"


def _compare(got, expected, atol, rtol) -> str | None:
    if isinstance(expected, tuple):
        if not isinstance(got, tuple):
            return f"expected a tuple of {len(expected)} tensors, got {_kind(got)}"
        if len(got) != len(expected):
            return f"expected {len(expected)} results, got {len(got)}"
        for i, (g, e) in enumerate(zip(got, expected)):
            diff = _compare(g, e, atol, rtol)
            if diff:
                return f"item {i}: {diff}"
        return None
    if got is None and expected is not None:
        return "your function returned None: did you forget `return`?"
    if not isinstance(expected, torch.Tensor):
        return _compare_plain(got, expected, atol, rtol)
    if not isinstance(got, torch.Tensor):
        if type(got).__module__ == "numpy":
            return f"expected a torch tensor, got NumPy {_kind(got)} (use torch.from_numpy)"
        return f"expected a tensor, got {_kind(got)}"
    if type(got) not in (torch.Tensor, torch.nn.Parameter):
        return f"you returned a {_kind(got)} (a tensor subclass): return a plain torch.Tensor"
    odd = _odd_tensor(got)
    if odd:
        return odd
    if got.shape != expected.shape:
        return f"shape is {shape_str(got.shape)}, expected {shape_str(expected.shape)}"
    dtype = _dtype_problem(got, expected)
    if dtype:
        return dtype
    got = got.detach()
    if expected.dtype == torch.bool or not expected.is_floating_point():
        wrong = (got != expected).nonzero().tolist()
        return None if not wrong else f"wrong at positions {wrong[:3]}"
    g, e = got.to(torch.float64), expected.detach().to(torch.float64)
    bad = ~torch.isfinite(g) & torch.isfinite(e)
    if bad.any():
        return f"has inf/NaN at {bad.nonzero()[0].tolist()} where a finite value was expected"
    if torch.allclose(g, e, atol=atol, rtol=rtol, equal_nan=True):
        return None
    err = (g - e).abs().nan_to_num(0.0)
    pos = [int(i) for i in torch.unravel_index(err.argmax(), err.shape)]
    where = f" at position {pos}" if pos else ""
    return (
        f"values differ: largest gap {err.max().item():.3g}{where} "
        f"(got {g[tuple(pos)].item():.4g}, expected {e[tuple(pos)].item():.4g})"
    )


def _compare_plain(got, expected, atol, rtol) -> str | None:
    """A reference that returns a number, a string, a list...: numbers within tolerance, else equality."""
    if isinstance(expected, numbers.Real) and not isinstance(expected, bool):
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if not isinstance(got, numbers.Real) or isinstance(got, bool):
            return f"expected a number, got {_kind(got)}"
        if math.isclose(float(got), float(expected), rel_tol=rtol, abs_tol=atol):
            return None
        return f"values differ: got {float(got):.4g}, expected {float(expected):.4g}"
    if type(got) is not type(expected):
        return f"expected {_kind(expected)}, got {_kind(got)}"
    return None if bool(got == expected) else f"got {safe_str(repr(got), 80)}, expected {safe_str(repr(expected), 80)}"


class _Stop(Exception):
    """Carries a verdict out of a learner's run."""

    def __init__(self, verdict: Verdict):
        self.verdict = verdict


def _float_tensors(result) -> list[torch.Tensor]:
    items = result if isinstance(result, tuple) else (result,)
    return [t for t in items if isinstance(t, torch.Tensor) and t.is_floating_point()]


def _grad_targets(args, names) -> list[tuple[str, torch.Tensor]]:
    out = []
    for name, a in zip(names, args):
        if isinstance(a, torch.Tensor) and a.requires_grad:
            out.append((name, a))
        elif isinstance(a, torch.nn.Module):
            out += [(f"{name}.{p_name}", p) for p_name, p in a.named_parameters() if p.requires_grad]
    return out


class Checker:
    """Compares a learner's function with ``reference`` on ``cases()``.

    Parameters
    ----------
    name : str
        Shown at the start of every verdict line.
    reference : callable
        The right answer; always run on pristine copies of the inputs, before the learner's code.
    cases : callable
        Yields argument tuples (or :class:`Case` objects with a per-case hint) from a seeded generator.
    mistakes : dict, optional
        ``{hint: wrong_fn}``: when the learner's output matches ``wrong_fn``'s, the hint names it.
    atol, rtol : float
        Tolerances of the value comparison (float64 results are compared as well as float32 ones).
    extra_hint : callable, optional
        ``extra_hint(got, expected, args) -> str | None``, appended when no mistake matched.
    grads : bool
        Also compare gradients: every floating input and every parameter of a module input gets
        ``requires_grad``, and the gradients of a fixed random projection of the output must match
        the reference's. Names a result cut from the graph (``.detach()``, ``torch.no_grad()``).
    watch : callable, optional
        ``watch(*args)`` returns ``None`` or ``look(func, fargs, fkwargs, result) -> str | None``,
        called on every torch call the learner's code makes for that case (a ``TorchFunctionMode``);
        the first string it returns fails the check (e.g. "you built the full (Tq, Tk) matrix").
    error_hints : dict, optional
        ``{substring: hint}``: appended when the learner's exception message contains the substring.
    time_limit : float, optional
        Seconds of learner code per check before it is stopped (default 20; main thread only).

    Examples
    --------
    >>> double = Checker("double", lambda x: 2 * x, lambda: [(torch.ones(3),)],
    ...                  mistakes={"you added 2 instead of doubling": lambda x: x + 2})
    >>> print(double.evaluate(lambda x: x + x))
    ✅ double: matches the reference on all 1 test cases
    >>> print(double.evaluate(lambda x: x + 2).message.split(" (")[0])
    double: you added 2 instead of doubling
    """

    def __init__(self, name: str, reference: Callable, cases: Callable,
                 mistakes: dict[str, Callable] | None = None, atol: float = 1e-5,
                 rtol: float = 1e-4, extra_hint: Callable | None = None, *, grads: bool = False,
                 watch: Callable | None = None, error_hints: dict[str, str] | None = None,
                 time_limit: float | None = None):
        self.name, self.reference, self.cases = name, reference, cases
        self.mistakes = mistakes or {}
        self.atol, self.rtol, self.extra_hint = atol, rtol, extra_hint
        self.grads, self.watch, self.error_hints = grads, watch, error_hints or {}
        self.time_limit = DEFAULT_TIME_LIMIT if time_limit is None else time_limit

    # --- one line for anything ----------------------------------------------------------------

    def _fail(self, text: str) -> Verdict:
        return Verdict("fail", f"{self.name}: {text}")

    def evaluate(self, fn: Callable) -> Verdict:
        if not callable(fn):
            return self._fail(f"expected a function, got {_kind(fn)}")
        state = GlobalState()
        try:
            return self._evaluate(fn)
        except _Stop as stop:
            return stop.verdict
        except KeyboardInterrupt:
            return self._fail("the check was interrupted (Kernel > Interrupt); run the cell again")
        except BaseException as exc:  # noqa: BLE001 - the checker itself must never show a traceback
            return self._fail(f"the check could not finish ({type(exc).__name__}: {safe_str(exc, 120)})")
        finally:
            state.restore()

    def __call__(self, fn: Callable) -> None:
        verdict = self.evaluate(fn)
        if os.environ.get("NBGRADER_EXECUTION") and not verdict.passed:
            raise CheckFailed(str(verdict)) from None
        print(verdict)

    # --- the run ----------------------------------------------------------------------------------

    def _normalize(self, got, expected):
        """The learner's result in the reference's form (a list or any sequence for a tuple)."""
        if isinstance(expected, tuple) and not isinstance(got, (tuple, torch.Tensor, str, bytes, dict)):
            try:
                return tuple(got)
            except TypeError:
                return got
        return got

    def _run(self, fn, args, names, expected, deadline, look=None):
        """The learner's result on ``args``; raises :class:`_Stop` with a verdict when it fails."""
        watch = ShapeWatch(look)
        try:
            with time_limit(max(deadline - time.monotonic(), 0.01) if self.time_limit else None):
                if look is not None:
                    with watch:
                        got = fn(*args)
                else:
                    got = fn(*args)
                if inspect.iscoroutine(got):
                    got.close()
                got = self._normalize(got, expected)
        except NotImplementedError as exc:
            helper = stub_name(exc, fn)
            if helper == "":
                raise _Stop(Verdict("todo", f"{self.name}: replace `raise NotImplementedError()` with your code")) \
                    from None
            if helper:
                raise _Stop(Verdict("todo", f"{self.name}: your function calls `{helper}`, which is still a "
                                            "stub (raise NotImplementedError()): do that exercise first")) \
                    from None
            raise _Stop(self._raised(exc, args)) from None
        except TimeLimitExceeded:
            raise _Stop(self._fail(f"your function ran for more than {self.time_limit:g} s and was "
                                   f"stopped (an endless loop?) on {_describe(args)}")) from None
        except SystemExit:
            raise _Stop(self._fail("your function called exit() / sys.exit(): return the result instead")) from None
        except KeyboardInterrupt:
            raise
        except RecursionError:
            raise _Stop(self._fail(f"your function calls itself without end (RecursionError) on "
                                   f"{_describe(args)}")) from None
        except BaseException as exc:  # noqa: BLE001 - a learner's bug, explained in one line
            raise _Stop(self._raised(exc, args)) from None
        return got, watch.found

    def _raised(self, exc: BaseException, args) -> Verdict:
        with time_limit(2.0):  # a learner's __str__ may itself hang
            text = safe_str(exc)
        hint = next((h for s, h in self.error_hints.items() if s in text), None)
        return self._fail(f"your code raised {type(exc).__name__}: {text} (on {_describe(args)})"
                          + (f"; {hint}" if hint else ""))

    def _evaluate(self, fn: Callable) -> Verdict:
        cases = [Case.of(c) for c in self.cases()]
        # every reference first, on pristine copies, before any learner code runs; the copies, as the
        # reference left them, are what the learner's inputs must look like afterwards (a module's forward
        # may update buffers: calling it as the reference does is no edit)
        ref_inputs = [copy_args(c.args) for c in cases]
        expected_all = [self.reference(*inputs) for inputs in ref_inputs]
        grads_all = [self._reference_grads(c.args) for c in cases] if self.grads else [None] * len(cases)
        deadline = time.monotonic() + (self.time_limit or 0)
        for case, expected, ref_grads, after_ref in zip(cases, expected_all, grads_all, ref_inputs):
            args = case.args
            names = arg_names(fn, self.reference, count=len(args))
            mine = copy_args(args)
            look = self.watch(*args) if self.watch else None
            got, structure = self._run(fn, mine, names, expected, deadline, look)
            edited = changed_input(after_ref, mine, names)
            if edited:
                return self._fail(f"{edited} (on {_describe(args)})")
            if structure:
                return self._fail(f"{structure} (on {_describe(args)})")
            diff = _differences(got, expected, self.atol, self.rtol)
            if diff is not None:
                return self._explain(diff, got, expected, case)
            if ref_grads is not None:
                verdict = self._check_grads(fn, case, names, expected, ref_grads, deadline)
                if verdict:
                    return verdict
        return Verdict("pass", f"{self.name}: matches the reference on all {len(cases)} test cases")

    def _explain(self, diff: str, got, expected, case: Case) -> Verdict:
        args = case.args
        for hint, wrong in self.mistakes.items():
            try:
                if _differences(got, wrong(*copy_args(args)), self.atol, self.rtol) is None:
                    return self._fail(f"{hint} ({diff}, on {_describe(args)})")
            except Exception:  # noqa: BLE001 - a mistake that does not apply to this input
                pass
        about_values = diff.startswith(("values differ", "has inf/NaN", "wrong at positions"))
        extra = case.hint if about_values else None
        if extra is None and self.extra_hint:
            try:
                extra = self.extra_hint(got, expected, args)
            except Exception:  # noqa: BLE001
                extra = None
        return self._fail(f"{diff} on {_describe(args)}" + (f"; {extra}" if extra else ""))

    # --- gradients ----------------------------------------------------------------------------------

    @staticmethod
    def _projection(result) -> list[torch.Tensor]:
        g = torch.Generator().manual_seed(1234)
        return [torch.randn(t.shape, generator=g, dtype=torch.float64) for t in _float_tensors(result)]

    def _backward(self, result, weights) -> None:
        loss = sum((t.to(torch.float64) * w).sum() for t, w in zip(_float_tensors(result), weights))
        loss.backward()

    def _reference_grads(self, args):
        with torch.enable_grad():
            ref_args = copy_args(args, requires_grad=True)
            names = [f"argument {i + 1}" for i in range(len(args))]
            out = self.reference(*ref_args)
            self._backward(out, self._projection(out))
            return [(name, None if p.grad is None else p.grad.clone())
                    for name, p in _grad_targets(ref_args, names)]

    def _check_grads(self, fn, case, names, expected, ref_grads, deadline) -> Verdict | None:
        args = case.args
        mine = copy_args(args, requires_grad=True)
        with torch.enable_grad():
            try:
                got, _ = self._run(fn, mine, names, expected, deadline)
            except _Stop as stop:
                if stop.verdict.status != "fail":
                    return stop.verdict
                return self._fail("your function works on plain tensors but not when its inputs require "
                                  "gradients: " + stop.verdict.message.split(": ", 1)[-1])
            outs = _float_tensors(got)
            if not any(t.requires_grad for t in outs):
                return self._fail("your result is cut off from autograd (.detach(), torch.no_grad(), .item() "
                                  "or a NumPy round trip): no gradient can reach the inputs, so this block "
                                  f"could not be trained (on {_describe(args)})")
            try:
                self._backward(got, self._projection(expected))
            except BaseException as exc:  # noqa: BLE001
                text = safe_str(exc, 100)
                why = ("you edited in place a tensor autograd still needs (e.g. e /= s): write e = e / s"
                       if "inplace operation" in text else f"{type(exc).__name__}: {text}")
                return self._fail(f"the values match but backward() through your result fails: {why} "
                                  f"(on {_describe(args)})")
        learner = _grad_targets(mine, names)
        for (_, ref), (name, p) in zip(ref_grads, learner):
            if ref is None:
                continue
            if p.grad is None:
                return self._fail(f"no gradient reaches `{name}`: your code detached it or replaced it by "
                                  f"a copy outside autograd (on {_describe(args)})")
            diff = _differences(p.grad, ref, max(self.atol, 1e-5), max(self.rtol, 1e-4))
            if diff:
                return self._fail(f"the values match but the gradient reaching `{name}` differs ({diff}): "
                                  f"part of your computation is cut from autograd (on {_describe(args)})")
        return None


def _seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _row_sum_hint(got, expected, args) -> str | None:
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape or not got.is_floating_point():
        return None
    sums = got.detach().double().sum(-1)
    if not torch.allclose(sums, torch.ones_like(sums), atol=1e-4, equal_nan=False):
        return f"rows should sum to 1 but yours sum to e.g. {sums.flatten()[0].item():.3g}"
    return None


class ScalarChecker(Checker):
    """Accepts a Python number (int, float, NumPy scalar) or a one-element tensor from the learner."""

    def _normalize(self, got, expected):
        if (type(got).__module__ == "numpy" and getattr(got, "size", 0) == 1
                and getattr(getattr(got, "dtype", None), "kind", "") in ("f", "i", "u")):
            got = got.item()  # a NumPy scalar or one-element array
        if isinstance(got, numbers.Real) and not isinstance(got, bool):
            return torch.tensor(float(got), dtype=expected.dtype if isinstance(expected, torch.Tensor)
                                else torch.float32)
        if isinstance(got, torch.Tensor) and got.numel() == 1 and got.dim() > 0:
            return got.reshape(())
        return got
