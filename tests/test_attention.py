"""ak.softmax and ak.attention against PyTorch, on hypothesis-generated cases (lesson 03's contract)."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import attnkit as ak


@st.composite
def attention_case(draw, dtype=torch.float64):
    """Broadcasting batch shapes, any Tq/Tk/D/Dv, a scale or None, a bool/float/no mask."""
    batch = draw(st.lists(st.integers(1, 3), min_size=0, max_size=2))
    tq, tk = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    d, dv = draw(st.integers(1, 9)), draw(st.integers(1, 9))

    def squeezed(shape):  # a batch shape that broadcasts to `batch`
        dims = [draw(st.sampled_from([n, 1])) for n in shape]
        return dims[draw(st.integers(0, len(dims))):]

    g = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    q = torch.randn(*squeezed(batch), tq, d, generator=g, dtype=dtype)
    k = torch.randn(*squeezed(batch), tk, d, generator=g, dtype=dtype)
    v = torch.randn(*squeezed(batch), tk, dv, generator=g, dtype=dtype)
    scale = draw(st.one_of(st.none(), st.floats(-3, 3, allow_nan=False)))
    kind = draw(st.sampled_from(["none", "bool", "float"]))
    mask = None
    if kind != "none":
        scores_batch = list(torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2]))
        mask_shape = squeezed(scores_batch) + [draw(st.sampled_from([tq, 1])), tk]
        keep = torch.rand(*mask_shape, generator=g) > draw(st.floats(0.0, 0.9))
        if draw(st.booleans()):  # a query with nothing to attend to
            keep[..., 0, :] = False
        if kind == "bool":
            mask = keep
        else:
            bias = torch.randn(*mask_shape, generator=g, dtype=dtype)
            mask = bias.masked_fill(~keep, -math.inf)
    return q, k, v, mask, scale


def reference(q, k, v, mask, scale):
    """PyTorch's SDPA on tensors expanded to the common batch shape."""
    batch = torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    q, k, v = (t.expand(*batch, *t.shape[-2:]) for t in (q, k, v))
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale)


@given(attention_case())
def test_attention_equals_sdpa(case):
    q, k, v, mask, scale = case
    out, weights = ak.attention(q, k, v, mask=mask, scale=scale)
    expected = reference(q, k, v, mask, scale)
    assert out.shape == expected.shape
    torch.testing.assert_close(out, expected, atol=1e-10, rtol=1e-8)
    sums = weights.sum(-1)
    assert torch.all(((sums - 1).abs() < 1e-9) | (sums == 0))


@given(attention_case())
def test_attention_gradients_equal_sdpa(case):
    q, k, v, mask, scale = case
    inputs = [t.clone().requires_grad_() for t in (q, k, v)]
    ref_inputs = [t.clone().requires_grad_() for t in (q, k, v)]
    ours, _ = ak.attention(*inputs, mask=mask, scale=scale)
    theirs = reference(*ref_inputs, mask, scale)
    upstream = torch.randn_like(theirs)
    (ours * upstream).sum().backward()
    (theirs * upstream).sum().backward()
    for a, b in zip(inputs, ref_inputs):
        assert torch.isfinite(a.grad).all()
        torch.testing.assert_close(a.grad, b.grad, atol=1e-9, rtol=1e-7)


@given(attention_case(dtype=torch.float32))
def test_attention_float32_matches(case):
    q, k, v, mask, scale = case
    out, _ = ak.attention(q, k, v, mask=mask, scale=scale)
    torch.testing.assert_close(out, reference(q, k, v, mask, scale), atol=2e-5, rtol=1e-4)


def test_fully_masked_rows_are_zero_not_nan():
    q, k, v = torch.randn(2, 3, 4), torch.randn(2, 5, 4), torch.randn(2, 5, 6)
    for mask in (torch.zeros(3, 5, dtype=torch.bool), torch.full((3, 5), -math.inf)):
        q_ = q.clone().requires_grad_()
        out, w = ak.attention(q_, k, v, mask=mask)
        assert (out == 0).all() and (w == 0).all()
        out.sum().backward()
        assert (q_.grad == 0).all()


@pytest.mark.parametrize("q_shape, k_shape, v_shape", [
    ((2, 3, 4), (2, 0, 4), (2, 0, 5)),   # no keys: zero output
    ((2, 0, 4), (2, 3, 4), (2, 3, 5)),   # no queries
    ((0, 3, 4), (0, 3, 4), (0, 3, 5)),   # empty batch
    ((2, 3, 0), (2, 3, 0), (2, 3, 5)),   # zero width: all scores 0, uniform weights
])
def test_empty_sizes_match_sdpa(q_shape, k_shape, v_shape):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(*s, generator=g) for s in (q_shape, k_shape, v_shape))
    out, _ = ak.attention(q, k, v)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v))


def test_default_scale_is_inverse_sqrt_width():
    q, k, v = torch.randn(3, 16), torch.randn(5, 16), torch.randn(5, 2)
    torch.testing.assert_close(ak.attention(q, k, v)[0], ak.attention(q, k, v, scale=0.25)[0])


def test_float_mask_is_added_to_scores():
    q, k, v = torch.randn(3, 4), torch.randn(5, 4), torch.randn(5, 2)
    bias = torch.randn(3, 5)
    _, w = ak.attention(q, k, v, mask=bias)
    expected = torch.softmax(q @ k.T / 2 + bias, dim=-1)
    torch.testing.assert_close(w, expected)


