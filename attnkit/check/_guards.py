"""Guards around a learner's function: whatever it does, the checker gets an outcome it can explain.

* :func:`time_limit`: a ``SIGALRM`` timer on the main thread stops a function that hangs
  (no limit, silently, where signals cannot be used: another thread, Windows).
* :class:`ShapeWatch`: a ``TorchFunctionMode`` that shows every torch call and its result to a
  checker's ``watch`` callback (how the online-softmax check sees a full score matrix).
* :func:`stub_name`: tells the exercise stub's own ``raise NotImplementedError()`` from a
  stubbed helper the learner calls, and from a ``NotImplementedError`` torch raises.
* :func:`copy_args`, :func:`changed_input`: pristine copies of the inputs (tensors and modules)
  and the in-place edits a learner's function made to its own copies.
* :func:`safe_str`: ``str()`` that never raises.
"""

from __future__ import annotations

import copy
import inspect
import linecache
import os
import signal
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager

import torch
from torch.overrides import TorchFunctionMode

__all__: list[str] = []

DEFAULT_TIME_LIMIT = 20.0  # seconds of learner code per check; a correct answer takes milliseconds


class TimeLimitExceeded(BaseException):
    """Raised inside a learner's function when its time is up (a BaseException: ``except Exception``
    in the learner's code does not swallow it)."""


def safe_str(obj, limit: int = 200) -> str:
    """The first line of ``str(obj)``, at most ``limit`` characters; never raises."""
    try:
        text = str(obj)
        if not isinstance(text, str):
            raise TypeError
    except BaseException:  # noqa: BLE001 - a learner's object may raise anything from __str__
        try:
            return f"<{type(obj).__name__} whose str() failed>"
        except BaseException:  # noqa: BLE001
            return "<object whose str() failed>"
    first = (text.strip().splitlines() or [""])[0]
    return first if len(first) <= limit else first[: limit - 1] + "…"


def _on_main_thread() -> bool:
    return hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread()


@contextmanager
def time_limit(seconds: float | None):
    """Raise :class:`TimeLimitExceeded` in the block after ``seconds`` (then every 0.5 s, so a
    bare ``except:`` in a loop cannot keep it out). Restores any timer that was set before."""
    if not seconds or seconds <= 0 or not _on_main_thread():
        yield
        return

    def on_alarm(signum, frame):
        raise TimeLimitExceeded()

    start = time.monotonic()
    try:
        previous_handler = signal.signal(signal.SIGALRM, on_alarm)
    except (ValueError, OSError):  # not the main interpreter thread after all
        yield
        return
    previous_timer = signal.setitimer(signal.ITIMER_REAL, seconds, 0.5)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
        if previous_timer[0] > 0:  # someone else's timer (pytest-timeout, an outer check) goes on
            left = max(previous_timer[0] - (time.monotonic() - start), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, left, previous_timer[1])


class ShapeWatch(TorchFunctionMode):
    """Calls ``look(func, args, kwargs, result)`` after every torch call made inside the block;
    the first non-``None`` string it returns is kept in :attr:`found`."""

    def __init__(self, look: Callable | None):
        super().__init__()
        self.look, self.found = look, None

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        if self.look is not None and self.found is None:
            try:
                self.found = self.look(func, args, kwargs, result)
            except Exception:  # noqa: BLE001 - a watcher never breaks the learner's code
                pass
        return result


def _innermost(tb):
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb


def _library_file(filename: str) -> bool:
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # attnkit/
    torch_dir = os.path.dirname(os.path.abspath(torch.__file__))
    path = os.path.abspath(filename) if filename and not filename.startswith("<") else filename
    return path.startswith(torch_dir) or path.startswith(here)


def _code_of(fn):
    for candidate in (fn, getattr(fn, "func", None), getattr(fn, "__func__", None),
                      getattr(fn, "forward", None), type(fn).__dict__.get("__call__")):
        code = getattr(inspect.unwrap(candidate), "__code__", None) if candidate is not None else None
        if code is not None:
            return code
    return None


def stub_name(exc: NotImplementedError, fn) -> str | None:
    """``""`` when ``exc`` is ``fn``'s own stub, the helper's name when a function ``fn`` calls is
    still a stub, ``None`` when the error comes from a library (torch) or says something."""
    tb = _innermost(exc.__traceback__)
    if tb is None:
        return None
    code = tb.tb_frame.f_code
    if _library_file(code.co_filename):
        return None
    line = linecache.getline(code.co_filename, tb.tb_lineno).strip()
    if line:
        if not line.startswith("raise NotImplementedError"):
            return None  # torch raised it from C code called on this line
    elif safe_str(exc):
        return None
    return "" if code is _code_of(fn) else code.co_name


