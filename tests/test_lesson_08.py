"""Lesson 08's figures, widget and checkers (attnkit.plot, attnkit.widgets, attnkit.check)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import attnkit as ak  # noqa: E402
from attnkit import check  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# --- plot_cost_curves ---------------------------------------------------------------------

def test_cost_curves_draws_each_series_and_a_quadratic_guide():
    lengths = [128, 256, 512]
    ax = ak.plot.plot_cost_curves(lengths, {"a": [1.0, 4.0, 16.0], "b": [2.0, 3.0, 5.0]})
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert len(ax.lines) == 3  # two series + the guide
    guide = ax.lines[-1].get_ydata()
    # slope 2, anchored at the first series' last point
    assert guide[-1] == pytest.approx(16.0) and guide[0] == pytest.approx(1.0)


def test_cost_curves_without_guide():
    ax = ak.plot.plot_cost_curves([1, 2], {"a": [1.0, 2.0]}, slope=None)
    assert len(ax.lines) == 1


@pytest.mark.parametrize("lengths, series, error, words", [
    ([128], {"a": [1.0]}, ValueError, "at least two"),
    ([128, 256], {"a": [1.0]}, ValueError, "'a' has 1 values for 2 lengths"),
    ([128, 256], {"a": [1.0, 0.0]}, ValueError, "positive"),
    ([128, 256], [1.0, 2.0], TypeError, "dict"),
    ([0, 256], {"a": [1.0, 2.0]}, ValueError, "positive"),
])
def test_cost_curves_bad_input_names_it(lengths, series, error, words):
    with pytest.raises(error, match=words):
        ak.plot.plot_cost_curves(lengths, series)


# --- plot_quality_vs_cost -----------------------------------------------------------------

def test_quality_vs_cost_sorts_points_and_marks_chance_and_highlight():
    ax = ak.plot.plot_quality_vs_cost({"w": ([1.0, 0.25], [0.9, 0.3])}, chance=0.1, highlight=(0.25, 0.3))
    curve = ax.lines[0]
    assert list(curve.get_xdata()) == [0.25, 1.0]  # drawn left to right
    assert list(curve.get_ydata()) == [0.3, 0.9]
    assert len(ax.lines) == 3  # curve, chance line, highlight


@pytest.mark.parametrize("curves, error", [
    ({}, TypeError), ([1, 2], TypeError), ({"w": ([0.1, 0.2], [0.5])}, ValueError),
])
def test_quality_vs_cost_bad_input(curves, error):
    with pytest.raises(error):
        ak.plot.plot_quality_vs_cost(curves)


# --- draw_window_tradeoff / window_explorer ----------------------------------------------

def test_draw_window_tradeoff_returns_a_figure_with_mask_and_curve():
    fig = ak.widgets.draw_window_tradeoff(8, 2, windows=[0, 2, 7], accuracies=[0.2, 0.5, 1.0], chance=0.1)
    assert isinstance(fig, Figure)
    ax_mask, ax_curve = fig.axes
    shown = ax_mask.images[0].get_array()
    assert (torch.as_tensor(shown.data) == ak.local_window_mask(8, 2).int()).all()
    kept = ak.local_window_mask(8, 2).float().mean().item()
    assert f"{kept:.0%}" in ax_curve.get_title() and "0.50" in ax_curve.get_title()


def test_draw_window_tradeoff_same_input_same_picture():
    a = ak.widgets.draw_window_tradeoff(6, 1, [0, 1], [0.1, 0.4])
    b = ak.widgets.draw_window_tradeoff(6, 1, [0, 1], [0.1, 0.4])
    assert a.axes[1].get_title() == b.axes[1].get_title()
    assert (a.axes[0].images[0].get_array() == b.axes[0].images[0].get_array()).all()


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(window=3), ValueError, "window 3 is not one of the measured windows"),
    (dict(accuracies=[0.1]), ValueError, "2 windows but 1 accuracies"),
    (dict(length=0), ValueError, "length"),
    (dict(window=1.5), TypeError, "window"),
])
def test_draw_window_tradeoff_bad_input_names_it(kwargs, error, words):
    args = dict(length=6, window=1, windows=[0, 1], accuracies=[0.1, 0.4]) | kwargs
    with pytest.raises(error, match=words):
        ak.widgets.draw_window_tradeoff(**args)


def test_window_explorer_has_a_text_stand_in():
    pytest.importorskip("ipywidgets")
    explorer = ak.widgets.window_explorer(8, [0, 2, 7], [0.2, 0.5, 1.0])
    assert isinstance(explorer, ak.widgets.Explorer)
    assert "window" in repr(explorer).lower()
    assert explorer._repr_mimebundle_()["text/plain"] == explorer.text


# --- checkers ------------------------------------------------------------------------------

def _stub(*args):
    raise NotImplementedError()


def test_online_softmax_checker_accepts_the_reference_loop():
    verdict = check.online_softmax_attention.evaluate(lambda q, k, v, b: check.lesson08._online_softmax(q, k, v, b))
    assert verdict.passed, verdict.message


def test_online_softmax_reference_loop_equals_attention_for_every_block_size():
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(2, 5, 8, generator=g), torch.randn(2, 11, 8, generator=g)
    v = torch.randn(2, 11, 3, generator=g)
    expected = ak.attention(q, k, v)[0]
    for block in (1, 3, 4, 11, 50):
        assert torch.allclose(check.lesson08._online_softmax(q, k, v, block), expected, atol=1e-6)


@pytest.mark.parametrize("hint, wrong", list(check.online_softmax_attention.mistakes.items()))
def test_online_softmax_checker_names_each_typical_mistake(hint, wrong):
    verdict = check.online_softmax_attention.evaluate(wrong)
    assert verdict.status == "fail"
    assert hint in verdict.message


def test_online_softmax_checker_stub_and_exception():
    assert check.online_softmax_attention.evaluate(_stub).status == "todo"
    verdict = check.online_softmax_attention.evaluate(lambda q, k, v, b: q @ v)
    assert verdict.status == "fail" and "raised" in verdict.message


def test_sliding_window_checker_accepts_the_reference_and_refuses_non_bool_masks():
    assert check.sliding_window_mask.evaluate(check.lesson08._sliding_reference).passed
    # ak.attention refuses an int mask and adds a float one: only a bool mask follows the mask rule
    verdict = check.sliding_window_mask.evaluate(lambda n, w: check.lesson08._sliding_reference(n, w).int())
    assert verdict.status == "fail" and "refuses an integer mask" in verdict.message


def test_sliding_window_reference_is_causal_and_banded():
    mask = check.lesson08._sliding_reference(6, 2)
    assert mask[4].tolist() == [False, False, True, True, True, False]
    assert (mask == (ak.causal_mask(6) & ak.local_window_mask(6, 2))).all()


@pytest.mark.parametrize("hint, wrong", list(check.sliding_window_mask.mistakes.items()))
def test_sliding_window_checker_names_each_typical_mistake(hint, wrong):
    verdict = check.sliding_window_mask.evaluate(wrong)
    assert verdict.status == "fail"
    assert hint in verdict.message


def test_sliding_window_checker_stub():
    assert check.sliding_window_mask.evaluate(_stub).status == "todo"


def test_cached_step_checker_accepts_reference_and_matches_full_causal_attention():
    assert check.cached_attention_step.evaluate(check.lesson11._cache_step).passed
    g = torch.Generator().manual_seed(2)
    q, k, v = (torch.randn(1, 2, 5, 4, generator=g) for _ in range(3))
    full = ak.attention(q, k, v, mask=ak.causal_mask(5))[0]  # (1, 2, 5, 4)
    out, cache_k, cache_v = check.lesson11._cache_step(q[..., 4:, :], k[..., 4:, :], v[..., 4:, :],
                                              k[..., :4, :], v[..., :4, :])
    assert torch.allclose(out, full[..., 4:, :], atol=1e-6)
    assert cache_k.shape == (1, 2, 5, 4) and torch.equal(cache_v, v)


@pytest.mark.parametrize("hint, wrong", list(check.cached_attention_step.mistakes.items()))
def test_cached_step_checker_names_each_typical_mistake(hint, wrong):
    verdict = check.cached_attention_step.evaluate(wrong)
    assert verdict.status == "fail"
    assert hint in verdict.message


def test_cached_step_checker_stub():
    assert check.cached_attention_step.evaluate(_stub).status == "todo"
