"""MultiHeadAttention and TransformerEncoderLayer proven equal to PyTorch's (lessons 05, 07)."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

import attnkit as ak


@st.composite
def mha_case(draw):
    heads = draw(st.integers(1, 4))
    d_model = heads * draw(st.integers(1, 5))
    b, tq, tk = draw(st.integers(1, 3)), draw(st.integers(1, 6)), draw(st.integers(1, 6))
    bias = draw(st.booleans())
    mask_kind = draw(st.sampled_from(["none", "2d", "4d"]))
    seed = draw(st.integers(0, 2**16))
    return heads, d_model, b, tq, tk, bias, mask_kind, seed


def _mask(kind, b, h, tq, tk, g):
    if kind == "none":
        return None
    shape = (tq, tk) if kind == "2d" else (b, h, tq, tk)
    keep = torch.rand(*shape, generator=g) > 0.4
    keep[..., 0] = True  # PyTorch's module gives NaN on fully masked rows; tested separately
    return keep


@given(mha_case())
def test_mha_equals_torch(case):
    heads, d_model, b, tq, tk, bias, mask_kind, seed = case
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    theirs = nn.MultiheadAttention(d_model, heads, bias=bias, batch_first=True).double()
    ours = ak.MultiHeadAttention.from_torch(theirs)
    q = torch.randn(b, tq, d_model, generator=g, dtype=torch.float64)
    kv = torch.randn(b, tk, d_model, generator=g, dtype=torch.float64)
    keep = _mask(mask_kind, b, heads, tq, tk, g)
    torch_mask = None if keep is None else ~keep.reshape(-1, tq, tk) if keep.dim() == 4 else ~keep
    q1, kv1 = q.clone().requires_grad_(), kv.clone().requires_grad_()
    q2, kv2 = q.clone().requires_grad_(), kv.clone().requires_grad_()
    out, w = ours(q1, kv1, kv1, mask=keep)
    ref, ref_w = theirs(q2, kv2, kv2, attn_mask=torch_mask, average_attn_weights=False)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(w, ref_w)
    upstream = torch.randn_like(ref)
    (out * upstream).sum().backward()
    (ref * upstream).sum().backward()
    torch.testing.assert_close(q1.grad, q2.grad)
    torch.testing.assert_close(kv1.grad, kv2.grad)
    torch.testing.assert_close(ours.q_proj.weight.grad, theirs.in_proj_weight.grad[:d_model])
    torch.testing.assert_close(ours.out_proj.weight.grad, theirs.out_proj.weight.grad)


def test_mha_unbatched_and_weights_shape():
    mha = ak.MultiHeadAttention(8, 2)
    x = torch.randn(5, 8)
    out, w = mha(x, x, x)
    assert out.shape == (5, 8) and w.shape == (2, 5, 5)
    batched, wb = mha(x[None], x[None], x[None])
    torch.testing.assert_close(batched[0], out)


def test_mha_fully_masked_row_gives_zero_weights_and_bias_output():
    mha = ak.MultiHeadAttention(8, 2)
    x = torch.randn(1, 4, 8)
    keep = torch.ones(4, 4, dtype=torch.bool)
    keep[2] = False
    out, w = mha(x, x, x, mask=keep)
    assert (w[0, :, 2] == 0).all()
    torch.testing.assert_close(out[0, 2], mha.out_proj.bias)
    assert torch.isfinite(out).all()


def test_mha_3d_mask_is_per_example():
    mha = ak.MultiHeadAttention(8, 4)
    x = torch.randn(2, 5, 8)
    keep = ak.padding_mask([3, 5])[:, None, :].expand(2, 5, 5)  # (B, Tq, Tk)
    _, w = mha(x, x, x, mask=keep)
    assert (w[0, :, :, 3:] == 0).all() and (w[1] > 0).all()


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("use_mask", [False, True])
def test_encoder_layer_equals_torch(norm_first, activation, use_mask):
    torch.manual_seed(0)
    theirs = nn.TransformerEncoderLayer(16, 4, dim_feedforward=24, dropout=0.0, activation=activation,
                                        norm_first=norm_first, batch_first=True).double()
    ours = ak.TransformerEncoderLayer.from_torch(theirs)
    x = torch.randn(3, 7, 16, dtype=torch.float64)
    keep = ak.causal_mask(7) if use_mask else None
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    out = ours(x1, mask=keep)
    ref = theirs(x2, src_mask=None if keep is None else ~keep)
    torch.testing.assert_close(out, ref)
    upstream = torch.randn_like(ref)
    (out * upstream).sum().backward()
    (ref * upstream).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad)
    torch.testing.assert_close(ours.linear1.weight.grad, theirs.linear1.weight.grad)
    torch.testing.assert_close(ours.norm1.weight.grad, theirs.norm1.weight.grad)
    assert ours.attn_weights.shape == (3, 4, 7, 7)


def test_encoder_layer_eval_fast_path_matches():
    """In eval mode PyTorch may take its fused fast path; the numbers still agree."""
    torch.manual_seed(1)
    theirs = nn.TransformerEncoderLayer(32, 4, dim_feedforward=64, batch_first=True).eval()
    ours = ak.TransformerEncoderLayer.from_torch(theirs).eval()
    x = torch.randn(2, 9, 32)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), atol=1e-5, rtol=1e-4)


def test_encoder_layer_default_feedforward_and_dropout_in_train_only():
    layer = ak.TransformerEncoderLayer(8, 2, dropout=0.5)
    assert layer.linear1.out_features == 32
    x = torch.randn(2, 4, 8)
    layer.eval()
    torch.testing.assert_close(layer(x), layer(x))
    layer.train()
    assert not torch.equal(layer(x), layer(x))


BAD = [
    ("d_model not divisible", lambda: ak.MultiHeadAttention(10, 3), ValueError, ["d_model=10", "num_heads=3"]),
    ("negative d_model", lambda: ak.MultiHeadAttention(-8, 2), ValueError, ["d_model", "-8"]),
    ("zero heads", lambda: ak.MultiHeadAttention(8, 0), ValueError, ["num_heads", "0"]),
    ("float heads", lambda: ak.MultiHeadAttention(8, 2.0), TypeError, ["num_heads"]),
    ("input width", lambda: ak.MultiHeadAttention(8, 2)(*(torch.randn(2, 3, 6),) * 3), ValueError,
     ["width 6", "d_model is 8"]),
    ("key width", lambda: ak.MultiHeadAttention(8, 2)(torch.randn(2, 3, 8), torch.randn(2, 4, 5),
                                                      torch.randn(2, 4, 8)), ValueError, ["key", "width 5"]),
    ("batch sizes", lambda: ak.MultiHeadAttention(8, 2)(torch.randn(2, 3, 8), torch.randn(3, 4, 8),
                                                        torch.randn(3, 4, 8)), ValueError, ["query 2", "key 3"]),
    ("kv lengths", lambda: ak.MultiHeadAttention(8, 2)(torch.randn(2, 3, 8), torch.randn(2, 4, 8),
                                                       torch.randn(2, 5, 8)), ValueError, ["length 4", "length 5"]),
    ("integer input", lambda: ak.MultiHeadAttention(8, 2)(*(torch.ones(2, 3, 8, dtype=torch.long),) * 3),
     TypeError, ["torch.int64"]),
    ("bad mask", lambda: ak.MultiHeadAttention(8, 2)(*(torch.randn(2, 3, 8),) * 3, mask=torch.ones(4, 4).bool()),
     ValueError, ["(4, 4)"]),
    ("4-d input", lambda: ak.MultiHeadAttention(8, 2)(*(torch.randn(1, 2, 3, 8),) * 3), ValueError,
     ["(1, 2, 3, 8)"]),
    ("negative feedforward", lambda: ak.TransformerEncoderLayer(8, 2, dim_feedforward=-1), ValueError,
     ["dim_feedforward", "-1"]),
    ("encoder input width, pre-norm", lambda: ak.TransformerEncoderLayer(8, 2, norm_first=True)(torch.randn(2, 3, 6)),
     ValueError, ["d_model=8", "(2, 3, 6)"]),
    ("encoder input width, post-norm", lambda: ak.TransformerEncoderLayer(8, 2)(torch.randn(2, 3, 6)),
     ValueError, ["d_model=8", "(2, 3, 6)"]),
    ("encoder integer input", lambda: ak.TransformerEncoderLayer(8, 2, norm_first=True)(
        torch.ones(2, 3, 8, dtype=torch.long)), TypeError, ["torch.int64"]),
    ("bad activation", lambda: ak.TransformerEncoderLayer(8, 2, activation="tanh"), ValueError, ["tanh"]),
    ("from_torch wrong module", lambda: ak.MultiHeadAttention.from_torch(nn.Linear(2, 2)), TypeError, ["Linear"]),
    ("dropout out of range", lambda: ak.MultiHeadAttention(8, 2, dropout=1.5), ValueError, ["1.5"]),
]


@pytest.mark.parametrize("what, call, error, fragments", BAD, ids=[b[0] for b in BAD])
def test_bad_layer_input(what, call, error, fragments):
    with pytest.raises(error) as info:
        call()
    for fragment in fragments:
        assert fragment in str(info.value), f"{what}: {fragment!r} not in {info.value}"
