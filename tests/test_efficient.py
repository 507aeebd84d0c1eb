"""attnkit.efficient against ak.attention and PyTorch's SDPA (lesson 08's contract)."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import attnkit as ak

FEW = settings(max_examples=40, deadline=None)


@st.composite
def mea_case(draw):
    """Broadcasting batch shapes, Tq/Tk around a few block sizes, a bool/float/no mask, causal or not."""
    batch = draw(st.lists(st.integers(1, 3), min_size=0, max_size=2))
    tq, tk = draw(st.integers(1, 23)), draw(st.integers(1, 23))
    d, dv = draw(st.integers(1, 9)), draw(st.integers(1, 9))

    def squeezed(shape):
        dims = [draw(st.sampled_from([n, 1])) for n in shape]
        return dims[draw(st.integers(0, len(dims))):]

    g = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    q = torch.randn(*squeezed(batch), tq, d, generator=g)
    k = torch.randn(*squeezed(batch), tk, d, generator=g)
    v = torch.randn(*squeezed(batch), tk, dv, generator=g)
    scale = draw(st.one_of(st.none(), st.floats(-3, 3, allow_nan=False)))
    kind = draw(st.sampled_from(["none", "bool", "float"]))
    mask = None
    if kind != "none":
        scores_batch = list(torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2]))
        mask_shape = squeezed(scores_batch) + [draw(st.sampled_from([tq, 1])), draw(st.sampled_from([tk, 1]))]
        keep = torch.rand(*mask_shape, generator=g) > draw(st.floats(0.0, 0.95))
        if draw(st.booleans()):  # a query with nothing to attend to
            keep[..., 0, :] = False
        mask = keep if kind == "bool" else torch.randn(*mask_shape, generator=g).masked_fill(~keep, -math.inf)
    block = draw(st.integers(1, 9))
    qblock = draw(st.one_of(st.none(), st.integers(1, 9)))
    causal = draw(st.booleans())
    return q, k, v, mask, scale, block, qblock, causal


def _with_causal(mask, tq, tk, causal):
    if not causal:
        return mask
    tri = torch.ones(tq, tk, dtype=torch.bool).tril()
    if mask is None:
        return tri
    if mask.dtype == torch.bool:
        return mask & tri
    return mask.masked_fill(~tri, -math.inf)


@FEW
@given(mea_case())
def test_memory_efficient_equals_attention(case):
    q, k, v, mask, scale, block, qblock, causal = case
    out = ak.memory_efficient_attention(q, k, v, mask=mask, scale=scale, block_size=block,
                                        query_block_size=qblock, causal=causal)
    expected, _ = ak.attention(q, k, v, mask=_with_causal(mask, q.shape[-2], k.shape[-2], causal), scale=scale)
    assert out.shape == expected.shape
    torch.testing.assert_close(out, expected, atol=2e-5, rtol=1e-4)


@FEW
@given(st.integers(1, 40), st.integers(1, 40), st.integers(1, 16), st.booleans())
def test_memory_efficient_equals_sdpa(tq, tk, block, causal):
    g = torch.Generator().manual_seed(tq * 100 + tk)
    q = torch.randn(2, 3, tq, 8, generator=g)
    k, v = torch.randn(2, 3, tk, 8, generator=g), torch.randn(2, 3, tk, 5, generator=g)
    out = ak.memory_efficient_attention(q, k, v, block_size=block, causal=causal)
    if causal and tq > tk:  # SDPA gives NaN for the rows with no key; attnkit gives zeros
        expected = ak.attention(q, k, v, mask=torch.ones(tq, tk, dtype=torch.bool).tril())[0]
    else:
        expected = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    torch.testing.assert_close(out, expected, atol=2e-5, rtol=1e-4)


def test_memory_efficient_short_last_block_and_masked_rows():
    g = torch.Generator().manual_seed(0)
    q = torch.randn(2, 4, 37, 16, generator=g)
    k, v = torch.randn(2, 4, 1000, 16, generator=g), torch.randn(2, 4, 1000, 8, generator=g)
    mask = torch.rand(37, 1000, generator=g) > 0.5
    mask[5] = False  # a query that sees nothing
    mask[6, :999] = False  # a query that sees only the last key, in the short last block
    out = ak.memory_efficient_attention(q, k, v, mask=mask, block_size=128)  # 7 full blocks + 104
    expected, _ = ak.attention(q, k, v, mask=mask)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-4)
    assert out[..., 5, :].abs().max() == 0
    torch.testing.assert_close(out[..., 6, :], v[..., 999, :])


def test_memory_efficient_float_mask_all_minus_inf_gives_zeros():
    q, k, v = torch.randn(1, 5, 4), torch.randn(1, 9, 4), torch.randn(1, 9, 3)
    mask = torch.zeros(5, 9)
    mask[2] = -math.inf
    out = ak.memory_efficient_attention(q, k, v, mask=mask, block_size=4)
    assert out[0, 2].abs().max() == 0
    torch.testing.assert_close(out, ak.attention(q, k, v, mask=mask)[0], atol=1e-6, rtol=1e-5)


def test_memory_efficient_large_logits_stay_finite():
    q, k, v = 300 * torch.randn(1, 8, 4), 300 * torch.randn(1, 30, 4), torch.randn(1, 30, 3)
    out = ak.memory_efficient_attention(q, k, v, block_size=7)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, ak.attention(q, k, v)[0], atol=1e-5, rtol=1e-4)


def _amax_calls(fn):
    """How many score tiles looked for their maximum (a per-query (G, bq, 1) amax)."""
    return sum(name == "amax" and len(shapes[0]) == 3 and shapes[0][-1] == 1
               for name, shapes in ak.trace_operations(fn))


def test_memory_efficient_skips_the_max_only_where_the_norms_bound_the_scores():
    g = torch.Generator().manual_seed(5)
    q, k, v = (torch.randn(2, 64, 16, generator=g) for _ in range(3))  # |q| |k| / 4 is about 16
    # ordinary scores: every tile is bounded (|q|max |k|max <= 20 after the 1/sqrt(16) scale), no max pass
    assert (q.norm(dim=-1).max() * k.norm(dim=-1).max() / 4) <= 20
    assert _amax_calls(lambda: ak.memory_efficient_attention(q, k, v, block_size=16)) == 0
    # scaled up, the bound fails for most tiles (both batch rows share a tile): those look for their maximum
    q_max = (3 * q / 4).norm(dim=-1).amax(0).reshape(4, 16).amax(-1)  # per query tile
    k_max = k.norm(dim=-1).amax(0).reshape(4, 16).amax(-1)  # per key tile
    unbounded = int((q_max[:, None] * k_max[None, :] > 20).sum())
    assert 0 < unbounded < 16
    assert _amax_calls(lambda: ak.memory_efficient_attention(3 * q, k, v, block_size=16)) == unbounded
    # a float mask can push scores anywhere: it always takes the checked path
    float_mask = torch.zeros(64, 64)
    assert _amax_calls(lambda: ak.memory_efficient_attention(q, k, v, mask=float_mask, block_size=16)) == 16


@pytest.mark.parametrize("gain", [0.5, 1.0, 1.1, 1.5, 3.0, 30.0])
def test_memory_efficient_is_exact_on_both_sides_of_the_bound(gain):
    """Scores near, at and far past the safe range of 20, against a float64 softmax."""
    g = torch.Generator().manual_seed(6)
    q, k, v = (torch.randn(3, 40, 8, generator=g) for _ in range(3))
    q = q / q.norm(dim=-1, keepdim=True) * gain * 20 * 8**0.5 / k.norm(dim=-1).max()  # bound = 20 * gain
    out = ak.memory_efficient_attention(q, k, v, block_size=8, query_block_size=16)
    want = torch.softmax(q.double() @ k.double().mT / 8**0.5, dim=-1) @ v.double()
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out.double(), want, atol=2e-5, rtol=1e-4)


def test_memory_efficient_gradients_match():
    g = torch.Generator().manual_seed(1)
    tensors = [torch.randn(2, 11, 6, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(3)]
    mask = torch.rand(11, 11, generator=g) > 0.3
    out = ak.memory_efficient_attention(*tensors, mask=mask, block_size=4, query_block_size=3)
    grads = torch.autograd.grad(out.square().sum(), tensors)
    out_ref, _ = ak.attention(*tensors, mask=mask)
    grads_ref = torch.autograd.grad(out_ref.square().sum(), tensors)
    torch.testing.assert_close(out, out_ref)
    for got, want in zip(grads, grads_ref):
        torch.testing.assert_close(got, want)


def test_memory_efficient_gradcheck():
    g = torch.Generator().manual_seed(2)
    tensors = [torch.randn(1, 5, 3, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(3)]
    assert torch.autograd.gradcheck(
        lambda q, k, v: ak.memory_efficient_attention(q, k, v, block_size=2, causal=True), tensors)


def test_memory_efficient_same_input_same_output():
    q, k, v = torch.randn(3, 50, 8), torch.randn(3, 60, 8), torch.randn(3, 60, 8)
    a = ak.memory_efficient_attention(q, k, v, block_size=16)
    b = ak.memory_efficient_attention(q, k, v, block_size=16)
    assert torch.equal(a, b)


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        (dict(query=torch.randn(2, 3, 4), key=torch.randn(2, 5, 6)), ValueError, "width 4"),
        (dict(query=torch.randn(2, 3, 4).double()), TypeError, "share a dtype"),
        (dict(block_size=0), ValueError, "block_size"),
        (dict(block_size=2.5), TypeError, "block_size"),
        (dict(query_block_size=0), ValueError, "query_block_size"),
        (dict(mask=torch.ones(3, 5, dtype=torch.long)), TypeError, "mask"),
        (dict(mask=torch.ones(4, 5, dtype=torch.bool)), ValueError, "(4, 5)"),
        (dict(causal="yes"), TypeError, "causal"),
        (dict(scale="big"), TypeError, "scale"),
        (dict(key=[[1.0]]), TypeError, "key"),
    ],
)
def test_memory_efficient_bad_input(kwargs, error, words):
    args = dict(query=torch.randn(2, 3, 4), key=torch.randn(2, 5, 4), value=torch.randn(2, 5, 4))
    args.update(kwargs)
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        ak.memory_efficient_attention(**args)


@FEW
@given(st.integers(1, 70), st.integers(0, 40), st.integers(1, 8), st.booleans())
def test_local_attention_equals_masked_attention(T, window, d, batched):
    g = torch.Generator().manual_seed(T * 41 + window)
    shape = (2, 3, T, d) if batched else (T, d)
    q, k, v = (torch.randn(*shape, generator=g) for _ in range(3))
    out, banded = ak.local_attention(q, k, v, window=window, return_weights=True)
    expected, weights = ak.attention(q, k, v, mask=ak.local_window_mask(T, window))
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-4)
    assert banded.shape == shape[:-1] + (2 * window + 1,)
    # banded[..., i, window + d] is weights[..., i, i + d]
    idx = torch.arange(T)[:, None] + torch.arange(-window, window + 1)[None, :]  # (T, 2w+1)
    inside = (idx >= 0) & (idx < T)
    dense_band = weights.gather(-1, idx.clamp(0, T - 1).expand(weights.shape[:-1] + idx.shape[-1:]))
    torch.testing.assert_close(banded, dense_band.masked_fill(~inside, 0.0), atol=1e-5, rtol=1e-4)


def test_local_attention_gradients_and_broadcast():
    g = torch.Generator().manual_seed(3)
    q = torch.randn(2, 1, 40, 4, generator=g, dtype=torch.float64, requires_grad=True)
    k = torch.randn(1, 3, 40, 4, generator=g, dtype=torch.float64, requires_grad=True)
    v = torch.randn(40, 5, generator=g, dtype=torch.float64, requires_grad=True)
    out = ak.local_attention(q, k, v, window=5, scale=0.7)
    ref = ak.attention(q, k, v, mask=ak.local_window_mask(40, 5), scale=0.7)[0]
    torch.testing.assert_close(out, ref)
    for got, want in zip(torch.autograd.grad(out.sum(), (q, k, v)), torch.autograd.grad(ref.sum(), (q, k, v))):
        torch.testing.assert_close(got, want)


def test_local_attention_bad_input():
    x = torch.randn(2, 6, 4)
    with pytest.raises(ValueError, match="same length"):
        ak.local_attention(x, torch.randn(2, 7, 4), torch.randn(2, 7, 4), window=1)
    with pytest.raises(ValueError, match="window"):
        ak.local_attention(x, x, x, window=-1)
    with pytest.raises(TypeError, match="window"):
        ak.local_attention(x, x, x, window=1.5)
    with pytest.raises(ValueError, match="width"):
        ak.local_attention(x, torch.randn(2, 6, 3), x, window=1)


@FEW
@given(st.integers(1, 60), st.integers(1, 9), st.integers(0, 3), st.integers(0, 3), st.booleans())
def test_block_sparse_equals_masked_attention(T, block, local, glob, causal):
    g = torch.Generator().manual_seed(T * 7 + block)
    q, k, v = (torch.randn(2, 2, T, 6, generator=g) for _ in range(3))
    out = ak.block_sparse_attention(q, k, v, block, local_blocks=local, global_blocks=glob, causal=causal)
    mask = ak.block_sparse_mask(T, block, local_blocks=local, global_blocks=glob, causal=causal)
    expected, _ = ak.attention(q, k, v, mask=mask)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-4)
    cost = ak.attention_cost(T, 6, kind="block_sparse", block_size=block, local_blocks=local,
                             global_blocks=glob, causal=causal)
    assert cost["scores"] == int(mask.sum())


def test_block_sparse_gradients():
    g = torch.Generator().manual_seed(4)
    tensors = [torch.randn(3, 30, 4, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(3)]
    out = ak.block_sparse_attention(*tensors, block_size=4, causal=True)
    ref = ak.attention(*tensors, mask=ak.block_sparse_mask(30, 4, causal=True))[0]
    for got, want in zip(torch.autograd.grad(out.sum(), tensors), torch.autograd.grad(ref.sum(), tensors)):
        torch.testing.assert_close(got, want)


def test_block_sparse_layout_and_mask():
    layout = ak.block_sparse_layout(6, local_blocks=0, global_blocks=0)
    assert torch.equal(layout, torch.eye(6, dtype=torch.bool))
    mask = ak.block_sparse_mask(7, 3, local_blocks=0, global_blocks=0, causal=True)
    assert mask.shape == (7, 7)
    assert torch.equal(mask[6], torch.tensor([False] * 6 + [True]))  # a block of one
    with pytest.raises(ValueError, match="local_blocks"):
        ak.block_sparse_layout(4, local_blocks=-1)
    with pytest.raises(ValueError, match="block_size"):
        ak.block_sparse_mask(4, 0)
    x = torch.randn(5, 4)
    with pytest.raises(ValueError, match="same length"):
        ak.block_sparse_attention(x, torch.randn(6, 4), torch.randn(6, 4), 2)
    with pytest.raises(TypeError, match="causal"):
        ak.block_sparse_attention(x, x, x, 2, causal=1)


def test_kv_cache_stores_and_returns_views():
    cache = ak.KVCache(num_layers=2, batch_size=2, num_heads=3, max_len=6, head_dim=4)
    k1, v1 = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    keys, values = cache.update(1, k1, v1)
    assert torch.equal(keys, k1) and torch.equal(values, v1)
    k2, v2 = torch.randn(2, 3, 2, 4), torch.randn(2, 3, 2, 4)
    keys, values = cache.update(1, k2, v2)
    assert torch.equal(keys, torch.cat([k1, k2], 2)) and torch.equal(values, torch.cat([v1, v2], 2))
    assert keys.data_ptr() == cache.keys[1].data_ptr()  # a view of the preallocated buffer
    assert cache.lengths == [0, 6] and cache.seq_len == 0
    assert cache.nbytes == 2 * 2 * 2 * 3 * 6 * 4 * 4
    with pytest.raises(ValueError, match="full"):
        cache.update(1, k2[:, :, :1], v2[:, :, :1])
    with pytest.raises(ValueError, match=r"\(B, H, t, Dh\)"):
        cache.update(0, torch.randn(2, 3, 1, 5), torch.randn(2, 3, 1, 5))
    with pytest.raises(ValueError, match="layer"):
        cache.update(2, k2, v2)
    cache.reset()
    assert cache.lengths == [0, 0]
    with pytest.raises(ValueError, match="max_len"):
        ak.KVCache(1, 1, 1, 0, 4)
    with pytest.raises(TypeError, match="dtype"):
        ak.KVCache(1, 1, 1, 4, 4, dtype=torch.long)


def test_attention_cost_counts():
    full = ak.attention_cost(1024, 64, num_heads=8)
    assert full["scores"] == 8 * 1024**2
    assert full["flops"] == 4 * 8 * 1024**2 * 64
    assert full["score_bytes"] == 8 * 1024**2 * 4
    mea = ak.attention_cost(1024, 64, num_heads=8, kind="memory_efficient", block_size=128)
    assert mea["flops"] == full["flops"] and mea["score_bytes"] == 8 * 128 * 128 * 4
    assert ak.attention_cost(10, 4, causal=True)["scores"] == 55
    for T, w in [(1, 0), (5, 1), (9, 3), (4, 10)]:
        local = ak.attention_cost(T, 4, kind="local", window=w)
        assert local["scores"] == int(ak.local_window_mask(T, w).sum())
    # doubling T doubles local attention's cost but quadruples full attention's
    local_ratio = (ak.attention_cost(2048, 64, kind="local", window=32)["flops"]
                   / ak.attention_cost(1024, 64, kind="local", window=32)["flops"])
    assert 2.0 < local_ratio < 2.05
    assert ak.attention_cost(2048, 64)["flops"] == 4 * full["flops"] // 8
    with pytest.raises(ValueError, match="kind"):
        ak.attention_cost(10, 4, kind="sparse")
    with pytest.raises(ValueError, match="window"):
        ak.attention_cost(10, 4, kind="local")
    with pytest.raises(TypeError, match="seq_len"):
        ak.attention_cost(10.0, 4)


def test_memory_efficient_shares_the_scale_rule_of_attention():
    """Width 0 gives uniform weights (as SDPA); a non-finite scale is refused, as in ak.attention."""
    q, k, v = torch.randn(2, 3, 0), torch.randn(2, 3, 0), torch.randn(2, 3, 5)
    torch.testing.assert_close(ak.memory_efficient_attention(q, k, v),
                               torch.nn.functional.scaled_dot_product_attention(q, k, v))
    with pytest.raises(ValueError, match="finite"):
        ak.memory_efficient_attention(torch.randn(3, 4), torch.randn(3, 4), torch.randn(3, 2), scale=float("nan"))