def test_softmax_stable_and_all_neg_inf_rows():
    x = torch.tensor([[1000.0, 1001.0], [-math.inf, -math.inf], [0.0, -math.inf]])
    y = ak.softmax(x)
    torch.testing.assert_close(y[0], torch.softmax(x[0], -1))
    assert (y[1] == 0).all()
    torch.testing.assert_close(y[2], torch.tensor([1.0, 0.0]))


@given(st.integers(1, 5), st.integers(1, 6), st.floats(0.1, 50), st.integers(0, 1))
def test_softmax_equals_torch(rows, cols, spread, dim):
    x = torch.randn(rows, cols, generator=torch.Generator().manual_seed(rows * cols)) * spread
    torch.testing.assert_close(ak.softmax(x, dim=dim), torch.softmax(x, dim=dim))


def test_softmax_gradient_matches_torch():
    x = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
    y = torch.randn(4, 6, dtype=torch.float64)
    (ak.softmax(x) * y).sum().backward()
    g_ours = x.grad.clone()
    x.grad = None
    (torch.softmax(x, -1) * y).sum().backward()
    torch.testing.assert_close(g_ours, x.grad)
    assert torch.autograd.gradcheck(lambda t: ak.softmax(t), (x.detach().requires_grad_(),))


# --- bad input is refused at the door, with the values at fault ------------------------------

BAD = [
    ("query width != key width", lambda: ak.attention(torch.randn(3, 4), torch.randn(5, 6), torch.randn(5, 2)),
     ValueError, ["width 4", "width 6"]),
    ("key length != value length", lambda: ak.attention(torch.randn(3, 4), torch.randn(5, 4), torch.randn(6, 2)),
     ValueError, ["length 5", "length 6"]),
    ("mask does not broadcast", lambda: ak.attention(torch.randn(3, 4), torch.randn(5, 4), torch.randn(5, 2),
                                                     mask=torch.ones(4, 5, dtype=torch.bool)),
     ValueError, ["(4, 5)", "(3, 5)"]),
    ("mask with more batch dims than scores", lambda: ak.attention(
        torch.randn(3, 4), torch.randn(5, 4), torch.randn(5, 2), mask=torch.ones(2, 3, 5, dtype=torch.bool)),
     ValueError, ["(2, 3, 5)", "(3, 5)"]),
    ("batch shapes do not broadcast", lambda: ak.attention(torch.randn(2, 3, 4), torch.randn(3, 5, 4),
                                                           torch.randn(3, 5, 2)),
     ValueError, ["query (2)", "key (3)"]),
    ("integer query", lambda: ak.attention(torch.ones(3, 4, dtype=torch.long), torch.randn(5, 4),
                                           torch.randn(5, 2)), TypeError, ["query", "torch.int64"]),
    ("integer mask", lambda: ak.attention(torch.randn(3, 4), torch.randn(5, 4), torch.randn(5, 2),
                                          mask=torch.ones(3, 5, dtype=torch.long)), TypeError, ["torch.int64"]),
    ("mixed dtypes", lambda: ak.attention(torch.randn(3, 4), torch.randn(5, 4, dtype=torch.float64),
                                          torch.randn(5, 2)), TypeError, ["torch.float64"]),
    ("a list, not a tensor", lambda: ak.attention([[1.0]], torch.randn(5, 1), torch.randn(5, 2)),
     TypeError, ["query", "list"]),
    ("1-d query", lambda: ak.attention(torch.randn(4), torch.randn(5, 4), torch.randn(5, 2)),
     ValueError, ["query", "(4)"]),
    ("scale is a string", lambda: ak.attention(torch.randn(3, 4), torch.randn(5, 4), torch.randn(5, 2),
                                               scale="0.5"), TypeError, ["scale"]),
    ("scale is NaN", lambda: ak.attention(torch.randn(3, 4), torch.randn(5, 4), torch.randn(5, 2),
                                          scale=float("nan")), ValueError, ["scale", "nan"]),
    ("softmax dim out of range", lambda: ak.softmax(torch.randn(2, 3), dim=2), ValueError, ["dim=2", "(2, 3)"]),
    ("softmax of ints", lambda: ak.softmax(torch.ones(3, dtype=torch.long)), TypeError, ["torch.int64"]),
    ("negative causal size", lambda: ak.causal_mask(-1), ValueError, ["-1"]),
    ("negative window", lambda: ak.local_window_mask(4, -2), ValueError, ["window", "-2"]),
    ("float window", lambda: ak.local_window_mask(4, 1.5), TypeError, ["window", "1.5"]),
    ("negative length", lambda: ak.padding_mask([2, -1], max_len=3), ValueError, ["lengths[1]", "-1"]),
    ("length over max_len", lambda: ak.padding_mask([2, 5], max_len=3), ValueError, ["[5]", "max_len=3"]),
    ("negative positions", lambda: ak.sinusoidal_positions(-3, 4), ValueError, ["seq_len", "-3"]),
    ("negative width", lambda: ak.sinusoidal_positions(3, -4), ValueError, ["d_model", "-4"]),
]


@pytest.mark.parametrize("what, call, error, fragments", BAD, ids=[b[0] for b in BAD])
def test_bad_input_names_what_is_wrong(what, call, error, fragments):
    with pytest.raises(error) as info:
        call()
    for fragment in fragments:
        assert fragment in str(info.value), f"{what}: {fragment!r} not in {info.value}"
