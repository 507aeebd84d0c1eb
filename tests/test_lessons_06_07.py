"""Lessons 06 and 07: checkers, figures and widget callbacks."""

import math

import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.figure import Figure

import attnkit as ak
from attnkit import check

# --- lesson 06 ---------------------------------------------------------------------------


def test_scaled_scores_checker():
    right = check.scaled_scores.evaluate(lambda q, k: q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]))
    assert right.passed
    by_dk = check.scaled_scores.evaluate(lambda q, k: q @ k.transpose(-2, -1) / q.shape[-1])
    assert by_dk.status == "fail" and "instead of sqrt(d_k)" in by_dk.message
    unscaled = check.scaled_scores.evaluate(lambda q, k: q @ k.transpose(-2, -1))
    assert "forgot the scale" in unscaled.message
    by_length = check.scaled_scores.evaluate(lambda q, k: q @ k.transpose(-2, -1) / math.sqrt(q.shape[-2]))
    assert "number of queries" in by_length.message


def test_softmax_entropy_checker():
    assert check.softmax_entropy.evaluate(lambda w: -torch.xlogy(w, w).sum(-1)).passed
    nan = check.softmax_entropy.evaluate(lambda w: -(w * w.log()).sum(-1))
    assert nan.status == "fail" and "0 * log(0)" in nan.message
    bits = check.softmax_entropy.evaluate(lambda w: -(torch.xlogy(w, w) / math.log(2)).sum(-1))
    assert "base 2" in bits.message
    sign = check.softmax_entropy.evaluate(lambda w: torch.xlogy(w, w).sum(-1))
    assert "minus sign" in sign.message


def test_checkers_report_the_stub_and_exceptions():
    def stub(*args):
        raise NotImplementedError()

    for checker in (check.scaled_scores, check.softmax_entropy, check.pre_norm_residual, check.feed_forward):
        assert checker.evaluate(stub).status == "todo"
    broken = check.feed_forward.evaluate(lambda x, a, b: x @ torch.ones(3, 3))
    assert broken.status == "fail" and "raised RuntimeError" in broken.message


def test_plot_loss_curves_single_and_many_runs():
    ax = ak.plot.plot_loss_curves({"a": [1.0, 0.5, 0.25, 0.1], "b": [[1.0, 0.9, 0.8, 0.7], [1.0, 0.8, 0.6, 0.5]]},
                                  smooth=2, title="t")
    assert len(ax.lines) == 3
    assert ax.get_yscale() == "log" and ax.get_title() == "t"
    assert len(ax.lines[0].get_xdata()) == 3  # smoothed over 2 steps
    plt.close("all")
    with pytest.raises(ValueError, match="non-empty dict"):
        ak.plot.plot_loss_curves([1.0, 0.5])
    with pytest.raises(ValueError, match="smooth"):
        ak.plot.plot_loss_curves({"a": [1.0]}, smooth=0)
    with pytest.raises(ValueError, match="'a'"):
        ak.plot.plot_loss_curves({"a": []})


def test_draw_scaling_shows_saturation():
    unscaled = ak.widgets.draw_scaling(d_k=256, scale_exponent=0.0)
    scaled = ak.widgets.draw_scaling(d_k=256, scale_exponent=0.5)
    assert isinstance(unscaled, Figure) and len(scaled.axes) == 2

    def entropy(fig):
        return float(fig._suptitle.get_text().split("entropy ")[1].split(" ")[0])

    assert entropy(unscaled) < 0.5 < 2.0 < entropy(scaled) <= math.log(16)
    again = ak.widgets.draw_scaling(d_k=256, scale_exponent=0.5)
    assert again._suptitle.get_text() == scaled._suptitle.get_text()  # seeded


def test_draw_scaling_reports_score_and_query_gradients():
    """Unscaled at d_k=256: less gradient at the scores, more at the queries (lesson 06)."""
    def grads(fig):
        text = fig._suptitle.get_text()
        return (float(text.split("mean |dL/dscores| ")[1].split(",")[0]),
                float(text.split("mean |dL/dq| ")[1]))

    scores_unscaled, q_unscaled = grads(ak.widgets.draw_scaling(d_k=256, scale_exponent=0.0))
    scores_scaled, q_scaled = grads(ak.widgets.draw_scaling(d_k=256, scale_exponent=0.5))
    assert scores_unscaled < scores_scaled
    assert q_unscaled > 2 * q_scaled
    plt.close("all")


