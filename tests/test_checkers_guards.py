"""The checking machinery: a verdict line for anything a learner's function does, never a traceback.

Odd behaviours (exit, hangs, meta/sparse results, exceptions that cannot be printed, torch's own
NotImplementedError, in-place edits of inputs and modules, detached results), the nbgrader mode,
and the Checker options lessons 09+ use (Case hints, grads, watch, error_hints, time_limit).
"""

from __future__ import annotations

import copy
import math
import signal
import sys
import threading
import time

import pytest
import torch

import attnkit as ak
from attnkit.check import Case, Checker, CheckFailed


def _cases():
    g = torch.Generator().manual_seed(0)
    yield (torch.randn(3, 4, generator=g),)
    yield (torch.randn(2, 5, generator=g),)


def _double():
    return Checker("double", lambda x: 2 * x, _cases, mistakes={"you added 2": lambda x: x + 2})


def quick(checker: Checker, seconds: float = 1.0) -> Checker:
    fast = copy.copy(checker)
    fast.time_limit = seconds
    return fast


# --- the stub, stubbed helpers and torch's NotImplementedError ---------------------------------------

def test_only_the_stubs_own_raise_is_a_pencil():
    def stub(x):
        # YOUR CODE HERE
        raise NotImplementedError()

    assert _double().evaluate(stub).status == "todo"

    def helper(x):
        raise NotImplementedError()

    def uses_helper(x):
        return helper(x) * 2

    verdict = _double().evaluate(uses_helper)
    assert verdict.status == "todo" and "`helper`, which is still a stub" in verdict.message

    def meta_op(x):
        return torch.empty(3, device="meta").to_sparse() + x  # torch raises NotImplementedError from C++

    verdict = _double().evaluate(meta_op)
    assert verdict.status == "fail" and "raised NotImplementedError" in verdict.message


def test_lesson03_exercise3_names_exercise2_when_it_is_still_a_stub():
    def attention_weights(query, key):
        raise NotImplementedError()

    def my_attention(query, key, value):
        return attention_weights(query, key) @ value

    verdict = ak.check.attention.evaluate(my_attention)
    assert verdict.status == "todo" and "attention_weights" in verdict.message


# --- anything a function can do ------------------------------------------------------------------------

class Unprintable(Exception):
    def __str__(self):
        raise ValueError("no")


class NotAString(Exception):
    def __str__(self):
        return 42