# --- pristine copies and in-place edits ------------------------------------------------------------

def copy_args(args: tuple, requires_grad: bool = False) -> tuple:
    """Independent copies: tensors cloned (leaves; floating ones requiring grad if asked), modules
    deep-copied (parameters requiring grad if asked), anything else deep-copied when it can be."""
    out = []
    for a in args:
        if isinstance(a, torch.Tensor):
            c = a.detach().clone()
            if requires_grad and c.is_floating_point():
                c.requires_grad_(True)
            out.append(c)
        elif isinstance(a, torch.nn.Module):
            try:
                m = copy.deepcopy(a)
            except Exception:  # noqa: BLE001 - a module that cannot be copied is shared, unprotected
                out.append(a)
                continue
            for p in m.parameters():
                p.requires_grad_(requires_grad and p.is_floating_point())
            out.append(m)
        else:
            try:
                out.append(copy.deepcopy(a))
            except Exception:  # noqa: BLE001
                out.append(a)
    return tuple(out)


def _same_tensor(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype or a.stride() != b.stride():
        return False
    a, b = a.detach(), b.detach()
    if a.is_floating_point():
        return bool(((a == b) | (a.isnan() & b.isnan())).all())
    return bool(torch.equal(a, b))


def _simple_attrs(m: torch.nn.Module) -> dict:
    return {k: v for k, v in vars(m).items()
            if not k.startswith("_") and isinstance(v, (int, float, bool, str, tuple, type(None)))}


def _module_change(before: torch.nn.Module, after) -> str | None:
    if not isinstance(after, torch.nn.Module):
        return "it was replaced"
    b_state, a_state = before.state_dict(), after.state_dict()
    if b_state.keys() != a_state.keys():
        return "its parameters were added or removed"
    for key in b_state:
        if not _same_tensor(b_state[key], a_state[key]):
            return f"its `{key}` was modified"
    for b_mod, a_mod in zip(before.modules(), after.modules()):
        if b_mod.training != a_mod.training:
            return "its train/eval mode was switched"
        if len(a_mod._forward_hooks) + len(a_mod._forward_pre_hooks) != (
                len(b_mod._forward_hooks) + len(b_mod._forward_pre_hooks)):
            return "a hook was registered on it"
        if _simple_attrs(b_mod) != _simple_attrs(a_mod):
            changed = sorted(k for k in _simple_attrs(b_mod) if _simple_attrs(a_mod).get(k) != _simple_attrs(b_mod)[k])
            return f"its attribute `{(changed or ['?'])[0]}` was changed"
    return None


def changed_input(before: tuple, after: tuple, names: list[str]) -> str | None:
    """A one-line description of the first input the learner's function changed, or ``None``."""
    for i, (b, a) in enumerate(zip(before, after)):
        name = names[i] if i < len(names) else f"argument {i + 1}"
        if isinstance(b, torch.Tensor):
            if not isinstance(a, torch.Tensor) or not _same_tensor(b, a):
                how = "its shape or layout" if isinstance(a, torch.Tensor) and (
                    a.shape != b.shape or a.stride() != b.stride()) else "its values"
                return (f"your function changed its input `{name}` in place ({how}): the caller's tensor is "
                        "altered and autograd may fail later; compute a new tensor instead "
                        "(y = x - m, not x -= m or x.op_())")
        elif isinstance(b, torch.nn.Module):
            how = _module_change(b, a)
            if how:
                return (f"your function changed the module `{name}` it was given ({how}): "
                        "use it as it is (call it), never edit a layer you were passed")
    return None


def arg_names(*fns, count: int) -> list[str]:
    """Positional parameter names of the first of ``fns`` that has ``count`` of them."""
    for fn in fns:
        try:
            params = [p for p in inspect.signature(fn).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        except (TypeError, ValueError):
            continue
        if len(params) >= count:
            return [p.name for p in params[:count]]
    return [f"argument {i + 1}" for i in range(count)]


class GlobalState:
    """Torch settings a learner's function might change for good: restored after each check."""

    def __init__(self):
        self.rng = torch.get_rng_state()
        self.dtype = torch.get_default_dtype()
        self.grad = torch.is_grad_enabled()
        self.threads = torch.get_num_threads()

    def restore(self) -> None:
        """Never raises (a learner's code may have broken torch itself)."""
        try:
            torch.set_rng_state(self.rng)
            torch.set_default_dtype(self.dtype)
            torch.set_grad_enabled(self.grad)
            if torch.get_num_threads() != self.threads:
                torch.set_num_threads(self.threads)
        except Exception:  # noqa: BLE001
            pass
