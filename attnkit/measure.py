"""What a call costs: the peak bytes of the tensors PyTorch allocates in it, and its time (lessons 07, 08, 11).

Invariant: only tensors that PyTorch operations *create* during the call are counted, from the moment an
operation returns them until they are freed; views and in-place results share an existing tensor's memory
and are not counted again, and tensors that existed before the call are not counted at all.

The count is made with a :class:`torch.utils._python_dispatch.TorchDispatchMode`, the hook that PyTorch's
own ``torch.utils.flop_counter.FlopCounterMode`` uses: every operation's outputs pass through it. It sees
what a pure-PyTorch function such as :func:`attnkit.attention` allocates, on any platform and with no
profiler. It cannot see inside a fused kernel: scratch memory that one operation (for example
``scaled_dot_product_attention``) allocates and frees internally is invisible, only its outputs count.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

__all__ = ["peak_tensor_bytes", "trace_operations", "best_time"]


class _Trace(TorchDispatchMode):
    """Records each operation's name and the shapes of the new tensors it returns."""

    def __init__(self):
        super().__init__()
        self.calls: list[tuple[str, list[tuple[int, ...]]]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = {t.untyped_storage().data_ptr() for t in tree_leaves((args, kwargs))
                  if isinstance(t, torch.Tensor)}
        new = [tuple(t.shape) for t in tree_leaves(out)
               if isinstance(t, torch.Tensor) and t.untyped_storage().data_ptr() not in inputs]
        self.calls.append((func.overloadpacket.__name__, new))
        return out


class _TensorBytes(TorchDispatchMode):
    """Adds up the bytes of the storages that operations create, and subtracts them when freed."""

    def __init__(self):
        super().__init__()
        self.live: dict[int, int] = {}  # storage address -> bytes
        self.now = 0
        self.peak = 0

    def _release(self, address: int) -> None:
        self.now -= self.live.pop(address, 0)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = {t.untyped_storage().data_ptr() for t in tree_leaves((args, kwargs))
                  if isinstance(t, torch.Tensor)}
        for t in tree_leaves(out):
            if not isinstance(t, torch.Tensor):
                continue
            storage = t.untyped_storage()
            address, size = storage.data_ptr(), storage.nbytes()
            if size == 0 or address in inputs or address in self.live:
                continue  # a view, an in-place result, or already counted
            self.live[address] = size
            self.now += size
            self.peak = max(self.peak, self.now)
            weakref.finalize(storage, self._release, address)
        return out


def peak_tensor_bytes(fn, *args, **kwargs) -> int:
    """The most bytes that tensors created inside ``fn(*args, **kwargs)`` held at any one time.

    Every tensor a PyTorch operation returns during the call is counted from its creation until it
    is freed (the result of ``fn`` too, while it is alive); views and in-place results are not new
    memory. Scratch memory allocated *inside* a single fused operation is not seen (see the module
    docstring), so compare functions written with ordinary PyTorch operations.

    Parameters
    ----------
    fn : callable
        The call to measure; its result is discarded.
    *args, **kwargs
        Passed to ``fn``.

    Returns
    -------
    int
        Peak bytes.

    Examples
    --------
    >>> peak_tensor_bytes(torch.zeros, 256, 256)  # one float32 tensor of 256 x 256
    262144
    >>> x = torch.ones(1000)
    >>> peak_tensor_bytes(lambda: (x * 2).sum())  # x * 2 holds 4000 bytes while the sum (4 bytes) is made
    4004
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    mode = _TensorBytes()
    with mode:
        result = fn(*args, **kwargs)
    peak = mode.peak
    del result
    return peak


def trace_operations(fn, *args, **kwargs) -> list[tuple[str, list[tuple[int, ...]]]]:
    """The PyTorch operations that ``fn(*args, **kwargs)`` runs, in order, with the new tensors each makes.

    Returns one ``(name, shapes)`` pair per operation: ``name`` is the ATen operation (``"bmm"``,
    ``"_softmax"``...), ``shapes`` the shapes of the tensors it returns that are new memory (views
    and in-place results give an empty list). A fused operation shows as one name.

    Examples
    --------
    >>> x = torch.ones(2, 3)
    >>> trace_operations(lambda: (x * 2).t().sum())
    [('mul', [(2, 3)]), ('t', []), ('sum', [()])]
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    mode = _Trace()
    with mode:
        fn(*args, **kwargs)
    return mode.calls


def best_time(fn: Callable, *args, repeats: int = 3, warmup: bool = True) -> float:
    """The fastest of ``repeats`` calls ``fn(*args)``, in seconds (lessons 07, 08, 11).

    The minimum, not the mean: on a shared machine every other program only ever makes a call
    slower, so the fastest run is the least disturbed one. With ``warmup`` one call runs first,
    untimed (the first call pays for allocations and lazy initialisation). Timings depend on the
    machine, so a notebook cell that prints them starts with ``# NBVAL_IGNORE_OUTPUT``.

    Examples
    --------
    >>> seconds = best_time(torch.mm, torch.randn(64, 64), torch.randn(64, 64), repeats=2)
    >>> seconds > 0
    True
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be an integer >= 1, got {repeats!r}")
    if not isinstance(warmup, bool):
        raise TypeError(f"warmup must be True or False, got {warmup!r}")
    if warmup:
        fn(*args)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return min(times)