def test_draw_scaling_bad_input():
    with pytest.raises(ValueError, match="scale_exponent"):
        ak.widgets.draw_scaling(64, 2.0)
    with pytest.raises(TypeError, match="d_k"):
        ak.widgets.draw_scaling(64.0)
    with pytest.raises(ValueError, match="num_keys"):
        ak.widgets.draw_scaling(64, num_keys=1)


def test_scaling_explorer_has_text_stand_in():
    explorer = ak.widgets.scaling_explorer()
    assert "d_k" in repr(explorer)

# --- lesson 07 ---------------------------------------------------------------------------


def _frozen_pair(d=4):
    g = torch.Generator().manual_seed(0)
    sub, norm = torch.nn.Linear(d, d), torch.nn.LayerNorm(d)
    with torch.no_grad():
        for p in list(sub.parameters()) + list(norm.parameters()):
            p.copy_(torch.randn(p.shape, generator=g))
    return sub, norm


def test_pre_norm_residual_checker():
    assert check.pre_norm_residual.evaluate(lambda x, s, n: x + s(n(x))).passed
    post = check.pre_norm_residual.evaluate(lambda x, s, n: n(x + s(x)))
    assert post.status == "fail" and "post-norm" in post.message
    no_residual = check.pre_norm_residual.evaluate(lambda x, s, n: s(n(x)))
    assert "dropped the residual" in no_residual.message


def test_pre_norm_residual_reference_matches_the_layer():
    # the checker's reference is the layer's own pre-norm attention sub-block
    layer = ak.TransformerEncoderLayer(8, 2, dim_feedforward=16, norm_first=True).eval()
    x = torch.randn(2, 5, 8)
    attention_block = lambda h: layer.self_attn(h, h, h)[0]  # noqa: E731
    expected = check.pre_norm_residual.reference(x, attention_block, layer.norm1)
    h = x + layer._attention_block(layer.norm1(x), None)
    assert torch.allclose(expected, h, atol=1e-6)


def test_feed_forward_checker():
    assert check.feed_forward.evaluate(lambda x, a, b: b(torch.relu(a(x)))).passed
    linear = check.feed_forward.evaluate(lambda x, a, b: b(a(x)))
    assert "left out the ReLU" in linear.message
    residual = check.feed_forward.evaluate(lambda x, a, b: x + b(torch.relu(a(x))))
    assert "residual" in residual.message


def test_draw_encoder_attention_and_explorer():
    torch.manual_seed(0)
    model = ak.TinyTransformer(10, d_model=16, num_heads=2, num_layers=2, max_len=5)
    ids = torch.randint(0, 10, (2, 5))
    model(ids)
    keys = [[str(t) for t in row] for row in ids.tolist()]
    queries = [[f"q{i}" for i in range(5)] for _ in range(2)]
    fig = ak.widgets.draw_encoder_attention(model.attn_weights, keys, queries, layer=1, head=0, example=1)
    assert isinstance(fig, Figure)
    assert fig.axes[0].get_title().startswith("layer 1, head 0: entropy")
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == keys[1]
    mean = ak.widgets.draw_encoder_attention(model.attn_weights, keys, queries, head=-1)
    assert "mean of 2 heads" in mean.axes[0].get_title()
    assert "2 examples" in repr(ak.widgets.encoder_attention_explorer(model.attn_weights, keys, queries))
    with pytest.raises(ValueError, match="layer 2"):
        ak.widgets.draw_encoder_attention(model.attn_weights, keys, queries, layer=2)
    with pytest.raises(ValueError, match="head 5"):
        ak.widgets.draw_encoder_attention(model.attn_weights, keys, queries, head=5)
    with pytest.raises(ValueError, match="example 0"):
        ak.widgets.draw_encoder_attention(model.attn_weights, [k[:4] for k in keys], queries)
    with pytest.raises(TypeError, match="list"):
        ak.widgets.draw_encoder_attention(model.attn_weights[0], keys, queries)
