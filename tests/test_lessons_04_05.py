"""Lessons 04 and 05: their data, model, figures, explorer callbacks and exercise checkers."""

import math

import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

import attnkit as ak


def stub(*args):
    raise NotImplementedError()


# --- data: two_relations_batch -------------------------------------------------------------

def test_two_relations_batch_targets_are_previous_and_first_token():
    x, y = ak.two_relations_batch(4, 7, vocab_size=9, generator=torch.Generator().manual_seed(1))
    assert x.shape == (4, 7) and y.shape == (4, 7, 2)
    assert x.dtype == y.dtype == torch.long
    assert 0 <= x.min() and x.max() < 9
    assert (y[:, 0] == -100).all()
    assert torch.equal(y[:, 1:, 0], x[:, :-1])
    assert torch.equal(y[:, 1:, 1], x[:, :1].expand(4, 6))


def test_two_relations_batch_same_seed_same_batch():
    a = ak.two_relations_batch(3, 5, generator=torch.Generator().manual_seed(4))
    b = ak.two_relations_batch(3, 5, generator=torch.Generator().manual_seed(4))
    c = ak.two_relations_batch(3, 5, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


@pytest.mark.parametrize("kwargs, error, fragment", [
    (dict(batch_size=0, length=5), ValueError, "batch_size"),
    (dict(batch_size=2, length=1), ValueError, "length"),
    (dict(batch_size=2, length=5, vocab_size=1), ValueError, "vocab_size"),
    (dict(batch_size=2.5, length=5), TypeError, "batch_size"),
    (dict(batch_size=2, length=5, generator=3), TypeError, "generator"),
])
def test_two_relations_batch_bad_input(kwargs, error, fragment):
    with pytest.raises(error, match=fragment):
        ak.two_relations_batch(**kwargs)


# --- models: AttentionOnlyModel -----------------------------------------------------------

def small_model(num_heads=2, num_layers=1, seed=0):
    torch.manual_seed(seed)
    return ak.AttentionOnlyModel(vocab_size=10, d_model=16, num_heads=num_heads, max_len=8,
                                 num_layers=num_layers).eval()


def test_model_shapes_and_weights():
    model = small_model(num_heads=4, num_layers=2)
    tokens = torch.randint(0, 10, (3, 6))
    logits = model(tokens)
    assert logits.shape == (3, 6, 2, 10)
    assert model.attn_weights.shape == (3, 2, 4, 6, 6)
    assert torch.allclose(model.attn_weights.sum(-1), torch.ones(3, 2, 4, 6))
    assert (model.attn_weights.triu(1) == 0).all()  # causal: nothing above the diagonal


def test_model_layer_is_the_multi_head_attention_layer():
    """Without a head mask, the hand-unrolled forward equals ak.MultiHeadAttention's own."""
    model = small_model()
    tokens = torch.randint(0, 10, (2, 5))
    x = model.token_emb(tokens) + model.pos_emb(torch.arange(5))
    out, weights = model.layers[0](x, x, x, mask=ak.causal_mask(5))
    expected = model.readout(x + out).view(2, 5, 2, 10)
    assert torch.allclose(model(tokens), expected, atol=1e-6)
    assert torch.allclose(model.attn_weights[:, 0], weights, atol=1e-6)


def test_head_mask_ablates_exactly_one_head():
    model = small_model()
    tokens = torch.randint(0, 10, (2, 5))
    mha = model.layers[0]
    x = model.token_emb(tokens) + model.pos_emb(torch.arange(5))
    q, k, v = (mha.split_heads(p(x)) for p in (mha.q_proj, mha.k_proj, mha.v_proj))
    context, _ = ak.attention(q, k, v, mask=ak.causal_mask(5))
    context[:, 1] = 0.0  # head 1 off
    expected = model.readout(x + mha.out_proj(mha.merge_heads(context))).view(2, 5, 2, 10)
    for head_mask in (torch.tensor([1.0, 0.0]), torch.tensor([[1.0, 0.0]]), [1, 0],
                      torch.tensor([True, False])):
        assert torch.allclose(model(tokens, head_mask=head_mask), expected, atol=1e-6)
    assert torch.allclose(model(tokens, head_mask=torch.ones(2)), model(tokens), atol=1e-6)


def test_model_accuracy_and_loss_skip_ignored_targets():
    model = small_model()
    x, y = ak.two_relations_batch(8, 6, vocab_size=10, generator=torch.Generator().manual_seed(0))
    acc = model.accuracy(x, y)
    assert acc.shape == (2,) and ((0 <= acc) & (acc <= 1)).all()
    logits = model(x)
    valid = y[..., 0] != -100
    manual = (logits[..., 0, :].argmax(-1) == y[..., 0])[valid].float().mean()
    assert math.isclose(acc[0].item(), manual.item(), rel_tol=1e-6)
    assert torch.isfinite(model.loss(x, y))


def test_model_learns_two_relations_and_ablation_hurts_one_each():
    """A short run of the lesson's experiment: two heads split the two relations."""
    ak.seed_everything(0)
    model = ak.AttentionOnlyModel(16, d_model=64, num_heads=2, max_len=12)
    losses = ak.train(model, lambda g: ak.two_relations_batch(64, 12, 16, generator=g),
                      lambda m, b: m.loss(*b), steps=120, lr=3e-3, seed=0, progress=False)
    assert losses[-1] < 0.05
    x, y = ak.two_relations_batch(500, 12, 16, generator=torch.Generator().manual_seed(9))
    y[:, :2] = -100
    assert (model.accuracy(x, y) > 0.95).all()
    drops = torch.stack([model.accuracy(x, y, head_mask=torch.eye(2)[h].logical_not()) for h in range(2)])
    # each head's ablation sends exactly one relation to (near) chance and leaves the other intact
    assert sorted(drops.argmin(1).tolist()) == [0, 1]
    assert (drops.min(1).values < 0.2).all() and (drops.max(1).values > 0.95).all()


def test_one_head_model_splits_its_weight_and_is_slower():
    """Lesson 05's baseline: with the same width, lr and 120 steps, one head does not solve both."""
    ak.seed_everything(1)
    model = ak.AttentionOnlyModel(16, d_model=64, num_heads=1, max_len=12)
    ak.train(model, lambda g: ak.two_relations_batch(64, 12, 16, generator=g),
             lambda m, b: m.loss(*b), steps=120, lr=3e-3, seed=1, progress=False)
    x, y = ak.two_relations_batch(500, 12, 16, generator=torch.Generator().manual_seed(9))
    y[:, :2] = -100
    accuracy = model.accuracy(x, y)
    assert accuracy.shape == (2,) and accuracy.min() < 0.9
    model(x)
    w = model.attn_weights[:, 0, 0]  # (B, T, T): layer 0, the one head
    later = torch.arange(2, 12)
    on_prev, on_first = w[:, later, later - 1].mean(), w[:, later, 0].mean()
    assert on_prev > 0.3 and on_first > 0.3  # the single row of weights is shared between both
    assert model(x, head_mask=torch.tensor([0.0])).shape == (500, 12, 2, 16)


def test_model_same_seed_same_output():
    tokens = torch.randint(0, 10, (2, 5))
    assert torch.equal(small_model(seed=3)(tokens), small_model(seed=3)(tokens))


@pytest.mark.parametrize("kwargs, error, fragment", [
    (dict(vocab_size=0), ValueError, "vocab_size"),
    (dict(vocab_size=10, d_model=10, num_heads=3), ValueError, "divisible"),
    (dict(vocab_size=10, max_len=0), ValueError, "max_len"),
    (dict(vocab_size=10, num_layers=1.5), TypeError, "num_layers"),
])
def test_model_bad_construction(kwargs, error, fragment):
    with pytest.raises(error, match=fragment):
        ak.AttentionOnlyModel(**kwargs)


def test_model_bad_input():
    model = small_model()
    with pytest.raises(TypeError, match="int64"):
        model(torch.randn(2, 5))
    with pytest.raises(ValueError, match="max_len=8"):
        model(torch.zeros(2, 9, dtype=torch.long))
    with pytest.raises(ValueError, match=r"0\.\.9"):
        model(torch.full((2, 5), 10, dtype=torch.long))
    with pytest.raises(ValueError, match=r"head_mask has shape \(3\)"):
        model(torch.zeros(2, 5, dtype=torch.long), head_mask=torch.ones(3))
    x, y = ak.two_relations_batch(2, 5, vocab_size=10)
    with pytest.raises(ValueError, match="targets have shape"):
        model.loss(x, y[..., 0])
    with pytest.raises(ValueError, match="targets have shape"):
        model.accuracy(x, y[..., :1])


# --- figures and explorer callbacks --------------------------------------------------------

def test_plot_positional_encodings():
    ax = ak.plot.plot_positional_encodings(ak.sinusoidal_positions(10, 6))
    assert ax.images[0].get_array().shape == (10, 6)
    plt.close("all")
    with pytest.raises(ValueError, match="2-d"):
        ak.plot.plot_positional_encodings(torch.zeros(3))


def test_plot_heads():
    weights = torch.softmax(torch.randn(3, 4, 4), -1)
    axes = ak.plot.plot_heads(weights, list("abcd"), titles=["x", "y", "z"])
    assert [ax.get_title() for ax in axes] == ["x", "y", "z"]
    plt.close("all")
    with pytest.raises(ValueError, match="3-d"):
        ak.plot.plot_heads(torch.zeros(4, 4))
    with pytest.raises(ValueError, match="2 titles for 3 heads"):
        ak.plot.plot_heads(weights, titles=["a", "b"])


def test_draw_self_attention_row():
    weights = torch.softmax(torch.randn(4, 4, generator=torch.Generator().manual_seed(0)), -1)
    fig = ak.widgets.draw_self_attention_row(weights, list("abcd"), token_index=2)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    heights = [bar.get_height() for bar in fig.axes[1].patches]
    assert heights == pytest.approx(weights[2].tolist())
    with pytest.raises(ValueError, match="outside"):
        ak.widgets.draw_self_attention_row(weights, list("abcd"), token_index=4)
    with pytest.raises(ValueError, match="3 tokens"):
        ak.widgets.draw_self_attention_row(weights, list("abc"))
    with pytest.raises(ValueError, match="square"):
        ak.widgets.draw_self_attention_row(torch.zeros(2, 3), list("ab"))


def test_draw_head_attention_and_explorers():
    model = small_model(num_heads=2, num_layers=2)
    model(torch.randint(0, 10, (1, 5)))
    weights = model.attn_weights[0]  # (L, H, T, T)
    fig = ak.widgets.draw_head_attention(weights, list("abcde"), layer=1, head=1)
    assert isinstance(fig, Figure) and fig.axes[0].get_title().startswith("layer 1, head 1: previous")
    with pytest.raises(ValueError, match="head 2 is outside"):
        ak.widgets.draw_head_attention(weights, list("abcde"), head=2)
    with pytest.raises(ValueError, match="layer 2 is outside"):
        ak.widgets.draw_head_attention(weights, list("abcde"), layer=2)
    with pytest.raises(ValueError, match=r"\(layers, heads, T, T\)"):
        ak.widgets.draw_head_attention(weights[0], list("abcde"))
    pytest.importorskip("ipywidgets")
    assert "Head explorer" in repr(ak.widgets.head_explorer(weights, list("abcde")))
    assert "Self-attention explorer" in repr(
        ak.widgets.self_attention_explorer(weights[0, 0], list("abcde")))


# --- exercise checkers -------------------------------------------------------------------

def ref_self_attention(x, wq, wk, wv):
    return ak.attention(x @ wq, x @ wk, x @ wv)[0]


@pytest.mark.parametrize("fn, status, fragment", [
    (ref_self_attention, "pass", "matches"),
    (stub, "todo", "NotImplementedError"),
    (lambda x, wq, wk, wv: ak.attention(x @ wq, x @ wq, x @ wq)[0], "fail", "all with w_q"),
    (lambda x, wq, wk, wv: ak.attention(x @ wk, x @ wq, x @ wv)[0], "fail", "swapped queries and keys"),
    (lambda x, wq, wk, wv: ak.attention(x @ wq, x @ wk, x)[0], "fail", "x itself as the values"),
    (lambda x, wq, wk, wv: ak.attention(x, x, x @ wv)[0], "fail", "x itself as queries and keys"),
    (lambda x, wq, wk, wv: torch.softmax((x @ wq) @ (x @ wk).transpose(-2, -1), -1) @ (x @ wv),
     "fail", "forgot the scale"),
    (lambda x, wq, wk, wv: ak.attention(x @ wq, x @ wk, x @ wv), "fail", "return only the output"),
])
def test_self_attention_checker(fn, status, fragment):
    verdict = ak.check.self_attention.evaluate(fn)
    assert verdict.status == status and fragment in verdict.message


@pytest.mark.parametrize("fn, status, fragment", [
    (lambda x: x + ak.sinusoidal_positions(x.shape[1], x.shape[2]), "pass", "matches"),
    (stub, "todo", ""),
    (lambda x: x, "fail", "unchanged"),
    (lambda x: x * ak.sinusoidal_positions(x.shape[1], x.shape[2]), "fail", "multiplied"),
    (lambda x: x + ak.sinusoidal_positions(x.shape[1] + 1, x.shape[2])[1:], "fail", "off by one"),
    (lambda x: x[0] + ak.sinusoidal_positions(x.shape[1], x.shape[2]), "fail", "broadcasts over the batch"),
])
def test_add_positions_checker(fn, status, fragment):
    verdict = ak.check.add_positions.evaluate(fn)
    assert verdict.status == status and fragment in verdict.message


@pytest.mark.parametrize("fn, status, fragment", [
    (lambda x, h: x.view(x.shape[0], x.shape[1], h, -1).transpose(1, 2), "pass", "matches"),
    (stub, "todo", ""),
    (lambda x, h: x.view(x.shape[0], h, x.shape[1], -1), "fail", "without a transpose"),
    (lambda x, h: x.view(x.shape[0], x.shape[1], h, -1), "fail", "add .transpose(1, 2)"),
    (lambda x, h: x.view(x.shape[0], x.shape[1], -1, h).permute(0, 3, 1, 2), "fail", "wrong order"),
])
def test_split_heads_checker(fn, status, fragment):
    verdict = ak.check.split_heads.evaluate(fn)
    assert verdict.status == status and fragment in verdict.message


@pytest.mark.parametrize("fn, status, fragment", [
    (lambda x: x.transpose(1, 2).reshape(x.shape[0], x.shape[2], -1), "pass", "matches"),
    (stub, "todo", ""),
    (lambda x: x.reshape(x.shape[0], x.shape[2], -1), "fail", "without transposing back"),
    (lambda x: x.permute(0, 2, 3, 1).reshape(x.shape[0], x.shape[2], -1), "fail", "concatenation order"),
    (lambda x: x.transpose(1, 2).view(x.shape[0], x.shape[2], -1), "fail", "RuntimeError"),
    (lambda x: x.transpose(1, 2), "fail", "(B, T, H * Dh)"),
])
def test_merge_heads_checker(fn, status, fragment):
    verdict = ak.check.merge_heads.evaluate(fn)
    assert verdict.status == status and fragment in verdict.message


def test_split_then_merge_round_trip_and_matches_the_layer():
    mha = ak.MultiHeadAttention(12, 3)
    x = torch.randn(2, 5, 12)
    assert torch.equal(mha.merge_heads(mha.split_heads(x)), x)
    assert torch.equal(ak.check.split_heads.reference(x, 3), mha.split_heads(x))


def test_lesson05_mask_convention_is_opposite_to_nn_multihead_attention():
    torch.manual_seed(0)
    torch_mha = nn.MultiheadAttention(8, 2, batch_first=True).eval()
    ours = ak.MultiHeadAttention.from_torch(torch_mha).eval()
    x, causal = torch.randn(2, 5, 8), ak.causal_mask(5)
    with torch.no_grad():
        expected, _ = ours(x, x, x, mask=causal)
        got, _ = torch_mha(x, x, x, attn_mask=~causal)
    assert torch.allclose(got, expected, atol=1e-6)