class BadTensor(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        raise RuntimeError("boom")


class BadSequence:
    def __len__(self):
        raise RuntimeError("len")

    def __iter__(self):
        raise RuntimeError("iter")


async def _coroutine(x):
    return 2 * x


def _recurse(x):
    return _recurse(x)


def _raise(exc):
    def fn(x):
        raise exc
    return fn


ODD = [
    ("sys.exit()", lambda x: sys.exit(), "exit()"),
    ("sys.exit(3)", lambda x: sys.exit(3), "exit()"),
    ("KeyboardInterrupt", _raise(KeyboardInterrupt()), "interrupted"),
    ("GeneratorExit", _raise(GeneratorExit()), "GeneratorExit"),
    ("str() fails", _raise(Unprintable()), "Unprintable"),
    ("str() not a str", _raise(NotAString()), "NotAString"),
    ("a 10,000-character message", _raise(ValueError("x" * 10_000)), "ValueError"),
    ("recursion", _recurse, "RecursionError"),
    ("returns None", lambda x: None, "forget `return`"),
    ("returns a meta tensor", lambda x: (2 * x).to("meta"), "meta tensor"),
    ("returns a sparse tensor", lambda x: (2 * x).to_sparse(), "sparse"),
    ("returns a CSR tensor", lambda x: (2 * x).to_sparse_csr(), "sparse"),
    ("returns complex numbers", lambda x: (2 * x).to(torch.complex64), "complex"),
    ("returns a quantized tensor", lambda x: torch.quantize_per_tensor(2 * x, 0.1, 0, torch.qint8), "quantized"),
    ("returns a nested tensor", lambda x: torch.nested.nested_tensor([2 * x[0], 2 * x[1]]), "nested"),
    ("returns NumPy", lambda x: (2 * x).numpy(), "NumPy"),
    ("returns a list", lambda x: (2 * x).tolist(), "got list"),
    ("returns a string", lambda x: "2x", "got str"),
    ("returns a generator", lambda x: (v for v in 2 * x), "got generator"),
    ("returns a coroutine", _coroutine, "got coroutine"),
    ("returns a tensor subclass that raises", lambda x: (2 * x).as_subclass(BadTensor), "tensor subclass"),
    ("returns float16", lambda x: (2 * x).half(), "float16"),
    ("returns bfloat16", lambda x: (2 * x).bfloat16(), "bfloat16"),
    ("returns int", lambda x: (2 * x).long(), "int64"),
    ("returns bool", lambda x: x > 0, "torch.bool"),
    ("returns the wrong shape", lambda x: 2 * x.T, "shape is"),
    ("returns NaN", lambda x: 2 * x * math.nan, "inf/NaN"),
    ("takes no argument", lambda: 0, "TypeError"),
]


@pytest.mark.parametrize("label, fn, fragment", ODD, ids=[o[0] for o in ODD])
def test_anything_a_function_does_ends_in_one_cross_line(label, fn, fragment, capsys):
    _double()(fn)
    out = capsys.readouterr()
    lines = out.out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("❌"), out.out
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in out.out + out.err


def test_a_tuple_checker_takes_any_sequence_and_survives_odd_ones():
    pair = Checker("pair", lambda x: (x, 2 * x), _cases)
    assert pair.evaluate(lambda x: [x, 2 * x]).passed
    assert pair.evaluate(lambda x: (t for t in (x, 2 * x))).passed
    assert "expected a tuple" in pair.evaluate(lambda x: {"a": x}).message
    odd = pair.evaluate(lambda x: BadSequence())
    assert odd.status == "fail" and "RuntimeError: iter" in odd.message
    assert "expected 2 results, got 3" in pair.evaluate(lambda x: (x, 2 * x, x)).message
    assert "item 1" in pair.evaluate(lambda x: (x, 3 * x)).message


def test_a_hanging_function_is_stopped_with_a_verdict():
    def spin(x):
        while True:
            pass

    def sleepy(x):
        time.sleep(60)

    def stubborn(x):  # `except Exception` cannot swallow the time limit
        while True:
            try:
                while True:
                    pass
            except Exception:
                pass

    for fn in (spin, sleepy, stubborn):
        start = time.monotonic()
        verdict = quick(_double()).evaluate(fn)
        assert verdict.status == "fail" and "more than 1 s" in verdict.message and "endless loop" in verdict.message
        assert time.monotonic() - start < 10


def test_the_time_limit_leaves_an_outer_timer_running():
    fired = []
    previous = signal.signal(signal.SIGALRM, lambda *a: fired.append(1))
    try:
        signal.setitimer(signal.ITIMER_REAL, 30.0)
        assert _double().evaluate(lambda x: 2 * x).passed
        left = signal.getitimer(signal.ITIMER_REAL)[0]
        assert 0 < left <= 30.0
        assert signal.getsignal(signal.SIGALRM) is not previous  # our test handler is back
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert not fired


def test_off_the_main_thread_the_check_runs_without_a_timer():
    verdicts = []
    thread = threading.Thread(target=lambda: verdicts.append(_double().evaluate(lambda x: x + x)))
    thread.start()
    thread.join(30)
    assert verdicts and verdicts[0].passed


def test_the_check_restores_what_the_learner_changed_globally():
    before_rng = torch.get_rng_state()

    def meddle(x):
        torch.set_default_dtype(torch.float64)
        torch.set_grad_enabled(False)
        torch.manual_seed(123)
        torch.rand(5)
        return 2 * x

    assert _double().evaluate(meddle).passed  # the references were computed before it ran
    assert torch.get_default_dtype() == torch.float32 and torch.is_grad_enabled()
    assert torch.equal(torch.get_rng_state(), before_rng)


# --- inputs and modules edited in place --------------------------------------------------------------

def test_in_place_edits_of_inputs_are_named():
    def add_one(x):
        x += 1
        return 2 * x - 2

    def transposed(x):
        x.t_()
        return 2 * x.t()

    def data_swap(x):
        x.data = x.data * 0
        return torch.zeros_like(x)

    for fn, how in ((add_one, "its values"), (transposed, "shape or layout"), (data_swap, "its values")):
        verdict = _double().evaluate(fn)
        assert verdict.status == "fail" and "changed its input `x` in place" in verdict.message and how in \
            verdict.message, verdict.message


def test_edits_of_a_passed_module_are_named_and_the_reference_uses_a_pristine_copy():
    def cases():
        g = torch.Generator().manual_seed(1)
        layer = torch.nn.Linear(3, 3)
        with torch.no_grad():
            layer.weight.copy_(torch.randn(3, 3, generator=g))
        yield torch.randn(2, 3, generator=g), layer

    apply = Checker("apply", lambda x, layer: layer(x), cases)

    def zero_weights(x, layer):
        with torch.no_grad():
            layer.weight.zero_()
        return layer.bias.expand(2, 3)

    def hook(x, layer):
        layer.register_forward_hook(lambda m, i, o: o)
        return layer(x)

    def eps(x, layer):
        layer.in_features = 4
        return layer(x)

    assert apply.evaluate(lambda x, layer: layer(x)).passed
    for fn, how in ((zero_weights, "`weight` was modified"), (hook, "hook"), (eps, "in_features"),
                    (lambda x, layer: (layer.train(False), layer(x))[1], "train/eval")):
        verdict = apply.evaluate(fn)
        assert verdict.status == "fail" and "changed the module `layer`" in verdict.message, verdict.message
        assert how in verdict.message, verdict.message


# --- gradients ---------------------------------------------------------------------------------------------

def test_gradients_name_a_cut_graph():
    grad_double = Checker("double", lambda x: 2 * x, _cases, grads=True)
    assert grad_double.evaluate(lambda x: x + x).passed
    assert "cut off from autograd" in grad_double.evaluate(lambda x: (2 * x).detach()).message

    def no_grad(x):
        with torch.no_grad():
            return 2 * x

    assert "cut off from autograd" in grad_double.evaluate(no_grad).message
    assert "cut off from autograd" in grad_double.evaluate(lambda x: torch.tensor((2 * x).tolist())).message
    half_detached = grad_double.evaluate(lambda x: x + x.detach())
    assert "gradient reaching `x` differs" in half_detached.message

    def breaks_backward(x):
        e = torch.exp(x)
        e /= 1.0
        return 2 * torch.log(e)

    assert "backward()" in grad_double.evaluate(breaks_backward).message


# --- nbgrader -------------------------------------------------------------------------------------------

def test_under_nbgrader_a_failed_check_raises_one_line(monkeypatch, capsys):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with pytest.raises(CheckFailed) as info:
        _double()(lambda x: x + 2)
    assert isinstance(info.value, AssertionError)
    line = str(info.value)
    assert line.startswith("❌ double: you added 2") and "\n" not in line
    assert info.value._render_traceback_() == [line]
    assert capsys.readouterr().out == ""  # the hint is raised, not printed as well

    def stub(x):
        raise NotImplementedError()

    with pytest.raises(CheckFailed, match="✏️"):
        _double()(stub)
    _double()(lambda x: 2 * x)
    assert capsys.readouterr().out.startswith("✅")


def test_outside_nbgrader_a_failed_check_only_prints(monkeypatch, capsys):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    _double()(lambda x: x + 2)
    assert capsys.readouterr().out.startswith("❌")


# --- the options lessons use ----------------------------------------------------------------------------

def test_positional_arguments_stay_as_they_were():
    checker = Checker("double", lambda x: 2 * x, _cases, {"you added 2": lambda x: x + 2}, 1e-5, 1e-4,
                      lambda got, exp, args: "look again")
    assert checker.evaluate(lambda x: 2 * x).passed
    assert "look again" in checker.evaluate(lambda x: 3 * x).message


def test_case_hints_watch_and_error_hints():
    def cases():
        yield (torch.ones(2, 3),)
        yield Case(torch.full((2, 3), 100.0), hint="big inputs: scale first")

    def no_sum(x):
        def look(func, args, kwargs, result):
            return "you called sum" if getattr(func, "__name__", "") == "sum" else None
        return look

    checker = Checker("halve", lambda x: x / 2, cases, watch=no_sum,
                      error_hints={"must match": "check the shapes"})
    assert checker.evaluate(lambda x: x * 0.5).passed
    assert "big inputs: scale first" in checker.evaluate(lambda x: x.clamp(max=10) / 2).message
    assert "you called sum" in checker.evaluate(lambda x: x / 2 + x.sum() * 0).message
    assert "check the shapes" in checker.evaluate(lambda x: x + torch.ones(5)).message


def test_scalar_checker_takes_numbers_and_one_element_tensors():
    mean = ak.check.ScalarChecker("mean", lambda x: x.mean(), _cases)
    for fn in (lambda x: float(x.mean()), lambda x: x.mean().reshape(1), lambda x: x.mean().double(),
               lambda x: x.mean().numpy()):
        assert mean.evaluate(fn).passed
    assert "got bool" in mean.evaluate(lambda x: True).message
    assert "got str" in mean.evaluate(lambda x: "0.5").message


def test_a_module_updated_by_its_own_forward_is_not_an_edit():
    def cases():
        g = torch.Generator().manual_seed(2)
        yield torch.randn(4, 3, generator=g), torch.nn.BatchNorm1d(3)  # training mode: forward updates buffers

    apply = Checker("apply", lambda x, bn: bn(x), cases)
    assert apply.evaluate(lambda x, bn: bn(x)).passed
    twice = apply.evaluate(lambda x, bn: (bn(x), bn(x))[1])
    assert twice.status == "fail" and "`running_mean` was modified" in twice.message


def test_stubs_without_source_lines_are_still_recognised():
    namespace = {}
    exec("def helper(x):\n    raise NotImplementedError()\n"  # no linecache entry: the message decides
         "def stub(x):\n    raise NotImplementedError()\n"
         "def uses(x):\n    return helper(x)\n"
         "def says(x):\n    raise NotImplementedError('sparse @ meta')\n", namespace)
    assert _double().evaluate(namespace["stub"]).status == "todo"
    verdict = _double().evaluate(namespace["uses"])
    assert verdict.status == "todo" and "`helper`" in verdict.message
    verdict = _double().evaluate(namespace["says"])
    assert verdict.status == "fail" and "sparse @ meta" in verdict.message


def test_a_learner_who_breaks_torch_still_gets_a_line(monkeypatch):
    def vandal(x):
        monkeypatch.delattr(torch, "allclose")
        monkeypatch.delattr(torch, "set_rng_state")
        return 2 * x

    verdict = _double().evaluate(vandal)
    assert verdict.status == "fail" and "could not" in verdict.message


def test_float32_and_float64_are_both_fine_whatever_the_reference_computes_in():
    checker = Checker("double64", lambda x: 2 * x.double(), _cases)
    assert checker.evaluate(lambda x: 2 * x).passed
    assert checker.evaluate(lambda x: 2 * x.double()).passed
    assert "float16" in checker.evaluate(lambda x: 2 * x.half()).message


def test_references_that_return_plain_python_values():
    count = Checker("count", lambda x: int((x > 0).sum()), _cases)
    assert count.evaluate(lambda x: int((x > 0).sum())).passed
    assert count.evaluate(lambda x: (x > 0).sum()).passed  # a one-element tensor for a number
    assert "values differ" in count.evaluate(lambda x: int((x >= 0).sum()) + 1).message
    words = Checker("words", lambda x: ["pos" if v > 0 else "neg" for v in x[0].tolist()], _cases)
    assert words.evaluate(lambda x: ["pos" if v > 0 else "neg" for v in x[0]]).passed
    assert "expected list, got tuple" in words.evaluate(lambda x: ("pos",)).message
    assert "got ['pos']" in words.evaluate(lambda x: ["pos"]).message


@pytest.mark.parametrize("name, right, detached", [
    ("rope", lambda x, positions=None: ak.apply_rope(x, positions),
     lambda x, positions=None: ak.apply_rope(x.detach(), positions)),
    ("image_to_patches", lambda *a: ak.image_to_patches(*a), lambda img, *a: ak.image_to_patches(img.detach(), *a)),
    ("expand_kv_heads", lambda kv, h: kv.repeat_interleave(h // kv.shape[1], dim=1),
     lambda kv, h: kv.detach().repeat_interleave(h // kv.shape[1], dim=1)),
])
def test_expert_zone_checkers_refuse_a_detached_answer(name, right, detached):
    checker = getattr(ak.check, name)
    assert checker.evaluate(right).passed
    verdict = checker.evaluate(detached)
    assert verdict.status == "fail" and "cut off from autograd" in verdict.message
