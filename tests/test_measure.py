"""attnkit.measure: peak bytes of the tensors a call creates, and the operations it runs."""

import pytest
import torch
from torch.nn import functional as F

import attnkit as ak


def test_one_new_tensor_is_counted_exactly():
    assert ak.peak_tensor_bytes(torch.zeros, 256, 256) == 256 * 256 * 4
    assert ak.peak_tensor_bytes(torch.zeros, 10, dtype=torch.float64) == 80


def test_views_and_in_place_results_are_not_new_memory():
    x = torch.ones(100, 100)
    assert ak.peak_tensor_bytes(lambda: x.t()) == 0
    assert ak.peak_tensor_bytes(lambda: x[:10].reshape(-1)) == 0
    assert ak.peak_tensor_bytes(lambda: x.mul_(1.0)) == 0


def test_freed_tensors_stop_counting():
    def many_in_turn():
        for _ in range(10):
            torch.ones(1000).sum()  # 4000 bytes, freed before the next one

    def many_at_once():
        return [torch.ones(1000) for _ in range(10)]

    assert ak.peak_tensor_bytes(many_in_turn) == 4000 + 4
    assert ak.peak_tensor_bytes(many_at_once) == 10 * 4000


def test_materialised_attention_holds_the_matrix_and_the_tiled_one_does_not():
    q, k, v = torch.randn(3, 1, 2, 1024, 16).unbind(0)
    matrix = 2 * 1024 * 1024 * 4  # (B, H, T, T) float32
    assert ak.peak_tensor_bytes(ak.attention, q, k, v) >= 2 * matrix  # scores and weights
    assert ak.peak_tensor_bytes(ak.memory_efficient_attention, q, k, v) < matrix


def test_peak_tensor_bytes_passes_keyword_arguments():
    q = torch.randn(1, 1, 64, 8)
    assert ak.peak_tensor_bytes(ak.attention, q, q, q, mask=ak.causal_mask(64)) >= 64 * 64 * 4


def test_trace_lists_operations_and_new_tensors():
    x = torch.ones(2, 3)
    assert ak.trace_operations(lambda: (x * 2).t().sum()) == [("mul", [(2, 3)]), ("t", []), ("sum", [()])]


def test_trace_shows_the_materialised_matrix_and_one_fused_sdpa_call():
    q, k, v = torch.randn(3, 1, 2, 8, 4).unbind(0)
    made = [shapes for _, shapes in ak.trace_operations(ak.attention, q, k, v) if shapes]
    assert sum(s[-2:] == (8, 8) for shapes in made for s in shapes) >= 2
    ops = [name for name, _ in ak.trace_operations(F.scaled_dot_product_attention, q, k, v)]
    assert len(ops) == 1


@pytest.mark.parametrize("fn", [ak.peak_tensor_bytes, ak.trace_operations])
def test_not_callable_is_a_type_error(fn):
    with pytest.raises(TypeError, match="fn must be callable, got int"):
        fn(3)


def test_best_time_is_the_fastest_call_and_warms_up_first():
    calls = []

    def fn(x):
        calls.append(x)

    seconds = ak.best_time(fn, 7, repeats=3)
    assert calls == [7, 7, 7, 7] and seconds >= 0  # one warm-up call, then three timed ones
    calls.clear()
    ak.best_time(fn, 1, repeats=2, warmup=False)
    assert calls == [1, 1]


@pytest.mark.parametrize("fn, kwargs, error, words", [
    ("not callable", {}, TypeError, "callable"),
    (print, {"repeats": 0}, ValueError, "repeats"),
    (print, {"repeats": 2.5}, ValueError, "2.5"),
    (print, {"warmup": "yes"}, TypeError, "warmup"),
])
def test_best_time_refuses_bad_input(fn, kwargs, error, words):
    with pytest.raises(error, match=words):
        ak.best_time(fn, **kwargs)
